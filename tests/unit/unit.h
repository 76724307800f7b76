/*
 * unit.h - shared main() for the Check unit suites, and the set-up they
 * share (shared test data, temporary directories and files).  Each
 * test_*.c defines unit_suite(); this file is included by exactly one
 * translation unit per test binary.
 */
#ifndef BW_UNIT_H
#define BW_UNIT_H

#include <sys/stat.h>

#include <check.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

Suite	*unit_suite(void);

/* Per-test timeout in seconds (explicit, SPEC 14). */
#define UNIT_TIMEOUT	30

/*
 * Path of a file under ../shared/testdata, or NULL (after saying so) when
 * the shared test data is not there.
 */
static inline const char *
unit_testdata(const char *rel, char *buf, size_t bufsz)
{
	const char *dir = getenv("SHAREDDIR");

	if (dir == NULL)
		dir = SHAREDDIR;
	snprintf(buf, bufsz, "%s/testdata/%s", dir, rel);
	if (access(buf, R_OK) != 0) {
		printf("NOTE: shared test data %s not found; cases skipped\n",
		    buf);
		return NULL;
	}
	return buf;
}

/* A fresh directory /tmp/NAME.XXXXXX, its path in dir. */
static inline void
unit_tmpdir(char *dir, size_t dirsz, const char *name)
{
	snprintf(dir, dirsz, "/tmp/%s.XXXXXX", name);
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static inline int
unit_rm_one(const char *path, const struct stat *st, int flag,
    struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Removes dir and everything below it (links are removed, not followed). */
static inline void
unit_rmtree(const char *dir)
{
	(void)nftw(dir, unit_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/*
 * A new file dir/NAME holding "secret\n", then given mode; its path in
 * path.  For the permission checks of secret files.
 */
static inline void
unit_mkfile(const char *dir, const char *name, mode_t mode, char *path,
    size_t pathsz)
{
	int	 fd;

	snprintf(path, pathsz, "%s/%s", dir, name);
	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(write(fd, "secret\n", 7), 7);
	close(fd);
	ck_assert_int_eq(chmod(path, mode), 0);
}

int
main(void)
{
	SRunner	*sr;
	int	 failed;

	sr = srunner_create(unit_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

#endif
