/*
 * test_conf.c - the configuration layer: defaults, every class of type,
 * range and unit error at its exact position, cross-checks, all errors in
 * one run, the -T dump round trip, secret file checks and credential:.
 */
#include <sys/stat.h>

#include <sys/wait.h>

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "unit.h"

#include "conf.h"
#include "node.h"
#include "util.h"

#define BASE	"version: 1\nserver:\n  plaintext: true\n" \
		"  trusted_proxies: [127.0.0.1]\n"
#define DBASE	BASE "database:\n  conninfo: \"dbname=app\"\n" \
		"roles:\n  reader: {}\n  editor: {inherits: [reader]}\n" \
		"routes:\n"
/* DBASE has 10 lines: route items start on line 11. */
#define DB	"database: {conninfo: \"dbname=x\"}\n"

struct want {
	int		 line;
	int		 col;
	const char	*msg;
};

static struct conf *
load(const char *src, struct bw_diag *d)
{
	bw_diag_free(d);
	return conf_load_buffer("t.yaml", src, strlen(src), d);
}

static void
expect(const char *src, const struct want *w, size_t nw)
{
	struct bw_diag	 d = { 0 };
	struct conf	*c;
	size_t		 i, j;

	c = load(src, &d);
	bw_diag_print(&d, stdout);
	ck_assert_uint_eq(d.errors, nw);
	if (nw > 0)
		ck_assert_ptr_null(c);
	else
		ck_assert_ptr_nonnull(c);
	for (i = j = 0; i < nw && j < d.n; j++) {
		if (d.v[j].warning)
			continue;
		ck_assert_int_eq(d.v[j].line, w[i].line);
		ck_assert_int_eq(d.v[j].col, w[i].col);
		ck_assert_msg(strstr(d.v[j].msg, w[i].msg) != NULL,
		    "'%s' lacks '%s'", d.v[j].msg, w[i].msg);
		i++;
	}
	ck_assert_uint_eq(i, nw);
	conf_free(c);
	bw_diag_free(&d);
}

#define EXPECT1(src, l, c, m) do {					\
	const struct want w_[] = { { l, c, m } };			\
	expect(src, w_, 1);						\
} while (0)
#define EXPECT_OK(src)	expect(src, NULL, 0)

START_TEST(defaults)
{
	struct bw_diag	 d = { 0 };
	struct conf	*c;

	c = load(BASE, &d);
	ck_assert_ptr_nonnull(c);
	ck_assert_uint_eq(d.errors, 0);
	ck_assert_int_eq(c->version, 1);
	ck_assert_uint_eq(c->server.nlisten, 2);
	ck_assert_str_eq(c->server.listen[0].text, "0.0.0.0:8443");
	ck_assert_int_eq(c->server.listen[1].addr.ss_family, AF_INET6);
	ck_assert(c->server.workers_auto);
	ck_assert_uint_ge(c->server.workers, 1);
	ck_assert_uint_le(c->server.workers, 256);
	ck_assert_str_eq(c->server.user, "bulwark-worker");
	ck_assert_str_eq(c->server.pid_file, "/run/bulwark/bulwarkd.pid");
	ck_assert_int_eq(c->server.shutdown_timeout_ms, 30000);
	ck_assert_int_eq(c->server.tls.profile, TLS_PROFILE_INTERMEDIATE);
	ck_assert_int_eq(c->server.tls.client_verify, CLIENT_VERIFY_REQUIRED);
	ck_assert_ptr_null(c->server.tls.client_ca);
	ck_assert(c->server.tls.hsts_ms == 730LL * 86400 * 1000);
	ck_assert_uint_eq(c->server.limits.max_connections, 10000);
	ck_assert_int_eq(c->server.limits.header_timeout_ms, 10000);
	ck_assert_int_eq(c->server.limits.idle_timeout_ms, 60000);
	ck_assert_uint_eq(c->server.limits.max_header_size, 8192);
	ck_assert_uint_eq(c->server.limits.max_headers, 64);
	ck_assert_uint_eq(c->server.limits.max_uri_length, 4096);
	ck_assert_uint_eq(c->server.limits.max_body_size, 1048576);
	ck_assert_uint_eq(c->server.limits.max_json_depth, 32);
	ck_assert_uint_eq(c->server.limits.max_response_size, 8388608);
	ck_assert_uint_eq(c->server.limits.max_requests_per_connection, 1000);
	ck_assert_ptr_null(c->server.cors);
	ck_assert_uint_eq(c->server.nheaders, 0);
	ck_assert(c->server.rate_limit.enabled);
	ck_assert_int_eq(c->server.rate_limit.by, RATE_BY_IP);
	ck_assert_uint_eq(c->server.rate_limit.count, 100);
	ck_assert_uint_eq(c->server.rate_limit.per_ms, 1000);
	ck_assert_uint_eq(c->server.rate_limit.burst, 200);
	ck_assert_int_eq(c->seccomp, SECCOMP_ENFORCE);
	ck_assert_ptr_null(c->database);
	ck_assert_ptr_null(c->auth);
	ck_assert_ptr_null(c->audit);
	ck_assert_ptr_null(c->backup);
	ck_assert_ptr_null(c->admin);
	ck_assert_uint_eq(c->nroutes, 0);
	ck_assert_str_eq(c->logging.level, "info");
	ck_assert_str_eq(c->logging.access, "stderr");
	ck_assert_str_eq(c->logging.format, "json");
	ck_assert_ptr_nonnull(c->doc);
	conf_free(c);

	c = load(DBASE "  - name: r\n    method: GET\n    path: /r/{id}\n"
	    "    roles: [reader]\n    params: {id: {type: integer}}\n"
	    "    sql: SELECT 1\n"
	    "auth:\n  issuer: i\n  audience: a\n  signing_key_file: /k\n"
	    "audit: {}\nbackup: {}\nadmin: {}\n", &d);
	ck_assert_ptr_nonnull(c);
	ck_assert_uint_eq(c->database->pool_size, 4);
	ck_assert_uint_eq(c->database->max_queue, 1000);
	ck_assert_int_eq(c->database->statement_timeout_ms, 5000);
	ck_assert_int_eq(c->database->conninfo_pos.line, 6);
	ck_assert_int_eq(c->database->conninfo_pos.col, 13);
	ck_assert_int_eq(c->routes[0].status, 200);
	ck_assert_int_eq(c->routes[0].result, RESULT_OBJECT);
	ck_assert_int_eq(c->routes[0].timeout_ms, 5000);
	ck_assert_uint_eq(c->routes[0].max_body_size, 1048576);
	ck_assert_uint_eq(c->routes[0].max_rows, 1000);
	ck_assert_int_eq(c->routes[0].audit, 0);
	ck_assert_int_eq(c->routes[0].sql_pos.line, 16);
	ck_assert_int_eq(c->routes[0].sql_pos.col, 10);
	ck_assert_int_eq(c->routes[0].pos.line, 11);
	ck_assert_ptr_nonnull(node_get(c->routes[0].params, "id"));
	ck_assert_uint_eq(c->routes[0].rate_limit.count, 100);
	ck_assert_uint_eq(c->auth->argon2.memory, 19 * 1048576);
	ck_assert_uint_eq(c->auth->argon2.iterations, 2);
	ck_assert_uint_eq(c->auth->password_min_length, 12);
	ck_assert_uint_eq(c->auth->lockout_max_failures, 5);
	ck_assert_int_eq(c->auth->refresh_reuse_grace_ms, 0);
	ck_assert_str_eq(c->auth->endpoints, "/auth");
	ck_assert_uint_eq(c->auth->endpoint_rate_limit.per_ms, 60000);
	ck_assert(c->auth->api_keys);
	ck_assert_uint_eq(c->auth->token_cache, 4096);
	ck_assert_int_eq(c->audit->fsync, FSYNC_ALWAYS);
	ck_assert(c->audit->on_failure_reject);
	ck_assert_ptr_null(c->audit->instance_id);
	ck_assert_str_eq(c->audit->control_socket, "/run/bulwark/control.sock");
	ck_assert_int_eq(c->backup->every_ms, 24 * 3600 * 1000);
	ck_assert_int_eq(c->backup->at_minute, -1);
	ck_assert_uint_eq(c->backup->keep, 14);
	ck_assert_str_eq(c->admin->listen.text, "127.0.0.1:9090");
	ck_assert(!c->admin->tls);
	conf_free(c);
	bw_diag_free(&d);
}
END_TEST

START_TEST(type_errors)
{
	EXPECT1(BASE "  bogus: 1\n", 5, 3, "server: unknown key 'bogus'");
	EXPECT1(BASE "  cors: {allow_credentials: 1}\n", 5, 29,
	    "expected a boolean (true or false), got an integer");
	EXPECT1(BASE "  cors: {allow_credentials: yes}\n", 5, 29,
	    "expected a boolean");
	EXPECT1(BASE "  limits:\n    max_headers: many\n", 6, 18,
	    "server.limits.max_headers: expected an integer, got a string");
	EXPECT1(BASE "  limits:\n    max_headers: \"64\"\n", 6, 18,
	    "expected an integer");
	EXPECT1(BASE "  user: 1000\n", 5, 9,
	    "expected a string, got an integer");
	EXPECT1(BASE "  user: ~\n", 5, 9, "expected a string, got null");
	EXPECT1(BASE "  user: \"a\\0b\"\n", 5, 9, "NUL");
	EXPECT1(BASE "  hostnames: a.example\n", 5, 14,
	    "expected a sequence, got a string");
	EXPECT1(BASE "  limits: 5\n", 5, 11,
	    "expected a mapping, got an integer");
	EXPECT1(BASE "  listen: {a: 1}\n", 5, 11, "expected a sequence");
	EXPECT1(BASE "security:\n  seccomp: strict\n", 6, 12,
	    "must be one of enforce, log, off");
	EXPECT1(BASE "logging:\n  level: loud\n", 6, 10, "must be one of");
	EXPECT1(BASE "logging:\n  access: log.txt\n", 6, 11,
	    "stderr, syslog, off or an absolute path");
	EXPECT1(BASE "  pid_file: run/x.pid\n", 5, 13, "absolute path");
	EXPECT1("- 1\n", 1, 1, "must be a mapping");
	EXPECT1("", 1, 1, "must be a mapping");
}
END_TEST

START_TEST(range_and_unit_errors)
{
	EXPECT1(BASE "  limits:\n    max_headers: 1001\n", 6, 18,
	    "must be between 1 and 1000");
	EXPECT1(BASE "  limits:\n    max_headers: 0\n", 6, 18,
	    "must be between 1 and 1000");
	EXPECT1(BASE "  limits:\n    max_connections: -1\n", 6, 22,
	    "must be between");
	EXPECT1(BASE "  shutdown_timeout: 5 s\n", 5, 21, "invalid duration");
	EXPECT1(BASE "  shutdown_timeout: 5\n", 5, 21, "invalid duration");
	EXPECT1(BASE "  shutdown_timeout: 1.5s\n", 5, 21, "invalid duration");
	EXPECT1(BASE "  shutdown_timeout: 2h\n", 5, 21,
	    "must be between 0 and 1h");
	EXPECT1(BASE "  shutdown_timeout: [1s]\n", 5, 21,
	    "expected a duration, got a sequence");
	EXPECT1(BASE "  limits:\n    header_timeout: 50ms\n", 6, 21,
	    "must be between 100ms and 10m");
	EXPECT1(BASE "  limits:\n    max_body_size: 1MB\n", 6, 20,
	    "invalid size");
	EXPECT1(BASE "  limits:\n    max_body_size: -1\n", 6, 20,
	    "invalid size");
	EXPECT1(BASE "  limits:\n    max_header_size: 2MiB\n", 6, 22,
	    "must be between 1KiB and 1MiB");
	EXPECT1(BASE "  limits:\n    max_uri_length: 100\n", 6, 21,
	    "must be between 256B and 64KiB");
	EXPECT1(BASE "  rate_limit: {by: ip, rate: 100/d}\n", 5, 30,
	    "invalid rate");
	EXPECT1(BASE "  rate_limit: {by: ip, rate: 0/s}\n", 5, 30,
	    "invalid rate");
	EXPECT1(BASE "  rate_limit: {by: ip, rate: 100}\n", 5, 30,
	    "expected a string, got an integer");
	EXPECT1(BASE "  rate_limit: {by: host, rate: 1/s}\n", 5, 20,
	    "must be one of ip, user, api_key");
	EXPECT1(BASE "  rate_limit: {by: ip}\n", 5, 15,
	    "missing required key 'rate'");
	EXPECT1(BASE "  rate_limit: {rate: 1/s, burst: 0}\n", 5, 34,
	    "must be between 1 and 1000000");
	EXPECT1(BASE "  rate_limit: 5/s\n", 5, 15,
	    "expected a mapping {by, rate, burst} or null");
	EXPECT1(BASE "  workers: 0\n", 5, 12, "auto or between 1 and 256");
	EXPECT1(BASE "  workers: 257\n", 5, 12, "auto or between 1 and 256");
	EXPECT1(BASE "  workers: many\n", 5, 12, "expected auto or an integer");
	EXPECT1("version: 2\nserver: {plaintext: true, trusted_proxies: "
	    "[127.0.0.1]}\n", 1, 10, "unsupported version");
	EXPECT1("version: \"1\"\nserver: {plaintext: true, trusted_proxies: "
	    "[127.0.0.1]}\n", 1, 10, "expected an integer");
}
END_TEST

START_TEST(values_accepted)
{
	struct bw_diag	 d = { 0 };
	struct conf	*c;

	c = load(BASE "  workers: 3\n  rate_limit: null\n"
	    "  shutdown_timeout: 0\n  limits:\n    max_body_size: 512\n"
	    "    max_header_size: \"2KiB\"\n    request_timeout: 1500ms\n"
	    "  hostnames: [api.example.com, 10.0.0.1]\n"
	    "  listen: [\"[::1]:443\", \"127.0.0.1:80\"]\n"
	    "  cors: {allow_origins: [\"*\"]}\n"
	    "  headers: {Permissions-Policy: \"geolocation=()\"}\n", &d);
	ck_assert_ptr_null(c);
	ck_assert_uint_eq(d.errors, 1);
	ck_assert_ptr_nonnull(strstr(d.v[0].msg, "between 2s and 1h"));
	c = load(BASE "  workers: 3\n  rate_limit: null\n"
	    "  shutdown_timeout: 0\n  limits:\n    max_body_size: 512\n"
	    "    max_header_size: \"2KiB\"\n    request_timeout: 2000ms\n"
	    "  hostnames: [api.example.com, 10.0.0.1]\n"
	    "  listen: [\"[::1]:443\", \"127.0.0.1:80\"]\n"
	    "  cors: {allow_origins: [\"*\"]}\n"
	    "  headers: {Permissions-Policy: \"geolocation=()\"}\n", &d);
	ck_assert_ptr_nonnull(c);
	ck_assert(!c->server.workers_auto);
	ck_assert_uint_eq(c->server.workers, 3);
	ck_assert(!c->server.rate_limit.enabled);
	ck_assert_int_eq(c->server.shutdown_timeout_ms, 0);
	ck_assert_uint_eq(c->server.limits.max_body_size, 512);
	ck_assert_uint_eq(c->server.limits.max_header_size, 2048);
	ck_assert_int_eq(c->server.limits.request_timeout_ms, 2000);
	ck_assert_uint_eq(c->server.nhostnames, 2);
	ck_assert_int_eq(c->server.listen[0].addr.ss_family, AF_INET6);
	ck_assert_int_eq(c->server.listen[0].pos.line, 13);
	ck_assert_ptr_nonnull(c->server.cors);
	ck_assert_str_eq(c->server.cors->allow_origins[0], "*");
	ck_assert_int_eq(c->server.cors->max_age_ms, 600000);
	ck_assert_str_eq(c->server.headers[0].value, "geolocation=()");
	ck_assert_int_eq(c->server.trusted_proxies[0].family, AF_INET);
	ck_assert_uint_eq(c->server.trusted_proxies[0].prefix, 32);
	conf_free(c);
	bw_diag_free(&d);
}
END_TEST

START_TEST(server_checks)
{
	const struct want	tls[] = {
	    { 3, 3, "missing required key 'certificate'" },
	    { 3, 3, "missing required key 'private_key'" } };
	const struct want	tls2[] = {
	    { 3, 8, "server.tls: missing required key 'certificate'" },
	    { 3, 8, "missing required key 'private_key'" } };

	EXPECT1("server:\n  plaintext: true\n  trusted_proxies: [127.0.0.1]\n",
	    1, 1, "missing required key 'version'");
	EXPECT1("version: 1\n", 1, 1, "missing required key 'server'");
	expect("version: 1\nserver:\n  workers: 1\n", tls, 2);
	expect("version: 1\nserver:\n  tls: {}\n", tls2, 2);
	EXPECT1("version: 1\nserver:\n  plaintext: true\n", 3, 14,
	    "plaintext needs trusted_proxies");
	EXPECT1(BASE "  listen: []\n", 5, 11, "needs 1 to 16 addresses");
	EXPECT1(BASE "  listen: [\"1.2.3.4\"]\n", 5, 12, "host:port");
	EXPECT1(BASE "  listen: [\"localhost:80\"]\n", 5, 12, "host:port");
	EXPECT1(BASE "  listen: [\"::1:80\"]\n", 5, 12, "host:port");
	EXPECT1(BASE "  listen: [\"1.2.3.4:0\"]\n", 5, 12, "invalid port");
	EXPECT1(BASE "  listen: [\"1.2.3.4:65536\"]\n", 5, 12, "invalid port");
	EXPECT1(BASE "  listen: [\"[::1]:x\"]\n", 5, 12, "invalid port");
	EXPECT1(BASE "  listen: [\"1.2.3.4:80\", \"1.2.3.4:80\"]\n", 5, 26,
	    "server.listen[1]: duplicate address");
	EXPECT1(BASE "  listen: [\"1.1.1.1:1\", \"1.1.1.1:2\", \"1.1.1.1:3\", "
	    "\"1.1.1.1:4\", \"1.1.1.1:5\", \"1.1.1.1:6\", \"1.1.1.1:7\", "
	    "\"1.1.1.1:8\", \"1.1.1.1:9\", \"1.1.1.1:10\", \"1.1.1.1:11\", "
	    "\"1.1.1.1:12\", \"1.1.1.1:13\", \"1.1.1.1:14\", \"1.1.1.1:15\", "
	    "\"1.1.1.1:16\", \"1.1.1.1:17\"]\n", 5, 11, "1 to 16");
	EXPECT1(BASE "  hostnames: [bad_host]\n", 5, 15, "invalid host name");
	EXPECT1(BASE "  hostnames: [-a.example]\n", 5, 15, "invalid host name");
	EXPECT1(BASE "  hostnames: [API.example]\n", 5, 15, "lower case");
	EXPECT1(BASE "  hostnames: [a.example, a.example]\n", 5, 26,
	    "duplicate entry");
	EXPECT1("version: 1\nserver:\n  plaintext: true\n"
	    "  trusted_proxies: [10.0.0.1/8]\n", 4, 21, "invalid CIDR");
	EXPECT1("version: 1\nserver:\n  plaintext: true\n"
	    "  trusted_proxies: [\"::1/129\"]\n", 4, 21, "invalid CIDR");
	EXPECT1(BASE "  user: Root\n", 5, 9, "invalid user or group name");
	EXPECT1(BASE "  cors: {allow_origins: [\"*\"], allow_credentials: "
	    "true}\n", 5, 26, "\"*\" cannot be used with allow_credentials");
	EXPECT1(BASE "  cors: {allow_origins: [\"https://a.example/\"]}\n", 5,
	    26, "invalid origin");
	EXPECT1(BASE "  cors: {allow_origins: [\"ftp://a.example\"]}\n", 5,
	    26, "invalid origin");
	EXPECT_OK(BASE "  cors: {allow_origins: [\"https://a.example:8443\", "
	    "\"http://[::1]:3000\"], allow_credentials: true}\n");
}
END_TEST

START_TEST(header_checks)
{
	char	src[4096];
	size_t	i, o;

	EXPECT1(BASE "  headers: {\"Bad Name\": x}\n", 5, 13,
	    "not a token");
	EXPECT1(BASE "  headers: {Server: bulwark}\n", 5, 13,
	    "set by bulwark and cannot be overridden");
	EXPECT1(BASE "  headers: {content-type: text/html}\n", 5, 13,
	    "cannot be overridden");
	EXPECT1(BASE "  headers: {set-cookie: a=b}\n", 5, 13,
	    "cannot be overridden");
	EXPECT1(BASE "  headers: {X-A: \"a\\r\\nX-B: c\"}\n", 5, 18,
	    "no CR, LF, NUL");
	EXPECT1(BASE "  headers: {X-A: \"a\\0\"}\n", 5, 18, "NUL");
	EXPECT1(BASE "  headers: {X-A: \" a\"}\n", 5, 18, "white space");
	EXPECT1(BASE "  headers: {X-A: 1}\n", 5, 18,
	    "expected a string, got an integer");
	EXPECT1(BASE "  headers: {X-A: a, x-a: b}\n", 5, 21,
	    "duplicate header");
	EXPECT1(BASE "  headers: [X-A]\n", 5, 12, "expected a mapping");
	o = (size_t)snprintf(src, sizeof(src), "%s  headers: {", BASE);
	for (i = 0; i < 33; i++)
		o += (size_t)snprintf(src + o, sizeof(src) - o, "%sX-H%zu: v",
		    i ? ", " : "", i);
	snprintf(src + o, sizeof(src) - o, "}\n");
	EXPECT1(src, 5, 12, "at most 32 headers");
}
END_TEST

static void
listen_src(char *src, size_t srcsz, size_t n)
{
	size_t	i, o;

	o = (size_t)snprintf(src, srcsz, "%s  listen: [", BASE);
	for (i = 0; i < n; i++)
		o += (size_t)snprintf(src + o, srcsz - o,
		    "%s\"127.0.0.1:%zu\"", i ? ", " : "", i + 1);
	snprintf(src + o, srcsz - o, "]\n");
}

/* The count bounds of the collections not reached elsewhere. */
START_TEST(collection_bounds)
{
	char		 src[40000];
	size_t		 i, o;

	listen_src(src, sizeof(src), 17);
	EXPECT1(src, 5, 11, "needs 1 to 16 addresses");
	listen_src(src, sizeof(src), 16);
	EXPECT_OK(src);
	o = (size_t)snprintf(src, sizeof(src), "version: 1\nserver:\n"
	    "  plaintext: true\n  trusted_proxies: [");
	for (i = 0; i < 65; i++)
		o += (size_t)snprintf(src + o, sizeof(src) - o, "%s10.0.0.%zu",
		    i ? ", " : "", i);
	snprintf(src + o, sizeof(src) - o, "]\n");
	EXPECT1(src, 4, 20, "at most 64 entries");
	o = (size_t)snprintf(src, sizeof(src), "%sschemas:\n", BASE);
	for (i = 0; i < 1025; i++)
		o += (size_t)snprintf(src + o, sizeof(src) - o,
		    "  s%zu: true\n", i);
	EXPECT1(src, 6, 3, "at most 1024 schemas");
}
END_TEST

START_TEST(role_checks)
{
	char		 src[16384];
	size_t		 i, o;
	const struct want cyc[] = { { 6, 3, "role 'a' inherits from itself" } };

	expect(BASE "roles:\n  a: {inherits: [b]}\n  b: {inherits: [c]}\n"
	    "  c: {inherits: [a]}\n", cyc, 1);
	EXPECT1(BASE "roles:\n  a: {inherits: [a]}\n", 6, 3,
	    "role 'a' inherits from itself");
	EXPECT1(BASE "roles:\n  a: {inherits: [nobody]}\n", 6, 18,
	    "roles.a.inherits: unknown role 'nobody'");
	EXPECT1(BASE "roles:\n  a: {inherits: [public]}\n", 6, 18,
	    "public cannot be inherited");
	EXPECT1(BASE "roles:\n  public: {}\n", 6, 3, "public is reserved");
	EXPECT1(BASE "roles:\n  Admin: {}\n", 6, 3, "invalid role name");
	EXPECT1(BASE "roles:\n  a: {inherit: [b]}\n", 6, 7,
	    "unknown key 'inherit'");
	EXPECT1(BASE "roles:\n  a: 1\n", 6, 6, "expected a mapping");
	EXPECT_OK(BASE "roles:\n  a: {inherits: [b]}\n  b: {inherits: [c]}\n"
	    "  c: {}\n  d: null\n");
	o = (size_t)snprintf(src, sizeof(src), "%sroles:\n", BASE);
	for (i = 0; i < 257; i++)
		o += (size_t)snprintf(src + o, sizeof(src) - o,
		    "  r%zu: {}\n", i);
	EXPECT1(src, 6, 3, "at most 256 roles");
}
END_TEST

START_TEST(route_checks)
{
	const struct want two[] = {
	    { 11, 5, "routes[0]: missing required key 'roles'" },
	    { 11, 5, "routes[0]: missing required key 'sql'" } };
	const struct want params[] = {
	    { 15, 13, "params: path parameter 'b' has no schema" },
	    { 15, 21, "'c' is not a parameter of the path" } };
	char	src[200000];
	size_t	i, o;

	expect(DBASE "  - name: a\n    method: GET\n    path: /a\n", two, 2);
	EXPECT1(DBASE "  - name: a\n    method: GET\n    path: /a\n"
	    "    roles: [nobody]\n    sql: SELECT 1\n", 14, 13,
	    "routes[0].roles: unknown role 'nobody'");
	EXPECT1(DBASE "  - name: a\n    method: GET\n    path: /a\n"
	    "    roles: []\n    sql: SELECT 1\n", 14, 12,
	    "at least one role");
	EXPECT_OK(DBASE "  - name: a\n    method: GET\n    path: /a\n"
	    "    roles: [public, editor]\n    sql: SELECT 1\n");
	EXPECT1(DBASE "  - {name: a, method: GET, path: /a, roles: [public], "
	    "sql: x}\n  - {name: a, method: GET, path: /b, roles: [public], "
	    "sql: x}\n", 12, 12, "routes[1].name: duplicate route name");
	EXPECT1(DBASE "  - {name: a, method: GET, path: \"/a/{x}\", roles: "
	    "[public], sql: x, params: {x: {}}}\n  - {name: b, method: GET, "
	    "path: \"/a/{y}\", roles: [public], sql: x, params: {y: {}}}\n",
	    12, 34, "ties with route 'a'");
	EXPECT_OK(DBASE "  - {name: a, method: GET, path: \"/a/{x}\", roles: "
	    "[public], sql: x, params: {x: {}}}\n  - {name: b, method: GET, "
	    "path: \"/a/b\", roles: [public], sql: x}\n  - {name: c, "
	    "method: DELETE, path: \"/a/{x}\", roles: [public], sql: x, "
	    "params: {x: true}}\n  - {name: d, method: GET, path: /a/, "
	    "roles: [public], sql: x}\n");
	EXPECT1(DBASE "  - {name: Bad, method: GET, path: /a, roles: [public], "
	    "sql: x}\n", 11, 12, "invalid route name");
	EXPECT1(DBASE "  - {name: a, method: HEAD, path: /a, roles: [public], "
	    "sql: x}\n", 11, 23, "must be one of GET, POST, PUT, PATCH, "
	    "DELETE");
	EXPECT1(DBASE "  - {name: a, method: GET, path: a, roles: [public], "
	    "sql: x}\n", 11, 34, "must start with '/'");
	EXPECT1(DBASE "  - {name: a, method: GET, path: \"/a//b\", roles: "
	    "[public], sql: x}\n", 11, 34, "empty segment");
	EXPECT1(DBASE "  - {name: a, method: GET, path: /a/../b, roles: "
	    "[public], sql: x}\n", 11, 34, "'.' and '..'");
	EXPECT1(DBASE "  - {name: a, method: GET, path: \"/a/{x\", roles: "
	    "[public], sql: x}\n", 11, 34, "{name}");
	EXPECT1(DBASE "  - {name: a, method: GET, path: \"/a/{x}/{x}\", roles: "
	    "[public], sql: x, params: {x: {}}}\n", 11, 34,
	    "duplicate parameter");
	EXPECT1(DBASE "  - {name: a, method: GET, path: \"/a b\", roles: "
	    "[public], sql: x}\n", 11, 34, "invalid character");
	expect(DBASE "  - name: a\n    method: GET\n    path: \"/x/{a}/{b}\"\n"
	    "    roles: [public]\n    params: {a: {}, c: {}}\n"
	    "    sql: x\n", params, 2);
	EXPECT1(DBASE "  - name: a\n    method: GET\n    path: \"/x/{a}\"\n"
	    "    roles: [public]\n    sql: x\n", 11, 5,
	    "path parameter 'a' has no schema");
	EXPECT1(DBASE "  - name: a\n    method: GET\n    path: /x\n"
	    "    roles: [public]\n    params: {a: 5}\n    sql: x\n", 15, 17,
	    "a schema is a mapping or a boolean");
	EXPECT1(DBASE "  - name: a\n    method: POST\n    path: /x\n"
	    "    roles: [public]\n    sql: x\n", 11, 5,
	    "missing required key 'body' (POST routes take a body)");
	EXPECT1(DBASE "  - name: a\n    method: PUT\n    path: /x\n"
	    "    roles: [public]\n    body: null\n    sql: x\n", 15, 11,
	    "PUT routes take a body");
	EXPECT1(DBASE "  - name: a\n    method: GET\n    path: /x\n"
	    "    roles: [public]\n    body: {type: object}\n    sql: x\n", 15,
	    11, "GET routes take no body");
	EXPECT1(DBASE "  - name: a\n    method: DELETE\n    path: /x\n"
	    "    roles: [public]\n    body: true\n    sql: x\n", 15, 11,
	    "DELETE routes take no body");
	EXPECT1(DBASE "  - name: a\n    method: POST\n    path: /x\n"
	    "    roles: [public]\n    body: Missing\n    sql: x\n", 15, 11,
	    "unknown schema 'Missing'");
	EXPECT1(DBASE "  - name: a\n    method: POST\n    path: /x\n"
	    "    roles: [public]\n    body: 5\n    sql: x\n", 15, 11,
	    "expected a schema name");
	EXPECT1(DBASE "  - name: a\n    method: GET\n    path: /x\n"
	    "    roles: [public]\n    sql: \"  \"\n", 15, 10, "blank");
	EXPECT1(DBASE "  - name: a\n    method: GET\n    path: /x\n"
	    "    roles: [public]\n    sql: x\n    result: rows\n", 16, 13,
	    "object, array, none, value");
	EXPECT1(DBASE "  - name: a\n    method: GET\n    path: /x\n"
	    "    roles: [public]\n    sql: x\n    status: 600\n", 16, 13,
	    "between 100 and 599");
	EXPECT1(DBASE "  - name: a\n    method: GET\n    path: /x\n"
	    "    roles: [public]\n    sql: x\n    timeout: 30s\n", 16, 14,
	    "timeout 30s exceeds server.limits.request_timeout (30s) - 1s");
	EXPECT1(DBASE "  - name: a\n    method: GET\n    path: /x\n"
	    "    roles: [public]\n    sql: x\n    query_required: [q]\n", 16,
	    22, "'q' is not declared in query");
	EXPECT1(DBASE "  - name: a\n    method: GET\n    path: /x\n"
	    "    roles: [public]\n    sql: x\n    querys: {}\n", 16, 5,
	    "routes[0]: unknown key 'querys'");
	EXPECT1(DBASE "  - 5\n", 11, 5, "a route is a mapping");
	EXPECT1(BASE "routes:\n  - {name: a, method: GET, path: /a, roles: "
	    "[public], sql: x}\n", 1, 1, "missing required key 'database'");
	EXPECT1(BASE "database: {conninfo: \"dbname=x\", statement_timeout: 30s}\n"
	    "routes:\n  - {name: a, method: GET, path: /a, roles: [public], "
	    "sql: x}\n", 7, 5, "(database.statement_timeout) exceeds");
	o = (size_t)snprintf(src, sizeof(src), "%s", DBASE);
	for (i = 0; i < 1025; i++)
		o += (size_t)snprintf(src + o, sizeof(src) - o, "  - {name: r%zu,"
		    " method: GET, path: /r%zu, roles: [public], sql: x}\n", i,
		    i);
	EXPECT1(src, 11, 3, "at most 1024 routes");
}
END_TEST

START_TEST(route_resolution)
{
	struct bw_diag	 d = { 0 };
	struct conf	*c;

	c = load(DBASE "  - name: a\n    method: POST\n    path: /x\n"
	    "    roles: [editor]\n    body: Note\n    sql: x\n    result: none\n"
	    "  - name: b\n    method: GET\n    path: /y\n    roles: [public]\n"
	    "    sql: x\n    rate_limit: null\n    timeout: 2s\n"
	    "    max_body_size: 1KiB\n    audit: true\n    status: 202\n"
	    "schemas:\n  Note: {type: object}\n  Any: true\n"
	    "audit: {}\n", &d);
	bw_diag_print(&d, stdout);
	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(c->routes[0].status, 204);
	ck_assert_int_eq(c->routes[0].audit, 1);
	ck_assert_int_eq(c->routes[0].method, METHOD_POST);
	ck_assert_str_eq(c->routes[0].body->text, "Note");
	ck_assert(c->routes[0].rate_limit.enabled);
	ck_assert_int_eq(c->routes[1].status, 202);
	ck_assert_int_eq(c->routes[1].audit, 1);
	ck_assert(!c->routes[1].rate_limit.enabled);
	ck_assert_int_eq(c->routes[1].timeout_ms, 2000);
	ck_assert_uint_eq(c->routes[1].max_body_size, 1024);
	ck_assert_uint_eq(c->nschemas, 2);
	ck_assert_str_eq(c->schemas[0].name, "Note");
	ck_assert_int_eq(c->schemas[0].schema->kind, NODE_MAP);
	ck_assert_str_eq(conf_method_name(METHOD_PATCH), "PATCH");
	ck_assert_str_eq(conf_result_name(RESULT_VALUE), "value");
	conf_free(c);
	EXPECT1(DBASE "schemas:\n  Bad Name: {}\n", 12, 3,
	    "invalid schema name");
	EXPECT1(DBASE "schemas:\n  S: [1]\n", 12, 6,
	    "a schema is a mapping or a boolean");
	bw_diag_free(&d);
}
END_TEST

START_TEST(token_cache_bounds)
{
	static const struct {
		const char	*yaml;
		uint32_t	 want;
	} ok[] = {
		{ "  token_cache: 0\n", 0 },
		{ "  token_cache: 1\n", 1 },
		{ "  token_cache: 1048576\n", 1048576 },
		{ "", 4096 },
	};
	struct bw_diag	 d = { 0 };
	struct conf	*c;
	char		 src[512];
	size_t		 i;

	for (i = 0; i < BW_ARRAY_LEN(ok); i++) {
		snprintf(src, sizeof(src), "%s%sauth:\n  issuer: i\n"
		    "  audience: a\n  signing_key_file: /k\n%s", BASE, DB,
		    ok[i].yaml);
		c = load(src, &d);
		bw_diag_print(&d, stdout);
		ck_assert_ptr_nonnull(c);
		ck_assert_uint_eq(c->auth->token_cache, ok[i].want);
		conf_free(c);
	}
	bw_diag_free(&d);
	EXPECT1(BASE DB "auth:\n  issuer: i\n"
	    "  audience: a\n  signing_key_file: /k\n  token_cache: 1048577\n",
	    10, 16, "must be between 0 and 1048576");
	EXPECT1(BASE DB "auth:\n  issuer: i\n"
	    "  audience: a\n  signing_key_file: /k\n  token_cache: -1\n",
	    10, 16, "must be between 0 and 1048576");
	EXPECT1(BASE DB "auth:\n  issuer: i\n"
	    "  audience: a\n  signing_key_file: /k\n  token_cache: many\n",
	    10, 16, "expected an integer");
}
END_TEST

START_TEST(section_checks)
{
	const struct want	auth[] = {
	    { 1, 1, "missing required key 'database'" },
	    { 6, 3, "auth: missing required key 'audience'" },
	    { 6, 3, "auth: missing required key 'signing_key_file'" } };

	EXPECT1(BASE "database:\n  conninfo: \"host=db user=u password=x\"\n",
	    6, 13, "must not contain a password");
	EXPECT1(BASE "database:\n  conninfo: "
	    "\"postgresql://u:secret@localhost/app\"\n", 6, 13,
	    "must not contain a password");
	EXPECT1(BASE "database:\n  conninfo: \"host=db.example.com\"\n", 6, 13,
	    "needs sslmode=verify-full");
	EXPECT1(BASE "database:\n  conninfo: \"host=localhost,db.example.com "
	    "sslmode=require\"\n", 6, 13, "needs sslmode=verify-full");
	EXPECT1(BASE "database:\n  conninfo: \"x=y\"\n", 6, 13,
	    "not a valid libpq connection string");
	EXPECT_OK(BASE "database:\n  conninfo: \"host=db.example.com "
	    "sslmode=verify-full\"\n  replicas: [\"host=/run/postgresql\", "
	    "\"host=127.0.0.1\", \"hostaddr=::1\"]\n");
	EXPECT1(BASE "database:\n  pool_size: 4\n", 6, 3,
	    "missing required key 'conninfo'");
	expect(BASE "auth:\n  issuer: i\n", auth, 3);
	EXPECT1(BASE DB "auth:\n  issuer: i\n"
	    "  audience: a\n  signing_key_file: k\n", 9, 21,
	    "absolute path or credential:NAME");
	EXPECT1(BASE DB "auth:\n  issuer: i\n"
	    "  audience: a\n  signing_key_file: /k\n  password:\n"
	    "    min_length: 20\n    max_length: 16\n", 12, 17,
	    "max_length is below min_length");
	EXPECT1(BASE DB "auth:\n  issuer: i\n"
	    "  audience: a\n  signing_key_file: /k\n  password:\n"
	    "    argon2: {memory: 8MiB}\n", 11, 22,
	    "between 19MiB and 256MiB");
	EXPECT1(BASE DB "auth:\n  issuer: i\n"
	    "  audience: a\n  signing_key_file: /k\n  endpoints: /auth/\n", 10,
	    14, "without a trailing '/'");
	EXPECT1(BASE DB "backup:\n  every: 1h\n"
	    "  at: \"03:00\"\n", 8, 7, "every and at are exclusive");
	EXPECT1(BASE DB "backup:\n  at: \"24:00\"\n", 7,
	    7, "HH:MM");
	EXPECT1(BASE DB "backup:\n  every: 30s\n", 7, 10,
	    "between 1m and 365d");
	EXPECT1(BASE DB "audit:\n  fsync: sometimes\n",
	    7, 10, "invalid duration");
	EXPECT1(BASE DB "audit:\n  on_failure: ignore\n",
	    7, 15, "must be one of reject, continue");
	EXPECT1(BASE DB "audit:\n  control_socket: run/control.sock\n", 7, 19,
	    "absolute path");
	EXPECT1(BASE DB "audit:\n  instance_id: \"a/b\"\n",
	    7, 16, "invalid instance id");
	EXPECT1(BASE "admin:\n  listen: \"0.0.0.0:9090\"\n", 6, 11,
	    "plain HTTP must listen on a loopback address");
	EXPECT1(BASE "admin:\n  tls: {certificate: /c}\n", 6, 8,
	    "missing required key 'private_key'");
	EXPECT_OK(BASE "admin:\n  listen: \"[::1]:9090\"\n");
	EXPECT_OK(BASE "admin:\n  listen: \"0.0.0.0:9090\"\n"
	    "  tls: {certificate: /c, private_key: /k}\n");
	EXPECT_OK(BASE DB "audit: {fsync: 1s}\n"
	    "backup: {at: \"23:59\"}\n");
}
END_TEST

START_TEST(all_errors_one_run)
{
	const struct want	w[] = {
	    { 5, 3, "unknown key 'bogus'" },
	    { 6, 21, "invalid duration" },
	    { 8, 18, "must be between 1 and 1000" } };
	const struct want	w2[] = {
	    { 2, 1, "duplicate key 'version'" },
	    { 5, 3, "unknown key 'bogus'" },
	    { 6, 12, "auto or between" } };
	char			 src[8192];
	struct bw_diag		 d = { 0 };
	struct conf		*c;
	size_t			 i, o;

	expect(BASE "  bogus: 1\n  shutdown_timeout: soon\n  limits:\n"
	    "    max_headers: 5000\n", w, 3);
	expect("version: 1\nversion: 1\nserver:\n  plaintext: true\n"
	    "  bogus: 1\n  workers: 0\n  trusted_proxies: [127.0.0.1]\n", w2,
	    3);
	/* Beyond BW_DIAG_MAX errors the list says so and stops. */
	o = (size_t)snprintf(src, sizeof(src), "%s", BASE);
	for (i = 0; i < BW_DIAG_MAX + 10; i++)
		o += (size_t)snprintf(src + o, sizeof(src) - o, "  k%zu: 1\n",
		    i);
	c = load(src, &d);
	ck_assert_ptr_null(c);
	ck_assert(d.overflow);
	ck_assert_uint_eq(d.errors, BW_DIAG_MAX);
	bw_diag_free(&d);
}
END_TEST

static char *
dump(const struct conf *c)
{
	char	*buf = NULL;
	size_t	 len = 0;
	FILE	*fp;

	fp = open_memstream(&buf, &len);
	ck_assert_ptr_nonnull(fp);
	conf_dump(c, fp);
	fclose(fp);
	return buf;
}

START_TEST(dump_round_trip)
{
	static const char	*src = DBASE
	    "  - name: get_note\n    method: GET\n    path: \"/notes/{id}\"\n"
	    "    roles: [reader]\n"
	    "    params: {id: {type: integer, minimum: 1, maximum: 1e9}}\n"
	    "    query: {q: {type: string, pattern: \"^[a-z]+$\"}, "
	    "n: {multipleOf: 0.5}}\n"
	    "    sql: \"SELECT 'x\\\\y', \\\"q\\\" FROM t WHERE id = :path.id\"\n"
	    "    rate_limit: {by: user, rate: 20/m, burst: 40}\n"
	    "    timeout: 1500ms\n"
	    "  - name: new_note\n    method: POST\n    path: /notes\n"
	    "    roles: [editor]\n    body: {type: object, properties: "
	    "{t: {type: string, maxLength: 200}}}\n"
	    "    sql: |\n      INSERT INTO notes VALUES (:body.t)\n"
	    "    result: none\n"
	    "schemas:\n  N: {enum: [a, \"b c\", 1, true, null, \"\\u00e9\\t\"]}\n"
	    "  T: true\n"
	    "security: {seccomp: log}\n"
	    "audit: {fsync: 250ms, instance_id: node-1}\n"
	    "backup: {at: \"03:07\", keep: 3}\n"
	    "admin: {listen: \"127.0.0.1:9999\"}\n"
	    "logging: {level: debug, access: /var/log/bulwark/access.log}\n"
	    "auth:\n  issuer: https://api.example.com\n  audience: api\n"
	    "  signing_key_file: /etc/k\n  endpoints: null\n"
	    "  endpoint_rate_limit: null\n";
	struct bw_diag	 d = { 0 };
	struct conf	*c1, *c2;
	char		*t1, *t2, *p1, *p2;

	c1 = load(src, &d);
	bw_diag_print(&d, stdout);
	ck_assert_ptr_nonnull(c1);
	t1 = dump(c1);
	ck_assert_ptr_nonnull(strstr(t1, "max_headers: 64\n"));
	ck_assert_ptr_nonnull(strstr(t1, "header_timeout: 10s\n"));
	ck_assert_ptr_nonnull(strstr(t1, "max_response_size: 8MiB\n"));
	ck_assert_ptr_nonnull(strstr(t1, "timeout: 1500ms\n"));
	ck_assert_ptr_nonnull(strstr(t1, "rate: \"20/m\""));
	ck_assert_ptr_nonnull(strstr(t1, "at: \"03:07\"\n"));
	ck_assert_ptr_null(strstr(t1, "every:"));
	ck_assert_ptr_nonnull(strstr(t1, "fsync: 250ms\n"));
	ck_assert_ptr_nonnull(strstr(t1, "\"maximum\": 1e9"));
	ck_assert_ptr_nonnull(strstr(t1, "\"multipleOf\": 0.5"));
	c2 = conf_load_buffer("t2.yaml", t1, strlen(t1), &d);
	bw_diag_print(&d, stdout);
	ck_assert_ptr_nonnull(c2);
	ck_assert_uint_eq(d.errors, 0);
	t2 = dump(c2);
	/* Equal but for the file name in the first line. */
	p1 = strchr(t1, '\n');
	p2 = strchr(t2, '\n');
	ck_assert_str_eq(p1, p2);
	ck_assert_str_eq(c1->routes[0].sql, c2->routes[0].sql);
	ck_assert_str_eq(c2->routes[0].sql,
	    "SELECT 'x\\y', \"q\" FROM t WHERE id = :path.id");
	ck_assert_int_eq(c2->routes[0].timeout_ms, 1500);
	ck_assert_int_eq(c2->routes[1].audit, 1);
	ck_assert_int_eq(c2->backup->at_minute, 3 * 60 + 7);
	ck_assert_int_eq(c2->seccomp, SECCOMP_LOG);
	ck_assert_ptr_null(c2->auth->endpoints);
	ck_assert(!c2->auth->endpoint_rate_limit.enabled);
	ck_assert_str_eq(c2->schemas[0].schema->vals[0]->vals[5]->text,
	    "\xc3\xa9\t");
	ck_assert_int_eq(c2->schemas[0].schema->vals[0]->vals[1]->style,
	    NODE_STRING);
	ck_assert_int_eq(c2->routes[0].params->vals[0]->vals[1]->style,
	    NODE_PLAIN);
	free(t1);
	free(t2);
	conf_free(c1);
	conf_free(c2);
	bw_diag_free(&d);
}
END_TEST

/*
 * Files: secret checks need real files, so these tests write a temporary
 * directory and load through conf_load.
 */
static char	tmpdir[64];

static void
setup_tmp(void)
{
	unit_tmpdir(tmpdir, sizeof(tmpdir), "test_conf");
}

static void
teardown_tmp(void)
{
	unit_rmtree(tmpdir);
}

START_TEST(secret_files)
{
	char		 p600[256], p640[256], p644[256], p660[256], link[256];
	const char	*err;
	int		 fd;

	setup_tmp();
	unit_mkfile(tmpdir, "k600", 0600, p600, sizeof(p600));
	unit_mkfile(tmpdir, "k640", 0640, p640, sizeof(p640));
	unit_mkfile(tmpdir, "k644", 0644, p644, sizeof(p644));
	unit_mkfile(tmpdir, "k660", 0660, p660, sizeof(p660));
	snprintf(link, sizeof(link), "%s/link", tmpdir);
	ck_assert_int_eq(symlink(p600, link), 0);

	fd = secret_open(p600, NULL, &err);
	ck_assert_int_ge(fd, 0);
	close(fd);
	/* Group read by the effective group is allowed. */
	fd = secret_open(p640, NULL, &err);
	ck_assert_int_ge(fd, 0);
	close(fd);
	ck_assert_int_eq(secret_open(p644, NULL, &err), -1);
	ck_assert_ptr_nonnull(strstr(err, "others"));
	ck_assert_int_eq(secret_open(p660, NULL, &err), -1);
	ck_assert_ptr_nonnull(strstr(err, "write"));
	ck_assert_int_eq(secret_open(link, NULL, &err), -1);
	ck_assert_str_eq(err, "is a symbolic link");
	ck_assert_int_eq(secret_open(tmpdir, NULL, &err), -1);
	ck_assert_str_eq(err, "not a regular file");
	ck_assert_int_eq(secret_open("/nonexistent/k", NULL, &err), -1);
	/* A file the worker user owns is readable by it. */
	if (geteuid() == 0) {
		ck_assert_int_eq(secret_open(p600, "root", &err), -1);
		ck_assert_str_eq(err, "readable by server.user");
	}
	teardown_tmp();
}
END_TEST

static void
write_conf(const char *path, const char *text)
{
	FILE	*fp = fopen(path, "w");

	ck_assert_ptr_nonnull(fp);
	fputs(text, fp);
	fclose(fp);
}

START_TEST(secret_files_in_config)
{
	char		 cert[256], k600[256], k644[256], link[256], cfg[256];
	char		 text[2048];
	struct bw_diag	 d = { 0 };
	struct conf	*c;
	size_t		 w = 0;

	setup_tmp();
	unit_mkfile(tmpdir, "cert.pem", 0644, cert, sizeof(cert));
	unit_mkfile(tmpdir, "key.pem", 0600, k600, sizeof(k600));
	unit_mkfile(tmpdir, "bad.pem", 0644, k644, sizeof(k644));
	snprintf(link, sizeof(link), "%s/link.pem", tmpdir);
	ck_assert_int_eq(symlink(k600, link), 0);
	snprintf(cfg, sizeof(cfg), "%s/bulwark.yaml", tmpdir);

	snprintf(text, sizeof(text), "version: 1\nserver:\n  user: nobody\n"
	    "  tls:\n    certificate: %s\n    private_key: %s\n", cert, k600);
	write_conf(cfg, text);
	c = conf_load(cfg, &d);
	bw_diag_print(&d, stdout);
	ck_assert_ptr_nonnull(c);
	ck_assert_str_eq(c->server.tls.private_key, k600);
	ck_assert_str_eq(c->file, cfg);
	conf_free(c);

	snprintf(text, sizeof(text), "version: 1\nserver:\n  user: nobody\n"
	    "  tls:\n    certificate: %s/none.pem\n    private_key: %s\n"
	    "database:\n  conninfo: dbname=x\n  password_file: %s\n", tmpdir, k644,
	    link);
	write_conf(cfg, text);
	c = conf_load(cfg, &d);
	bw_diag_print(&d, stdout);
	ck_assert_ptr_null(c);
	ck_assert_uint_eq(d.errors, 3);
	while (d.v[0].warning) {
		d.v++;
		d.n--;
		w++;
	}
	ck_assert_int_eq(d.v[0].line, 5);
	ck_assert_int_eq(d.v[0].col, 18);
	ck_assert_ptr_nonnull(strstr(d.v[0].msg, "No such file"));
	ck_assert_int_eq(d.v[1].line, 6);
	ck_assert_int_eq(d.v[1].col, 18);
	ck_assert_ptr_nonnull(strstr(d.v[1].msg, "secret file"));
	ck_assert_ptr_nonnull(strstr(d.v[1].msg, "others"));
	ck_assert_int_eq(d.v[2].line, 9);
	ck_assert_int_eq(d.v[2].col, 18);
	ck_assert_ptr_nonnull(strstr(d.v[2].msg, "symbolic link"));
	d.v -= w;
	d.n += w;
	bw_diag_free(&d);

	/* conf_load_buffer opens no file. */
	c = load(text, &d);
	ck_assert_ptr_nonnull(c);
	conf_free(c);
	bw_diag_free(&d);
	teardown_tmp();
}
END_TEST

START_TEST(credentials)
{
	char		 key[256], cfg[256], text[1024];
	const char	*err;
	char		*p;
	struct bw_diag	 d = { 0 };
	struct conf	*c;
	int		 fd;

	setup_tmp();
	unit_mkfile(tmpdir, "jwt", 0600, key, sizeof(key));
	unsetenv("CREDENTIALS_DIRECTORY");
	ck_assert_ptr_null(secret_path("credential:jwt", &err));
	ck_assert_ptr_nonnull(strstr(err, "CREDENTIALS_DIRECTORY"));
	p = secret_path("/etc/x", &err);
	ck_assert_str_eq(p, "/etc/x");
	free(p);
	setenv("CREDENTIALS_DIRECTORY", tmpdir, 1);
	p = secret_path("credential:jwt", &err);
	ck_assert_str_eq(p, key);
	free(p);
	ck_assert_ptr_null(secret_path("credential:../jwt", &err));
	ck_assert_ptr_null(secret_path("credential:a/b", &err));
	ck_assert_ptr_null(secret_path("credential:", &err));
	fd = secret_open("credential:jwt", NULL, &err);
	ck_assert_int_ge(fd, 0);
	close(fd);

	snprintf(cfg, sizeof(cfg), "%s/bulwark.yaml", tmpdir);
	snprintf(text, sizeof(text), "version: 1\nserver:\n  user: nobody\n"
	    "  plaintext: true\n  trusted_proxies: [127.0.0.1]\n"
	    "database:\n  conninfo: dbname=x\n  password_file: credential:jwt\n");
	write_conf(cfg, text);
	c = conf_load(cfg, &d);
	bw_diag_print(&d, stdout);
	ck_assert_ptr_nonnull(c);
	ck_assert_str_eq(c->database->password_file, key);
	conf_free(c);
	bw_diag_free(&d);

	unsetenv("CREDENTIALS_DIRECTORY");
	c = conf_load(cfg, &d);
	ck_assert_ptr_null(c);
	ck_assert_uint_eq(d.errors, 1);
	ck_assert_int_eq(d.v[0].line, 8);
	ck_assert_int_eq(d.v[0].col, 18);
	ck_assert_ptr_nonnull(strstr(d.v[0].msg, "CREDENTIALS_DIRECTORY"));
	bw_diag_free(&d);
	/* credential: is for secrets only. */
	EXPECT1(BASE "  pid_file: credential:x\n", 5, 13, "absolute path");
	teardown_tmp();
}
END_TEST

/*
 * The manual page documents every key of the key tables, at its place
 * (.Ss section, nested .Bl lists), with the table's type after its name
 * and the table's default after "Default:".
 */
#define MAN_MAX_ENTRIES	512

struct man_entry {
	char		 path[128];
	char		 type[128];
	const char	*body;		/* the lines after the .It line */
};

struct man {
	struct man_entry e[MAN_MAX_ENTRIES];
	size_t		 n;
	const char	*end;		/* of the text, split into lines */
	int		 bad;
};

/* The prefix of a section's keys: "routes[]", "roles.NAME", "server". */
struct man_section {
	const char	*name;
	char		 prefix[128];
};

static void
man_section_key(const struct conf_keydoc *d, void *arg)
{
	struct man_section	*sec = arg;
	size_t			 len = strlen(sec->name);

	if (strncmp(d->path, sec->name, len) != 0)
		return;
	if (strncmp(d->path + len, "[].", 3) == 0)
		snprintf(sec->prefix, sizeof(sec->prefix), "%s[]", sec->name);
	else if (strncmp(d->path + len, ".NAME.", 6) == 0)
		snprintf(sec->prefix, sizeof(sec->prefix), "%s.NAME",
		    sec->name);
}

static void
man_section_prefix(const char *name, char *out, size_t outsz)
{
	struct man_section	 sec = { name, "" };

	if (strcmp(name, "Top level") == 0) {
		out[0] = '\0';
		return;
	}
	snprintf(sec.prefix, sizeof(sec.prefix), "%s", name);
	conf_keys_walk(man_section_key, &sec);
	snprintf(out, outsz, "%s", sec.prefix);
}

/* Reads the .Ss/.Bl/.El/.It Ic structure of the SECTIONS part. */
static void
man_parse(struct man *m, char *text)
{
	char	 stack[8][128], prefix[128] = "", last[128] = "", *line, *next;
	size_t	 depth = 0;
	bool	 on = false;

	for (line = text; line != NULL && *line != '\0'; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		if (strncmp(line, ".Sh ", 4) == 0)
			on = strcmp(line + 4, "SECTIONS") == 0;
		if (!on)
			continue;
		if (strncmp(line, ".Ss ", 4) == 0) {
			man_section_prefix(line + 4, prefix, sizeof(prefix));
			depth = 0;
		} else if (strncmp(line, ".Bl", 3) == 0) {
			ck_assert_uint_lt(depth, 8);
			snprintf(stack[depth], sizeof(stack[0]), "%s",
			    depth == 0 ? prefix : last);
			depth++;
		} else if (strncmp(line, ".El", 3) == 0 && depth > 0) {
			depth--;
			snprintf(last, sizeof(last), "%s", stack[depth]);
		} else if (strncmp(line, ".It Ic ", 7) == 0 && depth > 0) {
			struct man_entry	*e = &m->e[m->n++];
			const char		*name = line + 7;
			size_t			 nl = strcspn(name, " ");

			ck_assert_uint_lt(m->n, MAN_MAX_ENTRIES);
			snprintf(e->path, sizeof(e->path), "%s%s%.*s",
			    stack[depth - 1], stack[depth - 1][0] ? "." : "",
			    (int)nl, name);
			snprintf(e->type, sizeof(e->type), "%s",
			    name[nl] == ' ' ? name + nl + 1 : "");
			e->body = next;
			snprintf(last, sizeof(last), "%s", e->path);
		}
	}
}

/*
 * The default an entry gives after "Default:" (on the line or as the
 * argument of the next macro line), as YAML text; "" when it gives none.
 */
static void
man_default(const struct man *m, const char *body, char *out, size_t outsz)
{
	const char	*p = body, *end;
	size_t		 o = 0;

	out[0] = '\0';
	while (p != NULL && p < m->end && strncmp(p, "Default:", 8) != 0) {
		if (strncmp(p, ".It", 3) == 0 || strncmp(p, ".Bl", 3) == 0 ||
		    strncmp(p, ".El", 3) == 0 || strncmp(p, ".Ss", 3) == 0 ||
		    strncmp(p, ".Sh", 3) == 0)
			return;
		p = strchr(p, '\0') + 1;
	}
	if (p == NULL || p >= m->end)
		return;
	p += 8;
	if (*p == '\0') {
		p++;
		if (p[0] != '.' || strlen(p) < 4)
			return;
		p += 4;
	}
	p += strspn(p, " ");
	end = p + strlen(p);
	if (end - p >= 2 && end[-2] == ' ' && (end[-1] == '.' ||
	    end[-1] == ','))
		end -= 2;
	else if (end > p && end[-1] == '.')
		end--;
	while (p < end && o + 1 < outsz) {
		if (strncmp(p, "\\(dq", 4) == 0) {
			out[o++] = '"';
			p += 4;
		} else if (strncmp(p, "\\&", 2) == 0)
			p += 2;
		else
			out[o++] = *p++;
	}
	out[o] = '\0';
}

static void
man_key(const struct conf_keydoc *d, void *arg)
{
	struct man		*m = arg;
	const struct man_entry	*e = NULL;
	char			 def[256];
	size_t			 i;

	for (i = 0; i < m->n && e == NULL; i++)
		if (strcmp(m->e[i].path, d->path) == 0)
			e = &m->e[i];
	if (e == NULL) {
		printf("man page lacks %s\n", d->path);
		m->bad++;
		return;
	}
	if (strcmp(e->type, d->type) != 0) {
		printf("man page: %s: type \"%s\", the table says \"%s\"\n",
		    d->path, e->type, d->type);
		m->bad++;
	}
	man_default(m, e->body, def, sizeof(def));
	if (d->def != NULL && strcmp(def, d->def) != 0) {
		printf("man page: %s: default \"%s\", the table says \"%s\"\n",
		    d->path, def, d->def);
		m->bad++;
	}
	if (d->required && (e->body == NULL ||
	    strncmp(e->body, "Required", 8) != 0)) {
		printf("man page: %s: does not begin with Required\n",
		    d->path);
		m->bad++;
	}
}

START_TEST(man_page_lists_every_key)
{
	char		 path[512], *text;
	const char	*here = __FILE__, *cut;
	struct man	*m;
	FILE		*fp;
	size_t		 len = 0;

	cut = strstr(here, "tests/unit/");
	snprintf(path, sizeof(path), "%.*sman/bulwark.yaml.5",
	    cut != NULL ? (int)(cut - here) : 0, here);
	fp = fopen(path, "r");
	ck_assert_msg(fp != NULL, "%s: cannot open", path);
	text = malloc(1 << 20);
	ck_assert_ptr_nonnull(text);
	len = fread(text, 1, (1 << 20) - 1, fp);
	text[len] = '\0';
	fclose(fp);
	m = calloc(1, sizeof(*m));
	ck_assert_ptr_nonnull(m);
	m->end = text + len;
	man_parse(m, text);
	ck_assert_uint_gt(m->n, 100);
	conf_keys_walk(man_key, m);
	ck_assert_int_eq(m->bad, 0);
	free(m);
	free(text);
}
END_TEST

START_TEST(reference_config)
{
	char		 path[512], *text;
	const char	*here = __FILE__, *cut;
	struct bw_diag	 d = { 0 };
	struct conf	*c;
	FILE		*fp;
	size_t		 len;

	cut = strstr(here, "tests/unit/");
	snprintf(path, sizeof(path), "%.*sconf/bulwark.yaml",
	    cut != NULL ? (int)(cut - here) : 0, here);
	if ((fp = fopen(path, "r")) == NULL) {
		printf("NOTE: %s not found; reference check skipped\n", path);
		return;
	}
	text = malloc(1 << 16);
	ck_assert_ptr_nonnull(text);
	len = fread(text, 1, (1 << 16) - 1, fp);
	fclose(fp);
	c = conf_load_buffer(path, text, len, &d);
	bw_diag_print(&d, stdout);
	ck_assert_ptr_nonnull(c);
	ck_assert_uint_eq(d.n, 0);
	ck_assert_str_eq(c->server.tls.certificate, "/etc/bulwark/tls/cert.pem");
	ck_assert_ptr_null(c->database);
	conf_free(c);
	bw_diag_free(&d);
	free(text);
}
END_TEST

static void
count_key(const struct conf_keydoc *d, void *arg)
{
	const char	*path = d->path;

	if (strcmp(path, "server.limits.max_headers") == 0 ||
	    strcmp(path, "routes[].sql") == 0 ||
	    strcmp(path, "server.rate_limit.burst") == 0)
		(*(int *)arg)++;
}

START_TEST(keys_walk)
{
	int	n = 0;

	conf_keys_walk(count_key, &n);
	ck_assert_int_eq(n, 3);
}
END_TEST

static void
deepest_key(const struct conf_keydoc *d, void *arg)
{
	const char	*path = d->path;
	int		 n = 1;

	for (; *path != '\0'; path++)
		n += *path == '.';
	if (n > *(int *)arg)
		*(int *)arg = n;
}

/*
 * The loader, the dump, conf_free and conf_keys_walk recurse along the key
 * tables; lint/suppressions bounds that recursion by this depth (four
 * nested tables: auth.password.argon2.memory).  A deeper (or cyclic)
 * table fails here first.
 */
START_TEST(keys_depth)
{
	int	 n = 0;

	conf_keys_walk(deepest_key, &n);
	ck_assert_int_eq(n, 4);
}
END_TEST

Suite *
unit_suite(void)
{
	Suite	*s = suite_create("conf");
	TCase	*tc = tcase_create("conf");

	tcase_set_timeout(tc, UNIT_TIMEOUT);
	tcase_add_test(tc, defaults);
	tcase_add_test(tc, type_errors);
	tcase_add_test(tc, range_and_unit_errors);
	tcase_add_test(tc, values_accepted);
	tcase_add_test(tc, server_checks);
	tcase_add_test(tc, header_checks);
	tcase_add_test(tc, collection_bounds);
	tcase_add_test(tc, role_checks);
	tcase_add_test(tc, route_checks);
	tcase_add_test(tc, route_resolution);
	tcase_add_test(tc, section_checks);
	tcase_add_test(tc, token_cache_bounds);
	tcase_add_test(tc, all_errors_one_run);
	tcase_add_test(tc, dump_round_trip);
	tcase_add_test(tc, secret_files);
	tcase_add_test(tc, secret_files_in_config);
	tcase_add_test(tc, credentials);
	tcase_add_test(tc, man_page_lists_every_key);
	tcase_add_test(tc, keys_walk);
	tcase_add_test(tc, keys_depth);
	tcase_add_test(tc, reference_config);
	suite_add_tcase(s, tc);
	return s;
}
