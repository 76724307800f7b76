/*
 * backup_sched.h - the daemon's backup schedule (SPEC 10): backup.every or
 * backup.at (UTC), a runner child forked by the master when a backup is
 * due, one at a time.
 *
 * The master calls four hooks: backup_sched_new once its event loop
 * exists, backup_sched_reload when a new configuration takes over,
 * backup_sched_reaped for every child it reaps, backup_sched_free when it
 * ends (which stops a running backup: its temporary is removed).
 */
#ifndef BW_BACKUP_SCHED_H
#define BW_BACKUP_SCHED_H

#include <sys/types.h>

#include <stdint.h>
#include <time.h>

struct conf;
struct conf_backup;
struct event_base;
struct backup_sched;

/* The schedule is re-checked at least this often (clock changes). */
#define BACKUP_SCHED_TICK_S	60
/* A runner still there this long after SIGTERM at exit gets SIGKILL. */
#define BACKUP_SCHED_STOP_MS	10000

/* conf may have no backup section: then nothing is scheduled. */
struct backup_sched *backup_sched_new(struct event_base *,
	    const struct conf *);
/* The new configuration (the old one may be freed right after). */
void	 backup_sched_reload(struct backup_sched *, const struct conf *);
/* Returns 1 when pid was the runner, whose end it logs; 0 otherwise. */
int	 backup_sched_reaped(struct backup_sched *, pid_t, int status);
void	 backup_sched_free(struct backup_sched *);

/*
 * When the next backup is due (seconds since the epoch), given now and
 * last, the start of the latest backup (a run of this daemon or the last
 * success recorded in the directory; -1 when none is known).  at: the next
 * HH:MM UTC strictly after now.  every: last + every, or now when that has
 * passed or nothing is known.
 */
time_t	 backup_sched_next(const struct conf_backup *, time_t now,
	    time_t last);

#endif
