/*
 * http_cors.c - cross-origin resource sharing (SPEC 4 server.cors): the
 * origin check of a request, the preflight answer, and the CORS fields of
 * every response of a server that has server.cors.
 *
 * Invariants: without server.cors no CORS field is ever written.  With it,
 * every response carries "Vary: Origin"; an Access-Control-* field is
 * written only for a request whose single Origin equals a configured
 * origin byte for byte (or when "*" is configured, which the
 * configuration refuses together with allow_credentials).  A preflight is
 * an OPTIONS with Origin and Access-Control-Request-Method to a path that
 * has routes: it is answered 204 right after routing, before any rate
 * limit, credential or database work.  A preflight from a refused origin
 * gets the same 204 without CORS fields, so the browser refuses it.
 *
 * Threat model: Origin is hostile.  It is compared, never interpreted; it
 * is echoed only when it equals a configured origin (so the echoed bytes
 * are the configuration's, validated at load).
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <event2/buffer.h>

#include "conf.h"
#include "http_int.h"
#include "http_parse.h"

static const char *
http_cors_match(const struct conf_cors *cors, const char *o, size_t n)
{
	size_t	 i;

	for (i = 0; i < cors->nallow_origins; i++) {
		if (strcmp(cors->allow_origins[i], "*") == 0)
			return "*";
		if (strlen(cors->allow_origins[i]) == n &&
		    memcmp(cors->allow_origins[i], o, n) == 0)
			return cors->allow_origins[i];
	}
	return NULL;
}

/* Decide r->cors_origin from the request's Origin field. */
void
http_cors_check(struct http_request *r)
{
	const struct conf_cors	*cors = r->conn->srv->conf->server.cors;
	const struct http_field	*f;
	size_t			 n;

	r->cors_origin = NULL;
	r->cors_preflight = false;
	if (cors == NULL)
		return;
	f = http_head_field(&r->head, "Origin", &n);
	if (f == NULL || n != 1)
		return;
	r->cors_origin = http_cors_match(cors, f->value, f->value_len);
}

/* An OPTIONS that asks a preflight question. */
bool
http_cors_is_preflight(const struct http_request *r)
{
	size_t	 n;

	return r->conn->srv->conf->server.cors != NULL &&
	    r->head.method == HTTP_OPTIONS &&
	    http_head_field(&r->head, "Origin", &n) != NULL &&
	    http_head_field(&r->head, "Access-Control-Request-Method",
	    &n) != NULL;
}

/* The CORS fields of a response, after the fixed ones. */
int
http_cors_write(const struct http_request *r, struct evbuffer *out)
{
	const struct conf_cors	*cors = r->conn->srv->conf->server.cors;
	int			 rv = 0;

	if (cors == NULL)
		return 0;
	if (evbuffer_add(out, "Vary: Origin\r\n", 14) == -1)
		return -1;
	if (r->cors_origin == NULL)
		return 0;
	if (evbuffer_add_printf(out, "Access-Control-Allow-Origin: %s\r\n",
	    r->cors_origin) < 0)
		rv = -1;
	if (cors->allow_credentials && evbuffer_add_printf(out,
	    "Access-Control-Allow-Credentials: true\r\n") < 0)
		rv = -1;
	if (!r->cors_preflight) {
		if (evbuffer_add_printf(out, "Access-Control-Expose-Headers: "
		    "X-Request-Id, Retry-After\r\n") < 0)
			rv = -1;
		return rv;
	}
	if (evbuffer_add_printf(out, "Access-Control-Allow-Methods: %s\r\n"
	    "Access-Control-Allow-Headers: Authorization, Content-Type, "
	    "X-API-Key, X-Request-Id\r\n"
	    "Access-Control-Max-Age: %lld\r\n", r->match.allow,
	    (long long)(cors->max_age_ms / 1000)) < 0)
		rv = -1;
	return rv;
}
