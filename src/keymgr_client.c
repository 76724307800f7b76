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
 *
 * Handshake signatures (keymgr_tls_call) are the exception: libssl signs
 * synchronously, so the call blocks, on a pair of its own, for at most its
 * deadline.  Nothing else arrives on that pair, so no message of the main
 * channel is read or lost meanwhile; an answer whose id is not the one
 * awaited (of a call that timed out before) is dropped.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "chan.h"
#include "keymgr.h"
#include "log.h"
#include "tlskey.h"
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
	sh.call.id = c->next_id++;
	bw_strlcpy(sh.kid, kid, sizeof(sh.kid));
	buf = bw_malloc(sizeof(sh) + len);
	memcpy(buf, &sh, sizeof(sh));
	memcpy(buf + sizeof(sh), input, len);
	rv = chan_send(c->fd, CHAN_SIGN, buf, sizeof(sh) + len);
	free(buf);
	if (rv == -1)
		return -1;
	k->id = sh.call.id;
	k->cb = cb;
	k->arg = arg;
	bw_ms_to_tv(c->deadline_ms, &tv);
	evtimer_add(k->timer, &tv);
	*handle = sh.call.id;
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

/*
 * Handshake signatures.
 */
static struct keymgr_tls_client	 keymgr_tls_cl = { .fd = -1 };

void
keymgr_tls_client_set(int fd, int deadline_ms)
{
	int	 fl;

	if ((fl = fcntl(fd, F_GETFL)) != -1)
		(void)fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	keymgr_tls_cl.fd = fd;
	keymgr_tls_cl.deadline_ms = deadline_ms;
	keymgr_tls_cl.next_id = 1;
	keymgr_tls_cl.pause_until = 0;
	tlskey_set_transport(keymgr_tls_call, &keymgr_tls_cl);
}

static int
keymgr_tls_send(struct keymgr_tls_client *c, const struct tlskey_op *op,
    const unsigned char *in, size_t inlen, uint64_t *id)
{
	struct keymgr_tls_sign_hdr	 sh;
	unsigned char			 buf[sizeof(sh) + TLSKEY_INPUT_MAX];

	if (inlen > TLSKEY_INPUT_MAX) {
		errno = EMSGSIZE;
		return -1;
	}
	memset(&sh, 0, sizeof(sh));
	sh.call.id = *id = c->next_id++;
	sh.op = *op;
	memcpy(buf, &sh, sizeof(sh));
	memcpy(buf + sizeof(sh), in, inlen);
	return chan_send(c->fd, CHAN_TLS_SIGN, buf, sizeof(sh) + inlen);
}

/*
 * The answer to id: 1 with the signature, 0 for another id (dropped),
 * -1 when malformed or refused.
 */
static int
keymgr_tls_answer(const unsigned char *msg, size_t len, uint64_t id,
    unsigned char *sig, size_t sigsize, size_t *siglen)
{
	struct keymgr_sig_hdr	 gh;
	size_t			 n;

	if (len < sizeof(gh)) {
		log_warnx("TLS: malformed answer from the key manager");
		return -1;
	}
	memcpy(&gh, msg, sizeof(gh));
	if (gh.id != id)
		return 0;
	n = len - sizeof(gh);
	if (gh.status != KEYMGR_OK || n == 0 || n > sigsize) {
		log_warnx("TLS: handshake signature: %s", gh.status ==
		    KEYMGR_OK ? "malformed answer" :
		    keymgr_status_text((enum keymgr_status)gh.status));
		return -1;
	}
	memcpy(sig, msg + sizeof(gh), n);
	*siglen = n;
	return 1;
}

int
keymgr_tls_call(void *client, const struct tlskey_op *op,
    const unsigned char *in, size_t inlen, unsigned char *sig,
    size_t sigsize, size_t *siglen)
{
	struct keymgr_tls_client *c = client;
	unsigned char		 msg[sizeof(struct keymgr_sig_hdr) +
				    TLSKEY_SIG_MAX];
	struct pollfd		 pfd = { .fd = c->fd, .events = POLLIN };
	enum chan_type		 type;
	int64_t			 end = bw_now_ms() + c->deadline_ms, left;
	uint64_t		 id;
	size_t			 len;
	int			 rv;

	if (bw_now_ms() < c->pause_until)
		return -1;
	if (keymgr_tls_send(c, op, in, inlen, &id) == -1) {
		log_warnx("TLS: cannot ask the key manager: %s",
		    strerror(errno));
		return -1;
	}
	while ((left = end - bw_now_ms()) > 0) {
		rv = chan_recv(c->fd, &type, msg, sizeof(msg), &len);
		if (rv == 1 && type == CHAN_TLS_SIGNATURE) {
			if ((rv = keymgr_tls_answer(msg, len, id, sig, sigsize,
			    siglen)) != 0)
				return rv == 1 ? 0 : -1;
			continue;
		}
		if (rv == 1 || rv == 0 || (errno != EAGAIN && errno != EINTR)) {
			log_warnx("TLS: the signing channel failed");
			return -1;
		}
		(void)poll(&pfd, 1, (int)left);
	}
	c->pause_until = bw_now_ms() + KEYMGR_TLS_PAUSE_MS;
	log_warnx("TLS: the key manager did not answer within %d ms: "
	    "handshake failed, full handshakes fail for %d ms", c->deadline_ms,
	    KEYMGR_TLS_PAUSE_MS);
	return -1;
}
