/*
 * backup_modes.h - the backup administration modes of SPEC 3: --backup,
 * --list-backups, --verify-backup FILE and --restore FILE --target
 * CONNINFO --yes [--force].  Each returns an exit status: 0 done; 1 a
 * verification failure (or a refused restore: a non-empty target); 3 a
 * runtime failure (another backup running, database unreachable, a file
 * that cannot be read or written, pg_dump or pg_restore failing).
 */
#ifndef BW_BACKUP_MODES_H
#define BW_BACKUP_MODES_H

#include <stdbool.h>

struct conf;

int	 backup_mode_backup(const struct conf *);
int	 backup_mode_list(const struct conf *);
int	 backup_mode_verify(const struct conf *, const char *file);
int	 backup_mode_restore(const struct conf *, const char *file,
	    const char *target, bool force);

#endif
