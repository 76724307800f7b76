/*
 * backup_modes.c - --backup, --list-backups, --verify-backup and
 * --restore (backup_modes.h, SPEC 3 and 10).
 *
 * A file is read in passes over one descriptor.  A pass authenticates
 * every chunk (backup_format.h) and hashes the file for the manifest; what
 * it decrypts goes only to a sink: nowhere (the first pass), or the stdin
 * pipe of pg_restore.  --verify-backup: a pass, then FILE.manifest.json
 * when present, then a second pass into `pg_restore --list`.  --restore:
 * the same first pass and manifest check, so that a file that does not
 * authenticate restores nothing and no plaintext is ever written; then a
 * target emptiness check; then a second pass into `pg_restore
 * --single-transaction --exit-on-error`, which authenticates every chunk
 * again before pg_restore sees its bytes and kills pg_restore before its
 * input ends if one fails (the file changed between the passes), so its
 * transaction never commits.
 *
 * Threat model: the files come from a directory an attacker may write to;
 * nothing in them is trusted before it authenticated, and the manifest is
 * read bounded (BACKUP_MANIFEST_MAX).  The --target conninfo may carry a
 * password: it reaches pg_restore as an argument only as the operator
 * wrote it, and is never printed.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <openssl/evp.h>

#include "backup.h"
#include "backup_format.h"
#include "backup_modes.h"
#include "backup_proc.h"
#include "conf.h"
#include "util.h"

#define BACKUP_PASS_BUF		65536

enum {
	BM_OK = 0,
	BM_FAILED = 1,
	BM_RUNTIME = 3,
};

/* What a pass over a file found. */
struct backup_pass {
	uint64_t		 size;
	char			 sha256[65];
	struct backup_header	 h;
	uint64_t		 chunks;
	uint64_t		 plain;
	int			 io;	/* a read error, not tampering */
};

/* The stdin of pg_restore. */
struct backup_feed {
	int	 fd;
	int	 closed;	/* pg_restore stopped reading */
	int	 werrno;
};

static void backup_say(const char *, ...)
	    __attribute__((format(printf, 1, 2)));

static void
backup_say(const char *fmt, ...)
{
	va_list	 ap;

	fputs("bulwarkd: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static int
backup_discard(void *arg, const void *buf, size_t len)
{
	(void)arg;
	(void)buf;
	(void)len;
	return 0;
}

static int
backup_feed_sink(void *arg, const void *buf, size_t len)
{
	struct backup_feed	*f = arg;
	const uint8_t		*p = buf;
	ssize_t			 w;

	while (len > 0 && !f->closed) {
		w = write(f->fd, p, len);
		if (w == -1 && errno == EINTR)
			continue;
		if (w == -1 && errno == EPIPE) {
			f->closed = 1;
			break;
		}
		if (w <= 0) {
			f->werrno = w == 0 ? EIO : errno;
			return -1;
		}
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

static int
backup_pass_read(int fd, struct backup_opener *o, EVP_MD_CTX *sha,
    struct backup_pass *p, struct backup_err *e)
{
	uint8_t	*buf = bw_malloc(BACKUP_PASS_BUF);
	ssize_t	 n;
	int	 rv = -1;

	for (;;) {
		n = read(fd, buf, BACKUP_PASS_BUF);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			(void)bw_format(e->msg, sizeof(e->msg), "read: %s",
			    strerror(errno));
			p->io = 1;
			break;
		}
		if (n == 0) {
			rv = backup_opener_finish(o, e);
			break;
		}
		p->size += (uint64_t)n;
		if (EVP_DigestUpdate(sha, buf, (size_t)n) != 1 ||
		    backup_opener_update(o, buf, (size_t)n, e) == -1)
			break;
	}
	free(buf);
	return rv;
}

/* One pass over fd from its start; plaintext to sink. */
static int
backup_pass(const uint8_t *key, int fd, backup_sink sink, void *arg,
    struct backup_pass *p, struct backup_err *e)
{
	struct backup_opener	*o;
	EVP_MD_CTX		*sha;
	uint8_t			 md[32];
	unsigned int		 mdlen = 0;
	int			 rv = -1;

	memset(p, 0, sizeof(*p));
	if (lseek(fd, 0, SEEK_SET) == -1 || (sha = EVP_MD_CTX_new()) == NULL) {
		(void)bw_format(e->msg, sizeof(e->msg), "cannot read the file");
		p->io = 1;
		return -1;
	}
	o = backup_opener_new(key, sink, arg);
	if (EVP_DigestInit_ex(sha, EVP_sha256(), NULL) == 1 &&
	    backup_pass_read(fd, o, sha, p, e) == 0 &&
	    EVP_DigestFinal_ex(sha, md, &mdlen) == 1) {
		bw_hex_encode(md, sizeof(md), p->sha256);
		p->h = *backup_opener_header(o);
		p->chunks = backup_opener_chunks(o);
		p->plain = backup_opener_plain_bytes(o);
		rv = 0;
	}
	backup_opener_free(o);
	EVP_MD_CTX_free(sha);
	return rv;
}

/*
 * FILE.manifest.json against what a pass found (size, header and, when
 * check_sha, the file's SHA-256): 1 verified, 0 absent, -1 with e.
 */
static int
backup_manifest_check(const uint8_t *key, const char *file,
    const struct backup_pass *p, int check_sha, struct backup_err *e)
{
	struct backup_manifest	 m;
	char			 path[4096], buf[BACKUP_MANIFEST_MAX + 2];
	char			 t[BACKUP_TIME_LEN + 1];
	ssize_t			 n;
	size_t			 len = 0;
	int			 fd;

	(void)snprintf(path, sizeof(path), "%s%s", file,
	    BACKUP_MANIFEST_SUFFIX);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) == -1) {
		if (errno == ENOENT)
			return 0;
		(void)bw_format(e->msg, sizeof(e->msg), "%s: %s", path,
		    strerror(errno));
		return -1;
	}
	while (len < sizeof(buf) && ((n = read(fd, buf + len,
	    sizeof(buf) - len)) > 0 || (n == -1 && errno == EINTR)))
		if (n > 0)
			len += (size_t)n;
	close(fd);
	if (backup_manifest_decode(key, buf, len, &m, e) == -1)
		return -1;
	if (backup_time_text(p->h.time, t) == -1 || strcmp(t, m.time) != 0 ||
	    strcmp(m.database, p->h.database) != 0)
		(void)bw_format(e->msg, sizeof(e->msg), "manifest: its time or "
		    "database differs from the file's header");
	else if (m.bytes != p->size)
		(void)bw_format(e->msg, sizeof(e->msg), "manifest: the file "
		    "has %llu bytes, the manifest says %llu",
		    (unsigned long long)p->size, (unsigned long long)m.bytes);
	else if (check_sha && strcmp(m.sha256, p->sha256) != 0)
		(void)bw_format(e->msg, sizeof(e->msg), "manifest: the file's "
		    "sha256 differs from the manifest's");
	else
		return 1;
	return -1;
}

static int
backup_open_file(const char *file)
{
	struct stat	 st;
	int		 fd;

	if ((fd = open(file, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) == -1) {
		backup_say("%s: %s", file, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		backup_say("%s: not a regular file", file);
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * The first pass and the manifest check of --verify-backup and
 * --restore; BM_OK when both passed (a missing manifest warned about).
 */
static int
backup_authenticate(const uint8_t *key, int fd, const char *file,
    struct backup_pass *p)
{
	struct backup_err	 e;
	int			 m;

	if (backup_pass(key, fd, backup_discard, NULL, p, &e) == -1) {
		backup_say("%s: %s: %s", file, p->io ? "cannot be read" :
		    "verification failed", e.msg);
		return p->io ? BM_RUNTIME : BM_FAILED;
	}
	if ((m = backup_manifest_check(key, file, p, 1, &e)) == -1) {
		backup_say("%s: verification failed: %s", file, e.msg);
		return BM_FAILED;
	}
	if (m == 0)
		backup_say("warning: %s%s is absent: only the file's own "
		    "authentication was checked", file,
		    BACKUP_MANIFEST_SUFFIX);
	printf("%s: %llu chunks authenticated (%llu bytes of dump); "
	    "manifest %s\n", file, (unsigned long long)p->chunks,
	    (unsigned long long)p->plain, m == 1 ? "verified" : "absent");
	return BM_OK;
}

/*
 * A second pass into pg_restore started with argv: BM_OK when it exited 0,
 * -1 when it failed, BM_FAILED or BM_RUNTIME (said) when the pass did.
 */
static int
backup_into_restore(const struct conf *conf, const uint8_t *key, int fd,
    char *const argv[], const char *what)
{
	struct backup_proc	 pr;
	struct backup_feed	 f = { 0 };
	struct backup_pass	 p;
	struct backup_err	 e;
	const char		*err;
	char			 st[64];
	int			 status;

	if (backup_proc_start(conf->backup->pg_restore, argv, NULL,
	    BACKUP_PIPE_TO, -1, &pr, &err) == -1) {
		backup_say("cannot run %s: %s", conf->backup->pg_restore, err);
		return BM_RUNTIME;
	}
	f.fd = pr.fd;
	if (backup_pass(key, fd, backup_feed_sink, &f, &p, &e) == -1) {
		backup_proc_kill(&pr);
		if (f.werrno != 0)
			backup_say("%s: writing to pg_restore: %s", what,
			    strerror(f.werrno));
		else
			backup_say("%s: verification failed: %s; pg_restore "
			    "was stopped", what, e.msg);
		return f.werrno != 0 || p.io ? BM_RUNTIME : BM_FAILED;
	}
	if (backup_proc_wait(&pr, &status) == -1) {
		backup_proc_status_text(status, st, sizeof(st));
		backup_say("%s: pg_restore %s", what, st);
		return -1;
	}
	return BM_OK;
}

int
backup_mode_backup(const struct conf *conf)
{
	struct backup_done	 d;
	struct backup_err	 e;

	switch (backup_run(conf, &d, &e)) {
	case BACKUP_DONE:
		printf("backup %s/%s written (%llu bytes); %u old backup%s "
		    "removed\n", conf->backup->directory, d.name,
		    (unsigned long long)d.bytes, d.removed,
		    d.removed == 1 ? "" : "s");
		return BM_OK;
	case BACKUP_BUSY:
		backup_say("%s; not starting a second one", e.msg);
		return BM_RUNTIME;
	case BACKUP_FAILED:
		break;
	}
	backup_say("backup failed: %s", e.msg);
	return BM_RUNTIME;
}

int
backup_mode_verify(const struct conf *conf, const char *file)
{
	uint8_t			 key[BACKUP_KEY_LEN];
	char			*argv[] = { conf->backup->pg_restore,
				    (char *)"--list", NULL };
	struct backup_pass	 p;
	struct backup_err	 e;
	int			 fd, rv;

	(void)signal(SIGPIPE, SIG_IGN);
	if (backup_key_load(conf, key, &e) == -1) {
		backup_say("%s", e.msg);
		return BM_RUNTIME;
	}
	if ((fd = backup_open_file(file)) == -1)
		rv = BM_RUNTIME;
	else if ((rv = backup_authenticate(key, fd, file, &p)) == BM_OK) {
		rv = backup_into_restore(conf, key, fd, argv, file);
		if (rv == -1) {
			backup_say("%s: verification failed: pg_restore "
			    "--list does not accept the decrypted dump", file);
			rv = BM_FAILED;
		} else if (rv == BM_OK)
			printf("%s: pg_restore --list accepts the dump\n",
			    file);
	}
	if (fd != -1)
		close(fd);
	bw_wipe(key, sizeof(key));
	return rv;
}

/* One line of --list-backups. */
static void
backup_list_one(const uint8_t *key, int dirfd, const char *dir,
    const char *name)
{
	struct backup_pass	 p;
	struct backup_err	 e;
	struct stat		 st;
	uint8_t			 buf[BACKUP_HDR_MAX];
	char			 path[4096], t[BACKUP_TIME_LEN + 1];
	ssize_t			 n;
	int			 fd, m;
	const char		*verdict;

	memset(&p, 0, sizeof(p));
	(void)snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW |
	    O_NONBLOCK);
	if (fd == -1 || fstat(fd, &st) == -1 || (n = read(fd, buf,
	    sizeof(buf))) < BACKUP_HDR_FIXED || backup_header_parse(&p.h, buf,
	    (size_t)n, &e) <= 0 || backup_time_text(p.h.time, t) == -1) {
		printf("%s\t-\t-\t-\tunreadable header\n", name);
		if (fd != -1)
			close(fd);
		return;
	}
	close(fd);
	p.size = (uint64_t)st.st_size;
	m = backup_manifest_check(key, path, &p, 0, &e);
	verdict = m == 1 ? "yes" : m == 0 ? "absent" : "no";
	printf("%s\t%s\t%llu\t%s\t%s\n", name, t,
	    (unsigned long long)p.size, p.h.database, verdict);
}

int
backup_mode_list(const struct conf *conf)
{
	uint8_t			 key[BACKUP_KEY_LEN];
	struct backup_err	 e;
	char			**v;
	size_t			 n, i;
	int			 dirfd;

	if (backup_key_load(conf, key, &e) == -1) {
		backup_say("%s", e.msg);
		return BM_RUNTIME;
	}
	dirfd = open(conf->backup->directory, O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC);
	if (dirfd == -1 || backup_list_names(dirfd, BACKUP_LIST_MAX, &v, &n,
	    &e) == -1) {
		backup_say("backup.directory %s: %s", conf->backup->directory,
		    dirfd == -1 ? strerror(errno) : e.msg);
		if (dirfd != -1)
			close(dirfd);
		bw_wipe(key, sizeof(key));
		return BM_RUNTIME;
	}
	printf("name\ttime\tsize\tdatabase\tmanifest\n");
	for (i = 0; i < n; i++)
		backup_list_one(key, dirfd, conf->backup->directory, v[i]);
	backup_names_free(v, n);
	close(dirfd);
	bw_wipe(key, sizeof(key));
	return BM_OK;
}

/*
 * Relations outside pg_catalog and information_schema (toast tables and
 * other sessions' temporary tables aside): -1 when it cannot be asked.
 */
static long long
backup_target_relations(const char *target)
{
	static const char	*q =
	    "SELECT count(*) FROM pg_catalog.pg_class c "
	    "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
	    "WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', "
	    "'pg_toast') AND n.nspname !~ '^pg_(toast_)?temp_'";
	PGconn		*pg;
	PGresult	*res;
	const char	*msg;
	long long	 n = -1;

	pg = PQconnectdb(target);
	if (pg == NULL || PQstatus(pg) != CONNECTION_OK) {
		msg = pg != NULL ? PQerrorMessage(pg) : "out of memory";
		backup_say("--target: database unreachable: %.*s",
		    (int)strcspn(msg, "\n"), msg);
		PQfinish(pg);
		return -1;
	}
	res = PQexec(pg, q);
	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
		n = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	else
		backup_say("--target: %s", PQerrorMessage(pg));
	PQclear(res);
	PQfinish(pg);
	return n;
}

static int
backup_restore_run(const struct conf *conf, const uint8_t *key, int fd,
    const char *file, const char *target, bool force)
{
	char		 dbarg[8192];
	char		*argv[10];
	size_t		 i = 0;
	int		 n, rv;

	n = snprintf(dbarg, sizeof(dbarg), "--dbname=%s", target);
	if (n < 0 || (size_t)n >= sizeof(dbarg)) {
		backup_say("--target: too long");
		return BM_RUNTIME;
	}
	argv[i++] = conf->backup->pg_restore;
	argv[i++] = (char *)"--no-owner";
	argv[i++] = (char *)"--no-privileges";
	argv[i++] = (char *)"--single-transaction";
	argv[i++] = (char *)"--exit-on-error";
	if (force) {
		argv[i++] = (char *)"--clean";
		argv[i++] = (char *)"--if-exists";
	}
	argv[i++] = dbarg;
	argv[i] = NULL;
	rv = backup_into_restore(conf, key, fd, argv, file);
	bw_wipe(dbarg, sizeof(dbarg));
	if (rv == -1) {
		backup_say("%s: pg_restore failed; its transaction was rolled "
		    "back: nothing was restored", file);
		return BM_RUNTIME;
	}
	if (rv == BM_OK)
		printf("%s restored\n", file);
	else
		backup_say("%s: nothing was restored", file);
	return rv;
}

int
backup_mode_restore(const struct conf *conf, const char *file,
    const char *target, bool force)
{
	uint8_t			 key[BACKUP_KEY_LEN];
	struct backup_pass	 p;
	struct backup_err	 e;
	long long		 rel;
	int			 fd, rv;

	(void)signal(SIGPIPE, SIG_IGN);
	if (backup_key_load(conf, key, &e) == -1) {
		backup_say("%s", e.msg);
		return BM_RUNTIME;
	}
	if ((fd = backup_open_file(file)) == -1) {
		bw_wipe(key, sizeof(key));
		return BM_RUNTIME;
	}
	if ((rv = backup_authenticate(key, fd, file, &p)) != BM_OK)
		backup_say("%s: nothing was restored", file);
	else if ((rel = backup_target_relations(target)) < 0)
		rv = BM_RUNTIME;
	else if (rel > 0 && !force) {
		backup_say("--target is not empty (%lld relations outside "
		    "pg_catalog and information_schema): nothing was "
		    "restored; --force restores into it", rel);
		rv = BM_FAILED;
	} else
		rv = backup_restore_run(conf, key, fd, file, target, force);
	close(fd);
	bw_wipe(key, sizeof(key));
	return rv;
}
