/*
 * schema_validate.c - an instance against a compiled schema.
 *
 * The walk (schema_v_*) never reads the schema source: it follows the
 * pointers of struct sch, records at most SCHEMA_ERRORS_MAX errors with
 * their RFC 6901 pointers, and stops at the first failure once the list is
 * full.  JSON equality and hashing (enum, const, uniqueItems) compare
 * numbers by value, as the draft requires.
 *
 * Threat model: instances are attacker-chosen bodies and parameters.
 * Recursion is bounded (SCHEMA_VDEPTH_MAX), work by the instance size times
 * the subschemas applied without progress, patterns by the PCRE2 limits,
 * and uniqueItems over long arrays sorts hashes instead of comparing all
 * pairs.  Messages are fixed text and names from the schema; the only
 * input they carry is the bounded pointer.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schema_int.h"

unsigned
schema_node_type(const struct node *n)
{
	enum node_style	st;

	if (n->kind == NODE_MAP)
		return T_OBJECT;
	if (n->kind == NODE_SEQ)
		return T_ARRAY;
	st = n->style == NODE_PLAIN ? schema_plain_style(n) : n->style;
	switch (st) {
	case NODE_NUMBER:
		return T_NUMBER;
	case NODE_TRUE:
	case NODE_FALSE:
		return T_BOOL;
	case NODE_NULL:
		return T_NULL;
	default:
		return T_STRING;
	}
}

bool
schema_node_true(const struct node *n)
{
	return n->style == NODE_TRUE ||
	    (n->style == NODE_PLAIN && strcmp(n->text, "true") == 0);
}

static const char *
schema_type_name(unsigned t)
{
	switch (t) {
	case T_NULL:
		return "null";
	case T_BOOL:
		return "boolean";
	case T_OBJECT:
		return "object";
	case T_ARRAY:
		return "array";
	case T_NUMBER:
		return "number";
	case T_INTEGER:
		return "integer";
	default:
		return "string";
	}
}

static const struct node *
schema_map_find(const struct node *m, const struct node *key)
{
	size_t	i;

	for (i = 0; i < m->n; i++)
		if (m->keys[i]->len == key->len &&
		    memcmp(m->keys[i]->text, key->text, key->len) == 0)
			return m->vals[i];
	return NULL;
}

struct kv {
	const struct node	*k;
	const struct node	*v;
};

static int
schema_kv_cmp(const void *va, const void *vb)
{
	const struct kv	*a = va, *b = vb;
	size_t		 l = a->k->len < b->k->len ? a->k->len : b->k->len;
	int		 r;

	if ((r = memcmp(a->k->text, b->k->text, l)) != 0)
		return r;
	return a->k->len < b->k->len ? -1 : a->k->len > b->k->len;
}

static struct kv *
schema_map_sorted(const struct node *m)
{
	struct kv	*v;
	size_t		 i;

	v = bw_reallocarray(NULL, m->n, sizeof(*v));
	for (i = 0; i < m->n; i++) {
		v[i].k = m->keys[i];
		v[i].v = m->vals[i];
	}
	qsort(v, m->n, sizeof(*v), schema_kv_cmp);
	return v;
}

/* Large objects: compare sorted member lists (n log n, never n^2). */
static bool
schema_map_equal_sorted(const struct node *a, const struct node *b)
{
	struct kv	*ka, *kb;
	size_t		 i;
	bool		 eq = true;

	ka = schema_map_sorted(a);
	kb = schema_map_sorted(b);
	for (i = 0; i < a->n && eq; i++)
		eq = schema_kv_cmp(&ka[i], &kb[i]) == 0 &&
		    schema_json_equal(ka[i].v, kb[i].v);
	free(ka);
	free(kb);
	return eq;
}

static bool
schema_map_equal(const struct node *a, const struct node *b)
{
	const struct node	*v;
	size_t			 i;

	if (a->n != b->n)
		return false;
	if (a->n > SCHEMA_UNIQUE_LINEAR)
		return schema_map_equal_sorted(a, b);
	for (i = 0; i < a->n; i++)
		if ((v = schema_map_find(b, a->keys[i])) == NULL ||
		    !schema_json_equal(a->vals[i], v))
			return false;
	return true;
}

bool
schema_json_equal(const struct node *a, const struct node *b)
{
	struct jnum	na, nb;
	unsigned	ta = schema_node_type(a), tb = schema_node_type(b);
	size_t		i;

	if (ta != tb)
		return false;
	switch (ta) {
	case T_NUMBER:
		if (jnum_parse(&na, a->text, a->len) == -1 ||
		    jnum_parse(&nb, b->text, b->len) == -1)
			return false;
		return jnum_cmp(&na, &nb) == 0;
	case T_STRING:
		return a->len == b->len &&
		    memcmp(a->text, b->text, a->len) == 0;
	case T_BOOL:
		return schema_node_true(a) == schema_node_true(b);
	case T_NULL:
		return true;
	case T_ARRAY:
		if (a->n != b->n)
			return false;
		for (i = 0; i < a->n; i++)
			if (!schema_json_equal(a->vals[i], b->vals[i]))
				return false;
		return true;
	default:
		return schema_map_equal(a, b);
	}
}

uint64_t
schema_hash_bytes(uint64_t h, const void *p, size_t len)
{
	const unsigned char	*s = p;
	size_t			 i;

	for (i = 0; i < len; i++)
		h = (h ^ s[i]) * 0x100000001b3ULL;
	return h;
}

/*
 * A hash consistent with schema_json_equal (objects: order-independent sum),
 * keyed by a random per-set seed so that a client cannot aim many
 * different items at one bucket of uniqueItems.
 */
static uint64_t
schema_json_hash(const struct node *n, uint64_t seed)
{
	struct jnum	num;
	uint64_t	h = 0xcbf29ce484222325ULL ^ seed, sum = 0;
	unsigned	t = schema_node_type(n);
	size_t		i;

	h = schema_hash_bytes(h, &t, sizeof(t));
	switch (t) {
	case T_NUMBER:
		if (jnum_parse(&num, n->text, n->len) == 0)
			h = jnum_hash(&num, h);
		return h;
	case T_STRING:
		return schema_hash_bytes(h, n->text, n->len);
	case T_BOOL:
		return schema_hash_bytes(h, "t", schema_node_true(n));
	case T_ARRAY:
		for (i = 0; i < n->n; i++)
			h = (h ^ schema_json_hash(n->vals[i], seed)) *
			    0x100000001b3ULL;
		return h;
	case T_OBJECT:
		for (i = 0; i < n->n; i++)
			sum += schema_hash_bytes(0xcbf29ce484222325ULL ^ seed,
			    n->keys[i]->text, n->keys[i]->len) *
			    (schema_json_hash(n->vals[i], seed) | 1);
		return h ^ sum;
	default:
		return h;
	}
}

/*
 * True when no further error can be recorded: from then on the first
 * failure ends the walk.  A full list keeps going until one more failure
 * shows that it is truncated.
 */
static bool
schema_v_quiet(const struct vctx *v)
{
	return v->out == NULL || v->out->truncated;
}

void
schema_v_push(struct vctx *v, const struct node *key, size_t idx)
{
	if (v->npath < SCHEMA_PATH_MAX) {
		v->path[v->npath].key = key;
		v->path[v->npath].idx = idx;
	}
	v->npath++;
}

static void
schema_v_pop(struct vctx *v)
{
	v->npath--;
}

/* One escaped segment ("/key" or "/index"); 0 when it does not fit. */
static size_t
schema_v_segment(const struct vseg *sg, char *seg, size_t segsz)
{
	size_t	j, sl = 0;
	char	ch;
	int	n;

	seg[sl++] = '/';
	if (sg->key == NULL) {
		n = snprintf(seg + sl, segsz - sl, "%zu", sg->idx);
		return n > 0 && (size_t)n < segsz - sl ? sl + (size_t)n : 0;
	}
	for (j = 0; j < sg->key->len; j++) {
		if (sl + 2 >= segsz)
			return 0;
		ch = sg->key->text[j];
		if (ch == '~' || ch == '/') {
			seg[sl++] = '~';
			seg[sl++] = ch == '~' ? '0' : '1';
		} else
			seg[sl++] = ch;
	}
	return sl;
}

/*
 * RFC 6901 pointer of the current path.  When it would not fit, the
 * pointer names the deepest ancestor that fits (always a valid pointer).
 */
static void
schema_v_pointer(const struct vctx *v, char *buf, size_t bufsz)
{
	char	seg[SCHEMA_POINTER_MAX];
	size_t	i, o = 0, sl;

	buf[0] = '\0';
	for (i = 0; i < v->npath && i < SCHEMA_PATH_MAX; i++) {
		sl = schema_v_segment(&v->path[i], seg, sizeof(seg));
		if (sl == 0 || o + sl >= bufsz)
			return;
		memcpy(buf + o, seg, sl);
		o += sl;
		buf[o] = '\0';
	}
}

void __attribute__((format(printf, 2, 3)))
schema_v_err(struct vctx *v, const char *fmt, ...)
{
	struct schema_error	*e;
	va_list			 ap;

	if (v->out == NULL)
		return;
	if (v->out->n >= SCHEMA_ERRORS_MAX) {
		v->out->truncated = true;
		return;
	}
	e = &v->out->v[v->out->n++];
	schema_v_pointer(v, e->pointer, sizeof(e->pointer));
	va_start(ap, fmt);
	bw_vformat(e->message, sizeof(e->message), fmt, ap);
	va_end(ap);
}

static bool
schema_v_silent(struct vctx *v, const struct sch *s, struct node *in)
{
	struct schema_errors	*saved = v->out;
	bool			 ok;

	v->out = NULL;
	ok = schema_v_sch(v, s, in);
	v->out = saved;
	return ok;
}

const char *
schema_types_text(unsigned types, char *buf, size_t bufsz)
{
	static const unsigned order[] = { T_OBJECT, T_ARRAY, T_STRING,
	    T_NUMBER, T_INTEGER, T_BOOL, T_NULL };
	size_t	i, o = 0;

	buf[0] = '\0';
	for (i = 0; i < BW_ARRAY_LEN(order); i++)
		if (types & order[i])
			o += (size_t)snprintf(buf + o, bufsz - o, "%s%s",
			    o == 0 ? "" : " or ", schema_type_name(order[i]));
	return buf;
}

static void
schema_v_canon(struct node *in, const struct jnum *n)
{
	char	buf[24];
	int	len;

	if ((len = jnum_canonical(n, buf, sizeof(buf))) < 0)
		return;
	if ((size_t)len == in->len && memcmp(buf, in->text, in->len) == 0)
		return;
	free(in->text);
	in->text = bw_strndup(buf, (size_t)len);
	in->len = (size_t)len;
}

static bool
schema_v_type(struct vctx *v, const struct sch *s, struct node *in, unsigned t)
{
	struct jnum	n;
	char		buf[96];

	if (s->types & t)
		return true;
	if (t == T_NUMBER && (s->types & T_INTEGER) &&
	    jnum_parse(&n, in->text, in->len) == 0 &&
	    jnum_is_integer(&n) && jnum_in_int64(&n)) {
		if (v->flags & SCHEMA_V_CANON)
			schema_v_canon(in, &n);
		return true;
	}
	schema_v_err(v, "must be %s", schema_types_text(s->types, buf,
	    sizeof(buf)));
	return false;
}

static bool
schema_v_enum(struct vctx *v, const struct sch *s, const struct node *in)
{
	size_t	i;

	if ((s->flags & SCH_CONST) && !schema_json_equal(in, s->constv)) {
		schema_v_err(v, "must equal the constant value");
		return false;
	}
	if (!(s->flags & SCH_ENUM))
		return true;
	for (i = 0; i < s->nenum; i++)
		if (schema_json_equal(in, s->enumv[i]))
			return true;
	schema_v_err(v, "must be one of the allowed values");
	return false;
}

static bool
schema_v_num(struct vctx *v, const struct sch_num *c, const struct node *in)
{
	struct jnum	n;
	bool		ok = true;

	if (jnum_parse(&n, in->text, in->len) == -1)
		return true;
	if ((c->has & NUM_MIN) && jnum_cmp(&n, &c->min) < 0) {
		schema_v_err(v, "must be >= %.40s", c->min_s);
		ok = false;
	}
	if ((c->has & NUM_MAX) && jnum_cmp(&n, &c->max) > 0) {
		schema_v_err(v, "must be <= %.40s", c->max_s);
		ok = false;
	}
	if ((c->has & NUM_XMIN) && jnum_cmp(&n, &c->xmin) <= 0) {
		schema_v_err(v, "must be > %.40s", c->xmin_s);
		ok = false;
	}
	if ((c->has & NUM_XMAX) && jnum_cmp(&n, &c->xmax) >= 0) {
		schema_v_err(v, "must be < %.40s", c->xmax_s);
		ok = false;
	}
	if ((c->has & NUM_MULT) && !jnum_multiple_of(&n, c->dm, c->em)) {
		schema_v_err(v, "must be a multiple of %.40s", c->mult_s);
		ok = false;
	}
	return ok;
}

/* 1 match, 0 no match, -1 the match gave up (limit or bad input). */
static int
schema_v_match(struct vctx *v, pcre2_code *re, const struct node *s)
{
	int	rc;

	rc = pcre2_match(re, (PCRE2_SPTR)s->text, s->len, 0, 0,
	    v->set->mdata, v->set->mctx);
	if (rc >= 0)
		return 1;
	return rc == PCRE2_ERROR_NOMATCH ? 0 : -1;
}

static bool
schema_v_str(struct vctx *v, const struct sch_str *c, const struct node *in)
{
	uint64_t	cp;
	bool		ok = true;
	int		m;

	if (c->minl > 0 || c->maxl < in->len) {
		cp = bw_utf8_len(in->text, in->len);
		if (cp < c->minl) {
			schema_v_err(v, "must be at least %llu characters long",
			    (unsigned long long)c->minl);
			ok = false;
		}
		if (cp > c->maxl) {
			schema_v_err(v, "must be at most %llu characters long",
			    (unsigned long long)c->maxl);
			ok = false;
		}
	}
	if (c->re != NULL && (m = schema_v_match(v, c->re, in)) != 1) {
		schema_v_err(v, m == 0 ? "must match the pattern" :
		    "pattern match limit exceeded");
		ok = false;
	}
	if (c->fmt != FMT_NONE && !schema_fmt_check(c->fmt, in->text,
	    in->len)) {
		schema_v_err(v, "must be a valid %s", schema_fmt_names[c->fmt]);
		ok = false;
	}
	return ok;
}

#define SEEN_SET(b, i)	((b)[(i) / 64] |= (uint64_t)1 << ((i) % 64))
#define SEEN(b, i)	(((b)[(i) / 64] >> ((i) % 64)) & 1)

/* One member: properties, patternProperties, additionalProperties. */
static bool
schema_v_member(struct vctx *v, const struct sch_obj *o, struct node *key,
    struct node *val, uint64_t *seen)
{
	int64_t	idx;
	size_t	i;
	bool	ok = true, matched = false;
	int	m;

	if ((idx = schema_obj_lookup(o, key->text, key->len)) >= 0) {
		SEEN_SET(seen, (size_t)idx);
		if (o->names[idx].prop != NULL) {
			matched = true;
			if (!schema_v_sch(v, o->names[idx].prop, val)) {
				ok = false;
				if (schema_v_quiet(v))
					return false;
			}
		}
	}
	for (i = 0; i < o->npats; i++) {
		if ((m = schema_v_match(v, o->pats[i].re, key)) == -1) {
			schema_v_err(v, "pattern match limit exceeded");
			return false;
		}
		if (m == 1) {
			matched = true;
			if (!schema_v_sch(v, o->pats[i].s, val)) {
				ok = false;
				if (schema_v_quiet(v))
					return false;
			}
		}
	}
	if (!matched && o->additional != NULL) {
		if (o->additional->flags & SCH_FALSE) {
			schema_v_err(v, "property is not allowed");
			return false;
		}
		if (!schema_v_sch(v, o->additional, val))
			ok = false;
	}
	if (o->propnames != NULL && (ok || !schema_v_quiet(v)) &&
	    !schema_v_silent(v, o->propnames, key)) {
		schema_v_err(v, "property name is not valid");
		ok = false;
	}
	return ok;
}

static bool
schema_v_deps(struct vctx *v, const struct sch_obj *o, struct node *in,
    const uint64_t *seen)
{
	const struct sch_name	*nm, *dep;
	char			 b1[64], b2[64];
	size_t			 i, j;
	bool			 ok = true;

	for (i = 0; i < o->nnames; i++) {
		if (!SEEN(seen, i))
			continue;
		nm = &o->names[i];
		for (j = 0; j < nm->ndepreq; j++)
			if (!SEEN(seen, nm->depreq[j])) {
				dep = &o->names[nm->depreq[j]];
				schema_v_err(v,
				    "property \"%s\" is required with \"%s\"",
				    schema_excerpt(dep->name, dep->len, b1,
				    sizeof(b1)), schema_excerpt(nm->name,
				    nm->len, b2, sizeof(b2)));
				ok = false;
			}
		if (nm->depschema != NULL && (ok || !schema_v_quiet(v)) &&
		    !schema_v_sch(v, nm->depschema, in))
			ok = false;
		if (!ok && schema_v_quiet(v))
			return false;
	}
	return ok;
}

static bool
schema_v_obj(struct vctx *v, const struct sch_obj *o, struct node *in)
{
	uint64_t	 sbuf[SCHEMA_SEEN_WORDS] = { 0 }, *seen = sbuf;
	char		 buf[64];
	size_t		 i;
	bool		 ok = true;

	if (o->nnames > (size_t)SCHEMA_SEEN_WORDS * 64)
		seen = bw_calloc((o->nnames + 63) / 64, sizeof(*seen));
	if (in->n < o->minp || in->n > o->maxp) {
		schema_v_err(v, in->n < o->minp ? "must have at least %llu "
		    "properties" : "must have at most %llu properties",
		    (unsigned long long)(in->n < o->minp ? o->minp : o->maxp));
		ok = false;
	}
	for (i = 0; i < in->n && (ok || !schema_v_quiet(v)); i++) {
		schema_v_push(v, in->keys[i], 0);
		if (!schema_v_member(v, o, in->keys[i], in->vals[i], seen))
			ok = false;
		schema_v_pop(v);
	}
	for (i = 0; i < o->nrequired && (ok || !schema_v_quiet(v)); i++)
		if (!SEEN(seen, o->required[i])) {
			schema_v_err(v, "missing required property \"%s\"",
			    schema_excerpt(o->names[o->required[i]].name,
			    o->names[o->required[i]].len, buf, sizeof(buf)));
			ok = false;
		}
	if (o->deps && (ok || !schema_v_quiet(v)) && !schema_v_deps(v, o, in,
	    seen))
		ok = false;
	if (seen != sbuf)
		free(seen);
	return ok;
}

struct hidx {
	uint64_t	h;
	size_t		i;
};

static int
schema_hidx_cmp(const void *a, const void *b)
{
	const struct hidx *x = a, *y = b;

	if (x->h != y->h)
		return x->h < y->h ? -1 : 1;
	return x->i < y->i ? -1 : x->i > y->i;
}

/* Pairs compared only within runs of equal hashes (n log n). */
static bool
schema_v_unique(const struct node *in, uint64_t seed)
{
	struct hidx	*hv;
	size_t		 i, j, k, l;
	bool		 ok = true;

	if (in->n <= SCHEMA_UNIQUE_LINEAR) {
		for (i = 0; i < in->n; i++)
			for (j = i + 1; j < in->n; j++)
				if (schema_json_equal(in->vals[i], in->vals[j]))
					return false;
		return true;
	}
	hv = bw_reallocarray(NULL, in->n, sizeof(*hv));
	for (i = 0; i < in->n; i++) {
		hv[i].h = schema_json_hash(in->vals[i], seed);
		hv[i].i = i;
	}
	qsort(hv, in->n, sizeof(*hv), schema_hidx_cmp);
	for (i = 0; i < in->n && ok; i = j) {
		for (j = i + 1; j < in->n && hv[j].h == hv[i].h; j++)
			;
		for (k = i; k < j && ok; k++)
			for (l = k + 1; l < j && ok; l++)
				ok = !schema_json_equal(in->vals[hv[k].i],
				    in->vals[hv[l].i]);
	}
	free(hv);
	return ok;
}

static bool
schema_v_arr(struct vctx *v, const struct sch_arr *a, struct node *in)
{
	const struct sch	*sub;
	uint64_t		 cnt = 0;
	size_t			 i;
	bool			 ok = true;

	if (in->n < a->mini || in->n > a->maxi) {
		schema_v_err(v, in->n < a->mini ?
		    "must have at least %llu items" :
		    "must have at most %llu items",
		    (unsigned long long)(in->n < a->mini ? a->mini : a->maxi));
		ok = false;
	}
	for (i = 0; i < in->n && (ok || !schema_v_quiet(v)); i++) {
		sub = i < a->nprefix ? a->prefix[i] : a->items;
		if (sub == NULL)
			continue;
		schema_v_push(v, NULL, i);
		if (!schema_v_sch(v, sub, in->vals[i]))
			ok = false;
		schema_v_pop(v);
	}
	if (a->contains != NULL && (ok || !schema_v_quiet(v))) {
		for (i = 0; i < in->n && cnt <= a->maxc; i++) {
			schema_v_push(v, NULL, i);
			cnt += schema_v_silent(v, a->contains, in->vals[i]);
			schema_v_pop(v);
		}
		if (cnt < a->minc || cnt > a->maxc) {
			schema_v_err(v, cnt < a->minc ?
			    "must contain at least %llu matching items" :
			    "must contain at most %llu matching items",
			    (unsigned long long)(cnt < a->minc ? a->minc :
			    a->maxc));
			ok = false;
		}
	}
	if (a->unique && (ok || !schema_v_quiet(v)) && !schema_v_unique(in,
	    v->set->seed)) {
		schema_v_err(v, "items must be unique");
		ok = false;
	}
	return ok;
}

static bool
schema_v_app(struct vctx *v, const struct sch_app *a, struct node *in)
{
	size_t	i, hits;
	bool	ok = true;

	if (a->ref != NULL && !schema_v_sch(v, a->ref, in))
		ok = false;
	for (i = 0; i < a->nall && (ok || !schema_v_quiet(v)); i++)
		if (!schema_v_sch(v, a->all[i], in))
			ok = false;
	if (a->nany > 0 && (ok || !schema_v_quiet(v))) {
		for (i = 0; i < a->nany && !schema_v_silent(v, a->any[i],
		    in); i++)
			;
		if (i == a->nany) {
			schema_v_err(v,
			    "must match at least one schema in anyOf");
			ok = false;
		}
	}
	if (a->none > 0 && (ok || !schema_v_quiet(v))) {
		for (i = 0, hits = 0; i < a->none && hits < 2; i++)
			hits += schema_v_silent(v, a->one[i], in);
		if (hits != 1) {
			schema_v_err(v, hits == 0 ?
			    "must match one schema in oneOf" :
			    "must match only one schema in oneOf");
			ok = false;
		}
	}
	if (a->not != NULL && (ok || !schema_v_quiet(v)) && schema_v_silent(v,
	    a->not, in)) {
		schema_v_err(v, "must not match the schema in not");
		ok = false;
	}
	if (a->if_ != NULL && (ok || !schema_v_quiet(v))) {
		if (schema_v_silent(v, a->if_, in)) {
			if (a->then_ != NULL && !schema_v_sch(v, a->then_, in))
				ok = false;
		} else if (a->else_ != NULL && !schema_v_sch(v, a->else_, in))
			ok = false;
	}
	return ok;
}

bool
schema_v_sch(struct vctx *v, const struct sch *s, struct node *in)
{
	unsigned	t;
	bool		ok = true;

	if (s->flags & SCH_FALSE) {
		schema_v_err(v, "no value is allowed here");
		return false;
	}
	if (v->depth >= SCHEMA_VDEPTH_MAX) {
		schema_v_err(v, "value nested too deeply for its schema");
		return false;
	}
	v->depth++;
	t = schema_node_type(in);
	if (s->types != 0 && !schema_v_type(v, s, in, t)) {
		ok = false;
		if (schema_v_quiet(v))
			goto out;
	}
	if ((s->flags & (SCH_ENUM | SCH_CONST)) && !schema_v_enum(v, s, in)) {
		ok = false;
		if (schema_v_quiet(v))
			goto out;
	}
	if ((t == T_NUMBER && s->num != NULL && !schema_v_num(v, s->num, in)) ||
	    (t == T_STRING && s->str != NULL && !schema_v_str(v, s->str, in)) ||
	    (t == T_OBJECT && s->obj != NULL && !schema_v_obj(v, s->obj, in)) ||
	    (t == T_ARRAY && s->arr != NULL && !schema_v_arr(v, s->arr, in))) {
		ok = false;
		if (schema_v_quiet(v))
			goto out;
	}
	if (s->app != NULL && !schema_v_app(v, s->app, in))
		ok = false;
out:
	v->depth--;
	return ok;
}

/* SPEC 6: no string anywhere in an instance (names too) may hold U+0000. */
void
schema_v_nul(struct vctx *v, const struct node *in)
{
	size_t	i;

	switch (in->kind) {
	case NODE_SCALAR:
		if (schema_node_type(in) == T_STRING &&
		    memchr(in->text, '\0', in->len) != NULL) {
			schema_v_err(v, "string must not contain U+0000");
			v->nul = true;
		}
		return;
	case NODE_SEQ:
		for (i = 0; i < in->n && !(v->nul && schema_v_quiet(v)); i++) {
			schema_v_push(v, NULL, i);
			schema_v_nul(v, in->vals[i]);
			schema_v_pop(v);
		}
		return;
	case NODE_MAP:
		for (i = 0; i < in->n && !(v->nul && schema_v_quiet(v)); i++) {
			if (memchr(in->keys[i]->text, '\0',
			    in->keys[i]->len) != NULL) {
				schema_v_err(v,
				    "property name must not contain U+0000");
				v->nul = true;
				continue;
			}
			schema_v_push(v, in->keys[i], 0);
			schema_v_nul(v, in->vals[i]);
			schema_v_pop(v);
		}
		return;
	}
}

void
schema_v_init(struct vctx *v, const struct schema *sc, int flags,
    struct schema_errors *out)
{
	v->out = out;
	v->set = sc->set;
	v->flags = flags;
	v->depth = 0;
	v->nul = false;
	v->npath = 0;
	if (out != NULL) {
		out->n = 0;
		out->truncated = false;
	}
}
