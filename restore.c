/*
 * NAME
 *	restore - the way back: link parts to attachments (detach -R)
 * SYNOPSIS
 *	#include "detach.h"
 *
 *	int	restore_run(cfg)
 * DESCRIPTION
 *	restore_run() reads one message on standard input, as detach
 *	wrote it, and writes it on standard output with every link part
 *	whose X-Detach-URL starts with link_base replaced by the object it
 *	points to. Everything else passes byte for byte.
 *
 *	The message is spooled (an unlinked file under spool_dir) while
 *	mime.c's scanner runs over it with link parts reported
 *	(mime_links). At each link part the bytes before it go to a second
 *	spool, then the part given back: its original Content-Type and
 *	Content-Disposition (from X-Detach-Content-Type and
 *	X-Detach-Content-Disposition; one that is absent was absent from
 *	the original part), Content-Transfer-Encoding: base64, and the
 *	object base64-encoded in lines of 76 characters (RFC 2045 6.8),
 *	with the line endings of the link part, no line break after the
 *	last line (the delimiter's comes next, as it came). A link part of
 *	an older detach, without either kept field, comes back as
 *	application/octet-stream with Content-Disposition: attachment and
 *	the file name from the URL.
 *
 *	The object is fetched through store_get() by its key, the URL
 *	minus link_base, the way it was stored: the dir store's file, or a
 *	GET of the same URL (S3 signed). It is streamed: hashed and encoded
 *	as it arrives, never held whole. Its size must be X-Detach-Size
 *	(else the size= of the link part's Content-Type) and its SHA-256
 *	X-Detach-SHA256.
 *
 *	All or nothing: only when every link part came back is the second
 *	spool copied to standard output; otherwise nothing is written.
 * LIMITS
 *	Memory does not grow with message or object size: SPOOL_IO_MAX
 *	bytes read at a time, RESTORE_OUT_MAX bytes of base64 held before
 *	they go to the spool. Link parts per message are not counted.
 * DIAGNOSTICS
 *	One line on stderr per failure, naming the part's URL. Exit codes
 *	(sysexits): 0 done; 65 (EX_DATAERR) a link part whose object is
 *	missing, of another size or digest, or whose fields cannot be
 *	read; 75 (EX_TEMPFAIL) the store is down (connect refused, 5xx,
 *	timeout) or the spool failed; 74 standard output failed. A link
 *	part not closed by its delimiter is left as it is, with a warning.
 * BUGS
 *	Only the Content-Type and Content-Disposition of the original
 *	part come back; other fields it had (Content-ID, Content-
 *	Description) were not kept in the link part. The object comes
 *	back in base64 whatever its original transfer encoding was: the
 *	decoded bytes are the same.
 *	A message whose structure readers would disagree on
 *	(MIME_ERR_AMBIGUOUS) passes through unchanged, as detach -p
 *	leaves it; link parts restored before that was known are dropped.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bearssl.h>

#include "detach.h"

/* sysexits.h EX_IOERR, as pipe mode exits when stdout fails */
#define RESTORE_EX_IOERR	74

struct restore {
	const struct cfg *cfg;
	int	in_fd;			/* the message as it came */
	uint64_t in_len;
	uint64_t in_off;		/* input bytes copied out so far */
	int	out_fd;			/* the message given back */
	uint64_t out_len;
	int	code;			/* exit code of the first failure */
	struct mime_state *mime;
	struct mime_link link;
	/* the object being fetched, base64-encoded into the spool */
	uint64_t body_at;		/* out_len where its base64 starts */
	uint64_t want;			/* X-Detach-Size */
	uint64_t got;
	br_sha256_context sha;
	unsigned char hold[3];		/* bytes short of a 3-byte group */
	size_t	nhold;
	size_t	col;			/* characters on the current line */
	const char *eol;
	int	refused;		/* the sink stopped the fetch */
	char	why[512];
	size_t	olen;
	char	obuf[RESTORE_OUT_MAX];
};

/* restore_fail - the first failure decides the exit code */

static void
restore_fail(struct restore *r, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
restore_fail(struct restore *r, int code, const char *fmt, ...)
{
	char	buf[1024];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	log_error("%s", buf);
	if (r->code == 0)
		r->code = code;
}

/* restore_write - bytes to the output spool; -1 with errno */

static int
restore_write(struct restore *r, const void *p, size_t n)
{
	if (store_write_all(r->out_fd, p, n) < 0)
		return (-1);
	r->out_len += n;
	return (0);
}

/* restore_copy - bytes [from, to) of in to out, read with pread */

static int
restore_copy(int out, int in, uint64_t from, uint64_t to)
{
	char	buf[SPOOL_IO_MAX];
	ssize_t	n;

	while (from < to) {
		n = pread(in, buf, to - from < sizeof(buf) ? to - from :
		    sizeof(buf), (off_t)from);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO;	/* the spool shrank */
			return (-1);
		}
		if (store_write_all(out, buf, (size_t)n) < 0)
			return (-1);
		from += (uint64_t)n;
	}
	return (0);
}

/* restore_flush - the held base64 to the spool */

static int
restore_flush(struct restore *r)
{
	size_t	n = r->olen;

	r->olen = 0;
	return (restore_write(r, r->obuf, n));
}

/* restore_quad - four base64 characters, a line break before them when
 * the line is full; 76 is a multiple of 4, so no group is cut */

static int
restore_quad(struct restore *r, const unsigned char *g, size_t n)
{
	static const char b64[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	uint32_t v;

	if (sizeof(r->obuf) - r->olen < 6 && restore_flush(r) < 0)
		return (-1);
	if (r->col == RESTORE_B64_LINE) {
		memcpy(r->obuf + r->olen, r->eol, strlen(r->eol));
		r->olen += strlen(r->eol);
		r->col = 0;
	}
	v = (uint32_t)g[0] << 16 | (n > 1 ? (uint32_t)g[1] << 8 : 0)
	    | (n > 2 ? g[2] : 0);
	r->obuf[r->olen++] = b64[v >> 18 & 63];
	r->obuf[r->olen++] = b64[v >> 12 & 63];
	r->obuf[r->olen++] = n > 1 ? b64[v >> 6 & 63] : '=';
	r->obuf[r->olen++] = n > 2 ? b64[v & 63] : '=';
	r->col += 4;
	return (0);
}

/*
 * restore_sink - the object's bytes as they arrive (store_get): count,
 * hash and encode them. len 0: they begin (again), so whatever an
 * earlier try wrote of them is cut off the spool.
 */
static int
restore_sink(void *ctx, const unsigned char *p, size_t n)
{
	struct restore *r = ctx;
	size_t	k;

	if (n == 0) {
		if (ftruncate(r->out_fd, (off_t)r->body_at) < 0
		    || lseek(r->out_fd, (off_t)r->body_at, SEEK_SET) < 0) {
			snprintf(r->why, sizeof(r->why), "spool: %s",
			    strerror(errno));
			r->refused = DETACH_EX_TEMPFAIL;
			return (-1);
		}
		r->out_len = r->body_at;
		r->got = 0;
		r->nhold = 0;
		r->col = 0;
		r->olen = 0;
		br_sha256_init(&r->sha);
		return (0);
	}
	if (n > r->want - r->got) {
		snprintf(r->why, sizeof(r->why), "object larger than the "
		    "%llu bytes of X-Detach-Size",
		    (unsigned long long)r->want);
		r->refused = DETACH_EX_DATAERR;
		return (-1);
	}
	r->got += n;
	br_sha256_update(&r->sha, p, n);
	while (n > 0) {
		k = 3 - r->nhold < n ? 3 - r->nhold : n;
		memcpy(r->hold + r->nhold, p, k);
		r->nhold += k;
		p += k;
		n -= k;
		if (r->nhold < 3)
			break;
		r->nhold = 0;
		if (restore_quad(r, r->hold, 3) < 0) {
			snprintf(r->why, sizeof(r->why), "spool: %s",
			    strerror(errno));
			r->refused = DETACH_EX_TEMPFAIL;
			return (-1);
		}
	}
	return (0);
}

/* restore_field - "Name: value" and the part's line break */

static int
restore_field(struct restore *r, const char *name, const char *value)
{
	return (restore_write(r, name, strlen(name)) < 0
	    || restore_write(r, ": ", 2) < 0
	    || restore_write(r, value, strlen(value)) < 0
	    || restore_write(r, r->eol, strlen(r->eol)) < 0 ? -1 : 0);
}

/*
 * restore_disposition - "attachment" and the file name: quoted when it
 * is printable ASCII, else RFC 2231's filename*=UTF-8'' (mail readers
 * take the first filename they meet, so only one is written)
 */
static void
restore_disposition(char *buf, size_t size, const char *name)
{
	char	enc[3 * MIME_NAME_MAX + 1];
	const char *p;

	for (p = name; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f
		    || *p == '"' || *p == '\\')
			break;
	if (*p == 0)
		snprintf(buf, size, "attachment; filename=\"%s\"", name);
	else {
		mime_url_encode(enc, sizeof(enc), name, strlen(name));
		snprintf(buf, size, "attachment; filename*=UTF-8''%s", enc);
	}
}

/*
 * restore_head - the header of the part given back: the kept fields,
 * or for an older link part a type and disposition of our own
 */
static int
restore_head(struct restore *r, const struct mime_link *l, const char *name)
{
	char	disp[32 + 3 * MIME_NAME_MAX];
	int	kept = l->fields & (MIME_LINK_F_TYPE | MIME_LINK_F_DISP);

	if ((l->fields & MIME_LINK_F_TYPE)
	    && restore_field(r, "Content-Type", l->type) < 0)
		return (-1);
	if ((l->fields & MIME_LINK_F_DISP)
	    && restore_field(r, "Content-Disposition", l->disposition) < 0)
		return (-1);
	if (!kept) {
		restore_disposition(disp, sizeof(disp), name);
		if (restore_field(r, "Content-Type",
		    "application/octet-stream") < 0
		    || restore_field(r, "Content-Disposition", disp) < 0)
			return (-1);
	}
	if (restore_field(r, "Content-Transfer-Encoding", "base64") < 0
	    || restore_write(r, r->eol, strlen(r->eol)) < 0)
		return (-1);
	return (0);
}

/*
 * restore_part - give back one link part: what precedes it, its
 * header, then the object fetched, checked and encoded
 */
static void
restore_part(struct restore *r, const struct mime_part *part)
{
	const struct mime_link *l = part->link;
	const char *key = l->url + strlen(r->cfg->link_base);
	char	name[MIME_NAME_MAX + 1], hex[65];
	unsigned char digest[32];
	int	rc, i;

	if (l->bad) {
		restore_fail(r, DETACH_EX_DATAERR, "%.200s: %s", l->url,
		    l->bad);
		return;
	}
	if (!(l->fields & MIME_LINK_F_SHA256)) {
		restore_fail(r, DETACH_EX_DATAERR, "%.200s: no X-Detach-SHA256",
		    l->url);
		return;
	}
	if (l->fields & MIME_LINK_F_SIZE)
		r->want = l->size;
	else if (l->fields & MIME_LINK_F_CTSIZE)
		r->want = l->ctsize;
	else {
		restore_fail(r, DETACH_EX_DATAERR, "%.200s: no X-Detach-Size",
		    l->url);
		return;
	}
	if (store_key_name(key, name, sizeof(name)) < 0) {
		restore_fail(r, DETACH_EX_DATAERR, "%.200s: not an object "
		    "key of detach", l->url);
		return;
	}
	r->eol = part->crlf ? "\r\n" : "\n";
	if (restore_copy(r->out_fd, r->in_fd, r->in_off, part->start) < 0) {
		restore_fail(r, DETACH_EX_TEMPFAIL, "spool: %s",
		    strerror(errno));
		return;
	}
	r->out_len += part->start - r->in_off;
	if (restore_head(r, l, name) < 0) {
		restore_fail(r, DETACH_EX_TEMPFAIL, "spool: %s",
		    strerror(errno));
		return;
	}
	r->body_at = r->out_len;
	r->refused = 0;
	rc = store_get(key, restore_sink, r, r->why, sizeof(r->why));
	if (r->refused) {
		restore_fail(r, r->refused, "%.200s: %s", l->url, r->why);
		return;
	}
	switch (rc) {
	case STORE_GET_OK:
		break;
	case STORE_GET_MISSING:
		restore_fail(r, DETACH_EX_DATAERR, "%.200s: object missing "
		    "(%.300s)", l->url, r->why);
		return;
	case STORE_GET_BADKEY:
		restore_fail(r, DETACH_EX_DATAERR, "%.200s: %.300s", l->url,
		    r->why);
		return;
	default:
		restore_fail(r, DETACH_EX_TEMPFAIL, "%.200s: store: %.300s",
		    l->url, r->why);
		return;
	}
	if (r->got != r->want) {
		restore_fail(r, DETACH_EX_DATAERR, "%.200s: object of %llu "
		    "bytes, X-Detach-Size says %llu", l->url,
		    (unsigned long long)r->got, (unsigned long long)r->want);
		return;
	}
	br_sha256_out(&r->sha, digest);
	for (i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", digest[i]);
	if (strcmp(hex, l->sha256) != 0) {
		restore_fail(r, DETACH_EX_DATAERR, "%.200s: object's SHA-256 "
		    "%s, X-Detach-SHA256 says %s", l->url, hex, l->sha256);
		return;
	}
	if ((r->nhold > 0 && restore_quad(r, r->hold, r->nhold) < 0)
	    || restore_flush(r) < 0) {
		restore_fail(r, DETACH_EX_TEMPFAIL, "spool: %s",
		    strerror(errno));
		return;
	}
	r->in_off = part->end;
}

/* restore_begin - a link part of ours is taken, anything else not */

static int
restore_begin(void *ctx, const struct mime_part *part)
{
	struct restore *r = ctx;
	size_t	n = strlen(r->cfg->link_base);

	return (r->code == 0 && part->link != 0
	    && strncmp(part->link->url, r->cfg->link_base, n) == 0);
}

/* restore_data - a link part's own text: not needed */

static int
restore_data(void *ctx, const unsigned char *p, size_t n)
{
	(void)ctx;
	(void)p;
	(void)n;
	return (0);
}

/* restore_end - the link part's range is known: give it back */

static void
restore_end(void *ctx, const struct mime_part *part, int ok)
{
	struct restore *r = ctx;

	if (r->code != 0)
		return;
	if (!ok) {
		log_warn("%.200s: link part not closed by its delimiter; left "
		    "as it is", part->link->url);
		return;
	}
	restore_part(r, part);
}

/* restore_out - copy a spool to standard output; 0 or an exit code */

static int
restore_out(int fd, uint64_t len)
{
	if (restore_copy(1, fd, 0, len) < 0) {
		log_error("write: %s", strerror(errno));
		return (RESTORE_EX_IOERR);
	}
	return (DETACH_EX_OK);
}

/* restore_read - standard input into the spool and the scanner */

static int
restore_read(struct restore *r)
{
	char	buf[SPOOL_IO_MAX];
	ssize_t	n;

	while ((n = read(0, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			log_error("read: %s", strerror(errno));
			return (RESTORE_EX_IOERR);
		}
		/* spooled first: a link part's end is reported while its
		 * chunk is scanned, and the bytes before it are copied */
		if (store_write_all(r->in_fd, buf, (size_t)n) < 0) {
			log_error("spool %s: %s", r->cfg->spool_dir,
			    strerror(errno));
			return (DETACH_EX_TEMPFAIL);
		}
		r->in_len += (uint64_t)n;
		(void)mime_feed(r->mime, buf, (size_t)n);
		if (r->code)
			return (r->code);
	}
	return (0);
}

/*
 * restore_run - detach -R: one message from stdin to stdout, every link
 * part of ours given back, or nothing written; returns the exit code
 */
int
restore_run(const struct cfg *cfg)
{
	struct restore *r;
	char	why[512];
	int	code, errors;

	if (store_init(cfg, why, sizeof(why)) < 0) {
		log_error("store: %s", why);
		return (DETACH_EX_TEMPFAIL);
	}
	if ((r = calloc(1, sizeof(*r))) == 0
	    || (r->mime = malloc(mime_state_size())) == 0) {
		log_error("out of memory");
		free(r);
		return (DETACH_EX_TEMPFAIL);
	}
	r->cfg = cfg;
	r->out_fd = -1;
	if ((r->in_fd = store_spool_open(cfg->spool_dir)) < 0
	    || (r->out_fd = store_spool_open(cfg->spool_dir)) < 0) {
		log_error("spool %s: %s", cfg->spool_dir, strerror(errno));
		code = DETACH_EX_TEMPFAIL;
		goto done;
	}
	mime_init(r->mime, restore_begin, restore_data, restore_end, r);
	mime_links(r->mime, &r->link);
	if ((code = restore_read(r)) != 0)
		goto done;
	errors = mime_finish(r->mime);
	if ((code = r->code) != 0)
		goto done;
	if (errors & MIME_ERR_AMBIGUOUS) {
		log_warn("%s; message passed through unchanged",
		    mime_strerror(MIME_ERR_AMBIGUOUS));
		code = restore_out(r->in_fd, r->in_len);
		goto done;
	}
	if (restore_copy(r->out_fd, r->in_fd, r->in_off, r->in_len) < 0) {
		log_error("spool: %s", strerror(errno));
		code = DETACH_EX_TEMPFAIL;
		goto done;
	}
	r->out_len += r->in_len - r->in_off;
	code = restore_out(r->out_fd, r->out_len);
done:
	if (r->in_fd >= 0)
		(void)close(r->in_fd);
	if (r->out_fd >= 0)
		(void)close(r->out_fd);
	free(r->mime);
	free(r);
	store_shutdown();
	return (code);
}
