/*
 * master_gen.c - listening sockets, reload generations and session-ticket
 * keys.
 *
 * The listening sockets are bound once for the master's whole life: one
 * SO_REUSEPORT socket per worker slot and listen address.  A generation
 * is what the workers of one configuration share (struct master_gen),
 * built here before they fork.  A reload loads and checks the new
 * configuration (its statements in a child, while the master's loop goes
 * on), keeps the restart-only keys, and starts a new generation of
 * workers on the same sockets; the old generation drains only when the
 * new one serves (master_child.c), so no queued connection is reset.
 *
 *   SIGHUP -> prepared -> [check child runs] -> reaped -> finished
 *                 |                                 |         (new workers)
 *                 +-> failed (old one serves) <-----+
 *
 * Without a database there is nothing to check; when fork fails the
 * master checks in place, as at start.  Invariant: at most one check
 * child; while it runs m->next holds the generation it checks and a
 * further SIGHUP is queued.
 *
 * The session-ticket keys are made here and rotated hourly; every rotation
 * reaches every worker over its channel.
 */
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/ssl.h>

#include "api.h"
#include "audit_writer.h"
#include "backup_sched.h"
#include "chan.h"
#include "conf.h"
#include "dbconf.h"
#include "keymgr.h"
#include "keys.h"
#include "log.h"
#include "master.h"
#include "master_int.h"
#include "notify.h"
#include "result.h"
#include "tls.h"
#include "util.h"

/*
 * Listening sockets.
 */
void
master_addr_text(const struct sockaddr *sa, char *buf, size_t bufsz)
{
	char		 host[INET6_ADDRSTRLEN];
	unsigned	 port;

	host[0] = '\0';
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const void *)sa;

		inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
		port = ntohs(s4->sin_port);
		(void)snprintf(buf, bufsz, "%s:%u", host, port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)sa;

		inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
		port = ntohs(s6->sin6_port);
		(void)snprintf(buf, bufsz, "[%s]:%u", host, port);
	} else
		bw_strlcpy(buf, "?", bufsz);
}

int
master_listen_socket(const struct sockaddr *sa, socklen_t salen,
    int reuseport, const char **err)
{
	static char	 ebuf[256];
	char		 addr[80];
	const char	*step;
	int		 fd, one = 1, saved;

	step = "socket";
	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd == -1)
		goto fail;
	step = "setsockopt";
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1)
		goto fail;
	if (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one,
	    sizeof(one)) == -1)
		goto fail;
	if (sa->sa_family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6,
	    IPV6_V6ONLY, &one, sizeof(one)) == -1)
		goto fail;
	step = "bind";
	if (bind(fd, sa, salen) == -1)
		goto fail;
	step = "listen";
	if (listen(fd, MASTER_LISTEN_BACKLOG) == -1)
		goto fail;
	return fd;
fail:
	saved = errno;
	if (fd != -1)
		close(fd);
	master_addr_text(sa, addr, sizeof(addr));
	(void)snprintf(ebuf, sizeof(ebuf), "%s %s: %s", step, addr,
	    strerror(saved));
	*err = ebuf;
	errno = saved;
	return -1;
}

void
master_close_fds(int *fds, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++) {
		if (fds[i] != -1)
			close(fds[i]);
		fds[i] = -1;
	}
}

/*
 * SO_REUSEPORT would let this daemon silently share a port with another
 * process of the same user (a second bulwarkd): before the group is
 * formed, a plain bind (SO_REUSEADDR only, so TIME_WAIT does not count)
 * must succeed, which it does not while anyone listens there.
 */
static int
master_listen_probe(const struct sockaddr *sa, socklen_t sl, const char **err)
{
	int	 fd;

	if ((fd = master_listen_socket(sa, sl, 0, err)) == -1)
		return -1;
	close(fd);
	return 0;
}

static unsigned
master_port(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)ss)->sin_port);
	if (ss->ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
	return 0;
}

int
master_listen_open(const struct conf_listen *ls, size_t nlisten,
    size_t nslots, int *fds, const char **err)
{
	struct sockaddr_storage	 ss;
	socklen_t		 sl;
	size_t			 i, s;

	for (i = 0; i < nslots * nlisten; i++)
		fds[i] = -1;
	for (i = 0; i < nlisten; i++) {
		memcpy(&ss, &ls[i].addr, sizeof(ss));
		sl = ls[i].addrlen;
		if (master_port(&ss) != 0 &&
		    master_listen_probe((struct sockaddr *)&ss, sl, err) == -1)
			goto fail;
		for (s = 0; s < nslots; s++) {
			fds[s * nlisten + i] = master_listen_socket(
			    (struct sockaddr *)&ss, sl, 1, err);
			if (fds[s * nlisten + i] == -1)
				goto fail;
			/* Port 0: every slot joins the port the first got. */
			if (s == 0 && getsockname(fds[i],
			    (struct sockaddr *)&ss, &sl) == -1) {
				*err = "getsockname failed";
				goto fail;
			}
		}
	}
	return 0;
fail:
	master_close_fds(fds, nslots * nlisten);
	return -1;
}

/*
 * Restart-only keys.
 */
static bool
master_str_differ(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a != b;
	return strcmp(a, b) != 0;
}

static void
master_swap_str(char **a, char **b)
{
	char	*t = *a;

	*a = *b;
	*b = t;
}

static bool
master_listen_differ(const struct conf_server *a, const struct conf_server *b)
{
	size_t	 i;

	if (a->nlisten != b->nlisten)
		return true;
	for (i = 0; i < a->nlisten; i++)
		if (a->listen[i].addrlen != b->listen[i].addrlen ||
		    memcmp(&a->listen[i].addr, &b->listen[i].addr,
		    a->listen[i].addrlen) != 0)
			return true;
	return false;
}

static bool
master_admin_differ(const struct conf_admin *a, const struct conf_admin *b)
{
	if (a == NULL || b == NULL)
		return a != b;
	return a->listen.addrlen != b->listen.addrlen ||
	    memcmp(&a->listen.addr, &b->listen.addr, a->listen.addrlen) != 0;
}

static void
master_kept(const char *key)
{
	log_warnx("reload: %s changed: it needs a restart; the running "
	    "value is kept", key);
}

int
master_keep_restart_keys(struct conf *cur, struct conf *next)
{
	struct conf_server	*a = &cur->server, *b = &next->server;
	struct conf_listen	*lt;
	struct conf_admin	*at;
	size_t			 nt;
	int			 kept = 0;

	if (master_str_differ(a->user, b->user)) {
		master_swap_str(&a->user, &b->user);
		master_kept("server.user");
		kept++;
	}
	if (master_str_differ(a->group, b->group)) {
		master_swap_str(&a->group, &b->group);
		master_kept("server.group");
		kept++;
	}
	if (master_str_differ(a->pid_file, b->pid_file)) {
		master_swap_str(&a->pid_file, &b->pid_file);
		master_kept("server.pid_file");
		kept++;
	}
	if (a->workers != b->workers) {
		b->workers = a->workers;
		b->workers_auto = a->workers_auto;
		master_kept("server.workers");
		kept++;
	}
	if (master_listen_differ(a, b)) {
		lt = a->listen;
		nt = a->nlisten;
		a->listen = b->listen;
		a->nlisten = b->nlisten;
		b->listen = lt;
		b->nlisten = nt;
		master_kept("server.listen");
		kept++;
	}
	if (cur->seccomp != next->seccomp) {
		next->seccomp = cur->seccomp;
		master_kept("security.seccomp");
		kept++;
	}
	if (master_admin_differ(cur->admin, next->admin)) {
		at = cur->admin;
		cur->admin = next->admin;
		next->admin = at;
		master_kept("admin");
		kept++;
	}
	return kept;
}

/*
 * Reload.
 */

/*
 * A TLS context whose private key stays in the key manager: the master
 * sends the key file's bytes there and builds the context from the
 * certificate chain and the provider-backed key (tlskey.h).
 */
static SSL_CTX *
master_tls_ctx(const struct conf *conf, const struct conf_tls *t,
    char *const *hostnames, size_t n, const char **err)
{
	EVP_PKEY	*key;
	SSL_CTX		*ctx;

	if ((key = keymgr_tls_key(conf, t->private_key, err)) == NULL)
		return NULL;
	ctx = tls_ctx_new_key(t, key, hostnames, n, err);
	EVP_PKEY_free(key);
	return ctx;
}

static SSL_CTX *
master_admin_tls(const struct conf *conf, const char **err)
{
	struct conf_tls	 t;

	if (conf->admin == NULL || !conf->admin->tls)
		return NULL;
	memset(&t, 0, sizeof(t));
	t.certificate = conf->admin->certificate;
	t.private_key = conf->admin->private_key;
	t.profile = TLS_PROFILE_INTERMEDIATE;
	t.client_ca = conf->admin->client_ca;
	t.client_verify = CLIENT_VERIFY_REQUIRED;
	return master_tls_ctx(conf, &t, NULL, 0, err);
}

void
master_gen_free(struct master_gen *g)
{
	api_free(g->api);
	keys_set_free(g->keys);
	if (g->have_db)
		dbconf_free(&g->db);
	while (g->nreplicas > 0)
		dbconf_free(&g->replicas[--g->nreplicas]);
	free(g->replicas);
	tls_ctx_free(g->tls);
	tls_ctx_free(g->admin_tls);
	conf_free(g->conf);
	memset(g, 0, sizeof(*g));
}

/* The connection parameters of database.replicas (SPEC 13). */
static int
master_gen_replicas(const struct conf *conf, struct master_gen *g,
    struct bw_diag *diag)
{
	const char	*err;
	size_t		 i, n = conf->database->nreplicas;

	if (n == 0)
		return 0;
	g->replicas = bw_calloc(n, sizeof(*g->replicas));
	for (i = 0; i < n; i++) {
		if (dbconf_build_replica(conf, i, &g->replicas[i], &err) ==
		    -1) {
			bw_diag_add(diag, conf->file,
			    conf->database->conninfo_pos.line,
			    conf->database->conninfo_pos.col, "replica %zu: %s",
			    i, err);
			return -1;
		}
		g->nreplicas++;
	}
	return 0;
}

/*
 * The first part of a build, from a loaded configuration (which g then
 * owns): what -t checks, then the routes and the database's connection
 * parameters.  Returns 0, or -1 after printing every problem (g is then
 * empty and conf freed).
 */
static int
master_gen_prepare(struct conf *conf, struct master_gen *g)
{
	struct bw_diag		 diag = { 0 };
	const char		*err = NULL, *errpath = NULL;
	bool			 bad;

	memset(g, 0, sizeof(*g));
	g->conf = conf;
	if (!conf->server.plaintext && (g->tls = master_tls_ctx(conf,
	    &conf->server.tls, conf->server.hostnames,
	    conf->server.nhostnames, &err)) == NULL)
		bw_diag_add(&diag, conf->file, 1, 1, "TLS: %s", err);
	if (conf->admin != NULL && conf->admin->tls &&
	    (g->admin_tls = master_admin_tls(conf, &err)) == NULL)
		bw_diag_add(&diag, conf->file, 1, 1, "admin TLS: %s", err);
	if (master_check_rlimit(conf, &err) == -1)
		bw_diag_add(&diag, conf->file, 1, 1, "%s", err);
	/* The key files go to the key manager; the master keeps no key. */
	if (conf->auth != NULL && (g->keys = keymgr_keys(conf, &err,
	    &errpath)) == NULL)
		bw_diag_add(&diag, conf->file, 1, 1, "%s: %s", errpath != NULL ?
		    errpath : "auth keys", err);
	if (diag.errors == 0)
		g->api = api_load(conf, &diag);
	bad = g->api == NULL;
	if (!bad && conf->database != NULL) {
		if (dbconf_build(conf, &g->db, &err) == -1) {
			bw_diag_add(&diag, conf->file,
			    conf->database->conninfo_pos.line,
			    conf->database->conninfo_pos.col, "%s", err);
			bad = true;
		} else {
			g->have_db = true;
			bad = master_gen_replicas(conf, g, &diag) == -1;
		}
	}
	bw_diag_print(&diag, stderr);
	bw_diag_free(&diag);
	if (bad) {
		master_gen_free(g);
		return -1;
	}
	return 0;
}

/*
 * The second part: every statement prepared on the database (which also
 * loads its type catalog into this process, result.h).  Blocks up to
 * database.connect_timeout and more; prints what it finds.
 */
static enum dbconf_check
master_gen_check_db(const struct master_gen *g)
{
	struct bw_diag		 diag = { 0 };
	enum dbconf_check	 db = DBCONF_OK;

	if (g->have_db)
		db = dbconf_check(g->conf, g->api, &diag);
	bw_diag_print(&diag, stderr);
	bw_diag_free(&diag);
	return db;
}

/* The end of a build: 0, or -1 with g freed when a statement is refused. */
static int
master_gen_checked(struct master_gen *g, enum dbconf_check db)
{
	if (db == DBCONF_UNREACHABLE)
		log_warnx("the database cannot be reached: statements not "
		    "checked; routes answer 503 until it can be");
	if (db != DBCONF_INVALID)
		return 0;
	master_gen_free(g);
	return -1;
}

/*
 * Builds a generation at start, before any child runs: the database is
 * checked in the master itself.  A database that cannot be reached is not
 * an error: routes answer 503 until it can.  Returns 0, or -1 after
 * printing every problem (g is then empty and conf freed).
 */
int
master_gen_build(struct conf *conf, struct master_gen *g)
{
	if (master_gen_prepare(conf, g) == -1)
		return -1;
	return master_gen_checked(g, master_gen_check_db(g));
}

/*
 * A reload's database check runs in a child, so that the master's loop
 * goes on meanwhile: it relays the workers' handshake and token
 * signatures, which wait at most 500 ms, while a check may wait for
 * database.connect_timeout.  The child reports its verdict as its exit
 * status and the type catalog it loaded through a shared mapping; it
 * writes nothing else the master reads, holds nothing the master does
 * not, and dies with the master.
 */
struct master_check_out {
	uint32_t		 ntypes;
	struct result_type_rec	 types[RESULT_TYPES_MAX];
};

static void __attribute__((noreturn))
master_gen_check_child(struct master *m)
{
	enum dbconf_check	 db;

	master_child_signals();
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) == -1 ||
	    getppid() != m->pid)
		_exit(DBCONF_INVALID);
	db = master_gen_check_db(&m->next);
	m->check_out->ntypes = (uint32_t)result_types_export(
	    m->check_out->types);
	_exit(db);
}

/* 0 once the child runs; -1 when it cannot be started. */
static int
master_gen_check_start(struct master *m)
{
	void	*out;
	pid_t	 pid;

	out = mmap(NULL, sizeof(*m->check_out), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (out == MAP_FAILED)
		return -1;
	m->check_out = out;
	if ((pid = fork()) == 0)
		master_gen_check_child(m);
	if (pid == -1) {
		munmap(m->check_out, sizeof(*m->check_out));
		m->check_out = NULL;
		return -1;
	}
	m->check_pid = pid;
	log_info("reload: checking the statements against the database "
	    "(pid %ld)", (long)pid);
	return 0;
}

/* The child's verdict; its type catalog becomes the master's. */
static enum dbconf_check
master_gen_check_result(struct master *m, int status)
{
	enum dbconf_check	 db = DBCONF_INVALID;

	if (WIFEXITED(status) && (WEXITSTATUS(status) == DBCONF_OK ||
	    WEXITSTATUS(status) == DBCONF_UNREACHABLE ||
	    WEXITSTATUS(status) == DBCONF_INVALID))
		db = (enum dbconf_check)WEXITSTATUS(status);
	else
		log_warnx("reload: the database check ended abnormally "
		    "(status %d)", status);
	if (db != DBCONF_INVALID && result_types_import(m->check_out->types,
	    m->check_out->ntypes) == -1)
		log_warnx("reload: the database check's type catalog is "
		    "malformed; keeping the previous one");
	munmap(m->check_out, sizeof(*m->check_out));
	m->check_out = NULL;
	return db;
}

static void	 master_reload_finish(struct master *, enum dbconf_check);

bool
master_gen_check_reaped(struct master *m, pid_t pid, int status)
{
	enum dbconf_check	 db;

	if (m->check_pid == -1 || pid != m->check_pid)
		return false;
	m->check_pid = -1;
	db = master_gen_check_result(m, status);
	if (m->stopping) {
		master_gen_free(&m->next);
		return true;
	}
	master_reload_finish(m, db);
	/* After a failure: a SIGHUP that came meanwhile may bring a fix. */
	master_reload_queued(m);
	return true;
}

/* On stop: the check is abandoned (its generation freed once reaped). */
void
master_gen_check_stop(struct master *m)
{
	if (m->check_pid != -1)
		(void)kill(m->check_pid, SIGKILL);
}

/* At exit: a check still running is killed and reaped, its state freed. */
void
master_gen_check_free(struct master *m)
{
	if (m->check_pid != -1) {
		master_gen_check_stop(m);
		(void)waitpid(m->check_pid, NULL, 0);
		m->check_pid = -1;
	}
	if (m->check_out != NULL) {
		munmap(m->check_out, sizeof(*m->check_out));
		m->check_out = NULL;
	}
	master_gen_free(&m->next);
}

unsigned
master_generations(const struct master *m)
{
	unsigned	 lo = m->generation;
	size_t		 i;

	for (i = 0; i < m->nchildren; i++)
		if (m->children[i]->generation < lo)
			lo = m->children[i]->generation;
	return m->generation - lo + 1;
}

/*
 * A reload waits while the previous one has not taken over (SPEC 12: a
 * SIGHUP that arrives meanwhile is queued) or while too many generations
 * still run.
 */
static bool
master_reload_busy(const struct master *m)
{
	return m->check_pid != -1 || m->serving != m->generation ||
	    master_generations(m) >= MASTER_MAX_GENERATIONS;
}

static void
master_reload_failed(struct master *m)
{
	log_errorx("reload failed: the configuration is invalid; still "
	    "serving the previous one");
	notify_status("reload failed: serving the previous configuration");
	notify_ready();
	master_audit_config(m, "config.reload_failed");
}

void
master_reload(struct master *m)
{
	struct bw_diag		 diag = { 0 };
	struct conf		*conf;

	if (m->stopping)
		return;
	if (master_reload_busy(m)) {
		if (!m->reload_pending && m->check_pid != -1)
			log_notice("reload queued: the previous reload's "
			    "statements are being checked");
		else if (!m->reload_pending)
			log_notice("reload queued: generation %u %s",
			    m->generation, m->serving != m->generation ?
			    "has not taken over yet" :
			    "waits for older generations to drain");
		m->reload_pending = true;
		return;
	}
	m->reload_pending = false;
	notify_reloading();
	log_notice("reloading %s", m->config_path);
	conf = conf_load(m->config_path, &diag);
	bw_diag_print(&diag, stderr);
	bw_diag_free(&diag);
	if (conf == NULL || master_gen_prepare(conf, &m->next) == -1) {
		master_reload_failed(m);
		return;
	}
	if (m->next.have_db && master_gen_check_start(m) == 0)
		return;		/* master_gen_check_reaped() goes on */
	master_reload_finish(m, master_gen_check_db(&m->next));
}

/* The checked generation replaces the serving one's configuration. */
static void
master_reload_finish(struct master *m, enum dbconf_check db)
{
	struct master_gen	 old;
	SSL_CTX			*t;
	enum log_level		 level;
	enum log_format		 format;
	const char		*err = NULL;
	bool			 admin_kept;
	size_t			 s;

	if (master_gen_checked(&m->next, db) == -1) {
		master_reload_failed(m);
		return;
	}
	/* A kept admin section keeps its TLS context too. */
	admin_kept = master_admin_differ(m->gen.conf->admin,
	    m->next.conf->admin);
	master_keep_restart_keys(m->gen.conf, m->next.conf);
	if (admin_kept) {
		t = m->gen.admin_tls;
		m->gen.admin_tls = m->next.admin_tls;
		m->next.admin_tls = t;
	}
	if (master_raise_rlimit(m->next.conf, &err) == -1)
		log_warnx("reload: %s", err);
	if (log_level_parse(m->next.conf->logging.level, &level) == 0)
		log_set_level(level);
	if (log_format_parse(m->next.conf->logging.format, &format) == 0)
		log_set_format(format);
	old = m->gen;
	m->gen = m->next;
	memset(&m->next, 0, sizeof(m->next));
	audit_writer_conf(m->gen.conf);
	keymgr_conf(m->gen.conf);
	backup_sched_reload(m->backup, m->gen.conf);
	m->generation++;
	for (s = 0; s < m->nslots; s++) {
		evtimer_del(m->slots[s].restart_ev);
		master_spawn_slot(m, s);
	}
	/* Children hold their own copy; the master no longer needs it. */
	master_gen_free(&old);
	master_audit_config(m, "config.reload");
	master_ready_check(m);
}

void
master_reload_queued(struct master *m)
{
	if (m->reload_pending && !m->stopping && !master_reload_busy(m))
		master_reload(m);
}

void
master_rotate_keys(evutil_socket_t fd, short what, void *arg)
{
	struct master	*m = arg;
	size_t		 i;

	(void)fd;
	(void)what;
	if (!m->have_keys || tls_ticket_keys_rotate(&m->keys) == -1) {
		log_warnx("cannot rotate the session-ticket keys");
		return;
	}
	for (i = 0; i < m->nchildren; i++)
		if (m->children[i]->kind == MASTER_WORKER)
			master_send(m->children[i], CHAN_TICKET_KEYS, &m->keys,
			    sizeof(m->keys));
	log_info("session-ticket keys rotated");
}
