/*
 * test_chan.c - the master/child channel: framing, bounds, EOF, and every
 * kind of malformed record a compromised worker could write.
 */
#include <sys/socket.h>
#include <sys/uio.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "unit.h"
#include "chan.h"

static int	 fds[2];

static void
setup(void)
{
	ck_assert_int_eq(chan_pair(fds), 0);
}

static void
teardown(void)
{
	if (fds[0] != -1)
		close(fds[0]);
	if (fds[1] != -1)
		close(fds[1]);
}

/* Writes a raw record, bypassing chan_send's checks. */
static void
raw_send(int fd, const void *a, size_t alen, const void *b, size_t blen)
{
	struct iovec	 iov[2];
	struct msghdr	 msg;

	iov[0].iov_base = (void *)(uintptr_t)a;
	iov[0].iov_len = alen;
	iov[1].iov_base = (void *)(uintptr_t)b;
	iov[1].iov_len = blen;
	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = iov;
	msg.msg_iovlen = blen > 0 ? 2 : 1;
	ck_assert_int_eq(sendmsg(fd, &msg, 0), (ssize_t)(alen + blen));
}

START_TEST(test_pair_flags)
{
	int	 type;
	socklen_t sl = sizeof(type);

	ck_assert(fcntl(fds[0], F_GETFD) & FD_CLOEXEC);
	ck_assert(fcntl(fds[1], F_GETFD) & FD_CLOEXEC);
	ck_assert_int_eq(getsockopt(fds[0], SOL_SOCKET, SO_TYPE, &type, &sl),
	    0);
	ck_assert_int_eq(type, SOCK_SEQPACKET);
}
END_TEST

START_TEST(test_roundtrip)
{
	struct chan_ticket_keys	 k, r;
	enum chan_type		 t;
	size_t			 len;

	memset(&k, 0xa5, sizeof(k));
	k.have_previous = 1;
	ck_assert_int_eq(chan_send(fds[0], CHAN_TICKET_KEYS, &k, sizeof(k)),
	    0);
	ck_assert_int_eq(chan_send(fds[0], CHAN_DRAIN, NULL, 0), 0);
	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(chan_recv(fds[1], &t, &r, sizeof(r), &len), 1);
	ck_assert_int_eq(t, CHAN_TICKET_KEYS);
	ck_assert_uint_eq(len, sizeof(k));
	ck_assert_int_eq(memcmp(&k, &r, sizeof(k)), 0);
	ck_assert_int_eq(chan_recv(fds[1], &t, &r, sizeof(r), &len), 1);
	ck_assert_int_eq(t, CHAN_DRAIN);
	ck_assert_uint_eq(len, 0);
}
END_TEST

START_TEST(test_max_payload)
{
	unsigned char	*buf, *rbuf;
	enum chan_type	 t;
	size_t		 len;
	int		 sz = 4 * CHAN_MAX_PAYLOAD;

	ck_assert_int_eq(setsockopt(fds[0], SOL_SOCKET, SO_SNDBUF, &sz,
	    sizeof(sz)), 0);
	buf = malloc(CHAN_MAX_PAYLOAD + 1);
	rbuf = malloc(CHAN_MAX_PAYLOAD + 1);
	ck_assert_ptr_nonnull(buf);
	ck_assert_ptr_nonnull(rbuf);
	memset(buf, 'x', CHAN_MAX_PAYLOAD + 1);
	/* Exactly the bound passes. */
	ck_assert_int_eq(chan_send(fds[0], CHAN_STATS, buf, CHAN_MAX_PAYLOAD),
	    0);
	ck_assert_int_eq(chan_recv(fds[1], &t, rbuf, CHAN_MAX_PAYLOAD + 1,
	    &len), 1);
	ck_assert_uint_eq(len, CHAN_MAX_PAYLOAD);
	/* One byte more is refused by the sender. */
	errno = 0;
	ck_assert_int_eq(chan_send(fds[0], CHAN_STATS, buf,
	    CHAN_MAX_PAYLOAD + 1), -1);
	ck_assert_int_eq(errno, EMSGSIZE);
	free(buf);
	free(rbuf);
}
END_TEST

START_TEST(test_oversized_raw_refused)
{
	struct chan_hdr	 h;
	unsigned char	*buf, *rbuf;
	enum chan_type	 t;
	size_t		 len;
	int		 sz = 4 * CHAN_MAX_PAYLOAD;

	ck_assert_int_eq(setsockopt(fds[1], SOL_SOCKET, SO_SNDBUF, &sz,
	    sizeof(sz)), 0);
	buf = calloc(1, CHAN_MAX_PAYLOAD + 1);
	rbuf = malloc(CHAN_MAX_PAYLOAD + 64);
	ck_assert_ptr_nonnull(buf);
	ck_assert_ptr_nonnull(rbuf);
	h.type = CHAN_STATS;
	h.len = CHAN_MAX_PAYLOAD + 1;
	raw_send(fds[1], &h, sizeof(h), buf, CHAN_MAX_PAYLOAD + 1);
	/* Even a receiver with room for more never accepts it. */
	errno = 0;
	ck_assert_int_eq(chan_recv(fds[0], &t, rbuf, CHAN_MAX_PAYLOAD + 64,
	    &len), -1);
	ck_assert_int_eq(errno, EMSGSIZE);
	/* A header that claims too much is refused too. */
	h.len = 0xffffffffu;
	raw_send(fds[1], &h, sizeof(h), "abc", 3);
	errno = 0;
	ck_assert_int_eq(chan_recv(fds[0], &t, rbuf, CHAN_MAX_PAYLOAD, &len),
	    -1);
	ck_assert_int_eq(errno, EBADMSG);
	free(buf);
	free(rbuf);
}
END_TEST

START_TEST(test_too_big_for_buffer)
{
	char		 small[8];
	char		 payload[32];
	enum chan_type	 t;
	size_t		 len;

	memset(payload, 'p', sizeof(payload));
	ck_assert_int_eq(chan_send(fds[1], CHAN_STATS, payload,
	    sizeof(payload)), 0);
	errno = 0;
	ck_assert_int_eq(chan_recv(fds[0], &t, small, sizeof(small), &len),
	    -1);
	ck_assert_int_eq(errno, EMSGSIZE);
	/* The record was consumed whole: the next one is intact. */
	ck_assert_int_eq(chan_send(fds[1], CHAN_READY, NULL, 0), 0);
	ck_assert_int_eq(chan_recv(fds[0], &t, small, sizeof(small), &len), 1);
	ck_assert_int_eq(t, CHAN_READY);
}
END_TEST

START_TEST(test_truncated)
{
	struct chan_hdr	 h;
	char		 buf[64];
	enum chan_type	 t;
	size_t		 len;

	/* Shorter than a header. */
	raw_send(fds[1], "abc", 3, NULL, 0);
	errno = 0;
	ck_assert_int_eq(chan_recv(fds[0], &t, buf, sizeof(buf), &len), -1);
	ck_assert_int_eq(errno, EBADMSG);
	/* Header announces 16 bytes, 4 follow. */
	h.type = CHAN_STATS;
	h.len = 16;
	raw_send(fds[1], &h, sizeof(h), "abcd", 4);
	errno = 0;
	ck_assert_int_eq(chan_recv(fds[0], &t, buf, sizeof(buf), &len), -1);
	ck_assert_int_eq(errno, EBADMSG);
	/* Header announces 2 bytes, 4 follow. */
	h.len = 2;
	raw_send(fds[1], &h, sizeof(h), "abcd", 4);
	errno = 0;
	ck_assert_int_eq(chan_recv(fds[0], &t, buf, sizeof(buf), &len), -1);
	ck_assert_int_eq(errno, EBADMSG);
}
END_TEST

START_TEST(test_unknown_type)
{
	struct chan_hdr	 h;
	char		 buf[16];
	enum chan_type	 t;
	size_t		 len;

	h.type = 0;
	h.len = 0;
	raw_send(fds[1], &h, sizeof(h), NULL, 0);
	errno = 0;
	ck_assert_int_eq(chan_recv(fds[0], &t, buf, sizeof(buf), &len), -1);
	ck_assert_int_eq(errno, EBADMSG);
	h.type = CHAN_TYPE_MAX;
	raw_send(fds[1], &h, sizeof(h), NULL, 0);
	errno = 0;
	ck_assert_int_eq(chan_recv(fds[0], &t, buf, sizeof(buf), &len), -1);
	ck_assert_int_eq(errno, EBADMSG);
	errno = 0;
	ck_assert_int_eq(chan_send(fds[1], (enum chan_type)0, NULL, 0), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(chan_send(fds[1], CHAN_TYPE_MAX, NULL, 0), -1);
}
END_TEST

START_TEST(test_descriptor_refused)
{
	struct chan_hdr	 h;
	struct msghdr	 msg;
	struct iovec	 iov;
	struct cmsghdr	*cm;
	union {
		char		 buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr	 align;
	} u;
	char		 buf[16];
	enum chan_type	 t;
	size_t		 len;
	int		 devnull;

	devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	ck_assert_int_ne(devnull, -1);
	h.type = CHAN_READY;
	h.len = 0;
	iov.iov_base = &h;
	iov.iov_len = sizeof(h);
	memset(&msg, 0, sizeof(msg));
	memset(&u, 0, sizeof(u));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = u.buf;
	msg.msg_controllen = sizeof(u.buf);
	cm = CMSG_FIRSTHDR(&msg);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &devnull, sizeof(int));
	ck_assert_int_eq(sendmsg(fds[1], &msg, 0), (ssize_t)sizeof(h));
	close(devnull);
	errno = 0;
	ck_assert_int_eq(chan_recv(fds[0], &t, buf, sizeof(buf), &len), -1);
	ck_assert_int_eq(errno, EBADMSG);
}
END_TEST

/* The master hands a reopened log file to a child that asks for it. */
START_TEST(test_descriptor_passed)
{
	int		 sv[2], pipefd[2], got = -1;
	enum chan_type	 type;
	unsigned char	 buf[16];
	size_t		 len;
	char		 c;

	ck_assert_int_eq(chan_pair(sv), 0);
	ck_assert_int_eq(pipe(pipefd), 0);
	ck_assert_int_eq(chan_send_fd(sv[0], CHAN_REOPEN_LOGS, NULL, 0,
	    pipefd[1]), 0);
	ck_assert_int_eq(chan_recv_fd(sv[1], &type, buf, sizeof(buf), &len,
	    &got), 1);
	ck_assert_int_eq(type, CHAN_REOPEN_LOGS);
	ck_assert_int_ge(got, 0);
	ck_assert_int_ne(got, pipefd[1]);
	ck_assert_int_eq(fcntl(got, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	ck_assert_int_eq(write(got, "x", 1), 1);
	ck_assert_int_eq(read(pipefd[0], &c, 1), 1);
	ck_assert_int_eq(c, 'x');
	/* Without a descriptor, *passfd is -1. */
	close(got);
	close(pipefd[1]);
	got = 42;
	ck_assert_int_eq(chan_send(sv[0], CHAN_DRAIN, NULL, 0), 0);
	ck_assert_int_eq(chan_recv_fd(sv[1], &type, buf, sizeof(buf), &len,
	    &got), 1);
	ck_assert_int_eq(got, -1);
	close(pipefd[0]);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

START_TEST(test_eof_and_eagain)
{
	char		 buf[16];
	enum chan_type	 t;
	size_t		 len;

	ck_assert_int_eq(fcntl(fds[0], F_SETFL, O_NONBLOCK), 0);
	errno = 0;
	ck_assert_int_eq(chan_recv(fds[0], &t, buf, sizeof(buf), &len), -1);
	ck_assert_int_eq(errno, EAGAIN);
	/* A message queued before the peer left is still delivered. */
	ck_assert_int_eq(chan_send(fds[1], CHAN_READY, NULL, 0), 0);
	close(fds[1]);
	fds[1] = -1;
	ck_assert_int_eq(chan_recv(fds[0], &t, buf, sizeof(buf), &len), 1);
	ck_assert_int_eq(chan_recv(fds[0], &t, buf, sizeof(buf), &len), 0);
	/* Sending to a departed peer fails without SIGPIPE. */
	errno = 0;
	ck_assert_int_eq(chan_send(fds[0], CHAN_DRAIN, NULL, 0), -1);
	ck_assert_int_eq(errno, EPIPE);
}
END_TEST

START_TEST(test_send_full)
{
	char	 payload[1024];
	int	 i, rv = 0;

	memset(payload, 0, sizeof(payload));
	ck_assert_int_eq(fcntl(fds[0], F_SETFL, O_NONBLOCK), 0);
	for (i = 0; i < 100000 && rv == 0; i++)
		rv = chan_send(fds[0], CHAN_STATS, payload, sizeof(payload));
	ck_assert_int_eq(rv, -1);
	ck_assert_int_eq(errno, EAGAIN);
}
END_TEST

/* A worker's readiness report: sent, received and checked. */
START_TEST(test_state_roundtrip)
{
	struct chan_state	 s = { CHAN_PART_UP, CHAN_PART_DOWN,
	    CHAN_PART_NONE }, got;
	unsigned char		 buf[64];
	enum chan_type		 t;
	size_t			 len;

	ck_assert_int_eq(chan_send(fds[1], CHAN_STATE, &s, sizeof(s)), 0);
	ck_assert_int_eq(chan_recv(fds[0], &t, buf, sizeof(buf), &len), 1);
	ck_assert_int_eq(t, CHAN_STATE);
	ck_assert_int_eq(chan_state_parse(buf, len, &got), 0);
	ck_assert_uint_eq(got.pool, CHAN_PART_UP);
	ck_assert_uint_eq(got.revocation, CHAN_PART_DOWN);
	ck_assert(!chan_state_ready(&got));
	ck_assert_int_eq(chan_send(fds[0], CHAN_TAKE_OVER, NULL, 0), 0);
	ck_assert_int_eq(chan_recv(fds[1], &t, buf, sizeof(buf), &len), 1);
	ck_assert_int_eq(t, CHAN_TAKE_OVER);
	ck_assert_uint_eq(len, 0);
}
END_TEST

/* A report from a worker is untrusted: wrong sizes and values refused. */
START_TEST(test_state_parse)
{
	struct chan_state	 s = { CHAN_PART_NONE, CHAN_PART_UP,
	    CHAN_PART_NONE }, got;
	unsigned char		 buf[sizeof(s) + 1];

	memset(&got, 0xff, sizeof(got));
	memcpy(buf, &s, sizeof(s));
	ck_assert_int_eq(chan_state_parse(buf, sizeof(s), &got), 0);
	ck_assert(chan_state_ready(&got));
	ck_assert_int_eq(chan_state_parse(buf, sizeof(s) - 1, &got), -1);
	ck_assert_int_eq(chan_state_parse(buf, sizeof(s) + 1, &got), -1);
	ck_assert_int_eq(chan_state_parse(buf, 0, &got), -1);
	s.pool = CHAN_PART_UP + 1;
	memcpy(buf, &s, sizeof(s));
	ck_assert_int_eq(chan_state_parse(buf, sizeof(s), &got), -1);
	s.pool = CHAN_PART_UP;
	s.revocation = 0xffffffffu;
	memcpy(buf, &s, sizeof(s));
	ck_assert_int_eq(chan_state_parse(buf, sizeof(s), &got), -1);
	/* Nothing configured: ready; anything down: not. */
	s.pool = s.revocation = CHAN_PART_NONE;
	ck_assert(chan_state_ready(&s));
	s.pool = CHAN_PART_DOWN;
	ck_assert(!chan_state_ready(&s));
	s.pool = CHAN_PART_UP;
	s.revocation = CHAN_PART_DOWN;
	ck_assert(!chan_state_ready(&s));
	s.revocation = CHAN_PART_UP;
	s.audit = CHAN_PART_DOWN;
	ck_assert(!chan_state_ready(&s));
	s.audit = CHAN_PART_UP + 1;
	memcpy(buf, &s, sizeof(s));
	ck_assert_int_eq(chan_state_parse(buf, sizeof(s), &got), -1);
}
END_TEST

Suite *
unit_suite(void)
{
	Suite	*s = suite_create("chan");
	TCase	*tc = tcase_create("chan");

	tcase_set_timeout(tc, UNIT_TIMEOUT);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_pair_flags);
	tcase_add_test(tc, test_roundtrip);
	tcase_add_test(tc, test_max_payload);
	tcase_add_test(tc, test_oversized_raw_refused);
	tcase_add_test(tc, test_too_big_for_buffer);
	tcase_add_test(tc, test_truncated);
	tcase_add_test(tc, test_unknown_type);
	tcase_add_test(tc, test_descriptor_refused);
	tcase_add_test(tc, test_descriptor_passed);
	tcase_add_test(tc, test_eof_and_eagain);
	tcase_add_test(tc, test_send_full);
	tcase_add_test(tc, test_state_roundtrip);
	tcase_add_test(tc, test_state_parse);
	suite_add_tcase(s, tc);
	return s;
}
