/*
 * test_backup.c - the directory side of backups: which names are backups,
 * the newest-first listing and its bound, the last success time; and a
 * backup refused before anything is written (no key, a directory others
 * may write to, another backup holding the lock).
 */
#include <sys/file.h>
#include <sys/stat.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backup.h"
#include "conf.h"
#include "unit.h"
#include "util.h"

static char	 dir[64];

static void
dir_setup(void)
{
	unit_tmpdir(dir, sizeof(dir), "bw-test-backup");
}

static void
dir_teardown(void)
{
	unit_rmtree(dir);
}

static int
dir_open(void)
{
	int	 fd = open(dir, O_RDONLY | O_DIRECTORY);

	ck_assert_int_ne(fd, -1);
	return fd;
}

static void
touch(const char *name)
{
	char	 path[256];
	int	 fd;

	(void)snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ne(fd, -1);
	close(fd);
}

START_TEST(names)
{
	ck_assert(backup_name_ok("bulwark-20261206T223500Z-app.bwbk"));
	ck_assert(!backup_name_ok(".bulwark-20261206T223500Z-app.bwbk.tmp"));
	ck_assert(!backup_name_ok("bulwark-20261206T223500Z-app.bwbk."
	    "manifest.json"));
	ck_assert(!backup_name_ok("bulwark-.bwbk"));
	ck_assert(!backup_name_ok("other-20261206T223500Z-app.bwbk"));
	ck_assert(!backup_name_ok(".lock"));
}
END_TEST

START_TEST(listing_newest_first)
{
	struct backup_err	 e;
	char			**v;
	size_t			 n;
	int			 fd;

	touch("bulwark-20261206T223500Z-app.bwbk");
	touch("bulwark-20261207T010000Z-app.bwbk");
	touch("bulwark-20261205T000000Z-app.bwbk");
	touch("bulwark-20261207T010000Z-app.bwbk.manifest.json");
	touch(".bulwark-20261208T010000Z-app.bwbk.tmp");
	touch("notes.txt");
	fd = dir_open();
	ck_assert_int_eq(backup_list_names(fd, BACKUP_LIST_MAX, &v, &n, &e),
	    0);
	ck_assert_uint_eq(n, 3);
	ck_assert_str_eq(v[0], "bulwark-20261207T010000Z-app.bwbk");
	ck_assert_str_eq(v[2], "bulwark-20261205T000000Z-app.bwbk");
	backup_names_free(v, n);
	close(fd);
}
END_TEST

START_TEST(listing_bound)
{
	struct backup_err	 e;
	char			 name[256], **v = NULL;
	size_t			 n = 0, i;
	int			 fd;

	for (i = 0; i <= 100; i++) {
		(void)snprintf(name, sizeof(name), "bulwark-%06zu.bwbk", i);
		touch(name);
	}
	fd = dir_open();
	ck_assert_int_eq(backup_list_names(fd, 100, &v, &n, &e), -1);
	ck_assert_ptr_nonnull(strstr(e.msg, "more than 100 backups"));
	(void)snprintf(name, sizeof(name), "%s/bulwark-%06d.bwbk", dir, 0);
	ck_assert_int_eq(unlink(name), 0);
	ck_assert_int_eq(backup_list_names(fd, 100, &v, &n, &e), 0);
	ck_assert_uint_eq(n, 100);
	ck_assert_str_eq(v[0], "bulwark-000100.bwbk");
	backup_names_free(v, n);
	close(fd);
}
END_TEST

START_TEST(last_success)
{
	char	 path[256];
	FILE	*fp;

	ck_assert_int_eq(backup_last_success(dir), -1);
	(void)snprintf(path, sizeof(path), "%s/%s", dir, BACKUP_LAST_NAME);
	fp = fopen(path, "w");
	fputs("1796596500\n", fp);
	fclose(fp);
	ck_assert_int_eq(backup_last_success(dir), 1796596500);
	fp = fopen(path, "w");
	fputs("17965x\n", fp);
	fclose(fp);
	ck_assert_int_eq(backup_last_success(dir), -1);
}
END_TEST

/* A configuration whose backup section points at dir and key. */
static struct conf *
conf_for(const char *key)
{
	struct bw_diag	 d = { 0 };
	struct conf	*c;
	char		 buf[2048];
	int		 n;

	n = snprintf(buf, sizeof(buf), "version: 1\nserver:\n"
	    "  listen: [\"127.0.0.1:8443\"]\n  plaintext: true\n"
	    "  trusted_proxies: [\"127.0.0.1/32\"]\n"
	    "database:\n  conninfo: \"host=/nonexistent dbname=x\"\n"
	    "backup:\n  directory: %s\n  key_file: %s\n", dir, key);
	c = conf_load_buffer("t.yaml", buf, (size_t)n, &d);
	bw_diag_print(&d, stdout);
	bw_diag_free(&d);
	ck_assert_ptr_nonnull(c);
	return c;
}

static void
key_file(const char *path, size_t len)
{
	unsigned char	 k[40] = { 1 };
	int		 fd;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(write(fd, k, len), (ssize_t)len);
	close(fd);
}

START_TEST(refused_before_writing)
{
	struct backup_done	 d;
	struct backup_err	 e;
	struct conf		*c;
	char			 key[256], lock[256];
	int			 fd;

	(void)snprintf(key, sizeof(key), "%s.key", dir);
	key_file(key, 31);
	c = conf_for(key);
	ck_assert_int_eq(backup_run(c, &d, &e), BACKUP_FAILED);
	ck_assert_ptr_nonnull(strstr(e.msg, "exactly 32 bytes"));
	key_file(key, 32);
	ck_assert_int_eq(chmod(dir, 0777), 0);
	ck_assert_int_eq(backup_run(c, &d, &e), BACKUP_FAILED);
	ck_assert_ptr_nonnull(strstr(e.msg, "writable by others"));
	ck_assert_int_eq(chmod(dir, 0700), 0);
	(void)snprintf(lock, sizeof(lock), "%s/%s", dir, BACKUP_LOCK_NAME);
	fd = open(lock, O_RDWR | O_CREAT, 0600);
	ck_assert_int_eq(flock(fd, LOCK_EX), 0);
	ck_assert_int_eq(backup_run(c, &d, &e), BACKUP_BUSY);
	ck_assert_ptr_nonnull(strstr(e.msg, "another backup is running"));
	close(fd);
	/* The lock is free: the unreachable database is what fails now. */
	ck_assert_int_eq(backup_run(c, &d, &e), BACKUP_FAILED);
	ck_assert_ptr_nonnull(strstr(e.msg, "database unreachable"));
	unlink(key);
	conf_free(c);
}
END_TEST

Suite *
unit_suite(void)
{
	Suite	*s = suite_create("backup");
	TCase	*tc = tcase_create("core");

	tcase_set_timeout(tc, UNIT_TIMEOUT);
	tcase_add_checked_fixture(tc, dir_setup, dir_teardown);
	tcase_add_test(tc, names);
	tcase_add_test(tc, listing_newest_first);
	tcase_add_test(tc, listing_bound);
	tcase_add_test(tc, last_success);
	tcase_add_test(tc, refused_before_writing);
	suite_add_tcase(s, tc);
	return s;
}
