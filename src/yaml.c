/*
 * yaml.c - strict YAML reader on libyaml's event API.
 *
 * Threat model: the configuration is written by an operator, but it is
 * parsed by root and may come from templating or copy and paste.  Whatever
 * YAML could make mean two things is refused: aliases and merge keys
 * (a value defined elsewhere, billion-laughs expansion), tags (a type chosen
 * by the text), duplicate keys (which one wins?), several documents (which
 * one is read?).  Input is bounded in size (YAML_MAX_SIZE) and depth
 * (YAML_MAX_DEPTH), so the tree, the parser's stacks and every recursion
 * over the tree are bounded too.
 *
 * Two passes over the same buffer: libyaml's token scanner finds anchors,
 * aliases, tags and %TAG directives at their exact token position (the
 * event API reports only where a node's properties begin), then the event
 * parser builds the tree.  Positions are libyaml marks plus one: lines and
 * columns are 1-based and columns count code points (a leading byte order
 * mark is stripped before libyaml sees the text and counted as column 1).
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <yaml.h>

#include "node.h"
#include "util.h"
#include "yaml_strict.h"

struct yaml_frame {
	struct node	*node;
	size_t		 cap;
	bool		 have_key;	/* map: the value comes next */
	struct node	*key;		/* NULL: the key was refused */
};

struct yaml_tokdiag {
	int		 line;
	int		 col;
	const char	*msg;
};

struct yaml_parse {
	const char		*name;
	const char		*buf;
	size_t			 len;
	struct bw_diag		*diag;
	struct yaml_frame	 frames[YAML_MAX_DEPTH];
	size_t			 depth;
	size_t			 skip;		/* collections skipped */
	int			 ndocs;
	struct node		*root;
	struct yaml_tokdiag	*tok;		/* token-pass errors */
	size_t			 ntok;
	bool			 bom;		/* a BOM was stripped from buf */
};

static void	 yaml_offset_pos(const char *, size_t, size_t, int *, int *);
static int	 yaml_col(const struct yaml_parse *, const yaml_mark_t *);
static size_t	 yaml_utf8_check(const char *, size_t);
static void	 yaml_scan_tokens(struct yaml_parse *);
static int	 yaml_events(struct yaml_parse *, int *, int *);
static int	 yaml_event(struct yaml_parse *, yaml_event_t *);
static void	 yaml_attach(struct yaml_parse *, struct node *);
static void	 yaml_push(struct yaml_parse *, enum node_kind, int, int);
static void	 yaml_pop(struct yaml_parse *);
static void	 yaml_map_dedupe(struct yaml_parse *, struct node *);
static struct node *yaml_scalar(const struct yaml_parse *,
		    const yaml_event_t *);
static void	 yaml_syntax_error(struct yaml_parse *,
		    const yaml_parser_t *, int *, int *);

/*
 * Renders text for an error message: at most 40 code points, control
 * characters and quotes replaced, so no input can forge or garble a line.
 */
void
yaml_excerpt(const char *text, size_t len, char *out, size_t outsz)
{
	size_t		i, o, cp;
	unsigned char	c;

	if (outsz == 0)
		return;
	for (i = o = cp = 0; i < len && o + 8 < outsz; i++) {
		c = (unsigned char)text[i];
		if ((c & 0xc0) != 0x80 && ++cp > 40) {
			memcpy(out + o, "...", 3);
			o += 3;
			break;
		}
		if (c < 0x20 || c == 0x7f || c == '\'' || c == '\\')
			out[o++] = '?';
		else
			out[o++] = (char)c;
	}
	out[o] = '\0';
}

/*
 * Position of a byte offset, counting line breaks as libyaml does (CR LF,
 * CR, LF, NEL, LS, PS) and columns in code points (a leading BOM is one,
 * as for libyaml).  The bytes before off are well-formed UTF-8.
 */
static void
yaml_offset_pos(const char *buf, size_t len, size_t off, int *line, int *col)
{
	const unsigned char	*s = (const unsigned char *)buf;
	size_t			 i = 0;

	*line = 1;
	*col = 1;
	if (off > len)
		off = len;
	while (i < off) {
		if ((s[i] == '\r' && i + 1 < off && s[i + 1] == '\n') ||
		    (s[i] == 0xc2 && i + 1 < off && s[i + 1] == 0x85)) {
			i += 2;
		} else if (s[i] == '\r' || s[i] == '\n') {
			i++;
		} else if (s[i] == 0xe2 && i + 2 < off && s[i + 1] == 0x80 &&
		    (s[i + 2] == 0xa8 || s[i + 2] == 0xa9)) {
			i += 3;
		} else {
			i++;
			while (i < off && (s[i] & 0xc0) == 0x80)
				i++;
			(*col)++;
			continue;
		}
		(*line)++;
		*col = 1;
	}
}

/*
 * A libyaml mark as a 1-based column.  libyaml is given the text after a
 * leading BOM (told the encoding, it would take the BOM for an indented
 * first character); the BOM stays column 1 of line 1.
 */
static int
yaml_col(const struct yaml_parse *p, const yaml_mark_t *m)
{
	return (int)m->column + 1 + (p->bom && m->line == 0);
}

/* Offset of the first ill-formed UTF-8 sequence, or len. */
static size_t
yaml_utf8_check(const char *buf, size_t len)
{
	const unsigned char	*s = (const unsigned char *)buf;
	size_t			 i = 0, n, k;
	uint32_t		 cp, min;

	while (i < len) {
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		if ((s[i] & 0xe0) == 0xc0) {
			n = 1;
			cp = s[i] & 0x1f;
			min = 0x80;
		} else if ((s[i] & 0xf0) == 0xe0) {
			n = 2;
			cp = s[i] & 0x0f;
			min = 0x800;
		} else if ((s[i] & 0xf8) == 0xf0) {
			n = 3;
			cp = s[i] & 0x07;
			min = 0x10000;
		} else
			return i;
		if (len - i <= n)
			return i;
		for (k = 1; k <= n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return i;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return i;
		i += n + 1;
	}
	return len;
}

struct node *
yaml_load(const char *path, struct bw_diag *diag)
{
	struct stat	 st;
	struct node	*root;
	char		*buf;
	size_t		 len = 0;
	ssize_t		 r;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		bw_diag_add(diag, path, 1, 1, "cannot open: %s",
		    strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		bw_diag_add(diag, path, 1, 1, "not a regular file");
		close(fd);
		return NULL;
	}
	if (st.st_size > (off_t)YAML_MAX_SIZE) {
		bw_diag_add(diag, path, 1, 1, "file is larger than %zu bytes",
		    YAML_MAX_SIZE);
		close(fd);
		return NULL;
	}
	buf = bw_malloc(YAML_MAX_SIZE + 1);
	for (;;) {
		r = read(fd, buf + len, YAML_MAX_SIZE + 1 - len);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		len += (size_t)r;
		if (len == YAML_MAX_SIZE + 1)
			break;
	}
	close(fd);
	if (r == -1) {
		bw_diag_add(diag, path, 1, 1, "read: %s", strerror(errno));
		free(buf);
		return NULL;
	}
	root = yaml_load_buffer(path, buf, len, diag);
	free(buf);
	return root;
}

struct node *
yaml_load_buffer(const char *name, const char *buf, size_t len,
    struct bw_diag *diag)
{
	struct yaml_parse	 p;
	size_t			 bad, i;
	int			 eline = 0, ecol = 0, ok;

	if (len > YAML_MAX_SIZE) {
		bw_diag_add(diag, name, 1, 1, "file is larger than %zu bytes",
		    YAML_MAX_SIZE);
		return NULL;
	}
	if ((bad = yaml_utf8_check(buf, len)) != len) {
		yaml_offset_pos(buf, len, bad, &eline, &ecol);
		bw_diag_add(diag, name, eline, ecol, "invalid UTF-8");
		return NULL;
	}
	memset(&p, 0, sizeof(p));
	p.name = name;
	p.buf = buf;
	p.len = len;
	if (len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0) {
		p.buf += 3;
		p.len -= 3;
		p.bom = true;
	}
	p.diag = diag;
	yaml_scan_tokens(&p);
	ok = yaml_events(&p, &eline, &ecol);
	for (i = 0; i < p.ntok; i++) {
		if (!ok && (p.tok[i].line > eline ||
		    (p.tok[i].line == eline && p.tok[i].col >= ecol)))
			continue;
		bw_diag_add(diag, name, p.tok[i].line, p.tok[i].col, "%s",
		    p.tok[i].msg);
	}
	free(p.tok);
	while (p.depth > 0) {
		p.depth--;
		node_free(p.frames[p.depth].key);
		node_free(p.frames[p.depth].node);
	}
	if (!ok) {
		node_free(p.root);
		return NULL;
	}
	if (p.root == NULL) {
		p.root = bw_calloc(1, sizeof(*p.root));
		p.root->kind = NODE_SCALAR;
		p.root->style = NODE_PLAIN;
		p.root->text = bw_strdup("");
		p.root->line = p.root->col = 1;
	}
	return p.root;
}

/*
 * Token pass: the properties and directives refused by SPEC 4, at their own
 * token.  Stops at the first scanner error, which the event pass reports.
 */
static void
yaml_scan_tokens(struct yaml_parse *p)
{
	yaml_parser_t	 parser;
	yaml_token_t	 tok;
	const char	*msg;
	int		 done = 0;

	if (!yaml_parser_initialize(&parser))
		return;
	yaml_parser_set_input_string(&parser, (const unsigned char *)p->buf,
	    p->len);
	yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING);
	while (!done && yaml_parser_scan(&parser, &tok)) {
		msg = NULL;
		switch (tok.type) {
		case YAML_ANCHOR_TOKEN:
			msg = "anchors are not allowed";
			break;
		case YAML_ALIAS_TOKEN:
			msg = "aliases are not allowed";
			break;
		case YAML_TAG_TOKEN:
			msg = "tags are not allowed";
			break;
		case YAML_TAG_DIRECTIVE_TOKEN:
			msg = "%TAG directives are not allowed";
			break;
		case YAML_STREAM_END_TOKEN:
		case YAML_NO_TOKEN:
			done = 1;
			break;
		default:
			break;
		}
		if (msg != NULL && p->ntok < BW_DIAG_MAX) {
			p->tok = bw_reallocarray(p->tok, p->ntok + 1,
			    sizeof(*p->tok));
			p->tok[p->ntok].line = (int)tok.start_mark.line + 1;
			p->tok[p->ntok].col = yaml_col(p, &tok.start_mark);
			p->tok[p->ntok].msg = msg;
			p->ntok++;
		}
		yaml_token_delete(&tok);
	}
	yaml_parser_delete(&parser);
}

/* Event pass; returns 1 at the end of the stream, 0 on a syntax error. */
static int
yaml_events(struct yaml_parse *p, int *eline, int *ecol)
{
	yaml_parser_t	parser;
	yaml_event_t	ev;
	int		done = 0;

	if (!yaml_parser_initialize(&parser)) {
		bw_diag_add(p->diag, p->name, 1, 1, "out of memory");
		*eline = *ecol = 1;
		return 0;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)p->buf,
	    p->len);
	yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING);
	while (!done) {
		if (!yaml_parser_parse(&parser, &ev)) {
			yaml_syntax_error(p, &parser, eline, ecol);
			yaml_parser_delete(&parser);
			return 0;
		}
		done = yaml_event(p, &ev);
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&parser);
	return 1;
}

static void
yaml_syntax_error(struct yaml_parse *p, const yaml_parser_t *parser,
    int *line, int *col)
{
	const char	*problem;

	problem = parser->problem != NULL ? parser->problem : "syntax error";
	switch (parser->error) {
	case YAML_READER_ERROR:
		yaml_offset_pos(p->buf, p->len, parser->problem_offset, line,
		    col);
		*col += p->bom && *line == 1;
		break;
	case YAML_SCANNER_ERROR:
	case YAML_PARSER_ERROR:
		*line = (int)parser->problem_mark.line + 1;
		*col = yaml_col(p, &parser->problem_mark);
		break;
	default:
		*line = *col = 1;
		problem = "out of memory";
		break;
	}
	if (parser->context != NULL)
		bw_diag_add(p->diag, p->name, *line, *col,
		    "syntax error: %s (%s at %d:%d)", problem, parser->context,
		    (int)parser->context_mark.line + 1,
		    yaml_col(p, &parser->context_mark));
	else
		bw_diag_add(p->diag, p->name, *line, *col, "syntax error: %s",
		    problem);
}

/* One event; returns 1 at the end of the stream. */
static int
yaml_event(struct yaml_parse *p, yaml_event_t *ev)
{
	int	line = (int)ev->start_mark.line + 1;
	int	col = yaml_col(p, &ev->start_mark);

	switch (ev->type) {
	case YAML_STREAM_END_EVENT:
		return 1;
	case YAML_DOCUMENT_START_EVENT:
		if (++p->ndocs == 2)
			bw_diag_add(p->diag, p->name, line, col,
			    "several documents are not allowed");
		break;
	case YAML_SCALAR_EVENT:
		if (p->skip == 0)
			yaml_attach(p, yaml_scalar(p, ev));
		break;
	case YAML_ALIAS_EVENT:
		if (p->skip == 0)
			yaml_attach(p, NULL);
		break;
	case YAML_SEQUENCE_START_EVENT:
	case YAML_MAPPING_START_EVENT:
		if (p->skip > 0) {
			p->skip++;
		} else if (p->depth == YAML_MAX_DEPTH) {
			bw_diag_add(p->diag, p->name, line, col,
			    "nesting deeper than %d levels", YAML_MAX_DEPTH);
			p->skip = 1;
		} else
			yaml_push(p, ev->type == YAML_MAPPING_START_EVENT ?
			    NODE_MAP : NODE_SEQ, line, col);
		break;
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		if (p->skip > 0) {
			if (--p->skip == 0)
				yaml_attach(p, NULL);
		} else
			yaml_pop(p);
		break;
	default:
		break;
	}
	return 0;
}

static struct node *
yaml_scalar(const struct yaml_parse *p, const yaml_event_t *ev)
{
	struct node	*n;
	size_t		 len = ev->data.scalar.length;

	n = bw_calloc(1, sizeof(*n));
	n->kind = NODE_SCALAR;
	n->style = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE ?
	    NODE_PLAIN : NODE_STRING;
	n->line = (int)ev->start_mark.line + 1;
	n->col = yaml_col(p, &ev->start_mark);
	n->text = bw_malloc(len + 1);
	memcpy(n->text, ev->data.scalar.value, len);
	n->text[len] = '\0';
	n->len = len;
	return n;
}

static void
yaml_push(struct yaml_parse *p, enum node_kind kind, int line, int col)
{
	struct yaml_frame	*f = &p->frames[p->depth++];

	memset(f, 0, sizeof(*f));
	f->node = bw_calloc(1, sizeof(*f->node));
	f->node->kind = kind;
	f->node->line = line;
	f->node->col = col;
}

static void
yaml_pop(struct yaml_parse *p)
{
	struct yaml_frame	*f = &p->frames[--p->depth];
	struct node		*n = f->node;

	node_free(f->key);
	if (n->kind == NODE_MAP)
		yaml_map_dedupe(p, n);
	yaml_attach(p, n);
}

/*
 * Hangs a finished node (NULL: a refused one) on the open collection.  A
 * refused key drops its value and a refused value drops its key.
 */
static void
yaml_attach(struct yaml_parse *p, struct node *n)
{
	struct yaml_frame	*f;
	struct node		*m;

	if (p->depth == 0) {
		if (p->ndocs == 1 && p->root == NULL)
			p->root = n;
		else
			node_free(n);
		return;
	}
	f = &p->frames[p->depth - 1];
	m = f->node;
	if (m->kind == NODE_MAP && !f->have_key) {
		f->have_key = true;
		if (n != NULL && n->kind != NODE_SCALAR) {
			bw_diag_add(p->diag, p->name, n->line, n->col,
			    "mapping keys must be scalars");
			node_free(n);
			n = NULL;
		} else if (n != NULL && n->style == NODE_PLAIN &&
		    strcmp(n->text, "<<") == 0) {
			bw_diag_add(p->diag, p->name, n->line, n->col,
			    "merge keys are not allowed");
			node_free(n);
			n = NULL;
		}
		f->key = n;
		return;
	}
	if (m->kind == NODE_MAP) {
		f->have_key = false;
		if (f->key == NULL || n == NULL) {
			node_free(f->key);
			node_free(n);
			f->key = NULL;
			return;
		}
	} else if (n == NULL)
		return;
	if (m->n == f->cap) {
		f->cap = f->cap == 0 ? 4 : f->cap * 2;
		m->vals = bw_reallocarray(m->vals, f->cap, sizeof(*m->vals));
		if (m->kind == NODE_MAP)
			m->keys = bw_reallocarray(m->keys, f->cap,
			    sizeof(*m->keys));
	}
	if (m->kind == NODE_MAP) {
		m->keys[m->n] = f->key;
		f->key = NULL;
	}
	m->vals[m->n++] = n;
}

static int
yaml_key_cmp(const void *a, const void *b, void *arg)
{
	const struct node	*m = arg;
	size_t			 ia = *(const size_t *)a;
	size_t			 ib = *(const size_t *)b;
	const struct node	*ka = m->keys[ia], *kb = m->keys[ib];
	int			 c;

	if (ka->len != kb->len)
		return ka->len < kb->len ? -1 : 1;
	if ((c = memcmp(ka->text, kb->text, ka->len)) != 0)
		return c;
	return ia < ib ? -1 : ia > ib;
}

/*
 * Duplicate keys: sorted by text (then by position), every key equal to its
 * predecessor is a duplicate, reported where it appears and dropped.
 */
static void
yaml_map_dedupe(struct yaml_parse *p, struct node *m)
{
	size_t		*idx, i, j, first = 0;
	bool		*dead;
	const struct node *k, *f;
	char		 ex[128];

	if (m->n < 2)
		return;
	idx = bw_reallocarray(NULL, m->n, sizeof(*idx));
	dead = bw_calloc(m->n, sizeof(*dead));
	for (i = 0; i < m->n; i++)
		idx[i] = i;
	qsort_r(idx, m->n, sizeof(*idx), yaml_key_cmp, m);
	for (i = 1; i < m->n; i++) {
		k = m->keys[idx[i]];
		f = m->keys[idx[first]];
		if (k->len != f->len || memcmp(k->text, f->text, k->len) != 0) {
			first = i;
			continue;
		}
		dead[idx[i]] = true;
		yaml_excerpt(k->text, k->len, ex, sizeof(ex));
		bw_diag_add(p->diag, p->name, k->line, k->col,
		    "duplicate key '%s' (first at %d:%d)", ex, f->line, f->col);
	}
	for (i = j = 0; i < m->n; i++) {
		if (dead[i]) {
			node_free(m->keys[i]);
			node_free(m->vals[i]);
			continue;
		}
		m->keys[j] = m->keys[i];
		m->vals[j++] = m->vals[i];
	}
	m->n = j;
	free(idx);
	free(dead);
}

bool
yaml_is_null(const struct node *n)
{
	return n != NULL && n->kind == NODE_SCALAR && n->style == NODE_PLAIN &&
	    (n->len == 0 || strcmp(n->text, "null") == 0 ||
	    strcmp(n->text, "~") == 0);
}

int
yaml_get_bool(const struct node *n, bool *v)
{
	if (n == NULL || n->kind != NODE_SCALAR || n->style != NODE_PLAIN)
		return -1;
	if (strcmp(n->text, "true") == 0)
		*v = true;
	else if (strcmp(n->text, "false") == 0)
		*v = false;
	else
		return -1;
	return 0;
}

/* Decimal: -?(0|[1-9][0-9]*) within int64. */
int
yaml_get_int(const struct node *n, int64_t *v)
{
	const char	*s;
	uint64_t	 acc = 0, lim;
	bool		 neg;

	if (n == NULL || n->kind != NODE_SCALAR || n->style != NODE_PLAIN ||
	    n->len == 0 || strlen(n->text) != n->len)
		return -1;
	s = n->text;
	neg = *s == '-';
	if (neg)
		s++;
	if (*s < '0' || *s > '9' || (s[0] == '0' && s[1] != '\0'))
		return -1;
	lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		if (acc > (lim - (uint64_t)(*s - '0')) / 10)
			return -1;
		acc = acc * 10 + (uint64_t)(*s - '0');
	}
	if (neg)
		*v = acc == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)acc;
	else
		*v = (int64_t)acc;
	return 0;
}

bool
yaml_is_string(const struct node *n)
{
	bool	b;
	int64_t	i;

	if (n == NULL || n->kind != NODE_SCALAR)
		return false;
	if (n->style != NODE_PLAIN)
		return true;
	return !yaml_is_null(n) && yaml_get_bool(n, &b) == -1 &&
	    yaml_get_int(n, &i) == -1;
}

const char *
yaml_type_name(const struct node *n)
{
	bool	b;
	int64_t	i;

	if (n == NULL)
		return "nothing";
	if (n->kind == NODE_MAP)
		return "mapping";
	if (n->kind == NODE_SEQ)
		return "sequence";
	if (n->style != NODE_PLAIN)
		return "string";
	if (yaml_is_null(n))
		return "null";
	if (yaml_get_bool(n, &b) == 0)
		return "boolean";
	if (yaml_get_int(n, &i) == 0)
		return "integer";
	return "string";
}
