/*
 * http_request.c - one request on a connection (SPEC 5): request objects
 * (recycled through a bounded free list), request ids, the accessors the
 * route layers use, and the order of checks after a valid head: host,
 * routing, method, rate limit by address, admission, parameters, body
 * media type and size, JSON syntax, then the route's handler.
 *
 * Every refusal answers the request itself (http_fail) and returns
 * STEP_AGAIN, so the connection goes on from the state the response left.
 *
 * Threat model: every header is hostile.  X-Request-Id and
 * X-Forwarded-For count only from a trusted proxy; a body is checked for
 * its declared size and media type before a byte of it is read, and is
 * parsed with bulwark's own bounded JSON reader.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "conf.h"
#include "http.h"
#include "http_int.h"
#include "http_parse.h"
#include "json.h"
#include "log.h"
#include "metrics.h"
#include "node.h"
#include "problem.h"
#include "ratelimit.h"
#include "router.h"
#include "tls.h"
#include "util.h"

static enum http_step	 http_body_begin(struct http_request *);

bool
http_request_id_valid(const char *s, size_t n)
{
	size_t	 i;

	if (n == 0 || n > HTTP_REQUEST_ID_LEN)
		return false;
	for (i = 0; i < n; i++) {
		if ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' &&
		    s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
		    s[i] == '.' || s[i] == '_' || s[i] == ':' || s[i] == '-')
			continue;
		return false;
	}
	return true;
}

static bool
http_ows(char c)
{
	return c == ' ' || c == '\t';
}

/* application/json [ OWS ";" OWS charset=utf-8 ] OWS, case-insensitive. */
bool
http_content_type_json(const char *s, size_t n)
{
	static const char	 type[] = "application/json";
	static const char	 cs[] = "charset=";
	size_t			 i, tl = sizeof(type) - 1, cl = sizeof(cs) - 1;

	if (n < tl || strncasecmp(s, type, tl) != 0)
		return false;
	for (i = tl; i < n && http_ows(s[i]); i++)
		;
	if (i == n)
		return true;
	if (s[i++] != ';')
		return false;
	while (i < n && http_ows(s[i]))
		i++;
	if (n - i < cl || strncasecmp(s + i, cs, cl) != 0)
		return false;
	i += cl;
	if (n - i >= 7 && strncasecmp(s + i, "\"utf-8\"", 7) == 0)
		i += 7;
	else if (n - i >= 5 && strncasecmp(s + i, "utf-8", 5) == 0)
		i += 5;
	else
		return false;
	while (i < n && http_ows(s[i]))
		i++;
	return i == n;
}

/* Request ids: 128 bits from a pool refilled in bulk. */
static void
http_request_new_id(struct http_server *srv, char *out)
{
	if (srv->rnd_off + 16 > sizeof(srv->rnd)) {
		if (bw_random(srv->rnd, sizeof(srv->rnd)) == -1)
			fatal("cannot read random bytes for request ids");
		srv->rnd_off = 0;
	}
	bw_hex_encode(srv->rnd + srv->rnd_off, 16, out);
	srv->rnd_off += 16;
}

/*
 * Request objects.  A released request keeps its buffers and timer for
 * the next one; at most HTTP_REQ_CACHE are kept.
 */
struct http_request *
http_request_get(struct http_server *srv, struct http_conn *c)
{
	struct http_request	*r;

	if ((r = srv->free_reqs) != NULL) {
		srv->free_reqs = r->next_free;
		srv->nfree_reqs--;
	} else {
		r = bw_malloc(sizeof(*r) + srv->lim->max_header_size + 1 +
		    srv->lim->max_uri_length + ROUTER_MAX_PARAMS);
		memset(r, 0, sizeof(*r));
		r->pbuf = r->headbuf + srv->lim->max_header_size + 1;
		r->pbufsz = srv->lim->max_uri_length + ROUTER_MAX_PARAMS;
		if ((r->body = evbuffer_new()) == NULL ||
		    (r->out = evbuffer_new()) == NULL)
			fatal("cannot allocate request buffers");
		evtimer_assign(&r->timer, srv->base, http_request_timeout, r);
	}
	r->conn = c;
	r->next_free = NULL;
	r->json = NULL;
	r->route = NULL;
	r->ops = NULL;
	r->user = NULL;
	r->cancel = NULL;
	r->cancel_arg = NULL;
	r->ctx = NULL;
	r->ctx_free = NULL;
	r->body_need = 0;
	r->max_body = 0;
	r->copied = 0;
	r->allow_set = false;
	r->bad_param = false;
	r->parsed = r->has_body = r->body_done = false;
	r->close = r->problem = r->linger = false;
	r->head.method = HTTP_METHOD_COUNT;
	r->retry_after = 0;
	r->www_auth = NULL;
	r->cors_origin = NULL;
	r->cors_preflight = false;
	r->principal = NULL;
	r->principal_free = NULL;
	clock_gettime(CLOCK_MONOTONIC, &r->start);
	http_request_new_id(srv, r->id);
	memcpy(r->ip, c->peer_ip, sizeof(r->ip));
	return r;
}

void
http_request_destroy(struct http_request *r)
{
	evbuffer_free(r->body);
	evbuffer_free(r->out);
	free(r);
}

void
http_request_release(struct http_request *r)
{
	struct http_server	*srv = r->conn->srv;

	event_del(&r->timer);
	if (r->ctx_free != NULL)
		r->ctx_free(r->ctx);
	r->ctx = NULL;
	r->ctx_free = NULL;
	if (r->principal != NULL && r->principal_free != NULL)
		r->principal_free(r->principal);
	r->principal = NULL;
	r->principal_free = NULL;
	node_free(r->json);
	r->json = NULL;
	evbuffer_drain(r->body, evbuffer_get_length(r->body));
	evbuffer_drain(r->out, evbuffer_get_length(r->out));
	r->conn->req = NULL;
	r->conn = NULL;
	if (srv->nfree_reqs >= HTTP_REQ_CACHE) {
		http_request_destroy(r);
		return;
	}
	r->next_free = srv->free_reqs;
	srv->free_reqs = r;
	srv->nfree_reqs++;
}

/* The request is abandoned: its handler must forget it. */
void
http_request_cancel(struct http_request *r)
{
	http_cancel_fn	 fn = r->cancel;

	r->cancel = NULL;
	if (fn != NULL)
		fn(r->cancel_arg);
}

/* Accessors for handlers. */
const struct http_head *
http_request_head(const struct http_request *r)
{
	return &r->head;
}

const struct conf_route *
http_request_route(const struct http_request *r)
{
	return r->route;
}

const char *
http_request_id(const struct http_request *r)
{
	return r->id;
}

const char *
http_request_ip(const struct http_request *r)
{
	return r->ip;
}

const char *
http_request_body(struct http_request *r, size_t *len)
{
	*len = evbuffer_get_length(r->body);
	if (!r->body_done)
		return NULL;
	return (const char *)evbuffer_pullup(r->body, -1);
}

struct node *
http_request_body_node(struct http_request *r)
{
	return r->json;
}

void
http_request_set_ctx(struct http_request *r, void *ctx, void (*fn)(void *))
{
	if (r->ctx_free != NULL && r->ctx != ctx)
		r->ctx_free(r->ctx);
	r->ctx = ctx;
	r->ctx_free = fn;
}

void *
http_request_ctx(const struct http_request *r)
{
	return r->ctx;
}

const struct router_match *
http_request_match(const struct http_request *r)
{
	return &r->match;
}

void
http_request_set_user(struct http_request *r, const char *user)
{
	r->user = user;
}

void
http_request_set_cancel(struct http_request *r, http_cancel_fn fn, void *arg)
{
	r->cancel = fn;
	r->cancel_arg = arg;
}

static enum http_method
http_conf_method(enum conf_method m)
{
	switch (m) {
	case METHOD_GET:
		return HTTP_GET;
	case METHOD_POST:
		return HTTP_POST;
	case METHOD_PUT:
		return HTTP_PUT;
	case METHOD_PATCH:
		return HTTP_PATCH;
	default:
		return HTTP_DELETE;
	}
}

int
http_server_add_route(struct http_server *srv, const struct conf_route *route,
    const struct http_route_ops *ops, const char **err)
{
	if (router_add(srv->router, route->path,
	    http_conf_method(route->method), route, ops) == -1) {
		*err = router_error(srv->router);
		return -1;
	}
	return 0;
}

int
http_server_add_routes(struct http_server *srv,
    const struct http_route_ops *ops, const char **err)
{
	const struct conf	*conf = srv->conf;
	size_t			 i;

	for (i = 0; i < conf->nroutes; i++)
		if (http_server_add_route(srv, &conf->routes[i], ops,
		    err) == -1)
			return -1;
	return 0;
}

/*
 * The admission checks of SPEC 5 that follow routing, in this order: rate
 * limit by ip (429), credentials (401), rate limit by user or API key
 * (429), roles (403), then path and query parameters (400).  Each answers
 * the request itself when it refuses.  The rate limit by ip is taken in
 * http_request_admit; the admit hook (the auth layer) does the
 * credentials, the rate limit by user or key and the roles; the
 * parameters step is the router's decoding and the route's prepare
 * hook (coercion and schemas).
 *
 * The admit hook may park the request (HTTP_ADMIT_WAIT) until what it
 * needs is there: the connection then waits in CONN_HANDLER, so a client
 * that goes or request_timeout cancels the hook's wait as it cancels a
 * handler's, and the hook later answers the request or calls
 * http_request_readmit(), which runs the hook again and goes on from it.
 */
static enum http_step
http_request_admit_hook(struct http_request *r)
{
	struct http_server	*srv = r->conn->srv;
	int			 rv = 0;

	if (srv->admit != NULL)
		rv = srv->admit(r, srv->admit_arg);
	if (rv == -1)
		return STEP_AGAIN;
	if (rv == HTTP_ADMIT_WAIT) {
		r->conn->state = CONN_HANDLER;
		return STEP_MORE;
	}
	if (r->bad_param) {
		http_respond_problem(r, PROBLEM_PARAMS);
		return STEP_AGAIN;
	}
	if (r->ops->prepare != NULL && r->ops->prepare(r, r->ops->arg) == -1)
		return STEP_AGAIN;
	return http_body_begin(r);
}

static enum http_step
http_request_admit(struct http_request *r)
{
	const struct conf_rate	*rate = &r->route->rate_limit;

	if (rate->by == RATE_BY_IP &&
	    http_request_rate_limit(r, rate, r->ip, strlen(r->ip)) == -1)
		return STEP_AGAIN;
	return http_request_admit_hook(r);
}

void
http_request_readmit(struct http_request *r)
{
	struct http_conn	*c = r->conn;

	r->cancel = NULL;
	r->cancel_arg = NULL;
	/* Body bytes that came meanwhile wait in the input buffer. */
	if (http_request_admit_hook(r) == STEP_AGAIN && c->state == CONN_BODY)
		event_active(&c->resume, EV_TIMEOUT, 0);
}

/* Host (and SNI) against server.hostnames. */
static bool
http_host_ok(struct http_request *r)
{
	const struct conf_server *s = &r->conn->srv->conf->server;

	if (s->nhostnames == 0)
		return true;
	if (r->conn->ssl != NULL && tls_sni_mismatch(r->conn->ssl))
		return false;
	return r->head.host != NULL && http_host_matches(r->head.host,
	    r->head.host_len, s->hostnames, s->nhostnames);
}

/* X-Request-Id and X-Forwarded-For count only from a trusted peer. */
static void
http_request_identity(struct http_request *r)
{
	const struct conf	*conf = r->conn->srv->conf;
	const struct sockaddr	*peer = (struct sockaddr *)&r->conn->peer;
	const struct http_field	*f;
	size_t			 n;

	if (conf->server.ntrusted_proxies == 0 ||
	    !http_addr_trusted(conf, peer))
		return;
	f = http_head_field(&r->head, "X-Request-Id", &n);
	if (f != NULL && n == 1 && http_request_id_valid(f->value,
	    f->value_len)) {
		memcpy(r->id, f->value, f->value_len);
		r->id[f->value_len] = '\0';
	}
	f = http_head_field(&r->head, "X-Forwarded-For", &n);
	if (f != NULL && n == 1)
		http_client_ip(conf, peer, f->value, f->value_len, r->ip,
		    sizeof(r->ip));
}

/* Content-Type (415) and Content-Encoding (415) of a declared body. */
static int
http_body_media(struct http_request *r)
{
	const struct http_field	*f;
	size_t			 n;

	f = http_head_field(&r->head, "Content-Type", &n);
	if (f == NULL || n != 1 || !http_content_type_json(f->value,
	    f->value_len)) {
		http_respond_problem(r, PROBLEM_MEDIA_TYPE);
		return -1;
	}
	f = http_head_field(&r->head, "Content-Encoding", &n);
	if (f != NULL && (n != 1 || f->value_len != 8 ||
	    strncasecmp(f->value, "identity", 8) != 0)) {
		http_respond_problem(r, PROBLEM_ENCODING);
		return -1;
	}
	return 0;
}

/* Body checks before reading it: 400, 413, 415, then 100 Continue. */
static enum http_step
http_body_begin(struct http_request *r)
{
	struct http_conn	*c = r->conn;
	const struct conf_limits *lim = c->srv->lim;

	if (r->has_body && r->route->body == NULL)
		return http_fail(r, PROBLEM_BODY_NOT_ALLOWED);
	if (r->route->body == NULL) {
		r->body_done = true;
		return http_request_handle(r);
	}
	r->max_body = r->route->max_body_size > 0 ?
	    r->route->max_body_size : lim->max_body_size;
	if (r->head.content_length > 0 &&
	    (uint64_t)r->head.content_length > r->max_body)
		return http_fail(r, PROBLEM_BODY_TOO_LARGE);
	if (http_body_media(r) == -1)
		return STEP_AGAIN;
	if (!r->has_body)
		return http_fail(r, PROBLEM_BODY_MISSING);
	if (r->head.expect_continue && r->head.minor == 1)
		evbuffer_add(bufferevent_get_output(c->bev),
		    "HTTP/1.1 100 Continue\r\n\r\n", 25);
	if (r->head.chunked)
		http_chunked_init(&r->chunked, lim->max_header_size,
		    r->max_body);
	else
		r->body_need = (uint64_t)r->head.content_length;
	c->state = CONN_BODY;
	http_timer_set(&c->timer, lim->body_timeout_ms);
	return STEP_AGAIN;
}

/*
 * JSON syntax of the body (400), with bulwark's own reader: exact number
 * lexemes, duplicate members, BOM, UTF-8 and nesting (max_json_depth) are
 * all decided there.
 */
static enum problem_code
http_body_json(struct http_request *r)
{
	struct json_error	 jerr;
	const char		*p;
	size_t			 len;

	len = evbuffer_get_length(r->body);
	p = len > 0 ? (const char *)evbuffer_pullup(r->body, -1) : "";
	r->json = json_parse(p, len, (int)r->conn->srv->lim->max_json_depth,
	    &jerr);
	if (r->json != NULL)
		return PROBLEM_CODE_COUNT;
	log_info("%s body refused: %s at %d:%d", r->id, jerr.msg != NULL ?
	    jerr.msg : json_status_str(jerr.code), jerr.line, jerr.col);
	return jerr.code == JSON_EDEPTH ? PROBLEM_BODY_DEPTH :
	    PROBLEM_BODY_SYNTAX;
}

enum http_step
http_request_handle(struct http_request *r)
{
	struct http_conn	*c = r->conn;
	enum problem_code	 code;

	if (r->has_body && r->route->body != NULL &&
	    (code = http_body_json(r)) != PROBLEM_CODE_COUNT)
		return http_fail(r, code);
	c->state = CONN_HANDLER;
	r->ops->handle(r, r->ops->arg);
	return STEP_AGAIN;
}

/* The order of checks of SPEC 5, after a valid head. */
static enum http_step
http_request_dispatch(struct http_request *r)
{
	struct http_server	*srv = r->conn->srv;
	enum router_result	 rr;

	if (!http_host_ok(r))
		return http_fail(r, PROBLEM_MISDIRECTED);
	r->match.allow[0] = '\0';
	rr = router_match(srv->router, r->head.method, r->head.path,
	    r->head.path_len, &r->match, r->pbuf, r->pbufsz);
	if (r->head.method == HTTP_TRACE || r->head.method == HTTP_CONNECT) {
		if (rr != ROUTER_METHOD)
			r->match.allow[0] = '\0';
		r->allow_set = true;
		return http_fail(r, PROBLEM_METHOD_NOT_ALLOWED);
	}
	switch (rr) {
	case ROUTER_NOT_FOUND:
		return http_fail(r, PROBLEM_NOT_FOUND);
	case ROUTER_METHOD:
		r->allow_set = true;
		if (r->head.method == HTTP_OPTIONS) {
			r->cors_preflight = http_cors_is_preflight(r);
			http_respond(r, 204);
			return STEP_AGAIN;
		}
		return http_fail(r, PROBLEM_METHOD_NOT_ALLOWED);
	case ROUTER_BAD_PARAM:
		r->bad_param = true;
		break;
	case ROUTER_FOUND:
		break;
	}
	r->route = r->match.route;
	r->ops = r->match.ops;
	return http_request_admit(r);
}

/* A complete, valid head is in r->headbuf. */
enum http_step
http_request_begin(struct http_request *r)
{
	struct http_conn	*c = r->conn;
	struct http_server	*srv = c->srv;

	evbuffer_drain(bufferevent_get_input(c->bev), r->head.head_len);
	event_del(&c->timer);
	http_timer_set(&r->timer, srv->lim->request_timeout_ms);
	r->parsed = true;
	r->has_body = r->head.chunked || r->head.content_length > 0;
	c->nrequests++;
	http_request_identity(r);
	http_cors_check(r);
	return http_request_dispatch(r);
}

int
http_request_rate_limit(struct http_request *r, const struct conf_rate *rate,
    const char *key, size_t keylen)
{
	uint32_t	 wait;

	wait = ratelimit_take(r->conn->srv->rl, rate, r->route->name, key,
	    keylen, bw_now_ms());
	if (wait == 0)
		return 0;
	r->retry_after = wait;
	metrics_rate_limited(r->route->name);
	http_respond_problem(r, PROBLEM_RATE_LIMITED);
	return -1;
}

void
http_request_set_retry_after(struct http_request *r, uint32_t seconds)
{
	r->retry_after = seconds;
}

void
http_request_set_www_authenticate(struct http_request *r, const char *value)
{
	r->www_auth = value;
}

void
http_request_set_principal(struct http_request *r, void *principal,
    void (*free_fn)(void *))
{
	r->principal = principal;
	r->principal_free = free_fn;
}

void *
http_request_principal(const struct http_request *r)
{
	return r->principal;
}
