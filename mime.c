/*
 * NAME
 *	mime - streaming MIME scanner, decoders and link part
 * SYNOPSIS
 *	#include "detach.h"
 *
 *	size_t	mime_state_size(void)
 *	void	mime_init(m, begin, data, end, ctx)
 *	int	mime_feed(m, buf, len)
 *	int	mime_finish(m)
 *	void	mime_links(m, link)
 *	const char *mime_strerror(flags)
 *	size_t	mime_link_part(buf, size, part, link, linklen, sha_hex, crlf,
 *		    notice)
 *	int	mime_notice_check(text, len, line, why, wlen)
 *	size_t	mime_date(buf, size, time)
 *	size_t	mime_url_encode(buf, size, str, len)
 * DESCRIPTION
 *	The scanner takes a message in chunks of any size, one pass, and
 *	finds its structure: multipart delimiters (RFC 2046 5.1), part
 *	headers (Content-Type, Content-Disposition, Content-Transfer-
 *	Encoding, with RFC 2231 and RFC 2047 names; fields unfolded as RFC
 *	5322 2.2.3 says, inside quoted boundaries too), message/rfc822
 *	parts walked into. It never copies the message: it reports offsets.
 *
 *	For each candidate leaf part (attachment disposition or a file
 *	name; not inside multipart/signed, multipart/encrypted or
 *	multipart/related; not a signature, key or calendar type; not a
 *	text part without a name; not the top entity of a message) it
 *	calls begin(). If that returns non-zero, the decoded body (base64,
 *	quoted-printable, or 7bit/8bit/binary as is) goes to data(), and
 *	end() tells the part's byte range and whether it decoded cleanly
 *	and was closed by a delimiter. The caller replaces that range.
 *
 *	After mime_links(), the scanner also reports link parts: leaves
 *	with an X-Detach-URL field, in a multipart, not inside signed or
 *	encrypted ones. Their X-Detach-* fields (and the size= of their
 *	Content-Type) are read into the caller's struct mime_link, and
 *	begin() and end() see them with part->link set, so the way back
 *	from a link to an attachment knows the range to replace. Values
 *	are unfolded, as mime_link_part() writes them.
 *
 *	The line break before a delimiter belongs to the delimiter (RFC
 *	2046 5.1.1), so it is outside the part's range and not decoded.
 *	Lines end in LF or CRLF; both are kept as found.
 *
 *	mime_link_part() writes the text/plain part that stands where an
 *	attachment was: headers for programs (link, digest, size, expiry,
 *	the original Content-Type and Content-Disposition), a notice for
 *	people in English or French or from the host's template, which
 *	mime_notice_check() vets at configuration time. It does no I/O, no
 *	allocation, no logging, and reads no clock: the caller gives the
 *	expiry time, which mime_date() writes as RFC 5322 says.
 * LIMITS
 *	MIME_BOUNDARY_MAX, MIME_DEPTH_MAX, MIME_HEADER_MAX, MIME_PEEK_MAX,
 *	MIME_NAME_MAX, MIME_KEEP_FIELD_MAX in detach.h. Past a limit the
 *	affected part is opaque: it is never detached and passes through.
 *	MIME_NOTICE_MAX and MIME_NOTICE_VARS_MAX bound a template (past them
 *	it is refused), MIME_NOTICE_NAME_MAX the name a notice shows, and
 *	MIME_LINKPART_MAX the link part.
 * DIAGNOSTICS
 *	mime_feed() and mime_finish() return the MIME_ERR_* flags raised
 *	so far; mime_strerror() names them. MIME_ERR_AMBIGUOUS (a nested
 *	multipart reusing an enclosing boundary, which readers resolve
 *	differently) makes the caller leave the whole message alone. A
 *	part cut off by the end of input (MIME_ERR_TRUNCATED) is reported
 *	not ok; parts delimited before it are fine.
 * BUGS
 *	A message whose top entity is itself the attachment is not
 *	detached: replacing it would mean rewriting the message header.
 *	Encoded words in other charsets than UTF-8, US-ASCII and ISO 8859-1
 *	keep their bytes, with invalid UTF-8 replaced by '_'.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "detach.h"

/* What the scanner waits on; mime_enter() makes every transition. */
enum mime_wait {
	MIME_WAIT_HEADER,	/* header lines of an entity */
	MIME_WAIT_BODY,		/* body lines of a leaf, preamble, epilogue */
};

/* Where the current line is. */
enum mime_line {
	MIME_LINE_PEEK,		/* start of a line: is it a delimiter? */
	MIME_LINE_REST,		/* not a delimiter: rest of the line */
};

/* Frame flags, inherited by what a multipart contains. */
#define MIME_F_NODETACH	(1 << 0)	/* signed or encrypted */
#define MIME_F_RELATED	(1 << 1)	/* multipart/related */
#define MIME_F_DIGEST	(1 << 2)	/* parts default to message/rfc822 */

struct mime_frame {
	char	boundary[MIME_BOUNDARY_MAX];
	size_t	blen;
	int	flags;
};

/* What the headers of the current entity said. */
struct mime_entity {
	uint64_t start;			/* first header byte */
	char	type[MIME_TYPE_MAX];
	char	boundary[MIME_BOUNDARY_MAX + 1];
	size_t	blen;
	int	bad_boundary;		/* too long or empty */
	int	encoding;
	int	attachment;
	int	in_multipart;		/* a part of a multipart, so replaceable */
	int	bad;			/* a header we could not read */
	int	seen;			/* MIME_SEEN_* fields met */
	char	name[MIME_NAME_MAX + 1];	/* from Content-Disposition */
	char	tname[MIME_NAME_MAX + 1];	/* from Content-Type name= */
	char	ctype[MIME_KEEP_FIELD_MAX + 1];	/* field values as found, */
	char	cdisp[MIME_KEEP_FIELD_MAX + 1];	/* unfolded */
	int	keep_bad;		/* one is too long, or has NUL or CR */
};

/* Content-* fields met in one entity: a second one is read differently
 * by different readers (first or last wins). */
#define MIME_SEEN_TYPE	(1 << 0)
#define MIME_SEEN_DISP	(1 << 1)
#define MIME_SEEN_CTE	(1 << 2)

#define MIME_QP_TEXT	0
#define MIME_QP_EQ	1	/* '=' seen */
#define MIME_QP_HEX	2	/* '=' and one hex digit seen */
#define MIME_QP_SOFT	3	/* '=' then white space: soft break expected */

/* Decoded bytes are handed on in pieces of up to this size, so the
 * caller sees few large writes rather than one per line. */
#define MIME_DECODE_CHUNK	65536

struct mime_state {
	MIME_BEGIN_FN begin;
	MIME_DATA_FN data;
	MIME_END_FN end;
	void	*ctx;
	int	errors;			/* MIME_ERR_* */
	uint64_t off;			/* offset of the next input byte */
	enum mime_wait wait;
	enum mime_line line;
	uint64_t line_start;		/* offset of the current line */
	size_t	line_len;		/* bytes of it seen, EOL excluded */
	int	pending_cr;		/* a CR ended the last chunk */
	unsigned char peek[MIME_PEEK_MAX];
	size_t	plen;
	size_t	prev_eol;		/* EOL length of the previous line */
	/* the multipart stack */
	struct mime_frame stack[MIME_DEPTH_MAX];
	int	depth;
	/* the current entity and its headers */
	struct mime_entity ent;
	char	hdr[MIME_HEADER_MAX];
	size_t	hlen;
	int	hover;			/* field longer than MIME_HEADER_MAX */
	int	hfield;			/* a field is being gathered */
	/* the current candidate leaf, when one wants data */
	int	active;
	struct mime_part part;
	unsigned char eol[2];		/* held line break, not yet content */
	size_t	eol_len;
	struct mime_b64 b64;
	struct mime_qp qp;
	int	dec_err;
	int	abandoned;		/* data() said stop */
	unsigned char dbuf[MIME_DECODE_CHUNK];
	size_t	dlen;			/* decoded bytes waiting in dbuf */
	int	hnew;			/* this header line starts a field */
	char	pbuf[MIME_HEADER_MAX];	/* parameter value scratch */
	struct mime_link *link;		/* link parts' fields, or 0 */
};

static void mime_enter(struct mime_state *, enum mime_wait);

static const struct mime_errtab {
	int	flag;
	const char *text;
} mime_errtab[] = {
	{MIME_ERR_NESTING, "nesting past the limit"},
	{MIME_ERR_BOUNDARY_LEN, "boundary too long"},
	{MIME_ERR_NO_BOUNDARY, "multipart without boundary"},
	{MIME_ERR_HEADER_LEN, "header too long"},
	{MIME_ERR_TRUNCATED, "multipart not closed"},
	{MIME_ERR_ENCODING, "bad base64 or quoted-printable"},
	{MIME_ERR_HEADER_SYNTAX, "malformed header"},
	{MIME_ERR_AMBIGUOUS, "boundary reused by an enclosed multipart"},
	{0, 0},
};

/*
 * mime_enter - the one place the scanner changes what it waits on. A
 * new entity's headers start with no field gathered; a body starts with
 * no line break held.
 */
static void
mime_enter(struct mime_state *m, enum mime_wait wait)
{
	switch (wait) {
	case MIME_WAIT_HEADER:
		m->hlen = 0;
		m->hover = 0;
		m->hfield = 0;
		break;
	case MIME_WAIT_BODY:
		m->eol_len = 0;
		break;
	default:
		abort();	/* mime.c has no log: a broken invariant */
	}
	m->wait = wait;
}

/* mime_strerror - name the first error flag raised */

const char *
mime_strerror(int flags)
{
	const struct mime_errtab *e;

	for (e = mime_errtab; e->flag; e++)
		if (flags & e->flag)
			return (e->text);
	return ("no error");
}

/* mime_state_size - the size of a scanner, for the caller to allocate */

size_t
mime_state_size(void)
{
	return (sizeof(struct mime_state));
}

/* ------------------------------------------------------------------ */
/* Decoders                                                            */
/* ------------------------------------------------------------------ */

/* base64 alphabet (RFC 2045 6.8): value, 64 for white space, 65 for
 * '=', 66 for anything else. */
static unsigned char mime_b64_val[256];

/* mime_b64_table - fill the base64 alphabet table once */

static void
mime_b64_table(void)
{
	static const char alpha[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	int	i;

	if (mime_b64_val['A'] == 0 && mime_b64_val['B'] == 1)
		return;
	memset(mime_b64_val, 66, sizeof(mime_b64_val));
	for (i = 0; i < 64; i++)
		mime_b64_val[(unsigned char)alpha[i]] = i;
	mime_b64_val[' '] = mime_b64_val['\t'] = 64;
	mime_b64_val['\r'] = mime_b64_val['\n'] = 64;
	mime_b64_val['='] = 65;
}

/*
 * mime_b64_decode - decode a piece of base64; out has room for len bytes
 *
 * Strict: a byte outside the alphabet, data after padding, or padding in
 * the wrong place sets err. Such a part is not detached, since mail
 * readers would each decode it their own way.
 */
size_t
mime_b64_decode(struct mime_b64 *d, const unsigned char *in, size_t len,
    unsigned char *out)
{
	const unsigned char *end = in + len;
	unsigned char *o = out;
	unsigned v;

	mime_b64_table();
	while (in < end) {
		/* Fast paths at a quantum start: whole clean blocks (b64.c),
		 * then four alphabet bytes. */
		if (d->nbits == 0 && !d->pad && end - in >= 16) {
			size_t	w, k = b64_blocks(in, end - in, o, &w);

			in += k;
			o += w;
			if (in == end)
				break;
		}
		if (d->nbits == 0 && !d->pad && end - in >= 4) {
			unsigned a = mime_b64_val[in[0]], b = mime_b64_val[in[1]],
			    c = mime_b64_val[in[2]], e = mime_b64_val[in[3]];

			if ((a | b | c | e) < 64) {
				uint32_t q = a << 18 | b << 12 | c << 6 | e;

				*o++ = q >> 16;
				*o++ = q >> 8;
				*o++ = q;
				in += 4;
				continue;
			}
		}
		v = mime_b64_val[*in++];
		if (v < 64) {
			if (d->pad) {
				d->err = 1;
				continue;
			}
			d->acc = d->acc << 6 | v;
			d->nbits += 6;
			if (d->nbits == 24) {
				*o++ = d->acc >> 16;
				*o++ = d->acc >> 8;
				*o++ = d->acc;
				d->acc = 0;
				d->nbits = 0;
			}
		} else if (v == 64) {
			continue;
		} else if (v == 65) {
			/* "xx==" gives one byte, "xxx=" two. */
			if (d->pad == 0 && d->nbits == 12) {
				*o++ = d->acc >> 4;
				d->pad = 1;
			} else if (d->pad == 0 && d->nbits == 18) {
				*o++ = d->acc >> 10;
				*o++ = d->acc >> 2;
				d->pad = 2;
			} else if (d->pad == 1 && d->nbits == 12) {
				d->pad = 2;
			} else {
				d->err = 1;
			}
			if (d->pad == 2) {
				d->nbits = 0;
				d->acc = 0;
			}
		} else {
			d->err = 1;
		}
	}
	return (o - out);
}

/* mime_b64_final - 0 when the input ended on a quantum boundary */

int
mime_b64_final(struct mime_b64 *d)
{
	if (d->nbits != 0 || d->pad == 1)
		d->err = 1;
	return (d->err ? -1 : 0);
}

/* mime_hexval - a hex digit's value, or -1 */

static int
mime_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return (c - '0');
	if (c >= 'A' && c <= 'F')
		return (c - 'A' + 10);
	if (c >= 'a' && c <= 'f')
		return (c - 'a' + 10);
	return (-1);
}

/*
 * mime_qp_text - decode quoted-printable text within one line
 *
 * RFC 2045 6.7: "=XX" is a byte, "=" at the end of a line is a soft
 * break, white space at the end of a line is not content. Trailing
 * white space is held (bounded) until the line goes on or ends.
 */
static size_t
mime_qp_text(struct mime_qp *q, const unsigned char *in, size_t len,
    unsigned char *out)
{
	unsigned char *o = out;
	size_t	i;
	int	c, h;

	for (i = 0; i < len; i++) {
		c = in[i];
		switch (q->state) {
		case MIME_QP_TEXT:
			if (c == ' ' || c == '\t') {
				if (q->wsp >= sizeof(q->wbuf)) {
					q->err = 1;
					continue;
				}
				q->wbuf[q->wsp++] = c;
				continue;
			}
			if (q->wsp) {
				memcpy(o, q->wbuf, q->wsp);
				o += q->wsp;
				q->wsp = 0;
			}
			if (c == '=')
				q->state = MIME_QP_EQ;
			else
				*o++ = c;
			break;
		case MIME_QP_EQ:
			if ((h = mime_hexval(c)) >= 0) {
				q->hex = h;
				q->state = MIME_QP_HEX;
			} else if (c == ' ' || c == '\t') {
				q->state = MIME_QP_SOFT;
			} else {
				q->err = 1;
				q->state = MIME_QP_TEXT;
			}
			break;
		case MIME_QP_HEX:
			if ((h = mime_hexval(c)) >= 0)
				*o++ = q->hex << 4 | h;
			else
				q->err = 1;
			q->state = MIME_QP_TEXT;
			break;
		case MIME_QP_SOFT:
			if (c != ' ' && c != '\t')
				q->err = 1;
			break;
		default:
			q->err = 1;
			q->state = MIME_QP_TEXT;
			break;
		}
	}
	return (o - out);
}

/* mime_qp_eol - a line ends: soft break, or a hard one kept as found */

static size_t
mime_qp_eol(struct mime_qp *q, const unsigned char *eol, size_t len,
    unsigned char *out)
{
	int	soft = (q->state == MIME_QP_EQ || q->state == MIME_QP_SOFT);

	if (q->state == MIME_QP_HEX)
		q->err = 1;
	q->state = MIME_QP_TEXT;
	q->wsp = 0;
	if (soft)
		return (0);
	memcpy(out, eol, len);
	return (len);
}

/* ------------------------------------------------------------------ */
/* Decoded data of the active part                                     */
/* ------------------------------------------------------------------ */

/* mime_emit - hand decoded bytes to the data callback */

static void
mime_emit(struct mime_state *m, const unsigned char *p, size_t n)
{
	if (n == 0 || m->abandoned)
		return;
	m->part.decoded += n;
	if (m->data(m->ctx, p, n) < 0)
		m->abandoned = 1;
}

/* mime_flush - hand on what the decoders left in dbuf */

static void
mime_flush(struct mime_state *m)
{
	size_t	n = m->dlen;

	m->dlen = 0;
	mime_emit(m, m->dbuf, n);
}

/* mime_room - bytes of input the decoders may take now: the output of
 * n input bytes is at most n, plus held QP white space. */
static size_t
mime_room(struct mime_state *m, size_t n)
{
	size_t	room;

	if (MIME_DECODE_CHUNK - m->dlen < 2 * sizeof(m->qp.wbuf) + 4)
		mime_flush(m);
	room = MIME_DECODE_CHUNK - m->dlen - sizeof(m->qp.wbuf) - 4;
	return (n < room ? n : room);
}

/* mime_content - body bytes of the active part, EOL included where due */

static void
mime_content(struct mime_state *m, const unsigned char *p, size_t n)
{
	size_t	k;

	if (!m->active || m->abandoned)
		return;
	switch (m->part.encoding) {
	case MIME_ENC_BASE64:
		while (n > 0) {
			k = mime_room(m, n);
			m->dlen += mime_b64_decode(&m->b64, p, k,
			    m->dbuf + m->dlen);
			p += k;
			n -= k;
		}
		break;
	case MIME_ENC_QP:
		while (n > 0) {
			k = mime_room(m, n);
			m->dlen += mime_qp_text(&m->qp, p, k, m->dbuf + m->dlen);
			p += k;
			n -= k;
		}
		break;
	default:
		mime_flush(m);
		mime_emit(m, p, n);
		break;
	}
}

/* mime_content_eol - a line of the active part ended: hold its break */

static void
mime_content_eol(struct mime_state *m, size_t eol_len)
{
	m->eol[0] = '\r';
	m->eol[1] = '\n';
	m->eol_len = eol_len;
}

/* mime_release_eol - the held break is content after all */

static void
mime_release_eol(struct mime_state *m)
{
	const unsigned char *e = m->eol + (m->eol_len == 1);

	if (m->eol_len == 0)
		return;
	if (m->active && !m->abandoned) {
		if (m->part.encoding == MIME_ENC_QP) {
			(void)mime_room(m, 2);
			m->dlen += mime_qp_eol(&m->qp, e, m->eol_len,
			    m->dbuf + m->dlen);
		} else if (m->part.encoding == MIME_ENC_BASE64)
			(void)0;	/* white space in base64 */
		else
			mime_emit(m, e, m->eol_len);
	}
	m->eol_len = 0;
}

/* mime_part_close - the active part ends at offset end */

static void
mime_part_close(struct mime_state *m, uint64_t end, int delimited)
{
	int	ok;

	if (!m->active)
		return;
	m->part.end = end < m->part.body ? m->part.body : end;
	if (m->part.encoding == MIME_ENC_BASE64 && mime_b64_final(&m->b64) < 0)
		m->dec_err = 1;
	if (m->part.encoding == MIME_ENC_QP) {
		/* A final "=" before the delimiter is a soft break. */
		if (m->qp.state == MIME_QP_HEX || m->qp.err)
			m->dec_err = 1;
	}
	mime_flush(m);
	if (m->b64.err || m->qp.err)
		m->dec_err = 1;
	if (m->dec_err)
		m->errors |= MIME_ERR_ENCODING;
	ok = delimited && !m->dec_err && !m->abandoned;
	m->active = 0;
	m->end(m->ctx, &m->part, ok);
}

/* ------------------------------------------------------------------ */
/* Header fields                                                       */
/* ------------------------------------------------------------------ */

/* A cursor over one header field value, its line breaks kept. */
struct mime_cur {
	const char *p;
	const char *e;
};

/* mime_lower - ASCII lowercase */

static int
mime_lower(int c)
{
	return (c >= 'A' && c <= 'Z' ? c + 32 : c);
}

/* mime_skip_cfws - skip white space, line breaks and (nested) comments */

static void
mime_skip_cfws(struct mime_cur *c)
{
	int	level;

	for (;;) {
		while (c->p < c->e && (*c->p == ' ' || *c->p == '\t'
		    || *c->p == '\r' || *c->p == '\n'))
			c->p++;
		if (c->p >= c->e || *c->p != '(')
			return;
		for (level = 0; c->p < c->e; c->p++) {
			if (*c->p == '\\' && c->p + 1 < c->e) {
				c->p++;
				continue;
			}
			if (*c->p == '(')
				level++;
			else if (*c->p == ')' && --level == 0) {
				c->p++;
				break;
			}
		}
	}
}

/* RFC 2045 5.1 tspecials end a token. */
static int
mime_is_token(int c)
{
	return (c > ' ' && c < 127 && strchr("()<>@,;:\\\"/[]?=", c) == 0);
}

/* mime_token - copy a token, lowercased, into out (size > 0) */

static size_t
mime_token(struct mime_cur *c, char *out, size_t size, int slash)
{
	size_t	n = 0;

	mime_skip_cfws(c);
	while (c->p < c->e && (mime_is_token(*c->p) || (slash && *c->p == '/'))) {
		if (n + 1 < size)
			out[n++] = mime_lower(*c->p);
		c->p++;
	}
	out[n] = 0;
	return (n);
}

/*
 * mime_param_next - the next "; name=value" of a header field
 *
 * The value, unquoted, goes to val (size > 0). Returns 1 when a parameter
 * was read, 0 at the end.
 */
static int
mime_param_next(struct mime_cur *c, char *name, size_t nsize, char *val,
    size_t vsize, size_t *vlen)
{
	size_t	n = 0;

	do {
		for (;;) {
			mime_skip_cfws(c);
			if (c->p >= c->e)
				return (0);
			if (*c->p == ';') {
				c->p++;
				break;
			}
			c->p++;		/* junk before the next ';' */
		}
	} while (mime_token(c, name, nsize, 0) == 0);
	mime_skip_cfws(c);
	if (c->p >= c->e || *c->p != '=') {
		*vlen = 0;
		val[0] = 0;
		return (1);
	}
	c->p++;
	mime_skip_cfws(c);
	if (c->p < c->e && *c->p == '"') {
		for (c->p++; c->p < c->e && *c->p != '"'; c->p++) {
			if (*c->p == '\\' && c->p + 1 < c->e)
				c->p++;
			/* RFC 5322 2.2.3: unfolding drops the line break
			 * only; the white space after it is content, also
			 * inside quotes (Outlook folds long boundaries so). */
			if (*c->p == '\r' || *c->p == '\n')
				continue;
			if (n + 1 < vsize)
				val[n++] = *c->p;
		}
		if (c->p < c->e)
			c->p++;
	} else {
		/* Lenient: a bare value runs to ';' (spaces kept, trimmed). */
		while (c->p < c->e && *c->p != ';') {
			if (*c->p != '\r' && *c->p != '\n' && n + 1 < vsize)
				val[n++] = *c->p;
			c->p++;
		}
		while (n > 0 && (val[n - 1] == ' ' || val[n - 1] == '\t'))
			n--;
	}
	val[n] = 0;
	*vlen = n;
	return (1);
}

/* mime_latin1 - ISO 8859-1 bytes to UTF-8, in place from src to dst */

static size_t
mime_latin1(char *dst, size_t size, const unsigned char *src, size_t len)
{
	size_t	n = 0, i;

	for (i = 0; i < len && n + 2 < size; i++) {
		if (src[i] < 0x80) {
			dst[n++] = src[i];
		} else if (src[i] < 0xa0) {
			dst[n++] = '_';		/* C1 controls */
		} else {
			dst[n++] = 0xc0 | src[i] >> 6;
			dst[n++] = 0x80 | (src[i] & 0x3f);
		}
	}
	dst[n] = 0;
	return (n);
}

/* mime_charset_kind - 0 UTF-8 or ASCII, 1 Latin-1, 2 other (bytes kept) */

static int
mime_charset_kind(const char *cs, size_t len)
{
	static const char *latin[] = {"iso-8859-1", "iso8859-1", "latin1",
	"windows-1252", "cp1252", 0};
	const char **l;

	if ((len == 5 && strncasecmp(cs, "utf-8", 5) == 0)
	    || (len == 4 && strncasecmp(cs, "utf8", 4) == 0)
	    || (len == 8 && strncasecmp(cs, "us-ascii", 8) == 0))
		return (0);
	for (l = latin; *l; l++)
		if (strlen(*l) == len && strncasecmp(cs, *l, len) == 0)
			return (1);
	return (2);
}

/* mime_to_utf8 - append bytes in a charset to out (NUL-terminated) */

static void
mime_to_utf8(char *out, size_t size, size_t *n, int kind,
    const unsigned char *src, size_t len)
{
	if (kind == 1) {
		*n += mime_latin1(out + *n, size - *n, src, len);
		return;
	}
	if (len > size - *n - 1)
		len = size - *n - 1;
	memcpy(out + *n, src, len);
	*n += len;
	out[*n] = 0;
}

/*
 * mime_rfc2047 - decode encoded words ("=?cs?B?...?=", RFC 2047) in a
 * parameter value, as mail readers do for names though RFC 2047 5 says
 * they do not belong in quoted strings.
 */
static void
mime_rfc2047(const char *in, size_t len, char *out, size_t size)
{
	const char *p = in, *e = in + len, *cs, *q, *t, *te, *star;
	unsigned char dec[MIME_NAME_MAX * 4];
	size_t	n = 0, dn;
	int	enc, prev_word = 0, h1, h2;

	out[0] = 0;
	while (p < e && n + 1 < size) {
		if (p + 1 < e && p[0] == '=' && p[1] == '?'
		    && (q = memchr(p + 2, '?', e - p - 2)) != 0
		    && q + 2 < e && q[2] == '?'
		    && (te = memmem(q + 3, e - q - 3, "?=", 2)) != 0) {
			cs = p + 2;
			enc = mime_lower(q[1]);
			t = q + 3;
			dn = 0;
			if (enc == 'b') {
				struct mime_b64 b = {0};

				if ((size_t)(te - t) > sizeof(dec))
					te = t + sizeof(dec);
				dn = mime_b64_decode(&b, (const unsigned char *)t,
				    te - t, dec);
			} else if (enc == 'q') {
				for (; t < te && dn < sizeof(dec); t++) {
					if (*t == '_')
						dec[dn++] = ' ';
					else if (*t == '=' && t + 2 < te
					    && (h1 = mime_hexval(t[1])) >= 0
					    && (h2 = mime_hexval(t[2])) >= 0) {
						dec[dn++] = h1 << 4 | h2;
						t += 2;
					} else
						dec[dn++] = *t;
				}
			} else {
				goto literal;
			}
			/* RFC 2231 5: "charset*language" */
			star = memchr(cs, '*', q - cs);
			mime_to_utf8(out, size, &n, mime_charset_kind(cs,
			    (star ? star : q) - cs), dec, dn);
			p = te + 2;
			prev_word = 1;
			continue;
		}
literal:
		/* White space between two encoded words is dropped. */
		if (prev_word && (*p == ' ' || *p == '\t')) {
			const char *s = p;

			while (s < e && (*s == ' ' || *s == '\t'))
				s++;
			if (s + 1 < e && s[0] == '=' && s[1] == '?') {
				p = s;
				continue;
			}
		}
		prev_word = 0;
		out[n++] = *p++;
		out[n] = 0;
	}
}

/* RFC 2231 3 sets no bound on sections; real names use a few. */
#define MIME_SECT_MAX	64

/*
 * mime_name_param - a file name parameter: RFC 2231 "name*",
 * "name*N" and "name*N*" sections assembled, else the plain form
 * with RFC 2047 words decoded. One pass over the field: each section's
 * value is kept in m->pbuf, then they are joined in order (RFC 2231 3:
 * whatever their order in the field; only the first names a charset).
 * Returns 1 with the UTF-8 name in out, or 0 when there is no such
 * parameter.
 */
static int
mime_name_param(struct mime_state *m, const char *val, size_t len,
    const char *param, char *out, size_t size)
{
	struct {
		size_t	off;
		size_t	len;
		int	enc;
		int	set;
	} sect[MIME_SECT_MAX + 1];	/* [0] is "name*", [1 + N] "name*N" */
	struct mime_cur c = {val, val + len};
	char	name[64], raw[MIME_NAME_MAX * 3 + 1], *v, *endp, *q1, *q2;
	size_t	used = 0, vlen, plen = strlen(param), rn = 0, i, n = 0;
	size_t	plain_off = 0, plain_len = 0;
	int	plain = 0, kind = 0, h1, h2, k, first, last;
	long	idx;

	memset(sect, 0, sizeof(sect));
	out[0] = 0;
	while (used + 1 < sizeof(m->pbuf) && mime_param_next(&c, name,
	    sizeof(name), m->pbuf + used, sizeof(m->pbuf) - used, &vlen)) {
		if (strncmp(name, param, plen) != 0)
			continue;
		if (name[plen] == 0) {
			if (!plain) {
				plain = 1;
				plain_off = used;
				plain_len = vlen;
				used += vlen + 1;
			}
			continue;
		}
		if (name[plen] != '*')
			continue;
		if (name[plen + 1] == 0) {
			k = 0;
			sect[0].enc = 1;
		} else {
			if (name[plen + 1] < '0' || name[plen + 1] > '9')
				continue;
			idx = strtol(name + plen + 1, &endp, 10);
			if (idx < 0 || idx >= MIME_SECT_MAX
			    || (*endp != 0 && strcmp(endp, "*") != 0))
				continue;
			k = 1 + idx;
			sect[k].enc = (*endp == '*');
		}
		if (sect[k].set)
			continue;	/* the first of twins counts */
		sect[k].set = 1;
		sect[k].off = used;
		sect[k].len = vlen;
		used += vlen + 1;
	}
	/* "name*=" alone, or sections 0, 1, ... up to the first gap */
	if (sect[0].set) {
		first = last = 0;
	} else if (sect[1].set) {
		first = 1;
		for (last = 1; last < MIME_SECT_MAX && sect[last + 1].set; last++)
			;
	} else if (plain) {
		mime_rfc2047(m->pbuf + plain_off, plain_len, out, size);
		return (1);
	} else {
		return (0);
	}
	for (k = first; k <= last; k++) {
		v = m->pbuf + sect[k].off;
		vlen = sect[k].len;
		if (sect[k].enc && k == first
		    && (q1 = memchr(v, '\'', vlen)) != 0
		    && (q2 = memchr(q1 + 1, '\'', vlen - (q1 + 1 - v))) != 0) {
			/* charset'language'value */
			kind = mime_charset_kind(v, q1 - v);
			vlen -= q2 + 1 - v;
			v = q2 + 1;
		}
		for (i = 0; i < vlen && rn < sizeof(raw) - 1; i++) {
			if (sect[k].enc && v[i] == '%' && i + 2 < vlen
			    && (h1 = mime_hexval(v[i + 1])) >= 0
			    && (h2 = mime_hexval(v[i + 2])) >= 0) {
				raw[rn++] = h1 << 4 | h2;
				i += 2;
			} else {
				raw[rn++] = v[i];
			}
		}
	}
	mime_to_utf8(out, size, &n, kind, (unsigned char *)raw, rn);
	return (1);
}

/*
 * mime_utf8_len - length of the well-formed UTF-8 sequence at p, or 0
 *
 * RFC 3629 4: no overlong forms, no surrogates, nothing past U+10FFFF.
 * p is NUL-terminated, so a cut sequence fails on the NUL.
 */
static size_t
mime_utf8_len(const unsigned char *p)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t	k, i;

	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		k = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		k = 3;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		k = 4;
	else
		return (0);
	if (p[0] == 0xe0)
		lo = 0xa0;
	else if (p[0] == 0xed)
		hi = 0x9f;
	else if (p[0] == 0xf0)
		lo = 0x90;
	else if (p[0] == 0xf4)
		hi = 0x8f;
	if (p[1] < lo || p[1] > hi)
		return (0);
	for (i = 2; i < k; i++)
		if ((p[i] & 0xc0) != 0x80)
			return (0);
	return (k);
}

/*
 * mime_sanitize - make a file name safe for a key and a web server
 *
 * Keeps the last path component, drops control characters and invalid
 * UTF-8, folds runs of dots (no ".."), trims dots and spaces at the
 * ends (no hidden files), cuts at MIME_NAME_MAX on a character boundary.
 */
static void
mime_sanitize(char *name)
{
	unsigned char *s = (unsigned char *)name, *base = s, *p;
	char	out[MIME_NAME_MAX + 1];
	size_t	n = 0, k, i;

	for (p = s; *p; p++)
		if (*p == '/' || *p == '\\')
			base = p + 1;
	for (p = base; *p && n < MIME_NAME_MAX; p += k) {
		k = 1;
		if (*p < 0x20 || *p == 0x7f)
			continue;
		if (*p < 0x80) {
			if (*p == '.' && n > 0 && out[n - 1] == '.')
				continue;
			out[n++] = *p;
			continue;
		}
		k = mime_utf8_len(p);
		if (k == 0) {
			out[n++] = '_';
			k = 1;
			continue;
		}
		if (n + k > MIME_NAME_MAX)
			break;
		memcpy(out + n, p, k);
		n += k;
	}
	while (n > 0 && (out[n - 1] == '.' || out[n - 1] == ' '))
		n--;
	for (i = 0; i < n && (out[i] == '.' || out[i] == ' '); i++)
		;
	if (i == n) {
		memcpy(name, "attachment", sizeof("attachment"));
		return;
	}
	memcpy(name, out + i, n - i);
	name[n - i] = 0;
}

/* ------------------------------------------------------------------ */
/* Link parts' fields                                                  */
/* ------------------------------------------------------------------ */

/* mime_link_seen - note a field; a second one of a kind is unusable */

static int
mime_link_seen(struct mime_link *l, int f)
{
	if (l->fields & f) {
		if (l->bad == 0)
			l->bad = "an X-Detach field given twice";
		return (0);
	}
	l->fields |= f;
	return (1);
}

/* mime_link_number - a decimal of at most 19 digits (below 2^63) */

static void
mime_link_number(struct mime_link *l, int f, const char *v, size_t n,
    uint64_t *out)
{
	uint64_t val = 0;
	size_t	i;

	if (!mime_link_seen(l, f))
		return;
	for (i = 0; i < n && v[i] >= '0' && v[i] <= '9'; i++)
		val = val * 10 + (v[i] - '0');
	if (n == 0 || i < n || n > 19) {
		if (l->bad == 0)
			l->bad = f == MIME_LINK_F_CTSIZE ?
			    "bad size= parameter" : "bad X-Detach-Size";
		return;
	}
	*out = val;
}

/*
 * mime_link_field - one X-Detach-* field (name without the prefix) of a
 * would-be link part. The value runs from v to e, line breaks as "\n".
 */
static void
mime_link_field(struct mime_state *m, const char *name, size_t nlen,
    const char *v, const char *e)
{
	struct mime_link *l = m->link;
	char	*out;
	size_t	n, size, i;
	int	f;

	if (nlen == 3 && strncasecmp(name, "url", 3) == 0)
		f = MIME_LINK_F_URL;
	else if (nlen == 6 && strncasecmp(name, "sha256", 6) == 0)
		f = MIME_LINK_F_SHA256;
	else if (nlen == 4 && strncasecmp(name, "size", 4) == 0)
		f = MIME_LINK_F_SIZE;
	else if (nlen == 12 && strncasecmp(name, "content-type", 12) == 0)
		f = MIME_LINK_F_TYPE;
	else if (nlen == 19
	    && strncasecmp(name, "content-disposition", 19) == 0)
		f = MIME_LINK_F_DISP;
	else
		return;			/* X-Detach-Expires and others */
	if (m->hover) {
		if (l->bad == 0)
			l->bad = "an X-Detach field too long";
		l->fields |= f;
		return;
	}
	while (v < e && (*v == ' ' || *v == '\t' || *v == '\n'))
		v++;
	while (e > v && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n'))
		e--;
	if (f == MIME_LINK_F_SIZE) {
		mime_link_number(l, f, v, e - v, &l->size);
		return;
	}
	if (!mime_link_seen(l, f))
		return;
	switch (f) {
	case MIME_LINK_F_URL:
		out = l->url;
		size = sizeof(l->url);
		break;
	case MIME_LINK_F_SHA256:
		out = l->sha256;
		size = sizeof(l->sha256);
		break;
	case MIME_LINK_F_TYPE:
		out = l->type;
		size = sizeof(l->type);
		break;
	default:
		out = l->disposition;
		size = sizeof(l->disposition);
		break;
	}
	/* RFC 5322 2.2.3: unfolding takes out the line breaks only */
	for (n = 0; v < e; v++) {
		if (*v == '\n')
			continue;
		if (*v == '\r' || *v == 0 || n + 1 >= size) {
			if (l->bad == 0 && n + 1 >= size)
				l->bad = "an X-Detach field too long";
			else if (l->bad == 0)
				l->bad = "control characters in an X-Detach "
				    "field";
			out[0] = 0;
			return;
		}
		out[n++] = *v;
	}
	out[n] = 0;
	if (f == MIME_LINK_F_SHA256) {
		for (i = 0; i < n; i++) {
			out[i] = mime_lower(out[i]);
			if (!((out[i] >= '0' && out[i] <= '9')
			    || (out[i] >= 'a' && out[i] <= 'f')))
				break;
		}
		if (n != 64 || i < n) {
			if (l->bad == 0)
				l->bad = "bad X-Detach-SHA256";
			out[0] = 0;
		}
	}
}

/*
 * mime_field_first - may a Content-* field of this kind be read? Not a
 * second one: readers take the first or the last, so the entity is
 * opaque (and, for Content-Type, which decides the structure, the whole
 * message). Not one longer than MIME_HEADER_MAX either.
 */
static int
mime_field_first(struct mime_state *m, int seen)
{
	struct mime_entity *e = &m->ent;

	if (e->seen & seen) {
		if (seen == MIME_SEEN_TYPE)
			m->errors |= MIME_ERR_AMBIGUOUS;
		e->bad = 1;
		return (0);
	}
	e->seen |= seen;
	if (m->hover) {
		e->bad = 1;
		m->errors |= MIME_ERR_HEADER_LEN;
		return (0);
	}
	return (1);
}

/*
 * mime_keep_value - keep a field's value as found, unfolded (RFC 5322
 * 2.2.3: the line breaks go, the white space after them stays), white
 * space at its ends trimmed, for the link part to carry. A value over
 * MIME_KEEP_FIELD_MAX, or with a NUL or a bare CR (which would end or
 * break our header line), could not be given back by a restore: the
 * entity is then not detached.
 */
static void
mime_keep_value(struct mime_state *m, const char *v, const char *e,
    char *out)
{
	size_t	n = 0;

	while (v < e && (*v == ' ' || *v == '\t' || *v == '\n'))
		v++;
	while (e > v && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n'))
		e--;
	for (; v < e; v++) {
		if (*v == '\n')
			continue;
		if (*v == 0 || *v == '\r' || n >= MIME_KEEP_FIELD_MAX) {
			m->ent.keep_bad = 1;
			break;
		}
		out[n++] = *v;
	}
	out[n] = 0;
}

/* mime_field - one complete header field of the current entity */

static void
mime_field(struct mime_state *m)
{
	struct mime_entity *e = &m->ent;
	const char *colon = memchr(m->hdr, ':', m->hlen);
	struct mime_cur c;
	char	tok[64], name[64];
	size_t	nlen, vlen;

	if (colon == 0)
		return;
	nlen = colon - m->hdr;
	while (nlen > 0 && (m->hdr[nlen - 1] == ' ' || m->hdr[nlen - 1] == '\t'))
		nlen--;
	c.p = colon + 1;
	c.e = m->hdr + m->hlen;
	if (nlen == 12 && strncasecmp(m->hdr, "content-type", 12) == 0) {
		if (!mime_field_first(m, MIME_SEEN_TYPE))
			return;
		mime_keep_value(m, colon + 1, c.e, e->ctype);
		/* RFC 2045 5.2: a type we cannot read is text/plain;
		 * its parameters still name the file. */
		if (mime_token(&c, e->type, sizeof(e->type), 1) == 0
		    || strchr(e->type, '/') == 0)
			e->type[0] = 0;
		e->blen = 0;
		e->tname[0] = 0;
		while (mime_param_next(&c, name, sizeof(name), m->pbuf,
		    sizeof(m->pbuf), &vlen)) {
			if (m->link && strcmp(name, "size") == 0) {
				mime_link_number(m->link, MIME_LINK_F_CTSIZE,
				    m->pbuf, vlen, &m->link->ctsize);
				continue;
			}
			if (strcmp(name, "boundary") != 0)
				continue;
			if (vlen == 0 || vlen > MIME_BOUNDARY_MAX) {
				e->bad_boundary = 1;
				continue;
			}
			if (e->blen && (e->blen != vlen
			    || memcmp(e->boundary, m->pbuf, vlen) != 0)) {
				/* Two boundaries: first or last wins. */
				m->errors |= MIME_ERR_AMBIGUOUS;
				e->bad = 1;
			}
			memcpy(e->boundary, m->pbuf, vlen);
			e->blen = vlen;
		}
		/* leaves "" when there is no such parameter */
		(void)mime_name_param(m, colon + 1, c.e - colon - 1, "name",
		    e->tname, sizeof(e->tname));
	} else if (nlen == 19
	    && strncasecmp(m->hdr, "content-disposition", 19) == 0) {
		if (!mime_field_first(m, MIME_SEEN_DISP))
			return;
		mime_keep_value(m, colon + 1, c.e, e->cdisp);
		mime_token(&c, tok, sizeof(tok), 0);
		e->attachment = (strcmp(tok, "attachment") == 0);
		/* leaves "" when there is no such parameter */
		(void)mime_name_param(m, colon + 1, c.e - colon - 1, "filename",
		    e->name, sizeof(e->name));
	} else if (nlen == 25
	    && strncasecmp(m->hdr, "content-transfer-encoding", 25) == 0) {
		if (!mime_field_first(m, MIME_SEEN_CTE))
			return;
		mime_token(&c, tok, sizeof(tok), 0);
		if (strcmp(tok, "base64") == 0)
			e->encoding = MIME_ENC_BASE64;
		else if (strcmp(tok, "quoted-printable") == 0)
			e->encoding = MIME_ENC_QP;
		else if (strcmp(tok, "7bit") == 0 || strcmp(tok, "8bit") == 0
		    || strcmp(tok, "binary") == 0 || tok[0] == 0)
			e->encoding = MIME_ENC_7BIT;
		else
			e->encoding = MIME_ENC_OTHER;
	} else if (m->link && nlen > 9
	    && strncasecmp(m->hdr, "x-detach-", 9) == 0) {
		mime_link_field(m, m->hdr + 9, nlen - 9, colon + 1, c.e);
	}
}

/* mime_is_field - does a header line start with a field name and colon?
 * RFC 5322 2.2: printable ASCII but ':', then ':'. */

static int
mime_is_field(const char *p, size_t len)
{
	size_t	i;

	for (i = 0; i < len; i++) {
		if (p[i] == ':')
			return (i > 0);
		if (p[i] == ' ' || p[i] == '\t') {
			/* obsolete syntax: white space before the colon */
			while (i < len && (p[i] == ' ' || p[i] == '\t'))
				i++;
			return (i < len && p[i] == ':' && i > 0);
		}
		if (p[i] <= ' ' || p[i] > '~')
			return (0);
	}
	/* A first line filling the buffer with no colon is no field. */
	return (0);
}

/* ------------------------------------------------------------------ */
/* Entities                                                            */
/* ------------------------------------------------------------------ */

/* mime_frame_flags - flags of the innermost multipart, or 0 */

static int
mime_frame_flags(const struct mime_state *m)
{
	return (m->depth ? m->stack[m->depth - 1].flags : 0);
}

/* mime_entity_begin - a new entity starts at offset start */

static void
mime_entity_begin(struct mime_state *m, uint64_t start, int in_multipart)
{
	memset(&m->ent, 0, sizeof(m->ent));
	m->ent.start = start;
	m->ent.in_multipart = in_multipart;
	if (m->link) {
		/* the values are only read when their flag is set */
		m->link->fields = 0;
		m->link->bad = 0;
		m->link->url[0] = m->link->sha256[0] = 0;
		m->link->type[0] = m->link->disposition[0] = 0;
		m->link->size = m->link->ctsize = 0;
	}
	mime_enter(m, MIME_WAIT_HEADER);
}

/* Types that are never detached, whatever their disposition. */
static const char *mime_keep_types[] = {
	"application/pkcs7-mime", "application/x-pkcs7-mime",
	"application/pkcs7-signature", "application/x-pkcs7-signature",
	"application/pgp-signature", "application/pgp-encrypted",
	"application/pgp-keys", "text/calendar", "text/rfc822-headers", 0,
};

/* mime_candidate - may this leaf be detached? */

static int
mime_candidate(const struct mime_state *m, const struct mime_entity *e)
{
	const char **t;
	const char *name = e->name[0] ? e->name : e->tname;

	if (!e->in_multipart || e->bad || (m->errors & MIME_ERR_AMBIGUOUS))
		return (0);
	if (e->keep_bad)
		return (0);	/* a restore could not rebuild its fields */
	if (mime_frame_flags(m) & (MIME_F_NODETACH | MIME_F_RELATED))
		return (0);
	if (e->encoding == MIME_ENC_OTHER)
		return (0);
	/* Containers, and message reports (delivery-status, ...) that
	 * their readers parse. */
	if (strncmp(e->type, "multipart/", 10) == 0
	    || strncmp(e->type, "message/", 8) == 0)
		return (0);
	for (t = mime_keep_types; *t; t++)
		if (strcmp(e->type, *t) == 0)
			return (0);
	if (name[0] == 0 && (!e->attachment || strncmp(e->type, "text/", 5) == 0))
		return (0);
	return (1);
}

/* mime_linkable - is this leaf a link part to report? */

static int
mime_linkable(const struct mime_state *m, const struct mime_entity *e)
{
	if (m->link == 0 || !(m->link->fields & MIME_LINK_F_URL))
		return (0);
	if (!e->in_multipart || e->bad || (m->errors & MIME_ERR_AMBIGUOUS))
		return (0);
	/* A signature covers the link part as it is. */
	return (!(mime_frame_flags(m) & MIME_F_NODETACH));
}

/*
 * mime_boundary_clash - can one line delimit both boundaries?
 *
 * RFC 2046 5.1.1 wants no enclosed part to contain a boundary; readers
 * then differ on which multipart a line belongs to. That happens when
 * the boundaries are equal, or one is the other plus "--": "--b--"
 * closes "b" and opens "b--". A boundary that merely starts another
 * ("x" and "x_alt", common) is no clash: "--x_alt" is no delimiter of
 * "x".
 */
static int
mime_boundary_clash(const struct mime_frame *f, const struct mime_entity *e)
{
	const char *s = f->boundary, *l = e->boundary;
	size_t	sn = f->blen, ln = e->blen;

	if (sn > ln) {
		s = e->boundary;
		sn = e->blen;
		l = f->boundary;
		ln = f->blen;
	}
	if (memcmp(s, l, sn) != 0)
		return (0);
	return (ln == sn || (ln == sn + 2 && l[sn] == '-' && l[sn + 1] == '-'));
}

/* mime_headers_done - the blank line after an entity's headers */

static void
mime_headers_done(struct mime_state *m, uint64_t body)
{
	struct mime_entity *e = &m->ent;
	struct mime_frame *f;
	int	flags = mime_frame_flags(m), k, link;

	/* RFC 2046 5.1.5: a digest's parts default to message/rfc822. */
	if (e->type[0] == 0)
		snprintf(e->type, sizeof(e->type), "%s",
		    (flags & MIME_F_DIGEST) && e->in_multipart ?
		    "message/rfc822" : "text/plain");
	mime_enter(m, MIME_WAIT_BODY);
	/* RFC 2045 6.4: a multipart is 7bit, 8bit or binary; an encoded
	 * one is opaque, as in Postfix. */
	if (strncmp(e->type, "multipart/", 10) == 0 && !e->bad
	    && e->encoding == MIME_ENC_7BIT) {
		if (e->blen == 0) {
			m->errors |= e->bad_boundary ?
			    MIME_ERR_BOUNDARY_LEN : MIME_ERR_NO_BOUNDARY;
			return;		/* opaque leaf */
		}
		if (m->depth >= MIME_DEPTH_MAX) {
			m->errors |= MIME_ERR_NESTING;
			return;
		}
		for (k = 0; k < m->depth; k++)
			if (mime_boundary_clash(&m->stack[k], e))
				m->errors |= MIME_ERR_AMBIGUOUS;
		f = &m->stack[m->depth++];
		memcpy(f->boundary, e->boundary, e->blen);
		f->blen = e->blen;
		f->flags = flags;
		if (strcmp(e->type, "multipart/signed") == 0
		    || strcmp(e->type, "multipart/encrypted") == 0)
			f->flags |= MIME_F_NODETACH;
		else if (strcmp(e->type, "multipart/related") == 0)
			f->flags |= MIME_F_RELATED;
		f->flags &= ~MIME_F_DIGEST;
		if (strcmp(e->type, "multipart/digest") == 0)
			f->flags |= MIME_F_DIGEST;
		return;			/* preamble follows */
	}
	if ((strcmp(e->type, "message/rfc822") == 0
	    || strcmp(e->type, "message/global") == 0)
	    && e->encoding == MIME_ENC_7BIT && !e->bad) {
		/* Walk into the enclosed message: its headers start here. */
		mime_entity_begin(m, body, 0);
		return;
	}
	link = mime_linkable(m, e);
	if (!link && !mime_candidate(m, e))
		return;
	memset(&m->part, 0, sizeof(m->part));
	m->part.link = link ? m->link : 0;
	m->part.start = e->start;
	m->part.body = body;
	memcpy(m->part.type, e->type, sizeof(m->part.type));
	memcpy(m->part.name, e->name[0] ? e->name : e->tname,
	    sizeof(m->part.name));
	mime_sanitize(m->part.name);
	m->part.encoding = e->encoding;
	m->part.crlf = (m->prev_eol == 2);
	m->part.attachment = e->attachment;
	memcpy(m->part.ctype, e->ctype, sizeof(m->part.ctype));
	memcpy(m->part.cdisp, e->cdisp, sizeof(m->part.cdisp));
	memset(&m->b64, 0, sizeof(m->b64));
	memset(&m->qp, 0, sizeof(m->qp));
	m->dlen = 0;
	m->dec_err = 0;
	m->abandoned = 0;
	m->active = m->begin(m->ctx, &m->part) != 0;
}

/* ------------------------------------------------------------------ */
/* Lines                                                               */
/* ------------------------------------------------------------------ */

/*
 * mime_delimiter - is the peeked line "--boundary[--]" of an open frame?
 *
 * Returns the frame index + 1 (negated for a close delimiter), or 0.
 * Inner frames are tried first; an outer delimiter closes inner ones.
 */
static int
mime_delimiter(const struct mime_state *m, const unsigned char *p, size_t n)
{
	const struct mime_frame *f;
	size_t	i;
	int	k;

	if (n < 3 || p[0] != '-' || p[1] != '-')
		return (0);
	for (k = m->depth - 1; k >= 0; k--) {
		f = &m->stack[k];
		if (n < 2 + f->blen || memcmp(p + 2, f->boundary, f->blen) != 0)
			continue;
		i = 2 + f->blen;
		if (i + 1 < n + 0 && p[i] == '-' && p[i + 1] == '-') {
			for (i += 2; i < n && (p[i] == ' ' || p[i] == '\t'); i++)
				;
			if (i == n)
				return (-(k + 1));
			continue;
		}
		while (i < n && (p[i] == ' ' || p[i] == '\t'))
			i++;
		if (i == n)
			return (k + 1);
	}
	return (0);
}

/* mime_on_delimiter - a delimiter line of frame k-1 starts at line_start */

static void
mime_on_delimiter(struct mime_state *m, int k, int close, uint64_t next)
{
	uint64_t end = m->line_start - m->prev_eol;

	m->eol_len = 0;			/* the break belongs to the delimiter */
	mime_part_close(m, end, 1);
	if (m->depth > k)
		m->errors |= MIME_ERR_TRUNCATED;	/* inner ones unclosed */
	m->depth = k;
	if (close) {
		/* Epilogue: body text of no leaf, until an outer delimiter. */
		m->depth = k - 1;
		mime_enter(m, MIME_WAIT_BODY);
		memset(&m->ent, 0, sizeof(m->ent));
		return;
	}
	mime_entity_begin(m, next, 1);
}

/* mime_header_data - bytes of a header line */

static void
mime_header_data(struct mime_state *m, const unsigned char *p, size_t n)
{
	size_t	room;

	if (m->line_len == 0) {
		if ((p[0] == ' ' || p[0] == '\t') && m->hfield) {
			m->hnew = 0;	/* continuation: unfolding keeps WSP */
		} else {
			if (m->hfield)
				mime_field(m);
			m->hfield = 1;
			m->hnew = 1;
			m->hlen = 0;
			m->hover = 0;
		}
	}
	room = sizeof(m->hdr) - m->hlen;
	if (n > room) {
		m->hover = 1;
		n = room;
	}
	memcpy(m->hdr + m->hlen, p, n);
	m->hlen += n;
}

/*
 * mime_header_eol - a header line ended. An empty line ends the
 * headers; a line that is neither field nor continuation ends them too
 * and makes the entity opaque, as Postfix's mime_state does.
 */
static void
mime_header_eol(struct mime_state *m, uint64_t next)
{
	if (m->line_len == 0) {
		if (m->hfield)
			mime_field(m);
		m->hfield = 0;
		mime_headers_done(m, next);
		return;
	}
	if (m->hnew && !mime_is_field(m->hdr, m->hlen)) {
		m->hfield = 0;
		if (m->line_start == m->ent.start && !m->ent.in_multipart
		    && m->hlen >= 5 && memcmp(m->hdr, "From ", 5) == 0)
			return;		/* mbox envelope line of a message */
		m->errors |= MIME_ERR_HEADER_SYNTAX;
		m->ent.bad = 1;
		mime_headers_done(m, next);
		return;
	}
	m->hnew = 0;
	if (m->hlen < sizeof(m->hdr))
		m->hdr[m->hlen++] = '\n';
}

/* mime_line_data - bytes of the current line, after the delimiter test */

static void
mime_line_data(struct mime_state *m, const unsigned char *p, size_t n)
{
	if (n == 0)
		return;
	switch (m->wait) {
	case MIME_WAIT_HEADER:
		mime_header_data(m, p, n);
		break;
	case MIME_WAIT_BODY:
		if (!m->active)
			break;
		if (m->line_len == 0)
			mime_release_eol(m);
		mime_content(m, p, n);
		break;
	default:
		abort();
	}
	m->line_len += n;
}

/* mime_line_end - the current line ended with an EOL of eol bytes */

static void
mime_line_end(struct mime_state *m, size_t eol, uint64_t next)
{
	switch (m->wait) {
	case MIME_WAIT_HEADER:
		mime_header_eol(m, next);
		break;
	case MIME_WAIT_BODY:
		if (!m->active)
			break;
		if (m->line_len == 0)
			mime_release_eol(m);
		mime_content_eol(m, eol);
		break;
	default:
		abort();
	}
	m->prev_eol = eol;
	m->line = MIME_LINE_PEEK;
	m->line_start = next;
	m->line_len = 0;
	m->plen = 0;
}

/* mime_peek_replay - the peeked bytes are not a delimiter: replay them */

static void
mime_peek_replay(struct mime_state *m)
{
	size_t	n = m->plen;

	/* A CR at the end may be half of the EOL: hold it. */
	if (n > 0 && m->peek[n - 1] == '\r') {
		m->pending_cr = 1;
		n--;
	}
	m->line = MIME_LINE_REST;
	mime_line_data(m, m->peek, n);
	m->plen = 0;
}

/*
 * mime_b64_run - whole lines of an active base64 body in one piece
 *
 * No base64 line starts with '-', so no delimiter can come before the
 * first '-': the lines before it go to the decoder at once, their EOLs
 * too (white space to base64), leaving the scanner as line by line
 * would. A 76-column body then costs one call per window, not three
 * per line. Returns the bytes taken (whole lines), 0 where it does not
 * apply.
 */
static size_t
mime_b64_run(struct mime_state *m, const unsigned char *p, size_t n)
{
	const unsigned char *dash, *nl;
	size_t	len, eol;

	if (m->wait != MIME_WAIT_BODY || !m->active || m->abandoned
	    || m->part.encoding != MIME_ENC_BASE64)
		return (0);
	dash = memchr(p, '-', n);
	len = dash ? (size_t)(dash - p) : n;
	if ((nl = memrchr(p, '\n', len)) == 0)
		return (0);
	len = nl + 1 - p;
	eol = nl > p && nl[-1] == '\r' ? 2 : 1;
	mime_release_eol(m);
	mime_content(m, p, len);
	mime_content_eol(m, eol);
	m->off += len;
	m->prev_eol = eol;
	m->line_start = m->off;
	m->line_len = 0;
	return (len);
}

/*
 * mime_feed - push message bytes into the scanner
 *
 * Any split is fine; the scanner keeps no pointer into buf. Returns the
 * error flags raised so far.
 */
int
mime_feed(struct mime_state *m, const void *buf, size_t len)
{
	const unsigned char *p = buf, *end = p + len, *nl, *stop;
	size_t	n, eol;
	int	k;

	while (p < end) {
		if (m->line == MIME_LINE_PEEK && m->plen == 0
		    && (n = mime_b64_run(m, p, end - p)) > 0) {
			p += n;
			continue;
		}
		if (m->line == MIME_LINE_PEEK) {
			/* Gather the line's start until it is known not to
			 * be a delimiter: a first byte other than '-', no
			 * frame open, the peek full, or the EOL. */
			if (m->plen == 0 && (m->depth == 0 || *p != '-')) {
				m->line = MIME_LINE_REST;
				continue;
			}
			nl = memchr(p, '\n', end - p);
			stop = nl ? nl : end;
			n = stop - p;
			if (m->plen + n > sizeof(m->peek)) {
				n = sizeof(m->peek) - m->plen;
				memcpy(m->peek + m->plen, p, n);
				m->plen += n;
				p += n;
				m->off += n;
				mime_peek_replay(m);
				continue;
			}
			memcpy(m->peek + m->plen, p, n);
			m->plen += n;
			p += n;
			m->off += n;
			if (nl == 0)
				continue;
			/* A whole short line is in the peek. */
			eol = (m->plen > 0 && m->peek[m->plen - 1] == '\r') ?
			    2 : 1;
			n = m->plen - (eol - 1);
			p++;
			m->off++;
			if ((k = mime_delimiter(m, m->peek, n)) != 0) {
				mime_on_delimiter(m, k < 0 ? -k : k, k < 0,
				    m->off);
				m->prev_eol = eol;
				m->line_start = m->off;
				m->line_len = 0;
				m->plen = 0;
				continue;
			}
			mime_line_data(m, m->peek, n);
			mime_line_end(m, eol, m->off);
			continue;
		}
		/* MIME_LINE_REST: stream to the EOL. */
		if (m->pending_cr) {
			m->pending_cr = 0;
			if (*p == '\n') {
				p++;
				m->off++;
				mime_line_end(m, 2, m->off);
				continue;
			}
			mime_line_data(m, (const unsigned char *)"\r", 1);
		}
		nl = memchr(p, '\n', end - p);
		if (nl == 0) {
			n = end - p;
			if (p[n - 1] == '\r') {
				m->pending_cr = 1;
				n--;
			}
			mime_line_data(m, p, n);
			m->off += end - p;
			p = end;
			continue;
		}
		n = nl - p;
		eol = 1;
		if (n > 0 && nl[-1] == '\r') {
			n--;
			eol = 2;
		}
		mime_line_data(m, p, n);
		m->off += nl + 1 - p;
		p = nl + 1;
		mime_line_end(m, eol, m->off);
	}
	return (m->errors);
}

/*
 * mime_finish - the input ended
 *
 * A candidate still open was never delimited: it is reported not ok.
 */
int
mime_finish(struct mime_state *m)
{
	size_t	n = m->plen;
	int	k;

	/* A last line without EOL may still be a delimiter. */
	if (m->line == MIME_LINE_PEEK && n > 0) {
		if (m->peek[n - 1] == '\r')
			n--;
		if ((k = mime_delimiter(m, m->peek, n)) != 0) {
			mime_on_delimiter(m, k < 0 ? -k : k, k < 0, m->off);
			m->plen = 0;
		}
	}
	if (m->line == MIME_LINE_PEEK && m->plen > 0)
		mime_peek_replay(m);
	if (m->pending_cr) {
		m->pending_cr = 0;
		mime_line_data(m, (const unsigned char *)"\r", 1);
	}
	if (m->wait == MIME_WAIT_HEADER && m->hfield)
		mime_field(m);
	mime_part_close(m, m->off, 0);
	if (m->depth > 0)
		m->errors |= MIME_ERR_TRUNCATED;
	return (m->errors);
}

/*
 * mime_links - report link parts too, their fields read into l (owned
 * by the caller, kept until the scan ends); call after mime_init()
 */
void
mime_links(struct mime_state *m, struct mime_link *l)
{
	memset(l, 0, sizeof(*l));
	m->link = l;
}

/* mime_init - start a scan; the callbacks live as long as the scan */

void
mime_init(struct mime_state *m, MIME_BEGIN_FN begin, MIME_DATA_FN data,
    MIME_END_FN end, void *ctx)
{
	memset(m, 0, sizeof(*m));
	m->begin = begin;
	m->data = data;
	m->end = end;
	m->ctx = ctx;
	m->line = MIME_LINE_PEEK;
	mime_entity_begin(m, 0, 0);
}

/* ------------------------------------------------------------------ */
/* The link part                                                       */
/* ------------------------------------------------------------------ */

/* mime_url_encode - percent-encode all but RFC 3986 unreserved bytes */

size_t
mime_url_encode(char *buf, size_t size, const char *s, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t	n = 0, i;
	unsigned char c;

	for (i = 0; i < len; i++) {
		c = s[i];
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
		    || (c >= '0' && c <= '9') || c == '-' || c == '.'
		    || c == '_' || c == '~') {
			if (n + 1 >= size)
				break;
			buf[n++] = c;
		} else {
			if (n + 3 >= size)
				break;
			buf[n++] = '%';
			buf[n++] = hex[c >> 4];
			buf[n++] = hex[c & 15];
		}
	}
	if (size > 0)
		buf[n] = 0;
	return (n);
}

/* Words of the built-in notices, indexed by MIME_LANG_*. */
static const char *mime_units[][5] = {
	{"bytes", "kB", "MB", "GB", "TB"},
	{"octets", "ko", "Mo", "Go", "To"},	/* ko: 1000 octets, as "kB" */
};
static const char *mime_months[][12] = {
	{"January", "February", "March", "April", "May", "June", "July",
	"August", "September", "October", "November", "December"},
	{"janvier", "f\xc3\xa9vrier", "mars", "avril", "mai", "juin",
	"juillet", "ao\xc3\xbbt", "septembre", "octobre", "novembre",
	"d\xc3\xa9" "cembre"},
};

/*
 * mime_size_text - "10.4 MB", or in French "10,4 Mo": decimal units as
 * file managers show them, one decimal, the decimal comma in French
 * ("1 octet", "0 octet": the French singular goes up to 1)
 */
static void
mime_size_text(char *buf, size_t size, uint64_t n, int lang)
{
	uint64_t whole = n, tenth = 0;
	int	u = 0;

	if (lang < 0 || lang > MIME_LANG_FR)
		lang = MIME_LANG_EN;
	while (whole >= 1000 && u < 4) {
		tenth = (n * 10 / 1000) % 10;
		n /= 1000;
		whole = n;
		u++;
	}
	if (u == 0 && lang == MIME_LANG_FR && whole < 2)
		snprintf(buf, size, "%llu octet", (unsigned long long)whole);
	else if (u == 0)
		snprintf(buf, size, "%llu %s", (unsigned long long)whole,
		    mime_units[lang][0]);
	else
		snprintf(buf, size, "%llu%c%llu %s", (unsigned long long)whole,
		    lang == MIME_LANG_FR ? ',' : '.', (unsigned long long)tenth,
		    mime_units[lang][u]);
}

/* mime_human_size - "1.5 MB" style, decimal units as file managers */

void
mime_human_size(char *buf, size_t size, uint64_t n)
{
	mime_size_text(buf, size, n, MIME_LANG_EN);
}

/*
 * mime_date - an RFC 5322 3.3 date in UTC, "Tue, 01 Dec 2026 10:00:00
 * +0000", of a time in seconds since the epoch. The caller has the
 * clock; this only formats. Returns the length, or 0.
 */
size_t
mime_date(char *buf, size_t size, int64_t t)
{
	static const char *wday[] = {"Sun", "Mon", "Tue", "Wed", "Thu",
	"Fri", "Sat"};
	static const char *mon[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	"Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	struct tm tm;
	time_t	tt = (time_t)t;
	int	n;

	if (gmtime_r(&tt, &tm) == 0 || tm.tm_year + 1900 > 9999)
		return (0);
	n = snprintf(buf, size, "%s, %02d %s %04d %02d:%02d:%02d +0000",
	    wday[tm.tm_wday], tm.tm_mday, mon[tm.tm_mon], tm.tm_year + 1900,
	    tm.tm_hour, tm.tm_min, tm.tm_sec);
	return (n < 0 || (size_t)n >= size ? 0 : (size_t)n);
}

/*
 * mime_date_text - the date for a reader: "1 December 2026, 10:00 UTC",
 * in French "1er d\xc3\xa9cembre 2026 \xc3\xa0 10 h 00 UTC" (the first of
 * the month is "1er", hours as French typography writes them). UTC
 * because the notice goes to readers in every time zone.
 */
static void
mime_date_text(char *buf, size_t size, int64_t t, int lang)
{
	struct tm tm;
	time_t	tt = (time_t)t;

	buf[0] = 0;
	if (gmtime_r(&tt, &tm) == 0)
		return;
	if (lang == MIME_LANG_FR)
		snprintf(buf, size, "%d%s %s %04d \xc3\xa0 %d h %02d UTC",
		    tm.tm_mday, tm.tm_mday == 1 ? "er" : "",
		    mime_months[1][tm.tm_mon], tm.tm_year + 1900, tm.tm_hour,
		    tm.tm_min);
	else
		snprintf(buf, size, "%d %s %04d, %02d:%02d UTC", tm.tm_mday,
		    mime_months[0][tm.tm_mon], tm.tm_year + 1900, tm.tm_hour,
		    tm.tm_min);
}

/*
 * mime_short_name - the name as the notice shows it. Past
 * MIME_NOTICE_NAME_MAX characters it is cut to its start, an ellipsis
 * (U+2026) and its extension (when it has one of up to
 * MIME_NOTICE_EXT_MAX characters), MIME_NOTICE_NAME_MAX characters in
 * all, each cut on a character boundary. The name is UTF-8 (sanitized).
 */
static void
mime_short_name(char *out, size_t size, const char *name)
{
	const char *p, *dot = 0, *tail;
	size_t	chars = 0, tchars = 0, keep, n = 0;

	for (p = name; *p; p++) {
		if (((unsigned char)*p & 0xc0) != 0x80)
			chars++;
		if (*p == '.')
			dot = p;
	}
	if (chars <= MIME_NOTICE_NAME_MAX) {
		snprintf(out, size, "%s", name);
		return;
	}
	tail = p;
	if (dot && dot != name) {
		for (p = dot; *p; p++)
			if (((unsigned char)*p & 0xc0) != 0x80)
				tchars++;
		if (tchars <= MIME_NOTICE_EXT_MAX)
			tail = dot;
		else
			tchars = 0;
	}
	keep = MIME_NOTICE_NAME_MAX - 1 - tchars;
	for (p = name; *p; p++) {
		if (((unsigned char)*p & 0xc0) != 0x80 && keep-- == 0)
			break;
		if (n + 1 < size)
			out[n++] = *p;
	}
	/* the cut is before a lead byte: no character is split */
	snprintf(out + n, size - n, "\xe2\x80\xa6%s", tail);
}

/* ------------------------------------------------------------------ */
/* Notice templates                                                    */
/* ------------------------------------------------------------------ */

/* Placeholders, in the order of struct mime_notice_vars' slots. */
#define MIME_VAR_NAME		0
#define MIME_VAR_SIZE		1
#define MIME_VAR_TYPE		2
#define MIME_VAR_URL		3
#define MIME_VAR_EXPIRES	4
#define MIME_VARS		5

static const char *mime_var_names[MIME_VARS] = {
	"name", "size", "type", "url", "expires",
};

/*
 * The built-in notices, as templates. French typography puts a space
 * before the colon: U+00A0, so that the colon never starts a line.
 * The media type is not in the text: it is in X-Detach-Content-Type,
 * the name's extension tells a reader, and a type such as Word's (73
 * characters) would take the link part past its budget.
 */
static const char *mime_notice_builtin[] = {
	"Attachment: {name}\n"
	"Size: {size}\n"
	"Available until: {expires}\n"
	"Download: {url}\n",

	"Pi\xc3\xa8" "ce jointe\xc2\xa0: {name}\n"
	"Taille\xc2\xa0: {size}\n"
	"Disponible jusqu'au {expires}\n"
	"T\xc3\xa9l\xc3\xa9" "charger\xc2\xa0: {url}\n",
};

/*
 * mime_var - is there a placeholder "{word}" at p (p[0] is '{')?
 * Returns its MIME_VAR_* index and length, -1 for a "{word}" that is
 * no placeholder, or -2 when no "{word}" is there at all.
 */
static int
mime_var(const char *p, const char *e, size_t *len)
{
	const char *q;
	int	k;

	for (q = p + 1; q < e && ((*q >= 'a' && *q <= 'z') || *q == '_'); q++)
		;
	if (q == p + 1 || q >= e || *q != '}')
		return (-2);
	*len = q + 1 - p;
	for (k = 0; k < MIME_VARS; k++)
		if (strlen(mime_var_names[k]) == (size_t)(q - p - 1)
		    && memcmp(mime_var_names[k], p + 1, q - p - 1) == 0)
			return (k);
	return (-1);
}

/* mime_notice_bad - name the unknown placeholder at t (t[0] is '{') */

static void
mime_notice_bad(const char *t, size_t len, char *why, size_t wlen)
{
	size_t	n;

	for (n = 1; n < len && n < 40 && t[n] != '}' && t[n] != '\n'; n++)
		;
	if (n < len && t[n] == '}')
		n++;
	snprintf(why, wlen, "unknown placeholder \"%.*s\" (known: {name} "
	    "{size} {type} {url} {expires}; {{ for a brace)", (int)n, t);
}

/*
 * mime_notice_check - may this text be a notice template?
 *
 * A template is UTF-8 text without control characters but tab (LF or
 * CRLF line ends), of at most MIME_NOTICE_MAX bytes, with at most
 * MIME_NOTICE_VARS_MAX placeholders among {name}, {size}, {type}, {url}
 * and {expires}, and {url} at least once on a line without {expires}
 * (a notice must lead to the file, also when links never expire).
 * "{{" writes a "{" and "}}" a "}", as in Python's format strings; a
 * lone "}" is itself. t has a NUL at t[len]. Returns 0, or -1 with the
 * line (0: the whole text) and why.
 */
int
mime_notice_check(const char *t, size_t len, int *line, char *why,
    size_t wlen)
{
	size_t	i = 0, n;
	int	k, vars = 0, url = 0, lurl = 0, lexp = 0;
	unsigned char c;

	*line = 0;
	if (len > MIME_NOTICE_MAX) {
		snprintf(why, wlen, "longer than %d bytes", MIME_NOTICE_MAX);
		return (-1);
	}
	*line = 1;
	while (i < len) {
		c = t[i];
		if (c == '\n') {
			url |= lurl && !lexp;
			lurl = lexp = 0;
			++*line;
			i++;
		} else if (c == '\r' && i + 1 < len && t[i + 1] == '\n') {
			i++;
		} else if ((c == '{' || c == '}') && i + 1 < len
		    && t[i + 1] == c) {
			i += 2;
		} else if (c == '{') {
			if ((k = mime_var(t + i, t + len, &n)) < 0) {
				mime_notice_bad(t + i, len - i, why, wlen);
				return (-1);
			}
			if (++vars > MIME_NOTICE_VARS_MAX) {
				snprintf(why, wlen, "more than %d placeholders",
				    MIME_NOTICE_VARS_MAX);
				return (-1);
			}
			lurl |= (k == MIME_VAR_URL);
			lexp |= (k == MIME_VAR_EXPIRES);
			i += n;
		} else if ((c < 0x20 && c != '\t') || c == 0x7f) {
			snprintf(why, wlen, "control character 0x%02x", c);
			return (-1);
		} else if (c >= 0x80) {
			n = mime_utf8_len((const unsigned char *)t + i);
			if (n == 0 || i + n > len) {
				snprintf(why, wlen, "not UTF-8");
				return (-1);
			}
			i += n;
		} else {
			i++;
		}
	}
	url |= lurl && !lexp;
	if (!url) {
		*line = 0;
		snprintf(why, wlen, "no {url} on a line without {expires}: "
		    "readers could not reach the file");
		return (-1);
	}
	return (0);
}

/* The values of the placeholders for one link part. */
struct mime_notice_vars {
	const char *p[MIME_VARS];
	size_t	n[MIME_VARS];
};

/* mime_notice_put - append a value to the notice text; 0 or -1 */

static int
mime_notice_put(char *out, size_t size, size_t *n, const char *p,
    size_t len)
{
	if (len >= size - *n)
		return (-1);
	memcpy(out + *n, p, len);
	*n += len;
	return (0);
}

/*
 * mime_notice_text - expand a template into out (size > 0). A line
 * with {expires} is left out when the link never expires. Line ends
 * become "\n"; empty lines at the end go. Returns the length, or
 * (size_t)-1 when out is too small.
 */
static size_t
mime_notice_text(char *out, size_t size, const char *t, size_t len,
    const struct mime_notice_vars *v)
{
	const char *ls = t, *le, *p, *e = t + len;
	size_t	n = 0, vn, keep = 0;
	int	k, pass;

	for (; ls < e; ls = le + 1) {
		if ((le = memchr(ls, '\n', e - ls)) == 0)
			le = e;
		/* pass 0 looks for {expires}, pass 1 writes */
		for (pass = 0; pass < 2; pass++) {
			for (p = ls; p < le;) {
				k = -2;
				if ((*p == '{' || *p == '}') && p + 1 < le
				    && p[1] == *p) {
					if (pass && n + 1 < size)
						out[n++] = *p;
					else if (pass)
						return ((size_t)-1);
					p += 2;
					continue;
				}
				if (*p == '{')
					k = mime_var(p, le, &vn);
				if (k == MIME_VAR_EXPIRES && v->n[k] == 0)
					break;
				if (k >= 0) {
					if (pass && mime_notice_put(out, size,
					    &n, v->p[k], v->n[k]) < 0)
						return ((size_t)-1);
					p += vn;
					continue;
				}
				if (*p == '\r' && p + 1 == le) {
					p++;
					continue;
				}
				if (pass && n + 1 >= size)
					return ((size_t)-1);
				if (pass)
					out[n++] = *p;
				p++;
			}
			if (p < le)
				break;		/* a line about no expiry */
			if (pass) {
				keep = n;	/* the line's end, sans EOL */
				if (n + 1 >= size)
					return ((size_t)-1);
				out[n++] = '\n';
			}
		}
	}
	/* no EOL after the last line, no empty lines at the end */
	n = keep;
	while (n > 0 && out[n - 1] == '\n')
		n--;
	out[n] = 0;
	return (n);
}

/* A bounded string builder for the link part. */
struct mime_buf {
	char	*p;
	size_t	size;
	size_t	len;
	int	over;
};

/* mime_put - append bytes to a bounded buffer, or mark it overflowed */

static void
mime_put(struct mime_buf *b, const char *s, size_t n)
{
	if (b->over || n >= b->size - b->len) {
		b->over = 1;
		return;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

/* mime_puts - append a string */

static void
mime_puts(struct mime_buf *b, const char *s)
{
	mime_put(b, s, strlen(s));
}

/* mime_put_qp - a body line in quoted-printable (RFC 2045 6.7), soft
 * breaks under 76 columns; the last line of the body gets no EOL */

static void
mime_put_qp(struct mime_buf *b, const char *s, size_t n, const char *eol,
    int last)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *p = (const unsigned char *)s, *e = p + n;
	char	enc[3];
	size_t	col = 0, w;

	for (; p < e; p++) {
		if ((*p >= 33 && *p <= 126 && *p != '=')
		    || (*p == ' ' && p + 1 < e)) {
			enc[0] = *p;
			w = 1;
		} else {
			enc[0] = '=';
			enc[1] = hex[*p >> 4];
			enc[2] = hex[*p & 15];
			w = 3;
		}
		if (col + w > 75) {
			mime_puts(b, "=");
			mime_puts(b, eol);
			col = 0;
		}
		mime_put(b, enc, w);
		col += w;
	}
	if (!last)
		mime_puts(b, eol);
}

/* mime_body_line - one line of the link part's body */

static void
mime_body_line(struct mime_buf *b, const char *line, size_t n,
    const char *eol, int qp, int last)
{
	if (qp) {
		mime_put_qp(b, line, n, eol, last);
	} else {
		mime_put(b, line, n);
		if (!last)
			mime_puts(b, eol);
	}
}

/* mime_ascii - is the string all ASCII? */

static int
mime_ascii(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s >= 0x80)
			return (0);
	return (1);
}

/* RFC 5322 2.1.1: a header line is at most 998 characters. */
#define MIME_HEADER_LINE_MAX	998

/*
 * mime_link_part - write the part that replaces an attachment
 *
 * An inline text/plain part (so every reader shows it where the file
 * was). Its headers carry what programs read: the link in X-Detach-URL,
 * the digest, the size, the expiry date (when links expire) and the
 * original Content-Type and Content-Disposition values (when the part
 * had them) for a restore to give back. Its body is the notice for
 * people: the built-in text of the notice's language, or the host's
 * template, with the name (shortened past MIME_NOTICE_NAME_MAX
 * characters), size, type, expiry and link. The link is written twice,
 * once for programs and once for people: no third copy (the former
 * X-Mozilla-External-Attachment-URL) fits the 1024-byte budget of a
 * 40-character name. A body that is all ASCII with lines under 998
 * characters goes as 7bit, any other as quoted-printable (RFC 2045
 * 6.7) in UTF-8; the headers stay ASCII (the kept fields as found). No
 * EOL after the body: the delimiter's leading EOL follows in the
 * message. Returns the length, or 0 when buf is too small, the link too
 * long for a header line, or the notice too long for its text buffer.
 */
size_t
mime_link_part(char *buf, size_t size, const struct mime_part *part,
    const char *link, size_t linklen, const char *sha_hex, int crlf,
    const struct mime_notice *nt)
{
	static const char url_hdr[] = "X-Detach-URL: ";
	struct mime_buf b = {buf, size, 0, 0};
	struct mime_notice_vars v;
	const char *eol = crlf ? "\r\n" : "\n", *tmpl, *l, *le, *e;
	char	num[32], human[32], name[MIME_NAME_MAX + 8], until[64],
		date[40], text[MIME_NOTICE_TEXT_MAX];
	size_t	tlen, n;
	int	lang = nt->lang, qp = 0;

	if (sizeof(url_hdr) - 1 + linklen > MIME_HEADER_LINE_MAX)
		return (0);
	if (lang < 0 || lang > MIME_LANG_FR)
		lang = MIME_LANG_EN;
	snprintf(num, sizeof(num), "%llu", (unsigned long long)part->decoded);
	mime_size_text(human, sizeof(human), part->decoded, lang);
	mime_short_name(name, sizeof(name), part->name);
	date[0] = until[0] = 0;
	if (nt->expires) {
		if (mime_date(date, sizeof(date), nt->expires) == 0)
			return (0);
		mime_date_text(until, sizeof(until), nt->expires, lang);
	}
	v.p[MIME_VAR_NAME] = name;
	v.p[MIME_VAR_SIZE] = human;
	v.p[MIME_VAR_TYPE] = part->type;
	v.p[MIME_VAR_URL] = link;
	v.p[MIME_VAR_EXPIRES] = until;
	for (n = 0; n < MIME_VARS; n++)
		v.n[n] = n == MIME_VAR_URL ? linklen : strlen(v.p[n]);
	tmpl = nt->tmpl ? nt->tmpl : mime_notice_builtin[lang];
	tlen = nt->tmpl ? nt->tmpl_len : strlen(tmpl);
	if ((tlen = mime_notice_text(text, sizeof(text), tmpl, tlen, &v))
	    == (size_t)-1)
		return (0);
	for (l = text, e = text + tlen; l < e && !qp; l = le + 1) {
		if ((le = memchr(l, '\n', e - l)) == 0)
			le = e;
		qp = le - l > MIME_HEADER_LINE_MAX;
	}
	qp |= !mime_ascii(text);

	mime_puts(&b, "Content-Type: text/plain; charset=utf-8");
	mime_puts(&b, eol);
	mime_puts(&b, "Content-Disposition: inline");
	mime_puts(&b, eol);
	mime_puts(&b, "Content-Transfer-Encoding: ");
	mime_puts(&b, qp ? "quoted-printable" : "7bit");
	mime_puts(&b, eol);
	mime_puts(&b, url_hdr);
	mime_put(&b, link, linklen);
	mime_puts(&b, eol);
	mime_puts(&b, "X-Detach-SHA256: ");
	mime_puts(&b, sha_hex);
	mime_puts(&b, eol);
	mime_puts(&b, "X-Detach-Size: ");
	mime_puts(&b, num);
	mime_puts(&b, eol);
	if (date[0]) {
		mime_puts(&b, "X-Detach-Expires: ");
		mime_puts(&b, date);
		mime_puts(&b, eol);
	}
	if (part->ctype[0]) {
		mime_puts(&b, "X-Detach-Content-Type: ");
		mime_puts(&b, part->ctype);
		mime_puts(&b, eol);
	}
	if (part->cdisp[0]) {
		mime_puts(&b, "X-Detach-Content-Disposition: ");
		mime_puts(&b, part->cdisp);
		mime_puts(&b, eol);
	}
	mime_puts(&b, eol);
	/* In quoted-printable, soft breaks only where a line must have
	 * them; a reader joins them again. */
	for (l = text, e = text + tlen; l <= e; l = le + 1) {
		if ((le = memchr(l, '\n', e - l)) == 0)
			le = e;
		mime_body_line(&b, l, le - l, eol, qp, le == e);
	}
	if (b.over)
		return (0);
	return (b.len);
}
