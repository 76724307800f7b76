/*
 * test_sqltext.c - the route SQL lexer and placeholder rewriter.
 */
#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "sqltext.h"
#include "util.h"

static struct sqltext *
parse_ok(const char *sql, const char *want)
{
	struct sqltext_error	 err;
	struct sqltext		*st;

	st = sqltext_parse(sql, strlen(sql), &err);
	ck_assert_msg(st != NULL, "refused \"%s\": %s (offset %zu)", sql,
	    err.msg, err.offset);
	ck_assert_str_eq(st->sql, want);
	ck_assert_uint_eq(st->sql_len, strlen(want));
	return st;
}

static void
same(const char *sql, const char *want, size_t nparams)
{
	struct sqltext	*st = parse_ok(sql, want);

	ck_assert_uint_eq(st->nparams, nparams);
	sqltext_free(st);
}

static void
refused_n(const char *sql, size_t len, size_t offset, const char *part)
{
	struct sqltext_error	 err;
	struct sqltext		*st;

	st = sqltext_parse(sql, len, &err);
	ck_assert_msg(st == NULL, "accepted \"%s\"", sql);
	ck_assert_msg(err.offset == offset, "\"%s\": offset %zu, want %zu (%s)",
	    sql, err.offset, offset, err.msg);
	ck_assert_msg(strstr(err.msg, part) != NULL, "\"%s\": message \"%s\" "
	    "lacks \"%s\"", sql, err.msg, part);
}

static void
refused(const char *sql, size_t offset, const char *part)
{
	refused_n(sql, strlen(sql), offset, part);
}

static void
param_is(const struct sqltext *st, size_t i, enum sqltext_source src,
    const char *name, size_t offset)
{
	char	 buf[256];

	ck_assert_uint_lt(i, st->nparams);
	ck_assert_int_eq(st->params[i].source, src);
	sqltext_param_name(&st->params[i], buf, sizeof(buf));
	ck_assert_str_eq(buf, name);
	ck_assert_uint_eq(st->params[i].offset, offset);
}

START_TEST(test_basic)
{
	struct sqltext	*st;

	st = parse_ok("SELECT id, title FROM notes WHERE id = :path.id "
	    "AND owner = :user.id",
	    "SELECT id, title FROM notes WHERE id = $1 AND owner = $2");
	ck_assert_str_eq(st->verb, "SELECT");
	ck_assert_uint_eq(st->nparams, 2);
	param_is(st, 0, SQLTEXT_PATH, "path.id", 39);
	param_is(st, 1, SQLTEXT_USER, "user.id", 60);
	ck_assert_uint_eq(st->params[0].nnames, 1);
	ck_assert_str_eq(st->params[0].names[0], "id");
	sqltext_free(st);
}
END_TEST

START_TEST(test_every_source)
{
	struct sqltext	*st;

	st = parse_ok("INSERT INTO t VALUES (:path.a, :query.b, :body, "
	    ":body.x.y_2, :user.id, :user.name, :user.roles, :claims.sub, "
	    ":claims.jti, :request.id, :request.ip) RETURNING id",
	    "INSERT INTO t VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, "
	    "$11) RETURNING id");
	ck_assert_str_eq(st->verb, "INSERT");
	ck_assert_uint_eq(st->nparams, 11);
	param_is(st, 0, SQLTEXT_PATH, "path.a", 22);
	param_is(st, 1, SQLTEXT_QUERY, "query.b", 31);
	param_is(st, 2, SQLTEXT_BODY, "body", 41);
	ck_assert_uint_eq(st->params[2].nnames, 0);
	param_is(st, 3, SQLTEXT_BODY, "body.x.y_2", 48);
	ck_assert_uint_eq(st->params[3].nnames, 2);
	ck_assert_str_eq(st->params[3].names[1], "y_2");
	param_is(st, 4, SQLTEXT_USER, "user.id", 61);
	param_is(st, 5, SQLTEXT_USER, "user.name", 71);
	param_is(st, 6, SQLTEXT_USER, "user.roles", 83);
	param_is(st, 7, SQLTEXT_CLAIMS, "claims.sub", 96);
	param_is(st, 8, SQLTEXT_CLAIMS, "claims.jti", 109);
	param_is(st, 9, SQLTEXT_REQUEST, "request.id", 122);
	param_is(st, 10, SQLTEXT_REQUEST, "request.ip", 135);
	sqltext_free(st);
}
END_TEST

START_TEST(test_repeated)
{
	struct sqltext	*st;

	st = parse_ok("SELECT :path.id, :query.q, :path.id, :body.a, "
	    ":body.a.b, :body.a, :path.id",
	    "SELECT $1, $2, $1, $3, $4, $3, $1");
	ck_assert_uint_eq(st->nparams, 4);
	param_is(st, 0, SQLTEXT_PATH, "path.id", 7);
	param_is(st, 2, SQLTEXT_BODY, "body.a", 37);
	param_is(st, 3, SQLTEXT_BODY, "body.a.b", 46);
	sqltext_free(st);
	/* Same name, other source: two parameters. */
	same("SELECT :path.id, :query.id, :user.id", "SELECT $1, $2, $3", 3);
}
END_TEST

START_TEST(test_strings)
{
	same("SELECT ':path.x', 'it''s :path.y', :path.z",
	    "SELECT ':path.x', 'it''s :path.y', $1", 1);
	same("SELECT '''', ':body', ''':path.a''' FROM t",
	    "SELECT '''', ':body', ''':path.a''' FROM t", 0);
	/* standard_conforming_strings: a backslash is just a character. */
	same("SELECT '\\', :path.x", "SELECT '\\', $1", 1);
	/* E'' strings: \' does not end the string. */
	same("SELECT E'\\' :path.x', :path.y", "SELECT E'\\' :path.x', $1", 1);
	same("SELECT e'\\\\', :path.y", "SELECT e'\\\\', $1", 1);
	same("SELECT E'a''b :path.x \\n', :path.y",
	    "SELECT E'a''b :path.x \\n', $1", 1);
	/* Only a lone E makes an escape string; "xe" is an identifier. */
	same("SELECT xe'\\', :path.a", "SELECT xe'\\', $1", 1);
	refused("SELECT E'\\', :path.a", 7, "unterminated string");
	/* Prefixed strings with standard quoting. */
	same("SELECT U&':path.x', B'101', X'1F', N':path.y', :path.z",
	    "SELECT U&':path.x', B'101', X'1F', N':path.y', $1", 1);
	refused("SELECT ':path.a", 7, "unterminated string");
	refused("SELECT 'a''", 7, "unterminated string");
}
END_TEST

START_TEST(test_quoted_identifiers)
{
	same("SELECT \":path.x\", \"a\"\"b:path.y\" FROM t WHERE c = :path.z",
	    "SELECT \":path.x\", \"a\"\"b:path.y\" FROM t WHERE c = $1", 1);
	same("SELECT U&\":body\" FROM t", "SELECT U&\":body\" FROM t", 0);
	refused("SELECT \"abc FROM t", 7, "unterminated quoted identifier");
	refused("SELECT \"a\"\" FROM t", 7, "unterminated quoted identifier");
}
END_TEST

START_TEST(test_dollar_quotes)
{
	same("SELECT $$ :path.a ' $$, :path.b",
	    "SELECT $$ :path.a ' $$, $1", 1);
	same("SELECT $fn$ :path.a $x$ :path.b $x$ ' $fn$, :path.c",
	    "SELECT $fn$ :path.a $x$ :path.b $x$ ' $fn$, $1", 1);
	/* A longer tag with the same prefix does not close the quote. */
	same("SELECT $a$ $ab$ :path.x $a$, :path.y",
	    "SELECT $a$ $ab$ :path.x $a$, $1", 1);
	same("SELECT $_t1$ $$ :path.x $_t1$", "SELECT $_t1$ $$ :path.x $_t1$",
	    0);
	/* '$' inside an identifier is no dollar quote. */
	same("SELECT x$$ FROM t WHERE a = :path.a",
	    "SELECT x$$ FROM t WHERE a = $1", 1);
	same("SELECT a$b$ FROM t WHERE a = :path.a",
	    "SELECT a$b$ FROM t WHERE a = $1", 1);
	/* After a number it is one. */
	same("SELECT 1$$ :path.a $$", "SELECT 1$$ :path.a $$", 0);
	refused("SELECT $$ :path.a", 7, "unterminated dollar-quoted");
	refused("SELECT $t$ :path.a $$ $T$", 7, "unterminated dollar-quoted");
	/* A '$' that opens nothing is passed on (PostgreSQL rejects it). */
	same("SELECT $ , $x , :path.a", "SELECT $ , $x , $1", 1);
}
END_TEST

START_TEST(test_positional)
{
	refused("SELECT * FROM t WHERE id = $1", 27, "positional parameter $1");
	refused("SELECT :path.a, $12", 16, "positional parameter $12");
	same("SELECT '$1', \"$2\", $$ $3 $$ -- $4\n",
	    "SELECT '$1', \"$2\", $$ $3 $$ -- $4\n", 0);
}
END_TEST

START_TEST(test_comments)
{
	same("SELECT 1 -- :path.x\n, :path.y", "SELECT 1 -- :path.x\n, $1", 1);
	same("SELECT 1 -- :path.x\r, :path.y", "SELECT 1 -- :path.x\r, $1", 1);
	same("SELECT /* :path.z /* nested :path.w */ still :path.v */ "
	    ":path.u", "SELECT /* :path.z /* nested :path.w */ still :path.v "
	    "*/ $1", 1);
	same("SELECT 1 /*/ :path.a */, :path.b",
	    "SELECT 1 /*/ :path.a */, $1", 1);
	same("SELECT 1 -- trailing :path.a", "SELECT 1 -- trailing :path.a", 0);
	same("SELECT 1 - -1, 2-:path.a", "SELECT 1 - -1, 2-$1", 1);
	refused("SELECT 1 /* :path.a", 9, "unterminated /* comment");
	refused("SELECT 1 /* /* */ :path.a", 9, "unterminated /* comment");
}
END_TEST

START_TEST(test_casts)
{
	same("SELECT :path.id::int, x::text, '1'::int",
	    "SELECT $1::int, x::text, '1'::int", 1);
	/* path is also a PostgreSQL type. */
	same("SELECT '((0,0),(1,1))'::path, :path.p::path",
	    "SELECT '((0,0),(1,1))'::path, $1::path", 1);
	same("SELECT x::body FROM t", "SELECT x::body FROM t", 0);
	same("SELECT f(a := :path.a, b => :query.b)",
	    "SELECT f(a := $1, b => $2)", 2);
	same("SELECT x:=1", "SELECT x:=1", 0);
}
END_TEST

START_TEST(test_slices)
{
	same("SELECT a[1:2], a[lo:hi], a[:n], a[n:], a[:], a[1:path], "
	    "a[1:path.n], a[:path.i], a[:path.lo : :path.hi] FROM t",
	    "SELECT a[1:2], a[lo:hi], a[:n], a[n:], a[:], a[1:path], "
	    "a[1:path.n], a[$1], a[$2 : $3] FROM t", 3);
	same("SELECT a[b[1]:2], a[(x):y], a[:body], ARRAY[1,2][1:1] FROM t",
	    "SELECT a[b[1]:2], a[(x):y], a[:body], ARRAY[1,2][1:1] FROM t",
	    0);
	same("SELECT a[:query.i][:user.id] FROM t",
	    "SELECT a[$1][$2] FROM t", 2);
	same("SELECT a['x':path.y] FROM t", "SELECT a['x':path.y] FROM t", 0);
	/* After a keyword an operand is expected, not a slice separator. */
	same("SELECT a[CASE WHEN :path.c THEN 1 ELSE :path.d END : "
	    ":path.e], a[x AND :path.f], a[b OR :path.c], a[end:path.g] "
	    "FROM t", "SELECT a[CASE WHEN $1 THEN 1 ELSE $2 END : $3], "
	    "a[x AND $4], a[b OR $1], a[end:path.g] FROM t", 4);
	/* Outside brackets a ":word" that is no source is an error. */
	refused("SELECT a[1]:x FROM t", 11, "unknown placeholder source ':x'");
	/* A stray ']' does not underflow the bracket depth. */
	refused("SELECT ] :foo.a", 9, "unknown placeholder source");
}
END_TEST

START_TEST(test_sources)
{
	refused("SELECT :foo.bar", 7, "unknown placeholder source ':foo'");
	refused("SELECT :Path.id", 7, "unknown placeholder source ':Path'");
	refused("SELECT x FROM t WHERE :pathx.id", 22,
	    "unknown placeholder source ':pathx'");
	refused("SELECT :path$x.id", 7, "unknown placeholder source");
	refused("SELECT :user.email", 7, "':user.email'");
	refused("SELECT :request.foo", 7, "':request.foo'");
	refused("SELECT :claims.foo", 7, "':claims.foo'");
	refused("SELECT :path", 7, "takes exactly one name");
	refused("SELECT :query.a.b", 7, "takes exactly one name");
	refused("SELECT :user", 7, "takes exactly one name");
	refused("SELECT :body.", 13, "expected a name");
	refused("SELECT :body.a. ", 15, "expected a name");
	refused("SELECT :body.1a", 13, "expected a name");
	refused("SELECT :path.id\xc3\xa9", 15, "invalid character");
	refused("SELECT :path.id$x", 15, "invalid character");
	same("SELECT :body, :claims.iss, :claims.aud, :claims.name, "
	    ":claims.roles, :claims.sid, :claims.iat, :claims.nbf, "
	    ":claims.exp", "SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9", 9);
}
END_TEST

START_TEST(test_statements)
{
	struct sqltext	*st;

	refused("SELECT 1; SELECT 2", 10, "only one SQL statement");
	refused("SELECT 1;;", 9, "only one SQL statement");
	refused("SELECT 1; DROP TABLE t", 10, "only one SQL statement");
	same("SELECT :path.a;", "SELECT $1", 1);
	same("SELECT 1;  -- done\n /* c */ \n", "SELECT 1", 0);
	same("SELECT ';', \";\", $$;$$ -- ;\n", "SELECT ';', \";\", $$;$$ -- ;\n",
	    0);
	/* Placeholders in a trailing comment are no parameters. */
	same("SELECT 1; -- :path.a", "SELECT 1", 0);
	st = parse_ok("  /* c */ -- x\n select 1", "  /* c */ -- x\n select 1");
	ck_assert_str_eq(st->verb, "SELECT");
	sqltext_free(st);
}
END_TEST

START_TEST(test_verbs)
{
	static const struct {
		const char	*sql;
		const char	*verb;
	} ok[] = {
		{ "with x as (select 1) select * from x", "WITH" },
		{ "INSERT INTO t DEFAULT VALUES", "INSERT" },
		{ "Update t SET a = 1", "UPDATE" },
		{ "delete from t", "DELETE" },
		{ "VALUES (1)", "VALUES" },
		{ "TABLE t", "TABLE" },
		{ "call p()", "CALL" },
		{ "select\n1", "SELECT" },
	};
	struct sqltext	*st;
	size_t		 i;

	for (i = 0; i < BW_ARRAY_LEN(ok); i++) {
		st = parse_ok(ok[i].sql, ok[i].sql);
		ck_assert_str_eq(st->verb, ok[i].verb);
		sqltext_free(st);
	}
	refused("DROP TABLE t", 0, "must begin with SELECT");
	refused("  EXPLAIN SELECT 1", 2, "must begin with SELECT");
	refused("(SELECT 1)", 0, "must begin with SELECT");
	refused("SELECTX 1", 0, "must begin with SELECT");
	refused("1SELECT", 0, "must begin with SELECT");
	refused(";", 0, "must begin with SELECT");
	refused("/* c */ ; SELECT 1", 8, "must begin with SELECT");
	refused("", 0, "empty SQL statement");
	refused("  -- only a comment\n", 20, "empty SQL statement");
}
END_TEST

/* SELECT ... INTO creates a table; INSERT INTO and subqueries pass. */
START_TEST(test_select_into)
{
	static const char *const ok[] = {
		"INSERT INTO t SELECT * FROM u",
		"insert into t (a) select a from u where a in (select 1)",
		"WITH x AS (INSERT INTO t VALUES (1) RETURNING a) SELECT * "
		    "FROM x",
		"WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x",
		"SELECT 'into', \"into\", $$ into $$ -- into\n",
		"SELECT 1 /* select 1 into t */",
		"SELECT intox, xinto FROM t",
		"SELECT * FROM (SELECT 1 INTO t) s",
	};
	size_t	 i;

	for (i = 0; i < BW_ARRAY_LEN(ok); i++)
		same(ok[i], ok[i], 0);
	refused("SELECT 1 INTO TEMP t", 9, "SELECT ... INTO");
	refused("select * into t from u", 9, "creates a table");
	refused("WITH x AS (SELECT 1) SELECT * INTO t FROM x", 30,
	    "SELECT ... INTO");
	refused("SELECT a FROM u UNION SELECT b Into t", 31,
	    "SELECT ... INTO");
	refused("SELECT (1) INTO t", 11, "SELECT ... INTO");
}
END_TEST

START_TEST(test_glued)
{
	/* The rewrite never glues $n onto an identifier or number. */
	same("SELECT x:path.a", "SELECT x $1", 1);
	same("SELECT 1:path.a", "SELECT 1 $1", 1);
	same("SELECT (:path.a)", "SELECT ($1)", 1);
	same("SELECT :body", "SELECT $1", 1);
}
END_TEST

START_TEST(test_nul_and_length)
{
	static const char	 nul[] = "SELECT 'a\0' :path.x";
	char			*big;

	refused_n(nul, sizeof(nul) - 1, 9, "NUL byte");
	big = bw_malloc(SQLTEXT_MAX_LEN + 2);
	memset(big, ' ', SQLTEXT_MAX_LEN + 1);
	memcpy(big, "SELECT 1", 8);
	big[SQLTEXT_MAX_LEN + 1] = '\0';
	refused_n(big, SQLTEXT_MAX_LEN + 1, 0, "longer than");
	big[SQLTEXT_MAX_LEN] = '\0';
	same(big, big, 0);
	free(big);
}
END_TEST

START_TEST(test_limits)
{
	char		 sql[16384], want[16384], name[SQLTEXT_MAX_NAME + 2];
	size_t		 n, w, i, off = 0;
	struct sqltext	*st;

	/* SQLTEXT_MAX_PARAMS distinct placeholders pass, one more does not. */
	n = (size_t)snprintf(sql, sizeof(sql), "SELECT 0");
	w = (size_t)snprintf(want, sizeof(want), "SELECT 0");
	for (i = 0; i < SQLTEXT_MAX_PARAMS; i++) {
		n += (size_t)snprintf(sql + n, sizeof(sql) - n, ",:path.p%zu", i);
		w += (size_t)snprintf(want + w, sizeof(want) - w, ",$%zu", i + 1);
	}
	ck_assert_uint_lt(n, sizeof(sql) - 32);
	st = parse_ok(sql, want);
	ck_assert_uint_eq(st->nparams, SQLTEXT_MAX_PARAMS);
	sqltext_free(st);
	off = n + 1;
	snprintf(sql + n, sizeof(sql) - n, ",:path.extra");
	refused(sql, off, "more than 256 distinct placeholders");
	/* A repeated one is not a new parameter. */
	snprintf(sql + n, sizeof(sql) - n, ",:path.p0");
	snprintf(want + w, sizeof(want) - w, ",$1");
	same(sql, want, SQLTEXT_MAX_PARAMS);

	/* SQLTEXT_MAX_MEMBERS names after :body. */
	n = (size_t)snprintf(sql, sizeof(sql), "SELECT :body");
	for (i = 0; i < SQLTEXT_MAX_MEMBERS; i++)
		n += (size_t)snprintf(sql + n, sizeof(sql) - n, ".m");
	same(sql, "SELECT $1", 1);
	snprintf(sql + n, sizeof(sql) - n, ".m");
	refused(sql, n + 1, "more than 32 names");

	/* SQLTEXT_MAX_NAME bytes per name. */
	memset(name, 'n', SQLTEXT_MAX_NAME);
	name[SQLTEXT_MAX_NAME] = '\0';
	snprintf(sql, sizeof(sql), "SELECT :query.%s", name);
	same(sql, "SELECT $1", 1);
	snprintf(sql, sizeof(sql), "SELECT :query.%sn", name);
	refused(sql, 14, "longer than 128 bytes");
}
END_TEST

START_TEST(test_position)
{
	const char	*s = "SELECT 1\n  ,\xc3\xa9 :x\r\n\r:y";
	size_t		 len = strlen(s);
	int		 line, col;

	sqltext_position(s, len, 0, &line, &col);
	ck_assert_int_eq(line, 1);
	ck_assert_int_eq(col, 1);
	sqltext_position(s, len, 7, &line, &col);
	ck_assert_int_eq(line, 1);
	ck_assert_int_eq(col, 8);
	/* After "\n  ,é " the ':' is on line 2, column 6 (é is one). */
	sqltext_position(s, len, 15, &line, &col);
	ck_assert_int_eq(line, 2);
	ck_assert_int_eq(col, 6);
	/* "\r\n" is one line end, a lone "\r" another. */
	sqltext_position(s, len, 20, &line, &col);
	ck_assert_int_eq(line, 4);
	ck_assert_int_eq(col, 1);
	sqltext_position(s, len, 1000, &line, &col);
	ck_assert_int_eq(line, 4);
	ck_assert_int_eq(col, 3);
}
END_TEST

START_TEST(test_param_name)
{
	struct sqltext	*st;
	char		 buf[8];

	st = parse_ok("SELECT :body.alpha.beta", "SELECT $1");
	ck_assert_uint_eq(sqltext_param_name(&st->params[0], buf, sizeof(buf)),
	    15);
	ck_assert_str_eq(buf, "body.al");
	ck_assert_uint_eq(sqltext_param_name(&st->params[0], NULL, 0), 15);
	sqltext_free(st);
	ck_assert_str_eq(sqltext_source_name(SQLTEXT_REQUEST), "request");
	ck_assert_str_eq(sqltext_source_name((enum sqltext_source)99), "?");
	sqltext_free(NULL);
}
END_TEST

Suite *
unit_suite(void)
{
	Suite	*s = suite_create("sqltext");
	TCase	*tc = tcase_create("sqltext");

	tcase_set_timeout(tc, UNIT_TIMEOUT);
	tcase_add_test(tc, test_basic);
	tcase_add_test(tc, test_every_source);
	tcase_add_test(tc, test_repeated);
	tcase_add_test(tc, test_strings);
	tcase_add_test(tc, test_quoted_identifiers);
	tcase_add_test(tc, test_dollar_quotes);
	tcase_add_test(tc, test_positional);
	tcase_add_test(tc, test_comments);
	tcase_add_test(tc, test_casts);
	tcase_add_test(tc, test_slices);
	tcase_add_test(tc, test_sources);
	tcase_add_test(tc, test_statements);
	tcase_add_test(tc, test_verbs);
	tcase_add_test(tc, test_select_into);
	tcase_add_test(tc, test_glued);
	tcase_add_test(tc, test_nul_and_length);
	tcase_add_test(tc, test_limits);
	tcase_add_test(tc, test_position);
	tcase_add_test(tc, test_param_name);
	suite_add_tcase(s, tc);
	return s;
}
