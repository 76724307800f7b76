/*
 * test_backup_sched.c - when the next scheduled backup is due:
 * backup.every from the latest start (at once when overdue or when none
 * is known), backup.at the next HH:MM UTC strictly after now.
 */
#include <string.h>

#include "backup_sched.h"
#include "conf.h"
#include "unit.h"

/* 2026-12-06T22:35:00Z */
#define NOW	((time_t)1796596500)
#define MIDNIGHT ((time_t)1796515200)

static struct conf_backup
every(int64_t ms)
{
	struct conf_backup	 b;

	memset(&b, 0, sizeof(b));
	b.every_ms = ms;
	b.at_minute = -1;
	return b;
}

START_TEST(every_from_last)
{
	struct conf_backup	 b = every(3600 * 1000);

	ck_assert_int_eq(backup_sched_next(&b, NOW, -1), NOW);
	ck_assert_int_eq(backup_sched_next(&b, NOW, NOW - 600), NOW + 3000);
	ck_assert_int_eq(backup_sched_next(&b, NOW, NOW), NOW + 3600);
	/* Overdue (the daemon was down): at once, not in the past. */
	ck_assert_int_eq(backup_sched_next(&b, NOW, NOW - 3600), NOW);
	ck_assert_int_eq(backup_sched_next(&b, NOW, NOW - 86400), NOW);
	/* The shortest every the configuration allows. */
	b = every(60 * 1000);
	ck_assert_int_eq(backup_sched_next(&b, NOW, NOW - 1), NOW + 59);
}
END_TEST

START_TEST(at_next_time_of_day)
{
	struct conf_backup	 b = every(0);

	b.at_minute = 3 * 60;
	ck_assert_int_eq(backup_sched_next(&b, NOW, -1),
	    MIDNIGHT + 86400 + 3 * 3600);
	b.at_minute = 23 * 60 + 59;
	ck_assert_int_eq(backup_sched_next(&b, NOW, NOW - 10),
	    MIDNIGHT + 23 * 3600 + 59 * 60);
	/* Exactly at the time: the next day, so one run per day. */
	b.at_minute = 22 * 60 + 35;
	ck_assert_int_eq(backup_sched_next(&b, NOW, -1), NOW + 86400);
	b.at_minute = 0;
	ck_assert_int_eq(backup_sched_next(&b, MIDNIGHT - 1, -1), MIDNIGHT);
}
END_TEST

Suite *
unit_suite(void)
{
	Suite	*s = suite_create("backup_sched");
	TCase	*tc = tcase_create("core");

	tcase_set_timeout(tc, UNIT_TIMEOUT);
	tcase_add_test(tc, every_from_last);
	tcase_add_test(tc, at_next_time_of_day);
	suite_add_tcase(s, tc);
	return s;
}
