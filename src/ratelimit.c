/*
 * ratelimit.c - token buckets in a fixed-size, SipHash-indexed table.
 *
 * Tokens are counted in millionths so refills at any rate stay exact
 * enough without floating point.  A bucket full for its burst needs no
 * refill arithmetic beyond a cap, so a long-idle key costs nothing.
 */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "ratelimit.h"
#include "util.h"

#define SCALE	1000000	/* units of one token */

struct rl_slot {
	const struct conf_rate	*limit;		/* NULL: free */
	uint64_t		 hash;
	int64_t			 last_ms;
	int64_t			 tokens;	/* millionths of a token */
	int64_t			 rem;		/* refill remainder (/ per_ms) */
	size_t			 keylen;
	char			 key[RATELIMIT_KEY_MAX];
};

struct ratelimit {
	struct rl_slot		*slots;
	size_t			 mask;
	unsigned char		 sipkey[16];
};

#define ROTL(x, b)	(uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

#define SIPROUND do {							\
	v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32);	\
	v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2;				\
	v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0;				\
	v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32);	\
} while (0)

static uint64_t
le64(const unsigned char *p, size_t n)
{
	uint64_t	 v = 0;
	size_t		 i;

	for (i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

uint64_t
ratelimit_siphash(const unsigned char key[16], const void *data, size_t len)
{
	const unsigned char	*p = data;
	uint64_t		 k0 = le64(key, 8), k1 = le64(key + 8, 8);
	uint64_t		 v0 = k0 ^ 0x736f6d6570736575ULL;
	uint64_t		 v1 = k1 ^ 0x646f72616e646f6dULL;
	uint64_t		 v2 = k0 ^ 0x6c7967656e657261ULL;
	uint64_t		 v3 = k1 ^ 0x7465646279746573ULL;
	uint64_t		 m;
	size_t			 i, full = len - len % 8;

	for (i = 0; i < full; i += 8) {
		m = le64(p + i, 8);
		v3 ^= m;
		SIPROUND;
		SIPROUND;
		v0 ^= m;
	}
	m = le64(p + full, len - full) | ((uint64_t)(len & 0xff) << 56);
	v3 ^= m;
	SIPROUND;
	SIPROUND;
	v0 ^= m;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

struct ratelimit *
ratelimit_new(size_t slots)
{
	struct ratelimit	*rl;
	size_t			 n = RATELIMIT_PROBE;

	while (n < slots)
		n <<= 1;
	rl = bw_calloc(1, sizeof(*rl));
	rl->slots = bw_calloc(n, sizeof(*rl->slots));
	rl->mask = n - 1;
	if (bw_random(rl->sipkey, sizeof(rl->sipkey)) == -1)
		fatal("ratelimit: no randomness");
	return rl;
}

void
ratelimit_free(struct ratelimit *rl)
{
	if (rl == NULL)
		return;
	free(rl->slots);
	free(rl);
}

/*
 * The bucket of (limit, key): an existing one, else a free slot, else the
 * least recently used slot of the probe window, reset.
 */
static struct rl_slot *
rl_find(struct ratelimit *rl, const struct conf_rate *limit, const char *key,
    size_t keylen, int64_t now_ms)
{
	struct rl_slot	*s, *victim = NULL;
	uint64_t	 h;
	size_t		 i;

	h = ratelimit_siphash(rl->sipkey, key, keylen) ^
	    (uint64_t)(uintptr_t)limit;
	for (i = 0; i < RATELIMIT_PROBE; i++) {
		s = &rl->slots[(h + i) & rl->mask];
		if (s->limit == limit && s->hash == h && s->keylen == keylen &&
		    memcmp(s->key, key, keylen) == 0)
			return s;
		if (victim == NULL || s->limit == NULL ||
		    (victim->limit != NULL && s->last_ms < victim->last_ms))
			victim = s;
	}
	victim->limit = limit;
	victim->hash = h;
	victim->keylen = keylen;
	memcpy(victim->key, key, keylen);
	victim->last_ms = now_ms;
	victim->tokens = (int64_t)limit->burst * SCALE;
	victim->rem = 0;
	return victim;
}

uint32_t
ratelimit_take(struct ratelimit *rl, const struct conf_rate *limit,
    const char *key, size_t keylen, int64_t now_ms)
{
	struct rl_slot	*s;
	int64_t		 cap, elapsed, need, wait_ms;

	if (!limit->enabled || limit->count == 0 || limit->per_ms == 0)
		return 0;
	if (keylen > RATELIMIT_KEY_MAX)
		keylen = RATELIMIT_KEY_MAX;
	s = rl_find(rl, limit, key, keylen, now_ms);
	cap = (int64_t)(limit->burst > 0 ? limit->burst : 1) * SCALE;
	elapsed = now_ms - s->last_ms;
	if (elapsed > 0) {
		/* Past one full refill of the burst the bucket is just full. */
		if (elapsed >= (int64_t)limit->per_ms * (cap / SCALE + 1))
			s->tokens = cap;
		else {
			/*
			 * 128 bits: elapsed x count x SCALE may pass 2^63.
			 * The remainder is kept so refills add up exactly.
			 */
			__int128 add = (__int128)elapsed * limit->count *
			    SCALE + s->rem;

			s->tokens += (int64_t)(add / limit->per_ms);
			s->rem = (int64_t)(add % limit->per_ms);
		}
		if (s->tokens >= cap) {
			s->tokens = cap;
			s->rem = 0;
		}
		s->last_ms = now_ms;
	}
	if (s->tokens >= SCALE) {
		s->tokens -= SCALE;
		return 0;
	}
	need = SCALE - s->tokens;
	wait_ms = (int64_t)((__int128)need * limit->per_ms /
	    ((__int128)limit->count * SCALE));
	return (uint32_t)((wait_ms + 999) / 1000 > 0 ? (wait_ms + 999) / 1000 :
	    1);
}
