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
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "conf.h"
#include "keymgr.h"
#include "keys.h"
#include "log.h"
#include "master.h"
#include "util.h"

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
	if (keymgr_sup.fd == -1 && keymgr_fork(conf->seccomp) == -1) {
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
