/*
 * backup_proc.h - pg_dump and pg_restore as child processes of a backup,
 * a verification or a restore.
 *
 * A program is executed directly (execve of its configured absolute path,
 * never through a shell), with stdin, stdout and stderr chosen here; the
 * database password, when there is one, reaches only that child, through
 * PGPASSWORD in its environment, never its command line.  The child gets
 * SIGTERM when its parent dies.
 */
#ifndef BW_BACKUP_PROC_H
#define BW_BACKUP_PROC_H

#include <sys/types.h>

#include <stddef.h>

struct backup_proc {
	pid_t	 pid;
	int	 fd;		/* our end of its stdout or stdin pipe */
};

enum backup_pipe {
	BACKUP_PIPE_FROM,	/* we read its stdout; stdin /dev/null */
	BACKUP_PIPE_TO,		/* we write its stdin; stdout to out_fd */
};

/*
 * Starts path with argv (argv[0] its name) and the environment of this
 * process, its PGPASSWORD replaced by password when that is not NULL.
 * out_fd is the child's stdout for BACKUP_PIPE_TO (-1: /dev/null).  Its
 * stderr is ours.
 * Returns 0, or -1 with *err.
 */
int	 backup_proc_start(const char *path, char *const argv[],
	    const char *password, enum backup_pipe, int out_fd,
	    struct backup_proc *, const char **err);
/*
 * Closes our pipe end and waits for the child; *status as from waitpid.
 * Returns 0 when it exited 0.
 */
int	 backup_proc_wait(struct backup_proc *, int *status);
/* SIGKILL, then waits: a child abandoned on an error. */
void	 backup_proc_kill(struct backup_proc *);
/* "exited 1", "killed by signal 9" into buf. */
void	 backup_proc_status_text(int status, char *buf, size_t len);
/*
 * The version line of `path --version` ("pg_dump (PostgreSQL) 15.5
 * (Debian ...)"): the text after the first ") ", into buf (at most len - 1
 * bytes), and its major number.  -1 with *err when it does not run or
 * answer like a PostgreSQL client program.
 */
int	 backup_proc_version(const char *path, char *buf, size_t len,
	    int *major, const char **err);

#endif
