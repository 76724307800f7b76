/*
 * schema_bench.c - validation time per request body (issue 4 targets):
 * SPEC 4's NewNote under the body default (< 2 us) and a 50-member object
 * mixing strings, integers, numbers, booleans, enums, patterns and formats
 * (< 20 us).  Each body is parsed once and validated many times, so the
 * figure is schema_validate() alone.  Exit status 1 when a target is missed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "json.h"
#include "schema.h"
#include "util.h"

#define BENCH_ROUNDS	200000

static const char newnote_schema[] =
    "{\"type\": \"object\", \"required\": [\"title\"], \"properties\": {"
    "\"title\": {\"type\": \"string\", \"minLength\": 1, \"maxLength\": 200},"
    "\"body\": {\"type\": \"string\", \"maxLength\": 10000}}}";

static const char newnote_body[] =
    "{\"title\": \"Groceries for the weekend\", \"body\": \"Milk, eggs, "
    "flour, butter, coffee beans, two lemons and something for dinner on "
    "Sunday; ask the neighbours whether they need anything as well.\"}";

static struct node *
bench_parse(const char *s)
{
	struct json_error	 err;
	struct node		*n;

	if ((n = json_parse(s, strlen(s), 32, &err)) == NULL) {
		fprintf(stderr, "schema_bench: %s at %d:%d\n", err.msg,
		    err.line, err.col);
		exit(2);
	}
	return n;
}

/* Five kinds of member, ten of each: f0..f49. */
static void
bench_wide(char *schema, size_t ssz, char *body, size_t bsz)
{
	static const char *const kinds[][2] = {
		{ "{\"type\": \"string\", \"maxLength\": 64, \"pattern\": "
		    "\"^[A-Za-z ]+$\"}", "\"Some plain words\"" },
		{ "{\"type\": \"integer\", \"minimum\": 0, \"maximum\": "
		    "1000000}", "123456" },
		{ "{\"type\": \"number\", \"exclusiveMinimum\": 0, "
		    "\"multipleOf\": 0.01}", "19.99" },
		{ "{\"enum\": [\"red\", \"green\", \"blue\"]}", "\"green\"" },
		{ "{\"type\": \"string\", \"format\": \"date-time\"}",
		    "\"2024-05-01T12:30:00Z\"" },
	};
	size_t	so = 0, bo = 0;
	int	i;

	so += (size_t)snprintf(schema + so, ssz - so, "{\"type\": \"object\", "
	    "\"required\": [\"f0\", \"f1\", \"f2\"], \"properties\": {");
	bo += (size_t)snprintf(body + bo, bsz - bo, "{");
	for (i = 0; i < 50; i++) {
		so += (size_t)snprintf(schema + so, ssz - so, "%s\"f%d\": %s",
		    i ? ", " : "", i, kinds[i % 5][0]);
		bo += (size_t)snprintf(body + bo, bsz - bo, "%s\"f%d\": %s",
		    i ? ", " : "", i, kinds[i % 5][1]);
	}
	snprintf(schema + so, ssz - so, "}}");
	snprintf(body + bo, bsz - bo, "}");
}

static int
bench_run(const char *name, const char *schema_text, const char *body_text,
    double target_us)
{
	struct schema_set	*set = schema_set_new();
	struct schema_errors	 errs;
	struct bw_diag		 diag = { 0 };
	const struct schema	*sc;
	struct node		*schema, *body;
	struct timespec		 t0, t1;
	double			 us;
	int			 i;

	schema = bench_parse(schema_text);
	if ((sc = schema_compile(set, schema, SCHEMA_BODY, name,
	    &diag)) == NULL) {
		bw_diag_print(&diag, stderr);
		exit(2);
	}
	body = bench_parse(body_text);
	if (schema_validate(sc, body, 0, &errs) != 0) {
		fprintf(stderr, "schema_bench: %s: body invalid: %s %s\n",
		    name, errs.v[0].pointer, errs.v[0].message);
		exit(2);
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < BENCH_ROUNDS; i++)
		if (schema_validate(sc, body, 0, &errs) != 0)
			exit(2);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	us = ((double)(t1.tv_sec - t0.tv_sec) * 1e6 +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e3) / BENCH_ROUNDS;
	printf("%-10s %8.3f us/validation (target < %.0f us) %s\n", name, us,
	    target_us, us < target_us ? "ok" : "MISSED");
	node_free(body);
	node_free(schema);
	schema_set_free(set);
	bw_diag_free(&diag);
	return us < target_us ? 0 : 1;
}

int
main(void)
{
	static char	schema[16384], body[8192];
	int		missed = 0;

	missed += bench_run("NewNote", newnote_schema, newnote_body, 2.0);
	bench_wide(schema, sizeof(schema), body, sizeof(body));
	missed += bench_run("50-field", schema, body, 20.0);
	return missed == 0 ? 0 : 1;
}
