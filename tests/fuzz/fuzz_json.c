/*
 * fuzz_json.c - the strict JSON reader.
 *
 * Input: one byte for the depth limit, then the document.  A parse either
 * fails with a status and an in-range position, or yields a tree whose
 * invariants hold: nesting within the limit, strings well-formed UTF-8 of
 * the stated length, numbers in the JSON grammar, no duplicate member
 * names, and a NUL after every scalar's text.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "jsonnum.h"
#include "util.h"

static void
fuzz_check(int ok)
{
	if (!ok)
		abort();
}

static void
fuzz_walk(const struct node *n, int depth, int max)
{
	struct jnum	num;
	size_t		i, j;

	if (n->kind == NODE_SCALAR) {
		fuzz_check(n->text != NULL && n->text[n->len] == '\0');
		if (n->style == NODE_STRING)
			fuzz_check(bw_utf8_valid(n->text, n->len));
		else if (n->style == NODE_NUMBER)
			fuzz_check(jnum_parse(&num, n->text, n->len) == 0);
		else
			fuzz_check(n->style == NODE_TRUE ||
			    n->style == NODE_FALSE || n->style == NODE_NULL);
		return;
	}
	fuzz_check(depth < max);
	for (i = 0; i < n->n; i++) {
		if (n->kind == NODE_MAP) {
			fuzz_check(n->keys[i]->style == NODE_STRING);
			fuzz_walk(n->keys[i], depth + 1, max);
			for (j = 0; j < i && n->n <= 64; j++)
				fuzz_check(n->keys[i]->len != n->keys[j]->len ||
				    memcmp(n->keys[i]->text, n->keys[j]->text,
				    n->keys[i]->len) != 0);
		}
		fuzz_walk(n->vals[i], depth + 1, max);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct json_error	 err;
	struct node		*n;
	int			 max;

	if (size < 1)
		return 0;
	max = data[0] % 40;
	n = json_parse((const char *)data + 1, size - 1, max, &err);
	if (n == NULL) {
		fuzz_check(err.code != JSON_OK && err.msg != NULL);
		fuzz_check(err.line >= 1 && err.col >= 1);
		fuzz_check(err.offset <= size - 1);
		return 0;
	}
	fuzz_walk(n, 0, max);
	node_free(n);
	return 0;
}
