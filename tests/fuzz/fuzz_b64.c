/*
 * NAME
 *	fuzz_b64 - libFuzzer harness: the base64 kernels against the
 *	scalar decoder
 * SYNOPSIS
 *	make fuzz FUZZ=b64 FUZZ_SECONDS=600
 * DESCRIPTION
 *	The input's first byte is a chunk length (0: whole); the rest is
 *	fed to mime_b64_decode() in chunks of that length, once with the
 *	scalar loop alone and once with each block kernel this CPU runs
 *	(b64.c). Every run must give the same bytes, the same decoder
 *	state and the same verdict of mime_b64_final(), and no kernel may
 *	write past the room the decoder promises (the input's length):
 *	the output buffer is exactly that long, so ASan sees any overrun.
 *	A difference aborts, which libFuzzer reports as a crash.
 * LIMITS
 *	Inputs of any length; the output buffers are allocated per run.
 * DIAGNOSTICS
 *	On a difference: one line on stderr naming the kernel, then abort().
 * BUGS
 *	None known.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "detach.h"

struct fuzz_out {
	unsigned char *buf;
	size_t	len;
	struct mime_b64 st;
	int	final;
};

static void
fuzz_decode(int kernel, const unsigned char *in, size_t len, size_t chunk,
    struct fuzz_out *o)
{
	size_t	off = 0, n;

	(void)b64_use(kernel);
	o->len = 0;
	memset(&o->st, 0, sizeof(o->st));
	while (off < len) {
		n = chunk == 0 || len - off < chunk ? len - off : chunk;
		o->len += mime_b64_decode(&o->st, in + off, n, o->buf + o->len);
		off += n;
	}
	o->final = mime_b64_final(&o->st);
}

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	static const int kernels[] = {B64_SSSE3, B64_AVX2, B64_NEON};
	struct fuzz_out ref, got;
	size_t	chunk, i;

	if (size < 1)
		return (0);
	chunk = data[0];
	data++;
	size--;
	/* Exactly the promised room: ASan catches a kernel writing past. */
	ref.buf = malloc(size + 1);
	got.buf = malloc(size + 1);
	if (ref.buf == 0 || got.buf == 0)
		abort();
	fuzz_decode(B64_SCALAR, data, size, chunk, &ref);
	for (i = 0; i < sizeof(kernels) / sizeof(kernels[0]); i++) {
		if (b64_use(kernels[i]) < 0)
			continue;
		fuzz_decode(kernels[i], data, size, chunk, &got);
		if (got.len != ref.len || memcmp(got.buf, ref.buf, ref.len) != 0
		    || got.st.acc != ref.st.acc || got.st.nbits != ref.st.nbits
		    || got.st.pad != ref.st.pad || got.st.err != ref.st.err
		    || got.final != ref.final) {
			fprintf(stderr, "fuzz_b64: %s differs from scalar\n",
			    b64_kernel_name());
			abort();
		}
	}
	free(ref.buf);
	free(got.buf);
	return (0);
}
