/*
 * test_backup_format.c - the encrypted backup format and its manifest on
 * in-memory files: round trips at every chunk boundary, and every way of
 * tampering SPEC 10 names, each refused with its precise reason and with
 * no plaintext of a bad chunk handed out.
 */
#include <stdlib.h>
#include <string.h>

#include "backup_format.h"
#include "unit.h"
#include "util.h"

struct buf {
	uint8_t	*p;
	size_t	 len;
	size_t	 cap;
};

static int
buf_sink(void *arg, const void *p, size_t n)
{
	struct buf	*b = arg;

	if (n == 0)
		return 0;
	if (b->len + n > b->cap) {
		b->cap = (b->len + n) * 2 + 64;
		b->p = bw_reallocarray(b->p, b->cap, 1);
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
	return 0;
}

static uint8_t	 key[BACKUP_KEY_LEN];
static uint8_t	 other[BACKUP_KEY_LEN];

static void
keys_setup(void)
{
	size_t	 i;

	for (i = 0; i < BACKUP_KEY_LEN; i++) {
		key[i] = (uint8_t)(i * 7 + 1);
		other[i] = (uint8_t)(i * 11 + 3);
	}
}

static uint8_t *
pattern(size_t n)
{
	uint8_t	*p = bw_malloc(n + 1);
	size_t	 i;

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 31 + i / 251);
	return p;
}

/* Seals n bytes of pattern, fed in pieces of step bytes. */
static struct buf
seal(size_t n, size_t step)
{
	struct backup_header	 h;
	struct backup_err	 e;
	struct backup_sealer	*s;
	struct buf		 out = { 0 };
	uint8_t			*plain = pattern(n);
	size_t			 off, k;

	ck_assert_int_eq(backup_header_init(&h, key, "app", 1796596500, &e),
	    0);
	s = backup_sealer_new(key, &h, buf_sink, &out, &e);
	ck_assert_ptr_nonnull(s);
	for (off = 0; off < n; off += k) {
		k = n - off < step ? n - off : step;
		ck_assert_int_eq(backup_sealer_update(s, plain + off, k, &e),
		    0);
	}
	ck_assert_int_eq(backup_sealer_finish(s, &e), 0);
	ck_assert_int_eq(backup_sealer_update(s, "x", 1, &e), -1);
	backup_sealer_free(s);
	free(plain);
	return out;
}

/* Opens f with k in pieces of step bytes: 0, or -1 with e filled. */
static int
open_with(const uint8_t *k, const uint8_t *f, size_t len, size_t step,
    struct buf *plain, struct backup_err *e)
{
	struct backup_opener	*o;
	size_t			 off, n;
	int			 rv = 0;

	memset(e, 0, sizeof(*e));
	o = backup_opener_new(k, buf_sink, plain);
	for (off = 0; off < len && rv == 0; off += n) {
		n = len - off < step ? len - off : step;
		rv = backup_opener_update(o, f + off, n, e);
	}
	if (rv == 0)
		rv = backup_opener_finish(o, e);
	backup_opener_free(o);
	return rv;
}

static size_t
hdr_len(void)
{
	return BACKUP_HDR_FIXED + 3;
}

#define SEALED	(BACKUP_CHUNK + BACKUP_TAG_LEN)

START_TEST(round_trip)
{
	static const size_t sizes[] = {
		0, 1, BACKUP_CHUNK - 1, BACKUP_CHUNK, BACKUP_CHUNK + 1,
		3 * BACKUP_CHUNK, 3 * BACKUP_CHUNK + 5,
	};
	static const size_t steps[] = { 1, 4093, BACKUP_CHUNK, 1 << 20 };
	struct backup_err	 e;
	struct buf		 f, p;
	uint8_t			*want;
	size_t			 i, j, chunks;

	for (i = 0; i < BW_ARRAY_LEN(sizes); i++) {
		for (j = 0; j < BW_ARRAY_LEN(steps); j++) {
			if (steps[j] == 1 && sizes[i] > BACKUP_CHUNK + 1)
				continue;
			f = seal(sizes[i], steps[j]);
			chunks = sizes[i] == 0 ? 1 :
			    (sizes[i] + BACKUP_CHUNK - 1) / BACKUP_CHUNK;
			ck_assert_uint_eq(f.len, hdr_len() + sizes[i] +
			    chunks * BACKUP_TAG_LEN);
			memset(&p, 0, sizeof(p));
			ck_assert_msg(open_with(key, f.p, f.len, steps[j], &p,
			    &e) == 0, "size %zu: %s", sizes[i], e.msg);
			want = pattern(sizes[i]);
			ck_assert_uint_eq(p.len, sizes[i]);
			ck_assert(sizes[i] == 0 ||
			    memcmp(p.p, want, sizes[i]) == 0);
			free(want);
			free(p.p);
			free(f.p);
		}
	}
}
END_TEST

START_TEST(no_plaintext_on_disk)
{
	struct buf	 f = seal(2 * BACKUP_CHUNK + 9, 1000);
	uint8_t		*plain = pattern(2 * BACKUP_CHUNK + 9);
	size_t		 off;

	/* No 16-byte run of the plaintext appears in the file. */
	for (off = 0; off + 16 <= 2 * BACKUP_CHUNK + 9; off += 997)
		ck_assert_ptr_null(memmem(f.p, f.len, plain + off, 16));
	free(plain);
	free(f.p);
}
END_TEST

/* A tampered file is refused with reason and hands out at most good. */
static void
refused(const uint8_t *f, size_t len, const char *reason, size_t good)
{
	struct backup_err	 e;
	struct buf		 p = { 0 };

	ck_assert_int_eq(open_with(key, f, len, 7777, &p, &e), -1);
	ck_assert_msg(strstr(e.msg, reason) != NULL, "'%s' lacks '%s'",
	    e.msg, reason);
	ck_assert_uint_le(p.len, good);
	free(p.p);
}

START_TEST(flipped_bytes)
{
	struct buf	 f = seal(3 * BACKUP_CHUNK + 100, 5000);
	size_t		 h = hdr_len(), i;
	static const struct {
		size_t		 off;
		const char	*reason;
	} hdr[] = {
		{ 0, "no BWBACKUP magic" },
		{ 9, "format version" },
		{ 10, "another backup key" },
		{ 20, "chunk 0 does not authenticate" },
		{ 40, "chunk 0 does not authenticate" },
		{ 58, "chunk size" },
		{ 63, "database name" },
		{ 65, "chunk 0 does not authenticate" },
	};

	for (i = 0; i < BW_ARRAY_LEN(hdr); i++) {
		f.p[hdr[i].off] ^= 0x40;
		refused(f.p, f.len, hdr[i].reason, 0);
		f.p[hdr[i].off] ^= 0x40;
	}
	/* First chunk, a middle chunk, the last chunk and its tag. */
	f.p[h + 5] ^= 1;
	refused(f.p, f.len, "chunk 0 does not authenticate", 0);
	f.p[h + 5] ^= 1;
	f.p[h + 2 * SEALED - 1] ^= 1;
	refused(f.p, f.len, "chunk 1 does not authenticate", BACKUP_CHUNK);
	f.p[h + 2 * SEALED - 1] ^= 1;
	f.p[h + 3 * SEALED + 3] ^= 1;
	refused(f.p, f.len, "chunk 3 does not authenticate",
	    3 * BACKUP_CHUNK);
	f.p[h + 3 * SEALED + 3] ^= 1;
	f.p[f.len - 1] ^= 0x80;
	refused(f.p, f.len, "chunk 3 does not authenticate",
	    3 * BACKUP_CHUNK);
	f.p[f.len - 1] ^= 0x80;
	free(f.p);
}
END_TEST

START_TEST(truncated)
{
	struct buf	 f = seal(3 * BACKUP_CHUNK + 100, 5000);
	size_t		 h = hdr_len();

	/* At a chunk boundary: the last chunk present is not final. */
	refused(f.p, h + 3 * SEALED, "file ends after chunk 2, which is not "
	    "the final chunk", 2 * BACKUP_CHUNK);
	refused(f.p, h + SEALED, "file ends after chunk 0", 0);
	refused(f.p, h, "file ends after chunk 0", 0);
	/* Inside a chunk, inside a tag, inside the header, nothing. */
	refused(f.p, h + 2 * SEALED + 100, "chunk 2 does not authenticate",
	    2 * BACKUP_CHUNK);
	refused(f.p, h + 3 * SEALED + 10, "fewer than a chunk's tag",
	    3 * BACKUP_CHUNK);
	refused(f.p, h - 1, "truncated inside the header", 0);
	refused(f.p, 20, "truncated inside the header", 0);
	refused(f.p, 0, "empty file", 0);
	free(f.p);
}
END_TEST

START_TEST(reordered_duplicated_appended)
{
	struct buf	 f = seal(3 * BACKUP_CHUNK + 100, 5000);
	size_t		 h = hdr_len();
	uint8_t		*g, tmp[SEALED];

	g = bw_malloc(f.len + SEALED);
	/* Chunks 0 and 1 swapped. */
	memcpy(g, f.p, f.len);
	memcpy(tmp, g + h, SEALED);
	memcpy(g + h, g + h + SEALED, SEALED);
	memcpy(g + h + SEALED, tmp, SEALED);
	refused(g, f.len, "chunk 0 does not authenticate", 0);
	/* Chunk 1 twice. */
	memcpy(g, f.p, h + 2 * SEALED);
	memcpy(g + h + 2 * SEALED, f.p + h + SEALED, f.len - h - SEALED);
	refused(g, f.len + SEALED, "chunk 2 does not authenticate",
	    2 * BACKUP_CHUNK);
	/* Bytes appended after the final chunk. */
	memcpy(g, f.p, f.len);
	g[f.len] = 0;
	refused(g, f.len + 1, "chunk 3 does not authenticate",
	    3 * BACKUP_CHUNK);
	memset(g + f.len, 0, SEALED);
	refused(g, f.len + SEALED, "chunk 3 does not authenticate",
	    3 * BACKUP_CHUNK);
	free(g);
	free(f.p);
}
END_TEST

START_TEST(appended_after_full_final)
{
	struct buf	 f = seal(2 * BACKUP_CHUNK, 5000);
	uint8_t		*g = bw_malloc(f.len + 20);

	memcpy(g, f.p, f.len);
	memset(g + f.len, 0xaa, 20);
	refused(g, f.len + 20, "bytes appended: chunk 1 is the final chunk",
	    BACKUP_CHUNK);
	free(g);
	free(f.p);
}
END_TEST

START_TEST(wrong_key)
{
	struct buf		 f = seal(1000, 1000), p = { 0 };
	struct backup_err	 e;
	uint8_t			 a[BACKUP_KEYID_LEN], b[BACKUP_KEYID_LEN];

	ck_assert_int_eq(open_with(other, f.p, f.len, 100, &p, &e), -1);
	ck_assert_ptr_nonnull(strstr(e.msg, "another backup key"));
	ck_assert_uint_eq(p.len, 0);
	/* The id is derived, stable, and not the key's bytes. */
	ck_assert_int_eq(backup_key_id(key, a), 0);
	ck_assert_int_eq(backup_key_id(key, b), 0);
	ck_assert(memcmp(a, b, sizeof(a)) == 0);
	ck_assert(memcmp(a, key, sizeof(a)) != 0);
	ck_assert(memcmp(f.p + 10, a, sizeof(a)) == 0);
	ck_assert_int_eq(backup_key_id(other, b), 0);
	ck_assert(memcmp(a, b, sizeof(a)) != 0);
	free(f.p);
}
END_TEST

START_TEST(header_bounds)
{
	struct backup_header	 h;
	struct backup_err	 e;
	char			 name[BACKUP_DBNAME_MAX + 2];

	ck_assert_int_eq(backup_header_init(&h, key, "", 1, &e), -1);
	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	ck_assert_int_eq(backup_header_init(&h, key, name, 1, &e), -1);
	name[BACKUP_DBNAME_MAX] = '\0';
	ck_assert_int_eq(backup_header_init(&h, key, name, 1, &e), 0);
	ck_assert_uint_eq(h.rawlen, BACKUP_HDR_MAX);
	/* Two headers for the same database differ in their salt. */
	{
		struct backup_header	 h2;

		ck_assert_int_eq(backup_header_init(&h2, key, name, 1, &e), 0);
		ck_assert(memcmp(h.salt, h2.salt, BACKUP_SALT_LEN) != 0);
	}
}
END_TEST

static struct backup_manifest
manifest_sample(void)
{
	struct backup_manifest	 m;

	memset(&m, 0, sizeof(m));
	m.format = BACKUP_VERSION;
	ck_assert_int_eq(backup_time_text(1796596500, m.time), 0);
	bw_strlcpy(m.database, "app \"ü\"", sizeof(m.database));
	m.bytes = 123456;
	memset(m.sha256, 'a', 64);
	bw_strlcpy(m.pg_dump, "15.5", sizeof(m.pg_dump));
	return m;
}

START_TEST(manifest)
{
	struct backup_manifest	 m = manifest_sample(), d;
	struct backup_err	 e;
	char			*t;
	size_t			 len, i;
	const char		*hm;

	ck_assert_str_eq(m.time, "2026-12-06T22:35:00Z");
	t = backup_manifest_encode(key, &m, &len, &e);
	ck_assert_ptr_nonnull(t);
	ck_assert_uint_eq(strlen(t), len);
	ck_assert_int_eq(t[len - 1], '\n');
	hm = "{\"format\":1,\"time\":\"2026-12-06T22:35:00Z\",\"database\":";
	ck_assert(strncmp(t, hm, strlen(hm)) == 0);
	hm = strstr(t, ",\"hmac\":\"");
	ck_assert_ptr_nonnull(hm);
	ck_assert_uint_eq((size_t)(t + len - hm), 9 + 64 + 3);
	ck_assert_int_eq(backup_manifest_decode(key, t, len, &d, &e), 0);
	ck_assert_str_eq(d.database, m.database);
	ck_assert_str_eq(d.time, m.time);
	ck_assert_str_eq(d.sha256, m.sha256);
	ck_assert_uint_eq(d.bytes, 123456);
	/* Every changed byte before the newline is refused. */
	for (i = 0; i + 1 < len; i++) {
		t[i] ^= 0x01;
		ck_assert_msg(backup_manifest_decode(key, t, len, &d, &e) == -1,
		    "byte %zu", i);
		t[i] ^= 0x01;
	}
	ck_assert_int_eq(backup_manifest_decode(other, t, len, &d, &e), -1);
	ck_assert_ptr_nonnull(strstr(e.msg, "hmac mismatch"));
	ck_assert_int_eq(backup_manifest_decode(key, t, len - 5, &d, &e), -1);
	ck_assert_ptr_nonnull(strstr(e.msg, "last member"));
	ck_assert_int_eq(backup_manifest_decode(key, t, 10, &d, &e), -1);
	free(t);
}
END_TEST

START_TEST(manifest_bounds)
{
	struct backup_manifest	 m = manifest_sample(), d;
	struct backup_err	 e;
	char			*t, *big;
	size_t			 len;

	/* A manifest beyond BACKUP_MANIFEST_MAX is refused unread. */
	big = bw_calloc(1, BACKUP_MANIFEST_MAX + 10);
	memset(big, ' ', BACKUP_MANIFEST_MAX + 5);
	ck_assert_int_eq(backup_manifest_decode(key, big,
	    BACKUP_MANIFEST_MAX + 5, &d, &e), -1);
	ck_assert_ptr_nonnull(strstr(e.msg, "not a manifest"));
	free(big);
	/* The longest fields still fit. */
	memset(m.database, 'd', BACKUP_DBNAME_MAX);
	m.database[BACKUP_DBNAME_MAX] = '\0';
	memset(m.pg_dump, 'v', BACKUP_PGDUMP_MAX);
	m.pg_dump[BACKUP_PGDUMP_MAX] = '\0';
	t = backup_manifest_encode(key, &m, &len, &e);
	ck_assert_ptr_nonnull(t);
	ck_assert_int_eq(backup_manifest_decode(key, t, len, &d, &e), 0);
	free(t);
}
END_TEST

Suite *
unit_suite(void)
{
	Suite	*s = suite_create("backup_format");
	TCase	*tc = tcase_create("core");

	tcase_set_timeout(tc, UNIT_TIMEOUT);
	tcase_add_checked_fixture(tc, keys_setup, NULL);
	tcase_add_test(tc, round_trip);
	tcase_add_test(tc, no_plaintext_on_disk);
	tcase_add_test(tc, flipped_bytes);
	tcase_add_test(tc, truncated);
	tcase_add_test(tc, reordered_duplicated_appended);
	tcase_add_test(tc, appended_after_full_final);
	tcase_add_test(tc, wrong_key);
	tcase_add_test(tc, header_bounds);
	tcase_add_test(tc, manifest);
	tcase_add_test(tc, manifest_bounds);
	suite_add_tcase(s, tc);
	return s;
}
