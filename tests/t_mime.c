/*
 * t_mime - unit tests of the MIME scanner, its decoders and link part
 *
 * Each case is a message and what RFC 2045/2046/2231/2047 say the
 * scanner must find in it: the candidate parts (byte range given as the
 * exact text of the part, decoded content given literally or by RFC
 * 4648 test vectors) and the error flags. Every case also runs through
 * every chunk split and must give the same events.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "detach.h"
#include "t.h"

/* What the callbacks saw, as text, compared across splits. */
struct t_run {
	struct mime_state *m;
	char	log[1 << 16];
	size_t	len;
	unsigned char data[1 << 16];	/* decoded bytes of the last part */
	size_t	dlen;
	int	errors;
	int	want;			/* begin() answer */
	char	whole[1 << 16];		/* the log of the whole-input run */
	int	nparts;
	struct mime_part parts[8];
	int	ok[8];
};

static void
t_log(struct t_run *r, const char *fmt, ...)
{
	va_list	ap;
	int	n;

	va_start(ap, fmt);
	n = vsnprintf(r->log + r->len, sizeof(r->log) - r->len, fmt, ap);
	va_end(ap);
	if (n > 0 && (size_t)n < sizeof(r->log) - r->len)
		r->len += n;
}

static int
t_begin(void *ctx, const struct mime_part *p)
{
	struct t_run *r = ctx;

	t_log(r, "begin %llu %s %s %d;", (unsigned long long)p->start,
	    p->type, p->name, p->encoding);
	r->dlen = 0;
	return (r->want);
}

static int
t_data(void *ctx, const unsigned char *p, size_t n)
{
	struct t_run *r = ctx;

	if (r->dlen + n <= sizeof(r->data)) {
		memcpy(r->data + r->dlen, p, n);
		r->dlen += n;
	}
	return (0);
}

static void
t_end(void *ctx, const struct mime_part *p, int ok)
{
	struct t_run *r = ctx;
	size_t	i;
	unsigned h = 5381;

	for (i = 0; i < r->dlen; i++)
		h = h * 33 + r->data[i];
	t_log(r, "end %llu %llu %llu %d %u;", (unsigned long long)p->start,
	    (unsigned long long)p->end, (unsigned long long)p->decoded, ok, h);
	if (r->nparts < 8) {
		r->parts[r->nparts] = *p;
		r->ok[r->nparts++] = ok;
	}
}

static void
t_reset(void *ctx)
{
	struct t_run *r = ctx;

	mime_init(r->m, t_begin, t_data, t_end, r);
	r->len = 0;
	r->log[0] = 0;
	r->dlen = 0;
	r->errors = 0;
	r->nparts = 0;
}

static void
t_chunk(void *ctx, const unsigned char *p, size_t n)
{
	struct t_run *r = ctx;

	r->errors |= mime_feed(r->m, p, n);
}

static void
t_done(void *ctx)
{
	struct t_run *r = ctx;

	r->errors |= mime_finish(r->m);
	t_log(r, "errors %d", r->errors);
}

static int
t_same(void *ctx)
{
	struct t_run *r = ctx;

	return (strcmp(r->log, r->whole) == 0);
}

static struct t_run *run;

/* t_scan - scan whole, keep the log for the split runs */

static void
t_scan(const char *in, size_t len)
{
	t_reset(run);
	t_chunk(run, (const unsigned char *)in, len);
	t_done(run);
	memcpy(run->whole, run->log, run->len + 1);
}

/* t_splits - the same input in every split gives the same events */

static void
t_splits(const char *name, const char *in, size_t len)
{
	struct t_run save;
	int	bad;

	t_scan(in, len);
	memcpy(&save.parts, run->parts, sizeof(save.parts));
	save.nparts = run->nparts;
	memcpy(save.ok, run->ok, sizeof(save.ok));
	save.dlen = run->dlen;
	memcpy(save.data, run->data, run->dlen);
	save.errors = run->errors;
	bad = t_split_run((const unsigned char *)in, len, run, t_reset, t_chunk,
	    t_done, t_same, 600);
	t_ok(bad == 0, "%s: same events in every split (%d)", name, bad);
	/* leave the whole-input results in place for the caller */
	memcpy(run->parts, &save.parts, sizeof(save.parts));
	run->nparts = save.nparts;
	memcpy(run->ok, save.ok, sizeof(save.ok));
	run->dlen = save.dlen;
	memcpy(run->data, save.data, save.dlen);
	run->errors = save.errors;
}

/* A case: message, the exact text of the replaced range (or 0), the
 * decoded bytes, and flags that must and must not be raised. */
struct t_case {
	const char *name;
	const char *msg;
	const char *range;	/* the part's bytes, found in msg */
	const char *decoded;
	size_t	dlen;
	int	ok;
	const char *pname;	/* sanitized name */
	int	errors;		/* flags that must be raised */
};

#define CRLF "\r\n"

/* RFC 4648 10 vectors: "foobar" prefixes. */
static const struct t_case cases[] = {
	{"base64 attachment, CRLF",
	    "From: a" CRLF "Content-Type: multipart/mixed; boundary=b" CRLF CRLF
	    "--b" CRLF "Content-Type: text/plain" CRLF CRLF "hi" CRLF
	    "--b" CRLF "Content-Type: application/pdf; name=a.pdf" CRLF
	    "Content-Transfer-Encoding: base64" CRLF CRLF "Zm9v" CRLF "YmFy" CRLF
	    "--b--" CRLF,
	    "Content-Type: application/pdf; name=a.pdf" CRLF
	    "Content-Transfer-Encoding: base64" CRLF CRLF "Zm9v" CRLF "YmFy",
	    "foobar", 6, 1, "a.pdf", 0},
	{"base64 padding ==, LF",
	    "Content-Type: multipart/mixed; boundary=\"b b\"\n\n"
	    "--b b\nContent-Disposition: attachment; filename=x\n"
	    "Content-Transfer-Encoding: BASE64\n\nZm9vYg==\n--b b--\n",
	    "Content-Disposition: attachment; filename=x\n"
	    "Content-Transfer-Encoding: BASE64\n\nZm9vYg==",
	    "foob", 4, 1, "x", 0},
	{"base64 padding =",
	    "Content-Type: multipart/mixed; boundary=b\n\n"
	    "--b\nContent-Disposition: attachment; filename=x\n"
	    "Content-Transfer-Encoding: base64\n\nZm9vYmE=\n--b--\n",
	    "Content-Disposition: attachment; filename=x\n"
	    "Content-Transfer-Encoding: base64\n\nZm9vYmE=",
	    "fooba", 5, 1, "x", 0},
	{"dirty base64 is not ok",
	    "Content-Type: multipart/mixed; boundary=b\n\n"
	    "--b\nContent-Disposition: attachment; filename=x\n"
	    "Content-Transfer-Encoding: base64\n\nZm9v*YmFy\n--b--\n",
	    "Content-Disposition: attachment; filename=x\n"
	    "Content-Transfer-Encoding: base64\n\nZm9v*YmFy",
	    0, 0, 0, "x", MIME_ERR_ENCODING},
	{"truncated base64 is not ok",
	    "Content-Type: multipart/mixed; boundary=b\n\n"
	    "--b\nContent-Disposition: attachment; filename=x\n"
	    "Content-Transfer-Encoding: base64\n\nZm9vY\n--b--\n",
	    "Content-Disposition: attachment; filename=x\n"
	    "Content-Transfer-Encoding: base64\n\nZm9vY",
	    0, 0, 0, "x", MIME_ERR_ENCODING},
	{"data after padding is not ok",
	    "Content-Type: multipart/mixed; boundary=b\n\n"
	    "--b\nContent-Disposition: attachment; filename=x\n"
	    "Content-Transfer-Encoding: base64\n\nZg==Zm9v\n--b--\n",
	    "Content-Disposition: attachment; filename=x\n"
	    "Content-Transfer-Encoding: base64\n\nZg==Zm9v",
	    0, 0, 0, "x", MIME_ERR_ENCODING},
	/* RFC 2045 6.7: soft break, =XX, trailing white space dropped. */
	{"quoted-printable",
	    "Content-Type: multipart/mixed; boundary=b" CRLF CRLF
	    "--b" CRLF "Content-Type: text/plain; name=q.txt" CRLF
	    "Content-Transfer-Encoding: quoted-printable" CRLF CRLF
	    "caf=C3=A9 =" CRLF "long  " CRLF "line=3D" CRLF "--b--" CRLF,
	    "Content-Type: text/plain; name=q.txt" CRLF
	    "Content-Transfer-Encoding: quoted-printable" CRLF CRLF
	    "caf=C3=A9 =" CRLF "long  " CRLF "line=3D",
	    "caf\xc3\xa9 long" CRLF "line=", 17, 1, "q.txt", 0},
	{"quoted-printable bad escape",
	    "Content-Type: multipart/mixed; boundary=b\n\n"
	    "--b\nContent-Type: text/plain; name=q.txt\n"
	    "Content-Transfer-Encoding: quoted-printable\n\nab=ZZ\n--b--\n",
	    "Content-Type: text/plain; name=q.txt\n"
	    "Content-Transfer-Encoding: quoted-printable\n\nab=ZZ",
	    0, 0, 0, "q.txt", MIME_ERR_ENCODING},
	{"8bit taken as is, last EOL belongs to the delimiter",
	    "Content-Type: multipart/mixed; boundary=b\n\n"
	    "--b\nContent-Disposition: attachment; filename=t.bin\n\n"
	    "a\n\nb\n\n--b--\n",
	    "Content-Disposition: attachment; filename=t.bin\n\na\n\nb\n",
	    "a\n\nb\n", 5, 1, "t.bin", 0},
	/* RFC 2231 3, 4: continuations, charset, percent encoding. */
	{"RFC 2231 name",
	    "Content-Type: multipart/mixed; boundary=b\n\n--b\n"
	    "Content-Disposition: attachment;\n filename*1*=%20d%C3%A9j%C3%A0.txt;\n"
	    " filename*0*=UTF-8'fr'caf%C3%A9\n\nx\n--b--\n",
	    0, "x", 1, 1, "caf\xc3\xa9 d\xc3\xa9j\xc3\xa0.txt", 0},
	{"RFC 2231 Latin-1 name",
	    "Content-Type: multipart/mixed; boundary=b\n\n--b\n"
	    "Content-Disposition: attachment; filename*=iso-8859-1''%E9t%E9.doc\n"
	    "\nx\n--b--\n",
	    0, "x", 1, 1, "\xc3\xa9t\xc3\xa9.doc", 0},
	/* RFC 2047 4.1 / 4.2 encoded words, adjacent words joined. */
	{"RFC 2047 name",
	    "Content-Type: multipart/mixed; boundary=b\n\n--b\n"
	    "Content-Type: application/octet-stream;\n"
	    " name=\"=?UTF-8?B?w6ljaGU=?= =?ISO-8859-1?Q?_=E0_moi.txt?=\"\n"
	    "\nx\n--b--\n",
	    0, "x", 1, 1, "\xc3\xa9" "che \xc3\xa0 moi.txt", 0},
	{"path and dots sanitized",
	    "Content-Type: multipart/mixed; boundary=b\n\n--b\n"
	    "Content-Disposition: attachment; filename=\"C:\\\\x\\\\..\\\\.a..b\x01.exe.\"\n"
	    "\nx\n--b--\n",
	    0, "x", 1, 1, "a.b.exe", 0},
	{"invalid UTF-8 in a name: overlong, surrogate, past U+10FFFF",
	    "Content-Type: multipart/mixed; boundary=b\n\n--b\n"
	    "Content-Disposition: attachment; filename=\"\xf8\x80\x80\xed\xa0\x80"
	    "\xe0\x80\xaf\xc3\xa9.bin\"\n\nx\n--b--\n",
	    0, "x", 1, 1, "_________\xc3\xa9.bin", 0},
	{"RFC 2231 sections out of order, twice, with a gap",
	    "Content-Type: multipart/mixed; boundary=b\n\n--b\n"
	    "Content-Disposition: attachment; filename*2=c; filename*1=b;\n"
	    " filename*0=a; filename*1=z; filename*4=e; filename=plain\n\nx\n"
	    "--b--\n",
	    0, "x", 1, 1, "abc", 0},
	{"name of dots only",
	    "Content-Type: multipart/mixed; boundary=b\n\n--b\n"
	    "Content-Disposition: attachment; filename=\"../..\"\n\nx\n--b--\n",
	    0, "x", 1, 1, "attachment", 0},
	{"message/rfc822 walked into",
	    "Content-Type: multipart/mixed; boundary=o\n\n--o\n"
	    "Content-Type: message/rfc822\n\n"
	    "Subject: fwd\nContent-Type: multipart/mixed; boundary=i\n\n"
	    "--i\nContent-Disposition: attachment; filename=in.txt\n\nin\n--i--\n"
	    "\n--o--\n",
	    "Content-Disposition: attachment; filename=in.txt\n\nin",
	    "in", 2, 1, "in.txt", 0},
	{"delimiter with transport padding",
	    "Content-Type: multipart/mixed; boundary=b\n\n"
	    "--b \t\nContent-Disposition: attachment; filename=p\n\nx\n--b-- \n",
	    "Content-Disposition: attachment; filename=p\n\nx",
	    "x", 1, 1, "p", 0},
	{"nested boundary starting with the outer one",
	    "Content-Type: multipart/mixed; boundary=b\n\n--b\n"
	    "Content-Type: multipart/mixed; boundary=b--\n\n--b--\n"
	    "Content-Disposition: attachment; filename=p\n\nx\n--b----\n"
	    "--b--\n",
	    0, 0, 0, 0, 0, MIME_ERR_AMBIGUOUS},
	{"two Content-Type fields",
	    "Content-Type: multipart/mixed; boundary=abc\n"
	    "Content-Type: multipart/mixed; boundary=xyz\n\n--xyz\n"
	    "Content-Disposition: attachment; filename=a.bin\n\nx\n--abc\n"
	    "Content-Type: text/plain\n\ntext\n--abc--\n--xyz--\n",
	    0, 0, 0, 0, 0, MIME_ERR_AMBIGUOUS},
	{"two boundary parameters",
	    "Content-Type: multipart/mixed; boundary=abc; boundary=xyz\n\n"
	    "--xyz\nContent-Disposition: attachment; filename=a.bin\n\nx\n"
	    "--xyz--\n",
	    0, 0, 0, 0, 0, MIME_ERR_AMBIGUOUS},
	{"base64-encoded multipart is opaque",
	    "Content-Type: multipart/mixed; boundary=b\n\n--b\n"
	    "Content-Type: multipart/mixed; boundary=c\n"
	    "Content-Transfer-Encoding: base64\n\n--c\n"
	    "Content-Disposition: attachment; filename=p\n\nx\n--c--\n--b--\n",
	    0, 0, 0, 0, 0, 0},
	{"QP line of 70 spaces inside is text",
	    "Content-Type: multipart/mixed; boundary=b\n\n--b\n"
	    "Content-Disposition: attachment; filename=q\n"
	    "Content-Transfer-Encoding: quoted-printable\n\n"
	    "a                                                                      b\n--b--\n",
	    "Content-Disposition: attachment; filename=q\n"
	    "Content-Transfer-Encoding: quoted-printable\n\n"
	    "a                                                                      b",
	    "a                                                                      b",
	    72, 1, "q", 0},
	{"enclosed boundary extending the outer one is fine",
	    "Content-Type: multipart/mixed; boundary=x\n\n--x\n"
	    "Content-Type: multipart/alternative; boundary=x_alt\n\n--x_alt\n"
	    "Content-Type: text/plain\n\nt\n--x_alt--\n\n--x\n"
	    "Content-Disposition: attachment; filename=p\n\nx\n--x--\n",
	    "Content-Disposition: attachment; filename=p\n\nx",
	    "x", 1, 1, "p", 0},
	{"boundary prefix is not a delimiter",
	    "Content-Type: multipart/mixed; boundary=b\n\n"
	    "--b\nContent-Disposition: attachment; filename=p\n\n--bx\n--b--\n",
	    "Content-Disposition: attachment; filename=p\n\n--bx",
	    "--bx", 4, 1, "p", 0},
	{"outer delimiter closes an inner multipart",
	    "Content-Type: multipart/mixed; boundary=o\n\n--o\n"
	    "Content-Type: multipart/mixed; boundary=i\n\n--i\n"
	    "Content-Disposition: attachment; filename=p\n\nx\n--o--\n",
	    "Content-Disposition: attachment; filename=p\n\nx",
	    "x", 1, 1, "p", MIME_ERR_TRUNCATED},
	{"missing close delimiter: part not ok",
	    "Content-Type: multipart/mixed; boundary=b\n\n"
	    "--b\nContent-Disposition: attachment; filename=p\n\nxyz\n",
	    0, 0, 0, 0, "p", MIME_ERR_TRUNCATED},
	{"multipart without boundary",
	    "Content-Type: multipart/mixed\n\n--b\n"
	    "Content-Disposition: attachment; filename=p\n\nx\n--b--\n",
	    0, 0, 0, 0, 0, MIME_ERR_NO_BOUNDARY},
	{"header syntax",
	    "Content-Type: multipart/mixed; boundary=b\n\n--b\n"
	    "Content-Disposition: attachment; filename=p\nnot a header\n\nx\n"
	    "--b--\n",
	    0, 0, 0, 0, 0, MIME_ERR_HEADER_SYNTAX},
	{"close delimiter without EOL at the end",
	    "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
	    "Content-Disposition: attachment; filename=e\r\n\r\nxy\r\n--b--",
	    "Content-Disposition: attachment; filename=e\r\n\r\nxy",
	    "xy", 2, 1, "e", 0},
	/* RFC 5322 2.2.3: unfolding drops the line break only, inside
	 * quotes too; the folding white space is part of the boundary. */
	{"boundary folded inside quotes, LF (RFC 2046 5.1.1 example)",
	    "Content-Type: multipart/mixed; boundary=\"simple\n boundary\"\n\n"
	    "--simple boundary\nContent-Disposition: attachment; filename=p\n\n"
	    "x\n--simple boundary--\n",
	    "Content-Disposition: attachment; filename=p\n\nx",
	    "x", 1, 1, "p", 0},
	{"boundary folded inside quotes with a tab, CRLF (Outlook)",
	    "Content-Type: multipart/mixed;" CRLF
	    "\tboundary=\"----=_NextPart_000_0012_01DA2B3C." CRLF
	    "\t4D5E6F70\"" CRLF CRLF
	    "------=_NextPart_000_0012_01DA2B3C.\t4D5E6F70" CRLF
	    "Content-Type: application/pdf; name=o.pdf" CRLF
	    "Content-Transfer-Encoding: base64" CRLF CRLF "Zm9vYmFy" CRLF
	    "------=_NextPart_000_0012_01DA2B3C.\t4D5E6F70--" CRLF,
	    "Content-Type: application/pdf; name=o.pdf" CRLF
	    "Content-Transfer-Encoding: base64" CRLF CRLF "Zm9vYmFy",
	    "foobar", 6, 1, "o.pdf", 0},
	{"folded boundary keeps all its white space",
	    "Content-Type: multipart/mixed; boundary=\"a\n  b\"\n\n"
	    "--a  b\nContent-Disposition: attachment; filename=w\n\n"
	    "--a b\n--ab\n--a  b--\n",
	    "Content-Disposition: attachment; filename=w\n\n--a b\n--ab",
	    "--a b\n--ab", 10, 1, "w", 0},
	{"folded boundary of an enclosed multipart",
	    "Content-Type: multipart/mixed; boundary=o\n\n--o\n"
	    "Content-Type: multipart/mixed;\n boundary=\"in\n ner\"\n\n"
	    "--in ner\nContent-Disposition: attachment; filename=i\n\nx\n"
	    "--in ner--\n\n--o--\n",
	    "Content-Disposition: attachment; filename=i\n\nx",
	    "x", 1, 1, "i", 0},
	{"enclosed multipart reusing the boundary",
	    "Content-Type: multipart/mixed; boundary=b\n\n--b\n"
	    "Content-Type: multipart/alternative; boundary=b\n\n--b\n"
	    "Content-Type: text/plain\n\nx\n--b--\n\n--b\n"
	    "Content-Disposition: attachment; filename=p\n\nx\n--b--\n",
	    0, 0, 0, 0, 0, MIME_ERR_AMBIGUOUS},
	{"unreadable Content-Type is text/plain, its name still counts",
	    "Content-Type: multipart/mixed; boundary=b\n\n--b\n"
	    "Content-Type: ; name=\"f.jpg\"\n\nx\n--b--\n",
	    "Content-Type: ; name=\"f.jpg\"\n\nx",
	    "x", 1, 1, "f.jpg", 0},
	{"mbox From line of an enclosed message",
	    "Content-Type: multipart/mixed; boundary=o\n\n--o\n"
	    "Content-Type: message/rfc822\n\nFrom a@b Tue May 10 2005\n"
	    "Content-Type: multipart/mixed; boundary=i\n\n--i\n"
	    "Content-Disposition: attachment; filename=f\n\nx\n--i--\n\n--o--\n",
	    "Content-Disposition: attachment; filename=f\n\nx",
	    "x", 1, 1, "f", 0},
	{"NUL bytes in a 7bit attachment are data",
	    "Content-Type: multipart/mixed; boundary=b\n\n--b\n"
	    "Content-Disposition: attachment; filename=n\n\na\0b\n--b--\n",
	    "Content-Disposition: attachment; filename=n\n\na\0b",
	    "a\0b", 3, 1, "n", 0},
};

/* Never detached: each message has a part that would qualify if it
 * were elsewhere. */
static const struct {
	const char *name;
	const char *msg;
} never[] = {
	{"inside multipart/signed",
	    "Content-Type: multipart/signed; boundary=s; protocol=x\n\n--s\n"
	    "Content-Type: multipart/mixed; boundary=b\n\n--b\n"
	    "Content-Disposition: attachment; filename=p\n\nx\n--b--\n\n--s\n"
	    "Content-Type: application/pgp-signature\n\nsig\n--s--\n"},
	{"inside multipart/encrypted",
	    "Content-Type: multipart/encrypted; boundary=s\n\n--s\n"
	    "Content-Disposition: attachment; filename=p\n\nx\n--s--\n"},
	{"inside multipart/related",
	    "Content-Type: multipart/related; boundary=r\n\n--r\n"
	    "Content-Type: image/png; name=i.png\n\nx\n--r--\n"},
	{"pkcs7 signature",
	    "Content-Type: multipart/mixed; boundary=b\n\n--b\n"
	    "Content-Type: application/pkcs7-signature; name=smime.p7s\n\nx\n"
	    "--b--\n"},
	{"text/calendar",
	    "Content-Type: multipart/mixed; boundary=b\n\n--b\n"
	    "Content-Type: text/calendar; name=invite.ics\n\nx\n--b--\n"},
	{"text part without a name",
	    "Content-Type: multipart/mixed; boundary=b\n\n--b\n"
	    "Content-Type: text/plain\nContent-Disposition: attachment\n\nx\n"
	    "--b--\n"},
	{"top entity",
	    "Content-Type: application/pdf\n"
	    "Content-Disposition: attachment; filename=p.pdf\n\nx\n"},
	{"delivery status",
	    "Content-Type: multipart/report; boundary=b\n\n--b\n"
	    "Content-Type: message/delivery-status\n"
	    "Content-Disposition: attachment; filename=dsn.txt\n\nx\n--b--\n"},
	{"uuencode",
	    "Content-Type: multipart/mixed; boundary=b\n\n--b\n"
	    "Content-Disposition: attachment; filename=p\n"
	    "Content-Transfer-Encoding: x-uuencode\n\nx\n--b--\n"},
};

static void
t_cases(void)
{
	const struct t_case *c;
	const char *at;
	size_t	i, len;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		c = &cases[i];
		len = strlen(c->msg);
		/* the one case with a NUL spells its length out */
		if (strstr(c->name, "NUL"))
			len += strlen(c->msg + len + 1) + 1;
		t_splits(c->name, c->msg, len);
		if (c->errors)
			t_ok((run->errors & c->errors) == c->errors,
			    "%s: raises %s", c->name, mime_strerror(c->errors));
		else
			t_ok(run->errors == 0, "%s: no error (%s)", c->name,
			    mime_strerror(run->errors));
		if (c->pname == 0) {
			t_ok(run->nparts == 0 || !run->ok[0],
			    "%s: nothing detachable", c->name);
			continue;
		}
		t_ok(run->nparts >= 1, "%s: candidate found", c->name);
		if (run->nparts < 1)
			continue;
		t_ok(strcmp(run->parts[0].name, c->pname) == 0,
		    "%s: name \"%s\"", c->name, run->parts[0].name);
		t_ok(run->ok[0] == c->ok, "%s: ok is %d", c->name, c->ok);
		if (!c->ok)
			continue;
		t_ok(run->dlen == c->dlen && memcmp(run->data, c->decoded,
		    c->dlen) == 0 && run->parts[0].decoded == c->dlen,
		    "%s: decoded content", c->name);
		if (c->range) {
			size_t	rlen = strlen(c->range);

			if (strstr(c->name, "NUL"))
				rlen += strlen(c->range + rlen + 1) + 1;
			at = memmem(c->msg, len, c->range, rlen);
			t_ok(at && run->parts[0].start == (uint64_t)(at - c->msg)
			    && run->parts[0].end == (uint64_t)(at - c->msg)
			    + rlen, "%s: range", c->name);
		}
	}
	for (i = 0; i < sizeof(never) / sizeof(never[0]); i++) {
		t_splits(never[i].name, never[i].msg, strlen(never[i].msg));
		t_ok(run->nparts == 0, "%s: not a candidate", never[i].name);
	}
}

/* t_build - append to a bounded buffer */
static char big[1 << 20];
static size_t blen;

static void
t_add(const char *s, size_t n)
{
	if (blen + n < sizeof(big)) {
		memcpy(big + blen, s, n);
		blen += n;
	}
}

static void
t_adds(const char *s)
{
	t_add(s, strlen(s));
}

static void
t_addc(int c, size_t n)
{
	while (n-- > 0 && blen + 1 < sizeof(big))
		big[blen++] = c;
}

/* MIME_BOUNDARY_MAX at N-1, N, N+1. */
static void
t_limit_boundary(void)
{
	int	d;
	char	b[MIME_BOUNDARY_MAX + 2];

	for (d = -1; d <= 1; d++) {
		size_t	n = MIME_BOUNDARY_MAX + d;

		memset(b, 'q', n);
		b[n] = 0;
		blen = 0;
		t_adds("Content-Type: multipart/mixed; boundary=\"");
		t_adds(b);
		t_adds("\"\n\n--");
		t_adds(b);
		t_adds("\nContent-Disposition: attachment; filename=p\n\nx\n--");
		t_adds(b);
		t_adds("--\n");
		t_splits("boundary limit", big, blen);
		if (d <= 0)
			t_ok(run->nparts == 1 && run->ok[0] && run->errors == 0,
			    "boundary of %zu bytes parsed", n);
		else
			t_ok(run->nparts == 0
			    && (run->errors & MIME_ERR_BOUNDARY_LEN),
			    "boundary of %zu bytes refused", n);
	}
}

/* MIME_DEPTH_MAX at N-1, N, N+1 nested multiparts. */
static void
t_limit_depth(void)
{
	int	d, i, depth;
	char	b[16];

	for (d = -1; d <= 1; d++) {
		depth = MIME_DEPTH_MAX + d;
		blen = 0;
		for (i = 0; i < depth; i++) {
			snprintf(b, sizeof(b), "b%02d", i);
			t_adds("Content-Type: multipart/mixed; boundary=");
			t_adds(b);
			t_adds("\n\n--");
			t_adds(b);
			t_adds("\n");
		}
		t_adds("Content-Disposition: attachment; filename=p\n\nx\n");
		for (i = depth - 1; i >= 0; i--) {
			snprintf(b, sizeof(b), "b%02d", i);
			t_adds("--");
			t_adds(b);
			t_adds("--\n");
		}
		t_splits("depth limit", big, blen);
		if (d <= 0)
			t_ok(run->nparts == 1 && run->ok[0] && run->errors == 0,
			    "nesting of %d parsed", depth);
		else
			t_ok(run->nparts == 0 && (run->errors & MIME_ERR_NESTING),
			    "nesting of %d refused", depth);
	}
}

/* MIME_HEADER_MAX at N-1, N, N+1 bytes of one field line: the
 * multipart's Content-Type, which decides the structure. */
static void
t_limit_header(void)
{
	static const char pre[] =
	    "Content-Type: multipart/mixed; boundary=b; x=";
	int	d;

	for (d = -1; d <= 1; d++) {
		size_t	n = MIME_HEADER_MAX + d;

		blen = 0;
		t_adds(pre);
		t_addc('y', n - strlen(pre));
		t_adds("\n\n--b\nContent-Disposition: attachment; filename=p\n"
		    "\nx\n--b--\n");
		t_splits("header limit", big, blen);
		if (d <= 0)
			t_ok(run->nparts == 1 && run->errors == 0,
			    "header field of %zu bytes parsed", n);
		else
			t_ok(run->nparts == 0
			    && (run->errors & MIME_ERR_HEADER_LEN),
			    "header field of %zu bytes refused", n);
	}
	/* A long field we do not read is no error. */
	blen = 0;
	t_adds("Content-Type: multipart/mixed; boundary=b\nX-Long: ");
	t_addc('z', 3 * MIME_HEADER_MAX);
	t_adds("\n\n--b\nContent-Disposition: attachment; filename=p\n\nx\n"
	    "--b--\n");
	t_splits("long other header", big, blen);
	t_ok(run->nparts == 1 && run->ok[0], "long other header skipped");
}

/* MIME_PEEK_MAX: a delimiter line with padding up to the peek. */
static void
t_limit_peek(void)
{
	int	d;

	for (d = -1; d <= 1; d++) {
		size_t	n = MIME_PEEK_MAX + d;

		blen = 0;
		t_adds("Content-Type: multipart/mixed; boundary=b\n\n--b\n"
		    "Content-Disposition: attachment; filename=p\n\nx\n--b--");
		t_addc(' ', n - 5);
		t_adds("\n");
		t_splits("peek limit", big, blen);
		if (d <= 0)
			t_ok(run->nparts == 1 && run->ok[0] && run->errors == 0,
			    "padded delimiter of %zu bytes seen", n);
		else
			t_ok(run->errors & MIME_ERR_TRUNCATED,
			    "padded delimiter of %zu bytes is text", n);
	}
}

/* MIME_KEEP_FIELD_MAX at N-1, N, N+1: a longer Content-Disposition
 * value could not be given back by a restore, so its part stays. */
static void
t_limit_keep(void)
{
	static const char pre[] = "attachment; filename=p; x=";
	int	d;

	for (d = -1; d <= 1; d++) {
		size_t	n = MIME_KEEP_FIELD_MAX + d;

		blen = 0;
		t_adds("Content-Type: multipart/mixed; boundary=b\n\n--b\n"
		    "Content-Disposition:  ");
		t_adds(pre);
		t_addc('y', n - strlen(pre));
		t_adds(" \n\nx\n--b--\n");
		t_splits("kept field limit", big, blen);
		if (d <= 0)
			t_ok(run->nparts == 1 && run->ok[0] && run->errors == 0
			    && strlen(run->parts[0].cdisp) == n,
			    "Content-Disposition of %zu bytes kept", n);
		else
			t_ok(run->nparts == 0 && run->errors == 0,
			    "Content-Disposition of %zu bytes: not detached", n);
	}
}

/*
 * The original field values as RFC 5322 2.2.3 unfolds them: each line
 * break goes, the white space that follows it stays; white space at the
 * ends of the value is no part of it (2.2: the field body follows the
 * colon; RFC 2045 5.1 allows white space around it). Cases cover a
 * part with only one of the fields, and a NUL in a value.
 */
static const struct {
	const char *name;
	const char *msg;
	size_t	len;		/* 0: strlen */
	int	nparts;
	const char *ctype;
	const char *cdisp;
} keep[] = {
	{"fields kept unfolded",
	    "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
	    "Content-Type: application/pdf;\r\n\tname=\"a b.pdf\"  \r\n"
	    "Content-Disposition:attachment;\r\n filename=\"a b.pdf\";\r\n"
	    "  size=3\r\n\r\nabc\r\n--b--\r\n", 0, 1,
	    "application/pdf;\tname=\"a b.pdf\"",
	    "attachment; filename=\"a b.pdf\";  size=3"},
	{"no Content-Type: none kept",
	    "Content-Type: multipart/mixed; boundary=b\n\n--b\n"
	    "Content-Disposition: attachment; filename*=utf-8''%C3%A9.bin\n"
	    "\nx\n--b--\n", 0, 1,
	    "", "attachment; filename*=utf-8''%C3%A9.bin"},
	{"no Content-Disposition: none kept",
	    "Content-Type: multipart/mixed; boundary=b\n\n--b\n"
	    "Content-Type: image/png; name=i.png\n\nx\n--b--\n", 0, 1,
	    "image/png; name=i.png", ""},
	{"NUL in Content-Type: not detached",
	    "Content-Type: multipart/mixed; boundary=b\n\n--b\n"
	    "Content-Type: image/png; x=\0; name=i.png\n\nx\n--b--\n", 97, 0,
	    0, 0},
};

static void
t_keep_fields(void)
{
	size_t	i, len;

	for (i = 0; i < sizeof(keep) / sizeof(keep[0]); i++) {
		len = keep[i].len ? keep[i].len : strlen(keep[i].msg);
		t_splits(keep[i].name, keep[i].msg, len);
		if (keep[i].nparts == 0) {
			t_ok(run->nparts == 0, "%s", keep[i].name);
			continue;
		}
		t_ok(run->nparts == 1 && run->ok[0]
		    && strcmp(run->parts[0].ctype, keep[i].ctype) == 0
		    && strcmp(run->parts[0].cdisp, keep[i].cdisp) == 0,
		    "%s: [%s] [%s]", keep[i].name, run->parts[0].ctype,
		    run->parts[0].cdisp);
	}
}

/* A long base64 attachment decodes to what was encoded. */
static void
t_long_base64(void)
{
	static const char alpha[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	unsigned char raw[30000];
	size_t	i, col = 0;
	uint32_t x = 1;

	for (i = 0; i < sizeof(raw); i++) {
		x = x * 1103515245 + 12345;
		raw[i] = x >> 16;
	}
	blen = 0;
	t_adds("Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
	    "Content-Type: application/octet-stream; name=r.bin\r\n"
	    "Content-Transfer-Encoding: base64\r\n\r\n");
	/* RFC 2045 6.8 encoding, 76 characters a line */
	for (i = 0; i + 3 <= sizeof(raw); i += 3) {
		uint32_t q = raw[i] << 16 | raw[i + 1] << 8 | raw[i + 2];
		char	e[4] = {alpha[q >> 18], alpha[q >> 12 & 63],
		alpha[q >> 6 & 63], alpha[q & 63]};

		t_add(e, 4);
		if ((col += 4) == 76) {
			t_adds("\r\n");
			col = 0;
		}
	}
	t_adds("\r\n--b--\r\n");
	t_splits("30000-byte base64", big, blen);
	t_ok(run->nparts == 1 && run->ok[0] && run->dlen == sizeof(raw)
	    && memcmp(run->data, raw, sizeof(raw)) == 0 && run->parts[0].crlf,
	    "30000-byte base64 decodes to its input");
}

/* RFC 3986 2.3: only unreserved characters stay as they are. */
static void
t_url(void)
{
	char	out[64];

	mime_url_encode(out, sizeof(out), "a b/\xc3\xa9~-._%", 11);
	t_ok(strcmp(out, "a%20b%2F%C3%A9~-._%25") == 0, "url encode: %s", out);
}

static const char t_hex64[] =
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/* t_part - a part as a mail client sends it: type, size, and the two
 * fields Thunderbird writes for a plain name */
static void
t_part(struct mime_part *p, const char *name, const char *type,
    uint64_t size)
{
	memset(p, 0, sizeof(*p));
	snprintf(p->name, sizeof(p->name), "%s", name);
	snprintf(p->type, sizeof(p->type), "%s", type);
	p->decoded = size;
	snprintf(p->ctype, sizeof(p->ctype), "%s; name=\"%s\"", type, name);
	snprintf(p->cdisp, sizeof(p->cdisp), "attachment; filename=\"%s\"",
	    name);
}

/* t_link - the link a store gives the part: link_base, key, name */
static size_t
t_link(char *link, size_t size, const char *name)
{
	size_t	n;

	n = snprintf(link, size, "https://files.example.org/a/"
	    "0123456789abcdef0123456789abcdef/");
	return (n + mime_url_encode(link + n, size - n, name, strlen(name)));
}

/* t_dump - show a link part under a failed check, as comment lines */
static void
t_dump(int ok, const char *lp)
{
	const char *e;

	if (ok)
		return;
	for (; *lp; lp = *e ? e + 1 : e) {
		e = lp + strcspn(lp, "\n");
		printf("# %.*s\n", (int)(e - lp), lp);
	}
}

/* t_flat - a quoted-printable text with its soft breaks joined */
static void
t_flat(char *out, const char *s)
{
	while (*s) {
		if (s[0] == '=' && s[1] == '\n') {
			s += 2;
			continue;
		}
		if (s[0] == '=' && s[1] == '\r' && s[2] == '\n') {
			s += 3;
			continue;
		}
		*out++ = *s++;
	}
	*out = 0;
}

/* t_okb - a check on a link part, shown when it fails */
static void
t_okb(int ok, const char *what, const char *lp)
{
	t_ok(ok, "%s", what);
	t_dump(ok, lp);
}

/* t_body - the body of a link part (after the blank line), or "" */
static const char *
t_body(const char *lp)
{
	const char *b = strstr(lp, "\r\n\r\n");

	if (b)
		return (b + 4);
	b = strstr(lp, "\n\n");
	return (b ? b + 2 : "");
}

/* t_header - does the link part have this exact header line? */
static int
t_header(const char *lp, const char *line)
{
	const char *p = lp;
	size_t	n = strlen(line);
	const char *end = strstr(lp, "\n\n");
	const char *end2 = strstr(lp, "\r\n\r\n");

	if (end2 && (!end || end2 < end))
		end = end2;
	for (; p && (!end || p < end); p = strchr(p, '\n'), p = p ? p + 1 : 0)
		if (strncmp(p, line, n) == 0 && (p[n] == '\r' || p[n] == '\n'))
			return (1);
	return (0);
}

/*
 * The link part in English and French, built-in text and template. The
 * expected texts are written here from the specification: labels,
 * decimal units (kB, MB; ko, Mo), the French decimal comma, U+00A0
 * before a French colon, dates in UTC, RFC 5322 3.3 dates checked with
 * date(1) (date -u -d '2026-12-01 10:00:00' +%s gives 1796119200, a
 * Tuesday), RFC 2045 6.7 quoted-printable encoded by hand.
 */
static void
t_link_part(void)
{
	struct mime_notice nt = {MIME_LANG_EN, 0, 0, 0};
	struct mime_part p;
	char	buf[MIME_LINKPART_MAX], link[1024];
	size_t	n, ln;

	/* English, no expiry: as before, less the third URL */
	t_part(&p, "report.pdf", "application/pdf", 10485760);
	ln = t_link(link, sizeof(link), p.name);
	n = mime_link_part(buf, sizeof(buf), &p, link, ln, t_hex64, 1, &nt);
	buf[n] = 0;
	t_okb(n > 0 && strcmp(buf,
	    "Content-Type: text/plain; charset=utf-8\r\n"
	    "Content-Disposition: inline\r\n"
	    "Content-Transfer-Encoding: 7bit\r\n"
	    "X-Detach-URL: https://files.example.org/a/"
	    "0123456789abcdef0123456789abcdef/report.pdf\r\n"
	    "X-Detach-SHA256: 0123456789abcdef0123456789abcdef"
	    "0123456789abcdef0123456789abcdef\r\n"
	    "X-Detach-Size: 10485760\r\n"
	    "X-Detach-Content-Type: application/pdf; name=\"report.pdf\"\r\n"
	    "X-Detach-Content-Disposition: attachment; "
	    "filename=\"report.pdf\"\r\n"
	    "\r\n"
	    "Attachment: report.pdf\r\n"
	    "Size: 10.4 MB\r\n"
	    "Download: https://files.example.org/a/"
	    "0123456789abcdef0123456789abcdef/report.pdf") == 0,
	    "link part, English, no expiry", buf);

	/* English with an expiry, LF */
	nt.expires = 1796119200;
	n = mime_link_part(buf, sizeof(buf), &p, link, ln, t_hex64, 0, &nt);
	buf[n] = 0;
	t_okb(n > 0 && t_header(buf, "X-Detach-Expires: Tue, 01 Dec 2026 "
	    "10:00:00 +0000") && strcmp(t_body(buf),
	    "Attachment: report.pdf\n"
	    "Size: 10.4 MB\n"
	    "Available until: 1 December 2026, 10:00 UTC\n"
	    "Download: https://files.example.org/a/"
	    "0123456789abcdef0123456789abcdef/report.pdf") == 0
	    && strchr(buf, '\r') == 0,
	    "link part, English, expires", buf);
	nt.expires = 1835481599;	/* date -u -d @1835481599: a leap day */
	n = mime_link_part(buf, sizeof(buf), &p, link, ln, t_hex64, 0, &nt);
	buf[n] = 0;
	t_ok(t_header(buf, "X-Detach-Expires: Tue, 29 Feb 2028 23:59:59 +0000")
	    && strstr(buf, "\nAvailable until: 29 February 2028, 23:59 UTC\n"),
	    "expiry on a leap day, English");

	/* French: quoted-printable, by hand */
	nt.lang = MIME_LANG_FR;
	nt.expires = 1796119200;
	t_part(&p, "devis.pdf", "application/pdf", 1536000);
	ln = t_link(link, sizeof(link), p.name);
	n = mime_link_part(buf, sizeof(buf), &p, link, ln, t_hex64, 1, &nt);
	buf[n] = 0;
	t_okb(n > 0 && t_header(buf, "Content-Transfer-Encoding: "
	    "quoted-printable") && t_header(buf, "Content-Type: text/plain; "
	    "charset=utf-8") && t_header(buf, "X-Detach-Expires: Tue, 01 Dec "
	    "2026 10:00:00 +0000") && strcmp(t_body(buf),
	    "Pi=C3=A8ce jointe=C2=A0: devis.pdf\r\n"
	    "Taille=C2=A0: 1,5 Mo\r\n"
	    "Disponible jusqu'au 1er d=C3=A9cembre 2026 =C3=A0 10 h 00 UTC\r\n"
	    "T=C3=A9l=C3=A9charger=C2=A0: https://files.example.org/a/01234567"
	    "89abcdef01=\r\n"
	    "23456789abcdef/devis.pdf") == 0,
	    "link part, French", buf);
	for (n = 0; buf[n]; n++)
		if ((unsigned char)buf[n] >= 0x80)
			break;
	t_ok(buf[n] == 0, "French link part is all ASCII");
	nt.expires = 1817449500;	/* Thu, 05 Aug 2027 07:05:00 */
	t_part(&p, "a.bin", "application/octet-stream", 999);
	ln = t_link(link, sizeof(link), p.name);
	n = mime_link_part(buf, sizeof(buf), &p, link, ln, t_hex64, 0, &nt);
	buf[n] = 0;
	t_okb(strstr(buf, "\nTaille=C2=A0: 999 octets\n"
	    "Disponible jusqu'au 5 ao=C3=BBt 2027 "
	    "=C3=A0 7 h 05 UTC\n") != 0 && t_header(buf,
	    "X-Detach-Expires: Thu, 05 Aug 2027 07:05:00 +0000"),
	    "French date and bytes", buf);
	p.decoded = 1;
	n = mime_link_part(buf, sizeof(buf), &p, link, ln, t_hex64, 0, &nt);
	buf[n] = 0;
	t_ok(strstr(buf, "\nTaille=C2=A0: 1 octet\n") != 0,
	    "French singular: 1 octet");
	p.decoded = 2500000000ULL;
	n = mime_link_part(buf, sizeof(buf), &p, link, ln, t_hex64, 0, &nt);
	buf[n] = 0;
	t_ok(strstr(buf, "\nTaille=C2=A0: 2,5 Go\n") != 0,
	    "French gigabytes: 2,5 Go");
	p.decoded = 12300;
	n = mime_link_part(buf, sizeof(buf), &p, link, ln, t_hex64, 0, &nt);
	buf[n] = 0;
	t_ok(strstr(buf, "\nTaille=C2=A0: 12,3 ko\n") != 0,
	    "French kilobytes: 12,3 ko");
}

/* Templates: placeholders, "{{", the {expires} line without expiry. */
static void
t_link_template(void)
{
	static const char tmpl[] =
	    "Fichier {{{name}}} ({size}, {type})\n"
	    "Lien : {url}\r\n"
	    "Valable jusqu'au {expires}.\n"
	    "\n";
	struct mime_notice nt = {MIME_LANG_FR, tmpl, sizeof(tmpl) - 1, 0};
	struct mime_part p;
	char	buf[MIME_LINKPART_MAX], link[1024];
	size_t	n, ln;

	t_part(&p, "plan.png", "image/png", 2048);
	ln = t_link(link, sizeof(link), p.name);
	n = mime_link_part(buf, sizeof(buf), &p, link, ln, t_hex64, 0, &nt);
	buf[n] = 0;
	t_okb(n > 0 && t_header(buf, "Content-Transfer-Encoding: 7bit")
	    && !t_header(buf, "X-Detach-Expires: ") && strcmp(t_body(buf),
	    "Fichier {plan.png} (2,0 ko, image/png)\n"
	    "Lien : https://files.example.org/a/"
	    "0123456789abcdef0123456789abcdef/plan.png") == 0,
	    "template, no expiry: its line goes", buf);
	nt.expires = 1796119200;
	nt.lang = MIME_LANG_EN;
	n = mime_link_part(buf, sizeof(buf), &p, link, ln, t_hex64, 1, &nt);
	buf[n] = 0;
	t_okb(n > 0 && strcmp(t_body(buf),
	    "Fichier {plan.png} (2.0 kB, image/png)\r\n"
	    "Lien : https://files.example.org/a/"
	    "0123456789abcdef0123456789abcdef/plan.png\r\n"
	    "Valable jusqu'au 1 December 2026, 10:00 UTC.") == 0,
	    "template, expires, CRLF", buf);
	/* UTF-8 in a template: quoted-printable */
	nt.tmpl = "\xc3\x80 t\xc3\xa9l\xc3\xa9" "charger : {url}";
	nt.tmpl_len = strlen(nt.tmpl);
	n = mime_link_part(buf, sizeof(buf), &p, link, ln, t_hex64, 0, &nt);
	buf[n] = 0;
	t_okb(t_header(buf, "Content-Transfer-Encoding: quoted-printable")
	    && strncmp(t_body(buf), "=C3=80 t=C3=A9l=C3=A9charger : https://",
	    38) == 0, "UTF-8 template is quoted-printable", buf);
}

/* mime_notice_check: errors name their line; limits at N-1, N, N+1. */
static const struct {
	const char *name;
	const char *text;
	int	ok;
	int	line;
	const char *why;
} t_tmpl[] = {
	{"all placeholders", "{name} {size} {type} {url}\n{expires}\n", 1, 0,
	    0},
	{"braces", "{{ {{name}} } }} {url}\n", 1, 0, 0},
	{"CRLF lines, tab, UTF-8", "\xc3\xa9t\xc3\xa9\t:\r\n{url}\r\n", 1, 0,
	    0},
	{"unknown placeholder", "Lien :\n{url}\nNom : {nom}\n", 0, 3,
	    "unknown placeholder \"{nom}\""},
	{"uppercase placeholder", "{URL}\n", 0, 1, "unknown placeholder"},
	{"unclosed brace", "{url}\n\nsee {name\n", 0, 3,
	    "unknown placeholder \"{name\""},
	{"lone brace", "{url} { }\n", 0, 1, "unknown placeholder \"{ }\""},
	{"no url", "{name}\n", 0, 0, "no {url}"},
	{"url only beside expires", "{name}\n{url} until {expires}\n", 0, 0,
	    "no {url} on a line without {expires}"},
	{"bad UTF-8", "{url}\n\xc3(\n", 0, 2, "not UTF-8"},
	{"cut UTF-8", "{url}\n\xe2\x80", 0, 2, "not UTF-8"},
	{"control", "{url}\x1b[1m\n", 0, 1, "control character 0x1b"},
	{"bare CR", "{url}\rx\n", 0, 1, "control character 0x0d"},
};

static void
t_notice_check(void)
{
	char	why[256], big[MIME_NOTICE_MAX + 2];
	size_t	i, n;
	int	line, r, d;

	for (i = 0; i < sizeof(t_tmpl) / sizeof(t_tmpl[0]); i++) {
		why[0] = 0;
		r = mime_notice_check(t_tmpl[i].text, strlen(t_tmpl[i].text),
		    &line, why, sizeof(why));
		if (t_tmpl[i].ok)
			t_ok(r == 0, "template %s: good (%s)", t_tmpl[i].name,
			    why);
		else
			t_ok(r < 0 && line == t_tmpl[i].line
			    && strstr(why, t_tmpl[i].why) != 0,
			    "template %s: line %d: %s", t_tmpl[i].name, line,
			    why);
	}
	/* MIME_NOTICE_MAX bytes at N-1, N, N+1 */
	for (d = -1; d <= 1; d++) {
		n = MIME_NOTICE_MAX + d;
		memset(big, 'x', n);
		memcpy(big, "{url}", 5);
		big[n] = 0;
		r = mime_notice_check(big, n, &line, why, sizeof(why));
		t_ok(d <= 0 ? r == 0 : r < 0 && strstr(why, "longer than"),
		    "template of %zu bytes %s", n, d <= 0 ? "taken" : "refused");
	}
	/* MIME_NOTICE_VARS_MAX placeholders at N-1, N, N+1 */
	for (d = -1; d <= 1; d++) {
		n = 0;
		for (i = 0; i < (size_t)(MIME_NOTICE_VARS_MAX + d); i++)
			n += snprintf(big + n, sizeof(big) - n, "{url}\n");
		r = mime_notice_check(big, n, &line, why, sizeof(why));
		t_ok(d <= 0 ? r == 0 : r < 0 && line == MIME_NOTICE_VARS_MAX + 1
		    && strstr(why, "placeholders"), "%d placeholders %s",
		    MIME_NOTICE_VARS_MAX + d, d <= 0 ? "taken" : "refused");
	}
}

/* utf8_chars - characters of a UTF-8 string */
static size_t
t_chars(const char *s)
{
	size_t	n = 0;

	for (; *s; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return (n);
}

/*
 * The budget: every link part under 1024 bytes for names of up to 40
 * characters, about 1.5 KB at 100; a name past MIME_NOTICE_NAME_MAX
 * characters shortened in the text on a character boundary, whole in
 * the link and the fields.
 */
static void
t_link_budget(void)
{
	/* the longest common type, a 10-digit size */
	static const char docx[] = "application/vnd.openxmlformats-"
	    "officedocument.wordprocessingml.document";
	static const char *names40[] = {
		"Quarterly report 2026 - final draft.docx",
		"Compte rendu r\xc3\xa9union \xc3\xa9t\xc3\xa9, version 2.docx",
		"nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn.docx",
	};
	struct mime_notice nt = {MIME_LANG_EN, 0, 0, 1796119200};
	struct mime_part p;
	char	buf[MIME_LINKPART_MAX], link[1024], name[MIME_NAME_MAX + 1],
		want[4 * MIME_NAME_MAX], want2[4 * MIME_NAME_MAX],
		flat[MIME_LINKPART_MAX], *b;
	size_t	n, ln, i, k, worst = 0;
	int	lang, d;

	for (lang = MIME_LANG_EN; lang <= MIME_LANG_FR; lang++) {
		nt.lang = lang;
		for (i = 0; i < sizeof(names40) / sizeof(names40[0]); i++) {
			t_part(&p, names40[i], docx, 1048576000);
			ln = t_link(link, sizeof(link), p.name);
			n = mime_link_part(buf, sizeof(buf), &p, link, ln,
			    t_hex64, 1, &nt);
			t_ok(t_chars(names40[i]) == 40 && n > 0 && n < 1024,
			    "%s link part for \"%s\" (40 characters): %zu "
			    "bytes", lang ? "French" : "English", names40[i], n);
			if (n > worst)
				worst = n;
		}
		/* 100 characters */
		memset(name, 'n', 95);
		memcpy(name + 95, ".docx", 6);
		t_part(&p, name, docx, 1048576000);
		ln = t_link(link, sizeof(link), p.name);
		n = mime_link_part(buf, sizeof(buf), &p, link, ln, t_hex64, 1,
		    &nt);
		buf[n] = 0;
		t_ok(n > 0 && n < 1536, "%s link part for a 100-character "
		    "name: %zu bytes", lang ? "French" : "English", n);
		t_ok(strstr(buf, link) != 0 && strstr(buf, name) != 0,
		    "100-character name whole in the link and the fields");
	}
	printf("# largest link part for a 40-character name: %zu bytes\n",
	    worst);

	/* MIME_NOTICE_NAME_MAX at N-1, N, N+1: "xxx.pdf" */
	nt.lang = MIME_LANG_EN;
	for (d = -1; d <= 1; d++) {
		k = MIME_NOTICE_NAME_MAX + d;
		memset(name, 'x', k - 4);
		memcpy(name + k - 4, ".pdf", 5);
		t_part(&p, name, "application/pdf", 5);
		ln = t_link(link, sizeof(link), p.name);
		n = mime_link_part(buf, sizeof(buf), &p, link, ln, t_hex64, 0,
		    &nt);
		buf[n] = 0;
		if (d <= 0) {
			snprintf(want, sizeof(want), "\nAttachment: %s\n", name);
		} else {
			/* 55 characters, the ellipsis, ".pdf": 60 */
			memset(want, 0, sizeof(want));
			memcpy(want, "\nAttachment: ", 13);
			memset(want + 13, 'x', MIME_NOTICE_NAME_MAX - 5);
			strcat(want, "=E2=80=A6.pdf\n");
		}
		t_flat(flat, buf);
		t_ok(strstr(flat, want) != 0
		    && strstr(buf, link) != 0, "name of %zu characters %s",
		    k, d <= 0 ? "whole" : "shortened");
	}
	/* Shortened between two-byte characters: 70 times U+00E9, ".pdf" */
	for (i = 0, k = 0; i < 70; i++, k += 2)
		memcpy(name + k, "\xc3\xa9", 2);
	memcpy(name + k, ".pdf", 5);
	t_part(&p, name, "application/pdf", 5);
	ln = t_link(link, sizeof(link), p.name);
	n = mime_link_part(buf, sizeof(buf), &p, link, ln, t_hex64, 0, &nt);
	buf[n] = 0;
	b = want;
	b += snprintf(b, sizeof(want), "\nAttachment: ");
	for (i = 0; i < 55; i++)
		b += snprintf(b, want + sizeof(want) - b, "=C3=A9");
	/* the QP line breaks at 75 columns: compare unbroken */
	{
		t_flat(flat, buf);
		snprintf(b, want + sizeof(want) - b, "=E2=80=A6.pdf\n");
		snprintf(want2, sizeof(want2), "\nX-Detach-Content-Disposition: "
		    "attachment; filename=\"%s\"\n", name);
		t_okb(strstr(flat, want) != 0 && strstr(buf, want2) != 0
		    && strstr(buf, link),
		    "70 two-byte characters shortened to 55, an ellipsis and "
		    "the extension", buf);
	}
	/* no extension, three-byte characters: 59 and the ellipsis */
	for (i = 0, k = 0; i < 66; i++, k += 3)
		memcpy(name + k, "\xe2\x82\xac", 3);
	name[k] = 0;
	t_part(&p, name, "application/pdf", 5);
	ln = t_link(link, sizeof(link), p.name);
	n = mime_link_part(buf, sizeof(buf), &p, link, ln, t_hex64, 0, &nt);
	buf[n] = 0;
	{
		const char *s;
		int	count = 0;

		t_flat(flat, buf);
		s = strstr(flat, "\nAttachment: ");
		for (s = s ? s + 13 : ""; strncmp(s, "=E2=82=AC", 9) == 0;
		    s += 9)
			count++;
		t_ok(count == 59 && strncmp(s, "=E2=80=A6\n", 10) == 0,
		    "66 three-byte characters without extension: %d and an "
		    "ellipsis", count);
	}
}

/* ------------------------------------------------------------------ */
/* Link parts (mime_links): the X-Detach-* fields and the range        */
/* ------------------------------------------------------------------ */

/* What the scanner must read from a link part; 0 or "" where absent. */
struct t_lcase {
	const char *name;
	const char *msg;
	const char *range;	/* the link part's bytes, or 0: none reported */
	const char *url;
	const char *sha;
	long long size;		/* -1: no X-Detach-Size */
	long long ctsize;	/* -1: no size= */
	const char *type;	/* unfolded */
	const char *disp;
	const char *bad;	/* start of the complaint, or 0 */
	int	crlf;
};

#define SHA_A "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

static const struct t_lcase lcases[] = {
	{"link part with every field, CRLF",
	    "Content-Type: multipart/mixed; boundary=b" CRLF CRLF
	    "--b" CRLF "Content-Type: text/plain" CRLF CRLF "hi" CRLF
	    "--b" CRLF "Content-Type: text/plain; charset=utf-8; size=300000"
	    CRLF "Content-Disposition: inline" CRLF
	    "X-Detach-URL: https://f.example/a/0123/x.pdf" CRLF
	    "X-Detach-SHA256: " SHA_A CRLF "X-Detach-Size: 300000" CRLF
	    "X-Detach-Content-Type: application/pdf; name=\"x.pdf\"" CRLF
	    "X-Detach-Content-Disposition: attachment;" CRLF
	    "\tfilename=\"x.pdf\"" CRLF "X-Detach-Expires: Tue, 1 Dec 2026"
	    CRLF CRLF "Attachment: x.pdf" CRLF "--b--" CRLF,
	    "Content-Type: text/plain; charset=utf-8; size=300000"
	    CRLF "Content-Disposition: inline" CRLF
	    "X-Detach-URL: https://f.example/a/0123/x.pdf" CRLF
	    "X-Detach-SHA256: " SHA_A CRLF "X-Detach-Size: 300000" CRLF
	    "X-Detach-Content-Type: application/pdf; name=\"x.pdf\"" CRLF
	    "X-Detach-Content-Disposition: attachment;" CRLF
	    "\tfilename=\"x.pdf\"" CRLF "X-Detach-Expires: Tue, 1 Dec 2026"
	    CRLF CRLF "Attachment: x.pdf",
	    "https://f.example/a/0123/x.pdf", SHA_A, 300000, 300000,
	    "application/pdf; name=\"x.pdf\"",
	    "attachment;\tfilename=\"x.pdf\"",
	    0, 1},
	{"older link part, LF, names in any case, folded URL, upper hex",
	    "Content-Type: multipart/mixed; boundary=\"q\"\n\n--q\n"
	    "content-type: text/plain; size=7\nx-detach-url:\n"
	    "  https://f.example/a/k/y \nX-DETACH-SHA256:   "
	    "00112233445566778899AABBCCDDEEFF00112233445566778899aabbccddeeff\n"
	    "x-detach-size:7\n\nbody\n--q--\n",
	    "content-type: text/plain; size=7\nx-detach-url:\n"
	    "  https://f.example/a/k/y \nX-DETACH-SHA256:   "
	    "00112233445566778899AABBCCDDEEFF00112233445566778899aabbccddeeff\n"
	    "x-detach-size:7\n\nbody",
	    "https://f.example/a/k/y", SHA_A, 7, 7, "", "", 0, 0},
	{"URL only, inside message/rfc822",
	    "Content-Type: multipart/mixed; boundary=o\n\n--o\n"
	    "Content-Type: message/rfc822\n\n"
	    "Content-Type: multipart/mixed; boundary=i\n\n--i\n"
	    "X-Detach-URL: https://f.example/a/z\n\n--i--\n--o--\n",
	    "X-Detach-URL: https://f.example/a/z\n\n",
	    "https://f.example/a/z", "", -1, -1, "", "", 0, 0},
	{"URL folded in the middle keeps the white space (RFC 5322 2.2.3)",
	    "Content-Type: multipart/mixed; boundary=b\n\n--b\n"
	    "X-Detach-URL: https://f.example/a/\n k\n\nx\n--b--\n",
	    "X-Detach-URL: https://f.example/a/\n k\n\nx",
	    "https://f.example/a/ k", "", -1, -1, "", "", 0, 0},
	{"two X-Detach-URL fields",
	    "Content-Type: multipart/mixed; boundary=b\n\n--b\n"
	    "X-Detach-URL: https://f.example/a/1\n"
	    "X-Detach-URL: https://f.example/a/2\n\nx\n--b--\n",
	    "X-Detach-URL: https://f.example/a/1\n"
	    "X-Detach-URL: https://f.example/a/2\n\nx",
	    "https://f.example/a/1", "", -1, -1, "", "", "an X-Detach field "
	    "given twice", 0},
	{"digest, empty body",
	    "Content-Type: multipart/mixed; boundary=b\n\n--b\n"
	    "X-Detach-URL: u\nX-Detach-SHA256: " SHA_A "\n\n--b--\n",
	    "X-Detach-URL: u\nX-Detach-SHA256: " SHA_A "\n\n",
	    "u", SHA_A, -1, -1, "", "", 0, 0},
	{"size with a sign",
	    "Content-Type: multipart/mixed; boundary=b\n\n--b\n"
	    "X-Detach-URL: u\nX-Detach-Size: +5\n\nx\n--b--\n",
	    "X-Detach-URL: u\nX-Detach-Size: +5\n\nx",
	    "u", "", -1, -1, "", "", "bad X-Detach-Size", 0},
	{"size of 20 digits",
	    "Content-Type: multipart/mixed; boundary=b\n\n--b\n"
	    "X-Detach-URL: u\nX-Detach-Size: 12345678901234567890\n\nx\n"
	    "--b--\n",
	    "X-Detach-URL: u\nX-Detach-Size: 12345678901234567890\n\nx",
	    "u", "", -1, -1, "", "", "bad X-Detach-Size", 0},
	{"size of 19 digits",
	    "Content-Type: multipart/mixed; boundary=b\n\n--b\n"
	    "X-Detach-URL: u\nX-Detach-Size: 1234567890123456789\n\nx\n"
	    "--b--\n",
	    "X-Detach-URL: u\nX-Detach-Size: 1234567890123456789\n\nx",
	    "u", "", 1234567890123456789LL, -1, "", "", 0, 0},
	{"not a link part inside multipart/signed",
	    "Content-Type: multipart/signed; boundary=s\n\n--s\n"
	    "Content-Type: multipart/mixed; boundary=b\n\n--b\n"
	    "X-Detach-URL: u\n\nx\n--b--\n\n--s\nsig\n--s--\n",
	    0, 0, 0, 0, 0, 0, 0, 0, 0},
	{"not a link part as the top entity",
	    "X-Detach-URL: u\nSubject: x\n\nbody\n",
	    0, 0, 0, 0, 0, 0, 0, 0, 0},
	{"no X-Detach-URL: an X-Detach-SHA256 alone is no link part",
	    "Content-Type: multipart/mixed; boundary=b\n\n--b\n"
	    "X-Detach-SHA256: " SHA_A "\n\nx\n--b--\n",
	    0, 0, 0, 0, 0, 0, 0, 0, 0},
};

/* A digest of 63 hex digits. */
static const char t_short_sha[] =
    "Content-Type: multipart/mixed; boundary=b\n\n--b\n"
    "X-Detach-URL: u\nX-Detach-SHA256: "
    "0112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n\n"
    "x\n--b--\n";

struct t_lrun {
	struct mime_state *m;
	struct mime_link link;
	int	on;			/* mime_links() called */
	char	log[1 << 15];
	size_t	len;
	char	whole[1 << 15];
	int	nlinks;
	int	ncands;
	struct mime_part part;		/* the last link part */
	int	ok;
	char	url[MIME_LINK_URL_MAX + 1], sha[65];
	char	type[MIME_KEEP_FIELD_MAX + 1], disp[MIME_KEEP_FIELD_MAX + 1];
	const char *bad;
	long long size, ctsize;
	int	fields;
};

static struct t_lrun *lrun;

static int
tl_begin(void *ctx, const struct mime_part *p)
{
	struct t_lrun *r = ctx;
	const struct mime_link *l = p->link;
	int	n;

	if (l == 0) {
		r->ncands++;
		return (0);
	}
	n = snprintf(r->log + r->len, sizeof(r->log) - r->len,
	    "link %llu %d [%s] [%s] %llu %llu [%s] [%s] [%s];",
	    (unsigned long long)p->start, l->fields, l->url, l->sha256,
	    (unsigned long long)l->size, (unsigned long long)l->ctsize,
	    l->type, l->disposition, l->bad ? l->bad : "");
	if (n > 0 && (size_t)n < sizeof(r->log) - r->len)
		r->len += n;
	snprintf(r->url, sizeof(r->url), "%s", l->url);
	snprintf(r->sha, sizeof(r->sha), "%s", l->sha256);
	snprintf(r->type, sizeof(r->type), "%s", l->type);
	snprintf(r->disp, sizeof(r->disp), "%s", l->disposition);
	r->bad = l->bad;
	r->fields = l->fields;
	r->size = (l->fields & MIME_LINK_F_SIZE) && !r->bad ?
	    (long long)l->size : -1;
	r->ctsize = (l->fields & MIME_LINK_F_CTSIZE) ? (long long)l->ctsize :
	    -1;
	return (1);
}

static int
tl_data(void *ctx, const unsigned char *p, size_t n)
{
	(void)ctx;
	(void)p;
	(void)n;
	return (0);
}

static void
tl_end(void *ctx, const struct mime_part *p, int ok)
{
	struct t_lrun *r = ctx;
	int	n;

	n = snprintf(r->log + r->len, sizeof(r->log) - r->len,
	    "end %llu %llu %d %d;", (unsigned long long)p->start,
	    (unsigned long long)p->end, p->crlf, ok);
	if (n > 0 && (size_t)n < sizeof(r->log) - r->len)
		r->len += n;
	r->nlinks++;
	r->part = *p;
	r->ok = ok;
}

static void
tl_reset(void *ctx)
{
	struct t_lrun *r = ctx;

	mime_init(r->m, tl_begin, tl_data, tl_end, r);
	if (r->on)
		mime_links(r->m, &r->link);
	r->len = 0;
	r->log[0] = 0;
	r->nlinks = r->ncands = 0;
}

static void
tl_chunk(void *ctx, const unsigned char *p, size_t n)
{
	struct t_lrun *r = ctx;

	(void)mime_feed(r->m, p, n);
}

static void
tl_done(void *ctx)
{
	struct t_lrun *r = ctx;

	(void)mime_finish(r->m);
}

static int
tl_same(void *ctx)
{
	struct t_lrun *r = ctx;

	return (strcmp(r->log, r->whole) == 0);
}

/* tl_scan - whole input, then every split must log the same */

static int
tl_scan(const char *in, size_t len)
{
	tl_reset(lrun);
	tl_chunk(lrun, (const unsigned char *)in, len);
	tl_done(lrun);
	memcpy(lrun->whole, lrun->log, lrun->len + 1);
	return (t_split_run((const unsigned char *)in, len, lrun, tl_reset,
	    tl_chunk, tl_done, tl_same, 600));
}

static void
t_links(void)
{
	const struct t_lcase *c;
	const char *at;
	size_t	i, len, rlen;
	int	bad;

	lrun = calloc(1, sizeof(*lrun));
	lrun->m = malloc(mime_state_size());
	for (i = 0; i < sizeof(lcases) / sizeof(lcases[0]); i++) {
		c = &lcases[i];
		len = strlen(c->msg);
		/* without mime_links() a link part is no candidate */
		lrun->on = 0;
		tl_scan(c->msg, len);
		t_ok(lrun->nlinks == 0 && lrun->ncands == 0,
		    "link %s: not reported without mime_links", c->name);
		lrun->on = 1;
		bad = tl_scan(c->msg, len);
		t_ok(bad == 0, "link %s: same events in every split (%d)",
		    c->name, bad);
		tl_reset(lrun);
		tl_chunk(lrun, (const unsigned char *)c->msg, len);
		tl_done(lrun);
		if (c->range == 0) {
			t_ok(lrun->nlinks == 0, "link %s: none reported",
			    c->name);
			continue;
		}
		rlen = strlen(c->range);
		at = memmem(c->msg, len, c->range, rlen);
		t_ok(lrun->nlinks == 1 && at
		    && lrun->part.start == (uint64_t)(at - c->msg)
		    && lrun->part.end == (uint64_t)(at - c->msg) + rlen
		    && lrun->part.crlf == c->crlf && lrun->ok,
		    "link %s: one link part, its range", c->name);
		t_ok(strcmp(lrun->url, c->url) == 0, "link %s: URL [%s]",
		    c->name, lrun->url);
		t_ok(strcmp(lrun->sha, c->sha) == 0, "link %s: digest [%s]",
		    c->name, lrun->sha);
		t_ok(lrun->size == c->size && lrun->ctsize == c->ctsize,
		    "link %s: sizes %lld %lld", c->name, lrun->size,
		    lrun->ctsize);
		t_ok(strcmp(lrun->type, c->type) == 0
		    && strcmp(lrun->disp, c->disp) == 0
		    && (*c->type != 0) == !!(lrun->fields & MIME_LINK_F_TYPE)
		    && (*c->disp != 0) == !!(lrun->fields & MIME_LINK_F_DISP),
		    "link %s: kept type and disposition", c->name);
		t_ok(c->bad ? lrun->bad && strcmp(lrun->bad, c->bad) == 0 :
		    lrun->bad == 0, "link %s: complaint [%s]", c->name,
		    lrun->bad ? lrun->bad : "");
	}
	/* a kept field of MIME_KEEP_FIELD_MAX - 1, MIME_KEEP_FIELD_MAX and
	 * one more characters, as mime_link_part() bounds them */
	{
		static char msg[2 * MIME_KEEP_FIELD_MAX];
		int	k, n;

		for (k = -1; k <= 1; k++) {
			n = snprintf(msg, sizeof(msg), "Content-Type: "
			    "multipart/mixed; boundary=b\n\n--b\n"
			    "X-Detach-URL: u\n"
			    "X-Detach-Content-Type: application/x; a=\"%0*d\"\n"
			    "\nx\n--b--\n", MIME_KEEP_FIELD_MAX + k - 19, 7);
			tl_scan(msg, (size_t)n);
			t_ok(lrun->nlinks == 1 && (k <= 0 ? lrun->bad == 0
			    && strlen(lrun->type) ==
			    (size_t)(MIME_KEEP_FIELD_MAX + k) :
			    lrun->bad && lrun->type[0] == 0),
			    "link: kept type of %d characters %s",
			    MIME_KEEP_FIELD_MAX + k,
			    k <= 0 ? "read" : "refused");
		}
	}
	/* 63 hex digits */
	lrun->on = 1;
	tl_scan(t_short_sha, strlen(t_short_sha));
	t_ok(lrun->nlinks == 1 && lrun->bad
	    && strcmp(lrun->bad, "bad X-Detach-SHA256") == 0
	    && lrun->sha[0] == 0, "link: a digest of 63 hex digits is bad");
	free(lrun->m);
	free(lrun);
}

int
main(void)
{
	t_seed_init();
	run = calloc(1, sizeof(*run));
	run->m = malloc(mime_state_size());
	run->want = 1;
	t_cases();
	t_limit_boundary();
	t_limit_depth();
	t_limit_header();
	t_limit_peek();
	t_limit_keep();
	t_keep_fields();
	t_long_base64();
	t_url();
	t_link_part();
	t_link_template();
	t_notice_check();
	t_link_budget();
	t_links();
	free(run->m);
	free(run);
	return (t_failed != 0);
}
