/*
 * conf.c - the configuration file (SPEC 4): strict YAML to typed structs.
 *
 * Every mapping of the format is described once by a key table (struct
 * conf_table): name, type, offset, default, bounds and, where a type needs
 * it, a parse/dump/free hook.  The same tables drive parsing, defaults,
 * freeing, the -T dump and the manual page check, so a key cannot be parsed
 * without being dumped and documented.  Defaults are written as YAML text
 * and go through the same code as values from the file.
 *
 * Every error is collected with its position (conf_err); parsing goes on
 * after an error so that one run reports them all.  Positions: the key for
 * an unknown key, the value for a bad value, the enclosing mapping for a
 * missing key (or for a check on a default value), FILE:1:1 for the file.
 *
 * Threat model: the file is trusted to configure the daemon but not to be
 * well-formed; nothing in it is used before it has been checked, messages
 * quote input only through yaml_excerpt(), and no secret is ever read here:
 * secret files are opened and checked (owner, mode, type) and closed.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sched.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "conf.h"
#include "node.h"
#include "util.h"
#include "yaml_strict.h"

#define CONF_MAX_STRING		4096
#define CONF_MAX_SQL		65536
#define CONF_MAX_LIST		64
#define CONF_MAX_LISTEN		16
#define CONF_MAX_HEADERS	32
#define CONF_MAX_ROLES		256
#define CONF_MAX_SCHEMAS	1024
#define CONF_MAX_ROUTES		1024
#define CONF_MAX_WORKERS	256
#define CONF_MAX_PARAMS		32

#define MS_S	1000LL
#define MS_M	(60 * MS_S)
#define MS_H	(60 * MS_M)
#define MS_D	(24 * MS_H)
#define KIB	1024LL
#define MIB	(1024 * KIB)
#define GIB	(1024 * MIB)

enum conf_type {
	CT_BOOL,	/* bool */
	CT_INT,		/* int, min..max */
	CT_U32,		/* uint32_t, min..max */
	CT_DURATION,	/* int64_t milliseconds, min..max */
	CT_SIZE,	/* uint64_t bytes, min..max */
	CT_STRING,	/* char *, at most max bytes (0: CONF_MAX_STRING) */
	CT_PATH,	/* char *, absolute (or credential: with F_SECRET) */
	CT_ENUM,	/* int: index into names */
	CT_ENUMSTR,	/* char *: one of names */
	CT_STRLIST,	/* char **, count at off2, at most max entries */
	CT_RATE,	/* struct conf_rate; null disables */
	CT_SECTION,	/* embedded struct described by sub */
	CT_OPTSECTION,	/* pointer to a struct allocated when present */
	CT_CUSTOM,	/* parse, dump and free hooks */
};

#define F_REQ		0x01	/* required */
#define F_NULL		0x02	/* null allowed: no value */
#define F_SECRET	0x04	/* a secret file (conf_open_secret) */
#define F_FILE		0x08	/* an existing readable file */
#define F_INHERIT	0x10	/* absent: resolved by the post hook */

struct conf_ctx;
struct conf_out;
struct conf_key;

struct conf_table {
	const struct conf_key	*keys;
	size_t			 nkeys;
	size_t			 size;	/* CT_OPTSECTION */
	void			(*post)(struct conf_ctx *,
				    const struct node *, const struct node *,
				    void *);
};

struct conf_key {
	const char		*name;
	enum conf_type		 type;
	size_t			 off;
	size_t			 off2;
	unsigned		 flags;
	const char		*def;	/* YAML text; NULL: none */
	int64_t			 min;
	int64_t			 max;
	const char *const	*names;
	const struct conf_table	*sub;
	const char		*item;	/* walk: "[]" or ".NAME" */
	int			(*check)(struct conf_ctx *,
				    const struct node *, const char *);
	void			(*parse)(struct conf_ctx *,
				    const struct node *, void *);
	void			(*dump)(struct conf_out *,
				    const struct conf_key *, const void *);
	void			(*free)(void *);
};

struct conf_ctx {
	struct conf	*conf;
	struct bw_diag	*diag;
	const char	*file;
	bool		 files;		/* check named files */
	bool		 in_default;	/* parsing a default value */
	char		 path[256];	/* dotted key path */
};

struct conf_out {
	FILE		*fp;
	int		 indent;
};

static void	 conf_err(struct conf_ctx *, const struct node *,
		    const char *, ...) __attribute__((format(printf, 3, 4)));
static size_t	 conf_path_push(struct conf_ctx *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
static void	 conf_map(struct conf_ctx *, const struct conf_table *,
		    const struct node *, const struct node *, void *);
static void	 conf_free_map(const struct conf_table *, void *);
static void	 conf_dump_map(struct conf_out *, const struct conf_table *,
		    const void *);
static void	 conf_dump_str(FILE *, const char *);

/*
 * Messages and positions.
 */
static void
conf_err(struct conf_ctx *c, const struct node *n, const char *fmt, ...)
{
	va_list	 ap;
	char	 msg[400];

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (c->path[0] != '\0')
		bw_diag_add(c->diag, c->file, n ? n->line : 1, n ? n->col : 1,
		    "%s: %s", c->path, msg);
	else
		bw_diag_add(c->diag, c->file, n ? n->line : 1, n ? n->col : 1,
		    "%s", msg);
}

static size_t
conf_path_push(struct conf_ctx *c, const char *fmt, ...)
{
	va_list	 ap;
	size_t	 old = strlen(c->path);

	va_start(ap, fmt);
	(void)vsnprintf(c->path + old, sizeof(c->path) - old, fmt, ap);
	va_end(ap);
	return old;
}

static size_t
conf_path_key(struct conf_ctx *c, const char *name)
{
	return conf_path_push(c, "%s%s", c->path[0] ? "." : "", name);
}

static void
conf_path_pop(struct conf_ctx *c, size_t old)
{
	c->path[old] = '\0';
}

static const char *
conf_a(const struct node *n)
{
	const char	*t = yaml_type_name(n);

	if (strcmp(t, "null") == 0)
		return "null";
	if (t[0] == 'i')
		return "an integer";
	if (strcmp(t, "string") == 0)
		return "a string";
	if (strcmp(t, "mapping") == 0)
		return "a mapping";
	if (strcmp(t, "sequence") == 0)
		return "a sequence";
	return "a boolean";
}

static const char *
conf_ex(const char *s, char *buf, size_t bufsz)
{
	yaml_excerpt(s, strlen(s), buf, bufsz);
	return buf;
}

static void
conf_reposition(struct node *n, int line, int col)
{
	size_t	i;

	n->line = line;
	n->col = col;
	for (i = 0; i < n->n; i++) {
		if (n->keys != NULL)
			conf_reposition(n->keys[i], line, col);
		conf_reposition(n->vals[i], line, col);
	}
}

/*
 * Small syntax helpers (ASCII only, independent of the locale).
 */
static bool
conf_isalpha(int ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

static bool
conf_isdigit(int ch)
{
	return ch >= '0' && ch <= '9';
}

static bool
conf_istchar(int ch)
{
	return conf_isalpha(ch) || conf_isdigit(ch) ||
	    (ch != '\0' && strchr("!#$%&'*+-.^_`|~", ch) != NULL);
}

static int
conf_lower(int ch)
{
	return ch >= 'A' && ch <= 'Z' ? ch - 'A' + 'a' : ch;
}

static bool
conf_strcaseeq(const char *a, const char *b)
{
	for (; *a != '\0' && *b != '\0'; a++, b++)
		if (conf_lower((unsigned char)*a) !=
		    conf_lower((unsigned char)*b))
			return false;
	return *a == *b;
}

/* ^[a-z][a-z0-9_]*$ with at most max characters after the first. */
static bool
conf_ident(const char *s, size_t max)
{
	size_t	i;

	if (s[0] < 'a' || s[0] > 'z')
		return false;
	for (i = 1; s[i] != '\0'; i++)
		if (i > max || !((s[i] >= 'a' && s[i] <= 'z') ||
		    conf_isdigit(s[i]) || s[i] == '_'))
			return false;
	return true;
}

/* A DNS host name: labels of [A-Za-z0-9-], not starting or ending in -. */
static bool
conf_hostname(const char *s)
{
	size_t	i, lab = 0, len = strlen(s);

	if (len == 0 || len > 253 || s[len - 1] == '.')
		return false;
	for (i = 0; i <= len; i++) {
		if (s[i] == '.' || s[i] == '\0') {
			if (lab == 0 || lab > 63 || s[i - 1] == '-')
				return false;
			lab = 0;
			continue;
		}
		if (!conf_isalpha(s[i]) && !conf_isdigit(s[i]) && s[i] != '-')
			return false;
		if (lab == 0 && s[i] == '-')
			return false;
		lab++;
	}
	return true;
}

/*
 * Generic values.
 */
static const char *
conf_scalar(struct conf_ctx *c, const struct node *n, const char *what)
{
	if (n->kind != NODE_SCALAR || yaml_is_null(n)) {
		conf_err(c, n, "expected %s, got %s", what, conf_a(n));
		return NULL;
	}
	return n->text;
}

static const char *
conf_str(struct conf_ctx *c, const struct node *n, size_t max)
{
	if (max == 0)
		max = CONF_MAX_STRING;
	if (!yaml_is_string(n)) {
		conf_err(c, n, "expected a string, got %s", conf_a(n));
		return NULL;
	}
	if (strlen(n->text) != n->len) {
		conf_err(c, n, "must not contain NUL characters");
		return NULL;
	}
	if (n->len == 0) {
		conf_err(c, n, "must not be empty");
		return NULL;
	}
	if (n->len > max) {
		conf_err(c, n, "longer than %zu bytes", max);
		return NULL;
	}
	return n->text;
}

static int
conf_int(struct conf_ctx *c, const struct node *n, int64_t min, int64_t max,
    int64_t *v)
{
	if (yaml_get_int(n, v) == -1) {
		conf_err(c, n, "expected an integer, got %s", conf_a(n));
		return -1;
	}
	if (*v < min || *v > max) {
		conf_err(c, n, "must be between %lld and %lld",
		    (long long)min, (long long)max);
		return -1;
	}
	return 0;
}

static void
conf_fmt_duration(int64_t ms, char *buf, size_t bufsz)
{
	static const struct {
		int64_t		 f;
		const char	*u;
	} u[] = { { MS_D, "d" }, { MS_H, "h" }, { MS_M, "m" }, { MS_S, "s" } };
	size_t	i;

	if (ms == 0) {
		(void)snprintf(buf, bufsz, "0");
		return;
	}
	for (i = 0; i < BW_ARRAY_LEN(u); i++) {
		if (ms % u[i].f == 0) {
			(void)snprintf(buf, bufsz, "%lld%s",
			    (long long)(ms / u[i].f), u[i].u);
			return;
		}
	}
	(void)snprintf(buf, bufsz, "%lldms", (long long)ms);
}

static void
conf_fmt_size(uint64_t b, char *buf, size_t bufsz)
{
	if (b != 0 && b % GIB == 0)
		(void)snprintf(buf, bufsz, "%lluGiB",
		    (unsigned long long)(b / GIB));
	else if (b != 0 && b % MIB == 0)
		(void)snprintf(buf, bufsz, "%lluMiB",
		    (unsigned long long)(b / MIB));
	else if (b != 0 && b % KIB == 0)
		(void)snprintf(buf, bufsz, "%lluKiB",
		    (unsigned long long)(b / KIB));
	else
		(void)snprintf(buf, bufsz, "%lluB", (unsigned long long)b);
}

static int
conf_duration(struct conf_ctx *c, const struct node *n, int64_t min,
    int64_t max, int64_t *v)
{
	const char	*s, *err;
	char		 a[32], b[32];

	if ((s = conf_scalar(c, n, "a duration")) == NULL)
		return -1;
	if (bw_parse_duration(s, v, &err) == -1) {
		conf_err(c, n, "%s", err);
		return -1;
	}
	if (*v < min || *v > max) {
		conf_fmt_duration(min, a, sizeof(a));
		conf_fmt_duration(max, b, sizeof(b));
		conf_err(c, n, "must be between %s and %s", a, b);
		return -1;
	}
	return 0;
}

static int
conf_size(struct conf_ctx *c, const struct node *n, int64_t min, int64_t max,
    uint64_t *v)
{
	const char	*s, *err;
	char		 a[32], b[32];

	if ((s = conf_scalar(c, n, "a size")) == NULL)
		return -1;
	if (bw_parse_size(s, v, &err) == -1) {
		conf_err(c, n, "%s", err);
		return -1;
	}
	if (*v < (uint64_t)min || *v > (uint64_t)max) {
		conf_fmt_size((uint64_t)min, a, sizeof(a));
		conf_fmt_size((uint64_t)max, b, sizeof(b));
		conf_err(c, n, "must be between %s and %s", a, b);
		return -1;
	}
	return 0;
}

static int
conf_enum(struct conf_ctx *c, const struct node *n, const char *const *names)
{
	const char	*s;
	char		 list[200];
	size_t		 i, o = 0;

	if ((s = conf_str(c, n, 0)) == NULL)
		return -1;
	for (i = 0; names[i] != NULL; i++)
		if (strcmp(s, names[i]) == 0)
			return (int)i;
	list[0] = '\0';
	for (i = 0; names[i] != NULL && o < sizeof(list); i++)
		o += (size_t)snprintf(list + o, sizeof(list) - o, "%s%s",
		    i ? ", " : "", names[i]);
	conf_err(c, n, "must be one of %s", list);
	return -1;
}

/*
 * Files.  Secret files are checked for type, owner and mode and closed;
 * other files must exist and be readable.
 */
char *
conf_expand_path(const char *path, const char **err)
{
	const char	*name, *dir;
	char		*out;
	size_t		 i, len;

	if (strncmp(path, "credential:", 11) != 0)
		return bw_strdup(path);
	name = path + 11;
	if (name[0] == '\0' || name[0] == '.' || strlen(name) > 255) {
		*err = "invalid credential name";
		return NULL;
	}
	for (i = 0; name[i] != '\0'; i++) {
		if (!conf_isalpha(name[i]) && !conf_isdigit(name[i]) &&
		    strchr("._-", name[i]) == NULL) {
			*err = "invalid credential name";
			return NULL;
		}
	}
	if ((dir = getenv("CREDENTIALS_DIRECTORY")) == NULL ||
	    dir[0] != '/') {
		*err = "credential: needs CREDENTIALS_DIRECTORY (systemd "
		    "LoadCredential=), which is not set";
		return NULL;
	}
	len = strlen(dir) + 1 + strlen(name) + 1;
	out = bw_malloc(len);
	(void)snprintf(out, len, "%s/%s", dir, name);
	return out;
}

static bool
conf_user_in_group(const struct passwd *pw, gid_t gid)
{
	gid_t	 groups[256];
	int	 n = (int)BW_ARRAY_LEN(groups), i;

	if (pw->pw_gid == gid)
		return true;
	if (getgrouplist(pw->pw_name, pw->pw_gid, groups, &n) == -1)
		return true;
	for (i = 0; i < n; i++)
		if (groups[i] == gid)
			return true;
	return false;
}

/*
 * Reentrant account look-ups into a caller's buffer of CONF_PWBUF bytes.
 * Each returns the entry, or NULL with *failed false for an unknown (or
 * NULL) name, or NULL with *failed true when the database did not answer
 * or the entry does not fit the buffer; callers refuse the file then.
 */
#define CONF_PWBUF	16384

static struct passwd *
conf_getpw(const char *name, struct passwd *pw, char *buf, bool *failed)
{
	struct passwd	*res = NULL;

	*failed = false;
	if (name == NULL)
		return NULL;
	if (getpwnam_r(name, pw, buf, CONF_PWBUF, &res) != 0) {
		*failed = true;
		return NULL;
	}
	return res;
}

static struct group *
conf_getgr(const char *name, struct group *gr, char *buf, bool *failed)
{
	struct group	*res = NULL;

	*failed = false;
	if (name == NULL)
		return NULL;
	if (getgrnam_r(name, gr, buf, CONF_PWBUF, &res) != 0) {
		*failed = true;
		return NULL;
	}
	return res;
}

static int
conf_secret_fd(int fd, const char *service_user, const char *worker_user,
    const char **err)
{
	struct stat	 st;
	struct passwd	 pwent, *pw;
	struct group	 grent, *gr;
	char		 buf[CONF_PWBUF];
	bool		 owner_ok, group_ok, failed;

	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		*err = "not a regular file";
		return -1;
	}
	pw = conf_getpw(service_user, &pwent, buf, &failed);
	owner_ok = st.st_uid == 0 || st.st_uid == geteuid() ||
	    (pw != NULL && st.st_uid == pw->pw_uid);
	if (!owner_ok) {
		*err = "not owned by root or the service user";
		return -1;
	}
	if (st.st_mode & S_IRWXO) {
		*err = "accessible by others (chmod o-rwx)";
		return -1;
	}
	if (st.st_mode & (S_IWGRP | S_IXGRP)) {
		*err = "group may write or execute it (chmod g-wx)";
		return -1;
	}
	if (st.st_mode & S_IRGRP) {
		gr = conf_getgr(service_user, &grent, buf, &failed);
		group_ok = st.st_gid == getegid() ||
		    (gr != NULL && st.st_gid == gr->gr_gid);
		if (!group_ok) {
			*err = "group-readable by a group other than the "
			    "service group";
			return -1;
		}
	}
	pw = conf_getpw(worker_user, &pwent, buf, &failed);
	if (failed) {
		*err = "cannot look up server.user";
		return -1;
	}
	if (pw != NULL) {
		if ((pw->pw_uid == st.st_uid && (st.st_mode & S_IRUSR)) ||
		    ((st.st_mode & S_IRGRP) &&
		    conf_user_in_group(pw, st.st_gid))) {
			*err = "readable by server.user";
			return -1;
		}
	}
	return 0;
}

int
conf_open_secret_worker(const char *path, const char *service_user,
    const char *worker_user, const char **err)
{
	char	*p;
	int	 fd;

	if ((p = conf_expand_path(path, err)) == NULL)
		return -1;
	fd = open(p, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY |
	    O_NONBLOCK);
	free(p);
	if (fd == -1) {
		*err = errno == ELOOP ? "is a symbolic link" : strerror(errno);
		return -1;
	}
	if (conf_secret_fd(fd, service_user, worker_user, err) == -1) {
		close(fd);
		return -1;
	}
	if (fcntl(fd, F_SETFL, 0) == -1) {
		*err = strerror(errno);
		close(fd);
		return -1;
	}
	return fd;
}

int
conf_open_secret(const char *path, const char *service_user,
    const char **err)
{
	return conf_open_secret_worker(path, service_user, NULL, err);
}

int
conf_secret_open(const struct conf *conf, const char *path, const char **err)
{
	return conf_open_secret_worker(path, CONF_SERVICE_USER,
	    conf->server.user, err);
}

static int
conf_open_file(const char *path, const char **err)
{
	struct stat	st;
	int		fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY |
	    O_NONBLOCK)) == -1) {
		*err = strerror(errno);
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		*err = "not a regular file";
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

/*
 * A path value: absolute, or credential:NAME for secrets; the files it
 * names are checked when the context says so.  Returns the stored path.
 */
static char *
conf_path(struct conf_ctx *c, const struct conf_key *k, const struct node *n)
{
	const char	*s, *err;
	char		*p, ex[128];
	int		 fd;

	if ((s = conf_str(c, n, CONF_MAX_STRING)) == NULL)
		return NULL;
	if (strncmp(s, "credential:", 11) == 0 && (k->flags & F_SECRET)) {
		if ((p = conf_expand_path(s, &err)) == NULL) {
			conf_err(c, n, "%s", err);
			return NULL;
		}
	} else if (s[0] != '/') {
		conf_err(c, n, "must be an absolute path%s",
		    (k->flags & F_SECRET) ? " or credential:NAME" : "");
		return NULL;
	} else
		p = bw_strdup(s);
	if (c->files && (k->flags & F_SECRET)) {
		fd = conf_open_secret_worker(p, CONF_SERVICE_USER,
		    c->conf->server.user, &err);
		if (fd == -1) {
			conf_err(c, n, "secret file %s: %s",
			    conf_ex(p, ex, sizeof(ex)), err);
			free(p);
			return NULL;
		}
		close(fd);
	} else if (c->files && (k->flags & F_FILE)) {
		if (conf_open_file(p, &err) == -1) {
			conf_err(c, n, "%s: %s", conf_ex(p, ex, sizeof(ex)),
			    err);
			free(p);
			return NULL;
		}
	}
	return p;
}

/* One string value of a CT_STRING, CT_PATH or CT_ENUMSTR key, or a list. */
static char *
conf_string_value(struct conf_ctx *c, const struct conf_key *k,
    const struct node *n)
{
	const char	*s;
	int		 i;

	if (k->type == CT_PATH || (k->type == CT_STRLIST &&
	    (k->flags & (F_SECRET | F_FILE))))
		return conf_path(c, k, n);
	if (k->type == CT_ENUMSTR) {
		if ((i = conf_enum(c, n, k->names)) == -1)
			return NULL;
		return bw_strdup(k->names[i]);
	}
	if ((s = conf_str(c, n, k->type == CT_STRLIST ? 0 :
	    (size_t)k->max)) == NULL)
		return NULL;
	if (k->check != NULL && k->check(c, n, s) == -1)
		return NULL;
	return bw_strdup(s);
}

static void
conf_strlist(struct conf_ctx *c, const struct conf_key *k,
    const struct node *n, char ***vp, size_t *np)
{
	char	*s;
	size_t	 i, j, old;
	int64_t	 max = k->max > 0 ? k->max : CONF_MAX_LIST;

	if (n->kind != NODE_SEQ) {
		conf_err(c, n, "expected a sequence, got %s", conf_a(n));
		return;
	}
	if ((int64_t)n->n > max) {
		conf_err(c, n, "at most %lld entries", (long long)max);
		return;
	}
	*vp = bw_calloc(n->n + 1, sizeof(**vp));
	for (i = 0; i < n->n; i++) {
		old = conf_path_push(c, "[%zu]", i);
		s = conf_string_value(c, k, n->vals[i]);
		for (j = 0; s != NULL && j < *np; j++) {
			if (strcmp(s, (*vp)[j]) == 0) {
				conf_err(c, n->vals[i], "duplicate entry");
				free(s);
				s = NULL;
			}
		}
		conf_path_pop(c, old);
		if (s != NULL)
			(*vp)[(*np)++] = s;
	}
}

static const struct conf_table conf_rate_table;

static void
conf_value(struct conf_ctx *c, const struct conf_key *k, const struct node *n,
    void *base)
{
	void		*f = (char *)base + k->off;
	int64_t		 v;
	bool		 b;
	int		 i;

	if (yaml_is_null(n) && (k->flags & F_NULL) && k->type != CT_CUSTOM)
		return;
	switch (k->type) {
	case CT_BOOL:
		if (yaml_get_bool(n, &b) == -1)
			conf_err(c, n, "expected a boolean (true or false), "
			    "got %s", conf_a(n));
		else
			*(bool *)f = b;
		break;
	case CT_INT:
		if (conf_int(c, n, k->min, k->max, &v) == 0)
			*(int *)f = (int)v;
		break;
	case CT_U32:
		if (conf_int(c, n, k->min, k->max, &v) == 0)
			*(uint32_t *)f = (uint32_t)v;
		break;
	case CT_DURATION:
		conf_duration(c, n, k->min, k->max, (int64_t *)f);
		break;
	case CT_SIZE:
		conf_size(c, n, k->min, k->max, (uint64_t *)f);
		break;
	case CT_STRING:
	case CT_PATH:
	case CT_ENUMSTR:
		free(*(char **)f);
		*(char **)f = conf_string_value(c, k, n);
		break;
	case CT_ENUM:
		if ((i = conf_enum(c, n, k->names)) != -1)
			*(int *)f = i;
		break;
	case CT_STRLIST:
		conf_strlist(c, k, n, (char ***)f,
		    (size_t *)((char *)base + k->off2));
		break;
	case CT_RATE:
		if (yaml_is_null(n)) {
			((struct conf_rate *)f)->enabled = false;
			break;
		}
		if (n->kind != NODE_MAP) {
			conf_err(c, n, "expected a mapping {by, rate, burst} "
			    "or null, got %s", conf_a(n));
			break;
		}
		memset(f, 0, sizeof(struct conf_rate));
		conf_map(c, &conf_rate_table, n, n, f);
		break;
	case CT_SECTION:
		conf_map(c, k->sub, n, n, f);
		break;
	case CT_OPTSECTION:
		if (n->kind != NODE_MAP) {
			conf_err(c, n, "expected a mapping, got %s",
			    conf_a(n));
			break;
		}
		*(void **)f = bw_calloc(1, k->sub->size);
		conf_map(c, k->sub, n, n, *(void **)f);
		break;
	case CT_CUSTOM:
		k->parse(c, n, base);
		break;
	}
}

/* Applies a key's default; positions in it are the enclosing mapping's. */
static void
conf_default(struct conf_ctx *c, const struct conf_key *k,
    const struct node *where, void *base)
{
	struct bw_diag	 d;
	struct node	*n;
	bool		 saved = c->in_default;

	memset(&d, 0, sizeof(d));
	n = yaml_load_buffer("<default>", k->def, strlen(k->def), &d);
	if (n == NULL || d.errors > 0) {
		conf_err(c, where, "internal error: bad default for %s",
		    k->name);
		node_free(n);
		bw_diag_free(&d);
		return;
	}
	bw_diag_free(&d);
	conf_reposition(n, where ? where->line : 1, where ? where->col : 1);
	c->in_default = true;
	conf_value(c, k, n, base);
	c->in_default = saved;
	node_free(n);
}

static const struct conf_key *
conf_find_key(const struct conf_table *t, const char *name, size_t len)
{
	size_t	i;

	for (i = 0; i < t->nkeys; i++)
		if (strlen(t->keys[i].name) == len &&
		    memcmp(t->keys[i].name, name, len) == 0)
			return &t->keys[i];
	return NULL;
}

/*
 * Parses a mapping by its table.  map is NULL when the section is absent
 * (defaults only); where is the position for missing keys.
 */
static void
conf_map(struct conf_ctx *c, const struct conf_table *t,
    const struct node *map, const struct node *where, void *base)
{
	const struct conf_key	*k;
	const struct node	*val;
	char			 ex[128];
	size_t			 i, old;
	bool			 quiet = false;

	if (map != NULL && map->kind != NODE_MAP) {
		if (!yaml_is_null(map))
			conf_err(c, map, "expected a mapping, got %s",
			    conf_a(map));
		quiet = !yaml_is_null(map);
		map = NULL;
	}
	for (i = 0; map != NULL && i < map->n; i++) {
		if (conf_find_key(t, map->keys[i]->text,
		    map->keys[i]->len) == NULL)
			conf_err(c, map->keys[i], "unknown key '%s'",
			    conf_ex(map->keys[i]->text, ex, sizeof(ex)));
	}
	for (i = 0; i < t->nkeys; i++) {
		k = &t->keys[i];
		val = node_get(map, k->name);
		old = conf_path_key(c, k->name);
		if (val != NULL)
			conf_value(c, k, val, base);
		else if (k->flags & F_REQ) {
			conf_path_pop(c, old);
			if (!quiet)
				conf_err(c, where, "missing required key "
				    "'%s'", k->name);
			continue;
		} else if (k->def != NULL)
			conf_default(c, k, where, base);
		else if (k->type == CT_SECTION)
			conf_map(c, k->sub, NULL, where,
			    (char *)base + k->off);
		conf_path_pop(c, old);
	}
	if (t->post != NULL)
		t->post(c, map, where, base);
}

/*
 * Addresses: "host:port" and "[v6]:port" with a numeric host.
 */
static int
conf_parse_listen(const char *s, struct conf_listen *l, const char **err)
{
	char			 host[64];
	const char		*port, *end;
	struct sockaddr_in	*sin = (struct sockaddr_in *)&l->addr;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&l->addr;
	uint64_t		 p;
	size_t			 hl;
	bool			 v6 = s[0] == '[';

	*err = "expected host:port or [v6]:port with a numeric address";
	if (v6) {
		if ((end = strchr(s, ']')) == NULL || end[1] != ':')
			return -1;
		hl = (size_t)(end - s - 1);
		s++;
		port = end + 2;
	} else {
		if ((end = strrchr(s, ':')) == NULL)
			return -1;
		hl = (size_t)(end - s);
		port = end + 1;
	}
	if (hl == 0 || hl >= sizeof(host))
		return -1;
	memcpy(host, s, hl);
	host[hl] = '\0';
	if (bw_parse_uint(port, 65535, &p) == -1 || p == 0) {
		*err = "invalid port (1..65535)";
		return -1;
	}
	memset(&l->addr, 0, sizeof(l->addr));
	if (!v6 && inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)p);
		l->addrlen = sizeof(*sin);
	} else if (v6 && inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)p);
		l->addrlen = sizeof(*sin6);
	} else
		return -1;
	return 0;
}

static bool
conf_listen_same(const struct conf_listen *a, const struct conf_listen *b)
{
	return a->addrlen == b->addrlen &&
	    memcmp(&a->addr, &b->addr, a->addrlen) == 0;
}

static int
conf_listen_one(struct conf_ctx *c, const struct node *n,
    struct conf_listen *l)
{
	const char	*s, *err;

	if ((s = conf_str(c, n, 64)) == NULL)
		return -1;
	if (conf_parse_listen(s, l, &err) == -1) {
		conf_err(c, n, "%s", err);
		return -1;
	}
	l->text = bw_strdup(s);
	l->pos.line = n->line;
	l->pos.col = n->col;
	return 0;
}

static void
conf_listen_parse(struct conf_ctx *c, const struct node *n, void *base)
{
	struct conf_server	*s = base;
	struct conf_listen	 l;
	size_t			 i, j, old;
	bool			 dup;

	if (n->kind != NODE_SEQ) {
		conf_err(c, n, "expected a sequence of addresses, got %s",
		    conf_a(n));
		return;
	}
	if (n->n == 0 || n->n > CONF_MAX_LISTEN) {
		conf_err(c, n, "needs 1 to %d addresses", CONF_MAX_LISTEN);
		return;
	}
	s->listen = bw_calloc(n->n, sizeof(*s->listen));
	for (i = 0; i < n->n; i++) {
		memset(&l, 0, sizeof(l));
		old = conf_path_push(c, "[%zu]", i);
		if (conf_listen_one(c, n->vals[i], &l) == 0) {
			for (j = 0, dup = false; j < s->nlisten; j++)
				dup = dup ||
				    conf_listen_same(&s->listen[j], &l);
			if (dup) {
				conf_err(c, n->vals[i], "duplicate address");
				free(l.text);
			} else
				s->listen[s->nlisten++] = l;
		}
		conf_path_pop(c, old);
	}
}

static void
conf_listen_dump(struct conf_out *o, const struct conf_key *k,
    const void *base)
{
	const struct conf_server	*s = base;
	size_t				 i;

	fprintf(o->fp, "%*s%s: [", o->indent, "", k->name);
	for (i = 0; i < s->nlisten; i++) {
		fputs(i ? ", " : "", o->fp);
		conf_dump_str(o->fp, s->listen[i].text);
	}
	fputs("]\n", o->fp);
}

static void
conf_listen_free(void *base)
{
	struct conf_server	*s = base;
	size_t			 i;

	for (i = 0; i < s->nlisten; i++)
		free(s->listen[i].text);
	free(s->listen);
}

/*
 * server.workers: auto = the CPUs of the affinity mask, capped by the
 * cgroup v2 cpu.max quota of this cgroup and its ancestors.
 */
/* CPUs allowed by one cgroup's cpu.max ("max 100000" or "QUOTA PERIOD"). */
static uint64_t
conf_cgroup_quota(const char *path)
{
	char		 line[64], *sp;
	uint64_t	 q, per;
	FILE		*fp;

	if ((fp = fopen(path, "re")) == NULL)
		return 0;
	sp = fgets(line, sizeof(line), fp);
	(void)fclose(fp);
	if (sp == NULL)
		return 0;
	line[strcspn(line, "\n")] = '\0';
	if ((sp = strchr(line, ' ')) == NULL)
		return 0;
	*sp++ = '\0';
	if (bw_parse_uint(line, UINT32_MAX, &q) == -1 ||
	    bw_parse_uint(sp, UINT32_MAX, &per) == -1 || q == 0 || per == 0)
		return 0;
	return (q + per - 1) / per;
}

static uint64_t
conf_cgroup_cpus(void)
{
	char		 line[512], path[600], *p, *slash;
	FILE		*fp;
	uint64_t	 best = 0, n;

	if ((fp = fopen("/proc/self/cgroup", "re")) == NULL)
		return 0;
	p = NULL;
	while (fgets(line, sizeof(line), fp) != NULL) {
		if (strncmp(line, "0::/", 4) == 0) {
			p = line + 3;
			p[strcspn(p, "\n")] = '\0';
			break;
		}
	}
	(void)fclose(fp);
	while (p != NULL) {
		(void)snprintf(path, sizeof(path), "/sys/fs/cgroup%s/cpu.max",
		    strcmp(p, "/") == 0 ? "" : p);
		n = conf_cgroup_quota(path);
		if (n > 0 && (best == 0 || n < best))
			best = n;
		if (strcmp(p, "/") == 0 || (slash = strrchr(p, '/')) == NULL)
			break;
		if (slash == p)
			slash[1] = '\0';
		else
			*slash = '\0';
	}
	return best;
}

static uint32_t
conf_cpus(void)
{
	cpu_set_t	set;
	long		n;
	uint64_t	quota;

	CPU_ZERO(&set);
	if (sched_getaffinity(0, sizeof(set), &set) == 0)
		n = CPU_COUNT(&set);
	else
		n = sysconf(_SC_NPROCESSORS_ONLN);
	quota = conf_cgroup_cpus();
	if (quota > 0 && quota < (uint64_t)n)
		n = (long)quota;
	if (n < 1)
		n = 1;
	if (n > CONF_MAX_WORKERS)
		n = CONF_MAX_WORKERS;
	return (uint32_t)n;
}

static void
conf_workers_parse(struct conf_ctx *c, const struct node *n, void *base)
{
	struct conf_server	*s = base;
	int64_t			 v;

	if (n->kind == NODE_SCALAR && n->style == NODE_PLAIN &&
	    strcmp(n->text, "auto") == 0) {
		s->workers_auto = true;
		s->workers = conf_cpus();
		return;
	}
	if (yaml_get_int(n, &v) == -1) {
		conf_err(c, n, "expected auto or an integer, got %s",
		    conf_a(n));
		return;
	}
	if (v < 1 || v > CONF_MAX_WORKERS) {
		conf_err(c, n, "must be auto or between 1 and %d",
		    CONF_MAX_WORKERS);
		return;
	}
	s->workers_auto = false;
	s->workers = (uint32_t)v;
}

static void
conf_workers_dump(struct conf_out *o, const struct conf_key *k,
    const void *base)
{
	const struct conf_server	*s = base;

	if (s->workers_auto)
		fprintf(o->fp, "%*s%s: auto\t# %u\n", o->indent, "", k->name,
		    s->workers);
	else
		fprintf(o->fp, "%*s%s: %u\n", o->indent, "", k->name,
		    s->workers);
}

/*
 * CIDRs: "10.0.0.0/8", "2001:db8::/32", or an address (a host route).
 */
static int
conf_parse_cidr(const char *s, struct conf_cidr *r)
{
	char		 host[64];
	const char	*slash = strchr(s, '/');
	size_t		 hl = slash ? (size_t)(slash - s) : strlen(s);
	uint64_t	 pfx;
	unsigned	 bits, i;

	if (hl == 0 || hl >= sizeof(host))
		return -1;
	memcpy(host, s, hl);
	host[hl] = '\0';
	memset(r, 0, sizeof(*r));
	if (inet_pton(AF_INET, host, r->addr) == 1) {
		r->family = AF_INET;
		bits = 32;
	} else if (inet_pton(AF_INET6, host, r->addr) == 1) {
		r->family = AF_INET6;
		bits = 128;
	} else
		return -1;
	pfx = bits;
	if (slash != NULL && bw_parse_uint(slash + 1, bits, &pfx) == -1)
		return -1;
	r->prefix = (unsigned)pfx;
	for (i = r->prefix; i < bits; i++)
		if (r->addr[i / 8] & (0x80 >> (i % 8)))
			return -1;
	return 0;
}

static void
conf_proxies_parse(struct conf_ctx *c, const struct node *n, void *base)
{
	struct conf_server	*s = base;
	struct conf_cidr	 r;
	const char		*t;
	size_t			 i, old;

	if (n->kind != NODE_SEQ) {
		conf_err(c, n, "expected a sequence of CIDRs, got %s",
		    conf_a(n));
		return;
	}
	if (n->n > CONF_MAX_LIST) {
		conf_err(c, n, "at most %d entries", CONF_MAX_LIST);
		return;
	}
	s->trusted_proxies = bw_calloc(n->n + 1, sizeof(*s->trusted_proxies));
	for (i = 0; i < n->n; i++) {
		old = conf_path_push(c, "[%zu]", i);
		if ((t = conf_str(c, n->vals[i], 64)) != NULL) {
			if (conf_parse_cidr(t, &r) == -1)
				conf_err(c, n->vals[i], "invalid CIDR (an "
				    "address, or address/prefix without host "
				    "bits)");
			else
				s->trusted_proxies[s->ntrusted_proxies++] = r;
		}
		conf_path_pop(c, old);
	}
}

static void
conf_proxies_dump(struct conf_out *o, const struct conf_key *k,
    const void *base)
{
	const struct conf_server	*s = base;
	char				 a[INET6_ADDRSTRLEN];
	size_t				 i;

	fprintf(o->fp, "%*s%s: [", o->indent, "", k->name);
	for (i = 0; i < s->ntrusted_proxies; i++) {
		inet_ntop(s->trusted_proxies[i].family,
		    s->trusted_proxies[i].addr, a, sizeof(a));
		fprintf(o->fp, "%s\"%s/%u\"", i ? ", " : "", a,
		    s->trusted_proxies[i].prefix);
	}
	fputs("]\n", o->fp);
}

static void
conf_proxies_free(void *base)
{
	free(((struct conf_server *)base)->trusted_proxies);
}

/*
 * server.headers: extra response headers.  Names are tokens and may not
 * be one bulwark sets itself; values are visible ASCII, space and tab.
 */
static const char *const conf_own_headers[] = {
	"Content-Length", "Content-Type", "Content-Encoding",
	"Content-Range", "Content-Security-Policy", "Cache-Control",
	"X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy",
	"Strict-Transport-Security", "Date", "X-Request-Id", "Connection",
	"Keep-Alive", "Transfer-Encoding", "TE", "Trailer", "Upgrade",
	"Allow", "WWW-Authenticate", "Retry-After", "Server", "Set-Cookie",
	"Location", "Vary", "Access-Control-Allow-Origin",
	"Access-Control-Allow-Credentials", "Access-Control-Allow-Methods",
	"Access-Control-Allow-Headers", "Access-Control-Max-Age",
	"Access-Control-Expose-Headers", NULL
};

static int
conf_header_check(struct conf_ctx *c, const struct node *kn,
    const struct node *vn, const char *value)
{
	const char	*name = kn->text;
	size_t		 i;

	if (kn->len == 0 || kn->len > 64 || strlen(name) != kn->len) {
		conf_err(c, kn, "invalid header name");
		return -1;
	}
	for (i = 0; name[i] != '\0'; i++) {
		if (!conf_istchar((unsigned char)name[i])) {
			conf_err(c, kn, "invalid header name (not a token)");
			return -1;
		}
	}
	for (i = 0; conf_own_headers[i] != NULL; i++) {
		if (conf_strcaseeq(name, conf_own_headers[i])) {
			conf_err(c, kn, "header %s is set by bulwark and "
			    "cannot be overridden", conf_own_headers[i]);
			return -1;
		}
	}
	for (i = 0; value[i] != '\0'; i++) {
		if (((unsigned char)value[i] < 0x20 && value[i] != '\t') ||
		    (unsigned char)value[i] >= 0x7f) {
			conf_err(c, vn, "header values may hold only visible "
			    "ASCII, space and tab (no CR, LF, NUL)");
			return -1;
		}
	}
	if (value[0] == ' ' || value[0] == '\t' || value[i - 1] == ' ' ||
	    value[i - 1] == '\t') {
		conf_err(c, vn, "header values may not begin or end with "
		    "white space");
		return -1;
	}
	return 0;
}

static void
conf_headers_parse(struct conf_ctx *c, const struct node *n, void *base)
{
	struct conf_server	*s = base;
	const char		*v;
	char			 ex[128];
	size_t			 i, j, old;
	bool			 dup;

	if (n->kind != NODE_MAP) {
		conf_err(c, n, "expected a mapping of header names to "
		    "values, got %s", conf_a(n));
		return;
	}
	if (n->n > CONF_MAX_HEADERS) {
		conf_err(c, n, "at most %d headers", CONF_MAX_HEADERS);
		return;
	}
	s->headers = bw_calloc(n->n + 1, sizeof(*s->headers));
	for (i = 0; i < n->n; i++) {
		old = conf_path_push(c, ".%s", conf_ex(n->keys[i]->text, ex,
		    sizeof(ex)));
		v = conf_str(c, n->vals[i], 1024);
		if (v != NULL && conf_header_check(c, n->keys[i], n->vals[i],
		    v) == 0) {
			for (j = 0, dup = false; j < s->nheaders; j++)
				dup = dup || conf_strcaseeq(s->headers[j].name,
				    n->keys[i]->text);
			if (dup)
				conf_err(c, n->keys[i], "duplicate header "
				    "(names are case-insensitive)");
			else {
				s->headers[s->nheaders].name =
				    bw_strdup(n->keys[i]->text);
				s->headers[s->nheaders++].value = bw_strdup(v);
			}
		}
		conf_path_pop(c, old);
	}
}

static void
conf_headers_dump(struct conf_out *o, const struct conf_key *k,
    const void *base)
{
	const struct conf_server	*s = base;
	size_t				 i;

	fprintf(o->fp, "%*s%s: {", o->indent, "", k->name);
	for (i = 0; i < s->nheaders; i++) {
		fputs(i ? ", " : "", o->fp);
		conf_dump_str(o->fp, s->headers[i].name);
		fputs(": ", o->fp);
		conf_dump_str(o->fp, s->headers[i].value);
	}
	fputs("}\n", o->fp);
}

static void
conf_headers_free(void *base)
{
	struct conf_server	*s = base;
	size_t			 i;

	for (i = 0; i < s->nheaders; i++) {
		free(s->headers[i].name);
		free(s->headers[i].value);
	}
	free(s->headers);
}

/*
 * Checks of single string values (the `check` hook).
 */
static int
conf_check_hostname(struct conf_ctx *c, const struct node *n, const char *s)
{
	size_t	i;

	if (!conf_hostname(s)) {
		conf_err(c, n, "invalid host name");
		return -1;
	}
	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] >= 'A' && s[i] <= 'Z') {
			conf_err(c, n, "host names are compared in lower "
			    "case; write it in lower case");
			return -1;
		}
	}
	return 0;
}

static int
conf_check_username(struct conf_ctx *c, const struct node *n, const char *s)
{
	size_t	i;

	for (i = 0; s[i] != '\0'; i++) {
		if (i >= 32 || !((s[i] >= 'a' && s[i] <= 'z') ||
		    conf_isdigit(s[i]) || s[i] == '_' ||
		    (i > 0 && s[i] == '-'))) {
			conf_err(c, n, "invalid user or group name");
			return -1;
		}
	}
	return 0;
}

/* An origin: "*" or scheme://host[:port] in lower case, no path. */
static int
conf_check_origin(struct conf_ctx *c, const struct node *n, const char *s)
{
	char		 host[256];
	const char	*h, *end;
	uint64_t	 port;
	size_t		 hl;

	if (strcmp(s, "*") == 0)
		return 0;
	if (strncmp(s, "https://", 8) == 0)
		h = s + 8;
	else if (strncmp(s, "http://", 7) == 0)
		h = s + 7;
	else
		goto bad;
	if (h[0] == '[') {
		if ((end = strchr(h, ']')) == NULL)
			goto bad;
		end++;
	} else
		end = h + strcspn(h, ":/");
	hl = (size_t)(end - h);
	if (hl == 0 || hl >= sizeof(host))
		goto bad;
	memcpy(host, h, hl);
	host[hl] = '\0';
	if (host[0] == '[') {
		host[hl - 1] = '\0';
		if (inet_pton(AF_INET6, host + 1, host) != 1)
			goto bad;
	} else if (conf_check_hostname(c, n, host) == -1)
		return -1;
	if (*end == ':' && (bw_parse_uint(end + 1, 65535, &port) == -1 ||
	    port == 0))
		goto bad;
	if (*end != ':' && *end != '\0')
		goto bad;
	return 0;
bad:
	conf_err(c, n, "invalid origin (\"*\" or scheme://host[:port], "
	    "no path)");
	return -1;
}

static int
conf_check_role_name(struct conf_ctx *c, const struct node *n, const char *s)
{
	if (!conf_ident(s, 62)) {
		conf_err(c, n, "invalid role name (^[a-z][a-z0-9_]{0,62}$)");
		return -1;
	}
	return 0;
}

static int
conf_check_route_name(struct conf_ctx *c, const struct node *n, const char *s)
{
	if (!conf_ident(s, 127)) {
		conf_err(c, n, "invalid route name (^[a-z][a-z0-9_]*$, at "
		    "most 128 characters)");
		return -1;
	}
	return 0;
}

static int
conf_check_instance(struct conf_ctx *c, const struct node *n, const char *s)
{
	size_t	i;

	for (i = 0; s[i] != '\0'; i++) {
		if (i >= 64 || !(conf_isalpha(s[i]) || conf_isdigit(s[i]) ||
		    strchr("._-", s[i]) != NULL)) {
			conf_err(c, n, "invalid instance id "
			    "(^[A-Za-z0-9._-]{1,64}$)");
			return -1;
		}
	}
	return 0;
}

static int
conf_check_access(struct conf_ctx *c, const struct node *n, const char *s)
{
	if (strcmp(s, "stderr") == 0 || strcmp(s, "syslog") == 0 ||
	    strcmp(s, "off") == 0 || s[0] == '/')
		return 0;
	conf_err(c, n, "must be stderr, syslog, off or an absolute path");
	return -1;
}

static int
conf_check_nonblank(struct conf_ctx *c, const struct node *n, const char *s)
{
	if (s[strspn(s, " \t\r\n")] == '\0') {
		conf_err(c, n, "must not be blank");
		return -1;
	}
	return 0;
}

static bool
conf_pchar(const char *s, size_t i)
{
	unsigned char	ch = (unsigned char)s[i];

	if (ch == '%')
		return (conf_isdigit(s[i + 1]) || strchr("abcdefABCDEF",
		    s[i + 1]) != NULL) && s[i + 1] != '\0' &&
		    (conf_isdigit(s[i + 2]) || strchr("abcdefABCDEF",
		    s[i + 2]) != NULL) && s[i + 2] != '\0';
	return conf_isalpha(ch) || conf_isdigit(ch) ||
	    (ch != '\0' && strchr("-._~!$&'()*+,;=:@", ch) != NULL);
}

/*
 * A path template: '/'-separated literal segments (RFC 3986 pchar) and
 * {param} segments; no empty segment but a trailing one, no . or ..
 * When params is not NULL, the parameter names are stored there.
 */
static int
conf_template(const char *s, char params[][64], size_t *np,
    const char **err)
{
	const char	*seg, *end;
	size_t		 len, i, j;

	*np = 0;
	if (s[0] != '/') {
		*err = "must start with '/'";
		return -1;
	}
	for (seg = s + 1;; seg = end + 1) {
		end = seg + strcspn(seg, "/");
		len = (size_t)(end - seg);
		if (len == 0 && *end == '/') {
			*err = "empty segment (//)";
			return -1;
		}
		if ((len == 1 && seg[0] == '.') ||
		    (len == 2 && seg[0] == '.' && seg[1] == '.')) {
			*err = "'.' and '..' segments are not allowed";
			return -1;
		}
		if (len > 0 && seg[0] == '{') {
			if (seg[len - 1] != '}' || len < 3 || len > 63) {
				*err = "a parameter segment is {name}";
				return -1;
			}
			if (*np == CONF_MAX_PARAMS) {
				*err = "too many parameters";
				return -1;
			}
			memcpy(params[*np], seg + 1, len - 2);
			params[*np][len - 2] = '\0';
			if (!conf_ident(params[*np], 62)) {
				*err = "parameter names match "
				    "^[a-z][a-z0-9_]*$";
				return -1;
			}
			for (j = 0; j < *np; j++) {
				if (strcmp(params[j], params[*np]) == 0) {
					*err = "duplicate parameter name";
					return -1;
				}
			}
			(*np)++;
		} else {
			for (i = 0; i < len; i++) {
				if (!conf_pchar(seg, i)) {
					*err = "invalid character in a literal "
					    "segment";
					return -1;
				}
			}
		}
		if (*end == '\0')
			break;
	}
	return 0;
}

static int
conf_check_route_path(struct conf_ctx *c, const struct node *n, const char *s)
{
	char		 params[CONF_MAX_PARAMS][64];
	size_t		 np;
	const char	*err;

	if (strlen(s) > 1024) {
		conf_err(c, n, "longer than 1024 bytes");
		return -1;
	}
	if (conf_template(s, params, &np, &err) == -1) {
		conf_err(c, n, "%s", err);
		return -1;
	}
	return 0;
}

static int
conf_check_endpoints(struct conf_ctx *c, const struct node *n, const char *s)
{
	char		 params[CONF_MAX_PARAMS][64];
	size_t		 np;
	const char	*err;

	if (conf_template(s, params, &np, &err) == -1 || np > 0 ||
	    strcmp(s, "/") == 0 || s[strlen(s) - 1] == '/') {
		conf_err(c, n, "must be a literal path such as /auth, "
		    "without a trailing '/'");
		return -1;
	}
	return 0;
}

static bool
conf_host_local(const char *h, size_t len)
{
	char		buf[64];
	unsigned char	a[16];

	if (len == 0 || h[0] == '/' || h[0] == '@')
		return true;
	if (len >= sizeof(buf))
		return false;
	memcpy(buf, h, len);
	buf[len] = '\0';
	if (strcmp(buf, "localhost") == 0)
		return true;
	if (inet_pton(AF_INET, buf, a) == 1)
		return a[0] == 127;
	if (inet_pton(AF_INET6, buf, a) == 1)
		return memcmp(a, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\1", 16) == 0;
	return false;
}

static bool
conf_hosts_local(const char *list)
{
	size_t	len;

	for (;;) {
		len = strcspn(list, ",");
		if (!conf_host_local(list, len))
			return false;
		if (list[len] == '\0')
			return true;
		list += len + 1;
	}
}

/*
 * A libpq connection string: never a password in it, and a host that is
 * not local only with sslmode=verify-full.  libpq's own error text is not
 * repeated: it may quote the string.
 */
static int
conf_check_conninfo(struct conf_ctx *c, const struct node *n, const char *s)
{
	PQconninfoOption	*opts, *o;
	char			*errmsg = NULL;
	bool			 pw = false, local = true, full = false;

	if ((opts = PQconninfoParse(s, &errmsg)) == NULL) {
		PQfreemem(errmsg);
		conf_err(c, n, "not a valid libpq connection string");
		return -1;
	}
	for (o = opts; o->keyword != NULL; o++) {
		if (o->val == NULL || o->val[0] == '\0')
			continue;
		if (strcmp(o->keyword, "password") == 0)
			pw = true;
		else if (strcmp(o->keyword, "host") == 0 ||
		    strcmp(o->keyword, "hostaddr") == 0)
			local = local && conf_hosts_local(o->val);
		else if (strcmp(o->keyword, "sslmode") == 0)
			full = strcmp(o->val, "verify-full") == 0;
	}
	PQconninfoFree(opts);
	if (pw) {
		conf_err(c, n, "must not contain a password (use "
		    "database.password_file)");
		return -1;
	}
	if (!local && !full) {
		conf_err(c, n, "a host that is not local needs "
		    "sslmode=verify-full");
		return -1;
	}
	return 0;
}

/*
 * Rates: {by, rate, burst}; null disables.
 */
static const char *const conf_rate_by_names[] = { "ip", "user", "api_key",
    NULL };

static void
conf_rate_rate_parse(struct conf_ctx *c, const struct node *n, void *base)
{
	struct conf_rate	*r = base;
	const char		*s, *err;

	if ((s = conf_str(c, n, 32)) == NULL)
		return;
	if (bw_parse_rate(s, &r->count, &r->per_ms, &err) == -1)
		conf_err(c, n, "%s", err);
}

static void
conf_fmt_rate(const struct conf_rate *r, char *buf, size_t bufsz)
{
	(void)snprintf(buf, bufsz, "%u/%s", r->count, r->per_ms == MS_H ? "h" :
	    r->per_ms == MS_M ? "m" : "s");
}

static void
conf_rate_post(struct conf_ctx *c, const struct node *map,
    const struct node *where, void *base)
{
	struct conf_rate	*r = base;

	(void)where;
	if (map == NULL)
		return;
	r->enabled = r->count > 0;
	if (r->burst == 0)
		r->burst = r->count > 1000000 ? 1000000 : r->count;
	(void)c;
}

static const struct conf_key conf_rate_keys[] = {
	{ .name = "by", .type = CT_ENUM, .off = offsetof(struct conf_rate, by),
	  .def = "ip", .names = conf_rate_by_names },
	{ .name = "rate", .type = CT_CUSTOM, .flags = F_REQ,
	  .parse = conf_rate_rate_parse },
	{ .name = "burst", .type = CT_U32,
	  .off = offsetof(struct conf_rate, burst), .flags = F_INHERIT,
	  .min = 1, .max = 1000000 },
};

static const struct conf_table conf_rate_table = {
	conf_rate_keys, BW_ARRAY_LEN(conf_rate_keys), 0,
	conf_rate_post
};

static void
conf_rate_dump(FILE *fp, const struct conf_rate *r)
{
	char	buf[32];

	if (!r->enabled) {
		fputs("null", fp);
		return;
	}
	conf_fmt_rate(r, buf, sizeof(buf));
	fprintf(fp, "{by: %s, rate: \"%s\", burst: %u}",
	    conf_rate_by_names[r->by], buf, r->burst);
}

/*
 * Dump helpers: YAML text that reloads to the same configuration.
 */
static void
conf_dump_str(FILE *fp, const char *s)
{
	const unsigned char	*p = (const unsigned char *)s;
	uint32_t		 cp;

	fputc('"', fp);
	while (*p != '\0') {
		if (*p == '"' || *p == '\\') {
			fprintf(fp, "\\%c", *p++);
		} else if (*p == '\n') {
			fputs("\\n", fp);
			p++;
		} else if (*p == '\t') {
			fputs("\\t", fp);
			p++;
		} else if (*p < 0x20 || *p == 0x7f) {
			fprintf(fp, "\\x%02x", *p++);
		} else if (*p < 0x80) {
			fputc(*p++, fp);
		} else {
			/* Well-formed UTF-8 (checked by the reader). */
			if ((*p & 0xe0) == 0xc0)
				cp = ((uint32_t)(p[0] & 0x1f) << 6) |
				    (p[1] & 0x3f);
			else if ((*p & 0xf0) == 0xe0)
				cp = ((uint32_t)(p[0] & 0x0f) << 12) |
				    ((uint32_t)(p[1] & 0x3f) << 6) |
				    (p[2] & 0x3f);
			else
				cp = 0x10000;
			if (cp < 0xa0 || cp == 0x2028 || cp == 0x2029 ||
			    cp == 0xfeff) {
				fprintf(fp, "\\u%04x", cp);
				p += cp < 0x800 ? 2 : 3;
			} else {
				do
					fputc(*p++, fp);
				while ((*p & 0xc0) == 0x80);
			}
		}
	}
	fputc('"', fp);
}

/* A plain scalar that reads back the same in flow context. */
static bool
conf_plain_safe(const struct node *n)
{
	size_t	i;

	if (n->style != NODE_PLAIN)
		return false;
	if (yaml_is_null(n) || !yaml_is_string(n))
		return true;
	if (!(conf_isdigit(n->text[0]) || (n->text[0] == '-' &&
	    conf_isdigit(n->text[1]))))
		return false;
	for (i = 0; i < n->len; i++)
		if (!conf_isalpha(n->text[i]) && !conf_isdigit(n->text[i]) &&
		    strchr(".+-", n->text[i]) == NULL)
			return false;
	return true;
}

static void
conf_dump_node(FILE *fp, const struct node *n)
{
	size_t	i;

	if (n == NULL) {
		fputs("null", fp);
		return;
	}
	switch (n->kind) {
	case NODE_SCALAR:
		if (yaml_is_null(n))
			fputs("null", fp);
		else if (conf_plain_safe(n))
			fputs(n->text, fp);
		else
			conf_dump_str(fp, n->text);
		break;
	case NODE_MAP:
		fputc('{', fp);
		for (i = 0; i < n->n; i++) {
			fputs(i ? ", " : "", fp);
			conf_dump_str(fp, n->keys[i]->text);
			fputs(": ", fp);
			conf_dump_node(fp, n->vals[i]);
		}
		fputc('}', fp);
		break;
	case NODE_SEQ:
		fputc('[', fp);
		for (i = 0; i < n->n; i++) {
			fputs(i ? ", " : "", fp);
			conf_dump_node(fp, n->vals[i]);
		}
		fputc(']', fp);
		break;
	}
}

static void
conf_dump_strlist(FILE *fp, char *const *v, size_t n)
{
	size_t	i;

	fputc('[', fp);
	for (i = 0; i < n; i++) {
		fputs(i ? ", " : "", fp);
		conf_dump_str(fp, v[i]);
	}
	fputc(']', fp);
}

static void
conf_dump_key(struct conf_out *o, const char *name)
{
	fprintf(o->fp, "%*s%s:", o->indent, "", name);
}

/*
 * version
 */
static void
conf_version_parse(struct conf_ctx *c, const struct node *n, void *base)
{
	struct conf	*cf = base;
	int64_t		 v;

	if (yaml_get_int(n, &v) == -1)
		conf_err(c, n, "expected an integer, got %s", conf_a(n));
	else if (v != 1)
		conf_err(c, n, "unsupported version (only 1)");
	else
		cf->version = 1;
}

static void
conf_version_dump(struct conf_out *o, const struct conf_key *k,
    const void *base)
{
	conf_dump_key(o, k->name);
	fprintf(o->fp, " %d\n", ((const struct conf *)base)->version);
}

/*
 * server
 */
static const char *const conf_profile_names[] = { "modern", "intermediate",
    NULL };
static const char *const conf_verify_names[] = { "required", "optional",
    NULL };

static const struct conf_key conf_tls_keys[] = {
	{ .name = "certificate", .type = CT_PATH, .flags = F_FILE,
	  .off = offsetof(struct conf_tls, certificate) },
	{ .name = "private_key", .type = CT_PATH, .flags = F_SECRET,
	  .off = offsetof(struct conf_tls, private_key) },
	{ .name = "profile", .type = CT_ENUM, .def = "intermediate",
	  .off = offsetof(struct conf_tls, profile),
	  .names = conf_profile_names },
	{ .name = "client_ca", .type = CT_PATH, .flags = F_FILE | F_NULL,
	  .def = "null", .off = offsetof(struct conf_tls, client_ca) },
	{ .name = "client_verify", .type = CT_ENUM, .def = "required",
	  .off = offsetof(struct conf_tls, client_verify),
	  .names = conf_verify_names },
	{ .name = "hsts", .type = CT_DURATION, .def = "730d",
	  .off = offsetof(struct conf_tls, hsts_ms), .min = 0,
	  .max = 3650 * MS_D },
};

static const struct conf_table conf_tls_table = {
	conf_tls_keys, BW_ARRAY_LEN(conf_tls_keys), 0, NULL
};

#define LIM(f)	.off = offsetof(struct conf_limits, f)
static const struct conf_key conf_limits_keys[] = {
	{ .name = "max_connections", .type = CT_U32, LIM(max_connections),
	  .def = "10000", .min = 1, .max = 1000000 },
	{ .name = "header_timeout", .type = CT_DURATION, LIM(header_timeout_ms),
	  .def = "10s", .min = 100, .max = 10 * MS_M },
	{ .name = "body_timeout", .type = CT_DURATION, LIM(body_timeout_ms),
	  .def = "30s", .min = 100, .max = MS_H },
	{ .name = "idle_timeout", .type = CT_DURATION, LIM(idle_timeout_ms),
	  .def = "60s", .min = 100, .max = MS_H },
	{ .name = "request_timeout", .type = CT_DURATION,
	  LIM(request_timeout_ms), .def = "30s", .min = 2 * MS_S,
	  .max = MS_H },
	{ .name = "max_header_size", .type = CT_SIZE, LIM(max_header_size),
	  .def = "8KiB", .min = KIB, .max = MIB },
	{ .name = "max_headers", .type = CT_U32, LIM(max_headers),
	  .def = "64", .min = 1, .max = 1000 },
	{ .name = "max_uri_length", .type = CT_SIZE, LIM(max_uri_length),
	  .def = "4KiB", .min = 256, .max = 64 * KIB },
	{ .name = "max_body_size", .type = CT_SIZE, LIM(max_body_size),
	  .def = "1MiB", .min = 1, .max = GIB },
	{ .name = "max_json_depth", .type = CT_U32, LIM(max_json_depth),
	  .def = "32", .min = 1, .max = 256 },
	{ .name = "max_response_size", .type = CT_SIZE,
	  LIM(max_response_size), .def = "8MiB", .min = KIB, .max = GIB },
	{ .name = "max_requests_per_connection", .type = CT_U32,
	  LIM(max_requests_per_connection), .def = "1000", .min = 1,
	  .max = 1000000 },
};
#undef LIM

static const struct conf_table conf_limits_table = {
	conf_limits_keys, BW_ARRAY_LEN(conf_limits_keys), 0, NULL
};

static void
conf_cors_post(struct conf_ctx *c, const struct node *map,
    const struct node *where, void *base)
{
	struct conf_cors	*cors = base;
	const struct node	*list;
	size_t			 i;

	(void)where;
	if (!cors->allow_credentials || map == NULL ||
	    (list = node_get(map, "allow_origins")) == NULL ||
	    list->kind != NODE_SEQ)
		return;
	for (i = 0; i < list->n; i++)
		if (strcmp(list->vals[i]->text != NULL ?
		    list->vals[i]->text : "", "*") == 0)
			conf_err(c, list->vals[i], "\"*\" cannot be used with "
			    "allow_credentials: true");
}

static const struct conf_key conf_cors_keys[] = {
	{ .name = "allow_origins", .type = CT_STRLIST, .def = "[]",
	  .off = offsetof(struct conf_cors, allow_origins),
	  .off2 = offsetof(struct conf_cors, nallow_origins),
	  .check = conf_check_origin },
	{ .name = "allow_credentials", .type = CT_BOOL, .def = "false",
	  .off = offsetof(struct conf_cors, allow_credentials) },
	{ .name = "max_age", .type = CT_DURATION, .def = "10m",
	  .off = offsetof(struct conf_cors, max_age_ms), .min = 0,
	  .max = MS_D },
};

static const struct conf_table conf_cors_table = {
	conf_cors_keys, BW_ARRAY_LEN(conf_cors_keys),
	sizeof(struct conf_cors), conf_cors_post
};

static void
conf_server_post(struct conf_ctx *c, const struct node *map,
    const struct node *where, void *base)
{
	struct conf_server	*s = base;
	const struct node	*tls, *n;
	size_t			 old;

	if (map == NULL)
		return;
	tls = node_get(map, "tls");
	if (!s->plaintext) {
		old = conf_path_key(c, "tls");
		n = tls != NULL && tls->kind == NODE_MAP ? tls : where;
		if (node_get(tls, "certificate") == NULL)
			conf_err(c, n, "missing required key 'certificate' "
			    "(TLS is required unless plaintext: true)");
		if (node_get(tls, "private_key") == NULL)
			conf_err(c, n, "missing required key 'private_key' "
			    "(TLS is required unless plaintext: true)");
		conf_path_pop(c, old);
	} else if ((n = node_get(map, "trusted_proxies")) == NULL ||
	    (n->kind == NODE_SEQ && n->n == 0)) {
		old = conf_path_key(c, "plaintext");
		conf_err(c, node_get(map, "plaintext"), "plaintext needs "
		    "trusted_proxies (the TLS proxies in front)");
		conf_path_pop(c, old);
	}
}

#define SRV(f)	.off = offsetof(struct conf_server, f)
static const struct conf_key conf_server_keys[] = {
	{ .name = "listen", .type = CT_CUSTOM,
	  .def = "[\"0.0.0.0:8443\", \"[::]:8443\"]",
	  .parse = conf_listen_parse, .dump = conf_listen_dump,
	  .free = conf_listen_free },
	{ .name = "hostnames", .type = CT_STRLIST, SRV(hostnames),
	  .off2 = offsetof(struct conf_server, nhostnames), .def = "[]",
	  .check = conf_check_hostname },
	{ .name = "workers", .type = CT_CUSTOM, .def = "auto",
	  .parse = conf_workers_parse, .dump = conf_workers_dump },
	{ .name = "user", .type = CT_STRING, SRV(user),
	  .def = "bulwark-worker", .check = conf_check_username },
	{ .name = "group", .type = CT_STRING, SRV(group),
	  .def = "bulwark-worker", .check = conf_check_username },
	{ .name = "pid_file", .type = CT_PATH, SRV(pid_file),
	  .def = "/run/bulwark/bulwarkd.pid" },
	{ .name = "shutdown_timeout", .type = CT_DURATION,
	  SRV(shutdown_timeout_ms), .def = "30s", .min = 0, .max = MS_H },
	{ .name = "tls", .type = CT_SECTION, SRV(tls),
	  .sub = &conf_tls_table },
	{ .name = "plaintext", .type = CT_BOOL, SRV(plaintext),
	  .def = "false" },
	{ .name = "trusted_proxies", .type = CT_CUSTOM, .def = "[]",
	  .parse = conf_proxies_parse, .dump = conf_proxies_dump,
	  .free = conf_proxies_free },
	{ .name = "limits", .type = CT_SECTION, SRV(limits),
	  .sub = &conf_limits_table },
	{ .name = "cors", .type = CT_OPTSECTION, SRV(cors), .flags = F_NULL,
	  .sub = &conf_cors_table },
	{ .name = "headers", .type = CT_CUSTOM, .def = "{}",
	  .parse = conf_headers_parse, .dump = conf_headers_dump,
	  .free = conf_headers_free },
	{ .name = "rate_limit", .type = CT_RATE, SRV(rate_limit),
	  .def = "{by: ip, rate: \"100/s\", burst: 200}",
	  .sub = &conf_rate_table },
};
#undef SRV

static const struct conf_table conf_server_table = {
	conf_server_keys, BW_ARRAY_LEN(conf_server_keys), 0,
	conf_server_post
};

/*
 * security
 */
static const char *const conf_seccomp_names[] = { "enforce", "log", "off",
    NULL };

static const struct conf_key conf_security_keys[] = {
	{ .name = "seccomp", .type = CT_ENUM, .def = "enforce",
	  .off = offsetof(struct conf, seccomp), .names = conf_seccomp_names },
};

static const struct conf_table conf_security_table = {
	conf_security_keys, BW_ARRAY_LEN(conf_security_keys), 0,
	NULL
};

/*
 * database
 */
static void
conf_database_post(struct conf_ctx *c, const struct node *map,
    const struct node *where, void *base)
{
	struct conf_database	*db = base;
	const struct node	*n = node_get(map, "conninfo");

	(void)c;
	(void)where;
	if (n != NULL) {
		db->conninfo_pos.line = n->line;
		db->conninfo_pos.col = n->col;
	}
}

#define DB(f)	.off = offsetof(struct conf_database, f)
static const struct conf_key conf_database_keys[] = {
	{ .name = "conninfo", .type = CT_STRING, DB(conninfo), .flags = F_REQ,
	  .check = conf_check_conninfo },
	{ .name = "password_file", .type = CT_PATH, DB(password_file),
	  .flags = F_SECRET | F_NULL, .def = "null" },
	{ .name = "pool_size", .type = CT_U32, DB(pool_size), .def = "4",
	  .min = 1, .max = 64 },
	{ .name = "max_queue", .type = CT_U32, DB(max_queue), .def = "1000",
	  .min = 0, .max = 100000 },
	{ .name = "queue_timeout", .type = CT_DURATION, DB(queue_timeout_ms),
	  .def = "1s", .min = 1, .max = MS_M },
	{ .name = "statement_timeout", .type = CT_DURATION,
	  DB(statement_timeout_ms), .def = "5s", .min = 1, .max = MS_H },
	{ .name = "connect_timeout", .type = CT_DURATION,
	  DB(connect_timeout_ms), .def = "5s", .min = MS_S, .max = MS_M },
	{ .name = "replicas", .type = CT_STRLIST, DB(replicas),
	  .off2 = offsetof(struct conf_database, nreplicas), .def = "[]",
	  .max = 16, .check = conf_check_conninfo },
};
#undef DB

static const struct conf_table conf_database_table = {
	conf_database_keys, BW_ARRAY_LEN(conf_database_keys),
	sizeof(struct conf_database), conf_database_post
};

/*
 * auth
 */
#define AU(f)	.off = offsetof(struct conf_auth, f)
static const struct conf_key conf_argon2_keys[] = {
	{ .name = "memory", .type = CT_SIZE,
	  .off = offsetof(struct conf_argon2, memory), .def = "19MiB",
	  .min = 19 * MIB, .max = 256 * MIB },
	{ .name = "iterations", .type = CT_U32,
	  .off = offsetof(struct conf_argon2, iterations), .def = "2",
	  .min = 1, .max = 10 },
	{ .name = "parallelism", .type = CT_U32,
	  .off = offsetof(struct conf_argon2, parallelism), .def = "1",
	  .min = 1, .max = 4 },
};

static const struct conf_table conf_argon2_table = {
	conf_argon2_keys, BW_ARRAY_LEN(conf_argon2_keys), 0, NULL
};

static void
conf_password_post(struct conf_ctx *c, const struct node *map,
    const struct node *where, void *base)
{
	struct conf_auth	*a = base;
	const struct node	*n = node_get(map, "max_length");

	if (a->password_min_length > a->password_max_length &&
	    a->password_max_length != 0)
		conf_err(c, n != NULL ? n : where, "max_length is below "
		    "min_length");
}

static const struct conf_key conf_password_keys[] = {
	{ .name = "min_length", .type = CT_U32, AU(password_min_length),
	  .def = "12", .min = 8, .max = 1024 },
	{ .name = "max_length", .type = CT_U32, AU(password_max_length),
	  .def = "128", .min = 8, .max = 4096 },
	{ .name = "argon2", .type = CT_SECTION, AU(argon2),
	  .sub = &conf_argon2_table },
	{ .name = "pool_threads", .type = CT_U32, AU(pool_threads),
	  .def = "2", .min = 1, .max = 64 },
};

static const struct conf_table conf_password_table = {
	conf_password_keys, BW_ARRAY_LEN(conf_password_keys), 0,
	conf_password_post
};

static const struct conf_key conf_lockout_keys[] = {
	{ .name = "max_failures", .type = CT_U32, AU(lockout_max_failures),
	  .def = "5", .min = 1, .max = 100 },
	{ .name = "window", .type = CT_DURATION, AU(lockout_window_ms),
	  .def = "15m", .min = MS_M, .max = MS_D },
	{ .name = "duration", .type = CT_DURATION, AU(lockout_duration_ms),
	  .def = "15m", .min = MS_M, .max = MS_D },
	{ .name = "max_tracked", .type = CT_U32, AU(lockout_max_tracked),
	  .def = "100000", .min = 1000, .max = 10000000 },
};

static const struct conf_table conf_lockout_table = {
	conf_lockout_keys, BW_ARRAY_LEN(conf_lockout_keys), 0, NULL
};

static const struct conf_key conf_auth_keys[] = {
	{ .name = "issuer", .type = CT_STRING, AU(issuer), .flags = F_REQ,
	  .max = 256 },
	{ .name = "audience", .type = CT_STRING, AU(audience), .flags = F_REQ,
	  .max = 256 },
	{ .name = "signing_key_file", .type = CT_PATH, AU(signing_key_file),
	  .flags = F_REQ | F_SECRET },
	{ .name = "verify_key_files", .type = CT_STRLIST,
	  AU(verify_key_files),
	  .off2 = offsetof(struct conf_auth, nverify_key_files),
	  .flags = F_SECRET, .def = "[]", .max = 8 },
	{ .name = "access_ttl", .type = CT_DURATION, AU(access_ttl_ms),
	  .def = "15m", .min = 10 * MS_S, .max = MS_D },
	{ .name = "refresh_ttl", .type = CT_DURATION, AU(refresh_ttl_ms),
	  .def = "30d", .min = MS_M, .max = 365 * MS_D },
	{ .name = "refresh_reuse_grace", .type = CT_DURATION,
	  AU(refresh_reuse_grace_ms), .def = "0s", .min = 0, .max = MS_M },
	{ .name = "leeway", .type = CT_DURATION, AU(leeway_ms), .def = "30s",
	  .min = 0, .max = 5 * MS_M },
	{ .name = "max_token_size", .type = CT_SIZE, AU(max_token_size),
	  .def = "4KiB", .min = 512, .max = 64 * KIB },
	{ .name = "endpoints", .type = CT_STRING, AU(endpoints),
	  .flags = F_NULL, .def = "/auth", .max = 256,
	  .check = conf_check_endpoints },
	{ .name = "endpoint_rate_limit", .type = CT_RATE,
	  AU(endpoint_rate_limit),
	  .def = "{by: ip, rate: \"10/m\", burst: 20}",
	  .sub = &conf_rate_table },
	{ .name = "password", .type = CT_SECTION, .off = 0,
	  .sub = &conf_password_table },
	{ .name = "lockout", .type = CT_SECTION, .off = 0,
	  .sub = &conf_lockout_table },
	{ .name = "api_keys", .type = CT_BOOL, AU(api_keys), .def = "true" },
	{ .name = "token_cache", .type = CT_U32, AU(token_cache),
	  .def = "4096", .min = 0, .max = 1048576 },
};
#undef AU

static const struct conf_table conf_auth_table = {
	conf_auth_keys, BW_ARRAY_LEN(conf_auth_keys),
	sizeof(struct conf_auth), NULL
};

/*
 * roles: name -> {inherits: [...]}, acyclic.
 */
static const struct conf_key conf_role_keys[] = {
	{ .name = "inherits", .type = CT_STRLIST,
	  .off = offsetof(struct conf_role, inherits),
	  .off2 = offsetof(struct conf_role, ninherits), .def = "[]",
	  .check = conf_check_role_name },
};

static const struct conf_table conf_role_table = {
	conf_role_keys, BW_ARRAY_LEN(conf_role_keys), 0, NULL
};

static ssize_t
conf_role_find(const struct conf *cf, const char *name)
{
	size_t	i;

	for (i = 0; i < cf->nroles; i++)
		if (strcmp(cf->roles[i].name, name) == 0)
			return (ssize_t)i;
	return -1;
}

/* The sequence item holding text s, for positions after parsing. */
static const struct node *
conf_seq_item(const struct node *seq, const char *s)
{
	size_t	i;

	for (i = 0; seq != NULL && seq->kind == NODE_SEQ && i < seq->n; i++)
		if (seq->vals[i]->kind == NODE_SCALAR &&
		    strcmp(seq->vals[i]->text, s) == 0)
			return seq->vals[i];
	return seq;
}

/* Depth-first search; a grey role reached again closes a cycle. */
static void
conf_role_visit(struct conf_ctx *c, size_t i, unsigned char *color)
{
	struct conf_role	*r = &c->conf->roles[i];
	struct node		 at;
	ssize_t			 j;
	size_t			 k;

	color[i] = 1;
	for (k = 0; k < r->ninherits; k++) {
		if ((j = conf_role_find(c->conf, r->inherits[k])) == -1)
			continue;
		if (color[j] == 1) {
			memset(&at, 0, sizeof(at));
			at.line = c->conf->roles[j].pos.line;
			at.col = c->conf->roles[j].pos.col;
			conf_err(c, &at, "role '%s' inherits from itself "
			    "(a cycle)", c->conf->roles[j].name);
		} else if (color[j] == 0)
			conf_role_visit(c, (size_t)j, color);
	}
	color[i] = 2;
}

static void
conf_roles_check(struct conf_ctx *c, const struct node *n)
{
	struct conf		*cf = c->conf;
	const struct node	*val, *seq;
	unsigned char		*color;
	size_t			 i, k, old;

	for (i = 0; i < cf->nroles; i++) {
		val = node_get(n, cf->roles[i].name);
		seq = node_get(val, "inherits");
		old = conf_path_push(c, ".%s.inherits", cf->roles[i].name);
		for (k = 0; k < cf->roles[i].ninherits; k++) {
			if (strcmp(cf->roles[i].inherits[k], "public") == 0)
				conf_err(c, conf_seq_item(seq,
				    cf->roles[i].inherits[k]),
				    "public cannot be inherited");
			else if (conf_role_find(cf,
			    cf->roles[i].inherits[k]) == -1)
				conf_err(c, conf_seq_item(seq,
				    cf->roles[i].inherits[k]),
				    "unknown role '%s'",
				    cf->roles[i].inherits[k]);
		}
		conf_path_pop(c, old);
	}
	color = bw_calloc(cf->nroles + 1, 1);
	for (i = 0; i < cf->nroles; i++)
		if (color[i] == 0)
			conf_role_visit(c, i, color);
	free(color);
}

static void
conf_roles_parse(struct conf_ctx *c, const struct node *n, void *base)
{
	struct conf		*cf = base;
	const struct node	*key;
	struct conf_role	*r;
	char			 ex[128];
	size_t			 i, old;

	if (yaml_is_null(n))
		return;
	if (n->kind != NODE_MAP) {
		conf_err(c, n, "expected a mapping of role names, got %s",
		    conf_a(n));
		return;
	}
	if (n->n > CONF_MAX_ROLES) {
		conf_err(c, n, "at most %d roles", CONF_MAX_ROLES);
		return;
	}
	cf->roles = bw_calloc(n->n + 1, sizeof(*cf->roles));
	for (i = 0; i < n->n; i++) {
		key = n->keys[i];
		old = conf_path_push(c, ".%s", conf_ex(key->text, ex,
		    sizeof(ex)));
		if (!conf_ident(key->text, 62) || strlen(key->text) != key->len)
			conf_err(c, key, "invalid role name "
			    "(^[a-z][a-z0-9_]{0,62}$)");
		else if (strcmp(key->text, "public") == 0)
			conf_err(c, key, "the role name public is reserved");
		else {
			r = &cf->roles[cf->nroles++];
			r->name = bw_strdup(key->text);
			r->pos.line = key->line;
			r->pos.col = key->col;
			conf_map(c, &conf_role_table, n->vals[i], n->vals[i],
			    r);
		}
		conf_path_pop(c, old);
	}
	conf_roles_check(c, n);
}

static void
conf_roles_dump(struct conf_out *o, const struct conf_key *k,
    const void *base)
{
	const struct conf	*cf = base;
	size_t			 i;

	conf_dump_key(o, k->name);
	fputs(cf->nroles == 0 ? " {}\n" : "\n", o->fp);
	for (i = 0; i < cf->nroles; i++) {
		fprintf(o->fp, "%*s%s: {inherits: ", o->indent + 2, "",
		    cf->roles[i].name);
		conf_dump_strlist(o->fp, cf->roles[i].inherits,
		    cf->roles[i].ninherits);
		fputs("}\n", o->fp);
	}
}

static void
conf_roles_free(void *base)
{
	struct conf	*cf = base;
	size_t		 i;

	for (i = 0; i < cf->nroles; i++) {
		conf_free_map(&conf_role_table, &cf->roles[i]);
		free(cf->roles[i].name);
	}
	free(cf->roles);
}

/*
 * schemas: name -> JSON Schema (a mapping or a boolean), kept as nodes.
 */
static bool
conf_schema_name(const char *s, size_t len)
{
	size_t	i;

	if (len == 0 || len > 64 || strlen(s) != len ||
	    !(conf_isalpha(s[0]) || s[0] == '_'))
		return false;
	for (i = 1; i < len; i++)
		if (!conf_isalpha(s[i]) && !conf_isdigit(s[i]) &&
		    strchr("_.-", s[i]) == NULL)
			return false;
	return true;
}

static bool
conf_is_schema(const struct node *n)
{
	bool	b;

	return n->kind == NODE_MAP || yaml_get_bool(n, &b) == 0;
}

static void
conf_schemas_parse(struct conf_ctx *c, const struct node *n, void *base)
{
	struct conf		*cf = base;
	struct conf_schema	*s;
	char			 ex[128];
	size_t			 i, old;

	if (yaml_is_null(n))
		return;
	if (n->kind != NODE_MAP) {
		conf_err(c, n, "expected a mapping of schema names, got %s",
		    conf_a(n));
		return;
	}
	if (n->n > CONF_MAX_SCHEMAS) {
		conf_err(c, n, "at most %d schemas", CONF_MAX_SCHEMAS);
		return;
	}
	cf->schemas = bw_calloc(n->n + 1, sizeof(*cf->schemas));
	for (i = 0; i < n->n; i++) {
		old = conf_path_push(c, ".%s", conf_ex(n->keys[i]->text, ex,
		    sizeof(ex)));
		if (!conf_schema_name(n->keys[i]->text, n->keys[i]->len))
			conf_err(c, n->keys[i], "invalid schema name "
			    "(^[A-Za-z_][A-Za-z0-9_.-]{0,63}$)");
		else if (!conf_is_schema(n->vals[i]))
			conf_err(c, n->vals[i], "a schema is a mapping or a "
			    "boolean, got %s", conf_a(n->vals[i]));
		else {
			s = &cf->schemas[cf->nschemas++];
			s->name = bw_strdup(n->keys[i]->text);
			s->schema = n->vals[i];
			s->pos.line = n->vals[i]->line;
			s->pos.col = n->vals[i]->col;
		}
		conf_path_pop(c, old);
	}
}

static void
conf_schemas_dump(struct conf_out *o, const struct conf_key *k,
    const void *base)
{
	const struct conf	*cf = base;
	size_t			 i;

	conf_dump_key(o, k->name);
	fputs(cf->nschemas == 0 ? " {}\n" : "\n", o->fp);
	for (i = 0; i < cf->nschemas; i++) {
		fprintf(o->fp, "%*s", o->indent + 2, "");
		conf_dump_str(o->fp, cf->schemas[i].name);
		fputs(": ", o->fp);
		conf_dump_node(o->fp, cf->schemas[i].schema);
		fputc('\n', o->fp);
	}
}

static void
conf_schemas_free(void *base)
{
	struct conf	*cf = base;
	size_t		 i;

	for (i = 0; i < cf->nschemas; i++)
		free(cf->schemas[i].name);
	free(cf->schemas);
}

static bool
conf_schema_find(const struct conf *cf, const char *name)
{
	size_t	i;

	for (i = 0; i < cf->nschemas; i++)
		if (strcmp(cf->schemas[i].name, name) == 0)
			return true;
	return false;
}

/*
 * routes
 */
static const char *const conf_method_names[] = { "GET", "POST", "PUT",
    "PATCH", "DELETE", NULL };
static const char *const conf_result_names[] = { "object", "array", "none",
    "value", NULL };

const char *
conf_method_name(enum conf_method m)
{
	return (unsigned)m < 5 ? conf_method_names[m] : "?";
}

const char *
conf_result_name(enum conf_result r)
{
	return (unsigned)r < 4 ? conf_result_names[r] : "?";
}

/* params and query: name -> schema. */
static void
conf_schema_map(struct conf_ctx *c, const struct node *n, struct node **out,
    bool path)
{
	size_t	i;
	bool	ok = true;

	if (yaml_is_null(n))
		return;
	if (n->kind != NODE_MAP) {
		conf_err(c, n, "expected a mapping of names to schemas, got %s",
		    conf_a(n));
		return;
	}
	if (n->n > CONF_MAX_LIST) {
		conf_err(c, n, "at most %d parameters", CONF_MAX_LIST);
		return;
	}
	for (i = 0; i < n->n; i++) {
		if (path ? !conf_ident(n->keys[i]->text, 62) :
		    !conf_schema_name(n->keys[i]->text, n->keys[i]->len)) {
			conf_err(c, n->keys[i], "invalid parameter name");
			ok = false;
		} else if (!conf_is_schema(n->vals[i])) {
			conf_err(c, n->vals[i], "a schema is a mapping or a "
			    "boolean, got %s", conf_a(n->vals[i]));
			ok = false;
		}
	}
	if (ok)
		*out = (struct node *)n;
}

static void
conf_params_parse(struct conf_ctx *c, const struct node *n, void *base)
{
	conf_schema_map(c, n, &((struct conf_route *)base)->params, true);
}

static void
conf_query_parse(struct conf_ctx *c, const struct node *n, void *base)
{
	conf_schema_map(c, n, &((struct conf_route *)base)->query, false);
}

static void
conf_params_dump(struct conf_out *o, const struct conf_key *k,
    const void *base)
{
	const struct conf_route	*r = base;

	conf_dump_key(o, k->name);
	fputc(' ', o->fp);
	conf_dump_node(o->fp, strcmp(k->name, "params") == 0 ? r->params :
	    r->query);
	fputc('\n', o->fp);
}

static void
conf_body_parse(struct conf_ctx *c, const struct node *n, void *base)
{
	struct conf_route	*r = base;
	char			 ex[128];

	if (yaml_is_null(n))
		return;
	if (yaml_is_string(n)) {
		if (!conf_schema_find(c->conf, n->text))
			conf_err(c, n, "unknown schema '%s'",
			    conf_ex(n->text, ex, sizeof(ex)));
		else
			r->body = (struct node *)n;
		return;
	}
	if (!conf_is_schema(n)) {
		conf_err(c, n, "expected a schema name, an inline schema or "
		    "null, got %s", conf_a(n));
		return;
	}
	r->body = (struct node *)n;
}

static void
conf_body_dump(struct conf_out *o, const struct conf_key *k,
    const void *base)
{
	conf_dump_key(o, k->name);
	fputc(' ', o->fp);
	conf_dump_node(o->fp, ((const struct conf_route *)base)->body);
	fputc('\n', o->fp);
}

static void
conf_audit_flag_parse(struct conf_ctx *c, const struct node *n, void *base)
{
	bool	b;

	if (yaml_get_bool(n, &b) == -1)
		conf_err(c, n, "expected a boolean (true or false), got %s",
		    conf_a(n));
	else
		((struct conf_route *)base)->audit = b;
}

static void
conf_audit_flag_dump(struct conf_out *o, const struct conf_key *k,
    const void *base)
{
	conf_dump_key(o, k->name);
	fprintf(o->fp, " %s\n", ((const struct conf_route *)base)->audit > 0 ?
	    "true" : "false");
}

static bool
conf_param_in(char params[][64], size_t np, const char *name)
{
	size_t	i;

	for (i = 0; i < np; i++)
		if (strcmp(params[i], name) == 0)
			return true;
	return false;
}

static void
conf_route_params_check(struct conf_ctx *c, const struct node *map,
    struct conf_route *r)
{
	char			 params[CONF_MAX_PARAMS][64];
	const struct node	*pn = node_get(map, "params");
	const char		*err;
	size_t			 np, i, old;

	if (r->path == NULL || conf_template(r->path, params, &np, &err) == -1)
		return;
	old = conf_path_key(c, "params");
	for (i = 0; i < np; i++)
		if (node_get(r->params, params[i]) == NULL &&
		    (pn == NULL || r->params != NULL || yaml_is_null(pn)))
			conf_err(c, pn != NULL ? pn : map, "path parameter "
			    "'%s' has no schema", params[i]);
	for (i = 0; r->params != NULL && i < r->params->n; i++)
		if (!conf_param_in(params, np, r->params->keys[i]->text))
			conf_err(c, r->params->keys[i], "'%s' is not a "
			    "parameter of the path", r->params->keys[i]->text);
	conf_path_pop(c, old);
}

static void
conf_route_refs_check(struct conf_ctx *c, const struct node *map,
    struct conf_route *r)
{
	const struct node	*n;
	size_t			 i, old;

	n = node_get(map, "roles");
	old = conf_path_key(c, "roles");
	if (n != NULL && n->kind == NODE_SEQ && n->n == 0)
		conf_err(c, n, "must name at least one role (or public)");
	for (i = 0; i < r->nroles; i++)
		if (strcmp(r->roles[i], "public") != 0 &&
		    conf_role_find(c->conf, r->roles[i]) == -1)
			conf_err(c, conf_seq_item(n, r->roles[i]),
			    "unknown role '%s'", r->roles[i]);
	conf_path_pop(c, old);
	n = node_get(map, "query_required");
	old = conf_path_key(c, "query_required");
	for (i = 0; i < r->nquery_required; i++)
		if (node_get(r->query, r->query_required[i]) == NULL)
			conf_err(c, conf_seq_item(n, r->query_required[i]),
			    "'%s' is not declared in query",
			    r->query_required[i]);
	conf_path_pop(c, old);
}

static void
conf_route_body_check(struct conf_ctx *c, const struct node *map,
    struct conf_route *r)
{
	const struct node	*n = node_get(map, "body");
	bool			 takes = r->method == METHOD_POST ||
				    r->method == METHOD_PUT ||
				    r->method == METHOD_PATCH;

	if (takes && n == NULL)
		conf_err(c, map, "missing required key 'body' (%s routes "
		    "take a body)", conf_method_name(r->method));
	else if (takes && yaml_is_null(n))
		conf_err(c, n, "body: %s routes take a body",
		    conf_method_name(r->method));
	else if (!takes && n != NULL && !yaml_is_null(n))
		conf_err(c, n, "body: %s routes take no body",
		    conf_method_name(r->method));
}

static void
conf_route_post(struct conf_ctx *c, const struct node *map,
    const struct node *where, void *base)
{
	struct conf_route	*r = base;
	struct conf		*cf = c->conf;
	const struct node	*n;
	char			 a[32], b[32];
	int64_t			 limit;

	(void)where;
	if (map == NULL)
		return;
	r->pos.line = map->line;
	r->pos.col = map->col;
	if ((n = node_get(map, "sql")) != NULL) {
		r->sql_pos.line = n->line;
		r->sql_pos.col = n->col;
	}
	if (node_get(map, "method") != NULL)
		conf_route_body_check(c, map, r);
	conf_route_params_check(c, map, r);
	conf_route_refs_check(c, map, r);
	if (r->status == 0)
		r->status = r->result == RESULT_NONE ? 204 : 200;
	if (r->timeout_ms == 0)
		r->timeout_ms = cf->database != NULL ?
		    cf->database->statement_timeout_ms : 5 * MS_S;
	limit = cf->server.limits.request_timeout_ms - MS_S;
	if (limit > 0 && r->timeout_ms > limit) {
		conf_fmt_duration(r->timeout_ms, a, sizeof(a));
		conf_fmt_duration(cf->server.limits.request_timeout_ms, b,
		    sizeof(b));
		n = node_get(map, "timeout");
		conf_err(c, n != NULL ? n : map, "timeout %s%s exceeds "
		    "server.limits.request_timeout (%s) - 1s", a,
		    n != NULL ? "" : " (database.statement_timeout)", b);
	}
	if (r->max_body_size == 0)
		r->max_body_size = cf->server.limits.max_body_size;
	if (node_get(map, "rate_limit") == NULL)
		r->rate_limit = cf->server.rate_limit;
}

#define RT(f)	.off = offsetof(struct conf_route, f)
static const struct conf_key conf_route_keys[] = {
	{ .name = "name", .type = CT_STRING, RT(name), .flags = F_REQ,
	  .check = conf_check_route_name },
	{ .name = "method", .type = CT_ENUM, RT(method), .flags = F_REQ,
	  .names = conf_method_names },
	{ .name = "path", .type = CT_STRING, RT(path), .flags = F_REQ,
	  .max = 1024, .check = conf_check_route_path },
	{ .name = "roles", .type = CT_STRLIST, RT(roles),
	  .off2 = offsetof(struct conf_route, nroles), .flags = F_REQ,
	  .check = conf_check_role_name },
	{ .name = "params", .type = CT_CUSTOM, .flags = F_INHERIT,
	  .parse = conf_params_parse, .dump = conf_params_dump },
	{ .name = "query", .type = CT_CUSTOM, .flags = F_INHERIT,
	  .parse = conf_query_parse, .dump = conf_params_dump },
	{ .name = "query_required", .type = CT_STRLIST, RT(query_required),
	  .off2 = offsetof(struct conf_route, nquery_required), .def = "[]" },
	{ .name = "body", .type = CT_CUSTOM, .flags = F_INHERIT,
	  .parse = conf_body_parse, .dump = conf_body_dump },
	{ .name = "sql", .type = CT_STRING, RT(sql), .flags = F_REQ,
	  .max = CONF_MAX_SQL, .check = conf_check_nonblank },
	{ .name = "result", .type = CT_ENUM, RT(result), .def = "object",
	  .names = conf_result_names },
	{ .name = "status", .type = CT_INT, RT(status), .flags = F_INHERIT,
	  .min = 100, .max = 599 },
	{ .name = "audit", .type = CT_CUSTOM, .flags = F_INHERIT,
	  .parse = conf_audit_flag_parse, .dump = conf_audit_flag_dump },
	{ .name = "audit_fields", .type = CT_STRLIST, RT(audit_fields),
	  .off2 = offsetof(struct conf_route, naudit_fields), .def = "[]" },
	{ .name = "timeout", .type = CT_DURATION, RT(timeout_ms),
	  .flags = F_INHERIT, .min = 1, .max = MS_H },
	{ .name = "max_body_size", .type = CT_SIZE, RT(max_body_size),
	  .flags = F_INHERIT, .min = 1, .max = GIB },
	{ .name = "max_rows", .type = CT_U32, RT(max_rows), .def = "1000",
	  .min = 1, .max = 1000000 },
	{ .name = "replica", .type = CT_BOOL, RT(replica), .def = "false" },
	{ .name = "rate_limit", .type = CT_RATE, RT(rate_limit),
	  .flags = F_INHERIT, .sub = &conf_rate_table },
};
#undef RT

static const struct conf_table conf_route_table = {
	conf_route_keys, BW_ARRAY_LEN(conf_route_keys), 0,
	conf_route_post
};

/* Two templates tie when they differ only in parameter names. */
static void
conf_template_shape(const char *path, char *out, size_t outsz)
{
	size_t	o = 0;

	while (*path != '\0' && o + 3 < outsz) {
		if (*path == '{') {
			out[o++] = '{';
			out[o++] = '}';
			path += strcspn(path, "}");
			if (*path == '}')
				path++;
			continue;
		}
		out[o++] = *path++;
	}
	out[o] = '\0';
}

static void
conf_route_unique(struct conf_ctx *c, const struct node *map, size_t i)
{
	struct conf_route	*r = &c->conf->routes[i], *p;
	char			 sa[1100], sb[1100], ex[128];
	size_t			 j, old;

	if (r->name == NULL || r->path == NULL)
		return;
	conf_template_shape(r->path, sa, sizeof(sa));
	for (j = 0; j < i; j++) {
		p = &c->conf->routes[j];
		if (p->name != NULL && strcmp(p->name, r->name) == 0) {
			old = conf_path_key(c, "name");
			conf_err(c, node_get(map, "name"), "duplicate route "
			    "name (first at line %d)", p->pos.line);
			conf_path_pop(c, old);
		}
		if (p->path == NULL || p->method != r->method)
			continue;
		conf_template_shape(p->path, sb, sizeof(sb));
		if (strcmp(sa, sb) != 0)
			continue;
		old = conf_path_key(c, "path");
		conf_err(c, node_get(map, "path"), "%s %s ties with route "
		    "'%s' (line %d)", conf_method_name(r->method),
		    conf_ex(r->path, ex, sizeof(ex)),
		    p->name != NULL ? p->name : "?", p->pos.line);
		conf_path_pop(c, old);
	}
}

static void
conf_routes_parse(struct conf_ctx *c, const struct node *n, void *base)
{
	struct conf		*cf = base;
	struct conf_route	*r;
	size_t			 i, old;

	if (yaml_is_null(n))
		return;
	if (n->kind != NODE_SEQ) {
		conf_err(c, n, "expected a sequence of routes, got %s",
		    conf_a(n));
		return;
	}
	if (n->n > CONF_MAX_ROUTES) {
		conf_err(c, n, "at most %d routes", CONF_MAX_ROUTES);
		return;
	}
	cf->routes = bw_calloc(n->n + 1, sizeof(*cf->routes));
	for (i = 0; i < n->n; i++) {
		old = conf_path_push(c, "[%zu]", i);
		if (n->vals[i]->kind != NODE_MAP) {
			conf_err(c, n->vals[i], "a route is a mapping, got %s",
			    conf_a(n->vals[i]));
		} else {
			r = &cf->routes[cf->nroutes++];
			r->audit = -1;
			conf_map(c, &conf_route_table, n->vals[i], n->vals[i],
			    r);
			conf_route_unique(c, n->vals[i], cf->nroutes - 1);
		}
		conf_path_pop(c, old);
	}
}

static void conf_dump_map_at(struct conf_out *, const struct conf_table *,
    const void *, bool);

static void
conf_routes_dump(struct conf_out *o, const struct conf_key *k,
    const void *base)
{
	const struct conf	*cf = base;
	size_t			 i;

	conf_dump_key(o, k->name);
	fputs(cf->nroutes == 0 ? " []\n" : "\n", o->fp);
	o->indent += 4;
	for (i = 0; i < cf->nroutes; i++)
		conf_dump_map_at(o, &conf_route_table, &cf->routes[i], true);
	o->indent -= 4;
}

static void
conf_routes_free(void *base)
{
	struct conf	*cf = base;
	size_t		 i;

	for (i = 0; i < cf->nroutes; i++)
		conf_free_map(&conf_route_table, &cf->routes[i]);
	free(cf->routes);
}

/*
 * audit
 */
static void
conf_fsync_parse(struct conf_ctx *c, const struct node *n, void *base)
{
	struct conf_audit	*a = base;

	if (yaml_is_string(n) && strcmp(n->text, "always") == 0) {
		a->fsync = FSYNC_ALWAYS;
		a->fsync_interval_ms = 0;
		return;
	}
	if (n->kind != NODE_SCALAR || yaml_is_null(n)) {
		conf_err(c, n, "expected always or a duration, got %s",
		    conf_a(n));
		return;
	}
	if (conf_duration(c, n, 1, MS_H, &a->fsync_interval_ms) == 0)
		a->fsync = FSYNC_INTERVAL;
}

static void
conf_fsync_dump(struct conf_out *o, const struct conf_key *k,
    const void *base)
{
	const struct conf_audit	*a = base;
	char			 buf[32];

	conf_dump_key(o, k->name);
	if (a->fsync == FSYNC_ALWAYS)
		fputs(" always\n", o->fp);
	else {
		conf_fmt_duration(a->fsync_interval_ms, buf, sizeof(buf));
		fprintf(o->fp, " %s\n", buf);
	}
}

static const char *const conf_on_failure_names[] = { "reject", "continue",
    NULL };

static void
conf_on_failure_parse(struct conf_ctx *c, const struct node *n, void *base)
{
	int	i;

	if ((i = conf_enum(c, n, conf_on_failure_names)) != -1)
		((struct conf_audit *)base)->on_failure_reject = i == 0;
}

static void
conf_on_failure_dump(struct conf_out *o, const struct conf_key *k,
    const void *base)
{
	conf_dump_key(o, k->name);
	fprintf(o->fp, " %s\n", ((const struct conf_audit *)base)->
	    on_failure_reject ? "reject" : "continue");
}

#define AD(f)	.off = offsetof(struct conf_audit, f)
static const struct conf_key conf_audit_keys[] = {
	{ .name = "file", .type = CT_PATH, AD(file),
	  .def = "/var/log/bulwark/audit.log" },
	{ .name = "key_file", .type = CT_PATH, AD(key_file), .flags = F_SECRET,
	  .def = "/etc/bulwark/keys/audit.key" },
	{ .name = "instance_id", .type = CT_STRING, AD(instance_id),
	  .flags = F_NULL, .def = "null", .check = conf_check_instance },
	{ .name = "fsync", .type = CT_CUSTOM, .def = "always",
	  .parse = conf_fsync_parse, .dump = conf_fsync_dump },
	{ .name = "on_failure", .type = CT_CUSTOM, .def = "reject",
	  .parse = conf_on_failure_parse, .dump = conf_on_failure_dump },
	{ .name = "control_socket", .type = CT_PATH, AD(control_socket),
	  .def = "/run/bulwark/control.sock" },
};
#undef AD

static const struct conf_table conf_audit_table = {
	conf_audit_keys, BW_ARRAY_LEN(conf_audit_keys),
	sizeof(struct conf_audit), NULL
};

/*
 * backup: `every` or `at` ("HH:MM" UTC), not both; default every 24h.
 */
static void
conf_every_parse(struct conf_ctx *c, const struct node *n, void *base)
{
	conf_duration(c, n, MS_M, 365 * MS_D,
	    &((struct conf_backup *)base)->every_ms);
}

static void
conf_at_parse(struct conf_ctx *c, const struct node *n, void *base)
{
	struct conf_backup	*b = base;
	const char		*s;

	if ((s = conf_str(c, n, 5)) == NULL)
		return;
	if (strlen(s) != 5 || !conf_isdigit(s[0]) || !conf_isdigit(s[1]) ||
	    s[2] != ':' || !conf_isdigit(s[3]) || !conf_isdigit(s[4]) ||
	    (s[0] - '0') * 10 + (s[1] - '0') > 23 || s[3] > '5') {
		conf_err(c, n, "expected \"HH:MM\" (UTC, 00:00 to 23:59)");
		return;
	}
	b->at_minute = ((s[0] - '0') * 10 + (s[1] - '0')) * 60 +
	    (s[3] - '0') * 10 + (s[4] - '0');
}

static void
conf_every_dump(struct conf_out *o, const struct conf_key *k,
    const void *base)
{
	const struct conf_backup	*b = base;
	char				 buf[32];

	if (b->at_minute >= 0)
		return;
	conf_fmt_duration(b->every_ms, buf, sizeof(buf));
	conf_dump_key(o, k->name);
	fprintf(o->fp, " %s\n", buf);
}

static void
conf_at_dump(struct conf_out *o, const struct conf_key *k, const void *base)
{
	const struct conf_backup	*b = base;

	if (b->at_minute < 0)
		return;
	conf_dump_key(o, k->name);
	fprintf(o->fp, " \"%02d:%02d\"\n", b->at_minute / 60,
	    b->at_minute % 60);
}

static void
conf_backup_post(struct conf_ctx *c, const struct node *map,
    const struct node *where, void *base)
{
	struct conf_backup	*b = base;
	const struct node	*every = node_get(map, "every");
	const struct node	*at = node_get(map, "at");

	(void)where;
	if (at == NULL)
		b->at_minute = -1;
	if (every != NULL && at != NULL)
		conf_err(c, at, "every and at are exclusive");
	else if (every == NULL && at == NULL)
		b->every_ms = 24 * MS_H;
	if (at != NULL)
		b->every_ms = 0;
}

#define BK(f)	.off = offsetof(struct conf_backup, f)
static const struct conf_key conf_backup_keys[] = {
	{ .name = "directory", .type = CT_PATH, BK(directory),
	  .def = "/var/lib/bulwark/backups" },
	{ .name = "key_file", .type = CT_PATH, BK(key_file), .flags = F_SECRET,
	  .def = "/etc/bulwark/keys/backup.key" },
	{ .name = "every", .type = CT_CUSTOM, .flags = F_INHERIT,
	  .parse = conf_every_parse, .dump = conf_every_dump },
	{ .name = "at", .type = CT_CUSTOM, .flags = F_INHERIT,
	  .parse = conf_at_parse, .dump = conf_at_dump },
	{ .name = "keep", .type = CT_U32, BK(keep), .def = "14", .min = 1,
	  .max = 10000 },
	{ .name = "pg_dump", .type = CT_PATH, BK(pg_dump),
	  .def = "/usr/bin/pg_dump" },
	{ .name = "pg_restore", .type = CT_PATH, BK(pg_restore),
	  .def = "/usr/bin/pg_restore" },
};
#undef BK

static const struct conf_table conf_backup_table = {
	conf_backup_keys, BW_ARRAY_LEN(conf_backup_keys),
	sizeof(struct conf_backup), conf_backup_post
};

/*
 * logging
 */
static const char *const conf_level_names[] = { "debug", "info", "notice",
    "warning", "error", NULL };
static const char *const conf_format_names[] = { "json", NULL };

static const struct conf_key conf_logging_keys[] = {
	{ .name = "level", .type = CT_ENUMSTR, .def = "info",
	  .off = offsetof(struct conf_logging, level),
	  .names = conf_level_names },
	{ .name = "access", .type = CT_STRING, .def = "stderr",
	  .off = offsetof(struct conf_logging, access),
	  .check = conf_check_access },
	{ .name = "format", .type = CT_ENUMSTR, .def = "json",
	  .off = offsetof(struct conf_logging, format),
	  .names = conf_format_names },
};

static const struct conf_table conf_logging_table = {
	conf_logging_keys, BW_ARRAY_LEN(conf_logging_keys), 0, NULL
};

/*
 * admin
 */
static bool
conf_loopback(const struct conf_listen *l)
{
	const struct sockaddr_in	*sin = (const void *)&l->addr;
	const struct sockaddr_in6	*sin6 = (const void *)&l->addr;
	const unsigned char		*a;

	if (l->addr.ss_family == AF_INET)
		return (ntohl(sin->sin_addr.s_addr) >> 24) == 127;
	if (l->addr.ss_family != AF_INET6)
		return false;
	if (IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr))
		return true;
	a = sin6->sin6_addr.s6_addr;
	return IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr) && a[12] == 127;
}

static void
conf_admin_listen_parse(struct conf_ctx *c, const struct node *n, void *base)
{
	struct conf_admin	*a = base;

	free(a->listen.text);
	a->listen.text = NULL;
	conf_listen_one(c, n, &a->listen);
}

static void
conf_admin_listen_dump(struct conf_out *o, const struct conf_key *k,
    const void *base)
{
	conf_dump_key(o, k->name);
	fputc(' ', o->fp);
	conf_dump_str(o->fp, ((const struct conf_admin *)base)->listen.text);
	fputc('\n', o->fp);
}

#define AM(f)	.off = offsetof(struct conf_admin, f)
static const struct conf_key conf_admin_tls_keys[] = {
	{ .name = "certificate", .type = CT_PATH, AM(certificate),
	  .flags = F_REQ | F_FILE },
	{ .name = "private_key", .type = CT_PATH, AM(private_key),
	  .flags = F_REQ | F_SECRET },
	{ .name = "client_ca", .type = CT_PATH, AM(client_ca),
	  .flags = F_FILE | F_NULL, .def = "null" },
};

static const struct conf_table conf_admin_tls_table = {
	conf_admin_tls_keys, BW_ARRAY_LEN(conf_admin_tls_keys), 0, NULL
};

static void
conf_admin_tls_parse(struct conf_ctx *c, const struct node *n, void *base)
{
	struct conf_admin	*a = base;

	if (yaml_is_null(n))
		return;
	if (n->kind != NODE_MAP) {
		conf_err(c, n, "expected a mapping {certificate, private_key, "
		    "client_ca} or null, got %s", conf_a(n));
		return;
	}
	a->tls = true;
	conf_map(c, &conf_admin_tls_table, n, n, a);
}

static void
conf_admin_tls_dump(struct conf_out *o, const struct conf_key *k,
    const void *base)
{
	const struct conf_admin	*a = base;

	conf_dump_key(o, k->name);
	if (!a->tls) {
		fputs(" null\n", o->fp);
		return;
	}
	fputs(" {certificate: ", o->fp);
	conf_dump_str(o->fp, a->certificate);
	fputs(", private_key: ", o->fp);
	conf_dump_str(o->fp, a->private_key);
	fputs(", client_ca: ", o->fp);
	if (a->client_ca != NULL)
		conf_dump_str(o->fp, a->client_ca);
	else
		fputs("null", o->fp);
	fputs("}\n", o->fp);
}

static void
conf_admin_free(void *base)
{
	struct conf_admin	*a = base;

	free(a->listen.text);
	free(a->certificate);
	free(a->private_key);
	free(a->client_ca);
}

static void
conf_admin_post(struct conf_ctx *c, const struct node *map,
    const struct node *where, void *base)
{
	struct conf_admin	*a = base;
	const struct node	*n = node_get(map, "listen");
	size_t			 old;

	if (a->listen.text == NULL || a->tls || conf_loopback(&a->listen))
		return;
	old = conf_path_key(c, "listen");
	conf_err(c, n != NULL ? n : where, "plain HTTP must listen on a "
	    "loopback address; otherwise set admin.tls");
	conf_path_pop(c, old);
}

static const struct conf_key conf_admin_keys[] = {
	{ .name = "listen", .type = CT_CUSTOM, .def = "\"127.0.0.1:9090\"",
	  .parse = conf_admin_listen_parse, .dump = conf_admin_listen_dump,
	  .free = conf_admin_free },
	{ .name = "tls", .type = CT_CUSTOM, .def = "null",
	  .parse = conf_admin_tls_parse, .dump = conf_admin_tls_dump,
	  .sub = &conf_admin_tls_table },
};
#undef AM

static const struct conf_table conf_admin_table = {
	conf_admin_keys, BW_ARRAY_LEN(conf_admin_keys),
	sizeof(struct conf_admin), conf_admin_post
};

/*
 * The file.
 */
static void
conf_root_post(struct conf_ctx *c, const struct node *map,
    const struct node *where, void *base)
{
	struct conf	*cf = base;
	size_t		 i;

	(void)map;
	for (i = 0; i < cf->nroutes; i++)
		if (cf->routes[i].audit == -1)
			cf->routes[i].audit = cf->audit != NULL &&
			    cf->routes[i].method != METHOD_GET;
	if (cf->database == NULL && (cf->nroutes > 0 || cf->auth != NULL ||
	    cf->audit != NULL || cf->backup != NULL)) {
		conf_err(c, where, "missing required key 'database' (routes, "
		    "auth, audit and backup need it)");
		return;
	}
	if (cf->database != NULL && cf->audit == NULL)
		bw_diag_warn(c->diag, c->file, 1, 1, "no audit section: "
		    "requests and administration are not audited");
	if (cf->database != NULL && cf->backup == NULL)
		bw_diag_warn(c->diag, c->file, 1, 1, "no backup section: "
		    "no backups are made");
}

#define CF(f)	.off = offsetof(struct conf, f)
static const struct conf_key conf_root_keys[] = {
	{ .name = "version", .type = CT_CUSTOM, .flags = F_REQ,
	  .parse = conf_version_parse, .dump = conf_version_dump },
	{ .name = "server", .type = CT_SECTION, CF(server), .flags = F_REQ,
	  .sub = &conf_server_table },
	{ .name = "security", .type = CT_SECTION, .off = 0,
	  .sub = &conf_security_table },
	{ .name = "database", .type = CT_OPTSECTION, CF(database),
	  .flags = F_NULL, .sub = &conf_database_table },
	{ .name = "auth", .type = CT_OPTSECTION, CF(auth), .flags = F_NULL,
	  .sub = &conf_auth_table },
	{ .name = "roles", .type = CT_CUSTOM, .flags = F_INHERIT,
	  .parse = conf_roles_parse, .dump = conf_roles_dump,
	  .free = conf_roles_free, .sub = &conf_role_table, .item = ".NAME" },
	{ .name = "schemas", .type = CT_CUSTOM, .flags = F_INHERIT,
	  .parse = conf_schemas_parse, .dump = conf_schemas_dump,
	  .free = conf_schemas_free },
	{ .name = "routes", .type = CT_CUSTOM, .flags = F_INHERIT,
	  .parse = conf_routes_parse, .dump = conf_routes_dump,
	  .free = conf_routes_free, .sub = &conf_route_table, .item = "[]" },
	{ .name = "audit", .type = CT_OPTSECTION, CF(audit), .flags = F_NULL,
	  .sub = &conf_audit_table },
	{ .name = "backup", .type = CT_OPTSECTION, CF(backup), .flags = F_NULL,
	  .sub = &conf_backup_table },
	{ .name = "logging", .type = CT_SECTION, CF(logging),
	  .sub = &conf_logging_table },
	{ .name = "admin", .type = CT_OPTSECTION, CF(admin), .flags = F_NULL,
	  .sub = &conf_admin_table },
};
#undef CF

static const struct conf_table conf_root_table = {
	conf_root_keys, BW_ARRAY_LEN(conf_root_keys), 0, conf_root_post
};

/*
 * Loading and freeing.
 */
static struct conf *
conf_from_doc(const char *name, struct node *doc, struct bw_diag *diag,
    size_t before, bool files)
{
	struct conf_ctx	 c;
	struct conf	*cf;

	if (doc == NULL)
		return NULL;
	cf = bw_calloc(1, sizeof(*cf));
	cf->file = bw_strdup(name);
	cf->doc = doc;
	memset(&c, 0, sizeof(c));
	c.conf = cf;
	c.diag = diag;
	c.file = cf->file;
	c.files = files;
	if (doc->kind != NODE_MAP)
		bw_diag_add(diag, name, 1, 1, "the configuration must be a "
		    "mapping (with at least version and server), got %s",
		    conf_a(doc));
	else
		conf_map(&c, &conf_root_table, doc, doc, cf);
	if (diag->errors != before || diag->overflow) {
		conf_free(cf);
		return NULL;
	}
	return cf;
}

struct conf *
conf_load(const char *path, struct bw_diag *diag)
{
	size_t	before = diag->errors;

	return conf_from_doc(path, yaml_load(path, diag), diag, before, true);
}

struct conf *
conf_load_buffer(const char *name, const char *buf, size_t len,
    struct bw_diag *diag)
{
	size_t	before = diag->errors;

	return conf_from_doc(name, yaml_load_buffer(name, buf, len, diag),
	    diag, before, false);
}

static void
conf_free_map(const struct conf_table *t, void *base)
{
	const struct conf_key	*k;
	void			*f;
	char			**v;
	size_t			 i, j, n;

	for (i = 0; i < t->nkeys; i++) {
		k = &t->keys[i];
		f = (char *)base + k->off;
		switch (k->type) {
		case CT_STRING:
		case CT_PATH:
		case CT_ENUMSTR:
			free(*(char **)f);
			*(char **)f = NULL;
			break;
		case CT_STRLIST:
			v = *(char ***)f;
			n = *(size_t *)((char *)base + k->off2);
			for (j = 0; j < n; j++)
				free(v[j]);
			free(v);
			*(char ***)f = NULL;
			break;
		case CT_SECTION:
			conf_free_map(k->sub, f);
			break;
		case CT_OPTSECTION:
			if (*(void **)f != NULL) {
				conf_free_map(k->sub, *(void **)f);
				free(*(void **)f);
				*(void **)f = NULL;
			}
			break;
		case CT_CUSTOM:
			if (k->free != NULL)
				k->free(base);
			break;
		default:
			break;
		}
	}
}

void
conf_free(struct conf *cf)
{
	if (cf == NULL)
		return;
	conf_free_map(&conf_root_table, cf);
	node_free(cf->doc);
	free(cf->file);
	free(cf);
}

/*
 * The -T dump: every key of every table, in table order.
 */
static void
conf_dump_scalar(FILE *fp, const struct conf_key *k, const void *base)
{
	const void	*f = (const char *)base + k->off;
	char		 buf[32];

	switch (k->type) {
	case CT_BOOL:
		fputs(*(const bool *)f ? "true" : "false", fp);
		break;
	case CT_INT:
		fprintf(fp, "%d", *(const int *)f);
		break;
	case CT_U32:
		fprintf(fp, "%u", *(const uint32_t *)f);
		break;
	case CT_DURATION:
		conf_fmt_duration(*(const int64_t *)f, buf, sizeof(buf));
		fputs(buf, fp);
		break;
	case CT_SIZE:
		conf_fmt_size(*(const uint64_t *)f, buf, sizeof(buf));
		fputs(buf, fp);
		break;
	case CT_STRING:
	case CT_PATH:
	case CT_ENUMSTR:
		if (*(char *const *)f == NULL)
			fputs("null", fp);
		else
			conf_dump_str(fp, *(char *const *)f);
		break;
	case CT_ENUM:
		fputs(k->names[*(const int *)f], fp);
		break;
	case CT_STRLIST:
		conf_dump_strlist(fp, *(char **const *)f,
		    *(const size_t *)((const char *)base + k->off2));
		break;
	case CT_RATE:
		conf_rate_dump(fp, f);
		break;
	default:
		break;
	}
}

static void
conf_dump_map_at(struct conf_out *o, const struct conf_table *t,
    const void *base, bool item)
{
	const struct conf_key	*k;
	const void		*f;
	size_t			 i;

	for (i = 0; i < t->nkeys; i++) {
		k = &t->keys[i];
		f = (const char *)base + k->off;
		if (item && i == 0)
			fprintf(o->fp, "%*s- ", o->indent - 2, "");
		if (item && i == 0 && k->type != CT_CUSTOM &&
		    k->type != CT_SECTION && k->type != CT_OPTSECTION) {
			fprintf(o->fp, "%s: ", k->name);
			conf_dump_scalar(o->fp, k, base);
			fputc('\n', o->fp);
			continue;
		}
		switch (k->type) {
		case CT_SECTION:
		case CT_OPTSECTION:
			if (k->type == CT_OPTSECTION &&
			    (f = *(void *const *)f) == NULL)
				break;
			conf_dump_key(o, k->name);
			fputc('\n', o->fp);
			o->indent += 2;
			conf_dump_map_at(o, k->sub, f, false);
			o->indent -= 2;
			break;
		case CT_CUSTOM:
			k->dump(o, k, base);
			break;
		default:
			if ((k->type == CT_STRING || k->type == CT_PATH) &&
			    !(k->flags & F_NULL) && *(char *const *)f == NULL)
				break;
			conf_dump_key(o, k->name);
			fputc(' ', o->fp);
			conf_dump_scalar(o->fp, k, base);
			fputc('\n', o->fp);
			break;
		}
	}
}

static void
conf_dump_map(struct conf_out *o, const struct conf_table *t,
    const void *base)
{
	conf_dump_map_at(o, t, base, false);
}

void
conf_dump(const struct conf *cf, FILE *fp)
{
	struct conf_out	o;

	o.fp = fp;
	o.indent = 0;
	fputs("# effective configuration of ", fp);
	fputs(cf->file, fp);
	fputs(" (defaults filled in)\n", fp);
	conf_dump_map(&o, &conf_root_table, cf);
}

static void
conf_walk_table(const struct conf_table *t, const char *prefix,
    void (*cb)(const char *, const char *, void *), void *arg)
{
	const struct conf_key	*k;
	char			 path[256];
	size_t			 i;

	for (i = 0; i < t->nkeys; i++) {
		k = &t->keys[i];
		(void)snprintf(path, sizeof(path), "%s%s%s", prefix,
		    prefix[0] ? "." : "", k->name);
		cb(path, k->def, arg);
		if (k->sub == NULL)
			continue;
		(void)snprintf(path, sizeof(path), "%s%s%s%s", prefix,
		    prefix[0] ? "." : "", k->name,
		    k->item != NULL ? k->item : "");
		conf_walk_table(k->sub, path, cb, arg);
	}
}

void
conf_keys_walk(void (*cb)(const char *, const char *, void *), void *arg)
{
	conf_walk_table(&conf_root_table, "", cb, arg);
}

/*
 * Sections this version parses, so that the format is settled, but cannot
 * act on yet: a configuration that asks for backups is
 * refused rather than served without them.
 */
void
conf_check_available(const struct conf *conf, struct bw_diag *diag)
{
	static const char *const later[] = { "backup" };
	const struct node	*doc = conf->doc;
	size_t			 i, j;

	if (doc == NULL || doc->kind != NODE_MAP)
		return;
	for (i = 0; i < BW_ARRAY_LEN(later); i++)
		for (j = 0; j < doc->n; j++)
			if (strcmp(doc->keys[j]->text, later[i]) == 0 &&
			    !yaml_is_null(doc->vals[j]))
				bw_diag_add(diag, conf->file, doc->keys[j]->line,
				    doc->keys[j]->col, "%s: not available in "
				    "this version of bulwarkd (bulwarkd(8), "
				    "CAVEATS)", later[i]);
}
