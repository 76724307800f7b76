/*
 * schema_int.h - the compiled form of a schema, shared by the parts of the
 * schema module and by nothing else.
 *
 *   schema.c           the set, its arena and the public entry points
 *   schema_compile.c   source tree to struct sch (kw_*, c_*), $ref, cycles
 *   schema_validate.c  instance against struct sch (v_*), JSON equality
 *   schema_format.c    the format assertions (fmt_*, uri_*)
 *
 * Invariants: everything a set compiles lives in its arena and is freed
 * with it; a struct sch is immutable once compiled, so validation reads it
 * from any number of requests (one thread at a time per set, schema.h).
 */
#ifndef BW_SCHEMA_INT_H
#define BW_SCHEMA_INT_H

#define PCRE2_CODE_UNIT_WIDTH 8

#include <pcre2.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "jsonnum.h"
#include "node.h"
#include "schema.h"
#include "util.h"

#define T_NULL		0x01
#define T_BOOL		0x02
#define T_OBJECT	0x04
#define T_ARRAY		0x08
#define T_NUMBER	0x10
#define T_STRING	0x20
#define T_INTEGER	0x40

#define SCH_FALSE	0x01	/* boolean schema false */
#define SCH_ENUM	0x02
#define SCH_CONST	0x04
#define SCH_BAD		0x08	/* failed to compile (here or below) */

#define NUM_MIN		0x01
#define NUM_MAX		0x02
#define NUM_XMIN	0x04
#define NUM_XMAX	0x08
#define NUM_MULT	0x10

#define SCHEMA_VDEPTH_MAX	4096	/* validation recursion guard */
#define SCHEMA_PATH_MAX		128	/* pointer segments kept */
#define SCHEMA_UNIQUE_LINEAR	16
#define SCHEMA_SEEN_WORDS	4	/* names tracked without allocation */
#define ARENA_BLOCK		((size_t)64 * 1024)
#define SCHEMA_URI_2020		"https://json-schema.org/draft/2020-12/schema"

enum sch_fmt {
	FMT_NONE,
	FMT_DATE_TIME,
	FMT_DATE,
	FMT_EMAIL,
	FMT_UUID,
	FMT_IPV4,
	FMT_IPV6,
	FMT_URI,
};

struct sch;

struct sch_num {
	unsigned	 has;
	struct jnum	 min, max, xmin, xmax;
	const char	*min_s, *max_s, *xmin_s, *xmax_s, *mult_s;
	uint64_t	 dm;
	int64_t		 em;
};

struct sch_str {
	uint64_t	 minl;
	uint64_t	 maxl;
	pcre2_code	*re;
	enum sch_fmt	 fmt;
};

struct sch_arr {
	struct sch	**prefix;
	size_t		  nprefix;
	struct sch	 *items;
	struct sch	 *contains;
	uint64_t	  minc;
	uint64_t	  maxc;
	uint64_t	  mini;
	uint64_t	  maxi;
	bool		  unique;
};

struct sch_name {
	const char	*name;
	size_t		 len;
	struct sch	*prop;
	struct sch	*depschema;
	uint32_t	*depreq;
	size_t		 ndepreq;
	bool		 required;
};

struct sch_pat {
	pcre2_code	*re;
	struct sch	*s;
};

struct sch_obj {
	struct sch_name	*names;
	size_t		 nnames;
	size_t		 capnames;
	uint32_t	*table;		/* name index + 1; 0 = empty */
	uint32_t	 mask;
	uint32_t	*required;
	size_t		 nrequired;
	struct sch_pat	*pats;
	size_t		 npats;
	struct sch	*additional;	/* NULL: anything */
	struct sch	*propnames;
	uint64_t	 minp;
	uint64_t	 maxp;
	bool		 deps;
};

struct sch_app {
	struct sch	**all, **any, **one;
	size_t		  nall, nany, none;
	struct sch	 *not, *if_, *then_, *else_;
	struct sch	 *ref;
	const struct node *refsrc;
};

struct sch {
	unsigned		 flags;
	unsigned		 types;
	struct sch_num		*num;
	struct sch_str		*str;
	struct sch_arr		*arr;
	struct sch_obj		*obj;
	struct sch_app		*app;
	struct node		**enumv;
	size_t			 nenum;
	const struct node	*constv;
	const struct node	*def;
	const struct node	*src;
	const char		*file;
	unsigned		 mark;	/* cycles: 0 new, 1 on path, 2 done */
	unsigned		 nest;
};

struct schema {
	struct sch		*root;
	struct schema_set	*set;
	enum schema_mode	 mode;
};

struct arena_blk {
	struct arena_blk	*next;
	size_t			 used;
	size_t			 cap;
	max_align_t		 data[];
};

struct sdoc {
	char		*name;		/* NULL for inline schemas */
	struct node	*root;
	const char	*file;
	bool		 checked;
};

struct memo_ent {
	const struct node	*node;
	unsigned		 key;
	struct sch		*s;
};

struct pending {
	struct sch		*from;
	const struct node	*ref;
	struct sdoc		*doc;
	unsigned		 key;
};

struct schema_set {
	struct arena_blk	*arena;
	struct sdoc		**docs;
	size_t			  ndocs;
	struct memo_ent		 *memo;
	size_t			  memocap;
	size_t			  memon;
	struct sch		**all;
	size_t			  nall;
	size_t			  capall;
	pcre2_code		**codes;
	size_t			  ncodes;
	pcre2_match_context	 *mctx;
	pcre2_match_data	 *mdata;
	struct sch		 *sch_false;
	struct sch		 *sch_true;
	uint64_t		  seed;		/* uniqueItems hashing */
};

#define MEMO_BODY	0x01
#define MEMO_EXEMPT	0x02

struct cctx {
	struct schema_set	*set;
	struct sdoc		*doc;
	struct bw_diag		*diag;
	unsigned		 key;		/* MEMO_BODY */
	size_t			 errors;
	struct pending		*pend;
	size_t			 npend;
	size_t			 cappend;
};

struct vseg {
	const struct node	*key;	/* NULL: array index */
	size_t			 idx;
};

struct vctx {
	struct schema_errors	*out;	/* NULL: only the verdict matters */
	struct schema_set	*set;
	int			 flags;
	unsigned		 depth;
	bool			 nul;
	size_t			 npath;
	struct vseg		 path[SCHEMA_PATH_MAX];
};

/* schema.c */
void	*schema_sa_alloc(struct schema_set *, size_t);
void	*schema_sa_array(struct schema_set *, size_t, size_t);
enum node_style schema_plain_style(const struct node *);
const char *schema_excerpt(const char *, size_t, char *, size_t);

/* schema_compile.c */
struct schema *schema_c_top(struct schema_set *, struct sdoc *,
	    enum schema_mode, struct bw_diag *);
struct sdoc *schema_set_find_doc(struct schema_set *, const char *, size_t);
int64_t	 schema_obj_lookup(const struct sch_obj *, const char *, size_t);

/* schema_validate.c */
unsigned schema_node_type(const struct node *);
bool	 schema_node_true(const struct node *);
bool	 schema_json_equal(const struct node *, const struct node *);
uint64_t schema_hash_bytes(uint64_t, const void *, size_t);
const char *schema_types_text(unsigned, char *, size_t);
void	 schema_v_init(struct vctx *, const struct schema *, int,
	    struct schema_errors *);
void	 schema_v_push(struct vctx *, const struct node *, size_t);
void	 schema_v_err(struct vctx *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
void	 schema_v_nul(struct vctx *, const struct node *);
bool	 schema_v_sch(struct vctx *, const struct sch *, struct node *);

/* schema_format.c */
extern const char *const schema_fmt_names[];
enum sch_fmt schema_fmt_lookup(const char *);
bool	 schema_fmt_check(enum sch_fmt, const char *, size_t);

#endif
