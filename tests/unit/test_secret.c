/*
 * test_secret.c - secret_open(), secret_path() and secret_read() on real
 * files in a temporary directory: what is refused and why, and that the
 * descriptor returned reads the checked file.  Owner and server.user
 * checks need root to make files of other users; they are skipped (with a
 * note) otherwise.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <fcntl.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "unit.h"

#include "secret.h"
#include "util.h"

static char	dir[64];

static void
setup(void)
{
	unit_tmpdir(dir, sizeof(dir), "test_secret");
}

static void
teardown(void)
{
	unit_rmtree(dir);
}

static void
refused(const char *path, const char *worker, const char *why)
{
	const char	*err = NULL;

	ck_assert_int_eq(secret_open(path, worker, &err), -1);
	ck_assert_ptr_nonnull(err);
	ck_assert_msg(strstr(err, why) != NULL, "%s: \"%s\" lacks \"%s\"",
	    path, err, why);
}

START_TEST(good_file_accepted)
{
	char		 p[128];
	unsigned char	 buf[16];
	const char	*err;
	size_t		 len;
	int		 fd;

	unit_mkfile(dir, "k600", 0600, p, sizeof(p));
	fd = secret_open(p, "nobody", &err);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(fcntl(fd, F_GETFL) & O_NONBLOCK, 0);
	ck_assert_int_ne(fcntl(fd, F_GETFD) & FD_CLOEXEC, 0);
	ck_assert_int_eq(secret_read(fd, buf, sizeof(buf), &len, &err), 0);
	ck_assert_uint_eq(len, 7);
	ck_assert_int_eq(memcmp(buf, "secret\n", 7), 0);
	close(fd);
	/* Group read by the effective group is allowed. */
	unit_mkfile(dir, "k640", 0640, p, sizeof(p));
	fd = secret_open(p, NULL, &err);
	ck_assert_int_ge(fd, 0);
	/* A file of cap bytes or more is refused, not cut. */
	ck_assert_int_eq(secret_read(fd, buf, 7, &len, &err), -1);
	ck_assert_str_eq(err, "file too large");
	close(fd);
}
END_TEST

START_TEST(symlink_refused)
{
	char	 p[128], link[128];

	unit_mkfile(dir, "k600", 0600, p, sizeof(p));
	snprintf(link, sizeof(link), "%s/link", dir);
	ck_assert_int_eq(symlink(p, link), 0);
	refused(link, NULL, "is a symbolic link");
	refused(dir, NULL, "not a regular file");
	refused("/nonexistent/k", NULL, "No such file");
}
END_TEST

START_TEST(mode_refused)
{
	char	 p[128];

	unit_mkfile(dir, "k644", 0644, p, sizeof(p));
	refused(p, NULL, "accessible by others");
	unit_mkfile(dir, "k604", 0604, p, sizeof(p));
	refused(p, NULL, "accessible by others");
	unit_mkfile(dir, "k660", 0660, p, sizeof(p));
	refused(p, NULL, "group may write");
}
END_TEST

START_TEST(owner_refused)
{
	struct passwd	*pw = getpwnam("nobody");
	char		 p[128];

	if (geteuid() != 0 || pw == NULL) {
		printf("NOTE: not root or no user nobody; owner checks "
		    "skipped\n");
		return;
	}
	unit_mkfile(dir, "nobody", 0600, p, sizeof(p));
	ck_assert_int_eq(chown(p, pw->pw_uid, 0), 0);
	refused(p, NULL, "not owned by root or the service user");
	/* Readable by a group that is neither ours nor the service group. */
	unit_mkfile(dir, "other", 0640, p, sizeof(p));
	ck_assert_int_eq(chown(p, 0, pw->pw_gid), 0);
	refused(p, NULL, "group-readable by a group other than");
}
END_TEST

START_TEST(worker_readable_refused)
{
	char	 p[128];
	int	 fd;
	const char	*err;

	if (geteuid() != 0) {
		printf("NOTE: not root; server.user check skipped\n");
		return;
	}
	/* root owns it and may read it: server.user root could read it. */
	unit_mkfile(dir, "k600", 0600, p, sizeof(p));
	refused(p, "root", "readable by server.user");
	fd = secret_open(p, "nobody", &err);
	ck_assert_int_ge(fd, 0);
	close(fd);
	/* An unknown server.user cannot read anything. */
	fd = secret_open(p, "no-such-user-here", &err);
	ck_assert_int_ge(fd, 0);
	close(fd);
}
END_TEST

START_TEST(credentials)
{
	char		 p[128], name[11 + 257];
	const char	*err;
	char		*q;
	int		 fd;

	unit_mkfile(dir, "jwt", 0600, p, sizeof(p));
	unsetenv("CREDENTIALS_DIRECTORY");
	refused("credential:jwt", NULL, "CREDENTIALS_DIRECTORY");
	ck_assert_ptr_null(secret_path("credential:jwt", &err));
	setenv("CREDENTIALS_DIRECTORY", "relative", 1);
	refused("credential:jwt", NULL, "CREDENTIALS_DIRECTORY");
	setenv("CREDENTIALS_DIRECTORY", dir, 1);
	q = secret_path("credential:jwt", &err);
	ck_assert_str_eq(q, p);
	free(q);
	q = secret_path("/etc/x", &err);
	ck_assert_str_eq(q, "/etc/x");
	free(q);
	refused("credential:../jwt", NULL, "invalid credential name");
	refused("credential:.jwt", NULL, "invalid credential name");
	refused("credential:a/b", NULL, "invalid credential name");
	refused("credential:", NULL, "invalid credential name");
	memset(name, 'a', sizeof(name));
	memcpy(name, "credential:", 11);
	name[11 + 256] = '\0';
	refused(name, NULL, "invalid credential name");
	name[11 + 255] = '\0';
	q = secret_path(name, &err);
	ck_assert_ptr_nonnull(q);
	free(q);
	fd = secret_open("credential:jwt", NULL, &err);
	ck_assert_int_ge(fd, 0);
	close(fd);
	unsetenv("CREDENTIALS_DIRECTORY");
}
END_TEST

Suite *
unit_suite(void)
{
	Suite	*s = suite_create("secret");
	TCase	*tc = tcase_create("secret");

	tcase_set_timeout(tc, UNIT_TIMEOUT);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, good_file_accepted);
	tcase_add_test(tc, symlink_refused);
	tcase_add_test(tc, mode_refused);
	tcase_add_test(tc, owner_refused);
	tcase_add_test(tc, worker_readable_refused);
	tcase_add_test(tc, credentials);
	suite_add_tcase(s, tc);
	return s;
}
