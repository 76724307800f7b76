/*
 * master_child.c - the master's children: fork, supervision, channels,
 * reaping and crash loops.
 *
 * Each child (a worker of one slot and generation, or the admin listener)
 * has a SOCK_SEQPACKET channel to the master.  A worker gets its slot's
 * listening sockets; when it dies the sockets stay open in the master, so
 * the kernel keeps queueing the connections it hashed to that slot and the
 * replacement accepts them (nothing queued is reset).
 *
 * Threat model: workers face the network and may be compromised.  The
 * master trusts nothing they send: channel records are checked by chan.c
 * and a worker that sends a malformed one or an unexpected type is
 * killed.  Children receive no descriptor of the master beyond their own:
 * other slots' sockets, other children's channels, the pid file, the
 * readiness pipe, the key manager's channel and the master's event loop
 * descriptors are closed right after fork, and the ticket keys are wiped
 * once installed.  A worker's CHAN_SIGN goes on to the key manager
 * (keymgr.c) stamped with the worker's pid; the signature comes back to
 * that worker only.  Each child also has a second SOCK_SEQPACKET pair for
 * its handshake signatures (CHAN_TLS_SIGN, tlskey.h): the child blocks on
 * it during a full handshake, so nothing else may arrive there, and its
 * main channel is left untouched meanwhile.  The master relays those
 * requests the same way, stamped with the child's pid.
 *
 * Crash handling: an unexpected exit of a current-generation child is a
 * crash, counted per worker slot (and for the admin listener) so that many
 * workers dying at once (an OOM kill, an operator's kill) is not mistaken
 * for a loop.  The replacement starts after 0 ms, then 100, 200, 400 and
 * 800 ms for further crashes of the same slot within 10 s; a sixth crash of
 * one slot within 10 s is a crash loop: the daemon drains what still runs
 * and exits 3.
 */
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "admin.h"
#include "audit_writer.h"
#include "balance.h"
#include "chan.h"
#include "keymgr.h"
#include "log.h"
#include "master.h"
#include "master_int.h"
#include "notify.h"
#include "tls.h"
#include "tlskey.h"
#include "util.h"
#include "worker.h"

/*
 * Crash accounting.
 */
int64_t
master_crash_record(struct master_crashes *c, int64_t now_ms)
{
	size_t	 i, recent = 0;

	c->when[c->next] = now_ms;
	c->next = (c->next + 1) % BW_ARRAY_LEN(c->when);
	if (c->n < BW_ARRAY_LEN(c->when))
		c->n++;
	for (i = 0; i < c->n; i++)
		if (now_ms - c->when[i] < MASTER_CRASH_WINDOW_MS)
			recent++;
	if (recent > MASTER_CRASH_MAX)
		return -1;
	if (recent <= 1)
		return 0;
	return (int64_t)MASTER_BACKOFF_MIN_MS << (recent - 2);
}

/*
 * Children.
 */
void
master_child_signals(void)
{
	static const int	 sigs[] = {
		SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGCHLD, SIGPIPE,
	};
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
}

static void
master_child_close(struct master *m, const struct master_child *self)
{
	size_t			 i;

	for (i = 0; i < m->nchildren; i++) {
		if (m->children[i] != self && m->children[i]->chan_fd != -1)
			close(m->children[i]->chan_fd);
		if (m->children[i] != self && m->children[i]->sign_fd != -1)
			close(m->children[i]->sign_fd);
	}
	/* A worker keeps every slot's: it serves its siblings' too. */
	for (i = 0; self->kind != MASTER_WORKER &&
	    i < m->nslots * m->nlisten; i++)
		if (m->listen_fds[i] != -1)
			close(m->listen_fds[i]);
	if (self->kind != MASTER_ADMIN && m->admin_fd != -1)
		close(m->admin_fd);
	if (m->pid_fd != -1)
		close(m->pid_fd);
	if (master_ready_fd != -1)
		close(master_ready_fd);
	for (i = 0; i < m->nloop_fds; i++)
		close(m->loop_fds[i]);
	keymgr_close_inherited();
}

static int
master_run_worker(struct master *m, struct master_child *self, int chan)
{
	struct worker_args	 wa;
	char			 name[32];

	(void)snprintf(name, sizeof(name), "worker %d", self->slot);
	log_set_procname(name);
	memset(&wa, 0, sizeof(wa));
	wa.conf = m->gen.conf;
	wa.id = self->slot;
	wa.generation = (int)self->generation;
	wa.listen_fds = m->slots[self->slot].fds;
	wa.nlisten_fds = m->nlisten;
	wa.all_fds = m->listen_fds;
	wa.nall_fds = m->nslots * m->nlisten;
	wa.balance = m->balance;
	wa.chan_fd = chan;
	wa.tls_ctx = m->gen.tls;
	keymgr_tls_client_set(self->sign_fd, TLSKEY_DEADLINE_MS);
	wa.api = m->gen.api;
	wa.db = m->gen.have_db ? &m->gen.db : NULL;
	wa.replicas = m->gen.replicas;
	wa.nreplicas = m->gen.nreplicas;
	wa.keys = m->gen.keys;
	wa.hold = !self->accepting;
	/* Connected here, with the master's credentials, before the sandbox. */
	wa.audit_fd = m->gen.conf->audit != NULL ? audit_writer_connect() :
	    -1;
	if (m->gen.conf->audit != NULL && wa.audit_fd == -1)
		log_warnx("worker %d: cannot reach the audit writer: %s",
		    self->slot, strerror(errno));
	return worker_main(&wa);
}

static int
master_run_admin(struct master *m, struct master_child *self, int chan)
{
	struct admin_args	 aa;

	(void)self;
	log_set_procname("admin");
	memset(&aa, 0, sizeof(aa));
	aa.conf = m->gen.conf;
	aa.listen_fd = m->admin_fd;
	aa.chan_fd = chan;
	aa.tls_ctx = m->gen.admin_tls;
	keymgr_tls_client_set(self->sign_fd, TLSKEY_DEADLINE_MS);
	return admin_main(&aa);
}

/*
 * The kinds of children: what each runs after fork and how the log names
 * it.  A new kind of child (a writer, a manager) is one more entry.
 */
static const struct master_kind_def {
	const char	*name;
	int		(*run)(struct master *, struct master_child *, int);
} master_kinds[] = {
	[MASTER_WORKER] = { "worker", master_run_worker },
	[MASTER_ADMIN] = { "admin listener", master_run_admin },
};

static void __attribute__((noreturn))
master_child_run(struct master *m, struct master_child *self, int chan)
{
	int			 rv;

	/* The master's signal events went at fork (master_signals_drop). */
	master_child_signals();
	master_child_close(m, self);
	if (prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0) == -1 ||
	    getppid() != m->pid)
		_exit(3);
	if (m->gen.tls != NULL && m->have_keys &&
	    tls_ticket_keys_set(m->gen.tls, &m->keys) == -1)
		log_warnx("cannot install the session-ticket keys");
	bw_wipe(&m->keys, sizeof(m->keys));
	rv = master_kinds[self->kind].run(m, self, chan);
	/*
	 * exit, not _exit: sanitizer builds check the child for leaks at
	 * exit.  The master has written nothing to stdio buffers that a
	 * child could flush a second time.
	 */
	exit(rv);
}

static void	 master_chan_cb(evutil_socket_t, short, void *);
static void	 master_sign_cb(evutil_socket_t, short, void *);

/* The master's end of a child's signing pair, watched. */
static void
master_sign_watch(struct master *m, struct master_child *c, int fd)
{
	int	 fl;

	c->sign_fd = fd;
	if ((fl = fcntl(fd, F_GETFL)) != -1)
		fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	c->sign_ev = event_new(m->base, fd, EV_READ | EV_PERSIST,
	    master_sign_cb, c);
	if (c->sign_ev == NULL || event_add(c->sign_ev, NULL) == -1)
		log_errorx("cannot watch the signing channel of pid %ld",
		    (long)c->pid);
}

/* A watched descriptor of a child's, unwatched and closed. */
static void
master_fd_close(struct event **ev, int *fd)
{
	if (*ev != NULL) {
		event_free(*ev);
		*ev = NULL;
	}
	if (*fd != -1) {
		close(*fd);
		*fd = -1;
	}
}

static void
master_sign_close(struct master_child *c)
{
	master_fd_close(&c->sign_ev, &c->sign_fd);
}

/* The record of a child about to be forked: no process, no channel yet. */
static struct master_child *
master_child_new(struct master *m, enum master_kind kind, int slot)
{
	struct master_child	*c;

	c = bw_malloc(sizeof(*c));
	*c = (struct master_child){
		.kind = kind,
		.slot = slot,
		.generation = m->generation,
		.chan_fd = -1,
		.sign_fd = -1,
		.m = m,
		/* In a reload the old worker holds the slot until take-over. */
		.accepting = kind != MASTER_WORKER ||
		    !master_ready_hold(m, (size_t)slot),
		.state = { .pool = CHAN_PART_DOWN,
		    .revocation = CHAN_PART_DOWN, .audit = CHAN_PART_DOWN },
	};
	return c;
}

/*
 * Forks one child.  Signals are blocked across fork so that none reaches
 * the master's handlers in the child before they are reset.
 */
static struct master_child *
master_spawn(struct master *m, enum master_kind kind, int slot)
{
	struct master_child	*c;
	sigset_t		 all, old;
	int			 fds[2], sfds[2], fl;
	pid_t			 pid;

	if (m->nchildren >= m->maxchildren) {
		log_errorx("too many children (%zu)", m->nchildren);
		return NULL;
	}
	if (chan_pair(fds) == -1) {
		log_errorx("channel: %s", strerror(errno));
		return NULL;
	}
	if (chan_pair(sfds) == -1) {
		log_errorx("channel: %s", strerror(errno));
		close(fds[0]);
		close(fds[1]);
		return NULL;
	}
	c = master_child_new(m, kind, slot);
	c->sign_fd = sfds[1];
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, &old);
	pid = fork();
	if (pid == 0) {
		close(fds[0]);
		close(sfds[0]);
		master_child_run(m, c, fds[1]);
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	close(fds[1]);
	close(sfds[1]);
	c->sign_fd = -1;
	if (pid == -1) {
		log_errorx("fork: %s", strerror(errno));
		close(fds[0]);
		close(sfds[0]);
		master_child_free(c);
		return NULL;
	}
	c->pid = pid;
	master_sign_watch(m, c, sfds[0]);
	c->chan_fd = fds[0];
	if ((fl = fcntl(fds[0], F_GETFL)) != -1)
		fcntl(fds[0], F_SETFL, fl | O_NONBLOCK);
	c->chan_ev = event_new(m->base, fds[0], EV_READ | EV_PERSIST,
	    master_chan_cb, m);
	if (c->chan_ev == NULL || event_add(c->chan_ev, NULL) == -1)
		log_errorx("cannot watch the channel of pid %ld", (long)pid);
	m->children[m->nchildren++] = c;
	if (kind == MASTER_WORKER)
		log_info("worker %d started (pid %ld, generation %u%s)", slot,
		    (long)pid, c->generation, c->accepting ? "" :
		    ", waiting to take over");
	else
		log_info("%s started (pid %ld)", master_kinds[kind].name,
		    (long)pid);
	return c;
}

void
master_send(struct master_child *c, enum chan_type type, const void *p,
    size_t len)
{
	if (c->chan_fd == -1)
		return;
	if (chan_send(c->chan_fd, type, p, len) == -1 && errno != EPIPE &&
	    errno != ECONNRESET)
		log_warnx("channel to pid %ld: %s", (long)c->pid,
		    strerror(errno));
}

void
master_drain_child(struct master_child *c)
{
	if (c->draining)
		return;
	c->draining = true;
	if (c->chan_fd != -1 && chan_send(c->chan_fd, CHAN_DRAIN, NULL, 0) == 0)
		return;
	/* No channel: the child handles SIGTERM as a drain. */
	kill(c->pid, SIGTERM);
}

static struct master_child *
master_child_by_fd(struct master *m, int fd)
{
	size_t	 i;

	for (i = 0; i < m->nchildren; i++)
		if (m->children[i]->chan_fd == fd)
			return m->children[i];
	return NULL;
}

void
master_child_free(struct master_child *c)
{
	master_chan_close(c);
	master_sign_close(c);
	if (c->wait_ev != NULL)
		event_free(c->wait_ev);
	free(c);
}

void
master_chan_close(struct master_child *c)
{
	master_fd_close(&c->chan_ev, &c->chan_fd);
}

/*
 * A worker lost its audit writer (restarted): a new connection, or none
 * while no writer listens (the worker asks again later).
 */
static void
master_audit_fd(struct master_child *c)
{
	int	 fd = audit_writer_connect();

	if (chan_send_fd(c->chan_fd, CHAN_AUDIT_FD, NULL, 0, fd) == -1 &&
	    errno != EPIPE)
		log_warnx("cannot answer worker %d's audit connection: %s",
		    c->slot, strerror(errno));
	if (fd != -1)
		close(fd);
}

/*
 * One message from a child: -1 when it has no business sending it (the
 * child is then killed).  Only workers report readiness.
 */
static int
master_chan_msg(struct master *m, struct master_child *c,
    enum chan_type type, size_t len)
{
	struct chan_state	 st;

	switch (type) {
	case CHAN_READY:
		master_ready_up(m, c);
		return 0;
	case CHAN_STATS:
		return 0;
	case CHAN_SIGN:
		if (c->kind != MASTER_WORKER)
			return -1;
		return keymgr_forward(c->pid, CHAN_SIGN, m->msg, len);
	case CHAN_AUDIT_FD:
		if (c->kind != MASTER_WORKER || len != 0)
			return -1;
		master_audit_fd(c);
		return 0;
	case CHAN_STATE:
		if (c->kind != MASTER_WORKER ||
		    chan_state_parse(m->msg, len, &st) == -1)
			return -1;
		master_ready_state(m, c, &st);
		return 0;
	default:
		return -1;
	}
}

/*
 * A signature from the key manager, for the child that asked: a token's
 * to a worker's channel, a handshake's to the child's signing pair.
 */
void
master_keymgr_reply(void *arg, pid_t pid, enum chan_type type,
    const void *msg, size_t len)
{
	struct master		*m = arg;
	struct master_child	*c;
	size_t			 i;

	for (i = 0; i < m->nchildren; i++) {
		c = m->children[i];
		if (c->pid != pid)
			continue;
		if (type == CHAN_SIGNATURE && c->kind == MASTER_WORKER)
			master_send(c, CHAN_SIGNATURE, msg, len);
		else if (type == CHAN_TLS_SIGNATURE && c->sign_fd != -1 &&
		    chan_send(c->sign_fd, type, msg, len) == -1 &&
		    errno != EPIPE && errno != ECONNRESET)
			log_warnx("signing channel to pid %ld: %s",
			    (long)c->pid, strerror(errno));
		return;
	}
}

/*
 * One message from a child's descriptor into m->msg: 1, 0 when none is
 * waiting, -1 when the child is gone (or going: its exit is reaped), -2
 * when the message is malformed (errno says how).
 */
static int
master_child_recv(struct master *m, int fd, enum chan_type *type,
    size_t *len)
{
	int	 rv = chan_recv(fd, type, m->msg, sizeof(m->msg), len);

	if (rv == 1)
		return 1;
	if (rv == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return 0;
	if (rv == 0 || (errno != EBADMSG && errno != EMSGSIZE))
		return -1;
	return -2;
}

/*
 * A child's handshake signature request: on to the key manager.  A child
 * that sends anything else, or a malformed request, is killed.
 */
static void
master_sign_cb(evutil_socket_t fd, short what, void *arg)
{
	struct master_child	*c = arg;
	enum chan_type		 type;
	size_t			 len;
	int			 rv, i;

	(void)what;
	for (i = 0; i < 64; i++) {
		if ((rv = master_child_recv(c->m, fd, &type, &len)) == 0)
			return;
		if (rv == -1) {
			master_sign_close(c);
			return;
		}
		if (rv == -2 || type != CHAN_TLS_SIGN ||
		    keymgr_forward(c->pid, type, c->m->msg, len) == -1) {
			log_errorx("pid %ld sent a malformed signing request: "
			    "killed", (long)c->pid);
			master_sign_close(c);
			kill(c->pid, SIGKILL);
			return;
		}
	}
}

static void
master_chan_cb(evutil_socket_t fd, short what, void *arg)
{
	struct master		*m = arg;
	struct master_child	*c;
	enum chan_type		 type;
	size_t			 len;
	int			 rv, i;

	(void)what;
	if ((c = master_child_by_fd(m, fd)) == NULL)
		return;
	for (i = 0; i < 64; i++) {
		if ((rv = master_child_recv(m, fd, &type, &len)) == 0)
			return;
		if (rv == -1) {
			master_chan_close(c);
			return;
		}
		if (rv == -2) {
			log_errorx("pid %ld sent a malformed message (%s): "
			    "killed", (long)c->pid, strerror(errno));
			master_chan_close(c);
			kill(c->pid, SIGKILL);
			return;
		}
		if (master_chan_msg(m, c, type, len) == -1) {
			log_errorx("pid %ld sent message type %u (%zu bytes): "
			    "killed", (long)c->pid, (unsigned)type, len);
			master_chan_close(c);
			kill(c->pid, SIGKILL);
			return;
		}
	}
}

void
master_restart_cb(evutil_socket_t fd, short what, void *arg)
{
	struct master		*m = arg;
	size_t			 s;

	(void)fd;
	(void)what;
	if (m->stopping)
		return;
	for (s = 0; s < m->nslots; s++)
		if (m->slots[s].child == NULL &&
		    !evtimer_pending(m->slots[s].restart_ev, NULL))
			master_spawn_slot(m, s);
}

void
master_admin_restart_cb(evutil_socket_t fd, short what, void *arg)
{
	struct master	*m = arg;

	(void)fd;
	(void)what;
	if (!m->stopping && m->admin == NULL)
		master_spawn_admin(m);
}

/*
 * A slot without a worker gets one; when fork fails the attempt counts as
 * a crash so that a persistent failure ends as a crash loop.
 */
static void	 master_crashed(struct master *, struct master_child *, size_t);

void
master_spawn_slot(struct master *m, size_t s)
{
	struct master_child	 dummy;

	m->slots[s].child = master_spawn(m, MASTER_WORKER, (int)s);
	if (m->slots[s].child == NULL) {
		memset(&dummy, 0, sizeof(dummy));
		dummy.kind = MASTER_WORKER;
		dummy.slot = (int)s;
		master_crashed(m, &dummy, s);
	}
}

void
master_spawn_admin(struct master *m)
{
	if (m->admin_fd == -1 || m->gen.conf->admin == NULL)
		return;
	m->admin = master_spawn(m, MASTER_ADMIN, -1);
	if (m->admin != NULL)
		master_send_health(m);
}

static void
master_crashed(struct master *m, struct master_child *c, size_t s)
{
	struct timeval	 tv;
	int64_t		 delay;

	delay = master_crash_record(c->kind == MASTER_ADMIN ?
	    &m->admin_crashes : &m->slots[s].crashes, bw_now_ms());
	if (delay == -1) {
		log_errorx("crash loop: more than %d crashes of one child "
		    "within %d s; stopping", MASTER_CRASH_MAX,
		    MASTER_CRASH_WINDOW_MS / 1000);
		notify_status("crash loop: stopping");
		master_stop(m, 3);
		return;
	}
	bw_ms_to_tv(delay, &tv);
	if (c->kind == MASTER_ADMIN)
		evtimer_add(m->admin_restart_ev, &tv);
	else
		evtimer_add(m->slots[s].restart_ev, &tv);
}

static void
master_log_exit(const struct master_child *c, int status, bool expected)
{
	char	 who[32];

	if (c->kind == MASTER_WORKER)
		(void)snprintf(who, sizeof(who), "worker %d", c->slot);
	else
		bw_strlcpy(who, master_kinds[c->kind].name, sizeof(who));
	if (WIFSIGNALED(status))
		log_errorx("%s (pid %ld) killed by signal %d (%s)", who,
		    (long)c->pid, WTERMSIG(status), strsignal(WTERMSIG(status)));
	else if (!expected || WEXITSTATUS(status) != 0)
		log_errorx("%s (pid %ld) exited with status %d%s", who,
		    (long)c->pid, WEXITSTATUS(status),
		    expected ? "" : " unexpectedly");
	else
		log_info("%s (pid %ld) exited", who, (long)c->pid);
}

void
master_reap(struct master *m, pid_t pid, int status)
{
	struct master_child	*c;
	bool			 current;
	size_t			 s = 0, i;

	for (i = 0; i < m->nchildren; i++)
		if (m->children[i]->pid == pid)
			break;
	if (i == m->nchildren)
		return;
	c = m->children[i];
	if (c->kind == MASTER_WORKER)
		balance_withdraw(m->balance, (size_t)c->slot, pid);
	memmove(&m->children[i], &m->children[i + 1],
	    (m->nchildren - i - 1) * sizeof(*m->children));
	m->nchildren--;
	master_chan_close(c);
	current = false;
	if (c->kind == MASTER_WORKER) {
		s = (size_t)c->slot;
		if (m->slots[s].child == c) {
			m->slots[s].child = NULL;
			current = true;
		}
	} else if (m->admin == c) {
		m->admin = NULL;
		current = true;
	}
	master_log_exit(c, status, c->draining || m->stopping);
	if (current && !c->draining && !m->stopping)
		master_crashed(m, c, s);
	master_child_free(c);
	if (m->stopping) {
		if (m->nchildren == 0)
			event_base_loopbreak(m->base);
		return;
	}
	master_ready_check(m);
	master_reload_queued(m);
}
