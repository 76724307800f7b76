/*
 * manage.h - the administration modes of SPEC 3 for the `bulwark` schema,
 * users and API keys, --gen-key, and the backup modes (backup_modes.h).
 *
 * Each mode loads the configuration (except --gen-key, which needs none),
 * does one thing over one blocking database connection and returns an
 * exit status of SPEC 3: 0 done; 1 the configuration is invalid, or the
 * request was refused (unknown user, an existing name, a password against
 * the policy); 2 a usage error (modes combined, --roles missing, unknown
 * or `public` roles, a malformed name); 3 a runtime failure (database
 * unreachable, schema missing or of another version, a file not created).
 *
 * Passwords come only from standard input, never from argv or the
 * environment: one line when stdin is not a terminal, otherwise typed
 * twice without echo.  They are wiped as soon as they are hashed.
 */
#ifndef BW_MANAGE_H
#define BW_MANAGE_H

#include <stdbool.h>
#include <stddef.h>

enum manage_mode {
	MANAGE_NONE,
	MANAGE_INIT_DB,
	MANAGE_ADD_USER,
	MANAGE_SET_PASSWORD,
	MANAGE_DISABLE_USER,
	MANAGE_ENABLE_USER,
	MANAGE_LIST_USERS,
	MANAGE_REVOKE_SESSIONS,
	MANAGE_ADD_API_KEY,
	MANAGE_REVOKE_API_KEY,
	MANAGE_LIST_API_KEYS,
	MANAGE_GEN_KEY,
	MANAGE_OPENAPI,
	MANAGE_BACKUP,
	MANAGE_LIST_BACKUPS,
	MANAGE_VERIFY_BACKUP,
	MANAGE_RESTORE,
	MANAGE_VERIFY_AUDIT,
};

enum {
	MANAGE_EXIT_OK = 0,
	MANAGE_EXIT_REFUSED = 1,
	MANAGE_EXIT_USAGE = 2,
	MANAGE_EXIT_RUNTIME = 3,
};

/* What the command line asked for; strings point into argv. */
struct manage_args {
	enum manage_mode mode;
	const char	*flag;		/* the mode's option name */
	const char	*name;		/* NAME, or KIND of --gen-key */
	const char	*file;		/* FILE of --gen-key */
	const char	*roles;		/* --roles */
	const char	*conflict;	/* a second mode option */
	const char	*unknown;	/* an option no mode takes */
	bool		 roles_twice;
	const char	*target;	/* --target of --restore */
	bool		 yes;		/* --yes */
	bool		 force;		/* --force */
	const char	*from_seq;	/* --from-seq of --verify-audit */
	const char *const *files;	/* FILE... of --verify-audit */
	size_t		 nfiles;
};

/*
 * Records one administration option (its long name without "--", and its
 * argument or NULL) while the command line is parsed; a name it does not
 * know is refused as unknown.  The name must outlive the arguments.  next
 * is the
 * following argv element or NULL: --gen-key takes it as FILE unless it
 * starts with '-'.  Returns how many further argv elements it consumed (0
 * or 1).  Problems are reported by manage_run().
 */
int	 manage_opt(struct manage_args *, const char *name, const char *arg,
	    const char *next);

/* Runs the recorded mode with configuration file config; an exit status. */
int	 manage_run(const char *config, const struct manage_args *);

#endif
