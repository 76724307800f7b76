/*
 * audit_orphan.c - the record of an audited write whose request is gone
 * (audit_orphan.h).
 *
 * An orphan owns copies of everything its record needs, because the
 * request, its connection and its head are freed when it is adopted.  It
 * lives until the segment's on_done, which runs exactly once (db.h), also
 * when the pool is freed, and ends there, or, when it sent a record, at
 * the writer's answer (which audit_client also gives, as a failure, when
 * it is freed).  It answers no client.  audit_orphan_pending counts the
 * orphans alive, so that a draining worker can wait for their records.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "audit_client.h"
#include "audit_orphan.h"
#include "db.h"
#include "log.h"
#include "util.h"

struct audit_orphan {
	struct audit_client	*audit;
	struct audit_event	 ev;		/* its strings are the ones below */
	char			*request_id, *user, *ip, *api_key, *path;
	json_t			*detail;
	int64_t			 row;		/* set by the pool */
};

static size_t	  audit_orphan_alive;
static void	(*audit_orphan_done)(void *);
static void	 *audit_orphan_done_arg;

static char *
audit_orphan_strdup(const char *s)
{
	return s != NULL ? bw_strdup(s) : NULL;
}

/* Frees o; after the last one, a waiting drain goes on. */
static void
audit_orphan_end(struct audit_orphan *o)
{
	void	(*done)(void *) = audit_orphan_done;

	free(o->request_id);
	free(o->user);
	free(o->ip);
	free(o->api_key);
	free(o->path);
	json_decref(o->detail);
	free(o);
	if (--audit_orphan_alive > 0 || done == NULL)
		return;
	audit_orphan_done = NULL;
	done(audit_orphan_done_arg);
}

/* Rows are not wanted: the statement runs to its end all the same. */
static int
audit_orphan_on_row(void *arg, const PGresult *res, int row)
{
	(void)arg;
	(void)res;
	(void)row;
	return -1;
}

/* The writer's answer: the orphan's work is done either way. */
static void
audit_orphan_answered(int64_t seq, void *arg)
{
	struct audit_orphan	*o = arg;

	if (seq <= 0)
		log_warnx("route %s: audit record of row %lld not confirmed: "
		    "it is committed and reaches the log by recovery",
		    o->ev.route, (long long)o->row);
	audit_orphan_end(o);
}

static void
audit_orphan_on_done(void *arg, enum db_outcome how, const char *sqlstate,
    const char *message, const char *cmd_tuples)
{
	struct audit_orphan	*o = arg;

	(void)sqlstate;
	(void)message;
	(void)cmd_tuples;
	if (how == DB_OK && o->row > 0) {
		o->ev.row = o->row;
		if (audit_client_submit(o->audit, &o->ev,
		    audit_orphan_answered, o) == 0)
			return;
		log_warnx("route %s: audit record of row %lld not sent: it is "
		    "committed and reaches the log by recovery", o->ev.route,
		    (long long)o->row);
	} else if (how == DB_LOST)
		log_info("route %s: the outcome of an audited write whose "
		    "request ended is unknown: a committed row reaches the "
		    "log by recovery", o->ev.route);
	audit_orphan_end(o);
}

static const struct db_req_ops audit_orphan_ops = {
	audit_orphan_on_row, audit_orphan_on_done,
};

void
audit_orphan_adopt(struct db_req *r, struct audit_client *audit,
    const struct audit_event *ev, int64_t row)
{
	struct audit_orphan	*o = bw_calloc(1, sizeof(*o));

	o->audit = audit;
	o->row = row;
	o->ev = *ev;
	o->ev.request_id = o->request_id = audit_orphan_strdup(ev->request_id);
	o->ev.user = o->user = audit_orphan_strdup(ev->user);
	o->ev.ip = o->ip = audit_orphan_strdup(ev->ip);
	o->ev.api_key = o->api_key = audit_orphan_strdup(ev->api_key);
	o->ev.path = o->path = audit_orphan_strdup(ev->path);
	o->ev.detail = o->detail = ev->detail != NULL ?
	    json_deep_copy(ev->detail) : NULL;
	o->ev.status = 0;
	o->ev.row = 0;
	audit_orphan_alive++;
	if (db_handover(r, &audit_orphan_ops, o, &o->row) == 0)
		audit_orphan_end(o);
}

size_t
audit_orphan_pending(void)
{
	return audit_orphan_alive;
}

void
audit_orphan_wait(void (*done)(void *), void *arg)
{
	audit_orphan_done = done;
	audit_orphan_done_arg = arg;
}
