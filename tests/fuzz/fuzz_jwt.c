/*
 * fuzz_jwt.c - access token verification and key parsing.
 *
 * A fixed key set (the RFC 8037 Ed25519 key, the RFC 7515 A.3 P-256 key
 * and an HS256 secret) and a verifier with a small cache.  The first byte
 * picks what the rest is:
 *   0: a token for jwt_verify_access(), verified twice (the second time
 *      through the cache) with the same verdict;
 *   1: header JSON, a NUL, claims JSON: signed here with the HS256 key, so
 *      the claim checks behind the signature are reached;
 *   2: a token for jwt_jws_verify() with each key;
 *   3: a key file for keys_key_parse() and a JWK for keys_key_from_jwk().
 * Accepted claims must hold their documented invariants.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "jwt.h"
#include "keys.h"
#include "util.h"

#define FUZZ_NOW	1700000000LL

static struct keys_set		*fuzz_keys;
static struct jwt_verifier	 fuzz_v;

static const char fuzz_ed[] = "{\"kty\":\"OKP\",\"crv\":\"Ed25519\","
    "\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\","
    "\"d\":\"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A\"}";
static const char fuzz_es[] = "{\"kty\":\"EC\",\"crv\":\"P-256\","
    "\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\","
    "\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\","
    "\"d\":\"jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI\"}";
static const unsigned char fuzz_secret[32] = "bulwark fuzz HS256 secret 32 b!";

static void
fuzz_check(int ok)
{
	if (!ok)
		abort();
}

static bool
fuzz_denied(void *arg, const char *jti)
{
	(void)arg;
	return strcmp(jti, "denied") == 0;
}

static int64_t
fuzz_valid_after(void *arg, const char *sub, const char *sid)
{
	(void)arg;
	(void)sid;
	return strcmp(sub, "7") == 0 ? FUZZ_NOW : INT64_MIN;
}

static void
fuzz_init(void)
{
	const char	*err;

	if (fuzz_keys != NULL)
		return;
	fuzz_keys = keys_set_new();
	fuzz_check(keys_set_add(fuzz_keys, keys_key_from_jwk(fuzz_ed,
	    strlen(fuzz_ed), &err), &err) == 0);
	fuzz_check(keys_set_add(fuzz_keys, keys_key_from_jwk(fuzz_es,
	    strlen(fuzz_es), &err), &err) == 0);
	fuzz_check(keys_set_add(fuzz_keys, keys_key_parse(fuzz_secret,
	    sizeof(fuzz_secret), &err), &err) == 0);
	fuzz_v.keys = fuzz_keys;
	fuzz_v.issuer = "https://api.example.com";
	fuzz_v.audience = "api.example.com";
	fuzz_v.leeway = 30;
	fuzz_v.access_ttl = 900;
	fuzz_v.max_token_size = 4096;
	fuzz_v.is_denied = fuzz_denied;
	fuzz_v.valid_after = fuzz_valid_after;
	fuzz_v.cache = jwt_cache_new(16);
}

static void
fuzz_claims_ok(const struct jwt_claims *c)
{
	size_t	 i;

	fuzz_check(c->sub != NULL && strlen(c->sub) <= JWT_ID_MAX);
	fuzz_check(c->sid != NULL && strlen(c->sid) <= JWT_ID_MAX);
	fuzz_check(c->jti != NULL && strlen(c->jti) <= JWT_ID_MAX);
	fuzz_check(strcmp(c->jti, "denied") != 0);
	fuzz_check(c->name != NULL && strlen(c->name) <= JWT_NAME_MAX);
	fuzz_check(bw_utf8_valid(c->name, strlen(c->name)));
	fuzz_check(c->nroles <= JWT_ROLES_MAX);
	for (i = 0; i < c->nroles; i++)
		fuzz_check(strlen(c->roles[i]) <= JWT_ROLE_MAX);
	fuzz_check(c->exp + fuzz_v.leeway > FUZZ_NOW);
	fuzz_check(c->exp - c->iat <= fuzz_v.access_ttl + fuzz_v.leeway);
}

static void
fuzz_access(const char *t, size_t len)
{
	struct jwt_claims	 c;
	const char		*err = NULL;
	int			 r1, r2;

	r1 = jwt_verify_access(&fuzz_v, t, len, FUZZ_NOW, &c, &err);
	fuzz_check(r1 == 0 ? c.mem != NULL : err != NULL && c.mem == NULL);
	if (r1 == 0)
		fuzz_claims_ok(&c);
	jwt_claims_free(&c);
	r2 = jwt_verify_access(&fuzz_v, t, len, FUZZ_NOW, &c, &err);
	fuzz_check(r1 == r2);
	jwt_claims_free(&c);
}

static void
fuzz_signed(const uint8_t *data, size_t size)
{
	const uint8_t	*nul = memchr(data, '\0', size);
	unsigned char	 mac[32];
	unsigned int	 maclen;
	size_t		 hl, pl, n;
	char		*t;

	if (nul == NULL)
		return;
	hl = (size_t)(nul - data);
	pl = size - hl - 1;
	if (hl > 2048 || pl > 2048)
		return;
	t = bw_malloc(bw_b64url_encoded_len(hl) + bw_b64url_encoded_len(pl) +
	    bw_b64url_encoded_len(32) + 3);
	n = bw_b64url_encode(data, hl, t);
	t[n++] = '.';
	n += bw_b64url_encode(nul + 1, pl, t + n);
	HMAC(EVP_sha256(), fuzz_secret, sizeof(fuzz_secret),
	    (unsigned char *)t, n, mac, &maclen);
	t[n++] = '.';
	n += bw_b64url_encode(mac, maclen, t + n);
	fuzz_access(t, n);
	free(t);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct keys_key	*k;
	char		*t;
	const char	*err;
	size_t		 i;

	fuzz_init();
	if (size < 1)
		return 0;
	t = bw_malloc(size - 1);
	memcpy(t, data + 1, size - 1);
	switch (data[0] % 4) {
	case 0:
		fuzz_access(t, size - 1);
		break;
	case 1:
		fuzz_signed(data + 1, size - 1);
		break;
	case 2:
		for (i = 0; i < fuzz_keys->nkeys; i++)
			(void)jwt_jws_verify(t, size - 1, fuzz_keys->keys[i],
			    &err);
		break;
	case 3:
		k = keys_key_parse(data + 1, size - 1, &err);
		if (k != NULL)
			fuzz_check(strlen(k->kid) == KEYS_KID_LEN);
		keys_key_free(k);
		k = keys_key_from_jwk(t, size - 1, &err);
		if (k != NULL)
			fuzz_check(strlen(k->kid) == KEYS_KID_LEN);
		keys_key_free(k);
		break;
	}
	free(t);
	return 0;
}
