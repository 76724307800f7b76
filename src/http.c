/*
 * http.c - the connection state machine of a worker (SPEC 5): accepting,
 * TLS, reading heads and bodies, limits and deadlines, closing and
 * draining.  Requests are http_request.c's, responses http_response.c's.
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
 * request_timeout (head received -> response queued, 504).  Whichever
 * fires while the body is still arriving, the answer is 408 (SPEC 4):
 * 504 is only for work bulwarkd or the database did not finish.
 *
 * Memory: a connection is one allocation (plus libevent's bufferevent and
 * OpenSSL's SSL).  Request objects, with the head buffer sized by
 * max_header_size, are recycled through a bounded free list, so a
 * keep-alive connection serves requests without allocating.  The head is
 * copied out of the input buffer (the bytes it points at must not move
 * while the request lives); a Content-Length body is moved, not copied,
 * into the request's body buffer.
 *
 * Output: bufferevent_openssl makes one SSL_write, so one TLS record and
 * one write(2), of every contiguous piece of the output buffer; a
 * response is queued in pieces (head, fixed headers, body), so its first
 * HTTP_RECORD_MAX bytes are made contiguous once it is queued
 * (http_conn_coalesce): a small response leaves in one record and one
 * system call, in the event-loop pass that queued it (http_conn_flush).
 *
 * Input: OpenSSL reads ahead, so a burst of records costs one read(2);
 * what it has read but not yet decrypted is fetched without waiting for
 * the socket (http_conn_pending).
 */
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/bufferevent_struct.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "balance.h"
#include "conf.h"
#include "http.h"
#include "http_int.h"
#include "http_parse.h"
#include "log.h"
#include "metrics.h"
#include "problem.h"
#include "ratelimit.h"
#include "router.h"
#include "tls.h"
#include "util.h"

static enum http_step	 http_conn_head(struct http_conn *);
static enum http_step	 http_conn_body(struct http_conn *);
static void		 http_conn_process(struct http_conn *);
static void		 http_conn_close(struct http_conn *);

void
http_timer_set(struct event *ev, int64_t ms)
{
	struct timeval	 tv;

	bw_ms_to_tv(ms, &tv);
	event_add(ev, &tv);
}

/* The first bytes of the output, at most one TLS record, in one piece. */
static void
http_conn_coalesce(struct http_conn *c)
{
	struct evbuffer	*out = bufferevent_get_output(c->bev);
	size_t		 n = evbuffer_get_length(out);

	if (n > HTTP_RECORD_MAX)
		n = HTTP_RECORD_MAX;
	if (n > 1 && evbuffer_get_contiguous_space(out) < n)
		(void)evbuffer_pullup(out, (ssize_t)n);
}

/*
 * What is queued leaves in this pass of the event loop.  A bufferevent
 * writes only when its write event fires: left alone, a response would
 * wait for the next epoll_wait and cost two epoll_ctl (EPOLLOUT armed,
 * then disarmed once written).  Activating the write event runs the
 * bufferevent's own writer in this pass instead; with the epoll change
 * list (worker.c) the arming and the disarming cancel out before they
 * reach the kernel.  (struct bufferevent's events are public in
 * bufferevent_struct.h; libevent offers no flush for socket or OpenSSL
 * bufferevents.)
 */
static void
http_conn_flush(struct http_conn *c)
{
	if (c->state == CONN_HANDSHAKE ||
	    evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
		return;
	event_active(&c->bev->ev_write, EV_WRITE, 1);
}

/*
 * Read-ahead (http_conn_new) lets OpenSSL take a whole burst of records
 * with one read(2), but bufferevent_openssl asks only SSL_pending(),
 * which counts the current record, before it waits for the socket again:
 * records already taken from the socket would wait for bytes that may
 * never come.  So whenever the connection reads (not once it closes) and
 * OpenSSL holds some, the bufferevent's read event runs again in this
 * pass.  A partial record costs one read(2) that finds nothing, and no
 * loop: only new input brings the connection back here.
 */
static void
http_conn_pending(struct http_conn *c)
{
	if (c->ssl == NULL || c->state == CONN_HANDSHAKE ||
	    c->state == CONN_CLOSING || c->state == CONN_LINGER ||
	    !SSL_has_pending(c->ssl))
		return;
	event_active(&c->bev->ev_read, EV_READ, 1);
}

/*
 * After a response is queued: the connection closes (CLOSING), pauses on
 * pending output (FLUSH) or goes back to IDLE for the next request.
 */
void
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
	http_conn_coalesce(c);
	http_conn_flush(c);
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
		if (!c->eof)
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
	if (s == STEP_GONE)
		return;
	c->in_process = false;
	if (s == STEP_MORE)
		http_conn_pending(c);
}

static void
http_conn_resume(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	http_conn_process(arg);
}

void
http_request_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct http_request	*r = arg;
	struct http_conn	*c = r->conn;

	(void)fd;
	(void)what;
	http_request_cancel(r);
	if (c->state == CONN_BODY) {
		/* SPEC 4: a body still incomplete is the client's fault. */
		log_info("%s request_timeout reached with the body incomplete",
		    r->id);
		event_del(&c->timer);
		r->close = true;
		r->linger = true;
		http_respond_problem(r, PROBLEM_TIMEOUT);
		return;
	}
	log_info("%s request_timeout reached", r->id);
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

/* The worker's connection count, for its siblings (balance.h). */
static void
http_balance_publish(struct http_server *srv)
{
	if (srv->balance != NULL && !srv->draining && srv->nlisteners > 0)
		balance_publish(srv->balance, srv->slot, srv->pid,
		    srv->nconns);
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
	http_balance_publish(srv);
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
	while ((n = bw_recv_some(fd, buf, sizeof(buf))) > 0) {
		c->linger_bytes += (size_t)n;
		if (c->linger_bytes > HTTP_LINGER_MAX)
			break;
	}
	if (n != 0)
		http_conn_close(c);
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
	if (c->ssl != NULL && c->state == CONN_HANDSHAKE)
		metrics_tls_handshake(what & BEV_EVENT_CONNECTED);
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
			/*
			 * The peer is gone while its request waits: the slot
			 * and descriptor go now, the handler is cancelled and
			 * its result discarded on arrival.
			 */
			log_info("%s client gone; request abandoned",
			    c->req != NULL ? c->req->id : "-");
			http_conn_close(c);
			return;
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
		SSL_set_read_ahead(c->ssl, 1);
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
	http_balance_publish(srv);
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
http_listeners_enable(struct http_server *srv, bool on)
{
	size_t	 i;

	for (i = 0; i < srv->nlisteners; i++) {
		if (on)
			event_add(srv->listeners[i], NULL);
		else
			event_del(srv->listeners[i]);
	}
}

/* Every listener idle for ms; http_accept_resume takes over. */
static void
http_accept_pause(struct http_server *srv, int ms)
{
	http_listeners_enable(srv, false);
	http_timer_set(srv->pause_ev, ms);
}

/*
 * accept(2) failed: nothing waits (a sibling worker took it), the client
 * left, or descriptors ran out (a pause instead of a spin).
 */
static void
http_accept_failed(struct http_server *srv, int err)
{
	if (err == EAGAIN || err == EWOULDBLOCK || err == EINTR ||
	    err == ECONNABORTED || err == EPROTO)
		return;
	if (err == EMFILE || err == ENFILE || err == ENOBUFS ||
	    err == ENOMEM) {
		log_warnx("accept: %s; pausing for %d ms", strerror(err),
		    HTTP_ACCEPT_PAUSE_MS);
		http_accept_pause(srv, HTTP_ACCEPT_PAUSE_MS);
		return;
	}
	log_warnx("accept: %s", strerror(err));
}

/*
 * Accepts what waits on one listening socket, HTTP_ACCEPT_BATCH at most,
 * while no sibling worker holds fewer connections (balance.h); when one
 * does, every listener pauses BALANCE_DEFER_MS for it, and a connection
 * still waiting then is taken without asking (forced).
 */
static void
http_accept_run(struct http_server *srv, int lfd, bool forced)
{
	struct sockaddr_storage	 ss;
	socklen_t		 len;
	int			 fd, n;

	for (n = 0; n < HTTP_ACCEPT_BATCH; n++, forced = false) {
		if (!forced && balance_defer(srv->balance, srv->slot,
		    srv->nconns)) {
			http_accept_pause(srv, BALANCE_DEFER_MS);
			return;
		}
		len = sizeof(ss);
		fd = accept4(lfd, (struct sockaddr *)&ss, &len,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			http_accept_failed(srv, errno);
			return;
		}
		(void)http_server_adopt(srv, fd, (struct sockaddr *)&ss, len);
	}
}

static void
http_accept_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)what;
	http_accept_run(arg, fd, false);
}

/* After a pause: listening again, and what waited since is taken. */
static void
http_accept_resume(evutil_socket_t fd, short what, void *arg)
{
	struct http_server	*srv = arg;
	size_t			 i;

	(void)fd;
	(void)what;
	if (srv->draining)
		return;
	http_listeners_enable(srv, true);
	for (i = 0; i < srv->nlisteners && !event_pending(srv->pause_ev,
	    EV_TIMEOUT, NULL); i++)
		http_accept_run(srv, event_get_fd(srv->listeners[i]), true);
}

void
http_server_balance(struct http_server *srv, struct balance *b, size_t slot)
{
	srv->balance = b;
	srv->slot = slot;
	srv->pid = getpid();
}

int
http_server_listen(struct http_server *srv, int fd, const char **err)
{
	struct event	*ev;

	if (srv->draining) {
		*err = "the server is draining";
		return -1;
	}
	if (evutil_make_socket_nonblocking(fd) == -1 ||
	    evutil_make_socket_closeonexec(fd) == -1 ||
	    (ev = event_new(srv->base, fd, EV_READ | EV_PERSIST,
	    http_accept_cb, srv)) == NULL) {
		*err = "cannot listen on a socket";
		return -1;
	}
	if (!event_pending(srv->pause_ev, EV_TIMEOUT, NULL) &&
	    event_add(ev, NULL) == -1) {
		event_free(ev);
		*err = "cannot listen on a socket";
		return -1;
	}
	srv->listeners = bw_reallocarray(srv->listeners, srv->nlisteners + 1,
	    sizeof(*srv->listeners));
	srv->listeners[srv->nlisteners++] = ev;
	http_balance_publish(srv);
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
	if ((srv->router = router_new()) == NULL) {
		*err = "cannot create the router";
		http_server_free(srv);
		return NULL;
	}
	return srv;
}

static void
http_listeners_free(struct http_server *srv)
{
	size_t	 i;
	int	 fd;

	for (i = 0; i < srv->nlisteners; i++) {
		fd = event_get_fd(srv->listeners[i]);
		event_free(srv->listeners[i]);
		close(fd);
	}
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
http_server_set_admit(struct http_server *srv, http_prepare_fn fn, void *arg)
{
	srv->admit = fn;
	srv->admit_arg = arg;
}

void
http_server_drain(struct http_server *srv, void (*done)(void *), void *arg)
{
	struct http_conn	*c, *next;

	srv->draining = true;
	srv->drain_done = NULL;
	/*
	 * Disabled, not closed: the listening sockets are shared with the
	 * master and the other workers, and the worker's epoll change list
	 * (worker.c) hands the removal to the kernel only at the next pass;
	 * closed before that, the registration would outlive the descriptor
	 * and keep waking this worker.  They close with the server.
	 */
	http_listeners_enable(srv, false);
	event_del(srv->pause_ev);
	balance_withdraw(srv->balance, srv->slot, srv->pid);
	/*
	 * A connection still in its handshake or before its first request was
	 * accepted to be served: it gets one answer (with Connection: close)
	 * or its header_timeout, so a reload loses no client.  A keep-alive
	 * connection between requests is not closed under a client that may
	 * be sending its next request now (it would see a reset, not an
	 * answer): it has HTTP_DRAIN_IDLE_MS for one more request, answered
	 * with Connection: close.
	 */
	for (c = TAILQ_FIRST(&srv->conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		if (c->state == CONN_IDLE && c->nrequests > 0) {
			event_del(&c->timer);
			http_timer_set(&c->timer, HTTP_DRAIN_IDLE_MS <
			    srv->lim->idle_timeout_ms ? HTTP_DRAIN_IDLE_MS :
			    srv->lim->idle_timeout_ms);
		}
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
