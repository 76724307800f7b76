/*
 * sandbox.c - privilege drop and process hardening (sandbox.h); the
 * seccomp allow-lists of every role are sandbox_filter.c's.
 *
 * Threat model: a worker (or the admin listener) parses attacker bytes and
 * must be assumed compromisable.  Once sandbox_worker() returned 0 such a
 * process runs as server.user/server.group with no supplementary group and
 * no capability, cannot regain privileges (NO_NEW_PRIVS, and a verified
 * failure of setuid(0) after a drop), leaves no core file, cannot be
 * ptrace'd by its own user (not dumpable), and can make only the system
 * calls of the worker's filter (sandbox_filter.c): no execve, no fork, no
 * executable memory, no open for anything but reading (the master opens
 * and reopens the access log and passes the descriptor), no socket other
 * than unix/IPv4/IPv6, no signal to anything but itself.  The key manager
 * and the audit writer are not network-facing; they keep the master's
 * identity and load a filter of their own (keymgr_sandbox.c,
 * audit_writer.c).
 *
 * Order matters: the identity is dropped first (setgroups, setresgid,
 * setresuid, each verified), then the process-wide hardening, then the
 * filter with SCMP_FLTATR_CTL_TSYNC so that threads started earlier (the
 * argon2 pool) are covered too.
 *
 * Capabilities are per thread, and the argon2 threads exist before the
 * drop: capset() would clear the calling thread's only.  glibc applies a
 * change of ids to every thread, and the kernel clears a thread's
 * permitted, effective and ambient capabilities when a change of ids
 * leaves uid 0 behind in all three ids.  So a service user holding
 * CAP_SETUID (systemd AmbientCapabilities=, not root) first takes 0 as its
 * saved uid, then sets all three ids at once; every thread is then read
 * back from /proc/self/task (a thread with SECBIT_KEEP_CAPS would keep
 * them: that fails the check).  (Without this, the threads kept CAP_SETUID,
 * the verifying setuid(0) succeeded in them and failed in the caller, and
 * glibc aborted the worker.)
 *
 * Unprivileged runs: when the process is neither root nor holds
 * CAP_SETUID and CAP_SETGID, it cannot change its identity; it then goes on
 * as it is with a warning (a developer's run), and still hardens itself
 * and loads the filter.  A configured root user is refused.
 */
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"
#include "sandbox.h"
#include "util.h"

/* Buffer for getpwnam_r/getgrnam_r. */
#define SANDBOX_PWBUF	16384

static int
sandbox_has_setid_caps(void)
{
	struct __user_cap_header_struct	 hdr;
	struct __user_cap_data_struct	 data[2];
	uint32_t			 need;

	memset(&hdr, 0, sizeof(hdr));
	memset(data, 0, sizeof(data));
	hdr.version = _LINUX_CAPABILITY_VERSION_3;
	hdr.pid = 0;
	if (syscall(SYS_capget, &hdr, data) == -1)
		return 0;
	need = (1u << CAP_SETUID) | (1u << CAP_SETGID);
	return (data[0].effective & need) == need;
}

/*
 * Workers need no capability.  A change of ids from root clears them, but
 * one from a service user that holds CAP_SETUID (systemd
 * AmbientCapabilities=) does not: they are cleared here, ambient set
 * included, and the result is read back.
 */
static int
sandbox_caps_clear(const char **err)
{
	struct __user_cap_header_struct	 hdr;
	struct __user_cap_data_struct	 data[2];

	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) == -1 &&
	    errno != EINVAL) {
		*err = "cannot clear the ambient capabilities";
		return -1;
	}
	memset(&hdr, 0, sizeof(hdr));
	memset(data, 0, sizeof(data));
	hdr.version = _LINUX_CAPABILITY_VERSION_3;
	if (syscall(SYS_capset, &hdr, data) == -1) {
		*err = "cannot drop capabilities";
		return -1;
	}
	memset(data, 0xff, sizeof(data));
	if (syscall(SYS_capget, &hdr, data) == -1 ||
	    data[0].effective != 0 || data[0].permitted != 0 ||
	    data[0].inheritable != 0 || data[1].effective != 0 ||
	    data[1].permitted != 0 || data[1].inheritable != 0) {
		*err = "capabilities remain after dropping them";
		return -1;
	}
	return 0;
}

static int
sandbox_verify(uid_t uid, gid_t gid, const char **err)
{
	uid_t	 ru, eu, su;
	gid_t	 rg, eg, sg, groups[2];
	int	 n;

	if (getresuid(&ru, &eu, &su) == -1 || ru != uid || eu != uid ||
	    su != uid) {
		*err = "user ids did not change as requested";
		return -1;
	}
	if (getresgid(&rg, &eg, &sg) == -1 || rg != gid || eg != gid ||
	    sg != gid) {
		*err = "group ids did not change as requested";
		return -1;
	}
	n = getgroups(2, groups);
	if (n < 0 || n > 1 || (n == 1 && groups[0] != gid)) {
		*err = "supplementary groups were not dropped";
		return -1;
	}
	if (setuid(0) != -1 || setgid(0) != -1) {
		*err = "root privileges could be regained after the drop";
		return -1;
	}
	return 0;
}

/* A status line "Uid:\treal\teffective\tsaved\tfs": all four are uid. */
static int
sandbox_uid_line(const char *p, uid_t uid)
{
	char		*end;
	unsigned long	 v;
	int		 i;

	for (i = 0; i < 4; i++) {
		errno = 0;
		v = strtoul(p, &end, 10);
		if (end == p || errno != 0 || v != (unsigned long)uid)
			return -1;
		p = end;
	}
	return *p == '\0' ? 0 : -1;
}

/*
 * One thread's status: every user id is uid and no capability remains
 * permitted, effective or ambient.  0 when so, -1 otherwise.
 */
static int
sandbox_thread_check(int dfd, const char *tid, uid_t uid)
{
	char		 path[64], buf[4096], *line, *save = NULL;
	int		 seen = 0;

	if (snprintf(path, sizeof(path), "%s/status", tid) >=
	    (int)sizeof(path) || bw_read_text(dfd, path, 0, buf,
	    sizeof(buf)) == -1)
		return -1;
	for (line = strtok_r(buf, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "Uid:", 4) == 0) {
			if (sandbox_uid_line(line + 4, uid) == -1)
				return -1;
			seen++;
		} else if (strncmp(line, "CapPrm:", 7) == 0 ||
		    strncmp(line, "CapEff:", 7) == 0 ||
		    strncmp(line, "CapAmb:", 7) == 0) {
			if (strspn(line + 7, " \t0") != strlen(line + 7))
				return -1;
			seen++;
		}
	}
	return seen == 4 ? 0 : -1;
}

/* Every thread of the process has dropped (see the top of the file). */
static int
sandbox_threads_verify(uid_t uid, const char **err)
{
	DIR		*d;
	struct dirent	*de;
	int		 rv = 0, n = 0;

	if ((d = opendir("/proc/self/task")) == NULL) {
		*err = "cannot read /proc/self/task to verify every thread";
		return -1;
	}
	while (rv == 0 && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		n++;
		if (sandbox_thread_check(dirfd(d), de->d_name, uid) == -1) {
			*err = "a thread kept its ids or capabilities after "
			    "the drop";
			rv = -1;
		}
	}
	closedir(d);
	if (rv == 0 && n == 0) {
		*err = "no thread found in /proc/self/task";
		rv = -1;
	}
	return rv;
}

int
sandbox_drop_ids(uid_t uid, gid_t gid, const char **err)
{
	uid_t	 ru, eu, su;
	gid_t	 rg, eg, sg;

	if (uid == 0 || gid == 0) {
		*err = "refusing to run a network-facing process as root "
		    "(server.user/server.group)";
		return -1;
	}
	if (getresuid(&ru, &eu, &su) == -1 || getresgid(&rg, &eg, &sg) == -1) {
		*err = "cannot read the current ids";
		return -1;
	}
	if (ru == uid && eu == uid && su == uid && rg == gid && eg == gid &&
	    sg == gid) {
		*err = "already running as the configured user and group";
		return 1;
	}
	if (eu != 0 && !sandbox_has_setid_caps()) {
		*err = "not privileged to change user: continuing as the "
		    "current user";
		return 1;
	}
	if (setgroups(1, &gid) == -1) {
		*err = "setgroups failed";
		return -1;
	}
	if (setresgid(gid, gid, gid) == -1) {
		*err = "setresgid failed";
		return -1;
	}
	if (eu != 0 && su != 0 && setresuid(-1, -1, 0) == -1) {
		*err = "cannot take saved uid 0 to clear every thread's "
		    "capabilities";
		return -1;
	}
	if (setresuid(uid, uid, uid) == -1) {
		*err = "setresuid failed";
		return -1;
	}
	if (sandbox_caps_clear(err) == -1)
		return -1;
	if (sandbox_threads_verify(uid, err) == -1)
		return -1;
	if (sandbox_verify(uid, gid, err) == -1)
		return -1;
	/* A change of credentials clears the parent-death signal. */
	if (prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0) == -1) {
		*err = "cannot set the parent-death signal";
		return -1;
	}
	return 0;
}

int
sandbox_drop(const char *user, const char *group, const char **err)
{
	struct passwd	 pw, *pwp = NULL;
	struct group	 gr, *grp = NULL;
	char		*buf;
	uid_t		 uid;
	gid_t		 gid;

	if (user == NULL) {
		*err = "no server.user configured";
		return -1;
	}
	buf = bw_malloc(SANDBOX_PWBUF);
	if (getpwnam_r(user, &pw, buf, SANDBOX_PWBUF, &pwp) != 0 ||
	    pwp == NULL) {
		free(buf);
		*err = "server.user does not exist";
		return -1;
	}
	uid = pw.pw_uid;
	gid = pw.pw_gid;
	if (group != NULL) {
		if (getgrnam_r(group, &gr, buf, SANDBOX_PWBUF, &grp) != 0 ||
		    grp == NULL) {
			free(buf);
			*err = "server.group does not exist";
			return -1;
		}
		gid = gr.gr_gid;
	}
	free(buf);
	return sandbox_drop_ids(uid, gid, err);
}

int
sandbox_harden(const char **err)
{
	struct rlimit	 rl = { 0, 0 };

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1) {
		*err = "PR_SET_NO_NEW_PRIVS failed";
		return -1;
	}
	if (setrlimit(RLIMIT_CORE, &rl) == -1) {
		*err = "cannot set RLIMIT_CORE to 0";
		return -1;
	}
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == -1) {
		*err = "PR_SET_DUMPABLE failed";
		return -1;
	}
	return sandbox_caps_clear(err);
}

int
sandbox_worker(const struct conf *conf)
{
	const char	*err = NULL;
	int		 rv;

	rv = sandbox_drop(conf->server.user, conf->server.group, &err);
	if (rv == -1) {
		log_errorx("sandbox: %s: %s", conf->server.user != NULL ?
		    conf->server.user : "(none)", err);
		return -1;
	}
	if (rv == 1)
		log_warnx("sandbox: %s (uid %ld), not %s", err,
		    (long)getuid(), conf->server.user);
	if (sandbox_harden(&err) == -1) {
		log_errorx("sandbox: %s", err);
		return -1;
	}
	if (conf->seccomp == SECCOMP_OFF)
		log_warnx("sandbox: security.seccomp is off");
	if (sandbox_seccomp(SANDBOX_WORKER, conf->seccomp, &err) == -1) {
		log_errorx("sandbox: %s", err);
		return -1;
	}
	return 0;
}
