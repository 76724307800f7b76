/*
 * test_yaml.c - the strict YAML reader: every refusal of SPEC 4 at its
 * exact line:col, the tree it builds, and core-schema resolution.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "unit.h"

#include "node.h"
#include "util.h"
#include "yaml_strict.h"

static struct node *
load(const char *src, struct bw_diag *d)
{
	bw_diag_free(d);
	return yaml_load_buffer("t.yaml", src, strlen(src), d);
}

/* Exactly the given errors, in file order: {line, col, substring}. */
struct want {
	int		 line;
	int		 col;
	const char	*msg;
};

static void
expect(const char *src, size_t len, const struct want *w, size_t nw)
{
	struct bw_diag	 d = { 0 };
	struct node	*n;
	size_t		 i;

	n = yaml_load_buffer("t.yaml", src, len, &d);
	bw_diag_print(&d, stdout);
	ck_assert_uint_eq(d.errors, nw);
	for (i = 0; i < nw; i++) {
		ck_assert_str_eq(d.v[i].file, "t.yaml");
		ck_assert_int_eq(d.v[i].line, w[i].line);
		ck_assert_int_eq(d.v[i].col, w[i].col);
		ck_assert_msg(strstr(d.v[i].msg, w[i].msg) != NULL,
		    "'%s' lacks '%s'", d.v[i].msg, w[i].msg);
	}
	node_free(n);
	bw_diag_free(&d);
}

#define EXPECT1(src, l, c, m) do {					\
	const struct want w_[] = { { l, c, m } };			\
	expect(src, strlen(src), w_, 1);				\
} while (0)

START_TEST(tree_and_positions)
{
	struct bw_diag	 d = { 0 };
	struct node	*n, *v;

	n = load("a: 1\nb: [x, 'y']\nc: {d: null}\n\"e\": |\n  text\n", &d);
	ck_assert_ptr_nonnull(n);
	ck_assert_uint_eq(d.errors, 0);
	ck_assert_int_eq(n->kind, NODE_MAP);
	ck_assert_uint_eq(n->n, 4);
	v = node_get(n, "a");
	ck_assert_int_eq(v->style, NODE_PLAIN);
	ck_assert_str_eq(v->text, "1");
	ck_assert_int_eq(v->line, 1);
	ck_assert_int_eq(v->col, 4);
	v = node_get(n, "b");
	ck_assert_int_eq(v->kind, NODE_SEQ);
	ck_assert_uint_eq(v->n, 2);
	ck_assert_int_eq(v->vals[1]->style, NODE_STRING);
	ck_assert_int_eq(v->vals[1]->line, 2);
	ck_assert_int_eq(v->vals[1]->col, 8);
	v = node_get(node_get(n, "c"), "d");
	ck_assert(yaml_is_null(v));
	v = node_get(n, "e");
	ck_assert_int_eq(v->style, NODE_STRING);
	ck_assert_str_eq(v->text, "text\n");
	ck_assert_ptr_null(node_get(n, "zz"));
	ck_assert_ptr_null(node_get(v, "a"));
	node_free(n);
	bw_diag_free(&d);
}
END_TEST

START_TEST(empty_stream)
{
	struct bw_diag	 d = { 0 };
	struct node	*n;

	n = load("", &d);
	ck_assert_ptr_nonnull(n);
	ck_assert(yaml_is_null(n));
	ck_assert_int_eq(n->line, 1);
	node_free(n);
	n = load("# only a comment\n", &d);
	ck_assert(yaml_is_null(n));
	node_free(n);
	bw_diag_free(&d);
}
END_TEST

START_TEST(anchor_alias_tag)
{
	const struct want	w1[] = { { 1, 4, "anchors" }, { 2, 4, "aliases" } };
	const struct want	w2[] = { { 1, 4, "anchors" }, { 1, 7, "tags" } };
	const struct want	w3[] = { { 1, 4, "tags" }, { 1, 10, "anchors" } };

	EXPECT1("a: &x 1\n", 1, 4, "anchors are not allowed");
	EXPECT1("a: 1\nb: *x\n", 2, 4, "aliases are not allowed");
	expect("a: &x 1\nb: *x\n", 14, w1, 2);
	EXPECT1("a: !!str 1\n", 1, 4, "tags are not allowed");
	EXPECT1("a: ! 1\n", 1, 4, "tags are not allowed");
	EXPECT1("- !local {}\n", 1, 3, "tags are not allowed");
	expect("a: &x !!str 1\n", 14, w2, 2);
	expect("a: !!str &x 1\n", 14, w3, 2);
	EXPECT1("%TAG !e! tag:example.com,2000:\n---\na: 1\n", 1, 1,
	    "%TAG");
	/* Columns count code points, not bytes. */
	EXPECT1("\"\xc3\xa4\": &x 1\n", 1, 6, "anchors");
	EXPECT1("\xe2\x82\xac\xe2\x82\xac: [*x]\n", 1, 6, "aliases");
}
END_TEST

START_TEST(merge_key)
{
	struct bw_diag	 d = { 0 };
	struct node	*n;

	EXPECT1("a: 1\n<<: {b: 2}\n", 2, 1, "merge keys are not allowed");
	EXPECT1("x:\n  y: 1\n  << : {b: 2}\n", 3, 3, "merge keys");
	/* A quoted "<<" is an ordinary key. */
	n = load("\"<<\": 1\n", &d);
	ck_assert_uint_eq(d.errors, 0);
	ck_assert_ptr_nonnull(node_get(n, "<<"));
	node_free(n);
	bw_diag_free(&d);
}
END_TEST

START_TEST(documents)
{
	struct bw_diag	 d = { 0 };
	struct node	*n;

	EXPECT1("a: 1\n---\nb: 2\n", 2, 1, "several documents");
	EXPECT1("--- a\n--- b\n--- c\n", 2, 1, "several documents");
	n = load("---\na: 1\n...\n", &d);
	ck_assert_uint_eq(d.errors, 0);
	ck_assert_ptr_nonnull(node_get(n, "a"));
	node_free(n);
	n = load("%YAML 1.1\n---\na: 1\n", &d);
	ck_assert_uint_eq(d.errors, 0);
	node_free(n);
	bw_diag_free(&d);
}
END_TEST

START_TEST(depth)
{
	char		 buf[400];
	struct bw_diag	 d = { 0 };
	struct node	*n;
	size_t		 i;

	/* 64 nested collections are fine, the 65th is refused. */
	for (i = 0; i < YAML_MAX_DEPTH; i++) {
		buf[i] = '[';
		buf[2 * YAML_MAX_DEPTH - 1 - i] = ']';
	}
	buf[2 * YAML_MAX_DEPTH] = '\0';
	n = load(buf, &d);
	ck_assert_uint_eq(d.errors, 0);
	ck_assert_ptr_nonnull(n);
	node_free(n);
	bw_diag_free(&d);
	for (i = 0; i <= YAML_MAX_DEPTH; i++) {
		buf[i] = '[';
		buf[2 * YAML_MAX_DEPTH + 1 - i] = ']';
	}
	buf[2 * YAML_MAX_DEPTH + 2] = '\0';
	EXPECT1(buf, 1, 65, "nesting deeper than 64");
	/* Deeper still: one error, and what follows is still checked. */
	memset(buf, '[', 100);
	memset(buf + 100, ']', 100);
	snprintf(buf + 200, sizeof(buf) - 200, "\n");
	{
		char		 src[300];
		/* The root mapping is level 1: the 64th '[' is level 65. */
		const struct want w[] = { { 2, 67, "nesting" },
		    { 3, 1, "duplicate key 'a'" } };

		snprintf(src, sizeof(src), "a: 1\nb: %.200s\na: 2\n", buf);
		expect(src, strlen(src), w, 2);
	}
}
END_TEST

START_TEST(nonscalar_keys)
{
	struct bw_diag	 d = { 0 };
	struct node	*n;

	EXPECT1("? [a]\n: 1\n", 1, 3, "mapping keys must be scalars");
	EXPECT1("{[a]: 1, b: 2}\n", 1, 2, "mapping keys must be scalars");
	EXPECT1("? {x: 1}\n: 1\nb: 2\n", 1, 3, "keys must be scalars");
	/* The refused pair is left out; the rest stays. */
	n = load("? [a]\n: 1\nb: 2\n", &d);
	ck_assert_ptr_nonnull(n);
	ck_assert_uint_eq(n->n, 1);
	ck_assert_ptr_nonnull(node_get(n, "b"));
	node_free(n);
	bw_diag_free(&d);
}
END_TEST

START_TEST(duplicate_keys)
{
	struct bw_diag	 d = { 0 };
	struct node	*n;
	const struct want w[] = { { 3, 1, "duplicate key 'a' (first at 1:1)" },
	    { 4, 1, "duplicate key 'a' (first at 1:1)" },
	    { 6, 5, "duplicate key 'y' (first at 5:5)" } };

	EXPECT1("a: 1\nb: 2\na: 3\n", 3, 1, "duplicate key 'a' (first at 1:1)");
	EXPECT1("a: 1\n\"a\": 2\n", 2, 1, "duplicate key 'a'");
	EXPECT1("{x: 1, y: 2, x: 3}\n", 1, 14, "duplicate key 'x'");
	expect("a: 1\nb: 2\na: 3\na: 4\nc: {y: 1,\n    y: 2}\n", 39, w, 3);
	n = load("a: 1\nb: 2\na: 3\n", &d);
	ck_assert_uint_eq(n->n, 2);
	ck_assert_str_eq(node_get(n, "a")->text, "1");
	node_free(n);
	/* Keys that differ only after a NUL are different keys. */
	n = load("\"a\\0b\": 1\n\"a\\0c\": 2\n", &d);
	ck_assert_uint_eq(d.errors, 0);
	ck_assert_uint_eq(n->n, 2);
	node_free(n);
	bw_diag_free(&d);
}
END_TEST

START_TEST(too_big)
{
	struct bw_diag	 d = { 0 };
	struct node	*n;
	char		*buf, path[] = "/tmp/test_yaml.XXXXXX";
	int		 fd;

	buf = malloc(YAML_MAX_SIZE + 1);
	ck_assert_ptr_nonnull(buf);
	memset(buf, '#', YAML_MAX_SIZE + 1);
	buf[0] = 'a';
	buf[1] = ':';
	buf[2] = ' ';
	buf[3] = '1';
	buf[4] = '\n';
	n = yaml_load_buffer("t.yaml", buf, YAML_MAX_SIZE + 1, &d);
	ck_assert_ptr_null(n);
	ck_assert_uint_eq(d.errors, 1);
	ck_assert_int_eq(d.v[0].line, 1);
	ck_assert_int_eq(d.v[0].col, 1);
	ck_assert_ptr_nonnull(strstr(d.v[0].msg, "larger than"));
	bw_diag_free(&d);
	/* Exactly the limit is fine. */
	n = yaml_load_buffer("t.yaml", buf, YAML_MAX_SIZE, &d);
	ck_assert_ptr_nonnull(n);
	ck_assert_uint_eq(d.errors, 0);
	node_free(n);
	/* And from a file. */
	fd = mkstemp(path);
	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(write(fd, buf, YAML_MAX_SIZE + 1),
	    YAML_MAX_SIZE + 1);
	close(fd);
	n = yaml_load(path, &d);
	ck_assert_ptr_null(n);
	ck_assert_uint_eq(d.errors, 1);
	ck_assert_str_eq(d.v[0].file, path);
	ck_assert_int_eq(d.v[0].line, 1);
	ck_assert_int_eq(d.v[0].col, 1);
	bw_diag_free(&d);
	unlink(path);
	free(buf);
	n = yaml_load("/nonexistent/bulwark.yaml", &d);
	ck_assert_ptr_null(n);
	ck_assert_uint_eq(d.errors, 1);
	ck_assert_int_eq(d.v[0].line, 1);
	ck_assert_ptr_nonnull(strstr(d.v[0].msg, "cannot open"));
	bw_diag_free(&d);
	n = yaml_load("/tmp", &d);
	ck_assert_ptr_null(n);
	ck_assert_ptr_nonnull(strstr(d.v[0].msg, "not a regular file"));
	bw_diag_free(&d);
}
END_TEST

START_TEST(utf8)
{
	static const struct {
		const char	*src;
		int		 line, col;
	} bad[] = {
		{ "a: b\nc: \xc3\x28\n", 2, 4 },	/* bad continuation */
		{ "a: \xc0\xaf\n", 1, 4 },		/* overlong */
		{ "a: \xed\xa0\x80\n", 1, 4 },		/* surrogate */
		{ "a: \xf4\x90\x80\x80\n", 1, 4 },	/* > U+10FFFF */
		{ "\xc3\xa4\xc3\xa4: \xe2\x82\n", 1, 5 },/* truncated */
		{ "\xff\xfe" "a\0:\0", 1, 1 },		/* UTF-16 BOM */
		{ "a: 1\r\nb: 2\rc: \x80", 3, 4 },	/* CR LF, CR */
	};
	size_t	i;

	for (i = 0; i < BW_ARRAY_LEN(bad); i++) {
		const struct want w[] = { { bad[i].line, bad[i].col,
		    "invalid UTF-8" } };

		expect(bad[i].src, strlen(bad[i].src), w, 1);
	}
}
END_TEST

START_TEST(syntax_errors)
{
	struct bw_diag	 d = { 0 };
	struct node	*n;

	EXPECT1("a: [b\n", 2, 1, "syntax error");
	EXPECT1("a: b\n c: d\n", 2, 3, "syntax error");
	EXPECT1("a: \"x\x01\"\n", 1, 6, "control characters");
	EXPECT1("a:\tb: c\n", 1, 5, "syntax error");
	/* A NUL byte is a control character. */
	{
		const struct want w[] = { { 1, 4, "control characters" } };

		expect("a: \0", 4, w, 1);
	}
	/* Properties before the syntax error are reported too. */
	{
		const struct want w[] = { { 1, 4, "anchors" },
		    { 3, 1, "syntax error" } };

		expect("a: &x 1\nb: 2\n]\n", 15, w, 2);
	}
	n = load("a: [b\n", &d);
	ck_assert_ptr_null(n);
	bw_diag_free(&d);
}
END_TEST

START_TEST(all_errors_collected)
{
	const struct want	w[] = { { 1, 4, "anchors" }, { 2, 4, "tags" },
	    { 4, 1, "duplicate key 'c'" }, { 5, 1, "merge keys" } };
	const char		*src = "a: &x 1\nb: !t 2\nc: 3\nc: 4\n<<: {}\n";

	expect(src, strlen(src), w, 4);
}
END_TEST

START_TEST(bom)
{
	struct bw_diag	 d = { 0 };
	struct node	*n;

	n = load("\xef\xbb\xbf" "a: 1\n", &d);
	ck_assert_ptr_nonnull(n);
	ck_assert_uint_eq(d.errors, 0);
	/* libyaml counts the BOM as the first code point of line 1. */
	ck_assert_int_eq(node_get(n, "a")->col, 5);
	node_free(n);
	bw_diag_free(&d);
	EXPECT1("\xef\xbb\xbf" "a: &x 1\n", 1, 5, "anchors");
	EXPECT1("\xef\xbb\xbf" "a: \xc3\n", 1, 5, "invalid UTF-8");
}
END_TEST

/* A BOM does not shift the indentation of line 1 against the next lines. */
START_TEST(bom_block_mapping)
{
	struct bw_diag	 d = { 0 };
	struct node	*n;

	n = load("\xef\xbb\xbf" "a: 1\nb:\n  c: 2\n", &d);
	bw_diag_print(&d, stdout);
	ck_assert_ptr_nonnull(n);
	ck_assert_uint_eq(d.errors, 0);
	ck_assert_int_eq(node_get(n, "b")->line, 3);
	ck_assert_int_eq(node_get(n, "b")->col, 3);
	ck_assert_int_eq(node_get(node_get(n, "b"), "c")->col, 6);
	node_free(n);
	bw_diag_free(&d);
	EXPECT1("\xef\xbb\xbf" "a: 1\nb:\n  c: &x 2\n", 3, 6, "anchors");
	EXPECT1("\xef\xbb\xbf" "a: 1\nb:\n  c: 2\n  c: 3\n", 4, 3,
	    "duplicate key");
}
END_TEST

static struct node *
scalar(const char *text, enum node_style style)
{
	static struct node	n;

	memset(&n, 0, sizeof(n));
	n.kind = NODE_SCALAR;
	n.style = style;
	n.text = (char *)text;
	n.len = strlen(text);
	return &n;
}

START_TEST(core_schema)
{
	bool	 b;
	int64_t	 v;

	ck_assert_int_eq(yaml_get_bool(scalar("true", NODE_PLAIN), &b), 0);
	ck_assert(b);
	ck_assert_int_eq(yaml_get_bool(scalar("false", NODE_PLAIN), &b), 0);
	ck_assert(!b);
	ck_assert_int_eq(yaml_get_bool(scalar("true", NODE_STRING), &b), -1);
	ck_assert_int_eq(yaml_get_bool(scalar("True", NODE_PLAIN), &b), -1);
	ck_assert_int_eq(yaml_get_bool(scalar("yes", NODE_PLAIN), &b), -1);
	ck_assert_int_eq(yaml_get_bool(scalar("on", NODE_PLAIN), &b), -1);
	ck_assert(yaml_is_null(scalar("null", NODE_PLAIN)));
	ck_assert(yaml_is_null(scalar("~", NODE_PLAIN)));
	ck_assert(yaml_is_null(scalar("", NODE_PLAIN)));
	ck_assert(!yaml_is_null(scalar("Null", NODE_PLAIN)));
	ck_assert(!yaml_is_null(scalar("NULL", NODE_PLAIN)));
	ck_assert(!yaml_is_null(scalar("null", NODE_STRING)));
	ck_assert(!yaml_is_null(scalar("", NODE_STRING)));
	ck_assert_int_eq(yaml_get_int(scalar("0", NODE_PLAIN), &v), 0);
	ck_assert_int_eq(v, 0);
	ck_assert_int_eq(yaml_get_int(scalar("-12", NODE_PLAIN), &v), 0);
	ck_assert_int_eq(v, -12);
	ck_assert_int_eq(yaml_get_int(scalar("9223372036854775807",
	    NODE_PLAIN), &v), 0);
	ck_assert(v == INT64_MAX);
	ck_assert_int_eq(yaml_get_int(scalar("-9223372036854775808",
	    NODE_PLAIN), &v), 0);
	ck_assert(v == INT64_MIN);
	ck_assert_int_eq(yaml_get_int(scalar("9223372036854775808",
	    NODE_PLAIN), &v), -1);
	ck_assert_int_eq(yaml_get_int(scalar("010", NODE_PLAIN), &v), -1);
	ck_assert_int_eq(yaml_get_int(scalar("+1", NODE_PLAIN), &v), -1);
	ck_assert_int_eq(yaml_get_int(scalar("0x10", NODE_PLAIN), &v), -1);
	ck_assert_int_eq(yaml_get_int(scalar("1e3", NODE_PLAIN), &v), -1);
	ck_assert_int_eq(yaml_get_int(scalar("1_000", NODE_PLAIN), &v), -1);
	ck_assert_int_eq(yaml_get_int(scalar("12", NODE_STRING), &v), -1);
	ck_assert_int_eq(yaml_get_int(scalar("-", NODE_PLAIN), &v), -1);
	ck_assert(yaml_is_string(scalar("12", NODE_STRING)));
	ck_assert(yaml_is_string(scalar("yes", NODE_PLAIN)));
	ck_assert(yaml_is_string(scalar("1.5", NODE_PLAIN)));
	ck_assert(!yaml_is_string(scalar("12", NODE_PLAIN)));
	ck_assert(!yaml_is_string(scalar("~", NODE_PLAIN)));
	ck_assert_str_eq(yaml_type_name(scalar("12", NODE_PLAIN)), "integer");
	ck_assert_str_eq(yaml_type_name(scalar("false", NODE_PLAIN)),
	    "boolean");
	ck_assert_str_eq(yaml_type_name(scalar("x", NODE_PLAIN)), "string");
	ck_assert_str_eq(yaml_type_name(scalar("~", NODE_PLAIN)), "null");
}
END_TEST

START_TEST(excerpt)
{
	char	buf[128];

	yaml_excerpt("a\x1b[31m'\\", 8, buf, sizeof(buf));
	ck_assert_str_eq(buf, "a?[31m??");
	yaml_excerpt("0123456789012345678901234567890123456789012345", 46,
	    buf, sizeof(buf));
	ck_assert_str_eq(buf, "0123456789012345678901234567890123456789...");
	yaml_excerpt("abc", 3, buf, 4);
	ck_assert_uint_le(strlen(buf), 3);
}
END_TEST

Suite *
unit_suite(void)
{
	Suite	*s = suite_create("yaml");
	TCase	*tc = tcase_create("yaml");

	tcase_set_timeout(tc, UNIT_TIMEOUT);
	tcase_add_test(tc, tree_and_positions);
	tcase_add_test(tc, empty_stream);
	tcase_add_test(tc, anchor_alias_tag);
	tcase_add_test(tc, merge_key);
	tcase_add_test(tc, documents);
	tcase_add_test(tc, depth);
	tcase_add_test(tc, nonscalar_keys);
	tcase_add_test(tc, duplicate_keys);
	tcase_add_test(tc, too_big);
	tcase_add_test(tc, utf8);
	tcase_add_test(tc, syntax_errors);
	tcase_add_test(tc, all_errors_collected);
	tcase_add_test(tc, bom);
	tcase_add_test(tc, bom_block_mapping);
	tcase_add_test(tc, core_schema);
	tcase_add_test(tc, excerpt);
	suite_add_tcase(s, tc);
	return s;
}
