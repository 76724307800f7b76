/*
 * master.c - the supervising process.
 *
 * The master binds every listening socket once, for its whole life: one
 * SO_REUSEPORT socket per worker slot and listen address.  A worker gets
 * its slot's sockets; when it dies the sockets stay open here, so the
 * kernel keeps queueing the connections it hashed to that slot and the
 * replacement accepts them (nothing queued is reset).  A reload starts a
 * new generation of workers on the same sockets, and only when all of them
 * report CHAN_READY is the old generation told to drain.
 *
 * Threat model: workers face the network and may be compromised.  The
 * master trusts nothing they send: channel records are checked by chan.c
 * and a worker that sends a malformed one is killed.  Children receive no
 * descriptor of the master beyond their own: other slots' sockets, other
 * children's channels, the pid file, the readiness pipe and the master's
 * event loop descriptors are closed right after fork.  The master holds
 * the session-ticket keys (wiped at exit and in each child after they are
 * installed in its TLS context).
 *
 * Crash handling: an unexpected exit of a current-generation child is a
 * crash, counted per worker slot (and for the admin listener) so that many
 * workers dying at once (an OOM kill, an operator's kill) is not mistaken
 * for a loop.  The replacement starts after 0 ms, then 100, 200, 400 and
 * 800 ms for further crashes of the same slot within 10 s; a sixth crash of
 * one slot within 10 s is a crash loop: the daemon drains what still runs
 * and exits 3.
 *
 * Signals are libevent events: SIGTERM/SIGINT stop (drain, then SIGKILL
 * after server.shutdown_timeout + 5 s, exit 0), SIGHUP reloads, SIGUSR1
 * reopens logs, SIGCHLD reaps.
 */
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/ssl.h>

#include "admin.h"
#include "api.h"
#include "chan.h"
#include "conf.h"
#include "audit_writer.h"
#include "dbconf.h"
#include "keys.h"
#include "log.h"
#include "master.h"
#include "notify.h"
#include "tls.h"
#include "util.h"
#include "worker.h"

enum master_kind {
	MASTER_WORKER,
	MASTER_ADMIN,
};

struct master_child {
	enum master_kind	 kind;
	pid_t			 pid;
	int			 slot;
	unsigned		 generation;
	int			 chan_fd;
	struct event		*chan_ev;
	bool			 ready;
	bool			 draining;
};

struct master_slot {
	int			*fds;		/* nlisten sockets */
	struct master_child	*child;		/* current generation */
	struct event		*restart_ev;
	struct master_crashes	 crashes;
};

/*
 * What the workers of one generation share, built by the master before
 * they fork: the configuration, TLS contexts, compiled routes and the
 * database connection parameters (with the password, wiped on free).
 */
struct master_gen {
	struct conf		*conf;
	SSL_CTX			*tls;
	SSL_CTX			*admin_tls;
	struct api		*api;
	struct keys_set		*keys;		/* auth token keys, or NULL */
	struct dbconf		 db;
	bool			 have_db;
};

struct master {
	const char		*config_path;
	struct master_gen	 gen;
	pid_t			 pid;
	struct event_base	*base;
	struct chan_ticket_keys	 keys;
	bool			 have_keys;

	int			*listen_fds;	/* nslots * nlisten */
	size_t			 nlisten;
	struct master_slot	*slots;
	size_t			 nslots;
	int			 admin_fd;
	struct master_child	*admin;
	struct event		*admin_restart_ev;
	struct master_crashes	 admin_crashes;

	/*
	 * At most MASTER_MAX_GENERATIONS generations live at once, each with
	 * nslots workers and one admin listener: maxchildren.
	 */
	struct master_child	**children;
	size_t			 nchildren;
	size_t			 maxchildren;
	unsigned		 generation;

	int			 pid_fd;
	char			*pid_path;
	int			*loop_fds;	/* the event loop's own */
	size_t			 nloop_fds;

	struct event		*sig_ev[5];
	struct event		*ticket_ev;
	struct event		*kill_ev;

	bool			 started;	/* READY=1 sent once */
	bool			 reloading;	/* waiting for the new generation */
	bool			 reload_pending;	/* SIGHUP while too many */
	bool			 stopping;
	int			 exit_status;
	unsigned char		 msg[CHAN_MAX_PAYLOAD];
};

/* The write end of the -d readiness pipe, or -1. */
static int	 master_ready_fd = -1;

static void	 master_spawn_slot(struct master *, size_t);
static void	 master_reload(struct master *);
static unsigned	 master_generations(const struct master *);
static void	 master_spawn_admin(struct master *);
static void	 master_stop(struct master *, int);

/*
 * Resource limits.
 */
uint64_t
master_nofile_need(const struct conf *c)
{
	uint64_t	 worker, master, db = 0;

	if (c->database != NULL)
		db = (uint64_t)c->database->pool_size *
		    (1 + c->database->nreplicas) + 1;
	worker = (uint64_t)c->server.limits.max_connections +
	    c->server.nlisten + db + MASTER_NOFILE_MARGIN;
	master = (uint64_t)c->server.workers * c->server.nlisten +
	    (uint64_t)MASTER_MAX_GENERATIONS * (c->server.workers + 1) +
	    MASTER_NOFILE_MARGIN;
	return worker > master ? worker : master;
}

int
master_check_rlimit(const struct conf *c, const char **err)
{
	static char	 buf[256];
	struct rlimit	 rl;
	uint64_t	 need = master_nofile_need(c);

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1) {
		*err = "cannot read RLIMIT_NOFILE";
		return -1;
	}
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need) {
		(void)snprintf(buf, sizeof(buf), "the hard limit on open files "
		    "(RLIMIT_NOFILE) is %llu, below the %llu needed for "
		    "server.limits.max_connections %u per worker (raise "
		    "LimitNOFILE= or ulimit -Hn, or lower max_connections)",
		    (unsigned long long)rl.rlim_max, (unsigned long long)need,
		    c->server.limits.max_connections);
		*err = buf;
		return -1;
	}
	return 0;
}

int
master_raise_rlimit(const struct conf *c, const char **err)
{
	struct rlimit	 rl;
	uint64_t	 need = master_nofile_need(c);

	if (master_check_rlimit(c, err) == -1)
		return -1;
	if (getrlimit(RLIMIT_NOFILE, &rl) == -1) {
		*err = "cannot read RLIMIT_NOFILE";
		return -1;
	}
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
		rl.rlim_cur = (rlim_t)need;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1) {
			*err = "cannot raise the soft RLIMIT_NOFILE";
			return -1;
		}
	}
	return 0;
}

/*
 * Listening sockets.
 */
static void
master_addr_text(const struct sockaddr *sa, char *buf, size_t bufsz)
{
	char		 host[INET6_ADDRSTRLEN];
	unsigned	 port;

	host[0] = '\0';
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const void *)sa;

		inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
		port = ntohs(s4->sin_port);
		(void)snprintf(buf, bufsz, "%s:%u", host, port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)sa;

		inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
		port = ntohs(s6->sin6_port);
		(void)snprintf(buf, bufsz, "[%s]:%u", host, port);
	} else
		bw_strlcpy(buf, "?", bufsz);
}

int
master_listen_socket(const struct sockaddr *sa, socklen_t salen,
    int reuseport, const char **err)
{
	static char	 ebuf[256];
	char		 addr[80];
	const char	*step;
	int		 fd, one = 1, saved;

	step = "socket";
	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd == -1)
		goto fail;
	step = "setsockopt";
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1)
		goto fail;
	if (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one,
	    sizeof(one)) == -1)
		goto fail;
	if (sa->sa_family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6,
	    IPV6_V6ONLY, &one, sizeof(one)) == -1)
		goto fail;
	step = "bind";
	if (bind(fd, sa, salen) == -1)
		goto fail;
	step = "listen";
	if (listen(fd, MASTER_LISTEN_BACKLOG) == -1)
		goto fail;
	return fd;
fail:
	saved = errno;
	if (fd != -1)
		close(fd);
	master_addr_text(sa, addr, sizeof(addr));
	(void)snprintf(ebuf, sizeof(ebuf), "%s %s: %s", step, addr,
	    strerror(saved));
	*err = ebuf;
	errno = saved;
	return -1;
}

static void
master_close_fds(int *fds, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++) {
		if (fds[i] != -1)
			close(fds[i]);
		fds[i] = -1;
	}
}

/*
 * SO_REUSEPORT would let this daemon silently share a port with another
 * process of the same user (a second bulwarkd): before the group is
 * formed, a plain bind (SO_REUSEADDR only, so TIME_WAIT does not count)
 * must succeed, which it does not while anyone listens there.
 */
static int
master_listen_probe(const struct sockaddr *sa, socklen_t sl, const char **err)
{
	int	 fd;

	if ((fd = master_listen_socket(sa, sl, 0, err)) == -1)
		return -1;
	close(fd);
	return 0;
}

static unsigned
master_port(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)ss)->sin_port);
	if (ss->ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
	return 0;
}

int
master_listen_open(const struct conf_listen *ls, size_t nlisten,
    size_t nslots, int *fds, const char **err)
{
	struct sockaddr_storage	 ss;
	socklen_t		 sl;
	size_t			 i, s;

	for (i = 0; i < nslots * nlisten; i++)
		fds[i] = -1;
	for (i = 0; i < nlisten; i++) {
		memcpy(&ss, &ls[i].addr, sizeof(ss));
		sl = ls[i].addrlen;
		if (master_port(&ss) != 0 &&
		    master_listen_probe((struct sockaddr *)&ss, sl, err) == -1)
			goto fail;
		for (s = 0; s < nslots; s++) {
			fds[s * nlisten + i] = master_listen_socket(
			    (struct sockaddr *)&ss, sl, 1, err);
			if (fds[s * nlisten + i] == -1)
				goto fail;
			/* Port 0: every slot joins the port the first got. */
			if (s == 0 && getsockname(fds[i],
			    (struct sockaddr *)&ss, &sl) == -1) {
				*err = "getsockname failed";
				goto fail;
			}
		}
	}
	return 0;
fail:
	master_close_fds(fds, nslots * nlisten);
	return -1;
}

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
 * Restart-only keys.
 */
static bool
master_str_differ(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a != b;
	return strcmp(a, b) != 0;
}

static void
master_swap_str(char **a, char **b)
{
	char	*t = *a;

	*a = *b;
	*b = t;
}

static bool
master_listen_differ(const struct conf_server *a, const struct conf_server *b)
{
	size_t	 i;

	if (a->nlisten != b->nlisten)
		return true;
	for (i = 0; i < a->nlisten; i++)
		if (a->listen[i].addrlen != b->listen[i].addrlen ||
		    memcmp(&a->listen[i].addr, &b->listen[i].addr,
		    a->listen[i].addrlen) != 0)
			return true;
	return false;
}

static bool
master_admin_differ(const struct conf_admin *a, const struct conf_admin *b)
{
	if (a == NULL || b == NULL)
		return a != b;
	return a->listen.addrlen != b->listen.addrlen ||
	    memcmp(&a->listen.addr, &b->listen.addr, a->listen.addrlen) != 0;
}

static void
master_kept(const char *key)
{
	log_warnx("reload: %s changed: it needs a restart; the running "
	    "value is kept", key);
}

int
master_keep_restart_keys(struct conf *cur, struct conf *next)
{
	struct conf_server	*a = &cur->server, *b = &next->server;
	struct conf_listen	*lt;
	struct conf_admin	*at;
	size_t			 nt;
	int			 kept = 0;

	if (master_str_differ(a->user, b->user)) {
		master_swap_str(&a->user, &b->user);
		master_kept("server.user");
		kept++;
	}
	if (master_str_differ(a->group, b->group)) {
		master_swap_str(&a->group, &b->group);
		master_kept("server.group");
		kept++;
	}
	if (master_str_differ(a->pid_file, b->pid_file)) {
		master_swap_str(&a->pid_file, &b->pid_file);
		master_kept("server.pid_file");
		kept++;
	}
	if (a->workers != b->workers) {
		b->workers = a->workers;
		b->workers_auto = a->workers_auto;
		master_kept("server.workers");
		kept++;
	}
	if (master_listen_differ(a, b)) {
		lt = a->listen;
		nt = a->nlisten;
		a->listen = b->listen;
		a->nlisten = b->nlisten;
		b->listen = lt;
		b->nlisten = nt;
		master_kept("server.listen");
		kept++;
	}
	if (cur->seccomp != next->seccomp) {
		next->seccomp = cur->seccomp;
		master_kept("security.seccomp");
		kept++;
	}
	if (master_admin_differ(cur->admin, next->admin)) {
		at = cur->admin;
		cur->admin = next->admin;
		next->admin = at;
		master_kept("admin");
		kept++;
	}
	return kept;
}

/*
 * Descriptors of the event loop: those that appear while it is set up.
 * Children close them so that no worker can touch the master's epoll set.
 * New descriptors take the lowest free numbers, so a scan up to
 * MASTER_FD_SCAN_MAX sees them unless that many were open before.
 */
#define MASTER_FD_SCAN_MAX	65536

static int
master_fd_list(int **out, size_t *n)
{
	struct rlimit	 rl;
	int		*v = NULL, fd, hi = MASTER_FD_SCAN_MAX;
	size_t		 cnt = 0, cap = 0;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)hi)
		hi = (int)rl.rlim_cur;
	for (fd = 0; fd < hi; fd++) {
		if (fcntl(fd, F_GETFD) == -1)
			continue;
		if (cnt == cap) {
			cap = cap == 0 ? 64 : cap * 2;
			v = bw_reallocarray(v, cap, sizeof(*v));
		}
		v[cnt++] = fd;
	}
	*out = v;
	*n = cnt;
	return 0;
}

static bool
master_fd_in(const int *v, size_t n, int fd)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (v[i] == fd)
			return true;
	return false;
}

/*
 * Children.
 */
static void
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
	size_t			 i, own_lo = 0, own_hi = 0;

	for (i = 0; i < m->nchildren; i++)
		if (m->children[i] != self && m->children[i]->chan_fd != -1)
			close(m->children[i]->chan_fd);
	if (self->kind == MASTER_WORKER) {
		own_lo = (size_t)self->slot * m->nlisten;
		own_hi = own_lo + m->nlisten;
	}
	for (i = 0; i < m->nslots * m->nlisten; i++)
		if ((i < own_lo || i >= own_hi) && m->listen_fds[i] != -1)
			close(m->listen_fds[i]);
	if (self->kind != MASTER_ADMIN && m->admin_fd != -1)
		close(m->admin_fd);
	if (m->pid_fd != -1)
		close(m->pid_fd);
	if (master_ready_fd != -1)
		close(master_ready_fd);
	for (i = 0; i < m->nloop_fds; i++)
		close(m->loop_fds[i]);
}

static void __attribute__((noreturn))
master_child_run(struct master *m, struct master_child *self, int chan)
{
	struct worker_args	 wa;
	struct admin_args	 aa;
	char			 name[32];
	size_t			 i;
	int			 rv;

	/*
	 * The master's signal events are removed from its (copied) base
	 * without touching the shared epoll set, so that the child's own
	 * event loop may take the signals over.
	 */
	for (i = 0; i < BW_ARRAY_LEN(m->sig_ev); i++)
		if (m->sig_ev[i] != NULL)
			event_del(m->sig_ev[i]);
	master_child_signals();
	master_child_close(m, self);
	if (prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0) == -1 ||
	    getppid() != m->pid)
		_exit(3);
	if (m->gen.tls != NULL && m->have_keys &&
	    tls_ticket_keys_set(m->gen.tls, &m->keys) == -1)
		log_warnx("cannot install the session-ticket keys");
	bw_wipe(&m->keys, sizeof(m->keys));
	if (self->kind == MASTER_WORKER) {
		(void)snprintf(name, sizeof(name), "worker %d", self->slot);
		log_set_procname(name);
		memset(&wa, 0, sizeof(wa));
		wa.conf = m->gen.conf;
		wa.id = self->slot;
		wa.generation = (int)self->generation;
		wa.listen_fds = m->slots[self->slot].fds;
		wa.nlisten_fds = m->nlisten;
		wa.chan_fd = chan;
		wa.tls_ctx = m->gen.tls;
		wa.api = m->gen.api;
		wa.db = m->gen.have_db ? &m->gen.db : NULL;
		wa.keys = m->gen.keys;
		rv = worker_main(&wa);
	} else {
		log_set_procname("admin");
		memset(&aa, 0, sizeof(aa));
		aa.conf = m->gen.conf;
		aa.listen_fd = m->admin_fd;
		aa.chan_fd = chan;
		aa.tls_ctx = m->gen.admin_tls;
		rv = admin_main(&aa);
	}
	/*
	 * exit, not _exit: sanitizer builds check the child for leaks at
	 * exit.  The master has written nothing to stdio buffers that a
	 * child could flush a second time.
	 */
	exit(rv);
}

static void	 master_chan_cb(evutil_socket_t, short, void *);

/*
 * Forks one child.  Signals are blocked across fork so that none reaches
 * the master's handlers in the child before they are reset.
 */
static struct master_child *
master_spawn(struct master *m, enum master_kind kind, int slot)
{
	struct master_child	*c;
	sigset_t		 all, old;
	int			 fds[2], fl;
	pid_t			 pid;

	if (m->nchildren >= m->maxchildren) {
		log_errorx("too many children (%zu)", m->nchildren);
		return NULL;
	}
	if (chan_pair(fds) == -1) {
		log_errorx("channel: %s", strerror(errno));
		return NULL;
	}
	c = bw_calloc(1, sizeof(*c));
	c->kind = kind;
	c->slot = slot;
	c->generation = m->generation;
	c->chan_fd = -1;
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, &old);
	pid = fork();
	if (pid == 0) {
		close(fds[0]);
		master_child_run(m, c, fds[1]);
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	close(fds[1]);
	if (pid == -1) {
		log_errorx("fork: %s", strerror(errno));
		close(fds[0]);
		free(c);
		return NULL;
	}
	c->pid = pid;
	c->chan_fd = fds[0];
	if ((fl = fcntl(fds[0], F_GETFL)) != -1)
		fcntl(fds[0], F_SETFL, fl | O_NONBLOCK);
	c->chan_ev = event_new(m->base, fds[0], EV_READ | EV_PERSIST,
	    master_chan_cb, m);
	if (c->chan_ev == NULL || event_add(c->chan_ev, NULL) == -1)
		log_errorx("cannot watch the channel of pid %ld", (long)pid);
	m->children[m->nchildren++] = c;
	if (kind == MASTER_WORKER)
		log_info("worker %d started (pid %ld, generation %u)", slot,
		    (long)pid, c->generation);
	else
		log_info("admin listener started (pid %ld)", (long)pid);
	return c;
}

static void
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

static void
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

static uint32_t
master_ready_count(const struct master *m)
{
	uint32_t	 n = 0;
	size_t		 s;

	for (s = 0; s < m->nslots; s++)
		if (m->slots[s].child != NULL && m->slots[s].child->ready)
			n++;
	return n;
}

static void
master_send_health(struct master *m)
{
	struct chan_health	 h;

	if (m->admin == NULL)
		return;
	h.workers = (uint32_t)m->nslots;
	h.ready = master_ready_count(m);
	master_send(m->admin, CHAN_HEALTH, &h, sizeof(h));
}

static void
master_report_ready(void)
{
	char	 c = 'R';

	if (master_ready_fd == -1)
		return;
	if (write(master_ready_fd, &c, 1) != 1)
		log_warnx("cannot report readiness to the parent");
	close(master_ready_fd);
	master_ready_fd = -1;
}

/*
 * Every current-generation worker serves: first start-up or the end of a
 * reload.  The old generations drain now, and the admin listener of the
 * previous configuration is replaced.
 */
static void
master_all_ready(struct master *m)
{
	struct master_child	*c;
	size_t			 i;

	for (i = 0; i < m->nchildren; i++) {
		c = m->children[i];
		if (c->kind == MASTER_WORKER && c->generation != m->generation)
			master_drain_child(c);
	}
	if (m->reloading && m->admin != NULL &&
	    m->admin->generation != m->generation) {
		master_drain_child(m->admin);
		m->admin = NULL;
		master_spawn_admin(m);
	}
	if (!m->started || m->reloading) {
		log_notice("serving with %zu workers (generation %u)",
		    m->nslots, m->generation);
		notify_status("serving: %zu workers, generation %u",
		    m->nslots, m->generation);
		notify_ready();
		master_report_ready();
	}
	m->started = true;
	m->reloading = false;
}

static void
master_child_ready(struct master *m, struct master_child *c)
{
	if (c->ready)
		return;
	c->ready = true;
	if (c->kind != MASTER_WORKER || c->generation != m->generation ||
	    m->stopping)
		return;
	master_send_health(m);
	if (master_ready_count(m) == m->nslots)
		master_all_ready(m);
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

static void
master_chan_close(struct master_child *c)
{
	if (c->chan_ev != NULL) {
		event_free(c->chan_ev);
		c->chan_ev = NULL;
	}
	if (c->chan_fd != -1) {
		close(c->chan_fd);
		c->chan_fd = -1;
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
		rv = chan_recv(fd, &type, m->msg, sizeof(m->msg), &len);
		if (rv == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (rv == 0 || (rv == -1 && errno != EBADMSG &&
		    errno != EMSGSIZE)) {
			/* The child is gone (or going): its exit is reaped. */
			master_chan_close(c);
			return;
		}
		if (rv == -1) {
			log_errorx("pid %ld sent a malformed message (%s): "
			    "killed", (long)c->pid, strerror(errno));
			master_chan_close(c);
			kill(c->pid, SIGKILL);
			return;
		}
		switch (type) {
		case CHAN_READY:
			master_child_ready(m, c);
			break;
		case CHAN_STATS:
			break;
		default:
			log_errorx("pid %ld sent message type %u: killed",
			    (long)c->pid, (unsigned)type);
			master_chan_close(c);
			kill(c->pid, SIGKILL);
			return;
		}
	}
}

static void
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

static void
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

static void
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

static void
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
		bw_strlcpy(who, "admin listener", sizeof(who));
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

static void
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
	if (current && !c->draining && !m->stopping) {
		master_send_health(m);
		master_crashed(m, c, s);
	}
	free(c);
	if (m->stopping && m->nchildren == 0)
		event_base_loopbreak(m->base);
	else if (m->reload_pending &&
	    master_generations(m) < MASTER_MAX_GENERATIONS)
		master_reload(m);
}

/*
 * Stopping.
 */
static void
master_kill_cb(evutil_socket_t fd, short what, void *arg)
{
	struct master	*m = arg;
	size_t		 i;

	(void)fd;
	(void)what;
	for (i = 0; i < m->nchildren; i++) {
		log_warnx("pid %ld still running after shutdown_timeout: "
		    "killed", (long)m->children[i]->pid);
		kill(m->children[i]->pid, SIGKILL);
	}
}

static void
master_stop(struct master *m, int status)
{
	struct timeval		 tv;
	size_t			 s;

	if (m->stopping)
		return;
	m->stopping = true;
	m->exit_status = status;
	notify_stopping();
	log_notice("stopping: draining %zu children", m->nchildren);
	for (s = 0; s < m->nchildren; s++)
		master_drain_child(m->children[s]);
	for (s = 0; s < m->nslots; s++)
		evtimer_del(m->slots[s].restart_ev);
	/* Workers close theirs too: new connections are refused at once. */
	master_close_fds(m->listen_fds, m->nslots * m->nlisten);
	if (m->admin_fd != -1) {
		close(m->admin_fd);
		m->admin_fd = -1;
	}
	bw_ms_to_tv(m->gen.conf->server.shutdown_timeout_ms +
	    MASTER_DRAIN_MARGIN_MS, &tv);
	evtimer_add(m->kill_ev, &tv);
	if (m->nchildren == 0)
		event_base_loopbreak(m->base);
}

/*
 * Reload.
 */
static SSL_CTX *
master_admin_tls(const struct conf *conf, const char **err)
{
	struct conf_tls	 t;

	if (conf->admin == NULL || !conf->admin->tls)
		return NULL;
	memset(&t, 0, sizeof(t));
	t.certificate = conf->admin->certificate;
	t.private_key = conf->admin->private_key;
	t.profile = TLS_PROFILE_INTERMEDIATE;
	t.client_ca = conf->admin->client_ca;
	t.client_verify = CLIENT_VERIFY_REQUIRED;
	return tls_ctx_new(&t, NULL, 0, err);
}

static void
master_gen_free(struct master_gen *g)
{
	api_free(g->api);
	keys_set_free(g->keys);
	if (g->have_db)
		dbconf_free(&g->db);
	tls_ctx_free(g->tls);
	tls_ctx_free(g->admin_tls);
	conf_free(g->conf);
	memset(g, 0, sizeof(*g));
}

/*
 * Builds a generation from a loaded configuration (which g then owns):
 * what -t checks, then the routes, then (with a database) every statement
 * prepared.  A database that cannot be reached is not an error: routes
 * answer 503 until it can.  Returns 0, or -1 after printing every problem
 * (g is then empty and conf freed).
 */
static int
master_gen_build(struct conf *conf, struct master_gen *g)
{
	struct bw_diag		 diag = { 0 };
	const char		*err = NULL, *errpath = NULL;
	enum dbconf_check	 db = DBCONF_OK;
	bool			 bad;

	memset(g, 0, sizeof(*g));
	g->conf = conf;
	conf_check_available(conf, &diag);
	if (!conf->server.plaintext && (g->tls = tls_ctx_new(&conf->server.tls,
	    conf->server.hostnames, conf->server.nhostnames, &err)) == NULL)
		bw_diag_add(&diag, conf->file, 1, 1, "TLS: %s", err);
	if (conf->admin != NULL && conf->admin->tls &&
	    (g->admin_tls = master_admin_tls(conf, &err)) == NULL)
		bw_diag_add(&diag, conf->file, 1, 1, "admin TLS: %s", err);
	if (master_check_rlimit(conf, &err) == -1)
		bw_diag_add(&diag, conf->file, 1, 1, "%s", err);
	if (conf->auth != NULL && (g->keys = keys_set_load(conf, &err,
	    &errpath)) == NULL)
		bw_diag_add(&diag, conf->file, 1, 1, "%s: %s", errpath != NULL ?
		    errpath : "auth keys", err);
	if (diag.errors == 0)
		g->api = api_load(conf, &diag);
	bad = g->api == NULL;
	if (!bad && conf->database != NULL) {
		if (dbconf_build(conf, &g->db, &err) == -1) {
			bw_diag_add(&diag, conf->file,
			    conf->database->conninfo_pos.line,
			    conf->database->conninfo_pos.col, "%s", err);
			bad = true;
		} else {
			g->have_db = true;
			db = dbconf_check(conf, g->api, &diag);
		}
	}
	bw_diag_print(&diag, stderr);
	bw_diag_free(&diag);
	if (db == DBCONF_UNREACHABLE)
		log_warnx("the database cannot be reached: statements not "
		    "checked; routes answer 503 until it can be");
	if (bad || db == DBCONF_INVALID) {
		master_gen_free(g);
		return -1;
	}
	return 0;
}

static unsigned
master_generations(const struct master *m)
{
	unsigned	 lo = m->generation;
	size_t		 i;

	for (i = 0; i < m->nchildren; i++)
		if (m->children[i]->generation < lo)
			lo = m->children[i]->generation;
	return m->generation - lo + 1;
}

static void
master_reload(struct master *m)
{
	struct bw_diag		 diag = { 0 };
	struct master_gen	 next, old;
	struct conf		*conf;
	SSL_CTX			*t;
	enum log_level		 level;
	const char		*err = NULL;
	bool			 admin_kept;
	size_t			 s;

	if (m->stopping)
		return;
	if (master_generations(m) >= MASTER_MAX_GENERATIONS) {
		log_warnx("reload deferred: %u generations still running",
		    master_generations(m));
		m->reload_pending = true;
		return;
	}
	m->reload_pending = false;
	notify_reloading();
	log_notice("reloading %s", m->config_path);
	conf = conf_load(m->config_path, &diag);
	bw_diag_print(&diag, stderr);
	bw_diag_free(&diag);
	if (conf == NULL || master_gen_build(conf, &next) == -1) {
		log_errorx("reload failed: the configuration is invalid; "
		    "still serving the previous one");
		notify_status("reload failed: serving the previous "
		    "configuration");
		notify_ready();
		return;
	}
	/* A kept admin section keeps its TLS context too. */
	admin_kept = master_admin_differ(m->gen.conf->admin, next.conf->admin);
	master_keep_restart_keys(m->gen.conf, next.conf);
	if (admin_kept) {
		t = m->gen.admin_tls;
		m->gen.admin_tls = next.admin_tls;
		next.admin_tls = t;
	}
	if (master_raise_rlimit(next.conf, &err) == -1)
		log_warnx("reload: %s", err);
	if (log_level_parse(next.conf->logging.level, &level) == 0)
		log_set_level(level);
	old = m->gen;
	m->gen = next;
	audit_writer_conf(m->gen.conf);
	m->generation++;
	m->reloading = true;
	for (s = 0; s < m->nslots; s++) {
		evtimer_del(m->slots[s].restart_ev);
		master_spawn_slot(m, s);
	}
	/* Children hold their own copy; the master no longer needs it. */
	master_gen_free(&old);
	master_send_health(m);
}

static void
master_reopen(struct master *m)
{
	size_t	 i;

	log_info("reopening log files");
	audit_writer_reopen();
	if (log_access_reopen() == -1)
		log_warnx("cannot reopen the access log: %s", strerror(errno));
	/*
	 * Workers run as a user that may not open the log file: the master
	 * hands them the descriptor it just opened.
	 */
	for (i = 0; i < m->nchildren; i++) {
		struct master_child	*c = m->children[i];

		if (c->chan_fd != -1 && chan_send_fd(c->chan_fd,
		    CHAN_REOPEN_LOGS, NULL, 0, c->kind == MASTER_WORKER ?
		    log_access_fd() : -1) == -1 &&
		    errno != EPIPE && errno != ECONNRESET)
			log_warnx("channel to pid %ld: %s", (long)c->pid,
			    strerror(errno));
	}
}

static void
master_rotate_keys(evutil_socket_t fd, short what, void *arg)
{
	struct master	*m = arg;
	size_t		 i;

	(void)fd;
	(void)what;
	if (!m->have_keys || tls_ticket_keys_rotate(&m->keys) == -1) {
		log_warnx("cannot rotate the session-ticket keys");
		return;
	}
	for (i = 0; i < m->nchildren; i++)
		if (m->children[i]->kind == MASTER_WORKER)
			master_send(m->children[i], CHAN_TICKET_KEYS, &m->keys,
			    sizeof(m->keys));
	log_info("session-ticket keys rotated");
}

static void
master_signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct master	*m = arg;
	int		 status;
	pid_t		 pid;

	(void)what;
	switch (sig) {
	case SIGTERM:
	case SIGINT:
		if (m->stopping)
			log_info("already stopping");
		master_stop(m, 0);
		break;
	case SIGHUP:
		master_reload(m);
		break;
	case SIGUSR1:
		master_reopen(m);
		break;
	case SIGCHLD:
		while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
			if (!audit_writer_reaped(pid, status))
				master_reap(m, pid, status);
		break;
	}
}

/*
 * Pid file: created (never its directory), locked for the master's life
 * so that a second daemon on the same file fails clearly, removed at exit.
 */
static int
master_pid_write(struct master *m, const char **err)
{
	static char	 ebuf[512];
	char		 buf[32];
	int		 fd, n;

	if (m->gen.conf->server.pid_file == NULL)
		return 0;
	fd = open(m->gen.conf->server.pid_file, O_WRONLY | O_CREAT | O_NOFOLLOW |
	    O_CLOEXEC, 0644);
	if (fd == -1) {
		(void)snprintf(ebuf, sizeof(ebuf), "pid file %s: %s",
		    m->gen.conf->server.pid_file, strerror(errno));
		*err = ebuf;
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		(void)snprintf(ebuf, sizeof(ebuf), "pid file %s is locked: "
		    "another bulwarkd is running", m->gen.conf->server.pid_file);
		*err = ebuf;
		close(fd);
		return -1;
	}
	n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) == -1 || write(fd, buf, (size_t)n) != n) {
		(void)snprintf(ebuf, sizeof(ebuf), "pid file %s: %s",
		    m->gen.conf->server.pid_file, strerror(errno));
		*err = ebuf;
		close(fd);
		return -1;
	}
	m->pid_fd = fd;
	m->pid_path = bw_strdup(m->gen.conf->server.pid_file);
	return 0;
}

static void
master_pid_remove(struct master *m)
{
	if (m->pid_fd == -1)
		return;
	if (unlink(m->pid_path) == -1)
		log_warnx("cannot remove %s: %s", m->pid_path, strerror(errno));
	close(m->pid_fd);
	m->pid_fd = -1;
	free(m->pid_path);
	m->pid_path = NULL;
}

/*
 * Set-up and tear-down.
 */
static int
master_events(struct master *m)
{
	static const int	 sigs[] = {
		SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGCHLD,
	};
	struct event_config	*cfg;
	struct timeval		 tv;
	int			*before = NULL, *after = NULL;
	size_t			 nb = 0, na = 0, i;

	if (master_fd_list(&before, &nb) == -1)
		return -1;
	if ((cfg = event_config_new()) == NULL) {
		free(before);
		return -1;
	}
	event_config_set_flag(cfg, EVENT_BASE_FLAG_NOLOCK);
	m->base = event_base_new_with_config(cfg);
	event_config_free(cfg);
	if (m->base == NULL) {
		free(before);
		return -1;
	}
	for (i = 0; i < BW_ARRAY_LEN(sigs); i++) {
		m->sig_ev[i] = evsignal_new(m->base, sigs[i], master_signal_cb,
		    m);
		if (m->sig_ev[i] == NULL || event_add(m->sig_ev[i], NULL) == -1)
			goto fail;
	}
	m->ticket_ev = event_new(m->base, -1, EV_PERSIST, master_rotate_keys,
	    m);
	m->kill_ev = evtimer_new(m->base, master_kill_cb, m);
	m->admin_restart_ev = evtimer_new(m->base, master_admin_restart_cb, m);
	if (m->ticket_ev == NULL || m->kill_ev == NULL ||
	    m->admin_restart_ev == NULL)
		goto fail;
	bw_ms_to_tv(MASTER_TICKET_ROTATE_MS, &tv);
	if (event_add(m->ticket_ev, &tv) == -1)
		goto fail;
	for (i = 0; i < m->nslots; i++) {
		m->slots[i].restart_ev = evtimer_new(m->base, master_restart_cb,
		    m);
		if (m->slots[i].restart_ev == NULL)
			goto fail;
	}
	if (master_fd_list(&after, &na) == -1)
		goto fail;
	m->loop_fds = bw_calloc(na > 0 ? na : 1, sizeof(int));
	for (i = 0; i < na; i++)
		if (!master_fd_in(before, nb, after[i]))
			m->loop_fds[m->nloop_fds++] = after[i];
	free(before);
	free(after);
	return 0;
fail:
	free(before);
	free(after);
	return -1;
}

static void
master_free(struct master *m)
{
	size_t	 i;

	for (i = 0; i < m->nchildren; i++) {
		master_chan_close(m->children[i]);
		free(m->children[i]);
	}
	free(m->children);
	for (i = 0; m->slots != NULL && i < m->nslots; i++)
		if (m->slots[i].restart_ev != NULL)
			event_free(m->slots[i].restart_ev);
	for (i = 0; i < BW_ARRAY_LEN(m->sig_ev); i++)
		if (m->sig_ev[i] != NULL)
			event_free(m->sig_ev[i]);
	if (m->ticket_ev != NULL)
		event_free(m->ticket_ev);
	if (m->kill_ev != NULL)
		event_free(m->kill_ev);
	if (m->admin_restart_ev != NULL)
		event_free(m->admin_restart_ev);
	if (m->base != NULL)
		event_base_free(m->base);
	if (m->listen_fds != NULL)
		master_close_fds(m->listen_fds, m->nslots * m->nlisten);
	if (m->admin_fd != -1)
		close(m->admin_fd);
	master_pid_remove(m);
	bw_wipe(&m->keys, sizeof(m->keys));
	bw_wipe(m->msg, sizeof(m->msg));
	free(m->listen_fds);
	free(m->slots);
	free(m->loop_fds);
	master_gen_free(&m->gen);
	free(m);
}

static int
master_setup(struct master *m, struct conf *conf)
{
	const struct conf	*c;
	const char		*err = NULL;
	size_t			 s;

	if (master_gen_build(conf, &m->gen) == -1)
		return 1;
	c = m->gen.conf;
	if (master_raise_rlimit(c, &err) == -1) {
		log_errorx("%s", err);
		return 3;
	}
	m->nslots = c->server.workers;
	m->nlisten = c->server.nlisten;
	m->listen_fds = bw_calloc(m->nslots * m->nlisten + 1, sizeof(int));
	if (master_listen_open(c->server.listen, m->nlisten, m->nslots,
	    m->listen_fds, &err) == -1) {
		log_errorx("%s", err);
		free(m->listen_fds);
		m->listen_fds = NULL;
		return 3;
	}
	m->slots = bw_calloc(m->nslots, sizeof(*m->slots));
	m->maxchildren = MASTER_MAX_GENERATIONS * (m->nslots + 1);
	m->children = bw_calloc(m->maxchildren, sizeof(*m->children));
	for (s = 0; s < m->nslots; s++)
		m->slots[s].fds = &m->listen_fds[s * m->nlisten];
	if (c->admin != NULL && (m->admin_fd = master_listen_socket(
	    (const struct sockaddr *)&c->admin->listen.addr,
	    c->admin->listen.addrlen, 0, &err)) == -1) {
		log_errorx("admin: %s", err);
		return 3;
	}
	if (tls_ticket_keys_generate(&m->keys) == -1) {
		log_errorx("cannot generate session-ticket keys");
		return 3;
	}
	m->have_keys = true;
	if (master_pid_write(m, &err) == -1) {
		log_errorx("%s", err);
		return 3;
	}
	if (master_events(m) == -1) {
		log_errorx("cannot set up the event loop");
		return 3;
	}
	return 0;
}

static void
master_log_listeners(const struct master *m)
{
	struct sockaddr_storage	 ss;
	socklen_t		 sl;
	char			 addr[80];
	size_t			 i;

	memset(&ss, 0, sizeof(ss));
	for (i = 0; i < m->nlisten; i++) {
		sl = sizeof(ss);
		if (getsockname(m->listen_fds[i], (struct sockaddr *)&ss,
		    &sl) == -1)
			continue;
		master_addr_text((struct sockaddr *)&ss, addr, sizeof(addr));
		log_notice("listening on %s (%zu sockets)", addr, m->nslots);
	}
	if (m->admin_fd != -1) {
		sl = sizeof(ss);
		if (getsockname(m->admin_fd, (struct sockaddr *)&ss, &sl) == 0) {
			master_addr_text((struct sockaddr *)&ss, addr,
			    sizeof(addr));
			log_notice("admin listener on %s", addr);
		}
	}
}

int
master_run(const char *config_path, struct conf *conf)
{
	struct master	*m;
	const char	*err = NULL;
	size_t		 s;
	int		 rv;

	(void)signal(SIGPIPE, SIG_IGN);
	if (notify_init(&err) == -1)
		log_warnx("sd_notify: %s", err);
	m = bw_calloc(1, sizeof(*m));
	m->config_path = config_path;
	m->pid = getpid();
	m->admin_fd = -1;
	m->pid_fd = -1;
	m->generation = 1;
	if ((rv = master_setup(m, conf)) != 0) {
		master_free(m);
		return rv;
	}
	master_log_listeners(m);
	if (audit_writer_start(m->gen.conf, m->base, &err) == -1) {
		log_errorx("%s", err);
		master_free(m);
		return 3;
	}
	notify_status("starting %zu workers", m->nslots);
	for (s = 0; s < m->nslots && !m->stopping; s++)
		master_spawn_slot(m, s);
	if (!m->stopping)
		master_spawn_admin(m);
	if (event_base_dispatch(m->base) == -1) {
		log_errorx("event loop failed");
		m->exit_status = 3;
	}
	rv = m->exit_status;
	audit_writer_stop();
	log_notice("stopped");
	master_free(m);
	return rv;
}

/*
 * -d.  The original process exits (it is not the daemon) once the daemon
 * reports readiness or dies; only the daemon returns.  The working
 * directory is kept: a relative -c path (or relative paths in the
 * configuration) must still resolve on SIGHUP.
 */
int
master_daemonize(void)
{
	pid_t	 pid;
	int	 p[2], fd, status;
	char	 c;
	ssize_t	 n;

	if (pipe2(p, O_CLOEXEC) == -1)
		return -1;
	if ((pid = fork()) == -1) {
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid > 0) {
		close(p[1]);
		do {
			n = read(p[0], &c, 1);
		} while (n == -1 && errno == EINTR);
		waitpid(pid, &status, 0);
		_exit(n == 1 && c == 'R' ? 0 : 3);
	}
	close(p[0]);
	if (setsid() == -1)
		_exit(3);
	if ((pid = fork()) == -1)
		_exit(3);
	if (pid > 0)
		_exit(0);
	if ((fd = open("/dev/null", O_RDWR | O_CLOEXEC)) != -1) {
		dup2(fd, STDIN_FILENO);
		dup2(fd, STDOUT_FILENO);
		if (fd > STDERR_FILENO)
			close(fd);
	}
	master_ready_fd = p[1];
	return 0;
}
