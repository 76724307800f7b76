/*
 * backup.h - making a backup (SPEC 10): pg_dump streamed through the
 * sealer of backup_format.h into backup.directory, the manifest,
 * retention, the lock that keeps two backups from running at once and
 * the last success time.
 *
 * Used by `bulwarkd --backup` and by the runner the daemon forks on its
 * schedule (backup_sched.h); both run with the service user's
 * credentials, never as a worker.
 */
#ifndef BW_BACKUP_H
#define BW_BACKUP_H

#include <stddef.h>
#include <stdint.h>

#include "backup_format.h"

struct conf;

/* Names: bulwark-YYYYMMDDTHHMMSSZ-DB.bwbk, DB cut to this many bytes. */
#define BACKUP_NAME_PREFIX	"bulwark-"
#define BACKUP_NAME_SUFFIX	".bwbk"
#define BACKUP_NAME_DB_MAX	64
#define BACKUP_NAME_MAX		128
#define BACKUP_MANIFEST_SUFFIX	".manifest.json"
#define BACKUP_LOCK_NAME	".bulwark-backup.lock"
#define BACKUP_LAST_NAME	".last-success"
/* Backups a directory listing or retention considers at most. */
#define BACKUP_LIST_MAX		65536

enum backup_result {
	BACKUP_DONE,
	BACKUP_BUSY,		/* another backup holds the lock */
	BACKUP_FAILED,
};

struct backup_done {
	char		 name[BACKUP_NAME_MAX];
	uint64_t	 bytes;
	unsigned	 removed;	/* by retention */
};

/*
 * One backup of the configured database, then retention.  Interrupted by
 * SIGINT, SIGTERM or SIGHUP (handled while it runs), a failed pg_dump or
 * a failed write, it removes its temporary file and leaves nothing under
 * a final name.  Logged and audited (backup.start, .success, .failure).
 */
enum backup_result backup_run(const struct conf *, struct backup_done *,
	    struct backup_err *);

/* Reads backup.key_file (exactly BACKUP_KEY_LEN bytes); -1 with e. */
int	 backup_key_load(const struct conf *, uint8_t key[BACKUP_KEY_LEN],
	    struct backup_err *);

/* Whether name is the final name of a backup (not a temporary). */
int	 backup_name_ok(const char *);

/*
 * Names of the backups in the directory open as dirfd, newest first
 * (malloc'd array of malloc'd strings); -1 with e, also when there are
 * more than max (BACKUP_LIST_MAX outside tests).
 */
int	 backup_list_names(int dirfd, size_t max, char ***out, size_t *nout,
	    struct backup_err *);
void	 backup_names_free(char **, size_t);

/*
 * The time of the latest successful backup in dir (seconds since the
 * epoch, from its .last-success file), or -1 when none is known.  For the
 * bulwark_backup_last_success_timestamp_seconds metric.
 */
int64_t	 backup_last_success(const char *dir);

/*
 * The one place where backup.start, backup.success and backup.failure are
 * emitted: logged now; the audit log (SPEC 9) records them from here.
 * detail is the backup's name, or the reason of a failure.
 */
void	 backup_audit(const char *event, const char *detail);

#endif
