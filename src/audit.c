/*
 * audit.c - builds audit records (SPEC 9) and keeps their HMAC chain.
 *
 * Invariants: members in the order of audit.h, mac last; every string
 * through jsonw_str() with AUDIT_STR_MAX; the detail object bounded in
 * depth (AUDIT_DETAIL_DEPTH) and size (AUDIT_DETAIL_MAX, else it becomes
 * {"truncated":true}); a record is written whole or not at all, and the
 * chain advances only when it was.
 *
 * Threat model: the strings come from clients (paths, user names, body
 * members listed in audit_fields); escaping keeps each record one line of
 * valid JSON whatever they hold.  The caller never passes a password,
 * token or API key secret.  The key lives in struct audit_key, wiped by
 * audit_key_wipe(); HMAC contexts are freed (and cleansed) by OpenSSL.
 */
#include <sys/time.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "audit.h"
#include "conf.h"
#include "jsonw.h"
#include "secret.h"
#include "util.h"

int
audit_key_load(const struct conf *conf, struct audit_key *key,
    const char **err)
{
	size_t	 len = 0;
	int	 fd, rv;

	memset(key, 0, sizeof(*key));
	if (conf->audit == NULL) {
		*err = "no audit section";
		return -1;
	}
	if ((fd = secret_open(conf->audit->key_file, conf->server.user,
	    err)) == -1)
		return -1;
	rv = secret_read(fd, key->k, sizeof(key->k), &len, err);
	close(fd);
	if (rv == 0 && (len < AUDIT_KEY_MIN || len > AUDIT_KEY_MAX)) {
		*err = "the audit key must hold 32 to 64 bytes (bulwarkd "
		    "--gen-key audit)";
		rv = -1;
	}
	if (rv == -1) {
		audit_key_wipe(key);
		return -1;
	}
	key->len = len;
	return 0;
}

void
audit_key_wipe(struct audit_key *key)
{
	bw_wipe(key, sizeof(*key));
}

int
audit_instance(const struct conf *conf, const char *machine_id_path,
    char *buf, size_t bufsz, const char **err)
{
	char	 id[33];
	ssize_t	 n;
	size_t	 i;
	int	 fd;

	if (conf->audit != NULL && conf->audit->instance_id != NULL) {
		if (bw_strlcpy(buf, conf->audit->instance_id, bufsz) >= bufsz) {
			*err = "instance id too long";
			return -1;
		}
		return 0;
	}
	if (machine_id_path == NULL)
		machine_id_path = "/etc/machine-id";
	if ((fd = open(machine_id_path, O_RDONLY | O_CLOEXEC)) == -1) {
		*err = "cannot read /etc/machine-id: set audit.instance_id";
		return -1;
	}
	n = read(fd, id, 16);
	close(fd);
	for (i = 0; n == 16 && i < 16; i++)
		if (!((id[i] >= '0' && id[i] <= '9') ||
		    (id[i] >= 'a' && id[i] <= 'f')))
			n = -1;
	if (n != 16 || bufsz < 17) {
		*err = "/etc/machine-id is not 32 hex digits: set "
		    "audit.instance_id";
		return -1;
	}
	memcpy(buf, id, 16);
	buf[16] = '\0';
	return 0;
}

int64_t
audit_now_us(void)
{
	return bw_clock_us(CLOCK_REALTIME);
}

void
audit_time(int64_t us, char *buf)
{
	time_t		 t = (time_t)(us / 1000000);
	struct tm	 tm;

	if (us < 0 || gmtime_r(&t, &tm) == NULL ||
	    strftime(buf, AUDIT_TIME_LEN, "%Y-%m-%dT%H:%M:%S", &tm) != 19) {
		bw_strlcpy(buf, "1970-01-01T00:00:00.000000Z", AUDIT_TIME_LEN);
		return;
	}
	(void)snprintf(buf + 19, AUDIT_TIME_LEN - 19, ".%06uZ",
	    (unsigned)(us % 1000000) % 1000000u);
}

json_t *
audit_detail_fields(const json_t *body, char *const *fields, size_t nfields)
{
	json_t	*out = NULL, *v;
	size_t	 i;

	if (!json_is_object(body))
		return NULL;
	for (i = 0; i < nfields; i++) {
		if ((v = json_object_get(body, fields[i])) == NULL)
			continue;
		if (out == NULL)
			out = json_object();
		json_object_set(out, fields[i], v);
	}
	return out;
}

int
audit_mac(const struct audit_key *key, const unsigned char *prev,
    const void *data, size_t len, unsigned char *out)
{
	EVP_MAC		*mac;
	EVP_MAC_CTX	*ctx = NULL;
	OSSL_PARAM	 params[2];
	size_t		 outlen = 0;
	int		 ok = 0;

	if ((mac = EVP_MAC_fetch(NULL, "HMAC", NULL)) == NULL)
		return -1;
	params[0] = OSSL_PARAM_construct_utf8_string("digest", "SHA256", 0);
	params[1] = OSSL_PARAM_construct_end();
	if ((ctx = EVP_MAC_CTX_new(mac)) != NULL &&
	    EVP_MAC_init(ctx, key->k, key->len, params) &&
	    EVP_MAC_update(ctx, prev, AUDIT_MAC_LEN) &&
	    EVP_MAC_update(ctx, data, len) &&
	    EVP_MAC_final(ctx, out, &outlen, AUDIT_MAC_LEN))
		ok = outlen == AUDIT_MAC_LEN;
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(mac);
	return ok ? 0 : -1;
}

/*
 * Writing a record
 */

static int
audit_str(struct evbuffer *b, const char *s)
{
	if (s == NULL)
		return evbuffer_add(b, "null", 4);
	return jsonw_str(b, s, strlen(s), AUDIT_STR_MAX);
}

static int
audit_member(struct evbuffer *b, const char *name, const char *s)
{
	if (evbuffer_add_printf(b, ",\"%s\":", name) == -1)
		return -1;
	return audit_str(b, s);
}

static int	audit_json(struct evbuffer *, const json_t *, int);

static int
audit_json_object(struct evbuffer *b, const json_t *v, int depth)
{
	const char	*k;
	void		*it;

	if (evbuffer_add(b, "{", 1) == -1)
		return -1;
	for (it = json_object_iter((json_t *)v); it != NULL;
	    it = json_object_iter_next((json_t *)v, it)) {
		k = json_object_iter_key(it);
		if (jsonw_str(b, k, strlen(k), AUDIT_STR_MAX) == -1 ||
		    evbuffer_add(b, ":", 1) == -1 ||
		    audit_json(b, json_object_iter_value(it), depth + 1) == -1 ||
		    (json_object_iter_next((json_t *)v, it) != NULL &&
		    evbuffer_add(b, ",", 1) == -1))
			return -1;
	}
	return evbuffer_add(b, "}", 1);
}

static int
audit_json_array(struct evbuffer *b, const json_t *v, int depth)
{
	size_t	 i;

	if (evbuffer_add(b, "[", 1) == -1)
		return -1;
	for (i = 0; i < json_array_size(v); i++)
		if ((i > 0 && evbuffer_add(b, ",", 1) == -1) ||
		    audit_json(b, json_array_get(v, i), depth + 1) == -1)
			return -1;
	return evbuffer_add(b, "]", 1);
}

/* One JSON value; nesting beyond AUDIT_DETAIL_DEPTH is written as null. */
static int
audit_json(struct evbuffer *b, const json_t *v, int depth)
{
	if (depth > AUDIT_DETAIL_DEPTH || evbuffer_get_length(b) >
	    AUDIT_DETAIL_MAX)
		return evbuffer_add(b, "null", 4);
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return audit_json_object(b, v, depth);
	case JSON_ARRAY:
		return audit_json_array(b, v, depth);
	case JSON_STRING:
		return jsonw_str(b, json_string_value(v),
		    json_string_length(v), AUDIT_STR_MAX);
	case JSON_INTEGER:
		return evbuffer_add_printf(b, "%" JSON_INTEGER_FORMAT,
		    json_integer_value(v)) == -1 ? -1 : 0;
	case JSON_REAL:
		return evbuffer_add_printf(b, "%.17g", json_real_value(v)) ==
		    -1 ? -1 : 0;
	case JSON_TRUE:
		return evbuffer_add(b, "true", 4);
	case JSON_FALSE:
		return evbuffer_add(b, "false", 5);
	default:
		return evbuffer_add(b, "null", 4);
	}
}

/* The detail object, or {"truncated":true} when it exceeds the bound. */
static int
audit_detail(struct evbuffer *b, const json_t *detail)
{
	struct evbuffer	*tmp;
	int		 rv = -1;

	if (detail == NULL || !json_is_object(detail))
		return evbuffer_add(b, "{}", 2);
	if ((tmp = evbuffer_new()) == NULL)
		return -1;
	if (audit_json(tmp, detail, 1) == 0) {
		if (evbuffer_get_length(tmp) > AUDIT_DETAIL_MAX)
			rv = evbuffer_add(b, "{\"truncated\":true}", 18);
		else
			rv = evbuffer_add_buffer(b, tmp);
	}
	evbuffer_free(tmp);
	return rv;
}

/* The MAC input: the line up to ,"mac": */
static int
audit_body(struct evbuffer *b, const struct audit_event *ev,
    const char *instance, uint64_t seq, const unsigned char *prev)
{
	char	 t[AUDIT_TIME_LEN], hex[AUDIT_HEX_LEN + 1];

	audit_time(ev->time_us != 0 ? ev->time_us : audit_now_us(), t);
	bw_hex_encode(prev, AUDIT_MAC_LEN, hex);
	if (evbuffer_add_printf(b, "{\"seq\":%" PRIu64 ",\"time\":\"%s\"",
	    seq, t) == -1 ||
	    audit_member(b, "instance", instance) == -1 ||
	    audit_member(b, "event", ev->event) == -1 ||
	    audit_member(b, "request_id", ev->request_id) == -1 ||
	    evbuffer_add(b, ",\"actor\":{\"user\":", 17) == -1 ||
	    audit_str(b, ev->user) == -1 ||
	    audit_member(b, "ip", ev->ip) == -1 ||
	    audit_member(b, "api_key", ev->api_key) == -1 ||
	    evbuffer_add(b, "}", 1) == -1 ||
	    audit_member(b, "route", ev->route) == -1 ||
	    audit_member(b, "method", ev->method) == -1 ||
	    audit_member(b, "path", ev->path) == -1)
		return -1;
	if ((ev->status != 0 ? evbuffer_add_printf(b, ",\"status\":%d",
	    ev->status) : evbuffer_add_printf(b, ",\"status\":null")) == -1 ||
	    evbuffer_add(b, ",\"detail\":", 10) == -1 ||
	    audit_detail(b, ev->detail) == -1 ||
	    (ev->row > 0 && evbuffer_add_printf(b, ",\"row\":%" PRId64,
	    ev->row) == -1) ||
	    evbuffer_add_printf(b, AUDIT_PREV_MARK "%s\"", hex) == -1)
		return -1;
	return 0;
}

int
audit_record(struct evbuffer *out, const struct audit_event *ev,
    const char *instance, struct audit_chain *chain,
    const struct audit_key *key)
{
	static const unsigned char zero[AUDIT_MAC_LEN];
	const unsigned char	*prev = chain->seq == 0 ? zero : chain->mac;
	struct evbuffer		*b;
	unsigned char		 mac[AUDIT_MAC_LEN];
	char			 hex[AUDIT_HEX_LEN + 1];
	size_t			 len;
	int			 rv = -1;

	if ((b = evbuffer_new()) == NULL)
		return -1;
	if (audit_body(b, ev, instance, chain->seq + 1, prev) == 0 &&
	    (len = evbuffer_get_length(b)) + AUDIT_TAIL_LEN < AUDIT_LINE_MAX &&
	    audit_mac(key, prev, evbuffer_pullup(b, -1), len, mac) == 0) {
		bw_hex_encode(mac, AUDIT_MAC_LEN, hex);
		if (evbuffer_add_printf(b, AUDIT_MAC_MARK "%s\"}\n", hex) !=
		    -1 && evbuffer_add_buffer(out, b) == 0) {
			chain->seq++;
			memcpy(chain->mac, mac, AUDIT_MAC_LEN);
			rv = 0;
		}
	}
	evbuffer_free(b);
	return rv;
}

/*
 * Reading a line back
 */

static int
audit_hex_nibble(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int
audit_hex_decode(const char *hex, unsigned char *out)
{
	int	 hi, lo;
	size_t	 i;

	for (i = 0; i < AUDIT_MAC_LEN; i++) {
		if ((hi = audit_hex_nibble(hex[2 * i])) == -1 ||
		    (lo = audit_hex_nibble(hex[2 * i + 1])) == -1)
			return -1;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}

int
audit_line_ends(const char *line, size_t len, uint64_t *seq,
    unsigned char *mac)
{
	const char	*tail;
	uint64_t	 n = 0;
	size_t		 i;

	if (len < 8 + AUDIT_TAIL_LEN || len > AUDIT_LINE_MAX ||
	    memcmp(line, "{\"seq\":", 7) != 0)
		return -1;
	tail = line + len - AUDIT_TAIL_LEN;
	if (memcmp(tail, AUDIT_MAC_MARK, sizeof(AUDIT_MAC_MARK) - 1) != 0 ||
	    memcmp(line + len - 2, "\"}", 2) != 0 ||
	    audit_hex_decode(tail + sizeof(AUDIT_MAC_MARK) - 1, mac) == -1)
		return -1;
	for (i = 7; i < len && line[i] >= '0' && line[i] <= '9'; i++) {
		if (i - 7 >= 19 || (i > 7 && line[7] == '0'))
			return -1;
		n = n * 10 + (uint64_t)(line[i] - '0');
	}
	if (i == 7 || line[i] != ',' || n == 0)
		return -1;
	*seq = n;
	return 0;
}

/* The digits of ,"row":N ending at end (the start of ,"prev":); 0: none. */
static int64_t
audit_line_row_member(const char *line, size_t end)
{
	static const char	 mark[] = ",\"row\":";
	size_t			 b = end;
	uint64_t		 u;
	char			 digits[20];

	while (b > 0 && line[b - 1] >= '0' && line[b - 1] <= '9')
		b--;
	if (b == end || end - b >= sizeof(digits) || b < sizeof(mark) - 1 ||
	    memcmp(line + b - (sizeof(mark) - 1), mark, sizeof(mark) - 1) != 0)
		return 0;
	memcpy(digits, line + b, end - b);
	digits[end - b] = '\0';
	if (bw_parse_uint(digits, INT64_MAX, &u) == -1)
		return 0;
	return (int64_t)u;
}

int
audit_line_row(const char *line, size_t len, const struct audit_key *key,
    uint64_t *seq, int64_t *row)
{
	unsigned char	 mac[AUDIT_MAC_LEN], prev[AUDIT_MAC_LEN];
	unsigned char	 want[AUDIT_MAC_LEN];
	size_t		 body, p;

	*row = 0;
	if (audit_line_ends(line, len, seq, want) == -1 ||
	    (body = len - AUDIT_TAIL_LEN) < AUDIT_PREV_LEN)
		return -1;
	p = body - AUDIT_PREV_LEN;
	if (memcmp(line + p, AUDIT_PREV_MARK, sizeof(AUDIT_PREV_MARK) - 1) !=
	    0 || line[body - 1] != '"' ||
	    audit_hex_decode(line + p + sizeof(AUDIT_PREV_MARK) - 1, prev) ==
	    -1 || audit_mac(key, prev, line, body, mac) == -1 ||
	    !bw_ct_equal(mac, want, AUDIT_MAC_LEN))
		return -1;
	*row = audit_line_row_member(line, p);
	return *row != 0;
}
