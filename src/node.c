/*
 * node.c - the document tree shared by the YAML reader and the JSON lexer.
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
