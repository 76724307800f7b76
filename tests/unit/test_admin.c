/*
 * test_admin.c - the admin listener's responses: /healthz and /readyz by
 * the readiness table the master reports, the Host check (DNS rebinding), bounds on the head,
 * and the headers every response carries.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "unit.h"
#include "admin.h"

static struct admin_view	 view;
static char			 resp[8192];

static void
setup(void)
{
	struct sockaddr_in	 sin;

	memset(&view, 0, sizeof(view));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(9090);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(admin_view_addr(&view, (struct sockaddr *)&sin), 0);
	view.known = 1;
	view.health.workers = 2;
	view.health.up = 2;
	view.health.ready = 2;
	view.health.slot[0] = (struct chan_health_slot){ 1, 1, CHAN_PART_UP,
	    CHAN_PART_UP, CHAN_PART_NONE };
	view.health.slot[1] = (struct chan_health_slot){ 1, 1, CHAN_PART_UP,
	    CHAN_PART_NONE, CHAN_PART_NONE };
}

/* Runs one request; returns the status and leaves the text in resp. */
static int
request(const char *req)
{
	struct evbuffer	*out = evbuffer_new();
	size_t		 n;
	int		 status = 0;

	ck_assert_ptr_nonnull(out);
	ck_assert_int_eq(admin_respond(req, strlen(req), &view, out), 1);
	n = evbuffer_get_length(out);
	ck_assert_uint_lt(n, sizeof(resp));
	evbuffer_remove(out, resp, n);
	resp[n] = '\0';
	evbuffer_free(out);
	ck_assert_int_eq(sscanf(resp, "HTTP/1.1 %d ", &status), 1);
	return status;
}

static const char *
body(void)
{
	const char	*p = strstr(resp, "\r\n\r\n");

	ck_assert_ptr_nonnull(p);
	return p + 4;
}

static void
assert_headers(void)
{
	static const char *const want[] = {
		"\r\nDate: ", "\r\nContent-Length: ",
		"\r\nCache-Control: no-store\r\n",
		"\r\nX-Content-Type-Options: nosniff\r\n",
		"\r\nContent-Security-Policy: default-src 'none'; "
		    "frame-ancestors 'none'\r\n",
		"\r\nX-Frame-Options: DENY\r\n",
		"\r\nReferrer-Policy: no-referrer\r\n",
		"\r\nX-Request-Id: ", "\r\nConnection: close\r\n",
	};
	size_t	 i;

	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		ck_assert_msg(strstr(resp, want[i]) != NULL, "missing %s in %s",
		    want[i], resp);
	ck_assert_ptr_null(strstr(resp, "Server:"));
}

START_TEST(test_healthz_ok)
{
	ck_assert_int_eq(request("GET /healthz HTTP/1.1\r\nHost: localhost"
	    "\r\n\r\n"), 200);
	assert_headers();
	ck_assert_ptr_nonnull(strstr(resp,
	    "Content-Type: application/json; charset=utf-8\r\n"));
	ck_assert_str_eq(body(), "{\"status\":\"ok\",\"workers\":2,"
	    "\"up\":2}");
	ck_assert_ptr_nonnull(strstr(resp, "Content-Length: 34\r\n"));
	ck_assert_ptr_null(strstr(resp, "Strict-Transport-Security"));
	ck_assert_int_eq(request("GET /healthz?x=1 HTTP/1.1\r\n"
	    "Host: 127.0.0.1:9090\r\n\r\n"), 200);
	ck_assert_int_eq(request("GET /healthz HTTP/1.1\r\n"
	    "Host: LOCALHOST:9090\r\n\r\n"), 200);
}
END_TEST

START_TEST(test_healthz_unhealthy)
{
	view.health.up = 1;
	ck_assert_int_eq(request("GET /healthz HTTP/1.1\r\nHost: localhost"
	    "\r\n\r\n"), 503);
	assert_headers();
	ck_assert_ptr_nonnull(strstr(resp,
	    "Content-Type: application/problem+json\r\n"));
	ck_assert_ptr_nonnull(strstr(body(), "\"status\":503"));
	ck_assert_ptr_nonnull(strstr(body(), "\"type\":\"about:blank\""));
	view.health.up = 2;
	view.known = 0;
	ck_assert_int_eq(request("GET /healthz HTTP/1.1\r\nHost: localhost"
	    "\r\n\r\n"), 503);
	view.known = 1;
	view.health.workers = 0;
	view.health.up = 0;
	ck_assert_int_eq(request("GET /healthz HTTP/1.1\r\nHost: localhost"
	    "\r\n\r\n"), 503);
}
END_TEST

/* Liveness does not wait for readiness. */
START_TEST(test_healthz_not_ready)
{
	view.health.ready = 0;
	view.health.slot[0].ready = 0;
	ck_assert_int_eq(request("GET /healthz HTTP/1.1\r\nHost: localhost"
	    "\r\n\r\n"), 200);
}
END_TEST

START_TEST(test_readyz_ok)
{
	ck_assert_int_eq(request("GET /readyz HTTP/1.1\r\nHost: localhost"
	    "\r\n\r\n"), 200);
	assert_headers();
	ck_assert_ptr_nonnull(strstr(resp,
	    "Content-Type: application/json; charset=utf-8\r\n"));
	ck_assert_str_eq(body(), "{\"ready\":true,\"workers\":["
	    "{\"worker\":0,\"up\":true,\"ready\":true,\"pool\":true,"
	    "\"revocation\":true,\"audit\":null},"
	    "{\"worker\":1,\"up\":true,\"ready\":true,\"pool\":true,"
	    "\"revocation\":null,\"audit\":null}]}");
	ck_assert_int_eq(request("HEAD /readyz HTTP/1.1\r\nHost: localhost"
	    "\r\n\r\n"), 200);
	ck_assert_str_eq(body(), "");
	ck_assert_int_eq(request("POST /readyz HTTP/1.1\r\nHost: localhost"
	    "\r\nContent-Length: 0\r\n\r\n"), 405);
	ck_assert_int_eq(request("GET /readyz HTTP/1.1\r\n"
	    "Host: evil.example\r\n\r\n"), 403);
}
END_TEST

/* Each way of not being ready is 503 naming the worker and the part. */
START_TEST(test_readyz_not_ready)
{
	view.health.ready = 1;
	view.health.slot[1] = (struct chan_health_slot){ 1, 0, CHAN_PART_UP,
	    CHAN_PART_DOWN, CHAN_PART_NONE };
	ck_assert_int_eq(request("GET /readyz HTTP/1.1\r\nHost: localhost"
	    "\r\n\r\n"), 503);
	assert_headers();
	ck_assert_ptr_nonnull(strstr(resp,
	    "Content-Type: application/problem+json\r\n"));
	ck_assert_ptr_nonnull(strstr(body(), "\"status\":503"));
	ck_assert_ptr_nonnull(strstr(body(), "\"ready\":false,"));
	ck_assert_ptr_nonnull(strstr(body(), "{\"worker\":1,\"up\":true,"
	    "\"ready\":false,\"pool\":true,\"revocation\":false,"
	    "\"audit\":null}"));
	/* The pool is not connected. */
	view.health.slot[1] = (struct chan_health_slot){ 1, 0, CHAN_PART_DOWN,
	    CHAN_PART_DOWN, CHAN_PART_NONE };
	ck_assert_int_eq(request("GET /readyz HTTP/1.1\r\nHost: localhost"
	    "\r\n\r\n"), 503);
	ck_assert_ptr_nonnull(strstr(body(), "{\"worker\":1,\"up\":true,"
	    "\"ready\":false,\"pool\":false,\"revocation\":false,"
	    "\"audit\":null}"));
	/* A worker is down. */
	view.health.up = 1;
	memset(&view.health.slot[1], 0, sizeof(view.health.slot[1]));
	ck_assert_int_eq(request("GET /readyz HTTP/1.1\r\nHost: localhost"
	    "\r\n\r\n"), 503);
	ck_assert_ptr_nonnull(strstr(body(), "{\"worker\":1,\"up\":false,"
	    "\"ready\":false,\"pool\":false,\"revocation\":false,"
	    "\"audit\":false}"));
	/* Nothing known from the master yet. */
	view.known = 0;
	ck_assert_int_eq(request("GET /readyz HTTP/1.1\r\nHost: localhost"
	    "\r\n\r\n"), 503);
	ck_assert_ptr_nonnull(strstr(body(), "\"ready\":false,"
	    "\"workers\":[]"));
}
END_TEST

/* The table is bounded by CHAN_HEALTH_MAX whatever the count says. */
START_TEST(test_readyz_bounded)
{
	uint32_t	 i;
	struct evbuffer	*out = evbuffer_new();
	char		*text;
	size_t		 n;
	const char	*req = "GET /readyz HTTP/1.1\r\nHost: localhost\r\n\r\n";

	view.health.workers = 100000;
	view.health.up = view.health.ready = 100000;
	for (i = 0; i < CHAN_HEALTH_MAX; i++)
		view.health.slot[i] = view.health.slot[0];
	ck_assert_ptr_nonnull(out);
	ck_assert_int_eq(admin_respond(req, strlen(req), &view, out), 1);
	n = evbuffer_get_length(out);
	text = calloc(1, n + 1);
	ck_assert_ptr_nonnull(text);
	evbuffer_remove(out, text, n);
	ck_assert_ptr_nonnull(strstr(text, "{\"worker\":255,"));
	ck_assert_ptr_null(strstr(text, "{\"worker\":256,"));
	free(text);
	evbuffer_free(out);
}
END_TEST

START_TEST(test_host_check)
{
	ck_assert_int_eq(request("GET /healthz HTTP/1.1\r\n"
	    "Host: evil.example\r\n\r\n"), 403);
	assert_headers();
	ck_assert_ptr_null(strstr(resp, "evil"));
	ck_assert_int_eq(request("GET /healthz HTTP/1.1\r\n"
	    "Host: 127.0.0.1:9091\r\n\r\n"), 403);
	ck_assert_int_eq(request("GET /healthz HTTP/1.1\r\n"
	    "Host: localhost.evil.example\r\n\r\n"), 403);
	ck_assert_int_eq(request("GET /healthz HTTP/1.1\r\n"
	    "Host: 127.0.0.2\r\n\r\n"), 403);
	ck_assert_int_eq(request("GET /healthz HTTP/1.1\r\n"
	    "Host: localhost:09090\r\n\r\n"), 403);
	/* HTTP/1.0 without Host names nothing: refused too. */
	ck_assert_int_eq(request("GET /healthz HTTP/1.0\r\n\r\n"), 403);
	/* Host is checked before the path. */
	ck_assert_int_eq(request("GET /nothing HTTP/1.1\r\n"
	    "Host: evil.example\r\n\r\n"), 403);
}
END_TEST

START_TEST(test_host_ipv6)
{
	struct sockaddr_in6	 sin6;

	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	sin6.sin6_port = htons(9090);
	sin6.sin6_addr = in6addr_loopback;
	ck_assert_int_eq(admin_view_addr(&view, (struct sockaddr *)&sin6), 0);
	ck_assert_str_eq(view.host, "[::1]");
	ck_assert_int_eq(request("GET /healthz HTTP/1.1\r\n"
	    "Host: [::1]:9090\r\n\r\n"), 200);
	ck_assert_int_eq(request("GET /healthz HTTP/1.1\r\n"
	    "Host: [::1]\r\n\r\n"), 200);
	ck_assert_int_eq(request("GET /healthz HTTP/1.1\r\n"
	    "Host: [::2]:9090\r\n\r\n"), 403);
	ck_assert_int_eq(request("GET /healthz HTTP/1.1\r\n"
	    "Host: 127.0.0.1:9090\r\n\r\n"), 403);
}
END_TEST

START_TEST(test_routes_and_methods)
{
	ck_assert_int_eq(request("GET /readyz/ HTTP/1.1\r\nHost: localhost"
	    "\r\n\r\n"), 404);
	assert_headers();
	ck_assert_int_eq(request("GET /healthz/ HTTP/1.1\r\nHost: localhost"
	    "\r\n\r\n"), 404);
	ck_assert_int_eq(request("GET /metrics/ HTTP/1.1\r\nHost: localhost"
	    "\r\n\r\n"), 404);
	ck_assert_int_eq(request("GET /metrics HTTP/1.1\r\nHost: localhost"
	    "\r\n\r\n"), 200);
	ck_assert_ptr_nonnull(strstr(resp, "\r\nContent-Type: text/plain; "
	    "version=0.0.4; charset=utf-8\r\n"));
	ck_assert_int_eq(request("POST /healthz HTTP/1.1\r\nHost: localhost"
	    "\r\nContent-Length: 0\r\n\r\n"), 405);
	ck_assert_ptr_nonnull(strstr(resp, "\r\nAllow: GET, HEAD\r\n"));
	ck_assert_int_eq(request("HEAD /healthz HTTP/1.1\r\nHost: localhost"
	    "\r\n\r\n"), 200);
	ck_assert_ptr_nonnull(strstr(resp, "Content-Length: 34\r\n"));
	ck_assert_str_eq(body(), "");
}
END_TEST

START_TEST(test_bounds_and_malformed)
{
	struct evbuffer	*out = evbuffer_new();
	char		*big;
	const char	*part = "GET /healthz HTTP/1.1\r\nHost: loc";

	/* Incomplete: more is needed, nothing written. */
	ck_assert_int_eq(admin_respond(part, strlen(part), &view, out), 0);
	ck_assert_uint_eq(evbuffer_get_length(out), 0);
	evbuffer_free(out);
	/* A head that does not end within the bound: 431. */
	big = malloc(ADMIN_MAX_HEAD + 1);
	ck_assert_ptr_nonnull(big);
	memcpy(big, "GET /healthz HTTP/1.1\r\nX-A: ", 28);
	memset(big + 28, 'a', ADMIN_MAX_HEAD - 28);
	big[ADMIN_MAX_HEAD] = '\0';
	ck_assert_int_eq(request(big), 431);
	free(big);
	ck_assert_int_eq(request("GET /healthz HTTP/1.1\nHost: localhost"
	    "\n\n"), 400);
	assert_headers();
	ck_assert_int_eq(request("GET /healthz HTTP/1.1\r\nHost: localhost"
	    "\r\nHost: localhost\r\n\r\n"), 400);
	ck_assert_int_eq(request("BREW /healthz HTTP/1.1\r\nHost: localhost"
	    "\r\n\r\n"), 501);
	ck_assert_int_eq(request("GET /healthz HTTP/3.0\r\nHost: localhost"
	    "\r\n\r\n"), 505);
}
END_TEST

START_TEST(test_hsts)
{
	view.hsts_s = 3600;
	ck_assert_int_eq(request("GET /healthz HTTP/1.1\r\nHost: localhost"
	    "\r\n\r\n"), 200);
	ck_assert_ptr_nonnull(strstr(resp,
	    "\r\nStrict-Transport-Security: max-age=3600\r\n"));
}
END_TEST

Suite *
unit_suite(void)
{
	Suite	*s = suite_create("admin");
	TCase	*tc = tcase_create("admin");

	tcase_set_timeout(tc, UNIT_TIMEOUT);
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, test_healthz_ok);
	tcase_add_test(tc, test_healthz_unhealthy);
	tcase_add_test(tc, test_healthz_not_ready);
	tcase_add_test(tc, test_readyz_ok);
	tcase_add_test(tc, test_readyz_not_ready);
	tcase_add_test(tc, test_readyz_bounded);
	tcase_add_test(tc, test_host_check);
	tcase_add_test(tc, test_host_ipv6);
	tcase_add_test(tc, test_routes_and_methods);
	tcase_add_test(tc, test_bounds_and_malformed);
	tcase_add_test(tc, test_hsts);
	suite_add_tcase(s, tc);
	return s;
}
