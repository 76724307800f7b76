/*
 * test_metrics.c - the shared metrics table and its exposition (SPEC 12).
 */
#include <sys/wait.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "admin.h"
#include "metrics.h"
#include "unit.h"

static struct metrics *
fresh(void)
{
	struct metrics	*m = metrics_shared_new();

	ck_assert_ptr_nonnull(m);
	metrics_set_instance(m);
	return m;
}

/* The exposition as a NUL-terminated string (caller frees). */
static char *
expose(const struct metrics *m, unsigned workers)
{
	struct evbuffer	*b = evbuffer_new();
	size_t		 n;
	char		*s;

	ck_assert_int_eq(metrics_write(m, workers, b), 0);
	n = evbuffer_get_length(b);
	s = malloc(n + 1);
	evbuffer_remove(b, s, n);
	s[n] = '\0';
	evbuffer_free(b);
	return s;
}

static void
has_line(const char *text, const char *line)
{
	const char	*p = text;
	size_t		 n = strlen(line);

	while ((p = strstr(p, line)) != NULL) {
		if ((p == text || p[-1] == '\n') && p[n] == '\n')
			return;
		p += n;
	}
	ck_abort_msg("line not found: %s\n%s", line, text);
}

START_TEST(counts_by_route_and_status)
{
	struct metrics	*m = fresh();
	const char	*a = "notes_get", *b = "notes_post";
	char		*t;

	metrics_response(a, 200, 100);
	metrics_response(a, 200, 100);
	metrics_response(a, 404, 100);
	metrics_response(b, 201, 100);
	metrics_response(NULL, 404, 100);
	metrics_response(a, 99, 100);		/* out of range: not counted */
	metrics_response(a, 600, 100);
	metrics_rate_limited(b);
	ck_assert_uint_eq(metrics_count(m, "notes_get", 200), 2);
	ck_assert_uint_eq(metrics_count(m, "notes_get", 404), 1);
	ck_assert_uint_eq(metrics_count(m, "", 404), 1);
	t = expose(m, 2);
	has_line(t, "# TYPE bulwark_http_requests_total counter");
	has_line(t, "bulwark_http_requests_total{route=\"\",status=\"404\"} 1");
	has_line(t, "bulwark_http_requests_total{route=\"notes_get\","
	    "status=\"200\"} 2");
	has_line(t, "bulwark_http_requests_total{route=\"notes_get\","
	    "status=\"404\"} 1");
	has_line(t, "bulwark_http_requests_total{route=\"notes_post\","
	    "status=\"201\"} 1");
	has_line(t, "bulwark_rate_limited_total{route=\"notes_post\"} 1");
	ck_assert_ptr_null(strstr(t, "status=\"99\""));
	ck_assert_ptr_null(strstr(t, "status=\"600\""));
	ck_assert_ptr_null(strstr(t, "rate_limited_total{route=\"notes_get\""));
	/* Out-of-range statuses still count in the histogram. */
	has_line(t, "bulwark_http_request_duration_seconds_count"
	    "{route=\"notes_get\"} 5");
	free(t);
	metrics_free(m);
}
END_TEST

START_TEST(histogram_buckets)
{
	struct metrics	*m = fresh();
	const char	*r = "slow";
	char		*t;

	metrics_response(r, 200, 1000);		/* le 0.001 */
	metrics_response(r, 200, 1001);		/* le 0.005 */
	metrics_response(r, 200, 10000000);	/* le 10 */
	metrics_response(r, 200, 10000001);	/* +Inf only */
	t = expose(m, 1);
	has_line(t, "# TYPE bulwark_http_request_duration_seconds histogram");
	has_line(t, "bulwark_http_request_duration_seconds_bucket"
	    "{route=\"slow\",le=\"0.001000\"} 1");
	has_line(t, "bulwark_http_request_duration_seconds_bucket"
	    "{route=\"slow\",le=\"0.005000\"} 2");
	has_line(t, "bulwark_http_request_duration_seconds_bucket"
	    "{route=\"slow\",le=\"5.000000\"} 2");
	has_line(t, "bulwark_http_request_duration_seconds_bucket"
	    "{route=\"slow\",le=\"10.000000\"} 3");
	has_line(t, "bulwark_http_request_duration_seconds_bucket"
	    "{route=\"slow\",le=\"+Inf\"} 4");
	has_line(t, "bulwark_http_request_duration_seconds_sum"
	    "{route=\"slow\"} 20.002002");
	has_line(t, "bulwark_http_request_duration_seconds_count"
	    "{route=\"slow\"} 4");
	free(t);
	metrics_free(m);
}
END_TEST

START_TEST(globals_and_workers)
{
	struct metrics	*m = fresh();
	char		*t;

	t = expose(m, 2);
	/* No backup yet: the family is declared, with no sample. */
	has_line(t, "# TYPE bulwark_backup_last_success_timestamp_seconds "
	    "gauge");
	ck_assert_ptr_null(strstr(t,
	    "\nbulwark_backup_last_success_timestamp_seconds "));
	free(t);
	metrics_auth_failure(METRICS_AUTH_MISSING);
	metrics_auth_failure(METRICS_AUTH_INVALID);
	metrics_auth_failure(METRICS_AUTH_INVALID);
	metrics_auth_failure(METRICS_AUTH_PASSWORD);
	metrics_auth_failure(METRICS_AUTH_LOCKED);
	metrics_auth_failure(METRICS_AUTH_COUNT);	/* ignored */
	metrics_lockout();
	metrics_tls_handshake(1);
	metrics_tls_handshake(1);
	metrics_tls_handshake(0);
	metrics_worker_set(0, 1, 0, 2);
	metrics_worker_set(1, 3, 4, 5);
	metrics_worker_set(2, 9, 9, 9);		/* beyond workers: not shown */
	metrics_worker_set(-1, 9, 9, 9);	/* ignored */
	metrics_worker_set(METRICS_WORKERS, 9, 9, 9);
	metrics_backup_set(1700000000);
	t = expose(m, 2);
	has_line(t, "bulwark_auth_failures_total{reason=\"missing\"} 1");
	has_line(t, "bulwark_auth_failures_total{reason=\"invalid\"} 2");
	has_line(t, "bulwark_auth_failures_total{reason=\"password\"} 1");
	has_line(t, "bulwark_auth_failures_total{reason=\"locked\"} 1");
	has_line(t, "bulwark_lockouts_total 1");
	has_line(t, "bulwark_tls_handshakes_total 2");
	has_line(t, "bulwark_tls_handshake_failures_total 1");
	has_line(t, "bulwark_db_pool_in_use{worker=\"0\"} 1");
	has_line(t, "bulwark_db_pool_in_use{worker=\"1\"} 3");
	has_line(t, "bulwark_db_pool_waiting{worker=\"1\"} 4");
	ck_assert_ptr_null(strstr(t, "worker=\"2\""));
	has_line(t, "bulwark_audit_queue_depth 7");
	has_line(t, "bulwark_backup_last_success_timestamp_seconds "
	    "1700000000");
	free(t);
	metrics_free(m);
}
END_TEST

START_TEST(without_instance)
{
	metrics_set_instance(NULL);
	metrics_response("x", 200, 1);
	metrics_rate_limited("x");
	metrics_auth_failure(METRICS_AUTH_MISSING);
	metrics_lockout();
	metrics_tls_handshake(1);
	metrics_worker_set(0, 1, 1, 1);
	metrics_backup_set(1);
	ck_assert_ptr_null(metrics_instance());
}
END_TEST

/* Counted in a child (a worker), read in the parent (the admin). */
START_TEST(shared_across_fork)
{
	struct metrics	*m = fresh();
	pid_t		 pid;
	int		 st, i;

	pid = fork();
	ck_assert_int_ne(pid, -1);
	if (pid == 0) {
		for (i = 0; i < 1000; i++)
			metrics_response("forked", 200, 10);
		_exit(0);
	}
	for (i = 0; i < 1000; i++)
		metrics_response("forked", 200, 10);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_uint_eq(metrics_count(m, "forked", 200), 2000);
	metrics_free(m);
}
END_TEST

/*
 * Every slot taken: further names count as "", once logged.  More names
 * than the worker's cache holds are still counted (looked up each time).
 */
#define NNAMES	5000
START_TEST(table_full)
{
	struct metrics	*m = fresh();
	static char	 names[NNAMES][16];
	char		*t;
	size_t		 i;

	for (i = 0; i < NNAMES; i++) {
		(void)snprintf(names[i], sizeof(names[i]), "r%zu", i);
		metrics_response(names[i], 200, 1);
	}
	metrics_response(names[0], 200, 1);
	metrics_response(names[NNAMES - 1], 200, 1);
	ck_assert_uint_eq(metrics_count(m, "r0", 200), 2);
	ck_assert_uint_eq(metrics_count(m, "r2046", 200), 1);
	ck_assert_uint_eq(metrics_count(m, "r2047", 200), 0);
	ck_assert_uint_eq(metrics_count(m, "", 200), NNAMES - 2047 + 1);
	t = expose(m, 1);
	has_line(t, "bulwark_http_requests_total{route=\"\",status=\"200\"} "
	    "2954");
	free(t);
	metrics_free(m);
}
END_TEST

/* A name that is not a route name never reaches a label. */
START_TEST(invalid_names_skipped)
{
	struct metrics	*m = fresh();
	char		*t;
	char		 longname[METRICS_NAME_MAX + 8];

	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	metrics_response("Bearer abc", 200, 1);
	metrics_response("/notes/1", 200, 1);
	metrics_response("a\"b", 200, 1);
	metrics_response("9lives", 200, 1);
	metrics_response(longname, 200, 1);
	metrics_response("ok_1", 200, 1);
	t = expose(m, 1);
	ck_assert_ptr_null(strstr(t, "Bearer"));
	ck_assert_ptr_null(strstr(t, "/notes"));
	ck_assert_ptr_null(strstr(t, "a\\\""));
	ck_assert_ptr_null(strstr(t, "a\""));
	ck_assert_ptr_null(strstr(t, "9lives"));
	ck_assert_ptr_null(strstr(t, "aaaaaaaa"));
	has_line(t, "bulwark_http_requests_total{route=\"\",status=\"200\"} 1");
	has_line(t, "bulwark_http_requests_total{route=\"ok_1\","
	    "status=\"200\"} 1");
	free(t);
	metrics_free(m);
}
END_TEST

/* /metrics through the admin listener's response function. */
START_TEST(admin_metrics_page)
{
	struct metrics		*m = fresh();
	struct admin_view	 v;
	struct evbuffer		*out = evbuffer_new();
	const char		*req = "GET /metrics HTTP/1.1\r\n"
	    "Host: localhost\r\n\r\n";
	char			*s;
	size_t			 n;

	memset(&v, 0, sizeof(v));
	(void)snprintf(v.host, sizeof(v.host), "127.0.0.1");
	(void)snprintf(v.port, sizeof(v.port), "9090");
	v.metrics = m;
	v.workers = 1;
	metrics_response("page", 200, 5);
	ck_assert_int_eq(admin_respond(req, strlen(req), &v, out), 1);
	n = evbuffer_get_length(out);
	s = malloc(n + 1);
	evbuffer_remove(out, s, n);
	s[n] = '\0';
	ck_assert(strncmp(s, "HTTP/1.1 200 OK\r\n", 17) == 0);
	ck_assert_ptr_nonnull(strstr(s, "\r\nContent-Type: text/plain; "
	    "version=0.0.4; charset=utf-8\r\n"));
	ck_assert_ptr_nonnull(strstr(s, "\nbulwark_http_requests_total"
	    "{route=\"page\",status=\"200\"} 1\n"));
	free(s);
	req = "POST /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n";
	ck_assert_int_eq(admin_respond(req, strlen(req), &v, out), 1);
	n = evbuffer_get_length(out);
	s = malloc(n + 1);
	evbuffer_remove(out, s, n);
	s[n] = '\0';
	ck_assert(strncmp(s, "HTTP/1.1 405 ", 13) == 0);
	free(s);
	req = "GET /metrics HTTP/1.1\r\nHost: evil.example\r\n\r\n";
	ck_assert_int_eq(admin_respond(req, strlen(req), &v, out), 1);
	n = evbuffer_get_length(out);
	s = malloc(n + 1);
	evbuffer_remove(out, s, n);
	s[n] = '\0';
	ck_assert(strncmp(s, "HTTP/1.1 403 ", 13) == 0);
	ck_assert_ptr_null(strstr(s, "bulwark_http"));
	free(s);
	evbuffer_free(out);
	metrics_free(m);
}
END_TEST

Suite *
unit_suite(void)
{
	Suite	*s = suite_create("metrics");
	TCase	*tc = tcase_create("metrics");

	tcase_set_timeout(tc, UNIT_TIMEOUT);
	tcase_add_test(tc, counts_by_route_and_status);
	tcase_add_test(tc, histogram_buckets);
	tcase_add_test(tc, globals_and_workers);
	tcase_add_test(tc, without_instance);
	tcase_add_test(tc, shared_across_fork);
	tcase_add_test(tc, table_full);
	tcase_add_test(tc, invalid_names_skipped);
	tcase_add_test(tc, admin_metrics_page);
	suite_add_tcase(s, tc);
	return s;
}
