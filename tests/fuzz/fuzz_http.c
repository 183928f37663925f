/*
 * fuzz_http.c - libFuzzer harness for the HTTP response parser
 *
 * Input: one control byte (bit 0: the response answers a HEAD; bit 1:
 * the connection closes after the input; bits 2-7: how chunk lengths
 * are drawn), then the response bytes. The response is parsed whole and
 * again in chunks whose lengths come from the input itself; both runs
 * must end in the same state with the same status, framing, body count
 * and kept text, and the parser must never take more than it is given.
 * A response to anything but a HEAD is read as a GET's: its 2xx body
 * goes to a sink, which must see the same bytes (hashed) and the same
 * starts in both runs, and exactly the body bytes counted.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "detach.h"

static struct http_resp fuzz_a, fuzz_b;

/* What a sink saw. */
struct fuzz_sink {
	uint64_t hash;			/* FNV-1a of the bytes */
	uint64_t n;
	int	begins;
};

static struct fuzz_sink fuzz_sa, fuzz_sb;

/* fuzz_sink - a GET's body taker that never refuses */
static int
fuzz_sink(void *v, const unsigned char *p, size_t n)
{
	struct fuzz_sink *k = v;
	size_t i;

	if (n == 0) {
		k->begins++;
		k->n = 0;
		k->hash = 14695981039346656037ULL;
		return (0);
	}
	for (i = 0; i < n; i++) {
		k->hash ^= p[i];
		k->hash *= 1099511628211ULL;
	}
	k->n += n;
	return (0);
}

/* fuzz_run - feed in chunks of lengths drawn from the data; 0: whole */
static size_t
fuzz_run(struct http_resp *r, struct fuzz_sink *sk, const uint8_t *p,
    size_t len, int head, int eof, unsigned mode)
{
	size_t off = 0, n, taken = 0, got;
	unsigned k = 0;

	http_resp_init(r, head);
	memset(sk, 0, sizeof(*sk));
	if (!head)
		http_resp_sink(r, fuzz_sink, sk);
	while (off < len) {
		if (mode == 0)
			n = len - off;
		else {
			/* lengths 1..(mode+1), taken from bytes already fed */
			n = 1 + (p[k++ % len] % (mode + 1));
			if (n > len - off)
				n = len - off;
		}
		got = http_resp_feed(r, p + off, n);
		if (got > n)
			abort();
		taken += got;
		if (got < n) {
			/* stopped: done or error, and it stays stopped */
			if (r->state != HTTP_RESP_DONE
			    && r->state != HTTP_RESP_ERROR)
				abort();
			if (http_resp_feed(r, p + off + got, n - got) != 0)
				abort();
			break;
		}
		off += n;
	}
	if (eof)
		http_resp_eof(r);
	if (r->len > HTTP_LINE_MAX || r->errlen > HTTP_ERRBODY_MAX
	    || strlen(r->errbody) != r->errlen
	    || strlen(r->reason) > HTTP_REASON_MAX)
		abort();
	return (taken);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t ta, tb;
	int head, eof;
	unsigned mode;

	if (size < 1)
		return (0);
	head = data[0] & 1;
	eof = (data[0] >> 1) & 1;
	mode = (data[0] >> 2) + 1;
	data++;
	size--;
	ta = fuzz_run(&fuzz_a, &fuzz_sa, data, size, head, eof, 0);
	tb = fuzz_run(&fuzz_b, &fuzz_sb, data, size, head, eof, mode);
	if (ta != tb || fuzz_a.state != fuzz_b.state
	    || fuzz_a.err != fuzz_b.err)
		abort();
	if (fuzz_a.state == HTTP_RESP_ERROR)
		return (0);
	if (fuzz_sa.hash != fuzz_sb.hash || fuzz_sa.n != fuzz_sb.n
	    || fuzz_sa.begins != fuzz_sb.begins || fuzz_sa.begins > 1
	    || (fuzz_a.state == HTTP_RESP_DONE && fuzz_a.status / 100 == 2
	    && !head && (fuzz_sa.begins != 1 || fuzz_sa.n != fuzz_a.body)))
		abort();
	if (fuzz_a.status != fuzz_b.status || fuzz_a.body != fuzz_b.body
	    || fuzz_a.close != fuzz_b.close
	    || fuzz_a.chunked != fuzz_b.chunked
	    || fuzz_a.has_length != fuzz_b.has_length
	    || fuzz_a.length != fuzz_b.length
	    || fuzz_a.interim != fuzz_b.interim
	    || strcmp(fuzz_a.reason, fuzz_b.reason) != 0
	    || strcmp(fuzz_a.errbody, fuzz_b.errbody) != 0)
		abort();
	/* a whole response: its status is a valid final one */
	if (fuzz_a.state == HTTP_RESP_DONE
	    && (fuzz_a.status < 200 || fuzz_a.status > 599))
		abort();
	return (0);
}
