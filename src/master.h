/*
 * master.h - the supervising process (SPEC 3 signals, SPEC 11): listening
 * sockets, worker and admin children, reloads, ticket keys, pid file and
 * the systemd readiness protocol.
 */
#ifndef BW_MASTER_H
#define BW_MASTER_H

#include <sys/socket.h>

#include <stddef.h>
#include <stdint.h>

#include "conf.h"

#define MASTER_LISTEN_BACKLOG	511
/*
 * Crash loop: more than MASTER_CRASH_MAX abnormal exits of one worker slot
 * (or of the admin listener) within the window.  The restart delay after
 * the n-th recent crash is 0, then MASTER_BACKOFF_MIN_MS doubling (100,
 * 200, 400, 800 ms): a real loop is detected within about two seconds.
 */
#define MASTER_CRASH_MAX	5
#define MASTER_CRASH_WINDOW_MS	10000
#define MASTER_BACKOFF_MIN_MS	100
/* Beyond server.shutdown_timeout before stragglers get SIGKILL. */
#define MASTER_DRAIN_MARGIN_MS	5000
#define MASTER_TICKET_ROTATE_MS	3600000
#define MASTER_METRICS_MS	1000	/* backup time for /metrics */
/* Descriptors beyond the computed need (logs, syslog, resolver, ...). */
#define MASTER_NOFILE_MARGIN	64
/* Generations alive at once (serving + draining); more: reload refused. */
#define MASTER_MAX_GENERATIONS	3

/*
 * Serves until SIGTERM/SIGINT or a fatal condition; returns the process
 * exit status (0 graceful stop, 1 configuration error at start, 3 runtime
 * failure or crash loop).  Takes ownership of conf (and frees it).
 */
int	 master_run(const char *config_path, struct conf *conf);

/*
 * -d: detach (fork, setsid, fork).  The original process waits until the
 * daemon reports that every worker serves, then exits 0 — or exits 3 when
 * the daemon ended before that.  Returns 0 in the daemon, -1 on failure
 * (nothing forked).  stdin and stdout go to /dev/null; stderr is kept for
 * the log.
 */
int	 master_daemonize(void);
/*
 * In a child just forked from the master: the master's signal handlers
 * back to their defaults and no signal blocked.
 */
void	 master_child_signals(void);

/*
 * RLIMIT_NOFILE (SPEC 11).  The limit is per process: each worker needs
 * server.limits.max_connections client sockets plus its listeners,
 * database connections and a margin; the master needs every worker's
 * listening sockets and channels for MASTER_MAX_GENERATIONS generations.
 * The larger of the two is the need.  master_check_rlimit fails when the
 * hard limit is below it (-t); master_raise_rlimit raises the soft limit.
 */
uint64_t master_nofile_need(const struct conf *);
int	 master_check_rlimit(const struct conf *, const char **err);
int	 master_raise_rlimit(const struct conf *, const char **err);

/*
 * One listening socket: non-blocking, close-on-exec, SO_REUSEADDR,
 * SO_REUSEPORT when reuseport, IPV6_V6ONLY for IPv6, backlog 511.  Returns
 * the descriptor or -1 with *err (a static text naming the address).
 */
int	 master_listen_socket(const struct sockaddr *, socklen_t,
	    int reuseport, const char **err);
/*
 * nslots SO_REUSEPORT sockets for every server.listen entry, into
 * fds[slot * nlisten + i].  Port 0 is resolved once and the same port is
 * used by every slot.  A port on which another socket already listens is
 * refused, even one with SO_REUSEPORT (a second daemon must not share it).
 * Returns 0, or -1 with every socket closed.
 */
int	 master_listen_open(const struct conf_listen *, size_t nlisten,
	    size_t nslots, int *fds, const char **err);

/*
 * Crash accounting: the times of the latest crashes of one slot.
 * master_crash_record returns the delay in ms before the replacement
 * starts, or -1 when this crash makes more than MASTER_CRASH_MAX within
 * MASTER_CRASH_WINDOW_MS (a crash loop: the daemon stops with exit 3).
 */
struct master_crashes {
	int64_t		 when[MASTER_CRASH_MAX + 1];
	size_t		 n;
	size_t		 next;
};

int64_t	 master_crash_record(struct master_crashes *, int64_t now_ms);

/*
 * Keys that need a restart (SPEC 3): server.user, group, workers, listen,
 * pid_file, security.seccomp, and the admin listener's address.  Where
 * next differs from cur, the value of cur is moved into next (so next
 * keeps serving with what runs) and a warning is logged.  Returns the
 * number of keys kept.
 */
int	 master_keep_restart_keys(struct conf *cur, struct conf *next);

#endif
