/*
 * schema_format.c - the formats that SPEC 6 asserts: date-time, date,
 * email, uuid, ipv4, ipv6 and uri.
 *
 * Each checker is a strict recogniser over bytes, with no allocation and
 * no locale; anything outside the grammar SPEC 6 names is refused (no
 * quoted local parts or address literals in email, no zone in ipv6, no
 * leading zeros in ipv4, only absolute URIs).  Input is attacker-chosen;
 * every loop is bounded by its length.
 */
#include <string.h>

#include "schema_int.h"

const char *const schema_fmt_names[] = {
	[FMT_DATE_TIME] = "date-time",
	[FMT_DATE] = "date",
	[FMT_EMAIL] = "email",
	[FMT_UUID] = "uuid",
	[FMT_IPV4] = "ipv4",
	[FMT_IPV6] = "ipv6",
	[FMT_URI] = "uri",
};

/* n ASCII digits at s, value in *v. */
static bool
schema_fmt_num(const char *s, size_t n, int *v)
{
	size_t	i;

	*v = 0;
	for (i = 0; i < n; i++) {
		if (!bw_is_digit(s[i]))
			return false;
		*v = *v * 10 + (s[i] - '0');
	}
	return true;
}

/* full-date = date-fullyear "-" date-month "-" date-mday (10 bytes). */
static bool
schema_fmt_full_date(const char *s)
{
	static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31,
	    30, 31 };
	int	y, m, d, max;

	if (!schema_fmt_num(s, 4, &y) || s[4] != '-' ||
	    !schema_fmt_num(s + 5, 2, &m) || s[7] != '-' ||
	    !schema_fmt_num(s + 8, 2, &d) || m < 1 || m > 12)
		return false;
	max = mdays[m - 1];
	if (m == 2 && y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))
		max = 29;
	return d >= 1 && d <= max;
}

static bool
schema_fmt_date(const char *s, size_t len)
{
	return len == 10 && schema_fmt_full_date(s);
}

/*
 * full-time = hh:mm:ss[.frac] (Z | +hh:mm | -hh:mm), T and Z in either
 * case (RFC 3339 5.6 note).  Second 60 is a leap second: valid only when
 * the time, brought to UTC by the offset, is 23:59:60.
 */
static bool
schema_fmt_full_time(const char *s, size_t len)
{
	int	h, m, sec, oh = 0, om = 0, utc, sign = 0;
	size_t	i = 8;

	if (len < 9 || !schema_fmt_num(s, 2, &h) || s[2] != ':' ||
	    !schema_fmt_num(s + 3, 2, &m) || s[5] != ':' ||
	    !schema_fmt_num(s + 6, 2, &sec))
		return false;
	if (h > 23 || m > 59 || sec > 60)
		return false;
	if (s[i] == '.') {
		for (i++; i < len && bw_is_digit(s[i]); i++)
			;
		if (i == 9)
			return false;
	}
	if (i + 1 == len && (s[i] == 'Z' || s[i] == 'z'))
		sign = 0;
	else if (i + 6 == len && (s[i] == '+' || s[i] == '-')) {
		sign = s[i] == '+' ? 1 : -1;
		if (!schema_fmt_num(s + i + 1, 2, &oh) || s[i + 3] != ':' ||
		    !schema_fmt_num(s + i + 4, 2, &om) || oh > 23 || om > 59)
			return false;
	} else
		return false;
	if (sec == 60) {
		utc = ((h * 60 + m) - sign * (oh * 60 + om) + 2 * 1440) % 1440;
		return utc == 23 * 60 + 59;
	}
	return true;
}

static bool
schema_fmt_date_time(const char *s, size_t len)
{
	return len > 11 && schema_fmt_full_date(s) && (s[10] == 'T' ||
	    s[10] == 't') && schema_fmt_full_time(s + 11, len - 11);
}

static bool
schema_fmt_atext(char c)
{
	return bw_is_alpha(c) || bw_is_digit(c) || (c != '\0' &&
	    strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

/* Domain = sub-domain *("." sub-domain), Let-dig [Ldh-str] each. */
static bool
schema_fmt_domain(const char *s, size_t len)
{
	size_t	i, start = 0;

	if (len == 0 || len > 253)
		return false;
	for (i = 0; i <= len; i++) {
		if (i < len && s[i] != '.') {
			if (!bw_is_alpha(s[i]) && !bw_is_digit(s[i]) &&
			    s[i] != '-')
				return false;
			continue;
		}
		if (i == start || i - start > 63 || s[start] == '-' ||
		    s[i - 1] == '-')
			return false;
		start = i + 1;
	}
	return true;
}

/* RFC 5321 Mailbox = Dot-string "@" Domain (no quoted string, no literal). */
static bool
schema_fmt_email(const char *s, size_t len)
{
	const char	*at;
	size_t		 i, ll;

	if (len > 254 || (at = memchr(s, '@', len)) == NULL)
		return false;
	ll = (size_t)(at - s);
	if (ll == 0 || ll > 64 || s[0] == '.' || s[ll - 1] == '.')
		return false;
	for (i = 0; i < ll; i++) {
		if (s[i] == '.') {
			if (s[i + 1] == '.')
				return false;
		} else if (!schema_fmt_atext(s[i]))
			return false;
	}
	return schema_fmt_domain(at + 1, len - ll - 1);
}

static bool
schema_fmt_uuid(const char *s, size_t len)
{
	size_t	i;

	if (len != 36)
		return false;
	for (i = 0; i < len; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return false;
		} else if (!bw_is_hex(s[i]))
			return false;
	}
	return true;
}

/* Dotted quad, each part 0-255 without leading zeros. */
static bool
schema_fmt_ipv4(const char *s, size_t len)
{
	size_t	i = 0, part, d;
	int	v;

	for (part = 0; part < 4; part++) {
		if (part > 0) {
			if (i >= len || s[i] != '.')
				return false;
			i++;
		}
		for (d = 0, v = 0; i < len && bw_is_digit(s[i]) &&
		    d < 4; d++, i++)
			v = v * 10 + (s[i] - '0');
		if (d == 0 || d > 3 || v > 255 || (d > 1 && s[i - d] == '0'))
			return false;
	}
	return i == len;
}

/*
 * RFC 4291 2.2: eight groups of 1-4 hex digits, one "::" standing for at
 * least one zero group, an IPv4 dotted quad as the last 32 bits.  Zones
 * (RFC 6874 "%") are not part of an address.
 */
static bool
schema_fmt_ipv6(const char *s, size_t len)
{
	size_t	i = 0, j, groups = 0;
	bool	dbl = false;

	if (len >= 2 && s[0] == ':' && s[1] == ':') {
		dbl = true;
		i = 2;
	}
	while (i < len) {
		for (j = i; j < len && s[j] != ':'; j++)
			;
		if (memchr(s + i, '.', j - i) != NULL) {
			if (j != len || !schema_fmt_ipv4(s + i, j - i))
				return false;
			groups += 2;
			break;
		}
		if (j == i || j - i > 4)
			return false;
		for (; i < j; i++)
			if (!bw_is_hex(s[i]))
				return false;
		groups++;
		if (i == len)
			break;
		if (i + 1 < len && s[i + 1] == ':') {
			if (dbl)
				return false;
			dbl = true;
			i += 2;
		} else if (++i == len)
			return false;
	}
	return dbl ? groups <= 7 : groups == 8;
}

static bool
schema_uri_unreserved(char c)
{
	return bw_is_alpha(c) || bw_is_digit(c) || c == '-' || c == '.' ||
	    c == '_' || c == '~';
}

static bool
schema_uri_subdelim(char c)
{
	return c != '\0' && strchr("!$&'()*+,;=", c) != NULL;
}

/* Bytes [i, end) made of unreserved, pct-encoded, sub-delims and extra. */
static bool
schema_uri_span(const char *s, size_t i, size_t end, const char *extra)
{
	for (; i < end; i++) {
		if (s[i] == '%') {
			if (end - i < 3 || !bw_is_hex(s[i + 1]) ||
			    !bw_is_hex(s[i + 2]))
				return false;
			i += 2;
		} else if (!schema_uri_unreserved(s[i]) &&
		    !schema_uri_subdelim(s[i]) &&
		    (s[i] == '\0' || strchr(extra, s[i]) == NULL))
			return false;
	}
	return true;
}

/* IP-literal = "[" ( IPv6address / IPvFuture ) "]" (without brackets). */
static bool
schema_uri_ip_literal(const char *s, size_t len)
{
	size_t	i = 1;

	if (len > 0 && (s[0] == 'v' || s[0] == 'V')) {
		while (i < len && bw_is_hex(s[i]))
			i++;
		if (i == 1 || i >= len || s[i] != '.' || i + 1 == len)
			return false;
		for (i++; i < len; i++)
			if (!schema_uri_unreserved(s[i]) &&
			    !schema_uri_subdelim(s[i]) && s[i] != ':')
				return false;
		return true;
	}
	return schema_fmt_ipv6(s, len);
}

/* authority = [ userinfo "@" ] host [ ":" port ] */
static bool
schema_uri_authority(const char *s, size_t len)
{
	const char	*at, *close;
	size_t		 i = 0, h;

	if ((at = memchr(s, '@', len)) != NULL) {
		if (!schema_uri_span(s, 0, (size_t)(at - s), ":"))
			return false;
		i = (size_t)(at - s) + 1;
	}
	if (i < len && s[i] == '[') {
		if ((close = memchr(s + i, ']', len - i)) == NULL ||
		    !schema_uri_ip_literal(s + i + 1,
		    (size_t)(close - s) - i - 1))
			return false;
		h = (size_t)(close - s) + 1;
	} else {
		for (h = i; h < len && s[h] != ':'; h++)
			;
		if (!schema_uri_span(s, i, h, ""))
			return false;
	}
	if (h == len)
		return true;
	if (s[h] != ':')
		return false;
	for (h++; h < len; h++)
		if (!bw_is_digit(s[h]))
			return false;
	return true;
}

/*
 * RFC 3986 absolute-URI = scheme ":" hier-part [ "?" query ]: no fragment,
 * ASCII only.  hier-part is "//" authority path-abempty, or a path.
 */
static bool
schema_fmt_uri(const char *s, size_t len)
{
	size_t	i, a, q;

	if (len == 0 || !bw_is_alpha(s[0]))
		return false;
	for (i = 1; i < len && (bw_is_alpha(s[i]) || bw_is_digit(s[i]) ||
	    s[i] == '+' || s[i] == '-' || s[i] == '.'); i++)
		;
	if (i == len || s[i] != ':')
		return false;
	i++;
	for (q = i; q < len && s[q] != '?'; q++)
		;
	if (q < len && !schema_uri_span(s, q + 1, len, ":@/?"))
		return false;
	if (q - i >= 2 && s[i] == '/' && s[i + 1] == '/') {
		for (a = i + 2; a < q && s[a] != '/'; a++)
			;
		if (!schema_uri_authority(s + i + 2, a - i - 2))
			return false;
		i = a;
	}
	return schema_uri_span(s, i, q, ":@/");
}

bool
schema_fmt_check(enum sch_fmt f, const char *s, size_t len)
{
	switch (f) {
	case FMT_DATE_TIME:
		return schema_fmt_date_time(s, len);
	case FMT_DATE:
		return schema_fmt_date(s, len);
	case FMT_EMAIL:
		return schema_fmt_email(s, len);
	case FMT_UUID:
		return schema_fmt_uuid(s, len);
	case FMT_IPV4:
		return schema_fmt_ipv4(s, len);
	case FMT_IPV6:
		return schema_fmt_ipv6(s, len);
	case FMT_URI:
		return schema_fmt_uri(s, len);
	default:
		return true;
	}
}

enum sch_fmt
schema_fmt_lookup(const char *name)
{
	size_t	i;

	for (i = 1; i < BW_ARRAY_LEN(schema_fmt_names); i++)
		if (strcmp(schema_fmt_names[i], name) == 0)
			return (enum sch_fmt)i;
	return FMT_NONE;
}
