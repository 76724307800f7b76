/*
 * sandbox.h - what a network-facing child (worker, admin listener) does to
 * itself before it touches a single client byte (SPEC 11): drop to
 * server.user/server.group, forbid regaining privileges, disable core
 * dumps and ptrace, then load the seccomp allow-list.
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

/* Loads the allow-list for security.seccomp; SECCOMP_OFF loads nothing. */
int	 sandbox_seccomp(enum conf_seccomp, const char **err);

#endif
