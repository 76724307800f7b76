/*
 * chan.h - typed messages between the master and its children over a
 * SOCK_SEQPACKET socketpair (one per child).  Message boundaries are kept
 * by the socket; a message is a fixed header and at most CHAN_MAX_PAYLOAD
 * bytes.  The same channel will later carry audit records and revocations.
 *
 * A payload that holds key material (ticket keys, key files) is wiped by
 * both sides after use.
 */
#ifndef BW_CHAN_H
#define BW_CHAN_H

#include <stddef.h>
#include <stdint.h>

#define CHAN_MAX_PAYLOAD	(64 * 1024)

enum chan_type {
	CHAN_READY = 1,		/* child -> master: serving */
	CHAN_DRAIN,		/* master -> worker: stop accepting, finish, exit */
	CHAN_TICKET_KEYS,	/* master -> worker: struct chan_ticket_keys */
	CHAN_REOPEN_LOGS,	/* master -> child: reopen log files */
	CHAN_STATS,		/* worker -> master: counters (admin) */
	CHAN_HEALTH,		/* master -> admin: struct chan_health */
	CHAN_STATE,		/* worker -> master: struct chan_state */
	CHAN_TAKE_OVER,		/* master -> worker: start accepting */
	CHAN_KEY_FILE,		/* master -> key manager: key file bytes */
	CHAN_KEY_PUBLIC,	/* key manager -> master: its public part */
	CHAN_SIGN,		/* worker -> master -> key manager (keymgr.h) */
	CHAN_SIGNATURE,		/* key manager -> master -> worker */
	CHAN_AUDIT_FD,		/* worker -> master: a new audit writer
				   connection, please; master -> worker: it,
				   passed along (none: try again later) */
	CHAN_TLS_KEY,		/* master -> key manager: TLS key file bytes */
	CHAN_TLS_PUBLIC,	/* key manager -> master: its public key */
	CHAN_TLS_SIGN,		/* worker -> master -> key manager: a
				   handshake signature (tlskey.h) */
	CHAN_TLS_SIGNATURE,	/* key manager -> master -> worker */
	CHAN_TYPE_MAX		/* not a message: one past the last type */
};

struct chan_hdr {
	uint32_t	 type;
	uint32_t	 len;
};

/* Session-ticket keys: current and previous (SPEC 11), 80 bytes each. */
#define CHAN_TICKET_KEY_LEN	80
struct chan_ticket_keys {
	unsigned char	 current[CHAN_TICKET_KEY_LEN];
	unsigned char	 previous[CHAN_TICKET_KEY_LEN];
	uint32_t	 have_previous;
};

/*
 * Readiness (SPEC 12): one part of what a worker needs before it can serve
 * every route.  NONE: not configured, nothing to wait for.
 */
enum chan_part {
	CHAN_PART_NONE = 0,
	CHAN_PART_DOWN,
	CHAN_PART_UP,
};

/*
 * A worker's readiness, sent whenever it changes: its database pool has a
 * connection, (with auth) its revocation state is loaded, and (with audit)
 * the audit writer, done with its recovery, has answered on the worker's
 * current connection.
 */
struct chan_state {
	uint32_t	 pool;		/* enum chan_part */
	uint32_t	 revocation;	/* enum chan_part */
	uint32_t	 audit;		/* enum chan_part: writer answered */
};

/*
 * The workers that serve, as the admin listener reports them: one entry
 * per worker slot (at most CHAN_HEALTH_MAX, the largest server.workers).
 * up: a worker accepts on the slot's sockets (liveness, /healthz); ready:
 * that worker can serve every route (/readyz).
 */
#define CHAN_HEALTH_MAX		256
struct chan_health_slot {
	uint8_t		 up;
	uint8_t		 ready;
	uint8_t		 pool;		/* enum chan_part */
	uint8_t		 revocation;	/* enum chan_part */
	uint8_t		 audit;		/* enum chan_part */
};

struct chan_health {
	uint32_t	 workers;	/* configured */
	uint32_t	 up;		/* slots up */
	uint32_t	 ready;		/* slots ready */
	struct chan_health_slot	 slot[CHAN_HEALTH_MAX];
};

/* A close-on-exec SOCK_SEQPACKET pair; fds[0] for the master. */
int	 chan_pair(int fds[2]);
/* Returns 0, or -1 (errno set; EAGAIN on a full non-blocking socket). */
int	 chan_send(int fd, enum chan_type, const void *payload, size_t len);
/*
 * Receives one message into buf; returns 1 with *type and *len set, 0 on
 * EOF (the peer is gone), -1 on error (EAGAIN when none is waiting).  A
 * malformed message (short, oversized, length mismatch) is an error.
 */
int	 chan_recv(int fd, enum chan_type *, void *buf, size_t bufsz,
	    size_t *len);

/*
 * The same with one descriptor passed along (master to child only: a log
 * file reopened by the master).  chan_recv_fd sets *passfd to the received
 * descriptor (close-on-exec) or -1; plain chan_recv never accepts one.
 */
int	 chan_send_fd(int fd, enum chan_type, const void *payload, size_t len,
	    int passfd);
int	 chan_recv_fd(int fd, enum chan_type *, void *buf, size_t bufsz,
	    size_t *len, int *passfd);

/*
 * Checks a received CHAN_STATE payload (from a worker, untrusted): exactly
 * one struct chan_state with known values.  Returns 0 with *out set, or -1.
 */
int	 chan_state_parse(const void *buf, size_t len, struct chan_state *out);
/* True when every configured part is up. */
int	 chan_state_ready(const struct chan_state *);

#endif
