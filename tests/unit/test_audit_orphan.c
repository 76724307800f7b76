/*
 * test_audit_orphan.c - the record of a write whose request is gone: sent
 * once its segment commits, with copies of the request's fields and
 * status null; none for a failed or dropped segment; a waiting drain
 * resumed when the last orphan ends.  A real PostgreSQL runs the
 * segments; a socket pair stands in for the audit writer.
 */
#include <sys/socket.h>

#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <jansson.h>

#include "audit_client.h"
#include "audit_msg.h"
#include "audit_orphan.h"
#include "db.h"
#include "pgtest.h"
#include "unit.h"
#include "util.h"

enum { ST_SLEEP, ST_DIVZERO, ST_COUNT };

static const struct db_stmt_def stmts[ST_COUNT] = {
	[ST_SLEEP] = { "SELECT pg_sleep($1::float8)", 1 },
	[ST_DIVZERO] = { "SELECT 1 / $1::int", 1 },
};

static const char *conn_keys[] = { "options", NULL };
static const char *conn_vals[] = { "-c TimeZone=UTC", NULL };

static struct event_base	*base;
static struct db_pool		*pool;
static struct audit_client	*client;
static size_t			 handles[ST_COUNT];
static int			 fds[2];	/* [1]: the writer's end */
static int			 resumed;

/* The original owner: it must never hear of a request handed over. */
static int
owner_row(void *arg, const PGresult *res, int row)
{
	(void)res;
	(void)row;
	++*(int *)arg;
	return 0;
}

static void
owner_done(void *arg, enum db_outcome how, const char *sqlstate,
    const char *message, const char *cmd_tuples)
{
	(void)how;
	(void)sqlstate;
	(void)message;
	(void)cmd_tuples;
	++*(int *)arg;
}

static const struct db_req_ops owner_ops = { owner_row, owner_done };

static void
drain_resumed(void *arg)
{
	(void)arg;
	resumed++;
}

#define RUN_UNTIL(cond)	PGTEST_RUN_UNTIL(base, cond)

static void
setup(void)
{
	struct db_pool_params	 p = {
		.keys = conn_keys, .vals = conn_vals, .pool_size = 1,
		.max_queue = 10, .queue_timeout_ms = 5000,
		.connect_timeout_ms = 5000,
	};
	size_t			 i;

	if (!pgtest_up)
		return;
	base = event_base_new();
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, fds), 0);
	client = audit_client_new(base, fds[0]);
	pool = db_pool_new(base, &p);
	for (i = 0; i < ST_COUNT; i++)
		handles[i] = db_pool_stmt_add(pool, &stmts[i]);
	db_pool_start(pool);
	resumed = 0;
}

static void
teardown(void)
{
	if (base == NULL)
		return;
	audit_orphan_wait(NULL, NULL);
	db_pool_free(pool);
	audit_client_free(client);
	close(fds[1]);
	event_base_free(base);
	base = NULL;
}

static struct db_req *
submit(size_t stmt, const char *v, int *heard)
{
	const char		*values[1] = { v };
	struct db_ctx		 ctx = { .user_id = "", .timeout = "5s" };
	struct db_req_params	 rp = {
		.stmt = handles[stmt], .nvalues = 1, .values = values,
		.ctx = &ctx,
	};
	struct db_req		*r = db_submit(pool, &rp, &owner_ops, heard);

	ck_assert_ptr_nonnull(r);
	return r;
}

/* Adopts r with fields held in a buffer that is wiped right after. */
static void
adopt(struct db_req *r, int64_t row)
{
	char			 rid[] = "0123456789abcdef0123456789abcdef";
	char			 path[] = "/notes";
	json_t			*detail = json_pack("{s:s}", "title", "t");
	struct audit_event	 ev = {
		.event = "request", .request_id = rid, .ip = "127.0.0.1",
		.user = NULL, .route = "add_note", .method = "POST",
		.path = path, .status = 201, .detail = detail, .row = 99,
	};

	audit_orphan_adopt(r, client, &ev, row);
	memset(rid, 'x', sizeof(rid) - 1);
	memset(path, 'x', sizeof(path) - 1);
	json_decref(detail);
}

/* Once the pool is up: a segment submitted, then adopted with row. */
static void
adopt_sent(size_t stmt, const char *v, int64_t row, int *heard)
{
	RUN_UNTIL(db_pool_ready(pool) == 1);
	adopt(submit(stmt, v, heard), row);
}

/*
 * The next record at the writer's end (its probes answered on the way), or
 * NULL when none is there and wait is false.
 */
static json_t *
writer_next(struct audit_event *ev, bool wait)
{
	char		 buf[AUDIT_MSG_MAX];
	json_t		*root;
	ssize_t		 n;
	int		 rv;

	for (;;) {
		if (wait)
			RUN_UNTIL(recv(fds[1], buf, sizeof(buf),
			    MSG_PEEK | MSG_DONTWAIT) > 0);
		else
			event_base_loop(base, EVLOOP_NONBLOCK);
		n = recv(fds[1], buf, sizeof(buf), MSG_DONTWAIT);
		if (n <= 0 && !wait)
			return NULL;
		ck_assert_int_gt(n, 0);
		root = NULL;
		rv = audit_msg_decode(buf, (size_t)n, &root, ev);
		ck_assert_int_ge(rv, 0);
		if (rv == 0)
			return root;
		json_decref(root);
		ck_assert_int_eq(send(fds[1], "{\"ok\":true}", 11, 0), 11);
	}
}

#define NEED_PG()	PGTEST_NEED()

START_TEST(record_after_commit)
{
	struct audit_event	 ev;
	json_t			*root;
	int			 heard = 0;

	NEED_PG();
	adopt_sent(ST_SLEEP, "0.2", 42, &heard);
	ck_assert_uint_eq(audit_orphan_pending(), 1);
	audit_orphan_wait(drain_resumed, NULL);
	root = writer_next(&ev, true);
	ck_assert_str_eq(ev.event, "request");
	ck_assert_str_eq(ev.request_id, "0123456789abcdef0123456789abcdef");
	ck_assert_str_eq(ev.path, "/notes");
	ck_assert_str_eq(ev.route, "add_note");
	ck_assert_str_eq(ev.ip, "127.0.0.1");
	ck_assert_ptr_null(ev.user);
	ck_assert_int_eq(ev.status, 0);
	ck_assert_int_eq(ev.row, 42);
	ck_assert_str_eq(json_string_value(json_object_get(ev.detail,
	    "title")), "t");
	json_decref(root);
	/* Until the writer answers, the orphan is pending. */
	ck_assert_uint_eq(audit_orphan_pending(), 1);
	ck_assert_int_eq(resumed, 0);
	ck_assert_int_eq(send(fds[1], "{\"seq\":5}", 9, 0), 9);
	RUN_UNTIL(audit_orphan_pending() == 0);
	ck_assert_int_eq(resumed, 1);
	ck_assert_int_eq(heard, 0);
}
END_TEST

/* A failed segment rolled back: no record; a lost writer: no wait. */
START_TEST(no_record_without_commit)
{
	struct audit_event	 ev;
	json_t			*root;
	int			 heard = 0;

	NEED_PG();
	adopt_sent(ST_DIVZERO, "0", 42, &heard);
	RUN_UNTIL(audit_orphan_pending() == 0);
	ck_assert_ptr_null(writer_next(&ev, false));
	ck_assert_int_eq(heard, 0);

	adopt_sent(ST_SLEEP, "0", 43, &heard);
	root = writer_next(&ev, true);
	ck_assert_int_eq(ev.row, 43);
	json_decref(root);
	ck_assert_uint_eq(audit_orphan_pending(), 1);
	audit_client_free(client);	/* the answer never comes */
	client = NULL;
	ck_assert_uint_eq(audit_orphan_pending(), 0);
	ck_assert_int_eq(heard, 0);
}
END_TEST

/* A segment still queued (no connection yet) is dropped: it never runs. */
START_TEST(queued_is_dropped)
{
	int		 heard = 0;

	NEED_PG();
	ck_assert_uint_eq(db_pool_ready(pool), 0);
	adopt(submit(ST_SLEEP, "0", &heard), 42);
	ck_assert_uint_eq(audit_orphan_pending(), 0);
	RUN_UNTIL(db_pool_ready(pool) == 1);
	event_base_loop(base, EVLOOP_NONBLOCK);
	ck_assert_int_eq(heard, 0);
}
END_TEST

Suite *
unit_suite(void)
{
	Suite	*s = suite_create("audit_orphan");
	TCase	*tc = tcase_create("audit_orphan");

	tcase_set_timeout(tc, UNIT_TIMEOUT);
	tcase_add_unchecked_fixture(tc, pgtest_start, pgtest_stop);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, record_after_commit);
	tcase_add_test(tc, no_record_without_commit);
	tcase_add_test(tc, queued_is_dropped);
	suite_add_tcase(s, tc);
	return s;
}
