/*
 * schema.c - JSON Schema subset of SPEC 6: compile at load, validate fast.
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
#define PCRE2_CODE_UNIT_WIDTH 8

#include <pcre2.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonnum.h"
#include "jsonw.h"
#include "schema.h"

#define T_NULL		0x01
#define T_BOOL		0x02
#define T_OBJECT	0x04
#define T_ARRAY		0x08
#define T_NUMBER	0x10
#define T_STRING	0x20
#define T_INTEGER	0x40

#define SCH_FALSE	0x01	/* boolean schema false */
#define SCH_ENUM	0x02
#define SCH_CONST	0x04
#define SCH_BAD		0x08	/* failed to compile (here or below) */

#define NUM_MIN		0x01
#define NUM_MAX		0x02
#define NUM_XMIN	0x04
#define NUM_XMAX	0x08
#define NUM_MULT	0x10

#define SCHEMA_VDEPTH_MAX	4096	/* validation recursion guard */
#define SCHEMA_PATH_MAX		128	/* pointer segments kept */
#define SCHEMA_UNIQUE_LINEAR	16
#define SCHEMA_SEEN_WORDS	4	/* names tracked without allocation */
#define ARENA_BLOCK		((size_t)64 * 1024)
#define SCHEMA_URI_2020		"https://json-schema.org/draft/2020-12/schema"

enum sch_fmt {
	FMT_NONE,
	FMT_DATE_TIME,
	FMT_DATE,
	FMT_EMAIL,
	FMT_UUID,
	FMT_IPV4,
	FMT_IPV6,
	FMT_URI,
};

static const char *const fmt_names[] = {
	[FMT_DATE_TIME] = "date-time",
	[FMT_DATE] = "date",
	[FMT_EMAIL] = "email",
	[FMT_UUID] = "uuid",
	[FMT_IPV4] = "ipv4",
	[FMT_IPV6] = "ipv6",
	[FMT_URI] = "uri",
};

struct sch;

struct sch_num {
	unsigned	 has;
	struct jnum	 min, max, xmin, xmax;
	const char	*min_s, *max_s, *xmin_s, *xmax_s, *mult_s;
	uint64_t	 dm;
	int64_t		 em;
};

struct sch_str {
	uint64_t	 minl;
	uint64_t	 maxl;
	pcre2_code	*re;
	enum sch_fmt	 fmt;
};

struct sch_arr {
	struct sch	**prefix;
	size_t		  nprefix;
	struct sch	 *items;
	struct sch	 *contains;
	uint64_t	  minc;
	uint64_t	  maxc;
	uint64_t	  mini;
	uint64_t	  maxi;
	bool		  unique;
};

struct sch_name {
	const char	*name;
	size_t		 len;
	struct sch	*prop;
	struct sch	*depschema;
	uint32_t	*depreq;
	size_t		 ndepreq;
	bool		 required;
};

struct sch_pat {
	pcre2_code	*re;
	struct sch	*s;
};

struct sch_obj {
	struct sch_name	*names;
	size_t		 nnames;
	size_t		 capnames;
	uint32_t	*table;		/* name index + 1; 0 = empty */
	uint32_t	 mask;
	uint32_t	*required;
	size_t		 nrequired;
	struct sch_pat	*pats;
	size_t		 npats;
	struct sch	*additional;	/* NULL: anything */
	struct sch	*propnames;
	uint64_t	 minp;
	uint64_t	 maxp;
	bool		 deps;
};

struct sch_app {
	struct sch	**all, **any, **one;
	size_t		  nall, nany, none;
	struct sch	 *not, *if_, *then_, *else_;
	struct sch	 *ref;
	const struct node *refsrc;
};

struct sch {
	unsigned		 flags;
	unsigned		 types;
	struct sch_num		*num;
	struct sch_str		*str;
	struct sch_arr		*arr;
	struct sch_obj		*obj;
	struct sch_app		*app;
	struct node		**enumv;
	size_t			 nenum;
	const struct node	*constv;
	const struct node	*def;
	const struct node	*src;
	const char		*file;
	unsigned		 mark;	/* cycles: 0 new, 1 on path, 2 done */
	unsigned		 nest;
};

struct schema {
	struct sch		*root;
	struct schema_set	*set;
	enum schema_mode	 mode;
};

struct arena_blk {
	struct arena_blk	*next;
	size_t			 used;
	size_t			 cap;
	max_align_t		 data[];
};

struct sdoc {
	char		*name;		/* NULL for inline schemas */
	struct node	*root;
	const char	*file;
	bool		 checked;
};

struct memo_ent {
	const struct node	*node;
	unsigned		 key;
	struct sch		*s;
};

struct pending {
	struct sch		*from;
	const struct node	*ref;
	struct sdoc		*doc;
	unsigned		 key;
};

struct schema_set {
	struct arena_blk	*arena;
	struct sdoc		**docs;
	size_t			  ndocs;
	struct memo_ent		 *memo;
	size_t			  memocap;
	size_t			  memon;
	struct sch		**all;
	size_t			  nall;
	size_t			  capall;
	pcre2_code		**codes;
	size_t			  ncodes;
	pcre2_match_context	 *mctx;
	pcre2_match_data	 *mdata;
	struct sch		 *sch_false;
	struct sch		 *sch_true;
	uint64_t		  seed;		/* uniqueItems hashing */
};

#define MEMO_BODY	0x01
#define MEMO_EXEMPT	0x02

struct cctx {
	struct schema_set	*set;
	struct sdoc		*doc;
	struct bw_diag		*diag;
	unsigned		 key;		/* MEMO_BODY */
	size_t			 errors;
	struct pending		*pend;
	size_t			 npend;
	size_t			 cappend;
};

/* ---- arena and tree copy ------------------------------------------------ */

static void *
sa_alloc(struct schema_set *set, size_t sz)
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

static void *
sa_array(struct schema_set *set, size_t n, size_t sz)
{
	if (sz != 0 && n > SIZE_MAX / sz)
		abort();
	return sa_alloc(set, n * sz);
}

static char *
sa_strndup(struct schema_set *set, const char *s, size_t len)
{
	char	*p = sa_alloc(set, len + 1);

	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

/* JSON number grammar over a whole scalar. */
static bool
is_number_text(const char *s, size_t len)
{
	struct jnum	n;

	return jnum_parse(&n, s, len) == 0;
}

/*
 * Strict resolution of SPEC 4 for a YAML plain scalar: true/false, null/~,
 * a JSON number lexeme, otherwise a string.
 */
static enum node_style
plain_style(const struct node *n)
{
	if (strcmp(n->text, "true") == 0)
		return NODE_TRUE;
	if (strcmp(n->text, "false") == 0)
		return NODE_FALSE;
	if (strcmp(n->text, "null") == 0 || strcmp(n->text, "~") == 0)
		return NODE_NULL;
	if (is_number_text(n->text, n->len))
		return NODE_NUMBER;
	return NODE_STRING;
}

static struct node *
sa_copy(struct schema_set *set, const struct node *n, bool key)
{
	struct node	*c;
	size_t		 i;

	c = sa_alloc(set, sizeof(*c));
	c->kind = n->kind;
	c->style = n->style;
	c->line = n->line;
	c->col = n->col;
	c->n = n->n;
	if (n->kind == NODE_SCALAR) {
		c->text = sa_strndup(set, n->text != NULL ? n->text : "",
		    n->text != NULL ? n->len : 0);
		c->len = n->text != NULL ? n->len : 0;
		if (key)
			c->style = NODE_STRING;
		else if (c->style == NODE_PLAIN)
			c->style = plain_style(c);
		return c;
	}
	c->vals = sa_array(set, n->n, sizeof(*c->vals));
	if (n->kind == NODE_MAP)
		c->keys = sa_array(set, n->n, sizeof(*c->keys));
	for (i = 0; i < n->n; i++) {
		if (n->kind == NODE_MAP)
			c->keys[i] = sa_copy(set, n->keys[i], true);
		c->vals[i] = sa_copy(set, n->vals[i], false);
	}
	return c;
}

/* ---- instance types and JSON equality ----------------------------------- */

static unsigned
node_type(const struct node *n)
{
	enum node_style	st;

	if (n->kind == NODE_MAP)
		return T_OBJECT;
	if (n->kind == NODE_SEQ)
		return T_ARRAY;
	st = n->style == NODE_PLAIN ? plain_style(n) : n->style;
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

static bool
node_true(const struct node *n)
{
	return n->style == NODE_TRUE ||
	    (n->style == NODE_PLAIN && strcmp(n->text, "true") == 0);
}

static const char *
type_name(unsigned t)
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

static bool	json_equal(const struct node *, const struct node *);

static const struct node *
map_find(const struct node *m, const struct node *key)
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
kv_cmp(const void *va, const void *vb)
{
	const struct kv	*a = va, *b = vb;
	size_t		 l = a->k->len < b->k->len ? a->k->len : b->k->len;
	int		 r;

	if ((r = memcmp(a->k->text, b->k->text, l)) != 0)
		return r;
	return a->k->len < b->k->len ? -1 : a->k->len > b->k->len;
}

static struct kv *
map_sorted(const struct node *m)
{
	struct kv	*v;
	size_t		 i;

	v = bw_reallocarray(NULL, m->n, sizeof(*v));
	for (i = 0; i < m->n; i++) {
		v[i].k = m->keys[i];
		v[i].v = m->vals[i];
	}
	qsort(v, m->n, sizeof(*v), kv_cmp);
	return v;
}

/* Large objects: compare sorted member lists (n log n, never n^2). */
static bool
map_equal_sorted(const struct node *a, const struct node *b)
{
	struct kv	*ka, *kb;
	size_t		 i;
	bool		 eq = true;

	ka = map_sorted(a);
	kb = map_sorted(b);
	for (i = 0; i < a->n && eq; i++)
		eq = kv_cmp(&ka[i], &kb[i]) == 0 &&
		    json_equal(ka[i].v, kb[i].v);
	free(ka);
	free(kb);
	return eq;
}

static bool
map_equal(const struct node *a, const struct node *b)
{
	const struct node	*v;
	size_t			 i;

	if (a->n != b->n)
		return false;
	if (a->n > SCHEMA_UNIQUE_LINEAR)
		return map_equal_sorted(a, b);
	for (i = 0; i < a->n; i++)
		if ((v = map_find(b, a->keys[i])) == NULL ||
		    !json_equal(a->vals[i], v))
			return false;
	return true;
}

static bool
json_equal(const struct node *a, const struct node *b)
{
	struct jnum	na, nb;
	unsigned	ta = node_type(a), tb = node_type(b);
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
		return node_true(a) == node_true(b);
	case T_NULL:
		return true;
	case T_ARRAY:
		if (a->n != b->n)
			return false;
		for (i = 0; i < a->n; i++)
			if (!json_equal(a->vals[i], b->vals[i]))
				return false;
		return true;
	default:
		return map_equal(a, b);
	}
}

static uint64_t
hash_bytes(uint64_t h, const void *p, size_t len)
{
	const unsigned char	*s = p;
	size_t			 i;

	for (i = 0; i < len; i++)
		h = (h ^ s[i]) * 0x100000001b3ULL;
	return h;
}

/*
 * A hash consistent with json_equal (objects: order-independent sum),
 * keyed by a random per-set seed so that a client cannot aim many
 * different items at one bucket of uniqueItems.
 */
static uint64_t
json_hash(const struct node *n, uint64_t seed)
{
	struct jnum	num;
	uint64_t	h = 0xcbf29ce484222325ULL ^ seed, sum = 0;
	unsigned	t = node_type(n);
	size_t		i;

	h = hash_bytes(h, &t, sizeof(t));
	switch (t) {
	case T_NUMBER:
		if (jnum_parse(&num, n->text, n->len) == 0)
			h = jnum_hash(&num, h);
		return h;
	case T_STRING:
		return hash_bytes(h, n->text, n->len);
	case T_BOOL:
		return hash_bytes(h, "t", node_true(n));
	case T_ARRAY:
		for (i = 0; i < n->n; i++)
			h = (h ^ json_hash(n->vals[i], seed)) *
			    0x100000001b3ULL;
		return h;
	case T_OBJECT:
		for (i = 0; i < n->n; i++)
			sum += hash_bytes(0xcbf29ce484222325ULL ^ seed,
			    n->keys[i]->text, n->keys[i]->len) *
			    (json_hash(n->vals[i], seed) | 1);
		return h ^ sum;
	default:
		return h;
	}
}

/* ---- formats (SPEC 6) ---------------------------------------------------- */

static bool
c_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool
c_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool
c_hex(char c)
{
	return c_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* n ASCII digits at s, value in *v. */
static bool
fmt_num(const char *s, size_t n, int *v)
{
	size_t	i;

	*v = 0;
	for (i = 0; i < n; i++) {
		if (!c_digit(s[i]))
			return false;
		*v = *v * 10 + (s[i] - '0');
	}
	return true;
}

/* full-date = date-fullyear "-" date-month "-" date-mday (10 bytes). */
static bool
fmt_full_date(const char *s)
{
	static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31,
	    30, 31 };
	int	y, m, d, max;

	if (!fmt_num(s, 4, &y) || s[4] != '-' || !fmt_num(s + 5, 2, &m) ||
	    s[7] != '-' || !fmt_num(s + 8, 2, &d) || m < 1 || m > 12)
		return false;
	max = mdays[m - 1];
	if (m == 2 && y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))
		max = 29;
	return d >= 1 && d <= max;
}

static bool
fmt_date(const char *s, size_t len)
{
	return len == 10 && fmt_full_date(s);
}

/*
 * full-time = hh:mm:ss[.frac] (Z | +hh:mm | -hh:mm), T and Z in either
 * case (RFC 3339 5.6 note).  Second 60 is a leap second: valid only when
 * the time, brought to UTC by the offset, is 23:59:60.
 */
static bool
fmt_full_time(const char *s, size_t len)
{
	int	h, m, sec, oh = 0, om = 0, utc, sign = 0;
	size_t	i = 8;

	if (len < 9 || !fmt_num(s, 2, &h) || s[2] != ':' ||
	    !fmt_num(s + 3, 2, &m) || s[5] != ':' || !fmt_num(s + 6, 2, &sec))
		return false;
	if (h > 23 || m > 59 || sec > 60)
		return false;
	if (s[i] == '.') {
		for (i++; i < len && c_digit(s[i]); i++)
			;
		if (i == 9)
			return false;
	}
	if (i + 1 == len && (s[i] == 'Z' || s[i] == 'z'))
		sign = 0;
	else if (i + 6 == len && (s[i] == '+' || s[i] == '-')) {
		sign = s[i] == '+' ? 1 : -1;
		if (!fmt_num(s + i + 1, 2, &oh) || s[i + 3] != ':' ||
		    !fmt_num(s + i + 4, 2, &om) || oh > 23 || om > 59)
			return false;
	} else
		return false;
	if (sec == 60) {
		utc = ((h * 60 + m) - sign * (oh * 60 + om) + 2 * 1440) % 1440;
		return utc == 23 * 60 + 59;
	}
	return true;
}

static bool
fmt_date_time(const char *s, size_t len)
{
	return len > 11 && fmt_full_date(s) && (s[10] == 'T' ||
	    s[10] == 't') && fmt_full_time(s + 11, len - 11);
}

static bool
fmt_atext(char c)
{
	return c_alpha(c) || c_digit(c) || (c != '\0' &&
	    strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

/* Domain = sub-domain *("." sub-domain), Let-dig [Ldh-str] each. */
static bool
fmt_domain(const char *s, size_t len)
{
	size_t	i, start = 0;

	if (len == 0 || len > 253)
		return false;
	for (i = 0; i <= len; i++) {
		if (i < len && s[i] != '.') {
			if (!c_alpha(s[i]) && !c_digit(s[i]) && s[i] != '-')
				return false;
			continue;
		}
		if (i == start || i - start > 63 || s[start] == '-' ||
		    s[i - 1] == '-')
			return false;
		start = i + 1;
	}
	return true;
}

/* RFC 5321 Mailbox = Dot-string "@" Domain (no quoted string, no literal). */
static bool
fmt_email(const char *s, size_t len)
{
	const char	*at;
	size_t		 i, ll;

	if (len > 254 || (at = memchr(s, '@', len)) == NULL)
		return false;
	ll = (size_t)(at - s);
	if (ll == 0 || ll > 64 || s[0] == '.' || s[ll - 1] == '.')
		return false;
	for (i = 0; i < ll; i++) {
		if (s[i] == '.') {
			if (s[i + 1] == '.')
				return false;
		} else if (!fmt_atext(s[i]))
			return false;
	}
	return fmt_domain(at + 1, len - ll - 1);
}

static bool
fmt_uuid(const char *s, size_t len)
{
	size_t	i;

	if (len != 36)
		return false;
	for (i = 0; i < len; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return false;
		} else if (!c_hex(s[i]))
			return false;
	}
	return true;
}

/* Dotted quad, each part 0-255 without leading zeros. */
static bool
fmt_ipv4(const char *s, size_t len)
{
	size_t	i = 0, part, d;
	int	v;

	for (part = 0; part < 4; part++) {
		if (part > 0) {
			if (i >= len || s[i] != '.')
				return false;
			i++;
		}
		for (d = 0, v = 0; i < len && c_digit(s[i]) && d < 4; d++, i++)
			v = v * 10 + (s[i] - '0');
		if (d == 0 || d > 3 || v > 255 || (d > 1 && s[i - d] == '0'))
			return false;
	}
	return i == len;
}

/*
 * RFC 4291 2.2: eight groups of 1-4 hex digits, one "::" standing for at
 * least one zero group, an IPv4 dotted quad as the last 32 bits.  Zones
 * (RFC 6874 "%") are not part of an address.
 */
static bool
fmt_ipv6(const char *s, size_t len)
{
	size_t	i = 0, j, groups = 0;
	bool	dbl = false;

	if (len >= 2 && s[0] == ':' && s[1] == ':') {
		dbl = true;
		i = 2;
	}
	while (i < len) {
		for (j = i; j < len && s[j] != ':'; j++)
			;
		if (memchr(s + i, '.', j - i) != NULL) {
			if (j != len || !fmt_ipv4(s + i, j - i))
				return false;
			groups += 2;
			break;
		}
		if (j == i || j - i > 4)
			return false;
		for (; i < j; i++)
			if (!c_hex(s[i]))
				return false;
		groups++;
		if (i == len)
			break;
		if (i + 1 < len && s[i + 1] == ':') {
			if (dbl)
				return false;
			dbl = true;
			i += 2;
		} else if (++i == len)
			return false;
	}
	return dbl ? groups <= 7 : groups == 8;
}

static bool
uri_unreserved(char c)
{
	return c_alpha(c) || c_digit(c) || c == '-' || c == '.' || c == '_' ||
	    c == '~';
}

static bool
uri_subdelim(char c)
{
	return c != '\0' && strchr("!$&'()*+,;=", c) != NULL;
}

/* Bytes [i, end) made of unreserved, pct-encoded, sub-delims and extra. */
static bool
uri_span(const char *s, size_t i, size_t end, const char *extra)
{
	for (; i < end; i++) {
		if (s[i] == '%') {
			if (end - i < 3 || !c_hex(s[i + 1]) || !c_hex(s[i + 2]))
				return false;
			i += 2;
		} else if (!uri_unreserved(s[i]) && !uri_subdelim(s[i]) &&
		    (s[i] == '\0' || strchr(extra, s[i]) == NULL))
			return false;
	}
	return true;
}

/* IP-literal = "[" ( IPv6address / IPvFuture ) "]" (without brackets). */
static bool
uri_ip_literal(const char *s, size_t len)
{
	size_t	i = 1;

	if (len > 0 && (s[0] == 'v' || s[0] == 'V')) {
		while (i < len && c_hex(s[i]))
			i++;
		if (i == 1 || i >= len || s[i] != '.' || i + 1 == len)
			return false;
		for (i++; i < len; i++)
			if (!uri_unreserved(s[i]) && !uri_subdelim(s[i]) &&
			    s[i] != ':')
				return false;
		return true;
	}
	return fmt_ipv6(s, len);
}

/* authority = [ userinfo "@" ] host [ ":" port ] */
static bool
uri_authority(const char *s, size_t len)
{
	const char	*at, *close;
	size_t		 i = 0, h;

	if ((at = memchr(s, '@', len)) != NULL) {
		if (!uri_span(s, 0, (size_t)(at - s), ":"))
			return false;
		i = (size_t)(at - s) + 1;
	}
	if (i < len && s[i] == '[') {
		if ((close = memchr(s + i, ']', len - i)) == NULL ||
		    !uri_ip_literal(s + i + 1, (size_t)(close - s) - i - 1))
			return false;
		h = (size_t)(close - s) + 1;
	} else {
		for (h = i; h < len && s[h] != ':'; h++)
			;
		if (!uri_span(s, i, h, ""))
			return false;
	}
	if (h == len)
		return true;
	if (s[h] != ':')
		return false;
	for (h++; h < len; h++)
		if (!c_digit(s[h]))
			return false;
	return true;
}

/*
 * RFC 3986 absolute-URI = scheme ":" hier-part [ "?" query ]: no fragment,
 * ASCII only.  hier-part is "//" authority path-abempty, or a path.
 */
static bool
fmt_uri(const char *s, size_t len)
{
	size_t	i, a, q;

	if (len == 0 || !c_alpha(s[0]))
		return false;
	for (i = 1; i < len && (c_alpha(s[i]) || c_digit(s[i]) ||
	    s[i] == '+' || s[i] == '-' || s[i] == '.'); i++)
		;
	if (i == len || s[i] != ':')
		return false;
	i++;
	for (q = i; q < len && s[q] != '?'; q++)
		;
	if (q < len && !uri_span(s, q + 1, len, ":@/?"))
		return false;
	if (q - i >= 2 && s[i] == '/' && s[i + 1] == '/') {
		for (a = i + 2; a < q && s[a] != '/'; a++)
			;
		if (!uri_authority(s + i + 2, a - i - 2))
			return false;
		i = a;
	}
	return uri_span(s, i, q, ":@/");
}

static bool
fmt_check(enum sch_fmt f, const char *s, size_t len)
{
	switch (f) {
	case FMT_DATE_TIME:
		return fmt_date_time(s, len);
	case FMT_DATE:
		return fmt_date(s, len);
	case FMT_EMAIL:
		return fmt_email(s, len);
	case FMT_UUID:
		return fmt_uuid(s, len);
	case FMT_IPV4:
		return fmt_ipv4(s, len);
	case FMT_IPV6:
		return fmt_ipv6(s, len);
	case FMT_URI:
		return fmt_uri(s, len);
	default:
		return true;
	}
}

static enum sch_fmt
fmt_lookup(const char *name)
{
	size_t	i;

	for (i = 1; i < BW_ARRAY_LEN(fmt_names); i++)
		if (strcmp(fmt_names[i], name) == 0)
			return (enum sch_fmt)i;
	return FMT_NONE;
}

bool
schema_format_check(const char *format, const char *s, size_t len)
{
	enum sch_fmt	f = fmt_lookup(format);

	return f != FMT_NONE && fmt_check(f, s, len);
}

/* ---- compilation --------------------------------------------------------- */

static struct sch	*c_schema(struct cctx *, const struct node *, bool);

static void __attribute__((format(printf, 3, 4)))
c_err(struct cctx *c, const struct node *at, const char *fmt, ...)
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

/*
 * Copies at most 40 bytes of configuration text into a message, escaped
 * by jsonw (bufsz of at least 8); a cut excerpt ends in "...".
 */
static const char *
c_excerpt(const char *s, size_t len, char *buf, size_t bufsz)
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

static struct sch *
memo_get(struct schema_set *set, const struct node *n, unsigned key)
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

/* Inserts into a table that has a free slot (memo_put keeps it half full). */
static void
memo_insert(struct schema_set *set, const struct node *n, unsigned key,
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
memo_put(struct schema_set *set, const struct node *n, unsigned key,
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
				memo_insert(set, old[j].node, old[j].key,
				    old[j].s);
		free(old);
	}
	memo_insert(set, n, key, s);
}

static struct sch *
sch_new(struct cctx *c, const struct node *src)
{
	struct schema_set	*set = c->set;
	struct sch		*s;

	s = sa_alloc(set, sizeof(*s));
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
v_is(const struct node *v, unsigned t)
{
	return v->kind == NODE_SCALAR ? (node_type(v) & t) != 0 :
	    (v->kind == NODE_MAP ? T_OBJECT : T_ARRAY) & t;
}

/* A non-negative integer keyword value; huge values saturate. */
static int
c_count(struct cctx *c, const struct node *v, const char *kw, uint64_t *out)
{
	struct jnum	n;
	char		buf[32];

	if (!v_is(v, T_NUMBER) || jnum_parse(&n, v->text, v->len) == -1 ||
	    !jnum_is_integer(&n) || n.neg) {
		c_err(c, v, "%s must be a non-negative integer", kw);
		return -1;
	}
	if (jnum_canonical(&n, buf, sizeof(buf)) == -1)
		*out = UINT64_MAX;
	else
		*out = strtoull(buf, NULL, 10);
	return 0;
}

static pcre2_code *
c_regex(struct cctx *c, const struct node *v)
{
	pcre2_code	*re;
	PCRE2_UCHAR	 msg[128];
	PCRE2_SIZE	 off;
	int		 code;
	struct schema_set *set = c->set;

	if (!v_is(v, T_STRING)) {
		c_err(c, v, "pattern must be a string");
		return NULL;
	}
	re = pcre2_compile((PCRE2_SPTR)v->text, v->len, PCRE2_UTF |
	    PCRE2_DOLLAR_ENDONLY | PCRE2_ALT_BSUX | PCRE2_NEVER_UCP |
	    PCRE2_NEVER_BACKSLASH_C, &code, &off, NULL);
	if (re == NULL) {
		pcre2_get_error_message(code, msg, sizeof(msg));
		c_err(c, v, "invalid pattern at offset %zu: %s", (size_t)off,
		    (const char *)msg);
		return NULL;
	}
	set->codes = bw_reallocarray(set->codes, set->ncodes + 1,
	    sizeof(*set->codes));
	set->codes[set->ncodes++] = re;
	return re;
}

static struct sch_num *
c_num(struct cctx *c, struct sch *s)
{
	if (s->num == NULL)
		s->num = sa_alloc(c->set, sizeof(*s->num));
	return s->num;
}

static struct sch_str *
c_str(struct cctx *c, struct sch *s)
{
	if (s->str == NULL) {
		s->str = sa_alloc(c->set, sizeof(*s->str));
		s->str->maxl = UINT64_MAX;
	}
	return s->str;
}

static struct sch_arr *
c_arr(struct cctx *c, struct sch *s)
{
	if (s->arr == NULL) {
		s->arr = sa_alloc(c->set, sizeof(*s->arr));
		s->arr->maxi = UINT64_MAX;
		s->arr->minc = 1;
		s->arr->maxc = UINT64_MAX;
	}
	return s->arr;
}

static struct sch_app *
c_app(struct cctx *c, struct sch *s)
{
	if (s->app == NULL)
		s->app = sa_alloc(c->set, sizeof(*s->app));
	return s->app;
}

static uint32_t
name_hash(const char *s, size_t len)
{
	return (uint32_t)hash_bytes(0xcbf29ce484222325ULL, s, len);
}

static int64_t
obj_lookup(const struct sch_obj *o, const char *s, size_t len)
{
	uint32_t		 i, e;
	const struct sch_name	*nm;

	if (o->table == NULL)
		return -1;
	for (i = name_hash(s, len) & o->mask; (e = o->table[i]) != 0;
	    i = (i + 1) & o->mask) {
		nm = &o->names[e - 1];
		if (nm->len == len && memcmp(nm->name, s, len) == 0)
			return e - 1;
	}
	return -1;
}

/* Counts the names a subschema may mention, to size its table once. */
static size_t
c_obj_capacity(const struct node *m)
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
c_obj(struct cctx *c, struct sch *s)
{
	struct sch_obj	*o;
	size_t		 cap, tsz = 4;

	if (s->obj != NULL)
		return s->obj;
	o = s->obj = sa_alloc(c->set, sizeof(*s->obj));
	o->maxp = UINT64_MAX;
	cap = c_obj_capacity(s->src);
	if (cap > 0) {
		while (tsz < cap * 2)
			tsz *= 2;
		o->names = sa_array(c->set, cap, sizeof(*o->names));
		o->capnames = cap;
		o->table = sa_array(c->set, tsz, sizeof(*o->table));
		o->mask = (uint32_t)tsz - 1;
	}
	return o;
}

static struct sch_name *
c_name(struct cctx *c, struct sch *s, const struct node *k)
{
	struct sch_obj	*o = c_obj(c, s);
	struct sch_name	*nm;
	int64_t		 idx;
	uint32_t	 i;

	if ((idx = obj_lookup(o, k->text, k->len)) >= 0)
		return &o->names[idx];
	if (o->nnames == o->capnames)
		abort();
	nm = &o->names[o->nnames++];
	nm->name = k->text;
	nm->len = k->len;
	for (i = name_hash(k->text, k->len) & o->mask; o->table[i] != 0;
	    i = (i + 1) & o->mask)
		;
	o->table[i] = (uint32_t)o->nnames;
	return nm;
}

/* A list of unique strings (required, dependentRequired). */
static int
c_string_list(struct cctx *c, const struct node *v, const char *kw)
{
	size_t	i, j;

	if (v->kind != NODE_SEQ) {
		c_err(c, v, "%s must be an array of strings", kw);
		return -1;
	}
	for (i = 0; i < v->n; i++) {
		if (!v_is(v->vals[i], T_STRING)) {
			c_err(c, v->vals[i], "%s must hold strings", kw);
			return -1;
		}
		for (j = 0; j < i; j++)
			if (json_equal(v->vals[i], v->vals[j])) {
				c_err(c, v->vals[i], "%s: duplicate name", kw);
				return -1;
			}
	}
	return 0;
}

static struct sch **
c_schema_list(struct cctx *c, const struct node *v, const char *kw,
    size_t *n, bool exempt)
{
	struct sch	**list;
	size_t		  i;

	if (v->kind != NODE_SEQ || v->n == 0) {
		c_err(c, v, "%s must be a non-empty array of schemas", kw);
		return NULL;
	}
	list = sa_array(c->set, v->n, sizeof(*list));
	for (i = 0; i < v->n; i++)
		list[i] = c_schema(c, v->vals[i], exempt);
	*n = v->n;
	return list;
}

/* Keyword handlers: (context, subschema, key node, value node). */
typedef void	(*kw_fn)(struct cctx *, struct sch *, const struct node *,
		    const struct node *);

static void
kw_schema_uri(struct cctx *c, struct sch *s, const struct node *k,
    const struct node *v)
{
	(void)s;
	(void)k;
	if (!v_is(v, T_STRING) || strcmp(v->text, SCHEMA_URI_2020) != 0)
		c_err(c, v, "$schema must be \"%s\"", SCHEMA_URI_2020);
}

static void
kw_string_annot(struct cctx *c, struct sch *s, const struct node *k,
    const struct node *v)
{
	(void)s;
	if (!v_is(v, T_STRING))
		c_err(c, v, "%s must be a string", k->text);
}

static void
kw_bool_annot(struct cctx *c, struct sch *s, const struct node *k,
    const struct node *v)
{
	(void)s;
	if (!v_is(v, T_BOOL))
		c_err(c, v, "%s must be a boolean", k->text);
}

static void
kw_examples(struct cctx *c, struct sch *s, const struct node *k,
    const struct node *v)
{
	(void)s;
	(void)k;
	if (v->kind != NODE_SEQ)
		c_err(c, v, "examples must be an array");
}

static void
kw_default(struct cctx *c, struct sch *s, const struct node *k,
    const struct node *v)
{
	(void)c;
	(void)k;
	s->def = v;
}

static void
kw_defs(struct cctx *c, struct sch *s, const struct node *k,
    const struct node *v)
{
	size_t	i;

	(void)s;
	(void)k;
	if (v->kind != NODE_MAP) {
		c_err(c, v, "$defs must be an object");
		return;
	}
	for (i = 0; i < v->n; i++)
		c_schema(c, v->vals[i], false);
}

static void
kw_ref(struct cctx *c, struct sch *s, const struct node *k,
    const struct node *v)
{
	struct pending	*p;

	(void)k;
	if (!v_is(v, T_STRING)) {
		c_err(c, v, "$ref must be a string");
		return;
	}
	c_app(c, s)->refsrc = v;
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

static const char *const type_names[] = { "null", "boolean", "object",
    "array", "number", "string", "integer" };

static int
c_type_one(struct cctx *c, const struct node *v, unsigned *mask)
{
	size_t	i;

	if (v_is(v, T_STRING))
		for (i = 0; i < BW_ARRAY_LEN(type_names); i++)
			if (strcmp(v->text, type_names[i]) == 0) {
				if (*mask & (1u << i)) {
					c_err(c, v, "type: duplicate name");
					return -1;
				}
				*mask |= 1u << i;
				return 0;
			}
	c_err(c, v, "type must be one of null, boolean, object, array, "
	    "number, string, integer");
	return -1;
}

static void
kw_type(struct cctx *c, struct sch *s, const struct node *k,
    const struct node *v)
{
	unsigned	mask = 0;
	size_t		i;

	(void)k;
	if (v->kind == NODE_SEQ) {
		if (v->n == 0)
			c_err(c, v, "type must not be an empty array");
		for (i = 0; i < v->n; i++)
			if (c_type_one(c, v->vals[i], &mask) == -1)
				return;
	} else if (c_type_one(c, v, &mask) == -1)
		return;
	s->types = mask;
}

static void
kw_enum(struct cctx *c, struct sch *s, const struct node *k,
    const struct node *v)
{
	(void)k;
	if (v->kind != NODE_SEQ) {
		c_err(c, v, "enum must be an array");
		return;
	}
	s->flags |= SCH_ENUM;
	s->enumv = v->vals;
	s->nenum = v->n;
}

static void
kw_const(struct cctx *c, struct sch *s, const struct node *k,
    const struct node *v)
{
	(void)c;
	(void)k;
	s->flags |= SCH_CONST;
	s->constv = v;
}

static void
kw_bound(struct cctx *c, struct sch *s, const struct node *k,
    const struct node *v)
{
	struct sch_num	*num = c_num(c, s);
	struct jnum	 n;

	if (!v_is(v, T_NUMBER) || jnum_parse(&n, v->text, v->len) == -1) {
		c_err(c, v, "%s must be a number", k->text);
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
kw_multiple(struct cctx *c, struct sch *s, const struct node *k,
    const struct node *v)
{
	struct sch_num	*num = c_num(c, s);
	struct jnum	 n;

	(void)k;
	if (!v_is(v, T_NUMBER) || jnum_parse(&n, v->text, v->len) == -1 ||
	    n.neg || n.nd == 0) {
		c_err(c, v, "multipleOf must be a number greater than 0");
		return;
	}
	if (jnum_divisor(&n, &num->dm, &num->em) == -1) {
		c_err(c, v, "multipleOf: more than %d significant digits",
		    JNUM_MULTIPLE_DIGITS);
		return;
	}
	num->has |= NUM_MULT;
	num->mult_s = v->text;
}

static void
kw_length(struct cctx *c, struct sch *s, const struct node *k,
    const struct node *v)
{
	uint64_t	x;

	if (c_count(c, v, k->text, &x) == -1)
		return;
	if (strcmp(k->text, "minLength") == 0)
		c_str(c, s)->minl = x;
	else
		c_str(c, s)->maxl = x;
}

static void
kw_pattern(struct cctx *c, struct sch *s, const struct node *k,
    const struct node *v)
{
	(void)k;
	c_str(c, s)->re = c_regex(c, v);
}

static void
kw_format(struct cctx *c, struct sch *s, const struct node *k,
    const struct node *v)
{
	enum sch_fmt	f = FMT_NONE;
	char		buf[64];

	(void)k;
	if (v_is(v, T_STRING))
		f = fmt_lookup(v->text);
	if (f == FMT_NONE) {
		c_err(c, v, "unsupported format \"%s\" (date-time, date, "
		    "email, uuid, ipv4, ipv6, uri)", v->kind == NODE_SCALAR ?
		    c_excerpt(v->text, v->len, buf, sizeof(buf)) : "");
		return;
	}
	c_str(c, s)->fmt = f;
}

static void
kw_items_count(struct cctx *c, struct sch *s, const struct node *k,
    const struct node *v)
{
	struct sch_arr	*a = c_arr(c, s);
	uint64_t	 x;

	if (c_count(c, v, k->text, &x) == -1)
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
kw_unique(struct cctx *c, struct sch *s, const struct node *k,
    const struct node *v)
{
	(void)k;
	if (!v_is(v, T_BOOL)) {
		c_err(c, v, "uniqueItems must be a boolean");
		return;
	}
	c_arr(c, s)->unique = node_true(v);
}

static void
kw_items(struct cctx *c, struct sch *s, const struct node *k,
    const struct node *v)
{
	(void)k;
	c_arr(c, s)->items = c_schema(c, v, false);
}

static void
kw_prefix(struct cctx *c, struct sch *s, const struct node *k,
    const struct node *v)
{
	struct sch_arr	*a = c_arr(c, s);

	(void)k;
	a->prefix = c_schema_list(c, v, "prefixItems", &a->nprefix, false);
}

static void
kw_contains(struct cctx *c, struct sch *s, const struct node *k,
    const struct node *v)
{
	(void)k;
	c_arr(c, s)->contains = c_schema(c, v, false);
}

static void
kw_props_count(struct cctx *c, struct sch *s, const struct node *k,
    const struct node *v)
{
	struct sch_obj	*o = c_obj(c, s);
	uint64_t	 x;

	if (c_count(c, v, k->text, &x) == -1)
		return;
	if (strcmp(k->text, "minProperties") == 0)
		o->minp = x;
	else
		o->maxp = x;
}

static void
kw_properties(struct cctx *c, struct sch *s, const struct node *k,
    const struct node *v)
{
	size_t	i;

	(void)k;
	if (v->kind != NODE_MAP) {
		c_err(c, v, "properties must be an object");
		return;
	}
	for (i = 0; i < v->n; i++)
		c_name(c, s, v->keys[i])->prop = c_schema(c, v->vals[i],
		    false);
}

static void
kw_required(struct cctx *c, struct sch *s, const struct node *k,
    const struct node *v)
{
	struct sch_obj	*o;
	size_t		 i;

	(void)k;
	if (c_string_list(c, v, "required") == -1)
		return;
	o = c_obj(c, s);
	o->required = sa_array(c->set, v->n, sizeof(*o->required));
	for (i = 0; i < v->n; i++) {
		c_name(c, s, v->vals[i])->required = true;
		o->required[o->nrequired++] = (uint32_t)obj_lookup(o,
		    v->vals[i]->text, v->vals[i]->len);
	}
}

static void
kw_dep_required(struct cctx *c, struct sch *s, const struct node *k,
    const struct node *v)
{
	struct sch_name	*nm;
	const struct node *list;
	size_t		 i, j;

	(void)k;
	if (v->kind != NODE_MAP) {
		c_err(c, v, "dependentRequired must be an object");
		return;
	}
	for (i = 0; i < v->n; i++) {
		list = v->vals[i];
		if (c_string_list(c, list, "dependentRequired") == -1)
			continue;
		nm = c_name(c, s, v->keys[i]);
		nm->depreq = sa_array(c->set, list->n, sizeof(*nm->depreq));
		for (j = 0; j < list->n; j++) {
			c_name(c, s, list->vals[j]);
			nm = c_name(c, s, v->keys[i]);
			nm->depreq[nm->ndepreq++] = (uint32_t)obj_lookup(s->obj,
			    list->vals[j]->text, list->vals[j]->len);
		}
		s->obj->deps = true;
	}
}

static void
kw_dep_schemas(struct cctx *c, struct sch *s, const struct node *k,
    const struct node *v)
{
	size_t	i;

	(void)k;
	if (v->kind != NODE_MAP) {
		c_err(c, v, "dependentSchemas must be an object");
		return;
	}
	for (i = 0; i < v->n; i++) {
		c_name(c, s, v->keys[i])->depschema = c_schema(c, v->vals[i],
		    true);
		s->obj->deps = true;
	}
}

static void
kw_pattern_props(struct cctx *c, struct sch *s, const struct node *k,
    const struct node *v)
{
	struct sch_obj	*o;
	size_t		 i;

	(void)k;
	if (v->kind != NODE_MAP) {
		c_err(c, v, "patternProperties must be an object");
		return;
	}
	o = c_obj(c, s);
	o->pats = sa_array(c->set, v->n, sizeof(*o->pats));
	for (i = 0; i < v->n; i++) {
		o->pats[i].re = c_regex(c, v->keys[i]);
		o->pats[i].s = c_schema(c, v->vals[i], false);
	}
	o->npats = v->n;
}

static void
kw_additional(struct cctx *c, struct sch *s, const struct node *k,
    const struct node *v)
{
	(void)k;
	c_obj(c, s)->additional = c_schema(c, v, false);
}

static void
kw_prop_names(struct cctx *c, struct sch *s, const struct node *k,
    const struct node *v)
{
	(void)k;
	c_obj(c, s)->propnames = c_schema(c, v, false);
}

static void
kw_combinator(struct cctx *c, struct sch *s, const struct node *k,
    const struct node *v)
{
	struct sch_app	*a = c_app(c, s);

	if (strcmp(k->text, "allOf") == 0)
		a->all = c_schema_list(c, v, "allOf", &a->nall, true);
	else if (strcmp(k->text, "anyOf") == 0)
		a->any = c_schema_list(c, v, "anyOf", &a->nany, true);
	else
		a->one = c_schema_list(c, v, "oneOf", &a->none, true);
}

static void
kw_single(struct cctx *c, struct sch *s, const struct node *k,
    const struct node *v)
{
	struct sch_app	*a = c_app(c, s);
	struct sch	*sub = c_schema(c, v, true);

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
static const struct kw_def {
	const char	*name;
	kw_fn		 fn;
	bool		 annot;
	bool		 comb;
} kw_table[] = {
	{ "$schema", kw_schema_uri, true, false },
	{ "$comment", kw_string_annot, true, false },
	{ "$defs", kw_defs, true, false },
	{ "$ref", kw_ref, true, false },
	{ "title", kw_string_annot, true, false },
	{ "description", kw_string_annot, true, false },
	{ "default", kw_default, true, false },
	{ "examples", kw_examples, true, false },
	{ "deprecated", kw_bool_annot, true, false },
	{ "readOnly", kw_bool_annot, true, false },
	{ "writeOnly", kw_bool_annot, true, false },
	{ "type", kw_type, false, false },
	{ "enum", kw_enum, false, false },
	{ "const", kw_const, false, false },
	{ "minimum", kw_bound, false, false },
	{ "maximum", kw_bound, false, false },
	{ "exclusiveMinimum", kw_bound, false, false },
	{ "exclusiveMaximum", kw_bound, false, false },
	{ "multipleOf", kw_multiple, false, false },
	{ "minLength", kw_length, false, false },
	{ "maxLength", kw_length, false, false },
	{ "pattern", kw_pattern, false, false },
	{ "format", kw_format, false, false },
	{ "items", kw_items, false, false },
	{ "prefixItems", kw_prefix, false, false },
	{ "contains", kw_contains, false, false },
	{ "minContains", kw_items_count, false, false },
	{ "maxContains", kw_items_count, false, false },
	{ "minItems", kw_items_count, false, false },
	{ "maxItems", kw_items_count, false, false },
	{ "uniqueItems", kw_unique, false, false },
	{ "properties", kw_properties, false, false },
	{ "required", kw_required, false, false },
	{ "additionalProperties", kw_additional, false, false },
	{ "patternProperties", kw_pattern_props, false, false },
	{ "propertyNames", kw_prop_names, false, false },
	{ "minProperties", kw_props_count, false, false },
	{ "maxProperties", kw_props_count, false, false },
	{ "dependentRequired", kw_dep_required, false, false },
	{ "dependentSchemas", kw_dep_schemas, false, true },
	{ "allOf", kw_combinator, false, true },
	{ "anyOf", kw_combinator, false, true },
	{ "oneOf", kw_combinator, false, true },
	{ "not", kw_single, false, true },
	{ "if", kw_single, false, true },
	{ "then", kw_single, false, true },
	{ "else", kw_single, false, true },
};

static const struct kw_def *
kw_find(const struct node *k)
{
	size_t	i;

	for (i = 0; i < BW_ARRAY_LEN(kw_table); i++)
		if (strlen(kw_table[i].name) == k->len &&
		    memcmp(kw_table[i].name, k->text, k->len) == 0)
			return &kw_table[i];
	return NULL;
}

/* Bound on a chain of $ref followed by the body rule (cycles end it). */
#define C_REF_HOPS	32

static struct sdoc *set_find_doc(struct schema_set *, const char *, size_t);
static const struct node *ref_local(const struct node *, const char *,
    size_t);

/* The node a $ref names, and its document in *docp; NULL if none. */
static const struct node *
c_ref_target(struct schema_set *set, struct sdoc **docp,
    const struct node *r)
{
	if (r->len > 0 && r->text[0] == '#')
		return ref_local((*docp)->root, r->text, r->len);
	if ((*docp = set_find_doc(set, r->text, r->len)) != NULL)
		return (*docp)->root;
	return NULL;
}

static bool
c_has_props(const struct node *m)
{
	return m->kind == NODE_MAP && (node_get(m, "properties") != NULL ||
	    node_get(m, "patternProperties") != NULL);
}

/* Whether the target of m's $ref (followed through plain $refs) declares. */
static bool
c_ref_declares(struct cctx *c, const struct node *m)
{
	struct sdoc		*doc = c->doc;
	const struct node	*r;
	int			 hops;

	for (hops = 0; hops < C_REF_HOPS; hops++) {
		if ((r = node_get(m, "$ref")) == NULL || !v_is(r, T_STRING) ||
		    (m = c_ref_target(c->set, &doc, r)) == NULL)
			return false;
		if (c_has_props(m))
			return true;
		if (m->kind != NODE_MAP)
			return false;
	}
	return false;
}

/* Whether a direct member of the combinator k (value v) declares. */
static bool
c_members_declare(const struct node *k, const struct node *v)
{
	size_t	 i;

	if (v->kind == NODE_SEQ || (v->kind == NODE_MAP &&
	    strcmp(k->text, "dependentSchemas") == 0)) {
		for (i = 0; i < v->n; i++)
			if (c_has_props(v->vals[i]))
				return true;
		return false;
	}
	return c_has_props(v);
}

/*
 * Body mode (SPEC 6, mass assignment): properties or patternProperties
 * without additionalProperties close the object, unless this subschema is a
 * direct member of a combinator or a $ref with siblings.  When such a
 * member (or the target of such a $ref) declares properties or
 * patternProperties, additionalProperties must be stated next to it.
 */
static void
c_body_rules(struct cctx *c, struct sch *s, const struct node *m,
    bool exempt)
{
	const struct kw_def	*kd;
	const char		*comb = NULL;
	bool			 ref = false, sibling = false;
	size_t			 i;

	if (node_get(m, "additionalProperties") != NULL)
		return;
	for (i = 0; i < m->n; i++) {
		if ((kd = kw_find(m->keys[i])) == NULL)
			continue;
		if (strcmp(kd->name, "$ref") == 0)
			ref = true;
		else if (!kd->annot)
			sibling = true;
		if (kd->comb && comb == NULL &&
		    c_members_declare(m->keys[i], m->vals[i]))
			comb = kd->name;
	}
	if (ref && sibling && comb == NULL && c_ref_declares(c, m))
		comb = "$ref";
	if (comb != NULL) {
		c_err(c, m, "request body schema: additionalProperties must be "
		    "stated next to %s (a member declares properties)", comb);
		return;
	}
	if (!exempt && c_has_props(m))
		c_obj(c, s)->additional = c->set->sch_false;
}

static void
c_map(struct cctx *c, struct sch *s, const struct node *m, bool exempt)
{
	const struct kw_def	*kd;
	char			 buf[64];
	size_t			 i;

	for (i = 0; i < m->n; i++) {
		if ((kd = kw_find(m->keys[i])) == NULL) {
			c_err(c, m->keys[i], "unsupported schema keyword "
			    "\"%s\"", c_excerpt(m->keys[i]->text,
			    m->keys[i]->len, buf, sizeof(buf)));
			continue;
		}
		kd->fn(c, s, m->keys[i], m->vals[i]);
	}
	if (c->key & MEMO_BODY)
		c_body_rules(c, s, m, exempt);
}

static struct sch *
c_schema(struct cctx *c, const struct node *n, bool exempt)
{
	struct sch	*s;
	unsigned	 key = c->key;
	size_t		 before = c->errors;

	if ((key & MEMO_BODY) && exempt)
		key |= MEMO_EXEMPT;
	if ((s = memo_get(c->set, n, key)) != NULL)
		return s;
	s = sch_new(c, n);
	memo_put(c->set, n, key, s);
	if (n->kind == NODE_MAP)
		c_map(c, s, n, exempt);
	else if (n->kind == NODE_SCALAR && node_type(n) == T_BOOL) {
		if (!node_true(n))
			s->flags |= SCH_FALSE;
	} else
		c_err(c, n, "a schema must be an object or a boolean");
	if (c->errors != before)
		s->flags |= SCH_BAD;
	return s;
}

/* ---- references, cycles, sets ------------------------------------------- */

static struct sdoc *
set_find_doc(struct schema_set *set, const char *name, size_t len)
{
	size_t	i;

	for (i = 0; i < set->ndocs; i++)
		if (set->docs[i]->name != NULL &&
		    strlen(set->docs[i]->name) == len &&
		    memcmp(set->docs[i]->name, name, len) == 0)
			return set->docs[i];
	return NULL;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * One segment of a "#/..." reference: URI percent-decoding, then RFC 6901
 * ~1 and ~0.  Returns the decoded length or -1.
 */
static int
ref_segment(const char *s, size_t len, char *out, size_t outsz)
{
	size_t	i, o = 0;
	int	hi, lo;
	char	ch;

	for (i = 0; i < len; i++) {
		ch = s[i];
		if (ch == '%') {
			if (len - i < 3 || (hi = hexval(s[i + 1])) < 0 ||
			    (lo = hexval(s[i + 2])) < 0)
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
ref_member(const struct node *m, const char *seg, size_t len)
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
ref_local(const struct node *root, const char *s, size_t len)
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
		if ((sl = ref_segment(s + i + 1, j - i - 1, seg,
		    sizeof(seg))) == -1)
			return NULL;
		seg[sl] = '\0';
		if (nseg++ == 0 && strcmp(seg, "$defs") != 0)
			return NULL;
		if ((n = ref_member(n, seg, (size_t)sl)) == NULL)
			return NULL;
		i = j;
	}
	return nseg >= 2 ? n : NULL;
}

static void
c_resolve(struct cctx *c, struct pending *p)
{
	const struct node	*r = p->ref, *target;
	struct sdoc		*doc = p->doc, *saved = c->doc;
	char			 buf[64];

	c->doc = doc;
	if ((target = c_ref_target(c->set, &doc, r)) == NULL) {
		c_err(c, r, "unresolvable $ref \"%s\" (use \"#\", "
		    "\"#/$defs/...\" or the name of a schema)",
		    c_excerpt(r->text, r->len, buf, sizeof(buf)));
		p->from->flags |= SCH_BAD;
		c->doc = saved;
		return;
	}
	c->doc = doc;
	c->key = p->key;
	p->from->app->ref = c_schema(c, target, false);
	c->doc = saved;
}

/* Subschemas applied to the same instance (no progress). */
static size_t
sch_same_edges(const struct sch *s, struct sch **out, size_t max)
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
sch_edge_count(const struct sch *s)
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
c_err_in(struct cctx *c, const struct sch *s, const struct node *at,
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
	c_err(c, at, "%s", msg);
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
c_cycle(struct cctx *c, struct sch *s, unsigned depth)
{
	struct sch	**e;
	size_t		  n, i;
	unsigned	  best = 0, d;

	if (s->mark == 2)
		return s->nest;
	if (depth > SCHEMA_NEST_MAX)
		return SCHEMA_NEST_MAX + 1;
	s->mark = 1;
	n = sch_edge_count(s);
	e = bw_reallocarray(NULL, n, sizeof(*e));
	n = sch_same_edges(s, e, n);
	for (i = 0; i < n && best <= SCHEMA_NEST_MAX; i++) {
		if (e[i]->mark == 1) {
			c_err_in(c, s, s->app != NULL && s->app->ref == e[i] ?
			    s->app->refsrc : s->src,
			    "schema cycle without progress");
			s->flags |= SCH_BAD;
			best = SCHEMA_NEST_MAX + 1;
			break;
		}
		d = c_cycle(c, e[i], depth + 1) + 1;
		if (e[i]->flags & SCH_BAD)
			s->flags |= SCH_BAD;
		if (d > best)
			best = d;
	}
	free(e);
	s->mark = 2;
	s->nest = best;
	if (best > SCHEMA_NEST_MAX && depth == 0 && !(s->flags & SCH_BAD)) {
		c_err_in(c, s, s->src, "schema applies more than %d nested "
		    "subschemas to one value", SCHEMA_NEST_MAX);
		s->flags |= SCH_BAD;
	}
	return best;
}

static bool
sch_child_bad(const struct sch *s)
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
	n = sch_edge_count(s);
	e = bw_reallocarray(NULL, n, sizeof(*e));
	n = sch_same_edges(s, e, n);
	for (i = 0; i < n; i++)
		bad |= BAD(e[i]);
	free(e);
#undef BAD
	return bad;
}

/* Runs the pending references, the cycle check and failure propagation. */
static int
c_finish(struct cctx *c, size_t first)
{
	struct schema_set	*set = c->set;
	struct sdoc		*doc = c->doc;
	struct pending		 p;
	size_t			 i;
	bool			 changed;

	for (i = 0; i < c->npend; i++) {
		p = c->pend[i];
		c_resolve(c, &p);
	}
	free(c->pend);
	c->pend = NULL;
	c->npend = c->cappend = 0;
	for (i = first; i < set->nall; i++)
		c_cycle(c, set->all[i], 0);
	c->doc = doc;
	do {
		changed = false;
		for (i = first; i < set->nall; i++)
			if (!(set->all[i]->flags & SCH_BAD) &&
			    sch_child_bad(set->all[i])) {
				set->all[i]->flags |= SCH_BAD;
				changed = true;
			}
	} while (changed);
	return c->errors == 0 ? 0 : -1;
}

struct schema_set *
schema_set_new(void)
{
	struct schema_set	*set;

	set = bw_calloc(1, sizeof(*set));
	set->sch_false = sa_alloc(set, sizeof(struct sch));
	set->sch_false->flags = SCH_FALSE;
	set->sch_false->mark = 2;
	set->sch_true = sa_alloc(set, sizeof(struct sch));
	set->sch_true->mark = 2;
	if (bw_random(&set->seed, sizeof(set->seed)) == -1)
		set->seed = (uint64_t)(uintptr_t)set ^ 0x9e3779b97f4a7c15ULL;
	if ((set->mctx = pcre2_match_context_create(NULL)) == NULL ||
	    (set->mdata = pcre2_match_data_create(1, NULL)) == NULL)
		abort();
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
set_add_doc(struct schema_set *set, const char *name, const struct node *n,
    const char *file)
{
	struct sdoc	*doc;

	doc = bw_calloc(1, sizeof(*doc));
	doc->name = name != NULL ? sa_strndup(set, name, strlen(name)) : NULL;
	doc->file = file != NULL ? sa_strndup(set, file, strlen(file)) : NULL;
	doc->root = sa_copy(set, n, false);
	set->docs = bw_reallocarray(set->docs, set->ndocs + 1,
	    sizeof(*set->docs));
	set->docs[set->ndocs++] = doc;
	return doc;
}

int
schema_add_named(struct schema_set *set, const char *name,
    const struct node *n, const char *file, struct bw_diag *diag)
{
	if (set_find_doc(set, name, strlen(name)) != NULL) {
		if (diag != NULL)
			bw_diag_add(diag, file != NULL ? file : "<schema>",
			    n->line, n->col, "duplicate schema name");
		return -1;
	}
	set_add_doc(set, name, n, file);
	return 0;
}

static struct schema *
c_top(struct schema_set *set, struct sdoc *doc, enum schema_mode mode,
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
	root = c_schema(&c, doc->root, false);
	if (mode == SCHEMA_PARAM && (root->types & (T_OBJECT | T_ARRAY |
	    T_NULL)) != 0)
		c_err(&c, doc->root, "a parameter schema's type must be "
		    "integer, number, boolean or string");
	if (c_finish(&c, first) == -1 || (root->flags & SCH_BAD))
		return NULL;
	sc = sa_alloc(set, sizeof(*sc));
	sc->root = root;
	sc->set = set;
	sc->mode = mode;
	return sc;
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
		if (c_top(set, set->docs[i], SCHEMA_STANDARD, diag) == NULL)
			rc = -1;
	}
	return rc;
}

const struct schema *
schema_named(struct schema_set *set, const char *name, enum schema_mode mode,
    struct bw_diag *diag)
{
	struct sdoc	*doc;

	if ((doc = set_find_doc(set, name, strlen(name))) == NULL) {
		if (diag != NULL)
			bw_diag_add(diag, "<schema>", 1, 1,
			    "unknown schema name");
		return NULL;
	}
	return c_top(set, doc, mode, diag);
}

const struct schema *
schema_compile(struct schema_set *set, const struct node *n,
    enum schema_mode mode, const char *file, struct bw_diag *diag)
{
	struct sdoc	*doc;
	char		 buf[64];

	if (n->kind == NODE_SCALAR && node_type(n) != T_BOOL) {
		if ((doc = set_find_doc(set, n->text, n->len)) == NULL) {
			if (diag != NULL)
				bw_diag_add(diag, file != NULL ? file :
				    "<schema>", n->line, n->col, "unknown "
				    "schema \"%s\"", c_excerpt(n->text, n->len,
				    buf, sizeof(buf)));
			return NULL;
		}
		return c_top(set, doc, mode, diag);
	}
	doc = set_add_doc(set, NULL, n, file);
	return c_top(set, doc, mode, diag);
}

const struct node *
schema_default(const struct schema *sc)
{
	return sc->root->def;
}

/* ---- validation ---------------------------------------------------------- */

struct vseg {
	const struct node	*key;	/* NULL: array index */
	size_t			 idx;
};

struct vctx {
	struct schema_errors	*out;	/* NULL: only the verdict matters */
	struct schema_set	*set;
	int			 flags;
	unsigned		 depth;
	bool			 nul;
	size_t			 npath;
	struct vseg		 path[SCHEMA_PATH_MAX];
};

static bool	v_sch(struct vctx *, const struct sch *, struct node *);

/*
 * True when no further error can be recorded: from then on the first
 * failure ends the walk.  A full list keeps going until one more failure
 * shows that it is truncated.
 */
static bool
v_quiet(const struct vctx *v)
{
	return v->out == NULL || v->out->truncated;
}

static void
v_push(struct vctx *v, const struct node *key, size_t idx)
{
	if (v->npath < SCHEMA_PATH_MAX) {
		v->path[v->npath].key = key;
		v->path[v->npath].idx = idx;
	}
	v->npath++;
}

static void
v_pop(struct vctx *v)
{
	v->npath--;
}

/* One escaped segment ("/key" or "/index"); 0 when it does not fit. */
static size_t
v_segment(const struct vseg *sg, char *seg, size_t segsz)
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
v_pointer(const struct vctx *v, char *buf, size_t bufsz)
{
	char	seg[SCHEMA_POINTER_MAX];
	size_t	i, o = 0, sl;

	buf[0] = '\0';
	for (i = 0; i < v->npath && i < SCHEMA_PATH_MAX; i++) {
		sl = v_segment(&v->path[i], seg, sizeof(seg));
		if (sl == 0 || o + sl >= bufsz)
			return;
		memcpy(buf + o, seg, sl);
		o += sl;
		buf[o] = '\0';
	}
}

static void __attribute__((format(printf, 2, 3)))
v_err(struct vctx *v, const char *fmt, ...)
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
	v_pointer(v, e->pointer, sizeof(e->pointer));
	va_start(ap, fmt);
	bw_vformat(e->message, sizeof(e->message), fmt, ap);
	va_end(ap);
}

static bool
v_silent(struct vctx *v, const struct sch *s, struct node *in)
{
	struct schema_errors	*saved = v->out;
	bool			 ok;

	v->out = NULL;
	ok = v_sch(v, s, in);
	v->out = saved;
	return ok;
}

static const char *
types_text(unsigned types, char *buf, size_t bufsz)
{
	static const unsigned order[] = { T_OBJECT, T_ARRAY, T_STRING,
	    T_NUMBER, T_INTEGER, T_BOOL, T_NULL };
	size_t	i, o = 0;

	buf[0] = '\0';
	for (i = 0; i < BW_ARRAY_LEN(order); i++)
		if (types & order[i])
			o += (size_t)snprintf(buf + o, bufsz - o, "%s%s",
			    o == 0 ? "" : " or ", type_name(order[i]));
	return buf;
}

static void
v_canon(struct node *in, const struct jnum *n)
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
v_type(struct vctx *v, const struct sch *s, struct node *in, unsigned t)
{
	struct jnum	n;
	char		buf[96];

	if (s->types & t)
		return true;
	if (t == T_NUMBER && (s->types & T_INTEGER) &&
	    jnum_parse(&n, in->text, in->len) == 0 &&
	    jnum_is_integer(&n) && jnum_in_int64(&n)) {
		if (v->flags & SCHEMA_V_CANON)
			v_canon(in, &n);
		return true;
	}
	v_err(v, "must be %s", types_text(s->types, buf, sizeof(buf)));
	return false;
}

static bool
v_enum(struct vctx *v, const struct sch *s, const struct node *in)
{
	size_t	i;

	if ((s->flags & SCH_CONST) && !json_equal(in, s->constv)) {
		v_err(v, "must equal the constant value");
		return false;
	}
	if (!(s->flags & SCH_ENUM))
		return true;
	for (i = 0; i < s->nenum; i++)
		if (json_equal(in, s->enumv[i]))
			return true;
	v_err(v, "must be one of the allowed values");
	return false;
}

static bool
v_num(struct vctx *v, const struct sch_num *c, const struct node *in)
{
	struct jnum	n;
	bool		ok = true;

	if (jnum_parse(&n, in->text, in->len) == -1)
		return true;
	if ((c->has & NUM_MIN) && jnum_cmp(&n, &c->min) < 0) {
		v_err(v, "must be >= %.40s", c->min_s);
		ok = false;
	}
	if ((c->has & NUM_MAX) && jnum_cmp(&n, &c->max) > 0) {
		v_err(v, "must be <= %.40s", c->max_s);
		ok = false;
	}
	if ((c->has & NUM_XMIN) && jnum_cmp(&n, &c->xmin) <= 0) {
		v_err(v, "must be > %.40s", c->xmin_s);
		ok = false;
	}
	if ((c->has & NUM_XMAX) && jnum_cmp(&n, &c->xmax) >= 0) {
		v_err(v, "must be < %.40s", c->xmax_s);
		ok = false;
	}
	if ((c->has & NUM_MULT) && !jnum_multiple_of(&n, c->dm, c->em)) {
		v_err(v, "must be a multiple of %.40s", c->mult_s);
		ok = false;
	}
	return ok;
}

/* 1 match, 0 no match, -1 the match gave up (limit or bad input). */
static int
v_match(struct vctx *v, pcre2_code *re, const struct node *s)
{
	int	rc;

	rc = pcre2_match(re, (PCRE2_SPTR)s->text, s->len, 0, 0,
	    v->set->mdata, v->set->mctx);
	if (rc >= 0)
		return 1;
	return rc == PCRE2_ERROR_NOMATCH ? 0 : -1;
}

static size_t
utf8_count(const char *s, size_t len)
{
	size_t	i, n = 0;

	for (i = 0; i < len; i++)
		n += ((unsigned char)s[i] & 0xc0) != 0x80;
	return n;
}

static bool
v_str(struct vctx *v, const struct sch_str *c, const struct node *in)
{
	uint64_t	cp;
	bool		ok = true;
	int		m;

	if (c->minl > 0 || c->maxl < in->len) {
		cp = utf8_count(in->text, in->len);
		if (cp < c->minl) {
			v_err(v, "must be at least %llu characters long",
			    (unsigned long long)c->minl);
			ok = false;
		}
		if (cp > c->maxl) {
			v_err(v, "must be at most %llu characters long",
			    (unsigned long long)c->maxl);
			ok = false;
		}
	}
	if (c->re != NULL && (m = v_match(v, c->re, in)) != 1) {
		v_err(v, m == 0 ? "must match the pattern" :
		    "pattern match limit exceeded");
		ok = false;
	}
	if (c->fmt != FMT_NONE && !fmt_check(c->fmt, in->text, in->len)) {
		v_err(v, "must be a valid %s", fmt_names[c->fmt]);
		ok = false;
	}
	return ok;
}

#define SEEN_SET(b, i)	((b)[(i) / 64] |= (uint64_t)1 << ((i) % 64))
#define SEEN(b, i)	(((b)[(i) / 64] >> ((i) % 64)) & 1)

/* One member: properties, patternProperties, additionalProperties. */
static bool
v_member(struct vctx *v, const struct sch_obj *o, struct node *key,
    struct node *val, uint64_t *seen)
{
	int64_t	idx;
	size_t	i;
	bool	ok = true, matched = false;
	int	m;

	if ((idx = obj_lookup(o, key->text, key->len)) >= 0) {
		SEEN_SET(seen, (size_t)idx);
		if (o->names[idx].prop != NULL) {
			matched = true;
			if (!v_sch(v, o->names[idx].prop, val)) {
				ok = false;
				if (v_quiet(v))
					return false;
			}
		}
	}
	for (i = 0; i < o->npats; i++) {
		if ((m = v_match(v, o->pats[i].re, key)) == -1) {
			v_err(v, "pattern match limit exceeded");
			return false;
		}
		if (m == 1) {
			matched = true;
			if (!v_sch(v, o->pats[i].s, val)) {
				ok = false;
				if (v_quiet(v))
					return false;
			}
		}
	}
	if (!matched && o->additional != NULL) {
		if (o->additional->flags & SCH_FALSE) {
			v_err(v, "property is not allowed");
			return false;
		}
		if (!v_sch(v, o->additional, val))
			ok = false;
	}
	if (o->propnames != NULL && (ok || !v_quiet(v)) &&
	    !v_silent(v, o->propnames, key)) {
		v_err(v, "property name is not valid");
		ok = false;
	}
	return ok;
}

static bool
v_deps(struct vctx *v, const struct sch_obj *o, struct node *in,
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
				v_err(v, "property \"%s\" is required with "
				    "\"%s\"", c_excerpt(dep->name, dep->len, b1,
				    sizeof(b1)), c_excerpt(nm->name, nm->len, b2,
				    sizeof(b2)));
				ok = false;
			}
		if (nm->depschema != NULL && (ok || !v_quiet(v)) &&
		    !v_sch(v, nm->depschema, in))
			ok = false;
		if (!ok && v_quiet(v))
			return false;
	}
	return ok;
}

static bool
v_obj(struct vctx *v, const struct sch_obj *o, struct node *in)
{
	uint64_t	 sbuf[SCHEMA_SEEN_WORDS] = { 0 }, *seen = sbuf;
	char		 buf[64];
	size_t		 i;
	bool		 ok = true;

	if (o->nnames > (size_t)SCHEMA_SEEN_WORDS * 64)
		seen = bw_calloc((o->nnames + 63) / 64, sizeof(*seen));
	if (in->n < o->minp || in->n > o->maxp) {
		v_err(v, in->n < o->minp ? "must have at least %llu "
		    "properties" : "must have at most %llu properties",
		    (unsigned long long)(in->n < o->minp ? o->minp : o->maxp));
		ok = false;
	}
	for (i = 0; i < in->n && (ok || !v_quiet(v)); i++) {
		v_push(v, in->keys[i], 0);
		if (!v_member(v, o, in->keys[i], in->vals[i], seen))
			ok = false;
		v_pop(v);
	}
	for (i = 0; i < o->nrequired && (ok || !v_quiet(v)); i++)
		if (!SEEN(seen, o->required[i])) {
			v_err(v, "missing required property \"%s\"",
			    c_excerpt(o->names[o->required[i]].name,
			    o->names[o->required[i]].len, buf, sizeof(buf)));
			ok = false;
		}
	if (o->deps && (ok || !v_quiet(v)) && !v_deps(v, o, in, seen))
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
hidx_cmp(const void *a, const void *b)
{
	const struct hidx *x = a, *y = b;

	if (x->h != y->h)
		return x->h < y->h ? -1 : 1;
	return x->i < y->i ? -1 : x->i > y->i;
}

/* Pairs compared only within runs of equal hashes (n log n). */
static bool
v_unique(const struct node *in, uint64_t seed)
{
	struct hidx	*hv;
	size_t		 i, j, k, l;
	bool		 ok = true;

	if (in->n <= SCHEMA_UNIQUE_LINEAR) {
		for (i = 0; i < in->n; i++)
			for (j = i + 1; j < in->n; j++)
				if (json_equal(in->vals[i], in->vals[j]))
					return false;
		return true;
	}
	hv = bw_reallocarray(NULL, in->n, sizeof(*hv));
	for (i = 0; i < in->n; i++) {
		hv[i].h = json_hash(in->vals[i], seed);
		hv[i].i = i;
	}
	qsort(hv, in->n, sizeof(*hv), hidx_cmp);
	for (i = 0; i < in->n && ok; i = j) {
		for (j = i + 1; j < in->n && hv[j].h == hv[i].h; j++)
			;
		for (k = i; k < j && ok; k++)
			for (l = k + 1; l < j && ok; l++)
				ok = !json_equal(in->vals[hv[k].i],
				    in->vals[hv[l].i]);
	}
	free(hv);
	return ok;
}

static bool
v_arr(struct vctx *v, const struct sch_arr *a, struct node *in)
{
	const struct sch	*sub;
	uint64_t		 cnt = 0;
	size_t			 i;
	bool			 ok = true;

	if (in->n < a->mini || in->n > a->maxi) {
		v_err(v, in->n < a->mini ? "must have at least %llu items" :
		    "must have at most %llu items", (unsigned long long)
		    (in->n < a->mini ? a->mini : a->maxi));
		ok = false;
	}
	for (i = 0; i < in->n && (ok || !v_quiet(v)); i++) {
		sub = i < a->nprefix ? a->prefix[i] : a->items;
		if (sub == NULL)
			continue;
		v_push(v, NULL, i);
		if (!v_sch(v, sub, in->vals[i]))
			ok = false;
		v_pop(v);
	}
	if (a->contains != NULL && (ok || !v_quiet(v))) {
		for (i = 0; i < in->n && cnt <= a->maxc; i++) {
			v_push(v, NULL, i);
			cnt += v_silent(v, a->contains, in->vals[i]);
			v_pop(v);
		}
		if (cnt < a->minc || cnt > a->maxc) {
			v_err(v, cnt < a->minc ? "must contain at least %llu "
			    "matching items" : "must contain at most %llu "
			    "matching items", (unsigned long long)
			    (cnt < a->minc ? a->minc : a->maxc));
			ok = false;
		}
	}
	if (a->unique && (ok || !v_quiet(v)) && !v_unique(in, v->set->seed)) {
		v_err(v, "items must be unique");
		ok = false;
	}
	return ok;
}

static bool
v_app(struct vctx *v, const struct sch_app *a, struct node *in)
{
	size_t	i, hits;
	bool	ok = true;

	if (a->ref != NULL && !v_sch(v, a->ref, in))
		ok = false;
	for (i = 0; i < a->nall && (ok || !v_quiet(v)); i++)
		if (!v_sch(v, a->all[i], in))
			ok = false;
	if (a->nany > 0 && (ok || !v_quiet(v))) {
		for (i = 0; i < a->nany && !v_silent(v, a->any[i], in); i++)
			;
		if (i == a->nany) {
			v_err(v, "must match at least one schema in anyOf");
			ok = false;
		}
	}
	if (a->none > 0 && (ok || !v_quiet(v))) {
		for (i = 0, hits = 0; i < a->none && hits < 2; i++)
			hits += v_silent(v, a->one[i], in);
		if (hits != 1) {
			v_err(v, hits == 0 ? "must match one schema in oneOf" :
			    "must match only one schema in oneOf");
			ok = false;
		}
	}
	if (a->not != NULL && (ok || !v_quiet(v)) && v_silent(v, a->not, in)) {
		v_err(v, "must not match the schema in not");
		ok = false;
	}
	if (a->if_ != NULL && (ok || !v_quiet(v))) {
		if (v_silent(v, a->if_, in)) {
			if (a->then_ != NULL && !v_sch(v, a->then_, in))
				ok = false;
		} else if (a->else_ != NULL && !v_sch(v, a->else_, in))
			ok = false;
	}
	return ok;
}

static bool
v_sch(struct vctx *v, const struct sch *s, struct node *in)
{
	unsigned	t;
	bool		ok = true;

	if (s->flags & SCH_FALSE) {
		v_err(v, "no value is allowed here");
		return false;
	}
	if (v->depth >= SCHEMA_VDEPTH_MAX) {
		v_err(v, "value nested too deeply for its schema");
		return false;
	}
	v->depth++;
	t = node_type(in);
	if (s->types != 0 && !v_type(v, s, in, t)) {
		ok = false;
		if (v_quiet(v))
			goto out;
	}
	if ((s->flags & (SCH_ENUM | SCH_CONST)) && !v_enum(v, s, in)) {
		ok = false;
		if (v_quiet(v))
			goto out;
	}
	if ((t == T_NUMBER && s->num != NULL && !v_num(v, s->num, in)) ||
	    (t == T_STRING && s->str != NULL && !v_str(v, s->str, in)) ||
	    (t == T_OBJECT && s->obj != NULL && !v_obj(v, s->obj, in)) ||
	    (t == T_ARRAY && s->arr != NULL && !v_arr(v, s->arr, in))) {
		ok = false;
		if (v_quiet(v))
			goto out;
	}
	if (s->app != NULL && !v_app(v, s->app, in))
		ok = false;
out:
	v->depth--;
	return ok;
}

/* SPEC 6: no string anywhere in an instance (names too) may hold U+0000. */
static void
v_nul(struct vctx *v, const struct node *in)
{
	size_t	i;

	switch (in->kind) {
	case NODE_SCALAR:
		if (node_type(in) == T_STRING &&
		    memchr(in->text, '\0', in->len) != NULL) {
			v_err(v, "string must not contain U+0000");
			v->nul = true;
		}
		return;
	case NODE_SEQ:
		for (i = 0; i < in->n && !(v->nul && v_quiet(v)); i++) {
			v_push(v, NULL, i);
			v_nul(v, in->vals[i]);
			v_pop(v);
		}
		return;
	case NODE_MAP:
		for (i = 0; i < in->n && !(v->nul && v_quiet(v)); i++) {
			if (memchr(in->keys[i]->text, '\0',
			    in->keys[i]->len) != NULL) {
				v_err(v, "property name must not contain "
				    "U+0000");
				v->nul = true;
				continue;
			}
			v_push(v, in->keys[i], 0);
			v_nul(v, in->vals[i]);
			v_pop(v);
		}
		return;
	}
}

static void
v_init(struct vctx *v, const struct schema *sc, int flags,
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

int
schema_validate(const struct schema *sc, struct node *in, int flags,
    struct schema_errors *out)
{
	struct vctx	v;

	v_init(&v, sc, flags, out);
	v_nul(&v, in);
	if (v.nul)
		return -1;
	return v_sch(&v, sc->root, in) ? 0 : -1;
}

/* Follows a top-level $ref chain to the first subschema with a type. */
static unsigned
param_types(const struct sch *s)
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
param_integer(const char *s, size_t len)
{
	size_t	i = 0;

	if (len > 0 && s[0] == '-')
		i++;
	if (i == len || (s[i] == '0' && len > i + 1))
		return false;
	for (; i < len; i++)
		if (!c_digit(s[i]))
			return false;
	return true;
}

static struct node *
param_node(enum node_style style, const char *s, size_t len)
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
param_coerce(unsigned types, const char *raw, size_t len)
{
	struct jnum	n;
	char		buf[24];
	int		cl;

	if ((types & T_INTEGER) && param_integer(raw, len) &&
	    jnum_parse(&n, raw, len) == 0 &&
	    (cl = jnum_canonical(&n, buf, sizeof(buf))) >= 0)
		return param_node(NODE_NUMBER, buf, (size_t)cl);
	if ((types & T_NUMBER) && jnum_parse(&n, raw, len) == 0)
		return param_node(NODE_NUMBER, raw, len);
	if ((types & T_BOOL) && len == 4 && memcmp(raw, "true", 4) == 0)
		return param_node(NODE_TRUE, raw, len);
	if ((types & T_BOOL) && len == 5 && memcmp(raw, "false", 5) == 0)
		return param_node(NODE_FALSE, raw, len);
	if ((types == 0 || (types & T_STRING)) && bw_utf8_valid(raw, len))
		return param_node(NODE_STRING, raw, len);
	return NULL;
}

int
schema_coerce_param(const struct schema *sc, const char *name,
    const char *raw, size_t len, struct node **out,
    struct schema_errors *errs)
{
	struct vctx	 v;
	struct node	 key, *n;
	unsigned	 types = param_types(sc->root);
	char		 buf[96];

	*out = NULL;
	memset(&key, 0, sizeof(key));
	key.kind = NODE_SCALAR;
	key.style = NODE_STRING;
	key.text = (char *)name;
	key.len = strlen(name);
	v_init(&v, sc, 0, errs);
	v_push(&v, &key, 0);
	if ((n = param_coerce(types, raw, len)) == NULL) {
		v_err(&v, "must be %s", (types & ~T_STRING) != 0 ?
		    types_text(types, buf, sizeof(buf)) : "valid UTF-8");
		return -1;
	}
	v_nul(&v, n);
	if (v.nul || !v_sch(&v, sc->root, n)) {
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
