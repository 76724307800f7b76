/*
 * admin.c - the admin listener: /healthz (liveness), /readyz (SPEC 12
 * Readiness) and /metrics (SPEC 12, Prometheus text, from the shared
 * table of metrics.c) for probes, load balancers, monitoring and
 * operators.
 *
 * What it reports comes from the master over the channel (CHAN_HEALTH):
 * per worker slot, whether a worker accepts there (up) and whether that
 * worker is ready (its pool connected and, with auth, its revocation state
 * loaded).  /healthz is 200 while every slot is up; /readyz is 200 while
 * every slot is ready, else 503, and its body says which part is missing
 * for which worker.
 *
 * Threat model: the listener is reachable by every local process (plain
 * HTTP must be on loopback; elsewhere admin.tls is required by conf).  A
 * browser on the same host can be made to send it requests (DNS
 * rebinding), hence the Host check: only the listener's own address or
 * "localhost" is answered, anything else is 403.  The process is a child
 * of the master, sandboxed like a worker (sandbox_worker), holds no key
 * but the admin TLS key, and serves one bounded request per connection:
 * at most ADMIN_MAX_HEAD bytes of head, ADMIN_MAX_CONNS connections, and
 * ADMIN_TIMEOUT_MS from accept to close.  Nothing a client sends is echoed.
 * Every local process shares the loopback address, so a bound per peer
 * would not help: when the table is full, a new connection closes the
 * oldest one not yet answered instead of being refused.  A process that
 * holds ADMIN_MAX_CONNS idle connections thus cannot keep a probe out; to
 * crowd one out it must open more connections than the table holds
 * within the few milliseconds a probe takes.
 */
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
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
#include <openssl/ssl.h>

#include "admin.h"
#include "chan.h"
#include "conf.h"
#include "http_parse.h"
#include "log.h"
#include "metrics.h"
#include "problem.h"
#include "sandbox.h"
#include "util.h"

#define ADMIN_ACCEPT_BURST	16
/* Internal status of /readyz failing: sent as 503 with the table. */
#define ADMIN_NOT_READY		1503

struct admin;

enum admin_page {
	ADMIN_HEALTHZ,
	ADMIN_READYZ,
	ADMIN_METRICS,
};

struct admin_conn {
	TAILQ_ENTRY(admin_conn)	 entry;
	struct admin		*a;
	struct bufferevent	*bev;
	struct event		*deadline;
	bool			 responded;
};

struct admin {
	const struct admin_args	*args;
	struct event_base	*base;
	struct event		*listen_ev;
	struct event		*chan_ev;
	struct event		*stop_ev;
	struct event		*term_ev;
	struct admin_view	 view;
	TAILQ_HEAD(admin_conns, admin_conn) conns;
	size_t			 nconns;
	bool			 draining;
	unsigned char		 msg[sizeof(struct chan_health)];
};

struct admin_text {
	int		 status;
	const char	*detail;
};

/* The fixed details of every status the listener sends. */
static const struct admin_text admin_details[] = {
	{ 400, "the request is malformed" },
	{ 403, "the Host header does not name this listener" },
	{ 404, "no resource matches the request" },
	{ 405, "the method is not allowed for this path" },
	{ 414, "the request target is too long" },
	{ 431, "the request head is too large" },
	{ 501, "the method is not implemented" },
	{ 503, "not every worker is serving" },
	{ ADMIN_NOT_READY, "not every worker is ready" },
	{ 505, "the HTTP version is not supported" },
};

static const char *
admin_detail(int status)
{
	size_t	 i;

	for (i = 0; i < BW_ARRAY_LEN(admin_details); i++)
		if (admin_details[i].status == status)
			return admin_details[i].detail;
	return "the request cannot be served";
}

int
admin_view_addr(struct admin_view *v, const struct sockaddr *sa)
{
	char	 host[INET6_ADDRSTRLEN];

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const void *)sa;

		if (inet_ntop(AF_INET, &s4->sin_addr, host,
		    sizeof(host)) == NULL)
			return -1;
		(void)snprintf(v->host, sizeof(v->host), "%s", host);
		(void)snprintf(v->port, sizeof(v->port), "%u",
		    (unsigned)ntohs(s4->sin_port));
		return 0;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)sa;

		if (inet_ntop(AF_INET6, &s6->sin6_addr, host,
		    sizeof(host)) == NULL)
			return -1;
		(void)snprintf(v->host, sizeof(v->host), "[%s]", host);
		(void)snprintf(v->port, sizeof(v->port), "%u",
		    (unsigned)ntohs(s6->sin6_port));
		return 0;
	}
	return -1;
}

static bool
admin_eq(const char *a, size_t alen, const char *b)
{
	return alen == strlen(b) && strncasecmp(a, b, alen) == 0;
}

/*
 * Host is the listener's address or "localhost", with no port or the
 * listener's port.  An IPv6 literal is compared as written in brackets.
 */
static bool
admin_host_ok(const char *h, size_t len, const struct admin_view *v)
{
	size_t	 hostlen, i;

	if (h == NULL || len == 0)
		return false;
	if (h[0] == '[') {
		for (i = 0; i < len && h[i] != ']'; i++)
			;
		if (i == len)
			return false;
		hostlen = i + 1;
	} else {
		for (i = 0; i < len && h[i] != ':'; i++)
			;
		hostlen = i;
	}
	if (hostlen < len) {
		if (h[hostlen] != ':' ||
		    !admin_eq(h + hostlen + 1, len - hostlen - 1, v->port))
			return false;
	}
	return admin_eq(h, hostlen, v->host) ||
	    admin_eq(h, hostlen, "localhost");
}

static bool
admin_path_is(const struct http_head *h, const char *path)
{
	return h->path_len == strlen(path) &&
	    memcmp(h->path, path, h->path_len) == 0;
}

/* 200, an error status, or ADMIN_NOT_READY; *page is the one asked for. */
static int
admin_route(const struct http_head *h, const struct admin_view *v,
    bool *allow, enum admin_page *page)
{
	const struct chan_health	*hl = &v->health;

	*allow = false;
	*page = ADMIN_HEALTHZ;
	if (!admin_host_ok(h->host, h->host_len, v))
		return 403;
	if (admin_path_is(h, "/readyz"))
		*page = ADMIN_READYZ;
	else if (admin_path_is(h, "/metrics"))
		*page = ADMIN_METRICS;
	else if (!admin_path_is(h, "/healthz"))
		return 404;
	if (h->method != HTTP_GET && h->method != HTTP_HEAD) {
		*allow = true;
		return 405;
	}
	if (*page == ADMIN_METRICS)
		return 200;
	if (*page == ADMIN_READYZ)
		return v->known && hl->workers > 0 &&
		    hl->ready >= hl->workers ? 200 : ADMIN_NOT_READY;
	if (!v->known || hl->up < hl->workers || hl->workers == 0)
		return 503;
	return 200;
}

static void
admin_date(char *buf, size_t bufsz)
{
	struct tm	 tm;
	time_t		 now = time(NULL);

	if (gmtime_r(&now, &tm) == NULL ||
	    strftime(buf, bufsz, "%a, %d %b %Y %H:%M:%S GMT", &tm) == 0)
		bw_strlcpy(buf, "Thu, 01 Jan 1970 00:00:00 GMT", bufsz);
}

static const char *
admin_part(uint8_t part)
{
	switch (part) {
	case CHAN_PART_UP:
		return "true";
	case CHAN_PART_DOWN:
		return "false";
	default:
		return "null";		/* not configured */
	}
}

/* "ready":...,"workers":[{"worker":0,"up":true,"pool":...},...] */
static void
admin_readiness(struct evbuffer *b, const struct admin_view *v)
{
	const struct chan_health	*h = &v->health;
	const struct chan_health_slot	*s;
	uint32_t			 i, n;

	n = v->known ? h->workers : 0;
	if (n > CHAN_HEALTH_MAX)
		n = CHAN_HEALTH_MAX;
	evbuffer_add_printf(b, "\"ready\":%s,\"workers\":[",
	    v->known && h->workers > 0 && h->ready >= h->workers ? "true" :
	    "false");
	for (i = 0; i < n; i++) {
		s = &h->slot[i];
		evbuffer_add_printf(b, "%s{\"worker\":%u,\"up\":%s,"
		    "\"ready\":%s,\"pool\":%s,\"revocation\":%s,"
		    "\"audit\":%s}",
		    i > 0 ? "," : "", i, s->up ? "true" : "false",
		    s->ready ? "true" : "false",
		    s->up ? admin_part(s->pool) : "false",
		    s->up ? admin_part(s->revocation) : "false",
		    s->up ? admin_part(s->audit) : "false");
	}
	evbuffer_add_printf(b, "]");
}

static void
admin_body(struct evbuffer *b, int status, enum admin_page page,
    const struct admin_view *v, const char *id)
{
	int	 code = status == ADMIN_NOT_READY ? 503 : status;
	bool	 readyz = page == ADMIN_READYZ;

	if (status == 200 && page == ADMIN_METRICS) {
		if (v->metrics != NULL &&
		    metrics_write(v->metrics, v->workers, b) == -1)
			log_warnx("metrics: cannot build the exposition");
		return;
	}
	if (status == 200 && !readyz) {
		evbuffer_add_printf(b, "{\"status\":\"ok\",\"workers\":%u,"
		    "\"up\":%u}", v->health.workers, v->health.up);
		return;
	}
	if (status == 200) {
		evbuffer_add_printf(b, "{");
		admin_readiness(b, v);
		evbuffer_add_printf(b, "}");
		return;
	}
	evbuffer_add_printf(b, "{\"type\":\"about:blank\",\"title\":\"%s\","
	    "\"status\":%d,\"detail\":\"%s\",\"instance\":\"%s\"",
	    problem_reason(code), code, admin_detail(status), id);
	if (status == ADMIN_NOT_READY) {
		evbuffer_add_printf(b, ",");
		admin_readiness(b, v);
	}
	evbuffer_add_printf(b, "}");
}

static void
admin_write(struct evbuffer *out, int status, bool head_only, bool allow,
    enum admin_page page, const struct admin_view *v)
{
	unsigned char	 rnd[16];
	char		 id[33], date[64];
	struct evbuffer	*b;
	int		 code = status == ADMIN_NOT_READY ? 503 : status;

	if (bw_random(rnd, sizeof(rnd)) == -1)
		memset(rnd, 0, sizeof(rnd));
	bw_hex_encode(rnd, sizeof(rnd), id);
	admin_date(date, sizeof(date));
	if ((b = evbuffer_new()) == NULL)
		return;
	admin_body(b, status, page, v, id);
	evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\n"
	    "Date: %s\r\n"
	    "Content-Type: %s\r\n"
	    "Content-Length: %zu\r\n"
	    "Cache-Control: no-store\r\n"
	    "X-Content-Type-Options: nosniff\r\n"
	    "Content-Security-Policy: default-src 'none'; "
	    "frame-ancestors 'none'\r\n"
	    "X-Frame-Options: DENY\r\n"
	    "Referrer-Policy: no-referrer\r\n"
	    "X-Request-Id: %s\r\n",
	    code, problem_reason(code), date,
	    code != 200 ? "application/problem+json" :
	    page == ADMIN_METRICS ? "text/plain; version=0.0.4; charset=utf-8" :
	    "application/json; charset=utf-8", evbuffer_get_length(b), id);
	if (v->hsts_s > 0)
		evbuffer_add_printf(out, "Strict-Transport-Security: "
		    "max-age=%lld\r\n", (long long)v->hsts_s);
	if (allow)
		evbuffer_add_printf(out, "Allow: GET, HEAD\r\n");
	evbuffer_add_printf(out, "Connection: close\r\n\r\n");
	if (!head_only)
		evbuffer_add_buffer(out, b);
	evbuffer_free(b);
}

int
admin_respond(const char *buf, size_t len, const struct admin_view *v,
    struct evbuffer *out)
{
	struct http_limits	 lim = {
		ADMIN_MAX_HEAD, ADMIN_MAX_HEADERS, ADMIN_MAX_URI,
	};
	struct http_head	*h;
	const char		*reason = NULL;
	bool			 head_only = false, allow = false;
	enum admin_page		 page = ADMIN_HEALTHZ;
	int			 status = 400;

	h = bw_calloc(1, sizeof(*h));
	switch (http_parse_head(buf, len, &lim, h, &status, &reason)) {
	case HTTP_PARSE_MORE:
		if (len < ADMIN_MAX_HEAD) {
			free(h);
			return 0;
		}
		status = 431;
		break;
	case HTTP_PARSE_ERROR:
		break;
	case HTTP_PARSE_DONE:
		head_only = h->method == HTTP_HEAD;
		status = admin_route(h, v, &allow, &page);
		break;
	}
	free(h);
	admin_write(out, status, head_only, allow, page, v);
	return 1;
}

/*
 * Connections.
 */
static void
admin_conn_free(struct admin_conn *c)
{
	struct admin	*a = c->a;

	TAILQ_REMOVE(&a->conns, c, entry);
	a->nconns--;
	if (c->deadline != NULL)
		event_free(c->deadline);
	if (c->bev != NULL)
		bufferevent_free(c->bev);
	free(c);
	if (a->draining && a->nconns == 0)
		event_base_loopexit(a->base, NULL);
}

static void
admin_conn_written(struct bufferevent *bev, void *arg)
{
	struct admin_conn	*c = arg;

	if (c->responded &&
	    evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		admin_conn_free(c);
}

static void
admin_conn_read(struct bufferevent *bev, void *arg)
{
	struct admin_conn	*c = arg;
	struct evbuffer		*in = bufferevent_get_input(bev);
	size_t			 len = evbuffer_get_length(in);
	const char		*p;

	if (c->responded)
		return;
	if (len > ADMIN_MAX_HEAD)
		len = ADMIN_MAX_HEAD;
	if ((p = (const char *)evbuffer_pullup(in, (ssize_t)len)) == NULL) {
		admin_conn_free(c);
		return;
	}
	if (admin_respond(p, len, &c->a->view, bufferevent_get_output(bev)) ==
	    0)
		return;
	c->responded = true;
	bufferevent_disable(bev, EV_READ);
}

static void
admin_conn_event(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT))
		admin_conn_free(arg);
}

static void
admin_conn_deadline(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	admin_conn_free(arg);
}

static void
admin_conn_new(struct admin *a, int fd)
{
	struct admin_conn	*c;
	struct timeval		 tv;
	SSL			*ssl;

	c = bw_calloc(1, sizeof(*c));
	c->a = a;
	TAILQ_INSERT_TAIL(&a->conns, c, entry);
	a->nconns++;
	if (a->args->tls_ctx != NULL) {
		if ((ssl = SSL_new(a->args->tls_ctx)) == NULL) {
			close(fd);
			admin_conn_free(c);
			return;
		}
		c->bev = bufferevent_openssl_socket_new(a->base, fd, ssl,
		    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	} else
		c->bev = bufferevent_socket_new(a->base, fd,
		    BEV_OPT_CLOSE_ON_FREE);
	c->deadline = evtimer_new(a->base, admin_conn_deadline, c);
	if (c->bev == NULL || c->deadline == NULL) {
		if (c->bev == NULL)
			close(fd);
		admin_conn_free(c);
		return;
	}
	bw_ms_to_tv(ADMIN_TIMEOUT_MS, &tv);
	evtimer_add(c->deadline, &tv);
	bufferevent_setwatermark(c->bev, EV_READ, 0, ADMIN_MAX_HEAD);
	bufferevent_setcb(c->bev, admin_conn_read, admin_conn_written,
	    admin_conn_event, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

/*
 * Makes room in a full table by closing its oldest connection that has
 * not been answered.  Returns false when every one is being answered.
 */
static bool
admin_make_room(struct admin *a)
{
	struct admin_conn	*c;

	TAILQ_FOREACH(c, &a->conns, entry)
		if (!c->responded) {
			admin_conn_free(c);
			return true;
		}
	return false;
}

static void
admin_accept(evutil_socket_t lfd, short what, void *arg)
{
	struct admin		*a = arg;
	struct sockaddr_storage	 ss;
	socklen_t		 sl;
	int			 fd, i;

	(void)what;
	for (i = 0; i < ADMIN_ACCEPT_BURST; i++) {
		sl = sizeof(ss);
		fd = accept4(lfd, (struct sockaddr *)&ss, &sl,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != EINTR && errno != ECONNABORTED)
				log_warnx("accept: %s", strerror(errno));
			return;
		}
		if (a->draining || (a->nconns >= ADMIN_MAX_CONNS &&
		    !admin_make_room(a))) {
			close(fd);
			continue;
		}
		admin_conn_new(a, fd);
	}
}

/*
 * Channel and stopping.
 */
static void
admin_drain(struct admin *a)
{
	struct timeval	 tv;

	if (a->draining)
		return;
	a->draining = true;
	if (a->listen_ev != NULL)
		event_del(a->listen_ev);
	close(a->args->listen_fd);
	if (a->nconns == 0) {
		event_base_loopexit(a->base, NULL);
		return;
	}
	bw_ms_to_tv(ADMIN_TIMEOUT_MS, &tv);
	evtimer_add(a->stop_ev, &tv);
}

static void
admin_stop_cb(evutil_socket_t fd, short what, void *arg)
{
	struct admin	*a = arg;

	(void)fd;
	(void)what;
	event_base_loopexit(a->base, NULL);
}

/* SIGTERM sent to the whole process group: the same as CHAN_DRAIN. */
static void
admin_term_cb(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	admin_drain(arg);
}

static void
admin_chan(evutil_socket_t fd, short what, void *arg)
{
	struct admin	*a = arg;
	enum chan_type	 type;
	size_t		 len;
	int		 rv;

	(void)what;
	for (;;) {
		rv = chan_recv(fd, &type, a->msg, sizeof(a->msg), &len);
		if (rv == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (rv <= 0) {
			event_del(a->chan_ev);
			admin_drain(a);
			return;
		}
		switch (type) {
		case CHAN_HEALTH:
			if (len == sizeof(a->view.health)) {
				memcpy(&a->view.health, a->msg, len);
				a->view.known = 1;
			}
			break;
		case CHAN_DRAIN:
			admin_drain(a);
			break;
		default:
			break;
		}
	}
}

static int
admin_setup(struct admin *a)
{
	const struct admin_args	*args = a->args;
	struct sockaddr_storage	 ss;
	socklen_t		 sl = sizeof(ss);
	int			 fl;

	memset(&ss, 0, sizeof(ss));
	if (getsockname(args->listen_fd, (struct sockaddr *)&ss, &sl) == -1 ||
	    admin_view_addr(&a->view, (struct sockaddr *)&ss) == -1) {
		log_errorx("cannot read the listener's address");
		return -1;
	}
	if (args->tls_ctx != NULL)
		a->view.hsts_s = args->conf->server.tls.hsts_ms / 1000;
	a->view.metrics = metrics_instance();
	a->view.workers = args->conf->server.workers;
	if ((a->base = event_base_new()) == NULL)
		return -1;
	if ((fl = fcntl(args->chan_fd, F_GETFL)) == -1 ||
	    fcntl(args->chan_fd, F_SETFL, fl | O_NONBLOCK) == -1)
		return -1;
	a->listen_ev = event_new(a->base, args->listen_fd, EV_READ | EV_PERSIST,
	    admin_accept, a);
	a->chan_ev = event_new(a->base, args->chan_fd, EV_READ | EV_PERSIST,
	    admin_chan, a);
	a->stop_ev = evtimer_new(a->base, admin_stop_cb, a);
	a->term_ev = evsignal_new(a->base, SIGTERM, admin_term_cb, a);
	if (a->listen_ev == NULL || a->chan_ev == NULL || a->stop_ev == NULL ||
	    a->term_ev == NULL || event_add(a->listen_ev, NULL) == -1 ||
	    event_add(a->chan_ev, NULL) == -1 ||
	    event_add(a->term_ev, NULL) == -1)
		return -1;
	return 0;
}

static void
admin_teardown(struct admin *a)
{
	struct admin_conn	*c;

	a->draining = false;
	while ((c = TAILQ_FIRST(&a->conns)) != NULL)
		admin_conn_free(c);
	if (a->listen_ev != NULL)
		event_free(a->listen_ev);
	if (a->chan_ev != NULL)
		event_free(a->chan_ev);
	if (a->stop_ev != NULL)
		event_free(a->stop_ev);
	if (a->term_ev != NULL)
		event_free(a->term_ev);
	if (a->base != NULL)
		event_base_free(a->base);
	free(a);
}

int
admin_main(const struct admin_args *args)
{
	struct admin	*a;
	int		 rv = 0;

	(void)signal(SIGPIPE, SIG_IGN);
	(void)signal(SIGHUP, SIG_IGN);
	(void)signal(SIGUSR1, SIG_IGN);
	(void)signal(SIGINT, SIG_IGN);
	a = bw_calloc(1, sizeof(*a));
	a->args = args;
	TAILQ_INIT(&a->conns);
	if (admin_setup(a) == -1 || sandbox_worker(args->conf) == -1) {
		log_errorx("cannot start the admin listener");
		admin_teardown(a);
		return 3;
	}
	if (chan_send(args->chan_fd, CHAN_READY, NULL, 0) == -1)
		log_warnx("cannot report ready: %s", strerror(errno));
	log_info("serving /healthz, /readyz and /metrics on %s:%s",
	    a->view.host, a->view.port);
	if (event_base_dispatch(a->base) == -1)
		rv = 3;
	admin_teardown(a);
	return rv;
}
