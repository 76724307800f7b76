/*
 * audit_db.h - the audit tables of the bulwark schema (SPEC 9), over a
 * blocking connection: bulwark.audit_head, the end of each instance's
 * chain, which lets --verify-audit see records cut from the end of the
 * file and lets a new file after rotation continue the chain.
 */
#ifndef BW_AUDIT_DB_H
#define BW_AUDIT_DB_H

#include <libpq-fe.h>

#include "audit.h"

/*
 * The head of instance's chain: 1 found (*chain set), 0 none, -1 error
 * (*err: a static message).
 */
int	 audit_db_head_get(PGconn *, const char *instance,
	    struct audit_chain *, const char **err);
/* Records *chain as the head unless a later one is recorded; 0 or -1. */
int	 audit_db_head_set(PGconn *, const char *instance,
	    const struct audit_chain *, const char **err);

/*
 * The row of an audited write, inserted by the route's pipeline segment
 * in the transaction of its statement (SPEC 9): parameters $1 instance,
 * $2 event, $3 request_id, $4 actor_user, $5 actor_ip, $6 actor_api_key,
 * $7 route, $8 method, $9 path, $10 detail (JSON object text); returns
 * id, which goes with the record to the writer (its row).
 */
#define AUDIT_DB_INSERT_SQL						\
	"INSERT INTO bulwark.audit (instance, event, request_id, "	\
	"actor_user, actor_ip, actor_api_key, route, method, path, "	\
	"detail) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, "		\
	"$10::jsonb) RETURNING id"
#define AUDIT_DB_INSERT_NPARAMS	10

/* The same over a blocking connection; 0 with *id, or -1 with *err. */
int	 audit_db_insert(PGconn *, const char *instance,
	    const struct audit_event *, int64_t *id, const char **err);

/*
 * Rows of audited writes of instance not yet in the file, in id order, at
 * most limit: columns id, time (microseconds since the epoch), event,
 * request_id, actor_user, actor_ip, actor_api_key, route, method, path,
 * status, detail (JSON text).  NULL with *err on failure.
 */
PGresult *audit_db_unwritten(PGconn *, const char *instance, int limit,
	    const char **err);
/*
 * The rows ids[i] are in the file as seqs[i], i < n, in one statement (one
 * commit); 0 or -1.
 */
int	 audit_db_rows_written(PGconn *, const int64_t *ids,
	    const uint64_t *seqs, size_t n, const char **err);

#endif
