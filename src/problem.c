/*
 * problem.c - RFC 9457 problem bodies from a fixed detail table.
 *
 * Every text a client can receive in an error body is in the table below
 * or is a reason phrase; the table is what bulwarkd(8) documents, and the
 * man page check compares the two.  Request input never reaches a detail.
 */
#include <stdio.h>
#include <string.h>

#include <event2/buffer.h>

#include "jsonw.h"
#include "problem.h"
#include "util.h"

static const struct problem_detail problem_table[] = {
	{ PROBLEM_MALFORMED, 400, "malformed",
	    "the request is malformed" },
	{ PROBLEM_BODY_NOT_ALLOWED, 400, "body_not_allowed",
	    "this route does not accept a request body" },
	{ PROBLEM_BODY_MISSING, 400, "body_missing",
	    "this route requires a JSON request body" },
	{ PROBLEM_BODY_SYNTAX, 400, "body_syntax",
	    "the request body is not valid JSON" },
	{ PROBLEM_BODY_DEPTH, 400, "body_depth",
	    "the request body is nested too deeply" },
	{ PROBLEM_CHUNKED, 400, "chunked",
	    "the chunked request body is malformed" },
	{ PROBLEM_PARAMS, 400, "params",
	    "the request parameters are invalid" },
	{ PROBLEM_UNAUTHORIZED, 401, "unauthorized",
	    "valid credentials are required" },
	{ PROBLEM_FORBIDDEN, 403, "forbidden",
	    "the credentials do not grant access to this route" },
	{ PROBLEM_NOT_FOUND, 404, "not_found",
	    "no resource matches the request" },
	{ PROBLEM_METHOD_NOT_ALLOWED, 405, "method_not_allowed",
	    "the method is not allowed for this path" },
	{ PROBLEM_TIMEOUT, 408, "timeout",
	    "the request was not received in time" },
	{ PROBLEM_CONFLICT, 409, "conflict",
	    "the request conflicts with the current state" },
	{ PROBLEM_BODY_TOO_LARGE, 413, "body_too_large",
	    "the request body is too large" },
	{ PROBLEM_URI_TOO_LONG, 414, "uri_too_long",
	    "the request target is too long" },
	{ PROBLEM_MEDIA_TYPE, 415, "media_type",
	    "the request body must be application/json in UTF-8" },
	{ PROBLEM_ENCODING, 415, "encoding",
	    "content codings are not accepted" },
	{ PROBLEM_MISDIRECTED, 421, "misdirected",
	    "this server does not serve the requested host" },
	{ PROBLEM_UNPROCESSABLE, 422, "unprocessable",
	    "the request cannot be processed" },
	{ PROBLEM_VALIDATION, 422, "validation",
	    "the request body does not match the schema" },
	{ PROBLEM_RATE_LIMITED, 429, "rate_limited",
	    "too many requests" },
	{ PROBLEM_HEAD_TOO_LARGE, 431, "head_too_large",
	    "the request header fields are too large" },
	{ PROBLEM_INTERNAL, 500, "internal",
	    "the server failed to process the request" },
	{ PROBLEM_NOT_IMPLEMENTED, 501, "not_implemented",
	    "the request method is not implemented" },
	{ PROBLEM_DB_UNAVAILABLE, 503, "db_unavailable",
	    "database unavailable" },
	{ PROBLEM_OVERLOADED, 503, "overloaded",
	    "the server is overloaded" },
	{ PROBLEM_GATEWAY_TIMEOUT, 504, "gateway_timeout",
	    "the request took too long to process" },
	{ PROBLEM_VERSION, 505, "version",
	    "the HTTP version is not supported" },
};

_Static_assert(BW_ARRAY_LEN(problem_table) == PROBLEM_CODE_COUNT,
    "problem_table must have one entry per problem_code");

struct problem_reason {
	int		 status;
	const char	*text;
};

static const struct problem_reason problem_reasons[] = {
	{ 100, "Continue" },
	{ 200, "OK" },
	{ 201, "Created" },
	{ 202, "Accepted" },
	{ 204, "No Content" },
	{ 400, "Bad Request" },
	{ 401, "Unauthorized" },
	{ 403, "Forbidden" },
	{ 404, "Not Found" },
	{ 405, "Method Not Allowed" },
	{ 408, "Request Timeout" },
	{ 409, "Conflict" },
	{ 413, "Content Too Large" },
	{ 414, "URI Too Long" },
	{ 415, "Unsupported Media Type" },
	{ 421, "Misdirected Request" },
	{ 422, "Unprocessable Content" },
	{ 429, "Too Many Requests" },
	{ 431, "Request Header Fields Too Large" },
	{ 500, "Internal Server Error" },
	{ 501, "Not Implemented" },
	{ 503, "Service Unavailable" },
	{ 504, "Gateway Timeout" },
	{ 505, "HTTP Version Not Supported" },
};

const struct problem_detail *
problem_detail_table(size_t *n)
{
	*n = BW_ARRAY_LEN(problem_table);
	return problem_table;
}

const struct problem_detail *
problem_detail_get(enum problem_code code)
{
	if ((unsigned)code >= PROBLEM_CODE_COUNT)
		code = PROBLEM_INTERNAL;
	return &problem_table[code];
}

enum problem_code
problem_code_for_status(int status)
{
	switch (status) {
	case 400:
		return PROBLEM_MALFORMED;
	case 405:
		return PROBLEM_METHOD_NOT_ALLOWED;
	case 413:
		return PROBLEM_BODY_TOO_LARGE;
	case 414:
		return PROBLEM_URI_TOO_LONG;
	case 431:
		return PROBLEM_HEAD_TOO_LARGE;
	case 501:
		return PROBLEM_NOT_IMPLEMENTED;
	case 505:
		return PROBLEM_VERSION;
	default:
		return PROBLEM_INTERNAL;
	}
}

const char *
problem_reason(int status)
{
	size_t	 i;

	for (i = 0; i < BW_ARRAY_LEN(problem_reasons); i++)
		if (problem_reasons[i].status == status)
			return problem_reasons[i].text;
	return "Unknown";
}

static int
problem_head(struct evbuffer *out, const char *type,
    const struct problem_detail *d)
{
	return evbuffer_add_printf(out,
	    "{\"type\":\"%s\",\"title\":\"%s\",\"status\":%d,"
	    "\"detail\":\"%s\",\"instance\":", type, problem_reason(d->status),
	    d->status, d->detail) < 0 ? -1 : 0;
}

static int
problem_instance(struct evbuffer *out, const char *request_id)
{
	if (request_id == NULL)
		request_id = "";
	return jsonw_str(out, request_id, strlen(request_id),
	    PROBLEM_MAX_FIELD);
}

int
problem_write(struct evbuffer *out, enum problem_code code,
    const char *request_id)
{
	const struct problem_detail *d = problem_detail_get(code);

	if (problem_head(out, "about:blank", d) == -1 ||
	    problem_instance(out, request_id) == -1)
		return -1;
	return evbuffer_add(out, "}", 1);
}

int
problem_write_validation(struct evbuffer *out, enum problem_code code,
    const char *request_id, const struct problem_error *errors,
    size_t nerrors)
{
	const struct problem_detail *d = problem_detail_get(code);
	const char	*ptr, *msg;
	size_t		 i;

	if (problem_head(out, "urn:bulwark:problem:validation", d) == -1 ||
	    problem_instance(out, request_id) == -1 ||
	    evbuffer_add(out, ",\"errors\":[", 11) == -1)
		return -1;
	if (nerrors > PROBLEM_MAX_ERRORS)
		nerrors = PROBLEM_MAX_ERRORS;
	for (i = 0; i < nerrors; i++) {
		ptr = errors[i].pointer != NULL ? errors[i].pointer : "";
		msg = errors[i].message != NULL ? errors[i].message : "";
		if (evbuffer_add(out, i == 0 ? "{\"pointer\":" :
		    ",{\"pointer\":", i == 0 ? 11 : 12) == -1 ||
		    jsonw_str(out, ptr, strlen(ptr), PROBLEM_MAX_FIELD) == -1 ||
		    evbuffer_add(out, ",\"message\":", 11) == -1 ||
		    jsonw_str(out, msg, strlen(msg), PROBLEM_MAX_FIELD) == -1 ||
		    evbuffer_add(out, "}", 1) == -1)
			return -1;
	}
	return evbuffer_add(out, "]}", 2);
}
