/*
 * conf_int.h - between the configuration engine (conf.c) and the key
 * tables (conf_keys.c); nothing else includes it.
 *
 * A mapping of the format is a struct conf_table: its keys (struct
 * conf_key: name, type, offset, default as YAML text, bounds, hooks) and a
 * post hook run after them.  The engine walks a table to parse, default,
 * free, dump (-T) and list (conf_keys_walk) its keys; the tables say only
 * what is particular to a key.  Collections are typed too: CT_SEQ (a
 * sequence of items) and CT_MAP (names to items), both described by a
 * struct conf_coll.  The checks of single values are in conf_check.c.
 */
#ifndef BW_CONF_INT_H
#define BW_CONF_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "conf.h"
#include "node.h"

#define CONF_MAX_STRING		4096
#define CONF_MAX_LIST		64
#define CONF_MAX_PARAMS		32	/* parameters of a path template */

#define MS_S	1000LL
#define MS_M	(60 * MS_S)
#define MS_H	(60 * MS_M)
#define MS_D	(24 * MS_H)
#define KIB	1024LL
#define MIB	(1024 * KIB)
#define GIB	(1024 * MIB)

enum conf_type {
	CT_BOOL,	/* bool */
	CT_INT,		/* int, min..max */
	CT_U32,		/* uint32_t, min..max */
	CT_DURATION,	/* int64_t milliseconds, min..max */
	CT_SIZE,	/* uint64_t bytes, min..max */
	CT_STRING,	/* char *, at most max bytes (0: CONF_MAX_STRING) */
	CT_PATH,	/* char *, absolute (or credential: with F_SECRET) */
	CT_ENUM,	/* int: index into names */
	CT_ENUMSTR,	/* char *: one of names */
	CT_STRLIST,	/* char **, count at off2, at most max entries */
	CT_RATE,	/* struct conf_rate (sub: conf_rate_table) */
	CT_SECTION,	/* embedded struct described by sub */
	CT_OPTSECTION,	/* pointer to a struct allocated when present */
	CT_SEQ,		/* array at off, count at off2, described by coll */
	CT_MAP,		/* the same for a mapping of names to items */
	CT_CUSTOM,	/* parse, dump and free hooks */
};

#define F_REQ		0x01	/* required */
#define F_NULL		0x02	/* null allowed: no value */
#define F_SECRET	0x04	/* a secret file (secret_open) */
#define F_FILE		0x08	/* an existing readable file */
#define F_INHERIT	0x10	/* absent: resolved by the post hook */

struct conf_ctx {
	struct conf	*conf;
	struct bw_diag	*diag;
	const char	*file;
	bool		 files;		/* check named files */
	bool		 in_default;	/* parsing a default value */
	char		 path[256];	/* dotted key path */
};

struct conf_out {
	FILE		*fp;
	int		 indent;
};

struct conf_key;

struct conf_table {
	const struct conf_key	*keys;
	size_t			 nkeys;
	size_t			 size;	/* CT_OPTSECTION */
	void			(*post)(struct conf_ctx *,
				    const struct node *, const struct node *,
				    void *);
};

/*
 * A collection (CT_SEQ, CT_MAP).  Items are `size` bytes each; a CT_MAP
 * item begins with its char *name.  An item is either a mapping parsed by
 * the `item` table (always kept) or parsed by `parse` (kept when it
 * returns 0; key is NULL in a sequence).  Duplicates: `unique` names the
 * string member (a key of `item`) that must differ, reported at that key
 * of the duplicate with the first one's line (pos_off); otherwise `same`
 * compares two items, reported at the duplicate's key (map) or value.
 * added runs after item i (a sequence) is kept, check after all items;
 * both get the struct that holds the array.  dump writes an item that is
 * not a mapping of `item`; block (or `item`) dumps one item per line.
 */
struct conf_coll {
	const char		*what;	/* "expected a sequence of WHAT" */
	const char		*many;	/* "at most N MANY" */
	const char		*one;	/* "a ONE is a mapping" (item) */
	size_t			 min;
	size_t			 max;
	size_t			 size;
	size_t			 pos_off; /* struct conf_pos; 0: none */
	const struct conf_table	*item;
	bool			 block;	/* dump one item per line */
	bool			 plain_names; /* dump map names unquoted */
	int			(*name)(struct conf_ctx *,
				    const struct node *);
	int			(*parse)(struct conf_ctx *,
				    const struct node *, const struct node *,
				    void *);
	const char		*unique;
	bool			(*same)(const void *, const void *);
	const char		*dup;
	void			(*added)(struct conf_ctx *,
				    const struct node *, void *, size_t);
	void			(*check)(struct conf_ctx *,
				    const struct node *, void *);
	void			(*dump)(FILE *, const void *);
	void			(*free)(void *);
};

struct conf_key {
	const char		*name;
	enum conf_type		 type;
	size_t			 off;
	size_t			 off2;
	unsigned		 flags;
	const char		*def;	/* YAML text; NULL: none */
	int64_t			 min;
	int64_t			 max;
	const char *const	*names;
	const struct conf_table	*sub;
	const struct conf_coll	*coll;
	const char		*man;	/* type as in bulwark.yaml(5) */
	int			(*check)(struct conf_ctx *,
				    const struct node *, const char *);
	void			(*parse)(struct conf_ctx *,
				    const struct node *, void *);
	void			(*dump)(struct conf_out *,
				    const struct conf_key *, const void *);
	void			(*free)(void *);
};

/* conf_check.c: checks of single values (`check` hooks) and parsers. */
bool		 conf_strcaseeq(const char *, const char *);
int		 conf_listen_one(struct conf_ctx *, const struct node *,
		    struct conf_listen *);
int		 conf_parse_cidr(const char *, struct conf_cidr *);
int		 conf_header_check(struct conf_ctx *, const struct node *,
		    const struct node *, const char *);
int		 conf_template(const char *, char [][64], size_t *,
		    const char **);
int		 conf_check_hostname(struct conf_ctx *, const struct node *,
		    const char *);
int		 conf_check_username(struct conf_ctx *, const struct node *,
		    const char *);
int		 conf_check_origin(struct conf_ctx *, const struct node *,
		    const char *);
int		 conf_check_role_name(struct conf_ctx *, const struct node *,
		    const char *);
int		 conf_check_route_name(struct conf_ctx *, const struct node *,
		    const char *);
int		 conf_check_instance(struct conf_ctx *, const struct node *,
		    const char *);
int		 conf_check_access(struct conf_ctx *, const struct node *,
		    const char *);
int		 conf_check_nonblank(struct conf_ctx *, const struct node *,
		    const char *);
int		 conf_check_route_path(struct conf_ctx *, const struct node *,
		    const char *);
int		 conf_check_endpoints(struct conf_ctx *, const struct node *,
		    const char *);
int		 conf_check_conninfo(struct conf_ctx *, const struct node *,
		    const char *);
void		 conf_template_shape(const char *, char *, size_t);
bool		 conf_schema_name(const char *, size_t);
bool		 conf_is_schema(const struct node *);
bool		 conf_loopback(const struct conf_listen *);

/* conf_keys.c */
extern const struct conf_table	 conf_root_table;

/* conf.c: the rate type and the engine's helpers for the hooks. */
extern const struct conf_table	 conf_rate_table;

void		 conf_err(struct conf_ctx *, const struct node *,
		    const char *, ...) __attribute__((format(printf, 3, 4)));
size_t		 conf_path_push(struct conf_ctx *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
size_t		 conf_path_key(struct conf_ctx *, const char *);
void		 conf_path_pop(struct conf_ctx *, size_t);
const char	*conf_a(const struct node *);
const char	*conf_ex(const char *, char *, size_t);
bool		 conf_isalpha(int);
bool		 conf_isdigit(int);
bool		 conf_ident(const char *, size_t);
const char	*conf_str(struct conf_ctx *, const struct node *, size_t);
int		 conf_duration(struct conf_ctx *, const struct node *,
		    int64_t, int64_t, int64_t *);
int		 conf_enum(struct conf_ctx *, const struct node *,
		    const char *const *);
void		 conf_fmt_duration(int64_t, char *, size_t);
void		 conf_map(struct conf_ctx *, const struct conf_table *,
		    const struct node *, const struct node *, void *);
void		 conf_dump_key(struct conf_out *, const char *);
void		 conf_dump_str(FILE *, const char *);
void		 conf_dump_node(FILE *, const struct node *);
const struct node *conf_seq_item(const struct node *, const char *);

#endif
