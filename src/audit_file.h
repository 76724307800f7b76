/*
 * audit_file.h - appending records to audit.file (SPEC 9): the file, its
 * lock, the end of the chain, durability and the unwritable states.
 *
 * One process at a time appends: the daemon's writer for its whole life,
 * or an administration mode while no daemon runs.  The holder keeps an
 * exclusive flock(2) on the file.
 */
#ifndef BW_AUDIT_FILE_H
#define BW_AUDIT_FILE_H

#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "audit.h"

/*
 * How the file is opened (O_CREAT | O_EXCL with AUDIT_FILE_MODE added for
 * a new one).  The audit writer's seccomp filter admits write opens of
 * exactly these forms (sandbox_filter.c).
 */
#define AUDIT_FILE_FLAGS	(O_RDWR | O_APPEND | O_CLOEXEC | O_NOFOLLOW | \
				    O_NOCTTY)
#define AUDIT_FILE_MODE		0600

struct evbuffer;

struct audit_file {
	int			 fd;		/* -1: closed */
	char			*path;
	struct audit_chain	 chain;		/* the last record written */
	bool			 known;		/* chain is meaningful */
	int			 err;		/* errno of the last failure */
	off_t			 cut_to;	/* -1, or where to cut */
	bool			 dirty;		/* written, not synced */
	int64_t			 synced_ms;	/* bw_now_ms() of that sync */
	uint64_t		 nsyncs;	/* fdatasync() calls made */
	struct evbuffer		*buf;
};

/*
 * Opens path (created 0600, owned as its directory when created by
 * root; O_APPEND, O_NOFOLLOW), takes the lock, waiting at most wait_ms
 * (EWOULDBLOCK after), and reads the end of the chain from the last
 * line.  A final line without its newline (a write cut by a crash) is
 * truncated and logged; a complete final line that is not a record is
 * refused.  An empty file keeps the chain f held (rotation) or, when f
 * knew none, takes *fallback (bulwark.audit_head; NULL: none): with
 * neither, the next record starts the chain with audit.genesis.
 * f must be zeroed (or closed) before the first open.  0, or -1 with errno
 * and *err.
 */
int	 audit_file_open(struct audit_file *, const char *path, int wait_ms,
	    const struct audit_chain *fallback, const char **err);
/* Closes and opens the path again (SIGUSR1 after rotation). */
int	 audit_file_reopen(struct audit_file *, const char **err);
void	 audit_file_close(struct audit_file *);

/*
 * Appends the record of ev (after audit.genesis when the chain starts
 * here), whole or not at all: a failed or short write is cut back off
 * the file and the chain stays where it was.  A file removed behind our
 * back (st_nlink 0) fails with ENOENT.  Does not sync.  0, or -1 with
 * f->err and *err.
 */
int	 audit_file_append(struct audit_file *, const struct audit_event *,
	    const char *instance, const struct audit_key *, const char **err);
/*
 * Whether a record could be written now: the file still has a name
 * (st_nlink), its file system is writable and has room for a record.
 * 0, or -1 with f->err (ENOENT, EROFS, ENOSPC...) and *err.
 */
int	 audit_file_writable(struct audit_file *, const char **err);
/* fdatasync() when anything was written since the last one; 0 or -1. */
int	 audit_file_sync(struct audit_file *, const char **err);
/*
 * Whether a sync is due now under the policy: interval_ms 0 means
 * fsync: always (every write), otherwise at most that long after a write.
 */
bool	 audit_file_sync_due(const struct audit_file *, int64_t interval_ms,
	    int64_t now_ms);

/* Bytes read at a time by audit_file_scan_back: any line fits. */
#define AUDIT_FILE_SCAN_CHUNK	(4 * (AUDIT_LINE_MAX + 2))

/* Called on one line (without its newline): 0 go on, 1 stop, -1 fail. */
typedef int (*audit_file_line_fn)(void *arg, const char *line, size_t len);
/*
 * Calls fn on the lines of the file from the last one backwards, until
 * fn stops or fails or the first line is done.  A line longer than any
 * record, or a file that does not end with a newline (an open cuts a
 * torn one), fails.  0, or -1: *err set when reading failed, untouched
 * when fn failed.
 */
int	 audit_file_scan_back(struct audit_file *, audit_file_line_fn,
	    void *arg, const char **err);

#endif
