/*
 * schema.h - JSON Schema (draft 2020-12 subset of SPEC 6): compiled once at
 * load, validated on the request path without looking at the source again.
 *
 * A schema set owns everything: named schemas (the `schemas:` section),
 * every compiled schema and the PCRE2 codes.  Schemas are compiled from
 * either tree of node.h: the JSON lexer's (typed scalars) or the YAML
 * reader's (plain scalars resolved here: true/false, null, JSON-number
 * lexemes, everything else a string).  Every unsupported keyword, bad value,
 * unresolvable $ref, cycle without progress or (in body mode) combinator
 * whose members declare properties without an explicit
 * additionalProperties next to it is reported to the diagnostics
 * list at FILE:LINE:COL and the compile fails; nothing is ignored.
 *
 * A set and its schemas are used by one thread at a time (they keep one
 * PCRE2 match block so that matching does not allocate).
 */
#ifndef BW_SCHEMA_H
#define BW_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "node.h"
#include "util.h"

#define SCHEMA_ERRORS_MAX	16	/* SPEC 5: at most 16 in a problem */
#define SCHEMA_POINTER_MAX	256	/* longer pointers name an ancestor */
#define SCHEMA_MESSAGE_MAX	128
#define SCHEMA_NEST_MAX		64	/* subschemas applied without progress */
#define SCHEMA_PCRE_MATCH_LIMIT	100000
#define SCHEMA_PCRE_DEPTH_LIMIT	1000

enum schema_mode {
	SCHEMA_STANDARD,	/* additionalProperties defaults to true */
	SCHEMA_BODY,		/* mass-assignment default of SPEC 6 */
	SCHEMA_PARAM,		/* standard, and a scalar top-level type */
};

struct schema_error {
	char	pointer[SCHEMA_POINTER_MAX];	/* RFC 6901, escaped */
	char	message[SCHEMA_MESSAGE_MAX];	/* never holds input */
};

struct schema_errors {
	struct schema_error	v[SCHEMA_ERRORS_MAX];
	size_t			n;
	bool			truncated;	/* more failures than kept */
};

/* Flags for schema_validate(). */
#define SCHEMA_V_CANON	0x01	/* rewrite integer lexemes canonically */

struct schema_set;
struct schema;

struct schema_set *schema_set_new(void);
void		 schema_set_free(struct schema_set *);

/*
 * Registers a named schema (copied; the caller's tree may be freed).  Fails
 * on a duplicate name.  Named schemas are compiled on first use per mode;
 * schema_set_check() compiles every one in standard mode to report all
 * errors once the whole section has been added.
 */
int		 schema_add_named(struct schema_set *, const char *name,
		    const struct node *, const char *file, struct bw_diag *);
int		 schema_set_check(struct schema_set *, struct bw_diag *);

/*
 * Compiles an inline schema (copied).  A top-level string scalar other than
 * a YAML plain true/false names a schema of the set.  Returns NULL after
 * adding diagnostics.
 */
const struct schema *schema_compile(struct schema_set *, const struct node *,
		    enum schema_mode, const char *file, struct bw_diag *);
const struct schema *schema_named(struct schema_set *, const char *name,
		    enum schema_mode, struct bw_diag *);

/*
 * Validates an instance.  Returns 0 when valid, -1 otherwise with up to
 * SCHEMA_ERRORS_MAX errors in *out (out may be NULL; `truncated` says that
 * more failures were found).  Any string holding U+0000 fails first.  With
 * SCHEMA_V_CANON, a number accepted by `type: integer` (without `number`)
 * gets its malloc'd text replaced by the canonical integer form.
 * Validation allocates only for that rewrite, uniqueItems over more than 16
 * items, equality of objects over 16 members and subschemas naming more
 * than 256 members.
 */
int		 schema_validate(const struct schema *, struct node *instance,
		    int flags, struct schema_errors *out);

/*
 * Path or query parameter (SPEC 6): coerces raw bytes by the schema's
 * `type`, validates, and returns a new scalar node in *out (canonical form
 * for integers).  Errors carry the pointer "/NAME".  Returns 0 or -1.
 */
int		 schema_coerce_param(const struct schema *, const char *name,
		    const char *raw, size_t len, struct node **out,
		    struct schema_errors *errs);

/* The top-level `default` of a schema (resolved scalars), or NULL. */
const struct node *schema_default(const struct schema *);

/*
 * Canonical integer form of a JSON number lexeme ("1.0" -> "1", "1e2" ->
 * "100", "-0" -> "0").  Returns the length written (NUL-terminated), or -1
 * when the lexeme is not an integer within int64 or does not fit.
 */
int		 schema_canonical_integer(const char *lexeme, size_t len,
		    char *out, size_t outsz);

/*
 * Exact decimal comparison of two JSON number lexemes: <0, 0, >0 (1 when
 * either is not a JSON number).
 */
int		 schema_number_cmp(const char *a, size_t alen, const char *b,
		    size_t blen);

/* The format checkers of SPEC 6, exposed for tests. */
bool		 schema_format_check(const char *format, const char *s,
		    size_t len);

#endif
