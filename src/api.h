/*
 * api.h - declared routes at run time: each route's SQL rewritten to $n
 * placeholders, its parameter and body schemas compiled, its statement
 * known to the database pool; and the request handler that binds validated
 * values, runs the route's pipeline segment and writes the result.
 *
 * api_load() does all the work that depends only on the configuration, at
 * start-up, on SIGHUP and for -t, reporting every problem at its
 * FILE:LINE:COL.  On the request path nothing is parsed or compiled again.
 */
#ifndef BW_API_H
#define BW_API_H

#include <stddef.h>

#include "conf.h"
#include "db.h"

struct api;
struct event_base;
struct http_request;
struct http_server;

struct api	*api_load(const struct conf *, struct bw_diag *);
void		 api_free(struct api *);

/*
 * Every statement a worker prepares, for the load-time check (-t): the
 * context statements, the routes' (in route order) and, with an auth
 * section, bulwark's own (authdb_stmts).  The route of statement i, or NULL
 * for one that belongs to no route.
 */
const struct db_stmt_def *api_statements(const struct api *, size_t *n);
const struct conf_route *api_statement_route(const struct api *, size_t i);

/*
 * Checks a described statement (PQdescribePrepared) against its route:
 * each parameter's type fits the JSON type of its placeholder's source (a
 * string member bound to an int4 parameter is an error), and a `value`
 * route returns exactly one column.  Returns 0, or -1 after diagnostics.
 */
int		 api_check_types(const struct api *, size_t stmt,
		    const PGresult *desc, struct bw_diag *);

/*
 * The worker's pool, before it starts: every route's statement is
 * registered with it.  Requests answer 503 while none is attached.
 */
void		 api_attach_pool(struct api *, struct db_pool *);
/* The replica pools of database.replicas (n may be 0). */
void		 api_attach_replicas(struct api *, struct db_pool **,
		    size_t n);

/*
 * The worker's audit client and instance name (both outlive the api's use
 * of them; NULL detaches): audited routes insert their bulwark.audit row
 * and send their record through it (SPEC 9).
 */
struct audit_client;
void		 api_attach_audit(struct api *, struct audit_client *,
		    const char *instance);

/*
 * Serves every declared route on srv, each with its own handlers: one
 * before the body is read (path and query parameters, 400), one after it
 * (body schema, 422, then the route's statement).  -1 with *err when a
 * route cannot be added.
 */
int		 api_add_routes(struct api *, struct http_server *,
		    const char **err);

#endif
