/*
 * conf.h - the typed configuration (SPEC 4).
 *
 * conf_load() turns one strict-YAML file into a struct conf.  Every key is
 * described once in the declarative key tables in conf_keys.c (name, type,
 * default, bounds, hooks); the engine in conf.c walks them for parsing,
 * defaults, the -T dump and the manual page check.  Durations are
 * milliseconds, sizes bytes.  Positions (struct conf_pos) point into the
 * file for later load-time checks (SQL, schemas).
 *
 * The configuration holds no secret: only paths of secret files, stored
 * with "credential:NAME" already expanded to $CREDENTIALS_DIRECTORY/NAME.
 * Defaults that depend on other keys (a route's timeout, max_body_size,
 * rate_limit, status and audit) are resolved at load.  Schema
 * subtrees are kept as document trees (node.h) for the schema compiler.
 */
#ifndef BW_CONF_H
#define BW_CONF_H

#include <sys/socket.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "node.h"
#include "secret.h"
#include "util.h"

struct conf_pos {
	int		 line;
	int		 col;
};

struct conf_listen {
	char			*text;		/* as written: "0.0.0.0:8443" */
	struct sockaddr_storage	 addr;
	socklen_t		 addrlen;
	struct conf_pos		 pos;
};

struct conf_cidr {
	int		 family;		/* AF_INET or AF_INET6 */
	unsigned char	 addr[16];
	unsigned	 prefix;
};

enum conf_rate_by {
	RATE_BY_IP,
	RATE_BY_USER,
	RATE_BY_API_KEY,
};

struct conf_rate {
	bool		 enabled;		/* false: null (disabled) */
	enum conf_rate_by by;
	uint32_t	 count;			/* "100/s": count 100, per_ms 1000 */
	uint32_t	 per_ms;
	uint32_t	 burst;
};

enum conf_tls_profile {
	TLS_PROFILE_MODERN,
	TLS_PROFILE_INTERMEDIATE,
};

enum conf_client_verify {
	CLIENT_VERIFY_REQUIRED,
	CLIENT_VERIFY_OPTIONAL,
};

struct conf_tls {
	char			*certificate;
	char			*private_key;
	enum conf_tls_profile	 profile;
	char			*client_ca;	/* NULL: no mutual TLS */
	enum conf_client_verify	 client_verify;
	int64_t			 hsts_ms;	/* 0 disables */
};

struct conf_limits {
	uint32_t	 max_connections;
	int64_t		 header_timeout_ms;
	int64_t		 body_timeout_ms;
	int64_t		 idle_timeout_ms;
	int64_t		 request_timeout_ms;
	uint64_t	 max_header_size;
	uint32_t	 max_headers;
	uint64_t	 max_uri_length;
	uint64_t	 max_body_size;
	uint32_t	 max_json_depth;
	uint64_t	 max_response_size;
	uint32_t	 max_requests_per_connection;
};

struct conf_cors {
	char		**allow_origins;
	size_t		 nallow_origins;
	bool		 allow_credentials;
	int64_t		 max_age_ms;
};

struct conf_header {
	char		*name;
	char		*value;
};

struct conf_server {
	struct conf_listen	*listen;
	size_t			 nlisten;
	char			**hostnames;
	size_t			 nhostnames;
	uint32_t		 workers;	/* resolved: >= 1 */
	bool			 workers_auto;
	char			*user;
	char			*group;
	char			*pid_file;
	int64_t			 shutdown_timeout_ms;
	struct conf_tls		 tls;
	bool			 plaintext;
	struct conf_cidr	*trusted_proxies;
	size_t			 ntrusted_proxies;
	struct conf_limits	 limits;
	struct conf_cors	*cors;		/* NULL: no CORS headers */
	struct conf_header	*headers;
	size_t			 nheaders;
	struct conf_rate	 rate_limit;
};

enum conf_seccomp {
	SECCOMP_ENFORCE,
	SECCOMP_LOG,
	SECCOMP_OFF,
};

struct conf_database {
	char		*conninfo;
	struct conf_pos	 conninfo_pos;
	char		*password_file;
	uint32_t	 pool_size;
	uint32_t	 max_queue;
	int64_t		 queue_timeout_ms;
	int64_t		 statement_timeout_ms;
	int64_t		 connect_timeout_ms;
	char		**replicas;
	size_t		 nreplicas;
};

struct conf_argon2 {
	uint64_t	 memory;	/* bytes */
	uint32_t	 iterations;
	uint32_t	 parallelism;
};

struct conf_auth {
	char		*issuer;
	char		*audience;
	char		*signing_key_file;
	char		**verify_key_files;
	size_t		 nverify_key_files;
	int64_t		 access_ttl_ms;
	int64_t		 refresh_ttl_ms;
	int64_t		 refresh_reuse_grace_ms;
	int64_t		 leeway_ms;
	uint64_t	 max_token_size;
	char		*endpoints;	/* NULL: built-in endpoints disabled */
	struct conf_rate endpoint_rate_limit;
	uint32_t	 password_min_length;
	uint32_t	 password_max_length;
	struct conf_argon2 argon2;
	uint32_t	 pool_threads;
	uint32_t	 lockout_max_failures;
	int64_t		 lockout_window_ms;
	int64_t		 lockout_duration_ms;
	uint32_t	 lockout_max_tracked;
	bool		 api_keys;
	uint32_t	 token_cache;	/* verified-token cache entries; 0: none */
};

struct conf_role {
	char		*name;
	char		**inherits;
	size_t		 ninherits;
	struct conf_pos	 pos;
};

struct conf_schema {
	char		*name;
	struct node	*schema;	/* owned by the conf's document tree */
	struct conf_pos	 pos;
};

enum conf_method {
	METHOD_GET,
	METHOD_POST,
	METHOD_PUT,
	METHOD_PATCH,
	METHOD_DELETE,
};

enum conf_result {
	RESULT_OBJECT,
	RESULT_ARRAY,
	RESULT_NONE,
	RESULT_VALUE,
};

struct conf_route {
	char		*name;
	enum conf_method method;
	char		*path;
	char		**roles;
	size_t		 nroles;
	struct node	*params;	/* map: name -> schema; NULL when absent */
	struct node	*query;		/* map: name -> schema; NULL when absent */
	char		**query_required;
	size_t		 nquery_required;
	struct node	*body;		/* scalar (schema name) or inline schema; NULL */
	char		*sql;
	struct conf_pos	 sql_pos;
	enum conf_result result;
	int		 status;
	int		 audit;		/* resolved at load: 1 audited, 0 not */
	char		**audit_fields;
	size_t		 naudit_fields;
	int64_t		 timeout_ms;
	uint64_t	 max_body_size;
	uint32_t	 max_rows;
	bool		 replica;
	struct conf_rate rate_limit;	/* defaults to server.rate_limit */
	struct conf_pos	 pos;		/* the route's mapping */
};

enum conf_fsync {
	FSYNC_ALWAYS,
	FSYNC_INTERVAL,
};

struct conf_audit {
	char		*file;
	char		*key_file;
	char		*instance_id;	/* NULL: from /etc/machine-id */
	enum conf_fsync	 fsync;
	int64_t		 fsync_interval_ms;
	bool		 on_failure_reject;
	char		*control_socket;	/* administration modes' records */
};

struct conf_backup {
	char		*directory;
	char		*key_file;
	int64_t		 every_ms;	/* 0 when `at` is used */
	int		 at_minute;	/* minutes after 00:00 UTC; -1 unset */
	uint32_t	 keep;
	char		*pg_dump;
	char		*pg_restore;
};

struct conf_logging {
	char		*level;
	char		*access;	/* stderr | syslog | off | a path */
	char		*format;	/* json */
};

struct conf_admin {
	struct conf_listen listen;
	bool		 tls;
	char		*certificate;
	char		*private_key;
	char		*client_ca;
};

struct conf {
	char			*file;		/* path as given */
	struct node		*doc;		/* the whole document tree */
	int			 version;
	struct conf_server	 server;
	enum conf_seccomp	 seccomp;
	struct conf_database	*database;	/* NULL when absent */
	struct conf_auth	*auth;		/* NULL: off */
	struct conf_role	*roles;
	size_t			 nroles;
	struct conf_schema	*schemas;
	size_t			 nschemas;
	struct conf_route	*routes;
	size_t			 nroutes;
	struct conf_audit	*audit;		/* NULL: off */
	struct conf_backup	*backup;	/* NULL: off */
	struct conf_logging	 logging;
	struct conf_admin	*admin;		/* NULL: no admin listener */
};

/*
 * Load and validate a configuration.  Every error goes to diag with its
 * position; returns NULL when there was at least one error.  Secret files
 * named by the configuration are checked (type, owner, mode) but not read.
 */
struct conf	*conf_load(const char *path, struct bw_diag *diag);
/*
 * The same from a buffer (tests, fuzzing): no file is opened or checked
 * (secret, certificate and CA files), everything else is.
 */
struct conf	*conf_load_buffer(const char *name, const char *buf, size_t len,
		    struct bw_diag *diag);
void		 conf_free(struct conf *);
/* Prints the effective configuration as YAML, secrets redacted (-T). */
void		 conf_dump(const struct conf *, FILE *);

/* The service user (SPEC 2): may own secret files, with its group. */
#define CONF_SERVICE_USER	SECRET_SERVICE_USER

const char	*conf_method_name(enum conf_method);
const char	*conf_result_name(enum conf_result);

/*
 * Every key of the key tables, in table order, for the manual page check:
 * its dotted path ("server.limits.max_headers", "routes[].sql",
 * "roles.NAME.inherits"), its type as bulwark.yaml(5) writes it after the
 * name ("Ar integer", "Li modern | intermediate", "Ar path | Li null"), its
 * default as YAML text (NULL: none) and whether it is required.
 */
struct conf_keydoc {
	const char	*path;
	const char	*type;
	const char	*def;
	bool		 required;
};

void		 conf_keys_walk(void (*)(const struct conf_keydoc *, void *),
		    void *);

#endif
