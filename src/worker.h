/*
 * worker.h - one worker process: an event_base, its listening sockets, the
 * TLS context, the HTTP connections, and the channel to the master.
 */
#ifndef BW_WORKER_H
#define BW_WORKER_H

#include <stdbool.h>
#include <stddef.h>

struct api;
struct balance;
struct conf;
struct dbconf;
struct keys_set;

struct worker_args {
	struct conf	*conf;
	int		 id;		/* 0 .. workers-1 */
	int		 generation;	/* bumped on every reload */
	const int	*listen_fds;	/* one per server.listen entry */
	size_t		 nlisten_fds;
	const int	*all_fds;	/* every slot's, listen_fds at id */
	size_t		 nall_fds;
	struct balance	*balance;	/* shared with the siblings, or NULL */
	int		 chan_fd;	/* socketpair end to the master */
	void		*tls_ctx;	/* SSL_CTX * built by the master, or NULL */
	struct api	*api;		/* compiled routes, built by the master */
	const struct dbconf *db;	/* connection parameters, or NULL */
	const struct dbconf *replicas;	/* database.replicas */
	size_t		 nreplicas;
	const struct keys_set *keys;	/* token keys (auth), or NULL */
	bool		 hold;		/* accept only after CHAN_TAKE_OVER */
	int		 audit_fd;	/* to the audit writer, or -1 */
};

/*
 * Runs the worker until it is told to stop; returns the exit status.  The
 * worker reports CHAN_READY once set up, then its readiness (CHAN_STATE)
 * whenever it changes.  With hold, a worker of a new generation leaves its
 * listening sockets to the old one until the master sends CHAN_TAKE_OVER.
 */
int	 worker_main(const struct worker_args *);

#endif
