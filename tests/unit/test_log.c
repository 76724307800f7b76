/*
 * test_log.c - access-log formatting, escaping and bounds; log levels.
 */
#include <fcntl.h>
#include <signal.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"
#include "unit.h"
#include "util.h"

static json_t *
format_and_parse(const struct access_rec *r, char *buf, size_t bufsz)
{
	json_error_t	 jerr;
	size_t		 n;

	n = log_access_format(r, "2026-01-01T00:00:00.000000Z", buf, bufsz);
	ck_assert_uint_gt(n, 0);
	ck_assert_int_eq(buf[n - 1], '\n');
	return json_loadb(buf, n, JSON_REJECT_DUPLICATES, &jerr);
}

START_TEST(access_fields)
{
	struct access_rec r = {
		.request_id = "0123456789abcdef0123456789abcdef",
		.ip = "127.0.0.1", .method = "GET", .route = "get_note",
		.path = "/notes/1?secret=x", .path_len = 8, .status = 200,
		.bytes = 123, .duration_us = 456, .user = NULL,
	};
	char	 buf[8192];
	json_t	*j;

	j = format_and_parse(&r, buf, sizeof(buf));
	ck_assert_ptr_nonnull(j);
	ck_assert_uint_eq(json_object_size(j), 10);
	ck_assert_str_eq(json_string_value(json_object_get(j, "path")),
	    "/notes/1");
	ck_assert_str_eq(json_string_value(json_object_get(j, "route")),
	    "get_note");
	ck_assert_int_eq(json_integer_value(json_object_get(j, "status")),
	    200);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "bytes")),
	    123);
	ck_assert_int_eq(json_integer_value(json_object_get(j,
	    "duration_us")), 456);
	ck_assert(json_is_null(json_object_get(j, "user")));
	ck_assert_ptr_null(strstr(buf, "secret"));
	json_decref(j);
}
END_TEST

START_TEST(access_escaping)
{
	struct access_rec r = {
		.request_id = "id", .ip = "::1", .method = "GET",
		.path = "/a\"b\\c\n\x01\xff", .path_len = 9, .status = 400,
		.user = "caf\xc3\xa9",
	};
	char	 buf[8192];
	json_t	*j;

	j = format_and_parse(&r, buf, sizeof(buf));
	ck_assert_ptr_nonnull(j);
	/* Invalid UTF-8 becomes U+FFFD (jsonw); valid UTF-8 is kept. */
	ck_assert_str_eq(json_string_value(json_object_get(j, "path")),
	    "/a\"b\\c\n\x01\xef\xbf\xbd");
	ck_assert_str_eq(json_string_value(json_object_get(j, "user")),
	    "caf\xc3\xa9");
	json_decref(j);
}
END_TEST

START_TEST(access_truncated)
{
	struct access_rec r = { .method = "GET", .status = 200 };
	char	*path, buf[8192];
	json_t	*j;

	path = malloc(5000);
	memset(path, 'p', 5000);
	r.path = path;
	r.path_len = 5000;
	j = format_and_parse(&r, buf, sizeof(buf));
	ck_assert_ptr_nonnull(j);
	ck_assert_uint_eq(strlen(json_string_value(json_object_get(j,
	    "path"))), 1024);
	json_decref(j);
	free(path);
}
END_TEST

START_TEST(access_small_buffer)
{
	struct access_rec r = { .method = "GET", .path = "/x", .path_len = 2 };
	char	 buf[16];
	size_t	 n;

	n = log_access_format(&r, "t", buf, sizeof(buf));
	ck_assert_uint_lt(n, sizeof(buf));
	ck_assert_int_eq(buf[n], '\0');
}
END_TEST

START_TEST(access_file_reopen)
{
	char		 dir[] = "/tmp/bw-log-XXXXXX", path[64], moved[80];
	char		 buf[4096];
	struct access_rec r = { .method = "GET", .path = "/x", .path_len = 2,
	    .status = 204 };
	ssize_t		 n;
	int		 fd;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/access.log", dir);
	snprintf(moved, sizeof(moved), "%s/access.log.1", dir);
	ck_assert_int_eq(log_access_open(path), 0);
	log_access(&r);
	ck_assert_int_eq(rename(path, moved), 0);
	ck_assert_int_eq(log_access_reopen(), 0);
	log_access(&r);
	fd = open(path, O_RDONLY);
	ck_assert_int_ge(fd, 0);
	n = read(fd, buf, sizeof(buf) - 1);
	ck_assert_int_gt(n, 0);
	buf[n] = '\0';
	/* Only the line written after the reopen is in the new file. */
	ck_assert_ptr_nonnull(strstr(buf, "\"status\":204"));
	ck_assert_ptr_eq(strchr(buf, '\n'), buf + n - 1);
	close(fd);
	ck_assert_int_eq(log_access_open("off"), 0);
	unlink(path);
	unlink(moved);
	rmdir(dir);
}
END_TEST

START_TEST(access_numbers)
{
	struct access_rec r = { .method = "GET", .path = "/x", .path_len = 2,
	    .status = -1, .bytes = UINT64_MAX, .duration_us = 7 };
	char	 buf[1024];
	size_t	 n;

	/* No time stamp and a status that is not one: both null. */
	n = log_access_format(&r, NULL, buf, sizeof(buf));
	ck_assert_uint_gt(n, 0);
	ck_assert_ptr_nonnull(strstr(buf, "{\"time\":null,"));
	ck_assert_ptr_nonnull(strstr(buf, ",\"status\":null,"));
	ck_assert_ptr_nonnull(strstr(buf,
	    ",\"bytes\":18446744073709551615,\"duration_us\":7,"));
	ck_assert_int_eq(buf[n - 1], '\n');
	ck_assert_int_eq(buf[n], '\0');
}
END_TEST

/* Runs fn with stderr redirected to a file; returns what it wrote. */
static size_t
capture_stderr(void (*fn)(void), char *buf, size_t bufsz)
{
	char	 path[] = "/tmp/bw-log-stderr-XXXXXX";
	ssize_t	 n;
	int	 fd, saved;

	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	unlink(path);
	saved = dup(STDERR_FILENO);
	ck_assert_int_ge(saved, 0);
	ck_assert_int_eq(dup2(fd, STDERR_FILENO), STDERR_FILENO);
	fn();
	ck_assert_int_eq(dup2(saved, STDERR_FILENO), STDERR_FILENO);
	close(saved);
	n = pread(fd, buf, bufsz - 1, 0);
	close(fd);
	ck_assert_int_ge(n, 0);
	buf[n] = '\0';
	return (size_t)n;
}

static void
log_long_message(void)
{
	char	 msg[3000];

	memset(msg, 'm', sizeof(msg) - 1);
	msg[sizeof(msg) - 1] = '\0';
	log_warnx("%s", msg);
}

START_TEST(message_cut)
{
	char	 buf[4096];
	size_t	 n;

	n = capture_stderr(log_long_message, buf, sizeof(buf));
	/* One line, its 1024-byte message cut visibly. */
	ck_assert_uint_gt(n, 1024);
	ck_assert_uint_lt(n, 1200);
	ck_assert_ptr_eq(strchr(buf, '\n'), buf + n - 1);
	ck_assert_ptr_nonnull(strstr(buf, ": warning: mmm"));
	ck_assert_str_eq(buf + n - 5, "m...\n");
}
END_TEST

/* A JSON diagnostics line: its members, and hostile text kept in one line. */
START_TEST(error_json_format)
{
	char		 buf[8192];
	json_error_t	 jerr;
	json_t		*j;
	size_t		 n;

	log_set_procname("worker 1");
	n = log_error_format(LOG_LVL_WARNING, "bad \"x\"\n{\"level\":1}\xff",
	    "2026-01-01T00:00:00.000000Z", buf, sizeof(buf));
	ck_assert_int_eq(buf[n - 1], '\n');
	ck_assert_ptr_eq(strchr(buf, '\n'), buf + n - 1);
	j = json_loadb(buf, n, JSON_REJECT_DUPLICATES, &jerr);
	ck_assert_ptr_nonnull(j);
	ck_assert_uint_eq(json_object_size(j), 5);
	ck_assert_str_eq(json_string_value(json_object_get(j, "time")),
	    "2026-01-01T00:00:00.000000Z");
	ck_assert_str_eq(json_string_value(json_object_get(j, "level")),
	    "warning");
	ck_assert_str_eq(json_string_value(json_object_get(j, "process")),
	    "worker 1");
	ck_assert_int_eq(json_integer_value(json_object_get(j, "pid")),
	    getpid());
	ck_assert_str_eq(json_string_value(json_object_get(j, "message")),
	    "bad \"x\"\n{\"level\":1}\xef\xbf\xbd");
	json_decref(j);
	/* No clock: "time":null; a small buffer is never overrun. */
	n = log_error_format(LOG_LVL_ERROR, "m", NULL, buf, sizeof(buf));
	ck_assert_ptr_nonnull(strstr(buf,
	    "{\"time\":null,\"level\":\"error\""));
	n = log_error_format(LOG_LVL_ERROR, "message", NULL, buf, 20);
	ck_assert_uint_lt(n, 20);
	ck_assert_int_eq(buf[n], '\0');
	log_set_procname("bulwarkd");
}
END_TEST

static void
log_hostile_message(void)
{
	log_set_format(LOG_FMT_JSON);
	log_warnx("user %s refused", "a\nbulwarkd[1] master: error: forged");
	log_debug("below the level: not written");
	log_set_format(LOG_FMT_PLAIN);
	log_notice("plain again");
}

/* log_set_format(JSON) turns every diagnostics line into one JSON object. */
START_TEST(error_json_lines)
{
	char		 buf[4096], *nl;
	json_error_t	 jerr;
	json_t		*j;
	size_t		 n;

	n = capture_stderr(log_hostile_message, buf, sizeof(buf));
	nl = strchr(buf, '\n');
	ck_assert_ptr_nonnull(nl);
	j = json_loadb(buf, (size_t)(nl - buf), 0, &jerr);
	ck_assert_ptr_nonnull(j);
	ck_assert_str_eq(json_string_value(json_object_get(j, "message")),
	    "user a\nbulwarkd[1] master: error: forged refused");
	ck_assert_str_eq(json_string_value(json_object_get(j, "level")),
	    "warning");
	json_decref(j);
	/* The second line is the plain one; nothing else was written. */
	ck_assert_ptr_nonnull(strstr(nl + 1, ": notice: plain again\n"));
	ck_assert_ptr_eq(strchr(nl + 1, '\n'), buf + n - 1);
	ck_assert_ptr_null(strstr(buf, "below the level"));
}
END_TEST

static void
log_sig_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
}

/* Two bases holding signals: libevent warns, through the log. */
static void
log_libevent_warning(void)
{
	struct event_base	*a, *b;
	struct event		*ea, *eb;

	log_init("test", LOG_LVL_INFO);
	log_set_format(LOG_FMT_JSON);
	a = event_base_new();
	b = event_base_new();
	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(b);
	ea = evsignal_new(a, SIGUSR2, log_sig_cb, NULL);
	eb = evsignal_new(b, SIGWINCH, log_sig_cb, NULL);
	ck_assert_int_eq(event_add(ea, NULL), 0);
	ck_assert_int_eq(event_add(eb, NULL), 0);
	event_free(eb);
	event_free(ea);
	event_base_free(b);
	event_base_free(a);
	log_set_format(LOG_FMT_PLAIN);
	log_set_procname("bulwarkd");
}

START_TEST(libevent_messages)
{
	char		 buf[4096];
	json_error_t	 jerr;
	json_t		*j;
	const char	*msg;
	size_t		 n;

	n = capture_stderr(log_libevent_warning, buf, sizeof(buf));
	/* One line, a JSON object of this log, not libevent's raw text. */
	ck_assert_uint_gt(n, 0);
	ck_assert_ptr_eq(strchr(buf, '\n'), buf + n - 1);
	j = json_loadb(buf, n, 0, &jerr);
	ck_assert_ptr_nonnull(j);
	ck_assert_str_eq(json_string_value(json_object_get(j, "level")),
	    "warning");
	ck_assert_str_eq(json_string_value(json_object_get(j, "process")),
	    "test");
	msg = json_string_value(json_object_get(j, "message"));
	ck_assert_ptr_nonnull(msg);
	ck_assert_ptr_nonnull(strstr(msg, "libevent: Added a signal"));
	json_decref(j);
}
END_TEST

START_TEST(formats)
{
	enum log_format	 f;

	ck_assert_int_eq(log_format_parse("json", &f), 0);
	ck_assert_int_eq(f, LOG_FMT_JSON);
	ck_assert_int_eq(log_format_parse("plain", &f), 0);
	ck_assert_int_eq(f, LOG_FMT_PLAIN);
	ck_assert_int_eq(log_format_parse("JSON", &f), -1);
}
END_TEST

START_TEST(levels)
{
	enum log_level	 l;

	ck_assert_int_eq(log_level_parse("warning", &l), 0);
	ck_assert_int_eq(l, LOG_LVL_WARNING);
	ck_assert_str_eq(log_level_name(LOG_LVL_NOTICE), "notice");
	ck_assert_int_eq(log_level_parse("warn", &l), -1);
	ck_assert_int_eq(log_level_parse("", &l), -1);
}
END_TEST

Suite *
unit_suite(void)
{
	Suite	*s = suite_create("log");
	TCase	*tc = tcase_create("log");

	tcase_set_timeout(tc, UNIT_TIMEOUT);
	tcase_add_test(tc, access_fields);
	tcase_add_test(tc, access_escaping);
	tcase_add_test(tc, access_truncated);
	tcase_add_test(tc, access_small_buffer);
	tcase_add_test(tc, access_file_reopen);
	tcase_add_test(tc, access_numbers);
	tcase_add_test(tc, message_cut);
	tcase_add_test(tc, error_json_format);
	tcase_add_test(tc, error_json_lines);
	tcase_add_test(tc, libevent_messages);
	tcase_add_test(tc, formats);
	tcase_add_test(tc, levels);
	suite_add_tcase(s, tc);
	return s;
}
