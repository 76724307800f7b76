/*
 * sqltext.h - the route SQL lexer and placeholder rewriter (SPEC 7).
 *
 * sqltext_parse() reads the fixed SQL text of one route, checks that it is
 * exactly one statement beginning with SELECT, WITH, INSERT, UPDATE,
 * DELETE, VALUES, TABLE or CALL, and rewrites every named placeholder
 * (:path.X, :query.X, :body, :body.a.b, :user.id|name|roles, :claims.X,
 * :request.id|ip) to $n.  The same placeholder written twice gets the same
 * number.  The result lists, for $1..$n in order, where each value comes
 * from; member reachability (:body.a.b through `properties`) and the names
 * of path and query parameters are checked by the caller against the
 * route, with the descriptor's offset for the error position.
 *
 * Errors carry a byte offset into the SQL text.  sqltext_position() turns
 * it into a 1-based line and column (code points) relative to the start
 * of the text; the caller maps that onto the configuration file.
 */
#ifndef BW_SQLTEXT_H
#define BW_SQLTEXT_H

#include <stddef.h>

#define SQLTEXT_MAX_LEN		((size_t)256 * 1024)	/* bytes of SQL text */
#define SQLTEXT_MAX_PARAMS	256		/* distinct placeholders */
#define SQLTEXT_MAX_MEMBERS	32		/* names after the source */
#define SQLTEXT_MAX_NAME	128		/* bytes of one name */

enum sqltext_source {
	SQLTEXT_PATH,
	SQLTEXT_QUERY,
	SQLTEXT_BODY,
	SQLTEXT_USER,
	SQLTEXT_CLAIMS,
	SQLTEXT_REQUEST,
};

/*
 * One bound parameter: $k is params[k - 1].  names holds the members after
 * the source (":body.a.b" -> {"a", "b"}; ":body" -> none; ":user.id" ->
 * {"id"}).  offset is the byte offset of the first occurrence's ':' in the
 * original text.
 */
struct sqltext_param {
	enum sqltext_source	 source;
	char			**names;
	size_t			 nnames;
	size_t			 offset;
};

struct sqltext {
	char			*sql;		/* rewritten, NUL-terminated */
	size_t			 sql_len;
	const char		*verb;		/* "SELECT", "INSERT", ... */
	struct sqltext_param	*params;
	size_t			 nparams;
};

struct sqltext_error {
	size_t		 offset;		/* into the original text */
	char		 msg[192];
};

/* Returns NULL with *err filled when the text is refused. */
struct sqltext	*sqltext_parse(const char *sql, size_t len,
		    struct sqltext_error *err);
void		 sqltext_free(struct sqltext *);

const char	*sqltext_source_name(enum sqltext_source);
/* Writes "body.a.b" (truncated to bufsz); returns the full length. */
size_t		 sqltext_param_name(const struct sqltext_param *, char *buf,
		    size_t bufsz);
/*
 * Line and column (1-based; columns count code points, a tab is one) of a
 * byte offset in the text; "\r\n", "\n" and "\r" each end a line.  An
 * offset past the end is clamped to the end.
 */
void		 sqltext_position(const char *sql, size_t len, size_t offset,
		    int *line, int *col);

#endif
