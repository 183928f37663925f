/*
 * NAME
 *	b64 - base64 block decoders for the MIME scanner, SIMD when the CPU
 *	has it
 * SYNOPSIS
 *	#include "detach.h"
 *
 *	size_t b64_blocks(const unsigned char *in, size_t len,
 *	    unsigned char *out, size_t *outlen)
 *
 *	int b64_use(int kernel)
 *	const char *b64_kernel_name(void)
 * DESCRIPTION
 *	b64_blocks() decodes the whole quanta of the base64 alphabet
 *	(RFC 2045 6.8) at the start of in, a block of 16 or 32 bytes at a
 *	time, and skips the line breaks that stand between two quanta (a
 *	76-column body has one after every 19 quanta); it returns the
 *	input bytes it took and puts the output bytes in *outlen. It stops
 *	at anything else (a line break inside a quantum, other white
 *	space, "=", a stray byte) and leaves the rest to
 *	mime_b64_decode()'s scalar loop, which alone decides what such
 *	bytes mean. So the kernels need no error path of their own, and a
 *	message decodes to the same bytes and the same error flag whichever
 *	kernel ran: the unit tests and tests/fuzz/fuzz_b64.c compare them
 *	with the scalar decoder.
 *
 *	The AVX2 kernel takes a whole 76-column line and its line break in
 *	one step, as three blocks of which the last overlaps the second:
 *	a block that holds the line break would otherwise cost a scalar
 *	step on every line.
 *
 *	The kernels classify each byte by its two nibbles with two table
 *	lookups (pshufb / tbl): a byte is in the alphabet when the set of
 *	classes its low nibble rules out does not hold the class of its
 *	high nibble. The sextet is the byte plus an offset chosen by the
 *	high nibble ('/' is the one byte that shares its high nibble with
 *	another letter of the alphabet and needs its own offset). Four
 *	sextets are then packed into three bytes with two multiply-adds
 *	and a shuffle.
 *
 *	The kernel is chosen once, at the first call, from what the CPU
 *	says it has: AVX2, else SSSE3 on x86-64; NEON on arm64 (always
 *	there); else none, and mime_b64_decode() runs its scalar loop
 *	alone. b64_use() forces a kernel, for the tests and benchmarks.
 * LIMITS
 *	Writes up to 8 bytes past the decoded ones: the caller's output
 *	room must be at least len (mime_b64_decode()'s contract already).
 *	The NEON kernel takes 64-byte blocks and no line breaks.
 * DIAGNOSTICS
 *	None.
 * BUGS
 *	The NEON kernel is tested under emulation only
 *	(tests/b64_arm64.test.sh builds tests/t_b64.c for arm64 and runs it
 *	under qemu-aarch64): the machines that run the tests are x86-64.
 */
#include <string.h>

#include "detach.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define B64_ARCH_X86	1
#elif defined(__aarch64__)
#include <arm_neon.h>
#define B64_ARCH_NEON	1
#endif

/* For each low nibble, the classes of high nibble it is not valid
 * with. Classes: 0x01 "+/" (high 2), 0x02 digits (high 3), 0x04 "A-O"
 * and "a-o" (high 4, 6: low 1..F), 0x08 "P-Z" and "p-z" (high 5, 7: low
 * 0..A), 0x10 a high nibble with no alphabet byte at all. */
static const unsigned char b64_lo_bad[16] = {
	0x15, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11,
	0x11, 0x11, 0x13, 0x1a, 0x1b, 0x1b, 0x1b, 0x1a,
};

/* The class of each high nibble. */
static const unsigned char b64_hi_class[16] = {
	0x10, 0x10, 0x01, 0x02, 0x04, 0x08, 0x04, 0x08,
	0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10,
};

/* The offset from byte to sextet, by high nibble; index 1 is '/'
 * (high nibble 2 less one), index 2 is '+'. */
static const signed char b64_offset[16] = {
	0, 63 - '/', 62 - '+', 52 - '0', -'A', -'A', 26 - 'a', 26 - 'a',
	0, 0, 0, 0, 0, 0, 0, 0,
};

static size_t b64_none(const unsigned char *, size_t, unsigned char *,
    size_t *);
static size_t (*b64_kernel)(const unsigned char *, size_t,
    unsigned char *, size_t *);
static int b64_which = -1;

#ifdef B64_ARCH_X86

/*
 * b64_after - a block's first byte outside the alphabet is at bad:
 * take the whole quanta before it, then line breaks if it stands at a
 * quantum boundary (76-column lines: every line). Returns 0 to go on
 * with the next block, -1 to leave the rest to the scalar loop.
 */
static inline int
b64_after(const unsigned char *in, size_t len, size_t *k, size_t *w,
    unsigned bad)
{
	unsigned q = bad & ~3u;
	size_t	from;

	*k += q;
	*w += q / 4 * 3;
	if (q != bad)
		return (-1);
	from = *k;
	while (*k < len && (in[*k] == '\n' || in[*k] == '\r'))
		(*k)++;
	return (*k == from ? -1 : 0);
}

/* b64_ssse3_one - 16 bytes into out (12 of them valid); the mask of
 * the bytes outside the alphabet, whose output is garbage */

__attribute__((target("ssse3")))
static inline unsigned
b64_ssse3_one(const unsigned char *in, unsigned char *out)
{
	const __m128i lo_bad = _mm_loadu_si128((const __m128i *)b64_lo_bad);
	const __m128i hi_class = _mm_loadu_si128((const __m128i *)
	    b64_hi_class);
	const __m128i offset = _mm_loadu_si128((const __m128i *)b64_offset);
	const __m128i nib = _mm_set1_epi8(0x0f);
	__m128i v, hi, lo, sext;
	unsigned bad;

	v = _mm_loadu_si128((const __m128i *)in);
	hi = _mm_and_si128(_mm_srli_epi32(v, 4), nib);
	lo = _mm_and_si128(v, nib);
	bad = ~_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_and_si128(
	    _mm_shuffle_epi8(lo_bad, lo), _mm_shuffle_epi8(hi_class, hi)),
	    _mm_setzero_si128())) & 0xffff;
	/* '/' takes offset 1: its high nibble less one. */
	hi = _mm_add_epi8(hi, _mm_cmpeq_epi8(v, _mm_set1_epi8('/')));
	sext = _mm_add_epi8(v, _mm_shuffle_epi8(offset, hi));
	/* aaaaaabb bbbbcccc ccdddddd from the four sextets of each dword,
	 * then the three bytes of each dword in order. */
	sext = _mm_maddubs_epi16(sext, _mm_set1_epi32(0x01400140));
	sext = _mm_madd_epi16(sext, _mm_set1_epi32(0x00011000));
	sext = _mm_shuffle_epi8(sext, _mm_setr_epi8(2, 1, 0, 6, 5, 4,
	    10, 9, 8, 14, 13, 12, -1, -1, -1, -1));
	_mm_storeu_si128((__m128i *)out, sext);
	return (bad);
}

/* b64_ssse3_tail - 16-byte blocks from k on */

__attribute__((target("ssse3")))
static inline size_t
b64_ssse3_tail(const unsigned char *in, size_t len, unsigned char *out,
    size_t k, size_t *w)
{
	unsigned bad;

	while (len - k >= 16) {
		if ((bad = b64_ssse3_one(in + k, out + *w)) == 0) {
			k += 16;
			*w += 12;
		} else if (b64_after(in, len, &k, w,
		    (unsigned)__builtin_ctz(bad)) < 0)
			break;
	}
	return (k);
}

/* b64_ssse3 - 16-byte blocks */

__attribute__((target("ssse3")))
static size_t
b64_ssse3(const unsigned char *in, size_t len, unsigned char *out,
    size_t *outlen)
{
	*outlen = 0;
	return (b64_ssse3_tail(in, len, out, 0, outlen));
}

/* b64_avx2_one - 32 bytes into out (24 of them valid); the mask of the
 * bytes outside the alphabet, whose output is garbage */

__attribute__((target("avx2")))
static inline unsigned
b64_avx2_one(const unsigned char *in, unsigned char *out)
{
	const __m256i lo_bad = _mm256_broadcastsi128_si256(_mm_loadu_si128(
	    (const __m128i *)b64_lo_bad));
	const __m256i hi_class = _mm256_broadcastsi128_si256(_mm_loadu_si128(
	    (const __m128i *)b64_hi_class));
	const __m256i offset = _mm256_broadcastsi128_si256(_mm_loadu_si128(
	    (const __m128i *)b64_offset));
	const __m256i nib = _mm256_set1_epi8(0x0f);
	const __m256i order = _mm256_setr_epi8(2, 1, 0, 6, 5, 4, 10, 9, 8,
	    14, 13, 12, -1, -1, -1, -1, 2, 1, 0, 6, 5, 4, 10, 9, 8, 14, 13, 12,
	    -1, -1, -1, -1);
	__m256i v, hi, lo, sext;
	unsigned bad;

	v = _mm256_loadu_si256((const __m256i *)in);
	hi = _mm256_and_si256(_mm256_srli_epi32(v, 4), nib);
	lo = _mm256_and_si256(v, nib);
	bad = ~(unsigned)_mm256_movemask_epi8(_mm256_cmpeq_epi8(
	    _mm256_and_si256(_mm256_shuffle_epi8(lo_bad, lo),
	    _mm256_shuffle_epi8(hi_class, hi)), _mm256_setzero_si256()));
	hi = _mm256_add_epi8(hi, _mm256_cmpeq_epi8(v, _mm256_set1_epi8('/')));
	sext = _mm256_add_epi8(v, _mm256_shuffle_epi8(offset, hi));
	sext = _mm256_maddubs_epi16(sext, _mm256_set1_epi32(0x01400140));
	sext = _mm256_madd_epi16(sext, _mm256_set1_epi32(0x00011000));
	sext = _mm256_shuffle_epi8(sext, order);
	/* 12 bytes in each lane: the dwords 0-2 and 4-6 together. */
	sext = _mm256_permutevar8x32_epi32(sext,
	    _mm256_setr_epi32(0, 1, 2, 4, 5, 6, 3, 7));
	_mm256_storeu_si256((__m256i *)out, sext);
	return (bad);
}

/*
 * b64_avx2_line - a whole 76-column line (RFC 2045's limit, and what
 * nearly every mailer writes) and its line break, as three blocks at
 * 0, 32 and 44: the third overlaps the second by 20 bytes, which decode
 * to the same 15 bytes again, so no line break ever falls inside a
 * block and no scalar step runs between lines. Returns the input bytes
 * taken (78 or 77), or 0 when this is not such a line.
 */
__attribute__((target("avx2")))
static inline size_t
b64_avx2_line(const unsigned char *in, unsigned char *out)
{
	size_t	step;

	if (in[76] == '\n')
		step = 77;
	else if (in[76] == '\r' && in[77] == '\n')
		step = 78;
	else
		return (0);
	if ((b64_avx2_one(in, out) | b64_avx2_one(in + 32, out + 24)
	    | b64_avx2_one(in + 44, out + 33)) != 0)
		return (0);
	return (step);
}

/* b64_avx2 - whole lines, else 32-byte blocks; then 16-byte ones */

__attribute__((target("avx2")))
static size_t
b64_avx2(const unsigned char *in, size_t len, unsigned char *out,
    size_t *outlen)
{
	size_t	k = 0, w = 0, step;
	unsigned bad;

	while (len - k >= 32) {
		if (len - k >= 78 && (step = b64_avx2_line(in + k,
		    out + w)) != 0) {
			k += step;
			w += 57;
		} else if ((bad = b64_avx2_one(in + k, out + w)) == 0) {
			k += 32;
			w += 24;
		} else if (b64_after(in, len, &k, &w,
		    (unsigned)__builtin_ctz(bad)) < 0) {
			*outlen = w;
			return (k);
		}
	}
	k = b64_ssse3_tail(in, len, out, k, &w);
	*outlen = w;
	return (k);
}

/* b64_pick - the best kernel this CPU runs */

static int
b64_pick(void)
{
	__builtin_cpu_init();
	if (__builtin_cpu_supports("avx2"))
		return (B64_AVX2);
	if (__builtin_cpu_supports("ssse3"))
		return (B64_SSSE3);
	return (B64_SCALAR);
}
#endif /* B64_ARCH_X86 */

#ifdef B64_ARCH_NEON

/* b64_neon - 16-byte blocks with NEON table lookups */

static size_t
b64_neon(const unsigned char *in, size_t len, unsigned char *out,
    size_t *outlen)
{
	const uint8x16_t lo_bad = vld1q_u8(b64_lo_bad);
	const uint8x16_t hi_class = vld1q_u8(b64_hi_class);
	const int8x16_t offset = vld1q_s8(b64_offset);
	const uint8x16_t nib = vdupq_n_u8(0x0f);
	uint8x16_t v, hi, lo;
	uint8x16x4_t q;
	size_t	k = 0;

	/* Four sextets to three bytes with vld4's de-interleave: lanes a,
	 * b, c, d of 16 quanta at once, so blocks are 64 bytes here. */
	for (; len - k >= 64; k += 64, out += 48) {
		uint8x16x3_t o;
		int	i, bad = 0;

		q = vld4q_u8(in + k);
		for (i = 0; i < 4; i++) {
			v = q.val[i];
			hi = vshrq_n_u8(v, 4);
			lo = vandq_u8(v, nib);
			if (vmaxvq_u8(vandq_u8(vqtbl1q_u8(lo_bad, lo),
			    vqtbl1q_u8(hi_class, hi))) != 0)
				bad = 1;
			hi = vaddq_u8(hi, vceqq_u8(v, vdupq_n_u8('/')));
			q.val[i] = vreinterpretq_u8_s8(vaddq_s8(
			    vreinterpretq_s8_u8(v), vqtbl1q_s8(offset, hi)));
		}
		if (bad)
			break;
		o.val[0] = vorrq_u8(vshlq_n_u8(q.val[0], 2),
		    vshrq_n_u8(q.val[1], 4));
		o.val[1] = vorrq_u8(vshlq_n_u8(q.val[1], 4),
		    vshrq_n_u8(q.val[2], 2));
		o.val[2] = vorrq_u8(vshlq_n_u8(q.val[2], 6), q.val[3]);
		vst3q_u8(out, o);
	}
	*outlen = k / 4 * 3;
	return (k);
}

static int
b64_pick(void)
{
	return (B64_NEON);
}
#endif /* B64_ARCH_NEON */

#if !defined(B64_ARCH_X86) && !defined(B64_ARCH_NEON)
static int
b64_pick(void)
{
	return (B64_SCALAR);
}
#endif

/* b64_none - no kernel: the scalar loop does it all */

static size_t
b64_none(const unsigned char *in, size_t len, unsigned char *out,
    size_t *outlen)
{
	(void)in;
	(void)len;
	(void)out;
	*outlen = 0;
	return (0);
}

/* b64_use - run this kernel from now on; -1 if the CPU lacks it */

int
b64_use(int kernel)
{
	switch (kernel) {
	case B64_BEST:
		return (b64_use(b64_pick()));
	case B64_SCALAR:
		b64_kernel = b64_none;
		break;
#ifdef B64_ARCH_X86
	case B64_SSSE3:
		__builtin_cpu_init();
		if (!__builtin_cpu_supports("ssse3"))
			return (-1);
		b64_kernel = b64_ssse3;
		break;
	case B64_AVX2:
		__builtin_cpu_init();
		if (!__builtin_cpu_supports("avx2"))
			return (-1);
		b64_kernel = b64_avx2;
		break;
#endif
#ifdef B64_ARCH_NEON
	case B64_NEON:
		b64_kernel = b64_neon;
		break;
#endif
	default:
		return (-1);
	}
	b64_which = kernel;
	return (0);
}

/* b64_kernel_name - the kernel in use, for benchmarks and logs */

const char *
b64_kernel_name(void)
{
	static const char *names[] = {"scalar", "ssse3", "avx2", "neon"};

	if (b64_which < 0)
		(void)b64_use(B64_BEST);
	return (names[b64_which]);
}

/* b64_blocks - decode the clean quanta at the start of in; the input
 * bytes taken, the output bytes in *outlen */

size_t
b64_blocks(const unsigned char *in, size_t len, unsigned char *out,
    size_t *outlen)
{
	if (b64_kernel == 0)
		(void)b64_use(B64_BEST);
	return (b64_kernel(in, len, out, outlen));
}
