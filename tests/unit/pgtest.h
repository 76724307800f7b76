/*
 * pgtest.h - a throwaway PostgreSQL for unit suites that need a real one.
 *
 * pgtest_start() runs `tests/pg-tmp start DIR` (no shell) and reads the
 * KEY=VALUE lines it prints into the environment, so libpq connects there
 * by default (its Unix socket; pgtest_start_tcp(): 127.0.0.1 with a
 * password); pgtest_stop() removes the cluster.  When PostgreSQL is not
 * installed, pg-tmp exits 77 and the suite says so and skips its cases.
 */
#ifndef BW_PGTEST_H
#define BW_PGTEST_H

#include <sys/socket.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <netinet/in.h>

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

/* A port on 127.0.0.1 that nothing listens on now, or 0. */
static int
pgtest_free_port(void)
{
	struct sockaddr_in	 sin;
	socklen_t		 len = sizeof(sin);
	int			 fd, port = 0;

	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		return 0;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sin, &len) == 0)
		port = ntohs(sin.sin_port);
	close(fd);
	return port;
}

/* tcp: the cluster also listens on 127.0.0.1, and libpq connects there. */
static void
pgtest_start_with(bool tcp)
{
	char	 out[4096], *line, *save = NULL, *eq, port[16];
	char	*argv[] = { "tests/pg-tmp", "start", pgtest_dir, NULL, NULL,
		    NULL };
	int	 rv;

	if (tcp) {
		snprintf(port, sizeof(port), "%d", pgtest_free_port());
		argv[3] = "--tcp";
		argv[4] = port;
	}

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
pgtest_start(void)
{
	pgtest_start_with(false);
}

static inline void
pgtest_start_tcp(void)
{
	pgtest_start_with(true);
}

/* In a case that needs the database: passes when there is none. */
#define PGTEST_NEED() do {						\
	if (!pgtest_up)							\
		return;							\
} while (0)

/* Runs base's loop until cond holds, or fails after about ten seconds. */
#define PGTEST_RUN_UNTIL(base, cond) do {				\
	int	 i_;							\
	for (i_ = 0; i_ < 1000 && !(cond); i_++) {			\
		struct timeval tv_ = { 0, 10000 };			\
		event_base_loopexit((base), &tv_);			\
		event_base_dispatch((base));				\
	}								\
	ck_assert_msg((cond), "timed out waiting for " #cond);		\
} while (0)

static void
pgtest_stop(void)
{
	char	*argv[] = { "tests/pg-tmp", "stop", pgtest_dir, NULL };

	if (pgtest_up)
		pgtest_run(argv, NULL, 0);
	pgtest_up = false;
}

#endif
