/*
 * backup_format.c - the encrypted backup file and its manifest (SPEC 10;
 * the layout is in backup_format.h and bulwarkd(8)).
 *
 * Invariants: no plaintext leaves the opener before the GCM tag of its
 * chunk verified; chunk i is sealed with nonce 0^4 | i and an AAD that
 * binds the whole header, the index and whether it is the final chunk, so
 * a changed byte anywhere, a chunk moved, repeated or dropped, a file cut
 * at or inside a chunk and bytes appended after the final chunk all fail
 * authentication.  Derived keys live in the sealer and opener and are
 * wiped when they are freed; the backup key itself is never copied.
 *
 * Threat model: the file is read back from a directory an attacker may
 * have written to; every length in a header is bounded before it is used
 * and the opener's memory is fixed (one chunk), whatever the input.
 */
#include <sys/types.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include "backup_format.h"
#include "util.h"

static const uint8_t backup_magic[BACKUP_MAGIC_LEN] = {
	'B', 'W', 'B', 'A', 'C', 'K', 'U', 'P',
};

#define BACKUP_INFO_FILE	"bulwark backup v1 file key"
#define BACKUP_INFO_ID		"bulwark backup v1 key id"
#define BACKUP_INFO_MANIFEST	"bulwark backup v1 manifest"
#define BACKUP_HMAC_SUFFIX	",\"hmac\":\""
#define BACKUP_HMAC_TAIL	(sizeof(BACKUP_HMAC_SUFFIX) - 1 + 64 + 2)

static void backup_err_set(struct backup_err *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));

static void
backup_err_set(struct backup_err *e, const char *fmt, ...)
{
	va_list	 ap;

	if (e == NULL)
		return;
	va_start(ap, fmt);
	(void)bw_vformat(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
}

static void
backup_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void
backup_put32(uint8_t *p, uint32_t v)
{
	backup_put16(p, (uint16_t)(v >> 16));
	backup_put16(p + 2, (uint16_t)v);
}

static void
backup_put64(uint8_t *p, uint64_t v)
{
	backup_put32(p, (uint32_t)(v >> 32));
	backup_put32(p + 4, (uint32_t)v);
}

static uint64_t
backup_get(const uint8_t *p, size_t n)
{
	uint64_t	 v = 0;
	size_t		 i;

	for (i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

/* HKDF-SHA256(key, salt, info) into out; salt may be NULL. */
static int
backup_hkdf(const uint8_t key[BACKUP_KEY_LEN], const uint8_t *salt,
    size_t saltlen, const char *info, uint8_t *out, size_t outlen)
{
	EVP_KDF		*kdf;
	EVP_KDF_CTX	*kctx = NULL;
	OSSL_PARAM	 p[5], *q = p;
	int		 rv = -1;

	if ((kdf = EVP_KDF_fetch(NULL, "HKDF", NULL)) == NULL ||
	    (kctx = EVP_KDF_CTX_new(kdf)) == NULL)
		goto out;
	*q++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
	    (char *)"SHA256", 0);
	*q++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
	    (void *)key, BACKUP_KEY_LEN);
	if (salt != NULL)
		*q++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT,
		    (void *)salt, saltlen);
	*q++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO,
	    (void *)info, strlen(info));
	*q = OSSL_PARAM_construct_end();
	if (EVP_KDF_derive(kctx, out, outlen, p) == 1)
		rv = 0;
out:
	EVP_KDF_CTX_free(kctx);
	EVP_KDF_free(kdf);
	return rv;
}

int
backup_key_id(const uint8_t key[BACKUP_KEY_LEN], uint8_t id[BACKUP_KEYID_LEN])
{
	return backup_hkdf(key, NULL, 0, BACKUP_INFO_ID, id,
	    BACKUP_KEYID_LEN);
}

static void
backup_header_encode(struct backup_header *h)
{
	uint8_t	*p = h->raw;
	size_t	 n = h->dblen;

	memcpy(p, backup_magic, BACKUP_MAGIC_LEN);
	backup_put16(p + 8, h->version);
	memcpy(p + 10, h->key_id, BACKUP_KEYID_LEN);
	backup_put64(p + 18, h->time);
	memcpy(p + 26, h->salt, BACKUP_SALT_LEN);
	backup_put32(p + 58, h->chunk_size);
	backup_put16(p + 62, (uint16_t)n);
	memcpy(p + BACKUP_HDR_FIXED, h->database, n);
	h->rawlen = BACKUP_HDR_FIXED + n;
}

int
backup_header_init(struct backup_header *h, const uint8_t key[BACKUP_KEY_LEN],
    const char *database, uint64_t time, struct backup_err *e)
{
	size_t	 n = strlen(database);

	memset(h, 0, sizeof(*h));
	if (n == 0 || n > BACKUP_DBNAME_MAX) {
		backup_err_set(e, "database name of %zu bytes (1 to %d)", n,
		    BACKUP_DBNAME_MAX);
		return -1;
	}
	h->version = BACKUP_VERSION;
	h->time = time;
	h->chunk_size = BACKUP_CHUNK;
	h->dblen = n;
	memcpy(h->database, database, n + 1);
	if (backup_key_id(key, h->key_id) == -1 ||
	    bw_random(h->salt, sizeof(h->salt)) == -1) {
		backup_err_set(e, "cannot derive the key id or draw the salt");
		return -1;
	}
	backup_header_encode(h);
	return 0;
}

int
backup_header_parse(struct backup_header *h, const uint8_t *p, size_t len,
    struct backup_err *e)
{
	size_t	 n;

	if (memcmp(p, backup_magic, BACKUP_MAGIC_LEN) != 0) {
		backup_err_set(e, "not a bulwark backup (no BWBACKUP magic)");
		return -1;
	}
	memset(h, 0, sizeof(*h));
	h->version = (uint16_t)backup_get(p + 8, 2);
	if (h->version != BACKUP_VERSION) {
		backup_err_set(e, "header: format version %u is not supported "
		    "(this bulwarkd reads version %d)", h->version,
		    BACKUP_VERSION);
		return -1;
	}
	memcpy(h->key_id, p + 10, BACKUP_KEYID_LEN);
	h->time = backup_get(p + 18, 8);
	memcpy(h->salt, p + 26, BACKUP_SALT_LEN);
	h->chunk_size = (uint32_t)backup_get(p + 58, 4);
	n = (size_t)backup_get(p + 62, 2);
	if (h->chunk_size < BACKUP_CHUNK_MIN ||
	    h->chunk_size > BACKUP_CHUNK_MAX) {
		backup_err_set(e, "header: chunk size %u out of range",
		    h->chunk_size);
		return -1;
	}
	if (n == 0 || n > BACKUP_DBNAME_MAX) {
		backup_err_set(e, "header: database name length %zu out of "
		    "range", n);
		return -1;
	}
	if (len < BACKUP_HDR_FIXED + n)
		return 0;
	memcpy(h->database, p + BACKUP_HDR_FIXED, n);
	h->dblen = n;
	if (memchr(h->database, '\0', n) != NULL ||
	    !bw_utf8_valid(h->database, n)) {
		backup_err_set(e, "header: the database name is not UTF-8 "
		    "text");
		return -1;
	}
	h->rawlen = BACKUP_HDR_FIXED + n;
	memcpy(h->raw, p, h->rawlen);
	return (int)h->rawlen;
}

/* One chunk for backup_gcm: in and out may not overlap. */
struct backup_chunk {
	uint64_t	 index;
	int		 final;
	const uint8_t	*in;
	size_t		 len;
	uint8_t		*out;
	uint8_t		*tag;
};

/*
 * One chunk through AES-256-GCM: seal (enc) or open.  Opening returns -1
 * when the tag does not verify.
 */
static int
backup_gcm(EVP_CIPHER_CTX *ctx, int enc, const uint8_t *key,
    const struct backup_header *h, const struct backup_chunk *c)
{
	uint8_t	 nonce[12] = { 0 }, ad[9];
	int	 outl, rv = -1;

	backup_put64(nonce + 4, c->index);
	backup_put64(ad, c->index);
	ad[8] = c->final ? 1 : 0;
	if (EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, nonce,
	    enc) != 1 ||
	    EVP_CipherUpdate(ctx, NULL, &outl, h->raw, (int)h->rawlen) != 1 ||
	    EVP_CipherUpdate(ctx, NULL, &outl, ad, sizeof(ad)) != 1 ||
	    (c->len > 0 && EVP_CipherUpdate(ctx, c->out, &outl, c->in,
	    (int)c->len) != 1))
		goto out;
	if (!enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG,
	    BACKUP_TAG_LEN, c->tag) != 1)
		goto out;
	if (EVP_CipherFinal_ex(ctx, c->out + c->len, &outl) != 1)
		goto out;
	if (enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG,
	    BACKUP_TAG_LEN, c->tag) != 1)
		goto out;
	rv = 0;
out:
	(void)EVP_CIPHER_CTX_reset(ctx);
	return rv;
}

/*
 * Sealer
 */
struct backup_sealer {
	struct backup_header	 h;
	uint8_t			 key[BACKUP_KEY_LEN];	/* the file key */
	EVP_CIPHER_CTX		*ctx;
	backup_sink		 sink;
	void			*arg;
	uint64_t		 index;
	uint8_t			*buf;		/* chunk_size plaintext */
	size_t			 len;
	uint8_t			*out;		/* chunk_size + tag */
	int			 done;
};

struct backup_sealer *
backup_sealer_new(const uint8_t key[BACKUP_KEY_LEN],
    const struct backup_header *h, backup_sink sink, void *arg,
    struct backup_err *e)
{
	struct backup_sealer	*s;

	s = bw_calloc(1, sizeof(*s));
	s->h = *h;
	s->sink = sink;
	s->arg = arg;
	s->buf = bw_malloc(h->chunk_size);
	s->out = bw_malloc((size_t)h->chunk_size + BACKUP_TAG_LEN);
	if ((s->ctx = EVP_CIPHER_CTX_new()) == NULL ||
	    backup_hkdf(key, h->salt, BACKUP_SALT_LEN, BACKUP_INFO_FILE,
	    s->key, sizeof(s->key)) == -1) {
		backup_err_set(e, "cannot set up AES-256-GCM");
		backup_sealer_free(s);
		return NULL;
	}
	if (sink(arg, h->raw, h->rawlen) == -1) {
		backup_err_set(e, "writing the header failed");
		backup_sealer_free(s);
		return NULL;
	}
	return s;
}

static int
backup_sealer_chunk(struct backup_sealer *s, int final, struct backup_err *e)
{
	struct backup_chunk	 c = { s->index, final, s->buf, s->len, s->out,
				    s->out + s->len };

	if (backup_gcm(s->ctx, 1, s->key, &s->h, &c) == -1) {
		backup_err_set(e, "encryption of chunk %llu failed",
		    (unsigned long long)s->index);
		return -1;
	}
	bw_wipe(s->buf, s->len);
	if (s->sink(s->arg, s->out, s->len + BACKUP_TAG_LEN) == -1) {
		backup_err_set(e, "writing chunk %llu failed",
		    (unsigned long long)s->index);
		return -1;
	}
	s->index++;
	s->len = 0;
	return 0;
}

/* Moves what fits of *p[0..*len) into buf, which holds *have of cap. */
static void
backup_fill(uint8_t *buf, size_t *have, size_t cap, const uint8_t **p,
    size_t *len)
{
	size_t	 n = cap - *have;

	if (n > *len)
		n = *len;
	memcpy(buf + *have, *p, n);
	*have += n;
	*p += n;
	*len -= n;
}

int
backup_sealer_update(struct backup_sealer *s, const void *in, size_t len,
    struct backup_err *e)
{
	const uint8_t	*p = in;

	if (s->done) {
		backup_err_set(e, "the sealer is finished");
		return -1;
	}
	while (len > 0) {
		/* A full chunk is sealed only when more follows it. */
		if (s->len == s->h.chunk_size &&
		    backup_sealer_chunk(s, 0, e) == -1)
			return -1;
		backup_fill(s->buf, &s->len, s->h.chunk_size, &p, &len);
	}
	return 0;
}

int
backup_sealer_finish(struct backup_sealer *s, struct backup_err *e)
{
	if (s->done) {
		backup_err_set(e, "the sealer is finished");
		return -1;
	}
	s->done = 1;
	return backup_sealer_chunk(s, 1, e);
}

void
backup_sealer_free(struct backup_sealer *s)
{
	if (s == NULL)
		return;
	EVP_CIPHER_CTX_free(s->ctx);
	bw_wipe(s->key, sizeof(s->key));
	bw_wipe(s->buf, s->h.chunk_size);
	free(s->buf);
	free(s->out);
	free(s);
}

/*
 * Opener
 */
struct backup_opener {
	uint8_t			 master[BACKUP_KEY_LEN];	/* backup key */
	uint8_t			 key[BACKUP_KEY_LEN];		/* file key */
	struct backup_header	 h;
	int			 have_header;
	uint8_t			 hbuf[BACKUP_HDR_MAX];
	size_t			 hlen;
	EVP_CIPHER_CTX		*ctx;
	backup_sink		 plain;
	void			*arg;
	uint64_t		 index;
	uint64_t		 plain_bytes;
	uint8_t			*buf;		/* one sealed chunk */
	size_t			 len;
	uint8_t			*out;
	int			 failed;
};

struct backup_opener *
backup_opener_new(const uint8_t key[BACKUP_KEY_LEN], backup_sink plain,
    void *arg)
{
	struct backup_opener	*o;

	o = bw_calloc(1, sizeof(*o));
	memcpy(o->master, key, BACKUP_KEY_LEN);
	o->plain = plain;
	o->arg = arg;
	return o;
}

static void
backup_hex8(const uint8_t *id, char *out)
{
	bw_hex_encode(id, BACKUP_KEYID_LEN, out);
}

/* The header is complete: check the key id, derive the file key. */
static int
backup_opener_start(struct backup_opener *o, struct backup_err *e)
{
	uint8_t	 id[BACKUP_KEYID_LEN];
	char	 want[2 * BACKUP_KEYID_LEN + 1], got[2 * BACKUP_KEYID_LEN + 1];

	if (backup_key_id(o->master, id) == -1) {
		backup_err_set(e, "cannot derive the key id");
		return -1;
	}
	if (!bw_ct_equal(id, o->h.key_id, sizeof(id))) {
		backup_hex8(o->h.key_id, got);
		backup_hex8(id, want);
		backup_err_set(e, "header: made with another backup key (key "
		    "id %s; the configured key has id %s), or the header was "
		    "changed", got, want);
		return -1;
	}
	if ((o->ctx = EVP_CIPHER_CTX_new()) == NULL ||
	    backup_hkdf(o->master, o->h.salt, BACKUP_SALT_LEN,
	    BACKUP_INFO_FILE, o->key, sizeof(o->key)) == -1) {
		backup_err_set(e, "cannot set up AES-256-GCM");
		return -1;
	}
	o->buf = bw_malloc((size_t)o->h.chunk_size + BACKUP_TAG_LEN);
	o->out = bw_malloc((size_t)o->h.chunk_size + BACKUP_TAG_LEN);
	o->have_header = 1;
	return 0;
}

/* Header bytes from in; returns how many were taken, -1 on error. */
static ssize_t
backup_opener_header_in(struct backup_opener *o, const uint8_t *in,
    size_t len, struct backup_err *e)
{
	size_t	 want, n;
	int	 r;

	want = o->hlen < BACKUP_HDR_FIXED ? BACKUP_HDR_FIXED :
	    BACKUP_HDR_FIXED + (size_t)backup_get(o->hbuf + 62, 2);
	if (want > BACKUP_HDR_MAX)
		want = BACKUP_HDR_MAX;
	n = want - o->hlen;
	if (n > len)
		n = len;
	memcpy(o->hbuf + o->hlen, in, n);
	o->hlen += n;
	if (o->hlen < BACKUP_HDR_FIXED)
		return (ssize_t)n;
	if ((r = backup_header_parse(&o->h, o->hbuf, o->hlen, e)) == -1)
		return -1;
	if (r > 0 && backup_opener_start(o, e) == -1)
		return -1;
	return (ssize_t)n;
}

/* Opens the buffered chunk; on failure, says precisely what is wrong. */
static int
backup_opener_chunk(struct backup_opener *o, int final, struct backup_err *e)
{
	size_t			 n = o->len - BACKUP_TAG_LEN;
	unsigned long long	 i = (unsigned long long)o->index;
	struct backup_chunk	 c = { o->index, final, o->buf, n, o->out,
				    o->buf + n };

	if (backup_gcm(o->ctx, 0, o->key, &o->h, &c) == 0) {
		o->index++;
		o->plain_bytes += n;
		o->len = 0;
		if (o->plain(o->arg, o->out, n) == -1) {
			backup_err_set(e, "the reader of chunk %llu failed", i);
			return -1;
		}
		bw_wipe(o->out, n);
		return 0;
	}
	bw_wipe(o->out, n);
	c.final = !final;
	if (backup_gcm(o->ctx, 0, o->key, &o->h, &c) == 0) {
		bw_wipe(o->out, n);
		if (final)
			backup_err_set(e, "truncated: the file ends after "
			    "chunk %llu, which is not the final chunk", i);
		else
			backup_err_set(e, "bytes appended: chunk %llu is the "
			    "final chunk but more data follows it", i);
		return -1;
	}
	bw_wipe(o->out, n);
	backup_err_set(e, "chunk %llu does not authenticate (changed, "
	    "reordered, duplicated, truncated or from another file)", i);
	return -1;
}

int
backup_opener_update(struct backup_opener *o, const void *in, size_t len,
    struct backup_err *e)
{
	const uint8_t	*p = in;
	size_t		 full;
	ssize_t		 used;

	if (o->failed)
		return -1;
	while (len > 0) {
		if (!o->have_header) {
			if ((used = backup_opener_header_in(o, p, len,
			    e)) == -1) {
				o->failed = 1;
				return -1;
			}
			p += used;
			len -= (size_t)used;
			continue;
		}
		full = (size_t)o->h.chunk_size + BACKUP_TAG_LEN;
		/* A full chunk with more data after it is not the last. */
		if (o->len == full && backup_opener_chunk(o, 0, e) == -1) {
			o->failed = 1;
			return -1;
		}
		backup_fill(o->buf, &o->len, full, &p, &len);
	}
	return 0;
}

int
backup_opener_finish(struct backup_opener *o, struct backup_err *e)
{
	if (o->failed)
		return -1;
	o->failed = 1;
	if (!o->have_header) {
		backup_err_set(e, o->hlen == 0 ? "empty file" :
		    "truncated inside the header");
		return -1;
	}
	if (o->len < BACKUP_TAG_LEN) {
		if (o->len == 0)
			backup_err_set(e, "truncated: the file ends after "
			    "chunk %llu, which is not the final chunk",
			    o->index == 0 ? 0ULL :
			    (unsigned long long)o->index - 1);
		else
			backup_err_set(e, "truncated: %zu bytes after chunk "
			    "%llu, fewer than a chunk's tag", o->len,
			    (unsigned long long)o->index);
		return -1;
	}
	if (backup_opener_chunk(o, 1, e) == -1)
		return -1;
	o->failed = 0;
	return 0;
}

const struct backup_header *
backup_opener_header(const struct backup_opener *o)
{
	return o->have_header ? &o->h : NULL;
}

uint64_t
backup_opener_chunks(const struct backup_opener *o)
{
	return o->index;
}

uint64_t
backup_opener_plain_bytes(const struct backup_opener *o)
{
	return o->plain_bytes;
}

void
backup_opener_free(struct backup_opener *o)
{
	size_t	 full;

	if (o == NULL)
		return;
	full = (size_t)o->h.chunk_size + BACKUP_TAG_LEN;
	EVP_CIPHER_CTX_free(o->ctx);
	bw_wipe(o->master, sizeof(o->master));
	bw_wipe(o->key, sizeof(o->key));
	bw_wipe(o->out, full);
	free(o->buf);
	free(o->out);
	free(o);
}

/*
 * Manifest
 */
int
backup_time_text(uint64_t t, char *buf)
{
	struct tm	 tm;
	time_t		 tt = (time_t)t;

	if (gmtime_r(&tt, &tm) == NULL ||
	    strftime(buf, BACKUP_TIME_LEN + 1, "%Y-%m-%dT%H:%M:%SZ", &tm) !=
	    BACKUP_TIME_LEN)
		return -1;
	return 0;
}

static int
backup_manifest_mac(const uint8_t key[BACKUP_KEY_LEN], const char *buf,
    size_t len, char hex[65])
{
	uint8_t		 mk[BACKUP_KEY_LEN], mac[32];
	unsigned int	 maclen = 0;
	int		 rv = -1;

	if (backup_hkdf(key, NULL, 0, BACKUP_INFO_MANIFEST, mk,
	    sizeof(mk)) == 0 && HMAC(EVP_sha256(), mk, sizeof(mk),
	    (const unsigned char *)buf, len, mac, &maclen) != NULL &&
	    maclen == sizeof(mac)) {
		bw_hex_encode(mac, sizeof(mac), hex);
		rv = 0;
	}
	bw_wipe(mk, sizeof(mk));
	return rv;
}

char *
backup_manifest_encode(const uint8_t key[BACKUP_KEY_LEN],
    const struct backup_manifest *m, size_t *lenp, struct backup_err *e)
{
	json_t	*o;
	char	*body, *out = NULL, hex[65];
	size_t	 len;

	o = json_pack("{s:i, s:s, s:s, s:I, s:s, s:s}", "format", m->format,
	    "time", m->time, "database", m->database, "bytes",
	    (json_int_t)m->bytes, "sha256", m->sha256, "pg_dump", m->pg_dump);
	body = o != NULL ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) :
	    NULL;
	json_decref(o);
	if (body == NULL || (len = strlen(body)) < 2 ||
	    body[len - 1] != '}' || len + BACKUP_HMAC_TAIL + 1 >
	    BACKUP_MANIFEST_MAX) {
		backup_err_set(e, "cannot encode the manifest");
		free(body);
		return NULL;
	}
	len--;
	if (backup_manifest_mac(key, body, len, hex) == 0) {
		out = bw_malloc(len + BACKUP_HMAC_TAIL + 2);
		memcpy(out, body, len);
		(void)snprintf(out + len, BACKUP_HMAC_TAIL + 2, "%s%s\"}\n",
		    BACKUP_HMAC_SUFFIX, hex);
		*lenp = len + BACKUP_HMAC_TAIL + 1;
	} else
		backup_err_set(e, "cannot compute the manifest hmac");
	free(body);
	return out;
}

/* The object's members, exactly those of the format, into m. */
static int
backup_manifest_fields(json_t *o, struct backup_manifest *m,
    struct backup_err *e)
{
	const char	*t, *d, *s, *v, *h;
	json_int_t	 fmt, bytes;

	if (json_unpack(o, "{s:I, s:s, s:s, s:I, s:s, s:s, s:s !}", "format",
	    &fmt, "time", &t, "database", &d, "bytes", &bytes, "sha256", &s,
	    "pg_dump", &v, "hmac", &h) != 0) {
		backup_err_set(e, "manifest: members missing, extra or of the "
		    "wrong type");
		return -1;
	}
	if (fmt != BACKUP_VERSION || bytes < 0 ||
	    strlen(t) != BACKUP_TIME_LEN || strlen(d) > BACKUP_DBNAME_MAX ||
	    strlen(s) != 64 || strlen(v) > BACKUP_PGDUMP_MAX) {
		backup_err_set(e, "manifest: a member is out of range");
		return -1;
	}
	m->format = (int)fmt;
	m->bytes = (uint64_t)bytes;
	memcpy(m->time, t, BACKUP_TIME_LEN + 1);
	memcpy(m->database, d, strlen(d) + 1);
	memcpy(m->sha256, s, 65);
	memcpy(m->pg_dump, v, strlen(v) + 1);
	return 0;
}

int
backup_manifest_decode(const uint8_t key[BACKUP_KEY_LEN], const char *buf,
    size_t len, struct backup_manifest *m, struct backup_err *e)
{
	char		 hex[65];
	size_t		 body;
	json_t		*o;
	json_error_t	 je;
	int		 rv;

	if (len > 0 && buf[len - 1] == '\n')
		len--;
	if (len > BACKUP_MANIFEST_MAX || len < BACKUP_HMAC_TAIL + 2) {
		backup_err_set(e, "manifest: %zu bytes, not a manifest", len);
		return -1;
	}
	body = len - BACKUP_HMAC_TAIL;
	if (memcmp(buf + body, BACKUP_HMAC_SUFFIX,
	    sizeof(BACKUP_HMAC_SUFFIX) - 1) != 0 ||
	    memcmp(buf + len - 2, "\"}", 2) != 0) {
		backup_err_set(e, "manifest: hmac is not its last member");
		return -1;
	}
	if (backup_manifest_mac(key, buf, body, hex) == -1) {
		backup_err_set(e, "manifest: cannot compute the hmac");
		return -1;
	}
	if (!bw_ct_equal(hex, buf + body + sizeof(BACKUP_HMAC_SUFFIX) - 1,
	    64)) {
		backup_err_set(e, "manifest: hmac mismatch (the manifest was "
		    "changed, or made with another key)");
		return -1;
	}
	if ((o = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je)) == NULL) {
		backup_err_set(e, "manifest: not JSON: %s", je.text);
		return -1;
	}
	rv = backup_manifest_fields(o, m, e);
	json_decref(o);
	return rv;
}
