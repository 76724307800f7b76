/*
 * test_jwt.c - access tokens: the JWS layer against published vectors
 * (RFC 7515 A.1/A.3, RFC 8037, Wycheproof), every refusal of SPEC 8 at the
 * jwt_verify_access() level, signing, and the cache of verified tokens.
 *
 * Tokens under test are signed here with OpenSSL directly (not with
 * jwt_sign), so a refusal is shown to come from the rule under test and
 * not from a signature mismatch.
 */
#include <sys/stat.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include "unit.h"
#include "conf.h"
#include "jwt.h"
#include "keys.h"
#include "util.h"

#define RFC8037_X	"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
#define RFC8037_D	"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"
#define RFC8037_PUB	"{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"" \
			    RFC8037_X "\"}"
#define RFC8037_PRIV	"{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"" \
			    RFC8037_X "\",\"d\":\"" RFC8037_D "\"}"
#define A3_JWK		"{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" \
			    "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\"," \
			    "\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI" \
			    "5a0\",\"d\":\"jpsQnnGQmL-YBIffH1136cspYG6-0iY7" \
			    "X1fCE9-E9LI\"}"

#define NOW		1700000000LL
#define ISS		"https://api.example.com"
#define AUD		"api.example.com"

static struct keys_set		*set;
static const struct keys_key	*ed, *es, *hs;
static struct jwt_verifier	 v;
static const char		*denied[4];
static int64_t			 cutoff = INT64_MIN;

static bool
cb_denied(void *arg, const char *jti)
{
	size_t	 i;

	ck_assert_ptr_eq(arg, &v);
	for (i = 0; i < BW_ARRAY_LEN(denied); i++)
		if (denied[i] != NULL && strcmp(denied[i], jti) == 0)
			return true;
	return false;
}

static int64_t
cb_valid_after(void *arg, const char *sub, const char *sid)
{
	ck_assert_ptr_eq(arg, &v);
	if (strcmp(sub, "42") != 0 || strcmp(sid, "exempt") == 0)
		return INT64_MIN;
	return cutoff;
}

static struct keys_key *
jwk(const char *s)
{
	struct keys_key	*k;
	const char	*err = NULL;

	k = keys_key_from_jwk(s, strlen(s), &err);
	ck_assert_msg(k != NULL, "%s", err);
	return k;
}

static void
setup(void)
{
	static const unsigned char secret[32] =
	    "bulwark test HS256 secret 32 b!";
	const char	*err;

	set = keys_set_new();
	ck_assert_int_eq(keys_set_add(set, jwk(RFC8037_PRIV), &err), 0);
	ck_assert_int_eq(keys_set_add(set, jwk(A3_JWK), &err), 0);
	ck_assert_int_eq(keys_set_add(set, keys_key_parse(secret,
	    sizeof(secret), &err), &err), 0);
	ed = set->keys[0];
	es = set->keys[1];
	hs = set->keys[2];
	memset(&v, 0, sizeof(v));
	v.keys = set;
	v.issuer = ISS;
	v.audience = AUD;
	v.leeway = 30;
	v.access_ttl = 900;
	v.max_token_size = 4096;
	v.is_denied = cb_denied;
	v.valid_after = cb_valid_after;
	v.arg = &v;
	memset(denied, 0, sizeof(denied));
	cutoff = INT64_MIN;
}

static void
teardown(void)
{
	jwt_cache_free(v.cache);
	v.cache = NULL;
	keys_set_free(set);
}

/* Token construction. */

static char *
b64(const void *p, size_t n)
{
	char	*out = bw_malloc(bw_b64url_encoded_len(n) + 1);

	bw_b64url_encode(p, n, out);
	return out;
}

static char *
cat3(const char *a, const char *b, const char *c)
{
	size_t	 n = strlen(a) + strlen(b) + strlen(c) + 3;
	char	*out = bw_malloc(n);

	snprintf(out, n, "%s.%s.%s", a, b, c);
	return out;
}

static size_t
sign_evp(EVP_PKEY *pkey, const EVP_MD *md, const char *tbs,
    unsigned char *out, size_t cap)
{
	EVP_MD_CTX	*ctx = EVP_MD_CTX_new();
	size_t		 n = cap;

	ck_assert_int_eq(EVP_DigestSignInit(ctx, NULL, md, NULL, pkey), 1);
	ck_assert_int_eq(EVP_DigestSign(ctx, out, &n,
	    (const unsigned char *)tbs, strlen(tbs)), 1);
	EVP_MD_CTX_free(ctx);
	return n;
}

static size_t
sign_with(const struct keys_key *k, const char *tbs, unsigned char *sig)
{
	unsigned char	 der[80];
	const unsigned char *p = der;
	const BIGNUM	*r, *s;
	ECDSA_SIG	*es_sig;
	unsigned int	 mdlen;
	size_t		 n;

	switch (k->alg) {
	case KEYS_ALG_EDDSA:
		return sign_evp(k->pkey, NULL, tbs, sig, 64);
	case KEYS_ALG_ES256:
		n = sign_evp(k->pkey, EVP_sha256(), tbs, der, sizeof(der));
		es_sig = d2i_ECDSA_SIG(NULL, &p, (long)n);
		ck_assert_ptr_nonnull(es_sig);
		ECDSA_SIG_get0(es_sig, &r, &s);
		BN_bn2binpad(r, sig, 32);
		BN_bn2binpad(s, sig + 32, 32);
		ECDSA_SIG_free(es_sig);
		return 64;
	case KEYS_ALG_HS256:
		HMAC(EVP_sha256(), k->secret, (int)k->secretlen,
		    (const unsigned char *)tbs, strlen(tbs), sig, &mdlen);
		return mdlen;
	}
	return 0;
}

/* header and payload JSON text, signed with k (or by HMAC with hkey). */
static char *
tok_raw(const struct keys_key *k, const void *hkey, size_t hklen,
    const char *hdr, const char *pl)
{
	unsigned char	 sig[64];
	unsigned int	 mdlen;
	char		*h, *p, *s, *tbs, *out;
	size_t		 n;

	h = b64(hdr, strlen(hdr));
	p = b64(pl, strlen(pl));
	n = strlen(h) + strlen(p) + 2;
	tbs = bw_malloc(n);
	snprintf(tbs, n, "%s.%s", h, p);
	if (k != NULL)
		n = sign_with(k, tbs, sig);
	else {
		HMAC(EVP_sha256(), hkey, (int)hklen,
		    (const unsigned char *)tbs, strlen(tbs), sig, &mdlen);
		n = mdlen;
	}
	s = b64(sig, n);
	out = cat3(h, p, s);
	free(h);
	free(p);
	free(s);
	free(tbs);
	return out;
}

static char *
hdr(const char *alg, const char *kid, const char *typ)
{
	char	*out = bw_malloc(512);

	snprintf(out, 512, "{\"alg\":\"%s\",\"typ\":\"%s\",\"kid\":\"%s\"}",
	    alg, typ, kid);
	return out;
}

enum { P_ISS, P_AUD, P_SUB, P_NAME, P_ROLES, P_SID, P_JTI, P_IAT, P_NBF,
	P_EXP, P_N };

static const char *const pl_names[P_N] = {
	"iss", "aud", "sub", "name", "roles", "sid", "jti", "iat", "nbf", "exp",
};

/* Raw JSON member values; NULL: default, "-": omitted. */
struct pl {
	const char	*f[P_N];
	const char	*extra;		/* raw members appended */
};

static char *
pl_build(const struct pl *p)
{
	static const char *const def[P_N] = {
		"\"" ISS "\"", "\"" AUD "\"", "\"42\"", "\"alice\"",
		"[\"reader\",\"editor\"]", "\"fam-1\"", "\"jti-1\"",
		"1700000000", "1700000000", "1700000600",
	};
	size_t	 cap = 16384, n = 0, i;
	char	*out = bw_malloc(cap);
	const char *val;

	out[n++] = '{';
	for (i = 0; i < P_N; i++) {
		val = p != NULL && p->f[i] != NULL ? p->f[i] : def[i];
		if (strcmp(val, "-") == 0)
			continue;
		n += (size_t)snprintf(out + n, cap - n, "%s\"%s\":%s",
		    n > 1 ? "," : "", pl_names[i], val);
	}
	if (p != NULL && p->extra != NULL)
		n += (size_t)snprintf(out + n, cap - n, "%s%s",
		    n > 1 ? "," : "", p->extra);
	snprintf(out + n, cap - n, "}");
	return out;
}

/* A token signed by k with the standard header and the given claims. */
static char *
tok_claims(const struct keys_key *k, const struct pl *p)
{
	char	*h = hdr(keys_alg_name(k->alg), k->kid, "at+jwt");
	char	*pl = pl_build(p);
	char	*t = tok_raw(k, NULL, 0, h, pl);

	free(h);
	free(pl);
	return t;
}

static char *
tok_hdr(const struct keys_key *k, const char *h)
{
	char	*pl = pl_build(NULL);
	char	*t = tok_raw(k, NULL, 0, h, pl);

	free(pl);
	return t;
}

static int
verify_at(const char *t, size_t len, int64_t now, const char **err)
{
	struct jwt_claims	 c;
	int			 rc;

	*err = NULL;
	rc = jwt_verify_access(&v, t, len, now, &c, err);
	if (rc == 0) {
		ck_assert_ptr_nonnull(c.sub);
		ck_assert_ptr_nonnull(c.jti);
		ck_assert_ptr_null(*err);
	} else {
		ck_assert_ptr_nonnull(*err);
		ck_assert_ptr_null(c.mem);
	}
	jwt_claims_free(&c);
	return rc;
}

static int
verify(const char *t, const char **err)
{
	return verify_at(t, strlen(t), NOW, err);
}

#define ACCEPT(t) do {							\
	char		*t_ = (t);					\
	const char	*e_;						\
	ck_assert_msg(verify(t_, &e_) == 0, "refused (%s): %s", e_, t_);\
	free(t_);							\
} while (0)

#define REFUSE(t, msg) do {						\
	char		*t_ = (t);					\
	const char	*e_;						\
	ck_assert_msg(verify(t_, &e_) == -1, "accepted: %s", t_);	\
	ck_assert_str_eq(e_, msg);					\
	free(t_);							\
} while (0)

/* Positive controls and signing. */

static json_t *
claims_json(const char *sub, const char *jti, int64_t iat, int64_t exp)
{
	static const char	*roles[] = { "reader", "editor" };
	struct jwt_claims	 c;

	memset(&c, 0, sizeof(c));
	c.sub = sub;
	c.name = "alice";
	c.sid = "fam-1";
	c.jti = jti;
	c.roles = roles;
	c.nroles = 2;
	c.iat = iat;
	c.nbf = iat;
	c.exp = exp;
	return jwt_claims_json(ISS, AUD, &c);
}

START_TEST(sign_and_verify)
{
	const struct keys_key	*keys[3] = { ed, es, hs };
	struct jwt_claims	 c;
	json_t			*j;
	char			*t;
	const char		*err;
	size_t			 i;

	j = claims_json("42", "jti-x", NOW, NOW + 900);
	ck_assert_ptr_nonnull(j);
	for (i = 0; i < 3; i++) {
		ck_assert_int_eq(jwt_sign(keys[i], j, &t, &err), 0);
		ck_assert_int_eq(jwt_verify_access(&v, t, strlen(t), NOW, &c,
		    &err), 0);
		ck_assert_str_eq(c.sub, "42");
		ck_assert_str_eq(c.name, "alice");
		ck_assert_str_eq(c.sid, "fam-1");
		ck_assert_str_eq(c.jti, "jti-x");
		ck_assert_uint_eq(c.nroles, 2);
		ck_assert_str_eq(c.roles[0], "reader");
		ck_assert_str_eq(c.roles[1], "editor");
		ck_assert_int_eq(c.iat, NOW);
		ck_assert_int_eq(c.nbf, NOW);
		ck_assert_int_eq(c.exp, NOW + 900);
		jwt_claims_free(&c);
		ck_assert_int_eq(jwt_jws_verify(t, strlen(t), keys[i], &err),
		    0);
		ck_assert_int_eq(jwt_jws_verify(t, strlen(t),
		    keys[(i + 1) % 3], &err), -1);
		free(t);
	}
	json_decref(j);
}
END_TEST

START_TEST(sign_format)
{
	char		 want[256];
	char		*t, *dot, *payload;
	unsigned char	 buf[1024];
	size_t		 n, plen;
	json_t		*j;
	const char	*err;
	struct keys_key	*pub;

	j = claims_json("42", "jti-1", NOW, NOW + 600);
	ck_assert_int_eq(jwt_sign(ed, j, &t, &err), 0);
	dot = strchr(t, '.');
	ck_assert_int_eq(bw_b64url_decode(t, (size_t)(dot - t), buf,
	    sizeof(buf) - 1, &n), 0);
	buf[n] = '\0';
	snprintf(want, sizeof(want),
	    "{\"alg\":\"EdDSA\",\"typ\":\"at+jwt\",\"kid\":\"%s\"}", ed->kid);
	ck_assert_str_eq((char *)buf, want);
	ck_assert_int_eq(jwt_jws_payload(t, strlen(t), ed, &payload, &plen,
	    &err), 0);
	ck_assert_str_eq(payload, "{\"iss\":\"" ISS "\",\"sub\":\"42\","
	    "\"aud\":\"" AUD "\",\"iat\":1700000000,\"nbf\":1700000000,"
	    "\"exp\":1700000600,\"jti\":\"jti-1\",\"sid\":\"fam-1\","
	    "\"name\":\"alice\",\"roles\":[\"reader\",\"editor\"]}");
	ck_assert_uint_eq(plen, strlen(payload));
	free(payload);
	free(t);

	pub = jwk(RFC8037_PUB);
	ck_assert_int_eq(jwt_sign(pub, j, &t, &err), -1);
	ck_assert_ptr_null(t);
	keys_key_free(pub);
	json_decref(j);

	j = json_array();
	ck_assert_int_eq(jwt_sign(ed, j, &t, &err), -1);
	json_decref(j);
}
END_TEST

START_TEST(claims_json_refuses_bad_utf8)
{
	struct jwt_claims	 c;

	memset(&c, 0, sizeof(c));
	c.sub = "42";
	c.name = "\xff\xfe";
	c.sid = "s";
	c.jti = "j";
	ck_assert_ptr_null(jwt_claims_json(ISS, AUD, &c));
}
END_TEST

START_TEST(jti_new)
{
	char	 a[JWT_JTI_LEN + 1], b[JWT_JTI_LEN + 1];

	ck_assert_int_eq(jwt_jti_new(a), 0);
	ck_assert_int_eq(jwt_jti_new(b), 0);
	ck_assert_uint_eq(strlen(a), JWT_JTI_LEN);
	ck_assert_str_ne(a, b);
}
END_TEST

START_TEST(positive_controls)
{
	struct pl	 p;
	char		*h;

	ACCEPT(tok_claims(ed, NULL));
	ACCEPT(tok_claims(es, NULL));
	ACCEPT(tok_claims(hs, NULL));
	h = hdr("EdDSA", ed->kid, "application/at+jwt");
	ACCEPT(tok_hdr(ed, h));
	free(h);
	memset(&p, 0, sizeof(p));
	p.f[P_AUD] = "[\"other\",\"" AUD "\"]";
	ACCEPT(tok_claims(ed, &p));
	p.f[P_AUD] = "[\"1\",\"2\",\"3\",\"4\",\"5\",\"6\",\"7\",\"8\",\"9\","
	    "\"10\",\"11\",\"12\",\"13\",\"14\",\"15\",\"" AUD "\"]";
	ACCEPT(tok_claims(ed, &p));
	memset(&p, 0, sizeof(p));
	p.f[P_ROLES] = "[]";
	p.extra = "\"unknown\":{\"nested\":[1,2,{\"x\":null}]}";
	ACCEPT(tok_claims(es, &p));
}
END_TEST

/* Algorithm. */

START_TEST(alg_none)
{
	static const char *const nones[] = { "none", "None", "NONE", "nOnE" };
	char		*h, *pl, *hb, *pb, *t;
	size_t		 i;

	pl = pl_build(NULL);
	pb = b64(pl, strlen(pl));
	for (i = 0; i < BW_ARRAY_LEN(nones); i++) {
		h = hdr(nones[i], ed->kid, "at+jwt");
		hb = b64(h, strlen(h));
		REFUSE(cat3(hb, pb, ""), "alg \"none\" is refused");
		t = tok_raw(ed, NULL, 0, h, pl);
		REFUSE(t, "alg \"none\" is refused");
		free(hb);
		free(h);
	}
	free(pb);
	free(pl);
}
END_TEST

/*
 * The classic confusion: HS256 "signed" with the server's public key as
 * the HMAC secret (its PEM text, its raw bytes), with the kid of that key.
 */
START_TEST(alg_confusion)
{
	unsigned char	 raw[32];
	size_t		 rawlen = sizeof(raw);
	char		*pem, *p, *h, *pl, *t;
	BIO		*bio;
	long		 n;
	const char	*err;

	bio = BIO_new(BIO_s_mem());
	ck_assert_int_eq(PEM_write_bio_PUBKEY(bio, ed->pkey), 1);
	n = BIO_get_mem_data(bio, &p);
	pem = bw_strndup(p, (size_t)n);
	BIO_free(bio);
	ck_assert_int_eq(EVP_PKEY_get_raw_public_key(ed->pkey, raw, &rawlen),
	    1);

	h = hdr("HS256", ed->kid, "at+jwt");
	pl = pl_build(NULL);
	t = tok_raw(NULL, pem, strlen(pem), h, pl);
	ck_assert_int_eq(jwt_jws_verify(t, strlen(t), ed, &err), -1);
	REFUSE(t, "alg is not the algorithm of the key");
	REFUSE(tok_raw(NULL, raw, rawlen, h, pl),
	    "alg is not the algorithm of the key");
	free(h);
	h = hdr("HS256", es->kid, "at+jwt");
	REFUSE(tok_raw(NULL, pem, strlen(pem), h, pl),
	    "alg is not the algorithm of the key");
	free(h);
	h = hdr("EdDSA", hs->kid, "at+jwt");
	REFUSE(tok_raw(ed, NULL, 0, h, pl),
	    "alg is not the algorithm of the key");
	free(h);
	h = hdr("ES256", ed->kid, "at+jwt");
	REFUSE(tok_raw(es, NULL, 0, h, pl),
	    "alg is not the algorithm of the key");
	free(h);
	free(pl);
	free(pem);
}
END_TEST

START_TEST(alg_other)
{
	static const char *const algs[] = {
		"RS256", "HS512", "PS256", "ES256K", "EdDSA ", "eddsa",
		"EDDSA", "Ed25519", "",
	};
	size_t	 i;
	char	*h;

	for (i = 0; i < BW_ARRAY_LEN(algs); i++) {
		h = hdr(algs[i], ed->kid, "at+jwt");
		REFUSE(tok_hdr(ed, h), "alg is not the algorithm of the key");
		free(h);
	}
	h = bw_malloc(256);
	snprintf(h, 256, "{\"alg\":5,\"typ\":\"at+jwt\",\"kid\":\"%s\"}",
	    ed->kid);
	REFUSE(tok_hdr(ed, h), "header without a string \"alg\"");
	snprintf(h, 256, "{\"typ\":\"at+jwt\",\"kid\":\"%s\"}", ed->kid);
	REFUSE(tok_hdr(ed, h), "header without a string \"alg\"");
	snprintf(h, 256, "{\"alg\":\"EdDSA\\u0000\",\"typ\":\"at+jwt\","
	    "\"kid\":\"%s\"}", ed->kid);
	REFUSE(tok_hdr(ed, h), "header without a string \"alg\"");
	free(h);
}
END_TEST

/* kid. */

START_TEST(kid_unknown)
{
	static const char *const kids[] = {
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		"../../../../etc/passwd",
		"'; DROP TABLE users; --",
		"kid-ec-sign",
		"",
	};
	char	 big[JWT_KID_MAX + 2], shortkid[KEYS_KID_LEN + 1];
	char	*h;
	size_t	 i;

	for (i = 0; i < BW_ARRAY_LEN(kids); i++) {
		h = hdr("EdDSA", kids[i], "at+jwt");
		REFUSE(tok_hdr(ed, h), "unknown kid");
		free(h);
	}
	bw_strlcpy(shortkid, ed->kid, sizeof(shortkid));
	shortkid[KEYS_KID_LEN - 1] = '\0';
	h = hdr("EdDSA", shortkid, "at+jwt");
	REFUSE(tok_hdr(ed, h), "unknown kid");
	free(h);
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	h = hdr("EdDSA", big, "at+jwt");
	REFUSE(tok_hdr(ed, h), "kid too long");
	big[JWT_KID_MAX] = '\0';
	free(h);
	h = hdr("EdDSA", big, "at+jwt");
	REFUSE(tok_hdr(ed, h), "unknown kid");
	free(h);
	h = bw_strdup("{\"alg\":\"EdDSA\",\"typ\":\"at+jwt\"}");
	REFUSE(tok_hdr(ed, h), "header without a string \"kid\"");
	free(h);
	h = bw_strdup("{\"alg\":\"EdDSA\",\"typ\":\"at+jwt\",\"kid\":7}");
	REFUSE(tok_hdr(ed, h), "header without a string \"kid\"");
	free(h);
}
END_TEST

START_TEST(header_forbidden)
{
	static const struct {
		const char	*member;
		const char	*err;
	} cases[] = {
		{ "\"jku\":\"https://evil.example/jwks\"",
		    "header member \"jku\" is refused" },
		{ "\"jwk\":{\"kty\":\"oct\",\"k\":\"AAAA\"}",
		    "header member \"jwk\" is refused" },
		{ "\"x5u\":\"https://evil.example/cert\"",
		    "header member \"x5u\" is refused" },
		{ "\"x5c\":[\"MIIB\"]", "header member \"x5c\" is refused" },
		{ "\"crit\":[\"exp\"]", "header member \"crit\" is refused" },
	};
	char	*h;
	size_t	 i;

	for (i = 0; i < BW_ARRAY_LEN(cases); i++) {
		h = bw_malloc(512);
		snprintf(h, 512, "{\"alg\":\"EdDSA\",\"typ\":\"at+jwt\","
		    "\"kid\":\"%s\",%s}", ed->kid, cases[i].member);
		REFUSE(tok_hdr(ed, h), cases[i].err);
		free(h);
	}
}
END_TEST

START_TEST(typ_checked)
{
	static const char *const typs[] = {
		"JWT", "AT+JWT", "at+JWT", "application/jwt", "at+jwt ",
		"Application/at+jwt", "",
	};
	char	*h;
	size_t	 i;

	for (i = 0; i < BW_ARRAY_LEN(typs); i++) {
		h = hdr("EdDSA", ed->kid, typs[i]);
		REFUSE(tok_hdr(ed, h), "typ is not at+jwt");
		free(h);
	}
	h = bw_malloc(256);
	snprintf(h, 256, "{\"alg\":\"EdDSA\",\"kid\":\"%s\"}", ed->kid);
	REFUSE(tok_hdr(ed, h), "typ is not at+jwt");
	snprintf(h, 256, "{\"alg\":\"EdDSA\",\"typ\":1,\"kid\":\"%s\"}",
	    ed->kid);
	REFUSE(tok_hdr(ed, h), "typ is not at+jwt");
	free(h);
}
END_TEST

/* Time claims. */

static char *
tok_times(int64_t iat, int64_t nbf, int64_t exp)
{
	char		 a[24], b[24], c[24];
	struct pl	 p;

	memset(&p, 0, sizeof(p));
	snprintf(a, sizeof(a), "%lld", (long long)iat);
	snprintf(b, sizeof(b), "%lld", (long long)nbf);
	snprintf(c, sizeof(c), "%lld", (long long)exp);
	p.f[P_IAT] = a;
	p.f[P_NBF] = b;
	p.f[P_EXP] = c;
	return tok_claims(ed, &p);
}

START_TEST(times_bounds)
{
	REFUSE(tok_times(NOW - 600, NOW - 600, NOW - 30), "token expired");
	ACCEPT(tok_times(NOW - 600, NOW - 600, NOW - 29));
	REFUSE(tok_times(NOW, NOW + 31, NOW + 600),
	    "token not yet valid (nbf)");
	ACCEPT(tok_times(NOW, NOW + 30, NOW + 600));
	REFUSE(tok_times(NOW + 31, NOW, NOW + 600), "iat in the future");
	ACCEPT(tok_times(NOW + 30, NOW, NOW + 600));
	REFUSE(tok_times(NOW, NOW, NOW + 931),
	    "exp - iat longer than access_ttl");
	ACCEPT(tok_times(NOW, NOW, NOW + 930));
}
END_TEST

START_TEST(times_invalid)
{
	static const char *const bad[] = {
		"1700000600.0", "1.7000006e9", "17000006E2", "\"1700000600\"",
		"-1", "null", "true", "[1700000600]", "1000000000000",
		"253402300800", "-",
	};
	static const char *const msg[3] = {
		"missing or invalid iat", "missing or invalid nbf",
		"missing or invalid exp",
	};
	struct pl	 p;
	size_t		 i, f;

	for (f = 0; f < 3; f++)
		for (i = 0; i < BW_ARRAY_LEN(bad); i++) {
			memset(&p, 0, sizeof(p));
			p.f[P_IAT + f] = bad[i];
			REFUSE(tok_claims(ed, &p), msg[f]);
		}
}
END_TEST

START_TEST(clock_range)
{
	char		*t = tok_claims(ed, NULL);
	const char	*err;

	ck_assert_int_eq(verify_at(t, strlen(t), -1, &err), -1);
	ck_assert_str_eq(err, "clock out of range");
	ck_assert_int_eq(verify_at(t, strlen(t), JWT_TIME_MAX + 1, &err), -1);
	ck_assert_str_eq(err, "clock out of range");
	free(t);
}
END_TEST

/* Registered and private claims. */

/* A claim set to val (or left out: "-"), and the error that refuses it. */
struct claim_case {
	int		 field;
	const char	*val;
	const char	*err;
};

/* Each case alone in otherwise valid claims is refused with its error. */
static void
refuse_claims(const struct claim_case *cases, size_t n)
{
	struct pl	 p;
	size_t		 i;

	for (i = 0; i < n; i++) {
		memset(&p, 0, sizeof(p));
		p.f[cases[i].field] = cases[i].val;
		REFUSE(tok_claims(ed, &p), cases[i].err);
	}
}

START_TEST(iss_aud)
{
	static const struct claim_case cases[] = {
		{ P_ISS, "\"https://evil.example.com\"", "wrong iss" },
		{ P_ISS, "\"" ISS "/\"", "wrong iss" },
		{ P_ISS, "\"HTTPS://api.example.com\"", "wrong iss" },
		{ P_ISS, "[\"" ISS "\"]", "wrong iss" },
		{ P_ISS, "5", "wrong iss" },
		{ P_ISS, "-", "no iss" },
		{ P_AUD, "\"other.example.com\"", "wrong aud" },
		{ P_AUD, "\"" AUD "\\u0000\"", "wrong aud" },
		{ P_AUD, "[\"other\"]", "wrong aud" },
		{ P_AUD, "[]", "wrong aud" },
		{ P_AUD, "[5,\"" AUD "\"]", "wrong aud" },
		{ P_AUD, "{\"aud\":\"" AUD "\"}", "wrong aud" },
		{ P_AUD, "[\"1\",\"2\",\"3\",\"4\",\"5\",\"6\",\"7\",\"8\","
		    "\"9\",\"10\",\"11\",\"12\",\"13\",\"14\",\"15\",\"16\","
		    "\"" AUD "\"]", "wrong aud" },
		{ P_AUD, "-", "no aud" },
	};

	refuse_claims(cases, BW_ARRAY_LEN(cases));
}
END_TEST

static char *
json_str_of(char c, size_t n)
{
	char	*s = bw_malloc(n + 3);

	s[0] = '"';
	memset(s + 1, c, n);
	s[n + 1] = '"';
	s[n + 2] = '\0';
	return s;
}

START_TEST(private_claims)
{
	static const struct claim_case cases[] = {
		{ P_SUB, "-", "missing or invalid sub" },
		{ P_SUB, "\"\"", "missing or invalid sub" },
		{ P_SUB, "\"4 2\"", "missing or invalid sub" },
		{ P_SUB, "42", "missing or invalid sub" },
		{ P_SUB, "\"4\\u00002\"", "missing or invalid sub" },
		{ P_SID, "-", "missing or invalid sid" },
		{ P_SID, "\"f\\n1\"", "missing or invalid sid" },
		{ P_JTI, "-", "missing or invalid jti" },
		{ P_JTI, "[\"j\"]", "missing or invalid jti" },
		{ P_NAME, "-", "missing or invalid name" },
		{ P_NAME, "\"\"", "missing or invalid name" },
		{ P_NAME, "\"a\\u0000b\"", "missing or invalid name" },
		{ P_ROLES, "-", "missing or invalid roles" },
		{ P_ROLES, "\"reader\"", "missing or invalid roles" },
		{ P_ROLES, "[\"Admin\"]", "invalid role name in roles" },
		{ P_ROLES, "[\"r-x\"]", "invalid role name in roles" },
		{ P_ROLES, "[\"1abc\"]", "invalid role name in roles" },
		{ P_ROLES, "[\"\"]", "invalid role name in roles" },
		{ P_ROLES, "[5]", "invalid role name in roles" },
	};

	refuse_claims(cases, BW_ARRAY_LEN(cases));
}
END_TEST

/* Each length bound: at the limit accepted, one past refused. */
START_TEST(claim_bounds)
{
	static const struct {
		int		 field;
		size_t		 max;
		const char	*err;
	} cases[] = {
		{ P_SUB, JWT_ID_MAX, "missing or invalid sub" },
		{ P_SID, JWT_ID_MAX, "missing or invalid sid" },
		{ P_JTI, JWT_ID_MAX, "missing or invalid jti" },
		{ P_NAME, JWT_NAME_MAX, "missing or invalid name" },
	};
	struct pl	 p;
	char		*s, roles[JWT_ROLES_MAX * 8 + 16];
	size_t		 i, n;

	for (i = 0; i < BW_ARRAY_LEN(cases); i++) {
		memset(&p, 0, sizeof(p));
		s = json_str_of('x', cases[i].max);
		p.f[cases[i].field] = s;
		ACCEPT(tok_claims(ed, &p));
		free(s);
		s = json_str_of('x', cases[i].max + 1);
		p.f[cases[i].field] = s;
		REFUSE(tok_claims(ed, &p), cases[i].err);
		free(s);
	}
	memset(&p, 0, sizeof(p));
	s = json_str_of('r', JWT_ROLE_MAX);
	snprintf(roles, sizeof(roles), "[%s]", s);
	p.f[P_ROLES] = roles;
	ACCEPT(tok_claims(ed, &p));
	free(s);
	s = json_str_of('r', JWT_ROLE_MAX + 1);
	snprintf(roles, sizeof(roles), "[%s]", s);
	REFUSE(tok_claims(ed, &p), "invalid role name in roles");
	free(s);

	n = 0;
	roles[n++] = '[';
	for (i = 0; i < JWT_ROLES_MAX; i++)
		n += (size_t)snprintf(roles + n, sizeof(roles) - n,
		    "%s\"r%zu\"", i > 0 ? "," : "", i);
	snprintf(roles + n, sizeof(roles) - n, "]");
	ACCEPT(tok_claims(ed, &p));
	snprintf(roles + n, sizeof(roles) - n, ",\"extra\"]");
	REFUSE(tok_claims(ed, &p), "missing or invalid roles");
}
END_TEST

/* Integrity and encoding. */

START_TEST(tampered)
{
	char	*t, *d1, *d2, *h;

	t = tok_claims(ed, NULL);
	d1 = strchr(t, '.');
	d1[5] = d1[5] == 'A' ? 'B' : 'A';
	REFUSE(t, "bad signature");

	t = tok_claims(hs, NULL);
	d2 = strrchr(t, '.');
	d2[10] = d2[10] == 'A' ? 'B' : 'A';
	REFUSE(t, "bad signature");

	t = tok_claims(es, NULL);
	d2 = strrchr(t, '.');
	d2[10] = d2[10] == 'A' ? 'B' : 'A';
	REFUSE(t, "bad signature");

	h = hdr("EdDSA", ed->kid, "application/at+jwt");
	t = tok_claims(ed, NULL);
	{
		char	*hb = b64(h, strlen(h)), *rest = strchr(t, '.');
		size_t	 n = strlen(hb) + strlen(rest) + 1;
		char	*t2 = bw_malloc(n);

		snprintf(t2, n, "%s%s", hb, rest);
		REFUSE(t2, "bad signature");
		free(hb);
	}
	free(t);
	free(h);
}
END_TEST

START_TEST(duplicate_members)
{
	struct pl	 p;
	char		*h;

	h = bw_malloc(256);
	snprintf(h, 256, "{\"alg\":\"EdDSA\",\"typ\":\"at+jwt\",\"kid\":\"%s\","
	    "\"alg\":\"EdDSA\"}", ed->kid);
	REFUSE(tok_hdr(ed, h), "duplicate member in header");
	snprintf(h, 256, "{\"alg\":\"HS256\",\"typ\":\"at+jwt\",\"kid\":\"%s\","
	    "\"\\u0061lg\":\"EdDSA\"}", ed->kid);
	REFUSE(tok_hdr(ed, h), "duplicate member in header");
	free(h);
	memset(&p, 0, sizeof(p));
	p.extra = "\"sub\":\"1\"";
	REFUSE(tok_claims(ed, &p), "duplicate member in claims");
	p.extra = "\"\\u0065xp\":9999999999";
	REFUSE(tok_claims(ed, &p), "duplicate member in claims");
}
END_TEST

/* Sets stray bits in the last character of a base64url segment. */
static void
stray(char *seg, size_t len)
{
	static const char alpha[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t	 val = (size_t)(strchr(alpha, seg[len - 1]) - alpha);

	ck_assert(len % 4 == 2 || len % 4 == 3);
	seg[len - 1] = alpha[val | 1];
}

static char *
tok_edit(const char *t, int seg, const char *insert, bool at_end)
{
	const char	*d1 = strchr(t, '.'), *d2 = strchr(d1 + 1, '.');
	const char	*at;
	size_t		 n = strlen(t) + strlen(insert) + 1, pre;
	char		*out = bw_malloc(n);

	if (seg == 0)
		at = at_end ? d1 : t;
	else if (seg == 1)
		at = at_end ? d2 : d1 + 1;
	else
		at = at_end ? t + strlen(t) : d2 + 1;
	pre = (size_t)(at - t);
	snprintf(out, n, "%.*s%s%s", (int)pre, t, insert, at);
	return out;
}

START_TEST(base64url_strict)
{
	char	*t, *d1, *d2, *h;
	int	 seg;
	size_t	 pad;

	t = tok_claims(hs, NULL);
	REFUSE(tok_edit(t, 0, "=", true), "header is not canonical base64url");
	REFUSE(tok_edit(t, 0, "==", true), "header is not canonical base64url");
	REFUSE(tok_edit(t, 1, "=", true), "bad signature");
	REFUSE(tok_edit(t, 2, "=", true), "signature is not canonical "
	    "base64url");
	REFUSE(tok_edit(t, 0, " ", false), "header is not canonical base64url");
	REFUSE(tok_edit(t, 2, "+", false), "signature is not canonical "
	    "base64url");
	REFUSE(tok_edit(t, 2, "/", false), "signature is not canonical "
	    "base64url");
	for (seg = 0; seg < 3; seg++)
		REFUSE(tok_edit(t, seg, "\n", true), seg == 0 ?
		    "header is not canonical base64url" : seg == 1 ?
		    "bad signature" : "signature is not canonical base64url");
	d2 = strrchr(t, '.');
	stray(d2 + 1, strlen(d2 + 1));
	REFUSE(t, "signature is not canonical base64url");

	t = tok_claims(ed, NULL);
	REFUSE(tok_edit(t, 2, "=", true), "signature too long");
	d2 = strrchr(t, '.');
	stray(d2 + 1, strlen(d2 + 1));
	REFUSE(t, "signature is not canonical base64url");

	/* A header whose encoding ends in a partial group. */
	h = bw_malloc(256);
	for (pad = 1; pad < 4; pad++) {
		snprintf(h, 256, "{\"alg\":\"EdDSA\",\"typ\":\"at+jwt\","
		    "\"kid\":\"%s\",\"p\":\"%.*s\"}", ed->kid, (int)pad, "xxx");
		if (strlen(h) % 3 != 0)
			break;
	}
	t = tok_hdr(ed, h);
	ACCEPT(bw_strdup(t));
	d1 = strchr(t, '.');
	stray(t, (size_t)(d1 - t));
	REFUSE(t, "header is not canonical base64url");
	free(h);
}
END_TEST

/*
 * The payload's encoding is checked after the signature (which covers the
 * encoded text): a payload with stray bits signed as such is still refused.
 */
START_TEST(payload_stray_bits)
{
	char		*h, *pl, *hb, *pb, *tbs, *sb, *t;
	unsigned char	 sig[64];
	size_t		 n;

	h = hdr("EdDSA", ed->kid, "at+jwt");
	pl = pl_build(NULL);
	if (strlen(pl) % 3 == 0) {
		free(pl);
		pl = pl_build(&(struct pl){ .extra = "\"p\":1" });
	}
	hb = b64(h, strlen(h));
	pb = b64(pl, strlen(pl));
	stray(pb, strlen(pb));
	n = strlen(hb) + strlen(pb) + 2;
	tbs = bw_malloc(n);
	snprintf(tbs, n, "%s.%s", hb, pb);
	n = sign_with(ed, tbs, sig);
	sb = b64(sig, n);
	t = cat3(hb, pb, sb);
	REFUSE(t, "payload is not canonical base64url");
	free(h);
	free(pl);
	free(hb);
	free(pb);
	free(tbs);
	free(sb);
}
END_TEST

START_TEST(structure)
{
	static const char *const bad[] = {
		"", ".", "..", "...", "abc", "abc.def", "a.b.c.d",
		"eyJhbGciOiJFZERTQSJ9.e30.", ".e30.AAAA",
	};
	char		*t, *two;
	const char	*err;
	size_t		 i;

	for (i = 0; i < BW_ARRAY_LEN(bad); i++) {
		ck_assert_int_eq(verify(bad[i], &err), -1);
		ck_assert_ptr_nonnull(err);
	}
	t = tok_claims(ed, NULL);
	REFUSE(tok_edit(t, 2, ".", true), "not three dot-separated segments");
	two = bw_strndup(t, (size_t)(strrchr(t, '.') - t));
	REFUSE(two, "not three dot-separated segments");
	ck_assert_int_eq(verify_at(t, strlen(t) + 1, NOW, &err), -1);
	free(t);

	REFUSE(tok_hdr(ed, "[\"alg\"]"), "header is not a JSON object");
	REFUSE(tok_hdr(ed, "{\"alg\":"), "header is not valid JSON");
	REFUSE(tok_hdr(ed, "{\"a\":{\"b\":{}}}"), "header is not valid JSON");
	REFUSE(tok_raw(ed, NULL, 0, "{\"alg\":\"EdDSA\",\"typ\":\"at+jwt\","
	    "\"kid\":\"x\"}", "{}"), "unknown kid");
	t = hdr("EdDSA", ed->kid, "at+jwt");
	REFUSE(tok_raw(ed, NULL, 0, t, "[1]"), "claims are not a JSON object");
	REFUSE(tok_raw(ed, NULL, 0, t, "{\"iss\":}"),
	    "claims are not valid JSON");
	REFUSE(tok_raw(ed, NULL, 0, t, ""), "claims are not valid JSON");
	REFUSE(tok_raw(ed, NULL, 0, t, "{\"a\":[[[[1]]]]}"),
	    "claims are not valid JSON");
	free(t);
}
END_TEST

START_TEST(token_size)
{
	char		*t, *filler;
	struct pl	 p;
	const char	*err;
	size_t		 len;

	t = tok_claims(ed, NULL);
	len = strlen(t);
	v.max_token_size = len;
	ck_assert_int_eq(verify(t, &err), 0);
	v.max_token_size = len - 1;
	ck_assert_int_eq(verify(t, &err), -1);
	ck_assert_str_eq(err, "token larger than max_token_size");
	free(t);

	v.max_token_size = 4096;
	memset(&p, 0, sizeof(p));
	filler = bw_malloc(4000);
	memset(filler, 'f', 3999);
	memcpy(filler, "\"f\":\"", 5);
	filler[3998] = '"';
	filler[3999] = '\0';
	p.extra = filler;
	t = tok_claims(ed, &p);
	ck_assert_uint_gt(strlen(t), 4096);
	REFUSE(t, "token larger than max_token_size");

	v.max_token_size = SIZE_MAX;
	t = bw_malloc(JWT_TOKEN_CEILING + 2);
	memset(t, 'A', JWT_TOKEN_CEILING + 1);
	t[JWT_TOKEN_CEILING + 1] = '\0';
	REFUSE(t, "token larger than max_token_size");
	free(filler);
}
END_TEST

START_TEST(revocation_callbacks)
{
	struct pl	 p;

	denied[1] = "jti-1";
	REFUSE(tok_claims(ed, NULL), "jti is deny-listed");
	denied[1] = NULL;
	cutoff = NOW + 1;
	REFUSE(tok_claims(ed, NULL),
	    "issued before the user's tokens_valid_after");
	memset(&p, 0, sizeof(p));
	p.f[P_SID] = "\"exempt\"";
	ACCEPT(tok_claims(ed, &p));
	p.f[P_SID] = NULL;
	p.f[P_SUB] = "\"43\"";
	ACCEPT(tok_claims(ed, &p));
	cutoff = NOW;
	ACCEPT(tok_claims(ed, NULL));
}
END_TEST

START_TEST(verifier_init)
{
	struct conf_auth	 a;
	struct jwt_verifier	 w;
	struct jwt_cache	*c = jwt_cache_new(4);

	memset(&a, 0, sizeof(a));
	a.issuer = (char *)ISS;
	a.audience = (char *)AUD;
	a.leeway_ms = 30999;
	a.access_ttl_ms = 900000;
	a.max_token_size = 4096;
	jwt_verifier_init(&w, &a, set, c);
	ck_assert_ptr_eq(w.keys, set);
	ck_assert_str_eq(w.issuer, ISS);
	ck_assert_int_eq(w.leeway, 30);
	ck_assert_int_eq(w.access_ttl, 900);
	ck_assert_uint_eq(w.max_token_size, 4096);
	ck_assert_ptr_eq(w.cache, c);
	ck_assert_ptr_null(w.is_denied);
	jwt_cache_free(c);
}
END_TEST

/* The cache. */

static char *
tok_jti(const char *jti, int64_t exp)
{
	char		 j[64], e[24];
	struct pl	 p;

	memset(&p, 0, sizeof(p));
	snprintf(j, sizeof(j), "\"%s\"", jti);
	snprintf(e, sizeof(e), "%lld", (long long)exp);
	p.f[P_JTI] = j;
	p.f[P_EXP] = e;
	return tok_claims(ed, &p);
}

static struct jwt_cache_stats
stats(void)
{
	struct jwt_cache_stats	 st;

	jwt_cache_stats(v.cache, &st);
	return st;
}

START_TEST(cache_limits)
{
	struct jwt_cache	*c;

	ck_assert_ptr_null(jwt_cache_new(0));
	ck_assert_ptr_null(jwt_cache_new(JWT_CACHE_MAX + 1));
	c = jwt_cache_new(1);
	ck_assert_ptr_nonnull(c);
	jwt_cache_free(c);
	jwt_cache_flush(NULL);
	jwt_cache_free(NULL);
}
END_TEST

START_TEST(cache_hit_rechecks)
{
	struct jwt_claims	 c;
	char			*t = tok_jti("cached", NOW + 600);
	const char		*err;

	v.cache = jwt_cache_new(8);
	ck_assert_int_eq(verify(t, &err), 0);
	ck_assert_uint_eq(stats().misses, 1);
	ck_assert_uint_eq(stats().inserts, 1);
	ck_assert_int_eq(jwt_verify_access(&v, t, strlen(t), NOW, &c, &err),
	    0);
	ck_assert_uint_eq(stats().hits, 1);
	ck_assert_str_eq(c.jti, "cached");
	ck_assert_str_eq(c.roles[1], "editor");
	ck_assert_str_eq(c.name, "alice");
	jwt_claims_free(&c);

	denied[0] = "cached";
	ck_assert_int_eq(verify(t, &err), -1);
	ck_assert_str_eq(err, "jti is deny-listed");
	denied[0] = NULL;
	cutoff = NOW + 5;
	ck_assert_int_eq(verify(t, &err), -1);
	ck_assert_str_eq(err, "issued before the user's tokens_valid_after");
	cutoff = INT64_MIN;
	ck_assert_int_eq(verify_at(t, strlen(t), NOW - 31, &err), -1);
	ck_assert_str_eq(err, "token not yet valid (nbf)");
	ck_assert_uint_eq(stats().entries, 1);
	ck_assert_int_eq(verify(t, &err), 0);
	ck_assert_uint_eq(stats().hits, 5);

	ck_assert_int_eq(verify_at(t, strlen(t), NOW + 630, &err), -1);
	ck_assert_str_eq(err, "token expired");
	ck_assert_uint_eq(stats().entries, 0);
	ck_assert_int_eq(verify(t, &err), 0);
	ck_assert_uint_eq(stats().inserts, 2);
	free(t);

	t = tok_jti("expired", NOW - 100);
	ck_assert_int_eq(verify(t, &err), -1);
	ck_assert_int_eq(verify(t, &err), -1);
	ck_assert_uint_eq(stats().inserts, 2);
	free(t);
}
END_TEST

START_TEST(cache_tampered_misses)
{
	char		*t = tok_jti("t", NOW + 600), *d2;
	const char	*err;

	v.cache = jwt_cache_new(8);
	ck_assert_int_eq(verify(t, &err), 0);
	d2 = strrchr(t, '.');
	d2[5] = d2[5] == 'A' ? 'B' : 'A';
	ck_assert_int_eq(verify(t, &err), -1);
	ck_assert_str_eq(err, "bad signature");
	ck_assert_uint_eq(stats().hits, 0);
	free(t);
}
END_TEST

START_TEST(cache_bounded_clock)
{
	char		*t[20], name[16];
	const char	*err;
	size_t		 i;

	v.cache = jwt_cache_new(8);
	for (i = 0; i < 20; i++) {
		snprintf(name, sizeof(name), "j%zu", i);
		t[i] = tok_jti(name, NOW + 600);
	}
	for (i = 0; i < 8; i++)
		ck_assert_int_eq(verify(t[i], &err), 0);
	ck_assert_uint_eq(stats().entries, 8);
	ck_assert_int_eq(verify(t[0], &err), 0);
	ck_assert_uint_eq(stats().hits, 1);
	ck_assert_int_eq(verify(t[8], &err), 0);
	ck_assert_uint_eq(stats().evictions, 1);
	ck_assert_int_eq(verify(t[0], &err), 0);
	ck_assert_uint_eq(stats().hits, 2);
	ck_assert_int_eq(verify(t[1], &err), 0);
	ck_assert_uint_eq(stats().hits, 2);

	for (i = 9; i < 20; i++)
		ck_assert_int_eq(verify(t[i], &err), 0);
	ck_assert_uint_eq(stats().entries, 8);
	ck_assert_uint_eq(stats().capacity, 8);
	ck_assert_uint_eq(stats().inserts, 21);
	ck_assert_uint_eq(stats().evictions, 13);

	jwt_cache_flush(v.cache);
	ck_assert_uint_eq(stats().entries, 0);
	ck_assert_uint_eq(stats().flushes, 1);
	ck_assert_int_eq(verify(t[19], &err), 0);
	ck_assert_uint_eq(stats().hits, 2);
	ck_assert_uint_eq(stats().entries, 1);
	for (i = 0; i < 20; i++)
		free(t[i]);
}
END_TEST

/* A new key set (reload) empties the cache by itself. */
START_TEST(cache_follows_keys)
{
	struct keys_set	*other;
	char		*t = tok_jti("k", NOW + 600);
	const char	*err;

	v.cache = jwt_cache_new(8);
	ck_assert_int_eq(verify(t, &err), 0);
	ck_assert_int_eq(verify(t, &err), 0);
	ck_assert_uint_eq(stats().hits, 1);

	other = keys_set_new();
	ck_assert_int_eq(keys_set_add(other, jwk(A3_JWK), &err), 0);
	v.keys = other;
	ck_assert_int_eq(verify(t, &err), -1);
	ck_assert_str_eq(err, "unknown kid");
	ck_assert_uint_eq(stats().hits, 1);
	ck_assert_uint_eq(stats().flushes, 1);
	v.keys = set;
	keys_set_free(other);
	free(t);
}
END_TEST

static double
elapsed_us(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) * 1e6 +
	    (double)(b->tv_nsec - a->tv_nsec) / 1e3;
}

/* Timed without Check assertions in the loops (each one costs a write). */
static int
verify_loop(const char *t, int n)
{
	struct jwt_claims	 c;
	const char		*err;
	int			 i, bad = 0;

	for (i = 0; i < n; i++) {
		if (jwt_verify_access(&v, t, strlen(t), NOW, &c, &err) != 0)
			bad++;
		jwt_claims_free(&c);
	}
	return bad;
}

START_TEST(cache_is_faster)
{
	struct timespec	 t0, t1, t2;
	char		*t = tok_jti("perf", NOW + 600);
	double		 full, hit;
	int		 n = 500;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	ck_assert_int_eq(verify_loop(t, n), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	v.cache = jwt_cache_new(16);
	ck_assert_int_eq(verify_loop(t, n), 0);
	clock_gettime(CLOCK_MONOTONIC, &t2);
	full = elapsed_us(&t0, &t1) / n;
	hit = elapsed_us(&t1, &t2) / n;
	printf("jwt: EdDSA access token verify %.1f us, cached %.1f us\n",
	    full, hit);
	ck_assert_uint_eq(stats().hits, (uint64_t)n - 1);
	ck_assert(hit < full);
	free(t);
}
END_TEST

/* Published vectors at the JWS layer. */

static char *
read_text(const char *rel)
{
	char		 path[1024];
	char		*buf;
	FILE		*fp;
	size_t		 n;

	if (unit_testdata(rel, path, sizeof(path)) == NULL)
		return NULL;
	fp = fopen(path, "r");
	ck_assert_ptr_nonnull(fp);
	buf = bw_malloc(65536);
	n = fread(buf, 1, 65535, fp);
	fclose(fp);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' ||
	    buf[n - 1] == ' '))
		n--;
	buf[n] = '\0';
	return buf;
}

static void
vector_jwsc(const char *name, enum keys_alg alg)
{
	char		 rel[128];
	char		*key, *tok, *payload;
	struct keys_key	*k;
	const char	*err = NULL;
	size_t		 plen;

	snprintf(rel, sizeof(rel), "jwt/latchset-jose-vectors/%s.jwk", name);
	if ((key = read_text(rel)) == NULL)
		return;
	snprintf(rel, sizeof(rel), "jwt/latchset-jose-vectors/%s.jwsc", name);
	tok = read_text(rel);
	ck_assert_ptr_nonnull(tok);
	k = jwk(key);
	ck_assert_int_eq(k->alg, alg);
	ck_assert_msg(jwt_jws_payload(tok, strlen(tok), k, &payload, &plen,
	    &err) == 0, "%s: %s", name, err);
	ck_assert_ptr_nonnull(strstr(payload, "\"iss\":\"joe\""));
	free(payload);
	tok[strlen(tok) - 3] ^= 1;
	ck_assert_int_eq(jwt_jws_verify(tok, strlen(tok), k, &err), -1);
	keys_key_free(k);
	free(key);
	free(tok);
}

START_TEST(rfc7515_a1_a3)
{
	vector_jwsc("rfc7515_A.1", KEYS_ALG_HS256);
	vector_jwsc("rfc7515_A.3", KEYS_ALG_ES256);
}
END_TEST

/* The RFC 8037 A.4 example and negatives derived from it. */
struct ed_vec {
	char		*hb;
	char		*pb;
	unsigned char	 sig[64];
	struct keys_key	*pub;
	struct keys_key	*priv;
};

static char *
ed_tok(const struct ed_vec *e, const unsigned char *sig, size_t n)
{
	char	*sb = b64(sig, n), *t = cat3(e->hb, e->pb, sb);

	free(sb);
	return t;
}

static void
ed_refuse(const struct ed_vec *e, const unsigned char *sig, size_t n,
    const char *msg)
{
	char		*t = ed_tok(e, sig, n);
	const char	*err = NULL;

	ck_assert_msg(jwt_jws_verify(t, strlen(t), e->pub, &err) == -1,
	    "accepted %s", t);
	if (msg != NULL)
		ck_assert_str_eq(err, msg);
	free(t);
}

/* S + L, little-endian: the malleable twin of a valid signature. */
static void
add_l(unsigned char *s)
{
	static const unsigned char l[32] = {
		0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58,
		0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
		[31] = 0x10,
	};
	unsigned int	 carry = 0, i;

	for (i = 0; i < 32; i++) {
		carry += (unsigned int)s[i] + l[i];
		s[i] = (unsigned char)carry;
		carry >>= 8;
	}
}

START_TEST(rfc8037_ed25519)
{
	static const int bits[] = { 0, 7, 100, 255, 256, 300, 500, 511 };
	struct ed_vec	 e;
	json_error_t	 jerr;
	json_t		*doc;
	const char	*compact, *payload, *err = NULL;
	char		 path[1024], *t, *d1, *d2, *pl, *h, *tbs, *wrongpem;
	unsigned char	 sig[66];
	size_t		 n, i, plen;
	EVP_PKEY	*other;
	struct keys_key	*wrong;
	BIO		*bio;
	long		 pn;
	char		*pp;

	if (unit_testdata("jwt/ietf-jose-cookbook/curve25519/jws.json", path,
	    sizeof(path)) == NULL)
		return;
	doc = json_load_file(path, 0, &jerr);
	ck_assert_ptr_nonnull(doc);
	compact = json_string_value(json_object_get(json_object_get(doc,
	    "output"), "compact"));
	payload = json_string_value(json_object_get(json_object_get(doc,
	    "input"), "payload"));
	ck_assert(compact != NULL && payload != NULL);
	e.pub = jwk(RFC8037_PUB);
	e.priv = jwk(RFC8037_PRIV);
	ck_assert_int_eq(jwt_jws_payload(compact, strlen(compact), e.pub, &pl,
	    &plen, &err), 0);
	ck_assert_str_eq(pl, payload);
	free(pl);
	ck_assert_int_eq(jwt_jws_verify(compact, strlen(compact), e.priv,
	    &err), 0);

	d1 = strchr(compact, '.');
	d2 = strrchr(compact, '.');
	e.hb = bw_strndup(compact, (size_t)(d1 - compact));
	e.pb = bw_strndup(d1 + 1, (size_t)(d2 - d1 - 1));
	ck_assert_int_eq(bw_b64url_decode(d2 + 1, strlen(d2 + 1), e.sig,
	    sizeof(e.sig), &n), 0);
	ck_assert_uint_eq(n, 64);

	for (i = 0; i < BW_ARRAY_LEN(bits); i++) {
		memcpy(sig, e.sig, 64);
		sig[bits[i] / 8] ^= (unsigned char)(1 << (bits[i] % 8));
		ed_refuse(&e, sig, 64, NULL);
	}
	memcpy(sig, e.sig, 64);
	add_l(sig + 32);
	ed_refuse(&e, sig, 64, "EdDSA signature with S >= L");
	memset(sig + 32, 0xff, 32);
	ed_refuse(&e, sig, 64, "EdDSA signature with S >= L");
	ed_refuse(&e, e.sig, 63, "signature has the wrong length for the "
	    "algorithm");
	ed_refuse(&e, e.sig, 32, "signature has the wrong length for the "
	    "algorithm");
	memcpy(sig, e.sig, 64);
	sig[64] = 0;
	ed_refuse(&e, sig, 65, "signature too long");
	ed_refuse(&e, e.sig, 0, "signature has the wrong length for the "
	    "algorithm");

	t = ed_tok(&e, e.sig, 64);
	t[strlen(t) - 1] = '\0';
	ck_assert_int_eq(jwt_jws_verify(t, strlen(t), e.pub, &err), -1);
	free(t);

	t = bw_strdup(compact);
	t[d1 - compact + 3] ^= 0x01;
	ck_assert_int_eq(jwt_jws_verify(t, strlen(t), e.pub, &err), -1);
	free(t);

	other = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	bio = BIO_new(BIO_s_mem());
	ck_assert_int_eq(PEM_write_bio_PUBKEY(bio, other), 1);
	pn = BIO_get_mem_data(bio, &pp);
	wrongpem = bw_strndup(pp, (size_t)pn);
	wrong = keys_key_parse((unsigned char *)wrongpem, strlen(wrongpem),
	    &err);
	ck_assert_ptr_nonnull(wrong);
	ck_assert_int_eq(jwt_jws_verify(compact, strlen(compact), wrong,
	    &err), -1);
	ck_assert_str_eq(err, "bad signature");
	keys_key_free(wrong);
	free(wrongpem);
	BIO_free(bio);
	EVP_PKEY_free(other);

	/* Misspelled alg, validly signed: only the pin refuses it. */
	{
		static const char *const algs[] = {
			"EdDSa", "EDDSA", "eddsa", "Ed25519", "ED25519",
		};

		for (i = 0; i < BW_ARRAY_LEN(algs); i++) {
			h = bw_malloc(64);
			snprintf(h, 64, "{\"alg\":\"%s\"}", algs[i]);
			free(e.hb);
			e.hb = b64(h, strlen(h));
			n = strlen(e.hb) + strlen(e.pb) + 2;
			tbs = bw_malloc(n);
			snprintf(tbs, n, "%s.%s", e.hb, e.pb);
			sign_with(e.priv, tbs, sig);
			ed_refuse(&e, sig, 64,
			    "alg is not the algorithm of the key");
			free(tbs);
			free(h);
		}
	}
	keys_key_free(e.pub);
	keys_key_free(e.priv);
	free(e.hb);
	free(e.pb);
	json_decref(doc);
}
END_TEST

/*
 * Wycheproof json_web_signature_test.json, every HS256 and ES256 group.
 * Deviations from the labels, by design: 357, 367 and 370 are the same
 * bytes (367 and 370 are labelled invalid: mislabelled, accepted), 372 and
 * 373 are labelled valid but carry characters outside the base64url
 * alphabet (refused as non-canonical).
 */
static bool
wp_group_wanted(const json_t *key)
{
	const char	*kty = json_string_value(json_object_get(key, "kty"));
	const char	*crv = json_string_value(json_object_get(key, "crv"));
	const char	*alg = json_string_value(json_object_get(key, "alg"));

	if (kty == NULL)
		return false;
	if (strcmp(kty, "oct") == 0)
		return alg == NULL || strcmp(alg, "HS256") == 0;
	if (strcmp(kty, "EC") == 0 && crv != NULL && strcmp(crv, "P-256") == 0)
		return alg == NULL || strcmp(alg, "ES256") == 0;
	return false;
}

START_TEST(wycheproof_jws)
{
	static const int expect_off[] = { 367, 370, 372, 373 };
	json_error_t	 jerr;
	json_t		*doc, *groups, *g, *tests, *tc, *key;
	char		 path[1024], *keytext;
	const char	*jws, *result, *err, *same[3] = { NULL, NULL, NULL };
	struct keys_key	*k;
	size_t		 gi, ti, cases = 0, agree = 0, noff = 0;
	int		 off[16], id;
	bool		 got, want;

	if (unit_testdata("jwt/wycheproof/json_web_signature_test.json", path,
	    sizeof(path)) == NULL)
		return;
	doc = json_load_file(path, 0, &jerr);
	ck_assert_ptr_nonnull(doc);
	groups = json_object_get(doc, "testGroups");
	json_array_foreach(groups, gi, g) {
		key = json_object_get(g, "public");
		if (key == NULL)
			key = json_object_get(g, "private");
		if (!wp_group_wanted(key))
			continue;
		keytext = json_dumps(key, JSON_COMPACT);
		err = NULL;
		k = keys_key_from_jwk(keytext, strlen(keytext), &err);
		free(keytext);
		tests = json_object_get(g, "tests");
		json_array_foreach(tests, ti, tc) {
			id = (int)json_integer_value(json_object_get(tc,
			    "tcId"));
			jws = json_string_value(json_object_get(tc, "jws"));
			result = json_string_value(json_object_get(tc,
			    "result"));
			ck_assert(jws != NULL && result != NULL);
			ck_assert_str_ne(result, "acceptable");
			got = k != NULL && jwt_jws_verify(jws, strlen(jws), k,
			    &err) == 0;
			want = strcmp(result, "valid") == 0;
			cases++;
			if (got == want)
				agree++;
			else {
				ck_assert_msg(noff < BW_ARRAY_LEN(off),
				    "tcId %d: got %d", id, got);
				off[noff++] = id;
			}
			if (id == 357 || id == 367 || id == 370)
				same[id == 357 ? 0 : id == 367 ? 1 : 2] = jws;
		}
		keys_key_free(k);
	}
	printf("wycheproof: %zu cases, %zu agree, 2 mislabelled (367, 370), "
	    "2 refused as non-canonical base64url (372, 373)\n", cases, agree);
	ck_assert_uint_eq(cases, 81);
	ck_assert_uint_eq(noff, BW_ARRAY_LEN(expect_off));
	for (gi = 0; gi < noff; gi++)
		ck_assert_int_eq(off[gi], expect_off[gi]);
	ck_assert_uint_eq(agree, cases - noff);
	ck_assert(same[0] != NULL && same[1] != NULL && same[2] != NULL);
	ck_assert_str_eq(same[0], same[1]);
	ck_assert_str_eq(same[0], same[2]);
	json_decref(doc);
}
END_TEST

Suite *
unit_suite(void)
{
	Suite	*s = suite_create("jwt");
	TCase	*tc;

	tc = tcase_create("access");
	tcase_set_timeout(tc, UNIT_TIMEOUT);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, sign_and_verify);
	tcase_add_test(tc, sign_format);
	tcase_add_test(tc, claims_json_refuses_bad_utf8);
	tcase_add_test(tc, jti_new);
	tcase_add_test(tc, positive_controls);
	tcase_add_test(tc, alg_none);
	tcase_add_test(tc, alg_confusion);
	tcase_add_test(tc, alg_other);
	tcase_add_test(tc, kid_unknown);
	tcase_add_test(tc, header_forbidden);
	tcase_add_test(tc, typ_checked);
	tcase_add_test(tc, times_bounds);
	tcase_add_test(tc, times_invalid);
	tcase_add_test(tc, clock_range);
	tcase_add_test(tc, iss_aud);
	tcase_add_test(tc, private_claims);
	tcase_add_test(tc, claim_bounds);
	tcase_add_test(tc, tampered);
	tcase_add_test(tc, duplicate_members);
	tcase_add_test(tc, base64url_strict);
	tcase_add_test(tc, payload_stray_bits);
	tcase_add_test(tc, structure);
	tcase_add_test(tc, token_size);
	tcase_add_test(tc, revocation_callbacks);
	tcase_add_test(tc, verifier_init);
	suite_add_tcase(s, tc);

	tc = tcase_create("cache");
	tcase_set_timeout(tc, UNIT_TIMEOUT);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, cache_limits);
	tcase_add_test(tc, cache_hit_rechecks);
	tcase_add_test(tc, cache_tampered_misses);
	tcase_add_test(tc, cache_bounded_clock);
	tcase_add_test(tc, cache_follows_keys);
	tcase_add_test(tc, cache_is_faster);
	suite_add_tcase(s, tc);

	tc = tcase_create("vectors");
	tcase_set_timeout(tc, UNIT_TIMEOUT);
	tcase_add_test(tc, rfc7515_a1_a3);
	tcase_add_test(tc, rfc8037_ed25519);
	tcase_add_test(tc, wycheproof_jws);
	suite_add_tcase(s, tc);
	return s;
}
