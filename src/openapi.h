/*
 * openapi.h - the OpenAPI 3.1 description of a configuration (--openapi).
 */
#ifndef BW_OPENAPI_H
#define BW_OPENAPI_H

#include <stdio.h>

#include <jansson.h>

struct conf;

/*
 * The whole document for conf's routes, named schemas and built-in /auth
 * endpoints; NULL only when memory runs out.  The caller owns the result.
 */
json_t	*openapi_document(const struct conf *conf);
/* Writes the document as indented JSON and a newline; 0, or -1. */
int	 openapi_print(const struct conf *conf, FILE *out);

#endif
