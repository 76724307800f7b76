/*
 * test_cpus.c - cpus_count(): within 1..max and never above the affinity
 * mask.
 */
#include <sched.h>
#include <stdint.h>

#include "unit.h"

#include "cpus.h"

START_TEST(count_bounds)
{
	cpu_set_t	 set;
	uint32_t	 n = cpus_count(256);

	CPU_ZERO(&set);
	ck_assert_int_eq(sched_getaffinity(0, sizeof(set), &set), 0);
	ck_assert_uint_ge(n, 1);
	ck_assert_uint_le(n, (uint32_t)CPU_COUNT(&set));
	ck_assert_uint_eq(cpus_count(1), 1);
}
END_TEST

Suite *
unit_suite(void)
{
	Suite	*s = suite_create("cpus");
	TCase	*tc = tcase_create("cpus");

	tcase_set_timeout(tc, UNIT_TIMEOUT);
	tcase_add_test(tc, count_bounds);
	suite_add_tcase(s, tc);
	return s;
}
