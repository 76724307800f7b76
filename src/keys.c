/*
 * keys.c - token keys: loading, RFC 7638 thumbprints, key sets, --gen-key.
 *
 * Threat model.  Key files are trusted only once secret_open() has
 * accepted their owner and mode; their contents are still parsed strictly
 * (one PEM block of a known label, a named curve, a valid point).  The one
 * dangerous ambiguity is a public key taken as an HMAC secret: an attacker
 * who knows the public key could then mint HS256 tokens.  A file is an HMAC
 * secret only when it is not PEM, not DER, not an OpenSSH public key and
 * not a JWK, and the algorithm of every key follows from its kind alone.
 *
 * Memory: file contents, decoded DER and HMAC secrets are wiped before they
 * are freed; private keys live in EVP_PKEYs, which OpenSSL clears on free.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include "conf.h"
#include "json.h"
#include "keys.h"
#include "node.h"
#include "secret.h"
#include "util.h"

#define KEYS_EC_COORD	32
#define KEYS_ED_LEN	32

static uint64_t		 keys_set_next_id = 1;

const char *
keys_alg_name(enum keys_alg alg)
{
	switch (alg) {
	case KEYS_ALG_EDDSA:
		return "EdDSA";
	case KEYS_ALG_ES256:
		return "ES256";
	case KEYS_ALG_HS256:
		return "HS256";
	}
	return "?";
}

void
keys_key_free(struct keys_key *k)
{
	if (k == NULL)
		return;
	EVP_PKEY_free(k->pkey);
	if (k->secret != NULL) {
		bw_wipe(k->secret, k->secretlen);
		free(k->secret);
	}
	bw_wipe(k, sizeof(*k));
	free(k);
}

/*
 * kid = base64url(SHA-256(canonical JWK)); the canonical JWK of RFC 7638
 * 3.2: required members only, lexicographic order, no whitespace.
 */
static int
keys_thumbprint_json(struct keys_key *k, const char *json, size_t len)
{
	unsigned char	 md[SHA256_DIGEST_LENGTH];

	if (SHA256((const unsigned char *)json, len, md) == NULL)
		return -1;
	bw_b64url_encode(md, sizeof(md), k->kid);
	return 0;
}

static int
keys_thumbprint_ec(struct keys_key *k)
{
	BIGNUM		*bx = NULL, *by = NULL;
	unsigned char	 x[KEYS_EC_COORD], y[KEYS_EC_COORD];
	char		 ex[48], ey[48], json[160];
	int		 n, rc = -1;

	if (EVP_PKEY_get_bn_param(k->pkey, OSSL_PKEY_PARAM_EC_PUB_X,
	    &bx) != 1 ||
	    EVP_PKEY_get_bn_param(k->pkey, OSSL_PKEY_PARAM_EC_PUB_Y,
	    &by) != 1 ||
	    BN_bn2binpad(bx, x, sizeof(x)) != sizeof(x) ||
	    BN_bn2binpad(by, y, sizeof(y)) != sizeof(y))
		goto out;
	bw_b64url_encode(x, sizeof(x), ex);
	bw_b64url_encode(y, sizeof(y), ey);
	n = snprintf(json, sizeof(json),
	    "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}",
	    ex, ey);
	if (n > 0 && (size_t)n < sizeof(json))
		rc = keys_thumbprint_json(k, json, (size_t)n);
out:
	BN_free(bx);
	BN_free(by);
	return rc;
}

static int
keys_thumbprint_ed(struct keys_key *k)
{
	unsigned char	 x[KEYS_ED_LEN];
	size_t		 xlen = sizeof(x);
	char		 ex[48], json[96];
	int		 n;

	if (EVP_PKEY_get_raw_public_key(k->pkey, x, &xlen) != 1 ||
	    xlen != sizeof(x))
		return -1;
	bw_b64url_encode(x, sizeof(x), ex);
	n = snprintf(json, sizeof(json),
	    "{\"crv\":\"Ed25519\",\"kty\":\"OKP\",\"x\":\"%s\"}", ex);
	if (n <= 0 || (size_t)n >= sizeof(json))
		return -1;
	return keys_thumbprint_json(k, json, (size_t)n);
}

/* The canonical JWK holds the secret: both buffers are wiped. */
static int
keys_thumbprint_oct(struct keys_key *k)
{
	char	*enc, *json;
	size_t	 enclen, cap;
	int	 n, rc = -1;

	enclen = bw_b64url_encoded_len(k->secretlen) + 1;
	cap = enclen + 32;
	enc = bw_malloc(enclen);
	json = bw_malloc(cap);
	bw_b64url_encode(k->secret, k->secretlen, enc);
	n = snprintf(json, cap, "{\"k\":\"%s\",\"kty\":\"oct\"}", enc);
	if (n > 0 && (size_t)n < cap)
		rc = keys_thumbprint_json(k, json, (size_t)n);
	bw_wipe(enc, enclen);
	bw_wipe(json, cap);
	free(enc);
	free(json);
	return rc;
}

static int
keys_thumbprint(struct keys_key *k)
{
	switch (k->alg) {
	case KEYS_ALG_EDDSA:
		return keys_thumbprint_ed(k);
	case KEYS_ALG_ES256:
		return keys_thumbprint_ec(k);
	case KEYS_ALG_HS256:
		return keys_thumbprint_oct(k);
	}
	return -1;
}

static bool
keys_is_p256(EVP_PKEY *pkey)
{
	char	 name[64];
	size_t	 len;

	if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME,
	    name, sizeof(name), &len) != 1)
		return false;
	return strcmp(name, SN_X9_62_prime256v1) == 0;
}

static int
keys_check_pkey(EVP_PKEY *pkey, bool priv)
{
	EVP_PKEY_CTX	*ctx;
	int		 ok;

	if ((ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL)) == NULL)
		return -1;
	ok = priv ? EVP_PKEY_pairwise_check(ctx) : EVP_PKEY_public_check(ctx);
	EVP_PKEY_CTX_free(ctx);
	return ok == 1 ? 0 : -1;
}

/* Takes pkey (freed on error). */
static struct keys_key *
keys_from_pkey(EVP_PKEY *pkey, bool priv, const char **err)
{
	struct keys_key	*k;

	k = bw_calloc(1, sizeof(*k));
	k->pkey = pkey;
	k->can_sign = priv;
	switch (EVP_PKEY_get_base_id(pkey)) {
	case EVP_PKEY_ED25519:
		k->alg = KEYS_ALG_EDDSA;
		break;
	case EVP_PKEY_EC:
		if (!keys_is_p256(pkey)) {
			*err = "EC key on a curve other than P-256";
			goto fail;
		}
		if (keys_check_pkey(pkey, priv) == -1) {
			*err = "invalid P-256 key";
			goto fail;
		}
		k->alg = KEYS_ALG_ES256;
		break;
	default:
		*err = "unsupported key type (Ed25519 or P-256 only)";
		goto fail;
	}
	if (keys_thumbprint(k) == -1) {
		*err = "cannot compute the key thumbprint";
		goto fail;
	}
	ERR_clear_error();
	return k;
fail:
	ERR_clear_error();
	keys_key_free(k);
	return NULL;
}

static struct keys_key *
keys_from_secret(const unsigned char *buf, size_t len, const char **err)
{
	struct keys_key	*k;

	if (len < KEYS_HMAC_MIN) {
		*err = "HS256 key shorter than 32 bytes";
		return NULL;
	}
	if (len > KEYS_HMAC_MAX) {
		*err = "HS256 key longer than 1024 bytes";
		return NULL;
	}
	k = bw_calloc(1, sizeof(*k));
	k->alg = KEYS_ALG_HS256;
	k->can_sign = true;
	k->secret = bw_malloc(len);
	memcpy(k->secret, buf, len);
	k->secretlen = len;
	if (keys_thumbprint(k) == -1) {
		*err = "cannot compute the key thumbprint";
		keys_key_free(k);
		return NULL;
	}
	return k;
}

/* DER of a PEM block: PKCS#8 private key or SPKI public key. */
static struct keys_key *
keys_from_der(const char *label, const unsigned char *der, long len,
    const char **err)
{
	PKCS8_PRIV_KEY_INFO	*p8;
	EVP_PKEY		*pkey = NULL;
	const unsigned char	*p = der;
	bool			 priv;

	if (strcmp(label, PEM_STRING_PKCS8INF) == 0) {
		priv = true;
		p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, len);
		if (p8 != NULL && p == der + len)
			pkey = EVP_PKCS82PKEY(p8);
		PKCS8_PRIV_KEY_INFO_free(p8);
	} else if (strcmp(label, PEM_STRING_PUBLIC) == 0) {
		priv = false;
		pkey = d2i_PUBKEY(NULL, &p, len);
		if (pkey != NULL && p != der + len) {
			EVP_PKEY_free(pkey);
			pkey = NULL;
		}
	} else if (strcmp(label, PEM_STRING_PKCS8) == 0) {
		*err = "encrypted private keys are not supported";
		return NULL;
	} else {
		*err = "unsupported PEM block (want PRIVATE KEY or PUBLIC KEY)";
		return NULL;
	}
	if (pkey == NULL) {
		ERR_clear_error();
		*err = "malformed key in PEM block";
		return NULL;
	}
	return keys_from_pkey(pkey, priv, err);
}

/* Exactly one PEM block, base64 only (no legacy encryption headers). */
static struct keys_key *
keys_from_pem(const unsigned char *buf, size_t len, const char **err)
{
	struct keys_key	*k = NULL;
	BIO		*bio;
	char		*name = NULL, *hdr = NULL, *name2 = NULL, *hdr2 = NULL;
	unsigned char	*der = NULL, *der2 = NULL;
	long		 derlen = 0, derlen2 = 0;
	unsigned int	 fl = PEM_FLAG_SECURE | PEM_FLAG_ONLY_B64;

	if ((bio = BIO_new_mem_buf(buf, (int)len)) == NULL) {
		*err = "out of memory";
		return NULL;
	}
	if (PEM_read_bio_ex(bio, &name, &hdr, &der, &derlen, fl) != 1) {
		*err = "malformed PEM";
		goto out;
	}
	if (PEM_read_bio_ex(bio, &name2, &hdr2, &der2, &derlen2, fl) == 1) {
		*err = "more than one PEM block";
		goto out;
	}
	k = keys_from_der(name, der, derlen, err);
out:
	OPENSSL_secure_free(name);
	OPENSSL_secure_free(hdr);
	OPENSSL_secure_free(name2);
	OPENSSL_secure_free(hdr2);
	OPENSSL_secure_clear_free(der, (size_t)derlen);
	OPENSSL_secure_clear_free(der2, (size_t)derlen2);
	BIO_free(bio);
	ERR_clear_error();
	return k;
}

/*
 * True when bytes that are not PEM still look like a key someone might
 * publish: DER (SPKI or private key), an OpenSSH public key line or a JWK.
 * Such a file is refused as an HMAC secret.  Random bytes fail every test
 * (a full DER or JSON parse), so generated secrets are never refused.
 */
static bool
keys_looks_public(const unsigned char *buf, size_t len)
{
	const unsigned char	*p;
	EVP_PKEY		*pkey;
	struct json_error	 jerr;
	struct node		*doc;
	bool			 found;

	if (len >= 4 && (memcmp(buf, "ssh-", 4) == 0 ||
	    (len >= 11 && memcmp(buf, "ecdsa-sha2-", 11) == 0)))
		return true;
	p = buf;
	if ((pkey = d2i_PUBKEY(NULL, &p, (long)len)) == NULL) {
		p = buf;
		pkey = d2i_AutoPrivateKey(NULL, &p, (long)len);
	}
	ERR_clear_error();
	if (pkey != NULL) {
		EVP_PKEY_free(pkey);
		return true;
	}
	if ((doc = json_parse((const char *)buf, len, 4, &jerr)) == NULL)
		return false;
	found = node_get(doc, "kty") != NULL;
	node_free(doc);
	return found;
}

struct keys_key *
keys_key_parse(const unsigned char *buf, size_t len, const char **err)
{
	size_t	 i;

	if (len > KEYS_FILE_MAX) {
		*err = "key file larger than 16 KiB";
		return NULL;
	}
	if (memmem(buf, len, "-----BEGIN", 10) != NULL)
		return keys_from_pem(buf, len, err);
	if (keys_looks_public(buf, len)) {
		*err = "neither a PEM key nor an HS256 secret (DER, OpenSSH "
		    "or JWK key: use PKCS#8 or SPKI PEM)";
		return NULL;
	}
	for (i = 1; i < len && buf[i] == buf[0]; i++)
		;
	if (len > 0 && i == len) {
		*err = "HS256 key is one byte repeated";
		return NULL;
	}
	return keys_from_secret(buf, len, err);
}

int
keys_file_read(const struct conf *conf, const char *path, unsigned char **out,
    size_t *outlen, const char **err)
{
	unsigned char	*buf;
	size_t		 len = 0, cap = KEYS_FILE_MAX + 1;
	int		 fd, rv;

	*out = NULL;
	fd = secret_open(path, conf != NULL ? conf->server.user : NULL, err);
	if (fd == -1)
		return -1;
	buf = bw_malloc(cap);
	rv = secret_read(fd, buf, cap, &len, err);
	close(fd);
	if (rv == -1) {
		if (len == cap)
			*err = "key file larger than 16 KiB";
		bw_wipe(buf, cap);
		free(buf);
		return -1;
	}
	*out = buf;
	*outlen = len;
	return 0;
}

struct keys_key *
keys_key_load(const struct conf *conf, const char *path, const char **err)
{
	struct keys_key	*k;
	unsigned char	*buf;
	size_t		 len;

	if (keys_file_read(conf, path, &buf, &len, err) == -1)
		return NULL;
	k = keys_key_parse(buf, len, err);
	bw_wipe(buf, KEYS_FILE_MAX + 1);
	free(buf);
	return k;
}

int
keys_key_spki(const struct keys_key *k, unsigned char *out, size_t cap,
    size_t *len)
{
	unsigned char	*p = out;
	int		 n;

	if (k->pkey == NULL || (n = i2d_PUBKEY(k->pkey, NULL)) <= 0 ||
	    (size_t)n > cap || i2d_PUBKEY(k->pkey, &p) != n) {
		ERR_clear_error();
		return -1;
	}
	*len = (size_t)n;
	return 0;
}

struct keys_key *
keys_key_public(const unsigned char *der, size_t len, const char **err)
{
	if (len == 0 || len > KEYS_FILE_MAX) {
		*err = "malformed public key";
		return NULL;
	}
	return keys_from_der(PEM_STRING_PUBLIC, der, (long)len, err);
}

/* JWK import (test vectors). */

static const char *
keys_jwk_str(const struct node *jwk, const char *name)
{
	const struct node	*n = node_get(jwk, name);

	if (n == NULL || n->kind != NODE_SCALAR || n->style != NODE_STRING ||
	    strlen(n->text) != n->len)
		return NULL;
	return n->text;
}

static bool
keys_jwk_is(const struct node *jwk, const char *name, const char *want)
{
	const char	*s = keys_jwk_str(jwk, name);

	return s != NULL && strcmp(s, want) == 0;
}

/* A base64url member of exactly want bytes (0: any length up to cap). */
static int
keys_jwk_bytes(const struct node *jwk, const char *name, unsigned char *out,
    size_t cap, size_t want, size_t *len)
{
	const char	*s;

	if ((s = keys_jwk_str(jwk, name)) == NULL)
		return -1;
	if (bw_b64url_decode(s, strlen(s), out, cap, len) == -1)
		return -1;
	return want == 0 || *len == want ? 0 : -1;
}

static int
keys_jwk_usage(const struct node *jwk, const char *alg, const char **err)
{
	const struct node	*ops;
	size_t			 i;

	if (node_get(jwk, "use") != NULL && !keys_jwk_is(jwk, "use", "sig")) {
		*err = "JWK \"use\" is not \"sig\"";
		return -1;
	}
	if ((ops = node_get(jwk, "key_ops")) != NULL) {
		if (ops->kind != NODE_SEQ) {
			*err = "JWK \"key_ops\" is not an array";
			return -1;
		}
		for (i = 0; i < ops->n; i++)
			if (ops->vals[i]->kind == NODE_SCALAR &&
			    ops->vals[i]->style == NODE_STRING &&
			    strcmp(ops->vals[i]->text, "verify") == 0)
				break;
		if (i == ops->n) {
			*err = "JWK \"key_ops\" lacks \"verify\"";
			return -1;
		}
	}
	if (node_get(jwk, "alg") != NULL && !keys_jwk_is(jwk, "alg", alg)) {
		*err = "JWK \"alg\" does not match the key type";
		return -1;
	}
	return 0;
}

static struct keys_key *
keys_jwk_oct(const struct node *jwk, const char **err)
{
	struct keys_key	*k;
	unsigned char	 buf[KEYS_HMAC_MAX];
	size_t		 len;

	if (keys_jwk_bytes(jwk, "k", buf, sizeof(buf), 0, &len) == -1) {
		*err = "JWK \"k\" missing or malformed";
		return NULL;
	}
	k = keys_from_secret(buf, len, err);
	bw_wipe(buf, sizeof(buf));
	return k;
}

static struct keys_key *
keys_jwk_okp(const struct node *jwk, const char **err)
{
	EVP_PKEY	*pkey;
	unsigned char	 x[KEYS_ED_LEN], d[KEYS_ED_LEN], pub[KEYS_ED_LEN];
	size_t		 len, plen = sizeof(pub);
	bool		 priv;

	if (!keys_jwk_is(jwk, "crv", "Ed25519")) {
		*err = "JWK OKP curve is not Ed25519";
		return NULL;
	}
	if (keys_jwk_bytes(jwk, "x", x, sizeof(x), sizeof(x), &len) == -1) {
		*err = "JWK \"x\" missing or malformed";
		return NULL;
	}
	priv = node_get(jwk, "d") != NULL;
	if (priv) {
		if (keys_jwk_bytes(jwk, "d", d, sizeof(d), sizeof(d),
		    &len) == -1) {
			bw_wipe(d, sizeof(d));
			*err = "JWK \"d\" malformed";
			return NULL;
		}
		pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL,
		    d, sizeof(d));
		bw_wipe(d, sizeof(d));
	} else
		pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL,
		    x, sizeof(x));
	if (pkey == NULL) {
		ERR_clear_error();
		*err = "invalid Ed25519 key";
		return NULL;
	}
	if (EVP_PKEY_get_raw_public_key(pkey, pub, &plen) != 1 ||
	    plen != sizeof(pub) || memcmp(pub, x, sizeof(x)) != 0) {
		EVP_PKEY_free(pkey);
		*err = "JWK \"x\" is not the public key of \"d\"";
		return NULL;
	}
	return keys_from_pkey(pkey, priv, err);
}

static EVP_PKEY *
keys_ec_fromdata(const unsigned char *pub, size_t publen,
    const unsigned char *d)
{
	OSSL_PARAM_BLD	*bld;
	OSSL_PARAM	*params = NULL;
	EVP_PKEY_CTX	*ctx = NULL;
	EVP_PKEY	*pkey = NULL;
	BIGNUM		*bn = NULL;

	if ((bld = OSSL_PARAM_BLD_new()) == NULL)
		return NULL;
	if (OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
	    SN_X9_62_prime256v1, 0) != 1 ||
	    OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY,
	    pub, publen) != 1)
		goto out;
	if (d != NULL && ((bn = BN_secure_new()) == NULL ||
	    BN_bin2bn(d, KEYS_EC_COORD, bn) == NULL ||
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, bn) != 1))
		goto out;
	if ((params = OSSL_PARAM_BLD_to_param(bld)) == NULL ||
	    (ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(ctx) != 1)
		goto out;
	if (EVP_PKEY_fromdata(ctx, &pkey, d != NULL ? EVP_PKEY_KEYPAIR :
	    EVP_PKEY_PUBLIC_KEY, params) != 1)
		pkey = NULL;
out:
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_clear_free(bn);
	ERR_clear_error();
	return pkey;
}

static struct keys_key *
keys_jwk_ec(const struct node *jwk, const char **err)
{
	EVP_PKEY	*pkey;
	unsigned char	 pub[1 + 2 * KEYS_EC_COORD], d[KEYS_EC_COORD];
	size_t		 len;
	bool		 priv;

	if (!keys_jwk_is(jwk, "crv", "P-256")) {
		*err = "JWK EC curve is not P-256";
		return NULL;
	}
	pub[0] = 0x04;
	if (keys_jwk_bytes(jwk, "x", pub + 1, KEYS_EC_COORD, KEYS_EC_COORD,
	    &len) == -1 ||
	    keys_jwk_bytes(jwk, "y", pub + 1 + KEYS_EC_COORD, KEYS_EC_COORD,
	    KEYS_EC_COORD, &len) == -1) {
		*err = "JWK \"x\" or \"y\" missing or malformed";
		return NULL;
	}
	priv = node_get(jwk, "d") != NULL;
	if (priv && keys_jwk_bytes(jwk, "d", d, sizeof(d), sizeof(d),
	    &len) == -1) {
		bw_wipe(d, sizeof(d));
		*err = "JWK \"d\" malformed";
		return NULL;
	}
	pkey = keys_ec_fromdata(pub, sizeof(pub), priv ? d : NULL);
	bw_wipe(d, sizeof(d));
	if (pkey == NULL) {
		*err = "invalid P-256 key";
		return NULL;
	}
	return keys_from_pkey(pkey, priv, err);
}

struct keys_key *
keys_key_from_jwk(const char *buf, size_t len, const char **err)
{
	struct keys_key		*k = NULL;
	struct json_error	 jerr;
	struct node		*jwk;
	const char		*kty;

	if ((jwk = json_parse(buf, len, 2, &jerr)) == NULL) {
		*err = jerr.msg;
		return NULL;
	}
	if (jwk->kind != NODE_MAP || (kty = keys_jwk_str(jwk, "kty")) == NULL)
		*err = "JWK without \"kty\"";
	else if (strcmp(kty, "oct") == 0) {
		if (keys_jwk_usage(jwk, "HS256", err) == 0)
			k = keys_jwk_oct(jwk, err);
	} else if (strcmp(kty, "OKP") == 0) {
		if (keys_jwk_usage(jwk, "EdDSA", err) == 0)
			k = keys_jwk_okp(jwk, err);
	} else if (strcmp(kty, "EC") == 0) {
		if (keys_jwk_usage(jwk, "ES256", err) == 0)
			k = keys_jwk_ec(jwk, err);
	} else
		*err = "unsupported JWK key type";
	node_free(jwk);
	return k;
}

/* Key sets. */

struct keys_set *
keys_set_new(void)
{
	struct keys_set	*s;

	s = bw_calloc(1, sizeof(*s));
	s->id = __atomic_fetch_add(&keys_set_next_id, 1, __ATOMIC_RELAXED);
	return s;
}

int
keys_set_add(struct keys_set *s, struct keys_key *k, const char **err)
{
	if (s->nkeys == KEYS_SET_MAX) {
		*err = "too many keys";
		keys_key_free(k);
		return -1;
	}
	if (keys_set_find(s, k->kid, KEYS_KID_LEN) != NULL) {
		*err = "the same key is loaded twice";
		keys_key_free(k);
		return -1;
	}
	s->keys[s->nkeys++] = k;
	return 0;
}

const struct keys_key *
keys_set_signing(const struct keys_set *s)
{
	return s->nkeys > 0 ? s->keys[0] : NULL;
}

/* kids are public values: a plain comparison. */
const struct keys_key *
keys_set_find(const struct keys_set *s, const char *kid, size_t len)
{
	size_t	 i;

	if (len != KEYS_KID_LEN)
		return NULL;
	for (i = 0; i < s->nkeys; i++)
		if (memcmp(s->keys[i]->kid, kid, KEYS_KID_LEN) == 0)
			return s->keys[i];
	return NULL;
}

void
keys_set_free(struct keys_set *s)
{
	size_t	 i;

	if (s == NULL)
		return;
	for (i = 0; i < s->nkeys; i++)
		keys_key_free(s->keys[i]);
	free(s);
}

struct keys_set *
keys_set_load(const struct conf *conf, const char **err, const char **errpath)
{
	const struct conf_auth	*a = conf->auth;
	struct keys_set		*s;
	struct keys_key		*k;
	size_t			 i;

	*errpath = conf->file;
	if (a == NULL || a->signing_key_file == NULL) {
		*err = "auth.signing_key_file is not set";
		return NULL;
	}
	*errpath = a->signing_key_file;
	if ((k = keys_key_load(conf, a->signing_key_file, err)) == NULL)
		return NULL;
	if (!k->can_sign) {
		keys_key_free(k);
		*err = "the signing key is a public key";
		return NULL;
	}
	s = keys_set_new();
	(void)keys_set_add(s, k, err);
	for (i = 0; i < a->nverify_key_files; i++) {
		*errpath = a->verify_key_files[i];
		if ((k = keys_key_load(conf, *errpath, err)) == NULL ||
		    keys_set_add(s, k, err) == -1) {
			keys_set_free(s);
			return NULL;
		}
	}
	return s;
}

/* --gen-key */

enum keys_gen_kind {
	KEYS_GEN_ED25519,
	KEYS_GEN_ES256,
	KEYS_GEN_SECRET,
};

static int
keys_gen_kind(const char *kind, enum keys_gen_kind *out)
{
	if (strcmp(kind, "ed25519") == 0)
		*out = KEYS_GEN_ED25519;
	else if (strcmp(kind, "es256") == 0)
		*out = KEYS_GEN_ES256;
	else if (strcmp(kind, "hs256") == 0 || strcmp(kind, "audit") == 0 ||
	    strcmp(kind, "backup") == 0)
		*out = KEYS_GEN_SECRET;
	else
		return -1;
	return 0;
}

/*
 * The file contents, in a buffer the caller wipes: PKCS#8 PEM of a new
 * key pair, or random bytes.
 */
static unsigned char *
keys_gen_material(enum keys_gen_kind kind, size_t *len, const char **err)
{
	EVP_PKEY	*pkey;
	BIO		*bio;
	unsigned char	*buf;
	char		*pem;
	long		 n;

	buf = bw_malloc(KEYS_FILE_MAX);
	if (kind == KEYS_GEN_SECRET) {
		*len = KEYS_GEN_SECRET_LEN;
		if (bw_random(buf, *len) == 0)
			return buf;
		*err = "no random bytes";
		free(buf);
		return NULL;
	}
	pkey = kind == KEYS_GEN_ED25519 ?
	    EVP_PKEY_Q_keygen(NULL, NULL, "ED25519") :
	    EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	bio = BIO_new(BIO_s_secmem());
	*err = "key generation failed";
	if (pkey != NULL && bio != NULL &&
	    PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL,
	    NULL) == 1 && (n = BIO_get_mem_data(bio, &pem)) > 0 &&
	    n < KEYS_FILE_MAX) {
		memcpy(buf, pem, (size_t)n);
		*len = (size_t)n;
		*err = NULL;
	}
	BIO_free(bio);
	EVP_PKEY_free(pkey);
	ERR_clear_error();
	if (*err == NULL)
		return buf;
	free(buf);
	return NULL;
}

static int
keys_write_all(int fd, const unsigned char *buf, size_t len)
{
	ssize_t	 w;
	size_t	 off = 0;

	while (off < len) {
		w = write(fd, buf + off, len - off);
		if (w == -1 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		off += (size_t)w;
	}
	return 0;
}

static void
keys_sync_dir(const char *path)
{
	char	*copy, *dir;
	int	 fd;

	copy = bw_strdup(path);
	dir = dirname(copy);
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) != -1) {
		(void)fsync(fd);
		close(fd);
	}
	free(copy);
}

/* Mode and group of a new key file (SPEC 3). */
static int
keys_gen_perms(int fd, const char *group, const char **err)
{
	struct group	 grbuf, *gr = NULL;
	char		 buf[4096];
	mode_t		 mode = 0600;

	if (geteuid() == 0 && group != NULL &&
	    getgrnam_r(group, &grbuf, buf, sizeof(buf), &gr) == 0 &&
	    gr != NULL) {
		if (fchown(fd, (uid_t)-1, gr->gr_gid) == -1) {
			*err = strerror(errno);
			return -1;
		}
		mode = 0640;
	}
	if (fchmod(fd, mode) == -1) {
		*err = strerror(errno);
		return -1;
	}
	return 0;
}

unsigned char *
keys_gen_bytes(const char *kind, size_t *len, const char **err)
{
	enum keys_gen_kind	 gk;

	if (keys_gen_kind(kind, &gk) == -1) {
		*err = "unknown key kind (ed25519, es256, hs256, audit, "
		    "backup)";
		return NULL;
	}
	return keys_gen_material(gk, len, err);
}

int
keys_generate_group(const char *kind, const char *path, const char *group,
    const char **err)
{
	unsigned char		*buf;
	size_t			 len;
	int			 fd, rc = -1;

	if ((buf = keys_gen_bytes(kind, &len, err)) == NULL)
		return -1;
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC |
	    O_NOCTTY, 0600);
	if (fd == -1) {
		*err = errno == EEXIST ? "file exists (never overwritten)" :
		    strerror(errno);
		goto out;
	}
	if (keys_gen_perms(fd, group, err) == -1)
		goto fail;
	if (keys_write_all(fd, buf, len) == -1 || fsync(fd) == -1) {
		*err = strerror(errno);
		goto fail;
	}
	if (close(fd) == -1) {
		fd = -1;
		*err = strerror(errno);
		goto fail;
	}
	keys_sync_dir(path);
	rc = 0;
	goto out;
fail:
	if (fd != -1)
		close(fd);
	(void)unlink(path);
out:
	bw_wipe(buf, KEYS_FILE_MAX);
	free(buf);
	return rc;
}

int
keys_generate(const char *kind, const char *path, const char **err)
{
	return keys_generate_group(kind, path, CONF_SERVICE_USER, err);
}
