/*
 * jsonw.c - the one JSON string writer (policy in jsonw.h).
 *
 * Owns the escaping of every string bulwark streams as JSON.  Input is
 * untrusted (column values, request ids, paths, configuration text): any
 * byte sequence is accepted, and the output is always valid UTF-8 and a
 * valid JSON string, so no input can end a string, break a log line or
 * smuggle a line separator.  The output never exceeds JSONW_ESC_MAX bytes
 * per input byte, and writers into fixed buffers never pass their bound.
 *
 * The input is taken in units: an ASCII byte, a well-formed UTF-8
 * sequence, or one ill-formed byte (which becomes U+FFFD).  A bound cuts
 * between units only.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <event2/buffer.h>

#include "jsonw.h"
#include "node.h"
#include "util.h"

/* Input bytes escaped per evbuffer reservation. */
#define JSONW_CHUNK_IN	1024

static const char	 jsonw_hex[] = "0123456789abcdef";

/*
 * The short escape of an ASCII byte: 0 for a byte copied as is, 'u' for
 * \u00XX, else the letter after the backslash.
 */
static const char	 jsonw_ascii[128] = {
	'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u',
	'b', 't', 'n', 'u', 'f', 'r', 'u', 'u',
	'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u',
	'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u',
	['"'] = '"', ['\\'] = '\\', [0x7f] = 'u',
};

static bool
jsonw_escaped_cp(uint32_t cp)
{
	return cp <= 0x9f || cp == 0x2028 || cp == 0x2029 || cp == 0xfeff ||
	    cp == 0xfffe || cp == 0xffff;
}

static size_t
jsonw_u(char *out, uint32_t cp)
{
	out[0] = '\\';
	out[1] = 'u';
	out[2] = jsonw_hex[cp >> 12 & 0xf];
	out[3] = jsonw_hex[cp >> 8 & 0xf];
	out[4] = jsonw_hex[cp >> 4 & 0xf];
	out[5] = jsonw_hex[cp & 0xf];
	return 6;
}

/*
 * The escape of the unit at p (a non-plain byte) into out; returns the
 * output length and sets *in to the input bytes the unit spans.
 */
static size_t
jsonw_unit(const unsigned char *p, size_t avail, char *out, size_t *in)
{
	uint32_t	 cp;
	size_t		 n;

	*in = 1;
	if (p[0] < 0x80) {
		if (jsonw_ascii[p[0]] == 'u')
			return jsonw_u(out, p[0]);
		out[0] = '\\';
		out[1] = jsonw_ascii[p[0]];
		return 2;
	}
	if ((n = bw_utf8_seq(p, avail, &cp)) == 0) {
		out[0] = (char)0xef;		/* U+FFFD */
		out[1] = (char)0xbf;
		out[2] = (char)0xbd;
		return 3;
	}
	*in = n;
	if (jsonw_escaped_cp(cp))
		return jsonw_u(out, cp);
	memcpy(out, p, n);
	return n;
}

size_t
jsonw_cut(const char *s, size_t len, size_t max)
{
	const unsigned char	*p = (const unsigned char *)s;
	uint32_t		 cp;
	size_t			 j, n;

	if (len <= max)
		return len;
	for (j = max; j > 0 && max - j < 3; j--) {
		if ((p[j - 1] & 0xc0) == 0xc0) {
			n = bw_utf8_seq(p + j - 1, len - (j - 1), &cp);
			return n > 0 && j - 1 + n > max ? j - 1 : max;
		}
		if ((p[j - 1] & 0xc0) != 0x80)
			break;
	}
	return max;
}

size_t
jsonw_escape(char *dst, size_t dstsz, const char *s, size_t len,
    size_t *used)
{
	const unsigned char	*p = (const unsigned char *)s;
	char			 piece[JSONW_ESC_MAX];
	size_t			 i = 0, o = 0, n, in;

	while (i < len) {
		if (p[i] < 0x80 && jsonw_ascii[p[i]] == 0) {
			if (o == dstsz)
				break;
			dst[o++] = (char)p[i++];
			continue;
		}
		n = jsonw_unit(p + i, len - i, piece, &in);
		if (n > dstsz - o)
			break;
		memcpy(dst + o, piece, n);
		o += n;
		i += in;
	}
	*used = i;
	return o;
}

int
jsonw_body(struct evbuffer *out, const char *s, size_t len, size_t max)
{
	struct evbuffer_iovec	 v;
	size_t			 done = 0, used, want;

	len = jsonw_cut(s, len, max);
	while (done < len) {
		want = len - done;
		if (want > JSONW_CHUNK_IN)
			want = JSONW_CHUNK_IN;
		if (evbuffer_reserve_space(out, (ev_ssize_t)(want *
		    JSONW_ESC_MAX), &v, 1) < 1)
			return -1;
		v.iov_len = jsonw_escape(v.iov_base, v.iov_len, s + done,
		    len - done, &used);
		if (evbuffer_commit_space(out, &v, 1) == -1)
			return -1;
		done += used;
	}
	return 0;
}

int
jsonw_str(struct evbuffer *out, const char *s, size_t len, size_t max)
{
	if (evbuffer_add(out, "\"", 1) == -1 ||
	    jsonw_body(out, s, len, max) == -1)
		return -1;
	return evbuffer_add(out, "\"", 1);
}

int
jsonw_str_buf(char *buf, size_t bufsz, size_t *off, const char *s,
    size_t len, size_t max)
{
	size_t	 o = *off, used;

	if (o >= bufsz || bufsz - o < 3)
		return -1;
	len = jsonw_cut(s, len, max);
	buf[o++] = '"';
	o += jsonw_escape(buf + o, bufsz - o - 2, s, len, &used);
	buf[o++] = '"';
	buf[o] = '\0';
	*off = o;
	return used == len ? 0 : -1;
}

int
jsonw_str_file(FILE *fp, const char *s, size_t len, size_t max)
{
	char	 buf[JSONW_CHUNK_IN];
	size_t	 done = 0, used, n;

	len = jsonw_cut(s, len, max);
	if (fputc('"', fp) == EOF)
		return -1;
	while (done < len) {
		n = jsonw_escape(buf, sizeof(buf), s + done, len - done, &used);
		if (fwrite(buf, 1, n, fp) != n)
			return -1;
		done += used;
	}
	return fputc('"', fp) == EOF ? -1 : 0;
}

static int
jsonw_node_items(struct evbuffer *out, const struct node *n, int max_depth)
{
	size_t	 i;

	for (i = 0; i < n->n; i++) {
		if (i > 0 && evbuffer_add(out, ",", 1) == -1)
			return -1;
		if (n->kind == NODE_MAP &&
		    (jsonw_node(out, n->keys[i], max_depth) == -1 ||
		    evbuffer_add(out, ":", 1) == -1))
			return -1;
		if (jsonw_node(out, n->vals[i], max_depth) == -1)
			return -1;
	}
	return 0;
}

int
jsonw_node(struct evbuffer *out, const struct node *n, int max_depth)
{
	const char	*close;

	if (n->kind == NODE_SCALAR) {
		if (n->style == NODE_STRING || n->style == NODE_PLAIN)
			return jsonw_str(out, n->text, n->len, SIZE_MAX);
		return evbuffer_add(out, n->text, n->len);
	}
	if (max_depth <= 0)
		return -1;
	close = n->kind == NODE_MAP ? "}" : "]";
	if (evbuffer_add(out, n->kind == NODE_MAP ? "{" : "[", 1) == -1 ||
	    jsonw_node_items(out, n, max_depth - 1) == -1)
		return -1;
	return evbuffer_add(out, close, 1);
}
