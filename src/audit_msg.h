/*
 * audit_msg.h - records on their way to the audit writer.
 *
 * One SOCK_SEQPACKET message per record: a JSON object with the members
 * of struct audit_event ("event", "request_id", "user", "ip", "api_key",
 * "route", "method", "path": strings; "status", "time_us", "row_id":
 * integers; "detail": an object), at most AUDIT_MSG_MAX bytes, or
 * {"probe":true}, which asks whether the log can be written now.  row_id
 * (struct audit_event's row) names the bulwark.audit row of an audited
 * write, whose seq the writer stores once the record is in the file.
 * The writer answers each message with {"seq":N} once the record is
 * written (and synced under fsync: always), or {"error":"..."}.
 *
 * Senders: workers over the descriptor the master connected for them
 * (audit_msg_send), administration modes over audit.control_socket
 * (audit_msg_call).
 */
#ifndef BW_AUDIT_MSG_H
#define BW_AUDIT_MSG_H

#include <stdint.h>

#include <jansson.h>

#include "audit.h"

#define AUDIT_MSG_MAX		((size_t)48 * 1024)
#define AUDIT_MSG_TIMEOUT_MS	10000	/* wait for an answer */

/* The message of ev; NULL when it does not fit AUDIT_MSG_MAX. */
char	*audit_msg_encode(const struct audit_event *, size_t *len);
/*
 * Parses a message: ev's strings and detail point into *root (the
 * caller's to json_decref).  0, 1 for a probe, or -1 when it is not a
 * well-formed record.
 */
int	 audit_msg_decode(const char *, size_t, json_t **root,
	    struct audit_event *ev);

/* Sends ev on a connected socket without waiting; 0 or -1 (errno). */
int	 audit_msg_send(int fd, const struct audit_event *);
/*
 * Connects to the writer's control socket; -1 with errno (ENOENT or
 * ECONNREFUSED: no daemon runs).
 */
int	 audit_msg_connect(const char *path);
/*
 * Asks the writer whether records can be written now ({"probe":true},
 * answered {"ok":true} or {"error":...}): 0 yes, -1 with *err.
 */
int	 audit_msg_probe(int fd, const char **err);
/* Sends ev on fd and waits for the answer: 0 with *seq, -1 with *err. */
int	 audit_msg_call(int fd, const struct audit_event *, uint64_t *seq,
	    const char **err);

/*
 * One record to the writer at path, waiting for it to be written: for the
 * master (config.*), the backup runner (backup.*) and other processes
 * that keep the master's credentials.  0 with *seq, -1 with *err.
 */
int	 audit_msg_record(const char *path, const struct audit_event *,
	    uint64_t *seq, const char **err);

#endif
