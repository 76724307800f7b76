/*
 * jwt.c - access tokens: JWS compact serialization, EdDSA/ES256/HS256,
 * RFC 9068 claims, and the per-worker cache of verified tokens.
 *
 * Threat model: a token is attacker-controlled bytes until its signature
 * has been verified with a key bulwark loaded itself.  Before that only
 * the header is read, with the strict JSON reader (duplicate names are an
 * error, so a second "alg" or "kid" cannot hide behind the first), and
 * nothing in it chooses how a key is used: kid selects one of the loaded
 * keys, and alg must name that key's algorithm or the token is refused.
 * The payload is decoded and parsed only after the signature verified.
 * Every length is bounded (the token by max_token_size, each claim by the
 * JWT_* limits), so a token costs at most one signature check and two
 * bounded parses.  An HMAC tag is compared in constant time; signatures of
 * public-key algorithms are checked by OpenSSL after our own range checks
 * (ES256: 0 < r, s < n; EdDSA: S < L), which keep malleable encodings out
 * whatever the OpenSSL version.
 *
 * The cache holds claims of tokens that passed every check, keyed by their
 * SHA-256; a hit repeats the checks that depend on time or on revocation
 * state, so it only ever saves the parsing and the signature.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "conf.h"
#include "json.h"
#include "jwt.h"
#include "keys.h"
#include "node.h"
#include "util.h"

#define JWT_SIG_B64_MAX		86	/* base64url of 64 bytes */
#define JWT_HS256_LEN		32
#define JWT_HEADER_DEPTH	2
#define JWT_PAYLOAD_DEPTH	4
#define JWT_LEEWAY_MAX		86400
#define JWT_TTL_MAX		(366LL * 86400)
#define JWT_CACHE_NIL		UINT32_MAX

_Static_assert(EVP_MAX_MD_SIZE >= JWT_SIG_MAX, "signature buffer");

struct jwt_parts {
	const char	*h64;
	const char	*p64;
	const char	*s64;
	size_t		 h64len;
	size_t		 p64len;
	size_t		 s64len;
	size_t		 signedlen;	/* h64 "." p64 */
};

/* P-256 group order n, big-endian. */
static const unsigned char jwt_p256_n[32] = {
	0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00,
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84,
	0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
};

/* Ed25519 group order L = 2^252 + 0x14def9dea2f79cd65812631a5cf5d3ed, LE. */
static const unsigned char jwt_ed25519_l[32] = {
	0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58,
	0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10,
};

static const struct {
	const char	*name;
	const char	*err;
} jwt_forbidden[] = {
	{ "jku", "header member \"jku\" is refused" },
	{ "jwk", "header member \"jwk\" is refused" },
	{ "x5u", "header member \"x5u\" is refused" },
	{ "x5c", "header member \"x5c\" is refused" },
	{ "crit", "header member \"crit\" is refused" },
};

/* Splitting and decoding. */

static int
jwt_split(const char *t, size_t len, struct jwt_parts *p, const char **err)
{
	const char	*d1, *d2, *end = t + len;

	if (len == 0) {
		*err = "empty token";
		return -1;
	}
	if ((d1 = memchr(t, '.', len)) == NULL ||
	    (d2 = memchr(d1 + 1, '.', (size_t)(end - d1 - 1))) == NULL ||
	    memchr(d2 + 1, '.', (size_t)(end - d2 - 1)) != NULL) {
		*err = "not three dot-separated segments";
		return -1;
	}
	p->h64 = t;
	p->h64len = (size_t)(d1 - t);
	p->p64 = d1 + 1;
	p->p64len = (size_t)(d2 - d1 - 1);
	p->s64 = d2 + 1;
	p->s64len = (size_t)(end - d2 - 1);
	p->signedlen = (size_t)(d2 - t);
	return 0;
}

/* Decodes into a malloc'd buffer with a NUL after *outlen bytes. */
static char *
jwt_b64_dup(const char *in, size_t n, size_t *outlen)
{
	char	*buf;
	size_t	 cap = n / 4 * 3 + 3;

	buf = bw_malloc(cap + 1);
	if (bw_b64url_decode(in, n, (unsigned char *)buf, cap, outlen) == -1) {
		free(buf);
		return NULL;
	}
	buf[*outlen] = '\0';
	return buf;
}

static bool
jwt_key_is(const struct node *key, const char *name)
{
	size_t	 n = strlen(name);

	return key->len == n && memcmp(key->text, name, n) == 0;
}

/* A string member without NUL bytes; NULL when absent or another type. */
static const struct node *
jwt_str(const struct node *map, const char *name)
{
	const struct node	*n = node_get(map, name);

	if (n == NULL || n->kind != NODE_SCALAR || n->style != NODE_STRING ||
	    memchr(n->text, '\0', n->len) != NULL)
		return NULL;
	return n;
}

static struct node *
jwt_header_parse(const struct jwt_parts *p, const char **err)
{
	struct json_error	 jerr;
	struct node		*h;
	char			*buf;
	size_t			 n;

	if ((buf = jwt_b64_dup(p->h64, p->h64len, &n)) == NULL) {
		*err = "header is not canonical base64url";
		return NULL;
	}
	h = json_parse(buf, n, JWT_HEADER_DEPTH, &jerr);
	free(buf);
	if (h == NULL) {
		*err = jerr.code == JSON_EDUP ? "duplicate member in header" :
		    "header is not valid JSON";
		return NULL;
	}
	if (h->kind != NODE_MAP) {
		node_free(h);
		*err = "header is not a JSON object";
		return NULL;
	}
	return h;
}

/* Checks that need no key: refused members, alg present and not none. */
static int
jwt_header_common(const struct node *h, const char **err)
{
	const struct node	*alg;
	size_t			 i, j;

	for (i = 0; i < h->n; i++)
		for (j = 0; j < BW_ARRAY_LEN(jwt_forbidden); j++)
			if (jwt_key_is(h->keys[i], jwt_forbidden[j].name)) {
				*err = jwt_forbidden[j].err;
				return -1;
			}
	if ((alg = jwt_str(h, "alg")) == NULL) {
		*err = "header without a string \"alg\"";
		return -1;
	}
	if (strcasecmp(alg->text, "none") == 0) {
		*err = "alg \"none\" is refused";
		return -1;
	}
	return 0;
}

/* The pin: the token's alg must be the algorithm of the key. */
static int
jwt_header_alg(const struct node *h, const struct keys_key *k,
    const char **err)
{
	const struct node	*alg = jwt_str(h, "alg");

	if (alg == NULL || strcmp(alg->text, keys_alg_name(k->alg)) != 0) {
		*err = "alg is not the algorithm of the key";
		return -1;
	}
	return 0;
}

/* Signatures. */

static bool
jwt_evp_verify(EVP_PKEY *pkey, const EVP_MD *md, const unsigned char *sig,
    size_t siglen, const char *tbs, size_t tbslen)
{
	EVP_MD_CTX	*ctx;
	bool		 ok;

	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return false;
	ok = EVP_DigestVerifyInit(ctx, NULL, md, NULL, pkey) == 1 &&
	    EVP_DigestVerify(ctx, sig, siglen, (const unsigned char *)tbs,
	    tbslen) == 1;
	EVP_MD_CTX_free(ctx);
	ERR_clear_error();
	return ok;
}

static bool
jwt_ed25519_s_ok(const unsigned char *s)
{
	int	 i;

	for (i = 31; i >= 0; i--) {
		if (s[i] < jwt_ed25519_l[i])
			return true;
		if (s[i] > jwt_ed25519_l[i])
			return false;
	}
	return false;
}

/* 0 < v < n for a 32-byte big-endian scalar. */
static bool
jwt_p256_scalar_ok(const unsigned char *v)
{
	size_t	 i;

	for (i = 0; i < 32 && v[i] == 0; i++)
		;
	return i < 32 && memcmp(v, jwt_p256_n, 32) < 0;
}

/* DER INTEGER of a non-zero 32-byte unsigned big-endian value. */
static size_t
jwt_der_int(const unsigned char *v, unsigned char *out)
{
	size_t	 i = 0, n, o = 0;

	while (i < 31 && v[i] == 0)
		i++;
	n = 32 - i;
	out[o++] = 0x02;
	out[o++] = (unsigned char)(n + ((v[i] & 0x80) ? 1 : 0));
	if (v[i] & 0x80)
		out[o++] = 0x00;
	memcpy(out + o, v + i, n);
	return o + n;
}

static bool
jwt_es256_verify(EVP_PKEY *pkey, const unsigned char *sig, const char *tbs,
    size_t tbslen)
{
	unsigned char	 der[2 + 2 * 35];
	size_t		 n = 2;

	n += jwt_der_int(sig, der + n);
	n += jwt_der_int(sig + 32, der + n);
	der[0] = 0x30;
	der[1] = (unsigned char)(n - 2);
	return jwt_evp_verify(pkey, EVP_sha256(), der, n, tbs, tbslen);
}

static bool
jwt_hs256_verify(const struct keys_key *k, const unsigned char *sig,
    const char *tbs, size_t tbslen)
{
	unsigned char	 md[EVP_MAX_MD_SIZE];
	unsigned int	 mdlen = 0;
	bool		 ok;

	if (HMAC(EVP_sha256(), k->secret, (int)k->secretlen,
	    (const unsigned char *)tbs, tbslen, md, &mdlen) == NULL ||
	    mdlen != JWT_HS256_LEN) {
		ERR_clear_error();
		return false;
	}
	ok = bw_ct_equal(md, sig, JWT_HS256_LEN);
	bw_wipe(md, sizeof(md));
	return ok;
}

static int
jwt_sig_verify(const struct keys_key *k, const struct jwt_parts *p,
    const char **err)
{
	unsigned char	 sig[JWT_SIG_MAX];
	size_t		 siglen;
	bool		 ok = false;

	if (p->s64len > JWT_SIG_B64_MAX) {
		*err = "signature too long";
		return -1;
	}
	if (bw_b64url_decode(p->s64, p->s64len, sig, sizeof(sig),
	    &siglen) == -1) {
		*err = "signature is not canonical base64url";
		return -1;
	}
	if (siglen != (k->alg == KEYS_ALG_HS256 ? JWT_HS256_LEN : 64)) {
		*err = "signature has the wrong length for the algorithm";
		return -1;
	}
	switch (k->alg) {
	case KEYS_ALG_HS256:
		ok = jwt_hs256_verify(k, sig, p->h64, p->signedlen);
		break;
	case KEYS_ALG_EDDSA:
		if (!jwt_ed25519_s_ok(sig + 32)) {
			*err = "EdDSA signature with S >= L";
			return -1;
		}
		ok = jwt_evp_verify(k->pkey, NULL, sig, siglen, p->h64,
		    p->signedlen);
		break;
	case KEYS_ALG_ES256:
		if (!jwt_p256_scalar_ok(sig) || !jwt_p256_scalar_ok(sig + 32)) {
			*err = "ES256 signature with r or s out of range";
			return -1;
		}
		ok = jwt_es256_verify(k->pkey, sig, p->h64, p->signedlen);
		break;
	}
	if (!ok) {
		*err = "bad signature";
		return -1;
	}
	return 0;
}

/* The JWS layer. */

static int
jwt_jws(const char *t, size_t len, const struct keys_key *k,
    struct jwt_parts *p, const char **err)
{
	struct node	*h;
	int		 rc = -1;

	if (len > JWT_TOKEN_CEILING) {
		*err = "token too large";
		return -1;
	}
	if (jwt_split(t, len, p, err) == -1 ||
	    (h = jwt_header_parse(p, err)) == NULL)
		return -1;
	if (jwt_header_common(h, err) == 0 && jwt_header_alg(h, k, err) == 0)
		rc = jwt_sig_verify(k, p, err);
	node_free(h);
	return rc;
}

int
jwt_jws_verify(const char *t, size_t len, const struct keys_key *k,
    const char **err)
{
	char	*payload;
	size_t	 plen;

	if (jwt_jws_payload(t, len, k, &payload, &plen, err) == -1)
		return -1;
	free(payload);
	return 0;
}

int
jwt_jws_payload(const char *t, size_t len, const struct keys_key *k,
    char **payload, size_t *plen, const char **err)
{
	struct jwt_parts	 p;

	*payload = NULL;
	if (jwt_jws(t, len, k, &p, err) == -1)
		return -1;
	if ((*payload = jwt_b64_dup(p.p64, p.p64len, plen)) == NULL) {
		*err = "payload is not canonical base64url";
		return -1;
	}
	return 0;
}

/* Claims. */

static int
jwt_numeric_date(const struct node *n, int64_t *out)
{
	int64_t	 v = 0;
	size_t	 i;

	if (n->kind != NODE_SCALAR || n->style != NODE_NUMBER ||
	    n->len == 0 || n->len > 12)
		return -1;
	for (i = 0; i < n->len; i++) {
		if (n->text[i] < '0' || n->text[i] > '9')
			return -1;
		v = v * 10 + (n->text[i] - '0');
	}
	if (v > JWT_TIME_MAX)
		return -1;
	*out = v;
	return 0;
}

static bool
jwt_is_string(const struct node *n)
{
	return n->kind == NODE_SCALAR && n->style == NODE_STRING;
}

/* sub, sid, jti: 1..JWT_ID_MAX printable ASCII bytes. */
static bool
jwt_id_ok(const struct node *n)
{
	size_t	 i;

	if (!jwt_is_string(n) || n->len == 0 || n->len > JWT_ID_MAX)
		return false;
	for (i = 0; i < n->len; i++)
		if (n->text[i] < 0x21 || n->text[i] > 0x7e)
			return false;
	return true;
}

static bool
jwt_role_ok(const struct node *n)
{
	size_t	 i;

	if (!jwt_is_string(n) || n->len == 0 || n->len > JWT_ROLE_MAX ||
	    n->text[0] < 'a' || n->text[0] > 'z')
		return false;
	for (i = 1; i < n->len; i++) {
		char	 c = n->text[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '_'))
			return false;
	}
	return true;
}

static bool
jwt_str_eq(const struct node *n, const char *want)
{
	return jwt_is_string(n) && n->len == strlen(want) &&
	    memcmp(n->text, want, n->len) == 0;
}

static bool
jwt_aud_ok(const struct node *n, const char *audience)
{
	size_t	 i;
	bool	 found = false;

	if (jwt_is_string(n))
		return jwt_str_eq(n, audience);
	if (n->kind != NODE_SEQ || n->n == 0 || n->n > JWT_AUD_MAX)
		return false;
	for (i = 0; i < n->n; i++) {
		if (!jwt_is_string(n->vals[i]))
			return false;
		if (jwt_str_eq(n->vals[i], audience))
			found = true;
	}
	return found;
}

/* The claims members bulwark reads, found in one pass. */
struct jwt_found {
	const struct node	*iss;
	const struct node	*aud;
	const struct node	*exp;
	const struct node	*nbf;
	const struct node	*iat;
	const struct node	*sub;
	const struct node	*name;
	const struct node	*sid;
	const struct node	*jti;
	const struct node	*roles;
};

static void
jwt_find(const struct node *doc, struct jwt_found *f)
{
	static const struct {
		const char	*name;
		size_t		 off;
	} members[] = {
		{ "iss", offsetof(struct jwt_found, iss) },
		{ "aud", offsetof(struct jwt_found, aud) },
		{ "exp", offsetof(struct jwt_found, exp) },
		{ "nbf", offsetof(struct jwt_found, nbf) },
		{ "iat", offsetof(struct jwt_found, iat) },
		{ "sub", offsetof(struct jwt_found, sub) },
		{ "name", offsetof(struct jwt_found, name) },
		{ "sid", offsetof(struct jwt_found, sid) },
		{ "jti", offsetof(struct jwt_found, jti) },
		{ "roles", offsetof(struct jwt_found, roles) },
	};
	size_t	 i, j;

	memset(f, 0, sizeof(*f));
	for (i = 0; i < doc->n; i++)
		for (j = 0; j < BW_ARRAY_LEN(members); j++)
			if (jwt_key_is(doc->keys[i], members[j].name)) {
				*(const struct node **)((char *)f +
				    members[j].off) = doc->vals[i];
				break;
			}
}

static int
jwt_check_registered(const struct jwt_found *f, const struct jwt_verifier *v,
    struct jwt_claims *c, const char **err)
{
	if (f->iss == NULL || !jwt_str_eq(f->iss, v->issuer)) {
		*err = f->iss == NULL ? "no iss" : "wrong iss";
		return -1;
	}
	if (f->aud == NULL || !jwt_aud_ok(f->aud, v->audience)) {
		*err = f->aud == NULL ? "no aud" : "wrong aud";
		return -1;
	}
	if (f->exp == NULL || jwt_numeric_date(f->exp, &c->exp) == -1) {
		*err = "missing or invalid exp";
		return -1;
	}
	if (f->nbf == NULL || jwt_numeric_date(f->nbf, &c->nbf) == -1) {
		*err = "missing or invalid nbf";
		return -1;
	}
	if (f->iat == NULL || jwt_numeric_date(f->iat, &c->iat) == -1) {
		*err = "missing or invalid iat";
		return -1;
	}
	return 0;
}

static int
jwt_check_private(const struct jwt_found *f, const char **err)
{
	size_t	 i;

	if (f->sub == NULL || !jwt_id_ok(f->sub)) {
		*err = "missing or invalid sub";
		return -1;
	}
	if (f->sid == NULL || !jwt_id_ok(f->sid)) {
		*err = "missing or invalid sid";
		return -1;
	}
	if (f->jti == NULL || !jwt_id_ok(f->jti)) {
		*err = "missing or invalid jti";
		return -1;
	}
	if (f->name == NULL || !jwt_is_string(f->name) || f->name->len == 0 ||
	    f->name->len > JWT_NAME_MAX ||
	    memchr(f->name->text, '\0', f->name->len) != NULL) {
		*err = "missing or invalid name";
		return -1;
	}
	if (f->roles == NULL || f->roles->kind != NODE_SEQ ||
	    f->roles->n > JWT_ROLES_MAX) {
		*err = "missing or invalid roles";
		return -1;
	}
	for (i = 0; i < f->roles->n; i++)
		if (!jwt_role_ok(f->roles->vals[i])) {
			*err = "invalid role name in roles";
			return -1;
		}
	return 0;
}

static const char *
jwt_pack_str(char **p, const struct node *n)
{
	char	*s = *p;

	memcpy(s, n->text, n->len);
	s[n->len] = '\0';
	*p += n->len + 1;
	return s;
}

/* All strings and the roles array in one allocation (roles first). */
static void
jwt_pack(const struct jwt_found *f, struct jwt_claims *c)
{
	const struct node	*r = f->roles;
	size_t			 i, len;
	char			*p;

	len = r->n * sizeof(char *) + f->sub->len + f->name->len +
	    f->sid->len + f->jti->len + 4;
	for (i = 0; i < r->n; i++)
		len += r->vals[i]->len + 1;
	c->mem = bw_malloc(len);
	c->memlen = len;
	c->roles = (const char **)(void *)c->mem;
	c->nroles = r->n;
	p = c->mem + r->n * sizeof(char *);
	c->sub = jwt_pack_str(&p, f->sub);
	c->name = jwt_pack_str(&p, f->name);
	c->sid = jwt_pack_str(&p, f->sid);
	c->jti = jwt_pack_str(&p, f->jti);
	for (i = 0; i < r->n; i++)
		c->roles[i] = jwt_pack_str(&p, r->vals[i]);
}

static int
jwt_claims_parse(const struct jwt_parts *p, const struct jwt_verifier *v,
    struct jwt_claims *c, const char **err)
{
	struct json_error	 jerr;
	struct jwt_found	 f;
	struct node		*doc;
	char			*buf;
	size_t			 n;
	int			 rc = -1;

	if ((buf = jwt_b64_dup(p->p64, p->p64len, &n)) == NULL) {
		*err = "payload is not canonical base64url";
		return -1;
	}
	doc = json_parse(buf, n, JWT_PAYLOAD_DEPTH, &jerr);
	free(buf);
	if (doc == NULL) {
		*err = jerr.code == JSON_EDUP ? "duplicate member in claims" :
		    "claims are not valid JSON";
		return -1;
	}
	if (doc->kind != NODE_MAP)
		*err = "claims are not a JSON object";
	else {
		jwt_find(doc, &f);
		if (jwt_check_registered(&f, v, c, err) == 0 &&
		    jwt_check_private(&f, err) == 0) {
			jwt_pack(&f, c);
			rc = 0;
		}
	}
	node_free(doc);
	return rc;
}

static int64_t
jwt_clamp(int64_t v, int64_t max)
{
	return v < 0 ? 0 : v > max ? max : v;
}

/* The checks that depend on now or on revocation state (cache hits too). */
static int
jwt_claims_accept(const struct jwt_verifier *v, const struct jwt_claims *c,
    int64_t now, const char **err)
{
	int64_t	 lw = jwt_clamp(v->leeway, JWT_LEEWAY_MAX);
	int64_t	 ttl = jwt_clamp(v->access_ttl, JWT_TTL_MAX);

	if (now < 0 || now > JWT_TIME_MAX) {
		*err = "clock out of range";
		return -1;
	}
	if (now >= c->exp + lw) {
		*err = "token expired";
		return -1;
	}
	if (c->nbf > now + lw) {
		*err = "token not yet valid (nbf)";
		return -1;
	}
	if (c->iat > now + lw) {
		*err = "iat in the future";
		return -1;
	}
	if (c->exp - c->iat > ttl + lw) {
		*err = "exp - iat longer than access_ttl";
		return -1;
	}
	if (v->is_denied != NULL && v->is_denied(v->arg, c->jti)) {
		*err = "jti is deny-listed";
		return -1;
	}
	if (v->valid_after != NULL &&
	    c->iat < v->valid_after(v->arg, c->sub, c->sid)) {
		*err = "issued before the user's tokens_valid_after";
		return -1;
	}
	return 0;
}

void
jwt_claims_free(struct jwt_claims *c)
{
	if (c == NULL)
		return;
	free(c->mem);
	memset(c, 0, sizeof(*c));
}

static const char *
jwt_rebase(const struct jwt_claims *src, const char *mem, const char *p)
{
	return mem + (p - src->mem);
}

static void
jwt_claims_copy(struct jwt_claims *dst, const struct jwt_claims *src)
{
	size_t	 i;

	*dst = *src;
	dst->mem = bw_malloc(src->memlen);
	memcpy(dst->mem, src->mem, src->memlen);
	dst->sub = jwt_rebase(src, dst->mem, src->sub);
	dst->name = jwt_rebase(src, dst->mem, src->name);
	dst->sid = jwt_rebase(src, dst->mem, src->sid);
	dst->jti = jwt_rebase(src, dst->mem, src->jti);
	dst->roles = (const char **)(void *)dst->mem;
	for (i = 0; i < src->nroles; i++)
		dst->roles[i] = jwt_rebase(src, dst->mem, src->roles[i]);
}

/* The cache. */

struct jwt_cache_entry {
	unsigned char		 hash[SHA256_DIGEST_LENGTH];
	struct jwt_claims	 claims;
	uint32_t		 next;		/* bucket chain */
	bool			 used;
	bool			 ref;		/* clock bit */
};

struct jwt_cache {
	struct jwt_cache_entry	*v;
	uint32_t		*bucket;
	uint32_t		*freelist;
	size_t			 cap;
	size_t			 nbucket;	/* power of two */
	size_t			 nfree;
	size_t			 hand;
	uint64_t		 keys_id;
	struct jwt_cache_stats	 st;
};

static void
jwt_cache_reset(struct jwt_cache *c)
{
	size_t	 i;

	for (i = 0; i < c->cap; i++) {
		if (c->v[i].used)
			jwt_claims_free(&c->v[i].claims);
		c->v[i].used = false;
		c->v[i].ref = false;
		c->freelist[i] = (uint32_t)(c->cap - 1 - i);
	}
	for (i = 0; i < c->nbucket; i++)
		c->bucket[i] = JWT_CACHE_NIL;
	c->nfree = c->cap;
	c->hand = 0;
	c->st.entries = 0;
}

struct jwt_cache *
jwt_cache_new(size_t cap)
{
	struct jwt_cache	*c;

	if (cap == 0 || cap > JWT_CACHE_MAX)
		return NULL;
	c = bw_calloc(1, sizeof(*c));
	c->cap = cap;
	for (c->nbucket = 1; c->nbucket < cap; c->nbucket <<= 1)
		;
	c->v = bw_calloc(cap, sizeof(*c->v));
	c->bucket = bw_calloc(c->nbucket, sizeof(*c->bucket));
	c->freelist = bw_calloc(cap, sizeof(*c->freelist));
	c->st.capacity = cap;
	jwt_cache_reset(c);
	return c;
}

void
jwt_cache_flush(struct jwt_cache *c)
{
	if (c == NULL)
		return;
	jwt_cache_reset(c);
	c->st.flushes++;
}

void
jwt_cache_stats(const struct jwt_cache *c, struct jwt_cache_stats *st)
{
	*st = c->st;
}

void
jwt_cache_free(struct jwt_cache *c)
{
	if (c == NULL)
		return;
	jwt_cache_reset(c);
	free(c->v);
	free(c->bucket);
	free(c->freelist);
	free(c);
}

static size_t
jwt_cache_slot(const struct jwt_cache *c, const unsigned char *hash)
{
	uint64_t	 h;

	memcpy(&h, hash, sizeof(h));
	return (size_t)(h & (c->nbucket - 1));
}

static struct jwt_cache_entry *
jwt_cache_lookup(struct jwt_cache *c, const unsigned char *hash)
{
	uint32_t	 i;

	for (i = c->bucket[jwt_cache_slot(c, hash)]; i != JWT_CACHE_NIL;
	    i = c->v[i].next)
		if (memcmp(c->v[i].hash, hash, sizeof(c->v[i].hash)) == 0)
			return &c->v[i];
	return NULL;
}

static void
jwt_cache_remove(struct jwt_cache *c, uint32_t idx)
{
	struct jwt_cache_entry	*e = &c->v[idx];
	uint32_t		*pp;

	for (pp = &c->bucket[jwt_cache_slot(c, e->hash)]; *pp != idx;
	    pp = &c->v[*pp].next)
		;
	*pp = e->next;
	jwt_claims_free(&e->claims);
	e->used = false;
	e->ref = false;
	c->freelist[c->nfree++] = idx;
	c->st.entries--;
}

/* Clock: the first entry not referenced since the hand last passed it. */
static void
jwt_cache_evict(struct jwt_cache *c)
{
	for (;;) {
		struct jwt_cache_entry	*e = &c->v[c->hand];
		uint32_t		 idx = (uint32_t)c->hand;

		c->hand = (c->hand + 1) % c->cap;
		if (e->ref) {
			e->ref = false;
			continue;
		}
		jwt_cache_remove(c, idx);
		c->st.evictions++;
		return;
	}
}

static void
jwt_cache_insert(struct jwt_cache *c, const unsigned char *hash,
    const struct jwt_claims *claims)
{
	struct jwt_cache_entry	*e;
	uint32_t		 idx;
	size_t			 b;

	if (jwt_cache_lookup(c, hash) != NULL)
		return;
	if (c->nfree == 0)
		jwt_cache_evict(c);
	idx = c->freelist[--c->nfree];
	e = &c->v[idx];
	memcpy(e->hash, hash, sizeof(e->hash));
	jwt_claims_copy(&e->claims, claims);
	e->used = true;
	e->ref = false;
	b = jwt_cache_slot(c, hash);
	e->next = c->bucket[b];
	c->bucket[b] = idx;
	c->st.entries++;
	c->st.inserts++;
}

/* Returns 1 on a hit (out filled or *err set in *rc), 0 on a miss. */
static int
jwt_cache_hit(const struct jwt_verifier *v, const unsigned char *hash,
    int64_t now, struct jwt_claims *out, int *rc, const char **err)
{
	struct jwt_cache	*c = v->cache;
	struct jwt_cache_entry	*e;

	if (c->keys_id != v->keys->id) {
		if (c->keys_id != 0)
			jwt_cache_flush(c);
		c->keys_id = v->keys->id;
	}
	if ((e = jwt_cache_lookup(c, hash)) == NULL) {
		c->st.misses++;
		return 0;
	}
	c->st.hits++;
	e->ref = true;
	if ((*rc = jwt_claims_accept(v, &e->claims, now, err)) == 0)
		jwt_claims_copy(out, &e->claims);
	else if (now >= e->claims.exp + jwt_clamp(v->leeway, JWT_LEEWAY_MAX))
		jwt_cache_remove(c, (uint32_t)(e - c->v));
	return 1;
}

/* Access tokens. */

static const struct keys_key *
jwt_header_access(const struct node *h, const struct jwt_verifier *v,
    const char **err)
{
	const struct node	*typ, *kid;
	const struct keys_key	*k;

	if (jwt_header_common(h, err) == -1)
		return NULL;
	if ((typ = jwt_str(h, "typ")) == NULL ||
	    (strcmp(typ->text, "at+jwt") != 0 &&
	    strcmp(typ->text, "application/at+jwt") != 0)) {
		*err = "typ is not at+jwt";
		return NULL;
	}
	if ((kid = jwt_str(h, "kid")) == NULL) {
		*err = "header without a string \"kid\"";
		return NULL;
	}
	if (kid->len > JWT_KID_MAX) {
		*err = "kid too long";
		return NULL;
	}
	if ((k = keys_set_find(v->keys, kid->text, kid->len)) == NULL) {
		*err = "unknown kid";
		return NULL;
	}
	if (jwt_header_alg(h, k, err) == -1)
		return NULL;
	return k;
}

static int
jwt_verify_full(const struct jwt_verifier *v, const char *t, size_t len,
    struct jwt_claims *out, const char **err)
{
	struct jwt_parts	 p;
	const struct keys_key	*k;
	struct node		*h;

	if (jwt_split(t, len, &p, err) == -1 ||
	    (h = jwt_header_parse(&p, err)) == NULL)
		return -1;
	k = jwt_header_access(h, v, err);
	node_free(h);
	if (k == NULL || jwt_sig_verify(k, &p, err) == -1)
		return -1;
	return jwt_claims_parse(&p, v, out, err);
}

int
jwt_verify_access(const struct jwt_verifier *v, const char *t, size_t len,
    int64_t now, struct jwt_claims *out, const char **err)
{
	unsigned char	 hash[SHA256_DIGEST_LENGTH];
	int		 rc;

	memset(out, 0, sizeof(*out));
	if (len == 0) {
		*err = "empty token";
		return -1;
	}
	if (len > v->max_token_size || len > JWT_TOKEN_CEILING) {
		*err = "token larger than max_token_size";
		return -1;
	}
	if (v->cache != NULL) {
		SHA256((const unsigned char *)t, len, hash);
		if (jwt_cache_hit(v, hash, now, out, &rc, err))
			return rc;
	}
	if (jwt_verify_full(v, t, len, out, err) == -1)
		return -1;
	if (jwt_claims_accept(v, out, now, err) == -1) {
		jwt_claims_free(out);
		return -1;
	}
	if (v->cache != NULL)
		jwt_cache_insert(v->cache, hash, out);
	return 0;
}

void
jwt_verifier_init(struct jwt_verifier *v, const struct conf_auth *a,
    const struct keys_set *keys, struct jwt_cache *cache)
{
	memset(v, 0, sizeof(*v));
	v->keys = keys;
	v->issuer = a->issuer;
	v->audience = a->audience;
	v->leeway = a->leeway_ms / 1000;
	v->access_ttl = a->access_ttl_ms / 1000;
	v->max_token_size = (size_t)a->max_token_size;
	v->cache = cache;
}

/* Signing. */

static int
jwt_sign_evp(const struct keys_key *k, const char *tbs, size_t tbslen,
    unsigned char *der, size_t *derlen)
{
	EVP_MD_CTX	*ctx;
	int		 ok;

	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return -1;
	ok = EVP_DigestSignInit(ctx, NULL, k->alg == KEYS_ALG_ES256 ?
	    EVP_sha256() : NULL, NULL, k->pkey) == 1 &&
	    EVP_DigestSign(ctx, der, derlen, (const unsigned char *)tbs,
	    tbslen) == 1;
	EVP_MD_CTX_free(ctx);
	ERR_clear_error();
	return ok ? 0 : -1;
}

/* ES256: DER from OpenSSL to the raw r||s of RFC 7518 3.4. */
static int
jwt_es256_raw(const unsigned char *der, size_t derlen, unsigned char *sig)
{
	const unsigned char	*p = der;
	const BIGNUM		*r, *s;
	ECDSA_SIG		*es;
	int			 rc = -1;

	if ((es = d2i_ECDSA_SIG(NULL, &p, (long)derlen)) == NULL)
		return -1;
	ECDSA_SIG_get0(es, &r, &s);
	if (BN_bn2binpad(r, sig, 32) == 32 &&
	    BN_bn2binpad(s, sig + 32, 32) == 32)
		rc = 0;
	ECDSA_SIG_free(es);
	return rc;
}

int
jwt_sign_bytes(const struct keys_key *k, const char *tbs, size_t tbslen,
    unsigned char *sig, size_t *siglen)
{
	unsigned char	 der[80];
	size_t		 derlen = sizeof(der);
	unsigned int	 mdlen = 0;

	if (!k->can_sign)
		return -1;
	switch (k->alg) {
	case KEYS_ALG_HS256:
		if (HMAC(EVP_sha256(), k->secret, (int)k->secretlen,
		    (const unsigned char *)tbs, tbslen, sig, &mdlen) == NULL)
			return -1;
		*siglen = mdlen;
		return 0;
	case KEYS_ALG_EDDSA:
		*siglen = JWT_SIG_MAX;
		return jwt_sign_evp(k, tbs, tbslen, sig, siglen);
	case KEYS_ALG_ES256:
		if (jwt_sign_evp(k, tbs, tbslen, der, &derlen) == -1)
			return -1;
		*siglen = 64;
		return jwt_es256_raw(der, derlen, sig);
	}
	return -1;
}

int
jwt_sign_begin(int alg, const char *kid, const json_t *claims, char **out,
    size_t *outlen, const char **err)
{
	char		 hdr[128], *payload, *tok;
	size_t		 hlen, plen, cap, n;
	int		 r;

	*out = NULL;
	if (!json_is_object(claims) ||
	    (payload = json_dumps(claims, JSON_COMPACT)) == NULL) {
		*err = "claims are not a JSON object";
		return -1;
	}
	r = snprintf(hdr, sizeof(hdr),
	    "{\"alg\":\"%s\",\"typ\":\"at+jwt\",\"kid\":\"%s\"}",
	    keys_alg_name((enum keys_alg)alg), kid);
	if (r < 0 || (size_t)r >= sizeof(hdr)) {
		free(payload);
		*err = "kid too long";
		return -1;
	}
	hlen = (size_t)r;
	plen = strlen(payload);
	cap = bw_b64url_encoded_len(hlen) + bw_b64url_encoded_len(plen) +
	    bw_b64url_encoded_len(JWT_SIG_MAX) + 3;
	tok = bw_malloc(cap);
	n = bw_b64url_encode((const unsigned char *)hdr, hlen, tok);
	tok[n++] = '.';
	n += bw_b64url_encode((const unsigned char *)payload, plen, tok + n);
	free(payload);
	tok[n] = '\0';
	*out = tok;
	*outlen = n;
	return 0;
}

void
jwt_sign_finish(char *tok, size_t n, const unsigned char *sig, size_t siglen)
{
	tok[n++] = '.';
	tok[n + bw_b64url_encode(sig, siglen, tok + n)] = '\0';
}

int
jwt_sign(const struct keys_key *k, const json_t *claims, char **out,
    const char **err)
{
	unsigned char	 sig[EVP_MAX_MD_SIZE];
	char		*tok;
	size_t		 n, siglen = 0;

	*out = NULL;
	if (!k->can_sign) {
		*err = "the key cannot sign (public key)";
		return -1;
	}
	if (jwt_sign_begin(k->alg, k->kid, claims, &tok, &n, err) == -1)
		return -1;
	if (jwt_sign_bytes(k, tok, n, sig, &siglen) == -1) {
		ERR_clear_error();
		free(tok);
		*err = "signing failed";
		return -1;
	}
	jwt_sign_finish(tok, n, sig, siglen);
	*out = tok;
	return 0;
}

static int
jwt_json_set(json_t *o, const char *key, json_t *val)
{
	return val == NULL ? -1 : json_object_set_new(o, key, val);
}

json_t *
jwt_claims_json(const char *issuer, const char *audience,
    const struct jwt_claims *c)
{
	json_t	*o, *roles;
	size_t	 i;
	int	 bad = 0;

	o = json_object();
	roles = json_array();
	if (o == NULL || roles == NULL) {
		json_decref(o);
		json_decref(roles);
		return NULL;
	}
	for (i = 0; i < c->nroles; i++)
		if (json_array_append_new(roles,
		    json_string(c->roles[i])) == -1)
			bad = 1;
	bad |= jwt_json_set(o, "iss", json_string(issuer));
	bad |= jwt_json_set(o, "sub", json_string(c->sub));
	bad |= jwt_json_set(o, "aud", json_string(audience));
	bad |= jwt_json_set(o, "iat", json_integer(c->iat));
	bad |= jwt_json_set(o, "nbf", json_integer(c->nbf));
	bad |= jwt_json_set(o, "exp", json_integer(c->exp));
	bad |= jwt_json_set(o, "jti", json_string(c->jti));
	bad |= jwt_json_set(o, "sid", json_string(c->sid));
	bad |= jwt_json_set(o, "name", json_string(c->name));
	bad |= jwt_json_set(o, "roles", roles);
	if (bad) {
		json_decref(o);
		return NULL;
	}
	return o;
}

int
jwt_jti_new(char *out)
{
	unsigned char	 r[16];

	if (bw_random(r, sizeof(r)) == -1)
		return -1;
	bw_b64url_encode(r, sizeof(r), out);
	return 0;
}
