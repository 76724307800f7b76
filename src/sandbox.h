/*
 * sandbox.h - what a network-facing child (worker, admin listener) does to
 * itself before it touches a single client byte (SPEC 11): drop to
 * server.user/server.group, forbid regaining privileges, disable core
 * dumps and ptrace, then load the seccomp allow-list (sandbox.c); and the
 * allow-lists of every role, the key manager's and the audit writer's
 * too (sandbox_filter.c).
 */
#ifndef BW_SANDBOX_H
#define BW_SANDBOX_H

#include <sys/types.h>

#include "conf.h"

/*
 * The whole sequence, per the configuration.  Logs every step that is
 * skipped and every error; returns 0, or -1 when the process must not go
 * on serving (the caller exits: fatal for a worker).
 */
int	 sandbox_worker(const struct conf *);

/*
 * Drops to user (and group; NULL: the user's primary group).  Returns 0
 * when dropped and verified, 1 when skipped (already that user, or not
 * privileged: *err says which, for a warning), -1 on failure with *err.
 */
int	 sandbox_drop(const char *user, const char *group, const char **err);
/* Same, by numeric ids (for tests and callers that resolved them). */
int	 sandbox_drop_ids(uid_t, gid_t, const char **err);

/* PR_SET_NO_NEW_PRIVS, RLIMIT_CORE 0, PR_SET_DUMPABLE 0. */
int	 sandbox_harden(const char **err);

/* Whose allow-list (sandbox_filter.c says what each admits). */
enum sandbox_role {
	SANDBOX_WORKER,		/* workers and the admin listener */
	SANDBOX_KEYMGR,		/* the key manager */
	SANDBOX_AUDIT,		/* the audit writer */
};

/*
 * Loads role's allow-list for security.seccomp (enforce: anything else
 * kills the process; log: logged only); SECCOMP_OFF loads nothing.
 * -1 with *err when the filter cannot be installed: always fatal.
 */
int	 sandbox_seccomp(enum sandbox_role, enum conf_seccomp,
	    const char **err);

#endif
