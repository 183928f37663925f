/*
 * fuzz_smtp - libFuzzer harness for the ESMTP cores
 *
 * The first byte picks the chunk sizes; the rest is fed to the command
 * line splitter and table, the reply parser (then the EHLO filter), the
 * dot unstuffer and stuffer, and the XFORWARD check, once whole and once
 * in the chunks the input chose. Whole and split must agree; a stuffed
 * message must unstuff to itself. The input is also a MAIL FROM or
 * RCPT TO path (smtp_path: bounded, never longer than what it came
 * from, the same in a small buffer when it fits), looked up in policy
 * lists, and read as a policy list itself (not as a file: list).
 */
#include "detach.h"

#include <stdlib.h>
#include <string.h>

#define FUZZ_MAX	65536

static size_t
fuzz_chunk(unsigned seed, size_t i, size_t left)
{
	size_t n = 1 + ((seed * 31 + i * 7) % 17) * ((seed & 0x80) ? 64 : 1);

	return (n < left ? n : left);
}

static void
fuzz_lines(const unsigned char *p, size_t len, unsigned seed)
{
	static struct smtp_line a, b;
	const char *args, *reply;
	size_t off = 0, u, boff = 0, bn, k = 0;

	smtp_line_init(&a);
	smtp_line_init(&b);
	while (off < len) {
		u = smtp_line_feed(&a, p + off, len - off);
		off += u;
		if (!a.done)
			break;
		(void)smtp_cmd_parse(&a, &args, &reply);
		/* The same line fed in the input's chunks. */
		while (!b.done && boff < len) {
			bn = fuzz_chunk(seed, k++, len - boff);
			boff += smtp_line_feed(&b, p + boff, bn);
		}
		if (!b.done || b.len != a.len || b.rawlen != a.rawlen
		    || memcmp(a.buf, b.buf, a.len) != 0)
			abort();
		smtp_line_init(&a);
		smtp_line_init(&b);
	}
}

static void
fuzz_reply(const unsigned char *p, size_t len, unsigned seed)
{
	static struct smtp_reply a, b;
	static char out[SMTP_REPLY_MAX * 2];
	size_t ua, ub = 0, n, k = 0;
	int xf;

	smtp_reply_init(&a);
	smtp_reply_init(&b);
	ua = smtp_reply_feed(&a, p, len);
	while (!b.done && ub < len) {
		n = fuzz_chunk(seed, k++, len - ub);
		ub += smtp_reply_feed(&b, p + ub, n);
	}
	if (ua != ub || a.done != b.done || a.len != b.len || a.code != b.code
	    || a.flags != b.flags || memcmp(a.text, b.text, a.len) != 0
	    || a.len > sizeof(a.text))
		abort();
	if (a.done && !(a.flags & SMTP_REPLY_ERR_SYNTAX)) {
		n = smtp_ehlo_filter(&a, "fuzz.example", out, sizeof(out), &xf);
		if (n > sizeof(out))
			abort();
	}
}

static void
fuzz_dots(const unsigned char *p, size_t len, unsigned seed)
{
	static unsigned char a[FUZZ_MAX], b[FUZZ_MAX], s[2 * FUZZ_MAX + 8],
	    u[2 * FUZZ_MAX + 8];
	struct smtp_unstuff ua, ub;
	struct smtp_stuff st;
	size_t na, nb = 0, used, usedb = 0, o, n, k = 0, sl = 0, ul, c;
	int end, endb = 0;

	smtp_unstuff_init(&ua);
	used = smtp_unstuff(&ua, p, len, a, &na, &end);
	smtp_unstuff_init(&ub);
	while (!endb && usedb < len) {
		n = fuzz_chunk(seed, k++, len - usedb);
		c = smtp_unstuff(&ub, p + usedb, n, b + nb, &o, &endb);
		usedb += c;
		nb += o;
		if (c == 0 && !endb) {
			/* A "." or ".\r" at the chunk's end waits for more,
			 * as the caller keeps it: give it the rest. */
			if (n == len - usedb)
				break;
			c = smtp_unstuff(&ub, p + usedb, len - usedb, b + nb,
			    &o, &endb);
			usedb += c;
			nb += o;
			if (c == 0)
				break;
		}
	}
	if (used != usedb || end != endb || na != nb || memcmp(a, b, na) != 0)
		abort();
	/* Stuff what came out; unstuffing it gives it back when its lines
	 * end in CRLF (a bare LF starts a line only for the stuffer). */
	smtp_stuff_init(&st);
	for (used = 0; used < na; ) {
		n = fuzz_chunk(seed, k++, na - used);
		used += smtp_stuff(&st, a + used, n, s + sl,
		    sizeof(s) - sl, &o);
		sl += o;
	}
	sl += smtp_stuff_end(&st, s + sl, sizeof(s) - sl);
	smtp_unstuff_init(&ua);
	used = smtp_unstuff(&ua, s, sl, u, &ul, &end);
	if (!end || used != sl)
		abort();
	for (o = 0, n = 0; o < na; o++)
		if (a[o] == '\n' && (o == 0 || a[o - 1] != '\r'))
			n = 1;
	if (n == 0 && (na == 0 || (na >= 2 && a[na - 2] == '\r'
	    && a[na - 1] == '\n')) && (ul != na || memcmp(u, a, na) != 0))
		abort();
}

static void
fuzz_policy(const char *args, size_t size)
{
	static struct policy *lists;
	static char out[FUZZ_MAX + 1];
	struct policy *p = 0;
	char small[16], why[512];
	int n, m, l;

	if (lists == 0) {
		policy_set(&lists, POLICY_SKIP_SENDERS, "<> a@b.example "
		    "\"a b\"@c.example .d.example e.example", why, sizeof(why));
		policy_set(&lists, POLICY_DETACH_RECIPIENTS, "x.example "
		    ".x.example u@[192.0.2.1]", why, sizeof(why));
		policy_set(&lists, POLICY_SKIP_CLIENTS, "192.0.2.0/24 "
		    "2001:db8::/32 0.0.0.0/0", why, sizeof(why));
		if (lists == 0)
			abort();
	}
	n = smtp_path(args, out, sizeof(out));
	if (n >= 0 && ((size_t)n > size || strlen(out) != (size_t)n))
		abort();
	m = smtp_path(args, small, sizeof(small));
	if ((n >= 0 && (size_t)n < sizeof(small)) != (m >= 0)
	    || (m >= 0 && (m != n || memcmp(small, out, m) != 0)))
		abort();
	if (n >= 0 && policy_addr(lists, out, n) & ~((1 << POLICY_NLISTS) - 1))
		abort();
	(void)policy_client(lists, args);
	if (smtp_xforward_addr(args, small, sizeof(small)) == 0
	    && strlen(small) >= sizeof(small))
		abort();
	if (strncmp(args, "file:", 5) == 0)
		return;
	for (l = 0; l < POLICY_NLISTS; l += POLICY_NLISTS - 1) {
		if (policy_set(&p, l, args, why, sizeof(why)) < 0) {
			if (p != 0 || strlen(why) >= sizeof(why))
				abort();
			continue;
		}
		(void)policy_addr(p, "a@b.example", 11);
		(void)policy_addr(p, "", 0);
		(void)policy_client(p, "192.0.2.1");
		policy_unref(p);
		p = 0;
	}
}

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	static char args[FUZZ_MAX + 1];
	char ident[64];
	unsigned seed;

	if (size < 1 || size > FUZZ_MAX)
		return (0);
	seed = data[0];
	data++;
	size--;
	fuzz_lines(data, size, seed);
	fuzz_reply(data, size, seed);
	fuzz_dots(data, size, seed);
	memcpy(args, data, size);
	args[size] = 0;
	(void)smtp_xforward_check(args, 0x7f, ident, sizeof(ident));
	fuzz_policy(args, strlen(args));
	return (0);
}
