/*
 * notify.c - sd_notify without libsystemd.
 *
 * The master is the only process that talks to the service manager: the
 * socket name is taken out of the environment at start so that workers
 * (which fork from the master) neither inherit nor use it.  Each state is
 * one datagram; a failure to notify is logged and otherwise ignored, since
 * systemd then times the unit out on its own.  Sending never blocks: a
 * listener that does not read (its queue full) loses the datagram rather
 * than stopping the master's event loop.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "notify.h"
#include "util.h"

static char	 notify_path[sizeof(((struct sockaddr_un *)0)->sun_path) + 1];
static int	 notify_have;

int
notify_init(const char **err)
{
	const char	*s;

	notify_have = 0;
	if ((s = getenv("NOTIFY_SOCKET")) == NULL || *s == '\0')
		return 0;
	if ((s[0] != '/' && s[0] != '@') || strlen(s) >= sizeof(notify_path) ||
	    strlen(s) > sizeof(((struct sockaddr_un *)0)->sun_path)) {
		*err = "NOTIFY_SOCKET is neither a path nor an abstract name "
		    "that fits a unix socket address";
		unsetenv("NOTIFY_SOCKET");
		return -1;
	}
	bw_strlcpy(notify_path, s, sizeof(notify_path));
	notify_have = 1;
	unsetenv("NOTIFY_SOCKET");
	return 0;
}

const char *
notify_socket(void)
{
	return notify_have ? notify_path : NULL;
}

int
notify_sendto(const char *name, const char *state, const char **err)
{
	struct sockaddr_un	 sun;
	socklen_t		 sl;
	size_t			 n, len;
	ssize_t			 w;
	int			 fd;

	n = strlen(name);
	len = strlen(state);
	if ((name[0] != '/' && name[0] != '@') || n < 2 ||
	    n > sizeof(sun.sun_path)) {
		*err = "invalid notification socket name";
		return -1;
	}
	if (len == 0 || len > NOTIFY_MAX_MSG) {
		*err = "notification message empty or too long";
		return -1;
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, name, n);
	if (name[0] == '@') {
		sun.sun_path[0] = '\0';
		sl = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	} else
		sl = (socklen_t)sizeof(sun);
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1) {
		*err = "cannot create the notification socket";
		return -1;
	}
	do {
		w = sendto(fd, state, len, MSG_NOSIGNAL | MSG_DONTWAIT,
		    (struct sockaddr *)&sun, sl);
	} while (w == -1 && errno == EINTR);
	close(fd);
	if (w == -1 || (size_t)w != len) {
		*err = "cannot send to the notification socket";
		return -1;
	}
	return 0;
}

int
notify_send(const char *state, const char **err)
{
	if (!notify_have)
		return 0;
	return notify_sendto(notify_path, state, err);
}

int
notify_format_reloading(char *buf, size_t bufsz, uint64_t usec)
{
	int	 n;

	n = snprintf(buf, bufsz, "RELOADING=1\nMONOTONIC_USEC=%llu",
	    (unsigned long long)usec);
	return n < 0 || (size_t)n >= bufsz ? -1 : 0;
}

/*
 * STATUS is one line: a newline would start another assignment, so every
 * control character becomes a space.
 */
int
notify_format_status(char *buf, size_t bufsz, const char *status)
{
	size_t	 i, off;

	if (bufsz < sizeof("STATUS="))
		return -1;
	off = bw_strlcpy(buf, "STATUS=", bufsz);
	for (i = 0; status[i] != '\0'; i++) {
		if (off + 1 >= bufsz)
			return -1;
		if ((unsigned char)status[i] < 0x20 || status[i] == 0x7f)
			buf[off++] = ' ';
		else
			buf[off++] = status[i];
	}
	buf[off] = '\0';
	return 0;
}

static int
notify_log(const char *state)
{
	const char	*err = NULL;

	if (notify_send(state, &err) == -1) {
		log_warnx("sd_notify: %s", err);
		return -1;
	}
	return 0;
}

int
notify_ready(void)
{
	return notify_log("READY=1");
}

int
notify_stopping(void)
{
	return notify_log("STOPPING=1");
}

int
notify_reloading(void)
{
	struct timespec	 ts;
	char		 buf[64];

	if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1)
		return notify_log("RELOADING=1");
	if (notify_format_reloading(buf, sizeof(buf),
	    (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u) == -1)
		return -1;
	return notify_log(buf);
}

int
notify_status(const char *fmt, ...)
{
	char	 text[NOTIFY_MAX_MSG - 16];
	char	 buf[NOTIFY_MAX_MSG];
	va_list	 ap;

	va_start(ap, fmt);
	(void)vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (notify_format_status(buf, sizeof(buf), text) == -1)
		return -1;
	return notify_log(buf);
}
