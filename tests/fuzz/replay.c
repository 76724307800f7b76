/*
 * replay.c - a plain driver for the libFuzzer targets in tests/fuzz/.
 *
 * Every fuzz_*.c is also linked with this file instead of libFuzzer, so
 * that `make check` replays the seed corpus and every kept crash input
 * under the normal and the ASan+UBSan builds without clang.  Arguments are
 * files or directories (one level deep; dot files and subdirectories are
 * skipped, entries are replayed in name order so a run is reproducible).
 *
 * Each input is copied into a buffer of exactly its size, so an
 * out-of-bounds read by the target is caught by ASan as under libFuzzer.
 * Inputs larger than REPLAY_MAX_INPUT are refused rather than read.
 *
 * Output: one line "replay: N inputs" on success.  A target that crashes
 * ends the process; scripts/run-replay then replays file by file to name
 * the failing inputs.  Exit status: 0 all replayed, 1 an input could not
 * be read, 2 usage.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define REPLAY_MAX_INPUT	(16 * 1024 * 1024)
#define REPLAY_MAX_PATH		4096

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);
int	LLVMFuzzerInitialize(int *, char ***) __attribute__((weak));

static int	replay_file(const char *);
static int	replay_dir(const char *, size_t *);
static int	replay_read(int, const char *, uint8_t **, size_t *);
static int	replay_name_cmp(const void *, const void *);

static int
replay_read(int fd, const char *path, uint8_t **bufp, size_t *lenp)
{
	struct stat	 st;
	uint8_t		*buf;
	size_t		 off = 0, len;
	ssize_t		 n;

	if (fstat(fd, &st) == -1) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (st.st_size < 0 || st.st_size > REPLAY_MAX_INPUT) {
		fprintf(stderr, "replay: %s: larger than %d bytes\n", path,
		    REPLAY_MAX_INPUT);
		return -1;
	}
	len = (size_t)st.st_size;
	/* malloc(0) may return NULL; keep a distinct pointer for empty input. */
	if ((buf = malloc(len > 0 ? len : 1)) == NULL) {
		fprintf(stderr, "replay: %s: out of memory\n", path);
		return -1;
	}
	while (off < len) {
		n = read(fd, buf + off, len - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			fprintf(stderr, "replay: %s: short read\n", path);
			free(buf);
			return -1;
		}
		off += (size_t)n;
	}
	*bufp = buf;
	*lenp = len;
	return 0;
}

static int
replay_file(const char *path)
{
	uint8_t	*buf;
	size_t	 len;
	int	 fd, rc;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	rc = replay_read(fd, path, &buf, &len);
	close(fd);
	if (rc == -1)
		return -1;
	LLVMFuzzerTestOneInput(buf, len);
	free(buf);
	return 0;
}

static int
replay_name_cmp(const void *a, const void *b)
{
	return strcmp(*(char * const *)a, *(char * const *)b);
}

static int
replay_dir(const char *dir, size_t *count)
{
	DIR		 *d;
	struct dirent	 *de;
	struct stat	  st;
	char		**names = NULL, **grown, path[REPLAY_MAX_PATH];
	size_t		  n = 0, cap = 0, i;
	int		  rc = 0;

	if ((d = opendir(dir)) == NULL) {
		fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (n == cap) {
			cap = cap == 0 ? 64 : cap * 2;
			grown = realloc(names, cap * sizeof(*names));
			if (grown == NULL) {
				rc = -1;
				break;
			}
			names = grown;
		}
		if ((names[n] = strdup(de->d_name)) == NULL) {
			rc = -1;
			break;
		}
		n++;
	}
	closedir(d);
	if (rc == -1)
		fprintf(stderr, "replay: %s: out of memory\n", dir);
	else if (n > 0)
		qsort(names, n, sizeof(*names), replay_name_cmp);
	for (i = 0; i < n; i++) {
		if (rc == 0) {
			if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir,
			    names[i]) >= sizeof(path)) {
				fprintf(stderr, "replay: %s/%s: path too long\n",
				    dir, names[i]);
				rc = -1;
			} else if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
				if (replay_file(path) == -1)
					rc = -1;
				else
					(*count)++;
			}
		}
		free(names[i]);
	}
	free(names);
	return rc;
}

int
main(int argc, char *argv[])
{
	struct stat	 st;
	size_t		 count = 0;
	int		 i, rc = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: %s FILE|DIR ...\n", argv[0]);
		return 2;
	}
	if (LLVMFuzzerInitialize != NULL)
		LLVMFuzzerInitialize(&argc, &argv);
	for (i = 1; i < argc; i++) {
		if (stat(argv[i], &st) == -1) {
			fprintf(stderr, "replay: %s: %s\n", argv[i],
			    strerror(errno));
			rc = 1;
		} else if (S_ISDIR(st.st_mode)) {
			if (replay_dir(argv[i], &count) == -1)
				rc = 1;
		} else if (replay_file(argv[i]) == -1)
			rc = 1;
		else
			count++;
	}
	printf("replay: %zu inputs\n", count);
	return rc;
}
