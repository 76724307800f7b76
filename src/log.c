/*
 * log.c - leveled logging and the JSON access log.
 *
 * Diagnostics go to stderr with a process name ("master", "worker 0", ...)
 * so an operator can tell which process spoke: as plain text lines, or,
 * once the configuration asks for logging.format json, as one JSON object
 * per line.  The access log writes one JSON object per request; every
 * field is escaped and bounded (SPEC 12), and the callers never hand it
 * tokens, passwords or bodies.
 *
 * Threat model: messages and access fields may carry client input (user
 * names, paths).  In JSON lines every string goes through jsonw, so no
 * input can end a field or start a line; the message of a plain line
 * (before the configuration is read) is escaped the same way, without
 * quotes, and cut at 1 KiB.  One write(2) per line.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "jsonw.h"
#include "log.h"
#include "util.h"

#define LOG_FIELD_MAX	1024	/* bytes of one escaped access-log field */
#define LOG_LINE_MAX	8192

static const char	*log_names[] = {
	"debug", "info", "notice", "warning", "error",
};

static enum log_level	 log_level = LOG_LVL_INFO;
static enum log_format	 log_format = LOG_FMT_PLAIN;
static char		 log_proc[32] = "bulwarkd";

enum access_dest {
	ACCESS_OFF,
	ACCESS_STDERR,
	ACCESS_SYSLOG,
	ACCESS_FILE,
};

static enum access_dest	 access_dest = ACCESS_STDERR;
static char		*access_path;
static int		 access_fd = -1;

static void	log_json_raw(char *, size_t, size_t *, const char *);
static void	log_json_uint(char *, size_t, size_t *, const char *,
		    unsigned long long);
static void	log_json_str_or_null(char *, size_t, size_t *, const char *);
static size_t	log_json_end(char *, size_t, size_t);
static void	log_libevent(int, const char *);

int
log_level_parse(const char *s, enum log_level *out)
{
	size_t	 i;

	for (i = 0; i < BW_ARRAY_LEN(log_names); i++) {
		if (strcmp(s, log_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -1;
}

const char *
log_level_name(enum log_level l)
{
	return (size_t)l < BW_ARRAY_LEN(log_names) ? log_names[l] : "?";
}

void
log_init(const char *procname, enum log_level level)
{
	log_set_procname(procname);
	log_level = level;
	event_set_log_callback(log_libevent);
}

void
log_set_procname(const char *name)
{
	bw_strlcpy(log_proc, name, sizeof(log_proc));
}

void
log_set_level(enum log_level level)
{
	log_level = level;
}

enum log_level
log_get_level(void)
{
	return log_level;
}

int
log_format_parse(const char *s, enum log_format *out)
{
	if (strcmp(s, "json") == 0)
		*out = LOG_FMT_JSON;
	else if (strcmp(s, "plain") == 0)
		*out = LOG_FMT_PLAIN;
	else
		return -1;
	return 0;
}

void
log_set_format(enum log_format f)
{
	log_format = f;
}

/*
 * Writes a whole line; a log that cannot be written is not worth dying
 * for, so errors other than EINTR end the attempt silently.
 */
static void
log_write_all(int fd, const char *buf, size_t n)
{
	ssize_t	 w;

	while (n > 0) {
		if ((w = write(fd, buf, n)) == -1) {
			if (errno == EINTR)
				continue;
			return;
		}
		buf += w;
		n -= (size_t)w;
	}
}

/* The current UTC time as RFC 3339 with microseconds, or NULL. */
static const char *
log_stamp(char *buf, size_t bufsz)
{
	struct timespec	 ts;
	struct tm	 tm;
	int		 n;

	if (clock_gettime(CLOCK_REALTIME, &ts) == -1 ||
	    gmtime_r(&ts.tv_sec, &tm) == NULL)
		return NULL;
	n = snprintf(buf, bufsz, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000);
	return n > 0 && (size_t)n < bufsz ? buf : NULL;
}

size_t
log_error_format(enum log_level level, const char *msg, const char *stamp,
    char *buf, size_t bufsz)
{
	size_t	 off = 0;

	log_json_raw(buf, bufsz, &off, "{\"time\":");
	log_json_str_or_null(buf, bufsz, &off, stamp);
	log_json_raw(buf, bufsz, &off, ",\"level\":");
	log_json_str_or_null(buf, bufsz, &off, log_level_name(level));
	log_json_raw(buf, bufsz, &off, ",\"process\":");
	log_json_str_or_null(buf, bufsz, &off, log_proc);
	log_json_uint(buf, bufsz, &off, ",\"pid\":",
	    (unsigned long long)getpid());
	log_json_raw(buf, bufsz, &off, ",\"message\":");
	(void)jsonw_str_buf(buf, bufsz, &off, msg, strlen(msg), SIZE_MAX);
	return log_json_end(buf, bufsz, off);
}

/*
 * "bulwarkd[PID] PROCESS: LEVEL: message" with the message escaped as a
 * JSON string body, so that no input can end the line or forge another.
 */
static int
log_plain_format(enum log_level level, const char *msg, char *buf,
    size_t bufsz)
{
	size_t	 off, used;
	int	 n;

	n = snprintf(buf, bufsz, "bulwarkd[%ld] %s: %s: ", (long)getpid(),
	    log_proc, log_names[level]);
	if (n < 0 || (size_t)n >= bufsz - 1)
		return n;
	off = (size_t)n;
	off += jsonw_escape(buf + off, bufsz - off - 1, msg, strlen(msg),
	    &used);
	buf[off++] = '\n';
	return (int)off;
}

static void
log_vwrite(enum log_level level, const char *fmt, va_list ap)
{
	char	 msg[1024], stamp[64];
	char	 line[LOG_LINE_MAX];
	int	 n;

	if (level < log_level)
		return;
	/* A longer message is cut and ends in "..." (bw_vformat). */
	bw_vformat(msg, sizeof(msg), fmt, ap);
	if (log_format == LOG_FMT_JSON)
		n = (int)log_error_format(level, msg,
		    log_stamp(stamp, sizeof(stamp)), line, sizeof(line));
	else
		n = log_plain_format(level, msg, line, sizeof(line));
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line))
		n = sizeof(line) - 1;
	/* One write per line so lines of several processes never interleave. */
	log_write_all(STDERR_FILENO, line, (size_t)n);
}

#define LOG_FN(fn, level)					\
void								\
fn(const char *fmt, ...)					\
{								\
	va_list	 ap;						\
								\
	va_start(ap, fmt);					\
	log_vwrite(level, fmt, ap);				\
	va_end(ap);						\
}

LOG_FN(log_debug, LOG_LVL_DEBUG)
LOG_FN(log_info, LOG_LVL_INFO)
LOG_FN(log_notice, LOG_LVL_NOTICE)
LOG_FN(log_warnx, LOG_LVL_WARNING)
LOG_FN(log_errorx, LOG_LVL_ERROR)

/*
 * libevent's own messages (a warning about signal handling, an error it
 * recovers from) as lines of this log, in its format and with the
 * process's name, never as raw text on stderr.  log_init installs it.
 */
static void
log_libevent(int severity, const char *msg)
{
	switch (severity) {
	case EVENT_LOG_DEBUG:
		log_debug("libevent: %s", msg);
		break;
	case EVENT_LOG_MSG:
		log_info("libevent: %s", msg);
		break;
	case EVENT_LOG_WARN:
		log_warnx("libevent: %s", msg);
		break;
	default:
		log_errorx("libevent: %s", msg);
		break;
	}
}

/* fatal() ends one process at once; fatalx() runs the exit handlers. */
#define LOG_FATAL_FN(fn, end)					\
void								\
fn(const char *fmt, ...)					\
{								\
	va_list	 ap;						\
								\
	va_start(ap, fmt);					\
	log_vwrite(LOG_LVL_ERROR, fmt, ap);			\
	va_end(ap);						\
	end(3);							\
}

LOG_FATAL_FN(fatal, _exit)
LOG_FATAL_FN(fatalx, exit)

int
log_access_open(const char *dest)
{
	int	 fd;

	if (strcmp(dest, "off") == 0)
		access_dest = ACCESS_OFF;
	else if (strcmp(dest, "stderr") == 0)
		access_dest = ACCESS_STDERR;
	else if (strcmp(dest, "syslog") == 0) {
		openlog("bulwarkd", LOG_PID | LOG_NDELAY, LOG_DAEMON);
		access_dest = ACCESS_SYSLOG;
	} else {
		fd = open(dest, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC |
		    O_NOFOLLOW, 0640);
		if (fd == -1)
			return -1;
		if (access_fd != -1)
			close(access_fd);
		access_fd = fd;
		free(access_path);
		access_path = bw_strdup(dest);
		access_dest = ACCESS_FILE;
	}
	return 0;
}

int
log_access_fd(void)
{
	return access_dest == ACCESS_FILE ? access_fd : -1;
}

void
log_access_set_fd(int fd)
{
	if (access_dest != ACCESS_FILE) {
		close(fd);
		return;
	}
	if (access_fd != -1)
		close(access_fd);
	access_fd = fd;
}

int
log_access_reopen(void)
{
	char	*path;
	int	 rv;

	if (access_dest != ACCESS_FILE || access_path == NULL)
		return 0;
	path = bw_strdup(access_path);
	rv = log_access_open(path);
	free(path);
	return rv;
}

/* Appends s unescaped (with its NUL) if all of it fits; else nothing. */
static void
log_json_raw(char *buf, size_t bufsz, size_t *off, const char *s)
{
	size_t	 n = strlen(s);

	if (*off + n < bufsz) {
		memcpy(buf + *off, s, n + 1);
		*off += n;
	}
}

/* Appends member (the raw ,"name": text) and v as a JSON number. */
static void
log_json_uint(char *buf, size_t bufsz, size_t *off, const char *member,
    unsigned long long v)
{
	char	 num[24];	/* the 20 digits of 2^64 - 1 and a NUL */
	int	 n;

	log_json_raw(buf, bufsz, off, member);
	n = snprintf(num, sizeof(num), "%llu", v);
	log_json_raw(buf, bufsz, off, n > 0 && (size_t)n < sizeof(num) ? num :
	    "null");
}

static void
log_json_str_or_null(char *buf, size_t bufsz, size_t *off, const char *s)
{
	if (s == NULL)
		log_json_raw(buf, bufsz, off, "null");
	else
		(void)jsonw_str_buf(buf, bufsz, off, s, strlen(s),
		    LOG_FIELD_MAX);
}

size_t
log_access_format(const struct access_rec *r, const char *stamp, char *buf,
    size_t bufsz)
{
	size_t	 off = 0;

	log_json_raw(buf, bufsz, &off, "{\"time\":");
	log_json_str_or_null(buf, bufsz, &off, stamp);
	log_json_raw(buf, bufsz, &off, ",\"request_id\":");
	log_json_str_or_null(buf, bufsz, &off, r->request_id);
	log_json_raw(buf, bufsz, &off, ",\"ip\":");
	log_json_str_or_null(buf, bufsz, &off, r->ip);
	log_json_raw(buf, bufsz, &off, ",\"method\":");
	log_json_str_or_null(buf, bufsz, &off, r->method);
	log_json_raw(buf, bufsz, &off, ",\"route\":");
	log_json_str_or_null(buf, bufsz, &off, r->route);
	log_json_raw(buf, bufsz, &off, ",\"path\":");
	if (r->path == NULL)
		log_json_raw(buf, bufsz, &off, "null");
	else
		(void)jsonw_str_buf(buf, bufsz, &off, r->path, r->path_len,
		    LOG_FIELD_MAX);
	if (r->status < 0)
		log_json_raw(buf, bufsz, &off, ",\"status\":null");
	else
		log_json_uint(buf, bufsz, &off, ",\"status\":",
		    (unsigned long long)r->status);
	log_json_uint(buf, bufsz, &off, ",\"bytes\":",
	    (unsigned long long)r->bytes);
	log_json_uint(buf, bufsz, &off, ",\"duration_us\":",
	    (unsigned long long)r->duration_us);
	log_json_raw(buf, bufsz, &off, ",\"user\":");
	log_json_str_or_null(buf, bufsz, &off, r->user);
	return log_json_end(buf, bufsz, off);
}

/* Closes the object and the line; a line cut by the buffer ends in a NUL. */
static size_t
log_json_end(char *buf, size_t bufsz, size_t off)
{
	log_json_raw(buf, bufsz, &off, "}\n");
	if (off >= bufsz)
		off = bufsz - 1;
	buf[off] = '\0';
	return off;
}

void
log_access(const struct access_rec *r)
{
	char		 line[LOG_LINE_MAX], stamp[64];
	size_t		 n;

	if (access_dest == ACCESS_OFF)
		return;
	/* Without a clock or a calendar time the line says "time":null. */
	n = log_access_format(r, log_stamp(stamp, sizeof(stamp)), line,
	    sizeof(line));
	switch (access_dest) {
	case ACCESS_STDERR:
		log_write_all(STDERR_FILENO, line, n);
		break;
	case ACCESS_FILE:
		log_write_all(access_fd, line, n);
		break;
	case ACCESS_SYSLOG:
		syslog(LOG_INFO, "%.*s", (int)(n > 0 ? n - 1 : 0), line);
		break;
	case ACCESS_OFF:
		break;
	}
}
