/*
 * ratelimit.h - per-worker token buckets (SPEC 4 rate_limit, SPEC 5 429).
 *
 * A bucket is kept per (limit, key): the limit is a route's `rate_limit`
 * (or auth.endpoint_rate_limit), the key the client address, user id or
 * API key id.  Buckets live in a fixed-size table: memory is bounded
 * whatever the number of clients, and when the table is full the least
 * recently used bucket of a probe window is reused.  Keys are hashed with
 * a per-process random SipHash key so that clients cannot aim at one
 * slot.  Limits are per worker and per instance (SPEC 13).
 */
#ifndef BW_RATELIMIT_H
#define BW_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

#include "conf.h"

#define RATELIMIT_SLOTS		65536	/* buckets per worker (power of 2) */
#define RATELIMIT_PROBE		8	/* slots looked at per key */
#define RATELIMIT_KEY_MAX	64	/* bytes of a key kept for comparison */

struct ratelimit;

struct ratelimit *ratelimit_new(size_t slots);
void		 ratelimit_free(struct ratelimit *);

/*
 * Takes one token for key under limit at time now_ms.  Returns 0 when the
 * request may proceed, or the number of seconds (>= 1) after which a
 * token will be there again (the Retry-After value).  A disabled limit
 * always admits.
 */
uint32_t	 ratelimit_take(struct ratelimit *, const struct conf_rate *,
		    const char *key, size_t keylen, int64_t now_ms);

/* SipHash-2-4 of data under a 16-byte key (exposed for tests). */
uint64_t	 ratelimit_siphash(const unsigned char key[16], const void *,
		    size_t);

#endif
