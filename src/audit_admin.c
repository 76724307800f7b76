/*
 * audit_admin.c - audit records of the administration modes, and
 * --verify-audit.
 *
 * A mode that changes state makes sure before it runs that its record
 * can be written (no record, no change): it connects to the running
 * daemon's writer, or, when no daemon answers on audit.control_socket,
 * opens and locks audit.file.  It sends or appends its admin.* record
 * after, continuing the chain from the file's last line, or from
 * bulwark.audit_head when the file is new (rotated).  Either way the
 * record is synced before the mode exits.
 *
 * Threat model: the operator's arguments (names, roles) are recorded,
 * escaped; passwords and API keys never reach this file (the detail is
 * built by manage.c from names only).  The key is wiped at the end.
 */
#include <sys/stat.h>

#include <errno.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit_admin.h"
#include "audit_db.h"
#include "audit_msg.h"
#include "audit_verify.h"
#include "conf.h"
#include "util.h"

int
audit_admin_begin(struct audit_admin *a, const struct conf *conf,
    const char **err)
{
	memset(a, 0, sizeof(*a));
	a->file.fd = -1;
	a->sock = -1;
	if (conf->audit == NULL)
		return 0;
	if ((a->sock = audit_msg_connect(conf->audit->control_socket)) != -1) {
		if (audit_msg_probe(a->sock, err) == -1) {
			audit_admin_end(a);
			return -1;
		}
		a->on = true;
		return 0;
	}
	if (audit_instance(conf, NULL, a->instance, sizeof(a->instance),
	    err) == -1 || audit_key_load(conf, &a->key, err) == -1)
		return -1;
	if (audit_file_open(&a->file, conf->audit->file,
	    AUDIT_ADMIN_LOCK_WAIT_MS, NULL, err) == -1) {
		audit_admin_end(a);
		return -1;
	}
	a->on = true;
	return 0;
}

/* bulwark.audit_head when the file starts empty (a rotated log). */
static void
audit_admin_head(struct audit_admin *a, PGconn *pg)
{
	struct audit_chain	 head;
	const char		*err;

	if (a->file.known || pg == NULL || PQstatus(pg) != CONNECTION_OK)
		return;
	if (audit_db_head_get(pg, a->instance, &head, &err) == 1) {
		a->file.chain = head;
		a->file.known = true;
	}
}

/* ev to the daemon's writer, or appended and synced under the lock. */
static int
audit_admin_append(struct audit_admin *a, PGconn *pg,
    const struct audit_event *ev, const char **err)
{
	uint64_t	 seq;

	if (a->sock != -1)
		return audit_msg_call(a->sock, ev, &seq, err);
	audit_admin_head(a, pg);
	if (audit_file_append(&a->file, ev, a->instance, &a->key, err) == -1 ||
	    audit_file_sync(&a->file, err) == -1)
		return -1;
	if (pg != NULL && PQstatus(pg) == CONNECTION_OK &&
	    audit_db_head_set(pg, a->instance, &a->file.chain, err) == -1)
		fprintf(stderr, "bulwarkd: warning: %s\n", *err);
	return 0;
}

int
audit_admin_event(const struct conf *conf, const char *event,
    json_t *detail, const char **err)
{
	struct audit_admin	 a;
	struct audit_event	 ev = { .event = event, .detail = detail };
	int			 rv;

	if (conf == NULL || conf->audit == NULL)
		return 0;
	if (audit_admin_begin(&a, conf, err) == -1)
		return -1;
	rv = audit_admin_append(&a, NULL, &ev, err);
	audit_admin_end(&a);
	return rv;
}

int
audit_admin_record(struct audit_admin *a, PGconn *pg, const char *mode,
    json_t *detail, const char **err)
{
	struct audit_event	 ev = { .detail = detail };
	struct passwd		 pwd, *pw = NULL;
	char			 event[64], uid[24], pwbuf[4096];
	size_t			 i;

	if (!a->on)
		return 0;
	(void)snprintf(event, sizeof(event), "admin.%s", mode);
	for (i = 0; event[i] != '\0'; i++)
		if (event[i] == '-')
			event[i] = '_';
	(void)snprintf(uid, sizeof(uid), "uid:%lu", (unsigned long)getuid());
	if (getpwuid_r(getuid(), &pwd, pwbuf, sizeof(pwbuf), &pw) != 0)
		pw = NULL;
	ev.event = event;
	ev.user = pw != NULL ? pw->pw_name : uid;
	return audit_admin_append(a, pg, &ev, err);
}

void
audit_admin_end(struct audit_admin *a)
{
	if (a->sock != -1)
		close(a->sock);
	a->sock = -1;
	audit_file_close(&a->file);
	audit_key_wipe(&a->key);
	a->on = false;
}

int
audit_admin_check(const struct conf *conf, const char **err)
{
	struct audit_key	 key;
	char			 inst[AUDIT_INSTANCE_MAX + 1];

	if (conf->audit == NULL)
		return 0;
	if (audit_instance(conf, NULL, inst, sizeof(inst), err) == -1 ||
	    audit_key_load(conf, &key, err) == -1)
		return -1;
	audit_key_wipe(&key);
	return 0;
}

/* Whether path names the same file as audit.file. */
static bool
audit_admin_is_log(const struct conf *conf, const char *path)
{
	struct stat	 a, b;

	return stat(path, &a) == 0 && stat(conf->audit->file, &b) == 0 &&
	    a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

int
audit_admin_verify(const struct conf *conf, PGconn *pg,
    const char *const *files, size_t nfiles, const char *from_seq)
{
	struct audit_verify_opts	 o = { .files = files,
					    .nfiles = nfiles };
	struct audit_verify_result	 res;
	struct audit_key		 key;
	const char			*err, *deflt[1];
	uint64_t			 n;
	int				 rv;

	if (conf->audit == NULL) {
		fprintf(stderr, "bulwarkd: %s: no audit section\n", conf->file);
		return AUDIT_VERIFY_BROKEN;
	}
	if (from_seq != NULL && (bw_parse_uint(from_seq, INT64_MAX, &n) ==
	    -1 || n == 0)) {
		fprintf(stderr, "bulwarkd: --from-seq: not a positive "
		    "integer: '%s'\n", from_seq);
		return 2;
	}
	o.from_seq = from_seq != NULL ? n : 0;
	if (nfiles == 0) {
		deflt[0] = conf->audit->file;
		o.files = deflt;
		o.nfiles = 1;
	}
	o.pg = pg != NULL && PQstatus(pg) == CONNECTION_OK ? pg : NULL;
	o.check_head = audit_admin_is_log(conf, o.files[o.nfiles - 1]);
	if (!o.check_head)
		o.head_why = "the last file is not audit.file";
	else if (o.pg == NULL)
		o.head_why = "the database is not reachable";
	if (audit_key_load(conf, &key, &err) == -1) {
		fprintf(stderr, "bulwarkd: %s: %s\n", conf->audit->key_file,
		    err);
		return AUDIT_VERIFY_BROKEN;
	}
	rv = audit_verify(&o, &key, &res);
	audit_key_wipe(&key);
	audit_verify_print(&o, &res, stdout);
	return rv;
}
