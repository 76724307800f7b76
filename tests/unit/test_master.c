/*
 * test_master.c - what of the master can be tested without forking a
 * daemon: file-descriptor limits, listening sockets (and that queued
 * connections survive a worker that goes away), crash-loop accounting,
 * restart-only keys on reload, and the sd_notify protocol.
 */
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "unit.h"
#include "conf.h"
#include "master.h"
#include "notify.h"
#include "util.h"

static void
loopback(struct sockaddr_in *sin, unsigned port)
{
	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_port = htons((uint16_t)port);
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
}

static unsigned
port_of(int fd)
{
	struct sockaddr_in	 sin;
	socklen_t		 sl = sizeof(sin);

	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sin, &sl), 0);
	return ntohs(sin.sin_port);
}

static int
sockopt(int fd, int level, int name)
{
	int		 v = -1;
	socklen_t	 sl = sizeof(v);

	ck_assert_int_eq(getsockopt(fd, level, name, &v, &sl), 0);
	return v;
}

/*
 * Crash accounting.
 */
START_TEST(test_crash_backoff_and_loop)
{
	struct master_crashes	 c;
	int64_t			 t = 1000000;

	memset(&c, 0, sizeof(c));
	ck_assert_int_eq(master_crash_record(&c, t), 0);
	ck_assert_int_eq(master_crash_record(&c, t + 10), 100);
	ck_assert_int_eq(master_crash_record(&c, t + 120), 200);
	ck_assert_int_eq(master_crash_record(&c, t + 330), 400);
	ck_assert_int_eq(master_crash_record(&c, t + 740), 800);
	/* The sixth within 10 s is a loop. */
	ck_assert_int_eq(master_crash_record(&c, t + 9999), -1);
}
END_TEST

START_TEST(test_crash_window)
{
	struct master_crashes	 c;
	int64_t			 t = 5000;
	int			 i;

	memset(&c, 0, sizeof(c));
	for (i = 0; i < MASTER_CRASH_MAX; i++)
		ck_assert_int_ne(master_crash_record(&c, t + i), -1);
	/* The first has left the window: still five within it. */
	ck_assert_int_eq(master_crash_record(&c, t + MASTER_CRASH_WINDOW_MS),
	    800);
	/* Crashes further apart than the window never add up. */
	memset(&c, 0, sizeof(c));
	for (i = 0; i < 50; i++)
		ck_assert_int_eq(master_crash_record(&c,
		    t + (int64_t)i * MASTER_CRASH_WINDOW_MS), 0);
}
END_TEST

/*
 * Descriptor limits.
 */
static void
conf_limits(struct conf *c, struct conf_database *db, uint32_t maxconn,
    size_t nlisten, uint32_t workers)
{
	memset(c, 0, sizeof(*c));
	c->server.limits.max_connections = maxconn;
	c->server.nlisten = nlisten;
	c->server.workers = workers;
	c->database = db;
}

START_TEST(test_nofile_need)
{
	struct conf		 c;
	struct conf_database	 db;

	memset(&db, 0, sizeof(db));
	db.pool_size = 4;
	db.nreplicas = 1;
	/* Worker: 1000 clients + 2 listeners + 4*2+1 db + margin. */
	conf_limits(&c, &db, 1000, 2, 4);
	ck_assert_uint_eq(master_nofile_need(&c),
	    1000 + 2 + 9 + MASTER_NOFILE_MARGIN);
	/* Master: 64 workers * 4 listeners + channels of 3 generations. */
	conf_limits(&c, NULL, 1, 4, 64);
	ck_assert_uint_eq(master_nofile_need(&c),
	    64 * 4 + MASTER_MAX_GENERATIONS * 65 + MASTER_NOFILE_MARGIN);
}
END_TEST

static int
child_rlimit(void)
{
	struct conf	 c;
	struct rlimit	 rl;
	const char	*err = NULL;

	conf_limits(&c, NULL, 500, 1, 2);
	rl.rlim_cur = 200;
	rl.rlim_max = 400;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
		return 9;
	/* Hard limit below the need: both refuse, with the numbers. */
	if (master_check_rlimit(&c, &err) != -1 || err == NULL ||
	    strstr(err, "400") == NULL || strstr(err, "565") == NULL)
		return 10;
	if (master_raise_rlimit(&c, &err) != -1)
		return 11;
	/* Within the hard limit: the soft limit is raised to the need. */
	c.server.limits.max_connections = 300;
	if (master_check_rlimit(&c, &err) != 0)
		return 12;
	if (master_raise_rlimit(&c, &err) != 0)
		return 13;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur != 365 ||
	    rl.rlim_max != 400)
		return 14;
	/* Exactly the hard limit is enough. */
	c.server.limits.max_connections = 400 - 1 - MASTER_NOFILE_MARGIN;
	if (master_raise_rlimit(&c, &err) != 0)
		return 15;
	c.server.limits.max_connections++;
	if (master_check_rlimit(&c, &err) != -1)
		return 16;
	return 0;
}

START_TEST(test_rlimit)
{
	pid_t	 pid;
	int	 status;

	pid = fork();
	ck_assert_int_ne(pid, -1);
	if (pid == 0)
		_exit(child_rlimit());
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "status %#x", status);
}
END_TEST

/*
 * Listening sockets.
 */
START_TEST(test_listen_socket_flags)
{
	struct sockaddr_in	 sin;
	struct sockaddr_in6	 sin6;
	const char		*err = NULL;
	int			 fd;

	loopback(&sin, 0);
	fd = master_listen_socket((struct sockaddr *)&sin, sizeof(sin), 1,
	    &err);
	ck_assert_int_ge(fd, 0);
	ck_assert(fcntl(fd, F_GETFL) & O_NONBLOCK);
	ck_assert(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	ck_assert_int_eq(sockopt(fd, SOL_SOCKET, SO_REUSEPORT), 1);
	ck_assert_int_eq(sockopt(fd, SOL_SOCKET, SO_ACCEPTCONN), 1);
	close(fd);
	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	sin6.sin6_addr = in6addr_loopback;
	fd = master_listen_socket((struct sockaddr *)&sin6, sizeof(sin6), 0,
	    &err);
	if (fd == -1) {
		printf("NOTE: no IPv6 loopback (%s): V6ONLY not checked\n",
		    err);
		return;
	}
	ck_assert_int_eq(sockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY), 1);
	ck_assert_int_eq(sockopt(fd, SOL_SOCKET, SO_REUSEPORT), 0);
	close(fd);
}
END_TEST

START_TEST(test_listen_errors)
{
	struct sockaddr_in	 sin;
	struct conf_listen	 ls[2];
	const char		*err = NULL;
	char			 want[64];
	int			 plain, fds[6], i;

	/* A port held without SO_REUSEPORT cannot be joined. */
	loopback(&sin, 0);
	plain = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(plain, 0);
	ck_assert_int_eq(bind(plain, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(listen(plain, 1), 0);
	loopback(&sin, port_of(plain));
	ck_assert_int_eq(master_listen_socket((struct sockaddr *)&sin,
	    sizeof(sin), 1, &err), -1);
	snprintf(want, sizeof(want), "bind 127.0.0.1:%u: ", port_of(plain));
	ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "%s", err);
	/* A failure in the second address closes the first's sockets. */
	memset(ls, 0, sizeof(ls));
	loopback(&sin, 0);
	memcpy(&ls[0].addr, &sin, sizeof(sin));
	ls[0].addrlen = sizeof(sin);
	loopback(&sin, port_of(plain));
	memcpy(&ls[1].addr, &sin, sizeof(sin));
	ls[1].addrlen = sizeof(sin);
	ck_assert_int_eq(master_listen_open(ls, 2, 3, fds, &err), -1);
	for (i = 0; i < 6; i++)
		ck_assert_int_eq(fds[i], -1);
	close(plain);
}
END_TEST

/* Another process's SO_REUSEPORT listener is not joined silently. */
START_TEST(test_listen_no_sharing)
{
	struct sockaddr_in	 sin;
	struct conf_listen	 ls;
	const char		*err = NULL;
	int			 other, fds[2];

	loopback(&sin, 0);
	other = master_listen_socket((struct sockaddr *)&sin, sizeof(sin), 1,
	    &err);
	ck_assert_int_ge(other, 0);
	memset(&ls, 0, sizeof(ls));
	loopback(&sin, port_of(other));
	memcpy(&ls.addr, &sin, sizeof(sin));
	ls.addrlen = sizeof(sin);
	ck_assert_int_eq(master_listen_open(&ls, 1, 2, fds, &err), -1);
	ck_assert_ptr_nonnull(strstr(err, "Address already in use"));
	ck_assert_int_eq(fds[0], -1);
	ck_assert_int_eq(fds[1], -1);
	close(other);
	/* Once it is gone the port is ours. */
	ck_assert_int_eq(master_listen_open(&ls, 1, 2, fds, &err), 0);
	ck_assert_uint_eq(port_of(fds[1]), port_of(fds[0]));
	close(fds[0]);
	close(fds[1]);
}
END_TEST

/*
 * Slots share one port; a "worker" that held the sockets goes away while
 * connections are queued; every one of them is still accepted, none reset.
 */
START_TEST(test_listen_queued_survive)
{
	struct sockaddr_in	 sin;
	struct conf_listen	 ls;
	struct pollfd		 pfd[3];
	const char		*err = NULL;
	int			 fds[3], cl[30], i, accepted = 0, fd, status;
	char			 c;
	pid_t			 pid;

	memset(&ls, 0, sizeof(ls));
	loopback(&sin, 0);
	memcpy(&ls.addr, &sin, sizeof(sin));
	ls.addrlen = sizeof(sin);
	ck_assert_int_eq(master_listen_open(&ls, 1, 3, fds, &err), 0);
	ck_assert_uint_eq(port_of(fds[0]), port_of(fds[1]));
	ck_assert_uint_eq(port_of(fds[0]), port_of(fds[2]));
	loopback(&sin, port_of(fds[0]));
	for (i = 0; i < 30; i++) {
		cl[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		ck_assert_int_ge(cl[i], 0);
		ck_assert_int_eq(connect(cl[i], (struct sockaddr *)&sin,
		    sizeof(sin)), 0);
	}
	pid = fork();
	ck_assert_int_ne(pid, -1);
	if (pid == 0) {
		close(fds[0]);
		close(fds[1]);
		close(fds[2]);
		_exit(0);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	for (i = 0; i < 3; i++) {
		pfd[i].fd = fds[i];
		pfd[i].events = POLLIN;
	}
	while (accepted < 30 && poll(pfd, 3, 1000) > 0) {
		for (i = 0; i < 3; i++) {
			while ((fd = accept4(fds[i], NULL, NULL,
			    SOCK_CLOEXEC)) != -1) {
				accepted++;
				close(fd);
			}
		}
	}
	ck_assert_int_eq(accepted, 30);
	for (i = 0; i < 30; i++) {
		/* Accepted then closed: EOF, never a reset before accept. */
		ck_assert_int_eq(read(cl[i], &c, 1), 0);
		close(cl[i]);
	}
	for (i = 0; i < 3; i++)
		close(fds[i]);
}
END_TEST

/*
 * Restart-only keys.
 */
static void
conf_fill(struct conf *c, const char *user, const char *pid, uint32_t workers,
    unsigned port, enum conf_seccomp sc)
{
	struct sockaddr_in	 sin;

	memset(c, 0, sizeof(*c));
	c->server.user = bw_strdup(user);
	c->server.group = bw_strdup("g");
	c->server.pid_file = bw_strdup(pid);
	c->server.workers = workers;
	c->server.nlisten = 1;
	c->server.listen = bw_calloc(1, sizeof(*c->server.listen));
	loopback(&sin, port);
	memcpy(&c->server.listen[0].addr, &sin, sizeof(sin));
	c->server.listen[0].addrlen = sizeof(sin);
	c->seccomp = sc;
}

static void
conf_clear(struct conf *c)
{
	free(c->server.user);
	free(c->server.group);
	free(c->server.pid_file);
	free(c->server.listen);
	free(c->admin);
}

START_TEST(test_restart_keys)
{
	struct conf	 cur, next;

	conf_fill(&cur, "w", "/run/a.pid", 2, 8443, SECCOMP_ENFORCE);
	conf_fill(&next, "w", "/run/a.pid", 2, 8443, SECCOMP_ENFORCE);
	ck_assert_int_eq(master_keep_restart_keys(&cur, &next), 0);
	conf_clear(&next);
	conf_fill(&next, "other", "/run/b.pid", 4, 9443, SECCOMP_OFF);
	next.admin = bw_calloc(1, sizeof(*next.admin));
	ck_assert_int_eq(master_keep_restart_keys(&cur, &next), 6);
	ck_assert_str_eq(next.server.user, "w");
	ck_assert_str_eq(next.server.pid_file, "/run/a.pid");
	ck_assert_uint_eq(next.server.workers, 2);
	ck_assert_uint_eq(ntohs(((struct sockaddr_in *)
	    &next.server.listen[0].addr)->sin_port), 8443);
	ck_assert_int_eq(next.seccomp, SECCOMP_ENFORCE);
	ck_assert_ptr_null(next.admin);
	/* What was replaced went to cur, which is freed after the reload. */
	ck_assert_str_eq(cur.server.user, "other");
	ck_assert_ptr_nonnull(cur.admin);
	conf_clear(&cur);
	conf_clear(&next);
}
END_TEST

/*
 * sd_notify.
 */
static int
dgram_listen(struct sockaddr_un *sun, socklen_t sl)
{
	int	 fd;

	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)sun, sl), 0);
	return fd;
}

static void
dgram_expect(int fd, const char *want)
{
	char	 buf[2048];
	ssize_t	 n;

	n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
	ck_assert_int_gt(n, 0);
	buf[n] = '\0';
	ck_assert_str_eq(buf, want);
}

START_TEST(test_notify_path_and_abstract)
{
	struct sockaddr_un	 sun;
	char			 path[108], name[64];
	const char		*err = NULL;
	int			 fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(path, sizeof(path), "/tmp/bw-notify-%ld", (long)getpid());
	unlink(path);
	bw_strlcpy(sun.sun_path, path, sizeof(sun.sun_path));
	fd = dgram_listen(&sun, sizeof(sun));
	ck_assert_int_eq(notify_sendto(path, "READY=1", &err), 0);
	dgram_expect(fd, "READY=1");
	close(fd);
	unlink(path);

	snprintf(name, sizeof(name), "@bw-notify-%ld", (long)getpid());
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path + 1, name + 1, strlen(name) - 1);
	fd = dgram_listen(&sun, (socklen_t)(offsetof(struct sockaddr_un,
	    sun_path) + strlen(name)));
	ck_assert_int_eq(notify_sendto(name, "STOPPING=1", &err), 0);
	dgram_expect(fd, "STOPPING=1");

	/* Through the environment, which is then cleared. */
	ck_assert_int_eq(setenv("NOTIFY_SOCKET", name, 1), 0);
	ck_assert_int_eq(notify_init(&err), 0);
	ck_assert_ptr_null(getenv("NOTIFY_SOCKET"));
	ck_assert_str_eq(notify_socket(), name);
	ck_assert_int_eq(notify_ready(), 0);
	dgram_expect(fd, "READY=1");
	ck_assert_int_eq(notify_status("serving: %d workers\n", 2), 0);
	dgram_expect(fd, "STATUS=serving: 2 workers ");
	ck_assert_int_eq(notify_reloading(), 0);
	{
		char	 buf[256];
		ssize_t	 n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);

		ck_assert_int_gt(n, 0);
		buf[n] = '\0';
		ck_assert_msg(strncmp(buf, "RELOADING=1\nMONOTONIC_USEC=",
		    27) == 0 && n > 27, "%s", buf);
	}
	close(fd);
	/* The peer is gone: an error, logged, not fatal. */
	ck_assert_int_eq(notify_stopping(), -1);
}
END_TEST

START_TEST(test_notify_errors)
{
	char		 big[NOTIFY_MAX_MSG + 2], buf[32];
	const char	*err = NULL;

	/* No socket configured: every call is a successful no-op. */
	unsetenv("NOTIFY_SOCKET");
	ck_assert_int_eq(notify_init(&err), 0);
	ck_assert_ptr_null(notify_socket());
	ck_assert_int_eq(notify_ready(), 0);
	ck_assert_int_eq(notify_sendto("relative", "READY=1", &err), -1);
	ck_assert_int_eq(notify_sendto("@", "READY=1", &err), -1);
	memset(big, 'a', sizeof(big));
	big[sizeof(big) - 1] = '\0';
	ck_assert_int_eq(notify_sendto("@x", big, &err), -1);
	big[NOTIFY_MAX_MSG] = '\0';
	errno = 0;
	/* At the bound the message is acceptable (no listener: send fails). */
	ck_assert_int_eq(notify_sendto("@bw-no-listener-here", big, &err), -1);
	ck_assert_str_eq(err, "cannot send to the notification socket");
	ck_assert_int_eq(notify_sendto("@x", "", &err), -1);
	ck_assert_int_eq(setenv("NOTIFY_SOCKET", "vsock:2:3", 1), 0);
	ck_assert_int_eq(notify_init(&err), -1);
	ck_assert_ptr_null(notify_socket());
	/* Formatting bounds. */
	ck_assert_int_eq(notify_format_reloading(buf, sizeof(buf), 12), 0);
	ck_assert_str_eq(buf, "RELOADING=1\nMONOTONIC_USEC=12");
	ck_assert_int_eq(notify_format_reloading(buf, 20, 12), -1);
	ck_assert_int_eq(notify_format_status(buf, sizeof(buf), "a\tb\x7f"), 0);
	ck_assert_str_eq(buf, "STATUS=a b ");
	ck_assert_int_eq(notify_format_status(buf, 8, "x"), -1);
	ck_assert_int_eq(notify_format_status(buf, 9, "x"), 0);
	ck_assert_int_eq(notify_format_status(buf, 4, ""), -1);
}
END_TEST

/*
 * A listener that does not read: once its queue is full the datagram is
 * lost, and the master is not blocked (it used to wait in sendto).
 */
START_TEST(test_notify_never_blocks)
{
	struct sockaddr_un	 sun;
	char			 name[64];
	const char		*err = NULL;
	int			 fd, i, rv = 0;
	int64_t			 start;

	snprintf(name, sizeof(name), "@bw-notify-full-%ld", (long)getpid());
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path + 1, name + 1, strlen(name) - 1);
	fd = dgram_listen(&sun, (socklen_t)(offsetof(struct sockaddr_un,
	    sun_path) + strlen(name)));
	start = bw_now_ms();
	for (i = 0; i < 100000 && rv == 0; i++)
		rv = notify_sendto(name, "STATUS=filling the queue", &err);
	ck_assert_int_eq(rv, -1);
	ck_assert_str_eq(err, "cannot send to the notification socket");
	ck_assert_int_lt(bw_now_ms() - start, 5000);
	dgram_expect(fd, "STATUS=filling the queue");
	close(fd);
}
END_TEST

Suite *
unit_suite(void)
{
	Suite	*s = suite_create("master");
	TCase	*tc = tcase_create("master");

	tcase_set_timeout(tc, UNIT_TIMEOUT);
	tcase_add_test(tc, test_crash_backoff_and_loop);
	tcase_add_test(tc, test_crash_window);
	tcase_add_test(tc, test_nofile_need);
	tcase_add_test(tc, test_rlimit);
	tcase_add_test(tc, test_listen_socket_flags);
	tcase_add_test(tc, test_listen_errors);
	tcase_add_test(tc, test_listen_no_sharing);
	tcase_add_test(tc, test_listen_queued_survive);
	tcase_add_test(tc, test_restart_keys);
	tcase_add_test(tc, test_notify_path_and_abstract);
	tcase_add_test(tc, test_notify_errors);
	tcase_add_test(tc, test_notify_never_blocks);
	suite_add_tcase(s, tc);
	return s;
}
