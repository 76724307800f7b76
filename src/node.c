/*
 * node.c - the document tree shared by the YAML reader and the JSON lexer.
 *
 * Depth invariant: trees are built only by the YAML reader (at most
 * YAML_MAX_DEPTH = 64 levels, its frame stack), the JSON lexer (at most
 * the caller's max_depth, which json_parse clamps to JSON_DEPTH_CEILING =
 * 1024) and schema_coerce_param (one scalar).  The functions that recurse
 * over a tree (node_free here; the schema copy, equality and hash; the
 * configuration dump) rely on it: one frame per level, at most 1024.
 */
#include <stdlib.h>
#include <string.h>

#include "node.h"

struct node *
node_get(const struct node *map, const char *key)
{
	size_t	i, len;

	if (map == NULL || map->kind != NODE_MAP || key == NULL)
		return NULL;
	len = strlen(key);
	for (i = 0; i < map->n; i++) {
		if (map->keys[i]->len == len &&
		    memcmp(map->keys[i]->text, key, len) == 0)
			return map->vals[i];
	}
	return NULL;
}

void
node_free(struct node *n)
{
	size_t	i;

	if (n == NULL)
		return;
	for (i = 0; i < n->n; i++) {
		if (n->keys != NULL)
			node_free(n->keys[i]);
		if (n->vals != NULL)
			node_free(n->vals[i]);
	}
	free(n->keys);
	free(n->vals);
	free(n->text);
	free(n);
}
