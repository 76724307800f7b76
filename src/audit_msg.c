/*
 * audit_msg.c - the message format between record senders and the audit
 * writer (audit_msg.h).
 *
 * Threat model: the writer decodes messages from workers, which handle
 * hostile requests and so may be compromised: a message is bounded, must
 * be a JSON object whose members have the expected types, and carries no
 * authority beyond the record it asks for (the writer alone sets seq,
 * time bounds, instance, prev and mac).  A record can be forged by a
 * compromised worker, never removed or changed once written.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit_msg.h"
#include "util.h"

static const char *const audit_msg_strs[] = {
	"event", "request_id", "user", "ip", "api_key", "route", "method",
	"path",
};

static const char **
audit_msg_field(struct audit_event *ev, size_t i)
{
	const char	**f[] = { &ev->event, &ev->request_id, &ev->user,
			    &ev->ip, &ev->api_key, &ev->route, &ev->method,
			    &ev->path };

	return f[i];
}

/* s as a JSON string; ill-formed UTF-8 has its non-ASCII bytes as '?'. */
static json_t *
audit_msg_string(const char *s)
{
	size_t	 i, len = strlen(s);
	json_t	*v;
	char	*copy;

	if (bw_utf8_valid(s, len))
		return json_stringn(s, len);
	copy = bw_strndup(s, len);
	for (i = 0; i < len; i++)
		if ((unsigned char)copy[i] >= 0x80)
			copy[i] = '?';
	v = json_stringn(copy, len);
	free(copy);
	return v;
}

char *
audit_msg_encode(const struct audit_event *ev, size_t *len)
{
	struct audit_event	 e = *ev;
	json_t			*o = json_object();
	const char		*s;
	char			*text;
	size_t			 i;

	for (i = 0; i < BW_ARRAY_LEN(audit_msg_strs); i++)
		if ((s = *audit_msg_field(&e, i)) != NULL)
			json_object_set_new(o, audit_msg_strs[i],
			    audit_msg_string(s));
	if (ev->status != 0)
		json_object_set_new(o, "status", json_integer(ev->status));
	if (ev->time_us != 0)
		json_object_set_new(o, "time_us", json_integer(ev->time_us));
	if (ev->row != 0)
		json_object_set_new(o, "row_id", json_integer(ev->row));
	if (ev->detail != NULL)
		json_object_set(o, "detail", (json_t *)ev->detail);
	text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (text != NULL && (*len = strlen(text)) > AUDIT_MSG_MAX) {
		free(text);
		text = NULL;
	}
	return text;
}

static int
audit_msg_int(json_t *root, const char *name, int64_t lo, int64_t hi,
    int64_t *out)
{
	json_t	*v = json_object_get(root, name);

	*out = 0;
	if (v == NULL)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < lo ||
	    json_integer_value(v) > hi)
		return -1;
	*out = json_integer_value(v);
	return 0;
}

int
audit_msg_decode(const char *buf, size_t len, json_t **root,
    struct audit_event *ev)
{
	json_t	*o, *v;
	int64_t	 status;
	size_t	 i;

	memset(ev, 0, sizeof(*ev));
	*root = NULL;
	if (len > AUDIT_MSG_MAX || (o = json_loadb(buf, len,
	    JSON_REJECT_DUPLICATES, NULL)) == NULL)
		return -1;
	*root = o;
	if (!json_is_object(o))
		return -1;
	if (json_object_size(o) == 1 && json_is_true(json_object_get(o,
	    "probe")))
		return 1;
	for (i = 0; i < BW_ARRAY_LEN(audit_msg_strs); i++) {
		if ((v = json_object_get(o, audit_msg_strs[i])) == NULL)
			continue;
		if (!json_is_string(v) || strlen(json_string_value(v)) !=
		    json_string_length(v))
			return -1;
		*audit_msg_field(ev, i) = json_string_value(v);
	}
	v = json_object_get(o, "detail");
	if (ev->event == NULL || (v != NULL && !json_is_object(v)) ||
	    audit_msg_int(o, "status", 100, 999, &status) == -1 ||
	    audit_msg_int(o, "time_us", 0, INT64_MAX, &ev->time_us) == -1 ||
	    audit_msg_int(o, "row_id", 0, INT64_MAX, &ev->row) == -1)
		return -1;
	ev->status = (int)status;
	ev->detail = v;
	return 0;
}

int
audit_msg_send(int fd, const struct audit_event *ev)
{
	char	*text;
	size_t	 len;
	ssize_t	 n;

	if ((text = audit_msg_encode(ev, &len)) == NULL) {
		errno = EMSGSIZE;
		return -1;
	}
	do
		n = send(fd, text, len, MSG_NOSIGNAL | MSG_DONTWAIT);
	while (n == -1 && errno == EINTR);
	free(text);
	return n == (ssize_t)len ? 0 : -1;
}

int
audit_msg_connect(const char *path)
{
	struct sockaddr_un	 sun;
	int			 fd, saved;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (bw_strlcpy(sun.sun_path, path, sizeof(sun.sun_path)) >=
	    sizeof(sun.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

/* The writer's answer on fd, within AUDIT_MSG_TIMEOUT_MS; NULL, *err. */
static json_t *
audit_msg_answer(int fd, const char **err)
{
	struct pollfd	 pfd = { .fd = fd, .events = POLLIN };
	char		 buf[512];
	json_t		*o;
	ssize_t		 n;

	*err = "the audit writer did not answer";
	while (poll(&pfd, 1, AUDIT_MSG_TIMEOUT_MS) == -1 && errno == EINTR)
		;
	if (!(pfd.revents & POLLIN) || (n = recv(fd, buf, sizeof(buf),
	    0)) <= 0 || (o = json_loadb(buf, (size_t)n, 0, NULL)) == NULL)
		return NULL;
	if (json_object_get(o, "error") != NULL) {
		*err = "the audit log cannot be written (see the daemon's log)";
		json_decref(o);
		return NULL;
	}
	return o;
}

int
audit_msg_probe(int fd, const char **err)
{
	static const char	 probe[] = "{\"probe\":true}";
	json_t			*o;

	if (send(fd, probe, sizeof(probe) - 1, MSG_NOSIGNAL) !=
	    (ssize_t)sizeof(probe) - 1) {
		*err = strerror(errno);
		return -1;
	}
	if ((o = audit_msg_answer(fd, err)) == NULL)
		return -1;
	json_decref(o);
	return 0;
}

int
audit_msg_call(int fd, const struct audit_event *ev, uint64_t *seq,
    const char **err)
{
	json_t	*o, *v;
	int	 rv = -1;

	if (audit_msg_send(fd, ev) == -1) {
		*err = strerror(errno);
		return -1;
	}
	if ((o = audit_msg_answer(fd, err)) == NULL)
		return -1;
	if (json_is_integer(v = json_object_get(o, "seq")) &&
	    json_integer_value(v) > 0) {
		*seq = (uint64_t)json_integer_value(v);
		rv = 0;
	} else
		*err = "the audit writer could not write the record";
	json_decref(o);
	return rv;
}

int
audit_msg_record(const char *path, const struct audit_event *ev,
    uint64_t *seq, const char **err)
{
	int	 fd, rv;

	if ((fd = audit_msg_connect(path)) == -1) {
		*err = "no audit writer answers on the control socket";
		return -1;
	}
	rv = audit_msg_call(fd, ev, seq, err);
	close(fd);
	return rv;
}
