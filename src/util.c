/*
 * util.c - small shared helpers.
 *
 * The encoders and unit parsers here see configuration text and request
 * bytes alike: they bound every loop by the given length, refuse any
 * non-canonical form and never allocate from attacker-controlled sizes.
 */
#include <sys/time.h>

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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
bw_now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
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

static const char b64url_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

size_t
bw_b64url_encoded_len(size_t n)
{
	return (n / 3) * 4 + (n % 3 == 0 ? 0 : n % 3 + 1);
}

/* Encodes without padding; out must hold bw_b64url_encoded_len(n) + 1. */
size_t
bw_b64url_encode(const unsigned char *in, size_t n, char *out)
{
	size_t		 i, o = 0;
	uint32_t	 v;

	for (i = 0; i + 2 < n; i += 3) {
		v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		out[o++] = b64url_alphabet[(v >> 18) & 63];
		out[o++] = b64url_alphabet[(v >> 12) & 63];
		out[o++] = b64url_alphabet[(v >> 6) & 63];
		out[o++] = b64url_alphabet[v & 63];
	}
	if (n - i == 1) {
		v = (uint32_t)in[i] << 16;
		out[o++] = b64url_alphabet[(v >> 18) & 63];
		out[o++] = b64url_alphabet[(v >> 12) & 63];
	} else if (n - i == 2) {
		v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
		out[o++] = b64url_alphabet[(v >> 18) & 63];
		out[o++] = b64url_alphabet[(v >> 12) & 63];
		out[o++] = b64url_alphabet[(v >> 6) & 63];
	}
	out[o] = '\0';
	return o;
}

static int
b64url_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

/*
 * Strict base64url without padding: a length of 1 mod 4, a character
 * outside the alphabet, '=' padding or non-zero stray bits in the last
 * character are all refused, so every byte string has exactly one encoding.
 */
int
bw_b64url_decode(const char *in, size_t n, unsigned char *out, size_t outsz,
    size_t *outlen)
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
		if ((v = b64url_value((unsigned char)in[i])) < 0)
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

/*
 * Returns the length of the well-formed UTF-8 sequence at s (1-4), or 0 when
 * it is malformed: overlong forms, surrogates and values past U+10FFFF are
 * refused.
 */
static size_t
utf8_seq(const unsigned char *s, size_t n)
{
	unsigned char	 c = s[0];

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		return n >= 2 && (s[1] & 0xc0) == 0x80 ? 2 : 0;
	if (c >= 0xe0 && c <= 0xef) {
		if (n < 3 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80)
			return 0;
		if (c == 0xe0 && s[1] < 0xa0)
			return 0;
		if (c == 0xed && s[1] >= 0xa0)
			return 0;
		return 3;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		if (n < 4 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 ||
		    (s[3] & 0xc0) != 0x80)
			return 0;
		if (c == 0xf0 && s[1] < 0x90)
			return 0;
		if (c == 0xf4 && s[1] >= 0x90)
			return 0;
		return 4;
	}
	return 0;
}

bool
bw_utf8_valid(const char *s, size_t n)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 i = 0, k;

	while (i < n) {
		if ((k = utf8_seq(p + i, n - i)) == 0)
			return false;
		i += k;
	}
	return true;
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
split_number(const char *s, uint64_t *num, const char **unit)
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
parse_with_units(const char *s, const struct unit *units, size_t nunits,
    uint64_t *out)
{
	const char	*unit;
	uint64_t	 num;
	size_t		 i;

	if (split_number(s, &num, &unit) == -1)
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

static const struct unit duration_units[] = {
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
	if (parse_with_units(s, duration_units, BW_ARRAY_LEN(duration_units),
	    &v) == -1) {
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

static const struct unit size_units[] = {
	{ "", 1 },
	{ "B", 1 },
	{ "KiB", 1024 },
	{ "MiB", UINT64_C(1024) * 1024 },
	{ "GiB", UINT64_C(1024) * 1024 * 1024 },
};

int
bw_parse_size(const char *s, uint64_t *bytes, const char **err)
{
	if (parse_with_units(s, size_units, BW_ARRAY_LEN(size_units),
	    bytes) == -1) {
		*err = "invalid size (an integer with B, KiB, MiB or GiB)";
		return -1;
	}
	return 0;
}

static const struct unit rate_units[] = {
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
	if (split_number(s, &num, &unit) == -1 || num == 0 ||
	    num > UINT32_MAX)
		return -1;
	for (i = 0; i < BW_ARRAY_LEN(rate_units); i++) {
		if (strcmp(unit, rate_units[i].name) == 0) {
			*count = (uint32_t)num;
			*per_ms = (uint32_t)rate_units[i].factor;
			return 0;
		}
	}
	return -1;
}

/* Appends a complete entry; the list owns its strings from then on. */
static void
diag_append(struct bw_diag *d, const struct bw_diag_entry *e)
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
diag_seen(const struct bw_diag *d, int warning, const char *file, int line,
    int col, const char *msg)
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
diag_vadd(struct bw_diag *d, int warning, const char *file, int line, int col,
    const char *fmt, va_list ap)
{
	struct bw_diag_entry	 e;
	char			 msg[512];

	if (!warning) {
		if (d->errors >= BW_DIAG_MAX) {
			d->overflow = true;
			return;
		}
		d->errors++;
	}
	bw_vformat(msg, sizeof(msg), fmt, ap);
	line = line > 0 ? line : 1;
	col = col > 0 ? col : 1;
	file = file != NULL ? file : "-";
	if (diag_seen(d, warning, file, line, col, msg))
		return;
	e.file = bw_strdup(file);
	e.line = line;
	e.col = col;
	e.warning = warning;
	e.msg = bw_strdup(msg);
	diag_append(d, &e);
}

void
bw_diag_add(struct bw_diag *d, const char *file, int line, int col,
    const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	diag_vadd(d, 0, file, line, col, fmt, ap);
	va_end(ap);
}

void
bw_diag_warn(struct bw_diag *d, const char *file, int line, int col,
    const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	diag_vadd(d, 1, file, line, col, fmt, ap);
	va_end(ap);
}

static int
diag_cmp(const void *a, const void *b)
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

		for (j = i; j > 0 && diag_cmp(&d->v[j - 1], &e) > 0; j--)
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
