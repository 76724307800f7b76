/*
 * cpus.h - how many CPUs this process may use (server.workers: auto).
 */
#ifndef BW_CPUS_H
#define BW_CPUS_H

#include <stdint.h>

/*
 * The CPUs of the affinity mask, capped by the cgroup v2 cpu.max quota of
 * this process's cgroup and its ancestors (rounded up), at least 1 and at
 * most max.
 */
uint32_t	 cpus_count(uint32_t max);

#endif
