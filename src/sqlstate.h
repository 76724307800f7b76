/*
 * sqlstate.h - SQLSTATE to HTTP status (SPEC 7).
 *
 *   23505 23503			409
 *   23502 23514, class 22		422
 *   42501				403
 *   57014				504 (statement_timeout)
 *   class 08				503
 *   40001 40P01			retried once, then 503
 *   anything else, or no valid code	500
 *
 * Pool exhaustion is 503 too, but it is not an SQLSTATE: the pool answers
 * it itself.  Clients see only the generic problem; the caller logs the
 * detail.
 */
#ifndef BW_SQLSTATE_H
#define BW_SQLSTATE_H

#include <stdbool.h>

#define SQLSTATE_MAX_RETRIES	1

/* True for five characters of [0-9A-Z]. */
bool	 sqlstate_valid(const char *);
/*
 * Status for a statement that failed with sqlstate on attempt `attempt`
 * (0 for the first run).  *retry is set when it should run again (a
 * serialization failure or deadlock within SQLSTATE_MAX_RETRIES); the
 * status returned is then what to answer if it cannot be retried.
 */
int	 sqlstate_http_status(const char *sqlstate, unsigned attempt,
	    bool *retry);

#endif
