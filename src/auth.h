/*
 * auth.h - credentials on routed requests and authorization (SPEC 8).
 *
 * Every routed request passes auth_admit() after the rate limit by ip and
 * before its parameters are read.  Credentials come only from
 * "Authorization: Bearer <jwt>" or "X-API-Key: <key>"; both at once, a
 * repeated header, another scheme or an empty token is 401.  Presented
 * credentials are always verified, on public routes too; without any a
 * request passes only a public route (else 401), and an authenticated
 * caller without one of the route's roles gets 403.  Every 401 carries
 * WWW-Authenticate: Bearer, with error="invalid_token" when something was
 * presented.  The reason for a refusal goes to the log, never to the
 * client.
 *
 * Revocation state is per worker and read from the database: the live
 * deny-listed jtis, every user's tokens_valid_after (with its exempt sid
 * and the disabled flag) and the active API keys.  It is loaded once the
 * worker's pool is attached, read again at once on every notification of
 * the LISTEN connection (auth_listen) and after each of its reconnects,
 * and every AUTH_RELOAD_MS as a safety net; the verified-token cache is
 * flushed on every notification and whenever a reload changed the state.
 * A cut-off is compared as authdb.h states (iat * 10^6 below
 * tokens_valid_after is refused), so a token issued in the second of a
 * cut-off but before it is refused.  Until the first
 * load is complete, a request presenting credentials waits for it (SPEC
 * 12 Readiness) as for a pool connection: it holds a place in the pool's
 * queue (max_queue) for at most database.queue_timeout and is admitted
 * again from the start once the state is loaded, or answered 503 at its
 * deadline; 503 at once when the queue is full or the pool cannot have
 * requests wait (db_pool_can_wait).  A worker never admits a token it
 * cannot check against revocations.  A
 * token whose sub names no user, or a disabled one, is refused.
 *
 * Threat model: header values are hostile and bounded by the HTTP layer
 * (max_header_size) and by max_token_size; API key secrets are compared
 * as SHA-256 digests with bw_ct_equal; nothing about a credential reaches
 * the client or, beyond the key id, the log.
 */
#ifndef BW_AUTH_H
#define BW_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "authdb.h"
#include "jwt.h"
#include "rbac.h"

struct conf;
struct db_pool;
struct event_base;
struct http_head;
struct http_request;
struct keys_set;
struct auth;

#define AUTH_RELOAD_MS		30000	/* revocation state re-read */
#define AUTH_RETRY_MS		200	/* until the first load succeeds */
#define AUTH_MAX_ROWS		(1u << 20)	/* rows per state list */
#define AUTH_UUID_MAX		(AUTHDB_UUID_LEN + 1)
#define AUTH_STMT_TIMEOUT	"5000"	/* statement_timeout of its SQL, ms */

/* What a request's headers present (auth_credentials). */
enum auth_cred {
	AUTH_CRED_NONE,		/* neither header */
	AUTH_CRED_BEARER,	/* one Authorization: Bearer <token> */
	AUTH_CRED_APIKEY,	/* one X-API-Key */
	AUTH_CRED_BAD,		/* both, repeated, other scheme, empty */
};

enum auth_kind {
	AUTH_USER,		/* a verified access token */
	AUTH_APIKEY,		/* a verified API key */
};

/*
 * The verified caller of one request.  A user carries its token's claims;
 * an API key only its id.  roles are the effective roles (rbac).
 */
struct auth_principal {
	enum auth_kind		 kind;
	const struct auth	*auth;
	struct jwt_claims	 claims;	/* AUTH_USER */
	char			 key_id[AUTHDB_KEY_ID_LEN + 1];
	struct rbac_set		 roles;
};

/*
 * Per-worker state, made before the sandbox (it allocates and compiles
 * the role graph).  keys may be NULL when conf has no auth section: every
 * presented credential is then refused.  NULL with *err on failure.
 */
struct auth	*auth_new(struct event_base *, const struct conf *,
		    const struct keys_set *, const char **err);
void		 auth_free(struct auth *);
/*
 * Registers the statements it reads the revocation state with (the pool
 * not started yet) and starts loading (and periodically reloading) it
 * through pool; a NULL pool stops it.
 */
void		 auth_attach_pool(struct auth *, struct db_pool *);
/* True once the revocation state has been loaded. */
bool		 auth_ready(const struct auth *);
/* The verified-token cache (stats for tests and metrics). */
struct jwt_cache *auth_cache(const struct auth *);

/*
 * Which credentials the head presents; for BEARER and APIKEY, *tok and
 * *len give the token or key.
 */
enum auth_cred	 auth_credentials(const struct http_head *, const char **tok,
		    size_t *len);

/*
 * The admit hook (arg is the auth): 401, 403 or 503, answered here, return
 * -1; 0 admits, with the principal (if any) set on the request;
 * HTTP_ADMIT_WAIT parks the request until the revocation state is loaded
 * (http_request_readmit) or its deadline (503).  The
 * principal then belongs to the route layer, which takes it and frees it
 * with auth_principal_free() when the request ends.
 */
int		 auth_admit(struct http_request *, void *arg);
/* Takes the request's principal (NULL: anonymous) for the route layer. */
struct auth_principal *auth_principal_take(struct http_request *);
void		 auth_principal_free(struct auth_principal *);

/*
 * A revocation happened here (a logout, a password change, a revoked
 * session): the verified-token cache is flushed and the state read again
 * at once, or right after the reload in flight.
 */
void		 auth_revoked(struct auth *);
/*
 * The user's cut-off in the current snapshot, in whole seconds rounded up
 * (auth_cutoff_s of tokens_valid_after); INT64_MIN when none is known.
 */
int64_t		 auth_user_cutoff(const struct auth *, const char *id);
int64_t		 auth_cutoff_s(long long us);

/*
 * The LISTEN connection of SPEC 8 (revocations within one second): every
 * notification flushes the verified-token cache and reloads the state at
 * once; every (re)connection reloads it.  The periodic reload stays as a
 * safety net.  keys and vals as for db_pool_new; 0 or -1 with *err.
 */
int		 auth_listen(struct auth *, const char * const *keys,
		    const char * const *vals, int64_t connect_timeout_ms,
		    const char **err);

/*
 * Values for SQL binding (SPEC 7).  p may be NULL (anonymous).  Each
 * returns NULL for SQL NULL, or text that is either static, inside p, or
 * malloc'd into *owned (freed by the caller).
 *   auth_user_value:  field id, name or roles (PostgreSQL array text; "{}"
 *                     for anonymous callers);
 *   auth_claim_value: a claim of the caller's token (iss, aud, sub, name,
 *                     roles, sid, iat, nbf, exp, jti); NULL for API keys;
 *   auth_context:     the context statement's user id, name and roles
 *                     (comma-separated), "" when not applicable.
 */
const char	*auth_user_value(const struct auth_principal *,
		    const char *field, char **owned);
const char	*auth_claim_value(const struct auth_principal *,
		    const char *claim, char **owned);
void		 auth_context(const struct auth_principal *, const char **id,
		    const char **name, const char **roles, char **owned);

#endif
