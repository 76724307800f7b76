/*
 * fuzz_router.c - template compilation, matching and query splitting.
 *
 * Input: one byte choosing the method, then lines.  Every line but the
 * last is a template added (for the chosen method, then rotating) to a
 * router that already holds a few fixed templates; the last line is a
 * path, optionally followed by '?' and a query.  Templates that fail must
 * leave the router usable; matches must respect the documented bounds.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http_parse.h"
#include "router.h"

#define FUZZ_MAX_TEMPLATES	16

static void
fuzz_check(int ok)
{
	if (!ok)
		abort();
}

static void
fuzz_match(struct router *rt, enum http_method m, const char *p, size_t n)
{
	static char		 buf[8192];
	struct router_match	 mt;
	struct router_query	 q;
	struct router_qparam	 qp;
	const char		*qm;
	size_t			 plen, i, bufsz;
	int			 r;

	qm = memchr(p, '?', n);
	plen = qm == NULL ? n : (size_t)(qm - p);
	bufsz = plen + ROUTER_MAX_PARAMS;
	if (bufsz > sizeof(buf))
		bufsz = sizeof(buf);
	r = router_match(rt, m, p, plen, &mt, buf, bufsz);
	if (r == ROUTER_FOUND) {
		fuzz_check(mt.route != NULL && mt.nparams <= ROUTER_MAX_PARAMS);
		for (i = 0; i < mt.nparams; i++)
			fuzz_check(mt.params[i].len > 0 &&
			    mt.params[i].value[mt.params[i].len] == '\0' &&
			    memchr(mt.params[i].value, '/',
			    mt.params[i].len) == NULL);
	}
	if (r == ROUTER_METHOD)
		fuzz_check(strlen(mt.allow) < sizeof(mt.allow) &&
		    strstr(mt.allow, "OPTIONS") != NULL);
	if (qm == NULL)
		return;
	router_query_init(&q, qm + 1, n - plen - 1);
	while ((r = router_query_next(&q, &qp, buf, sizeof(buf))) == 1)
		fuzz_check(qp.name_len > 0 &&
		    qp.name[qp.name_len] == '\0' &&
		    qp.value[qp.value_len] == '\0');
	fuzz_check(r == 0 || r == -1);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char		 tmpl[ROUTER_MAX_TEMPLATE + 2];
	static int		 routes[FUZZ_MAX_TEMPLATES + 3];
	struct router		*rt;
	enum http_method	 m;
	const char		*p, *nl;
	size_t			 n, k = 0;

	if (size < 1)
		return 0;
	m = (enum http_method)(data[0] % HTTP_METHOD_COUNT);
	p = (const char *)data + 1;
	n = size - 1;
	rt = router_new();
	fuzz_check(router_add(rt, "/notes/{id}", HTTP_GET, &routes[0],
	    NULL) == 0);
	fuzz_check(router_add(rt, "/notes/mine", HTTP_POST, &routes[1],
	    NULL) == 0);
	fuzz_check(router_add(rt, "/", HTTP_PUT, &routes[2],
	    NULL) == 0);
	while ((nl = memchr(p, '\n', n)) != NULL && k < FUZZ_MAX_TEMPLATES) {
		if ((size_t)(nl - p) <= ROUTER_MAX_TEMPLATE &&
		    memchr(p, '\0', (size_t)(nl - p)) == NULL) {
			memcpy(tmpl, p, (size_t)(nl - p));
			tmpl[nl - p] = '\0';
			if (router_add(rt, tmpl, (enum http_method)((m + k) %
			    HTTP_METHOD_COUNT), &routes[3 + k], NULL) == -1)
				fuzz_check(router_error(rt)[0] != '\0');
		}
		k++;
		n -= (size_t)(nl - p) + 1;
		p = nl + 1;
	}
	fuzz_match(rt, m, p, n);
	fuzz_match(rt, HTTP_HEAD, p, n);
	router_free(rt);
	return 0;
}
