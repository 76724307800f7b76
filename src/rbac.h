/*
 * rbac.h - the role graph of SPEC 4 (`roles:`) and route authorization
 * (SPEC 8).
 *
 * rbac_new() compiles the configuration once: roles get ids in name order,
 * each role's transitive closure (itself and everything it inherits) is a
 * bitset, and each route gets the bitset of the roles it lists plus a
 * public flag.  On the request path, rbac_effective() and rbac_allows()
 * are a few word operations and never allocate.
 */
#ifndef BW_RBAC_H
#define BW_RBAC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct bw_diag;
struct conf;
struct conf_route;

#define RBAC_MAX_ROLES		256	/* the loader's bound */
#define RBAC_NAME_MAX		63	/* ^[a-z][a-z0-9_]{0,62}$ */
#define RBAC_WORDS		(RBAC_MAX_ROLES / 64)
/* Room for the names of every role in either format, with the NUL. */
#define RBAC_NAMES_MAX		(RBAC_MAX_ROLES * (RBAC_NAME_MAX + 3) + 3)

/* A set of role ids; the zero value is the empty set. */
struct rbac_set {
	uint64_t	 w[RBAC_WORDS];
};

enum rbac_format {
	RBAC_FMT_PGARRAY,	/* {editor,reader}: :user.roles */
	RBAC_FMT_LIST,		/* editor,reader: the bulwark.roles setting */
};

struct rbac;

/*
 * Compiles conf's roles and routes.  The loader already refuses bad names,
 * `public` as a role, unknown roles and cycles; rbac_new() checks again
 * and reports to diag (returning NULL) rather than trusting it, and its
 * closure is computed without recursion, so any graph is safe.  The rbac
 * must not outlive conf: routes are recognised by their address in
 * conf->routes.
 */
struct rbac	*rbac_new(const struct conf *, struct bw_diag *);
void		 rbac_free(struct rbac *);

/*
 * Effective roles of a caller: the union of the closures of the assigned
 * role names, sorted by name with duplicates gone by construction.  Names
 * the configuration does not know (a user row naming a removed role, or
 * `public`) are ignored; the return value counts them so the caller can
 * log.
 */
size_t		 rbac_effective(const struct rbac *,
		    const char *const *assigned, size_t n,
		    struct rbac_set *out);

/*
 * Deny by default: true when the route lists public, or when effective
 * (NULL for a caller without credentials) holds one of the route's roles.
 * A route that is not one of conf->routes is checked by name, still
 * without allocation.
 */
bool		 rbac_allows(const struct rbac *,
		    const struct rbac_set *effective,
		    const struct conf_route *);
bool		 rbac_route_public(const struct rbac *,
		    const struct conf_route *);

/*
 * The names of a set, sorted, in fmt.  snprintf semantics: returns the
 * length of the whole text and writes at most bufsz - 1 bytes and a NUL;
 * RBAC_NAMES_MAX is always enough.  In a PostgreSQL array literal a role
 * named "null" is written "null" in double quotes (it would otherwise be
 * read as NULL); every other valid name needs no quoting.
 */
size_t		 rbac_set_names(const struct rbac *, const struct rbac_set *,
		    enum rbac_format, char *buf, size_t bufsz);

/* Iteration in name order: start with prev = -1; -1 at the end. */
int		 rbac_set_next(const struct rbac *, const struct rbac_set *,
		    int prev);
size_t		 rbac_set_count(const struct rbac_set *);
bool		 rbac_set_has(const struct rbac_set *, int id);
/* Id of a role name or -1; name of an id or NULL. */
int		 rbac_role_id(const struct rbac *, const char *name);
const char	*rbac_role_name(const struct rbac *, int id);
size_t		 rbac_nroles(const struct rbac *);

#endif
