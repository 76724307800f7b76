/*
 * backup_proc.c - pg_dump and pg_restore as child processes (backup_proc.h).
 *
 * Threat model: the password of the database is a secret.  It is placed
 * in the environment block built for one child and wiped in the parent
 * right after the fork; it never appears in an argument vector, which any
 * local user can read in /proc.  The environment block and argument
 * vector are built before fork, so the child does nothing but dup2,
 * prctl, signal resets and execve.
 */
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backup_proc.h"
#include "util.h"

#define BACKUP_ENV_MAX		4096	/* variables passed on at most */
#define BACKUP_VERSION_MAX	256	/* bytes of `--version` read */

/* environ, with PGPASSWORD=password instead of its own when given. */
static char **
backup_proc_env(const char *password, char **pwvar)
{
	char	**env;
	size_t	  n = 0, i, len;

	env = bw_calloc(BACKUP_ENV_MAX + 2, sizeof(*env));
	for (i = 0; environ[i] != NULL && n < BACKUP_ENV_MAX; i++)
		if (password == NULL ||
		    strncmp(environ[i], "PGPASSWORD=", 11) != 0)
			env[n++] = environ[i];
	*pwvar = NULL;
	if (password != NULL) {
		len = strlen(password) + 12;
		*pwvar = bw_malloc(len);
		(void)snprintf(*pwvar, len, "PGPASSWORD=%s", password);
		env[n++] = *pwvar;
	}
	return env;
}

static void __attribute__((noreturn))
backup_proc_child(const char *path, char *const argv[], char **env, int in,
    int out)
{
	sigset_t	 none;

	if (dup2(in, STDIN_FILENO) == -1 || dup2(out, STDOUT_FILENO) == -1)
		_exit(127);
	(void)signal(SIGPIPE, SIG_DFL);
	(void)signal(SIGTERM, SIG_DFL);
	(void)signal(SIGINT, SIG_DFL);
	(void)signal(SIGHUP, SIG_DFL);
	(void)signal(SIGCHLD, SIG_DFL);
	sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
	(void)prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0);
	execve(path, argv, env);
	_exit(127);
}

int
backup_proc_start(const char *path, char *const argv[], const char *password,
    enum backup_pipe dir, int out_fd, struct backup_proc *p,
    const char **err)
{
	char	**env, *pwvar;
	int	  fds[2], null, in, out;
	pid_t	  pid;

	p->pid = -1;
	p->fd = -1;
	if (path[0] != '/') {
		*err = "not an absolute path";
		return -1;
	}
	if (access(path, X_OK) == -1) {
		*err = strerror(errno);
		return -1;
	}
	if ((null = open("/dev/null", O_RDWR | O_CLOEXEC)) == -1) {
		*err = strerror(errno);
		return -1;
	}
	if (pipe2(fds, O_CLOEXEC) == -1) {
		*err = strerror(errno);
		close(null);
		return -1;
	}
	if (dir == BACKUP_PIPE_FROM) {
		in = null;
		out = fds[1];
	} else {
		in = fds[0];
		out = out_fd != -1 ? out_fd : null;
	}
	env = backup_proc_env(password, &pwvar);
	pid = fork();
	if (pid == 0)
		backup_proc_child(path, argv, env, in, out);
	if (pwvar != NULL) {
		bw_wipe(pwvar, strlen(pwvar));
		free(pwvar);
	}
	free(env);
	close(null);
	close(dir == BACKUP_PIPE_FROM ? fds[1] : fds[0]);
	p->fd = dir == BACKUP_PIPE_FROM ? fds[0] : fds[1];
	if (pid == -1) {
		*err = strerror(errno);
		close(p->fd);
		p->fd = -1;
		return -1;
	}
	p->pid = pid;
	return 0;
}

int
backup_proc_wait(struct backup_proc *p, int *status)
{
	pid_t	 r;

	if (p->fd != -1) {
		close(p->fd);
		p->fd = -1;
	}
	*status = -1;
	if (p->pid <= 0)
		return -1;
	do {
		r = waitpid(p->pid, status, 0);
	} while (r == -1 && errno == EINTR);
	p->pid = -1;
	if (r == -1)
		return -1;
	return WIFEXITED(*status) && WEXITSTATUS(*status) == 0 ? 0 : -1;
}

void
backup_proc_kill(struct backup_proc *p)
{
	int	 status;

	if (p->pid > 0)
		(void)kill(p->pid, SIGKILL);
	(void)backup_proc_wait(p, &status);
}

void
backup_proc_status_text(int status, char *buf, size_t len)
{
	if (status != -1 && WIFEXITED(status))
		(void)snprintf(buf, len, "exited %d", WEXITSTATUS(status));
	else if (status != -1 && WIFSIGNALED(status))
		(void)snprintf(buf, len, "killed by signal %d",
		    WTERMSIG(status));
	else
		(void)snprintf(buf, len, "ended abnormally");
}

int
backup_proc_version(const char *path, char *buf, size_t len, int *major,
    const char **err)
{
	char			*argv[] = { (char *)path, (char *)"--version",
				    NULL };
	char			 out[BACKUP_VERSION_MAX + 1], *v, *end;
	struct backup_proc	 p;
	size_t			 off = 0;
	ssize_t			 n;
	int			 status;
	long			 m;

	if (backup_proc_start(path, argv, NULL, BACKUP_PIPE_FROM, -1, &p,
	    err) == -1)
		return -1;
	while (off < BACKUP_VERSION_MAX && ((n = read(p.fd, out + off,
	    BACKUP_VERSION_MAX - off)) > 0 || (n == -1 && errno == EINTR)))
		if (n > 0)
			off += (size_t)n;
	out[off] = '\0';
	if (backup_proc_wait(&p, &status) == -1) {
		*err = "--version failed";
		return -1;
	}
	out[strcspn(out, "\n")] = '\0';
	if (strncmp(out, "pg_", 3) != 0 || (v = strstr(out, ") ")) == NULL) {
		*err = "--version does not look like a PostgreSQL program";
		return -1;
	}
	v += 2;
	m = strtol(v, &end, 10);
	if (end == v || m <= 0 || m > 1000) {
		*err = "--version: no major version number";
		return -1;
	}
	*major = (int)m;
	bw_strlcpy(buf, v, len);
	return 0;
}
