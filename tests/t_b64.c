/*
 * t_b64 - the base64 block kernels against the scalar decoder
 *
 * Every kernel this CPU runs (b64.c) decodes through mime_b64_decode()
 * and must give what the scalar loop alone gives: the same bytes, the
 * same decoder state, the same error flag, for every length and
 * alignment, for every byte value at every position of a block, for
 * dirty input (line breaks, white space, bad bytes, padding in the
 * middle) and under chunk splits. One vector comes from outside: the
 * encoding of the bytes 0 to 255 made by Python's base64 module.
 */
#include "detach.h"
#include "t.h"

/* base64.b64encode(bytes(range(256))) */
static const char t_all_bytes_b64[] =
    "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEy"
    "MzQ1Njc4OTo7PD0+P0BBQkNERUZHSElKS0xNTk9QUVJTVFVWV1hZWltcXV5fYGFiY2Rl"
    "ZmdoaWprbG1ub3BxcnN0dXZ3eHl6e3x9fn+AgYKDhIWGh4iJiouMjY6PkJGSk5SVlpeY"
    "mZqbnJ2en6ChoqOkpaanqKmqq6ytrq+wsbKztLW2t7i5uru8vb6/wMHCw8TFxsfIycrL"
    "zM3Oz9DR0tPU1dbX2Nna29zd3t/g4eLj5OXm5+jp6uvs7e7v8PHy8/T19vf4+fr7/P3+"
    "/w==";

static const char t_alpha[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

#define T_BUF	4096

struct t_out {
	unsigned char buf[T_BUF + 64];
	size_t	len;
	struct mime_b64 st;
	int	final;
};

static int t_kernels[4];
static int t_nkernels;

/* t_decode - decode in with kernel, in chunks of at most chunk bytes
 * (0: whole), into out */
static void
t_decode(int kernel, const unsigned char *in, size_t len, size_t chunk,
    struct t_out *out)
{
	size_t	off = 0, n;

	if (b64_use(kernel) < 0)
		abort();
	memset(out, 0, sizeof(*out));
	while (off < len) {
		n = chunk == 0 || len - off < chunk ? len - off : chunk;
		out->len += mime_b64_decode(&out->st, in + off, n,
		    out->buf + out->len);
		off += n;
	}
	out->final = mime_b64_final(&out->st);
}

/* t_same - do two decodings agree in every respect? */
static int
t_same(const struct t_out *a, const struct t_out *b)
{
	return (a->len == b->len && memcmp(a->buf, b->buf, a->len) == 0
	    && a->st.acc == b->st.acc && a->st.nbits == b->st.nbits
	    && a->st.pad == b->st.pad && a->st.err == b->st.err
	    && a->final == b->final);
}

/* t_against_scalar - every kernel, whole and in chunks, against the
 * scalar loop; returns the number of disagreements */
static int
t_against_scalar(const unsigned char *in, size_t len)
{
	static struct t_out ref, got;
	static const size_t chunks[] = {0, 1, 3, 17, 33, 77};
	size_t	c;
	int	i, bad = 0;

	t_decode(B64_SCALAR, in, len, 0, &ref);
	for (i = 0; i < t_nkernels; i++)
		for (c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++) {
			t_decode(t_kernels[i], in, len, chunks[c], &got);
			if (!t_same(&ref, &got))
				bad++;
		}
	return (bad);
}

/* t_vector - Python's encoding of 0..255 decodes to 0..255 */
static void
t_vector(void)
{
	static struct t_out got;
	unsigned char want[256];
	int	i, k;

	for (i = 0; i < 256; i++)
		want[i] = i;
	for (k = 0; k < t_nkernels; k++) {
		t_decode(t_kernels[k], (const unsigned char *)t_all_bytes_b64,
		    strlen(t_all_bytes_b64), 0, &got);
		t_ok(got.len == 256 && memcmp(got.buf, want, 256) == 0
		    && got.final == 0, "%s: bytes 0-255 from Python's encoding",
		    (b64_use(t_kernels[k]), b64_kernel_name()));
	}
}

/* t_lengths - clean input of every length at every alignment */
static void
t_lengths(void)
{
	static unsigned char buf[T_BUF + 64];
	size_t	len, align, i;
	int	bad = 0;

	for (len = 0; len <= 300; len++)
		for (align = 0; align < 32; align++) {
			for (i = 0; i < len; i++)
				buf[align + i] = t_alpha[t_rand() % 64];
			bad += t_against_scalar(buf + align, len);
		}
	t_ok(bad == 0, "clean input, lengths 0-300 at 32 alignments: %d "
	    "disagreements", bad);
}

/* t_every_byte - each byte value at each position of a 64-byte run */
static void
t_every_byte(void)
{
	unsigned char buf[96];
	int	c, pos, i, bad = 0;

	for (c = 0; c < 256; c++)
		for (pos = 0; pos < 64; pos++) {
			for (i = 0; i < 96; i++)
				buf[i] = t_alpha[(i * 7 + c) % 64];
			buf[pos] = c;
			bad += t_against_scalar(buf, 96);
		}
	t_ok(bad == 0, "every byte value at every position: %d disagreements",
	    bad);
}

/* t_alphabet_lanes - every letter in every lane of a block */
static void
t_alphabet_lanes(void)
{
	unsigned char buf[128];
	int	r, i, bad = 0;

	for (r = 0; r < 64; r++) {
		for (i = 0; i < 128; i++)
			buf[i] = t_alpha[(i + r) % 64];
		bad += t_against_scalar(buf, 128);
	}
	t_ok(bad == 0, "each letter in each lane: %d disagreements", bad);
}

/* t_dirty - mail-shaped and broken input */
static void
t_dirty(void)
{
	static unsigned char buf[T_BUF];
	static const char junk[] = "\r\n \t=*-_:@[`{.\0\x80\xff";
	size_t	len, i, j, pos;
	int	bad = 0, n = 0;

	/* 76-column lines, CRLF and LF, with and without final padding */
	for (j = 0; j < 4; j++) {
		len = 0;
		for (i = 0; i < 1000; i++) {
			buf[len++] = t_alpha[t_rand() % 64];
			if (i % 76 == 75) {
				if (j & 1)
					buf[len++] = '\r';
				buf[len++] = '\n';
			}
		}
		if (j & 2) {
			buf[len - 1] = '=';
			buf[len - 2] = '=';
		}
		bad += t_against_scalar(buf, len);
		n++;
	}
	/* lines of every length from 1 to 100, CRLF, LF and a lone CR */
	for (j = 1; j <= 100; j++) {
		static const char *const eols[] = {"\r\n", "\n", "\r"};
		size_t	e;

		for (e = 0; e < 3; e++) {
			len = 0;
			for (i = 0; len + 4 < 1500; i++) {
				buf[len++] = t_alpha[t_rand() % 64];
				if (i % j == j - 1) {
					memcpy(buf + len, eols[e],
					    strlen(eols[e]));
					len += strlen(eols[e]);
				}
			}
			bad += t_against_scalar(buf, len);
			n++;
		}
	}
	/* one junk byte at every position of clean input */
	for (j = 0; j < sizeof(junk) - 1; j++)
		for (pos = 0; pos < 200; pos++) {
			for (i = 0; i < 200; i++)
				buf[i] = t_alpha[t_rand() % 64];
			buf[pos] = junk[j];
			bad += t_against_scalar(buf, 200);
			n++;
		}
	/* padding in the middle, then more data */
	for (pos = 0; pos < 120; pos++) {
		for (i = 0; i < 200; i++)
			buf[i] = t_alpha[t_rand() % 64];
		buf[pos] = '=';
		buf[pos + 1] = '=';
		bad += t_against_scalar(buf, 200);
		n++;
	}
	t_ok(bad == 0, "dirty input, %d cases: %d disagreements", n, bad);
	/* the kernels leave the error to the scalar loop: it is raised */
	memset(buf, 'A', 100);
	buf[50] = '*';
	for (j = 0; j < (size_t)t_nkernels; j++) {
		static struct t_out got;

		t_decode(t_kernels[j], buf, 100, 0, &got);
		t_ok(got.st.err == 1 && got.final < 0,
		    "%s: a stray byte in a block is an error",
		    (b64_use(t_kernels[j]), b64_kernel_name()));
	}
}

/* t_room - the kernels write within the room mime_b64_decode() has */
static void
t_room(void)
{
	unsigned char in[256], out[256 + 1];
	struct mime_b64 st;
	size_t	len, i;
	int	k, bad = 0;

	for (k = 0; k < t_nkernels; k++)
		for (len = 16; len <= 256; len++) {
			for (i = 0; i < len; i++)
				in[i] = t_alpha[t_rand() % 64];
			memset(out, 0xa5, sizeof(out));
			memset(&st, 0, sizeof(st));
			(void)b64_use(t_kernels[k]);
			(void)mime_b64_decode(&st, in, len, out);
			if (out[len] != 0xa5)
				bad++;
		}
	t_ok(bad == 0, "no kernel writes past the input's length: %d", bad);
}

int
main(void)
{
	static const int all[] = {B64_SSSE3, B64_AVX2, B64_NEON};
	size_t	i;

	t_seed_init();
	for (i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		if (b64_use(all[i]) == 0)
			t_kernels[t_nkernels++] = all[i];
	t_ok(b64_use(B64_BEST) == 0, "a kernel is chosen: %s",
	    b64_kernel_name());
	printf("# kernels tested:");
	for (i = 0; i < (size_t)t_nkernels; i++)
		printf(" %s", (b64_use(t_kernels[i]), b64_kernel_name()));
	printf("\n");
	t_vector();
	t_lengths();
	t_every_byte();
	t_alphabet_lanes();
	t_dirty();
	t_room();
	return (t_failed ? 1 : 0);
}
