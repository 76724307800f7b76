/*
 * test_auth.c - what auth.c decides without a database or a connection:
 * which credentials a request head presents (one Bearer token, one API
 * key, or a refusal for both, repeats, other schemes and empty values),
 * and the values a principal gives the SQL layer (:user.*, :claims.* and
 * the context statement) for users, API keys and anonymous callers.  The
 * request path itself (401/403/503, revocation state) is covered over TLS
 * by tests/integration/test_auth.py.
 */
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "unit.h"

#include "auth.h"
#include "conf.h"
#include "http.h"
#include "http_parse.h"
#include "keys.h"
#include "rbac.h"
#include "util.h"

static const struct http_limits lim = {
	.max_header_size = 8192,
	.max_headers = 64,
	.max_uri_length = 4096,
};

static struct http_head head;
static char reqbuf[8192];

/* Parses "GET / HTTP/1.1" with Host and the given extra header lines. */
static enum auth_cred
cred(const char *lines, const char **tok, size_t *len)
{
	const char	*reason = NULL;
	int		 status = 0, n;

	n = snprintf(reqbuf, sizeof(reqbuf),
	    "GET / HTTP/1.1\r\nHost: a\r\n%s\r\n", lines);
	ck_assert_int_gt(n, 0);
	ck_assert_int_lt(n, (int)sizeof(reqbuf));
	ck_assert_int_eq(http_parse_head(reqbuf, (size_t)n, &lim, &head,
	    &status, &reason), HTTP_PARSE_DONE);
	return auth_credentials(&head, tok, len);
}

static void
want_token(const char *lines, enum auth_cred kind, const char *want)
{
	const char	*tok;
	size_t		 len;

	ck_assert_int_eq(cred(lines, &tok, &len), kind);
	ck_assert_uint_eq(len, strlen(want));
	ck_assert(memcmp(tok, want, len) == 0);
}

static void
want_kind(const char *lines, enum auth_cred kind)
{
	const char	*tok;
	size_t		 len;

	ck_assert_int_eq(cred(lines, &tok, &len), kind);
	if (kind == AUTH_CRED_NONE || kind == AUTH_CRED_BAD) {
		ck_assert_ptr_null(tok);
		ck_assert_uint_eq(len, 0);
	}
}

START_TEST(test_bearer)
{
	want_token("Authorization: Bearer abc.def.ghi\r\n", AUTH_CRED_BEARER,
	    "abc.def.ghi");
	want_token("Authorization: bearer abc\r\n", AUTH_CRED_BEARER, "abc");
	want_token("Authorization: BEARER   abc\r\n", AUTH_CRED_BEARER, "abc");
	want_token("authorization: Bearer x  \r\n", AUTH_CRED_BEARER, "x");
}
END_TEST

START_TEST(test_api_key)
{
	want_token("X-API-Key: bwk_abcdefgh_xyz\r\n", AUTH_CRED_APIKEY,
	    "bwk_abcdefgh_xyz");
	want_token("x-api-key: k\r\n", AUTH_CRED_APIKEY, "k");
}
END_TEST

START_TEST(test_none)
{
	want_kind("", AUTH_CRED_NONE);
	want_kind("X-Api-Keys: k\r\nAuthorisation: Bearer x\r\n",
	    AUTH_CRED_NONE);
}
END_TEST

START_TEST(test_refused)
{
	want_kind("Authorization: Bearer a\r\nAuthorization: Bearer a\r\n",
	    AUTH_CRED_BAD);
	want_kind("X-API-Key: a\r\nX-API-Key: a\r\n", AUTH_CRED_BAD);
	want_kind("Authorization: Bearer a\r\nX-API-Key: b\r\n",
	    AUTH_CRED_BAD);
	want_kind("Authorization: Basic YTpi\r\n", AUTH_CRED_BAD);
	want_kind("Authorization: Bearer\r\n", AUTH_CRED_BAD);
	want_kind("Authorization: Bearer \r\n", AUTH_CRED_BAD);
	want_kind("Authorization: Bearerabc\r\n", AUTH_CRED_BAD);
	want_kind("Authorization: Bearer\tabc\r\n", AUTH_CRED_BAD);
	want_kind("Authorization: \r\n", AUTH_CRED_BAD);
	want_kind("Authorization: Token abc\r\n", AUTH_CRED_BAD);
	want_kind("X-API-Key: \r\n", AUTH_CRED_BAD);
}
END_TEST

#define CONF_YAML \
	"version: 1\nserver:\n  plaintext: true\n" \
	"  trusted_proxies: [127.0.0.1]\n" \
	"database:\n  conninfo: \"dbname=app\"\n" \
	"auth:\n  issuer: \"https://iss.test\"\n  audience: aud.test\n" \
	"  signing_key_file: /nonexistent/jwt.pem\n" \
	"roles:\n  admin: {inherits: [editor]}\n" \
	"  editor: {inherits: [reader]}\n  reader: {}\n" \
	"routes:\n  - {name: r, method: GET, path: /r, roles: [reader], " \
	"sql: \"SELECT 1\"}\n"

struct fixture {
	struct bw_diag		 diag;
	struct conf		*conf;
	struct rbac		*rbac;
	struct event_base	*base;
	struct auth		*auth;
};

static void
setup(struct fixture *f)
{
	const char	*err = NULL;

	memset(f, 0, sizeof(*f));
	f->conf = conf_load_buffer("t.yaml", CONF_YAML, strlen(CONF_YAML),
	    &f->diag);
	if (f->conf == NULL)
		bw_diag_print(&f->diag, stdout);
	ck_assert_ptr_nonnull(f->conf);
	f->rbac = rbac_new(f->conf, &f->diag);
	ck_assert_ptr_nonnull(f->rbac);
	f->base = event_base_new();
	ck_assert_ptr_nonnull(f->base);
	f->auth = auth_new(f->base, f->conf, NULL, &err);
	ck_assert_ptr_nonnull(f->auth);
	ck_assert(!auth_ready(f->auth));
	ck_assert_ptr_nonnull(auth_cache(f->auth));
}

static void
teardown(struct fixture *f)
{
	auth_free(f->auth);
	event_base_free(f->base);
	rbac_free(f->rbac);
	conf_free(f->conf);
	bw_diag_free(&f->diag);
}

START_TEST(test_values_anonymous)
{
	const char	*id, *name, *roles;
	char		*owned = NULL;

	ck_assert_str_eq(auth_user_value(NULL, "roles", &owned), "{}");
	ck_assert_ptr_null(owned);
	ck_assert_ptr_null(auth_user_value(NULL, "id", &owned));
	ck_assert_ptr_null(auth_user_value(NULL, "name", &owned));
	ck_assert_ptr_null(auth_claim_value(NULL, "sub", &owned));
	ck_assert_ptr_null(auth_claim_value(NULL, "roles", &owned));
	auth_context(NULL, &id, &name, &roles, &owned);
	ck_assert_str_eq(id, "");
	ck_assert_str_eq(name, "");
	ck_assert_str_eq(roles, "");
	ck_assert_ptr_null(owned);
}
END_TEST

START_TEST(test_values_user)
{
	struct fixture		 f;
	struct auth_principal	 p;
	static const char	*assigned[] = { "editor" };
	const char		*id, *name, *roles;
	char			*owned = NULL;

	setup(&f);
	memset(&p, 0, sizeof(p));
	p.kind = AUTH_USER;
	p.auth = f.auth;
	p.claims.sub = "u-1";
	p.claims.name = "alice";
	p.claims.sid = "s-1";
	p.claims.jti = "j-1";
	p.claims.iat = 100;
	p.claims.nbf = 99;
	p.claims.exp = 1000;
	rbac_effective(f.rbac, assigned, 1, &p.roles);

	ck_assert_str_eq(auth_user_value(&p, "id", &owned), "u-1");
	ck_assert_str_eq(auth_user_value(&p, "name", &owned), "alice");
	ck_assert_ptr_null(owned);
	ck_assert_str_eq(auth_user_value(&p, "roles", &owned),
	    "{editor,reader}");
	free(owned);
	owned = NULL;
	ck_assert_str_eq(auth_claim_value(&p, "iss", &owned),
	    "https://iss.test");
	ck_assert_str_eq(auth_claim_value(&p, "aud", &owned), "aud.test");
	ck_assert_str_eq(auth_claim_value(&p, "sid", &owned), "s-1");
	ck_assert_str_eq(auth_claim_value(&p, "jti", &owned), "j-1");
	ck_assert_ptr_null(owned);
	ck_assert_str_eq(auth_claim_value(&p, "exp", &owned), "1000");
	free(owned);
	owned = NULL;
	ck_assert_str_eq(auth_claim_value(&p, "nbf", &owned), "99");
	free(owned);
	owned = NULL;
	ck_assert_ptr_null(auth_claim_value(&p, "nope", &owned));
	auth_context(&p, &id, &name, &roles, &owned);
	ck_assert_str_eq(id, "u-1");
	ck_assert_str_eq(name, "alice");
	ck_assert_str_eq(roles, "editor,reader");
	free(owned);
	teardown(&f);
}
END_TEST

START_TEST(test_values_api_key)
{
	struct fixture		 f;
	struct auth_principal	 p;
	static const char	*assigned[] = { "reader" };
	const char		*id, *name, *roles;
	char			*owned = NULL;

	setup(&f);
	memset(&p, 0, sizeof(p));
	p.kind = AUTH_APIKEY;
	p.auth = f.auth;
	memcpy(p.key_id, "abcdefgh", 9);
	rbac_effective(f.rbac, assigned, 1, &p.roles);
	ck_assert_ptr_null(auth_user_value(&p, "id", &owned));
	ck_assert_ptr_null(auth_user_value(&p, "name", &owned));
	ck_assert_ptr_null(auth_claim_value(&p, "sub", &owned));
	ck_assert_ptr_null(auth_claim_value(&p, "exp", &owned));
	ck_assert_ptr_null(owned);
	ck_assert_str_eq(auth_user_value(&p, "roles", &owned), "{reader}");
	free(owned);
	owned = NULL;
	auth_context(&p, &id, &name, &roles, &owned);
	ck_assert_str_eq(id, "");
	ck_assert_str_eq(name, "");
	ck_assert_str_eq(roles, "reader");
	free(owned);
	teardown(&f);
}
END_TEST

Suite *
unit_suite(void)
{
	Suite	*s = suite_create("auth");
	TCase	*tc = tcase_create("auth");

	tcase_set_timeout(tc, UNIT_TIMEOUT);
	tcase_add_test(tc, test_bearer);
	tcase_add_test(tc, test_api_key);
	tcase_add_test(tc, test_none);
	tcase_add_test(tc, test_refused);
	tcase_add_test(tc, test_values_anonymous);
	tcase_add_test(tc, test_values_user);
	tcase_add_test(tc, test_values_api_key);
	suite_add_tcase(s, tc);
	return s;
}
