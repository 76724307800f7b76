/*
 * dbconf.h - libpq connection parameters derived from the configuration,
 * and the load-time database checks of -t, start-up and SIGHUP (SPEC 7).
 *
 * The master builds the parameters before forking: host names are resolved
 * here and passed to libpq as hostaddr, so a worker never blocks in a DNS
 * lookup; the password is read from database.password_file and kept only
 * in memory (wiped on free); the session settings TimeZone=UTC,
 * DateStyle=ISO and extra_float_digits=1 are set through `options`.
 */
#ifndef BW_DBCONF_H
#define BW_DBCONF_H

#include <stddef.h>

#include "conf.h"

struct api;

#define DBCONF_MAX_KEYS		48

struct dbconf {
	const char	*keys[DBCONF_MAX_KEYS + 1];	/* NULL-terminated */
	const char	*vals[DBCONF_MAX_KEYS + 1];
	char		*owned[DBCONF_MAX_KEYS];	/* strings to free */
	size_t		 nowned;
	char		*password;			/* wiped on free */
};

/* Fills dc; -1 with *err (a static or dc-owned message) on failure. */
int	 dbconf_build(const struct conf *, struct dbconf *, const char **err);
/* The same for database.replicas[i]. */
int	 dbconf_build_replica(const struct conf *, size_t i, struct dbconf *,
	    const char **err);
void	 dbconf_free(struct dbconf *);

enum dbconf_check {
	DBCONF_OK,
	DBCONF_UNREACHABLE,	/* -t exits 3 */
	DBCONF_INVALID,		/* a statement does not prepare or fit: 1 */
};

/*
 * Connects (blocking: administration modes and the master only), prepares
 * every route's statement and checks its parameter types against the
 * placeholder sources and `value` routes for exactly one column.  Errors
 * name the route and point at its `sql` value.
 */
enum dbconf_check dbconf_check(const struct conf *, const struct api *,
	    struct bw_diag *);

#endif
