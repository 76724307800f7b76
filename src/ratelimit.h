/*
 * ratelimit.h - token buckets shared by the workers of an instance
 * (SPEC 4 rate_limit, SPEC 5 429, SPEC 13 "rate limits are per instance").
 *
 * A bucket is kept per (scope, limit, key): the scope is the name of the
 * route, the limit its `rate_limit` (or auth.endpoint_rate_limit), the key
 * the client address, user id or API key id.  Buckets live in a
 * fixed-size table: memory is bounded whatever the number of clients,
 * and when a key's probe window is full
 * the bucket nearest to full is reused.  Keys are hashed with a random
 * SipHash key so that clients cannot aim at one slot.
 *
 * The master calls ratelimit_shared_new() once, before it forks the first
 * worker: the table is then mapped shared and every ratelimit_new() in a
 * process forked afterwards uses it, so all the workers of the instance,
 * of every generation, draw from the same buckets.  A reload keeps the
 * buckets of the limits it does not change; a changed limit (rate or
 * burst) starts full.  Without a shared table (tests, tools)
 * ratelimit_new() makes a private one.
 */
#ifndef BW_RATELIMIT_H
#define BW_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

#include "conf.h"

#define RATELIMIT_SLOTS		65536	/* buckets per instance (power of 2) */
#define RATELIMIT_PROBE		8	/* slots looked at per key */
#define RATELIMIT_KEY_MAX	64	/* bytes of a key that count */
#define RATELIMIT_RETRIES	64	/* compare-and-swap attempts per take */

struct ratelimit;

/*
 * Maps a fresh shared table of RATELIMIT_SLOTS buckets under a fresh
 * SipHash key for the processes forked from now on, and releases this
 * process's mapping of the previous one (children keep theirs).  On
 * failure it logs, and the previous table (or none: per-process tables)
 * stays.  Returns 0 or -1.
 */
int		 ratelimit_shared_new(void);

/*
 * A handle on the shared table when there is one (slots is then
 * ignored), else a private table of at least slots buckets.
 */
struct ratelimit *ratelimit_new(size_t slots);
void		 ratelimit_free(struct ratelimit *);

/*
 * Takes one token for key under limit in scope (a NUL-terminated name,
 * the route's) at time now_ms (CLOCK_MONOTONIC,
 * the same in every process).  Returns 0 when the request may proceed, or
 * the number of seconds (>= 1) after which a token will be there again
 * (the Retry-After value).  A disabled limit always admits.
 */
uint32_t	 ratelimit_take(struct ratelimit *, const struct conf_rate *,
		    const char *scope, const char *key, size_t keylen,
		    int64_t now_ms);

/* The memory of a table's slots (exposed for tests that corrupt it). */
void		*ratelimit_table(const struct ratelimit *, size_t *len);

/* SipHash-2-4 of data under a 16-byte key (exposed for tests). */
uint64_t	 ratelimit_siphash(const unsigned char key[16], const void *,
		    size_t);

#endif
