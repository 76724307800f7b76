/*
 * test_problem.c - RFC 9457 problem bodies: exact bytes, the fixed detail
 * table, escaping, and that no input reaches a detail.
 */
#include <string.h>

#include <event2/buffer.h>
#include <jansson.h>

#include "problem.h"
#include "util.h"
#include "unit.h"

static char *
take(struct evbuffer *b)
{
	size_t	 n = evbuffer_get_length(b);
	char	*s = bw_malloc(n + 1);

	evbuffer_remove(b, s, n);
	s[n] = '\0';
	return s;
}

START_TEST(test_exact_404)
{
	struct evbuffer	*b = evbuffer_new();
	char		*s;

	ck_assert_int_eq(problem_write(b, PROBLEM_NOT_FOUND,
	    "0123456789abcdef0123456789abcdef"), 0);
	s = take(b);
	ck_assert_str_eq(s, "{\"type\":\"about:blank\",\"title\":\"Not Found\","
	    "\"status\":404,\"detail\":\"no resource matches the request\","
	    "\"instance\":\"0123456789abcdef0123456789abcdef\"}");
	free(s);
	evbuffer_free(b);
}
END_TEST

START_TEST(test_exact_503)
{
	struct evbuffer	*b = evbuffer_new();
	char		*s;

	ck_assert_int_eq(problem_write(b, PROBLEM_DB_UNAVAILABLE, "id-1"), 0);
	s = take(b);
	ck_assert_str_eq(s, "{\"type\":\"about:blank\","
	    "\"title\":\"Service Unavailable\",\"status\":503,"
	    "\"detail\":\"database unavailable\",\"instance\":\"id-1\"}");
	free(s);
	evbuffer_free(b);
}
END_TEST

/* Every entry: its own enum slot, a known status, fixed non-empty text. */
START_TEST(test_table)
{
	const struct problem_detail	*t;
	size_t				 n, i, j;

	t = problem_detail_table(&n);
	ck_assert_uint_eq(n, PROBLEM_CODE_COUNT);
	for (i = 0; i < n; i++) {
		ck_assert_int_eq(t[i].code, (int)i);
		ck_assert_ptr_eq(problem_detail_get(t[i].code), &t[i]);
		ck_assert(t[i].status >= 400 && t[i].status <= 599);
		ck_assert_str_ne(problem_reason(t[i].status), "Unknown");
		ck_assert(strlen(t[i].detail) > 0);
		ck_assert(strchr(t[i].detail, '"') == NULL);
		ck_assert(strchr(t[i].detail, '\\') == NULL);
		for (j = 0; j < i; j++)
			ck_assert_str_ne(t[i].name, t[j].name);
	}
	ck_assert_ptr_eq(problem_detail_get(PROBLEM_CODE_COUNT),
	    problem_detail_get(PROBLEM_INTERNAL));
}
END_TEST

START_TEST(test_status_map)
{
	ck_assert_int_eq(problem_code_for_status(400), PROBLEM_MALFORMED);
	ck_assert_int_eq(problem_code_for_status(414), PROBLEM_URI_TOO_LONG);
	ck_assert_int_eq(problem_code_for_status(431), PROBLEM_HEAD_TOO_LARGE);
	ck_assert_int_eq(problem_code_for_status(501),
	    PROBLEM_NOT_IMPLEMENTED);
	ck_assert_int_eq(problem_code_for_status(505), PROBLEM_VERSION);
	ck_assert_int_eq(problem_code_for_status(299), PROBLEM_INTERNAL);
	ck_assert_str_eq(problem_reason(431),
	    "Request Header Fields Too Large");
	ck_assert_str_eq(problem_reason(999), "Unknown");
}
END_TEST

/*
 * Every body is valid JSON with exactly the five members, the detail is
 * the table's, and a hostile request id is escaped and cannot add members.
 */
START_TEST(test_all_bodies_json)
{
	static const char	 hostile[] = "x\",\"detail\":\"<script>\\\x01";
	const struct problem_detail *t;
	struct evbuffer		*b = evbuffer_new();
	json_error_t		 jerr;
	json_t			*j;
	char			*s;
	size_t			 n, i;

	t = problem_detail_table(&n);
	for (i = 0; i < n; i++) {
		ck_assert_int_eq(problem_write(b, t[i].code, hostile), 0);
		s = take(b);
		j = json_loads(s, JSON_REJECT_DUPLICATES, &jerr);
		ck_assert_msg(j != NULL, "%s: %s", s, jerr.text);
		ck_assert_uint_eq(json_object_size(j), 5);
		ck_assert_str_eq(json_string_value(json_object_get(j, "type")),
		    "about:blank");
		ck_assert_str_eq(json_string_value(json_object_get(j,
		    "detail")), t[i].detail);
		ck_assert_int_eq(json_integer_value(json_object_get(j,
		    "status")), t[i].status);
		ck_assert_str_eq(json_string_value(json_object_get(j,
		    "instance")), hostile);
		ck_assert(strstr(s, "<script>\\\\\\u0001") != NULL);
		json_decref(j);
		free(s);
	}
	evbuffer_free(b);
}
END_TEST

START_TEST(test_validation)
{
	struct problem_error	 e[2] = {
		{ "/title", "is required" },
		{ "/a\"b", "must be a string" },
	};
	struct evbuffer		*b = evbuffer_new();
	char			*s;

	ck_assert_int_eq(problem_write_validation(b, PROBLEM_VALIDATION,
	    "rid", e, 2), 0);
	s = take(b);
	ck_assert_str_eq(s, "{\"type\":\"urn:bulwark:problem:validation\","
	    "\"title\":\"Unprocessable Content\",\"status\":422,"
	    "\"detail\":\"the request body does not match the schema\","
	    "\"instance\":\"rid\",\"errors\":[{\"pointer\":\"/title\","
	    "\"message\":\"is required\"},{\"pointer\":\"/a\\\"b\","
	    "\"message\":\"must be a string\"}]}");
	free(s);
	ck_assert_int_eq(problem_write_validation(b, PROBLEM_PARAMS, "r",
	    NULL, 0), 0);
	s = take(b);
	ck_assert(strstr(s, "\"status\":400,") != NULL);
	ck_assert(strstr(s, "\"errors\":[]}") != NULL);
	free(s);
	evbuffer_free(b);
}
END_TEST

/* The errors list stops at PROBLEM_MAX_ERRORS entries. */
START_TEST(test_validation_cap)
{
	struct problem_error	 e[PROBLEM_MAX_ERRORS + 5];
	struct evbuffer		*b = evbuffer_new();
	json_error_t		 jerr;
	json_t			*j;
	char			*s;
	size_t			 i;

	for (i = 0; i < BW_ARRAY_LEN(e); i++) {
		e[i].pointer = "/x";
		e[i].message = "bad";
	}
	ck_assert_int_eq(problem_write_validation(b, PROBLEM_VALIDATION,
	    "r", e, BW_ARRAY_LEN(e)), 0);
	s = take(b);
	j = json_loads(s, 0, &jerr);
	ck_assert_ptr_nonnull(j);
	ck_assert_uint_eq(json_array_size(json_object_get(j, "errors")),
	    PROBLEM_MAX_ERRORS);
	json_decref(j);
	free(s);
	evbuffer_free(b);
}
END_TEST

/* PROBLEM_MAX_FIELD bounds a long request id. */
START_TEST(test_long_request_id)
{
	struct evbuffer	*b = evbuffer_new();
	char		 big[PROBLEM_MAX_FIELD * 2];

	memset(big, 'a', sizeof(big));
	big[sizeof(big) - 1] = '\0';
	ck_assert_int_eq(problem_write(b, PROBLEM_MALFORMED, big), 0);
	ck_assert_uint_lt(evbuffer_get_length(b), PROBLEM_MAX_FIELD + 200);
	evbuffer_free(b);
}
END_TEST

Suite *
unit_suite(void)
{
	Suite	*s = suite_create("problem");
	TCase	*tc = tcase_create("core");

	tcase_set_timeout(tc, UNIT_TIMEOUT);
	tcase_add_test(tc, test_exact_404);
	tcase_add_test(tc, test_exact_503);
	tcase_add_test(tc, test_table);
	tcase_add_test(tc, test_status_map);
	tcase_add_test(tc, test_all_bodies_json);
	tcase_add_test(tc, test_validation);
	tcase_add_test(tc, test_validation_cap);
	tcase_add_test(tc, test_long_request_id);
	suite_add_tcase(s, tc);
	return s;
}
