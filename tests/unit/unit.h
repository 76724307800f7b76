/*
 * unit.h - shared main() for the Check unit suites.  Each test_*.c defines
 * unit_suite(); this file is included by exactly one translation unit per
 * test binary.
 */
#ifndef BW_UNIT_H
#define BW_UNIT_H

#include <check.h>
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
