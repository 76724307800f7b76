/*
 * test_ratelimit.c - token buckets: burst, refill, Retry-After, keys and
 * limits kept apart, the table bound, and SipHash against its reference
 * vectors.
 */
#include <stdio.h>
#include <string.h>

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

	ck_assert_uint_eq(ratelimit_take(rl, &ten_per_s, "a", 1, t), 0);
	ck_assert_uint_eq(ratelimit_take(rl, &ten_per_s, "a", 1, t), 0);
	ck_assert_uint_eq(ratelimit_take(rl, &ten_per_s, "a", 1, t), 0);
	/* The burst of 3 is used up: one token comes in 100 ms -> 1 s. */
	ck_assert_uint_eq(ratelimit_take(rl, &ten_per_s, "a", 1, t), 1);
	/* Another key has its own bucket. */
	ck_assert_uint_eq(ratelimit_take(rl, &ten_per_s, "b", 1, t), 0);
	/* 100 ms later one token is back, and only one. */
	ck_assert_uint_eq(ratelimit_take(rl, &ten_per_s, "a", 1, t + 100), 0);
	ck_assert_uint_eq(ratelimit_take(rl, &ten_per_s, "a", 1, t + 100), 1);
	/* Long idle: full burst again, never more. */
	t += 3600000;
	ck_assert_uint_eq(ratelimit_take(rl, &ten_per_s, "a", 1, t), 0);
	ck_assert_uint_eq(ratelimit_take(rl, &ten_per_s, "a", 1, t), 0);
	ck_assert_uint_eq(ratelimit_take(rl, &ten_per_s, "a", 1, t), 0);
	ck_assert_uint_eq(ratelimit_take(rl, &ten_per_s, "a", 1, t), 1);
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

	ck_assert_uint_eq(ratelimit_take(rl, &per_minute, "ip", 2, 0), 0);
	/* 10 per minute: the next token after 6 s. */
	ck_assert_uint_eq(ratelimit_take(rl, &per_minute, "ip", 2, 0), 6);
	ck_assert_uint_eq(ratelimit_take(rl, &per_minute, "ip", 2, 5000), 1);
	ck_assert_uint_eq(ratelimit_take(rl, &per_minute, "ip", 2, 6000), 0);
	ratelimit_free(rl);
}
END_TEST

START_TEST(limits_apart_and_disabled)
{
	struct conf_rate	 other = ten_per_s, off = { .enabled = false };
	struct ratelimit	*rl = ratelimit_new(64);
	int			 i;

	other.burst = 1;
	ck_assert_uint_eq(ratelimit_take(rl, &other, "a", 1, 0), 0);
	ck_assert_uint_ne(ratelimit_take(rl, &other, "a", 1, 0), 0);
	/* The same key under another limit is another bucket. */
	ck_assert_uint_eq(ratelimit_take(rl, &ten_per_s, "a", 1, 0), 0);
	for (i = 0; i < 1000; i++)
		ck_assert_uint_eq(ratelimit_take(rl, &off, "a", 1, 0), 0);
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
		ck_assert_uint_eq(ratelimit_take(rl, &ten_per_s, key,
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

	ck_assert_uint_eq(ratelimit_take(rl, &big, "k", 1, 0), 0);
	ck_assert_uint_eq(ratelimit_take(rl, &big, "k", 1, INT64_MAX / 4), 0);
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
	tcase_add_test(tc, table_bound);
	tcase_add_test(tc, no_overflow);
	suite_add_tcase(s, tc);
	return s;
}
