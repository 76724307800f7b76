/*
 * audit_client.c - records from a worker to the audit writer
 * (audit_client.h).
 *
 * Invariants: at most AUDIT_CLIENT_MAX_PENDING messages (records and
 * probes) wait for answers, kept in send order in a ring; each callback
 * runs exactly once (answer, or -1 when the writer is lost or the client
 * freed).  A message the socket cannot take now (its queue at the writer
 * is short: EAGAIN) waits, encoded, in a second ring in the same order and
 * goes out when the socket is writable; a probe is sent only when nothing
 * waits there.  The worker holds no key and no file: only this descriptor.
 */
#include <sys/socket.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <jansson.h>

#include "audit_client.h"
#include "audit_msg.h"
#include "util.h"

struct audit_wait {
	audit_client_cb	 cb;		/* NULL: a probe or a bare record */
	void		*arg;
	bool		 probe;
};

static struct audit_client	*audit_client_default;

struct audit_out {
	char			*msg;
	size_t			 len;
};

struct audit_client {
	struct event_base	*base;
	int			 fd;
	struct event		*ev;
	struct event		*wev;		/* the outbound ring drains */
	struct audit_out	 out[AUDIT_CLIENT_MAX_PENDING];
	size_t			 ohead, on;
	struct event		*probe_ev;
	struct audit_wait	 ring[AUDIT_CLIENT_MAX_PENDING];
	size_t			 head, n;
	bool			 ok;
	bool			 answered;	/* on the current fd */
};

static void
audit_client_fail_all(struct audit_client *c)
{
	struct audit_wait	 w;

	c->ok = false;
	while (c->n > 0) {
		w = c->ring[c->head];
		c->head = (c->head + 1) % AUDIT_CLIENT_MAX_PENDING;
		c->n--;
		if (w.cb != NULL)
			w.cb(-1, w.arg);
	}
}

static void
audit_client_drop(struct audit_client *c)
{
	if (c->ev != NULL)
		event_free(c->ev);
	c->ev = NULL;
	if (c->wev != NULL)
		event_free(c->wev);
	c->wev = NULL;
	while (c->on > 0) {
		free(c->out[c->ohead].msg);
		c->out[c->ohead].msg = NULL;
		c->ohead = (c->ohead + 1) % AUDIT_CLIENT_MAX_PENDING;
		c->on--;
	}
	if (c->fd != -1)
		close(c->fd);
	c->fd = -1;
	c->answered = false;
	audit_client_fail_all(c);
}

static int64_t
audit_client_parse(const char *buf, size_t len)
{
	json_t	*o, *v;
	int64_t	 seq = -1;

	if ((o = json_loadb(buf, len, 0, NULL)) == NULL)
		return -1;
	if (json_is_integer(v = json_object_get(o, "seq")) &&
	    json_integer_value(v) > 0)
		seq = json_integer_value(v);
	else if (json_is_true(json_object_get(o, "ok")))
		seq = 0;
	json_decref(o);
	return seq;
}

static void
audit_client_answer(struct audit_client *c, int64_t seq)
{
	struct audit_wait	 w;

	if (c->n == 0)
		return;
	w = c->ring[c->head];
	c->head = (c->head + 1) % AUDIT_CLIENT_MAX_PENDING;
	c->n--;
	c->ok = seq >= 0;
	c->answered = true;
	if (w.cb != NULL && !w.probe)
		w.cb(seq > 0 ? seq : -1, w.arg);
}

static void
audit_client_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct audit_client	*c = arg;
	char			 buf[256];
	ssize_t			 n;

	(void)what;
	while ((n = bw_recv_some(fd, buf, sizeof(buf))) > 0)
		audit_client_answer(c, audit_client_parse(buf, (size_t)n));
	if (n == -1)
		audit_client_drop(c);
}

static int
audit_client_push(struct audit_client *c, audit_client_cb cb, void *arg,
    bool probe)
{
	struct audit_wait	*w;

	if (c->n == AUDIT_CLIENT_MAX_PENDING)
		return -1;
	w = &c->ring[(c->head + c->n) % AUDIT_CLIENT_MAX_PENDING];
	w->cb = cb;
	w->arg = arg;
	w->probe = probe;
	c->n++;
	return 0;
}

/* 1 sent, 0 the socket cannot take it now, -1 failed. */
static int
audit_client_send(struct audit_client *c, const char *msg, size_t len)
{
	ssize_t	 n;

	do
		n = send(c->fd, msg, len, MSG_NOSIGNAL | MSG_DONTWAIT);
	while (n == -1 && errno == EINTR);
	if (n == (ssize_t)len)
		return 1;
	if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return 0;
	return -1;
}

/* The waiting messages, in order, as far as the socket takes them. */
static void
audit_client_write_cb(evutil_socket_t fd, short what, void *arg)
{
	struct audit_client	*c = arg;
	struct audit_out	*o;
	int			 rv;

	(void)fd;
	(void)what;
	while (c->on > 0) {
		o = &c->out[c->ohead];
		if ((rv = audit_client_send(c, o->msg, o->len)) == 0) {
			event_add(c->wev, NULL);
			return;
		}
		if (rv == -1) {
			audit_client_drop(c);
			return;
		}
		free(o->msg);
		o->msg = NULL;
		c->ohead = (c->ohead + 1) % AUDIT_CLIENT_MAX_PENDING;
		c->on--;
	}
}

static void
audit_client_probe_cb(evutil_socket_t fd, short what, void *arg)
{
	static const char	 probe[] = "{\"probe\":true}";
	struct audit_client	*c = arg;
	struct timeval		 tv;

	(void)fd;
	(void)what;
	if (c->fd != -1 && c->n < AUDIT_CLIENT_MAX_PENDING && c->on == 0) {
		if (send(c->fd, probe, sizeof(probe) - 1, MSG_NOSIGNAL |
		    MSG_DONTWAIT) == (ssize_t)sizeof(probe) - 1)
			(void)audit_client_push(c, NULL, NULL, true);
		else
			c->ok = false;
	}
	bw_ms_to_tv(AUDIT_CLIENT_PROBE_MS, &tv);
	evtimer_add(c->probe_ev, &tv);
}

struct audit_client *
audit_client_new(struct event_base *base, int fd)
{
	struct audit_client	*c = bw_calloc(1, sizeof(*c));

	c->base = base;
	c->fd = -1;
	if ((c->probe_ev = evtimer_new(base, audit_client_probe_cb, c)) ==
	    NULL) {
		free(c);
		return NULL;
	}
	audit_client_set_fd(c, fd);
	return c;
}

void
audit_client_set_fd(struct audit_client *c, int fd)
{
	audit_client_drop(c);
	if (fd == -1)
		return;
	c->fd = fd;
	c->ev = event_new(c->base, fd, EV_READ | EV_PERSIST,
	    audit_client_read_cb, c);
	c->wev = event_new(c->base, fd, EV_WRITE, audit_client_write_cb, c);
	if (c->ev == NULL || c->wev == NULL || event_add(c->ev, NULL) == -1) {
		audit_client_drop(c);
		return;
	}
	audit_client_probe_cb(-1, 0, c);
}

void
audit_client_free(struct audit_client *c)
{
	if (c == NULL)
		return;
	audit_client_set_fd(c, -1);
	event_free(c->probe_ev);
	free(c);
}

int
audit_client_submit(struct audit_client *c, const struct audit_event *ev,
    audit_client_cb cb, void *arg)
{
	struct audit_out	*o;
	char			*msg;
	size_t			 len;
	int			 rv = 0;

	if (c->fd == -1 || c->n == AUDIT_CLIENT_MAX_PENDING ||
	    (msg = audit_msg_encode(ev, &len)) == NULL)
		return -1;
	if (c->on == 0 && (rv = audit_client_send(c, msg, len)) == -1) {
		free(msg);
		c->ok = false;
		return -1;
	}
	if (rv == 1)
		free(msg);
	else {
		o = &c->out[(c->ohead + c->on) % AUDIT_CLIENT_MAX_PENDING];
		o->msg = msg;
		o->len = len;
		if (c->on++ == 0)
			event_add(c->wev, NULL);
	}
	return audit_client_push(c, cb, arg, false);
}

bool
audit_client_ok(const struct audit_client *c)
{
	return c->fd != -1 && c->ok;
}

bool
audit_client_connected(const struct audit_client *c)
{
	return c->fd != -1;
}

size_t
audit_client_depth(const struct audit_client *c)
{
	return c->n;
}

void
audit_client_cancel(struct audit_client *c, const void *arg)
{
	size_t	 i;

	for (i = 0; i < c->n; i++) {
		struct audit_wait *w = &c->ring[(c->head + i) %
		    AUDIT_CLIENT_MAX_PENDING];

		if (w->arg == arg)
			w->cb = NULL;
	}
}

bool
audit_client_answered(const struct audit_client *c)
{
	return c->fd != -1 && c->answered;
}

void
audit_client_set_default(struct audit_client *c)
{
	audit_client_default = c;
}

int
audit_client_event(const struct audit_event *ev)
{
	if (audit_client_default == NULL)
		return 0;
	return audit_client_submit(audit_client_default, ev, NULL, NULL);
}
