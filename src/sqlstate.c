/*
 * sqlstate.c - SQLSTATE to HTTP status (SPEC 7).
 *
 * The code comes from the server (PG_DIAG_SQLSTATE) and may be missing
 * when libpq itself failed; anything that is not a well-formed code maps
 * to 500 like every unlisted one.
 */
#include <string.h>

#include "sqlstate.h"
#include "util.h"

struct sqlstate_map {
	const char	*code;		/* five characters, or a class "XX" */
	int		 status;
};

/* Exact codes first, then classes. */
static const struct sqlstate_map sqlstate_codes[] = {
	{ "23505", 409 },	/* unique_violation */
	{ "23503", 409 },	/* foreign_key_violation */
	{ "23502", 422 },	/* not_null_violation */
	{ "23514", 422 },	/* check_violation */
	{ "42501", 403 },	/* insufficient_privilege */
	{ "57014", 504 },	/* query_canceled (statement_timeout) */
	{ "40001", 503 },	/* serialization_failure: retried first */
	{ "40P01", 503 },	/* deadlock_detected: retried first */
};

static const struct sqlstate_map sqlstate_classes[] = {
	{ "22", 422 },		/* data exception */
	{ "08", 503 },		/* connection exception */
};

bool
sqlstate_valid(const char *s)
{
	size_t	 i;

	if (s == NULL)
		return false;
	for (i = 0; i < 5; i++) {
		if (!((s[i] >= '0' && s[i] <= '9') ||
		    (s[i] >= 'A' && s[i] <= 'Z')))
			return false;
	}
	return s[5] == '\0';
}

static bool
sqlstate_retryable(const char *s)
{
	return strcmp(s, "40001") == 0 || strcmp(s, "40P01") == 0;
}

int
sqlstate_http_status(const char *s, unsigned attempt, bool *retry)
{
	size_t	 i;

	*retry = false;
	if (!sqlstate_valid(s))
		return 500;
	if (sqlstate_retryable(s) && attempt < SQLSTATE_MAX_RETRIES)
		*retry = true;
	for (i = 0; i < BW_ARRAY_LEN(sqlstate_codes); i++) {
		if (strcmp(s, sqlstate_codes[i].code) == 0)
			return sqlstate_codes[i].status;
	}
	for (i = 0; i < BW_ARRAY_LEN(sqlstate_classes); i++) {
		if (strncmp(s, sqlstate_classes[i].code, 2) == 0)
			return sqlstate_classes[i].status;
	}
	return 500;
}
