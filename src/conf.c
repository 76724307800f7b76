/*
 * conf.c - the configuration engine (SPEC 4): strict YAML to typed structs.
 *
 * Every mapping of the format is described once by a key table (struct
 * conf_table, conf_int.h; the tables are in conf_keys.c, the checks of
 * single values in conf_check.c): name, type, offset, default, bounds and,
 * where a type needs it, a hook.  This file walks those tables to parse,
 * apply defaults, free, dump (-T) and list the keys for the manual page
 * check, so a key cannot be parsed without being dumped and documented.
 * Defaults are written as YAML text and go through the same code as values
 * from the file.  Collections (CT_SEQ, CT_MAP) are generic too: count
 * bounds, item parsing, duplicates, dump and free follow their struct
 * conf_coll.
 *
 * Every error is collected with its position (conf_err); parsing goes on
 * after an error so that one run reports them all.  Positions: the key for
 * an unknown key, the value for a bad value, the enclosing mapping for a
 * missing key (or for a check on a default value), FILE:1:1 for the file.
 *
 * Threat model: the file is trusted to configure the daemon but not to be
 * well-formed; nothing in it is used before it has been checked, messages
 * quote input only through yaml_excerpt(), and no secret is ever read here:
 * secret files are opened and checked by secret_open() and closed.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "conf_int.h"
#include "jsonw.h"
#include "node.h"
#include "secret.h"
#include "util.h"
#include "yaml_strict.h"

static void	 conf_coll(struct conf_ctx *, const struct conf_key *,
		    const struct node *, void *);
static void	 conf_free_map(const struct conf_table *, void *);
static void	 conf_dump_map_at(struct conf_out *, const struct conf_table *,
		    const void *, bool);

/*
 * Messages and positions.
 */
void
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

size_t
conf_path_push(struct conf_ctx *c, const char *fmt, ...)
{
	va_list	 ap;
	size_t	 old = strlen(c->path);

	va_start(ap, fmt);
	(void)vsnprintf(c->path + old, sizeof(c->path) - old, fmt, ap);
	va_end(ap);
	return old;
}

size_t
conf_path_key(struct conf_ctx *c, const char *name)
{
	return conf_path_push(c, "%s%s", c->path[0] ? "." : "", name);
}

void
conf_path_pop(struct conf_ctx *c, size_t old)
{
	c->path[old] = '\0';
}

const char *
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

const char *
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
 * Small syntax helpers (ASCII only, independent of the locale; the
 * character classes are util's).
 */
/* ^[a-z][a-z0-9_]*$ with at most max characters after the first. */
bool
conf_ident(const char *s, size_t max)
{
	size_t	i;

	if (s[0] < 'a' || s[0] > 'z')
		return false;
	for (i = 1; s[i] != '\0'; i++)
		if (i > max || !((s[i] >= 'a' && s[i] <= 'z') ||
		    bw_is_digit(s[i]) || s[i] == '_'))
			return false;
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

const char *
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

void
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

int
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

int
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
 * Files.  Secret files are checked by secret_open() and closed; other
 * files must exist and be regular.
 */
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
		if ((p = secret_path(s, &err)) == NULL) {
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
		fd = secret_open(p, c->conf->server.user, &err);
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
		conf_map(c, k->sub, n, n, f);
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
	case CT_SEQ:
	case CT_MAP:
		conf_coll(c, k, n, base);
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
void
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
	  .man = "Ar rate", .parse = conf_rate_rate_parse },
	{ .name = "burst", .type = CT_U32,
	  .off = offsetof(struct conf_rate, burst), .flags = F_INHERIT,
	  .min = 1, .max = 1000000 },
};

const struct conf_table conf_rate_table = {
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
void
conf_dump_str(FILE *fp, const char *s)
{
	(void)jsonw_str_file(fp, s, strlen(s), SIZE_MAX);
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
	if (!(bw_is_digit(n->text[0]) || (n->text[0] == '-' &&
	    bw_is_digit(n->text[1]))))
		return false;
	for (i = 0; i < n->len; i++)
		if (!bw_is_alpha(n->text[i]) && !bw_is_digit(n->text[i]) &&
		    strchr(".+-", n->text[i]) == NULL)
			return false;
	return true;
}

void
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

void
conf_dump_key(struct conf_out *o, const char *name)
{
	fprintf(o->fp, "%*s%s:", o->indent, "", name);
}

/* The sequence item holding text s, for positions after parsing. */
const struct node *
conf_seq_item(const struct node *seq, const char *s)
{
	size_t	i;

	for (i = 0; seq != NULL && seq->kind == NODE_SEQ && i < seq->n; i++)
		if (seq->vals[i]->kind == NODE_SCALAR &&
		    strcmp(seq->vals[i]->text, s) == 0)
			return seq->vals[i];
	return seq;
}

/*
 * Collections: CT_SEQ (items in order) and CT_MAP (names to items).
 */
static void
conf_coll_free_item(const struct conf_coll *co, void *item, bool map)
{
	if (map)
		free(*(char **)item);
	if (co->item != NULL)
		conf_free_map(co->item, item);
	if (co->free != NULL)
		co->free(item);
}

/* Item n against items 0..n-1; true when item n is to be dropped. */
static bool
conf_coll_dup(struct conf_ctx *c, const struct conf_coll *co, char *items,
    size_t n, const struct node *at)
{
	const struct conf_key	*k;
	const struct conf_pos	*first;
	const char		*s, *t;
	size_t			 i, old;

	if (co->unique == NULL) {
		for (i = 0; co->same != NULL && i < n; i++) {
			if (co->same(items + i * co->size,
			    items + n * co->size)) {
				conf_err(c, at, "%s", co->dup);
				return true;
			}
		}
		return false;
	}
	k = conf_find_key(co->item, co->unique, strlen(co->unique));
	if ((s = *(char **)(items + n * co->size + k->off)) == NULL)
		return false;
	for (i = 0; i < n; i++) {
		t = *(char **)(items + i * co->size + k->off);
		if (t == NULL || strcmp(s, t) != 0)
			continue;
		first = (const void *)(items + i * co->size + co->pos_off);
		old = conf_path_key(c, co->unique);
		conf_err(c, node_get(at, co->unique), "%s (first at line %d)",
		    co->dup, first->line);
		conf_path_pop(c, old);
	}
	return false;
}

/* Parses item n (key is NULL in a sequence); true when it is kept. */
static bool
conf_coll_item(struct conf_ctx *c, const struct conf_coll *co, char *items,
    size_t n, const struct node *key, const struct node *val)
{
	char			*item = items + n * co->size;
	const struct node	*at = key != NULL ? key : val;
	struct conf_pos		*pos = (void *)(item + co->pos_off);

	if (key != NULL && co->name != NULL && co->name(c, key) == -1)
		return false;
	if (key == NULL && co->item != NULL && val->kind != NODE_MAP) {
		conf_err(c, val, "a %s is a mapping, got %s", co->one,
		    conf_a(val));
		return false;
	}
	if (key != NULL)
		*(char **)item = bw_strdup(key->text);
	if (co->pos_off != 0) {
		pos->line = at->line;
		pos->col = at->col;
	}
	if (co->item != NULL) {
		conf_map(c, co->item, val, val, item);
		return !conf_coll_dup(c, co, items, n, val);
	}
	if (co->parse(c, key, val, item) == -1 ||
	    conf_coll_dup(c, co, items, n, at)) {
		conf_coll_free_item(co, item, key != NULL);
		memset(item, 0, co->size);
		return false;
	}
	return true;
}

static void
conf_coll(struct conf_ctx *c, const struct conf_key *k, const struct node *n,
    void *base)
{
	const struct conf_coll	*co = k->coll;
	bool			 map = k->type == CT_MAP;
	size_t			*np = (size_t *)((char *)base + k->off2);
	char			*items, ex[128];
	size_t			 i, old;

	if (n->kind != (map ? NODE_MAP : NODE_SEQ)) {
		conf_err(c, n, "expected a %s of %s, got %s", map ? "mapping" :
		    "sequence", co->what, conf_a(n));
		return;
	}
	if (n->n < co->min || n->n > co->max) {
		if (co->min > 0)
			conf_err(c, n, "needs %zu to %zu %s", co->min, co->max,
			    co->many);
		else
			conf_err(c, n, "at most %zu %s", co->max, co->many);
		return;
	}
	items = bw_calloc(n->n + 1, co->size);
	*(char **)((char *)base + k->off) = items;
	for (i = 0; i < n->n; i++) {
		if (map)
			old = conf_path_push(c, ".%s", conf_ex(n->keys[i]->text,
			    ex, sizeof(ex)));
		else
			old = conf_path_push(c, "[%zu]", i);
		if (conf_coll_item(c, co, items, *np, map ? n->keys[i] : NULL,
		    n->vals[i])) {
			(*np)++;
			if (co->added != NULL)
				co->added(c, n->vals[i], base, *np - 1);
		}
		conf_path_pop(c, old);
	}
	if (co->check != NULL)
		co->check(c, n, base);
}

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
		case CT_SEQ:
		case CT_MAP:
			v = *(char ***)f;
			n = *(size_t *)((char *)base + k->off2);
			for (j = 0; j < n; j++)
				conf_coll_free_item(k->coll, (char *)v +
				    j * k->coll->size, k->type == CT_MAP);
			free(v);
			*(char ***)f = NULL;
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

/* A table as one flow mapping: {key: value, ...}. */
static void
conf_dump_flow(FILE *fp, const struct conf_table *t, const void *base)
{
	size_t	i;

	fputc('{', fp);
	for (i = 0; i < t->nkeys; i++) {
		fprintf(fp, "%s%s: ", i ? ", " : "", t->keys[i].name);
		conf_dump_scalar(fp, &t->keys[i], base);
	}
	fputc('}', fp);
}

static void
conf_dump_coll(struct conf_out *o, const struct conf_key *k, const void *base)
{
	const struct conf_coll	*co = k->coll;
	const char		*items = *(char *const *)((const char *)base +
				    k->off), *item;
	size_t			 n = *(const size_t *)((const char *)base +
				    k->off2), i;
	bool			 map = k->type == CT_MAP;

	conf_dump_key(o, k->name);
	if (co->item == NULL && !co->block) {
		fputs(map ? " {" : " [", o->fp);
		for (i = 0; i < n; i++) {
			fputs(i ? ", " : "", o->fp);
			if (map) {
				conf_dump_str(o->fp, *(char *const *)(items +
				    i * co->size));
				fputs(": ", o->fp);
			}
			co->dump(o->fp, items + i * co->size);
		}
		fputs(map ? "}\n" : "]\n", o->fp);
		return;
	}
	fputs(n > 0 ? "\n" : map ? " {}\n" : " []\n", o->fp);
	for (i = 0; i < n; i++) {
		item = items + i * co->size;
		if (!map) {
			o->indent += 4;
			conf_dump_map_at(o, co->item, item, true);
			o->indent -= 4;
			continue;
		}
		fprintf(o->fp, "%*s", o->indent + 2, "");
		if (co->plain_names)
			fputs(*(char *const *)item, o->fp);
		else
			conf_dump_str(o->fp, *(char *const *)item);
		fputs(": ", o->fp);
		if (co->item != NULL)
			conf_dump_flow(o->fp, co->item, item);
		else
			co->dump(o->fp, item);
		fputc('\n', o->fp);
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
		if (item && i == 0 && k->type < CT_SECTION) {
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
		case CT_SEQ:
		case CT_MAP:
			conf_dump_coll(o, k, base);
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

void
conf_dump(const struct conf *cf, FILE *fp)
{
	struct conf_out	o;

	o.fp = fp;
	o.indent = 0;
	fputs("# effective configuration of ", fp);
	fputs(cf->file, fp);
	fputs(" (defaults filled in)\n", fp);
	conf_dump_map_at(&o, &conf_root_table, cf, false);
}

/* The type of a key as bulwark.yaml(5) writes it after its name. */
static void
conf_man_type(const struct conf_key *k, char *buf, size_t bufsz)
{
	static const char *const types[] = {
		[CT_BOOL] = "Ar boolean", [CT_INT] = "Ar integer",
		[CT_U32] = "Ar integer", [CT_DURATION] = "Ar duration",
		[CT_SIZE] = "Ar size", [CT_STRING] = "Ar string",
		[CT_PATH] = "Ar path", [CT_STRLIST] = "Ar sequence of strings",
		[CT_RATE] = "Ar rate limit", [CT_SECTION] = "Ar mapping",
		[CT_OPTSECTION] = "Ar mapping", [CT_MAP] = "Ar mapping",
	};
	size_t	o, i;

	if (k->man != NULL || k->type == CT_CUSTOM) {
		(void)snprintf(buf, bufsz, "%s", k->man != NULL ? k->man : "?");
		return;
	}
	if (k->type == CT_ENUM || k->type == CT_ENUMSTR) {
		o = (size_t)snprintf(buf, bufsz, "Li");
		for (i = 0; k->names[i] != NULL && o < bufsz; i++)
			o += (size_t)snprintf(buf + o, bufsz - o, "%s %s",
			    i ? " |" : "", k->names[i]);
		return;
	}
	if (k->type == CT_SEQ)
		o = (size_t)snprintf(buf, bufsz, "%s", k->coll->item != NULL ?
		    "Ar sequence" : "Ar sequence of strings");
	else if (k->type == CT_STRLIST && (k->flags & (F_SECRET | F_FILE)))
		o = (size_t)snprintf(buf, bufsz, "Ar sequence of paths");
	else
		o = (size_t)snprintf(buf, bufsz, "%s", types[k->type]);
	if (((k->flags & F_NULL) || k->type == CT_RATE) && o < bufsz)
		(void)snprintf(buf + o, bufsz - o, " | Li null");
}

static const struct conf_table *
conf_walk_sub(const struct conf_key *k)
{
	return k->coll != NULL ? k->coll->item : k->sub;
}

/* The first key (depth first) whose sub-table is sub. */
static const struct conf_key *
conf_walk_first(const struct conf_table *t, const struct conf_table *sub)
{
	const struct conf_table	*s;
	const struct conf_key	*k;
	size_t			 i;

	for (i = 0; i < t->nkeys; i++) {
		if ((s = conf_walk_sub(&t->keys[i])) == sub)
			return &t->keys[i];
		if (s != NULL && (k = conf_walk_first(s, sub)) != NULL)
			return k;
	}
	return NULL;
}

/*
 * A table shared by several keys (a rate limit) is listed under its first
 * key only, where the manual documents it.
 */
static void
conf_walk_table(const struct conf_table *t, const char *prefix,
    void (*cb)(const struct conf_keydoc *, void *), void *arg)
{
	const struct conf_key	*k;
	struct conf_keydoc	 d;
	char			 path[256], type[128];
	size_t			 i;

	for (i = 0; i < t->nkeys; i++) {
		k = &t->keys[i];
		(void)snprintf(path, sizeof(path), "%s%s%s", prefix,
		    prefix[0] ? "." : "", k->name);
		conf_man_type(k, type, sizeof(type));
		d.path = path;
		d.type = type;
		d.def = k->def;
		d.required = (k->flags & F_REQ) != 0;
		cb(&d, arg);
		if (conf_walk_sub(k) == NULL ||
		    conf_walk_first(&conf_root_table, conf_walk_sub(k)) != k)
			continue;
		(void)snprintf(path, sizeof(path), "%s%s%s%s", prefix,
		    prefix[0] ? "." : "", k->name, k->type == CT_SEQ ? "[]" :
		    k->type == CT_MAP ? ".NAME" : "");
		conf_walk_table(conf_walk_sub(k), path, cb, arg);
	}
}

void
conf_keys_walk(void (*cb)(const struct conf_keydoc *, void *), void *arg)
{
	conf_walk_table(&conf_root_table, "", cb, arg);
}

