/*
 * test_db.c - the asynchronous pool against a real PostgreSQL: pipelined
 * segments, context settings, errors, timeouts, queue bounds, abandoned
 * requests, retries and reconnection.
 */
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <linux/sockios.h>
#include <netinet/in.h>

#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <libpq-fe.h>

#include "db.h"
#include "pgtest.h"
#include "unit.h"
#include "util.h"

enum {
	ST_ECHO,
	ST_SETTING,
	ST_DIVZERO,
	ST_SLEEP,
	ST_FAIL_ONCE,
	ST_ROWS,
	ST_PID,
	ST_READ_ONLY,
	ST_BUMP,
	ST_COUNT,
};

static const struct db_stmt_def stmts[ST_COUNT] = {
	[ST_ECHO] = { "SELECT $1::text AS v, length($1::text) AS n", 1 },
	[ST_SETTING] = { "SELECT current_setting('bulwark.user_id')", 0 },
	[ST_DIVZERO] = { "SELECT 1 / $1::int", 1 },
	[ST_SLEEP] = { "SELECT pg_sleep($1::float8)", 1 },
	[ST_FAIL_ONCE] = { "SELECT bw_fail_once()", 0 },
	[ST_ROWS] = { "SELECT g FROM generate_series(1, $1::int) g", 1 },
	[ST_PID] = { "SELECT pg_backend_pid()", 0 },
	[ST_READ_ONLY] = { "SELECT current_setting('transaction_read_only')",
	    0 },
	[ST_BUMP] = { "SELECT nextval('bw_bump')", 0 },
};

static const char *conn_keys[] = { "options", NULL };
static const char *conn_vals[] = {
	"-c TimeZone=UTC -c DateStyle=ISO", NULL,
};

struct outcome {
	int		 done;
	enum db_outcome	 how;
	char		 sqlstate[6];
	int		 rows;
	char		 first[64];
	int		 order;
};

static struct event_base	*base;
static int			 done_count;

static int
on_row(void *arg, const PGresult *res, int row)
{
	struct outcome	*o = arg;

	if (o->rows++ == 0)
		snprintf(o->first, sizeof(o->first), "%s",
		    PQgetvalue(res, row, 0));
	return 0;
}

static void
on_done(void *arg, enum db_outcome how, const char *sqlstate,
    const char *message, const char *cmd_tuples)
{
	struct outcome	*o = arg;

	(void)message;
	(void)cmd_tuples;
	o->done++;
	o->how = how;
	o->order = ++done_count;
	if (sqlstate != NULL)
		snprintf(o->sqlstate, sizeof(o->sqlstate), "%s", sqlstate);
}

static const struct db_req_ops ops = { on_row, on_done };

/* The pool's handle of each statement (the registry's, not ours). */
static size_t	 handles[ST_COUNT];

/* A pool given every statement above, then started. */
static struct db_pool *
pool_start_with(const struct db_pool_params *p)
{
	struct db_pool	*pool = db_pool_new(base, p);
	size_t		 i;

	for (i = 0; i < ST_COUNT; i++)
		handles[i] = db_pool_stmt_add(pool, &stmts[i]);
	db_pool_start(pool);
	return pool;
}

static struct db_pool *
pool_make(uint32_t size, uint32_t max_queue, int64_t queue_timeout_ms)
{
	struct db_pool_params p = {
		.keys = conn_keys, .vals = conn_vals,
		.pool_size = size, .max_queue = max_queue,
		.queue_timeout_ms = queue_timeout_ms,
		.connect_timeout_ms = 5000,
	};

	return pool_start_with(&p);
}

#define RUN_UNTIL(cond)	PGTEST_RUN_UNTIL(base, cond)

/* A pool as pool_make() makes it, once all of its connections are up. */
static struct db_pool *
pool_ready(uint32_t size, uint32_t max_queue, int64_t queue_timeout_ms)
{
	struct db_pool	*pool = pool_make(size, max_queue, queue_timeout_ms);

	RUN_UNTIL(db_pool_ready(pool) == size);
	return pool;
}

static struct db_req *
submit_how(struct db_pool *pool, size_t stmt, const char *v,
    const struct db_ctx *ctx, bool read, struct outcome *o)
{
	const char	*values[1] = { v };
	struct db_req_params rp = {
		.stmt = handles[stmt], .read_only = stmt == ST_READ_ONLY,
		.read = read, .nvalues = stmts[stmt].nparams, .values = values,
		.ctx = ctx,
	};

	return db_submit(pool, &rp, &ops, o);
}

static struct db_req *
submit(struct db_pool *pool, size_t stmt, const char *v, const char *user,
    const char *timeout, struct outcome *o)
{
	struct db_ctx	 ctx = { .user_id = user, .timeout = timeout };

	return submit_how(pool, stmt, v, &ctx, false, o);
}

/* A read (db_req_params.read), as the request of a GET route is. */
static struct db_req *
submit_read(struct db_pool *pool, size_t stmt, const char *v,
    struct outcome *o)
{
	struct db_ctx	 ctx = { .user_id = "", .timeout = "5s" };

	return submit_how(pool, stmt, v, &ctx, true, o);
}

static void
setup(void)
{
	PGconn		*pg;
	PGresult	*res;

	if (!pgtest_up)
		return;
	base = event_base_new();
	pg = PQconnectdb("");
	ck_assert_int_eq(PQstatus(pg), CONNECTION_OK);
	res = PQexec(pg, "SET client_min_messages = warning;"
	    "CREATE SEQUENCE IF NOT EXISTS bw_seq;"
	    "DROP SEQUENCE IF EXISTS bw_bump; CREATE SEQUENCE bw_bump;"
	    "CREATE OR REPLACE FUNCTION bw_fail_once() RETURNS int "
	    "LANGUAGE plpgsql AS $$ BEGIN "
	    "IF nextval('bw_seq') % 2 = 1 THEN "
	    "RAISE EXCEPTION 'conflict' USING ERRCODE = '40001'; END IF; "
	    "RETURN currval('bw_seq')::int; END $$");
	ck_assert_int_eq(PQresultStatus(res), PGRES_COMMAND_OK);
	PQclear(res);
	PQfinish(pg);
}

static void
teardown(void)
{
	if (base != NULL)
		event_base_free(base);
	base = NULL;
}

#define NEED_PG()	PGTEST_NEED()

/* quick ends while slow still runs (they went to two connections). */
static void
overtakes(struct outcome *quick, struct outcome *slow)
{
	RUN_UNTIL(quick->done == 1);
	ck_assert_int_eq(quick->how, DB_OK);
	ck_assert_int_eq(slow->done, 0);
	RUN_UNTIL(slow->done == 1);
}

START_TEST(connects_and_queries)
{
	struct db_pool	*pool;
	struct outcome	 o = { 0 };

	NEED_PG();
	pool = pool_ready(2, 10, 1000);
	ck_assert_ptr_nonnull(submit(pool, ST_ECHO, "it's \"quoted\" ';--",
	    "", "5s", &o));
	RUN_UNTIL(o.done == 1);
	ck_assert_int_eq(o.how, DB_OK);
	ck_assert_int_eq(o.rows, 1);
	ck_assert_str_eq(o.first, "it's \"quoted\" ';--");
	db_pool_free(pool);
}
END_TEST

START_TEST(context_is_per_transaction)
{
	struct db_pool	*pool;
	struct outcome	 a = { 0 }, b = { 0 };

	NEED_PG();
	pool = pool_ready(1, 10, 1000);
	submit(pool, ST_SETTING, NULL, "user-42", "5s", &a);
	submit(pool, ST_SETTING, NULL, "", "5s", &b);
	RUN_UNTIL(a.done && b.done);
	ck_assert_str_eq(a.first, "user-42");
	/* set_config(..., true) ends with the segment's transaction. */
	ck_assert_str_eq(b.first, "");
	db_pool_free(pool);
}
END_TEST

/* A read-only request runs under the read-only context statement. */
START_TEST(context_read_only)
{
	struct db_pool	*pool;
	struct outcome	 a = { 0 }, b = { 0 }, c = { 0 };
	struct db_req_params rp = { .nvalues = 0 };

	NEED_PG();
	pool = pool_ready(1, 10, 1000);
	submit(pool, ST_READ_ONLY, NULL, "", "5s", &a);
	submit(pool, ST_SETTING, NULL, "u", "5s", &b);
	RUN_UNTIL(a.done && b.done);
	ck_assert_int_eq(a.how, DB_OK);
	ck_assert_str_eq(a.first, "on");
	ck_assert_str_eq(b.first, "u");
	/* A handle the pool never gave is refused at once. */
	rp.stmt = handles[ST_COUNT - 1] + 1;
	ck_assert_ptr_null(db_submit(pool, &rp, &ops, &c));
	ck_assert_int_eq(c.done, 0);
	db_pool_free(pool);
}
END_TEST

START_TEST(pipelined_in_order)
{
	struct db_pool	*pool;
	struct outcome	 o[40];
	char		 v[16];
	int		 i;

	NEED_PG();
	memset(o, 0, sizeof(o));
	done_count = 0;
	pool = pool_ready(1, 100, 5000);
	for (i = 0; i < 40; i++) {
		snprintf(v, sizeof(v), "%d", i);
		ck_assert_ptr_nonnull(submit(pool, ST_ECHO, v, "", "5s",
		    &o[i]));
	}
	RUN_UNTIL(done_count == 40);
	for (i = 0; i < 40; i++) {
		snprintf(v, sizeof(v), "%d", i);
		ck_assert_str_eq(o[i].first, v);
		ck_assert_int_eq(o[i].order, i + 1);
	}
	db_pool_free(pool);
}
END_TEST

START_TEST(sql_error_then_next)
{
	struct db_pool	*pool;
	struct outcome	 a = { 0 }, b = { 0 };

	NEED_PG();
	pool = pool_ready(1, 10, 1000);
	submit(pool, ST_DIVZERO, "0", "", "5s", &a);
	submit(pool, ST_DIVZERO, "1", "", "5s", &b);
	RUN_UNTIL(a.done && b.done);
	ck_assert_int_eq(a.how, DB_SQL_ERROR);
	ck_assert_str_eq(a.sqlstate, "22012");
	ck_assert_int_eq(b.how, DB_OK);
	ck_assert_str_eq(b.first, "1");
	db_pool_free(pool);
}
END_TEST

START_TEST(statement_timeout_from_context)
{
	struct db_pool	*pool;
	struct outcome	 a = { 0 }, b = { 0 };

	NEED_PG();
	pool = pool_ready(1, 10, 1000);
	submit(pool, ST_SLEEP, "5", "", "100ms", &a);
	submit(pool, ST_ECHO, "after", "", "5s", &b);
	RUN_UNTIL(a.done && b.done);
	ck_assert_int_eq(a.how, DB_SQL_ERROR);
	ck_assert_str_eq(a.sqlstate, "57014");
	ck_assert_str_eq(b.first, "after");
	db_pool_free(pool);
}
END_TEST

/*
 * max_queue counts every request waiting to start, queued or pipelined
 * behind another segment; queue_timeout ends them at their deadline (503)
 * although they were sent, and their segments, starting late, do nothing.
 */
START_TEST(queue_bound_and_timeout)
{
	struct db_pool	*pool;
	struct outcome	 running = { 0 }, bump = { 0 }, echo = { 0 };
	struct outcome	 refused = { 0 }, after = { 0 };
	int64_t		 t0;

	NEED_PG();
	pool = pool_ready(1, 2, 300);
	t0 = bw_now_ms();
	ck_assert_ptr_nonnull(submit(pool, ST_SLEEP, "0.8", "", "5s",
	    &running));
	ck_assert_ptr_nonnull(submit(pool, ST_BUMP, NULL, "", "5s", &bump));
	ck_assert_ptr_nonnull(submit(pool, ST_ECHO, "e", "", "5s", &echo));
	/* Two wait behind the running one: max_queue 2 refuses the next. */
	ck_assert_ptr_null(submit(pool, ST_ECHO, "r", "", "5s", &refused));
	ck_assert_int_eq(refused.done, 0);
	RUN_UNTIL(bump.done == 1 && echo.done == 1);
	ck_assert_int_eq(bump.how, DB_UNAVAILABLE);
	ck_assert_int_eq(echo.how, DB_UNAVAILABLE);
	ck_assert_int_lt(bw_now_ms() - t0, 600);
	ck_assert_int_eq(running.done, 0);
	RUN_UNTIL(running.done == 1);
	ck_assert_int_eq(running.how, DB_OK);
	/* The expired segments ran nothing and gave no second callback. */
	submit(pool, ST_BUMP, NULL, "", "5s", &after);
	RUN_UNTIL(after.done == 1);
	ck_assert_int_eq(after.how, DB_OK);
	ck_assert_str_eq(after.first, "1");
	ck_assert_int_eq(bump.done, 1);
	ck_assert_int_eq(echo.done, 1);
	db_pool_free(pool);
}
END_TEST

/* The registry is closed once the pool starts: adding is a fatal error. */
START_TEST(stmt_after_start)
{
	static const char *keys[] = { "host", NULL };
	static const char *vals[] = { "/nonexistent-bulwark-socket-dir", NULL };
	struct db_pool_params p = {
		.keys = keys, .vals = vals, .pool_size = 1, .max_queue = 1,
		.queue_timeout_ms = 100, .connect_timeout_ms = 1000,
	};
	struct db_pool	*pool;

	if (base == NULL)
		base = event_base_new();
	pool = pool_start_with(&p);
	(void)db_pool_stmt_add(pool, &stmts[ST_ECHO]);
}
END_TEST

/* An idle connection is preferred to pipelining behind a busy one. */
START_TEST(idle_connection_preferred)
{
	struct db_pool	*pool;
	struct outcome	 slow = { 0 }, quick = { 0 };

	NEED_PG();
	pool = pool_ready(2, 10, 5000);
	submit(pool, ST_SLEEP, "1", "", "5s", &slow);
	submit(pool, ST_ECHO, "q", "", "5s", &quick);
	overtakes(&quick, &slow);
	db_pool_free(pool);
}
END_TEST

/*
 * Reads submitted together share one backend (the first connection, busy
 * with them); a write then goes to the idle connection.
 */
START_TEST(reads_share_a_busy_connection)
{
	struct db_pool	*pool;
	struct outcome	 reads[DB_READ_DEPTH + 1], write = { 0 };
	int		 i;

	NEED_PG();
	memset(reads, 0, sizeof(reads));
	done_count = 0;
	pool = pool_ready(2, 100, 5000);
	for (i = 0; i < DB_READ_DEPTH + 1; i++)
		ck_assert_ptr_nonnull(submit_read(pool, ST_PID, NULL,
		    &reads[i]));
	submit(pool, ST_PID, NULL, "", "5s", &write);
	RUN_UNTIL(done_count == DB_READ_DEPTH + 2);
	for (i = 1; i < DB_READ_DEPTH; i++)
		ck_assert_str_eq(reads[i].first, reads[0].first);
	/* The one past DB_READ_DEPTH, and the write, went to the other. */
	ck_assert_str_ne(reads[DB_READ_DEPTH].first, reads[0].first);
	ck_assert_str_ne(write.first, reads[0].first);
	db_pool_free(pool);
}
END_TEST

/*
 * A read queues behind a slow read that started moments ago, but not behind
 * one whose connection has not answered for DB_READ_FRESH_MS.
 */
START_TEST(slow_read_stops_sharing)
{
	struct db_pool	*pool;
	struct outcome	 slow = { 0 }, behind = { 0 }, beside = { 0 };

	NEED_PG();
	pool = pool_ready(2, 10, 5000);
	submit_read(pool, ST_SLEEP, "0.2", &slow);
	submit_read(pool, ST_ECHO, "behind", &behind);
	RUN_UNTIL(behind.done == 1);
	ck_assert_int_eq(slow.done, 1);
	ck_assert_int_lt(slow.order, behind.order);

	memset(&slow, 0, sizeof(slow));
	submit_read(pool, ST_SLEEP, "1", &slow);
	usleep((DB_READ_FRESH_MS + 20) * 1000);
	submit_read(pool, ST_ECHO, "beside", &beside);
	overtakes(&beside, &slow);
	db_pool_free(pool);
}
END_TEST

/* With max_queue 0 a read may not wait: it takes the idle connection. */
START_TEST(read_not_queued_past_max_queue)
{
	struct db_pool	*pool;
	struct outcome	 slow = { 0 }, quick = { 0 }, refused = { 0 };

	NEED_PG();
	pool = pool_ready(2, 0, 5000);
	ck_assert_ptr_nonnull(submit_read(pool, ST_SLEEP, "1", &slow));
	ck_assert_ptr_nonnull(submit_read(pool, ST_ECHO, "q", &quick));
	ck_assert_ptr_null(submit_read(pool, ST_ECHO, "r", &refused));
	overtakes(&quick, &slow);
	ck_assert_int_eq(refused.done, 0);
	db_pool_free(pool);
}
END_TEST

/* A read does not queue behind a write (its commit may wait on a flush). */
START_TEST(read_not_behind_write)
{
	struct db_pool	*pool;
	struct outcome	 write = { 0 }, read = { 0 };

	NEED_PG();
	pool = pool_ready(2, 10, 5000);
	submit(pool, ST_SLEEP, "1", "", "5s", &write);
	submit_read(pool, ST_ECHO, "r", &read);
	overtakes(&read, &write);
	db_pool_free(pool);
}
END_TEST

START_TEST(abandoned_gets_no_callback)
{
	struct db_pool	*pool;
	struct db_req	*r;
	struct outcome	 a = { 0 }, b = { 0 };

	NEED_PG();
	pool = pool_ready(1, 10, 1000);
	r = submit(pool, ST_SLEEP, "0.2", "", "5s", &a);
	ck_assert_ptr_nonnull(r);
	db_abandon(r);
	submit(pool, ST_ECHO, "next", "", "5s", &b);
	RUN_UNTIL(b.done == 1);
	ck_assert_int_eq(a.done, 0);
	ck_assert_str_eq(b.first, "next");
	db_pool_free(pool);
}
END_TEST

/*
 * db_handover: a sent request reports to its new owner (its rows too), the
 * old one hears nothing; a request still queued is dropped and never runs.
 */
START_TEST(handed_over)
{
	struct db_pool	*pool;
	struct db_req	*r;
	struct outcome	 old = { 0 }, heir = { 0 }, queued = { 0 }, next = { 0 };
	int64_t		 row = 0;

	NEED_PG();
	pool = pool_ready(1, 10, 5000);
	r = submit(pool, ST_SLEEP, "0.2", "", "5s", &old);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(db_handover(r, &ops, &heir, &row), 1);
	RUN_UNTIL(heir.done == 1);
	ck_assert_int_eq(heir.how, DB_OK);
	ck_assert_int_eq(heir.rows, 1);
	ck_assert_int_eq(old.done, 0);
	ck_assert_int_eq(old.rows, 0);
	db_pool_free(pool);

	/* Not connected yet: the request waits in the queue. */
	pool = pool_make(1, 10, 5000);
	r = submit(pool, ST_BUMP, NULL, "", "5s", &queued);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(db_handover(r, &ops, &heir, &row), 0);
	ck_assert_ptr_nonnull(submit(pool, ST_BUMP, NULL, "", "5s", &next));
	RUN_UNTIL(next.done == 1);
	/* bw_bump is new in setup(): 1 means the dropped one never ran. */
	ck_assert_str_eq(next.first, "1");
	ck_assert_int_eq(queued.done, 0);
	ck_assert_int_eq(heir.done, 1);
	db_pool_free(pool);
}
END_TEST

START_TEST(serialization_failure_retried_once)
{
	struct db_pool	*pool;
	struct outcome	 o = { 0 };

	NEED_PG();
	pool = pool_ready(1, 10, 1000);
	submit(pool, ST_FAIL_ONCE, NULL, "", "5s", &o);
	RUN_UNTIL(o.done == 1);
	ck_assert_int_eq(o.how, DB_OK);
	ck_assert_int_eq(o.rows, 1);
	db_pool_free(pool);
}
END_TEST

START_TEST(array_rows_streamed)
{
	struct db_pool	*pool;
	struct outcome	 o = { 0 };

	NEED_PG();
	pool = pool_ready(1, 10, 1000);
	submit(pool, ST_ROWS, "1000", "", "5s", &o);
	RUN_UNTIL(o.done == 1);
	ck_assert_int_eq(o.rows, 1000);
	ck_assert_str_eq(o.first, "1");
	db_pool_free(pool);
}
END_TEST

START_TEST(reconnects_after_termination)
{
	struct db_pool	*pool;
	struct outcome	 pid = { 0 }, lost = { 0 }, after = { 0 };
	PGconn		*pg;
	PGresult	*res;
	const char	*params[1];

	NEED_PG();
	pool = pool_ready(1, 10, 1000);
	submit(pool, ST_PID, NULL, "", "5s", &pid);
	RUN_UNTIL(pid.done == 1);
	submit(pool, ST_SLEEP, "3", "", "10s", &lost);
	pg = PQconnectdb("");
	params[0] = pid.first;
	res = PQexecParams(pg, "SELECT pg_terminate_backend($1::int)", 1,
	    NULL, params, NULL, NULL, 0);
	ck_assert_int_eq(PQresultStatus(res), PGRES_TUPLES_OK);
	PQclear(res);
	PQfinish(pg);
	RUN_UNTIL(lost.done == 1);
	ck_assert_int_ne(lost.how, DB_OK);
	/* Lost after being ready: no waiting while it reconnects (SPEC 7). */
	if (db_pool_ready(pool) == 0)
		ck_assert_ptr_null(submit(pool, ST_ECHO, "x", "", "5s",
		    &after));
	RUN_UNTIL(db_pool_ready(pool) == 1);
	submit(pool, ST_ECHO, "back", "", "5s", &after);
	RUN_UNTIL(after.done == 1);
	ck_assert_str_eq(after.first, "back");
	db_pool_free(pool);
}
END_TEST

/* Past its start (connect_timeout) without a connection: 503 at once. */
START_TEST(database_down_fails_fast)
{
	static const char *keys[] = { "host", NULL };
	static const char *vals[] = { "/nonexistent-bulwark-socket-dir", NULL };
	struct db_pool_params p = {
		.keys = keys, .vals = vals, .pool_size = 2, .max_queue = 10,
		.queue_timeout_ms = 100, .connect_timeout_ms = 200,
	};
	struct db_pool	*pool;
	struct outcome	 o = { 0 };
	struct timeval	 tv = { 0, 300000 };

	if (base == NULL)
		base = event_base_new();
	pool = pool_start_with(&p);
	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
	ck_assert_uint_eq(db_pool_ready(pool), 0);
	ck_assert(!db_pool_can_wait(pool));
	ck_assert_ptr_null(submit(pool, ST_ECHO, "x", "", "5s", &o));
	ck_assert_int_eq(db_pool_hold(pool), -1);
	ck_assert_int_eq(o.done, 0);
	db_pool_free(pool);
}
END_TEST

/*
 * While the pool starts (SPEC 12), a request waits for its first
 * connection instead of failing, and is served once it is ready: submitted
 * before the pool is even started.
 */
START_TEST(starting_pool_queues)
{
	struct db_pool_params p = {
		.keys = conn_keys, .vals = conn_vals, .pool_size = 2,
		.max_queue = 10, .queue_timeout_ms = 5000,
		.connect_timeout_ms = 5000,
	};
	struct db_pool	*pool;
	struct outcome	 a = { 0 }, b = { 0 };
	size_t		 i;

	NEED_PG();
	pool = db_pool_new(base, &p);
	for (i = 0; i < ST_COUNT; i++)
		handles[i] = db_pool_stmt_add(pool, &stmts[i]);
	ck_assert(db_pool_can_wait(pool));
	ck_assert_ptr_nonnull(submit(pool, ST_ECHO, "early", "", "5s", &a));
	db_pool_start(pool);
	ck_assert_uint_eq(db_pool_ready(pool), 0);
	ck_assert_ptr_nonnull(submit(pool, ST_ECHO, "started", "", "5s", &b));
	RUN_UNTIL(a.done == 1 && b.done == 1);
	ck_assert_int_eq(a.how, DB_OK);
	ck_assert_str_eq(a.first, "early");
	ck_assert_int_eq(b.how, DB_OK);
	ck_assert_str_eq(b.first, "started");
	db_pool_free(pool);
}
END_TEST

/*
 * A starting pool that cannot connect: requests wait queue_timeout, then
 * 503; max_queue bounds them, places held outside the pool included.
 */
START_TEST(starting_pool_waits_queue_timeout)
{
	static const char *keys[] = { "host", NULL };
	static const char *vals[] = { "/nonexistent-bulwark-socket-dir", NULL };
	struct db_pool_params p = {
		.keys = keys, .vals = vals, .pool_size = 1, .max_queue = 3,
		.queue_timeout_ms = 300, .connect_timeout_ms = 5000,
	};
	struct db_pool	*pool;
	struct outcome	 a = { 0 }, b = { 0 }, full = { 0 };
	int64_t		 t0, took;

	if (base == NULL)
		base = event_base_new();
	pool = pool_start_with(&p);
	t0 = bw_now_ms();
	ck_assert_ptr_nonnull(submit(pool, ST_ECHO, "a", "", "5s", &a));
	ck_assert_int_eq(db_pool_hold(pool), 0);
	ck_assert_ptr_nonnull(submit(pool, ST_ECHO, "b", "", "5s", &b));
	/* Two queued and one held: max_queue 3 is reached. */
	ck_assert_int_eq(db_pool_hold(pool), -1);
	ck_assert_ptr_null(submit(pool, ST_ECHO, "c", "", "5s", &full));
	db_pool_unhold(pool);
	RUN_UNTIL(a.done == 1 && b.done == 1);
	took = bw_now_ms() - t0;
	ck_assert_int_eq(a.how, DB_UNAVAILABLE);
	ck_assert_int_eq(b.how, DB_UNAVAILABLE);
	ck_assert_int_ge(took, 290);
	ck_assert_int_lt(took, 2000);
	ck_assert_int_eq(full.done, 0);
	/* Still starting: a place is free again for the next one. */
	ck_assert_int_eq(db_pool_hold(pool), 0);
	db_pool_unhold(pool);
	db_pool_free(pool);
}
END_TEST

struct heard {
	int	 connects;
	int	 notes;
	char	 last[64];
};

static void
heard_connect(void *arg)
{
	((struct heard *)arg)->connects++;
}

static void
heard_notify(void *arg, const char *payload)
{
	struct heard	*h = arg;

	h->notes++;
	snprintf(h->last, sizeof(h->last), "%s", payload);
}

static void
side_exec(const char *sql, const char *param)
{
	PGconn		*pg = PQconnectdb("");
	PGresult	*res;
	const char	*params[1] = { param };

	res = PQexecParams(pg, sql, param != NULL ? 1 : 0, NULL, params,
	    NULL, NULL, 0);
	ck_assert_msg(PQresultStatus(res) == PGRES_TUPLES_OK ||
	    PQresultStatus(res) == PGRES_COMMAND_OK, "%s",
	    PQresultErrorMessage(res));
	PQclear(res);
	PQfinish(pg);
}

/* LISTEN: notifications arrive; after a lost connection, on_connect again. */
START_TEST(listener_notifies_and_reconnects)
{
	struct heard	 h = { 0 };
	struct db_pool	*l;

	NEED_PG();
	l = db_listen_new(base, conn_keys, conn_vals, 5000, "bw_test_chan",
	    heard_notify, heard_connect, &h);
	ck_assert_ptr_nonnull(l);
	RUN_UNTIL(h.connects == 1);
	side_exec("SELECT pg_notify('bw_test_chan', 'user:42')", NULL);
	RUN_UNTIL(h.notes == 1);
	ck_assert_str_eq(h.last, "user:42");
	side_exec("SELECT pg_notify('other_chan', 'x')", NULL);
	side_exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
	    "WHERE query = 'LISTEN bw_test_chan'", NULL);
	RUN_UNTIL(h.connects == 2);
	side_exec("SELECT pg_notify('bw_test_chan', $1)", "jti:abc");
	RUN_UNTIL(h.notes == 2);
	ck_assert_str_eq(h.last, "jti:abc");
	db_pool_free(l);
}
END_TEST

START_TEST(listener_channel_checked)
{
	struct heard	 h = { 0 };

	if (base == NULL)
		base = event_base_new();
	ck_assert_ptr_null(db_listen_new(base, conn_keys, conn_vals, 1000,
	    "x; DROP TABLE t", heard_notify, heard_connect, &h));
	ck_assert_ptr_null(db_listen_new(base, conn_keys, conn_vals, 1000,
	    "Upper", heard_notify, heard_connect, &h));
	ck_assert_ptr_null(db_listen_new(base, conn_keys, conn_vals, 1000,
	    "", heard_notify, heard_connect, &h));
}
END_TEST

/*
 * Bytes written to PostgreSQL's port that the kernel has not sent yet,
 * over every socket of this process connected there (-1: none).
 */
static long
unsent_to_pg(void)
{
	struct sockaddr_in	 sin;
	socklen_t		 len;
	struct dirent		*de;
	DIR			*d = opendir("/proc/self/fd");
	long			 total = -1;
	int			 fd, n, port = atoi(getenv("PGPORT"));

	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d)) != NULL) {
		fd = atoi(de->d_name);
		len = sizeof(sin);
		if (de->d_name[0] == '.' || getpeername(fd,
		    (struct sockaddr *)&sin, &len) == -1 ||
		    sin.sin_family != AF_INET || ntohs(sin.sin_port) != port)
			continue;
		ck_assert_int_eq(ioctl(fd, SIOCOUTQNSD, &n), 0);
		total = (total < 0 ? 0 : total) + n;
	}
	closedir(d);
	return total;
}

/*
 * Over TCP, what the pool writes in a pass of the event loop waits in the
 * kernel (TCP_CORK) and leaves when the pass ends: before the loop runs,
 * the three segments are still unsent; after one pass, nothing is.
 */
START_TEST(tcp_segments_leave_at_end_of_pass)
{
	struct db_pool	*pool;
	struct outcome	 o[3];
	int		 i;

	NEED_PG();
	memset(o, 0, sizeof(o));
	pool = pool_ready(1, 10, 5000);
	ck_assert_int_eq(unsent_to_pg(), 0);
	for (i = 0; i < 3; i++)
		ck_assert_ptr_nonnull(submit(pool, ST_ECHO, "corked", "",
		    "5s", &o[i]));
	ck_assert_int_gt(unsent_to_pg(), 0);
	event_base_loop(base, EVLOOP_NONBLOCK);
	ck_assert_int_eq(unsent_to_pg(), 0);
	RUN_UNTIL(o[0].done && o[1].done && o[2].done);
	for (i = 0; i < 3; i++) {
		ck_assert_int_eq(o[i].how, DB_OK);
		ck_assert_str_eq(o[i].first, "corked");
	}
	/* A later pass pushes again (the flag was re-armed). */
	memset(o, 0, sizeof(o));
	ck_assert_ptr_nonnull(submit(pool, ST_ECHO, "again", "", "5s", &o[0]));
	event_base_loop(base, EVLOOP_NONBLOCK);
	ck_assert_int_eq(unsent_to_pg(), 0);
	RUN_UNTIL(o[0].done);
	ck_assert_str_eq(o[0].first, "again");
	db_pool_free(pool);
}
END_TEST

/* Over the Unix socket nothing is corked: a segment leaves at once. */
START_TEST(unix_socket_not_corked)
{
	struct db_pool	*pool;
	struct outcome	 o = { 0 };

	NEED_PG();
	pool = pool_ready(1, 10, 5000);
	ck_assert_int_eq(unsent_to_pg(), -1);
	ck_assert_ptr_nonnull(submit(pool, ST_ECHO, "plain", "", "5s", &o));
	RUN_UNTIL(o.done);
	ck_assert_str_eq(o.first, "plain");
	db_pool_free(pool);
}
END_TEST

Suite *
unit_suite(void)
{
	Suite	*s = suite_create("db");
	TCase	*tc = tcase_create("db");

	tcase_set_timeout(tc, UNIT_TIMEOUT);
	tcase_add_unchecked_fixture(tc, pgtest_start, pgtest_stop);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, connects_and_queries);
	tcase_add_test(tc, context_is_per_transaction);
	tcase_add_test(tc, context_read_only);
	tcase_add_test(tc, pipelined_in_order);
	tcase_add_test(tc, sql_error_then_next);
	tcase_add_test(tc, statement_timeout_from_context);
	tcase_add_test(tc, queue_bound_and_timeout);
	tcase_add_test(tc, idle_connection_preferred);
	tcase_add_test(tc, reads_share_a_busy_connection);
	tcase_add_test(tc, slow_read_stops_sharing);
	tcase_add_test(tc, read_not_queued_past_max_queue);
	tcase_add_test(tc, read_not_behind_write);
	tcase_add_exit_test(tc, stmt_after_start, 3);
	tcase_add_test(tc, abandoned_gets_no_callback);
	tcase_add_test(tc, handed_over);
	tcase_add_test(tc, serialization_failure_retried_once);
	tcase_add_test(tc, array_rows_streamed);
	tcase_add_test(tc, reconnects_after_termination);
	tcase_add_test(tc, database_down_fails_fast);
	tcase_add_test(tc, starting_pool_queues);
	tcase_add_test(tc, starting_pool_waits_queue_timeout);
	tcase_add_test(tc, listener_notifies_and_reconnects);
	tcase_add_test(tc, listener_channel_checked);
	tcase_add_test(tc, unix_socket_not_corked);
	suite_add_tcase(s, tc);

	tc = tcase_create("tcp");
	tcase_set_timeout(tc, UNIT_TIMEOUT);
	tcase_add_unchecked_fixture(tc, pgtest_start_tcp, pgtest_stop);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, tcp_segments_leave_at_end_of_pass);
	tcase_add_test(tc, pipelined_in_order);
	tcase_add_test(tc, sql_error_then_next);
	tcase_add_test(tc, reconnects_after_termination);
	suite_add_tcase(s, tc);
	return s;
}
