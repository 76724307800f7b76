/*
 * backup.c - making a backup (backup.h, SPEC 10).
 *
 * Steps, all under an exclusive flock on BACKUP_LOCK_NAME in the
 * directory (a second backup refuses at once): remove temporaries left by
 * a backup that was killed; ask the server for its version and database
 * name; check that pg_dump's major version is at least the server's;
 * create ".NAME.tmp" (O_EXCL, 0600, owned as the directory); run pg_dump
 * with its stdout on a pipe and seal what it writes chunk by chunk into the
 * temporary, hashing the ciphertext for the manifest; on a clean exit of
 * pg_dump seal the final chunk, fsync, rename to NAME (never replacing),
 * fsync the directory; write NAME.manifest.json the same way; record the
 * success time; apply retention.
 *
 * Invariants: no plaintext byte of the dump is ever written to a file
 * (it exists only in the pipe and in the sealer's chunk buffer, wiped);
 * a file under a final name is complete; any failure (pg_dump's exit
 * status or death, a write error such as ENOSPC, a signal) removes the
 * temporary.  Retention never removes the backup just written.
 *
 * Threat model: the key file is read through conf_secret_open (owner,
 * mode, no symbolic link) and wiped after use; the password of the
 * database reaches pg_dump only through its environment (backup_proc.h).
 */
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <openssl/evp.h>

#include "audit_admin.h"
#include "audit_writer.h"
#include "backup.h"
#include "backup_proc.h"
#include "conf.h"
#include "dbconf.h"
#include "log.h"
#include "secret.h"
#include "util.h"

#define BACKUP_READ_BUF		65536
#define BACKUP_NAME_TRIES	5	/* seconds waited for a free name */

struct backup_job {
	const struct conf	*conf;
	uint8_t			 key[BACKUP_KEY_LEN];
	int			 dirfd;
	struct stat		 dirst;
	int			 lockfd;
	int			 fd;		/* the temporary */
	char			 name[BACKUP_NAME_MAX];
	char			 tmp[BACKUP_NAME_MAX + 8];
	struct backup_header	 h;
	EVP_MD_CTX		*sha;
	uint64_t		 bytes;
	int			 werrno;
	struct backup_proc	 dump;
	char			 pg_dump[BACKUP_PGDUMP_MAX + 1];
	char			 database[BACKUP_DBNAME_MAX + 1];
	int			 server_major;
};

static volatile sig_atomic_t	 backup_stop;

static void backup_errf(struct backup_err *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));

static void
backup_errf(struct backup_err *e, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	(void)bw_vformat(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
}

static void
backup_signal(int sig)
{
	backup_stop = sig;
}

/* The configuration of the job this process runs, for its records. */
static const struct conf	*backup_audit_conf;

/*
 * backup.* records (SPEC 9): through the daemon's writer when this process
 * is the daemon's (the master, the backup runner), else (--backup with no
 * daemon of its own) as the administration modes do.
 */
void
backup_audit(const char *event, const char *detail)
{
	json_t		*d = json_pack("{s:s}", strcmp(event,
			    "backup.failure") == 0 ? "error" : "file", detail);
	const char	*err = NULL;
	int		 rv;

	if (strcmp(event, "backup.failure") == 0)
		log_errorx("%s: %s", event, detail);
	else
		log_notice("%s: %s", event, detail);
	if (audit_writer_pid() > 0)
		rv = audit_writer_event(event, d, &err);
	else
		rv = audit_admin_event(backup_audit_conf, event, d, &err);
	if (rv == -1)
		log_warnx("%s: not recorded in the audit log: %s", event, err);
	json_decref(d);
}

int
backup_key_load(const struct conf *conf, uint8_t key[BACKUP_KEY_LEN],
    struct backup_err *e)
{
	const char	*err;
	uint8_t		 buf[BACKUP_KEY_LEN + 1];
	size_t		 off = 0;
	int		 fd, rv;

	if ((fd = secret_open(conf->backup->key_file, conf->server.user,
	    &err)) == -1) {
		backup_errf(e, "backup.key_file %s: %s", conf->backup->key_file,
		    err);
		return -1;
	}
	rv = secret_read(fd, buf, sizeof(buf), &off, &err);
	close(fd);
	if (rv == -1 || off != BACKUP_KEY_LEN) {
		bw_wipe(buf, sizeof(buf));
		backup_errf(e, "backup.key_file %s: not a backup key (exactly "
		    "%d bytes; make one with --gen-key backup)",
		    conf->backup->key_file, BACKUP_KEY_LEN);
		return -1;
	}
	memcpy(key, buf, BACKUP_KEY_LEN);
	bw_wipe(buf, sizeof(buf));
	return 0;
}

int
backup_name_ok(const char *s)
{
	size_t	 n = strlen(s), p = strlen(BACKUP_NAME_PREFIX),
		 x = strlen(BACKUP_NAME_SUFFIX);

	return n > p + x && n < BACKUP_NAME_MAX &&
	    strncmp(s, BACKUP_NAME_PREFIX, p) == 0 &&
	    strcmp(s + n - x, BACKUP_NAME_SUFFIX) == 0 &&
	    strchr(s, '/') == NULL;
}

static int
backup_scan_name(const struct dirent *de)
{
	return backup_name_ok(de->d_name);
}

static int
backup_scan_newest(const struct dirent **a, const struct dirent **b)
{
	return -strcmp((*a)->d_name, (*b)->d_name);
}

void
backup_names_free(char **v, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

int
backup_list_names(int dirfd, size_t max, char ***out, size_t *nout,
    struct backup_err *e)
{
	struct dirent	**list;
	char		**v;
	size_t		  i;
	int		  n;

	n = scandirat(dirfd, ".", &list, backup_scan_name,
	    backup_scan_newest);
	if (n == -1) {
		backup_errf(e, "reading the backup directory: %s",
		    strerror(errno));
		return -1;
	}
	v = bw_calloc((size_t)n + 1, sizeof(*v));
	for (i = 0; i < (size_t)n; i++) {
		v[i] = bw_strdup(list[i]->d_name);
		free(list[i]);
	}
	free(list);
	if ((size_t)n > max) {
		backup_names_free(v, (size_t)n);
		backup_errf(e, "more than %zu backups in the directory", max);
		return -1;
	}
	*out = v;
	*nout = (size_t)n;
	return 0;
}

/*
 * Files
 */

/* A new file gets the owner and group of its directory (SPEC 3). */
static int
backup_own(const struct backup_job *j, int fd)
{
	if (geteuid() != 0)
		return 0;
	return fchown(fd, j->dirst.st_uid, j->dirst.st_gid);
}

static int
backup_dir_open(struct backup_job *j, struct backup_err *e)
{
	const char	*dir = j->conf->backup->directory;

	if ((j->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		backup_errf(e, "backup.directory %s: %s", dir, strerror(errno));
		return -1;
	}
	if (fstat(j->dirfd, &j->dirst) == -1) {
		backup_errf(e, "backup.directory %s: %s", dir, strerror(errno));
		return -1;
	}
	if (j->dirst.st_mode & S_IWOTH) {
		backup_errf(e, "backup.directory %s: writable by others",
		    dir);
		return -1;
	}
	return 0;
}

static enum backup_result
backup_lock(struct backup_job *j, struct backup_err *e)
{
	j->lockfd = openat(j->dirfd, BACKUP_LOCK_NAME, O_RDWR | O_CREAT |
	    O_NOFOLLOW | O_CLOEXEC, 0600);
	if (j->lockfd == -1 || backup_own(j, j->lockfd) == -1) {
		backup_errf(e, "lock file %s/%s: %s",
		    j->conf->backup->directory, BACKUP_LOCK_NAME,
		    strerror(errno));
		return BACKUP_FAILED;
	}
	if (flock(j->lockfd, LOCK_EX | LOCK_NB) == -1) {
		if (errno == EWOULDBLOCK) {
			backup_errf(e, "another backup is running in %s",
			    j->conf->backup->directory);
			return BACKUP_BUSY;
		}
		backup_errf(e, "lock: %s", strerror(errno));
		return BACKUP_FAILED;
	}
	return BACKUP_DONE;
}

static int
backup_scan_temp(const struct dirent *de)
{
	size_t	 n = strlen(de->d_name);

	return strncmp(de->d_name, "." BACKUP_NAME_PREFIX,
	    strlen(BACKUP_NAME_PREFIX) + 1) == 0 && n > 4 &&
	    strcmp(de->d_name + n - 4, ".tmp") == 0;
}

/* Temporaries of a backup that was killed; we hold the lock. */
static void
backup_clean_temps(struct backup_job *j)
{
	struct dirent	**list;
	int		  n, i;

	if ((n = scandirat(j->dirfd, ".", &list, backup_scan_temp,
	    NULL)) == -1)
		return;
	for (i = 0; i < n; i++) {
		if (unlinkat(j->dirfd, list[i]->d_name, 0) == 0)
			log_warnx("removed %s, left by an interrupted backup",
			    list[i]->d_name);
		free(list[i]);
	}
	free(list);
}

static int
backup_write_all(int fd, const void *buf, size_t len)
{
	const uint8_t	*p = buf;
	ssize_t		 w;

	while (len > 0) {
		w = write(fd, p, len);
		if (w == -1 && errno == EINTR)
			continue;
		if (w <= 0) {
			if (w == 0)
				errno = EIO;
			return -1;
		}
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

/*
 * A small file written whole: NAME.tmp, fsync, rename over name (replace
 * says whether an existing name may be replaced), fsync the directory.
 */
static int
backup_write_small(struct backup_job *j, const char *name, const void *buf,
    size_t len, bool replace, struct backup_err *e)
{
	char	 tmp[BACKUP_NAME_MAX + 32];
	int	 fd, rv;

	(void)snprintf(tmp, sizeof(tmp), ".%s.tmp", name);
	fd = openat(j->dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0600);
	if (fd == -1) {
		backup_errf(e, "%s: %s", tmp, strerror(errno));
		return -1;
	}
	rv = backup_own(j, fd) == -1 || backup_write_all(fd, buf, len) == -1 ||
	    fsync(fd) == -1 ? -1 : 0;
	if (close(fd) == -1)
		rv = -1;
	if (rv == 0)
		rv = replace ? renameat(j->dirfd, tmp, j->dirfd, name) :
		    renameat2(j->dirfd, tmp, j->dirfd, name, RENAME_NOREPLACE);
	if (rv == -1) {
		backup_errf(e, "writing %s: %s", name, strerror(errno));
		(void)unlinkat(j->dirfd, tmp, 0);
		return -1;
	}
	(void)fsync(j->dirfd);
	return 0;
}

/*
 * The server
 */
static PGconn *
backup_connect(const struct conf *conf, struct dbconf *dc,
    struct backup_err *e)
{
	const char	*keys[DBCONF_MAX_KEYS + 2], *vals[DBCONF_MAX_KEYS + 2];
	const char	*err, *msg;
	char		 timeout[24];
	size_t		 i;
	PGconn		*pg;

	if (dbconf_build(conf, dc, &err) == -1) {
		backup_errf(e, "%s", err);
		return NULL;
	}
	(void)snprintf(timeout, sizeof(timeout), "%lld", (long long)
	    (conf->database->connect_timeout_ms + 999) / 1000);
	keys[0] = "connect_timeout";
	vals[0] = timeout;
	for (i = 0; dc->keys[i] != NULL; i++) {
		keys[i + 1] = dc->keys[i];
		vals[i + 1] = dc->vals[i];
	}
	keys[i + 1] = vals[i + 1] = NULL;
	pg = PQconnectdbParams(keys, vals, 0);
	if (pg == NULL || PQstatus(pg) != CONNECTION_OK) {
		msg = pg != NULL ? PQerrorMessage(pg) : "out of memory";
		backup_errf(e, "database unreachable: %.*s",
		    (int)strcspn(msg, "\n"), msg);
		PQfinish(pg);
		return NULL;
	}
	return pg;
}

/* The server's major version and database name. */
static int
backup_server(struct backup_job *j, struct dbconf *dc, struct backup_err *e)
{
	PGconn		*pg;
	PGresult	*res;
	int		 rv = -1;

	if ((pg = backup_connect(j->conf, dc, e)) == NULL)
		return -1;
	j->server_major = PQserverVersion(pg) / 10000;
	res = PQexec(pg, "SELECT current_database()");
	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 &&
	    PQgetlength(res, 0, 0) <= BACKUP_DBNAME_MAX) {
		bw_strlcpy(j->database, PQgetvalue(res, 0, 0),
		    sizeof(j->database));
		rv = 0;
	} else
		backup_errf(e, "cannot read the database name");
	PQclear(res);
	PQfinish(pg);
	return rv;
}

static int
backup_check_pg_dump(struct backup_job *j, struct backup_err *e)
{
	const char	*path = j->conf->backup->pg_dump, *err;
	int		 major;

	if (backup_proc_version(path, j->pg_dump, sizeof(j->pg_dump), &major,
	    &err) == -1) {
		backup_errf(e, "backup.pg_dump %s: %s", path, err);
		return -1;
	}
	if (major < j->server_major) {
		backup_errf(e, "backup.pg_dump %s is version %d, older than "
		    "the server (%d): install a pg_dump of version %d or "
		    "newer", path, major, j->server_major, j->server_major);
		return -1;
	}
	return 0;
}

/* bulwark-YYYYMMDDTHHMMSSZ-DB.bwbk: DB reduced to [A-Za-z0-9_.-]. */
static int
backup_make_name(struct backup_job *j, time_t t)
{
	char		 db[BACKUP_NAME_DB_MAX + 1], ts[32];
	struct tm	 tm;
	size_t		 i;
	unsigned char	 c;

	for (i = 0; i < BACKUP_NAME_DB_MAX && j->database[i] != '\0'; i++) {
		c = (unsigned char)j->database[i];
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '_' || c == '-' ||
		    (c == '.' && i > 0))
			db[i] = j->database[i];
		else
			db[i] = '_';
	}
	db[i] = '\0';
	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(ts, sizeof(ts), "%Y%m%dT%H%M%SZ", &tm) == 0)
		return -1;
	(void)snprintf(j->name, sizeof(j->name), "%s%s-%s%s",
	    BACKUP_NAME_PREFIX, ts, db, BACKUP_NAME_SUFFIX);
	(void)snprintf(j->tmp, sizeof(j->tmp), ".%s.tmp", j->name);
	return 0;
}

/* A name no file has yet; waits for the next second when needed. */
static int
backup_choose_name(struct backup_job *j, time_t *t, struct backup_err *e)
{
	struct stat	 st;
	int		 i;

	for (i = 0; i < BACKUP_NAME_TRIES; i++) {
		*t = time(NULL);
		if (backup_make_name(j, *t) == -1)
			break;
		if (fstatat(j->dirfd, j->name, &st, AT_SYMLINK_NOFOLLOW) ==
		    -1 && errno == ENOENT)
			return 0;
		sleep(1);
	}
	backup_errf(e, "no free backup name in %s",
	    j->conf->backup->directory);
	return -1;
}

/*
 * Streaming
 */
static int
backup_sink_file(void *arg, const void *buf, size_t len)
{
	struct backup_job	*j = arg;

	if (backup_write_all(j->fd, buf, len) == -1) {
		j->werrno = errno;
		return -1;
	}
	j->bytes += len;
	return EVP_DigestUpdate(j->sha, buf, len) == 1 ? 0 : -1;
}

static int
backup_start_dump(struct backup_job *j, const char *password,
    struct backup_err *e)
{
	char		 dbarg[8192];
	char		*argv[] = { j->conf->backup->pg_dump,
			    (char *)"--format=custom", (char *)"--no-password",
			    dbarg, NULL };
	const char	*err;
	int		 n;

	n = snprintf(dbarg, sizeof(dbarg), "--dbname=%s",
	    j->conf->database->conninfo);
	if (n < 0 || (size_t)n >= sizeof(dbarg)) {
		backup_errf(e, "database.conninfo too long for pg_dump");
		return -1;
	}
	if (backup_proc_start(j->conf->backup->pg_dump, argv, password,
	    BACKUP_PIPE_FROM, -1, &j->dump, &err) == -1) {
		backup_errf(e, "cannot run %s: %s", j->conf->backup->pg_dump,
		    err);
		return -1;
	}
	return 0;
}

/* pg_dump's stdout through the sealer until it ends. */
static int
backup_pump(struct backup_job *j, struct backup_sealer *s,
    struct backup_err *e)
{
	uint8_t		*buf = bw_malloc(BACKUP_READ_BUF);
	ssize_t		 n;
	int		 rv = -1;

	for (;;) {
		if (backup_stop) {
			backup_errf(e, "interrupted by signal %d",
			    (int)backup_stop);
			break;
		}
		n = read(j->dump.fd, buf, BACKUP_READ_BUF);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			backup_errf(e, "reading pg_dump: %s", strerror(errno));
			break;
		}
		if (n == 0) {
			rv = 0;
			break;
		}
		if (backup_sealer_update(s, buf, (size_t)n, e) == -1) {
			if (j->werrno != 0)
				backup_errf(e, "writing %s: %s", j->tmp,
				    strerror(j->werrno));
			break;
		}
	}
	bw_wipe(buf, BACKUP_READ_BUF);
	free(buf);
	return rv;
}

static int
backup_stream(struct backup_job *j, const char *password,
    struct backup_err *e)
{
	struct backup_sealer	*s;
	char			 st[64];
	int			 status, rv;

	if ((s = backup_sealer_new(j->key, &j->h, backup_sink_file, j,
	    e)) == NULL)
		return -1;
	if (backup_start_dump(j, password, e) == -1) {
		backup_sealer_free(s);
		return -1;
	}
	rv = backup_pump(j, s, e);
	if (rv == -1)
		backup_proc_kill(&j->dump);
	else if (backup_proc_wait(&j->dump, &status) == -1) {
		backup_proc_status_text(status, st, sizeof(st));
		backup_errf(e, "pg_dump %s", st);
		rv = -1;
	} else if ((rv = backup_sealer_finish(s, e)) == -1 && j->werrno != 0)
		backup_errf(e, "writing %s: %s", j->tmp, strerror(j->werrno));
	backup_sealer_free(s);
	return rv;
}

static int
backup_commit(struct backup_job *j, struct backup_err *e)
{
	int	 fd = j->fd;

	j->fd = -1;
	if (fsync(fd) == -1) {
		backup_errf(e, "fsync %s: %s", j->tmp, strerror(errno));
		close(fd);
		return -1;
	}
	if (close(fd) == -1) {
		backup_errf(e, "close %s: %s", j->tmp, strerror(errno));
		return -1;
	}
	if (renameat2(j->dirfd, j->tmp, j->dirfd, j->name,
	    RENAME_NOREPLACE) == -1) {
		backup_errf(e, "rename to %s: %s", j->name, strerror(errno));
		return -1;
	}
	(void)fsync(j->dirfd);
	return 0;
}

static int
backup_manifest_write(struct backup_job *j, struct backup_err *e)
{
	struct backup_manifest	 m;
	uint8_t			 md[32];
	unsigned int		 mdlen = 0;
	char			 name[BACKUP_NAME_MAX + 32], *text;
	size_t			 len;
	int			 rv;

	memset(&m, 0, sizeof(m));
	m.format = BACKUP_VERSION;
	if (backup_time_text(j->h.time, m.time) == -1 ||
	    EVP_DigestFinal_ex(j->sha, md, &mdlen) != 1) {
		backup_errf(e, "cannot compute the manifest");
		return -1;
	}
	bw_hex_encode(md, sizeof(md), m.sha256);
	bw_strlcpy(m.database, j->database, sizeof(m.database));
	bw_strlcpy(m.pg_dump, j->pg_dump, sizeof(m.pg_dump));
	m.bytes = j->bytes;
	if ((text = backup_manifest_encode(j->key, &m, &len, e)) == NULL)
		return -1;
	(void)snprintf(name, sizeof(name), "%s%s", j->name,
	    BACKUP_MANIFEST_SUFFIX);
	rv = backup_write_small(j, name, text, len, false, e);
	free(text);
	return rv;
}

/* Keeps the newest backup.keep backups; never the one just written. */
static unsigned
backup_retain(struct backup_job *j)
{
	struct backup_err	 e;
	char			**v, man[BACKUP_NAME_MAX + 32];
	size_t			 n, i, kept = 0;
	unsigned		 removed = 0;

	if (backup_list_names(j->dirfd, BACKUP_LIST_MAX, &v, &n, &e) == -1) {
		log_warnx("retention: %s", e.msg);
		return 0;
	}
	if (n > 0)
		kept = 1;	/* the one just written */
	for (i = 0; i < n; i++) {
		if (strcmp(v[i], j->name) == 0)
			continue;
		if (kept < j->conf->backup->keep) {
			kept++;
			continue;
		}
		(void)snprintf(man, sizeof(man), "%s%s", v[i],
		    BACKUP_MANIFEST_SUFFIX);
		if (unlinkat(j->dirfd, v[i], 0) == -1) {
			log_warnx("retention: removing %s: %s", v[i],
			    strerror(errno));
			continue;
		}
		(void)unlinkat(j->dirfd, man, 0);
		log_info("retention: removed %s", v[i]);
		removed++;
	}
	backup_names_free(v, n);
	if (removed > 0)
		(void)fsync(j->dirfd);
	return removed;
}

static void
backup_mark_success(struct backup_job *j)
{
	struct backup_err	 e;
	char			 buf[32];
	int			 n;

	n = snprintf(buf, sizeof(buf), "%llu\n",
	    (unsigned long long)j->h.time);
	if (backup_write_small(j, BACKUP_LAST_NAME, buf, (size_t)n, true,
	    &e) == -1)
		log_warnx("%s", e.msg);
}

int64_t
backup_last_success(const char *dir)
{
	char		 path[4096], buf[32], *end;
	long long	 v;

	if (snprintf(path, sizeof(path), "%s/%s", dir, BACKUP_LAST_NAME) >=
	    (int)sizeof(path) || bw_read_text(AT_FDCWD, path, O_NOFOLLOW, buf,
	    sizeof(buf)) == -1)
		return -1;
	v = strtoll(buf, &end, 10);
	if (end == buf || (*end != '\n' && *end != '\0') || v < 0)
		return -1;
	return (int64_t)v;
}

/*
 * The backup itself, from the name to the manifest; the lock is held.
 */
static int
backup_make(struct backup_job *j, struct backup_err *e)
{
	struct dbconf	 dc;
	time_t		 t;
	int		 rv = -1;

	memset(&dc, 0, sizeof(dc));
	backup_clean_temps(j);
	if (backup_server(j, &dc, e) == -1 || backup_check_pg_dump(j, e) ==
	    -1 || backup_choose_name(j, &t, e) == -1 ||
	    backup_header_init(&j->h, j->key, j->database, (uint64_t)t,
	    e) == -1)
		goto out;
	backup_audit("backup.start", j->name);
	j->fd = openat(j->dirfd, j->tmp, O_WRONLY | O_CREAT | O_EXCL |
	    O_NOFOLLOW | O_CLOEXEC, 0600);
	if (j->fd == -1 || backup_own(j, j->fd) == -1) {
		backup_errf(e, "%s: %s", j->tmp, strerror(errno));
		goto out;
	}
	if ((j->sha = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(j->sha, EVP_sha256(), NULL) != 1) {
		backup_errf(e, "cannot set up SHA-256");
		goto out;
	}
	if (backup_stream(j, dc.password, e) == -1 ||
	    backup_commit(j, e) == -1)
		goto out;
	if (backup_manifest_write(j, e) == -1) {
		(void)unlinkat(j->dirfd, j->name, 0);
		goto out;
	}
	rv = 0;
out:
	dbconf_free(&dc);
	if (j->fd != -1) {
		close(j->fd);
		j->fd = -1;
	}
	if (rv == -1 && j->tmp[0] != '\0' &&
	    unlinkat(j->dirfd, j->tmp, 0) == 0)
		(void)fsync(j->dirfd);
	return rv;
}

static void
backup_signals(struct sigaction *old, int restore)
{
	static const int	 sigs[] = { SIGINT, SIGTERM, SIGHUP };
	struct sigaction	 sa;
	size_t			 i;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = backup_signal;
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < BW_ARRAY_LEN(sigs); i++)
		(void)sigaction(sigs[i], restore ? &old[i] : &sa,
		    restore ? NULL : &old[i]);
}

enum backup_result
backup_run(const struct conf *conf, struct backup_done *done,
    struct backup_err *e)
{
	struct backup_job	 j;
	struct sigaction	 old[3];
	enum backup_result	 r;

	memset(&j, 0, sizeof(j));
	memset(done, 0, sizeof(*done));
	j.conf = conf;
	backup_audit_conf = conf;
	j.dirfd = j.lockfd = j.fd = -1;
	backup_stop = 0;
	backup_signals(old, 0);
	r = BACKUP_FAILED;
	if (conf->backup == NULL || conf->database == NULL)
		backup_errf(e, "no backup or database section");
	else if (backup_key_load(conf, j.key, e) == 0 &&
	    backup_dir_open(&j, e) == 0 &&
	    (r = backup_lock(&j, e)) == BACKUP_DONE &&
	    backup_make(&j, e) == -1)
		r = BACKUP_FAILED;
	if (r == BACKUP_DONE) {
		backup_mark_success(&j);
		bw_strlcpy(done->name, j.name, sizeof(done->name));
		done->bytes = j.bytes;
		done->removed = backup_retain(&j);
		backup_audit("backup.success", j.name);
	} else if (r == BACKUP_FAILED)
		backup_audit("backup.failure", e->msg);
	backup_signals(old, 1);
	bw_wipe(j.key, sizeof(j.key));
	EVP_MD_CTX_free(j.sha);
	if (j.lockfd != -1)
		close(j.lockfd);
	if (j.dirfd != -1)
		close(j.dirfd);
	return r;
}
