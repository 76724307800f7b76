/*
 * keymgr_tls.c - the key manager's TLS private keys (keymgr.h): it parses
 * the key files whose bytes the master sends (CHAN_TLS_KEY), keeps them
 * under the master's handles, answers their public keys and signs the
 * workers' handshakes (CHAN_TLS_SIGN, built by tlskey.c).
 *
 * Invariants: at most KEYMGR_TLS_KEEP keys, the newest first (a handle
 * sent again replaces its key); only EC P-256 and P-384, Ed25519 and RSA
 * keys of at least 2048 bits; the buffer that held key file bytes is
 * wiped by the caller (keymgr_main wipes every message).
 *
 * Threat model: a request comes from a worker, which may be compromised,
 * through the master, which stamped its origin.  Each is checked: a known
 * handle, the scheme of that key's type, a digest TLS signs with (SHA-256,
 * SHA-384, SHA-512) and an input of exactly its length (ECDSA, RSA), a
 * message of at most TLSKEY_INPUT_MAX bytes (Ed25519), RSA-PSS with the
 * salt of the digest's length and MGF1 with the same digest, and at most
 * KEYMGR_TLS_RATE_MAX signatures per second over all workers.  A
 * compromised worker can thus have handshake-shaped inputs signed while
 * it runs (it serves the connections anyway) but cannot read the key.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "keymgr.h"
#include "tls.h"
#include "tlskey.h"
#include "util.h"

#define KEYMGR_TLS_RSA_MIN	2048

struct keymgr_tls_key {
	uint32_t	 handle;
	EVP_PKEY	*pkey;
};

struct keymgr_tls {
	struct keymgr_tls_key	 keys[KEYMGR_TLS_KEEP];	/* newest first */
	size_t			 nkeys;
	struct keymgr_rate	 rate;
};

struct keymgr_tls *
keymgr_tls_new(void)
{
	return bw_calloc(1, sizeof(struct keymgr_tls));
}

void
keymgr_tls_free(struct keymgr_tls *t)
{
	size_t	 i;

	if (t == NULL)
		return;
	for (i = 0; i < t->nkeys; i++)
		EVP_PKEY_free(t->keys[i].pkey);
	free(t);
}

/* Keeps a key, the newest first; the same handle or the oldest goes. */
static void
keymgr_tls_keep(struct keymgr_tls *t, uint32_t handle, EVP_PKEY *pk)
{
	size_t	 i;

	for (i = 0; i < t->nkeys; i++)
		if (t->keys[i].handle == handle)
			break;
	if (i < t->nkeys)
		EVP_PKEY_free(t->keys[i].pkey);
	else if (t->nkeys == KEYMGR_TLS_KEEP)
		EVP_PKEY_free(t->keys[i = --t->nkeys].pkey);
	memmove(&t->keys[1], &t->keys[0], i * sizeof(t->keys[0]));
	t->keys[0].handle = handle;
	t->keys[0].pkey = pk;
	if (i == t->nkeys)
		t->nkeys++;
}

static EVP_PKEY *
keymgr_tls_parse(const unsigned char *pem, size_t len, const char **err)
{
	EVP_PKEY	*pk;

	if (len > KEYMGR_TLS_FILE_MAX) {
		*err = "key file larger than 16 KiB";
		return NULL;
	}
	pk = tls_key_parse(pem, len, err);
	ERR_clear_error();
	if (pk != NULL && (tlskey_scheme_of(pk) == 0 ||
	    (EVP_PKEY_is_a(pk, "RSA") &&
	    EVP_PKEY_get_bits(pk) < KEYMGR_TLS_RSA_MIN))) {
		*err = "unsupported private key type (EC P-256, P-384, "
		    "Ed25519 or RSA of at least 2048 bits)";
		EVP_PKEY_free(pk);
		pk = NULL;
	}
	return pk;
}

int
keymgr_tls_load(struct keymgr_tls *t, const unsigned char *msg, size_t len,
    unsigned char *out, size_t *outlen)
{
	struct keymgr_file_hdr	 fh;
	struct keymgr_public_hdr	 ph;
	EVP_PKEY			*pk;
	unsigned char			*p = out + sizeof(ph);
	const char			*err;
	int				 n = 0;

	if (keymgr_file_open(msg, len, &fh, &ph) == -1)
		return -1;
	if ((pk = keymgr_tls_parse(msg + sizeof(fh), len - sizeof(fh),
	    &err)) != NULL && fh.id == 0)
		err = "no handle";
	else if (pk != NULL && ((n = i2d_PUBKEY(pk, NULL)) <= 0 ||
	    n > KEYMGR_TLS_SPKI_MAX ||
	    i2d_PUBKEY(pk, &p) != n))
		err = "cannot encode the public key";
	else if (pk != NULL) {
		keymgr_tls_keep(t, fh.id, pk);
		pk = NULL;
		ph.ok = 1;
	}
	EVP_PKEY_free(pk);
	ERR_clear_error();
	keymgr_file_answer(&ph, err, (size_t)n, out, outlen);
	return 1;
}

static EVP_PKEY *
keymgr_tls_find(const struct keymgr_tls *t, uint32_t handle)
{
	size_t	 i;

	for (i = 0; i < t->nkeys && handle != 0; i++)
		if (t->keys[i].handle == handle)
			return t->keys[i].pkey;
	return NULL;
}

/* The digest of a request, when TLS may sign with it; NULL otherwise. */
static const EVP_MD *
keymgr_tls_md(const struct tlskey_op *op, size_t inlen)
{
	const EVP_MD	*md;

	switch (op->md) {
	case NID_sha256:
		md = EVP_sha256();
		break;
	case NID_sha384:
		md = EVP_sha384();
		break;
	case NID_sha512:
		md = EVP_sha512();
		break;
	default:
		return NULL;
	}
	if ((size_t)EVP_MD_get_size(md) != inlen ||
	    (op->scheme == TLSKEY_RSA_PSS && op->saltlen != (int32_t)inlen))
		return NULL;
	return md;
}

/* Is the request's scheme one of this key's? */
static bool
keymgr_tls_scheme_ok(EVP_PKEY *pk, const struct tlskey_op *op)
{
	enum tlskey_scheme	 family = tlskey_scheme_of(pk);

	if (family == TLSKEY_RSA_PKCS1)
		return op->scheme == TLSKEY_RSA_PKCS1 ||
		    op->scheme == TLSKEY_RSA_PSS;
	return op->scheme == (uint32_t)family;
}

static int
keymgr_tls_ed25519(EVP_PKEY *pk, const unsigned char *in, size_t inlen,
    unsigned char *sig, size_t *siglen)
{
	EVP_MD_CTX	*ctx;
	int		 ok;

	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return -1;
	ok = EVP_DigestSignInit_ex(ctx, NULL, NULL, NULL, NULL, pk, NULL) ==
	    1 && EVP_DigestSign(ctx, sig, siglen, in, inlen) == 1;
	EVP_MD_CTX_free(ctx);
	return ok ? 0 : -1;
}

static int
keymgr_tls_digest(EVP_PKEY *pk, const struct tlskey_op *op, const EVP_MD *md,
    const unsigned char *in, size_t inlen, unsigned char *sig,
    size_t *siglen)
{
	EVP_PKEY_CTX	*ctx;
	int		 ok;

	if ((ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL)) == NULL)
		return -1;
	ok = EVP_PKEY_sign_init(ctx) == 1 &&
	    EVP_PKEY_CTX_set_signature_md(ctx, md) == 1;
	if (ok && op->scheme == TLSKEY_RSA_PKCS1)
		ok = EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) == 1;
	if (ok && op->scheme == TLSKEY_RSA_PSS)
		ok = EVP_PKEY_CTX_set_rsa_padding(ctx,
		    RSA_PKCS1_PSS_PADDING) == 1 &&
		    EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, md) == 1 &&
		    EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, op->saltlen) == 1;
	ok = ok && EVP_PKEY_sign(ctx, sig, siglen, in, inlen) == 1;
	EVP_PKEY_CTX_free(ctx);
	return ok ? 0 : -1;
}

static enum keymgr_status
keymgr_tls_do_sign(struct keymgr_tls *t, const struct tlskey_op *op,
    const unsigned char *in, size_t inlen, unsigned char *sig,
    size_t *siglen, int64_t now_ms)
{
	EVP_PKEY	*pk;
	const EVP_MD	*md = NULL;
	int		 rv;

	if ((pk = keymgr_tls_find(t, op->handle)) == NULL)
		return KEYMGR_UNKNOWN_KID;
	if (inlen > TLSKEY_INPUT_MAX)
		return KEYMGR_TOO_LARGE;
	if (!keymgr_tls_scheme_ok(pk, op) || (op->scheme != TLSKEY_ED25519 &&
	    (md = keymgr_tls_md(op, inlen)) == NULL) ||
	    (size_t)EVP_PKEY_get_size(pk) > *siglen)
		return KEYMGR_FAILED;
	if (!keymgr_rate_take(&t->rate, KEYMGR_TLS_RATE_MAX, now_ms))
		return KEYMGR_BUSY;
	rv = md == NULL ? keymgr_tls_ed25519(pk, in, inlen, sig, siglen) :
	    keymgr_tls_digest(pk, op, md, in, inlen, sig, siglen);
	ERR_clear_error();
	return rv == 0 ? KEYMGR_OK : KEYMGR_FAILED;
}

int
keymgr_tls_sign(struct keymgr_tls *t, const unsigned char *msg, size_t len,
    unsigned char *out, size_t *outlen, int64_t now_ms)
{
	struct keymgr_tls_sign_hdr	 sh;
	enum keymgr_status		 st;
	size_t				 siglen = TLSKEY_SIG_MAX;

	if (len < sizeof(sh))
		return -1;
	memcpy(&sh, msg, sizeof(sh));
	st = keymgr_tls_do_sign(t, &sh.op, msg + sizeof(sh), len - sizeof(sh),
	    out + sizeof(struct keymgr_sig_hdr), &siglen, now_ms);
	keymgr_sig_answer(&sh.call, st, siglen, out, outlen);
	return 1;
}

/*
 * The warm-up before the key manager's filter (keymgr_sandbox.c): a fresh
 * key of each type through the paths a request takes (PEM parse, SPKI,
 * every scheme).  RSA at 1024 bits: the same code, a faster key to make.
 */
static int
keymgr_tls_warm_key(EVP_PKEY *gen, const char **err)
{
	static const unsigned char	 dgst[32];
	struct tlskey_op		 op = { 1, 0, NID_sha256, 32 };
	unsigned char			 sig[TLSKEY_SIG_MAX];
	EVP_PKEY			*pk = NULL;
	BIO				*bio;
	char				*pem = NULL;
	size_t				 siglen = sizeof(sig);
	long				 n = 0;
	int				 ok;

	if ((bio = BIO_new(BIO_s_mem())) == NULL)
		return -1;
	if (PEM_write_bio_PrivateKey(bio, gen, NULL, NULL, 0, NULL, NULL) == 1 &&
	    (n = BIO_get_mem_data(bio, &pem)) > 0)
		pk = tls_key_parse((unsigned char *)pem, (size_t)n, err);
	ok = pk != NULL && i2d_PUBKEY(pk, NULL) > 0;
	if (ok && EVP_PKEY_is_a(pk, "ED25519"))
		ok = keymgr_tls_ed25519(pk, dgst, sizeof(dgst), sig,
		    &siglen) == 0;
	else if (ok && EVP_PKEY_is_a(pk, "RSA")) {
		op.scheme = TLSKEY_RSA_PKCS1;
		ok = keymgr_tls_digest(pk, &op, EVP_sha256(), dgst,
		    sizeof(dgst), sig, &siglen) == 0;
		op.scheme = TLSKEY_RSA_PSS;
		siglen = sizeof(sig);
		ok = ok && keymgr_tls_digest(pk, &op, EVP_sha256(), dgst,
		    sizeof(dgst), sig, &siglen) == 0;
	} else if (ok) {
		op.scheme = TLSKEY_ECDSA;
		ok = keymgr_tls_digest(pk, &op, EVP_sha256(), dgst,
		    sizeof(dgst), sig, &siglen) == 0;
	}
	if (n > 0)
		bw_wipe(pem, (size_t)n);
	BIO_free(bio);
	EVP_PKEY_free(pk);
	ERR_clear_error();
	return ok ? 0 : -1;
}

int
keymgr_tls_warm_up(const char **err)
{
	EVP_PKEY	*gen[4];
	size_t		 i;
	int		 rv = 0;

	gen[0] = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	gen[1] = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	gen[2] = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	gen[3] = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
	for (i = 0; i < BW_ARRAY_LEN(gen); i++) {
		if (rv == 0 && (gen[i] == NULL ||
		    keymgr_tls_warm_key(gen[i], err) == -1)) {
			*err = "cannot sign with a fresh TLS key";
			rv = -1;
		}
		EVP_PKEY_free(gen[i]);
	}
	ERR_clear_error();
	return rv;
}
