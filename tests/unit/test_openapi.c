/*
 * test_openapi.c - the OpenAPI document of a configuration: strict YAML
 * scalars become JSON types, references are rewritten for their new home
 * and data keywords are copied as data, inline schemas that refer into
 * themselves move to components, component names never collide, and each
 * route gets the responses and security its configuration implies.
 */
#include <string.h>

#include <jansson.h>

#include "unit.h"

#include "conf.h"
#include "openapi.h"
#include "util.h"

#define BASE	"version: 1\nserver:\n  plaintext: true\n" \
		"  trusted_proxies: [127.0.0.1]\n" \
		"database:\n  conninfo: \"dbname=app\"\n" \
		"roles:\n  reader: {}\n"

static json_t *
build(const char *src)
{
	struct bw_diag	 d = { 0 };
	struct conf	*c;
	json_t		*doc;

	c = conf_load_buffer("t.yaml", src, strlen(src), &d);
	bw_diag_print(&d, stdout);
	ck_assert_ptr_nonnull(c);
	doc = openapi_document(c);
	ck_assert_ptr_nonnull(doc);
	conf_free(c);
	bw_diag_free(&d);
	return doc;
}

/* "~1" -> "/" in place (the one escape these paths need). */
static void
unescape(char *tok)
{
	char	*p;

	while ((p = strstr(tok, "~1")) != NULL) {
		*p = '/';
		memmove(p + 1, p + 2, strlen(p + 2) + 1);
	}
}

/* doc at a '/'-separated path of member names or array indexes. */
static json_t *
at(json_t *doc, const char *path)
{
	char	 buf[256], *tok, *save = NULL;

	snprintf(buf, sizeof(buf), "%s", path);
	for (tok = strtok_r(buf, "/", &save); tok != NULL && doc != NULL;
	    tok = strtok_r(NULL, "/", &save)) {
		unescape(tok);
		doc = json_is_array(doc) ? json_array_get(doc,
		    (size_t)strtoul(tok, NULL, 10)) : json_object_get(doc, tok);
	}
	ck_assert_msg(doc != NULL, "no %s", path);
	return doc;
}

static const char *
str(json_t *doc, const char *path)
{
	json_t	*v = at(doc, path);

	ck_assert_msg(json_is_string(v), "%s is not a string", path);
	return json_string_value(v);
}

START_TEST(scalars_resolve_strictly)
{
	json_t	*doc, *s;

	doc = build(BASE "schemas:\n  S:\n    type: object\n"
	    "    properties:\n      a: {type: number, minimum: 1.5, "
	    "maximum: 100, multipleOf: 1e-2}\n"
	    "      b: {enum: [yes, \"1\", 1, null, ~, true]}\n"
	    "    additionalProperties: false\n");
	s = at(doc, "components/schemas/S");
	ck_assert(json_is_real(at(s, "properties/a/minimum")));
	ck_assert(json_real_value(at(s, "properties/a/minimum")) == 1.5);
	ck_assert_int_eq(json_integer_value(at(s, "properties/a/maximum")),
	    100);
	ck_assert(json_is_real(at(s, "properties/a/multipleOf")));
	ck_assert_str_eq(str(s, "properties/b/enum/0"), "yes");
	ck_assert_str_eq(str(s, "properties/b/enum/1"), "1");
	ck_assert(json_is_integer(at(s, "properties/b/enum/2")));
	ck_assert(json_is_null(at(s, "properties/b/enum/3")));
	ck_assert(json_is_null(at(s, "properties/b/enum/4")));
	ck_assert(json_is_true(at(s, "properties/b/enum/5")));
	ck_assert(json_is_false(at(s, "additionalProperties")));
	json_decref(doc);
}
END_TEST

START_TEST(references_rewritten_data_kept)
{
	json_t	*doc, *s;

	doc = build(BASE "schemas:\n  T: {type: string}\n  S:\n"
	    "    type: object\n    properties:\n"
	    "      a: {$ref: T}\n      b: {$ref: \"#/$defs/x\"}\n"
	    "      c: {const: {$ref: T}}\n      d: {default: {$ref: T}}\n"
	    "      e: {anyOf: [{$ref: T}, {$ref: \"#\"}]}\n"
	    "    additionalProperties: false\n"
	    "    $defs:\n      x: {items: {$ref: T}}\n");
	s = at(doc, "components/schemas/S/properties");
	ck_assert_str_eq(str(s, "a/$ref"), "#/components/schemas/T");
	ck_assert_str_eq(str(s, "b/$ref"), "#/components/schemas/S/$defs/x");
	ck_assert_str_eq(str(s, "c/const/$ref"), "T");
	ck_assert_str_eq(str(s, "d/default/$ref"), "T");
	ck_assert_str_eq(str(s, "e/anyOf/0/$ref"), "#/components/schemas/T");
	ck_assert_str_eq(str(s, "e/anyOf/1/$ref"), "#/components/schemas/S");
	ck_assert_str_eq(str(doc, "components/schemas/S/$defs/x/items/$ref"),
	    "#/components/schemas/T");
	json_decref(doc);
}
END_TEST

START_TEST(inline_schemas)
{
	json_t		*doc, *op;
	const char	*ref;

	doc = build(BASE "schemas:\n  route.r.body: {type: string}\n"
	    "routes:\n  - name: r\n    method: POST\n    path: /r/{id}\n"
	    "    roles: [reader]\n    params: {id: {type: integer}}\n"
	    "    body: {type: object, properties: {n: {$ref: \"#/$defs/n\"}},"
	    " $defs: {n: {type: integer}}}\n"
	    "    sql: SELECT 1\n    result: none\n");
	op = at(doc, "paths/~1r~1{id}/post");
	ck_assert_str_eq(str(op, "parameters/0/schema/type"), "integer");
	ref = str(op, "requestBody/content/application~1json/schema/$ref");
	ck_assert_str_eq(ref, "#/components/schemas/route.r.body-2");
	ck_assert_str_eq(str(doc, "components/schemas/route.r.body-2/"
	    "properties/n/$ref"), "#/components/schemas/route.r.body-2/$defs/n");
	ck_assert_str_eq(str(doc, "components/schemas/route.r.body/type"),
	    "string");
	json_decref(doc);
}
END_TEST

START_TEST(responses_and_security)
{
	json_t	*doc, *r;

	doc = build(BASE "routes:\n"
	    "  - {name: g, method: GET, path: /g, roles: [reader], "
	    "sql: SELECT 1, result: array, rate_limit: null}\n"
	    "  - {name: p, method: GET, path: /p, roles: [public], "
	    "sql: SELECT 1, result: value}\n");
	r = at(at(doc, "paths/~1g/get"), "responses");
	ck_assert_ptr_null(json_object_get(r, "404"));
	ck_assert_ptr_null(json_object_get(r, "429"));
	ck_assert_ptr_null(json_object_get(r, "409"));
	ck_assert_ptr_null(json_object_get(r, "413"));
	ck_assert_ptr_nonnull(json_object_get(r, "403"));
	ck_assert_ptr_nonnull(json_object_get(r, "401"));
	r = at(at(doc, "paths/~1p/get"), "responses");
	ck_assert_ptr_nonnull(json_object_get(r, "404"));
	ck_assert_ptr_nonnull(json_object_get(r, "429"));
	/* no auth section: no security schemes, public routes anonymous */
	ck_assert_ptr_null(json_object_get(at(doc, "components"),
	    "securitySchemes"));
	ck_assert_int_eq(json_array_size(at(at(doc, "paths/~1p/get"),
	    "security")), 1);
	ck_assert_int_eq(json_object_size(at(at(doc, "paths/~1p/get"),
	    "security/0")), 0);
	json_decref(doc);
}
END_TEST

START_TEST(print_writes_json)
{
	struct bw_diag	 d = { 0 };
	struct conf	*c;
	char		*buf = NULL;
	size_t		 len = 0;
	FILE		*f;
	json_t		*doc;

	c = conf_load_buffer("t.yaml", BASE, strlen(BASE), &d);
	ck_assert_ptr_nonnull(c);
	f = open_memstream(&buf, &len);
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(openapi_print(c, f), 0);
	fclose(f);
	ck_assert(len > 2 && buf[len - 1] == '\n');
	doc = json_loadb(buf, len, 0, NULL);
	ck_assert_ptr_nonnull(doc);
	ck_assert_str_eq(str(doc, "openapi"), "3.1.0");
	json_decref(doc);
	free(buf);
	conf_free(c);
	bw_diag_free(&d);
}
END_TEST

Suite *
unit_suite(void)
{
	Suite	*s = suite_create("openapi");
	TCase	*tc = tcase_create("openapi");

	tcase_set_timeout(tc, UNIT_TIMEOUT);
	tcase_add_test(tc, scalars_resolve_strictly);
	tcase_add_test(tc, references_rewritten_data_kept);
	tcase_add_test(tc, inline_schemas);
	tcase_add_test(tc, responses_and_security);
	tcase_add_test(tc, print_writes_json);
	suite_add_tcase(s, tc);
	return s;
}
