/*
 * test_router.c - path templates, matching, parameter decoding, Allow
 * values and the query-string splitter (SPEC 5 "Paths and queries").
 */
#include <stdio.h>
#include <string.h>

#include "router.h"
#include "unit.h"
#include "util.h"

static struct router	*rt;
static char		 buf[4096];
static struct router_match mt;

/* Distinct opaque route pointers. */
static int	 r_get, r_post, r_del, r_lit, r_param, r_deep, r_trail;
static int	 r_root, r_opt, r_x, r_ops;

static enum router_result
match(enum http_method m, const char *path)
{
	return router_match(rt, m, path, strlen(path), &mt, buf, sizeof(buf));
}

static void
add_ok(const char *tmpl, enum http_method m, void *route)
{
	ck_assert_msg(router_add(rt, tmpl, m, route, &r_ops) == 0, "%s: %s",
	    tmpl, router_error(rt));
}

static void
setup(void)
{
	rt = router_new();
	add_ok("/notes/{id}", HTTP_GET, &r_get);
	add_ok("/notes/{note}", HTTP_DELETE, &r_del);
	add_ok("/notes", HTTP_POST, &r_post);
	add_ok("/notes/mine", HTTP_GET, &r_lit);
	add_ok("/a/{x}/c", HTTP_GET, &r_param);
	add_ok("/a/b/d", HTTP_GET, &r_lit);
	add_ok("/a/b/c", HTTP_PUT, &r_deep);
	add_ok("/t/", HTTP_GET, &r_trail);
	add_ok("/", HTTP_GET, &r_root);
	add_ok("/opt", HTTP_OPTIONS, &r_opt);
	add_ok("/u/{a}/{b}", HTTP_PATCH, &r_x);
}

static void
teardown(void)
{
	router_free(rt);
	rt = NULL;
}

START_TEST(test_literal_and_param)
{
	ck_assert_int_eq(match(HTTP_GET, "/notes/12"), ROUTER_FOUND);
	ck_assert_ptr_eq(mt.route, &r_get);
	ck_assert_ptr_eq(mt.ops, &r_ops);
	ck_assert_str_eq(mt.tmpl, "/notes/{id}");
	ck_assert_uint_eq(mt.nparams, 1);
	ck_assert_str_eq(mt.params[0].name, "id");
	ck_assert_str_eq(mt.params[0].value, "12");
	ck_assert_uint_eq(mt.params[0].len, 2);
	/* names come from the matched template */
	ck_assert_int_eq(match(HTTP_DELETE, "/notes/12"), ROUTER_FOUND);
	ck_assert_ptr_eq(mt.route, &r_del);
	ck_assert_str_eq(mt.params[0].name, "note");
	/* literal beats parameter */
	ck_assert_int_eq(match(HTTP_GET, "/notes/mine"), ROUTER_FOUND);
	ck_assert_ptr_eq(mt.route, &r_lit);
	ck_assert_uint_eq(mt.nparams, 0);
	/* ... but the parameter serves a method the literal lacks */
	ck_assert_int_eq(match(HTTP_DELETE, "/notes/mine"), ROUTER_FOUND);
	ck_assert_ptr_eq(mt.route, &r_del);
	ck_assert_str_eq(mt.params[0].value, "mine");
	ck_assert_int_eq(match(HTTP_POST, "/notes"), ROUTER_FOUND);
	ck_assert_ptr_eq(mt.route, &r_post);
	ck_assert_int_eq(match(HTTP_GET, "/"), ROUTER_FOUND);
	ck_assert_ptr_eq(mt.route, &r_root);
	ck_assert_int_eq(match(HTTP_PATCH, "/u/x/y"), ROUTER_FOUND);
	ck_assert_uint_eq(mt.nparams, 2);
	ck_assert_str_eq(mt.params[0].name, "a");
	ck_assert_str_eq(mt.params[0].value, "x");
	ck_assert_str_eq(mt.params[1].name, "b");
	ck_assert_str_eq(mt.params[1].value, "y");
}
END_TEST

START_TEST(test_backtrack)
{
	/* /a/b is a literal prefix, but only /a/{x}/c ends in c for GET */
	ck_assert_int_eq(match(HTTP_GET, "/a/b/c"), ROUTER_FOUND);
	ck_assert_ptr_eq(mt.route, &r_param);
	ck_assert_str_eq(mt.params[0].value, "b");
	ck_assert_int_eq(match(HTTP_PUT, "/a/b/c"), ROUTER_FOUND);
	ck_assert_ptr_eq(mt.route, &r_deep);
	ck_assert_uint_eq(mt.nparams, 0);
	ck_assert_int_eq(match(HTTP_GET, "/a/b/d"), ROUTER_FOUND);
	ck_assert_ptr_eq(mt.route, &r_lit);
	ck_assert_int_eq(match(HTTP_GET, "/a/z/d"), ROUTER_NOT_FOUND);
}
END_TEST

START_TEST(test_not_found)
{
	ck_assert_int_eq(match(HTTP_GET, "/nope"), ROUTER_NOT_FOUND);
	ck_assert_ptr_null(mt.route);
	/* trailing slash is distinct, both ways */
	ck_assert_int_eq(match(HTTP_POST, "/notes/"), ROUTER_NOT_FOUND);
	ck_assert_int_eq(match(HTTP_GET, "/t"), ROUTER_NOT_FOUND);
	ck_assert_int_eq(match(HTTP_GET, "/t/"), ROUTER_FOUND);
	ck_assert_ptr_eq(mt.route, &r_trail);
	/* a parameter never matches an empty segment */
	ck_assert_int_eq(match(HTTP_GET, "/notes/"), ROUTER_NOT_FOUND);
	/* case-sensitive, no decoding of literals */
	ck_assert_int_eq(match(HTTP_POST, "/Notes"), ROUTER_NOT_FOUND);
	ck_assert_int_eq(match(HTTP_POST, "/note%73"), ROUTER_NOT_FOUND);
	ck_assert_int_eq(match(HTTP_GET, "/notes/12/x"), ROUTER_NOT_FOUND);
	ck_assert_int_eq(match(HTTP_GET, ""), ROUTER_NOT_FOUND);
	ck_assert_int_eq(match(HTTP_GET, "notes"), ROUTER_NOT_FOUND);
	ck_assert_int_eq(match(HTTP_METHOD_COUNT, "/"), ROUTER_NOT_FOUND);
}
END_TEST

START_TEST(test_method_allow)
{
	ck_assert_int_eq(match(HTTP_PUT, "/notes/12"), ROUTER_METHOD);
	ck_assert_str_eq(mt.allow, "GET, HEAD, DELETE, OPTIONS");
	ck_assert_ptr_null(mt.route);
	/* the union over every template matching the path */
	ck_assert_int_eq(match(HTTP_PUT, "/notes/mine"), ROUTER_METHOD);
	ck_assert_str_eq(mt.allow, "GET, HEAD, DELETE, OPTIONS");
	ck_assert_int_eq(match(HTTP_GET, "/notes"), ROUTER_METHOD);
	ck_assert_str_eq(mt.allow, "POST, OPTIONS");
	ck_assert_int_eq(match(HTTP_DELETE, "/a/b/c"), ROUTER_METHOD);
	ck_assert_str_eq(mt.allow, "GET, HEAD, PUT, OPTIONS");
	/* OPTIONS without an OPTIONS route: the caller answers with allow */
	ck_assert_int_eq(match(HTTP_OPTIONS, "/notes"), ROUTER_METHOD);
	ck_assert_str_eq(mt.allow, "POST, OPTIONS");
	ck_assert_int_eq(match(HTTP_OPTIONS, "/opt"), ROUTER_FOUND);
	ck_assert_ptr_eq(mt.route, &r_opt);
	ck_assert_int_eq(match(HTTP_GET, "/opt"), ROUTER_METHOD);
	ck_assert_str_eq(mt.allow, "OPTIONS");
	ck_assert_int_eq(match(HTTP_TRACE, "/notes"), ROUTER_METHOD);
	/* HEAD runs the GET route */
	ck_assert_int_eq(match(HTTP_HEAD, "/notes/7"), ROUTER_FOUND);
	ck_assert_ptr_eq(mt.route, &r_get);
	ck_assert_int_eq(match(HTTP_HEAD, "/notes"), ROUTER_METHOD);
}
END_TEST

START_TEST(test_allow_all)
{
	static const enum http_method ms[] = { HTTP_OPTIONS, HTTP_DELETE,
	    HTTP_PATCH, HTTP_PUT, HTTP_POST, HTTP_HEAD, HTTP_GET };
	struct router	*r = router_new();
	size_t		 i;

	for (i = 0; i < BW_ARRAY_LEN(ms); i++)
		ck_assert_int_eq(router_add(r, "/x/{y}", ms[i], &r_x, NULL), 0);
	ck_assert_int_eq(router_match(r, HTTP_TRACE, "/x/1", 4, &mt, buf,
	    sizeof(buf)), ROUTER_METHOD);
	ck_assert_str_eq(mt.allow,
	    "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS");
	router_free(r);
}
END_TEST

struct param_case {
	const char	*path;
	int		 result;
	const char	*value;
	size_t		 len;
};

static const struct param_case param_cases[] = {
	{ "/notes/a%20b", ROUTER_FOUND, "a b", 3 },
	{ "/notes/%C3%A9t%c3%a9", ROUTER_FOUND, "\xc3\xa9t\xc3\xa9", 5 },
	{ "/notes/a+b", ROUTER_FOUND, "a+b", 3 },
	{ "/notes/%2B", ROUTER_FOUND, "+", 1 },
	{ "/notes/%25", ROUTER_FOUND, "%", 1 },
	{ "/notes/%2541", ROUTER_FOUND, "%41", 3 },
	{ "/notes/%2e%2e", ROUTER_FOUND, "..", 2 },
	{ "/notes/%F0%9F%98%80", ROUTER_FOUND, "\xf0\x9f\x98\x80", 4 },
	{ "/notes/%zz", ROUTER_BAD_PARAM, NULL, 0 },
	{ "/notes/%4", ROUTER_BAD_PARAM, NULL, 0 },
	{ "/notes/%", ROUTER_BAD_PARAM, NULL, 0 },
	{ "/notes/a%2Fb", ROUTER_BAD_PARAM, NULL, 0 },
	{ "/notes/a%2fb", ROUTER_BAD_PARAM, NULL, 0 },
	{ "/notes/%00", ROUTER_BAD_PARAM, NULL, 0 },
	{ "/notes/%0a", ROUTER_BAD_PARAM, NULL, 0 },
	{ "/notes/%1F", ROUTER_BAD_PARAM, NULL, 0 },
	{ "/notes/%7f", ROUTER_BAD_PARAM, NULL, 0 },
	{ "/notes/%ff", ROUTER_BAD_PARAM, NULL, 0 },
	{ "/notes/%c3%28", ROUTER_BAD_PARAM, NULL, 0 },
	{ "/notes/%c0%af", ROUTER_BAD_PARAM, NULL, 0 },
	{ "/notes/%ed%a0%80", ROUTER_BAD_PARAM, NULL, 0 },
	{ "/notes/%c3", ROUTER_BAD_PARAM, NULL, 0 },
	{ "/notes/\x01", ROUTER_BAD_PARAM, NULL, 0 },
	{ "/notes/\xc3\xa9", ROUTER_FOUND, "\xc3\xa9", 2 },
	{ "/notes/\xff", ROUTER_BAD_PARAM, NULL, 0 },
};

START_TEST(test_param_decode)
{
	const struct param_case	*c = &param_cases[_i];
	enum router_result	 r;

	r = match(HTTP_GET, c->path);
	ck_assert_msg((int)r == c->result, "%s: %d", c->path, r);
	/* the route is known even when its parameter is refused */
	ck_assert_ptr_eq(mt.route, &r_get);
	if (c->value != NULL) {
		ck_assert_uint_eq(mt.params[0].len, c->len);
		ck_assert(memcmp(mt.params[0].value, c->value, c->len) == 0);
		ck_assert_int_eq(mt.params[0].value[c->len], '\0');
	}
}
END_TEST

START_TEST(test_param_buffer)
{
	static const char	 p[] = "/u/abc/defg";
	char			 small[16];
	size_t			 need = sizeof(p) - 1 + ROUTER_MAX_PARAMS;

	ck_assert_uint_ge(sizeof(buf), need);
	ck_assert_int_eq(router_match(rt, HTTP_PATCH, p, sizeof(p) - 1, &mt,
	    buf, need), ROUTER_FOUND);
	/* "abc\0defg\0" needs 9 bytes */
	ck_assert_int_eq(router_match(rt, HTTP_PATCH, p, sizeof(p) - 1, &mt,
	    small, 9), ROUTER_FOUND);
	ck_assert_str_eq(mt.params[1].value, "defg");
	ck_assert_int_eq(router_match(rt, HTTP_PATCH, p, sizeof(p) - 1, &mt,
	    small, 8), ROUTER_BAD_PARAM);
	ck_assert_int_eq(router_match(rt, HTTP_PATCH, p, sizeof(p) - 1, &mt,
	    small, 0), ROUTER_BAD_PARAM);
}
END_TEST

/* Exactly ROUTER_MAX_PARAMS parameters and ROUTER_MAX_SEGMENTS segments. */
START_TEST(test_limits)
{
	char		 t[2048], p[2048];
	struct router	*r = router_new();
	size_t		 i, tn = 0, pn = 0;

	for (i = 0; i < ROUTER_MAX_PARAMS; i++) {
		tn += (size_t)snprintf(t + tn, sizeof(t) - tn, "/{p%zu}", i);
		pn += (size_t)snprintf(p + pn, sizeof(p) - pn, "/v%zu", i);
	}
	for (; i < ROUTER_MAX_SEGMENTS; i++) {
		tn += (size_t)snprintf(t + tn, sizeof(t) - tn, "/l");
		pn += (size_t)snprintf(p + pn, sizeof(p) - pn, "/l");
	}
	ck_assert_int_eq(router_add(r, t, HTTP_GET, &r_x, NULL), 0);
	ck_assert_int_eq(router_match(r, HTTP_GET, p, pn, &mt, buf,
	    sizeof(buf)), ROUTER_FOUND);
	ck_assert_uint_eq(mt.nparams, ROUTER_MAX_PARAMS);
	ck_assert_str_eq(mt.params[15].name, "p15");
	ck_assert_str_eq(mt.params[15].value, "v15");
	/* one more segment: no template can be that deep */
	ck_assert_int_eq(router_match(r, HTTP_GET, p, pn + 2, &mt, buf,
	    sizeof(buf)), ROUTER_NOT_FOUND);
	memcpy(p + pn, "/l", 2);
	ck_assert_int_eq(router_match(r, HTTP_GET, p, pn + 2, &mt, buf,
	    sizeof(buf)), ROUTER_NOT_FOUND);
	memcpy(t + tn, "/l", 3);
	ck_assert_int_eq(router_add(r, t, HTTP_POST, &r_x, NULL), -1);
	ck_assert_ptr_nonnull(strstr(router_error(r), "too many segments"));
	tn = 0;
	for (i = 0; i <= ROUTER_MAX_PARAMS; i++)
		tn += (size_t)snprintf(t + tn, sizeof(t) - tn, "/{p%zu}", i);
	ck_assert_int_eq(router_add(r, t, HTTP_PUT, &r_x, NULL), -1);
	ck_assert_ptr_nonnull(strstr(router_error(r), "too many parameters"));
	memset(t, 'a', ROUTER_MAX_TEMPLATE + 1);
	t[0] = '/';
	t[ROUTER_MAX_TEMPLATE + 1] = '\0';
	ck_assert_int_eq(router_add(r, t, HTTP_PUT, &r_x, NULL), -1);
	t[ROUTER_MAX_TEMPLATE] = '\0';
	ck_assert_int_eq(router_add(r, t, HTTP_PUT, &r_x, NULL), 0);
	router_free(r);
}
END_TEST

static const char *const bad_templates[] = {
	"", "notes", "//", "/a//b", "/a//", "/./a", "/a/..", "/a/.", "/{}",
	"/{1a}", "/{a-b}", "/{a}x", "/x{a}", "/{a", "/a}", "/a%20", "/a b",
	"/a?b", "/a#b", "/a\"b", "/{a}/{a}", "/a/\xc3\xa9", "/a\\b",
	"/{aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa}",
};

START_TEST(test_bad_template)
{
	const char	*t = bad_templates[_i];

	ck_assert_msg(router_add(rt, t, HTTP_GET, &r_x, NULL) == -1, "%s", t);
	ck_assert_ptr_nonnull(strstr(router_error(rt), "path template"));
}
END_TEST

START_TEST(test_ties)
{
	ck_assert_int_eq(router_add(rt, "/notes/{other}", HTTP_GET, &r_x, NULL),
	    -1);
	ck_assert_ptr_nonnull(strstr(router_error(rt), "/notes/{other}"));
	ck_assert_ptr_nonnull(strstr(router_error(rt), "/notes/{id}"));
	ck_assert_ptr_nonnull(strstr(router_error(rt), "ties"));
	ck_assert_int_eq(router_add(rt, "/notes", HTTP_POST, &r_x, NULL), -1);
	ck_assert_int_eq(router_add(rt, "/", HTTP_GET, &r_x, NULL), -1);
	/* same shape, another method: fine; another shape: fine */
	ck_assert_int_eq(router_add(rt, "/notes/{z}", HTTP_PUT, &r_x, NULL), 0);
	ck_assert_int_eq(router_add(rt, "/notes/", HTTP_POST, &r_x, NULL), 0);
	ck_assert_int_eq(router_add(rt, "/{a}/{b}", HTTP_GET, &r_x, NULL), 0);
	ck_assert_int_eq(router_add(rt, "/{c}/{d}", HTTP_GET, &r_x, NULL), -1);
	ck_assert_int_eq(router_add(rt, "/notes", HTTP_TRACE, &r_x, NULL), -1);
	ck_assert_int_eq(router_add(rt, "/notes", HTTP_CONNECT, &r_x, NULL),
	    -1);
	/* the router still works after refused additions */
	ck_assert_int_eq(match(HTTP_GET, "/notes/1"), ROUTER_FOUND);
	ck_assert_ptr_eq(mt.route, &r_get);
	ck_assert_int_eq(match(HTTP_GET, "/x/y"), ROUTER_FOUND);
	ck_assert_str_eq(mt.params[1].name, "b");
}
END_TEST

/* Query pairs: "name=value" each, joined by ';' for comparison. */
static int
query(const char *q, char *out, size_t outsz)
{
	struct router_query	 it;
	struct router_qparam	 p;
	char			 qb[256];
	size_t			 n = 0;
	int			 r;

	out[0] = '\0';
	router_query_init(&it, q, q == NULL ? 0 : strlen(q));
	while ((r = router_query_next(&it, &p, qb, sizeof(qb))) == 1) {
		ck_assert_uint_eq(strlen(p.name), p.name_len);
		ck_assert_int_eq(p.value[p.value_len], '\0');
		n += (size_t)snprintf(out + n, outsz - n, "%s%s=%.*s",
		    n > 0 ? ";" : "", p.name, (int)p.value_len, p.value);
	}
	return r;
}

START_TEST(test_query)
{
	char	 out[512];

	ck_assert_int_eq(query("a=b&c", out, sizeof(out)), 0);
	ck_assert_str_eq(out, "a=b;c=");
	ck_assert_int_eq(query("a=1+2&b=%2B&c=%2F&d=b=c&e=", out,
	    sizeof(out)), 0);
	ck_assert_str_eq(out, "a=1+2;b=+;c=/;d=b=c;e=");
	ck_assert_int_eq(query("%61%62=%C3%A9", out, sizeof(out)), 0);
	ck_assert_str_eq(out, "ab=\xc3\xa9");
	ck_assert_int_eq(query("a=b&a=c", out, sizeof(out)), 0);
	ck_assert_str_eq(out, "a=b;a=c");
	ck_assert_int_eq(query("", out, sizeof(out)), 0);
	ck_assert_str_eq(out, "");
	ck_assert_int_eq(query(NULL, out, sizeof(out)), 0);
	ck_assert_int_eq(query("a=%zz", out, sizeof(out)), -1);
	ck_assert_int_eq(query("a=%4", out, sizeof(out)), -1);
	ck_assert_int_eq(query("a=%00", out, sizeof(out)), -1);
	ck_assert_int_eq(query("a=%7F", out, sizeof(out)), -1);
	ck_assert_int_eq(query("a=%ff", out, sizeof(out)), -1);
	ck_assert_int_eq(query("%0a=1", out, sizeof(out)), -1);
	ck_assert_int_eq(query("=b", out, sizeof(out)), -1);
	ck_assert_int_eq(query("a&&b", out, sizeof(out)), -1);
	ck_assert_int_eq(query("a&", out, sizeof(out)), -1);
	ck_assert_int_eq(query("&a", out, sizeof(out)), -1);
	ck_assert_int_eq(query("&", out, sizeof(out)), -1);
}
END_TEST

START_TEST(test_query_buffer)
{
	struct router_query	 it;
	struct router_qparam	 p;
	char			 qb[8];

	/* "ab\0cdef\0" is 8 bytes: fits; one byte more does not */
	router_query_init(&it, "ab=cdef&ab=cdefg", 16);
	ck_assert_int_eq(router_query_next(&it, &p, qb, sizeof(qb)), 1);
	ck_assert_str_eq(p.value, "cdef");
	ck_assert_int_eq(router_query_next(&it, &p, qb, sizeof(qb)), -1);
}
END_TEST

Suite *
unit_suite(void)
{
	Suite	*s = suite_create("router");
	TCase	*tc;

	tc = tcase_create("match");
	tcase_set_timeout(tc, UNIT_TIMEOUT);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_literal_and_param);
	tcase_add_test(tc, test_backtrack);
	tcase_add_test(tc, test_not_found);
	tcase_add_test(tc, test_method_allow);
	tcase_add_test(tc, test_allow_all);
	tcase_add_loop_test(tc, test_param_decode, 0,
	    (int)BW_ARRAY_LEN(param_cases));
	tcase_add_test(tc, test_param_buffer);
	tcase_add_test(tc, test_limits);
	tcase_add_loop_test(tc, test_bad_template, 0,
	    (int)BW_ARRAY_LEN(bad_templates));
	tcase_add_test(tc, test_ties);
	suite_add_tcase(s, tc);

	tc = tcase_create("query");
	tcase_set_timeout(tc, UNIT_TIMEOUT);
	tcase_add_test(tc, test_query);
	tcase_add_test(tc, test_query_buffer);
	suite_add_tcase(s, tc);
	return s;
}
