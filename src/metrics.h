/*
 * metrics.h - the counters behind /metrics (SPEC 12): one table in shared
 * memory, made by the master before it forks, counted into by the
 * workers, read by the admin listener and written in the Prometheus text
 * exposition format.
 */
#ifndef BW_METRICS_H
#define BW_METRICS_H

#include <stddef.h>
#include <stdint.h>

struct evbuffer;
struct metrics;

#define METRICS_ROUTES		2048	/* route names since start; [0] is "" */
#define METRICS_NAME_MAX	64	/* a route name with its NUL */
#define METRICS_STATUS_MIN	100
#define METRICS_STATUS_MAX	599
#define METRICS_WORKERS		256	/* CHAN_HEALTH_MAX */

enum metrics_auth {
	METRICS_AUTH_MISSING,	/* no credentials where a role is needed */
	METRICS_AUTH_INVALID,	/* a token or API key refused */
	METRICS_AUTH_PASSWORD,	/* login or password change refused */
	METRICS_AUTH_LOCKED,	/* login while locked out */
	METRICS_AUTH_COUNT,
};

/* A new zeroed shared table, or NULL (errno set). */
struct metrics	*metrics_shared_new(void);
void		 metrics_free(struct metrics *);
/* The process's table (inherited over fork); NULL: counting is off. */
void		 metrics_set_instance(struct metrics *);
struct metrics	*metrics_instance(void);

/*
 * Counting (workers; no-ops without an instance).  route is a route name
 * (^[a-z][a-z0-9_]*$, or a built-in endpoint's such as "auth.login"; the
 * pointer stays valid while the worker runs) or
 * NULL for a request that matched none.
 */
void	 metrics_response(const char *route, int status, uint64_t us);
void	 metrics_rate_limited(const char *route);
void	 metrics_auth_failure(enum metrics_auth);
void	 metrics_lockout(void);
void	 metrics_tls_handshake(int ok);
void	 metrics_worker_set(int worker, uint64_t pool_in_use,
	    uint64_t pool_waiting, uint64_t audit_queue);
/* The master: the last successful backup, seconds since the epoch or -1. */
void	 metrics_backup_set(int64_t t);

/* The exposition of m for workers worker slots; -1 on allocation failure. */
int	 metrics_write(const struct metrics *, unsigned workers,
	    struct evbuffer *);

/* For tests: the table's counter of one route and status. */
uint64_t metrics_count(const struct metrics *, const char *route, int status);

#endif
