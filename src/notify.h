/*
 * notify.h - the systemd readiness protocol (sd_notify), spoken directly
 * to $NOTIFY_SOCKET: an AF_UNIX datagram socket given as a path or, with a
 * leading '@', an abstract name.  No libsystemd.  Without NOTIFY_SOCKET
 * every call is a successful no-op.
 */
#ifndef BW_NOTIFY_H
#define BW_NOTIFY_H

#include <stddef.h>
#include <stdint.h>

/* Longest state string sent in one datagram. */
#define NOTIFY_MAX_MSG	1024

/*
 * Reads NOTIFY_SOCKET once and removes it from the environment so that no
 * child inherits it.  Returns 0, or -1 with *err when it is unusable.
 */
int	 notify_init(const char **err);
/* The socket read by notify_init(), or NULL. */
const char *notify_socket(void);

/* Sends one state string (e.g. "READY=1") to the socket of notify_init(). */
int	 notify_send(const char *state, const char **err);
/* Sends one state string to the named socket (a path or "@abstract"). */
int	 notify_sendto(const char *name, const char *state, const char **err);

/* Formats "RELOADING=1\nMONOTONIC_USEC=..." into buf; -1 when too small. */
int	 notify_format_reloading(char *buf, size_t bufsz, uint64_t usec);
/* Formats "STATUS=..." with control characters replaced; -1 on overflow. */
int	 notify_format_status(char *buf, size_t bufsz, const char *status);

int	 notify_ready(void);
int	 notify_reloading(void);
int	 notify_stopping(void);
int	 notify_status(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2)));

#endif
