/*
 * router.c - the segment trie of path templates (SPEC 5).
 *
 * Each trie node stands for one template prefix.  Its children are the
 * literal segments (sorted by length then bytes, found by binary search)
 * and at most one parameter child.  A node that ends at least one template
 * holds a leaf per method: the route, the template text (for errors and
 * logs) and the parameter names of that template, which may differ between
 * templates of the same shape ("/n/{id}" GET, "/n/{note}" DELETE).
 *
 * Invariants: the trie is built once at load and read-only afterwards;
 * matching allocates nothing and visits each node at most once, so a
 * request costs O(trie size) in the worst case and O(segments * log
 * children) in the common one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "router.h"
#include "util.h"

struct router_leaf {
	const void	*route;
	const void	*ops;
	char		*tmpl;
	char		*names[ROUTER_MAX_PARAMS];
	size_t		 nparams;
};

struct router_node {
	char			*label;		/* literal segment */
	size_t			 label_len;
	struct router_node	**lits;
	size_t			 nlits;
	struct router_node	*param;
	struct router_leaf	*leaf[HTTP_METHOD_COUNT];
	unsigned int		 methods;	/* bit per leaf[] set */
	struct router_node	*gc;		/* list while freeing */
};

struct router {
	struct router_node	 root;
	char			 err[2 * ROUTER_MAX_TEMPLATE];
};

/* One segment of a path or template. */
struct router_seg {
	const char	*p;
	size_t		 len;
};

/* A match in progress. */
struct router_walk {
	const struct router_seg	*segs;
	size_t			 nsegs;
	enum http_method	 method;
	size_t			 caps[ROUTER_MAX_PARAMS]; /* segments */
	size_t			 ncaps;
	unsigned int		 allow;
	const struct router_leaf *leaf;
};

/* The order of the Allow value. */
static const enum http_method router_allow_order[] = {
	HTTP_GET, HTTP_HEAD, HTTP_POST, HTTP_PUT, HTTP_PATCH, HTTP_DELETE,
	HTTP_OPTIONS,
};

#define BIT(m)	(1u << (unsigned int)(m))

struct router *
router_new(void)
{
	return bw_calloc(1, sizeof(struct router));
}

static void
router_leaf_free(struct router_leaf *leaf)
{
	size_t	 i;

	for (i = 0; i < leaf->nparams; i++)
		free(leaf->names[i]);
	free(leaf->tmpl);
	free(leaf);
}

/* Frees the node's own parts, not its children. */
static void
router_node_clear(struct router_node *n)
{
	size_t	 i;

	for (i = 0; i < HTTP_METHOD_COUNT; i++)
		if (n->leaf[i] != NULL)
			router_leaf_free(n->leaf[i]);
	free(n->lits);
	free(n->label);
}

/* Iterative: nodes still to free are chained through their gc field. */
static void
router_node_free(struct router_node *root)
{
	struct router_node	*todo = root, *n;
	size_t			 i;

	root->gc = NULL;
	while ((n = todo) != NULL) {
		todo = n->gc;
		for (i = 0; i < n->nlits; i++) {
			n->lits[i]->gc = todo;
			todo = n->lits[i];
		}
		if (n->param != NULL) {
			n->param->gc = todo;
			todo = n->param;
		}
		router_node_clear(n);
		if (n != root)
			free(n);
	}
}

void
router_free(struct router *r)
{
	if (r == NULL)
		return;
	router_node_free(&r->root);
	free(r);
}

const char *
router_error(const struct router *r)
{
	return r->err;
}

static int
router_fail(struct router *r, const char *tmpl, const char *what)
{
	(void)snprintf(r->err, sizeof(r->err), "path template \"%.*s\": %s",
	    ROUTER_MAX_TEMPLATE, tmpl, what);
	return -1;
}

/*
 * Split "/a/b" into ("a", "b"); "/" is one empty segment, "/a/" ends with
 * one.  Returns the count, or ROUTER_MAX_SEGMENTS + 1 when there are more.
 */
static size_t
router_split(const char *p, size_t len, struct router_seg *segs)
{
	size_t	 i, start = 1, n = 0;

	for (i = 1; i <= len; i++) {
		if (i < len && p[i] != '/')
			continue;
		if (n == ROUTER_MAX_SEGMENTS)
			return ROUTER_MAX_SEGMENTS + 1;
		segs[n].p = p + start;
		segs[n].len = i - start;
		n++;
		start = i + 1;
	}
	return n;
}

/* Literal template bytes: RFC 3986 pchar without '%'. */
static bool
router_lit_char(char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return true;
	return c != '\0' && strchr("-._~!$&'()*+,;=:@", c) != NULL;
}

static bool
router_name_valid(const char *p, size_t n)
{
	size_t	 i;

	if (n == 0 || n > ROUTER_MAX_NAME || (p[0] >= '0' && p[0] <= '9'))
		return false;
	for (i = 0; i < n; i++)
		if (!((p[i] >= 'a' && p[i] <= 'z') ||
		    (p[i] >= 'A' && p[i] <= 'Z') ||
		    (p[i] >= '0' && p[i] <= '9') || p[i] == '_'))
			return false;
	return true;
}

/* Checks one segment; *is_param tells which kind it is. */
static const char *
router_seg_check(const struct router_seg *s, bool last, bool *is_param)
{
	size_t	 i;

	*is_param = false;
	if (s->len == 0)
		return last ? NULL : "empty segment";
	if (s->p[0] == '{') {
		if (s->p[s->len - 1] != '}' ||
		    !router_name_valid(s->p + 1, s->len - 2))
			return "invalid parameter segment";
		*is_param = true;
		return NULL;
	}
	if ((s->len == 1 && s->p[0] == '.') ||
	    (s->len == 2 && s->p[0] == '.' && s->p[1] == '.'))
		return "dot segment";
	for (i = 0; i < s->len; i++)
		if (!router_lit_char(s->p[i]))
			return "invalid character in literal segment";
	return NULL;
}

static int
router_lit_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	if (alen != blen)
		return alen < blen ? -1 : 1;
	return memcmp(a, b, alen);
}

/* Index of the literal child s, or where it would go (*found false). */
static size_t
router_lit_find(const struct router_node *n, const char *s, size_t len,
    bool *found)
{
	size_t	 lo = 0, hi = n->nlits, mid;
	int	 c;

	*found = false;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		c = router_lit_cmp(n->lits[mid]->label, n->lits[mid]->label_len,
		    s, len);
		if (c == 0) {
			*found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static struct router_node *
router_child(struct router_node *n, const struct router_seg *s, bool param)
{
	struct router_node	*c;
	size_t			 at;
	bool			 found;

	if (param) {
		if (n->param == NULL)
			n->param = bw_calloc(1, sizeof(*n->param));
		return n->param;
	}
	at = router_lit_find(n, s->p, s->len, &found);
	if (found)
		return n->lits[at];
	c = bw_calloc(1, sizeof(*c));
	c->label = bw_strndup(s->p, s->len);
	c->label_len = s->len;
	n->lits = bw_reallocarray(n->lits, n->nlits + 1, sizeof(*n->lits));
	memmove(n->lits + at + 1, n->lits + at,
	    (n->nlits - at) * sizeof(*n->lits));
	n->lits[at] = c;
	n->nlits++;
	return c;
}

/* Parameter names of a template: valid ones, unique, at most the limit. */
static int
router_names(struct router *r, const char *tmpl, const struct router_seg *segs,
    size_t nsegs, struct router_leaf *leaf)
{
	const struct router_seg	*s;
	size_t			 i, j;

	for (i = 0; i < nsegs; i++) {
		s = &segs[i];
		if (s->len == 0 || s->p[0] != '{')
			continue;
		if (leaf->nparams == ROUTER_MAX_PARAMS)
			return router_fail(r, tmpl, "too many parameters");
		for (j = 0; j < leaf->nparams; j++)
			if (strlen(leaf->names[j]) == s->len - 2 &&
			    memcmp(leaf->names[j], s->p + 1, s->len - 2) == 0)
				return router_fail(r, tmpl,
				    "duplicate parameter name");
		leaf->names[leaf->nparams++] = bw_strndup(s->p + 1, s->len - 2);
	}
	return 0;
}

int
router_add(struct router *r, const char *tmpl, enum http_method m,
    const void *route, const void *ops)
{
	struct router_seg	 segs[ROUTER_MAX_SEGMENTS + 1];
	struct router_node	*n = &r->root;
	struct router_leaf	*leaf;
	const char		*why;
	size_t			 len, nsegs, i;
	bool			 param;

	r->err[0] = '\0';
	if (m == HTTP_TRACE || m == HTTP_CONNECT ||
	    (unsigned int)m >= HTTP_METHOD_COUNT)
		return router_fail(r, tmpl, "method cannot be routed");
	len = strlen(tmpl);
	if (len == 0 || tmpl[0] != '/')
		return router_fail(r, tmpl, "must begin with '/'");
	if (len > ROUTER_MAX_TEMPLATE)
		return router_fail(r, tmpl, "too long");
	if ((nsegs = router_split(tmpl, len, segs)) > ROUTER_MAX_SEGMENTS)
		return router_fail(r, tmpl, "too many segments");
	for (i = 0; i < nsegs; i++)
		if ((why = router_seg_check(&segs[i], i + 1 == nsegs,
		    &param)) != NULL)
			return router_fail(r, tmpl, why);
	leaf = bw_calloc(1, sizeof(*leaf));
	if (router_names(r, tmpl, segs, nsegs, leaf) == -1) {
		router_leaf_free(leaf);
		return -1;
	}
	for (i = 0; i < nsegs; i++) {
		param = segs[i].len > 0 && segs[i].p[0] == '{';
		n = router_child(n, &segs[i], param);
	}
	if (n->leaf[m] != NULL) {
		(void)snprintf(r->err, sizeof(r->err),
		    "path template \"%s\" (%s) ties with \"%s\"", tmpl,
		    http_method_name(m), n->leaf[m]->tmpl);
		router_leaf_free(leaf);
		return -1;
	}
	leaf->route = route;
	leaf->ops = ops;
	leaf->tmpl = bw_strdup(tmpl);
	n->leaf[m] = leaf;
	n->methods |= BIT(m);
	return 0;
}

/* The leaf serving method m at node n, if any (HEAD falls back to GET). */
static const struct router_leaf *
router_leaf_for(const struct router_node *n, enum http_method m)
{
	if (n->leaf[m] != NULL)
		return n->leaf[m];
	if (m == HTTP_HEAD)
		return n->leaf[HTTP_GET];
	return NULL;
}

/*
 * Depth-first, literal child before parameter child; iterative, with one
 * frame per segment.  frame.step counts the children tried: 1 after the
 * literal one, 2 after the parameter one (whose capture is then undone
 * when the walk comes back up).
 */
struct router_frame {
	const struct router_node	*n;
	int				 step;
};

static const struct router_node *
router_next(struct router_walk *w, struct router_frame *f, size_t i)
{
	const struct router_seg	*s = &w->segs[i];
	size_t			 at;
	bool			 found;

	switch (f->step++) {
	case 0:
		at = router_lit_find(f->n, s->p, s->len, &found);
		return found ? f->n->lits[at] : NULL;
	case 1:
		if (f->n->param == NULL || s->len == 0 ||
		    w->ncaps == ROUTER_MAX_PARAMS)
			return NULL;
		w->caps[w->ncaps++] = i;
		return f->n->param;
	default:
		f->step = 3;
		return NULL;
	}
}

static bool
router_walk(struct router_walk *w, const struct router_node *root)
{
	struct router_frame		 st[ROUTER_MAX_SEGMENTS + 1];
	const struct router_node	*next;
	size_t				 d = 0;

	st[0].n = root;
	st[0].step = 0;
	for (;;) {
		if (d == w->nsegs) {
			w->leaf = router_leaf_for(st[d].n, w->method);
			if (w->leaf != NULL)
				return true;
			w->allow |= st[d].n->methods;
		} else if (st[d].step < 3) {
			if ((next = router_next(w, &st[d], d)) != NULL) {
				d++;
				st[d].n = next;
				st[d].step = 0;
			}
			continue;
		}
		if (d == 0)
			return false;
		d--;
		if (st[d].step == 2)
			w->ncaps--;
	}
}

static void
router_allow(unsigned int mask, char *out, size_t outsz)
{
	size_t	 i, n = 0;
	int	 k;

	if (mask & BIT(HTTP_GET))
		mask |= BIT(HTTP_HEAD);
	mask |= BIT(HTTP_OPTIONS);
	out[0] = '\0';
	for (i = 0; i < BW_ARRAY_LEN(router_allow_order); i++) {
		if (!(mask & BIT(router_allow_order[i])))
			continue;
		k = snprintf(out + n, outsz - n, "%s%s", n > 0 ? ", " : "",
		    http_method_name(router_allow_order[i]));
		if (k < 0 || (size_t)k >= outsz - n)
			return;
		n += (size_t)k;
	}
}

/*
 * Percent-decode once.  Refused: a '%' not followed by two hex digits,
 * a result that is not UTF-8, a control byte, and '/' unless slash_ok.
 */
int
router_decode(const char *in, size_t len, bool slash_ok, char *out,
    size_t outsz, size_t *outlen)
{
	size_t		 i, n = 0;
	int		 hi, lo;
	unsigned char	 c;

	for (i = 0; i < len; i++) {
		c = (unsigned char)in[i];
		if (c == '%') {
			if (len - i < 3 ||
			    (hi = bw_hex_value((unsigned char)in[i + 1])) < 0 ||
			    (lo = bw_hex_value((unsigned char)in[i + 2])) < 0)
				return -1;
			c = (unsigned char)(hi << 4 | lo);
			i += 2;
		}
		if (c < 0x20 || c == 0x7f || (c == '/' && !slash_ok))
			return -1;
		if (n + 1 >= outsz)
			return -1;
		out[n++] = (char)c;
	}
	if (n >= outsz)
		return -1;
	out[n] = '\0';
	if (!bw_utf8_valid(out, n))
		return -1;
	*outlen = n;
	return 0;
}

static enum router_result
router_params(const struct router_walk *w, struct router_match *mt,
    char *buf, size_t bufsz)
{
	const struct router_seg	*s;
	size_t			 i, off = 0, n;

	for (i = 0; i < w->ncaps; i++) {
		s = &w->segs[w->caps[i]];
		if (off >= bufsz || router_decode(s->p, s->len, false,
		    buf + off, bufsz - off, &n) == -1)
			return ROUTER_BAD_PARAM;
		mt->params[i].name = w->leaf->names[i];
		mt->params[i].value = buf + off;
		mt->params[i].len = n;
		mt->nparams = i + 1;
		off += n + 1;
	}
	return ROUTER_FOUND;
}

enum router_result
router_match(const struct router *r, enum http_method m, const char *path,
    size_t len, struct router_match *mt, char *buf, size_t bufsz)
{
	struct router_seg	 segs[ROUTER_MAX_SEGMENTS + 1];
	struct router_walk	 w;

	mt->route = NULL;
	mt->ops = NULL;
	mt->tmpl = NULL;
	mt->nparams = 0;
	mt->allow[0] = '\0';
	if ((unsigned int)m >= HTTP_METHOD_COUNT || len == 0 || path[0] != '/')
		return ROUTER_NOT_FOUND;
	memset(&w, 0, sizeof(w));
	w.segs = segs;
	if ((w.nsegs = router_split(path, len, segs)) > ROUTER_MAX_SEGMENTS)
		return ROUTER_NOT_FOUND;
	w.method = m;
	if (!router_walk(&w, &r->root)) {
		if (w.allow == 0)
			return ROUTER_NOT_FOUND;
		router_allow(w.allow, mt->allow, sizeof(mt->allow));
		return ROUTER_METHOD;
	}
	mt->route = w.leaf->route;
	mt->ops = w.leaf->ops;
	mt->tmpl = w.leaf->tmpl;
	return router_params(&w, mt, buf, bufsz);
}

void
router_query_init(struct router_query *q, const char *query, size_t len)
{
	q->p = query;
	q->len = query == NULL ? 0 : len;
	q->off = 0;
}

int
router_query_next(struct router_query *q, struct router_qparam *out,
    char *buf, size_t bufsz)
{
	const char	*pair, *amp, *eq;
	size_t		 plen, nlen, vlen;

	if (q->off >= q->len)
		return 0;
	pair = q->p + q->off;
	amp = memchr(pair, '&', q->len - q->off);
	plen = amp == NULL ? q->len - q->off : (size_t)(amp - pair);
	q->off += plen + 1;
	if (plen == 0 || (amp != NULL && q->off >= q->len))
		return -1;
	eq = memchr(pair, '=', plen);
	nlen = eq == NULL ? plen : (size_t)(eq - pair);
	if (nlen == 0 ||
	    router_decode(pair, nlen, true, buf, bufsz, &out->name_len) == -1)
		return -1;
	out->name = buf;
	buf += out->name_len + 1;
	bufsz -= out->name_len + 1;
	vlen = eq == NULL ? 0 : plen - nlen - 1;
	if (router_decode(eq == NULL ? pair : eq + 1, vlen, true, buf, bufsz,
	    &out->value_len) == -1)
		return -1;
	out->value = buf;
	return 1;
}
