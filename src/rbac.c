/*
 * rbac.c - role graph and route authorization.
 *
 * Invariants after rbac_new():
 *  - names[] is sorted by strcmp and holds nroles (<= RBAC_MAX_ROLES)
 *    distinct valid names; a role's id is its index, so iterating a set's
 *    bits in order yields names in order;
 *  - closure[i] holds i and every role i reaches through inherits
 *    (Warshall's algorithm on bitsets: no recursion, so a cycle the loader
 *    missed could not loop or overflow the stack);
 *  - routes[k] describes conf->routes[k]: the roles listed (not their
 *    closure: a caller's effective set already carries what it inherits)
 *    and whether public is listed.
 * Nothing here allocates after rbac_new().
 */
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "rbac.h"
#include "util.h"

struct rbac_route {
	struct rbac_set	 admit;
	bool		 public;
};

struct rbac {
	char			**names;
	size_t			 nroles;
	struct rbac_set		*closure;
	const struct conf_route	*route_base;
	struct rbac_route	*routes;
	size_t			 nroutes;
};

static void
rbac_set_add(struct rbac_set *s, size_t id)
{
	s->w[id / 64] |= UINT64_C(1) << (id % 64);
}

bool
rbac_set_has(const struct rbac_set *s, int id)
{
	if (id < 0 || id >= RBAC_MAX_ROLES)
		return false;
	return (s->w[id / 64] >> (id % 64)) & 1;
}

static void
rbac_set_or(struct rbac_set *dst, const struct rbac_set *src)
{
	size_t	 i;

	for (i = 0; i < RBAC_WORDS; i++)
		dst->w[i] |= src->w[i];
}

static bool
rbac_set_meets(const struct rbac_set *a, const struct rbac_set *b)
{
	uint64_t	 any = 0;
	size_t		 i;

	for (i = 0; i < RBAC_WORDS; i++)
		any |= a->w[i] & b->w[i];
	return any != 0;
}

size_t
rbac_set_count(const struct rbac_set *s)
{
	size_t	 i, n = 0;

	for (i = 0; i < RBAC_WORDS; i++)
		n += (size_t)__builtin_popcountll(s->w[i]);
	return n;
}

static bool
rbac_name_valid(const char *s)
{
	size_t	 i;

	if (!(s[0] >= 'a' && s[0] <= 'z'))
		return false;
	for (i = 1; s[i] != '\0'; i++) {
		if (i >= RBAC_NAME_MAX)
			return false;
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return false;
	}
	return strcmp(s, "public") != 0;
}

static int
rbac_name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int
rbac_role_id(const struct rbac *r, const char *name)
{
	char *const	*hit;

	hit = bsearch(&name, r->names, r->nroles, sizeof(*r->names),
	    rbac_name_cmp);
	return hit == NULL ? -1 : (int)(hit - r->names);
}

const char *
rbac_role_name(const struct rbac *r, int id)
{
	if (id < 0 || (size_t)id >= r->nroles)
		return NULL;
	return r->names[id];
}

size_t
rbac_nroles(const struct rbac *r)
{
	return r->nroles;
}

static void
rbac_err(struct bw_diag *d, const struct conf *cf, const struct conf_pos *p,
    const char *what, const char *name)
{
	bw_diag_add(d, cf->file != NULL ? cf->file : "-", p->line, p->col,
	    "%s '%s'", what, name);
}

static int
rbac_names(struct rbac *r, const struct conf *cf, struct bw_diag *d)
{
	size_t	 i;
	int	 rv = 0;

	if (cf->nroles > RBAC_MAX_ROLES) {
		bw_diag_add(d, cf->file != NULL ? cf->file : "-", 1, 1,
		    "at most %d roles", RBAC_MAX_ROLES);
		return -1;
	}
	r->names = bw_calloc(cf->nroles + 1, sizeof(*r->names));
	r->closure = bw_calloc(cf->nroles + 1, sizeof(*r->closure));
	for (i = 0; i < cf->nroles; i++) {
		if (!rbac_name_valid(cf->roles[i].name)) {
			rbac_err(d, cf, &cf->roles[i].pos, "invalid role name",
			    cf->roles[i].name);
			rv = -1;
		}
		r->names[i] = bw_strdup(cf->roles[i].name);
	}
	r->nroles = cf->nroles;
	qsort(r->names, r->nroles, sizeof(*r->names), rbac_name_cmp);
	for (i = 1; i < r->nroles; i++)
		if (strcmp(r->names[i - 1], r->names[i]) == 0) {
			bw_diag_add(d, cf->file != NULL ? cf->file : "-", 1, 1,
			    "duplicate role '%s'", r->names[i]);
			rv = -1;
		}
	return rv;
}

static int
rbac_graph(struct rbac *r, const struct conf *cf, struct bw_diag *d)
{
	const struct conf_role	*cr;
	size_t			 i, k;
	int			 id, j, rv = 0;

	for (i = 0; i < cf->nroles; i++) {
		cr = &cf->roles[i];
		id = rbac_role_id(r, cr->name);
		rbac_set_add(&r->closure[id], (size_t)id);
		for (k = 0; k < cr->ninherits; k++) {
			if ((j = rbac_role_id(r, cr->inherits[k])) == -1) {
				rbac_err(d, cf, &cr->pos, "inherits unknown role",
				    cr->inherits[k]);
				rv = -1;
				continue;
			}
			rbac_set_add(&r->closure[id], (size_t)j);
		}
	}
	for (k = 0; k < r->nroles; k++)
		for (i = 0; i < r->nroles; i++)
			if (rbac_set_has(&r->closure[i], (int)k))
				rbac_set_or(&r->closure[i], &r->closure[k]);
	return rv;
}

static int
rbac_routes(struct rbac *r, const struct conf *cf, struct bw_diag *d)
{
	const struct conf_route	*cr;
	size_t			 i, k;
	int			 id, rv = 0;

	r->route_base = cf->routes;
	r->nroutes = cf->nroutes;
	r->routes = bw_calloc(cf->nroutes + 1, sizeof(*r->routes));
	for (i = 0; i < cf->nroutes; i++) {
		cr = &cf->routes[i];
		if (cr->nroles == 0) {
			rbac_err(d, cf, &cr->pos, "no roles on route",
			    cr->name);
			rv = -1;
		}
		for (k = 0; k < cr->nroles; k++) {
			if (strcmp(cr->roles[k], "public") == 0)
				r->routes[i].public = true;
			else if ((id = rbac_role_id(r, cr->roles[k])) != -1)
				rbac_set_add(&r->routes[i].admit, (size_t)id);
			else {
				rbac_err(d, cf, &cr->pos, "unknown role",
				    cr->roles[k]);
				rv = -1;
			}
		}
	}
	return rv;
}

struct rbac *
rbac_new(const struct conf *cf, struct bw_diag *d)
{
	struct rbac	*r;

	r = bw_calloc(1, sizeof(*r));
	if (rbac_names(r, cf, d) == -1 || rbac_graph(r, cf, d) == -1 ||
	    rbac_routes(r, cf, d) == -1) {
		rbac_free(r);
		return NULL;
	}
	return r;
}

void
rbac_free(struct rbac *r)
{
	size_t	 i;

	if (r == NULL)
		return;
	if (r->names != NULL)
		for (i = 0; i < r->nroles; i++)
			free(r->names[i]);
	free(r->names);
	free(r->closure);
	free(r->routes);
	free(r);
}

size_t
rbac_effective(const struct rbac *r, const char *const *assigned, size_t n,
    struct rbac_set *out)
{
	size_t	 i, unknown = 0;
	int	 id;

	memset(out, 0, sizeof(*out));
	for (i = 0; i < n; i++) {
		if (assigned[i] == NULL ||
		    (id = rbac_role_id(r, assigned[i])) == -1) {
			unknown++;
			continue;
		}
		rbac_set_or(out, &r->closure[id]);
	}
	return unknown;
}

/* Index of route in conf->routes, or -1 when it is not one of them. */
static long
rbac_route_index(const struct rbac *r, const struct conf_route *route)
{
	uintptr_t	 p = (uintptr_t)route, b = (uintptr_t)r->route_base;

	if (r->route_base == NULL || p < b ||
	    p - b >= r->nroutes * sizeof(*route) ||
	    (p - b) % sizeof(*route) != 0)
		return -1;
	return (long)((p - b) / sizeof(*route));
}

/* The slow form for a route from elsewhere: by name, still no allocation. */
static bool
rbac_allows_names(const struct rbac *r, const struct rbac_set *eff,
    const struct conf_route *route)
{
	size_t	 k;

	for (k = 0; k < route->nroles; k++) {
		if (strcmp(route->roles[k], "public") == 0)
			return true;
		if (eff != NULL &&
		    rbac_set_has(eff, rbac_role_id(r, route->roles[k])))
			return true;
	}
	return false;
}

bool
rbac_allows(const struct rbac *r, const struct rbac_set *eff,
    const struct conf_route *route)
{
	long	 i;

	if (route == NULL)
		return false;
	if ((i = rbac_route_index(r, route)) == -1)
		return rbac_allows_names(r, eff, route);
	if (r->routes[i].public)
		return true;
	return eff != NULL && rbac_set_meets(eff, &r->routes[i].admit);
}

bool
rbac_route_public(const struct rbac *r, const struct conf_route *route)
{
	long	 i;
	size_t	 k;

	if (route == NULL)
		return false;
	if ((i = rbac_route_index(r, route)) != -1)
		return r->routes[i].public;
	for (k = 0; k < route->nroles; k++)
		if (strcmp(route->roles[k], "public") == 0)
			return true;
	return false;
}

int
rbac_set_next(const struct rbac *r, const struct rbac_set *s, int prev)
{
	size_t		 id = prev < 0 ? 0 : (size_t)prev + 1;
	uint64_t	 w;

	while (id < r->nroles) {
		w = s->w[id / 64] >> (id % 64);
		if (w == 0) {
			id = (id / 64 + 1) * 64;
			continue;
		}
		id += (size_t)__builtin_ctzll(w);
		return id < r->nroles ? (int)id : -1;
	}
	return -1;
}

/* Appends s at *o, counting what does not fit; keeps buf NUL-terminated. */
static void
rbac_put(char *buf, size_t bufsz, size_t *o, const char *s)
{
	size_t	 n = strlen(s);

	if (*o < bufsz) {
		if (n < bufsz - *o)
			memcpy(buf + *o, s, n + 1);
		else {
			memcpy(buf + *o, s, bufsz - *o - 1);
			buf[bufsz - 1] = '\0';
		}
	}
	*o += n;
}

size_t
rbac_set_names(const struct rbac *r, const struct rbac_set *s,
    enum rbac_format fmt, char *buf, size_t bufsz)
{
	size_t		 o = 0;
	int		 id = -1;
	bool		 first = true, pg = fmt == RBAC_FMT_PGARRAY;
	const char	*name;

	if (bufsz > 0)
		buf[0] = '\0';
	if (pg)
		rbac_put(buf, bufsz, &o, "{");
	while ((id = rbac_set_next(r, s, id)) != -1) {
		name = r->names[id];
		if (!first)
			rbac_put(buf, bufsz, &o, ",");
		first = false;
		if (pg && strcmp(name, "null") == 0)
			rbac_put(buf, bufsz, &o, "\"null\"");
		else
			rbac_put(buf, bufsz, &o, name);
	}
	if (pg)
		rbac_put(buf, bufsz, &o, "}");
	return o;
}
