/*
 * test_schema_suite.c - conformance of schema.c against the official
 * JSON-Schema-Test-Suite (draft 2020-12), decided per test group.
 *
 * Every group's schema is compiled in standard mode and every test of the
 * group run; the group passes when every verdict matches.  A group whose
 * schema does not compile (a keyword outside the subset of SPEC 6) fails.
 * tests/schema-exclusions lists the groups expected to fail, one a line:
 * "FILE<TAB>GROUP DESCRIPTION<TAB>REASON" or "FILE<TAB>*<TAB>REASON" for a
 * whole file.  The run fails when a group that is not excluded fails, when
 * an excluded group passes (the exclusion is stale; for a whole-file
 * exclusion: when any of its groups passes) and when an exclusion names a
 * file or group that does not exist.  The suite files are read with
 * bulwark's own JSON reader.
 */
#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "json.h"
#include "schema.h"
#include "util.h"

#define SUITE_DIR	"json-schema-test-suite/tests/draft2020-12"
#define SUITE_DEPTH	256
#define SUITE_MAX_FILES	256

struct excl {
	char	*file;
	char	*group;		/* "*" for a whole file */
	char	*reason;
	int	 line;
	bool	 used;
};

struct excls {
	struct excl	*v;
	size_t		 n;
};

struct tally {
	int	groups;
	int	passed;
	int	excluded;
	int	failures;
};

static const char *const optional_formats[] = { "date-time.json",
    "date.json", "email.json", "uuid.json", "ipv4.json", "ipv6.json",
    "uri.json" };

static char *
suite_read(const char *path, size_t *lenp)
{
	FILE	*fp;
	char	*buf;
	long	 sz;

	if ((fp = fopen(path, "rb")) == NULL)
		return NULL;
	if (fseek(fp, 0, SEEK_END) != 0 || (sz = ftell(fp)) < 0 ||
	    fseek(fp, 0, SEEK_SET) != 0) {
		fclose(fp);
		return NULL;
	}
	buf = bw_malloc((size_t)sz + 1);
	if (fread(buf, 1, (size_t)sz, fp) != (size_t)sz) {
		fclose(fp);
		free(buf);
		return NULL;
	}
	fclose(fp);
	buf[sz] = '\0';
	*lenp = (size_t)sz;
	return buf;
}

static const char *
excl_path(void)
{
	static char	buf[1024];
	const char	*slash;

	if (access("tests/schema-exclusions", R_OK) == 0)
		return "tests/schema-exclusions";
	if ((slash = strrchr(__FILE__, '/')) != NULL) {
		snprintf(buf, sizeof(buf), "%.*s/../schema-exclusions",
		    (int)(slash - __FILE__), __FILE__);
		if (access(buf, R_OK) == 0)
			return buf;
	}
	return NULL;
}

static int
excl_load(struct excls *ex)
{
	const char	*path = excl_path();
	char		*buf, *line, *next, *t1, *t2;
	size_t		 len;
	int		 lineno = 0, bad = 0;

	if (path == NULL || (buf = suite_read(path, &len)) == NULL) {
		printf("FAIL: tests/schema-exclusions not found\n");
		return -1;
	}
	for (line = buf; line != NULL && *line != '\0'; line = next) {
		lineno++;
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		if (*line == '\0' || *line == '#')
			continue;
		if ((t1 = strchr(line, '\t')) == NULL ||
		    (t2 = strchr(t1 + 1, '\t')) == NULL || t2[1] == '\0') {
			printf("FAIL: schema-exclusions:%d: want FILE<TAB>"
			    "GROUP<TAB>REASON\n", lineno);
			bad++;
			continue;
		}
		*t1 = *t2 = '\0';
		ex->v = bw_reallocarray(ex->v, ex->n + 1, sizeof(*ex->v));
		ex->v[ex->n].file = bw_strdup(line);
		ex->v[ex->n].group = bw_strdup(t1 + 1);
		ex->v[ex->n].reason = bw_strdup(t2 + 1);
		ex->v[ex->n].line = lineno;
		ex->v[ex->n].used = false;
		ex->n++;
	}
	free(buf);
	return bad == 0 ? 0 : -1;
}

static void
excl_free(struct excls *ex)
{
	size_t	i;

	for (i = 0; i < ex->n; i++) {
		free(ex->v[i].file);
		free(ex->v[i].group);
		free(ex->v[i].reason);
	}
	free(ex->v);
}

static struct excl *
excl_find(struct excls *ex, const char *file, const char *group)
{
	size_t	i;

	for (i = 0; i < ex->n; i++)
		if (strcmp(ex->v[i].file, file) == 0 &&
		    (strcmp(ex->v[i].group, group) == 0 ||
		    strcmp(ex->v[i].group, "*") == 0))
			return &ex->v[i];
	return NULL;
}

/*
 * Runs one group.  Returns true when every test's verdict matches; *why
 * says what went wrong otherwise.
 */
static bool
suite_group(const char *file, const struct node *g, char *why, size_t whysz)
{
	const struct node	*schema, *tests, *t, *data, *valid, *desc;
	struct schema_set	*set;
	const struct schema	*sc;
	struct bw_diag		 diag;
	struct schema_errors	 errs;
	bool			 ok = true, want, got;
	size_t			 i;

	memset(&diag, 0, sizeof(diag));
	schema = node_get(g, "schema");
	tests = node_get(g, "tests");
	if (schema == NULL || tests == NULL || tests->kind != NODE_SEQ) {
		snprintf(why, whysz, "malformed group");
		return false;
	}
	set = schema_set_new();
	if ((sc = schema_compile(set, schema, SCHEMA_STANDARD, file,
	    &diag)) == NULL) {
		snprintf(why, whysz, "does not compile: %s",
		    diag.n > 0 ? diag.v[0].msg : "?");
		ok = false;
	}
	for (i = 0; sc != NULL && i < tests->n && ok; i++) {
		t = tests->vals[i];
		data = node_get(t, "data");
		valid = node_get(t, "valid");
		desc = node_get(t, "description");
		if (data == NULL || valid == NULL) {
			snprintf(why, whysz, "malformed test");
			ok = false;
			break;
		}
		want = valid->style == NODE_TRUE;
		got = schema_validate(sc, (struct node *)data, 0, &errs) == 0;
		if (want != got) {
			snprintf(why, whysz, "test \"%s\": expected %s",
			    desc != NULL ? desc->text : "?",
			    want ? "valid" : "invalid");
			ok = false;
		}
	}
	schema_set_free(set);
	bw_diag_free(&diag);
	return ok;
}

static void
suite_file(const char *dir, const char *name, struct excls *ex,
    struct tally *total)
{
	struct tally		 t = { 0, 0, 0, 0 };
	struct json_error	 err;
	struct node		*root;
	const struct node	*desc;
	struct excl		*e;
	char			 path[2048], why[512];
	char			*buf;
	size_t			 len, i;
	bool			 pass;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((buf = suite_read(path, &len)) == NULL) {
		printf("FAIL: %s: cannot read\n", name);
		total->failures++;
		return;
	}
	root = json_parse(buf, len, SUITE_DEPTH, &err);
	free(buf);
	if (root == NULL || root->kind != NODE_SEQ) {
		printf("FAIL: %s:%d:%d: %s\n", name, err.line, err.col,
		    root == NULL ? err.msg : "not an array");
		node_free(root);
		total->failures++;
		return;
	}
	for (i = 0; i < root->n; i++) {
		desc = node_get(root->vals[i], "description");
		if (desc == NULL || desc->kind != NODE_SCALAR) {
			printf("FAIL: %s: group %zu has no description\n",
			    name, i);
			t.failures++;
			continue;
		}
		t.groups++;
		pass = suite_group(name, root->vals[i], why, sizeof(why));
		e = excl_find(ex, name, desc->text);
		if (e != NULL) {
			e->used = true;
			t.excluded++;
			if (pass) {
				printf("FAIL: %s: \"%s\" passes but is "
				    "excluded (schema-exclusions:%d)\n", name,
				    desc->text, e->line);
				t.failures++;
			}
		} else if (!pass) {
			printf("FAIL: %s: \"%s\": %s\n", name, desc->text,
			    why);
			t.failures++;
		} else
			t.passed++;
	}
	node_free(root);
	printf("%-34s %4d/%-4d passed %4d excluded%s\n", name, t.passed,
	    t.groups, t.excluded, t.failures != 0 ? "  FAILURES" : "");
	total->groups += t.groups;
	total->passed += t.passed;
	total->excluded += t.excluded;
	total->failures += t.failures;
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char * const *)a, *(char * const *)b);
}

static size_t
suite_list(const char *dir, char **names, size_t max)
{
	DIR		*d;
	struct dirent	*de;
	size_t		 n = 0, l;

	if ((d = opendir(dir)) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL && n < max) {
		l = strlen(de->d_name);
		if (l > 5 && strcmp(de->d_name + l - 5, ".json") == 0)
			names[n++] = bw_strdup(de->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof(*names), name_cmp);
	return n;
}

static void
suite_optional(const char *dir, struct excls *ex, struct tally *total)
{
	char	path[2048], name[256];
	size_t	i;

	snprintf(path, sizeof(path), "%s/optional", dir);
	if (access(path, R_OK) != 0) {
		printf("NOTE: %s absent: optional/format cases not run (the "
		    "asserted formats have their own tests in "
		    "test_schema.c)\n", path);
		return;
	}
	printf("NOTE: optional/ is run only for optional/format/ of the "
	    "formats bulwark asserts\n");
	snprintf(path, sizeof(path), "%s/optional/format", dir);
	for (i = 0; i < BW_ARRAY_LEN(optional_formats); i++) {
		snprintf(name, sizeof(name), "optional/format/%s",
		    optional_formats[i]);
		snprintf(path, sizeof(path), "%s/%s", dir, name);
		if (access(path, R_OK) == 0)
			suite_file(dir, name, ex, total);
	}
}

START_TEST(suite_conformance)
{
	struct excls	 ex = { NULL, 0 };
	struct tally	 total = { 0, 0, 0, 0 };
	char		 dirbuf[1024], *names[SUITE_MAX_FILES];
	const char	*dir;
	size_t		 n, i;

	if ((dir = unit_testdata(SUITE_DIR, dirbuf, sizeof(dirbuf))) == NULL)
		return;
	setvbuf(stdout, NULL, _IOLBF, 0);
	ck_assert_int_eq(excl_load(&ex), 0);
	n = suite_list(dir, names, SUITE_MAX_FILES);
	ck_assert_uint_gt(n, 0);
	printf("%-34s %9s %6s %13s\n", "file", "groups", "", "");
	for (i = 0; i < n; i++) {
		suite_file(dir, names[i], &ex, &total);
		free(names[i]);
	}
	suite_optional(dir, &ex, &total);
	for (i = 0; i < ex.n; i++)
		if (!ex.v[i].used) {
			printf("FAIL: schema-exclusions:%d: %s \"%s\" names "
			    "no group of the suite\n", ex.v[i].line,
			    ex.v[i].file, ex.v[i].group);
			total.failures++;
		}
	printf("TOTAL: %d groups, %d passed, %d excluded, %d failures\n",
	    total.groups, total.passed, total.excluded, total.failures);
	excl_free(&ex);
	fflush(stdout);
	ck_assert_int_eq(total.failures, 0);
	ck_assert_int_eq(total.passed + total.excluded, total.groups);
}
END_TEST

Suite *
unit_suite(void)
{
	Suite	*s = suite_create("schema_suite");
	TCase	*tc = tcase_create("draft2020-12");

	tcase_set_timeout(tc, UNIT_TIMEOUT);
	tcase_add_test(tc, suite_conformance);
	suite_add_tcase(s, tc);
	return s;
}
