/*
 * json.h - bulwark's strict JSON reader (RFC 8259).
 *
 * Request bodies and the schema test suite are read with this lexer, not
 * with jansson: numbers keep their exact source lexeme (NODE_NUMBER with the
 * text as sent), strings are decoded to UTF-8 (they may hold U+0000; len is
 * authoritative), and positions are kept for diagnostics.
 *
 * Refused, each with its own status so the HTTP layer can answer 400 with
 * the right detail: empty input (or only whitespace), a byte order mark,
 * invalid UTF-8 anywhere (including lone surrogates written as \u escapes),
 * duplicate member names (compared after unescaping), nesting deeper than
 * the caller's limit, and every syntax error (leading zeros, trailing
 * garbage, raw control characters in strings, bad escapes, ...).
 */
#ifndef BW_JSON_H
#define BW_JSON_H

#include <stddef.h>

#include "node.h"

/* Hard ceiling on nesting whatever the caller asks (bounds the recursion). */
#define JSON_DEPTH_CEILING	1024

enum json_status {
	JSON_OK = 0,
	JSON_EEMPTY,		/* no bytes, or only whitespace */
	JSON_ESYNTAX,
	JSON_EBOM,
	JSON_EUTF8,		/* invalid UTF-8 or lone surrogate escape */
	JSON_EDUP,		/* duplicate member name */
	JSON_EDEPTH,		/* nesting deeper than max_depth */
};

struct json_error {
	enum json_status code;
	int		 line;		/* 1-based */
	int		 col;		/* 1-based, code points */
	size_t		 offset;	/* byte offset */
	const char	*msg;		/* static text, never input */
};

/*
 * Parses exactly one JSON text.  max_depth counts containers: 1 admits
 * [1] but not [[1]]; 0 admits only a scalar.  Returns a tree the caller
 * releases with node_free(), or NULL with *err filled in.
 */
struct node	*json_parse(const char *buf, size_t len, int max_depth,
		    struct json_error *err);
const char	*json_status_str(enum json_status);

#endif
