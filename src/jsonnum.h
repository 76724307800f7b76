/*
 * jsonnum.h - exact decimal view of a JSON number lexeme.
 *
 * Nothing is converted to binary floating point: a number is the digit
 * string of its lexeme (leading and trailing zeros skipped) times a power of
 * ten.  The view points into the lexeme and never allocates, so comparing,
 * testing integrality or divisibility costs a pass over the digits.
 *
 * Exponents saturate at +-JNUM_EXP_MAX: two numbers whose magnitudes are
 * both beyond 10^(10^17) (or below its inverse) with the same leading digits
 * compare equal.  No body can tell the difference in practice and the
 * saturation keeps every exponent sum inside int64.
 */
#ifndef BW_JSONNUM_H
#define BW_JSONNUM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JNUM_EXP_MAX		100000000000000000LL	/* 10^17 */
#define JNUM_MULTIPLE_DIGITS	18	/* divisor digits for multipleOf */

struct jnum {
	const char	*ip;		/* integer part digits */
	const char	*fp;		/* fraction digits */
	size_t		 il;
	size_t		 fl;
	size_t		 lead;		/* zeros skipped at the start of ip.fp */
	size_t		 nd;		/* significant digits (0: value is 0) */
	int64_t		 e;		/* value = digits * 10^e */
	bool		 neg;
};

/* Strict JSON number grammar; returns 0 or -1. */
int	 jnum_parse(struct jnum *, const char *, size_t);
int	 jnum_digit(const struct jnum *, size_t i);
int	 jnum_cmp(const struct jnum *, const struct jnum *);
bool	 jnum_is_integer(const struct jnum *);
bool	 jnum_in_int64(const struct jnum *);
/* Canonical integer text; -1 when not an int64 integer or no room. */
int	 jnum_canonical(const struct jnum *, char *, size_t);
/* Divisor digits (as uint64, at most JNUM_MULTIPLE_DIGITS) and exponent. */
int	 jnum_divisor(const struct jnum *, uint64_t *dm, int64_t *em);
bool	 jnum_multiple_of(const struct jnum *, uint64_t dm, int64_t em);
uint64_t jnum_hash(const struct jnum *, uint64_t seed);

#endif
