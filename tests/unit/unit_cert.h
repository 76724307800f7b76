/*
 * unit_cert.h - a self-signed certificate for a key, for the unit suites
 * that make real TLS handshakes (test_tls.c, test_tlskey.c,
 * test_http_conn.c).  Valid from a
 * minute ago for an hour, subject and issuer CN=cn; Ed25519 signs without
 * a digest, every other key type with SHA-256.  unit_ssl_pair: two ends
 * of a handshake in memory.
 */
#ifndef BW_UNIT_CERT_H
#define BW_UNIT_CERT_H

#include <check.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

static inline X509 *
unit_cert(EVP_PKEY *pk, const char *cn)
{
	X509		*x = X509_new();
	X509_NAME	*name;

	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), -60);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, pk);
	name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(x, name);
	ck_assert_int_gt(X509_sign(x, pk, EVP_PKEY_is_a(pk, "ED25519") ?
	    NULL : EVP_sha256()), 0);
	return x;
}

/* A server and a client connected by a BIO pair, ready to handshake. */
static inline void
unit_ssl_pair(SSL_CTX *sctx, SSL_CTX *cctx, SSL **s, SSL **c)
{
	BIO	*sb, *cb;

	ck_assert_ptr_nonnull(*s = SSL_new(sctx));
	ck_assert_ptr_nonnull(*c = SSL_new(cctx));
	ck_assert_int_eq(BIO_new_bio_pair(&sb, 0, &cb, 0), 1);
	SSL_set_bio(*s, sb, sb);
	SSL_set_bio(*c, cb, cb);
	SSL_set_accept_state(*s);
	SSL_set_connect_state(*c);
}

#endif
