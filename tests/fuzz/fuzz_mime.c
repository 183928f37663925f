/*
 * NAME
 *	fuzz_mime - libFuzzer harness for the MIME scanner
 * SYNOPSIS
 *	make fuzz FUZZ=mime FUZZ_SECONDS=600
 * DESCRIPTION
 *	The input is a split plan and a message. Its first byte says how
 *	many plan bytes follow (low 3 bits) and how the callbacks answer
 *	(bit 3: begin() declines every other candidate; bit 4: data()
 *	refuses after 1000 bytes of a part; bit 5: link parts are reported
 *	too, mime_links()); each plan byte is the length
 *	of one chunk, the plan repeating until the message is fed. A plan
 *	byte of 0 means one byte, 255 means the rest of the input.
 *
 *	The message goes through the scanner twice: whole, then cut by
 *	the plan. Both runs must report the same events with the same
 *	offsets, names and decoded bytes (a running FNV-1a over all of
 *	them) and the same error flags: a token cut by a chunk edge may not
 *	change the result. In each run the callbacks check what the
 *	scanner promises: begin() and end() alternate; offsets stay in
 *	order and inside the input; decoded counts match the bytes handed
 *	to data(); types are lowercase; names are sanitized (no '/', '\',
 *	control character or ".."); the link part fits its buffer; a link
 *	part's fields are terminated, its digest 64 lowercase hex digits or
 *	empty, its kept fields free of CR and NUL.
 *	A broken promise aborts, which libFuzzer reports as a crash.
 * LIMITS
 *	Plans of up to 7 chunk lengths, repeated.
 * DIAGNOSTICS
 *	On a broken promise: one line on stderr naming it, then abort().
 * BUGS
 *	The decoded bytes are hashed, not compared with an independent
 *	decoder: the pipe tests do that on the corpus.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "detach.h"

#define FUZZ_PLAN_MAX	7
#define FUZZ_DATA_CAP	1000	/* data() refuses past this, when asked */

struct fuzz_run {
	uint64_t hash;			/* FNV-1a over every event */
	uint64_t fed;			/* message bytes fed so far */
	uint64_t total;			/* message length */
	int	open;			/* begin() accepted, end() not yet */
	int	candidates;		/* begin() calls */
	int	decline;		/* flag bit 3 */
	int	cap;			/* flag bit 4 */
	uint64_t seen;			/* data bytes of the open part */
	uint64_t start;			/* of the open part */
	uint64_t body;
	struct mime_link link;		/* flag bit 5 */
};

/* fuzz_fail - a promise broken: say which, then crash for libFuzzer */

static void
fuzz_fail(const char *what)
{
	fprintf(stderr, "fuzz_mime: broken promise: %s\n", what);
	abort();
}

/* fuzz_hash - fold bytes into the run's FNV-1a */

static void
fuzz_hash(struct fuzz_run *r, const void *p, size_t n)
{
	const unsigned char *s = p;
	size_t	i;

	for (i = 0; i < n; i++) {
		r->hash ^= s[i];
		r->hash *= 1099511628211ULL;
	}
}

/* fuzz_hash_u64 - fold a number into the run's FNV-1a */

static void
fuzz_hash_u64(struct fuzz_run *r, uint64_t v)
{
	fuzz_hash(r, &v, sizeof(v));
}

/* fuzz_check_part - what every reported part must satisfy */

static void
fuzz_check_part(struct fuzz_run *r, const struct mime_part *p)
{
	size_t	i, n;

	if (p->start > p->body)
		fuzz_fail("start after body");
	if (p->body > r->total)
		fuzz_fail("body past the input");
	if (p->encoding < MIME_ENC_7BIT || p->encoding > MIME_ENC_OTHER)
		fuzz_fail("encoding out of range");
	if (memchr(p->type, 0, sizeof(p->type)) == 0)
		fuzz_fail("type not terminated");
	for (i = 0; p->type[i]; i++)
		if (p->type[i] >= 'A' && p->type[i] <= 'Z')
			fuzz_fail("type not lowercase");
	if (memchr(p->name, 0, sizeof(p->name)) == 0)
		fuzz_fail("name not terminated");
	n = strlen(p->name);
	if (n > MIME_NAME_MAX)
		fuzz_fail("name too long");
	for (i = 0; i < n; i++) {
		unsigned char c = p->name[i];

		if (c == '/' || c == '\\' || c < 0x20 || c == 0x7f)
			fuzz_fail("unsafe byte in the name");
	}
	if (strstr(p->name, ".."))
		fuzz_fail("\"..\" in the name");
}

/* fuzz_check_link - what a link part's fields must satisfy */

static void
fuzz_check_link(struct fuzz_run *r, const struct mime_link *l)
{
	size_t	i, n;

	if (l != &r->link)
		fuzz_fail("link fields not in the caller's struct");
	if (memchr(l->url, 0, sizeof(l->url)) == 0
	    || memchr(l->sha256, 0, sizeof(l->sha256)) == 0
	    || memchr(l->type, 0, sizeof(l->type)) == 0
	    || memchr(l->disposition, 0, sizeof(l->disposition)) == 0)
		fuzz_fail("link field not terminated");
	if (!(l->fields & MIME_LINK_F_URL))
		fuzz_fail("link part without X-Detach-URL");
	n = strlen(l->sha256);
	if (n != 0 && n != 64)
		fuzz_fail("digest neither empty nor 64 digits");
	for (i = 0; i < n; i++)
		if (!((l->sha256[i] >= '0' && l->sha256[i] <= '9')
		    || (l->sha256[i] >= 'a' && l->sha256[i] <= 'f')))
			fuzz_fail("digest not lowercase hex");
	if (strchr(l->type, '\r') || strchr(l->disposition, '\r')
	    || strchr(l->url, '\r') || strchr(l->url, '\n'))
		fuzz_fail("CR in a kept field, or a line break in the URL");
	fuzz_hash(r, l->url, strlen(l->url) + 1);
	fuzz_hash(r, l->sha256, n + 1);
	fuzz_hash(r, l->type, strlen(l->type) + 1);
	fuzz_hash(r, l->disposition, strlen(l->disposition) + 1);
	fuzz_hash_u64(r, l->size);
	fuzz_hash_u64(r, l->ctsize);
	fuzz_hash_u64(r, (uint64_t)l->fields);
	fuzz_hash(r, l->bad ? l->bad : "", l->bad ? strlen(l->bad) + 1 : 1);
}

/* fuzz_begin - a candidate part: check it, record it, take or decline */

static int
fuzz_begin(void *ctx, const struct mime_part *p)
{
	struct fuzz_run *r = ctx;

	if (r->open)
		fuzz_fail("begin() while a part is open");
	fuzz_check_part(r, p);
	if (p->start > r->fed || p->body > r->fed)
		fuzz_fail("begin() for bytes not yet fed");
	r->candidates++;
	fuzz_hash(r, "B", 1);
	fuzz_hash_u64(r, p->start);
	fuzz_hash_u64(r, p->body);
	fuzz_hash(r, p->type, strlen(p->type));
	fuzz_hash(r, p->name, strlen(p->name) + 1);
	fuzz_hash_u64(r, (uint64_t)p->encoding << 8 | p->crlf << 1 |
	    p->attachment);
	if (p->link)
		fuzz_check_link(r, p->link);
	if (r->decline && (r->candidates & 1) == 0)
		return (0);
	r->open = 1;
	r->seen = 0;
	r->start = p->start;
	r->body = p->body;
	return (1);
}

/* fuzz_data - decoded bytes of the open part */

static int
fuzz_data(void *ctx, const unsigned char *buf, size_t len)
{
	struct fuzz_run *r = ctx;

	if (!r->open)
		fuzz_fail("data() outside a part");
	if (len == 0)
		fuzz_fail("data() with no bytes");
	if (r->cap && r->seen >= FUZZ_DATA_CAP)
		fuzz_fail("data() after it refused");
	/* Past the cap, where data() refuses depends on how the scanner
	 * cut its pieces: only the bytes before the cap are compared. */
	if (!r->cap)
		fuzz_hash(r, buf, len);
	else if (r->seen < FUZZ_DATA_CAP)
		fuzz_hash(r, buf, len < FUZZ_DATA_CAP - r->seen ? len :
		    FUZZ_DATA_CAP - r->seen);
	r->seen += len;
	if (r->cap && r->seen >= FUZZ_DATA_CAP)
		return (-1);
	return (0);
}

/* The message's start as a notice template, when mime_notice_check()
 * takes it: then every link part of the run is written from it. */
static char fuzz_tmpl[MIME_NOTICE_MAX + 1];
static size_t fuzz_tmpl_len;

/* fuzz_end - the open part is done: check its range, build its link */

static void
fuzz_end(void *ctx, const struct mime_part *p, int ok)
{
	struct fuzz_run *r = ctx;
	static const char base[] = "https://files.example.org/a/"
	    "0123456789abcdef0123456789abcdef/";
	struct mime_notice nt = {MIME_LANG_EN, 0, 0, 0};
	char	link[STORE_KEY_MAX + 64], lp[MIME_LINKPART_MAX];
	size_t	n, m, b = sizeof(base) - 1;

	if (!r->open)
		fuzz_fail("end() without begin()");
	fuzz_check_part(r, p);
	if (p->start != r->start || p->body != r->body)
		fuzz_fail("end() moved the part");
	if (p->end < p->body || p->end > r->fed)
		fuzz_fail("end offset out of range");
	if (p->decoded != r->seen && !(r->cap && r->seen >= FUZZ_DATA_CAP))
		fuzz_fail("decoded count is not the bytes handed on");
	if (ok && r->cap && r->seen >= FUZZ_DATA_CAP)
		fuzz_fail("ok although data() refused");
	r->open = 0;
	fuzz_hash(r, "E", 1);
	fuzz_hash_u64(r, p->end);
	if (r->cap && p->decoded >= FUZZ_DATA_CAP)
		fuzz_hash_u64(r, FUZZ_DATA_CAP);
	else {
		fuzz_hash_u64(r, p->decoded);
		fuzz_hash_u64(r, ok != 0);
	}

	/* The link part for this name fits, or says it does not. */
	memcpy(link, base, b);
	n = b + mime_url_encode(link + b, sizeof(link) - b, p->name,
	    strlen(p->name));
	if (n >= sizeof(link))
		fuzz_fail("url encoding overran");
	nt.tmpl = fuzz_tmpl_len ? fuzz_tmpl : 0;
	nt.tmpl_len = fuzz_tmpl_len;
	nt.lang = (int)(p->decoded & 1);	/* English and French */
	nt.expires = p->decoded & 2 ? 1796119200 : 0;
	m = mime_link_part(lp, sizeof(lp), p, link, n,
	    "0000000000000000000000000000000000000000000000000000000000000000",
	    p->crlf, &nt);
	if (m > sizeof(lp))
		fuzz_fail("link part overran");
	if (m == 0 && strlen(p->name) <= 100)
		fuzz_fail("no link part for a short name");
}

/* fuzz_scan - scan msg cut by plan (nplan == 0: whole); returns flags */

static int
fuzz_scan(struct mime_state *m, struct fuzz_run *r, int flags,
    const unsigned char *msg, size_t len, const unsigned char *plan,
    size_t nplan)
{
	size_t	off = 0, n, k = 0;
	int	err;

	memset(r, 0, sizeof(*r));
	r->hash = 14695981039346656037ULL;
	r->total = len;
	r->decline = (flags & 8) != 0;
	r->cap = (flags & 16) != 0;
	mime_init(m, fuzz_begin, fuzz_data, fuzz_end, r);
	if (flags & 32)
		mime_links(m, &r->link);
	while (off < len) {
		n = len - off;
		if (nplan > 0) {
			n = plan[k++ % nplan];
			if (n == 255)
				n = len - off;
			else if (n == 0)
				n = 1;
			if (n > len - off)
				n = len - off;
		}
		r->fed += n;
		(void)mime_feed(m, msg + off, n);
		off += n;
	}
	err = mime_finish(m);
	if (r->open)
		fuzz_fail("a part left open after mime_finish()");
	if (mime_strerror(err) == 0)
		fuzz_fail("mime_strerror() gave NULL");
	return (err);
}

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* fuzz_template - vet the input as a template (it must not crash, and
 * what it takes must expand) */

static void
fuzz_template(const uint8_t *data, size_t size)
{
	char	why[256];
	int	line;

	fuzz_tmpl_len = 0;
	if (size > MIME_NOTICE_MAX)
		size = MIME_NOTICE_MAX;
	memcpy(fuzz_tmpl, data, size);
	fuzz_tmpl[size] = 0;
	if (mime_notice_check(fuzz_tmpl, size, &line, why, sizeof(why)) == 0)
		fuzz_tmpl_len = size;
}

/* LLVMFuzzerTestOneInput - one input: plan byte(s), then the message */

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct mime_state *m;
	struct fuzz_run whole, cut;
	size_t	nplan;
	int	e1, e2;

	if (size < 1)
		return (0);
	nplan = data[0] & FUZZ_PLAN_MAX;
	if (size < 1 + nplan)
		return (0);
	if (m == 0 && (m = malloc(mime_state_size())) == 0)
		fuzz_fail("out of memory");
	fuzz_template(data + 1 + nplan, size - 1 - nplan);
	e1 = fuzz_scan(m, &whole, data[0], data + 1 + nplan,
	    size - 1 - nplan, 0, 0);
	e2 = fuzz_scan(m, &cut, data[0], data + 1 + nplan,
	    size - 1 - nplan, data + 1, nplan);
	if (e1 != e2)
		fuzz_fail("error flags depend on the split");
	if (whole.hash != cut.hash || whole.candidates != cut.candidates)
		fuzz_fail("events depend on the split");
	return (0);
}
