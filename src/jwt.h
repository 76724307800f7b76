/*
 * jwt.h - access tokens (SPEC 8): JWS compact serialization signed with
 * EdDSA (Ed25519), ES256 (raw r||s) or HS256, claims per RFC 9068, and a
 * bounded per-worker cache of verified tokens.
 *
 * Verification is pinned: the key is found by the token's kid among the
 * loaded keys (keys.h) and the token's alg must be that key's algorithm.
 * Everything SPEC 8 lists is refused: alg none (any case) or any other
 * alg, the header members jku, jwk, x5u, x5c and crit, a typ other than
 * "at+jwt" or "application/at+jwt" (exact), non-canonical base64url,
 * duplicate JSON member names (header and payload are read with the strict
 * json_parse(), never jansson), tokens over max_token_size, missing or
 * invalid exp, nbf, iat, iss or aud, iat in the future beyond leeway,
 * exp - iat > access_ttl + leeway, a deny-listed jti and an iat before the
 * user's tokens_valid_after.  The error strings are for the log only;
 * clients get one 401 whatever the reason.
 *
 * Times are NumericDate seconds; the claims exp, nbf and iat must be
 * integer lexemes in [0, JWT_TIME_MAX].
 */
#ifndef BW_JWT_H
#define BW_JWT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct conf_auth;
struct keys_key;
struct keys_set;
struct jwt_cache;

#define JWT_TOKEN_CEILING	((size_t)64 * 1024) /* above max_token_size */
#define JWT_KID_MAX		128		/* a longer kid: refused */
#define JWT_ID_MAX		128		/* sub, sid, jti: bytes */
#define JWT_NAME_MAX		256		/* name: bytes */
#define JWT_ROLES_MAX		64		/* roles: members */
#define JWT_ROLE_MAX		63		/* one role name: bytes */
#define JWT_AUD_MAX		16		/* members of an aud array */
#define JWT_TIME_MAX		253402300799LL	/* 9999-12-31T23:59:59Z */
#define JWT_JTI_LEN		22		/* jwt_jti_new(): 128 bits */
#define JWT_CACHE_DEFAULT	4096
#define JWT_CACHE_MAX		(1 << 20)

/*
 * The verified claims.  Every string is NUL-terminated, free of NUL bytes
 * and owned by mem (one allocation); jwt_claims_free() releases it.
 * sub, sid and jti are printable ASCII; name is UTF-8; roles match
 * ^[a-z][a-z0-9_]{0,62}$.
 */
struct jwt_claims {
	const char	*sub;		/* user id */
	const char	*name;
	const char	*sid;		/* refresh family */
	const char	*jti;
	const char	**roles;
	size_t		 nroles;
	int64_t		 iat;
	int64_t		 nbf;
	int64_t		 exp;
	char		*mem;
	size_t		 memlen;
};

/*
 * What jwt_verify_access() checks against.  The auth layer plugs the
 * revocation state in through the two callbacks (either may be NULL):
 * is_denied(arg, jti) is true for a deny-listed jti; valid_after(arg, sub,
 * sid) returns the user's tokens_valid_after in seconds (INT64_MIN: none),
 * and a token whose iat is before it is refused; sid lets the caller
 * exempt the session that set the cut-off.  Both are also called on cache
 * hits.  cache may be NULL (every token verified in full).
 */
struct jwt_verifier {
	const struct keys_set	*keys;
	const char		*issuer;
	const char		*audience;
	int64_t			 leeway;	/* seconds */
	int64_t			 access_ttl;	/* seconds */
	size_t			 max_token_size;
	bool			(*is_denied)(void *arg, const char *jti);
	int64_t			(*valid_after)(void *arg, const char *sub,
				    const char *sid);
	void			*arg;
	struct jwt_cache	*cache;
};

/* Fills v from auth (durations rounded down to seconds); no callbacks. */
void	 jwt_verifier_init(struct jwt_verifier *v, const struct conf_auth *,
	    const struct keys_set *, struct jwt_cache *);

/*
 * Verifies an access token (the bytes after "Bearer ").  Returns 0 and
 * fills out (release with jwt_claims_free), or -1 with *err set.
 */
int	 jwt_verify_access(const struct jwt_verifier *, const char *token,
	    size_t len, int64_t now, struct jwt_claims *out, const char **err);
void	 jwt_claims_free(struct jwt_claims *);

/*
 * The JWS layer alone, with the key given: three segments of canonical
 * base64url, a header that is a JSON object without duplicate names or
 * jku/jwk/x5u/x5c/crit, alg equal to the key's, and a valid signature.
 * No claim, typ or kid check.  jwt_jws_payload() also returns the decoded
 * payload (malloc'd, NUL added after plen bytes).
 */
int	 jwt_jws_verify(const char *token, size_t len, const struct keys_key *,
	    const char **err);
int	 jwt_jws_payload(const char *token, size_t len,
	    const struct keys_key *, char **payload, size_t *plen,
	    const char **err);

/*
 * Signing.  jwt_sign() makes header {"alg","typ":"at+jwt","kid"} for the
 * key (which must be able to sign) and the compact serialization of
 * claims (a JSON object, members in their insertion order); *out is
 * malloc'd.  jwt_claims_json() builds the claims of an access token in a
 * fixed order (iss, sub, aud, iat, nbf, exp, jti, sid, name, roles); NULL
 * when a string is not valid UTF-8.  jwt_jti_new() writes JWT_JTI_LEN
 * base64url characters of 128 random bits and a NUL.
 */
int	 jwt_sign(const struct keys_key *, const json_t *claims, char **out,
	    const char **err);
json_t	*jwt_claims_json(const char *issuer, const char *audience,
	    const struct jwt_claims *);
int	 jwt_jti_new(char *out);

/*
 * jwt_sign() in three steps, for a signature made elsewhere (the key
 * manager, keymgr.h).  jwt_sign_begin() writes the signing input
 * (base64url header "." base64url claims) for a key of alg and kid into a
 * malloc'd *out of room enough for the signature, *outlen its length;
 * jwt_sign_bytes() signs tbs with a key that can sign (raw r||s for
 * ES256, at most JWT_SIG_MAX bytes); jwt_sign_finish() appends "." and the
 * signature to the signing input.
 */
#define JWT_SIG_MAX		64
int	 jwt_sign_begin(int alg, const char *kid, const json_t *claims,
	    char **out, size_t *outlen, const char **err);
int	 jwt_sign_bytes(const struct keys_key *, const char *tbs, size_t len,
	    unsigned char *sig, size_t *siglen);
void	 jwt_sign_finish(char *tok, size_t n, const unsigned char *sig,
	    size_t siglen);

/*
 * The cache of verified tokens: bounded (capacity entries, clock
 * eviction), keyed by SHA-256 of the token (the token itself is not kept),
 * holding the claims.  A hit skips the signature and parsing but still
 * checks exp, nbf and iat against now and calls both callbacks.  It flushes
 * itself when the verifier's key set changes; call jwt_cache_flush() on
 * every revocation and reload as well.  One cache per worker (not
 * thread-safe).
 */
struct jwt_cache_stats {
	uint64_t	 hits;
	uint64_t	 misses;
	uint64_t	 inserts;
	uint64_t	 evictions;
	uint64_t	 flushes;
	size_t		 entries;
	size_t		 capacity;
};

/* capacity in [1, JWT_CACHE_MAX]; NULL otherwise. */
struct jwt_cache	*jwt_cache_new(size_t capacity);
void			 jwt_cache_flush(struct jwt_cache *);
void			 jwt_cache_stats(const struct jwt_cache *,
			    struct jwt_cache_stats *);
void			 jwt_cache_free(struct jwt_cache *);

#endif
