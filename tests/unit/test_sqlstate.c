/*
 * test_sqlstate.c - SQLSTATE to HTTP status (SPEC 7).
 */
#include <stdbool.h>

#include "unit.h"
#include "sqlstate.h"
#include "util.h"

static const struct {
	const char	*state;
	int		 status;
} table[] = {
	{ "23505", 409 },	/* unique_violation */
	{ "23503", 409 },	/* foreign_key_violation */
	{ "23502", 422 },	/* not_null_violation */
	{ "23514", 422 },	/* check_violation */
	{ "22000", 422 },	/* class 22: data_exception */
	{ "22P02", 422 },	/* invalid_text_representation */
	{ "22003", 422 },	/* numeric_value_out_of_range */
	{ "22012", 422 },	/* division_by_zero */
	{ "42501", 403 },	/* insufficient_privilege */
	{ "57014", 504 },	/* query_canceled */
	{ "08000", 503 },	/* class 08 */
	{ "08006", 503 },	/* connection_failure */
	{ "08P01", 503 },	/* protocol_violation */
	{ "23000", 500 },	/* other class 23 codes */
	{ "23P01", 500 },	/* exclusion_violation */
	{ "42P01", 500 },	/* undefined_table */
	{ "42601", 500 },	/* syntax_error */
	{ "42500", 500 },	/* next to 42501 */
	{ "57P01", 500 },	/* admin_shutdown */
	{ "57000", 500 },
	{ "53300", 500 },	/* too_many_connections */
	{ "XX000", 500 },	/* internal_error */
	{ "P0001", 500 },	/* raise_exception */
	{ "40002", 500 },	/* other class 40 codes */
	{ "2F000", 500 },
	{ "02000", 500 },
};

START_TEST(test_table)
{
	bool	 retry;
	size_t	 i;

	for (i = 0; i < BW_ARRAY_LEN(table); i++) {
		retry = true;
		ck_assert_msg(sqlstate_http_status(table[i].state, 0, &retry) ==
		    table[i].status, "%s", table[i].state);
		ck_assert_msg(!retry, "%s retried", table[i].state);
	}
}
END_TEST

START_TEST(test_retry_once)
{
	static const char	*states[] = { "40001", "40P01" };
	bool			 retry;
	size_t			 i;

	for (i = 0; i < BW_ARRAY_LEN(states); i++) {
		retry = false;
		ck_assert_int_eq(sqlstate_http_status(states[i], 0, &retry),
		    503);
		ck_assert(retry);
		ck_assert_int_eq(sqlstate_http_status(states[i],
		    SQLSTATE_MAX_RETRIES, &retry), 503);
		ck_assert(!retry);
		retry = true;
		ck_assert_int_eq(sqlstate_http_status(states[i], 7, &retry),
		    503);
		ck_assert(!retry);
	}
}
END_TEST

START_TEST(test_malformed)
{
	static const char	*bad[] = {
		"", "2350", "235055", "23505 ", "2350a", "08-00", "22 00",
		"\xff" "2000",
	};
	bool			 retry = true;
	size_t			 i;

	ck_assert_int_eq(sqlstate_http_status(NULL, 0, &retry), 500);
	ck_assert(!retry);
	ck_assert(!sqlstate_valid(NULL));
	for (i = 0; i < BW_ARRAY_LEN(bad); i++) {
		retry = true;
		ck_assert_msg(!sqlstate_valid(bad[i]), "%s", bad[i]);
		ck_assert_int_eq(sqlstate_http_status(bad[i], 0, &retry), 500);
		ck_assert(!retry);
	}
	ck_assert(sqlstate_valid("40P01"));
	ck_assert(sqlstate_valid("00000"));
}
END_TEST

Suite *
unit_suite(void)
{
	Suite	*s = suite_create("sqlstate");
	TCase	*tc = tcase_create("sqlstate");

	tcase_set_timeout(tc, UNIT_TIMEOUT);
	tcase_add_test(tc, test_table);
	tcase_add_test(tc, test_retry_once);
	tcase_add_test(tc, test_malformed);
	suite_add_tcase(s, tc);
	return s;
}
