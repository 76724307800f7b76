/*
 * admin.h - the admin listener (SPEC 12): a child of the master, never the
 * master itself, serving /healthz, /readyz and /metrics on loopback (plain HTTP) or
 * behind admin.tls.  It learns from the master, over its channel, whether
 * the workers are up and ready.
 */
#ifndef BW_ADMIN_H
#define BW_ADMIN_H

#include <sys/socket.h>

#include <stddef.h>
#include <stdint.h>

#include "chan.h"
#include "conf.h"

#define ADMIN_MAX_HEAD		4096	/* request line + headers */
#define ADMIN_MAX_HEADERS	32
#define ADMIN_MAX_URI		1024
#define ADMIN_MAX_CONNS		64
#define ADMIN_TIMEOUT_MS	5000	/* whole exchange, accept to close */

struct admin_args {
	struct conf	*conf;
	int		 listen_fd;
	int		 chan_fd;
	void		*tls_ctx;	/* SSL_CTX * for admin.tls, or NULL */
};

/* Runs the admin listener until CHAN_DRAIN or EOF; returns exit status. */
int	 admin_main(const struct admin_args *);

/* What a response depends on besides the request. */
struct admin_view {
	char			 host[64];	/* "127.0.0.1", "[::1]" */
	char			 port[8];	/* "9090" */
	struct chan_health	 health;
	int			 known;		/* health received */
	int64_t			 hsts_s;	/* > 0: Strict-Transport-Security */
	const struct metrics	*metrics;	/* /metrics; NULL: empty */
	unsigned		 workers;	/* configured worker slots */
};

struct evbuffer;
struct metrics;

/* Fills host and port of v from a bound socket address. */
int	 admin_view_addr(struct admin_view *, const struct sockaddr *);

/*
 * The response to one request head (exposed for tests): buf[0..len) is
 * what was read so far.  Returns 1 with a complete response appended to
 * out, or 0 when more bytes are needed.  Every response closes the
 * connection.
 */
int	 admin_respond(const char *buf, size_t len, const struct admin_view *,
	    struct evbuffer *out);

#endif
