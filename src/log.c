/*
 * log.c - leveled logging and the JSON access log.
 *
 * Diagnostics go to stderr with a process name ("master", "worker 0", ...)
 * so an operator can tell which process spoke.  The access log writes one
 * JSON object per request; every field is escaped and bounded (SPEC 12),
 * and the callers never hand it tokens, passwords or bodies.
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

#include "log.h"
#include "util.h"

#define LOG_FIELD_MAX	1024	/* bytes of one escaped access-log field */
#define LOG_LINE_MAX	8192

static const char	*log_names[] = {
	"debug", "info", "notice", "warning", "error",
};

static enum log_level	 log_level = LOG_LVL_INFO;
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

/*
 * Writes a whole line; a log that cannot be written is not worth dying
 * for, so errors other than EINTR end the attempt silently.
 */
static void
write_all(int fd, const char *buf, size_t n)
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

static void
log_vwrite(enum log_level level, const char *fmt, va_list ap)
{
	char	 msg[1024];
	char	 line[1200];
	int	 n;

	if (level < log_level)
		return;
	/* A longer message is cut and ends in "..." (bw_vformat). */
	bw_vformat(msg, sizeof(msg), fmt, ap);
	n = snprintf(line, sizeof(line), "bulwarkd[%ld] %s: %s: %s\n",
	    (long)getpid(), log_proc, log_names[level], msg);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line))
		n = sizeof(line) - 1;
	/* One write per line so lines of several processes never interleave. */
	write_all(STDERR_FILENO, line, (size_t)n);
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

void
fatal(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vwrite(LOG_LVL_ERROR, fmt, ap);
	va_end(ap);
	_exit(3);
}

void
fatalx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vwrite(LOG_LVL_ERROR, fmt, ap);
	va_end(ap);
	exit(3);
}

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

/*
 * Appends s[0..n) as a JSON string to buf at *off, escaped and cut at
 * LOG_FIELD_MAX input bytes; never writes past bufsz.
 */
static void
json_field(char *buf, size_t bufsz, size_t *off, const char *s, size_t n)
{
	static const char	 hex[] = "0123456789abcdef";
	size_t			 i, o = *off;
	unsigned char		 c;
	bool			 utf8;

	if (n > LOG_FIELD_MAX) {
		n = LOG_FIELD_MAX;
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
	}
	utf8 = bw_utf8_valid(s, n);
	if (o + 1 >= bufsz)
		return;
	buf[o++] = '"';
	for (i = 0; i < n && o + 8 < bufsz; i++) {
		c = (unsigned char)s[i];
		if (c == '"' || c == '\\') {
			buf[o++] = '\\';
			buf[o++] = (char)c;
		} else if (c < 0x20 || c == 0x7f || (c >= 0x80 && !utf8)) {
			/*
			 * A field that is not valid UTF-8 has its non-ASCII
			 * bytes escaped one by one, so the line stays JSON.
			 */
			buf[o++] = '\\';
			buf[o++] = 'u';
			buf[o++] = '0';
			buf[o++] = '0';
			buf[o++] = hex[c >> 4];
			buf[o++] = hex[c & 0xf];
		} else
			buf[o++] = (char)c;
	}
	buf[o++] = '"';
	*off = o;
}

/* Appends s unescaped (with its NUL) if all of it fits; else nothing. */
static void
json_raw(char *buf, size_t bufsz, size_t *off, const char *s)
{
	size_t	 n = strlen(s);

	if (*off + n < bufsz) {
		memcpy(buf + *off, s, n + 1);
		*off += n;
	}
}

/* Appends member (the raw ,"name": text) and v as a JSON number. */
static void
json_uint(char *buf, size_t bufsz, size_t *off, const char *member,
    unsigned long long v)
{
	char	 num[24];	/* the 20 digits of 2^64 - 1 and a NUL */
	int	 n;

	json_raw(buf, bufsz, off, member);
	n = snprintf(num, sizeof(num), "%llu", v);
	json_raw(buf, bufsz, off, n > 0 && (size_t)n < sizeof(num) ? num :
	    "null");
}

static void
json_str_or_null(char *buf, size_t bufsz, size_t *off, const char *s)
{
	if (s == NULL)
		json_raw(buf, bufsz, off, "null");
	else
		json_field(buf, bufsz, off, s, strlen(s));
}

size_t
log_access_format(const struct access_rec *r, const char *stamp, char *buf,
    size_t bufsz)
{
	size_t	 off = 0;

	json_raw(buf, bufsz, &off, "{\"time\":");
	json_str_or_null(buf, bufsz, &off, stamp);
	json_raw(buf, bufsz, &off, ",\"request_id\":");
	json_str_or_null(buf, bufsz, &off, r->request_id);
	json_raw(buf, bufsz, &off, ",\"ip\":");
	json_str_or_null(buf, bufsz, &off, r->ip);
	json_raw(buf, bufsz, &off, ",\"method\":");
	json_str_or_null(buf, bufsz, &off, r->method);
	json_raw(buf, bufsz, &off, ",\"route\":");
	json_str_or_null(buf, bufsz, &off, r->route);
	json_raw(buf, bufsz, &off, ",\"path\":");
	if (r->path == NULL)
		json_raw(buf, bufsz, &off, "null");
	else
		json_field(buf, bufsz, &off, r->path, r->path_len);
	if (r->status < 0)
		json_raw(buf, bufsz, &off, ",\"status\":null");
	else
		json_uint(buf, bufsz, &off, ",\"status\":",
		    (unsigned long long)r->status);
	json_uint(buf, bufsz, &off, ",\"bytes\":",
	    (unsigned long long)r->bytes);
	json_uint(buf, bufsz, &off, ",\"duration_us\":",
	    (unsigned long long)r->duration_us);
	json_raw(buf, bufsz, &off, ",\"user\":");
	json_str_or_null(buf, bufsz, &off, r->user);
	json_raw(buf, bufsz, &off, "}\n");
	if (off >= bufsz)
		off = bufsz - 1;
	buf[off] = '\0';
	return off;
}

void
log_access(const struct access_rec *r)
{
	char		 line[LOG_LINE_MAX], stamp[64];
	struct timespec	 ts;
	struct tm	 tm;
	size_t		 n;
	int		 sn = -1;

	if (access_dest == ACCESS_OFF)
		return;
	/* Without a clock or a calendar time the line says "time":null. */
	if (clock_gettime(CLOCK_REALTIME, &ts) == 0 &&
	    gmtime_r(&ts.tv_sec, &tm) != NULL)
		sn = snprintf(stamp, sizeof(stamp),
		    "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900,
		    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
		    tm.tm_sec, ts.tv_nsec / 1000);
	n = log_access_format(r, sn > 0 && (size_t)sn < sizeof(stamp) ?
	    stamp : NULL, line, sizeof(line));
	switch (access_dest) {
	case ACCESS_STDERR:
		write_all(STDERR_FILENO, line, n);
		break;
	case ACCESS_FILE:
		write_all(access_fd, line, n);
		break;
	case ACCESS_SYSLOG:
		syslog(LOG_INFO, "%.*s", (int)(n > 0 ? n - 1 : 0), line);
		break;
	case ACCESS_OFF:
		break;
	}
}
