/*
 * test_balance.c - the workers' connection table (balance.h): a worker
 * defers to a sibling holding fewer connections, never to itself or to an
 * empty slot; an entry is withdrawn only by the pid that wrote it; counts
 * saturate; the table is shared across fork.
 */
#include <sys/wait.h>

#include <stdint.h>
#include <unistd.h>

#include "unit.h"

#include "balance.h"

START_TEST(defers_to_fewer)
{
	struct balance	*b;

	ck_assert_ptr_nonnull(b = balance_new(3));
	/* Alone: nobody to defer to. */
	ck_assert(!balance_defer(b, 0, 10));
	balance_publish(b, 0, 100, 10);
	ck_assert(!balance_defer(b, 0, 10));
	balance_publish(b, 1, 101, 4);
	ck_assert(balance_defer(b, 0, 10));
	ck_assert(balance_defer(b, 0, 5));
	/* Equal or more: this worker takes it. */
	ck_assert(!balance_defer(b, 0, 4));
	ck_assert(!balance_defer(b, 1, 4));
	ck_assert(!balance_defer(b, 0, 0));
	/* Any one sibling with fewer is enough. */
	balance_publish(b, 2, 102, 2);
	ck_assert(balance_defer(b, 1, 4));
	ck_assert(!balance_defer(b, 2, 2));
	/* Out-of-range slots and a NULL table are ignored. */
	balance_publish(b, 3, 103, 0);
	ck_assert(!balance_defer(b, 2, 2));
	ck_assert(!balance_defer(NULL, 0, 1000));
	balance_publish(NULL, 0, 1, 1);
	balance_withdraw(NULL, 0, 1);
	balance_free(b);
	balance_free(NULL);
}
END_TEST

START_TEST(withdraw_by_owner_only)
{
	struct balance	*b;

	ck_assert_ptr_nonnull(b = balance_new(2));
	balance_publish(b, 1, 200, 0);
	ck_assert(balance_defer(b, 0, 1));
	/* A new generation took the slot over: the old pid clears nothing. */
	balance_withdraw(b, 1, 199);
	ck_assert(balance_defer(b, 0, 1));
	balance_withdraw(b, 1, 200);
	ck_assert(!balance_defer(b, 0, 1));
	/* Withdrawn twice, or when empty: no effect. */
	balance_withdraw(b, 1, 200);
	ck_assert(!balance_defer(b, 0, 1));
	/* pid 0 (or less) never publishes. */
	balance_publish(b, 1, 0, 0);
	ck_assert(!balance_defer(b, 0, 1));
	balance_free(b);
}
END_TEST

START_TEST(count_saturates)
{
	struct balance	*b;

	ck_assert_ptr_nonnull(b = balance_new(2));
	balance_publish(b, 1, 300, (size_t)UINT32_MAX + 5);
	/* Saturated, not wrapped to 4: no worker defers to it. */
	ck_assert(!balance_defer(b, 0, 5));
	ck_assert(balance_defer(b, 0, SIZE_MAX));
	balance_free(b);
}
END_TEST

START_TEST(bad_sizes)
{
	ck_assert_ptr_null(balance_new(0));
	ck_assert_ptr_null(balance_new(SIZE_MAX));
}
END_TEST

START_TEST(shared_across_fork)
{
	struct balance	*b;
	pid_t		 pid;
	int		 status;

	ck_assert_ptr_nonnull(b = balance_new(2));
	if ((pid = fork()) == 0) {
		balance_publish(b, 1, getpid(), 3);
		_exit(0);
	}
	ck_assert_int_gt(pid, 0);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ck_assert(balance_defer(b, 0, 4));
	ck_assert(!balance_defer(b, 0, 3));
	/* What the master does when it reaps that worker. */
	balance_withdraw(b, 1, pid);
	ck_assert(!balance_defer(b, 0, 4));
	balance_free(b);
}
END_TEST

Suite *
unit_suite(void)
{
	Suite	*s = suite_create("balance");
	TCase	*tc = tcase_create("balance");

	tcase_set_timeout(tc, UNIT_TIMEOUT);
	tcase_add_test(tc, defers_to_fewer);
	tcase_add_test(tc, withdraw_by_owner_only);
	tcase_add_test(tc, count_saturates);
	tcase_add_test(tc, bad_sizes);
	tcase_add_test(tc, shared_across_fork);
	suite_add_tcase(s, tc);
	return s;
}
