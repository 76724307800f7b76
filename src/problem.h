/*
 * problem.h - RFC 9457 problem details for every error response (SPEC 5).
 *
 * A problem body is built only from fixed text: the reason phrase of the
 * status, one entry of the detail table below (documented in bulwarkd(8))
 * and the request id.  Nothing a client sent is ever echoed, so an error
 * response cannot reflect input into a browser, a log viewer or a cache.
 * The only exception is the validation list, whose JSON pointers name
 * members of the client's own document; they are JSON-escaped and bounded.
 */
#ifndef BW_PROBLEM_H
#define BW_PROBLEM_H

#include <stddef.h>

struct evbuffer;

enum problem_code {
	PROBLEM_MALFORMED,		/* 400 */
	PROBLEM_BODY_NOT_ALLOWED,	/* 400 */
	PROBLEM_BODY_MISSING,		/* 400 */
	PROBLEM_BODY_SYNTAX,		/* 400 */
	PROBLEM_BODY_DEPTH,		/* 400 */
	PROBLEM_CHUNKED,		/* 400 */
	PROBLEM_PARAMS,			/* 400 */
	PROBLEM_UNAUTHORIZED,		/* 401 */
	PROBLEM_FORBIDDEN,		/* 403 */
	PROBLEM_NOT_FOUND,		/* 404 */
	PROBLEM_METHOD_NOT_ALLOWED,	/* 405 */
	PROBLEM_TIMEOUT,		/* 408 */
	PROBLEM_CONFLICT,		/* 409 */
	PROBLEM_BODY_TOO_LARGE,		/* 413 */
	PROBLEM_URI_TOO_LONG,		/* 414 */
	PROBLEM_MEDIA_TYPE,		/* 415 */
	PROBLEM_ENCODING,		/* 415 */
	PROBLEM_MISDIRECTED,		/* 421 */
	PROBLEM_UNPROCESSABLE,		/* 422 */
	PROBLEM_VALIDATION,		/* 422 */
	PROBLEM_RATE_LIMITED,		/* 429 */
	PROBLEM_HEAD_TOO_LARGE,		/* 431 */
	PROBLEM_INTERNAL,		/* 500 */
	PROBLEM_NOT_IMPLEMENTED,	/* 501 */
	PROBLEM_DB_UNAVAILABLE,		/* 503 */
	PROBLEM_OVERLOADED,		/* 503 */
	PROBLEM_GATEWAY_TIMEOUT,	/* 504 */
	PROBLEM_VERSION,		/* 505 */
	PROBLEM_CODE_COUNT,
};

struct problem_detail {
	enum problem_code	 code;
	int			 status;
	const char		*name;		/* stable identifier */
	const char		*detail;	/* fixed text sent to clients */
};

/* The whole table, in enum order (for the man page check). */
const struct problem_detail *problem_detail_table(size_t *n);
const struct problem_detail *problem_detail_get(enum problem_code);
/* The problem code for a status the HTTP parser refuses with. */
enum problem_code problem_code_for_status(int status);

/* "OK", "Not Found", ...; "Unknown" for a status bulwark never sends. */
const char	*problem_reason(int status);

/* One entry of a validation error list. */
struct problem_error {
	const char	*pointer;	/* RFC 6901 JSON pointer, e.g. "/title" */
	const char	*message;	/* fixed text */
};

#define PROBLEM_MAX_ERRORS	16
#define PROBLEM_MAX_FIELD	1024	/* input bytes of one string value */

/*
 * Append the problem body to out; returns 0, or -1 when out could not
 * grow.  The body is fixed text and the request id only.
 */
int	 problem_write(struct evbuffer *out, enum problem_code,
	    const char *request_id);
/*
 * Append a validation problem (type urn:bulwark:problem:validation) with
 * at most PROBLEM_MAX_ERRORS entries of errors; the status is that of
 * code (PROBLEM_VALIDATION: 422, PROBLEM_PARAMS: 400).
 */
int	 problem_write_validation(struct evbuffer *out, enum problem_code,
	    const char *request_id, const struct problem_error *errors,
	    size_t nerrors);

#endif
