/*
 * fuzz_http.c - the request-head parser, the chunked decoder and the
 * router over attacker bytes.
 *
 * The input is read as a connection would: heads parsed one after the
 * other (pipelining) with small limits, each body skipped by its
 * Content-Length or decoded as chunked, each path matched against a small
 * route set and each query split.  The chunked decoder also runs over the
 * whole input twice, fed at once and byte by byte, and both runs must
 * agree.  Every invariant the callers rely on is checked with abort().
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http_parse.h"
#include "router.h"

#define FUZZ_MAX_MESSAGES	16

static const struct http_limits fuzz_limits = {
	.max_header_size = 1024,
	.max_headers = 16,
	.max_uri_length = 256,
};

static struct router	*fuzz_router;
static int		 fuzz_routes[4];

static void
fuzz_check(int ok)
{
	if (!ok)
		abort();
}

static struct router *
fuzz_router_get(void)
{
	if (fuzz_router != NULL)
		return fuzz_router;
	fuzz_router = router_new();
	fuzz_check(router_add(fuzz_router, "/notes/{id}", HTTP_GET,
	    &fuzz_routes[0], NULL) == 0);
	fuzz_check(router_add(fuzz_router, "/notes/mine", HTTP_GET,
	    &fuzz_routes[1], NULL) == 0);
	fuzz_check(router_add(fuzz_router, "/a/{x}/{y}/", HTTP_POST,
	    &fuzz_routes[2], NULL) == 0);
	fuzz_check(router_add(fuzz_router, "/", HTTP_DELETE,
	    &fuzz_routes[3], NULL) == 0);
	return fuzz_router;
}

/* A span lies inside buf[0..len). */
static int
fuzz_inside(const char *p, size_t n, const char *buf, size_t len)
{
	return p >= buf && n <= len && (size_t)(p - buf) <= len - n;
}

static void
fuzz_route(const struct http_head *h)
{
	static char		 pbuf[1024 + ROUTER_MAX_PARAMS];
	struct router_match	 m;
	struct router_query	 q;
	struct router_qparam	 qp;
	size_t			 i;
	int			 r;

	r = router_match(fuzz_router_get(), h->method, h->path, h->path_len,
	    &m, pbuf, sizeof(pbuf));
	if (r == ROUTER_FOUND)
		for (i = 0; i < m.nparams; i++)
			fuzz_check(m.params[i].value[m.params[i].len] == '\0' &&
			    memchr(m.params[i].value, '/', m.params[i].len) ==
			    NULL);
	if (r == ROUTER_METHOD)
		fuzz_check(strstr(m.allow, "OPTIONS") != NULL);
	router_query_init(&q, h->query, h->query_len);
	while ((r = router_query_next(&q, &qp, pbuf, sizeof(pbuf))) == 1)
		fuzz_check(qp.name_len > 0 && qp.value[qp.value_len] == '\0');
}

/* Decode a chunked body fed `step` bytes at a time. */
static enum http_chunk_result
fuzz_chunked(const char *in, size_t len, size_t step, size_t *consumed,
    uint64_t *total)
{
	struct http_chunked	 ch;
	enum http_chunk_result	 r;
	const char		*data;
	size_t			 off = 0, avail, used, dlen;
	int			 status;

	http_chunked_init(&ch, 64, 4096);
	for (;;) {
		avail = len - off < step ? len - off : step;
		r = http_chunked_feed(&ch, in + off, avail, &used, &data,
		    &dlen, &status);
		fuzz_check(used <= avail);
		if (r == HTTP_CHUNK_DATA)
			fuzz_check(dlen > 0 && data >= in + off &&
			    data + dlen == in + off + used);
		off += used;
		if (r == HTTP_CHUNK_ERROR)
			fuzz_check(status == 400 || status == 413 ||
			    status == 431);
		if (r == HTTP_CHUNK_MORE && off < len)
			continue;
		if (r != HTTP_CHUNK_DATA || off == len)
			break;
	}
	if (r == HTTP_CHUNK_DATA)
		r = HTTP_CHUNK_MORE;
	fuzz_check(ch.total <= 4096);
	*consumed = off;
	*total = ch.total;
	return r;
}

static void
fuzz_head(const struct http_head *h, const char *buf, size_t len)
{
	size_t	 i;

	fuzz_check(h->head_len >= 18 && h->head_len <= len &&
	    h->head_len <= fuzz_limits.max_header_size);
	fuzz_check(h->nfields <= fuzz_limits.max_headers);
	fuzz_check(h->target_len <= fuzz_limits.max_uri_length);
	fuzz_check(fuzz_inside(h->target, h->target_len, buf, h->head_len));
	fuzz_check(h->path_len > 0);
	fuzz_check(h->query == NULL ||
	    fuzz_inside(h->query, h->query_len, buf, h->head_len));
	fuzz_check(!(h->chunked && h->content_length >= 0));
	fuzz_check(h->minor == 0 || h->host != NULL);
	fuzz_check(h->method != HTTP_CONNECT);
	if (h->host != NULL)
		fuzz_check(http_host_valid(h->host, h->host_len));
	for (i = 0; i < h->nfields; i++) {
		fuzz_check(h->fields[i].name_len > 0);
		fuzz_check(fuzz_inside(h->fields[i].value,
		    h->fields[i].value_len, buf, h->head_len));
	}
	fuzz_check(buf[h->head_len - 1] == '\n' &&
	    buf[h->head_len - 2] == '\r');
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct http_head	 h;
	static char *const	 names[] = { "a.example", "[::1]" };
	const char		*buf = (const char *)data, *reason;
	enum http_chunk_result	 r1, r2;
	size_t			 off = 0, n, c1, c2;
	uint64_t		 t1, t2;
	int			 status, k;

	for (k = 0; k < FUZZ_MAX_MESSAGES && off < size; k++) {
		switch (http_parse_head(buf + off, size - off, &fuzz_limits, &h,
		    &status, &reason)) {
		case HTTP_PARSE_ERROR:
			fuzz_check(reason != NULL && status >= 400 &&
			    status <= 505);
			k = FUZZ_MAX_MESSAGES;
			continue;
		case HTTP_PARSE_MORE:
			fuzz_check(size - off <= fuzz_limits.max_header_size);
			k = FUZZ_MAX_MESSAGES;
			continue;
		case HTTP_PARSE_DONE:
			break;
		}
		fuzz_head(&h, buf + off, size - off);
		(void)http_head_field(&h, "content-type", &n);
		if (h.host != NULL)
			(void)http_host_matches(h.host, h.host_len, names, 2);
		fuzz_route(&h);
		off += h.head_len;
		if (h.chunked) {
			if (fuzz_chunked(buf + off, size - off, size, &n,
			    &t1) != HTTP_CHUNK_END)
				break;
			off += n;
		} else if (h.content_length > 0) {
			if ((uint64_t)h.content_length > size - off)
				break;
			off += (size_t)h.content_length;
		}
	}

	r1 = fuzz_chunked(buf, size, size == 0 ? 1 : size, &c1, &t1);
	r2 = fuzz_chunked(buf, size, 1, &c2, &t2);
	fuzz_check(r1 == r2 && c1 == c2 && t1 == t2);
	return 0;
}
