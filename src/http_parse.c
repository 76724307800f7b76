/*
 * http_parse.c - strict HTTP/1.1 request heads and chunked bodies
 * (SPEC 5, RFC 9110/9112).
 *
 * Threat model: every byte is attacker-controlled and a front-end proxy may
 * read the same bytes.  Anything two conforming parsers could frame
 * differently is refused rather than repaired: no leniency for bare CR or
 * LF, obs-fold, whitespace before ':', duplicate or malformed framing
 * fields, or transfer codings other than a single "chunked".
 *
 * Invariants: no function reads buf[i] with i >= the window length; no
 * allocation; every count is checked against a limit before it is used.
 * The head is re-parsed from its first byte on each call, which keeps the
 * parser stateless at the cost of O(len) per call; len is bounded by
 * max_header_size because the parser refuses (431) as soon as that many
 * bytes hold no complete head.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "http_parse.h"
#include "util.h"

#define C_TCHAR		0x01	/* token */
#define C_FVCHAR	0x02	/* VCHAR obs-text SP HTAB */
#define C_TARGET	0x04	/* request-target byte (RFC 3986 chars) */
#define C_HEX		0x08
#define C_REGNAME	0x10	/* unreserved sub-delims '%' */
#define C_QDTEXT	0x20	/* quoted-string text */

static const unsigned char http_class[256] = {
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x22, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x22, 0x37, 0x02, 0x23, 0x37, 0x37, 0x37, 0x37, /*  !"#$%&' */
	0x36, 0x36, 0x37, 0x37, 0x36, 0x37, 0x37, 0x26, /* ()*+,-./ */
	0x3f, 0x3f, 0x3f, 0x3f, 0x3f, 0x3f, 0x3f, 0x3f, /* 01234567 */
	0x3f, 0x3f, 0x26, 0x36, 0x22, 0x36, 0x22, 0x26, /* 89:;<=>? */
	0x26, 0x3f, 0x3f, 0x3f, 0x3f, 0x3f, 0x3f, 0x37, /* @ABCDEFG */
	0x37, 0x37, 0x37, 0x37, 0x37, 0x37, 0x37, 0x37, /* HIJKLMNO */
	0x37, 0x37, 0x37, 0x37, 0x37, 0x37, 0x37, 0x37, /* PQRSTUVW */
	0x37, 0x37, 0x37, 0x26, 0x02, 0x26, 0x23, 0x37, /* XYZ[\]^_ */
	0x23, 0x3f, 0x3f, 0x3f, 0x3f, 0x3f, 0x3f, 0x37, /* `abcdefg */
	0x37, 0x37, 0x37, 0x37, 0x37, 0x37, 0x37, 0x37, /* hijklmno */
	0x37, 0x37, 0x37, 0x37, 0x37, 0x37, 0x37, 0x37, /* pqrstuvw */
	0x37, 0x37, 0x37, 0x22, 0x23, 0x22, 0x37, 0x00, /* xyz{|}~  */
	0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22,
	0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22,
	0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22,
	0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22,
	0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22,
	0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22,
	0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22,
	0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22,
	0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22,
	0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22,
	0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22,
	0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22,
	0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22,
	0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22,
	0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22,
	0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22,
};

#define IS(c, cls)	((http_class[(unsigned char)(c)] & (cls)) != 0)

static const char *const http_methods[HTTP_METHOD_COUNT] = {
	[HTTP_GET] = "GET",
	[HTTP_HEAD] = "HEAD",
	[HTTP_POST] = "POST",
	[HTTP_PUT] = "PUT",
	[HTTP_PATCH] = "PATCH",
	[HTTP_DELETE] = "DELETE",
	[HTTP_OPTIONS] = "OPTIONS",
	[HTTP_TRACE] = "TRACE",
	[HTTP_CONNECT] = "CONNECT",
};

enum http_step {
	STEP_OK,
	STEP_MORE,
	STEP_ERR,
};

/* The parse of one head: a window over the caller's bytes. */
struct http_cur {
	const char			*buf;
	size_t				 len;	/* <= max_header_size */
	size_t				 off;
	bool				 cut;	/* len was cut */
	const struct http_limits	*lim;
	int				*status;
	const char			**reason;
	size_t				 max_fields;
	size_t				 nhost;
	bool				 keep_alive;
	bool				 absolute;
	const char			*authority;
	size_t				 authority_len;
};

static enum http_step
http_fail(struct http_cur *c, int status, const char *reason)
{
	*c->status = status;
	*c->reason = reason;
	return STEP_ERR;
}

/* Out of bytes: more may come, unless the window already hit the limit. */
static enum http_step
http_more(struct http_cur *c)
{
	if (c->cut)
		return http_fail(c, 431, "request head too large");
	return STEP_MORE;
}

static bool
http_ieq(const char *a, size_t alen, const char *b, size_t blen)
{
	size_t	 i;

	if (alen != blen)
		return false;
	for (i = 0; i < alen; i++)
		if (bw_to_lower((unsigned char)a[i]) !=
		    bw_to_lower((unsigned char)b[i]))
			return false;
	return true;
}

#define HTTP_IEQ_LIT(p, n, lit) http_ieq((p), (n), (lit), sizeof(lit) - 1)

/* Every '%' in p[0..n) starts a complete %HH escape. */
static bool
http_pct_valid(const char *p, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++) {
		if (p[i] != '%')
			continue;
		if (n - i < 3 || !IS(p[i + 1], C_HEX) || !IS(p[i + 2], C_HEX))
			return false;
		i += 2;
	}
	return true;
}

/* "." or "..", each dot possibly written %2e / %2E. */
static bool
http_dot_segment(const char *p, size_t n)
{
	size_t	 i, dots = 0;

	for (i = 0; i < n; dots++) {
		if (p[i] == '.')
			i++;
		else if (n - i >= 3 && p[i] == '%' && p[i + 1] == '2' &&
		    bw_to_lower((unsigned char)p[i + 2]) == 'e')
			i += 3;
		else
			return false;
	}
	return dots == 1 || dots == 2;
}

/*
 * An absolute path: '/' first, no empty segment but a trailing one, no dot
 * segment, no '[' or ']' (only legal in an authority).
 */
static bool
http_path_valid(const char *p, size_t n)
{
	size_t	 i, seg;

	if (n == 0 || p[0] != '/')
		return false;
	seg = 1;
	for (i = 1; i <= n; i++) {
		if (i < n && p[i] != '/') {
			if (p[i] == '[' || p[i] == ']')
				return false;
			continue;
		}
		if (i == seg && i != n)
			return false;
		if (http_dot_segment(p + seg, i - seg))
			return false;
		seg = i + 1;
	}
	return http_pct_valid(p, n);
}

static bool
http_query_valid(const char *p, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (p[i] == '[' || p[i] == ']')
			return false;
	return http_pct_valid(p, n);
}

/* Splits path?query starting at p (p[0] == '/' or empty) into head. */
static bool
http_split_path(struct http_head *head, const char *p, size_t n)
{
	const char	*q;

	q = memchr(p, '?', n);
	if (q == NULL) {
		head->path = p;
		head->path_len = n;
		head->query = NULL;
		head->query_len = 0;
	} else {
		head->path = p;
		head->path_len = (size_t)(q - p);
		head->query = q + 1;
		head->query_len = n - head->path_len - 1;
		if (!http_query_valid(head->query, head->query_len))
			return false;
	}
	if (head->path_len == 0) {
		head->path = "/";
		head->path_len = 1;
		return true;
	}
	return http_path_valid(head->path, head->path_len);
}

/* absolute-form: http(s)://authority[/path][?query]. */
static enum http_step
http_target_absolute(struct http_cur *c, struct http_head *head)
{
	const char	*t = head->target, *a;
	size_t		 n = head->target_len, skip, alen;

	if (n > 7 && HTTP_IEQ_LIT(t, 7, "http://"))
		skip = 7;
	else if (n > 8 && HTTP_IEQ_LIT(t, 8, "https://"))
		skip = 8;
	else
		return http_fail(c, 400, "request target not origin-form");
	a = t + skip;
	for (alen = 0; skip + alen < n; alen++)
		if (a[alen] == '/' || a[alen] == '?')
			break;
	if (!http_host_valid(a, alen))
		return http_fail(c, 400, "invalid authority in target");
	c->absolute = true;
	c->authority = a;
	c->authority_len = alen;
	if (!http_split_path(head, a + alen, n - skip - alen))
		return http_fail(c, 400, "invalid path");
	return STEP_OK;
}

static enum http_step
http_target(struct http_cur *c, struct http_head *head)
{
	if (head->method == HTTP_CONNECT)
		return http_fail(c, 400, "CONNECT not served");
	if (head->target[0] == '*') {
		if (head->target_len != 1 || head->method != HTTP_OPTIONS)
			return http_fail(c, 400, "invalid asterisk-form");
		head->path = head->target;
		head->path_len = 1;
		head->query = NULL;
		head->query_len = 0;
		return STEP_OK;
	}
	if (head->target[0] != '/')
		return http_target_absolute(c, head);
	if (!http_split_path(head, head->target, head->target_len))
		return http_fail(c, 400, "invalid path");
	return STEP_OK;
}

/*
 * RFC 9112 2.2: empty lines (CRLF) before the request line are ignored.
 * They count toward max_header_size like every other byte of the head; a
 * bare LF there is still refused by the method check.
 */
static enum http_step
http_leading_crlf(struct http_cur *c)
{
	while (c->off + 1 < c->len && c->buf[c->off] == '\r' &&
	    c->buf[c->off + 1] == '\n')
		c->off += 2;
	if (c->off + 1 == c->len && c->buf[c->off] == '\r')
		return http_more(c);
	return STEP_OK;
}

static enum http_step
http_method(struct http_cur *c, struct http_head *head)
{
	size_t	 i, m, start = c->off;

	for (i = start; i < c->len && c->buf[i] != ' '; i++) {
		if (!IS(c->buf[i], C_TCHAR)) {
			if (c->buf[i] == '\r' || c->buf[i] == '\n')
				return http_fail(c, 400,
				    i == start ? "empty line before request" :
				    "no request target");
			return http_fail(c, 400, "invalid method");
		}
		if (i - start >= HTTP_METHOD_MAX_LEN)
			return http_fail(c, 501, "method not implemented");
	}
	if (i == c->len)
		return http_more(c);
	if (i == start)
		return http_fail(c, 400, "empty method");
	for (m = 0; m < HTTP_METHOD_COUNT; m++) {
		if (strlen(http_methods[m]) == i - start &&
		    memcmp(http_methods[m], c->buf + start, i - start) == 0)
			break;
	}
	head->method = (enum http_method)m;
	c->off = i + 1;
	return STEP_OK;
}

static enum http_step
http_target_scan(struct http_cur *c, struct http_head *head)
{
	size_t	 i, start = c->off;

	for (i = start; i < c->len && c->buf[i] != ' '; i++) {
		if (i - start >= c->lim->max_uri_length)
			return http_fail(c, 414, "request target too long");
		if (!IS(c->buf[i], C_TARGET)) {
			if (c->buf[i] == '\r' || c->buf[i] == '\n')
				return http_fail(c, 400, "no HTTP version");
			return http_fail(c, 400, "invalid request target");
		}
	}
	if (i == c->len)
		return http_more(c);
	if (i == start)
		return http_fail(c, 400, "empty request target");
	head->target = c->buf + start;
	head->target_len = i - start;
	c->off = i + 1;
	return STEP_OK;
}

static enum http_step
http_version(struct http_cur *c, struct http_head *head)
{
	static const char	 pat[] = "HTTP/#.#\r\n";
	const char		*v = c->buf + c->off;
	size_t			 i, avail = c->len - c->off;

	for (i = 0; i < sizeof(pat) - 1; i++) {
		if (i == avail)
			return http_more(c);
		if (pat[i] == '#' ? (v[i] < '0' || v[i] > '9') : v[i] != pat[i])
			return http_fail(c, 400, "invalid HTTP version");
		if (i == 5 && v[i] != '1')
			return http_fail(c, 505, "HTTP version not supported");
	}
	head->minor = v[7] == '0' ? 0 : 1;
	c->off += sizeof(pat) - 1;
	if (head->method == HTTP_METHOD_COUNT)
		return http_fail(c, 501, "method not implemented");
	return STEP_OK;
}

static enum http_step
http_request_line(struct http_cur *c, struct http_head *head)
{
	enum http_step	 s;

	if ((s = http_leading_crlf(c)) != STEP_OK ||
	    (s = http_method(c, head)) != STEP_OK)
		return s;
	if ((s = http_target_scan(c, head)) != STEP_OK)
		return s;
	if ((s = http_version(c, head)) != STEP_OK)
		return s;
	return http_target(c, head);
}

/*
 * Content-Length: 1*DIGIT, bounded to int64.  A list ("5, 5") or sign is
 * not digits and therefore refused.  Returns -1 when invalid.
 */
static int
http_cl_value(const char *p, size_t n, int64_t *out)
{
	int64_t	 v = 0;
	size_t	 i;

	for (i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		if (v > (INT64_MAX - (p[i] - '0')) / 10)
			return -1;
		v = v * 10 + (p[i] - '0');
	}
	*out = v;
	return 0;
}

static enum http_step
http_field_cl(struct http_cur *c, struct http_head *head,
    const struct http_field *f)
{
	int64_t	 v;

	if (head->content_length != -1)
		return http_fail(c, 400, "duplicate Content-Length");
	if (head->chunked)
		return http_fail(c, 400, "both Content-Length and TE");
	if (f->value_len == 0 || http_cl_value(f->value, f->value_len, &v) < 0)
		return http_fail(c, 400, "invalid Content-Length");
	head->content_length = v;
	return STEP_OK;
}

static enum http_step
http_field_te(struct http_cur *c, struct http_head *head,
    const struct http_field *f)
{
	if (head->minor == 0)
		return http_fail(c, 400, "Transfer-Encoding in HTTP/1.0");
	if (head->chunked)
		return http_fail(c, 400, "duplicate Transfer-Encoding");
	if (head->content_length != -1)
		return http_fail(c, 400, "both Content-Length and TE");
	if (!HTTP_IEQ_LIT(f->value, f->value_len, "chunked"))
		return http_fail(c, 400, "transfer coding not chunked");
	head->chunked = true;
	return STEP_OK;
}

static enum http_step
http_field_host(struct http_cur *c, struct http_head *head,
    const struct http_field *f)
{
	if (++c->nhost > 1)
		return http_fail(c, 400, "duplicate Host");
	if (!http_host_valid(f->value, f->value_len))
		return http_fail(c, 400, "invalid Host");
	head->host = f->value;
	head->host_len = f->value_len;
	return STEP_OK;
}

/* Connection: #token; "close" and "keep-alive" are noted. */
static enum http_step
http_field_connection(struct http_cur *c, struct http_head *head,
    const struct http_field *f)
{
	const char	*v = f->value;
	size_t		 i = 0, n = f->value_len, start;

	while (i < n) {
		while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		start = i;
		while (i < n && IS(v[i], C_TCHAR))
			i++;
		if (HTTP_IEQ_LIT(v + start, i - start, "close"))
			head->conn_close = true;
		else if (HTTP_IEQ_LIT(v + start, i - start, "keep-alive"))
			c->keep_alive = true;
		while (i < n && (v[i] == ' ' || v[i] == '\t'))
			i++;
		if (i < n && v[i] != ',')
			return http_fail(c, 400, "invalid Connection");
	}
	return STEP_OK;
}

static enum http_step
http_field_expect(struct http_cur *c, struct http_head *head,
    const struct http_field *f)
{
	if (head->minor == 0)
		return STEP_OK;
	if (!HTTP_IEQ_LIT(f->value, f->value_len, "100-continue"))
		return http_fail(c, 417, "unsupported expectation");
	head->expect_continue = true;
	return STEP_OK;
}

static enum http_step
http_field_known(struct http_cur *c, struct http_head *head,
    const struct http_field *f)
{
	switch (f->name_len) {
	case 4:
		if (HTTP_IEQ_LIT(f->name, 4, "host"))
			return http_field_host(c, head, f);
		break;
	case 6:
		if (HTTP_IEQ_LIT(f->name, 6, "expect"))
			return http_field_expect(c, head, f);
		break;
	case 10:
		if (HTTP_IEQ_LIT(f->name, 10, "connection"))
			return http_field_connection(c, head, f);
		break;
	case 14:
		if (HTTP_IEQ_LIT(f->name, 14, "content-length"))
			return http_field_cl(c, head, f);
		break;
	case 17:
		if (HTTP_IEQ_LIT(f->name, 17, "transfer-encoding"))
			return http_field_te(c, head, f);
		break;
	}
	return STEP_OK;
}

/*
 * A field line cut by the end of the buffer: framing fields already proven
 * invalid (a duplicate, CL with TE, a non-digit or too many digits, a
 * coding that cannot become "chunked") are refused now rather than after
 * more bytes arrive.
 */
static enum http_step
http_field_partial(struct http_cur *c, const struct http_head *head,
    const struct http_field *f)
{
	int64_t	 v;
	size_t	 n;

	if (HTTP_IEQ_LIT(f->name, f->name_len, "content-length")) {
		if (head->content_length != -1 || head->chunked ||
		    http_cl_value(f->value, f->value_len, &v) < 0)
			return http_fail(c, 400, "invalid Content-Length");
	} else if (HTTP_IEQ_LIT(f->name, f->name_len, "transfer-encoding")) {
		n = f->value_len < 7 ? f->value_len : 7;
		if (head->content_length != -1 || head->chunked ||
		    head->minor == 0 || f->value_len > 7 ||
		    !http_ieq(f->value, n, "chunked", n))
			return http_fail(c, 400, "invalid Transfer-Encoding");
	}
	return http_more(c);
}

/* One field line: token ':' OWS *(fvchar) OWS CRLF. */
static enum http_step
http_field(struct http_cur *c, struct http_head *head)
{
	struct http_field	*f;
	const char		*b = c->buf;
	size_t			 i = c->off, name, colon, vstart, vend;

	name = i;
	while (i < c->len && IS(b[i], C_TCHAR))
		i++;
	if (i == c->len)
		return http_more(c);
	if (b[i] != ':') {
		if (b[i] == ' ' || b[i] == '\t')
			return http_fail(c, 400, "whitespace before colon");
		if (b[i] == '\r' || b[i] == '\n')
			return http_fail(c, 400, "field without colon");
		return http_fail(c, 400, "invalid field name");
	}
	if (i == name)
		return http_fail(c, 400, "empty field name");
	colon = i++;
	while (i < c->len && (b[i] == ' ' || b[i] == '\t'))
		i++;
	vstart = vend = i;
	for (; i < c->len && b[i] != '\r'; i++) {
		if (!IS(b[i], C_FVCHAR))
			return http_fail(c, 400, b[i] == '\n' ? "bare LF" :
			    "control character in field");
		if (b[i] != ' ' && b[i] != '\t')
			vend = i + 1;
	}
	if (head->nfields >= c->max_fields)
		return http_fail(c, 431, "too many header fields");
	f = &head->fields[head->nfields];
	f->name = b + name;
	f->name_len = colon - name;
	f->value = b + vstart;
	f->value_len = vend - vstart;
	if (c->len - i < 2)
		return http_field_partial(c, head, f);
	if (b[i + 1] != '\n')
		return http_fail(c, 400, "bare CR");
	head->nfields++;
	c->off = i + 2;
	return http_field_known(c, head, f);
}

static enum http_step
http_fields(struct http_cur *c, struct http_head *head)
{
	enum http_step	 s;
	char		 ch;

	for (;;) {
		if (c->off == c->len)
			return http_more(c);
		ch = c->buf[c->off];
		if (ch == '\r') {
			if (c->len - c->off < 2)
				return http_more(c);
			if (c->buf[c->off + 1] != '\n')
				return http_fail(c, 400, "bare CR");
			c->off += 2;
			return STEP_OK;
		}
		if (ch == '\n')
			return http_fail(c, 400, "bare LF");
		if (ch == ' ' || ch == '\t')
			return http_fail(c, 400, "obs-fold");
		if ((s = http_field(c, head)) != STEP_OK)
			return s;
	}
}

static enum http_step
http_finish(struct http_cur *c, struct http_head *head)
{
	if (head->minor == 1 && c->nhost != 1)
		return http_fail(c, 400, "missing Host");
	if (c->absolute && (head->host == NULL ||
	    !http_ieq(c->authority, c->authority_len, head->host,
	    head->host_len)))
		return http_fail(c, 400, "target authority differs from Host");
	if (head->minor == 0 && !c->keep_alive)
		head->conn_close = true;
	head->head_len = c->off;
	return STEP_OK;
}

enum http_parse_result
http_parse_head(const char *buf, size_t len, const struct http_limits *lim,
    struct http_head *head, int *status, const char **reason)
{
	struct http_cur	 c;
	enum http_step	 s;

	memset(&c, 0, sizeof(c));
	c.buf = buf;
	c.len = len;
	if (len > lim->max_header_size) {
		c.len = lim->max_header_size;
		c.cut = true;
	}
	c.lim = lim;
	c.status = status;
	c.reason = reason;
	c.max_fields = lim->max_headers < HTTP_MAX_FIELDS ?
	    lim->max_headers : HTTP_MAX_FIELDS;
	head->method = HTTP_METHOD_COUNT;
	head->target = head->path = head->query = head->host = NULL;
	head->target_len = head->path_len = head->query_len = 0;
	head->host_len = head->nfields = head->head_len = 0;
	head->minor = 1;
	head->content_length = -1;
	head->chunked = head->conn_close = head->expect_continue = false;
	*status = 0;
	*reason = NULL;

	if ((s = http_request_line(&c, head)) == STEP_OK &&
	    (s = http_fields(&c, head)) == STEP_OK)
		s = http_finish(&c, head);
	switch (s) {
	case STEP_OK:
		return HTTP_PARSE_DONE;
	case STEP_MORE:
		return HTTP_PARSE_MORE;
	default:
		return HTTP_PARSE_ERROR;
	}
}

const struct http_field *
http_head_field(const struct http_head *head, const char *name, size_t *count)
{
	const struct http_field	*first = NULL;
	size_t			 i, n = 0, nlen = strlen(name);

	for (i = 0; i < head->nfields; i++) {
		if (!http_ieq(head->fields[i].name, head->fields[i].name_len,
		    name, nlen))
			continue;
		if (first == NULL)
			first = &head->fields[i];
		n++;
	}
	if (count != NULL)
		*count = n;
	return first;
}

const char *
http_method_name(enum http_method m)
{
	if ((unsigned int)m >= HTTP_METHOD_COUNT)
		return "?";
	return http_methods[m];
}

/*
 * Chunked bodies.  One state per grammar position; every byte outside
 * chunk data is counted in meta_bytes (bounded by max_meta).
 */
enum http_chunk_state {
	CH_SIZE,
	CH_EXT_NAME,
	CH_EXT_VAL,
	CH_EXT_TOK,
	CH_EXT_QS,
	CH_EXT_QS_ESC,
	CH_EXT_QS_END,
	CH_SIZE_LF,
	CH_DATA,
	CH_DATA_CR,
	CH_DATA_LF,
	CH_TR_START,
	CH_TR_NAME,
	CH_TR_VALUE,
	CH_TR_LF,
	CH_END_LF,
	CH_END,
	CH_ERROR,
};

void
http_chunked_init(struct http_chunked *ch, size_t max_meta, uint64_t max_body)
{
	memset(ch, 0, sizeof(*ch));
	ch->state = CH_SIZE;
	ch->max_meta = max_meta;
	ch->max_body = max_body;
}

static int
http_chunk_fail(struct http_chunked *ch, int status)
{
	ch->state = CH_ERROR;
	ch->status = status;
	return -1;
}

/* End of a chunk-size line: a data chunk, or the last chunk. */
static int
http_chunk_size_done(struct http_chunked *ch)
{
	if (ch->size == 0) {
		ch->state = CH_TR_START;
		return 0;
	}
	if (ch->size > ch->max_body - ch->total)
		return http_chunk_fail(ch, 413);
	ch->remaining = ch->size;
	ch->state = CH_DATA;
	return 0;
}

static int
http_chunk_size(struct http_chunked *ch, char b)
{
	int	 v;

	if ((v = bw_hex_value((unsigned char)b)) >= 0) {
		if (++ch->count > HTTP_CHUNK_SIZE_DIGITS)
			return http_chunk_fail(ch, 400);
		ch->size = ch->size << 4 | (uint64_t)v;
		return 0;
	}
	if (ch->count == 0 || (b != ';' && b != '\r'))
		return http_chunk_fail(ch, 400);
	ch->count = 0;
	ch->state = b == ';' ? CH_EXT_NAME : CH_SIZE_LF;
	return 0;
}

/* chunk-ext: *( ";" token [ "=" ( token / quoted-string ) ] ) */
static int
http_chunk_ext(struct http_chunked *ch, char b)
{
	switch (ch->state) {
	case CH_EXT_NAME:
		if (IS(b, C_TCHAR)) {
			ch->count++;
			return 0;
		}
		if (ch->count == 0 || (b != '=' && b != ';' && b != '\r'))
			return http_chunk_fail(ch, 400);
		ch->count = 0;
		ch->state = b == '=' ? CH_EXT_VAL : b == ';' ? CH_EXT_NAME :
		    CH_SIZE_LF;
		return 0;
	case CH_EXT_VAL:
		if (b == '"')
			ch->state = CH_EXT_QS;
		else if (IS(b, C_TCHAR))
			ch->state = CH_EXT_TOK;
		else
			return http_chunk_fail(ch, 400);
		return 0;
	case CH_EXT_QS:
		if (b == '"')
			ch->state = CH_EXT_QS_END;
		else if (b == '\\')
			ch->state = CH_EXT_QS_ESC;
		else if (!IS(b, C_QDTEXT))
			return http_chunk_fail(ch, 400);
		return 0;
	case CH_EXT_QS_ESC:
		if (!IS(b, C_FVCHAR))
			return http_chunk_fail(ch, 400);
		ch->state = CH_EXT_QS;
		return 0;
	default:
		if (ch->state == CH_EXT_TOK && IS(b, C_TCHAR))
			return 0;
		if (b != ';' && b != '\r')
			return http_chunk_fail(ch, 400);
		ch->state = b == ';' ? CH_EXT_NAME : CH_SIZE_LF;
		return 0;
	}
}

/* Trailer section: field lines as in the head, then CRLF. */
static int
http_chunk_trailer(struct http_chunked *ch, char b)
{
	switch (ch->state) {
	case CH_TR_START:
		if (b == '\r')
			ch->state = CH_END_LF;
		else if (IS(b, C_TCHAR))
			ch->state = CH_TR_NAME;
		else
			return http_chunk_fail(ch, 400);
		return 0;
	case CH_TR_NAME:
		if (b == ':')
			ch->state = CH_TR_VALUE;
		else if (!IS(b, C_TCHAR))
			return http_chunk_fail(ch, 400);
		return 0;
	case CH_TR_VALUE:
		if (b == '\r')
			ch->state = CH_TR_LF;
		else if (!IS(b, C_FVCHAR))
			return http_chunk_fail(ch, 400);
		return 0;
	default:
		if (b != '\n')
			return http_chunk_fail(ch, 400);
		ch->state = CH_TR_START;
		return 0;
	}
}

/* One byte outside chunk data; -1 on error. */
static int
http_chunk_byte(struct http_chunked *ch, char b)
{
	if (ch->state != CH_DATA_CR && ch->state != CH_DATA_LF &&
	    ++ch->meta_bytes > ch->max_meta)
		return http_chunk_fail(ch, 431);
	switch (ch->state) {
	case CH_SIZE:
		return http_chunk_size(ch, b);
	case CH_EXT_NAME:
	case CH_EXT_VAL:
	case CH_EXT_TOK:
	case CH_EXT_QS:
	case CH_EXT_QS_ESC:
	case CH_EXT_QS_END:
		return http_chunk_ext(ch, b);
	case CH_SIZE_LF:
		if (b != '\n')
			return http_chunk_fail(ch, 400);
		return http_chunk_size_done(ch);
	case CH_DATA_CR:
		if (b != '\r')
			return http_chunk_fail(ch, 400);
		ch->state = CH_DATA_LF;
		return 0;
	case CH_DATA_LF:
		if (b != '\n')
			return http_chunk_fail(ch, 400);
		ch->state = CH_SIZE;
		ch->size = 0;
		ch->count = 0;
		return 0;
	case CH_END_LF:
		if (b != '\n')
			return http_chunk_fail(ch, 400);
		ch->state = CH_END;
		return 0;
	default:
		return http_chunk_trailer(ch, b);
	}
}

enum http_chunk_result
http_chunked_feed(struct http_chunked *ch, const char *in, size_t len,
    size_t *used, const char **data, size_t *data_len, int *status)
{
	size_t	 i = 0, n;

	*data = NULL;
	*data_len = 0;
	*status = 0;
	while (ch->state != CH_ERROR && ch->state != CH_END && i < len) {
		if (ch->state != CH_DATA) {
			(void)http_chunk_byte(ch, in[i++]);
			continue;
		}
		n = len - i;
		if (n > ch->remaining)
			n = (size_t)ch->remaining;
		ch->remaining -= n;
		ch->total += n;
		if (ch->remaining == 0)
			ch->state = CH_DATA_CR;
		*data = in + i;
		*data_len = n;
		*used = i + n;
		return HTTP_CHUNK_DATA;
	}
	*used = i;
	if (ch->state == CH_ERROR) {
		*status = ch->status;
		return HTTP_CHUNK_ERROR;
	}
	return ch->state == CH_END ? HTTP_CHUNK_END : HTTP_CHUNK_MORE;
}

/* IP-literal: "[" ( IPv6address / IPvFuture ) "]" */
static bool
http_host_literal(const char *s, size_t n)
{
	struct in6_addr	 a6;
	char		 tmp[INET6_ADDRSTRLEN];
	size_t		 i;

	if (n < 2 || s[0] != '[' || s[n - 1] != ']')
		return false;
	s++;
	n -= 2;
	if (n > 2 && (s[0] == 'v' || s[0] == 'V')) {
		for (i = 1; i < n && IS(s[i], C_HEX); i++)
			;
		if (i == 1 || i >= n - 1 || s[i] != '.')
			return false;
		for (i++; i < n; i++)
			if (s[i] != ':' &&
			    (s[i] == '%' || !IS(s[i], C_REGNAME)))
				return false;
		return true;
	}
	if (n == 0 || n >= sizeof(tmp))
		return false;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	return inet_pton(AF_INET6, tmp, &a6) == 1;
}

/* Offset of the ':' before a port, or n when none. */
static size_t
http_host_portsep(const char *s, size_t n)
{
	size_t	 i;

	if (n > 0 && s[0] == '[') {
		for (i = 0; i < n && s[i] != ']'; i++)
			;
		return i + 1 < n ? i + 1 : n;
	}
	for (i = 0; i < n && s[i] != ':'; i++)
		;
	return i;
}

bool
http_host_valid(const char *s, size_t n)
{
	size_t	 h, i, port;

	h = http_host_portsep(s, n);
	if (h == 0)
		return false;
	if (h < n) {
		if (s[h] != ':' || n - h - 1 == 0 || n - h - 1 > 5)
			return false;
		for (port = 0, i = h + 1; i < n; i++) {
			if (s[i] < '0' || s[i] > '9')
				return false;
			port = port * 10 + (size_t)(s[i] - '0');
		}
		if (port > 65535)
			return false;
	}
	if (s[0] == '[')
		return http_host_literal(s, h);
	for (i = 0; i < h; i++)
		if (!IS(s[i], C_REGNAME))
			return false;
	return http_pct_valid(s, h);
}

bool
http_host_matches(const char *host, size_t len, char *const *names,
    size_t nnames)
{
	const char	*name;
	size_t		 h, i, nlen;

	h = http_host_portsep(host, len);
	if (h > 1 && host[0] != '[' && host[h - 1] == '.')
		h--;
	for (i = 0; i < nnames; i++) {
		name = names[i];
		nlen = strlen(name);
		if (nlen > 1 && name[0] != '[' && name[nlen - 1] == '.')
			nlen--;
		if (http_ieq(host, h, name, nlen))
			return true;
		if (h > 2 && host[0] == '[' && name[0] != '[' &&
		    http_ieq(host + 1, h - 2, name, nlen))
			return true;
	}
	return false;
}
