/*
 * schema.c - JSON Schema subset of SPEC 6: compile at load, validate fast.
 *
 * This file owns a schema set (its arena, its documents, its PCRE2 match
 * block) and the public entry points of schema.h; the work is done by
 * schema_compile.c, schema_validate.c and schema_format.c over the
 * compiled form of schema_int.h.
 *
 * Compilation copies the source tree into the set's arena (resolving YAML
 * plain scalars to JSON types on the way), then turns every subschema into
 * a struct sch: a type mask, optional blocks for numbers, strings, arrays,
 * objects and applicators, and direct pointers to the subschemas it
 * applies.  $ref targets are resolved into pointers too, so validation
 * never reads the source again.  Object members are found through a small
 * open-addressing table of the names a subschema mentions (properties,
 * required, dependent*), so an object costs one hash per member.
 *
 * Threat model for validation: instances are attacker-chosen bodies and
 * parameters.  Work is bounded by the instance size times the subschemas
 * applied without progress (SCHEMA_NEST_MAX, checked at load; cycles
 * without progress are load errors) and a hard recursion guard.  Patterns
 * run under PCRE2 match and depth limits.  uniqueItems on long arrays sorts
 * hashes instead of comparing all pairs.  Error messages are fixed text;
 * the only input they carry is the RFC 6901 pointer, bounded in length.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonw.h"
#include "log.h"
#include "schema_int.h"

void *
schema_sa_alloc(struct schema_set *set, size_t sz)
{
	struct arena_blk	*b = set->arena;
	size_t			 cap;
	void			*p;

	sz = (sz + sizeof(max_align_t) - 1) & ~(sizeof(max_align_t) - 1);
	if (sz == 0)
		sz = sizeof(max_align_t);
	if (b == NULL || b->cap - b->used < sz) {
		cap = sz > ARENA_BLOCK ? sz : ARENA_BLOCK;
		b = bw_malloc(sizeof(*b) + cap);
		b->used = 0;
		b->cap = cap;
		b->next = set->arena;
		set->arena = b;
	}
	p = (char *)b->data + b->used;
	b->used += sz;
	memset(p, 0, sz);
	return p;
}

void *
schema_sa_array(struct schema_set *set, size_t n, size_t sz)
{
	if (sz != 0 && n > SIZE_MAX / sz)
		fatal("schema: allocation overflow (%zu x %zu bytes)", n, sz);
	return schema_sa_alloc(set, n * sz);
}

static char *
schema_sa_strndup(struct schema_set *set, const char *s, size_t len)
{
	char	*p = schema_sa_alloc(set, len + 1);

	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

/* JSON number grammar over a whole scalar. */
static bool
schema_is_number_text(const char *s, size_t len)
{
	struct jnum	n;

	return jnum_parse(&n, s, len) == 0;
}

/*
 * Strict resolution of SPEC 4 for a YAML plain scalar: true/false, null/~,
 * a JSON number lexeme, otherwise a string.
 */
enum node_style
schema_plain_style(const struct node *n)
{
	if (strcmp(n->text, "true") == 0)
		return NODE_TRUE;
	if (strcmp(n->text, "false") == 0)
		return NODE_FALSE;
	if (strcmp(n->text, "null") == 0 || strcmp(n->text, "~") == 0)
		return NODE_NULL;
	if (schema_is_number_text(n->text, n->len))
		return NODE_NUMBER;
	return NODE_STRING;
}

static struct node *
schema_sa_copy(struct schema_set *set, const struct node *n, bool key)
{
	struct node	*c;
	size_t		 i;

	c = schema_sa_alloc(set, sizeof(*c));
	c->kind = n->kind;
	c->style = n->style;
	c->line = n->line;
	c->col = n->col;
	c->n = n->n;
	if (n->kind == NODE_SCALAR) {
		c->text = schema_sa_strndup(set, n->text != NULL ? n->text : "",
		    n->text != NULL ? n->len : 0);
		c->len = n->text != NULL ? n->len : 0;
		if (key)
			c->style = NODE_STRING;
		else if (c->style == NODE_PLAIN)
			c->style = schema_plain_style(c);
		return c;
	}
	c->vals = schema_sa_array(set, n->n, sizeof(*c->vals));
	if (n->kind == NODE_MAP)
		c->keys = schema_sa_array(set, n->n, sizeof(*c->keys));
	for (i = 0; i < n->n; i++) {
		if (n->kind == NODE_MAP)
			c->keys[i] = schema_sa_copy(set, n->keys[i], true);
		c->vals[i] = schema_sa_copy(set, n->vals[i], false);
	}
	return c;
}

bool
schema_format_check(const char *format, const char *s, size_t len)
{
	enum sch_fmt	f = schema_fmt_lookup(format);

	return f != FMT_NONE && schema_fmt_check(f, s, len);
}
struct schema_set *
schema_set_new(void)
{
	struct schema_set	*set;

	set = bw_calloc(1, sizeof(*set));
	set->sch_false = schema_sa_alloc(set, sizeof(struct sch));
	set->sch_false->flags = SCH_FALSE;
	set->sch_false->mark = 2;
	set->sch_true = schema_sa_alloc(set, sizeof(struct sch));
	set->sch_true->mark = 2;
	if (bw_random(&set->seed, sizeof(set->seed)) == -1)
		set->seed = (uint64_t)(uintptr_t)set ^ 0x9e3779b97f4a7c15ULL;
	if ((set->mctx = pcre2_match_context_create(NULL)) == NULL ||
	    (set->mdata = pcre2_match_data_create(1, NULL)) == NULL)
		fatal("schema: out of memory for PCRE2 match data");
	pcre2_set_match_limit(set->mctx, SCHEMA_PCRE_MATCH_LIMIT);
	pcre2_set_depth_limit(set->mctx, SCHEMA_PCRE_DEPTH_LIMIT);
	return set;
}
void
schema_set_free(struct schema_set *set)
{
	struct arena_blk	*b, *next;
	size_t			 i;

	if (set == NULL)
		return;
	for (i = 0; i < set->ncodes; i++)
		pcre2_code_free(set->codes[i]);
	free(set->codes);
	pcre2_match_data_free(set->mdata);
	pcre2_match_context_free(set->mctx);
	for (i = 0; i < set->ndocs; i++)
		free(set->docs[i]);
	free(set->docs);
	free(set->memo);
	free(set->all);
	for (b = set->arena; b != NULL; b = next) {
		next = b->next;
		free(b);
	}
	free(set);
}
static struct sdoc *
schema_set_add_doc(struct schema_set *set, const char *name,
    const struct node *n, const char *file)
{
	struct sdoc	*doc;

	doc = bw_calloc(1, sizeof(*doc));
	doc->name = name != NULL ? schema_sa_strndup(set, name, strlen(name)) :
	    NULL;
	doc->file = file != NULL ? schema_sa_strndup(set, file, strlen(file)) :
	    NULL;
	doc->root = schema_sa_copy(set, n, false);
	set->docs = bw_reallocarray(set->docs, set->ndocs + 1,
	    sizeof(*set->docs));
	set->docs[set->ndocs++] = doc;
	return doc;
}
int
schema_add_named(struct schema_set *set, const char *name,
    const struct node *n, const char *file, struct bw_diag *diag)
{
	if (schema_set_find_doc(set, name, strlen(name)) != NULL) {
		if (diag != NULL)
			bw_diag_add(diag, file != NULL ? file : "<schema>",
			    n->line, n->col, "duplicate schema name");
		return -1;
	}
	schema_set_add_doc(set, name, n, file);
	return 0;
}
int
schema_set_check(struct schema_set *set, struct bw_diag *diag)
{
	size_t	i, n = set->ndocs;
	int	rc = 0;

	for (i = 0; i < n; i++) {
		if (set->docs[i]->name == NULL || set->docs[i]->checked)
			continue;
		set->docs[i]->checked = true;
		if (schema_c_top(set, set->docs[i], SCHEMA_STANDARD,
		    diag) == NULL)
			rc = -1;
	}
	return rc;
}
const struct schema *
schema_named(struct schema_set *set, const char *name, enum schema_mode mode,
    struct bw_diag *diag)
{
	struct sdoc	*doc;

	if ((doc = schema_set_find_doc(set, name, strlen(name))) == NULL) {
		if (diag != NULL)
			bw_diag_add(diag, "<schema>", 1, 1,
			    "unknown schema name");
		return NULL;
	}
	return schema_c_top(set, doc, mode, diag);
}
const struct schema *
schema_compile(struct schema_set *set, const struct node *n,
    enum schema_mode mode, const char *file, struct bw_diag *diag)
{
	struct sdoc	*doc;
	char		 buf[64];

	if (n->kind == NODE_SCALAR && schema_node_type(n) != T_BOOL) {
		if ((doc = schema_set_find_doc(set, n->text, n->len)) == NULL) {
			if (diag != NULL)
				bw_diag_add(diag, file != NULL ? file :
				    "<schema>", n->line, n->col,
				    "unknown schema \"%s\"",
				    schema_excerpt(n->text, n->len, buf,
				    sizeof(buf)));
			return NULL;
		}
		return schema_c_top(set, doc, mode, diag);
	}
	doc = schema_set_add_doc(set, NULL, n, file);
	return schema_c_top(set, doc, mode, diag);
}
const struct node *
schema_default(const struct schema *sc)
{
	return sc->root->def;
}
int
schema_validate(const struct schema *sc, struct node *in, int flags,
    struct schema_errors *out)
{
	struct vctx	v;

	schema_v_init(&v, sc, flags, out);
	schema_v_nul(&v, in);
	if (v.nul)
		return -1;
	return schema_v_sch(&v, sc->root, in) ? 0 : -1;
}
/* Follows a top-level $ref chain to the first subschema with a type. */
static unsigned
schema_param_types(const struct sch *s)
{
	int	i;

	for (i = 0; i <= SCHEMA_NEST_MAX && s != NULL; i++) {
		if (s->types != 0)
			return s->types;
		s = s->app != NULL ? s->app->ref : NULL;
	}
	return 0;
}
static bool
schema_param_integer(const char *s, size_t len)
{
	size_t	i = 0;

	if (len > 0 && s[0] == '-')
		i++;
	if (i == len || (s[i] == '0' && len > i + 1))
		return false;
	for (; i < len; i++)
		if (!bw_is_digit(s[i]))
			return false;
	return true;
}
static struct node *
schema_param_node(enum node_style style, const char *s, size_t len)
{
	struct node	*n;

	n = bw_calloc(1, sizeof(*n));
	n->kind = NODE_SCALAR;
	n->style = style;
	n->text = bw_strndup(s, len);
	n->len = len;
	return n;
}
static struct node *
schema_param_coerce(unsigned types, const char *raw, size_t len)
{
	struct jnum	n;
	char		buf[24];
	int		cl;

	if ((types & T_INTEGER) && schema_param_integer(raw, len) &&
	    jnum_parse(&n, raw, len) == 0 &&
	    (cl = jnum_canonical(&n, buf, sizeof(buf))) >= 0)
		return schema_param_node(NODE_NUMBER, buf, (size_t)cl);
	if ((types & T_NUMBER) && jnum_parse(&n, raw, len) == 0)
		return schema_param_node(NODE_NUMBER, raw, len);
	if ((types & T_BOOL) && len == 4 && memcmp(raw, "true", 4) == 0)
		return schema_param_node(NODE_TRUE, raw, len);
	if ((types & T_BOOL) && len == 5 && memcmp(raw, "false", 5) == 0)
		return schema_param_node(NODE_FALSE, raw, len);
	if ((types == 0 || (types & T_STRING)) && bw_utf8_valid(raw, len))
		return schema_param_node(NODE_STRING, raw, len);
	return NULL;
}
int
schema_coerce_param(const struct schema *sc, const char *name,
    const char *raw, size_t len, struct node **out,
    struct schema_errors *errs)
{
	struct vctx	 v;
	struct node	 key, *n;
	unsigned	 types = schema_param_types(sc->root);
	char		 buf[96];

	*out = NULL;
	memset(&key, 0, sizeof(key));
	key.kind = NODE_SCALAR;
	key.style = NODE_STRING;
	key.text = (char *)name;
	key.len = strlen(name);
	schema_v_init(&v, sc, 0, errs);
	schema_v_push(&v, &key, 0);
	if ((n = schema_param_coerce(types, raw, len)) == NULL) {
		schema_v_err(&v, "must be %s", (types & ~T_STRING) != 0 ?
		    schema_types_text(types, buf, sizeof(buf)) : "valid UTF-8");
		return -1;
	}
	schema_v_nul(&v, n);
	if (v.nul || !schema_v_sch(&v, sc->root, n)) {
		node_free(n);
		return -1;
	}
	*out = n;
	return 0;
}
int
schema_canonical_integer(const char *lexeme, size_t len, char *out,
    size_t outsz)
{
	struct jnum	n;

	if (jnum_parse(&n, lexeme, len) == -1)
		return -1;
	return jnum_canonical(&n, out, outsz);
}
int
schema_number_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	struct jnum	na, nb;

	if (jnum_parse(&na, a, alen) == -1 || jnum_parse(&nb, b, blen) == -1)
		return 1;
	return jnum_cmp(&na, &nb);
}

/*
 * Copies at most 40 bytes of configuration text into a message, escaped
 * by jsonw (bufsz of at least 8); a cut excerpt ends in "...".
 */
const char *
schema_excerpt(const char *s, size_t len, char *buf, size_t bufsz)
{
	size_t	 cut, used, o;

	cut = jsonw_cut(s, len, 40);
	o = jsonw_escape(buf, bufsz - 4, s, cut, &used);
	if (used < len) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o] = '\0';
	return buf;
}
