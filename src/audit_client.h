/*
 * audit_client.h - a worker's side of the audit writer: records sent
 * over the descriptor the master connected for it, answers matched to
 * their senders, and whether the log can be written (on_failure: reject).
 *
 * The writer answers a connection's messages in order, so a FIFO of
 * callbacks matches answers to records.  Every AUDIT_CLIENT_PROBE_MS the
 * client probes the writer; until a probe or a record succeeds, and from
 * the first failure or the loss of the writer, audit_client_ok() is false.
 * A lost writer (restarted by the master) fails every waiting record;
 * the master hands a new descriptor with audit_client_set_fd().
 */
#ifndef BW_AUDIT_CLIENT_H
#define BW_AUDIT_CLIENT_H

#include <stdbool.h>
#include <stdint.h>

#include "audit.h"

struct event_base;
struct audit_client;

#define AUDIT_CLIENT_MAX_PENDING	1024	/* records awaiting answers */
#define AUDIT_CLIENT_PROBE_MS		1000

/* seq > 0: the record is written (and synced under fsync: always); -1: not. */
typedef void	(*audit_client_cb)(int64_t seq, void *arg);

struct audit_client	*audit_client_new(struct event_base *, int fd);
void			 audit_client_free(struct audit_client *);
/* Replaces the descriptor (a new writer); -1 leaves the client without. */
void			 audit_client_set_fd(struct audit_client *, int fd);
/*
 * Sends ev; cb (may be NULL) is called once with the answer.  -1 (cb never
 * called) when no writer is connected, the queue is full or the send
 * failed.
 */
int			 audit_client_submit(struct audit_client *,
			    const struct audit_event *, audit_client_cb,
			    void *arg);
bool			 audit_client_ok(const struct audit_client *);
/* The writer answered on this connection (readiness: recovery done). */
bool			 audit_client_answered(const struct audit_client *);
/* A writer is connected (it may still report the file unwritable). */
bool			 audit_client_connected(const struct audit_client *);
/* Records sent and not yet answered (bulwark_audit_queue_depth). */
size_t			 audit_client_depth(const struct audit_client *);
/*
 * The process's client for events outside a route's transaction (auth.*,
 * authz.denied): audit_client_event() sends ev through it without waiting
 * and without a row; nothing without one (no audit section).  -1 when the
 * writer did not take it (the caller logs it).
 */
void			 audit_client_set_default(struct audit_client *);
int			 audit_client_event(const struct audit_event *);

/* cb will not be called with arg: its waiting records lose their callback. */
void			 audit_client_cancel(struct audit_client *, const void *arg);

#endif
