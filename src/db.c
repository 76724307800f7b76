/*
 * db.c - the per-worker asynchronous PostgreSQL pool in pipeline mode.
 *
 * Connection states:
 *
 *   DOWN -> CONNECTING -> PREPARING -> READY -> (failure) BACKOFF -> CONNECTING
 *
 * Invariants:
 * - every request is in exactly one place: the pool's wait queue, one
 *   connection's in-flight list, or nowhere (being completed);
 * - a connection's in-flight list is in the order its segments were sent,
 *   which is the order their results arrive;
 * - on_done runs exactly once per request that was not abandoned, and no
 *   callback runs for an abandoned request; a request sent but not started
 *   by its queue_timeout gets its on_done (DB_UNAVAILABLE) then and is
 *   abandoned, staying in its connection's list until its results (a
 *   refusal by the context statement) are discarded;
 * - the event loop never blocks: libpq is non-blocking, PQflush is retried
 *   from a write event, PQsocket is re-read after every PQconnectPoll;
 * - a READY connection over TCP is corked, and whatever libpq wrote to it
 *   in a pass of the event loop is pushed at the end of that pass
 *   (db_conn_cork, db_pool_push): one packet, one wake-up of its backend.
 *
 * The statement registry: the pool's statements (its two context
 * statements first, then those of db_pool_stmt_add(), in order) are
 * prepared on every connection as bw_<handle>; it is closed once the pool
 * starts, so every connection prepares the same list.
 *
 * Parameter values are copied into the request so callers need not keep
 * them alive; they may hold user data and are freed with the request.
 */
#include <sys/queue.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "db.h"
#include "log.h"
#include "util.h"

#define DB_STMT_NAME_MAX	24
#define DB_STMT_CTX		0	/* handles of the context statements */
#define DB_STMT_CTX_RO		1
#define DB_CTX_NPARAMS		(DB_CTX_PARAMS + 1)	/* + the deadline */
#define DB_DEADLINE_LEN		24
#define DB_NOTICE_MAX		512	/* bytes of a notice logged */
#define DB_CLOCK_SQL							\
	"SELECT CAST(extract(epoch FROM clock_timestamp()) * 1000 AS bigint)"

/*
 * The context statement of SPEC 7: transaction-local settings for the
 * request's statement.  Values are bound, never interpolated.  $7 is the
 * segment's start deadline (milliseconds since the epoch): a segment that
 * begins executing after it fails here, in its first statement, so the
 * request's own statement never runs (the pipeline aborts to the Sync).
 */
#define DB_CTX_SQL							\
	"SELECT set_config('bulwark.user_id', $1, true), "		\
	"set_config('bulwark.user_name', $2, true), "			\
	"set_config('bulwark.roles', $3, true), "			\
	"set_config('bulwark.request_id', $4, true), "			\
	"set_config('bulwark.route', $5, true), "			\
	"set_config('statement_timeout', $6, true), "			\
	"CAST(CASE WHEN clock_timestamp() > "				\
	"to_timestamp(CAST($7 AS float8) / 1000) "			\
	"THEN 'queue_timeout' ELSE '0' END AS int)"

/* $8 to $17: the bulwark.audit row, in the order of AUDIT_DB_INSERT_SQL. */
#define DB_CTX_AUDIT_SQL						\
	"WITH a AS (INSERT INTO bulwark.audit (instance, event, "	\
	"request_id, actor_user, actor_ip, actor_api_key, route, "	\
	"method, path, detail) VALUES ($8, $9, $10, $11, $12, $13, "	\
	"$14, $15, $16, CAST($17 AS jsonb)) RETURNING id) "		\
	DB_CTX_SQL ", (SELECT id FROM a)"

const struct db_stmt_def db_ctx_audit_def = {
	DB_CTX_AUDIT_SQL, DB_CTX_NPARAMS + DB_AUDIT_PARAMS
};

static const struct db_stmt_def db_ctx_defs[] = {
	[DB_STMT_CTX] = { DB_CTX_SQL, DB_CTX_NPARAMS },
	[DB_STMT_CTX_RO] = { DB_CTX_SQL ", "
	    "set_config('transaction_read_only', 'on', true)", DB_CTX_NPARAMS },
};

enum db_conn_state {
	DB_CONN_DOWN,
	DB_CONN_CONNECTING,
	DB_CONN_PREPARING,
	DB_CONN_READY,
	DB_CONN_BACKOFF,
};

/* Where a request is in reading its segment's results. */
enum db_req_phase {
	DB_PHASE_CTX,		/* the context statement's result */
	DB_PHASE_CTX_END,	/* the NULL after it */
	DB_PHASE_STMT,		/* the request's statement: rows, its end */
	DB_PHASE_STMT_END,	/* the NULL after it */
	DB_PHASE_SYNC,		/* PGRES_PIPELINE_SYNC */
};

struct db_conn;

struct db_req {
	TAILQ_ENTRY(db_req)	 entry;
	struct db_pool		*pool;
	struct db_conn		*conn;		/* NULL while queued */
	const struct db_req_ops	*ops;
	void			*arg;
	bool			 abandoned;
	bool			 started;	/* first on its connection */
	bool			 ctx_failed;	/* its segment was refused */
	bool			 retried;
	bool			 rows_stopped;
	bool			 failed;
	bool			 read;		/* db_req_params.read */
	enum db_req_phase		 phase;
	int64_t			 deadline_ms;	/* to start: queue_timeout */
	size_t			 stmt;
	size_t			 ctx_stmt;
	int			 nvalues;
	char			**values;
	int			*lengths;
	char			**ctx_values;	/* DB_CTX_PARAMS of them */
	char			**audit_values;	/* DB_AUDIT_PARAMS, or NULL */
	int64_t			*audit_id;
	int64_t			 deadline_wall;	/* ms since the epoch */
	char			 sqlstate[6];
	char			*message;
	char			 cmd_tuples[24];
};

TAILQ_HEAD(db_req_list, db_req);

struct db_conn {
	struct db_pool		*pool;
	PGconn			*pg;
	enum db_conn_state		 state;
	int			 fd;
	struct event		*ev_read;
	struct event		*ev_write;
	struct event		*ev_timer;	/* connect timeout or backoff */
	int			 backoff_ms;
	int			 prepares_left;
	int64_t			 clock_offset;	/* the database's - ours, ms */
	struct db_req_list	 inflight;
	size_t			 ninflight;
	size_t			 nwrites;	/* of them, not reads */
	int64_t			 answered_ms;	/* last result, or busy since */
	bool			 corked;	/* TCP_CORK on its socket */
	bool			 unpushed;	/* corked bytes not pushed */
};

struct db_pool {
	struct event_base	*base;
	struct db_pool_params	 p;
	const struct db_stmt_def **stmts;	/* the registry */
	char			**stmt_names;
	size_t			 nstmts;
	bool			 started;
	struct db_conn		*conns;
	struct db_req_list	 waitq;
	size_t			 nwait;
	size_t			 nheld;		/* db_pool_hold() places */
	int64_t			 start_ms;	/* db_pool_start() */
	bool			 ever_ready;	/* a connection was ready */
	struct event		*ev_queue;
	struct event		*ev_push;	/* db_pool_push, once a pass */
	bool			 push_armed;
	/* A listener (db_listen_new): one connection, no statements. */
	char			*listen_sql;
	void			(*on_notify)(void *, const char *);
	void			(*on_connect)(void *);
	void			*listen_arg;
};

static void	db_conn_start(struct db_conn *);
static void	db_conn_fail(struct db_conn *, const char *why);
static void	db_conn_dispatch(struct db_pool *);
static void	db_conn_io(evutil_socket_t, short, void *);
static void	db_req_finish(struct db_req *, enum db_outcome);

static char **
db_copy_values(int n, const char * const *v, const int *lengths, int *lens_out)
{
	char	**out, *p;
	size_t	 total = 0, len;
	int	 i;

	for (i = 0; i < n; i++)
		if (v[i] != NULL)
			total += (lengths != NULL ? (size_t)lengths[i] :
			    strlen(v[i])) + 1;
	out = bw_malloc((size_t)n * sizeof(*out) + total);
	p = (char *)(out + n);
	for (i = 0; i < n; i++) {
		if (lens_out != NULL)
			lens_out[i] = 0;
		if (v[i] == NULL) {
			out[i] = NULL;
			continue;
		}
		len = lengths != NULL ? (size_t)lengths[i] : strlen(v[i]);
		memcpy(p, v[i], len);
		p[len] = '\0';
		out[i] = p;
		if (lens_out != NULL)
			lens_out[i] = (int)len;
		p += len + 1;
	}
	return out;
}

/* The context statement's values in its parameter order. */
static char **
db_ctx_values(const struct db_ctx *ctx)
{
	const char	*v[DB_CTX_PARAMS] = { "", "", "", "", "", "" };

	if (ctx != NULL) {
		v[0] = ctx->user_id != NULL ? ctx->user_id : "";
		v[1] = ctx->user_name != NULL ? ctx->user_name : "";
		v[2] = ctx->roles != NULL ? ctx->roles : "";
		v[3] = ctx->request_id != NULL ? ctx->request_id : "";
		v[4] = ctx->route != NULL ? ctx->route : "";
		v[5] = ctx->timeout != NULL ? ctx->timeout : "";
	}
	return db_copy_values(DB_CTX_PARAMS, v, NULL, NULL);
}

/*
 * The start deadline: queue_timeout from now by bulwarkd's clock, and the
 * same instant less a margin by the wall clock for the context statement
 * (moved to the database's clock when sent, db_conn_send), so that a
 * segment the database starts after the margin's begin is refused even if
 * its predecessor's results have not reached bulwarkd yet.
 */
static int64_t
db_wall_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
db_req_deadline(struct db_req *r, int64_t queue_timeout_ms)
{
	int64_t		 margin;

	r->deadline_ms = bw_now_ms() + queue_timeout_ms;
	margin = queue_timeout_ms / 2 < DB_START_MARGIN_MS ?
	    queue_timeout_ms / 2 : DB_START_MARGIN_MS;
	r->deadline_wall = db_wall_ms() + queue_timeout_ms - margin;
}

static void
db_req_free(struct db_req *r)
{
	free(r->values);
	free(r->lengths);
	free(r->ctx_values);
	free(r->audit_values);
	free(r->message);
	free(r);
}

/* Takes the oldest waiting request off the queue; NULL when empty. */
static struct db_req *
db_waitq_pop(struct db_pool *pool)
{
	struct db_req	*r = TAILQ_FIRST(&pool->waitq);

	if (r != NULL) {
		TAILQ_REMOVE(&pool->waitq, r, entry);
		pool->nwait--;
	}
	return r;
}

/* Completes a request that is in no list any more. */
static void
db_req_finish(struct db_req *r, enum db_outcome outcome)
{
	if (!r->abandoned)
		r->ops->on_done(r->arg, outcome,
		    r->failed ? r->sqlstate : NULL, r->message,
		    r->cmd_tuples);
	db_req_free(r);
}

static void
db_conn_watch_fd(struct db_conn *c)
{
	int	 fd = PQsocket(c->pg);

	if (fd == c->fd && c->ev_read != NULL)
		return;
	if (c->ev_read != NULL)
		event_free(c->ev_read);
	if (c->ev_write != NULL)
		event_free(c->ev_write);
	c->ev_read = c->ev_write = NULL;
	c->fd = fd;
	if (fd < 0)
		return;
	c->ev_read = event_new(c->pool->base, fd, EV_READ | EV_PERSIST,
	    db_conn_io, c);
	c->ev_write = event_new(c->pool->base, fd, EV_WRITE, db_conn_io, c);
	if (c->ev_read == NULL || c->ev_write == NULL)
		fatal("db: cannot create events");
}

static void
db_conn_close(struct db_conn *c)
{
	if (c->ev_read != NULL)
		event_free(c->ev_read);
	if (c->ev_write != NULL)
		event_free(c->ev_write);
	c->ev_read = c->ev_write = NULL;
	c->fd = -1;
	c->corked = c->unpushed = false;
	if (c->pg != NULL)
		PQfinish(c->pg);
	c->pg = NULL;
}

/*
 * Segments of one pass leave in one packet.  libpq 15 writes to the socket
 * at every Sync, so a ready connection's TCP socket is corked: what libpq
 * writes during a pass of the event loop waits in the kernel, and one
 * push per connection (db_pool_push, run once at the end of the pass)
 * sends it.  PostgreSQL then wakes once for all of them instead of once
 * per request.  Setting TCP_NODELAY pushes a corked socket's queue (tcp(7));
 * the kernel's 200 ms ceiling on corked data bounds a push that went
 * missing.  A socket that cannot be corked (a Unix socket) is left alone.
 */
static void
db_conn_cork(struct db_conn *c)
{
	int	 one = 1;

	c->corked = setsockopt(c->fd, IPPROTO_TCP, TCP_CORK, &one,
	    sizeof(one)) == 0;
	c->unpushed = false;
}

static void
db_pool_push(evutil_socket_t fd, short what, void *arg)
{
	struct db_pool	*pool = arg;
	struct db_conn	*c;
	int		 one = 1;
	uint32_t	 i;

	(void)fd;
	(void)what;
	pool->push_armed = false;
	for (i = 0; i < pool->p.pool_size; i++) {
		c = &pool->conns[i];
		if (!c->unpushed || c->fd < 0)
			continue;
		c->unpushed = false;
		if (setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one,
		    sizeof(one)) == -1)
			log_warnx("database: push: %s", strerror(errno));
	}
}

/* Flushes libpq's output buffer; arms the write event while it is not empty. */
static int
db_conn_flush(struct db_conn *c)
{
	int	 rv = PQflush(c->pg);

	if (rv == -1)
		return -1;
	if (rv == 1)
		event_add(c->ev_write, NULL);
	if (c->corked && !c->unpushed) {
		c->unpushed = true;
		if (!c->pool->push_armed) {
			c->pool->push_armed = true;
			event_active(c->pool->ev_push, EV_TIMEOUT, 0);
		}
	}
	return 0;
}

static void
db_conn_timer(evutil_socket_t fd, short what, void *arg)
{
	struct db_conn	*c = arg;

	(void)fd;
	(void)what;
	if (c->state == DB_CONN_BACKOFF)
		db_conn_start(c);
	else if (c->state == DB_CONN_CONNECTING)
		db_conn_fail(c, "connect timeout");
}

/*
 * A pool starts (SPEC 12 Readiness) from db_pool_start() until its first
 * connection is ready or connect_timeout has passed, whichever comes
 * first; before db_pool_start() it is starting too.  Meanwhile requests
 * wait in the queue for a connection (bounded by max_queue and
 * queue_timeout) instead of failing fast.
 */
static bool
db_pool_starting(const struct db_pool *pool)
{
	return !pool->ever_ready && (!pool->started ||
	    bw_now_ms() - pool->start_ms < pool->p.connect_timeout_ms);
}

bool
db_pool_can_wait(const struct db_pool *pool)
{
	return db_pool_starting(pool) || db_pool_ready(pool) > 0;
}

/*
 * A connection failed: every request on it ends with DB_LOST, and the
 * connection is rebuilt after a backoff that doubles up to 2 s.  When no
 * connection is left ready (and the pool is not starting), waiting
 * requests fail fast too.
 */
static void
db_conn_fail(struct db_conn *c, const char *why)
{
	struct db_pool	*pool = c->pool;
	struct db_req	*r;
	struct timeval	 tv;

	if (c->state == DB_CONN_READY || c->state == DB_CONN_PREPARING)
		log_warnx("database connection lost: %s", why);
	else
		log_info("database connection failed: %s", why);
	db_conn_close(c);
	while ((r = TAILQ_FIRST(&c->inflight)) != NULL) {
		TAILQ_REMOVE(&c->inflight, r, entry);
		db_req_finish(r, DB_LOST);
	}
	c->ninflight = c->nwrites = 0;
	c->state = DB_CONN_BACKOFF;
	bw_ms_to_tv(c->backoff_ms, &tv);
	c->backoff_ms = c->backoff_ms * 2 > DB_BACKOFF_MAX_MS ?
	    DB_BACKOFF_MAX_MS : c->backoff_ms * 2;
	evtimer_add(c->ev_timer, &tv);
	if (!db_pool_can_wait(pool))
		while ((r = db_waitq_pop(pool)) != NULL)
			db_req_finish(r, DB_UNAVAILABLE);
}

/*
 * libpq's message for the connection, folded onto one line for the log.
 * The buffer is static: the text is logged before the next call.
 */
static const char *
db_conn_error(const struct db_conn *c)
{
	static char	 buf[512];
	const char	*m = c->pg != NULL ? PQerrorMessage(c->pg) : NULL;
	size_t		 i, o = 0;

	if (m == NULL || *m == '\0')
		return "connection error";
	for (i = 0; m[i] != '\0' && o + 1 < sizeof(buf); i++) {
		if (m[i] == '\n' || m[i] == '\t') {
			if (o > 0 && buf[o - 1] != ' ')
				buf[o++] = ' ';
			continue;
		}
		buf[o++] = m[i];
	}
	while (o > 0 && buf[o - 1] == ' ')
		o--;
	buf[o] = '\0';
	return buf;
}

/* Queues the PREPAREs of every statement, then a Sync. */
static int
db_conn_prepare(struct db_conn *c)
{
	struct db_pool	*pool = c->pool;
	size_t		 i;

	if (PQsetnonblocking(c->pg, 1) == -1)
		return -1;
	if (pool->listen_sql != NULL) {
		if (PQsendQuery(c->pg, pool->listen_sql) != 1)
			return -1;
		c->prepares_left = 1;
		c->state = DB_CONN_PREPARING;
		return db_conn_flush(c);
	}
	if (PQenterPipelineMode(c->pg) != 1)
		return -1;
	for (i = 0; i < pool->nstmts; i++)
		if (PQsendPrepare(c->pg, pool->stmt_names[i],
		    pool->stmts[i]->sql, pool->stmts[i]->nparams,
		    NULL) != 1)
			return -1;
	if (PQsendQueryParams(c->pg, DB_CLOCK_SQL, 0, NULL, NULL, NULL, NULL,
	    0) != 1 || PQpipelineSync(c->pg) != 1)
		return -1;
	c->prepares_left = (int)pool->nstmts + 1;
	c->state = DB_CONN_PREPARING;
	return db_conn_flush(c);
}

static void
db_conn_poll(struct db_conn *c)
{
	PostgresPollingStatusType	 st = PQconnectPoll(c->pg);

	db_conn_watch_fd(c);
	if (c->ev_read == NULL && st != PGRES_POLLING_FAILED) {
		db_conn_fail(c, "no socket");
		return;
	}
	if (c->ev_read != NULL) {
		event_del(c->ev_read);
		event_del(c->ev_write);
	}
	switch (st) {
	case PGRES_POLLING_READING:
		event_add(c->ev_read, NULL);
		break;
	case PGRES_POLLING_WRITING:
		event_add(c->ev_write, NULL);
		break;
	case PGRES_POLLING_OK:
		evtimer_del(c->ev_timer);
		event_add(c->ev_read, NULL);
		if (db_conn_prepare(c) == -1)
			db_conn_fail(c, db_conn_error(c));
		break;
	case PGRES_POLLING_FAILED:
	default:
		db_conn_fail(c, db_conn_error(c));
		break;
	}
}

/*
 * Notices and warnings of a connection (RAISE NOTICE in a route's SQL,
 * PostgreSQL's own FATAL before it closes a connection) go through the
 * logger, which escapes them onto one line, at a level that follows their
 * severity:
 * DEBUG and LOG at debug, INFO and NOTICE at info, anything worse as a
 * warning.  They may carry request data, as the statements' errors may.
 */
static void
db_notice(void *arg, const PGresult *res)
{
	const char	*sev, *msg;
	int		 n;

	(void)arg;
	if ((sev = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED)) ==
	    NULL && (sev = PQresultErrorField(res, PG_DIAG_SEVERITY)) == NULL)
		sev = "NOTICE";
	if ((msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY)) == NULL)
		msg = PQresultErrorMessage(res);
	if (msg == NULL)
		msg = "";
	for (n = (int)strnlen(msg, DB_NOTICE_MAX); n > 0 && msg[n - 1] == '\n';)
		n--;
	if (strncmp(sev, "DEBUG", 5) == 0 || strcmp(sev, "LOG") == 0)
		log_debug("database %s: %.*s", sev, n, msg);
	else if (strcmp(sev, "INFO") == 0 || strcmp(sev, "NOTICE") == 0)
		log_info("database %s: %.*s", sev, n, msg);
	else
		log_warnx("database %s: %.*s", sev, n, msg);
}

static void
db_conn_start(struct db_conn *c)
{
	struct timeval	 tv;

	c->pg = PQconnectStartParams(c->pool->p.keys, c->pool->p.vals, 0);
	c->fd = -1;
	if (c->pg == NULL || PQstatus(c->pg) == CONNECTION_BAD) {
		c->state = DB_CONN_CONNECTING;
		db_conn_fail(c, db_conn_error(c));
		return;
	}
	(void)PQsetNoticeReceiver(c->pg, db_notice, NULL);
	c->state = DB_CONN_CONNECTING;
	bw_ms_to_tv(c->pool->p.connect_timeout_ms, &tv);
	evtimer_add(c->ev_timer, &tv);
	db_conn_poll(c);
}

/*
 * Sends one request's segment on a ready connection.  The request joins the
 * in-flight list first, so on failure the caller's db_conn_fail() ends it.
 */
static int
db_conn_send(struct db_conn *c, struct db_req *r)
{
	struct db_pool	*pool = c->pool;

	const char	*ctx[DB_CTX_NPARAMS + DB_AUDIT_PARAMS];
	char		 deadline[DB_DEADLINE_LEN] = "Infinity";
	int		 i, nctx = DB_CTX_NPARAMS;

	for (i = 0; i < DB_CTX_PARAMS; i++)
		ctx[i] = r->ctx_values[i];
	for (i = 0; r->audit_values != NULL && i < DB_AUDIT_PARAMS; i++)
		ctx[nctx++] = r->audit_values[i];
	/* A retry started once already: it has no start deadline. */
	if (!r->retried)
		(void)snprintf(deadline, sizeof(deadline), "%" PRId64,
		    r->deadline_wall + c->clock_offset);
	ctx[DB_CTX_PARAMS] = deadline;
	r->conn = c;
	r->phase = DB_PHASE_CTX;
	r->started = TAILQ_EMPTY(&c->inflight);
	if (r->started)
		c->answered_ms = bw_now_ms();
	TAILQ_INSERT_TAIL(&c->inflight, r, entry);
	c->ninflight++;
	c->nwrites += !r->read;
	if (PQsendQueryPrepared(c->pg, pool->stmt_names[r->ctx_stmt],
	    nctx, ctx, NULL, NULL, 0) != 1 ||
	    PQsendQueryPrepared(c->pg, pool->stmt_names[r->stmt], r->nvalues,
	    (const char * const *)r->values, r->lengths, NULL, 0) != 1 ||
	    PQpipelineSync(c->pg) != 1)
		return -1;
	return db_conn_flush(c);
}

static void
db_req_record_error(struct db_req *r, const PGresult *res)
{
	const char	*state, *msg;

	if (r->failed)
		return;
	r->failed = true;
	state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	bw_strlcpy(r->sqlstate, state != NULL ? state : "XX000",
	    sizeof(r->sqlstate));
	msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	free(r->message);
	r->message = bw_strdup(msg != NULL ? msg : "unknown error");
}

static bool
db_req_retryable(const struct db_req *r)
{
	return r->failed && !r->retried && !r->abandoned &&
	    (strcmp(r->sqlstate, "40001") == 0 ||
	    strcmp(r->sqlstate, "40P01") == 0);
}

/*
 * The segment of the oldest in-flight request is complete.  A
 * serialization failure or deadlock is sent once more (SPEC 7).
 */
static void
db_conn_complete(struct db_conn *c, struct db_req *r)
{
	struct db_req	*next;

	TAILQ_REMOVE(&c->inflight, r, entry);
	c->ninflight--;
	c->nwrites -= !r->read;
	c->answered_ms = bw_now_ms();
	r->conn = NULL;
	if ((next = TAILQ_FIRST(&c->inflight)) != NULL)
		next->started = true;
	if (db_req_retryable(r)) {
		r->retried = true;
		r->failed = false;
		r->rows_stopped = false;
		if (db_conn_send(c, r) == -1)
			db_conn_fail(c, db_conn_error(c));
		return;
	}
	if (r->ctx_failed) {
		if (!r->abandoned)
			log_info("database: segment refused at its start: %s",
			    r->message != NULL ? r->message : "");
		db_req_finish(r, DB_UNAVAILABLE);
		return;
	}
	db_req_finish(r, r->failed ? DB_SQL_ERROR : DB_OK);
}

/* An audited segment's row id, the last column of its context result. */
static void
db_req_audit_id(struct db_req *r, const PGresult *res)
{
	int	 col = PQnfields(res) - 1;

	if (r->audit_id == NULL || r->abandoned ||
	    PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1 ||
	    col < 0 || PQgetisnull(res, 0, col))
		return;
	*r->audit_id = strtoll(PQgetvalue(res, 0, col), NULL, 10);
}

/* Advances the oldest in-flight request by one PGresult (or NULL). */
static int
db_conn_step(struct db_conn *c, struct db_req *r, PGresult *res)
{
	ExecStatusType	 st = res != NULL ? PQresultStatus(res) : PGRES_EMPTY_QUERY;

	switch (r->phase) {
	case DB_PHASE_CTX:
	case DB_PHASE_STMT:
		if (res == NULL)
			return -1;
		if (st == PGRES_FATAL_ERROR)
			db_req_record_error(r, res);
		if (r->phase == DB_PHASE_CTX) {
			r->ctx_failed = st == PGRES_FATAL_ERROR;
			db_req_audit_id(r, res);
			r->phase = DB_PHASE_CTX_END;
			break;
		}
		if (st == PGRES_SINGLE_TUPLE) {
			if (!r->abandoned && !r->failed && !r->rows_stopped &&
			    r->ops->on_row(r->arg, res, 0) == -1)
				r->rows_stopped = true;
			break;
		}
		if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK)
			bw_strlcpy(r->cmd_tuples, PQcmdTuples(res),
			    sizeof(r->cmd_tuples));
		r->phase = DB_PHASE_STMT_END;
		break;
	case DB_PHASE_CTX_END:
		if (res != NULL)
			return -1;
		r->phase = DB_PHASE_STMT;
		if (!r->failed)
			PQsetSingleRowMode(c->pg);
		break;
	case DB_PHASE_STMT_END:
		if (res != NULL)
			return -1;
		r->phase = DB_PHASE_SYNC;
		break;
	case DB_PHASE_SYNC:
		if (res == NULL || st != PGRES_PIPELINE_SYNC)
			return -1;
		db_conn_complete(c, r);
		break;
	}
	return 0;
}

/* Reads the PREPARE results; the connection is ready after the Sync. */
static int
db_conn_step_prepare(struct db_conn *c, PGresult *res)
{
	if (res == NULL)
		return 0;
	switch (PQresultStatus(res)) {
	case PGRES_COMMAND_OK:
		c->prepares_left--;
		return 0;
	case PGRES_TUPLES_OK:
		/*
		 * The database's clock against ours, read on receipt: an
		 * offset short by the latency, which only makes the start
		 * deadlines it gives the database earlier.
		 */
		if (PQntuples(res) != 1 || PQgetisnull(res, 0, 0))
			return -1;
		c->clock_offset = strtoll(PQgetvalue(res, 0, 0), NULL, 10) -
		    db_wall_ms();
		c->prepares_left--;
		return 0;
	case PGRES_PIPELINE_SYNC:
		if (c->prepares_left != 0)
			return -1;
		c->state = DB_CONN_READY;
		c->backoff_ms = DB_BACKOFF_MIN_MS;
		c->pool->ever_ready = true;
		db_conn_cork(c);
		log_debug("database connection ready");
		return 0;
	default:
		log_errorx("database: prepare failed: %s",
		    PQresultErrorMessage(res));
		return -1;
	}
}

/*
 * A listener's connection: LISTEN's result, then notifications.  It is
 * ready (and on_connect runs, so the caller reloads what it may have
 * missed while disconnected) once LISTEN is in effect.
 */
static void
db_conn_read_listen(struct db_conn *c)
{
	struct db_pool	*pool = c->pool;
	PGnotify	*n;
	PGresult	*res;

	while (c->pg != NULL && !PQisBusy(c->pg) &&
	    (res = PQgetResult(c->pg)) != NULL) {
		if (PQresultStatus(res) == PGRES_COMMAND_OK &&
		    c->state == DB_CONN_PREPARING)
			c->prepares_left = 0;
		else {
			PQclear(res);
			db_conn_fail(c, "LISTEN failed");
			return;
		}
		PQclear(res);
	}
	if (c->state == DB_CONN_PREPARING && c->prepares_left == 0 &&
	    !PQisBusy(c->pg)) {
		c->state = DB_CONN_READY;
		c->backoff_ms = DB_BACKOFF_MIN_MS;
		pool->on_connect(pool->listen_arg);
	}
	while (c->pg != NULL && (n = PQnotifies(c->pg)) != NULL) {
		if (c->state == DB_CONN_READY)
			pool->on_notify(pool->listen_arg, n->extra);
		PQfreemem(n);
	}
}

static void
db_conn_read(struct db_conn *c)
{
	struct db_req	*r;
	PGresult	*res;
	int		 rv;

	if (PQconsumeInput(c->pg) != 1) {
		db_conn_fail(c, db_conn_error(c));
		return;
	}
	if (c->pool->listen_sql != NULL) {
		db_conn_read_listen(c);
		if (c->pg != NULL && PQstatus(c->pg) == CONNECTION_BAD)
			db_conn_fail(c, db_conn_error(c));
		return;
	}
	while (c->pg != NULL && !PQisBusy(c->pg)) {
		if (c->state == DB_CONN_PREPARING) {
			res = PQgetResult(c->pg);
			rv = db_conn_step_prepare(c, res);
			PQclear(res);
			if (rv == -1) {
				db_conn_fail(c, "prepare failed");
				return;
			}
			if (c->state == DB_CONN_READY)
				db_conn_dispatch(c->pool);
			continue;
		}
		if ((r = TAILQ_FIRST(&c->inflight)) == NULL)
			break;
		res = PQgetResult(c->pg);
		rv = db_conn_step(c, r, res);
		PQclear(res);
		if (rv == -1) {
			db_conn_fail(c, "unexpected result sequence");
			return;
		}
	}
	if (c->pg != NULL && PQstatus(c->pg) == CONNECTION_BAD)
		db_conn_fail(c, db_conn_error(c));
}

static void
db_conn_io(evutil_socket_t fd, short what, void *arg)
{
	struct db_conn	*c = arg;

	(void)fd;
	if (c->state == DB_CONN_CONNECTING) {
		db_conn_poll(c);
		return;
	}
	if (c->pg == NULL)
		return;
	if ((what & EV_WRITE) && db_conn_flush(c) == -1) {
		db_conn_fail(c, db_conn_error(c));
		return;
	}
	if (what & EV_READ)
		db_conn_read(c);
	if (c->pg != NULL && c->state == DB_CONN_READY)
		db_conn_dispatch(c->pool);
}

/*
 * Requests waiting to start: in the queue, sent behind another segment
 * on a connection, or held outside the pool (db_pool_hold).  max_queue
 * bounds them all.
 */
static size_t
db_pool_waiting(const struct db_pool *pool)
{
	size_t		 n = pool->nwait + pool->nheld;
	uint32_t	 i;

	for (i = 0; i < pool->p.pool_size; i++)
		if (pool->conns[i].ninflight > 1)
			n += pool->conns[i].ninflight - 1;
	return n;
}

/*
 * The first ready connection busy with reads alone whose backend answered
 * within DB_READ_FRESH_MS and has room for another read, or NULL.
 */
static struct db_conn *
db_pool_pick_reading(struct db_pool *pool)
{
	struct db_conn	*c;
	int64_t		 now = bw_now_ms();
	uint32_t	 i;

	for (i = 0; i < pool->p.pool_size; i++) {
		c = &pool->conns[i];
		if (c->state == DB_CONN_READY && c->ninflight > 0 &&
		    c->nwrites == 0 && c->ninflight < DB_READ_DEPTH &&
		    now - c->answered_ms <= DB_READ_FRESH_MS)
			return c;
	}
	return NULL;
}

/* The ready connection with the fewest segments in flight, or NULL. */
static struct db_conn *
db_pool_pick_least(struct db_pool *pool)
{
	struct db_conn	*best = NULL, *c;
	uint32_t	 i;

	for (i = 0; i < pool->p.pool_size; i++) {
		c = &pool->conns[i];
		if (c->state != DB_CONN_READY ||
		    c->ninflight >= DB_MAX_INFLIGHT)
			continue;
		if (best == NULL || c->ninflight < best->ninflight)
			best = c;
	}
	return best;
}

/*
 * The connection for a request, or NULL.  A read joins a connection busy
 * with reads: its backend, awake already, takes it without a wake-up of
 * its own, and while one backend keeps up the pool's others sleep (on a
 * saturated machine: fewer runnable backends, fewer context switches).  A
 * slow read ends the packing once its connection has not answered for
 * DB_READ_FRESH_MS, and a read joins only while max_queue lets it wait.
 * A write, whose commit waits for the WAL flush, goes where the fewest
 * segments are, so that commits run side by side.
 */
static struct db_conn *
db_pool_pick(struct db_pool *pool, bool read)
{
	struct db_conn	*c;

	if (read && db_pool_waiting(pool) < pool->p.max_queue &&
	    (c = db_pool_pick_reading(pool)) != NULL)
		return c;
	return db_pool_pick_least(pool);
}

/* The first request sent on c that has not started and may expire. */
static struct db_req *
db_conn_waiting(struct db_conn *c)
{
	struct db_req	*r;

	TAILQ_FOREACH(r, &c->inflight, entry)
		if (!r->started && !r->retried && !r->abandoned)
			return r;
	return NULL;
}

/* The earliest start deadline of a waiting request, or -1. */
static int64_t
db_queue_next(struct db_pool *pool)
{
	struct db_req	*r = TAILQ_FIRST(&pool->waitq);
	int64_t		 next = r != NULL ? r->deadline_ms : -1;
	uint32_t	 i;

	for (i = 0; i < pool->p.pool_size; i++) {
		r = db_conn_waiting(&pool->conns[i]);
		if (r != NULL && (next == -1 || r->deadline_ms < next))
			next = r->deadline_ms;
	}
	return next;
}

static void
db_queue_arm(struct db_pool *pool)
{
	struct timeval	 tv;
	int64_t		 next = db_queue_next(pool), wait;

	if (next == -1) {
		evtimer_del(pool->ev_queue);
		return;
	}
	wait = next - bw_now_ms();
	bw_ms_to_tv(wait > 0 ? wait : 0, &tv);
	evtimer_add(pool->ev_queue, &tv);
}

/* Moves waiting requests onto connections with room. */
static void
db_conn_dispatch(struct db_pool *pool)
{
	struct db_conn	*c;
	struct db_req	*r;

	while (!TAILQ_EMPTY(&pool->waitq) &&
	    (c = db_pool_pick(pool, TAILQ_FIRST(&pool->waitq)->read)) != NULL) {
		r = db_waitq_pop(pool);
		if (db_conn_send(c, r) == -1)
			db_conn_fail(c, db_conn_error(c));
	}
	db_queue_arm(pool);
}

/* A sent request past its start deadline that has not started, or NULL. */
static struct db_req *
db_queue_overdue(struct db_pool *pool, int64_t now)
{
	struct db_req	*r;
	uint32_t	 i;

	for (i = 0; i < pool->p.pool_size; i++) {
		r = db_conn_waiting(&pool->conns[i]);
		if (r != NULL && r->deadline_ms <= now)
			return r;
	}
	return NULL;
}

/*
 * Requests that could not start within queue_timeout get 503: those still
 * queued are freed; those sent behind another segment are abandoned (their
 * segment, starting late, is refused by the context statement and its
 * results are discarded).  A callback may submit or fail a connection, so
 * the search starts again after each one.
 */
static void
db_queue_expire(evutil_socket_t fd, short what, void *arg)
{
	struct db_pool	*pool = arg;
	struct db_req	*r;
	int64_t		 now = bw_now_ms();

	(void)fd;
	(void)what;
	while ((r = TAILQ_FIRST(&pool->waitq)) != NULL &&
	    r->deadline_ms <= now)
		db_req_finish(db_waitq_pop(pool), DB_UNAVAILABLE);
	while ((r = db_queue_overdue(pool, now)) != NULL) {
		r->abandoned = true;
		r->ops->on_done(r->arg, DB_UNAVAILABLE, NULL, NULL, "");
	}
	db_queue_arm(pool);
}

struct db_pool *
db_pool_new(struct event_base *base, const struct db_pool_params *p)
{
	struct db_pool	*pool;
	struct db_conn	*c;
	size_t		 i;

	pool = bw_calloc(1, sizeof(*pool));
	pool->base = base;
	pool->p = *p;
	TAILQ_INIT(&pool->waitq);
	if ((pool->ev_queue = evtimer_new(base, db_queue_expire, pool)) ==
	    NULL || (pool->ev_push = event_new(base, -1, 0, db_pool_push,
	    pool)) == NULL)
		fatal("db: cannot create events");
	pool->conns = bw_calloc(p->pool_size, sizeof(*pool->conns));
	for (i = 0; i < p->pool_size; i++) {
		c = &pool->conns[i];
		c->pool = pool;
		c->fd = -1;
		c->backoff_ms = DB_BACKOFF_MIN_MS;
		TAILQ_INIT(&c->inflight);
		if ((c->ev_timer = evtimer_new(base, db_conn_timer, c)) ==
		    NULL)
			fatal("db: cannot create timer");
	}
	for (i = 0; i < BW_ARRAY_LEN(db_ctx_defs); i++)
		(void)db_pool_stmt_add(pool, &db_ctx_defs[i]);
	return pool;
}

size_t
db_pool_stmt_add(struct db_pool *pool, const struct db_stmt_def *def)
{
	size_t	 i = pool->nstmts;

	if (pool->started)
		fatalx("db: a statement added to a started pool");
	pool->stmts = bw_reallocarray(pool->stmts, i + 1,
	    sizeof(*pool->stmts));
	pool->stmt_names = bw_reallocarray(pool->stmt_names, i + 1,
	    sizeof(*pool->stmt_names));
	pool->stmts[i] = def;
	pool->stmt_names[i] = bw_malloc(DB_STMT_NAME_MAX);
	if (snprintf(pool->stmt_names[i], DB_STMT_NAME_MAX, "bw_%zu", i) >=
	    DB_STMT_NAME_MAX)
		fatalx("db: statement name too long");
	pool->nstmts++;
	return i;
}

const struct db_stmt_def *
db_ctx_stmts(size_t *n)
{
	*n = BW_ARRAY_LEN(db_ctx_defs);
	return db_ctx_defs;
}

void
db_pool_start(struct db_pool *pool)
{
	size_t	 i;

	if (pool->started)
		return;
	pool->started = true;
	pool->start_ms = bw_now_ms();
	for (i = 0; i < pool->p.pool_size; i++)
		db_conn_start(&pool->conns[i]);
}

void
db_pool_free(struct db_pool *pool)
{
	struct db_req	*r;
	size_t		 i;

	if (pool == NULL)
		return;
	for (i = 0; i < pool->p.pool_size; i++) {
		struct db_conn	*c = &pool->conns[i];

		while ((r = TAILQ_FIRST(&c->inflight)) != NULL) {
			TAILQ_REMOVE(&c->inflight, r, entry);
			db_req_finish(r, DB_LOST);
		}
		db_conn_close(c);
		event_free(c->ev_timer);
	}
	while ((r = db_waitq_pop(pool)) != NULL)
		db_req_finish(r, DB_UNAVAILABLE);
	event_free(pool->ev_queue);
	event_free(pool->ev_push);
	free(pool->listen_sql);
	for (i = 0; i < pool->nstmts; i++)
		free(pool->stmt_names[i]);
	free(pool->stmt_names);
	free(pool->stmts);
	free(pool->conns);
	free(pool);
}

size_t
db_pool_ready(const struct db_pool *pool)
{
	size_t	 i, n = 0;

	for (i = 0; i < pool->p.pool_size; i++)
		if (pool->conns[i].state == DB_CONN_READY)
			n++;
	return n;
}

void
db_pool_usage(const struct db_pool *pool, size_t *in_use, size_t *waiting)
{
	size_t	 i;

	*in_use = 0;
	for (i = 0; i < pool->p.pool_size; i++)
		if (pool->conns[i].ninflight > 0)
			(*in_use)++;
	*waiting = pool->nwait;
}

/* A request holding its own copies of the values of rp. */
static struct db_req *
db_req_new(struct db_pool *pool, const struct db_req_params *rp,
    const struct db_req_ops *ops, void *arg)
{
	struct db_req	*r;

	r = bw_calloc(1, sizeof(*r));
	r->pool = pool;
	r->ops = ops;
	r->arg = arg;
	r->stmt = rp->stmt;
	r->read = rp->read;
	r->ctx_stmt = rp->read_only ? DB_STMT_CTX_RO : DB_STMT_CTX;
	r->nvalues = rp->nvalues;
	r->lengths = bw_calloc((size_t)rp->nvalues, sizeof(*r->lengths));
	r->values = db_copy_values(rp->nvalues, rp->values, rp->lengths,
	    r->lengths);
	r->ctx_values = db_ctx_values(rp->ctx);
	if (rp->audit != NULL) {
		r->ctx_stmt = rp->audit_stmt;
		r->audit_values = db_copy_values(DB_AUDIT_PARAMS, rp->audit,
		    NULL, NULL);
		r->audit_id = rp->audit_id;
	}
	return r;
}

struct db_req *
db_submit(struct db_pool *pool, const struct db_req_params *rp,
    const struct db_req_ops *ops, void *arg)
{
	struct db_conn	*c;
	struct db_req	*r;

	if (!db_pool_can_wait(pool) || rp->stmt >= pool->nstmts ||
	    (rp->audit != NULL && rp->audit_stmt >= pool->nstmts))
		return NULL;
	c = db_pool_pick(pool, rp->read);
	if ((c == NULL || c->ninflight > 0) &&
	    db_pool_waiting(pool) >= pool->p.max_queue)
		return NULL;
	r = db_req_new(pool, rp, ops, arg);
	db_req_deadline(r, pool->p.queue_timeout_ms);
	if (c == NULL || !TAILQ_EMPTY(&pool->waitq)) {
		TAILQ_INSERT_TAIL(&pool->waitq, r, entry);
		pool->nwait++;
		db_conn_dispatch(pool);
		return r;
	}
	if (db_conn_send(c, r) == -1) {
		/* The caller hears of it through NULL, not a callback. */
		r->abandoned = true;
		db_conn_fail(c, db_conn_error(c));
		return NULL;
	}
	if (!r->started)
		db_queue_arm(pool);
	return r;
}

int
db_pool_hold(struct db_pool *pool)
{
	if (!db_pool_can_wait(pool) ||
	    db_pool_waiting(pool) >= pool->p.max_queue)
		return -1;
	pool->nheld++;
	return 0;
}

void
db_pool_unhold(struct db_pool *pool)
{
	if (pool->nheld > 0)
		pool->nheld--;
}

void
db_abandon(struct db_req *r)
{
	if (r->conn == NULL) {
		TAILQ_REMOVE(&r->pool->waitq, r, entry);
		r->pool->nwait--;
		db_req_free(r);
		return;
	}
	r->abandoned = true;
}

int
db_handover(struct db_req *r, const struct db_req_ops *ops, void *arg,
    int64_t *audit_id)
{
	if (r->conn == NULL) {
		db_abandon(r);
		return 0;
	}
	r->ops = ops;
	r->arg = arg;
	if (r->audit_id != NULL)
		r->audit_id = audit_id;
	return 1;
}

/*
 * The channel name is bulwark's own constant, never input; it is still
 * checked to be a plain identifier before it becomes part of LISTEN.
 */
static bool
db_channel_valid(const char *ch)
{
	size_t	 i;

	if (ch[0] == '\0' || strlen(ch) > 63 || (ch[0] >= '0' && ch[0] <= '9'))
		return false;
	for (i = 0; ch[i] != '\0'; i++)
		if (!((ch[i] >= 'a' && ch[i] <= 'z') ||
		    (ch[i] >= '0' && ch[i] <= '9') || ch[i] == '_'))
			return false;
	return true;
}

struct db_pool *
db_listen_new(struct event_base *base, const char * const *keys,
    const char * const *vals, int64_t connect_timeout_ms, const char *channel,
    void (*on_notify)(void *, const char *), void (*on_connect)(void *),
    void *arg)
{
	struct db_pool_params	 p;
	struct db_pool		*pool;
	char			 sql[80];

	if (!db_channel_valid(channel) ||
	    snprintf(sql, sizeof(sql), "LISTEN %s", channel) >=
	    (int)sizeof(sql))
		return NULL;
	memset(&p, 0, sizeof(p));
	p.keys = keys;
	p.vals = vals;
	p.connect_timeout_ms = connect_timeout_ms;
	p.pool_size = 1;
	pool = db_pool_new(base, &p);
	pool->listen_sql = bw_strdup(sql);
	pool->on_notify = on_notify;
	pool->on_connect = on_connect;
	pool->listen_arg = arg;
	db_pool_start(pool);
	return pool;
}
