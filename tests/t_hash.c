/*
 * t_hash - unit tests of hash.c: SHA-256, and the hash behind
 *
 * BearSSL's SHA-256 is the reference. hash_update() must give its
 * digest for every length around the padding edges and for any split
 * of the input. The hash behind must give the digest of exactly the
 * bytes written to a file, whatever sizes they were written in and
 * however far the helper lags; it must start again after an end or a
 * cancel, refuse a second file while busy, and report a file shorter
 * than it was told as an error rather than a digest.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "detach.h"
#include "t.h"

static char tmpdir[] = "/tmp/t_hash.XXXXXX";
static unsigned char data[3 << 20];

/* t_ref - BearSSL's digest of p[0..n) */

static void
t_ref(const unsigned char *p, size_t n, unsigned char out[32])
{
	br_sha256_context sc;

	br_sha256_init(&sc);
	br_sha256_update(&sc, p, n);
	br_sha256_out(&sc, out);
}

/* Every length up to 300 in one piece, then random splits of longer
 * inputs: the same digest as BearSSL's. */
static void
t_update(void)
{
	struct hash_sha s;
	unsigned char want[32], got[32];
	size_t	n, off, k;
	int	i, good = 1;

	for (n = 0; n <= 300; n++) {
		hash_init(&s);
		hash_update(&s, data, n);
		hash_out(&s, got);
		t_ref(data, n, want);
		if (memcmp(got, want, 32) != 0) {
			good = 0;
			t_ok(0, "hash of %zu bytes in one piece", n);
		}
	}
	t_ok(good, "hash: lengths 0 to 300 in one piece");
	/* FIPS 180-2 appendix B.1, not from BearSSL: a reference of our
	 * own where the processor lacks the SHA extensions. */
	hash_init(&s);
	hash_update(&s, "abc", 3);
	hash_out(&s, got);
	t_ok(memcmp(got, "\xba\x78\x16\xbf\x8f\x01\xcf\xea\x41\x41\x40\xde"
	    "\x5d\xae\x22\x23\xb0\x03\x61\xa3\x96\x17\x7a\x9c\xb4\x10\xff"
	    "\x61\xf2\x00\x15\xad", 32) == 0, "hash: SHA-256(\"abc\"), FIPS "
	    "180-2 B.1");
	good = 1;
	for (i = 0; i < 200; i++) {
		n = t_rand() % (i < 100 ? 1000 : sizeof(data));
		hash_init(&s);
		for (off = 0; off < n; off += k) {
			k = t_rand() % (i % 2 ? 200 : 70000) + 1;
			if (k > n - off)
				k = n - off;
			hash_update(&s, data + off, k);
		}
		hash_out(&s, got);
		t_ref(data, n, want);
		if (memcmp(got, want, 32) != 0) {
			good = 0;
			t_ok(0, "hash of %zu bytes in random pieces (seed %lu)",
			    n, t_seed);
		}
	}
	t_ok(good, "hash: random lengths in random pieces");
}

/* t_file - a fresh, empty file open for reading and writing */

static int
t_file(void)
{
	char	path[64];
	int	fd;

	snprintf(path, sizeof(path), "%s/f", tmpdir);
	(void)unlink(path);
	if ((fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600)) < 0)
		t_ok(0, "open %s: %s", path, strerror(errno));
	return (fd);
}

/* t_behind_one - write n bytes in random pieces, telling the helper
 * after each; 1 if its digest is BearSSL's */

static int
t_behind_one(size_t n, size_t maxpiece)
{
	unsigned char want[32], got[32];
	size_t	off, k;
	int	fd, ok;

	if ((fd = t_file()) < 0)
		return (0);
	if (hash_behind_start(fd) < 0) {
		(void)close(fd);
		return (0);
	}
	for (off = 0; off < n; off += k) {
		k = t_rand() % maxpiece + 1;
		if (k > n - off)
			k = n - off;
		if (write(fd, data + off, k) != (ssize_t)k)
			break;
		hash_behind_grow(off + k);
	}
	ok = hash_behind_end(got) == 0;
	t_ref(data, n, want);
	(void)close(fd);
	return (ok && off == n && memcmp(got, want, 32) == 0);
}

static void
t_behind(void)
{
	static const size_t lens[] = {0, 1, 55, 56, 64, 65,
	    HASH_BEHIND_CHUNK - 1, HASH_BEHIND_CHUNK, HASH_BEHIND_CHUNK + 1,
	    (2 << 20) + 17, sizeof(data)};
	unsigned char got[32];
	size_t	i;
	int	fd, fd2, r, err, good = 1;

	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++)
		if (!t_behind_one(lens[i], i % 2 ? 100 : 300000)) {
			good = 0;
			t_ok(0, "behind: %zu bytes (seed %lu)", lens[i], t_seed);
		}
	t_ok(good, "behind: the digest of the bytes written, at the edges");
	good = 1;
	for (i = 0; i < 30; i++)
		if (!t_behind_one(t_rand() % sizeof(data), t_rand() % 70000
		    + 1)) {
			good = 0;
			t_ok(0, "behind: random round %zu (seed %lu)", i,
			    t_seed);
		}
	t_ok(good, "behind: random lengths in random pieces, 30 in a row");

	/* Busy: a second file is refused, the caller hashes it itself. */
	fd = t_file();
	t_ok(hash_behind_start(fd) == 0, "behind: started");
	fd2 = dup(fd);
	t_ok(hash_behind_start(fd2) < 0, "behind: a second file while busy "
	    "is refused");
	(void)close(fd2);
	if (write(fd, data, 1000) != 1000)
		t_ok(0, "write");
	hash_behind_grow(1000);
	hash_behind_cancel();
	hash_behind_cancel();
	(void)close(fd);
	t_ok(t_behind_one(5000, 700), "behind: starts again after a cancel");

	/* Told more than the file holds: an error, not a digest. */
	fd = t_file();
	if (write(fd, data, 100) != 100)
		t_ok(0, "write");
	t_ok(hash_behind_start(fd) == 0, "behind: started on a short file");
	hash_behind_grow(200);
	r = hash_behind_end(got);
	err = errno;
	t_ok(r < 0 && err == EIO, "behind: a file shorter than told is EIO "
	    "(%s)", strerror(err));
	(void)close(fd);

	/* A file that cannot be read back. */
	fd = open("/dev/null", O_WRONLY);
	t_ok(hash_behind_start(fd) == 0, "behind: started on a write-only fd");
	hash_behind_grow(10);
	r = hash_behind_end(got);
	err = errno;
	t_ok(r < 0 && err == EBADF, "behind: an unreadable file is its "
	    "read's error (%s)", strerror(err));
	(void)close(fd);
	t_ok(t_behind_one(70000, 9000), "behind: starts again after an error");
}

int
main(void)
{
	char	cmd[64];
	size_t	i;

	t_seed_init();
	if (mkdtemp(tmpdir) == 0)
		return (1);
	for (i = 0; i < sizeof(data); i++)
		data[i] = (unsigned char)(t_rand() >> 7);
	t_update();
	t_behind();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	if (system(cmd) != 0)
		t_ok(0, "cleanup");
	return (t_failed != 0);
}
