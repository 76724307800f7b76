/*
 * master_int.h - what the parts of the master share (private to
 * master*.c): the master's state, its children and generations.
 *
 * master.c owns set-up, signals, the run loop, the pid file and -d;
 * master_child.c forks, supervises and reaps the children and reads their
 * channels; master_gen.c owns the listening sockets, reload generations
 * and the session-ticket keys; master_ready.c decides when a generation is
 * ready and takes over.  Nothing here is used outside the master.
 */
#ifndef BW_MASTER_INT_H
#define BW_MASTER_INT_H

#include <sys/socket.h>
#include <sys/types.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>
#include <openssl/ssl.h>

#include "chan.h"
#include "conf.h"
#include "dbconf.h"
#include "master.h"

struct api;
struct balance;
struct keys_set;
struct master_check_out;

enum master_kind {
	MASTER_WORKER,
	MASTER_ADMIN,
};

struct master_child {
	enum master_kind	 kind;
	pid_t			 pid;
	int			 slot;
	unsigned		 generation;
	int			 chan_fd;
	struct event		*chan_ev;
	int			 sign_fd;	/* TLS signatures (tlskey.h);
						   the child's end in it */
	struct event		*sign_ev;
	struct master		*m;
	bool			 up;		/* CHAN_READY received */
	bool			 accepting;	/* on its slot's sockets */
	bool			 waited;	/* connect_timeout since up */
	struct event		*wait_ev;
	struct chan_state	 state;		/* the last CHAN_STATE */
	bool			 draining;
};

struct master_slot {
	int			*fds;		/* nlisten sockets */
	struct master_child	*child;		/* current generation */
	struct event		*restart_ev;
	struct master_crashes	 crashes;
};

/*
 * What the workers of one generation share, built by the master before
 * they fork: the configuration, TLS contexts, compiled routes and the
 * database connection parameters (with the password, wiped on free).
 */
struct master_gen {
	struct conf		*conf;
	SSL_CTX			*tls;
	SSL_CTX			*admin_tls;
	struct api		*api;
	struct keys_set		*keys;		/* auth token keys, or NULL */
	struct dbconf		 db;
	bool			 have_db;
	struct dbconf		*replicas;	/* database.replicas */
	size_t			 nreplicas;
};

struct master {
	const char		*config_path;
	struct master_gen	 gen;
	pid_t			 pid;
	struct event_base	*base;
	struct chan_ticket_keys	 keys;
	bool			 have_keys;

	int			*listen_fds;	/* nslots * nlisten */
	size_t			 nlisten;
	struct master_slot	*slots;
	size_t			 nslots;
	struct balance		*balance;	/* shared; NULL: one worker */
	int			 admin_fd;
	struct master_child	*admin;
	struct event		*admin_restart_ev;
	struct master_crashes	 admin_crashes;

	/*
	 * At most MASTER_MAX_GENERATIONS generations live at once, each with
	 * nslots workers and one admin listener: maxchildren.
	 */
	struct master_child	**children;
	size_t			 nchildren;
	size_t			 maxchildren;
	unsigned		 generation;

	int			 pid_fd;
	char			*pid_path;
	int			*loop_fds;	/* the event loop's own */
	size_t			 nloop_fds;

	struct backup_sched	*backup;	/* backup_sched.h */
	struct event		*sig_ev[5];
	struct event		*ticket_ev;
	struct event		*kill_ev;
	struct event		*metrics_ev;	/* backup time for /metrics */

	/*
	 * The generation that took over (READY=1); 0 before the first.  While
	 * it differs from generation, a reload is under way.
	 */
	unsigned		 serving;
	bool			 reload_pending;	/* SIGHUP queued */

	/*
	 * A reload whose statements a child checks against the database
	 * (master_gen.c) while the master's loop goes on: the generation it
	 * builds, the child (-1: none) and what the child reports back.
	 */
	struct master_gen	 next;
	pid_t			 check_pid;
	struct master_check_out	*check_out;

	bool			 stopping;
	int			 exit_status;
	unsigned char		 msg[CHAN_MAX_PAYLOAD];
};

/* The write end of the -d readiness pipe, or -1 (master.c). */
extern int	 master_ready_fd;

/* master.c */
void	 master_stop(struct master *, int status);
void	 master_audit_config(struct master *, const char *event);

/* master_child.c */
void	 master_spawn_slot(struct master *, size_t slot);
void	 master_spawn_admin(struct master *);
void	 master_send(struct master_child *, enum chan_type, const void *,
	    size_t);
void	 master_drain_child(struct master_child *);
void	 master_chan_close(struct master_child *);
void	 master_child_free(struct master_child *);
void	 master_reap(struct master *, pid_t, int status);
void	 master_restart_cb(evutil_socket_t, short, void *);
void	 master_admin_restart_cb(evutil_socket_t, short, void *);
void	 master_keymgr_reply(void *arg, pid_t, enum chan_type, const void *,
	    size_t);

/* master_gen.c */
void	 master_addr_text(const struct sockaddr *, char *buf, size_t bufsz);
void	 master_close_fds(int *fds, size_t n);
int	 master_gen_build(struct conf *, struct master_gen *);
void	 master_gen_free(struct master_gen *);
bool	 master_gen_check_reaped(struct master *, pid_t, int status);
void	 master_gen_check_stop(struct master *);
void	 master_gen_check_free(struct master *);
unsigned master_generations(const struct master *);
void	 master_reload(struct master *);
void	 master_reload_queued(struct master *);
void	 master_rotate_keys(evutil_socket_t, short, void *);

/* master_ready.c */
bool	 master_ready_hold(const struct master *, size_t slot);
void	 master_ready_up(struct master *, struct master_child *);
void	 master_ready_state(struct master *, struct master_child *,
	    const struct chan_state *);
void	 master_ready_check(struct master *);
void	 master_send_health(struct master *);

#endif
