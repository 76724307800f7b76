/*
 * chan.c - typed messages between the master and its children.
 *
 * Threat model: the master trusts nothing a worker sends.  A worker faces
 * the network and may be compromised; what it writes into its channel is
 * checked here before anyone looks at it: a message is exactly one
 * SOCK_SEQPACKET record made of a struct chan_hdr and hdr.len payload
 * bytes, hdr.len never exceeds CHAN_MAX_PAYLOAD nor the receiver's buffer,
 * the type is a known one, and no ancillary data (descriptors) is taken.
 * Anything else is EBADMSG or EMSGSIZE, and the receiver drops the peer.
 *
 * Payloads go straight between the caller's buffer and the socket (one
 * iovec each way): no intermediate copy of key material is left behind.
 */
#include <sys/socket.h>
#include <sys/uio.h>

#include <errno.h>
#include <unistd.h>
#include <string.h>

#include "chan.h"

int
chan_pair(int fds[2])
{
	return socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds);
}

int
chan_send(int fd, enum chan_type type, const void *payload, size_t len)
{
	return chan_send_fd(fd, type, payload, len, -1);
}

/* Room for one passed descriptor. */
union chan_cmsg {
	struct cmsghdr	 hdr;
	char		 buf[CMSG_SPACE(sizeof(int))];
};

/* A record: its header, then len bytes of payload (none when NULL or 0). */
static void
chan_msg_init(struct msghdr *msg, struct iovec iov[2], struct chan_hdr *hdr,
    void *payload, size_t len)
{
	iov[0].iov_base = hdr;
	iov[0].iov_len = sizeof(*hdr);
	iov[1].iov_base = payload;
	iov[1].iov_len = payload != NULL ? len : 0;
	memset(msg, 0, sizeof(*msg));
	msg->msg_iov = iov;
	msg->msg_iovlen = iov[1].iov_len > 0 ? 2 : 1;
}

/*
 * Only the master passes descriptors (a reopened log file to a worker that
 * may not open it itself); receivers take one only when they ask for it.
 */
int
chan_send_fd(int fd, enum chan_type type, const void *payload, size_t len,
    int passfd)
{
	struct chan_hdr	 hdr;
	struct iovec	 iov[2];
	struct msghdr	 msg;
	union chan_cmsg	 cmsg;
	struct cmsghdr	*cm;
	ssize_t		 n;

	if (type < CHAN_READY || type >= CHAN_TYPE_MAX) {
		errno = EINVAL;
		return -1;
	}
	if (len > (size_t)CHAN_MAX_PAYLOAD || (len > 0 && payload == NULL)) {
		errno = EMSGSIZE;
		return -1;
	}
	memset(&hdr, 0, sizeof(hdr));
	hdr.type = (uint32_t)type;
	hdr.len = (uint32_t)len;
	chan_msg_init(&msg, iov, &hdr, (void *)payload, len);
	if (passfd >= 0) {
		memset(&cmsg, 0, sizeof(cmsg));
		msg.msg_control = cmsg.buf;
		msg.msg_controllen = sizeof(cmsg.buf);
		cm = CMSG_FIRSTHDR(&msg);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &passfd, sizeof(int));
	}
	do {
		n = sendmsg(fd, &msg, MSG_NOSIGNAL);
	} while (n == -1 && errno == EINTR);
	if (n == -1)
		return -1;
	if ((size_t)n != sizeof(hdr) + len) {
		errno = EIO;
		return -1;
	}
	return 0;
}

/*
 * A zero-byte read is the end of the channel: senders never send an empty
 * record (every message has a header), so a zero-length record from a
 * misbehaving peer is taken as it leaving, which is what the master does
 * with such a peer anyway.
 */
int
chan_recv(int fd, enum chan_type *type, void *buf, size_t bufsz,
    size_t *len)
{
	return chan_recv_fd(fd, type, buf, bufsz, len, NULL);
}

/* The descriptor passed with the message, if any; -1 otherwise. */
static int
chan_cmsg_fd(struct msghdr *msg)
{
	struct cmsghdr	*cm;
	int		 passed = -1;

	for (cm = CMSG_FIRSTHDR(msg); cm != NULL; cm = CMSG_NXTHDR(msg, cm))
		if (cm->cmsg_level == SOL_SOCKET &&
		    cm->cmsg_type == SCM_RIGHTS &&
		    cm->cmsg_len == CMSG_LEN(sizeof(int)))
			memcpy(&passed, CMSG_DATA(cm), sizeof(int));
	return passed;
}

int
chan_recv_fd(int fd, enum chan_type *type, void *buf, size_t bufsz,
    size_t *len, int *passfd)
{
	struct chan_hdr	 hdr;
	struct iovec	 iov[2];
	struct msghdr	 msg;
	union chan_cmsg	 cmsg;
	ssize_t		 n;

	if (bufsz > (size_t)CHAN_MAX_PAYLOAD)
		bufsz = (size_t)CHAN_MAX_PAYLOAD;
	memset(&hdr, 0, sizeof(hdr));
	chan_msg_init(&msg, iov, &hdr, buf, bufsz);
	if (passfd != NULL) {
		*passfd = -1;
		msg.msg_control = cmsg.buf;
		msg.msg_controllen = sizeof(cmsg.buf);
	}
	do {
		n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
	} while (n == -1 && errno == EINTR);
	if (n == -1)
		return -1;
	if (passfd != NULL)
		*passfd = chan_cmsg_fd(&msg);
	if (n == 0)
		errno = 0;
	else if (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC))
		errno = (msg.msg_flags & MSG_TRUNC) ? EMSGSIZE : EBADMSG;
	else if ((size_t)n < sizeof(hdr) || hdr.len > CHAN_MAX_PAYLOAD ||
	    hdr.len != (size_t)n - sizeof(hdr) ||
	    hdr.type < CHAN_READY || hdr.type >= CHAN_TYPE_MAX)
		errno = EBADMSG;
	else
		goto valid;
	/* EOF or a malformed record: a descriptor that came with it goes. */
	if (passfd != NULL && *passfd != -1) {
		close(*passfd);
		*passfd = -1;
	}
	return n == 0 ? 0 : -1;
valid:
	*type = (enum chan_type)hdr.type;
	*len = hdr.len;
	return 1;
}

int
chan_state_parse(const void *buf, size_t len, struct chan_state *out)
{
	struct chan_state	 s;

	if (len != sizeof(s))
		return -1;
	memcpy(&s, buf, sizeof(s));
	if (s.pool > CHAN_PART_UP || s.revocation > CHAN_PART_UP ||
	    s.audit > CHAN_PART_UP)
		return -1;
	*out = s;
	return 0;
}

int
chan_state_ready(const struct chan_state *s)
{
	return s->pool != CHAN_PART_DOWN && s->revocation != CHAN_PART_DOWN &&
	    s->audit != CHAN_PART_DOWN;
}
