/*
 * api.c - declared routes at run time (SPEC 6, 7).
 *
 * Load time: every route's SQL goes through the placeholder lexer, every
 * placeholder is checked against what the route can supply, and every
 * parameter and body schema is compiled.  Request time: path and query
 * values are coerced and validated before the body is read, the body is
 * validated after, and only validated values are bound as parameters of
 * the route's prepared statement.  Client input never becomes SQL text.
 *
 * A request's call state (struct api_call) owns every value it binds and
 * is freed in one place, api_call_free(), whichever way the request ends.
 *
 * Audited routes (SPEC 9): the segment's context statement also inserts
 * the bulwark.audit row (actor, route, the body members of audit_fields
 * and no other) in the route's transaction, so a committed write always
 * has its row; after commit the record goes to the audit writer with the
 * row's id, and under fsync: always the response waits for the writer's
 * answer.  A request that ends while its audited segment is in flight
 * hands the segment to audit_orphan.c, which sends the record once it
 * commits.  A record the writer does not take is logged: its row reaches
 * the file by the writer's recovery.  Under on_failure: reject an audited
 * request that arrives while the writer reports the log unwritable is
 * answered 503 before anything runs.  Audited routes run on the primary:
 * replica: true on one is a load error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "api.h"
#include "audit.h"
#include "audit_client.h"
#include "audit_orphan.h"
#include "auth.h"
#include "authdb.h"
#include "authep.h"
#include "http.h"
#include "json.h"
#include "jsonw.h"
#include "log.h"
#include "node.h"
#include "problem.h"
#include "result.h"
#include "router.h"
#include "schema.h"
#include "sqlstate.h"
#include "sqltext.h"
#include "util.h"

#define API_MAX_QUERY		32	/* declared query parameters per route */
#define API_MEMBER_DEPTH	32
#define API_AUDIT_DETAIL_MAX	AUDIT_DETAIL_MAX	/* bytes of JSON text */

static const char *const api_claims[] = {
	"iss", "aud", "sub", "name", "roles", "sid", "iat", "nbf", "exp",
	"jti",
};

struct api_param {
	const char		*name;
	const struct schema	*schema;
	bool			 required;
};

struct api_route {
	struct api		*api;
	const struct conf_route	*conf;
	struct http_route_ops	 ops;		/* arg: this route */
	struct sqltext		*sql;
	const struct schema	*body;
	struct api_param	*path;
	size_t			 npath;
	struct api_param	*query;
	size_t			 nquery;
	char			 timeout[24];	/* statement_timeout value */
	struct db_stmt_def	 def;		/* its statement */
	size_t			 stmt;		/* ... in the attached pool */
	size_t			 rstmt;		/* ... in every replica pool */
};

struct api {
	const struct conf	*conf;
	struct schema_set	*schemas;
	struct api_route	*routes;
	size_t			 nroutes;
	struct db_stmt_def	*checks;	/* every statement, for -t */
	const struct api_route	**check_rt;	/* ... and its route or NULL */
	size_t			 nchecks;
	struct db_pool		*pool;
	struct db_pool		**replicas;	/* for replica: true routes */
	size_t			 nreplicas;
	size_t			 next_replica;	/* round robin */
	struct audit_client	*audit;		/* NULL: no writer attached */
	const char		*instance;
	size_t			 audit_stmt;	/* db_ctx_audit_def in pool */
	bool			 audit_down;	/* logged as unwritable */
};

/* One request on its way through validation and the database. */
struct api_call {
	struct http_request	*req;
	struct api		*api;
	const struct api_route	*rt;
	struct node		*path[ROUTER_MAX_PARAMS];
	struct node		*query[API_MAX_QUERY];
	struct db_req		*dbreq;
	struct result		*result;
	struct auth_principal	*principal;	/* NULL: anonymous */
	int64_t			 audit_id;	/* the bulwark.audit row */
	char			*audit_detail;	/* its detail (JSON text) */
	int			 audit_status;	/* the response waiting */
	enum problem_code	 audit_problem;	/* ... or this, when set */
	bool			 audit_waiting;	/* for the writer's answer */
};

static int	 api_prepare(struct http_request *, void *);
static void	 api_handle(struct http_request *, void *);
static void	 api_audit_orphan(struct api_call *);

static const struct node *
api_named_schema(const struct conf *conf, const char *name)
{
	size_t	 i;

	for (i = 0; i < conf->nschemas; i++)
		if (strcmp(conf->schemas[i].name, name) == 0)
			return conf->schemas[i].schema;
	return NULL;
}

/* A schema node, following a schema name or {"$ref": NAME}. */
static const struct node *
api_resolve(const struct conf *conf, const struct node *n, int depth)
{
	const struct node	*ref;

	for (; n != NULL && depth < API_MEMBER_DEPTH; depth++) {
		/* A string names a schema, quoted or not (SPEC 4 scalars). */
		if (n->kind == NODE_SCALAR && (n->style == NODE_STRING ||
		    (n->style == NODE_PLAIN && strcmp(n->text, "true") != 0 &&
		    strcmp(n->text, "false") != 0)))
			n = api_named_schema(conf, n->text);
		else if (n->kind == NODE_MAP &&
		    (ref = node_get(n, "$ref")) != NULL &&
		    ref->kind == NODE_SCALAR && ref->text[0] != '#')
			n = api_named_schema(conf, ref->text);
		else
			return n;
	}
	return NULL;
}

/* :body.a.b must be reachable through `properties` (SPEC 7). */
static bool
api_member_reachable(const struct conf *conf, const struct node *schema,
    char *const *names, size_t n)
{
	const struct node	*props;
	size_t			 i;

	for (i = 0; i < n; i++) {
		schema = api_resolve(conf, schema, 0);
		if (schema == NULL || schema->kind != NODE_MAP ||
		    (props = node_get(schema, "properties")) == NULL ||
		    (schema = node_get(props, names[i])) == NULL)
			return false;
	}
	return true;
}

static bool
api_name_in(const char *name, const char *const *list, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (strcmp(name, list[i]) == 0)
			return true;
	return false;
}

static const struct api_param *
api_param_find(const struct api_param *v, size_t n, const char *name,
    size_t len, size_t *index)
{
	size_t	 i;

	for (i = 0; i < n; i++) {
		if (strlen(v[i].name) == len &&
		    memcmp(v[i].name, name, len) == 0) {
			*index = i;
			return &v[i];
		}
	}
	return NULL;
}

/* Checks one placeholder against what the route supplies. */
static const char *
api_check_placeholder(const struct conf *conf, const struct api_route *rt,
    const struct sqltext_param *p)
{
	static const char *const user[] = { "id", "name", "roles" };
	static const char *const request[] = { "id", "ip" };
	const char	*n0 = p->nnames > 0 ? p->names[0] : "";
	size_t		 idx;

	switch (p->source) {
	case SQLTEXT_PATH:
		return p->nnames == 1 && api_param_find(rt->path, rt->npath,
		    n0, strlen(n0), &idx) != NULL ? NULL :
		    "names no path parameter of this route";
	case SQLTEXT_QUERY:
		return p->nnames == 1 && api_param_find(rt->query, rt->nquery,
		    n0, strlen(n0), &idx) != NULL ? NULL :
		    "names no query parameter of this route";
	case SQLTEXT_BODY:
		if (rt->conf->body == NULL)
			return "the route takes no body";
		return api_member_reachable(conf, rt->conf->body, p->names,
		    p->nnames) ? NULL :
		    "names a body member not reachable through properties";
	case SQLTEXT_USER:
		return p->nnames == 1 && api_name_in(n0, user,
		    BW_ARRAY_LEN(user)) ? NULL : "unknown user field";
	case SQLTEXT_CLAIMS:
		return p->nnames == 1 && api_name_in(n0, api_claims,
		    BW_ARRAY_LEN(api_claims)) ? NULL : "unknown claim";
	case SQLTEXT_REQUEST:
		return p->nnames == 1 && api_name_in(n0, request,
		    BW_ARRAY_LEN(request)) ? NULL : "unknown request field";
	}
	return "unknown source";
}

static void
api_load_sql(const struct conf *conf, struct api_route *rt,
    struct bw_diag *diag)
{
	const struct conf_route	*r = rt->conf;
	struct sqltext_error	 err;
	char			 name[160];
	size_t			 i;
	int			 line, col;
	const char		*why;

	rt->sql = sqltext_parse(r->sql, strlen(r->sql), &err);
	if (rt->sql == NULL) {
		sqltext_position(r->sql, strlen(r->sql), err.offset, &line,
		    &col);
		bw_diag_add(diag, conf->file, r->sql_pos.line, r->sql_pos.col,
		    "route %s: SQL: %s (statement line %d, column %d)",
		    r->name, err.msg, line, col);
		return;
	}
	for (i = 0; i < rt->sql->nparams; i++) {
		if ((why = api_check_placeholder(conf, rt,
		    &rt->sql->params[i])) == NULL)
			continue;
		sqltext_param_name(&rt->sql->params[i], name, sizeof(name));
		bw_diag_add(diag, conf->file, r->sql_pos.line, r->sql_pos.col,
		    "route %s: placeholder :%s %s", r->name, name, why);
	}
}

static struct api_param *
api_load_params(struct api *api, const struct node *map, size_t *n,
    struct bw_diag *diag)
{
	struct api_param	*v;
	size_t			 i;

	*n = 0;
	if (map == NULL || map->kind != NODE_MAP || map->n == 0)
		return NULL;
	v = bw_calloc(map->n, sizeof(*v));
	for (i = 0; i < map->n; i++) {
		v[i].name = map->keys[i]->text;
		v[i].schema = schema_compile(api->schemas, map->vals[i],
		    SCHEMA_PARAM, api->conf->file, diag);
	}
	*n = map->n;
	return v;
}

static void
api_load_route(struct api *api, struct api_route *rt,
    const struct conf_route *r, struct bw_diag *diag)
{
	const char	*ep;
	size_t		 i, idx;
	int		 n;

	rt->api = api;
	rt->conf = r;
	rt->ops.prepare = api_prepare;
	rt->ops.handle = api_handle;
	rt->ops.arg = rt;
	if ((ep = authep_clash(api->conf, r)) != NULL)
		bw_diag_add(diag, api->conf->file, r->pos.line, r->pos.col,
		    "route %s: %s %s is the built-in endpoint %s",
		    r->name, conf_method_name(r->method), r->path, ep);
	rt->path = api_load_params(api, r->params, &rt->npath, diag);
	rt->query = api_load_params(api, r->query, &rt->nquery, diag);
	if (rt->nquery > API_MAX_QUERY)
		bw_diag_add(diag, api->conf->file, r->pos.line, r->pos.col,
		    "route %s: more than %d query parameters", r->name,
		    API_MAX_QUERY);
	for (i = 0; i < r->nquery_required; i++) {
		const char	*q = r->query_required[i];

		if (api_param_find(rt->query, rt->nquery, q, strlen(q),
		    &idx) != NULL)
			rt->query[idx].required = true;
		else
			bw_diag_add(diag, api->conf->file, r->pos.line,
			    r->pos.col, "route %s: query_required names "
			    "undeclared parameter '%s'", r->name, q);
	}
	if (r->body != NULL)
		rt->body = schema_compile(api->schemas, r->body, SCHEMA_BODY,
		    api->conf->file, diag);
	n = snprintf(rt->timeout, sizeof(rt->timeout), "%lldms",
	    (long long)(r->timeout_ms > 0 ? r->timeout_ms :
	    api->conf->database != NULL ?
	    api->conf->database->statement_timeout_ms : 5000));
	if (n < 0 || (size_t)n >= sizeof(rt->timeout))
		bw_diag_add(diag, api->conf->file, r->pos.line, r->pos.col,
		    "route %s: timeout out of range", r->name);
	if (r->audit > 0 && r->replica)
		bw_diag_add(diag, api->conf->file, r->pos.line, r->pos.col,
		    "route %s: an audited route runs on the primary "
		    "(replica: true with audit)", r->name);
	api_load_sql(api->conf, rt, diag);
}

static void
api_check_add(struct api *api, const struct db_stmt_def *def,
    const struct api_route *rt)
{
	api->checks[api->nchecks] = *def;
	api->check_rt[api->nchecks++] = rt;
}

/*
 * Every statement a worker prepares, for the load-time check: the pool's
 * context statements, the routes', and with an auth section bulwark's own.
 */
static void
api_load_statements(struct api *api)
{
	const struct db_stmt_def	*ctx;
	size_t				 i, nctx, n;

	ctx = db_ctx_stmts(&nctx);
	n = nctx + 1 + api->nroutes + (api->conf->auth != NULL ?
	    AUTHDB_STMT_COUNT : 0);
	api->checks = bw_calloc(n, sizeof(*api->checks));
	api->check_rt = bw_calloc(n, sizeof(*api->check_rt));
	for (i = 0; i < nctx; i++)
		api_check_add(api, &ctx[i], NULL);
	if (api->conf->audit != NULL)
		api_check_add(api, &db_ctx_audit_def, NULL);
	for (i = 0; i < api->nroutes; i++) {
		api->routes[i].def.sql = api->routes[i].sql->sql;
		api->routes[i].def.nparams = (int)api->routes[i].sql->nparams;
		api_check_add(api, &api->routes[i].def, &api->routes[i]);
	}
	for (i = 0; api->conf->auth != NULL && i < AUTHDB_STMT_COUNT; i++)
		api_check_add(api, &authdb_stmts[i], NULL);
}

struct api *
api_load(const struct conf *conf, struct bw_diag *diag)
{
	struct api	*api;
	size_t		 i, errors = diag->errors;

	api = bw_calloc(1, sizeof(*api));
	api->conf = conf;
	api->schemas = schema_set_new();
	for (i = 0; i < conf->nschemas; i++)
		schema_add_named(api->schemas, conf->schemas[i].name,
		    conf->schemas[i].schema, conf->file, diag);
	schema_set_check(api->schemas, diag);
	api->nroutes = conf->nroutes;
	api->routes = bw_calloc(conf->nroutes, sizeof(*api->routes));
	for (i = 0; i < conf->nroutes; i++)
		api_load_route(api, &api->routes[i], &conf->routes[i], diag);
	if (diag->errors > errors) {
		api_free(api);
		return NULL;
	}
	api_load_statements(api);
	return api;
}

void
api_free(struct api *api)
{
	size_t	 i;

	if (api == NULL)
		return;
	for (i = 0; i < api->nroutes; i++) {
		sqltext_free(api->routes[i].sql);
		free(api->routes[i].path);
		free(api->routes[i].query);
	}
	free(api->routes);
	free(api->checks);
	free(api->check_rt);
	schema_set_free(api->schemas);
	free(api);
}

const struct db_stmt_def *
api_statements(const struct api *api, size_t *n)
{
	*n = api->nchecks;
	return api->checks;
}

const struct conf_route *
api_statement_route(const struct api *api, size_t i)
{
	if (i >= api->nchecks || api->check_rt[i] == NULL)
		return NULL;
	return api->check_rt[i]->conf;
}

/* The `type` a schema node declares, when it is one string. */
static const char *
api_schema_type(const struct conf *conf, const struct node *schema)
{
	const struct node	*t;

	schema = api_resolve(conf, schema, 0);
	if (schema == NULL || schema->kind != NODE_MAP ||
	    (t = node_get(schema, "type")) == NULL || t->kind != NODE_SCALAR)
		return NULL;
	return t->text;
}

/* The JSON type a placeholder binds, or NULL when it may be anything. */
static const char *
api_source_type(const struct api *api, const struct api_route *rt,
    const struct sqltext_param *p)
{
	const struct conf_route	*r = rt->conf;
	const struct node	*n = NULL, *props;
	size_t			 i;

	switch (p->source) {
	case SQLTEXT_PATH:
	case SQLTEXT_QUERY:
		n = node_get(p->source == SQLTEXT_PATH ? r->params : r->query,
		    p->names[0]);
		return api_schema_type(api->conf, n);
	case SQLTEXT_BODY:
		if (p->nnames == 0)
			return "object";
		n = r->body;
		for (i = 0; i < p->nnames && n != NULL; i++) {
			n = api_resolve(api->conf, n, 0);
			props = n != NULL ? node_get(n, "properties") : NULL;
			n = props != NULL ? node_get(props, p->names[i]) : NULL;
		}
		return api_schema_type(api->conf, n);
	case SQLTEXT_USER:
		return strcmp(p->names[0], "roles") == 0 ? "roles" : "string";
	case SQLTEXT_CLAIMS:
	case SQLTEXT_REQUEST:
		return "string";
	}
	return NULL;
}

enum api_oid_class {
	OID_INTEGER,
	OID_DECIMAL,
	OID_BOOL,
	OID_TEXT_ARRAY,
	OID_OTHER,
};

static enum api_oid_class
api_oid_class(Oid oid)
{
	switch (oid) {
	case 20: case 21: case 23:		/* int8 int2 int4 */
		return OID_INTEGER;
	case 700: case 701: case 1700:		/* float4 float8 numeric */
		return OID_DECIMAL;
	case 16:				/* bool */
		return OID_BOOL;
	case 1009: case 1015:			/* text[] varchar[] */
		return OID_TEXT_ARRAY;
	default:
		return OID_OTHER;
	}
}

/* Whether a value of JSON type `type` can be bound to a parameter of oid. */
static bool
api_type_fits(const char *type, Oid oid)
{
	enum api_oid_class	 c = api_oid_class(oid);

	if (type == NULL)
		return true;
	if (strcmp(type, "roles") == 0)
		return c == OID_TEXT_ARRAY || c == OID_OTHER;
	if (strcmp(type, "integer") == 0)
		return c != OID_BOOL && c != OID_TEXT_ARRAY;
	if (strcmp(type, "number") == 0)
		return c == OID_DECIMAL || c == OID_OTHER;
	if (strcmp(type, "boolean") == 0)
		return c == OID_BOOL || c == OID_OTHER;
	return c == OID_OTHER;
}

int
api_check_types(const struct api *api, size_t stmt, const PGresult *desc,
    struct bw_diag *diag)
{
	const struct api_route	*rt;
	const struct conf_route	*r;
	const char		*type;
	char			 name[160];
	size_t			 i;
	int			 rv = 0;

	if (stmt >= api->nchecks || (rt = api->check_rt[stmt]) == NULL)
		return 0;
	r = rt->conf;
	for (i = 0; i < rt->sql->nparams && (int)i < PQnparams(desc); i++) {
		type = api_source_type(api, rt, &rt->sql->params[i]);
		if (api_type_fits(type, PQparamtype(desc, (int)i)))
			continue;
		sqltext_param_name(&rt->sql->params[i], name, sizeof(name));
		bw_diag_add(diag, api->conf->file, r->sql_pos.line,
		    r->sql_pos.col, "route %s: placeholder :%s (%s) cannot "
		    "bind parameter $%zu of type oid %u", r->name, name, type,
		    i + 1, PQparamtype(desc, (int)i));
		rv = -1;
	}
	if (r->result == RESULT_VALUE && PQnfields(desc) != 1) {
		bw_diag_add(diag, api->conf->file, r->sql_pos.line,
		    r->sql_pos.col, "route %s: a value route must return "
		    "exactly one column (it returns %d)", r->name,
		    PQnfields(desc));
		rv = -1;
	}
	return rv;
}

int
api_add_routes(struct api *api, struct http_server *srv, const char **err)
{
	size_t	 i;

	for (i = 0; i < api->nroutes; i++)
		if (http_server_add_route(srv, api->routes[i].conf,
		    &api->routes[i].ops, err) == -1)
			return -1;
	return 0;
}

void
api_attach_pool(struct api *api, struct db_pool *pool)
{
	size_t	 i;

	api->pool = pool;
	for (i = 0; pool != NULL && i < api->nroutes; i++)
		api->routes[i].stmt = db_pool_stmt_add(pool,
		    &api->routes[i].def);
	if (pool != NULL && api->conf->audit != NULL)
		api->audit_stmt = db_pool_stmt_add(pool, &db_ctx_audit_def);
}

void
api_attach_audit(struct api *api, struct audit_client *c,
    const char *instance)
{
	api->audit = c;
	api->instance = instance;
}

/*
 * The replica pools (SPEC 13): every one gets the statements of the
 * replica: true routes, in the same order, so a statement has the same
 * handle in each.
 */
void
api_attach_replicas(struct api *api, struct db_pool **pools, size_t n)
{
	size_t	 i, k, h;

	api->replicas = pools;
	api->nreplicas = n;
	api->next_replica = 0;
	for (i = 0; i < api->nroutes; i++) {
		if (!api->routes[i].conf->replica)
			continue;
		for (k = 0; k < n; k++) {
			h = db_pool_stmt_add(pools[k], &api->routes[i].def);
			if (k > 0 && h != api->routes[i].rstmt)
				fatal("replica pools disagree on statements");
			api->routes[i].rstmt = h;
		}
	}
}

static void
api_call_free(void *arg)
{
	struct api_call	*call = arg;
	size_t		 i;

	if (call == NULL)
		return;
	if (call->dbreq != NULL && call->audit_detail != NULL &&
	    call->api->audit != NULL)
		api_audit_orphan(call);
	else if (call->dbreq != NULL)
		db_abandon(call->dbreq);
	if (call->audit_waiting && call->api->audit != NULL)
		audit_client_cancel(call->api->audit, call);
	free(call->audit_detail);
	for (i = 0; i < ROUTER_MAX_PARAMS; i++)
		node_free(call->path[i]);
	for (i = 0; i < API_MAX_QUERY; i++)
		node_free(call->query[i]);
	result_free(call->result);
	auth_principal_free(call->principal);
	free(call);
}

/* Adds a parameter failure to the validation list being built. */
static void
api_errors_add(struct schema_errors *errs, const char *name,
    const char *message)
{
	struct schema_error	*e;

	if (errs->n >= SCHEMA_ERRORS_MAX) {
		errs->truncated = true;
		return;
	}
	e = &errs->v[errs->n++];
	/* Parameter names come from the configuration and are short. */
	if (snprintf(e->pointer, sizeof(e->pointer), "/%s", name) >=
	    (int)sizeof(e->pointer))
		e->pointer[0] = '\0';
	bw_strlcpy(e->message, message, sizeof(e->message));
}

static void
api_errors_merge(struct schema_errors *to, const struct schema_errors *from)
{
	size_t	 i;

	for (i = 0; i < from->n; i++) {
		if (to->n >= SCHEMA_ERRORS_MAX) {
			to->truncated = true;
			return;
		}
		to->v[to->n++] = from->v[i];
	}
}

static void
api_respond_errors(struct http_request *req, enum problem_code code,
    const struct schema_errors *errs)
{
	struct problem_error	 pe[SCHEMA_ERRORS_MAX];
	size_t			 i;

	for (i = 0; i < errs->n; i++) {
		pe[i].pointer = errs->v[i].pointer;
		pe[i].message = errs->v[i].message;
	}
	http_respond_validation(req, code, pe, errs->n);
}

static void
api_coerce_path(struct api_call *call, const struct router_match *m,
    struct schema_errors *errs)
{
	const struct api_param	*p;
	struct schema_errors	 one;
	size_t			 i, idx;

	for (i = 0; i < m->nparams; i++) {
		p = api_param_find(call->rt->path, call->rt->npath,
		    m->params[i].name, strlen(m->params[i].name), &idx);
		if (p == NULL || p->schema == NULL)
			continue;
		one.n = 0;
		one.truncated = false;
		if (schema_coerce_param(p->schema, p->name, m->params[i].value,
		    m->params[i].len, &call->path[idx], &one) == -1)
			api_errors_merge(errs, &one);
	}
}

static void
api_coerce_query(struct api_call *call, const struct http_head *h,
    struct schema_errors *errs)
{
	const struct api_route	*rt = call->rt;
	const struct api_param	*p;
	struct router_query	 q;
	struct router_qparam	 qp;
	struct schema_errors	 one;
	bool			 seen[API_MAX_QUERY] = { false };
	char			*buf;
	size_t			 i, idx;
	int			 rv;

	buf = bw_malloc(h->query_len + 2);
	router_query_init(&q, h->query, h->query != NULL ? h->query_len : 0);
	while ((rv = router_query_next(&q, &qp, buf, h->query_len + 2)) == 1) {
		p = api_param_find(rt->query, rt->nquery, qp.name, qp.name_len,
		    &idx);
		if (p == NULL) {
			api_errors_add(errs, "", "undeclared query parameter");
			continue;
		}
		if (seen[idx]) {
			api_errors_add(errs, p->name,
			    "repeated query parameter");
			continue;
		}
		seen[idx] = true;
		one.n = 0;
		one.truncated = false;
		if (schema_coerce_param(p->schema, p->name, qp.value,
		    qp.value_len, &call->query[idx], &one) == -1)
			api_errors_merge(errs, &one);
	}
	free(buf);
	if (rv == -1)
		api_errors_add(errs, "", "malformed query string");
	for (i = 0; i < rt->nquery; i++)
		if (!seen[i] && rt->query[i].required)
			api_errors_add(errs, rt->query[i].name,
			    "required query parameter missing");
}

/*
 * Before the body is read (SPEC 5 order): path and query parameters are
 * coerced and validated; a failure is 400 with the errors list.
 */
static int
api_prepare(struct http_request *req, void *arg)
{
	struct api_route	*rt = arg;
	struct api_call		*call;
	struct schema_errors	 errs = { .n = 0 };

	call = bw_calloc(1, sizeof(*call));
	call->req = req;
	call->api = rt->api;
	call->rt = rt;
	call->principal = auth_principal_take(req);
	api_coerce_path(call, http_request_match(req), &errs);
	api_coerce_query(call, http_request_head(req), &errs);
	http_request_set_ctx(req, call, api_call_free);
	if (errs.n > 0) {
		api_respond_errors(req, PROBLEM_PARAMS, &errs);
		return -1;
	}
	return 0;
}

/*
 * The text bound for a value: strings as their decoded text, numbers as
 * their (canonical) lexeme, booleans as true/false, containers as JSON
 * (serialized into *owned, which the caller frees); JSON null and absent
 * values are SQL NULL (returns NULL).
 */
static const char *
api_bind_node(const struct node *n, char **owned, size_t *len)
{
	struct evbuffer	*b;

	if (n == NULL || (n->kind == NODE_SCALAR && n->style == NODE_NULL))
		return NULL;
	if (n->kind == NODE_SCALAR) {
		*len = n->len;
		return n->text;
	}
	if ((b = evbuffer_new()) == NULL ||
	    jsonw_node(b, n, JSON_DEPTH_CEILING) == -1)
		fatal("out of memory");
	*len = evbuffer_get_length(b);
	*owned = bw_strndup((const char *)evbuffer_pullup(b, -1), *len);
	evbuffer_free(b);
	return *owned;
}

static const struct node *
api_body_member(const struct node *body, char *const *names, size_t n)
{
	size_t	 i;

	for (i = 0; i < n && body != NULL; i++)
		body = body->kind == NODE_MAP ? node_get(body, names[i]) : NULL;
	return body;
}

static const struct node *
api_path_or_query(const struct api_call *call, const struct sqltext_param *p)
{
	const struct api_route	*rt = call->rt;
	const struct api_param	*ap;
	const char		*name = p->names[0];
	size_t			 idx;

	if (p->source == SQLTEXT_PATH) {
		ap = api_param_find(rt->path, rt->npath, name, strlen(name),
		    &idx);
		return ap != NULL ? call->path[idx] : NULL;
	}
	ap = api_param_find(rt->query, rt->nquery, name, strlen(name), &idx);
	if (ap == NULL)
		return NULL;
	if (call->query[idx] != NULL)
		return call->query[idx];
	return schema_default(ap->schema);
}

/*
 * Binds $k.  Values point into the validated document where they can; the
 * pool copies them, so *owned is freed after submitting.  :user.* and
 * :claims.* come from the verified principal; anonymous callers have NULL
 * :user.* and roles {} (SPEC 7).
 */
static void
api_bind(struct api_call *call, const struct sqltext_param *p,
    const struct node *body, char **owned, const char **value, int *len)
{
	const char	*v = NULL;
	size_t		 n = 0;

	switch (p->source) {
	case SQLTEXT_PATH:
	case SQLTEXT_QUERY:
		v = api_bind_node(api_path_or_query(call, p), owned, &n);
		break;
	case SQLTEXT_BODY:
		if (p->nnames == 0)
			v = http_request_body(call->req, &n);
		else
			v = api_bind_node(api_body_member(body, p->names,
			    p->nnames), owned, &n);
		break;
	case SQLTEXT_USER:
		v = auth_user_value(call->principal, p->names[0], owned);
		n = v != NULL ? strlen(v) : 0;
		break;
	case SQLTEXT_CLAIMS:
		v = auth_claim_value(call->principal, p->names[0], owned);
		n = v != NULL ? strlen(v) : 0;
		break;
	case SQLTEXT_REQUEST:
		v = strcmp(p->names[0], "id") == 0 ?
		    http_request_id(call->req) : http_request_ip(call->req);
		n = strlen(v);
		break;
	}
	*value = v;
	*len = (int)n;
}

static enum problem_code
api_problem_for_status(int status)
{
	switch (status) {
	case 403:
		return PROBLEM_FORBIDDEN;
	case 404:
		return PROBLEM_NOT_FOUND;
	case 409:
		return PROBLEM_CONFLICT;
	case 422:
		return PROBLEM_UNPROCESSABLE;
	case 503:
		return PROBLEM_DB_UNAVAILABLE;
	case 504:
		return PROBLEM_GATEWAY_TIMEOUT;
	default:
		return PROBLEM_INTERNAL;
	}
}

static bool
api_audited(const struct api_call *call)
{
	return call->rt->conf->audit > 0 && call->api->conf->audit != NULL;
}

/* The actor of a record: user name, client address, API key id. */
static void
api_audit_actor(const struct api_call *call, struct audit_event *ev)
{
	const struct auth_principal	*p = call->principal;

	memset(ev, 0, sizeof(*ev));
	ev->request_id = http_request_id(call->req);
	ev->ip = http_request_ip(call->req);
	if (p != NULL && p->kind == AUTH_USER)
		ev->user = p->claims.name;
	if (p != NULL && p->kind == AUTH_APIKEY)
		ev->api_key = p->key_id;
}

/*
 * The detail of an audited write: the members of body named in
 * audit_fields, no other; {} beyond API_AUDIT_DETAIL_MAX bytes.
 */
static char *
api_audit_detail(const struct conf_route *r, const struct node *body)
{
	struct evbuffer		*b;
	const struct node	*v;
	char			*out;
	size_t			 i, n = 0, len;
	int			 rv;

	if ((b = evbuffer_new()) == NULL)
		fatal("out of memory");
	rv = evbuffer_add(b, "{", 1);
	for (i = 0; body != NULL && body->kind == NODE_MAP &&
	    i < r->naudit_fields; i++) {
		if ((v = node_get(body, r->audit_fields[i])) == NULL)
			continue;
		if (n++ > 0)
			rv |= evbuffer_add(b, ",", 1);
		rv |= jsonw_str(b, r->audit_fields[i],
		    strlen(r->audit_fields[i]), SIZE_MAX);
		rv |= evbuffer_add(b, ":", 1);
		rv |= jsonw_node(b, v, JSON_DEPTH_CEILING);
	}
	rv |= evbuffer_add(b, "}", 1);
	len = evbuffer_get_length(b);
	if (rv != 0 || len > API_AUDIT_DETAIL_MAX)
		out = bw_strdup("{}");
	else
		out = bw_strndup((const char *)evbuffer_pullup(b, -1), len);
	evbuffer_free(b);
	return out;
}

/*
 * The bulwark.audit row's values (AUDIT_DB_INSERT_SQL order); strings
 * point into call, path into *path (the caller frees it).
 */
static void
api_audit_values(struct api_call *call, const char **v, char **path)
{
	const struct conf_route	*r = call->rt->conf;
	const struct http_head	*h = http_request_head(call->req);
	struct audit_event	 ev;

	api_audit_actor(call, &ev);
	*path = bw_strndup(h->path, h->path_len);
	v[0] = call->api->instance;
	v[1] = "request";
	v[2] = ev.request_id;
	v[3] = ev.user;
	v[4] = ev.ip;
	v[5] = ev.api_key;
	v[6] = r->name;
	v[7] = conf_method_name(r->method);
	v[8] = *path;
	v[9] = call->audit_detail;
}

/*
 * on_failure: reject: while the writer reports the log unwritable an
 * audited request is refused before it runs; logged once per outage.
 */
static bool
api_audit_refused(struct api_call *call)
{
	struct api	*api = call->api;

	if (!api->conf->audit->on_failure_reject)
		return false;
	if (api->audit != NULL && audit_client_ok(api->audit)) {
		if (api->audit_down)
			log_notice("audit log writable again: audited routes "
			    "serve");
		api->audit_down = false;
		return false;
	}
	if (!api->audit_down)
		log_errorx("audit log not writable: audited routes answer 503 "
		    "(on_failure: reject)");
	api->audit_down = true;
	return true;
}

static int
api_on_row(void *arg, const PGresult *res, int row)
{
	struct api_call	*call = arg;

	return result_row(call->result, res, row);
}

/*
 * The writer's answer to an audited write's record under fsync: always:
 * the response waited for it.  A record not written keeps its row, which
 * reaches the file by recovery.
 */
static void
api_audit_answer(int64_t seq, void *arg)
{
	struct api_call	*call = arg;

	call->audit_waiting = false;
	if (seq <= 0)
		log_warnx("route %s: audit record of row %lld not confirmed: "
		    "it is committed and reaches the log by recovery",
		    call->rt->conf->name, (long long)call->audit_id);
	if (call->audit_problem != PROBLEM_CODE_COUNT)
		http_respond_problem(call->req, call->audit_problem);
	else
		http_respond(call->req, call->audit_status);
}

/*
 * The record of an audited write, but its status; *path and *detail
 * (NULL when the detail does not parse) are the caller's to free.
 */
static void
api_audit_event(const struct api_call *call, struct audit_event *ev,
    char **path, json_t **detail)
{
	const struct conf_route	*r = call->rt->conf;
	const struct http_head	*h = http_request_head(call->req);

	api_audit_actor(call, ev);
	ev->event = "request";
	ev->route = r->name;
	ev->method = conf_method_name(r->method);
	*path = bw_strndup(h->path, h->path_len);
	ev->path = *path;
	*detail = json_loads(call->audit_detail, 0, NULL);
	ev->detail = *detail;
	ev->row = call->audit_id;
}

/*
 * The request ends (client gone, request_timeout) while its audited
 * segment is in flight: the record follows the segment (audit_orphan.h).
 */
static void
api_audit_orphan(struct api_call *call)
{
	struct audit_event	 ev;
	json_t			*detail;
	char			*path;

	api_audit_event(call, &ev, &path, &detail);
	audit_orphan_adopt(call->dbreq, call->api->audit, &ev, call->audit_id);
	json_decref(detail);
	free(path);
}

/*
 * After an audited write committed: its record to the writer.  Returns
 * true when the response must wait for the writer's answer.
 */
static bool
api_audit_record(struct api_call *call, int status)
{
	const struct conf_route	*r = call->rt->conf;
	struct audit_event	 ev;
	json_t			*detail;
	char			*path;
	bool			 wait;
	int			 rv = -1;

	if (call->audit_id <= 0 || call->api->audit == NULL)
		return false;
	api_audit_event(call, &ev, &path, &detail);
	ev.status = status;
	wait = call->api->conf->audit->fsync == FSYNC_ALWAYS;
	if (detail != NULL)
		rv = audit_client_submit(call->api->audit, &ev,
		    wait ? api_audit_answer : NULL, call);
	json_decref(detail);
	free(path);
	if (rv == -1) {
		log_warnx("route %s: audit record of row %lld not sent: it is "
		    "committed and reaches the log by recovery", r->name,
		    (long long)call->audit_id);
		return false;
	}
	call->audit_waiting = wait;
	return wait;
}

static void
api_respond_done(struct api_call *call, int status, enum problem_code pc)
{
	call->audit_status = status;
	call->audit_problem = pc;
	if (api_audit_record(call, pc != PROBLEM_CODE_COUNT ?
	    problem_detail_get(pc)->status : status))
		return;
	if (pc != PROBLEM_CODE_COUNT)
		http_respond_problem(call->req, pc);
	else
		http_respond(call->req, status);
}

static void
api_on_done(void *arg, enum db_outcome how, const char *sqlstate,
    const char *message, const char *cmd_tuples)
{
	struct api_call		*call = arg;
	struct http_request	*req = call->req;
	const char		*name = call->rt->conf->name;
	bool			 retry;
	int			 status;

	(void)cmd_tuples;
	call->dbreq = NULL;
	switch (how) {
	case DB_OK:
		if (result_end(call->result) == 0) {
			api_respond_done(call, call->rt->conf->status,
			    PROBLEM_CODE_COUNT);
			return;
		}
		status = result_status(call->result);
		if (status != 404)
			log_warnx("route %s: %s", name,
			    result_error(call->result));
		api_respond_done(call, status, api_problem_for_status(status));
		return;
	case DB_SQL_ERROR:
		status = sqlstate_http_status(sqlstate, 1, &retry);
		log_notice("route %s: SQLSTATE %s: %s", name, sqlstate,
		    message != NULL ? message : "");
		http_respond_problem(req, api_problem_for_status(status));
		return;
	case DB_UNAVAILABLE:
	case DB_LOST:
		http_respond_problem(req, PROBLEM_DB_UNAVAILABLE);
		return;
	}
}

static const struct db_req_ops api_db_ops = { api_on_row, api_on_done };

/*
 * A replica: true route runs on the next replica that has a connection
 * and takes it; with none, on the primary.  Every other route, and so
 * every write, runs on the primary.
 */
static struct db_req *
api_submit_db(struct api_call *call, struct db_req_params *rp)
{
	struct api		*api = call->api;
	struct db_req_params	 rrp = *rp;
	struct db_req		*dr;
	size_t			 k, i;

	for (k = 0; call->rt->conf->replica && k < api->nreplicas; k++) {
		i = (api->next_replica + k) % api->nreplicas;
		if (db_pool_ready(api->replicas[i]) == 0)
			continue;
		rrp.stmt = call->rt->rstmt;
		if ((dr = db_submit(api->replicas[i], &rrp, &api_db_ops,
		    call)) != NULL) {
			api->next_replica = i + 1;
			return dr;
		}
	}
	return db_submit(api->pool, rp, &api_db_ops, call);
}

static void
api_submit(struct api_call *call, const struct node *body)
{
	struct http_request	*req = call->req;
	const struct api_route	*rt = call->rt;
	const struct conf_route	*r = rt->conf;
	struct result_limits	 lim;
	char			*owned[SQLTEXT_MAX_PARAMS] = { NULL };
	const char		*values[SQLTEXT_MAX_PARAMS];
	int			 lengths[SQLTEXT_MAX_PARAMS];
	struct db_ctx		 ctx = {
		.request_id = http_request_id(req), .route = r->name,
		.timeout = rt->timeout,
	};
	char			*ctx_owned = NULL;
	struct db_req_params	 rp = {
		.stmt = rt->stmt, .read_only = r->replica,
		.read = r->method == METHOD_GET,
		.nvalues = (int)rt->sql->nparams, .values = values,
		.lengths = lengths, .ctx = &ctx,
	};
	const char		*audit[DB_AUDIT_PARAMS];
	char			*audit_path = NULL;
	size_t			 i, np = rt->sql->nparams;

	if (api_audited(call)) {
		if (api_audit_refused(call)) {
			http_respond_problem(req, PROBLEM_OVERLOADED);
			return;
		}
		call->audit_detail = api_audit_detail(r, body);
		api_audit_values(call, audit, &audit_path);
		rp.audit = audit;
		rp.audit_stmt = call->api->audit_stmt;
		rp.audit_id = &call->audit_id;
		rp.read_only = false;
		rp.read = false;
	}
	lim.max_rows = r->result == RESULT_ARRAY ? r->max_rows : 0;
	lim.max_size = call->api->conf->server.limits.max_response_size;
	call->result = result_begin(r->result, http_response_body(req), &lim);
	auth_context(call->principal, &ctx.user_id, &ctx.user_name, &ctx.roles,
	    &ctx_owned);
	for (i = 0; i < np; i++)
		api_bind(call, &rt->sql->params[i], body, &owned[i],
		    &values[i], &lengths[i]);
	if (call->api->pool != NULL)
		call->dbreq = api_submit_db(call, &rp);
	for (i = 0; i < np; i++)
		free(owned[i]);
	free(ctx_owned);
	free(audit_path);
	if (call->dbreq == NULL)
		http_respond_problem(req, PROBLEM_DB_UNAVAILABLE);
}

/*
 * After the body is read: schema validation (422), then the statement.
 * Validation canonicalizes integer lexemes in place, so what is bound is
 * exactly what was validated.
 */
static void
api_handle(struct http_request *req, void *arg)
{
	struct api_call		*call = http_request_ctx(req);
	struct node		*body = http_request_body_node(req);
	struct schema_errors	 errs = { .n = 0 };

	(void)arg;
	if (call->rt->body != NULL && (body == NULL ||
	    schema_validate(call->rt->body, body, SCHEMA_V_CANON,
	    &errs) == -1)) {
		api_respond_errors(req, PROBLEM_VALIDATION, &errs);
		return;
	}
	api_submit(call, body);
}
