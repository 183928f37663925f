/*
 * fuzz_metrics.c - libFuzzer harness for the metrics request parser
 *
 * Input: one control byte (how chunk lengths are drawn: 0 whole, else
 * lengths 1..n+1 taken from the input itself), then the request bytes.
 * The request is parsed whole and again in chunks; both runs must end
 * in the same state with the same status and bytes taken, never take
 * more than given nor keep more than METRICS_HEAD_MAX, and give one of
 * the statuses the endpoint sends. The answer for that status is then
 * rendered from values copied out of the input: it must always fit.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "detach.h"

static struct metrics_req fuzz_a, fuzz_b;
static char fuzz_out[METRICS_OUT_MAX];

/* fuzz_run - feed in chunks of lengths drawn from the data; 0: whole */
static size_t
fuzz_run(struct metrics_req *r, const uint8_t *p, size_t len, unsigned mode)
{
	size_t off = 0, n, taken = 0, got;
	unsigned k = 0;

	metrics_req_init(r);
	while (off < len) {
		if (mode == 0)
			n = len - off;
		else {
			n = 1 + (p[k++ % len] % (mode + 1));
			if (n > len - off)
				n = len - off;
		}
		got = metrics_req_feed(r, p + off, n);
		if (got > n || r->len > METRICS_HEAD_MAX)
			abort();
		taken += got;
		if (got < n) {
			/* stopped: done, and it stays stopped */
			if (r->state != METRICS_REQ_DONE)
				abort();
			if (metrics_req_feed(r, p + off + got, n - got) != 0)
				abort();
			break;
		}
		off += n;
	}
	return (taken);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct metrics_values v;
	size_t ta, tb;
	unsigned mode;

	if (size < 1)
		return (0);
	mode = data[0];
	data++;
	size--;
	ta = fuzz_run(&fuzz_a, data, size, 0);
	tb = fuzz_run(&fuzz_b, data, size, mode);
	if (ta != tb || fuzz_a.state != fuzz_b.state
	    || fuzz_a.status != fuzz_b.status)
		abort();
	if (fuzz_a.state != METRICS_REQ_DONE)
		return (0);
	switch (fuzz_a.status) {
	case METRICS_CLOSE:
		if (ta != METRICS_HEAD_MAX)
			abort();
		return (0);
	case 200:
	case 400:
	case 404:
	case 405:
	case 505:
		break;
	default:
		abort();
	}
	memset(&v, 0, sizeof(v));
	memcpy(&v, data, size < sizeof(v) ? size : sizeof(v));
	if (metrics_answer(fuzz_out, sizeof(fuzz_out), fuzz_a.status, &v) == 0)
		abort();
	return (0);
}
