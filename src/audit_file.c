/*
 * audit_file.c - the audit file: open and lock, find the end of the chain
 * (cutting a torn last line), append whole records, sync.
 *
 * Invariants: the file only ever grows by whole lines, each ending in a
 * newline: a write that fails part-way is cut back off (ftruncate to the
 * size before it); the in-memory chain moves only when the whole write
 * succeeded.  The lock is held from open to close.
 *
 * Threat model: the path comes from the configuration; a symlink planted
 * at it is refused (O_NOFOLLOW), as is anything but a regular file.  The
 * file is created 0600.  Its content is trusted only as far as its shape:
 * the chain's end is read from the last line, and anything wrong with the
 * chain itself is for --verify-audit to report.
 */
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "audit_file.h"
#include "log.h"
#include "util.h"

#define AUDIT_FILE_LOCK_STEP_MS	20

/* Root creates the file as its directory's owner, so the daemon can use it. */
static void
audit_file_own(int fd, const char *path)
{
	struct stat	 st;
	char		*copy;

	if (geteuid() != 0)
		return;
	copy = bw_strdup(path);
	if (stat(dirname(copy), &st) == 0 && fchown(fd, st.st_uid,
	    st.st_gid) == -1)
		log_warnx("audit: %s: cannot give it its directory's owner: %s",
		    path, strerror(errno));
	free(copy);
}

static int
audit_file_open_fd(const char *path, const char **err)
{
	struct stat st;
	int	 fd;

	if ((fd = open(path, AUDIT_FILE_FLAGS | O_CREAT | O_EXCL,
	    AUDIT_FILE_MODE)) != -1)
		audit_file_own(fd, path);
	else if (errno != EEXIST ||
	    (fd = open(path, AUDIT_FILE_FLAGS)) == -1) {
		*err = errno == ELOOP ? "is a symbolic link" : strerror(errno);
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		*err = "not a regular file";
		close(fd);
		errno = EINVAL;
		return -1;
	}
	return fd;
}

static int
audit_file_lock(int fd, int wait_ms, const char **err)
{
	struct timespec	 ts = { 0, AUDIT_FILE_LOCK_STEP_MS * 1000000L };
	int		 waited = 0;

	while (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		if (errno == EINTR)
			continue;
		if (errno != EWOULDBLOCK || waited >= wait_ms) {
			*err = errno == EWOULDBLOCK ? "locked by another "
			    "process (a running bulwarkd)" : strerror(errno);
			return -1;
		}
		nanosleep(&ts, NULL);
		waited += AUDIT_FILE_LOCK_STEP_MS;
	}
	return 0;
}

/* Reads len bytes at off, all of them; 0 or -1. */
static int
audit_file_read_at(int fd, char *buf, size_t len, off_t off)
{
	size_t	 got = 0;
	ssize_t	 n;

	while (got < len) {
		n = pread(fd, buf + got, len - got, off + (off_t)got);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		got += (size_t)n;
	}
	return 0;
}

/* Reads the last up to AUDIT_LINE_MAX + 1 bytes; their count, or -1. */
static ssize_t
audit_file_tail_read(int fd, off_t size, char *buf, off_t *start)
{
	size_t	 want = (uint64_t)size > AUDIT_LINE_MAX + 1 ?
		    AUDIT_LINE_MAX + 1 : (size_t)size;

	*start = size - (off_t)want;
	if (audit_file_read_at(fd, buf, want, *start) == -1)
		return -1;
	return (ssize_t)want;
}

/* Cuts a final line that lacks its newline; *len is the tail left. */
static int
audit_file_cut_torn(struct audit_file *f, const char *buf, size_t *len,
    off_t start, const char **err)
{
	size_t	 keep = *len;

	if (keep == 0 || buf[keep - 1] == '\n')
		return 0;
	while (keep > 0 && buf[keep - 1] != '\n')
		keep--;
	if (keep == 0 && start > 0) {
		*err = "the last line is longer than any record";
		errno = EINVAL;
		return -1;
	}
	if (ftruncate(f->fd, start + (off_t)keep) == -1) {
		*err = strerror(errno);
		return -1;
	}
	log_warnx("audit: %s: torn last line (%zu bytes, a write cut by a "
	    "crash) truncated", f->path, *len - keep);
	*len = keep;
	return 0;
}

static int
audit_file_tail(struct audit_file *f, const struct audit_chain *fallback,
    const char **err)
{
	struct stat	 st;
	char		*buf;
	size_t		 len, b;
	ssize_t		 n;
	off_t		 start;
	int		 rv = -1;

	if (fstat(f->fd, &st) == -1) {
		*err = strerror(errno);
		return -1;
	}
	if (st.st_size == 0) {
		if (!f->known && fallback != NULL) {
			f->chain = *fallback;
			f->known = true;
		}
		return 0;
	}
	buf = bw_malloc(AUDIT_LINE_MAX + 1);
	if ((n = audit_file_tail_read(f->fd, st.st_size, buf, &start)) == -1)
		*err = "cannot read the end of the file";
	else if (len = (size_t)n, audit_file_cut_torn(f, buf, &len, start,
	    err) == 0) {
		b = len > 0 ? len - 1 : 0;
		while (b > 0 && buf[b - 1] != '\n')
			b--;
		if (len == 0) {
			rv = 0;
			if (!f->known && fallback != NULL) {
				f->chain = *fallback;
				f->known = true;
			}
		} else if (audit_line_ends(buf + b, len - 1 - b, &f->chain.seq,
		    f->chain.mac) == -1) {
			*err = "the last line is not an audit record (run "
			    "bulwarkd --verify-audit)";
			errno = EINVAL;
		} else {
			f->known = true;
			rv = 0;
		}
	}
	free(buf);
	return rv;
}

int
audit_file_open(struct audit_file *f, const char *path, int wait_ms,
    const struct audit_chain *fallback, const char **err)
{
	int	 saved;

	if (f->path == NULL)
		f->path = bw_strdup(path);
	if (f->buf == NULL && (f->buf = evbuffer_new()) == NULL)
		fatalx("out of memory");
	if ((f->fd = audit_file_open_fd(f->path, err)) == -1)
		return -1;
	if (audit_file_lock(f->fd, wait_ms, err) == -1 ||
	    audit_file_tail(f, fallback, err) == -1) {
		saved = errno;
		close(f->fd);
		f->fd = -1;
		errno = saved;
		return -1;
	}
	f->err = 0;
	f->cut_to = -1;
	f->dirty = false;
	f->synced_ms = bw_now_ms();
	return 0;
}

int
audit_file_reopen(struct audit_file *f, const char **err)
{
	if (f->fd != -1) {
		(void)audit_file_sync(f, err);
		close(f->fd);
		f->fd = -1;
	}
	return audit_file_open(f, f->path, 0, NULL, err);
}

void
audit_file_close(struct audit_file *f)
{
	const char	*err;

	if (f->fd != -1) {
		if (audit_file_sync(f, &err) == -1)
			log_warnx("audit: %s: %s", f->path, err);
		close(f->fd);
	}
	f->fd = -1;
	free(f->path);
	f->path = NULL;
	if (f->buf != NULL)
		evbuffer_free(f->buf);
	f->buf = NULL;
}

/* Cuts off what a failed write left; retried before the next write. */
static int
audit_file_cut(struct audit_file *f)
{
	if (f->cut_to == -1)
		return 0;
	if (ftruncate(f->fd, f->cut_to) == -1)
		return -1;
	f->cut_to = -1;
	return 0;
}

/* Writes f->buf whole; on failure cuts the file back to size. */
static int
audit_file_write(struct audit_file *f, off_t size)
{
	size_t	 len;
	ssize_t	 n;

	while ((len = evbuffer_get_length(f->buf)) > 0) {
		n = write(f->fd, evbuffer_pullup(f->buf, -1), len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			f->err = n == 0 ? EIO : errno;
			evbuffer_drain(f->buf, len);
			f->cut_to = size;
			(void)audit_file_cut(f);
			return -1;
		}
		evbuffer_drain(f->buf, (size_t)n);
	}
	return 0;
}

int
audit_file_append(struct audit_file *f, const struct audit_event *ev,
    const char *instance, const struct audit_key *key, const char **err)
{
	struct audit_event	 genesis = { .event = AUDIT_EVENT_GENESIS };
	struct audit_chain	 chain = f->chain;
	struct stat		 st;

	if (f->fd == -1 || fstat(f->fd, &st) == -1) {
		f->err = f->fd == -1 ? EBADF : errno;
		*err = "the audit file is not open";
		return -1;
	}
	if (st.st_nlink == 0) {
		f->err = ENOENT;
		*err = "the audit file was removed";
		return -1;
	}
	if (audit_file_cut(f) == -1 || fstat(f->fd, &st) == -1) {
		f->err = errno;
		*err = strerror(errno);
		return -1;
	}
	if (!f->known)
		memset(&chain, 0, sizeof(chain));
	genesis.time_us = ev->time_us;
	if ((!f->known && audit_record(f->buf, &genesis, instance, &chain,
	    key) == -1) || audit_record(f->buf, ev, instance, &chain,
	    key) == -1) {
		evbuffer_drain(f->buf, evbuffer_get_length(f->buf));
		f->err = ENOMEM;
		*err = "cannot build the record";
		return -1;
	}
	if (audit_file_write(f, st.st_size) == -1) {
		*err = strerror(f->err);
		return -1;
	}
	f->chain = chain;
	f->known = true;
	f->dirty = true;
	f->err = 0;
	return 0;
}

int
audit_file_writable(struct audit_file *f, const char **err)
{
	struct statvfs	 vfs;
	struct stat	 st;

	if (f->fd == -1 || fstat(f->fd, &st) == -1 ||
	    fstatvfs(f->fd, &vfs) == -1)
		f->err = f->fd == -1 ? EBADF : errno;
	else if (st.st_nlink == 0)
		f->err = ENOENT;
	else if (vfs.f_flag & ST_RDONLY)
		f->err = EROFS;
	else if ((uint64_t)vfs.f_bavail * vfs.f_frsize < AUDIT_LINE_MAX)
		f->err = ENOSPC;
	else {
		f->err = 0;
		return 0;
	}
	*err = f->err == ENOENT ? "the audit file was removed" :
	    strerror(f->err);
	return -1;
}

int
audit_file_sync(struct audit_file *f, const char **err)
{
	if (!f->dirty)
		return 0;
	if (fdatasync(f->fd) == -1) {
		f->err = errno;
		*err = strerror(errno);
		return -1;
	}
	f->nsyncs++;
	f->dirty = false;
	f->synced_ms = bw_now_ms();
	return 0;
}

bool
audit_file_sync_due(const struct audit_file *f, int64_t interval_ms,
    int64_t now_ms)
{
	return f->dirty && (interval_ms == 0 ||
	    now_ms - f->synced_ms >= interval_ms);
}

/*
 * Backwards through buf[0, n), which ends with a newline: fn on each
 * line whose start is in buf (the first one only when whole is set).
 * 1 or -1 from fn, or 0 with *used the bytes of the lines done.
 */
static int
audit_file_scan_chunk(const char *buf, size_t n, bool whole,
    audit_file_line_fn fn, void *arg, size_t *used)
{
	size_t	 e = n - 1, b;
	int	 rv;

	*used = 0;
	for (;;) {
		for (b = e; b > 0 && buf[b - 1] != '\n'; b--)
			;
		if (b == 0 && !whole)
			return 0;
		if ((rv = fn(arg, buf + b, e - b)) != 0)
			return rv;
		*used = n - b;
		if (b == 0)
			return 0;
		e = b - 1;
	}
}

int
audit_file_scan_back(struct audit_file *f, audit_file_line_fn fn, void *arg,
    const char **err)
{
	struct stat	 st;
	char		*buf;
	off_t		 end, start;
	size_t		 n, used = 0;
	int		 rv = 0;

	if (fstat(f->fd, &st) == -1) {
		*err = strerror(errno);
		return -1;
	}
	buf = bw_malloc(AUDIT_FILE_SCAN_CHUNK);
	for (end = st.st_size; end > 0 && rv == 0; end -= (off_t)used) {
		start = end > (off_t)AUDIT_FILE_SCAN_CHUNK ? end -
		    (off_t)AUDIT_FILE_SCAN_CHUNK : 0;
		n = (size_t)(end - start);
		used = 0;
		if (audit_file_read_at(f->fd, buf, n, start) == -1) {
			*err = "cannot read the file";
			rv = -1;
		} else if (buf[n - 1] != '\n') {
			*err = "the file does not end with a whole line";
			rv = -1;
		} else if ((rv = audit_file_scan_chunk(buf, n, start == 0, fn,
		    arg, &used)) == 0 && used == 0) {
			*err = "a line is longer than any record";
			rv = -1;
		}
	}
	free(buf);
	return rv == -1 ? -1 : 0;
}
