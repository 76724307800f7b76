/*
 * keymgr_master.c - the master's side of the key manager (keymgr.h): it
 * forks the key manager and restarts it when it dies, reads the JWT key
 * files' bytes, hands them over, wipes them and builds the workers' key
 * set from the public parts, and relays the workers' signing requests.
 *
 * Invariants: the master never parses an EdDSA or ES256 private key; every
 * buffer that held key file bytes is wiped before it is freed.  The key
 * manager gets no descriptor but its channel (close_range) and dies with
 * the master (PR_SET_PDEATHSIG).  Requests are stamped with the pid of the
 * worker that sent them, answers go back to that pid only; a signature
 * for a worker that is gone is dropped.
 */
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/evp.h>

#include "conf.h"
#include "keymgr.h"
#include "keys.h"
#include "log.h"
#include "master.h"
#include "tlskey.h"
#include "util.h"

/*
 * A TLS key handed to the key manager: what a restarted key manager gets
 * again, under the same handle, and the public key it must answer.
 */
struct keymgr_tls_entry {
	uint32_t	 handle;		/* 0: free */
	char		*path;
	unsigned char	*spki;
	size_t		 spkilen;
};

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
	uint32_t		 tls_next;	/* the last handle given */
	struct keymgr_tls_entry	 tls[KEYMGR_TLS_KEEP];	/* newest first */
	unsigned char		 msg[CHAN_MAX_PAYLOAD];
} keymgr_sup = { .fd = -1, .pid = -1 };

static void __attribute__((noreturn))
keymgr_child(int fd, enum conf_seccomp mode)
{
	master_child_signals();
	/* Nothing of the master's: listeners, channels, its event loop. */
	if ((fd != 3 && dup2(fd, 3) == -1) || close_range(4, ~0U, 0) == -1 ||
	    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) == -1)
		_exit(3);
	exit(keymgr_main(3, mode));
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
keymgr_fork(enum conf_seccomp mode)
{
	sigset_t	 all, old;
	pid_t		 pid;
	int		 fds[2];

	if (chan_pair(fds) == -1)
		return -1;
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, &old);
	if ((pid = fork()) == 0)
		keymgr_child(fds[1], mode);
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

/* The key manager, started under conf's security.seccomp if none runs. */
static int
keymgr_start(const struct conf *conf)
{
	if (keymgr_sup.fd == -1 && keymgr_fork(conf->seccomp) == -1)
		return -1;
	return 0;
}

static void
keymgr_relay(enum chan_type type, size_t len)
{
	struct keymgr_sig_hdr	 gh;

	if (len < sizeof(gh) || keymgr_sup.reply == NULL)
		return;
	memcpy(&gh, keymgr_sup.msg, sizeof(gh));
	keymgr_sup.reply(keymgr_sup.arg, (pid_t)gh.origin, type,
	    keymgr_sup.msg, len);
}

/*
 * One message from the key manager, waiting up to ms (0: not at all).
 * Signatures met meanwhile are relayed.  1 with a message of type want
 * in msg, 0 when none came, -1 when the key manager is gone.
 */
static int
keymgr_recv(int ms, enum chan_type want, size_t *len)
{
	struct pollfd	 pfd = { .fd = keymgr_sup.fd, .events = POLLIN };
	int64_t		 end = bw_now_ms() + ms;
	enum chan_type	 type;
	int		 rv;

	for (;;) {
		rv = chan_recv(keymgr_sup.fd, &type, keymgr_sup.msg,
		    sizeof(keymgr_sup.msg), len);
		if (rv == 1 && (type == CHAN_SIGNATURE ||
		    type == CHAN_TLS_SIGNATURE)) {
			keymgr_relay(type, *len);
			continue;
		}
		if (rv == 1 && type == want && ms > 0)
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
	if (keymgr_recv(0, CHAN_KEY_PUBLIC, &len) != 0) {
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
	if (len < sizeof(ph) || ph.id != index) {
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

/*
 * A key file's bytes after hdr (hdrlen bytes) to the key manager as type,
 * wiped; then its answer of type want: 0 with *n bytes in msg, or -1.
 */
static int
keymgr_file_call(const struct conf *conf, const char *path,
    enum chan_type type, const void *hdr, size_t hdrlen, enum chan_type want,
    size_t *n, const char **err)
{
	unsigned char	*buf, *msg;
	size_t		 len;
	int		 rv;

	if (keys_file_read(conf, path, &buf, &len, err) == -1)
		return -1;
	msg = bw_malloc(hdrlen + len);
	memcpy(msg, hdr, hdrlen);
	memcpy(msg + hdrlen, buf, len);
	bw_wipe(buf, KEYS_FILE_MAX + 1);
	free(buf);
	rv = chan_send(keymgr_sup.fd, type, msg, hdrlen + len);
	bw_wipe(msg, hdrlen + len);
	free(msg);
	if (rv == -1 || (rv = keymgr_recv(KEYMGR_LOAD_MS, want, n)) != 1) {
		*err = rv == 0 ? "the key manager did not answer" :
		    "the key manager is gone";
		return -1;
	}
	return 0;
}

/* One key file through the key manager. */
static struct keys_key *
keymgr_one(const struct conf *conf, const char *path, size_t index,
    size_t count, const char **err)
{
	struct keymgr_file_hdr	 fh = { (uint32_t)index, (uint32_t)count };
	size_t			 n;

	if (keymgr_file_call(conf, path, CHAN_KEY_FILE, &fh, sizeof(fh),
	    CHAN_KEY_PUBLIC, &n, err) == -1)
		return NULL;
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
	if (keymgr_start(conf) == -1) {
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

/*
 * One TLS key file through the key manager under handle: its public key
 * (SPKI DER) in msg + sizeof(struct keymgr_public_hdr), *spkilen
 * bytes; or -1 with *err set.
 */
static int
keymgr_tls_send(const struct conf *conf, const char *path, uint32_t handle,
    size_t *spkilen, const char **err)
{
	struct keymgr_file_hdr	 fh = { handle, 0 };
	struct keymgr_public_hdr	 ph;
	size_t				 n;

	if (keymgr_start(conf) == -1) {
		*err = "cannot start the key manager";
		return -1;
	}
	if (keymgr_file_call(NULL, path, CHAN_TLS_KEY, &fh, sizeof(fh),
	    CHAN_TLS_PUBLIC, &n, err) == -1)
		return -1;
	memcpy(&ph, keymgr_sup.msg, sizeof(ph));
	if (n < sizeof(ph) || ph.id != handle) {
		*err = "the key manager answered out of turn";
		return -1;
	}
	if (!ph.ok) {
		ph.err[sizeof(ph.err) - 1] = '\0';
		bw_strlcpy(keymgr_sup.err, ph.err, sizeof(keymgr_sup.err));
		*err = keymgr_sup.err;
		return -1;
	}
	*spkilen = n - sizeof(ph);
	return 0;
}

/* Remembers a key handed over, the newest first; the oldest goes. */
static void
keymgr_tls_remember(uint32_t handle, const char *path,
    const unsigned char *spki, size_t len)
{
	struct keymgr_tls_entry	*e = &keymgr_sup.tls[KEYMGR_TLS_KEEP - 1];

	free(e->path);
	free(e->spki);
	memmove(&keymgr_sup.tls[1], &keymgr_sup.tls[0],
	    (KEYMGR_TLS_KEEP - 1) * sizeof(keymgr_sup.tls[0]));
	e = &keymgr_sup.tls[0];
	e->handle = handle;
	e->path = bw_strdup(path);
	e->spki = bw_malloc(len);
	memcpy(e->spki, spki, len);
	e->spkilen = len;
}

EVP_PKEY *
keymgr_tls_key(const struct conf *conf, const char *path, const char **err)
{
	struct keymgr_public_hdr	 ph;
	const unsigned char		*spki = keymgr_sup.msg + sizeof(ph);
	EVP_PKEY			*pk;
	uint32_t			 handle;
	size_t				 n;

	if (path == NULL) {
		*err = "a certificate and a private key are required";
		return NULL;
	}
	if (++keymgr_sup.tls_next == 0)
		keymgr_sup.tls_next = 1;
	handle = keymgr_sup.tls_next;
	if (keymgr_tls_send(conf, path, handle, &n, err) == -1 ||
	    (pk = tlskey_pkey_new(handle, spki, n, err)) == NULL)
		return NULL;
	keymgr_tls_remember(handle, path, spki, n);
	return pk;
}

/*
 * A restarted key manager gets the TLS keys of the generations that live
 * again, from their files.  A file whose key changed since cannot serve
 * its old handle: that is logged, and a reload loads the new pair.
 */
static void
keymgr_tls_resend(void)
{
	struct keymgr_tls_entry	*e;
	const char		*err = NULL;
	size_t			 i, n;

	for (i = 0; i < KEYMGR_TLS_KEEP; i++) {
		e = &keymgr_sup.tls[i];
		if (e->handle == 0)
			continue;
		if (keymgr_tls_send(keymgr_sup.conf, e->path, e->handle, &n,
		    &err) == -1)
			log_errorx("key manager: %s: %s", e->path, err);
		else if (n != e->spkilen || memcmp(keymgr_sup.msg +
		    sizeof(struct keymgr_public_hdr), e->spki, n) != 0)
			log_errorx("key manager: %s: the key changed since it "
			    "was loaded: reload to serve it", e->path);
	}
}

static void
keymgr_restart_cb(evutil_socket_t fd, short what, void *arg)
{
	struct keys_set	*s = NULL;
	struct timeval	 tv;
	const char	*err = NULL, *path = NULL;

	(void)fd;
	(void)what;
	(void)arg;
	if (keymgr_sup.stopping || keymgr_sup.conf == NULL ||
	    keymgr_sup.pid != -1)
		return;
	if (keymgr_start(keymgr_sup.conf) == 0 &&
	    (keymgr_sup.conf->auth == NULL ||
	    (s = keymgr_keys(keymgr_sup.conf, &err, &path)) != NULL)) {
		keys_set_free(s);
		keymgr_tls_resend();
		return;
	}
	log_errorx("key manager: %s: %s", path != NULL ? path : "start",
	    err != NULL ? err : "cannot start");
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
keymgr_unavailable(pid_t origin, enum chan_type type, uint64_t id)
{
	struct keymgr_sig_hdr	 gh;

	memset(&gh, 0, sizeof(gh));
	gh.id = id;
	gh.origin = (uint32_t)origin;
	gh.status = KEYMGR_UNAVAILABLE;
	if (keymgr_sup.reply != NULL)
		keymgr_sup.reply(keymgr_sup.arg, origin, type == CHAN_SIGN ?
		    CHAN_SIGNATURE : CHAN_TLS_SIGNATURE, &gh, sizeof(gh));
}

int
keymgr_forward(pid_t origin, enum chan_type type, const void *msg,
    size_t len)
{
	static unsigned char	 buf[sizeof(struct keymgr_tls_sign_hdr) +
				    KEYMGR_INPUT_MAX];
	size_t			 hdr, max;
	uint32_t		 o = (uint32_t)origin;
	uint64_t		 id;

	if (type == CHAN_SIGN) {
		hdr = sizeof(struct keymgr_sign_hdr);
		max = hdr + KEYMGR_INPUT_MAX;
	} else if (type == CHAN_TLS_SIGN) {
		hdr = sizeof(struct keymgr_tls_sign_hdr);
		max = hdr + TLSKEY_INPUT_MAX;
	} else
		return -1;
	/* A worker's client never sends more. */
	if (len < hdr || len > max || len > sizeof(buf))
		return -1;
	memcpy(buf, msg, len);
	memcpy(&id, buf, sizeof(id));
	memcpy(buf + offsetof(struct keymgr_sig_hdr, origin), &o, sizeof(o));
	if (keymgr_sup.fd == -1 || chan_send(keymgr_sup.fd, type, buf,
	    len) == -1)
		keymgr_unavailable(origin, type, id);
	bw_wipe(buf, len);
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
	size_t	 i;
	int	 status;

	keymgr_sup.stopping = true;
	for (i = 0; i < KEYMGR_TLS_KEEP; i++) {
		free(keymgr_sup.tls[i].path);
		free(keymgr_sup.tls[i].spki);
	}
	memset(keymgr_sup.tls, 0, sizeof(keymgr_sup.tls));
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
