/*
 * authdb.h - bulwark's own schema `bulwark` (SPEC 3 --init-db, SPEC 8):
 * its DDL and migrations, the statements bulwark runs against it, the
 * revocation notifications and the API key format.
 *
 * Every statement is parameterized ($1...), text in and text out, so the
 * daemon's pool (db.h, text parameters) and the blocking administration
 * modes run the very same SQL; nothing is ever built from input.  Hashes
 * travel as lowercase hex (64 digits) and are decoded in SQL; times come
 * back as microseconds since the epoch (bigint) unless said otherwise;
 * role lists travel as "r1,r2" (role names hold no comma).
 *
 * Threat model: the schema never holds a secret in clear.  Passwords are
 * argon2id PHC strings, refresh tokens and API key secrets are SHA-256
 * digests of 32 random bytes, so a dump of the schema lets nobody log in.
 */
#ifndef BW_AUTHDB_H
#define BW_AUTHDB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "db.h"

/* The version --init-db creates; recorded in bulwark.schema_version. */
#define AUTHDB_SCHEMA_VERSION	2

/*
 * The advisory lock (pg_advisory_xact_lock) that serializes --init-db
 * runs, so that two of them at once never race on CREATE ... IF NOT
 * EXISTS.  "bulwark\0" in ASCII.
 */
#define AUTHDB_LOCK_KEY		INT64_C(0x62756c7761726b00)

/*
 * Revocation notifications.  Triggers on the tables send, on commit, one
 * NOTIFY on this channel per changed row with a typed payload:
 *
 *   user:<uuid>  the user's tokens_valid_after, disabled flag, roles or
 *                password changed, or the user was deleted;
 *   sid:<uuid>   a refresh family was revoked;
 *   jti:<jti>    an access token was deny-listed;
 *   key:<id>     an API key was added, revoked or deleted.
 *
 * A payload is only a hint of what to reload: a listener reads the current
 * state from the tables (AUTHDB_USER_BY_ID, AUTHDB_DENIED_LIST,
 * AUTHDB_APIKEY_BY_ID) and never trusts data carried in the payload.
 */
#define AUTHDB_NOTIFY_CHANNEL	"bulwark_revocations"
#define AUTHDB_NOTIFY_USER	"user:"
#define AUTHDB_NOTIFY_SID	"sid:"
#define AUTHDB_NOTIFY_JTI	"jti:"
#define AUTHDB_NOTIFY_KEY	"key:"
/* Longest payload: "jti:" and a jti of AUTHDB_JTI_MAX bytes. */
#define AUTHDB_NOTIFY_MAX	(4 + AUTHDB_JTI_MAX)

#define AUTHDB_JTI_MAX		128	/* bytes of a deny-listed jti */
#define AUTHDB_UUID_LEN		36	/* text form of a user or family id */
#define AUTHDB_HASH_LEN		32	/* SHA-256 */
#define AUTHDB_HASH_HEX_LEN	64

/*
 * API keys (SPEC 8): "bwk_" + an 8-character id + "_" + the base64url
 * (unpadded) text of 32 random bytes.  The id is 40 random bits in
 * lowercase RFC 4648 base32 (a-z and 2-7); it is not secret and names the
 * key in --list-api-keys and in NOTIFY payloads.  The database keeps only
 * SHA-256 of the 32 secret bytes (not of their text); since base64url
 * decoding is canonical, exactly one text maps to those bytes.
 */
#define AUTHDB_KEY_PREFIX	"bwk_"
#define AUTHDB_KEY_ID_LEN	8
#define AUTHDB_KEY_SECRET_LEN	32
#define AUTHDB_KEY_SECRET_B64	43
#define AUTHDB_KEY_LEN		(4 + AUTHDB_KEY_ID_LEN + 1 + \
				    AUTHDB_KEY_SECRET_B64)

/*
 * Lockout bounds of SPEC 8: the per-username threshold is this many times
 * max_failures; a lockout lasts duration * 2^(n-1) for its n-th
 * consecutive occurrence, never more than AUTHDB_LOCKOUT_CAP_S.  The count
 * starts over when the previous lockout ended more than the cap ago.
 */
#define AUTHDB_LOCKOUT_USER_FACTOR	4
#define AUTHDB_LOCKOUT_CAP_S		86400

/*
 * The statements.  Parameters and result columns, in order:
 *
 * Administration (manage.c)
 *   USER_ADD          $1 username, $2 PHC, $3 roles -> id
 *                     (no row: the username exists)
 *   USER_SET_PASSWORD $1 username, $2 PHC -> id, families revoked; sets
 *                     tokens_valid_after = now() (no family exempt) and
 *                     revokes every live refresh family of the user
 *   USER_DISABLE      $1 username -> id, families revoked; the same
 *                     cut-off and revocation
 *   USER_ENABLE       $1 username -> id (the cut-off stays)
 *   USER_REVOKE       $1 username -> id, families revoked; the same
 *                     cut-off and revocation (--revoke-sessions)
 *   USER_LIST         -> username, roles, disabled (t/f), created (ISO
 *                     8601 UTC), by username
 *   APIKEY_ADD        $1 id, $2 name, $3 secret hash hex, $4 roles -> id
 *   APIKEY_REVOKE     $1 name -> id (no row: no active key by that name)
 *   APIKEY_LIST       -> id, name, roles, revoked (t/f), created
 *                     (ISO 8601 UTC), by name then creation
 *
 * The daemon (login, refresh, logout, verification, reloads)
 *   LOGIN_LOOKUP      $1 username -> id, username, PHC, roles, disabled,
 *                     tokens_valid_after
 *   USER_BY_ID        $1 id -> id, username, roles, disabled,
 *                     tokens_valid_after, exempt sid (or NULL)
 *   USER_CUTOFFS      -> id, disabled, tokens_valid_after, exempt sid:
 *                     every user (reload after a reconnect)
 *   USER_REHASH       $1 id, $2 new PHC, $3 old PHC -> id (no row: the
 *                     hash changed meanwhile; nothing else changes)
 *   USER_CHANGE_PASSWORD $1 id, $2 new PHC, $3 caller's sid -> id,
 *                     families revoked; sets tokens_valid_after with the
 *                     family $3 exempt (returned as "exempt sid" by
 *                     USER_BY_ID and USER_CUTOFFS) and revokes every other
 *                     family (/auth/password)
 *   LOCKOUT_QUERY     $1 username, $2 ip -> seconds until the later of
 *                     the (username, ip) and username lockouts ends, or
 *                     NULL when neither is active (always one row)
 *   LOGIN_FAILURE     $1 username, $2 ip, $3 max_failures, $4 window ms,
 *                     $5 duration ms, $6 max_tracked -> seconds locked
 *                     from now (0: not locked).  Counts the failure per
 *                     (username, ip) and per username, locks at the
 *                     thresholds, evicts the oldest rows beyond
 *                     max_tracked.  Atomic under concurrency.
 *   LOGIN_SUCCESS     $1 username, $2 ip: clears the (username, ip)
 *                     failure count (never the per-username one, which
 *                     exists against guessing spread over addresses, and
 *                     never the lockout count)
 *   LOGIN_FAILURE_PURGE $1 window ms: drops rows whose window and
 *                     lockout are over and whose lockout count has lapsed
 *   FAMILY_CREATE     $1 user id, $2 refresh_ttl ms, $3 token hash hex
 *                     -> sid, expires_at: a family and its first token
 *   REFRESH_ROTATE    $1 old hash hex, $2 ip, $3 new hash hex -> sid,
 *                     user id, username, roles, expires_at.  One atomic
 *                     UPDATE ... WHERE hash = $1 AND used_at IS NULL
 *                     RETURNING, valid only for a live family (not
 *                     revoked, not expired, user enabled, not cut off)
 *                     and inserting the new token: of two concurrent
 *                     rotations of one token exactly one gets a row.  The
 *                     family and user rows are locked FOR SHARE, so a
 *                     revocation, disable or cut-off being committed is
 *                     waited for and then seen.
 *   REFRESH_LOOKUP    $1 hash hex -> sid, user id, used (t/f), used_ip,
 *                     ms since used (or NULL), family revoked (t/f),
 *                     family expired (t/f): why a rotation failed
 *   FAMILY_REVOKE     $1 sid -> sid (no row: unknown or already revoked)
 *   LOGOUT            $1 hash hex, $2 user id or NULL -> sid, user id:
 *                     revokes the token's family, only when $2 is NULL
 *                     or owns it
 *   FAMILY_PURGE      drops families past their absolute expiry
 *   DENY_JTI          $1 jti, $2 exp (seconds since the epoch)
 *   DENIED_LIST       -> jti, exp (seconds): every live entry
 *   DENIED_PURGE      drops expired entries
 *   APIKEY_BY_ID      $1 id -> id, secret hash hex, roles, revoked (t/f)
 *   APIKEY_ACTIVE     -> id, secret hash hex, roles: every active key
 *   SCHEMA_VERSION    -> version
 */
/*
 * Cut-offs.  tokens_valid_after is the transaction time of the change, in
 * microseconds; an access token of the user is refused when its iat (whole
 * seconds) times 10^6 is below it, unless its sid is the user's exempt sid.
 * A token issued in the same second just after a cut-off is refused as
 * well; an issuer that wants it accepted rounds iat up to the next second
 * (well within leeway).  A refresh family created before the cut-off
 * (other than the exempt one) never rotates again.
 */
enum authdb_stmt {
	AUTHDB_USER_ADD,
	AUTHDB_USER_SET_PASSWORD,
	AUTHDB_USER_DISABLE,
	AUTHDB_USER_ENABLE,
	AUTHDB_USER_REVOKE,
	AUTHDB_USER_LIST,
	AUTHDB_APIKEY_ADD,
	AUTHDB_APIKEY_REVOKE,
	AUTHDB_APIKEY_LIST,
	AUTHDB_LOGIN_LOOKUP,
	AUTHDB_USER_BY_ID,
	AUTHDB_USER_CUTOFFS,
	AUTHDB_USER_REHASH,
	AUTHDB_USER_CHANGE_PASSWORD,
	AUTHDB_LOCKOUT_QUERY,
	AUTHDB_LOGIN_FAILURE,
	AUTHDB_LOGIN_SUCCESS,
	AUTHDB_LOGIN_FAILURE_PURGE,
	AUTHDB_FAMILY_CREATE,
	AUTHDB_REFRESH_ROTATE,
	AUTHDB_REFRESH_LOOKUP,
	AUTHDB_FAMILY_REVOKE,
	AUTHDB_LOGOUT,
	AUTHDB_FAMILY_PURGE,
	AUTHDB_DENY_JTI,
	AUTHDB_DENIED_LIST,
	AUTHDB_DENIED_PURGE,
	AUTHDB_APIKEY_BY_ID,
	AUTHDB_APIKEY_ACTIVE,
	AUTHDB_SCHEMA_VERSION_GET,
	AUTHDB_STMT_COUNT,
};

extern const struct db_stmt_def authdb_stmts[AUTHDB_STMT_COUNT];

/*
 * What went wrong in a blocking call: a message (with the server's primary
 * text when there is one), and for a failed statement its SQLSTATE and
 * constraint name ("" when none).
 */
#define AUTHDB_ERR_MAX		256
struct authdb_err {
	char	 msg[AUTHDB_ERR_MAX];
	char	 sqlstate[6];
	char	 constraint[64];
};

/*
 * Blocking helpers (administration modes, the master, tests).
 *
 * authdb_init() creates or upgrades the schema: one transaction holding
 * the advisory lock AUTHDB_LOCK_KEY, every migration newer than the
 * recorded version, then the new version.  A schema newer than
 * AUTHDB_SCHEMA_VERSION is left alone and refused.  *from is the version
 * found (0: none).
 */
int	 authdb_init(PGconn *, int *from, struct authdb_err *);

enum authdb_version {
	AUTHDB_VERSION_OK,
	AUTHDB_VERSION_MISSING,		/* no schema: run --init-db */
	AUTHDB_VERSION_OLD,		/* older: run --init-db */
	AUTHDB_VERSION_NEWER,		/* made by a newer bulwarkd */
	AUTHDB_VERSION_ERROR,		/* the query failed */
};

/* The version recorded in the database (*found: 0 when none). */
enum authdb_version authdb_version_check(PGconn *, int *found,
	    struct authdb_err *);

/*
 * Runs statement st with n text parameters (NULL entries are SQL NULL; n
 * must be the statement's count) and returns its result, or NULL with err
 * filled in.
 */
PGresult *authdb_exec(PGconn *, enum authdb_stmt, const char *const *values,
	    int n, struct authdb_err *);

/* Lowercase hex of SHA-256 over len bytes; out holds 65 bytes. */
int	 authdb_sha256_hex(const void *, size_t, char *out);

/*
 * A new API key: key (AUTHDB_KEY_LEN + 1 bytes) is the text shown once,
 * id (AUTHDB_KEY_ID_LEN + 1) its id and hash_hex (AUTHDB_HASH_HEX_LEN + 1)
 * the digest stored.  The caller wipes key.  -1 when no randomness.
 */
int	 authdb_key_new(char *key, char *id, char *hash_hex);
/*
 * Splits a presented key: exactly the format above, canonical base64url.
 * Writes its id (AUTHDB_KEY_ID_LEN + 1) and SHA-256 of its secret bytes
 * (AUTHDB_HASH_LEN), wiping the decoded secret.  -1 on any deviation.
 */
int	 authdb_key_parse(const char *key, size_t len, char *id,
	    unsigned char *hash);
/* True when s (len bytes) is a well-formed key id. */
bool	 authdb_key_id_valid(const char *s, size_t len);

#endif
