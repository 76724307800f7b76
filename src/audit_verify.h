/*
 * audit_verify.h - bulwarkd --verify-audit (SPEC 3, 9): checks the HMAC
 * chain across files and says where and how it is broken.
 */
#ifndef BW_AUDIT_VERIFY_H
#define BW_AUDIT_VERIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <libpq-fe.h>

#include "audit.h"

/* Exit statuses of SPEC 3. */
enum {
	AUDIT_VERIFY_OK = 0,
	AUDIT_VERIFY_BROKEN = 1,
	AUDIT_VERIFY_TORN = 4,
};

enum audit_reason {
	AUDIT_INTACT,
	AUDIT_CHANGED,
	AUDIT_REMOVED,
	AUDIT_INSERTED,
	AUDIT_REORDERED,
	AUDIT_DUPLICATED,
	AUDIT_TRUNCATED,
	AUDIT_TORN,
	AUDIT_UNREADABLE,
};

struct audit_verify_opts {
	const char *const *files;
	size_t		 nfiles;
	uint64_t	 from_seq;	/* 0: start at genesis */
	PGconn		*pg;		/* NULL: audit_head not checked */
	bool		 check_head;	/* the last file is audit.file */
	const char	*head_why;	/* why the head is not checked */
};

struct audit_verify_result {
	enum audit_reason reason;
	uint64_t	 records;	/* verified before the break */
	uint64_t	 first_seq, last_seq;
	size_t		 file;		/* where it broke */
	uint64_t	 line;
	uint64_t	 seq;		/* of the broken record */
	uint64_t	 seq_to;	/* last one missing */
	bool		 head_checked;
	const char	*head_err;	/* why reading the head failed */
	uint64_t	 head_seq;
	char		 why[160];
};

/* Verifies; an exit status. */
int	 audit_verify(const struct audit_verify_opts *,
	    const struct audit_key *, struct audit_verify_result *);
/* The report of SPEC 3 on fp. */
void	 audit_verify_print(const struct audit_verify_opts *,
	    const struct audit_verify_result *, FILE *);
const char *audit_reason_name(enum audit_reason);

#endif
