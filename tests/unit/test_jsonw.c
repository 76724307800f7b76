/*
 * test_jsonw.c - the one JSON string writer: every escaped class, every
 * class of ill-formed UTF-8, truncation at each code point length, the
 * fixed-buffer bound, a buffer that cannot grow, and that hostile strings
 * load back as the same string through the project's JSON reader and
 * through libyaml (the -T dump is YAML).
 */
#include <stdint.h>
#include <string.h>

#include <event2/buffer.h>
#include <yaml.h>

#include "json.h"
#include "jsonw.h"
#include "util.h"
#include "unit.h"

static char *
take(struct evbuffer *b, size_t *lenp)
{
	size_t	 n = evbuffer_get_length(b);
	char	*s = bw_malloc(n + 1);

	ck_assert_int_eq(evbuffer_remove(b, s, n), (int)n);
	s[n] = '\0';
	if (lenp != NULL)
		*lenp = n;
	return s;
}

/* jsonw_str(s, len, max) must write exactly want (a C string). */
static void
expect(const char *s, size_t len, size_t max, const char *want)
{
	struct evbuffer	*b = evbuffer_new();
	char		*got;

	ck_assert_int_eq(jsonw_str(b, s, len, max), 0);
	got = take(b, NULL);
	ck_assert_str_eq(got, want);
	free(got);
	evbuffer_free(b);
}

#define EXPECT(lit, want)	expect(lit, sizeof(lit) - 1, SIZE_MAX, want)

START_TEST(test_ascii)
{
	static const char *shorts[] = {
		['\b'] = "\"\\b\"", ['\t'] = "\"\\t\"", ['\n'] = "\"\\n\"",
		['\f'] = "\"\\f\"", ['\r'] = "\"\\r\"",
	};
	char	 in[1], want[16];
	int	 c;

	for (c = 0; c < 0x80; c++) {
		in[0] = (char)c;
		if ((size_t)c < BW_ARRAY_LEN(shorts) && shorts[c] != NULL)
			snprintf(want, sizeof(want), "%s", shorts[c]);
		else if (c < 0x20 || c == 0x7f)
			snprintf(want, sizeof(want), "\"\\u%04x\"", c);
		else if (c == '"' || c == '\\')
			snprintf(want, sizeof(want), "\"\\%c\"", c);
		else
			snprintf(want, sizeof(want), "\"%c\"", c);
		expect(in, 1, SIZE_MAX, want);
	}
	EXPECT("", "\"\"");
	EXPECT("a\"b\\c/d", "\"a\\\"b\\\\c/d\"");
	/* NUL is data, not an end. */
	expect("a\0b", 3, SIZE_MAX, "\"a\\u0000b\"");
}
END_TEST

START_TEST(test_escaped_code_points)
{
	char	 in[4], want[16];
	int	 c;

	/* C1 controls U+0080-U+009F. */
	for (c = 0x80; c <= 0x9f; c++) {
		in[0] = (char)(0xc0 | c >> 6);
		in[1] = (char)(0x80 | (c & 0x3f));
		snprintf(want, sizeof(want), "\"\\u%04x\"", c);
		expect(in, 2, SIZE_MAX, want);
	}
	EXPECT("\xe2\x80\xa8", "\"\\u2028\"");
	EXPECT("\xe2\x80\xa9", "\"\\u2029\"");
	EXPECT("\xef\xbb\xbf", "\"\\ufeff\"");
	EXPECT("\xef\xbf\xbe", "\"\\ufffe\"");
	EXPECT("\xef\xbf\xbf", "\"\\uffff\"");
	/* Their neighbours are copied. */
	EXPECT("\xc2\xa0", "\"\xc2\xa0\"");
	EXPECT("\xc3\xa9", "\"\xc3\xa9\"");
	EXPECT("\xe2\x80\xa7\xe2\x80\xaa", "\"\xe2\x80\xa7\xe2\x80\xaa\"");
	EXPECT("\xef\xbb\xbe\xef\xbf\xbd", "\"\xef\xbb\xbe\xef\xbf\xbd\"");
	EXPECT("\xf0\x90\x80\x80\xf4\x8f\xbf\xbf",
	    "\"\xf0\x90\x80\x80\xf4\x8f\xbf\xbf\"");
	EXPECT("\xed\x9f\xbf\xee\x80\x80", "\"\xed\x9f\xbf\xee\x80\x80\"");
}
END_TEST

#define FFFD	"\xef\xbf\xbd"

START_TEST(test_invalid_utf8)
{
	/* Stray continuation bytes. */
	EXPECT("\x80", "\"" FFFD "\"");
	EXPECT("a\xbf" "b", "\"a" FFFD "b\"");
	/* Bytes that never start a sequence. */
	EXPECT("\xc0\xc1\xf5\xff", "\"" FFFD FFFD FFFD FFFD "\"");
	/* Overlongs of each length. */
	EXPECT("\xc0\xaf", "\"" FFFD FFFD "\"");
	EXPECT("\xc1\xbf", "\"" FFFD FFFD "\"");
	EXPECT("\xe0\x80\xaf", "\"" FFFD FFFD FFFD "\"");
	EXPECT("\xe0\x9f\xbf", "\"" FFFD FFFD FFFD "\"");
	EXPECT("\xf0\x8f\xbf\xbf", "\"" FFFD FFFD FFFD FFFD "\"");
	/* Surrogates. */
	EXPECT("\xed\xa0\x80", "\"" FFFD FFFD FFFD "\"");
	EXPECT("\xed\xbf\xbf", "\"" FFFD FFFD FFFD "\"");
	/* Above U+10FFFF. */
	EXPECT("\xf4\x90\x80\x80", "\"" FFFD FFFD FFFD FFFD "\"");
	/* Truncated sequences, at the end and before other text. */
	EXPECT("\xe2\x82", "\"" FFFD FFFD "\"");
	EXPECT("\xf0\x9f\x98", "\"" FFFD FFFD FFFD "\"");
	EXPECT("\xe2\x82" "a\xc3", "\"" FFFD FFFD "a" FFFD "\"");
	EXPECT("\xf0\x9f\x98\"", "\"" FFFD FFFD FFFD "\\\"\"");
	/* A good sequence right after a bad byte survives. */
	EXPECT("\xc3\xc3\xa9", "\"" FFFD "\xc3\xa9\"");
}
END_TEST

/* Each code point length, cut at every byte inside it. */
START_TEST(test_truncation)
{
	static const struct {
		const char	*cp;
		const char	*out;
	} t[] = {
		{ "b", "b" },
		{ "\n", "\\n" },
		{ "\xc3\xa9", "\xc3\xa9" },
		{ "\xc2\x85", "\\u0085" },
		{ "\xe2\x82\xac", "\xe2\x82\xac" },
		{ "\xe2\x80\xa8", "\\u2028" },
		{ "\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80" },
	};
	char	 in[8], want[32];
	size_t	 i, n, max;

	for (i = 0; i < BW_ARRAY_LEN(t); i++) {
		n = strlen(t[i].cp);
		in[0] = 'a';
		memcpy(in + 1, t[i].cp, n);
		in[n + 1] = 'z';
		for (max = 0; max <= n + 2; max++) {
			if (max == 0)
				snprintf(want, sizeof(want), "\"\"");
			else if (max <= n)
				snprintf(want, sizeof(want), "\"a\"");
			else if (max == n + 1)
				snprintf(want, sizeof(want), "\"a%s\"",
				    t[i].out);
			else
				snprintf(want, sizeof(want), "\"a%sz\"",
				    t[i].out);
			expect(in, n + 2, max, want);
			ck_assert_uint_eq(jsonw_cut(in, n + 2, max),
			    max == 0 ? 0 : max <= n ? 1 : max);
		}
	}
	/* An ill-formed byte is a unit of its own. */
	expect("a\x80\x80", 3, 2, "\"a" FFFD "\"");
	expect("a\xe2\x82", 3, 2, "\"a" FFFD "\"");
	ck_assert_uint_eq(jsonw_cut("a\xe2\x82", 3, 2), 2);
	ck_assert_uint_eq(jsonw_cut("abc", 3, 100), 3);
}
END_TEST

START_TEST(test_buffer)
{
	char	 buf[64];
	size_t	 off, i;

	/* Exact fit: quotes, text and the NUL. */
	memset(buf, 'X', sizeof(buf));
	off = 0;
	ck_assert_int_eq(jsonw_str_buf(buf, 6, &off, "abc", 3, SIZE_MAX), 0);
	ck_assert_uint_eq(off, 5);
	ck_assert_str_eq(buf, "\"abc\"");
	/* One byte short: cut, still a closed string, nothing past bufsz. */
	memset(buf, 'X', sizeof(buf));
	off = 0;
	ck_assert_int_eq(jsonw_str_buf(buf, 5, &off, "abc", 3, SIZE_MAX), -1);
	ck_assert_str_eq(buf, "\"ab\"");
	ck_assert_int_eq(buf[5], 'X');
	/* An escape is never split by the bound. */
	for (i = 3; i < 12; i++) {
		memset(buf, 'X', sizeof(buf));
		off = 0;
		(void)jsonw_str_buf(buf, i, &off, "a\x01\xe2\x80\xa8", 5,
		    SIZE_MAX);
		ck_assert_uint_lt(off, i);
		ck_assert_int_eq(buf[i], 'X');
		ck_assert(strcmp(buf, "\"\"") == 0 ||
		    strcmp(buf, "\"a\"") == 0 ||
		    strcmp(buf, "\"a\\u0001\"") == 0 ||
		    strcmp(buf, "\"a\\u0001\\u2028\"") == 0);
	}
	/* Appends at *off; refuses when not even "" and a NUL fit. */
	memcpy(buf, "{\"k\":", 6);
	off = 5;
	ck_assert_int_eq(jsonw_str_buf(buf, sizeof(buf), &off, "v", 1, 1), 0);
	ck_assert_str_eq(buf, "{\"k\":\"v\"");
	off = 7;
	memset(buf, 'X', sizeof(buf));
	ck_assert_int_eq(jsonw_str_buf(buf, 9, &off, "v", 1, 1), -1);
	ck_assert_uint_eq(off, 7);
	ck_assert_int_eq(buf[7], 'X');
	off = 20;
	ck_assert_int_eq(jsonw_str_buf(buf, 9, &off, "v", 1, 1), -1);
	ck_assert_uint_eq(off, 20);
	/* max applies before the buffer. */
	off = 0;
	ck_assert_int_eq(jsonw_str_buf(buf, sizeof(buf), &off, "abcdef", 6,
	    2), 0);
	ck_assert_str_eq(buf, "\"ab\"");
}
END_TEST

/* The core stops before a unit that does not fit and says how far it got. */
START_TEST(test_escape_core)
{
	char	 dst[16];
	size_t	 used, n;

	n = jsonw_escape(dst, 7, "ab\"c", 4, &used);
	ck_assert_uint_eq(n, 5);
	ck_assert_uint_eq(used, 4);
	n = jsonw_escape(dst, 3, "ab\"c", 4, &used);
	ck_assert_uint_eq(n, 2);
	ck_assert_uint_eq(used, 2);
	n = jsonw_escape(dst, 5, "\x01", 1, &used);
	ck_assert_uint_eq(n, 0);
	ck_assert_uint_eq(used, 0);
	n = jsonw_escape(dst, 0, "a", 1, &used);
	ck_assert_uint_eq(n, 0);
	ck_assert_uint_eq(used, 0);
}
END_TEST

/* A buffer that cannot grow makes every writer return -1. */
START_TEST(test_frozen)
{
	struct evbuffer	*b = evbuffer_new();

	evbuffer_freeze(b, 0);
	ck_assert_int_eq(jsonw_str(b, "abc", 3, SIZE_MAX), -1);
	ck_assert_int_eq(jsonw_body(b, "abc", 3, SIZE_MAX), -1);
	ck_assert_int_eq(jsonw_body(b, "", 0, SIZE_MAX), 0);
	ck_assert_uint_eq(evbuffer_get_length(b), 0);
	evbuffer_free(b);
}
END_TEST

/* A tree from the JSON reader comes back as the same document. */
START_TEST(test_node)
{
	static const char	 doc[] = "{\"a\":[1,2.50,-0,true,false,null],"
	    "\"b\\n\":{\"c\":\"\\u2028\\u0000x\"},\"d\":[]}";
	struct evbuffer		*b = evbuffer_new();
	struct json_error	 err;
	struct node		*n;
	char			*got;

	n = json_parse(doc, sizeof(doc) - 1, 8, &err);
	ck_assert_ptr_nonnull(n);
	ck_assert_int_eq(jsonw_node(b, n, 8), 0);
	got = take(b, NULL);
	ck_assert_str_eq(got, doc);
	free(got);
	/* max_depth counts containers, as json_parse() does. */
	ck_assert_int_eq(jsonw_node(b, n, 2), 0);
	evbuffer_drain(b, evbuffer_get_length(b));
	ck_assert_int_eq(jsonw_node(b, n, 1), -1);
	evbuffer_drain(b, evbuffer_get_length(b));
	ck_assert_int_eq(jsonw_node(b, n->vals[0], 0), -1);
	ck_assert_int_eq(jsonw_node(b, n->vals[0]->vals[0], 0), 0);
	evbuffer_drain(b, evbuffer_get_length(b));
	/* A buffer that cannot grow. */
	evbuffer_freeze(b, 0);
	ck_assert_int_eq(jsonw_node(b, n, 8), -1);
	node_free(n);
	evbuffer_free(b);
}
END_TEST

/* The stdio writer: same bytes as the evbuffer one; a failed stream is -1. */
START_TEST(test_file)
{
	struct evbuffer	*b = evbuffer_new();
	char		*want, got[256], *big;
	FILE		*fp;
	size_t		 n;

	ck_assert_ptr_nonnull(fp = tmpfile());
	ck_assert_int_eq(jsonw_str_file(fp, "a\n\"\xc2\x85\xff", 6,
	    SIZE_MAX), 0);
	ck_assert_int_eq(jsonw_str(b, "a\n\"\xc2\x85\xff", 6, SIZE_MAX), 0);
	want = take(b, NULL);
	rewind(fp);
	n = fread(got, 1, sizeof(got) - 1, fp);
	got[n] = '\0';
	ck_assert_str_eq(got, want);
	free(want);
	fclose(fp);
	/* Longer than one chunk, and cut by max. */
	big = bw_malloc(3000);
	memset(big, '\n', 3000);
	ck_assert_ptr_nonnull(fp = tmpfile());
	ck_assert_int_eq(jsonw_str_file(fp, big, 3000, 2999), 0);
	ck_assert_int_eq(ftell(fp), 2 + 2 * 2999);
	fclose(fp);
	free(big);
	ck_assert_ptr_nonnull(fp = fopen("/dev/null", "r"));
	ck_assert_int_eq(jsonw_str_file(fp, "x", 1, SIZE_MAX), -1);
	fclose(fp);
	evbuffer_free(b);
}
END_TEST

/* Independent reference: ill-formed bytes become U+FFFD one by one. */
static char *
reference(const char *s, size_t len, size_t *outlen)
{
	const unsigned char	*p = (const unsigned char *)s;
	char			*o = bw_malloc(len * 3 + 1);
	size_t			 i = 0, k = 0, n;

	while (i < len) {
		n = p[i] < 0x80 ? 1 : p[i] < 0xe0 ? 2 : p[i] < 0xf0 ? 3 : 4;
		if (i + n <= len && bw_utf8_valid(s + i, n)) {
			memcpy(o + k, s + i, n);
			k += n;
			i += n;
		} else {
			memcpy(o + k, FFFD, 3);
			k += 3;
			i++;
		}
	}
	*outlen = k;
	return o;
}

static void
roundtrip_yaml(const char *doc, size_t doclen, const char *want,
    size_t wantlen)
{
	yaml_parser_t	 p;
	yaml_event_t	 ev;
	int		 found = 0;

	ck_assert(yaml_parser_initialize(&p));
	yaml_parser_set_input_string(&p, (const unsigned char *)doc, doclen);
	for (;;) {
		ck_assert_msg(yaml_parser_parse(&p, &ev), "libyaml: %s",
		    p.problem != NULL ? p.problem : "?");
		if (ev.type == YAML_SCALAR_EVENT) {
			ck_assert_uint_eq(ev.data.scalar.length, wantlen);
			ck_assert(memcmp(ev.data.scalar.value, want,
			    wantlen) == 0);
			ck_assert_int_eq(ev.data.scalar.style,
			    YAML_DOUBLE_QUOTED_SCALAR_STYLE);
			found++;
		}
		if (ev.type == YAML_STREAM_END_EVENT) {
			yaml_event_delete(&ev);
			break;
		}
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&p);
	ck_assert_int_eq(found, 1);
}

static void
roundtrip(const char *s, size_t len)
{
	struct evbuffer		*b = evbuffer_new();
	struct json_error	 err;
	struct node		*n;
	char			*doc, *want;
	size_t			 doclen, wantlen;

	ck_assert_int_eq(jsonw_str(b, s, len, SIZE_MAX), 0);
	doc = take(b, &doclen);
	ck_assert(bw_utf8_valid(doc, doclen));
	want = reference(s, len, &wantlen);
	n = json_parse(doc, doclen, 0, &err);
	ck_assert_msg(n != NULL, "json: %s", err.msg);
	ck_assert_uint_eq(n->len, wantlen);
	ck_assert(memcmp(n->text, want, wantlen) == 0);
	node_free(n);
	roundtrip_yaml(doc, doclen, want, wantlen);
	free(want);
	free(doc);
	evbuffer_free(b);
}

#define ROUNDTRIP(lit)	roundtrip(lit, sizeof(lit) - 1)

START_TEST(test_roundtrip)
{
	char	 all[256], *big;
	size_t	 i;
	int	 c;

	for (c = 0; c < 256; c++)
		all[c] = (char)c;
	roundtrip(all, sizeof(all));
	ROUNDTRIP("");
	ROUNDTRIP("plain");
	ROUNDTRIP("\"quoted\" \\ back\\slash / '");
	ROUNDTRIP("line\nbreak\r\n\ttab\x0b\x0c\b\x1b[31m");
	ROUNDTRIP("nul\0inside");
	ROUNDTRIP("\xc2\x80\xc2\x85\xc2\x9f\xc2\xa0");
	ROUNDTRIP("\xe2\x80\xa8\xe2\x80\xa9\xef\xbb\xbf"
	    "\xef\xbf\xbe\xef\xbf\xbf");
	ROUNDTRIP("\xef\xbb\xbf" "bom first");
	ROUNDTRIP("key: value\n- item\n# comment\n---\n...\n&a *a !tag");
	ROUNDTRIP("  leading and trailing spaces  ");
	ROUNDTRIP("\\u0041 not an escape \\n");
	ROUNDTRIP("\xc0\xaf\xe0\x80\xaf\xed\xa0\x80"
	    "\xf4\x90\x80\x80\xff\xe2\x82");
	ROUNDTRIP("\xf0\x9f\x98\x80 \xe6\x97\xa5\xe6\x9c\xac \xd7\xa9\xd7\x9c");
	ROUNDTRIP("\xf3\xa0\x80\x81 tag char, \xe2\x80\x8b zero width");
	/* Longer than one reservation of jsonw_body. */
	big = bw_malloc(5000);
	for (i = 0; i < 5000; i++)
		big[i] = "a\"\n\xc3\xa9\x85\xe2\x80\xa8"[i % 9];
	roundtrip(big, 5000);
	free(big);
}
END_TEST

START_TEST(body_as_problem_strings)
{
	struct evbuffer	*b = evbuffer_new();
	char		*s;

	ck_assert_int_eq(jsonw_body(b, "a\"b\\c\n\x7f\xc3\xa9", 9,
	    100), 0);
	s = take(b, NULL);
	ck_assert_str_eq(s, "a\\\"b\\\\c\\n\\u007f\xc3\xa9");
	free(s);
	/* Invalid UTF-8 (lone continuation, overlong, truncated) -> U+FFFD. */
	ck_assert_int_eq(jsonw_body(b, "\x80\xc0\xaf\xe2\x82", 5,
	    100), 0);
	s = take(b, NULL);
	ck_assert_str_eq(s, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
	    "\xef\xbf\xbd\xef\xbf\xbd");
	free(s);
	/* The bound (on input bytes) never splits a sequence. */
	ck_assert_int_eq(jsonw_body(b, "ab\n", 3, 2), 0);
	s = take(b, NULL);
	ck_assert_str_eq(s, "ab");
	free(s);
	ck_assert_int_eq(jsonw_body(b, "a\xc3\xa9", 3, 2), 0);
	s = take(b, NULL);
	ck_assert_str_eq(s, "a");
	free(s);
	evbuffer_free(b);
}
END_TEST

Suite *
unit_suite(void)
{
	Suite	*s = suite_create("jsonw");
	TCase	*tc = tcase_create("core");

	tcase_set_timeout(tc, UNIT_TIMEOUT);
	tcase_add_test(tc, test_ascii);
	tcase_add_test(tc, test_escaped_code_points);
	tcase_add_test(tc, test_invalid_utf8);
	tcase_add_test(tc, test_truncation);
	tcase_add_test(tc, test_buffer);
	tcase_add_test(tc, test_escape_core);
	tcase_add_test(tc, test_frozen);
	tcase_add_test(tc, test_node);
	tcase_add_test(tc, test_file);
	tcase_add_test(tc, test_roundtrip);
	tcase_add_test(tc, body_as_problem_strings);
	suite_add_tcase(s, tc);
	return s;
}
