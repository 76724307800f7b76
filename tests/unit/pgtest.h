/*
 * pgtest.h - a throwaway PostgreSQL for unit suites that need a real one.
 *
 * pgtest_start() runs `tests/pg-tmp start DIR` (no shell) and reads the
 * KEY=VALUE lines it prints into the environment, so libpq connects there
 * by default; pgtest_stop() removes the cluster.  When PostgreSQL is not
 * installed, pg-tmp exits 77 and the suite says so and skips its cases.
 */
#ifndef BW_PGTEST_H
#define BW_PGTEST_H

#include <sys/wait.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char	pgtest_dir[256];
static bool	pgtest_up;

static int
pgtest_run(char *const argv[], char *out, size_t outsz)
{
	int	 fds[2], status;
	pid_t	 pid;
	size_t	 off = 0;
	ssize_t	 n;

	if (pipe(fds) == -1)
		return -1;
	if ((pid = fork()) == -1)
		return -1;
	if (pid == 0) {
		dup2(fds[1], STDOUT_FILENO);
		closefrom(STDERR_FILENO + 1);
		close(fds[0]);
		close(fds[1]);
		execv(argv[0], argv);
		_exit(127);
	}
	close(fds[1]);
	while (out != NULL && off + 1 < outsz &&
	    (n = read(fds[0], out + off, outsz - off - 1)) > 0)
		off += (size_t)n;
	if (out != NULL)
		out[off] = '\0';
	close(fds[0]);
	if (waitpid(pid, &status, 0) == -1 || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

static void
pgtest_start(void)
{
	char	 out[4096], *line, *save = NULL, *eq;
	char	*argv[] = { "tests/pg-tmp", "start", pgtest_dir, NULL };
	int	 rv;

	snprintf(pgtest_dir, sizeof(pgtest_dir), "/tmp/bw-pgtest-%ld",
	    (long)getpid());
	rv = pgtest_run(argv, out, sizeof(out));
	if (rv == 77) {
		printf("NOTE: PostgreSQL is not installed; database cases "
		    "skipped\n");
		return;
	}
	if (rv != 0) {
		fprintf(stderr, "pg-tmp start failed (%d)\n", rv);
		exit(1);
	}
	for (line = strtok_r(out, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		if ((eq = strchr(line, '=')) == NULL ||
		    strncmp(line, "export", 6) == 0)
			continue;
		*eq = '\0';
		setenv(line, eq + 1, 1);
	}
	pgtest_up = true;
}

static void
pgtest_stop(void)
{
	char	*argv[] = { "tests/pg-tmp", "stop", pgtest_dir, NULL };

	if (pgtest_up)
		pgtest_run(argv, NULL, 0);
	pgtest_up = false;
}

#endif
