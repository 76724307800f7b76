/*
 * http.c - the connection state machine of a worker (SPEC 5).
 *
 * A connection moves through small states:
 *
 *   HANDSHAKE -> IDLE -> HEAD -> [BODY] -> HANDLER -> IDLE ...
 *                                                  -> FLUSH -> IDLE
 *                                                  -> CLOSING -> [LINGER]
 *
 * Exactly one request exists per connection at a time; its response is
 * written straight into the output buffer and only then is the next
 * pipelined head parsed, so responses are in order by construction.
 *
 * Deadlines are one-shot event timers: the connection timer holds the
 * deadline of the current state (header: from accept for the first
 * request, covering the TLS handshake, from the first byte for later
 * ones; body; idle; flush; linger), the request timer holds
 * request_timeout (head received -> response queued, 504).
 *
 * Memory: a connection is one allocation (plus libevent's bufferevent and
 * OpenSSL's SSL).  Request objects, with the head buffer sized by
 * max_header_size, are recycled through a bounded free list, so a
 * keep-alive connection serves requests without allocating.  The head is
 * copied out of the input buffer (the bytes it points at must not move
 * while the request lives); a Content-Length body is moved, not copied,
 * into the request's body buffer.
 */
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include <event2/listener.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "conf.h"
#include "http.h"
#include "http_parse.h"
#include "json.h"
#include "log.h"
#include "node.h"
#include "problem.h"
#include "ratelimit.h"
#include "router.h"
#include "tls.h"
#include "util.h"

#define HTTP_RAND_POOL		4096	/* request-id randomness, refilled */
#define HTTP_READ_SLACK		((size_t)32 * 1024)

enum http_conn_state {
	CONN_HANDSHAKE,		/* TLS handshake; header timer from accept */
	CONN_IDLE,		/* no request bytes yet; idle or header timer */
	CONN_HEAD,		/* head bytes arriving; header timer */
	CONN_BODY,		/* body bytes arriving; body timer */
	CONN_HANDLER,		/* dispatched; waiting for the response */
	CONN_FLUSH,		/* too much output pending; idle timer */
	CONN_CLOSING,		/* last response queued; flush timer */
	CONN_LINGER,		/* write side shut, input discarded */
};

enum http_step {
	STEP_MORE,		/* wait for an event */
	STEP_AGAIN,		/* the state changed: go on */
	STEP_GONE,		/* the connection was freed */
};

struct http_request {
	struct http_conn	*conn;
	struct http_request	*next_free;
	struct event		 timer;		/* request_timeout */
	struct http_head	 head;
	struct http_chunked	 chunked;
	struct evbuffer		*body;		/* decoded request body */
	struct evbuffer		*out;		/* response body */
	struct node		*json;
	const struct conf_route	*route;
	struct router_match	 match;
	char			*pbuf;		/* decoded path parameters */
	size_t			 pbufsz;
	const char		*user;
	http_cancel_fn		 cancel;
	void			*cancel_arg;
	void			*ctx;
	void			(*ctx_free)(void *);
	struct timespec		 start;
	uint64_t		 body_need;	/* Content-Length bytes left */
	uint64_t		 max_body;
	size_t			 copied;	/* headbuf bytes filled */
	char			 id[HTTP_REQUEST_ID_LEN + 1];
	char			 ip[INET6_ADDRSTRLEN];
	bool			 parsed;	/* head is valid */
	bool			 has_body;	/* a body was declared */
	bool			 body_done;	/* ... and read entirely */
	bool			 close;
	bool			 problem;
	bool			 linger;
	bool			 allow_set;
	bool			 bad_param;
	uint32_t		 retry_after;	/* seconds; 0: no header */
	const char		*www_auth;	/* WWW-Authenticate value */
	void			*principal;	/* the authenticated caller */
	void			(*principal_free)(void *);
	char			 headbuf[];	/* max_header_size + 1 */
};

struct http_conn {
	struct http_server	*srv;
	TAILQ_ENTRY(http_conn)	 entry;
	struct bufferevent	*bev;
	SSL			*ssl;
	struct event		 timer;
	struct event		 resume;
	struct event		 linger_ev;
	struct http_request	*req;
	struct sockaddr_storage	 peer;
	enum http_conn_state	 state;
	uint32_t		 nrequests;
	size_t			 linger_bytes;
	char			 peer_ip[INET6_ADDRSTRLEN];
	bool			 eof;
	bool			 in_process;
	bool			 linger_wanted;
	bool			 tls_ok;
	bool			 linger_added;
};

TAILQ_HEAD(http_conns, http_conn);

struct http_server {
	struct event_base	*base;
	const struct conf	*conf;
	const struct conf_limits *lim;
	SSL_CTX			*ssl_ctx;
	struct router		*router;
	struct http_limits	 plim;
	struct evconnlistener	**listeners;
	size_t			 nlisteners;
	struct event		*pause_ev;
	struct http_conns	 conns;
	size_t			 nconns;
	struct http_request	*free_reqs;
	size_t			 nfree_reqs;
	http_handler_fn		 handler;
	void			*handler_arg;
	http_prepare_fn		 prepare;
	void			*prepare_arg;
	http_prepare_fn		 admit;
	void			*admit_arg;
	struct ratelimit	*rl;
	void			(*drain_done)(void *);
	void			*drain_arg;
	bool			 draining;
	char			*fixed;		/* headers sent on every response */
	size_t			 fixed_len;
	time_t			 date_sec;
	char			 date[40];
	unsigned char		 rnd[HTTP_RAND_POOL];
	size_t			 rnd_off;
};

static enum http_step	 http_conn_head(struct http_conn *);
static enum http_step	 http_conn_body(struct http_conn *);
static void		 http_conn_process(struct http_conn *);
static void		 http_conn_close(struct http_conn *);
static void		 http_request_release(struct http_request *);
static enum http_step	 http_request_handle(struct http_request *);

static void
http_timer_set(struct event *ev, int64_t ms)
{
	struct timeval	 tv;

	bw_ms_to_tv(ms, &tv);
	event_add(ev, &tv);
}

/*
 * Addresses.  IPv4-mapped IPv6 peers (dual-stack listeners) are treated
 * as the IPv4 address they carry, for trust checks and for the log.
 */
static int
http_addr_bytes(const struct sockaddr *sa, unsigned char out[16], int *family)
{
	const struct sockaddr_in	*sin;
	const struct sockaddr_in6	*sin6;

	if (sa == NULL)
		return -1;
	if (sa->sa_family == AF_INET) {
		sin = (const struct sockaddr_in *)sa;
		memcpy(out, &sin->sin_addr, 4);
		*family = AF_INET;
		return 0;
	}
	if (sa->sa_family == AF_INET6) {
		sin6 = (const struct sockaddr_in6 *)sa;
		if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
			memcpy(out, sin6->sin6_addr.s6_addr + 12, 4);
			*family = AF_INET;
		} else {
			memcpy(out, sin6->sin6_addr.s6_addr, 16);
			*family = AF_INET6;
		}
		return 0;
	}
	return -1;
}

static bool
http_cidr_match(const struct conf *conf, int family, const unsigned char *a)
{
	const struct conf_cidr	*c;
	size_t			 i;
	unsigned		 full, rest;

	for (i = 0; i < conf->server.ntrusted_proxies; i++) {
		c = &conf->server.trusted_proxies[i];
		if (c->family != family)
			continue;
		full = c->prefix / 8;
		rest = c->prefix % 8;
		if (memcmp(c->addr, a, full) != 0)
			continue;
		if (rest != 0 && ((c->addr[full] ^ a[full]) &
		    (unsigned char)(0xff << (8 - rest))) != 0)
			continue;
		return true;
	}
	return false;
}

bool
http_addr_trusted(const struct conf *conf, const struct sockaddr *sa)
{
	unsigned char	 a[16];
	int		 family;

	if (http_addr_bytes(sa, a, &family) == -1)
		return false;
	return http_cidr_match(conf, family, a);
}

static void
http_addr_text(const struct sockaddr *sa, char *out, size_t outsz)
{
	unsigned char	 a[16];
	int		 family;

	if (http_addr_bytes(sa, a, &family) == -1 ||
	    inet_ntop(family, a, out, (socklen_t)outsz) == NULL)
		bw_strlcpy(out, "unix", outsz);
}

/* One X-Forwarded-For entry: a bare IPv4 or IPv6 address. */
static int
http_xff_entry(const char *s, size_t n, unsigned char a[16], int *family)
{
	char	 tmp[INET6_ADDRSTRLEN];

	while (n > 0 && (*s == ' ' || *s == '\t')) {
		s++;
		n--;
	}
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	if (n == 0 || n >= sizeof(tmp))
		return -1;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	if (inet_pton(AF_INET, tmp, a) == 1) {
		*family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, tmp, a) == 1) {
		*family = AF_INET6;
		if (IN6_IS_ADDR_V4MAPPED((struct in6_addr *)a)) {
			memmove(a, a + 12, 4);
			*family = AF_INET;
		}
		return 0;
	}
	return -1;
}

/*
 * The client address: the peer, unless the peer is a trusted proxy that
 * sent X-Forwarded-For; then the list is walked right to left skipping
 * trusted addresses, and the first untrusted one is the client (the
 * leftmost when all are trusted).  A malformed list, or one of more than
 * HTTP_MAX_XFF entries, is ignored.
 */
int
http_client_ip(const struct conf *conf, const struct sockaddr *peer,
    const char *xff, size_t xff_len, char *out, size_t outsz)
{
	unsigned char	 addrs[HTTP_MAX_XFF][16];
	int		 fams[HTTP_MAX_XFF];
	size_t		 n = 0, i, start = 0;

	http_addr_text(peer, out, outsz);
	if (xff == NULL || !http_addr_trusted(conf, peer))
		return 0;
	for (i = 0; i <= xff_len; i++) {
		if (i < xff_len && xff[i] != ',')
			continue;
		if (n == HTTP_MAX_XFF || http_xff_entry(xff + start, i - start,
		    addrs[n], &fams[n]) == -1)
			return 0;
		n++;
		start = i + 1;
	}
	for (i = n; i > 0; i--)
		if (!http_cidr_match(conf, fams[i - 1], addrs[i - 1]))
			break;
	i = i > 0 ? i - 1 : 0;
	if (inet_ntop(fams[i], addrs[i], out, (socklen_t)outsz) == NULL)
		http_addr_text(peer, out, outsz);
	return 0;
}

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

static int
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

/*
 * Request objects.  A released request keeps its buffers and timer for
 * the next one; at most HTTP_REQ_CACHE are kept.
 */
static void
http_request_timeout(evutil_socket_t fd, short what, void *arg);

static struct http_request *
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
	r->principal = NULL;
	r->principal_free = NULL;
	clock_gettime(CLOCK_MONOTONIC, &r->start);
	http_request_new_id(srv, r->id);
	memcpy(r->ip, c->peer_ip, sizeof(r->ip));
	return r;
}

static void
http_request_destroy(struct http_request *r)
{
	evbuffer_free(r->body);
	evbuffer_free(r->out);
	free(r);
}

static void
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
static void
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
	    evbuffer_add(out, srv->fixed, srv->fixed_len) == -1)
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
}

/*
 * After a response is queued: the connection closes (CLOSING), pauses on
 * pending output (FLUSH) or goes back to IDLE for the next request.
 */
static void
http_request_done(struct http_request *r)
{
	struct http_conn	*c = r->conn;
	struct http_server	*srv = c->srv;
	struct evbuffer		*in = bufferevent_get_input(c->bev);
	bool			 close = r->close;

	if (close)
		c->linger_wanted = r->linger || (r->has_body &&
		    !r->body_done) || evbuffer_get_length(in) > 0;
	http_request_release(r);
	event_del(&c->timer);
	if (close) {
		c->state = CONN_CLOSING;
		bufferevent_disable(c->bev, EV_READ);
		http_timer_set(&c->timer, srv->lim->idle_timeout_ms);
		return;
	}
	c->state = evbuffer_get_length(bufferevent_get_output(c->bev)) >
	    HTTP_OUT_HIGH ? CONN_FLUSH : CONN_IDLE;
	http_timer_set(&c->timer, srv->lim->idle_timeout_ms);
	if (c->state == CONN_IDLE && !c->in_process)
		event_active(&c->resume, EV_TIMEOUT, 0);
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

static enum http_step
http_fail(struct http_request *r, enum problem_code code)
{
	http_respond_problem(r, code);
	return STEP_AGAIN;
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

static int
http_router_build(struct http_server *srv, const char **err)
{
	const struct conf	*conf = srv->conf;
	size_t			 i;

	if ((srv->router = router_new()) == NULL) {
		*err = "cannot create the router";
		return -1;
	}
	for (i = 0; i < conf->nroutes; i++) {
		if (router_add(srv->router, conf->routes[i].path,
		    http_conf_method(conf->routes[i].method),
		    &conf->routes[i]) == -1) {
			*err = router_error(srv->router);
			return -1;
		}
	}
	return 0;
}

int
http_server_add_route(struct http_server *srv, const struct conf_route *route,
    const char **err)
{
	if (router_add(srv->router, route->path, http_conf_method(route->method),
	    route) == -1) {
		*err = router_error(srv->router);
		return -1;
	}
	return 0;
}

/*
 * The admission checks of SPEC 5 that follow routing, in this order: rate
 * limit by ip (429), credentials (401), rate limit by user or API key
 * (429), roles (403), then path and query parameters (400).  Each answers
 * the request itself and returns -1 when it refuses; 0 admits.  The rate
 * limit by ip is taken here; the admit hook (the auth layer) does the
 * credentials, the rate limit by user or key and the roles; the
 * parameters step is the router's decoding and the route layer's prepare
 * hook (coercion and schemas).
 */
static int
http_request_admit(struct http_request *r)
{
	struct http_server	*srv = r->conn->srv;
	const struct conf_rate	*rate = &r->route->rate_limit;

	if (rate->by == RATE_BY_IP &&
	    http_request_rate_limit(r, rate, r->ip, strlen(r->ip)) == -1)
		return -1;
	if (srv->admit != NULL && srv->admit(r, srv->admit_arg) == -1)
		return -1;
	if (r->bad_param) {
		http_respond_problem(r, PROBLEM_PARAMS);
		return -1;
	}
	if (srv->prepare != NULL && srv->prepare(r, srv->prepare_arg) == -1)
		return -1;
	return 0;
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

static enum http_step
http_request_handle(struct http_request *r)
{
	struct http_conn	*c = r->conn;
	struct http_server	*srv = c->srv;
	enum problem_code	 code;

	if (r->has_body && r->route->body != NULL &&
	    (code = http_body_json(r)) != PROBLEM_CODE_COUNT)
		return http_fail(r, code);
	c->state = CONN_HANDLER;
	if (srv->handler == NULL)
		return http_fail(r, PROBLEM_INTERNAL);
	srv->handler(r, srv->handler_arg);
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
	if (http_request_admit(r) == -1)
		return STEP_AGAIN;
	return http_body_begin(r);
}

/* A complete, valid head is in r->headbuf. */
static enum http_step
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
	return http_request_dispatch(r);
}

static enum http_step
http_conn_cut(struct http_conn *c, const char *what)
{
	log_info("%s %s cut by end of stream; discarded",
	    c->req != NULL ? c->req->id : "-", what);
	http_conn_close(c);
	return STEP_GONE;
}

static enum http_step
http_conn_head(struct http_conn *c)
{
	struct http_server	*srv = c->srv;
	struct http_request	*r = c->req;
	struct evbuffer		*in = bufferevent_get_input(c->bev);
	struct evbuffer_ptr	 pos;
	size_t			 avail, want;
	bool			 lf = false;
	const char		*reason;
	int			 status;

	avail = evbuffer_get_length(in);
	want = avail < srv->lim->max_header_size + 1 ? avail :
	    srv->lim->max_header_size + 1;
	if (want > r->copied) {
		evbuffer_ptr_set(in, &pos, r->copied, EVBUFFER_PTR_SET);
		evbuffer_copyout_from(in, &pos, r->headbuf + r->copied,
		    want - r->copied);
		lf = memchr(r->headbuf + r->copied, '\n',
		    want - r->copied) != NULL;
		r->copied = want;
	}
	if (!lf && want <= srv->lim->max_header_size)
		return c->eof ? http_conn_cut(c, "request head") : STEP_MORE;
	switch (http_parse_head(r->headbuf, want, &srv->plim, &r->head,
	    &status, &reason)) {
	case HTTP_PARSE_DONE:
		return http_request_begin(r);
	case HTTP_PARSE_MORE:
		return c->eof ? http_conn_cut(c, "request head") : STEP_MORE;
	default:
		log_info("%s refused with %d: %s", r->id, status,
		    reason != NULL ? reason : "malformed");
		r->close = true;
		r->linger = true;
		return http_fail(r, problem_code_for_status(status));
	}
}

static enum http_step
http_body_complete(struct http_request *r)
{
	r->body_done = true;
	event_del(&r->conn->timer);
	return http_request_handle(r);
}

static enum http_step
http_body_chunked(struct http_request *r, struct evbuffer *in)
{
	struct evbuffer_iovec	 v;
	enum http_chunk_result	 cr;
	const char		*data;
	size_t			 used, dlen, off;
	int			 status;

	while (evbuffer_peek(in, -1, NULL, &v, 1) > 0 && v.iov_len > 0) {
		off = 0;
		do {
			cr = http_chunked_feed(&r->chunked,
			    (const char *)v.iov_base + off, v.iov_len - off,
			    &used, &data, &dlen, &status);
			if (cr == HTTP_CHUNK_DATA && dlen > 0 &&
			    evbuffer_add(r->body, data, dlen) == -1)
				return http_fail(r, PROBLEM_INTERNAL);
			off += used;
		} while (cr == HTTP_CHUNK_DATA && off < v.iov_len);
		evbuffer_drain(in, off);
		if (cr == HTTP_CHUNK_END)
			return http_body_complete(r);
		if (cr == HTTP_CHUNK_ERROR) {
			r->linger = true;
			return http_fail(r, status == 413 ?
			    PROBLEM_BODY_TOO_LARGE : status == 431 ?
			    PROBLEM_HEAD_TOO_LARGE : PROBLEM_CHUNKED);
		}
	}
	return STEP_MORE;
}

static enum http_step
http_conn_body(struct http_conn *c)
{
	struct http_request	*r = c->req;
	struct evbuffer		*in = bufferevent_get_input(c->bev);
	size_t			 n;
	enum http_step		 s;

	if (r->head.chunked)
		s = http_body_chunked(r, in);
	else {
		n = evbuffer_get_length(in);
		if (n > r->body_need)
			n = (size_t)r->body_need;
		if (n > 0 && evbuffer_remove_buffer(in, r->body, n) != (int)n)
			return http_fail(r, PROBLEM_INTERNAL);
		r->body_need -= n;
		s = r->body_need == 0 ? http_body_complete(r) : STEP_MORE;
	}
	if (s == STEP_MORE && c->eof)
		return http_conn_cut(c, "request body");
	return s;
}

static enum http_step
http_conn_idle(struct http_conn *c)
{
	struct http_server	*srv = c->srv;

	if (evbuffer_get_length(bufferevent_get_input(c->bev)) == 0) {
		if (!c->eof && (!srv->draining || c->nrequests == 0))
			return STEP_MORE;
		http_conn_close(c);
		return STEP_GONE;
	}
	c->req = http_request_get(srv, c);
	if (c->nrequests > 0) {
		event_del(&c->timer);
		http_timer_set(&c->timer, srv->lim->header_timeout_ms);
	}
	c->state = CONN_HEAD;
	return STEP_AGAIN;
}

static void
http_conn_process(struct http_conn *c)
{
	enum http_step	 s = STEP_AGAIN;

	c->in_process = true;
	while (s == STEP_AGAIN) {
		switch (c->state) {
		case CONN_IDLE:
			s = http_conn_idle(c);
			break;
		case CONN_HEAD:
			s = http_conn_head(c);
			break;
		case CONN_BODY:
			s = http_conn_body(c);
			break;
		default:
			s = STEP_MORE;
			break;
		}
	}
	if (s != STEP_GONE)
		c->in_process = false;
}

static void
http_conn_resume(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	http_conn_process(arg);
}

static void
http_request_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct http_request	*r = arg;
	struct http_conn	*c = r->conn;

	(void)fd;
	(void)what;
	log_info("%s request_timeout reached", r->id);
	http_request_cancel(r);
	if (c->state == CONN_BODY)
		event_del(&c->timer);
	http_respond_problem(r, PROBLEM_GATEWAY_TIMEOUT);
}

static void
http_conn_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct http_conn	*c = arg;
	struct http_request	*r = c->req;

	(void)fd;
	(void)what;
	if ((c->state == CONN_HEAD || c->state == CONN_BODY) && r != NULL) {
		log_info("%s %s timeout", r->id, c->state == CONN_HEAD ?
		    "header" : "body");
		r->close = true;
		r->linger = true;
		http_respond_problem(r, PROBLEM_TIMEOUT);
		return;
	}
	http_conn_close(c);
}

/* Close: free everything the connection holds. */
static void
http_conn_close(struct http_conn *c)
{
	struct http_server	*srv = c->srv;

	if (c->req != NULL) {
		http_request_cancel(c->req);
		http_request_release(c->req);
	}
	event_del(&c->timer);
	event_del(&c->resume);
	if (c->linger_added)
		event_del(&c->linger_ev);
	if (c->ssl != NULL && c->tls_ok && c->state != CONN_LINGER)
		(void)SSL_shutdown(c->ssl);
	bufferevent_free(c->bev);
	TAILQ_REMOVE(&srv->conns, c, entry);
	srv->nconns--;
	free(c);
	if (srv->draining && srv->nconns == 0 && srv->drain_done != NULL)
		srv->drain_done(srv->drain_arg);
}

static void
http_linger_read(evutil_socket_t fd, short what, void *arg)
{
	struct http_conn	*c = arg;
	char			 buf[16384];
	ssize_t			 n;

	(void)what;
	for (;;) {
		n = recv(fd, buf, sizeof(buf), 0);
		if (n > 0) {
			c->linger_bytes += (size_t)n;
			if (c->linger_bytes <= HTTP_LINGER_MAX)
				continue;
		} else if (n == -1 && (errno == EAGAIN || errno == EINTR))
			return;
		http_conn_close(c);
		return;
	}
}

/*
 * The last response is flushed.  If the client may still be sending
 * (an unread body, a refused head), closing now would make the kernel
 * answer with a reset that can destroy the response before the client
 * reads it; so the write side is shut and input is discarded for at most
 * HTTP_LINGER_MS and HTTP_LINGER_MAX bytes.
 */
static void
http_conn_flushed(struct http_conn *c)
{
	int	 fd;

	if (!c->linger_wanted || c->eof) {
		http_conn_close(c);
		return;
	}
	fd = bufferevent_getfd(c->bev);
	if (c->ssl != NULL && c->tls_ok)
		(void)SSL_shutdown(c->ssl);
	bufferevent_disable(c->bev, EV_READ | EV_WRITE);
	(void)shutdown(fd, SHUT_WR);
	event_assign(&c->linger_ev, c->srv->base, fd, EV_READ | EV_PERSIST,
	    http_linger_read, c);
	event_add(&c->linger_ev, NULL);
	c->linger_added = true;
	c->state = CONN_LINGER;
	event_del(&c->timer);
	http_timer_set(&c->timer, HTTP_LINGER_MS);
}

static void
http_conn_readcb(struct bufferevent *bev, void *arg)
{
	(void)bev;
	http_conn_process(arg);
}

static void
http_conn_writecb(struct bufferevent *bev, void *arg)
{
	struct http_conn	*c = arg;

	if (evbuffer_get_length(bufferevent_get_output(bev)) > 0)
		return;
	if (c->state == CONN_CLOSING)
		http_conn_flushed(c);
	else if (c->state == CONN_FLUSH) {
		if (c->srv->draining) {
			http_conn_close(c);
			return;
		}
		c->state = CONN_IDLE;
		http_conn_process(c);
	}
}

static void
http_conn_handshake_done(struct http_conn *c)
{
	const struct conf_tls	*t = &c->srv->conf->server.tls;
	char			 subj[256];

	c->tls_ok = true;
	c->state = CONN_IDLE;
	if (t->client_ca != NULL && t->client_verify == CLIENT_VERIFY_OPTIONAL) {
		if (tls_peer_subject(c->ssl, subj, sizeof(subj)) == 0)
			log_info("client certificate: %s", subj);
		else
			log_debug("no client certificate");
	}
}

static void
http_conn_eventcb(struct bufferevent *bev, short what, void *arg)
{
	struct http_conn	*c = arg;
	unsigned long		 e;

	(void)bev;
	if (what & BEV_EVENT_CONNECTED) {
		http_conn_handshake_done(c);
		http_conn_process(c);
		return;
	}
	if (what & BEV_EVENT_ERROR) {
		if (c->ssl != NULL && (e = bufferevent_get_openssl_error(bev)))
			log_debug("TLS error: %s", ERR_reason_error_string(e) ?
			    ERR_reason_error_string(e) : "unknown");
		c->tls_ok = false;
		http_conn_close(c);
		return;
	}
	if (what & BEV_EVENT_EOF) {
		c->eof = true;
		switch (c->state) {
		case CONN_HEAD:
		case CONN_BODY:
		case CONN_IDLE:
			http_conn_process(c);
			return;
		case CONN_HANDLER:
		case CONN_CLOSING:
		case CONN_FLUSH:
			return;
		default:
			http_conn_close(c);
			return;
		}
	}
}

static struct http_conn *
http_conn_new(struct http_server *srv, int fd, const struct sockaddr *sa,
    socklen_t salen)
{
	struct http_conn	*c;
	int			 one = 1;
	size_t			 high;

	c = bw_calloc(1, sizeof(*c));
	c->srv = srv;
	if (sa != NULL && salen <= sizeof(c->peer))
		memcpy(&c->peer, sa, salen);
	http_addr_text((struct sockaddr *)&c->peer, c->peer_ip,
	    sizeof(c->peer_ip));
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (srv->ssl_ctx != NULL) {
		if ((c->ssl = SSL_new(srv->ssl_ctx)) == NULL) {
			free(c);
			return NULL;
		}
		c->bev = bufferevent_openssl_socket_new(srv->base, fd, c->ssl,
		    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
		if (c->bev == NULL)
			SSL_free(c->ssl);
		else
			bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
		c->state = CONN_HANDSHAKE;
	} else {
		c->bev = bufferevent_socket_new(srv->base, fd,
		    BEV_OPT_CLOSE_ON_FREE);
		c->state = CONN_IDLE;
	}
	if (c->bev == NULL) {
		free(c);
		return NULL;
	}
	high = srv->lim->max_header_size + 1 + HTTP_READ_SLACK;
	bufferevent_setwatermark(c->bev, EV_READ, 0, high);
	bufferevent_setcb(c->bev, http_conn_readcb, http_conn_writecb,
	    http_conn_eventcb, c);
	evtimer_assign(&c->timer, srv->base, http_conn_timeout, c);
	evtimer_assign(&c->resume, srv->base, http_conn_resume, c);
	TAILQ_INSERT_TAIL(&srv->conns, c, entry);
	srv->nconns++;
	http_timer_set(&c->timer, srv->lim->header_timeout_ms);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	return c;
}

/*
 * A new socket: refused (closed at once) beyond max_connections, while
 * draining, and in plaintext mode from a peer outside trusted_proxies.
 */
int
http_server_adopt(struct http_server *srv, int fd, const struct sockaddr *sa,
    socklen_t salen)
{
	if (srv->draining || srv->nconns >= srv->lim->max_connections) {
		close(fd);
		return -1;
	}
	if (srv->ssl_ctx == NULL && !http_addr_trusted(srv->conf, sa)) {
		log_info("plaintext connection from an untrusted peer closed");
		close(fd);
		return -1;
	}
	if (http_conn_new(srv, fd, sa, salen) == NULL) {
		log_warnx("cannot set up a connection");
		close(fd);
		return -1;
	}
	return 0;
}

static void
http_accept_cb(struct evconnlistener *l, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	(void)l;
	(void)http_server_adopt(arg, fd, sa, (socklen_t)salen);
}

static void
http_listeners_enable(struct http_server *srv, bool on)
{
	size_t	 i;

	for (i = 0; i < srv->nlisteners; i++) {
		if (on)
			evconnlistener_enable(srv->listeners[i]);
		else
			evconnlistener_disable(srv->listeners[i]);
	}
}

static void
http_accept_resume(evutil_socket_t fd, short what, void *arg)
{
	struct http_server	*srv = arg;

	(void)fd;
	(void)what;
	if (!srv->draining)
		http_listeners_enable(srv, true);
}

static void
http_accept_error(struct evconnlistener *l, void *arg)
{
	struct http_server	*srv = arg;
	int			 err = EVUTIL_SOCKET_ERROR();

	(void)l;
	if (err == EMFILE || err == ENFILE || err == ENOBUFS ||
	    err == ENOMEM) {
		log_warnx("accept: %s; pausing for %d ms", strerror(err),
		    HTTP_ACCEPT_PAUSE_MS);
		http_listeners_enable(srv, false);
		http_timer_set(srv->pause_ev, HTTP_ACCEPT_PAUSE_MS);
		return;
	}
	log_warnx("accept: %s", strerror(err));
}

int
http_server_listen(struct http_server *srv, int fd, const char **err)
{
	struct evconnlistener	*l;

	if (srv->draining) {
		*err = "the server is draining";
		return -1;
	}
	l = evconnlistener_new(srv->base, http_accept_cb, srv,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0, fd);
	if (l == NULL) {
		*err = "cannot listen on a socket";
		return -1;
	}
	evconnlistener_set_error_cb(l, http_accept_error);
	srv->listeners = bw_reallocarray(srv->listeners, srv->nlisteners + 1,
	    sizeof(*srv->listeners));
	srv->listeners[srv->nlisteners++] = l;
	return 0;
}

struct http_server *
http_server_new(struct event_base *base, const struct conf *conf,
    SSL_CTX *ssl_ctx, const char **err)
{
	struct http_server	*srv;

	if (!conf->server.plaintext && ssl_ctx == NULL) {
		*err = "a TLS context is required unless server.plaintext";
		return NULL;
	}
	srv = bw_calloc(1, sizeof(*srv));
	srv->base = base;
	srv->conf = conf;
	srv->lim = &conf->server.limits;
	srv->ssl_ctx = conf->server.plaintext ? NULL : ssl_ctx;
	srv->plim.max_header_size = srv->lim->max_header_size;
	srv->plim.max_headers = srv->lim->max_headers;
	srv->plim.max_uri_length = srv->lim->max_uri_length;
	srv->rnd_off = sizeof(srv->rnd);
	srv->rl = ratelimit_new(RATELIMIT_SLOTS);
	TAILQ_INIT(&srv->conns);
	if ((srv->pause_ev = evtimer_new(base, http_accept_resume, srv)) ==
	    NULL || http_fixed_headers(srv) == -1) {
		*err = "cannot set up the HTTP server";
		http_server_free(srv);
		return NULL;
	}
	if (http_router_build(srv, err) == -1) {
		http_server_free(srv);
		return NULL;
	}
	return srv;
}

static void
http_listeners_free(struct http_server *srv)
{
	size_t	 i;

	for (i = 0; i < srv->nlisteners; i++)
		evconnlistener_free(srv->listeners[i]);
	free(srv->listeners);
	srv->listeners = NULL;
	srv->nlisteners = 0;
}

void
http_server_free(struct http_server *srv)
{
	struct http_request	*r;

	if (srv == NULL)
		return;
	srv->drain_done = NULL;
	while (!TAILQ_EMPTY(&srv->conns))
		http_conn_close(TAILQ_FIRST(&srv->conns));
	http_listeners_free(srv);
	while ((r = srv->free_reqs) != NULL) {
		srv->free_reqs = r->next_free;
		http_request_destroy(r);
	}
	if (srv->pause_ev != NULL)
		event_free(srv->pause_ev);
	free(srv->fixed);
	router_free(srv->router);
	ratelimit_free(srv->rl);
	bw_wipe(srv->rnd, sizeof(srv->rnd));
	free(srv);
}

void
http_server_set_handler(struct http_server *srv, http_handler_fn fn,
    void *arg)
{
	srv->handler = fn;
	srv->handler_arg = arg;
}

void
http_server_set_prepare(struct http_server *srv, http_prepare_fn fn,
    void *arg)
{
	srv->prepare = fn;
	srv->prepare_arg = arg;
}

void
http_server_set_admit(struct http_server *srv, http_prepare_fn fn, void *arg)
{
	srv->admit = fn;
	srv->admit_arg = arg;
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

void
http_server_drain(struct http_server *srv, void (*done)(void *), void *arg)
{
	struct http_conn	*c, *next;

	srv->draining = true;
	srv->drain_done = NULL;
	http_listeners_free(srv);
	event_del(srv->pause_ev);
	/*
	 * Only keep-alive connections between requests close now.  A
	 * connection still in its handshake or before its first request was
	 * accepted to be served: it gets one answer (with Connection: close)
	 * or its header_timeout, so a reload loses no client.
	 */
	for (c = TAILQ_FIRST(&srv->conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		if (c->state == CONN_IDLE && c->nrequests > 0)
			http_conn_close(c);
	}
	if (srv->nconns == 0) {
		if (done != NULL)
			done(arg);
		return;
	}
	srv->drain_done = done;
	srv->drain_arg = arg;
}

size_t
http_server_connections(const struct http_server *srv)
{
	return srv->nconns;
}
