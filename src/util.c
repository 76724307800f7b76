/*
 * util.c - small shared helpers.
 *
 * The encoders and unit parsers here see configuration text and request
 * bytes alike: they bound every loop by the given length, refuse any
 * non-canonical form and never allocate from attacker-controlled sizes.
 */
#include <sys/socket.h>
#include <sys/time.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "log.h"
#include "util.h"

void *
bw_malloc(size_t n)
{
	void	*p;

	if ((p = malloc(n == 0 ? 1 : n)) == NULL)
		fatal("out of memory (%zu bytes)", n);
	return p;
}

void *
bw_calloc(size_t nmemb, size_t size)
{
	void	*p;

	if ((p = calloc(nmemb == 0 ? 1 : nmemb, size == 0 ? 1 : size)) == NULL)
		fatal("out of memory (%zu x %zu bytes)", nmemb, size);
	return p;
}

void *
bw_reallocarray(void *ptr, size_t nmemb, size_t size)
{
	void	*p;

	if (size != 0 && nmemb > SIZE_MAX / size)
		fatal("allocation overflow (%zu x %zu bytes)", nmemb, size);
	if ((p = realloc(ptr, nmemb * size == 0 ? 1 : nmemb * size)) == NULL)
		fatal("out of memory (%zu x %zu bytes)", nmemb, size);
	return p;
}

char *
bw_strdup(const char *s)
{
	return bw_strndup(s, strlen(s));
}

char *
bw_strndup(const char *s, size_t n)
{
	char	*p;

	p = bw_malloc(n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

void
bw_wipe(void *p, size_t n)
{
	if (p != NULL && n > 0)
		OPENSSL_cleanse(p, n);
}

long
bw_read_text(int dirfd, const char *path, int flags, char *buf, size_t size)
{
	ssize_t	 n;
	int	 fd;

	if (size == 0 ||
	    (fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | flags)) == -1)
		return -1;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	return (long)n;
}

ssize_t
bw_recv_some(int fd, void *buf, size_t len)
{
	ssize_t	 n;

	do
		n = recv(fd, buf, len, MSG_DONTWAIT);
	while (n == -1 && errno == EINTR);
	if (n > 0)
		return n;
	if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return 0;
	if (n == 0)
		errno = 0;
	return -1;
}

bool
bw_ct_equal(const void *a, const void *b, size_t n)
{
	return CRYPTO_memcmp(a, b, n) == 0;
}

int
bw_random(void *buf, size_t n)
{
	if (n > INT_MAX)
		return -1;
	return RAND_bytes(buf, (int)n) == 1 ? 0 : -1;
}

int64_t
bw_clock_us(clockid_t clock)
{
	struct timespec	 ts;

	clock_gettime(clock, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t
bw_now_ms(void)
{
	return bw_clock_us(CLOCK_MONOTONIC) / 1000;
}

void
bw_ms_to_tv(int64_t ms, struct timeval *tv)
{
	tv->tv_sec = (time_t)(ms / 1000);
	tv->tv_usec = (suseconds_t)((ms % 1000) * 1000);
}

size_t
bw_strlcpy(char *dst, const char *src, size_t dstsz)
{
	size_t	 len = strlen(src);

	if (dstsz > 0) {
		size_t	 n = len < dstsz - 1 ? len : dstsz - 1;

		memcpy(dst, src, n);
		dst[n] = '\0';
	}
	return len;
}

bool
bw_vformat(char *buf, size_t bufsz, const char *fmt, va_list ap)
{
	static const char	 cut[] = "...";
	size_t			 end;
	int			 n;

	n = vsnprintf(buf, bufsz, fmt, ap);
	if (n >= 0 && (size_t)n < bufsz)
		return true;
	if (bufsz < sizeof(cut)) {
		if (bufsz > 0)
			buf[0] = '\0';
		return false;
	}
	if (n < 0) {
		bw_strlcpy(buf, "?", bufsz);
		return false;
	}
	/* Cut before a continuation byte so the text stays UTF-8. */
	end = bufsz - sizeof(cut);
	while (end > 0 && ((unsigned char)buf[end] & 0xc0) == 0x80)
		end--;
	memcpy(buf + end, cut, sizeof(cut));
	return false;
}

bool
bw_format(char *buf, size_t bufsz, const char *fmt, ...)
{
	va_list	 ap;
	bool	 fit;

	va_start(ap, fmt);
	fit = bw_vformat(buf, bufsz, fmt, ap);
	va_end(ap);
	return fit;
}

void
bw_hex_encode(const unsigned char *in, size_t n, char *out)
{
	static const char	 hex[] = "0123456789abcdef";
	size_t			 i;

	for (i = 0; i < n; i++) {
		out[2 * i] = hex[in[i] >> 4];
		out[2 * i + 1] = hex[in[i] & 0x0f];
	}
	out[2 * n] = '\0';
}

static const char util_b64url_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
static const char util_b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t
bw_b64url_encoded_len(size_t n)
{
	return (n / 3) * 4 + (n % 3 == 0 ? 0 : n % 3 + 1);
}

/* Encodes without padding; out must hold bw_b64url_encoded_len(n) + 1. */
static size_t
util_b64_encode(const char *alphabet, const unsigned char *in, size_t n,
    char *out)
{
	size_t		 i, o = 0;
	uint32_t	 v;

	for (i = 0; i + 2 < n; i += 3) {
		v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		out[o++] = alphabet[(v >> 18) & 63];
		out[o++] = alphabet[(v >> 12) & 63];
		out[o++] = alphabet[(v >> 6) & 63];
		out[o++] = alphabet[v & 63];
	}
	if (n - i == 1) {
		v = (uint32_t)in[i] << 16;
		out[o++] = alphabet[(v >> 18) & 63];
		out[o++] = alphabet[(v >> 12) & 63];
	} else if (n - i == 2) {
		v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
		out[o++] = alphabet[(v >> 18) & 63];
		out[o++] = alphabet[(v >> 12) & 63];
		out[o++] = alphabet[(v >> 6) & 63];
	}
	out[o] = '\0';
	return o;
}

size_t
bw_b64url_encode(const unsigned char *in, size_t n, char *out)
{
	return util_b64_encode(util_b64url_alphabet, in, n, out);
}

size_t
bw_b64_encode(const unsigned char *in, size_t n, char *out)
{
	return util_b64_encode(util_b64_alphabet, in, n, out);
}

/* The value of c in the alphabet whose last two characters are c62, c63. */
static int
util_b64_value(unsigned char c, char c62, char c63)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == (unsigned char)c62)
		return 62;
	if (c == (unsigned char)c63)
		return 63;
	return -1;
}

/*
 * Strict unpadded base64: a length of 1 mod 4, a character outside the
 * alphabet, '=' padding or non-zero stray bits in the last character are
 * all refused, so every byte string has exactly one encoding.
 */
static int
util_b64_decode(const char *alphabet, const char *in, size_t n,
    unsigned char *out, size_t outsz, size_t *outlen)
{
	size_t		 i, o = 0, need;
	uint32_t	 acc = 0;
	int		 bits = 0, v;

	if (n % 4 == 1)
		return -1;
	need = n / 4 * 3 + (n % 4 == 0 ? 0 : n % 4 - 1);
	if (need > outsz)
		return -1;
	for (i = 0; i < n; i++) {
		if ((v = util_b64_value((unsigned char)in[i], alphabet[62],
		    alphabet[63])) < 0)
			return -1;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(acc >> bits);
			acc &= (1U << bits) - 1;
		}
	}
	if (acc != 0)
		return -1;
	*outlen = o;
	return 0;
}

int
bw_b64url_decode(const char *in, size_t n, unsigned char *out, size_t outsz,
    size_t *outlen)
{
	return util_b64_decode(util_b64url_alphabet, in, n, out, outsz,
	    outlen);
}

int
bw_b64_decode(const char *in, size_t n, unsigned char *out, size_t outsz,
    size_t *outlen)
{
	return util_b64_decode(util_b64_alphabet, in, n, out, outsz, outlen);
}

size_t
bw_utf8_seq(const unsigned char *p, size_t avail, uint32_t *cp)
{
	unsigned char	 lo = 0x80, hi = 0xbf;
	size_t		 n, i;
	uint32_t	 v;

	if (p[0] < 0x80) {
		*cp = p[0];
		return 1;
	}
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		n = 2;
		v = p[0] & 0x1f;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		n = 3;
		v = p[0] & 0x0f;
		lo = p[0] == 0xe0 ? 0xa0 : 0x80;
		hi = p[0] == 0xed ? 0x9f : 0xbf;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		n = 4;
		v = p[0] & 0x07;
		lo = p[0] == 0xf0 ? 0x90 : 0x80;
		hi = p[0] == 0xf4 ? 0x8f : 0xbf;
	} else
		return 0;
	if (n > avail || p[1] < lo || p[1] > hi)
		return 0;
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		v = v << 6 | (p[i] & 0x3f);
	}
	*cp = v;
	return n;
}

size_t
bw_utf8_scan(const char *s, size_t n)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 i = 0, k;
	uint32_t		 cp;

	while (i < n) {
		if (p[i] < 0x80) {
			i++;
			continue;
		}
		if ((k = bw_utf8_seq(p + i, n - i, &cp)) == 0)
			return i;
		i += k;
	}
	return n;
}

bool
bw_utf8_valid(const char *s, size_t n)
{
	return bw_utf8_scan(s, n) == n;
}

size_t
bw_utf8_len(const char *s, size_t n)
{
	size_t	 i, count = 0;

	for (i = 0; i < n; i++)
		if (((unsigned char)s[i] & 0xc0) != 0x80)
			count++;
	return count;
}

/*
 * Parses a decimal unsigned integer (no sign, no leading zeros except "0",
 * digits only) not above max.
 */
int
bw_parse_uint(const char *s, uint64_t max, uint64_t *out)
{
	uint64_t	 v = 0;
	size_t		 i;

	if (s[0] == '\0' || (s[0] == '0' && s[1] != '\0'))
		return -1;
	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		if (v > (max - (uint64_t)(s[i] - '0')) / 10)
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = v;
	return 0;
}

/* Splits "123unit" into its number and unit; the number must be there. */
static int
util_split_number(const char *s, uint64_t *num, const char **unit)
{
	char	 digits[24];
	size_t	 i;

	for (i = 0; s[i] >= '0' && s[i] <= '9'; i++)
		if (i + 1 >= sizeof(digits))
			return -1;
	if (i == 0)
		return -1;
	memcpy(digits, s, i);
	digits[i] = '\0';
	if (bw_parse_uint(digits, UINT64_MAX, num) == -1)
		return -1;
	*unit = s + i;
	return 0;
}

struct unit {
	const char	*name;
	uint64_t	 factor;
};

static int
util_parse_with_units(const char *s, const struct unit *units, size_t nunits,
    uint64_t *out)
{
	const char	*unit;
	uint64_t	 num;
	size_t		 i;

	if (util_split_number(s, &num, &unit) == -1)
		return -1;
	for (i = 0; i < nunits; i++) {
		if (strcmp(unit, units[i].name) != 0)
			continue;
		if (num > UINT64_MAX / units[i].factor)
			return -1;
		*out = num * units[i].factor;
		return 0;
	}
	return -1;
}

static const struct unit util_duration_units[] = {
	{ "ms", 1 },
	{ "s", 1000 },
	{ "m", UINT64_C(60) * 1000 },
	{ "h", UINT64_C(60) * 60 * 1000 },
	{ "d", UINT64_C(24) * 60 * 60 * 1000 },
};

/* Durations are capped at ~100 years so they fit any timer arithmetic. */
#define BW_DURATION_MAX_MS	(100ULL * 365 * 24 * 60 * 60 * 1000)

int
bw_parse_duration(const char *s, int64_t *ms, const char **err)
{
	uint64_t	 v;

	if (strcmp(s, "0") == 0) {
		*ms = 0;
		return 0;
	}
	if (util_parse_with_units(s, util_duration_units,
	    BW_ARRAY_LEN(util_duration_units), &v) == -1) {
		*err = "invalid duration (an integer with ms, s, m, h or d, "
		    "or 0)";
		return -1;
	}
	if (v > BW_DURATION_MAX_MS) {
		*err = "duration too large";
		return -1;
	}
	*ms = (int64_t)v;
	return 0;
}

static const struct unit util_size_units[] = {
	{ "", 1 },
	{ "B", 1 },
	{ "KiB", 1024 },
	{ "MiB", UINT64_C(1024) * 1024 },
	{ "GiB", UINT64_C(1024) * 1024 * 1024 },
};

int
bw_parse_size(const char *s, uint64_t *bytes, const char **err)
{
	if (util_parse_with_units(s, util_size_units,
	    BW_ARRAY_LEN(util_size_units), bytes) == -1) {
		*err = "invalid size (an integer with B, KiB, MiB or GiB)";
		return -1;
	}
	return 0;
}

static const struct unit util_rate_units[] = {
	{ "/s", 1000 },
	{ "/m", UINT64_C(60) * 1000 },
	{ "/h", UINT64_C(60) * 60 * 1000 },
};

int
bw_parse_rate(const char *s, uint32_t *count, uint32_t *per_ms,
    const char **err)
{
	const char	*unit;
	uint64_t	 num;
	size_t		 i;

	*err = "invalid rate (N/s, N/m or N/h with N >= 1)";
	if (util_split_number(s, &num, &unit) == -1 || num == 0 ||
	    num > UINT32_MAX)
		return -1;
	for (i = 0; i < BW_ARRAY_LEN(util_rate_units); i++) {
		if (strcmp(unit, util_rate_units[i].name) == 0) {
			*count = (uint32_t)num;
			*per_ms = (uint32_t)util_rate_units[i].factor;
			return 0;
		}
	}
	return -1;
}

/* Appends a complete entry; the list owns its strings from then on. */
static void
util_diag_append(struct bw_diag *d, const struct bw_diag_entry *e)
{
	d->v = bw_reallocarray(d->v, d->n + 1, sizeof(*d->v));
	d->v[d->n++] = *e;
}

/*
 * The same message at the same place is printed once: a schema used in
 * several places is compiled more than once, but its errors are one error
 * each for the reader.  It still counts, so every caller sees it failed.
 */
static bool
util_diag_seen(const struct bw_diag *d, int warning, const char *file,
    int line, int col, const char *msg)
{
	size_t	 i;

	for (i = 0; i < d->n; i++)
		if (d->v[i].line == line && d->v[i].col == col &&
		    d->v[i].warning == warning &&
		    strcmp(d->v[i].msg, msg) == 0 &&
		    strcmp(d->v[i].file, file) == 0)
			return true;
	return false;
}

static void
util_diag_put(struct bw_diag *d, int warning, const char *file, int line,
    int col, const char *msg)
{
	struct bw_diag_entry	 e;

	line = line > 0 ? line : 1;
	col = col > 0 ? col : 1;
	file = file != NULL ? file : "-";
	if (util_diag_seen(d, warning, file, line, col, msg))
		return;
	e.file = bw_strdup(file);
	e.line = line;
	e.col = col;
	e.warning = warning;
	e.msg = bw_strdup(msg);
	util_diag_append(d, &e);
}

void
bw_diag_add(struct bw_diag *d, const char *file, int line, int col,
    const char *fmt, ...)
{
	va_list	 ap;
	char	 msg[512];

	if (d->errors >= BW_DIAG_MAX) {
		d->overflow = true;
		return;
	}
	d->errors++;
	va_start(ap, fmt);
	bw_vformat(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	util_diag_put(d, 0, file, line, col, msg);
}

void
bw_diag_warn(struct bw_diag *d, const char *file, int line, int col,
    const char *msg)
{
	util_diag_put(d, 1, file, line, col, msg);
}

static int
util_diag_cmp(const void *a, const void *b)
{
	const struct bw_diag_entry	*x = a, *y = b;
	int				 c;

	if ((c = strcmp(x->file, y->file)) != 0)
		return c;
	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	if (x->col != y->col)
		return x->col < y->col ? -1 : 1;
	return 0;
}

/*
 * Prints in file order: an insertion sort by position (at most BW_DIAG_MAX
 * entries) that keeps entries at the same position in the order found.
 */
void
bw_diag_print(struct bw_diag *d, FILE *fp)
{
	size_t	 i, j;

	for (i = 1; i < d->n; i++) {
		struct bw_diag_entry	 e = d->v[i];

		for (j = i; j > 0 && util_diag_cmp(&d->v[j - 1], &e) > 0; j--)
			d->v[j] = d->v[j - 1];
		d->v[j] = e;
	}
	for (i = 0; i < d->n; i++)
		fprintf(fp, "%s:%d:%d: %s%s\n", d->v[i].file, d->v[i].line,
		    d->v[i].col, d->v[i].warning ? "warning: " : "",
		    d->v[i].msg);
	if (d->overflow)
		fprintf(fp, "too many errors; stopped after %d\n",
		    BW_DIAG_MAX);
}

void
bw_diag_free(struct bw_diag *d)
{
	size_t	 i;

	for (i = 0; i < d->n; i++) {
		free(d->v[i].file);
		free(d->v[i].msg);
	}
	free(d->v);
	memset(d, 0, sizeof(*d));
}
