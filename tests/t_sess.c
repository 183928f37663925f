/*
 * t_sess - unit tests of the SMTP session machine, with no sockets
 *
 * The test plays both peers of a struct smtp_sess the way proxy.c's
 * loop moves bytes: the client writes through smtp_cin_buf/ack and reads
 * through smtp_cout_buf/ack, the downstream server reads through
 * smtp_dout_buf/ack and answers through smtp_din_buf/ack, smtp_run()
 * runs after every move, and smtp_want() is obeyed (no reading where it
 * asks for none, nothing written once it says SMTP_WANT_CLOSE, the
 * downstream connection dropped on SMTP_WANT_DCLOSE). DATA goes through
 * real message jobs with a dir store under a temporary directory.
 *
 * Expectations come from RFC 5321 (one reply per command, in order;
 * 4.5.2 dot transparency; 4.5.3.1.4 the 512-octet command line; 3.8
 * and 4.1.1.4: a dot is answered, a lost connection means no
 * delivery), RFC 2920 (pipelined commands answered in order, each
 * reply as the server gave it), RFC 1870, 3461, 4954 and 6531 (MAIL
 * and RCPT parameters), Postfix's XFORWARD_README (attributes, xtext,
 * 501 for bad syntax) and detach's rules in smtp.c's manual and
 * detach.h's limits (which EHLO keywords are carried, 502 for commands
 * not relayed, 421 when the downstream server is gone, 451 when the dot
 * cannot be answered otherwise, 421 after SIGTERM once the transaction
 * is done), never from the program's output. The pipelining, DATA and
 * attachment cases also run with each peer's bytes whole, byte by byte
 * and at random splits (seed printed): every run must give each peer
 * the same bytes.
 */
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <bearssl.h>

#include "detach.h"
#include "t.h"

#define T_HOST		"proxy.example"
#define T_CL_MAX	(1 << 16)	/* bytes one client reads */
#define T_DN_MAX	(1 << 18)	/* bytes one downstream server reads */

/* Both peers of one session and what each has read. */
struct t_sess {
	struct smtp_sess s;
	int64_t	now;
	int	cplan;			/* T_SPLIT_* of the client's writes */
	int	dplan;			/* T_SPLIT_* of the server's writes */
	int	cblock;			/* the client does not read */
	int	closed;			/* SMTP_WANT_CLOSE was given */
	int	dclosed;		/* downstream connection closed */
	char	cl[T_CL_MAX];		/* what the client read */
	size_t	cllen;
	char	dn[T_DN_MAX];		/* what the downstream server read */
	size_t	dnlen;
};

static struct t_sess ts;
static struct cfg cfg;
static char tmpdir[] = "/tmp/t_sess.XXXXXX";
static int t_quiet;			/* count failed checks, print none */
static int t_quiet_bad;

/* A Postfix-like EHLO reply with every keyword detach must drop. */
static const char t_ehlo_all[] =
    "250-mx.down.example\r\n"
    "250-PIPELINING\r\n"
    "250-SIZE 10240000\r\n"
    "250-VRFY\r\n"
    "250-ETRN\r\n"
    "250-EXPN\r\n"
    "250-STARTTLS\r\n"
    "250-AUTH PLAIN LOGIN\r\n"
    "250-AUTH=PLAIN LOGIN\r\n"
    "250-ENHANCEDSTATUSCODES\r\n"
    "250-8BITMIME\r\n"
    "250-DSN\r\n"
    "250-SMTPUTF8\r\n"
    "250-XCLIENT NAME ADDR PROTO HELO\r\n"
    "250-XFORWARD NAME ADDR PROTO HELO SOURCE PORT IDENT\r\n"
    "250-BINARYMIME\r\n"
    "250-X-UNKNOWN-EXT 42\r\n"
    "250 CHUNKING\r\n";

/* What the client must get after our own first line. */
static const char t_ehlo_kept[] =
    "250-PIPELINING\r\n"
    "250-SIZE 10240000\r\n"
    "250-ENHANCEDSTATUSCODES\r\n"
    "250-8BITMIME\r\n"
    "250-DSN\r\n"
    "250-SMTPUTF8\r\n"
    "250 XFORWARD NAME ADDR PROTO HELO SOURCE PORT IDENT\r\n";

/* The keywords dropped, as the DESCRIPTION of smtp.c lists them. */
static const char *t_ehlo_drop[] = {
	"CHUNKING", "BINARYMIME", "STARTTLS", "AUTH", "AUTH=PLAIN",
	"XCLIENT", "VRFY", "EXPN", "ETRN", "X-UNKNOWN-EXT",
};

/* Postfix's usual reply, without XFORWARD. */
static const char t_ehlo_plain[] =
    "250-mx.down.example\r\n"
    "250-PIPELINING\r\n"
    "250-SIZE 10240000\r\n"
    "250-ENHANCEDSTATUSCODES\r\n"
    "250-8BITMIME\r\n"
    "250 DSN\r\n";

/* A message as the client sends it: dot-stuffed, CRLF, final dot. */
static const char t_msg_plain[] =
    "From: <a@example.org>\r\n"
    "To: <b@example.test>\r\n"
    "Subject: dots\r\n"
    "\r\n"
    "..leading dot\r\n"
    "...\r\n"
    "a line. with dots .\r\n"
    "\r\n"
    ".. \r\n"
    "last line\r\n"
    ".\r\n";

/* An attachment over min_size, and a message carrying it. */
static const char t_att[] = "attachment bytes, long enough to pass min_size";
#define T_ATT_B64 \
	"YXR0YWNobWVudCBieXRlcywgbG9uZyBlbm91Z2ggdG8gcGFzcyBtaW5fc2l6ZQ=="

static const char t_msg_att[] =
    "From: <a@example.org>\r\n"
    "Content-Type: multipart/mixed; boundary=\"=b\"\r\n"
    "\r\n"
    "--=b\r\n"
    "Content-Type: text/plain\r\n"
    "\r\n"
    "..see the file\r\n"
    "--=b\r\n"
    "Content-Type: application/pdf; name=\"doc.pdf\"\r\n"
    "Content-Disposition: attachment; filename=\"doc.pdf\"\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    T_ATT_B64 "\r\n"
    "--=b--\r\n"
    ".\r\n";

/* ------------------------------------------------------------------ */
/* The two peers                                                       */
/* ------------------------------------------------------------------ */

/* t_check - one check; printed, or counted while t_quiet */

static void
t_check(int cond, const char *name)
{
	if (t_quiet) {
		if (!cond)
			t_quiet_bad++;
		return;
	}
	t_ok(cond, "%s", name);
}

/* t_show - what a peer read, printable, after a failed check */

static void
t_show(const char *who, const char *p, size_t n)
{
	size_t	i;

	if (t_quiet)
		return;
	printf("#   %s (%zu bytes): ", who, n);
	for (i = 0; i < n && i < 600; i++) {
		if (p[i] == '\r')
			printf("\\r");
		else if (p[i] == '\n')
			printf("\\n");
		else if (p[i] >= ' ' && p[i] <= '~')
			putchar(p[i]);
		else
			printf("\\x%02x", (unsigned char)p[i]);
	}
	printf("%s\n", i < n ? "..." : "");
}

/* t_chunk - the length of the next write under a split plan */

static size_t
t_chunk(int plan, size_t len)
{
	size_t	n;

	switch (plan) {
	case T_SPLIT_WHOLE:
		return (len);
	case T_SPLIT_BYTE:
		return (1);
	default:
		n = 1 + t_rand() % (t_rand() % 2 ? 7 : 300);
		return (n < len ? n : len);
	}
}

/*
 * t_pump - run the session and move what it has for each peer, until
 * nothing moves; as proxy.c does, nothing moves once it asks to close
 */
static void
t_pump(struct t_sess *t)
{
	const unsigned char *o;
	size_t	n;
	int	want, moved;

	if (t->closed)
		return;
	do {
		moved = 0;
		smtp_run(&t->s, t->now);
		want = smtp_want(&t->s);
		if ((want & SMTP_WANT_DCLOSE) && !t->dclosed) {
			t->dclosed = 1;
			smtp_down_gone(&t->s, 0, t->now);
			moved = 1;
		}
		if (want & SMTP_WANT_CLOSE) {
			t->closed = 1;
			return;
		}
		if ((want & SMTP_WANT_CWRITE) && !t->cblock) {
			o = smtp_cout_buf(&t->s, &n);
			if (n > sizeof(t->cl) - t->cllen)
				n = sizeof(t->cl) - t->cllen;
			memcpy(t->cl + t->cllen, o, n);
			t->cllen += n;
			smtp_cout_ack(&t->s, n);
			moved |= n > 0;
		}
		if ((want & SMTP_WANT_DWRITE) && !t->dclosed) {
			o = smtp_dout_buf(&t->s, &n);
			if (n > sizeof(t->dn) - t->dnlen)
				n = sizeof(t->dn) - t->dnlen;
			memcpy(t->dn + t->dnlen, o, n);
			t->dnlen += n;
			smtp_dout_ack(&t->s, n, t->now);
			moved |= n > 0;
		}
	} while (moved);
}

/* t_client - the client writes, in chunks of its plan, while read */

static void
t_client(struct t_sess *t, const char *p, size_t len)
{
	unsigned char *b;
	size_t	n, room;

	while (len > 0 && !t->closed
	    && (smtp_want(&t->s) & SMTP_WANT_CREAD)) {
		b = smtp_cin_buf(&t->s, &room);
		n = t_chunk(t->cplan, len);
		if (n > room)
			n = room;
		memcpy(b, p, n);
		smtp_cin_ack(&t->s, n, t->now);
		p += n;
		len -= n;
		t_pump(t);
	}
}

static void
t_say(struct t_sess *t, const char *text)
{
	t_client(t, text, strlen(text));
}

/* t_say_eof - the client writes text and closes, all before we run */

static void
t_say_eof(struct t_sess *t, const char *text)
{
	unsigned char *b;
	size_t	room, n = strlen(text);

	b = smtp_cin_buf(&t->s, &room);
	if (n > room)
		n = room;
	memcpy(b, text, n);
	smtp_cin_ack(&t->s, n, t->now);
	smtp_cin_ack(&t->s, 0, t->now);
	t_pump(t);
}

/* t_down - the downstream server writes, in chunks of its plan */

static void
t_down(struct t_sess *t, const char *text)
{
	const char *p = text;
	unsigned char *b;
	size_t	n, room, len = strlen(text);

	while (len > 0 && !t->closed && !t->dclosed
	    && (smtp_want(&t->s) & SMTP_WANT_DREAD)) {
		b = smtp_din_buf(&t->s, &room);
		n = t_chunk(t->dplan, len);
		if (n > room)
			n = room;
		memcpy(b, p, n);
		smtp_din_ack(&t->s, n);
		p += n;
		len -= n;
		t_pump(t);
	}
}

/* t_eof - the client closes its side */

static void
t_eof(struct t_sess *t)
{
	smtp_cin_ack(&t->s, 0, t->now);
	t_pump(t);
}

/* t_gone - the downstream connection breaks */

static void
t_gone(struct t_sess *t, const char *why)
{
	t->dclosed = 1;
	smtp_down_gone(&t->s, why, t->now);
	t_pump(t);
}

/* t_start - a new session, its downstream connect under way */

static void
t_start(struct t_sess *t, int cplan, int dplan)
{
	t->now = 1000000;
	t->cplan = cplan;
	t->dplan = dplan;
	t->cblock = 0;
	t->closed = 0;
	t->dclosed = 0;
	t->cllen = 0;
	t->dnlen = 0;
	smtp_sess_init(&t->s, &cfg, "T0001", "192.0.2.1", t->now);
	t_pump(t);
}

static void
t_end(struct t_sess *t)
{
	smtp_sess_free(&t->s);
}

/* t_open - greeting and EHLO with the given downstream reply */

static void
t_open(struct t_sess *t, const char *ehlo)
{
	t_down(t, "220 mx.down.example ESMTP Postfix\r\n");
	t_say(t, "EHLO client.example\r\n");
	t_down(t, ehlo);
}

/* t_read_is - a peer read exactly want since mark; else show it */

static int
t_read_is(const char *who, const char *got, size_t len, size_t mark,
    const char *want)
{
	size_t	n = strlen(want);

	if (len - mark == n && memcmp(got + mark, want, n) == 0)
		return (1);
	t_show(who, got + mark, len - mark);
	return (0);
}

/* t_cl_is - the client read exactly want since mark */

static int
t_cl_is(struct t_sess *t, size_t mark, const char *want)
{
	return (t_read_is("client read", t->cl, t->cllen, mark, want));
}

/* t_dn_is - the downstream server read exactly want since mark */

static int
t_dn_is(struct t_sess *t, size_t mark, const char *want)
{
	return (t_read_is("downstream read", t->dn, t->dnlen, mark, want));
}

/* t_cl_one - the client read one reply line since mark, code first */

static int
t_cl_one(struct t_sess *t, size_t mark, const char *code)
{
	const char *p = t->cl + mark, *e;
	size_t	n = t->cllen - mark;

	e = n >= 2 ? memchr(p, '\n', n) : 0;
	if (e != 0 && e == p + n - 1 && e[-1] == '\r'
	    && n > strlen(code) && memcmp(p, code, strlen(code)) == 0)
		return (1);
	t_show("client read", p, n);
	return (0);
}

/* t_has - needle occurs in the n bytes at p */

static int
t_has(const char *p, size_t n, const char *needle)
{
	size_t	k = strlen(needle);

	for (; n >= k; p++, n--)
		if (memcmp(p, needle, k) == 0)
			return (1);
	return (0);
}

/*
 * t_step - one relayed command: the downstream server reads it as the
 * client sent it, nothing before; the client reads the reply as the
 * server gave it, nothing before. 1 if all held.
 */
static int
t_step(struct t_sess *t, const char *cmd, const char *reply)
{
	size_t	cm = t->cllen, dm = t->dnlen;
	int	ok;

	t_say(t, cmd);
	ok = t_dn_is(t, dm, cmd) && t->cllen == cm;
	dm = t->dnlen;
	t_down(t, reply);
	return (t_cl_is(t, cm, reply) && t->dnlen == dm && ok);
}

/* t_local - a command answered by us with code; nothing downstream */

static int
t_local(struct t_sess *t, const char *cmd, const char *code)
{
	size_t	cm = t->cllen, dm = t->dnlen;

	t_say(t, cmd);
	return (t_cl_one(t, cm, code) && t_dn_is(t, dm, ""));
}

/* ------------------------------------------------------------------ */
/* 1. Greeting                                                         */
/* ------------------------------------------------------------------ */

static void
t_greeting(void)
{
	struct t_sess *t = &ts;

	t_start(t, T_SPLIT_WHOLE, T_SPLIT_WHOLE);
	t_check(t->cllen == 0 && (smtp_want(&t->s) & SMTP_WANT_DREAD),
	    "greeting: the client hears nothing before the downstream 220");
	t_say(t, "EHLO early.example\r\n");
	t_check(t->cllen == 0 && t->dnlen == 0,
	    "greeting: a client talking first is not answered or relayed");
	t_down(t, "220 mx.down.example ESMTP Postfix\r\n");
	t_check(t->cllen >= 4 && memcmp(t->cl, "220 ", 4) == 0
	    && memchr(t->cl, '\n', t->cllen) != 0,
	    "greeting: downstream 220, the client gets one 220 line");
	t_end(t);

	t_start(t, T_SPLIT_WHOLE, T_SPLIT_BYTE);
	t_down(t, "220-mx.down.example ESMTP\r\n220 and more\r\n");
	t_check(t_cl_one(t, 0, "220 ") && t->dnlen == 0,
	    "greeting: multiline 220 byte by byte, the client gets a 220");
	t_end(t);

	t_start(t, T_SPLIT_WHOLE, T_SPLIT_WHOLE);
	t->cblock = 1;
	t_down(t, "554 5.7.1 mx.down.example no SMTP service here\r\n");
	t_check(!t->closed && (smtp_want(&t->s) & SMTP_WANT_CWRITE),
	    "greeting 554: the session waits for its last reply to leave");
	t->cblock = 0;
	t_pump(t);
	t_check(t_cl_one(t, 0, "421 "), "greeting 554: the client gets 421");
	t_check(t->closed && t->dclosed,
	    "greeting 554: after the flush the session closes, downstream too");
	t_end(t);

	t_start(t, T_SPLIT_WHOLE, T_SPLIT_WHOLE);
	t_gone(t, "Connection refused");
	t_check(t_cl_one(t, 0, "421 ") && t->closed,
	    "greeting: no downstream server, the client gets 421 and a close");
	t_end(t);
}

/* ------------------------------------------------------------------ */
/* 2. EHLO                                                             */
/* ------------------------------------------------------------------ */

/* t_ehlo_has - the client's EHLO reply since mark offers keyword kw */

static int
t_ehlo_has(struct t_sess *t, size_t mark, const char *kw)
{
	const char *p = t->cl + mark, *end = t->cl + t->cllen, *e;
	size_t	k = strlen(kw);
	int	first = 1;

	for (; p < end; p = e + 1, first = 0) {
		if ((e = memchr(p, '\n', end - p)) == 0)
			break;
		if (!first && e - p >= (long)(4 + k)
		    && strncasecmp(p + 4, kw, k) == 0
		    && (p[4 + k] == ' ' || p[4 + k] == '\r'))
			return (1);
	}
	return (0);
}

static void
t_ehlo(void)
{
	struct t_sess *t = &ts;
	char	name[128];
	const char *e;
	size_t	cm, dm, i, n;

	t_start(t, T_SPLIT_WHOLE, T_SPLIT_WHOLE);
	t_down(t, "220 mx.down.example ESMTP Postfix\r\n");
	cm = t->cllen;
	dm = t->dnlen;
	t_say(t, "EHLO client.example\r\n");
	t_check(t_dn_is(t, dm, "EHLO client.example\r\n") && t->cllen == cm,
	    "EHLO: relayed as sent, no reply of ours first");
	t_down(t, t_ehlo_all);
	e = memchr(t->cl + cm, '\n', t->cllen - cm);
	n = e ? (size_t)(e + 1 - (t->cl + cm)) : 0;
	t_check(n > 6 && memcmp(t->cl + cm, "250-", 4) == 0 && e[-1] == '\r',
	    "EHLO: a 250 reply, greeting line first");
	t_check(e != 0 && t_cl_is(t, cm + n, t_ehlo_kept),
	    "EHLO: PIPELINING SIZE 8BITMIME ENHANCEDSTATUSCODES DSN SMTPUTF8 "
	    "XFORWARD kept in order, last line final");
	for (i = 0; i < sizeof(t_ehlo_drop) / sizeof(t_ehlo_drop[0]); i++) {
		snprintf(name, sizeof(name), "EHLO: %s not offered to the "
		    "client", t_ehlo_drop[i]);
		t_check(!t_ehlo_has(t, cm, t_ehlo_drop[i]), name);
	}
	t_check(t_ehlo_has(t, cm, "XFORWARD"),
	    "EHLO: XFORWARD offered when the downstream offers it");
	t_end(t);

	t_start(t, T_SPLIT_WHOLE, T_SPLIT_WHOLE);
	t_down(t, "220 mx.down.example ESMTP Postfix\r\n");
	cm = t->cllen;
	t_say(t, "EHLO client.example\r\n");
	t_down(t, t_ehlo_plain);
	t_check(!t_ehlo_has(t, cm, "XFORWARD") && t_ehlo_has(t, cm, "DSN"),
	    "EHLO: no XFORWARD offered when the downstream does not");
	t_end(t);

	t_start(t, T_SPLIT_WHOLE, T_SPLIT_WHOLE);
	t_down(t, "220 mx.down.example ESMTP Postfix\r\n");
	cm = t->cllen;
	t_say(t, "EHLO client.example\r\n");
	t_down(t, "250-mx.down.example\r\n250-chunking\r\n250 STARTTLS\r\n");
	t_check(t_cl_one(t, cm, "250 "),
	    "EHLO: all keywords dropped, one final 250 line");
	cm = t->cllen;
	t_check(t_step(t, "EHLO client.example\r\n",
	    "550 5.7.1 <client.example>: Helo command rejected\r\n"),
	    "EHLO: a refusal reaches the client unchanged");
	t_end(t);

	t_start(t, T_SPLIT_WHOLE, T_SPLIT_WHOLE);
	t_open(t, t_ehlo_all);
	t_check(t_step(t, "HELO client.example\r\n",
	    "250 mx.down.example\r\n"),
	    "HELO: relayed, its reply unchanged");
	t_check(t_local(t, "XFORWARD NAME=a.example\r\n", "502 "),
	    "HELO after EHLO: XFORWARD no longer offered, 502");
	t_end(t);
}

/* ------------------------------------------------------------------ */
/* 3, 4. Lockstep, pipelining, parameters                              */
/* ------------------------------------------------------------------ */

static void
t_scn_pipe(struct t_sess *t)
{
	static const char multi[] =
	    "550-5.1.1 <c@example.test>: Recipient address rejected:\r\n"
	    "550-5.1.1 User unknown in virtual mailbox table;\r\n"
	    "550 5.1.1 see https://mx.down.example/why?c=1\r\n";
	size_t	cm, dm;

	t_open(t, t_ehlo_all);
	cm = t->cllen;
	dm = t->dnlen;
	t_say(t, "MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.test>\r\n"
	    "RCPT TO:<c@example.test>\r\nDATA\r\n");
	t_check(t_dn_is(t, dm, "MAIL FROM:<a@example.org>\r\n"),
	    "pipelining: only MAIL goes downstream before its reply");
	t_check(t->cllen == cm, "pipelining: no reply before the downstream's");
	dm = t->dnlen;
	t_down(t, "250 2.1.0 Ok\r\n");
	t_check(t_cl_is(t, cm, "250 2.1.0 Ok\r\n"),
	    "pipelining: MAIL's reply reaches the client unchanged");
	t_check(t_dn_is(t, dm, "RCPT TO:<b@example.test>\r\n"),
	    "pipelining: then the first RCPT, alone");
	cm = t->cllen;
	dm = t->dnlen;
	t_down(t, "250 Ok\r\n");
	t_check(t_cl_is(t, cm, "250 Ok\r\n"),
	    "pipelining: a reply without enhanced code, unchanged");
	t_check(t_dn_is(t, dm, "RCPT TO:<c@example.test>\r\n"),
	    "pipelining: then the second RCPT, alone");
	cm = t->cllen;
	dm = t->dnlen;
	t_down(t, multi);
	t_check(t_cl_is(t, cm, multi),
	    "pipelining: a three-line 550 reaches the client unchanged");
	t_check(t_dn_is(t, dm, "DATA\r\n"), "pipelining: then DATA, alone");
	cm = t->cllen;
	dm = t->dnlen;
	t_down(t, "554 5.5.1 Error: no valid recipients\r\n");
	t_check(t_cl_is(t, cm, "554 5.5.1 Error: no valid recipients\r\n")
	    && t->dnlen == dm,
	    "pipelining: DATA refused, the refusal relayed, nothing more sent");
	cm = t->cllen;
	t_check(t_step(t, "RSET\r\n", "250 2.0.0 Ok\r\n"),
	    "pipelining: RSET relayed after the failed DATA");
	cm = t->cllen;
	dm = t->dnlen;
	t_say(t, "QUIT\r\n");
	t_check(t_dn_is(t, dm, "QUIT\r\n"), "QUIT: relayed");
	t_down(t, "221 2.0.0 Bye\r\n");
	t_check(t_cl_is(t, cm, "221 2.0.0 Bye\r\n") && t->closed,
	    "QUIT: the 221 unchanged, then the session closes");
}

static void
t_params(void)
{
	struct t_sess *t = &ts;
	char	line[SMTP_ENVCMD_MAX + 8];
	size_t	n;

	t_start(t, T_SPLIT_WHOLE, T_SPLIT_WHOLE);
	t_open(t, t_ehlo_all);
	t_check(t_step(t, "MAIL FROM:<a@example.org> SIZE=12345 "
	    "BODY=8BITMIME SMTPUTF8 RET=HDRS ENVID=QQ314159+2Bx AUTH=<>\r\n",
	    "250 2.1.0 Ok\r\n"),
	    "MAIL: SIZE BODY SMTPUTF8 RET ENVID AUTH pass byte for byte");
	t_check(t_step(t, "RCPT TO:<b@example.test> NOTIFY=SUCCESS,FAILURE "
	    "ORCPT=rfc822;b+2Bx@example.test\r\n", "250 2.1.5 Ok\r\n"),
	    "RCPT: NOTIFY and ORCPT pass byte for byte");
	t_check(t_step(t, "rcpt to:<\xc3\xa9@example.test>  NOTIFY=NEVER\r\n",
	    "250 2.1.5 Ok\r\n"),
	    "RCPT: lowercase verb, UTF-8 and two spaces pass unchanged");
	t_check(t_step(t, "RSET\r\n", "250 2.0.0 Ok\r\n"), "RSET: relayed");

	/* detach.h: MAIL and RCPT lines up to SMTP_ENVCMD_MAX with CRLF. */
	n = snprintf(line, sizeof(line), "MAIL FROM:<a@example.org> ENVID=");
	memset(line + n, 'x', SMTP_ENVCMD_MAX - 2 - n);
	memcpy(line + SMTP_ENVCMD_MAX - 2, "\r\n", 3);
	t_check(t_step(t, line, "250 2.1.0 Ok\r\n"),
	    "MAIL: a line of SMTP_ENVCMD_MAX octets is relayed whole");
	t_check(t_step(t, "RSET\r\n", "250 2.0.0 Ok\r\n"), "RSET: relayed");
	line[SMTP_ENVCMD_MAX - 2] = 'x';
	memcpy(line + SMTP_ENVCMD_MAX - 1, "\r\n", 3);
	t_check(t_local(t, line, "500 "),
	    "MAIL: one octet over SMTP_ENVCMD_MAX, 500 and nothing relayed");
	t_end(t);
}

/* ------------------------------------------------------------------ */
/* 5. Commands not relayed, line limits                                */
/* ------------------------------------------------------------------ */

static void
t_refused(void)
{
	static const char *cmds[] = {
		"VRFY b@example.test\r\n", "EXPN staff\r\n",
		"BDAT 0 LAST\r\n", "STARTTLS\r\n",
		"AUTH PLAIN AGFAZXhhbXBsZS5vcmcAc2VjcmV0\r\n",
		"ETRN example.test\r\n", "XCLIENT ADDR=192.0.2.9\r\n",
		"HELP\r\n", "TURN\r\n", "ATRN example.test\r\n",
		"SEND FROM:<a@example.org>\r\n", "\r\n",
	};
	struct t_sess *t = &ts;
	char	name[128], line[8192];
	size_t	i, n;

	t_start(t, T_SPLIT_WHOLE, T_SPLIT_WHOLE);
	t_open(t, t_ehlo_all);
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		snprintf(name, sizeof(name), "not relayed: %.*s gets 5xx, "
		    "nothing downstream", cmds[i][0] == '\r' ? 12 :
		    (int)strcspn(cmds[i], "\r"), cmds[i][0] == '\r' ?
		    "(empty line)" : cmds[i]);
		t_check(t_local(t, cmds[i], "5"), name);
	}
	t_check(t_local(t, "NOOP\r\n", "250 "), "NOOP: answered");

	/* RFC 5321 4.5.3.1.4: 512 octets with the CRLF. */
	n = snprintf(line, sizeof(line), "HELO ");
	memset(line + n, 'h', 512 - 2 - n);
	memcpy(line + 510, "\r\n", 3);
	t_check(t_step(t, line, "250 mx.down.example\r\n"),
	    "HELO: a line of 512 octets is relayed");
	line[510] = 'h';
	memcpy(line + 511, "\r\n", 3);
	t_check(t_local(t, line, "500 "),
	    "HELO: a line of 513 octets, 500 and nothing relayed");
	memset(line + 5, 'h', sizeof(line) - 5);
	memcpy(line + sizeof(line) - 20, " RSET\r\n", 8);
	t_check(t_local(t, line, "500 "),
	    "a line of 8 KB, one 500, its tail not taken for a command");
	t_check(t_local(t, "DATA some\r\n", "501 "),
	    "DATA with a parameter: 501, nothing relayed");
	t_check(t_step(t, "RSET\r\n", "250 2.0.0 Ok\r\n"),
	    "after refused lines the next command is relayed");
	t_end(t);
}

/* ------------------------------------------------------------------ */
/* 6, 7. DATA                                                          */
/* ------------------------------------------------------------------ */

/* t_data_open - MAIL, RCPT, DATA and 354; 1 if each was relayed */

static int
t_data_open(struct t_sess *t)
{
	return (t_step(t, "MAIL FROM:<a@example.org>\r\n", "250 2.1.0 Ok\r\n")
	    & t_step(t, "RCPT TO:<b@example.test>\r\n", "250 2.1.5 Ok\r\n")
	    & t_step(t, "DATA\r\n",
	    "354 End data with <CR><LF>.<CR><LF>\r\n"));
}

static void
t_scn_data(struct t_sess *t)
{
	static const char queued[] = "250 2.0.0 Ok: queued as 4XhYk02sZ1z\r\n";
	static const char later[] =
	    "451 4.3.0 Error: queue file write error\r\n";
	size_t	cm, dm;

	t_open(t, t_ehlo_all);
	t_check(t_data_open(t), "DATA: MAIL, RCPT, DATA and 354 relayed");
	cm = t->cllen;
	dm = t->dnlen;
	t_say(t, t_msg_plain);
	t_check(t_dn_is(t, dm, t_msg_plain),
	    "DATA: downstream reads the content stuffed as sent, final dot");
	t_check(t->cllen == cm,
	    "DATA: no reply to the dot before the downstream's");
	dm = t->dnlen;
	t_down(t, queued);
	t_check(t_cl_is(t, cm, queued) && t->dnlen == dm,
	    "DATA: the downstream's reply to the dot, unchanged");

	t_check(t_data_open(t), "DATA again: MAIL, RCPT, DATA and 354");
	cm = t->cllen;
	dm = t->dnlen;
	t_say(t, "Subject: x\r\n\r\nbody\r\n.\r\n");
	t_check(t_dn_is(t, dm, "Subject: x\r\n\r\nbody\r\n.\r\n"),
	    "DATA again: content and dot relayed");
	t_down(t, later);
	t_check(t_cl_is(t, cm, later),
	    "DATA: downstream 451 at the dot, the client sees that 451");
	t_check(t_step(t, "QUIT\r\n", "221 2.0.0 Bye\r\n") && t->closed,
	    "DATA: QUIT after, 221, closed");
}

static void
t_scn_attach(struct t_sess *t)
{
	static const char queued[] = "250 2.0.0 Ok: queued as 4XhYk02sZ1y\r\n";
	char	key[40], want[256], path[512], buf[256];
	struct stat st;
	size_t	cm, dm;
	FILE	*fp;
	int	same = 0;

	/* Each run stores the object anew. */
	t_expect_key(cfg.secret, t_att, strlen(t_att), key);
	snprintf(path, sizeof(path), "%s/store/%s/doc.pdf", tmpdir, key);
	(void)unlink(path);
	t_open(t, t_ehlo_all);
	t_check(t_data_open(t), "attachment: MAIL, RCPT, DATA and 354");
	cm = t->cllen;
	dm = t->dnlen;
	t_say(t, t_msg_att);
	snprintf(want, sizeof(want), "\r\nX-Detach-URL: https://f.example/a/"
	    "%s/doc.pdf\r\n", key);
	t_check(t_has(t->dn + dm, t->dnlen - dm, want),
	    "attachment: downstream gets the link part with X-Detach-URL");
	t_check(!t_has(t->dn + dm, t->dnlen - dm, T_ATT_B64),
	    "attachment: downstream does not get the base64 body");
	t_check(t->dnlen - dm > 30 && memcmp(t->dn + dm, t_msg_att, 30) == 0
	    && t_has(t->dn + dm, t->dnlen - dm, "\r\n..see the file\r\n"),
	    "attachment: the rest goes as sent, still dot-stuffed");
	t_check(t->dnlen - dm > 11 && memcmp(t->dn + t->dnlen - 11,
	    "--=b--\r\n.\r\n", 11) == 0
	    && !t_has(t->dn + dm, t->dnlen - dm - 5, "\r\n.\r\n"),
	    "attachment: one final dot, at the end");
	if (stat(path, &st) == 0 && st.st_size == (off_t)strlen(t_att)
	    && (fp = fopen(path, "rb")) != 0) {
		same = fread(buf, 1, sizeof(buf), fp) == strlen(t_att)
		    && memcmp(buf, t_att, strlen(t_att)) == 0;
		fclose(fp);
	}
	t_check(same, "attachment: the decoded file is in the dir store");
	t_check(t->cllen == cm,
	    "attachment: no reply to the dot before the downstream's");
	t_down(t, queued);
	t_check(t_cl_is(t, cm, queued),
	    "attachment: the downstream's reply to the dot, unchanged");
}

/*
 * t_unstuffed - the message bytes of dot-stuffed content ending in the
 * final dot (RFC 5321 4.5.2): less the dot line, less one dot of each
 * line that starts with two
 */
static size_t
t_unstuffed(const char *p, size_t n)
{
	size_t	i, dots = (n >= 2 && p[0] == '.' && p[1] == '.');

	for (i = 0; i + 4 <= n; i++)
		if (memcmp(p + i, "\r\n..", 4) == 0)
			dots++;
	return (n - 3 - dots);
}

/* t_big_att - a message with a 3000-byte attachment, base64 in lines
 * of 76 (RFC 2045 6.8), dot-stuffed and ended by the final dot */
static const char *
t_big_att(void)
{
	static const char b64[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	static char msg[8192];
	unsigned char raw[3000];
	size_t	i, n, col = 0;

	for (i = 0; i < sizeof(raw); i++)
		raw[i] = (unsigned char)(i * 7 + 3);
	n = snprintf(msg, sizeof(msg), "Subject: big\r\nMIME-Version: 1.0\r\n"
	    "Content-Type: multipart/mixed; boundary=\"=b\"\r\n\r\n"
	    "--=b\r\nContent-Type: text/plain\r\n\r\n..dot\r\n--=b\r\n"
	    "Content-Type: application/octet-stream\r\n"
	    "Content-Disposition: attachment; filename=\"big.bin\"\r\n"
	    "Content-Transfer-Encoding: base64\r\n\r\n");
	for (i = 0; i < sizeof(raw); i += 3) {
		msg[n++] = b64[raw[i] >> 2];
		msg[n++] = b64[(raw[i] & 3) << 4 | raw[i + 1] >> 4];
		msg[n++] = b64[(raw[i + 1] & 15) << 2 | raw[i + 2] >> 6];
		msg[n++] = b64[raw[i + 2] & 63];
		if ((col += 4) == 76 || i + 3 == sizeof(raw)) {
			memcpy(msg + n, "\r\n", 2);
			n += 2;
			col = 0;
		}
	}
	snprintf(msg + n, sizeof(msg) - n, "--=b--\r\n.\r\n");
	return (msg);
}

/* The counters of smtp_stats(): a message with an attachment to three
 * recipients accepted, one refused at the dot, one tempfailed. */
static void
t_stats(void)
{
	static const char small[] = "Subject: x\r\n\r\n..dot\r\n.\r\n";
	struct t_sess *t = &ts;
	struct smtp_stats a, b;
	uint64_t rx, tx;
	size_t	dm;
	const char *big = t_big_att();

	a = *smtp_stats();
	t_start(t, T_SPLIT_WHOLE, T_SPLIT_WHOLE);
	t_open(t, t_ehlo_all);
	t_check(t_step(t, "MAIL FROM:<a@example.org>\r\n", "250 2.1.0 Ok\r\n")
	    & t_step(t, "RCPT TO:<b@example.test>\r\n", "250 2.1.5 Ok\r\n")
	    & t_step(t, "RCPT TO:<c@example.test>\r\n", "250 2.1.5 Ok\r\n")
	    & t_step(t, "RCPT TO:<x@example.test>\r\n", "550 5.1.1 no\r\n")
	    & t_step(t, "RCPT TO:<d@example.test>\r\n", "250 2.1.5 Ok\r\n")
	    & t_step(t, "DATA\r\n", "354 go\r\n"), "stats: three recipients");
	dm = t->dnlen;
	t_say(t, big);
	tx = t_unstuffed(t->dn + dm, t->dnlen - dm);
	t_down(t, "250 2.0.0 Ok: queued as 4XhYk02sZ1y\r\n");
	b = *smtp_stats();
	rx = t_unstuffed(big, strlen(big));
	t_ok(b.messages[SMTP_RESULT_RELAYED] - a.messages[SMTP_RESULT_RELAYED]
	    == 1 && b.detached - a.detached == 1, "stats: relayed 1, detached "
	    "1");
	t_ok(b.received - a.received == rx && b.relayed - a.relayed == tx
	    && tx < rx, "stats: bytes received %llu (want %llu), relayed "
	    "%llu (want %llu)", (unsigned long long)(b.received - a.received),
	    (unsigned long long)rx, (unsigned long long)(b.relayed -
	    a.relayed), (unsigned long long)tx);
	t_ok(b.saved - a.saved == 3 * (rx - tx), "stats: saved %llu is 3 "
	    "recipients x %llu bytes removed", (unsigned long long)(b.saved -
	    a.saved), (unsigned long long)(rx - tx));
	a = b;
	t_check(t_data_open(t), "stats: a second message");
	t_say(t, small);
	t_down(t, "554 5.7.1 refused\r\n");
	b = *smtp_stats();
	t_ok(b.messages[SMTP_RESULT_REJECTED] - a.messages[SMTP_RESULT_REJECTED]
	    == 1 && b.saved == a.saved && b.received - a.received == 20
	    && b.relayed - a.relayed == 20, "stats: rejected 1, 20 bytes "
	    "received and relayed, nothing saved");
	a = b;
	t_check(t_data_open(t), "stats: a third message");
	t_say(t, small);
	t_down(t, "451 4.7.1 later\r\n");
	b = *smtp_stats();
	t_ok(b.messages[SMTP_RESULT_TEMPFAILED] -
	    a.messages[SMTP_RESULT_TEMPFAILED] == 1 && b.messages[
	    SMTP_RESULT_UNCHANGED] == a.messages[SMTP_RESULT_UNCHANGED],
	    "stats: tempfailed 1");
	t_end(t);
}

/* ------------------------------------------------------------------ */
/* 13. Every peer's bytes in every split                               */
/* ------------------------------------------------------------------ */

typedef void (*t_scn_fn)(struct t_sess *);

static char t_wcl[T_CL_MAX], t_wdn[T_DN_MAX];
static size_t t_wcllen, t_wdnlen;

/*
 * t_splits - run a scenario with both peers writing whole (its checks
 * printed), then under every other pair of plans: each run must pass
 * its checks and give each peer the bytes of the whole run
 */
static void
t_splits(const char *name, t_scn_fn fn)
{
	static const char *pname[] = {"whole", "byte by byte", "", "random"};
	static const int plans[] = {T_SPLIT_WHOLE, T_SPLIT_BYTE,
	T_SPLIT_RANDOM};
	struct t_sess *t = &ts;
	int	c, d, r, runs, differ;

	t_start(t, T_SPLIT_WHOLE, T_SPLIT_WHOLE);
	fn(t);
	memcpy(t_wcl, t->cl, t->cllen);
	t_wcllen = t->cllen;
	memcpy(t_wdn, t->dn, t->dnlen);
	t_wdnlen = t->dnlen;
	t_end(t);
	for (c = 0; c < 3; c++)
		for (d = 0; d < 3; d++) {
			if (c == 0 && d == 0)
				continue;
			runs = plans[c] == T_SPLIT_RANDOM
			    || plans[d] == T_SPLIT_RANDOM ? 10 : 1;
			differ = 0;
			t_quiet = 1;
			t_quiet_bad = 0;
			for (r = 0; r < runs; r++) {
				t_start(t, plans[c], plans[d]);
				fn(t);
				if (t->cllen != t_wcllen || t->dnlen != t_wdnlen
				    || memcmp(t->cl, t_wcl, t_wcllen) != 0
				    || memcmp(t->dn, t_wdn, t_wdnlen) != 0)
					differ++;
				t_end(t);
			}
			t_quiet = 0;
			t_ok(differ == 0 && t_quiet_bad == 0, "%s, client %s, "
			    "downstream %s: same bytes to each peer (%d runs, "
			    "%d differ, %d checks failed)", name,
			    pname[plans[c]], pname[plans[d]], runs, differ,
			    t_quiet_bad);
		}
}

/* ------------------------------------------------------------------ */
/* 8. The client leaves                                                */
/* ------------------------------------------------------------------ */

static void
t_client_eof(void)
{
	static const char *cuts[] = {
		"Subject: x\r\n\r\nhalf a body\r\n",
		"Subject: x\r\n\r\nhalf a body\r\n.",
		"Subject: x\r\n\r\nhalf a body\r\n.\r",
		"Subject: x\r\n\r\nhalf a body\r\n..\r\n",
	};
	/*
	 * The second and third once failed: a "." or ".\r" that ends the
	 * input waits in cin for the next chunk; after EOF none comes,
	 * and the session stayed in WAIT_CONTENT, the downstream
	 * transaction open, until the timeout.
	 */
	static const char *names[] = {
		"client EOF in DATA after a line",
		"client EOF in DATA after \"CRLF .\"",
		"client EOF in DATA after \"CRLF . CR\"",
		"client EOF in DATA after a stuffed \"..\" line",
	};
	struct t_sess *t = &ts;
	char	name[160];
	size_t	i, dm, cm;

	for (i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		t_start(t, T_SPLIT_WHOLE, T_SPLIT_WHOLE);
		t_open(t, t_ehlo_all);
		t_data_open(t);
		dm = t->dnlen;
		t_say(t, cuts[i]);
		t_eof(t);
		snprintf(name, sizeof(name), "%s: no final dot downstream",
		    names[i]);
		t_check(!t_has(t->dn + dm, t->dnlen - dm, ".\r\n"), name);
		snprintf(name, sizeof(name), "%s: downstream dropped",
		    names[i]);
		t_check(t->dclosed, name);
		snprintf(name, sizeof(name), "%s: the session ends", names[i]);
		t_check(t->closed, name);
		t_end(t);
	}

	/*
	 * RFC 5321 4.1.1.4: the dot is answered. A client that shut its
	 * sending side after the dot still reads; the downstream server
	 * has the message, so silence makes the client send it again.
	 * This once failed: the session closed without WAIT_FLUSH.
	 */
	t_start(t, T_SPLIT_WHOLE, T_SPLIT_WHOLE);
	t_open(t, t_ehlo_all);
	t_data_open(t);
	cm = t->cllen;
	t_say(t, "Subject: x\r\n\r\nbody\r\n.\r\n");
	t_eof(t);
	t_down(t, "250 2.0.0 Ok: queued as 4XhYk02sZ1x\r\n");
	t_check(t_cl_is(t, cm, "250 2.0.0 Ok: queued as 4XhYk02sZ1x\r\n"),
	    "client EOF after its dot: the downstream's reply to "
	    "the dot still reaches the client");
	t_end(t);

	/*
	 * The client is gone before its dot went downstream: the dot and
	 * the EOF come in together, as when a front smtpd gave up on us
	 * (smtpd_proxy_timeout) while we could not run, and has told its
	 * client 4xx. Relaying the dot now would deliver a message its
	 * client will send again: a duplicate. This once failed.
	 */
	t_start(t, T_SPLIT_WHOLE, T_SPLIT_WHOLE);
	t_open(t, t_ehlo_all);
	t_data_open(t);
	cm = t->cllen;
	dm = t->dnlen;
	t_say_eof(t, "Subject: x\r\n\r\nbody\r\n.\r\n");
	t_check(!t_has(t->dn + dm, t->dnlen - dm, "\r\n.\r\n"),
	    "client EOF with its dot: no final dot downstream");
	t_check(t->dclosed, "client EOF with its dot: downstream dropped");
	t_check(t->closed, "client EOF with its dot: the session ends");
	t_check(t->cllen == cm, "client EOF with its dot: no reply");
	t_end(t);

	/* A command after the dot, then EOF: the client shut its side
	 * only, and reads; the dot goes, its reply and QUIT's follow. */
	t_start(t, T_SPLIT_WHOLE, T_SPLIT_WHOLE);
	t_open(t, t_ehlo_all);
	t_data_open(t);
	cm = t->cllen;
	t_say_eof(t, "Subject: x\r\n\r\nbody\r\n.\r\nQUIT\r\n");
	t_down(t, "250 2.0.0 Ok: queued as 4XhYk02sZ1y\r\n");
	t_check(t_cl_is(t, cm, "250 2.0.0 Ok: queued as 4XhYk02sZ1y\r\n"),
	    "client dot, QUIT and EOF: the dot's reply reaches the client");
	t_end(t);
}

/* ------------------------------------------------------------------ */
/* 9, 10. The downstream server leaves; timeouts                       */
/* ------------------------------------------------------------------ */

static void
t_down_gone(void)
{
	struct t_sess *t = &ts;
	size_t	cm, dm;

	t_start(t, T_SPLIT_WHOLE, T_SPLIT_WHOLE);
	t_open(t, t_ehlo_all);
	t_step(t, "MAIL FROM:<a@example.org>\r\n", "250 2.1.0 Ok\r\n");
	cm = t->cllen;
	t_say(t, "RCPT TO:<b@example.test>\r\n");
	t_gone(t, "Connection reset by peer");
	t_check(t_cl_one(t, cm, "421 "),
	    "downstream gone awaiting a RCPT reply: the client gets 421");
	t_check(t->closed, "downstream gone awaiting a RCPT reply: session "
	    "ends after the 421");
	t_end(t);

	t_start(t, T_SPLIT_WHOLE, T_SPLIT_WHOLE);
	t_open(t, t_ehlo_all);
	t_data_open(t);
	t_say(t, "Subject: x\r\n\r\nbody\r\n.\r\n");
	cm = t->cllen;
	t_gone(t, "Connection reset by peer");
	t_check(t_cl_one(t, cm, "451 "),
	    "downstream gone awaiting the dot's reply: the client gets 451");
	cm = t->cllen;
	t_say(t, "MAIL FROM:<a@example.org>\r\n");
	t_check(t_cl_one(t, cm, "421 ") && t->closed,
	    "after that, MAIL gets 421 and the session ends");
	t_end(t);

	t_start(t, T_SPLIT_WHOLE, T_SPLIT_WHOLE);
	t_open(t, t_ehlo_all);
	t_data_open(t);
	t_say(t, "Subject: x\r\n\r\nfirst half\r\n");
	dm = t->dnlen;
	cm = t->cllen;
	t_gone(t, "Connection reset by peer");
	t_check(cm == t->cllen && !t->closed,
	    "downstream gone in DATA: the content is still taken");
	t_say(t, "second half\r\n.\r\n");
	t_check(t_cl_one(t, cm, "451 ") && t->dnlen == dm,
	    "downstream gone in DATA: the dot gets 451");
	t_end(t);

	t_start(t, T_SPLIT_WHOLE, T_SPLIT_WHOLE);
	t_open(t, t_ehlo_all);
	cm = t->cllen;
	t_say(t, "MAIL FROM:<a@example.org>\r\n");
	t_down(t, "354 go ahead\r\n");
	t_check(t_cl_one(t, cm, "421 ") && t->closed,
	    "downstream 354 to MAIL: never relayed, 421");
	t_end(t);

	t_start(t, T_SPLIT_WHOLE, T_SPLIT_WHOLE);
	t_open(t, t_ehlo_all);
	t_step(t, "MAIL FROM:<a@example.org>\r\n", "250 2.1.0 Ok\r\n");
	cm = t->cllen;
	t_say(t, "RCPT TO:<b@example.test>\r\n");
	t_down(t, "250-2.1.5 Ok\r\n550 5.1.1 no\r\n");
	t_check(t_cl_one(t, cm, "421 ") && t->closed,
	    "downstream reply whose lines disagree on the code: 421");
	t_end(t);
}

static void
t_timeouts(void)
{
	struct t_sess *t = &ts;
	size_t	cm;
	int64_t	dot;

	t_start(t, T_SPLIT_WHOLE, T_SPLIT_WHOLE);
	t_open(t, t_ehlo_all);
	t_data_open(t);
	t->now += 5000;
	dot = t->now;
	t_say(t, "Subject: x\r\n\r\nbody\r\n.\r\n");
	t_check(t->s.state == SMTP_WAIT_DOT_REPLY
	    && t->s.deadline <= dot + cfg.timeout_ms,
	    "after the dot: the wait ends within timeout of the dot");
	cm = t->cllen;
	t->now = t->s.deadline;
	smtp_timeout(&t->s, t->now);
	t_pump(t);
	t_check(t_cl_one(t, cm, "451 4.4.2 "),
	    "timeout awaiting the dot's reply: 451 4.4.2");
	t_check(t->dclosed, "timeout awaiting the dot's reply: downstream "
	    "dropped, no late delivery on it");
	t_end(t);

	t_start(t, T_SPLIT_WHOLE, T_SPLIT_WHOLE);
	t_open(t, t_ehlo_all);
	cm = t->cllen;
	t_say(t, "MAIL FROM:<a@example.org>\r\n");
	smtp_timeout(&t->s, t->now);
	t_pump(t);
	t_check(t_cl_one(t, cm, "421 4.4.2 ") && t->closed,
	    "timeout awaiting a MAIL reply: 421 4.4.2, session ends");
	t_end(t);

	t_start(t, T_SPLIT_WHOLE, T_SPLIT_WHOLE);
	t_open(t, t_ehlo_all);
	cm = t->cllen;
	smtp_timeout(&t->s, t->now);
	t_pump(t);
	t_check(t_cl_one(t, cm, "421 4.4.2 ") && t->closed,
	    "timeout awaiting a command: 421 4.4.2, session ends");
	t_end(t);
}

/* ------------------------------------------------------------------ */
/* 11. XFORWARD                                                        */
/* ------------------------------------------------------------------ */

static void
t_xforward(void)
{
	static const char *bad[] = {
		"XFORWARD FOO=bar\r\n",
		"XFORWARD NAME\r\n",
		"XFORWARD NAME=\r\n",
		"XFORWARD\r\n",
		"XFORWARD ADDR=300.1.2.3\r\n",
		"XFORWARD ADDR=[192.0.2.1]\r\n",
		"XFORWARD PORT=70000\r\n",
		"XFORWARD SOURCE=ELSEWHERE\r\n",
		"XFORWARD NAME=a+0Ab\r\n",
		"XFORWARD NAME=a+zz\r\n",
		"XFORWARD NAME=a=b\r\n",
		"XFORWARD HELO=a+20b\r\n",
	};
	struct t_sess *t = &ts;
	char	name[160], line[400];
	size_t	i, n;

	t_start(t, T_SPLIT_WHOLE, T_SPLIT_WHOLE);
	t_open(t, t_ehlo_plain);
	t_check(t_local(t, "XFORWARD NAME=spike.porcupine.org\r\n", "502 "),
	    "XFORWARD not offered downstream: 502, nothing relayed");
	t_end(t);

	t_start(t, T_SPLIT_WHOLE, T_SPLIT_WHOLE);
	t_open(t, t_ehlo_all);
	t_check(t_step(t, "XFORWARD NAME=spike.porcupine.org "
	    "ADDR=168.100.189.2 PROTO=ESMTP\r\n", "250 2.0.0 Ok\r\n"),
	    "XFORWARD: the README's example relayed, its reply too");
	t_check(t_step(t, "xforward helo=spike.porcupine.org\r\n",
	    "250 2.0.0 Ok\r\n"), "XFORWARD: lowercase relayed as sent");
	t_check(t_step(t, "XFORWARD ADDR=IPV6:2001:db8::1 PORT=25 "
	    "SOURCE=REMOTE IDENT=4XhYk02sZ1z\r\n", "250 2.0.0 Ok\r\n"),
	    "XFORWARD: IPV6 address, PORT, SOURCE, IDENT relayed");
	t_check(t_step(t, "XFORWARD NAME=[unavailable] PORT=[UNAVAILABLE]\r\n",
	    "250 2.0.0 Ok\r\n"), "XFORWARD: [UNAVAILABLE] in any case");
	n = snprintf(line, sizeof(line), "XFORWARD NAME=");
	memset(line + n, 'n', SMTP_XFWD_VALUE_MAX);
	memcpy(line + n + SMTP_XFWD_VALUE_MAX, "\r\n", 3);
	t_check(t_step(t, line, "250 2.0.0 Ok\r\n"),
	    "XFORWARD: a value of 255 characters relayed");
	memcpy(line + n + SMTP_XFWD_VALUE_MAX, "n\r\n", 4);
	t_check(t_local(t, line, "501 "),
	    "XFORWARD: a value of 256 characters, 501");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(name, sizeof(name), "XFORWARD: %.*s, 501, nothing "
		    "relayed", (int)strcspn(bad[i], "\r"), bad[i]);
		t_check(t_local(t, bad[i], "501 "), name);
	}
	t_end(t);

	t_start(t, T_SPLIT_WHOLE, T_SPLIT_WHOLE);
	t_open(t, "250-mx.down.example\r\n250 XFORWARD NAME ADDR\r\n");
	t_check(t_local(t, "XFORWARD IDENT=4XhYk02sZ1z\r\n", "501 "),
	    "XFORWARD: an attribute the downstream did not offer, 501");
	t_check(t_step(t, "XFORWARD NAME=a.example ADDR=192.0.2.1\r\n",
	    "250 2.0.0 Ok\r\n"), "XFORWARD: the offered ones relayed");
	t_end(t);
}

/* ------------------------------------------------------------------ */
/* 12. Transactions in a row                                           */
/* ------------------------------------------------------------------ */

static void
t_two(void)
{
	static const char queued[] = "250 2.0.0 Ok: queued as 4XhYk02sZ1w\r\n";
	static const char body[] = "Subject: two\r\n\r\n..x\r\n";
	struct t_sess *t = &ts;
	char	in[256];
	size_t	cm, dm;

	t_start(t, T_SPLIT_WHOLE, T_SPLIT_WHOLE);
	t_open(t, t_ehlo_all);
	t_check(t_step(t, "MAIL FROM:<a@example.org>\r\n", "250 2.1.0 Ok\r\n")
	    && t_step(t, "RSET\r\n", "250 2.0.0 Ok\r\n"),
	    "RSET after MAIL: relayed, its reply unchanged");
	t_check(t_data_open(t), "after RSET: a new MAIL, RCPT, DATA");
	cm = t->cllen;
	dm = t->dnlen;
	snprintf(in, sizeof(in), "%s.\r\nMAIL FROM:<c@example.org>\r\n", body);
	t_say(t, in);
	t_check(t_dn_is(t, dm, "Subject: two\r\n\r\n..x\r\n.\r\n"),
	    "MAIL pipelined after the dot waits for the dot's reply");
	dm = t->dnlen;
	t_down(t, queued);
	t_check(t_cl_is(t, cm, queued)
	    && t_dn_is(t, dm, "MAIL FROM:<c@example.org>\r\n"),
	    "the dot's reply, then the next MAIL goes");
	cm = t->cllen;
	dm = t->dnlen;
	t_down(t, "250 2.1.0 Ok\r\n");
	t_check(t_cl_is(t, cm, "250 2.1.0 Ok\r\n"),
	    "second transaction: MAIL's reply");
	t_check(t_step(t, "RCPT TO:<d@example.test>\r\n", "250 2.1.5 Ok\r\n")
	    && t_step(t, "DATA\r\n", "354 go ahead\r\n"),
	    "second transaction: RCPT and DATA");
	cm = t->cllen;
	dm = t->dnlen;
	t_say(t, "a\r\n\n.\nRCPT TO:<e@example.test>\r\n.\r\n");
	t_check(t_dn_is(t, dm, "a\r\n\n..\nRCPT TO:<e@example.test>\r\n.\r\n"),
	    "second transaction: a bare-LF dot line stays content, "
	    "stuffed for Postfix");
	t_down(t, "250 2.0.0 Ok: queued as 4XhYk02sZ1v\r\n");
	t_check(t_cl_is(t, cm, "250 2.0.0 Ok: queued as 4XhYk02sZ1v\r\n"),
	    "second transaction: its dot answered");
	t_end(t);
}

/* t_lines - CRLF lines since mark that start with code, and all lines */

static int
t_lines(struct t_sess *t, size_t mark, const char *code, int *all)
{
	const char *p = t->cl + mark, *end = t->cl + t->cllen, *e;
	int	n = 0;

	*all = 0;
	for (; p < end && (e = memchr(p, '\n', end - p)) != 0; p = e + 1) {
		(*all)++;
		if (e - p >= 4 && e[-1] == '\r'
		    && memcmp(p, code, strlen(code)) == 0)
			n++;
	}
	return (n);
}

/* A client that does not read its replies does not grow our buffer. */
static void
t_slow_reader(void)
{
	struct t_sess *t = &ts;
	static char in[400 * 6];
	size_t	i, cm;
	int	all, n;

	t_start(t, T_SPLIT_WHOLE, T_SPLIT_WHOLE);
	t_open(t, t_ehlo_all);
	for (i = 0; i < 400; i++)
		memcpy(in + 6 * i, "NOOP\r\n", 6);
	cm = t->cllen;
	t->cblock = 1;
	t_client(t, in, sizeof(in));
	t_check(t->s.cin_len > 0 && t->s.cout_len <= SMTP_COUT_MAX
	    && !t->closed, "400 pipelined NOOPs, client not reading: "
	    "commands wait unread, replies bounded");
	t->cblock = 0;
	t_pump(t);
	n = t_lines(t, cm, "250 ", &all);
	t_check(n == 400 && all == 400,
	    "400 pipelined NOOPs: 400 replies once the client reads");
	t_end(t);
}

/* ------------------------------------------------------------------ */
/* 14. SIGTERM                                                         */
/* ------------------------------------------------------------------ */

static void
t_shutdown(void)
{
	static const char queued[] = "250 2.0.0 Ok: queued as 4XhYk02sZ1u\r\n";
	struct t_sess *t = &ts;
	size_t	cm, dm;

	t_start(t, T_SPLIT_WHOLE, T_SPLIT_WHOLE);
	t_open(t, t_ehlo_all);
	t_step(t, "MAIL FROM:<a@example.org>\r\n", "250 2.1.0 Ok\r\n");
	cm = t->cllen;
	smtp_shutdown(&t->s, t->now);
	t_pump(t);
	t_check(t->cllen == cm && !t->closed,
	    "SIGTERM in a transaction: no 421 yet");
	t_check(t_step(t, "RCPT TO:<b@example.test>\r\n", "250 2.1.5 Ok\r\n")
	    && t_step(t, "DATA\r\n", "354 go ahead\r\n"),
	    "SIGTERM in a transaction: RCPT and DATA still relayed");
	cm = t->cllen;
	dm = t->dnlen;
	t_say(t, "Subject: x\r\n\r\nbody\r\n.\r\n");
	t_check(t_dn_is(t, dm, "Subject: x\r\n\r\nbody\r\n.\r\n"),
	    "SIGTERM in a transaction: the message goes, with its dot");
	dm = t->dnlen;
	t_down(t, queued);
	t_say(t, "MAIL FROM:<c@example.org>\r\n");
	t_check(t->cllen - cm > sizeof(queued) - 1
	    && memcmp(t->cl + cm, queued, sizeof(queued) - 1) == 0
	    && t_cl_one(t, cm + sizeof(queued) - 1, "421 "),
	    "SIGTERM: the dot's reply, then 421");
	t_check(t->closed && t->dnlen == dm,
	    "SIGTERM: the next MAIL is not relayed, the session ends");
	t_end(t);

	t_start(t, T_SPLIT_WHOLE, T_SPLIT_WHOLE);
	t_open(t, t_ehlo_all);
	t_data_open(t);
	t_say(t, "Subject: x\r\n\r\nbody\r\n.\r\n");
	cm = t->cllen;
	smtp_shutdown(&t->s, t->now);
	t_pump(t);
	t_check(t->cllen == cm, "SIGTERM awaiting the dot's reply: silence");
	t_down(t, queued);
	t_check(t->cllen - cm > sizeof(queued) - 1
	    && memcmp(t->cl + cm, queued, sizeof(queued) - 1) == 0
	    && t_cl_one(t, cm + sizeof(queued) - 1, "421 "),
	    "SIGTERM awaiting the dot's reply: that reply, then 421");
	t_end(t);

	t_start(t, T_SPLIT_WHOLE, T_SPLIT_WHOLE);
	t_open(t, t_ehlo_all);
	cm = t->cllen;
	dm = t->dnlen;
	smtp_shutdown(&t->s, t->now);
	t_pump(t);
	t_say(t, "MAIL FROM:<a@example.org>\r\n");
	t_check(t_cl_one(t, cm, "421 ") && t->dnlen == dm && t->closed,
	    "SIGTERM with no transaction: 421, nothing relayed, closed");
	t_end(t);
}

/* ------------------------------------------------------------------ */
/* 15. Policy: whose mail is detached                                  */
/* ------------------------------------------------------------------ */

/*
 * t_pol_data - DATA, the attachment message, the downstream 250: 'W'
 * when the downstream server read the content as sent (stuffed, byte
 * for byte), 'D' when it read a link part, '?' otherwise
 */
static int
t_pol_data(struct t_sess *t)
{
	size_t	dm, n = strlen(t_msg_att);
	int	r = '?';

	if (!t_step(t, "DATA\r\n", "354 go ahead\r\n"))
		return ('?');
	dm = t->dnlen;
	t_say(t, t_msg_att);
	if (t->dnlen - dm == n && memcmp(t->dn + dm, t_msg_att, n) == 0)
		r = 'W';
	else if (t_has(t->dn + dm, t->dnlen - dm, "\r\nX-Detach-URL: "))
		r = 'D';
	t_down(t, "250 2.0.0 Ok: queued as 4XhYk02sZ1p\r\n");
	return (r);
}

static void
t_policy(void)
{
	static const char ok[] = "250 2.1.0 Ok\r\n";
	static const char no[] = "550 5.1.1 no\r\n";
	struct t_sess *t = &ts;
	char	why[256];

	policy_set(&cfg.policy, POLICY_SKIP_SENDERS, "boss@example.org <>",
	    why, sizeof(why));
	policy_set(&cfg.policy, POLICY_SKIP_RECIPIENTS, "whole@example.test",
	    why, sizeof(why));
	policy_set(&cfg.policy, POLICY_SKIP_CLIENTS, "198.51.100.0/24",
	    why, sizeof(why));
	if (cfg.policy == 0) {
		t_ok(0, "policy: lists set: %s", why);
		return;
	}
	t_start(t, T_SPLIT_WHOLE, T_SPLIT_WHOLE);
	t_open(t, t_ehlo_all);
	t_step(t, "MAIL FROM:<\"boss\"@EXAMPLE.org> SIZE=999\r\n", ok);
	t_step(t, "RCPT TO:<b@example.test>\r\n", ok);
	t_check(t_pol_data(t) == 'W',
	    "policy: skip_senders, the message goes as sent");
	t_check(t->s.pol_why == 0, "policy: the verdict goes with the "
	    "transaction");
	t_step(t, "MAIL FROM:<a@example.org>\r\n", ok);
	t_step(t, "RCPT TO:<b@example.test>\r\n", ok);
	t_check(t_pol_data(t) == 'D',
	    "policy: the next transaction, another sender, detached");

	/* What the downstream server refused does not count. */
	t_step(t, "MAIL FROM:<boss@example.org>\r\n", no);
	t_step(t, "MAIL FROM:<a@example.org>\r\n", ok);
	t_step(t, "RCPT TO:<whole@example.test>\r\n", no);
	t_step(t, "RCPT TO:<b@example.test>\r\n", ok);
	t_check(t_pol_data(t) == 'D',
	    "policy: a refused MAIL and a refused RCPT do not count");

	/* RSET forgets the sender. */
	t_step(t, "MAIL FROM:<>\r\n", ok);
	t_step(t, "RSET\r\n", "250 2.0.0 Ok\r\n");
	t_step(t, "MAIL FROM:<a@example.org>\r\n", ok);
	t_step(t, "RCPT TO:<b@example.test>\r\n", ok);
	t_check(t_pol_data(t) == 'D', "policy: RSET forgets the sender");

	/* skip_recipients: one among several. */
	t_step(t, "MAIL FROM:<a@example.org>\r\n", ok);
	t_step(t, "RCPT TO:<b@example.test>\r\n", ok);
	t_step(t, "RCPT TO:<@relay.example:whole@Example.TEST>\r\n", ok);
	t_step(t, "RCPT TO:<c@example.test>\r\n", ok);
	t_check(t_pol_data(t) == 'W',
	    "policy: skip_recipients, one among three (source route)");

	/* An unparsable sender: in doubt, left alone. */
	t_step(t, "MAIL FROM:<a@b@example.org>\r\n", ok);
	t_step(t, "RCPT TO:<b@example.test>\r\n", ok);
	t_check(t_pol_data(t) == 'W',
	    "policy: an unparsable sender counts as in skip_senders");

	/* skip_clients: XFORWARD ADDR once accepted, for one transaction. */
	t_step(t, "XFORWARD ADDR=198.51.100.7\r\n", "250 2.0.0 Ok\r\n");
	t_step(t, "MAIL FROM:<a@example.org>\r\n", ok);
	t_step(t, "RCPT TO:<b@example.test>\r\n", ok);
	t_check(t_pol_data(t) == 'W', "policy: skip_clients by XFORWARD ADDR");
	t_step(t, "MAIL FROM:<a@example.org>\r\n", ok);
	t_step(t, "RCPT TO:<b@example.test>\r\n", ok);
	t_check(t_pol_data(t) == 'D',
	    "policy: XFORWARD ADDR ends with its transaction");
	t_step(t, "XFORWARD ADDR=198.51.100.7\r\n", "550 5.5.1 no\r\n");
	t_step(t, "MAIL FROM:<a@example.org>\r\n", ok);
	t_step(t, "RCPT TO:<b@example.test>\r\n", ok);
	t_check(t_pol_data(t) == 'D',
	    "policy: an XFORWARD the downstream refused does not count");
	t_end(t);

	/* The peer itself, then an XFORWARD ADDR that is another client. */
	smtp_sess_init(&t->s, &cfg, "T0002", "[::ffff:198.51.100.3]:4711",
	    t->now);
	t_check(t->s.pol.client == 1,
	    "policy: an IPv4-mapped peer in skip_clients");
	t_end(t);
	t_start(t, T_SPLIT_WHOLE, T_SPLIT_WHOLE);
	smtp_sess_free(&t->s);
	smtp_sess_init(&t->s, &cfg, "T0003", "198.51.100.3", t->now);
	t_pump(t);
	t_open(t, t_ehlo_all);
	t_step(t, "XFORWARD ADDR=IPV6:2001:db8::1\r\n", "250 2.0.0 Ok\r\n");
	t_step(t, "MAIL FROM:<a@example.org>\r\n", ok);
	t_step(t, "RCPT TO:<b@example.test>\r\n", ok);
	t_check(t_pol_data(t) == 'D',
	    "policy: XFORWARD ADDR wins over a listed peer");
	t_step(t, "MAIL FROM:<a@example.org>\r\n", ok);
	t_step(t, "RCPT TO:<b@example.test>\r\n", ok);
	t_check(t_pol_data(t) == 'W',
	    "policy: without XFORWARD, the listed peer");
	t_end(t);
	policy_unref(cfg.policy);
	cfg.policy = 0;
}

int
main(void)
{
	char	cmd[600];
	int	i;

	t_seed_init();
	if (mkdtemp(tmpdir) == 0)
		return (1);
	cfg_defaults(&cfg);
	snprintf(cfg.store, sizeof(cfg.store), "dir:%s/store", tmpdir);
	snprintf(cfg.spool_dir, sizeof(cfg.spool_dir), "%s", tmpdir);
	snprintf(cfg.link_base, sizeof(cfg.link_base), "https://f.example/a/");
	snprintf(cfg.hostname, sizeof(cfg.hostname), "%s", T_HOST);
	for (i = 0; i < 32; i++)
		cfg.secret[i] = i * 7 + 1;
	cfg.secret_set = 1;
	cfg.min_size = 10;
	snprintf(cmd, sizeof(cmd), "%s/store", tmpdir);
	mkdir(cmd, 0755);
	if (store_init(&cfg, cmd, sizeof(cmd)) < 0) {
		t_ok(0, "store_init: %s", cmd);
		return (1);
	}
	t_greeting();
	t_ehlo();
	t_splits("pipelining", t_scn_pipe);
	t_params();
	t_refused();
	t_splits("DATA", t_scn_data);
	t_splits("attachment", t_scn_attach);
	t_stats();
	t_client_eof();
	t_down_gone();
	t_timeouts();
	t_xforward();
	t_two();
	t_slow_reader();
	t_shutdown();
	t_policy();
	store_shutdown();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	if (system(cmd) != 0)
		t_ok(0, "cleanup");
	return (t_failed != 0);
}
