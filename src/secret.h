/*
 * secret.h - opening secret files (SPEC 4, "Secrets").
 *
 * Every file that holds a secret (TLS private keys, token keys, the
 * database password) is opened by secret_open() and read from the
 * descriptor it returns: the checks and the read concern the same file.
 */
#ifndef BW_SECRET_H
#define BW_SECRET_H

#include <stddef.h>

/* The service user (SPEC 2): may own secret files, with its group. */
#define SECRET_SERVICE_USER	"bulwark"

/*
 * Expands "credential:NAME" to $CREDENTIALS_DIRECTORY/NAME (NAME is
 * [A-Za-z0-9._-], not starting with '.'); any other path is copied.
 * Returns a malloc'd path or NULL with *err.
 */
char	*secret_path(const char *path, const char **err);
/*
 * Opens a secret file read-only (O_NOFOLLOW, O_CLOEXEC) after expanding
 * credential:NAME, and checks on that descriptor: a regular file, owned by
 * root, the effective user or SECRET_SERVICE_USER; no permission for
 * others; the group may only read, and only when it is the effective group
 * or the service user's group; and, when worker_user (server.user) is not
 * NULL, not readable by that user.  Returns the checked descriptor
 * (blocking) or -1 with *err set.
 */
int	 secret_open(const char *path, const char *worker_user,
	    const char **err);
/*
 * Reads the whole file from fd into buf (cap bytes); a file of cap bytes
 * or more is refused, so that a truncated secret is never used.
 */
int	 secret_read(int fd, unsigned char *buf, size_t cap, size_t *len,
	    const char **err);

#endif
