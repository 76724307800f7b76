/*
 * audit_writer.h - the audit writer (SPEC 9, 11): one child of the master,
 * keeping the master's credentials, the only process of the daemon that
 * holds audit.file and the audit key.
 *
 * Master side: audit_writer_start() forks it (after the listeners are
 * open, before the workers); audit_writer_reaped() is offered every pid
 * the master reaps and restarts a writer that died; audit_writer_conf()
 * follows a reload; audit_writer_reopen() forwards SIGUSR1;
 * audit_writer_connect() gives the master a connected descriptor to hand
 * to a worker (audit_msg_send); audit_writer_stop() ends it after the
 * workers are gone.
 */
#ifndef BW_AUDIT_WRITER_H
#define BW_AUDIT_WRITER_H

#include <stdbool.h>
#include <sys/types.h>

#include <jansson.h>

struct conf;
struct event_base;

#define AUDIT_WRITER_RESTART_MS		1000	/* after a crash */
#define AUDIT_WRITER_RETRY_MS		1000	/* unwritable file, recovery */
#define AUDIT_WRITER_STOP_MS		10000	/* wait at stop, then SIGKILL */
#define AUDIT_WRITER_MAX_CONNS		256
#define AUDIT_WRITER_MAX_PENDING	1024	/* per connection */
#define AUDIT_WRITER_RECOVER_BATCH	500	/* < AUDIT_WRITER_MAX_PENDING */
#define AUDIT_WRITER_RECALL		1024	/* rows recovery appended */

/* Without an audit section: nothing, 0.  Else forks the writer; 0 or -1. */
int	 audit_writer_start(const struct conf *, struct event_base *,
	    const char **err);
void	 audit_writer_conf(const struct conf *);
bool	 audit_writer_reaped(pid_t, int status);
void	 audit_writer_reopen(void);
int	 audit_writer_connect(void);
void	 audit_writer_stop(void);
pid_t	 audit_writer_pid(void);
/*
 * One record of the daemon (config.*, backup.*) from the master or a
 * child that keeps its credentials, through the control socket, waiting
 * for it to be written (at most AUDIT_MSG_TIMEOUT_MS); detail may be NULL.
 * Nothing (0) without an audit section; -1 with *err.
 */
int	 audit_writer_event(const char *event, json_t *detail,
	    const char **err);

/* The writer process itself; an exit status. */
int	 audit_writer_main(const struct conf *, bool first);

#endif
