/*
 * cpus.c - the CPUs this process may use, for server.workers: auto.
 *
 * The affinity mask (sched_getaffinity; the online CPUs when it cannot be
 * read), capped by the cgroup v2 cpu.max quota of this process's cgroup
 * and of every ancestor up to the root: a container limited to 2.5 CPUs
 * gets 3 workers, not one per host CPU.  A cgroup file that is missing,
 * unreadable or says "max" sets no cap.
 *
 * Threat model: /proc and /sys are the kernel's; lines are still read into
 * bounded buffers and numbers parsed with bounds.
 */
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cpus.h"
#include "util.h"

/* CPUs allowed by one cgroup's cpu.max ("max 100000" or "QUOTA PERIOD"). */
static uint64_t
cpus_cgroup_quota(const char *path)
{
	char		 line[64], *sp;
	uint64_t	 q, per;
	FILE		*fp;

	if ((fp = fopen(path, "re")) == NULL)
		return 0;
	sp = fgets(line, sizeof(line), fp);
	(void)fclose(fp);
	if (sp == NULL)
		return 0;
	line[strcspn(line, "\n")] = '\0';
	if ((sp = strchr(line, ' ')) == NULL)
		return 0;
	*sp++ = '\0';
	if (bw_parse_uint(line, UINT32_MAX, &q) == -1 ||
	    bw_parse_uint(sp, UINT32_MAX, &per) == -1 || q == 0 || per == 0)
		return 0;
	return (q + per - 1) / per;
}

static uint64_t
cpus_cgroup(void)
{
	char		 line[512], path[600], *p, *slash;
	FILE		*fp;
	uint64_t	 best = 0, n;

	if ((fp = fopen("/proc/self/cgroup", "re")) == NULL)
		return 0;
	p = NULL;
	while (fgets(line, sizeof(line), fp) != NULL) {
		if (strncmp(line, "0::/", 4) == 0) {
			p = line + 3;
			p[strcspn(p, "\n")] = '\0';
			break;
		}
	}
	(void)fclose(fp);
	while (p != NULL) {
		(void)snprintf(path, sizeof(path), "/sys/fs/cgroup%s/cpu.max",
		    strcmp(p, "/") == 0 ? "" : p);
		n = cpus_cgroup_quota(path);
		if (n > 0 && (best == 0 || n < best))
			best = n;
		if (strcmp(p, "/") == 0 || (slash = strrchr(p, '/')) == NULL)
			break;
		if (slash == p)
			slash[1] = '\0';
		else
			*slash = '\0';
	}
	return best;
}

uint32_t
cpus_count(uint32_t max)
{
	cpu_set_t	set;
	long		n;
	uint64_t	quota;

	CPU_ZERO(&set);
	if (sched_getaffinity(0, sizeof(set), &set) == 0)
		n = CPU_COUNT(&set);
	else
		n = sysconf(_SC_NPROCESSORS_ONLN);
	quota = cpus_cgroup();
	if (quota > 0 && quota < (uint64_t)n)
		n = (long)quota;
	if (n < 1)
		n = 1;
	if ((uint64_t)n > max)
		n = (long)max;
	return (uint32_t)n;
}
