/*
 * NAME
 *	replay - run a libFuzzer harness over saved inputs, without libFuzzer
 * SYNOPSIS
 *	tests/bin/replay_NAME PATH...
 * DESCRIPTION
 *	Linked with one harness (tests/fuzz/fuzz_NAME.c) instead of
 *	libFuzzer, replay calls its LLVMFuzzerInitialize() when it has one,
 *	then its LLVMFuzzerTestOneInput() once per file: each PATH is a
 *	file, or a directory whose regular files are taken in name order
 *	(arguments starting with '-' are libFuzzer's flags, and skipped).
 *	So everything a fuzzer ever reached, kept under tests/fuzz/corpus/,
 *	runs again on every make check, through the plain build and the
 *	sanitizer build, as a regression test. A harness that finds a
 *	broken promise aborts, and a sanitizer stops the process: the
 *	input's name was printed on stderr just before.
 *
 *	Prints "N inputs" on stdout and exits 0 when every input passed.
 * LIMITS
 *	An input is read whole into memory; corpora keep inputs small
 *	(make fuzz runs with -max_len=65536).
 * DIAGNOSTICS
 *	The name of each input on stderr before it runs; errors opening or
 *	reading an input are fatal (exit 1).
 * BUGS
 *	None known.
 */
#include <sys/stat.h>
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int	LLVMFuzzerInitialize(int *, char ***) __attribute__((weak));
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static long replay_count;

/* replay_file - one input */

static void
replay_file(const char *path)
{
	FILE   *fp;
	struct stat st;
	unsigned char *buf;
	size_t	n;

	if ((fp = fopen(path, "rb")) == 0 || fstat(fileno(fp), &st) < 0) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		exit(1);
	}
	/* One spare byte, so an empty input is a valid pointer too. */
	if ((buf = malloc(st.st_size + 1)) == 0) {
		fprintf(stderr, "replay: %s: out of memory\n", path);
		exit(1);
	}
	n = fread(buf, 1, st.st_size, fp);
	if (n != (size_t)st.st_size || ferror(fp)) {
		fprintf(stderr, "replay: %s: short read\n", path);
		exit(1);
	}
	fclose(fp);
	fprintf(stderr, "%s\n", path);
	/* Exactly the input's bytes: ASan sees a read past them. */
	(void)LLVMFuzzerTestOneInput(n ? buf : 0, n);
	free(buf);
	replay_count++;
}

static int
replay_cmp(const void *a, const void *b)
{
	return (strcmp(*(char *const *)a, *(char *const *)b));
}

/* replay_path - a file, or the regular files of a directory */

static void
replay_path(const char *path)
{
	struct stat st;
	struct dirent *de;
	DIR    *dir;
	char  **names = 0, full[4096];
	size_t	n = 0, cap = 0, i;

	if (stat(path, &st) < 0) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		exit(1);
	}
	if (!S_ISDIR(st.st_mode)) {
		replay_file(path);
		return;
	}
	if ((dir = opendir(path)) == 0) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		exit(1);
	}
	while ((de = readdir(dir)) != 0) {
		if (de->d_name[0] == '.')
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 256;
			if ((names = realloc(names, cap * sizeof(*names))) == 0)
				exit(1);
		}
		if ((names[n++] = strdup(de->d_name)) == 0)
			exit(1);
	}
	closedir(dir);
	qsort(names, n, sizeof(*names), replay_cmp);
	for (i = 0; i < n; i++) {
		if (snprintf(full, sizeof(full), "%s/%s", path, names[i])
		    >= (int)sizeof(full))
			exit(1);
		if (stat(full, &st) == 0 && S_ISREG(st.st_mode))
			replay_file(full);
		free(names[i]);
	}
	free(names);
}

int
main(int argc, char **argv)
{
	int	i;

	if (LLVMFuzzerInitialize)
		(void)LLVMFuzzerInitialize(&argc, &argv);
	/* A harness's Initialize may add libFuzzer flags: not inputs. */
	for (i = 1; i < argc; i++)
		if (argv[i][0] != '-')
			replay_path(argv[i]);
	printf("%ld inputs\n", replay_count);
	return (0);
}
