/*
 * authep.c - the built-in endpoints of SPEC 8 under auth.endpoints: login,
 * refresh, logout, me and password.  See authep.h for the contract.
 *
 * Each request is a small state machine over database statements (each one
 * pipeline segment, so one transaction) and at most two jobs of the
 * hashing pool.  Its state (struct authep_req) hangs on the request as its
 * ctx: whatever ends the request (a response, the client leaving,
 * request_timeout) frees it, abandoning the statement or job in flight and
 * wiping the secrets it holds.  A callback that answers returns at once:
 * the state is gone after http_respond().
 *
 * Login and the password change run the same steps whether or not the
 * user exists: LOCKOUT, LOOKUP, VERIFY (a dummy hash for an unknown or
 * disabled user), then FAILURE or SUCCESS.  Every credential failure of an
 * endpoint is the one 401 of authep_refuse().
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <jansson.h>

#include "audit.h"
#include "audit_client.h"
#include "auth.h"
#include "authdb.h"
#include "authep.h"
#include "conf.h"
#include "db.h"
#include "http.h"
#include "jwt.h"
#include "keymgr.h"
#include "keys.h"
#include "log.h"
#include "metrics.h"
#include "node.h"
#include "password.h"
#include "util.h"

/* The built-in endpoints, in the order of authep_defs. */
enum authep_kind {
	AUTHEP_LOGIN,
	AUTHEP_REFRESH,
	AUTHEP_LOGOUT,
	AUTHEP_ME,
	AUTHEP_PASSWORD,
	AUTHEP_COUNT,
};

/* A built-in endpoint: its route and handlers, whose arg this is. */
struct authep_route {
	struct conf_route	 route;
	struct http_route_ops	 ops;
	struct authep		*ep;
	enum authep_kind	 kind;
};

#define AUTHEP_NO_STMT		SIZE_MAX	/* not registered */

struct authep {
	struct auth		*auth;
	const struct conf_auth	*ca;
	const struct keys_set	*keys;
	struct password_pool	*pw;
	struct keymgr_client	*signer;	/* EdDSA, ES256, or NULL */
	struct db_pool		*pool;
	size_t			 stmts[AUTHDB_STMT_COUNT];	/* handles */
	bool			 on;		/* routes registered */
	struct authep_route	 routes[AUTHEP_COUNT];
	struct node		 body;		/* marks a route with a body */
};

enum authep_step {
	EP_LOCKOUT,		/* LOCKOUT_QUERY */
	EP_LOOKUP,		/* LOGIN_LOOKUP */
	EP_VERIFY,		/* the pool: the stored or the dummy hash */
	EP_FAILURE,		/* LOGIN_FAILURE, then 401 */
	EP_SUCCESS,		/* LOGIN_SUCCESS */
	EP_FAMILY,		/* FAMILY_CREATE */
	EP_REHASH,		/* USER_REHASH, then 200 */
	EP_HASH,		/* the pool: the new password's hash */
	EP_CHANGE,		/* USER_CHANGE_PASSWORD, then 204 */
	EP_ROTATE,		/* REFRESH_ROTATE, then 200 */
	EP_REUSE,		/* REFRESH_LOOKUP: why the rotation failed */
	EP_REVOKE,		/* FAMILY_REVOKE, then 401 */
	EP_LOGOUT,		/* LOGOUT */
	EP_DENY,		/* DENY_JTI, then 204 */
};

#define AUTHEP_ROLES_MAX	(JWT_ROLES_MAX * (JWT_ROLE_MAX + 1))
#define AUTHEP_IP_MAX		64

struct authep_req {
	struct authep		*ep;
	struct http_request	*r;
	enum authep_kind	 kind;
	enum authep_step	 step;
	struct auth_principal	*p;
	struct db_req		*dbreq;
	struct password_job	*job;
	uint64_t		 sign;		/* the key manager's call */
	char			*tok;		/* the token being signed */
	size_t			 toklen;
	bool			 row;		/* the statement gave a row */
	bool			 row_bad;
	bool			 user_ok;	/* found, enabled, the caller */
	bool			 rehash;
	bool			 pw_bad;	/* cannot match: not hashed */
	char			 username[PASSWORD_USERNAME_MAX + 1];
	char			*pw;
	size_t			 pwlen;
	char			*newpw;
	size_t			 newpwlen;
	char			 user_id[AUTH_UUID_MAX];
	char			 sid[AUTH_UUID_MAX];
	char			 roles[AUTHEP_ROLES_MAX];
	char			 phc[PASSWORD_PHC_MAX];
	char			 new_phc[PASSWORD_PHC_MAX];
	char			 old_hash[AUTHDB_HASH_HEX_LEN + 1];
	char			 new_tok[AUTHDB_KEY_SECRET_B64 + 1];
	char			 new_hash[AUTHDB_HASH_HEX_LEN + 1];
	int64_t			 cutoff;	/* the user's, seconds */
	int64_t			 num;		/* lockout s, ms since used */
	bool			 num_null;
	bool			 used;
	bool			 revoked;
	bool			 expired;
	char			 used_ip[AUTHEP_IP_MAX];
};

struct authep_def {
	const char		*name;
	const char		*suffix;
	enum conf_method	 method;
	bool			 body;
};

static const struct authep_def authep_defs[AUTHEP_COUNT] = {
	[AUTHEP_LOGIN] = { "auth.login", "/login", METHOD_POST, true },
	[AUTHEP_REFRESH] = { "auth.refresh", "/refresh", METHOD_POST, true },
	[AUTHEP_LOGOUT] = { "auth.logout", "/logout", METHOD_POST, true },
	[AUTHEP_ME] = { "auth.me", "/me", METHOD_GET, false },
	[AUTHEP_PASSWORD] = { "auth.password", "/password", METHOD_POST,
	    true },
};

const char *
authep_clash(const struct conf *conf, const struct conf_route *r)
{
	size_t	 i, plen;

	if (conf->auth == NULL || conf->auth->endpoints == NULL ||
	    r->path == NULL)
		return NULL;
	plen = strlen(conf->auth->endpoints);
	if (strncmp(r->path, conf->auth->endpoints, plen) != 0)
		return NULL;
	for (i = 0; i < AUTHEP_COUNT; i++)
		if (authep_defs[i].method == r->method &&
		    strcmp(r->path + plen, authep_defs[i].suffix) == 0)
			return authep_defs[i].name;
	return NULL;
}

/* The statements the endpoints run, registered with the pool. */
static const enum authdb_stmt authep_stmts_used[] = {
	AUTHDB_LOCKOUT_QUERY, AUTHDB_LOGIN_LOOKUP, AUTHDB_LOGIN_FAILURE,
	AUTHDB_LOGIN_SUCCESS, AUTHDB_FAMILY_CREATE, AUTHDB_USER_REHASH,
	AUTHDB_USER_CHANGE_PASSWORD, AUTHDB_REFRESH_ROTATE,
	AUTHDB_REFRESH_LOOKUP, AUTHDB_FAMILY_REVOKE, AUTHDB_LOGOUT,
	AUTHDB_DENY_JTI,
};

static char	 authep_public[] = "public";
static char	*authep_roles[] = { authep_public };

static void	 authep_next(struct authep_req *);

static void
authep_req_free(void *arg)
{
	struct authep_req	*e = arg;

	if (e->dbreq != NULL)
		db_abandon(e->dbreq);
	if (e->job != NULL)
		password_job_abandon(e->job);
	if (e->sign != 0)
		keymgr_cancel(e->ep->signer, e->sign);
	free(e->tok);
	auth_principal_free(e->p);
	if (e->pw != NULL) {
		bw_wipe(e->pw, e->pwlen);
		free(e->pw);
	}
	if (e->newpw != NULL) {
		bw_wipe(e->newpw, e->newpwlen);
		free(e->newpw);
	}
	bw_wipe(e, sizeof(*e));
	free(e);
}

/* The one 401 of every credential failure at an endpoint. */
static void
authep_refuse(struct authep_req *e)
{
	metrics_auth_failure(e->kind == AUTHEP_LOGIN ||
	    e->kind == AUTHEP_PASSWORD ? METRICS_AUTH_PASSWORD :
	    METRICS_AUTH_INVALID);
	http_request_set_www_authenticate(e->r, "Bearer");
	http_respond_problem(e->r, PROBLEM_UNAUTHORIZED);
}

static void
authep_invalid(struct authep_req *e, const char *pointer, const char *msg)
{
	struct problem_error	 pe = { pointer, msg };

	http_respond_validation(e->r, PROBLEM_VALIDATION, &pe, 1);
}

/*
 * The members of an endpoint's body: an object whose members are exactly
 * the names given (NULL-terminated), each a string.  Not an object, a
 * missing or non-string member is 400; an unknown member 422.  Strings may
 * hold U+0000: vals and lens give their exact bytes.  -1 after answering.
 */
static int
authep_members(struct authep_req *e, const char *const *names,
    const char **vals, size_t *lens)
{
	const struct node	*body = http_request_body_node(e->r);
	const struct node	*v;
	size_t			 i, k;

	if (body == NULL || body->kind != NODE_MAP) {
		http_respond_problem(e->r, PROBLEM_MALFORMED);
		return -1;
	}
	for (i = 0; i < body->n; i++) {
		for (k = 0; names[k] != NULL; k++)
			if (strcmp(body->keys[i]->text, names[k]) == 0)
				break;
		if (names[k] == NULL) {
			authep_invalid(e, "", "unknown member");
			return -1;
		}
	}
	for (k = 0; names[k] != NULL; k++) {
		v = node_get(body, names[k]);
		if (v == NULL || v->kind != NODE_SCALAR ||
		    v->style != NODE_STRING) {
			http_respond_problem(e->r, PROBLEM_MALFORMED);
			return -1;
		}
		vals[k] = v->text;
		lens[k] = v->len;
	}
	return 0;
}

static char *
authep_copy(const char *s, size_t len)
{
	char	*p = bw_malloc(len + 1);

	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

/*
 * A presented refresh token: exactly 43 characters of canonical base64url
 * of 32 bytes; out gets the hex of SHA-256 over those bytes.
 */
static int
authep_refresh_hash(const char *tok, size_t len, char *out)
{
	unsigned char	 raw[AUTHDB_KEY_SECRET_LEN];
	size_t		 n;
	int		 rv;

	if (len != AUTHDB_KEY_SECRET_B64 ||
	    bw_b64url_decode(tok, len, raw, sizeof(raw), &n) == -1 ||
	    n != sizeof(raw))
		return -1;
	rv = authdb_sha256_hex(raw, sizeof(raw), out);
	bw_wipe(raw, sizeof(raw));
	return rv;
}

/* A new refresh token (text) and the hex of its digest. */
static int
authep_refresh_new(struct authep_req *e)
{
	unsigned char	 raw[AUTHDB_KEY_SECRET_LEN];
	int		 rv = -1;

	if (bw_random(raw, sizeof(raw)) == 0 &&
	    bw_b64url_encode(raw, sizeof(raw), e->new_tok) ==
	    AUTHDB_KEY_SECRET_B64 &&
	    authdb_sha256_hex(raw, sizeof(raw), e->new_hash) == 0)
		rv = 0;
	bw_wipe(raw, sizeof(raw));
	return rv;
}

/* Database steps. */

static int
authep_on_row(void *arg, const PGresult *res, int row)
{
	struct authep_req	*e = arg;
	int		 nf = PQnfields(res);
	char		*end;

	if (e->row) {
		e->row_bad = true;
		return -1;
	}
	e->row = true;
	switch (e->step) {
	case EP_LOCKOUT:
	case EP_FAILURE:
		if (nf < 1)
			break;
		e->num_null = PQgetisnull(res, row, 0);
		e->num = e->num_null ? 0 :
		    strtoll(PQgetvalue(res, row, 0), &end, 10);
		return 0;
	case EP_LOOKUP:
		if (nf < 5 || PQgetisnull(res, row, 0) ||
		    PQgetisnull(res, row, 2) ||
		    bw_strlcpy(e->user_id, PQgetvalue(res, row, 0),
		    sizeof(e->user_id)) >= sizeof(e->user_id) ||
		    bw_strlcpy(e->phc, PQgetvalue(res, row, 2),
		    sizeof(e->phc)) >= sizeof(e->phc) ||
		    bw_strlcpy(e->roles, PQgetvalue(res, row, 3),
		    sizeof(e->roles)) >= sizeof(e->roles))
			break;
		e->cutoff = nf < 6 || PQgetisnull(res, row, 5) ? INT64_MIN :
		    auth_cutoff_s(strtoll(PQgetvalue(res, row, 5), &end, 10));
		e->user_ok = strcmp(PQgetvalue(res, row, 4), "f") == 0 &&
		    (e->kind != AUTHEP_PASSWORD ||
		    strcmp(e->p->claims.sub, e->user_id) == 0);
		return 0;
	case EP_FAMILY:
		if (nf < 1 || bw_strlcpy(e->sid, PQgetvalue(res, row, 0),
		    sizeof(e->sid)) >= sizeof(e->sid))
			break;
		return 0;
	case EP_ROTATE:
		if (nf < 4 || bw_strlcpy(e->sid, PQgetvalue(res, row, 0),
		    sizeof(e->sid)) >= sizeof(e->sid) ||
		    bw_strlcpy(e->user_id, PQgetvalue(res, row, 1),
		    sizeof(e->user_id)) >= sizeof(e->user_id) ||
		    bw_strlcpy(e->username, PQgetvalue(res, row, 2),
		    sizeof(e->username)) >= sizeof(e->username) ||
		    bw_strlcpy(e->roles, PQgetvalue(res, row, 3),
		    sizeof(e->roles)) >= sizeof(e->roles))
			break;
		return 0;
	case EP_REUSE:
		if (nf < 7 || bw_strlcpy(e->sid, PQgetvalue(res, row, 0),
		    sizeof(e->sid)) >= sizeof(e->sid))
			break;
		e->used = strcmp(PQgetvalue(res, row, 2), "t") == 0;
		(void)bw_strlcpy(e->used_ip, PQgetvalue(res, row, 3),
		    sizeof(e->used_ip));
		e->num_null = PQgetisnull(res, row, 4);
		e->num = e->num_null ? 0 :
		    strtoll(PQgetvalue(res, row, 4), &end, 10);
		e->revoked = strcmp(PQgetvalue(res, row, 5), "t") == 0;
		e->expired = strcmp(PQgetvalue(res, row, 6), "t") == 0;
		return 0;
	default:
		return 0;
	}
	e->row_bad = true;
	return -1;
}

static void
authep_on_done(void *arg, enum db_outcome how, const char *sqlstate,
    const char *message, const char *cmd_tuples)
{
	struct authep_req	*e = arg;

	(void)cmd_tuples;
	e->dbreq = NULL;
	if (how != DB_OK || e->row_bad) {
		if (how == DB_SQL_ERROR)
			log_warnx("%s %s: SQLSTATE %s: %s",
			    http_request_id(e->r), authep_defs[e->kind].name,
			    sqlstate != NULL ? sqlstate : "",
			    message != NULL ? message : "");
		http_respond_problem(e->r, how == DB_SQL_ERROR || e->row_bad ?
		    PROBLEM_INTERNAL : PROBLEM_DB_UNAVAILABLE);
		return;
	}
	authep_next(e);
}

static const struct db_req_ops authep_db_ops = {
	authep_on_row, authep_on_done,
};

/* Runs st with n values as step; -1 after answering 503. */
static int
authep_sql(struct authep_req *e, enum authep_step step, enum authdb_stmt st,
    const char *const *values, int n)
{
	struct db_ctx		 ctx = {
		.request_id = http_request_id(e->r),
		.route = authep_defs[e->kind].name,
		.timeout = AUTH_STMT_TIMEOUT,
	};
	struct db_req_params	 rp = {
		.stmt = e->ep->stmts[st],
		.nvalues = n, .values = values, .lengths = NULL, .ctx = &ctx,
	};

	e->step = step;
	e->row = e->row_bad = false;
	if (e->ep->pool == NULL || e->ep->stmts[st] == AUTHEP_NO_STMT ||
	    authdb_stmts[st].nparams != n ||
	    (e->dbreq = db_submit(e->ep->pool, &rp, &authep_db_ops, e)) ==
	    NULL) {
		http_respond_problem(e->r, PROBLEM_DB_UNAVAILABLE);
		return -1;
	}
	return 0;
}

static void
authep_pw_done(void *arg, int result, bool needs_rehash, const char *phc)
{
	struct authep_req	*e = arg;

	e->job = NULL;
	if (e->step == EP_HASH) {
		if (result != 0 || phc == NULL || bw_strlcpy(e->new_phc, phc,
		    sizeof(e->new_phc)) >= sizeof(e->new_phc)) {
			http_respond_problem(e->r, PROBLEM_INTERNAL);
			return;
		}
		authep_next(e);
		return;
	}
	if (result == -1)
		log_warnx("%s %s: stored password hash of %s unusable",
		    http_request_id(e->r), authep_defs[e->kind].name,
		    e->username);
	e->user_ok = e->user_ok && result == 1;
	if (e->user_ok && needs_rehash && phc != NULL &&
	    bw_strlcpy(e->new_phc, phc, sizeof(e->new_phc)) <
	    sizeof(e->new_phc))
		e->rehash = true;
	authep_next(e);
}

/* Submits a job to the pool as step; -1 after answering 503. */
static int
authep_hash(struct authep_req *e, enum authep_step step, enum password_op op,
    const char *phc, const char *pw, size_t len)
{
	e->step = step;
	if (e->ep->pw == NULL || password_pool_submit(e->ep->pw, op, phc, pw,
	    len, authep_pw_done, e, &e->job) == -1) {
		http_respond_problem(e->r, PROBLEM_OVERLOADED);
		return -1;
	}
	return 0;
}

/* Tokens. */

/* Splits "r1,r2" in place; -1 when there are too many. */
static int
authep_roles_split(char *list, const char **out, size_t *n)
{
	char	*p = list, *comma;

	*n = 0;
	while (*p != '\0') {
		if (*n == JWT_ROLES_MAX)
			return -1;
		out[(*n)++] = p;
		if ((comma = strchr(p, ',')) == NULL)
			break;
		*comma = '\0';
		p = comma + 1;
	}
	return 0;
}

/*
 * iat of a token issued now: within the second of the user's latest
 * cut-off, the next second (auth_row_user), never more than a second
 * ahead; nbf stays now, so the token is usable at once wherever leeway
 * covers that second.  At a refresh the cut-off is the worker's snapshot.
 */
static int64_t
authep_iat(struct authep_req *e, int64_t now)
{
	int64_t			 cut = e->cutoff;

	if (e->kind == AUTHEP_REFRESH)
		cut = auth_user_cutoff(e->ep->auth, e->user_id);
	if (cut <= now)
		return now;
	return cut > now + 1 ? now + 1 : cut;
}

/*
 * An auth.* record (SPEC 9): the user's name, the address, the outcome;
 * never a password or a token.  user NULL: no valid name was given.
 */
static void
authep_audit(struct authep_req *e, const char *event, const char *user,
    int status)
{
	const struct http_head	*h = http_request_head(e->r);
	struct audit_event	 ev;
	char			*path;

	memset(&ev, 0, sizeof(ev));
	path = bw_strndup(h->path, h->path_len);
	ev.event = event;
	ev.request_id = http_request_id(e->r);
	ev.user = user != NULL && user[0] != '\0' ? user : NULL;
	ev.ip = http_request_ip(e->r);
	ev.route = authep_defs[e->kind].name;
	ev.method = conf_method_name(authep_defs[e->kind].method);
	ev.path = path;
	ev.status = status;
	if (audit_client_event(&ev) == -1)
		log_warnx("%s %s: the audit writer did not take the record",
		    ev.request_id, event);
	free(path);
}

/*
 * 200 with a new pair: the access token of the user (its assigned roles,
 * the family as sid) and the refresh token made for this request.
 */
static void
authep_issued(struct authep_req *e, const char *err, enum problem_code pt)
{
	int64_t		 ttl = e->ep->ca->access_ttl_ms / 1000;

	if (err != NULL || evbuffer_add_printf(http_response_body(e->r),
	    "{\"access_token\":\"%s\",\"token_type\":\"Bearer\","
	    "\"expires_in\":%lld,\"refresh_token\":\"%s\"}", e->tok,
	    (long long)ttl, e->new_tok) == -1) {
		log_warnx("%s %s: cannot issue a token: %s",
		    http_request_id(e->r), authep_defs[e->kind].name,
		    err != NULL ? err : "out of memory");
		http_respond_problem(e->r, pt);
		return;
	}
	log_info("%s %s: tokens issued to %s (session %s)",
	    http_request_id(e->r), authep_defs[e->kind].name, e->username,
	    e->sid);
	authep_audit(e, e->kind == AUTHEP_LOGIN ? "auth.login.success" :
	    "auth.refresh", e->username, 200);
	http_request_set_user(e->r, e->username);
	http_respond(e->r, 200);
}

/* The key manager's answer (SPEC 11): a 503 when there is none. */
static void
authep_signed(void *arg, enum keymgr_status st, const unsigned char *sig,
    size_t siglen)
{
	struct authep_req	*e = arg;

	e->sign = 0;
	if (st == KEYMGR_OK)
		jwt_sign_finish(e->tok, e->toklen, sig, siglen);
	authep_issued(e, st == KEYMGR_OK ? NULL : keymgr_status_text(st),
	    PROBLEM_OVERLOADED);
}

/* The signature: HS256 here, EdDSA and ES256 by the key manager. */
static void
authep_sign(struct authep_req *e, const struct keys_key *key)
{
	unsigned char	 sig[JWT_SIG_MAX];
	size_t		 siglen = 0;

	if (key->can_sign || e->ep->signer == NULL) {
		if (jwt_sign_bytes(key, e->tok, e->toklen, sig, &siglen) == -1)
			authep_issued(e, "signing failed", PROBLEM_INTERNAL);
		else
			authep_signed(e, KEYMGR_OK, sig, siglen);
		return;
	}
	if (keymgr_sign(e->ep->signer, key->kid, e->tok, e->toklen,
	    authep_signed, e, &e->sign) == -1)
		authep_issued(e, "cannot reach the key manager",
		    PROBLEM_OVERLOADED);
}

static void
authep_issue(struct authep_req *e)
{
	const struct conf_auth	*ca = e->ep->ca;
	const struct keys_key	*key = keys_set_signing(e->ep->keys);
	const char		*roles[JWT_ROLES_MAX];
	struct jwt_claims	 c;
	char			 jti[JWT_JTI_LEN + 1];
	const char		*err = "no signing key";
	json_t			*claims = NULL;
	int			 rv = -1;

	memset(&c, 0, sizeof(c));
	if (key != NULL && jwt_jti_new(jti) == 0 &&
	    authep_roles_split(e->roles, roles, &c.nroles) == 0) {
		c.sub = e->user_id;
		c.name = e->username;
		c.sid = e->sid;
		c.jti = jti;
		c.roles = roles;
		c.nbf = (int64_t)time(NULL);
		c.iat = authep_iat(e, c.nbf);
		c.exp = c.iat + ca->access_ttl_ms / 1000;
		if ((claims = jwt_claims_json(ca->issuer, ca->audience,
		    &c)) != NULL)
			rv = jwt_sign_begin(key->alg, key->kid, claims,
			    &e->tok, &e->toklen, &err);
		json_decref(claims);
	}
	if (rv == -1)
		authep_issued(e, err, PROBLEM_INTERNAL);
	else
		authep_sign(e, key);
}

/* The steps. */

static void
authep_failure(struct authep_req *e)
{
	const struct conf_auth	*ca = e->ep->ca;
	char			 max[16], win[24], dur[24], tracked[16];
	const char		*v[6] = { e->username, http_request_ip(e->r),
				    max, win, dur, tracked };

	(void)snprintf(max, sizeof(max), "%u", ca->lockout_max_failures);
	(void)snprintf(win, sizeof(win), "%lld",
	    (long long)ca->lockout_window_ms);
	(void)snprintf(dur, sizeof(dur), "%lld",
	    (long long)ca->lockout_duration_ms);
	(void)snprintf(tracked, sizeof(tracked), "%u",
	    ca->lockout_max_tracked);
	(void)authep_sql(e, EP_FAILURE, AUTHDB_LOGIN_FAILURE, v, 6);
}

static void
authep_after_lockout(struct authep_req *e)
{
	const char	*v[1] = { e->username };

	if (!e->num_null && e->num > 0) {
		log_info("%s %s: %s locked out from %s for %llds",
		    http_request_id(e->r), authep_defs[e->kind].name,
		    e->username, http_request_ip(e->r), (long long)e->num);
		metrics_auth_failure(METRICS_AUTH_LOCKED);
		authep_audit(e, "auth.login.lockout", e->username, 429);
		http_request_set_retry_after(e->r, e->num > UINT32_MAX ?
		    UINT32_MAX : (uint32_t)e->num);
		http_respond_problem(e->r, PROBLEM_RATE_LIMITED);
		return;
	}
	if (e->pw_bad) {
		authep_failure(e);
		return;
	}
	(void)authep_sql(e, EP_LOOKUP, AUTHDB_LOGIN_LOOKUP, v, 1);
}

static void
authep_after_lookup(struct authep_req *e)
{
	if (e->row && e->user_ok)
		(void)authep_hash(e, EP_VERIFY, PASSWORD_OP_VERIFY, e->phc,
		    e->pw, e->pwlen);
	else {
		e->user_ok = false;
		(void)authep_hash(e, EP_VERIFY, PASSWORD_OP_DUMMY, "",
		    e->pw, e->pwlen);
	}
}

static void
authep_after_verify(struct authep_req *e)
{
	const char	*v[2] = { e->username, http_request_ip(e->r) };

	if (!e->user_ok) {
		authep_failure(e);
		return;
	}
	if (e->kind == AUTHEP_PASSWORD) {
		(void)authep_hash(e, EP_HASH, PASSWORD_OP_HASH, "",
		    e->newpw, e->newpwlen);
		return;
	}
	(void)authep_sql(e, EP_SUCCESS, AUTHDB_LOGIN_SUCCESS, v, 2);
}

/*
 * A name that is not a valid username is never echoed (it is the client's
 * bytes, unchecked); a valid one is safe to log.
 */
static void
authep_after_failure(struct authep_req *e)
{
	log_info("%s %s: credentials of %s refused from %s%s",
	    http_request_id(e->r), authep_defs[e->kind].name,
	    e->username[0] != '\0' ? e->username : "an invalid username",
	    http_request_ip(e->r), e->num > 0 ? " (now locked out)" : "");
	if (e->num > 0)
		metrics_lockout();
	authep_audit(e, e->kind == AUTHEP_LOGIN ? "auth.login.failure" :
	    "auth.password.change", e->username, 401);
	authep_refuse(e);
}

static void
authep_family(struct authep_req *e)
{
	char		 ttl[24];
	const char	*v[3] = { e->user_id, ttl, e->new_hash };

	(void)snprintf(ttl, sizeof(ttl), "%lld",
	    (long long)e->ep->ca->refresh_ttl_ms);
	if (authep_refresh_new(e) == -1) {
		http_respond_problem(e->r, PROBLEM_INTERNAL);
		return;
	}
	(void)authep_sql(e, EP_FAMILY, AUTHDB_FAMILY_CREATE, v, 3);
}

static void
authep_after_family(struct authep_req *e)
{
	const char	*v[3] = { e->user_id, e->new_phc, e->phc };

	if (!e->row) {
		http_respond_problem(e->r, PROBLEM_INTERNAL);
		return;
	}
	if (e->rehash) {
		(void)authep_sql(e, EP_REHASH, AUTHDB_USER_REHASH, v, 3);
		return;
	}
	authep_issue(e);
}

static void
authep_after_rotate(struct authep_req *e)
{
	const char	*v[1] = { e->old_hash };

	if (e->row) {
		authep_issue(e);
		return;
	}
	(void)authep_sql(e, EP_REUSE, AUTHDB_REFRESH_LOOKUP, v, 1);
}

/*
 * A refresh token that did not rotate.  One already used, of a family still
 * live, is reuse: the family is revoked, unless the same address presents
 * it again within refresh_reuse_grace (a client racing itself).
 */
static void
authep_after_reuse(struct authep_req *e)
{
	const char	*v[1] = { e->sid };
	const char	*rid = http_request_id(e->r);

	if (!e->row || !e->used || e->revoked || e->expired) {
		log_info("%s auth.refresh: refused (%s)", rid, !e->row ?
		    "unknown token" : e->revoked ? "revoked session" :
		    e->expired ? "expired session" : "session cut off");
		authep_refuse(e);
		return;
	}
	if (!e->num_null && e->num <= e->ep->ca->refresh_reuse_grace_ms &&
	    strcmp(e->used_ip, http_request_ip(e->r)) == 0) {
		log_info("%s auth.refresh: token of session %s presented again "
		    "within the grace period", rid, e->sid);
		authep_refuse(e);
		return;
	}
	log_notice("%s auth.refresh: reuse of a rotated token from %s: "
	    "session %s revoked", rid, http_request_ip(e->r), e->sid);
	authep_audit(e, "auth.refresh.reuse", NULL, 401);
	(void)authep_sql(e, EP_REVOKE, AUTHDB_FAMILY_REVOKE, v, 1);
}

static void
authep_after_logout(struct authep_req *e)
{
	char		 exp[24];
	const char	*v[2] = { NULL, exp };

	if (!e->row) {
		log_info("%s auth.logout: unknown token or not the caller's",
		    http_request_id(e->r));
		authep_refuse(e);
		return;
	}
	if (e->p == NULL) {
		auth_revoked(e->ep->auth);
		authep_audit(e, "auth.logout", NULL, 204);
		http_respond(e->r, 204);
		return;
	}
	v[0] = e->p->claims.jti;
	(void)snprintf(exp, sizeof(exp), "%lld", (long long)e->p->claims.exp);
	(void)authep_sql(e, EP_DENY, AUTHDB_DENY_JTI, v, 2);
}

static void
authep_next(struct authep_req *e)
{
	const char	*v[3] = { e->user_id, e->new_phc, NULL };

	switch (e->step) {
	case EP_LOCKOUT:
		authep_after_lockout(e);
		break;
	case EP_LOOKUP:
		authep_after_lookup(e);
		break;
	case EP_VERIFY:
		authep_after_verify(e);
		break;
	case EP_FAILURE:
		authep_after_failure(e);
		break;
	case EP_SUCCESS:
		authep_family(e);
		break;
	case EP_FAMILY:
		authep_after_family(e);
		break;
	case EP_REHASH:
		authep_issue(e);
		break;
	case EP_HASH:
		v[2] = e->p->claims.sid;
		(void)authep_sql(e, EP_CHANGE, AUTHDB_USER_CHANGE_PASSWORD,
		    v, 3);
		break;
	case EP_ROTATE:
		authep_after_rotate(e);
		break;
	case EP_REUSE:
		authep_after_reuse(e);
		break;
	case EP_LOGOUT:
		authep_after_logout(e);
		break;
	case EP_CHANGE:
		if (!e->row) {
			authep_refuse(e);
			break;
		}
		log_info("%s auth.password: password of %s changed",
		    http_request_id(e->r), e->username);
		/* FALLTHROUGH */
	case EP_DENY:
		authep_audit(e, e->kind == AUTHEP_PASSWORD ?
		    "auth.password.change" : "auth.logout",
		    e->p != NULL ? e->p->claims.name : NULL, 204);
		auth_revoked(e->ep->auth);
		http_respond(e->r, 204);
		break;
	case EP_REVOKE:
		auth_revoked(e->ep->auth);
		authep_refuse(e);
		break;
	}
}

/* The handlers. */

/*
 * Login and the password change from their first check: an invalid
 * username cannot exist and goes to the dummy verification and 401 without
 * touching the database; a password that cannot match any hash is refused
 * without hashing, after the lockout check and counting the failure.
 */
static void
authep_credentials(struct authep_req *e, const char *name, size_t namelen,
    const char *pw, size_t pwlen)
{
	const char	*v[2] = { e->username, http_request_ip(e->r) };
	const char	*msg;

	if (password_check_login(e->ep->ca, pw, pwlen, &msg) == -1)
		e->pw_bad = true;
	else {
		e->pw = authep_copy(pw, pwlen);
		e->pwlen = pwlen;
	}
	if (!password_username_valid_len(name, namelen, e->username,
	    sizeof(e->username))) {
		e->user_ok = false;
		e->username[0] = '\0';
		if (e->pw_bad)
			authep_refuse(e);
		else
			(void)authep_hash(e, EP_FAILURE, PASSWORD_OP_DUMMY,
			    "", e->pw, e->pwlen);
		return;
	}
	(void)authep_sql(e, EP_LOCKOUT, AUTHDB_LOCKOUT_QUERY, v, 2);
}

static void
authep_login(struct authep_req *e)
{
	static const char *const names[] = { "username", "password", NULL };
	const char		*vals[2];
	size_t			 lens[2];

	if (authep_members(e, names, vals, lens) == -1)
		return;
	authep_credentials(e, vals[0], lens[0], vals[1], lens[1]);
}

static void
authep_refresh(struct authep_req *e)
{
	static const char *const names[] = { "refresh_token", NULL };
	const char		*vals[1];
	size_t			 lens[1];
	const char		*v[3] = { e->old_hash, http_request_ip(e->r),
				    e->new_hash };

	if (authep_members(e, names, vals, lens) == -1)
		return;
	if (authep_refresh_hash(vals[0], lens[0], e->old_hash) == -1) {
		log_info("%s auth.refresh: malformed token",
		    http_request_id(e->r));
		authep_refuse(e);
		return;
	}
	if (authep_refresh_new(e) == -1) {
		http_respond_problem(e->r, PROBLEM_INTERNAL);
		return;
	}
	(void)authep_sql(e, EP_ROTATE, AUTHDB_REFRESH_ROTATE, v, 3);
}

static void
authep_logout(struct authep_req *e)
{
	static const char *const names[] = { "refresh_token", NULL };
	const char		*vals[1];
	size_t			 lens[1];
	const char		*v[2] = { e->old_hash, NULL };

	if (authep_members(e, names, vals, lens) == -1)
		return;
	if (authep_refresh_hash(vals[0], lens[0], e->old_hash) == -1) {
		log_info("%s auth.logout: malformed token",
		    http_request_id(e->r));
		authep_refuse(e);
		return;
	}
	if (e->p != NULL)
		v[1] = e->p->claims.sub;
	(void)authep_sql(e, EP_LOGOUT, AUTHDB_LOGOUT, v, 2);
}

static void
authep_me(struct authep_req *e)
{
	json_t	*doc, *roles;
	char	*text;
	size_t	 i;

	doc = json_object();
	roles = json_array();
	if (doc == NULL || roles == NULL)
		goto fail;
	for (i = 0; i < e->p->claims.nroles; i++)
		if (json_array_append_new(roles,
		    json_string(e->p->claims.roles[i])) == -1)
			goto fail;
	if (json_object_set_new(doc, "id",
	    json_string(e->p->claims.sub)) == -1 ||
	    json_object_set_new(doc, "username",
	    json_string(e->p->claims.name)) == -1 ||
	    json_object_set(doc, "roles", roles) == -1 ||
	    (text = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER)) ==
	    NULL)
		goto fail;
	json_decref(roles);
	json_decref(doc);
	if (evbuffer_add(http_response_body(e->r), text, strlen(text)) == -1) {
		free(text);
		http_respond_problem(e->r, PROBLEM_INTERNAL);
		return;
	}
	free(text);
	http_respond(e->r, 200);
	return;
fail:
	json_decref(roles);
	json_decref(doc);
	http_respond_problem(e->r, PROBLEM_INTERNAL);
}

static void
authep_password(struct authep_req *e)
{
	static const char *const names[] = {
		"current_password", "new_password", NULL,
	};
	const char		*vals[2], *msg;
	size_t			 lens[2];

	if (authep_members(e, names, vals, lens) == -1)
		return;
	if (password_check_policy(e->ep->ca, vals[1], lens[1], &msg) == -1) {
		authep_invalid(e, "/new_password", msg);
		return;
	}
	e->newpw = authep_copy(vals[1], lens[1]);
	e->newpwlen = lens[1];
	if (e->p->claims.name == NULL) {
		authep_refuse(e);
		return;
	}
	authep_credentials(e, e->p->claims.name, strlen(e->p->claims.name),
	    vals[0], lens[0]);
}

/*
 * Before the body is read: the state, the caller (taken from the admit
 * hook), and the checks that need no body.  me and password want a user:
 * none is 401, an API key 403.  A Bearer token at logout must be a user's.
 */
static int
authep_prepare(struct http_request *r, void *arg)
{
	struct authep_route	*er = arg;
	struct authep_req	*e;

	e = bw_calloc(1, sizeof(*e));
	e->cutoff = INT64_MIN;
	e->ep = er->ep;
	e->r = r;
	e->kind = er->kind;
	e->p = auth_principal_take(r);
	http_request_set_ctx(r, e, authep_req_free);
	if ((e->kind == AUTHEP_ME || e->kind == AUTHEP_PASSWORD) &&
	    e->p == NULL) {
		metrics_auth_failure(METRICS_AUTH_MISSING);
		http_request_set_www_authenticate(r, "Bearer");
		http_respond_problem(r, PROBLEM_UNAUTHORIZED);
		return -1;
	}
	if (e->p != NULL && e->p->kind != AUTH_USER &&
	    (e->kind == AUTHEP_ME || e->kind == AUTHEP_PASSWORD ||
	    e->kind == AUTHEP_LOGOUT)) {
		http_respond_problem(r, PROBLEM_FORBIDDEN);
		return -1;
	}
	return 0;
}

static void
authep_handle(struct http_request *r, void *arg)
{
	struct authep_req	*e = http_request_ctx(r);

	(void)arg;
	switch (e->kind) {
	case AUTHEP_LOGIN:
		authep_login(e);
		break;
	case AUTHEP_REFRESH:
		authep_refresh(e);
		break;
	case AUTHEP_LOGOUT:
		authep_logout(e);
		break;
	case AUTHEP_ME:
		authep_me(e);
		break;
	case AUTHEP_PASSWORD:
		authep_password(e);
		break;
	default:
		http_respond_problem(r, PROBLEM_INTERNAL);
		break;
	}
}

/* Registration. */

struct authep *
authep_new(struct auth *auth, const struct conf *conf,
    const struct keys_set *keys, struct password_pool *pw)
{
	struct authep	*ep = bw_calloc(1, sizeof(*ep));

	ep->auth = auth;
	ep->ca = conf->auth;
	ep->keys = keys;
	ep->pw = pw;
	ep->body.kind = NODE_MAP;
	return ep;
}

void
authep_set_signer(struct authep *ep, struct keymgr_client *signer)
{
	ep->signer = signer;
}

void
authep_free(struct authep *ep)
{
	size_t	 i;

	if (ep == NULL)
		return;
	for (i = 0; i < AUTHEP_COUNT; i++) {
		free(ep->routes[i].route.name);
		free(ep->routes[i].route.path);
	}
	free(ep);
}

static void
authep_route_init(struct authep *ep, size_t i)
{
	const struct authep_def	*d = &authep_defs[i];
	struct authep_route	*er = &ep->routes[i];
	struct conf_route	*rt = &er->route;
	size_t			 plen = strlen(ep->ca->endpoints);

	er->ep = ep;
	er->kind = (enum authep_kind)i;
	er->ops.prepare = authep_prepare;
	er->ops.handle = authep_handle;
	er->ops.arg = er;
	rt->name = bw_strdup(d->name);
	rt->path = bw_malloc(plen + strlen(d->suffix) + 1);
	memcpy(rt->path, ep->ca->endpoints, plen);	/* no trailing '/' */
	memcpy(rt->path + plen, d->suffix, strlen(d->suffix) + 1);
	rt->method = d->method;
	rt->roles = authep_roles;
	rt->nroles = 1;
	rt->body = d->body ? &ep->body : NULL;
	rt->max_body_size = AUTHEP_MAX_BODY;
	rt->result = d->body ? RESULT_NONE : RESULT_OBJECT;
	rt->status = 200;
	rt->audit = 0;
	rt->rate_limit = ep->ca->endpoint_rate_limit;
}

int
authep_add(struct authep *ep, struct http_server *srv, const char **err)
{
	size_t	 i;

	if (ep->ca == NULL || ep->ca->endpoints == NULL || ep->keys == NULL ||
	    ep->on)
		return 0;
	for (i = 0; i < AUTHEP_COUNT; i++) {
		if (ep->routes[i].route.path == NULL)
			authep_route_init(ep, i);
		if (http_server_add_route(srv, &ep->routes[i].route,
		    &ep->routes[i].ops, err) == -1)
			return -1;
	}
	ep->on = true;
	return 0;
}

void
authep_attach_pool(struct authep *ep, struct db_pool *pool)
{
	size_t	 i;

	ep->pool = pool;
	for (i = 0; i < AUTHDB_STMT_COUNT; i++)
		ep->stmts[i] = AUTHEP_NO_STMT;
	if (pool == NULL || !ep->on)
		return;
	for (i = 0; i < BW_ARRAY_LEN(authep_stmts_used); i++)
		ep->stmts[authep_stmts_used[i]] = db_pool_stmt_add(pool,
		    &authdb_stmts[authep_stmts_used[i]]);
}
