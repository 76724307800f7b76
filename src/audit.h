/*
 * audit.h - the audit record of SPEC 9 and its HMAC chain.
 *
 * A record is one line of JSON whose members come in a fixed order:
 *
 *   {"seq":N,"time":"YYYY-MM-DDTHH:MM:SS.ffffffZ","instance":S,
 *    "event":S,"request_id":S|null,"actor":{"user":S|null,"ip":S|null,
 *    "api_key":S|null},"route":S|null,"method":S|null,"path":S|null,
 *    "status":N|null,"detail":{...},["row":N,]"prev":HEX,"mac":HEX}
 *
 * mac = HMAC-SHA256(key, previous mac (32 raw bytes) || the line up to,
 * not including, ,"mac":).  prev is the previous mac in lowercase hex;
 * the first record of a chain is event audit.genesis, seq 1, prev 64
 * zeros (its MAC input starts with 32 zero bytes).  seq grows by one per
 * record.  row, present only on the record of an audited write, is the id
 * of its bulwark.audit row: recovery reads it back to tell the rows whose
 * record is already in the file from those it must append.  Strings are
 * written by jsonw (escaped, at most AUDIT_STR_MAX
 * input bytes, never split inside a code point).
 */
#ifndef BW_AUDIT_H
#define BW_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct conf;
struct evbuffer;

#define AUDIT_STR_MAX		1024	/* input bytes of one string */
#define AUDIT_MAC_LEN		32
#define AUDIT_HEX_LEN		64	/* 2 * AUDIT_MAC_LEN */
#define AUDIT_KEY_MIN		32	/* --gen-key audit writes 32 bytes */
#define AUDIT_KEY_MAX		64
#define AUDIT_DETAIL_MAX	((size_t)32 * 1024)	/* bytes of the detail object */
#define AUDIT_DETAIL_DEPTH	8	/* nesting kept; deeper is null */
#define AUDIT_LINE_MAX		((size_t)64 * 1024)	/* longer: not a record */
#define AUDIT_INSTANCE_MAX	64
#define AUDIT_EVENT_GENESIS	"audit.genesis"
/* The line's tail after the MAC input: ,"mac":"<64 hex>"} */
#define AUDIT_MAC_MARK		",\"mac\":\""
#define AUDIT_TAIL_LEN		(sizeof(AUDIT_MAC_MARK) - 1 + AUDIT_HEX_LEN + 2)
/* Before it, ending the MAC input: ,"prev":"<64 hex>" */
#define AUDIT_PREV_MARK		",\"prev\":\""
#define AUDIT_PREV_LEN		(sizeof(AUDIT_PREV_MARK) - 1 + AUDIT_HEX_LEN + 1)

/* What happened; NULL strings are written as null. */
struct audit_event {
	const char	*event;
	const char	*request_id;
	const char	*user;
	const char	*ip;
	const char	*api_key;	/* the key id, never its secret */
	const char	*route;
	const char	*method;
	const char	*path;
	int		 status;	/* 0: null */
	const json_t	*detail;	/* an object, or NULL for {} */
	int64_t		 time_us;	/* since the epoch; 0: now */
	int64_t		 row;		/* its bulwark.audit row; 0: none */
};

/* The end of a chain: the last record's seq and mac. */
struct audit_chain {
	uint64_t	 seq;		/* 0: no record yet (genesis next) */
	unsigned char	 mac[AUDIT_MAC_LEN];
};

struct audit_key {
	unsigned char	 k[AUDIT_KEY_MAX + 1];	/* +1: longer files fail */
	size_t		 len;
};

/*
 * Reads audit.key_file through secret_open() (owner and mode checked):
 * AUDIT_KEY_MIN to AUDIT_KEY_MAX bytes.  0, or -1 with *err.
 */
int	 audit_key_load(const struct conf *, struct audit_key *,
	    const char **err);
void	 audit_key_wipe(struct audit_key *);

/*
 * audit.instance_id, else the first 16 hex digits of /etc/machine-id
 * (path: for tests, NULL for the default).  0, or -1 with *err.
 */
int	 audit_instance(const struct conf *, const char *machine_id_path,
	    char *buf, size_t bufsz, const char **err);

/*
 * Appends the record of ev, the successor of *chain, to out, newline
 * included, and advances *chain.  On failure (out could not grow) out and
 * *chain are as they were; returns -1.
 */
int	 audit_record(struct evbuffer *out, const struct audit_event *ev,
	    const char *instance, struct audit_chain *chain,
	    const struct audit_key *key);

/*
 * The detail of a request record: a new object holding only the members
 * of body (an object) named in fields, in that order; never any other
 * member.  NULL when none of them is present.
 */
json_t	*audit_detail_fields(const json_t *body, char *const *fields,
	    size_t nfields);

/* HMAC-SHA256(key, prev || data); 0 or -1. */
int	 audit_mac(const struct audit_key *, const unsigned char *prev,
	    const void *data, size_t len, unsigned char *out);

/* "2026-12-06T22:35:30.123456Z" (28 bytes with the NUL). */
#define AUDIT_TIME_LEN		28
void	 audit_time(int64_t us, char *buf);
int64_t	 audit_now_us(void);

/*
 * The seq and mac of a complete line (no newline) when it has a record's
 * shape: {"seq":N, at the start and ,"mac":"<64 lowercase hex>"} at the
 * end.  The MAC input is the first len - AUDIT_TAIL_LEN bytes.  0 or -1.
 */
int	 audit_line_ends(const char *line, size_t len, uint64_t *seq,
	    unsigned char *mac);
/*
 * The seq of a complete line and the bulwark.audit row it records, when
 * the line is a record whose mac holds under key against its own prev
 * (it was written with that key; whether it links to the record before
 * is for --verify-audit): 1 with *row, 0 when it records no row (*row 0),
 * -1 when it is not such a record.
 */
int	 audit_line_row(const char *line, size_t len, const struct audit_key *,
	    uint64_t *seq, int64_t *row);

int	 audit_hex_decode(const char *hex, unsigned char *out);

#endif
