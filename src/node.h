/*
 * node.h - the document tree shared by the YAML reader (configuration) and
 * the JSON lexer (request bodies, schema test suites).
 *
 * A tree owns every byte it points at; node_free() releases a whole tree.
 * Scalars keep their exact source text: numbers are never converted on the
 * way in, so the lexeme a client sent is what gets validated and bound.
 */
#ifndef BW_NODE_H
#define BW_NODE_H

#include <stdbool.h>
#include <stddef.h>

enum node_kind {
	NODE_SCALAR,
	NODE_MAP,
	NODE_SEQ,
};

/*
 * How a scalar was written.  YAML plain scalars are NODE_PLAIN (their type is
 * resolved later by the strict core schema); YAML quoted scalars and JSON
 * strings are NODE_STRING; the JSON lexer types the rest exactly.
 */
enum node_style {
	NODE_PLAIN,
	NODE_STRING,
	NODE_NUMBER,
	NODE_TRUE,
	NODE_FALSE,
	NODE_NULL,
};

struct node {
	enum node_kind	 kind;
	enum node_style	 style;		/* scalars only */
	int		 line;		/* 1-based; code points for col */
	int		 col;
	char		*text;		/* scalar text, NUL-terminated */
	size_t		 len;		/* scalar length in bytes (may hold NUL in JSON) */
	struct node	**keys;		/* map: keys[i] -> vals[i] (keys are scalars) */
	struct node	**vals;		/* map values; seq items */
	size_t		 n;		/* map pairs or seq items */
};

/* Look up a map member by key text; NULL when absent or not a map. */
struct node	*node_get(const struct node *map, const char *key);
void		 node_free(struct node *n);

#endif
