/*
 * result.h - PostgreSQL results to JSON, written straight into the
 * response buffer (SPEC 7).
 *
 * One struct result per request.  result_begin() fixes the mode (object,
 * array, none, value), the destination evbuffer and the limits; every row
 * is then fed as it arrives (single-row mode: one PGRES_SINGLE_TUPLE
 * result per row, then a PGRES_TUPLES_OK with none) and result_end()
 * closes the document.  On any failure everything this result wrote is
 * removed from the buffer again, further rows are refused, and
 * result_status() tells the HTTP status (404 for object/value without a
 * row, 500 otherwise) while result_error() says why, for the log.
 *
 * Mapping (results in text format, session TimeZone=UTC, DateStyle=ISO):
 *   int2 int4 int8 float4 float8 numeric	the number as PostgreSQL prints
 *	it; NaN, Infinity, -Infinity as the strings "NaN", "Infinity",
 *	"-Infinity"
 *   bool					true / false
 *   json jsonb					embedded as is
 *   NULL					null
 *   timestamptz	"YYYY-MM-DDTHH:MM:SS[.ffffff]Z"; timestamp the same
 *	without Z; values that have no such form (infinity, BC dates) stay
 *	strings as PostgreSQL prints them
 *   one-dimensional arrays of these and of text-like types	JSON arrays
 *	(arrays with explicit bounds "[0:1]={...}" or more dimensions are
 *	strings as PostgreSQL prints them)
 *   domains						as their base type
 *   anything else					a JSON string
 * Strings must be valid UTF-8 (the database encoding is UTF8); a value
 * that is not makes the result fail rather than emit broken JSON.
 *
 * Type knowledge: built-in OIDs are known here.  PostgreSQL reports a
 * domain column with its base type, but arrays of domains and user types
 * have their own OIDs: the database check (dbconf.c) runs
 * RESULT_TYPES_QUERY once per load and hands the rows to
 * result_types_load() (or registers single types) - in the master at
 * start, in a reload's check child whose table the master then imports.
 * The table is per process (workers inherit the master's), bounded by
 * RESULT_TYPES_MAX.
 */
#ifndef BW_RESULT_H
#define BW_RESULT_H

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "conf.h"

struct evbuffer;
struct result;

#define RESULT_TYPES_MAX	16384

/*
 * Every domain, and every array type whose elements are separated by ','
 * and are not rows (arrays of row types stay strings).  Columns: oid,
 * typtype, typbasetype, typelem.
 */
#define RESULT_TYPES_QUERY						\
	"SELECT t.oid, t.typtype, t.typbasetype, t.typelem "		\
	"FROM pg_catalog.pg_type t "					\
	"LEFT JOIN pg_catalog.pg_type e ON e.oid = t.typelem "		\
	"WHERE t.typtype = 'd' OR (t.typcategory = 'A' AND "		\
	"t.typelem <> 0 AND t.typdelim = ',' AND e.typtype <> 'c')"

struct result_limits {
	uint32_t	 max_rows;	/* array mode; 0: no row limit */
	uint64_t	 max_size;	/* bytes added to the buffer; 0: none */
};

struct result	*result_begin(enum conf_result, struct evbuffer *,
		    const struct result_limits *);
/* Adds row `row` of res; 0, or -1 once the result has failed. */
int		 result_row(struct result *, const PGresult *, int row);
/* Checks the columns of res and adds all of its rows (any count). */
int		 result_add(struct result *, const PGresult *);
/* Completes the document; 0 or -1. */
int		 result_end(struct result *);
/* After a failure: 404 or 500.  200 while nothing failed. */
int		 result_status(const struct result *);
const char	*result_error(const struct result *);
uint64_t	 result_nrows(const struct result *);
void		 result_free(struct result *);

int		 result_types_add_domain(uint32_t oid, uint32_t base_oid);
int		 result_types_add_array(uint32_t oid, uint32_t elem_oid);
/* Registers the rows of RESULT_TYPES_QUERY; -1 with *err on bad input. */
int		 result_types_load(const PGresult *, const char **err);
void		 result_types_reset(void);

/*
 * The table as plain records, for a process that loads it on the master's
 * behalf (master_gen.c's reload check): export fills out (room for
 * RESULT_TYPES_MAX) and returns the count; import replaces the table, or
 * leaves it and returns -1 when a record is not one export makes.
 */
struct result_type_rec {
	uint32_t	 oid;
	uint32_t	 ref;		/* base type or element */
	uint32_t	 array;		/* 0: a domain, 1: an array */
};
size_t		 result_types_export(struct result_type_rec *out);
int		 result_types_import(const struct result_type_rec *, size_t n);

#endif
