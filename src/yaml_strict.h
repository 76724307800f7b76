/*
 * yaml_strict.h - the strict YAML reader (SPEC 4).
 *
 * The reader runs libyaml's event parser and builds a node tree (node.h).
 * Everything YAML can express beyond plain data is refused: several
 * documents, anchors, aliases, explicit tags, %TAG directives, merge keys,
 * non-scalar keys, duplicate keys, nesting deeper than YAML_MAX_DEPTH, input
 * larger than YAML_MAX_SIZE and invalid UTF-8.  Every error found is added
 * to the diagnostics list with its 1-based line and column (code points).
 *
 * Scalars keep their source text; a plain scalar is NODE_PLAIN and any
 * quoted or block scalar NODE_STRING, so the caller resolves types by the
 * strict core schema below: only `true`/`false` are booleans, only
 * `null`/`~` (or an empty plain scalar) is null, integers are decimal
 * without sign or leading zeros except a leading '-', everything else is a
 * string.
 */
#ifndef BW_YAML_STRICT_H
#define BW_YAML_STRICT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "node.h"
#include "util.h"

#define YAML_MAX_SIZE	((size_t)4 * 1024 * 1024)
#define YAML_MAX_DEPTH	64

/*
 * Both return the document tree, or NULL when the input could not be read
 * to its end (I/O, size, UTF-8 or syntax error).  A tree may be returned
 * while errors were recorded (duplicate keys, tags...): the offending parts
 * are left out of it and the caller checks diag->errors.  An empty stream
 * yields an empty plain scalar (null) at 1:1.
 */
struct node	*yaml_load(const char *path, struct bw_diag *);
struct node	*yaml_load_buffer(const char *name, const char *buf,
		    size_t len, struct bw_diag *);

/* Strict core-schema resolution of a scalar node. */
bool		 yaml_is_null(const struct node *);
int		 yaml_get_bool(const struct node *, bool *);
int		 yaml_get_int(const struct node *, int64_t *);
bool		 yaml_is_string(const struct node *);
/* An error-message rendering of input text (bounded, no controls). */
void		 yaml_excerpt(const char *, size_t, char *, size_t);
/* "mapping", "sequence", "string", "integer", "boolean" or "null". */
const char	*yaml_type_name(const struct node *);

#endif
