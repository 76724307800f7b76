/*
 * test_sandbox_filter.c - the key manager's and the audit writer's seccomp
 * filters (sandbox_filter.c, keymgr_sandbox.c), each loaded in a forked
 * child: their real work still runs under the filter (a new key parsed
 * and a signature made by the key manager's code (test_keymgr.c runs its
 * whole loop, keymgr_main, under the filter); the audit file created,
 * reopened, synced and its control socket removed by audit_file.c's), and
 * what they must never do kills them with SIGSYS.  The workers' filter is
 * test_sandbox.c's.
 */
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <signal.h>
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

typedef int (*child_fn)(void);

#define TEST_DIR	"/tmp/bw-filter-XXXXXX"
static char	 dir[sizeof(TEST_DIR)];
static char	 path[sizeof(TEST_DIR) + 16];

/* A fresh directory, path a file in it. */
static void
test_dir(void)
{
	memcpy(dir, TEST_DIR, sizeof(TEST_DIR));
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/audit.log", dir);
}

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

static void
assert_exit0(child_fn fn, const char *what)
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

/* Sanitizer builds admit openat, mmap, clone whole: the call returns. */
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

static int
keymgr_in(void)
{
	const char	*err = NULL;

	return keymgr_confine(SECCOMP_ENFORCE, &err);
}

static int
audit_in(void)
{
	const char	*err = NULL;

	return sandbox_seccomp(SANDBOX_AUDIT, SECCOMP_ENFORCE, &err);
}

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
child_keymgr_open(void)
{
	if (keymgr_in() != 0)
		return 10;
	(void)open("/dev/null", O_RDONLY | O_CLOEXEC);
	return 11;
}

static int
child_keymgr_socket(void)
{
	if (keymgr_in() != 0)
		return 10;
	(void)socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	return 11;
}

static int
child_keymgr_execve(void)
{
	char *const	 argv[] = { (char *)"/bin/true", NULL };

	if (keymgr_in() != 0)
		return 10;
	execve("/bin/true", argv, NULL);
	return 11;
}

static int
child_keymgr_fork(void)
{
	pid_t	 pid;

	if (keymgr_in() != 0)
		return 10;
	if ((pid = fork()) == 0)
		_exit(0);
	if (pid > 0)
		(void)waitpid(pid, NULL, 0);
	return 11;
}

static int
child_keymgr_exec_mapping(void)
{
	if (keymgr_in() != 0)
		return 10;
	(void)mmap(NULL, 4096, PROT_READ | PROT_EXEC,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return 11;
}

START_TEST(test_keymgr_works)
{
	assert_exit0(child_keymgr_work, "parse and sign after the filter");
}
END_TEST

START_TEST(test_keymgr_forbidden)
{
	assert_sigsys(child_keymgr_socket, "socket(AF_UNIX)");
	assert_sigsys(child_keymgr_execve, "execve");
	assert_strict(child_keymgr_open, "open(O_RDONLY)");
	assert_strict(child_keymgr_fork, "fork");
	assert_strict(child_keymgr_exec_mapping, "mmap(PROT_EXEC)");
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
	assert_exit0(child_keymgr_denied, "seccomp() denied");
	assert_exit0(child_keymgr_modes, "off and log");
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
	char			 sock[sizeof(path) + 8];
	int			 fd;

	snprintf(sock, sizeof(sock), "%s.sock", path);
	if ((fd = open(sock, O_WRONLY | O_CREAT | O_CLOEXEC, 0600)) == -1)
		return 9;
	close(fd);
	if (audit_in() != 0)
		return 10;
	memset(&f, 0, sizeof(f));
	f.fd = -1;
	if (audit_file_open(&f, path, 0, NULL, &err) != 0)
		return 11;
	if (audit_file_reopen(&f, &err) != 0 || audit_file_sync(&f, &err) != 0)
		return 12;
	audit_file_close(&f);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return 13;
	close(fd);
	if (unlink(sock) != 0)
		return 14;
	return 0;
}

static int
child_audit_open(int flags, mode_t mode)
{
	if (audit_in() != 0)
		return 10;
	(void)open(path, flags, mode);
	return 11;
}

static int
child_audit_trunc(void)
{
	return child_audit_open(AUDIT_FILE_FLAGS | O_TRUNC, 0);
}

static int
child_audit_no_append(void)
{
	return child_audit_open(AUDIT_FILE_FLAGS & ~O_APPEND, 0);
}

static int
child_audit_follow(void)
{
	return child_audit_open(AUDIT_FILE_FLAGS & ~O_NOFOLLOW, 0);
}

static int
child_audit_wronly_creat(void)
{
	return child_audit_open(O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600);
}

static int
child_audit_creat_mode(void)
{
	return child_audit_open(AUDIT_FILE_FLAGS | O_CREAT | O_EXCL, 0644);
}

static int
child_audit_creat_no_excl(void)
{
	return child_audit_open(AUDIT_FILE_FLAGS | O_CREAT, AUDIT_FILE_MODE);
}

static int
child_audit_rmdir(void)
{
	if (audit_in() != 0)
		return 10;
	(void)unlinkat(AT_FDCWD, dir, AT_REMOVEDIR);
	return 11;
}

static int
child_audit_execve(void)
{
	char *const	 argv[] = { (char *)"/bin/true", NULL };

	if (audit_in() != 0)
		return 10;
	execve("/bin/true", argv, NULL);
	return 11;
}

static int
child_audit_netlink(void)
{
	if (audit_in() != 0)
		return 10;
	(void)socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, 0);
	return 11;
}

static int
child_audit_fork(void)
{
	pid_t	 pid;

	if (audit_in() != 0)
		return 10;
	if ((pid = fork()) == 0)
		_exit(0);
	if (pid > 0)
		(void)waitpid(pid, NULL, 0);
	return 11;
}

START_TEST(test_audit_works)
{
	struct stat	 st;

	test_dir();
	assert_exit0(child_audit_work, "audit file and socket");
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq(st.st_mode & 0777, AUDIT_FILE_MODE);
	unlink(path);
	rmdir(dir);
}
END_TEST

/*
 * Every other write open is killed and leaves the file as it was: no
 * truncation, no creation with another mode or without O_EXCL, nothing
 * through a symbolic link, no read-write without O_APPEND.
 */
START_TEST(test_audit_open_forms)
{
	static const struct {
		child_fn	 fn;
		const char	*what;
		int		 exists;
	} t[] = {
		{ child_audit_trunc, "O_TRUNC", 1 },
		{ child_audit_no_append, "without O_APPEND", 1 },
		{ child_audit_follow, "without O_NOFOLLOW", 1 },
		{ child_audit_wronly_creat, "O_WRONLY|O_CREAT|O_TRUNC", 0 },
		{ child_audit_creat_mode, "O_CREAT|O_EXCL mode 0644", 0 },
		{ child_audit_creat_no_excl, "O_CREAT without O_EXCL", 0 },
	};
	struct stat	 st;
	size_t		 i;
	int		 fd;

	test_dir();
	for (i = 0; i < BW_ARRAY_LEN(t); i++) {
		unlink(path);
		if (t[i].exists) {
			fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
			ck_assert_int_ge(fd, 0);
			ck_assert_int_eq(write(fd, "data", 4), 4);
			close(fd);
		}
		assert_strict(t[i].fn, t[i].what);
#ifndef TEST_SANITIZER
		ck_assert_msg(stat(path, &st) == (t[i].exists ? 0 : -1),
		    "%s: file created or removed", t[i].what);
		ck_assert_msg(!t[i].exists || st.st_size == 4,
		    "%s: file changed", t[i].what);
#else
		(void)st;
#endif
	}
	unlink(path);
	assert_sigsys(child_audit_rmdir, "unlinkat(AT_REMOVEDIR)");
	ck_assert_int_eq(rmdir(dir), 0);
}
END_TEST

START_TEST(test_audit_forbidden)
{
	assert_sigsys(child_audit_execve, "execve");
	assert_sigsys(child_audit_netlink, "socket(AF_NETLINK)");
	assert_strict(child_audit_fork, "fork");
}
END_TEST

Suite *
unit_suite(void)
{
	Suite	*s = suite_create("sandbox_filter");
	TCase	*tk = tcase_create("keymgr");
	TCase	*ta = tcase_create("audit");

	tcase_set_timeout(tk, UNIT_TIMEOUT);
	tcase_add_test(tk, test_keymgr_works);
	tcase_add_test(tk, test_keymgr_forbidden);
	tcase_add_test(tk, test_keymgr_modes);
	suite_add_tcase(s, tk);
	tcase_set_timeout(ta, UNIT_TIMEOUT);
	tcase_add_test(ta, test_audit_works);
	tcase_add_test(ta, test_audit_open_forms);
	tcase_add_test(ta, test_audit_forbidden);
	suite_add_tcase(s, ta);
	return s;
}
