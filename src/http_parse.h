/*
 * http_parse.h - the strict HTTP/1.1 request parser (SPEC 5, RFC 9112).
 *
 * Pure functions over bytes: no I/O, no allocation.  The connection layer
 * (http.c) hands in the bytes it has buffered; the parser either finds a
 * complete, valid head, asks for more, or names the status the request
 * must be refused with.  Every field of struct http_head points into the
 * caller's buffer, which must stay unchanged while the head is in use.
 *
 * Threat model: every byte is attacker-controlled.  The parser never reads
 * past len, never trusts a length it did not check against a limit, and
 * refuses anything a front-end proxy could read differently (request
 * smuggling): CL+TE, duplicate CL, TE other than exactly "chunked",
 * obs-fold, bare CR/LF, whitespace before ':', controls in the head.
 */
#ifndef BW_HTTP_PARSE_H
#define BW_HTTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTP_MAX_FIELDS		256	/* hard ceiling above max_headers */
#define HTTP_METHOD_MAX_LEN	32	/* a longer token is refused with 501 */
#define HTTP_CHUNK_SIZE_DIGITS	16	/* hex digits of a chunk-size */

enum http_method {
	HTTP_GET,
	HTTP_HEAD,
	HTTP_POST,
	HTTP_PUT,
	HTTP_PATCH,
	HTTP_DELETE,
	HTTP_OPTIONS,
	HTTP_TRACE,
	HTTP_CONNECT,
	HTTP_METHOD_COUNT,
};

struct http_limits {
	size_t		 max_header_size;	/* request line + fields -> 431 */
	size_t		 max_headers;		/* -> 431 */
	size_t		 max_uri_length;	/* -> 414 */
};

struct http_field {
	const char	*name;
	size_t		 name_len;
	const char	*value;			/* OWS trimmed */
	size_t		 value_len;
};

struct http_head {
	enum http_method method;
	const char	*target;		/* raw request-target */
	size_t		 target_len;
	const char	*path;			/* origin-form path */
	size_t		 path_len;
	const char	*query;			/* after '?'; NULL when none */
	size_t		 query_len;
	int		 minor;			/* 0, or 1 (1.x with x >= 2 is 1) */
	struct http_field fields[HTTP_MAX_FIELDS];
	size_t		 nfields;
	const char	*host;			/* Host value; NULL for 1.0 without */
	size_t		 host_len;
	int64_t		 content_length;	/* -1 when absent */
	bool		 chunked;
	bool		 conn_close;		/* Connection: close (or 1.0 default) */
	bool		 expect_continue;	/* Expect: 100-continue */
	size_t		 head_len;		/* bytes of the head incl. CRLFCRLF */
};

enum http_parse_result {
	HTTP_PARSE_DONE,	/* *head filled, head->head_len bytes used */
	HTTP_PARSE_MORE,	/* incomplete: read more (limits checked so far) */
	HTTP_PARSE_ERROR,	/* *status says how to refuse; then close */
};

/*
 * Parse one request head from buf[0..len).  On HTTP_PARSE_ERROR, *status is
 * 400, 414, 417, 431, 501 or 505 and *reason a short static text for the log.
 *
 * The whole head is re-parsed on every call (O(len), no allocation), so the
 * caller may call again each time its buffer grows.  Errors are reported as
 * soon as the bytes buffered so far prove them: 431 once more than
 * max_header_size bytes are buffered without a complete head (the caller
 * never needs to buffer more), 414 once the target exceeds max_uri_length.
 * Statuses: 400 framing and syntax (including CONNECT, whose only form is
 * authority-form, and asterisk-form for anything but OPTIONS); 414 target
 * too long; 417 an Expect other than 100-continue (ignored in HTTP/1.0);
 * 431 head too large or more than max_headers fields; 501 a method token
 * that is not one of enum http_method (or is longer than
 * HTTP_METHOD_MAX_LEN); 505 a version other than HTTP/1.x.  TRACE is
 * returned as HTTP_TRACE for the caller to answer 405.  Percent-encoded dot
 * segments ("%2e", "%2E%2e") are refused like "." and "..".  An
 * absolute-form target needs a Host equal to its authority (ASCII
 * case-insensitive, port included); its path is "/" when empty.
 */
enum http_parse_result http_parse_head(const char *buf, size_t len,
	    const struct http_limits *, struct http_head *, int *status,
	    const char **reason);

/* Case-insensitive field lookup; NULL when absent. *count gets the count. */
const struct http_field *http_head_field(const struct http_head *,
	    const char *name, size_t *count);

const char	*http_method_name(enum http_method);

/*
 * Incremental chunked-body decoder.  Chunk extensions and trailers are
 * bounded by max_ext (counted toward max_header_size by the caller);
 * trailers are discarded.
 */
struct http_chunked {
	int		 state;
	uint64_t	 remaining;		/* bytes left in the current chunk */
	size_t		 meta_bytes;		/* chunk-size lines + trailers seen */
	size_t		 max_meta;
	uint64_t	 total;			/* decoded body bytes so far */
	uint64_t	 max_body;		/* -> 413 */
	uint64_t	 size;			/* chunk-size being read */
	unsigned int	 count;			/* digits or token bytes so far */
	int		 status;		/* sticky once HTTP_CHUNK_ERROR */
};

enum http_chunk_result {
	HTTP_CHUNK_DATA,	/* *data, *data_len: decoded bytes */
	HTTP_CHUNK_MORE,	/* need more input */
	HTTP_CHUNK_END,		/* last chunk and trailers consumed */
	HTTP_CHUNK_ERROR,	/* *status 400 or 413 (431 for oversized meta) */
};

void	 http_chunked_init(struct http_chunked *, size_t max_meta,
	    uint64_t max_body);
/*
 * Feed in[0..len); *used gets the bytes consumed.  Decoded bytes are
 * returned by pointer into in (no copy); call again with the rest.
 * Grammar (strict RFC 9112 7.1): chunk-size is 1 to HTTP_CHUNK_SIZE_DIGITS
 * hex digits (no sign, no "0x", no whitespace); extensions are
 * ";name[=token|quoted-string]" with no whitespace; every line ends in
 * CRLF exactly, chunk data too; trailer fields follow the head's field
 * rules and are discarded.  A chunk that would take the body past
 * max_body is refused (413) before its data is read; size lines,
 * extensions and trailers together past max_meta are refused (431).  After
 * HTTP_CHUNK_END *used ends right after the final CRLF (pipelining).
 * Errors are sticky.
 */
enum http_chunk_result http_chunked_feed(struct http_chunked *,
	    const char *in, size_t len, size_t *used, const char **data,
	    size_t *data_len, int *status);

/*
 * Host value syntax (RFC 3986 host [":" port]); and a check that a Host
 * value names one of the configured hostnames (case-insensitive, port
 * ignored).
 */
bool	 http_host_valid(const char *, size_t);
bool	 http_host_matches(const char *host, size_t len, char *const *names,
	    size_t nnames);

#endif
