/*
 * fuzz_cfg - libFuzzer harness for the configuration parser
 *
 * The first byte picks a chunk size; the rest is the file. The same
 * text fed whole must give the same settings and the same first error.
 * The policy lists are compared through lookups, not by address.
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
	struct policy *pola, *polb;
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
	pola = a.policy;
	polb = b.policy;
	a.policy = b.policy = 0;
	if (memcmp(&a, &b, sizeof(a)) != 0 || pa.errors != pb.errors
	    || strcmp(pa.err, pb.err) != 0 || (pola == 0) != (polb == 0)
	    || policy_addr(pola, "a@example.org", 13)
	    != policy_addr(polb, "a@example.org", 13)
	    || policy_client(pola, "192.0.2.1")
	    != policy_client(polb, "192.0.2.1"))
		abort();
	policy_unref(pola);
	policy_unref(polb);
	return (0);
}
