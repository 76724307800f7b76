/*
 * auth.c - credentials on routed requests, authorization and the
 * per-worker revocation state (SPEC 8).  See auth.h for the contract.
 *
 * The revocation state is a snapshot: three sorted arrays (deny-listed
 * jtis, users' cut-offs, active API keys) replaced as a whole once a
 * reload has read all three lists.  Lookups are binary searches and never
 * allocate.  A failed or partial reload keeps the previous snapshot.
 *
 * Until the first snapshot is loaded, a request presenting credentials
 * is parked (SPEC 12 Readiness): a FIFO of struct auth_park, each holding
 * a place in the pool's queue (db_pool_hold, so max_queue bounds them)
 * and the request's cancel hook (a client that goes frees its entry at
 * once).  The entries share one deadline, queue_timeout after parking, so
 * the oldest expires first and one timer serves them all: at it the
 * expired get 503; once the state is loaded the timer fires at once and
 * every parked request is admitted again from the start.
 */
#include <sys/queue.h>

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "audit.h"
#include "audit_client.h"
#include "auth.h"
#include "authdb.h"
#include "conf.h"
#include "db.h"
#include "http.h"
#include "http_parse.h"
#include "jwt.h"
#include "keys.h"
#include "log.h"
#include "metrics.h"
#include "rbac.h"
#include "util.h"


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

struct auth_park {
	TAILQ_ENTRY(auth_park)	 entry;
	struct auth		*auth;
	struct http_request	*r;
	int64_t			 deadline_ms;
};

TAILQ_HEAD(auth_parks, auth_park);

enum auth_load_step {
	LOAD_DENIED,
	LOAD_USERS,
	LOAD_KEYS,
	LOAD_DONE,
};

struct auth {
	const struct conf	*conf;
	const struct conf_auth	*ca;
	const struct keys_set	*keys;
	struct rbac		*rbac;
	struct jwt_cache	*cache;
	struct jwt_verifier	 ver;
	struct db_pool		*pool;
	size_t			 stmts[LOAD_DONE];	/* handles in pool */
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
	struct auth_parks	 parked;	/* oldest first */
	struct event		*park_timer;
};

static void	 auth_load_step(struct auth *);
static void	 auth_tick(evutil_socket_t, short, void *);
static void	 auth_park_tick(evutil_socket_t, short, void *);
static void	 auth_park_fail_all(struct auth *);

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

/* Lowercase hex only: what PostgreSQL's encode(..., 'hex') writes. */
static int
auth_hex_nibble(char c)
{
	return c >= 'A' && c <= 'F' ? -1 : bw_hex_value((unsigned char)c);
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

int64_t
auth_user_cutoff(const struct auth *a, const char *id)
{
	const struct auth_user	*u;
	struct auth_user	 key;

	memset(&key, 0, sizeof(key));
	if (a->state == NULL || a->state->nusers == 0 ||
	    bw_strlcpy(key.id, id, sizeof(key.id)) >= sizeof(key.id))
		return INT64_MIN;
	u = bsearch(&key, a->state->users, a->state->nusers, sizeof(key),
	    auth_cmp_user);
	return u != NULL ? u->valid_after : INT64_MIN;
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
 * (authep_iat), so it is not born dead.
 */
int64_t
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
	if (a->state == NULL) {
		log_info("revocation state loaded: %zu denied, %zu users, "
		    "%zu api keys", s->ndenied, s->nusers, s->nkeys);
		if (!TAILQ_EMPTY(&a->parked))
			event_active(a->park_timer, EV_TIMEOUT, 0);
	}
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

/* The statement of each load step. */
static const enum authdb_stmt auth_load_stmts[LOAD_DONE] = {
	AUTHDB_DENIED_LIST, AUTHDB_USER_CUTOFFS, AUTHDB_APIKEY_ACTIVE,
};

static void
auth_load_step(struct auth *a)
{
	struct db_ctx		 ctx = {
		.route = "bulwark.auth", .timeout = AUTH_STMT_TIMEOUT,
	};
	struct db_req_params	 rp = {
		.stmt = a->stmts[a->step],
		.nvalues = 0, .values = NULL, .lengths = NULL, .ctx = &ctx,
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
void
auth_revoked(struct auth *a)
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
	auth_revoked(arg);
}

static void
auth_on_listen(void *arg)
{
	log_debug("revocation listener connected");
	auth_revoked(arg);
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
	TAILQ_INIT(&a->parked);
	if ((a->timer = evtimer_new(base, auth_tick, a)) == NULL ||
	    (a->park_timer = evtimer_new(base, auth_park_tick, a)) == NULL) {
		*err = "cannot allocate the revocation timers";
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
	struct auth_park	*p;

	if (a == NULL)
		return;
	/* Requests end before their auth: none is left in practice. */
	while ((p = TAILQ_FIRST(&a->parked)) != NULL) {
		TAILQ_REMOVE(&a->parked, p, entry);
		http_request_set_cancel(p->r, NULL, NULL);
		free(p);
	}
	if (a->park_timer != NULL)
		event_free(a->park_timer);
	if (a->req != NULL)
		db_abandon(a->req);
	if (a->listener != NULL)
		db_pool_free(a->listener);
	if (a->timer != NULL)
		event_free(a->timer);
	auth_state_free(a->state);
	auth_state_free(a->next);
	jwt_cache_free(a->cache);
	rbac_free(a->rbac);
	free(a);
}

void
auth_attach_pool(struct auth *a, struct db_pool *pool)
{
	size_t	 i;

	if (pool == NULL)
		auth_park_fail_all(a);
	a->pool = pool;
	if (pool == NULL) {
		if (a->req != NULL)
			db_abandon(a->req);
		a->req = NULL;
		evtimer_del(a->timer);
		return;
	}
	for (i = 0; i < LOAD_DONE; i++)
		a->stmts[i] = db_pool_stmt_add(pool,
		    &authdb_stmts[auth_load_stmts[i]]);
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

/* Requests parked until the revocation state is loaded. */

static void
auth_park_arm(struct auth *a)
{
	struct auth_park	*p = TAILQ_FIRST(&a->parked);
	struct timeval		 tv;
	int64_t			 wait;

	if (p == NULL) {
		evtimer_del(a->park_timer);
		return;
	}
	wait = a->state != NULL ? 0 : p->deadline_ms - bw_now_ms();
	bw_ms_to_tv(wait > 0 ? wait : 0, &tv);
	evtimer_add(a->park_timer, &tv);
}

/* Takes p off the list; its request is the caller's again. */
static struct http_request *
auth_park_remove(struct auth_park *p)
{
	struct auth		*a = p->auth;
	struct http_request	*r = p->r;

	TAILQ_REMOVE(&a->parked, p, entry);
	if (a->pool != NULL)
		db_pool_unhold(a->pool);
	free(p);
	return r;
}

/* The request's cancel hook: the client went or request_timeout fired. */
static void
auth_park_cancel(void *arg)
{
	struct auth_park	*p = arg;
	struct auth		*a = p->auth;

	(void)auth_park_remove(p);
	auth_park_arm(a);
}

static void
auth_park_refuse(struct http_request *r, const char *why)
{
	http_request_set_cancel(r, NULL, NULL);
	log_notice("%s credentials not checked: revocation state %s",
	    http_request_id(r), why);
	http_respond_problem(r, PROBLEM_DB_UNAVAILABLE);
}

static void
auth_park_fail_all(struct auth *a)
{
	while (!TAILQ_EMPTY(&a->parked))
		auth_park_refuse(auth_park_remove(TAILQ_FIRST(&a->parked)),
		    "no longer read");
	evtimer_del(a->park_timer);
}

/*
 * Once the state is loaded every parked request is admitted again, in
 * order; before, those past their deadline get 503.  Each is off the
 * list before it is answered or admitted.
 */
static void
auth_park_tick(evutil_socket_t fd, short what, void *arg)
{
	struct auth		*a = arg;
	struct auth_park	*p;
	int64_t			 now = bw_now_ms();

	(void)fd;
	(void)what;
	while ((p = TAILQ_FIRST(&a->parked)) != NULL) {
		if (a->state != NULL)
			http_request_readmit(auth_park_remove(p));
		else if (p->deadline_ms <= now)
			auth_park_refuse(auth_park_remove(p),
			    "not loaded within queue_timeout");
		else
			break;
	}
	auth_park_arm(a);
}

/*
 * A request presenting credentials before the state is loaded waits for
 * it as for a pool connection: when the pool can have it wait and the
 * queue has room, else 503 at once.
 */
static int
auth_park(struct auth *a, struct http_request *r)
{
	struct auth_park	*p;

	if (a->pool == NULL || a->conf->database == NULL ||
	    db_pool_hold(a->pool) == -1) {
		log_notice("%s credentials not checked: revocation state not "
		    "loaded yet", http_request_id(r));
		http_respond_problem(r, PROBLEM_DB_UNAVAILABLE);
		return -1;
	}
	p = bw_calloc(1, sizeof(*p));
	p->auth = a;
	p->r = r;
	p->deadline_ms = bw_now_ms() + a->conf->database->queue_timeout_ms;
	TAILQ_INSERT_TAIL(&a->parked, p, entry);
	http_request_set_cancel(r, auth_park_cancel, p);
	if (TAILQ_FIRST(&a->parked) == p)
		auth_park_arm(a);
	log_debug("%s waits for the revocation state", http_request_id(r));
	return HTTP_ADMIT_WAIT;
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
	metrics_auth_failure(presented ? METRICS_AUTH_INVALID :
	    METRICS_AUTH_MISSING);
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

/* authz.denied (SPEC 9): who was refused which route; never a credential. */
static void
auth_audit_denied(struct http_request *r, const struct conf_route *route,
    const struct auth_principal *p)
{
	const struct http_head	*h = http_request_head(r);
	struct audit_event	 ev;
	char			*path;

	memset(&ev, 0, sizeof(ev));
	path = bw_strndup(h->path, h->path_len);
	ev.event = "authz.denied";
	ev.request_id = http_request_id(r);
	ev.user = p->kind == AUTH_USER ? p->claims.name : NULL;
	ev.api_key = p->kind == AUTH_APIKEY ? p->key_id : NULL;
	ev.ip = http_request_ip(r);
	ev.route = route->name;
	ev.method = conf_method_name(route->method);
	ev.path = path;
	ev.status = 403;
	if (audit_client_event(&ev) == -1)
		log_warnx("%s authz.denied: the audit writer did not take the "
		    "record", ev.request_id);
	free(path);
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
	if (a->state == NULL)
		return auth_park(a, r);
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
		auth_audit_denied(r, route, p);
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
