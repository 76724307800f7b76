/*
 * test_authep.c - what authep.c decides without a database: the
 * registration of the built-in endpoints (their paths under
 * auth.endpoints, none when it is null or no key is loaded, a clash with a
 * declared route refused) and the load-time clash check.  The endpoints
 * themselves are covered over TLS by
 * tests/integration/test_auth_endpoints.py.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "unit.h"

#include "auth.h"
#include "authep.h"
#include "conf.h"
#include "http.h"
#include "keys.h"
#include "util.h"

static void
no_handle(struct http_request *r, void *arg)
{
	(void)arg;
	http_respond(r, 204);
}

static const struct http_route_ops no_ops = { NULL, no_handle, NULL };

/*
 * The endpoints under prefix, with one declared route at route_path: the
 * result of authep_add.
 */
static int
endpoints_with(const char *prefix, const char *route_path, bool with_keys,
    const char **errp)
{
	char			 yaml[1024];
	struct bw_diag		 diag = { 0 };
	struct conf		*conf;
	struct event_base	*base;
	struct keys_set		*keys = NULL;
	struct keys_key		*k;
	struct http_server	*srv;
	struct auth		*a;
	struct authep		*ep;
	const char		*err = NULL;
	unsigned char		 secret[KEYS_HMAC_MIN];
	int			 n, rv;

	n = snprintf(yaml, sizeof(yaml),
	    "version: 1\nserver:\n  plaintext: true\n"
	    "  trusted_proxies: [127.0.0.1]\n"
	    "database:\n  conninfo: \"dbname=app\"\n"
	    "auth:\n  issuer: \"https://iss.test\"\n  audience: aud.test\n"
	    "  signing_key_file: /nonexistent/jwt.pem\n  endpoints: %s\n"
	    "roles:\n  reader: {}\n"
	    "routes:\n  - {name: r, method: POST, path: %s, "
	    "body: {type: object}, roles: [reader], sql: \"SELECT 1\"}\n",
	    prefix, route_path);
	ck_assert_int_lt(n, (int)sizeof(yaml));
	conf = conf_load_buffer("t.yaml", yaml, (size_t)n, &diag);
	if (conf == NULL)
		bw_diag_print(&diag, stderr);
	ck_assert_ptr_nonnull(conf);
	base = event_base_new();
	ck_assert_ptr_nonnull(base);
	if (with_keys) {
		for (n = 0; n < (int)sizeof(secret); n++)
			secret[n] = (unsigned char)('a' + n % 26);
		k = keys_key_parse(secret, sizeof(secret), &err);
		ck_assert_ptr_nonnull(k);
		keys = keys_set_new();
		ck_assert_int_eq(keys_set_add(keys, k, &err), 0);
	}
	a = auth_new(base, conf, keys, &err);
	ck_assert_ptr_nonnull(a);
	srv = http_server_new(base, conf, NULL, &err);
	ck_assert_ptr_nonnull(srv);
	ck_assert_int_eq(http_server_add_routes(srv, &no_ops, &err), 0);
	*errp = NULL;
	ep = authep_new(a, conf, keys, NULL);
	rv = authep_add(ep, srv, errp);
	if (rv == 0 && *errp == NULL)
		ck_assert_int_eq(authep_add(ep, srv, errp), 0);
	http_server_free(srv);
	authep_free(ep);
	auth_free(a);
	keys_set_free(keys);
	event_base_free(base);
	conf_free(conf);
	bw_diag_free(&diag);
	return rv;
}

START_TEST(test_endpoints_registration)
{
	const char	*err;

	/* Clashes show where the endpoints were put. */
	ck_assert_int_eq(endpoints_with("/auth", "/auth/login", true, &err),
	    -1);
	ck_assert_ptr_nonnull(err);
	ck_assert_int_eq(endpoints_with("/auth", "/auth/password", true,
	    &err), -1);
	ck_assert_int_eq(endpoints_with("/api/auth", "/api/auth/refresh",
	    true, &err), -1);
	ck_assert_int_eq(endpoints_with("/api/auth", "/auth/login", true,
	    &err), 0);
	ck_assert_ptr_null(err);
	ck_assert_int_eq(endpoints_with("/auth", "/auth/other", true, &err),
	    0);
	/* GET /auth/me is not POST /auth/me. */
	ck_assert_int_eq(endpoints_with("/auth", "/auth/me", true, &err), 0);
	/* Disabled, or no key to sign with: nothing is registered. */
	ck_assert_int_eq(endpoints_with("null", "/auth/login", true, &err),
	    0);
	ck_assert_int_eq(endpoints_with("/auth", "/auth/login", false, &err),
	    0);
}
END_TEST

/* The load-time check that refuses what registration would refuse. */
START_TEST(test_endpoint_clash)
{
	struct conf_auth	 ca = { .endpoints = "/auth" };
	struct conf		 cf = { .auth = &ca };
	struct conf_route	 r = { .method = METHOD_POST,
	    .path = "/auth/login" };

	ck_assert_str_eq(authep_clash(&cf, &r), "auth.login");
	r.path = "/auth/password";
	ck_assert_str_eq(authep_clash(&cf, &r), "auth.password");
	r.path = "/auth/me";
	ck_assert_ptr_null(authep_clash(&cf, &r));
	r.method = METHOD_GET;
	ck_assert_str_eq(authep_clash(&cf, &r), "auth.me");
	r.path = "/auth/me/x";
	ck_assert_ptr_null(authep_clash(&cf, &r));
	r.path = "/authx/me";
	ck_assert_ptr_null(authep_clash(&cf, &r));
	r.path = "/auth/me";
	ca.endpoints = NULL;
	ck_assert_ptr_null(authep_clash(&cf, &r));
	cf.auth = NULL;
	ck_assert_ptr_null(authep_clash(&cf, &r));
}
END_TEST

Suite *
unit_suite(void)
{
	Suite	*s = suite_create("authep");
	TCase	*tc = tcase_create("authep");

	tcase_set_timeout(tc, UNIT_TIMEOUT);
	tcase_add_test(tc, test_endpoints_registration);
	tcase_add_test(tc, test_endpoint_clash);
	suite_add_tcase(s, tc);
	return s;
}
