/*
 * fuzz_schema.c - schema compilation and validation over (schema, instance)
 * pairs.
 *
 * Input: one byte choosing the mode (standard, body, parameter), then a
 * schema as JSON, a NUL byte, and an instance: JSON for the standard and
 * body modes, raw parameter bytes for the parameter mode (the instance is
 * also tried as JSON there).  The schema is registered under the name "S"
 * too, so {"$ref": "S"} reaches named references and their cycles.
 * Whatever the input, compilation either fails with diagnostics or yields a
 * schema whose validation terminates within the documented bounds: at most
 * SCHEMA_ERRORS_MAX errors, NUL-terminated pointers that are empty or start
 * with '/', and messages without the instance's bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "schema.h"
#include "util.h"

#define FUZZ_DEPTH	32

static void
fuzz_check(int ok)
{
	if (!ok)
		abort();
}

static void
fuzz_errors(const struct schema_errors *e, int rc)
{
	size_t	i;

	fuzz_check(e->n <= SCHEMA_ERRORS_MAX);
	fuzz_check(rc == 0 ? e->n == 0 : e->n > 0 || e->truncated);
	for (i = 0; i < e->n; i++) {
		fuzz_check(memchr(e->v[i].pointer, '\0',
		    sizeof(e->v[i].pointer)) != NULL);
		fuzz_check(e->v[i].pointer[0] == '\0' ||
		    e->v[i].pointer[0] == '/');
		fuzz_check(memchr(e->v[i].message, '\0',
		    sizeof(e->v[i].message)) != NULL);
		fuzz_check(e->v[i].message[0] != '\0');
	}
}

static void
fuzz_validate(const struct schema *sc, const char *p, size_t n)
{
	struct schema_errors	 e;
	struct json_error	 err;
	struct node		*inst;
	int			 rc;

	if ((inst = json_parse(p, n, FUZZ_DEPTH, &err)) == NULL)
		return;
	rc = schema_validate(sc, inst, 0, &e);
	fuzz_errors(&e, rc);
	fuzz_check(schema_validate(sc, inst, 0, NULL) == rc);
	fuzz_check(schema_validate(sc, inst, SCHEMA_V_CANON, &e) == rc);
	node_free(inst);
}

static void
fuzz_param(const struct schema *sc, const char *p, size_t n)
{
	struct schema_errors	 e;
	struct node		*out;
	int			 rc;

	rc = schema_coerce_param(sc, "p", p, n, &out, &e);
	fuzz_check((rc == 0) == (out != NULL));
	if (rc == -1)
		fuzz_errors(&e, rc);
	node_free(out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum schema_mode modes[] = { SCHEMA_STANDARD,
	    SCHEMA_BODY, SCHEMA_PARAM };
	const char		*p = (const char *)data + 1, *sep;
	struct schema_set	*set;
	const struct schema	*sc;
	struct json_error	 err;
	struct bw_diag		 diag;
	struct node		*schema;
	enum schema_mode	 mode;
	size_t			 n, rest;

	if (size < 2)
		return 0;
	mode = modes[data[0] % BW_ARRAY_LEN(modes)];
	n = size - 1;
	sep = memchr(p, '\0', n);
	rest = sep == NULL ? 0 : n - (size_t)(sep - p) - 1;
	if (sep != NULL)
		n = (size_t)(sep - p);
	if ((schema = json_parse(p, n, FUZZ_DEPTH, &err)) == NULL)
		return 0;
	memset(&diag, 0, sizeof(diag));
	set = schema_set_new();
	schema_add_named(set, "S", schema, "fuzz", &diag);
	sc = schema_compile(set, schema, mode, "fuzz", &diag);
	fuzz_check(sc != NULL || diag.n > 0 || (diag.overflow));
	if (sc != NULL && sep != NULL) {
		fuzz_validate(sc, sep + 1, rest);
		if (mode == SCHEMA_PARAM)
			fuzz_param(sc, sep + 1, rest);
	}
	schema_set_check(set, &diag);
	schema_set_free(set);
	node_free(schema);
	bw_diag_free(&diag);
	return 0;
}
