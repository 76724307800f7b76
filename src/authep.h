/*
 * authep.h - the built-in endpoints of SPEC 8 under auth.endpoints
 * (login, refresh, logout, me, password).
 *
 * They are routes of their own, not of the configuration: authep_add()
 * registers them with the server, each with its handlers (nothing when
 * auth, its endpoints or the signing keys are absent).  The hashing pool
 * is the worker's, made before its sandbox (threads cannot be created
 * after).  The admit hook treats them like any route (credentials always
 * verified; login, refresh and logout are public; me and password answer
 * 401 themselves without a user).  Revocations they cause (logout, a
 * password change, a reused refresh token) go to the auth layer at once
 * (auth_revoked).
 *
 * Threat model: the bodies carry passwords and refresh tokens.  They are
 * copied only into the request's state, wiped when it ends, and never
 * logged; refresh tokens reach the database as SHA-256 digests only.  A
 * login for a user that does not exist runs the same steps (lockout
 * check, lookup, one argon2id verification of a dummy hash, failure
 * count) and gets byte for byte the same 401 as a wrong password.
 */
#ifndef BW_AUTHEP_H
#define BW_AUTHEP_H

#include <stddef.h>

struct auth;
struct authep;
struct conf;
struct conf_route;
struct db_pool;
struct http_server;
struct keys_set;
struct password_pool;

#define AUTHEP_MAX_BODY		4096	/* bytes of an endpoint's body */
#define AUTHEP_PW_QUEUE		128	/* hashing jobs waiting per worker */

/* pw may be NULL: a request that needs hashing then gets 503. */
struct authep	*authep_new(struct auth *, const struct conf *,
		    const struct keys_set *, struct password_pool *);
void		 authep_free(struct authep *);
/*
 * Access tokens signed with EdDSA or ES256 are signed by the key manager
 * through this client (keymgr.h); HS256 tokens, and every token when no
 * client is set (tests), are signed in the process.
 */
struct keymgr_client;
void		 authep_set_signer(struct authep *, struct keymgr_client *);
/* Registers the routes once; -1 with *err when one clashes. */
int		 authep_add(struct authep *, struct http_server *,
		    const char **err);
/*
 * The worker's pool, not started yet, after authep_add(): the statements
 * the endpoints run are registered with it.  Without a pool, requests that
 * need the database answer 503.
 */
void		 authep_attach_pool(struct authep *, struct db_pool *);

/*
 * The built-in endpoint a declared route would take the place of (same
 * method and path under auth.endpoints), or NULL: such a configuration is
 * refused at load.
 */
const char	*authep_clash(const struct conf *, const struct conf_route *);

#endif
