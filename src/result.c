/*
 * result.c - PostgreSQL results to JSON (SPEC 7).
 *
 * Threat model: column values are data from the database, which may hold
 * anything clients ever stored.  Nothing is trusted to be valid JSON by
 * its type alone: numbers are checked against the JSON number grammar
 * (else they become strings), strings must be valid UTF-8 and are escaped
 * by jsonw (its one policy, jsonw.h), array text is parsed strictly
 * (anything unexpected falls back to one JSON string), and json/jsonb text,
 * which PostgreSQL validated on input, is embedded after a UTF-8 check.
 *
 * Bounds: max_rows (array mode) and max_size (bytes this result adds to
 * the buffer).  The size is checked before each field against a lower
 * bound of its output (half its text length) so an oversized value is
 * refused before it is copied, and exactly after every row.
 *
 * Invariant: the bytes of the buffer before result_begin() are never
 * touched; after a failure the buffer is back at that length.
 */
#include <event2/buffer.h>

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "jsonw.h"
#include "log.h"
#include "result.h"
#include "util.h"

enum result_kind {
	RESULT_K_STRING,
	RESULT_K_NUMBER,
	RESULT_K_BOOL,
	RESULT_K_JSON,
	RESULT_K_TSTZ,
	RESULT_K_TS,
};

struct result_type {
	uint32_t	 oid;
	uint8_t		 kind;
	bool		 array;
};

/* Built-in type OIDs (fixed in PostgreSQL's catalog). */
static const struct result_type result_builtins[] = {
	{ 16, RESULT_K_BOOL, false },
	{ 20, RESULT_K_NUMBER, false },
	{ 21, RESULT_K_NUMBER, false },
	{ 23, RESULT_K_NUMBER, false },
	{ 114, RESULT_K_JSON, false },
	{ 199, RESULT_K_JSON, true },
	{ 651, RESULT_K_STRING, true },		/* cidr[] */
	{ 700, RESULT_K_NUMBER, false },
	{ 701, RESULT_K_NUMBER, false },
	{ 791, RESULT_K_STRING, true },		/* money[] */
	{ 1000, RESULT_K_BOOL, true },
	{ 1001, RESULT_K_STRING, true },	/* bytea[] */
	{ 1002, RESULT_K_STRING, true },	/* "char"[] */
	{ 1003, RESULT_K_STRING, true },	/* name[] */
	{ 1005, RESULT_K_NUMBER, true },
	{ 1007, RESULT_K_NUMBER, true },
	{ 1009, RESULT_K_STRING, true },	/* text[] */
	{ 1014, RESULT_K_STRING, true },	/* bpchar[] */
	{ 1015, RESULT_K_STRING, true },	/* varchar[] */
	{ 1016, RESULT_K_NUMBER, true },
	{ 1021, RESULT_K_NUMBER, true },
	{ 1022, RESULT_K_NUMBER, true },
	{ 1028, RESULT_K_STRING, true },	/* oid[] */
	{ 1040, RESULT_K_STRING, true },	/* macaddr[] */
	{ 1041, RESULT_K_STRING, true },	/* inet[] */
	{ 1114, RESULT_K_TS, false },
	{ 1115, RESULT_K_TS, true },
	{ 1182, RESULT_K_STRING, true },	/* date[] */
	{ 1183, RESULT_K_STRING, true },	/* time[] */
	{ 1184, RESULT_K_TSTZ, false },
	{ 1185, RESULT_K_TSTZ, true },
	{ 1187, RESULT_K_STRING, true },	/* interval[] */
	{ 1231, RESULT_K_NUMBER, true },
	{ 1270, RESULT_K_STRING, true },	/* timetz[] */
	{ 1561, RESULT_K_STRING, true },	/* bit[] */
	{ 1563, RESULT_K_STRING, true },	/* varbit[] */
	{ 1700, RESULT_K_NUMBER, false },
	{ 2951, RESULT_K_STRING, true },	/* uuid[] */
	{ 3802, RESULT_K_JSON, false },
	{ 3807, RESULT_K_JSON, true },
};

/* Registered types: a domain names its base, an array its element. */
enum result_rel {
	RESULT_REL_DOMAIN,
	RESULT_REL_ARRAY,
};

struct result_reg {
	uint32_t	 oid;
	uint32_t	 ref;
	uint32_t	 seq;
	uint8_t		 rel;
};

#define RESULT_RESOLVE_DEPTH	8

static struct result_reg	*result_regs;
static size_t			 result_nregs;
static uint32_t			 result_regseq;
static bool			 result_regs_sorted = true;

struct result_col {
	uint32_t	 oid;
	uint8_t		 kind;
	bool		 array;
	size_t		 key;		/* offset of "name": in keys */
	size_t		 keylen;
};

struct result {
	enum conf_result	 mode;
	struct evbuffer		*buf;
	struct result_limits	 lim;
	size_t			 start;
	uint64_t		 nrows;
	int			 status;	/* 0, or 404 / 500 */
	bool			 described;
	int			 ncols;
	struct result_col	*cols;
	char			*keys;
	char			*tmp;		/* unquoted array elements */
	size_t			 tmpcap;
	char			 err[192];
};

static int	result_fail(struct result *, int, const char *, ...)
		    __attribute__((format(printf, 3, 4)));
static int	result_describe(struct result *, const PGresult *);
static int	result_put_row(struct result *, const PGresult *, int);
static int	result_put_field(struct result *, const PGresult *, int, int);
static int	result_put_scalar(struct result *, uint8_t, const char *,
		    size_t);
static int	result_put_array(struct result *, uint8_t, const char *,
		    size_t);
static int	result_put_string(struct result *, const char *, size_t);
static int	result_put_timestamp(struct result *, const char *, size_t,
		    bool);
static int	result_add_raw(struct result *, const char *, size_t);
static void	result_truncate(struct evbuffer *, size_t);
static bool	result_json_number(const char *, size_t);
static void	result_type_of(uint32_t, struct result_type *);

/* Type table. */

static int
result_reg_cmp(const void *a, const void *b)
{
	const struct result_reg	*x = a, *y = b;

	if (x->oid != y->oid)
		return x->oid < y->oid ? -1 : 1;
	if (x->seq != y->seq)
		return x->seq < y->seq ? -1 : 1;
	return 0;
}

static int
result_reg_add(uint32_t oid, uint32_t ref, uint8_t rel)
{
	struct result_reg	*r;

	if (result_nregs >= RESULT_TYPES_MAX)
		return -1;
	result_regs = bw_reallocarray(result_regs, result_nregs + 1,
	    sizeof(*result_regs));
	r = &result_regs[result_nregs++];
	r->oid = oid;
	r->ref = ref;
	r->rel = rel;
	r->seq = result_regseq++;
	result_regs_sorted = false;
	return 0;
}

int
result_types_add_domain(uint32_t oid, uint32_t base_oid)
{
	return result_reg_add(oid, base_oid, RESULT_REL_DOMAIN);
}

int
result_types_add_array(uint32_t oid, uint32_t elem_oid)
{
	return result_reg_add(oid, elem_oid, RESULT_REL_ARRAY);
}

void
result_types_reset(void)
{
	free(result_regs);
	result_regs = NULL;
	result_nregs = 0;
	result_regseq = 0;
	result_regs_sorted = true;
}

/* Sorts by OID and keeps the latest registration of each. */
static void
result_regs_sort(void)
{
	size_t	 i, n = 0;

	if (result_regs_sorted)
		return;
	qsort(result_regs, result_nregs, sizeof(*result_regs), result_reg_cmp);
	for (i = 0; i < result_nregs; i++) {
		if (i + 1 < result_nregs &&
		    result_regs[i + 1].oid == result_regs[i].oid)
			continue;
		result_regs[n++] = result_regs[i];
	}
	result_nregs = n;
	result_regseq = (uint32_t)n;
	for (i = 0; i < n; i++)
		result_regs[i].seq = (uint32_t)i;
	result_regs_sorted = true;
}

size_t
result_types_export(struct result_type_rec *out)
{
	size_t	 i;

	result_regs_sort();
	for (i = 0; i < result_nregs; i++) {
		out[i].oid = result_regs[i].oid;
		out[i].ref = result_regs[i].ref;
		out[i].array = result_regs[i].rel == RESULT_REL_ARRAY;
	}
	return result_nregs;
}

int
result_types_import(const struct result_type_rec *recs, size_t n)
{
	size_t	 i;

	if (n > RESULT_TYPES_MAX)
		return -1;
	for (i = 0; i < n; i++)
		if (recs[i].array > 1)
			return -1;
	result_types_reset();
	for (i = 0; i < n; i++)
		(void)result_reg_add(recs[i].oid, recs[i].ref, recs[i].array ?
		    RESULT_REL_ARRAY : RESULT_REL_DOMAIN);
	return 0;
}

static const struct result_reg *
result_reg_find(uint32_t oid)
{
	size_t	 lo = 0, hi, mid;

	result_regs_sort();
	hi = result_nregs;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (result_regs[mid].oid == oid)
			return &result_regs[mid];
		if (result_regs[mid].oid < oid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static const struct result_type *
result_builtin(uint32_t oid)
{
	size_t	 lo = 0, hi = BW_ARRAY_LEN(result_builtins), mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (result_builtins[mid].oid == oid)
			return &result_builtins[mid];
		if (result_builtins[mid].oid < oid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/*
 * Follows domains to their base and arrays to their element, at most
 * RESULT_RESOLVE_DEPTH steps.  An array whose elements are arrays again
 * (an array of a domain over an array) is a string.
 */
static void
result_type_of(uint32_t oid, struct result_type *t)
{
	const struct result_type	*b;
	const struct result_reg		*r;
	bool				 array = false;
	int				 depth;

	t->oid = oid;
	t->kind = RESULT_K_STRING;
	t->array = false;
	for (depth = 0; depth < RESULT_RESOLVE_DEPTH; depth++) {
		if ((b = result_builtin(oid)) != NULL) {
			if (array && b->array)
				return;
			t->kind = b->kind;
			t->array = array || b->array;
			return;
		}
		if ((r = result_reg_find(oid)) == NULL) {
			t->array = array;
			return;
		}
		if (r->rel == RESULT_REL_ARRAY) {
			if (array)
				return;
			array = true;
		}
		oid = r->ref;
	}
}

static int
result_parse_oid(const PGresult *res, int row, int col, uint32_t *oid)
{
	uint64_t	 v;

	if (PQgetisnull(res, row, col) ||
	    bw_parse_uint(PQgetvalue(res, row, col), UINT32_MAX, &v) == -1)
		return -1;
	*oid = (uint32_t)v;
	return 0;
}

int
result_types_load(const PGresult *res, const char **err)
{
	uint32_t	 oid, base, elem;
	const char	*typtype;
	int		 i, n;

	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQnfields(res) != 4) {
		*err = "unexpected result for the type query";
		return -1;
	}
	n = PQntuples(res);
	for (i = 0; i < n; i++) {
		typtype = PQgetvalue(res, i, 1);
		if (result_parse_oid(res, i, 0, &oid) == -1 ||
		    result_parse_oid(res, i, 2, &base) == -1 ||
		    result_parse_oid(res, i, 3, &elem) == -1) {
			*err = "malformed row in the type query";
			return -1;
		}
		if (strcmp(typtype, "d") == 0) {
			if (result_types_add_domain(oid, base) == -1)
				goto full;
		} else if (elem != 0) {
			if (result_types_add_array(oid, elem) == -1)
				goto full;
		}
	}
	return 0;
full:
	*err = "too many database types (RESULT_TYPES_MAX)";
	return -1;
}

/* Result life cycle. */

struct result *
result_begin(enum conf_result mode, struct evbuffer *buf,
    const struct result_limits *lim)
{
	struct result	*r;

	r = bw_calloc(1, sizeof(*r));
	r->mode = mode;
	r->buf = buf;
	r->lim = *lim;
	r->start = evbuffer_get_length(buf);
	if (mode == RESULT_ARRAY)
		result_add_raw(r, "[", 1);
	return r;
}

void
result_free(struct result *r)
{
	if (r == NULL)
		return;
	free(r->cols);
	free(r->keys);
	free(r->tmp);
	free(r);
}

int
result_status(const struct result *r)
{
	return r->status == 0 ? 200 : r->status;
}

const char *
result_error(const struct result *r)
{
	return r->status == 0 ? NULL : r->err;
}

uint64_t
result_nrows(const struct result *r)
{
	return r->nrows;
}

static int
result_fail(struct result *r, int status, const char *fmt, ...)
{
	va_list	 ap;

	if (r->status != 0)
		return -1;
	r->status = status;
	va_start(ap, fmt);
	(void)vsnprintf(r->err, sizeof(r->err), fmt, ap);
	va_end(ap);
	result_truncate(r->buf, r->start);
	return -1;
}

static size_t
result_written(const struct result *r)
{
	return evbuffer_get_length(r->buf) - r->start;
}

static int
result_check_size(struct result *r, size_t more)
{
	uint64_t	 w = result_written(r);

	if (r->lim.max_size != 0 && (w > r->lim.max_size ||
	    more > r->lim.max_size - w))
		return result_fail(r, 500, "response larger than %llu bytes",
		    (unsigned long long)r->lim.max_size);
	return 0;
}

static bool
result_has_rows(const PGresult *res)
{
	ExecStatusType	 st = PQresultStatus(res);

	return st == PGRES_TUPLES_OK || st == PGRES_SINGLE_TUPLE;
}

int
result_add(struct result *r, const PGresult *res)
{
	int	 i, n;

	if (r->status != 0)
		return -1;
	if (PQresultStatus(res) == PGRES_COMMAND_OK && r->mode == RESULT_NONE)
		return 0;
	if (!result_has_rows(res))
		return result_fail(r, 500, "statement returned %s, not rows",
		    PQresStatus(PQresultStatus(res)));
	if (result_describe(r, res) == -1)
		return -1;
	n = PQntuples(res);
	for (i = 0; i < n; i++) {
		if (result_put_row(r, res, i) == -1)
			return -1;
	}
	return 0;
}

int
result_row(struct result *r, const PGresult *res, int row)
{
	if (r->status != 0)
		return -1;
	if (!result_has_rows(res))
		return result_fail(r, 500, "statement returned %s, not rows",
		    PQresStatus(PQresultStatus(res)));
	if (row < 0 || row >= PQntuples(res))
		return result_fail(r, 500, "row %d out of range", row);
	if (result_describe(r, res) == -1)
		return -1;
	return result_put_row(r, res, row);
}

int
result_end(struct result *r)
{
	if (r->status != 0)
		return -1;
	switch (r->mode) {
	case RESULT_OBJECT:
	case RESULT_VALUE:
		if (r->nrows == 0)
			return result_fail(r, 404, "no row");
		break;
	case RESULT_ARRAY:
		if (result_check_size(r, 1) == -1 ||
		    result_add_raw(r, "]", 1) == -1)
			return -1;
		break;
	case RESULT_NONE:
		break;
	}
	return 0;
}

/* Columns: fixed by the first result; later ones must match. */

static int
result_same_columns(struct result *r, const PGresult *res)
{
	int	 i;

	if (PQnfields(res) != r->ncols)
		return result_fail(r, 500, "column count changed");
	for (i = 0; i < r->ncols && r->cols != NULL; i++) {
		if (PQftype(res, i) != r->cols[i].oid)
			return result_fail(r, 500, "column type changed");
	}
	return 0;
}

static int
result_build_keys(struct result *r, const PGresult *res)
{
	struct evbuffer	*kb;
	const char	*name;
	size_t		 n;
	int		 i, rc = 0;

	if ((kb = evbuffer_new()) == NULL)
		fatal("evbuffer_new");
	for (i = 0; i < r->ncols && rc == 0; i++) {
		name = PQfname(res, i);
		n = strlen(name);
		if (!bw_utf8_valid(name, n)) {
			rc = result_fail(r, 500, "column %d: name is not UTF-8",
			    i + 1);
			break;
		}
		r->cols[i].key = evbuffer_get_length(kb);
		if (jsonw_str(kb, name, n, SIZE_MAX) == -1 ||
		    evbuffer_add(kb, ":", 1) == -1)
			rc = result_fail(r, 500, "out of memory");
		r->cols[i].keylen = evbuffer_get_length(kb) - r->cols[i].key;
	}
	if (rc == 0) {
		n = evbuffer_get_length(kb);
		r->keys = bw_malloc(n + 1);
		if (evbuffer_remove(kb, r->keys, n) != (int)n)
			rc = result_fail(r, 500, "out of memory");
	}
	evbuffer_free(kb);
	return rc;
}

static int
result_check_duplicates(struct result *r, const PGresult *res)
{
	int	 i, j;

	for (i = 1; i < r->ncols; i++) {
		for (j = 0; j < i; j++) {
			if (strcmp(PQfname(res, i), PQfname(res, j)) == 0)
				return result_fail(r, 500, "duplicate column "
				    "name \"%.64s\"", PQfname(res, i));
		}
	}
	return 0;
}

static int
result_describe(struct result *r, const PGresult *res)
{
	struct result_type	 t;
	int			 i;

	if (r->described)
		return result_same_columns(r, res);
	r->described = true;
	r->ncols = PQnfields(res);
	if (r->mode == RESULT_NONE)
		return 0;
	if (r->mode == RESULT_VALUE && r->ncols != 1)
		return result_fail(r, 500, "value result with %d columns",
		    r->ncols);
	r->cols = bw_calloc((size_t)r->ncols, sizeof(*r->cols));
	for (i = 0; i < r->ncols; i++) {
		if (PQfformat(res, i) != 0)
			return result_fail(r, 500, "column %d: binary format",
			    i + 1);
		result_type_of(PQftype(res, i), &t);
		r->cols[i].oid = PQftype(res, i);
		r->cols[i].kind = t.kind;
		r->cols[i].array = t.array;
	}
	if (r->mode == RESULT_VALUE)
		return 0;
	if (result_check_duplicates(r, res) == -1)
		return -1;
	return result_build_keys(r, res);
}

/* Rows and values. */

static int
result_put_row(struct result *r, const PGresult *res, int row)
{
	int	 i;

	switch (r->mode) {
	case RESULT_NONE:
		r->nrows++;
		return 0;
	case RESULT_OBJECT:
	case RESULT_VALUE:
		if (r->nrows > 0)
			return result_fail(r, 500, "more than one row");
		break;
	case RESULT_ARRAY:
		if (r->lim.max_rows != 0 && r->nrows >= r->lim.max_rows)
			return result_fail(r, 500, "more than %u rows",
			    r->lim.max_rows);
		if (r->nrows > 0 && result_add_raw(r, ",", 1) == -1)
			return -1;
		break;
	}
	r->nrows++;
	if (r->mode == RESULT_VALUE) {
		if (result_put_field(r, res, row, 0) == -1)
			return -1;
		return result_check_size(r, 0);
	}
	if (result_add_raw(r, "{", 1) == -1)
		return -1;
	for (i = 0; i < r->ncols; i++) {
		if (i > 0 && result_add_raw(r, ",", 1) == -1)
			return -1;
		if (result_add_raw(r, r->keys + r->cols[i].key,
		    r->cols[i].keylen) == -1 ||
		    result_put_field(r, res, row, i) == -1)
			return -1;
	}
	if (result_add_raw(r, "}", 1) == -1)
		return -1;
	return result_check_size(r, 0);
}

static int
result_put_field(struct result *r, const PGresult *res, int row, int col)
{
	const struct result_col	*c = &r->cols[col];
	const char		*v;
	size_t			 len;

	if (PQgetisnull(res, row, col))
		return result_add_raw(r, "null", 4);
	v = PQgetvalue(res, row, col);
	len = (size_t)PQgetlength(res, row, col);
	if (result_check_size(r, len / 2) == -1)
		return -1;
	if (c->array)
		return result_put_array(r, c->kind, v, len);
	return result_put_scalar(r, c->kind, v, len);
}

static int
result_put_scalar(struct result *r, uint8_t kind, const char *v, size_t len)
{
	switch (kind) {
	case RESULT_K_NUMBER:
		if (result_json_number(v, len))
			return result_add_raw(r, v, len);
		break;
	case RESULT_K_BOOL:
		if (len == 1 && v[0] == 't')
			return result_add_raw(r, "true", 4);
		if (len == 1 && v[0] == 'f')
			return result_add_raw(r, "false", 5);
		break;
	case RESULT_K_JSON:
		if (len == 0 || !bw_utf8_valid(v, len))
			return result_fail(r, 500, "invalid json value");
		return result_add_raw(r, v, len);
	case RESULT_K_TSTZ:
		return result_put_timestamp(r, v, len, true);
	case RESULT_K_TS:
		return result_put_timestamp(r, v, len, false);
	default:
		break;
	}
	return result_put_string(r, v, len);
}

static int
result_put_string(struct result *r, const char *v, size_t len)
{
	if (!bw_utf8_valid(v, len))
		return result_fail(r, 500, "value is not valid UTF-8");
	if (jsonw_str(r->buf, v, len, SIZE_MAX) == -1)
		return result_fail(r, 500, "out of memory");
	return 0;
}

static int
result_add_raw(struct result *r, const char *p, size_t n)
{
	if (r->status != 0)
		return -1;
	if (evbuffer_add(r->buf, p, n) == -1)
		return result_fail(r, 500, "out of memory");
	return 0;
}

/* "-"? int frac? exp? as in RFC 8259. */
static bool
result_json_number(const char *s, size_t n)
{
	size_t	 i = 0, d;

	if (i < n && s[i] == '-')
		i++;
	if (i < n && s[i] == '0')
		i++;
	else if (i < n && s[i] >= '1' && s[i] <= '9') {
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
	} else
		return false;
	if (i < n && s[i] == '.') {
		d = ++i;
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
		if (i == d)
			return false;
	}
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < n && (s[i] == '+' || s[i] == '-'))
			i++;
		d = i;
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
		if (i == d)
			return false;
	}
	return i == n;
}

static size_t
result_digits(const char *s, size_t n, size_t i)
{
	size_t	 start = i;

	while (i < n && s[i] >= '0' && s[i] <= '9')
		i++;
	return i - start;
}

/*
 * ISO output with TimeZone=UTC: "YYYY-MM-DD HH:MM:SS[.f{1,6}]" and, for
 * timestamptz, "+00".  Years may have more than four digits.  Anything
 * else (infinity, " BC", another offset) is passed on as a string.
 */
static int
result_put_timestamp(struct result *r, const char *v, size_t len, bool tz)
{
	char	 out[64];
	size_t	 y, i, f, end;

	y = result_digits(v, len, 0);
	if (y < 4 || y > 9 || len > 40)
		return result_put_string(r, v, len);
	i = y;
	if (i + 15 > len || v[i] != '-' || result_digits(v, len, i + 1) != 2 ||
	    v[i + 3] != '-' || result_digits(v, len, i + 4) != 2 ||
	    v[i + 6] != ' ' || result_digits(v, len, i + 7) != 2 ||
	    v[i + 9] != ':' || result_digits(v, len, i + 10) != 2 ||
	    v[i + 12] != ':' || result_digits(v, len, i + 13) != 2)
		return result_put_string(r, v, len);
	i += 15;
	if (i < len && v[i] == '.') {
		f = result_digits(v, len, i + 1);
		if (f < 1 || f > 6)
			return result_put_string(r, v, len);
		i += 1 + f;
	}
	end = i;
	if (tz) {
		if (len - i != 3 || memcmp(v + i, "+00", 3) != 0)
			return result_put_string(r, v, len);
	} else if (i != len)
		return result_put_string(r, v, len);
	out[0] = '"';
	memcpy(out + 1, v, end);
	out[1 + y + 6] = 'T';
	i = 1 + end;
	if (tz)
		out[i++] = 'Z';
	out[i++] = '"';
	return result_add_raw(r, out, i);
}

/*
 * One-dimensional array text: "{}" or "{e,e,...}" where e is NULL, an
 * unquoted element without any of "{}\\ ," or a quoted element with
 * backslash escapes.  Anything else is written as one string.
 */
static int
result_put_array(struct result *r, uint8_t kind, const char *v, size_t len)
{
	size_t	 mark, p = 1, n, last = len - 1;
	bool	 quoted;

	if (len < 2 || v[0] != '{' || v[1] == '{' || v[last] != '}')
		return result_put_string(r, v, len);
	if (r->tmpcap < len) {
		free(r->tmp);
		r->tmp = bw_malloc(len);
		r->tmpcap = len;
	}
	mark = evbuffer_get_length(r->buf);
	if (result_add_raw(r, "[", 1) == -1)
		return -1;
	while (p < last) {
		if (p > 1 && result_add_raw(r, ",", 1) == -1)
			return -1;
		n = 0;
		quoted = v[p] == '"';
		if (quoted) {
			for (p++; p < last && v[p] != '"'; p++) {
				if (v[p] == '\\' && ++p == last)
					break;
				r->tmp[n++] = v[p];
			}
			if (p >= last)
				goto malformed;
			p++;
		} else {
			for (; p < last && v[p] != ','; p++) {
				if (strchr("{}\\\" ", v[p]) != NULL)
					goto malformed;
				r->tmp[n++] = v[p];
			}
			if (n == 0)
				goto malformed;
		}
		if (!quoted && n == 4 && strncasecmp(r->tmp, "NULL", 4) == 0) {
			if (result_add_raw(r, "null", 4) == -1)
				return -1;
		} else if (result_put_scalar(r, kind, r->tmp, n) == -1)
			return -1;
		if (p < last && (v[p] != ',' || ++p == last))
			goto malformed;
	}
	return result_add_raw(r, "]", 1);
malformed:
	result_truncate(r->buf, mark);
	return result_put_string(r, v, len);
}

/* Drops everything after the first `keep` bytes. */
static void
result_truncate(struct evbuffer *b, size_t keep)
{
	struct evbuffer	*head;
	size_t		 len = evbuffer_get_length(b);

	if (len <= keep)
		return;
	if (keep == 0) {
		evbuffer_drain(b, len);
		return;
	}
	if ((head = evbuffer_new()) == NULL)
		fatal("evbuffer_new");
	if (evbuffer_remove_buffer(b, head, keep) != (int)keep)
		fatal("evbuffer_remove_buffer");
	evbuffer_drain(b, len - keep);
	if (evbuffer_add_buffer(b, head) == -1)
		fatal("evbuffer_add_buffer");
	evbuffer_free(head);
}
