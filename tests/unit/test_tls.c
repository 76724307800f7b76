/*
 * test_tls.c - the server TLS context: protocol range per profile, AEAD
 * and group restrictions, certificate/key loading, mutual TLS, SNI
 * against hostnames, and session-ticket key rotation.  Every handshake is
 * real, between an OpenSSL client and the context under test, over an
 * in-memory BIO pair.
 */
#include <sys/stat.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "chan.h"
#include "conf.h"
#include "tls.h"
#include "util.h"
#include "unit.h"
#include "unit_cert.h"

static char	 dir[64];
static char	 cert_path[PATH_MAX], key_path[PATH_MAX];
static char	 cert2_path[PATH_MAX], key2_path[PATH_MAX];
static EVP_PKEY	*key1, *key2;
static X509	*cert1, *cert2;

static void
write_pem(const char *path, X509 *x, EVP_PKEY *pk)
{
	FILE	*fp;

	ck_assert_ptr_nonnull(fp = fopen(path, "w"));
	if (x != NULL)
		ck_assert_int_eq(PEM_write_X509(fp, x), 1);
	else
		ck_assert_int_eq(PEM_write_PrivateKey(fp, pk, NULL, NULL, 0,
		    NULL, NULL), 1);
	fclose(fp);
	chmod(path, 0600);
}

static void
setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/bw-test-tls.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	key1 = EVP_EC_gen("P-256");
	key2 = EVP_EC_gen("P-256");
	ck_assert_ptr_nonnull(key1);
	ck_assert_ptr_nonnull(key2);
	cert1 = unit_cert(key1, "localhost");
	cert2 = unit_cert(key2, "intruder");
	snprintf(cert_path, sizeof(cert_path), "%s/cert.pem", dir);
	snprintf(key_path, sizeof(key_path), "%s/key.pem", dir);
	snprintf(cert2_path, sizeof(cert2_path), "%s/cert2.pem", dir);
	snprintf(key2_path, sizeof(key2_path), "%s/key2.pem", dir);
	write_pem(cert_path, cert1, NULL);
	write_pem(key_path, NULL, key1);
	write_pem(cert2_path, cert2, NULL);
	write_pem(key2_path, NULL, key2);
}

static void
teardown(void)
{
	char	 p[PATH_MAX + 16];

	X509_free(cert1);
	X509_free(cert2);
	EVP_PKEY_free(key1);
	EVP_PKEY_free(key2);
	unlink(cert_path);
	unlink(key_path);
	unlink(cert2_path);
	unlink(key2_path);
	snprintf(p, sizeof(p), "%s/link.pem", dir);
	unlink(p);
	rmdir(dir);
}

static struct conf_tls
tls_conf(enum conf_tls_profile profile)
{
	struct conf_tls	 c;

	memset(&c, 0, sizeof(c));
	c.certificate = cert_path;
	c.private_key = key_path;
	c.profile = profile;
	c.client_verify = CLIENT_VERIFY_REQUIRED;
	return c;
}

static SSL_CTX *
server_ctx(enum conf_tls_profile profile)
{
	struct conf_tls	 c = tls_conf(profile);
	const char	*err = NULL;
	SSL_CTX		*ctx;

	ctx = tls_ctx_new(&c, NULL, 0, &err);
	ck_assert_msg(ctx != NULL, "tls_ctx_new: %s", err ? err : "?");
	return ctx;
}

/* A permissive client: any version in [min, max], security level 0. */
static SSL_CTX *
client_ctx(int min, int max, const char *ciphers)
{
	SSL_CTX	*ctx = SSL_CTX_new(TLS_client_method());

	ck_assert_ptr_nonnull(ctx);
	SSL_CTX_set_security_level(ctx, 0);
	ck_assert_int_eq(SSL_CTX_set_min_proto_version(ctx, min), 1);
	ck_assert_int_eq(SSL_CTX_set_max_proto_version(ctx, max), 1);
	if (ciphers != NULL)
		ck_assert_int_eq(SSL_CTX_set_cipher_list(ctx, ciphers), 1);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	return ctx;
}

struct hs {
	SSL_SESSION	*session;	/* out: the client's session */
	int		 version;	/* out: negotiated version */
	bool		 reused;	/* out */
	bool		 server_failed;	/* out: the server raised the error */
	bool		 sni_mismatch;	/* out */
	char		 subject[256];	/* out: client subject seen, or "" */
};

/* One handshake; returns true when both sides completed it. */
static bool
handshake(SSL_CTX *sctx, SSL_CTX *cctx, SSL_SESSION *resume,
    const char *sni, struct hs *out)
{
	SSL		*s, *c;
	char		 buf[16];
	int		 i, rs = 0, rc = 0, es, ec;
	bool		 ok = false;

	memset(out, 0, sizeof(*out));
	ERR_clear_error();
	unit_ssl_pair(sctx, cctx, &s, &c);
	if (resume != NULL)
		ck_assert_int_eq(SSL_set_session(c, resume), 1);
	if (sni != NULL)
		ck_assert_int_eq(SSL_set_tlsext_host_name(c, sni), 1);
	for (i = 0; i < 64; i++) {
		if (rc != 1)
			rc = SSL_do_handshake(c);
		if (rs != 1)
			rs = SSL_do_handshake(s);
		if (rc == 1 && rs == 1) {
			ok = true;
			break;
		}
		es = rs == 1 ? SSL_ERROR_NONE : SSL_get_error(s, rs);
		ec = rc == 1 ? SSL_ERROR_NONE : SSL_get_error(c, rc);
		if (es != SSL_ERROR_NONE && es != SSL_ERROR_WANT_READ &&
		    es != SSL_ERROR_WANT_WRITE) {
			out->server_failed = true;
			break;
		}
		if (ec != SSL_ERROR_NONE && ec != SSL_ERROR_WANT_READ &&
		    ec != SSL_ERROR_WANT_WRITE)
			break;
	}
	if (ok) {
		/* Let the client read post-handshake messages (tickets). */
		(void)SSL_read(c, buf, sizeof(buf));
		out->version = SSL_version(c);
		out->reused = SSL_session_reused(c) == 1;
		/* A session freed without shutdown is made unresumable. */
		SSL_set_shutdown(c, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
		out->session = SSL_get1_session(c);
		out->sni_mismatch = tls_sni_mismatch(s);
		if (tls_peer_subject(s, out->subject, sizeof(out->subject))
		    == -1)
			out->subject[0] = '\0';
	}
	SSL_free(s);
	SSL_free(c);
	ERR_clear_error();
	return ok;
}

START_TEST(test_settings_explicit)
{
	SSL_CTX	*ctx = server_ctx(TLS_PROFILE_INTERMEDIATE);

	ck_assert_int_eq(SSL_CTX_get_min_proto_version(ctx), TLS1_2_VERSION);
	ck_assert_int_eq(SSL_CTX_get_max_proto_version(ctx), TLS1_3_VERSION);
	ck_assert_int_eq(SSL_CTX_get_security_level(ctx), 2);
	ck_assert_uint_eq(SSL_CTX_get_max_early_data(ctx), 0);
	ck_assert(SSL_CTX_get_options(ctx) & SSL_OP_NO_RENEGOTIATION);
	ck_assert(SSL_CTX_get_options(ctx) & SSL_OP_NO_COMPRESSION);
	ck_assert(SSL_CTX_get_options(ctx) & SSL_OP_CIPHER_SERVER_PREFERENCE);
	ck_assert(SSL_CTX_get_options(ctx) & SSL_OP_IGNORE_UNEXPECTED_EOF);
	ck_assert((SSL_CTX_get_options(ctx) &
	    SSL_OP_ALLOW_CLIENT_RENEGOTIATION) == 0);
	tls_ctx_free(ctx);
	ctx = server_ctx(TLS_PROFILE_MODERN);
	ck_assert_int_eq(SSL_CTX_get_min_proto_version(ctx), TLS1_3_VERSION);
	tls_ctx_free(ctx);
}
END_TEST

/* A handshake of client c with server s succeeds with version. */
static void
assert_handshake_version(SSL_CTX *s, SSL_CTX *c, int version)
{
	struct hs	 h;

	ck_assert(handshake(s, c, NULL, NULL, &h));
	ck_assert_int_eq(h.version, version);
	SSL_SESSION_free(h.session);
}

START_TEST(test_intermediate_12_13)
{
	SSL_CTX		*s = server_ctx(TLS_PROFILE_INTERMEDIATE);
	SSL_CTX		*c12 = client_ctx(TLS1_2_VERSION, TLS1_2_VERSION, NULL);
	SSL_CTX		*c13 = client_ctx(TLS1_3_VERSION, TLS1_3_VERSION, NULL);

	assert_handshake_version(s, c12, TLS1_2_VERSION);
	assert_handshake_version(s, c13, TLS1_3_VERSION);
	SSL_CTX_free(c12);
	SSL_CTX_free(c13);
	tls_ctx_free(s);
}
END_TEST

START_TEST(test_modern_refuses_12)
{
	SSL_CTX		*s = server_ctx(TLS_PROFILE_MODERN);
	SSL_CTX		*c12 = client_ctx(TLS1_2_VERSION, TLS1_2_VERSION, NULL);
	SSL_CTX		*c13 = client_ctx(TLS1_2_VERSION, TLS1_3_VERSION, NULL);
	struct hs	 h;

	ck_assert(!handshake(s, c12, NULL, NULL, &h));
	ck_assert(h.server_failed);
	assert_handshake_version(s, c13, TLS1_3_VERSION);
	SSL_CTX_free(c12);
	SSL_CTX_free(c13);
	tls_ctx_free(s);
}
END_TEST

START_TEST(test_old_versions_refused)
{
	SSL_CTX		*s = server_ctx(TLS_PROFILE_INTERMEDIATE);
	SSL_CTX		*c11 = client_ctx(TLS1_VERSION, TLS1_1_VERSION,
			    "DEFAULT:@SECLEVEL=0");
	struct hs	 h;

	ck_assert(!handshake(s, c11, NULL, NULL, &h));
	ck_assert_msg(h.server_failed, "the server must be the one refusing");
	SSL_CTX_free(c11);
	tls_ctx_free(s);
}
END_TEST

/* CBC suites, even with ECDHE, and non-ECDHE key exchange are refused. */
START_TEST(test_non_aead_refused)
{
	static const char *const refused[] = {
		"ECDHE-ECDSA-AES128-SHA256",
		"ECDHE-ECDSA-AES128-SHA",
		"ECDHE-ECDSA-AES256-SHA384",
		"AES128-GCM-SHA256",
		"DHE-RSA-AES128-GCM-SHA256",
	};
	static const char *const accepted[] = {
		"ECDHE-ECDSA-AES128-GCM-SHA256",
		"ECDHE-ECDSA-AES256-GCM-SHA384",
		"ECDHE-ECDSA-CHACHA20-POLY1305",
	};
	SSL_CTX		*s = server_ctx(TLS_PROFILE_INTERMEDIATE), *c;
	struct hs	 h;
	size_t		 i;

	for (i = 0; i < BW_ARRAY_LEN(refused); i++) {
		c = client_ctx(TLS1_2_VERSION, TLS1_2_VERSION, refused[i]);
		ck_assert_msg(!handshake(s, c, NULL, NULL, &h), "%s",
		    refused[i]);
		ck_assert(h.server_failed);
		SSL_CTX_free(c);
	}
	for (i = 0; i < BW_ARRAY_LEN(accepted); i++) {
		c = client_ctx(TLS1_2_VERSION, TLS1_2_VERSION, accepted[i]);
		ck_assert_msg(handshake(s, c, NULL, NULL, &h), "%s",
		    accepted[i]);
		SSL_SESSION_free(h.session);
		SSL_CTX_free(c);
	}
	tls_ctx_free(s);
}
END_TEST

START_TEST(test_groups)
{
	SSL_CTX		*s = server_ctx(TLS_PROFILE_INTERMEDIATE), *c;
	struct hs	 h;

	c = client_ctx(TLS1_3_VERSION, TLS1_3_VERSION, NULL);
	ck_assert_int_eq(SSL_CTX_set1_groups_list(c, "P-521:ffdhe2048"), 1);
	ck_assert(!handshake(s, c, NULL, NULL, &h));
	ck_assert(h.server_failed);
	SSL_CTX_free(c);
	c = client_ctx(TLS1_3_VERSION, TLS1_3_VERSION, NULL);
	ck_assert_int_eq(SSL_CTX_set1_groups_list(c, "P-384"), 1);
	ck_assert(handshake(s, c, NULL, NULL, &h));
	SSL_SESSION_free(h.session);
	SSL_CTX_free(c);
	tls_ctx_free(s);
}
END_TEST

START_TEST(test_key_errors)
{
	struct conf_tls	 c = tls_conf(TLS_PROFILE_INTERMEDIATE);
	const char	*err = NULL;
	char		 link[PATH_MAX + 16];

	c.private_key = key2_path;
	ck_assert_ptr_null(tls_ctx_new(&c, NULL, 0, &err));
	ck_assert_ptr_nonnull(strstr(err, "does not match"));
	snprintf(link, sizeof(link), "%s/link.pem", dir);
	ck_assert_int_eq(symlink(key_path, link), 0);
	c.private_key = link;
	err = NULL;
	ck_assert_ptr_null(tls_ctx_new(&c, NULL, 0, &err));
	ck_assert_ptr_nonnull(err);
	c.private_key = dir;
	err = NULL;
	ck_assert_ptr_null(tls_ctx_new(&c, NULL, 0, &err));
	ck_assert_ptr_nonnull(err);
	c.private_key = cert_path;	/* no key in it */
	err = NULL;
	ck_assert_ptr_null(tls_ctx_new(&c, NULL, 0, &err));
	ck_assert_ptr_nonnull(err);
	c = tls_conf(TLS_PROFILE_INTERMEDIATE);
	c.certificate = key_path;
	err = NULL;
	ck_assert_ptr_null(tls_ctx_new(&c, NULL, 0, &err));
	ck_assert_ptr_nonnull(strstr(err, "certificate"));
}
END_TEST

/*
 * The key is checked on the descriptor it is read from: a key others may
 * read is refused here too, not only by conf_load on another descriptor.
 */
START_TEST(test_key_checked_at_load)
{
	struct conf_tls	 c = tls_conf(TLS_PROFILE_INTERMEDIATE);
	const char	*err = NULL;
	SSL_CTX		*ctx;

	ck_assert_int_eq(chmod(key_path, 0644), 0);
	ck_assert_ptr_null(tls_ctx_new(&c, NULL, 0, &err));
	ck_assert_ptr_nonnull(strstr(err, "others"));
	ck_assert_int_eq(chmod(key_path, 0600), 0);
	ctx = tls_ctx_new(&c, NULL, 0, &err);
	ck_assert_ptr_nonnull(ctx);
	tls_ctx_free(ctx);
}
END_TEST

/*
 * A certificate file of 1 MiB or more is refused (a bound on the read), and
 * so is one that is not a regular file.
 */
START_TEST(test_cert_too_large)
{
	struct conf_tls	 c = tls_conf(TLS_PROFILE_INTERMEDIATE);
	const char	*err = NULL;
	char		 big[PATH_MAX + 16];
	FILE		*fp;

	snprintf(big, sizeof(big), "%s/link.pem", dir);
	ck_assert_ptr_nonnull(fp = fopen(big, "w"));
	ck_assert_int_eq(PEM_write_X509(fp, cert1), 1);
	while (ftell(fp) < 1024 * 1024)
		fputs("# padding padding padding pad\n", fp);
	fclose(fp);
	c.certificate = big;
	ck_assert_ptr_null(tls_ctx_new(&c, NULL, 0, &err));
	ck_assert_ptr_nonnull(strstr(err, "certificate"));
	unlink(big);
	/* Not a regular file: refused without blocking on a FIFO. */
	ck_assert_int_eq(mkfifo(big, 0600), 0);
	err = NULL;
	ck_assert_ptr_null(tls_ctx_new(&c, NULL, 0, &err));
	ck_assert_ptr_nonnull(strstr(err, "certificate"));
	unlink(big);
}
END_TEST

START_TEST(test_sni)
{
	struct conf_tls	 c = tls_conf(TLS_PROFILE_INTERMEDIATE);
	char		*names[] = { "api.example.com", "localhost" };
	const char	*err = NULL;
	SSL_CTX		*s, *cl;
	struct hs	 h;

	s = tls_ctx_new(&c, names, 2, &err);
	ck_assert_ptr_nonnull(s);
	cl = client_ctx(TLS1_2_VERSION, TLS1_3_VERSION, NULL);
	ck_assert(handshake(s, cl, NULL, "evil.example", &h));
	ck_assert(h.sni_mismatch);
	SSL_SESSION_free(h.session);
	ck_assert(handshake(s, cl, NULL, "API.Example.COM", &h));
	ck_assert(!h.sni_mismatch);
	SSL_SESSION_free(h.session);
	ck_assert(handshake(s, cl, NULL, NULL, &h));
	ck_assert(!h.sni_mismatch);
	SSL_SESSION_free(h.session);
	tls_ctx_free(s);
	s = server_ctx(TLS_PROFILE_INTERMEDIATE);
	ck_assert(handshake(s, cl, NULL, "anything.example", &h));
	ck_assert(!h.sni_mismatch);
	SSL_SESSION_free(h.session);
	tls_ctx_free(s);
	SSL_CTX_free(cl);
}
END_TEST

static SSL_CTX *
client_with_cert(X509 *x, EVP_PKEY *pk)
{
	SSL_CTX	*c = client_ctx(TLS1_2_VERSION, TLS1_3_VERSION, NULL);

	ck_assert_int_eq(SSL_CTX_use_certificate(c, x), 1);
	ck_assert_int_eq(SSL_CTX_use_PrivateKey(c, pk), 1);
	return c;
}

START_TEST(test_mtls)
{
	struct conf_tls	 c = tls_conf(TLS_PROFILE_INTERMEDIATE);
	const char	*err = NULL;
	SSL_CTX		*s, *anon, *good, *bad;
	struct hs	 h;

	c.client_ca = cert_path;
	anon = client_ctx(TLS1_2_VERSION, TLS1_3_VERSION, NULL);
	good = client_with_cert(cert1, key1);
	bad = client_with_cert(cert2, key2);

	c.client_verify = CLIENT_VERIFY_REQUIRED;
	ck_assert_ptr_nonnull(s = tls_ctx_new(&c, NULL, 0, &err));
	ck_assert(!handshake(s, anon, NULL, NULL, &h));
	ck_assert(!handshake(s, bad, NULL, NULL, &h));
	ck_assert(handshake(s, good, NULL, NULL, &h));
	ck_assert_str_eq(h.subject, "CN=localhost");
	SSL_SESSION_free(h.session);
	tls_ctx_free(s);

	c.client_verify = CLIENT_VERIFY_OPTIONAL;
	ck_assert_ptr_nonnull(s = tls_ctx_new(&c, NULL, 0, &err));
	ck_assert(handshake(s, anon, NULL, NULL, &h));
	ck_assert_str_eq(h.subject, "");
	SSL_SESSION_free(h.session);
	ck_assert(!handshake(s, bad, NULL, NULL, &h));
	ck_assert(handshake(s, good, NULL, NULL, &h));
	ck_assert_str_eq(h.subject, "CN=localhost");
	SSL_SESSION_free(h.session);
	tls_ctx_free(s);

	c.client_ca = key2_path;	/* not a certificate */
	ck_assert_ptr_null(tls_ctx_new(&c, NULL, 0, &err));
	SSL_CTX_free(anon);
	SSL_CTX_free(good);
	SSL_CTX_free(bad);
}
END_TEST

/* Without master keys no ticket is issued, so nothing resumes. */
START_TEST(test_no_keys_no_tickets)
{
	SSL_CTX		*s = server_ctx(TLS_PROFILE_INTERMEDIATE);
	SSL_CTX		*c = client_ctx(TLS1_2_VERSION, TLS1_3_VERSION, NULL);
	struct hs	 h, h2;

	ck_assert(handshake(s, c, NULL, NULL, &h));
	ck_assert(!SSL_SESSION_has_ticket(h.session));
	(void)handshake(s, c, h.session, NULL, &h2);
	ck_assert(!h2.reused);
	SSL_SESSION_free(h.session);
	SSL_SESSION_free(h2.session);
	SSL_CTX_free(c);
	tls_ctx_free(s);
}
END_TEST

static void
rotation(int version)
{
	SSL_CTX			*s = server_ctx(TLS_PROFILE_INTERMEDIATE);
	SSL_CTX			*c = client_ctx(version, version, NULL);
	struct chan_ticket_keys	 k;
	struct hs		 a, h;

	ck_assert_int_eq(tls_ticket_keys_generate(&k), 0);
	ck_assert_int_eq(k.have_previous, 0);
	ck_assert_int_eq(tls_ticket_keys_set(s, &k), 0);
	ck_assert(handshake(s, c, NULL, NULL, &a));
	ck_assert(SSL_SESSION_has_ticket(a.session));
	ck_assert(handshake(s, c, a.session, NULL, &h));
	ck_assert(h.reused);
	SSL_SESSION_free(h.session);

	/* Rotate: B current, A previous; A's ticket still resumes. */
	ck_assert_int_eq(tls_ticket_keys_rotate(&k), 0);
	ck_assert_int_eq(k.have_previous, 1);
	ck_assert(memcmp(k.current, k.previous, sizeof(k.current)) != 0);
	ck_assert_int_eq(tls_ticket_keys_set(s, &k), 0);
	ck_assert(handshake(s, c, a.session, NULL, &h));
	ck_assert(h.reused);
	SSL_SESSION_free(h.session);

	/* Rotate again: A is dropped; its ticket no longer resumes. */
	ck_assert_int_eq(tls_ticket_keys_rotate(&k), 0);
	ck_assert_int_eq(tls_ticket_keys_set(s, &k), 0);
	ck_assert(handshake(s, c, a.session, NULL, &h));
	ck_assert(!h.reused);
	SSL_SESSION_free(h.session);

	/* A context given an unrelated key set does not resume either. */
	ck_assert_int_eq(tls_ticket_keys_generate(&k), 0);
	ck_assert_int_eq(tls_ticket_keys_set(s, &k), 0);
	ck_assert(handshake(s, c, a.session, NULL, &h));
	ck_assert(!h.reused);
	SSL_SESSION_free(h.session);
	SSL_SESSION_free(a.session);
	bw_wipe(&k, sizeof(k));
	SSL_CTX_free(c);
	tls_ctx_free(s);
}

START_TEST(test_ticket_rotation_13)
{
	rotation(TLS1_3_VERSION);
}
END_TEST

START_TEST(test_ticket_rotation_12)
{
	rotation(TLS1_2_VERSION);
}
END_TEST

/* A ticket decrypted with the previous key is renewed under the current. */
START_TEST(test_ticket_renewal)
{
	SSL_CTX			*s = server_ctx(TLS_PROFILE_INTERMEDIATE);
	SSL_CTX			*c = client_ctx(TLS1_2_VERSION,
				    TLS1_2_VERSION, NULL);
	struct chan_ticket_keys	 k;
	struct hs		 a, b, h;

	ck_assert_int_eq(tls_ticket_keys_generate(&k), 0);
	ck_assert_int_eq(tls_ticket_keys_set(s, &k), 0);
	ck_assert(handshake(s, c, NULL, NULL, &a));
	ck_assert_int_eq(tls_ticket_keys_rotate(&k), 0);
	ck_assert_int_eq(tls_ticket_keys_set(s, &k), 0);
	ck_assert(handshake(s, c, a.session, NULL, &b));
	ck_assert(b.reused);
	ck_assert(SSL_SESSION_has_ticket(b.session));
	/* Drop A: the renewed ticket (under B) still resumes. */
	ck_assert_int_eq(tls_ticket_keys_rotate(&k), 0);
	ck_assert_int_eq(tls_ticket_keys_set(s, &k), 0);
	ck_assert(handshake(s, c, b.session, NULL, &h));
	ck_assert(h.reused);
	SSL_SESSION_free(h.session);
	SSL_SESSION_free(a.session);
	SSL_SESSION_free(b.session);
	SSL_CTX_free(c);
	tls_ctx_free(s);
}
END_TEST

Suite *
unit_suite(void)
{
	Suite	*s = suite_create("tls");
	TCase	*tc = tcase_create("core");

	tcase_set_timeout(tc, UNIT_TIMEOUT);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_settings_explicit);
	tcase_add_test(tc, test_intermediate_12_13);
	tcase_add_test(tc, test_modern_refuses_12);
	tcase_add_test(tc, test_old_versions_refused);
	tcase_add_test(tc, test_non_aead_refused);
	tcase_add_test(tc, test_groups);
	tcase_add_test(tc, test_key_errors);
	tcase_add_test(tc, test_key_checked_at_load);
	tcase_add_test(tc, test_cert_too_large);
	tcase_add_test(tc, test_sni);
	tcase_add_test(tc, test_mtls);
	tcase_add_test(tc, test_no_keys_no_tickets);
	tcase_add_test(tc, test_ticket_rotation_13);
	tcase_add_test(tc, test_ticket_rotation_12);
	tcase_add_test(tc, test_ticket_renewal);
	suite_add_tcase(s, tc);
	return s;
}
