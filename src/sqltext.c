/*
 * sqltext.c - lexer and placeholder rewriter for route SQL (SPEC 7).
 *
 * Threat model: the text comes from the configuration, not from clients;
 * client data only ever reaches PostgreSQL as bound parameter values.  The
 * lexer still treats its input as untrusted bytes (it is fuzzed): every
 * scan is bounded by the length, the output can never outgrow the input,
 * and a NUL byte is refused because libpq would silently cut the
 * statement there.  What the lexer must get right is where PostgreSQL sees
 * literal text, so that nothing inside a literal or comment is rewritten
 * and no placeholder is missed.
 *
 * Tokens follow PostgreSQL's scanner (standard_conforming_strings on):
 *   '...'		'' is a quote; backslash is an ordinary character
 *   E'...'		backslash escapes the next byte; '' is a quote too
 *   "..."		quoted identifier, "" is a quote
 *   $tag$...$tag$	dollar quote; the tag is empty or [A-Za-z_\200-\377]
 *			followed by [A-Za-z0-9_\200-\377]*; $1 is a positional
 *			parameter (refused), never a dollar quote
 *   -- ...		comment to the end of the line (\n or \r)
 *   / * ... * /	comment; nests
 *   identifiers	[A-Za-z_\200-\377][A-Za-z0-9_$\200-\377]*, so "a$$b$$"
 *			is one identifier and no dollar quote
 *
 * Placeholder rule.  A placeholder is ':' immediately followed by a source
 * word (path, query, body, user, claims, request) and then ".name" parts,
 * each name [A-Za-z_][A-Za-z0-9_]*; ":body" alone is the whole body.  "::"
 * is a cast and ":=" a named argument, never placeholders.  Outside
 * brackets, any other ":word" is an unknown source (an error: it cannot be
 * valid SQL either).  Inside [ ] a ':' is an array slice separator when it
 * follows an operand (identifier other than the keywords listed in
 * sqltext_keywords, number, literal, placeholder, ")" or "]") or when no
 * ".name" follows the word: a[1:2], a[lo:hi], a[:n],
 * a[1:path] and a[1:path.n] are slices (the last one of column path.n).
 * Where an operand is expected, ":source.name" is a placeholder:
 * a[:path.i] is a[$1], a[:path.lo : :path.hi] is a[$1 : $2],
 * a[CASE WHEN :path.c THEN 1 END] is a[CASE WHEN $1 THEN 1 END].  A name
 * directly followed by another identifier character ($ or a byte >= 0x80)
 * is refused rather than split.
 *
 * Statement rule: the first token must be one of the verbs below (any
 * case); a ';' ends the statement and only whitespace and comments may
 * follow it.  The ';' and what follows are not part of the rewritten text.
 * SELECT ... INTO (which creates a table) is refused: an INTO outside
 * parentheses whose nearest verb before it, outside parentheses, is
 * SELECT.  INSERT INTO, and an INTO inside a subquery or a CTE body (which
 * PostgreSQL refuses itself), pass.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sqltext.h"
#include "util.h"

struct sqltext_lex {
	const char		*s;
	size_t			 len;
	size_t			 pos;
	size_t			 mark;		/* first byte not yet copied */
	size_t			 end;		/* the ';' or len */
	size_t			 brackets;	/* depth of [ ] */
	size_t			 parens;	/* depth of ( ) */
	const char		*verb;		/* last verb outside ( ) */
	bool			 operand;	/* last token ends an operand */
	bool			 started;	/* the verb was seen */
	bool			 ended;		/* a ';' was seen */
	char			*out;
	size_t			 outlen;
	size_t			 outcap;
	struct sqltext		*st;
	struct sqltext_error	*err;
};

/* A placeholder being read: names point into the text. */
struct sqltext_ph {
	enum sqltext_source	 source;
	size_t			 offset;
	size_t			 end;
	const char		*name[SQLTEXT_MAX_MEMBERS];
	size_t			 namelen[SQLTEXT_MAX_MEMBERS];
	size_t			 nnames;
};

static const char *const sqltext_verbs[] = {
	"SELECT", "WITH", "INSERT", "UPDATE", "DELETE", "VALUES", "TABLE",
	"CALL",
};

static const char *const sqltext_sources[] = {
	[SQLTEXT_PATH] = "path",
	[SQLTEXT_QUERY] = "query",
	[SQLTEXT_BODY] = "body",
	[SQLTEXT_USER] = "user",
	[SQLTEXT_CLAIMS] = "claims",
	[SQLTEXT_REQUEST] = "request",
};

/* Keywords after which an operand, not a slice separator, comes. */
static const char *const sqltext_keywords[] = {
	"ALL", "AND", "ANY", "BETWEEN", "CASE", "ELSE", "ILIKE", "IN", "IS",
	"LIKE", "NOT", "OR", "SELECT", "SIMILAR", "SOME", "THEN", "WHEN",
	"WHERE",
};

static const char *const sqltext_user_names[] = { "id", "name", "roles" };
static const char *const sqltext_request_names[] = { "id", "ip" };
/* The claims bulwark issues in its access tokens (SPEC 8). */
static const char *const sqltext_claim_names[] = {
	"iss", "aud", "sub", "name", "roles", "sid", "iat", "nbf", "exp", "jti",
};

/* The sources whose names are a fixed set, and how an error names them. */
static const struct sqltext_fixed {
	enum sqltext_source	 source;
	const char *const	*names;
	size_t			 nnames;
	const char		*kind;
	const char		*hint;
} sqltext_fixed_names[] = {
	{ SQLTEXT_USER, sqltext_user_names, BW_ARRAY_LEN(sqltext_user_names),
	    "placeholder", "id, name or roles" },
	{ SQLTEXT_REQUEST, sqltext_request_names,
	    BW_ARRAY_LEN(sqltext_request_names), "placeholder", "id or ip" },
	{ SQLTEXT_CLAIMS, sqltext_claim_names,
	    BW_ARRAY_LEN(sqltext_claim_names), "claim",
	    "iss, aud, sub, name, roles, sid, iat, nbf, exp or jti" },
};

static int	sqltext_fail(struct sqltext_lex *, size_t, const char *, ...)
		    __attribute__((format(printf, 3, 4)));
static int	sqltext_step(struct sqltext_lex *);
static int	sqltext_first(struct sqltext_lex *);
static int	sqltext_ident(struct sqltext_lex *);
static void	sqltext_number(struct sqltext_lex *);
static int	sqltext_quoted(struct sqltext_lex *, size_t, bool, size_t);
static int	sqltext_dollar(struct sqltext_lex *);
static int	sqltext_line_comment(struct sqltext_lex *);
static int	sqltext_block_comment(struct sqltext_lex *);
static int	sqltext_colon(struct sqltext_lex *);
static int	sqltext_placeholder(struct sqltext_lex *, enum sqltext_source,
		    size_t);
static int	sqltext_check_names(struct sqltext_lex *,
		    const struct sqltext_ph *);
static int	sqltext_emit(struct sqltext_lex *, const struct sqltext_ph *);
static int	sqltext_param_index(struct sqltext_lex *,
		    const struct sqltext_ph *, size_t *);
static int	sqltext_copy(struct sqltext_lex *, const char *, size_t);

/* A letter or '_': where an identifier may start (ASCII part). */
static bool
sqltext_is_alpha(unsigned char c)
{
	return bw_is_alpha(c) || c == '_';
}

/* PostgreSQL's ident_start and dolq_start. */
static bool
sqltext_ident_start(unsigned char c)
{
	return sqltext_is_alpha(c) || c >= 0x80;
}

/* PostgreSQL's dolq_cont: ident_cont without '$'. */
static bool
sqltext_dolq_cont(unsigned char c)
{
	return sqltext_ident_start(c) || bw_is_digit(c);
}

static bool
sqltext_ident_cont(unsigned char c)
{
	return sqltext_dolq_cont(c) || c == '$';
}

static bool
sqltext_name_cont(unsigned char c)
{
	return sqltext_is_alpha(c) || bw_is_digit(c);
}

static bool
sqltext_keyword(const char *w, size_t n)
{
	size_t	 i;

	for (i = 0; i < BW_ARRAY_LEN(sqltext_keywords); i++) {
		if (strlen(sqltext_keywords[i]) == n &&
		    strncasecmp(sqltext_keywords[i], w, n) == 0)
			return true;
	}
	return false;
}

static unsigned char
sqltext_at(const struct sqltext_lex *l, size_t i)
{
	return i < l->len ? (unsigned char)l->s[i] : '\0';
}

static int
sqltext_fail(struct sqltext_lex *l, size_t offset, const char *fmt, ...)
{
	va_list	 ap;

	l->err->offset = offset;
	va_start(ap, fmt);
	(void)vsnprintf(l->err->msg, sizeof(l->err->msg), fmt, ap);
	va_end(ap);
	return -1;
}

const char *
sqltext_source_name(enum sqltext_source src)
{
	if ((size_t)src >= BW_ARRAY_LEN(sqltext_sources))
		return "?";
	return sqltext_sources[src];
}

size_t
sqltext_param_name(const struct sqltext_param *p, char *buf, size_t bufsz)
{
	size_t	 i, n;
	int	 w;

	w = snprintf(buf, bufsz, "%s", sqltext_source_name(p->source));
	n = w < 0 ? 0 : (size_t)w;
	for (i = 0; i < p->nnames; i++) {
		w = snprintf(n < bufsz ? buf + n : NULL,
		    n < bufsz ? bufsz - n : 0, ".%s", p->names[i]);
		n += w < 0 ? 0 : (size_t)w;
	}
	return n;
}

void
sqltext_position(const char *sql, size_t len, size_t offset, int *line,
    int *col)
{
	size_t		 i;
	unsigned char	 c;

	*line = 1;
	*col = 1;
	if (offset > len)
		offset = len;
	for (i = 0; i < offset; i++) {
		c = (unsigned char)sql[i];
		if (c == '\n' ||
		    (c == '\r' && (i + 1 >= len || sql[i + 1] != '\n'))) {
			(*line)++;
			*col = 1;
		} else if (c != '\r' && (c & 0xc0) != 0x80)
			(*col)++;
	}
}

void
sqltext_free(struct sqltext *st)
{
	size_t	 i, j;

	if (st == NULL)
		return;
	for (i = 0; i < st->nparams; i++) {
		for (j = 0; j < st->params[i].nnames; j++)
			free(st->params[i].names[j]);
		free(st->params[i].names);
	}
	free(st->params);
	free(st->sql);
	free(st);
}

struct sqltext *
sqltext_parse(const char *sql, size_t len, struct sqltext_error *err)
{
	struct sqltext_lex	 l;
	const char		*nul;

	memset(err, 0, sizeof(*err));
	memset(&l, 0, sizeof(l));
	l.s = sql;
	l.len = len;
	l.err = err;
	if (len > SQLTEXT_MAX_LEN) {
		sqltext_fail(&l, 0, "SQL text longer than %zu bytes",
		    SQLTEXT_MAX_LEN);
		return NULL;
	}
	if ((nul = memchr(sql, '\0', len)) != NULL) {
		sqltext_fail(&l, (size_t)(nul - sql), "NUL byte in SQL text");
		return NULL;
	}
	l.st = bw_calloc(1, sizeof(*l.st));
	l.outcap = len + 1;
	l.out = bw_malloc(l.outcap);
	l.end = len;
	while (l.pos < l.len) {
		if (sqltext_step(&l) == -1)
			goto fail;
	}
	if (!l.started) {
		sqltext_fail(&l, len, "empty SQL statement");
		goto fail;
	}
	if (sqltext_copy(&l, l.s + l.mark, l.end - l.mark) == -1)
		goto fail;
	l.out[l.outlen] = '\0';
	l.st->sql = l.out;
	l.st->sql_len = l.outlen;
	return l.st;
fail:
	free(l.out);
	sqltext_free(l.st);
	return NULL;
}

/* One token (or one byte of whitespace) at l->pos. */

/*
 * An opening (dir 1) or closing (dir -1) bracket or parenthesis: the
 * depth follows it, and only a closing one ends an operand.
 */
static int
sqltext_nest(struct sqltext_lex *l, size_t *depth, int dir)
{
	if (dir > 0)
		(*depth)++;
	else if (*depth > 0)
		(*depth)--;
	l->operand = dir < 0;
	l->pos++;
	return 0;
}

static int
sqltext_step(struct sqltext_lex *l)
{
	unsigned char	 c = sqltext_at(l, l->pos);
	unsigned char	 n = sqltext_at(l, l->pos + 1);

	if (bw_is_space(c)) {
		l->pos++;
		return 0;
	}
	if (c == '-' && n == '-')
		return sqltext_line_comment(l);
	if (c == '/' && n == '*')
		return sqltext_block_comment(l);
	if (l->ended)
		return sqltext_fail(l, l->pos,
		    "only one SQL statement is allowed");
	if (!l->started)
		return sqltext_first(l);

	switch (c) {
	case '\'':
	case '"':
		return sqltext_quoted(l, l->pos, false, l->pos);
	case '$':
		return sqltext_dollar(l);
	case ':':
		return sqltext_colon(l);
	case ';':
		l->ended = true;
		l->end = l->pos++;
		return 0;
	case '[':
		return sqltext_nest(l, &l->brackets, 1);
	case ']':
		return sqltext_nest(l, &l->brackets, -1);
	case '(':
		return sqltext_nest(l, &l->parens, 1);
	case ')':
		return sqltext_nest(l, &l->parens, -1);
	default:
		break;
	}
	if (sqltext_ident_start(c))
		return sqltext_ident(l);
	if (bw_is_digit(c)) {
		sqltext_number(l);
		return 0;
	}
	l->operand = false;
	l->pos++;
	return 0;
}

static int
sqltext_first(struct sqltext_lex *l)
{
	size_t	 start = l->pos, i, n;

	while (l->pos < l->len && sqltext_ident_cont(sqltext_at(l, l->pos)))
		l->pos++;
	n = l->pos - start;
	if (n > 0 && sqltext_ident_start(sqltext_at(l, start))) {
		for (i = 0; i < BW_ARRAY_LEN(sqltext_verbs); i++) {
			if (strlen(sqltext_verbs[i]) == n &&
			    strncasecmp(sqltext_verbs[i], l->s + start,
			    n) == 0) {
				l->st->verb = sqltext_verbs[i];
				l->verb = sqltext_verbs[i];
				l->started = true;
				l->operand = false;
				return 0;
			}
		}
	}
	return sqltext_fail(l, start, "the SQL statement must begin with "
	    "SELECT, WITH, INSERT, UPDATE, DELETE, VALUES, TABLE or CALL");
}

/* A word outside parentheses: remembers verbs, refuses SELECT ... INTO. */
static int
sqltext_top_word(struct sqltext_lex *l, size_t start, size_t n)
{
	size_t	 i;

	if (l->parens > 0)
		return 0;
	if (n == 4 && strncasecmp(l->s + start, "INTO", 4) == 0 &&
	    l->verb != NULL && strcmp(l->verb, "SELECT") == 0)
		return sqltext_fail(l, start, "SELECT ... INTO creates a "
		    "table and is not allowed");
	for (i = 0; i < BW_ARRAY_LEN(sqltext_verbs); i++)
		if (strlen(sqltext_verbs[i]) == n &&
		    strncasecmp(sqltext_verbs[i], l->s + start, n) == 0)
			l->verb = sqltext_verbs[i];
	return 0;
}

static int
sqltext_ident(struct sqltext_lex *l)
{
	size_t	 start = l->pos;

	while (l->pos < l->len && sqltext_ident_cont(sqltext_at(l, l->pos)))
		l->pos++;
	if (l->pos - start == 1 && (l->s[start] == 'E' || l->s[start] == 'e') &&
	    sqltext_at(l, l->pos) == '\'')
		return sqltext_quoted(l, l->pos, true, l->pos - 1);
	l->operand = !sqltext_keyword(l->s + start, l->pos - start);
	return sqltext_top_word(l, start, l->pos - start);
}

/* Digits and what sticks to them ("1.5e10", "0x1f", "1_000"). */
static void
sqltext_number(struct sqltext_lex *l)
{
	unsigned char	 c;

	while (l->pos < l->len) {
		c = sqltext_at(l, l->pos);
		if (!sqltext_name_cont(c) && c != '.')
			break;
		l->pos++;
	}
	l->operand = true;
}

/*
 * A quoted token starting at the quote character at q: a string literal
 * (') or a quoted identifier ("), where a doubled quote stands for itself
 * and, in an E'' string (escapes), a backslash escapes the next byte.
 * start is where the token starts, for the error.
 */
static int
sqltext_quoted(struct sqltext_lex *l, size_t q, bool escapes, size_t start)
{
	unsigned char	 quote = sqltext_at(l, q), c;
	size_t		 p = q + 1;

	while (p < l->len) {
		c = sqltext_at(l, p);
		if (escapes && c == '\\') {
			p += 2;
			continue;
		}
		if (c == quote) {
			if (sqltext_at(l, p + 1) == quote) {
				p += 2;
				continue;
			}
			l->pos = p + 1;
			l->operand = true;
			return 0;
		}
		p++;
	}
	return sqltext_fail(l, start, quote == '"' ? "unterminated quoted "
	    "identifier" : "unterminated string literal");
}

static int
sqltext_dollar(struct sqltext_lex *l)
{
	size_t		 start = l->pos, q = start + 1, dlen, from;
	const char	*close;
	unsigned char	 c = sqltext_at(l, q);

	if (bw_is_digit(c)) {
		while (q < l->len && bw_is_digit(sqltext_at(l, q)) &&
		    q - start < 12)
			q++;
		return sqltext_fail(l, start, "positional parameter %.*s is "
		    "not allowed: use named placeholders",
		    (int)(q - start), l->s + start);
	}
	if (c != '$') {
		if (!sqltext_ident_start(c)) {
			l->pos++;
			l->operand = false;
			return 0;
		}
		while (q < l->len && sqltext_dolq_cont(sqltext_at(l, q)))
			q++;
		if (sqltext_at(l, q) != '$') {
			l->pos++;
			l->operand = false;
			return 0;
		}
	}
	dlen = q - start + 1;
	from = start + dlen;
	close = memmem(l->s + from, l->len - from, l->s + start, dlen);
	if (close == NULL)
		return sqltext_fail(l, start,
		    "unterminated dollar-quoted string");
	l->pos = (size_t)(close - l->s) + dlen;
	l->operand = true;
	return 0;
}

static int
sqltext_line_comment(struct sqltext_lex *l)
{
	while (l->pos < l->len && l->s[l->pos] != '\n' && l->s[l->pos] != '\r')
		l->pos++;
	return 0;
}

static int
sqltext_block_comment(struct sqltext_lex *l)
{
	size_t		 start = l->pos, depth = 0, p = l->pos;
	unsigned char	 c, n;

	while (p < l->len) {
		c = sqltext_at(l, p);
		n = sqltext_at(l, p + 1);
		if (c == '/' && n == '*') {
			depth++;
			p += 2;
		} else if (c == '*' && n == '/') {
			p += 2;
			if (--depth == 0) {
				l->pos = p;
				return 0;
			}
		} else
			p++;
	}
	return sqltext_fail(l, start, "unterminated /* comment");
}

static int
sqltext_colon(struct sqltext_lex *l)
{
	size_t		 start = l->pos, q = start + 1, i, n;
	unsigned char	 c = sqltext_at(l, q);
	int		 src = -1;

	if (c == ':' || c == '=') {
		l->pos += 2;
		l->operand = false;
		return 0;
	}
	if (!sqltext_ident_start(c) || (l->brackets > 0 && l->operand)) {
		l->pos++;
		l->operand = false;
		return 0;
	}
	while (q < l->len && sqltext_ident_cont(sqltext_at(l, q)))
		q++;
	n = q - start - 1;
	for (i = 0; i < BW_ARRAY_LEN(sqltext_sources); i++) {
		if (strlen(sqltext_sources[i]) == n &&
		    memcmp(sqltext_sources[i], l->s + start + 1, n) == 0)
			src = (int)i;
	}
	if (l->brackets > 0 && (src == -1 || sqltext_at(l, q) != '.')) {
		l->pos++;
		l->operand = false;
		return 0;
	}
	if (src == -1)
		return sqltext_fail(l, start, "unknown placeholder source "
		    "':%.*s' (path, query, body, user, claims or request)",
		    n > 64 ? 64 : (int)n, l->s + start + 1);
	return sqltext_placeholder(l, (enum sqltext_source)src, q);
}

/* Reads the ".name" parts after the source word ending at q. */
static int
sqltext_placeholder(struct sqltext_lex *l, enum sqltext_source src, size_t q)
{
	struct sqltext_ph	 ph;
	size_t			 p = q, from;

	memset(&ph, 0, sizeof(ph));
	ph.source = src;
	ph.offset = l->pos;
	while (sqltext_at(l, p) == '.') {
		from = ++p;
		if (!sqltext_is_alpha(sqltext_at(l, p)))
			return sqltext_fail(l, p,
			    "expected a name after '.' in placeholder");
		while (p < l->len && sqltext_name_cont(sqltext_at(l, p)))
			p++;
		if (p - from > SQLTEXT_MAX_NAME)
			return sqltext_fail(l, from, "placeholder name longer "
			    "than %d bytes", SQLTEXT_MAX_NAME);
		if (ph.nnames == SQLTEXT_MAX_MEMBERS)
			return sqltext_fail(l, from, "placeholder with more "
			    "than %d names", SQLTEXT_MAX_MEMBERS);
		ph.name[ph.nnames] = l->s + from;
		ph.namelen[ph.nnames++] = p - from;
	}
	if (p < l->len && sqltext_ident_cont(sqltext_at(l, p)))
		return sqltext_fail(l, p,
		    "invalid character in placeholder name");
	ph.end = p;
	if (sqltext_check_names(l, &ph) == -1)
		return -1;
	return sqltext_emit(l, &ph);
}

static bool
sqltext_name_in(const struct sqltext_ph *ph, const char *const *set,
    size_t nset)
{
	size_t	 i;

	for (i = 0; i < nset; i++) {
		if (strlen(set[i]) == ph->namelen[0] &&
		    memcmp(set[i], ph->name[0], ph->namelen[0]) == 0)
			return true;
	}
	return false;
}

static int
sqltext_check_names(struct sqltext_lex *l, const struct sqltext_ph *ph)
{
	const char			*src = sqltext_source_name(ph->source);
	const struct sqltext_fixed	*f;
	size_t				 i;

	if (ph->source == SQLTEXT_BODY)
		return 0;
	if (ph->nnames != 1)
		return sqltext_fail(l, ph->offset, "placeholder ':%s' takes "
		    "exactly one name (:%s.NAME)", src, src);
	for (i = 0; i < BW_ARRAY_LEN(sqltext_fixed_names); i++) {
		f = &sqltext_fixed_names[i];
		if (f->source == ph->source && !sqltext_name_in(ph, f->names,
		    f->nnames))
			return sqltext_fail(l, ph->offset, "unknown %s "
			    "':%s.%.*s' (%s)", f->kind, src,
			    (int)ph->namelen[0], ph->name[0], f->hint);
	}
	return 0;
}

static int
sqltext_emit(struct sqltext_lex *l, const struct sqltext_ph *ph)
{
	char	 num[16];
	size_t	 idx = 0;
	int	 w;

	if (sqltext_param_index(l, ph, &idx) == -1)
		return -1;
	if (sqltext_copy(l, l->s + l->mark, ph->offset - l->mark) == -1)
		return -1;
	/* "x:path.a" must not become the identifier "x$1". */
	if (l->outlen > 0 &&
	    sqltext_ident_cont((unsigned char)l->out[l->outlen - 1]) &&
	    sqltext_copy(l, " ", 1) == -1)
		return -1;
	w = snprintf(num, sizeof(num), "$%zu", idx + 1);
	if (w < 0 || (size_t)w >= sizeof(num) ||
	    sqltext_copy(l, num, (size_t)w) == -1)
		return -1;
	l->mark = l->pos = ph->end;
	l->operand = true;
	return 0;
}

static bool
sqltext_same(const struct sqltext_param *p, const struct sqltext_ph *ph)
{
	size_t	 i;

	if (p->source != ph->source || p->nnames != ph->nnames)
		return false;
	for (i = 0; i < ph->nnames; i++) {
		if (strlen(p->names[i]) != ph->namelen[i] ||
		    memcmp(p->names[i], ph->name[i], ph->namelen[i]) != 0)
			return false;
	}
	return true;
}

static int
sqltext_param_index(struct sqltext_lex *l, const struct sqltext_ph *ph,
    size_t *idx)
{
	struct sqltext		*st = l->st;
	struct sqltext_param	*p;
	size_t			 i;

	for (i = 0; i < st->nparams; i++) {
		if (sqltext_same(&st->params[i], ph)) {
			*idx = i;
			return 0;
		}
	}
	if (st->nparams == SQLTEXT_MAX_PARAMS)
		return sqltext_fail(l, ph->offset, "more than %d distinct "
		    "placeholders", SQLTEXT_MAX_PARAMS);
	st->params = bw_reallocarray(st->params, st->nparams + 1,
	    sizeof(*st->params));
	p = &st->params[st->nparams];
	memset(p, 0, sizeof(*p));
	p->source = ph->source;
	p->offset = ph->offset;
	if (ph->nnames > 0)
		p->names = bw_calloc(ph->nnames, sizeof(*p->names));
	for (i = 0; i < ph->nnames; i++)
		p->names[i] = bw_strndup(ph->name[i], ph->namelen[i]);
	p->nnames = ph->nnames;
	*idx = st->nparams++;
	return 0;
}

/*
 * The output never outgrows the input: the shortest placeholder (":body",
 * 5 bytes) becomes at most " $256" (5 bytes).  The check stays anyway.
 */
static int
sqltext_copy(struct sqltext_lex *l, const char *p, size_t n)
{
	if (n >= l->outcap - l->outlen)
		return sqltext_fail(l, l->pos, "rewritten SQL text too long");
	memcpy(l->out + l->outlen, p, n);
	l->outlen += n;
	return 0;
}
