/*
 * t_smtp - unit tests of the ESMTP cores: command lines and table,
 * downstream replies, dot codecs, the EHLO filter, XFORWARD syntax.
 * Expectations come from RFC 5321, RFC 3461 and Postfix's
 * XFORWARD_README; every parser gets each input in every split.
 */
#include "detach.h"
#include "t.h"

/* ------------------------------------------------------------------ */
/* Command lines                                                       */
/* ------------------------------------------------------------------ */

#define T_LINES_MAX	8

struct t_lines {
	struct smtp_line l;
	int	n;
	char	got[T_LINES_MAX][SMTP_ENVCMD_MAX + 1];
	size_t	raw[T_LINES_MAX];
	int	whole_n;
	char	whole[T_LINES_MAX][SMTP_ENVCMD_MAX + 1];
	size_t	whole_raw[T_LINES_MAX];
};

static void
t_lines_reset(void *ctx)
{
	struct t_lines *t = ctx;

	t->n = 0;
	smtp_line_init(&t->l);
}

static void
t_lines_chunk(void *ctx, const unsigned char *p, size_t len)
{
	struct t_lines *t = ctx;
	size_t used;

	while (len > 0) {
		used = smtp_line_feed(&t->l, p, len);
		p += used;
		len -= used;
		if (t->l.done) {
			if (t->n < T_LINES_MAX) {
				memcpy(t->got[t->n], t->l.buf, t->l.len + 1);
				t->raw[t->n] = t->l.rawlen;
				t->n++;
			}
			smtp_line_init(&t->l);
		}
	}
}

static void
t_lines_done(void *ctx)
{
	(void)ctx;
}

static int
t_lines_same(void *ctx)
{
	struct t_lines *t = ctx;
	int i;

	if (t->n != t->whole_n)
		return (0);
	for (i = 0; i < t->n; i++)
		if (strcmp(t->got[i], t->whole[i]) != 0
		    || t->raw[i] != t->whole_raw[i])
			return (0);
	return (1);
}

/* t_parse - parse one line given whole; the command id and reply */

static int
t_parse(const char *line, const char **reply, const char **args)
{
	static struct smtp_line l;
	size_t n = strlen(line);

	smtp_line_init(&l);
	smtp_line_feed(&l, line, n);
	if (!l.done)
		return (-1);
	return (smtp_cmd_parse(&l, args, reply));
}

/* t_cmd_line - a line of exactly n octets with CRLF: VERB ARGxxx */

static char *
t_cmd_line(const char *prefix, size_t n)
{
	static char buf[SMTP_ENVCMD_MAX + 64];
	size_t p = strlen(prefix);

	memcpy(buf, prefix, p);
	memset(buf + p, 'x', n - 2 - p);
	memcpy(buf + n - 2, "\r\n", 3);
	return (buf);
}

static void
t_commands(void)
{
	static struct t_lines t;
	const char *in = "EHLO a.example\r\nMAIL FROM:<a@b> SIZE=10\r\n"
	    "rcpt to:<c@d>\nDATA\r\n";
	const char *reply, *args;
	int id, bad;

	/* The whole input is the reference for every split. */
	t_lines_reset(&t);
	t_lines_chunk(&t, (const unsigned char *)in, strlen(in));
	t.whole_n = t.n;
	memcpy(t.whole, t.got, sizeof(t.got));
	memcpy(t.whole_raw, t.raw, sizeof(t.raw));
	t_ok(t.n == 4 && strcmp(t.got[1], "MAIL FROM:<a@b> SIZE=10") == 0
	    && t.raw[1] == 25 && strcmp(t.got[2], "rcpt to:<c@d>") == 0
	    && t.raw[2] == 14, "line: four lines, CRLF and LF, raw lengths");
	bad = t_split_run((const unsigned char *)in, strlen(in), &t,
	    t_lines_reset, t_lines_chunk, t_lines_done, t_lines_same, 0);
	t_ok(bad == 0, "line: same lines in every split (%d)", bad);

	id = t_parse("EHLO a.example\r\n", &reply, &args);
	t_ok(id == SMTP_CMD_EHLO && strcmp(args, "a.example") == 0,
	    "cmd: EHLO and its argument");
	id = t_parse("ehlo a.example\r\n", &reply, &args);
	t_ok(id == SMTP_CMD_EHLO, "cmd: verbs are case-insensitive "
	    "(RFC 5321 2.4)");
	id = t_parse("EHLO\r\n", &reply, &args);
	t_ok(id == SMTP_CMD_BAD && strncmp(reply, "501 ", 4) == 0,
	    "cmd: EHLO without a domain is 501");
	id = t_parse("MAIL FROM:<a@b> SIZE=10 BODY=8BITMIME RET=HDRS "
	    "ENVID=x+2By AUTH=<>\r\n", &reply, &args);
	t_ok(id == SMTP_CMD_MAIL && strcmp(args, "FROM:<a@b> SIZE=10 "
	    "BODY=8BITMIME RET=HDRS ENVID=x+2By AUTH=<>") == 0,
	    "cmd: MAIL parameters kept exactly");
	id = t_parse("MAIL TO:<a@b>\r\n", &reply, &args);
	t_ok(id == SMTP_CMD_BAD && strncmp(reply, "501 ", 4) == 0,
	    "cmd: MAIL without FROM: is 501");
	id = t_parse("RCPT TO:<c@d> NOTIFY=SUCCESS,FAILURE "
	    "ORCPT=rfc822;c@d\r\n", &reply, &args);
	t_ok(id == SMTP_CMD_RCPT, "cmd: RCPT with DSN parameters");
	id = t_parse("DATA\r\n", &reply, &args);
	t_ok(id == SMTP_CMD_DATA, "cmd: DATA");
	id = t_parse("DATA x\r\n", &reply, &args);
	t_ok(id == SMTP_CMD_BAD && strncmp(reply, "501 ", 4) == 0,
	    "cmd: DATA takes no parameter (RFC 5321 4.1.1.4)");
	id = t_parse("NOOP anything\r\n", &reply, &args);
	t_ok(id == SMTP_CMD_NOOP, "cmd: NOOP takes a string (4.1.1.9)");
	id = t_parse("QUIT\r\n", &reply, &args);
	t_ok(id == SMTP_CMD_QUIT, "cmd: QUIT");
	id = t_parse("RSET\r\n", &reply, &args);
	t_ok(id == SMTP_CMD_RSET, "cmd: RSET");
	id = t_parse("XFORWARD ADDR=192.0.2.1\r\n", &reply, &args);
	t_ok(id == SMTP_CMD_XFORWARD, "cmd: XFORWARD");
	id = t_parse("VRFY root\r\n", &reply, &args);
	t_ok(id == SMTP_CMD_BAD && strncmp(reply, "502 ", 4) == 0,
	    "cmd: VRFY is 502");
	id = t_parse("BDAT 100 LAST\r\n", &reply, &args);
	t_ok(id == SMTP_CMD_BAD && strncmp(reply, "502 ", 4) == 0,
	    "cmd: BDAT is 502");
	id = t_parse("STARTTLS\r\n", &reply, &args);
	t_ok(id == SMTP_CMD_BAD && strncmp(reply, "502 ", 4) == 0,
	    "cmd: STARTTLS is 502");
	id = t_parse("EHLOX a\r\n", &reply, &args);
	t_ok(id == SMTP_CMD_BAD && strncmp(reply, "502 ", 4) == 0,
	    "cmd: a verb that only starts like one is 502");
	id = t_parse("\r\n", &reply, &args);
	t_ok(id == SMTP_CMD_BAD && strncmp(reply, "502 ", 4) == 0,
	    "cmd: empty line is 502");

	/* RFC 5321 4.5.3.1.4: 512 octets with CRLF. */
	id = t_parse(t_cmd_line("NOOP ", SMTP_CMD_MAX - 1), &reply, &args);
	t_ok(id == SMTP_CMD_NOOP, "limit: NOOP of 511 octets");
	id = t_parse(t_cmd_line("NOOP ", SMTP_CMD_MAX), &reply, &args);
	t_ok(id == SMTP_CMD_NOOP, "limit: NOOP of 512 octets");
	id = t_parse(t_cmd_line("NOOP ", SMTP_CMD_MAX + 1), &reply, &args);
	t_ok(id == SMTP_CMD_BAD && strncmp(reply, "500 5.5.2", 9) == 0,
	    "limit: NOOP of 513 octets is 500 5.5.2");
	id = t_parse(t_cmd_line("EHLO ", SMTP_CMD_MAX + 1), &reply, &args);
	t_ok(id == SMTP_CMD_BAD && strncmp(reply, "500 ", 4) == 0,
	    "limit: EHLO of 513 octets is 500");
	/* MAIL and RCPT carry extension parameters: 2048. */
	id = t_parse(t_cmd_line("MAIL FROM:<a@b> ENVID=",
	    SMTP_ENVCMD_MAX - 1), &reply, &args);
	t_ok(id == SMTP_CMD_MAIL, "limit: MAIL of 2047 octets");
	id = t_parse(t_cmd_line("MAIL FROM:<a@b> ENVID=", SMTP_ENVCMD_MAX),
	    &reply, &args);
	t_ok(id == SMTP_CMD_MAIL, "limit: MAIL of 2048 octets");
	id = t_parse(t_cmd_line("MAIL FROM:<a@b> ENVID=",
	    SMTP_ENVCMD_MAX + 1), &reply, &args);
	t_ok(id == SMTP_CMD_BAD && strncmp(reply, "500 5.5.2", 9) == 0,
	    "limit: MAIL of 2049 octets is 500 5.5.2");
	id = t_parse(t_cmd_line("RCPT TO:<a@b> ORCPT=", SMTP_ENVCMD_MAX),
	    &reply, &args);
	t_ok(id == SMTP_CMD_RCPT, "limit: RCPT of 2048 octets");
	id = t_parse(t_cmd_line("RCPT TO:<a@b> ORCPT=",
	    SMTP_ENVCMD_MAX + 1), &reply, &args);
	t_ok(id == SMTP_CMD_BAD && strncmp(reply, "500 ", 4) == 0,
	    "limit: RCPT of 2049 octets is 500");
	{
		static struct smtp_line l;
		char nul[] = "NOOP a\0b\r\n";

		smtp_line_init(&l);
		smtp_line_feed(&l, nul, sizeof(nul) - 1);
		id = smtp_cmd_parse(&l, &args, &reply);
		t_ok(id == SMTP_CMD_BAD && strncmp(reply, "500 ", 4) == 0,
		    "cmd: NUL in a command is 500");
	}
}

/* ------------------------------------------------------------------ */
/* Replies                                                             */
/* ------------------------------------------------------------------ */

struct t_reply {
	struct smtp_reply r;
	size_t	used;
	struct smtp_reply whole;
	size_t	whole_used;
};

static void
t_reply_reset(void *ctx)
{
	struct t_reply *t = ctx;

	smtp_reply_init(&t->r);
	t->used = 0;
}

static void
t_reply_chunk(void *ctx, const unsigned char *p, size_t len)
{
	struct t_reply *t = ctx;

	t->used += smtp_reply_feed(&t->r, p, len);
}

static void
t_reply_done(void *ctx)
{
	(void)ctx;
}

static int
t_reply_same(void *ctx)
{
	struct t_reply *t = ctx;

	return (t->r.done == t->whole.done && t->r.code == t->whole.code
	    && t->r.flags == t->whole.flags && t->r.len == t->whole.len
	    && t->r.nlines == t->whole.nlines
	    && memcmp(t->r.text, t->whole.text, t->r.len) == 0);
}

/* t_reply - feed in whole, then in every split; 1 if all agree */

static int
t_reply(struct t_reply *t, const char *in, size_t len)
{
	t_reply_reset(t);
	t_reply_chunk(t, (const unsigned char *)in, len);
	t->whole = t->r;
	t->whole_used = t->used;
	return (t_split_run((const unsigned char *)in, len, t, t_reply_reset,
	    t_reply_chunk, t_reply_done, t_reply_same, 600) == 0);
}

static void
t_replies(void)
{
	static struct t_reply t;
	static char big[SMTP_REPLY_LINE_MAX * 8 + 64];
	const char *ehlo = "250-mx.example\r\n250-PIPELINING\r\n"
	    "250-SIZE 10240000\r\n250-VRFY\r\n250-ETRN\r\n250-STARTTLS\r\n"
	    "250-AUTH PLAIN LOGIN\r\n250-XCLIENT NAME ADDR\r\n"
	    "250-XFORWARD NAME ADDR PROTO HELO SOURCE PORT IDENT\r\n"
	    "250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250-DSN\r\n"
	    "250-SMTPUTF8\r\n250-BINARYMIME\r\n250 CHUNKING\r\n";
	const char *two = "250 2.0.0 Ok\r\n354 next\r\n";
	char out[SMTP_REPLY_MAX * 2];
	size_t n, i;
	int xf, same;

	same = t_reply(&t, two, strlen(two));
	t_ok(same && t.r.done && t.r.code == 250 && t.used == 14
	    && t.r.len == 14 && memcmp(t.r.text, "250 2.0.0 Ok\r\n", 14) == 0,
	    "reply: stops after the last line, every split");
	same = t_reply(&t, ehlo, strlen(ehlo));
	t_ok(same && t.r.done && t.r.code == 250 && t.r.nlines == 15
	    && t.r.len == strlen(ehlo) && t.r.flags == 0,
	    "reply: multi-line EHLO kept, every split");
	same = t_reply(&t, "220\r\n", 5);
	t_ok(same && t.r.done && t.r.code == 220
	    && memcmp(t.r.text, "220 \r\n", 6) == 0,
	    "reply: a bare code is a last line (RFC 5321 4.2)");
	same = t_reply(&t, "250 ok\n", 7);
	t_ok(same && t.r.done && t.r.code == 250, "reply: bare LF ends a line");
	same = t_reply(&t, "hello\r\n", 7);
	t_ok(same && t.r.done && (t.r.flags & SMTP_REPLY_ERR_SYNTAX),
	    "reply: no code is a syntax error");
	same = t_reply(&t, "25x ok\r\n", 8);
	t_ok(same && (t.r.flags & SMTP_REPLY_ERR_SYNTAX),
	    "reply: a non-digit code is a syntax error");
	same = t_reply(&t, "250_ok\r\n", 8);
	t_ok(same && (t.r.flags & SMTP_REPLY_ERR_SYNTAX),
	    "reply: a code not followed by SP or - is a syntax error");
	same = t_reply(&t, "650 ok\r\n", 8);
	t_ok(same && (t.r.flags & SMTP_REPLY_ERR_SYNTAX),
	    "reply: 6yz is not a reply");
	same = t_reply(&t, "250-a\r\n251 b\r\n", 14);
	t_ok(same && t.r.done && (t.r.flags & SMTP_REPLY_ERR_CODE),
	    "reply: lines with different codes (RFC 5321 4.2.1)");
	same = t_reply(&t, "550 bad\x01\x7f\xff text\r\n", 18);
	t_ok(same && (t.r.flags & SMTP_REPLY_CENSORED)
	    && memcmp(t.r.text, "550 bad??? text\r\n", 17) == 0,
	    "reply: unprintable bytes censored");
	/* RFC 5321 4.5.3.1.5: 512 octets with CRLF. */
	for (i = 511; i <= 513; i++) {
		memcpy(big, "250 ", 4);
		memset(big + 4, 'x', i - 6);
		memcpy(big + i - 2, "\r\n", 2);
		same = t_reply(&t, big, i);
		t_ok(same && t.r.done && (i <= 512 ? t.r.len == i
		    && !(t.r.flags & SMTP_REPLY_CUT_LINE) : t.r.len == 512
		    && (t.r.flags & SMTP_REPLY_CUT_LINE)),
		    "limit: reply line of %zu octets %s", i,
		    i <= 512 ? "kept" : "cut to 512");
	}
	/* Lines past SMTP_REPLY_MAX are dropped, the last line stays last. */
	n = 0;
	for (i = 0; i < 8; i++) {
		memcpy(big + n, i < 7 ? "250-" : "250 ", 4);
		memset(big + n + 4, 'a' + i, 500);
		memcpy(big + n + 504, "\r\n", 2);
		n += 506;
	}
	same = t_reply(&t, big, n);
	t_ok(same && t.r.done && (t.r.flags & SMTP_REPLY_CUT)
	    && t.r.len <= SMTP_REPLY_MAX && t.r.text[t.r.last + 3] == ' ',
	    "limit: reply over %d bytes cut, ends with a last line",
	    SMTP_REPLY_MAX);

	/* EHLO filter. */
	t_reply(&t, ehlo, strlen(ehlo));
	n = smtp_ehlo_filter(&t.r, "detach.example", out, sizeof(out), &xf);
	out[n] = 0;
	t_ok(strcmp(out, "250-detach.example\r\n250-PIPELINING\r\n"
	    "250-SIZE 10240000\r\n250-XFORWARD NAME ADDR PROTO HELO SOURCE "
	    "PORT IDENT\r\n250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n"
	    "250-DSN\r\n250 SMTPUTF8\r\n") == 0, "ehlo: only what detach "
	    "carries, last line last");
	t_ok(xf == (SMTP_XFWD_NAME | SMTP_XFWD_ADDR | SMTP_XFWD_PROTO
	    | SMTP_XFWD_HELO | SMTP_XFWD_SOURCE | SMTP_XFWD_PORT
	    | SMTP_XFWD_IDENT), "ehlo: XFORWARD attributes offered");
	t_reply(&t, "250-mx\r\n250-XFORWARD NAME ADDR FOO\r\n250 SIZE\r\n", 46);
	n = smtp_ehlo_filter(&t.r, "d", out, sizeof(out), &xf);
	out[n] = 0;
	t_ok(strcmp(out, "250-d\r\n250-XFORWARD NAME ADDR\r\n250 SIZE\r\n") == 0
	    && xf == (SMTP_XFWD_NAME | SMTP_XFWD_ADDR),
	    "ehlo: unknown XFORWARD attributes dropped");
	t_reply(&t, "250-mx\r\n250 CHUNKING\r\n", 22);
	n = smtp_ehlo_filter(&t.r, "d", out, sizeof(out), &xf);
	out[n] = 0;
	t_ok(strcmp(out, "250 d\r\n") == 0 && xf == 0,
	    "ehlo: no XFORWARD offered when downstream has none");
	t_reply(&t, "554 5.7.1 go away\r\n", 19);
	n = smtp_ehlo_filter(&t.r, "d", out, sizeof(out), &xf);
	t_ok(n == 19 && memcmp(out, "554 5.7.1 go away\r\n", 19) == 0,
	    "ehlo: a refusal passes unchanged");
	n = smtp_ehlo_filter(&t.r, "d", out, 5, &xf);
	t_ok(n == 0, "ehlo: too small a buffer gives 0");
}

/* ------------------------------------------------------------------ */
/* XFORWARD                                                            */
/* ------------------------------------------------------------------ */

static void
t_xforward(void)
{
	int all = 0x7f;
	char ident[64], v[300];
	static const struct {
		const char *args;
		int	offered;
		int	ok;
		const char *name;
	} cases[] = {
		{"NAME=spike.porcupine.org ADDR=168.100.189.2 PROTO=ESMTP",
		    0x7f, 0, "README example"},
		{"HELO=spike.porcupine.org", 0x7f, 0, "HELO alone"},
		{"name=a.example addr=192.0.2.1", 0x7f, 0, "names any case"},
		{"ADDR=IPV6:2001:db8::1", 0x7f, 0, "IPv6 with IPV6: prefix"},
		{"ADDR=2001:db8::1", 0x7f, -1, "IPv6 without prefix"},
		{"ADDR=192.0.2.300", 0x7f, -1, "bad IPv4"},
		{"ADDR=[UNAVAILABLE]", 0x7f, 0, "ADDR unavailable"},
		{"NAME=[unavailable]", 0x7f, 0, "unavailable in lower case"},
		{"PORT=25", 0x7f, 0, "PORT"},
		{"PORT=65535", 0x7f, 0, "PORT 65535"},
		{"PORT=65536", 0x7f, -1, "PORT 65536"},
		{"PORT=2a", 0x7f, -1, "PORT not a number"},
		{"SOURCE=LOCAL", 0x7f, 0, "SOURCE LOCAL"},
		{"SOURCE=remote", 0x7f, 0, "SOURCE remote"},
		{"SOURCE=ELSEWHERE", 0x7f, -1, "SOURCE other"},
		{"IDENT=4Fh2Qk1x2Rz9", 0x7f, 0, "IDENT"},
		{"HELO=a+20b", 0x7f, -1, "xtext space decoded is bad"},
		{"HELO=a+2Bb", 0x7f, 0, "xtext + decoded"},
		{"HELO=a+2bb", 0x7f, -1, "xtext hex must be upper case"},
		{"HELO=a+2", 0x7f, -1, "xtext cut hex"},
		{"HELO=", 0x7f, -1, "empty value"},
		{"HELO", 0x7f, -1, "no ="},
		{"FOO=bar", 0x7f, -1, "unknown attribute"},
		{"IDENT=x", SMTP_XFWD_NAME, -1, "attribute not offered"},
		{"", 0x7f, -1, "no attribute"},
		{"NAME=a\x01" "b", 0x7f, -1, "control byte"},
		{"NAME=a\xc3\xa9", 0x7f, -1, "non-ASCII byte"},
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		t_ok(smtp_xforward_check(cases[i].args, cases[i].offered,
		    ident, sizeof(ident)) == cases[i].ok, "xforward: %s",
		    cases[i].name);
	ident[0] = 0;
	smtp_xforward_check("ADDR=192.0.2.1 IDENT=QID+2B1", all, ident,
	    sizeof(ident));
	t_ok(strcmp(ident, "QID+1") == 0, "xforward: IDENT decoded");
	/* XFORWARD_README note 1: values up to 255 characters. */
	for (i = 254; i <= 256; i++) {
		memcpy(v, "NAME=", 5);
		memset(v + 5, 'a', i);
		v[5 + i] = 0;
		t_ok(smtp_xforward_check(v, all, 0, 0) == (i <= 255 ? 0 : -1),
		    "limit: XFORWARD value of %zu characters %s", i,
		    i <= 255 ? "taken" : "refused");
	}
	for (i = 63; i <= 65; i++) {
		memcpy(v, "PROTO=", 6);
		memset(v + 6, 'P', i);
		v[6 + i] = 0;
		t_ok(smtp_xforward_check(v, all, 0, 0) == (i <= 64 ? 0 : -1),
		    "limit: PROTO of %zu characters %s", i,
		    i <= 64 ? "taken" : "refused");
	}
}

/* ------------------------------------------------------------------ */
/* Dot codecs                                                          */
/* ------------------------------------------------------------------ */

#define T_DOT_MAX	256

struct t_dot {
	struct smtp_unstuff u;
	unsigned char buf[T_DOT_MAX];	/* input not yet consumed */
	size_t	blen;
	unsigned char out[T_DOT_MAX];
	size_t	len;
	size_t	used;
	int	end;
	unsigned char whole[T_DOT_MAX];
	size_t	whole_len, whole_used;
	int	whole_end;
};

static void
t_dot_reset(void *ctx)
{
	struct t_dot *t = ctx;

	smtp_unstuff_init(&t->u);
	t->len = t->used = t->blen = 0;
	t->end = 0;
}

static void
t_dot_chunk(void *ctx, const unsigned char *p, size_t len)
{
	struct t_dot *t = ctx;
	size_t o, used;
	int end;

	if (t->end || t->blen + len > sizeof(t->buf))
		return;
	/* As smtp_content() does: unstuff in place, in a buffer that is
	 * exactly full (a byte written past the input would show), and
	 * keep what was not consumed for the next read. */
	memcpy(t->buf + t->blen, p, len);
	t->blen += len;
	used = smtp_unstuff(&t->u, t->buf, t->blen, t->buf, &o, &end);
	if (o > used)
		t->end = -1;	/* output ran ahead of input */
	memcpy(t->out + t->len, t->buf, o);
	t->len += o;
	t->used += used;
	memmove(t->buf, t->buf + used, t->blen - used);
	t->blen -= used;
	if (t->end == 0)
		t->end = end;
}

static void
t_dot_done(void *ctx)
{
	(void)ctx;
}

static int
t_dot_same(void *ctx)
{
	struct t_dot *t = ctx;

	return (t->len == t->whole_len && t->end == t->whole_end
	    && t->used == t->whole_used
	    && memcmp(t->out, t->whole, t->len) == 0);
}

static void
t_unstuff_case(const char *in, size_t inlen, const char *want,
    size_t wantlen, int end, size_t used, const char *name)
{
	static struct t_dot t;
	int bad;

	t_dot_reset(&t);
	t_dot_chunk(&t, (const unsigned char *)in, inlen);
	memcpy(t.whole, t.out, t.len);
	t.whole_len = t.len;
	t.whole_end = t.end;
	t.whole_used = t.used;
	bad = t_split_run((const unsigned char *)in, inlen, &t, t_dot_reset,
	    t_dot_chunk, t_dot_done, t_dot_same, 0);
	t_ok(bad == 0 && t.whole_len == wantlen
	    && memcmp(t.whole, want, wantlen) == 0 && t.whole_end == end
	    && t.whole_used == used, "unstuff: %s", name);
}

static void
t_stuff_case(const char *in, const char *want, const char *name)
{
	struct smtp_stuff st;
	unsigned char out[T_DOT_MAX];
	size_t o = 0, n, i, len = strlen(in), turn;
	int ok = 1;

	/* Rooms of one and two bytes in turn: a doubled dot waits for two. */
	smtp_stuff_init(&st);
	for (i = 0, turn = 0; i < len && turn < 4 * len + 4; turn++) {
		i += smtp_stuff(&st, (const unsigned char *)in + i, len - i,
		    out + o, turn % 2 ? 2 : 1, &n);
		o += n;
	}
	o += smtp_stuff_end(&st, out + o, sizeof(out) - o);
	if (o != strlen(want) || memcmp(out, want, o) != 0)
		ok = 0;
	t_ok(ok, "stuff: %s", name);
}

static void
t_dots(void)
{
#define S(x)	x, sizeof(x) - 1
	t_unstuff_case(S("a\r\n.\r\n"), S("a\r\n"), 1, 6,
	    "end of data; CRLF before the dot is content");
	t_unstuff_case(S(".\r\n"), S(""), 1, 3, "empty message");
	t_unstuff_case(S("a\r\n..b\r\n.\r\nMAIL"), S("a\r\n.b\r\n"), 1, 11,
	    "a doubled dot loses one; nothing past the end is taken");
	t_unstuff_case(S("a\r\n.b\r\n.\r\n"), S("a\r\nb\r\n"), 1, 10,
	    "RFC 5321 4.5.2: a lone leading dot is dropped");
	t_unstuff_case(S("a\n.\nb\r\n.\r\n"), S("a\n.\nb\r\n"), 1, 10,
	    "LF . LF is content, not the end (no smuggling)");
	t_unstuff_case(S("a\r\n.\nb\r\n.\r\n"), S("a\r\n\nb\r\n"), 1, 11,
	    ". LF after CRLF is not the end");
	t_unstuff_case(S("a\r\n.\rb\r\n.\r\n"), S("a\r\n\rb\r\n"), 1, 11,
	    ". CR x is not the end");
	t_unstuff_case(S("a\r\n.\r\r\n.\r\n"), S("a\r\n\r\r\n"), 1, 10,
	    ". CR CR LF is not the end");
	t_unstuff_case(S("a\r\r\n.\r\n"), S("a\r\r\n"), 1, 7,
	    "CR CR LF ends a line");
	t_unstuff_case(S("a\r\nb"), S("a\r\nb"), 0, 4, "no end yet");
	t_unstuff_case(S("a\r\n."), S("a\r\n"), 0, 3,
	    "a leading dot waits for what follows");
	t_unstuff_case(S("x\0y\r\n.\r\n"), S("x\0y\r\n"), 1, 8,
	    "NUL passes");
#undef S
	t_stuff_case("a\r\n.b\r\n", "a\r\n..b\r\n.\r\n", "leading dot doubled");
	t_stuff_case(".\r\n", "..\r\n.\r\n", "a lone dot doubled");
	t_stuff_case("a\n.b\r\n", "a\n..b\r\n.\r\n",
	    "a dot after bare LF doubled too");
	t_stuff_case("", ".\r\n", "empty message");
	t_stuff_case("abc", "abc\r\n.\r\n", "last line without CRLF ended");
	t_stuff_case("a.b\r\n", "a.b\r\n.\r\n", "inner dots kept");
	t_stuff_case("a\r\n", "a\r\n.\r\n", "ends in CRLF: just the dot");
	{
		/* Round trip: stuff, then unstuff, gives the input back. */
		const char *in = ".a\r\n..\r\n.\r\nb\r\nc\r\n";
		unsigned char s[T_DOT_MAX], u[T_DOT_MAX];
		struct smtp_stuff st;
		struct smtp_unstuff us;
		size_t n, m, used;
		int end;

		smtp_stuff_init(&st);
		smtp_stuff(&st, (const unsigned char *)in, strlen(in), s,
		    sizeof(s), &n);
		n += smtp_stuff_end(&st, s + n, sizeof(s) - n);
		smtp_unstuff_init(&us);
		used = smtp_unstuff(&us, s, n, u, &m, &end);
		t_ok(end && used == n && m == strlen(in)
		    && memcmp(u, in, m) == 0, "dots: stuff then unstuff "
		    "is the identity");
	}
}

int
main(void)
{
	t_seed_init();
	t_commands();
	t_replies();
	t_xforward();
	t_dots();
	return (t_failed != 0);
}
