/*
 * test_tlskey.c - the TLS key provider (tlskey.c) with the key manager's
 * TLS keys (keymgr_tls.c) and the blocking call (keymgr_client.c): keys
 * go in as PEM and come out as public key plus handle; signatures made
 * through the provider by a transport that runs the key manager's real
 * code in-process verify under the public key, for every key type; full
 * handshakes over a BIO pair with TLS 1.3 and 1.2; a mismatched pair is
 * refused; the key manager's checks (handle, scheme, digest, lengths,
 * rate, kept keys) and the call's deadline, stale and malformed answers.
 */
#include <sys/socket.h>
#include <sys/stat.h>

#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "unit.h"
#include "unit_cert.h"
#include "chan.h"
#include "conf.h"
#include "keymgr.h"
#include "tls.h"
#include "tlskey.h"
#include "util.h"

static struct keymgr_state	*km;
static unsigned char		 out[CHAN_MAX_PAYLOAD];
static size_t			 outlen;
static int64_t			 now_ms;
static int			 calls;

static EVP_PKEY *
keygen(const char *kind)
{
	EVP_PKEY	*pk;

	if (strcmp(kind, "P-256") == 0 || strcmp(kind, "P-384") == 0 ||
	    strcmp(kind, "P-521") == 0)
		pk = EVP_PKEY_Q_keygen(NULL, NULL, "EC", kind);
	else if (strcmp(kind, "RSA") == 0)
		pk = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	else if (strcmp(kind, "RSA-1024") == 0)
		pk = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
	else
		pk = EVP_PKEY_Q_keygen(NULL, NULL, kind);
	ck_assert_ptr_nonnull(pk);
	return pk;
}

/* CHAN_TLS_KEY with pk's PEM under handle; the answer's header. */
static struct keymgr_public_hdr
load_pem(uint32_t handle, const void *pem, size_t len)
{
	struct keymgr_file_hdr	 fh = { handle, 0 };
	struct keymgr_public_hdr	 ph;
	unsigned char			*msg = malloc(sizeof(fh) + len);
	enum chan_type			 rt;

	memcpy(msg, &fh, sizeof(fh));
	memcpy(msg + sizeof(fh), pem, len);
	ck_assert_int_eq(keymgr_handle(km, CHAN_TLS_KEY, msg, sizeof(fh) + len,
	    &rt, out, &outlen, now_ms), 1);
	free(msg);
	ck_assert_int_eq(rt, CHAN_TLS_PUBLIC);
	ck_assert_uint_ge(outlen, sizeof(ph));
	memcpy(&ph, out, sizeof(ph));
	return ph;
}

/* The provider's key for pk, loaded into the key manager as handle. */
static EVP_PKEY *
load_key(EVP_PKEY *pk, uint32_t handle)
{
	struct keymgr_public_hdr	 ph;
	BIO				*bio = BIO_new(BIO_s_mem());
	EVP_PKEY			*key;
	const char			*err = NULL;
	char				*pem;
	long				 n;

	ck_assert_int_eq(PEM_write_bio_PrivateKey(bio, pk, NULL, NULL, 0,
	    NULL, NULL), 1);
	n = BIO_get_mem_data(bio, &pem);
	ph = load_pem(handle, pem, (size_t)n);
	BIO_free(bio);
	ck_assert_msg(ph.ok, "%s", ph.err);
	ck_assert_uint_eq(ph.id, handle);
	key = tlskey_pkey_new(handle, out + sizeof(ph), outlen - sizeof(ph),
	    &err);
	ck_assert_msg(key != NULL, "%s", err ? err : "?");
	return key;
}

/* The transport: the key manager's own code, in-process. */
static int
transport(void *arg, const struct tlskey_op *op, const unsigned char *in,
    size_t inlen, unsigned char *sig, size_t sigsize, size_t *siglen)
{
	struct keymgr_tls_sign_hdr	 sh;
	struct keymgr_sig_hdr		 gh;
	unsigned char			 msg[sizeof(sh) + TLSKEY_INPUT_MAX + 1];
	enum chan_type			 rt;

	(void)arg;
	calls++;
	memset(&sh, 0, sizeof(sh));
	sh.call.id = 7;
	sh.op = *op;
	ck_assert_uint_le(inlen, TLSKEY_INPUT_MAX + 1);
	memcpy(msg, &sh, sizeof(sh));
	memcpy(msg + sizeof(sh), in, inlen);
	ck_assert_int_eq(keymgr_handle(km, CHAN_TLS_SIGN, msg, sizeof(sh) +
	    inlen, &rt, out, &outlen, now_ms), 1);
	ck_assert_int_eq(rt, CHAN_TLS_SIGNATURE);
	memcpy(&gh, out, sizeof(gh));
	ck_assert_uint_eq(gh.id, 7);
	if (gh.status != KEYMGR_OK || outlen - sizeof(gh) > sigsize)
		return -1;
	*siglen = outlen - sizeof(gh);
	memcpy(sig, out + sizeof(gh), *siglen);
	return 0;
}

static int
transport_fails(void *arg, const struct tlskey_op *op,
    const unsigned char *in, size_t inlen, unsigned char *sig,
    size_t sigsize, size_t *siglen)
{
	(void)arg;
	(void)op;
	(void)in;
	(void)inlen;
	(void)sig;
	(void)sigsize;
	(void)siglen;
	calls++;
	return -1;
}

static void
setup(void)
{
	ck_assert_int_eq(tlskey_init(), 0);
	km = keymgr_state_new();
	tlskey_set_transport(transport, NULL);
	now_ms = 1000;
	calls = 0;
}

static void
teardown(void)
{
	keymgr_state_free(km);
	tlskey_set_transport(NULL, NULL);
}

/* Signs msg through key (pad: 0, or RSA_PKCS1_PSS_PADDING); 1 when done. */
static int
sign(EVP_PKEY *key, const char *md, int pad, unsigned char *sig,
    size_t *siglen)
{
	static const unsigned char msg[] = "the handshake's transcript";
	EVP_MD_CTX	*ctx = EVP_MD_CTX_new();
	EVP_PKEY_CTX	*pctx = NULL;
	int		 ok;

	ok = EVP_DigestSignInit_ex(ctx, &pctx, md, NULL, NULL, key, NULL) == 1;
	if (ok && pad != 0)
		ok = EVP_PKEY_CTX_set_rsa_padding(pctx, pad) == 1 &&
		    EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx,
		    RSA_PSS_SALTLEN_DIGEST) == 1;
	ok = ok && EVP_DigestSign(ctx, NULL, siglen, msg, sizeof(msg)) == 1 &&
	    EVP_DigestSign(ctx, sig, siglen, msg, sizeof(msg)) == 1;
	EVP_MD_CTX_free(ctx);
	ERR_clear_error();
	return ok;
}

static int
verify(EVP_PKEY *pub, const char *md, int pad, const unsigned char *sig,
    size_t siglen)
{
	static const unsigned char msg[] = "the handshake's transcript";
	EVP_MD_CTX	*ctx = EVP_MD_CTX_new();
	EVP_PKEY_CTX	*pctx = NULL;
	int		 ok;

	ok = EVP_DigestVerifyInit_ex(ctx, &pctx, md, NULL, "provider=default",
	    pub, NULL) == 1;
	if (ok && pad != 0)
		ok = EVP_PKEY_CTX_set_rsa_padding(pctx, pad) == 1 &&
		    EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx,
		    RSA_PSS_SALTLEN_DIGEST) == 1;
	ok = ok && EVP_DigestVerify(ctx, sig, siglen, msg, sizeof(msg)) == 1;
	EVP_MD_CTX_free(ctx);
	ERR_clear_error();
	return ok;
}

static void
round_trip(const char *kind, const char *md, int pad)
{
	EVP_PKEY	*pk = keygen(kind), *key = load_key(pk, 1);
	unsigned char	 sig[TLSKEY_SIG_MAX];
	size_t		 siglen = sizeof(sig);

	ck_assert_msg(sign(key, md, pad, sig, &siglen), "%s", kind);
	ck_assert_int_eq(calls, 1);
	ck_assert_msg(verify(pk, md, pad, sig, siglen), "%s", kind);
	sig[siglen / 2] ^= 1;
	ck_assert(!verify(pk, md, pad, sig, siglen));
	/* Public queries come from the public key. */
	ck_assert_int_eq(EVP_PKEY_get_bits(key), EVP_PKEY_get_bits(pk));
	ck_assert_int_eq(EVP_PKEY_get_size(key), EVP_PKEY_get_size(pk));
	ck_assert_int_eq(EVP_PKEY_get_security_bits(key),
	    EVP_PKEY_get_security_bits(pk));
	ck_assert_int_eq(EVP_PKEY_eq(key, pk), 1);
	EVP_PKEY_free(key);
	EVP_PKEY_free(pk);
}

START_TEST(test_round_trip_each_type)
{
	round_trip("P-256", "SHA256", 0);
	calls = 0;
	round_trip("P-384", "SHA384", 0);
	calls = 0;
	round_trip("ED25519", NULL, 0);
	calls = 0;
	round_trip("RSA", "SHA256", 0);
	calls = 0;
	round_trip("RSA", "SHA256", RSA_PKCS1_PSS_PADDING);
	calls = 0;
	round_trip("RSA", "SHA512", RSA_PKCS1_PSS_PADDING);
}
END_TEST

START_TEST(test_no_handle_or_transport_cannot_sign)
{
	EVP_PKEY	*pk = keygen("P-256"), *key = load_key(pk, 3), *pub;
	unsigned char	 sig[TLSKEY_SIG_MAX], spki[512], *p = spki;
	size_t		 siglen = sizeof(sig);
	const char	*err;
	int		 n;

	tlskey_set_transport(transport_fails, NULL);
	ck_assert(!sign(key, "SHA256", 0, sig, &siglen));
	ck_assert_int_eq(calls, 1);
	tlskey_set_transport(NULL, NULL);
	ck_assert(!sign(key, "SHA256", 0, sig, &siglen));
	/* A key without handle: public only. */
	tlskey_set_transport(transport, NULL);
	n = i2d_PUBKEY(pk, &p);
	ck_assert_int_gt(n, 0);
	ck_assert_ptr_nonnull(pub = tlskey_pkey_new(0, spki, (size_t)n,
	    &err));
	ck_assert(!sign(pub, "SHA256", 0, sig, &siglen));
	/* No digest TLS would not use; no padding for an EC key. */
	ck_assert(!sign(key, "SHA1", 0, sig, &siglen));
	ck_assert(!sign(key, "SHA256", RSA_PKCS1_PSS_PADDING, sig, &siglen));
	/* Garbage and an unsupported type are no key. */
	ck_assert_ptr_null(tlskey_pkey_new(1, spki, 5, &err));
	EVP_PKEY_free(pub);
	EVP_PKEY_free(pk);
	pk = keygen("P-521");
	p = spki;
	n = i2d_PUBKEY(pk, &p);
	ck_assert_ptr_null(tlskey_pkey_new(1, spki, (size_t)n, &err));
	ck_assert_ptr_nonnull(strstr(err, "unsupported"));
	EVP_PKEY_free(pk);
	EVP_PKEY_free(key);
}
END_TEST

/*
 * Handshakes.
 */
static char	 dir[64], cert_path[128];

/* A server context for a certificate of pk and the provider's key. */
static SSL_CTX *
server_ctx(EVP_PKEY *certkey, EVP_PKEY *key, const char **err)
{
	struct conf_tls	 c;
	X509		*x = unit_cert(certkey, "localhost");
	FILE		*fp;

	snprintf(dir, sizeof(dir), "/tmp/bw-test-tlskey.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(cert_path, sizeof(cert_path), "%s/cert.pem", dir);
	ck_assert_ptr_nonnull(fp = fopen(cert_path, "w"));
	ck_assert_int_eq(PEM_write_X509(fp, x), 1);
	fclose(fp);
	X509_free(x);
	memset(&c, 0, sizeof(c));
	c.certificate = cert_path;
	c.private_key = "(in the key manager)";
	c.profile = TLS_PROFILE_INTERMEDIATE;
	return tls_ctx_new_key(&c, key, NULL, 0, err);
}

static void
server_ctx_done(void)
{
	unlink(cert_path);
	rmdir(dir);
}

/* One full handshake at version; true when both sides completed it. */
static bool
handshake(SSL_CTX *sctx, EVP_PKEY *pub, int version)
{
	SSL_CTX		*cctx = SSL_CTX_new(TLS_client_method());
	SSL		*s, *c;
	int		 i, rs = 0, rc = 0;
	bool		 ok = false;

	SSL_CTX_set_min_proto_version(cctx, version);
	SSL_CTX_set_max_proto_version(cctx, version);
	SSL_CTX_set_options(cctx, SSL_OP_NO_TICKET);
	unit_ssl_pair(sctx, cctx, &s, &c);
	for (i = 0; i < 64 && !ok; i++) {
		if (rc != 1)
			rc = SSL_do_handshake(c);
		if (rs != 1)
			rs = SSL_do_handshake(s);
		ok = rc == 1 && rs == 1;
		if ((rs != 1 && SSL_get_error(s, rs) != SSL_ERROR_WANT_READ) ||
		    (rc != 1 && SSL_get_error(c, rc) != SSL_ERROR_WANT_READ))
			break;
	}
	/* The client checked the signature under the certificate's key. */
	if (ok)
		ck_assert_int_eq(EVP_PKEY_eq(SSL_get0_peer_certificate(c) ==
		    NULL ? NULL : X509_get0_pubkey(SSL_get0_peer_certificate(c)),
		    pub), 1);
	SSL_free(s);
	SSL_free(c);
	SSL_CTX_free(cctx);
	ERR_clear_error();
	return ok;
}

static void
handshakes(const char *kind)
{
	EVP_PKEY	*pk = keygen(kind), *key = load_key(pk, 5);
	const char	*err = NULL;
	SSL_CTX		*sctx = server_ctx(pk, key, &err);

	ck_assert_msg(sctx != NULL, "%s: %s", kind, err ? err : "?");
	ck_assert_msg(handshake(sctx, pk, TLS1_3_VERSION), "%s 1.3", kind);
	ck_assert_msg(handshake(sctx, pk, TLS1_2_VERSION), "%s 1.2", kind);
	ck_assert_int_eq(calls, 2);
	/* The key manager gone: the handshake fails, nothing hangs. */
	tlskey_set_transport(transport_fails, NULL);
	ck_assert(!handshake(sctx, pk, TLS1_3_VERSION));
	tlskey_set_transport(transport, NULL);
	SSL_CTX_free(sctx);
	server_ctx_done();
	EVP_PKEY_free(key);
	EVP_PKEY_free(pk);
	calls = 0;
}

START_TEST(test_handshakes_each_type)
{
	handshakes("P-256");
	handshakes("P-384");
	handshakes("ED25519");
	handshakes("RSA");
}
END_TEST

START_TEST(test_mismatch_refused)
{
	EVP_PKEY	*a = keygen("P-256"), *b = keygen("P-256");
	EVP_PKEY	*key = load_key(b, 9);
	const char	*err = NULL;

	ck_assert_ptr_null(server_ctx(a, key, &err));
	ck_assert_ptr_nonnull(strstr(err,
	    "the private key does not match the certificate"));
	server_ctx_done();
	EVP_PKEY_free(key);
	EVP_PKEY_free(a);
	EVP_PKEY_free(b);
}
END_TEST

/*
 * The key manager's checks.
 */
static enum keymgr_status
km_sign(uint32_t handle, uint32_t scheme, int md, int saltlen, size_t inlen)
{
	struct tlskey_op	 op = { handle, scheme, md, saltlen };
	unsigned char		 in[TLSKEY_INPUT_MAX + 1], sig[TLSKEY_SIG_MAX];
	size_t			 siglen;

	memset(in, 0x41, sizeof(in));
	if (transport(NULL, &op, in, inlen, sig, sizeof(sig), &siglen) == 0)
		return KEYMGR_OK;
	return (enum keymgr_status)((struct keymgr_sig_hdr *)out)->status;
}

/* Handles: 1 a P-256 key, 2 an Ed25519 key, 3 an RSA key. */
static const struct {
	uint32_t	 handle, scheme;
	int		 md, saltlen;
	size_t		 inlen;
	enum keymgr_status want;
} km_cases[] = {
	{ 1, TLSKEY_ECDSA, NID_sha256, 0, 32, KEYMGR_OK },
	{ 4, TLSKEY_ECDSA, NID_sha256, 0, 32, KEYMGR_UNKNOWN_KID },
	{ 0, TLSKEY_ECDSA, NID_sha256, 0, 32, KEYMGR_UNKNOWN_KID },
	/* The scheme of another key type, a digest TLS does not use. */
	{ 1, TLSKEY_RSA_PSS, NID_sha256, 32, 32, KEYMGR_FAILED },
	{ 3, TLSKEY_ECDSA, NID_sha256, 0, 32, KEYMGR_FAILED },
	{ 2, TLSKEY_ECDSA, NID_sha256, 0, 32, KEYMGR_FAILED },
	{ 1, TLSKEY_ECDSA, NID_sha1, 0, 20, KEYMGR_FAILED },
	/* An input that is not the digest's length; a wrong PSS salt. */
	{ 1, TLSKEY_ECDSA, NID_sha256, 0, 31, KEYMGR_FAILED },
	{ 3, TLSKEY_RSA_PSS, NID_sha256, 20, 32, KEYMGR_FAILED },
	{ 3, TLSKEY_RSA_PSS, NID_sha256, 32, 32, KEYMGR_OK },
	{ 3, TLSKEY_RSA_PKCS1, NID_sha384, 0, 48, KEYMGR_OK },
	/* Ed25519: the message, bounded. */
	{ 2, TLSKEY_ED25519, NID_undef, 0, TLSKEY_INPUT_MAX, KEYMGR_OK },
	{ 2, TLSKEY_ED25519, NID_undef, 0, TLSKEY_INPUT_MAX + 1,
	    KEYMGR_TOO_LARGE },
};

START_TEST(test_keymgr_checks)
{
	EVP_PKEY	*pk[3], *key[3];
	const char	*kinds[3] = { "P-256", "ED25519", "RSA" };
	size_t		 i;

	for (i = 0; i < 3; i++) {
		pk[i] = keygen(kinds[i]);
		key[i] = load_key(pk[i], (uint32_t)i + 1);
	}
	for (i = 0; i < BW_ARRAY_LEN(km_cases); i++)
		ck_assert_msg(km_sign(km_cases[i].handle, km_cases[i].scheme,
		    km_cases[i].md, km_cases[i].saltlen, km_cases[i].inlen) ==
		    km_cases[i].want, "case %zu", i);
	for (i = 0; i < 3; i++) {
		EVP_PKEY_free(key[i]);
		EVP_PKEY_free(pk[i]);
	}
}
END_TEST

START_TEST(test_keymgr_rate_and_keep)
{
	EVP_PKEY	*ed = keygen("ED25519"), *k;
	uint32_t	 i;

	k = load_key(ed, 1);
	EVP_PKEY_free(k);
	for (i = 0; i < KEYMGR_TLS_RATE_MAX; i++)
		ck_assert_int_eq(km_sign(1, TLSKEY_ED25519, NID_undef, 0, 64),
		    KEYMGR_OK);
	ck_assert_int_eq(km_sign(1, TLSKEY_ED25519, NID_undef, 0, 64),
	    KEYMGR_BUSY);
	now_ms += 1000;
	ck_assert_int_eq(km_sign(1, TLSKEY_ED25519, NID_undef, 0, 64),
	    KEYMGR_OK);
	/* The oldest of more than KEYMGR_TLS_KEEP keys goes. */
	for (i = 2; i <= KEYMGR_TLS_KEEP + 1; i++) {
		k = load_key(ed, i);
		EVP_PKEY_free(k);
	}
	ck_assert_int_eq(km_sign(1, TLSKEY_ED25519, NID_undef, 0, 64),
	    KEYMGR_UNKNOWN_KID);
	ck_assert_int_eq(km_sign(2, TLSKEY_ED25519, NID_undef, 0, 64),
	    KEYMGR_OK);
	EVP_PKEY_free(ed);
}
END_TEST

START_TEST(test_keymgr_bad_files)
{
	EVP_PKEY			*pk;
	struct keymgr_public_hdr	 ph;
	BIO				*bio;
	char				*pem;
	long				 n;
	enum chan_type			 rt;
	const char			*kinds[] = { "P-521", "RSA-1024" };
	size_t				 i;

	ph = load_pem(1, "not a key", 9);
	ck_assert(!ph.ok);
	ck_assert_ptr_nonnull(strstr(ph.err, "PEM"));
	for (i = 0; i < BW_ARRAY_LEN(kinds); i++) {
		pk = keygen(kinds[i]);
		bio = BIO_new(BIO_s_mem());
		PEM_write_bio_PrivateKey(bio, pk, NULL, NULL, 0, NULL, NULL);
		n = BIO_get_mem_data(bio, &pem);
		ph = load_pem(1, pem, (size_t)n);
		ck_assert_msg(!ph.ok, "%s", kinds[i]);
		ck_assert_ptr_nonnull(strstr(ph.err, "unsupported"));
		if (i == 0) {
			ph = load_pem(0, pem, (size_t)n);
			ck_assert(!ph.ok);
		}
		BIO_free(bio);
		EVP_PKEY_free(pk);
	}
	pk = keygen("P-256");
	bio = BIO_new(BIO_s_mem());
	PEM_write_bio_PrivateKey(bio, pk, NULL, NULL, 0, NULL, NULL);
	n = BIO_get_mem_data(bio, &pem);
	ph = load_pem(0, pem, (size_t)n);
	ck_assert(!ph.ok);
	ck_assert_str_eq(ph.err, "no handle");
	BIO_free(bio);
	EVP_PKEY_free(pk);
	/* Too short to answer: the key manager stops. */
	ck_assert_int_eq(keymgr_handle(km, CHAN_TLS_KEY, out, 3, &rt, out,
	    &outlen, now_ms), -1);
	ck_assert_int_eq(keymgr_handle(km, CHAN_TLS_SIGN, out, 3, &rt, out,
	    &outlen, now_ms), -1);
}
END_TEST

/*
 * The blocking call over a real pair: deadline, stale and malformed
 * answers.
 */
static int	 pair[2];

static void
answer(uint64_t id, uint32_t status, size_t siglen, enum chan_type type)
{
	unsigned char		 msg[sizeof(struct keymgr_sig_hdr) + 2048];
	struct keymgr_sig_hdr	 gh = { id, 0, status };

	memcpy(msg, &gh, sizeof(gh));
	memset(msg + sizeof(gh), 0x5a, siglen);
	ck_assert_int_eq(chan_send(pair[1], type, msg, sizeof(gh) + siglen),
	    0);
}

/* One call with 100 ms deadline; its result and duration. */
static int
call(int64_t *took)
{
	struct tlskey_op	 op = { 1, TLSKEY_ECDSA, NID_sha256, 0 };
	unsigned char		 in[32] = { 0 }, sig[128];
	size_t			 siglen = 0;
	int64_t			 t0 = bw_now_ms();
	int			 rv;

	rv = keymgr_tls_call(&(struct keymgr_tls_client){ pair[0], 100, 1, 0 },
	    &op, in, sizeof(in), sig, sizeof(sig), &siglen);
	*took = bw_now_ms() - t0;
	return rv == 0 ? (int)siglen : -1;
}

START_TEST(test_call_deadline_stale_malformed)
{
	unsigned char	 buf[4096];
	enum chan_type	 t;
	size_t		 len;
	int64_t		 took;

	ck_assert_int_eq(chan_pair(pair), 0);
	ck_assert_int_eq(fcntl(pair[0], F_SETFL, O_NONBLOCK), 0);
	/* No answer: fails after the deadline. */
	ck_assert_int_eq(call(&took), -1);
	ck_assert_int_ge(took, 100);
	ck_assert_int_lt(took, 1000);
	ck_assert_int_eq(chan_recv(pair[1], &t, buf, sizeof(buf), &len), 1);
	ck_assert_int_eq(t, CHAN_TLS_SIGN);
	/* A stale answer is dropped, the awaited one taken. */
	answer(0, KEYMGR_OK, 64, CHAN_TLS_SIGNATURE);
	answer(1, KEYMGR_OK, 64, CHAN_TLS_SIGNATURE);
	ck_assert_int_eq(call(&took), 64);
	/* Refused, empty, oversized, short, of another type. */
	answer(1, KEYMGR_BUSY, 0, CHAN_TLS_SIGNATURE);
	ck_assert_int_eq(call(&took), -1);
	answer(1, KEYMGR_OK, 0, CHAN_TLS_SIGNATURE);
	ck_assert_int_eq(call(&took), -1);
	answer(1, KEYMGR_OK, 129, CHAN_TLS_SIGNATURE);
	ck_assert_int_eq(call(&took), -1);
	ck_assert_int_eq(chan_send(pair[1], CHAN_TLS_SIGNATURE, buf, 4), 0);
	ck_assert_int_eq(call(&took), -1);
	answer(1, KEYMGR_OK, 64, CHAN_SIGNATURE);
	ck_assert_int_eq(call(&took), -1);
	/* An input over the bound is not sent. */
	ck_assert_int_eq(keymgr_tls_call(&(struct keymgr_tls_client){
	    pair[0], 100, 1, 0 }, &(struct tlskey_op){ 1, TLSKEY_ED25519, 0, 0 },
	    buf, TLSKEY_INPUT_MAX + 1, buf, sizeof(buf), &len), -1);
	/* The peer gone: fails at once. */
	close(pair[1]);
	ck_assert_int_eq(call(&took), -1);
	ck_assert_int_lt(took, 100);
	close(pair[0]);
}
END_TEST

START_TEST(test_client_set_installs_transport)
{
	EVP_PKEY	*pk = keygen("P-256"), *key = load_key(pk, 1);
	unsigned char	 sig[TLSKEY_SIG_MAX];
	size_t		 siglen = sizeof(sig);
	int64_t		 t0;

	ck_assert_int_eq(chan_pair(pair), 0);
	keymgr_tls_client_set(pair[0], 100);
	t0 = bw_now_ms();
	ck_assert(!sign(key, "SHA256", 0, sig, &siglen));
	ck_assert_int_ge(bw_now_ms() - t0, 100);
	/* Paused after the timeout: fails at once, asks nothing. */
	t0 = bw_now_ms();
	ck_assert(!sign(key, "SHA256", 0, sig, &siglen));
	ck_assert_int_lt(bw_now_ms() - t0, 50);
	ck_assert_int_eq(chan_recv(pair[1], &(enum chan_type){ 0 }, sig,
	    sizeof(sig), &siglen), 1);
	ck_assert_int_eq(fcntl(pair[1], F_SETFL, O_NONBLOCK), 0);
	ck_assert_int_eq(chan_recv(pair[1], &(enum chan_type){ 0 }, sig,
	    sizeof(sig), &siglen), -1);
	close(pair[0]);
	close(pair[1]);
	EVP_PKEY_free(key);
	EVP_PKEY_free(pk);
}
END_TEST

Suite *
unit_suite(void)
{
	Suite	*s = suite_create("tlskey");
	TCase	*tc = tcase_create("tlskey");

	tcase_set_timeout(tc, UNIT_TIMEOUT);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_round_trip_each_type);
	tcase_add_test(tc, test_no_handle_or_transport_cannot_sign);
	tcase_add_test(tc, test_handshakes_each_type);
	tcase_add_test(tc, test_mismatch_refused);
	tcase_add_test(tc, test_keymgr_checks);
	tcase_add_test(tc, test_keymgr_rate_and_keep);
	tcase_add_test(tc, test_keymgr_bad_files);
	tcase_add_test(tc, test_call_deadline_stale_malformed);
	tcase_add_test(tc, test_client_set_installs_transport);
	suite_add_tcase(s, tc);
	return s;
}
