/*
 * authdb.c - the `bulwark` schema: DDL, migrations, statements, the API key
 * format.
 *
 * Migrations are lists of statements, one list per schema version, applied
 * in order inside one transaction that holds an advisory lock: a failed
 * upgrade changes nothing, and concurrent --init-db runs queue behind each
 * other.  A version's list is never edited once released; a change is a
 * new version.  The statements hold no input: every value bulwark stores
 * goes through the parameterized statements of authdb_stmts.
 *
 * Lockout (SPEC 8) is a pair of counters per attempted username, held in
 * bulwark.login_failures whether or not the user exists: one row per
 * (username, ip) and one per username (ip NULL).  A row counts failures in
 * a fixed window that starts with its first failure; reaching the
 * threshold locks the row.  bulwark.login_failure() takes each row with an
 * upsert, which locks it, so concurrent failures are counted exactly and
 * lock exactly once; failures while locked do not extend the lock.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "authdb.h"
#include "util.h"

#define EPOCH_US(x)	"(extract(epoch FROM " x ") * 1000000)::bigint"
#define ISO_UTC(x)	"to_char(" x " AT TIME ZONE 'UTC', " \
			    "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
#define STR(x)		STR1(x)
#define STR1(x)		#x
#define LOCK_CAP	"interval '" STR(AUTHDB_LOCKOUT_CAP_S) " seconds'"
#define MS(x)		"(" x "::bigint * interval '1 millisecond')"

#define USERNAME_RE	"'^[a-z0-9][a-z0-9._@-]{0,63}$'"
#define ROLES_CHECK(c)	"CHECK (cardinality(" c ") <= 256 AND " \
	"array_position(" c ", NULL) IS NULL AND " \
	"array_to_string(" c ", ',') ~ " \
	"'^([a-z][a-z0-9_]{0,62}(,[a-z][a-z0-9_]{0,62})*)?$' AND " \
	"NOT ('' = ANY (" c ")))"

/* Run before the version is read: harmless when they exist. */
static const char *const authdb_bootstrap[] = {
	"CREATE SCHEMA IF NOT EXISTS bulwark",
	"CREATE TABLE IF NOT EXISTS bulwark.schema_version ("
	"  id boolean PRIMARY KEY DEFAULT true CHECK (id),"
	"  version integer NOT NULL CHECK (version > 0),"
	"  upgraded_at timestamptz NOT NULL DEFAULT now())",
	NULL,
};

static const char *const authdb_v1[] = {
	"CREATE TABLE bulwark.users ("
	"  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),"
	"  username text NOT NULL UNIQUE CHECK (username ~ " USERNAME_RE "),"
	"  password_hash text NOT NULL CHECK (password_hash LIKE "
	"    '$argon2id$%' AND length(password_hash) < 192),"
	"  roles text[] NOT NULL DEFAULT '{}' " ROLES_CHECK("roles") ","
	"  disabled boolean NOT NULL DEFAULT false,"
	"  tokens_valid_after timestamptz NOT NULL DEFAULT now(),"
	"  tokens_valid_after_sid uuid,"
	"  created_at timestamptz NOT NULL DEFAULT now(),"
	"  updated_at timestamptz NOT NULL DEFAULT now())",

	"CREATE TABLE bulwark.refresh_families ("
	"  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),"
	"  user_id uuid NOT NULL REFERENCES bulwark.users (id)"
	"    ON DELETE CASCADE,"
	"  created_at timestamptz NOT NULL DEFAULT now(),"
	"  expires_at timestamptz NOT NULL,"
	"  revoked_at timestamptz,"
	"  CHECK (expires_at > created_at))",
	"CREATE INDEX refresh_families_user ON bulwark.refresh_families "
	"(user_id)",
	"CREATE INDEX refresh_families_expiry ON bulwark.refresh_families "
	"(expires_at)",

	"CREATE TABLE bulwark.refresh_tokens ("
	"  hash bytea PRIMARY KEY CHECK (length(hash) = 32),"
	"  family_id uuid NOT NULL REFERENCES bulwark.refresh_families (id)"
	"    ON DELETE CASCADE,"
	"  issued_at timestamptz NOT NULL DEFAULT now(),"
	"  used_at timestamptz,"
	"  used_ip inet)",
	"CREATE INDEX refresh_tokens_family ON bulwark.refresh_tokens "
	"(family_id)",

	"CREATE TABLE bulwark.denied_jtis ("
	"  jti text PRIMARY KEY CHECK (length(jti) BETWEEN 1 AND 128),"
	"  expires_at timestamptz NOT NULL)",
	"CREATE INDEX denied_jtis_expiry ON bulwark.denied_jtis (expires_at)",

	"CREATE TABLE bulwark.login_failures ("
	"  id bigserial PRIMARY KEY,"
	"  username text NOT NULL CHECK (username ~ " USERNAME_RE "),"
	"  ip inet,"
	"  failures integer NOT NULL DEFAULT 0 CHECK (failures >= 0),"
	"  window_start timestamptz NOT NULL DEFAULT now(),"
	"  last_failed_at timestamptz NOT NULL DEFAULT now(),"
	"  locked_until timestamptz,"
	"  lockouts integer NOT NULL DEFAULT 0 CHECK (lockouts >= 0))",
	"CREATE UNIQUE INDEX login_failures_pair ON bulwark.login_failures "
	"(username, ip) WHERE ip IS NOT NULL",
	"CREATE UNIQUE INDEX login_failures_user ON bulwark.login_failures "
	"(username) WHERE ip IS NULL",
	"CREATE INDEX login_failures_age ON bulwark.login_failures "
	"(last_failed_at, id)",

	"CREATE TABLE bulwark.api_keys ("
	"  id text PRIMARY KEY CHECK (id ~ '^[a-z2-7]{8}$'),"
	"  name text NOT NULL CHECK (name ~ " USERNAME_RE "),"
	"  secret_hash bytea NOT NULL CHECK (length(secret_hash) = 32),"
	"  roles text[] NOT NULL " ROLES_CHECK("roles") ","
	"  created_at timestamptz NOT NULL DEFAULT now(),"
	"  revoked_at timestamptz)",
	"CREATE UNIQUE INDEX api_keys_active_name ON bulwark.api_keys (name) "
	"WHERE revoked_at IS NULL",

	/*
	 * One row of the lockout counters, taken locked by the upsert.
	 * Returns the row's locked_until while it is locked, else NULL.
	 */
	"CREATE FUNCTION bulwark.login_failure_row(p_username text, "
	"    p_ip inet, p_max bigint, p_window interval, "
	"    p_duration_ms bigint, OUT locked timestamptz, OUT row_id bigint) "
	"LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $f$\n"
	"DECLARE\n"
	"  f bulwark.login_failures;\n"
	"BEGIN\n"
	"  IF p_ip IS NULL THEN\n"
	"    INSERT INTO bulwark.login_failures AS t (username, ip)\n"
	"    VALUES (p_username, NULL)\n"
	"    ON CONFLICT (username) WHERE ip IS NULL\n"
	"    DO UPDATE SET failures = t.failures RETURNING * INTO f;\n"
	"  ELSE\n"
	"    INSERT INTO bulwark.login_failures AS t (username, ip)\n"
	"    VALUES (p_username, p_ip)\n"
	"    ON CONFLICT (username, ip) WHERE ip IS NOT NULL\n"
	"    DO UPDATE SET failures = t.failures RETURNING * INTO f;\n"
	"  END IF;\n"
	"  row_id := f.id;\n"
	"  IF f.locked_until > now() THEN\n"
	"    UPDATE bulwark.login_failures SET last_failed_at = now()\n"
	"    WHERE id = f.id;\n"
	"    locked := f.locked_until;\n"
	"    RETURN;\n"
	"  END IF;\n"
	"  IF f.failures = 0 OR f.window_start <= now() - p_window THEN\n"
	"    f.failures := 0;\n"
	"    f.window_start := now();\n"
	"  END IF;\n"
	"  f.failures := f.failures + 1;\n"
	"  IF f.failures >= p_max THEN\n"
	"    IF f.locked_until IS NULL OR\n"
	"        f.locked_until < now() - " LOCK_CAP " THEN\n"
	"      f.lockouts := 0;\n"
	"    END IF;\n"
	"    f.locked_until := now() + least(p_duration_ms::float8 *\n"
	"      power(2::float8, least(f.lockouts, 40)) *\n"
	"      interval '1 millisecond', " LOCK_CAP ");\n"
	"    f.lockouts := f.lockouts + 1;\n"
	"    f.failures := 0;\n"
	"    f.window_start := now();\n"
	"    locked := f.locked_until;\n"
	"  END IF;\n"
	"  UPDATE bulwark.login_failures SET failures = f.failures,\n"
	"    window_start = f.window_start, last_failed_at = now(),\n"
	"    locked_until = f.locked_until, lockouts = f.lockouts\n"
	"  WHERE id = f.id;\n"
	"END\n$f$",

	/*
	 * A failed login: both counters, then eviction of the oldest rows
	 * beyond p_max_tracked (never the two just counted; rows another
	 * transaction holds are skipped, not waited for).
	 */
	"CREATE FUNCTION bulwark.login_failure(p_username text, p_ip inet, "
	"    p_max integer, p_window_ms bigint, p_duration_ms bigint, "
	"    p_max_tracked integer) RETURNS bigint "
	"LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $f$\n"
	"DECLARE\n"
	"  win interval := p_window_ms * interval '1 millisecond';\n"
	"  a record;\n"
	"  b record;\n"
	"  latest timestamptz;\n"
	"  n bigint;\n"
	"BEGIN\n"
	"  SELECT * INTO a FROM bulwark.login_failure_row(p_username, p_ip,\n"
	"    p_max, win, p_duration_ms);\n"
	"  SELECT * INTO b FROM bulwark.login_failure_row(p_username, NULL,\n"
	"    p_max::bigint * " STR(AUTHDB_LOCKOUT_USER_FACTOR) ", win,\n"
	"    p_duration_ms);\n"
	"  SELECT count(*) INTO n FROM bulwark.login_failures;\n"
	"  IF n > p_max_tracked THEN\n"
	"    DELETE FROM bulwark.login_failures WHERE id IN (\n"
	"      SELECT id FROM bulwark.login_failures\n"
	"      WHERE id <> a.row_id AND id <> b.row_id\n"
	"      ORDER BY last_failed_at, id LIMIT n - p_max_tracked\n"
	"      FOR UPDATE SKIP LOCKED);\n"
	"  END IF;\n"
	"  latest := greatest(a.locked, b.locked);\n"
	"  IF latest IS NULL OR latest <= now() THEN\n"
	"    RETURN 0;\n"
	"  END IF;\n"
	"  RETURN ceil(extract(epoch FROM latest - now()))::bigint;\n"
	"END\n$f$",

	/* Revocation notifications: TG_ARGV = (payload type, id column). */
	"CREATE FUNCTION bulwark.notify_change() RETURNS trigger "
	"LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $f$\n"
	"DECLARE\n"
	"  r record;\n"
	"BEGIN\n"
	"  IF TG_OP = 'DELETE' THEN\n"
	"    r := OLD;\n"
	"  ELSE\n"
	"    r := NEW;\n"
	"  END IF;\n"
	"  PERFORM pg_notify('" AUTHDB_NOTIFY_CHANNEL "',\n"
	"    TG_ARGV[0] || ':' || (to_jsonb(r) ->> TG_ARGV[1]));\n"
	"  RETURN NULL;\n"
	"END\n$f$",
	"CREATE TRIGGER users_notify AFTER UPDATE ON bulwark.users "
	"FOR EACH ROW WHEN ("
	"  OLD.tokens_valid_after IS DISTINCT FROM NEW.tokens_valid_after OR"
	"  OLD.tokens_valid_after_sid IS DISTINCT FROM "
	"NEW.tokens_valid_after_sid OR"
	"  OLD.disabled IS DISTINCT FROM NEW.disabled OR"
	"  OLD.roles IS DISTINCT FROM NEW.roles OR"
	"  OLD.username IS DISTINCT FROM NEW.username) "
	"EXECUTE FUNCTION bulwark.notify_change('user', 'id')",
	"CREATE TRIGGER users_notify_insert_delete AFTER INSERT OR DELETE "
	"ON bulwark.users "
	"FOR EACH ROW EXECUTE FUNCTION bulwark.notify_change('user', 'id')",
	"CREATE TRIGGER refresh_families_notify AFTER UPDATE OF revoked_at "
	"ON bulwark.refresh_families FOR EACH ROW "
	"WHEN (OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL) "
	"EXECUTE FUNCTION bulwark.notify_change('sid', 'id')",
	"CREATE TRIGGER denied_jtis_notify AFTER INSERT ON bulwark.denied_jtis "
	"FOR EACH ROW EXECUTE FUNCTION bulwark.notify_change('jti', 'jti')",
	"CREATE TRIGGER api_keys_notify AFTER INSERT OR UPDATE OR DELETE "
	"ON bulwark.api_keys FOR EACH ROW "
	"EXECUTE FUNCTION bulwark.notify_change('key', 'id')",
	NULL,
};

/*
 * The audit log (SPEC 9, audit_db.c): bulwark.audit holds the records of
 * audited writes, committed with them; seq is set once the record is in
 * the file.  audit_head is the end of each instance's chain.
 */
static const char *const authdb_v2[] = {
	"CREATE TABLE bulwark.audit ("
	"  id bigserial PRIMARY KEY,"
	"  instance text NOT NULL CHECK (instance ~ '^[A-Za-z0-9._-]{1,64}$'),"
	"  created timestamptz NOT NULL DEFAULT clock_timestamp(),"
	"  event text NOT NULL CHECK (length(event) <= 64),"
	"  request_id text, actor_user text, actor_ip text, actor_api_key text,"
	"  route text, method text, path text, status integer,"
	"  detail jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(detail) = "
	"    'object'),"
	"  seq bigint CHECK (seq > 0))",
	"CREATE INDEX audit_unwritten ON bulwark.audit (instance, id) "
	"WHERE seq IS NULL",
	"CREATE TABLE bulwark.audit_head ("
	"  instance text PRIMARY KEY,"
	"  seq bigint NOT NULL CHECK (seq > 0),"
	"  mac text NOT NULL CHECK (mac ~ '^[0-9a-f]{64}$'),"
	"  updated_at timestamptz NOT NULL DEFAULT now())",
	NULL,
};

/* authdb_migrations[i] brings the schema from version i to i + 1. */
static const char *const *const authdb_migrations[AUTHDB_SCHEMA_VERSION] = {
	authdb_v1,
	authdb_v2,
};

/* Cut-off statements: the user's row, then every live family of it. */
#define CUTOFF(set, where, families)					\
	"WITH u AS (UPDATE bulwark.users SET " set ", "			\
	"tokens_valid_after = now(), updated_at = now() "		\
	"WHERE " where " RETURNING id), "				\
	"f AS (UPDATE bulwark.refresh_families SET revoked_at = now() "	\
	"WHERE user_id IN (SELECT id FROM u) AND revoked_at IS NULL"	\
	families " RETURNING id) "					\
	"SELECT id::text, (SELECT count(*) FROM f) FROM u"

const struct db_stmt_def authdb_stmts[AUTHDB_STMT_COUNT] = {
	[AUTHDB_USER_ADD] = {
	    "INSERT INTO bulwark.users (username, password_hash, roles) "
	    "VALUES ($1, $2, string_to_array($3, ',')) "
	    "ON CONFLICT (username) DO NOTHING RETURNING id::text", 3 },
	[AUTHDB_USER_SET_PASSWORD] = {
	    CUTOFF("password_hash = $2, tokens_valid_after_sid = NULL",
	    "username = $1", ""), 2 },
	[AUTHDB_USER_DISABLE] = {
	    CUTOFF("disabled = true, tokens_valid_after_sid = NULL",
	    "username = $1", ""), 1 },
	[AUTHDB_USER_ENABLE] = {
	    "UPDATE bulwark.users SET disabled = false, updated_at = now() "
	    "WHERE username = $1 RETURNING id::text", 1 },
	[AUTHDB_USER_REVOKE] = {
	    CUTOFF("tokens_valid_after_sid = NULL", "username = $1", ""), 1 },
	[AUTHDB_USER_LIST] = {
	    "SELECT username, array_to_string(roles, ','), disabled, "
	    ISO_UTC("created_at") " FROM bulwark.users ORDER BY username", 0 },
	[AUTHDB_APIKEY_ADD] = {
	    "INSERT INTO bulwark.api_keys (id, name, secret_hash, roles) "
	    "VALUES ($1, $2, decode($3, 'hex'), string_to_array($4, ',')) "
	    "RETURNING id", 4 },
	[AUTHDB_APIKEY_REVOKE] = {
	    "UPDATE bulwark.api_keys SET revoked_at = now() "
	    "WHERE name = $1 AND revoked_at IS NULL RETURNING id", 1 },
	[AUTHDB_APIKEY_LIST] = {
	    "SELECT id, name, array_to_string(roles, ','), "
	    "revoked_at IS NOT NULL, " ISO_UTC("created_at") " "
	    "FROM bulwark.api_keys ORDER BY name, created_at, id", 0 },
	[AUTHDB_LOGIN_LOOKUP] = {
	    "SELECT id::text, username, password_hash, "
	    "array_to_string(roles, ','), disabled, "
	    EPOCH_US("tokens_valid_after") " "
	    "FROM bulwark.users WHERE username = $1", 1 },
	[AUTHDB_USER_BY_ID] = {
	    "SELECT id::text, username, array_to_string(roles, ','), "
	    "disabled, " EPOCH_US("tokens_valid_after") ", "
	    "tokens_valid_after_sid::text "
	    "FROM bulwark.users WHERE id = $1::uuid", 1 },
	[AUTHDB_USER_CUTOFFS] = {
	    "SELECT id::text, disabled, " EPOCH_US("tokens_valid_after") ", "
	    "tokens_valid_after_sid::text FROM bulwark.users", 0 },
	[AUTHDB_USER_REHASH] = {
	    "UPDATE bulwark.users SET password_hash = $2, updated_at = now() "
	    "WHERE id = $1::uuid AND password_hash = $3 RETURNING id::text",
	    3 },
	[AUTHDB_USER_CHANGE_PASSWORD] = {
	    CUTOFF("password_hash = $2, tokens_valid_after_sid = $3::uuid",
	    "id = $1::uuid", " AND id IS DISTINCT FROM $3::uuid"), 3 },
	[AUTHDB_LOCKOUT_QUERY] = {
	    "SELECT ceil(extract(epoch FROM max(locked_until) - now()))"
	    "::bigint FROM bulwark.login_failures "
	    "WHERE username = $1 AND (ip = $2::inet OR ip IS NULL) "
	    "AND locked_until > now()", 2 },
	[AUTHDB_LOGIN_FAILURE] = {
	    "SELECT bulwark.login_failure($1, $2::inet, $3::integer, "
	    "$4::bigint, $5::bigint, $6::integer)", 6 },
	[AUTHDB_LOGIN_SUCCESS] = {
	    "UPDATE bulwark.login_failures SET failures = 0 "
	    "WHERE username = $1 AND ip = $2::inet", 2 },
	[AUTHDB_LOGIN_FAILURE_PURGE] = {
	    "DELETE FROM bulwark.login_failures "
	    "WHERE last_failed_at < now() - " MS("$1") " AND "
	    "(locked_until IS NULL OR "
	    "locked_until < now() - " LOCK_CAP ")", 1 },
	[AUTHDB_FAMILY_CREATE] = {
	    "WITH f AS (INSERT INTO bulwark.refresh_families "
	    "(user_id, expires_at) VALUES ($1::uuid, now() + " MS("$2") ") "
	    "RETURNING id, expires_at), "
	    "t AS (INSERT INTO bulwark.refresh_tokens (hash, family_id) "
	    "SELECT decode($3, 'hex'), id FROM f) "
	    "SELECT id::text, " EPOCH_US("expires_at") " FROM f", 3 },
	[AUTHDB_REFRESH_ROTATE] = {
	    "WITH c AS (SELECT f.id AS sid, u.id AS uid, u.username, u.roles, "
	    "f.expires_at FROM bulwark.refresh_tokens t "
	    "JOIN bulwark.refresh_families f ON f.id = t.family_id "
	    "JOIN bulwark.users u ON u.id = f.user_id "
	    "WHERE t.hash = decode($1, 'hex') AND t.used_at IS NULL "
	    "AND f.revoked_at IS NULL AND f.expires_at > now() "
	    "AND NOT u.disabled AND (f.created_at >= u.tokens_valid_after "
	    "OR f.id = u.tokens_valid_after_sid) FOR SHARE OF f, u), "
	    "r AS (UPDATE bulwark.refresh_tokens t "
	    "SET used_at = now(), used_ip = $2::inet FROM c "
	    "WHERE t.hash = decode($1, 'hex') AND t.used_at IS NULL "
	    "AND t.family_id = c.sid RETURNING c.*), "
	    "n AS (INSERT INTO bulwark.refresh_tokens (hash, family_id) "
	    "SELECT decode($3, 'hex'), sid FROM r) "
	    "SELECT sid::text, uid::text, username, "
	    "array_to_string(roles, ','), " EPOCH_US("expires_at") " FROM r",
	    3 },
	[AUTHDB_REFRESH_LOOKUP] = {
	    "SELECT f.id::text, f.user_id::text, t.used_at IS NOT NULL, "
	    "host(t.used_ip), "
	    "(extract(epoch FROM now() - t.used_at) * 1000)::bigint, "
	    "f.revoked_at IS NOT NULL, f.expires_at <= now() "
	    "FROM bulwark.refresh_tokens t JOIN bulwark.refresh_families f "
	    "ON f.id = t.family_id WHERE t.hash = decode($1, 'hex')", 1 },
	[AUTHDB_FAMILY_REVOKE] = {
	    "UPDATE bulwark.refresh_families SET revoked_at = now() "
	    "WHERE id = $1::uuid AND revoked_at IS NULL RETURNING id::text",
	    1 },
	[AUTHDB_LOGOUT] = {
	    "UPDATE bulwark.refresh_families f "
	    "SET revoked_at = coalesce(f.revoked_at, now()) "
	    "FROM bulwark.refresh_tokens t "
	    "WHERE t.hash = decode($1, 'hex') AND f.id = t.family_id "
	    "AND ($2::uuid IS NULL OR f.user_id = $2::uuid) "
	    "RETURNING f.id::text, f.user_id::text", 2 },
	[AUTHDB_FAMILY_PURGE] = {
	    "DELETE FROM bulwark.refresh_families WHERE expires_at < now()",
	    0 },
	[AUTHDB_DENY_JTI] = {
	    "INSERT INTO bulwark.denied_jtis (jti, expires_at) "
	    "VALUES ($1, to_timestamp($2::double precision)) "
	    "ON CONFLICT (jti) DO NOTHING", 2 },
	[AUTHDB_DENIED_LIST] = {
	    "SELECT jti, floor(extract(epoch FROM expires_at))::bigint "
	    "FROM bulwark.denied_jtis WHERE expires_at > now()", 0 },
	[AUTHDB_DENIED_PURGE] = {
	    "DELETE FROM bulwark.denied_jtis WHERE expires_at <= now()", 0 },
	[AUTHDB_APIKEY_BY_ID] = {
	    "SELECT id, encode(secret_hash, 'hex'), "
	    "array_to_string(roles, ','), revoked_at IS NOT NULL "
	    "FROM bulwark.api_keys WHERE id = $1", 1 },
	[AUTHDB_APIKEY_ACTIVE] = {
	    "SELECT id, encode(secret_hash, 'hex'), "
	    "array_to_string(roles, ',') "
	    "FROM bulwark.api_keys WHERE revoked_at IS NULL", 0 },
	[AUTHDB_SCHEMA_VERSION_GET] = {
	    "SELECT version FROM bulwark.schema_version", 0 },
};

static void
authdb_fail(PGconn *pg, const PGresult *res, const char *what,
    struct authdb_err *e)
{
	const char	*msg = NULL, *f;
	size_t		 n;

	e->sqlstate[0] = '\0';
	e->constraint[0] = '\0';
	if (res != NULL) {
		msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
		if ((f = PQresultErrorField(res, PG_DIAG_SQLSTATE)) != NULL)
			bw_strlcpy(e->sqlstate, f, sizeof(e->sqlstate));
		if ((f = PQresultErrorField(res,
		    PG_DIAG_CONSTRAINT_NAME)) != NULL)
			bw_strlcpy(e->constraint, f, sizeof(e->constraint));
	}
	if (msg == NULL)
		msg = PQerrorMessage(pg);
	(void)snprintf(e->msg, sizeof(e->msg), "%s: %s", what, msg);
	n = strlen(e->msg);
	while (n > 0 && (e->msg[n - 1] == '\n' || e->msg[n - 1] == ' '))
		e->msg[--n] = '\0';
}

static bool
authdb_ok(const PGresult *res)
{
	return res != NULL && (PQresultStatus(res) == PGRES_COMMAND_OK ||
	    PQresultStatus(res) == PGRES_TUPLES_OK);
}

/*
 * Runs one statement of bulwark's own text; its parameters, when any, are
 * values bulwark computed (never input).  0, or -1 with e filled in.
 */
static int
authdb_simple(PGconn *pg, const char *sql, int n, const char *const *vals,
    const char *what, struct authdb_err *e)
{
	PGresult	*res;
	int		 rv = 0;

	res = PQexecParams(pg, sql, n, NULL, vals, NULL, NULL, 0);
	if (!authdb_ok(res)) {
		authdb_fail(pg, res, what, e);
		rv = -1;
	}
	PQclear(res);
	return rv;
}

static int
authdb_run_list(PGconn *pg, const char *const *list, const char *what,
    struct authdb_err *e)
{
	for (; *list != NULL; list++)
		if (authdb_simple(pg, *list, 0, NULL, what, e) == -1)
			return -1;
	return 0;
}

/* A version number read back; anything else counts as none (0). */
static int
authdb_int(const char *s)
{
	uint64_t	 v;

	if (bw_parse_uint(s, INT32_MAX, &v) == -1)
		return 0;
	return (int)v;
}

/* The recorded version, 0 when the table is empty; -1 on error. */
static int
authdb_read_version(PGconn *pg, struct authdb_err *e)
{
	PGresult	*res;
	int		 v = -1;

	res = PQexec(pg, authdb_stmts[AUTHDB_SCHEMA_VERSION_GET].sql);
	if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK)
		authdb_fail(pg, res, "reading the schema version", e);
	else if (PQntuples(res) == 0)
		v = 0;
	else
		v = authdb_int(PQgetvalue(res, 0, 0));
	PQclear(res);
	return v;
}

/* Inside the transaction: lock, read, migrate, record. */
static int
authdb_upgrade(PGconn *pg, int *from, struct authdb_err *e)
{
	char		 key[24], ver[16], what[48];
	const char	*kv[1] = { key }, *vv[1] = { ver };
	int		 v;

	(void)snprintf(key, sizeof(key), "%lld", (long long)AUTHDB_LOCK_KEY);
	(void)snprintf(ver, sizeof(ver), "%d", AUTHDB_SCHEMA_VERSION);
	if (authdb_simple(pg, "SET LOCAL client_min_messages = warning", 0,
	    NULL, "setting up", e) == -1 ||
	    authdb_simple(pg, "SET LOCAL lock_timeout = '60s'", 0, NULL,
	    "setting up", e) == -1 ||
	    authdb_simple(pg, "SELECT pg_advisory_xact_lock($1::bigint)", 1,
	    kv, "taking the schema lock", e) == -1 ||
	    authdb_run_list(pg, authdb_bootstrap, "creating schema bulwark",
	    e) == -1 ||
	    (v = authdb_read_version(pg, e)) == -1)
		return -1;
	*from = v;
	if (v > AUTHDB_SCHEMA_VERSION) {
		(void)snprintf(e->msg, sizeof(e->msg), "schema bulwark is at "
		    "version %d, newer than this bulwarkd knows (%d): left "
		    "unchanged", v, AUTHDB_SCHEMA_VERSION);
		return -1;
	}
	for (; v < AUTHDB_SCHEMA_VERSION; v++) {
		(void)snprintf(what, sizeof(what), "upgrading to version %d", v + 1);
		if (authdb_run_list(pg, authdb_migrations[v], what, e) == -1)
			return -1;
	}
	return authdb_simple(pg, "INSERT INTO bulwark.schema_version "
	    "(id, version) VALUES (true, $1::integer) ON CONFLICT (id) "
	    "DO UPDATE SET version = EXCLUDED.version, upgraded_at = now()",
	    1, vv, "recording the schema version", e);
}

int
authdb_init(PGconn *pg, int *from, struct authdb_err *e)
{
	struct authdb_err	 ignored;

	*from = 0;
	memset(e, 0, sizeof(*e));
	if (authdb_simple(pg, "BEGIN", 0, NULL, "starting a transaction",
	    e) == -1)
		return -1;
	if (authdb_upgrade(pg, from, e) == -1) {
		(void)authdb_simple(pg, "ROLLBACK", 0, NULL, "rolling back",
		    &ignored);
		return -1;
	}
	return authdb_simple(pg, "COMMIT", 0, NULL, "committing", e);
}

enum authdb_version
authdb_version_check(PGconn *pg, int *found, struct authdb_err *e)
{
	PGresult	*res;
	int		 v;

	*found = 0;
	memset(e, 0, sizeof(*e));
	res = PQexec(pg, authdb_stmts[AUTHDB_SCHEMA_VERSION_GET].sql);
	if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK) {
		authdb_fail(pg, res, "reading the schema version", e);
		PQclear(res);
		/* 42P01 undefined_table, 3F000 invalid_schema_name */
		if (strcmp(e->sqlstate, "42P01") == 0 ||
		    strcmp(e->sqlstate, "3F000") == 0)
			return AUTHDB_VERSION_MISSING;
		return AUTHDB_VERSION_ERROR;
	}
	v = PQntuples(res) == 1 ? authdb_int(PQgetvalue(res, 0, 0)) : 0;
	PQclear(res);
	*found = v;
	if (v == 0)
		return AUTHDB_VERSION_MISSING;
	if (v < AUTHDB_SCHEMA_VERSION)
		return AUTHDB_VERSION_OLD;
	if (v > AUTHDB_SCHEMA_VERSION)
		return AUTHDB_VERSION_NEWER;
	return AUTHDB_VERSION_OK;
}

PGresult *
authdb_exec(PGconn *pg, enum authdb_stmt st, const char *const *values,
    int n, struct authdb_err *e)
{
	PGresult	*res;

	memset(e, 0, sizeof(*e));
	if ((unsigned)st >= AUTHDB_STMT_COUNT ||
	    authdb_stmts[st].nparams != n) {
		(void)snprintf(e->msg, sizeof(e->msg), "statement %d: wrong "
		    "parameter count %d", (int)st, n);
		return NULL;
	}
	res = PQexecParams(pg, authdb_stmts[st].sql, n, NULL, values, NULL,
	    NULL, 0);
	if (authdb_ok(res))
		return res;
	authdb_fail(pg, res, "database", e);
	PQclear(res);
	return NULL;
}

int
authdb_sha256_hex(const void *p, size_t len, char *out)
{
	unsigned char	 md[EVP_MAX_MD_SIZE];
	unsigned int	 mdlen = 0;

	if (EVP_Digest(p, len, md, &mdlen, EVP_sha256(), NULL) != 1 ||
	    mdlen != AUTHDB_HASH_LEN)
		return -1;
	bw_hex_encode(md, mdlen, out);
	return 0;
}

static const char authdb_b32[] = "abcdefghijklmnopqrstuvwxyz234567";

bool
authdb_key_id_valid(const char *s, size_t len)
{
	size_t	 i;

	if (len != AUTHDB_KEY_ID_LEN)
		return false;
	for (i = 0; i < len; i++)
		if (s[i] == '\0' || strchr(authdb_b32, s[i]) == NULL)
			return false;
	return true;
}

int
authdb_key_new(char *key, char *id, char *hash_hex)
{
	unsigned char	 idb[5], secret[AUTHDB_KEY_SECRET_LEN];
	uint64_t	 bits = 0;
	size_t		 i, off;
	int		 rv = -1;

	if (bw_random(idb, sizeof(idb)) == -1 ||
	    bw_random(secret, sizeof(secret)) == -1)
		goto out;
	for (i = 0; i < sizeof(idb); i++)
		bits = bits << 8 | idb[i];
	for (i = 0; i < AUTHDB_KEY_ID_LEN; i++)
		id[i] = authdb_b32[(bits >> (35 - 5 * i)) & 31];
	id[AUTHDB_KEY_ID_LEN] = '\0';
	off = bw_strlcpy(key, AUTHDB_KEY_PREFIX, AUTHDB_KEY_LEN + 1);
	memcpy(key + off, id, AUTHDB_KEY_ID_LEN);
	off += AUTHDB_KEY_ID_LEN;
	key[off++] = '_';
	off += bw_b64url_encode(secret, sizeof(secret), key + off);
	key[off] = '\0';
	if (off != AUTHDB_KEY_LEN ||
	    authdb_sha256_hex(secret, sizeof(secret), hash_hex) == -1) {
		bw_wipe(key, AUTHDB_KEY_LEN + 1);
		goto out;
	}
	rv = 0;
out:
	bw_wipe(secret, sizeof(secret));
	bw_wipe(idb, sizeof(idb));
	return rv;
}

int
authdb_key_parse(const char *key, size_t len, char *id, unsigned char *hash)
{
	unsigned char	 secret[AUTHDB_KEY_SECRET_LEN];
	const char	*p = key + 4;
	size_t		 outlen = 0;
	unsigned int	 mdlen = 0;
	int		 rv = -1;

	if (len != AUTHDB_KEY_LEN || memcmp(key, AUTHDB_KEY_PREFIX, 4) != 0 ||
	    !authdb_key_id_valid(p, AUTHDB_KEY_ID_LEN) ||
	    p[AUTHDB_KEY_ID_LEN] != '_')
		return -1;
	p += AUTHDB_KEY_ID_LEN + 1;
	if (bw_b64url_decode(p, AUTHDB_KEY_SECRET_B64, secret, sizeof(secret),
	    &outlen) == -1 || outlen != sizeof(secret))
		goto out;
	if (EVP_Digest(secret, sizeof(secret), hash, &mdlen, EVP_sha256(),
	    NULL) != 1 || mdlen != AUTHDB_HASH_LEN)
		goto out;
	memcpy(id, key + 4, AUTHDB_KEY_ID_LEN);
	id[AUTHDB_KEY_ID_LEN] = '\0';
	rv = 0;
out:
	bw_wipe(secret, sizeof(secret));
	return rv;
}
