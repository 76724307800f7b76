/*
 * test_audit_db.c - the audit tables against a real PostgreSQL: rows of
 * audited writes inserted, listed per instance in id order until written,
 * bulwark.audit_head only moving forward; and the detail of a request
 * record holding only the members listed in audit_fields.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "audit.h"
#include "audit_db.h"
#include "authdb.h"
#include "pgtest.h"
#include "unit.h"
#include "util.h"

static PGconn	*pg;

static void
setup(void)
{
	struct authdb_err	 e;
	PGresult		*res;
	int			 from;

	if (!pgtest_up)
		return;
	pg = PQconnectdb("");
	ck_assert_int_eq(PQstatus(pg), CONNECTION_OK);
	res = PQexec(pg, "DROP SCHEMA IF EXISTS bulwark CASCADE");
	PQclear(res);
	ck_assert_msg(authdb_init(pg, &from, &e) == 0, "%s", e.msg);
}

static void
teardown(void)
{
	PQfinish(pg);
	pg = NULL;
}

static int64_t
insert(const char *instance, const char *user, const json_t *detail)
{
	struct audit_event	 ev = { .event = "request", .user = user,
				    .route = "notes", .method = "POST",
				    .path = "/notes", .detail = detail };
	const char		*err;
	int64_t			 id;

	ck_assert_msg(audit_db_insert(pg, instance, &ev, &id, &err) == 0,
	    "%s", err);
	return id;
}

START_TEST(test_unwritten_rows)
{
	json_t		*d = json_pack("{s:s}", "title", "x");
	const char	*err;
	PGresult	*res;
	int64_t		 a, b, c;

	if (!pgtest_up)
		return;
	a = insert("i1", "u1", d);
	b = insert("i2", "u2", NULL);
	c = insert("i1", "u3", NULL);
	ck_assert_int_lt(a, b);
	res = audit_db_unwritten(pg, "i1", 10, &err);
	ck_assert_ptr_nonnull(res);
	ck_assert_int_eq(PQntuples(res), 2);
	ck_assert_str_eq(PQgetvalue(res, 0, 4), "u1");
	ck_assert_str_eq(PQgetvalue(res, 1, 4), "u3");
	ck_assert_str_eq(PQgetvalue(res, 0, 11), "{\"title\": \"x\"}");
	ck_assert(PQgetisnull(res, 0, 10));	/* status */
	ck_assert_int_gt(atoll(PQgetvalue(res, 0, 1)), 1700000000000000LL);
	PQclear(res);
	/* The limit, then a row once written is gone from the list. */
	res = audit_db_unwritten(pg, "i1", 1, &err);
	ck_assert_int_eq(PQntuples(res), 1);
	PQclear(res);
	{
		const int64_t	 ids[1] = { a };
		const uint64_t	 seqs[1] = { 5 };

		ck_assert_int_eq(audit_db_rows_written(pg, ids, seqs, 1, &err),
		    0);
	}
	res = audit_db_unwritten(pg, "i1", 10, &err);
	ck_assert_int_eq(PQntuples(res), 1);
	ck_assert_int_eq(atoll(PQgetvalue(res, 0, 0)), c);
	PQclear(res);
	/* Several rows in one statement; a row already written keeps its seq. */
	{
		int64_t		 ids[2] = { c, a };
		uint64_t	 seqs[2] = { 7, 99 };

		ck_assert_int_eq(audit_db_rows_written(pg, ids, seqs, 2, &err),
		    0);
		ck_assert_int_eq(audit_db_rows_written(pg, ids, seqs, 0, &err),
		    0);
	}
	res = audit_db_unwritten(pg, "i1", 10, &err);
	ck_assert_int_eq(PQntuples(res), 0);
	PQclear(res);
	res = PQexec(pg, "SELECT string_agg(seq::text, ',' ORDER BY id) "
	    "FROM bulwark.audit WHERE instance = 'i1'");
	ck_assert_str_eq(PQgetvalue(res, 0, 0), "5,7");
	PQclear(res);
	json_decref(d);
}
END_TEST

START_TEST(test_head_moves_forward_only)
{
	struct audit_chain	 h = { .seq = 10 }, got;
	const char		*err;
	PGresult		*res;

	if (!pgtest_up)
		return;
	ck_assert_int_eq(audit_db_head_get(pg, "i1", &got, &err), 0);
	memset(h.mac, 0x11, sizeof(h.mac));
	ck_assert_int_eq(audit_db_head_set(pg, "i1", &h, &err), 0);
	h.seq = 9;
	memset(h.mac, 0x22, sizeof(h.mac));
	ck_assert_int_eq(audit_db_head_set(pg, "i1", &h, &err), 0);
	ck_assert_int_eq(audit_db_head_get(pg, "i1", &got, &err), 1);
	ck_assert_uint_eq(got.seq, 10);
	ck_assert_int_eq(got.mac[0], 0x11);
	ck_assert_int_eq(audit_db_head_get(pg, "i2", &got, &err), 0);
	/* A row the checks let through but that is no head. */
	res = PQexec(pg, "ALTER TABLE bulwark.audit_head DROP CONSTRAINT "
	    "audit_head_mac_check; UPDATE bulwark.audit_head SET mac = 'x'");
	PQclear(res);
	ck_assert_int_eq(audit_db_head_get(pg, "i1", &got, &err), -1);
}
END_TEST

START_TEST(test_detail_only_listed_fields)
{
	json_t		*body = json_pack("{s:s,s:s,s:i,s:{s:s}}", "title", "t",
			    "password", "hunter2", "n", 1, "nested", "a", "b");
	char		*fields[] = { "title", "nested", "missing" };
	char		*none[] = { "missing" };
	json_t		*d;

	d = audit_detail_fields(body, fields, 3);
	ck_assert_int_eq(json_object_size(d), 2);
	ck_assert_str_eq(json_string_value(json_object_get(d, "title")), "t");
	ck_assert_ptr_null(json_object_get(d, "password"));
	ck_assert_ptr_null(json_object_get(d, "n"));
	json_decref(d);
	ck_assert_ptr_null(audit_detail_fields(body, none, 1));
	ck_assert_ptr_null(audit_detail_fields(body, fields, 0));
	ck_assert_ptr_null(audit_detail_fields(json_array_get(NULL, 0),
	    fields, 3));
	json_decref(body);
}
END_TEST

Suite *
unit_suite(void)
{
	Suite	*s = suite_create("audit_db");
	TCase	*tc = tcase_create("audit_db");
	TCase	*fmt = tcase_create("detail");

	tcase_set_timeout(tc, UNIT_TIMEOUT);
	tcase_add_unchecked_fixture(tc, pgtest_start, pgtest_stop);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_unwritten_rows);
	tcase_add_test(tc, test_head_moves_forward_only);
	suite_add_tcase(s, tc);
	tcase_set_timeout(fmt, UNIT_TIMEOUT);
	tcase_add_test(fmt, test_detail_only_listed_fields);
	suite_add_tcase(s, fmt);
	return s;
}
