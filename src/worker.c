/*
 * worker.c - one worker process: an event_base, the listening sockets the
 * master handed down (its slot's, and its siblings' so that connections
 * spread evenly: balance.h), the HTTP server and the channel to the
 * master.
 *
 * The worker is single-threaded on its event loop.  It sandboxes itself
 * (sandbox_worker: identity drop, hardening, seccomp) after its listeners
 * and event base exist and before the first client byte is read, then
 * tells the master CHAN_READY.  It accepts at once, or, started with hold
 * during a reload, once the master sends CHAN_TAKE_OVER.  Its readiness
 * (pool connected, revocation state loaded) goes to the master whenever
 * it changes (worker_state_report).
 *
 * Stopping: CHAN_DRAIN, SIGTERM/SIGINT, or the end of the channel (the
 * master died) stop accepting; idle connections close at once, busy ones
 * after their current response; the worker exits when none remains and
 * the audited writes whose clients left have ended (their records sent),
 * or when server.shutdown_timeout has passed, whichever comes first.
 *
 * With an audit section the worker holds one descriptor connected to the
 * audit writer (audit_client.h) and nothing else of the log; when the
 * writer is lost (restarted by the master) it asks the master for a new
 * connection (CHAN_AUDIT_FD) at most every WORKER_AUDIT_ASK_MS.
 *
 * Ticket keys arriving over the channel are secrets: the receive buffer is
 * wiped after every message.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/ssl.h>

#include "chan.h"
#include "conf.h"
#include "api.h"
#include "audit.h"
#include "audit_client.h"
#include "audit_orphan.h"
#include "auth.h"
#include "authep.h"
#include "db.h"
#include "dbconf.h"
#include "http.h"
#include "keymgr.h"
#include "log.h"
#include "metrics.h"
#include "password.h"
#include "problem.h"
#include "sandbox.h"
#include "tls.h"
#include "util.h"
#include "worker.h"

struct worker {
	const struct worker_args *args;
	struct event_base	*base;
	struct http_server	*http;
	struct db_pool		*pool;
	struct db_pool		**replicas;	/* one per database.replicas */
	size_t			 nreplicas;
	struct auth		*auth;
	struct authep		*authep;
	struct password_pool	*pwpool;
	struct keymgr_client	*signer;	/* EdDSA, ES256 tokens */
	struct audit_client	*audit;
	char			 instance[AUDIT_INSTANCE_MAX + 1];
	bool			 audit_asked;	/* CHAN_AUDIT_FD pending */
	int64_t			 audit_asked_ms;	/* when last asked */
	struct event		*chan_ev;
	struct event		*stop_ev;
	struct event		*sigterm_ev;
	struct event		*sigint_ev;
	struct event		*state_ev;
	struct chan_state	 state;
	bool			 state_sent;
	bool			 listening;
	bool			 draining;
	unsigned char		 msg[CHAN_MAX_PAYLOAD];
};

/*
 * Without compiled routes (a worker started with no api, as in tests of
 * the connection layer) a routed request has no database to run on.
 */
static void
worker_no_routes(struct http_request *r, void *arg)
{
	(void)arg;
	http_respond_problem(r, PROBLEM_DB_UNAVAILABLE);
}

static const struct http_route_ops worker_no_routes_ops = {
	NULL, worker_no_routes, NULL,
};

/*
 * The argon2id threads of the built-in endpoints exist before the sandbox
 * (which forbids making threads and covers these through TSYNC).
 */
static int
worker_endpoints(struct worker *w)
{
	const struct conf_auth	*ca = w->args->conf->auth;
	const char		*err;

	if (ca != NULL && ca->endpoints != NULL && w->args->keys != NULL &&
	    (w->pwpool = password_pool_new(w->base, ca, ca->pool_threads,
	    AUTHEP_PW_QUEUE, &err)) == NULL) {
		log_errorx("worker %d: %s", w->args->id, err);
		return -1;
	}
	w->authep = authep_new(w->auth, w->args->conf, w->args->keys,
	    w->pwpool);
	if (w->args->keys != NULL && (w->signer = keymgr_client_new(w->base,
	    w->args->chan_fd, KEYMGR_DEADLINE_MS)) == NULL) {
		log_errorx("worker %d: cannot set up signing", w->args->id);
		return -1;
	}
	authep_set_signer(w->authep, w->signer);
	if (authep_add(w->authep, w->http, &err) == -1) {
		log_errorx("worker %d: built-in endpoints: %s", w->args->id,
		    err);
		return -1;
	}
	return 0;
}

static int
worker_listen_one(struct worker *w, int fd)
{
	const char	*err;

	if (http_server_listen(w->http, fd, &err) == -1) {
		log_errorx("worker %d: %s", w->args->id, err);
		return -1;
	}
	return 0;
}

/*
 * The listening sockets, once: at start-up, or on CHAN_TAKE_OVER; its own
 * slot's first, then, with sibling workers, theirs (balance.h).
 */
static int
worker_listen(struct worker *w)
{
	const struct worker_args *a = w->args;
	size_t			 i, own;

	if (w->listening || w->draining)
		return 0;
	w->listening = true;
	http_server_balance(w->http, a->balance, (size_t)a->id);
	for (i = 0; i < a->nlisten_fds; i++)
		if (worker_listen_one(w, a->listen_fds[i]) == -1)
			return -1;
	if (a->balance == NULL)
		return 0;
	own = (size_t)a->id * a->nlisten_fds;
	for (i = 0; i < a->nall_fds; i++)
		if ((i < own || i >= own + a->nlisten_fds) &&
		    worker_listen_one(w, a->all_fds[i]) == -1)
			return -1;
	return 0;
}

static void
worker_stop(evutil_socket_t fd, short what, void *arg)
{
	struct worker	*w = arg;

	(void)fd;
	(void)what;
	log_notice("worker %d: shutdown_timeout reached with %zu connections",
	    w->args->id, http_server_connections(w->http));
	event_base_loopexit(w->base, NULL);
}

/*
 * Every connection is closed.  Audited writes whose clients left first
 * still send their records as their segments end (audit_orphan.h).
 */
static void
worker_drained(void *arg)
{
	struct worker	*w = arg;

	if (audit_orphan_pending() > 0) {
		audit_orphan_wait(worker_drained, w);
		return;
	}
	event_base_loopexit(w->base, NULL);
}

static void
worker_drain(struct worker *w)
{
	struct timeval	 tv;
	int64_t		 ms = w->args->conf->server.shutdown_timeout_ms;

	if (w->draining)
		return;
	w->draining = true;
	log_info("worker %d: draining", w->args->id);
	bw_ms_to_tv(ms, &tv);
	event_add(w->stop_ev, &tv);
	http_server_drain(w->http, worker_drained, w);
}

static void
worker_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	worker_drain(arg);
}

static void
worker_message(struct worker *w, enum chan_type type, size_t len, int passfd)
{
	struct chan_ticket_keys	 keys;

	switch (type) {
	case CHAN_DRAIN:
		worker_drain(w);
		break;
	case CHAN_TAKE_OVER:
		if (worker_listen(w) == -1)
			worker_drain(w);
		break;
	case CHAN_TICKET_KEYS:
		if (len != sizeof(keys) || w->args->tls_ctx == NULL) {
			log_warnx("worker %d: ticket keys ignored", w->args->id);
			break;
		}
		memcpy(&keys, w->msg, sizeof(keys));
		if (tls_ticket_keys_set(w->args->tls_ctx, &keys) == -1)
			log_warnx("worker %d: cannot install ticket keys",
			    w->args->id);
		bw_wipe(&keys, sizeof(keys));
		break;
	case CHAN_SIGNATURE:
		if (keymgr_client_answer(w->signer, w->msg, len) == -1)
			log_warnx("worker %d: malformed signature message",
			    w->args->id);
		break;
	case CHAN_AUDIT_FD:
		w->audit_asked = false;
		if (w->audit != NULL && passfd != -1) {
			audit_client_set_fd(w->audit, passfd);
			passfd = -1;
		}
		break;
	case CHAN_REOPEN_LOGS:
		/* The master reopened the file and passed it along. */
		if (passfd != -1)
			log_access_set_fd(passfd);
		passfd = -1;
		break;
	default:
		log_warnx("worker %d: unexpected message %u", w->args->id,
		    (unsigned)type);
		break;
	}
	bw_wipe(w->msg, len);
	if (passfd != -1)
		close(passfd);
}

static void
worker_chan(evutil_socket_t fd, short what, void *arg)
{
	struct worker	*w = arg;
	enum chan_type	 type;
	size_t		 len;
	int		 rv, passfd;

	(void)what;
	for (;;) {
		rv = chan_recv_fd(fd, &type, w->msg, sizeof(w->msg), &len,
		    &passfd);
		if (rv == 1) {
			worker_message(w, type, len, passfd);
			continue;
		}
		if (rv == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (rv == 0)
			log_info("worker %d: the master is gone", w->args->id);
		else
			log_warnx("worker %d: channel: %s", w->args->id,
			    strerror(errno));
		event_del(w->chan_ev);
		worker_drain(w);
		return;
	}
}

/*
 * The audit client on the descriptor the master connected, and this
 * instance's name for the rows of audited writes: both before the sandbox.
 */
static int
worker_audit_setup(struct worker *w)
{
	const struct worker_args *a = w->args;
	const char		*err;
	int			 fd = a->audit_fd;

	if (a->conf->audit == NULL)
		return 0;
	if (audit_instance(a->conf, NULL, w->instance, sizeof(w->instance),
	    &err) == -1) {
		log_errorx("worker %d: audit: %s", a->id, err);
		if (fd != -1)
			close(fd);
		return -1;
	}
	if ((w->audit = audit_client_new(w->base, fd)) == NULL) {
		log_errorx("worker %d: cannot set up the audit client", a->id);
		if (fd != -1)
			close(fd);
		return -1;
	}
	if (a->api != NULL)
		api_attach_audit(a->api, w->audit, w->instance);
	audit_client_set_default(w->audit);
	return 0;
}

/*
 * A lost writer: ask the master for a connection to its successor, at
 * most every WORKER_AUDIT_ASK_MS (the readiness poll runs more often).
 */
#define WORKER_AUDIT_ASK_MS	250

static void
worker_audit_check(struct worker *w)
{
	int64_t	 now = bw_now_ms();

	if (w->audit == NULL || w->audit_asked ||
	    audit_client_connected(w->audit) ||
	    now - w->audit_asked_ms < WORKER_AUDIT_ASK_MS)
		return;
	w->audit_asked_ms = now;
	if (chan_send(w->args->chan_fd, CHAN_AUDIT_FD, NULL, 0) == 0)
		w->audit_asked = true;
}

static int
worker_setup(struct worker *w)
{
	const struct worker_args *a = w->args;
	struct event_config	*cfg;
	const char		*err;
	int			 fl;

	if ((cfg = event_config_new()) == NULL)
		return -1;
	/*
	 * The epoll change list applies the changes of one pass at its end,
	 * so an event armed and disarmed in the same pass (a response's
	 * EPOLLOUT: http_conn_flush) costs no epoll_ctl.  It is unsafe for a
	 * descriptor closed while another copy of it stays open (the kernel
	 * keeps the registration): the only shared ones a worker watches
	 * are the listening sockets, which it disables and closes only at
	 * exit (http_server_drain).
	 */
	event_config_set_flag(cfg, EVENT_BASE_FLAG_NOLOCK |
	    EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
	w->base = event_base_new_with_config(cfg);
	event_config_free(cfg);
	if (w->base == NULL) {
		log_errorx("worker %d: cannot create an event base", a->id);
		return -1;
	}
	w->http = http_server_new(w->base, a->conf, a->tls_ctx, &err);
	if (w->http == NULL) {
		log_errorx("worker %d: %s", a->id, err);
		return -1;
	}
	if (a->api != NULL) {
		if ((w->auth = auth_new(w->base, a->conf, a->keys,
		    &err)) == NULL) {
			log_errorx("worker %d: %s", a->id, err);
			return -1;
		}
		if (api_add_routes(a->api, w->http, &err) == -1) {
			log_errorx("worker %d: %s", a->id, err);
			return -1;
		}
		if (worker_endpoints(w) == -1)
			return -1;
		http_server_set_admit(w->http, auth_admit, w->auth);
	} else if (http_server_add_routes(w->http, &worker_no_routes_ops,
	    &err) == -1) {
		log_errorx("worker %d: %s", a->id, err);
		return -1;
	}
	if (worker_audit_setup(w) == -1)
		return -1;
	if (!a->hold && worker_listen(w) == -1)
		return -1;
	if ((fl = fcntl(a->chan_fd, F_GETFL)) == -1 ||
	    fcntl(a->chan_fd, F_SETFL, fl | O_NONBLOCK) == -1) {
		log_errorx("worker %d: channel: %s", a->id, strerror(errno));
		return -1;
	}
	w->chan_ev = event_new(w->base, a->chan_fd, EV_READ | EV_PERSIST,
	    worker_chan, w);
	w->stop_ev = evtimer_new(w->base, worker_stop, w);
	w->sigterm_ev = evsignal_new(w->base, SIGTERM, worker_signal, w);
	w->sigint_ev = evsignal_new(w->base, SIGINT, worker_signal, w);
	if (w->chan_ev == NULL || w->stop_ev == NULL ||
	    w->sigterm_ev == NULL || w->sigint_ev == NULL ||
	    event_add(w->chan_ev, NULL) == -1 ||
	    event_add(w->sigterm_ev, NULL) == -1 ||
	    event_add(w->sigint_ev, NULL) == -1) {
		log_errorx("worker %d: cannot set up events", a->id);
		return -1;
	}
	return 0;
}

/*
 * A pool per replica (SPEC 13), with the primary's sizes; replica: true
 * routes use them while they have a connection.
 */
static void
worker_replicas_start(struct worker *w, const struct db_pool_params *base)
{
	const struct worker_args	*a = w->args;
	struct db_pool_params		 p = *base;
	size_t				 i;

	if (a->nreplicas == 0)
		return;
	w->replicas = bw_calloc(a->nreplicas, sizeof(*w->replicas));
	for (i = 0; i < a->nreplicas; i++) {
		p.keys = a->replicas[i].keys;
		p.vals = a->replicas[i].vals;
		w->replicas[i] = db_pool_new(w->base, &p);
	}
	w->nreplicas = a->nreplicas;
	api_attach_replicas(a->api, w->replicas, w->nreplicas);
	for (i = 0; i < w->nreplicas; i++)
		db_pool_start(w->replicas[i]);
}

/*
 * The database pool starts after the sandbox is in place, so the first
 * connection is made exactly like every reconnect: as the worker user,
 * under seccomp.  Until a connection is ready, routes answer 503.
 */
static void
worker_db_start(struct worker *w)
{
	const struct worker_args	*a = w->args;
	const struct conf_database	*d = a->conf->database;
	struct db_pool_params		 p;
	const char			*err;

	if (a->db == NULL || d == NULL)
		return;
	p.keys = a->db->keys;
	p.vals = a->db->vals;
	p.pool_size = d->pool_size;
	p.max_queue = d->max_queue;
	p.queue_timeout_ms = d->queue_timeout_ms;
	p.connect_timeout_ms = d->connect_timeout_ms;
	w->pool = db_pool_new(w->base, &p);
	api_attach_pool(a->api, w->pool);
	if (w->auth != NULL && a->conf->auth != NULL) {
		auth_attach_pool(w->auth, w->pool);
		authep_attach_pool(w->authep, w->pool);
		if (auth_listen(w->auth, a->db->keys, a->db->vals,
		    d->connect_timeout_ms, &err) == -1)
			log_warnx("worker %d: %s", a->id, err);
	}
	db_pool_start(w->pool);
	worker_replicas_start(w, &p);
}

/*
 * Readiness (SPEC 12): the pool has a connection and, with auth, the
 * revocation state is loaded.  Neither layer calls back when that
 * changes, so it is polled: often until ready, then now and then to see
 * it lost.  Each change goes to the master as CHAN_STATE.
 */
#define WORKER_STATE_POLL_MS	20
#define WORKER_STATE_IDLE_MS	250

/* The pool gauges of /metrics, stored at the same pace. */
static void
worker_metrics(const struct worker *w)
{
	size_t	 in_use = 0, waiting = 0;

	if (w->pool != NULL)
		db_pool_usage(w->pool, &in_use, &waiting);
	metrics_worker_set(w->args->id, in_use, waiting,
	    w->audit != NULL ? audit_client_depth(w->audit) : 0);
}

static void
worker_state_report(evutil_socket_t fd, short what, void *arg)
{
	struct worker		*w = arg;
	struct chan_state	 s;
	struct timeval		 tv;

	(void)fd;
	(void)what;
	worker_audit_check(w);
	s.pool = w->args->db == NULL ? CHAN_PART_NONE :
	    w->pool != NULL && db_pool_ready(w->pool) > 0 ? CHAN_PART_UP :
	    CHAN_PART_DOWN;
	s.revocation = w->auth == NULL || w->args->conf->auth == NULL ?
	    CHAN_PART_NONE : auth_ready(w->auth) ? CHAN_PART_UP :
	    CHAN_PART_DOWN;
	s.audit = w->audit == NULL ? CHAN_PART_NONE :
	    audit_client_answered(w->audit) ? CHAN_PART_UP : CHAN_PART_DOWN;
	if (!w->state_sent || memcmp(&s, &w->state, sizeof(s)) != 0) {
		if (chan_send(w->args->chan_fd, CHAN_STATE, &s, sizeof(s)) == 0) {
			w->state = s;
			w->state_sent = true;
		}
	}
	worker_metrics(w);
	bw_ms_to_tv(chan_state_ready(&s) ? WORKER_STATE_IDLE_MS :
	    WORKER_STATE_POLL_MS, &tv);
	evtimer_add(w->state_ev, &tv);
}

static void
worker_teardown(struct worker *w)
{
	/* Orphans still pending end below, with no drain left to resume. */
	audit_orphan_wait(NULL, NULL);
	http_server_free(w->http);
	authep_free(w->authep);
	keymgr_client_free(w->signer);
	auth_free(w->auth);
	password_pool_free(w->pwpool);
	if (w->nreplicas > 0) {
		api_attach_replicas(w->args->api, NULL, 0);
		while (w->nreplicas > 0)
			db_pool_free(w->replicas[--w->nreplicas]);
	}
	free(w->replicas);
	if (w->audit != NULL && w->args->api != NULL)
		api_attach_audit(w->args->api, NULL, NULL);
	audit_client_set_default(NULL);
	audit_client_free(w->audit);
	if (w->pool != NULL) {
		api_attach_pool(w->args->api, NULL);
		db_pool_free(w->pool);
	}
	if (w->chan_ev != NULL)
		event_free(w->chan_ev);
	if (w->stop_ev != NULL)
		event_free(w->stop_ev);
	if (w->sigterm_ev != NULL)
		event_free(w->sigterm_ev);
	if (w->sigint_ev != NULL)
		event_free(w->sigint_ev);
	if (w->state_ev != NULL)
		event_free(w->state_ev);
	if (w->base != NULL)
		event_base_free(w->base);
	bw_wipe(w->msg, sizeof(w->msg));
	free(w);
}

static void
worker_ignore(int sig)
{
	if (signal(sig, SIG_IGN) == SIG_ERR)
		log_warnx("cannot ignore signal %d", sig);
}

int
worker_main(const struct worker_args *args)
{
	struct worker	*w;
	int		 rv = 0;

	worker_ignore(SIGPIPE);
	worker_ignore(SIGHUP);
	worker_ignore(SIGUSR1);
	w = bw_calloc(1, sizeof(*w));
	w->args = args;
	if (worker_setup(w) == -1 || sandbox_worker(args->conf) == -1) {
		worker_teardown(w);
		return 3;
	}
	worker_db_start(w);
	if (chan_send(args->chan_fd, CHAN_READY, NULL, 0) == -1)
		log_warnx("worker %d: cannot report ready: %s", args->id,
		    strerror(errno));
	if ((w->state_ev = evtimer_new(w->base, worker_state_report, w)) != NULL)
		worker_state_report(-1, 0, w);
	log_info("worker %d: serving", args->id);
	if (event_base_dispatch(w->base) == -1) {
		log_errorx("worker %d: event loop failed", args->id);
		rv = 3;
	}
	log_info("worker %d: exiting", args->id);
	worker_teardown(w);
	return rv;
}
