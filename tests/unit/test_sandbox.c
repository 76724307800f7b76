/*
 * test_sandbox.c - the seccomp allow-lists (sandbox_filter.c: the
 * workers', the key manager's, the audit writer's) and the privilege drop
 * (sandbox.c), each exercised in a forked child so that a kill by SIGSYS
 * can be observed.  Under the key manager's and the audit writer's
 * filters their real work still runs: a new key parsed and a signature
 * made by the key manager's code (test_keymgr.c runs its whole loop,
 * keymgr_main, filtered), the audit file created, reopened and synced by
 * audit_file.c's and the control socket removed.
 */
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <pwd.h>
#include <seccomp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "unit.h"
#include "audit_file.h"
#include "chan.h"
#include "conf.h"
#include "jwt.h"
#include "keymgr.h"
#include "keys.h"
#include "sandbox.h"
#include "util.h"

#if defined(__SANITIZE_ADDRESS__)
#define TEST_SANITIZER 1
#endif

/* Child exit codes: 0 all good, 10+n the n-th check failed. */
typedef int (*child_fn)(void);

static int
run_child(child_fn fn)
{
	pid_t	 pid;
	int	 status;

	pid = fork();
	ck_assert_int_ne(pid, -1);
	if (pid == 0)
		_exit(fn());
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	return status;
}

/* Whose filter enforce() loads; a test that changes it puts it back. */
static enum sandbox_role	 test_role = SANDBOX_WORKER;

/* The child ran every check: exit code 0 (10 + n: the n-th check failed). */
static void
assert_passes(child_fn fn, const char *what)
{
	int	 status = run_child(fn);

	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "%s: status %#x", what, status);
}

static void
assert_sigsys(child_fn fn, const char *what)
{
	int	 status = run_child(fn);

	ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS,
	    "%s: status %#x, not killed by SIGSYS", what, status);
}

static int
enforce(void)
{
	const char	*err = NULL;

	if (test_role == SANDBOX_KEYMGR)
		return keymgr_confine(SECCOMP_ENFORCE, &err);
	return sandbox_seccomp(test_role, SECCOMP_ENFORCE, &err);
}

static int
child_allowed(void)
{
	int	 p[2];
	char	 c = 'x';
	void	*m;

	if (enforce() != 0)
		return 10;
	if (pipe2(p, O_CLOEXEC) != 0)
		return 11;
	if (write(p[1], &c, 1) != 1 || read(p[0], &c, 1) != 1)
		return 12;
	if (getpid() <= 0)
		return 13;
	m = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED || munmap(m, 4096) != 0)
		return 14;
	if (socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0) < 0)
		return 15;
	if (open("/dev/null", O_RDONLY | O_CLOEXEC) < 0)
		return 16;
	if (open("/etc/passwd", O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_CLOEXEC) < 0)
		return 17;
	/* isatty(): a terminal ioctl answered ENOTTY, not a kill. */
	if (isatty(STDERR_FILENO) != 0)
		return 18;
	return 0;
}

START_TEST(test_allowed_calls)
{
	assert_passes(child_allowed, "allowed");
}
END_TEST

static int
child_execve(void)
{
	char *const	 argv[] = { (char *)"/bin/true", NULL };

	if (enforce() != 0)
		return 10;
	execve("/bin/true", argv, NULL);
	return 11;
}

static int
child_ptrace(void)
{
	if (enforce() != 0)
		return 10;
	ptrace(PTRACE_TRACEME, 0, NULL, NULL);
	return 11;
}

static int
child_netlink(void)
{
	if (enforce() != 0)
		return 10;
	(void)socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, 0);
	return 11;
}

static int
child_fork(void)
{
	if (enforce() != 0)
		return 10;
	if (fork() == 0)
		_exit(0);
	return 11;
}

static int
child_exec_mapping(void)
{
	void	*m;

	if (enforce() != 0)
		return 10;
	m = mmap(NULL, 4096, PROT_READ | PROT_EXEC,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	(void)m;
	return 11;
}

static int
child_mprotect_exec(void)
{
	void	*m;

	m = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return 9;
	if (enforce() != 0)
		return 10;
	(void)mprotect(m, 4096, PROT_READ | PROT_EXEC);
	return 11;
}

static int
child_open_write(void)
{
	if (enforce() != 0)
		return 10;
	(void)open("/dev/null", O_WRONLY | O_TRUNC | O_CLOEXEC);
	return 11;
}

static int
child_open_creat_readonly(void)
{
	if (enforce() != 0)
		return 10;
	(void)open("/tmp/bw-sandbox-never", O_RDONLY | O_CREAT | O_CLOEXEC,
	    0600);
	return 11;
}

/* A path in a fresh directory, to see whether a forbidden open created it. */
#define OPEN_DIR	"/tmp/bw-sandbox-XXXXXX"
static char	 open_dir[sizeof(OPEN_DIR)];
static char	 open_path[sizeof(OPEN_DIR) + 16];

static void
open_dir_new(void)
{
	memcpy(open_dir, OPEN_DIR, sizeof(OPEN_DIR));
	ck_assert_ptr_nonnull(mkdtemp(open_dir));
	snprintf(open_path, sizeof(open_path), "%s/audit.log", open_dir);
}

static int
child_open_mode(int flags, mode_t mode)
{
	if (enforce() != 0)
		return 10;
	(void)open(open_path, flags | O_CLOEXEC, mode);
	return 11;
}

static int
child_open_flags(int flags)
{
	return child_open_mode(flags, 0600);
}

static int
child_open_wronly(void)
{
	return child_open_flags(O_WRONLY);
}

static int
child_open_rdwr(void)
{
	return child_open_flags(O_RDWR);
}

static int
child_open_append(void)
{
	return child_open_flags(O_WRONLY | O_APPEND);
}

static int
child_open_append_creat(void)
{
	return child_open_flags(O_WRONLY | O_APPEND | O_CREAT);
}

static int
child_open_rdonly_trunc(void)
{
	return child_open_flags(O_RDONLY | O_TRUNC);
}

static int
child_open_rdonly_append(void)
{
	return child_open_flags(O_RDONLY | O_APPEND);
}

static int
child_setrlimit(void)
{
	struct rlimit	 rl = { 0, 0 };

	if (enforce() != 0)
		return 10;
	(void)setrlimit(RLIMIT_NOFILE, &rl);
	return 11;
}

static int
child_kill_other(void)
{
	if (enforce() != 0)
		return 10;
	(void)kill(1, 0);
	return 11;
}

START_TEST(test_forbidden_killed)
{
	assert_sigsys(child_execve, "execve");
	assert_sigsys(child_netlink, "socket(AF_NETLINK)");
	assert_sigsys(child_setrlimit, "setrlimit");
}
END_TEST

/*
 * Sanitizer builds admit what LeakSanitizer needs (clone, ptrace, mmap,
 * mprotect, openat whole): there the calls must return instead.
 */
static void
assert_strict(child_fn fn, const char *what)
{
#ifdef TEST_SANITIZER
	int	 status = run_child(fn);

	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 11,
	    "%s: status %#x (sanitizer build admits it)", what, status);
#else
	assert_sigsys(fn, what);
#endif
}

START_TEST(test_forbidden_strict)
{
	assert_strict(child_ptrace, "ptrace");
	assert_strict(child_fork, "fork");
	assert_strict(child_exec_mapping, "mmap(PROT_EXEC)");
	assert_strict(child_mprotect_exec, "mprotect(PROT_EXEC)");
	assert_strict(child_open_creat_readonly, "open(O_RDONLY|O_CREAT)");
	assert_strict(child_open_write, "open(O_WRONLY|O_TRUNC)");
	assert_strict(child_kill_other, "kill(1)");
	unlink("/tmp/bw-sandbox-never");
}
END_TEST

/* An open that must be killed: whether the file exists before. */
struct open_case {
	child_fn	 fn;
	const char	*what;
	int		 exists;
};

/* Each is killed (or returns, sanitizer builds) and leaves the file be. */
static void
assert_open_forms(const struct open_case *t, size_t n)
{
	struct stat	 st;
	size_t		 i;
	int		 fd;

	open_dir_new();
	for (i = 0; i < n; i++) {
		unlink(open_path);
		if (t[i].exists) {
			fd = open(open_path, O_WRONLY | O_CREAT | O_CLOEXEC,
			    0600);
			ck_assert_int_ge(fd, 0);
			ck_assert_int_eq(write(fd, "data", 4), 4);
			close(fd);
		}
		assert_strict(t[i].fn, t[i].what);
#ifndef TEST_SANITIZER
		ck_assert_msg(stat(open_path, &st) == (t[i].exists ? 0 : -1),
		    "%s: file created or removed", t[i].what);
		ck_assert_msg(!t[i].exists || st.st_size == 4,
		    "%s: file changed", t[i].what);
#else
		(void)st;
#endif
	}
	unlink(open_path);
}

/*
 * After start-up a worker opens files for reading only: every open that
 * could write, create, truncate or append is killed, and leaves no file.
 */
START_TEST(test_open_write_forms)
{
	static const struct open_case t[] = {
		{ child_open_wronly, "O_WRONLY", 1 },
		{ child_open_rdwr, "O_RDWR", 1 },
		{ child_open_append, "O_WRONLY|O_APPEND", 1 },
		{ child_open_append_creat, "O_WRONLY|O_APPEND|O_CREAT", 0 },
		{ child_open_creat_readonly, "O_RDONLY|O_CREAT", 0 },
		{ child_open_rdonly_trunc, "O_RDONLY|O_TRUNC", 1 },
		{ child_open_rdonly_append, "O_RDONLY|O_APPEND", 1 },
	};

	assert_open_forms(t, BW_ARRAY_LEN(t));
	rmdir(open_dir);
}
END_TEST

/*
 * When seccomp() is denied (a supervisor's filter answering EPERM, as a
 * systemd unit without `seccomp` in SystemCallFilter= does), installing
 * the filter fails and the caller is told: never a silent run without it.
 */
static int
child_seccomp_denied(void)
{
	scmp_filter_ctx	 ctx;

	if ((ctx = seccomp_init(SCMP_ACT_ALLOW)) == NULL)
		return 9;
	if (seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(seccomp),
	    0) != 0 || seccomp_load(ctx) != 0)
		return 9;
	seccomp_release(ctx);
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_STRICT, 1, NULL) != -1 ||
	    errno != EPERM)
		return 9;
	if (enforce() != -1)
		return 10;
	return 0;
}

/* The API level libseccomp reports without seccomp(2): named as such. */
static int
child_seccomp_api_low(void)
{
	const char	*err = NULL;

	if (seccomp_api_set(1) != 0)
		return 9;
	if (sandbox_seccomp(SANDBOX_WORKER, SECCOMP_ENFORCE, &err) != -1)
		return 10;
	if (err == NULL || strstr(err, "seccomp() system call") == NULL)
		return 11;
	return 0;
}

START_TEST(test_seccomp_denied_fatal)
{
	assert_passes(child_seccomp_denied, "denied");
	assert_passes(child_seccomp_api_low, "api level 1");
}
END_TEST

static int
child_clone3(void)
{
	long	 rv;

	if (enforce() != 0)
		return 10;
	errno = 0;
	rv = syscall(SYS_clone3, NULL, 0);
	if (rv != -1 || errno != ENOSYS)
		return 11;
	return 0;
}

START_TEST(test_clone3_enosys)
{
	assert_passes(child_clone3, "clone3");
}
END_TEST

static void *
thread_forbidden(void *arg)
{
	int	*go = arg;

	while (__atomic_load_n(go, __ATOMIC_ACQUIRE) == 0)
		usleep(1000);
	(void)socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, 0);
	return NULL;
}

/* A thread created before the filter is covered too (TSYNC). */
static int
child_tsync(void)
{
	pthread_t	 t;
	static int	 go;

	if (pthread_create(&t, NULL, thread_forbidden, &go) != 0)
		return 9;
	if (enforce() != 0)
		return 10;
	__atomic_store_n(&go, 1, __ATOMIC_RELEASE);
	pthread_join(t, NULL);
	return 11;
}

START_TEST(test_tsync)
{
	assert_sigsys(child_tsync, "forbidden call in an earlier thread");
}
END_TEST

static void *
thread_noop(void *arg)
{
	return arg;
}

/* New threads still work: glibc falls back from clone3 to clone. */
static int
child_thread_after(void)
{
	static int	 cookie;
	pthread_t	 t;
	void		*r = NULL;

	if (enforce() != 0)
		return 10;
	if (pthread_create(&t, NULL, thread_noop, &cookie) != 0)
		return 11;
	if (pthread_join(t, &r) != 0 || r != &cookie)
		return 12;
	return 0;
}

START_TEST(test_thread_after_filter)
{
	assert_passes(child_thread_after, "thread after");
}
END_TEST

/* Log mode records but does not stop a call outside the list. */
static int
child_log_mode(void)
{
	const char	*err = NULL;
	char		 buf[256];

	if (sandbox_seccomp(SANDBOX_WORKER, SECCOMP_LOG, &err) != 0)
		return 10;
	if (getcwd(buf, sizeof(buf)) == NULL)
		return 11;
	errno = 0;
	if (syscall(SYS_clone3, NULL, 0) != -1 || errno != ENOSYS)
		return 12;
	return 0;
}

START_TEST(test_log_mode)
{
	assert_passes(child_log_mode, "log mode");
}
END_TEST

static int
child_off_mode(void)
{
	const char	*err = NULL;
	char		 buf[256];

	if (sandbox_seccomp(SANDBOX_WORKER, SECCOMP_OFF, &err) != 0)
		return 10;
	if (getcwd(buf, sizeof(buf)) == NULL)
		return 11;
	if (prctl(PR_GET_SECCOMP, 0, 0, 0, 0) != 0)
		return 12;
	return 0;
}

START_TEST(test_off_mode)
{
	assert_passes(child_off_mode, "off mode");
}
END_TEST

/*
 * The key manager: key files arrive after the filter (a reload), so a
 * key of each kind is parsed, its public part encoded and a signature
 * made, through the key manager's own code, after keymgr_confine().
 */
static int
child_keymgr_work(void)
{
	static const char	*kinds[] = { "ed25519", "es256" };
	unsigned char		*pem[2], spki[KEYS_SPKI_MAX], sig[JWT_SIG_MAX];
	struct keys_key		*k;
	const char		*err = NULL;
	size_t			 len[2], n, siglen;
	int			 i;

	for (i = 0; i < 2; i++)
		if ((pem[i] = keys_gen_bytes(kinds[i], &len[i], &err)) == NULL)
			return 9;
	if (keymgr_confine(SECCOMP_ENFORCE, &err) != 0)
		return 10;
	for (i = 0; i < 2; i++) {
		if ((k = keys_key_parse(pem[i], len[i], &err)) == NULL)
			return 11;
		if (keys_key_spki(k, spki, sizeof(spki), &n) != 0)
			return 12;
		if (jwt_sign_bytes(k, "a.b", 3, sig, &siglen) != 0 ||
		    siglen != 64)
			return 13;
		keys_key_free(k);
		free(pem[i]);
	}
	return 0;
}

static int
child_socket_unix(void)
{
	if (enforce() != 0)
		return 10;
	(void)socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	return 11;
}

static int
child_open_devnull(void)
{
	if (enforce() != 0)
		return 10;
	(void)open("/dev/null", O_RDONLY | O_CLOEXEC);
	return 11;
}

START_TEST(test_keymgr_filter)
{
	assert_passes(child_keymgr_work, "parse and sign after the filter");
	test_role = SANDBOX_KEYMGR;
	assert_sigsys(child_socket_unix, "socket(AF_UNIX)");
	assert_sigsys(child_execve, "execve");
	assert_strict(child_open_devnull, "open(O_RDONLY)");
	assert_strict(child_fork, "fork");
	assert_strict(child_exec_mapping, "mmap(PROT_EXEC)");
	test_role = SANDBOX_WORKER;
}
END_TEST

/* A filter that cannot be installed ends the key manager (exit 3). */
static int
child_keymgr_denied(void)
{
	scmp_filter_ctx	 ctx;
	int		 fds[2];

	if ((ctx = seccomp_init(SCMP_ACT_ALLOW)) == NULL ||
	    seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(seccomp),
	    0) != 0 || seccomp_load(ctx) != 0)
		return 9;
	seccomp_release(ctx);
	if (chan_pair(fds) != 0)
		return 9;
	return keymgr_main(fds[1], SECCOMP_ENFORCE) == 3 ? 0 : 10;
}

/* security.seccomp: off loads nothing; log lets a forbidden call pass. */
static int
child_keymgr_modes(void)
{
	const char	*err = NULL;
	int		 fd;

	if (keymgr_confine(SECCOMP_OFF, &err) != 0 ||
	    prctl(PR_GET_SECCOMP, 0, 0, 0, 0) != 0)
		return 10;
	if (sandbox_seccomp(SANDBOX_KEYMGR, SECCOMP_LOG, &err) != 0)
		return 11;
	if ((fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) == -1)
		return 12;
	close(fd);
	return prctl(PR_GET_SECCOMP, 0, 0, 0, 0) == 2 ? 0 : 13;
}

START_TEST(test_keymgr_modes)
{
	assert_passes(child_keymgr_denied, "seccomp() denied");
	assert_passes(child_keymgr_modes, "off and log");
}
END_TEST

/*
 * The audit writer: the audit file created, reopened (as SIGUSR1 does),
 * synced and closed by audit_file.c; a socket for libpq; its control
 * socket removed at exit.
 */
static int
child_audit_work(void)
{
	struct audit_file	 f;
	const char		*err = NULL;
	char			 sock[sizeof(open_path) + 8];
	int			 fd;

	snprintf(sock, sizeof(sock), "%s.sock", open_path);
	if ((fd = open(sock, O_WRONLY | O_CREAT | O_CLOEXEC, 0600)) == -1)
		return 9;
	close(fd);
	if (enforce() != 0)
		return 10;
	memset(&f, 0, sizeof(f));
	f.fd = -1;
	if (audit_file_open(&f, open_path, 0, NULL, &err) != 0)
		return 11;
	if (audit_file_reopen(&f, &err) != 0 || audit_file_sync(&f, &err) != 0)
		return 12;
	audit_file_close(&f);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return 13;
	close(fd);
	return unlink(sock) == 0 ? 0 : 14;
}

static int
child_audit_trunc(void)
{
	return child_open_mode(AUDIT_FILE_FLAGS | O_TRUNC, 0);
}

static int
child_audit_no_append(void)
{
	return child_open_mode(AUDIT_FILE_FLAGS & ~O_APPEND, 0);
}

static int
child_audit_follow(void)
{
	return child_open_mode(AUDIT_FILE_FLAGS & ~O_NOFOLLOW, 0);
}

static int
child_audit_creat_mode(void)
{
	return child_open_mode(AUDIT_FILE_FLAGS | O_CREAT | O_EXCL, 0644);
}

static int
child_audit_creat_no_excl(void)
{
	return child_open_mode(AUDIT_FILE_FLAGS | O_CREAT, AUDIT_FILE_MODE);
}

static int
child_rmdir(void)
{
	if (enforce() != 0)
		return 10;
	(void)unlinkat(AT_FDCWD, open_dir, AT_REMOVEDIR);
	return 11;
}

START_TEST(test_audit_filter)
{
	struct stat	 st;

	test_role = SANDBOX_AUDIT;
	open_dir_new();
	assert_passes(child_audit_work, "audit file and socket");
	ck_assert_int_eq(stat(open_path, &st), 0);
	ck_assert_uint_eq(st.st_mode & 0777, AUDIT_FILE_MODE);
	unlink(open_path);
	assert_sigsys(child_execve, "execve");
	assert_sigsys(child_netlink, "socket(AF_NETLINK)");
	assert_sigsys(child_rmdir, "unlinkat(AT_REMOVEDIR)");
	assert_strict(child_fork, "fork");
	assert_strict(child_exec_mapping, "mmap(PROT_EXEC)");
	ck_assert_int_eq(rmdir(open_dir), 0);
	test_role = SANDBOX_WORKER;
}
END_TEST

/*
 * The audit writer opens for writing only as audit_file.c does: no
 * truncation, no creation with another mode or without O_EXCL, nothing
 * through a symbolic link, no read-write without O_APPEND; each such open
 * is killed and leaves the file as it was.
 */
START_TEST(test_audit_open_forms)
{
	static const struct open_case t[] = {
		{ child_audit_trunc, "O_TRUNC", 1 },
		{ child_audit_no_append, "without O_APPEND", 1 },
		{ child_audit_follow, "without O_NOFOLLOW", 1 },
		{ child_open_append_creat, "O_WRONLY|O_APPEND|O_CREAT", 0 },
		{ child_audit_creat_mode, "O_CREAT|O_EXCL mode 0644", 0 },
		{ child_audit_creat_no_excl, "O_CREAT without O_EXCL", 0 },
	};

	test_role = SANDBOX_AUDIT;
	assert_open_forms(t, BW_ARRAY_LEN(t));
	ck_assert_int_eq(rmdir(open_dir), 0);
	test_role = SANDBOX_WORKER;
}
END_TEST

static int
child_harden(void)
{
	const char	*err = NULL;
	struct rlimit	 rl;

	if (sandbox_harden(&err) != 0)
		return 10;
	if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1)
		return 11;
	if (prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 0)
		return 12;
	if (getrlimit(RLIMIT_CORE, &rl) != 0 || rl.rlim_cur != 0 ||
	    rl.rlim_max != 0)
		return 13;
	/* Root keeps its uid here, but not its capabilities. */
	if (geteuid() == 0 && setuid(12345) != -1)
		return 14;
	return 0;
}

START_TEST(test_harden)
{
	assert_passes(child_harden, "harden");
}
END_TEST

static int
child_drop_nobody(void)
{
	const char	*err = NULL;
	struct passwd	*pw;
	uid_t		 r, e, s;
	gid_t		 groups[4];

	if ((pw = getpwnam("nobody")) == NULL)
		return 9;
	if (sandbox_drop_ids(pw->pw_uid, pw->pw_gid, &err) != 0)
		return 10;
	if (getresuid(&r, &e, &s) != 0 || r != pw->pw_uid ||
	    e != pw->pw_uid || s != pw->pw_uid)
		return 11;
	if (getgroups(4, groups) > 1)
		return 12;
	if (setuid(0) != -1 || errno != EPERM)
		return 13;
	/* Again: already that user, a warning and no change. */
	if (sandbox_drop_ids(pw->pw_uid, pw->pw_gid, &err) != 1)
		return 14;
	if (prctl(PR_GET_PDEATHSIG, &r, 0, 0, 0) != 0 || r != SIGTERM)
		return 15;
	return 0;
}

START_TEST(test_drop)
{
	if (geteuid() != 0 || getpwnam("nobody") == NULL) {
		printf("NOTE: not root or no user nobody: drop not checked\n");
		return;
	}
	assert_passes(child_drop_nobody, "drop nobody");
}
END_TEST

/*
 * A service user holding CAP_SETUID/CAP_SETGID (systemd ambient
 * capabilities) drops too, and keeps no capability afterwards.
 */
#define CAPS_SETID	((1u << CAP_SETUID) | (1u << CAP_SETGID))

/*
 * Root becomes the service user 4321 holding caps (with keep-caps set):
 * effective and permitted, and inheritable too when asked.  0 or -1.
 */
static int
caps_service_user(uint32_t caps, bool inheritable)
{
	struct __user_cap_header_struct	 hdr;
	struct __user_cap_data_struct	 data[2];

	if (setresgid(4321, 4321, 4321) != 0 || setresuid(4321, 4321, 4321))
		return -1;
	memset(&hdr, 0, sizeof(hdr));
	memset(data, 0, sizeof(data));
	hdr.version = _LINUX_CAPABILITY_VERSION_3;
	data[0].permitted = caps;
	data[0].effective = caps;
	data[0].inheritable = inheritable ? caps : 0;
	return syscall(SYS_capset, &hdr, data) == 0 ? 0 : -1;
}

/* Whether the calling thread holds no effective or permitted capability. */
static bool
caps_none(void)
{
	struct __user_cap_header_struct	 hdr;
	struct __user_cap_data_struct	 data[2];

	memset(&hdr, 0, sizeof(hdr));
	hdr.version = _LINUX_CAPABILITY_VERSION_3;
	memset(data, 0xff, sizeof(data));
	return syscall(SYS_capget, &hdr, data) == 0 &&
	    data[0].effective == 0 && data[0].permitted == 0;
}

static int
child_drop_with_caps(void)
{
	const char	*err = NULL;
	uid_t		 r, e, s;

	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0)
		return 9;
	if (caps_service_user(CAPS_SETID, false) != 0)
		return 10;
	if (sandbox_drop_ids(65534, 65534, &err) != 0)
		return 12;
	if (getresuid(&r, &e, &s) != 0 || r != 65534 || e != 65534 ||
	    s != 65534)
		return 13;
	if (!caps_none())
		return 14;
	return 0;
}

START_TEST(test_drop_with_caps)
{
	if (geteuid() != 0) {
		printf("NOTE: not root: capability drop not checked\n");
		return;
	}
	assert_passes(child_drop_with_caps, "drop with caps");
}
END_TEST

/*
 * The same with a thread started before the drop (the argon2 pool): the
 * thread must lose the capabilities too.  capset() alone clears only the
 * caller's, and glibc then aborted on the verifying setuid(0), which the
 * thread could still make.
 */
static int	 caps_pipe[2];

static void *
caps_thread(void *arg)
{
	char		 c;
	uintptr_t	 bad = 1;

	(void)arg;
	if (read(caps_pipe[0], &c, 1) != 1)
		return (void *)bad;
	if (!caps_none() || getuid() != 65534)
		return (void *)bad;
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, CAP_SETUID, 0, 0) !=
	    0)
		return (void *)bad;
	return NULL;
}

static int
child_drop_with_caps_thread(void)
{
	const char	*err = NULL;
	pthread_t	 t;
	void		*res = NULL;

	if (pipe(caps_pipe) != 0 || prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0)
		return 9;
	if (caps_service_user(CAPS_SETID, true) != 0)
		return 10;
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_SETUID, 0, 0) != 0)
		return 11;
	/* As after systemd's execve: keep-caps is off again. */
	if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) != 0)
		return 11;
	if (pthread_create(&t, NULL, caps_thread, NULL) != 0)
		return 12;
	if (sandbox_drop_ids(65534, 65534, &err) != 0)
		return 13;
	if (write(caps_pipe[1], "x", 1) != 1 || pthread_join(t, &res) != 0)
		return 14;
	if (res != NULL)
		return 15;
	return 0;
}

START_TEST(test_drop_with_caps_thread)
{
	if (geteuid() != 0) {
		printf("NOTE: not root: capability drop not checked\n");
		return;
	}
	assert_passes(child_drop_with_caps_thread, "drop with caps thread");
}
END_TEST

static int
child_drop_unprivileged(void)
{
	const char	*err = NULL;

	/* Become nobody first, then ask for another id: skipped, not fatal. */
	if (geteuid() == 0 && sandbox_drop_ids(65534, 65534, &err) != 0)
		return 10;
	if (sandbox_drop_ids(12345, 12345, &err) != 1)
		return 11;
	if (getuid() == 12345)
		return 12;
	return 0;
}

START_TEST(test_drop_unprivileged)
{
	assert_passes(child_drop_unprivileged, "drop unprivileged");
}
END_TEST

START_TEST(test_drop_errors)
{
	const char	*err = NULL;

	ck_assert_int_eq(sandbox_drop_ids(0, 0, &err), -1);
	ck_assert_ptr_nonnull(strstr(err, "root"));
	err = NULL;
	ck_assert_int_eq(sandbox_drop_ids(1000, 0, &err), -1);
	err = NULL;
	ck_assert_int_eq(sandbox_drop("bulwark-no-such-user-x", NULL, &err),
	    -1);
	ck_assert_str_eq(err, "server.user does not exist");
	if (getpwnam("nobody") != NULL) {
		err = NULL;
		ck_assert_int_eq(sandbox_drop("nobody",
		    "bulwark-no-such-group-x", &err), -1);
		ck_assert_str_eq(err, "server.group does not exist");
	}
	ck_assert_int_eq(sandbox_drop(NULL, NULL, &err), -1);
}
END_TEST

static int
child_worker_seq(void)
{
	struct conf	 conf;
	struct passwd	*pw;
	char *const	 argv[] = { (char *)"/bin/true", NULL };

	if ((pw = getpwnam("nobody")) == NULL)
		return 9;
	memset(&conf, 0, sizeof(conf));
	conf.server.user = (char *)"nobody";
	conf.server.group = NULL;
	conf.seccomp = SECCOMP_ENFORCE;
	if (sandbox_worker(&conf) != 0)
		return 10;
	if (geteuid() == 0 || (getuid() != pw->pw_uid && getuid() == 0))
		return 11;
	if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 0)
		return 12;
	execve("/bin/true", argv, NULL);
	return 13;
}

START_TEST(test_worker_sequence)
{
	if (getpwnam("nobody") == NULL) {
		printf("NOTE: no user nobody: sequence not checked\n");
		return;
	}
	assert_sigsys(child_worker_seq, "worker seq");
}
END_TEST

Suite *
unit_suite(void)
{
	Suite	*s = suite_create("sandbox");
	TCase	*tc = tcase_create("seccomp");
	TCase	*td = tcase_create("drop");

	tcase_set_timeout(tc, UNIT_TIMEOUT);
	tcase_add_test(tc, test_allowed_calls);
	tcase_add_test(tc, test_forbidden_killed);
	tcase_add_test(tc, test_forbidden_strict);
	tcase_add_test(tc, test_open_write_forms);
	tcase_add_test(tc, test_seccomp_denied_fatal);
	tcase_add_test(tc, test_clone3_enosys);
	tcase_add_test(tc, test_tsync);
	tcase_add_test(tc, test_thread_after_filter);
	tcase_add_test(tc, test_log_mode);
	tcase_add_test(tc, test_off_mode);
	tcase_add_test(tc, test_keymgr_filter);
	tcase_add_test(tc, test_keymgr_modes);
	tcase_add_test(tc, test_audit_filter);
	tcase_add_test(tc, test_audit_open_forms);
	suite_add_tcase(s, tc);
	tcase_set_timeout(td, UNIT_TIMEOUT);
	tcase_add_test(td, test_harden);
	tcase_add_test(td, test_drop);
	tcase_add_test(td, test_drop_with_caps);
	tcase_add_test(td, test_drop_with_caps_thread);
	tcase_add_test(td, test_drop_unprivileged);
	tcase_add_test(td, test_drop_errors);
	tcase_add_test(td, test_worker_sequence);
	suite_add_tcase(s, td);
	return s;
}
