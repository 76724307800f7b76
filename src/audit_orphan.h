/*
 * audit_orphan.h - the record of an audited write whose request is gone.
 *
 * A client that closes its connection, or a request_timeout, ends an HTTP
 * request while its segment may still commit.  The row in bulwark.audit
 * commits with the write either way; this module sends the file record
 * as soon as the segment ends, instead of leaving it to the writer's next
 * recovery.  The record's status is null, as in a recovered record: no
 * response was sent.  A segment that failed rolled its row back (no
 * record is due); one whose outcome is unknown (the connection lost, the
 * worker stopped by its shutdown_timeout) is left to recovery.  An orphan
 * is pending until its segment has ended and, when it sent a record, the
 * writer has answered.
 */
#ifndef BW_AUDIT_ORPHAN_H
#define BW_AUDIT_ORPHAN_H

#include <stddef.h>
#include <stdint.h>

#include "audit.h"

struct audit_client;
struct db_req;

/*
 * Takes r over from its request: copies ev (its strings and detail; its
 * status and row are ignored) and the row id known so far.  A request not
 * sent yet is dropped instead: it never runs.
 */
void	 audit_orphan_adopt(struct db_req *r, struct audit_client *,
	    const struct audit_event *ev, int64_t row);
/* The orphans of this process still pending. */
size_t	 audit_orphan_pending(void);
/*
 * done(arg) runs once, when the last pending orphan has ended (a draining
 * worker waits so, within its shutdown_timeout).  Only one wait at a time.
 */
void	 audit_orphan_wait(void (*done)(void *), void *arg);

#endif
