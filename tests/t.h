/*
 * t.h - the unit tests' small harness
 *
 * Each check prints one line, "ok NAME" or "FAIL NAME: why", which
 * tests/run.sh counts. t_splits() feeds a push parser one input in every
 * way the house style asks for: whole, byte by byte, at every two-way
 * split, and at random splits from a printed seed; the caller compares
 * what each way produced with what the whole input produced.
 */
#ifndef T_H
#define T_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdarg.h>
#include <time.h>

#include <bearssl.h>

static int t_failed;

static inline void
t_ok(int cond, const char *fmt, ...)
{
	va_list ap;

	printf(cond ? "ok " : "FAIL ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (!cond)
		t_failed++;
	fflush(stdout);
}

/* Split plans: lists of chunk lengths that add up to the input length. */
#define T_SPLIT_WHOLE	0
#define T_SPLIT_BYTE	1
#define T_SPLIT_TWO	2
#define T_SPLIT_RANDOM	3

static unsigned long t_seed;

static inline unsigned long
t_rand(void)
{
	t_seed = t_seed * 6364136223846793005UL + 1442695040888963407UL;
	return (t_seed >> 33);
}

/*
 * t_feed_fn is called once per chunk, then once with len == 0 and
 * last == 1 to finish. t_split_each() runs every plan; for each it calls
 * reset(), the chunks, then check(ctx, plan_name) which must compare
 * against the whole-input result the caller captured first.
 */
typedef void (*t_reset_fn)(void *);
typedef void (*t_chunk_fn)(void *, const unsigned char *, size_t);
typedef void (*t_done_fn)(void *);
typedef int (*t_same_fn)(void *);

static inline int
t_split_run(const unsigned char *in, size_t len, void *ctx, t_reset_fn reset,
    t_chunk_fn chunk, t_done_fn done, t_same_fn same, int max_two_way)
{
	size_t i, off, n;
	int r, bad = 0;

	/* byte by byte */
	reset(ctx);
	for (i = 0; i < len; i++)
		chunk(ctx, in + i, 1);
	done(ctx);
	if (!same(ctx))
		bad |= 1;
	/* every two-way split (bounded for long inputs) */
	for (i = 1; i < len && (max_two_way <= 0 || (int)i <= max_two_way);
	    i++) {
		reset(ctx);
		chunk(ctx, in, i);
		chunk(ctx, in + i, len - i);
		done(ctx);
		if (!same(ctx))
			bad |= 2;
	}
	/* random splits */
	for (r = 0; r < 20; r++) {
		reset(ctx);
		for (off = 0; off < len; off += n) {
			n = 1 + t_rand() % (r < 10 ? 16 : 4096);
			if (n > len - off)
				n = len - off;
			chunk(ctx, in + off, n);
		}
		done(ctx);
		if (!same(ctx))
			bad |= 4;
	}
	return (bad);
}

static inline void
t_seed_init(void)
{
	const char *s = getenv("T_SEED");

	t_seed = s ? strtoul(s, 0, 10) : (unsigned long)time(0);
	printf("# seed %lu (set T_SEED to repeat)\n", t_seed);
}

static inline unsigned char *
t_slurp(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	unsigned char *buf = 0;
	long n;

	if (fp == 0)
		return (0);
	if (fseek(fp, 0, SEEK_END) == 0 && (n = ftell(fp)) >= 0
	    && fseek(fp, 0, SEEK_SET) == 0 && (buf = malloc(n + 1)) != 0) {
		*len = fread(buf, 1, n, fp);
		buf[*len] = 0;
	}
	fclose(fp);
	return (buf);
}

/*
 * t_expect_key - an object key's hex part by the formula,
 * HMAC-SHA256(secret, SHA-256(content)) cut to 32 hex digits, computed
 * here with BearSSL rather than by the code under test
 */
static inline void
t_expect_key(const unsigned char *secret, const char *content, size_t len,
    char *out)
{
	br_sha256_context sc;
	br_hmac_key_context kc;
	br_hmac_context hc;
	unsigned char d[32], mac[32];
	int	i;

	br_sha256_init(&sc);
	br_sha256_update(&sc, content, len);
	br_sha256_out(&sc, d);
	br_hmac_key_init(&kc, &br_sha256_vtable, secret, 32);
	br_hmac_init(&hc, &kc, 0);
	br_hmac_update(&hc, d, 32);
	br_hmac_out(&hc, mac);
	for (i = 0; i < 16; i++)
		snprintf(out + 2 * i, 3, "%02x", mac[i]);
}

#endif
