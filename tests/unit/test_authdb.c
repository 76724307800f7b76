/*
 * test_authdb.c - the `bulwark` schema against a real PostgreSQL: --init-db
 * twice and concurrently, the version record, every statement (prepared
 * with its parameter count, and run), refresh rotation under a race,
 * lockout thresholds, doubling, cap and eviction, revocation
 * notifications, and the API key format.
 */
#include <sys/wait.h>

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "authdb.h"
#include "pgtest.h"
#include "unit.h"
#include "util.h"

static PGconn		*pg;
static struct authdb_err e;

#define NEED_PG()	PGTEST_NEED()

#define PARAMS(...)	((const char *const[]){ __VA_ARGS__ })
#define NPARAMS(...)	((int)(sizeof(PARAMS(__VA_ARGS__)) /		\
			    sizeof(const char *)))
/* Runs a statement that must succeed; the caller clears the result. */
#define EX(st, ...)	ex_ok(st, PARAMS(__VA_ARGS__), NPARAMS(__VA_ARGS__))
#define EX0(st)		ex_ok(st, NULL, 0)

static PGresult *
ex_ok(enum authdb_stmt st, const char *const *v, int n)
{
	PGresult	*res = authdb_exec(pg, st, v, n, &e);

	ck_assert_msg(res != NULL, "statement %d: %s", (int)st, e.msg);
	return res;
}

/* Runs literal SQL of the test itself (setup, inspection). */
static PGresult *
sql(const char *q)
{
	PGresult	*res = PQexec(pg, q);

	ck_assert_msg(PQresultStatus(res) == PGRES_COMMAND_OK ||
	    PQresultStatus(res) == PGRES_TUPLES_OK, "%s: %s", q,
	    PQerrorMessage(pg));
	return res;
}

static void
sql_do(const char *q)
{
	PQclear(sql(q));
}

static long long
sql_int(const char *q)
{
	PGresult	*res = sql(q);
	long long	 v;

	ck_assert_int_eq(PQntuples(res), 1);
	v = PQgetisnull(res, 0, 0) ? -1 : atoll(PQgetvalue(res, 0, 0));
	PQclear(res);
	return v;
}

/* The first value of a result as a long long, -1 for NULL or no row. */
static long long
first_int(PGresult *res)
{
	long long	 v = -1;

	if (PQntuples(res) > 0 && !PQgetisnull(res, 0, 0))
		v = atoll(PQgetvalue(res, 0, 0));
	PQclear(res);
	return v;
}

static void
hexhash(const char *seed, char *hex)
{
	ck_assert_int_eq(authdb_sha256_hex(seed, strlen(seed), hex), 0);
}

static const char PHC1[] = "$argon2id$v=19$m=19456,t=2,p=1$"
    "c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g";
static const char PHC2[] = "$argon2id$v=19$m=19456,t=2,p=1$"
    "b3RoZXJzYWx0b3RoZXJzYQ$b3RoZXJoYXNob3RoZXJoYXNob3RoZXJoYXNob3RoZXI";

static void
fresh_schema(void)
{
	int	 from;

	sql_do("SET client_min_messages = warning");
	sql_do("DROP SCHEMA IF EXISTS bulwark CASCADE");
	ck_assert_msg(authdb_init(pg, &from, &e) == 0, "%s", e.msg);
	ck_assert_int_eq(from, 0);
}

static void
setup(void)
{
	if (!pgtest_up)
		return;
	pg = PQconnectdb("");
	ck_assert_int_eq(PQstatus(pg), CONNECTION_OK);
	fresh_schema();
}

static void
teardown(void)
{
	PQfinish(pg);
	pg = NULL;
}

/* Adds a user and returns its id in id (AUTHDB_UUID_LEN + 1). */
static void
add_user(const char *name, const char *roles, char *id)
{
	PGresult	*res = EX(AUTHDB_USER_ADD, name, PHC1, roles);

	ck_assert_int_eq(PQntuples(res), 1);
	bw_strlcpy(id, PQgetvalue(res, 0, 0), AUTHDB_UUID_LEN + 1);
	PQclear(res);
}

/* Creates a family for uid with a first token made from seed. */
static void
new_family(const char *uid, const char *seed, const char *ttl_ms, char *sid)
{
	char		 h[AUTHDB_HASH_HEX_LEN + 1];
	PGresult	*res;

	hexhash(seed, h);
	res = EX(AUTHDB_FAMILY_CREATE, uid, ttl_ms, h);
	ck_assert_int_eq(PQntuples(res), 1);
	bw_strlcpy(sid, PQgetvalue(res, 0, 0), AUTHDB_UUID_LEN + 1);
	PQclear(res);
}

static int
rotate(const char *old_seed, const char *new_seed)
{
	char		 o[AUTHDB_HASH_HEX_LEN + 1], n[AUTHDB_HASH_HEX_LEN + 1];
	PGresult	*res;
	int		 rows;

	hexhash(old_seed, o);
	hexhash(new_seed, n);
	res = EX(AUTHDB_REFRESH_ROTATE, o, "192.0.2.1", n);
	rows = PQntuples(res);
	PQclear(res);
	return rows;
}

START_TEST(init_is_idempotent_and_versioned)
{
	int	 from, found;

	NEED_PG();
	ck_assert_int_eq(sql_int("SELECT version FROM bulwark.schema_version"),
	    AUTHDB_SCHEMA_VERSION);
	ck_assert_int_eq(authdb_init(pg, &from, &e), 0);
	ck_assert_int_eq(from, AUTHDB_SCHEMA_VERSION);
	ck_assert_int_eq(authdb_init(pg, &from, &e), 0);
	ck_assert_int_eq(sql_int("SELECT count(*) FROM "
	    "bulwark.schema_version"), 1);
	ck_assert_int_eq(authdb_version_check(pg, &found, &e),
	    AUTHDB_VERSION_OK);
	ck_assert_int_eq(found, AUTHDB_SCHEMA_VERSION);
	ck_assert_int_eq(sql_int("SELECT count(*) FROM pg_tables "
	    "WHERE schemaname = 'bulwark'"), 9);

	/* A newer schema is refused and left alone. */
	sql_do("UPDATE bulwark.schema_version SET version = 999");
	ck_assert_int_eq(authdb_init(pg, &from, &e), -1);
	ck_assert_ptr_nonnull(strstr(e.msg, "newer"));
	ck_assert_int_eq(authdb_version_check(pg, &found, &e),
	    AUTHDB_VERSION_NEWER);
	ck_assert_int_eq(found, 999);
	ck_assert_int_eq(sql_int("SELECT version FROM bulwark.schema_version"),
	    999);
	sql_do("UPDATE bulwark.schema_version SET version = 1");

	/* No schema at all, then an empty version table. */
	sql_do("DROP SCHEMA bulwark CASCADE");
	ck_assert_int_eq(authdb_version_check(pg, &found, &e),
	    AUTHDB_VERSION_MISSING);
	sql_do("CREATE SCHEMA bulwark; CREATE TABLE bulwark.schema_version "
	    "(id boolean PRIMARY KEY, version integer, upgraded_at "
	    "timestamptz)");
	ck_assert_int_eq(authdb_version_check(pg, &found, &e),
	    AUTHDB_VERSION_MISSING);
	sql_do("DROP SCHEMA bulwark CASCADE");
}
END_TEST

START_TEST(init_failure_rolls_back)
{
	int	 from;

	NEED_PG();
	/* A table in the way makes version 1 fail: nothing may remain. */
	sql_do("DROP SCHEMA bulwark CASCADE; CREATE SCHEMA bulwark; "
	    "CREATE TABLE bulwark.api_keys (x int)");
	ck_assert_int_eq(authdb_init(pg, &from, &e), -1);
	ck_assert_ptr_nonnull(strstr(e.msg, "upgrading to version 1"));
	ck_assert_int_eq(sql_int("SELECT count(*) FROM pg_tables "
	    "WHERE schemaname = 'bulwark'"), 1);
	ck_assert_int_eq(PQtransactionStatus(pg), PQTRANS_IDLE);
}
END_TEST

/*
 * Several --init-db at once on an empty database: without the advisory
 * lock their CREATE ... IF NOT EXISTS race and one fails on a catalog
 * unique violation.
 */
START_TEST(init_concurrent)
{
	enum { N = 6 };
	pid_t	 pids[N];
	int	 i, status, round;

	NEED_PG();
	for (round = 0; round < 3; round++) {
		sql_do("DROP SCHEMA bulwark CASCADE");
		for (i = 0; i < N; i++) {
			pids[i] = fork();
			ck_assert_int_ne(pids[i], -1);
			if (pids[i] == 0) {
				struct authdb_err	 ce;
				PGconn			*c;
				int			 f;

				c = PQconnectdb("");
				_exit(PQstatus(c) == CONNECTION_OK &&
				    authdb_init(c, &f, &ce) == 0 ? 0 : 1);
			}
		}
		for (i = 0; i < N; i++) {
			ck_assert_int_eq(waitpid(pids[i], &status, 0), pids[i]);
			ck_assert(WIFEXITED(status));
			ck_assert_int_eq(WEXITSTATUS(status), 0);
		}
		ck_assert_int_eq(sql_int("SELECT version FROM "
		    "bulwark.schema_version"), AUTHDB_SCHEMA_VERSION);
	}
}
END_TEST

START_TEST(every_statement_prepares)
{
	char		 name[16];
	PGresult	*res;
	size_t		 i;

	NEED_PG();
	for (i = 0; i < AUTHDB_STMT_COUNT; i++) {
		ck_assert_ptr_nonnull(authdb_stmts[i].sql);
		snprintf(name, sizeof(name), "s%zu", i);
		res = PQprepare(pg, name, authdb_stmts[i].sql,
		    authdb_stmts[i].nparams, NULL);
		ck_assert_msg(PQresultStatus(res) == PGRES_COMMAND_OK,
		    "statement %zu: %s", i, PQerrorMessage(pg));
		PQclear(res);
		res = PQdescribePrepared(pg, name);
		ck_assert_int_eq(PQnparams(res), authdb_stmts[i].nparams);
		PQclear(res);
	}
	/* A wrong parameter count never reaches the server. */
	ck_assert_ptr_null(authdb_exec(pg, AUTHDB_USER_ENABLE, NULL, 0, &e));
	ck_assert_ptr_nonnull(strstr(e.msg, "parameter count"));
	ck_assert_ptr_null(authdb_exec(pg, AUTHDB_STMT_COUNT, NULL, 0, &e));
}
END_TEST

START_TEST(users)
{
	char		 id[AUTHDB_UUID_LEN + 1], sid[AUTHDB_UUID_LEN + 1];
	char		 sid2[AUTHDB_UUID_LEN + 1], q[256];
	long long	 t0, t1;
	PGresult	*res;

	NEED_PG();
	add_user("alice", "editor,reader", id);
	ck_assert_int_eq(strlen(id), AUTHDB_UUID_LEN);
	res = EX(AUTHDB_USER_ADD, "alice", PHC2, "reader");
	ck_assert_int_eq(PQntuples(res), 0);
	PQclear(res);

	/* The schema's own checks: name, hash, roles. */
	ck_assert_ptr_null(authdb_exec(pg, AUTHDB_USER_ADD,
	    PARAMS("Bob", PHC1, "reader"), 3, &e));
	ck_assert_str_eq(e.sqlstate, "23514");
	ck_assert_ptr_null(authdb_exec(pg, AUTHDB_USER_ADD,
	    PARAMS("bob", "plain text", "reader"), 3, &e));
	ck_assert_str_eq(e.sqlstate, "23514");
	ck_assert_ptr_null(authdb_exec(pg, AUTHDB_USER_ADD,
	    PARAMS("bob", PHC1, "reader,,x"), 3, &e));
	ck_assert_str_eq(e.sqlstate, "23514");
	ck_assert_ptr_null(authdb_exec(pg, AUTHDB_USER_ADD,
	    PARAMS("bob", PHC1, "Reader"), 3, &e));
	ck_assert_str_eq(e.sqlstate, "23514");

	res = EX(AUTHDB_LOGIN_LOOKUP, "alice");
	ck_assert_int_eq(PQntuples(res), 1);
	ck_assert_str_eq(PQgetvalue(res, 0, 0), id);
	ck_assert_str_eq(PQgetvalue(res, 0, 2), PHC1);
	ck_assert_str_eq(PQgetvalue(res, 0, 3), "editor,reader");
	ck_assert_str_eq(PQgetvalue(res, 0, 4), "f");
	t0 = atoll(PQgetvalue(res, 0, 5));
	PQclear(res);
	res = EX(AUTHDB_LOGIN_LOOKUP, "nobody");
	ck_assert_int_eq(PQntuples(res), 0);
	PQclear(res);

	/* --set-password: new hash, later cut-off, families revoked. */
	new_family(id, "tok-a", "60000", sid);
	new_family(id, "tok-b", "60000", sid2);
	usleep(2000);
	res = EX(AUTHDB_USER_SET_PASSWORD, "alice", PHC2);
	ck_assert_int_eq(PQntuples(res), 1);
	ck_assert_str_eq(PQgetvalue(res, 0, 1), "2");
	PQclear(res);
	res = EX(AUTHDB_USER_BY_ID, id);
	ck_assert_str_eq(PQgetvalue(res, 0, 1), "alice");
	t1 = atoll(PQgetvalue(res, 0, 4));
	ck_assert(PQgetisnull(res, 0, 5));
	PQclear(res);
	ck_assert_int_gt(t1, t0);
	ck_assert_int_eq(sql_int("SELECT count(*) FROM bulwark.users "
	    "WHERE password_hash LIKE '%b3RoZXJ%'"), 1);
	res = EX(AUTHDB_USER_SET_PASSWORD, "nobody", PHC2);
	ck_assert_int_eq(PQntuples(res), 0);
	PQclear(res);

	/* Re-hash only when the stored hash is still the old one. */
	res = EX(AUTHDB_USER_REHASH, id, PHC1, PHC1);
	ck_assert_int_eq(PQntuples(res), 0);
	PQclear(res);
	res = EX(AUTHDB_USER_REHASH, id, PHC1, PHC2);
	ck_assert_int_eq(PQntuples(res), 1);
	PQclear(res);

	/* --disable-user and --enable-user. */
	usleep(2000);
	res = EX(AUTHDB_USER_DISABLE, "alice");
	ck_assert_int_eq(PQntuples(res), 1);
	PQclear(res);
	res = EX(AUTHDB_USER_CUTOFFS);
	ck_assert_int_eq(PQntuples(res), 1);
	ck_assert_str_eq(PQgetvalue(res, 0, 1), "t");
	ck_assert_int_gt(atoll(PQgetvalue(res, 0, 2)), t1);
	t1 = atoll(PQgetvalue(res, 0, 2));
	PQclear(res);
	res = EX(AUTHDB_USER_ENABLE, "alice");
	ck_assert_int_eq(PQntuples(res), 1);
	PQclear(res);
	res = EX(AUTHDB_USER_ENABLE, "nobody");
	ck_assert_int_eq(PQntuples(res), 0);
	PQclear(res);

	/* --revoke-sessions: every live family, later cut-off. */
	new_family(id, "tok-c", "60000", sid);
	new_family(id, "tok-d", "60000", sid2);
	usleep(2000);
	res = EX(AUTHDB_USER_REVOKE, "alice");
	ck_assert_int_eq(PQntuples(res), 1);
	ck_assert_str_eq(PQgetvalue(res, 0, 1), "2");
	PQclear(res);
	snprintf(q, sizeof(q), "SELECT count(*) FROM bulwark.refresh_families"
	    " WHERE user_id = '%s' AND revoked_at IS NULL", id);
	ck_assert_int_eq(sql_int(q), 0);
	ck_assert_int_eq(rotate("tok-c", "tok-c2"), 0);

	/* /auth/password: the caller's family survives the cut-off. */
	new_family(id, "tok-e", "60000", sid);
	new_family(id, "tok-f", "60000", sid2);
	usleep(2000);
	res = EX(AUTHDB_USER_CHANGE_PASSWORD, id, PHC2, sid);
	ck_assert_str_eq(PQgetvalue(res, 0, 1), "1");
	PQclear(res);
	res = EX(AUTHDB_USER_BY_ID, id);
	ck_assert_str_eq(PQgetvalue(res, 0, 5), sid);
	PQclear(res);
	ck_assert_int_eq(rotate("tok-e", "tok-e2"), 1);
	ck_assert_int_eq(rotate("tok-f", "tok-f2"), 0);

	res = EX0(AUTHDB_USER_LIST);
	ck_assert_int_eq(PQntuples(res), 1);
	ck_assert_int_eq(PQnfields(res), 4);
	ck_assert_str_eq(PQgetvalue(res, 0, 0), "alice");
	ck_assert_str_eq(PQgetvalue(res, 0, 1), "editor,reader");
	ck_assert_str_eq(PQgetvalue(res, 0, 2), "f");
	ck_assert_int_eq(strlen(PQgetvalue(res, 0, 3)), 20);
	PQclear(res);
}
END_TEST

START_TEST(refresh_families)
{
	char		 id[AUTHDB_UUID_LEN + 1], other[AUTHDB_UUID_LEN + 1];
	char		 sid[AUTHDB_UUID_LEN + 1], h[AUTHDB_HASH_HEX_LEN + 1];
	char		 q[256];
	PGresult	*res;

	NEED_PG();
	add_user("carol", "reader", id);
	add_user("dave", "reader", other);
	new_family(id, "r1", "60000", sid);

	ck_assert_int_eq(rotate("r1", "r2"), 1);
	ck_assert_int_eq(rotate("r1", "r3"), 0);
	hexhash("r1", h);
	res = EX(AUTHDB_REFRESH_LOOKUP, h);
	ck_assert_int_eq(PQntuples(res), 1);
	ck_assert_str_eq(PQgetvalue(res, 0, 0), sid);
	ck_assert_str_eq(PQgetvalue(res, 0, 1), id);
	ck_assert_str_eq(PQgetvalue(res, 0, 2), "t");
	ck_assert_str_eq(PQgetvalue(res, 0, 3), "192.0.2.1");
	ck_assert_int_ge(atoll(PQgetvalue(res, 0, 4)), 0);
	ck_assert_str_eq(PQgetvalue(res, 0, 5), "f");
	ck_assert_str_eq(PQgetvalue(res, 0, 6), "f");
	PQclear(res);
	res = EX(AUTHDB_REFRESH_ROTATE, h, "192.0.2.1", h);
	ck_assert_int_eq(PQntuples(res), 0);
	PQclear(res);

	/* The rotated-to token works and carries the user. */
	hexhash("r2", h);
	res = EX(AUTHDB_REFRESH_ROTATE, h, "2001:db8::1",
	    "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff");
	ck_assert_int_eq(PQntuples(res), 1);
	ck_assert_str_eq(PQgetvalue(res, 0, 0), sid);
	ck_assert_str_eq(PQgetvalue(res, 0, 1), id);
	ck_assert_str_eq(PQgetvalue(res, 0, 2), "carol");
	ck_assert_str_eq(PQgetvalue(res, 0, 3), "reader");
	PQclear(res);

	/* Reuse detection revokes the family; the newest token dies too. */
	res = EX(AUTHDB_FAMILY_REVOKE, sid);
	ck_assert_int_eq(PQntuples(res), 1);
	PQclear(res);
	res = EX(AUTHDB_FAMILY_REVOKE, sid);
	ck_assert_int_eq(PQntuples(res), 0);
	PQclear(res);
	res = EX(AUTHDB_REFRESH_ROTATE,
	    "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
	    "192.0.2.1", h);
	ck_assert_int_eq(PQntuples(res), 0);
	PQclear(res);

	/* Absolute expiry, never extended by rotation. */
	new_family(id, "x1", "60000", sid);
	ck_assert_int_eq(rotate("x1", "x2"), 1);
	snprintf(q, sizeof(q), "UPDATE bulwark.refresh_families SET "
	    "created_at = now() - interval '2 hours', expires_at = now() - "
	    "interval '1 hour' WHERE id = '%s'", sid);
	sql_do(q);
	ck_assert_int_eq(rotate("x2", "x3"), 0);
	hexhash("x2", h);
	res = EX(AUTHDB_REFRESH_LOOKUP, h);
	ck_assert_str_eq(PQgetvalue(res, 0, 2), "f");
	ck_assert(PQgetisnull(res, 0, 4));
	ck_assert_str_eq(PQgetvalue(res, 0, 6), "t");
	PQclear(res);
	ck_assert_int_eq(first_int(EX0(AUTHDB_FAMILY_PURGE)), -1);
	snprintf(q, sizeof(q), "SELECT count(*) FROM bulwark.refresh_tokens t"
	    " WHERE t.family_id = '%s'", sid);
	ck_assert_int_eq(sql_int(q), 0);

	/* A disabled user's family does not rotate. */
	new_family(id, "d1", "60000", sid);
	PQclear(EX(AUTHDB_USER_DISABLE, "carol"));
	PQclear(EX(AUTHDB_USER_ENABLE, "carol"));
	ck_assert_int_eq(rotate("d1", "d2"), 0);
	new_family(id, "d3", "60000", sid);
	sql_do("UPDATE bulwark.users SET disabled = true WHERE "
	    "username = 'carol'");
	ck_assert_int_eq(rotate("d3", "d4"), 0);
	sql_do("UPDATE bulwark.users SET disabled = false WHERE "
	    "username = 'carol'");
	ck_assert_int_eq(rotate("d3", "d4"), 1);

	/* Logout: only the owner (or without a Bearer token). */
	new_family(id, "l1", "60000", sid);
	hexhash("l1", h);
	res = EX(AUTHDB_LOGOUT, h, other);
	ck_assert_int_eq(PQntuples(res), 0);
	PQclear(res);
	res = EX(AUTHDB_LOGOUT, h, id);
	ck_assert_int_eq(PQntuples(res), 1);
	ck_assert_str_eq(PQgetvalue(res, 0, 0), sid);
	ck_assert_str_eq(PQgetvalue(res, 0, 1), id);
	PQclear(res);
	ck_assert_int_eq(rotate("l1", "l2"), 0);
	new_family(id, "l3", "60000", sid);
	hexhash("l3", h);
	res = EX(AUTHDB_LOGOUT, h, NULL);
	ck_assert_int_eq(PQntuples(res), 1);
	PQclear(res);
	hexhash("never issued", h);
	res = EX(AUTHDB_LOGOUT, h, NULL);
	ck_assert_int_eq(PQntuples(res), 0);
	PQclear(res);

	/* Hashes are exactly 32 bytes. */
	ck_assert_ptr_null(authdb_exec(pg, AUTHDB_FAMILY_CREATE,
	    PARAMS(id, "60000", "abcd"), 3, &e));
	ck_assert_str_eq(e.sqlstate, "23514");
}
END_TEST

/*
 * Two clients rotate the same refresh token at the same moment: the first
 * holds the row lock inside an open transaction while the second's UPDATE
 * waits on it; after the first commits, the second re-checks
 * used_at IS NULL on the new row version and gets no row.
 */
START_TEST(rotation_is_atomic)
{
	char		 id[AUTHDB_UUID_LEN + 1], sid[AUTHDB_UUID_LEN + 1];
	char		 o[AUTHDB_HASH_HEX_LEN + 1], n1[AUTHDB_HASH_HEX_LEN + 1];
	char		 n2[AUTHDB_HASH_HEX_LEN + 1];
	const char	*v2[3];
	PGconn		*b;
	PGresult	*res;
	int		 first, second = -1, waited = 0;

	NEED_PG();
	add_user("erin", "reader", id);
	new_family(id, "race", "60000", sid);
	hexhash("race", o);
	hexhash("winner", n1);
	hexhash("loser", n2);
	b = PQconnectdb("");
	ck_assert_int_eq(PQstatus(b), CONNECTION_OK);

	sql_do("BEGIN");
	res = EX(AUTHDB_REFRESH_ROTATE, o, "192.0.2.7", n1);
	first = PQntuples(res);
	PQclear(res);
	v2[0] = o;
	v2[1] = "192.0.2.8";
	v2[2] = n2;
	ck_assert_int_eq(PQsendQueryParams(b,
	    authdb_stmts[AUTHDB_REFRESH_ROTATE].sql, 3, NULL, v2, NULL, NULL,
	    0), 1);
	/* b is blocked on the row lock while a's transaction is open. */
	for (waited = 0; waited < 20; waited++) {
		usleep(10000);
		ck_assert_int_eq(PQconsumeInput(b), 1);
		ck_assert_int_eq(PQisBusy(b), 1);
	}
	ck_assert_int_eq(sql_int("SELECT count(*) FROM pg_locks WHERE "
	    "NOT granted AND locktype = 'transactionid'"), 1);
	sql_do("COMMIT");
	while ((res = PQgetResult(b)) != NULL) {
		ck_assert_int_eq(PQresultStatus(res), PGRES_TUPLES_OK);
		second = PQntuples(res);
		PQclear(res);
	}
	PQfinish(b);
	ck_assert_int_eq(first, 1);
	ck_assert_int_eq(second, 0);
	ck_assert_int_eq(rotate("winner", "next"), 1);
	ck_assert_int_eq(rotate("loser", "next2"), 0);
}
END_TEST

/*
 * A revocation (or a disable) being committed while a rotation starts: the
 * rotation waits for the family's or the user's row lock, then sees the
 * change and gets no row.  change is literal SQL, or NULL to revoke the
 * new family with FAMILY_REVOKE.
 */
static void
rotate_during(const char *change, const char *uid, const char *seed)
{
	char		 sid[AUTHDB_UUID_LEN + 1], o[AUTHDB_HASH_HEX_LEN + 1];
	char		 n[AUTHDB_HASH_HEX_LEN + 1];
	const char	*v[3] = { o, "192.0.2.9", n };
	PGconn		*b;
	PGresult	*res;
	int		 i, rows = -1;

	new_family(uid, seed, "60000", sid);
	hexhash(seed, o);
	hexhash("after-revocation", n);
	b = PQconnectdb("");
	ck_assert_int_eq(PQstatus(b), CONNECTION_OK);
	sql_do("BEGIN");
	if (change != NULL)
		sql_do(change);
	else
		PQclear(EX(AUTHDB_FAMILY_REVOKE, sid));
	ck_assert_int_eq(PQsendQueryParams(b,
	    authdb_stmts[AUTHDB_REFRESH_ROTATE].sql, 3, NULL, v, NULL, NULL,
	    0), 1);
	for (i = 0; i < 20; i++) {
		usleep(10000);
		ck_assert_int_eq(PQconsumeInput(b), 1);
		ck_assert_int_eq(PQisBusy(b), 1);
	}
	sql_do("COMMIT");
	while ((res = PQgetResult(b)) != NULL) {
		ck_assert_int_eq(PQresultStatus(res), PGRES_TUPLES_OK);
		rows = PQntuples(res);
		PQclear(res);
	}
	PQfinish(b);
	ck_assert_int_eq(rows, 0);
	sql_do("UPDATE bulwark.users SET disabled = false, "
	    "tokens_valid_after = now() - interval '1 hour'");
}

START_TEST(rotation_waits_for_revocation)
{
	char	 id[AUTHDB_UUID_LEN + 1], sid[AUTHDB_UUID_LEN + 1];

	NEED_PG();
	add_user("fay", "reader", id);
	rotate_during(NULL, id, "w1");
	rotate_during("UPDATE bulwark.users SET disabled = true", id, "w2");
	rotate_during("UPDATE bulwark.users SET tokens_valid_after = "
	    "clock_timestamp() + interval '1 second'", id, "w3");
	/* With nothing in the way, the same rotation goes through. */
	new_family(id, "w4", "60000", sid);
	ck_assert_int_eq(rotate("w4", "w5"), 1);
}
END_TEST

static long long
login_fail(const char *user, const char *ip, const char *max,
    const char *window, const char *duration, const char *tracked)
{
	return first_int(EX(AUTHDB_LOGIN_FAILURE, user, ip, max, window,
	    duration, tracked));
}

/* max_failures 3 within 60 s, 10 s lockout, 1000 rows tracked. */
static long long
lf(const char *user, const char *ip)
{
	return login_fail(user, ip, "3", "60000", "10000", "1000");
}

static long long
lock_left(const char *user, const char *ip)
{
	return first_int(EX(AUTHDB_LOCKOUT_QUERY, user, ip));
}

START_TEST(lockout_pair)
{
	NEED_PG();
	/* max 3 within 60 s, 10 s lockout. */
	ck_assert_int_eq(lf("frank", "192.0.2.1"), 0);
	ck_assert_int_eq(lf("frank", "192.0.2.1"), 0);
	ck_assert_int_eq(lock_left("frank", "192.0.2.1"), -1);
	ck_assert_int_eq(lf("frank", "192.0.2.1"), 10);
	ck_assert_int_eq(lock_left("frank", "192.0.2.1"), 10);
	/* Another address and another name are not locked. */
	ck_assert_int_eq(lock_left("frank", "192.0.2.2"), -1);
	ck_assert_int_eq(lock_left("frankie", "192.0.2.1"), -1);
	/* Failures while locked do not extend or double it. */
	ck_assert_int_eq(lf("frank", "192.0.2.1"), 10);
	ck_assert_int_eq(sql_int("SELECT lockouts FROM bulwark.login_failures"
	    " WHERE username = 'frank' AND ip IS NOT NULL"), 1);

	/* The next lockout, once this one is over, lasts twice as long. */
	sql_do("UPDATE bulwark.login_failures SET locked_until = now() - "
	    "interval '1 second', failures = 0 WHERE username = 'frank'");
	ck_assert_int_eq(lock_left("frank", "192.0.2.1"), -1);
	lf("frank", "192.0.2.1");
	lf("frank", "192.0.2.1");
	ck_assert_int_eq(lf("frank", "192.0.2.1"), 20);
	sql_do("UPDATE bulwark.login_failures SET locked_until = now() - "
	    "interval '1 second', failures = 0 WHERE username = 'frank'");
	lf("frank", "192.0.2.1");
	lf("frank", "192.0.2.1");
	ck_assert_int_eq(lf("frank", "192.0.2.1"), 40);

	/* Capped at 24 hours. */
	sql_do("UPDATE bulwark.login_failures SET locked_until = now() - "
	    "interval '1 second', lockouts = 35, failures = 0 "
	    "WHERE username = 'frank'");
	lf("frank", "192.0.2.1");
	lf("frank", "192.0.2.1");
	ck_assert_int_eq(lf("frank", "192.0.2.1"), AUTHDB_LOCKOUT_CAP_S);

	/* A lockout that ended more than the cap ago starts the count over. */
	sql_do("UPDATE bulwark.login_failures SET locked_until = now() - "
	    "interval '25 hours', lockouts = 6, failures = 0 "
	    "WHERE username = 'frank'");
	lf("frank", "192.0.2.1");
	lf("frank", "192.0.2.1");
	ck_assert_int_eq(lf("frank", "192.0.2.1"), 10);
}
END_TEST

START_TEST(lockout_window_and_success)
{
	NEED_PG();
	/* A success clears the (username, ip) count. */
	lf("gina", "192.0.2.1");
	lf("gina", "192.0.2.1");
	PQclear(EX(AUTHDB_LOGIN_SUCCESS, "gina", "192.0.2.1"));
	ck_assert_int_eq(lf("gina", "192.0.2.1"), 0);
	ck_assert_int_eq(lf("gina", "192.0.2.1"), 0);
	ck_assert_int_eq(lf("gina", "192.0.2.1"), 10);

	/* Failures further apart than the window never add up. */
	ck_assert_int_eq(login_fail("hank", "192.0.2.1", "2", "1", "10000",
	    "1000"), 0);
	usleep(5000);
	ck_assert_int_eq(login_fail("hank", "192.0.2.1", "2", "1", "10000",
	    "1000"), 0);
	usleep(5000);
	ck_assert_int_eq(login_fail("hank", "192.0.2.1", "2", "1", "10000",
	    "1000"), 0);
	ck_assert_int_eq(lock_left("hank", "192.0.2.1"), -1);

	/* Purge: rows whose window and lockout are long over. */
	sql_do("UPDATE bulwark.login_failures SET last_failed_at = now() - "
	    "interval '2 days', locked_until = NULL WHERE username = 'hank'");
	PQclear(EX(AUTHDB_LOGIN_FAILURE_PURGE, "60000"));
	ck_assert_int_eq(sql_int("SELECT count(*) FROM bulwark.login_failures"
	    " WHERE username = 'hank'"), 0);
	ck_assert_int_eq(sql_int("SELECT count(*) FROM bulwark.login_failures"
	    " WHERE username = 'gina'"), 2);
}
END_TEST

/* Per username: 4 x max_failures from addresses that each stay below. */
START_TEST(lockout_username)
{
	char		 ip[32];
	long long	 left = 0;
	int		 i;

	NEED_PG();
	for (i = 0; i < 4 * 3; i++) {
		snprintf(ip, sizeof(ip), "198.51.100.%d", i / 2);
		left = lf("ivan", ip);
		if (i < 4 * 3 - 1)
			ck_assert_int_eq(left, 0);
	}
	ck_assert_int_eq(left, 10);
	ck_assert_int_eq(lock_left("ivan", "203.0.113.9"), 10);
	ck_assert_int_eq(lock_left("ivan", "2001:db8::9"), 10);
	ck_assert_int_eq(lock_left("ivana", "203.0.113.9"), -1);
	ck_assert_int_eq(sql_int("SELECT count(*) FROM bulwark.login_failures"
	    " WHERE username = 'ivan' AND locked_until > now()"), 1);
}
END_TEST

/* max_tracked: the oldest rows go, never the ones just counted. */
START_TEST(lockout_eviction)
{
	char	 user[32];
	int	 i;

	NEED_PG();
	for (i = 0; i < 20; i++) {
		snprintf(user, sizeof(user), "u%02d", i);
		login_fail(user, "192.0.2.1", "5", "60000", "10000", "10");
		ck_assert_int_le(sql_int("SELECT count(*) FROM "
		    "bulwark.login_failures"), 10);
	}
	ck_assert_int_eq(sql_int("SELECT count(*) FROM bulwark.login_failures"),
	    10);
	ck_assert_int_eq(sql_int("SELECT count(*) FROM bulwark.login_failures"
	    " WHERE username = 'u19'"), 2);
	ck_assert_int_eq(sql_int("SELECT count(*) FROM bulwark.login_failures"
	    " WHERE username = 'u00'"), 0);
	/* A bound below the two rows of one attempt keeps those two. */
	login_fail("zed", "192.0.2.1", "5", "60000", "10000", "1");
	ck_assert_int_eq(sql_int("SELECT count(*) FROM bulwark.login_failures"),
	    2);
	ck_assert_int_eq(sql_int("SELECT count(*) FROM bulwark.login_failures"
	    " WHERE username = 'zed'"), 2);
}
END_TEST

START_TEST(denied_jtis)
{
	char		 jti[AUTHDB_JTI_MAX + 2], exp[24], past[24];
	PGresult	*res;

	NEED_PG();
	snprintf(exp, sizeof(exp), "%lld", (long long)time(NULL) + 600);
	snprintf(past, sizeof(past), "%lld", (long long)time(NULL) - 600);
	PQclear(EX(AUTHDB_DENY_JTI, "j-1", exp));
	PQclear(EX(AUTHDB_DENY_JTI, "j-1", exp));
	PQclear(EX(AUTHDB_DENY_JTI, "j-old", past));
	res = EX0(AUTHDB_DENIED_LIST);
	ck_assert_int_eq(PQntuples(res), 1);
	ck_assert_str_eq(PQgetvalue(res, 0, 0), "j-1");
	ck_assert_str_eq(PQgetvalue(res, 0, 1), exp);
	PQclear(res);
	PQclear(EX0(AUTHDB_DENIED_PURGE));
	ck_assert_int_eq(sql_int("SELECT count(*) FROM bulwark.denied_jtis"),
	    1);
	memset(jti, 'j', AUTHDB_JTI_MAX);
	jti[AUTHDB_JTI_MAX] = '\0';
	PQclear(EX(AUTHDB_DENY_JTI, jti, exp));
	jti[AUTHDB_JTI_MAX] = 'j';
	jti[AUTHDB_JTI_MAX + 1] = '\0';
	ck_assert_ptr_null(authdb_exec(pg, AUTHDB_DENY_JTI,
	    PARAMS(jti, exp), 2, &e));
	ck_assert_str_eq(e.sqlstate, "23514");
}
END_TEST

START_TEST(api_keys)
{
	char		 key[AUTHDB_KEY_LEN + 1], id[AUTHDB_KEY_ID_LEN + 1];
	char		 hex[AUTHDB_HASH_HEX_LEN + 1], pid[AUTHDB_KEY_ID_LEN + 1];
	char		 h2[AUTHDB_HASH_HEX_LEN + 1];
	unsigned char	 digest[AUTHDB_HASH_LEN];
	PGresult	*res;

	NEED_PG();
	ck_assert_int_eq(authdb_key_new(key, id, hex), 0);
	ck_assert_int_eq(authdb_key_parse(key, strlen(key), pid, digest), 0);
	ck_assert_str_eq(pid, id);
	bw_hex_encode(digest, sizeof(digest), h2);
	ck_assert_str_eq(h2, hex);

	res = EX(AUTHDB_APIKEY_ADD, id, "ci", hex, "reader");
	ck_assert_int_eq(PQntuples(res), 1);
	PQclear(res);
	/* An active name is unique; an id is unique. */
	ck_assert_ptr_null(authdb_exec(pg, AUTHDB_APIKEY_ADD,
	    PARAMS("aaaaaaaa", "ci", hex, "reader"), 4, &e));
	ck_assert_str_eq(e.sqlstate, "23505");
	ck_assert_str_eq(e.constraint, "api_keys_active_name");
	ck_assert_ptr_null(authdb_exec(pg, AUTHDB_APIKEY_ADD,
	    PARAMS(id, "other", hex, "reader"), 4, &e));
	ck_assert_str_eq(e.sqlstate, "23505");
	ck_assert_str_eq(e.constraint, "api_keys_pkey");
	ck_assert_ptr_null(authdb_exec(pg, AUTHDB_APIKEY_ADD,
	    PARAMS("AAAAAAAA", "other", hex, "reader"), 4, &e));
	ck_assert_str_eq(e.sqlstate, "23514");

	res = EX(AUTHDB_APIKEY_BY_ID, id);
	ck_assert_int_eq(PQntuples(res), 1);
	ck_assert_str_eq(PQgetvalue(res, 0, 1), hex);
	ck_assert_str_eq(PQgetvalue(res, 0, 2), "reader");
	ck_assert_str_eq(PQgetvalue(res, 0, 3), "f");
	PQclear(res);
	res = EX0(AUTHDB_APIKEY_ACTIVE);
	ck_assert_int_eq(PQntuples(res), 1);
	PQclear(res);

	res = EX(AUTHDB_APIKEY_REVOKE, "ci");
	ck_assert_int_eq(PQntuples(res), 1);
	ck_assert_str_eq(PQgetvalue(res, 0, 0), id);
	PQclear(res);
	res = EX(AUTHDB_APIKEY_REVOKE, "ci");
	ck_assert_int_eq(PQntuples(res), 0);
	PQclear(res);
	res = EX0(AUTHDB_APIKEY_ACTIVE);
	ck_assert_int_eq(PQntuples(res), 0);
	PQclear(res);
	/* The name is free again once revoked. */
	PQclear(EX(AUTHDB_APIKEY_ADD, "bbbbbbbb", "ci", hex, "editor,reader"));
	res = EX0(AUTHDB_APIKEY_LIST);
	ck_assert_int_eq(PQntuples(res), 2);
	ck_assert_int_eq(PQnfields(res), 5);
	ck_assert_str_eq(PQgetvalue(res, 0, 3), "t");
	ck_assert_str_eq(PQgetvalue(res, 1, 2), "editor,reader");
	ck_assert_str_eq(PQgetvalue(res, 1, 3), "f");
	PQclear(res);
	bw_wipe(key, sizeof(key));
}
END_TEST

/*
 * The last of 43 characters carries 4 bits and 2 zero bits: the character
 * one place further in the alphabet sets a stray bit.
 */
static char
b64_stray(char c)
{
	static const char	 a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789-_";
	const char		*p = strchr(a, c);

	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq((p - a) % 4, 0);
	return a[(p - a) | 1];
}

START_TEST(api_key_format)
{
	char		 key[AUTHDB_KEY_LEN + 1], id[AUTHDB_KEY_ID_LEN + 1];
	char		 hex[AUTHDB_HASH_HEX_LEN + 1], bad[AUTHDB_KEY_LEN + 2];
	char		 seen[AUTHDB_KEY_ID_LEN + 1] = "";
	unsigned char	 digest[AUTHDB_HASH_LEN];
	size_t		 i;
	int		 round;

	for (round = 0; round < 64; round++) {
		ck_assert_int_eq(authdb_key_new(key, id, hex), 0);
		ck_assert_int_eq(strlen(key), AUTHDB_KEY_LEN);
		ck_assert_int_eq(strncmp(key, "bwk_", 4), 0);
		ck_assert(authdb_key_id_valid(key + 4, AUTHDB_KEY_ID_LEN));
		ck_assert_int_eq(key[12], '_');
		for (i = 13; i < AUTHDB_KEY_LEN; i++)
			ck_assert(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghij"
			    "klmnopqrstuvwxyz0123456789-_", key[i]) != NULL);
		ck_assert_str_ne(id, seen);
		bw_strlcpy(seen, id, sizeof(seen));
		ck_assert_int_eq(strlen(hex), AUTHDB_HASH_HEX_LEN);
	}
	ck_assert_int_eq(authdb_key_parse(key, strlen(key), id, digest), 0);
	ck_assert_int_eq(authdb_key_parse(key, strlen(key) - 1, id, digest),
	    -1);
	memcpy(bad, key, sizeof(key));
	bad[0] = 'B';
	ck_assert_int_eq(authdb_key_parse(bad, strlen(bad), id, digest), -1);
	memcpy(bad, key, sizeof(key));
	bad[5] = 'A';
	ck_assert_int_eq(authdb_key_parse(bad, strlen(bad), id, digest), -1);
	bad[5] = '1';
	ck_assert_int_eq(authdb_key_parse(bad, strlen(bad), id, digest), -1);
	memcpy(bad, key, sizeof(key));
	bad[12] = '-';
	ck_assert_int_eq(authdb_key_parse(bad, strlen(bad), id, digest), -1);
	/* Stray bits in the last character: not canonical. */
	memcpy(bad, key, sizeof(key));
	bad[AUTHDB_KEY_LEN - 1] = b64_stray(key[AUTHDB_KEY_LEN - 1]);
	ck_assert_int_eq(authdb_key_parse(bad, strlen(bad), id, digest), -1);
	/* Padding, and a character outside the alphabet. */
	memcpy(bad, key, sizeof(key));
	bad[AUTHDB_KEY_LEN - 1] = '=';
	ck_assert_int_eq(authdb_key_parse(bad, strlen(bad), id, digest), -1);
	bad[AUTHDB_KEY_LEN - 1] = '+';
	ck_assert_int_eq(authdb_key_parse(bad, strlen(bad), id, digest), -1);
	ck_assert(!authdb_key_id_valid("abcdefg", 7));
	ck_assert(!authdb_key_id_valid("abcdefg8", 8));
	ck_assert(authdb_key_id_valid("abcdef27", 8));

	/* SHA-256("abc"), FIPS 180-2. */
	ck_assert_int_eq(authdb_sha256_hex("abc", 3, hex), 0);
	ck_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223"
	    "b00361a396177a9cb410ff61f20015ad");
}
END_TEST

/* Waits up to one second for a notification on c; NULL if none. */
static PGnotify *
next_notify(PGconn *c)
{
	PGnotify	*n;
	int		 i;

	for (i = 0; i < 100; i++) {
		ck_assert_int_eq(PQconsumeInput(c), 1);
		if ((n = PQnotifies(c)) != NULL)
			return n;
		usleep(10000);
	}
	return NULL;
}

static void
expect_notify(PGconn *c, const char *type, const char *id)
{
	PGnotify	*n = next_notify(c);
	char		 want[AUTHDB_NOTIFY_MAX + 1];

	ck_assert_msg(n != NULL, "no notification for %s%s", type, id);
	snprintf(want, sizeof(want), "%s%s", type, id);
	ck_assert_str_eq(n->relname, AUTHDB_NOTIFY_CHANNEL);
	ck_assert_str_eq(n->extra, want);
	PQfreemem(n);
}

/* Two notifications of one statement, in either order. */
static void
expect_two(PGconn *c, const char *t1, const char *id1, const char *t2,
    const char *id2)
{
	char		 w1[AUTHDB_NOTIFY_MAX + 1], w2[AUTHDB_NOTIFY_MAX + 1];
	PGnotify	*a, *b;

	snprintf(w1, sizeof(w1), "%s%s", t1, id1);
	snprintf(w2, sizeof(w2), "%s%s", t2, id2);
	a = next_notify(c);
	b = next_notify(c);
	ck_assert(a != NULL && b != NULL);
	ck_assert((strcmp(a->extra, w1) == 0 && strcmp(b->extra, w2) == 0) ||
	    (strcmp(a->extra, w2) == 0 && strcmp(b->extra, w1) == 0));
	PQfreemem(a);
	PQfreemem(b);
}

START_TEST(revocations_notify)
{
	char		 id[AUTHDB_UUID_LEN + 1], sid[AUTHDB_UUID_LEN + 1];
	char		 exp[24], h[AUTHDB_HASH_HEX_LEN + 1];
	PGconn		*l;
	PGresult	*res;
	PGnotify	*n;

	NEED_PG();
	add_user("judy", "reader", id);
	new_family(id, "n1", "60000", sid);
	l = PQconnectdb("");
	ck_assert_int_eq(PQstatus(l), CONNECTION_OK);
	res = PQexec(l, "LISTEN " AUTHDB_NOTIFY_CHANNEL);
	ck_assert_int_eq(PQresultStatus(res), PGRES_COMMAND_OK);
	PQclear(res);

	PQclear(EX(AUTHDB_USER_REVOKE, "judy"));
	expect_two(l, AUTHDB_NOTIFY_USER, id, AUTHDB_NOTIFY_SID, sid);
	PQclear(EX(AUTHDB_USER_DISABLE, "judy"));
	expect_notify(l, AUTHDB_NOTIFY_USER, id);
	PQclear(EX(AUTHDB_USER_ENABLE, "judy"));
	expect_notify(l, AUTHDB_NOTIFY_USER, id);
	PQclear(EX(AUTHDB_USER_SET_PASSWORD, "judy", PHC2));
	expect_notify(l, AUTHDB_NOTIFY_USER, id);

	new_family(id, "n2", "60000", sid);
	hexhash("n2", h);
	PQclear(EX(AUTHDB_LOGOUT, h, id));
	expect_notify(l, AUTHDB_NOTIFY_SID, sid);
	snprintf(exp, sizeof(exp), "%lld", (long long)time(NULL) + 60);
	PQclear(EX(AUTHDB_DENY_JTI, "jti-42", exp));
	expect_notify(l, AUTHDB_NOTIFY_JTI, "jti-42");
	PQclear(EX(AUTHDB_APIKEY_ADD, "cccccccc", "bot", h, "reader"));
	expect_notify(l, AUTHDB_NOTIFY_KEY, "cccccccc");
	PQclear(EX(AUTHDB_APIKEY_REVOKE, "bot"));
	expect_notify(l, AUTHDB_NOTIFY_KEY, "cccccccc");

	/* Not revocations: a re-hash, a second logout, a new family. */
	PQclear(EX(AUTHDB_USER_REHASH, id, PHC1, PHC2));
	PQclear(EX(AUTHDB_LOGOUT, h, id));
	new_family(id, "n3", "60000", sid);
	n = next_notify(l);
	ck_assert_msg(n == NULL, "unexpected notification %s",
	    n != NULL ? n->extra : "");
	PQfinish(l);
}
END_TEST

Suite *
unit_suite(void)
{
	Suite	*s = suite_create("authdb");
	TCase	*tc = tcase_create("authdb");
	TCase	*fmt = tcase_create("format");

	tcase_set_timeout(tc, UNIT_TIMEOUT);
	tcase_add_unchecked_fixture(tc, pgtest_start, pgtest_stop);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, init_is_idempotent_and_versioned);
	tcase_add_test(tc, init_failure_rolls_back);
	tcase_add_test(tc, init_concurrent);
	tcase_add_test(tc, every_statement_prepares);
	tcase_add_test(tc, users);
	tcase_add_test(tc, refresh_families);
	tcase_add_test(tc, rotation_is_atomic);
	tcase_add_test(tc, rotation_waits_for_revocation);
	tcase_add_test(tc, lockout_pair);
	tcase_add_test(tc, lockout_window_and_success);
	tcase_add_test(tc, lockout_username);
	tcase_add_test(tc, lockout_eviction);
	tcase_add_test(tc, denied_jtis);
	tcase_add_test(tc, api_keys);
	tcase_add_test(tc, revocations_notify);
	suite_add_tcase(s, tc);
	tcase_set_timeout(fmt, UNIT_TIMEOUT);
	tcase_add_test(fmt, api_key_format);
	suite_add_tcase(s, fmt);
	return s;
}
