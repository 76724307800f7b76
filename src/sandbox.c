/*
 * sandbox.c - privilege drop and seccomp for the network-facing children.
 *
 * Threat model: a worker (or the admin listener) parses attacker bytes and
 * must be assumed compromisable.  Once sandbox_worker() returned 0 such a
 * process runs as server.user/server.group with no supplementary group and
 * no capability, cannot regain privileges (NO_NEW_PRIVS, and a verified
 * failure of setuid(0) after a drop), leaves no core file, cannot be
 * ptrace'd by its own user (not dumpable), and can make only the system
 * calls below.  In particular it cannot execve, fork (clone is admitted
 * only with CLONE_THREAD), ptrace, map executable memory, open a file for
 * anything but reading (no write access, no O_CREAT, O_TRUNC or O_APPEND:
 * the master opens and reopens the access log and passes the descriptor),
 * create sockets other than unix/IPv4/IPv6, or send signals to anything
 * but itself.
 *
 * Order matters: the identity is dropped first (setgroups, setresgid,
 * setresuid, each verified), then the process-wide hardening, then the
 * filter with SCMP_FLTATR_CTL_TSYNC so that threads started earlier (the
 * argon2 pool) are covered too.  clone3 answers ENOSYS, which makes glibc
 * fall back to clone, whose flags a filter can inspect.
 *
 * Capabilities are per thread, and the argon2 threads exist before the
 * drop: capset() would clear the calling thread's only.  glibc applies a
 * change of ids to every thread, and the kernel clears a thread's
 * permitted, effective and ambient capabilities when a change of ids
 * leaves uid 0 behind in all three ids.  So a service user holding
 * CAP_SETUID (systemd AmbientCapabilities=, not root) first takes 0 as its
 * saved uid, then sets all three ids at once; every thread is then read
 * back from /proc/self/task (a thread with SECBIT_KEEP_CAPS would keep
 * them: that fails the check).  (Without this, the threads kept CAP_SETUID,
 * the verifying setuid(0) succeeded in them and failed in the caller, and
 * glibc aborted the worker.)
 *
 * The filter needs the seccomp() system call (SECCOMP_RET_KILL_PROCESS
 * and TSYNC exist only there); a supervisor's filter that denies it (a
 * systemd SystemCallFilter= without `seccomp`) makes libseccomp believe
 * the kernel lacks it.  That is reported as such and is fatal like any
 * other failure to install the filter.
 *
 * Unprivileged runs: when the process is neither root nor holds
 * CAP_SETUID and CAP_SETGID, it cannot change its identity; it then goes on
 * as it is with a warning (a developer's run), and still hardens itself
 * and loads the filter.  A configured root user is refused.
 */
#include <sys/mman.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"
#include "sandbox.h"
#include "util.h"

/* Buffer for getpwnam_r/getgrnam_r. */
#define SANDBOX_PWBUF	16384

/* The open(2) flags a worker's openat must have clear (O_RDONLY is 0). */
#define SANDBOX_OPEN_MASK	(O_ACCMODE | O_CREAT | O_TRUNC | O_APPEND)

/* libseccomp's API level with seccomp(2), KILL_PROCESS and TSYNC. */
#define SANDBOX_API_MIN	3

/*
 * System calls a worker makes after start-up: the event loop (epoll,
 * timers), sockets it was handed or accepts, connections to PostgreSQL and
 * syslog, memory management, threads already created (futex), time and
 * randomness, signals to itself, and writes to descriptors it holds (the
 * access log the master passed, stderr).  Names that do not exist on the
 * running architecture are skipped.  Calls admitted only in a narrow form
 * (openat, socket, ioctl, prlimit64, clone, mmap, mprotect, tgkill, prctl)
 * are in sandbox_allow_args() and sandbox_allow_strict().  A full TLS
 * handshake's signature (tlskey.h) needs nothing new: sendmsg, recvmsg and
 * poll, all in the list already, on the signing pair the worker was
 * handed before the filter went on.
 */
static const char *const sandbox_allow[] = {
	"read", "write", "readv", "writev", "pread64", "close", "lseek",
	"fstat", "newfstatat", "statx", "fcntl", "dup",
	"epoll_create1", "epoll_ctl", "epoll_wait", "epoll_pwait",
	"epoll_pwait2", "poll", "ppoll", "select", "pselect6",
	"accept4", "connect", "shutdown", "sendto", "recvfrom", "sendmsg",
	"recvmsg", "sendmmsg", "getsockopt", "setsockopt", "getsockname",
	"getpeername",
	"clock_gettime", "clock_getres", "gettimeofday", "time", "getrandom",
	"futex", "set_robust_list", "get_robust_list", "rseq",
	"munmap", "mremap", "brk", "madvise",
	"rt_sigreturn", "rt_sigprocmask", "rt_sigaction", "sigaltstack",
	"restart_syscall", "exit", "exit_group",
	"pipe2", "eventfd2", "timerfd_create", "timerfd_settime",
	"timerfd_gettime",
	"sched_yield", "sched_getaffinity", "nanosleep", "clock_nanosleep",
	"getpid", "gettid", "getppid", "getuid", "geteuid", "getgid",
	"getegid", "getresuid", "getresgid", "getgroups",
	"uname", "sysinfo",
};

/*
 * Sanitizer builds only: LeakSanitizer stops the process at exit with a
 * tracer task (clone without CLONE_THREAD, ptrace, waitpid).  Admitted so
 * that sanitizer test runs keep their leak reports; never in a release.
 */
#if defined(__SANITIZE_ADDRESS__)
#define SANDBOX_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANDBOX_SANITIZER 1
#endif
#endif

#ifdef SANDBOX_SANITIZER
static const char *const sandbox_allow_san[] = {
	"clone", "ptrace", "wait4", "prctl", "getdents", "getdents64", "open",
	"openat",
	"readlink", "mprotect", "mmap", "tgkill", "kill",
};
#endif

static int
sandbox_has_setid_caps(void)
{
	struct __user_cap_header_struct	 hdr;
	struct __user_cap_data_struct	 data[2];
	uint32_t			 need;

	memset(&hdr, 0, sizeof(hdr));
	memset(data, 0, sizeof(data));
	hdr.version = _LINUX_CAPABILITY_VERSION_3;
	hdr.pid = 0;
	if (syscall(SYS_capget, &hdr, data) == -1)
		return 0;
	need = (1u << CAP_SETUID) | (1u << CAP_SETGID);
	return (data[0].effective & need) == need;
}

/*
 * Workers need no capability.  A change of ids from root clears them, but
 * one from a service user that holds CAP_SETUID (systemd
 * AmbientCapabilities=) does not: they are cleared here, ambient set
 * included, and the result is read back.
 */
static int
sandbox_caps_clear(const char **err)
{
	struct __user_cap_header_struct	 hdr;
	struct __user_cap_data_struct	 data[2];

	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) == -1 &&
	    errno != EINVAL) {
		*err = "cannot clear the ambient capabilities";
		return -1;
	}
	memset(&hdr, 0, sizeof(hdr));
	memset(data, 0, sizeof(data));
	hdr.version = _LINUX_CAPABILITY_VERSION_3;
	if (syscall(SYS_capset, &hdr, data) == -1) {
		*err = "cannot drop capabilities";
		return -1;
	}
	memset(data, 0xff, sizeof(data));
	if (syscall(SYS_capget, &hdr, data) == -1 ||
	    data[0].effective != 0 || data[0].permitted != 0 ||
	    data[0].inheritable != 0 || data[1].effective != 0 ||
	    data[1].permitted != 0 || data[1].inheritable != 0) {
		*err = "capabilities remain after dropping them";
		return -1;
	}
	return 0;
}

static int
sandbox_verify(uid_t uid, gid_t gid, const char **err)
{
	uid_t	 ru, eu, su;
	gid_t	 rg, eg, sg, groups[2];
	int	 n;

	if (getresuid(&ru, &eu, &su) == -1 || ru != uid || eu != uid ||
	    su != uid) {
		*err = "user ids did not change as requested";
		return -1;
	}
	if (getresgid(&rg, &eg, &sg) == -1 || rg != gid || eg != gid ||
	    sg != gid) {
		*err = "group ids did not change as requested";
		return -1;
	}
	n = getgroups(2, groups);
	if (n < 0 || n > 1 || (n == 1 && groups[0] != gid)) {
		*err = "supplementary groups were not dropped";
		return -1;
	}
	if (setuid(0) != -1 || setgid(0) != -1) {
		*err = "root privileges could be regained after the drop";
		return -1;
	}
	return 0;
}

/* A status line "Uid:\treal\teffective\tsaved\tfs": all four are uid. */
static int
sandbox_uid_line(const char *p, uid_t uid)
{
	char		*end;
	unsigned long	 v;
	int		 i;

	for (i = 0; i < 4; i++) {
		errno = 0;
		v = strtoul(p, &end, 10);
		if (end == p || errno != 0 || v != (unsigned long)uid)
			return -1;
		p = end;
	}
	return *p == '\0' ? 0 : -1;
}

/*
 * One thread's status: every user id is uid and no capability remains
 * permitted, effective or ambient.  0 when so, -1 otherwise.
 */
static int
sandbox_thread_check(int dfd, const char *tid, uid_t uid)
{
	char		 path[64], buf[4096], *line, *save = NULL;
	int		 seen = 0;

	if (snprintf(path, sizeof(path), "%s/status", tid) >=
	    (int)sizeof(path) || bw_read_text(dfd, path, 0, buf,
	    sizeof(buf)) == -1)
		return -1;
	for (line = strtok_r(buf, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "Uid:", 4) == 0) {
			if (sandbox_uid_line(line + 4, uid) == -1)
				return -1;
			seen++;
		} else if (strncmp(line, "CapPrm:", 7) == 0 ||
		    strncmp(line, "CapEff:", 7) == 0 ||
		    strncmp(line, "CapAmb:", 7) == 0) {
			if (strspn(line + 7, " \t0") != strlen(line + 7))
				return -1;
			seen++;
		}
	}
	return seen == 4 ? 0 : -1;
}

/* Every thread of the process has dropped (see the top of the file). */
static int
sandbox_threads_verify(uid_t uid, const char **err)
{
	DIR		*d;
	struct dirent	*de;
	int		 rv = 0, n = 0;

	if ((d = opendir("/proc/self/task")) == NULL) {
		*err = "cannot read /proc/self/task to verify every thread";
		return -1;
	}
	while (rv == 0 && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		n++;
		if (sandbox_thread_check(dirfd(d), de->d_name, uid) == -1) {
			*err = "a thread kept its ids or capabilities after "
			    "the drop";
			rv = -1;
		}
	}
	closedir(d);
	if (rv == 0 && n == 0) {
		*err = "no thread found in /proc/self/task";
		rv = -1;
	}
	return rv;
}

int
sandbox_drop_ids(uid_t uid, gid_t gid, const char **err)
{
	uid_t	 ru, eu, su;
	gid_t	 rg, eg, sg;

	if (uid == 0 || gid == 0) {
		*err = "refusing to run a network-facing process as root "
		    "(server.user/server.group)";
		return -1;
	}
	if (getresuid(&ru, &eu, &su) == -1 || getresgid(&rg, &eg, &sg) == -1) {
		*err = "cannot read the current ids";
		return -1;
	}
	if (ru == uid && eu == uid && su == uid && rg == gid && eg == gid &&
	    sg == gid) {
		*err = "already running as the configured user and group";
		return 1;
	}
	if (eu != 0 && !sandbox_has_setid_caps()) {
		*err = "not privileged to change user: continuing as the "
		    "current user";
		return 1;
	}
	if (setgroups(1, &gid) == -1) {
		*err = "setgroups failed";
		return -1;
	}
	if (setresgid(gid, gid, gid) == -1) {
		*err = "setresgid failed";
		return -1;
	}
	if (eu != 0 && su != 0 && setresuid(-1, -1, 0) == -1) {
		*err = "cannot take saved uid 0 to clear every thread's "
		    "capabilities";
		return -1;
	}
	if (setresuid(uid, uid, uid) == -1) {
		*err = "setresuid failed";
		return -1;
	}
	if (sandbox_caps_clear(err) == -1)
		return -1;
	if (sandbox_threads_verify(uid, err) == -1)
		return -1;
	if (sandbox_verify(uid, gid, err) == -1)
		return -1;
	/* A change of credentials clears the parent-death signal. */
	if (prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0) == -1) {
		*err = "cannot set the parent-death signal";
		return -1;
	}
	return 0;
}

int
sandbox_drop(const char *user, const char *group, const char **err)
{
	struct passwd	 pw, *pwp = NULL;
	struct group	 gr, *grp = NULL;
	char		*buf;
	uid_t		 uid;
	gid_t		 gid;

	if (user == NULL) {
		*err = "no server.user configured";
		return -1;
	}
	buf = bw_malloc(SANDBOX_PWBUF);
	if (getpwnam_r(user, &pw, buf, SANDBOX_PWBUF, &pwp) != 0 ||
	    pwp == NULL) {
		free(buf);
		*err = "server.user does not exist";
		return -1;
	}
	uid = pw.pw_uid;
	gid = pw.pw_gid;
	if (group != NULL) {
		if (getgrnam_r(group, &gr, buf, SANDBOX_PWBUF, &grp) != 0 ||
		    grp == NULL) {
			free(buf);
			*err = "server.group does not exist";
			return -1;
		}
		gid = gr.gr_gid;
	}
	free(buf);
	return sandbox_drop_ids(uid, gid, err);
}

int
sandbox_harden(const char **err)
{
	struct rlimit	 rl = { 0, 0 };

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1) {
		*err = "PR_SET_NO_NEW_PRIVS failed";
		return -1;
	}
	if (setrlimit(RLIMIT_CORE, &rl) == -1) {
		*err = "cannot set RLIMIT_CORE to 0";
		return -1;
	}
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == -1) {
		*err = "PR_SET_DUMPABLE failed";
		return -1;
	}
	return sandbox_caps_clear(err);
}

static int
sandbox_rule(scmp_filter_ctx ctx, uint32_t action, const char *name,
    unsigned n, const struct scmp_arg_cmp *cmp)
{
	int	 nr;

	if ((nr = seccomp_syscall_resolve_name(name)) == __NR_SCMP_ERROR ||
	    nr < 0)
		return 0;
	return seccomp_rule_add_array(ctx, action, nr, n, cmp);
}

static int
sandbox_allow_list(scmp_filter_ctx ctx, const char *const *names, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (sandbox_rule(ctx, SCMP_ACT_ALLOW, names[i], 0, NULL) != 0)
			return -1;
	return 0;
}

/*
 * Rules that look at arguments.  Each admits a narrow form of a call; any
 * other form meets the default action.
 */
static int
sandbox_allow_args(scmp_filter_ctx ctx)
{
	struct scmp_arg_cmp c[2];
	int		 rv = 0;

	/* Unix, IPv4 and IPv6 sockets (PostgreSQL, syslog). */
	c[0] = SCMP_A0(SCMP_CMP_EQ, AF_UNIX);
	rv |= sandbox_rule(ctx, SCMP_ACT_ALLOW, "socket", 1, c);
	c[0] = SCMP_A0(SCMP_CMP_EQ, AF_INET);
	rv |= sandbox_rule(ctx, SCMP_ACT_ALLOW, "socket", 1, c);
	c[0] = SCMP_A0(SCMP_CMP_EQ, AF_INET6);
	rv |= sandbox_rule(ctx, SCMP_ACT_ALLOW, "socket", 1, c);
	/* FIONREAD/FIONBIO; isatty() learns it is not a terminal. */
	c[0] = SCMP_A1(SCMP_CMP_EQ, FIONREAD);
	rv |= sandbox_rule(ctx, SCMP_ACT_ALLOW, "ioctl", 1, c);
	c[0] = SCMP_A1(SCMP_CMP_EQ, FIONBIO);
	rv |= sandbox_rule(ctx, SCMP_ACT_ALLOW, "ioctl", 1, c);
	c[0] = SCMP_A1(SCMP_CMP_EQ, TCGETS);
	rv |= sandbox_rule(ctx, SCMP_ACT_ERRNO(ENOTTY), "ioctl", 1, c);
	/* Reading limits, never setting them. */
	c[0] = SCMP_A0(SCMP_CMP_EQ, 0);
	c[1] = SCMP_A2(SCMP_CMP_EQ, 0);
	rv |= sandbox_rule(ctx, SCMP_ACT_ALLOW, "prlimit64", 2, c);
	/* glibc falls back to clone, whose flags the filter can inspect. */
	rv |= sandbox_rule(ctx, SCMP_ACT_ERRNO(ENOSYS), "clone3", 0, NULL);
	return rv == 0 ? 0 : -1;
}

#ifndef SANDBOX_SANITIZER
/* Narrow forms of the calls that sanitizer builds admit whole. */
static int
sandbox_allow_strict(scmp_filter_ctx ctx)
{
	const pid_t	 self = getpid();
	struct scmp_arg_cmp c[1];
	int		 rv = 0;

	/* Threads only: a fork or a new namespace is never a worker's. */
	c[0] = SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD);
	rv |= sandbox_rule(ctx, SCMP_ACT_ALLOW, "clone", 1, c);
	/* No executable mappings after start-up. */
	c[0] = SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0);
	rv |= sandbox_rule(ctx, SCMP_ACT_ALLOW, "mmap", 1, c);
	rv |= sandbox_rule(ctx, SCMP_ACT_ALLOW, "mprotect", 1, c);
	/*
	 * Read-only opens: libpq reopens the files its conninfo names
	 * (passfile, sslrootcert...) and the resolver's files when it
	 * reconnects.  Nothing is created, truncated or opened for writing
	 * or appending (O_TMPFILE needs write access); glibc's open() is
	 * openat, and open, creat and openat2 stay forbidden.
	 */
	c[0] = SCMP_A2(SCMP_CMP_MASKED_EQ, SANDBOX_OPEN_MASK, O_RDONLY);
	rv |= sandbox_rule(ctx, SCMP_ACT_ALLOW, "openat", 1, c);
	/* Signals to itself only (abort, raise). */
	c[0] = SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)self);
	rv |= sandbox_rule(ctx, SCMP_ACT_ALLOW, "tgkill", 1, c);
	/* Thread names only. */
	c[0] = SCMP_A0(SCMP_CMP_EQ, PR_SET_NAME);
	rv |= sandbox_rule(ctx, SCMP_ACT_ALLOW, "prctl", 1, c);
	return rv == 0 ? 0 : -1;
}
#endif

int
sandbox_seccomp(enum conf_seccomp mode, const char **err)
{
	scmp_filter_ctx	 ctx;
	uint32_t	 def;
	int		 rv;

	if (mode == SECCOMP_OFF)
		return 0;
	def = mode == SECCOMP_LOG ? SCMP_ACT_LOG : SCMP_ACT_KILL_PROCESS;
	if (seccomp_api_get() < SANDBOX_API_MIN) {
		*err = "the seccomp() system call is unavailable: the kernel "
		    "lacks it or a supervisor's filter denies it (systemd: "
		    "add seccomp to SystemCallFilter=)";
		return -1;
	}
	if ((ctx = seccomp_init(def)) == NULL) {
		*err = "seccomp_init failed";
		return -1;
	}
	if (seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1) != 0 ||
	    seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 1) != 0) {
		seccomp_release(ctx);
		*err = "cannot set the seccomp filter attributes";
		return -1;
	}
	rv = sandbox_allow_list(ctx, sandbox_allow,
	    sizeof(sandbox_allow) / sizeof(sandbox_allow[0]));
	if (rv == 0)
		rv = sandbox_allow_args(ctx);
#ifdef SANDBOX_SANITIZER
	if (rv == 0)
		rv = sandbox_allow_list(ctx, sandbox_allow_san,
		    sizeof(sandbox_allow_san) / sizeof(sandbox_allow_san[0]));
#else
	if (rv == 0)
		rv = sandbox_allow_strict(ctx);
#endif
	if (rv != 0) {
		seccomp_release(ctx);
		*err = "cannot build the seccomp allow-list";
		return -1;
	}
	rv = seccomp_load(ctx);
	seccomp_release(ctx);
	if (rv != 0) {
		*err = "cannot load the seccomp filter";
		return -1;
	}
	return 0;
}

int
sandbox_worker(const struct conf *conf)
{
	const char	*err = NULL;
	int		 rv;

	rv = sandbox_drop(conf->server.user, conf->server.group, &err);
	if (rv == -1) {
		log_errorx("sandbox: %s: %s", conf->server.user != NULL ?
		    conf->server.user : "(none)", err);
		return -1;
	}
	if (rv == 1)
		log_warnx("sandbox: %s (uid %ld), not %s", err,
		    (long)getuid(), conf->server.user);
	if (sandbox_harden(&err) == -1) {
		log_errorx("sandbox: %s", err);
		return -1;
	}
	if (conf->seccomp == SECCOMP_OFF)
		log_warnx("sandbox: security.seccomp is off");
	if (sandbox_seccomp(conf->seccomp, &err) == -1) {
		log_errorx("sandbox: %s", err);
		return -1;
	}
	return 0;
}
