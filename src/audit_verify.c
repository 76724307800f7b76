/*
 * audit_verify.c - verifies audit files as one HMAC chain and classifies
 * the first break.
 *
 * The files are read in the order given, as one sequence of lines.  The
 * first record must be audit.genesis (seq 1, prev zero) unless
 * --from-seq N says where to start: lines before the record with seq N
 * are then skipped, and that record's prev is taken as given.  Every
 * record must then carry seq + 1 and prev = the mac of the one before,
 * and its own mac must be HMAC(key, prev || line up to ,"mac":).
 *
 * The first record that does not fit is classified:
 *   - its own mac is wrong (or it is not a record at all): inserted when
 *     the line after it is the expected successor, else changed;
 *   - it is sound but later than expected: reordered when the expected
 *     record follows somewhere later, else removed (the gap);
 *   - it is sound but earlier than expected: duplicated when the same
 *     record was already verified, else reordered;
 *   - it is sound, in sequence, but links to another chain: inserted.
 * A final line without its newline, at the end of the last file, is torn
 * (a write cut by a crash).  When the last file is audit.file and the
 * database is reachable, a chain that ends before bulwark.audit_head (or
 * at its seq with another mac) is truncated.
 *
 * Threat model: the files are the evidence under test, so all of their
 * content is hostile: lines are bounded (AUDIT_LINE_MAX, longer ones are
 * not records), parsed by jansson, MACs compared in constant time
 * (bw_ct_equal).  Files are only read.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>


#include "audit_db.h"
#include "audit_verify.h"
#include "util.h"

struct audit_line {
	char		*buf;		/* AUDIT_LINE_MAX bytes */
	size_t		 len;
	bool		 nl;		/* ended by a newline */
	bool		 toolong;
	size_t		 file;
	uint64_t	 lineno;
};

struct audit_cursor {
	const char *const *files;
	size_t		 nfiles;
	size_t		 idx;
	FILE		*fp;
	uint64_t	 lineno;
	int		 err;		/* errno of a file that failed */
};

struct audit_rec {
	uint64_t	 seq;
	unsigned char	 prev[AUDIT_MAC_LEN];
	unsigned char	 mac[AUDIT_MAC_LEN];
	bool		 genesis;
	bool		 self_ok;	/* its mac matches its own prev */
	char		 instance[AUDIT_INSTANCE_MAX + 1];
};

static const char *const audit_reason_names[] = {
	[AUDIT_INTACT] = "intact",
	[AUDIT_CHANGED] = "changed",
	[AUDIT_REMOVED] = "removed",
	[AUDIT_INSERTED] = "inserted",
	[AUDIT_REORDERED] = "reordered",
	[AUDIT_DUPLICATED] = "duplicated",
	[AUDIT_TRUNCATED] = "truncated",
	[AUDIT_TORN] = "torn",
	[AUDIT_UNREADABLE] = "unreadable",
};

const char *
audit_reason_name(enum audit_reason r)
{
	return audit_reason_names[r];
}

/*
 * Reading lines across files
 */

static void
audit_cursor_init(struct audit_cursor *c, const struct audit_verify_opts *o)
{
	memset(c, 0, sizeof(*c));
	c->files = o->files;
	c->nfiles = o->nfiles;
}

static void
audit_cursor_close(struct audit_cursor *c)
{
	if (c->fp != NULL)
		(void)fclose(c->fp);
	c->fp = NULL;
}

/* A copy of c positioned where c is; 0 or -1. */
static int
audit_cursor_clone(const struct audit_cursor *c, struct audit_cursor *d)
{
	long	 off;

	*d = *c;
	d->fp = NULL;
	if (c->fp == NULL)
		return 0;
	if ((off = ftell(c->fp)) == -1 ||
	    (d->fp = fopen(c->files[c->idx], "re")) == NULL ||
	    fseek(d->fp, off, SEEK_SET) == -1) {
		audit_cursor_close(d);
		return -1;
	}
	return 0;
}

static void
audit_cursor_read(struct audit_cursor *c, struct audit_line *l, int ch)
{
	l->len = 0;
	l->toolong = false;
	for (; ch != EOF && ch != '\n'; ch = getc(c->fp)) {
		if (l->len < AUDIT_LINE_MAX)
			l->buf[l->len++] = (char)ch;
		else
			l->toolong = true;
	}
	l->nl = ch == '\n';
	l->file = c->idx;
	l->lineno = ++c->lineno;
}

/* The next line: 1, 0 at the end of the last file, -1 (c->err). */
static int
audit_cursor_next(struct audit_cursor *c, struct audit_line *l)
{
	int	 ch;

	for (;;) {
		if (c->fp == NULL) {
			if (c->idx == c->nfiles)
				return 0;
			if ((c->fp = fopen(c->files[c->idx], "re")) == NULL) {
				c->err = errno;
				return -1;
			}
			c->lineno = 0;
		}
		if ((ch = getc(c->fp)) != EOF) {
			audit_cursor_read(c, l, ch);
			return 1;
		}
		if (ferror(c->fp)) {
			c->err = errno != 0 ? errno : EIO;
			return -1;
		}
		audit_cursor_close(c);
		c->idx++;
	}
}

/*
 * One record
 */

static int
audit_rec_fields(const char *buf, size_t len, struct audit_rec *r)
{
	json_t		*o, *seq, *prev, *ev, *inst, *m;
	const char	*tail = buf + len - AUDIT_TAIL_LEN +
			    sizeof(AUDIT_MAC_MARK) - 1;
	int		 rv = -1;

	if ((o = json_loadb(buf, len, JSON_REJECT_DUPLICATES, NULL)) == NULL)
		return -1;
	seq = json_object_get(o, "seq");
	prev = json_object_get(o, "prev");
	ev = json_object_get(o, "event");
	inst = json_object_get(o, "instance");
	m = json_object_get(o, "mac");
	if (json_is_integer(seq) && (uint64_t)json_integer_value(seq) ==
	    r->seq && json_is_string(prev) && json_string_length(prev) ==
	    AUDIT_HEX_LEN && audit_hex_decode(json_string_value(prev),
	    r->prev) == 0 && json_is_string(ev) && json_is_string(inst) &&
	    json_string_length(inst) <= AUDIT_INSTANCE_MAX &&
	    json_is_string(m) && json_string_length(m) == AUDIT_HEX_LEN &&
	    memcmp(json_string_value(m), tail, AUDIT_HEX_LEN) == 0) {
		r->genesis = strcmp(json_string_value(ev),
		    AUDIT_EVENT_GENESIS) == 0;
		bw_strlcpy(r->instance, json_string_value(inst),
		    sizeof(r->instance));
		rv = 0;
	}
	json_decref(o);
	return rv;
}

/* 0 when l is a well-formed record (r set, self_ok computed), else -1. */
static int
audit_rec_parse(const struct audit_line *l, const struct audit_key *key,
    struct audit_rec *r)
{
	unsigned char	 mac[AUDIT_MAC_LEN];

	memset(r, 0, sizeof(*r));
	if (!l->nl || l->toolong ||
	    audit_line_ends(l->buf, l->len, &r->seq, r->mac) == -1 ||
	    audit_rec_fields(l->buf, l->len, r) == -1)
		return -1;
	r->self_ok = audit_mac(key, r->prev, l->buf, l->len - AUDIT_TAIL_LEN,
	    mac) == 0 && bw_ct_equal(mac, r->mac, AUDIT_MAC_LEN);
	return 0;
}

/* r is the record expected after (seq - 1, prev). */
static bool
audit_rec_links(const struct audit_rec *r, uint64_t seq,
    const unsigned char *prev)
{
	return r->self_ok && r->seq == seq &&
	    bw_ct_equal(r->prev, prev, AUDIT_MAC_LEN) &&
	    (seq != 1 || r->genesis);
}

/*
 * Classifying a break
 */

struct audit_state {
	const struct audit_verify_opts *o;
	const struct audit_key	*key;
	struct audit_cursor	 c;
	struct audit_line	 l;	/* the current line */
	struct audit_line	 tmp;	/* lines read ahead or behind */
	uint64_t		 seq;	/* expected */
	unsigned char		 prev[AUDIT_MAC_LEN];
	bool			 any_prev;	/* --from-seq: take prev */
	char			 instance[AUDIT_INSTANCE_MAX + 1];
};

/*
 * Whether the expected record follows: on the next line only, or
 * anywhere after.
 */
static bool
audit_find_next(struct audit_state *s, bool first_only)
{
	struct audit_cursor	 d;
	struct audit_rec	 r;
	bool			 found = false;

	if (audit_cursor_clone(&s->c, &d) == -1)
		return false;
	while (!found && audit_cursor_next(&d, &s->tmp) == 1) {
		if (audit_rec_parse(&s->tmp, s->key, &r) == 0 &&
		    audit_rec_links(&r, s->seq, s->prev))
			found = true;
		else if (first_only)
			break;
	}
	audit_cursor_close(&d);
	return found;
}

/* Whether the same record (seq and mac) was already read before line l. */
static bool
audit_find_before(struct audit_state *s, const struct audit_rec *want)
{
	struct audit_cursor	 d;
	struct audit_rec	 r;
	bool			 found = false;

	audit_cursor_init(&d, s->o);
	while (!found && audit_cursor_next(&d, &s->tmp) == 1 &&
	    (s->tmp.file < s->l.file || (s->tmp.file == s->l.file &&
	    s->tmp.lineno < s->l.lineno)))
		if (audit_rec_parse(&s->tmp, s->key, &r) == 0 &&
		    r.seq == want->seq && bw_ct_equal(r.mac, want->mac,
		    AUDIT_MAC_LEN))
			found = true;
	audit_cursor_close(&d);
	return found;
}

static enum audit_reason
audit_classify(struct audit_state *s, const struct audit_rec *r, bool parsed,
    struct audit_verify_result *res)
{
	res->seq = parsed ? r->seq : s->seq;
	if (!parsed || !r->self_ok) {
		if (audit_find_next(s, true))
			return AUDIT_INSERTED;
		(void)snprintf(res->why, sizeof(res->why), parsed ?
		    "its mac does not match its content" :
		    "not a well-formed record");
		return AUDIT_CHANGED;
	}
	if (r->seq > s->seq) {
		if (audit_find_next(s, false))
			return AUDIT_REORDERED;
		res->seq = s->seq;
		res->seq_to = r->seq - 1;
		return AUDIT_REMOVED;
	}
	if (r->seq < s->seq)
		return audit_find_before(s, r) ? AUDIT_DUPLICATED :
		    AUDIT_REORDERED;
	(void)snprintf(res->why, sizeof(res->why), "it links to another "
	    "chain");
	return AUDIT_INSERTED;
}

/*
 * The walk
 */

/* The first line that holds the record --from-seq asked for; 1, 0, -1. */
static int
audit_skip_to(struct audit_state *s)
{
	struct audit_rec	 r;
	int			 rv;

	while ((rv = audit_cursor_next(&s->c, &s->l)) == 1)
		if (audit_rec_parse(&s->l, s->key, &r) == 0 &&
		    r.seq == s->seq)
			return 1;
	return rv;
}

static void
audit_accept(struct audit_state *s, const struct audit_rec *r,
    struct audit_verify_result *res)
{
	if (res->records++ == 0)
		res->first_seq = r->seq;
	res->last_seq = r->seq;
	res->file = s->l.file;
	res->line = s->l.lineno;
	memcpy(s->prev, r->mac, AUDIT_MAC_LEN);
	memcpy(s->instance, r->instance, sizeof(s->instance));
	s->any_prev = false;
	s->seq++;
}

/* One line: 1 verified, 0 the chain broke here (res set). */
static int
audit_step(struct audit_state *s, struct audit_verify_result *res)
{
	struct audit_rec	 r;
	bool			 parsed;

	parsed = audit_rec_parse(&s->l, s->key, &r) == 0;
	if (parsed && s->any_prev && r.self_ok && r.seq == s->seq)
		memcpy(s->prev, r.prev, AUDIT_MAC_LEN);
	if (parsed && audit_rec_links(&r, s->seq, s->prev)) {
		audit_accept(s, &r, res);
		return 1;
	}
	res->file = s->l.file;
	res->line = s->l.lineno;
	if (!s->l.nl && s->l.file == s->o->nfiles - 1) {
		res->seq = s->seq;
		res->reason = AUDIT_TORN;
	} else
		res->reason = audit_classify(s, &r, parsed, res);
	return 0;
}

/* The chain ended well: compare with bulwark.audit_head. */
static void
audit_check_head(struct audit_state *s, struct audit_verify_result *res)
{
	struct audit_chain	 head;
	const char		*err;
	int			 rv;

	if (!s->o->check_head || s->o->pg == NULL || res->records == 0)
		return;
	if ((rv = audit_db_head_get(s->o->pg, s->instance, &head, &err)) ==
	    -1) {
		res->head_err = err;
		return;
	}
	res->head_checked = true;
	res->head_seq = rv == 1 ? head.seq : 0;
	if (rv == 0 || head.seq < res->last_seq || (head.seq == res->last_seq &&
	    bw_ct_equal(head.mac, s->prev, AUDIT_MAC_LEN)))
		return;
	res->seq = res->last_seq + 1;
	res->seq_to = head.seq;
	if (res->reason != AUDIT_TORN)
		res->line = res->file == s->o->nfiles - 1 ? res->line + 1 : 1;
	res->reason = AUDIT_TRUNCATED;
	res->file = s->o->nfiles - 1;
	if (head.seq == res->last_seq) {
		res->seq = res->seq_to = head.seq;
		(void)snprintf(res->why, sizeof(res->why), "the last record "
		    "is not the one bulwark.audit_head names");
	}
}

int
audit_verify(const struct audit_verify_opts *o, const struct audit_key *key,
    struct audit_verify_result *res)
{
	struct audit_state	 s;
	int			 rv;

	memset(res, 0, sizeof(*res));
	memset(&s, 0, sizeof(s));
	s.o = o;
	s.key = key;
	s.seq = o->from_seq != 0 ? o->from_seq : 1;
	s.any_prev = o->from_seq != 0;
	s.l.buf = bw_malloc(AUDIT_LINE_MAX);
	s.tmp.buf = bw_malloc(AUDIT_LINE_MAX);
	audit_cursor_init(&s.c, o);
	if (o->from_seq != 0)
		rv = audit_skip_to(&s) == 1 ? audit_step(&s, res) : -1;
	else
		rv = audit_cursor_next(&s.c, &s.l) == 1 ? audit_step(&s, res) :
		    -1;
	while (rv == 1 && (rv = audit_cursor_next(&s.c, &s.l)) == 1)
		rv = audit_step(&s, res);
	if (rv == -1 && s.c.err != 0) {
		res->reason = AUDIT_UNREADABLE;
		res->file = s.c.idx;
		(void)snprintf(res->why, sizeof(res->why), "%s",
		    strerror(s.c.err));
	} else if (rv == -1 || (rv == 0 && res->records == 0 &&
	    res->reason == AUDIT_INTACT)) {
		res->reason = AUDIT_REMOVED;
		res->seq = s.seq;
		res->file = o->nfiles > 0 ? o->nfiles - 1 : 0;
		(void)snprintf(res->why, sizeof(res->why), "no record with "
		    "seq %" PRIu64, s.seq);
	}
	if (res->reason == AUDIT_INTACT || res->reason == AUDIT_TORN)
		audit_check_head(&s, res);
	audit_cursor_close(&s.c);
	free(s.l.buf);
	free(s.tmp.buf);
	if (res->reason == AUDIT_INTACT)
		return AUDIT_VERIFY_OK;
	return res->reason == AUDIT_TORN ? AUDIT_VERIFY_TORN :
	    AUDIT_VERIFY_BROKEN;
}

static void
audit_verify_print_head(const struct audit_verify_opts *o,
    const struct audit_verify_result *res, FILE *fp)
{
	if (res->head_checked)
		fprintf(fp, "bulwark.audit_head checked (seq %" PRIu64 ")\n",
		    res->head_seq);
	else
		fprintf(fp, "bulwark.audit_head not checked (%s)\n",
		    res->head_err != NULL ? res->head_err :
		    o->head_why != NULL ? o->head_why :
		    "the chain did not verify");
}

void
audit_verify_print(const struct audit_verify_opts *o,
    const struct audit_verify_result *res, FILE *fp)
{
	const char	*file = o->nfiles > 0 ? o->files[res->file] : "-";

	if (res->reason == AUDIT_INTACT)
		fprintf(fp, "%" PRIu64 " records verified (seq %" PRIu64
		    " to %" PRIu64 ")\n", res->records, res->first_seq,
		    res->last_seq);
	else if (res->reason == AUDIT_UNREADABLE)
		fprintf(fp, "%s: unreadable: %s\n", file, res->why);
	else {
		fprintf(fp, "%s:%" PRIu64 ": seq %" PRIu64 ": %s", file,
		    res->line, res->seq, audit_reason_name(res->reason));
		if (res->seq_to > res->seq)
			fprintf(fp, " (seq %" PRIu64 " to %" PRIu64 " missing)",
			    res->seq, res->seq_to);
		if (res->why[0] != '\0')
			fprintf(fp, " (%s)", res->why);
		fprintf(fp, "\n%" PRIu64 " records verified before it\n",
		    res->records);
	}
	audit_verify_print_head(o, res, fp);
}
