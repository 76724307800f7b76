/*
 * util.h - small shared helpers: allocation, secrets, encodings, units,
 * and the diagnostics list that collects configuration errors.
 */
#ifndef BW_UTIL_H
#define BW_UTIL_H

#include <sys/types.h>

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#define BW_ARRAY_LEN(a)	(sizeof(a) / sizeof((a)[0]))

/* Allocation: these never return NULL; running out of memory is fatal. */
void	*bw_malloc(size_t);
void	*bw_calloc(size_t, size_t);
void	*bw_reallocarray(void *, size_t, size_t);
char	*bw_strdup(const char *);
char	*bw_strndup(const char *, size_t);

/* Secrets: wipe before free; compare in constant time (the only helper). */
void	 bw_wipe(void *, size_t);
/*
 * Reads at most size - 1 bytes of the file path (relative to dirfd, or
 * AT_FDCWD; opened O_RDONLY | O_CLOEXEC | flags) into buf and ends them
 * with a NUL.  Returns the length, or -1 when the file cannot be opened
 * or read, or is empty.  For small text files (proc, cgroup, state).
 */
long	 bw_read_text(int dirfd, const char *path, int flags, char *buf,
	    size_t size);
/*
 * One recv from a socket without blocking, retried when a signal cuts it:
 * the bytes read (> 0), 0 when nothing is waiting now, or -1 when the peer
 * closed (errno 0) or the socket failed (errno says why).  For event
 * callbacks that drain a readable socket.
 */
ssize_t	 bw_recv_some(int fd, void *buf, size_t len);
bool	 bw_ct_equal(const void *, const void *, size_t);
int	 bw_random(void *, size_t);

/* Monotonic clock in milliseconds, and a duration as a struct timeval. */
struct timeval;
/* A clock in microseconds (CLOCK_MONOTONIC, CLOCK_REALTIME). */
int64_t	 bw_clock_us(clockid_t);
int64_t	 bw_now_ms(void);
void	 bw_ms_to_tv(int64_t ms, struct timeval *);

/* Bounded string copy; returns strlen(src) like strlcpy. */
size_t	 bw_strlcpy(char *, const char *, size_t);

/*
 * Formatting of messages (log lines, diagnostics, error texts) into a
 * fixed buffer of at least 4 bytes.  The result is always terminated: a
 * message longer than the buffer is cut at a UTF-8 boundary and ends in
 * "...", so that a reader sees the cut; an output error (an unencodable
 * argument) leaves "?".  Returns true when the whole message fit.  Where
 * a cut would change meaning (names, paths, SQL), use snprintf and refuse
 * a truncated result instead.
 */
bool	 bw_format(char *, size_t, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
bool	 bw_vformat(char *, size_t, const char *fmt, va_list)
	    __attribute__((format(printf, 3, 0)));

/*
 * ASCII character classes and case, independent of the locale (the one
 * set; no module keeps its own).
 */
static inline bool
bw_is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static inline bool
bw_is_alpha(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static inline bool
bw_is_alnum(int c)
{
	return bw_is_digit(c) || bw_is_alpha(c);
}

/* SQL and C whitespace: space, \t, \n, \r, \f, \v. */
static inline bool
bw_is_space(int c)
{
	return c == ' ' || (c >= '\t' && c <= '\r');
}

static inline int
bw_to_lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

/* The value of a hex digit of either case, or -1. */
static inline int
bw_hex_value(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static inline bool
bw_is_hex(int c)
{
	return bw_hex_value(c) >= 0;
}

/*
 * Encodings.  Decoders are strict and return -1 on any non-canonical input.
 * Base64 is unpadded in both alphabets: base64url (RFC 4648 section 5, for
 * JWTs) and standard base64 (section 4, for PHC strings); the encoders
 * write encoded_len + 1 bytes (with a NUL) and return the length.
 */
void	 bw_hex_encode(const unsigned char *, size_t, char *out);	/* 2n+1 */
size_t	 bw_b64url_encoded_len(size_t);
size_t	 bw_b64url_encode(const unsigned char *, size_t, char *out);
int	 bw_b64url_decode(const char *, size_t, unsigned char *out,
	    size_t outsz, size_t *outlen);
size_t	 bw_b64_encode(const unsigned char *, size_t, char *out);
int	 bw_b64_decode(const char *, size_t, unsigned char *out,
	    size_t outsz, size_t *outlen);

/*
 * UTF-8, well-formed: no overlongs, surrogates or > U+10FFFF.
 * bw_utf8_seq() is the length (1-4) of the sequence at p with avail bytes
 * left, its code point in *cp, or 0 when ill-formed; bw_utf8_scan() the
 * offset of the first ill-formed sequence, or n.
 */
size_t	 bw_utf8_seq(const unsigned char *p, size_t avail, uint32_t *cp);
size_t	 bw_utf8_scan(const char *, size_t n);
bool	 bw_utf8_valid(const char *, size_t);
/* Number of code points in well-formed UTF-8. */
size_t	 bw_utf8_len(const char *, size_t);

/*
 * Units of SPEC 4.  Each returns 0 or -1 with *err set to a static message.
 * Durations are milliseconds; a bare "0" is allowed.
 */
int	 bw_parse_duration(const char *, int64_t *ms, const char **err);
int	 bw_parse_size(const char *, uint64_t *bytes, const char **err);
int	 bw_parse_rate(const char *, uint32_t *count, uint32_t *per_ms,
	    const char **err);
int	 bw_parse_uint(const char *, uint64_t max, uint64_t *out);

/*
 * Diagnostics: "FILE:LINE:COL: message" records, kept until printed in file
 * order.  A diag list is bounded; beyond BW_DIAG_MAX it records one final
 * "too many errors" line.
 */
#define BW_DIAG_MAX	200

struct bw_diag_entry {
	char	*file;
	int	 line;
	int	 col;
	int	 warning;
	char	*msg;
};

struct bw_diag {
	struct bw_diag_entry	*v;
	size_t			 n;
	size_t			 errors;
	bool			 overflow;
};

/* An error, formatted (cut at 511 bytes) and counted against the bound. */
void	 bw_diag_add(struct bw_diag *, const char *file, int line, int col,
	    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* A warning: a fixed sentence, not counted against the bound. */
void	 bw_diag_warn(struct bw_diag *, const char *file, int line, int col,
	    const char *msg);
/* Prints every entry sorted by file, line and column (stable). */
void	 bw_diag_print(struct bw_diag *, FILE *);
void	 bw_diag_free(struct bw_diag *);

#endif
