/*
 * keymgr_client.c - the worker's side of the key manager (keymgr.h):
 * asynchronous signing calls on the worker's event loop.
 *
 * Invariants: at most KEYMGR_PENDING_MAX calls in flight, each with its
 * own deadline timer; a call's callback runs exactly once (answer or
 * deadline) unless cancelled first; ids are never reused, so an answer
 * that arrives after its deadline or cancellation matches nothing.  The
 * answers come from the master and are checked all the same (size,
 * status, a signature with success only).
 */
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "chan.h"
#include "keymgr.h"
#include "util.h"

struct keymgr_call {
	uint64_t		 id;		/* 0: free */
	keymgr_sign_cb		 cb;
	void			*arg;
	struct event		*timer;
	struct keymgr_client	*c;
};

struct keymgr_client {
	int			 fd;
	int			 deadline_ms;
	uint64_t		 next_id;
	struct keymgr_call	 calls[KEYMGR_PENDING_MAX];
};

static void
keymgr_call_done(struct keymgr_call *k, enum keymgr_status st,
    const unsigned char *sig, size_t siglen)
{
	keymgr_sign_cb	 cb = k->cb;
	void		*arg = k->arg;

	k->id = 0;
	evtimer_del(k->timer);
	cb(arg, st, sig, siglen);
}

static void
keymgr_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	keymgr_call_done(arg, KEYMGR_TIMEOUT, NULL, 0);
}

struct keymgr_client *
keymgr_client_new(struct event_base *base, int chan_fd, int deadline_ms)
{
	struct keymgr_client	*c = bw_calloc(1, sizeof(*c));
	size_t			 i;

	c->fd = chan_fd;
	c->deadline_ms = deadline_ms;
	c->next_id = 1;
	for (i = 0; i < KEYMGR_PENDING_MAX; i++) {
		c->calls[i].c = c;
		c->calls[i].timer = evtimer_new(base, keymgr_timeout_cb,
		    &c->calls[i]);
		if (c->calls[i].timer == NULL) {
			keymgr_client_free(c);
			return NULL;
		}
	}
	return c;
}

void
keymgr_client_free(struct keymgr_client *c)
{
	size_t	 i;

	if (c == NULL)
		return;
	for (i = 0; i < KEYMGR_PENDING_MAX; i++)
		if (c->calls[i].timer != NULL)
			event_free(c->calls[i].timer);
	free(c);
}

int
keymgr_sign(struct keymgr_client *c, const char *kid, const void *input,
    size_t len, keymgr_sign_cb cb, void *arg, uint64_t *handle)
{
	struct keymgr_sign_hdr	 sh;
	struct keymgr_call	*k = NULL;
	struct timeval		 tv;
	unsigned char		*buf;
	size_t			 i;
	int			 rv;

	for (i = 0; i < KEYMGR_PENDING_MAX && k == NULL; i++)
		if (c->calls[i].id == 0)
			k = &c->calls[i];
	if (k == NULL || len > KEYMGR_INPUT_MAX ||
	    strlen(kid) >= sizeof(sh.kid))
		return -1;
	memset(&sh, 0, sizeof(sh));
	sh.id = c->next_id++;
	bw_strlcpy(sh.kid, kid, sizeof(sh.kid));
	buf = bw_malloc(sizeof(sh) + len);
	memcpy(buf, &sh, sizeof(sh));
	memcpy(buf + sizeof(sh), input, len);
	rv = chan_send(c->fd, CHAN_SIGN, buf, sizeof(sh) + len);
	free(buf);
	if (rv == -1)
		return -1;
	k->id = sh.id;
	k->cb = cb;
	k->arg = arg;
	bw_ms_to_tv(c->deadline_ms, &tv);
	evtimer_add(k->timer, &tv);
	*handle = sh.id;
	return 0;
}

void
keymgr_cancel(struct keymgr_client *c, uint64_t handle)
{
	size_t	 i;

	for (i = 0; i < KEYMGR_PENDING_MAX && handle != 0; i++)
		if (c->calls[i].id == handle) {
			c->calls[i].id = 0;
			evtimer_del(c->calls[i].timer);
		}
}

int
keymgr_client_answer(struct keymgr_client *c, const void *msg, size_t len)
{
	struct keymgr_sig_hdr	 gh;
	const unsigned char	*sig = (const unsigned char *)msg + sizeof(gh);
	size_t			 i, siglen;

	if (c == NULL || len < sizeof(gh) || len > sizeof(gh) + KEYMGR_SIG_MAX)
		return -1;
	memcpy(&gh, msg, sizeof(gh));
	siglen = len - sizeof(gh);
	if (gh.status > KEYMGR_TIMEOUT || (gh.status == KEYMGR_OK) !=
	    (siglen > 0))
		return -1;
	for (i = 0; i < KEYMGR_PENDING_MAX; i++)
		if (gh.id != 0 && c->calls[i].id == gh.id) {
			keymgr_call_done(&c->calls[i],
			    (enum keymgr_status)gh.status, sig, siglen);
			return 0;
		}
	return 0;	/* cancelled or timed out meanwhile */
}
