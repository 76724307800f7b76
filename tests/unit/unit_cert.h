/*
 * unit_cert.h - a self-signed certificate for a key, for the unit suites
 * that make real TLS handshakes (test_tls.c, test_tlskey.c).  Valid from a
 * minute ago for an hour, subject and issuer CN=cn; Ed25519 signs without
 * a digest, every other key type with SHA-256.
 */
#ifndef BW_UNIT_CERT_H
#define BW_UNIT_CERT_H

#include <check.h>

#include <openssl/evp.h>
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

#endif
