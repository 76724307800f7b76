/*
 * ratelimit.c - token buckets in a fixed-size, SipHash-indexed table that
 * the workers of an instance share.
 *
 * A bucket is one 64-bit word updated with compare-and-swap: the
 * theoretical arrival time (TAT, microseconds of CLOCK_MONOTONIC) of the
 * next request in its low 52 bits, under 12 check bits of its key's tag.
 * This is the virtual-scheduling form of a token bucket: a limit of count
 * per per_ms with burst B admits a request at now when
 *
 *	max(TAT, now) + T - now <= B * T,	T = per_ms / count,
 *
 * and sets TAT to max(TAT, now) + T.  A full bucket (TAT <= now) holds no
 * information, so reusing its slot loses nothing.  A slot's other word is
 * the 64-bit keyed tag of its (scope, limit, key), 0 when free, claimed
 * with compare-and-swap too; the key itself is not kept (two keys share a
 * bucket with probability 2^-64).  A state whose check bits are not the
 * tag's is a slot just taken over: a full bucket.  There is no lock: a
 * process that dies at any instruction leaves nothing behind that blocks
 * the others, and a take that loses RATELIMIT_RETRIES races in a row
 * (each lost race is another take that succeeded) is refused.
 *
 * Invariants: the table size, mask and SipHash key are in each process's
 * private memory, set before fork; only the slots are shared.  Every slot
 * index is computed from private data; every value read from a slot is
 * bounded before use (a TAT further ahead than one full burst is cut back
 * to it), and no sum of bounded values overflows the 52 bits.
 *
 * Threat model: clients choose keys (addresses, user and key ids) but not
 * slots, since the SipHash key is random (made by the master at start).  A
 * compromised worker can write anything into the shared slots: it can
 * then let any client through, or make any client wait as if its burst
 * were spent, for the instance's rate limits and nothing else; the
 * shared slots hold no pointer, size or index another process follows.
 * When a key's probe window is full, concurrent reuse of its slots may
 * briefly count one key in two slots or lose one take, and a slot taken
 * over under the same 12 check bits keeps its previous owner's debt (at
 * most one burst): the price of bounded memory, paid only when the table
 * is full.
 */
#include <sys/mman.h>

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "ratelimit.h"
#include "util.h"

#define RL_TAT_BITS	52
#define RL_TAT_MASK	((UINT64_C(1) << RL_TAT_BITS) - 1)
#define RL_SPAN_MAX	(UINT64_C(1) << 50)	/* us: now, T and B x T */
#define RL_FIND_TRIES	4

_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2 && sizeof(long long) == 8,
    "shared slots need address-free (lock-free) 64-bit atomics");

struct rl_slot {
	_Atomic uint64_t	 tag;		/* 0: free */
	_Atomic uint64_t	 state;		/* check << 52 | TAT */
};

struct ratelimit {
	struct rl_slot		*slots;
	size_t			 nslots;
	size_t			 mask;
	bool			 shared;	/* mapping owned by the instance */
	unsigned char		 sipkey[16];
};

/* This process's handle on the instance's shared table, or NULL. */
static struct ratelimit	*ratelimit_instance;

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


static void
ratelimit_instance_release(void)
{
	struct ratelimit	*rl = ratelimit_instance;

	if (rl == NULL)
		return;
	(void)munmap(rl->slots, rl->nslots * sizeof(*rl->slots));
	bw_wipe(rl->sipkey, sizeof(rl->sipkey));
	free(rl);
	ratelimit_instance = NULL;
}

int
ratelimit_shared_new(void)
{
	struct ratelimit	*rl;
	size_t			 len = RATELIMIT_SLOTS * sizeof(struct rl_slot);
	void			*p;

	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
	    -1, 0);
	if (p == MAP_FAILED) {
		log_warnx("rate limits: cannot map a shared table: %s; %s",
		    strerror(errno), ratelimit_instance != NULL ?
		    "the previous one is kept" : "counted per worker");
		return -1;
	}
	rl = bw_calloc(1, sizeof(*rl));
	rl->slots = p;
	rl->nslots = RATELIMIT_SLOTS;
	rl->mask = RATELIMIT_SLOTS - 1;
	rl->shared = true;
	if (bw_random(rl->sipkey, sizeof(rl->sipkey)) == -1) {
		log_warnx("rate limits: no randomness for a shared table");
		(void)munmap(p, len);
		free(rl);
		return -1;
	}
	ratelimit_instance_release();
	ratelimit_instance = rl;
	return 0;
}

struct ratelimit *
ratelimit_new(size_t slots)
{
	struct ratelimit	*rl;
	size_t			 n = RATELIMIT_PROBE;

	rl = bw_calloc(1, sizeof(*rl));
	if (ratelimit_instance != NULL) {
		*rl = *ratelimit_instance;
		return rl;
	}
	while (n < slots)
		n <<= 1;
	rl->slots = bw_calloc(n, sizeof(*rl->slots));
	rl->nslots = n;
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
	if (!rl->shared)
		free(rl->slots);
	bw_wipe(rl->sipkey, sizeof(rl->sipkey));
	free(rl);
}

void *
ratelimit_table(const struct ratelimit *rl, size_t *len)
{
	*len = rl->nslots * sizeof(*rl->slots);
	return rl->slots;
}

/*
 * The tag of (scope, limit, key): the same in every process, so that the
 * workers of an instance, and the generations after a reload, agree on
 * it.  A changed limit is a new bucket.  Never 0, which marks a free slot.
 */
static uint64_t
ratelimit_tag(const struct ratelimit *rl, const struct conf_rate *limit,
    const char *scope, const char *key, size_t keylen)
{
	unsigned char	 buf[8 + 4 * 4 + RATELIMIT_KEY_MAX];
	uint64_t	 v[5];
	size_t		 i;

	v[0] = ratelimit_siphash(rl->sipkey, scope != NULL ? scope : "",
	    scope != NULL ? strlen(scope) : 0);
	v[1] = (uint64_t)limit->by;
	v[2] = limit->count;
	v[3] = limit->per_ms;
	v[4] = limit->burst;
	for (i = 0; i < 8; i++)
		buf[i] = (unsigned char)(v[0] >> (8 * i));
	for (i = 0; i < 16; i++)
		buf[8 + i] = (unsigned char)(v[1 + i / 4] >> (8 * (i % 4)));
	memcpy(buf + 24, key, keylen);
	v[0] = ratelimit_siphash(rl->sipkey, buf, 24 + keylen);
	return v[0] != 0 ? v[0] : 1;
}

static uint64_t
ratelimit_pack(uint64_t tag, uint64_t tat)
{
	return (tag & ~RL_TAT_MASK) | tat;
}

/*
 * The bucket's TAT as seen at now, bounded to [now, now + tol]: a state
 * under another key's check bits (a slot just claimed) is a full bucket.
 */
static uint64_t
ratelimit_tat(uint64_t state, uint64_t tag, uint64_t now, uint64_t tol)
{
	uint64_t	 tat = state & RL_TAT_MASK;

	if ((state & ~RL_TAT_MASK) != (tag & ~RL_TAT_MASK) || tat < now)
		return now;
	return tat - now > tol ? now + tol : tat;
}

/* The i-th slot of the probe window of tag. */
static struct rl_slot *
ratelimit_slot(struct ratelimit *rl, uint64_t tag, size_t i)
{
	return &rl->slots[(tag + i) & rl->mask];
}

/*
 * Whether slot s carries tag after this call: cur, its tag as last read,
 * was tag, or tag replaced cur, or a process that won the race to replace
 * cur wrote the same tag (the failed exchange reads the winner's tag).
 */
static bool
ratelimit_own(struct rl_slot *s, uint64_t cur, uint64_t tag)
{
	return cur == tag ||
	    atomic_compare_exchange_strong(&s->tag, &cur, tag) || cur == tag;
}

static struct rl_slot *
ratelimit_lookup(struct ratelimit *rl, uint64_t tag)
{
	struct rl_slot	*s;
	size_t		 i;

	for (i = 0; i < RATELIMIT_PROBE; i++) {
		s = ratelimit_slot(rl, tag, i);
		if (atomic_load(&s->tag) == tag)
			return s;
	}
	return NULL;
}

/*
 * Claims the first free slot of the window.  Every process scans in the
 * same order and free slots only ever get taken, so two processes
 * claiming for one key end up in the same slot.
 */
static struct rl_slot *
ratelimit_claim_free(struct ratelimit *rl, uint64_t tag)
{
	struct rl_slot	*s;
	uint64_t	 cur;
	size_t		 i;

	for (i = 0; i < RATELIMIT_PROBE; i++) {
		s = ratelimit_slot(rl, tag, i);
		cur = atomic_load(&s->tag);
		if ((cur == 0 || cur == tag) && ratelimit_own(s, cur, tag))
			return s;
	}
	return NULL;
}

/* Takes over the slot of the window whose bucket is nearest to full. */
static struct rl_slot *
ratelimit_claim_victim(struct ratelimit *rl, uint64_t tag)
{
	struct rl_slot	*s, *victim = NULL;
	uint64_t	 tat, min = 0, cur;
	size_t		 i;

	for (i = 0; i < RATELIMIT_PROBE; i++) {
		s = ratelimit_slot(rl, tag, i);
		tat = atomic_load(&s->state) & RL_TAT_MASK;
		if (victim == NULL || tat < min) {
			victim = s;
			min = tat;
		}
	}
	cur = atomic_load(&victim->tag);
	return ratelimit_own(victim, cur, tag) ? victim : NULL;
}

static struct rl_slot *
ratelimit_find(struct ratelimit *rl, uint64_t tag)
{
	struct rl_slot	*s;
	int		 i;

	for (i = 0; i < RL_FIND_TRIES; i++)
		if ((s = ratelimit_lookup(rl, tag)) != NULL ||
		    (s = ratelimit_claim_free(rl, tag)) != NULL ||
		    (s = ratelimit_claim_victim(rl, tag)) != NULL)
			return s;
	return NULL;
}

/* T and B x T of a limit in microseconds, each in [1, RL_SPAN_MAX]. */
static void
ratelimit_span(const struct conf_rate *limit, uint64_t *t, uint64_t *tol)
{
	uint64_t	 per = (uint64_t)limit->per_ms * 1000;
	uint64_t	 burst = limit->burst > 0 ? limit->burst : 1;

	*t = (per + limit->count - 1) / limit->count;
	if (*t > RL_SPAN_MAX)
		*t = RL_SPAN_MAX;
	*tol = *t > RL_SPAN_MAX / burst ? RL_SPAN_MAX : *t * burst;
}

static uint32_t
ratelimit_retry_after(uint64_t wait_us)
{
	uint64_t	 s = (wait_us + 999999) / 1000000;

	return s == 0 ? 1 : s > UINT32_MAX ? UINT32_MAX : (uint32_t)s;
}

/*
 * Contention that outlasts RATELIMIT_RETRIES (every failed swap is some
 * other take that succeeded) refuses: the limit fails closed.
 */
uint32_t
ratelimit_take(struct ratelimit *rl, const struct conf_rate *limit,
    const char *scope, const char *key, size_t keylen, int64_t now_ms)
{
	struct rl_slot	*s;
	uint64_t	 tag, t, tol, now, old, tat;
	int		 i;

	if (!limit->enabled || limit->count == 0 || limit->per_ms == 0)
		return 0;
	if (keylen > RATELIMIT_KEY_MAX)
		keylen = RATELIMIT_KEY_MAX;
	ratelimit_span(limit, &t, &tol);
	if (now_ms <= 0)
		now = 0;
	else if ((uint64_t)now_ms >= RL_SPAN_MAX / 1000)
		now = RL_SPAN_MAX;
	else
		now = (uint64_t)now_ms * 1000;
	tag = ratelimit_tag(rl, limit, scope, key, keylen);
	for (i = 0; i < RATELIMIT_RETRIES; i++) {
		if ((s = ratelimit_find(rl, tag)) == NULL)
			break;
		old = atomic_load(&s->state);
		tat = ratelimit_tat(old, tag, now, tol);
		if (tat + t - now > tol)
			return ratelimit_retry_after(tat + t - now - tol);
		if (atomic_compare_exchange_strong(&s->state, &old,
		    ratelimit_pack(tag, tat + t)))
			return 0;
	}
	return 1;
}
