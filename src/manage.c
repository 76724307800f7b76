/*
 * manage.c - administration modes: --init-db, users, API keys, --gen-key,
 * and the dispatch of the backup modes.
 *
 * Threat model.  An operator runs these as root or the service user on the
 * server; what they handle must not leak to other local users or to the
 * database in clear:
 *  - passwords are read only from standard input (never argv, where any
 *    local user can see them in /proc), without echo on a terminal; the
 *    terminal is restored on the signals that end the process; the bytes
 *    live in one heap buffer, read with read(2) rather than stdio (whose
 *    buffer would keep a copy), wiped right after hashing;
 *  - an API key is printed once on stdout and kept nowhere: only SHA-256 of
 *    its secret reaches the database, and the text is wiped;
 *  - every value reaches the database as a parameter of a fixed statement
 *    (authdb.h), never inside SQL text.
 * With an audit log configured, a mode that changes state locks
 * audit.file before it runs and appends its admin.* record (names and
 * roles, never a password or key) when done (audit_admin.h).
 * The backup modes are backup_modes.c.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "audit_admin.h"
#include "authdb.h"
#include "backup_modes.h"
#include "conf.h"
#include "dbconf.h"
#include "keys.h"
#include "manage.h"
#include "openapi.h"
#include "password.h"
#include "rbac.h"
#include "util.h"

/* A password line: the longest password, its newline, one byte more. */
#define MANAGE_PW_BUF		(PASSWORD_MAX_BYTES + 2)

struct manage_ctx {
	const struct manage_args *args;
	struct conf		*conf;
	PGconn			*pg;
	char			 name[PASSWORD_USERNAME_MAX + 1];
	char			 roles[RBAC_NAMES_MAX];
};

/* What a mode needs before it runs. */
#define M_DB		0x01	/* a connection and a current schema */
#define M_AUTH		0x02	/* the auth section (password policy) */
#define M_NAME		0x04	/* NAME follows the username rules */
#define M_ROLES		0x08	/* --roles, checked against roles: */
#define M_NOCONF	0x10	/* no configuration file at all */
#define M_NOSCHEMA	0x20	/* the schema need not exist yet */
#define M_NODB		0x40	/* the configuration, no database */
#define M_BACKUP	0x80	/* the backup section; no connection here */
#define M_AUDIT		0x100	/* changes state: audited */

struct manage_def {
	const char		*flag;
	enum manage_mode	 mode;
	unsigned		 needs;
	int			(*run)(struct manage_ctx *);
};

static int	manage_init_db(struct manage_ctx *);
static int	manage_add_user(struct manage_ctx *);
static int	manage_set_password(struct manage_ctx *);
static int	manage_disable_user(struct manage_ctx *);
static int	manage_enable_user(struct manage_ctx *);
static int	manage_list_users(struct manage_ctx *);
static int	manage_revoke_sessions(struct manage_ctx *);
static int	manage_add_api_key(struct manage_ctx *);
static int	manage_revoke_api_key(struct manage_ctx *);
static int	manage_list_api_keys(struct manage_ctx *);
static int	manage_gen_key(struct manage_ctx *);
static int	manage_openapi(struct manage_ctx *);
static int	manage_backup(struct manage_ctx *);
static int	manage_verify_audit(struct manage_ctx *);

static const struct manage_def manage_defs[] = {
	{ "init-db", MANAGE_INIT_DB, M_DB | M_NOSCHEMA | M_AUDIT,
	    manage_init_db },
	{ "add-user", MANAGE_ADD_USER, M_DB | M_AUTH | M_NAME | M_ROLES |
	    M_AUDIT, manage_add_user },
	{ "set-password", MANAGE_SET_PASSWORD, M_DB | M_AUTH | M_NAME |
	    M_AUDIT, manage_set_password },
	{ "disable-user", MANAGE_DISABLE_USER, M_DB | M_NAME | M_AUDIT,
	    manage_disable_user },
	{ "enable-user", MANAGE_ENABLE_USER, M_DB | M_NAME | M_AUDIT,
	    manage_enable_user },
	{ "list-users", MANAGE_LIST_USERS, M_DB, manage_list_users },
	{ "revoke-sessions", MANAGE_REVOKE_SESSIONS, M_DB | M_NAME | M_AUDIT,
	    manage_revoke_sessions },
	{ "add-api-key", MANAGE_ADD_API_KEY, M_DB | M_NAME | M_ROLES | M_AUDIT,
	    manage_add_api_key },
	{ "revoke-api-key", MANAGE_REVOKE_API_KEY, M_DB | M_NAME | M_AUDIT,
	    manage_revoke_api_key },
	{ "list-api-keys", MANAGE_LIST_API_KEYS, M_DB,
	    manage_list_api_keys },
	{ "gen-key", MANAGE_GEN_KEY, M_NOCONF, manage_gen_key },
	{ "openapi", MANAGE_OPENAPI, M_NODB, manage_openapi },
	{ "backup", MANAGE_BACKUP, M_BACKUP, manage_backup },
	{ "list-backups", MANAGE_LIST_BACKUPS, M_BACKUP, manage_backup },
	{ "verify-backup", MANAGE_VERIFY_BACKUP, M_BACKUP, manage_backup },
	{ "restore", MANAGE_RESTORE, M_BACKUP | M_AUDIT, manage_backup },
	{ "verify-audit", MANAGE_VERIFY_AUDIT, M_NODB, manage_verify_audit },
};

static const char *const manage_key_kinds[] = {
	"ed25519", "es256", "hs256", "audit", "backup",
};

static void manage_err(const char *, ...)
	    __attribute__((format(printf, 1, 2)));

/*
 * One line on stderr.  Arguments may come from the command line: control
 * characters are written as \xNN, so a name cannot add lines or
 * terminal escapes to a diagnostic.
 */
static void
manage_err(const char *fmt, ...)
{
	char		 buf[2048];
	va_list		 ap;
	size_t		 i;
	unsigned char	 c;

	va_start(ap, fmt);
	(void)vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	fputs("bulwarkd: ", stderr);
	for (i = 0; buf[i] != '\0'; i++) {
		c = (unsigned char)buf[i];
		if (c < 0x20 || c == 0x7f)
			fprintf(stderr, "\\x%02x", c);
		else
			fputc(c, stderr);
	}
	fputc('\n', stderr);
}

static const struct manage_def *
manage_def_of(enum manage_mode mode)
{
	size_t	 i;

	for (i = 0; i < BW_ARRAY_LEN(manage_defs); i++)
		if (manage_defs[i].mode == mode)
			return &manage_defs[i];
	return NULL;
}

int
manage_opt(struct manage_args *a, const char *name, const char *arg,
    const char *next)
{
	size_t	 i;

	if (strcmp(name, "roles") == 0) {
		if (a->roles != NULL)
			a->roles_twice = true;
		a->roles = arg;
		return 0;
	}
	if (strcmp(name, "target") == 0 || strcmp(name, "yes") == 0 ||
	    strcmp(name, "force") == 0) {
		if (name[0] == 't')
			a->target = arg;
		else if (name[0] == 'y')
			a->yes = true;
		else
			a->force = true;
		return 0;
	}
	if (strcmp(name, "from-seq") == 0) {
		a->from_seq = arg;
		return 0;
	}
	for (i = 0; i < BW_ARRAY_LEN(manage_defs); i++)
		if (strcmp(name, manage_defs[i].flag) == 0)
			break;
	if (i == BW_ARRAY_LEN(manage_defs)) {
		if (a->unknown == NULL)
			a->unknown = name;
		return 0;
	}
	if (a->mode != MANAGE_NONE) {
		if (a->conflict == NULL)
			a->conflict = manage_defs[i].flag;
		return 0;
	}
	a->mode = manage_defs[i].mode;
	a->flag = manage_defs[i].flag;
	a->name = arg;
	if (a->mode == MANAGE_GEN_KEY && next != NULL && next[0] != '-') {
		a->file = next;
		return 1;
	}
	return 0;
}

/* Usage errors that need no configuration. */
static int
manage_usage(const struct manage_args *a, const struct manage_def *d)
{
	if (a->unknown != NULL) {
		manage_err("--%s: unknown administration option", a->unknown);
		return -1;
	}
	if (d == NULL) {
		manage_err(a->roles != NULL ? "--roles needs --add-user or "
		    "--add-api-key" : "--target, --yes and --force need "
		    "--restore");
		return -1;
	}
	if (a->conflict != NULL) {
		manage_err("--%s and --%s cannot be combined: one "
		    "administration mode at a time", a->flag, a->conflict);
		return -1;
	}
	if (a->roles_twice) {
		manage_err("--roles given twice");
		return -1;
	}
	if ((d->needs & M_ROLES) && a->roles == NULL) {
		manage_err("--%s needs --roles R1,R2", a->flag);
		return -1;
	}
	if (!(d->needs & M_ROLES) && a->roles != NULL) {
		manage_err("--roles goes only with --add-user or "
		    "--add-api-key");
		return -1;
	}
	if (d->mode != MANAGE_VERIFY_AUDIT && (a->from_seq != NULL ||
	    a->nfiles > 0)) {
		manage_err("--from-seq and FILE arguments go only with "
		    "--verify-audit");
		return -1;
	}
	if (d->mode == MANAGE_GEN_KEY && a->file == NULL) {
		manage_err("usage: --gen-key KIND FILE");
		return -1;
	}
	if (d->mode == MANAGE_RESTORE && (a->target == NULL || !a->yes)) {
		manage_err("usage: --restore FILE --target CONNINFO --yes "
		    "[--force]");
		return -1;
	}
	if (d->mode != MANAGE_RESTORE && (a->target != NULL || a->yes ||
	    a->force)) {
		manage_err("--target, --yes and --force go only with "
		    "--restore");
		return -1;
	}
	return 0;
}

/* True when the comma list holds name as one of its elements. */
static bool
manage_list_has(const char *list, const char *name, size_t len)
{
	const char	*p = list, *end;

	while (*p != '\0') {
		end = strchr(p, ',');
		if ((size_t)((end != NULL ? end : p + strlen(p)) - p) == len &&
		    strncmp(p, name, len) == 0)
			return true;
		if (end == NULL)
			break;
		p = end + 1;
	}
	return false;
}

/* One name of --roles: a role of the configuration, never `public`. */
static int
manage_role_ok(const struct rbac *rbac, const char *p, size_t len)
{
	char	 role[RBAC_NAME_MAX + 1];

	if (len == 0 || len > RBAC_NAME_MAX) {
		manage_err("--roles: an empty or overlong role name");
		return -1;
	}
	memcpy(role, p, len);
	role[len] = '\0';
	if (strcmp(role, "public") == 0) {
		manage_err("--roles: `public` is not a role that can be "
		    "assigned");
		return -1;
	}
	if (rbac_role_id(rbac, role) < 0) {
		manage_err("--roles: unknown role '%s' (not in the roles: "
		    "section of the configuration)", role);
		return -1;
	}
	return 0;
}

/*
 * --roles: every name a role of the configuration, duplicates dropped;
 * ctx->roles gets "r1,r2" in the order given.  At most RBAC_MAX_ROLES
 * distinct names exist, so the list always fits.
 */
static int
manage_roles(struct manage_ctx *ctx)
{
	struct bw_diag	 diag = { 0 };
	struct rbac	*rbac;
	const char	*p = ctx->args->roles, *end;
	size_t		 len, off = 0;
	int		 rv = 0;

	if ((rbac = rbac_new(ctx->conf, &diag)) == NULL) {
		bw_diag_print(&diag, stderr);
		bw_diag_free(&diag);
		return -1;
	}
	bw_diag_free(&diag);
	ctx->roles[0] = '\0';
	for (;;) {
		end = strchr(p, ',');
		len = end != NULL ? (size_t)(end - p) : strlen(p);
		if (manage_role_ok(rbac, p, len) == -1) {
			rv = -1;
			break;
		}
		if (!manage_list_has(ctx->roles, p, len)) {
			if (off > 0)
				ctx->roles[off++] = ',';
			memcpy(ctx->roles + off, p, len);
			off += len;
			ctx->roles[off] = '\0';
		}
		if (end == NULL)
			break;
		p = end + 1;
	}
	rbac_free(rbac);
	return rv;
}

/*
 * Standard input
 */

static struct termios		 manage_tty_saved;
static volatile sig_atomic_t	 manage_tty_quiet;

/* The terminal gets its echo back before the signal ends the process. */
static void
manage_tty_signal(int sig)
{
	if (manage_tty_quiet)
		(void)tcsetattr(STDIN_FILENO, TCSAFLUSH, &manage_tty_saved);
	(void)signal(sig, SIG_DFL);
	(void)raise(sig);
}

static const int manage_tty_signals[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };

/*
 * Reads one line from stdin into buf (MANAGE_PW_BUF bytes) with read(2),
 * stopping at the first newline, which is not part of the password; a
 * line that does not fit is refused rather than cut.  End of input after
 * some bytes ends the password too.
 */
static int
manage_read_line(char *buf, size_t *len)
{
	size_t	 off = 0;
	ssize_t	 n;
	char	*nl;

	for (;;) {
		if (off == MANAGE_PW_BUF) {
			manage_err("password refused: longer than %u bytes",
			    PASSWORD_MAX_BYTES);
			return -1;
		}
		n = read(STDIN_FILENO, buf + off, MANAGE_PW_BUF - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			manage_err("reading standard input: %s",
			    strerror(errno));
			return -1;
		}
		if (n == 0)
			break;
		if ((nl = memchr(buf + off, '\n', (size_t)n)) != NULL) {
			*len = (size_t)(nl - buf);
			return 0;
		}
		off += (size_t)n;
	}
	if (off == 0) {
		manage_err("no password on standard input");
		return -1;
	}
	*len = off;
	return 0;
}

/* One line typed without echo after prompt. */
static int
manage_tty_line(const char *prompt, char *buf, size_t *len)
{
	struct sigaction	 sa, old[BW_ARRAY_LEN(manage_tty_signals)];
	struct termios		 quiet;
	size_t			 i;
	int			 rv;

	if (tcgetattr(STDIN_FILENO, &manage_tty_saved) == -1) {
		manage_err("terminal: %s", strerror(errno));
		return -1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = manage_tty_signal;
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < BW_ARRAY_LEN(manage_tty_signals); i++)
		sigaction(manage_tty_signals[i], &sa, &old[i]);
	quiet = manage_tty_saved;
	quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHOE | ECHOK | ECHONL);
	quiet.c_lflag |= ICANON;
	manage_tty_quiet = 1;
	if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) == -1) {
		manage_err("terminal: %s", strerror(errno));
		rv = -1;
	} else {
		fputs(prompt, stderr);
		(void)fflush(stderr);
		rv = manage_read_line(buf, len);
		fputc('\n', stderr);
	}
	(void)tcsetattr(STDIN_FILENO, TCSAFLUSH, &manage_tty_saved);
	manage_tty_quiet = 0;
	for (i = 0; i < BW_ARRAY_LEN(manage_tty_signals); i++)
		sigaction(manage_tty_signals[i], &old[i], NULL);
	return rv;
}

/*
 * The new password of ctx->name, policy-checked, hashed into phc
 * (PASSWORD_PHC_MAX bytes).  Every copy of the password is wiped here.
 */
static int
manage_password(struct manage_ctx *ctx, char *phc)
{
	struct password_params	 pp;
	char			*pw, *again = NULL, prompt[128];
	size_t			 len = 0, len2 = 0;
	const char		*err;
	int			 rv = -1;

	pw = bw_malloc(MANAGE_PW_BUF);
	if (isatty(STDIN_FILENO)) {
		again = bw_malloc(MANAGE_PW_BUF);
		(void)snprintf(prompt, sizeof(prompt), "Password for %s: ",
		    ctx->name);
		if (manage_tty_line(prompt, pw, &len) == -1 ||
		    manage_tty_line("Retype the password: ", again,
		    &len2) == -1)
			goto out;
		if (len != len2 || !bw_ct_equal(pw, again, len)) {
			manage_err("the passwords do not match");
			goto out;
		}
	} else if (manage_read_line(pw, &len) == -1)
		goto out;
	if (password_check_policy(ctx->conf->auth, pw, len, &err) == -1) {
		manage_err("password refused: %s", err);
		goto out;
	}
	password_params_conf(&ctx->conf->auth->argon2, &pp);
	if (password_hash(&pp, pw, len, phc, PASSWORD_PHC_MAX, &err) == -1) {
		manage_err("hashing the password: %s", err);
		goto out;
	}
	rv = 0;
out:
	bw_wipe(pw, MANAGE_PW_BUF);
	free(pw);
	if (again != NULL) {
		bw_wipe(again, MANAGE_PW_BUF);
		free(again);
	}
	return rv;
}

/*
 * Database
 */

/*
 * A blocking connection with the daemon's parameters (dbconf.h), bounded
 * by database.connect_timeout unless the conninfo sets its own.
 */
static int
manage_connect(struct manage_ctx *ctx)
{
	const char	*keys[DBCONF_MAX_KEYS + 2], *vals[DBCONF_MAX_KEYS + 2];
	const char	*err, *msg;
	struct dbconf	 dc;
	char		 timeout[24];
	size_t		 i;
	bool		 has_timeout = false;

	if (dbconf_build(ctx->conf, &dc, &err) == -1) {
		manage_err("%s: %s", ctx->conf->file, err);
		return MANAGE_EXIT_REFUSED;
	}
	for (i = 0; dc.keys[i] != NULL; i++) {
		keys[i] = dc.keys[i];
		vals[i] = dc.vals[i];
		if (strcmp(keys[i], "connect_timeout") == 0)
			has_timeout = true;
	}
	if (!has_timeout) {
		(void)snprintf(timeout, sizeof(timeout), "%lld", (long long)
		    (ctx->conf->database->connect_timeout_ms + 999) / 1000);
		keys[i] = "connect_timeout";
		vals[i++] = timeout;
	}
	keys[i] = vals[i] = NULL;
	ctx->pg = PQconnectdbParams(keys, vals, 0);
	dbconf_free(&dc);
	if (ctx->pg == NULL || PQstatus(ctx->pg) != CONNECTION_OK) {
		msg = ctx->pg != NULL ? PQerrorMessage(ctx->pg) :
		    "out of memory";
		manage_err("database unreachable: %.*s",
		    (int)strcspn(msg, "\n"), msg);
		return MANAGE_EXIT_RUNTIME;
	}
	return MANAGE_EXIT_OK;
}

static int
manage_schema_ok(struct manage_ctx *ctx)
{
	struct authdb_err	 e;
	int			 found;

	switch (authdb_version_check(ctx->pg, &found, &e)) {
	case AUTHDB_VERSION_OK:
		return 0;
	case AUTHDB_VERSION_MISSING:
		manage_err("schema bulwark does not exist: run bulwarkd "
		    "--init-db first");
		break;
	case AUTHDB_VERSION_OLD:
		manage_err("schema bulwark is at version %d, this bulwarkd "
		    "needs %d: run bulwarkd --init-db", found,
		    AUTHDB_SCHEMA_VERSION);
		break;
	case AUTHDB_VERSION_NEWER:
		manage_err("schema bulwark is at version %d, newer than this "
		    "bulwarkd knows (%d)", found, AUTHDB_SCHEMA_VERSION);
		break;
	case AUTHDB_VERSION_ERROR:
		manage_err("%s", e.msg);
		break;
	}
	return -1;
}

/* Runs st; NULL (after saying why) when it failed. */
static PGresult *
manage_exec(struct manage_ctx *ctx, enum authdb_stmt st,
    const char *const *values, int n, struct authdb_err *e)
{
	PGresult	*res;

	if ((res = authdb_exec(ctx->pg, st, values, n, e)) == NULL)
		manage_err("%s", e->msg);
	return res;
}

/*
 * A statement that names one user or key and returns a row when it
 * exists: 0 with the result in *resp, 1 when there was no row (after
 * saying so), -1 on a database error.
 */
static int
manage_exec_named(struct manage_ctx *ctx, enum authdb_stmt st,
    const char *const *values, int n, const char *what, PGresult **resp)
{
	struct authdb_err	 e;
	PGresult		*res;

	*resp = NULL;
	if ((res = manage_exec(ctx, st, values, n, &e)) == NULL)
		return -1;
	if (PQntuples(res) == 0) {
		manage_err("no %s named '%s'", what, ctx->name);
		PQclear(res);
		return 1;
	}
	*resp = res;
	return 0;
}

static int
manage_status(int rv)
{
	if (rv < 0)
		return MANAGE_EXIT_RUNTIME;
	return rv > 0 ? MANAGE_EXIT_REFUSED : MANAGE_EXIT_OK;
}

/*
 * The modes
 */

static int
manage_init_db(struct manage_ctx *ctx)
{
	struct authdb_err	 e;
	int			 from;

	if (authdb_init(ctx->pg, &from, &e) == -1) {
		manage_err("--init-db: %s", e.msg);
		return MANAGE_EXIT_RUNTIME;
	}
	if (from == 0)
		printf("schema bulwark created at version %d\n",
		    AUTHDB_SCHEMA_VERSION);
	else if (from < AUTHDB_SCHEMA_VERSION)
		printf("schema bulwark upgraded from version %d to %d\n", from,
		    AUTHDB_SCHEMA_VERSION);
	else
		printf("schema bulwark is up to date (version %d)\n", from);
	return MANAGE_EXIT_OK;
}

/* Whether ctx->name is a user: 1 yes, 0 no, -1 error. */
static int
manage_user_exists(struct manage_ctx *ctx)
{
	struct authdb_err	 e;
	const char		*v[1] = { ctx->name };
	PGresult		*res;
	int			 rv;

	if ((res = manage_exec(ctx, AUTHDB_LOGIN_LOOKUP, v, 1, &e)) == NULL)
		return -1;
	rv = PQntuples(res) > 0;
	PQclear(res);
	return rv;
}

static int
manage_add_user(struct manage_ctx *ctx)
{
	struct authdb_err	 e;
	char			 phc[PASSWORD_PHC_MAX];
	const char		*v[3] = { ctx->name, phc, ctx->roles };
	PGresult		*res;
	int			 rv;

	/* Before the password is typed; the INSERT checks again. */
	if ((rv = manage_user_exists(ctx)) != 0) {
		if (rv > 0)
			manage_err("user '%s' exists", ctx->name);
		return manage_status(rv);
	}
	if (manage_password(ctx, phc) == -1)
		return MANAGE_EXIT_REFUSED;
	res = manage_exec(ctx, AUTHDB_USER_ADD, v, 3, &e);
	bw_wipe(phc, sizeof(phc));
	if (res == NULL)
		return MANAGE_EXIT_RUNTIME;
	rv = PQntuples(res) == 1 ? MANAGE_EXIT_OK : MANAGE_EXIT_REFUSED;
	if (rv == MANAGE_EXIT_OK)
		printf("user %s added (roles %s)\n", ctx->name, ctx->roles);
	else
		manage_err("user '%s' exists", ctx->name);
	PQclear(res);
	return rv;
}

static int
manage_set_password(struct manage_ctx *ctx)
{
	char		 phc[PASSWORD_PHC_MAX];
	const char	*v[2] = { ctx->name, phc };
	PGresult	*res;
	int		 rv;

	if ((rv = manage_user_exists(ctx)) != 1) {
		if (rv == 0)
			manage_err("no user named '%s'", ctx->name);
		return manage_status(rv == 0 ? 1 : -1);
	}
	if (manage_password(ctx, phc) == -1)
		return MANAGE_EXIT_REFUSED;
	rv = manage_exec_named(ctx, AUTHDB_USER_SET_PASSWORD, v, 2, "user",
	    &res);
	bw_wipe(phc, sizeof(phc));
	if (rv == 0)
		printf("password of %s set; %s session(s) revoked\n",
		    ctx->name, PQgetvalue(res, 0, 1));
	PQclear(res);
	return manage_status(rv);
}

static int
manage_disable_user(struct manage_ctx *ctx)
{
	const char	*v[1] = { ctx->name };
	PGresult	*res;
	int		 rv;

	rv = manage_exec_named(ctx, AUTHDB_USER_DISABLE, v, 1, "user", &res);
	if (rv == 0)
		printf("user %s disabled; %s session(s) revoked\n", ctx->name,
		    PQgetvalue(res, 0, 1));
	PQclear(res);
	return manage_status(rv);
}

static int
manage_enable_user(struct manage_ctx *ctx)
{
	const char	*v[1] = { ctx->name };
	PGresult	*res;
	int		 rv;

	rv = manage_exec_named(ctx, AUTHDB_USER_ENABLE, v, 1, "user", &res);
	if (rv == 0)
		printf("user %s enabled\n", ctx->name);
	PQclear(res);
	return manage_status(rv);
}

static int
manage_revoke_sessions(struct manage_ctx *ctx)
{
	const char	*v[1] = { ctx->name };
	PGresult	*res;
	int		 rv;

	rv = manage_exec_named(ctx, AUTHDB_USER_REVOKE, v, 1, "user", &res);
	if (rv == 0)
		printf("sessions of %s revoked: %s refresh famil%s, every "
		    "access token issued so far\n", ctx->name,
		    PQgetvalue(res, 0, 1),
		    strcmp(PQgetvalue(res, 0, 1), "1") == 0 ? "y" : "ies");
	PQclear(res);
	return manage_status(rv);
}

/* Prints a result as tab-separated lines under a header. */
static void
manage_table(const PGresult *res, const char *header, int boolcol,
    const char *yes, const char *no)
{
	int	 r, c;

	printf("%s\n", header);
	for (r = 0; r < PQntuples(res); r++)
		for (c = 0; c < PQnfields(res); c++) {
			if (c == boolcol)
				fputs(strcmp(PQgetvalue(res, r, c), "t") == 0 ?
				    yes : no, stdout);
			else
				fputs(PQgetvalue(res, r, c), stdout);
			fputc(c + 1 < PQnfields(res) ? '\t' : '\n', stdout);
		}
}

static int
manage_list_users(struct manage_ctx *ctx)
{
	struct authdb_err	 e;
	PGresult		*res;

	if ((res = manage_exec(ctx, AUTHDB_USER_LIST, NULL, 0, &e)) == NULL)
		return MANAGE_EXIT_RUNTIME;
	manage_table(res, "username\troles\tstatus\tcreated", 2, "disabled",
	    "enabled");
	PQclear(res);
	return MANAGE_EXIT_OK;
}

/* Tries for a fresh id this many times (40 random bits each). */
#define MANAGE_KEY_TRIES	4

static int
manage_add_api_key(struct manage_ctx *ctx)
{
	struct authdb_err	 e;
	char			 key[AUTHDB_KEY_LEN + 1];
	char			 id[AUTHDB_KEY_ID_LEN + 1];
	char			 hash[AUTHDB_HASH_HEX_LEN + 1];
	const char		*v[4] = { id, ctx->name, hash, ctx->roles };
	PGresult		*res = NULL;
	int			 i, rv = MANAGE_EXIT_RUNTIME;

	memset(&e, 0, sizeof(e));
	for (i = 0; i < MANAGE_KEY_TRIES && res == NULL; i++) {
		if (authdb_key_new(key, id, hash) == -1) {
			manage_err("no randomness for the key");
			break;
		}
		res = authdb_exec(ctx->pg, AUTHDB_APIKEY_ADD, v, 4, &e);
		if (res != NULL || strcmp(e.constraint, "api_keys_pkey") != 0)
			break;
		bw_wipe(key, sizeof(key));
	}
	if (res != NULL) {
		printf("%s\n", key);
		(void)fflush(stdout);
		fprintf(stderr, "bulwarkd: API key %s added (id %s, roles %s);"
		    " it is shown only this once\n", ctx->name, id, ctx->roles);
		rv = MANAGE_EXIT_OK;
	} else if (strcmp(e.constraint, "api_keys_active_name") == 0) {
		manage_err("an active API key named '%s' exists (revoke it "
		    "first)", ctx->name);
		rv = MANAGE_EXIT_REFUSED;
	} else if (e.msg[0] != '\0')
		manage_err("%s", e.msg);
	bw_wipe(key, sizeof(key));
	PQclear(res);
	if (rv == MANAGE_EXIT_OK && ctx->conf->auth != NULL &&
	    !ctx->conf->auth->api_keys)
		manage_err("note: auth.api_keys is false; keys are not "
		    "accepted until it is true");
	return rv;
}

static int
manage_revoke_api_key(struct manage_ctx *ctx)
{
	const char	*v[1] = { ctx->name };
	PGresult	*res;
	int		 rv;

	rv = manage_exec_named(ctx, AUTHDB_APIKEY_REVOKE, v, 1,
	    "active API key", &res);
	if (rv == 0)
		printf("API key %s (id %s) revoked\n", ctx->name,
		    PQgetvalue(res, 0, 0));
	PQclear(res);
	return manage_status(rv);
}

static int
manage_list_api_keys(struct manage_ctx *ctx)
{
	struct authdb_err	 e;
	PGresult		*res;

	res = manage_exec(ctx, AUTHDB_APIKEY_LIST, NULL, 0, &e);
	if (res == NULL)
		return MANAGE_EXIT_RUNTIME;
	manage_table(res, "id\tname\troles\tstatus\tcreated", 3, "revoked",
	    "active");
	PQclear(res);
	return MANAGE_EXIT_OK;
}

static int
manage_gen_key(struct manage_ctx *ctx)
{
	const struct manage_args	*a = ctx->args;
	const char			*err;
	size_t				 i;

	for (i = 0; i < BW_ARRAY_LEN(manage_key_kinds); i++)
		if (strcmp(a->name, manage_key_kinds[i]) == 0)
			break;
	if (i == BW_ARRAY_LEN(manage_key_kinds)) {
		manage_err("--gen-key: unknown kind '%s' (ed25519, es256, "
		    "hs256, audit, backup)", a->name);
		return MANAGE_EXIT_USAGE;
	}
	if (keys_generate(a->name, a->file, &err) == -1) {
		manage_err("--gen-key %s: %s", a->file, err);
		return MANAGE_EXIT_RUNTIME;
	}
	printf("%s key written to %s\n", a->name, a->file);
	return MANAGE_EXIT_OK;
}

static int
manage_openapi(struct manage_ctx *ctx)
{
	if (openapi_print(ctx->conf, stdout) == -1 || fflush(stdout) == EOF) {
		manage_err("cannot write the OpenAPI document");
		return MANAGE_EXIT_RUNTIME;
	}
	return MANAGE_EXIT_OK;
}

static int
manage_backup(struct manage_ctx *ctx)
{
	const struct manage_args	*a = ctx->args;

	switch (a->mode) {
	case MANAGE_LIST_BACKUPS:
		return backup_mode_list(ctx->conf);
	case MANAGE_VERIFY_BACKUP:
		return backup_mode_verify(ctx->conf, a->name);
	case MANAGE_RESTORE:
		return backup_mode_restore(ctx->conf, a->name, a->target,
		    a->force);
	default:
		return backup_mode_backup(ctx->conf);
	}
}

/*
 * Running a mode
 */

/* The checks of the configuration and arguments a mode needs. */
static int
manage_prepare(struct manage_ctx *ctx, const struct manage_def *d)
{
	const struct conf	*conf = ctx->conf;

	if ((d->needs & M_DB) && conf->database == NULL) {
		manage_err("%s: no database section", conf->file);
		return MANAGE_EXIT_REFUSED;
	}
	if ((d->needs & M_BACKUP) && conf->backup == NULL) {
		manage_err("%s: no backup section", conf->file);
		return MANAGE_EXIT_REFUSED;
	}
	if ((d->needs & M_AUTH) && conf->auth == NULL) {
		manage_err("%s: no auth section (its password policy and "
		    "argon2 parameters are needed)", conf->file);
		return MANAGE_EXIT_REFUSED;
	}
	if ((d->needs & M_NAME) && !password_username_valid(ctx->args->name,
	    ctx->name, sizeof(ctx->name))) {
		manage_err("--%s: invalid name '%s': names match "
		    "^[a-z0-9][a-z0-9._@-]{0,63}$ (letters are lowercased)",
		    d->flag, ctx->args->name);
		return MANAGE_EXIT_USAGE;
	}
	if ((d->needs & M_ROLES) && manage_roles(ctx) == -1)
		return MANAGE_EXIT_USAGE;
	return MANAGE_EXIT_OK;
}

/* --verify-audit: the database only for audit_head, when reachable. */
static int
manage_verify_audit(struct manage_ctx *ctx)
{
	const struct manage_args	*a = ctx->args;

	if (ctx->conf->database != NULL &&
	    manage_connect(ctx) != MANAGE_EXIT_OK) {
		PQfinish(ctx->pg);
		ctx->pg = NULL;
	}
	return audit_admin_verify(ctx->conf, ctx->pg, a->files, a->nfiles,
	    a->from_seq);
}

/* The record of a mode that changed state, with what it was asked. */
static int
manage_audit_record(struct manage_ctx *ctx, struct audit_admin *au, int rv)
{
	const char	*err;
	json_t		*detail;

	detail = json_pack("{s:i}", "exit", rv);
	if (detail != NULL && ctx->name[0] != '\0')
		json_object_set_new(detail, "name", json_string(ctx->name));
	if (detail != NULL && ctx->args->roles != NULL)
		json_object_set_new(detail, "roles",
		    json_string(ctx->roles[0] != '\0' ? ctx->roles :
		    ctx->args->roles));
	if (audit_admin_record(au, ctx->pg, ctx->args->flag, detail,
	    &err) == -1) {
		manage_err("audit log %s: %s: the record of --%s is missing",
		    ctx->conf->audit->file, err, ctx->args->flag);
		rv = MANAGE_EXIT_RUNTIME;
	}
	json_decref(detail);
	return rv;
}

/* Runs the mode, audited when it changes state and a log is configured. */
static int
manage_run_audited(struct manage_ctx *ctx, const struct manage_def *d)
{
	struct audit_admin	 au;
	const char		*err;
	int			 rv;

	if (!(d->needs & M_AUDIT))
		return d->run(ctx);
	if (audit_admin_begin(&au, ctx->conf, &err) == -1) {
		manage_err("audit log %s: %s: --%s not run",
		    ctx->conf->audit->file, err, d->flag);
		return MANAGE_EXIT_RUNTIME;
	}
	rv = manage_audit_record(ctx, &au, d->run(ctx));
	audit_admin_end(&au);
	return rv;
}

int
manage_run(const char *config, const struct manage_args *a)
{
	const struct manage_def	*d = manage_def_of(a->mode);
	struct manage_ctx	 ctx;
	struct bw_diag		 diag = { 0 };
	int			 rv;

	if (manage_usage(a, d) == -1)
		return MANAGE_EXIT_USAGE;
	memset(&ctx, 0, sizeof(ctx));
	ctx.args = a;
	if (d->needs & M_NOCONF)
		return d->run(&ctx);
	ctx.conf = conf_load(config, &diag);
	bw_diag_print(&diag, stderr);
	bw_diag_free(&diag);
	if (ctx.conf == NULL)
		return MANAGE_EXIT_REFUSED;
	if ((rv = manage_prepare(&ctx, d)) == MANAGE_EXIT_OK &&
	    (d->needs & (M_NODB | M_BACKUP)))
		rv = manage_run_audited(&ctx, d);
	else if (rv == MANAGE_EXIT_OK &&
	    (rv = manage_connect(&ctx)) == MANAGE_EXIT_OK) {
		if (!(d->needs & M_NOSCHEMA) && manage_schema_ok(&ctx) == -1)
			rv = MANAGE_EXIT_RUNTIME;
		else
			rv = manage_run_audited(&ctx, d);
	}
	PQfinish(ctx.pg);
	conf_free(ctx.conf);
	return rv;
}
