/*
 * NAME
 *	smtp - ESMTP cores of the before-queue proxy
 * SYNOPSIS
 *	#include "detach.h"
 *
 *	void smtp_line_init(struct smtp_line *l)
 *	size_t smtp_line_feed(struct smtp_line *l, const void *buf,
 *		size_t len)
 *	int smtp_cmd_parse(const struct smtp_line *l, const char **args,
 *		const char **reply)
 *
 *	void smtp_reply_init(struct smtp_reply *r)
 *	size_t smtp_reply_feed(struct smtp_reply *r, const void *buf,
 *		size_t len)
 *	const char *smtp_reply_strerror(int flags)
 *	size_t smtp_ehlo_filter(const struct smtp_reply *r, const char *host,
 *		char *out, size_t outlen, int *xforward)
 *	int smtp_xforward_check(const char *args, int offered, char *ident,
 *		size_t identlen)
 *	int smtp_xforward_addr(const char *args, char *out, size_t outlen)
 *	int smtp_path(const char *p, char *out, size_t outlen)
 *
 *	size_t smtp_unstuff(struct smtp_unstuff *u, const unsigned char *in,
 *		size_t len, unsigned char *out, size_t *outlen, int *end)
 *	size_t smtp_stuff(struct smtp_stuff *st, const unsigned char *in,
 *		size_t len, unsigned char *out, size_t room, size_t *outlen)
 *	size_t smtp_stuff_end(struct smtp_stuff *st, unsigned char *out,
 *		size_t room)
 *
 *	void smtp_sess_init(struct smtp_sess *s, const struct cfg *cfg,
 *		const char *id, const char *peer, int64_t now)
 *	void smtp_run(struct smtp_sess *s, int64_t now)
 *	int smtp_want(const struct smtp_sess *s)
 *	unsigned char *smtp_cin_buf(struct smtp_sess *s, size_t *room)
 *	void smtp_cin_ack(struct smtp_sess *s, size_t n, int64_t now)
 *	(and the cout, din and dout buf/ack pairs)
 *	void smtp_timeout(struct smtp_sess *s, int64_t now)
 *	void smtp_client_gone(struct smtp_sess *s, const char *why)
 *	void smtp_down_gone(struct smtp_sess *s, const char *why, int64_t now)
 *	void smtp_shutdown(struct smtp_sess *s, int64_t now)
 *
 *	const struct smtp_stats *smtp_stats(void)
 * DESCRIPTION
 *	These are the protocol cores of the proxy; none of them reads,
 *	writes or polls a descriptor. The loop (proxy.c) moves bytes in
 *	and out through buf/ack pairs, as BearSSL's engine does, and asks
 *	smtp_want() what to wait for.
 *
 *	smtp_line_feed() gathers one command line from any split of the
 *	input; smtp_cmd_parse() looks its verb up in the command table
 *	(verb, line limit, check) and returns its id, or SMTP_CMD_BAD
 *	with the reply to give: 500 past the RFC 5321 line limits, 502
 *	for every command detach does not carry, 501 for bad syntax.
 *
 *	smtp_reply_feed() reads one multi-line reply of the downstream
 *	server, bounded: lines cut at SMTP_REPLY_LINE_MAX, lines past
 *	SMTP_REPLY_MAX dropped, unprintable bytes censored to '?', a line
 *	without a code an error. It stops after the last line.
 *
 *	smtp_ehlo_filter() rewrites the downstream EHLO reply for the
 *	client: only PIPELINING, SIZE, 8BITMIME, ENHANCEDSTATUSCODES, DSN,
 *	SMTPUTF8 and XFORWARD (its seven attributes, when the downstream
 *	server offers it) are kept. CHUNKING and BINARYMIME need BDAT,
 *	which detach does not frame; STARTTLS and AUTH belong to the
 *	front smtpd; XCLIENT would let the client rewrite the audit
 *	trail; VRFY, EXPN, ETRN and anything unknown are not relayed.
 *
 *	smtp_xforward_check() checks the attributes of an XFORWARD
 *	command (XFORWARD_README: NAME ADDR PORT PROTO HELO IDENT
 *	SOURCE, xtext values, [UNAVAILABLE] in any case);
 *	smtp_xforward_addr() gives the client address it carries.
 *
 *	smtp_path() takes the mailbox out of a MAIL FROM or RCPT TO path
 *	for the policy lists (policy.c): source routes dropped, a quoted
 *	local part unquoted, brackets optional, parameters ignored.
 *
 *	smtp_unstuff() undoes RFC 5321 4.5.2 transparency on the client's
 *	content and finds the end of data; only CRLF "." CRLF ends it,
 *	so a bare LF "." line is content (no SMTP smuggling).
 *	smtp_stuff() doubles a leading dot on every line for the
 *	downstream server, counting a bare LF as a line end because
 *	Postfix does; smtp_stuff_end() adds the final dot.
 *
 *	The session (struct smtp_sess) is a lockstep relay: one client
 *	command at a time goes downstream and its reply comes back, in
 *	order, so a pipelining client is answered in order. DATA goes to
 *	a message job (store.c) after the downstream server's 354; the
 *	rewritten message goes downstream dot-stuffed once the job is
 *	ready, and the client's dot is answered with the downstream
 *	reply to it. A client that closes right after its dot, before the
 *	dot went downstream, gave the transaction up: the dot is not
 *	relayed (no delivery its client does not know of), unless it sent
 *	a command after the dot and so still reads.
 *
 *	smtp_stats() gives counters of the transactions since the start,
 *	kept where the log line of each transaction is written: messages
 *	by the reply to their dot, attachments detached, bytes received,
 *	relayed and saved (bytes removed times recipients, counted only
 *	for messages the downstream server accepted).
 *	The session applies the policy lists to the envelope it relayed:
 *	the client address (XFORWARD ADDR once the downstream server took
 *	it, else the TCP peer), the sender once MAIL was accepted, each
 *	recipient accepted, folded into a struct policy_env as they come.
 *	At DATA, a message that policy leaves alone goes through a message
 *	job that detaches nothing (msg_passthru) and comes out byte for
 *	byte; its log line names the key (policy=skip_senders). RSET and
 *	the end of a transaction forget the envelope, XFORWARD's client
 *	address with it (as Postfix's smtpd does).
 * LIMITS
 *	SMTP_CMD_MAX, SMTP_ENVCMD_MAX, SMTP_REPLY_LINE_MAX, SMTP_REPLY_MAX,
 *	SMTP_XFWD_VALUE_MAX; buffers of a fixed size per session.
 * DIAGNOSTICS
 *	One line per transaction (from, size, nrcpt, detached, saved, the
 *	policy key that left it alone, the XFORWARD IDENT, the final
 *	reply); a warning for a downstream protocol error, a lost peer or
 *	a timeout, naming the state.
 * BUGS
 *	After the downstream connection is dropped (store tempfail, a
 *	lost server), the session answers 421 to the next command that
 *	needs it rather than reconnecting; Postfix sends one message per
 *	proxy connection, so it never sees this.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <arpa/inet.h>

#include "detach.h"

/* ------------------------------------------------------------------ */
/* Command lines                                                       */
/* ------------------------------------------------------------------ */

/* smtp_line_init - get ready for the next command line */

void
smtp_line_init(struct smtp_line *l)
{
	l->len = 0;
	l->rawlen = 0;
	l->done = 0;
	l->buf[0] = 0;
}

/*
 * smtp_line_feed - take bytes up to and including the line's LF
 *
 * Returns the bytes consumed; l->done is set when the line is whole.
 * Bytes past SMTP_ENVCMD_MAX are counted, not kept.
 */
size_t
smtp_line_feed(struct smtp_line *l, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	size_t i;

	for (i = 0; i < len && !l->done; i++) {
		if (l->rawlen <= SMTP_ENVCMD_MAX)
			l->rawlen++;
		if (p[i] == '\n') {
			if (l->len > 0 && l->buf[l->len - 1] == '\r')
				l->len--;
			l->buf[l->len] = 0;
			l->done = 1;
		} else if (l->len < SMTP_ENVCMD_MAX)
			l->buf[l->len++] = p[i];
	}
	return (i);
}

static const char *smtp_check_hello(const char *);
static const char *smtp_check_mail(const char *);
static const char *smtp_check_rcpt(const char *);
static const char *smtp_check_noarg(const char *);
static const char *smtp_check_args(const char *);
static const char *smtp_check_any(const char *);

/* The commands detach relays; anything else is 502. */
static const struct smtp_cmd {
	const char *verb;
	int	id;
	size_t	max;			/* line limit with CRLF */
	const char *(*check)(const char *);
	const char *usage;
} smtp_cmds[] = {
	{"EHLO", SMTP_CMD_EHLO, SMTP_CMD_MAX, smtp_check_hello, 0},
	{"HELO", SMTP_CMD_HELO, SMTP_CMD_MAX, smtp_check_hello, 0},
	{"XFORWARD", SMTP_CMD_XFORWARD, SMTP_CMD_MAX, smtp_check_args, 0},
	{"MAIL", SMTP_CMD_MAIL, SMTP_ENVCMD_MAX, smtp_check_mail, 0},
	{"RCPT", SMTP_CMD_RCPT, SMTP_ENVCMD_MAX, smtp_check_rcpt, 0},
	{"DATA", SMTP_CMD_DATA, SMTP_CMD_MAX, smtp_check_noarg, 0},
	{"RSET", SMTP_CMD_RSET, SMTP_CMD_MAX, smtp_check_noarg, 0},
	{"NOOP", SMTP_CMD_NOOP, SMTP_CMD_MAX, smtp_check_any, 0},
	{"QUIT", SMTP_CMD_QUIT, SMTP_CMD_MAX, smtp_check_noarg, 0},
};

#define SMTP_NCMDS	(sizeof(smtp_cmds) / sizeof(smtp_cmds[0]))

static const char *
smtp_check_hello(const char *args)
{
	return (*args ? 0 : "501 5.5.4 Syntax: EHLO hostname");
}

static const char *
smtp_check_mail(const char *args)
{
	return (strncasecmp(args, "FROM:", 5) == 0 ? 0 :
	    "501 5.5.4 Syntax: MAIL FROM:<address>");
}

static const char *
smtp_check_rcpt(const char *args)
{
	return (strncasecmp(args, "TO:", 3) == 0 ? 0 :
	    "501 5.5.4 Syntax: RCPT TO:<address>");
}

static const char *
smtp_check_noarg(const char *args)
{
	return (*args ? "501 5.5.4 Syntax: no parameters allowed" : 0);
}

static const char *
smtp_check_args(const char *args)
{
	return (*args ? 0 : "501 5.5.4 Syntax: parameters required");
}

static const char *
smtp_check_any(const char *args)
{
	(void)args;
	return (0);
}

/*
 * smtp_cmd_parse - name the command of a whole line
 *
 * Returns SMTP_CMD_* with *args at its parameters, or SMTP_CMD_BAD
 * with *reply set to the reply the client gets.
 */
int
smtp_cmd_parse(const struct smtp_line *l, const char **args,
    const char **reply)
{
	const struct smtp_cmd *c;
	const char *p;
	size_t vlen;

	*args = "";
	*reply = 0;
	if (l->rawlen > SMTP_ENVCMD_MAX) {
		*reply = "500 5.5.2 Error: line too long";
		return (SMTP_CMD_BAD);
	}
	if (strlen(l->buf) != l->len) {
		*reply = "500 5.5.2 Error: NUL in command";
		return (SMTP_CMD_BAD);
	}
	for (vlen = 0; l->buf[vlen] && l->buf[vlen] != ' '; vlen++)
		;
	for (c = smtp_cmds; c < smtp_cmds + SMTP_NCMDS; c++)
		if (strlen(c->verb) == vlen
		    && strncasecmp(c->verb, l->buf, vlen) == 0)
			break;
	if (c == smtp_cmds + SMTP_NCMDS) {
		*reply = "502 5.5.1 Error: command not implemented";
		return (SMTP_CMD_BAD);
	}
	if (l->rawlen > c->max) {
		*reply = "500 5.5.2 Error: line too long";
		return (SMTP_CMD_BAD);
	}
	for (p = l->buf + vlen; *p == ' '; p++)
		;
	if ((*reply = c->check(p)) != 0)
		return (SMTP_CMD_BAD);
	*args = p;
	return (c->id);
}

/* ------------------------------------------------------------------ */
/* Replies of the downstream server                                    */
/* ------------------------------------------------------------------ */

/* smtp_reply_init - get ready for the next reply */

void
smtp_reply_init(struct smtp_reply *r)
{
	r->len = 0;
	r->last = 0;
	r->llen = 0;
	r->code = 0;
	r->nlines = 0;
	r->flags = 0;
	r->done = 0;
}

/* smtp_reply_line - take one whole reply line */

static void
smtp_reply_line(struct smtp_reply *r)
{
	char *p = r->line;
	size_t n = r->llen, i, need;
	int code, final;

	if (n > 0 && p[n - 1] == '\r')
		n--;
	if (n < 3 || p[0] < '2' || p[0] > '5' || p[1] < '0' || p[1] > '9'
	    || p[2] < '0' || p[2] > '9' || (n > 3 && p[3] != ' '
	    && p[3] != '-')) {
		r->flags |= SMTP_REPLY_ERR_SYNTAX;
		r->done = 1;
		return;
	}
	code = (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
	if (r->nlines == 0)
		r->code = code;
	else if (code != r->code)
		r->flags |= SMTP_REPLY_ERR_CODE;
	final = (n == 3 || p[3] == ' ');
	for (i = 4; i < n; i++) {
		if ((unsigned char)p[i] < 0x20 || (unsigned char)p[i] > 0x7e) {
			p[i] = '?';
			r->flags |= SMTP_REPLY_CENSORED;
		}
	}
	need = (n == 3 ? 4 : n) + 2;
	if (r->len + need <= sizeof(r->text)) {
		r->last = r->len;
		memcpy(r->text + r->len, p, n);
		if (n == 3)
			r->text[r->len + 3] = ' ';
		memcpy(r->text + r->len + need - 2, "\r\n", 2);
		r->len += need;
	} else
		r->flags |= SMTP_REPLY_CUT;
	r->nlines++;
	if (final) {
		r->done = 1;
		r->text[r->last + 3] = ' ';
	}
}

/*
 * smtp_reply_feed - take bytes of one reply
 *
 * Returns the bytes consumed; stops after the reply's last line, or at
 * a syntax error (r->flags tells).
 */
size_t
smtp_reply_feed(struct smtp_reply *r, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	size_t i;

	for (i = 0; i < len && !r->done; i++) {
		if (p[i] == '\n') {
			smtp_reply_line(r);
			r->llen = 0;
		} else if (r->llen < SMTP_REPLY_LINE_MAX - 2)
			r->line[r->llen++] = p[i];
		else if (p[i] != '\r')
			r->flags |= SMTP_REPLY_CUT_LINE;
	}
	return (i);
}

/* Reply flags, their text and what the client is told. */
static const struct smtp_reply_err {
	int	flag;
	const char *text;
} smtp_reply_errs[] = {
	{SMTP_REPLY_ERR_SYNTAX, "reply line without a status code"},
	{SMTP_REPLY_ERR_CODE, "reply lines with different codes"},
	{SMTP_REPLY_CUT_LINE, "reply line cut at 512 octets"},
	{SMTP_REPLY_CUT, "reply lines dropped past the reply limit"},
	{SMTP_REPLY_CENSORED, "unprintable bytes in reply"},
};

/* smtp_reply_strerror - the text of the first flag set */

const char *
smtp_reply_strerror(int flags)
{
	size_t i;

	for (i = 0; i < sizeof(smtp_reply_errs) / sizeof(smtp_reply_errs[0]);
	    i++)
		if (flags & smtp_reply_errs[i].flag)
			return (smtp_reply_errs[i].text);
	return ("no error");
}

/* ------------------------------------------------------------------ */
/* EHLO and XFORWARD                                                   */
/* ------------------------------------------------------------------ */

/* The seven attributes of XFORWARD_README, in bit order. */
static const char *smtp_xfwd_names[] = {
	"NAME", "ADDR", "PORT", "PROTO", "HELO", "IDENT", "SOURCE",
};

#define SMTP_XFWD_NNAMES	7

/* What detach carries; see the DESCRIPTION for what it drops. */
static const char *smtp_ehlo_keep[] = {
	"PIPELINING", "SIZE", "8BITMIME", "ENHANCEDSTATUSCODES", "DSN",
	"SMTPUTF8",
};

/* smtp_xfwd_bit - the attribute bit of a name, or 0 */

static int
smtp_xfwd_bit(const char *name, size_t len)
{
	int i;

	for (i = 0; i < SMTP_XFWD_NNAMES; i++)
		if (strlen(smtp_xfwd_names[i]) == len
		    && strncasecmp(smtp_xfwd_names[i], name, len) == 0)
			return (1 << i);
	return (0);
}

/* smtp_out - append to a bounded buffer; -1 when it does not fit */

static int
smtp_out(char *out, size_t outlen, size_t *off, const char *p, size_t n)
{
	if (n > outlen - *off)
		return (-1);
	memcpy(out + *off, p, n);
	*off += n;
	return (0);
}

/*
 * smtp_ehlo_filter - the downstream EHLO reply as the client gets it
 *
 * A 250 reply is rebuilt: our host name, then the kept keywords in
 * their order; anything else is copied. *xforward gets the attributes
 * the downstream server takes. Returns the length written, 0 when out
 * is too small.
 */
size_t
smtp_ehlo_filter(const struct smtp_reply *r, const char *host, char *out,
    size_t outlen, int *xforward)
{
	const char *lines[SMTP_REPLY_MAX / 6];
	size_t lens[SMTP_REPLY_MAX / 6];
	const char *p, *e, *kw, *a;
	char xf[128];
	size_t off = 0, n, klen, xlen, i, k, nl = 0;
	int bit;

	*xforward = 0;
	if (r->code != 250) {
		if (r->len > outlen)
			return (0);
		memcpy(out, r->text, r->len);
		return (r->len);
	}
	xlen = 0;
	/* The first line greets; extensions follow, one per line. */
	for (p = r->text; p < r->text + r->len; p = e + 2) {
		e = memchr(p, '\r', r->text + r->len - p);
		if (e == 0)
			break;
		if (p == r->text)
			continue;
		kw = p + 4;
		for (klen = 0; kw + klen < e && kw[klen] != ' '; klen++)
			;
		if (klen == 8 && strncasecmp(kw, "XFORWARD", 8) == 0) {
			memcpy(xf, "XFORWARD", 8);
			xlen = 8;
			for (a = kw + klen; a < e; a += n) {
				while (a < e && *a == ' ')
					a++;
				for (n = 0; a + n < e && a[n] != ' '; n++)
					;
				if ((bit = smtp_xfwd_bit(a, n)) == 0
				    || (*xforward & bit))
					continue;
				*xforward |= bit;
				xf[xlen++] = ' ';
				memcpy(xf + xlen, a, n);
				xlen += n;
			}
			if (*xforward) {
				lines[nl] = xf;
				lens[nl++] = xlen;
			}
			continue;
		}
		for (i = 0; i < sizeof(smtp_ehlo_keep) /
		    sizeof(smtp_ehlo_keep[0]); i++)
			if (strlen(smtp_ehlo_keep[i]) == klen
			    && strncasecmp(smtp_ehlo_keep[i], kw, klen) == 0)
				break;
		if (i < sizeof(smtp_ehlo_keep) / sizeof(smtp_ehlo_keep[0])) {
			lines[nl] = kw;
			lens[nl++] = e - kw;
		}
	}
	if (smtp_out(out, outlen, &off, nl ? "250-" : "250 ", 4) < 0
	    || smtp_out(out, outlen, &off, host, strlen(host)) < 0
	    || smtp_out(out, outlen, &off, "\r\n", 2) < 0)
		return (0);
	for (k = 0; k < nl; k++)
		if (smtp_out(out, outlen, &off, k + 1 < nl ? "250-" : "250 ",
		    4) < 0 || smtp_out(out, outlen, &off, lines[k],
		    lens[k]) < 0 || smtp_out(out, outlen, &off, "\r\n", 2) < 0)
			return (0);
	return (off);
}

/* smtp_hexval - value of an uppercase hex digit, or -1 */

static int
smtp_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return (c - '0');
	if (c >= 'A' && c <= 'F')
		return (c - 'A' + 10);
	return (-1);
}

/* smtp_xfwd_value - check one decoded attribute value */

static int
smtp_xfwd_value(int bit, const char *v, size_t n)
{
	char addr[SMTP_XFWD_VALUE_MAX + 1];
	unsigned char bin[16];
	size_t i;
	unsigned long port;

	if (n == 13 && strncasecmp(v, "[UNAVAILABLE]", 13) == 0)
		return (0);
	switch (bit) {
	case SMTP_XFWD_ADDR:
		if (n > 5 && strncasecmp(v, "IPV6:", 5) == 0) {
			memcpy(addr, v + 5, n - 5);
			addr[n - 5] = 0;
			return (inet_pton(AF_INET6, addr, bin) == 1 ? 0 : -1);
		}
		memcpy(addr, v, n);
		addr[n] = 0;
		return (inet_pton(AF_INET, addr, bin) == 1 ? 0 : -1);
	case SMTP_XFWD_PORT:
		if (n > 5)
			return (-1);
		for (port = 0, i = 0; i < n; i++) {
			if (v[i] < '0' || v[i] > '9')
				return (-1);
			port = port * 10 + (v[i] - '0');
		}
		return (port <= 65535 ? 0 : -1);
	case SMTP_XFWD_PROTO:
		return (n <= SMTP_XFWD_PROTO_MAX ? 0 : -1);
	case SMTP_XFWD_SOURCE:
		return ((n == 5 && strncasecmp(v, "LOCAL", 5) == 0)
		    || (n == 6 && strncasecmp(v, "REMOTE", 6) == 0) ? 0 : -1);
	default:
		return (0);
	}
}

/*
 * smtp_xforward_check - check the attributes of an XFORWARD command
 *
 * args is what follows the verb; offered the attribute bits the
 * downstream server takes. Values are xtext (RFC 3461 4): printable
 * ASCII but "=" and "+", "+XX" for others; decoded, no control,
 * space or non-ASCII byte. The decoded IDENT, if any, is copied out.
 * Returns 0 or -1.
 */
int
smtp_xforward_check(const char *args, int offered, char *ident,
    size_t identlen)
{
	char val[SMTP_XFWD_VALUE_MAX + 1];
	const char *p = args, *name, *eq;
	size_t n, vlen;
	int bit, hi, lo, count = 0;

	while (*p) {
		while (*p == ' ')
			p++;
		if (*p == 0)
			break;
		name = p;
		for (eq = p; *eq && *eq != '=' && *eq != ' '; eq++)
			;
		if (*eq != '=' || (bit = smtp_xfwd_bit(name, eq - name)) == 0
		    || (offered & bit) == 0)
			return (-1);
		p = eq + 1;
		for (n = 0; p[n] && p[n] != ' '; n++)
			;
		if (n == 0 || n > SMTP_XFWD_VALUE_MAX)
			return (-1);
		for (vlen = 0; n > 0; p++, n--) {
			if (*p == '+') {
				if (n < 3 || (hi = smtp_hexval(p[1])) < 0
				    || (lo = smtp_hexval(p[2])) < 0)
					return (-1);
				val[vlen] = (char)(hi * 16 + lo);
				p += 2;
				n -= 2;
			} else if (*p < '!' || *p > '~' || *p == '=')
				return (-1);
			else
				val[vlen] = *p;
			if ((unsigned char)val[vlen] <= ' '
			    || (unsigned char)val[vlen] > '~')
				return (-1);
			vlen++;
		}
		if (smtp_xfwd_value(bit, val, vlen) < 0)
			return (-1);
		if (bit == SMTP_XFWD_IDENT && ident && identlen > 0) {
			if (vlen >= identlen)
				vlen = identlen - 1;
			memcpy(ident, val, vlen);
			ident[vlen] = 0;
		}
		count++;
	}
	return (count > 0 ? 0 : -1);
}

/*
 * smtp_xforward_addr - the decoded ADDR of an XFORWARD command that
 * smtp_xforward_check() took; 0, or -1 when it has none
 */
int
smtp_xforward_addr(const char *args, char *out, size_t outlen)
{
	const char *p = args;
	size_t n, o;

	while (*p) {
		while (*p == ' ')
			p++;
		for (n = 0; p[n] && p[n] != ' '; n++)
			;
		if (n > 5 && strncasecmp(p, "ADDR=", 5) == 0) {
			for (p += 5, n -= 5, o = 0; n > 0 && o + 1 < outlen;
			    p++, n--) {
				if (*p == '+' && n >= 3) {
					out[o++] = (char)(smtp_hexval(p[1]) * 16
					    + smtp_hexval(p[2]));
					p += 2;
					n -= 2;
				} else
					out[o++] = *p;
			}
			if (outlen == 0)
				return (-1);
			out[o] = 0;
			return (0);
		}
		p += n;
	}
	return (-1);
}

/*
 * smtp_path - the mailbox of a MAIL FROM or RCPT TO path, for policy
 *
 * p is what follows "FROM:" or "TO:". RFC 5321 4.1.2: "<>" or "<"
 * [A-d-l ":"] Mailbox ">", then parameters. Sloppy clients' forms pass
 * too: spaces after the colon, no angle brackets (the address ends at
 * a space). A source route is dropped (RFC 5321 C); a quoted local
 * part is unquoted, since the quotes and backslashes are not part of
 * the name; bytes above 0x7f (SMTPUTF8, RFC 6531) are kept as they
 * are. out gets "local@domain", or "" for the null path. Returns its
 * length, or -1 if the path is malformed or does not fit in out.
 */
int
smtp_path(const char *p, char *out, size_t outlen)
{
	size_t o = 0;
	int br = 0, at = 0, lit = 0, route = 0;
	unsigned char c;

	while (*p == ' ')
		p++;
	if (*p == '<') {
		br = 1;
		p++;
		if (*p == '@') {
			/* "@a,@b:" - ':' may sit in an IPv6 literal */
			for (; *p && *p != '>' && (*p != ':' || lit); p++) {
				if (*p == '[')
					lit = 1;
				else if (*p == ']')
					lit = 0;
			}
			if (*p != ':')
				return (-1);
			p++;
			route = 1;
		}
	}
	if (*p == '"') {
		for (p++; *p != '"'; p++) {
			if (*p == '\\')
				p++;
			c = (unsigned char)*p;
			if (c == 0 || c == '\r' || c == '\n')
				return (-1);
			if (o + 1 >= outlen)
				return (-1);
			out[o++] = (char)c;
		}
		p++;
		if (*p != '@')
			return (-1);
	}
	for (;; p++) {
		c = (unsigned char)*p;
		if (c == 0 || (br && c == '>') || (!br && c == ' '))
			break;
		if (c <= ' ' || c == 0x7f || c == '<' || c == '>' || c == '"')
			return (-1);
		if (c == '@' && at++)
			return (-1);
		if (o + 1 >= outlen)
			return (-1);
		out[o++] = (char)c;
	}
	if ((br && *p != '>') || ((!br || route) && o == 0) || outlen == 0)
		return (-1);
	out[o] = 0;
	return ((int)o);
}

/* ------------------------------------------------------------------ */
/* Dot codecs                                                          */
/* ------------------------------------------------------------------ */

/* Where the unstuffer is within a line. */
#define SMTP_U_BOL	0	/* after CRLF, or the first byte */
#define SMTP_U_DOT	1	/* "." at the start of a line */
#define SMTP_U_DOTCR	2	/* ".\r" at the start of a line */
#define SMTP_U_MID	3	/* inside a line */
#define SMTP_U_CR	4	/* after a CR inside a line */
#define SMTP_U_END	5	/* the final dot was seen */

void
smtp_unstuff_init(struct smtp_unstuff *u)
{
	u->state = SMTP_U_BOL;
}

/*
 * smtp_unstuff - undo dot-stuffing and find the end of data
 *
 * Writes at most len bytes to out (out may be in itself: no output
 * byte is written before the input byte at its place was read); *outlen
 * gets their count, *end is set once CRLF "." CRLF was seen. The CRLF
 * before the final dot ends the last line and is content. Returns the
 * bytes consumed; nothing past the final dot is, and a "." or ".\r"
 * that ends the input is left for the next call.
 */
size_t
smtp_unstuff(struct smtp_unstuff *u, const unsigned char *in, size_t len,
    unsigned char *out, size_t *outlen, int *end)
{
	size_t i, o = 0;
	unsigned char c;

	for (i = 0; i < len && u->state != SMTP_U_END; i++) {
		c = in[i];
		switch (u->state) {
		case SMTP_U_BOL:
			if (c == '.') {
				u->state = SMTP_U_DOT;
				continue;
			}
			break;
		case SMTP_U_DOT:
			/* RFC 5321 4.5.2: the first dot of a line goes. */
			if (c == '\r') {
				u->state = SMTP_U_DOTCR;
				continue;
			}
			break;
		case SMTP_U_DOTCR:
			if (c == '\n') {
				u->state = SMTP_U_END;
				continue;
			}
			out[o++] = '\r';
			u->state = SMTP_U_CR;
			break;
		case SMTP_U_MID:
		case SMTP_U_CR:
			break;
		default:
			log_panic("smtp_unstuff: state %d", u->state);
		}
		out[o++] = c;
		if (c == '\r')
			u->state = SMTP_U_CR;
		else if (c == '\n' && u->state == SMTP_U_CR)
			u->state = SMTP_U_BOL;
		else
			u->state = SMTP_U_MID;
	}
	/* A "." or ".\r" at the end of the input stays unconsumed, to be
	 * read again with what follows: output then never runs ahead of
	 * input, which the caller relies on when it unstuffs in place. */
	if (u->state == SMTP_U_DOT) {
		i -= 1;
		u->state = SMTP_U_BOL;
	} else if (u->state == SMTP_U_DOTCR) {
		i -= 2;
		u->state = SMTP_U_BOL;
	}
	*outlen = o;
	*end = (u->state == SMTP_U_END);
	return (i);
}

void
smtp_stuff_init(struct smtp_stuff *st)
{
	st->n = 0;
	st->bol = 1;
	st->cr = 0;
	st->crlf = 0;
}

/*
 * smtp_stuff - dot-stuff message bytes for the downstream server
 *
 * A line starts after any LF, as the receiving Postfix counts them.
 * Writes at most room bytes to out, *outlen their count; returns the
 * input bytes consumed.
 */
size_t
smtp_stuff(struct smtp_stuff *st, const unsigned char *in, size_t len,
    unsigned char *out, size_t room, size_t *outlen)
{
	size_t i, o = 0;
	unsigned char c;

	for (i = 0; i < len; i++) {
		c = in[i];
		if (st->bol && c == '.') {
			if (room - o < 2)
				break;
			out[o++] = '.';
		} else if (room - o < 1)
			break;
		out[o++] = c;
		st->crlf = (c == '\n' && st->cr);
		st->cr = (c == '\r');
		st->bol = (c == '\n');
	}
	st->n += i;
	*outlen = o;
	return (i);
}

/*
 * smtp_stuff_end - the end of data: CRLF if the last line lacks it, "."
 * CRLF. Returns its length, 0 if room is short (5 always suffices).
 */
size_t
smtp_stuff_end(struct smtp_stuff *st, unsigned char *out, size_t room)
{
	size_t o = 0;

	if (room < 5)
		return (0);
	if (st->n > 0 && !st->crlf) {
		memcpy(out, "\r\n", 2);
		o = 2;
	}
	memcpy(out + o, ".\r\n", 3);
	return (o + 3);
}

/* ------------------------------------------------------------------ */
/* The session                                                         */
/* ------------------------------------------------------------------ */

static const char *smtp_state_names[] = {
	"WAIT_GREETING", "WAIT_CMD", "WAIT_REPLY", "WAIT_CONTENT",
	"WAIT_STORE", "WAIT_SEND", "WAIT_DOT_REPLY", "WAIT_FLUSH",
	"WAIT_NOTHING",
};

/* smtp_state_name - a state's name for logs */

const char *
smtp_state_name(enum smtp_state st)
{
	if ((unsigned)st >= sizeof(smtp_state_names) / sizeof(char *))
		return ("unknown");
	return (smtp_state_names[st]);
}

/* smtp_enter - the one transition; each wait gets a fresh deadline,
 * bounded after the dot by the dot's */

static void
smtp_enter(struct smtp_sess *s, enum smtp_state st, int64_t now)
{
	s->state = st;
	s->deadline = now + s->cfg->timeout_ms;
	/* Postfix waits smtpd_proxy_timeout for the reply to the dot as
	 * one step: storing, sending and the downstream reply share one
	 * timeout from the dot on, so ours comes first. */
	if (st == SMTP_WAIT_STORE)
		s->dot_deadline = s->deadline;
	if ((st == SMTP_WAIT_SEND || st == SMTP_WAIT_DOT_REPLY)
	    && s->dot_deadline < s->deadline)
		s->deadline = s->dot_deadline;
}

/* smtp_peer_policy - the peer, "[addr]:port" or "addr", is in
 * skip_clients */

static int
smtp_peer_policy(const struct cfg *cfg, const char *peer)
{
	char addr[64];
	const char *e;

	if (peer[0] != '[')
		return (policy_client(cfg->policy, peer) == 1);
	if ((e = strchr(peer, ']')) == 0 || (size_t)(e - peer) >= sizeof(addr))
		return (0);
	memcpy(addr, peer + 1, e - peer - 1);
	addr[e - peer - 1] = 0;
	return (policy_client(cfg->policy, addr) == 1);
}

/* smtp_sess_init - a session whose downstream connect is under way */

void
smtp_sess_init(struct smtp_sess *s, const struct cfg *cfg, const char *id,
    const char *peer, int64_t now)
{
	s->cfg = cfg;
	snprintf(s->id, sizeof(s->id), "%s", id);
	snprintf(s->peer, sizeof(s->peer), "%s", peer);
	s->down = 1;
	s->pending = SMTP_CMD_BAD;
	s->xfwd_offer = 0;
	s->ceof = 0;
	s->closing = 0;
	s->fail = 0;
	s->msg = 0;
	s->from[0] = 0;
	s->ident[0] = 0;
	s->txn = 0;
	s->nrcpt = 0;
	s->size = 0;
	s->pol_peer = smtp_peer_policy(cfg, peer);
	s->pol_pending = 0;
	s->pol_why = 0;
	policy_env_init(&s->pol);
	s->pol.client = s->pol_peer;
	s->cin_len = s->cout_len = s->din_len = s->dout_len = 0;
	smtp_line_init(&s->line);
	smtp_reply_init(&s->reply);
	smtp_enter(s, SMTP_WAIT_GREETING, now);
}

/* smtp_sess_free - release what the session holds */

void
smtp_sess_free(struct smtp_sess *s)
{
	if (s->msg) {
		msg_free(s->msg);
		s->msg = 0;
	}
}

/* smtp_say - queue one reply line of ours for the client */

static void
smtp_say(struct smtp_sess *s, const char *fmt, ...)
{
	va_list ap;
	size_t room = SMTP_COUT_MAX - s->cout_len;
	int n;

	if (room < 3)
		return;
	va_start(ap, fmt);
	n = vsnprintf((char *)s->cout + s->cout_len, room - 2, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > room - 3)
		n = room - 3;
	memcpy(s->cout + s->cout_len + n, "\r\n", 2);
	s->cout_len += n + 2;
}

/* smtp_relay - queue the downstream reply unchanged for the client */

static void
smtp_relay(struct smtp_sess *s)
{
	size_t n = s->reply.len;

	if (n > SMTP_COUT_MAX - s->cout_len)
		log_panic("%s: reply of %zu bytes overflows", s->id, n);
	memcpy(s->cout + s->cout_len, s->reply.text, n);
	s->cout_len += n;
}

/* smtp_send - queue one command line for the downstream server */

static void
smtp_send(struct smtp_sess *s, const char *line, int pending, int64_t now)
{
	size_t n = strlen(line);

	if (n + 2 > SMTP_DOUT_MAX - s->dout_len)
		log_panic("%s: command of %zu bytes overflows", s->id, n);
	memcpy(s->dout + s->dout_len, line, n);
	memcpy(s->dout + s->dout_len + n, "\r\n", 2);
	s->dout_len += n + 2;
	s->pending = pending;
	smtp_reply_init(&s->reply);
	smtp_enter(s, SMTP_WAIT_REPLY, now);
}

/* smtp_drop - give up the downstream connection, without a dot */

static void
smtp_drop(struct smtp_sess *s)
{
	if (s->down == 1)
		s->down = 2;
	s->dout_len = 0;
	s->din_len = 0;
}

/* smtp_reset - forget the transaction */

static void
smtp_reset(struct smtp_sess *s)
{
	if (s->msg) {
		msg_free(s->msg);
		s->msg = 0;
	}
	s->from[0] = 0;
	s->ident[0] = 0;
	s->txn = 0;
	s->nrcpt = 0;
	s->size = 0;
	s->fail = 0;
	s->pol_why = 0;
	policy_env_init(&s->pol);
	s->pol.client = s->pol_peer;
}

/* smtp_close - queue a last reply and end the session */

static void
smtp_close(struct smtp_sess *s, int64_t now)
{
	smtp_reset(s);
	smtp_drop(s);
	smtp_enter(s, SMTP_WAIT_FLUSH, now);
}

/* smtp_mail_from - keep the sender of MAIL FROM for the log line */

static void
smtp_mail_from(struct smtp_sess *s, const char *args)
{
	const char *p = args + 5, *e;
	size_t n, i;

	while (*p == ' ')
		p++;
	if (*p == '<') {
		p++;
		e = strchr(p, '>');
	} else
		e = strchr(p, ' ');
	n = e ? (size_t)(e - p) : strlen(p);
	if (n > 100)
		n = 100;
	for (i = 0; i < n; i++)
		s->from[i] = (p[i] > ' ' && p[i] <= '~') ? p[i] : '?';
	s->from[n] = 0;
}

/* Counters of finished transactions, for smtp_stats(). */
static struct smtp_stats smtp_counts;

/* smtp_stats - what the sessions did since the start */

const struct smtp_stats *
smtp_stats(void)
{
	return (&smtp_counts);
}

/*
 * smtp_count - count a finished transaction: its result from the reply
 * to the dot; bytes relayed are those handed to the downstream server
 * (all of them unless a failure stopped the sending)
 */
static void
smtp_count(const struct smtp_sess *s, int code, int detached, uint64_t saved)
{
	struct smtp_stats *c = &smtp_counts;

	if (code == '2') {
		c->messages[detached > 0 ? SMTP_RESULT_RELAYED :
		    SMTP_RESULT_UNCHANGED]++;
		c->saved += saved * (uint64_t)s->nrcpt;
	} else if (code == '5')
		c->messages[SMTP_RESULT_REJECTED]++;
	else
		c->messages[SMTP_RESULT_TEMPFAILED]++;
	c->detached += detached;
	c->received += s->size;
	if (s->state == SMTP_WAIT_SEND || s->state == SMTP_WAIT_DOT_REPLY)
		c->relayed += s->stuff.n;
}

/* smtp_log_done - the line of a finished transaction */

static void
smtp_log_done(struct smtp_sess *s, const char *reply, size_t rlen)
{
	uint64_t saved = 0, stored = 0;
	int detached = 0, known;

	if (s->msg)
		msg_stats(s->msg, &detached, &saved, &stored);
	smtp_count(s, rlen > 0 ? reply[0] : '4', detached, saved);
	while (rlen > 0 && (reply[rlen - 1] == '\r' || reply[rlen - 1] == '\n'))
		rlen--;
	if (rlen > 100)
		rlen = 100;
	/* Postfix sends IDENT=[UNAVAILABLE] when it has no queue id. */
	known = s->ident[0] && s->ident[0] != '[';
	log_info("%s: from=<%s> size=%llu nrcpt=%d detached=%d saved=%llu%s%s"
	    "%s%s reply=(%.*s)", s->id, s->from, (unsigned long long)s->size,
	    s->nrcpt, detached, (unsigned long long)saved,
	    s->pol_why ? " policy=" : "", s->pol_why ? s->pol_why : "",
	    known ? " ident=" : "", known ? s->ident : "", (int)rlen, reply);
}

/* smtp_fail_dot - answer the client's dot with a temporary failure */

static void
smtp_fail_dot(struct smtp_sess *s, const char *code, const char *why,
    int64_t now)
{
	char line[200];
	int n;

	n = snprintf(line, sizeof(line), "451 %s Error: %.100s", code, why);
	if (n < 0 || (size_t)n >= sizeof(line))
		n = sizeof(line) - 1;
	smtp_say(s, "%s", line);
	smtp_log_done(s, line, n);
	smtp_reset(s);
	smtp_drop(s);
	smtp_enter(s, SMTP_WAIT_CMD, now);
}

/*
 * smtp_job_failed - the message job ended in MSG_TEMPFAIL: the client
 * is told whether the attachment store or our spool failed, so that a
 * postmaster who reads the deferral looks at the right disk or server
 */
static void
smtp_job_failed(struct smtp_sess *s, int64_t now)
{
	if (msg_store_failed(s->msg)) {
		log_warn("%s: store failed: %s", s->id, msg_why(s->msg));
		smtp_fail_dot(s, "4.3.0", "attachment store unavailable", now);
	} else {
		log_warn("%s: spool write error: %s", s->id,
		    msg_why(s->msg));
		smtp_fail_dot(s, "4.3.0", "queue file write error", now);
	}
}

/*
 * smtp_policy_cmd - what a relayed command tells the policy, kept in
 * pol_pending until its reply: the lists the path of MAIL or RCPT is
 * in, or the skip_clients match of XFORWARD's ADDR (-1: none sent;
 * [UNAVAILABLE]: the peer)
 */
static void
smtp_policy_cmd(struct smtp_sess *s, int id, const char *args)
{
	char addr[SMTP_ENVCMD_MAX + 1];
	int n;

	if (id == SMTP_CMD_XFORWARD) {
		if (smtp_xforward_addr(args, addr, sizeof(addr)) < 0)
			s->pol_pending = -1;
		else
			s->pol_pending = policy_client(s->cfg->policy, addr)
			    == 1 || (strcasecmp(addr, "[UNAVAILABLE]") == 0
			    && s->pol_peer);
		return;
	}
	n = smtp_path(args + (id == SMTP_CMD_MAIL ? 5 : 3), addr,
	    sizeof(addr));
	s->pol_pending = n < 0 ? POLICY_DOUBT :
	    policy_addr(s->cfg->policy, addr, (size_t)n);
}

/* smtp_command - act on one whole client command line */

static void
smtp_command(struct smtp_sess *s, int64_t now)
{
	const char *args, *reply;
	int id;

	id = smtp_cmd_parse(&s->line, &args, &reply);
	if (id == SMTP_CMD_BAD) {
		smtp_say(s, "%s", reply);
		return;
	}
	if (s->down != 1) {
		switch (id) {
		case SMTP_CMD_QUIT:
			smtp_say(s, "221 2.0.0 Bye");
			smtp_close(s, now);
			return;
		case SMTP_CMD_NOOP:
		case SMTP_CMD_RSET:
			smtp_reset(s);
			smtp_say(s, "250 2.0.0 Ok");
			return;
		default:
			smtp_say(s, "421 4.3.0 %s Error: no downstream server",
			    s->cfg->hostname);
			smtp_close(s, now);
			return;
		}
	}
	switch (id) {
	case SMTP_CMD_NOOP:
		smtp_say(s, "250 2.0.0 Ok");
		return;
	case SMTP_CMD_XFORWARD:
		if (s->xfwd_offer == 0) {
			smtp_say(s, "502 5.5.1 Error: command not implemented");
			return;
		}
		if (smtp_xforward_check(args, s->xfwd_offer, s->ident,
		    sizeof(s->ident)) < 0) {
			smtp_say(s, "501 5.5.4 Bad XFORWARD attribute");
			return;
		}
		smtp_policy_cmd(s, id, args);
		break;
	case SMTP_CMD_MAIL:
		smtp_mail_from(s, args);
		smtp_policy_cmd(s, id, args);
		break;
	case SMTP_CMD_RCPT:
		smtp_policy_cmd(s, id, args);
		break;
	case SMTP_CMD_HELO:
		s->xfwd_offer = 0;
		break;
	default:
		break;
	}
	smtp_send(s, s->line.buf, id, now);
}

/* smtp_protocol_error - the downstream server said something wrong */

static void
smtp_protocol_error(struct smtp_sess *s, int64_t now)
{
	log_warn("%s: downstream protocol error in state %s: %s",
	    s->id, smtp_state_name(s->state),
	    smtp_reply_strerror(s->reply.flags));
	if (s->state == SMTP_WAIT_DOT_REPLY) {
		smtp_fail_dot(s, "4.3.0", "downstream protocol error", now);
		return;
	}
	smtp_say(s, "421 4.3.0 %s Error: downstream protocol error",
	    s->cfg->hostname);
	smtp_close(s, now);
}

/* smtp_got_reply - act on the reply to a relayed command */

static void
smtp_got_reply(struct smtp_sess *s, int64_t now)
{
	struct smtp_reply *r = &s->reply;
	char why[256];
	size_t n;
	int cls = r->code / 100;

	if (cls == 3 && s->pending != SMTP_CMD_DATA) {
		r->flags |= SMTP_REPLY_ERR_CODE;
		smtp_protocol_error(s, now);
		return;
	}
	switch (s->pending) {
	case SMTP_CMD_EHLO:
		n = smtp_ehlo_filter(r, s->cfg->hostname,
		    (char *)s->cout + s->cout_len, SMTP_COUT_MAX - s->cout_len,
		    &s->xfwd_offer);
		if (n == 0) {
			smtp_protocol_error(s, now);
			return;
		}
		s->cout_len += n;
		smtp_enter(s, SMTP_WAIT_CMD, now);
		return;
	case SMTP_CMD_XFORWARD:
		if (cls == 2 && s->pol_pending >= 0)
			s->pol.client = s->pol_pending;
		break;
	case SMTP_CMD_MAIL:
		if (cls == 2) {
			s->txn = 1;
			policy_env_sender(&s->pol, s->pol_pending);
		} else
			s->from[0] = 0;
		break;
	case SMTP_CMD_RCPT:
		if (cls == 2) {
			s->nrcpt++;
			policy_env_rcpt(&s->pol, s->pol_pending);
		}
		break;
	case SMTP_CMD_RSET:
		smtp_reset(s);
		break;
	case SMTP_CMD_QUIT:
		smtp_relay(s);
		smtp_close(s, now);
		return;
	case SMTP_CMD_DATA:
		if (cls == 2) {
			smtp_protocol_error(s, now);
			return;
		}
		if (cls != 3)
			break;
		why[0] = 0;
		if ((s->msg = msg_new(s->cfg, why, sizeof(why))) == 0) {
			log_warn("%s: cannot start message: %s", s->id, why);
			smtp_say(s, "451 4.3.0 Error: queue file write error");
			smtp_drop(s);
			smtp_enter(s, SMTP_WAIT_CMD, now);
			return;
		}
		msg_name(s->msg, s->id);
		if ((s->pol_why = policy_verdict(s->cfg->policy, &s->pol)))
			msg_passthru(s->msg);
		smtp_relay(s);
		s->size = 0;
		s->fail = 0;
		smtp_unstuff_init(&s->unstuff);
		smtp_enter(s, SMTP_WAIT_CONTENT, now);
		return;
	default:
		break;
	}
	smtp_relay(s);
	smtp_enter(s, SMTP_WAIT_CMD, now);
}

/*
 * smtp_content - take client content up to the final dot; returns 0 if
 * nothing could be taken: a "." or ".\r" at the end waits for the next
 * read to tell a dot line from a stuffed one
 */
static int
smtp_content(struct smtp_sess *s, int64_t now)
{
	size_t used, out;
	int end;

	used = smtp_unstuff(&s->unstuff, s->cin, s->cin_len, s->cin, &out,
	    &end);
	if (used == 0 && !end)
		return (0);
	s->size += out;
	if (s->msg && out > 0 && msg_feed(s->msg, s->cin, out) < 0) {
		log_warn("%s: message job failed: %s", s->id, msg_why(s->msg));
		msg_free(s->msg);
		s->msg = 0;
		s->fail = "queue file write error";
	}
	memmove(s->cin, s->cin + used, s->cin_len - used);
	s->cin_len -= used;
	if (!end)
		return (1);
	if (s->msg == 0) {
		smtp_fail_dot(s, "4.3.0", s->fail ? s->fail :
		    "message lost", now);
		return (1);
	}
	if (msg_end(s->msg, now) < 0) {
		smtp_job_failed(s, now);
		return (1);
	}
	smtp_enter(s, SMTP_WAIT_STORE, now);
	return (1);
}

/* smtp_send_message - pump the rewritten message downstream */

static int
smtp_send_message(struct smtp_sess *s, int64_t now)
{
	size_t room, n, out;
	ssize_t got;

	room = SMTP_DOUT_MAX - s->dout_len;
	if (room < 2)
		return (0);
	n = room / 2 < SMTP_COPY_MAX ? room / 2 : SMTP_COPY_MAX;
	got = msg_read(s->msg, s->copy, n);
	if (got < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return (0);
		log_warn("%s: spool read error: %s", s->id, msg_why(s->msg));
		smtp_fail_dot(s, "4.3.0", "queue file read error", now);
		return (0);
	}
	if (got == 0) {
		if ((n = smtp_stuff_end(&s->stuff, s->dout + s->dout_len,
		    room)) == 0)
			return (0);
		s->dout_len += n;
		smtp_reply_init(&s->reply);
		smtp_enter(s, SMTP_WAIT_DOT_REPLY, now);
		return (1);
	}
	/* At most twice its input: it always fits. */
	smtp_stuff(&s->stuff, s->copy, (size_t)got, s->dout + s->dout_len,
	    room, &out);
	s->dout_len += out;
	return (1);
}

/* smtp_reply_head - the length of a reply's first line, for a log */

static int
smtp_reply_head(const struct smtp_reply *r)
{
	const char *eol = memchr(r->text, '\r', r->len);
	size_t n = eol ? (size_t)(eol - r->text) : r->len;

	return (n > 100 ? 100 : (int)n);
}

/*
 * smtp_abandoned - the client closed its side right after its dot and
 * the dot has not gone downstream yet. RFC 5321 3.8 has a client send
 * QUIT and read the reply before it closes: one that closes with
 * nothing after its dot gave the transaction up, as a front smtpd does
 * once smtpd_proxy_timeout passed, when it has told its own client 4xx
 * already. Relaying the dot now would deliver a message that client
 * sends again: so the session ends without it. A client that sent more
 * after its dot (QUIT, pipelined) and shut its side reads on, and gets
 * its replies. Returns 1 when the session was ended.
 */
static int
smtp_abandoned(struct smtp_sess *s)
{
	if (!s->ceof || s->cin_len > 0)
		return (0);
	smtp_client_gone(s, "EOF after the dot, before it was relayed");
	return (1);
}

/* smtp_step - one step of the session; returns 1 if it made progress */

static int
smtp_step(struct smtp_sess *s, int64_t now)
{
	size_t used;

	switch (s->state) {
	case SMTP_WAIT_GREETING:
	case SMTP_WAIT_REPLY:
	case SMTP_WAIT_DOT_REPLY:
		if (s->din_len == 0)
			return (0);
		used = smtp_reply_feed(&s->reply, s->din, s->din_len);
		memmove(s->din, s->din + used, s->din_len - used);
		s->din_len -= used;
		if (!s->reply.done)
			return (1);
		if (s->reply.flags & (SMTP_REPLY_ERR_SYNTAX
		    | SMTP_REPLY_ERR_CODE)) {
			smtp_protocol_error(s, now);
			return (1);
		}
		if (s->state == SMTP_WAIT_GREETING) {
			if (s->reply.code != 220) {
				log_warn("%s: downstream greeting: %.*s",
				    s->id, smtp_reply_head(&s->reply),
				    s->reply.text);
				smtp_say(s, "421 4.3.0 %s Error: downstream "
				    "server unavailable", s->cfg->hostname);
				smtp_close(s, now);
				return (1);
			}
			smtp_say(s, "220 %s ESMTP detach", s->cfg->hostname);
			smtp_enter(s, SMTP_WAIT_CMD, now);
		} else if (s->state == SMTP_WAIT_REPLY)
			smtp_got_reply(s, now);
		else {
			if (s->reply.code / 100 == 3) {
				smtp_protocol_error(s, now);
				return (1);
			}
			smtp_relay(s);
			smtp_log_done(s, s->reply.text, s->reply.len);
			smtp_reset(s);
			smtp_enter(s, SMTP_WAIT_CMD, now);
		}
		return (1);
	case SMTP_WAIT_CMD:
		/* A pipelining client waits until its replies leave: room
		 * for this command's reply and, after DATA, the dot's. */
		if (s->cout_len > SMTP_COUT_MAX - 2 * SMTP_REPLY_MAX)
			return (0);
		if (s->closing && !s->txn) {
			smtp_say(s, "421 4.3.2 %s Service shutting down",
			    s->cfg->hostname);
			smtp_close(s, now);
			return (1);
		}
		used = smtp_line_feed(&s->line, s->cin, s->cin_len);
		memmove(s->cin, s->cin + used, s->cin_len - used);
		s->cin_len -= used;
		if (!s->line.done) {
			/* A client that shut its side may still read: replies
			 * it is owed, the dot's above all, leave first. */
			if (s->ceof && s->cin_len == 0) {
				smtp_reset(s);
				smtp_drop(s);
				smtp_enter(s, SMTP_WAIT_FLUSH, now);
				return (1);
			}
			return (used > 0);
		}
		smtp_command(s, now);
		smtp_line_init(&s->line);
		return (1);
	case SMTP_WAIT_CONTENT:
		if (s->cin_len > 0 && smtp_content(s, now))
			return (1);
		/* EOF before the dot, also after a held "." or ".\r" */
		if (s->ceof) {
			smtp_client_gone(s, "EOF in DATA");
			return (1);
		}
		return (0);
	case SMTP_WAIT_STORE:
		if (smtp_abandoned(s))
			return (1);
		switch (msg_state(s->msg)) {
		case MSG_STORING:
			return (0);
		case MSG_READY:
			smtp_stuff_init(&s->stuff);
			smtp_enter(s, SMTP_WAIT_SEND, now);
			return (1);
		case MSG_TEMPFAIL:
			smtp_job_failed(s, now);
			return (1);
		default:
			log_panic("%s: message state %d", s->id,
			    msg_state(s->msg));
		}
		return (0);
	case SMTP_WAIT_SEND:
		if (smtp_abandoned(s))
			return (1);
		return (smtp_send_message(s, now));
	case SMTP_WAIT_FLUSH:
		if (s->cout_len > 0)
			return (0);
		smtp_enter(s, SMTP_WAIT_NOTHING, now);
		return (1);
	case SMTP_WAIT_NOTHING:
		return (0);
	default:
		log_panic("%s: state %d", s->id, s->state);
	}
	return (0);
}

/* smtp_run - make all the progress the buffers allow */

void
smtp_run(struct smtp_sess *s, int64_t now)
{
	int guard;

	/* Each step consumes input or changes state; the bound is slack. */
	for (guard = 0; guard < 10000 && smtp_step(s, now); guard++)
		;
}

/* smtp_want - what the loop should wait for */

int
smtp_want(const struct smtp_sess *s)
{
	int w = 0;

	if (s->state == SMTP_WAIT_NOTHING)
		return (SMTP_WANT_CLOSE
		    | (s->down == 2 ? SMTP_WANT_DCLOSE : 0));
	if (s->cout_len > 0)
		w |= SMTP_WANT_CWRITE;
	if (s->state != SMTP_WAIT_FLUSH && !s->ceof
	    && s->cin_len < SMTP_CIN_MAX)
		w |= SMTP_WANT_CREAD;
	if (s->down == 1 && s->din_len < SMTP_DIN_MAX)
		w |= SMTP_WANT_DREAD;
	if (s->down == 1 && s->dout_len > 0)
		w |= SMTP_WANT_DWRITE;
	if (s->down == 2)
		w |= SMTP_WANT_DCLOSE;
	if (s->state == SMTP_WAIT_STORE)
		w |= SMTP_WANT_STORE;
	return (w);
}

/* smtp_timeout - the current wait took too long */

void
smtp_timeout(struct smtp_sess *s, int64_t now)
{
	log_warn("%s: timeout in state %s", s->id, smtp_state_name(s->state));
	switch (s->state) {
	case SMTP_WAIT_STORE:
	case SMTP_WAIT_SEND:
	case SMTP_WAIT_DOT_REPLY:
		/* Never a silent close after the dot. */
		smtp_fail_dot(s, "4.4.2", "timeout exceeded", now);
		return;
	case SMTP_WAIT_FLUSH:
	case SMTP_WAIT_NOTHING:
		s->cout_len = 0;
		smtp_reset(s);
		smtp_drop(s);
		smtp_enter(s, SMTP_WAIT_NOTHING, now);
		return;
	default:
		smtp_say(s, "421 4.4.2 %s Error: timeout exceeded",
		    s->cfg->hostname);
		smtp_close(s, now);
		return;
	}
}

/* smtp_client_gone - the client closed or failed: abandon everything */

void
smtp_client_gone(struct smtp_sess *s, const char *why)
{
	if (s->state != SMTP_WAIT_NOTHING && s->state != SMTP_WAIT_FLUSH)
		log_info("%s: lost connection with client %s in state %s: %s",
		    s->id, s->peer, smtp_state_name(s->state), why);
	smtp_reset(s);
	smtp_drop(s);
	s->cout_len = 0;
	s->state = SMTP_WAIT_NOTHING;
}

/*
 * smtp_down_gone - the downstream connection is closed; why is 0 when
 * it was closed at our request
 */
void
smtp_down_gone(struct smtp_sess *s, const char *why, int64_t now)
{
	int was = s->down;

	s->down = 0;
	s->dout_len = 0;
	s->din_len = 0;
	if (why == 0 || was != 1)
		return;
	switch (s->state) {
	case SMTP_WAIT_FLUSH:
	case SMTP_WAIT_NOTHING:
		return;
	case SMTP_WAIT_CONTENT:
		/* Take the rest of the content, then answer 451. */
		log_warn("%s: lost downstream connection in state %s: %s",
		    s->id, smtp_state_name(s->state), why);
		if (s->msg) {
			msg_free(s->msg);
			s->msg = 0;
		}
		s->fail = "downstream server unavailable";
		return;
	case SMTP_WAIT_STORE:
	case SMTP_WAIT_SEND:
	case SMTP_WAIT_DOT_REPLY:
		log_warn("%s: lost downstream connection in state %s: %s",
		    s->id, smtp_state_name(s->state), why);
		smtp_fail_dot(s, "4.3.0", "downstream server unavailable", now);
		return;
	default:
		log_warn("%s: lost downstream connection in state %s: %s",
		    s->id, smtp_state_name(s->state), why);
		smtp_say(s, "421 4.3.0 %s Error: downstream server unavailable",
		    s->cfg->hostname);
		smtp_close(s, now);
		return;
	}
}

/* smtp_shutdown - SIGTERM: finish the transaction, then 421 */

void
smtp_shutdown(struct smtp_sess *s, int64_t now)
{
	s->closing = 1;
	smtp_run(s, now);
}

/* The buf/ack pairs through which the loop moves bytes. */

unsigned char *
smtp_cin_buf(struct smtp_sess *s, size_t *room)
{
	*room = SMTP_CIN_MAX - s->cin_len;
	return (s->cin + s->cin_len);
}

/* smtp_cin_ack - n bytes arrived from the client; 0 means EOF */

void
smtp_cin_ack(struct smtp_sess *s, size_t n, int64_t now)
{
	if (n == 0) {
		s->ceof = 1;
		return;
	}
	s->cin_len += n;
	if (s->state == SMTP_WAIT_CONTENT)
		s->deadline = now + s->cfg->timeout_ms;
}

const unsigned char *
smtp_cout_buf(struct smtp_sess *s, size_t *len)
{
	*len = s->cout_len;
	return (s->cout);
}

void
smtp_cout_ack(struct smtp_sess *s, size_t n)
{
	memmove(s->cout, s->cout + n, s->cout_len - n);
	s->cout_len -= n;
}

unsigned char *
smtp_din_buf(struct smtp_sess *s, size_t *room)
{
	*room = SMTP_DIN_MAX - s->din_len;
	return (s->din + s->din_len);
}

void
smtp_din_ack(struct smtp_sess *s, size_t n)
{
	s->din_len += n;
}

const unsigned char *
smtp_dout_buf(struct smtp_sess *s, size_t *len)
{
	*len = s->dout_len;
	return (s->dout);
}

/* smtp_dout_ack - n bytes left for the downstream server */

void
smtp_dout_ack(struct smtp_sess *s, size_t n, int64_t now)
{
	memmove(s->dout, s->dout + n, s->dout_len - n);
	s->dout_len -= n;
	if (s->state == SMTP_WAIT_SEND && n > 0) {
		s->deadline = now + s->cfg->timeout_ms;
		if (s->dot_deadline < s->deadline)
			s->deadline = s->dot_deadline;
	}
}
