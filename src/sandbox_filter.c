/*
 * sandbox_filter.c - the seccomp allow-lists of bulwark's processes
 * (sandbox.h): one per role, each the smallest set of system calls that
 * role makes once its set-up is done; everything else meets the default
 * action (security.seccomp: enforce kills the process, log lets it pass
 * and logs it, off loads nothing).  Identity and process hardening are
 * sandbox.c's.
 *
 * Roles and what each filter leaves them:
 *  - worker, admin listener (SANDBOX_WORKER): face the network.  The
 *    event loop, sockets it was handed or accepts, connections to
 *    PostgreSQL, threads (clone with CLONE_THREAD only), read-only opens
 *    (libpq reopens the files its conninfo names), no execve, no fork, no
 *    executable mappings, signals to itself only.
 *  - key manager (SANDBOX_KEYMGR): holds the JWT signing keys, speaks
 *    only to the master over its SOCK_SEQPACKET channel, in a blocking
 *    loop (no event loop).  Its channel (recvmsg, sendmsg), stderr
 *    (write), memory without PROT_EXEC, clocks, getrandom, exit: no open
 *    of any kind, no socket, connect, execve, fork or clone.  OpenSSL's
 *    lazy initialisation (configuration file, providers, the DRBG) is done
 *    before the filter (keymgr_sandbox.c), so nothing opens a file later.
 *  - audit writer (SANDBOX_AUDIT): appends to and syncs audit.file,
 *    reopens it (SIGUSR1, after a removal), serves its control socket on
 *    an event loop and reconnects to PostgreSQL.  Opens are read-only, or
 *    exactly the two forms audit_file.c uses for the audit file
 *    (AUDIT_FILE_FLAGS, creating with O_CREAT | O_EXCL and mode 0600 only:
 *    never O_TRUNC, never a directory or O_TMPFILE); sockets are unix,
 *    IPv4 or IPv6 (libpq, the resolver); unlink only of files (its control
 *    socket at exit); no execve, fork or clone, no executable mappings.
 *
 * What a filter cannot bound: seccomp sees numbers, not the memory that
 * pointers lead to, so no rule can check a path or a socket address.  The
 * audit writer may open for appending any file its user may write with
 * AUDIT_FILE_FLAGS (not only audit.file), unlink any file its user may
 * remove and connect anywhere; the file system permissions of the
 * service user, and the unit's ReadWritePaths=, bound those.  The key
 * manager has nothing of the kind to bound: it opens nothing.
 *
 * Residual risk: code a library loads on its first use (an NSS module for
 * a host or user lookup, a GSSAPI plugin of libpq) needs an executable
 * mapping.  The audit writer tries its first database connection before
 * its filter so that such loads happen then; one that first happens
 * later kills it (SIGSYS under enforce) and the master restarts it.
 *
 * Sanitizer builds (ASan, LeakSanitizer) admit the calls LeakSanitizer's
 * exit check makes (a tracer task, ptrace, reading /proc) in every role,
 * and with them mmap, mprotect, openat and tgkill whole; never in a
 * release build.  Names that do not exist on the running architecture are
 * skipped.
 */
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <seccomp.h>
#include <stddef.h>
#include <stdint.h>
#include <termios.h>
#include <unistd.h>

#include "audit_file.h"
#include "conf.h"
#include "sandbox.h"
#include "util.h"

/* The open(2) flags a read-only openat must have clear (O_RDONLY is 0). */
#define SANDBOX_OPEN_MASK	(O_ACCMODE | O_CREAT | O_TRUNC | O_APPEND)

/* The flags that must match AUDIT_FILE_FLAGS exactly in a write open. */
#define SANDBOX_AUDIT_MASK	(SANDBOX_OPEN_MASK | O_EXCL | O_NOFOLLOW | \
				    O_DIRECTORY)

/* libseccomp's API level with seccomp(2), KILL_PROCESS and TSYNC. */
#define SANDBOX_API_MIN	3

/*
 * System calls a worker makes after start-up: the event loop (epoll,
 * timers), sockets it was handed or accepts, connections to PostgreSQL and
 * syslog, memory management, threads already created (futex), time and
 * randomness, signals to itself, and writes to descriptors it holds (the
 * access log the master passed, stderr).  Calls admitted only in a narrow
 * form (openat, socket, ioctl, prlimit64, clone, mmap, mprotect, tgkill,
 * prctl) are in sandbox_filter_worker_args() and
 * sandbox_filter_worker_strict().  A full TLS handshake's signature
 * (tlskey.h) adds nothing: sendmsg, recvmsg and poll, in the list already,
 * on the signing pair the worker was handed before its filter went on.
 */
static const char *const sandbox_filter_worker[] = {
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
 * The key manager, after keymgr_sandbox.c's warm-up, in keymgr_main()'s
 * loop: chan_recv (recvmsg) and chan_send (sendmsg) on its channel, the
 * one descriptor it has; write for diagnostics on stderr (log.c: one
 * write(2) per line, with getpid and the clock for the line); close, of
 * descriptors it holds, for OpenSSL's clean-up at exit; getrandom for
 * ECDSA's nonce (OpenSSL's DRBG reseeds from it after fork); brk, munmap,
 * mremap, madvise for malloc and OpenSSL's allocations; rt_sigreturn and
 * restart_syscall, the kernel's side of a signal (the operator stopping
 * and continuing it), rt_sigprocmask for abort(); exit and exit_group.
 * mmap (no PROT_EXEC) and tgkill (itself) are in
 * sandbox_filter_keymgr_strict().  It has no event loop (a blocking
 * recvmsg) and no thread: no epoll, futex or clone.
 */
static const char *const sandbox_filter_keymgr[] = {
	"recvmsg", "sendmsg", "write", "close",
	"getrandom", "clock_gettime", "gettimeofday", "time", "getpid",
	"brk", "munmap", "mremap", "madvise",
	"rt_sigreturn", "rt_sigprocmask", "restart_syscall",
	"exit", "exit_group",
};

/*
 * The audit writer after audit_writer_setup() (its key read, the file
 * open and locked, the control socket listening, the event loop built):
 *  - its event loop (libevent, epoll backend, signals through a socket
 *    pair it writes): epoll_ctl, epoll_wait, epoll_pwait, epoll_pwait2;
 *  - the control socket: accept4, getsockopt (SO_PEERCRED) and geteuid
 *    for the peer check, recvfrom and sendto (recv, send) on
 *    connections, read and write on descriptors it holds, close;
 *  - the audit file (audit_file.c): pread64 and lseek for the tail,
 *    write and writev for appends, ftruncate to cut a torn or failed
 *    write, fdatasync, flock, fstat, newfstatat and statx (the owner of
 *    its directory when root creates it), fchown (only as root: the new
 *    file gets its directory's owner), fstatfs (free space), nanosleep
 *    and clock_nanosleep (waiting for the lock);
 *  - PostgreSQL (libpq, reconnecting after an outage) and the resolver:
 *    connect, getsockname, getpeername, setsockopt, poll, ppoll,
 *    sendmsg, recvmsg, sendmmsg, fcntl (non-blocking descriptors),
 *    getuid (libpq's default user) and what every process needs: clocks,
 *    getrandom (TLS to PostgreSQL), memory without PROT_EXEC, signal
 *    return and masks, exit; rt_sigaction because libevent puts back
 *    the dispositions of SIGTERM and SIGUSR1 when it frees their events
 *    at exit.
 * Calls admitted only in a narrow form (openat, socket, ioctl, unlink,
 * mmap, tgkill; prlimit64 reading only, as for workers) are in
 * sandbox_filter_audit_args() and sandbox_filter_audit_strict().
 */
static const char *const sandbox_filter_audit[] = {
	"epoll_ctl", "epoll_wait", "epoll_pwait", "epoll_pwait2",
	"accept4", "getsockopt", "recvfrom", "sendto", "read", "write",
	"close", "geteuid", "getuid",
	"pread64", "lseek", "writev", "ftruncate", "fdatasync", "flock",
	"fstat", "newfstatat", "statx", "fchown", "fstatfs",
	"nanosleep", "clock_nanosleep",
	"connect", "getsockname", "getpeername", "setsockopt", "poll",
	"ppoll", "sendmsg", "recvmsg", "sendmmsg", "fcntl",
	"clock_gettime", "clock_getres", "gettimeofday", "time", "getrandom",
	"getpid", "brk", "munmap", "mremap", "madvise",
	"rt_sigreturn", "rt_sigprocmask", "rt_sigaction", "restart_syscall",
	"exit", "exit_group",
};

/*
 * Sanitizer builds only: LeakSanitizer stops the process at exit with a
 * tracer task (clone without CLONE_THREAD, ptrace, waitpid), reads
 * /proc/self (openat, getdents, readlink) and synchronises with it
 * (futex, sched_yield, sigaltstack, rt_sigaction, gettid).  Admitted so
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
static const char *const sandbox_filter_san[] = {
	"clone", "ptrace", "wait4", "prctl", "getdents", "getdents64", "open",
	"openat",
	"readlink", "mprotect", "mmap", "tgkill", "kill",
};

/* What the worker's list has and the others' lack. */
static const char *const sandbox_filter_san_more[] = {
	"futex", "sched_yield", "sigaltstack", "rt_sigaction", "gettid",
	"getppid", "read", "lseek", "fstat", "newfstatat", "close",
};
#endif

static int
sandbox_filter_rule(scmp_filter_ctx ctx, uint32_t action, const char *name,
    unsigned n, const struct scmp_arg_cmp *cmp)
{
	int	 nr;

	if ((nr = seccomp_syscall_resolve_name(name)) == __NR_SCMP_ERROR ||
	    nr < 0)
		return 0;
	return seccomp_rule_add_array(ctx, action, nr, n, cmp);
}

static int
sandbox_filter_list(scmp_filter_ctx ctx, const char *const *names, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (sandbox_filter_rule(ctx, SCMP_ACT_ALLOW, names[i], 0,
		    NULL) != 0)
			return -1;
	return 0;
}

/*
 * What libpq and the resolver need: unix, IPv4 and IPv6 sockets, and
 * FIONREAD/FIONBIO (isatty() learns it is not a terminal).
 */
static int
sandbox_filter_net(scmp_filter_ctx ctx)
{
	static const int	 families[] = { AF_UNIX, AF_INET, AF_INET6 };
	struct scmp_arg_cmp	 c[1];
	size_t			 i;
	int			 rv = 0;

	for (i = 0; i < BW_ARRAY_LEN(families); i++) {
		c[0] = SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)families[i]);
		rv |= sandbox_filter_rule(ctx, SCMP_ACT_ALLOW, "socket", 1, c);
	}
	c[0] = SCMP_A1(SCMP_CMP_EQ, FIONREAD);
	rv |= sandbox_filter_rule(ctx, SCMP_ACT_ALLOW, "ioctl", 1, c);
	c[0] = SCMP_A1(SCMP_CMP_EQ, FIONBIO);
	rv |= sandbox_filter_rule(ctx, SCMP_ACT_ALLOW, "ioctl", 1, c);
	c[0] = SCMP_A1(SCMP_CMP_EQ, TCGETS);
	rv |= sandbox_filter_rule(ctx, SCMP_ACT_ERRNO(ENOTTY), "ioctl", 1, c);
	return rv;
}

/*
 * Rules that look at arguments.  Each admits a narrow form of a call; any
 * other form meets the default action.
 */
static int
sandbox_filter_worker_args(scmp_filter_ctx ctx)
{
	struct scmp_arg_cmp c[2];
	int		 rv;

	rv = sandbox_filter_net(ctx);
	/* Reading limits, never setting them. */
	c[0] = SCMP_A0(SCMP_CMP_EQ, 0);
	c[1] = SCMP_A2(SCMP_CMP_EQ, 0);
	rv |= sandbox_filter_rule(ctx, SCMP_ACT_ALLOW, "prlimit64", 2, c);
	/* glibc falls back to clone, whose flags the filter can inspect. */
	rv |= sandbox_filter_rule(ctx, SCMP_ACT_ERRNO(ENOSYS), "clone3", 0,
	    NULL);
	return rv;
}

/*
 * The audit writer's argument rules are the worker's (libpq and the
 * resolver are the same code, and it too may only read its limits and
 * gets ENOSYS from clone3); unlink removes its control socket at exit
 * (unlinkat only without AT_REMOVEDIR: never a directory).
 */
static int
sandbox_filter_audit_args(scmp_filter_ctx ctx)
{
	struct scmp_arg_cmp c = SCMP_A2(SCMP_CMP_EQ, 0);
	int		 rv;

	rv = sandbox_filter_worker_args(ctx);
	rv |= sandbox_filter_rule(ctx, SCMP_ACT_ALLOW, "unlink", 0, NULL);
	return rv | sandbox_filter_rule(ctx, SCMP_ACT_ALLOW, "unlinkat", 1,
	    &c);
}

#ifndef SANDBOX_SANITIZER
/* No executable mappings after start-up (mmap, mprotect when asked). */
static int
sandbox_filter_noexec(scmp_filter_ctx ctx, int with_mprotect)
{
	struct scmp_arg_cmp c[1];
	int		 rv;

	c[0] = SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0);
	rv = sandbox_filter_rule(ctx, SCMP_ACT_ALLOW, "mmap", 1, c);
	if (with_mprotect)
		rv |= sandbox_filter_rule(ctx, SCMP_ACT_ALLOW, "mprotect", 1,
		    c);
	return rv;
}

/*
 * Read-only opens: libpq reopens the files its conninfo names (passfile,
 * sslrootcert...) and the resolver's files when it reconnects.  Nothing
 * is created, truncated or opened for writing or appending (O_TMPFILE
 * needs write access); glibc's open() is openat, and open, creat and
 * openat2 stay forbidden.
 */
static int
sandbox_filter_open_readonly(scmp_filter_ctx ctx)
{
	struct scmp_arg_cmp c[1];

	c[0] = SCMP_A2(SCMP_CMP_MASKED_EQ, SANDBOX_OPEN_MASK, O_RDONLY);
	return sandbox_filter_rule(ctx, SCMP_ACT_ALLOW, "openat", 1, c);
}

/* Signals to itself only (abort, raise). */
static int
sandbox_filter_self_signal(scmp_filter_ctx ctx)
{
	struct scmp_arg_cmp c[1];

	c[0] = SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)getpid());
	return sandbox_filter_rule(ctx, SCMP_ACT_ALLOW, "tgkill", 1, c);
}

/* Narrow forms of the calls that sanitizer builds admit whole. */
static int
sandbox_filter_worker_strict(scmp_filter_ctx ctx)
{
	struct scmp_arg_cmp c[1];
	int		 rv;

	/* Threads only: a fork or a new namespace is never a worker's. */
	c[0] = SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD);
	rv = sandbox_filter_rule(ctx, SCMP_ACT_ALLOW, "clone", 1, c);
	rv |= sandbox_filter_noexec(ctx, 1);
	rv |= sandbox_filter_open_readonly(ctx);
	rv |= sandbox_filter_self_signal(ctx);
	/* Thread names only. */
	c[0] = SCMP_A0(SCMP_CMP_EQ, PR_SET_NAME);
	rv |= sandbox_filter_rule(ctx, SCMP_ACT_ALLOW, "prctl", 1, c);
	return rv;
}

/* Single-threaded, no thread ever created: mmap only, not mprotect. */
static int
sandbox_filter_keymgr_strict(scmp_filter_ctx ctx)
{
	return sandbox_filter_noexec(ctx, 0) |
	    sandbox_filter_self_signal(ctx);
}

/*
 * The audit file's two opens (audit_file.c): the existing file with
 * AUDIT_FILE_FLAGS, or a new one with O_CREAT | O_EXCL and mode 0600.
 * O_TRUNC, O_DIRECTORY (and with it O_TMPFILE) and a missing O_NOFOLLOW
 * fail the mask; so does read-write without O_APPEND.
 */
static int
sandbox_filter_audit_strict(scmp_filter_ctx ctx)
{
	const scmp_datum_t	 want = AUDIT_FILE_FLAGS & SANDBOX_AUDIT_MASK;
	struct scmp_arg_cmp	 c[2];
	int			 rv;

	rv = sandbox_filter_noexec(ctx, 0);
	rv |= sandbox_filter_open_readonly(ctx);
	rv |= sandbox_filter_self_signal(ctx);
	c[0] = SCMP_A2(SCMP_CMP_MASKED_EQ, SANDBOX_AUDIT_MASK, want);
	rv |= sandbox_filter_rule(ctx, SCMP_ACT_ALLOW, "openat", 1, c);
	c[0] = SCMP_A2(SCMP_CMP_MASKED_EQ, SANDBOX_AUDIT_MASK,
	    want | O_CREAT | O_EXCL);
	c[1] = SCMP_A3(SCMP_CMP_EQ, AUDIT_FILE_MODE);
	rv |= sandbox_filter_rule(ctx, SCMP_ACT_ALLOW, "openat", 2, c);
	return rv;
}
#endif

/* What one role admits: a list, narrow forms, and forms a sanitizer needs. */
struct sandbox_filter_role {
	const char *const	*names;
	size_t			 nnames;
	int			(*args)(scmp_filter_ctx);
	int			(*strict)(scmp_filter_ctx);
};

#ifdef SANDBOX_SANITIZER
#define SANDBOX_STRICT(fn)	NULL
#else
#define SANDBOX_STRICT(fn)	fn
#endif

static const struct sandbox_filter_role sandbox_filter_roles[] = {
	[SANDBOX_WORKER] = { sandbox_filter_worker,
	    BW_ARRAY_LEN(sandbox_filter_worker), sandbox_filter_worker_args,
	    SANDBOX_STRICT(sandbox_filter_worker_strict) },
	[SANDBOX_KEYMGR] = { sandbox_filter_keymgr,
	    BW_ARRAY_LEN(sandbox_filter_keymgr), NULL,
	    SANDBOX_STRICT(sandbox_filter_keymgr_strict) },
	[SANDBOX_AUDIT] = { sandbox_filter_audit,
	    BW_ARRAY_LEN(sandbox_filter_audit), sandbox_filter_audit_args,
	    SANDBOX_STRICT(sandbox_filter_audit_strict) },
};

static int
sandbox_filter_build(scmp_filter_ctx ctx, enum sandbox_role role)
{
	const struct sandbox_filter_role	*r = &sandbox_filter_roles[role];
	int					 rv;

	rv = sandbox_filter_list(ctx, r->names, r->nnames);
	if (rv == 0 && r->args != NULL)
		rv = r->args(ctx);
#ifdef SANDBOX_SANITIZER
	if (rv == 0)
		rv = sandbox_filter_list(ctx, sandbox_filter_san,
		    BW_ARRAY_LEN(sandbox_filter_san));
	if (rv == 0 && role != SANDBOX_WORKER)
		rv = sandbox_filter_list(ctx, sandbox_filter_san_more,
		    BW_ARRAY_LEN(sandbox_filter_san_more));
#else
	if (rv == 0)
		rv = r->strict(ctx);
#endif
	return rv == 0 ? 0 : -1;
}

int
sandbox_seccomp(enum sandbox_role role, enum conf_seccomp mode,
    const char **err)
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
	if (sandbox_filter_build(ctx, role) == -1) {
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
