/*
 * jsonw.h - the one JSON string writer for streamed output.
 *
 * Results, problem bodies, log lines, diagnostics and the -T dump write
 * their strings through here, so there is one escaping policy:
 *
 *   - '"' and '\\' are escaped, and so is every code point that a reader
 *     might act on or that YAML would refuse or fold: U+0000-U+001F (as
 *     \b \f \n \r \t where JSON has a short form, else \u00XX),
 *     U+007F-U+009F, U+2028, U+2029, U+FEFF, U+FFFE and U+FFFF (\uXXXX);
 *   - ill-formed UTF-8 (a stray continuation byte, an overlong form, a
 *     surrogate, a code point above U+10FFFF, a sequence cut short) is
 *     replaced by U+FFFD, one per offending byte;
 *   - everything else is copied as it is.
 *
 * The output is valid UTF-8, a valid JSON string body, and loads back as
 * the same string from a YAML double-quoted scalar (libyaml refuses raw
 * U+FFFE/U+FFFF and folds U+0085/U+2028/U+2029, hence their escapes).
 * A bound is on input bytes and never splits a code point or an escape.
 */
#ifndef BW_JSONW_H
#define BW_JSONW_H

#include <stddef.h>
#include <stdio.h>

struct evbuffer;
struct node;

/* Longest output for one unit of input (\u00XX). */
#define JSONW_ESC_MAX	6

/*
 * Append s[0..len) to out as a JSON string literal, quotes included.  At
 * most max bytes of s are written (truncated at the last whole code point
 * that fits; SIZE_MAX = no limit).  Returns 0, or -1 when out could not
 * grow.
 */
int	 jsonw_str(struct evbuffer *out, const char *s, size_t len, size_t max);
/* The same without the quotes. */
int	 jsonw_body(struct evbuffer *out, const char *s, size_t len,
	    size_t max);

/*
 * The same into buf at *off: writes '"', as much of the escaped string as
 * fits, '"' and a NUL, never past bufsz, and advances *off to the NUL.
 * Returns 0 when the whole string (up to max) fit; -1 when it was cut to
 * fit the buffer, or when not even "" and a NUL fit (then nothing is
 * written).
 */
int	 jsonw_str_buf(char *buf, size_t bufsz, size_t *off, const char *s,
	    size_t len, size_t max);

/* The same to a stdio stream (the -T dump); -1 when the stream failed. */
int	 jsonw_str_file(FILE *fp, const char *s, size_t len, size_t max);

/*
 * Append a node tree (node.h) as JSON: strings (and YAML plain scalars)
 * through jsonw_str(), numbers, true, false and null as their text, maps
 * and sequences as objects and arrays.  Returns 0, or -1 when out could
 * not grow or the tree nests deeper than max_depth containers (as for
 * json_parse(); out then holds a prefix).
 */
int	 jsonw_node(struct evbuffer *out, const struct node *n, int max_depth);

/*
 * The core the above share.  jsonw_cut() is the length of the longest
 * prefix of s[0..len) of at most max bytes that does not split a code
 * point.  jsonw_escape() escapes s[0..len) into dst, stopping before the
 * first unit whose escape does not fit in dstsz; it returns the bytes
 * written and sets *used to the input bytes consumed.  No NUL is written.
 */
size_t	 jsonw_cut(const char *s, size_t len, size_t max);
size_t	 jsonw_escape(char *dst, size_t dstsz, const char *s, size_t len,
	    size_t *used);

#endif
