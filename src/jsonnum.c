/*
 * jsonnum.c - exact decimal arithmetic on JSON number lexemes.
 *
 * A lexeme -?I(.F)?(e[+-]?X)? is read as the digit string S = I F times
 * 10^(X - |F|).  With leading zeros of S skipped (lead) and trailing ones
 * folded into the exponent, the value is D * 10^e where D has nd digits,
 * none leading or trailing zero.  The magnitude order of two values is the
 * order of (nd + e) and then of their digits, which is all jnum_cmp needs.
 */
#include <string.h>

#include "jsonnum.h"

static size_t
jnum_span_digits(const char *s, size_t i, size_t len)
{
	while (i < len && s[i] >= '0' && s[i] <= '9')
		i++;
	return i;
}

static int
jnum_exponent(const char *s, size_t i, size_t len, int64_t *out)
{
	int64_t	x = 0;
	bool	neg = false;
	size_t	d;

	if (i < len && (s[i] == '+' || s[i] == '-'))
		neg = s[i++] == '-';
	d = jnum_span_digits(s, i, len);
	if (d == i || d != len)
		return -1;
	for (; i < d; i++) {
		x = x * 10 + (s[i] - '0');
		if (x > JNUM_EXP_MAX)
			x = JNUM_EXP_MAX;
	}
	*out = neg ? -x : x;
	return 0;
}

static int
jnum_raw(const struct jnum *n, size_t idx)
{
	return idx < n->il ? n->ip[idx] - '0' : n->fp[idx - n->il] - '0';
}

int
jnum_parse(struct jnum *n, const char *s, size_t len)
{
	size_t	i = 0, d, total, trail = 0;
	int64_t	x = 0;

	memset(n, 0, sizeof(*n));
	if (i < len && s[i] == '-')
		n->neg = s[i++] == '-';
	d = jnum_span_digits(s, i, len);
	if (d == i || (s[i] == '0' && d > i + 1))
		return -1;
	n->ip = s + i;
	n->il = d - i;
	i = d;
	if (i < len && s[i] == '.') {
		d = jnum_span_digits(s, i + 1, len);
		if (d == i + 1)
			return -1;
		n->fp = s + i + 1;
		n->fl = d - i - 1;
		i = d;
	}
	if (i < len && (s[i] == 'e' || s[i] == 'E')) {
		if (jnum_exponent(s, i + 1, len, &x) == -1)
			return -1;
	} else if (i != len)
		return -1;
	total = n->il + n->fl;
	while (n->lead < total && jnum_raw(n, n->lead) == 0)
		n->lead++;
	if (n->lead == total) {
		n->neg = false;
		return 0;
	}
	while (jnum_raw(n, total - 1 - trail) == 0)
		trail++;
	n->nd = total - n->lead - trail;
	n->e = x - (int64_t)n->fl + (int64_t)trail;
	return 0;
}

int
jnum_digit(const struct jnum *n, size_t i)
{
	return i < n->nd ? jnum_raw(n, n->lead + i) : 0;
}

static int
jnum_cmp_mag(const struct jnum *a, const struct jnum *b)
{
	int64_t	ma, mb;
	size_t	i, nd;
	int	da, db;

	if (a->nd == 0 || b->nd == 0)
		return (a->nd != 0) - (b->nd != 0);
	ma = (int64_t)a->nd + a->e;
	mb = (int64_t)b->nd + b->e;
	if (ma != mb)
		return ma < mb ? -1 : 1;
	nd = a->nd > b->nd ? a->nd : b->nd;
	for (i = 0; i < nd; i++) {
		da = jnum_digit(a, i);
		db = jnum_digit(b, i);
		if (da != db)
			return da < db ? -1 : 1;
	}
	return 0;
}

int
jnum_cmp(const struct jnum *a, const struct jnum *b)
{
	int	r;

	if (a->neg != b->neg)
		return a->neg ? -1 : 1;
	r = jnum_cmp_mag(a, b);
	return a->neg ? -r : r;
}

bool
jnum_is_integer(const struct jnum *n)
{
	return n->nd == 0 || n->e >= 0;
}

bool
jnum_in_int64(const struct jnum *n)
{
	static const char	max[] = "9223372036854775807";
	size_t			i;
	int			d, m;

	if (!jnum_is_integer(n))
		return false;
	if (n->nd == 0)
		return true;
	if ((int64_t)n->nd + n->e != 19)
		return (int64_t)n->nd + n->e < 19;
	for (i = 0; i < 19; i++) {
		d = jnum_digit(n, i);
		m = max[i] - '0' + (i == 18 && n->neg);
		if (d != m)
			return d < m;
	}
	return true;
}

int
jnum_canonical(const struct jnum *n, char *out, size_t outsz)
{
	size_t	i, o = 0, total;

	if (!jnum_in_int64(n))
		return -1;
	if (n->nd == 0) {
		if (outsz < 2)
			return -1;
		out[0] = '0';
		out[1] = '\0';
		return 1;
	}
	total = n->nd + (size_t)n->e;
	if (outsz < total + 2)
		return -1;
	if (n->neg)
		out[o++] = '-';
	for (i = 0; i < total; i++)
		out[o++] = (char)('0' + jnum_digit(n, i));
	out[o] = '\0';
	return (int)o;
}

int
jnum_divisor(const struct jnum *n, uint64_t *dm, int64_t *em)
{
	uint64_t	v = 0;
	size_t		i;

	if (n->neg || n->nd == 0 || n->nd > JNUM_MULTIPLE_DIGITS)
		return -1;
	for (i = 0; i < n->nd; i++)
		v = v * 10 + (uint64_t)jnum_digit(n, i);
	*dm = v;
	*em = n->e;
	return 0;
}

static uint64_t
jnum_mulmod(uint64_t a, uint64_t b, uint64_t m)
{
	return (uint64_t)(((unsigned __int128)a * b) % m);
}

/*
 * x = D * 10^e is a multiple of m = dm * 10^em iff D * 10^(e - em) is a
 * multiple of dm.  When e < em it cannot be: D has no trailing zero, so it
 * is not divisible by 10^(em - e).  Otherwise reduce D modulo dm digit by
 * digit and multiply by 10^(e - em) mod dm (square and multiply).
 */
bool
jnum_multiple_of(const struct jnum *x, uint64_t dm, int64_t em)
{
	uint64_t	r = 0, p = 1, b = 10 % dm;
	uint64_t	k;
	size_t		i;

	if (x->nd == 0)
		return true;
	if (x->e < em)
		return false;
	for (i = 0; i < x->nd; i++)
		r = (uint64_t)(((unsigned __int128)r * 10 +
		    (unsigned)jnum_digit(x, i)) % dm);
	for (k = (uint64_t)(x->e - em); k != 0; k >>= 1) {
		if (k & 1)
			p = jnum_mulmod(p, b, dm);
		b = jnum_mulmod(b, b, dm);
	}
	return jnum_mulmod(r, p % dm, dm) == 0;
}

uint64_t
jnum_hash(const struct jnum *n, uint64_t seed)
{
	size_t		i;
	int64_t		e = n->e;
	uint64_t	h;

	h = (seed ^ (uint64_t)n->neg) * 0x100000001b3ULL;
	for (i = 0; i < n->nd; i++)
		h = (h ^ (uint64_t)jnum_digit(n, i)) * 0x100000001b3ULL;
	for (i = 0; i < 8; i++, e >>= 8)
		h = (h ^ (uint64_t)(e & 0xff)) * 0x100000001b3ULL;
	return h;
}
