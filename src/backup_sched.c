/*
 * backup_sched.c - the daemon's backup schedule (backup_sched.h).
 *
 * A libevent timer in the master fires at the next due time, or after
 * BACKUP_SCHED_TICK_S at most so that a changed clock or configuration is
 * noticed; when a backup is due and no runner is alive, the master forks
 * one.  The runner keeps the master's credentials (the service user; never
 * the worker user), closes every descriptor it inherited beyond stdio,
 * resets the master's signal handlers, runs backup_run() (backup.h) and
 * exits 0 (done), 2 (another backup held the lock) or 1 (failed).  A due
 * time that comes while the runner is alive is skipped (logged): two
 * backups never overlap, here or with a manual --backup (the lock).
 *
 * Invariants: at most one runner; the schedule is always armed while a
 * backup section exists; the master never waits on the runner except at
 * its very end (bounded by BACKUP_SCHED_STOP_MS).
 */
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "backup.h"
#include "backup_sched.h"
#include "conf.h"
#include "log.h"
#include "util.h"

struct backup_sched {
	struct event_base	*base;
	const struct conf	*conf;
	struct event		*timer;
	time_t			 next;		/* due; 0: not scheduled */
	time_t			 last;		/* latest start, -1 none */
	pid_t			 runner;	/* -1: none */
};

#define BACKUP_SCHED_DAY	86400

time_t
backup_sched_next(const struct conf_backup *b, time_t now, time_t last)
{
	time_t	 t, every;

	if (b->at_minute >= 0) {
		t = now - now % BACKUP_SCHED_DAY + (time_t)b->at_minute * 60;
		if (t <= now)
			t += BACKUP_SCHED_DAY;
		return t;
	}
	every = (time_t)(b->every_ms / 1000);
	if (last < 0 || last + every <= now)
		return now;
	return last + every;
}

static void
backup_sched_arm(struct backup_sched *s)
{
	struct timeval	 tv;
	time_t		 now = time(NULL), wait;

	evtimer_del(s->timer);
	if (s->conf->backup == NULL) {
		s->next = 0;
		return;
	}
	wait = s->next > now ? s->next - now : 0;
	if (wait > BACKUP_SCHED_TICK_S)
		wait = BACKUP_SCHED_TICK_S;
	bw_ms_to_tv((int64_t)wait * 1000, &tv);
	if (evtimer_add(s->timer, &tv) == -1)
		log_errorx("backup schedule: cannot arm the timer");
}

static void
backup_sched_plan(struct backup_sched *s)
{
	time_t		 now = time(NULL), last = s->last;
	char		 when[BACKUP_TIME_LEN + 1];
	int64_t		 ok;

	if (s->conf->backup == NULL) {
		backup_sched_arm(s);
		return;
	}
	if (last < 0 && (ok = backup_last_success(
	    s->conf->backup->directory)) >= 0)
		last = (time_t)ok;
	s->next = backup_sched_next(s->conf->backup, now, last);
	if (backup_time_text((uint64_t)s->next, when) == 0)
		log_info("next backup at %s", when);
	backup_sched_arm(s);
}

static void __attribute__((noreturn))
backup_sched_child(const struct conf *conf)
{
	static const int	 sigs[] = {
		SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2, SIGCHLD, SIGPIPE,
	};
	struct backup_done	 d;
	struct backup_err	 e;
	sigset_t		 none;
	size_t			 i;

	for (i = 0; i < BW_ARRAY_LEN(sigs); i++)
		(void)signal(sigs[i], SIG_DFL);
	sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
	(void)prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0);
	(void)close_range(STDERR_FILENO + 1, ~0U, 0);
	log_set_procname("backup");
	switch (backup_run(conf, &d, &e)) {
	case BACKUP_DONE:
		_exit(0);
	case BACKUP_BUSY:
		log_warnx("backup skipped: %s", e.msg);
		_exit(2);
	case BACKUP_FAILED:
		break;
	}
	_exit(1);
}

static void
backup_sched_start(struct backup_sched *s)
{
	sigset_t	 all, old;
	pid_t		 pid;

	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, &old);
	pid = fork();
	if (pid == 0)
		backup_sched_child(s->conf);
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (pid == -1) {
		log_errorx("backup: fork: %s", strerror(errno));
		backup_audit("backup.failure", "cannot fork the backup runner");
		return;
	}
	s->runner = pid;
	log_info("backup runner started (pid %ld)", (long)pid);
}

static void
backup_sched_fire(evutil_socket_t fd, short what, void *arg)
{
	struct backup_sched	*s = arg;
	time_t			 now = time(NULL);

	(void)fd;
	(void)what;
	if (s->conf->backup == NULL)
		return;
	if (now < s->next) {
		backup_sched_arm(s);
		return;
	}
	s->last = now;
	if (s->runner > 0)
		log_warnx("backup due but the previous one (pid %ld) still "
		    "runs: skipped", (long)s->runner);
	else
		backup_sched_start(s);
	backup_sched_plan(s);
}

struct backup_sched *
backup_sched_new(struct event_base *base, const struct conf *conf)
{
	struct backup_sched	*s;

	s = bw_calloc(1, sizeof(*s));
	s->base = base;
	s->conf = conf;
	s->last = -1;
	s->runner = -1;
	if ((s->timer = evtimer_new(base, backup_sched_fire, s)) == NULL) {
		log_errorx("backup schedule: no timer");
		free(s);
		return NULL;
	}
	backup_sched_plan(s);
	return s;
}

void
backup_sched_reload(struct backup_sched *s, const struct conf *conf)
{
	if (s == NULL)
		return;
	s->conf = conf;
	backup_sched_plan(s);
}

int
backup_sched_reaped(struct backup_sched *s, pid_t pid, int status)
{
	char	 why[64];

	if (s == NULL || s->runner <= 0 || pid != s->runner)
		return 0;
	s->runner = -1;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		log_info("backup runner (pid %ld) done", (long)pid);
	else if (WIFEXITED(status))
		log_warnx("backup runner (pid %ld) exited %d", (long)pid,
		    WEXITSTATUS(status));
	else {
		(void)snprintf(why, sizeof(why), "the backup runner was "
		    "killed by signal %d", WIFSIGNALED(status) ?
		    WTERMSIG(status) : 0);
		backup_audit("backup.failure", why);
	}
	return 1;
}

/* At exit: a running backup is stopped (it removes its temporary). */
static void
backup_sched_stop_runner(struct backup_sched *s)
{
	struct timespec	 ts = { 0, 50000000L };
	int		 status, waited = 0;
	pid_t		 r;

	log_notice("stopping the running backup (pid %ld)", (long)s->runner);
	(void)kill(s->runner, SIGTERM);
	for (;;) {
		r = waitpid(s->runner, &status, WNOHANG);
		if (r == s->runner || (r == -1 && errno != EINTR))
			break;
		if (waited >= BACKUP_SCHED_STOP_MS) {
			(void)kill(s->runner, SIGKILL);
			(void)waitpid(s->runner, &status, 0);
			break;
		}
		(void)nanosleep(&ts, NULL);
		waited += 50;
	}
	s->runner = -1;
}

void
backup_sched_free(struct backup_sched *s)
{
	if (s == NULL)
		return;
	if (s->runner > 0)
		backup_sched_stop_runner(s);
	event_free(s->timer);
	free(s);
}
