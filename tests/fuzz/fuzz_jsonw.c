/*
 * fuzz_jsonw.c - the one JSON string writer.
 *
 * Input: one byte choosing the bound on input bytes (255: none), one byte
 * for the size of a fixed buffer, then the string.  Both writers must
 * produce valid UTF-8 that the project's own JSON reader accepts as one
 * string; the evbuffer writer's string must be the bounded input with
 * every ill-formed byte replaced by U+FFFD (so no code point is split or
 * lost), and the fixed-buffer writer's a prefix of it, within its buffer
 * (allocated at exactly its size, so ASan sees any overrun).  When the
 * string is itself a JSON document, jsonw_node() must write it back as a
 * document that reads as the same tree (written again, the same bytes).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "json.h"
#include "jsonw.h"
#include "util.h"

static void
fuzz_check(int ok)
{
	if (!ok)
		abort();
}

/* s with each ill-formed byte replaced by U+FFFD, computed apart. */
static char *
fuzz_reference(const char *s, size_t len, size_t *outlen)
{
	const unsigned char	*p = (const unsigned char *)s;
	char			*o = malloc(len * 3 + 1);
	size_t			 i = 0, k = 0, n;

	fuzz_check(o != NULL);
	while (i < len) {
		n = p[i] < 0x80 ? 1 : p[i] < 0xe0 ? 2 : p[i] < 0xf0 ? 3 : 4;
		if (i + n <= len && bw_utf8_valid(s + i, n)) {
			memcpy(o + k, s + i, n);
			k += n;
			i += n;
		} else {
			memcpy(o + k, "\xef\xbf\xbd", 3);
			k += 3;
			i++;
		}
	}
	*outlen = k;
	return o;
}

/* Parses doc as one JSON string; returns its node (caller frees). */
static struct node *
fuzz_parse(const char *doc, size_t len)
{
	struct json_error	 err;
	struct node		*n;

	fuzz_check(bw_utf8_valid(doc, len));
	n = json_parse(doc, len, 0, &err);
	fuzz_check(n != NULL);
	fuzz_check(n->kind == NODE_SCALAR && n->style == NODE_STRING);
	return n;
}

static void
fuzz_buf(const char *s, size_t len, size_t max, size_t bufsz,
    const struct node *whole)
{
	struct node	*n;
	char		*buf;
	size_t		 off = 0;
	int		 rc;

	if ((buf = malloc(bufsz > 0 ? bufsz : 1)) == NULL)
		return;
	rc = jsonw_str_buf(buf, bufsz, &off, s, len, max);
	if (bufsz < 3) {
		fuzz_check(rc == -1 && off == 0);
		free(buf);
		return;
	}
	fuzz_check(off < bufsz && buf[off] == '\0');
	n = fuzz_parse(buf, off);
	fuzz_check(n->len <= whole->len &&
	    memcmp(n->text, whole->text, n->len) == 0);
	fuzz_check((rc == 0) == (n->len == whole->len));
	node_free(n);
	free(buf);
}

static void
fuzz_node(const char *s, size_t len)
{
	struct json_error	 err;
	struct evbuffer		*a, *b;
	struct node		*n, *m;
	size_t			 alen;

	if ((n = json_parse(s, len, 16, &err)) == NULL)
		return;
	a = evbuffer_new();
	b = evbuffer_new();
	fuzz_check(a != NULL && b != NULL);
	fuzz_check(jsonw_node(a, n, 16) == 0);
	alen = evbuffer_get_length(a);
	m = json_parse((const char *)evbuffer_pullup(a, -1), alen, 16, &err);
	fuzz_check(m != NULL);
	fuzz_check(jsonw_node(b, m, 16) == 0);
	fuzz_check(evbuffer_get_length(b) == alen &&
	    memcmp(evbuffer_pullup(a, -1), evbuffer_pullup(b, -1), alen) == 0);
	node_free(m);
	node_free(n);
	evbuffer_free(a);
	evbuffer_free(b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct evbuffer	*b;
	struct node	*n;
	const char	*s;
	char		*doc, *want;
	size_t		 len, max, cut, doclen, wantlen;

	if (size < 2)
		return 0;
	max = data[0] == 255 ? SIZE_MAX : data[0];
	s = (const char *)data + 2;
	len = size - 2;
	cut = jsonw_cut(s, len, max);
	fuzz_check(cut <= len && cut <= max && (cut == len || cut + 4 > max));
	if ((b = evbuffer_new()) == NULL)
		return 0;
	fuzz_check(jsonw_str(b, s, len, max) == 0);
	doclen = evbuffer_get_length(b);
	fuzz_check(doclen >= 2 && doclen <= 2 + JSONW_ESC_MAX * cut);
	doc = (char *)evbuffer_pullup(b, -1);
	fuzz_check(doc != NULL);
	n = fuzz_parse(doc, doclen);
	want = fuzz_reference(s, cut, &wantlen);
	fuzz_check(n->len == wantlen && memcmp(n->text, want, wantlen) == 0);
	fuzz_buf(s, len, max, data[1], n);
	fuzz_node(s, len);
	node_free(n);
	free(want);
	evbuffer_free(b);
	return 0;
}
