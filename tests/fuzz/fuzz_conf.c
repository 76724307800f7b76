/*
 * fuzz_conf.c - the strict YAML reader and the configuration layer.
 *
 * Input: a configuration file.  It is read by yaml_load_buffer() and then
 * by conf_load_buffer() (which opens no file), and whatever comes back is
 * dumped (-T) into memory and freed.  Invariants: a NULL result always
 * comes with at least one error, a configuration never comes with one,
 * and every diagnostic has a 1-based position.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "conf.h"
#include "node.h"
#include "util.h"
#include "yaml_strict.h"

static void
fuzz_check(int ok)
{
	if (!ok)
		abort();
}

static void
fuzz_diag(const struct bw_diag *d)
{
	size_t	i;

	for (i = 0; i < d->n; i++)
		fuzz_check(d->v[i].line >= 1 && d->v[i].col >= 1);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bw_diag	 d = { 0 };
	struct node	*n;
	struct conf	*c;
	char		*buf = NULL;
	size_t		 len = 0;
	FILE		*fp;

	n = yaml_load_buffer("fuzz.yaml", (const char *)data, size, &d);
	fuzz_check(n != NULL || d.errors > 0);
	fuzz_diag(&d);
	node_free(n);
	bw_diag_free(&d);

	c = conf_load_buffer("fuzz.yaml", (const char *)data, size, &d);
	fuzz_check((c == NULL) == (d.errors > 0 || d.overflow));
	fuzz_diag(&d);
	if (c != NULL && (fp = open_memstream(&buf, &len)) != NULL) {
		conf_dump(c, fp);
		fclose(fp);
		free(buf);
	}
	conf_free(c);
	bw_diag_free(&d);
	return 0;
}
