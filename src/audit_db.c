/*
 * audit_db.c - bulwark.audit_head over a blocking connection.
 *
 * Invariant: the recorded head only moves forward (a writer that lags, or
 * an administration mode racing it, never moves it back).  Values are
 * parameters of fixed statements.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit_db.h"
#include "util.h"

#define AUDIT_DB_HEAD_GET						\
	"SELECT seq, mac FROM bulwark.audit_head WHERE instance = $1"
#define AUDIT_DB_HEAD_SET						\
	"INSERT INTO bulwark.audit_head AS h (instance, seq, mac) "	\
	"VALUES ($1, $2, $3) ON CONFLICT (instance) DO UPDATE SET "	\
	"seq = EXCLUDED.seq, mac = EXCLUDED.mac, updated_at = now() "	\
	"WHERE h.seq < EXCLUDED.seq"

#define AUDIT_DB_UNWRITTEN						\
	"SELECT id, (extract(epoch FROM created) * 1000000)::bigint, "	\
	"event, request_id, actor_user, actor_ip, actor_api_key, "	\
	"route, method, path, status, detail::text "			\
	"FROM bulwark.audit "						\
	"WHERE instance = $1 AND seq IS NULL ORDER BY id LIMIT $2"
#define AUDIT_DB_ROWS_WRITTEN						\
	"UPDATE bulwark.audit AS a SET seq = v.seq FROM "		\
	"unnest(CAST($1 AS bigint[]), CAST($2 AS bigint[])) "		\
	"AS v(id, seq) WHERE a.id = v.id AND a.seq IS NULL"

int
audit_db_head_get(PGconn *pg, const char *instance, struct audit_chain *chain,
    const char **err)
{
	const char	*v[1] = { instance };
	PGresult	*res;
	uint64_t	 seq;
	int		 rv = -1;

	res = PQexecParams(pg, AUDIT_DB_HEAD_GET, 1, NULL, v, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		*err = "cannot read bulwark.audit_head";
	else if (PQntuples(res) == 0)
		rv = 0;
	else if (bw_parse_uint(PQgetvalue(res, 0, 0), INT64_MAX, &seq) ==
	    -1 || seq == 0 || PQgetlength(res, 0, 1) != AUDIT_HEX_LEN ||
	    audit_hex_decode(PQgetvalue(res, 0, 1), chain->mac) == -1)
		*err = "bulwark.audit_head holds a malformed row";
	else {
		chain->seq = seq;
		rv = 1;
	}
	PQclear(res);
	return rv;
}

int
audit_db_head_set(PGconn *pg, const char *instance,
    const struct audit_chain *chain, const char **err)
{
	const char	*v[3];
	char		 seq[24], hex[AUDIT_HEX_LEN + 1];
	PGresult	*res;
	int		 rv = 0;

	(void)snprintf(seq, sizeof(seq), "%" PRIu64, chain->seq);
	bw_hex_encode(chain->mac, AUDIT_MAC_LEN, hex);
	v[0] = instance;
	v[1] = seq;
	v[2] = hex;
	res = PQexecParams(pg, AUDIT_DB_HEAD_SET, 3, NULL, v, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		*err = "cannot update bulwark.audit_head";
		rv = -1;
	}
	PQclear(res);
	return rv;
}

PGresult *
audit_db_unwritten(PGconn *pg, const char *instance, int limit,
    const char **err)
{
	const char	*v[2];
	char		 lim[16];
	PGresult	*res;

	(void)snprintf(lim, sizeof(lim), "%d", limit);
	v[0] = instance;
	v[1] = lim;
	res = PQexecParams(pg, AUDIT_DB_UNWRITTEN, 2, NULL, v, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		*err = "cannot read the unwritten rows of bulwark.audit";
		PQclear(res);
		return NULL;
	}
	return res;
}

int
audit_db_insert(PGconn *pg, const char *instance,
    const struct audit_event *ev, int64_t *id, const char **err)
{
	const char	*v[AUDIT_DB_INSERT_NPARAMS];
	char		*detail;
	PGresult	*res;
	uint64_t	 u;
	int		 rv = -1;

	detail = ev->detail != NULL ? json_dumps(ev->detail, JSON_COMPACT) :
	    NULL;
	v[0] = instance;
	v[1] = ev->event;
	v[2] = ev->request_id;
	v[3] = ev->user;
	v[4] = ev->ip;
	v[5] = ev->api_key;
	v[6] = ev->route;
	v[7] = ev->method;
	v[8] = ev->path;
	v[9] = detail != NULL ? detail : "{}";
	res = PQexecParams(pg, AUDIT_DB_INSERT_SQL, AUDIT_DB_INSERT_NPARAMS,
	    NULL, v, NULL, NULL, 0);
	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 &&
	    bw_parse_uint(PQgetvalue(res, 0, 0), INT64_MAX, &u) == 0) {
		*id = (int64_t)u;
		rv = 0;
	} else
		*err = "cannot insert into bulwark.audit";
	PQclear(res);
	free(detail);
	return rv;
}

/* "{v0,v1,...}" of n signed or unsigned 64-bit values. */
static char *
audit_db_array(const int64_t *sv, const uint64_t *uv, size_t n)
{
	char	*buf = bw_malloc(n * 21 + 3);
	size_t	 off = 0, i;

	buf[off++] = '{';
	for (i = 0; i < n; i++) {
		if (sv != NULL)
			off += (size_t)snprintf(buf + off, 22, "%s%" PRId64,
			    i > 0 ? "," : "", sv[i]);
		else if (uv != NULL)
			off += (size_t)snprintf(buf + off, 22, "%s%" PRIu64,
			    i > 0 ? "," : "", uv[i]);
	}
	buf[off++] = '}';
	buf[off] = '\0';
	return buf;
}

int
audit_db_rows_written(PGconn *pg, const int64_t *ids, const uint64_t *seqs,
    size_t n, const char **err)
{
	const char	*v[2];
	char		*a, *b;
	PGresult	*res;
	int		 rv = 0;

	if (n == 0)
		return 0;
	a = audit_db_array(ids, NULL, n);
	b = audit_db_array(NULL, seqs, n);
	v[0] = a;
	v[1] = b;
	res = PQexecParams(pg, AUDIT_DB_ROWS_WRITTEN, 2, NULL, v, NULL, NULL,
	    0);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		*err = "cannot store the seq of bulwark.audit rows";
		rv = -1;
	}
	PQclear(res);
	free(a);
	free(b);
	return rv;
}
