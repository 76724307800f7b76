/*
 * keymgr.c - the key manager, the master's side of it and the workers'
 * signing calls (keymgr.h).
 *
 * Invariants: the master never parses an EdDSA or ES256 private key: it
 * reads the key files' bytes (checked by secret_open), sends them to the
 * key manager and wipes them.  The workers get public keys only, plus the
 * secret of an HS256 key (symmetric: who verifies can sign; the documented
 * exception).  The key manager keeps at most KEYMGR_KEEP signing keys and
 * nothing else; every buffer that held key bytes is wiped.
 *
 * Requests travel over the channels that exist (worker -> master -> key
 * manager) rather than over a socketpair per worker: the master already
 * supervises every worker's channel and kills a worker that sends what it
 * should not, a restarted worker or key manager needs no descriptor handed
 * around, and the key manager has one peer only (the master), so the
 * origin of a request cannot be forged.  The cost is one more hop through
 * the master's event loop per login.
 *
 * Threat model: workers face the network and may be compromised.  A
 * compromised worker can have any input signed with a loaded signing key
 * (it could mint tokens while it runs, as it can already act for any user
 * it serves) but cannot read the key: the key manager answers CHAN_SIGN
 * only, for a kid it holds, with an input of at most KEYMGR_INPUT_MAX
 * bytes, at most KEYMGR_RATE_MAX signatures per second over all workers
 * (so a flood delays logins but does not exhaust the key manager).  The
 * master relays requests and stamps them with the sender's pid; a message
 * it cannot take kills the worker.  The key manager runs with the master's
 * credentials, no capabilities, not dumpable, no core files; it reads no
 * file and no network.  Anything unexpected on its channel ends it (the
 * master restarts it and hands it the key files again).
 */
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/err.h>

#include "conf.h"
#include "jwt.h"
#include "keymgr.h"
#include "keys.h"
#include "log.h"
#include "sandbox.h"
#include "util.h"

const char *
keymgr_status_text(enum keymgr_status st)
{
	switch (st) {
	case KEYMGR_OK:
		return "signed";
	case KEYMGR_UNKNOWN_KID:
		return "unknown signing key";
	case KEYMGR_TOO_LARGE:
		return "signing input too large";
	case KEYMGR_BUSY:
		return "signing rate exceeded";
	case KEYMGR_FAILED:
		return "signing failed";
	case KEYMGR_UNAVAILABLE:
		return "no key manager";
	case KEYMGR_TIMEOUT:
		return "the key manager did not answer in time";
	}
	return "?";
}

/*
 * The key manager.
 */
struct keymgr_state {
	struct keys_key	*keys[KEYMGR_KEEP];	/* the newest first */
	size_t		 nkeys;
	int64_t		 window;		/* second of the count */
	uint32_t	 count;
};

struct keymgr_state *
keymgr_state_new(void)
{
	return bw_calloc(1, sizeof(struct keymgr_state));
}

void
keymgr_state_free(struct keymgr_state *s)
{
	size_t	 i;

	if (s == NULL)
		return;
	for (i = 0; i < s->nkeys; i++)
		keys_key_free(s->keys[i]);
	free(s);
}

/* Keeps a signing key, the newest first; the oldest goes. */
static void
keymgr_keep(struct keymgr_state *s, struct keys_key *k)
{
	size_t	 i;

	for (i = 0; i < s->nkeys; i++)
		if (strcmp(s->keys[i]->kid, k->kid) == 0)
			break;
	if (i < s->nkeys)
		keys_key_free(s->keys[i]);
	else if (s->nkeys == KEYMGR_KEEP)
		keys_key_free(s->keys[i = --s->nkeys]);
	memmove(&s->keys[1], &s->keys[0], i * sizeof(s->keys[0]));
	s->keys[0] = k;
	if (i == s->nkeys)
		s->nkeys++;
}

static int
keymgr_file(struct keymgr_state *s, const unsigned char *msg, size_t len,
    unsigned char *out, size_t *outlen)
{
	struct keymgr_file_hdr	 fh;
	struct keymgr_public_hdr ph;
	struct keys_key		*k;
	const char		*err = "malformed key";
	size_t			 n = 0;

	if (len < sizeof(fh))
		return -1;
	memcpy(&fh, msg, sizeof(fh));
	memset(&ph, 0, sizeof(ph));
	ph.index = fh.index;
	if ((k = keys_key_parse(msg + sizeof(fh), len - sizeof(fh),
	    &err)) != NULL) {
		ph.alg = k->alg;
		ph.can_sign = k->can_sign;
		if (k->alg == KEYS_ALG_HS256) {
			memcpy(out + sizeof(ph), k->secret, k->secretlen);
			n = k->secretlen;
			ph.ok = 1;
		} else if (keys_key_spki(k, out + sizeof(ph), KEYS_SPKI_MAX,
		    &n) == 0)
			ph.ok = 1;
		else
			err = "cannot encode the public key";
	}
	if (!ph.ok)
		bw_strlcpy(ph.err, err, sizeof(ph.err));
	memcpy(out, &ph, sizeof(ph));
	*outlen = sizeof(ph) + n;
	if (k != NULL && ph.ok && fh.index == 0 && k->can_sign &&
	    k->alg != KEYS_ALG_HS256)
		keymgr_keep(s, k);
	else
		keys_key_free(k);
	return 1;
}

static const struct keys_key *
keymgr_find(const struct keymgr_state *s, const char *kid)
{
	size_t	 i;

	for (i = 0; i < s->nkeys; i++)
		if (strcmp(s->keys[i]->kid, kid) == 0)
			return s->keys[i];
	return NULL;
}

static enum keymgr_status
keymgr_do_sign(struct keymgr_state *s, const struct keymgr_sign_hdr *sh,
    const unsigned char *in, size_t inlen, unsigned char *sig,
    size_t *siglen, int64_t now_ms)
{
	const struct keys_key	*k;

	if (inlen > KEYMGR_INPUT_MAX)
		return KEYMGR_TOO_LARGE;
	if (memchr(sh->kid, '\0', sizeof(sh->kid)) == NULL ||
	    (k = keymgr_find(s, sh->kid)) == NULL)
		return KEYMGR_UNKNOWN_KID;
	if (now_ms / 1000 != s->window) {
		s->window = now_ms / 1000;
		s->count = 0;
	}
	if (s->count >= KEYMGR_RATE_MAX)
		return KEYMGR_BUSY;
	s->count++;
	if (jwt_sign_bytes(k, (const char *)in, inlen, sig, siglen) == -1) {
		ERR_clear_error();
		return KEYMGR_FAILED;
	}
	return KEYMGR_OK;
}

int
keymgr_handle(struct keymgr_state *s, enum chan_type type,
    const unsigned char *msg, size_t len, enum chan_type *rtype,
    unsigned char *out, size_t *outlen, int64_t now_ms)
{
	struct keymgr_sign_hdr	 sh;
	struct keymgr_sig_hdr	 gh;
	size_t			 siglen = 0;

	switch (type) {
	case CHAN_KEY_FILE:
		*rtype = CHAN_KEY_PUBLIC;
		return keymgr_file(s, msg, len, out, outlen);
	case CHAN_SIGN:
		if (len < sizeof(sh))
			return -1;
		memcpy(&sh, msg, sizeof(sh));
		memset(&gh, 0, sizeof(gh));
		gh.id = sh.id;
		gh.origin = sh.origin;
		gh.status = keymgr_do_sign(s, &sh, msg + sizeof(sh),
		    len - sizeof(sh), out + sizeof(gh), &siglen, now_ms);
		if (gh.status != KEYMGR_OK)
			siglen = 0;
		memcpy(out, &gh, sizeof(gh));
		*outlen = sizeof(gh) + siglen;
		*rtype = CHAN_SIGNATURE;
		return 1;
	default:
		return -1;
	}
}

int
keymgr_main(int fd)
{
	static unsigned char	 in[CHAN_MAX_PAYLOAD], out[CHAN_MAX_PAYLOAD];
	struct keymgr_state	*s;
	enum chan_type		 type, rtype;
	const char		*err = NULL;
	size_t			 len, outlen;
	int			 rv, status = 3;

	log_set_procname("key manager");
	if (sandbox_harden(&err) == -1) {
		log_errorx("key manager: %s", err);
		return 3;
	}
	s = keymgr_state_new();
	for (;;) {
		rv = chan_recv(fd, &type, in, sizeof(in), &len);
		if (rv == -1 && errno == EINTR)
			continue;
		if (rv == 0)
			status = 0;
		if (rv != 1)
			break;
		outlen = 0;
		rv = keymgr_handle(s, type, in, len, &rtype, out, &outlen,
		    bw_now_ms());
		bw_wipe(in, len);
		if (rv == -1) {
			log_errorx("key manager: unexpected message %u",
			    (unsigned)type);
			break;
		}
		if (rv == 1 && chan_send(fd, rtype, out, outlen) == -1)
			break;
		bw_wipe(out, outlen);
	}
	keymgr_state_free(s);
	return status;
}

/*
 * The master's side: one key manager, restarted when it dies.
 */
static struct {
	int			 fd;
	pid_t			 pid;
	struct event_base	*base;
	struct event		*ev;
	struct event		*restart_ev;
	keymgr_reply_fn		 reply;
	void			*arg;
	const struct conf	*conf;
	bool			 stopping;
	char			 err[KEYMGR_ERR_MAX];
	unsigned char		 msg[CHAN_MAX_PAYLOAD];
} keymgr_sup = { .fd = -1, .pid = -1 };

static void __attribute__((noreturn))
keymgr_child(int fd)
{
	static const int	 sigs[] = { SIGTERM, SIGINT, SIGHUP, SIGUSR1,
				    SIGCHLD, SIGPIPE };
	struct sigaction	 sa;
	sigset_t		 none;
	size_t			 i;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < BW_ARRAY_LEN(sigs); i++)
		sigaction(sigs[i], &sa, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* Nothing of the master's: listeners, channels, its event loop. */
	if ((fd != 3 && dup2(fd, 3) == -1) || close_range(4, ~0U, 0) == -1 ||
	    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) == -1)
		_exit(3);
	exit(keymgr_main(3));
}

static void	 keymgr_read_cb(evutil_socket_t, short, void *);

static void
keymgr_close(void)
{
	if (keymgr_sup.ev != NULL) {
		event_free(keymgr_sup.ev);
		keymgr_sup.ev = NULL;
	}
	if (keymgr_sup.fd != -1) {
		close(keymgr_sup.fd);
		keymgr_sup.fd = -1;
	}
}

static void
keymgr_watch(void)
{
	if (keymgr_sup.base == NULL || keymgr_sup.fd == -1 ||
	    keymgr_sup.ev != NULL)
		return;
	keymgr_sup.ev = event_new(keymgr_sup.base, keymgr_sup.fd,
	    EV_READ | EV_PERSIST, keymgr_read_cb, NULL);
	if (keymgr_sup.ev == NULL || event_add(keymgr_sup.ev, NULL) == -1)
		log_errorx("cannot watch the key manager's channel");
}

static int
keymgr_fork(void)
{
	sigset_t	 all, old;
	pid_t		 pid;
	int		 fds[2];

	if (chan_pair(fds) == -1)
		return -1;
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, &old);
	if ((pid = fork()) == 0)
		keymgr_child(fds[1]);
	sigprocmask(SIG_SETMASK, &old, NULL);
	close(fds[1]);
	if (pid == -1) {
		close(fds[0]);
		return -1;
	}
	keymgr_sup.pid = pid;
	keymgr_sup.fd = fds[0];
	(void)fcntl(fds[0], F_SETFL, fcntl(fds[0], F_GETFL) | O_NONBLOCK);
	keymgr_watch();
	log_info("key manager started (pid %ld)", (long)pid);
	return 0;
}

static void
keymgr_relay(size_t len)
{
	struct keymgr_sig_hdr	 gh;

	if (len < sizeof(gh) || keymgr_sup.reply == NULL)
		return;
	memcpy(&gh, keymgr_sup.msg, sizeof(gh));
	keymgr_sup.reply(keymgr_sup.arg, (pid_t)gh.origin, keymgr_sup.msg,
	    len);
}

/*
 * One message from the key manager, waiting up to ms (0: not at all).
 * Signatures met meanwhile are relayed.  1 with a CHAN_KEY_PUBLIC in msg,
 * 0 when none came, -1 when the key manager is gone.
 */
static int
keymgr_recv(int ms, size_t *len)
{
	struct pollfd	 pfd = { .fd = keymgr_sup.fd, .events = POLLIN };
	int64_t		 end = bw_now_ms() + ms;
	enum chan_type	 type;
	int		 rv;

	for (;;) {
		rv = chan_recv(keymgr_sup.fd, &type, keymgr_sup.msg,
		    sizeof(keymgr_sup.msg), len);
		if (rv == 1 && type == CHAN_SIGNATURE) {
			keymgr_relay(*len);
			continue;
		}
		if (rv == 1 && type == CHAN_KEY_PUBLIC)
			return 1;
		if (rv == 1)
			return -1;
		if (rv == 0 || (errno != EAGAIN && errno != EINTR))
			return -1;
		if (bw_now_ms() >= end)
			return 0;
		(void)poll(&pfd, 1, (int)(end - bw_now_ms()));
	}
}

static void
keymgr_read_cb(evutil_socket_t fd, short what, void *arg)
{
	size_t	 len;

	(void)fd;
	(void)what;
	(void)arg;
	if (keymgr_recv(0, &len) != 0) {
		/* Gone, or out of turn: its exit is reaped. */
		log_errorx("key manager: channel closed");
		keymgr_close();
		if (keymgr_sup.pid > 0)
			kill(keymgr_sup.pid, SIGKILL);
	}
}

static struct keys_key *
keymgr_public(size_t index, size_t len, const char **err)
{
	struct keymgr_public_hdr ph;
	struct keys_key		*k;
	const unsigned char	*p = keymgr_sup.msg + sizeof(ph);

	memcpy(&ph, keymgr_sup.msg, sizeof(ph));
	if (len < sizeof(ph) || ph.index != index) {
		*err = "the key manager answered out of turn";
		return NULL;
	}
	if (!ph.ok) {
		ph.err[sizeof(ph.err) - 1] = '\0';
		bw_strlcpy(keymgr_sup.err, ph.err, sizeof(keymgr_sup.err));
		*err = keymgr_sup.err;
		return NULL;
	}
	if (index == 0 && !ph.can_sign) {
		*err = "the signing key is a public key";
		return NULL;
	}
	if (ph.alg == KEYS_ALG_HS256)
		k = keys_key_parse(p, len - sizeof(ph), err);
	else
		k = keys_key_public(p, len - sizeof(ph), err);
	bw_wipe(keymgr_sup.msg, len);
	if (k != NULL && index == 0 && ph.alg == KEYS_ALG_HS256)
		k->can_sign = true;
	return k;
}

/* One key file through the key manager. */
static struct keys_key *
keymgr_one(const struct conf *conf, const char *path, size_t index,
    size_t count, const char **err)
{
	struct keymgr_file_hdr	 fh = { (uint32_t)index, (uint32_t)count };
	unsigned char		*buf, *msg;
	size_t			 len, n;
	int			 rv;

	if (keys_file_read(conf, path, &buf, &len, err) == -1)
		return NULL;
	msg = bw_malloc(sizeof(fh) + len);
	memcpy(msg, &fh, sizeof(fh));
	memcpy(msg + sizeof(fh), buf, len);
	bw_wipe(buf, KEYS_FILE_MAX + 1);
	free(buf);
	rv = chan_send(keymgr_sup.fd, CHAN_KEY_FILE, msg, sizeof(fh) + len);
	bw_wipe(msg, sizeof(fh) + len);
	free(msg);
	if (rv == -1 || (rv = keymgr_recv(KEYMGR_LOAD_MS, &n)) != 1) {
		*err = rv == 0 ? "the key manager did not answer" :
		    "the key manager is gone";
		return NULL;
	}
	return keymgr_public(index, n, err);
}

struct keys_set *
keymgr_keys(const struct conf *conf, const char **err, const char **errpath)
{
	const struct conf_auth	*a = conf->auth;
	struct keys_set		*s;
	struct keys_key		*k;
	size_t			 i, count;

	*errpath = conf->file;
	if (a == NULL || a->signing_key_file == NULL) {
		*err = "auth.signing_key_file is not set";
		return NULL;
	}
	if (keymgr_sup.fd == -1 && keymgr_fork() == -1) {
		*err = "cannot start the key manager";
		return NULL;
	}
	count = 1 + a->nverify_key_files;
	s = keys_set_new();
	for (i = 0; i < count; i++) {
		*errpath = i == 0 ? a->signing_key_file :
		    a->verify_key_files[i - 1];
		if ((k = keymgr_one(conf, *errpath, i, count, err)) == NULL ||
		    keys_set_add(s, k, err) == -1) {
			keys_set_free(s);
			return NULL;
		}
	}
	return s;
}

void
keymgr_conf(const struct conf *conf)
{
	keymgr_sup.conf = conf;
}

static void
keymgr_restart_cb(evutil_socket_t fd, short what, void *arg)
{
	struct keys_set	*s;
	struct timeval	 tv;
	const char	*err = NULL, *path = NULL;

	(void)fd;
	(void)what;
	(void)arg;
	if (keymgr_sup.stopping || keymgr_sup.conf == NULL ||
	    keymgr_sup.pid != -1)
		return;
	if ((s = keymgr_keys(keymgr_sup.conf, &err, &path)) != NULL) {
		keys_set_free(s);
		return;
	}
	log_errorx("key manager: %s: %s", path, err);
	bw_ms_to_tv(KEYMGR_RETRY_MS, &tv);
	evtimer_add(keymgr_sup.restart_ev, &tv);
}

void
keymgr_attach(struct event_base *base, keymgr_reply_fn reply, void *arg)
{
	keymgr_sup.base = base;
	keymgr_sup.reply = reply;
	keymgr_sup.arg = arg;
	keymgr_sup.stopping = false;
	if (keymgr_sup.restart_ev == NULL)
		keymgr_sup.restart_ev = evtimer_new(base, keymgr_restart_cb,
		    NULL);
	keymgr_watch();
}

static void
keymgr_unavailable(pid_t origin, const struct keymgr_sign_hdr *sh)
{
	struct keymgr_sig_hdr	 gh;

	memset(&gh, 0, sizeof(gh));
	gh.id = sh->id;
	gh.origin = (uint32_t)origin;
	gh.status = KEYMGR_UNAVAILABLE;
	if (keymgr_sup.reply != NULL)
		keymgr_sup.reply(keymgr_sup.arg, origin, &gh, sizeof(gh));
}

int
keymgr_forward(pid_t origin, const void *msg, size_t len)
{
	static unsigned char	 buf[sizeof(struct keymgr_sign_hdr) +
				    KEYMGR_INPUT_MAX];
	struct keymgr_sign_hdr	 sh;

	if (len < sizeof(sh))
		return -1;
	memcpy(&sh, msg, sizeof(sh));
	sh.origin = (uint32_t)origin;
	if (len > sizeof(buf))
		return -1;	/* a worker's client never sends it */
	memcpy(buf, &sh, sizeof(sh));
	memcpy(buf + sizeof(sh), (const unsigned char *)msg + sizeof(sh),
	    len - sizeof(sh));
	if (keymgr_sup.fd == -1 || chan_send(keymgr_sup.fd, CHAN_SIGN, buf,
	    len) == -1)
		keymgr_unavailable(origin, &sh);
	return 0;
}

bool
keymgr_reaped(pid_t pid, int status)
{
	struct timeval	 tv;

	if (pid != keymgr_sup.pid || pid == -1)
		return false;
	keymgr_sup.pid = -1;
	keymgr_close();
	if (keymgr_sup.stopping)
		return true;
	if (WIFSIGNALED(status))
		log_errorx("key manager (pid %ld) killed by signal %d: "
		    "restarting", (long)pid, WTERMSIG(status));
	else
		log_errorx("key manager (pid %ld) exited with %d: "
		    "restarting", (long)pid, WEXITSTATUS(status));
	bw_ms_to_tv(KEYMGR_RESTART_MS, &tv);
	if (keymgr_sup.restart_ev != NULL)
		evtimer_add(keymgr_sup.restart_ev, &tv);
	return true;
}

pid_t
keymgr_pid(void)
{
	return keymgr_sup.pid;
}

void
keymgr_close_inherited(void)
{
	if (keymgr_sup.fd != -1)
		close(keymgr_sup.fd);
}

void
keymgr_stop(void)
{
	int	 status;

	keymgr_sup.stopping = true;
	if (keymgr_sup.restart_ev != NULL) {
		event_free(keymgr_sup.restart_ev);
		keymgr_sup.restart_ev = NULL;
	}
	keymgr_close();
	if (keymgr_sup.pid > 0) {
		kill(keymgr_sup.pid, SIGTERM);
		while (waitpid(keymgr_sup.pid, &status, 0) == -1 &&
		    errno == EINTR)
			;
		keymgr_sup.pid = -1;
	}
	keymgr_sup.base = NULL;
	keymgr_sup.conf = NULL;
}

/*
 * The worker's side.
 */
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
