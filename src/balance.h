/*
 * balance.h - the share of connections between the workers.
 *
 * The kernel spreads new connections over the workers' SO_REUSEPORT
 * sockets by a hash of their addresses, so 64 connections may land 25 on
 * one worker and 39 on the other; the heavier worker's clients then wait
 * longer for every answer (in six GET runs of bench/run against one
 * daemon, p99 rose with the imbalance: 9.0 ms at 32/32, 12.5 ms at
 * 25/39).  Every worker therefore also watches its siblings'
 * sockets, and each publishes how many connections it holds in a table
 * the master mapped shared before forking them.  A worker about to accept
 * leaves the connection to a sibling that holds fewer (balance_defer); a
 * connection still waiting BALANCE_DEFER_MS later is taken anyway, so a
 * busy, stuck or lying sibling delays a connection by that much at most.
 *
 * An entry is the pid of the worker that wrote it and its count, in one
 * atomic word: a worker of a new generation taking over a slot overwrites
 * the old one's entry, and the old worker withdrawing later (draining)
 * or the master on its exit clears the entry only while it is still its
 * own.
 *
 * Threat model: a compromised worker can write any entry; the harm is
 * bounded by the rule above (BALANCE_DEFER_MS per connection).
 */
#ifndef BW_BALANCE_H
#define BW_BALANCE_H

#include <sys/types.h>

#include <stdbool.h>
#include <stddef.h>

#define BALANCE_DEFER_MS	1	/* longest a connection is left */

struct balance;

/* A new shared table of nslots empty entries, or NULL (errno set). */
struct balance	*balance_new(size_t nslots);
void		 balance_free(struct balance *);

/* The worker of slot, pid, holds nconns connections and accepts. */
void	 balance_publish(struct balance *, size_t slot, pid_t pid,
	    size_t nconns);
/* The entry of slot emptied, if pid wrote it (draining, or exited). */
void	 balance_withdraw(struct balance *, size_t slot, pid_t pid);
/* True when another slot's worker accepts and holds fewer than nconns. */
bool	 balance_defer(const struct balance *, size_t slot, size_t nconns);

#endif
