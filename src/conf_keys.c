/*
 * conf_keys.c - the keys of bulwark.yaml (SPEC 4): one table per mapping
 * of the format, and the hooks that are particular to a key.
 *
 * A key is one line of a table (struct conf_key, conf_int.h): name, type,
 * offset in its struct, default as YAML text, bounds, and a check, parse
 * or collection description where its type needs one; the engine in conf.c
 * does the rest (parsing, defaults, freeing, the -T dump, the manual page
 * walk).  Adding a key is adding a line here, its field in conf.h and its
 * entry in bulwark.yaml(5).  Post hooks check what spans several keys
 * (TLS unless plaintext, route defaults from server and database, role
 * cycles) and resolve defaults that depend on other keys.
 *
 * Threat model: as for conf.c.  The checks here keep what reaches the
 * daemon well-formed: header names and values that cannot split a
 * response, connection strings without passwords and with TLS to a
 * remote host, path templates without dot segments.
 */
#include <sys/socket.h>
#include <sys/types.h>

#include <arpa/inet.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "conf_int.h"
#include "cpus.h"
#include "node.h"
#include "util.h"
#include "yaml_strict.h"

#define CONF_MAX_SQL		65536
#define CONF_MAX_LISTEN		16
#define CONF_MAX_HEADERS	32
#define CONF_MAX_ROLES		256
#define CONF_MAX_SCHEMAS	1024
#define CONF_MAX_ROUTES		1024
#define CONF_MAX_WORKERS	256

/*
 * Collections of the server section.
 */
static int
conf_listen_item(struct conf_ctx *c, const struct node *key,
    const struct node *n, void *item)
{
	(void)key;
	return conf_listen_one(c, n, item);
}

static bool
conf_listen_same(const void *a, const void *b)
{
	const struct conf_listen	*x = a, *y = b;

	return x->addrlen == y->addrlen &&
	    memcmp(&x->addr, &y->addr, x->addrlen) == 0;
}

static void
conf_listen_dump(FILE *fp, const void *item)
{
	conf_dump_str(fp, ((const struct conf_listen *)item)->text);
}

static void
conf_listen_free(void *item)
{
	free(((struct conf_listen *)item)->text);
}

static const struct conf_coll conf_listen_coll = {
	.what = "addresses", .many = "addresses", .min = 1,
	.max = CONF_MAX_LISTEN, .size = sizeof(struct conf_listen),
	.parse = conf_listen_item, .same = conf_listen_same,
	.dup = "duplicate address", .dump = conf_listen_dump,
	.free = conf_listen_free,
};

/*
 * server.workers: auto is the CPUs this process may use (cpus.c).
 */
static void
conf_workers_parse(struct conf_ctx *c, const struct node *n, void *base)
{
	struct conf_server	*s = base;
	int64_t			 v;

	if (n->kind == NODE_SCALAR && n->style == NODE_PLAIN &&
	    strcmp(n->text, "auto") == 0) {
		s->workers_auto = true;
		s->workers = cpus_count(CONF_MAX_WORKERS);
		return;
	}
	if (yaml_get_int(n, &v) == -1) {
		conf_err(c, n, "expected auto or an integer, got %s",
		    conf_a(n));
		return;
	}
	if (v < 1 || v > CONF_MAX_WORKERS) {
		conf_err(c, n, "must be auto or between 1 and %d",
		    CONF_MAX_WORKERS);
		return;
	}
	s->workers_auto = false;
	s->workers = (uint32_t)v;
}

static void
conf_workers_dump(struct conf_out *o, const struct conf_key *k,
    const void *base)
{
	const struct conf_server	*s = base;

	if (s->workers_auto)
		fprintf(o->fp, "%*s%s: auto\t# %u\n", o->indent, "", k->name,
		    s->workers);
	else
		fprintf(o->fp, "%*s%s: %u\n", o->indent, "", k->name,
		    s->workers);
}

static int
conf_proxy_item(struct conf_ctx *c, const struct node *key,
    const struct node *n, void *item)
{
	const char	*t;

	(void)key;
	if ((t = conf_str(c, n, 64)) == NULL)
		return -1;
	if (conf_parse_cidr(t, item) == -1) {
		conf_err(c, n, "invalid CIDR (an address, or address/prefix "
		    "without host bits)");
		return -1;
	}
	return 0;
}

static void
conf_proxy_dump(FILE *fp, const void *item)
{
	const struct conf_cidr	*r = item;
	char			 a[INET6_ADDRSTRLEN];

	inet_ntop(r->family, r->addr, a, sizeof(a));
	fprintf(fp, "\"%s/%u\"", a, r->prefix);
}

static const struct conf_coll conf_proxies_coll = {
	.what = "CIDRs", .many = "entries", .max = CONF_MAX_LIST,
	.size = sizeof(struct conf_cidr), .parse = conf_proxy_item,
	.dump = conf_proxy_dump,
};

static int
conf_header_item(struct conf_ctx *c, const struct node *key,
    const struct node *val, void *item)
{
	const char	*v;

	if ((v = conf_str(c, val, 1024)) == NULL ||
	    conf_header_check(c, key, val, v) == -1)
		return -1;
	((struct conf_header *)item)->value = bw_strdup(v);
	return 0;
}

static bool
conf_header_same(const void *a, const void *b)
{
	return conf_strcaseeq(((const struct conf_header *)a)->name,
	    ((const struct conf_header *)b)->name);
}

static void
conf_header_dump(FILE *fp, const void *item)
{
	conf_dump_str(fp, ((const struct conf_header *)item)->value);
}

static void
conf_header_free(void *item)
{
	free(((struct conf_header *)item)->value);
}

static const struct conf_coll conf_headers_coll = {
	.what = "header names to values", .many = "headers",
	.max = CONF_MAX_HEADERS, .size = sizeof(struct conf_header),
	.parse = conf_header_item, .same = conf_header_same,
	.dup = "duplicate header (names are case-insensitive)",
	.dump = conf_header_dump, .free = conf_header_free,
};

/*
 * version
 */
static void
conf_version_parse(struct conf_ctx *c, const struct node *n, void *base)
{
	struct conf	*cf = base;
	int64_t		 v;

	if (yaml_get_int(n, &v) == -1)
		conf_err(c, n, "expected an integer, got %s", conf_a(n));
	else if (v != 1)
		conf_err(c, n, "unsupported version (only 1)");
	else
		cf->version = 1;
}

static void
conf_version_dump(struct conf_out *o, const struct conf_key *k,
    const void *base)
{
	conf_dump_key(o, k->name);
	fprintf(o->fp, " %d\n", ((const struct conf *)base)->version);
}

/*
 * server
 */
static const char *const conf_profile_names[] = { "modern", "intermediate",
    NULL };
static const char *const conf_verify_names[] = { "required", "optional",
    NULL };

static const struct conf_key conf_tls_keys[] = {
	{ .name = "certificate", .type = CT_PATH, .flags = F_FILE,
	  .off = offsetof(struct conf_tls, certificate) },
	{ .name = "private_key", .type = CT_PATH, .flags = F_SECRET,
	  .off = offsetof(struct conf_tls, private_key) },
	{ .name = "profile", .type = CT_ENUM, .def = "intermediate",
	  .off = offsetof(struct conf_tls, profile),
	  .names = conf_profile_names },
	{ .name = "client_ca", .type = CT_PATH, .flags = F_FILE | F_NULL,
	  .def = "null", .off = offsetof(struct conf_tls, client_ca) },
	{ .name = "client_verify", .type = CT_ENUM, .def = "required",
	  .off = offsetof(struct conf_tls, client_verify),
	  .names = conf_verify_names },
	{ .name = "hsts", .type = CT_DURATION, .def = "730d",
	  .off = offsetof(struct conf_tls, hsts_ms), .min = 0,
	  .max = 3650 * MS_D },
};

static const struct conf_table conf_tls_table = {
	conf_tls_keys, BW_ARRAY_LEN(conf_tls_keys), 0, NULL
};

#define LIM(f)	.off = offsetof(struct conf_limits, f)
static const struct conf_key conf_limits_keys[] = {
	{ .name = "max_connections", .type = CT_U32, LIM(max_connections),
	  .def = "10000", .min = 1, .max = 1000000 },
	{ .name = "header_timeout", .type = CT_DURATION, LIM(header_timeout_ms),
	  .def = "10s", .min = 100, .max = 10 * MS_M },
	{ .name = "body_timeout", .type = CT_DURATION, LIM(body_timeout_ms),
	  .def = "30s", .min = 100, .max = MS_H },
	{ .name = "idle_timeout", .type = CT_DURATION, LIM(idle_timeout_ms),
	  .def = "60s", .min = 100, .max = MS_H },
	{ .name = "request_timeout", .type = CT_DURATION,
	  LIM(request_timeout_ms), .def = "30s", .min = 2 * MS_S,
	  .max = MS_H },
	{ .name = "max_header_size", .type = CT_SIZE, LIM(max_header_size),
	  .def = "8KiB", .min = KIB, .max = MIB },
	{ .name = "max_headers", .type = CT_U32, LIM(max_headers),
	  .def = "64", .min = 1, .max = 1000 },
	{ .name = "max_uri_length", .type = CT_SIZE, LIM(max_uri_length),
	  .def = "4KiB", .min = 256, .max = 64 * KIB },
	{ .name = "max_body_size", .type = CT_SIZE, LIM(max_body_size),
	  .def = "1MiB", .min = 1, .max = GIB },
	{ .name = "max_json_depth", .type = CT_U32, LIM(max_json_depth),
	  .def = "32", .min = 1, .max = 256 },
	{ .name = "max_response_size", .type = CT_SIZE,
	  LIM(max_response_size), .def = "8MiB", .min = KIB, .max = GIB },
	{ .name = "max_requests_per_connection", .type = CT_U32,
	  LIM(max_requests_per_connection), .def = "1000", .min = 1,
	  .max = 1000000 },
};
#undef LIM

static const struct conf_table conf_limits_table = {
	conf_limits_keys, BW_ARRAY_LEN(conf_limits_keys), 0, NULL
};

static void
conf_cors_post(struct conf_ctx *c, const struct node *map,
    const struct node *where, void *base)
{
	struct conf_cors	*cors = base;
	const struct node	*list;
	size_t			 i;

	(void)where;
	if (!cors->allow_credentials || map == NULL ||
	    (list = node_get(map, "allow_origins")) == NULL ||
	    list->kind != NODE_SEQ)
		return;
	for (i = 0; i < list->n; i++)
		if (strcmp(list->vals[i]->text != NULL ?
		    list->vals[i]->text : "", "*") == 0)
			conf_err(c, list->vals[i], "\"*\" cannot be used with "
			    "allow_credentials: true");
}

static const struct conf_key conf_cors_keys[] = {
	{ .name = "allow_origins", .type = CT_STRLIST, .def = "[]",
	  .off = offsetof(struct conf_cors, allow_origins),
	  .off2 = offsetof(struct conf_cors, nallow_origins),
	  .check = conf_check_origin },
	{ .name = "allow_credentials", .type = CT_BOOL, .def = "false",
	  .off = offsetof(struct conf_cors, allow_credentials) },
	{ .name = "max_age", .type = CT_DURATION, .def = "10m",
	  .off = offsetof(struct conf_cors, max_age_ms), .min = 0,
	  .max = MS_D },
};

static const struct conf_table conf_cors_table = {
	conf_cors_keys, BW_ARRAY_LEN(conf_cors_keys),
	sizeof(struct conf_cors), conf_cors_post
};

static void
conf_server_post(struct conf_ctx *c, const struct node *map,
    const struct node *where, void *base)
{
	struct conf_server	*s = base;
	const struct node	*tls, *n;
	size_t			 old;

	if (map == NULL)
		return;
	tls = node_get(map, "tls");
	if (!s->plaintext) {
		old = conf_path_key(c, "tls");
		n = tls != NULL && tls->kind == NODE_MAP ? tls : where;
		if (node_get(tls, "certificate") == NULL)
			conf_err(c, n, "missing required key 'certificate' "
			    "(TLS is required unless plaintext: true)");
		if (node_get(tls, "private_key") == NULL)
			conf_err(c, n, "missing required key 'private_key' "
			    "(TLS is required unless plaintext: true)");
		conf_path_pop(c, old);
	} else if ((n = node_get(map, "trusted_proxies")) == NULL ||
	    (n->kind == NODE_SEQ && n->n == 0)) {
		old = conf_path_key(c, "plaintext");
		conf_err(c, node_get(map, "plaintext"), "plaintext needs "
		    "trusted_proxies (the TLS proxies in front)");
		conf_path_pop(c, old);
	}
}

#define SRV(f)	.off = offsetof(struct conf_server, f)
static const struct conf_key conf_server_keys[] = {
	{ .name = "listen", .type = CT_SEQ, SRV(listen),
	  .off2 = offsetof(struct conf_server, nlisten),
	  .def = "[\"0.0.0.0:8443\", \"[::]:8443\"]",
	  .coll = &conf_listen_coll },
	{ .name = "hostnames", .type = CT_STRLIST, SRV(hostnames),
	  .off2 = offsetof(struct conf_server, nhostnames), .def = "[]",
	  .check = conf_check_hostname },
	{ .name = "workers", .type = CT_CUSTOM, .def = "auto",
	  .man = "Li auto | Ar integer",
	  .parse = conf_workers_parse, .dump = conf_workers_dump },
	{ .name = "user", .type = CT_STRING, SRV(user),
	  .def = "bulwark-worker", .check = conf_check_username },
	{ .name = "group", .type = CT_STRING, SRV(group),
	  .def = "bulwark-worker", .check = conf_check_username },
	{ .name = "pid_file", .type = CT_PATH, SRV(pid_file),
	  .def = "/run/bulwark/bulwarkd.pid" },
	{ .name = "shutdown_timeout", .type = CT_DURATION,
	  SRV(shutdown_timeout_ms), .def = "30s", .min = 0, .max = MS_H },
	{ .name = "tls", .type = CT_SECTION, SRV(tls),
	  .sub = &conf_tls_table },
	{ .name = "plaintext", .type = CT_BOOL, SRV(plaintext),
	  .def = "false" },
	{ .name = "trusted_proxies", .type = CT_SEQ, SRV(trusted_proxies),
	  .off2 = offsetof(struct conf_server, ntrusted_proxies), .def = "[]",
	  .coll = &conf_proxies_coll },
	{ .name = "limits", .type = CT_SECTION, SRV(limits),
	  .sub = &conf_limits_table },
	{ .name = "cors", .type = CT_OPTSECTION, SRV(cors), .flags = F_NULL,
	  .sub = &conf_cors_table },
	{ .name = "headers", .type = CT_MAP, SRV(headers),
	  .off2 = offsetof(struct conf_server, nheaders), .def = "{}",
	  .coll = &conf_headers_coll },
	{ .name = "rate_limit", .type = CT_RATE, SRV(rate_limit),
	  .def = "{by: ip, rate: \"100/s\", burst: 200}",
	  .sub = &conf_rate_table },
};
#undef SRV

static const struct conf_table conf_server_table = {
	conf_server_keys, BW_ARRAY_LEN(conf_server_keys), 0,
	conf_server_post
};

/*
 * security
 */
static const char *const conf_seccomp_names[] = { "enforce", "log", "off",
    NULL };

static const struct conf_key conf_security_keys[] = {
	{ .name = "seccomp", .type = CT_ENUM, .def = "enforce",
	  .off = offsetof(struct conf, seccomp), .names = conf_seccomp_names },
};

static const struct conf_table conf_security_table = {
	conf_security_keys, BW_ARRAY_LEN(conf_security_keys), 0,
	NULL
};

/*
 * database
 */
static void
conf_database_post(struct conf_ctx *c, const struct node *map,
    const struct node *where, void *base)
{
	struct conf_database	*db = base;
	const struct node	*n = node_get(map, "conninfo");

	(void)c;
	(void)where;
	if (n != NULL) {
		db->conninfo_pos.line = n->line;
		db->conninfo_pos.col = n->col;
	}
}

#define DB(f)	.off = offsetof(struct conf_database, f)
static const struct conf_key conf_database_keys[] = {
	{ .name = "conninfo", .type = CT_STRING, DB(conninfo), .flags = F_REQ,
	  .check = conf_check_conninfo },
	{ .name = "password_file", .type = CT_PATH, DB(password_file),
	  .flags = F_SECRET | F_NULL, .def = "null" },
	{ .name = "pool_size", .type = CT_U32, DB(pool_size), .def = "4",
	  .min = 1, .max = 64 },
	{ .name = "max_queue", .type = CT_U32, DB(max_queue), .def = "1000",
	  .min = 0, .max = 100000 },
	{ .name = "queue_timeout", .type = CT_DURATION, DB(queue_timeout_ms),
	  .def = "1s", .min = 1, .max = MS_M },
	{ .name = "statement_timeout", .type = CT_DURATION,
	  DB(statement_timeout_ms), .def = "5s", .min = 1, .max = MS_H },
	{ .name = "connect_timeout", .type = CT_DURATION,
	  DB(connect_timeout_ms), .def = "5s", .min = MS_S, .max = MS_M },
	{ .name = "replicas", .type = CT_STRLIST, DB(replicas),
	  .off2 = offsetof(struct conf_database, nreplicas), .def = "[]",
	  .max = 16, .check = conf_check_conninfo },
};
#undef DB

static const struct conf_table conf_database_table = {
	conf_database_keys, BW_ARRAY_LEN(conf_database_keys),
	sizeof(struct conf_database), conf_database_post
};

/*
 * auth
 */
#define AU(f)	.off = offsetof(struct conf_auth, f)
static const struct conf_key conf_argon2_keys[] = {
	{ .name = "memory", .type = CT_SIZE,
	  .off = offsetof(struct conf_argon2, memory), .def = "19MiB",
	  .min = 19 * MIB, .max = 256 * MIB },
	{ .name = "iterations", .type = CT_U32,
	  .off = offsetof(struct conf_argon2, iterations), .def = "2",
	  .min = 1, .max = 10 },
	{ .name = "parallelism", .type = CT_U32,
	  .off = offsetof(struct conf_argon2, parallelism), .def = "1",
	  .min = 1, .max = 4 },
};

static const struct conf_table conf_argon2_table = {
	conf_argon2_keys, BW_ARRAY_LEN(conf_argon2_keys), 0, NULL
};

static void
conf_password_post(struct conf_ctx *c, const struct node *map,
    const struct node *where, void *base)
{
	struct conf_auth	*a = base;
	const struct node	*n = node_get(map, "max_length");

	if (a->password_min_length > a->password_max_length &&
	    a->password_max_length != 0)
		conf_err(c, n != NULL ? n : where, "max_length is below "
		    "min_length");
}

static const struct conf_key conf_password_keys[] = {
	{ .name = "min_length", .type = CT_U32, AU(password_min_length),
	  .def = "12", .min = 8, .max = 1024 },
	{ .name = "max_length", .type = CT_U32, AU(password_max_length),
	  .def = "128", .min = 8, .max = 4096 },
	{ .name = "argon2", .type = CT_SECTION, AU(argon2),
	  .sub = &conf_argon2_table },
	{ .name = "pool_threads", .type = CT_U32, AU(pool_threads),
	  .def = "2", .min = 1, .max = 64 },
};

static const struct conf_table conf_password_table = {
	conf_password_keys, BW_ARRAY_LEN(conf_password_keys), 0,
	conf_password_post
};

static const struct conf_key conf_lockout_keys[] = {
	{ .name = "max_failures", .type = CT_U32, AU(lockout_max_failures),
	  .def = "5", .min = 1, .max = 100 },
	{ .name = "window", .type = CT_DURATION, AU(lockout_window_ms),
	  .def = "15m", .min = MS_M, .max = MS_D },
	{ .name = "duration", .type = CT_DURATION, AU(lockout_duration_ms),
	  .def = "15m", .min = MS_M, .max = MS_D },
	{ .name = "max_tracked", .type = CT_U32, AU(lockout_max_tracked),
	  .def = "100000", .min = 1000, .max = 10000000 },
};

static const struct conf_table conf_lockout_table = {
	conf_lockout_keys, BW_ARRAY_LEN(conf_lockout_keys), 0, NULL
};

static const struct conf_key conf_auth_keys[] = {
	{ .name = "issuer", .type = CT_STRING, AU(issuer), .flags = F_REQ,
	  .max = 256 },
	{ .name = "audience", .type = CT_STRING, AU(audience), .flags = F_REQ,
	  .max = 256 },
	{ .name = "signing_key_file", .type = CT_PATH, AU(signing_key_file),
	  .flags = F_REQ | F_SECRET },
	{ .name = "verify_key_files", .type = CT_STRLIST,
	  AU(verify_key_files),
	  .off2 = offsetof(struct conf_auth, nverify_key_files),
	  .flags = F_SECRET, .def = "[]", .max = 8 },
	{ .name = "access_ttl", .type = CT_DURATION, AU(access_ttl_ms),
	  .def = "15m", .min = 10 * MS_S, .max = MS_D },
	{ .name = "refresh_ttl", .type = CT_DURATION, AU(refresh_ttl_ms),
	  .def = "30d", .min = MS_M, .max = 365 * MS_D },
	{ .name = "refresh_reuse_grace", .type = CT_DURATION,
	  AU(refresh_reuse_grace_ms), .def = "0s", .min = 0, .max = MS_M },
	{ .name = "leeway", .type = CT_DURATION, AU(leeway_ms), .def = "30s",
	  .min = 0, .max = 5 * MS_M },
	{ .name = "max_token_size", .type = CT_SIZE, AU(max_token_size),
	  .def = "4KiB", .min = 512, .max = 64 * KIB },
	{ .name = "endpoints", .type = CT_STRING, AU(endpoints),
	  .flags = F_NULL, .def = "/auth", .max = 256,
	  .check = conf_check_endpoints },
	{ .name = "endpoint_rate_limit", .type = CT_RATE,
	  AU(endpoint_rate_limit),
	  .def = "{by: ip, rate: \"10/m\", burst: 20}",
	  .sub = &conf_rate_table },
	{ .name = "password", .type = CT_SECTION, .off = 0,
	  .sub = &conf_password_table },
	{ .name = "lockout", .type = CT_SECTION, .off = 0,
	  .sub = &conf_lockout_table },
	{ .name = "api_keys", .type = CT_BOOL, AU(api_keys), .def = "true" },
	{ .name = "token_cache", .type = CT_U32, AU(token_cache),
	  .def = "4096", .min = 0, .max = 1048576 },
};
#undef AU

static const struct conf_table conf_auth_table = {
	conf_auth_keys, BW_ARRAY_LEN(conf_auth_keys),
	sizeof(struct conf_auth), NULL
};

/*
 * roles: name -> {inherits: [...]}, acyclic.
 */
static const struct conf_key conf_role_keys[] = {
	{ .name = "inherits", .type = CT_STRLIST,
	  .off = offsetof(struct conf_role, inherits),
	  .off2 = offsetof(struct conf_role, ninherits), .def = "[]",
	  .check = conf_check_role_name },
};

static const struct conf_table conf_role_table = {
	conf_role_keys, BW_ARRAY_LEN(conf_role_keys), 0, NULL
};

static ssize_t
conf_role_find(const struct conf *cf, const char *name)
{
	size_t	i;

	for (i = 0; i < cf->nroles; i++)
		if (strcmp(cf->roles[i].name, name) == 0)
			return (ssize_t)i;
	return -1;
}

/* Depth-first search; a grey role reached again closes a cycle. */
static void
conf_role_visit(struct conf_ctx *c, size_t i, unsigned char *color)
{
	struct conf_role	*r = &c->conf->roles[i];
	struct node		 at;
	ssize_t			 j;
	size_t			 k;

	color[i] = 1;
	for (k = 0; k < r->ninherits; k++) {
		if ((j = conf_role_find(c->conf, r->inherits[k])) == -1)
			continue;
		if (color[j] == 1) {
			memset(&at, 0, sizeof(at));
			at.line = c->conf->roles[j].pos.line;
			at.col = c->conf->roles[j].pos.col;
			conf_err(c, &at, "role '%s' inherits from itself "
			    "(a cycle)", c->conf->roles[j].name);
		} else if (color[j] == 0)
			conf_role_visit(c, (size_t)j, color);
	}
	color[i] = 2;
}

static void
conf_roles_check(struct conf_ctx *c, const struct node *n, void *base)
{
	struct conf		*cf = base;
	const struct node	*val, *seq;
	unsigned char		*color;
	size_t			 i, k, old;

	for (i = 0; i < cf->nroles; i++) {
		val = node_get(n, cf->roles[i].name);
		seq = node_get(val, "inherits");
		old = conf_path_push(c, ".%s.inherits", cf->roles[i].name);
		for (k = 0; k < cf->roles[i].ninherits; k++) {
			if (strcmp(cf->roles[i].inherits[k], "public") == 0)
				conf_err(c, conf_seq_item(seq,
				    cf->roles[i].inherits[k]),
				    "public cannot be inherited");
			else if (conf_role_find(cf,
			    cf->roles[i].inherits[k]) == -1)
				conf_err(c, conf_seq_item(seq,
				    cf->roles[i].inherits[k]),
				    "unknown role '%s'",
				    cf->roles[i].inherits[k]);
		}
		conf_path_pop(c, old);
	}
	color = bw_calloc(cf->nroles + 1, 1);
	for (i = 0; i < cf->nroles; i++)
		if (color[i] == 0)
			conf_role_visit(c, i, color);
	free(color);
}

static int
conf_role_name(struct conf_ctx *c, const struct node *key)
{
	if (!conf_ident(key->text, 62) || strlen(key->text) != key->len) {
		conf_err(c, key, "invalid role name (^[a-z][a-z0-9_]{0,62}$)");
		return -1;
	}
	if (strcmp(key->text, "public") == 0) {
		conf_err(c, key, "the role name public is reserved");
		return -1;
	}
	return 0;
}

static const struct conf_coll conf_roles_coll = {
	.what = "role names", .many = "roles", .max = CONF_MAX_ROLES,
	.size = sizeof(struct conf_role),
	.pos_off = offsetof(struct conf_role, pos), .item = &conf_role_table,
	.plain_names = true, .name = conf_role_name, .check = conf_roles_check,
};

/*
 * schemas: name -> JSON Schema (a mapping or a boolean), kept as nodes.
 */
static int
conf_schema_key(struct conf_ctx *c, const struct node *key)
{
	if (conf_schema_name(key->text, key->len))
		return 0;
	conf_err(c, key, "invalid schema name "
	    "(^[A-Za-z_][A-Za-z0-9_.-]{0,63}$)");
	return -1;
}

static int
conf_schema_item(struct conf_ctx *c, const struct node *key,
    const struct node *val, void *item)
{
	struct conf_schema	*s = item;

	(void)key;
	if (!conf_is_schema(val)) {
		conf_err(c, val, "a schema is a mapping or a boolean, got %s",
		    conf_a(val));
		return -1;
	}
	s->schema = (struct node *)val;
	s->pos.line = val->line;
	s->pos.col = val->col;
	return 0;
}

static void
conf_schema_dump(FILE *fp, const void *item)
{
	conf_dump_node(fp, ((const struct conf_schema *)item)->schema);
}

static const struct conf_coll conf_schemas_coll = {
	.what = "schema names", .many = "schemas", .max = CONF_MAX_SCHEMAS,
	.size = sizeof(struct conf_schema), .block = true,
	.name = conf_schema_key, .parse = conf_schema_item,
	.dump = conf_schema_dump,
};

static bool
conf_schema_find(const struct conf *cf, const char *name)
{
	size_t	i;

	for (i = 0; i < cf->nschemas; i++)
		if (strcmp(cf->schemas[i].name, name) == 0)
			return true;
	return false;
}

/*
 * routes
 */
static const char *const conf_method_names[] = { "GET", "POST", "PUT",
    "PATCH", "DELETE", NULL };
static const char *const conf_result_names[] = { "object", "array", "none",
    "value", NULL };

const char *
conf_method_name(enum conf_method m)
{
	return (unsigned)m < 5 ? conf_method_names[m] : "?";
}

const char *
conf_result_name(enum conf_result r)
{
	return (unsigned)r < 4 ? conf_result_names[r] : "?";
}

/* params and query: name -> schema. */
static void
conf_schema_map(struct conf_ctx *c, const struct node *n, struct node **out,
    bool path)
{
	size_t	i;
	bool	ok = true;

	if (yaml_is_null(n))
		return;
	if (n->kind != NODE_MAP) {
		conf_err(c, n, "expected a mapping of names to schemas, got %s",
		    conf_a(n));
		return;
	}
	if (n->n > CONF_MAX_LIST) {
		conf_err(c, n, "at most %d parameters", CONF_MAX_LIST);
		return;
	}
	for (i = 0; i < n->n; i++) {
		if (path ? !conf_ident(n->keys[i]->text, 62) :
		    !conf_schema_name(n->keys[i]->text, n->keys[i]->len)) {
			conf_err(c, n->keys[i], "invalid parameter name");
			ok = false;
		} else if (!conf_is_schema(n->vals[i])) {
			conf_err(c, n->vals[i], "a schema is a mapping or a "
			    "boolean, got %s", conf_a(n->vals[i]));
			ok = false;
		}
	}
	if (ok)
		*out = (struct node *)n;
}

static void
conf_params_parse(struct conf_ctx *c, const struct node *n, void *base)
{
	conf_schema_map(c, n, &((struct conf_route *)base)->params, true);
}

static void
conf_query_parse(struct conf_ctx *c, const struct node *n, void *base)
{
	conf_schema_map(c, n, &((struct conf_route *)base)->query, false);
}

static void
conf_params_dump(struct conf_out *o, const struct conf_key *k,
    const void *base)
{
	const struct conf_route	*r = base;

	conf_dump_key(o, k->name);
	fputc(' ', o->fp);
	conf_dump_node(o->fp, strcmp(k->name, "params") == 0 ? r->params :
	    r->query);
	fputc('\n', o->fp);
}

static void
conf_body_parse(struct conf_ctx *c, const struct node *n, void *base)
{
	struct conf_route	*r = base;
	char			 ex[128];

	if (yaml_is_null(n))
		return;
	if (yaml_is_string(n)) {
		if (!conf_schema_find(c->conf, n->text))
			conf_err(c, n, "unknown schema '%s'",
			    conf_ex(n->text, ex, sizeof(ex)));
		else
			r->body = (struct node *)n;
		return;
	}
	if (!conf_is_schema(n)) {
		conf_err(c, n, "expected a schema name, an inline schema or "
		    "null, got %s", conf_a(n));
		return;
	}
	r->body = (struct node *)n;
}

static void
conf_body_dump(struct conf_out *o, const struct conf_key *k,
    const void *base)
{
	conf_dump_key(o, k->name);
	fputc(' ', o->fp);
	conf_dump_node(o->fp, ((const struct conf_route *)base)->body);
	fputc('\n', o->fp);
}

static void
conf_audit_flag_parse(struct conf_ctx *c, const struct node *n, void *base)
{
	bool	b;

	if (yaml_get_bool(n, &b) == -1)
		conf_err(c, n, "expected a boolean (true or false), got %s",
		    conf_a(n));
	else
		((struct conf_route *)base)->audit = b;
}

static void
conf_audit_flag_dump(struct conf_out *o, const struct conf_key *k,
    const void *base)
{
	conf_dump_key(o, k->name);
	fprintf(o->fp, " %s\n", ((const struct conf_route *)base)->audit > 0 ?
	    "true" : "false");
}

static bool
conf_param_in(char params[][64], size_t np, const char *name)
{
	size_t	i;

	for (i = 0; i < np; i++)
		if (strcmp(params[i], name) == 0)
			return true;
	return false;
}

static void
conf_route_params_check(struct conf_ctx *c, const struct node *map,
    struct conf_route *r)
{
	char			 params[CONF_MAX_PARAMS][64];
	const struct node	*pn = node_get(map, "params");
	const char		*err;
	size_t			 np, i, old;

	if (r->path == NULL || conf_template(r->path, params, &np, &err) == -1)
		return;
	old = conf_path_key(c, "params");
	for (i = 0; i < np; i++)
		if (node_get(r->params, params[i]) == NULL &&
		    (pn == NULL || r->params != NULL || yaml_is_null(pn)))
			conf_err(c, pn != NULL ? pn : map, "path parameter "
			    "'%s' has no schema", params[i]);
	for (i = 0; r->params != NULL && i < r->params->n; i++)
		if (!conf_param_in(params, np, r->params->keys[i]->text))
			conf_err(c, r->params->keys[i], "'%s' is not a "
			    "parameter of the path", r->params->keys[i]->text);
	conf_path_pop(c, old);
}

static void
conf_route_refs_check(struct conf_ctx *c, const struct node *map,
    struct conf_route *r)
{
	const struct node	*n;
	size_t			 i, old;

	n = node_get(map, "roles");
	old = conf_path_key(c, "roles");
	if (n != NULL && n->kind == NODE_SEQ && n->n == 0)
		conf_err(c, n, "must name at least one role (or public)");
	for (i = 0; i < r->nroles; i++)
		if (strcmp(r->roles[i], "public") != 0 &&
		    conf_role_find(c->conf, r->roles[i]) == -1)
			conf_err(c, conf_seq_item(n, r->roles[i]),
			    "unknown role '%s'", r->roles[i]);
	conf_path_pop(c, old);
	n = node_get(map, "query_required");
	old = conf_path_key(c, "query_required");
	for (i = 0; i < r->nquery_required; i++)
		if (node_get(r->query, r->query_required[i]) == NULL)
			conf_err(c, conf_seq_item(n, r->query_required[i]),
			    "'%s' is not declared in query",
			    r->query_required[i]);
	conf_path_pop(c, old);
}

static void
conf_route_body_check(struct conf_ctx *c, const struct node *map,
    struct conf_route *r)
{
	const struct node	*n = node_get(map, "body");
	bool			 takes = r->method == METHOD_POST ||
				    r->method == METHOD_PUT ||
				    r->method == METHOD_PATCH;

	if (takes && n == NULL)
		conf_err(c, map, "missing required key 'body' (%s routes "
		    "take a body)", conf_method_name(r->method));
	else if (takes && yaml_is_null(n))
		conf_err(c, n, "body: %s routes take a body",
		    conf_method_name(r->method));
	else if (!takes && n != NULL && !yaml_is_null(n))
		conf_err(c, n, "body: %s routes take no body",
		    conf_method_name(r->method));
}

static void
conf_route_post(struct conf_ctx *c, const struct node *map,
    const struct node *where, void *base)
{
	struct conf_route	*r = base;
	struct conf		*cf = c->conf;
	const struct node	*n;
	char			 a[32], b[32];
	int64_t			 limit;

	(void)where;
	if (map == NULL)
		return;
	if (node_get(map, "audit") == NULL)
		r->audit = -1;
	if ((n = node_get(map, "sql")) != NULL) {
		r->sql_pos.line = n->line;
		r->sql_pos.col = n->col;
	}
	if (node_get(map, "method") != NULL)
		conf_route_body_check(c, map, r);
	conf_route_params_check(c, map, r);
	conf_route_refs_check(c, map, r);
	if (r->status == 0)
		r->status = r->result == RESULT_NONE ? 204 : 200;
	if (r->timeout_ms == 0)
		r->timeout_ms = cf->database != NULL ?
		    cf->database->statement_timeout_ms : 5 * MS_S;
	limit = cf->server.limits.request_timeout_ms - MS_S;
	if (limit > 0 && r->timeout_ms > limit) {
		conf_fmt_duration(r->timeout_ms, a, sizeof(a));
		conf_fmt_duration(cf->server.limits.request_timeout_ms, b,
		    sizeof(b));
		n = node_get(map, "timeout");
		conf_err(c, n != NULL ? n : map, "timeout %s%s exceeds "
		    "server.limits.request_timeout (%s) - 1s", a,
		    n != NULL ? "" : " (database.statement_timeout)", b);
	}
	if (r->max_body_size == 0)
		r->max_body_size = cf->server.limits.max_body_size;
	if (node_get(map, "rate_limit") == NULL)
		r->rate_limit = cf->server.rate_limit;
}

#define RT(f)	.off = offsetof(struct conf_route, f)
static const struct conf_key conf_route_keys[] = {
	{ .name = "name", .type = CT_STRING, RT(name), .flags = F_REQ,
	  .check = conf_check_route_name },
	{ .name = "method", .type = CT_ENUM, RT(method), .flags = F_REQ,
	  .names = conf_method_names },
	{ .name = "path", .type = CT_STRING, RT(path), .flags = F_REQ,
	  .max = 1024, .check = conf_check_route_path },
	{ .name = "roles", .type = CT_STRLIST, RT(roles),
	  .off2 = offsetof(struct conf_route, nroles), .flags = F_REQ,
	  .check = conf_check_role_name },
	{ .name = "params", .type = CT_CUSTOM, .flags = F_INHERIT,
	  .man = "Ar mapping",
	  .parse = conf_params_parse, .dump = conf_params_dump },
	{ .name = "query", .type = CT_CUSTOM, .flags = F_INHERIT,
	  .man = "Ar mapping",
	  .parse = conf_query_parse, .dump = conf_params_dump },
	{ .name = "query_required", .type = CT_STRLIST, RT(query_required),
	  .off2 = offsetof(struct conf_route, nquery_required), .def = "[]" },
	{ .name = "body", .type = CT_CUSTOM, .flags = F_INHERIT,
	  .man = "Ar string | mapping | Li null",
	  .parse = conf_body_parse, .dump = conf_body_dump },
	{ .name = "sql", .type = CT_STRING, RT(sql), .flags = F_REQ,
	  .max = CONF_MAX_SQL, .check = conf_check_nonblank },
	{ .name = "result", .type = CT_ENUM, RT(result), .def = "object",
	  .names = conf_result_names },
	{ .name = "status", .type = CT_INT, RT(status), .flags = F_INHERIT,
	  .min = 100, .max = 599 },
	{ .name = "audit", .type = CT_CUSTOM, .flags = F_INHERIT,
	  .man = "Ar boolean",
	  .parse = conf_audit_flag_parse, .dump = conf_audit_flag_dump },
	{ .name = "audit_fields", .type = CT_STRLIST, RT(audit_fields),
	  .off2 = offsetof(struct conf_route, naudit_fields), .def = "[]" },
	{ .name = "timeout", .type = CT_DURATION, RT(timeout_ms),
	  .flags = F_INHERIT, .min = 1, .max = MS_H },
	{ .name = "max_body_size", .type = CT_SIZE, RT(max_body_size),
	  .flags = F_INHERIT, .min = 1, .max = GIB },
	{ .name = "max_rows", .type = CT_U32, RT(max_rows), .def = "1000",
	  .min = 1, .max = 1000000 },
	{ .name = "replica", .type = CT_BOOL, RT(replica), .def = "false" },
	{ .name = "rate_limit", .type = CT_RATE, RT(rate_limit),
	  .flags = F_INHERIT, .sub = &conf_rate_table },
};
#undef RT

static const struct conf_table conf_route_table = {
	conf_route_keys, BW_ARRAY_LEN(conf_route_keys), 0,
	conf_route_post
};

/* A template that ties with an earlier route's (added hook). */
static void
conf_route_ties(struct conf_ctx *c, const struct node *map, void *base,
    size_t i)
{
	struct conf_route	*r = &((struct conf *)base)->routes[i], *p;
	char			 sa[1100], sb[1100], ex[128];
	size_t			 j, old;

	if (r->name == NULL || r->path == NULL)
		return;
	conf_template_shape(r->path, sa, sizeof(sa));
	for (j = 0; j < i; j++) {
		p = &((struct conf *)base)->routes[j];
		if (p->path == NULL || p->method != r->method)
			continue;
		conf_template_shape(p->path, sb, sizeof(sb));
		if (strcmp(sa, sb) != 0)
			continue;
		old = conf_path_key(c, "path");
		conf_err(c, node_get(map, "path"), "%s %s ties with route "
		    "'%s' (line %d)", conf_method_name(r->method),
		    conf_ex(r->path, ex, sizeof(ex)),
		    p->name != NULL ? p->name : "?", p->pos.line);
		conf_path_pop(c, old);
	}
}

static const struct conf_coll conf_routes_coll = {
	.what = "routes", .many = "routes", .one = "route",
	.max = CONF_MAX_ROUTES, .size = sizeof(struct conf_route),
	.pos_off = offsetof(struct conf_route, pos), .item = &conf_route_table,
	.unique = "name", .dup = "duplicate route name",
	.added = conf_route_ties,
};

/*
 * audit
 */
static void
conf_fsync_parse(struct conf_ctx *c, const struct node *n, void *base)
{
	struct conf_audit	*a = base;

	if (yaml_is_string(n) && strcmp(n->text, "always") == 0) {
		a->fsync = FSYNC_ALWAYS;
		a->fsync_interval_ms = 0;
		return;
	}
	if (n->kind != NODE_SCALAR || yaml_is_null(n)) {
		conf_err(c, n, "expected always or a duration, got %s",
		    conf_a(n));
		return;
	}
	if (conf_duration(c, n, 1, MS_H, &a->fsync_interval_ms) == 0)
		a->fsync = FSYNC_INTERVAL;
}

static void
conf_fsync_dump(struct conf_out *o, const struct conf_key *k,
    const void *base)
{
	const struct conf_audit	*a = base;
	char			 buf[32];

	conf_dump_key(o, k->name);
	if (a->fsync == FSYNC_ALWAYS)
		fputs(" always\n", o->fp);
	else {
		conf_fmt_duration(a->fsync_interval_ms, buf, sizeof(buf));
		fprintf(o->fp, " %s\n", buf);
	}
}

static const char *const conf_on_failure_names[] = { "reject", "continue",
    NULL };

static void
conf_on_failure_parse(struct conf_ctx *c, const struct node *n, void *base)
{
	int	i;

	if ((i = conf_enum(c, n, conf_on_failure_names)) != -1)
		((struct conf_audit *)base)->on_failure_reject = i == 0;
}

static void
conf_on_failure_dump(struct conf_out *o, const struct conf_key *k,
    const void *base)
{
	conf_dump_key(o, k->name);
	fprintf(o->fp, " %s\n", ((const struct conf_audit *)base)->
	    on_failure_reject ? "reject" : "continue");
}

#define AD(f)	.off = offsetof(struct conf_audit, f)
static const struct conf_key conf_audit_keys[] = {
	{ .name = "file", .type = CT_PATH, AD(file),
	  .def = "/var/log/bulwark/audit.log" },
	{ .name = "key_file", .type = CT_PATH, AD(key_file), .flags = F_SECRET,
	  .def = "/etc/bulwark/keys/audit.key" },
	{ .name = "instance_id", .type = CT_STRING, AD(instance_id),
	  .flags = F_NULL, .def = "null", .check = conf_check_instance },
	{ .name = "fsync", .type = CT_CUSTOM, .def = "always",
	  .man = "Li always | Ar duration",
	  .parse = conf_fsync_parse, .dump = conf_fsync_dump },
	{ .name = "on_failure", .type = CT_CUSTOM, .def = "reject",
	  .man = "Li reject | continue",
	  .parse = conf_on_failure_parse, .dump = conf_on_failure_dump },
	{ .name = "control_socket", .type = CT_PATH, AD(control_socket),
	  .def = "/run/bulwark/control.sock" },
};
#undef AD

static const struct conf_table conf_audit_table = {
	conf_audit_keys, BW_ARRAY_LEN(conf_audit_keys),
	sizeof(struct conf_audit), NULL
};

/*
 * backup: `every` or `at` ("HH:MM" UTC), not both; default every 24h.
 */
static void
conf_every_parse(struct conf_ctx *c, const struct node *n, void *base)
{
	conf_duration(c, n, MS_M, 365 * MS_D,
	    &((struct conf_backup *)base)->every_ms);
}

static void
conf_at_parse(struct conf_ctx *c, const struct node *n, void *base)
{
	struct conf_backup	*b = base;
	const char		*s;

	if ((s = conf_str(c, n, 5)) == NULL)
		return;
	if (strlen(s) != 5 || !conf_isdigit(s[0]) || !conf_isdigit(s[1]) ||
	    s[2] != ':' || !conf_isdigit(s[3]) || !conf_isdigit(s[4]) ||
	    (s[0] - '0') * 10 + (s[1] - '0') > 23 || s[3] > '5') {
		conf_err(c, n, "expected \"HH:MM\" (UTC, 00:00 to 23:59)");
		return;
	}
	b->at_minute = ((s[0] - '0') * 10 + (s[1] - '0')) * 60 +
	    (s[3] - '0') * 10 + (s[4] - '0');
}

static void
conf_every_dump(struct conf_out *o, const struct conf_key *k,
    const void *base)
{
	const struct conf_backup	*b = base;
	char				 buf[32];

	if (b->at_minute >= 0)
		return;
	conf_fmt_duration(b->every_ms, buf, sizeof(buf));
	conf_dump_key(o, k->name);
	fprintf(o->fp, " %s\n", buf);
}

static void
conf_at_dump(struct conf_out *o, const struct conf_key *k, const void *base)
{
	const struct conf_backup	*b = base;

	if (b->at_minute < 0)
		return;
	conf_dump_key(o, k->name);
	fprintf(o->fp, " \"%02d:%02d\"\n", b->at_minute / 60,
	    b->at_minute % 60);
}

static void
conf_backup_post(struct conf_ctx *c, const struct node *map,
    const struct node *where, void *base)
{
	struct conf_backup	*b = base;
	const struct node	*every = node_get(map, "every");
	const struct node	*at = node_get(map, "at");

	(void)where;
	if (at == NULL)
		b->at_minute = -1;
	if (every != NULL && at != NULL)
		conf_err(c, at, "every and at are exclusive");
	else if (every == NULL && at == NULL)
		b->every_ms = 24 * MS_H;
	if (at != NULL)
		b->every_ms = 0;
}

#define BK(f)	.off = offsetof(struct conf_backup, f)
static const struct conf_key conf_backup_keys[] = {
	{ .name = "directory", .type = CT_PATH, BK(directory),
	  .def = "/var/lib/bulwark/backups" },
	{ .name = "key_file", .type = CT_PATH, BK(key_file), .flags = F_SECRET,
	  .def = "/etc/bulwark/keys/backup.key" },
	{ .name = "every", .type = CT_CUSTOM, .flags = F_INHERIT,
	  .man = "Ar duration",
	  .parse = conf_every_parse, .dump = conf_every_dump },
	{ .name = "at", .type = CT_CUSTOM, .flags = F_INHERIT,
	  .man = "Ar string",
	  .parse = conf_at_parse, .dump = conf_at_dump },
	{ .name = "keep", .type = CT_U32, BK(keep), .def = "14", .min = 1,
	  .max = 10000 },
	{ .name = "pg_dump", .type = CT_PATH, BK(pg_dump),
	  .def = "/usr/bin/pg_dump" },
	{ .name = "pg_restore", .type = CT_PATH, BK(pg_restore),
	  .def = "/usr/bin/pg_restore" },
};
#undef BK

static const struct conf_table conf_backup_table = {
	conf_backup_keys, BW_ARRAY_LEN(conf_backup_keys),
	sizeof(struct conf_backup), conf_backup_post
};

/*
 * logging
 */
static const char *const conf_level_names[] = { "debug", "info", "notice",
    "warning", "error", NULL };
static const char *const conf_format_names[] = { "json", NULL };

static const struct conf_key conf_logging_keys[] = {
	{ .name = "level", .type = CT_ENUMSTR, .def = "info",
	  .off = offsetof(struct conf_logging, level),
	  .names = conf_level_names },
	{ .name = "access", .type = CT_STRING, .def = "stderr",
	  .man = "Li stderr | syslog | off | Ar path",
	  .off = offsetof(struct conf_logging, access),
	  .check = conf_check_access },
	{ .name = "format", .type = CT_ENUMSTR, .def = "json",
	  .off = offsetof(struct conf_logging, format),
	  .names = conf_format_names },
};

static const struct conf_table conf_logging_table = {
	conf_logging_keys, BW_ARRAY_LEN(conf_logging_keys), 0, NULL
};

/*
 * admin
 */
static void
conf_admin_listen_parse(struct conf_ctx *c, const struct node *n, void *base)
{
	struct conf_admin	*a = base;

	free(a->listen.text);
	a->listen.text = NULL;
	conf_listen_one(c, n, &a->listen);
}

static void
conf_admin_listen_dump(struct conf_out *o, const struct conf_key *k,
    const void *base)
{
	conf_dump_key(o, k->name);
	fputc(' ', o->fp);
	conf_dump_str(o->fp, ((const struct conf_admin *)base)->listen.text);
	fputc('\n', o->fp);
}

#define AM(f)	.off = offsetof(struct conf_admin, f)
static const struct conf_key conf_admin_tls_keys[] = {
	{ .name = "certificate", .type = CT_PATH, AM(certificate),
	  .flags = F_REQ | F_FILE },
	{ .name = "private_key", .type = CT_PATH, AM(private_key),
	  .flags = F_REQ | F_SECRET },
	{ .name = "client_ca", .type = CT_PATH, AM(client_ca),
	  .flags = F_FILE | F_NULL, .def = "null" },
};

static const struct conf_table conf_admin_tls_table = {
	conf_admin_tls_keys, BW_ARRAY_LEN(conf_admin_tls_keys), 0, NULL
};

static void
conf_admin_tls_parse(struct conf_ctx *c, const struct node *n, void *base)
{
	struct conf_admin	*a = base;

	if (yaml_is_null(n))
		return;
	if (n->kind != NODE_MAP) {
		conf_err(c, n, "expected a mapping {certificate, private_key, "
		    "client_ca} or null, got %s", conf_a(n));
		return;
	}
	a->tls = true;
	conf_map(c, &conf_admin_tls_table, n, n, a);
}

static void
conf_admin_tls_dump(struct conf_out *o, const struct conf_key *k,
    const void *base)
{
	const struct conf_admin	*a = base;

	conf_dump_key(o, k->name);
	if (!a->tls) {
		fputs(" null\n", o->fp);
		return;
	}
	fputs(" {certificate: ", o->fp);
	conf_dump_str(o->fp, a->certificate);
	fputs(", private_key: ", o->fp);
	conf_dump_str(o->fp, a->private_key);
	fputs(", client_ca: ", o->fp);
	if (a->client_ca != NULL)
		conf_dump_str(o->fp, a->client_ca);
	else
		fputs("null", o->fp);
	fputs("}\n", o->fp);
}

static void
conf_admin_free(void *base)
{
	struct conf_admin	*a = base;

	free(a->listen.text);
	free(a->certificate);
	free(a->private_key);
	free(a->client_ca);
}

static void
conf_admin_post(struct conf_ctx *c, const struct node *map,
    const struct node *where, void *base)
{
	struct conf_admin	*a = base;
	const struct node	*n = node_get(map, "listen");
	size_t			 old;

	if (a->listen.text == NULL || a->tls || conf_loopback(&a->listen))
		return;
	old = conf_path_key(c, "listen");
	conf_err(c, n != NULL ? n : where, "plain HTTP must listen on a "
	    "loopback address; otherwise set admin.tls");
	conf_path_pop(c, old);
}

static const struct conf_key conf_admin_keys[] = {
	{ .name = "listen", .type = CT_CUSTOM, .def = "\"127.0.0.1:9090\"",
	  .man = "Ar string",
	  .parse = conf_admin_listen_parse, .dump = conf_admin_listen_dump,
	  .free = conf_admin_free },
	{ .name = "tls", .type = CT_CUSTOM, .def = "null",
	  .man = "Ar mapping | Li null",
	  .parse = conf_admin_tls_parse, .dump = conf_admin_tls_dump,
	  .sub = &conf_admin_tls_table },
};
#undef AM

static const struct conf_table conf_admin_table = {
	conf_admin_keys, BW_ARRAY_LEN(conf_admin_keys),
	sizeof(struct conf_admin), conf_admin_post
};

/*
 * The file.
 */
static void
conf_root_post(struct conf_ctx *c, const struct node *map,
    const struct node *where, void *base)
{
	struct conf	*cf = base;
	size_t		 i;

	(void)map;
	for (i = 0; i < cf->nroutes; i++)
		if (cf->routes[i].audit == -1)
			cf->routes[i].audit = cf->audit != NULL &&
			    cf->routes[i].method != METHOD_GET;
	if (cf->database == NULL && (cf->nroutes > 0 || cf->auth != NULL ||
	    cf->audit != NULL || cf->backup != NULL)) {
		conf_err(c, where, "missing required key 'database' (routes, "
		    "auth, audit and backup need it)");
		return;
	}
	if (cf->database != NULL && cf->audit == NULL)
		bw_diag_warn(c->diag, c->file, 1, 1, "no audit section: "
		    "requests and administration are not audited");
	if (cf->database != NULL && cf->backup == NULL)
		bw_diag_warn(c->diag, c->file, 1, 1, "no backup section: "
		    "no backups are made");
}

#define CF(f)	.off = offsetof(struct conf, f)
static const struct conf_key conf_root_keys[] = {
	{ .name = "version", .type = CT_CUSTOM, .flags = F_REQ,
	  .man = "Ar integer",
	  .parse = conf_version_parse, .dump = conf_version_dump },
	{ .name = "server", .type = CT_SECTION, CF(server), .flags = F_REQ,
	  .sub = &conf_server_table },
	{ .name = "security", .type = CT_SECTION, .off = 0,
	  .sub = &conf_security_table },
	{ .name = "database", .type = CT_OPTSECTION, CF(database),
	  .flags = F_NULL, .sub = &conf_database_table },
	{ .name = "auth", .type = CT_OPTSECTION, CF(auth), .flags = F_NULL,
	  .sub = &conf_auth_table },
	{ .name = "roles", .type = CT_MAP, CF(roles),
	  .off2 = offsetof(struct conf, nroles), .flags = F_NULL | F_INHERIT,
	  .coll = &conf_roles_coll },
	{ .name = "schemas", .type = CT_MAP, CF(schemas),
	  .off2 = offsetof(struct conf, nschemas), .flags = F_NULL | F_INHERIT,
	  .coll = &conf_schemas_coll },
	{ .name = "routes", .type = CT_SEQ, CF(routes),
	  .off2 = offsetof(struct conf, nroutes), .flags = F_NULL | F_INHERIT,
	  .coll = &conf_routes_coll },
	{ .name = "audit", .type = CT_OPTSECTION, CF(audit), .flags = F_NULL,
	  .sub = &conf_audit_table },
	{ .name = "backup", .type = CT_OPTSECTION, CF(backup), .flags = F_NULL,
	  .sub = &conf_backup_table },
	{ .name = "logging", .type = CT_SECTION, CF(logging),
	  .sub = &conf_logging_table },
	{ .name = "admin", .type = CT_OPTSECTION, CF(admin), .flags = F_NULL,
	  .sub = &conf_admin_table },
};
#undef CF

const struct conf_table conf_root_table = {
	conf_root_keys, BW_ARRAY_LEN(conf_root_keys), 0, conf_root_post
};

