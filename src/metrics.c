/*
 * metrics.c - the counters of /metrics (SPEC 12) and their Prometheus
 * text exposition.
 *
 * Why shared memory and not messages: the master maps one table
 * (MAP_SHARED | MAP_ANONYMOUS) before it forks anything, as for the rate
 * limits; every worker adds to it with relaxed atomic operations at the
 * moment it queues a response, and the admin listener reads it at scrape
 * time.  A scrape thus covers every response queued before it, with no
 * periodic sender, no message size bound and nothing lost when a worker
 * dies or a reload replaces it: the counters are the instance's, they
 * survive reloads and worker restarts and start from zero only with the
 * master.  Several workers (two generations during a reload included) may
 * add to the same counter; atomics make that exact.
 *
 * Routes are counted by name, not by index, since a reload may reorder or
 * rename routes.  A worker finds (or claims) a name's slot once and keeps
 * the slot in a private cache keyed by the name's address.  A claim is a
 * compare-and-swap of the slot's state (free -> claiming -> named); two
 * workers that claim the same name at once get two slots, which the
 * exposition merges.  Slot 0 is the empty name: requests that matched no
 * route, and every name once all METRICS_ROUTES slots are taken (logged
 * once per worker).  Gauges per worker slot (pool use, waiting requests,
 * audit records pending) are stored by the worker of that slot.
 *
 * Threat model: a compromised worker can write anything into the table:
 * it can falsify every metric of the instance, and nothing else.  The
 * admin listener follows no pointer, size or index from the table; it
 * reads a name only up to METRICS_NAME_MAX and writes it into a label
 * only when it is a valid route name (else the slot is skipped), so no
 * label holds anything but a configured route name: never a token, user
 * name or raw path.
 */
#include <sys/mman.h>

#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "log.h"
#include "metrics.h"
#include "util.h"

#define METRICS_NSTATUS		(METRICS_STATUS_MAX - METRICS_STATUS_MIN + 1)
#define METRICS_CACHE		4096	/* worker's name -> slot, power of 2 */

enum metrics_state {
	METRICS_FREE = 0,
	METRICS_CLAIMING,
	METRICS_NAMED,
};

/* Upper bounds of the duration histogram, microseconds; then +Inf. */
static const uint64_t metrics_bounds_us[] = {
	1000, 5000, 10000, 25000, 50000, 100000, 250000, 500000,
	1000000, 2500000, 5000000, 10000000,
};
#define METRICS_NBUCKETS	(BW_ARRAY_LEN(metrics_bounds_us) + 1)

static const char *const metrics_auth_reasons[METRICS_AUTH_COUNT] = {
	"missing", "invalid", "password", "locked",
};

struct metrics_route {
	_Atomic uint32_t	 state;
	char			 name[METRICS_NAME_MAX];
	_Atomic uint64_t	 status[METRICS_NSTATUS];
	_Atomic uint64_t	 bucket[METRICS_NBUCKETS];	/* not cumulative */
	_Atomic uint64_t	 sum_us;
	_Atomic uint64_t	 rate_limited;
};

struct metrics_worker {
	_Atomic uint64_t	 pool_in_use;
	_Atomic uint64_t	 pool_waiting;
	_Atomic uint64_t	 audit_queue;
};

struct metrics {
	_Atomic uint64_t	 auth_failures[METRICS_AUTH_COUNT];
	_Atomic uint64_t	 lockouts;
	_Atomic uint64_t	 tls_handshakes;
	_Atomic uint64_t	 tls_failures;
	_Atomic int64_t		 backup_last;
	struct metrics_worker	 worker[METRICS_WORKERS];
	struct metrics_route	 route[METRICS_ROUTES];
};

_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2 && ATOMIC_INT_LOCK_FREE == 2,
    "shared counters need address-free (lock-free) atomics");

/* Private to each process. */
static struct metrics	*metrics_shared;
static struct {
	const char	*name;
	uint32_t	 slot;
} metrics_cache[METRICS_CACHE];
static bool		 metrics_full_logged;

#define METRICS_ADD(x, n) \
	atomic_fetch_add_explicit(&(x), (n), memory_order_relaxed)
#define METRICS_GET(x)	atomic_load_explicit(&(x), memory_order_relaxed)

struct metrics *
metrics_shared_new(void)
{
	struct metrics	*m;

	m = mmap(NULL, sizeof(*m), PROT_READ | PROT_WRITE, MAP_SHARED |
	    MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return NULL;
	atomic_store(&m->backup_last, -1);
	atomic_store(&m->route[0].state, METRICS_NAMED);
	return m;
}

void
metrics_free(struct metrics *m)
{
	if (m == NULL)
		return;
	if (m == metrics_shared)
		metrics_set_instance(NULL);
	(void)munmap(m, sizeof(*m));
}

void
metrics_set_instance(struct metrics *m)
{
	metrics_shared = m;
	memset(metrics_cache, 0, sizeof(metrics_cache));
	metrics_full_logged = false;
}

struct metrics *
metrics_instance(void)
{
	return metrics_shared;
}

/*
 * A route name (^[a-z][a-z0-9_]*$) or a built-in endpoint's ("auth.login")
 * within METRICS_NAME_MAX, or empty.
 */
static bool
metrics_name_valid(const char *s, size_t *len)
{
	size_t	 i;

	for (i = 0; i < METRICS_NAME_MAX && s[i] != '\0'; i++) {
		if ((s[i] >= 'a' && s[i] <= 'z') || (i > 0 && ((s[i] >= '0' &&
		    s[i] <= '9') || s[i] == '_' || s[i] == '.')))
			continue;
		return false;
	}
	if (i == METRICS_NAME_MAX)
		return false;
	*len = i;
	return true;
}

static bool
metrics_slot_is(struct metrics_route *rt, const char *name, size_t len)
{
	return atomic_load_explicit(&rt->state, memory_order_acquire) ==
	    METRICS_NAMED && strncmp(rt->name, name, len) == 0 &&
	    rt->name[len] == '\0';
}

/* The slot of a name in the shared table, claimed when absent. */
static uint32_t
metrics_slot_find(struct metrics *m, const char *name)
{
	size_t		 len = strlen(name), i;
	uint32_t	 expect;

	if (len == 0 || len >= METRICS_NAME_MAX)
		return 0;
	for (i = 1; i < METRICS_ROUTES; i++)
		if (metrics_slot_is(&m->route[i], name, len))
			return (uint32_t)i;
	for (i = 1; i < METRICS_ROUTES; i++) {
		expect = METRICS_FREE;
		if (!atomic_compare_exchange_strong(&m->route[i].state,
		    &expect, METRICS_CLAIMING))
			continue;
		memcpy(m->route[i].name, name, len + 1);
		atomic_store_explicit(&m->route[i].state, METRICS_NAMED,
		    memory_order_release);
		return (uint32_t)i;
	}
	if (!metrics_full_logged) {
		log_warnx("metrics: more than %d route names; route %s is "
		    "counted as \"\"", METRICS_ROUTES - 1, name);
		metrics_full_logged = true;
	}
	return 0;
}

static struct metrics_route *
metrics_route_get(struct metrics *m, const char *name)
{
	uintptr_t	 h;
	size_t		 i, n;

	if (name == NULL)
		return &m->route[0];
	h = (uintptr_t)name;
	h ^= h >> 17;
	h *= UINT64_C(0x9e3779b97f4a7c15) & UINTPTR_MAX;
	for (n = 0, i = (size_t)(h >> 7); n < METRICS_CACHE; n++, i++) {
		i &= METRICS_CACHE - 1;
		if (metrics_cache[i].name == name)
			return &m->route[metrics_cache[i].slot];
		if (metrics_cache[i].name == NULL)
			break;
	}
	if (n == METRICS_CACHE)
		return &m->route[metrics_slot_find(m, name)];
	metrics_cache[i].name = name;
	metrics_cache[i].slot = metrics_slot_find(m, name);
	return &m->route[metrics_cache[i].slot];
}

void
metrics_response(const char *route, int status, uint64_t us)
{
	struct metrics_route	*rt;
	size_t			 b;

	if (metrics_shared == NULL)
		return;
	rt = metrics_route_get(metrics_shared, route);
	if (status >= METRICS_STATUS_MIN && status <= METRICS_STATUS_MAX)
		METRICS_ADD(rt->status[status - METRICS_STATUS_MIN], 1);
	for (b = 0; b < BW_ARRAY_LEN(metrics_bounds_us); b++)
		if (us <= metrics_bounds_us[b])
			break;
	METRICS_ADD(rt->bucket[b], 1);
	METRICS_ADD(rt->sum_us, us);
}

void
metrics_rate_limited(const char *route)
{
	if (metrics_shared != NULL)
		METRICS_ADD(metrics_route_get(metrics_shared,
		    route)->rate_limited, 1);
}

void
metrics_auth_failure(enum metrics_auth reason)
{
	if (metrics_shared != NULL && reason < METRICS_AUTH_COUNT)
		METRICS_ADD(metrics_shared->auth_failures[reason], 1);
}

void
metrics_lockout(void)
{
	if (metrics_shared != NULL)
		METRICS_ADD(metrics_shared->lockouts, 1);
}

void
metrics_tls_handshake(int ok)
{
	if (metrics_shared == NULL)
		return;
	if (ok)
		METRICS_ADD(metrics_shared->tls_handshakes, 1);
	else
		METRICS_ADD(metrics_shared->tls_failures, 1);
}

void
metrics_worker_set(int worker, uint64_t pool_in_use, uint64_t pool_waiting,
    uint64_t audit_queue)
{
	struct metrics_worker	*w;

	if (metrics_shared == NULL || worker < 0 || worker >= METRICS_WORKERS)
		return;
	w = &metrics_shared->worker[worker];
	atomic_store_explicit(&w->pool_in_use, pool_in_use,
	    memory_order_relaxed);
	atomic_store_explicit(&w->pool_waiting, pool_waiting,
	    memory_order_relaxed);
	atomic_store_explicit(&w->audit_queue, audit_queue,
	    memory_order_relaxed);
}

void
metrics_backup_set(int64_t t)
{
	if (metrics_shared != NULL)
		atomic_store_explicit(&metrics_shared->backup_last, t,
		    memory_order_relaxed);
}

/*
 * The exposition.  A route's series are the sum over its slots (one name
 * may hold several); names are snapshotted and sorted first.
 */
struct metrics_name {
	char		 name[METRICS_NAME_MAX];
	uint32_t	 slot;
};

static int
metrics_name_cmp(const void *a, const void *b)
{
	const struct metrics_name	*x = a, *y = b;
	int				 c = strcmp(x->name, y->name);

	return c != 0 ? c : (x->slot > y->slot) - (x->slot < y->slot);
}

static size_t
metrics_names(const struct metrics *m, struct metrics_name *out)
{
	const struct metrics_route	*rt;
	size_t				 i, n = 0, len;

	for (i = 0; i < METRICS_ROUTES; i++) {
		rt = &m->route[i];
		if (atomic_load_explicit(&rt->state, memory_order_acquire) !=
		    METRICS_NAMED)
			continue;
		memcpy(out[n].name, rt->name, METRICS_NAME_MAX);
		out[n].name[METRICS_NAME_MAX - 1] = '\0';
		if (i == 0)
			out[n].name[0] = '\0';
		else if (!metrics_name_valid(out[n].name, &len) || len == 0)
			continue;
		out[n++].slot = (uint32_t)i;
	}
	qsort(out, n, sizeof(*out), metrics_name_cmp);
	return n;
}

/* The summed counters of one route name: names[lo..hi). */
struct metrics_sum {
	uint64_t	 status[METRICS_NSTATUS];
	uint64_t	 bucket[METRICS_NBUCKETS];
	uint64_t	 sum_us;
	uint64_t	 rate_limited;
	uint64_t	 total;
};

static void
metrics_sum(const struct metrics *m, const struct metrics_name *names,
    size_t lo, size_t hi, struct metrics_sum *s)
{
	const struct metrics_route	*rt;
	size_t				 i, k;

	memset(s, 0, sizeof(*s));
	for (i = lo; i < hi; i++) {
		rt = &m->route[names[i].slot];
		for (k = 0; k < METRICS_NSTATUS; k++)
			s->status[k] += METRICS_GET(rt->status[k]);
		for (k = 0; k < METRICS_NBUCKETS; k++)
			s->bucket[k] += METRICS_GET(rt->bucket[k]);
		s->sum_us += METRICS_GET(rt->sum_us);
		s->rate_limited += METRICS_GET(rt->rate_limited);
	}
	for (k = 0; k < METRICS_NSTATUS; k++)
		s->total += s->status[k];
}

static void
metrics_help(struct evbuffer *b, const char *name, const char *type,
    const char *help)
{
	evbuffer_add_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help,
	    name, type);
}

static void
metrics_write_requests(struct evbuffer *b, const char *name,
    const struct metrics_sum *s)
{
	size_t	 k;

	for (k = 0; k < METRICS_NSTATUS; k++)
		if (s->status[k] > 0)
			evbuffer_add_printf(b, "bulwark_http_requests_total"
			    "{route=\"%s\",status=\"%zu\"} %" PRIu64 "\n", name,
			    k + METRICS_STATUS_MIN, s->status[k]);
}

static void
metrics_write_duration(struct evbuffer *b, const char *name,
    const struct metrics_sum *s)
{
	static const char	 fam[] = "bulwark_http_request_duration_seconds";
	uint64_t		 cum = 0;
	size_t			 k;

	for (k = 0; k < METRICS_NBUCKETS; k++) {
		cum += s->bucket[k];
		if (k < BW_ARRAY_LEN(metrics_bounds_us))
			evbuffer_add_printf(b, "%s_bucket{route=\"%s\","
			    "le=\"%" PRIu64 ".%06" PRIu64 "\"} %" PRIu64 "\n",
			    fam, name, metrics_bounds_us[k] / 1000000,
			    metrics_bounds_us[k] % 1000000, cum);
		else
			evbuffer_add_printf(b, "%s_bucket{route=\"%s\","
			    "le=\"+Inf\"} %" PRIu64 "\n", fam, name, cum);
	}
	evbuffer_add_printf(b, "%s_sum{route=\"%s\"} %" PRIu64 ".%06" PRIu64
	    "\n%s_count{route=\"%s\"} %" PRIu64 "\n", fam, name,
	    s->sum_us / 1000000, s->sum_us % 1000000, fam, name, cum);
}

/* Writes one family over every route name; which: 0, 1, 2. */
static void
metrics_write_routes(const struct metrics *m, const struct metrics_name *nm,
    size_t n, int which, struct evbuffer *b)
{
	struct metrics_sum	 s;
	size_t			 lo, hi;

	for (lo = 0; lo < n; lo = hi) {
		for (hi = lo + 1; hi < n && strcmp(nm[hi].name,
		    nm[lo].name) == 0; hi++)
			;
		metrics_sum(m, nm, lo, hi, &s);
		if (which == 0)
			metrics_write_requests(b, nm[lo].name, &s);
		else if (which == 1 && s.total > 0)
			metrics_write_duration(b, nm[lo].name, &s);
		else if (which == 2 && s.rate_limited > 0)
			evbuffer_add_printf(b, "bulwark_rate_limited_total"
			    "{route=\"%s\"} %" PRIu64 "\n", nm[lo].name,
			    s.rate_limited);
	}
}

static void
metrics_write_workers(const struct metrics *m, unsigned workers,
    struct evbuffer *b)
{
	unsigned	 i;

	if (workers > METRICS_WORKERS)
		workers = METRICS_WORKERS;
	metrics_help(b, "bulwark_db_pool_in_use", "gauge",
	    "Database connections with requests in flight, per worker.");
	for (i = 0; i < workers; i++)
		evbuffer_add_printf(b, "bulwark_db_pool_in_use{worker=\"%u\"} "
		    "%" PRIu64 "\n", i, METRICS_GET(m->worker[i].pool_in_use));
	metrics_help(b, "bulwark_db_pool_waiting", "gauge",
	    "Requests waiting for a database connection, per worker.");
	for (i = 0; i < workers; i++)
		evbuffer_add_printf(b, "bulwark_db_pool_waiting{worker=\"%u\"} "
		    "%" PRIu64 "\n", i, METRICS_GET(m->worker[i].pool_waiting));
}

static void
metrics_write_globals(const struct metrics *m, unsigned workers,
    struct evbuffer *b)
{
	uint64_t	 q = 0;
	int64_t		 t;
	unsigned	 i;

	metrics_help(b, "bulwark_auth_failures_total", "counter",
	    "Refused credentials by reason.");
	for (i = 0; i < METRICS_AUTH_COUNT; i++)
		evbuffer_add_printf(b, "bulwark_auth_failures_total"
		    "{reason=\"%s\"} %" PRIu64 "\n", metrics_auth_reasons[i],
		    METRICS_GET(m->auth_failures[i]));
	metrics_help(b, "bulwark_lockouts_total", "counter",
	    "Lockouts started by this instance.");
	evbuffer_add_printf(b, "bulwark_lockouts_total %" PRIu64 "\n",
	    METRICS_GET(m->lockouts));
	metrics_help(b, "bulwark_tls_handshakes_total", "counter",
	    "Completed TLS handshakes.");
	evbuffer_add_printf(b, "bulwark_tls_handshakes_total %" PRIu64 "\n",
	    METRICS_GET(m->tls_handshakes));
	metrics_help(b, "bulwark_tls_handshake_failures_total", "counter",
	    "Failed TLS handshakes.");
	evbuffer_add_printf(b, "bulwark_tls_handshake_failures_total %" PRIu64
	    "\n", METRICS_GET(m->tls_failures));
	for (i = 0; i < workers && i < METRICS_WORKERS; i++)
		q += METRICS_GET(m->worker[i].audit_queue);
	metrics_help(b, "bulwark_audit_queue_depth", "gauge",
	    "Audit records sent to the writer and not yet answered.");
	evbuffer_add_printf(b, "bulwark_audit_queue_depth %" PRIu64 "\n", q);
	metrics_help(b, "bulwark_backup_last_success_timestamp_seconds",
	    "gauge", "End of the last successful backup, seconds since the "
	    "epoch.");
	t = atomic_load_explicit(&m->backup_last, memory_order_relaxed);
	if (t < 0)
		return;
	evbuffer_add_printf(b, "bulwark_backup_last_success_timestamp_seconds "
	    "%" PRId64 "\n", t);
}

int
metrics_write(const struct metrics *m, unsigned workers, struct evbuffer *b)
{
	struct metrics_name	*nm;
	size_t			 n;

	if ((nm = calloc(METRICS_ROUTES, sizeof(*nm))) == NULL)
		return -1;
	n = metrics_names(m, nm);
	metrics_help(b, "bulwark_http_requests_total", "counter",
	    "Responses by route and status.");
	metrics_write_routes(m, nm, n, 0, b);
	metrics_help(b, "bulwark_http_request_duration_seconds", "histogram",
	    "Time from the request head to the queued response, by route.");
	metrics_write_routes(m, nm, n, 1, b);
	metrics_help(b, "bulwark_rate_limited_total", "counter",
	    "Requests refused by a rate limit, by route.");
	metrics_write_routes(m, nm, n, 2, b);
	metrics_write_workers(m, workers, b);
	metrics_write_globals(m, workers, b);
	free(nm);
	return 0;
}

uint64_t
metrics_count(const struct metrics *m, const char *route, int status)
{
	size_t		 i;
	uint64_t	 n = 0;

	if (status < METRICS_STATUS_MIN || status > METRICS_STATUS_MAX)
		return 0;
	for (i = 0; i < METRICS_ROUTES; i++)
		if (atomic_load(&m->route[i].state) == METRICS_NAMED &&
		    strncmp(m->route[i].name, route, METRICS_NAME_MAX) == 0)
			n += METRICS_GET(m->route[i].status[status -
			    METRICS_STATUS_MIN]);
	return n;
}
