/*
 * main.c - the command line of bulwarkd(8): serving, configuration checks
 * and the administration modes.
 *
 * Exit codes (SPEC 3): 0 success, 1 configuration or verification failure,
 * 2 usage error, 3 runtime failure.
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <argon2.h>
#include <event2/event.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <openssl/crypto.h>
#include <openssl/ssl.h>
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <seccomp.h>
#include <yaml.h>

#include "api.h"
#include "audit_admin.h"
#include "conf.h"
#include "dbconf.h"
#include "keys.h"
#include "log.h"
#include "manage.h"
#include "master.h"
#include "tls.h"
#include "util.h"

#define DEFAULT_CONFIG	"/etc/bulwark/bulwark.yaml"

enum {
	EXIT_OK = 0,
	EXIT_CONFIG = 1,
	EXIT_USAGE = 2,
	EXIT_RUNTIME = 3,
};

enum mode {
	MODE_SERVE,
	MODE_CHECK,
	MODE_DUMP,
	MODE_VERSION,
	MODE_HELP,
	MODE_ADMIN,
};

struct options {
	enum mode	 mode;
	const char	*config;
	bool		 no_db;
	bool		 daemon;
	bool		 have_level;
	enum log_level	 level;
	struct manage_args admin;	/* the administration mode asked for */
};

enum {
	OPT_NO_DB = 256,
	OPT_LOG_LEVEL,
	OPT_ADMIN,
};

/*
 * The administration modes of SPEC 3 are run by manage.c; --verify-audit
 * takes the remaining arguments as files.
 */
static const struct option long_options[] = {
	{ "config",		required_argument, NULL, 'c' },
	{ "check-config",	no_argument,	   NULL, 't' },
	{ "dump-config",	no_argument,	   NULL, 'T' },
	{ "daemon",		no_argument,	   NULL, 'd' },
	{ "version",		no_argument,	   NULL, 'V' },
	{ "help",		no_argument,	   NULL, 'h' },
	{ "no-db",		no_argument,	   NULL, OPT_NO_DB },
	{ "log-level",		required_argument, NULL, OPT_LOG_LEVEL },
	{ "init-db",		no_argument,	   NULL, OPT_ADMIN },
	{ "add-user",		required_argument, NULL, OPT_ADMIN },
	{ "roles",		required_argument, NULL, OPT_ADMIN },
	{ "set-password",	required_argument, NULL, OPT_ADMIN },
	{ "disable-user",	required_argument, NULL, OPT_ADMIN },
	{ "enable-user",	required_argument, NULL, OPT_ADMIN },
	{ "list-users",		no_argument,	   NULL, OPT_ADMIN },
	{ "revoke-sessions",	required_argument, NULL, OPT_ADMIN },
	{ "add-api-key",	required_argument, NULL, OPT_ADMIN },
	{ "revoke-api-key",	required_argument, NULL, OPT_ADMIN },
	{ "list-api-keys",	no_argument,	   NULL, OPT_ADMIN },
	{ "gen-key",		required_argument, NULL, OPT_ADMIN },
	{ "backup",		no_argument,	   NULL, OPT_ADMIN },
	{ "list-backups",	no_argument,	   NULL, OPT_ADMIN },
	{ "verify-backup",	required_argument, NULL, OPT_ADMIN },
	{ "restore",		required_argument, NULL, OPT_ADMIN },
	{ "target",		required_argument, NULL, OPT_ADMIN },
	{ "yes",		no_argument,	   NULL, OPT_ADMIN },
	{ "force",		no_argument,	   NULL, OPT_ADMIN },
	{ "verify-audit",	no_argument,	   NULL, OPT_ADMIN },
	{ "from-seq",		required_argument, NULL, OPT_ADMIN },
	{ "openapi",		no_argument,	   NULL, OPT_ADMIN },
	{ NULL,			0,		   NULL, 0 },
};

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: bulwarkd [-dhTtV] [-c file] [--no-db] [--log-level level]\n"
	    "\n"
	    "  -c, --config FILE    configuration file (default %s)\n"
	    "  -t, --check-config   validate the configuration and exit\n"
	    "  -T, --dump-config    validate and print the effective "
	    "configuration\n"
	    "      --no-db          skip the database checks of -t and -T\n"
	    "  -d, --daemon         detach from the terminal\n"
	    "      --log-level L    debug|info|notice|warning|error\n"
	    "  -V, --version        print versions and exit\n"
	    "  -h, --help           print this help and exit\n"
	    "\n"
	    "See bulwarkd(8) for the administration modes.\n", DEFAULT_CONFIG);
}

static void
print_versions(void)
{
	printf("bulwarkd %s\n", BW_VERSION);
	printf("libevent %s\n", event_get_version());
	printf("%s\n", OpenSSL_version(OPENSSL_VERSION));
	printf("jansson %s\n", jansson_version_str());
	printf("libpq %d.%d\n", PQlibVersion() / 10000,
	    PQlibVersion() % 10000);
	printf("libyaml %s\n", yaml_get_version_string());
	printf("libargon2 version 0x%x\n", ARGON2_VERSION_NUMBER);
	{
		char	 pcre[64];

		if (pcre2_config(PCRE2_CONFIG_VERSION, pcre) > 0)
			printf("PCRE2 %s\n", pcre);
	}
	{
		const struct scmp_version *v = seccomp_version();

		printf("libseccomp %u.%u.%u\n", v->major, v->minor,
		    v->micro);
	}
}

static int
parse_args(int argc, char *argv[], struct options *o)
{
	int	 ch, li = 0;

	memset(o, 0, sizeof(*o));
	o->config = DEFAULT_CONFIG;
	o->mode = MODE_SERVE;
	while ((ch = getopt_long(argc, argv, "c:tTdVh", long_options,
	    &li)) != -1) {
		switch (ch) {
		case 'c':
			o->config = optarg;
			break;
		case 't':
			o->mode = MODE_CHECK;
			break;
		case 'T':
			o->mode = MODE_DUMP;
			break;
		case 'd':
			o->daemon = true;
			break;
		case 'V':
			o->mode = MODE_VERSION;
			break;
		case 'h':
			o->mode = MODE_HELP;
			break;
		case OPT_NO_DB:
			o->no_db = true;
			break;
		case OPT_LOG_LEVEL:
			if (log_level_parse(optarg, &o->level) == -1) {
				fprintf(stderr, "bulwarkd: unknown log level "
				    "'%s'\n", optarg);
				return -1;
			}
			o->have_level = true;
			break;
		case OPT_ADMIN:
			optind += manage_opt(&o->admin, long_options[li].name,
			    optarg, optind < argc ? argv[optind] : NULL);
			o->mode = MODE_ADMIN;
			break;
		default:
			return -1;
		}
	}
	if (o->admin.mode == MANAGE_VERIFY_AUDIT) {
		o->admin.files = (const char *const *)argv + optind;
		o->admin.nfiles = (size_t)(argc - optind);
		optind = argc;
	}
	if (optind != argc) {
		fprintf(stderr, "bulwarkd: unexpected argument '%s'\n",
		    argv[optind]);
		return -1;
	}
	return 0;
}

/*
 * Loads the configuration and runs the checks that need no database:
 * (with check_tls, for -t and -T only) certificates and keys load, file
 * descriptor limits suffice.  A serving master checks its TLS pair through
 * the key manager instead (master_gen_build): it never parses the key.  Prints every
 * problem as FILE:LINE:COL and returns NULL when there was one.
 */
static struct conf *
load_checked(const char *path, bool check_tls)
{
	struct bw_diag	 diag = { 0 };
	struct conf	*conf;
	const char	*err;
	SSL_CTX		*ctx;

	conf = conf_load(path, &diag);
	if (conf != NULL && !conf->server.plaintext && check_tls) {
		ctx = tls_ctx_new(&conf->server.tls, conf->server.hostnames,
		    conf->server.nhostnames, &err);
		if (ctx == NULL)
			bw_diag_add(&diag, path, 1, 1, "TLS: %s", err);
		SSL_CTX_free(ctx);
	}
	if (conf != NULL && master_check_rlimit(conf, &err) == -1)
		bw_diag_add(&diag, path, 1, 1, "%s", err);
	if (conf != NULL && audit_admin_check(conf, &err) == -1)
		bw_diag_add(&diag, path, 1, 1, "audit: %s", err);
	bw_diag_print(&diag, stderr);
	if (diag.errors > 0) {
		conf_free(conf);
		conf = NULL;
	}
	bw_diag_free(&diag);
	return conf;
}

/*
 * -t and -T: the configuration, its routes (SQL text, placeholders,
 * schemas) and, unless --no-db, the database: reachable (else exit 3) and
 * every statement prepared and type-checked (else exit 1).
 */
static int
run_check(const struct options *o)
{
	struct bw_diag		 diag = { 0 };
	struct conf		*conf;
	struct api		*api;
	struct keys_set		*keys = NULL;
	const char		*err = NULL, *errpath = NULL;
	enum dbconf_check	 db = DBCONF_OK;
	int			 rv = EXIT_OK;

	if ((conf = load_checked(o->config, true)) == NULL)
		return EXIT_CONFIG;
	if (conf->auth != NULL &&
	    (keys = keys_set_load(conf, &err, &errpath)) == NULL) {
		fprintf(stderr, "%s: %s\n", errpath != NULL ? errpath :
		    o->config, err);
		conf_free(conf);
		return EXIT_CONFIG;
	}
	keys_set_free(keys);
	if ((api = api_load(conf, &diag)) != NULL && !o->no_db)
		db = dbconf_check(conf, api, &diag);
	bw_diag_print(&diag, stderr);
	if (api == NULL || db == DBCONF_INVALID)
		rv = EXIT_CONFIG;
	else if (db == DBCONF_UNREACHABLE)
		rv = EXIT_RUNTIME;
	else if (o->mode == MODE_DUMP)
		conf_dump(conf, stdout);
	else
		printf("configuration OK\n");
	bw_diag_free(&diag);
	api_free(api);
	conf_free(conf);
	return rv;
}

static int
run_serve(const struct options *o)
{
	struct conf	*conf;
	enum log_level	 level;
	enum log_format	 format;
	int		 rv;

	/* The master never parses the TLS key: the key manager does. */
	if ((conf = load_checked(o->config, false)) == NULL)
		return EXIT_CONFIG;
	if (!o->have_level && log_level_parse(conf->logging.level,
	    &level) == 0)
		log_set_level(level);
	if (log_format_parse(conf->logging.format, &format) == 0)
		log_set_format(format);
	/* Opened before the workers fork and drop their privileges. */
	if (log_access_open(conf->logging.access) == -1) {
		fprintf(stderr, "%s: cannot open access log %s\n", o->config,
		    conf->logging.access);
		conf_free(conf);
		return EXIT_RUNTIME;
	}
	if (o->daemon && master_daemonize() == -1) {
		conf_free(conf);
		return EXIT_RUNTIME;
	}
	rv = master_run(o->config, conf);
	return rv;
}

int
main(int argc, char *argv[])
{
	struct options	 o;

	if (parse_args(argc, argv, &o) == -1) {
		usage(stderr);
		return EXIT_USAGE;
	}
	log_init("master", o.have_level ? o.level : LOG_LVL_INFO);
	switch (o.mode) {
	case MODE_HELP:
		usage(stdout);
		return EXIT_OK;
	case MODE_VERSION:
		print_versions();
		return EXIT_OK;
	case MODE_CHECK:
	case MODE_DUMP:
		return run_check(&o);
	case MODE_ADMIN:
		return manage_run(o.config, &o.admin);
	case MODE_SERVE:
		break;
	}
	return run_serve(&o);
}
