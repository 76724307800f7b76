/*
 * db.h - the per-worker asynchronous PostgreSQL pool (SPEC 7).
 *
 * Every connection is non-blocking from its first byte and runs in pipeline
 * mode.  One request is one pipeline segment: [context statement; the
 * request's prepared statement; Sync], so it is one implicit transaction.
 * The pool owns the statement registry (every statement it prepares) and
 * the context statement.
 * Statements are prepared once per connection (again after a reconnect).
 * Nothing here ever blocks the event loop and nothing calls PQcancel: the
 * server-side statement_timeout cuts long statements short.
 *
 * Bounds: pool_size connections, DB_MAX_INFLIGHT segments sent per
 * connection (one executing, the rest pipelined behind it; DB_READ_DEPTH
 * when they are all reads), max_queue
 * requests waiting to start (queued in bulwarkd, pipelined behind another
 * segment, or held by a caller waiting for the pool: db_pool_hold) and
 * queue_timeout to start.  A read (db_req_params.read) joins a connection
 * busy with reads whose backend keeps answering, up to DB_READ_DEPTH
 * segments; any other request goes to an idle connection when there is
 * one, else to the one with the fewest segments (db_pool_pick).
 * One that has not started within queue_timeout ends DB_UNAVAILABLE (503)
 * at that moment; if it was already sent, its segment is refused by the
 * context statement when it starts (a start deadline by the database's
 * clock, read on every new connection, DB_START_MARGIN_MS earlier), so
 * nothing of it runs.
 */
#ifndef BW_DB_H
#define BW_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

struct event_base;
struct db_pool;
struct db_req;

#define DB_MAX_INFLIGHT		8	/* segments sent per connection */
#define DB_READ_DEPTH		32	/* ... when they are all reads */
#define DB_READ_FRESH_MS	5	/* reads join a backend that answered */
#define DB_START_MARGIN_MS	100	/* see db_req_deadline() */
#define DB_BACKOFF_MIN_MS	50
#define DB_BACKOFF_MAX_MS	2000

/* A statement to prepare on every connection of a pool. */
struct db_stmt_def {
	const char	*sql;		/* with $n placeholders */
	int		 nparams;
};

#define DB_CTX_PARAMS		6	/* the context statement's values */

/*
 * The values of the context statement of SPEC 7, which runs first in every
 * segment and sets transaction-local settings for the statement after it
 * (bulwark.user_id, user_name, roles, request_id, route, and
 * statement_timeout in milliseconds).  NULL members are bound as "".
 */
struct db_ctx {
	const char	*user_id;
	const char	*user_name;
	const char	*roles;		/* comma-separated */
	const char	*request_id;
	const char	*route;
	const char	*timeout;
};

/*
 * An audited route's context statement (SPEC 7, 9): the same settings,
 * and in the same statement the route's bulwark.audit row inserted from
 * DB_AUDIT_PARAMS more values (those of AUDIT_DB_INSERT_SQL, in its
 * order); its result carries the row's id.  Only a pool whose database has
 * bulwark.audit registers it (db_pool_stmt_add).
 */
#define DB_AUDIT_PARAMS		10
extern const struct db_stmt_def db_ctx_audit_def;

struct db_pool_params {
	const char * const *keys;	/* libpq keywords (NULL-terminated) */
	const char * const *vals;	/* hostaddr resolved, password in memory */
	uint32_t	 pool_size;
	uint32_t	 max_queue;
	int64_t		 queue_timeout_ms;
	int64_t		 connect_timeout_ms;
};

/* Why a request ended without a normal result. */
enum db_outcome {
	DB_OK,			/* rows delivered, then done */
	DB_SQL_ERROR,		/* statement failed: see sqlstate */
	DB_UNAVAILABLE,		/* no connection, queue full or timed out: 503 */
	DB_LOST,		/* connection lost mid-request: 503 */
};

/*
 * Callbacks of one request.  on_row sees every row (single-row mode) and
 * returns -1 to stop accepting rows (the rest are discarded); on_done is
 * called exactly once, after which the request is freed by the pool.
 */
struct db_req_ops {
	int	(*on_row)(void *arg, const PGresult *, int row);
	void	(*on_done)(void *arg, enum db_outcome, const char *sqlstate,
		    const char *message, const char *cmd_tuples);
};

/* Parameters of one request; values are copied, so callers may free them. */
struct db_req_params {
	size_t		 stmt;		/* a handle from db_pool_stmt_add */
	bool		 read_only;	/* the transaction is read-only */
	bool		 read;		/* writes nothing (db_pool_pick) */
	int		 nvalues;
	const char * const *values;	/* NULL entries are SQL NULL */
	const int	*lengths;
	const struct db_ctx *ctx;
	/* Audited: the handle of db_ctx_audit_def and its values. */
	size_t		 audit_stmt;
	const char * const *audit;	/* DB_AUDIT_PARAMS values, or NULL */
	int64_t		*audit_id;	/* the row's id, set before on_done */
};

/*
 * A pool is made, given its statements, then started: db_pool_stmt_add()
 * registers a statement (def must outlive the pool) and returns the handle
 * requests name it by; it may only be called before db_pool_start(), which
 * begins connecting.  The context statements are the pool's own.
 */
struct db_pool	*db_pool_new(struct event_base *, const struct db_pool_params *);
size_t		 db_pool_stmt_add(struct db_pool *, const struct db_stmt_def *);
void		 db_pool_start(struct db_pool *);
void		 db_pool_free(struct db_pool *);
/* The context statements (read-write, read-only), for the load-time check. */
const struct db_stmt_def *db_ctx_stmts(size_t *n);
/* Connections currently ready to take work (for /readyz and tests). */
size_t		 db_pool_ready(const struct db_pool *);
/* Connections with requests in flight, and requests waiting for one. */
void		 db_pool_usage(const struct db_pool *, size_t *in_use,
		    size_t *waiting);

/*
 * True while a request may wait for a connection: one is ready, or the
 * pool is starting (from db_pool_start() until its first connection is
 * ready or connect_timeout has passed).  A pool that was ready once and
 * lost every connection fails fast until one is back (SPEC 7).
 */
bool		 db_pool_can_wait(const struct db_pool *);
/*
 * A place in the queue for a request waiting outside the pool for
 * something the pool will bring (the revocation state): it counts toward
 * max_queue until given back.  -1 when the queue is full or nothing can
 * wait (db_pool_can_wait).
 */
int		 db_pool_hold(struct db_pool *);
void		 db_pool_unhold(struct db_pool *);

/*
 * Submits a request.  Returns NULL (and calls nothing) when the pool cannot
 * take it now — the queue full, or no connection up outside the pool's
 * start (db_pool_can_wait): the caller answers 503 at once.  While the
 * pool starts, a request waits in the queue for its first connection, for
 * at most queue_timeout.  Otherwise the callbacks run later, from the
 * event loop.
 */
struct db_req	*db_submit(struct db_pool *, const struct db_req_params *,
		    const struct db_req_ops *, void *arg);
/*
 * The caller no longer wants the result (client gone or request_timeout):
 * no callback runs after this; results are discarded on arrival.
 */
void		 db_abandon(struct db_req *);
/*
 * db_abandon for a caller that must still learn whether a sent segment
 * committed (an audited write whose client went away): a request not yet
 * sent is dropped, never runs, and 0 is returned; a sent one is handed
 * to ops and arg (an audited one's row id now goes to *audit_id), which
 * get on_done as any owner would, and 1 is returned.
 */
int		 db_handover(struct db_req *, const struct db_req_ops *,
		    void *arg, int64_t *audit_id);

/*
 * A listening connection (LISTEN channel; SPEC 8 revocations): not in
 * pipeline mode, rebuilt with the same backoff as the pool.  on_connect
 * runs after every (re)connection once LISTEN is in effect, so the caller
 * reloads what it may have missed; on_notify gets each payload.  Freed
 * with db_pool_free().  Returns NULL for a channel that is not a plain
 * lowercase identifier.
 */
struct db_pool	*db_listen_new(struct event_base *, const char * const *keys,
		    const char * const *vals, int64_t connect_timeout_ms,
		    const char *channel, void (*on_notify)(void *, const char *),
		    void (*on_connect)(void *), void *arg);

#endif
