/*
 * fuzz_cfg - libFuzzer harness for the configuration parser
 *
 * The first byte picks a chunk size; the rest is the file. The same
 * text fed whole must give the same settings and the same first error.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "detach.h"

static struct cfg a, b;
static struct cfg_parse pa, pb;

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t	chunk, off, n;

	if (size < 1)
		return (0);
	chunk = 1 + data[0] % 64;
	data++;
	size--;
	cfg_defaults(&a);
	cfg_parse_init(&pa, &a, "fuzz.conf");
	for (off = 0; off < size; off += n) {
		n = size - off < chunk ? size - off : chunk;
		cfg_parse_feed(&pa, data + off, n);
	}
	cfg_parse_finish(&pa);
	cfg_defaults(&b);
	cfg_parse_init(&pb, &b, "fuzz.conf");
	cfg_parse_feed(&pb, data, size);
	cfg_parse_finish(&pb);
	if (memcmp(&a, &b, sizeof(a)) != 0 || pa.errors != pb.errors
	    || strcmp(pa.err, pb.err) != 0)
		abort();
	return (0);
}
