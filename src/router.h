/*
 * router.h - path templates and matching (SPEC 5 "Paths and queries").
 *
 * Templates ("/notes/{id}/tags") are compiled at load into a segment trie.
 * A request path is matched raw: literal segments byte for byte
 * (case-sensitive, no percent-decoding); a {param} segment matches one
 * non-empty segment, which is percent-decoded once after the match.  At
 * each segment a literal beats a parameter; when the literal branch does
 * not lead to a route for the path, the parameter branch is tried (each
 * trie node is visited at most once per match).  "/a/" is not "/a".  Two
 * templates of the same shape for the same method are a load error.
 *
 * Threat model: the path is attacker-controlled.  Matching allocates
 * nothing; decoded parameters go into a caller-provided buffer; at most
 * ROUTER_MAX_SEGMENTS segments and ROUTER_MAX_PARAMS parameters are
 * considered.  A decoded parameter is refused (ROUTER_BAD_PARAM, 400) when
 * an escape is invalid or the bytes are not UTF-8, contain a control
 * (C0 or DEL) or '/'.
 */
#ifndef BW_ROUTER_H
#define BW_ROUTER_H

#include <stdbool.h>
#include <stddef.h>

#include "http_parse.h"

#define ROUTER_MAX_PARAMS	16	/* {param} segments per template */
#define ROUTER_MAX_SEGMENTS	32	/* segments per template */
#define ROUTER_MAX_TEMPLATE	1024	/* bytes per template */
#define ROUTER_MAX_NAME		64	/* bytes per parameter name */
#define ROUTER_ALLOW_MAX	64	/* "GET, HEAD, ..., OPTIONS" + NUL */

struct router;

struct router_param {
	const char	*name;		/* the template's name, NUL-terminated */
	const char	*value;		/* decoded, NUL-terminated, in buf */
	size_t		 len;
};

struct router_match {
	const void		*route;		/* FOUND, BAD_PARAM */
	const void		*ops;		/* FOUND, BAD_PARAM */
	const char		*tmpl;		/* FOUND, BAD_PARAM */
	struct router_param	 params[ROUTER_MAX_PARAMS];
	size_t			 nparams;
	char			 allow[ROUTER_ALLOW_MAX]; /* METHOD */
};

enum router_result {
	ROUTER_FOUND,		/* route and decoded params set */
	ROUTER_NOT_FOUND,	/* 404 */
	ROUTER_METHOD,		/* 405: allow holds the Allow value */
	ROUTER_BAD_PARAM,	/* 400: route set, a parameter is invalid */
};

struct router	*router_new(void);
void		 router_free(struct router *);

/*
 * Add a template for a method (GET HEAD POST PUT PATCH DELETE OPTIONS);
 * route and ops are the caller's, handed back by a match (the route and
 * the handlers that serve it).
 * Returns -1 on a malformed template or a tie with an earlier template;
 * router_error() then names the template(s).  Template grammar:
 * "/" segment *("/" segment) where a segment is a literal of RFC 3986
 * pchar without '%' (not "." or "..", empty only as the last one) or
 * "{name}" with name [A-Za-z_][A-Za-z0-9_]*, unique in the template.
 */
int		 router_add(struct router *, const char *tmpl,
		    enum http_method, const void *route, const void *ops);
const char	*router_error(const struct router *);

/*
 * Match a raw path (no query).  HEAD falls back to the GET route.  With
 * the path known but not the method, ROUTER_METHOD fills allow with the
 * methods of every template matching the path, plus HEAD when GET is
 * there, plus OPTIONS, in the order GET, HEAD, POST, PUT, PATCH, DELETE,
 * OPTIONS (an OPTIONS request without an OPTIONS route gets this too; the
 * caller answers it with Allow).  Decoded parameters are written to buf;
 * bufsz >= len + ROUTER_MAX_PARAMS never runs short (a shorter buffer may
 * yield ROUTER_BAD_PARAM).  ROUTER_BAD_PARAM keeps route and tmpl set so
 * the caller can refuse at the "path parameters" step of SPEC 5's order.
 */
enum router_result router_match(const struct router *, enum http_method,
		    const char *path, size_t len, struct router_match *,
		    char *buf, size_t bufsz);

/*
 * Query strings: "a=b&c" is the pairs (a, b) and (c, "").  '+' is a
 * literal plus; names and values are percent-decoded once and must be
 * valid UTF-8 without controls (C0, DEL); unlike path parameters, '/' is
 * allowed.  An empty pair ("a&&b", a trailing '&') or an empty name
 * ("=b") is invalid.
 *
 *	struct router_query q;
 *	struct router_qparam p;
 *	router_query_init(&q, head->query, head->query_len);
 *	while ((r = router_query_next(&q, &p, buf, bufsz)) == 1)
 *		use p.name/p.name_len, p.value/p.value_len (in buf);
 *	r == 0: done; r == -1: refuse with 400.
 *
 * buf is reused by each call; bufsz >= query_len + 2 never runs short.
 */
struct router_query {
	const char	*p;
	size_t		 len;
	size_t		 off;
};

struct router_qparam {
	const char	*name;		/* decoded, NUL-terminated, in buf */
	size_t		 name_len;
	const char	*value;		/* decoded, NUL-terminated, in buf */
	size_t		 value_len;
};

void		 router_query_init(struct router_query *, const char *query,
		    size_t len);
int		 router_query_next(struct router_query *,
		    struct router_qparam *, char *buf, size_t bufsz);

/* Percent-decode once with the rules above; -1 when invalid. */
int		 router_decode(const char *in, size_t len, bool slash_ok,
		    char *out, size_t outsz, size_t *outlen);

#endif
