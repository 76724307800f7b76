/*
 * test_auth.c - what auth.c decides without a database or a connection:
 * which credentials a request head presents (one Bearer token, one API
 * key, or a refusal for both, repeats, other schemes and empty values),
 * and the values a principal gives the SQL layer (:user.*, :claims.* and
 * the context statement) for users, API keys and anonymous callers; and,
 * over a socketpair with a pool, a request presenting credentials before
 * the revocation state is loaded: parked, then admitted again once it is
 * loaded (a real PostgreSQL), or 503 at queue_timeout, bounded by
 * max_queue and freed when its client goes.  The rest of the request path
 * (401/403, revocations) is covered over TLS by
 * tests/integration/test_auth.py.
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <libpq-fe.h>

#include "pgtest.h"
#include "unit.h"

#include "auth.h"
#include "authdb.h"
#include "conf.h"
#include "db.h"
#include "http.h"
#include "http_parse.h"
#include "keys.h"
#include "log.h"
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

/* Parked admission: a worker, its pool and auth, and raw clients. */

#define PARK_YAML \
	"version: 1\nserver:\n  plaintext: true\n" \
	"  trusted_proxies: [127.0.0.1]\n" \
	"database:\n  conninfo: \"dbname=app\"\n  max_queue: %d\n" \
	"  queue_timeout: %dms\n" \
	"auth:\n  issuer: \"https://iss.test\"\n  audience: aud.test\n" \
	"  signing_key_file: /nonexistent/jwt.pem\n" \
	"roles:\n  reader: {}\n" \
	"routes:\n  - {name: r, method: GET, path: /r, roles: [reader], " \
	"sql: \"SELECT 1\"}\n"

#define PARK_REQ \
	"GET /r HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer x.y.z\r\n\r\n"

struct worker_fx {
	struct bw_diag		 diag;
	struct conf		*conf;
	struct event_base	*base;
	struct auth		*auth;
	struct db_pool		*pool;
	struct http_server	*srv;
};

static void
park_handle(struct http_request *r, void *arg)
{
	(void)arg;
	http_respond(r, 200);
}

static const struct http_route_ops park_ops = { NULL, park_handle, NULL };

/* The worker's wiring, as worker.c does it; the pool is not started. */
static void
worker_setup(struct worker_fx *w, const char * const *keys,
    const char * const *vals, int max_queue, int queue_timeout_ms)
{
	struct db_pool_params	 p;
	char			 yaml[1024];
	const char		*err = NULL;
	int			 n;

	memset(w, 0, sizeof(*w));
	signal(SIGPIPE, SIG_IGN);
	log_access_open("off");
	n = snprintf(yaml, sizeof(yaml), PARK_YAML, max_queue,
	    queue_timeout_ms);
	w->conf = conf_load_buffer("t.yaml", yaml, (size_t)n, &w->diag);
	if (w->conf == NULL)
		bw_diag_print(&w->diag, stdout);
	ck_assert_ptr_nonnull(w->conf);
	ck_assert_ptr_nonnull(w->base = event_base_new());
	ck_assert_ptr_nonnull(w->auth = auth_new(w->base, w->conf, NULL,
	    &err));
	ck_assert_ptr_nonnull(w->srv = http_server_new(w->base, w->conf,
	    NULL, &err));
	ck_assert_int_eq(http_server_add_routes(w->srv, &park_ops, &err), 0);
	http_server_set_admit(w->srv, auth_admit, w->auth);
	memset(&p, 0, sizeof(p));
	p.keys = keys;
	p.vals = vals;
	p.pool_size = 1;
	p.max_queue = (uint32_t)max_queue;
	p.queue_timeout_ms = queue_timeout_ms;
	p.connect_timeout_ms = 5000;
	w->pool = db_pool_new(w->base, &p);
	auth_attach_pool(w->auth, w->pool);
}

static void
worker_teardown(struct worker_fx *w)
{
	http_server_free(w->srv);
	auth_free(w->auth);
	db_pool_free(w->pool);
	event_base_free(w->base);
	conf_free(w->conf);
	bw_diag_free(&w->diag);
}

/* A client from 127.0.0.1 that has sent PARK_REQ; its end of the pair. */
static int
client_send(struct worker_fx *w)
{
	struct sockaddr_in	 sin;
	int			 sv[2];

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(40000);
	inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0, sv), 0);
	ck_assert_int_eq(http_server_adopt(w->srv, sv[0],
	    (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(write(sv[1], PARK_REQ, strlen(PARK_REQ)),
	    (ssize_t)strlen(PARK_REQ));
	return sv[1];
}

/* Runs the loop until fd has a response or ms pass: its status, or 0. */
static int
client_status(struct worker_fx *w, int fd, int ms)
{
	char		 buf[512];
	int64_t		 end = bw_now_ms() + ms;
	ssize_t		 n;
	int		 status;

	for (;;) {
		n = recv(fd, buf, sizeof(buf) - 1, MSG_PEEK);
		if (n > 0) {
			buf[n] = '\0';
			if (sscanf(buf, "HTTP/1.1 %d", &status) == 1)
				return status;
		}
		if (bw_now_ms() >= end)
			return 0;
		event_base_loop(w->base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
		usleep(1000);
	}
}

/*
 * No database: the parked request gets 503 at queue_timeout, not before;
 * max_queue (the revocation load's own request holds a place) refuses
 * the next at once; a parked request whose client goes gives its place
 * back at once.
 */
START_TEST(test_parked_deadline_bound_cancel)
{
	static const char *keys[] = { "host", NULL };
	static const char *vals[] = { "/nonexistent-bulwark-socket-dir", NULL };
	struct worker_fx	 w;
	int			 a, b, c;
	int64_t			 t0;

	worker_setup(&w, keys, vals, 2, 1000);
	db_pool_start(w.pool);
	a = client_send(&w);
	ck_assert_int_eq(client_status(&w, a, 100), 0);
	b = client_send(&w);
	ck_assert_int_eq(client_status(&w, b, 300), 503);
	close(b);
	close(a);
	ck_assert_int_eq(client_status(&w, -1, 50), 0);
	ck_assert_uint_eq(http_server_connections(w.srv), 0);
	t0 = bw_now_ms();
	c = client_send(&w);
	ck_assert_int_eq(client_status(&w, c, 300), 0);
	ck_assert_int_eq(client_status(&w, c, 3000), 503);
	ck_assert_int_ge(bw_now_ms() - t0, 950);
	ck_assert(!auth_ready(w.auth));
	close(c);
	worker_teardown(&w);
}
END_TEST

/*
 * A request presenting credentials before the revocation state is loaded
 * is admitted again once it is: its token is then checked (401 here,
 * there is no key), not refused with 503.
 */
START_TEST(test_parked_then_admitted)
{
	static const char *keys[] = { "options", NULL };
	static const char *vals[] = { "-c TimeZone=UTC", NULL };
	struct worker_fx	 w;
	struct authdb_err	 e;
	PGconn			*pg;
	PGresult		*res;
	int			 a, from;

	if (!pgtest_up)
		return;
	pg = PQconnectdb("");
	ck_assert_int_eq(PQstatus(pg), CONNECTION_OK);
	res = PQexec(pg, "SET client_min_messages = warning; "
	    "DROP SCHEMA IF EXISTS bulwark CASCADE");
	PQclear(res);
	ck_assert_msg(authdb_init(pg, &from, &e) == 0, "%s", e.msg);
	PQfinish(pg);
	worker_setup(&w, keys, vals, 10, 5000);
	a = client_send(&w);
	db_pool_start(w.pool);
	ck_assert_int_eq(client_status(&w, a, 10000), 401);
	ck_assert(auth_ready(w.auth));
	close(a);
	worker_teardown(&w);
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
	tc = tcase_create("parked");
	tcase_set_timeout(tc, UNIT_TIMEOUT);
	tcase_add_unchecked_fixture(tc, pgtest_start, pgtest_stop);
	tcase_add_test(tc, test_parked_deadline_bound_cancel);
	tcase_add_test(tc, test_parked_then_admitted);
	suite_add_tcase(s, tc);
	return s;
}
