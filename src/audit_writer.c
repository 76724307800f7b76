/*
 * audit_writer.c - the audit writer process and its supervision by the
 * master (audit_writer.h).
 *
 * The writer owns audit.file (locked for its whole life) and the audit
 * key; nothing else in the daemon opens either.  It serves
 * audit.control_socket (AF_UNIX, SOCK_SEQPACKET, 0600): each message is a
 * record (audit_msg.h), appended at once; under fsync: always the answers
 * wait for the one fdatasync() that follows the batch of messages read in
 * the same turn of the event loop (group commit), under fsync: DURATION
 * they go out at once and a timer syncs.  After each sync the rows named
 * by the batch get their seq and bulwark.audit_head moves.
 *
 * Recovery, at every start: the appender cuts a torn last line; then the
 * records after bulwark.audit_head's seq are read back from the end of
 * the file, and the rows they name (the "row" member) get the seq they
 * were written with: a writer killed before it stored them, or a
 * database out of reach when it tried, leaves such rows without seq,
 * and their records are not appended twice.  Then the rows of this
 * instance still without seq are appended in id order (their time is the
 * row's), each row's seq stored.  A worker's record of a row that
 * recovery appended meanwhile (committed just before recovery read it) is
 * answered with the seq recovery gave it, not appended again
 * (AUDIT_WRITER_RECALL rows are remembered).  Invariant: every record
 * up to the head's seq has its row's seq stored; the head moves only
 * when every row appended so far has it (after a complete recovery; a
 * seq that cannot be stored calls for another).  When the database
 * cannot be reached the writer serves anyway and retries every
 * AUDIT_WRITER_RETRY_MS.  A write that fails (disk full, read-only, file
 * removed: st_nlink 0, I/O error) is answered with an error, logged once,
 * and retried by the timer, which reopens a removed file; the condition
 * clears by itself when writing works again.
 *
 * Threat model: peers are checked with SO_PEERCRED (root, the writer's
 * own user or the service user only); workers reach the writer only
 * through descriptors the master connected for them before they dropped
 * privileges.  Every message is bounded and decoded strictly
 * (audit_msg.c).  Recovery trusts a line of the file to name a row only
 * when the line's mac holds under the key, so a line planted in the file
 * cannot pass a row off as recorded.  The key is read after fork, by the
 * writer alone, and wiped at exit.  Once set up (key read, file open and
 * locked, control socket listening, event loop built, a first connection
 * to the database tried) the writer loads its own seccomp filter
 * (SANDBOX_AUDIT, sandbox_filter.c says what it admits and what it cannot
 * bound): no execve, fork or executable memory, no open but read-only
 * ones and the audit file's own two forms.  It keeps the master's
 * identity and capabilities: a writer run as root must still open and
 * chown an audit file that belongs to the service user.  Failing to load
 * the filter is fatal (exit 3; the master restarts it).
 */
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <libpq-fe.h>

#include "audit_db.h"
#include "audit_file.h"
#include "audit_msg.h"
#include "audit_writer.h"
#include "conf.h"
#include "dbconf.h"
#include "log.h"
#include "master.h"
#include "sandbox.h"
#include "util.h"

struct audit_writer;

struct audit_conn {
	struct audit_writer	*w;
	int			 fd;
	struct event		*ev;
	/* seq; 0 probe answered; -1 unwritable; -2 malformed */
	int64_t			 acks[AUDIT_WRITER_MAX_PENDING];
	size_t			 nacks;
	struct audit_conn	*next;
};

struct audit_row {
	int64_t			 id;
	uint64_t		 seq;
};

struct audit_writer {
	const struct conf	*conf;
	struct event_base	*base;
	struct audit_file	 f;
	struct audit_key	 key;
	char			 instance[AUDIT_INSTANCE_MAX + 1];
	int			 lfd;
	struct event		*lev, *flush_ev, *timer_ev, *sig_ev[2];
	struct audit_conn	*conns;
	size_t			 nconns;
	struct audit_row	 rows[AUDIT_WRITER_MAX_PENDING];
	size_t			 nrows;
	struct audit_row	 recalled[AUDIT_WRITER_RECALL];	/* a ring */
	uint64_t		 nrecalled;
	PGconn			*pg;
	bool			 recovered;
	bool			 failing;	/* unwritable, logged */
	bool			 flush_armed;
	uid_t			 service_uid;
	char			 msg[AUDIT_MSG_MAX + 1];
};

/*
 * Database
 */

static PGconn *
audit_writer_db(const struct conf *conf)
{
	struct dbconf	 dc;
	const char	*err;
	PGconn		*pg;

	if (conf->database == NULL || dbconf_build(conf, &dc, &err) == -1)
		return NULL;
	pg = PQconnectdbParams(dc.keys, dc.vals, 0);
	dbconf_free(&dc);
	if (pg != NULL && PQstatus(pg) == CONNECTION_OK)
		return pg;
	PQfinish(pg);
	return NULL;
}

static bool
audit_writer_db_ok(struct audit_writer *w)
{
	if (w->pg != NULL && PQstatus(w->pg) != CONNECTION_OK) {
		PQfinish(w->pg);
		w->pg = NULL;
	}
	if (w->pg == NULL)
		w->pg = audit_writer_db(w->conf);
	return w->pg != NULL;
}

/* bulwark.audit_head continues the chain in a new (rotated) file. */
static void
audit_writer_head(struct audit_writer *w)
{
	struct audit_chain	 head;
	const char		*err;

	if (audit_db_head_get(w->pg, w->instance, &head, &err) == 1) {
		w->f.chain = head;
		w->f.known = true;
	}
}

/*
 * Rows appended whose seq could not be stored: a recovery finds them by
 * their records, and the head waits for it.
 */
static void
audit_writer_unpublished(struct audit_writer *w)
{
	struct timeval	 tv;

	w->nrows = 0;
	w->recovered = false;
	if (!evtimer_pending(w->timer_ev, NULL)) {
		bw_ms_to_tv(AUDIT_WRITER_RETRY_MS, &tv);
		evtimer_add(w->timer_ev, &tv);
	}
}

/* After a sync: rows get their seq, then the head moves; 0 or -1. */
static int
audit_writer_publish(struct audit_writer *w)
{
	int64_t		 ids[AUDIT_WRITER_MAX_PENDING];
	uint64_t	 seqs[AUDIT_WRITER_MAX_PENDING];
	const char	*err;
	size_t		 i;

	if (!audit_writer_db_ok(w)) {
		if (w->nrows > 0)
			audit_writer_unpublished(w);
		return -1;
	}
	for (i = 0; i < w->nrows; i++) {
		ids[i] = w->rows[i].id;
		seqs[i] = w->rows[i].seq;
	}
	if (audit_db_rows_written(w->pg, ids, seqs, w->nrows, &err) == -1) {
		log_warnx("audit: %s", err);
		audit_writer_unpublished(w);
		return -1;
	}
	w->nrows = 0;
	if (w->recovered && w->f.known && audit_db_head_set(w->pg,
	    w->instance, &w->f.chain, &err) == -1)
		log_warnx("audit: %s", err);
	return 0;
}

/*
 * Writing
 */

static void
audit_writer_failed(struct audit_writer *w, const char *err)
{
	struct timeval	 tv;

	if (!w->failing)
		log_errorx("audit: %s: cannot write: %s (audited requests "
		    "are refused until it works again)", w->f.path, err);
	w->failing = true;
	bw_ms_to_tv(AUDIT_WRITER_RETRY_MS, &tv);
	evtimer_add(w->timer_ev, &tv);
}

/*
 * The end of an outage: rows committed while records were refused reach
 * the file by a recovery, run by the retry timer.
 */
static void
audit_writer_works_again(struct audit_writer *w)
{
	log_notice("audit: %s: writing works again", w->f.path);
	w->failing = false;
	w->recovered = false;
}

/*
 * Whether writing works now; clears the failing state when it does.  A
 * removed file is opened again (a new one).
 */
static int
audit_writer_check(struct audit_writer *w)
{
	const char	*err;

	if (w->f.err == ENOENT || w->f.fd == -1) {
		if (audit_file_reopen(&w->f, &err) == -1) {
			audit_writer_failed(w, err);
			return -1;
		}
	}
	if (audit_file_writable(&w->f, &err) == -1) {
		audit_writer_failed(w, err);
		return -1;
	}
	if (w->failing)
		audit_writer_works_again(w);
	return 0;
}

/* The flush runs once the messages ready in this turn are all read. */
static void
audit_writer_arm(struct audit_writer *w)
{
	if (!w->flush_armed) {
		w->flush_armed = true;
		event_active(w->flush_ev, EV_TIMEOUT, 0);
	}
}

/* Appends one record; its seq, or -1. */
static int64_t
audit_writer_append(struct audit_writer *w, const struct audit_event *ev)
{
	const char	*err;

	if (ev->row != 0 && w->nrows == BW_ARRAY_LEN(w->rows)) {
		if (audit_file_sync(&w->f, &err) == -1) {
			audit_writer_failed(w, err);
			return -1;
		}
		(void)audit_writer_publish(w);	/* it empties rows */
	}
	if (audit_file_append(&w->f, ev, w->instance, &w->key, &err) == -1) {
		audit_writer_failed(w, err);
		return -1;
	}
	if (w->failing)
		audit_writer_works_again(w);
	if (ev->row != 0) {
		w->rows[w->nrows].id = ev->row;
		w->rows[w->nrows++].seq = w->f.chain.seq;
	}
	audit_writer_arm(w);
	return (int64_t)w->f.chain.seq;
}

static void
audit_writer_send_acks(struct audit_conn *c)
{
	char	 buf[64];
	size_t	 i;
	int	 n;

	for (i = 0; i < c->nacks; i++) {
		if (c->acks[i] > 0)
			n = snprintf(buf, sizeof(buf), "{\"seq\":%" PRId64 "}",
			    c->acks[i]);
		else if (c->acks[i] == 0)
			n = snprintf(buf, sizeof(buf), "{\"ok\":true}");
		else if (c->acks[i] == -2)
			n = snprintf(buf, sizeof(buf), "{\"error\":"
			    "\"malformed\"}");
		else
			n = snprintf(buf, sizeof(buf), "{\"error\":"
			    "\"unwritable\"}");
		(void)send(c->fd, buf, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
	}
	c->nacks = 0;
	event_add(c->ev, NULL);
}

/* The end of a turn: one sync for the batch, then the answers. */
static void
audit_writer_flush_cb(evutil_socket_t fd, short what, void *arg)
{
	struct audit_writer	*w = arg;
	struct audit_conn	*c;
	const char		*err;
	size_t			 i;
	bool			 synced;

	(void)fd;
	(void)what;
	w->flush_armed = false;
	synced = false;
	if (w->conf->audit->fsync == FSYNC_ALWAYS && w->f.dirty) {
		if (audit_file_sync(&w->f, &err) == -1) {
			audit_writer_failed(w, err);
			for (c = w->conns; c != NULL; c = c->next)
				for (i = 0; i < c->nacks; i++)
					c->acks[i] = -1;
		} else
			synced = true;
	}
	/* The records are on disk: answer first, then store their seq. */
	for (c = w->conns; c != NULL; c = c->next)
		audit_writer_send_acks(c);
	if (synced)
		(void)audit_writer_publish(w);
}

/*
 * Recovery: the rows committed without their record in the file.
 */

static const char *
audit_writer_col(const PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? NULL : PQgetvalue(res, row, col);
}

/* A batch never fills the pending rows, whose overflow would publish. */
_Static_assert(AUDIT_WRITER_RECOVER_BATCH < AUDIT_WRITER_MAX_PENDING,
    "a recovery batch fits the pending rows");

/* The lines after the head, read back: rows named by their records. */
struct audit_writer_scan {
	struct audit_writer	*w;
	uint64_t		 after;		/* the head's seq */
	int64_t			 ids[AUDIT_WRITER_RECOVER_BATCH];
	uint64_t		 seqs[AUDIT_WRITER_RECOVER_BATCH];
	size_t			 n;
};

static int
audit_writer_scan_store(struct audit_writer_scan *s)
{
	const char	*err;

	if (audit_db_rows_written(s->w->pg, s->ids, s->seqs, s->n, &err) ==
	    -1) {
		log_warnx("audit: recovery: %s", err);
		return -1;
	}
	s->n = 0;
	return 0;
}

static int
audit_writer_scan_line(void *arg, const char *line, size_t len)
{
	struct audit_writer_scan	*s = arg;
	uint64_t			 seq;
	int64_t				 row;
	int				 rv;

	if ((rv = audit_line_row(line, len, &s->w->key, &seq, &row)) == -1) {
		log_warnx("audit: recovery: %s: a line that is not a record "
		    "under this key ends the search for appended rows",
		    s->w->f.path);
		return 1;
	}
	if (seq <= s->after)
		return 1;
	if (rv == 0)
		return 0;
	s->ids[s->n] = row;
	s->seqs[s->n++] = seq;
	return s->n == BW_ARRAY_LEN(s->ids) ? audit_writer_scan_store(s) : 0;
}

/*
 * The rows whose records follow the head in the file get those records'
 * seq (the file is synced).  0 or -1.
 */
static int
audit_writer_reconcile(struct audit_writer *w)
{
	struct audit_writer_scan	*s = bw_calloc(1, sizeof(*s));
	struct audit_chain		 head;
	const char			*err = NULL;
	int				 rv;

	s->w = w;
	if ((rv = audit_db_head_get(w->pg, w->instance, &head, &err)) == 1)
		s->after = head.seq;
	if (rv == -1 || audit_file_scan_back(&w->f, audit_writer_scan_line, s,
	    &err) == -1 || audit_writer_scan_store(s) == -1) {
		if (err != NULL)
			log_warnx("audit: recovery: %s", err);
		rv = -1;
	}
	free(s);
	return rv == -1 ? -1 : 0;
}

/*
 * The seq recovery gave row when it appended it before the worker's
 * record arrived; 0 when it did not.
 */
static int64_t
audit_writer_recalled(const struct audit_writer *w, int64_t row)
{
	size_t	 i, n = w->nrecalled < AUDIT_WRITER_RECALL ?
		    (size_t)w->nrecalled : AUDIT_WRITER_RECALL;

	for (i = 0; row != 0 && i < n; i++)
		if (w->recalled[i].id == row)
			return (int64_t)w->recalled[i].seq;
	return 0;
}

static int
audit_writer_recover_row(struct audit_writer *w, const PGresult *res, int i)
{
	struct audit_row	*r;
	struct audit_event	 ev;
	json_t			*detail;
	uint64_t		 u;
	int64_t			 seq;

	memset(&ev, 0, sizeof(ev));
	if (bw_parse_uint(PQgetvalue(res, i, 0), INT64_MAX, &u) == -1)
		return -1;
	ev.row = (int64_t)u;
	if (bw_parse_uint(PQgetvalue(res, i, 1), INT64_MAX, &u) == 0)
		ev.time_us = (int64_t)u;
	ev.event = PQgetvalue(res, i, 2);
	ev.request_id = audit_writer_col(res, i, 3);
	ev.user = audit_writer_col(res, i, 4);
	ev.ip = audit_writer_col(res, i, 5);
	ev.api_key = audit_writer_col(res, i, 6);
	ev.route = audit_writer_col(res, i, 7);
	ev.method = audit_writer_col(res, i, 8);
	ev.path = audit_writer_col(res, i, 9);
	if (!PQgetisnull(res, i, 10) && bw_parse_uint(PQgetvalue(res, i, 10),
	    999, &u) == 0)
		ev.status = (int)u;
	detail = json_loads(PQgetvalue(res, i, 11), 0, NULL);
	ev.detail = detail;
	seq = audit_writer_append(w, &ev);
	json_decref(detail);
	if (seq <= 0)
		return -1;
	r = &w->recalled[w->nrecalled++ % AUDIT_WRITER_RECALL];
	r->id = ev.row;
	r->seq = (uint64_t)seq;
	return 0;
}

/* Appends the rows still without seq, in id order: their count, or -1. */
static int64_t
audit_writer_append_unwritten(struct audit_writer *w)
{
	PGresult	*res;
	const char	*err;
	int64_t		 n = 0;
	int		 i, rows;

	do {
		if ((res = audit_db_unwritten(w->pg, w->instance,
		    AUDIT_WRITER_RECOVER_BATCH, &err)) == NULL) {
			log_warnx("audit: recovery: %s", err);
			return -1;
		}
		rows = PQntuples(res);
		for (i = 0; i < rows; i++, n++)
			if (audit_writer_recover_row(w, res, i) == -1) {
				PQclear(res);
				return -1;
			}
		PQclear(res);
		if (audit_file_sync(&w->f, &err) == -1) {
			audit_writer_failed(w, err);
			return -1;
		}
		if (audit_writer_publish(w) == -1)
			return -1;
	} while (rows == AUDIT_WRITER_RECOVER_BATCH);
	return n;
}

/*
 * The file synced and the pending rows stored first: what the file holds
 * is then what the rows are matched against.
 */
static void
audit_writer_recover(struct audit_writer *w)
{
	const char	*err;
	int64_t		 n;

	if (w->recovered || w->failing || !audit_writer_db_ok(w))
		return;
	if (audit_file_sync(&w->f, &err) == -1) {
		audit_writer_failed(w, err);
		return;
	}
	if (audit_writer_publish(w) == -1 || audit_writer_reconcile(w) == -1 ||
	    (n = audit_writer_append_unwritten(w)) == -1)
		return;
	if (n > 0)
		log_notice("audit: recovery: %" PRId64 " committed records "
		    "appended from bulwark.audit", n);
	w->recovered = true;
	(void)audit_writer_publish(w);
}

static void
audit_writer_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct audit_writer	*w = arg;
	struct timeval		 tv;
	const char		*err;

	(void)fd;
	(void)what;
	if (w->failing)
		(void)audit_writer_check(w);
	if (w->conf->audit->fsync == FSYNC_INTERVAL &&
	    audit_file_sync_due(&w->f, w->conf->audit->fsync_interval_ms,
	    bw_now_ms())) {
		if (audit_file_sync(&w->f, &err) == -1)
			audit_writer_failed(w, err);
		else
			(void)audit_writer_publish(w);
	}
	audit_writer_recover(w);
	bw_ms_to_tv(w->conf->audit->fsync == FSYNC_INTERVAL ?
	    w->conf->audit->fsync_interval_ms : AUDIT_WRITER_RETRY_MS, &tv);
	if (w->failing || !w->recovered || w->conf->audit->fsync ==
	    FSYNC_INTERVAL)
		evtimer_add(w->timer_ev, &tv);
}

/*
 * The control socket
 */

static void
audit_conn_free(struct audit_writer *w, struct audit_conn *c)
{
	struct audit_conn	**pp;

	for (pp = &w->conns; *pp != NULL; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	event_free(c->ev);
	close(c->fd);
	free(c);
	w->nconns--;
}

static void
audit_conn_message(struct audit_writer *w, struct audit_conn *c, size_t len)
{
	struct audit_event	 ev;
	json_t			*root;
	int64_t			 seq = -1;
	int			 rv;

	rv = audit_msg_decode(w->msg, len, &root, &ev);
	if (rv == 0 && (seq = audit_writer_recalled(w, ev.row)) > 0)
		audit_writer_arm(w);	/* on disk already: answered next */
	else if (rv == 0)
		seq = audit_writer_append(w, &ev);
	else if (rv == 1)
		seq = audit_writer_check(w) == 0 ? 0 : -1;
	else {
		log_warnx("audit: a malformed record was refused");
		seq = -2;
	}
	json_decref(root);
	c->acks[c->nacks++] = seq;
	if (w->conf->audit->fsync != FSYNC_ALWAYS || seq <= 0)
		audit_writer_arm(w);
}

static void
audit_conn_cb(evutil_socket_t fd, short what, void *arg)
{
	struct audit_conn	*c = arg;
	struct audit_writer	*w = c->w;
	ssize_t			 n;

	(void)what;
	while (c->nacks < AUDIT_WRITER_MAX_PENDING) {
		n = recv(fd, w->msg, sizeof(w->msg), MSG_DONTWAIT | MSG_TRUNC);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			audit_conn_free(w, c);
			return;
		}
		if ((size_t)n > AUDIT_MSG_MAX) {
			log_warnx("audit: an oversized record was refused");
			c->acks[c->nacks++] = -2;
			audit_writer_arm(w);
			continue;
		}
		audit_conn_message(w, c, (size_t)n);
	}
	/* Too many answers waiting: read again after the flush. */
	event_del(c->ev);
}

/* Root, the writer's own user and the service user may send records. */
static bool
audit_writer_peer_ok(struct audit_writer *w, int fd)
{
	struct ucred	 cred;
	socklen_t	 len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1)
		return false;
	return cred.uid == 0 || cred.uid == geteuid() ||
	    cred.uid == w->service_uid;
}

static void
audit_writer_accept_cb(evutil_socket_t lfd, short what, void *arg)
{
	struct audit_writer	*w = arg;
	struct audit_conn	*c;
	struct sockaddr_un	 sun;
	socklen_t		 sl = sizeof(sun);
	int			 fd;

	(void)what;
	if ((fd = accept4(lfd, (struct sockaddr *)&sun, &sl, SOCK_CLOEXEC |
	    SOCK_NONBLOCK)) == -1)
		return;
	if (w->nconns >= AUDIT_WRITER_MAX_CONNS ||
	    !audit_writer_peer_ok(w, fd)) {
		log_warnx("audit: control socket: connection refused (%s)",
		    w->nconns >= AUDIT_WRITER_MAX_CONNS ? "too many" :
		    "peer not allowed");
		close(fd);
		return;
	}
	c = bw_calloc(1, sizeof(*c));
	c->w = w;
	c->fd = fd;
	c->ev = event_new(w->base, fd, EV_READ | EV_PERSIST, audit_conn_cb, c);
	if (c->ev == NULL || event_add(c->ev, NULL) == -1)
		fatalx("audit: cannot watch a connection");
	c->next = w->conns;
	w->conns = c;
	w->nconns++;
}

/* A socket left by a writer that died is replaced; a live one is not. */
static int
audit_writer_listen(const char *path, const char **err)
{
	struct sockaddr_un	 sun;
	struct stat		 st;
	mode_t			 old;
	int			 fd, probe, rv;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (bw_strlcpy(sun.sun_path, path, sizeof(sun.sun_path)) >=
	    sizeof(sun.sun_path)) {
		*err = "control socket path too long";
		return -1;
	}
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			*err = "control socket path exists and is no socket";
			return -1;
		}
		if ((probe = audit_msg_connect(path)) != -1) {
			close(probe);
			*err = "another bulwarkd serves the control socket";
			return -1;
		}
		(void)unlink(path);
	}
	if ((fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC |
	    SOCK_NONBLOCK, 0)) == -1) {
		*err = strerror(errno);
		return -1;
	}
	old = umask(0177);
	rv = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(old);
	if (rv == -1 || listen(fd, 64) == -1) {
		*err = strerror(errno);
		close(fd);
		return -1;
	}
	return fd;
}

static void
audit_writer_signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct audit_writer	*w = arg;
	const char		*err;

	(void)what;
	if (sig == SIGUSR1) {
		if (audit_file_reopen(&w->f, &err) == -1)
			audit_writer_failed(w, err);
		else
			log_info("audit: %s reopened", w->f.path);
		return;
	}
	event_base_loopbreak(w->base);
}

static int
audit_writer_events(struct audit_writer *w)
{
	static const int	 sigs[] = { SIGTERM, SIGUSR1 };
	size_t			 i;

	if ((w->base = event_base_new()) == NULL ||
	    (w->lev = event_new(w->base, w->lfd, EV_READ | EV_PERSIST,
	    audit_writer_accept_cb, w)) == NULL ||
	    event_add(w->lev, NULL) == -1 ||
	    (w->flush_ev = event_new(w->base, -1, 0, audit_writer_flush_cb,
	    w)) == NULL ||
	    (w->timer_ev = evtimer_new(w->base, audit_writer_timer_cb,
	    w)) == NULL)
		return -1;
	for (i = 0; i < BW_ARRAY_LEN(sigs); i++)
		if ((w->sig_ev[i] = evsignal_new(w->base, sigs[i],
		    audit_writer_signal_cb, w)) == NULL ||
		    event_add(w->sig_ev[i], NULL) == -1)
			return -1;
	return 0;
}

static void
audit_writer_free(struct audit_writer *w)
{
	size_t	 i;

	while (w->conns != NULL)
		audit_conn_free(w, w->conns);
	for (i = 0; i < BW_ARRAY_LEN(w->sig_ev); i++)
		if (w->sig_ev[i] != NULL)
			event_free(w->sig_ev[i]);
	if (w->lev != NULL)
		event_free(w->lev);
	if (w->flush_ev != NULL)
		event_free(w->flush_ev);
	if (w->timer_ev != NULL)
		event_free(w->timer_ev);
	if (w->base != NULL)
		event_base_free(w->base);
	if (w->lfd != -1) {
		close(w->lfd);
		(void)unlink(w->conf->audit->control_socket);
	}
	audit_file_close(&w->f);
	audit_key_wipe(&w->key);
	PQfinish(w->pg);
}

/* server.start or server.stop, synced before it returns. */
static void
audit_writer_server_event(struct audit_writer *w, const char *event)
{
	struct audit_event	 ev = { .event = event };
	const char		*err;

	if (audit_writer_append(w, &ev) > 0 &&
	    audit_file_sync(&w->f, &err) == 0)
		(void)audit_writer_publish(w);
}

static int
audit_writer_setup(struct audit_writer *w, const char **err)
{
	const struct conf_audit	*a = w->conf->audit;
	struct passwd		 pwd, *pw = NULL;
	char			 pwbuf[4096];

	if (getpwnam_r(CONF_SERVICE_USER, &pwd, pwbuf, sizeof(pwbuf),
	    &pw) == 0 && pw != NULL)
		w->service_uid = pw->pw_uid;
	else
		w->service_uid = 0;
	if (audit_instance(w->conf, NULL, w->instance, sizeof(w->instance),
	    err) == -1 || audit_key_load(w->conf, &w->key, err) == -1)
		return -1;
	if (audit_writer_db_ok(w))
		audit_writer_head(w);
	if (audit_file_open(&w->f, a->file, 5000, w->f.known ? &w->f.chain :
	    NULL, err) == -1)
		return -1;
	if ((w->lfd = audit_writer_listen(a->control_socket, err)) == -1)
		return -1;
	if (audit_writer_events(w) == -1) {
		*err = "cannot set up the event loop";
		return -1;
	}
	return 0;
}

int
audit_writer_main(const struct conf *conf, bool first)
{
	struct audit_writer	*w;
	struct timeval		 tv = { 0, 0 };
	const char		*err;
	int			 rv = 0;

	log_set_procname("audit");
	w = bw_calloc(1, sizeof(*w));
	w->conf = conf;
	w->f.fd = -1;
	w->lfd = -1;
	if (audit_writer_setup(w, &err) == -1) {
		log_errorx("audit: %s: %s", conf->audit->file, err);
		rv = 3;
	} else if (sandbox_seccomp(SANDBOX_AUDIT, conf->seccomp, &err) == -1) {
		log_errorx("audit: sandbox: %s", err);
		rv = 3;
	}
	if (rv != 0) {
		audit_writer_free(w);
		free(w);
		return rv;
	}
	audit_writer_recover(w);
	if (first)
		audit_writer_server_event(w, "server.start");
	evtimer_add(w->timer_ev, &tv);
	log_info("audit writer serving %s", conf->audit->control_socket);
	if (event_base_dispatch(w->base) == -1)
		rv = 3;
	audit_writer_server_event(w, "server.stop");
	audit_writer_free(w);
	free(w);
	return rv;
}

/*
 * The master's side: one writer, restarted when it dies.
 */

static struct {
	const struct conf	*conf;
	struct event_base	*base;
	struct event		*restart_ev;
	pid_t			 pid;
	bool			 stopping;
} audit_sup = { .pid = -1 };

static void __attribute__((noreturn))
audit_writer_child(bool first)
{
	master_child_signals();
	/* A client that went away is its writes' EPIPE, not a signal. */
	(void)signal(SIGPIPE, SIG_IGN);
	/* Nothing of the master's: listeners, channels, its event loop. */
	if (close_range(3, ~0U, 0) == -1 ||
	    prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0) == -1)
		_exit(3);
	exit(audit_writer_main(audit_sup.conf, first));
}

static int
audit_writer_fork(bool first)
{
	sigset_t	 all, old;
	pid_t		 pid;

	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, &old);
	if ((pid = fork()) == 0)
		audit_writer_child(first);
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (pid == -1) {
		log_errorx("audit writer: fork: %s", strerror(errno));
		return -1;
	}
	audit_sup.pid = pid;
	log_info("audit writer started (pid %ld)", (long)pid);
	return 0;
}

static void
audit_writer_restart_cb(evutil_socket_t fd, short what, void *arg)
{
	struct timeval	 tv;

	(void)fd;
	(void)what;
	(void)arg;
	if (audit_sup.stopping || audit_sup.pid != -1)
		return;
	if (audit_writer_fork(false) == -1) {
		bw_ms_to_tv(AUDIT_WRITER_RESTART_MS, &tv);
		evtimer_add(audit_sup.restart_ev, &tv);
	}
}

/* Until the control socket answers, or the writer died. */
static int
audit_writer_wait_ready(const char **err)
{
	struct timespec	 ts = { 0, 20 * 1000000L };
	int		 i, fd, status;

	for (i = 0; i < AUDIT_WRITER_STOP_MS / 20; i++) {
		if ((fd = audit_writer_connect()) != -1) {
			close(fd);
			return 0;
		}
		if (waitpid(audit_sup.pid, &status, WNOHANG) ==
		    audit_sup.pid) {
			audit_sup.pid = -1;
			*err = "the audit writer could not start";
			return -1;
		}
		nanosleep(&ts, NULL);
	}
	*err = "the audit writer did not open its control socket";
	return -1;
}

int
audit_writer_start(const struct conf *conf, struct event_base *base,
    const char **err)
{
	if (conf->audit == NULL)
		return 0;
	audit_sup.conf = conf;
	audit_sup.base = base;
	audit_sup.stopping = false;
	if (audit_sup.restart_ev == NULL && (audit_sup.restart_ev =
	    evtimer_new(base, audit_writer_restart_cb, NULL)) == NULL) {
		*err = "cannot set up the audit writer's restart";
		return -1;
	}
	if (audit_writer_fork(true) == -1) {
		*err = "cannot fork the audit writer";
		return -1;
	}
	return audit_writer_wait_ready(err);
}

void
audit_writer_conf(const struct conf *conf)
{
	if (audit_sup.conf != NULL && conf->audit != NULL)
		audit_sup.conf = conf;
}

bool
audit_writer_reaped(pid_t pid, int status)
{
	struct timeval	 tv;

	if (pid != audit_sup.pid || pid == -1)
		return false;
	audit_sup.pid = -1;
	if (audit_sup.stopping)
		return true;
	if (WIFSIGNALED(status))
		log_errorx("audit writer (pid %ld) killed by signal %d: "
		    "restarting", (long)pid, WTERMSIG(status));
	else
		log_errorx("audit writer (pid %ld) exited with %d: "
		    "restarting", (long)pid, WEXITSTATUS(status));
	bw_ms_to_tv(AUDIT_WRITER_RESTART_MS, &tv);
	evtimer_add(audit_sup.restart_ev, &tv);
	return true;
}

void
audit_writer_reopen(void)
{
	if (audit_sup.pid > 0)
		kill(audit_sup.pid, SIGUSR1);
}

int
audit_writer_connect(void)
{
	if (audit_sup.conf == NULL)
		return -1;
	return audit_msg_connect(audit_sup.conf->audit->control_socket);
}

pid_t
audit_writer_pid(void)
{
	return audit_sup.pid;
}

void
audit_writer_stop(void)
{
	struct timespec	 ts = { 0, 10 * 1000000L };
	int		 i, status;

	audit_sup.stopping = true;
	if (audit_sup.restart_ev != NULL) {
		event_free(audit_sup.restart_ev);
		audit_sup.restart_ev = NULL;
	}
	if (audit_sup.pid <= 0)
		return;
	kill(audit_sup.pid, SIGTERM);
	for (i = 0; i < AUDIT_WRITER_STOP_MS / 10; i++) {
		if (waitpid(audit_sup.pid, &status, WNOHANG) != 0) {
			audit_sup.pid = -1;
			return;
		}
		nanosleep(&ts, NULL);
	}
	log_warnx("audit writer (pid %ld) did not stop: killed",
	    (long)audit_sup.pid);
	kill(audit_sup.pid, SIGKILL);
	(void)waitpid(audit_sup.pid, &status, 0);
	audit_sup.pid = -1;
}

int
audit_writer_event(const char *event, json_t *detail, const char **err)
{
	struct audit_event	 ev;
	uint64_t		 seq;

	if (audit_sup.conf == NULL || audit_sup.conf->audit == NULL)
		return 0;
	memset(&ev, 0, sizeof(ev));
	ev.event = event;
	ev.detail = detail;
	return audit_msg_record(audit_sup.conf->audit->control_socket, &ev,
	    &seq, err);
}
