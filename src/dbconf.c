/*
 * dbconf.c - libpq parameters from the configuration, and the load-time
 * database checks.
 *
 * The password read from database.password_file is a secret: it lives in
 * one heap buffer owned by struct dbconf, is handed to libpq in memory and
 * is wiped by dbconf_free().  It is never logged.
 */
#include <sys/socket.h>
#include <sys/stat.h>

#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "api.h"
#include "dbconf.h"
#include "log.h"
#include "result.h"
#include "secret.h"
#include "util.h"

#define DBCONF_PASSWORD_MAX	1024

#define DBCONF_OPTIONS	"-c TimeZone=UTC -c DateStyle=ISO " \
	"-c extra_float_digits=1"

static int
dbconf_add(struct dbconf *dc, const char *key, const char *val)
{
	size_t	 i;

	for (i = 0; dc->keys[i] != NULL; i++)
		if (strcmp(dc->keys[i], key) == 0)
			break;
	if (i >= DBCONF_MAX_KEYS)
		return -1;
	dc->owned[dc->nowned] = bw_strdup(key);
	dc->keys[i] = dc->owned[dc->nowned++];
	dc->owned[dc->nowned] = bw_strdup(val);
	dc->vals[i] = dc->owned[dc->nowned++];
	return 0;
}

static const char *
dbconf_get(const struct dbconf *dc, const char *key)
{
	size_t	 i;

	for (i = 0; dc->keys[i] != NULL; i++)
		if (strcmp(dc->keys[i], key) == 0)
			return dc->vals[i];
	return NULL;
}

/* Reads the password file: one line, trailing newline removed. */
static int
dbconf_password(const struct conf *conf, struct dbconf *dc, const char **err)
{
	char	 buf[DBCONF_PASSWORD_MAX + 2];
	size_t	 n = 0;
	int	 fd, rv;

	fd = secret_open(conf->database->password_file, conf->server.user, err);
	if (fd == -1)
		return -1;
	rv = secret_read(fd, (unsigned char *)buf, sizeof(buf) - 1, &n, err);
	close(fd);
	if (rv == -1 || n > DBCONF_PASSWORD_MAX) {
		bw_wipe(buf, sizeof(buf));
		*err = "database.password_file: unreadable or too long";
		return -1;
	}
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		n--;
	dc->password = bw_strndup(buf, (size_t)n);
	bw_wipe(buf, sizeof(buf));
	return 0;
}

/*
 * A host name (not a socket directory, not already an address) is
 * resolved now and given as hostaddr; libpq keeps `host` for TLS
 * verification.  Only the first host of a list is supported.
 */
static int
dbconf_resolve(struct dbconf *dc, const char **err)
{
	const char	*host = dbconf_get(dc, "host");
	struct addrinfo	 hints, *res;
	char		 addr[NI_MAXHOST];

	if (host == NULL || host[0] == '/' || host[0] == '@' ||
	    dbconf_get(dc, "hostaddr") != NULL)
		return 0;
	if (strchr(host, ',') != NULL) {
		*err = "database.conninfo: several hosts are not supported";
		return -1;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(host, NULL, &hints, &res) != 0) {
		*err = "database.conninfo: cannot resolve host";
		return -1;
	}
	if (getnameinfo(res->ai_addr, res->ai_addrlen, addr, sizeof(addr),
	    NULL, 0, NI_NUMERICHOST) != 0) {
		freeaddrinfo(res);
		*err = "database.conninfo: cannot resolve host";
		return -1;
	}
	freeaddrinfo(res);
	return dbconf_add(dc, "hostaddr", addr);
}

/* One conninfo (the primary's or a replica's), resolved, with the password. */
static int
dbconf_build_from(const struct conf *conf, const char *conninfo,
    struct dbconf *dc, const char **err)
{
	PQconninfoOption	*opts, *o;
	char			*msg = NULL;
	int			 rv = 0;

	if ((opts = PQconninfoParse(conninfo, &msg)) == NULL) {
		PQfreemem(msg);
		*err = "database.conninfo: invalid";
		return -1;
	}
	for (o = opts; o->keyword != NULL && rv == 0; o++)
		if (o->val != NULL && o->val[0] != '\0')
			rv = dbconf_add(dc, o->keyword, o->val);
	PQconninfoFree(opts);
	if (rv == 0)
		rv = dbconf_add(dc, "gssencmode", "disable");
	if (rv == 0)
		rv = dbconf_add(dc, "options", DBCONF_OPTIONS);
	if (rv == 0)
		rv = dbconf_add(dc, "application_name", "bulwarkd");
	if (rv == -1) {
		*err = "database.conninfo: too many keywords";
		dbconf_free(dc);
		return -1;
	}
	if (dbconf_resolve(dc, err) == -1 || (conf->database->password_file !=
	    NULL && dbconf_password(conf, dc, err) == -1)) {
		dbconf_free(dc);
		return -1;
	}
	if (dc->password != NULL) {
		size_t	 i;

		for (i = 0; dc->keys[i] != NULL; i++)
			;
		dc->keys[i] = "password";
		dc->vals[i] = dc->password;
	}
	return 0;
}

int
dbconf_build(const struct conf *conf, struct dbconf *dc, const char **err)
{
	memset(dc, 0, sizeof(*dc));
	if (conf->database == NULL) {
		*err = "no database configured";
		return -1;
	}
	return dbconf_build_from(conf, conf->database->conninfo, dc, err);
}

int
dbconf_build_replica(const struct conf *conf, size_t i, struct dbconf *dc,
    const char **err)
{
	memset(dc, 0, sizeof(*dc));
	if (conf->database == NULL || i >= conf->database->nreplicas) {
		*err = "no such replica";
		return -1;
	}
	if (dbconf_build_from(conf, conf->database->replicas[i], dc,
	    err) == -1) {
		*err = "database.replicas: invalid";
		return -1;
	}
	return 0;
}

void
dbconf_free(struct dbconf *dc)
{
	size_t	 i;

	for (i = 0; i < dc->nowned; i++)
		free(dc->owned[i]);
	if (dc->password != NULL) {
		bw_wipe(dc->password, strlen(dc->password));
		free(dc->password);
	}
	memset(dc, 0, sizeof(*dc));
}

static void
dbconf_route_error(const struct conf *conf, const struct conf_route *r,
    struct bw_diag *diag, const char *what, const PGresult *res)
{
	const char	*msg = res != NULL ?
	    PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;

	bw_diag_add(diag, conf->file, r->sql_pos.line, r->sql_pos.col,
	    "route %s: %s%s%s", r->name, what, msg != NULL ? ": " : "",
	    msg != NULL ? msg : "");
}

/* Prepares and describes one statement; 0, or -1 after a diagnostic. */
static int
dbconf_check_stmt(PGconn *pg, const struct conf *conf, const struct api *api,
    size_t i, const struct db_stmt_def *st, struct bw_diag *diag)
{
	const struct conf_route	*r = api_statement_route(api, i);
	char			 name[32];	/* 9 + the 20 digits of 2^64 */
	PGresult		*res;
	int			 rv = 0, n;

	n = snprintf(name, sizeof(name), "bw_check_%zu", i);
	if (n < 0 || (size_t)n >= sizeof(name)) {
		bw_diag_add(diag, conf->file, 1, 1, "internal error: no name "
		    "for statement %zu", i);
		return -1;
	}
	res = PQprepare(pg, name, st->sql, st->nparams, NULL);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		if (r != NULL)
			dbconf_route_error(conf, r, diag,
			    "statement does not prepare", res);
		else
			bw_diag_add(diag, conf->file, 1, 1, "context "
			    "statement does not prepare: %s",
			    PQresultErrorMessage(res));
		PQclear(res);
		return -1;
	}
	PQclear(res);
	if (r == NULL)
		return 0;
	res = PQdescribePrepared(pg, name);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		dbconf_route_error(conf, r, diag, "cannot describe", res);
		rv = -1;
	} else if (api_check_types(api, i, res, diag) == -1)
		rv = -1;
	PQclear(res);
	return rv;
}

/*
 * Domains and arrays of non-built-in types, for the result mapping
 * (SPEC 7: domains as their base type).  Loaded in the process that runs
 * the check — the master before it forks, so every worker of the new
 * generation has them.  Without a database the built-in types still map.
 */
static void
dbconf_load_types(PGconn *pg)
{
	PGresult	*res = PQexec(pg, RESULT_TYPES_QUERY);
	const char	*err = NULL;

	result_types_reset();
	if (PQresultStatus(res) != PGRES_TUPLES_OK ||
	    result_types_load(res, &err) == -1)
		log_warnx("database: cannot load the type catalog%s%s",
		    err != NULL ? ": " : "", err != NULL ? err : "");
	PQclear(res);
}

enum dbconf_check
dbconf_check(const struct conf *conf, const struct api *api,
    struct bw_diag *diag)
{
	const struct db_stmt_def	*stmts;
	struct dbconf			 dc;
	const char			*err;
	PGconn				*pg;
	size_t				 i, n;
	enum dbconf_check		 rv = DBCONF_OK;

	if (conf->database == NULL)
		return DBCONF_OK;
	if (dbconf_build(conf, &dc, &err) == -1) {
		bw_diag_add(diag, conf->file, conf->database->conninfo_pos.line,
		    conf->database->conninfo_pos.col, "%s", err);
		return DBCONF_INVALID;
	}
	pg = PQconnectdbParams(dc.keys, dc.vals, 0);
	dbconf_free(&dc);
	if (pg == NULL || PQstatus(pg) != CONNECTION_OK) {
		bw_diag_add(diag, conf->file, conf->database->conninfo_pos.line,
		    conf->database->conninfo_pos.col,
		    "database unreachable");
		log_info("database: %s", pg != NULL ? PQerrorMessage(pg) :
		    "out of memory");
		PQfinish(pg);
		return DBCONF_UNREACHABLE;
	}
	stmts = api_statements(api, &n);
	for (i = 0; i < n; i++)
		if (dbconf_check_stmt(pg, conf, api, i, &stmts[i], diag) == -1)
			rv = DBCONF_INVALID;
	dbconf_load_types(pg);
	PQfinish(pg);
	return rv;
}
