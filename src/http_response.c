/*
 * http_response.c - writing responses (SPEC 5): the status line, Date, the
 * fixed security headers (built once per server; server.headers cannot
 * replace the ones bulwark sets), the per-response headers, problem
 * bodies (RFC 9457), and the access-log line of every answered request.
 *
 * A response is queued whole into the connection's output buffer; a body
 * over max_response_size becomes a 500 instead.  HEAD gets the head only.
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
#include "log.h"
#include "metrics.h"
#include "problem.h"
#include "util.h"

static const char *
http_date(struct http_server *srv)
{
	struct timeval	 tv;
	struct tm	 tm;

	event_base_gettimeofday_cached(srv->base, &tv);
	if (tv.tv_sec != srv->date_sec) {
		srv->date_sec = tv.tv_sec;
		if (gmtime_r(&tv.tv_sec, &tm) == NULL ||
		    strftime(srv->date, sizeof(srv->date),
		    "%a, %d %b %Y %H:%M:%S GMT", &tm) == 0)
			bw_strlcpy(srv->date, "Thu, 01 Jan 1970 00:00:00 GMT",
			    sizeof(srv->date));
	}
	return srv->date;
}

/* Header names bulwark sets itself; server.headers cannot replace them. */
static bool
http_header_reserved(const char *name)
{
	static const char *const reserved[] = {
		"allow", "cache-control", "connection", "content-length",
		"content-security-policy", "content-type", "date",
		"referrer-policy", "server", "strict-transport-security",
		"transfer-encoding", "x-content-type-options",
		"x-frame-options", "x-request-id",
	};
	size_t	 i;

	for (i = 0; i < BW_ARRAY_LEN(reserved); i++)
		if (strcasecmp(name, reserved[i]) == 0)
			return true;
	return false;
}

int
http_fixed_headers(struct http_server *srv)
{
	const struct conf_server *s = &srv->conf->server;
	struct evbuffer	*b;
	size_t		 i;
	int		 rv = 0;

	if ((b = evbuffer_new()) == NULL)
		return -1;
	if (evbuffer_add_printf(b, "Cache-Control: no-store\r\n"
	    "X-Content-Type-Options: nosniff\r\n"
	    "Content-Security-Policy: default-src 'none'; "
	    "frame-ancestors 'none'\r\n"
	    "X-Frame-Options: DENY\r\n"
	    "Referrer-Policy: no-referrer\r\n") < 0)
		rv = -1;
	if (srv->ssl_ctx != NULL && s->tls.hsts_ms > 0 &&
	    evbuffer_add_printf(b, "Strict-Transport-Security: max-age=%lld\r\n",
	    (long long)(s->tls.hsts_ms / 1000)) < 0)
		rv = -1;
	for (i = 0; i < s->nheaders; i++) {
		if (http_header_reserved(s->headers[i].name))
			continue;
		if (evbuffer_add_printf(b, "%s: %s\r\n", s->headers[i].name,
		    s->headers[i].value) < 0)
			rv = -1;
	}
	srv->fixed_len = evbuffer_get_length(b);
	srv->fixed = bw_malloc(srv->fixed_len + 1);
	evbuffer_remove(b, srv->fixed, srv->fixed_len);
	srv->fixed[srv->fixed_len] = '\0';
	evbuffer_free(b);
	return rv;
}

struct evbuffer *
http_response_body(struct http_request *r)
{
	return r->out;
}

/* Responses. */
static int
http_write_head(struct http_request *r, int status, size_t blen)
{
	struct http_conn	*c = r->conn;
	struct http_server	*srv = c->srv;
	struct evbuffer		*out = bufferevent_get_output(c->bev);
	char			 buf[512];
	int			 n, m;

	n = snprintf(buf, sizeof(buf), "HTTP/1.1 %d %s\r\nDate: %s\r\n",
	    status, problem_reason(status), http_date(srv));
	if (status != 204 && status >= 200) {
		m = snprintf(buf + n, sizeof(buf) - (size_t)n,
		    "Content-Type: %s\r\nContent-Length: %zu\r\n", r->problem ?
		    "application/problem+json" :
		    "application/json; charset=utf-8", blen);
		n += m;
	}
	if (evbuffer_add(out, buf, (size_t)n) == -1 ||
	    evbuffer_add(out, srv->fixed, srv->fixed_len) == -1 ||
	    http_cors_write(r, out) == -1)
		return -1;
	n = snprintf(buf, sizeof(buf), "X-Request-Id: %s\r\n", r->id);
	if (r->allow_set)
		n += snprintf(buf + n, sizeof(buf) - (size_t)n,
		    "Allow: %s\r\n", r->match.allow);
	if (r->retry_after > 0)
		n += snprintf(buf + n, sizeof(buf) - (size_t)n,
		    "Retry-After: %u\r\n", r->retry_after);
	if (r->www_auth != NULL)
		n += snprintf(buf + n, sizeof(buf) - (size_t)n,
		    "WWW-Authenticate: %s\r\n", r->www_auth);
	if (r->close)
		n += snprintf(buf + n, sizeof(buf) - (size_t)n,
		    "Connection: close\r\n");
	else if (r->head.minor == 0)
		n += snprintf(buf + n, sizeof(buf) - (size_t)n,
		    "Connection: keep-alive\r\n");
	n += snprintf(buf + n, sizeof(buf) - (size_t)n, "\r\n");
	return evbuffer_add(out, buf, (size_t)n);
}

static void
http_access_log(struct http_request *r, int status, size_t blen)
{
	struct access_rec	 rec;
	struct timespec		 now;
	int64_t			 us;

	clock_gettime(CLOCK_MONOTONIC, &now);
	us = (int64_t)(now.tv_sec - r->start.tv_sec) * 1000000 +
	    (now.tv_nsec - r->start.tv_nsec) / 1000;
	memset(&rec, 0, sizeof(rec));
	rec.request_id = r->id;
	rec.ip = r->ip;
	rec.method = r->parsed ? http_method_name(r->head.method) : NULL;
	rec.route = r->route != NULL ? r->route->name : NULL;
	if (r->parsed) {
		rec.path = r->head.path;
		rec.path_len = r->head.path_len;
	}
	rec.status = status;
	rec.bytes = blen;
	rec.duration_us = us > 0 ? (uint64_t)us : 0;
	rec.user = r->user;
	log_access(&rec);
	metrics_response(rec.route, status, rec.duration_us);
}

void
http_respond(struct http_request *r, int status)
{
	struct http_conn	*c = r->conn;
	struct http_server	*srv = c->srv;
	struct evbuffer		*out = bufferevent_get_output(c->bev);
	size_t			 blen;

	r->cancel = NULL;
	if (status == 204 || status < 200)
		evbuffer_drain(r->out, evbuffer_get_length(r->out));
	blen = evbuffer_get_length(r->out);
	if (blen > srv->lim->max_response_size) {
		log_warnx("%s response of %zu bytes exceeds max_response_size",
		    r->id, blen);
		evbuffer_drain(r->out, blen);
		r->problem = true;
		(void)problem_write(r->out, PROBLEM_INTERNAL, r->id);
		status = problem_detail_get(PROBLEM_INTERNAL)->status;
		blen = evbuffer_get_length(r->out);
	}
	if (r->has_body && !r->body_done)
		r->close = true;
	if (!r->parsed || r->head.conn_close || c->eof || srv->draining ||
	    c->nrequests >= srv->lim->max_requests_per_connection)
		r->close = true;
	if (http_write_head(r, status, blen) == -1) {
		log_warnx("cannot queue a response");
		r->close = true;
	} else if (r->head.method == HTTP_HEAD)
		/*
		 * No body answers HEAD, also when its head was refused: the
		 * parser names the method as soon as it has read it.
		 */
		evbuffer_drain(r->out, blen);
	else
		evbuffer_add_buffer(out, r->out);
	http_access_log(r, status, blen);
	http_request_done(r);
}

void
http_respond_problem(struct http_request *r, enum problem_code code)
{
	evbuffer_drain(r->out, evbuffer_get_length(r->out));
	r->problem = true;
	if (problem_write(r->out, code, r->id) == -1)
		log_warnx("cannot build a problem body");
	http_respond(r, problem_detail_get(code)->status);
}

void
http_respond_validation(struct http_request *r, enum problem_code code,
    const struct problem_error *errors, size_t nerrors)
{
	evbuffer_drain(r->out, evbuffer_get_length(r->out));
	r->problem = true;
	if (problem_write_validation(r->out, code, r->id, errors, nerrors) ==
	    -1)
		log_warnx("cannot build a problem body");
	http_respond(r, problem_detail_get(code)->status);
}

enum http_step
http_fail(struct http_request *r, enum problem_code code)
{
	http_respond_problem(r, code);
	return STEP_AGAIN;
}
