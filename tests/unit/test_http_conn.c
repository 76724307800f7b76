/*
 * test_http_conn.c - the connection layer (http.c) driven in-process: the
 * server end of a socketpair is adopted by an http_server, the client end
 * is a bufferevent (plain, or OpenSSL for the TLS cases) in the same
 * event_base.  Every case speaks real bytes and reads real responses.
 */
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <ctype.h>
#include <fcntl.h>
#include <signal.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
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
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "balance.h"
#include "chan.h"
#include "conf.h"
#include "http.h"
#include "unit_cert.h"
#include "log.h"
#include "router.h"
#include "tls.h"
#include "util.h"
#include "worker.h"
#include "unit.h"

static struct conf		 conf;
static struct conf_route	 routes[5];
static struct conf_cidr		 proxies[2];
static struct conf_header	 extra[1];
static char			*hostnames[1];
static struct node		 body_schema;
static int			 cancelled;
static int			 ctx_freed;

struct resp {
	int	 status;
	char	 head[8192];
	char	 body[65536];
	size_t	 blen;
};

struct h {
	struct event_base	*base;
	struct http_server	*srv;
	struct bufferevent	*cli;
	struct event		*tick;
	SSL_CTX			*sctx;
	SSL_CTX			*cctx;
	bool			 eof;
	bool			 connected;
	int			 drained;
};

static void
conf_reset(void)
{
	struct conf_limits	*l = &conf.server.limits;

	memset(&conf, 0, sizeof(conf));
	memset(routes, 0, sizeof(routes));
	routes[0].name = "get_note";
	routes[0].method = METHOD_GET;
	routes[0].path = "/notes/{id}";
	routes[1].name = "create_note";
	routes[1].method = METHOD_POST;
	routes[1].path = "/notes";
	routes[1].body = &body_schema;
	routes[2].name = "small";
	routes[2].method = METHOD_POST;
	routes[2].path = "/small";
	routes[2].body = &body_schema;
	routes[2].max_body_size = 16;
	routes[3].name = "slow";
	routes[3].method = METHOD_GET;
	routes[3].path = "/slow";
	routes[4].name = "delete_note";
	routes[4].method = METHOD_DELETE;
	routes[4].path = "/notes/{id}";
	conf.routes = routes;
	conf.nroutes = BW_ARRAY_LEN(routes);
	conf.server.plaintext = true;
	proxies[0].family = AF_INET;
	proxies[0].addr[0] = 127;
	proxies[0].prefix = 8;
	proxies[1].family = AF_INET6;
	inet_pton(AF_INET6, "2001:db8::", proxies[1].addr);
	proxies[1].prefix = 32;
	conf.server.trusted_proxies = proxies;
	conf.server.ntrusted_proxies = 2;
	extra[0].name = "X-Api-Version";
	extra[0].value = "1";
	conf.server.headers = extra;
	conf.server.nheaders = 1;
	conf.server.tls.hsts_ms = 730LL * 86400 * 1000;
	conf.server.shutdown_timeout_ms = 1000;
	l->max_connections = 100;
	l->header_timeout_ms = 3000;
	l->body_timeout_ms = 3000;
	l->idle_timeout_ms = 3000;
	l->request_timeout_ms = 3000;
	l->max_header_size = 8192;
	l->max_headers = 64;
	l->max_uri_length = 4096;
	l->max_body_size = 1024 * 1024;
	l->max_json_depth = 32;
	l->max_response_size = 8 * 1024 * 1024;
	l->max_requests_per_connection = 1000;
	cancelled = 0;
	ctx_freed = 0;
}

static void
unit_setup(void)
{
	conf_reset();
	log_access_open("off");
	signal(SIGPIPE, SIG_IGN);
}

/* The handler of these tests: echoes route, client ip and first param. */
static void
slow_cancel(void *arg)
{
	(*(int *)arg)++;
}

static void
test_handler(struct http_request *r, void *arg)
{
	const struct conf_route		*rt = http_request_route(r);
	const struct router_match	*m = http_request_match(r);

	(void)arg;
	if (strcmp(rt->name, "slow") == 0) {
		http_request_set_cancel(r, slow_cancel, &cancelled);
		return;
	}
	evbuffer_add_printf(http_response_body(r),
	    "{\"route\":\"%s\",\"ip\":\"%s\",\"p\":\"%s\",\"id\":\"%s\"}",
	    rt->name, http_request_ip(r), m->nparams > 0 ?
	    m->params[0].value : "", http_request_id(r));
	http_respond(r, 200);
}

static void
test_ctx_free(void *p)
{
	ctx_freed++;
	free(p);
}

/* The prepare hook: every routed request gets a ctx; "?bad" is refused. */
static int
test_prepare(struct http_request *r, void *arg)
{
	const struct http_head	*h = http_request_head(r);
	struct problem_error	 e = { "/bad", "is not declared" };

	(void)arg;
	http_request_set_ctx(r, bw_malloc(16), test_ctx_free);
	if (h->query != NULL && h->query_len == 3 &&
	    memcmp(h->query, "bad", 3) == 0) {
		http_respond_validation(r, PROBLEM_PARAMS, &e, 1);
		return -1;
	}
	return 0;
}

static const struct http_route_ops test_ops = {
	test_prepare, test_handler, NULL,
};

static void
cli_read(struct bufferevent *bev, void *arg)
{
	(void)bev;
	(void)arg;
}

static void
cli_event(struct bufferevent *bev, short what, void *arg)
{
	struct h	*h = arg;

	(void)bev;
	if (what & BEV_EVENT_CONNECTED)
		h->connected = true;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		h->eof = true;
}

static void
tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
}

static void
drained(void *arg)
{
	((struct h *)arg)->drained++;
}

static int64_t
now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct sockaddr_in
inet4(const char *a)
{
	struct sockaddr_in	 sin;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(40000);
	inet_pton(AF_INET, a, &sin.sin_addr);
	return sin;
}

static void
h_base(struct h *h)
{
	const char		*err = NULL;
	struct timeval		 tv = { 0, 10000 };

	memset(h, 0, sizeof(*h));
	ck_assert_ptr_nonnull(h->base = event_base_new());
	h->tick = event_new(h->base, -1, EV_PERSIST, tick, NULL);
	event_add(h->tick, &tv);
	h->srv = http_server_new(h->base, &conf, NULL, &err);
	ck_assert_msg(h->srv != NULL, "%s", err ? err : "?");
	ck_assert_int_eq(http_server_add_routes(h->srv, &test_ops, &err), 0);
}

/* A plaintext client whose peer address (as the server sees it) is peer. */
static void
h_open_from(struct h *h, const char *peer)
{
	struct sockaddr_in	 sin = inet4(peer);
	int			 sv[2];

	h_base(h);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0, sv), 0);
	ck_assert_int_eq(http_server_adopt(h->srv, sv[0],
	    (struct sockaddr *)&sin, sizeof(sin)), 0);
	h->cli = bufferevent_socket_new(h->base, sv[1], BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(h->cli, cli_read, NULL, cli_event, h);
	bufferevent_enable(h->cli, EV_READ | EV_WRITE);
}

static void
h_open(struct h *h)
{
	h_open_from(h, "127.0.0.1");
}

static void
h_close(struct h *h)
{
	if (h->cli != NULL)
		bufferevent_free(h->cli);
	http_server_free(h->srv);
	event_free(h->tick);
	event_base_free(h->base);
	if (h->sctx != NULL)
		tls_ctx_free(h->sctx);
	if (h->cctx != NULL)
		SSL_CTX_free(h->cctx);
}

/* Run the loop until cond(h) or ms pass; returns cond(h). */
static bool
h_run(struct h *h, bool (*cond)(struct h *, void *), void *arg, int ms)
{
	int64_t	 end = now_ms() + ms;

	while (!cond(h, arg) && now_ms() < end)
		event_base_loop(h->base, EVLOOP_ONCE);
	return cond(h, arg);
}

static bool
c_flushed(struct h *h, void *arg)
{
	(void)arg;
	return evbuffer_get_length(bufferevent_get_output(h->cli)) == 0;
}

static bool
c_eof(struct h *h, void *arg)
{
	(void)arg;
	return h->eof;
}

static void
h_send(struct h *h, const char *s, size_t n)
{
	bufferevent_write(h->cli, s, n);
	ck_assert(h_run(h, c_flushed, NULL, 2000));
}

static void
h_sends(struct h *h, const char *s)
{
	h_send(h, s, strlen(s));
}

/* Parses one response out of the client's input; 1 when complete. */
static int
resp_take(struct h *h, bool head_req, struct resp *r)
{
	struct evbuffer		*in = bufferevent_get_input(h->cli);
	struct evbuffer_ptr	 p;
	const char		*cl;
	size_t			 hlen, need;

	p = evbuffer_search(in, "\r\n\r\n", 4, NULL);
	if (p.pos < 0)
		return 0;
	hlen = (size_t)p.pos + 4;
	ck_assert_uint_lt(hlen, sizeof(r->head));
	evbuffer_copyout(in, r->head, hlen);
	r->head[hlen] = '\0';
	ck_assert_int_eq(sscanf(r->head, "HTTP/1.1 %d ", &r->status), 1);
	r->blen = 0;
	if ((cl = strcasestr(r->head, "\r\nContent-Length: ")) != NULL &&
	    !head_req)
		r->blen = strtoul(cl + 18, NULL, 10);
	need = hlen + r->blen;
	if (evbuffer_get_length(in) < need)
		return 0;
	ck_assert_uint_lt(r->blen, sizeof(r->body));
	evbuffer_drain(in, hlen);
	evbuffer_remove(in, r->body, r->blen);
	r->body[r->blen] = '\0';
	return 1;
}

struct want {
	struct resp	*r;
	bool		 head_req;
	int		 got;
};

static bool
c_resp(struct h *h, void *arg)
{
	struct want	*w = arg;

	if (w->got == 0)
		w->got = resp_take(h, w->head_req, w->r);
	return w->got == 1 || h->eof;
}

static bool
h_resp_head(struct h *h, struct resp *r, bool head_req)
{
	struct want	 w = { r, head_req, 0 };

	(void)h_run(h, c_resp, &w, 5000);
	if (w.got == 0)
		w.got = resp_take(h, head_req, r);
	return w.got == 1;
}

static bool
h_resp(struct h *h, struct resp *r)
{
	return h_resp_head(h, r, false);
}

/* Value of a header (first occurrence) or NULL. */
static const char *
hdr(const struct resp *r, const char *name)
{
	static char	 v[1024];
	char		 pat[128];
	const char	*p, *e;

	snprintf(pat, sizeof(pat), "\r\n%s: ", name);
	if ((p = strcasestr(r->head, pat)) == NULL)
		return NULL;
	p += strlen(pat);
	e = strstr(p, "\r\n");
	snprintf(v, sizeof(v), "%.*s", (int)(e - p), p);
	return v;
}

static void
assert_closed(struct h *h)
{
	ck_assert_msg(h_run(h, c_eof, NULL, 5000), "connection not closed");
	ck_assert_uint_eq(evbuffer_get_length(bufferevent_get_input(h->cli)),
	    0);
}

static void
assert_open(struct h *h)
{
	(void)h_run(h, c_eof, NULL, 100);
	ck_assert_msg(!h->eof, "connection closed");
}

#define GET(p)	"GET " p " HTTP/1.1\r\nHost: api.example.com\r\n\r\n"

/* Sends req and reads one response into r: its status. */
static int
h_ask(struct h *h, const char *req, struct resp *r)
{
	h_sends(h, req);
	ck_assert(h_resp(h, r));
	return r->status;
}

/* The response r said Connection: close, and the server closed. */
static void
assert_close_sent(struct h *h, const struct resp *r)
{
	ck_assert_str_eq(hdr(r, "Connection"), "close");
	assert_closed(h);
}

START_TEST(test_keep_alive)
{
	struct h	 h;
	struct resp	 r;

	h_open(&h);
	ck_assert_int_eq(h_ask(&h, GET("/notes/1"), &r), 200);
	ck_assert_ptr_null(hdr(&r, "Connection"));
	ck_assert_ptr_nonnull(strstr(r.body, "\"route\":\"get_note\""));
	ck_assert_int_eq(h_ask(&h, GET("/notes/2"), &r), 200);
	ck_assert_ptr_nonnull(strstr(r.body, "\"p\":\"2\""));
	assert_open(&h);
	ck_assert_uint_eq(http_server_connections(h.srv), 1);
	h_close(&h);
}
END_TEST

/* Three requests in one write: three responses, in order. */
START_TEST(test_pipelining)
{
	struct h	 h;
	struct resp	 r;
	char		 want[32];
	int		 i;

	h_open(&h);
	h_sends(&h, GET("/notes/1") GET("/notes/2") "DELETE /nope HTTP/1.1\r\n"
	    "Host: a\r\n\r\n" GET("/notes/3"));
	for (i = 1; i <= 4; i++) {
		ck_assert(h_resp(&h, &r));
		if (i == 3) {
			ck_assert_int_eq(r.status, 404);
			continue;
		}
		ck_assert_int_eq(r.status, 200);
		snprintf(want, sizeof(want), "\"p\":\"%d\"", i < 3 ? i : 3);
		ck_assert_ptr_nonnull(strstr(r.body, want));
	}
	assert_open(&h);
	h_close(&h);
}
END_TEST

/* A slow handler holds the next pipelined request back. */
START_TEST(test_pipelining_waits)
{
	struct h	 h;
	struct resp	 r;

	conf.server.limits.request_timeout_ms = 300;
	h_open(&h);
	ck_assert_int_eq(h_ask(&h, GET("/slow") GET("/notes/7"), &r), 504);
	ck_assert_int_eq(cancelled, 1);
	ck_assert(h_resp(&h, &r));
	ck_assert_int_eq(r.status, 200);
	ck_assert_ptr_nonnull(strstr(r.body, "\"p\":\"7\""));
	h_close(&h);
}
END_TEST

START_TEST(test_header_timeout)
{
	struct h	 h;
	struct resp	 r;
	int64_t		 t0;

	conf.server.limits.header_timeout_ms = 200;
	h_open(&h);
	t0 = now_ms();
	ck_assert_int_eq(h_ask(&h, "GET /notes/1 HTTP/1.1\r\nHo", &r), 408);
	assert_close_sent(&h, &r);
	ck_assert_int_ge(now_ms() - t0, 150);
	h_close(&h);

	/* Nothing sent at all: closed without a response. */
	h_open(&h);
	assert_closed(&h);
	h_close(&h);
}
END_TEST

/* Later requests: the header deadline runs from their first byte. */
START_TEST(test_idle_then_header_timeout)
{
	struct h	 h;
	struct resp	 r;

	conf.server.limits.header_timeout_ms = 300;
	conf.server.limits.idle_timeout_ms = 600;
	h_open(&h);
	h_sends(&h, GET("/notes/1"));
	ck_assert(h_resp(&h, &r));
	/* Past the first header deadline but within idle: still open. */
	(void)h_run(&h, c_eof, NULL, 400);
	ck_assert(!h.eof);
	ck_assert_int_eq(h_ask(&h, GET("/notes/2"), &r), 200);
	/* Idle past idle_timeout: closed, no response. */
	assert_closed(&h);
	h_close(&h);
}
END_TEST

static void
refused_then_closed(const char *req, size_t n, int status)
{
	struct h	 h;
	struct resp	 r;

	h_open(&h);
	h_send(&h, req, n);
	ck_assert(h_resp(&h, &r));
	ck_assert_int_eq(r.status, status);
	ck_assert_str_eq(hdr(&r, "Connection"), "close");
	ck_assert_str_eq(hdr(&r, "Content-Type"), "application/problem+json");
	ck_assert_ptr_nonnull(strstr(r.body, "\"instance\":\""));
	assert_closed(&h);
	h_close(&h);
}

static void
refused_str(const char *req, int status)
{
	refused_then_closed(req, strlen(req), status);
}

START_TEST(test_431_414_400)
{
	char	*big;
	size_t	 n;

	conf.server.limits.max_header_size = 1024;
	conf.server.limits.max_uri_length = 256;
	big = bw_malloc(4096);
	n = (size_t)snprintf(big, 4096, "GET /notes/1 HTTP/1.1\r\n"
	    "Host: a\r\nX-Big: %0*d\r\n\r\n", 1100, 0);
	refused_then_closed(big, n, 431);
	n = (size_t)snprintf(big, 4096, "GET /notes/%0*d HTTP/1.1\r\n"
	    "Host: a\r\n\r\n", 300, 0);
	refused_then_closed(big, n, 414);
	free(big);
	refused_str("GET /notes/1 HTTP/1.1\r\nHost: a\r\n"
	    "Bad Name: x\r\n\r\n",
	    400);
	refused_str("GET /notes/1 HTTP/1.1\r\n\r\n",
	    400);
	refused_str("POST /notes HTTP/1.1\r\nHost: a\r\n"
	    "Content-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n",
	    400);
	refused_str("BREW /notes/1 HTTP/1.1\r\nHost: a\r\n\r\n",
	    501);
	refused_str("GET /notes/1 HTTP/2.0\r\nHost: a\r\n\r\n",
	    505);
}
END_TEST

/* max_headers is a 431 too. */
START_TEST(test_max_headers)
{
	char	 req[2048];
	size_t	 n;
	int	 i;

	conf.server.limits.max_headers = 4;
	n = (size_t)snprintf(req, sizeof(req), "GET /notes/1 HTTP/1.1\r\n"
	    "Host: a\r\n");
	for (i = 0; i < 4; i++)
		n += (size_t)snprintf(req + n, sizeof(req) - n, "X-%d: v\r\n",
		    i);
	n += (size_t)snprintf(req + n, sizeof(req) - n, "\r\n");
	refused_then_closed(req, n, 431);
}
END_TEST

START_TEST(test_405_allow)
{
	struct h	 h;
	struct resp	 r;

	h_open(&h);
	ck_assert_int_eq(h_ask(&h,
	    "PUT /notes/1 HTTP/1.1\r\nHost: a\r\n\r\n", &r), 405);
	ck_assert_str_eq(hdr(&r, "Allow"), "GET, HEAD, DELETE, OPTIONS");
	ck_assert_ptr_null(hdr(&r, "Connection"));
	ck_assert_int_eq(h_ask(&h,
	    "TRACE /notes/1 HTTP/1.1\r\nHost: a\r\n\r\n", &r), 405);
	ck_assert_str_eq(hdr(&r, "Allow"), "GET, HEAD, DELETE, OPTIONS");
	ck_assert_int_eq(h_ask(&h,
	    "TRACE /unknown HTTP/1.1\r\nHost: a\r\n\r\n", &r), 405);
	ck_assert_int_eq(h_ask(&h,
	    "GET /unknown HTTP/1.1\r\nHost: a\r\n\r\n", &r), 404);
	ck_assert_ptr_nonnull(strstr(r.body,
	    "\"detail\":\"no resource matches the request\""));
	assert_open(&h);
	h_close(&h);
}
END_TEST

START_TEST(test_options)
{
	struct h	 h;
	struct resp	 r;

	h_open(&h);
	ck_assert_int_eq(h_ask(&h,
	    "OPTIONS /notes HTTP/1.1\r\nHost: a\r\n\r\n", &r), 204);
	ck_assert_str_eq(hdr(&r, "Allow"), "POST, OPTIONS");
	ck_assert_ptr_null(hdr(&r, "Content-Length"));
	ck_assert_ptr_null(hdr(&r, "Content-Type"));
	ck_assert_uint_eq(r.blen, 0);
	ck_assert_int_eq(h_ask(&h,
	    "OPTIONS /nothing HTTP/1.1\r\nHost: a\r\n\r\n", &r), 404);
	assert_open(&h);
	h_close(&h);
}
END_TEST

/* HEAD: the GET route, its Content-Length, no body bytes on the wire. */
START_TEST(test_head)
{
	struct h	 h;
	struct resp	 g, r;

	h_open(&h);
	h_sends(&h, GET("/notes/5"));
	ck_assert(h_resp(&h, &g));
	h_sends(&h, "HEAD /notes/5 HTTP/1.1\r\nHost: api.example.com\r\n\r\n");
	ck_assert(h_resp_head(&h, &r, true));
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(hdr(&r, "Content-Length"), hdr(&g, "Content-Length"));
	ck_assert_uint_gt(g.blen, 0);
	/* Had a body been sent, this would not parse as a response. */
	ck_assert_int_eq(h_ask(&h, GET("/notes/6"), &r), 200);
	ck_assert_ptr_nonnull(strstr(r.body, "\"p\":\"6\""));
	h_close(&h);
}
END_TEST

START_TEST(test_chunked_body)
{
	struct h	 h;
	struct resp	 r;

	h_open(&h);
	h_sends(&h, "POST /notes HTTP/1.1\r\nHost: a\r\n"
	    "Content-Type: application/json; charset=UTF-8\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n"
	    "5;ext=1\r\n{\"tit\r\n"
	    "8\r\nle\":\"x\"}\r\n0\r\nTrailer: t\r\n\r\n");
	ck_assert(h_resp(&h, &r));
	ck_assert_int_eq(r.status, 200);
	ck_assert_ptr_nonnull(strstr(r.body, "create_note"));
	/* Bytes split across writes. */
	h_sends(&h, "POST /notes HTTP/1.1\r\nHost: a\r\n"
	    "Content-Type: application/json\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n2\r\n[");
	h_sends(&h, "1\r\n");
	ck_assert_int_eq(h_ask(&h, "1\r\n]\r\n0\r\n\r\n", &r), 200);
	assert_open(&h);
	h_close(&h);
}
END_TEST

START_TEST(test_chunked_errors)
{
	static const char prefix[] = "POST /small HTTP/1.1\r\nHost: a\r\n"
	    "Content-Type: application/json\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n";
	char	 req[512];
	size_t	 n;

	n = (size_t)snprintf(req, sizeof(req), "%s14\r\n%020d\r\n0\r\n\r\n",
	    prefix, 0);
	refused_then_closed(req, n, 413);
	n = (size_t)snprintf(req, sizeof(req), "%szz\r\n", prefix);
	refused_then_closed(req, n, 400);
}
END_TEST

START_TEST(test_body_to_route_without_body)
{
	refused_str("GET /notes/1 HTTP/1.1\r\nHost: a\r\n"
	    "Content-Length: 2\r\n\r\n{}",
	    400);
	refused_str("DELETE /notes/1 HTTP/1.1\r\nHost: a\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
	    400);
}
END_TEST

/* A response before the declared body was read closes the connection. */
START_TEST(test_early_response_closes)
{
	/* 415: wrong type; the body is never read. */
	refused_str("POST /notes HTTP/1.1\r\nHost: a\r\n"
	    "Content-Type: text/plain\r\nContent-Length: 100\r\n\r\n{",
	    415);
	refused_str("POST /notes HTTP/1.1\r\nHost: a\r\n"
	    "Content-Type: application/json\r\nContent-Encoding: gzip\r\n"
	    "Content-Length: 2\r\n\r\n{}",
	    415);
	/* 413: declared too large. */
	refused_str("POST /small HTTP/1.1\r\nHost: a\r\n"
	    "Content-Type: application/json\r\nContent-Length: 17\r\n\r\n",
	    413);
	/* 404 with a body: closes too. */
	refused_str("POST /none HTTP/1.1\r\nHost: a\r\n"
	    "Content-Length: 2\r\n\r\n{}",
	    404);
}
END_TEST

/* Refused bodies that were read entirely keep the connection. */
START_TEST(test_json_syntax)
{
	static const char *const bad[] = {
		"{\"a\":1,\"a\":2}", "{\"a\":}", "\xef\xbb\xbf{}", "[1,]",
		"[[[[[1]]]]]", "{\"a\":\"\xff\"}", " ",
	};
	struct h	 h;
	struct resp	 r;
	char		 req[512];
	size_t		 i;
	int		 n;

	conf.server.limits.max_json_depth = 4;
	h_open(&h);
	for (i = 0; i < BW_ARRAY_LEN(bad); i++) {
		n = snprintf(req, sizeof(req), "POST /notes HTTP/1.1\r\n"
		    "Host: a\r\nContent-Type: application/json\r\n"
		    "Content-Length: %zu\r\n\r\n%s", strlen(bad[i]), bad[i]);
		h_send(&h, req, (size_t)n);
		ck_assert(h_resp(&h, &r));
		ck_assert_msg(r.status == 400, "%zu: %d", i, r.status);
		ck_assert_ptr_null(hdr(&r, "Connection"));
	}
	ck_assert_ptr_nonnull(strstr(r.body, "not valid JSON"));
	ck_assert_int_eq(h_ask(&h, "POST /notes HTTP/1.1\r\nHost: a\r\n"
	    "Content-Type: application/json\r\nContent-Length: 9\r\n\r\n"
	    "[[[[1]]]]", &r), 200);
	ck_assert_int_eq(h_ask(&h, "POST /notes HTTP/1.1\r\nHost: a\r\n"
	    "Content-Type: application/json\r\n\r\n", &r), 400);
	ck_assert_ptr_nonnull(strstr(r.body, "requires a JSON request body"));
	assert_open(&h);
	h_close(&h);
}
END_TEST

START_TEST(test_expect_continue)
{
	struct h	 h;
	struct resp	 r;

	h_open(&h);
	ck_assert_int_eq(h_ask(&h, "POST /notes HTTP/1.1\r\nHost: a\r\n"
	    "Content-Type: application/json\r\nExpect: 100-continue\r\n"
	    "Content-Length: 2\r\n\r\n", &r), 100);
	ck_assert_str_eq(r.head, "HTTP/1.1 100 Continue\r\n\r\n");
	ck_assert_int_eq(h_ask(&h, "{}", &r), 200);
	h_close(&h);
}
END_TEST

START_TEST(test_max_requests)
{
	struct h	 h;
	struct resp	 r;

	conf.server.limits.max_requests_per_connection = 2;
	h_open(&h);
	h_sends(&h, GET("/notes/1"));
	ck_assert(h_resp(&h, &r));
	ck_assert_ptr_null(hdr(&r, "Connection"));
	ck_assert_int_eq(h_ask(&h, GET("/notes/2") GET("/notes/3"), &r), 200);
	assert_close_sent(&h, &r);
	h_close(&h);
}
END_TEST

/* The exact header set and order of a 200 and of a problem. */
START_TEST(test_header_set)
{
	struct h	 h;
	struct resp	 r;
	char		 expect[1024], id[64], date[64];
	size_t		 i;

	h_open(&h);
	h_sends(&h, GET("/notes/1"));
	ck_assert(h_resp(&h, &r));
	bw_strlcpy(id, hdr(&r, "X-Request-Id"), sizeof(id));
	bw_strlcpy(date, hdr(&r, "Date"), sizeof(date));
	ck_assert_uint_eq(strlen(id), 32);
	for (i = 0; i < 32; i++)
		ck_assert(isxdigit((unsigned char)id[i]) &&
		    !isupper((unsigned char)id[i]));
	snprintf(expect, sizeof(expect), "HTTP/1.1 200 OK\r\n"
	    "Date: %s\r\n"
	    "Content-Type: application/json; charset=utf-8\r\n"
	    "Content-Length: %zu\r\n"
	    "Cache-Control: no-store\r\n"
	    "X-Content-Type-Options: nosniff\r\n"
	    "Content-Security-Policy: default-src 'none'; "
	    "frame-ancestors 'none'\r\n"
	    "X-Frame-Options: DENY\r\n"
	    "Referrer-Policy: no-referrer\r\n"
	    "X-Api-Version: 1\r\n"
	    "X-Request-Id: %s\r\n\r\n", date, r.blen, id);
	ck_assert_str_eq(r.head, expect);
	ck_assert_ptr_nonnull(strstr(r.body, id));
	ck_assert_int_eq(strlen(hdr(&r, "Date")), 29);
	h_sends(&h, GET("/x"));
	ck_assert(h_resp(&h, &r));
	ck_assert_ptr_nonnull(strstr(r.head, "HTTP/1.1 404 Not Found\r\n"));
	ck_assert_str_eq(hdr(&r, "Content-Type"), "application/problem+json");
	ck_assert_ptr_null(strcasestr(r.head, "\r\nServer:"));
	ck_assert_ptr_null(strcasestr(r.head, "Strict-Transport"));
	h_close(&h);
}
END_TEST

/* Two requests get two different ids. */
START_TEST(test_request_ids_differ)
{
	struct h	 h;
	struct resp	 r;
	char		 a[64];

	h_open(&h);
	h_sends(&h, GET("/notes/1"));
	ck_assert(h_resp(&h, &r));
	bw_strlcpy(a, hdr(&r, "X-Request-Id"), sizeof(a));
	h_sends(&h, GET("/notes/1"));
	ck_assert(h_resp(&h, &r));
	ck_assert_str_ne(a, hdr(&r, "X-Request-Id"));
	h_close(&h);
}
END_TEST

START_TEST(test_http10)
{
	struct h	 h;
	struct resp	 r;

	h_open(&h);
	h_sends(&h, "GET /notes/1 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
	ck_assert(h_resp(&h, &r));
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(hdr(&r, "Connection"), "keep-alive");
	ck_assert_int_eq(h_ask(&h, "GET /notes/1 HTTP/1.0\r\n\r\n", &r), 200);
	assert_close_sent(&h, &r);
	h_close(&h);
}
END_TEST

/* EOF never completes a message. */
START_TEST(test_eof_cuts)
{
	struct h	 h;

	h_open(&h);
	h_sends(&h, "POST /notes HTTP/1.1\r\nHost: a\r\n"
	    "Content-Type: application/json\r\nContent-Length: 10\r\n\r\n"
	    "[1,2");
	shutdown(bufferevent_getfd(h.cli), SHUT_WR);
	assert_closed(&h);
	h_close(&h);
	h_open(&h);
	h_sends(&h, "GET /notes/1 HTTP/1.1\r\nHost: a\r\n");
	shutdown(bufferevent_getfd(h.cli), SHUT_WR);
	assert_closed(&h);
	h_close(&h);
	/* A complete request before a half-close is answered, then closed. */
	h_open(&h);
	h_sends(&h, GET("/notes/9"));
	shutdown(bufferevent_getfd(h.cli), SHUT_WR);
	{
		struct resp	 r;

		ck_assert(h_resp(&h, &r));
		ck_assert_int_eq(r.status, 200);
	}
	assert_closed(&h);
	h_close(&h);
}
END_TEST

/* A body that stops short of its Content-Length: 408, and closed. */
static void
assert_stalled_body_408(void)
{
	struct h	 h;
	struct resp	 r;

	h_open(&h);
	ck_assert_int_eq(h_ask(&h, "POST /notes HTTP/1.1\r\nHost: a\r\n"
	    "Content-Type: application/json\r\nContent-Length: 10\r\n\r\n[1",
	    &r), 408);
	assert_close_sent(&h, &r);
	h_close(&h);
}

START_TEST(test_body_timeout)
{
	conf.server.limits.body_timeout_ms = 200;
	assert_stalled_body_408();
}
END_TEST

/*
 * SPEC 4: a body still incomplete when request_timeout fires is the
 * client's fault (408), as at body_timeout; also when both are equal.
 */
START_TEST(test_request_timeout_body)
{
	conf.server.limits.request_timeout_ms = 200;
	assert_stalled_body_408();
	conf.server.limits.body_timeout_ms = 200;
	assert_stalled_body_408();
}
END_TEST

/* The server holds *arg connections (none when arg is NULL). */
static bool
c_conns(struct h *h, void *arg)
{
	const size_t	*want = arg;

	return http_server_connections(h->srv) == (want != NULL ? *want : 0);
}

/*
 * The client leaves while the handler works: the request ends at
 * request_timeout, which cancels the handler; freeing the server with a
 * parked request cancels it too.
 */
START_TEST(test_cancel)
{
	struct h	 h;

	conf.server.limits.request_timeout_ms = 200;
	h_open(&h);
	h_sends(&h, GET("/slow"));
	(void)h_run(&h, c_eof, NULL, 50);
	bufferevent_free(h.cli);
	h.cli = NULL;
	ck_assert(h_run(&h, c_conns, NULL, 3000));
	ck_assert_int_eq(cancelled, 1);
	h_close(&h);

	cancelled = 0;
	h_open(&h);
	h_sends(&h, GET("/slow"));
	(void)h_run(&h, c_eof, NULL, 50);
	ck_assert_int_eq(cancelled, 0);
	h_close(&h);
	ck_assert_int_eq(cancelled, 1);
}
END_TEST

/*
 * An admit hook that parks every request the first time it sees it
 * (HTTP_ADMIT_WAIT), as auth.c does until the revocation state is loaded.
 */
static struct http_request	*parked;
static int			 admits;
static int			 park_cancels;

static void
park_cancel(void *arg)
{
	(void)arg;
	parked = NULL;
	park_cancels++;
}

static int
park_admit(struct http_request *r, void *arg)
{
	(void)arg;
	if (admits++ % 2 == 0) {
		parked = r;
		http_request_set_cancel(r, park_cancel, NULL);
		return HTTP_ADMIT_WAIT;
	}
	return 0;
}

static void
h_open_parking(struct h *h)
{
	parked = NULL;
	admits = park_cancels = 0;
	h_open(h);
	http_server_set_admit(h->srv, park_admit, NULL);
}

static bool
c_got_bytes(struct h *h, void *arg)
{
	(void)arg;
	return evbuffer_get_length(bufferevent_get_input(h->cli)) > 0;
}

/*
 * A parked request gets no answer until it is admitted again; then the
 * checks after admission (parameters, body) and the handler run, with a
 * body and a pipelined request that arrived meanwhile.
 */
START_TEST(test_admit_wait_readmit)
{
	struct h	 h;
	struct resp	 r;
	static const char two[] =
	    "POST /notes HTTP/1.1\r\nHost: a\r\n"
	    "Content-Type: application/json\r\nContent-Length: 7\r\n\r\n"
	    "{\"a\":1}" GET("/notes/8");

	h_open_parking(&h);
	h_sends(&h, GET("/notes/7"));
	ck_assert(!h_run(&h, c_got_bytes, NULL, 150));
	ck_assert_ptr_nonnull(parked);
	ck_assert_int_eq(admits, 1);
	http_request_readmit(parked);
	ck_assert(h_resp(&h, &r));
	ck_assert_int_eq(r.status, 200);
	ck_assert_ptr_nonnull(strstr(r.body, "\"route\":\"get_note\""));
	ck_assert_int_eq(admits, 2);
	ck_assert_int_eq(ctx_freed, 1);

	parked = NULL;
	h_sends(&h, two);
	ck_assert(!h_run(&h, c_got_bytes, NULL, 150));
	ck_assert_ptr_nonnull(parked);
	http_request_readmit(parked);
	ck_assert(h_resp(&h, &r));
	ck_assert_int_eq(r.status, 200);
	ck_assert_ptr_nonnull(strstr(r.body, "\"route\":\"create_note\""));
	/* The pipelined one is parked in its turn, then admitted. */
	ck_assert(!h_run(&h, c_got_bytes, NULL, 150));
	ck_assert_ptr_nonnull(parked);
	http_request_readmit(parked);
	ck_assert(h_resp(&h, &r));
	ck_assert_int_eq(r.status, 200);
	ck_assert_ptr_nonnull(strstr(r.body, "\"p\":\"8\""));
	ck_assert_int_eq(park_cancels, 0);
	assert_open(&h);
	h_close(&h);
}
END_TEST

/*
 * A parked request whose client goes is cancelled and its connection
 * freed at once; one still parked at request_timeout gets 504 and is
 * cancelled too.
 */
START_TEST(test_admit_wait_cancel)
{
	struct h	 h;
	struct resp	 r;

	h_open_parking(&h);
	h_sends(&h, GET("/notes/7"));
	ck_assert(!h_run(&h, c_got_bytes, NULL, 100));
	ck_assert_ptr_nonnull(parked);
	bufferevent_free(h.cli);
	h.cli = NULL;
	ck_assert(h_run(&h, c_conns, NULL, 1000));
	ck_assert_int_eq(park_cancels, 1);
	ck_assert_ptr_null(parked);
	h_close(&h);

	conf.server.limits.request_timeout_ms = 200;
	h_open_parking(&h);
	ck_assert_int_eq(h_ask(&h, GET("/notes/7"), &r), 504);
	ck_assert_int_eq(park_cancels, 1);
	ck_assert_ptr_null(parked);
	h_close(&h);
}
END_TEST

START_TEST(test_hostnames_421)
{
	struct h	 h;
	struct resp	 r;

	hostnames[0] = "api.example.com";
	conf.server.hostnames = hostnames;
	conf.server.nhostnames = 1;
	h_open(&h);
	ck_assert_int_eq(h_ask(&h, GET("/notes/1"), &r), 200);
	ck_assert_int_eq(h_ask(&h,
	    "GET /notes/1 HTTP/1.1\r\nHost: API.example.com:8443\r\n"
	    "\r\n", &r), 200);
	ck_assert_int_eq(h_ask(&h,
	    "GET /notes/1 HTTP/1.1\r\nHost: other.example\r\n\r\n", &r), 421);
	/* 421 comes before routing. */
	ck_assert_int_eq(h_ask(&h,
	    "GET /none HTTP/1.1\r\nHost: other.example\r\n\r\n", &r), 421);
	h_sends(&h, "GET /notes/1 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
	ck_assert(h_resp(&h, &r));
	ck_assert_int_eq(r.status, 421);
	assert_open(&h);
	h_close(&h);
}
END_TEST

START_TEST(test_bad_param_400)
{
	struct h	 h;
	struct resp	 r;

	h_open(&h);
	ck_assert_int_eq(h_ask(&h, GET("/notes/%2F"), &r), 400);
	ck_assert_int_eq(h_ask(&h, GET("/notes/a%20b"), &r), 200);
	ck_assert_ptr_nonnull(strstr(r.body, "\"p\":\"a b\""));
	h_close(&h);
}
END_TEST

/*
 * A connection from peer is refused: adopt fails, the client sees the
 * connection closed, and the server holds as many as before.
 */
static void
assert_adopt_refused(struct h *h, const char *peer)
{
	struct sockaddr_in	 sin = inet4(peer);
	size_t			 before = http_server_connections(h->srv);
	int			 sv[2];
	char			 c;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ck_assert_int_eq(http_server_adopt(h->srv, sv[0],
	    (struct sockaddr *)&sin, sizeof(sin)), -1);
	ck_assert_int_eq(read(sv[1], &c, 1), 0);
	close(sv[1]);
	ck_assert_uint_eq(http_server_connections(h->srv), before);
}

/* Plaintext mode: only peers inside trusted_proxies are served. */
START_TEST(test_plaintext_untrusted)
{
	struct h	 h;

	h_base(&h);
	ck_assert_uint_eq(http_server_connections(h.srv), 0);
	assert_adopt_refused(&h, "192.0.2.10");
	h_close(&h);
}
END_TEST

START_TEST(test_max_connections)
{
	struct h	 h;

	conf.server.limits.max_connections = 1;
	h_open(&h);
	ck_assert_uint_eq(http_server_connections(h.srv), 1);
	assert_adopt_refused(&h, "127.0.0.2");
	h_close(&h);
}
END_TEST

/*
 * A client that closes while its request is parked gives its slot back at
 * once (not at request_timeout): with max_connections 1, the next client is
 * adopted right after; the handler is cancelled and its ctx freed.
 */
START_TEST(test_client_gone_frees_slot)
{
	struct h		 h;
	struct sockaddr_in	 sin = inet4("127.0.0.2");
	int			 sv[2];

	conf.server.limits.max_connections = 1;
	conf.server.limits.request_timeout_ms = 60000;
	h_open(&h);
	h_sends(&h, GET("/slow"));
	(void)h_run(&h, c_eof, NULL, 100);
	ck_assert_int_eq(cancelled, 0);
	bufferevent_free(h.cli);
	h.cli = NULL;
	ck_assert(h_run(&h, c_conns, NULL, 500));
	ck_assert_int_eq(cancelled, 1);
	ck_assert_int_eq(ctx_freed, 1);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ck_assert_int_eq(http_server_adopt(h.srv, sv[0],
	    (struct sockaddr *)&sin, sizeof(sin)), 0);
	close(sv[1]);
	h_close(&h);
}
END_TEST

/* A trusted proxy's X-Request-Id and X-Forwarded-For are believed. */
START_TEST(test_trusted_proxy)
{
	struct h	 h;
	struct resp	 r;

	h_open(&h);
	h_sends(&h, "GET /notes/1 HTTP/1.1\r\nHost: a\r\n"
	    "X-Request-Id: edge:42.a_b-c\r\n"
	    "X-Forwarded-For: 198.51.100.7, 127.0.0.9\r\n\r\n");
	ck_assert(h_resp(&h, &r));
	ck_assert_str_eq(hdr(&r, "X-Request-Id"), "edge:42.a_b-c");
	ck_assert_ptr_nonnull(strstr(r.body, "\"ip\":\"198.51.100.7\""));
	h_sends(&h, "GET /notes/1 HTTP/1.1\r\nHost: a\r\n"
	    "X-Request-Id: bad id\r\n\r\n");
	ck_assert(h_resp(&h, &r));
	ck_assert_uint_eq(strlen(hdr(&r, "X-Request-Id")), 32);
	ck_assert_ptr_nonnull(strstr(r.body, "\"ip\":\"127.0.0.1\""));
	h_close(&h);
}
END_TEST

START_TEST(test_client_ip)
{
	struct sockaddr_in	 t = inet4("127.0.0.1"), u = inet4("192.0.2.1");
	struct sockaddr_in6	 t6;
	char			 out[INET6_ADDRSTRLEN], many[1024];
	size_t			 n = 0;
	int			 i;

#define IP(peer, x) http_client_ip(&conf, (struct sockaddr *)&(peer), (x), \
	    strlen(x), out, sizeof(out))
	http_client_ip(&conf, (struct sockaddr *)&t, NULL, 0, out, sizeof(out));
	ck_assert_str_eq(out, "127.0.0.1");
	IP(u, "203.0.113.5");
	ck_assert_str_eq(out, "192.0.2.1");
	IP(t, "203.0.113.5");
	ck_assert_str_eq(out, "203.0.113.5");
	IP(t, "203.0.113.5, 198.51.100.1,127.0.0.5");
	ck_assert_str_eq(out, "198.51.100.1");
	IP(t, "127.0.0.3, 127.0.0.4");
	ck_assert_str_eq(out, "127.0.0.3");
	IP(t, "2001:db8::1, 2001:db9::1");
	ck_assert_str_eq(out, "2001:db9::1");
	IP(t, "::ffff:203.0.113.9");
	ck_assert_str_eq(out, "203.0.113.9");
	IP(t, "203.0.113.5, junk");
	ck_assert_str_eq(out, "127.0.0.1");
	IP(t, "203.0.113.5,,1.2.3.4");
	ck_assert_str_eq(out, "127.0.0.1");
	IP(t, "[2001:db9::1]");
	ck_assert_str_eq(out, "127.0.0.1");
	IP(t, "1.2.3.4:80");
	ck_assert_str_eq(out, "127.0.0.1");
	for (i = 0; i < HTTP_MAX_XFF; i++)
		n += (size_t)snprintf(many + n, sizeof(many) - n, "%s10.0.0.%d",
		    i ? "," : "", i);
	IP(t, many);
	ck_assert_str_eq(out, "10.0.0.19");
	snprintf(many + n, sizeof(many) - n, ",10.0.0.99");
	IP(t, many);
	ck_assert_str_eq(out, "127.0.0.1");
	/* An IPv4-mapped IPv6 peer is its IPv4 address. */
	memset(&t6, 0, sizeof(t6));
	t6.sin6_family = AF_INET6;
	inet_pton(AF_INET6, "::ffff:127.0.0.1", &t6.sin6_addr);
	IP(t6, "203.0.113.5");
	ck_assert_str_eq(out, "203.0.113.5");
	ck_assert(http_addr_trusted(&conf, (struct sockaddr *)&t6));
	inet_pton(AF_INET6, "2001:db8:ffff::1", &t6.sin6_addr);
	ck_assert(http_addr_trusted(&conf, (struct sockaddr *)&t6));
	inet_pton(AF_INET6, "2001:db9::1", &t6.sin6_addr);
	ck_assert(!http_addr_trusted(&conf, (struct sockaddr *)&t6));
#undef IP
}
END_TEST

START_TEST(test_helpers)
{
	char	 id[80];

	ck_assert(http_request_id_valid("abc", 3));
	ck_assert(http_request_id_valid("A.b_c:d-9", 9));
	ck_assert(!http_request_id_valid("", 0));
	ck_assert(!http_request_id_valid("a b", 3));
	ck_assert(!http_request_id_valid("a/b", 3));
	memset(id, 'a', sizeof(id));
	ck_assert(http_request_id_valid(id, 64));
	ck_assert(!http_request_id_valid(id, 65));

#define CT(s) http_content_type_json((s), strlen(s))
	ck_assert(CT("application/json"));
	ck_assert(CT("Application/JSON"));
	ck_assert(CT("application/json; charset=utf-8"));
	ck_assert(CT("application/json;charset=UTF-8"));
	ck_assert(CT("application/json ; charset=\"utf-8\" "));
	ck_assert(!CT("application/json; charset=latin1"));
	ck_assert(!CT("application/json; charset=utf-8; x=y"));
	ck_assert(!CT("application/jsonx"));
	ck_assert(!CT("application/json-patch+json"));
	ck_assert(!CT("text/json"));
	ck_assert(!CT("application/json; boundary=x"));
	ck_assert(!CT("application/json;"));
	ck_assert(!CT(""));
#undef CT
}
END_TEST

START_TEST(test_drain)
{
	struct h		 h, busy;
	struct resp		 r;

	/*
	 * A connection that has not sent its first request yet is served
	 * once, with Connection: close, so a reload loses no client.
	 */
	h_open(&h);
	http_server_drain(h.srv, drained, &h);
	ck_assert_int_eq(h.drained, 0);
	h_sends(&h, GET("/notes/1"));
	ck_assert(h_resp(&h, &r));
	assert_close_sent(&h, &r);
	ck_assert_int_eq(h.drained, 1);
	h_close(&h);

	/*
	 * A keep-alive connection between requests may be sending its next
	 * request: answered with Connection: close, then closed.
	 */
	h_open(&h);
	h_sends(&h, GET("/notes/1"));
	ck_assert(h_resp(&h, &r));
	ck_assert_ptr_null(hdr(&r, "Connection"));
	http_server_drain(h.srv, drained, &h);
	ck_assert_int_eq(h.drained, 0);
	ck_assert_int_eq(h_ask(&h, GET("/notes/1"), &r), 200);
	assert_close_sent(&h, &r);
	ck_assert_int_eq(h.drained, 1);
	h_close(&h);

	/* One that stays idle closes after HTTP_DRAIN_IDLE_MS. */
	h_open(&h);
	h_sends(&h, GET("/notes/1"));
	ck_assert(h_resp(&h, &r));
	http_server_drain(h.srv, drained, &h);
	assert_open(&h);
	ck_assert_int_eq(h.drained, 0);
	assert_closed(&h);
	ck_assert_int_eq(h.drained, 1);
	h_close(&h);

	/* A busy one finishes with Connection: close, then done runs. */
	conf.server.limits.request_timeout_ms = 300;
	h_open(&busy);
	h_sends(&busy, GET("/slow"));
	(void)h_run(&busy, c_eof, NULL, 50);
	http_server_drain(busy.srv, drained, &busy);
	ck_assert_int_eq(busy.drained, 0);
	ck_assert(h_resp(&busy, &r));
	ck_assert_int_eq(r.status, 504);
	ck_assert_str_eq(hdr(&r, "Connection"), "close");
	assert_closed(&busy);
	ck_assert_int_eq(busy.drained, 1);
	ck_assert_uint_eq(http_server_connections(busy.srv), 0);
	h_close(&busy);
}
END_TEST

/* One access-log line per request, with the status. */
START_TEST(test_access_log)
{
	char		 path[] = "/tmp/bw-test-access.XXXXXX";
	char		 buf[4096];
	struct h	 h;
	struct resp	 r;
	ssize_t		 n;
	int		 fd;

	ck_assert_int_ge(fd = mkstemp(path), 0);
	ck_assert_int_eq(log_access_open(path), 0);
	h_open(&h);
	h_sends(&h, GET("/notes/1?secret=x") GET("/nope"));
	ck_assert(h_resp(&h, &r));
	ck_assert(h_resp(&h, &r));
	h_close(&h);
	log_access_open("off");
	n = read(fd, buf, sizeof(buf) - 1);
	ck_assert_int_gt(n, 0);
	buf[n] = '\0';
	ck_assert_ptr_nonnull(strstr(buf, "\"route\":\"get_note\","
	    "\"path\":\"/notes/1\",\"status\":200"));
	ck_assert_ptr_nonnull(strstr(buf, "\"route\":null,\"path\":\"/nope\","
	    "\"status\":404"));
	ck_assert_ptr_null(strstr(buf, "secret"));
	ck_assert_ptr_nonnull(strchr(strchr(buf, '\n') + 1, '\n'));
	close(fd);
	unlink(path);
}
END_TEST

/* TLS end to end: in-process client, HSTS on the TLS listener. */
static void
tls_pair(struct h *h, const char *sni)
{
	char			 dir[] = "/tmp/bw-test-conn.XXXXXX";
	char			 cp[64], kp[64];
	struct sockaddr_in	 sin = inet4("192.0.2.50");
	EVP_PKEY		*pk;
	X509			*x;
	FILE			*fp;
	const char		*err = NULL;
	int			 sv[2];
	SSL			*ssl;
	struct timeval		 tv = { 0, 10000 };

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(cp, sizeof(cp), "%s/c.pem", dir);
	snprintf(kp, sizeof(kp), "%s/k.pem", dir);
	pk = EVP_EC_gen("P-256");
	x = unit_cert(pk, "localhost");
	fp = fopen(cp, "w");
	PEM_write_X509(fp, x);
	fclose(fp);
	fp = fopen(kp, "w");
	PEM_write_PrivateKey(fp, pk, NULL, NULL, 0, NULL, NULL);
	fclose(fp);
	ck_assert_int_eq(chmod(kp, 0600), 0);	/* a secret file (secret.c) */
	X509_free(x);
	EVP_PKEY_free(pk);

	conf.server.plaintext = false;
	conf.server.tls.certificate = cp;
	conf.server.tls.private_key = kp;
	conf.server.tls.profile = TLS_PROFILE_INTERMEDIATE;
	memset(h, 0, sizeof(*h));
	h->sctx = tls_ctx_new(&conf.server.tls, conf.server.hostnames,
	    conf.server.nhostnames, &err);
	ck_assert_msg(h->sctx != NULL, "%s", err ? err : "?");
	unlink(cp);
	unlink(kp);
	rmdir(dir);
	ck_assert_ptr_nonnull(h->base = event_base_new());
	h->tick = event_new(h->base, -1, EV_PERSIST, tick, NULL);
	event_add(h->tick, &tv);
	h->srv = http_server_new(h->base, &conf, h->sctx, &err);
	ck_assert_ptr_nonnull(h->srv);
	ck_assert_int_eq(http_server_add_routes(h->srv, &test_ops, &err), 0);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0, sv), 0);
	ck_assert_int_eq(http_server_adopt(h->srv, sv[0],
	    (struct sockaddr *)&sin, sizeof(sin)), 0);
	h->cctx = SSL_CTX_new(TLS_client_method());
	SSL_CTX_set_verify(h->cctx, SSL_VERIFY_NONE, NULL);
	ssl = SSL_new(h->cctx);
	if (sni != NULL)
		SSL_set_tlsext_host_name(ssl, sni);
	h->cli = bufferevent_openssl_socket_new(h->base, sv[1], ssl,
	    BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
	bufferevent_openssl_set_allow_dirty_shutdown(h->cli, 1);
	bufferevent_setcb(h->cli, cli_read, NULL, cli_event, h);
	bufferevent_enable(h->cli, EV_READ | EV_WRITE);
}

START_TEST(test_tls_end_to_end)
{
	struct h	 h;
	struct resp	 r;

	tls_pair(&h, NULL);
	ck_assert_int_eq(h_ask(&h, GET("/notes/3"), &r), 200);
	ck_assert_str_eq(hdr(&r, "Strict-Transport-Security"),
	    "max-age=63072000");
	ck_assert_ptr_nonnull(strstr(r.body, "\"ip\":\"192.0.2.50\""));
	/* An untrusted peer's X-Forwarded-For is ignored. */
	h_sends(&h, "GET /notes/1 HTTP/1.1\r\nHost: a\r\n"
	    "X-Forwarded-For: 203.0.113.1\r\nX-Request-Id: mine\r\n\r\n");
	ck_assert(h_resp(&h, &r));
	ck_assert_ptr_nonnull(strstr(r.body, "\"ip\":\"192.0.2.50\""));
	ck_assert_str_ne(hdr(&r, "X-Request-Id"), "mine");
	h_close(&h);
}
END_TEST

START_TEST(test_tls_sni_421)
{
	struct h	 h;
	struct resp	 r;

	hostnames[0] = "api.example.com";
	conf.server.hostnames = hostnames;
	conf.server.nhostnames = 1;
	tls_pair(&h, "evil.example");
	ck_assert_int_eq(h_ask(&h, GET("/notes/3"), &r), 421);
	h_close(&h);
	tls_pair(&h, "api.example.com");
	ck_assert_int_eq(h_ask(&h, GET("/notes/3"), &r), 200);
	h_close(&h);
}
END_TEST

/* Counts the TLS records the client receives (their 5-byte headers). */
static void
count_records(int write_p, int version, int content_type, const void *buf,
    size_t len, SSL *ssl, void *arg)
{
	(void)version;
	(void)buf;
	(void)len;
	(void)ssl;
	if (!write_p && content_type == SSL3_RT_HEADER)
		(*(int *)arg)++;
}

/*
 * A small response (head, fixed headers and body queued separately) leaves
 * in one TLS record, so in one write.
 */
START_TEST(test_tls_one_record)
{
	struct h	 h;
	struct resp	 r;
	int		 records = 0;

	tls_pair(&h, NULL);
	h_sends(&h, GET("/notes/3"));
	ck_assert(h_resp(&h, &r));
	SSL_set_msg_callback(bufferevent_openssl_get_ssl(h.cli),
	    count_records);
	SSL_set_msg_callback_arg(bufferevent_openssl_get_ssl(h.cli),
	    &records);
	ck_assert_int_eq(h_ask(&h, GET("/notes/4"), &r), 200);
	ck_assert_int_eq(records, 1);
	h_close(&h);
}
END_TEST

/* Plaintext bytes on a TLS listener: the handshake fails, no response. */
START_TEST(test_tls_no_plaintext_fallback)
{
	struct h		 h;
	struct sockaddr_in	 sin = inet4("127.0.0.1");
	int			 sv[2];
	char			 buf[256];
	ssize_t			 n;
	int64_t			 end;

	tls_pair(&h, NULL);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0,
	    sv), 0);
	ck_assert_int_eq(http_server_adopt(h.srv, sv[0],
	    (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(write(sv[1], GET("/notes/1"), strlen(GET("/notes/1"))),
	    (ssize_t)strlen(GET("/notes/1")));
	end = now_ms() + 3000;
	do {
		event_base_loop(h.base, EVLOOP_ONCE);
		n = read(sv[1], buf, sizeof(buf));
	} while (n == -1 && now_ms() < end);
	ck_assert_int_ge(n, 0);
	ck_assert(n == 0 || memcmp(buf, "HTTP", 4) != 0);
	close(sv[1]);
	h_close(&h);
}
END_TEST

/* A response body over max_response_size becomes a 500. */
START_TEST(test_max_response_size)
{
	struct h	 h;
	struct resp	 r;

	conf.server.limits.max_response_size = 20;
	h_open(&h);
	ck_assert_int_eq(h_ask(&h, GET("/notes/1"), &r), 500);
	ck_assert_str_eq(hdr(&r, "Content-Type"), "application/problem+json");
	assert_open(&h);
	h_close(&h);
}
END_TEST

/* A listening socket on 127.0.0.1 and a port; the client side connects. */
static int
listen_any(struct sockaddr_in *sin)
{
	socklen_t	 len = sizeof(*sin);
	int		 lfd;

	*sin = inet4("127.0.0.1");
	sin->sin_port = 0;
	ck_assert_int_ge(lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK,
	    0), 0);
	ck_assert_int_eq(bind(lfd, (struct sockaddr *)sin, sizeof(*sin)), 0);
	ck_assert_int_eq(listen(lfd, 16), 0);
	ck_assert_int_eq(getsockname(lfd, (struct sockaddr *)sin, &len), 0);
	return lfd;
}

/*
 * EMFILE at accept pauses the listener instead of spinning; accepting
 * resumes once descriptors are available again.
 */
START_TEST(test_accept_emfile)
{
	struct h		 h;
	struct sockaddr_in	 sin;
	struct rlimit		 old, low;
	const char		*err = NULL;
	size_t			 one = 1;
	int			 lfd, cfd, probe;

	h_base(&h);
	conf.server.plaintext = true;
	lfd = listen_any(&sin);
	ck_assert_int_eq(http_server_listen(h.srv, lfd, &err), 0);
	ck_assert_int_ge(cfd = socket(AF_INET, SOCK_STREAM, 0), 0);
	ck_assert_int_eq(connect(cfd, (struct sockaddr *)&sin, sizeof(sin)),
	    0);
	/* No descriptor left: the next one allocated would be probe. */
	ck_assert_int_ge(probe = dup(0), 0);
	close(probe);
	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &old), 0);
	low = old;
	low.rlim_cur = (rlim_t)probe;
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &low), 0);
	(void)h_run(&h, c_conns, &one, 60);
	ck_assert_uint_eq(http_server_connections(h.srv), 0);
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &old), 0);
	ck_assert(h_run(&h, c_conns, &one, 2000));
	close(cfd);
	h_close(&h);
}
END_TEST

/* Two sibling servers of one loop, and how many connections they hold. */
struct siblings {
	struct http_server	*a, *b;
	size_t			 want;
};

static bool
c_siblings(struct h *h, void *arg)
{
	struct siblings	*p = arg;

	(void)h;
	return http_server_connections(p->a) +
	    (p->b != NULL ? http_server_connections(p->b) : 0) >= p->want;
}

/*
 * Sibling servers sharing a listening socket and a balance table
 * (balance.h) take turns: each new connection goes to the one holding
 * fewer.  A sibling that holds fewer but has stopped accepting (here: its
 * server is gone, its last count left behind) delays a connection, which
 * is then taken anyway.
 */
START_TEST(test_accept_balanced)
{
	struct h		 h;
	struct siblings		 p;
	struct sockaddr_in	 sin;
	struct balance		*b;
	const char		*err = NULL;
	size_t			 na, nb, i;
	int			 lfd, cfd[9];

	h_base(&h);
	conf.server.plaintext = true;
	p.a = h.srv;
	ck_assert_ptr_nonnull(p.b = http_server_new(h.base, &conf, NULL,
	    &err));
	ck_assert_ptr_nonnull(b = balance_new(2));
	http_server_balance(p.a, b, 0);
	http_server_balance(p.b, b, 1);
	lfd = listen_any(&sin);
	ck_assert_int_eq(http_server_listen(p.a, lfd, &err), 0);
	ck_assert_int_eq(http_server_listen(p.b, dup(lfd), &err), 0);
	for (i = 0; i < 8; i++) {
		ck_assert_int_ge(cfd[i] = socket(AF_INET, SOCK_STREAM, 0), 0);
		ck_assert_int_eq(connect(cfd[i], (struct sockaddr *)&sin,
		    sizeof(sin)), 0);
		p.want = i + 1;
		ck_assert(h_run(&h, c_siblings, &p, 2000));
		na = http_server_connections(p.a);
		nb = http_server_connections(p.b);
		ck_assert_uint_le(na > nb ? na - nb : nb - na, 1);
	}
	ck_assert_uint_eq(http_server_connections(p.a), 4);
	ck_assert_uint_eq(http_server_connections(p.b), 4);
	/* b's entry stays at 0 connections: a defers, then accepts. */
	http_server_free(p.b);
	p.b = NULL;
	ck_assert(balance_defer(b, 0, 4));
	ck_assert_int_ge(cfd[8] = socket(AF_INET, SOCK_STREAM, 0), 0);
	ck_assert_int_eq(connect(cfd[8], (struct sockaddr *)&sin, sizeof(sin)),
	    0);
	p.want = 5;
	ck_assert(h_run(&h, c_siblings, &p, 2000));
	for (i = 0; i < 9; i++)
		close(cfd[i]);
	h_close(&h);
	balance_free(b);
}
END_TEST

/* The prepare hook runs after routing; ctx is freed once per request. */
START_TEST(test_prepare_ctx)
{
	struct h	 h;
	struct resp	 r;

	conf.server.limits.request_timeout_ms = 200;
	h_open(&h);
	ck_assert_int_eq(h_ask(&h, GET("/notes/1?bad"), &r), 400);
	ck_assert_ptr_nonnull(strstr(r.body,
	    "\"type\":\"urn:bulwark:problem:validation\""));
	ck_assert_ptr_nonnull(strstr(r.body, "\"errors\":[{\"pointer\":"
	    "\"/bad\",\"message\":\"is not declared\"}]"));
	ck_assert_ptr_null(hdr(&r, "Connection"));
	ck_assert_int_eq(ctx_freed, 1);
	ck_assert_int_eq(h_ask(&h, GET("/nope?bad"), &r), 404);
	ck_assert_int_eq(ctx_freed, 1);
	ck_assert_int_eq(h_ask(&h, GET("/notes/1"), &r), 200);
	ck_assert_int_eq(ctx_freed, 2);
	ck_assert_int_eq(h_ask(&h, GET("/slow"), &r), 504);
	ck_assert_int_eq(ctx_freed, 3);
	ck_assert_int_eq(cancelled, 1);
	/* Refused before its declared body was read: closes. */
	h_sends(&h, "POST /notes?bad HTTP/1.1\r\nHost: a\r\n"
	    "Content-Type: application/json\r\nContent-Length: 2\r\n\r\n");
	ck_assert(h_resp(&h, &r));
	ck_assert_int_eq(r.status, 400);
	assert_close_sent(&h, &r);
	ck_assert_int_eq(ctx_freed, 4);
	h_close(&h);
}
END_TEST

/*
 * After an early response the server discards input for a bounded time
 * (HTTP_LINGER_MS) and a bounded amount (HTTP_LINGER_MAX), then closes.
 */
START_TEST(test_linger_bounds)
{
	struct h	 h;
	struct resp	 r;
	char		*junk;
	size_t		 i;
	int64_t		 t0;

	h_open(&h);
	h_sends(&h, "POST /notes HTTP/1.1\r\nHost: a\r\n"
	    "Content-Type: text/plain\r\nContent-Length: 100000000\r\n\r\n");
	ck_assert(h_resp(&h, &r));
	ck_assert_int_eq(r.status, 413);
	/* The client keeps sending: cut after HTTP_LINGER_MAX bytes. */
	junk = bw_calloc(1, 64 * 1024);
	for (i = 0; i < 2 * HTTP_LINGER_MAX / (64 * 1024) &&
	    http_server_connections(h.srv) > 0; i++) {
		bufferevent_write(h.cli, junk, 64 * 1024);
		(void)h_run(&h, c_flushed, NULL, 200);
	}
	free(junk);
	ck_assert(h_run(&h, c_conns, NULL, 1000));
	ck_assert_uint_lt(i, 2 * HTTP_LINGER_MAX / (64 * 1024));
	h_close(&h);

	/* The client sends nothing more: closed after HTTP_LINGER_MS. */
	h_open(&h);
	t0 = now_ms();
	ck_assert_int_eq(h_ask(&h, "GET /notes/1 HTTP/1.1\r\nHost: a\r\n"
	    "Content-Length: 5\r\n\r\n", &r), 400);
	ck_assert(h_run(&h, c_eof, NULL, 1000));
	ck_assert_uint_eq(http_server_connections(h.srv), 1);
	ck_assert(h_run(&h, c_conns, NULL, HTTP_LINGER_MS + 1000));
	ck_assert_int_ge(now_ms() - t0, HTTP_LINGER_MS - 100);
	h_close(&h);
}
END_TEST

START_TEST(test_tls_hsts_off)
{
	struct h	 h;
	struct resp	 r;

	conf.server.tls.hsts_ms = 0;
	tls_pair(&h, NULL);
	ck_assert_int_eq(h_ask(&h, GET("/notes/3"), &r), 200);
	ck_assert_ptr_null(hdr(&r, "Strict-Transport-Security"));
	h_close(&h);
}
END_TEST

/* Blocking helpers for the worker test (a separate process). */
static int
wait_readable(int fd, int ms)
{
	struct pollfd	 p = { fd, POLLIN, 0 };

	return poll(&p, 1, ms) == 1 ? 0 : -1;
}

static void
worker_child(int lfd, int chan)
{
	struct worker_args	 a;
	struct passwd		*pw;

	conf.seccomp = SECCOMP_OFF;
	if (getuid() == 0)
		conf.server.user = "nobody";
	else if ((pw = getpwuid(getuid())) != NULL)
		conf.server.user = pw->pw_name;
	memset(&a, 0, sizeof(a));
	a.conf = &conf;
	a.listen_fds = &lfd;
	a.nlisten_fds = 1;
	a.chan_fd = chan;
	_exit(worker_main(&a));
}

static pid_t
worker_start(int *chan, struct sockaddr_in *sin)
{
	int		 lfd, ch[2];
	pid_t		 pid;
	enum chan_type	 type;
	size_t		 n;

	lfd = listen_any(sin);
	ck_assert_int_eq(chan_pair(ch), 0);
	ck_assert_int_ge(pid = fork(), 0);
	if (pid == 0) {
		close(ch[0]);
		worker_child(lfd, ch[1]);
	}
	close(lfd);
	close(ch[1]);
	ck_assert_int_eq(wait_readable(ch[0], 5000), 0);
	ck_assert_int_eq(chan_recv(ch[0], &type, NULL, 0, &n), 1);
	ck_assert_int_eq(type, CHAN_READY);
	*chan = ch[0];
	return pid;
}

static int
worker_exit(pid_t pid)
{
	int64_t	 end = now_ms() + 5000;
	int	 st;

	while (now_ms() < end) {
		if (waitpid(pid, &st, WNOHANG) == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
		usleep(10000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	return -1;
}

/* worker_main: READY, serving, CHAN_DRAIN -> exit 0; channel EOF -> exit. */
START_TEST(test_worker_main)
{
	struct sockaddr_in	 sin;
	struct chan_ticket_keys	 k;
	char			 buf[4096];
	ssize_t			 n;
	size_t			 got = 0;
	int			 chan, fd;
	pid_t			 pid;

	pid = worker_start(&chan, &sin);
	ck_assert_int_ge(fd = socket(AF_INET, SOCK_STREAM, 0), 0);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(write(fd, GET("/notes/1"), strlen(GET("/notes/1"))),
	    (ssize_t)strlen(GET("/notes/1")));
	while (got < sizeof(buf) - 1 && wait_readable(fd, 5000) == 0 &&
	    (n = read(fd, buf + got, sizeof(buf) - 1 - got)) > 0) {
		got += (size_t)n;
		buf[got] = '\0';
		if (strstr(buf, "\"}") != NULL)
			break;
	}
	buf[got] = '\0';
	ck_assert_msg(strncmp(buf, "HTTP/1.1 503 ", 13) == 0, "%s", buf);
	ck_assert_ptr_nonnull(strstr(buf, "\"detail\":\"database unavailable\""));
	/* Ticket keys without a TLS context are ignored, not fatal. */
	ck_assert_int_eq(tls_ticket_keys_generate(&k), 0);
	ck_assert_int_eq(chan_send(chan, CHAN_TICKET_KEYS, &k, sizeof(k)), 0);
	ck_assert_int_eq(chan_send(chan, CHAN_REOPEN_LOGS, NULL, 0), 0);
	/* Drain: the idle keep-alive connection is closed, then exit 0. */
	ck_assert_int_eq(chan_send(chan, CHAN_DRAIN, NULL, 0), 0);
	ck_assert_int_eq(wait_readable(fd, 5000), 0);
	ck_assert_int_eq(read(fd, buf, sizeof(buf)), 0);
	ck_assert_int_eq(worker_exit(pid), 0);
	close(fd);
	close(chan);

	/* The master goes away: the worker drains and exits. */
	pid = worker_start(&chan, &sin);
	close(chan);
	ck_assert_int_eq(worker_exit(pid), 0);
}
END_TEST

/*
 * Every response in buf[0..len) is well formed: a status line, the fixed
 * header set, a Content-Length matching the body that follows (none for
 * 1xx and 204, nor for the answer to a leading HEAD request).  Returns the
 * number of responses.
 */
static int
check_responses(const char *buf, size_t len, const char *what,
    bool head_req)
{
	const char	*p = buf, *end = buf + len, *he, *cl;
	char		 head[8192];
	size_t		 hlen, blen;
	int		 status, n = 0;

	while (p < end) {
		he = memmem(p, (size_t)(end - p), "\r\n\r\n", 4);
		ck_assert_msg(he != NULL, "%s: truncated response head", what);
		hlen = (size_t)(he - p) + 4;
		ck_assert_uint_lt(hlen, sizeof(head));
		memcpy(head, p, hlen);
		head[hlen] = '\0';
		ck_assert_msg(sscanf(head, "HTTP/1.1 %d ", &status) == 1,
		    "%s: bad status line", what);
		blen = 0;
		if (status >= 200 && status != 204) {
			ck_assert_msg(strstr(head, "\r\nCache-Control: no-store"
			    "\r\n") != NULL && strstr(head, "\r\nX-Request-Id: ")
			    != NULL, "%s: header set", what);
			cl = strstr(head, "\r\nContent-Length: ");
			ck_assert_msg(cl != NULL, "%s: no Content-Length", what);
			blen = head_req && n == 0 ? 0 :
			    strtoul(cl + 18, NULL, 10);
		}
		ck_assert_msg(hlen + blen <= (size_t)(end - p),
		    "%s: truncated body", what);
		p += hlen + blen;
		n++;
	}
	return n;
}

/* One raw input: sent, write side shut, everything read until EOF. */
static void
replay(const unsigned char *raw, size_t len, const char *what)
{
	struct h	 h;
	struct evbuffer	*in;

	h_open(&h);
	bufferevent_write(h.cli, raw, len);
	ck_assert(h_run(&h, c_flushed, NULL, 2000));
	shutdown(bufferevent_getfd(h.cli), SHUT_WR);
	ck_assert_msg(h_run(&h, c_eof, NULL, 5000), "%s: not closed", what);
	in = bufferevent_get_input(h.cli);
	(void)check_responses((const char *)evbuffer_pullup(in, -1),
	    evbuffer_get_length(in), what,
	    len >= 5 && memcmp(raw, "HEAD ", 5) == 0);
	ck_assert_msg(h_run(&h, c_conns, NULL, HTTP_LINGER_MS + 1000),
	    "%s: connection kept", what);
	h_close(&h);
}

static void
replay_jsonl(const char *path, const char *key)
{
	FILE		*fp;
	char		*line = NULL, name[64];
	size_t		 cap = 0;
	unsigned char	*raw;
	json_t		*j;
	const char	*b64;
	size_t		 pad;
	int		 n, count = 0;

	ck_assert_ptr_nonnull(fp = fopen(path, "r"));
	while (getline(&line, &cap, fp) > 0) {
		ck_assert_ptr_nonnull(j = json_loads(line, 0, NULL));
		ck_assert_ptr_nonnull(b64 = json_string_value(json_object_get(j,
		    key)));
		raw = bw_malloc(strlen(b64) + 4);
		n = EVP_DecodeBlock(raw, (const unsigned char *)b64,
		    (int)strlen(b64));
		ck_assert_int_ge(n, 0);
		/* EVP_DecodeBlock counts padding as zero bytes. */
		for (pad = strlen(b64); pad > 0 && b64[pad - 1] == '='; pad--)
			n--;
		snprintf(name, sizeof(name), "%s #%lld", path + strlen(path) -
		    (strlen(path) > 20 ? 20 : strlen(path)),
		    (long long)json_integer_value(json_object_get(j, "id")));
		replay(raw, (size_t)n, name);
		free(raw);
		json_decref(j);
		count++;
	}
	free(line);
	fclose(fp);
	ck_assert_int_gt(count, 0);
}

/*
 * The shared malformed-request corpora through the whole connection
 * layer: whatever the verdict, the server answers with well-formed
 * responses (or none) and always ends the connection after the input.
 */
START_TEST(test_corpora)
{
	char	 path[PATH_MAX];

	conf.server.limits.header_timeout_ms = 500;
	conf.server.limits.body_timeout_ms = 500;
	if (unit_testdata("http/llhttp/index.jsonl", path, sizeof(path)) !=
	    NULL)
		replay_jsonl(path, "raw_b64");
	if (unit_testdata("http/http-desync-guardian/rendered.jsonl", path,
	    sizeof(path)) != NULL)
		replay_jsonl(path, "raw_b64");
}
END_TEST

Suite *
unit_suite(void)
{
	Suite	*s = suite_create("http_conn");
	TCase	*tc = tcase_create("core");

	tcase_set_timeout(tc, UNIT_TIMEOUT);
	tcase_add_checked_fixture(tc, unit_setup, NULL);
	tcase_add_test(tc, test_keep_alive);
	tcase_add_test(tc, test_pipelining);
	tcase_add_test(tc, test_pipelining_waits);
	tcase_add_test(tc, test_header_timeout);
	tcase_add_test(tc, test_idle_then_header_timeout);
	tcase_add_test(tc, test_431_414_400);
	tcase_add_test(tc, test_max_headers);
	tcase_add_test(tc, test_405_allow);
	tcase_add_test(tc, test_options);
	tcase_add_test(tc, test_head);
	tcase_add_test(tc, test_chunked_body);
	tcase_add_test(tc, test_chunked_errors);
	tcase_add_test(tc, test_body_to_route_without_body);
	tcase_add_test(tc, test_early_response_closes);
	tcase_add_test(tc, test_json_syntax);
	tcase_add_test(tc, test_expect_continue);
	tcase_add_test(tc, test_max_requests);
	tcase_add_test(tc, test_header_set);
	tcase_add_test(tc, test_request_ids_differ);
	tcase_add_test(tc, test_http10);
	tcase_add_test(tc, test_eof_cuts);
	tcase_add_test(tc, test_body_timeout);
	tcase_add_test(tc, test_request_timeout_body);
	tcase_add_test(tc, test_cancel);
	tcase_add_test(tc, test_admit_wait_readmit);
	tcase_add_test(tc, test_admit_wait_cancel);
	tcase_add_test(tc, test_client_gone_frees_slot);
	tcase_add_test(tc, test_hostnames_421);
	tcase_add_test(tc, test_bad_param_400);
	tcase_add_test(tc, test_plaintext_untrusted);
	tcase_add_test(tc, test_max_connections);
	tcase_add_test(tc, test_trusted_proxy);
	tcase_add_test(tc, test_client_ip);
	tcase_add_test(tc, test_helpers);
	tcase_add_test(tc, test_drain);
	tcase_add_test(tc, test_access_log);
	tcase_add_test(tc, test_tls_end_to_end);
	tcase_add_test(tc, test_tls_one_record);
	tcase_add_test(tc, test_tls_sni_421);
	tcase_add_test(tc, test_tls_no_plaintext_fallback);
	tcase_add_test(tc, test_max_response_size);
	tcase_add_test(tc, test_accept_emfile);
	tcase_add_test(tc, test_accept_balanced);
	tcase_add_test(tc, test_prepare_ctx);
	tcase_add_test(tc, test_linger_bounds);
	tcase_add_test(tc, test_tls_hsts_off);
	tcase_add_test(tc, test_worker_main);
	suite_add_tcase(s, tc);

	tc = tcase_create("corpora");
	tcase_set_timeout(tc, UNIT_TIMEOUT * 4);
	tcase_add_checked_fixture(tc, unit_setup, NULL);
	tcase_add_test(tc, test_corpora);
	suite_add_tcase(s, tc);
	return s;
}
