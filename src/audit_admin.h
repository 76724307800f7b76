/*
 * audit_admin.h - the audit side of the administration modes (SPEC 3, 9):
 * the admin.* records of modes that change state, and --verify-audit.
 */
#ifndef BW_AUDIT_ADMIN_H
#define BW_AUDIT_ADMIN_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "audit.h"
#include "audit_file.h"

struct conf;

/* How long a mode waits for the lock another mode holds on audit.file. */
#define AUDIT_ADMIN_LOCK_WAIT_MS	5000

struct audit_admin {
	bool			 on;	/* the configuration has an audit log */
	int			 sock;	/* to the daemon's writer, or -1 */
	struct audit_file	 file;
	struct audit_key	 key;
	char			 instance[AUDIT_INSTANCE_MAX + 1];
};

/*
 * Before a mode changes anything: connects to the running daemon's
 * writer over audit.control_socket, or, when none answers, loads the key
 * and instance, opens and locks audit.file, so that a mode whose record
 * could not be written does not run.  Nothing to do without an audit
 * section.  0, or -1 with *err.
 */
int	 audit_admin_begin(struct audit_admin *, const struct conf *,
	    const char **err);
/*
 * After the mode: appends and syncs event "admin.<mode>" (dashes become
 * underscores) with detail, then moves bulwark.audit_head when pg is
 * usable (else the chain continues from the file).  0, or -1 with *err.
 */
int	 audit_admin_record(struct audit_admin *, PGconn *pg, const char *mode,
	    json_t *detail, const char **err);
void	 audit_admin_end(struct audit_admin *);

/*
 * One record of an event of the daemon (config.*, backup.*) with detail
 * (may be NULL): to the running daemon's writer, or, when none runs,
 * appended under the file's lock.  Nothing without an audit section.  0,
 * or -1 with *err.  It blocks (at most AUDIT_MSG_TIMEOUT_MS).
 */
int	 audit_admin_event(const struct conf *, const char *event,
	    json_t *detail, const char **err);

/*
 * For -t and start-up: the audit key loads (then is wiped) and the
 * instance id is known.  0, or -1 with *err.
 */
int	 audit_admin_check(const struct conf *, const char **err);

/*
 * --verify-audit FILE... (default: audit.file) [--from-seq N]: pg NULL
 * when the database is unreachable or not configured (audit_head then
 * not checked, and the report says so).  An exit status of SPEC 3.
 */
int	 audit_admin_verify(const struct conf *, PGconn *pg,
	    const char *const *files, size_t nfiles, const char *from_seq);

#endif
