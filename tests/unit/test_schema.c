/*
 * test_schema.c - schema compiler and validator: exact numbers, formats,
 * patterns, load errors with positions, the body-mode default, error
 * lists, parameters, YAML-shaped trees and every limit.
 */
#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "json.h"
#include "jsonnum.h"
#include "schema.h"
#include "util.h"

static struct node *
J(const char *s)
{
	struct json_error	 err;
	struct node		*n;

	n = json_parse(s, strlen(s), 64, &err);
	ck_assert_msg(n != NULL, "bad test JSON (%s): %s", err.msg, s);
	return n;
}

static const struct schema *
C(struct schema_set *set, const char *js, enum schema_mode mode,
    struct bw_diag *d)
{
	struct node		*n = J(js);
	const struct schema	*sc;

	sc = schema_compile(set, n, mode, "t.json", d);
	node_free(n);
	return sc;
}

static int
V(const struct schema *sc, const char *inst, struct schema_errors *e)
{
	struct node	*n = J(inst);
	int		 rc;

	rc = schema_validate(sc, n, 0, e);
	node_free(n);
	return rc;
}

/* Valid/invalid verdicts of one schema over several instances. */
static void
verdicts(const char *schema, enum schema_mode mode, const char *const *ok,
    const char *const *bad)
{
	struct schema_set	*set = schema_set_new();
	struct bw_diag		 d = { 0 };
	const struct schema	*sc;

	sc = C(set, schema, mode, &d);
	ck_assert_msg(sc != NULL, "%s: %s", schema, d.n ? d.v[0].msg : "");
	for (; ok != NULL && *ok != NULL; ok++)
		ck_assert_msg(V(sc, *ok, NULL) == 0, "%s rejects %s", schema,
		    *ok);
	for (; bad != NULL && *bad != NULL; bad++)
		ck_assert_msg(V(sc, *bad, NULL) == -1, "%s accepts %s", schema,
		    *bad);
	schema_set_free(set);
	bw_diag_free(&d);
}

/* The schema must fail to load with a message at line:col. */
static void
load_error(const char *schema, enum schema_mode mode, int line, int col,
    const char *what)
{
	struct schema_set	*set = schema_set_new();
	struct bw_diag		 d = { 0 };
	size_t			 i;
	bool			 found = false;

	ck_assert_msg(C(set, schema, mode, &d) == NULL, "loads: %s", schema);
	ck_assert_uint_gt(d.n, 0);
	for (i = 0; i < d.n; i++)
		if (d.v[i].line == line && d.v[i].col == col &&
		    strstr(d.v[i].msg, what) != NULL)
			found = true;
	ck_assert_msg(found, "%s: want %d:%d %s, got %d:%d %s", schema, line,
	    col, what, d.v[0].line, d.v[0].col, d.v[0].msg);
	ck_assert_str_eq(d.v[0].file, "t.json");
	schema_set_free(set);
	bw_diag_free(&d);
}

#define L(...)	((const char *const[]){ __VA_ARGS__, NULL })

START_TEST(num_exact)
{
	struct jnum	a, b;
	char		buf[32];

	ck_assert_int_eq(schema_number_cmp("1.0", 3, "1", 1), 0);
	ck_assert_int_eq(schema_number_cmp("100e-2", 6, "0.01e2", 6), 0);
	ck_assert_int_eq(schema_number_cmp("-0", 2, "0.0e7", 5), 0);
	ck_assert_int_lt(schema_number_cmp("0.1", 3, "0.10000000000000001",
	    19), 0);
	ck_assert_int_gt(schema_number_cmp("1e400", 5, "9e399", 5), 0);
	ck_assert_int_lt(schema_number_cmp("-1e400", 6, "-9e399", 6), 0);
	ck_assert_int_lt(schema_number_cmp("-5", 2, "3", 1), 0);
	ck_assert_int_gt(schema_number_cmp("1e-400", 6, "0", 1), 0);
	ck_assert_int_gt(schema_number_cmp("12345678901234567890123", 23,
	    "12345678901234567890122.999", 27), 0);

	ck_assert_int_eq(schema_canonical_integer("1.0", 3, buf, sizeof(buf)),
	    1);
	ck_assert_str_eq(buf, "1");
	ck_assert_int_eq(schema_canonical_integer("1e2", 3, buf, sizeof(buf)),
	    3);
	ck_assert_str_eq(buf, "100");
	schema_canonical_integer("-0.0", 4, buf, sizeof(buf));
	ck_assert_str_eq(buf, "0");
	schema_canonical_integer("-12.50e1", 8, buf, sizeof(buf));
	ck_assert_str_eq(buf, "-125");
	schema_canonical_integer("0.00120e4", 9, buf, sizeof(buf));
	ck_assert_str_eq(buf, "12");
	ck_assert_int_eq(schema_canonical_integer("9223372036854775807", 19,
	    buf, sizeof(buf)), 19);
	ck_assert_int_eq(schema_canonical_integer("-9223372036854775808", 20,
	    buf, sizeof(buf)), 20);
	ck_assert_str_eq(buf, "-9223372036854775808");
	ck_assert_int_eq(schema_canonical_integer("9223372036854775808", 19,
	    buf, sizeof(buf)), -1);
	ck_assert_int_eq(schema_canonical_integer("-9223372036854775809", 20,
	    buf, sizeof(buf)), -1);
	ck_assert_int_eq(schema_canonical_integer("1e19", 4, buf,
	    sizeof(buf)), -1);
	ck_assert_int_eq(schema_canonical_integer("1.5", 3, buf, sizeof(buf)),
	    -1);
	ck_assert_int_eq(schema_canonical_integer("100", 3, buf, 3), -1);
	ck_assert_int_eq(schema_canonical_integer("01", 2, buf, sizeof(buf)),
	    -1);

	/* multipleOf in exact decimal: 0.3 is a multiple of 0.1. */
	ck_assert_int_eq(jnum_parse(&a, "0.3", 3), 0);
	ck_assert_int_eq(jnum_parse(&b, "0.1", 3), 0);
	{
		uint64_t	dm;
		int64_t		em;

		ck_assert_int_eq(jnum_divisor(&b, &dm, &em), 0);
		ck_assert(jnum_multiple_of(&a, dm, em));
		jnum_parse(&a, "0.35", 4);
		ck_assert(!jnum_multiple_of(&a, dm, em));
		jnum_parse(&b, "7", 1);
		jnum_divisor(&b, &dm, &em);
		jnum_parse(&a, "7e1000000", 9);
		ck_assert(jnum_multiple_of(&a, dm, em));
		jnum_parse(&a, "1e1000000", 9);
		ck_assert(!jnum_multiple_of(&a, dm, em));
		jnum_parse(&a, "0", 1);
		ck_assert(jnum_multiple_of(&a, dm, em));
		jnum_parse(&b, "1234567890123456789", 19);
		ck_assert_int_eq(jnum_divisor(&b, &dm, &em), -1);
		jnum_parse(&b, "-2", 2);
		ck_assert_int_eq(jnum_divisor(&b, &dm, &em), -1);
	}
	ck_assert_int_eq(jnum_parse(&a, "1e99999999999999999999999", 25), 0);
	ck_assert_int_eq(a.e, JNUM_EXP_MAX);
	ck_assert_int_eq(jnum_parse(&a, "1.", 2), -1);
	ck_assert_int_eq(jnum_parse(&a, "", 0), -1);
}
END_TEST

START_TEST(num_keywords)
{
	verdicts("{\"multipleOf\": 0.1}", SCHEMA_STANDARD,
	    L("0.3", "-0.7", "1e300", "0", "12345678901234567890.1"),
	    L("0.35", "1e-2", "0.01"));
	verdicts("{\"type\":\"integer\",\"multipleOf\":0.123456789}",
	    SCHEMA_STANDARD, NULL, L("1e308"));
	verdicts("{\"type\":\"integer\",\"multipleOf\":1e-8}",
	    SCHEMA_STANDARD, L("12391239123"), NULL);
	verdicts("{\"minimum\": 1.1, \"maximum\": 3}", SCHEMA_STANDARD,
	    L("1.1", "1.10", "3", "3.0", "2e0", "\"string\""),
	    L("1.0999999999999999999999", "3.0000000000000000001", "-5"));
	verdicts("{\"exclusiveMinimum\": 0, \"exclusiveMaximum\": 1e1}",
	    SCHEMA_STANDARD, L("1e-300", "9.99999"), L("0", "-0.0", "10",
	    "1e1"));
	verdicts("{\"type\": \"integer\"}", SCHEMA_STANDARD,
	    L("1", "1.0", "-1e2", "9223372036854775807", "-0",
	    "-9223372036854775808", "0.5e1"),
	    L("1.5", "9223372036854775808", "1e19", "-9223372036854775809",
	    "\"1\"", "true", "null"));
	verdicts("{\"type\": \"number\"}", SCHEMA_STANDARD,
	    L("1", "1.5", "1e400", "-0"), L("\"1\"", "[]", "{}"));
}
END_TEST

START_TEST(canonical_binding)
{
	struct schema_set	*set = schema_set_new();
	const struct schema	*sc;
	struct node		*n;

	sc = C(set, "{\"properties\": {\"i\": {\"type\": \"integer\"}, "
	    "\"n\": {\"type\": \"number\"}}}", SCHEMA_STANDARD, NULL);
	ck_assert_ptr_nonnull(sc);
	n = J("{\"i\": 1.0e2, \"n\": 1.0e2}");
	ck_assert_int_eq(schema_validate(sc, n, 0, NULL), 0);
	ck_assert_str_eq(node_get(n, "i")->text, "1.0e2");
	ck_assert_int_eq(schema_validate(sc, n, SCHEMA_V_CANON, NULL), 0);
	ck_assert_str_eq(node_get(n, "i")->text, "100");
	ck_assert_uint_eq(node_get(n, "i")->len, 3);
	ck_assert_str_eq(node_get(n, "n")->text, "1.0e2");
	node_free(n);
	n = J("{\"i\": 7}");
	ck_assert_int_eq(schema_validate(sc, n, SCHEMA_V_CANON, NULL), 0);
	ck_assert_str_eq(node_get(n, "i")->text, "7");
	node_free(n);
	schema_set_free(set);
}
END_TEST

START_TEST(formats)
{
	verdicts("{\"format\": \"date\"}", SCHEMA_STANDARD,
	    L("\"2024-02-29\"", "\"2000-02-29\"", "\"1999-12-31\"", "7"),
	    L("\"2023-02-29\"", "\"1900-02-29\"", "\"2024-13-01\"",
	    "\"2024-00-10\"", "\"2024-04-31\"", "\"2024-1-01\"",
	    "\"2024-01-01T00:00:00Z\"", "\"\"", "\"2024-01-0\xd9\xa3\""));
	verdicts("{\"format\": \"date-time\"}", SCHEMA_STANDARD,
	    L("\"1963-06-19T08:30:06.283185Z\"", "\"1963-06-19t08:30:06z\"",
	    "\"1985-04-12T23:20:50.52+01:00\"", "\"1998-12-31T23:59:60Z\"",
	    "\"1998-12-31T15:59:60.123-08:00\"", "\"2000-01-01T00:00:00-00:00\""),
	    L("\"1990-02-31T15:59:59.123-08:00\"", "\"1998-12-31T22:59:60Z\"",
	    "\"1998-12-31T23:58:60Z\"", "\"1998-12-31T23:59:61Z\"",
	    "\"1990-12-31T15:59:59-24:00\"", "\"1963-06-19T08:30:06.Z\"",
	    "\"1963-06-19 08:30:06Z\"", "\"1963-06-19T08:30:06\"",
	    "\"1963-06-19T24:00:00Z\"", "\"1963-06-19T08:30:06+0100\"",
	    "\"2013-350T01:01:01\""));
	verdicts("{\"format\": \"email\"}", SCHEMA_STANDARD,
	    L("\"joe.bloggs@example.com\"", "\"te~st@example.com\"",
	    "\"a@b\"", "\"x+tag@sub-domain.example.org\""),
	    L("\"2962\"", "\".test@example.com\"", "\"test.@example.com\"",
	    "\"te..st@example.com\"", "\"\\\"joe\\\"@example.com\"",
	    "\"joe@[127.0.0.1]\"", "\"joe@-example.com\"",
	    "\"joe@example-.com\"", "\"joe@exa_mple.com\"", "\"@example.com\"",
	    "\"joe@\"", "\"joe@ex..com\"", "\"j\xc3\xb6@example.com\"",
	    "\"a@b@c\""));
	verdicts("{\"format\": \"uuid\"}", SCHEMA_STANDARD,
	    L("\"2EB8AA08-AA98-11EA-B4AA-73B441D16380\"",
	    "\"2eb8aa08-aa98-11ea-b4aa-73b441d16380\""),
	    L("\"2eb8aa08-aa98-11ea-b4aa-73b441d1638\"",
	    "\"2eb8aa08aa9811eab4aa73b441d16380\"",
	    "\"2eb8aa08-aa98-11ea-b4ga-73b441d16380\"",
	    "\"{2eb8aa08-aa98-11ea-b4aa-73b441d16380}\""));
	verdicts("{\"format\": \"ipv4\"}", SCHEMA_STANDARD,
	    L("\"192.168.0.1\"", "\"0.0.0.0\"", "\"255.255.255.255\""),
	    L("\"127.0.0.0.1\"", "\"256.256.256.256\"", "\"127.0\"",
	    "\"0x7f000001\"", "\"087.10.0.1\"", "\"1.2.3.4 \"",
	    "\"1.2.3.\xd9\xa3\"", "\"1..2.3\""));
	verdicts("{\"format\": \"ipv6\"}", SCHEMA_STANDARD,
	    L("\"::1\"", "\"::\"", "\"1::\"", "\"1:2:3:4:5:6:7:8\"",
	    "\"::ffff:192.168.0.1\"", "\"1:2:3:4:5:6:1.2.3.4\"",
	    "\"fe80::a:b:c\""),
	    L("\"12345::\"", "\"1:2:3:4:5:6:7:8:9\"", "\"1:2:3:4:5:6:7\"",
	    "\":1\"", "\"1:\"", "\":::\"", "\"1::2::3\"", "\"fe80::1%eth0\"",
	    "\"::ffff:192.168.0.256\"", "\"1:2:3:4:5:6:7:1.2.3.4\"",
	    "\"::g\"", "\"1:2:3:4:5:6:7:8::\""));
	verdicts("{\"format\": \"uri\"}", SCHEMA_STANDARD,
	    L("\"http://foo.bar/?baz=qux\"", "\"urn:isbn:0451450523\"",
	    "\"mailto:joe@example.com\"", "\"http://[2001:db8::7]/c=GB\"",
	    "\"ldap://[v1.fe:x]:389/\"", "\"http://u:p@h:8080/a%20b\"",
	    "\"tel:+1-816-555-1212\"", "\"file:///etc/hosts\""),
	    L("\"//foo.bar/?baz=qux#quux\"", "\"/abc\"", "\"abc\"",
	    "\"http://foo.bar/#frag\"", "\"http:// x\"", "\"1http://x\"",
	    "\"http://x/%zz\"", "\"http://[::1/\"", "\"http://h:8a/\"",
	    "\"http://\xc3\xa9.com/\"", "\"\"", "\"http://a@b@c/\"",
	    "\"http://x/a b\""));
	ck_assert(schema_format_check("ipv4", "1.2.3.4", 7));
	ck_assert(!schema_format_check("hostname", "x", 1));
}
END_TEST

START_TEST(patterns)
{
	struct schema_set	*set = schema_set_new();
	struct schema_errors	 e;
	const struct schema	*sc;
	char			*inst;
	size_t			 i;

	verdicts("{\"pattern\": \"^[a-z]+$\"}", SCHEMA_STANDARD,
	    L("\"abc\"", "1"), L("\"abc\\n\"", "\"Abc\"", "\"\""));
	verdicts("{\"pattern\": \"^\\\\d$\"}", SCHEMA_STANDARD, L("\"3\""),
	    L("\"\xd9\xa3\"", "\"33\""));
	verdicts("{\"pattern\": \"b\"}", SCHEMA_STANDARD, L("\"abc\""),
	    L("\"ac\""));
	verdicts("{\"pattern\": \"^\\\\u00e9\\\\w$\"}", SCHEMA_STANDARD,
	    L("\"\xc3\xa9x\""), L("\"\xc3\xa9\xc3\xa9\""));
	/* Catastrophic backtracking hits the match limit and fails. */
	sc = C(set, "{\"pattern\": \"^(a+)+$\"}", SCHEMA_STANDARD, NULL);
	ck_assert_ptr_nonnull(sc);
	inst = bw_malloc(64);
	inst[0] = '"';
	for (i = 1; i < 40; i++)
		inst[i] = 'a';
	memcpy(inst + 40, "b\"", 3);
	ck_assert_int_eq(V(sc, inst, &e), -1);
	ck_assert_uint_eq(e.n, 1);
	ck_assert_str_eq(e.v[0].message, "pattern match limit exceeded");
	free(inst);
	sc = C(set, "{\"patternProperties\": {\"^(a+)+$\": true},"
	    "\"additionalProperties\": false}", SCHEMA_STANDARD, NULL);
	ck_assert_int_eq(V(sc, "{\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab\":1}",
	    &e), -1);
	ck_assert_str_eq(e.v[0].message, "pattern match limit exceeded");
	schema_set_free(set);
	/* UCP can not be switched on from inside a pattern. */
	load_error("{\"pattern\": \"(*UCP)^\\\\d$\"}", SCHEMA_STANDARD, 1, 13,
	    "invalid pattern");
	load_error("{\"x\": 1,\n \"pattern\": \"a(\"}", SCHEMA_STANDARD, 2, 13,
	    "invalid pattern");
	load_error("{\"patternProperties\": {\"[\": {}}}", SCHEMA_STANDARD, 1,
	    24, "invalid pattern");
}
END_TEST

START_TEST(load_errors)
{
	load_error("{\"type\": \"string\",\n  \"maxlength\": 3}",
	    SCHEMA_STANDARD, 2, 3, "unsupported schema keyword \"maxlength\"");
	load_error("{\"properties\": {\"a\": {\"$id\": \"x\"}}}",
	    SCHEMA_STANDARD, 1, 23, "\"$id\"");
	load_error("{\"unevaluatedProperties\": false}", SCHEMA_STANDARD, 1,
	    2, "unsupported");
	/* Excerpts of schema text in messages are escaped by jsonw and cut. */
	load_error("{\"a\\n\\u2028\\u0085\\\"0123456789012345678901234567890123"
	    "456789\": 1}", SCHEMA_STANDARD, 1, 2, "unsupported schema keyword "
	    "\"a\\n\\u2028\\u0085\\\"01234567890123456789012345678901...\"");
	load_error("{\"format\": \"hostname\"}", SCHEMA_STANDARD, 1, 12,
	    "unsupported format");
	load_error("{\"format\": 5}", SCHEMA_STANDARD, 1, 12,
	    "unsupported format");
	load_error("{\"$ref\": \"#/$defs/missing\"}", SCHEMA_STANDARD, 1, 10,
	    "unresolvable $ref");
	load_error("{\"$ref\": \"http://example.com/x\"}", SCHEMA_STANDARD, 1,
	    10, "unresolvable $ref");
	load_error("{\"$ref\": \"#/properties/a\", \"properties\": {\"a\": {}}}",
	    SCHEMA_STANDARD, 1, 10, "unresolvable $ref");
	load_error("{\"$ref\": \"#/$defs\"}", SCHEMA_STANDARD, 1, 10,
	    "unresolvable");
	load_error("{\"$ref\": \"#/$defs/a~2\", \"$defs\": {\"a~\": {}}}",
	    SCHEMA_STANDARD, 1, 10, "unresolvable");
	load_error("{\"$ref\": 5}", SCHEMA_STANDARD, 1, 10, "must be a string");
	load_error("{\"$schema\": \"http://json-schema.org/draft-07/schema#\"}",
	    SCHEMA_STANDARD, 1, 13, "$schema must be");
	load_error("{\"minLength\": -1}", SCHEMA_STANDARD, 1, 15,
	    "non-negative integer");
	load_error("{\"maxItems\": 1.5}", SCHEMA_STANDARD, 1, 14,
	    "non-negative integer");
	load_error("{\"minProperties\": \"1\"}", SCHEMA_STANDARD, 1, 19,
	    "non-negative integer");
	load_error("{\"multipleOf\": 0}", SCHEMA_STANDARD, 1, 16,
	    "greater than 0");
	load_error("{\"multipleOf\": -2}", SCHEMA_STANDARD, 1, 16,
	    "greater than 0");
	load_error("{\"multipleOf\": 1234567890.123456789}", SCHEMA_STANDARD,
	    1, 16, "significant digits");
	load_error("{\"minimum\": \"1\"}", SCHEMA_STANDARD, 1, 13,
	    "must be a number");
	load_error("{\"type\": \"text\"}", SCHEMA_STANDARD, 1, 10,
	    "type must be one of");
	load_error("{\"type\": [\"string\", \"string\"]}", SCHEMA_STANDARD, 1,
	    21, "duplicate");
	load_error("{\"type\": []}", SCHEMA_STANDARD, 1, 10, "empty");
	load_error("{\"required\": [\"a\", \"a\"]}", SCHEMA_STANDARD, 1, 20,
	    "duplicate");
	load_error("{\"required\": \"a\"}", SCHEMA_STANDARD, 1, 14,
	    "array of strings");
	load_error("{\"required\": [1]}", SCHEMA_STANDARD, 1, 15, "strings");
	load_error("{\"allOf\": []}", SCHEMA_STANDARD, 1, 11, "non-empty");
	load_error("{\"anyOf\": {}}", SCHEMA_STANDARD, 1, 11, "non-empty");
	load_error("{\"prefixItems\": {}}", SCHEMA_STANDARD, 1, 17,
	    "non-empty");
	load_error("{\"items\": 1}", SCHEMA_STANDARD, 1, 11,
	    "object or a boolean");
	load_error("[]", SCHEMA_STANDARD, 1, 1, "object or a boolean");
	load_error("{\"properties\": []}", SCHEMA_STANDARD, 1, 16,
	    "must be an object");
	load_error("{\"enum\": 1}", SCHEMA_STANDARD, 1, 10, "array");
	load_error("{\"uniqueItems\": 1}", SCHEMA_STANDARD, 1, 17, "boolean");
	load_error("{\"title\": 1}", SCHEMA_STANDARD, 1, 11, "string");
	load_error("{\"readOnly\": \"yes\"}", SCHEMA_STANDARD, 1, 14,
	    "boolean");
	load_error("{\"examples\": 1}", SCHEMA_STANDARD, 1, 14, "array");
	load_error("{\"$defs\": 1}", SCHEMA_STANDARD, 1, 11, "object");
	load_error("{\"dependentRequired\": {\"a\": [\"b\", \"b\"]}}",
	    SCHEMA_STANDARD, 1, 35, "duplicate");
	load_error("{\"dependentSchemas\": []}", SCHEMA_STANDARD, 1, 22,
	    "object");
	load_error("{\"$comment\": {}}", SCHEMA_STANDARD, 1, 14, "string");
	load_error("{\"type\": \"object\"}", SCHEMA_PARAM, 1, 1,
	    "parameter schema");
	load_error("{\"type\": [\"string\", \"null\"]}", SCHEMA_PARAM, 1, 1,
	    "parameter schema");
}
END_TEST

START_TEST(load_accepts)
{
	struct schema_set	*set = schema_set_new();
	struct bw_diag		 d = { 0 };

	ck_assert_ptr_nonnull(C(set, "{\"$schema\": \"https://json-schema.org/"
	    "draft/2020-12/schema\", \"$comment\": \"c\", \"title\": \"t\", "
	    "\"description\": \"d\", \"default\": 1, \"examples\": [1], "
	    "\"deprecated\": false, \"readOnly\": true, \"writeOnly\": false,"
	    " \"minLength\": 2.0, \"maxItems\": 1e2, \"maxLength\": "
	    "99999999999999999999999}", SCHEMA_STANDARD, &d));
	ck_assert_ptr_nonnull(C(set, "true", SCHEMA_STANDARD, &d));
	ck_assert_ptr_nonnull(C(set, "{\"$ref\": \"#/$defs/a~1b/$defs/c%25\","
	    " \"$defs\": {\"a/b\": {\"$defs\": {\"c%\": {\"type\": \"string\"}}}}}",
	    SCHEMA_STANDARD, &d));
	ck_assert_uint_eq(d.n, 0);
	schema_set_free(set);
}
END_TEST

START_TEST(cycles)
{
	char	buf[8192];
	size_t	o = 0;
	int	i;

	/* Cycles through properties or items make progress. */
	verdicts("{\"$defs\": {\"node\": {\"type\": \"object\", \"properties\": "
	    "{\"v\": {\"type\": \"integer\"}, \"kids\": {\"items\": {\"$ref\": "
	    "\"#/$defs/node\"}}}}}, \"$ref\": \"#/$defs/node\"}",
	    SCHEMA_STANDARD, L("{\"v\": 1, \"kids\": [{\"v\": 2, \"kids\": []}]}"),
	    L("{\"v\": 1, \"kids\": [{\"v\": \"x\"}]}"));
	verdicts("{\"properties\": {\"x\": {\"$ref\": \"#\"}}, \"type\": "
	    "\"object\"}", SCHEMA_STANDARD, L("{\"x\": {\"x\": {}}}"),
	    L("{\"x\": {\"x\": 1}}"));
	load_error("{\"$ref\": \"#\"}", SCHEMA_STANDARD, 1, 10,
	    "cycle without progress");
	load_error("{\"$defs\": {\"a\": {\"$ref\": \"#/$defs/b\"}, \"b\": "
	    "{\"allOf\": [{\"$ref\": \"#/$defs/a\"}]}}, \"$ref\": \"#/$defs/a\"}",
	    SCHEMA_STANDARD, 1, 65, "cycle without progress");
	load_error("{\"$defs\": {\"a\": {\"not\": {\"$ref\": \"#/$defs/a\"}}}}",
	    SCHEMA_STANDARD, 1, 34, "cycle without progress");
	/* A chain longer than SCHEMA_NEST_MAX without progress. */
	o += (size_t)snprintf(buf + o, sizeof(buf) - o, "{\"$defs\": {");
	for (i = 0; i <= SCHEMA_NEST_MAX + 1; i++)
		o += (size_t)snprintf(buf + o, sizeof(buf) - o,
		    "%s\"d%d\": {\"$ref\": \"#/$defs/d%d\"}", i ? ", " : "", i,
		    i + 1);
	o += (size_t)snprintf(buf + o, sizeof(buf) - o,
	    ", \"d%d\": true}, \"$ref\": \"#/$defs/d0\"}", SCHEMA_NEST_MAX + 2);
	load_error(buf, SCHEMA_STANDARD, 1, 1, "nested subschemas");
	o = 0;
	o += (size_t)snprintf(buf + o, sizeof(buf) - o, "{\"$defs\": {");
	for (i = 0; i < SCHEMA_NEST_MAX - 2; i++)
		o += (size_t)snprintf(buf + o, sizeof(buf) - o,
		    "%s\"d%d\": {\"$ref\": \"#/$defs/d%d\"}", i ? ", " : "", i,
		    i + 1);
	o += (size_t)snprintf(buf + o, sizeof(buf) - o,
	    ", \"d%d\": {\"type\": \"string\"}}, \"$ref\": \"#/$defs/d0\"}",
	    SCHEMA_NEST_MAX - 2);
	verdicts(buf, SCHEMA_STANDARD, L("\"s\""), L("1"));
}
END_TEST

START_TEST(named)
{
	struct schema_set	*set = schema_set_new();
	struct bw_diag		 d = { 0 };
	const struct schema	*sc, *sc2;
	struct node		*n;

	n = J("{\"type\": \"object\", \"required\": [\"t\"], \"properties\": "
	    "{\"t\": {\"type\": \"string\"}, \"child\": {\"$ref\": \"Child\"}}}");
	ck_assert_int_eq(schema_add_named(set, "Parent", n, "p.yaml", &d), 0);
	ck_assert_int_eq(schema_add_named(set, "Parent", n, "p.yaml", &d), -1);
	node_free(n);
	ck_assert_uint_eq(d.n, 1);
	n = J("{\"properties\": {\"x\": {\"type\": \"integer\"}}}");
	ck_assert_int_eq(schema_add_named(set, "Child", n, "c.yaml", &d), 0);
	node_free(n);
	n = J("{\"properties\": {\"x\": {\"bogus\": 1}}}");
	ck_assert_int_eq(schema_add_named(set, "Broken", n, "b.yaml", &d), 0);
	node_free(n);
	ck_assert_int_eq(schema_set_check(set, &d), -1);
	ck_assert_uint_eq(d.n, 2);
	ck_assert_str_eq(d.v[1].file, "b.yaml");
	ck_assert_int_eq(d.v[1].col, 23);
	/* A broken schema fails every later use without a new report. */
	ck_assert_ptr_null(schema_named(set, "Broken", SCHEMA_STANDARD, &d));
	ck_assert_uint_eq(d.n, 2);
	ck_assert_ptr_null(schema_named(set, "Nope", SCHEMA_STANDARD, &d));
	ck_assert_uint_eq(d.n, 3);

	sc = schema_named(set, "Parent", SCHEMA_STANDARD, &d);
	ck_assert_ptr_nonnull(sc);
	ck_assert_int_eq(V(sc, "{\"t\": \"a\", \"child\": {\"x\": 1, \"y\": 2}, "
	    "\"extra\": 1}", NULL), 0);
	ck_assert_int_eq(V(sc, "{\"t\": \"a\", \"child\": {\"x\": \"1\"}}", NULL),
	    -1);
	/* Body mode closes objects through $ref too. */
	sc2 = schema_named(set, "Parent", SCHEMA_BODY, &d);
	ck_assert_ptr_nonnull(sc2);
	ck_assert_int_eq(V(sc2, "{\"t\": \"a\", \"child\": {\"x\": 1}}", NULL),
	    0);
	ck_assert_int_eq(V(sc2, "{\"t\": \"a\", \"child\": {\"x\": 1, \"y\": 2}}",
	    NULL), -1);
	ck_assert_int_eq(V(sc2, "{\"t\": \"a\", \"extra\": 1}", NULL), -1);
	/* A string names a schema; an unknown name is an error. */
	n = J("\"Child\"");
	ck_assert_ptr_nonnull(schema_compile(set, n, SCHEMA_BODY, "r.yaml",
	    &d));
	node_free(n);
	n = J("\"Missing\"");
	ck_assert_ptr_null(schema_compile(set, n, SCHEMA_BODY, "r.yaml", &d));
	node_free(n);
	ck_assert_str_eq(d.v[d.n - 1].file, "r.yaml");
	schema_set_free(set);
	bw_diag_free(&d);
}
END_TEST

START_TEST(body_mode)
{
	/* Implicit additionalProperties: false at any depth. */
	verdicts("{\"type\": \"object\", \"properties\": {\"a\": {\"type\": "
	    "\"object\", \"properties\": {\"b\": {}}}}}", SCHEMA_BODY,
	    L("{\"a\": {\"b\": 1}}", "{}", "{\"a\": {}}"),
	    L("{\"a\": {\"b\": 1, \"c\": 2}}", "{\"z\": 1}"));
	verdicts("{\"type\": \"object\", \"properties\": {\"a\": {\"type\": "
	    "\"object\", \"properties\": {\"b\": {}}}}}", SCHEMA_STANDARD,
	    L("{\"a\": {\"b\": 1, \"c\": 2}}", "{\"z\": 1}"), NULL);
	verdicts("{\"patternProperties\": {\"^x\": {}}}", SCHEMA_BODY,
	    L("{\"x1\": 1}"), L("{\"y\": 1}"));
	verdicts("{\"items\": {\"properties\": {\"a\": {}}}}", SCHEMA_BODY,
	    L("[{\"a\": 1}]"), L("[{\"a\": 1, \"b\": 2}]"));
	/* Explicit statements win. */
	verdicts("{\"properties\": {\"a\": {}}, \"additionalProperties\": "
	    "{\"type\": \"integer\"}}", SCHEMA_BODY, L("{\"a\": \"s\", \"b\": 1}"),
	    L("{\"b\": \"s\"}"));
	/*
	 * Next to a combinator whose member declares properties or
	 * patternProperties (or a $ref with siblings whose target does),
	 * additionalProperties must be stated.
	 */
	load_error("{\"properties\": {\"a\": {}},\n \"allOf\": [{\"properties\": "
	    "{\"a\": {\"type\": \"integer\"}}}]}", SCHEMA_BODY, 1, 1,
	    "next to allOf");
	load_error("{\"properties\": {\"n\": {\"anyOf\": [{\"type\": "
	    "\"string\"}, {\"patternProperties\": {\"^x\": {}}}]}}}",
	    SCHEMA_BODY, 1, 22, "next to anyOf");
	load_error("{\"$defs\": {\"x\": {\"properties\": {\"a\": {}}}}, \"$ref\": "
	    "\"#/$defs/x\", \"minProperties\": 1}", SCHEMA_BODY, 1, 1,
	    "next to $ref");
	load_error("{\"$defs\": {\"x\": {\"$ref\": \"#/$defs/y\"}, \"y\": "
	    "{\"properties\": {\"a\": {}}}}, \"$ref\": \"#/$defs/x\", "
	    "\"minProperties\": 1}", SCHEMA_BODY, 1, 1, "next to $ref");
	load_error("{\"not\": {\"properties\": {\"a\": {}}}}", SCHEMA_BODY, 1, 1,
	    "next to not");
	load_error("{\"if\": true, \"then\": {\"properties\": {}}}", SCHEMA_BODY,
	    1, 1, "next to then");
	load_error("{\"dependentSchemas\": {\"a\": {\"properties\": {\"b\": "
	    "{}}}}}", SCHEMA_BODY, 1, 1, "next to dependentSchemas");
	load_error("{\"oneOf\": [true, {\"properties\": {}}]}", SCHEMA_BODY, 1, 1,
	    "next to oneOf");
	/* Members that declare neither need nothing (SPEC 6, issue 11). */
	verdicts("{\"type\": \"object\", \"properties\": {\"v\": {\"anyOf\": "
	    "[{\"type\": \"string\"}, {\"type\": \"integer\", \"minimum\": "
	    "10}]}}}", SCHEMA_BODY, L("{\"v\": \"s\"}", "{\"v\": 10}", "{}"),
	    L("{\"v\": 9}", "{\"v\": 1.5}", "{\"v\": null}",
	    "{\"v\": \"s\", \"w\": 1}"));
	verdicts("{\"properties\": {\"a\": {}}, \"allOf\": [{\"required\": "
	    "[\"a\"]}]}", SCHEMA_BODY, L("{\"a\": 1}"),
	    L("{}", "{\"a\": 1, \"b\": 2}"));
	verdicts("{\"not\": {\"type\": \"null\"}}", SCHEMA_BODY, L("1"),
	    L("null"));
	verdicts("{\"if\": true, \"then\": true}", SCHEMA_BODY, L("1"), NULL);
	verdicts("{\"dependentSchemas\": {\"a\": {\"required\": [\"b\"]}}}",
	    SCHEMA_BODY, L("{\"a\": 1, \"b\": 2}", "{}"), L("{\"a\": 1}"));
	verdicts("{\"oneOf\": [true]}", SCHEMA_BODY, L("1"), NULL);
	verdicts("{\"$defs\": {\"x\": {\"type\": \"object\"}}, \"$ref\": "
	    "\"#/$defs/x\", \"minProperties\": 1}", SCHEMA_BODY,
	    L("{\"a\": 1}"), L("{}", "[1]"));
	/* ... and then direct members are not closed implicitly. */
	verdicts("{\"additionalProperties\": false, \"properties\": {\"a\": {},"
	    " \"b\": {}}, \"allOf\": [{\"properties\": {\"a\": {\"type\": "
	    "\"integer\"}}}]}", SCHEMA_BODY, L("{\"a\": 1, \"b\": 2}"),
	    L("{\"a\": \"x\"}", "{\"c\": 1}"));
	/* A $ref with only annotations beside it is not a combinator. */
	verdicts("{\"$defs\": {\"x\": {\"properties\": {\"a\": {}}}}, \"$ref\": "
	    "\"#/$defs/x\", \"title\": \"t\", \"$comment\": \"c\"}",
	    SCHEMA_BODY, L("{\"a\": 1}"), L("{\"b\": 1}"));
	/* Standard mode has no such rule. */
	verdicts("{\"properties\": {\"a\": {}}, \"allOf\": [true]}",
	    SCHEMA_STANDARD, L("{\"b\": 1}"), NULL);
}
END_TEST

START_TEST(keywords)
{
	verdicts("{\"enum\": [1, \"a\", null, {\"k\": [1.0]}, [true]]}",
	    SCHEMA_STANDARD, L("1.0", "1e0", "\"a\"", "null",
	    "{\"k\": [1]}", "[true]"),
	    L("2", "\"b\"", "false", "{\"k\": [1], \"j\": 1}", "[1]", "{}"));
	verdicts("{\"const\": {\"a\": 1, \"b\": [2, 3]}}", SCHEMA_STANDARD,
	    L("{\"b\": [2.0, 3], \"a\": 1e0}"), L("{\"a\": 1}",
	    "{\"a\": 1, \"b\": [3, 2]}"));
	verdicts("{\"minLength\": 2, \"maxLength\": 3}", SCHEMA_STANDARD,
	    L("\"ab\"", "\"\xf0\x9f\x98\x80\xf0\x9f\x98\x80\"", "\"abc\"", "5"),
	    L("\"a\"", "\"\xf0\x9f\x98\x80\"", "\"abcd\""));
	verdicts("{\"minItems\": 1, \"maxItems\": 2, \"uniqueItems\": true}",
	    SCHEMA_STANDARD, L("[1]", "[1, \"1\"]", "[{\"a\": 1}, {\"a\": 2}]"),
	    L("[]", "[1, 2, 3]", "[1, 1.0]", "[{\"a\": 1, \"b\": 2}, "
	    "{\"b\": 2, \"a\": 1}]"));
	verdicts("{\"prefixItems\": [{\"type\": \"string\"}], \"items\": false}",
	    SCHEMA_STANDARD, L("[]", "[\"a\"]"), L("[1]", "[\"a\", 2]"));
	verdicts("{\"contains\": {\"type\": \"integer\"}, \"minContains\": 2, "
	    "\"maxContains\": 3}", SCHEMA_STANDARD,
	    L("[1, 2]", "[1, \"x\", 2, 3]", "\"not an array\""),
	    L("[1]", "[1, 2, 3, 4]", "[]"));
	verdicts("{\"contains\": true, \"minContains\": 0}", SCHEMA_STANDARD,
	    L("[]"), NULL);
	verdicts("{\"minProperties\": 1, \"maxProperties\": 2, "
	    "\"propertyNames\": {\"maxLength\": 2}}", SCHEMA_STANDARD,
	    L("{\"a\": 1}", "{\"ab\": 1, \"c\": 2}"),
	    L("{}", "{\"a\": 1, \"b\": 2, \"c\": 3}", "{\"abc\": 1}"));
	verdicts("{\"dependentRequired\": {\"a\": [\"b\", \"c\"]}, "
	    "\"dependentSchemas\": {\"d\": {\"required\": [\"e\"]}}}",
	    SCHEMA_STANDARD, L("{}", "{\"a\": 1, \"b\": 1, \"c\": 1}",
	    "{\"d\": 1, \"e\": 1}", "{\"b\": 1}"),
	    L("{\"a\": 1, \"b\": 1}", "{\"d\": 1}"));
	verdicts("{\"oneOf\": [{\"type\": \"integer\"}, {\"minimum\": 2}]}",
	    SCHEMA_STANDARD, L("1", "2.5"), L("3", "1.5"));
	verdicts("{\"anyOf\": [{\"type\": \"integer\"}, {\"minimum\": 2}]}",
	    SCHEMA_STANDARD, L("1", "2.5", "3"), L("1.5"));
	verdicts("{\"if\": {\"type\": \"integer\"}, \"then\": {\"minimum\": 0}, "
	    "\"else\": {\"type\": \"string\"}}", SCHEMA_STANDARD,
	    L("1", "\"s\""), L("-1", "1.5"));
	verdicts("{\"not\": {\"type\": \"null\"}}", SCHEMA_STANDARD, L("1"),
	    L("null"));
	verdicts("false", SCHEMA_STANDARD, NULL, L("1", "null", "{}"));
	verdicts("{\"type\": [\"string\", \"null\"]}", SCHEMA_STANDARD,
	    L("\"a\"", "null"), L("1", "false"));
}
END_TEST

START_TEST(many_names)
{
	char	 s[16384], ok[16384];
	size_t	 o = 0, p = 0;
	int	 i;

	/* More names than the on-stack "seen" bitmap holds. */
	o += (size_t)snprintf(s + o, sizeof(s) - o, "{\"required\": [\"p299\"]"
	    ", \"properties\": {");
	p += (size_t)snprintf(ok + p, sizeof(ok) - p, "{");
	for (i = 0; i < 300; i++) {
		o += (size_t)snprintf(s + o, sizeof(s) - o,
		    "%s\"p%d\": {\"type\": \"integer\"}", i ? ", " : "", i);
		p += (size_t)snprintf(ok + p, sizeof(ok) - p, "%s\"p%d\": %d",
		    i ? ", " : "", i, i);
	}
	snprintf(s + o, sizeof(s) - o, "}}");
	snprintf(ok + p, sizeof(ok) - p, "}");
	verdicts(s, SCHEMA_BODY, L(ok, "{\"p299\": 1}"),
	    L("{\"p0\": 1}", "{\"p299\": 1, \"q\": 1}", "{\"p299\": \"x\"}"));
}
END_TEST

/*
 * Over 300 subschemas grow the compiler's memo table several times; the
 * self-reference resolved after the growth must still find the root.
 */
START_TEST(memo_growth)
{
	char	 s[16384];
	size_t	 o = 0;
	int	 i;

	o += (size_t)snprintf(s + o, sizeof(s) - o, "{\"properties\": {");
	for (i = 0; i < 300; i++)
		o += (size_t)snprintf(s + o, sizeof(s) - o,
		    "%s\"p%d\": {\"type\": \"integer\"}", i ? ", " : "", i);
	o += (size_t)snprintf(s + o, sizeof(s) - o,
	    "}, \"additionalProperties\": {\"$ref\": \"#\"}}");
	ck_assert_uint_lt(o, sizeof(s));
	verdicts(s, SCHEMA_STANDARD,
	    L("{\"p0\": 1, \"x\": {\"y\": {\"p299\": 2}}}", "{\"x\": {}}"),
	    L("{\"x\": {\"y\": {\"p299\": \"2\"}}}",
	    "{\"x\": {\"p5\": true}}"));
}
END_TEST

START_TEST(unique_long)
{
	char	 a[8192];
	size_t	 o = 0;
	int	 i;

	o += (size_t)snprintf(a + o, sizeof(a) - o, "[");
	for (i = 0; i < 200; i++)
		o += (size_t)snprintf(a + o, sizeof(a) - o,
		    "%s{\"k%d\": [%d, \"s\"], \"z\": null}", i ? "," : "", i, i);
	snprintf(a + o, sizeof(a) - o, "]");
	verdicts("{\"uniqueItems\": true}", SCHEMA_STANDARD, L(a), NULL);
	snprintf(a + o, sizeof(a) - o, ", {\"z\": null, \"k7\": [7.0, \"s\"]}]");
	verdicts("{\"uniqueItems\": true}", SCHEMA_STANDARD, NULL, L(a));
}
END_TEST

START_TEST(errors_list)
{
	struct schema_set	*set = schema_set_new();
	struct schema_errors	 e;
	const struct schema	*sc;
	char			 inst[4096];
	size_t			 o = 0, i;

	sc = C(set, "{\"type\": \"object\", \"required\": [\"title\", \"a\\\"b\"],"
	    " \"properties\": {\"title\": {\"type\": \"string\", \"maxLength\": "
	    "3}, \"a/b~c\": {\"enum\": [1]}, \"a\\\"b\": {}, \"list\": {\"items\": {\"type\": "
	    "\"integer\"}}}}", SCHEMA_BODY, NULL);
	ck_assert_ptr_nonnull(sc);
	ck_assert_int_eq(V(sc, "{\"title\": \"SECRET-TOKEN\", \"a/b~c\": "
	    "\"SECRET-TOKEN\", \"list\": [1, \"SECRET-TOKEN\"], "
	    "\"SECRET\": 1}", &e), -1);
	ck_assert_uint_eq(e.n, 5);
	ck_assert(!e.truncated);
	ck_assert_str_eq(e.v[0].pointer, "/title");
	ck_assert_str_eq(e.v[0].message, "must be at most 3 characters long");
	ck_assert_str_eq(e.v[1].pointer, "/a~1b~0c");
	ck_assert_str_eq(e.v[1].message, "must be one of the allowed values");
	ck_assert_str_eq(e.v[2].pointer, "/list/1");
	ck_assert_str_eq(e.v[2].message, "must be integer");
	ck_assert_str_eq(e.v[3].pointer, "/SECRET");
	ck_assert_str_eq(e.v[3].message, "property is not allowed");
	ck_assert_str_eq(e.v[4].pointer, "");
	ck_assert_str_eq(e.v[4].message,
	    "missing required property \"a\\\"b\"");
	for (i = 0; i < e.n; i++)
		ck_assert_ptr_null(strstr(e.v[i].message, "SECRET"));

	/* At most SCHEMA_ERRORS_MAX, then truncated. */
	o += (size_t)snprintf(inst + o, sizeof(inst) - o,
	    "{\"title\": \"x\", \"a\\\"b\": 1, \"list\": [");
	for (i = 0; i < 40; i++)
		o += (size_t)snprintf(inst + o, sizeof(inst) - o, "%s\"s\"",
		    i ? "," : "");
	snprintf(inst + o, sizeof(inst) - o, "]}");
	ck_assert_int_eq(V(sc, inst, &e), -1);
	ck_assert_uint_eq(e.n, SCHEMA_ERRORS_MAX);
	ck_assert(e.truncated);
	ck_assert_str_eq(e.v[15].pointer, "/list/15");
	ck_assert_int_eq(V(sc, inst, NULL), -1);
	ck_assert_int_eq(V(sc, "{\"title\": \"x\", \"a\\\"b\": 1}", &e), 0);
	ck_assert_uint_eq(e.n, 0);
	schema_set_free(set);
}
END_TEST

START_TEST(pointer_bound)
{
	struct schema_set	*set = schema_set_new();
	struct schema_errors	 e;
	const struct schema	*sc;
	char			 key[400], inst[1024];

	memset(key, 'k', sizeof(key) - 1);
	key[sizeof(key) - 1] = '\0';
	sc = C(set, "{\"additionalProperties\": {\"additionalProperties\": "
	    "{\"type\": \"string\"}}}", SCHEMA_STANDARD, NULL);
	snprintf(inst, sizeof(inst), "{\"a\": {\"%s\": 1}}", key);
	ck_assert_int_eq(V(sc, inst, &e), -1);
	ck_assert_str_eq(e.v[0].pointer, "/a");
	ck_assert_int_eq(V(sc, "{\"a\": {\"x\": {\"deep\": true}}}", &e), -1);
	ck_assert_str_eq(e.v[0].pointer, "/a/x");
	schema_set_free(set);
}
END_TEST

START_TEST(nul_strings)
{
	struct schema_set	*set = schema_set_new();
	struct schema_errors	 e;
	const struct schema	*sc;

	sc = C(set, "true", SCHEMA_STANDARD, NULL);
	ck_assert_int_eq(V(sc, "{\"a\": [\"x\\u0000y\"]}", &e), -1);
	ck_assert_uint_eq(e.n, 1);
	ck_assert_str_eq(e.v[0].pointer, "/a/0");
	ck_assert_str_eq(e.v[0].message, "string must not contain U+0000");
	ck_assert_int_eq(V(sc, "{\"k\\u0000\": 1}", &e), -1);
	ck_assert_str_eq(e.v[0].pointer, "");
	ck_assert_int_eq(V(sc, "\"\\u0000\"", NULL), -1);
	ck_assert_int_eq(V(sc, "\"ok\"", NULL), 0);
	schema_set_free(set);
}
END_TEST

START_TEST(depth_guard)
{
	struct schema_set	*set = schema_set_new();
	struct schema_errors	 e;
	const struct schema	*sc;
	struct node		*root, *n;
	int			 i;

	/* Hand-built instance deeper than the validation guard. */
	root = n = bw_calloc(1, sizeof(*n));
	for (i = 0; i < SCHEMA_NEST_MAX * 100; i++) {
		n->kind = NODE_SEQ;
		n->vals = bw_calloc(1, sizeof(*n->vals));
		n->n = 1;
		n = n->vals[0] = bw_calloc(1, sizeof(*n));
	}
	n->kind = NODE_SCALAR;
	n->style = NODE_NULL;
	n->text = bw_strdup("null");
	n->len = 4;
	sc = C(set, "{\"items\": {\"$ref\": \"#\"}}", SCHEMA_STANDARD, NULL);
	ck_assert_int_eq(schema_validate(sc, root, 0, &e), -1);
	ck_assert_str_eq(e.v[0].message, "value nested too deeply for its "
	    "schema");
	sc = C(set, "true", SCHEMA_STANDARD, NULL);
	ck_assert_int_eq(schema_validate(sc, root, 0, &e), 0);
	node_free(root);
	schema_set_free(set);
}
END_TEST

START_TEST(params)
{
	struct schema_set	*set = schema_set_new();
	struct schema_errors	 e;
	const struct schema	*sc;
	struct node		*n;

	sc = C(set, "{\"type\": \"integer\", \"minimum\": 1}", SCHEMA_PARAM,
	    NULL);
	ck_assert_ptr_nonnull(sc);
	ck_assert_int_eq(schema_coerce_param(sc, "id", "42", 2, &n, &e), 0);
	ck_assert_int_eq(n->style, NODE_NUMBER);
	ck_assert_str_eq(n->text, "42");
	node_free(n);
	ck_assert_int_eq(schema_coerce_param(sc, "id", "042", 3, &n, &e), -1);
	ck_assert_ptr_null(n);
	ck_assert_str_eq(e.v[0].pointer, "/id");
	ck_assert_str_eq(e.v[0].message, "must be integer");
	ck_assert_int_eq(schema_coerce_param(sc, "id", "0", 1, &n, &e), -1);
	ck_assert_str_eq(e.v[0].message, "must be >= 1");
	ck_assert_int_eq(schema_coerce_param(sc, "a/b", "1.0", 3, &n, &e), -1);
	ck_assert_str_eq(e.v[0].pointer, "/a~1b");
	ck_assert_int_eq(schema_coerce_param(sc, "id", "1e2", 3, &n, &e), -1);
	ck_assert_int_eq(schema_coerce_param(sc, "id", "+1", 2, &n, &e), -1);
	ck_assert_int_eq(schema_coerce_param(sc, "id", "", 0, &n, &e), -1);
	ck_assert_int_eq(schema_coerce_param(sc, "id",
	    "9223372036854775808", 19, &n, &e), -1);
	ck_assert_int_eq(schema_coerce_param(sc, "id",
	    "9223372036854775807", 19, &n, &e), 0);
	node_free(n);

	sc = C(set, "{\"type\": \"integer\"}", SCHEMA_PARAM, NULL);
	ck_assert_int_eq(schema_coerce_param(sc, "i", "-0", 2, &n, &e), 0);
	ck_assert_str_eq(n->text, "0");
	node_free(n);

	sc = C(set, "{\"type\": \"number\", \"default\": 2.50}", SCHEMA_PARAM,
	    NULL);
	ck_assert_str_eq(schema_default(sc)->text, "2.50");
	ck_assert_int_eq(schema_coerce_param(sc, "n", "1.50e3", 6, &n, &e), 0);
	ck_assert_str_eq(n->text, "1.50e3");
	node_free(n);
	ck_assert_int_eq(schema_coerce_param(sc, "n", "0x1", 3, &n, &e), -1);
	ck_assert_int_eq(schema_coerce_param(sc, "n", "NaN", 3, &n, &e), -1);

	sc = C(set, "{\"type\": \"boolean\"}", SCHEMA_PARAM, NULL);
	ck_assert_ptr_null(schema_default(sc));
	ck_assert_int_eq(schema_coerce_param(sc, "b", "true", 4, &n, &e), 0);
	ck_assert_int_eq(n->style, NODE_TRUE);
	node_free(n);
	ck_assert_int_eq(schema_coerce_param(sc, "b", "false", 5, &n, &e), 0);
	ck_assert_int_eq(n->style, NODE_FALSE);
	node_free(n);
	ck_assert_int_eq(schema_coerce_param(sc, "b", "True", 4, &n, &e), -1);
	ck_assert_int_eq(schema_coerce_param(sc, "b", "1", 1, &n, &e), -1);

	sc = C(set, "{\"type\": [\"integer\", \"string\"], \"maxLength\": 3}",
	    SCHEMA_PARAM, NULL);
	ck_assert_int_eq(schema_coerce_param(sc, "x", "12345", 5, &n, &e), 0);
	ck_assert_int_eq(n->style, NODE_NUMBER);
	node_free(n);
	ck_assert_int_eq(schema_coerce_param(sc, "x", "abc", 3, &n, &e), 0);
	ck_assert_int_eq(n->style, NODE_STRING);
	node_free(n);
	ck_assert_int_eq(schema_coerce_param(sc, "x", "abcd", 4, &n, &e), -1);

	sc = C(set, "{\"enum\": [\"a\", \"b\"]}", SCHEMA_PARAM, NULL);
	ck_assert_int_eq(schema_coerce_param(sc, "s", "b", 1, &n, &e), 0);
	ck_assert_str_eq(n->text, "b");
	node_free(n);
	ck_assert_int_eq(schema_coerce_param(sc, "s", "c", 1, &n, &e), -1);
	ck_assert_int_eq(schema_coerce_param(sc, "s", "\xff", 1, &n, &e), -1);
	ck_assert_str_eq(e.v[0].message, "must be valid UTF-8");
	ck_assert_int_eq(schema_coerce_param(sc, "s", "a\0", 2, &n, &e), -1);
	ck_assert_str_eq(e.v[0].message, "string must not contain U+0000");

	sc = C(set, "{\"$defs\": {\"id\": {\"type\": \"integer\"}}, \"$ref\": "
	    "\"#/$defs/id\"}", SCHEMA_PARAM, NULL);
	ck_assert_int_eq(schema_coerce_param(sc, "r", "7", 1, &n, &e), 0);
	ck_assert_int_eq(n->style, NODE_NUMBER);
	node_free(n);
	schema_set_free(set);
}
END_TEST

static struct node *
plain(const char *text, enum node_style style)
{
	struct node	*n = bw_calloc(1, sizeof(*n));

	n->kind = NODE_SCALAR;
	n->style = style;
	n->text = bw_strdup(text);
	n->len = strlen(text);
	n->line = 3;
	n->col = 7;
	return n;
}

static struct node *
ymap(size_t n)
{
	struct node	*m = bw_calloc(1, sizeof(*m));

	m->kind = NODE_MAP;
	m->keys = bw_calloc(n, sizeof(*m->keys));
	m->vals = bw_calloc(n, sizeof(*m->vals));
	m->line = 2;
	m->col = 3;
	return m;
}

static void
yput(struct node *m, const char *key, struct node *v)
{
	m->keys[m->n] = plain(key, NODE_PLAIN);
	m->vals[m->n++] = v;
}

/* The tree the YAML reader produces: plain scalars carry their text. */
START_TEST(yaml_tree)
{
	struct schema_set	*set = schema_set_new();
	struct bw_diag		 d = { 0 };
	const struct schema	*sc;
	struct node		*root, *props, *title, *en;

	root = ymap(4);
	yput(root, "type", plain("object", NODE_PLAIN));
	props = ymap(2);
	title = ymap(3);
	yput(title, "type", plain("string", NODE_PLAIN));
	yput(title, "maxLength", plain("3", NODE_PLAIN));
	yput(title, "pattern", plain("^[a-z]+$", NODE_STRING));
	yput(props, "title", title);
	en = ymap(2);
	yput(en, "enum", bw_calloc(1, sizeof(struct node)));
	en->vals[0]->kind = NODE_SEQ;
	en->vals[0]->vals = bw_calloc(4, sizeof(struct node *));
	en->vals[0]->vals[0] = plain("1.5", NODE_PLAIN);
	en->vals[0]->vals[1] = plain("true", NODE_PLAIN);
	en->vals[0]->vals[2] = plain("null", NODE_PLAIN);
	en->vals[0]->vals[3] = plain("1.5", NODE_STRING);
	en->vals[0]->n = 4;
	yput(en, "minimum", plain("1", NODE_PLAIN));
	yput(props, "n", en);
	yput(root, "properties", props);
	yput(root, "additionalProperties", plain("false", NODE_PLAIN));
	sc = schema_compile(set, root, SCHEMA_BODY, "c.yaml", &d);
	ck_assert_msg(sc != NULL, "%s", d.n ? d.v[0].msg : "");
	node_free(root);
	ck_assert_int_eq(V(sc, "{\"title\": \"abc\", \"n\": 1.50}", NULL), 0);
	ck_assert_int_eq(V(sc, "{\"n\": \"1.5\"}", NULL), 0);
	ck_assert_int_eq(V(sc, "{\"n\": true}", NULL), 0);
	ck_assert_int_eq(V(sc, "{\"n\": null}", NULL), 0);
	ck_assert_int_eq(V(sc, "{\"n\": \"true\"}", NULL), -1);
	ck_assert_int_eq(V(sc, "{\"title\": \"abcd\"}", NULL), -1);
	ck_assert_int_eq(V(sc, "{\"title\": 5}", NULL), -1);
	ck_assert_int_eq(V(sc, "{\"x\": 5}", NULL), -1);

	/* A plain scalar that is not a number is a string: a type error. */
	root = ymap(1);
	yput(root, "maxLength", plain("2O0", NODE_PLAIN));
	ck_assert_ptr_null(schema_compile(set, root, SCHEMA_STANDARD, "c.yaml",
	    &d));
	ck_assert_int_eq(d.v[d.n - 1].line, 3);
	ck_assert_int_eq(d.v[d.n - 1].col, 7);
	node_free(root);
	/* A quoted "true" is a string, a plain true a boolean schema. */
	root = plain("true", NODE_PLAIN);
	ck_assert_ptr_nonnull(schema_compile(set, root, SCHEMA_STANDARD,
	    "c.yaml", &d));
	node_free(root);
	root = plain("true", NODE_STRING);
	ck_assert_ptr_null(schema_compile(set, root, SCHEMA_STANDARD, "c.yaml",
	    &d));
	node_free(root);
	schema_set_free(set);
	bw_diag_free(&d);
}
END_TEST

/* SPEC 4's NewNote, as the lead wires it: named, used as a body. */
START_TEST(newnote)
{
	struct schema_set	*set = schema_set_new();
	struct schema_errors	 e;
	const struct schema	*sc;
	struct node		*n;

	n = J("{\"type\": \"object\", \"required\": [\"title\"], \"properties\": "
	    "{\"title\": {\"type\": \"string\", \"minLength\": 1, \"maxLength\": "
	    "200}, \"body\": {\"type\": \"string\", \"maxLength\": 10000}}}");
	ck_assert_int_eq(schema_add_named(set, "NewNote", n, "b.yaml", NULL),
	    0);
	node_free(n);
	ck_assert_int_eq(schema_set_check(set, NULL), 0);
	sc = schema_named(set, "NewNote", SCHEMA_BODY, NULL);
	ck_assert_ptr_nonnull(sc);
	ck_assert_int_eq(V(sc, "{\"title\": \"t\", \"body\": \"b\"}", &e), 0);
	ck_assert_int_eq(V(sc, "{\"title\": \"\"}", &e), -1);
	ck_assert_str_eq(e.v[0].pointer, "/title");
	ck_assert_int_eq(V(sc, "{\"title\": \"t\", \"owner\": 1}", &e), -1);
	ck_assert_str_eq(e.v[0].pointer, "/owner");
	ck_assert_int_eq(V(sc, "{\"body\": \"b\"}", &e), -1);
	ck_assert_str_eq(e.v[0].message, "missing required property \"title\"");
	ck_assert_int_eq(V(sc, "[]", &e), -1);
	ck_assert_str_eq(e.v[0].message, "must be object");
	schema_set_free(set);
}
END_TEST

Suite *
unit_suite(void)
{
	Suite	*s = suite_create("schema");
	TCase	*tc = tcase_create("schema");

	tcase_set_timeout(tc, UNIT_TIMEOUT);
	tcase_add_test(tc, num_exact);
	tcase_add_test(tc, num_keywords);
	tcase_add_test(tc, canonical_binding);
	tcase_add_test(tc, formats);
	tcase_add_test(tc, patterns);
	tcase_add_test(tc, load_errors);
	tcase_add_test(tc, load_accepts);
	tcase_add_test(tc, cycles);
	tcase_add_test(tc, named);
	tcase_add_test(tc, body_mode);
	tcase_add_test(tc, keywords);
	tcase_add_test(tc, many_names);
	tcase_add_test(tc, memo_growth);
	tcase_add_test(tc, unique_long);
	tcase_add_test(tc, errors_list);
	tcase_add_test(tc, pointer_bound);
	tcase_add_test(tc, nul_strings);
	tcase_add_test(tc, depth_guard);
	tcase_add_test(tc, params);
	tcase_add_test(tc, yaml_tree);
	tcase_add_test(tc, newnote);
	suite_add_tcase(s, tc);
	return s;
}
