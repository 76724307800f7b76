/*
 * master.c - the supervising process: set-up, signals, the run loop, the
 * pid file and -d.
 *
 * The master binds every listening socket once, for its whole life
 * (master_gen.c), forks the workers and the admin listener and supervises
 * them (master_child.c), and reloads by starting a new generation
 * (master_gen.c).  This file ties them together: resource limits, the
 * event loop and its signal events, stopping, and the pid file.
 *
 * Threat model: workers face the network and may be compromised.  The
 * master trusts nothing they send (master_child.c).  Children receive no
 * descriptor of the master beyond their own: the event loop's descriptors
 * are recorded here (master_events) so that every child closes them right
 * after fork.  The master holds the session-ticket keys, wiped at exit.
 *
 * Signals are libevent events: SIGTERM/SIGINT stop (drain, then SIGKILL
 * after server.shutdown_timeout + 5 s, exit 0), SIGHUP reloads, SIGUSR1
 * reopens logs, SIGCHLD reaps.
 */
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <jansson.h>

#include "audit_writer.h"
#include "backup.h"
#include "backup_sched.h"
#include "balance.h"
#include "keymgr.h"
#include "chan.h"
#include "conf.h"
#include "log.h"
#include "master.h"
#include "master_int.h"
#include "metrics.h"
#include "notify.h"
#include "ratelimit.h"
#include "tls.h"
#include "tlskey.h"
#include "util.h"

int	 master_ready_fd = -1;

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
 * The time of the last successful backup, for /metrics: the admin
 * listener cannot read the backup directory, and a manual --backup run
 * does not tell the master, so the master looks every MASTER_METRICS_MS.
 */
static void
master_metrics_cb(evutil_socket_t fd, short what, void *arg)
{
	struct master		*m = arg;
	const struct conf	*c = m->gen.conf;

	(void)fd;
	(void)what;
	if (c != NULL && c->backup != NULL)
		metrics_backup_set(backup_last_success(c->backup->directory));
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

void
master_stop(struct master *m, int status)
{
	struct timeval		 tv;
	size_t			 s;

	if (m->stopping)
		return;
	m->stopping = true;
	m->exit_status = status;
	notify_stopping();
	master_gen_check_stop(m);
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
			if (!audit_writer_reaped(pid, status) &&
			    !keymgr_reaped(pid, status) &&
			    !master_gen_check_reaped(m, pid, status) &&
			    !backup_sched_reaped(m->backup, pid, status))
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

/*
 * Every child of the master (a worker, the admin listener, the audit
 * writer, a backup, a reload's check) starts with a copy of the master's
 * event base and its signal events.  libevent lets one base per process
 * hold signals, so a child that adds its own would first be warned off;
 * the child drops the copies at fork instead.  event_del of a signal
 * event restores the signal's handler and leaves the shared epoll set
 * alone.
 */
static struct master	*master_signals_of;

static void
master_signals_drop(void)
{
	size_t	 i;

	if (master_signals_of == NULL)
		return;
	for (i = 0; i < BW_ARRAY_LEN(master_signals_of->sig_ev); i++)
		if (master_signals_of->sig_ev[i] != NULL)
			event_del(master_signals_of->sig_ev[i]);
	master_signals_of = NULL;
}

static int
master_signals_add(struct master *m)
{
	static const int	 sigs[] = {
		SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGCHLD,
	};
	static bool		 hooked;
	size_t			 i;

	if (!hooked && pthread_atfork(NULL, NULL, master_signals_drop) != 0)
		return -1;
	hooked = true;
	master_signals_of = m;
	for (i = 0; i < BW_ARRAY_LEN(sigs); i++) {
		m->sig_ev[i] = evsignal_new(m->base, sigs[i], master_signal_cb,
		    m);
		if (m->sig_ev[i] == NULL || event_add(m->sig_ev[i], NULL) == -1)
			return -1;
	}
	return 0;
}

static int
master_events(struct master *m)
{
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
	if (master_signals_add(m) == -1)
		goto fail;
	m->ticket_ev = event_new(m->base, -1, EV_PERSIST, master_rotate_keys,
	    m);
	m->kill_ev = evtimer_new(m->base, master_kill_cb, m);
	m->metrics_ev = event_new(m->base, -1, EV_PERSIST, master_metrics_cb,
	    m);
	m->admin_restart_ev = evtimer_new(m->base, master_admin_restart_cb, m);
	if (m->ticket_ev == NULL || m->kill_ev == NULL ||
	    m->admin_restart_ev == NULL || m->metrics_ev == NULL)
		goto fail;
	bw_ms_to_tv(MASTER_TICKET_ROTATE_MS, &tv);
	if (event_add(m->ticket_ev, &tv) == -1)
		goto fail;
	master_metrics_cb(-1, 0, m);
	bw_ms_to_tv(MASTER_METRICS_MS, &tv);
	if (event_add(m->metrics_ev, &tv) == -1)
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

	keymgr_stop();
	for (i = 0; i < m->nchildren; i++) {
		master_child_free(m->children[i]);
	}
	free(m->children);
	for (i = 0; m->slots != NULL && i < m->nslots; i++)
		if (m->slots[i].restart_ev != NULL)
			event_free(m->slots[i].restart_ev);
	master_signals_of = NULL;
	for (i = 0; i < BW_ARRAY_LEN(m->sig_ev); i++)
		if (m->sig_ev[i] != NULL)
			event_free(m->sig_ev[i]);
	if (m->ticket_ev != NULL)
		event_free(m->ticket_ev);
	if (m->kill_ev != NULL)
		event_free(m->kill_ev);
	if (m->metrics_ev != NULL)
		event_free(m->metrics_ev);
	if (m->admin_restart_ev != NULL)
		event_free(m->admin_restart_ev);
	backup_sched_free(m->backup);
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
	balance_free(m->balance);
	free(m->slots);
	free(m->loop_fds);
	master_gen_check_free(m);
	master_gen_free(&m->gen);
	free(m);
}

static int
master_setup(struct master *m, struct conf *conf)
{
	const struct conf	*c;
	const char		*err = NULL;
	struct metrics		*mt;
	size_t			 s;

	if (tlskey_init() == -1) {
		log_errorx("cannot load the TLS key provider");
		return 3;
	}
	if (master_gen_build(conf, &m->gen) == -1)
		return 1;
	/* Per-process tables would multiply every limit by the workers. */
	if (ratelimit_shared_new() == -1)
		return 3;
	if (metrics_instance() == NULL) {
		if ((mt = metrics_shared_new()) == NULL) {
			log_errorx("metrics: cannot map a shared table: %s",
			    strerror(errno));
			return 3;
		}
		metrics_set_instance(mt);
	}
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
	if (m->nslots > 1 && (m->balance = balance_new(m->nslots)) == NULL) {
		log_errorx("cannot map the workers' connection table: %s",
		    strerror(errno));
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
	keymgr_conf(m->gen.conf);
	keymgr_attach(m->base, master_keymgr_reply, m);
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

/*
 * config.load, config.reload, config.reload_failed (SPEC 9): the file and
 * the generation serving.  A record the writer does not take is logged.
 */
void
master_audit_config(struct master *m, const char *event)
{
	json_t		*d;
	const char	*err = NULL;

	d = json_pack("{s:s,s:I}", "file", m->config_path, "generation",
	    (json_int_t)m->generation);
	if (audit_writer_event(event, d, &err) == -1)
		log_warnx("%s: not recorded in the audit log: %s", event, err);
	json_decref(d);
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
	m->check_pid = -1;
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
	master_audit_config(m, "config.load");
	m->backup = backup_sched_new(m->base, m->gen.conf);
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
