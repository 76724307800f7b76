/*
 * openapi.c - the OpenAPI 3.1 document of a configuration (--openapi).
 *
 * The document is built as a whole with jansson: it is printed once by an
 * administration mode and never served, so nothing here is on the request
 * path.  What it states is derived from the same configuration the daemon
 * serves, so it cannot drift from the routes:
 *  - every route is an operation (operationId = route name) with its path
 *    and query parameters, its request body and its responses, including
 *    the problem+json errors that route can produce (bulwarkd(8) lists the
 *    rules; openapi_error_applies() is that list);
 *  - named schemas become components/schemas; a `$ref` to a schema name is
 *    rewritten to "#/components/schemas/NAME", and a document-local one
 *    ("#", "#/$defs/...") to the same place inside the schema's new home,
 *    because in OpenAPI 3.1 a schema without `$id` resolves fragments
 *    against the OpenAPI document.  An inline schema holding a local
 *    reference is therefore moved to components/schemas first;
 *  - schema keywords whose values are data (const, enum, default,
 *    examples) are copied as data: a "$ref" member there is not rewritten;
 *  - YAML plain scalars resolve by the configuration's strict rules (true,
 *    false, null, ~, JSON numbers; anything else is a string).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "conf.h"
#include "jsonnum.h"
#include "node.h"
#include "openapi.h"
#include "util.h"

#define OPENAPI_VERSION		"3.1.0"
#define OPENAPI_DIALECT		"https://json-schema.org/draft/2020-12/schema"
#define OPENAPI_SCHEMAS		"#/components/schemas/"
#define OPENAPI_NAME_MAX	160	/* a component name we make */
#define OPENAPI_PARAM_MAX	256	/* one path parameter name */

struct openapi {
	const struct conf	*conf;
	json_t			*doc;
	json_t			*schemas;	/* components/schemas */
	json_t			*paths;
	char			 problem[OPENAPI_NAME_MAX];
	char			 invalid[OPENAPI_NAME_MAX];
	bool			 failed;	/* an allocation failed */
};

/* How a schema keyword's value is read. */
enum openapi_kw {
	OPENAPI_KW_DATA,	/* copied as data */
	OPENAPI_KW_SCHEMA,	/* one subschema */
	OPENAPI_KW_MAP,		/* name -> subschema */
	OPENAPI_KW_LIST,	/* array of subschemas */
};

static const struct {
	const char		*name;
	enum openapi_kw		 kind;
} openapi_keywords[] = {
	{ "properties",			OPENAPI_KW_MAP },
	{ "patternProperties",		OPENAPI_KW_MAP },
	{ "$defs",			OPENAPI_KW_MAP },
	{ "dependentSchemas",		OPENAPI_KW_MAP },
	{ "allOf",			OPENAPI_KW_LIST },
	{ "anyOf",			OPENAPI_KW_LIST },
	{ "oneOf",			OPENAPI_KW_LIST },
	{ "prefixItems",		OPENAPI_KW_LIST },
	{ "items",			OPENAPI_KW_SCHEMA },
	{ "contains",			OPENAPI_KW_SCHEMA },
	{ "additionalProperties",	OPENAPI_KW_SCHEMA },
	{ "propertyNames",		OPENAPI_KW_SCHEMA },
	{ "not",			OPENAPI_KW_SCHEMA },
	{ "if",				OPENAPI_KW_SCHEMA },
	{ "then",			OPENAPI_KW_SCHEMA },
	{ "else",			OPENAPI_KW_SCHEMA },
};

/* The problem responses a route may give; see openapi_error_applies(). */
static const struct {
	int		 status;
	const char	*description;
	bool		 validation;	/* carries the errors list */
} openapi_errors[] = {
	{ 400, "Malformed request, or invalid path or query parameters",
	    true },
	{ 401, "Missing or invalid credentials", false },
	{ 403, "Authenticated without a role this route admits", false },
	{ 404, "No such resource", false },
	{ 409, "Conflicts with existing data", false },
	{ 413, "Request body too large", false },
	{ 415, "Request body is not application/json", false },
	{ 422, "Request body or data failed validation", true },
	{ 429, "Rate limit exceeded; see Retry-After", false },
	{ 500, "Internal error (logged)", false },
	{ 503, "Database or server temporarily unavailable", false },
	{ 504, "The request did not finish in time", false },
};

/* ---- building blocks ----------------------------------------------------- */

static void
openapi_set(struct openapi *oa, json_t *obj, const char *key, json_t *val)
{
	if (obj == NULL || val == NULL || json_object_set_new(obj, key, val) ==
	    -1) {
		json_decref(val);
		oa->failed = true;
	}
}

static void
openapi_push(struct openapi *oa, json_t *arr, json_t *val)
{
	if (arr == NULL || val == NULL || json_array_append_new(arr, val) ==
	    -1) {
		json_decref(val);
		oa->failed = true;
	}
}

/* obj[key], made an empty object first when absent. */
static json_t *
openapi_member(struct openapi *oa, json_t *obj, const char *key)
{
	json_t	*m;

	if (obj == NULL)
		return NULL;
	if ((m = json_object_get(obj, key)) != NULL)
		return m;
	m = json_object();
	openapi_set(oa, obj, key, m);
	return oa->failed ? NULL : m;
}

static json_t *
openapi_type(const char *type)
{
	return json_pack("{ss}", "type", type);
}

static json_t *
openapi_ref(const char *home, const char *rest)
{
	char	 buf[OPENAPI_NAME_MAX + 512];

	if (snprintf(buf, sizeof(buf), "%s%s", home, rest) >= (int)sizeof(buf))
		return NULL;
	return json_pack("{ss}", "$ref", buf);
}

/* "NAME", or "NAME-2", "NAME-3"... when components/schemas has NAME. */
static void
openapi_unique_name(struct openapi *oa, const char *base, char *out,
    size_t outsz)
{
	unsigned	 i;

	(void)snprintf(out, outsz, "%s", base);
	for (i = 2; json_object_get(oa->schemas, out) != NULL; i++)
		(void)snprintf(out, outsz, "%s-%u", base, i);
}

/* ---- configuration values as JSON ---------------------------------------- */

static json_t *
openapi_number(const char *text, size_t len)
{
	struct jnum	 n;
	char		*end;
	long long	 v;

	if (jnum_parse(&n, text, len) == -1)
		return json_stringn(text, len);
	if (jnum_is_integer(&n) && jnum_in_int64(&n) &&
	    strspn(text, "-0123456789") == len) {
		v = strtoll(text, &end, 10);
		return json_integer(v);
	}
	return json_real(strtod(text, &end));
}

static json_t *
openapi_scalar(const struct node *n)
{
	struct jnum	 num;

	switch (n->style) {
	case NODE_STRING:
		return json_stringn(n->text, n->len);
	case NODE_NUMBER:
		return openapi_number(n->text, n->len);
	case NODE_TRUE:
		return json_true();
	case NODE_FALSE:
		return json_false();
	case NODE_NULL:
		return json_null();
	case NODE_PLAIN:
		break;
	}
	if (strcmp(n->text, "true") == 0)
		return json_true();
	if (strcmp(n->text, "false") == 0)
		return json_false();
	if (strcmp(n->text, "null") == 0 || strcmp(n->text, "~") == 0)
		return json_null();
	if (jnum_parse(&num, n->text, n->len) == 0)
		return openapi_number(n->text, n->len);
	return json_stringn(n->text, n->len);
}

/* A configuration value copied as plain data. */
static json_t *
openapi_data(struct openapi *oa, const struct node *n)
{
	json_t	*out;
	size_t	 i;

	if (n->kind == NODE_SCALAR)
		return openapi_scalar(n);
	out = n->kind == NODE_MAP ? json_object() : json_array();
	for (i = 0; i < n->n; i++) {
		if (n->kind == NODE_MAP)
			openapi_set(oa, out, n->keys[i]->text,
			    openapi_data(oa, n->vals[i]));
		else
			openapi_push(oa, out, openapi_data(oa, n->vals[i]));
	}
	return out;
}

/* ---- schemas ------------------------------------------------------------- */

static enum openapi_kw
openapi_keyword(const char *name)
{
	size_t	 i;

	for (i = 0; i < BW_ARRAY_LEN(openapi_keywords); i++)
		if (strcmp(openapi_keywords[i].name, name) == 0)
			return openapi_keywords[i].kind;
	return OPENAPI_KW_DATA;
}

/* The "$ref" value s rewritten for a schema that now lives at home. */
static json_t *
openapi_ref_value(const struct node *s, const char *home)
{
	char	 buf[OPENAPI_NAME_MAX + 512];
	int	 n;

	if (s->kind != NODE_SCALAR)
		return NULL;
	if (s->len > 0 && s->text[0] == '#')
		n = snprintf(buf, sizeof(buf), "%s%s", home, s->text + 1);
	else
		n = snprintf(buf, sizeof(buf), "%s%s", OPENAPI_SCHEMAS,
		    s->text);
	if (n < 0 || n >= (int)sizeof(buf))
		return NULL;
	return json_string(buf);
}

static json_t	*openapi_schema(struct openapi *, const struct node *,
		    const char *);

static json_t *
openapi_subschemas(struct openapi *oa, const struct node *n,
    enum openapi_kw kind, const char *home)
{
	json_t	*out;
	size_t	 i;

	if (kind == OPENAPI_KW_SCHEMA)
		return openapi_schema(oa, n, home);
	if (kind == OPENAPI_KW_MAP && n->kind == NODE_MAP) {
		out = json_object();
		for (i = 0; i < n->n; i++)
			openapi_set(oa, out, n->keys[i]->text,
			    openapi_schema(oa, n->vals[i], home));
		return out;
	}
	if (kind == OPENAPI_KW_LIST && n->kind == NODE_SEQ) {
		out = json_array();
		for (i = 0; i < n->n; i++)
			openapi_push(oa, out,
			    openapi_schema(oa, n->vals[i], home));
		return out;
	}
	return openapi_data(oa, n);
}

/* A JSON Schema whose document root is at home ("#/components/..."). */
static json_t *
openapi_schema(struct openapi *oa, const struct node *n, const char *home)
{
	json_t		*out;
	const char	*k;
	size_t		 i;

	if (n->kind != NODE_MAP)
		return openapi_data(oa, n);
	out = json_object();
	for (i = 0; i < n->n; i++) {
		k = n->keys[i]->text;
		if (strcmp(k, "$ref") == 0)
			openapi_set(oa, out, k,
			    openapi_ref_value(n->vals[i], home));
		else
			openapi_set(oa, out, k, openapi_subschemas(oa,
			    n->vals[i], openapi_keyword(k), home));
	}
	return out;
}

/* Whether a "$ref" anywhere in n points into n's own document. */
static bool
openapi_local_ref(const struct node *n)
{
	size_t	 i;

	if (n->kind == NODE_SCALAR)
		return false;
	for (i = 0; i < n->n; i++) {
		if (n->kind == NODE_MAP && strcmp(n->keys[i]->text, "$ref") ==
		    0 && n->vals[i]->kind == NODE_SCALAR &&
		    n->vals[i]->len > 0 && n->vals[i]->text[0] == '#')
			return true;
		if (openapi_local_ref(n->vals[i]))
			return true;
	}
	return false;
}

/* A schema stored in components/schemas under name (made unique). */
static json_t *
openapi_component(struct openapi *oa, const struct node *n, const char *base)
{
	char	 name[OPENAPI_NAME_MAX], home[OPENAPI_NAME_MAX + 32];

	openapi_unique_name(oa, base, name, sizeof(name));
	(void)snprintf(home, sizeof(home), "%s%s", OPENAPI_SCHEMAS, name);
	openapi_set(oa, oa->schemas, name, openapi_schema(oa, n, home));
	return openapi_ref(OPENAPI_SCHEMAS, name);
}

/*
 * A route's schema: a scalar names a schema; an inline one is written in
 * place unless it refers into itself, then moved to components first.
 */
static json_t *
openapi_use(struct openapi *oa, const struct node *n, const char *base)
{
	if (n->kind == NODE_SCALAR && n->style != NODE_TRUE &&
	    n->style != NODE_FALSE && strcmp(n->text, "true") != 0 &&
	    strcmp(n->text, "false") != 0)
		return openapi_ref(OPENAPI_SCHEMAS, n->text);
	if (openapi_local_ref(n))
		return openapi_component(oa, n, base);
	return openapi_schema(oa, n, "#");
}

static void
openapi_named_schemas(struct openapi *oa)
{
	const struct conf_schema	*s;
	char				 home[OPENAPI_NAME_MAX + 32];
	size_t				 i;

	for (i = 0; i < oa->conf->nschemas; i++) {
		s = &oa->conf->schemas[i];
		(void)snprintf(home, sizeof(home), "%s%s", OPENAPI_SCHEMAS, s->name);
		openapi_set(oa, oa->schemas, s->name,
		    openapi_schema(oa, s->schema, home));
	}
}

/* ---- shared components --------------------------------------------------- */

static void
openapi_problem_schemas(struct openapi *oa)
{
	json_t	*p, *v;

	openapi_unique_name(oa, "bulwark.Problem", oa->problem,
	    sizeof(oa->problem));
	p = json_pack("{s:s, s:[sssss], s:{s:{s:s}, s:{s:s}, s:{s:s}, "
	    "s:{s:s}, s:{s:s}}}",
	    "type", "object",
	    "required", "type", "title", "status", "detail", "instance",
	    "properties",
	    "type", "type", "string",
	    "title", "type", "string",
	    "status", "type", "integer",
	    "detail", "type", "string",
	    "instance", "type", "string");
	openapi_set(oa, oa->schemas, oa->problem, p);
	openapi_unique_name(oa, "bulwark.ValidationProblem", oa->invalid,
	    sizeof(oa->invalid));
	v = json_pack("{s:[o, {s:{s:{s:s, s:i, s:{s:s, s:[ss], s:{s:{s:s}, "
	    "s:{s:s}}}}}}]}",
	    "allOf", openapi_ref(OPENAPI_SCHEMAS, oa->problem),
	    "properties", "errors", "type", "array", "maxItems", 16,
	    "items", "type", "object", "required", "pointer", "message",
	    "properties", "pointer", "type", "string",
	    "message", "type", "string");
	openapi_set(oa, oa->schemas, oa->invalid, v);
}

static json_t *
openapi_error_response(struct openapi *oa, size_t i)
{
	json_t		*r, *h;
	const char	*schema;

	schema = openapi_errors[i].validation ? oa->invalid : oa->problem;
	r = json_pack("{s:s, s:{s:{s:o}}}",
	    "description", openapi_errors[i].description,
	    "content", "application/problem+json",
	    "schema", openapi_ref(OPENAPI_SCHEMAS, schema));
	h = json_pack("{s:{s:s}}", "X-Request-Id",
	    "$ref", "#/components/headers/X-Request-Id");
	if (openapi_errors[i].status == 429 ||
	    openapi_errors[i].status == 503)
		openapi_set(oa, h, "Retry-After", json_pack("{s:s, s:{s:s}}",
		    "description", "Seconds to wait before retrying",
		    "schema", "type", "integer"));
	if (openapi_errors[i].status == 401)
		openapi_set(oa, h, "WWW-Authenticate", json_pack("{s:{s:s}}",
		    "schema", "type", "string"));
	openapi_set(oa, r, "headers", h);
	return r;
}

static void
openapi_components(struct openapi *oa)
{
	json_t	*comp, *resp, *sec;
	char	 name[16];
	size_t	 i;

	comp = openapi_member(oa, oa->doc, "components");
	openapi_set(oa, comp, "headers", json_pack("{s:{s:s, s:{s:s, s:s}}}",
	    "X-Request-Id", "description", "The request id (also the "
	    "problem's instance)", "schema", "type", "string", "pattern",
	    "^[A-Za-z0-9._:-]{1,64}$"));
	resp = openapi_member(oa, comp, "responses");
	for (i = 0; i < BW_ARRAY_LEN(openapi_errors); i++) {
		(void)snprintf(name, sizeof(name), "Problem%d",
		    openapi_errors[i].status);
		openapi_set(oa, resp, name, openapi_error_response(oa, i));
	}
	if (oa->conf->auth == NULL)
		return;
	sec = openapi_member(oa, comp, "securitySchemes");
	openapi_set(oa, sec, "bearer", json_pack("{s:s, s:s, s:s, s:s}",
	    "type", "http", "scheme", "bearer", "bearerFormat", "JWT",
	    "description", "An access token from the login endpoint"));
	if (oa->conf->auth->api_keys)
		openapi_set(oa, sec, "apiKey", json_pack("{s:s, s:s, s:s}",
		    "type", "apiKey", "in", "header", "name", "X-API-Key"));
}

/* ---- operations ----------------------------------------------------------- */

static bool
openapi_public(const struct conf_route *rt)
{
	size_t	 i;

	for (i = 0; i < rt->nroles; i++)
		if (strcmp(rt->roles[i], "public") == 0)
			return true;
	return false;
}

/*
 * Which problems a route can answer with (bulwarkd(8), OpenAPI): 400,
 * 500, 503 and 504 always (framing and parameters, the database); 401
 * wherever credentials are checked; 403 unless the route is public (and
 * from SQLSTATE 42501 on any route); 404 for object and value results;
 * 409 for the writing methods; 413 and 415 with a body; 422 with a body
 * or from the data; 429 with a rate limit.
 */
static bool
openapi_error_applies(const struct openapi *oa, const struct conf_route *rt,
    int status)
{
	switch (status) {
	case 401:
		return oa->conf->auth != NULL || !openapi_public(rt);
	case 404:
		return rt->result == RESULT_OBJECT ||
		    rt->result == RESULT_VALUE;
	case 409:
		return rt->method != METHOD_GET;
	case 413:
	case 415:
		return rt->body != NULL;
	case 429:
		return rt->rate_limit.enabled;
	default:
		return true;
	}
}

static json_t *
openapi_success(struct openapi *oa, const struct conf_route *rt,
    json_t *schema)
{
	json_t	*r;

	r = json_pack("{s:s, s:{s:{s:s}}}", "description", "Success",
	    "headers", "X-Request-Id", "$ref",
	    "#/components/headers/X-Request-Id");
	switch (schema != NULL ? RESULT_VALUE : rt->result) {
	case RESULT_NONE:
		return r;
	case RESULT_OBJECT:
		schema = openapi_type("object");
		break;
	case RESULT_ARRAY:
		schema = json_pack("{s:s, s:{s:s}}", "type", "array",
		    "items", "type", "object");
		break;
	default:
		if (schema == NULL)
			schema = json_object();
		break;
	}
	openapi_set(oa, r, "content", json_pack("{s:{s:o}}",
	    "application/json", "schema", schema));
	return r;
}

/* What a built-in endpoint states beyond its route. */
struct openapi_extra {
	const char	*summary;
	json_t		*body;		/* request body schema (owned) */
	json_t		*result;	/* success body schema (owned) */
	bool		 builtin;	/* fixed SQL: no 403, 409 */
	bool		 bearer_only;	/* API keys are not accepted */
	bool		 anonymous;	/* no credentials are taken */
};

static json_t *
openapi_responses(struct openapi *oa, const struct conf_route *rt,
    struct openapi_extra *x)
{
	json_t	*out;
	char	 code[16], ref[64];
	int	 st;
	size_t	 i;

	out = json_object();
	(void)snprintf(code, sizeof(code), "%d", rt->status);
	openapi_set(oa, out, code, openapi_success(oa, rt, x->result));
	x->result = NULL;
	for (i = 0; i < BW_ARRAY_LEN(openapi_errors); i++) {
		st = openapi_errors[i].status;
		if (!openapi_error_applies(oa, rt, st) ||
		    (x->builtin && (st == 403 || st == 409)))
			continue;
		(void)snprintf(code, sizeof(code), "%d", st);
		(void)snprintf(ref, sizeof(ref), "#/components/responses/Problem%d",
		    st);
		openapi_set(oa, out, code, json_pack("{s:s}", "$ref", ref));
	}
	return out;
}

/* The route's roles other than public (the ones a credential must carry). */
static json_t *
openapi_roles(struct openapi *oa, const struct conf_route *rt)
{
	json_t	*roles;
	size_t	 i;

	roles = json_array();
	for (i = 0; i < rt->nroles; i++)
		if (strcmp(rt->roles[i], "public") != 0)
			openapi_push(oa, roles, json_string(rt->roles[i]));
	return roles;
}

/* Alternatives: anonymous ({}) for public routes, else Bearer or key. */
static json_t *
openapi_security(struct openapi *oa, const struct conf_route *rt,
    const struct openapi_extra *x)
{
	json_t	*out, *roles;

	out = json_array();
	if (openapi_public(rt))
		openapi_push(oa, out, json_object());
	if (oa->conf->auth == NULL || x->anonymous)
		return out;
	roles = openapi_roles(oa, rt);
	openapi_push(oa, out, json_pack("{s:O}", "bearer", roles));
	if (oa->conf->auth->api_keys && !x->bearer_only)
		openapi_push(oa, out, json_pack("{s:O}", "apiKey", roles));
	json_decref(roles);
	return out;
}

static json_t *
openapi_parameter(struct openapi *oa, const struct conf_route *rt,
    const char *in, const char *name, const struct node *schema,
    bool required)
{
	char	 base[OPENAPI_NAME_MAX];

	(void)snprintf(base, sizeof(base), "route.%s.%s.%s", rt->name, in, name);
	return json_pack("{s:s, s:s, s:b, s:o}", "name", name, "in", in,
	    "required", required, "schema", openapi_use(oa, schema, base));
}

static void
openapi_path_params(struct openapi *oa, const struct conf_route *rt,
    json_t *out)
{
	const char		*p, *end;
	const struct node	*schema;
	char			 name[OPENAPI_PARAM_MAX];
	size_t			 len;

	for (p = strchr(rt->path, '{'); p != NULL; p = strchr(end, '{')) {
		if ((end = strchr(p, '}')) == NULL)
			return;
		len = (size_t)(end - p - 1);
		if (len >= sizeof(name))
			continue;
		memcpy(name, p + 1, len);
		name[len] = '\0';
		if ((schema = node_get(rt->params, name)) != NULL)
			openapi_push(oa, out, openapi_parameter(oa, rt, "path",
			    name, schema, true));
	}
}

static bool
openapi_query_required(const struct conf_route *rt, const char *name)
{
	size_t	 i;

	for (i = 0; i < rt->nquery_required; i++)
		if (strcmp(rt->query_required[i], name) == 0)
			return true;
	return false;
}

static void
openapi_query_params(struct openapi *oa, const struct conf_route *rt,
    json_t *out)
{
	const char	*name;
	size_t		 i;

	for (i = 0; i < rt->query->n; i++) {
		name = rt->query->keys[i]->text;
		openapi_push(oa, out, openapi_parameter(oa, rt, "query", name,
		    rt->query->vals[i], openapi_query_required(rt, name)));
	}
}

/* The path's {name} parameters, then the query parameters. */
static json_t *
openapi_parameters(struct openapi *oa, const struct conf_route *rt)
{
	json_t	*out;

	out = json_array();
	if (rt->params != NULL)
		openapi_path_params(oa, rt, out);
	if (rt->query != NULL)
		openapi_query_params(oa, rt, out);
	return out;
}

static json_t *
openapi_request_body(struct openapi *oa, const struct conf_route *rt,
    json_t *body)
{
	char	 base[OPENAPI_NAME_MAX];

	if (body == NULL && rt->body == NULL)
		return NULL;
	if (body == NULL) {
		(void)snprintf(base, sizeof(base), "route.%s.body", rt->name);
		body = openapi_use(oa, rt->body, base);
	}
	return json_pack("{s:b, s:{s:{s:o}}}", "required", 1,
	    "content", "application/json", "schema", body);
}

static const char *
openapi_method(enum conf_method m)
{
	switch (m) {
	case METHOD_GET:
		return "get";
	case METHOD_POST:
		return "post";
	case METHOD_PUT:
		return "put";
	case METHOD_PATCH:
		return "patch";
	default:
		return "delete";
	}
}

static void
openapi_operation(struct openapi *oa, const struct conf_route *rt,
    struct openapi_extra *x)
{
	json_t	*op, *params, *body;

	op = json_pack("{s:s}", "operationId", rt->name);
	if (x->summary != NULL)
		openapi_set(oa, op, "summary", json_string(x->summary));
	params = openapi_parameters(oa, rt);
	if (json_array_size(params) > 0)
		openapi_set(oa, op, "parameters", params);
	else
		json_decref(params);
	if ((body = openapi_request_body(oa, rt, x->body)) != NULL)
		openapi_set(oa, op, "requestBody", body);
	x->body = NULL;
	openapi_set(oa, op, "responses", openapi_responses(oa, rt, x));
	openapi_set(oa, op, "security", openapi_security(oa, rt, x));
	openapi_set(oa, op, "x-bulwark-roles", openapi_roles(oa, rt));
	openapi_set(oa, openapi_member(oa, oa->paths, rt->path),
	    openapi_method(rt->method), op);
}

static void
openapi_routes(struct openapi *oa)
{
	struct openapi_extra	 x;
	size_t			 i;

	for (i = 0; i < oa->conf->nroutes; i++) {
		memset(&x, 0, sizeof(x));
		openapi_operation(oa, &oa->conf->routes[i], &x);
	}
}

/* ---- the built-in /auth endpoints ------------------------------------------ */

enum openapi_ep_body {
	OPENAPI_EP_NONE,
	OPENAPI_EP_LOGIN,
	OPENAPI_EP_REFRESH,
	OPENAPI_EP_PASSWORD,
};

static const struct {
	const char		*name;
	const char		*suffix;
	enum conf_method	 method;
	enum openapi_ep_body	 body;
	bool			 tokens;	/* answers a token pair */
	bool			 bearer;	/* needs an access token */
	bool			 anonymous;	/* takes no credentials */
	const char		*summary;
} openapi_eps[] = {
	{ "auth_login", "/login", METHOD_POST, OPENAPI_EP_LOGIN, true, false,
	    true, "Log in with a username and password" },
	{ "auth_refresh", "/refresh", METHOD_POST, OPENAPI_EP_REFRESH, true,
	    false, true, "Exchange a refresh token for a new token pair" },
	{ "auth_logout", "/logout", METHOD_POST, OPENAPI_EP_REFRESH, false,
	    false, false, "Revoke a refresh token's family (Bearer optional)" },
	{ "auth_me", "/me", METHOD_GET, OPENAPI_EP_NONE, false, true, false,
	    "The caller's identity and roles" },
	{ "auth_password", "/password", METHOD_POST, OPENAPI_EP_PASSWORD,
	    false, true, false, "Change the caller's password" },
};

/* A closed object of string members, all required. */
static json_t *
openapi_strings(struct openapi *oa, const char *const *names, size_t n)
{
	json_t	*props, *req;
	size_t	 i;

	props = json_object();
	req = json_array();
	for (i = 0; i < n; i++) {
		openapi_set(oa, props, names[i], openapi_type("string"));
		openapi_push(oa, req, json_string(names[i]));
	}
	return json_pack("{s:s, s:o, s:o, s:b}", "type", "object",
	    "properties", props, "required", req,
	    "additionalProperties", 0);
}

static json_t *
openapi_ep_body(struct openapi *oa, enum openapi_ep_body b)
{
	static const char *const login[] = { "username", "password" };
	static const char *const refresh[] = { "refresh_token" };
	static const char *const password[] = {
		"current_password", "new_password" };

	switch (b) {
	case OPENAPI_EP_LOGIN:
		return openapi_strings(oa, login, BW_ARRAY_LEN(login));
	case OPENAPI_EP_REFRESH:
		return openapi_strings(oa, refresh, BW_ARRAY_LEN(refresh));
	case OPENAPI_EP_PASSWORD:
		return openapi_strings(oa, password, BW_ARRAY_LEN(password));
	default:
		return NULL;
	}
}

static json_t *
openapi_ep_result(size_t i)
{
	if (openapi_eps[i].tokens)
		return json_pack("{s:s, s:[ssss], s:{s:{s:s}, s:{s:s, s:s}, "
		    "s:{s:s}, s:{s:s}}}", "type", "object",
		    "required", "access_token", "token_type", "expires_in",
		    "refresh_token", "properties",
		    "access_token", "type", "string",
		    "token_type", "type", "string", "const", "Bearer",
		    "expires_in", "type", "integer",
		    "refresh_token", "type", "string");
	if (openapi_eps[i].method == METHOD_GET)
		return json_pack("{s:s, s:[sss], s:{s:{s:s}, s:{s:s}, "
		    "s:{s:s, s:{s:s}}}}", "type", "object",
		    "required", "id", "username", "roles", "properties",
		    "id", "type", "string", "username", "type", "string",
		    "roles", "type", "array", "items", "type", "string");
	return NULL;
}

static void
openapi_endpoint(struct openapi *oa, size_t i, char *path, size_t pathsz)
{
	static char		 public[] = "public";
	static char		*public_role[] = { public };
	static struct node	 any = { .kind = NODE_MAP };
	struct conf_route	 rt;
	struct openapi_extra	 x;
	char			 name[32];

	(void)snprintf(path, pathsz, "%s%s", oa->conf->auth->endpoints,
	    openapi_eps[i].suffix);
	(void)snprintf(name, sizeof(name), "%s", openapi_eps[i].name);
	memset(&rt, 0, sizeof(rt));
	rt.name = name;
	rt.path = path;
	rt.method = openapi_eps[i].method;
	rt.roles = openapi_eps[i].bearer ? NULL : public_role;
	rt.nroles = openapi_eps[i].bearer ? 0 : 1;
	rt.body = openapi_eps[i].body != OPENAPI_EP_NONE ? &any : NULL;
	rt.result = RESULT_NONE;
	rt.rate_limit = oa->conf->auth->endpoint_rate_limit;
	memset(&x, 0, sizeof(x));
	x.summary = openapi_eps[i].summary;
	x.body = openapi_ep_body(oa, openapi_eps[i].body);
	x.result = openapi_ep_result(i);
	rt.status = x.result != NULL ? 200 : 204;
	x.builtin = true;
	x.bearer_only = true;
	x.anonymous = openapi_eps[i].anonymous;
	openapi_operation(oa, &rt, &x);
}

static void
openapi_endpoints(struct openapi *oa)
{
	char	 path[OPENAPI_NAME_MAX + 64];
	size_t	 i;

	if (oa->conf->auth == NULL || oa->conf->auth->endpoints == NULL)
		return;
	for (i = 0; i < BW_ARRAY_LEN(openapi_eps); i++)
		openapi_endpoint(oa, i, path, sizeof(path));
}

/* ---- the document ---------------------------------------------------------- */

static void
openapi_info(struct openapi *oa)
{
	char	 version[16];

	(void)snprintf(version, sizeof(version), "%d", oa->conf->version);
	openapi_set(oa, oa->doc, "openapi", json_string(OPENAPI_VERSION));
	openapi_set(oa, oa->doc, "info", json_pack("{s:s, s:s, s:s}",
	    "title", "bulwarkd API", "version", version, "description",
	    "Routes served by bulwarkd, generated from its configuration. "
	    "Errors are RFC 9457 problem details."));
	openapi_set(oa, oa->doc, "jsonSchemaDialect",
	    json_string(OPENAPI_DIALECT));
}

json_t *
openapi_document(const struct conf *conf)
{
	struct openapi	 oa;

	memset(&oa, 0, sizeof(oa));
	oa.conf = conf;
	if ((oa.doc = json_object()) == NULL)
		return NULL;
	openapi_info(&oa);
	oa.paths = openapi_member(&oa, oa.doc, "paths");
	oa.schemas = openapi_member(&oa,
	    openapi_member(&oa, oa.doc, "components"), "schemas");
	openapi_named_schemas(&oa);
	openapi_problem_schemas(&oa);
	openapi_components(&oa);
	openapi_routes(&oa);
	openapi_endpoints(&oa);
	if (oa.failed) {
		json_decref(oa.doc);
		return NULL;
	}
	return oa.doc;
}

int
openapi_print(const struct conf *conf, FILE *out)
{
	json_t	*doc;
	int	 rv;

	if ((doc = openapi_document(conf)) == NULL)
		return -1;
	rv = json_dumpf(doc, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(doc);
	if (rv == -1 || fputc('\n', out) == EOF)
		return -1;
	return 0;
}
