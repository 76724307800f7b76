/*
 * master_ready.c - readiness and the hand-over between generations (SPEC
 * 12 Readiness, SPEC 11).
 *
 * A worker is up once it reports CHAN_READY (set up and sandboxed), and
 * ready once its CHAN_STATE says that its pool has a connection and, with
 * auth, its revocation state is loaded.  It can serve when it is ready, or
 * up for database.connect_timeout (a database that cannot be reached must
 * not keep the daemon from starting or a reload from ending).
 *
 * Hand-over: every worker slot has its SO_REUSEPORT sockets, held by the
 * master and shared by the slot's workers of every generation.  A worker
 * started while an older one accepts on its slot (a reload) is held: it
 * does not accept until CHAN_TAKE_OVER, so the old worker keeps serving
 * and no request reaches a worker that cannot serve it.  A generation
 * takes over when every one of its workers can serve: its held workers
 * are told to accept, the older generations drain (their queued
 * connections stay in the shared sockets and go to the new workers), the
 * admin listener is replaced, and READY=1 goes to systemd.  A worker
 * without an older one on its slot (first start, a crash replacement, the
 * old one died) accepts at once.  A SIGHUP before the take-over is queued
 * (master_gen.c).
 *
 * The admin listener gets the readiness table (CHAN_HEALTH) whenever it
 * may have changed: per slot, whether a worker accepts there and whether
 * that worker is ready.
 *
 * Threat model: CHAN_STATE comes from a worker, checked by
 * chan_state_parse(); a worker can at most lie about its own readiness.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "chan.h"
#include "conf.h"
#include "log.h"
#include "master.h"
#include "master_int.h"
#include "notify.h"
#include "util.h"

static bool
master_ready_can_serve(const struct master_child *c)
{
	return c->up && (c->waited || chan_state_ready(&c->state));
}

/* A worker of an older generation that still accepts on slot s. */
static struct master_child *
master_ready_older(const struct master *m, size_t s)
{
	struct master_child	*c;
	size_t			 i;

	for (i = 0; i < m->nchildren; i++) {
		c = m->children[i];
		if (c->kind == MASTER_WORKER && (size_t)c->slot == s &&
		    c->generation != m->generation && c->accepting &&
		    !c->draining)
			return c;
	}
	return NULL;
}

bool
master_ready_hold(const struct master *m, size_t s)
{
	return master_ready_older(m, s) != NULL;
}

static void
master_ready_wait_cb(evutil_socket_t fd, short what, void *arg)
{
	struct master_child	*c = arg;

	(void)fd;
	(void)what;
	c->waited = true;
	if (c->up && !chan_state_ready(&c->state))
		log_warnx("worker %d (pid %ld) not ready after "
		    "database.connect_timeout: serving anyway", c->slot,
		    (long)c->pid);
	master_ready_check(c->m);
}

void
master_ready_up(struct master *m, struct master_child *c)
{
	const struct conf_database	*d = m->gen.conf->database;
	struct timeval			 tv;

	if (c->up)
		return;
	c->up = true;
	if (c->kind == MASTER_WORKER && c->generation == m->generation) {
		c->wait_ev = evtimer_new(m->base, master_ready_wait_cb, c);
		bw_ms_to_tv(d != NULL ? d->connect_timeout_ms : 0, &tv);
		if (c->wait_ev == NULL || evtimer_add(c->wait_ev, &tv) == -1)
			c->waited = true;
	}
	master_ready_check(m);
}

void
master_ready_state(struct master *m, struct master_child *c,
    const struct chan_state *st)
{
	c->state = *st;
	master_ready_check(m);
}

static void
master_ready_report(void)
{
	char	 c = 'R';

	if (master_ready_fd == -1)
		return;
	if (write(master_ready_fd, &c, 1) != 1)
		log_warnx("cannot report readiness to the parent");
	close(master_ready_fd);
	master_ready_fd = -1;
}

static void
master_ready_take(struct master_child *c)
{
	if (c->accepting)
		return;
	c->accepting = true;
	master_send(c, CHAN_TAKE_OVER, NULL, 0);
}

static size_t
master_ready_count(const struct master *m)
{
	size_t	 s, n = 0;

	for (s = 0; s < m->nslots; s++)
		if (m->slots[s].child != NULL &&
		    chan_state_ready(&m->slots[s].child->state) &&
		    m->slots[s].child->up)
			n++;
	return n;
}

/*
 * The current generation can serve: its held workers accept, the older
 * generations drain, the admin listener of the previous configuration is
 * replaced, and READY=1 is sent (after RELOADING=1 on a reload).
 */
static void
master_ready_take_over(struct master *m)
{
	struct master_child	*c;
	bool			 reload = m->serving != 0;
	size_t			 i, ready;

	m->serving = m->generation;
	for (i = 0; i < m->nslots; i++)
		if (m->slots[i].child != NULL)
			master_ready_take(m->slots[i].child);
	for (i = 0; i < m->nchildren; i++) {
		c = m->children[i];
		if (c->kind == MASTER_WORKER && c->generation != m->generation)
			master_drain_child(c);
	}
	if (reload && m->admin != NULL &&
	    m->admin->generation != m->generation) {
		master_drain_child(m->admin);
		m->admin = NULL;
		master_spawn_admin(m);
	}
	ready = master_ready_count(m);
	log_notice("serving with %zu workers (generation %u)%s", m->nslots,
	    m->generation, ready < m->nslots ? "; not ready: the database "
	    "cannot be reached yet" : "");
	notify_status("serving: %zu workers, generation %u, %zu ready",
	    m->nslots, m->generation, ready);
	notify_ready();
	master_ready_report();
}

/*
 * After anything that may change readiness: held workers whose slot has
 * no older worker left accept now; the generation takes over once all of
 * its workers can serve; the admin listener learns the new table.
 */
void
master_ready_check(struct master *m)
{
	struct master_child	*c;
	size_t			 s, n = 0;

	if (m->stopping)
		return;
	for (s = 0; s < m->nslots; s++) {
		if ((c = m->slots[s].child) == NULL)
			continue;
		if (!c->accepting && master_ready_older(m, s) == NULL)
			master_ready_take(c);
		if (master_ready_can_serve(c))
			n++;
	}
	if (m->serving != m->generation && n == m->nslots) {
		master_ready_take_over(m);
		master_reload_queued(m);
	}
	master_send_health(m);
}

/* The worker that accepts on slot s: the current one, else an older one. */
static const struct master_child *
master_ready_server(const struct master *m, size_t s)
{
	const struct master_child	*c = m->slots[s].child;

	if (c != NULL && c->accepting && !c->draining)
		return c;
	return master_ready_older(m, s);
}

void
master_send_health(struct master *m)
{
	struct chan_health		 h;
	const struct master_child	*c;
	size_t				 s;

	if (m->admin == NULL)
		return;
	memset(&h, 0, sizeof(h));
	h.workers = (uint32_t)m->nslots;
	for (s = 0; s < m->nslots && s < CHAN_HEALTH_MAX; s++) {
		if ((c = master_ready_server(m, s)) == NULL || !c->up)
			continue;
		h.slot[s].up = 1;
		h.slot[s].pool = (uint8_t)c->state.pool;
		h.slot[s].revocation = (uint8_t)c->state.revocation;
		h.slot[s].audit = (uint8_t)c->state.audit;
		h.up++;
		if (chan_state_ready(&c->state)) {
			h.slot[s].ready = 1;
			h.ready++;
		}
	}
	master_send(m->admin, CHAN_HEALTH, &h, sizeof(h));
}
