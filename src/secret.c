/*
 * secret.c - opening secret files (SPEC 4, "Secrets").
 *
 * One opener for every secret file, so that every caller gets the same
 * checks and reads the file it checked: the descriptor that passed fstat()
 * is the one returned, and callers load the secret from it (never reopen
 * the path).  The checks: no symbolic link as the last component
 * (O_NOFOLLOW), a regular file, an owner the daemon trusts, no permission
 * for others, at most read permission for a trusted group, and not
 * readable by the workers' user.
 *
 * Threat model: the path comes from the configuration (trusted), the file
 * system may not be: a file another local user could write, or replace by
 * a symbolic link, is refused.  Account look-ups that fail refuse the file
 * rather than skip a check.  Nothing here reads or logs secret bytes except
 * secret_read(), whose caller wipes them.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "secret.h"
#include "util.h"

#define SECRET_PWBUF	16384	/* getpwnam_r/getgrnam_r buffer */
#define SECRET_MAX_NAME	255	/* bytes of a credential name */

char *
secret_path(const char *path, const char **err)
{
	const char	*name, *dir;
	char		*out;
	size_t		 len;

	if (strncmp(path, "credential:", 11) != 0)
		return bw_strdup(path);
	name = path + 11;
	len = strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789._-");
	if (name[0] == '\0' || name[0] == '.' || name[len] != '\0' ||
	    len > SECRET_MAX_NAME) {
		*err = "invalid credential name";
		return NULL;
	}
	if ((dir = getenv("CREDENTIALS_DIRECTORY")) == NULL ||
	    dir[0] != '/') {
		*err = "credential: needs CREDENTIALS_DIRECTORY (systemd "
		    "LoadCredential=), which is not set";
		return NULL;
	}
	len = strlen(dir) + 1 + len + 1;
	out = bw_malloc(len);
	(void)snprintf(out, len, "%s/%s", dir, name);
	return out;
}

static bool
secret_user_in_group(const struct passwd *pw, gid_t gid)
{
	gid_t	 groups[256];
	int	 n = (int)BW_ARRAY_LEN(groups), i;

	if (pw->pw_gid == gid)
		return true;
	if (getgrouplist(pw->pw_name, pw->pw_gid, groups, &n) == -1)
		return true;
	for (i = 0; i < n; i++)
		if (groups[i] == gid)
			return true;
	return false;
}

/*
 * Reentrant look-ups into a buffer of SECRET_PWBUF bytes: the entry, or
 * NULL with *failed false for an unknown (or NULL) name, or NULL with
 * *failed true when the database did not answer.
 */
static struct passwd *
secret_getpw(const char *name, struct passwd *pw, char *buf, bool *failed)
{
	struct passwd	*res = NULL;

	*failed = false;
	if (name == NULL)
		return NULL;
	if (getpwnam_r(name, pw, buf, SECRET_PWBUF, &res) != 0) {
		*failed = true;
		return NULL;
	}
	return res;
}

static struct group *
secret_getgr(const char *name, struct group *gr, char *buf, bool *failed)
{
	struct group	*res = NULL;

	*failed = false;
	if (getgrnam_r(name, gr, buf, SECRET_PWBUF, &res) != 0) {
		*failed = true;
		return NULL;
	}
	return res;
}

/* Owner and mode of the open file. */
static int
secret_check_mode(const struct stat *st, const char **err)
{
	struct passwd	 pwent, *pw;
	struct group	 grent, *gr;
	char		 buf[SECRET_PWBUF];
	bool		 failed;

	pw = secret_getpw(SECRET_SERVICE_USER, &pwent, buf, &failed);
	if (st->st_uid != 0 && st->st_uid != geteuid() &&
	    (pw == NULL || st->st_uid != pw->pw_uid)) {
		*err = "not owned by root or the service user";
		return -1;
	}
	if (st->st_mode & S_IRWXO) {
		*err = "accessible by others (chmod o-rwx)";
		return -1;
	}
	if (st->st_mode & (S_IWGRP | S_IXGRP)) {
		*err = "group may write or execute it (chmod g-wx)";
		return -1;
	}
	if (!(st->st_mode & S_IRGRP) || st->st_gid == getegid())
		return 0;
	gr = secret_getgr(SECRET_SERVICE_USER, &grent, buf, &failed);
	if (gr == NULL || st->st_gid != gr->gr_gid) {
		*err = "group-readable by a group other than the service group";
		return -1;
	}
	return 0;
}

/* The workers' user must not be able to read the file. */
static int
secret_check_worker(const struct stat *st, const char *worker_user,
    const char **err)
{
	struct passwd	 pwent, *pw;
	char		 buf[SECRET_PWBUF];
	bool		 failed;

	pw = secret_getpw(worker_user, &pwent, buf, &failed);
	if (failed) {
		*err = "cannot look up server.user";
		return -1;
	}
	if (pw != NULL && ((pw->pw_uid == st->st_uid &&
	    (st->st_mode & S_IRUSR)) || ((st->st_mode & S_IRGRP) &&
	    secret_user_in_group(pw, st->st_gid)))) {
		*err = "readable by server.user";
		return -1;
	}
	return 0;
}

int
secret_open(const char *path, const char *worker_user, const char **err)
{
	struct stat	 st;
	char		*p;
	int		 fd;

	if ((p = secret_path(path, err)) == NULL)
		return -1;
	fd = open(p, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY |
	    O_NONBLOCK);
	free(p);
	if (fd == -1) {
		*err = errno == ELOOP ? "is a symbolic link" : strerror(errno);
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		*err = "not a regular file";
		goto fail;
	}
	if (secret_check_mode(&st, err) == -1 ||
	    secret_check_worker(&st, worker_user, err) == -1)
		goto fail;
	if (fcntl(fd, F_SETFL, 0) == -1) {
		*err = strerror(errno);
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return -1;
}

int
secret_read(int fd, unsigned char *buf, size_t cap, size_t *len,
    const char **err)
{
	ssize_t	 r;

	*len = 0;
	while (*len < cap) {
		r = read(fd, buf + *len, cap - *len);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			*err = strerror(errno);
			return -1;
		}
		if (r == 0)
			return 0;
		*len += (size_t)r;
	}
	*err = "file too large";
	return -1;
}
