/*
 * test_ratelimit.c - token buckets: burst, refill, Retry-After, keys and
 * limits kept apart, the table bound, one table shared by forked
 * processes, a corrupted table, and SipHash against its reference vectors.
 */
#include <sys/wait.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ratelimit.h"
#include "unit.h"

static const struct conf_rate ten_per_s = {
	.enabled = true, .by = RATE_BY_IP, .count = 10, .per_ms = 1000,
	.burst = 3,
};

START_TEST(siphash_vectors)
{
	unsigned char	 key[16], msg[15];
	size_t		 i;

	for (i = 0; i < 16; i++)
		key[i] = (unsigned char)i;
	for (i = 0; i < 15; i++)
		msg[i] = (unsigned char)i;
	/* Reference values of the SipHash paper's test key and messages. */
	ck_assert_uint_eq(ratelimit_siphash(key, msg, 0),
	    0x726fdb47dd0e0e31ULL);
	ck_assert_uint_eq(ratelimit_siphash(key, msg, 15),
	    0xa129ca6149be45e5ULL);
}
END_TEST

START_TEST(burst_then_refused)
{
	struct ratelimit	*rl = ratelimit_new(64);
	int64_t			 t = 1000000;

	ck_assert_uint_eq(ratelimit_take(rl, &ten_per_s, "r", "a", 1, t), 0);
	ck_assert_uint_eq(ratelimit_take(rl, &ten_per_s, "r", "a", 1, t), 0);
	ck_assert_uint_eq(ratelimit_take(rl, &ten_per_s, "r", "a", 1, t), 0);
	/* The burst of 3 is used up: one token comes in 100 ms -> 1 s. */
	ck_assert_uint_eq(ratelimit_take(rl, &ten_per_s, "r", "a", 1, t), 1);
	/* Another key has its own bucket. */
	ck_assert_uint_eq(ratelimit_take(rl, &ten_per_s, "r", "b", 1, t), 0);
	/* 100 ms later one token is back, and only one. */
	ck_assert_uint_eq(ratelimit_take(rl, &ten_per_s, "r", "a", 1, t + 100), 0);
	ck_assert_uint_eq(ratelimit_take(rl, &ten_per_s, "r", "a", 1, t + 100), 1);
	/* Long idle: full burst again, never more. */
	t += 3600000;
	ck_assert_uint_eq(ratelimit_take(rl, &ten_per_s, "r", "a", 1, t), 0);
	ck_assert_uint_eq(ratelimit_take(rl, &ten_per_s, "r", "a", 1, t), 0);
	ck_assert_uint_eq(ratelimit_take(rl, &ten_per_s, "r", "a", 1, t), 0);
	ck_assert_uint_eq(ratelimit_take(rl, &ten_per_s, "r", "a", 1, t), 1);
	ratelimit_free(rl);
}
END_TEST

START_TEST(retry_after_slow_rate)
{
	static const struct conf_rate per_minute = {
		.enabled = true, .by = RATE_BY_IP, .count = 10,
		.per_ms = 60000, .burst = 1,
	};
	struct ratelimit	*rl = ratelimit_new(64);

	ck_assert_uint_eq(ratelimit_take(rl, &per_minute, "r", "ip", 2, 0), 0);
	/* 10 per minute: the next token after 6 s. */
	ck_assert_uint_eq(ratelimit_take(rl, &per_minute, "r", "ip", 2, 0), 6);
	ck_assert_uint_eq(ratelimit_take(rl, &per_minute, "r", "ip", 2, 5000), 1);
	ck_assert_uint_eq(ratelimit_take(rl, &per_minute, "r", "ip", 2, 6000), 0);
	ratelimit_free(rl);
}
END_TEST

START_TEST(limits_apart_and_disabled)
{
	struct conf_rate	 other = ten_per_s, off = { .enabled = false };
	struct ratelimit	*rl = ratelimit_new(64);
	int			 i;

	other.burst = 1;
	ck_assert_uint_eq(ratelimit_take(rl, &other, "r", "a", 1, 0), 0);
	ck_assert_uint_ne(ratelimit_take(rl, &other, "r", "a", 1, 0), 0);
	/* The same key under another limit is another bucket. */
	ck_assert_uint_eq(ratelimit_take(rl, &ten_per_s, "r", "a", 1, 0), 0);
	for (i = 0; i < 1000; i++)
		ck_assert_uint_eq(ratelimit_take(rl, &off, "r", "a", 1, 0), 0);
	ratelimit_free(rl);
}
END_TEST

/*
 * A bucket is named by its scope and the limit's value, not by where the
 * limit is in memory (workers build some routes after fork): equal copies
 * share a bucket, another scope or a changed limit has its own.
 */
START_TEST(scope_and_value)
{
	struct conf_rate	 copy = ten_per_s, changed = ten_per_s;
	struct ratelimit	*rl = ratelimit_new(64);
	int			 i;

	changed.burst = 4;
	for (i = 0; i < 3; i++)
		ck_assert_uint_eq(ratelimit_take(rl, &ten_per_s, "r", "a", 1, 0),
		    0);
	ck_assert_uint_ne(ratelimit_take(rl, &copy, "r", "a", 1, 0), 0);
	ck_assert_uint_eq(ratelimit_take(rl, &copy, "s", "a", 1, 0), 0);
	ck_assert_uint_eq(ratelimit_take(rl, &changed, "r", "a", 1, 0), 0);
	ck_assert_uint_eq(ratelimit_take(rl, &copy, NULL, "a", 1, 0), 0);
	ratelimit_free(rl);
}
END_TEST

/* More keys than slots: memory stays bounded and every key is served. */
START_TEST(table_bound)
{
	struct ratelimit	*rl = ratelimit_new(16);
	char			 key[32];
	int			 i, n;

	for (i = 0; i < 10000; i++) {
		n = snprintf(key, sizeof(key), "10.0.%d.%d", i / 256, i % 256);
		ck_assert_uint_eq(ratelimit_take(rl, &ten_per_s, "r", key,
		    (size_t)n, i), 0);
	}
	ratelimit_free(rl);
}
END_TEST

/* Huge elapsed times and rates do not overflow the refill. */
START_TEST(no_overflow)
{
	static const struct conf_rate big = {
		.enabled = true, .by = RATE_BY_IP, .count = 4000000000U,
		.per_ms = 3600000, .burst = 4000000000U,
	};
	struct ratelimit	*rl = ratelimit_new(16);

	ck_assert_uint_eq(ratelimit_take(rl, &big, "r", "k", 1, 0), 0);
	ck_assert_uint_eq(ratelimit_take(rl, &big, "r", "k", 1, INT64_MAX / 4), 0);
	ratelimit_free(rl);
}
END_TEST


/* One token an hour: within a test, only the burst is ever admitted. */
static const struct conf_rate hourly = {
	.enabled = true, .by = RATE_BY_IP, .count = 1, .per_ms = 3600000,
	.burst = 50,
};

/*
 * Two forked processes take from rl at once (started together by a
 * pipe), 2000 times each over 4 keys; returns how many were admitted.
 */
static int
forked_takes(struct ratelimit *rl)
{
	int	 go[2], out[2], n, total = 0, i, k;
	pid_t	 pid[2];
	char	 c, key[8];

	ck_assert_int_eq(pipe(go), 0);
	ck_assert_int_eq(pipe(out), 0);
	for (k = 0; k < 2; k++) {
		ck_assert_int_ne(pid[k] = fork(), -1);
		if (pid[k] != 0)
			continue;
		n = 0;
		if (read(go[0], &c, 1) != 1)
			_exit(1);
		for (i = 0; i < 2000; i++) {
			(void)snprintf(key, sizeof(key), "k%d", i % 4);
			if (ratelimit_take(rl, &hourly, "r", key, 2, 5000) == 0)
				n++;
		}
		_exit(write(out[1], &n, sizeof(n)) == sizeof(n) ? 0 : 1);
	}
	ck_assert_int_eq(write(go[1], "gg", 2), 2);
	for (k = 0; k < 2; k++) {
		ck_assert_int_eq(read(out[0], &n, sizeof(n)), sizeof(n));
		total += n;
		ck_assert_int_eq(waitpid(pid[k], &i, 0), pid[k]);
		ck_assert(WIFEXITED(i) && WEXITSTATUS(i) == 0);
	}
	close(go[0]);
	close(go[1]);
	close(out[0]);
	close(out[1]);
	return total;
}

/* A private table is per process: each child has its own 4 x 50. */
START_TEST(private_per_process)
{
	struct ratelimit	*rl = ratelimit_new(64);

	ck_assert_int_eq(forked_takes(rl), 2 * 4 * 50);
	ratelimit_free(rl);
}
END_TEST

/* The shared table: both children together get 4 x 50, never more. */
START_TEST(shared_across_fork)
{
	struct ratelimit	*rl;
	int			 round;

	ck_assert_int_eq(ratelimit_shared_new(), 0);
	rl = ratelimit_new(64);
	ck_assert_int_eq(forked_takes(rl), 4 * 50);
	ratelimit_free(rl);
	/* A new table starts full, and is shared too. */
	for (round = 0; round < 5; round++) {
		ck_assert_int_eq(ratelimit_shared_new(), 0);
		rl = ratelimit_new(64);
		ck_assert_int_eq(forked_takes(rl), 4 * 50);
		ratelimit_free(rl);
	}
}
END_TEST

/*
 * Whatever a worker writes into the shared slots, takes stay in bounds:
 * no crash, and no wait longer than one token's interval (6 s here).
 */
START_TEST(corrupted_table)
{
	static const struct conf_rate lim = {
		.enabled = true, .by = RATE_BY_IP, .count = 10,
		.per_ms = 60000, .burst = 5,
	};
	struct ratelimit	*rl;
	unsigned char		*p;
	char			 key[16];
	size_t			 len, i;
	uint32_t		 w;
	int			 fill, n;

	ck_assert_int_eq(ratelimit_shared_new(), 0);
	rl = ratelimit_new(0);
	p = ratelimit_table(rl, &len);
	ck_assert_uint_eq(len, RATELIMIT_SLOTS * 16);
	for (fill = 0; fill < 3; fill++) {
		for (i = 0; i < len; i++)
			p[i] = fill == 0 ? 0xff : fill == 1 ? 0x80 :
			    (unsigned char)(i * 2654435761U >> 13);
		for (i = 0; i < 20000; i++) {
			n = snprintf(key, sizeof(key), "c%zu", i % 5000);
			w = ratelimit_take(rl, &lim, "r", key, (size_t)n,
			    (int64_t)i);
			ck_assert_uint_le(w, 6);
		}
	}
	ratelimit_free(rl);
}
END_TEST

Suite *
unit_suite(void)
{
	Suite	*s = suite_create("ratelimit");
	TCase	*tc = tcase_create("ratelimit");

	tcase_set_timeout(tc, UNIT_TIMEOUT);
	tcase_add_test(tc, siphash_vectors);
	tcase_add_test(tc, burst_then_refused);
	tcase_add_test(tc, retry_after_slow_rate);
	tcase_add_test(tc, limits_apart_and_disabled);
	tcase_add_test(tc, scope_and_value);
	tcase_add_test(tc, table_bound);
	tcase_add_test(tc, no_overflow);
	tcase_add_test(tc, private_per_process);
	tcase_add_test(tc, shared_across_fork);
	tcase_add_test(tc, corrupted_table);
	suite_add_tcase(s, tc);
	return s;
}
