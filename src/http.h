/*
 * http.h - the HTTP/1.1 connection layer of a worker (SPEC 5): accepting,
 * TLS through bufferevent_openssl, strict framing via http_parse, limits
 * and deadlines, the order of checks, and responses with the fixed header
 * set.
 *
 * One request at a time per connection: the next pipelined request is not
 * parsed before the previous response is queued, so responses go straight
 * into the connection's output buffer in order.  A request is answered
 * exactly once, either by the connection layer (an error) or by the route
 * handler, possibly later from the event loop (database results).
 *
 * Threat model: every byte from the peer is hostile.  Every wait has a
 * one-shot deadline (header, body, idle, request, linger), every buffer a
 * bound (head, body, pending output), and a worker holds at most
 * max_connections connections.  A TLS failure closes the connection; there
 * is never a plaintext fallback.  Plaintext mode serves only peers inside
 * trusted_proxies.
 */
#ifndef BW_HTTP_H
#define BW_HTTP_H

#include <sys/socket.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "http_parse.h"
#include "problem.h"

struct event_base;
struct evbuffer;
struct conf;
struct conf_rate;
struct conf_route;
struct balance;
struct http_server;
struct http_request;
struct node;
struct router_match;

#define HTTP_REQUEST_ID_LEN	64	/* longest id (incoming ones included) */
#define HTTP_MAX_XFF		20	/* X-Forwarded-For entries considered */
#define HTTP_OUT_HIGH		((size_t)256 * 1024)	/* output before pausing */
#define HTTP_LINGER_MS		2000	/* discarding input after a close */
#define HTTP_LINGER_MAX		((size_t)1024 * 1024)	/* bytes discarded */
#define HTTP_ACCEPT_PAUSE_MS	100	/* after EMFILE/ENFILE */
#define HTTP_ACCEPT_BATCH	64	/* accepted per wake-up and socket */
#define HTTP_DRAIN_IDLE_MS	1000	/* keep-alive grace when draining */
#define HTTP_REQ_CACHE		256	/* request objects kept for reuse */

/*
 * A route's handler: it answers with http_respond (body written into
 * http_response_body first) or http_respond_problem, now or later.  If it
 * answers later it must register a cancel hook or a ctx (its free function
 * runs when the request ends): the connection calls them when the request
 * is abandoned (client gone, request_timeout: 504), after which the
 * handler must not touch the request again.
 */
typedef void	(*http_handler_fn)(struct http_request *, void *arg);
typedef void	(*http_cancel_fn)(void *arg);
/*
 * The prepare hook runs at the parameters step of SPEC 5 (after routing
 * and admission, before the body is read): it validates path and query
 * parameters and returns -1 after answering (400), 0 to go on.
 */
typedef int	(*http_prepare_fn)(struct http_request *, void *arg);

struct http_server *http_server_new(struct event_base *, const struct conf *,
		    SSL_CTX *, const char **err);
void		 http_server_free(struct http_server *);
/* Serve an already listening socket (owned from now on). */
int		 http_server_listen(struct http_server *, int fd,
		    const char **err);
/*
 * Share the connections with the sibling workers through b (balance.h),
 * as the worker of slot; before http_server_listen.
 */
void		 http_server_balance(struct http_server *, struct balance *b,
		    size_t slot);
/* Serve one already accepted socket (owned from now on); for tests. */
int		 http_server_adopt(struct http_server *, int fd,
		    const struct sockaddr *, socklen_t);
/*
 * A route's handlers: prepare (NULL: none) and handle, both called with
 * arg.  The ops must outlive the server.
 */
struct http_route_ops {
	http_prepare_fn	 prepare;
	http_handler_fn	 handle;
	void		*arg;
};

/* Serve every route of the configuration with ops. */
int		 http_server_add_routes(struct http_server *,
		    const struct http_route_ops *, const char **err);
/*
 * Serve a route that is not in the configuration's routes (the built-in
 * endpoints of the auth layer) with ops; the route must outlive the
 * server.
 */
int		 http_server_add_route(struct http_server *,
		    const struct conf_route *, const struct http_route_ops *,
		    const char **err);
/*
 * The admit hook runs after the rate limit by client address and before
 * the parameters step: credentials (401), the rate limit by user or API
 * key (429) and roles (403).  Like prepare, it returns -1 after answering
 * and 0 to go on; or HTTP_ADMIT_WAIT when what it needs is not there yet
 * (the revocation state): it has then set a cancel hook (the client went
 * or request_timeout fired: the hook forgets the request) and later either
 * answers the request or calls http_request_readmit(), which clears the
 * cancel hook, runs the admit hook again and goes on with the checks after
 * it.
 */
#define HTTP_ADMIT_WAIT		1
void		 http_server_set_admit(struct http_server *, http_prepare_fn,
		    void *arg);
void		 http_request_readmit(struct http_request *);
/*
 * Stop accepting; idle connections close now, busy ones after their
 * current response (which carries Connection: close).  done(arg) runs
 * once no connection remains.
 */
void		 http_server_drain(struct http_server *, void (*done)(void *),
		    void *arg);
size_t		 http_server_connections(const struct http_server *);

/* The request, for handlers (valid until answered or cancelled). */
const struct http_head	*http_request_head(const struct http_request *);
const struct conf_route	*http_request_route(const struct http_request *);
const char	*http_request_id(const struct http_request *);
const char	*http_request_ip(const struct http_request *);
/* The raw JSON body (contiguous) or NULL when the route takes none. */
const char	*http_request_body(struct http_request *, size_t *len);
/*
 * The parsed body (bulwark's JSON reader) or NULL; owned by the request,
 * which the handler may canonicalize in place.
 */
struct node	*http_request_body_node(struct http_request *);
/* The route match: decoded path parameters (valid as the request). */
const struct router_match *http_request_match(const struct http_request *);
void		 http_request_set_user(struct http_request *, const char *);
/*
 * Takes a token from the bucket of (rate, key); when there is none, answers
 * 429 with Retry-After and returns -1.
 */
int		 http_request_rate_limit(struct http_request *,
		    const struct conf_rate *, const char *key, size_t keylen);
/* Response headers of 429/503 and 401; the value must outlive the request. */
void		 http_request_set_retry_after(struct http_request *, uint32_t);
void		 http_request_set_www_authenticate(struct http_request *,
		    const char *value);
/*
 * The authenticated caller, or NULL.  free_fn releases it when the request
 * ends still holding it (a request refused after admission); a layer that
 * takes it over sets the principal to NULL.
 */
void		 http_request_set_principal(struct http_request *, void *,
		    void (*free_fn)(void *));
void		*http_request_principal(const struct http_request *);
void		 http_request_set_cancel(struct http_request *, http_cancel_fn,
		    void *arg);
/*
 * Handler state hung on the request: fn(ctx) runs exactly once when the
 * request ends, however it ends (answered, timed out, client gone), after
 * any cancel hook.
 */
void		 http_request_set_ctx(struct http_request *, void *ctx,
		    void (*fn)(void *));
void		*http_request_ctx(const struct http_request *);

/* The response body buffer; fill it, then http_respond. */
struct evbuffer	*http_response_body(struct http_request *);
/* Queue the response; the request is gone after this call. */
void		 http_respond(struct http_request *, int status);
void		 http_respond_problem(struct http_request *, enum problem_code);
/* A validation problem (PROBLEM_PARAMS 400, PROBLEM_VALIDATION 422). */
void		 http_respond_validation(struct http_request *, enum problem_code,
		    const struct problem_error *, size_t);

/*
 * Helpers exposed for tests.  http_client_ip walks X-Forwarded-For
 * (value xff, may be NULL) from a trusted peer; out gets the textual
 * client address.  http_request_id_valid checks an incoming X-Request-Id.
 * http_content_type_json accepts application/json with at most
 * charset=utf-8.
 */
int		 http_client_ip(const struct conf *, const struct sockaddr *,
		    const char *xff, size_t xff_len, char *out, size_t outsz);
bool		 http_addr_trusted(const struct conf *, const struct sockaddr *);
bool		 http_request_id_valid(const char *, size_t);
bool		 http_content_type_json(const char *, size_t);

#endif
