/*
 * test_audit.c - the audit record (member order, MAC, escaping, bounds),
 * the appender (group commit, torn last line, rotation, lock, removed
 * file) and the chain verifier's classification of each kind of break.
 */
#include <sys/file.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <seccomp.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "unit.h"
#include "audit.h"
#include "audit_client.h"
#include "audit_file.h"
#include "audit_msg.h"
#include "audit_verify.h"
#include "audit_writer.h"
#include "conf.h"
#include "util.h"

static char		 dir[64];
static char		 path[128];
static struct audit_key	 key;

static void
setup(void)
{
	size_t	 i;

	unit_tmpdir(dir, sizeof(dir), "test_audit");
	(void)snprintf(path, sizeof(path), "%s/audit.log", dir);
	for (i = 0; i < 32; i++)
		key.k[i] = (unsigned char)(i + 1);
	key.len = 32;
}

static void
teardown(void)
{
	unit_rmtree(dir);
}

/* The record line of ev after chain, as a C string (caller frees). */
static char *
record(const struct audit_event *ev, struct audit_chain *chain)
{
	struct evbuffer	*b = evbuffer_new();
	size_t		 len;
	char		*s;

	ck_assert_int_eq(audit_record(b, ev, "inst-1", chain, &key), 0);
	len = evbuffer_get_length(b);
	s = malloc(len + 1);
	ck_assert_int_eq(evbuffer_remove(b, s, len), (int)len);
	s[len] = '\0';
	evbuffer_free(b);
	return s;
}

static void
expect_mac(const char *line, const unsigned char *prev,
    unsigned char *mac_out)
{
	unsigned char	 in[AUDIT_LINE_MAX], mac[32];
	unsigned int	 maclen = 32;
	char		 hex[65];
	const char	*m = strstr(line, ",\"mac\":\"");
	size_t		 n;

	ck_assert_ptr_nonnull(m);
	n = (size_t)(m - line);
	memcpy(in, prev, 32);
	memcpy(in + 32, line, n);
	ck_assert_ptr_nonnull(HMAC(EVP_sha256(), key.k, 32, in, n + 32, mac,
	    &maclen));
	bw_hex_encode(mac, 32, hex);
	ck_assert_int_eq(strncmp(m + 8, hex, 64), 0);
	ck_assert_str_eq(m + 8 + 64, "\"}\n");
	if (mac_out != NULL)
		memcpy(mac_out, mac, 32);
}

START_TEST(test_record_format)
{
	static const unsigned char zero[32];
	struct audit_chain	 chain = { 0 };
	json_t			*detail = json_pack("{s:s,s:i}", "title", "x",
				    "n", 3);
	struct audit_event	 ev = {
		.event = "request", .request_id = "r1", .user = "alice",
		.ip = "127.0.0.1", .api_key = "abcdefgh", .route = "notes",
		.method = "POST", .path = "/notes", .status = 201,
		.detail = detail, .time_us = 1796596530123456LL,
	};
	unsigned char	 mac1[32];
	const char	*exp;
	char		*a, *b, hex[65];

	a = record(&(struct audit_event){ .event = AUDIT_EVENT_GENESIS,
	    .time_us = 1796596530000001LL }, &chain);
	exp = "{\"seq\":1,\"time\":\"2026-12-06T22:35:30."
	    "000001Z\",\"instance\":\"inst-1\",\"event\":\"audit.genesis\","
	    "\"request_id\":null,\"actor\":{\"user\":null,\"ip\":null,"
	    "\"api_key\":null},\"route\":null,\"method\":null,\"path\":null,"
	    "\"status\":null,\"detail\":{},\"prev\":\"000000000000000000000000"
	    "0000000000000000000000000000000000000000\",\"mac\":\"";
	ck_assert_int_eq(strncmp(a, exp, strlen(exp)), 0);
	expect_mac(a, zero, mac1);
	ck_assert_int_eq(chain.seq, 1);
	ck_assert_mem_eq(chain.mac, mac1, 32);

	b = record(&ev, &chain);
	bw_hex_encode(mac1, 32, hex);
	exp = "{\"seq\":2,\"time\":\"2026-12-06T22:35:30."
	    "123456Z\",\"instance\":\"inst-1\",\"event\":\"request\","
	    "\"request_id\":\"r1\",\"actor\":{\"user\":\"alice\",\"ip\":"
	    "\"127.0.0.1\",\"api_key\":\"abcdefgh\"},\"route\":\"notes\","
	    "\"method\":\"POST\",\"path\":\"/notes\",\"status\":201,\"detail\":"
	    "{\"title\":\"x\",\"n\":3},\"prev\":\"";
	ck_assert_int_eq(strncmp(b, exp, strlen(exp)), 0);
	ck_assert_int_eq(strncmp(b + strlen(exp), hex, 64), 0);
	expect_mac(b, mac1, NULL);
	ck_assert_int_eq(chain.seq, 2);
	free(a);
	free(b);
	json_decref(detail);
}
END_TEST

START_TEST(test_escaping)
{
	struct audit_chain	 chain = { 0 };
	const char		*nasty = "a\"b\\c\nd\re\x01\x7f\xe2\x80\xa8"
				    "\",\"mac\":\"00\"}";
	json_t			*detail = json_pack("{s:s}", "k\n\"", nasty);
	struct audit_event	 ev = { .event = "request", .user = nasty,
				    .path = nasty, .detail = detail };
	json_t			*o;
	char			*line;
	size_t			 len;

	line = record(&ev, &chain);
	len = strlen(line);
	ck_assert_ptr_null(memchr(line, '\n', len - 1));
	ck_assert_ptr_null(memchr(line, '\r', len));
	ck_assert_ptr_null(memchr(line, '\x01', len));
	ck_assert_ptr_null(strstr(line, "\xe2\x80\xa8"));
	o = json_loads(line, 0, NULL);
	ck_assert_ptr_nonnull(o);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(o,
	    "actor"), "user")), nasty);
	ck_assert_str_eq(json_string_value(json_object_get(o, "path")), nasty);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(o,
	    "detail"), "k\n\"")), nasty);
	expect_mac(line, (const unsigned char[32]){ 0 }, NULL);
	json_decref(o);
	json_decref(detail);
	free(line);
}
END_TEST

START_TEST(test_string_bound)
{
	struct audit_chain	 chain = { 0 };
	char			 big[2000], utf[1026];
	struct audit_event	 ev = { .event = "request", .user = big,
				    .path = utf };
	json_t			*o;
	char			*line;

	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	/* 1023 bytes, then a two-byte code point that does not fit. */
	memset(utf, 'b', 1023);
	memcpy(utf + 1023, "\xc3\xa9", 3);
	line = record(&ev, &chain);
	o = json_loads(line, 0, NULL);
	ck_assert_ptr_nonnull(o);
	ck_assert_uint_eq(strlen(json_string_value(json_object_get(
	    json_object_get(o, "actor"), "user"))), AUDIT_STR_MAX);
	ck_assert_uint_eq(strlen(json_string_value(json_object_get(o,
	    "path"))), 1023);
	json_decref(o);
	free(line);
}
END_TEST

START_TEST(test_detail_bounds)
{
	struct audit_chain	 chain = { 0 };
	json_t			*deep = json_string("leaf"), *big, *o, *d;
	struct audit_event	 ev = { .event = "request" };
	char			*line, k[16];
	int			 i;

	for (i = 0; i < AUDIT_DETAIL_DEPTH + 2; i++)
		deep = json_pack("{s:o}", "d", deep);
	ev.detail = deep;
	line = record(&ev, &chain);
	ck_assert_ptr_null(strstr(line, "leaf"));
	o = json_loads(line, 0, NULL);
	for (d = json_object_get(o, "detail"), i = 1; json_is_object(d); i++)
		d = json_object_get(d, "d");
	ck_assert(json_is_null(d));
	ck_assert_int_eq(i, AUDIT_DETAIL_DEPTH + 1);
	json_decref(o);
	free(line);

	big = json_object();
	for (i = 0; i < 40; i++) {
		(void)snprintf(k, sizeof(k), "k%d", i);
		line = malloc(1001);
		memset(line, 'x', 1000);
		line[1000] = '\0';
		json_object_set_new(big, k, json_string(line));
		free(line);
	}
	ev.detail = big;
	line = record(&ev, &chain);
	ck_assert_ptr_nonnull(strstr(line, "\"detail\":{\"truncated\":true},"));
	free(line);
	json_decref(big);
	json_decref(deep);
}
END_TEST

START_TEST(test_line_ends)
{
	struct audit_chain	 chain = { 0 };
	struct audit_event	 ev = { .event = "x" };
	unsigned char		 mac[32];
	uint64_t		 seq;
	char			*line, bad[512];
	size_t			 len;

	line = record(&ev, &chain);
	len = strlen(line) - 1;
	ck_assert_int_eq(audit_line_ends(line, len, &seq, mac), 0);
	ck_assert_uint_eq(seq, 1);
	ck_assert_mem_eq(mac, chain.mac, 32);
	ck_assert_int_eq(audit_line_ends(line, len - 1, &seq, mac), -1);
	memcpy(bad, line, len);
	bad[len - 3] = 'A';		/* uppercase hex */
	ck_assert_int_eq(audit_line_ends(bad, len, &seq, mac), -1);
	memcpy(bad, line, len);
	bad[7] = '0';			/* seq 0 */
	ck_assert_int_eq(audit_line_ends(bad, len, &seq, mac), -1);
	ck_assert_int_eq(audit_line_ends("{\"seq\":01,", 10, &seq, mac), -1);
	free(line);
}
END_TEST

/*
 * The row of an audited write's record is read back from its line, only
 * from a whole record under this key; a detail that ends with a "row"
 * member of its own names none.
 */
START_TEST(test_line_row)
{
	struct audit_chain	 chain = { 0 };
	json_t			*detail = json_pack("{s:i}", "row", 5);
	struct audit_key	 other = key;
	uint64_t		 seq;
	int64_t			 row;
	char			*a, *b, *c;
	size_t			 la, lb, lc;

	a = record(&(struct audit_event){ .event = "request", .row = 77 },
	    &chain);
	b = record(&(struct audit_event){ .event = "request",
	    .detail = detail }, &chain);
	c = record(&(struct audit_event){ .event = "auth.logout" }, &chain);
	ck_assert_ptr_nonnull(strstr(a, ",\"detail\":{},\"row\":77,\"prev\":"));
	la = strlen(a) - 1;
	lb = strlen(b) - 1;
	lc = strlen(c) - 1;
	ck_assert_int_eq(audit_line_row(a, la, &key, &seq, &row), 1);
	ck_assert_uint_eq(seq, 1);
	ck_assert_int_eq(row, 77);
	ck_assert_int_eq(audit_line_row(b, lb, &key, &seq, &row), 0);
	ck_assert_uint_eq(seq, 2);
	ck_assert_int_eq(row, 0);
	ck_assert_int_eq(audit_line_row(c, lc, &key, &seq, &row), 0);
	ck_assert_uint_eq(seq, 3);
	/* A changed row, another key, a cut line: not a record of ours. */
	a[strstr(a, ":77,") - a + 2] = '8';
	ck_assert_int_eq(audit_line_row(a, la, &key, &seq, &row), -1);
	other.k[0] ^= 1;
	ck_assert_int_eq(audit_line_row(c, lc, &other, &seq, &row), -1);
	ck_assert_int_eq(audit_line_row(c, lc - 1, &key, &seq, &row), -1);
	ck_assert_int_eq(audit_line_row(c, 0, &key, &seq, &row), -1);
	free(a);
	free(b);
	free(c);
	json_decref(detail);
}
END_TEST

START_TEST(test_time)
{
	char	 t[AUDIT_TIME_LEN];

	audit_time(0, t);
	ck_assert_str_eq(t, "1970-01-01T00:00:00.000000Z");
	audit_time(1796596530999999LL, t);
	ck_assert_str_eq(t, "2026-12-06T22:35:30.999999Z");
}
END_TEST

START_TEST(test_instance)
{
	struct conf		 cf;
	struct conf_audit	 au;
	char			 buf[AUDIT_INSTANCE_MAX + 1], mid[160];
	const char		*err;
	int			 fd;

	memset(&cf, 0, sizeof(cf));
	memset(&au, 0, sizeof(au));
	cf.audit = &au;
	(void)snprintf(mid, sizeof(mid), "%s/machine-id", dir);
	fd = open(mid, O_WRONLY | O_CREAT, 0644);
	ck_assert_int_eq(write(fd, "0123456789abcdef0123456789abcdef\n", 33),
	    33);
	close(fd);
	ck_assert_int_eq(audit_instance(&cf, mid, buf, sizeof(buf), &err), 0);
	ck_assert_str_eq(buf, "0123456789abcdef");
	au.instance_id = "node-a";
	ck_assert_int_eq(audit_instance(&cf, mid, buf, sizeof(buf), &err), 0);
	ck_assert_str_eq(buf, "node-a");
	au.instance_id = NULL;
	fd = open(mid, O_WRONLY | O_TRUNC);
	ck_assert_int_eq(write(fd, "XYZ", 3), 3);
	close(fd);
	ck_assert_int_eq(audit_instance(&cf, mid, buf, sizeof(buf), &err), -1);
}
END_TEST

/* A key file of n bytes loaded through the configuration. */
static int
load_key_of(size_t n, struct audit_key *k)
{
	struct conf		 cf;
	struct conf_audit	 au;
	unsigned char		 bytes[100];
	char			 kp[160];
	const char		*err;
	int			 fd, rv;

	memset(&cf, 0, sizeof(cf));
	memset(&au, 0, sizeof(au));
	memset(bytes, 7, sizeof(bytes));
	cf.audit = &au;
	cf.server.user = "nobody";
	(void)snprintf(kp, sizeof(kp), "%s/key.%zu", dir, n);
	fd = open(kp, O_WRONLY | O_CREAT | O_EXCL, 0600);
	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(write(fd, bytes, n), (ssize_t)n);
	close(fd);
	au.key_file = kp;
	rv = audit_key_load(&cf, k, &err);
	return rv;
}

START_TEST(test_key_bounds)
{
	struct audit_key	 k;

	if (geteuid() != 0)
		return;		/* the key file must belong to root */
	ck_assert_int_eq(load_key_of(31, &k), -1);
	ck_assert_int_eq(load_key_of(32, &k), 0);
	ck_assert_uint_eq(k.len, 32);
	ck_assert_int_eq(load_key_of(64, &k), 0);
	ck_assert_uint_eq(k.len, 64);
	ck_assert_int_eq(load_key_of(65, &k), -1);
	ck_assert_uint_eq(k.len, 0);
}
END_TEST

/*
 * The appender
 */

static void
append(struct audit_file *f, const char *event)
{
	struct audit_event	 ev = { .event = event };
	const char		*err;

	ck_assert_msg(audit_file_append(f, &ev, "inst-1", &key, &err) == 0,
	    "%s", err);
}

static size_t
file_size(const char *p)
{
	struct stat	 st;

	ck_assert_int_eq(stat(p, &st), 0);
	return (size_t)st.st_size;
}

static char *
slurp(const char *p)
{
	size_t	 n = file_size(p);
	char	*s = calloc(1, n + 1);
	int	 fd = open(p, O_RDONLY);

	ck_assert_int_eq(read(fd, s, n), (ssize_t)n);
	close(fd);
	return s;
}

START_TEST(test_group_commit)
{
	struct audit_file	 f = { .fd = -1 };
	struct stat		 st;
	const char		*err;
	char			*s;

	ck_assert_int_eq(audit_file_open(&f, path, 0, NULL, &err), 0);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	ck_assert(!f.known);
	append(&f, "one");
	append(&f, "two");
	append(&f, "three");
	ck_assert_uint_eq(f.chain.seq, 4);	/* genesis first */
	ck_assert_uint_eq(f.nsyncs, 0);
	ck_assert(audit_file_sync_due(&f, 0, f.synced_ms));
	ck_assert(!audit_file_sync_due(&f, 1000, f.synced_ms + 999));
	ck_assert(audit_file_sync_due(&f, 1000, f.synced_ms + 1000));
	/* One sync covers every record waiting. */
	ck_assert_int_eq(audit_file_sync(&f, &err), 0);
	ck_assert_uint_eq(f.nsyncs, 1);
	ck_assert_int_eq(audit_file_sync(&f, &err), 0);
	ck_assert_uint_eq(f.nsyncs, 1);
	ck_assert(!audit_file_sync_due(&f, 0, f.synced_ms + 5000));
	s = slurp(path);
	ck_assert_ptr_nonnull(strstr(s, "\"event\":\"audit.genesis\""));
	ck_assert_ptr_nonnull(strstr(s, "\"seq\":4,"));
	free(s);
	audit_file_close(&f);
}
END_TEST

/* What scan_line saw, last line first. */
static uint64_t	 scanned[4096];
static size_t	 nscanned;
static uint64_t	 scan_stop_at;

static int
scan_line(void *arg, const char *line, size_t len)
{
	unsigned char	 mac[32];
	uint64_t	 seq;

	(void)arg;
	ck_assert_int_eq(audit_line_ends(line, len, &seq, mac), 0);
	ck_assert_uint_lt(nscanned, BW_ARRAY_LEN(scanned));
	scanned[nscanned++] = seq;
	return seq == scan_stop_at ? 1 : 0;
}

/*
 * Lines from the last backwards, across the reads' chunk boundaries, each
 * once; the callback stops it; a line longer than any record fails.
 */
START_TEST(test_scan_back)
{
	struct audit_file	 f = { .fd = -1 };
	json_t			*detail;
	const char		*err;
	char			*pad;
	size_t			 i, n;
	int			 fd;

	pad = malloc(3000);
	memset(pad, 'p', 2999);
	pad[2999] = '\0';
	detail = json_pack("{s:s}", "pad", pad);
	ck_assert_int_eq(audit_file_open(&f, path, 0, NULL, &err), 0);
	nscanned = 0;
	ck_assert_int_eq(audit_file_scan_back(&f, scan_line, NULL, &err), 0);
	ck_assert_uint_eq(nscanned, 0);
	for (i = 0; i < 1000; i++)
		ck_assert_int_eq(audit_file_append(&f, &(struct audit_event){
		    .event = "e", .detail = i % 2 == 0 ? detail : NULL },
		    "inst-1", &key, &err), 0);
	n = f.chain.seq;
	ck_assert_uint_gt(file_size(path), 2 * AUDIT_FILE_SCAN_CHUNK);
	nscanned = 0;
	scan_stop_at = 0;
	ck_assert_int_eq(audit_file_scan_back(&f, scan_line, NULL, &err), 0);
	ck_assert_uint_eq(nscanned, n);
	for (i = 0; i < n; i++)
		ck_assert_uint_eq(scanned[i], n - i);
	nscanned = 0;
	scan_stop_at = n - 9;
	ck_assert_int_eq(audit_file_scan_back(&f, scan_line, NULL, &err), 0);
	ck_assert_uint_eq(nscanned, 10);
	audit_file_close(&f);

	/* A line longer than any record, and the chunk, ahead of the end. */
	fd = open(path, O_WRONLY | O_TRUNC);
	for (i = 0; i < AUDIT_FILE_SCAN_CHUNK / 2999 + 1; i++)
		ck_assert_int_eq(write(fd, pad, 2999), 2999);
	ck_assert_int_eq(write(fd, "\n", 1), 1);
	close(fd);
	f = (struct audit_file){ .fd = -1 };
	ck_assert_int_eq(audit_file_open(&f, path, 0, NULL, &err), -1);
	audit_file_close(&f);
	fd = open(path, O_RDWR | O_APPEND);
	f = (struct audit_file){ .fd = fd };
	nscanned = 0;
	err = NULL;
	ck_assert_int_eq(audit_file_scan_back(&f, scan_line, NULL, &err), -1);
	ck_assert_str_eq(err, "a line is longer than any record");
	ck_assert_uint_eq(nscanned, 0);
	close(fd);
	json_decref(detail);
	free(pad);
}
END_TEST

START_TEST(test_torn_line_cut)
{
	struct audit_file	 f = { .fd = -1 }, g = { .fd = -1 };
	struct audit_chain	 end;
	const char		*err;
	size_t			 whole;
	int			 fd;

	ck_assert_int_eq(audit_file_open(&f, path, 0, NULL, &err), 0);
	append(&f, "one");
	end = f.chain;
	audit_file_close(&f);
	whole = file_size(path);
	fd = open(path, O_WRONLY | O_APPEND);
	ck_assert_int_eq(write(fd, "{\"seq\":3,\"time\":\"20", 20), 20);
	close(fd);
	ck_assert_int_eq(audit_file_open(&g, path, 0, NULL, &err), 0);
	ck_assert_uint_eq(file_size(path), whole);
	ck_assert(g.known);
	ck_assert_uint_eq(g.chain.seq, end.seq);
	ck_assert_mem_eq(g.chain.mac, end.mac, 32);
	append(&g, "two");
	ck_assert_uint_eq(g.chain.seq, 3);
	audit_file_close(&g);

	/* A whole last line that is no record is not cut: refused. */
	fd = open(path, O_WRONLY | O_APPEND);
	ck_assert_int_eq(write(fd, "garbage\n", 8), 8);
	close(fd);
	ck_assert_int_eq(audit_file_open(&g, path, 0, NULL, &err), -1);
	ck_assert_int_eq(errno, EINVAL);
	audit_file_close(&g);
}
END_TEST

START_TEST(test_rotation_continues)
{
	struct audit_file	 f = { .fd = -1 };
	struct audit_chain	 end;
	const char		*err;
	char			 old[160], *s;
	unsigned char		 prev[32];
	char			 hex[65];

	ck_assert_int_eq(audit_file_open(&f, path, 0, NULL, &err), 0);
	append(&f, "one");
	end = f.chain;
	(void)snprintf(old, sizeof(old), "%s.1", path);
	ck_assert_int_eq(rename(path, old), 0);
	ck_assert_int_eq(audit_file_reopen(&f, &err), 0);
	append(&f, "two");
	s = slurp(path);
	ck_assert_ptr_null(strstr(s, "audit.genesis"));
	ck_assert_int_eq(strncmp(s, "{\"seq\":3,", 9), 0);
	memcpy(prev, end.mac, 32);
	bw_hex_encode(prev, 32, hex);
	ck_assert_ptr_nonnull(strstr(s, hex));
	free(s);
	audit_file_close(&f);
}
END_TEST

START_TEST(test_fallback_head)
{
	struct audit_file	 f = { .fd = -1 };
	struct audit_chain	 head = { .seq = 41 };
	const char		*err;
	char			*s;

	memset(head.mac, 0xab, 32);
	ck_assert_int_eq(audit_file_open(&f, path, 0, &head, &err), 0);
	append(&f, "x");
	s = slurp(path);
	ck_assert_int_eq(strncmp(s, "{\"seq\":42,", 10), 0);
	ck_assert_ptr_nonnull(strstr(s, "\"prev\":\"abababab"));
	free(s);
	audit_file_close(&f);
}
END_TEST

START_TEST(test_lock_and_symlink)
{
	struct audit_file	 f = { .fd = -1 }, g = { .fd = -1 };
	const char		*err;
	char			 link[160];

	ck_assert_int_eq(audit_file_open(&f, path, 0, NULL, &err), 0);
	ck_assert_int_eq(audit_file_open(&g, path, 60, NULL, &err), -1);
	ck_assert_int_eq(errno, EWOULDBLOCK);
	audit_file_close(&g);
	audit_file_close(&f);
	(void)snprintf(link, sizeof(link), "%s/link.log", dir);
	ck_assert_int_eq(symlink(path, link), 0);
	ck_assert_int_eq(audit_file_open(&g, link, 0, NULL, &err), -1);
	audit_file_close(&g);
}
END_TEST

START_TEST(test_removed_file)
{
	struct audit_file	 f = { .fd = -1 };
	struct audit_event	 ev = { .event = "x" };
	const char		*err;

	ck_assert_int_eq(audit_file_open(&f, path, 0, NULL, &err), 0);
	append(&f, "one");
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(audit_file_append(&f, &ev, "i", &key, &err), -1);
	ck_assert_int_eq(f.err, ENOENT);
	ck_assert_uint_eq(f.chain.seq, 2);
	/* Writing works again once the file is back. */
	ck_assert_int_eq(audit_file_reopen(&f, &err), 0);
	append(&f, "two");
	ck_assert_int_eq(f.err, 0);
	ck_assert_uint_eq(f.chain.seq, 3);
	audit_file_close(&f);
}
END_TEST

/*
 * The verifier
 */

/* A log of n records (genesis included) at path. */
static void
make_log(int n)
{
	struct audit_file	 f = { .fd = -1 };
	const char		*err;
	int			 i;

	ck_assert_int_eq(audit_file_open(&f, path, 0, NULL, &err), 0);
	for (i = 1; i < n; i++)
		append(&f, "e");
	audit_file_close(&f);
}

static char	*lines[64];
static int	 nlines;

static void
split_log(void)
{
	char	*s = slurp(path), *p, *nl;

	nlines = 0;
	for (p = s; (nl = strchr(p, '\n')) != NULL; p = nl + 1)
		lines[nlines++] = strndup(p, (size_t)(nl - p + 1));
	free(s);
}

static void
write_lines(const int *order, int n, const char *tail)
{
	FILE	*fp = fopen(path, "w");
	int	 i;

	for (i = 0; i < n; i++)
		fputs(lines[order[i]], fp);
	if (tail != NULL)
		fputs(tail, fp);
	fclose(fp);
}

static int
verify(struct audit_verify_result *res)
{
	const char			*files[1] = { path };
	struct audit_verify_opts	 o = { .files = files, .nfiles = 1 };

	return audit_verify(&o, &key, res);
}

START_TEST(test_verify_classifies)
{
	struct audit_verify_result	 res;
	int				 i;

	make_log(8);
	split_log();
	ck_assert_int_eq(verify(&res), AUDIT_VERIFY_OK);
	ck_assert_uint_eq(res.records, 8);

	write_lines((const int[]){ 0, 1, 2, 4, 5, 6, 7 }, 7, NULL);
	ck_assert_int_eq(verify(&res), AUDIT_VERIFY_BROKEN);
	ck_assert_int_eq(res.reason, AUDIT_REMOVED);
	ck_assert_uint_eq(res.seq, 4);
	ck_assert_uint_eq(res.line, 4);

	write_lines((const int[]){ 0, 1, 2, 4, 3, 5, 6, 7 }, 8, NULL);
	ck_assert_int_eq(verify(&res), AUDIT_VERIFY_BROKEN);
	ck_assert_int_eq(res.reason, AUDIT_REORDERED);
	ck_assert_uint_eq(res.seq, 5);

	write_lines((const int[]){ 0, 1, 2, 3, 3, 4, 5, 6, 7 }, 9, NULL);
	ck_assert_int_eq(verify(&res), AUDIT_VERIFY_BROKEN);
	ck_assert_int_eq(res.reason, AUDIT_DUPLICATED);
	ck_assert_uint_eq(res.line, 5);

	lines[3][40] ^= 1;
	write_lines((const int[]){ 0, 1, 2, 3, 4, 5, 6, 7 }, 8, NULL);
	ck_assert_int_eq(verify(&res), AUDIT_VERIFY_BROKEN);
	ck_assert_int_eq(res.reason, AUDIT_CHANGED);
	ck_assert_uint_eq(res.line, 4);
	lines[3][40] ^= 1;

	write_lines((const int[]){ 0, 1, 2, 3, 4, 5, 6, 7 }, 8,
	    "{\"seq\":9,\"time\":");
	ck_assert_int_eq(verify(&res), AUDIT_VERIFY_TORN);
	ck_assert_int_eq(res.reason, AUDIT_TORN);
	ck_assert_uint_eq(res.records, 8);
	ck_assert_uint_eq(res.line, 9);

	write_lines((const int[]){ 3, 4, 5, 6, 7 }, 5, NULL);
	ck_assert_int_eq(verify(&res), AUDIT_VERIFY_BROKEN);
	ck_assert_int_eq(res.reason, AUDIT_REMOVED);
	ck_assert_uint_eq(res.seq, 1);
	ck_assert_uint_eq(res.seq_to, 3);
	for (i = 0; i < nlines; i++)
		free(lines[i]);
}
END_TEST

START_TEST(test_verify_inserted_and_from_seq)
{
	struct audit_verify_result	 res;
	const char			*files[1] = { path };
	struct audit_verify_opts	 o = { .files = files, .nfiles = 1,
					    .from_seq = 3 };
	char				*forged;
	int				 i;

	make_log(6);
	split_log();
	forged = strdup(lines[2]);
	forged[strlen(forged) - 5] = forged[strlen(forged) - 5] == 'a' ?
	    'b' : 'a';
	lines[nlines] = forged;
	write_lines((const int[]){ 0, 1, 6, 2, 3, 4, 5 }, 7, NULL);
	ck_assert_int_eq(verify(&res), AUDIT_VERIFY_BROKEN);
	ck_assert_int_eq(res.reason, AUDIT_INSERTED);
	ck_assert_uint_eq(res.line, 3);

	write_lines((const int[]){ 2, 3, 4, 5 }, 4, NULL);
	ck_assert_int_eq(verify(&res), AUDIT_VERIFY_BROKEN);
	ck_assert_int_eq(audit_verify(&o, &key, &res), AUDIT_VERIFY_OK);
	ck_assert_uint_eq(res.records, 4);
	ck_assert_uint_eq(res.first_seq, 3);
	for (i = 0; i <= nlines; i++)
		free(lines[i]);
}
END_TEST

START_TEST(test_verify_long_line)
{
	struct audit_verify_result	 res;
	FILE				*fp;
	size_t				 i;

	make_log(2);
	fp = fopen(path, "a");
	for (i = 0; i < AUDIT_LINE_MAX + 10; i++)
		fputc('x', fp);
	fputc('\n', fp);
	fclose(fp);
	ck_assert_int_eq(verify(&res), AUDIT_VERIFY_BROKEN);
	ck_assert_int_eq(res.reason, AUDIT_CHANGED);
	ck_assert_uint_eq(res.line, 3);
	ck_assert_uint_eq(res.records, 2);
}
END_TEST

/*
 * Messages to the writer
 */

START_TEST(test_msg_roundtrip)
{
	json_t			*detail = json_pack("{s:s}", "title", "t");
	struct audit_event	 ev = { .event = "request", .user = "u\xff",
				    .path = "/notes", .status = 201,
				    .detail = detail, .time_us = 5,
				    .row = 42 }, out;
	json_t			*root;
	size_t			 len;
	char			*m;

	m = audit_msg_encode(&ev, &len);
	ck_assert_ptr_nonnull(m);
	ck_assert_int_eq(audit_msg_decode(m, len, &root, &out), 0);
	ck_assert_str_eq(out.event, "request");
	ck_assert_str_eq(out.user, "u?");	/* ill-formed UTF-8 */
	ck_assert_str_eq(out.path, "/notes");
	ck_assert_ptr_null(out.ip);
	ck_assert_int_eq(out.status, 201);
	ck_assert_int_eq(out.time_us, 5);
	ck_assert_int_eq(out.row, 42);
	ck_assert_str_eq(json_string_value(json_object_get(out.detail,
	    "title")), "t");
	json_decref(root);
	free(m);
	json_decref(detail);
}
END_TEST

START_TEST(test_msg_refused)
{
	static const char *const bad[] = {
		"[]", "{}", "{\"event\":1}", "{\"event\":\"x\",\"status\":99}",
		"{\"event\":\"x\",\"status\":1000}",
		"{\"event\":\"x\",\"row_id\":-1}",
		"{\"event\":\"x\",\"detail\":[]}",
		"{\"event\":\"x\",\"event\":\"y\"}",
		"{\"event\":\"a\\u0000b\"}", "{\"probe\":false}", "not json",
	};
	struct audit_event	 ev;
	json_t			*root, *big;
	size_t			 i, len;
	char			*m, *pad;

	for (i = 0; i < BW_ARRAY_LEN(bad); i++) {
		ck_assert_msg(audit_msg_decode(bad[i], strlen(bad[i]), &root,
		    &ev) == -1, "%s", bad[i]);
		json_decref(root);
	}
	ck_assert_int_eq(audit_msg_decode("{\"probe\":true}", 14, &root, &ev),
	    1);
	json_decref(root);
	/* The bound: a message over AUDIT_MSG_MAX is neither made nor read. */
	pad = malloc(AUDIT_MSG_MAX + 1);
	memset(pad, 'a', AUDIT_MSG_MAX);
	pad[AUDIT_MSG_MAX] = '\0';
	big = json_pack("{s:s}", "x", pad);
	ev = (struct audit_event){ .event = "e", .detail = big };
	ck_assert_ptr_null(audit_msg_encode(&ev, &len));
	ck_assert_int_eq(audit_msg_decode(pad, AUDIT_MSG_MAX + 1, &root, &ev),
	    -1);
	json_decref(big);
	free(pad);
	m = audit_msg_encode(&(struct audit_event){ .event = "e" }, &len);
	ck_assert_int_eq(audit_msg_decode(m, len, &root, &ev), 0);
	ck_assert_int_eq(ev.row, 0);
	json_decref(root);
	free(m);
}
END_TEST

START_TEST(test_writable)
{
	struct audit_file	 f = { .fd = -1 };
	const char		*err;

	ck_assert_int_eq(audit_file_writable(&f, &err), -1);
	ck_assert_int_eq(f.err, EBADF);
	ck_assert_int_eq(audit_file_open(&f, path, 0, NULL, &err), 0);
	ck_assert_int_eq(audit_file_writable(&f, &err), 0);
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(audit_file_writable(&f, &err), -1);
	ck_assert_int_eq(f.err, ENOENT);
	audit_file_close(&f);
}
END_TEST

/*
 * A worker's client, against a scripted writer on a socket pair
 */

static int64_t	 got[8];
static int	 ngot;

static void
client_cb(int64_t seq, void *arg)
{
	(void)arg;
	got[ngot++ % 8] = seq;
}

/* Reads one message on the writer's side; 1 probe, 0 record. */
static int
writer_read(int fd)
{
	struct audit_event	 ev;
	json_t			*root;
	char			 buf[AUDIT_MSG_MAX];
	ssize_t			 n;
	int			 rv;

	n = recv(fd, buf, sizeof(buf), 0);
	ck_assert_int_gt(n, 0);
	rv = audit_msg_decode(buf, (size_t)n, &root, &ev);
	json_decref(root);
	ck_assert_int_ge(rv, 0);
	return rv;
}

static void
writer_say(int fd, const char *s)
{
	ck_assert_int_eq(send(fd, s, strlen(s), 0), (ssize_t)strlen(s));
}

/* The writer reads the client's probe and answers it; the client hears. */
static void
writer_answer_probe(struct event_base *base, int fd)
{
	ck_assert_int_eq(writer_read(fd), 1);
	writer_say(fd, "{\"ok\":true}");
	event_base_loop(base, EVLOOP_NONBLOCK);
}

START_TEST(test_client)
{
	struct event_base	*base = event_base_new();
	struct audit_client	*c;
	struct audit_event	 ev = { .event = "request" };
	int			 fds[2], fd, i, n;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, fds), 0);
	ngot = 0;
	c = audit_client_new(base, fds[0]);
	ck_assert(!audit_client_ok(c));
	writer_answer_probe(base, fds[1]);
	ck_assert(audit_client_ok(c));

	ev.row = 9;
	ck_assert_int_eq(audit_client_submit(c, &ev, client_cb, NULL), 0);
	ev.row = 0;
	ck_assert_int_eq(audit_client_submit(c, &ev, client_cb, NULL), 0);
	ck_assert_int_eq(writer_read(fds[1]), 0);
	ck_assert_int_eq(writer_read(fds[1]), 0);
	writer_say(fds[1], "{\"seq\":7}");
	writer_say(fds[1], "{\"error\":\"unwritable\"}");
	event_base_loop(base, EVLOOP_NONBLOCK);
	ck_assert_int_eq(ngot, 2);
	ck_assert_int_eq(got[0], 7);
	ck_assert_int_eq(got[1], -1);
	ck_assert(!audit_client_ok(c));

	/* The bound on answers awaited. */
	for (n = 0; audit_client_submit(c, &ev, NULL, NULL) == 0; n++)
		if (n % 64 == 63)
			for (i = 0; i < 64; i++)
				(void)writer_read(fds[1]);
	ck_assert_int_eq(n, AUDIT_CLIENT_MAX_PENDING);

	/* The writer is lost: every waiting callback fails once. */
	fd = dup(fds[0]);
	audit_client_free(c);
	for (i = 0; i < n % 64; i++)
		(void)writer_read(fds[1]);
	c = audit_client_new(base, fd);
	ck_assert_int_eq(audit_client_submit(c, &ev, client_cb, NULL), 0);
	ngot = 0;
	close(fds[1]);
	event_base_loop(base, EVLOOP_NONBLOCK);
	ck_assert_int_eq(ngot, 1);
	ck_assert_int_eq(got[0], -1);
	ck_assert(!audit_client_ok(c));
	ck_assert_int_eq(audit_client_submit(c, &ev, client_cb, NULL), -1);
	audit_client_free(c);
	event_base_free(base);
}
END_TEST

/*
 * A socket that cannot take more now: records wait in the client, in
 * order, and go out as the writer reads; none is lost or refused.
 */
START_TEST(test_client_backlog)
{
	struct event_base	*base = event_base_new();
	struct audit_client	*c;
	struct audit_event	 ev = { .event = "request" };
	int			 fds[2], sz = 1024, i, n = 0, rv;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, fds), 0);
	ck_assert_int_eq(setsockopt(fds[0], SOL_SOCKET, SO_SNDBUF, &sz,
	    sizeof(sz)), 0);
	c = audit_client_new(base, fds[0]);
	writer_answer_probe(base, fds[1]);
	for (i = 0; i < 300; i++) {
		ev.row = i + 1;
		ck_assert_int_eq(audit_client_submit(c, &ev, NULL, NULL), 0);
	}
	ck_assert_uint_eq(audit_client_depth(c), 300);
	ck_assert(audit_client_ok(c));
	while (n < 300) {
		char		 buf[AUDIT_MSG_MAX];
		json_t		*root;
		struct audit_event e;
		ssize_t		 len;

		len = recv(fds[1], buf, sizeof(buf), MSG_DONTWAIT);
		if (len == -1) {
			event_base_loop(base, EVLOOP_NONBLOCK);
			continue;
		}
		rv = audit_msg_decode(buf, (size_t)len, &root, &e);
		json_decref(root);
		ck_assert_int_eq(rv, 0);
		ck_assert_int_eq(e.row, ++n);
	}
	audit_client_free(c);
	close(fds[1]);
	event_base_free(base);
}
END_TEST

/*
 * Readiness (answered on this connection), the depth for /metrics, a
 * cancelled callback never runs, the process's default client for events.
 */
START_TEST(test_client_state)
{
	struct event_base	*base = event_base_new();
	struct audit_client	*c;
	struct audit_event	 ev = { .event = "auth.logout" };
	int			 fds[2], fds2[2], mark;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, fds), 0);
	ngot = 0;
	c = audit_client_new(base, fds[0]);
	ck_assert(audit_client_connected(c));
	ck_assert(!audit_client_answered(c));
	ck_assert_uint_eq(audit_client_depth(c), 1);	/* the probe */
	writer_answer_probe(base, fds[1]);
	ck_assert(audit_client_answered(c));
	ck_assert_uint_eq(audit_client_depth(c), 0);

	ck_assert_int_eq(audit_client_submit(c, &ev, client_cb, &mark), 0);
	ck_assert_int_eq(audit_client_submit(c, &ev, client_cb, NULL), 0);
	ck_assert_uint_eq(audit_client_depth(c), 2);
	audit_client_cancel(c, &mark);
	ck_assert_int_eq(writer_read(fds[1]), 0);
	ck_assert_int_eq(writer_read(fds[1]), 0);
	writer_say(fds[1], "{\"seq\":5}");
	writer_say(fds[1], "{\"seq\":6}");
	event_base_loop(base, EVLOOP_NONBLOCK);
	ck_assert_int_eq(ngot, 1);
	ck_assert_int_eq(got[0], 6);

	/* Without a default client an event is nothing; with one, sent. */
	ck_assert_int_eq(audit_client_event(&ev), 0);
	audit_client_set_default(c);
	ck_assert_int_eq(audit_client_event(&ev), 0);
	ck_assert_int_eq(writer_read(fds[1]), 0);
	ck_assert_uint_eq(audit_client_depth(c), 1);

	/* A new writer: not answered until it answers. */
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, fds2), 0);
	audit_client_set_fd(c, fds2[0]);
	ck_assert(!audit_client_answered(c));
	ck_assert_int_eq(writer_read(fds2[1]), 1);
	writer_say(fds2[1], "{\"ok\":true}");
	event_base_loop(base, EVLOOP_NONBLOCK);
	ck_assert(audit_client_answered(c));
	audit_client_set_fd(c, -1);
	ck_assert(!audit_client_connected(c));
	ck_assert_int_eq(audit_client_event(&ev), -1);
	audit_client_set_default(NULL);
	audit_client_free(c);
	close(fds[1]);
	close(fds2[1]);
	event_base_free(base);
}
END_TEST

/* A writer in a child: reads one record, gives answer (NULL: none). */
static pid_t
fake_writer(const char *sock, const char *answer)
{
	struct sockaddr_un	 sun = { .sun_family = AF_UNIX };
	char			 buf[AUDIT_MSG_MAX];
	int			 lfd, fd;
	pid_t			 pid;

	bw_strlcpy(sun.sun_path, sock, sizeof(sun.sun_path));
	lfd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	ck_assert_int_eq(bind(lfd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	ck_assert_int_eq(listen(lfd, 1), 0);
	if ((pid = fork()) == 0) {
		if ((fd = accept(lfd, NULL, NULL)) == -1 ||
		    recv(fd, buf, sizeof(buf), 0) <= 0 ||
		    (answer != NULL &&
		    send(fd, answer, strlen(answer), 0) <= 0))
			_exit(1);
		_exit(0);
	}
	close(lfd);
	return pid;
}

START_TEST(test_msg_record)
{
	struct audit_event	 ev = { .event = "config.reload" };
	const char		*err;
	char			 sock[160];
	uint64_t		 seq = 0;
	pid_t			 pid;
	int			 status;

	(void)snprintf(sock, sizeof(sock), "%s/c.sock", dir);
	ck_assert_int_eq(audit_msg_record(sock, &ev, &seq, &err), -1);
	pid = fake_writer(sock, "{\"seq\":77}");
	ck_assert_msg(audit_msg_record(sock, &ev, &seq, &err) == 0, "%s",
	    err);
	ck_assert_uint_eq(seq, 77);
	waitpid(pid, &status, 0);
	unlink(sock);
	pid = fake_writer(sock, "{\"error\":\"unwritable\"}");
	ck_assert_int_eq(audit_msg_record(sock, &ev, &seq, &err), -1);
	ck_assert_ptr_nonnull(strstr(err, "cannot be written"));
	waitpid(pid, &status, 0);
	unlink(sock);
	/* A writer that goes away without answering. */
	pid = fake_writer(sock, NULL);
	ck_assert_int_eq(audit_msg_record(sock, &ev, &seq, &err), -1);
	ck_assert_ptr_nonnull(strstr(err, "did not answer"));
	waitpid(pid, &status, 0);
}
END_TEST

/*
 * A writer that cannot load its seccomp filter (seccomp() denied, as by a
 * supervisor's filter) ends with status 3 once set up, and serves nothing.
 */
static int
child_writer_denied(void)
{
	struct conf		 cf;
	struct conf_audit	 au;
	scmp_filter_ctx		 ctx;
	char			 kp[160], sock[160];
	unsigned char		 bytes[32];
	int			 fd;

	memset(&cf, 0, sizeof(cf));
	memset(&au, 0, sizeof(au));
	memset(bytes, 7, sizeof(bytes));
	(void)snprintf(kp, sizeof(kp), "%s/writer.key", dir);
	(void)snprintf(sock, sizeof(sock), "%s/writer.sock", dir);
	if ((fd = open(kp, O_WRONLY | O_CREAT | O_EXCL, 0600)) == -1 ||
	    write(fd, bytes, sizeof(bytes)) != (ssize_t)sizeof(bytes))
		return 9;
	close(fd);
	cf.audit = &au;
	cf.server.user = "nobody";
	cf.seccomp = SECCOMP_ENFORCE;
	au.file = path;
	au.key_file = kp;
	au.instance_id = "filter-test";
	au.control_socket = sock;
	if ((ctx = seccomp_init(SCMP_ACT_ALLOW)) == NULL ||
	    seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(seccomp),
	    0) != 0 || seccomp_load(ctx) != 0)
		return 9;
	seccomp_release(ctx);
	if (audit_writer_main(&cf, true) != 3)
		return 10;
	return access(sock, F_OK) == -1 ? 0 : 11;
}

START_TEST(test_writer_filter_fatal)
{
	pid_t	 pid;
	int	 status;

	if ((pid = fork()) == 0)
		_exit(child_writer_denied());
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "status %#x", status);
}
END_TEST

Suite *
unit_suite(void)
{
	Suite	*s = suite_create("audit");
	TCase	*tc = tcase_create("audit");

	tcase_set_timeout(tc, UNIT_TIMEOUT);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_record_format);
	tcase_add_test(tc, test_escaping);
	tcase_add_test(tc, test_string_bound);
	tcase_add_test(tc, test_detail_bounds);
	tcase_add_test(tc, test_line_ends);
	tcase_add_test(tc, test_line_row);
	tcase_add_test(tc, test_time);
	tcase_add_test(tc, test_instance);
	tcase_add_test(tc, test_key_bounds);
	tcase_add_test(tc, test_group_commit);
	tcase_add_test(tc, test_scan_back);
	tcase_add_test(tc, test_torn_line_cut);
	tcase_add_test(tc, test_rotation_continues);
	tcase_add_test(tc, test_fallback_head);
	tcase_add_test(tc, test_lock_and_symlink);
	tcase_add_test(tc, test_removed_file);
	tcase_add_test(tc, test_verify_classifies);
	tcase_add_test(tc, test_verify_inserted_and_from_seq);
	tcase_add_test(tc, test_verify_long_line);
	tcase_add_test(tc, test_msg_roundtrip);
	tcase_add_test(tc, test_msg_refused);
	tcase_add_test(tc, test_writable);
	tcase_add_test(tc, test_client);
	tcase_add_test(tc, test_client_state);
	tcase_add_test(tc, test_client_backlog);
	tcase_add_test(tc, test_msg_record);
	tcase_add_test(tc, test_writer_filter_fatal);
	suite_add_tcase(s, tc);
	return s;
}
