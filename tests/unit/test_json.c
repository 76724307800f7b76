/*
 * test_json.c - the strict JSON reader: trees, lexemes, positions, and
 * every refusal with its status.
 */
#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "json.h"
#include "util.h"

static struct node *
parse(const char *s, int depth, struct json_error *err)
{
	return json_parse(s, strlen(s), depth, err);
}

static enum json_status
status_of(const char *s, size_t len, int depth)
{
	struct json_error	 err;
	struct node		*n;

	n = json_parse(s, len, depth, &err);
	if (n != NULL) {
		node_free(n);
		return JSON_OK;
	}
	ck_assert_ptr_nonnull(err.msg);
	return err.code;
}

#define REFUSE(s, code)	ck_assert_int_eq(status_of(s, strlen(s), 32), code)

START_TEST(json_tree)
{
	struct json_error	 err;
	struct node		*n;
	const struct node	*v;

	n = parse(" {\"a\": [1, -2.50e+03, true, false, null], \"b\": \"x\"} ",
	    32, &err);
	ck_assert_ptr_nonnull(n);
	ck_assert_int_eq(n->kind, NODE_MAP);
	ck_assert_uint_eq(n->n, 2);
	v = node_get(n, "a");
	ck_assert_int_eq(v->kind, NODE_SEQ);
	ck_assert_uint_eq(v->n, 5);
	ck_assert_int_eq(v->vals[0]->style, NODE_NUMBER);
	ck_assert_str_eq(v->vals[1]->text, "-2.50e+03");
	ck_assert_uint_eq(v->vals[1]->len, 9);
	ck_assert_int_eq(v->vals[2]->style, NODE_TRUE);
	ck_assert_int_eq(v->vals[3]->style, NODE_FALSE);
	ck_assert_int_eq(v->vals[4]->style, NODE_NULL);
	ck_assert_int_eq(node_get(n, "b")->style, NODE_STRING);
	ck_assert_str_eq(node_get(n, "b")->text, "x");
	node_free(n);

	n = parse("\"top\"", 0, &err);
	ck_assert_ptr_nonnull(n);
	ck_assert_str_eq(n->text, "top");
	node_free(n);
	n = parse("[]", 1, &err);
	ck_assert_ptr_nonnull(n);
	ck_assert_uint_eq(n->n, 0);
	node_free(n);
	n = parse("{}", 1, &err);
	ck_assert_ptr_nonnull(n);
	node_free(n);
}
END_TEST

START_TEST(json_strings)
{
	struct json_error	 err;
	struct node		*n;

	n = parse("\"a\\\"\\\\\\/\\b\\f\\n\\r\\t\\u0041\\u00e9\\u20ac"
	    "\\ud83d\\ude00\"", 0, &err);
	ck_assert_ptr_nonnull(n);
	ck_assert_uint_eq(n->len, 1 + 8 + 1 + 2 + 3 + 4);
	ck_assert(memcmp(n->text, "a\"\\/\b\f\n\r\tA\xc3\xa9\xe2\x82\xac"
	    "\xf0\x9f\x98\x80", n->len) == 0);
	node_free(n);

	n = parse("\"a\\u0000b\"", 0, &err);
	ck_assert_ptr_nonnull(n);
	ck_assert_uint_eq(n->len, 3);
	ck_assert(memcmp(n->text, "a\0b", 3) == 0);
	node_free(n);

	n = parse("\"h\xc3\xa9llo \xf0\x9f\x98\x80\"", 0, &err);
	ck_assert_ptr_nonnull(n);
	ck_assert_uint_eq(n->len, 11);
	node_free(n);
}
END_TEST

START_TEST(json_positions)
{
	struct json_error	 err;
	struct node		*n;

	n = parse("{\n  \"\xc3\xa9\xc3\xa9\": 1,\n\t\"b\": [true]\n}", 32, &err);
	ck_assert_ptr_nonnull(n);
	ck_assert_int_eq(n->line, 1);
	ck_assert_int_eq(n->col, 1);
	ck_assert_int_eq(n->keys[0]->line, 2);
	ck_assert_int_eq(n->keys[0]->col, 3);
	ck_assert_int_eq(n->vals[0]->line, 2);
	ck_assert_int_eq(n->vals[0]->col, 9);	/* code points, not bytes */
	ck_assert_int_eq(n->vals[1]->line, 3);
	ck_assert_int_eq(n->vals[1]->col, 7);
	ck_assert_int_eq(n->vals[1]->vals[0]->col, 8);
	node_free(n);

	ck_assert_ptr_null(parse("[1,\n  x]", 32, &err));
	ck_assert_int_eq(err.code, JSON_ESYNTAX);
	ck_assert_int_eq(err.line, 2);
	ck_assert_int_eq(err.col, 3);
	ck_assert_uint_eq(err.offset, 6);

	ck_assert_ptr_null(parse("[\"\xc3\xa9\", \xff]", 32, &err));
	ck_assert_int_eq(err.code, JSON_EUTF8);
	ck_assert_int_eq(err.col, 7);
}
END_TEST

START_TEST(json_refuse_empty_bom_utf8)
{
	ck_assert_int_eq(status_of("", 0, 32), JSON_EEMPTY);
	REFUSE(" \t\r\n ", JSON_EEMPTY);
	REFUSE("\xef\xbb\xbf{}", JSON_EBOM);
	REFUSE("\"\xff\"", JSON_EUTF8);
	REFUSE("\"\xc0\x80\"", JSON_EUTF8);		/* overlong NUL */
	REFUSE("\"\xe0\x80\xaf\"", JSON_EUTF8);		/* overlong */
	REFUSE("\"\xed\xa0\x80\"", JSON_EUTF8);		/* surrogate */
	REFUSE("\"\xf4\x90\x80\x80\"", JSON_EUTF8);	/* > U+10FFFF */
	REFUSE("\"\xc3\"", JSON_EUTF8);			/* truncated */
	REFUSE("\"\x80\"", JSON_EUTF8);
	REFUSE("[1, \xe2\x82]", JSON_EUTF8);
	REFUSE("\"\\ud800\"", JSON_EUTF8);
	REFUSE("\"\\udc00\"", JSON_EUTF8);
	REFUSE("\"\\ud800\\u0041\"", JSON_EUTF8);
	REFUSE("\"\\ud800x\"", JSON_EUTF8);
	REFUSE("\"\\ud800\\ud800\"", JSON_EUTF8);
	ck_assert_int_eq(status_of("\"\\ud800", 7, 32), JSON_ESYNTAX);
}
END_TEST

START_TEST(json_refuse_syntax)
{
	static const char *const bad[] = { "01", "-01", "1.", ".5", "1e",
	    "1e+", "+1", "-", "- 1", "1.e3", "0x10", "NaN", "Infinity",
	    "tru", "nul", "falsey", "[1,]", "{\"a\":1,}", "{\"a\" 1}",
	    "{a:1}", "{1:1}", "[1 2]", "{\"a\":1 \"b\":2}", "\"abc",
	    "\"a\\x\"", "\"a\\u12\"", "\"a\\u12g4\"", "\"\t\"", "\"a\nb\"",
	    "[", "{", "]", "}", "{\"a\":}", "[1]]", "{} {}", "1 2",
	    "\"a\" x", "'a'", "[\"a\",,]", "\"\\", "\x01", "[1,\x7f]",
	    "{\"a\"", "{\"a\":", "[-]", "1e5.0", "\"\\u00", "/*c*/1" };
	size_t	i;

	for (i = 0; i < BW_ARRAY_LEN(bad); i++)
		ck_assert_msg(status_of(bad[i], strlen(bad[i]), 32) ==
		    JSON_ESYNTAX, "accepted or wrong status: %s", bad[i]);
	ck_assert_int_eq(status_of("[1,\0]", 5, 32), JSON_ESYNTAX);
	ck_assert_int_eq(status_of("1\0", 2, 32), JSON_ESYNTAX);
}
END_TEST

START_TEST(json_numbers_kept)
{
	static const char *const ok[] = { "0", "-0", "1", "-1", "0.5",
	    "-0.0", "1e5", "1E5", "1e+5", "1e-5", "12.340e-005",
	    "123456789012345678901234567890", "1e999999999999999999999" };
	struct json_error	 err;
	struct node		*n;
	size_t			 i;

	for (i = 0; i < BW_ARRAY_LEN(ok); i++) {
		n = parse(ok[i], 0, &err);
		ck_assert_msg(n != NULL, "refused %s", ok[i]);
		ck_assert_int_eq(n->style, NODE_NUMBER);
		ck_assert_str_eq(n->text, ok[i]);
		node_free(n);
	}
}
END_TEST

START_TEST(json_duplicates)
{
	char	 buf[32768];
	size_t	 o = 0;
	int	 i;

	REFUSE("{\"a\":1,\"a\":2}", JSON_EDUP);
	REFUSE("{\"a\":1,\"\\u0061\":2}", JSON_EDUP);
	REFUSE("{\"x\":{\"k\":1,\"k\":1}}", JSON_EDUP);
	REFUSE("{\"a\\u0000\":1,\"a\":2}", JSON_OK);
	/* Large objects take the sorted path. */
	o += (size_t)snprintf(buf + o, sizeof(buf) - o, "{");
	for (i = 0; i < 1000; i++)
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s\"k%d\":%d",
		    i ? "," : "", i, i);
	buf[o] = '}';
	ck_assert_int_eq(status_of(buf, o + 1, 32), JSON_OK);
	o += (size_t)snprintf(buf + o, sizeof(buf) - o, ",\"k500\":0}");
	ck_assert_int_eq(status_of(buf, o, 32), JSON_EDUP);
}
END_TEST

START_TEST(json_depth)
{
	char	buf[4 * JSON_DEPTH_CEILING + 16];
	size_t	i, n;

	ck_assert_int_eq(status_of("[[1]]", 5, 2), JSON_OK);
	ck_assert_int_eq(status_of("[[[1]]]", 7, 2), JSON_EDEPTH);
	ck_assert_int_eq(status_of("{\"a\":{\"b\":{}}}", 14, 2), JSON_EDEPTH);
	ck_assert_int_eq(status_of("1", 1, 0), JSON_OK);
	ck_assert_int_eq(status_of("[]", 2, 0), JSON_EDEPTH);
	ck_assert_int_eq(status_of("[]", 2, -5), JSON_EDEPTH);
	/* The ceiling holds whatever the caller asks. */
	n = JSON_DEPTH_CEILING + 1;
	for (i = 0; i < n; i++)
		buf[i] = '[';
	for (i = 0; i < n; i++)
		buf[n + i] = ']';
	ck_assert_int_eq(status_of(buf, 2 * n, 1 << 30), JSON_EDEPTH);
	ck_assert_int_eq(status_of(buf + 1, 2 * n - 2, 1 << 30), JSON_OK);
}
END_TEST

START_TEST(json_status_names)
{
	int	i;

	for (i = JSON_OK; i <= JSON_EDEPTH; i++)
		ck_assert_ptr_nonnull(json_status_str((enum json_status)i));
	ck_assert_str_eq(json_status_str(JSON_EDUP), "duplicate member name");
	ck_assert_str_eq(json_status_str((enum json_status)99),
	    "unknown error");
}
END_TEST

Suite *
unit_suite(void)
{
	Suite	*s = suite_create("json");
	TCase	*tc = tcase_create("json");

	tcase_set_timeout(tc, UNIT_TIMEOUT);
	tcase_add_test(tc, json_tree);
	tcase_add_test(tc, json_strings);
	tcase_add_test(tc, json_positions);
	tcase_add_test(tc, json_refuse_empty_bom_utf8);
	tcase_add_test(tc, json_refuse_syntax);
	tcase_add_test(tc, json_numbers_kept);
	tcase_add_test(tc, json_duplicates);
	tcase_add_test(tc, json_depth);
	tcase_add_test(tc, json_status_names);
	suite_add_tcase(s, tc);
	return s;
}
