/*
 * conf_check.c - checks of single configuration values (SPEC 4): host
 * names, user names, origins, addresses and CIDRs, response header fields,
 * path templates, libpq connection strings.
 *
 * These are the `check` hooks of the key tables (conf_keys.c) and the
 * parsers their collection hooks use; each reports with conf_err() at the
 * value (or the key, for a header name) and returns -1, or returns 0.
 * Syntax is ASCII only and independent of the locale.
 *
 * Threat model: values come from the configuration, trusted to configure
 * but not to be well-formed.  What passes here ends up in responses
 * (header fields: no CR, LF or NUL, no header bulwark sets itself), in the
 * router (templates: no dot segments, no empty segment) and in libpq (no
 * password in the connection string, TLS verify-full to a remote host);
 * messages quote values only through conf_ex().
 */
#include <sys/socket.h>
#include <sys/types.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "conf.h"
#include "conf_int.h"
#include "node.h"
#include "util.h"
#include "yaml_strict.h"

static bool
conf_istchar(int ch)
{
	return conf_isalpha(ch) || conf_isdigit(ch) ||
	    (ch != '\0' && strchr("!#$%&'*+-.^_`|~", ch) != NULL);
}

static int
conf_lower(int ch)
{
	return ch >= 'A' && ch <= 'Z' ? ch - 'A' + 'a' : ch;
}

bool
conf_strcaseeq(const char *a, const char *b)
{
	for (; *a != '\0' && *b != '\0'; a++, b++)
		if (conf_lower((unsigned char)*a) !=
		    conf_lower((unsigned char)*b))
			return false;
	return *a == *b;
}

/* A DNS host name: labels of [A-Za-z0-9-], not starting or ending in -. */
static bool
conf_hostname(const char *s)
{
	size_t	i, lab = 0, len = strlen(s);

	if (len == 0 || len > 253 || s[len - 1] == '.')
		return false;
	for (i = 0; i <= len; i++) {
		if (s[i] == '.' || s[i] == '\0') {
			if (lab == 0 || lab > 63 || s[i - 1] == '-')
				return false;
			lab = 0;
			continue;
		}
		if (!conf_isalpha(s[i]) && !conf_isdigit(s[i]) && s[i] != '-')
			return false;
		if (lab == 0 && s[i] == '-')
			return false;
		lab++;
	}
	return true;
}

/*
 * Addresses: "host:port" and "[v6]:port" with a numeric host.
 */
static int
conf_parse_listen(const char *s, struct conf_listen *l, const char **err)
{
	char			 host[64];
	const char		*port, *end;
	struct sockaddr_in	*sin = (struct sockaddr_in *)&l->addr;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&l->addr;
	uint64_t		 p;
	size_t			 hl;
	bool			 v6 = s[0] == '[';

	*err = "expected host:port or [v6]:port with a numeric address";
	if (v6) {
		if ((end = strchr(s, ']')) == NULL || end[1] != ':')
			return -1;
		hl = (size_t)(end - s - 1);
		s++;
		port = end + 2;
	} else {
		if ((end = strrchr(s, ':')) == NULL)
			return -1;
		hl = (size_t)(end - s);
		port = end + 1;
	}
	if (hl == 0 || hl >= sizeof(host))
		return -1;
	memcpy(host, s, hl);
	host[hl] = '\0';
	if (bw_parse_uint(port, 65535, &p) == -1 || p == 0) {
		*err = "invalid port (1..65535)";
		return -1;
	}
	memset(&l->addr, 0, sizeof(l->addr));
	if (!v6 && inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)p);
		l->addrlen = sizeof(*sin);
	} else if (v6 && inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)p);
		l->addrlen = sizeof(*sin6);
	} else
		return -1;
	return 0;
}

int
conf_listen_one(struct conf_ctx *c, const struct node *n,
    struct conf_listen *l)
{
	const char	*s, *err;

	if ((s = conf_str(c, n, 64)) == NULL)
		return -1;
	if (conf_parse_listen(s, l, &err) == -1) {
		conf_err(c, n, "%s", err);
		return -1;
	}
	l->text = bw_strdup(s);
	l->pos.line = n->line;
	l->pos.col = n->col;
	return 0;
}

/*
 * CIDRs: "10.0.0.0/8", "2001:db8::/32", or an address (a host route).
 */
int
conf_parse_cidr(const char *s, struct conf_cidr *r)
{
	char		 host[64];
	const char	*slash = strchr(s, '/');
	size_t		 hl = slash ? (size_t)(slash - s) : strlen(s);
	uint64_t	 pfx;
	unsigned	 bits, i;

	if (hl == 0 || hl >= sizeof(host))
		return -1;
	memcpy(host, s, hl);
	host[hl] = '\0';
	memset(r, 0, sizeof(*r));
	if (inet_pton(AF_INET, host, r->addr) == 1) {
		r->family = AF_INET;
		bits = 32;
	} else if (inet_pton(AF_INET6, host, r->addr) == 1) {
		r->family = AF_INET6;
		bits = 128;
	} else
		return -1;
	pfx = bits;
	if (slash != NULL && bw_parse_uint(slash + 1, bits, &pfx) == -1)
		return -1;
	r->prefix = (unsigned)pfx;
	for (i = r->prefix; i < bits; i++)
		if (r->addr[i / 8] & (0x80 >> (i % 8)))
			return -1;
	return 0;
}

/*
 * server.headers: extra response headers.  Names are tokens and may not
 * be one bulwark sets itself; values are visible ASCII, space and tab.
 */
static const char *const conf_own_headers[] = {
	"Content-Length", "Content-Type", "Content-Encoding",
	"Content-Range", "Content-Security-Policy", "Cache-Control",
	"X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy",
	"Strict-Transport-Security", "Date", "X-Request-Id", "Connection",
	"Keep-Alive", "Transfer-Encoding", "TE", "Trailer", "Upgrade",
	"Allow", "WWW-Authenticate", "Retry-After", "Server", "Set-Cookie",
	"Location", "Vary", "Access-Control-Allow-Origin",
	"Access-Control-Allow-Credentials", "Access-Control-Allow-Methods",
	"Access-Control-Allow-Headers", "Access-Control-Max-Age",
	"Access-Control-Expose-Headers", NULL
};

int
conf_header_check(struct conf_ctx *c, const struct node *kn,
    const struct node *vn, const char *value)
{
	const char	*name = kn->text;
	size_t		 i;

	if (kn->len == 0 || kn->len > 64 || strlen(name) != kn->len) {
		conf_err(c, kn, "invalid header name");
		return -1;
	}
	for (i = 0; name[i] != '\0'; i++) {
		if (!conf_istchar((unsigned char)name[i])) {
			conf_err(c, kn, "invalid header name (not a token)");
			return -1;
		}
	}
	for (i = 0; conf_own_headers[i] != NULL; i++) {
		if (conf_strcaseeq(name, conf_own_headers[i])) {
			conf_err(c, kn, "header %s is set by bulwark and "
			    "cannot be overridden", conf_own_headers[i]);
			return -1;
		}
	}
	for (i = 0; value[i] != '\0'; i++) {
		if (((unsigned char)value[i] < 0x20 && value[i] != '\t') ||
		    (unsigned char)value[i] >= 0x7f) {
			conf_err(c, vn, "header values may hold only visible "
			    "ASCII, space and tab (no CR, LF, NUL)");
			return -1;
		}
	}
	if (value[0] == ' ' || value[0] == '\t' || value[i - 1] == ' ' ||
	    value[i - 1] == '\t') {
		conf_err(c, vn, "header values may not begin or end with "
		    "white space");
		return -1;
	}
	return 0;
}

/*
 * Checks of single string values (the `check` hook).
 */
int
conf_check_hostname(struct conf_ctx *c, const struct node *n, const char *s)
{
	size_t	i;

	if (!conf_hostname(s)) {
		conf_err(c, n, "invalid host name");
		return -1;
	}
	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] >= 'A' && s[i] <= 'Z') {
			conf_err(c, n, "host names are compared in lower "
			    "case; write it in lower case");
			return -1;
		}
	}
	return 0;
}

int
conf_check_username(struct conf_ctx *c, const struct node *n, const char *s)
{
	size_t	i;

	for (i = 0; s[i] != '\0'; i++) {
		if (i >= 32 || !((s[i] >= 'a' && s[i] <= 'z') ||
		    conf_isdigit(s[i]) || s[i] == '_' ||
		    (i > 0 && s[i] == '-'))) {
			conf_err(c, n, "invalid user or group name");
			return -1;
		}
	}
	return 0;
}

/* An origin: "*" or scheme://host[:port] in lower case, no path. */
int
conf_check_origin(struct conf_ctx *c, const struct node *n, const char *s)
{
	char		 host[256];
	const char	*h, *end;
	uint64_t	 port;
	size_t		 hl;

	if (strcmp(s, "*") == 0)
		return 0;
	if (strncmp(s, "https://", 8) == 0)
		h = s + 8;
	else if (strncmp(s, "http://", 7) == 0)
		h = s + 7;
	else
		goto bad;
	if (h[0] == '[') {
		if ((end = strchr(h, ']')) == NULL)
			goto bad;
		end++;
	} else
		end = h + strcspn(h, ":/");
	hl = (size_t)(end - h);
	if (hl == 0 || hl >= sizeof(host))
		goto bad;
	memcpy(host, h, hl);
	host[hl] = '\0';
	if (host[0] == '[') {
		host[hl - 1] = '\0';
		if (inet_pton(AF_INET6, host + 1, host) != 1)
			goto bad;
	} else if (conf_check_hostname(c, n, host) == -1)
		return -1;
	if (*end == ':' && (bw_parse_uint(end + 1, 65535, &port) == -1 ||
	    port == 0))
		goto bad;
	if (*end != ':' && *end != '\0')
		goto bad;
	return 0;
bad:
	conf_err(c, n, "invalid origin (\"*\" or scheme://host[:port], "
	    "no path)");
	return -1;
}

int
conf_check_role_name(struct conf_ctx *c, const struct node *n, const char *s)
{
	if (!conf_ident(s, 62)) {
		conf_err(c, n, "invalid role name (^[a-z][a-z0-9_]{0,62}$)");
		return -1;
	}
	return 0;
}

int
conf_check_route_name(struct conf_ctx *c, const struct node *n, const char *s)
{
	if (!conf_ident(s, 127)) {
		conf_err(c, n, "invalid route name (^[a-z][a-z0-9_]*$, at "
		    "most 128 characters)");
		return -1;
	}
	return 0;
}

int
conf_check_instance(struct conf_ctx *c, const struct node *n, const char *s)
{
	size_t	i;

	for (i = 0; s[i] != '\0'; i++) {
		if (i >= 64 || !(conf_isalpha(s[i]) || conf_isdigit(s[i]) ||
		    strchr("._-", s[i]) != NULL)) {
			conf_err(c, n, "invalid instance id "
			    "(^[A-Za-z0-9._-]{1,64}$)");
			return -1;
		}
	}
	return 0;
}

int
conf_check_access(struct conf_ctx *c, const struct node *n, const char *s)
{
	if (strcmp(s, "stderr") == 0 || strcmp(s, "syslog") == 0 ||
	    strcmp(s, "off") == 0 || s[0] == '/')
		return 0;
	conf_err(c, n, "must be stderr, syslog, off or an absolute path");
	return -1;
}

int
conf_check_nonblank(struct conf_ctx *c, const struct node *n, const char *s)
{
	if (s[strspn(s, " \t\r\n")] == '\0') {
		conf_err(c, n, "must not be blank");
		return -1;
	}
	return 0;
}

static bool
conf_pchar(const char *s, size_t i)
{
	unsigned char	ch = (unsigned char)s[i];

	if (ch == '%')
		return (conf_isdigit(s[i + 1]) || strchr("abcdefABCDEF",
		    s[i + 1]) != NULL) && s[i + 1] != '\0' &&
		    (conf_isdigit(s[i + 2]) || strchr("abcdefABCDEF",
		    s[i + 2]) != NULL) && s[i + 2] != '\0';
	return conf_isalpha(ch) || conf_isdigit(ch) ||
	    (ch != '\0' && strchr("-._~!$&'()*+,;=:@", ch) != NULL);
}

/*
 * A path template: '/'-separated literal segments (RFC 3986 pchar) and
 * {param} segments; no empty segment but a trailing one, no . or ..
 * When params is not NULL, the parameter names are stored there.
 */
int
conf_template(const char *s, char params[][64], size_t *np,
    const char **err)
{
	const char	*seg, *end;
	size_t		 len, i, j;

	*np = 0;
	if (s[0] != '/') {
		*err = "must start with '/'";
		return -1;
	}
	for (seg = s + 1;; seg = end + 1) {
		end = seg + strcspn(seg, "/");
		len = (size_t)(end - seg);
		if (len == 0 && *end == '/') {
			*err = "empty segment (//)";
			return -1;
		}
		if ((len == 1 && seg[0] == '.') ||
		    (len == 2 && seg[0] == '.' && seg[1] == '.')) {
			*err = "'.' and '..' segments are not allowed";
			return -1;
		}
		if (len > 0 && seg[0] == '{') {
			if (seg[len - 1] != '}' || len < 3 || len > 63) {
				*err = "a parameter segment is {name}";
				return -1;
			}
			if (*np == CONF_MAX_PARAMS) {
				*err = "too many parameters";
				return -1;
			}
			memcpy(params[*np], seg + 1, len - 2);
			params[*np][len - 2] = '\0';
			if (!conf_ident(params[*np], 62)) {
				*err = "parameter names match "
				    "^[a-z][a-z0-9_]*$";
				return -1;
			}
			for (j = 0; j < *np; j++) {
				if (strcmp(params[j], params[*np]) == 0) {
					*err = "duplicate parameter name";
					return -1;
				}
			}
			(*np)++;
		} else {
			for (i = 0; i < len; i++) {
				if (!conf_pchar(seg, i)) {
					*err = "invalid character in a literal "
					    "segment";
					return -1;
				}
			}
		}
		if (*end == '\0')
			break;
	}
	return 0;
}

int
conf_check_route_path(struct conf_ctx *c, const struct node *n, const char *s)
{
	char		 params[CONF_MAX_PARAMS][64];
	size_t		 np;
	const char	*err;

	if (strlen(s) > 1024) {
		conf_err(c, n, "longer than 1024 bytes");
		return -1;
	}
	if (conf_template(s, params, &np, &err) == -1) {
		conf_err(c, n, "%s", err);
		return -1;
	}
	return 0;
}

int
conf_check_endpoints(struct conf_ctx *c, const struct node *n, const char *s)
{
	char		 params[CONF_MAX_PARAMS][64];
	size_t		 np;
	const char	*err;

	if (conf_template(s, params, &np, &err) == -1 || np > 0 ||
	    strcmp(s, "/") == 0 || s[strlen(s) - 1] == '/') {
		conf_err(c, n, "must be a literal path such as /auth, "
		    "without a trailing '/'");
		return -1;
	}
	return 0;
}

static bool
conf_host_local(const char *h, size_t len)
{
	char		buf[64];
	unsigned char	a[16];

	if (len == 0 || h[0] == '/' || h[0] == '@')
		return true;
	if (len >= sizeof(buf))
		return false;
	memcpy(buf, h, len);
	buf[len] = '\0';
	if (strcmp(buf, "localhost") == 0)
		return true;
	if (inet_pton(AF_INET, buf, a) == 1)
		return a[0] == 127;
	if (inet_pton(AF_INET6, buf, a) == 1)
		return memcmp(a, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\1", 16) == 0;
	return false;
}

static bool
conf_hosts_local(const char *list)
{
	size_t	len;

	for (;;) {
		len = strcspn(list, ",");
		if (!conf_host_local(list, len))
			return false;
		if (list[len] == '\0')
			return true;
		list += len + 1;
	}
}

/*
 * A libpq connection string: never a password in it, and a host that is
 * not local only with sslmode=verify-full.  libpq's own error text is not
 * repeated: it may quote the string.
 */
int
conf_check_conninfo(struct conf_ctx *c, const struct node *n, const char *s)
{
	PQconninfoOption	*opts, *o;
	char			*errmsg = NULL;
	bool			 pw = false, local = true, full = false;

	if ((opts = PQconninfoParse(s, &errmsg)) == NULL) {
		PQfreemem(errmsg);
		conf_err(c, n, "not a valid libpq connection string");
		return -1;
	}
	for (o = opts; o->keyword != NULL; o++) {
		if (o->val == NULL || o->val[0] == '\0')
			continue;
		if (strcmp(o->keyword, "password") == 0)
			pw = true;
		else if (strcmp(o->keyword, "host") == 0 ||
		    strcmp(o->keyword, "hostaddr") == 0)
			local = local && conf_hosts_local(o->val);
		else if (strcmp(o->keyword, "sslmode") == 0)
			full = strcmp(o->val, "verify-full") == 0;
	}
	PQconninfoFree(opts);
	if (pw) {
		conf_err(c, n, "must not contain a password (use "
		    "database.password_file)");
		return -1;
	}
	if (!local && !full) {
		conf_err(c, n, "a host that is not local needs "
		    "sslmode=verify-full");
		return -1;
	}
	return 0;
}

/* Two templates tie when they differ only in parameter names. */
void
conf_template_shape(const char *path, char *out, size_t outsz)
{
	size_t	o = 0;

	while (*path != '\0' && o + 3 < outsz) {
		if (*path == '{') {
			out[o++] = '{';
			out[o++] = '}';
			path += strcspn(path, "}");
			if (*path == '}')
				path++;
			continue;
		}
		out[o++] = *path++;
	}
	out[o] = '\0';
}

bool
conf_schema_name(const char *s, size_t len)
{
	size_t	i;

	if (len == 0 || len > 64 || strlen(s) != len ||
	    !(conf_isalpha(s[0]) || s[0] == '_'))
		return false;
	for (i = 1; i < len; i++)
		if (!conf_isalpha(s[i]) && !conf_isdigit(s[i]) &&
		    strchr("_.-", s[i]) == NULL)
			return false;
	return true;
}

bool
conf_is_schema(const struct node *n)
{
	bool	b;

	return n->kind == NODE_MAP || yaml_get_bool(n, &b) == 0;
}

bool
conf_loopback(const struct conf_listen *l)
{
	const struct sockaddr_in	*sin = (const void *)&l->addr;
	const struct sockaddr_in6	*sin6 = (const void *)&l->addr;
	const unsigned char		*a;

	if (l->addr.ss_family == AF_INET)
		return (ntohl(sin->sin_addr.s_addr) >> 24) == 127;
	if (l->addr.ss_family != AF_INET6)
		return false;
	if (IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr))
		return true;
	a = sin6->sin6_addr.s6_addr;
	return IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr) && a[12] == 127;
}
