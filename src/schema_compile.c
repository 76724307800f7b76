/*
 * schema_compile.c - a schema's source tree to its compiled form.
 *
 * One function per keyword (schema_kw_*) fills the blocks of a struct sch;
 * the schema_c_* helpers allocate them, report errors at FILE:LINE:COL and
 * apply the body-mode rules of SPEC 6 (mass assignment).  References are
 * resolved after the walk, then cycles without progress are refused and a
 * failure anywhere marks every schema that applies it.
 *
 * Threat model: schema text comes from the operator's configuration, but
 * is still bounded (nesting SCHEMA_NEST_MAX, $ref chains, member tables
 * sized before they are filled); excerpts of it in messages go through
 * jsonw.  Every subschema is compiled once per mode (a memo keyed by node
 * and mode), so shared or recursive schemas cost no more than their size.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonw.h"
#include "log.h"
#include "schema_int.h"

static struct sch	*schema_c_schema(struct cctx *, const struct node *,
    bool);

static void __attribute__((format(printf, 3, 4)))
schema_c_err(struct cctx *c, const struct node *at, const char *fmt, ...)
{
	char	msg[256];
	va_list	ap;

	c->errors++;
	if (c->diag == NULL)
		return;
	va_start(ap, fmt);
	bw_vformat(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	bw_diag_add(c->diag, c->doc->file != NULL ? c->doc->file : "<schema>",
	    at->line, at->col, "%s", msg);
}

static struct sch *
schema_memo_get(struct schema_set *set, const struct node *n, unsigned key)
{
	size_t	i;

	if (set->memocap == 0)
		return NULL;
	i = (((uintptr_t)n >> 4) * 31 + key) & (set->memocap - 1);
	for (; set->memo[i].node != NULL; i = (i + 1) & (set->memocap - 1))
		if (set->memo[i].node == n && set->memo[i].key == key)
			return set->memo[i].s;
	return NULL;
}

/*
 * Inserts into a table that has a free slot (schema_memo_put keeps it half
 * full).
 */
static void
schema_memo_insert(struct schema_set *set, const struct node *n, unsigned key,
    struct sch *s)
{
	size_t	i;

	i = (((uintptr_t)n >> 4) * 31 + key) & (set->memocap - 1);
	while (set->memo[i].node != NULL)
		i = (i + 1) & (set->memocap - 1);
	set->memo[i].node = n;
	set->memo[i].key = key;
	set->memo[i].s = s;
	set->memon++;
}

static void
schema_memo_put(struct schema_set *set, const struct node *n, unsigned key,
    struct sch *s)
{
	struct memo_ent	*old = set->memo;
	size_t		 oldcap = set->memocap, j;

	if ((set->memon + 1) * 2 > set->memocap) {
		set->memocap = oldcap == 0 ? 64 : oldcap * 2;
		set->memo = bw_calloc(set->memocap, sizeof(*set->memo));
		set->memon = 0;
		for (j = 0; j < oldcap; j++)
			if (old[j].node != NULL)
				schema_memo_insert(set, old[j].node, old[j].key,
				    old[j].s);
		free(old);
	}
	schema_memo_insert(set, n, key, s);
}

static struct sch *
schema_sch_new(struct cctx *c, const struct node *src)
{
	struct schema_set	*set = c->set;
	struct sch		*s;

	s = schema_sa_alloc(set, sizeof(*s));
	s->src = src;
	s->file = c->doc->file;
	if (set->nall == set->capall) {
		set->capall = set->capall == 0 ? 64 : set->capall * 2;
		set->all = bw_reallocarray(set->all, set->capall,
		    sizeof(*set->all));
	}
	set->all[set->nall++] = s;
	return s;
}

static bool
schema_v_is(const struct node *v, unsigned t)
{
	return v->kind == NODE_SCALAR ? (schema_node_type(v) & t) != 0 :
	    (v->kind == NODE_MAP ? T_OBJECT : T_ARRAY) & t;
}

/* A non-negative integer keyword value; huge values saturate. */
static int
schema_c_count(struct cctx *c, const struct node *v, const char *kw,
    uint64_t *out)
{
	struct jnum	n;
	char		buf[32];

	if (!schema_v_is(v, T_NUMBER) || jnum_parse(&n, v->text,
	    v->len) == -1 || !jnum_is_integer(&n) || n.neg) {
		schema_c_err(c, v, "%s must be a non-negative integer", kw);
		return -1;
	}
	if (jnum_canonical(&n, buf, sizeof(buf)) == -1)
		*out = UINT64_MAX;
	else
		*out = strtoull(buf, NULL, 10);
	return 0;
}

static pcre2_code *
schema_c_regex(struct cctx *c, const struct node *v)
{
	pcre2_code	*re;
	PCRE2_UCHAR	 msg[128];
	PCRE2_SIZE	 off;
	int		 code;
	struct schema_set *set = c->set;

	if (!schema_v_is(v, T_STRING)) {
		schema_c_err(c, v, "pattern must be a string");
		return NULL;
	}
	re = pcre2_compile((PCRE2_SPTR)v->text, v->len, PCRE2_UTF |
	    PCRE2_DOLLAR_ENDONLY | PCRE2_ALT_BSUX | PCRE2_NEVER_UCP |
	    PCRE2_NEVER_BACKSLASH_C, &code, &off, NULL);
	if (re == NULL) {
		pcre2_get_error_message(code, msg, sizeof(msg));
		schema_c_err(c, v, "invalid pattern at offset %zu: %s",
		    (size_t)off, (const char *)msg);
		return NULL;
	}
	set->codes = bw_reallocarray(set->codes, set->ncodes + 1,
	    sizeof(*set->codes));
	set->codes[set->ncodes++] = re;
	return re;
}

static struct sch_num *
schema_c_num(struct cctx *c, struct sch *s)
{
	if (s->num == NULL)
		s->num = schema_sa_alloc(c->set, sizeof(*s->num));
	return s->num;
}

static struct sch_str *
schema_c_str(struct cctx *c, struct sch *s)
{
	if (s->str == NULL) {
		s->str = schema_sa_alloc(c->set, sizeof(*s->str));
		s->str->maxl = UINT64_MAX;
	}
	return s->str;
}

static struct sch_arr *
schema_c_arr(struct cctx *c, struct sch *s)
{
	if (s->arr == NULL) {
		s->arr = schema_sa_alloc(c->set, sizeof(*s->arr));
		s->arr->maxi = UINT64_MAX;
		s->arr->minc = 1;
		s->arr->maxc = UINT64_MAX;
	}
	return s->arr;
}

static struct sch_app *
schema_c_app(struct cctx *c, struct sch *s)
{
	if (s->app == NULL)
		s->app = schema_sa_alloc(c->set, sizeof(*s->app));
	return s->app;
}

static uint32_t
schema_name_hash(const char *s, size_t len)
{
	return (uint32_t)schema_hash_bytes(0xcbf29ce484222325ULL, s, len);
}

int64_t
schema_obj_lookup(const struct sch_obj *o, const char *s, size_t len)
{
	uint32_t		 i, e;
	const struct sch_name	*nm;

	if (o->table == NULL)
		return -1;
	for (i = schema_name_hash(s, len) & o->mask; (e = o->table[i]) != 0;
	    i = (i + 1) & o->mask) {
		nm = &o->names[e - 1];
		if (nm->len == len && memcmp(nm->name, s, len) == 0)
			return e - 1;
	}
	return -1;
}

/* Counts the names a subschema may mention, to size its table once. */
static size_t
schema_c_obj_capacity(const struct node *m)
{
	static const char *const kws[] = { "properties", "required",
	    "dependentRequired", "dependentSchemas" };
	const struct node	*v;
	size_t			 i, j, n = 0;

	for (i = 0; i < BW_ARRAY_LEN(kws); i++) {
		if ((v = node_get(m, kws[i])) == NULL || v->kind == NODE_SCALAR)
			continue;
		n += v->n;
		if (i == 2 && v->kind == NODE_MAP)
			for (j = 0; j < v->n; j++)
				if (v->vals[j]->kind == NODE_SEQ)
					n += v->vals[j]->n;
	}
	return n;
}

static struct sch_obj *
schema_c_obj(struct cctx *c, struct sch *s)
{
	struct sch_obj	*o;
	size_t		 cap, tsz = 4;

	if (s->obj != NULL)
		return s->obj;
	o = s->obj = schema_sa_alloc(c->set, sizeof(*s->obj));
	o->maxp = UINT64_MAX;
	cap = schema_c_obj_capacity(s->src);
	if (cap > 0) {
		while (tsz < cap * 2)
			tsz *= 2;
		o->names = schema_sa_array(c->set, cap, sizeof(*o->names));
		o->capnames = cap;
		o->table = schema_sa_array(c->set, tsz, sizeof(*o->table));
		o->mask = (uint32_t)tsz - 1;
	}
	return o;
}

static struct sch_name *
schema_c_name(struct cctx *c, struct sch *s, const struct node *k)
{
	struct sch_obj	*o = schema_c_obj(c, s);
	struct sch_name	*nm;
	int64_t		 idx;
	uint32_t	 i;

	if ((idx = schema_obj_lookup(o, k->text, k->len)) >= 0)
		return &o->names[idx];
	if (o->nnames == o->capnames)
		fatal("schema: member table of %zu names full", o->capnames);
	nm = &o->names[o->nnames++];
	nm->name = k->text;
	nm->len = k->len;
	for (i = schema_name_hash(k->text, k->len) & o->mask; o->table[i] != 0;
	    i = (i + 1) & o->mask)
		;
	o->table[i] = (uint32_t)o->nnames;
	return nm;
}

/* A list of unique strings (required, dependentRequired). */
static int
schema_c_string_list(struct cctx *c, const struct node *v, const char *kw)
{
	size_t	i, j;

	if (v->kind != NODE_SEQ) {
		schema_c_err(c, v, "%s must be an array of strings", kw);
		return -1;
	}
	for (i = 0; i < v->n; i++) {
		if (!schema_v_is(v->vals[i], T_STRING)) {
			schema_c_err(c, v->vals[i], "%s must hold strings", kw);
			return -1;
		}
		for (j = 0; j < i; j++)
			if (schema_json_equal(v->vals[i], v->vals[j])) {
				schema_c_err(c, v->vals[i],
				    "%s: duplicate name", kw);
				return -1;
			}
	}
	return 0;
}

static struct sch **
schema_c_schema_list(struct cctx *c, const struct node *v, const char *kw,
    size_t *n, bool exempt)
{
	struct sch	**list;
	size_t		  i;

	if (v->kind != NODE_SEQ || v->n == 0) {
		schema_c_err(c, v, "%s must be a non-empty array of schemas",
		    kw);
		return NULL;
	}
	list = schema_sa_array(c->set, v->n, sizeof(*list));
	for (i = 0; i < v->n; i++)
		list[i] = schema_c_schema(c, v->vals[i], exempt);
	*n = v->n;
	return list;
}

/* Keyword handlers: (context, subschema, key node, value node). */
typedef void	(*schema_kw_fn)(struct cctx *, struct sch *,
    const struct node *, const struct node *);

static void
schema_kw_schema_uri(struct cctx *c, struct sch *s, const struct node *k,
    const struct node *v)
{
	(void)s;
	(void)k;
	if (!schema_v_is(v, T_STRING) || strcmp(v->text, SCHEMA_URI_2020) != 0)
		schema_c_err(c, v, "$schema must be \"%s\"", SCHEMA_URI_2020);
}

static void
schema_kw_string_annot(struct cctx *c, struct sch *s, const struct node *k,
    const struct node *v)
{
	(void)s;
	if (!schema_v_is(v, T_STRING))
		schema_c_err(c, v, "%s must be a string", k->text);
}

static void
schema_kw_bool_annot(struct cctx *c, struct sch *s, const struct node *k,
    const struct node *v)
{
	(void)s;
	if (!schema_v_is(v, T_BOOL))
		schema_c_err(c, v, "%s must be a boolean", k->text);
}

static void
schema_kw_examples(struct cctx *c, struct sch *s, const struct node *k,
    const struct node *v)
{
	(void)s;
	(void)k;
	if (v->kind != NODE_SEQ)
		schema_c_err(c, v, "examples must be an array");
}

static void
schema_kw_default(struct cctx *c, struct sch *s, const struct node *k,
    const struct node *v)
{
	(void)c;
	(void)k;
	s->def = v;
}

static void
schema_kw_defs(struct cctx *c, struct sch *s, const struct node *k,
    const struct node *v)
{
	size_t	i;

	(void)s;
	(void)k;
	if (v->kind != NODE_MAP) {
		schema_c_err(c, v, "$defs must be an object");
		return;
	}
	for (i = 0; i < v->n; i++)
		schema_c_schema(c, v->vals[i], false);
}

static void
schema_kw_ref(struct cctx *c, struct sch *s, const struct node *k,
    const struct node *v)
{
	struct pending	*p;

	(void)k;
	if (!schema_v_is(v, T_STRING)) {
		schema_c_err(c, v, "$ref must be a string");
		return;
	}
	schema_c_app(c, s)->refsrc = v;
	if (c->npend == c->cappend) {
		c->cappend = c->cappend == 0 ? 16 : c->cappend * 2;
		c->pend = bw_reallocarray(c->pend, c->cappend,
		    sizeof(*c->pend));
	}
	p = &c->pend[c->npend++];
	p->from = s;
	p->ref = v;
	p->doc = c->doc;
	p->key = c->key;
}

static const char *const schema_type_names[] = { "null", "boolean", "object",
    "array", "number", "string", "integer" };

static int
schema_c_type_one(struct cctx *c, const struct node *v, unsigned *mask)
{
	size_t	i;

	if (schema_v_is(v, T_STRING))
		for (i = 0; i < BW_ARRAY_LEN(schema_type_names); i++)
			if (strcmp(v->text, schema_type_names[i]) == 0) {
				if (*mask & (1u << i)) {
					schema_c_err(c, v,
					    "type: duplicate name");
					return -1;
				}
				*mask |= 1u << i;
				return 0;
			}
	schema_c_err(c, v, "type must be one of null, boolean, object, array, "
	    "number, string, integer");
	return -1;
}

static void
schema_kw_type(struct cctx *c, struct sch *s, const struct node *k,
    const struct node *v)
{
	unsigned	mask = 0;
	size_t		i;

	(void)k;
	if (v->kind == NODE_SEQ) {
		if (v->n == 0)
			schema_c_err(c, v, "type must not be an empty array");
		for (i = 0; i < v->n; i++)
			if (schema_c_type_one(c, v->vals[i], &mask) == -1)
				return;
	} else if (schema_c_type_one(c, v, &mask) == -1)
		return;
	s->types = mask;
}

static void
schema_kw_enum(struct cctx *c, struct sch *s, const struct node *k,
    const struct node *v)
{
	(void)k;
	if (v->kind != NODE_SEQ) {
		schema_c_err(c, v, "enum must be an array");
		return;
	}
	s->flags |= SCH_ENUM;
	s->enumv = v->vals;
	s->nenum = v->n;
}

static void
schema_kw_const(struct cctx *c, struct sch *s, const struct node *k,
    const struct node *v)
{
	(void)c;
	(void)k;
	s->flags |= SCH_CONST;
	s->constv = v;
}

static void
schema_kw_bound(struct cctx *c, struct sch *s, const struct node *k,
    const struct node *v)
{
	struct sch_num	*num = schema_c_num(c, s);
	struct jnum	 n;

	if (!schema_v_is(v, T_NUMBER) || jnum_parse(&n, v->text,
	    v->len) == -1) {
		schema_c_err(c, v, "%s must be a number", k->text);
		return;
	}
	if (strcmp(k->text, "minimum") == 0) {
		num->has |= NUM_MIN;
		num->min = n;
		num->min_s = v->text;
	} else if (strcmp(k->text, "maximum") == 0) {
		num->has |= NUM_MAX;
		num->max = n;
		num->max_s = v->text;
	} else if (strcmp(k->text, "exclusiveMinimum") == 0) {
		num->has |= NUM_XMIN;
		num->xmin = n;
		num->xmin_s = v->text;
	} else {
		num->has |= NUM_XMAX;
		num->xmax = n;
		num->xmax_s = v->text;
	}
}

static void
schema_kw_multiple(struct cctx *c, struct sch *s, const struct node *k,
    const struct node *v)
{
	struct sch_num	*num = schema_c_num(c, s);
	struct jnum	 n;

	(void)k;
	if (!schema_v_is(v, T_NUMBER) || jnum_parse(&n, v->text,
	    v->len) == -1 || n.neg || n.nd == 0) {
		schema_c_err(c, v,
		    "multipleOf must be a number greater than 0");
		return;
	}
	if (jnum_divisor(&n, &num->dm, &num->em) == -1) {
		schema_c_err(c, v,
		    "multipleOf: more than %d significant digits",
		    JNUM_MULTIPLE_DIGITS);
		return;
	}
	num->has |= NUM_MULT;
	num->mult_s = v->text;
}

static void
schema_kw_length(struct cctx *c, struct sch *s, const struct node *k,
    const struct node *v)
{
	uint64_t	x;

	if (schema_c_count(c, v, k->text, &x) == -1)
		return;
	if (strcmp(k->text, "minLength") == 0)
		schema_c_str(c, s)->minl = x;
	else
		schema_c_str(c, s)->maxl = x;
}

static void
schema_kw_pattern(struct cctx *c, struct sch *s, const struct node *k,
    const struct node *v)
{
	(void)k;
	schema_c_str(c, s)->re = schema_c_regex(c, v);
}

static void
schema_kw_format(struct cctx *c, struct sch *s, const struct node *k,
    const struct node *v)
{
	enum sch_fmt	f = FMT_NONE;
	char		buf[64];

	(void)k;
	if (schema_v_is(v, T_STRING))
		f = schema_fmt_lookup(v->text);
	if (f == FMT_NONE) {
		schema_c_err(c, v,
		    "unsupported format \"%s\" (date-time, date, email, uuid, "
		    "ipv4, ipv6, uri)", v->kind == NODE_SCALAR ?
		    schema_excerpt(v->text, v->len, buf, sizeof(buf)) : "");
		return;
	}
	schema_c_str(c, s)->fmt = f;
}

static void
schema_kw_items_count(struct cctx *c, struct sch *s, const struct node *k,
    const struct node *v)
{
	struct sch_arr	*a = schema_c_arr(c, s);
	uint64_t	 x;

	if (schema_c_count(c, v, k->text, &x) == -1)
		return;
	if (strcmp(k->text, "minItems") == 0)
		a->mini = x;
	else if (strcmp(k->text, "maxItems") == 0)
		a->maxi = x;
	else if (strcmp(k->text, "minContains") == 0)
		a->minc = x;
	else
		a->maxc = x;
}

static void
schema_kw_unique(struct cctx *c, struct sch *s, const struct node *k,
    const struct node *v)
{
	(void)k;
	if (!schema_v_is(v, T_BOOL)) {
		schema_c_err(c, v, "uniqueItems must be a boolean");
		return;
	}
	schema_c_arr(c, s)->unique = schema_node_true(v);
}

static void
schema_kw_items(struct cctx *c, struct sch *s, const struct node *k,
    const struct node *v)
{
	(void)k;
	schema_c_arr(c, s)->items = schema_c_schema(c, v, false);
}

static void
schema_kw_prefix(struct cctx *c, struct sch *s, const struct node *k,
    const struct node *v)
{
	struct sch_arr	*a = schema_c_arr(c, s);

	(void)k;
	a->prefix = schema_c_schema_list(c, v, "prefixItems", &a->nprefix,
	    false);
}

static void
schema_kw_contains(struct cctx *c, struct sch *s, const struct node *k,
    const struct node *v)
{
	(void)k;
	schema_c_arr(c, s)->contains = schema_c_schema(c, v, false);
}

static void
schema_kw_props_count(struct cctx *c, struct sch *s, const struct node *k,
    const struct node *v)
{
	struct sch_obj	*o = schema_c_obj(c, s);
	uint64_t	 x;

	if (schema_c_count(c, v, k->text, &x) == -1)
		return;
	if (strcmp(k->text, "minProperties") == 0)
		o->minp = x;
	else
		o->maxp = x;
}

static void
schema_kw_properties(struct cctx *c, struct sch *s, const struct node *k,
    const struct node *v)
{
	size_t	i;

	(void)k;
	if (v->kind != NODE_MAP) {
		schema_c_err(c, v, "properties must be an object");
		return;
	}
	for (i = 0; i < v->n; i++)
		schema_c_name(c, s, v->keys[i])->prop = schema_c_schema(c,
		    v->vals[i], false);
}

static void
schema_kw_required(struct cctx *c, struct sch *s, const struct node *k,
    const struct node *v)
{
	struct sch_obj	*o;
	size_t		 i;

	(void)k;
	if (schema_c_string_list(c, v, "required") == -1)
		return;
	o = schema_c_obj(c, s);
	o->required = schema_sa_array(c->set, v->n, sizeof(*o->required));
	for (i = 0; i < v->n; i++) {
		schema_c_name(c, s, v->vals[i])->required = true;
		o->required[o->nrequired++] = (uint32_t)schema_obj_lookup(o,
		    v->vals[i]->text, v->vals[i]->len);
	}
}

static void
schema_kw_dep_required(struct cctx *c, struct sch *s, const struct node *k,
    const struct node *v)
{
	struct sch_name	*nm;
	const struct node *list;
	size_t		 i, j;

	(void)k;
	if (v->kind != NODE_MAP) {
		schema_c_err(c, v, "dependentRequired must be an object");
		return;
	}
	for (i = 0; i < v->n; i++) {
		list = v->vals[i];
		if (schema_c_string_list(c, list, "dependentRequired") == -1)
			continue;
		nm = schema_c_name(c, s, v->keys[i]);
		nm->depreq = schema_sa_array(c->set, list->n,
		    sizeof(*nm->depreq));
		for (j = 0; j < list->n; j++) {
			schema_c_name(c, s, list->vals[j]);
			nm = schema_c_name(c, s, v->keys[i]);
			nm->depreq[nm->ndepreq++] =
			    (uint32_t)schema_obj_lookup(s->obj,
			    list->vals[j]->text, list->vals[j]->len);
		}
		s->obj->deps = true;
	}
}

static void
schema_kw_dep_schemas(struct cctx *c, struct sch *s, const struct node *k,
    const struct node *v)
{
	size_t	i;

	(void)k;
	if (v->kind != NODE_MAP) {
		schema_c_err(c, v, "dependentSchemas must be an object");
		return;
	}
	for (i = 0; i < v->n; i++) {
		schema_c_name(c, s, v->keys[i])->depschema = schema_c_schema(c,
		    v->vals[i], true);
		s->obj->deps = true;
	}
}

static void
schema_kw_pattern_props(struct cctx *c, struct sch *s, const struct node *k,
    const struct node *v)
{
	struct sch_obj	*o;
	size_t		 i;

	(void)k;
	if (v->kind != NODE_MAP) {
		schema_c_err(c, v, "patternProperties must be an object");
		return;
	}
	o = schema_c_obj(c, s);
	o->pats = schema_sa_array(c->set, v->n, sizeof(*o->pats));
	for (i = 0; i < v->n; i++) {
		o->pats[i].re = schema_c_regex(c, v->keys[i]);
		o->pats[i].s = schema_c_schema(c, v->vals[i], false);
	}
	o->npats = v->n;
}

static void
schema_kw_additional(struct cctx *c, struct sch *s, const struct node *k,
    const struct node *v)
{
	(void)k;
	schema_c_obj(c, s)->additional = schema_c_schema(c, v, false);
}

static void
schema_kw_prop_names(struct cctx *c, struct sch *s, const struct node *k,
    const struct node *v)
{
	(void)k;
	schema_c_obj(c, s)->propnames = schema_c_schema(c, v, false);
}

static void
schema_kw_combinator(struct cctx *c, struct sch *s, const struct node *k,
    const struct node *v)
{
	struct sch_app	*a = schema_c_app(c, s);

	if (strcmp(k->text, "allOf") == 0)
		a->all = schema_c_schema_list(c, v, "allOf", &a->nall, true);
	else if (strcmp(k->text, "anyOf") == 0)
		a->any = schema_c_schema_list(c, v, "anyOf", &a->nany, true);
	else
		a->one = schema_c_schema_list(c, v, "oneOf", &a->none, true);
}

static void
schema_kw_single(struct cctx *c, struct sch *s, const struct node *k,
    const struct node *v)
{
	struct sch_app	*a = schema_c_app(c, s);
	struct sch	*sub = schema_c_schema(c, v, true);

	if (strcmp(k->text, "not") == 0)
		a->not = sub;
	else if (strcmp(k->text, "if") == 0)
		a->if_ = sub;
	else if (strcmp(k->text, "then") == 0)
		a->then_ = sub;
	else
		a->else_ = sub;
}

/*
 * The keyword table: exactly the subset of SPEC 6.  "annot" marks keywords
 * that do not count as siblings of $ref for the body-mode rule; "comb"
 * marks those next to which a body schema must state additionalProperties.
 */
static const struct schema_kw_def {
	const char	*name;
	schema_kw_fn		 fn;
	bool		 annot;
	bool		 comb;
} schema_kw_table[] = {
	{ "$schema", schema_kw_schema_uri, true, false },
	{ "$comment", schema_kw_string_annot, true, false },
	{ "$defs", schema_kw_defs, true, false },
	{ "$ref", schema_kw_ref, true, false },
	{ "title", schema_kw_string_annot, true, false },
	{ "description", schema_kw_string_annot, true, false },
	{ "default", schema_kw_default, true, false },
	{ "examples", schema_kw_examples, true, false },
	{ "deprecated", schema_kw_bool_annot, true, false },
	{ "readOnly", schema_kw_bool_annot, true, false },
	{ "writeOnly", schema_kw_bool_annot, true, false },
	{ "type", schema_kw_type, false, false },
	{ "enum", schema_kw_enum, false, false },
	{ "const", schema_kw_const, false, false },
	{ "minimum", schema_kw_bound, false, false },
	{ "maximum", schema_kw_bound, false, false },
	{ "exclusiveMinimum", schema_kw_bound, false, false },
	{ "exclusiveMaximum", schema_kw_bound, false, false },
	{ "multipleOf", schema_kw_multiple, false, false },
	{ "minLength", schema_kw_length, false, false },
	{ "maxLength", schema_kw_length, false, false },
	{ "pattern", schema_kw_pattern, false, false },
	{ "format", schema_kw_format, false, false },
	{ "items", schema_kw_items, false, false },
	{ "prefixItems", schema_kw_prefix, false, false },
	{ "contains", schema_kw_contains, false, false },
	{ "minContains", schema_kw_items_count, false, false },
	{ "maxContains", schema_kw_items_count, false, false },
	{ "minItems", schema_kw_items_count, false, false },
	{ "maxItems", schema_kw_items_count, false, false },
	{ "uniqueItems", schema_kw_unique, false, false },
	{ "properties", schema_kw_properties, false, false },
	{ "required", schema_kw_required, false, false },
	{ "additionalProperties", schema_kw_additional, false, false },
	{ "patternProperties", schema_kw_pattern_props, false, false },
	{ "propertyNames", schema_kw_prop_names, false, false },
	{ "minProperties", schema_kw_props_count, false, false },
	{ "maxProperties", schema_kw_props_count, false, false },
	{ "dependentRequired", schema_kw_dep_required, false, false },
	{ "dependentSchemas", schema_kw_dep_schemas, false, true },
	{ "allOf", schema_kw_combinator, false, true },
	{ "anyOf", schema_kw_combinator, false, true },
	{ "oneOf", schema_kw_combinator, false, true },
	{ "not", schema_kw_single, false, true },
	{ "if", schema_kw_single, false, true },
	{ "then", schema_kw_single, false, true },
	{ "else", schema_kw_single, false, true },
};

static const struct schema_kw_def *
schema_kw_find(const struct node *k)
{
	size_t	i;

	for (i = 0; i < BW_ARRAY_LEN(schema_kw_table); i++)
		if (strlen(schema_kw_table[i].name) == k->len &&
		    memcmp(schema_kw_table[i].name, k->text, k->len) == 0)
			return &schema_kw_table[i];
	return NULL;
}

/* Bound on a chain of $ref followed by the body rule (cycles end it). */
#define SCHEMA_REF_HOPS	32

static const struct node *schema_ref_local(const struct node *, const char *,
    size_t);

/* The node a $ref names, and its document in *docp; NULL if none. */
static const struct node *
schema_c_ref_target(struct schema_set *set, struct sdoc **docp,
    const struct node *r)
{
	if (r->len > 0 && r->text[0] == '#')
		return schema_ref_local((*docp)->root, r->text, r->len);
	if ((*docp = schema_set_find_doc(set, r->text, r->len)) != NULL)
		return (*docp)->root;
	return NULL;
}

static bool
schema_c_has_props(const struct node *m)
{
	return m->kind == NODE_MAP && (node_get(m, "properties") != NULL ||
	    node_get(m, "patternProperties") != NULL);
}

/* Whether the target of m's $ref (followed through plain $refs) declares. */
static bool
schema_c_ref_declares(struct cctx *c, const struct node *m)
{
	struct sdoc		*doc = c->doc;
	const struct node	*r;
	int			 hops;

	for (hops = 0; hops < SCHEMA_REF_HOPS; hops++) {
		if ((r = node_get(m, "$ref")) == NULL ||
		    !schema_v_is(r, T_STRING) ||
		    (m = schema_c_ref_target(c->set, &doc, r)) == NULL)
			return false;
		if (schema_c_has_props(m))
			return true;
		if (m->kind != NODE_MAP)
			return false;
	}
	return false;
}

/* Whether a direct member of the combinator k (value v) declares. */
static bool
schema_c_members_declare(const struct node *k, const struct node *v)
{
	size_t	 i;

	if (v->kind == NODE_SEQ || (v->kind == NODE_MAP &&
	    strcmp(k->text, "dependentSchemas") == 0)) {
		for (i = 0; i < v->n; i++)
			if (schema_c_has_props(v->vals[i]))
				return true;
		return false;
	}
	return schema_c_has_props(v);
}

/*
 * Body mode (SPEC 6, mass assignment): properties or patternProperties
 * without additionalProperties close the object, unless this subschema is a
 * direct member of a combinator or a $ref with siblings.  When such a
 * member (or the target of such a $ref) declares properties or
 * patternProperties, additionalProperties must be stated next to it.
 */
static void
schema_c_body_rules(struct cctx *c, struct sch *s, const struct node *m,
    bool exempt)
{
	const struct schema_kw_def	*kd;
	const char		*comb = NULL;
	bool			 ref = false, sibling = false;
	size_t			 i;

	if (node_get(m, "additionalProperties") != NULL)
		return;
	for (i = 0; i < m->n; i++) {
		if ((kd = schema_kw_find(m->keys[i])) == NULL)
			continue;
		if (strcmp(kd->name, "$ref") == 0)
			ref = true;
		else if (!kd->annot)
			sibling = true;
		if (kd->comb && comb == NULL &&
		    schema_c_members_declare(m->keys[i], m->vals[i]))
			comb = kd->name;
	}
	if (ref && sibling && comb == NULL && schema_c_ref_declares(c, m))
		comb = "$ref";
	if (comb != NULL) {
		schema_c_err(c, m,
		    "request body schema: additionalProperties must be stated "
		    "next to %s (a member declares properties)", comb);
		return;
	}
	if (!exempt && schema_c_has_props(m))
		schema_c_obj(c, s)->additional = c->set->sch_false;
}

static void
schema_c_map(struct cctx *c, struct sch *s, const struct node *m, bool exempt)
{
	const struct schema_kw_def	*kd;
	char			 buf[64];
	size_t			 i;

	for (i = 0; i < m->n; i++) {
		if ((kd = schema_kw_find(m->keys[i])) == NULL) {
			schema_c_err(c, m->keys[i],
			    "unsupported schema keyword \"%s\"",
			    schema_excerpt(m->keys[i]->text, m->keys[i]->len,
			    buf, sizeof(buf)));
			continue;
		}
		kd->fn(c, s, m->keys[i], m->vals[i]);
	}
	if (c->key & MEMO_BODY)
		schema_c_body_rules(c, s, m, exempt);
}

static struct sch *
schema_c_schema(struct cctx *c, const struct node *n, bool exempt)
{
	struct sch	*s;
	unsigned	 key = c->key;
	size_t		 before = c->errors;

	if ((key & MEMO_BODY) && exempt)
		key |= MEMO_EXEMPT;
	if ((s = schema_memo_get(c->set, n, key)) != NULL)
		return s;
	s = schema_sch_new(c, n);
	schema_memo_put(c->set, n, key, s);
	if (n->kind == NODE_MAP)
		schema_c_map(c, s, n, exempt);
	else if (n->kind == NODE_SCALAR && schema_node_type(n) == T_BOOL) {
		if (!schema_node_true(n))
			s->flags |= SCH_FALSE;
	} else
		schema_c_err(c, n, "a schema must be an object or a boolean");
	if (c->errors != before)
		s->flags |= SCH_BAD;
	return s;
}

struct sdoc *
schema_set_find_doc(struct schema_set *set, const char *name, size_t len)
{
	size_t	i;

	for (i = 0; i < set->ndocs; i++)
		if (set->docs[i]->name != NULL &&
		    strlen(set->docs[i]->name) == len &&
		    memcmp(set->docs[i]->name, name, len) == 0)
			return set->docs[i];
	return NULL;
}

/*
 * One segment of a "#/..." reference: URI percent-decoding, then RFC 6901
 * ~1 and ~0.  Returns the decoded length or -1.
 */
static int
schema_ref_segment(const char *s, size_t len, char *out, size_t outsz)
{
	size_t	i, o = 0;
	int	hi, lo;
	char	ch;

	for (i = 0; i < len; i++) {
		ch = s[i];
		if (ch == '%') {
			if (len - i < 3 || (hi = bw_hex_value(s[i + 1])) < 0 ||
			    (lo = bw_hex_value(s[i + 2])) < 0)
				return -1;
			ch = (char)(hi * 16 + lo);
			i += 2;
		}
		if (o + 1 >= outsz)
			return -1;
		out[o++] = ch;
	}
	for (i = 0, len = o, o = 0; i < len; i++) {
		if (out[i] == '~') {
			if (i + 1 == len || (out[i + 1] != '0' &&
			    out[i + 1] != '1'))
				return -1;
			out[o++] = out[i + 1] == '0' ? '~' : '/';
			i++;
		} else
			out[o++] = out[i];
	}
	return (int)o;
}

static const struct node *
schema_ref_member(const struct node *m, const char *seg, size_t len)
{
	size_t	i;
	char	*end;
	unsigned long idx;

	if (m->kind == NODE_MAP) {
		for (i = 0; i < m->n; i++)
			if (m->keys[i]->len == len &&
			    memcmp(m->keys[i]->text, seg, len) == 0)
				return m->vals[i];
		return NULL;
	}
	if (m->kind != NODE_SEQ || len == 0 || (len > 1 && seg[0] == '0'))
		return NULL;
	idx = strtoul(seg, &end, 10);
	if ((size_t)(end - seg) != len || idx >= m->n)
		return NULL;
	return m->vals[idx];
}

/* "#" or "#/$defs/..." within the document of the referring schema. */
static const struct node *
schema_ref_local(const struct node *root, const char *s, size_t len)
{
	const struct node	*n = root;
	char			 seg[512];
	size_t			 i = 1, j;
	int			 sl, nseg = 0;

	if (len == 1)
		return root;
	while (i < len) {
		if (s[i] != '/')
			return NULL;
		for (j = i + 1; j < len && s[j] != '/'; j++)
			;
		if ((sl = schema_ref_segment(s + i + 1, j - i - 1, seg,
		    sizeof(seg))) == -1)
			return NULL;
		seg[sl] = '\0';
		if (nseg++ == 0 && strcmp(seg, "$defs") != 0)
			return NULL;
		if ((n = schema_ref_member(n, seg, (size_t)sl)) == NULL)
			return NULL;
		i = j;
	}
	return nseg >= 2 ? n : NULL;
}

static void
schema_c_resolve(struct cctx *c, struct pending *p)
{
	const struct node	*r = p->ref, *target;
	struct sdoc		*doc = p->doc, *saved = c->doc;
	char			 buf[64];

	c->doc = doc;
	if ((target = schema_c_ref_target(c->set, &doc, r)) == NULL) {
		schema_c_err(c, r, "unresolvable $ref \"%s\" (use \"#\", "
		    "\"#/$defs/...\" or the name of a schema)",
		    schema_excerpt(r->text, r->len, buf, sizeof(buf)));
		p->from->flags |= SCH_BAD;
		c->doc = saved;
		return;
	}
	c->doc = doc;
	c->key = p->key;
	p->from->app->ref = schema_c_schema(c, target, false);
	c->doc = saved;
}

/* Subschemas applied to the same instance (no progress). */
static size_t
schema_sch_same_edges(const struct sch *s, struct sch **out, size_t max)
{
	const struct sch_app	*a = s->app;
	size_t			 n = 0, i;

#define EDGE(x)	do { if ((x) != NULL && n < max) out[n++] = (x); } while (0)
	if (a != NULL) {
		EDGE(a->ref);
		EDGE(a->not);
		EDGE(a->if_);
		EDGE(a->then_);
		EDGE(a->else_);
		for (i = 0; i < a->nall; i++)
			EDGE(a->all[i]);
		for (i = 0; i < a->nany; i++)
			EDGE(a->any[i]);
		for (i = 0; i < a->none; i++)
			EDGE(a->one[i]);
	}
	if (s->obj != NULL)
		for (i = 0; i < s->obj->nnames; i++)
			EDGE(s->obj->names[i].depschema);
#undef EDGE
	return n;
}

static size_t
schema_sch_edge_count(const struct sch *s)
{
	const struct sch_app	*a = s->app;
	size_t			 n = 8;

	if (a != NULL)
		n += a->nall + a->nany + a->none;
	if (s->obj != NULL)
		n += s->obj->nnames;
	return n;
}

static void __attribute__((format(printf, 4, 5)))
schema_c_err_in(struct cctx *c, const struct sch *s, const struct node *at,
    const char *fmt, ...)
{
	struct sdoc	 tmp, *saved = c->doc;
	char		 msg[256];
	va_list		 ap;

	va_start(ap, fmt);
	bw_vformat(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	tmp = *saved;
	tmp.file = s->file;
	c->doc = &tmp;
	schema_c_err(c, at, "%s", msg);
	c->doc = saved;
}

/*
 * Depth-first over no-progress edges: a subschema met again on the current
 * path is a cycle without progress; a chain longer than SCHEMA_NEST_MAX is
 * refused too (it bounds the validation recursion per instance level) and
 * reported once, at the outermost subschema of the walk.  The recursion
 * itself never goes deeper than SCHEMA_NEST_MAX + 1.
 */
static unsigned
schema_c_cycle(struct cctx *c, struct sch *s, unsigned depth)
{
	struct sch	**e;
	size_t		  n, i;
	unsigned	  best = 0, d;

	if (s->mark == 2)
		return s->nest;
	if (depth > SCHEMA_NEST_MAX)
		return SCHEMA_NEST_MAX + 1;
	s->mark = 1;
	n = schema_sch_edge_count(s);
	e = bw_reallocarray(NULL, n, sizeof(*e));
	n = schema_sch_same_edges(s, e, n);
	for (i = 0; i < n && best <= SCHEMA_NEST_MAX; i++) {
		if (e[i]->mark == 1) {
			schema_c_err_in(c, s, s->app != NULL &&
			    s->app->ref == e[i] ? s->app->refsrc : s->src,
			    "schema cycle without progress");
			s->flags |= SCH_BAD;
			best = SCHEMA_NEST_MAX + 1;
			break;
		}
		d = schema_c_cycle(c, e[i], depth + 1) + 1;
		if (e[i]->flags & SCH_BAD)
			s->flags |= SCH_BAD;
		if (d > best)
			best = d;
	}
	free(e);
	s->mark = 2;
	s->nest = best;
	if (best > SCHEMA_NEST_MAX && depth == 0 && !(s->flags & SCH_BAD)) {
		schema_c_err_in(c, s, s->src,
		    "schema applies more than %d nested subschemas to one "
		    "value", SCHEMA_NEST_MAX);
		s->flags |= SCH_BAD;
	}
	return best;
}

static bool
schema_sch_child_bad(const struct sch *s)
{
	struct sch	**e;
	size_t		  n, i;
	bool		  bad = false;

#define BAD(x)	((x) != NULL && ((x)->flags & SCH_BAD))
	if (s->arr != NULL) {
		bad |= BAD(s->arr->items) || BAD(s->arr->contains);
		for (i = 0; i < s->arr->nprefix; i++)
			bad |= BAD(s->arr->prefix[i]);
	}
	if (s->obj != NULL) {
		bad |= BAD(s->obj->additional) || BAD(s->obj->propnames);
		for (i = 0; i < s->obj->nnames; i++)
			bad |= BAD(s->obj->names[i].prop);
		for (i = 0; i < s->obj->npats; i++)
			bad |= BAD(s->obj->pats[i].s);
	}
	n = schema_sch_edge_count(s);
	e = bw_reallocarray(NULL, n, sizeof(*e));
	n = schema_sch_same_edges(s, e, n);
	for (i = 0; i < n; i++)
		bad |= BAD(e[i]);
	free(e);
#undef BAD
	return bad;
}

/* Runs the pending references, the cycle check and failure propagation. */
static int
schema_c_finish(struct cctx *c, size_t first)
{
	struct schema_set	*set = c->set;
	struct sdoc		*doc = c->doc;
	struct pending		 p;
	size_t			 i;
	bool			 changed;

	for (i = 0; i < c->npend; i++) {
		p = c->pend[i];
		schema_c_resolve(c, &p);
	}
	free(c->pend);
	c->pend = NULL;
	c->npend = c->cappend = 0;
	for (i = first; i < set->nall; i++)
		schema_c_cycle(c, set->all[i], 0);
	c->doc = doc;
	do {
		changed = false;
		for (i = first; i < set->nall; i++)
			if (!(set->all[i]->flags & SCH_BAD) &&
			    schema_sch_child_bad(set->all[i])) {
				set->all[i]->flags |= SCH_BAD;
				changed = true;
			}
	} while (changed);
	return c->errors == 0 ? 0 : -1;
}

struct schema *
schema_c_top(struct schema_set *set, struct sdoc *doc, enum schema_mode mode,
    struct bw_diag *diag)
{
	struct cctx	 c;
	struct schema	*sc;
	struct sch	*root;
	size_t		 first = set->nall;

	memset(&c, 0, sizeof(c));
	c.set = set;
	c.doc = doc;
	c.diag = diag;
	c.key = mode == SCHEMA_BODY ? MEMO_BODY : 0;
	root = schema_c_schema(&c, doc->root, false);
	if (mode == SCHEMA_PARAM && (root->types & (T_OBJECT | T_ARRAY |
	    T_NULL)) != 0)
		schema_c_err(&c, doc->root, "a parameter schema's type must be "
		    "integer, number, boolean or string");
	if (schema_c_finish(&c, first) == -1 || (root->flags & SCH_BAD))
		return NULL;
	sc = schema_sa_alloc(set, sizeof(*sc));
	sc->root = root;
	sc->set = set;
	sc->mode = mode;
	return sc;
}
