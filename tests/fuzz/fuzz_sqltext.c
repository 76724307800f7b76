/*
 * fuzz_sqltext.c - the route SQL lexer over arbitrary bytes.
 *
 * Besides not crashing, every accepted text must satisfy the rewriter's
 * invariants: the output is no longer than the input, is NUL-free, and
 * every $k it names lies within the parameter list.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sqltext.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sqltext_error	 err;
	struct sqltext		*st;
	char			 name[64];
	size_t			 i;
	int			 line, col;

	st = sqltext_parse((const char *)data, size, &err);
	if (st == NULL) {
		if (err.offset > size || memchr(err.msg, '\0',
		    sizeof(err.msg)) == NULL)
			abort();
		sqltext_position((const char *)data, size, err.offset, &line,
		    &col);
		if (line < 1 || col < 1)
			abort();
		return 0;
	}
	if (st->sql_len > size || strlen(st->sql) != st->sql_len ||
	    st->verb == NULL || st->nparams > SQLTEXT_MAX_PARAMS)
		abort();
	for (i = 0; i < st->nparams; i++) {
		if (st->params[i].offset >= size ||
		    data[st->params[i].offset] != ':' ||
		    st->params[i].nnames > SQLTEXT_MAX_MEMBERS)
			abort();
		sqltext_param_name(&st->params[i], name, sizeof(name));
	}
	sqltext_free(st);
	return 0;
}
