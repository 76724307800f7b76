/*
 * log.h - leveled logging to stderr, plain or JSON, and the JSON access log.
 *
 * Log lines never carry tokens, passwords or request bodies; callers pass
 * only what is safe to record.  fatal() ends the calling process with exit
 * status 3 (a worker: the master restarts it); fatalx() is for the master
 * and administration modes and means the whole daemon stops.  log_init
 * also routes libevent's own messages into this log.
 */
#ifndef BW_LOG_H
#define BW_LOG_H

#include <stddef.h>
#include <stdint.h>

enum log_level {
	LOG_LVL_DEBUG,
	LOG_LVL_INFO,
	LOG_LVL_NOTICE,
	LOG_LVL_WARNING,
	LOG_LVL_ERROR,
};

int	 log_level_parse(const char *, enum log_level *);
const char *log_level_name(enum log_level);
void	 log_init(const char *procname, enum log_level);
void	 log_set_procname(const char *);
void	 log_set_level(enum log_level);
enum log_level log_get_level(void);

/*
 * The diagnostics format: plain "bulwarkd[PID] PROC: LEVEL: MESSAGE" lines
 * (the default, and always before the configuration is read), or with
 * logging.format json one object per line: {"time","level","process",
 * "pid","message"}, strings escaped by jsonw.
 */
enum log_format {
	LOG_FMT_PLAIN,
	LOG_FMT_JSON,
};

int	 log_format_parse(const char *, enum log_format *);
void	 log_set_format(enum log_format);
/* Formats one JSON diagnostics line (exposed for tests); returns its length. */
size_t	 log_error_format(enum log_level, const char *msg, const char *stamp,
	    char *buf, size_t bufsz);

void	 log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
void	 log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	 log_notice(const char *, ...) __attribute__((format(printf, 1, 2)));
void	 log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	 log_errorx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	 fatal(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
void	 fatalx(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));

/*
 * Access log (SPEC 12): one JSON object per line.  The destination is
 * "stderr", "syslog", "off" or a file path; log_access_reopen() reopens a
 * file after rotation (SIGUSR1).
 */
struct access_rec {
	const char	*request_id;
	const char	*ip;
	const char	*method;
	const char	*route;		/* NULL when no route matched */
	const char	*path;		/* raw, without the query string */
	size_t		 path_len;
	int		 status;
	uint64_t	 bytes;
	uint64_t	 duration_us;
	const char	*user;		/* NULL for anonymous callers */
};

int	 log_access_open(const char *dest);
int	 log_access_reopen(void);
/*
 * The access log file's descriptor (-1 unless the destination is a file),
 * and its replacement by one the master reopened (the old one is closed).
 */
int	 log_access_fd(void);
void	 log_access_set_fd(int);
void	 log_access(const struct access_rec *);
/* Formats the access line into buf (exposed for tests); returns its length. */
size_t	 log_access_format(const struct access_rec *, const char *stamp,
	    char *buf, size_t bufsz);

#endif
