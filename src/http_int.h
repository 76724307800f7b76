/*
 * http_int.h - what the files of the connection layer share (private to
 * http.c, http_request.c, http_response.c and http_addr.c; everyone else
 * uses http.h): the connection, request and server objects, and the steps
 * each file offers the others.
 *
 * Ownership: a connection (http.c) owns at most one request
 * (http_request.c); a request is answered exactly once through
 * http_response.c, which hands it back to the connection
 * (http_request_done) to close, flush or read the next one.
 */
#ifndef BW_HTTP_INT_H
#define BW_HTTP_INT_H

#include <sys/queue.h>
#include <sys/socket.h>

#include <netinet/in.h>

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <event2/event.h>
#include <event2/event_struct.h>
#include <event2/util.h>
#include <openssl/ssl.h>

#include "http.h"
#include "http_parse.h"
#include "problem.h"
#include "router.h"

struct bufferevent;
struct balance;
struct ratelimit;

#define HTTP_RAND_POOL		4096	/* request-id randomness, refilled */
#define HTTP_READ_SLACK		((size_t)32 * 1024)
#define HTTP_RECORD_MAX		((size_t)16 * 1024)	/* a TLS record's data */

enum http_conn_state {
	CONN_HANDSHAKE,		/* TLS handshake; header timer from accept */
	CONN_IDLE,		/* no request bytes yet; idle or header timer */
	CONN_HEAD,		/* head bytes arriving; header timer */
	CONN_BODY,		/* body bytes arriving; body timer */
	CONN_HANDLER,		/* parked or handled; awaiting the response */
	CONN_FLUSH,		/* too much output pending; idle timer */
	CONN_CLOSING,		/* last response queued; flush timer */
	CONN_LINGER,		/* write side shut, input discarded */
};

enum http_step {
	STEP_MORE,		/* wait for an event */
	STEP_AGAIN,		/* the state changed: go on */
	STEP_GONE,		/* the connection was freed */
};

struct http_request {
	struct http_conn	*conn;
	struct http_request	*next_free;
	struct event		 timer;		/* request_timeout */
	struct http_head	 head;
	struct http_chunked	 chunked;
	struct evbuffer		*body;		/* decoded request body */
	struct evbuffer		*out;		/* response body */
	struct node		*json;
	const struct conf_route	*route;
	const struct http_route_ops *ops;	/* the route's handlers */
	struct router_match	 match;
	char			*pbuf;		/* decoded path parameters */
	size_t			 pbufsz;
	const char		*user;
	http_cancel_fn		 cancel;
	void			*cancel_arg;
	void			*ctx;
	void			(*ctx_free)(void *);
	struct timespec		 start;
	uint64_t		 body_need;	/* Content-Length bytes left */
	uint64_t		 max_body;
	size_t			 copied;	/* headbuf bytes filled */
	char			 id[HTTP_REQUEST_ID_LEN + 1];
	char			 ip[INET6_ADDRSTRLEN];
	bool			 parsed;	/* head is valid */
	bool			 has_body;	/* a body was declared */
	bool			 body_done;	/* ... and read entirely */
	bool			 close;
	bool			 problem;
	bool			 linger;
	bool			 allow_set;
	bool			 bad_param;
	uint32_t		 retry_after;	/* seconds; 0: no header */
	const char		*www_auth;	/* WWW-Authenticate value */
	const char		*cors_origin;	/* allowed origin to echo */
	bool			 cors_preflight;
	void			*principal;	/* the authenticated caller */
	void			(*principal_free)(void *);
	char			 headbuf[];	/* max_header_size + 1 */
};

struct http_conn {
	struct http_server	*srv;
	TAILQ_ENTRY(http_conn)	 entry;
	struct bufferevent	*bev;
	SSL			*ssl;
	struct event		 timer;
	struct event		 resume;
	struct event		 linger_ev;
	struct http_request	*req;
	struct sockaddr_storage	 peer;
	enum http_conn_state	 state;
	uint32_t		 nrequests;
	size_t			 linger_bytes;
	char			 peer_ip[INET6_ADDRSTRLEN];
	bool			 eof;
	bool			 in_process;
	bool			 linger_wanted;
	bool			 tls_ok;
	bool			 linger_added;
};

TAILQ_HEAD(http_conns, http_conn);

struct http_server {
	struct event_base	*base;
	const struct conf	*conf;
	const struct conf_limits *lim;
	SSL_CTX			*ssl_ctx;
	struct router		*router;
	struct http_limits	 plim;
	struct event		**listeners;	/* EV_READ on listening sockets */
	size_t			 nlisteners;
	struct event		*pause_ev;	/* accepting again (balance, EMFILE) */
	struct balance		*balance;	/* NULL: no sibling workers */
	size_t			 slot;		/* this worker's, in balance */
	pid_t			 pid;		/* this worker's, in balance */
	struct http_conns	 conns;
	size_t			 nconns;
	struct http_request	*free_reqs;
	size_t			 nfree_reqs;
	http_prepare_fn		 admit;
	void			*admit_arg;
	struct ratelimit	*rl;
	void			(*drain_done)(void *);
	void			*drain_arg;
	bool			 draining;
	char			*fixed;		/* headers sent on every response */
	size_t			 fixed_len;
	time_t			 date_sec;
	char			 date[40];
	unsigned char		 rnd[HTTP_RAND_POOL];
	size_t			 rnd_off;
};

/* http.c: deadlines and the connection's side of a response. */
void		 http_timer_set(struct event *, int64_t ms);
void		 http_request_done(struct http_request *);
void		 http_request_timeout(evutil_socket_t, short, void *);

/* http_request.c: request objects and the order of checks of SPEC 5. */
struct http_request *http_request_get(struct http_server *, struct http_conn *);
void		 http_request_destroy(struct http_request *);
void		 http_request_release(struct http_request *);
void		 http_request_cancel(struct http_request *);
enum http_step	 http_request_begin(struct http_request *);
enum http_step	 http_request_handle(struct http_request *);

/* http_response.c: the fixed headers and refusals. */
int		 http_fixed_headers(struct http_server *);
enum http_step	 http_fail(struct http_request *, enum problem_code);

/* http_cors.c: server.cors. */
void		 http_cors_check(struct http_request *);
bool		 http_cors_is_preflight(const struct http_request *);
int		 http_cors_write(const struct http_request *,
		    struct evbuffer *);

/* http_addr.c: the textual form of a peer address. */
void		 http_addr_text(const struct sockaddr *, char *out,
		    size_t outsz);

#endif
