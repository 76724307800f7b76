/*
 * auth.c - credentials on routed requests, authorization and the
 * per-worker revocation state (SPEC 8).  See auth.h for the contract.
 *
 * The revocation state is a snapshot: three sorted arrays (deny-listed
 * jtis, users' cut-offs, active API keys) replaced as a whole once a
 * reload has read all three lists.  Lookups are binary searches and never
 * allocate.  A failed or partial reload keeps the previous snapshot.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <jansson.h>

#include "api.h"
#include "auth.h"
#include "authdb.h"
#include "conf.h"
#include "db.h"
#include "http.h"
#include "http_parse.h"
#include "jwt.h"
#include "keys.h"
#include "log.h"
#include "node.h"
#include "password.h"
#include "rbac.h"
#include "util.h"

#define AUTH_UUID_MAX		(AUTHDB_UUID_LEN + 1)
#define AUTH_CTX_TIMEOUT	"5000"	/* statement_timeout of reloads, ms */

struct auth_denied {
	char		 jti[AUTHDB_JTI_MAX + 1];
};

struct auth_user {
	char		 id[AUTH_UUID_MAX];
	char		 exempt_sid[AUTH_UUID_MAX];
	int64_t		 valid_after;	/* seconds, INT64_MIN: none */
	bool		 disabled;
};

struct auth_key {
	char		 id[AUTHDB_KEY_ID_LEN + 1];
	unsigned char	 hash[AUTHDB_HASH_LEN];
	struct rbac_set	 roles;
};

struct auth_state {
	struct auth_denied	*denied;
	size_t			 ndenied;
	struct auth_user	*users;
	size_t			 nusers;
	struct auth_key		*keys;
	size_t			 nkeys;
};

/* The built-in endpoints, in the order of auth_ep_defs. */
enum auth_ep_kind {
	AUTH_EP_LOGIN,
	AUTH_EP_REFRESH,
	AUTH_EP_LOGOUT,
	AUTH_EP_ME,
	AUTH_EP_PASSWORD,
	AUTH_EP_COUNT,
};

enum auth_load_step {
	LOAD_DENIED,
	LOAD_USERS,
	LOAD_KEYS,
	LOAD_DONE,
};

/* A built-in endpoint: its route and handlers, whose arg this is. */
struct auth_ep_route {
	struct conf_route	 route;
	struct http_route_ops	 ops;
	struct auth		*a;
	enum auth_ep_kind	 kind;
};

struct auth {
	const struct conf	*conf;
	const struct conf_auth	*ca;
	const struct keys_set	*keys;
	struct rbac		*rbac;
	struct jwt_cache	*cache;
	struct jwt_verifier	 ver;
	struct db_pool		*pool;
	size_t			 first_stmt;
	struct event		*timer;
	struct auth_state	*state;		/* NULL until loaded */
	struct auth_state	*next;		/* being loaded */
	struct db_req		*req;
	enum auth_load_step	 step;
	size_t			 cap[LOAD_DONE];	/* of next's arrays */
	bool			 row_error;
	bool			 reload_again;	/* a change came in meanwhile */
	struct event_base	*base;
	struct db_pool		*listener;
	struct password_pool	*pw;
	bool			 ep_on;
	struct auth_ep_route	 ep_routes[AUTH_EP_COUNT];
	struct node		 ep_body;	/* marks a route with a body */
};

static void	 auth_load_step(struct auth *);
static void	 auth_tick(evutil_socket_t, short, void *);

static void
auth_state_free(struct auth_state *s)
{
	if (s == NULL)
		return;
	free(s->denied);
	free(s->users);
	if (s->keys != NULL)
		bw_wipe(s->keys, s->nkeys * sizeof(*s->keys));
	free(s->keys);
	free(s);
}

static int
auth_cmp_denied(const void *a, const void *b)
{
	return strcmp(((const struct auth_denied *)a)->jti,
	    ((const struct auth_denied *)b)->jti);
}

static int
auth_cmp_user(const void *a, const void *b)
{
	return strcmp(((const struct auth_user *)a)->id,
	    ((const struct auth_user *)b)->id);
}

static int
auth_cmp_key(const void *a, const void *b)
{
	return strcmp(((const struct auth_key *)a)->id,
	    ((const struct auth_key *)b)->id);
}

static bool
auth_state_equal(const struct auth_state *a, const struct auth_state *b)
{
	if (a == NULL || b == NULL)
		return false;
	return a->ndenied == b->ndenied && a->nusers == b->nusers &&
	    a->nkeys == b->nkeys &&
	    (a->ndenied == 0 || memcmp(a->denied, b->denied,
	    a->ndenied * sizeof(*a->denied)) == 0) &&
	    (a->nusers == 0 || memcmp(a->users, b->users,
	    a->nusers * sizeof(*a->users)) == 0) &&
	    (a->nkeys == 0 || memcmp(a->keys, b->keys,
	    a->nkeys * sizeof(*a->keys)) == 0);
}

/* Grows *arr (of n elements of size sz) to hold one more, zeroed. */
static void *
auth_grow(void *arr, size_t n, size_t sz, size_t *cap)
{
	char	*p = arr;

	if (n == *cap) {
		*cap = *cap == 0 ? 64 : *cap * 2;
		p = bw_reallocarray(p, *cap, sz);
	}
	memset(p + n * sz, 0, sz);
	return p;
}

static int
auth_hex_nibble(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static int
auth_hex_decode(const char *s, size_t len, unsigned char *out, size_t outlen)
{
	size_t	 i;
	int	 hi, lo;

	if (len != outlen * 2)
		return -1;
	for (i = 0; i < outlen; i++) {
		if ((hi = auth_hex_nibble(s[2 * i])) == -1 ||
		    (lo = auth_hex_nibble(s[2 * i + 1])) == -1)
			return -1;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}

/*
 * Effective roles of a comma-separated list.  Names are copied into a
 * bounded buffer; a list with more than RBAC_MAX_ROLES names or a name
 * longer than RBAC_NAME_MAX is refused.
 */
static int
auth_roles_list(const struct rbac *rbac, const char *list,
    struct rbac_set *out)
{
	char		 buf[RBAC_MAX_ROLES * (RBAC_NAME_MAX + 1)];
	const char	*names[RBAC_MAX_ROLES];
	size_t		 n = 0, off = 0, len;
	const char	*p = list, *comma;

	memset(out, 0, sizeof(*out));
	while (*p != '\0') {
		comma = strchr(p, ',');
		len = comma != NULL ? (size_t)(comma - p) : strlen(p);
		if (len == 0 || len > RBAC_NAME_MAX || n == RBAC_MAX_ROLES)
			return -1;
		memcpy(buf + off, p, len);
		buf[off + len] = '\0';
		names[n++] = buf + off;
		off += len + 1;
		p += len;
		if (*p == ',')
			p++;
	}
	rbac_effective(rbac, names, n, out);
	return 0;
}

/*
 * Revocation state as jwt_verify_access() asks for it.  A sub that names
 * no user, or a disabled one, gets a cut-off no token can pass.
 */
static bool
auth_is_denied(void *arg, const char *jti)
{
	const struct auth	*a = arg;
	struct auth_denied	 key;

	if (a->state == NULL)
		return true;
	if (bw_strlcpy(key.jti, jti, sizeof(key.jti)) >= sizeof(key.jti))
		return true;
	return a->state->ndenied > 0 && bsearch(&key, a->state->denied,
	    a->state->ndenied, sizeof(key), auth_cmp_denied) != NULL;
}

static int64_t
auth_valid_after(void *arg, const char *sub, const char *sid)
{
	const struct auth	*a = arg;
	const struct auth_user	*u;
	struct auth_user	 key;

	memset(&key, 0, sizeof(key));
	if (a->state == NULL ||
	    bw_strlcpy(key.id, sub, sizeof(key.id)) >= sizeof(key.id))
		return INT64_MAX;
	u = a->state->nusers == 0 ? NULL : bsearch(&key, a->state->users,
	    a->state->nusers, sizeof(key), auth_cmp_user);
	if (u == NULL || u->disabled)
		return INT64_MAX;
	if (sid != NULL && u->exempt_sid[0] != '\0' &&
	    strcmp(u->exempt_sid, sid) == 0)
		return INT64_MIN;
	return u->valid_after;
}

/* Reloading the state through the worker's pool. */

static void
auth_schedule(struct auth *a)
{
	struct timeval	 tv;
	int64_t		 ms = a->state != NULL ? AUTH_RELOAD_MS :
			    AUTH_RETRY_MS;

	bw_ms_to_tv(ms, &tv);
	evtimer_add(a->timer, &tv);
}

static int
auth_row_denied(struct auth_state *s, const PGresult *res, int row,
    size_t *cap)
{
	const char	*jti = PQgetvalue(res, row, 0);

	if (PQnfields(res) < 1 || PQgetisnull(res, row, 0) ||
	    strlen(jti) > AUTHDB_JTI_MAX)
		return -1;
	s->denied = auth_grow(s->denied, s->ndenied, sizeof(*s->denied), cap);
	bw_strlcpy(s->denied[s->ndenied++].jti, jti, AUTHDB_JTI_MAX + 1);
	return 0;
}

/*
 * tokens_valid_after comes in microseconds and is compared with iat in
 * whole seconds as authdb.h states: a token is refused when iat * 10^6 is
 * below it, that is when iat is below the cut-off rounded up.  A token
 * issued earlier in the very second of the cut-off is refused too; the
 * endpoints give a token issued after it an iat of that rounded-up second
 * (auth_ep_iat), so it is not born dead.
 */
static int64_t
auth_cutoff_s(long long us)
{
	return us >= 0 ? us / 1000000 + (us % 1000000 != 0) : -(-us / 1000000);
}

static int
auth_row_user(struct auth_state *s, const PGresult *res, int row,
    size_t *cap)
{
	struct auth_user	*u;
	const char		*id = PQgetvalue(res, row, 0);
	long long		 us;
	char			*end;

	if (PQnfields(res) < 4 || PQgetisnull(res, row, 0) ||
	    strlen(id) > AUTHDB_UUID_LEN)
		return -1;
	s->users = auth_grow(s->users, s->nusers, sizeof(*s->users), cap);
	u = &s->users[s->nusers];
	bw_strlcpy(u->id, id, sizeof(u->id));
	u->disabled = strcmp(PQgetvalue(res, row, 1), "t") == 0;
	u->valid_after = INT64_MIN;
	if (!PQgetisnull(res, row, 2)) {
		us = strtoll(PQgetvalue(res, row, 2), &end, 10);
		if (*end != '\0')
			return -1;
		u->valid_after = auth_cutoff_s(us);
	}
	if (!PQgetisnull(res, row, 3) && bw_strlcpy(u->exempt_sid,
	    PQgetvalue(res, row, 3), sizeof(u->exempt_sid)) >=
	    sizeof(u->exempt_sid))
		return -1;
	s->nusers++;
	return 0;
}

static int
auth_row_key(struct auth *a, struct auth_state *s, const PGresult *res,
    int row, size_t *cap)
{
	struct auth_key	*k;
	const char	*id = PQgetvalue(res, row, 0);
	const char	*hex = PQgetvalue(res, row, 1);

	if (PQnfields(res) < 3 || PQgetisnull(res, row, 0) ||
	    PQgetisnull(res, row, 1) ||
	    !authdb_key_id_valid(id, strlen(id)))
		return -1;
	s->keys = auth_grow(s->keys, s->nkeys, sizeof(*s->keys), cap);
	k = &s->keys[s->nkeys];
	memcpy(k->id, id, AUTHDB_KEY_ID_LEN);
	if (auth_hex_decode(hex, strlen(hex), k->hash, sizeof(k->hash)) == -1 ||
	    auth_roles_list(a->rbac, PQgetisnull(res, row, 2) ? "" :
	    PQgetvalue(res, row, 2), &k->roles) == -1)
		return -1;
	s->nkeys++;
	return 0;
}

static int
auth_on_row(void *arg, const PGresult *res, int row)
{
	struct auth		*a = arg;
	struct auth_state	*s = a->next;
	size_t			 n;
	int			 rv;

	n = s->ndenied + s->nusers + s->nkeys;
	if (a->row_error || n >= AUTH_MAX_ROWS) {
		a->row_error = true;
		return -1;
	}
	switch (a->step) {
	case LOAD_DENIED:
		rv = auth_row_denied(s, res, row, &a->cap[0]);
		break;
	case LOAD_USERS:
		rv = auth_row_user(s, res, row, &a->cap[1]);
		break;
	case LOAD_KEYS:
		rv = auth_row_key(a, s, res, row, &a->cap[2]);
		break;
	default:
		rv = -1;
		break;
	}
	if (rv == -1)
		a->row_error = true;
	return rv;
}

/* The new snapshot replaces the old one; the cache goes if it changed. */
static void
auth_load_commit(struct auth *a)
{
	struct auth_state	*s = a->next;

	a->next = NULL;
	if (s->ndenied > 0)
		qsort(s->denied, s->ndenied, sizeof(*s->denied),
		    auth_cmp_denied);
	if (s->nusers > 0)
		qsort(s->users, s->nusers, sizeof(*s->users), auth_cmp_user);
	if (s->nkeys > 0)
		qsort(s->keys, s->nkeys, sizeof(*s->keys), auth_cmp_key);
	if (a->state == NULL)
		log_info("revocation state loaded: %zu denied, %zu users, "
		    "%zu api keys", s->ndenied, s->nusers, s->nkeys);
	if (!auth_state_equal(a->state, s))
		jwt_cache_flush(a->cache);
	auth_state_free(a->state);
	a->state = s;
}

static void
auth_load_fail(struct auth *a, const char *why)
{
	log_warnx("revocation state not reloaded: %s", why);
	auth_state_free(a->next);
	a->next = NULL;
	auth_schedule(a);
}

static void
auth_on_done(void *arg, enum db_outcome how, const char *sqlstate,
    const char *message, const char *cmd_tuples)
{
	struct auth	*a = arg;

	(void)cmd_tuples;
	a->req = NULL;
	if (how != DB_OK || a->row_error) {
		if (how == DB_SQL_ERROR)
			log_warnx("revocation state: SQLSTATE %s: %s",
			    sqlstate != NULL ? sqlstate : "",
			    message != NULL ? message : "");
		auth_load_fail(a, a->row_error ? "a malformed or excess row" :
		    "the database is not available");
		return;
	}
	a->step++;
	if (a->step == LOAD_DONE) {
		auth_load_commit(a);
		if (a->reload_again) {
			a->reload_again = false;
			auth_tick(-1, 0, a);
			return;
		}
		auth_schedule(a);
		return;
	}
	auth_load_step(a);
}

static const struct db_req_ops auth_db_ops = { auth_on_row, auth_on_done };

static void
auth_load_step(struct auth *a)
{
	static const enum authdb_stmt stmts[] = {
		AUTHDB_DENIED_LIST, AUTHDB_USER_CUTOFFS, AUTHDB_APIKEY_ACTIVE,
	};
	const char		*ctx[API_CTX_PARAMS] = {
		"", "", "", "", "bulwark.auth", AUTH_CTX_TIMEOUT,
	};
	struct db_req_params	 rp = {
		.stmt = a->first_stmt + stmts[a->step],
		.ctx_stmt = API_STMT_CTX,
		.nvalues = 0, .values = NULL, .lengths = NULL,
		.nctx = API_CTX_PARAMS, .ctx_values = ctx,
	};

	a->row_error = false;
	a->req = db_submit(a->pool, &rp, &auth_db_ops, a);
	if (a->req == NULL) {
		auth_state_free(a->next);
		a->next = NULL;
		auth_schedule(a);
	}
}

static void
auth_tick(evutil_socket_t fd, short what, void *arg)
{
	struct auth	*a = arg;

	(void)fd;
	(void)what;
	if (a->pool == NULL || a->req != NULL)
		return;
	auth_state_free(a->next);
	a->next = bw_calloc(1, sizeof(*a->next));
	memset(a->cap, 0, sizeof(a->cap));
	a->step = LOAD_DENIED;
	auth_load_step(a);
}

/*
 * A revocation happened (a notification, a reconnect of the listener, or
 * this worker's own logout or password change): the cache goes at once and
 * the state is read again now, or right after the reload in flight, which
 * may have read the tables before the change.
 */
static void
auth_reload_now(struct auth *a)
{
	jwt_cache_flush(a->cache);
	if (a->pool == NULL)
		return;
	if (a->req != NULL) {
		a->reload_again = true;
		return;
	}
	evtimer_del(a->timer);
	auth_tick(-1, 0, a);
}

static void
auth_on_notify(void *arg, const char *payload)
{
	log_debug("revocation notified: %.*s", AUTHDB_NOTIFY_MAX, payload);
	auth_reload_now(arg);
}

static void
auth_on_listen(void *arg)
{
	log_debug("revocation listener connected");
	auth_reload_now(arg);
}

int
auth_listen(struct auth *a, const char * const *keys,
    const char * const *vals, int64_t connect_timeout_ms, const char **err)
{
	if (a->listener != NULL)
		return 0;
	a->listener = db_listen_new(a->base, keys, vals, connect_timeout_ms,
	    AUTHDB_NOTIFY_CHANNEL, auth_on_notify, auth_on_listen, a);
	if (a->listener == NULL) {
		*err = "cannot listen for revocations";
		return -1;
	}
	return 0;
}

struct auth *
auth_new(struct event_base *base, const struct conf *conf,
    const struct keys_set *keys, const char **err)
{
	struct auth	*a;
	struct bw_diag	 diag = { 0 };

	a = bw_calloc(1, sizeof(*a));
	a->base = base;
	a->conf = conf;
	a->ca = conf->auth;
	a->keys = keys;
	if ((a->rbac = rbac_new(conf, &diag)) == NULL) {
		bw_diag_free(&diag);
		*err = "cannot compile the role graph";
		goto fail;
	}
	bw_diag_free(&diag);
	if (a->ca != NULL && a->ca->token_cache > 0 &&
	    (a->cache = jwt_cache_new(a->ca->token_cache)) == NULL) {
		*err = "cannot allocate the token cache";
		goto fail;
	}
	if ((a->timer = evtimer_new(base, auth_tick, a)) == NULL) {
		*err = "cannot allocate the revocation timer";
		goto fail;
	}
	if (a->ca != NULL && keys != NULL) {
		jwt_verifier_init(&a->ver, a->ca, keys, a->cache);
		a->ver.is_denied = auth_is_denied;
		a->ver.valid_after = auth_valid_after;
		a->ver.arg = a;
	}
	return a;
fail:
	auth_free(a);
	return NULL;
}

void
auth_free(struct auth *a)
{
	size_t	 i;

	if (a == NULL)
		return;
	if (a->req != NULL)
		db_abandon(a->req);
	if (a->listener != NULL)
		db_pool_free(a->listener);
	if (a->timer != NULL)
		event_free(a->timer);
	for (i = 0; i < AUTH_EP_COUNT; i++) {
		free(a->ep_routes[i].route.name);
		free(a->ep_routes[i].route.path);
	}
	auth_state_free(a->state);
	auth_state_free(a->next);
	jwt_cache_free(a->cache);
	rbac_free(a->rbac);
	free(a);
}

void
auth_attach_pool(struct auth *a, struct db_pool *pool, size_t first_stmt)
{
	a->pool = pool;
	a->first_stmt = first_stmt;
	if (pool == NULL) {
		if (a->req != NULL)
			db_abandon(a->req);
		a->req = NULL;
		evtimer_del(a->timer);
		return;
	}
	auth_tick(-1, 0, a);
}

bool
auth_ready(const struct auth *a)
{
	return a->state != NULL;
}

struct jwt_cache *
auth_cache(const struct auth *a)
{
	return a->cache;
}

/* Credentials. */

enum auth_cred
auth_credentials(const struct http_head *h, const char **tok, size_t *len)
{
	const struct http_field	*az, *key;
	size_t			 naz = 0, nkey = 0, i;

	*tok = NULL;
	*len = 0;
	az = http_head_field(h, "Authorization", &naz);
	key = http_head_field(h, "X-API-Key", &nkey);
	if (az == NULL && key == NULL)
		return AUTH_CRED_NONE;
	if (naz > 1 || nkey > 1 || (az != NULL && key != NULL))
		return AUTH_CRED_BAD;
	if (key != NULL) {
		if (key->value_len == 0)
			return AUTH_CRED_BAD;
		*tok = key->value;
		*len = key->value_len;
		return AUTH_CRED_APIKEY;
	}
	if (az->value_len < 7 || strncasecmp(az->value, "Bearer ", 7) != 0)
		return AUTH_CRED_BAD;
	for (i = 7; i < az->value_len && az->value[i] == ' '; i++)
		;
	if (i == az->value_len)
		return AUTH_CRED_BAD;
	*tok = az->value + i;
	*len = az->value_len - i;
	return AUTH_CRED_BEARER;
}

static struct auth_principal *
auth_verify_bearer(struct auth *a, const char *tok, size_t len,
    const char *rid)
{
	struct auth_principal	*p;
	struct jwt_claims	 claims;
	const char		*err = "authentication is not configured";

	if (a->ca == NULL || a->keys == NULL || jwt_verify_access(&a->ver,
	    tok, len, (int64_t)time(NULL), &claims, &err) == -1) {
		log_info("%s bearer token refused: %s", rid, err);
		return NULL;
	}
	p = bw_calloc(1, sizeof(*p));
	p->kind = AUTH_USER;
	p->auth = a;
	p->claims = claims;
	rbac_effective(a->rbac, claims.roles, claims.nroles, &p->roles);
	return p;
}

static struct auth_principal *
auth_verify_key(struct auth *a, const char *tok, size_t len,
    const char *rid)
{
	struct auth_principal	*p;
	const struct auth_key	*k;
	struct auth_key		 want;

	memset(&want, 0, sizeof(want));
	if (a->ca == NULL || !a->ca->api_keys) {
		log_info("%s api key refused: api keys are disabled", rid);
		return NULL;
	}
	if (authdb_key_parse(tok, len, want.id, want.hash) == -1) {
		log_info("%s api key refused: malformed", rid);
		return NULL;
	}
	k = a->state->nkeys == 0 ? NULL : bsearch(&want, a->state->keys,
	    a->state->nkeys, sizeof(want), auth_cmp_key);
	if (k == NULL || !bw_ct_equal(k->hash, want.hash, sizeof(k->hash))) {
		log_info("%s api key %s refused: %s", rid, want.id,
		    k == NULL ? "unknown or revoked" : "wrong secret");
		bw_wipe(&want, sizeof(want));
		return NULL;
	}
	bw_wipe(&want, sizeof(want));
	p = bw_calloc(1, sizeof(*p));
	p->kind = AUTH_APIKEY;
	p->auth = a;
	memcpy(p->key_id, k->id, sizeof(p->key_id));
	p->roles = k->roles;
	return p;
}

static int
auth_refuse(struct http_request *r, bool presented)
{
	http_request_set_www_authenticate(r, presented ?
	    "Bearer error=\"invalid_token\"" : "Bearer");
	http_respond_problem(r, PROBLEM_UNAUTHORIZED);
	return -1;
}

/*
 * The rate limit by user or API key of SPEC 5, after the credentials: the
 * bucket is the caller's identity (a user's id, a key's id, each in its
 * own namespace), or its address when it presented none.
 */
static int
auth_rate_limit(struct http_request *r, const struct conf_route *route,
    const struct auth_principal *p)
{
	const struct conf_rate	*rate = &route->rate_limit;
	const char		*ip;
	char			 key[2 + JWT_ID_MAX + 1];
	int			 n;

	if (!rate->enabled || rate->by == RATE_BY_IP)
		return 0;
	if (p == NULL) {
		ip = http_request_ip(r);
		return http_request_rate_limit(r, rate, ip, strlen(ip));
	}
	n = snprintf(key, sizeof(key), "%s%s", p->kind == AUTH_USER ? "u:" :
	    "k:", p->kind == AUTH_USER ? p->claims.sub : p->key_id);
	if (n < 0 || (size_t)n >= sizeof(key)) {
		http_respond_problem(r, PROBLEM_INTERNAL);
		return -1;
	}
	return http_request_rate_limit(r, rate, key, (size_t)n);
}

/* The request's free function for a principal nobody took over. */
static void
auth_principal_release(void *p)
{
	auth_principal_free(p);
}

int
auth_admit(struct http_request *r, void *arg)
{
	struct auth		*a = arg;
	const struct conf_route	*route = http_request_route(r);
	struct auth_principal	*p = NULL;
	const char		*tok, *rid = http_request_id(r);
	size_t			 len;
	enum auth_cred		 cred;

	cred = auth_credentials(http_request_head(r), &tok, &len);
	switch (cred) {
	case AUTH_CRED_NONE:
		if (!rbac_route_public(a->rbac, route))
			return auth_refuse(r, false);
		return auth_rate_limit(r, route, NULL);
	case AUTH_CRED_BAD:
		log_info("%s credentials refused: repeated, combined or not "
		    "Bearer", rid);
		return auth_refuse(r, true);
	case AUTH_CRED_BEARER:
	case AUTH_CRED_APIKEY:
		break;
	}
	if (a->ca == NULL) {
		log_info("%s credentials refused: authentication is not "
		    "configured", rid);
		return auth_refuse(r, true);
	}
	if (a->state == NULL) {
		log_notice("%s credentials not checked: revocation state not "
		    "loaded yet", rid);
		http_respond_problem(r, PROBLEM_DB_UNAVAILABLE);
		return -1;
	}
	if (cred == AUTH_CRED_BEARER)
		p = auth_verify_bearer(a, tok, len, rid);
	else
		p = auth_verify_key(a, tok, len, rid);
	if (p == NULL)
		return auth_refuse(r, true);
	if (auth_rate_limit(r, route, p) == -1) {
		auth_principal_free(p);
		return -1;
	}
	if (!rbac_allows(a->rbac, &p->roles, route)) {
		log_info("%s route %s: no role of the caller admits it", rid,
		    route->name);
		auth_principal_free(p);
		http_respond_problem(r, PROBLEM_FORBIDDEN);
		return -1;
	}
	http_request_set_principal(r, p, auth_principal_release);
	/* The access log names the caller: the user, or the API key's id. */
	http_request_set_user(r, p->kind == AUTH_USER ? p->claims.name :
	    p->key_id);
	return 0;
}

struct auth_principal *
auth_principal_take(struct http_request *r)
{
	struct auth_principal	*p = http_request_principal(r);

	http_request_set_principal(r, NULL, NULL);
	return p;
}

void
auth_principal_free(struct auth_principal *p)
{
	if (p == NULL)
		return;
	if (p->kind == AUTH_USER)
		jwt_claims_free(&p->claims);
	bw_wipe(p, sizeof(*p));
	free(p);
}

/* Values for SQL. */

static char *
auth_roles_text(const struct auth_principal *p, enum rbac_format fmt)
{
	char	*buf = bw_malloc(RBAC_NAMES_MAX);

	rbac_set_names(p->auth->rbac, &p->roles, fmt, buf, RBAC_NAMES_MAX);
	return buf;
}

const char *
auth_user_value(const struct auth_principal *p, const char *field,
    char **owned)
{
	if (strcmp(field, "roles") == 0) {
		if (p == NULL)
			return "{}";
		*owned = auth_roles_text(p, RBAC_FMT_PGARRAY);
		return *owned;
	}
	if (p == NULL || p->kind != AUTH_USER)
		return NULL;
	if (strcmp(field, "id") == 0)
		return p->claims.sub;
	if (strcmp(field, "name") == 0)
		return p->claims.name;
	return NULL;
}

const char *
auth_claim_value(const struct auth_principal *p, const char *claim,
    char **owned)
{
	int64_t	 t;
	char	 buf[24];

	if (p == NULL || p->kind != AUTH_USER)
		return NULL;
	if (strcmp(claim, "iss") == 0)
		return p->auth->ca->issuer;
	if (strcmp(claim, "aud") == 0)
		return p->auth->ca->audience;
	if (strcmp(claim, "sub") == 0)
		return p->claims.sub;
	if (strcmp(claim, "name") == 0)
		return p->claims.name;
	if (strcmp(claim, "sid") == 0)
		return p->claims.sid;
	if (strcmp(claim, "jti") == 0)
		return p->claims.jti;
	if (strcmp(claim, "roles") == 0) {
		*owned = auth_roles_text(p, RBAC_FMT_PGARRAY);
		return *owned;
	}
	if (strcmp(claim, "iat") == 0)
		t = p->claims.iat;
	else if (strcmp(claim, "nbf") == 0)
		t = p->claims.nbf;
	else if (strcmp(claim, "exp") == 0)
		t = p->claims.exp;
	else
		return NULL;
	(void)snprintf(buf, sizeof(buf), "%" PRId64, t);
	*owned = bw_strdup(buf);
	return *owned;
}

void
auth_context(const struct auth_principal *p, const char **id,
    const char **name, const char **roles, char **owned)
{
	*id = "";
	*name = "";
	*roles = "";
	if (p == NULL)
		return;
	if (p->kind == AUTH_USER) {
		*id = p->claims.sub != NULL ? p->claims.sub : "";
		*name = p->claims.name != NULL ? p->claims.name : "";
	}
	*owned = auth_roles_text(p, RBAC_FMT_LIST);
	*roles = *owned;
}

/*
 * The built-in endpoints (SPEC 8).
 *
 * Each request is a small state machine over database statements (each one
 * pipeline segment, so one transaction) and at most two jobs of the
 * hashing pool.  Its state (struct auth_ep) hangs on the request as its
 * ctx: whatever ends the request (a response, the client leaving,
 * request_timeout) frees it, abandoning the statement or job in flight and
 * wiping the secrets it holds.  A callback that answers returns at once:
 * the state is gone after http_respond().
 *
 * Login and the password change run the same steps whether or not the
 * user exists: LOCKOUT, LOOKUP, VERIFY (a dummy hash for an unknown or
 * disabled user), then FAILURE or SUCCESS.  Every credential failure of an
 * endpoint is the one 401 of auth_ep_refuse().
 */
enum auth_ep_step {
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

#define AUTH_EP_ROLES_MAX	(JWT_ROLES_MAX * (JWT_ROLE_MAX + 1))
#define AUTH_EP_IP_MAX		64

struct auth_ep {
	struct auth		*a;
	struct http_request	*r;
	enum auth_ep_kind	 kind;
	enum auth_ep_step	 step;
	struct auth_principal	*p;
	struct db_req		*dbreq;
	struct password_job	*job;
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
	char			 roles[AUTH_EP_ROLES_MAX];
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
	char			 used_ip[AUTH_EP_IP_MAX];
};

struct auth_ep_def {
	const char		*name;
	const char		*suffix;
	enum conf_method	 method;
	bool			 body;
};

static const struct auth_ep_def auth_ep_defs[AUTH_EP_COUNT] = {
	[AUTH_EP_LOGIN] = { "auth.login", "/login", METHOD_POST, true },
	[AUTH_EP_REFRESH] = { "auth.refresh", "/refresh", METHOD_POST, true },
	[AUTH_EP_LOGOUT] = { "auth.logout", "/logout", METHOD_POST, true },
	[AUTH_EP_ME] = { "auth.me", "/me", METHOD_GET, false },
	[AUTH_EP_PASSWORD] = { "auth.password", "/password", METHOD_POST,
	    true },
};

const char *
auth_endpoint_clash(const struct conf *conf, const struct conf_route *r)
{
	size_t	 i, plen;

	if (conf->auth == NULL || conf->auth->endpoints == NULL ||
	    r->path == NULL)
		return NULL;
	plen = strlen(conf->auth->endpoints);
	if (strncmp(r->path, conf->auth->endpoints, plen) != 0)
		return NULL;
	for (i = 0; i < AUTH_EP_COUNT; i++)
		if (auth_ep_defs[i].method == r->method &&
		    strcmp(r->path + plen, auth_ep_defs[i].suffix) == 0)
			return auth_ep_defs[i].name;
	return NULL;
}

static char	 auth_ep_public[] = "public";
static char	*auth_ep_roles[] = { auth_ep_public };

static void	 auth_ep_next(struct auth_ep *);

static void
auth_ep_free(void *arg)
{
	struct auth_ep	*e = arg;

	if (e->dbreq != NULL)
		db_abandon(e->dbreq);
	if (e->job != NULL)
		password_job_abandon(e->job);
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
auth_ep_refuse(struct auth_ep *e)
{
	http_request_set_www_authenticate(e->r, "Bearer");
	http_respond_problem(e->r, PROBLEM_UNAUTHORIZED);
}

static void
auth_ep_invalid(struct auth_ep *e, const char *pointer, const char *msg)
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
auth_ep_members(struct auth_ep *e, const char *const *names,
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
			auth_ep_invalid(e, "", "unknown member");
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
auth_ep_copy(const char *s, size_t len)
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
auth_ep_refresh_hash(const char *tok, size_t len, char *out)
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
auth_ep_refresh_new(struct auth_ep *e)
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
auth_ep_on_row(void *arg, const PGresult *res, int row)
{
	struct auth_ep	*e = arg;
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
		    (e->kind != AUTH_EP_PASSWORD ||
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
auth_ep_on_done(void *arg, enum db_outcome how, const char *sqlstate,
    const char *message, const char *cmd_tuples)
{
	struct auth_ep	*e = arg;

	(void)cmd_tuples;
	e->dbreq = NULL;
	if (how != DB_OK || e->row_bad) {
		if (how == DB_SQL_ERROR)
			log_warnx("%s %s: SQLSTATE %s: %s",
			    http_request_id(e->r), auth_ep_defs[e->kind].name,
			    sqlstate != NULL ? sqlstate : "",
			    message != NULL ? message : "");
		http_respond_problem(e->r, how == DB_SQL_ERROR || e->row_bad ?
		    PROBLEM_INTERNAL : PROBLEM_DB_UNAVAILABLE);
		return;
	}
	auth_ep_next(e);
}

static const struct db_req_ops auth_ep_db_ops = {
	auth_ep_on_row, auth_ep_on_done,
};

/* Runs st with n values as step; -1 after answering 503. */
static int
auth_ep_sql(struct auth_ep *e, enum auth_ep_step step, enum authdb_stmt st,
    const char *const *values, int n)
{
	const char		*ctx[API_CTX_PARAMS] = {
		"", "", "", http_request_id(e->r),
		auth_ep_defs[e->kind].name, AUTH_CTX_TIMEOUT,
	};
	struct db_req_params	 rp = {
		.stmt = e->a->first_stmt + st,
		.ctx_stmt = API_STMT_CTX,
		.nvalues = n, .values = values, .lengths = NULL,
		.nctx = API_CTX_PARAMS, .ctx_values = ctx,
	};

	e->step = step;
	e->row = e->row_bad = false;
	if (e->a->pool == NULL || authdb_stmts[st].nparams != n ||
	    (e->dbreq = db_submit(e->a->pool, &rp, &auth_ep_db_ops, e)) ==
	    NULL) {
		http_respond_problem(e->r, PROBLEM_DB_UNAVAILABLE);
		return -1;
	}
	return 0;
}

static void
auth_ep_pw_done(void *arg, int result, bool needs_rehash, const char *phc)
{
	struct auth_ep	*e = arg;

	e->job = NULL;
	if (e->step == EP_HASH) {
		if (result != 0 || phc == NULL || bw_strlcpy(e->new_phc, phc,
		    sizeof(e->new_phc)) >= sizeof(e->new_phc)) {
			http_respond_problem(e->r, PROBLEM_INTERNAL);
			return;
		}
		auth_ep_next(e);
		return;
	}
	if (result == -1)
		log_warnx("%s %s: stored password hash of %s unusable",
		    http_request_id(e->r), auth_ep_defs[e->kind].name,
		    e->username);
	e->user_ok = e->user_ok && result == 1;
	if (e->user_ok && needs_rehash && phc != NULL &&
	    bw_strlcpy(e->new_phc, phc, sizeof(e->new_phc)) <
	    sizeof(e->new_phc))
		e->rehash = true;
	auth_ep_next(e);
}

/* Submits a job to the pool as step; -1 after answering 503. */
static int
auth_ep_hash(struct auth_ep *e, enum auth_ep_step step, enum password_op op,
    const char *phc, const char *pw, size_t len)
{
	e->step = step;
	if (e->a->pw == NULL || password_pool_submit(e->a->pw, op, phc, pw,
	    len, auth_ep_pw_done, e, &e->job) == -1) {
		http_respond_problem(e->r, PROBLEM_OVERLOADED);
		return -1;
	}
	return 0;
}

/* Tokens. */

/* Splits "r1,r2" in place; -1 when there are too many. */
static int
auth_ep_roles_split(char *list, const char **out, size_t *n)
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
auth_ep_iat(struct auth_ep *e, int64_t now)
{
	const struct auth_user	*u;
	struct auth_user	 key;
	int64_t			 cut = e->cutoff;

	if (e->kind == AUTH_EP_REFRESH && e->a->state != NULL &&
	    e->a->state->nusers > 0) {
		memset(&key, 0, sizeof(key));
		bw_strlcpy(key.id, e->user_id, sizeof(key.id));
		u = bsearch(&key, e->a->state->users, e->a->state->nusers,
		    sizeof(key), auth_cmp_user);
		cut = u != NULL ? u->valid_after : INT64_MIN;
	}
	if (cut <= now)
		return now;
	return cut > now + 1 ? now + 1 : cut;
}

/*
 * 200 with a new pair: the access token of the user (its assigned roles,
 * the family as sid) and the refresh token made for this request.
 */
static void
auth_ep_issue(struct auth_ep *e)
{
	const struct conf_auth	*ca = e->a->ca;
	const struct keys_key	*key = keys_set_signing(e->a->keys);
	const char		*roles[JWT_ROLES_MAX];
	struct jwt_claims	 c;
	char			 jti[JWT_JTI_LEN + 1];
	char			*tok = NULL;
	const char		*err = "no signing key";
	json_t			*claims = NULL;
	int64_t			 ttl = ca->access_ttl_ms / 1000;
	int			 rv = -1;

	memset(&c, 0, sizeof(c));
	if (key != NULL && jwt_jti_new(jti) == 0 &&
	    auth_ep_roles_split(e->roles, roles, &c.nroles) == 0) {
		c.sub = e->user_id;
		c.name = e->username;
		c.sid = e->sid;
		c.jti = jti;
		c.roles = roles;
		c.nbf = (int64_t)time(NULL);
		c.iat = auth_ep_iat(e, c.nbf);
		c.exp = c.iat + ttl;
		if ((claims = jwt_claims_json(ca->issuer, ca->audience,
		    &c)) != NULL)
			rv = jwt_sign(key, claims, &tok, &err);
		json_decref(claims);
	}
	if (rv == -1 || evbuffer_add_printf(http_response_body(e->r),
	    "{\"access_token\":\"%s\",\"token_type\":\"Bearer\","
	    "\"expires_in\":%lld,\"refresh_token\":\"%s\"}", tok,
	    (long long)ttl, e->new_tok) == -1) {
		log_warnx("%s %s: cannot issue a token: %s",
		    http_request_id(e->r), auth_ep_defs[e->kind].name, err);
		free(tok);
		http_respond_problem(e->r, PROBLEM_INTERNAL);
		return;
	}
	log_info("%s %s: tokens issued to %s (session %s)",
	    http_request_id(e->r), auth_ep_defs[e->kind].name, e->username,
	    e->sid);
	free(tok);
	http_respond(e->r, 200);
}

/* The steps. */

static void
auth_ep_failure(struct auth_ep *e)
{
	const struct conf_auth	*ca = e->a->ca;
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
	(void)auth_ep_sql(e, EP_FAILURE, AUTHDB_LOGIN_FAILURE, v, 6);
}

static void
auth_ep_after_lockout(struct auth_ep *e)
{
	const char	*v[1] = { e->username };

	if (!e->num_null && e->num > 0) {
		log_info("%s %s: %s locked out from %s for %llds",
		    http_request_id(e->r), auth_ep_defs[e->kind].name,
		    e->username, http_request_ip(e->r), (long long)e->num);
		http_request_set_retry_after(e->r, e->num > UINT32_MAX ?
		    UINT32_MAX : (uint32_t)e->num);
		http_respond_problem(e->r, PROBLEM_RATE_LIMITED);
		return;
	}
	if (e->pw_bad) {
		auth_ep_failure(e);
		return;
	}
	(void)auth_ep_sql(e, EP_LOOKUP, AUTHDB_LOGIN_LOOKUP, v, 1);
}

static void
auth_ep_after_lookup(struct auth_ep *e)
{
	if (e->row && e->user_ok)
		(void)auth_ep_hash(e, EP_VERIFY, PASSWORD_OP_VERIFY, e->phc,
		    e->pw, e->pwlen);
	else {
		e->user_ok = false;
		(void)auth_ep_hash(e, EP_VERIFY, PASSWORD_OP_DUMMY, "",
		    e->pw, e->pwlen);
	}
}

static void
auth_ep_after_verify(struct auth_ep *e)
{
	const char	*v[2] = { e->username, http_request_ip(e->r) };

	if (!e->user_ok) {
		auth_ep_failure(e);
		return;
	}
	if (e->kind == AUTH_EP_PASSWORD) {
		(void)auth_ep_hash(e, EP_HASH, PASSWORD_OP_HASH, "",
		    e->newpw, e->newpwlen);
		return;
	}
	(void)auth_ep_sql(e, EP_SUCCESS, AUTHDB_LOGIN_SUCCESS, v, 2);
}

static void
auth_ep_after_failure(struct auth_ep *e)
{
	log_info("%s %s: credentials of %s refused from %s%s",
	    http_request_id(e->r), auth_ep_defs[e->kind].name, e->username,
	    http_request_ip(e->r), e->num > 0 ? " (now locked out)" : "");
	auth_ep_refuse(e);
}

static void
auth_ep_family(struct auth_ep *e)
{
	char		 ttl[24];
	const char	*v[3] = { e->user_id, ttl, e->new_hash };

	(void)snprintf(ttl, sizeof(ttl), "%lld",
	    (long long)e->a->ca->refresh_ttl_ms);
	if (auth_ep_refresh_new(e) == -1) {
		http_respond_problem(e->r, PROBLEM_INTERNAL);
		return;
	}
	(void)auth_ep_sql(e, EP_FAMILY, AUTHDB_FAMILY_CREATE, v, 3);
}

static void
auth_ep_after_family(struct auth_ep *e)
{
	const char	*v[3] = { e->user_id, e->new_phc, e->phc };

	if (!e->row) {
		http_respond_problem(e->r, PROBLEM_INTERNAL);
		return;
	}
	if (e->rehash) {
		(void)auth_ep_sql(e, EP_REHASH, AUTHDB_USER_REHASH, v, 3);
		return;
	}
	auth_ep_issue(e);
}

static void
auth_ep_after_rotate(struct auth_ep *e)
{
	const char	*v[1] = { e->old_hash };

	if (e->row) {
		auth_ep_issue(e);
		return;
	}
	(void)auth_ep_sql(e, EP_REUSE, AUTHDB_REFRESH_LOOKUP, v, 1);
}

/*
 * A refresh token that did not rotate.  One already used, of a family still
 * live, is reuse: the family is revoked, unless the same address presents
 * it again within refresh_reuse_grace (a client racing itself).
 */
static void
auth_ep_after_reuse(struct auth_ep *e)
{
	const char	*v[1] = { e->sid };
	const char	*rid = http_request_id(e->r);

	if (!e->row || !e->used || e->revoked || e->expired) {
		log_info("%s auth.refresh: refused (%s)", rid, !e->row ?
		    "unknown token" : e->revoked ? "revoked session" :
		    e->expired ? "expired session" : "session cut off");
		auth_ep_refuse(e);
		return;
	}
	if (!e->num_null && e->num <= e->a->ca->refresh_reuse_grace_ms &&
	    strcmp(e->used_ip, http_request_ip(e->r)) == 0) {
		log_info("%s auth.refresh: token of session %s presented again "
		    "within the grace period", rid, e->sid);
		auth_ep_refuse(e);
		return;
	}
	log_notice("%s auth.refresh: reuse of a rotated token from %s: "
	    "session %s revoked", rid, http_request_ip(e->r), e->sid);
	(void)auth_ep_sql(e, EP_REVOKE, AUTHDB_FAMILY_REVOKE, v, 1);
}

static void
auth_ep_after_logout(struct auth_ep *e)
{
	char		 exp[24];
	const char	*v[2] = { NULL, exp };

	if (!e->row) {
		log_info("%s auth.logout: unknown token or not the caller's",
		    http_request_id(e->r));
		auth_ep_refuse(e);
		return;
	}
	if (e->p == NULL) {
		auth_reload_now(e->a);
		http_respond(e->r, 204);
		return;
	}
	v[0] = e->p->claims.jti;
	(void)snprintf(exp, sizeof(exp), "%lld", (long long)e->p->claims.exp);
	(void)auth_ep_sql(e, EP_DENY, AUTHDB_DENY_JTI, v, 2);
}

static void
auth_ep_next(struct auth_ep *e)
{
	const char	*v[3] = { e->user_id, e->new_phc, NULL };

	switch (e->step) {
	case EP_LOCKOUT:
		auth_ep_after_lockout(e);
		break;
	case EP_LOOKUP:
		auth_ep_after_lookup(e);
		break;
	case EP_VERIFY:
		auth_ep_after_verify(e);
		break;
	case EP_FAILURE:
		auth_ep_after_failure(e);
		break;
	case EP_SUCCESS:
		auth_ep_family(e);
		break;
	case EP_FAMILY:
		auth_ep_after_family(e);
		break;
	case EP_REHASH:
		auth_ep_issue(e);
		break;
	case EP_HASH:
		v[2] = e->p->claims.sid;
		(void)auth_ep_sql(e, EP_CHANGE, AUTHDB_USER_CHANGE_PASSWORD,
		    v, 3);
		break;
	case EP_ROTATE:
		auth_ep_after_rotate(e);
		break;
	case EP_REUSE:
		auth_ep_after_reuse(e);
		break;
	case EP_LOGOUT:
		auth_ep_after_logout(e);
		break;
	case EP_CHANGE:
		if (!e->row) {
			auth_ep_refuse(e);
			break;
		}
		log_info("%s auth.password: password of %s changed",
		    http_request_id(e->r), e->username);
		/* FALLTHROUGH */
	case EP_DENY:
		auth_reload_now(e->a);
		http_respond(e->r, 204);
		break;
	case EP_REVOKE:
		auth_reload_now(e->a);
		auth_ep_refuse(e);
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
auth_ep_credentials(struct auth_ep *e, const char *name, size_t namelen,
    const char *pw, size_t pwlen)
{
	const char	*v[2] = { e->username, http_request_ip(e->r) };
	const char	*msg;

	if (password_check_login(e->a->ca, pw, pwlen, &msg) == -1)
		e->pw_bad = true;
	else {
		e->pw = auth_ep_copy(pw, pwlen);
		e->pwlen = pwlen;
	}
	if (!password_username_valid_len(name, namelen, e->username,
	    sizeof(e->username))) {
		e->user_ok = false;
		e->username[0] = '\0';
		if (e->pw_bad)
			auth_ep_refuse(e);
		else
			(void)auth_ep_hash(e, EP_FAILURE, PASSWORD_OP_DUMMY,
			    "", e->pw, e->pwlen);
		return;
	}
	(void)auth_ep_sql(e, EP_LOCKOUT, AUTHDB_LOCKOUT_QUERY, v, 2);
}

static void
auth_ep_login(struct auth_ep *e)
{
	static const char *const names[] = { "username", "password", NULL };
	const char		*vals[2];
	size_t			 lens[2];

	if (auth_ep_members(e, names, vals, lens) == -1)
		return;
	auth_ep_credentials(e, vals[0], lens[0], vals[1], lens[1]);
}

static void
auth_ep_refresh(struct auth_ep *e)
{
	static const char *const names[] = { "refresh_token", NULL };
	const char		*vals[1];
	size_t			 lens[1];
	const char		*v[3] = { e->old_hash, http_request_ip(e->r),
				    e->new_hash };

	if (auth_ep_members(e, names, vals, lens) == -1)
		return;
	if (auth_ep_refresh_hash(vals[0], lens[0], e->old_hash) == -1) {
		log_info("%s auth.refresh: malformed token",
		    http_request_id(e->r));
		auth_ep_refuse(e);
		return;
	}
	if (auth_ep_refresh_new(e) == -1) {
		http_respond_problem(e->r, PROBLEM_INTERNAL);
		return;
	}
	(void)auth_ep_sql(e, EP_ROTATE, AUTHDB_REFRESH_ROTATE, v, 3);
}

static void
auth_ep_logout(struct auth_ep *e)
{
	static const char *const names[] = { "refresh_token", NULL };
	const char		*vals[1];
	size_t			 lens[1];
	const char		*v[2] = { e->old_hash, NULL };

	if (auth_ep_members(e, names, vals, lens) == -1)
		return;
	if (auth_ep_refresh_hash(vals[0], lens[0], e->old_hash) == -1) {
		log_info("%s auth.logout: malformed token",
		    http_request_id(e->r));
		auth_ep_refuse(e);
		return;
	}
	if (e->p != NULL)
		v[1] = e->p->claims.sub;
	(void)auth_ep_sql(e, EP_LOGOUT, AUTHDB_LOGOUT, v, 2);
}

static void
auth_ep_me(struct auth_ep *e)
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
auth_ep_password(struct auth_ep *e)
{
	static const char *const names[] = {
		"current_password", "new_password", NULL,
	};
	const char		*vals[2], *msg;
	size_t			 lens[2];

	if (auth_ep_members(e, names, vals, lens) == -1)
		return;
	if (password_check_policy(e->a->ca, vals[1], lens[1], &msg) == -1) {
		auth_ep_invalid(e, "/new_password", msg);
		return;
	}
	e->newpw = auth_ep_copy(vals[1], lens[1]);
	e->newpwlen = lens[1];
	if (e->p->claims.name == NULL) {
		auth_ep_refuse(e);
		return;
	}
	auth_ep_credentials(e, e->p->claims.name, strlen(e->p->claims.name),
	    vals[0], lens[0]);
}

/* Registration and dispatch. */

int
auth_endpoints_add(struct auth *a, struct http_server *srv,
    struct password_pool *pw, const char **err)
{
	const struct auth_ep_def	*d;
	struct auth_ep_route		*ep;
	struct conf_route		*rt;
	size_t				 i, plen;

	a->pw = pw;
	if (a->ca == NULL || a->ca->endpoints == NULL || a->keys == NULL ||
	    a->ep_on)
		return 0;
	a->ep_body.kind = NODE_MAP;
	plen = strlen(a->ca->endpoints);	/* conf: no trailing '/' */
	for (i = 0; i < AUTH_EP_COUNT; i++) {
		d = &auth_ep_defs[i];
		ep = &a->ep_routes[i];
		ep->a = a;
		ep->kind = (enum auth_ep_kind)i;
		ep->ops.prepare = auth_endpoint_prepare;
		ep->ops.handle = auth_endpoint_handle;
		ep->ops.arg = ep;
		rt = &ep->route;
		rt->name = bw_strdup(d->name);
		rt->path = bw_malloc(plen + strlen(d->suffix) + 1);
		memcpy(rt->path, a->ca->endpoints, plen);
		memcpy(rt->path + plen, d->suffix, strlen(d->suffix) + 1);
		rt->method = d->method;
		rt->roles = auth_ep_roles;
		rt->nroles = 1;
		rt->body = d->body ? &a->ep_body : NULL;
		rt->max_body_size = AUTH_EP_MAX_BODY;
		rt->result = d->body ? RESULT_NONE : RESULT_OBJECT;
		rt->status = 200;
		rt->audit = 0;
		rt->rate_limit = a->ca->endpoint_rate_limit;
		if (http_server_add_route(srv, rt, &ep->ops, err) == -1)
			return -1;
	}
	a->ep_on = true;
	return 0;
}

/*
 * Before the body is read: the state, the caller (taken from the admit
 * hook), and the checks that need no body.  me and password want a user:
 * none is 401, an API key 403.  A Bearer token at logout must be a user's.
 */
int
auth_endpoint_prepare(struct http_request *r, void *arg)
{
	struct auth_ep_route	*ep = arg;
	struct auth_ep		*e;

	e = bw_calloc(1, sizeof(*e));
	e->cutoff = INT64_MIN;
	e->a = ep->a;
	e->r = r;
	e->kind = ep->kind;
	e->p = auth_principal_take(r);
	http_request_set_ctx(r, e, auth_ep_free);
	if ((e->kind == AUTH_EP_ME || e->kind == AUTH_EP_PASSWORD) &&
	    e->p == NULL) {
		http_request_set_www_authenticate(r, "Bearer");
		http_respond_problem(r, PROBLEM_UNAUTHORIZED);
		return -1;
	}
	if (e->p != NULL && e->p->kind != AUTH_USER &&
	    (e->kind == AUTH_EP_ME || e->kind == AUTH_EP_PASSWORD ||
	    e->kind == AUTH_EP_LOGOUT)) {
		http_respond_problem(r, PROBLEM_FORBIDDEN);
		return -1;
	}
	return 0;
}

void
auth_endpoint_handle(struct http_request *r, void *arg)
{
	struct auth_ep	*e = http_request_ctx(r);

	(void)arg;
	switch (e->kind) {
	case AUTH_EP_LOGIN:
		auth_ep_login(e);
		break;
	case AUTH_EP_REFRESH:
		auth_ep_refresh(e);
		break;
	case AUTH_EP_LOGOUT:
		auth_ep_logout(e);
		break;
	case AUTH_EP_ME:
		auth_ep_me(e);
		break;
	case AUTH_EP_PASSWORD:
		auth_ep_password(e);
		break;
	default:
		http_respond_problem(r, PROBLEM_INTERNAL);
		break;
	}
}
