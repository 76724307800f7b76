/*
 * test_result.c - PostgreSQL results to JSON, against a real PostgreSQL.
 *
 * An unchecked fixture starts a throwaway cluster with tests/pg-tmp (path
 * overridable with BW_PG_TMP) and stops it at the end.  When the
 * PostgreSQL server binaries are not installed (pg-tmp exits 77) every
 * case says so and is skipped; any other start failure fails the cases.
 * The tests connect with a blocking libpq connection and the session
 * settings of SPEC 7.
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <event2/buffer.h>
#include <jansson.h>
#include <libpq-fe.h>

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "result.h"
#include "sqltext.h"
#include "util.h"

#define PG_OPTIONS	"-c TimeZone=UTC -c DateStyle=ISO -c extra_float_digits=1 "\
			"-c client_min_messages=warning"

static char	 pg_dir[64];
static char	 pg_conninfo[1024];
static char	 pg_err[256];
static bool	 pg_skip;
static bool	 pg_up;

static const char *
pg_tmp_path(void)
{
	const char	*p = getenv("BW_PG_TMP");

	return p != NULL ? p : "tests/pg-tmp";
}

/* Runs pg-tmp with args; its stdout goes to out (NUL-terminated). */
static int
pg_tmp_run(char *const argv[], char *out, size_t outsz)
{
	int	 fd[2], status;
	size_t	 n = 0;
	ssize_t	 r;
	pid_t	 pid;

	if (pipe2(fd, O_CLOEXEC) == -1)
		return -1;
	if ((pid = fork()) == -1)
		return -1;
	if (pid == 0) {
		/*
		 * The server outlives pg-tmp: it must not inherit this pipe or
		 * any descriptor of the test runner, or readers never see EOF.
		 */
		if (dup2(fd[1], STDOUT_FILENO) == -1)
			_exit(126);
		closefrom(STDERR_FILENO + 1);
		execv(argv[0], argv);
		_exit(127);
	}
	close(fd[1]);
	while (n + 1 < outsz) {
		r = read(fd[0], out + n, outsz - n - 1);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	out[n] = '\0';
	close(fd[0]);
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static const char *
env_value(const char *out, const char *key, char *buf, size_t bufsz)
{
	const char	*p = out, *e;
	size_t		 klen = strlen(key);

	while (*p != '\0') {
		e = strchr(p, '\n');
		if (e == NULL)
			e = p + strlen(p);
		if ((size_t)(e - p) > klen && strncmp(p, key, klen) == 0 &&
		    p[klen] == '=') {
			snprintf(buf, bufsz, "%.*s", (int)(e - p - klen - 1),
			    p + klen + 1);
			return buf;
		}
		p = *e == '\0' ? e : e + 1;
	}
	return NULL;
}

static void
pg_exec_setup(PGconn *c, const char *sql)
{
	PGresult	*res = PQexec(c, sql);

	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		snprintf(pg_err, sizeof(pg_err), "setup: %s",
		    PQerrorMessage(c));
	PQclear(res);
}

static void
pg_start(void)
{
	char		 out[4096], host[256], port[16], user[64], db[64];
	char		*argv[] = { NULL, "start", pg_dir, "--db",
			    "bulwark_result", NULL };
	PGconn		*c;
	int		 rc;

	argv[0] = (char *)pg_tmp_path();
	if (access(argv[0], X_OK) != 0) {
		snprintf(pg_err, sizeof(pg_err), "%s not found", argv[0]);
		return;
	}
	snprintf(pg_dir, sizeof(pg_dir), "/tmp/bw-result.XXXXXX");
	if (mkdtemp(pg_dir) == NULL) {
		snprintf(pg_err, sizeof(pg_err), "mkdtemp failed");
		return;
	}
	rc = pg_tmp_run(argv, out, sizeof(out));
	if (rc == 77) {
		pg_skip = true;
		printf("SKIP: PostgreSQL server binaries (initdb) not installed; "
		    "result cases skipped\n");
		return;
	}
	if (rc != 0 || env_value(out, "PGHOST", host, sizeof(host)) == NULL ||
	    env_value(out, "PGPORT", port, sizeof(port)) == NULL ||
	    env_value(out, "PGUSER", user, sizeof(user)) == NULL ||
	    env_value(out, "PGDATABASE", db, sizeof(db)) == NULL) {
		snprintf(pg_err, sizeof(pg_err), "pg-tmp start failed (%d)",
		    rc);
		return;
	}
	snprintf(pg_conninfo, sizeof(pg_conninfo), "host=%s port=%s user=%s "
	    "dbname=%s options='" PG_OPTIONS "'", host, port, user, db);
	c = PQconnectdb(pg_conninfo);
	if (PQstatus(c) != CONNECTION_OK) {
		snprintf(pg_err, sizeof(pg_err), "connect: %s",
		    PQerrorMessage(c));
		PQfinish(c);
		return;
	}
	pg_exec_setup(c,
	    "CREATE DOMAIN posint AS int CHECK (VALUE > 0);"
	    "CREATE DOMAIN posint2 AS posint;"
	    "CREATE DOMAIN tsd AS timestamptz;"
	    "CREATE DOMAIN jd AS jsonb;"
	    "CREATE DOMAIN intarr AS int[];"
	    "CREATE TABLE nums (n int);"
	    "INSERT INTO nums SELECT generate_series(1, 5)");
	if (pg_err[0] == '\0')
		pg_exec_setup(c, "CREATE DATABASE bytes TEMPLATE template0 "
		    "ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C'");
	PQfinish(c);
	if (pg_err[0] == '\0')
		pg_up = true;
}

static void
pg_stop(void)
{
	char	 out[256];
	char	*argv[] = { NULL, "stop", pg_dir, NULL };

	if (pg_dir[0] == '\0')
		return;
	argv[0] = (char *)pg_tmp_path();
	if (pg_tmp_run(argv, out, sizeof(out)) != 0)
		fprintf(stderr, "test_result: pg-tmp stop %s failed\n", pg_dir);
	rmdir(pg_dir);
}

/* False: skip this case (said so at start-up). */
static bool
need_pg(void)
{
	if (pg_skip)
		return false;
	ck_assert_msg(pg_up, "PostgreSQL not available: %s", pg_err);
	return true;
}

static PGconn *
db_connect(const char *dbname)
{
	char	 ci[1200];
	PGconn	*c;

	snprintf(ci, sizeof(ci), "%s%s%s", pg_conninfo,
	    dbname != NULL ? " dbname=" : "", dbname != NULL ? dbname : "");
	c = PQconnectdb(ci);
	ck_assert_msg(PQstatus(c) == CONNECTION_OK, "connect: %s",
	    PQerrorMessage(c));
	return c;
}

static void
db_exec(PGconn *c, const char *sql)
{
	PGresult	*res = PQexec(c, sql);

	ck_assert_msg(PQresultStatus(res) == PGRES_COMMAND_OK ||
	    PQresultStatus(res) == PGRES_TUPLES_OK, "%s: %s", sql,
	    PQerrorMessage(c));
	PQclear(res);
}

struct outcome {
	int		 status;		/* 200, or result_status() */
	char		*json;			/* what the result added */
	char		 err[192];
	uint64_t	 nrows;
};

#define PREFIX	"HTTP/1.1 200 OK\r\n\r\n"

/*
 * Runs sql and feeds its rows to a result writing after PREFIX.  Single
 * row mode feeds every row with result_row() and the final empty result
 * with result_add(); otherwise the one result goes to result_add().  The
 * prefix must survive, and a failed result must leave nothing after it.
 */
static void
run(PGconn *c, const char *sql, enum conf_result mode, uint32_t max_rows,
    uint64_t max_size, bool single, struct outcome *o)
{
	struct result_limits	 lim = { max_rows, max_size };
	struct evbuffer		*b = evbuffer_new();
	struct result		*r;
	PGresult		*res;
	size_t			 n;
	int			 rc = 0;

	ck_assert_ptr_nonnull(b);
	evbuffer_add(b, PREFIX, strlen(PREFIX));
	r = result_begin(mode, b, &lim);
	if (single) {
		ck_assert_int_eq(PQsendQuery(c, sql), 1);
		ck_assert_int_eq(PQsetSingleRowMode(c), 1);
		while ((res = PQgetResult(c)) != NULL) {
			if (PQresultStatus(res) == PGRES_SINGLE_TUPLE)
				rc |= result_row(r, res, 0);
			else
				rc |= result_add(r, res);
			PQclear(res);
		}
	} else {
		res = PQexec(c, sql);
		rc = result_add(r, res);
		PQclear(res);
	}
	if (rc == 0)
		rc = result_end(r);
	else
		ck_assert_int_eq(result_end(r), -1);
	o->status = result_status(r);
	ck_assert_int_eq(rc == 0, o->status == 200);
	ck_assert_int_eq(rc == 0, result_error(r) == NULL);
	snprintf(o->err, sizeof(o->err), "%s",
	    rc == 0 ? "" : result_error(r));
	o->nrows = result_nrows(r);
	result_free(r);
	n = evbuffer_get_length(b);
	ck_assert_uint_ge(n, strlen(PREFIX));
	o->json = bw_malloc(n + 1);
	ck_assert_int_eq(evbuffer_remove(b, o->json, n), (int)n);
	o->json[n] = '\0';
	ck_assert_int_eq(memcmp(o->json, PREFIX, strlen(PREFIX)), 0);
	memmove(o->json, o->json + strlen(PREFIX), n - strlen(PREFIX) + 1);
	if (rc != 0)
		ck_assert_msg(o->json[0] == '\0', "failed result left \"%s\"",
		    o->json);
	evbuffer_free(b);
}

/* The output must be one valid JSON text without duplicate keys. */
static void
valid_json(const char *s)
{
	json_error_t	 jerr;
	json_t		*j;

	j = json_loads(s, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
	ck_assert_msg(j != NULL, "invalid JSON \"%s\": %s", s, jerr.text);
	json_decref(j);
}

/* Both with and without single-row mode. */
static void
expect(PGconn *c, const char *sql, enum conf_result mode, const char *want)
{
	struct outcome	 o;
	int		 single;

	for (single = 0; single < 2; single++) {
		run(c, sql, mode, 0, 0, single, &o);
		ck_assert_msg(o.status == 200, "%s: %d %s", sql, o.status,
		    o.err);
		ck_assert_str_eq(o.json, want);
		if (mode != RESULT_NONE)
			valid_json(o.json);
		free(o.json);
	}
}

static void
expect_fail(PGconn *c, const char *sql, enum conf_result mode,
    uint32_t max_rows, uint64_t max_size, int status, const char *part)
{
	struct outcome	 o;
	int		 single;

	for (single = 0; single < 2; single++) {
		run(c, sql, mode, max_rows, max_size, single, &o);
		ck_assert_msg(o.status == status, "%s: status %d, want %d",
		    sql, o.status, status);
		ck_assert_msg(strstr(o.err, part) != NULL, "%s: error \"%s\" "
		    "lacks \"%s\"", sql, o.err, part);
		free(o.json);
	}
}

START_TEST(test_numbers)
{
	PGconn	*c;

	if (!need_pg())
		return;
	c = db_connect(NULL);
	expect(c, "SELECT 1::int2 AS a, '-2147483648'::int4 AS b, "
	    "9223372036854775807::int8 AS c, 1.10::numeric AS d, "
	    "'NaN'::float8 AS e, 'Infinity'::numeric AS f, "
	    "'-Infinity'::float4 AS g, 0.1::float8 AS h, 1e100::float8 AS i, "
	    "1.5e-7::float8 AS j, '-0'::float8 AS k, 'NaN'::numeric AS l, "
	    "123456789012345678901234567890.000001::numeric AS m, "
	    "0.1::float4 AS n, '-Infinity'::numeric AS o, 3.0::float8 AS p",
	    RESULT_OBJECT,
	    "{\"a\":1,\"b\":-2147483648,\"c\":9223372036854775807,"
	    "\"d\":1.10,\"e\":\"NaN\",\"f\":\"Infinity\",\"g\":\"-Infinity\","
	    "\"h\":0.1,\"i\":1e+100,\"j\":1.5e-07,\"k\":-0,\"l\":\"NaN\","
	    "\"m\":123456789012345678901234567890.000001,\"n\":0.1,"
	    "\"o\":\"-Infinity\",\"p\":3}");
	PQfinish(c);
}
END_TEST

START_TEST(test_bool_null_json)
{
	PGconn	*c;

	if (!need_pg())
		return;
	c = db_connect(NULL);
	expect(c, "SELECT true AS t, false AS f, NULL::int AS n, "
	    "NULL::text AS s, NULL::json AS nj, "
	    "'{\"a\": [1, 2.50], \"s\": \"\\u00e9\\n\"}'::json AS j, "
	    "'{\"b\": 1, \"a\": [1, 2.50]}'::jsonb AS jb, 'null'::jsonb AS jn, "
	    "'\"str\"'::json AS js", RESULT_OBJECT,
	    "{\"t\":true,\"f\":false,\"n\":null,\"s\":null,\"nj\":null,"
	    "\"j\":{\"a\": [1, 2.50], \"s\": \"\\u00e9\\n\"},"
	    "\"jb\":{\"a\": [1, 2.50], \"b\": 1},\"jn\":null,\"js\":\"str\"}");
	PQfinish(c);
}
END_TEST

START_TEST(test_timestamps)
{
	PGconn	*c;

	if (!need_pg())
		return;
	c = db_connect(NULL);
	expect(c, "SELECT '2024-01-02 03:04:05.123456+00'::timestamptz AS a, "
	    "'2024-01-02 03:04:05+02'::timestamptz AS b, "
	    "'2024-01-02 03:04:05.5'::timestamp AS c, "
	    "'infinity'::timestamptz AS d, '-infinity'::timestamp AS e, "
	    "'0044-03-15 12:00:00 BC'::timestamptz AS f, "
	    "'12345-01-01 00:00:00'::timestamp AS g, "
	    "'2024-01-02 03:04:05.12'::timestamptz(2) AS h, "
	    "'2024-01-02 03:04:05.999999'::timestamp AS i", RESULT_OBJECT,
	    "{\"a\":\"2024-01-02T03:04:05.123456Z\","
	    "\"b\":\"2024-01-02T01:04:05Z\",\"c\":\"2024-01-02T03:04:05.5\","
	    "\"d\":\"infinity\",\"e\":\"-infinity\","
	    "\"f\":\"0044-03-15 12:00:00+00 BC\","
	    "\"g\":\"12345-01-01T00:00:00\",\"h\":\"2024-01-02T03:04:05.12Z\","
	    "\"i\":\"2024-01-02T03:04:05.999999\"}");
	/* A session not in UTC: no false "Z", PostgreSQL's text instead. */
	db_exec(c, "SET TimeZone = 'Europe/Paris'");
	expect(c, "SELECT '2024-01-02 03:04:05+00'::timestamptz AS a",
	    RESULT_OBJECT, "{\"a\":\"2024-01-02 04:04:05+01\"}");
	PQfinish(c);
}
END_TEST

START_TEST(test_arrays)
{
	PGconn	*c;

	if (!need_pg())
		return;
	c = db_connect(NULL);
	expect(c, "SELECT '{1,2,3}'::int[] AS a, '{}'::int[] AS b, "
	    "ARRAY['a b', 'c\"d', NULL, 'NULL', 'e\\f', '', 'x,y', '{z}', "
	    "' s '] AS c, '{NaN,Infinity,-1.5}'::float8[] AS d, "
	    "'{1.10,NaN}'::numeric[] AS e, '{t,f,NULL}'::bool[] AS f, "
	    "ARRAY['{\"k\": \"v\\\"w\"}'::json, 'null', NULL] AS g, "
	    "ARRAY['2024-01-02 03:04:05+00'::timestamptz, NULL] AS h, "
	    "ARRAY['2024-01-02 03:04:05'::timestamp] AS i, "
	    "'{{1,2},{3,4}}'::int[] AS j, '[0:1]={5,6}'::int[] AS k, "
	    "ARRAY['\\x01'::bytea] AS l, "
	    "ARRAY['a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid] AS m, "
	    "'{9223372036854775807}'::int8[] AS n, ARRAY['{\"x\":1}'::jsonb] AS o, "
	    "'{\"(1,2)\"}'::text[] AS p", RESULT_OBJECT,
	    "{\"a\":[1,2,3],\"b\":[],"
	    "\"c\":[\"a b\",\"c\\\"d\",null,\"NULL\",\"e\\\\f\",\"\",\"x,y\","
	    "\"{z}\",\" s \"],\"d\":[\"NaN\",\"Infinity\",-1.5],"
	    "\"e\":[1.10,\"NaN\"],\"f\":[true,false,null],"
	    "\"g\":[{\"k\": \"v\\\"w\"},null,null],"
	    "\"h\":[\"2024-01-02T03:04:05Z\",null],"
	    "\"i\":[\"2024-01-02T03:04:05\"],\"j\":\"{{1,2},{3,4}}\","
	    "\"k\":\"[0:1]={5,6}\",\"l\":[\"\\\\x01\"],"
	    "\"m\":[\"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11\"],"
	    "\"n\":[9223372036854775807],\"o\":[{\"x\": 1}],"
	    "\"p\":[\"(1,2)\"]}");
	PQfinish(c);
}
END_TEST

START_TEST(test_strings)
{
	PGconn	*c;

	if (!need_pg())
		return;
	c = db_connect(NULL);
	expect(c, "SELECT E'a\"b\\\\c\\n\\r\\t\\b\\f\\x01\\x1f\\x7f' AS s, "
	    "'\xc3\xa9\xf0\x9f\x98\x80' AS u, '\\x00ff'::bytea AS b, "
	    "'ab'::char(4) AS c, '1 day'::interval AS i, "
	    "'2024-01-02'::date AS d, "
	    "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid AS g, "
	    "'192.168.0.1/24'::inet AS n, 42::oid AS o, '(1,2)'::point AS p, "
	    "'' AS e", RESULT_OBJECT,
	    "{\"s\":\"a\\\"b\\\\c\\n\\r\\t\\b\\f\\u0001\\u001f\\u007f\","
	    "\"u\":\"\xc3\xa9\xf0\x9f\x98\x80\",\"b\":\"\\\\x00ff\","
	    "\"c\":\"ab  \",\"i\":\"1 day\",\"d\":\"2024-01-02\","
	    "\"g\":\"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11\","
	    "\"n\":\"192.168.0.1/24\",\"o\":\"42\",\"p\":\"(1,2)\","
	    "\"e\":\"\"}");
	/* Column names are escaped too. */
	expect(c, "SELECT 1 AS \"we\"\"ird\n\xc3\xa9\", 2 AS \"?column?\"",
	    RESULT_OBJECT, "{\"we\\\"ird\\n\xc3\xa9\":1,\"?column?\":2}");
	PQfinish(c);
}
END_TEST

START_TEST(test_invalid_utf8)
{
	PGconn	*c;

	if (!need_pg())
		return;
	/* An SQL_ASCII database hands out whatever bytes it holds. */
	c = db_connect("bytes");
	expect(c, "SELECT 'plain' AS a", RESULT_OBJECT, "{\"a\":\"plain\"}");
	expect_fail(c, "SELECT E'ok\\xff' AS a", RESULT_OBJECT, 0, 0, 500,
	    "not valid UTF-8");
	expect_fail(c, "SELECT ARRAY[E'\\xc3'] AS a", RESULT_ARRAY, 0, 0, 500,
	    "not valid UTF-8");
	expect_fail(c, "SELECT 1 AS \"\xff\"", RESULT_OBJECT, 0, 0, 500,
	    "name is not UTF-8");
	expect_fail(c, "SELECT E'\"\\xff\"'::json",
	    RESULT_VALUE, 0, 0, 500, "invalid json");
	PQfinish(c);
}
END_TEST

START_TEST(test_domains)
{
	PGconn		*c;
	PGresult	*res;
	const char	*err = NULL;
	char		 sql[256];

	if (!need_pg())
		return;
	c = db_connect(NULL);
	result_types_reset();
	/* Domain columns arrive as their base type. */
	expect(c, "SELECT 5::posint AS a, 6::posint2 AS b, "
	    "'2024-01-02 03:04:05+00'::tsd AS c, '{\"x\":1}'::jd AS d, "
	    "'{1,2}'::intarr AS e", RESULT_OBJECT,
	    "{\"a\":5,\"b\":6,\"c\":\"2024-01-02T03:04:05Z\","
	    "\"d\":{\"x\": 1},\"e\":[1,2]}");
	/* Arrays of domains have their own OIDs: unknown, they are text. */
	expect(c, "SELECT ARRAY[1,2]::posint[] AS a", RESULT_OBJECT,
	    "{\"a\":\"{1,2}\"}");

	res = PQexec(c, RESULT_TYPES_QUERY);
	ck_assert_int_eq(result_types_load(res, &err), 0);
	PQclear(res);
	expect(c, "SELECT ARRAY[1,2]::posint[] AS a, ARRAY[3]::posint2[] AS b, "
	    "ARRAY['2024-01-02 03:04:05+00'::tsd] AS c, "
	    "ARRAY['{\"x\":1}'::jd] AS d, ARRAY['{1}'::intarr] AS e",
	    RESULT_OBJECT, "{\"a\":[1,2],\"b\":[3],"
	    "\"c\":[\"2024-01-02T03:04:05Z\"],\"d\":[{\"x\": 1}],"
	    "\"e\":\"{\\\"{1}\\\"}\"}");

	/* A later registration of the same OID wins. */
	res = PQexec(c, "SELECT 'posint[]'::regtype::oid");
	ck_assert_int_eq(PQresultStatus(res), PGRES_TUPLES_OK);
	ck_assert_int_eq(result_types_add_domain(
	    (uint32_t)strtoul(PQgetvalue(res, 0, 0), NULL, 10), 25), 0);
	PQclear(res);
	expect(c, "SELECT ARRAY[1,2]::posint[] AS a", RESULT_OBJECT,
	    "{\"a\":\"{1,2}\"}");

	/* Malformed input to result_types_load. */
	res = PQexec(c, "SELECT 1");
	ck_assert_int_eq(result_types_load(res, &err), -1);
	ck_assert_str_eq(err, "unexpected result for the type query");
	PQclear(res);
	snprintf(sql, sizeof(sql), "SELECT 'x', 'd', '0', '0'");
	res = PQexec(c, sql);
	ck_assert_int_eq(result_types_load(res, &err), -1);
	ck_assert_str_eq(err, "malformed row in the type query");
	PQclear(res);
	res = PQexec(c, "SELECT '4294967296', 'd', '0', '0'");
	ck_assert_int_eq(result_types_load(res, &err), -1);
	PQclear(res);
	res = PQexec(c, "SELECT '1', 'b', NULL, '0'");
	ck_assert_int_eq(result_types_load(res, &err), -1);
	PQclear(res);
	result_types_reset();
	PQfinish(c);
}
END_TEST

START_TEST(test_types_bound)
{
	PGconn		*c;
	PGresult	*res;
	const char	*err = NULL;
	uint32_t	 i;

	result_types_reset();
	for (i = 0; i < RESULT_TYPES_MAX; i++)
		ck_assert_int_eq(result_types_add_array(100000 + i, 23), 0);
	ck_assert_int_eq(result_types_add_domain(1, 23), -1);
	ck_assert_int_eq(result_types_add_array(1, 23), -1);
	if (need_pg()) {
		c = db_connect(NULL);
		res = PQexec(c, RESULT_TYPES_QUERY);
		ck_assert_int_gt(PQntuples(res), 0);
		ck_assert_int_eq(result_types_load(res, &err), -1);
		ck_assert_str_eq(err, "too many database types "
		    "(RESULT_TYPES_MAX)");
		PQclear(res);
		PQfinish(c);
	}
	result_types_reset();
	ck_assert_int_eq(result_types_add_domain(1, 23), 0);
	result_types_reset();
}
END_TEST

/* The table handed from a reload's check child to the master. */
START_TEST(test_types_export)
{
	static struct result_type_rec	 recs[RESULT_TYPES_MAX], again[4];
	struct result_type_rec		 bad[1] = { { 7, 23, 2 } };
	PGconn				*c;
	PGresult			*res;
	const char			*err = NULL;
	size_t				 n;

	result_types_reset();
	ck_assert_int_eq(result_types_add_array(1001, 1000), 0);
	ck_assert_int_eq(result_types_add_domain(1000, 23), 0);
	ck_assert_int_eq(result_types_add_domain(1001, 25), 0);
	n = result_types_export(recs);
	ck_assert_uint_eq(n, 2);	/* sorted, the latest of 1001 kept */
	ck_assert_uint_eq(recs[0].oid, 1000);
	ck_assert_uint_eq(recs[0].ref, 23);
	ck_assert_uint_eq(recs[0].array, 0);
	ck_assert_uint_eq(recs[1].oid, 1001);
	ck_assert_uint_eq(recs[1].ref, 25);
	result_types_reset();
	ck_assert_uint_eq(result_types_export(again), 0);
	ck_assert_int_eq(result_types_import(recs, n), 0);
	ck_assert_uint_eq(result_types_export(again), 2);
	ck_assert_mem_eq(again, recs, 2 * sizeof(recs[0]));
	/* A malformed record or count leaves the table as it was. */
	ck_assert_int_eq(result_types_import(bad, 1), -1);
	ck_assert_int_eq(result_types_import(recs, RESULT_TYPES_MAX + 1), -1);
	ck_assert_uint_eq(result_types_export(again), 2);
	ck_assert_int_eq(result_types_import(recs, 0), 0);
	ck_assert_uint_eq(result_types_export(again), 0);
	if (need_pg()) {
		/* What a check loaded maps arrays of domains once imported. */
		c = db_connect(NULL);
		res = PQexec(c, RESULT_TYPES_QUERY);
		ck_assert_int_eq(result_types_load(res, &err), 0);
		PQclear(res);
		n = result_types_export(recs);
		ck_assert_uint_gt(n, 0);
		result_types_reset();
		expect(c, "SELECT ARRAY[1,2]::posint[] AS a", RESULT_OBJECT,
		    "{\"a\":\"{1,2}\"}");
		ck_assert_int_eq(result_types_import(recs, n), 0);
		expect(c, "SELECT ARRAY[1,2]::posint[] AS a", RESULT_OBJECT,
		    "{\"a\":[1,2]}");
		PQfinish(c);
	}
	result_types_reset();
}
END_TEST

START_TEST(test_object)
{
	PGconn	*c;

	if (!need_pg())
		return;
	c = db_connect(NULL);
	expect(c, "SELECT n FROM nums WHERE n = 2", RESULT_OBJECT,
	    "{\"n\":2}");
	expect_fail(c, "SELECT n FROM nums WHERE n > 5", RESULT_OBJECT, 0, 0,
	    404, "no row");
	expect_fail(c, "SELECT n FROM nums WHERE n <= 2", RESULT_OBJECT, 0, 0,
	    500, "more than one row");
	expect_fail(c, "SELECT 1 AS a, 2 AS a", RESULT_OBJECT, 0, 0, 500,
	    "duplicate column name \"a\"");
	expect_fail(c, "SET TimeZone = 'UTC'", RESULT_OBJECT, 0, 0, 500,
	    "PGRES_COMMAND_OK");
	expect_fail(c, "SELECT * FROM nonexistent", RESULT_OBJECT, 0, 0, 500,
	    "PGRES_FATAL_ERROR");
	expect(c, "SELECT FROM nums WHERE n = 1", RESULT_OBJECT, "{}");
	PQfinish(c);
}
END_TEST

START_TEST(test_value)
{
	PGconn	*c;

	if (!need_pg())
		return;
	c = db_connect(NULL);
	expect(c, "SELECT 42", RESULT_VALUE, "42");
	expect(c, "SELECT '{\"a\":1}'::jsonb", RESULT_VALUE, "{\"a\": 1}");
	expect(c, "SELECT NULL::text", RESULT_VALUE, "null");
	expect(c, "SELECT ARRAY['x']", RESULT_VALUE, "[\"x\"]");
	expect(c, "SELECT 'a\"'", RESULT_VALUE, "\"a\\\"\"");
	expect_fail(c, "SELECT 1 WHERE false", RESULT_VALUE, 0, 0, 404,
	    "no row");
	expect_fail(c, "SELECT 1, 2", RESULT_VALUE, 0, 0, 500,
	    "value result with 2 columns");
	expect_fail(c, "SELECT 1, 2 WHERE false", RESULT_VALUE, 0, 0, 500,
	    "value result with 2 columns");
	expect_fail(c, "SELECT n FROM nums", RESULT_VALUE, 0, 0, 500,
	    "more than one row");
	PQfinish(c);
}
END_TEST

START_TEST(test_array)
{
	PGconn		*c;
	struct outcome	 o;
	const char	*want = "[{\"n\":1},{\"n\":2},{\"n\":3}]";
	const char	*three = "SELECT n FROM nums WHERE n <= 3 ORDER BY n";

	if (!need_pg())
		return;
	c = db_connect(NULL);
	expect(c, three, RESULT_ARRAY, want);
	expect(c, "SELECT n FROM nums WHERE n > 5", RESULT_ARRAY, "[]");

	/* max_rows: exactly reached passes, one more fails. */
	run(c, three, RESULT_ARRAY, 3, 0, true, &o);
	ck_assert_int_eq(o.status, 200);
	ck_assert_str_eq(o.json, want);
	ck_assert_uint_eq(o.nrows, 3);
	free(o.json);
	expect_fail(c, "SELECT n FROM nums ORDER BY n", RESULT_ARRAY, 4, 0, 500,
	    "more than 4 rows");

	/* max_size: exactly the document passes, one byte less fails. */
	run(c, three, RESULT_ARRAY, 0, strlen(want), true, &o);
	ck_assert_int_eq(o.status, 200);
	ck_assert_str_eq(o.json, want);
	free(o.json);
	expect_fail(c, three, RESULT_ARRAY, 0, strlen(want) - 1, 500,
	    "response larger than 24 bytes");
	expect_fail(c, three, RESULT_ARRAY, 0, 10, 500,
	    "response larger than 10 bytes");
	/* An oversized field is refused before it is copied. */
	expect_fail(c, "SELECT repeat('x', 100000) AS big", RESULT_ARRAY, 0,
	    1000, 500, "response larger than 1000 bytes");
	expect_fail(c, "SELECT repeat('x', 100000)", RESULT_VALUE, 0, 1000,
	    500, "response larger than 1000 bytes");
	expect_fail(c, "SELECT repeat('x', 100000) AS big", RESULT_OBJECT, 0,
	    1000, 500, "response larger than 1000 bytes");
	PQfinish(c);
}
END_TEST

START_TEST(test_none)
{
	PGconn		*c;
	struct outcome	 o;

	if (!need_pg())
		return;
	c = db_connect(NULL);
	expect(c, "CREATE TEMP TABLE IF NOT EXISTS t (a int)", RESULT_NONE,
	    "");
	expect(c, "INSERT INTO t VALUES (1)", RESULT_NONE, "");
	run(c, "SELECT n FROM nums", RESULT_NONE, 1, 1, true, &o);
	ck_assert_int_eq(o.status, 200);
	ck_assert_str_eq(o.json, "");
	ck_assert_uint_eq(o.nrows, 5);
	free(o.json);
	expect_fail(c, "SELECT * FROM nonexistent", RESULT_NONE, 0, 0, 500,
	    "PGRES_FATAL_ERROR");
	PQfinish(c);
}
END_TEST

START_TEST(test_after_failure)
{
	PGconn			*c;
	PGresult		*one, *two;
	struct evbuffer		*b;
	struct result		*r;
	struct result_limits	 lim = { 0, 0 };

	if (!need_pg())
		return;
	c = db_connect(NULL);
	one = PQexec(c, "SELECT n FROM nums WHERE n = 1");
	two = PQexec(c, "SELECT n, n AS m FROM nums WHERE n = 2");
	b = evbuffer_new();
	r = result_begin(RESULT_ARRAY, b, &lim);
	ck_assert_int_eq(result_row(r, one, 0), 0);
	ck_assert_int_eq(result_row(r, one, 1), -1);
	ck_assert_str_eq(result_error(r), "row 1 out of range");
	ck_assert_int_eq(result_row(r, one, 0), -1);
	ck_assert_int_eq(result_add(r, one), -1);
	ck_assert_int_eq(result_end(r), -1);
	ck_assert_int_eq(result_status(r), 500);
	ck_assert_uint_eq(evbuffer_get_length(b), 0);
	result_free(r);
	/* Later results must have the columns of the first. */
	r = result_begin(RESULT_ARRAY, b, &lim);
	ck_assert_int_eq(result_add(r, one), 0);
	ck_assert_int_eq(result_add(r, two), -1);
	ck_assert_str_eq(result_error(r), "column count changed");
	ck_assert_uint_eq(evbuffer_get_length(b), 0);
	result_free(r);
	PQclear(one);
	PQclear(two);
	evbuffer_free(b);
	result_free(NULL);
	PQfinish(c);
}
END_TEST

/* Rewritten route SQL prepares and binds as intended in PostgreSQL. */
START_TEST(test_sqltext_prepares)
{
	static const char	*sql =
	    "SELECT :path.a::int + 1 AS x, ':path.a' AS lit, "
	    "$$:body$$ AS dq, E'\\':query.q' AS e, "
	    "(ARRAY[10,20,30])[:path.a::int : 3] AS s, "
	    "(ARRAY[1,2,3,4])[lo:hi] AS t, :query.q::text AS q, "
	    "\":path.a\" AS qi -- :user.id\n"
	    "FROM (SELECT 2 AS lo, 3 AS hi, 'quoted' AS \":path.a\") sub "
	    "/* :body.x /* :claims.sub */ */ ;";
	const char		*values[] = { "2", "it's \\ q" };
	struct sqltext_error	 err;
	struct sqltext		*st;
	struct evbuffer		*b;
	struct result		*r;
	struct result_limits	 lim = { 0, 0 };
	PGresult		*res;
	PGconn			*c;
	char			 out[512];
	size_t			 n;

	if (!need_pg())
		return;
	c = db_connect(NULL);
	st = sqltext_parse(sql, strlen(sql), &err);
	ck_assert_msg(st != NULL, "%s", err.msg);
	ck_assert_uint_eq(st->nparams, 2);
	res = PQprepare(c, "s1", st->sql, 0, NULL);
	ck_assert_msg(PQresultStatus(res) == PGRES_COMMAND_OK, "%s",
	    PQerrorMessage(c));
	PQclear(res);
	res = PQdescribePrepared(c, "s1");
	ck_assert_int_eq(PQnparams(res), (int)st->nparams);
	PQclear(res);
	res = PQexecPrepared(c, "s1", 2, values, NULL, NULL, 0);
	ck_assert_int_eq(PQresultStatus(res), PGRES_TUPLES_OK);
	b = evbuffer_new();
	r = result_begin(RESULT_OBJECT, b, &lim);
	ck_assert_int_eq(result_add(r, res), 0);
	ck_assert_int_eq(result_end(r), 0);
	n = evbuffer_get_length(b);
	ck_assert_uint_lt(n, sizeof(out));
	evbuffer_remove(b, out, n);
	out[n] = '\0';
	ck_assert_str_eq(out, "{\"x\":3,\"lit\":\":path.a\",\"dq\":\":body\","
	    "\"e\":\"':query.q\",\"s\":[20,30],\"t\":[2,3],"
	    "\"q\":\"it's \\\\ q\",\"qi\":\"quoted\"}");
	valid_json(out);
	result_free(r);
	evbuffer_free(b);
	PQclear(res);
	sqltext_free(st);
	PQfinish(c);
}
END_TEST

/*
 * Text PostgreSQL never sends, built with libpq's own result constructors:
 * the defensive paths must still produce valid JSON or fail cleanly.
 */
static PGresult *
synth(Oid type, int format, const char *const *vals, int n)
{
	PGresAttDesc	 att;
	PGresult	*res;
	int		 i;

	memset(&att, 0, sizeof(att));
	att.name = (char *)"v";
	att.format = format;
	att.typid = type;
	att.typlen = -1;
	att.atttypmod = -1;
	res = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
	ck_assert_ptr_nonnull(res);
	ck_assert_int_eq(PQsetResultAttrs(res, 1, &att), 1);
	for (i = 0; i < n; i++)
		ck_assert_int_eq(PQsetvalue(res, i, 0, (char *)vals[i],
		    vals[i] == NULL ? -1 : (int)strlen(vals[i])), 1);
	return res;
}

/* One value of type through value mode: its JSON, or NULL on failure. */
static char *
synth_value(Oid type, int format, const char *val, char *err, size_t errsz)
{
	struct result_limits	 lim = { 0, 0 };
	const char		*vals[] = { val };
	struct evbuffer		*b = evbuffer_new();
	struct result		*r;
	PGresult		*res = synth(type, format, vals, 1);
	char			*out = NULL;
	size_t			 n;

	r = result_begin(RESULT_VALUE, b, &lim);
	if (result_add(r, res) == 0 && result_end(r) == 0) {
		n = evbuffer_get_length(b);
		out = bw_malloc(n + 1);
		evbuffer_remove(b, out, n);
		out[n] = '\0';
		valid_json(out);
	} else {
		snprintf(err, errsz, "%s", result_error(r));
		ck_assert_uint_eq(evbuffer_get_length(b), 0);
	}
	result_free(r);
	PQclear(res);
	evbuffer_free(b);
	return out;
}

static void
synth_is(Oid type, const char *val, const char *want)
{
	char	 err[192];
	char	*out = synth_value(type, 0, val, err, sizeof(err));

	ck_assert_msg(out != NULL, "%s: %s", val, err);
	ck_assert_str_eq(out, want);
	free(out);
}

static void
synth_fails(Oid type, int format, const char *val, const char *part)
{
	char	 err[192];
	char	*out = synth_value(type, format, val, err, sizeof(err));

	ck_assert_msg(out == NULL, "%s accepted as %s", val, out);
	ck_assert_msg(strstr(err, part) != NULL, "%s: \"%s\"", val, err);
}

START_TEST(test_defensive)
{
	static const struct {
		Oid		 type;
		const char	*val;
		const char	*want;
	} cases[] = {
		/* Numbers outside the JSON grammar become strings. */
		{ 1700, "1.", "\"1.\"" },
		{ 1700, "01", "\"01\"" },
		{ 1700, ".5", "\".5\"" },
		{ 1700, "+1", "\"+1\"" },
		{ 701, "1e", "\"1e\"" },
		{ 701, "1e+", "\"1e+\"" },
		{ 701, "-", "\"-\"" },
		{ 701, "", "\"\"" },
		{ 701, "1E-7", "1E-7" },
		{ 23, "-0", "-0" },
		{ 16, "true", "\"true\"" },
		{ 16, "", "\"\"" },
		/* Timestamps that are not the UTC ISO form stay strings. */
		{ 1184, "2024-1-02 03:04:05+00", "\"2024-1-02 03:04:05+00\"" },
		{ 1184, "2024-01-02 03:04:05+0000", "\"2024-01-02 03:04:05+0000\"" },
		{ 1184, "2024-01-02 03:04:05.+00", "\"2024-01-02 03:04:05.+00\"" },
		{ 1184, "2024-01-02 03:04:05.1234567+00",
		    "\"2024-01-02 03:04:05.1234567+00\"" },
		{ 1184, "2024-01-02 03:04:05", "\"2024-01-02 03:04:05\"" },
		{ 1114, "2024-01-02 03:04:05+00", "\"2024-01-02 03:04:05+00\"" },
		{ 1114, "2024-01-02T03:04:05", "\"2024-01-02T03:04:05\"" },
		{ 1114, "1234567890-01-02 03:04:05",
		    "\"1234567890-01-02 03:04:05\"" },
		{ 1114, "2024", "\"2024\"" },
		/* Malformed array text is one string. */
		{ 1007, "1", "\"1\"" },
		{ 1007, "{", "\"{\"" },
		{ 1007, "{1,}", "\"{1,}\"" },
		{ 1007, "{,1}", "\"{,1}\"" },
		{ 1007, "{1 2}", "\"{1 2}\"" },
		{ 1007, "{1}x", "\"{1}x\"" },
		{ 1009, "{\"a}", "\"{\\\"a}\"" },
		{ 1009, "{\"a\"x}", "\"{\\\"a\\\"x}\"" },
		{ 1009, "{\"a\\\"}", "\"{\\\"a\\\\\\\"}\"" },
		{ 1009, "{a\\b}", "\"{a\\\\b}\"" },
		{ 1009, "{a\"b}", "\"{a\\\"b}\"" },
		{ 1009, "{\"\",nUlL,\"\\\\\"}", "[\"\",null,\"\\\\\"]" },
		{ 1007, "{1,{2}}", "\"{1,{2}}\"" },
		{ 1000, "{t,x}", "[true,\"x\"]" },
	};
	size_t	 i;

	for (i = 0; i < BW_ARRAY_LEN(cases); i++)
		synth_is(cases[i].type, cases[i].val, cases[i].want);
	synth_fails(114, 0, "", "invalid json value");
	synth_fails(199, 0, "{\"\"}", "invalid json value");
	synth_fails(25, 0, "\xed\xa0\x80", "not valid UTF-8");
	synth_fails(25, 0, "\xc0\xaf", "not valid UTF-8");
	synth_fails(23, 1, "\x00\x00\x00\x01", "binary format");
}
END_TEST

START_TEST(test_synthetic_rows)
{
	static const char *const vals[] = { "1", NULL, "3" };
	struct result_limits	 lim = { 0, 0 };
	struct evbuffer		*b = evbuffer_new();
	struct result		*r;
	PGresult		*res = synth(23, 0, vals, 3), *other;
	char			 out[64];
	size_t			 n;

	r = result_begin(RESULT_ARRAY, b, &lim);
	ck_assert_int_eq(result_add(r, res), 0);
	ck_assert_int_eq(result_row(r, res, 2), 0);
	ck_assert_int_eq(result_end(r), 0);
	ck_assert_uint_eq(result_nrows(r), 4);
	n = evbuffer_get_length(b);
	evbuffer_remove(b, out, n);
	out[n] = '\0';
	ck_assert_str_eq(out, "[{\"v\":1},{\"v\":null},{\"v\":3},"
	    "{\"v\":3}]");
	result_free(r);
	/* A later result with another column type is refused. */
	other = synth(25, 0, vals, 1);
	r = result_begin(RESULT_ARRAY, b, &lim);
	ck_assert_int_eq(result_row(r, res, 0), 0);
	ck_assert_int_eq(result_row(r, other, 0), -1);
	ck_assert_str_eq(result_error(r), "column type changed");
	ck_assert_uint_eq(evbuffer_get_length(b), 0);
	result_free(r);
	/* A result that carries no rows at all. */
	PQclear(other);
	other = PQmakeEmptyPGresult(NULL, PGRES_EMPTY_QUERY);
	r = result_begin(RESULT_ARRAY, b, &lim);
	ck_assert_int_eq(result_row(r, other, 0), -1);
	ck_assert_str_eq(result_error(r),
	    "statement returned PGRES_EMPTY_QUERY, not rows");
	result_free(r);
	PQclear(other);
	PQclear(res);
	evbuffer_free(b);
}
END_TEST

Suite *
unit_suite(void)
{
	Suite	*s = suite_create("result");
	TCase	*tc = tcase_create("result");

	tcase_set_timeout(tc, UNIT_TIMEOUT);
	tcase_add_unchecked_fixture(tc, pg_start, pg_stop);
	tcase_add_test(tc, test_numbers);
	tcase_add_test(tc, test_bool_null_json);
	tcase_add_test(tc, test_timestamps);
	tcase_add_test(tc, test_arrays);
	tcase_add_test(tc, test_strings);
	tcase_add_test(tc, test_invalid_utf8);
	tcase_add_test(tc, test_domains);
	tcase_add_test(tc, test_types_bound);
	tcase_add_test(tc, test_types_export);
	tcase_add_test(tc, test_object);
	tcase_add_test(tc, test_value);
	tcase_add_test(tc, test_array);
	tcase_add_test(tc, test_none);
	tcase_add_test(tc, test_after_failure);
	tcase_add_test(tc, test_sqltext_prepares);
	tcase_add_test(tc, test_defensive);
	tcase_add_test(tc, test_synthetic_rows);
	suite_add_tcase(s, tc);
	return s;
}
