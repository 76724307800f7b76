/*
 * balance.c - the share of connections between the workers (balance.h).
 *
 * One word per worker slot, 0 when empty, else pid << 32 | count (the
 * count saturates at BALANCE_COUNT_MAX).  Loads and stores are relaxed:
 * a stale count costs one connection placed as the kernel hashed it.
 */
#include <sys/mman.h>

#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#include "balance.h"

#define BALANCE_COUNT_MAX	UINT32_MAX

struct balance {
	size_t			 nslots;
	size_t			 size;		/* of the mapping */
	_Atomic uint64_t	 entry[];
};

struct balance *
balance_new(size_t nslots)
{
	struct balance	*b;
	size_t		 size;

	if (nslots == 0 || nslots > (SIZE_MAX - sizeof(*b)) /
	    sizeof(b->entry[0])) {
		errno = EINVAL;
		return NULL;
	}
	size = sizeof(*b) + nslots * sizeof(b->entry[0]);
	b = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED |
	    MAP_ANONYMOUS, -1, 0);
	if (b == MAP_FAILED)
		return NULL;
	b->nslots = nslots;
	b->size = size;
	return b;
}

void
balance_free(struct balance *b)
{
	if (b != NULL)
		(void)munmap(b, b->size);
}

static uint64_t
balance_word(pid_t pid, size_t nconns)
{
	uint64_t	 n = nconns < BALANCE_COUNT_MAX ? nconns :
			    BALANCE_COUNT_MAX;

	return (uint64_t)(uint32_t)pid << 32 | n;
}

void
balance_publish(struct balance *b, size_t slot, pid_t pid, size_t nconns)
{
	if (b == NULL || slot >= b->nslots || pid <= 0)
		return;
	atomic_store_explicit(&b->entry[slot], balance_word(pid, nconns),
	    memory_order_relaxed);
}

void
balance_withdraw(struct balance *b, size_t slot, pid_t pid)
{
	uint64_t	 v;

	if (b == NULL || slot >= b->nslots)
		return;
	v = atomic_load_explicit(&b->entry[slot], memory_order_relaxed);
	while (v != 0 && (pid_t)(uint32_t)(v >> 32) == pid &&
	    !atomic_compare_exchange_weak_explicit(&b->entry[slot], &v, 0,
	    memory_order_relaxed, memory_order_relaxed))
		;
}

bool
balance_defer(const struct balance *b, size_t slot, size_t nconns)
{
	uint64_t	 v;
	size_t		 s;

	if (b == NULL)
		return false;
	for (s = 0; s < b->nslots; s++) {
		if (s == slot)
			continue;
		v = atomic_load_explicit(&b->entry[s], memory_order_relaxed);
		if (v != 0 && (v & BALANCE_COUNT_MAX) < nconns)
			return true;
	}
	return false;
}
