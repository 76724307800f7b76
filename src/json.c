/*
 * json.c - strict JSON reader producing the shared node tree.
 *
 * Threat model: the input is a request body chosen by an attacker, at most
 * max_body_size bytes.  Every step is linear or n log n in the input:
 * UTF-8 is checked once up front, columns are counted incrementally, and
 * duplicate member names are found by a linear scan for small objects and
 * by sorting for large ones (never quadratic).  Recursion is bounded by the
 * caller's depth limit, itself capped at JSON_DEPTH_CEILING.  On any error
 * the partial tree is released and nothing of the input is echoed: the
 * error carries a static message and a position.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "util.h"

/* Objects up to this many members check duplicates by linear scan. */
#define JSON_DUP_LINEAR	16

struct json_parser {
	const char		*buf;
	size_t			 len;
	size_t			 pos;
	int			 max_depth;
	int			 line;
	size_t			 line_start;
	size_t			 col_off;	/* column cache: offset ... */
	int			 col_cnt;	/* ... and its code point count */
	struct json_error	*err;
};

static struct node	*json_value(struct json_parser *, int);

const char *
json_status_str(enum json_status st)
{
	switch (st) {
	case JSON_OK:
		return "ok";
	case JSON_EEMPTY:
		return "empty document";
	case JSON_ESYNTAX:
		return "JSON syntax error";
	case JSON_EBOM:
		return "byte order mark";
	case JSON_EUTF8:
		return "invalid UTF-8";
	case JSON_EDUP:
		return "duplicate member name";
	case JSON_EDEPTH:
		return "nesting too deep";
	}
	return "unknown error";
}

static int
json_col(struct json_parser *p, size_t off)
{
	size_t	i;

	if (off < p->col_off || p->col_off < p->line_start) {
		p->col_off = p->line_start;
		p->col_cnt = 1;
	}
	for (i = p->col_off; i < off && i < p->len; i++)
		if (((unsigned char)p->buf[i] & 0xc0) != 0x80)
			p->col_cnt++;
	p->col_off = off;
	return p->col_cnt;
}

/* Position of an arbitrary offset, for errors only (linear, run once). */
static void
json_locate(const char *buf, size_t len, size_t off, int *line, int *col)
{
	size_t	i;
	int	l = 1, c = 1;

	for (i = 0; i < off && i < len; i++) {
		if (buf[i] == '\n') {
			l++;
			c = 1;
		} else if (((unsigned char)buf[i] & 0xc0) != 0x80)
			c++;
	}
	*line = l;
	*col = c;
}

static void
json_fail(struct json_parser *p, enum json_status code, size_t off,
    const char *msg)
{
	struct json_error *e = p->err;

	if (e->code != JSON_OK)
		return;
	e->code = code;
	e->offset = off;
	e->msg = msg;
	json_locate(p->buf, p->len, off, &e->line, &e->col);
}

static void
json_ws(struct json_parser *p)
{
	char	c;

	while (p->pos < p->len) {
		c = p->buf[p->pos];
		if (c == '\n') {
			p->line++;
			p->line_start = p->pos + 1;
		} else if (c != ' ' && c != '\t' && c != '\r')
			return;
		p->pos++;
	}
}

static struct node *
json_node(struct json_parser *p, enum node_kind kind, enum node_style style)
{
	struct node	*n;

	n = bw_calloc(1, sizeof(*n));
	n->kind = kind;
	n->style = style;
	n->line = p->line;
	n->col = json_col(p, p->pos);
	return n;
}

static int
json_hex4(const char *s, uint32_t *out)
{
	uint32_t	v = 0;
	int		i, d;

	for (i = 0; i < 4; i++) {
		if ((d = bw_hex_value((unsigned char)s[i])) < 0)
			return -1;
		v = v << 4 | (uint32_t)d;
	}
	*out = v;
	return 0;
}

static size_t
json_put_utf8(char *o, uint32_t cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xc0 | (cp >> 6));
		o[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xe0 | (cp >> 12));
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | (cp >> 18));
	o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	o[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/*
 * Decodes one \u escape (and its low surrogate) at s (just past the 'u').
 * Returns the number of input bytes consumed after the 'u', or -1.
 */
static int
json_unicode(struct json_parser *p, size_t at, uint32_t *cp)
{
	const char	*s = p->buf + at;
	size_t		 left = p->len - at;
	uint32_t	 hi, lo;

	if (left < 4 || json_hex4(s, &hi) == -1) {
		json_fail(p, JSON_ESYNTAX, at, "bad \\u escape");
		return -1;
	}
	if (hi >= 0xdc00 && hi <= 0xdfff) {
		json_fail(p, JSON_EUTF8, at, "lone low surrogate escape");
		return -1;
	}
	if (hi < 0xd800 || hi > 0xdbff) {
		*cp = hi;
		return 4;
	}
	if (left < 10 || s[4] != '\\' || s[5] != 'u' ||
	    json_hex4(s + 6, &lo) == -1 || lo < 0xdc00 || lo > 0xdfff) {
		json_fail(p, JSON_EUTF8, at, "lone high surrogate escape");
		return -1;
	}
	*cp = 0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00);
	return 10;
}

static int
json_escape(struct json_parser *p, size_t *i, char *out, size_t *o)
{
	uint32_t	cp;
	int		used;
	char		c;

	if (*i + 1 >= p->len) {
		json_fail(p, JSON_ESYNTAX, *i, "unterminated string");
		return -1;
	}
	c = p->buf[*i + 1];
	switch (c) {
	case '"':
	case '\\':
	case '/':
		out[(*o)++] = c;
		break;
	case 'b':
		out[(*o)++] = '\b';
		break;
	case 'f':
		out[(*o)++] = '\f';
		break;
	case 'n':
		out[(*o)++] = '\n';
		break;
	case 'r':
		out[(*o)++] = '\r';
		break;
	case 't':
		out[(*o)++] = '\t';
		break;
	case 'u':
		if ((used = json_unicode(p, *i + 2, &cp)) == -1)
			return -1;
		*o += json_put_utf8(out + *o, cp);
		*i += (size_t)used;
		break;
	default:
		json_fail(p, JSON_ESYNTAX, *i, "bad escape");
		return -1;
	}
	*i += 2;
	return 0;
}

/*
 * A string starting at the quote under p->pos.  The decoded text is never
 * longer than its source (every escape shrinks or keeps its size).
 */
static struct node *
json_string(struct json_parser *p)
{
	struct node	*n;
	size_t		 i, end, o = 0;
	unsigned char	 c;
	bool		 esc = false;

	for (end = p->pos + 1; end < p->len; end++) {
		c = (unsigned char)p->buf[end];
		if (c == '"')
			break;
		if (c == '\\') {
			esc = true;
			end++;
		} else if (c < 0x20) {
			json_fail(p, JSON_ESYNTAX, end,
			    "control character in string");
			return NULL;
		}
	}
	if (end >= p->len) {
		json_fail(p, JSON_ESYNTAX, p->pos, "unterminated string");
		return NULL;
	}
	n = json_node(p, NODE_SCALAR, NODE_STRING);
	n->text = bw_malloc(end - p->pos);
	if (!esc) {
		o = end - p->pos - 1;
		memcpy(n->text, p->buf + p->pos + 1, o);
	} else {
		for (i = p->pos + 1; i < end;) {
			if (p->buf[i] != '\\') {
				n->text[o++] = p->buf[i++];
				continue;
			}
			if (json_escape(p, &i, n->text, &o) == -1) {
				node_free(n);
				return NULL;
			}
		}
	}
	n->text[o] = '\0';
	n->len = o;
	p->pos = end + 1;
	return n;
}

static size_t
json_digits(const char *s, size_t i, size_t len)
{
	while (i < len && bw_is_digit((unsigned char)s[i]))
		i++;
	return i;
}

static struct node *
json_number(struct json_parser *p)
{
	const char	*s = p->buf;
	size_t		 i = p->pos, d;
	struct node	*n;

	if (s[i] == '-')
		i++;
	d = json_digits(s, i, p->len);
	if (d == i) {
		json_fail(p, JSON_ESYNTAX, i, "digit expected");
		return NULL;
	}
	if (s[i] == '0' && d > i + 1) {
		json_fail(p, JSON_ESYNTAX, i, "leading zero");
		return NULL;
	}
	i = d;
	if (i < p->len && s[i] == '.') {
		d = json_digits(s, i + 1, p->len);
		if (d == i + 1) {
			json_fail(p, JSON_ESYNTAX, d, "digit expected");
			return NULL;
		}
		i = d;
	}
	if (i < p->len && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < p->len && (s[i] == '+' || s[i] == '-'))
			i++;
		d = json_digits(s, i, p->len);
		if (d == i) {
			json_fail(p, JSON_ESYNTAX, d, "digit expected");
			return NULL;
		}
		i = d;
	}
	n = json_node(p, NODE_SCALAR, NODE_NUMBER);
	n->text = bw_strndup(s + p->pos, i - p->pos);
	n->len = i - p->pos;
	p->pos = i;
	return n;
}

static struct node *
json_literal(struct json_parser *p)
{
	static const struct {
		const char	*word;
		size_t		 len;
		enum node_style	 style;
	} lits[] = {
		{ "true", 4, NODE_TRUE },
		{ "false", 5, NODE_FALSE },
		{ "null", 4, NODE_NULL },
	};
	struct node	*n;
	size_t		 i;

	for (i = 0; i < BW_ARRAY_LEN(lits); i++) {
		if (p->len - p->pos < lits[i].len ||
		    memcmp(p->buf + p->pos, lits[i].word, lits[i].len) != 0)
			continue;
		n = json_node(p, NODE_SCALAR, lits[i].style);
		n->text = bw_strdup(lits[i].word);
		n->len = lits[i].len;
		p->pos += lits[i].len;
		return n;
	}
	json_fail(p, JSON_ESYNTAX, p->pos, "unexpected character");
	return NULL;
}

static void
json_append(struct node *c, struct node *key, struct node *val, size_t *cap)
{
	if (c->n == *cap) {
		*cap = *cap == 0 ? 4 : *cap * 2;
		c->vals = bw_reallocarray(c->vals, *cap, sizeof(*c->vals));
		if (key != NULL)
			c->keys = bw_reallocarray(c->keys, *cap,
			    sizeof(*c->keys));
	}
	if (key != NULL)
		c->keys[c->n] = key;
	c->vals[c->n++] = val;
}

static bool
json_key_eq(const struct node *a, const struct node *b)
{
	return a->len == b->len && memcmp(a->text, b->text, a->len) == 0;
}

static int
json_key_cmp(const void *va, const void *vb)
{
	const struct node *a = *(struct node * const *)va;
	const struct node *b = *(struct node * const *)vb;
	int		 r;

	if (a->len != b->len)
		return a->len < b->len ? -1 : 1;
	if ((r = memcmp(a->text, b->text, a->len)) != 0)
		return r;
	if (a->line != b->line)
		return a->line < b->line ? -1 : 1;
	return a->col < b->col ? -1 : a->col > b->col;
}

/* Large objects: sort a copy of the key list, compare neighbours. */
static const struct node *
json_dup_sorted(const struct node *map)
{
	struct node	**v;
	const struct node *dup = NULL;
	size_t		 i;

	v = bw_reallocarray(NULL, map->n, sizeof(*v));
	memcpy(v, map->keys, map->n * sizeof(*v));
	qsort(v, map->n, sizeof(*v), json_key_cmp);
	for (i = 1; i < map->n && dup == NULL; i++)
		if (json_key_eq(v[i - 1], v[i]))
			dup = v[i];
	free(v);
	return dup;
}

static bool
json_dup_linear(const struct node *map, const struct node *key)
{
	size_t	i;

	for (i = 0; i < map->n; i++)
		if (json_key_eq(map->keys[i], key))
			return true;
	return false;
}

static int
json_expect(struct json_parser *p, char c, const char *msg)
{
	json_ws(p);
	if (p->pos >= p->len || p->buf[p->pos] != c) {
		json_fail(p, JSON_ESYNTAX, p->pos, msg);
		return -1;
	}
	p->pos++;
	return 0;
}

static int
json_member(struct json_parser *p, struct node *map, size_t *cap, int depth)
{
	struct node	*key, *val;
	size_t		 at;

	json_ws(p);
	if (p->pos >= p->len || p->buf[p->pos] != '"') {
		json_fail(p, JSON_ESYNTAX, p->pos, "member name expected");
		return -1;
	}
	at = p->pos;
	if ((key = json_string(p)) == NULL)
		return -1;
	if (map->n < JSON_DUP_LINEAR && json_dup_linear(map, key)) {
		node_free(key);
		json_fail(p, JSON_EDUP, at, "duplicate member name");
		return -1;
	}
	if (json_expect(p, ':', "':' expected") == -1 ||
	    (val = json_value(p, depth)) == NULL) {
		node_free(key);
		return -1;
	}
	json_append(map, key, val, cap);
	return 0;
}

static struct node *
json_object(struct json_parser *p, int depth)
{
	struct node		*map;
	const struct node	*dup;
	size_t			 cap = 0;

	map = json_node(p, NODE_MAP, NODE_PLAIN);
	p->pos++;
	json_ws(p);
	if (p->pos < p->len && p->buf[p->pos] == '}') {
		p->pos++;
		return map;
	}
	for (;;) {
		if (json_member(p, map, &cap, depth) == -1)
			goto fail;
		json_ws(p);
		if (p->pos < p->len && p->buf[p->pos] == ',') {
			p->pos++;
			continue;
		}
		if (json_expect(p, '}', "',' or '}' expected") == -1)
			goto fail;
		break;
	}
	if (map->n > JSON_DUP_LINEAR && (dup = json_dup_sorted(map)) != NULL) {
		p->err->code = JSON_EDUP;
		p->err->line = dup->line;
		p->err->col = dup->col;
		p->err->offset = 0;
		p->err->msg = "duplicate member name";
		goto fail;
	}
	return map;
fail:
	node_free(map);
	return NULL;
}

static struct node *
json_array(struct json_parser *p, int depth)
{
	struct node	*seq, *val;
	size_t		 cap = 0;

	seq = json_node(p, NODE_SEQ, NODE_PLAIN);
	p->pos++;
	json_ws(p);
	if (p->pos < p->len && p->buf[p->pos] == ']') {
		p->pos++;
		return seq;
	}
	for (;;) {
		if ((val = json_value(p, depth)) == NULL)
			goto fail;
		json_append(seq, NULL, val, &cap);
		json_ws(p);
		if (p->pos < p->len && p->buf[p->pos] == ',') {
			p->pos++;
			continue;
		}
		if (json_expect(p, ']', "',' or ']' expected") == -1)
			goto fail;
		return seq;
	}
fail:
	node_free(seq);
	return NULL;
}

static struct node *
json_value(struct json_parser *p, int depth)
{
	char	c;

	json_ws(p);
	if (p->pos >= p->len) {
		json_fail(p, JSON_ESYNTAX, p->pos, "value expected");
		return NULL;
	}
	c = p->buf[p->pos];
	if ((c == '{' || c == '[') && depth >= p->max_depth) {
		json_fail(p, JSON_EDEPTH, p->pos, "nesting too deep");
		return NULL;
	}
	if (c == '{')
		return json_object(p, depth + 1);
	if (c == '[')
		return json_array(p, depth + 1);
	if (c == '"')
		return json_string(p);
	if (c == '-' || bw_is_digit(c))
		return json_number(p);
	return json_literal(p);
}

struct node *
json_parse(const char *buf, size_t len, int max_depth, struct json_error *err)
{
	struct json_parser	 p;
	struct node		*root;
	size_t			 bad;

	memset(err, 0, sizeof(*err));
	memset(&p, 0, sizeof(p));
	p.buf = buf;
	p.len = len;
	p.line = 1;
	p.col_cnt = 1;
	p.err = err;
	p.max_depth = max_depth < 0 ? 0 : max_depth;
	if (p.max_depth > JSON_DEPTH_CEILING)
		p.max_depth = JSON_DEPTH_CEILING;
	if (len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0) {
		json_fail(&p, JSON_EBOM, 0, "byte order mark");
		return NULL;
	}
	if ((bad = bw_utf8_scan(buf, len)) != len) {
		json_fail(&p, JSON_EUTF8, bad, "invalid UTF-8");
		return NULL;
	}
	json_ws(&p);
	if (p.pos == len) {
		json_fail(&p, JSON_EEMPTY, 0, "empty document");
		return NULL;
	}
	if ((root = json_value(&p, 0)) == NULL)
		return NULL;
	json_ws(&p);
	if (p.pos != len) {
		json_fail(&p, JSON_ESYNTAX, p.pos, "trailing data");
		node_free(root);
		return NULL;
	}
	return root;
}
