/*
 * http_addr.c - peer addresses: their textual form for the log, trust
 * (server.trusted_proxies) and the client address behind trusted proxies
 * (X-Forwarded-For).
 *
 * Threat model: X-Forwarded-For is hostile; it is read only from a
 * trusted peer, at most HTTP_MAX_XFF entries, and a malformed list is
 * ignored (the peer stays the client).
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <string.h>

#include "conf.h"
#include "http.h"
#include "http_int.h"
#include "util.h"

/*
 * Addresses.  IPv4-mapped IPv6 peers (dual-stack listeners) are treated
 * as the IPv4 address they carry, for trust checks and for the log.
 */
static int
http_addr_bytes(const struct sockaddr *sa, unsigned char out[16], int *family)
{
	const struct sockaddr_in	*sin;
	const struct sockaddr_in6	*sin6;

	if (sa == NULL)
		return -1;
	if (sa->sa_family == AF_INET) {
		sin = (const struct sockaddr_in *)sa;
		memcpy(out, &sin->sin_addr, 4);
		*family = AF_INET;
		return 0;
	}
	if (sa->sa_family == AF_INET6) {
		sin6 = (const struct sockaddr_in6 *)sa;
		if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
			memcpy(out, sin6->sin6_addr.s6_addr + 12, 4);
			*family = AF_INET;
		} else {
			memcpy(out, sin6->sin6_addr.s6_addr, 16);
			*family = AF_INET6;
		}
		return 0;
	}
	return -1;
}

static bool
http_cidr_match(const struct conf *conf, int family, const unsigned char *a)
{
	const struct conf_cidr	*c;
	size_t			 i;
	unsigned		 full, rest;

	for (i = 0; i < conf->server.ntrusted_proxies; i++) {
		c = &conf->server.trusted_proxies[i];
		if (c->family != family)
			continue;
		full = c->prefix / 8;
		rest = c->prefix % 8;
		if (memcmp(c->addr, a, full) != 0)
			continue;
		if (rest != 0 && ((c->addr[full] ^ a[full]) &
		    (unsigned char)(0xff << (8 - rest))) != 0)
			continue;
		return true;
	}
	return false;
}

bool
http_addr_trusted(const struct conf *conf, const struct sockaddr *sa)
{
	unsigned char	 a[16];
	int		 family;

	if (http_addr_bytes(sa, a, &family) == -1)
		return false;
	return http_cidr_match(conf, family, a);
}

void
http_addr_text(const struct sockaddr *sa, char *out, size_t outsz)
{
	unsigned char	 a[16];
	int		 family;

	if (http_addr_bytes(sa, a, &family) == -1 ||
	    inet_ntop(family, a, out, (socklen_t)outsz) == NULL)
		bw_strlcpy(out, "unix", outsz);
}

/* One X-Forwarded-For entry: a bare IPv4 or IPv6 address. */
static int
http_xff_entry(const char *s, size_t n, unsigned char a[16], int *family)
{
	char	 tmp[INET6_ADDRSTRLEN];

	while (n > 0 && (*s == ' ' || *s == '\t')) {
		s++;
		n--;
	}
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	if (n == 0 || n >= sizeof(tmp))
		return -1;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	if (inet_pton(AF_INET, tmp, a) == 1) {
		*family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, tmp, a) == 1) {
		*family = AF_INET6;
		if (IN6_IS_ADDR_V4MAPPED((struct in6_addr *)a)) {
			memmove(a, a + 12, 4);
			*family = AF_INET;
		}
		return 0;
	}
	return -1;
}

/*
 * The client address: the peer, unless the peer is a trusted proxy that
 * sent X-Forwarded-For; then the list is walked right to left skipping
 * trusted addresses, and the first untrusted one is the client (the
 * leftmost when all are trusted).  A malformed list, or one of more than
 * HTTP_MAX_XFF entries, is ignored.
 */
int
http_client_ip(const struct conf *conf, const struct sockaddr *peer,
    const char *xff, size_t xff_len, char *out, size_t outsz)
{
	unsigned char	 addrs[HTTP_MAX_XFF][16];
	int		 fams[HTTP_MAX_XFF];
	size_t		 n = 0, i, start = 0;

	http_addr_text(peer, out, outsz);
	if (xff == NULL || !http_addr_trusted(conf, peer))
		return 0;
	for (i = 0; i <= xff_len; i++) {
		if (i < xff_len && xff[i] != ',')
			continue;
		if (n == HTTP_MAX_XFF || http_xff_entry(xff + start, i - start,
		    addrs[n], &fams[n]) == -1)
			return 0;
		n++;
		start = i + 1;
	}
	for (i = n; i > 0; i--)
		if (!http_cidr_match(conf, fams[i - 1], addrs[i - 1]))
			break;
	i = i > 0 ? i - 1 : 0;
	if (inet_ntop(fams[i], addrs[i], out, (socklen_t)outsz) == NULL)
		http_addr_text(peer, out, outsz);
	return 0;
}
