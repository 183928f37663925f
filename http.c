/*
 * NAME
 *	http.c - HTTP/1.1 PUT uploader for WebDAV, CDN and S3 stores
 *
 * SYNOPSIS
 *	#include "detach.h"
 *
 *	struct http_store *http_store_new(conf, why, whylen)
 *	void	http_store_free(st)
 *	int	http_url_check(store, why, whylen)
 *
 *	struct http_xfer *http_xfer_new(st, obj, now)
 *	int	http_xfer_poll(x, pfd, max, &deadline)
 *	void	http_xfer_event(x, pfd, n, now)
 *	int	http_xfer_state(x)
 *	const char *http_xfer_why(x)
 *	void	http_xfer_free(x)
 *	int	http_upload_wait(st, obj, why, whylen)
 *	int	http_xfer_found(x)
 *	const struct http_stats *http_stats(void)
 *
 *	struct http_xfer *http_get_new(st, key, sink, ctx, now)
 *	int	http_xfer_status(x)
 *	int	http_get_wait(st, key, sink, ctx, &status, why, whylen)
 *
 *	void	http_resp_init(r, head)
 *	void	http_resp_sink(r, sink, ctx)
 *	size_t	http_resp_feed(r, buf, len)
 *	int	http_resp_eof(r)
 *	size_t	http_req_build(buf, size, req)
 *	int	http_san_ip_match(der, len, ip, iplen)
 *	size_t	s3_canonical_request(sign, buf, size)
 *	size_t	s3_string_to_sign(sign, creq, creqlen, buf, size)
 *	size_t	s3_authorization(sign, buf, size)
 *
 * DESCRIPTION
 *	A store is "http://host[:port]/prefix/", "https://..." or
 *	"s3://bucket[/prefix]" with an S3 endpoint. http_store_new() checks
 *	the URL, resolves the host name (the only place a name is looked
 *	up: at start and when the caller rebuilds the store on SIGHUP),
 *	loads the PEM trust store once into BearSSL trust anchors, and
 *	keeps a bounded pool of idle keep-alive connections.
 *
 *	An upload (http_xfer) first sends HEAD for the key: 200 with the
 *	object's Content-Length means the object is there, and the upload
 *	is skipped. When the store renews objects (http_conf.expire_s set),
 *	an object that is there must be made new, so that the store's own
 *	expiry counts from now: an http(s) store gets the PUT without the
 *	HEAD; an S3 store gets, after the HEAD, a copy of the object onto
 *	itself (PUT with x-amz-copy-source naming the same bucket and key,
 *	x-amz-metadata-directive: REPLACE, Content-Type and
 *	Content-Disposition again, no body), which moves its Last-Modified.
 *	Only a 200 whose body holds a CopyObjectResult is a renewal (a copy
 *	that fails once started answers 200 with an <Error>); anything else
 *	and the bytes are PUT again. Otherwise it PUTs the spool file's
 *	bytes with
 *	Content-Length, Content-Type and Content-Disposition: attachment
 *	with the RFC 6266/5987 file name. 200, 201 and 204 are success,
 *	once the whole body is sent; an error answered early ends the PUT.
 *	Connect failures, broken connections, responses that cannot be
 *	parsed, and 5xx answers are tried
 *	again after a doubling pause, at most HTTP_TRY_MAX times, all
 *	inside upload_timeout. A connection taken from the pool that turns
 *	out closed before its first answer is replaced at once without
 *	counting as a try; once it has answered, a failure is a try.
 *
 *	A download (http_get_new) GETs the object at the same path a PUT
 *	of its key uses, signed the same way for S3 (over an empty
 *	payload). The body of a 2xx answer goes to the caller's sink as it
 *	arrives, never buffered whole; the sink hears a zero-length call
 *	first, and again before a retry's body, so it can start over. 200
 *	is success; 5xx answers, connect failures, broken connections and
 *	garbled responses are tried again as uploads are, inside the same
 *	upload_timeout; any other status fails at once, and
 *	http_xfer_status() tells which it was (a 404 is a missing object,
 *	not a store that is down).
 *
 *	Everything is non-blocking, from connect() to the last response
 *	byte, and driven by the caller's poll() loop through
 *	http_xfer_poll() and http_xfer_event(). TLS 1.2 goes through
 *	BearSSL's engine with its full client profile: the chain is checked
 *	against the trust store and the certificate against the host name,
 *	which is sent as SNI. A store given by IP address (any numeric form)
 *	sends no SNI (RFC 6066 3) and is matched against the certificate's
 *	iPAddress subjectAltNames only (RFC 5280 4.2.1.6, RFC 9525): BearSSL
 *	checks dNSName alone, so its X.509 engine is wrapped to keep the
 *	end-entity certificate (HTTP_CERT_MAX) and http_san_ip_match(), a
 *	strict DER reader, looks for the address. A dNSName never names an
 *	address, nor an iPAddress a name. There is no way to turn
 *	verification off. ECDHE AEAD
 *	suites come first, AES-GCM before ChaCha20 when the CPU has AES-NI
 *	and PCLMUL (the body then moves faster). Records are
 *	pumped as the socket allows; the body is read from the spool
 *	straight into the engine's record buffer (plain http: through a
 *	buffer of HTTP_IO_CHUNK bytes).
 *
 *	S3 requests are signed with AWS Signature Version 4 over host,
 *	x-amz-content-sha256 (the digest the detacher computed while
 *	spooling) and x-amz-date. Path style sends /bucket/prefix/key to
 *	the endpoint; virtual-host style sends /prefix/key with Host
 *	bucket.endpoint. A plain http endpoint must resolve to loopback.
 *	Names under .localhost resolve to 127.0.0.1 without asking the
 *	resolver (RFC 6761 6.3).
 *
 *	http_stats() counts, since the start, the requests sent by method
 *	and class of answer ("none" when the connection failed, the answer
 *	could not be parsed before its status, or the time ran out), and
 *	the tries after the first. http_xfer_found() tells a transfer
 *	that ended at a HEAD finding the object.
 *
 *	The pure parts do no I/O: the response push parser (any split of
 *	the input gives the same result), request building, SigV4, and the
 *	TLS engine pump's decisions. Only http_sock_*() and
 *	http_spool_read() touch descriptors, called from http_xfer_event().
 *
 * LIMITS
 *	See HTTP_* and S3_* in detach.h: response lines, fields, pool size,
 *	tries, idle age of pooled connections, addresses per name.
 *	Responses are HTTP/1.x only.
 *
 * DIAGNOSTICS
 *	Nothing is logged here; http_xfer_why() gives one line for the
 *	caller's log: "stored", "exists, upload skipped", "exists, renewed
 *	(copied onto itself)", "stored again, the copy onto itself answered
 *	..." (the copy's status and body), or the method,
 *	URL and cause ("PUT https://host/k: 503 Service Unavailable:
 *	<start of body>", "certificate not trusted", a timeout). A
 *	success after failed tries says so and names the last failure
 *	("stored after 2 tries; last error: PUT ...: 500 ..."). Secrets
 *	(store_auth, the S3 secret key, signatures) never appear in it.
 *
 * BUGS
 *	A body delimited by the connection's close (no Content-Length, not
 *	chunked) is taken as complete when the connection closes, even
 *	without TLS close_notify. Such a body feeds error text, or a GET's
 *	sink: a download cut that way is caught by its caller's size and
 *	digest checks (detach -R), not here.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <bearssl.h>

#include "detach.h"

/* Kinds of header field the response parser acts on. */
#define HTTP_FIELD_OTHER	0
#define HTTP_FIELD_LENGTH	1
#define HTTP_FIELD_TE		2
#define HTTP_FIELD_CONN		3

/* Transfer-Encoding outcome: none, chunked last, another coding last. */
#define HTTP_TE_NONE		0
#define HTTP_TE_CHUNKED		1
#define HTTP_TE_OTHER		2

/* Store kinds. */
#define HTTP_KIND_HTTP		0
#define HTTP_KIND_S3		1

/* A PEM trust store larger than this is refused (the Debian bundle is
 * about 200 KiB). */
#define HTTP_CA_FILE_MAX	(16 * 1024 * 1024)

/* The text of a transfer's outcome. */
#define HTTP_WHY_MAX		512

/* SHA-256 of the empty string, the payload hash of a HEAD. */
static const char http_empty_sha256[] =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/* ------------------------------------------------------------------ */
/* Small helpers                                                       */
/* ------------------------------------------------------------------ */

/* Bounded output: appends that do not fit set over and keep nothing. */
struct http_out {
	char   *p;
	size_t	size;
	size_t	len;
	int	over;
};

/* http_out_init - start an output into buf */
static void
http_out_init(struct http_out *o, char *buf, size_t size)
{
	o->p = buf;
	o->size = size;
	o->len = 0;
	o->over = (size == 0);
	if (size > 0)
		buf[0] = 0;
}

/* http_add - append n bytes, keeping a NUL after them */
static void
http_add(struct http_out *o, const char *s, size_t n)
{
	if (o->over || n >= o->size - o->len) {
		o->over = 1;
		return;
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
	o->p[o->len] = 0;
}

/* http_adds - append a string */
static void
http_adds(struct http_out *o, const char *s)
{
	http_add(o, s, strlen(s));
}

/* http_addc - append one byte */
static void
http_addc(struct http_out *o, int c)
{
	char ch = (char)c;

	http_add(o, &ch, 1);
}

/* http_addu - append a decimal number */
static void
http_addu(struct http_out *o, uint64_t v)
{
	char tmp[24];
	int n;

	n = snprintf(tmp, sizeof(tmp), "%llu", (unsigned long long)v);
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		o->over = 1;
		return;
	}
	http_add(o, tmp, (size_t)n);
}

/* http_lower - ASCII lower case */
static int
http_lower(int c)
{
	return (c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
}

/* http_ci_eq - compare n bytes with a lower-case string, ignoring case */
static int
http_ci_eq(const char *s, size_t n, const char *lc)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (lc[i] == 0 || http_lower((unsigned char)s[i]) != lc[i])
			return (0);
	return (lc[n] == 0);
}

/* http_tchar - RFC 9110 5.6.2 token character */
static int
http_tchar(int c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
	    || (c >= '0' && c <= '9'))
		return (1);
	return (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != 0);
}

/* http_hexval - value of a hex digit, or -1 */
static int
http_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return (c - '0');
	if (c >= 'a' && c <= 'f')
		return (c - 'a' + 10);
	if (c >= 'A' && c <= 'F')
		return (c - 'A' + 10);
	return (-1);
}

/* http_printable - copy peer text, unprintable bytes as '?' */
static size_t
http_printable(char *dst, size_t size, size_t at, const void *src,
    size_t len)
{
	const unsigned char *s = src;
	size_t i;

	for (i = 0; i < len && at + 1 < size; i++)
		dst[at++] = (s[i] >= 0x20 && s[i] < 0x7f) ? (char)s[i] :
		    (s[i] == '\n' || s[i] == '\r' || s[i] == '\t') ? ' ' : '?';
	if (size > 0)
		dst[at] = 0;
	return (at);
}

/* s3_hex - lower-case hex of n bytes into out[2n + 1] */
void
s3_hex(char *out, const unsigned char *in, size_t n)
{
	static const char hexd[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = hexd[in[i] >> 4];
		out[2 * i + 1] = hexd[in[i] & 15];
	}
	out[2 * n] = 0;
}

/* ------------------------------------------------------------------ */
/* Response parser (RFC 9112), pure                                    */
/* ------------------------------------------------------------------ */

/* Error flags and their text. */
static const struct http_errtab {
	int	flag;
	const char *text;
} http_errtab[] = {
	{HTTP_ERR_STATUS, "malformed status line"},
	{HTTP_ERR_FIELD, "malformed header field"},
	{HTTP_ERR_LENGTH, "invalid Content-Length"},
	{HTTP_ERR_CHUNK, "malformed chunked body"},
	{HTTP_ERR_LINE, "response line too long"},
	{HTTP_ERR_FIELDS, "too many header fields"},
	{HTTP_ERR_EOF, "connection closed before the end of the response"},
	{HTTP_ERR_SINK, "body refused by its taker"},
	{0, 0},
};

/* http_resp_strerror - text of the first error flag set */
const char *
http_resp_strerror(int err)
{
	const struct http_errtab *t;

	for (t = http_errtab; t->flag; t++)
		if (err & t->flag)
			return (t->text);
	return ("no error");
}

/* http_resp_init - wait for a response; head: it answers a HEAD */
void
http_resp_init(struct http_resp *r, int head)
{
	memset(r, 0, offsetof(struct http_resp, line));
	r->head = head;
	r->state = HTTP_RESP_STATUS;
}

/* http_resp_enter - the one place the parser changes state */
static void
http_resp_enter(struct http_resp *r, int state)
{
	r->state = state;
	r->len = 0;
}

/* http_resp_fail - stop with an error flag */
static void
http_resp_fail(struct http_resp *r, int err)
{
	r->err |= err;
	http_resp_enter(r, HTTP_RESP_ERROR);
}

/* http_resp_sink - hand a 2xx body to sink as it arrives (after init) */
void
http_resp_sink(struct http_resp *r, HTTP_BODY_FN sink, void *ctx)
{
	r->sink = sink;
	r->sink_ctx = ctx;
}

/*
 * http_resp_keep - count body bytes, keep the first ones for the log,
 * and give a 2xx body to the sink; -1 when the sink said stop
 */
static int
http_resp_keep(struct http_resp *r, const unsigned char *p, size_t n)
{
	size_t room = HTTP_ERRBODY_MAX - r->errlen;

	r->body += n;
	if (room > 0)
		r->errlen = http_printable(r->errbody, sizeof(r->errbody),
		    r->errlen, p, n < room ? n : room);
	if (r->sink && n > 0 && r->status / 100 == 2
	    && r->sink(r->sink_ctx, p, n) < 0) {
		http_resp_fail(r, HTTP_ERR_SINK);
		return (-1);
	}
	return (0);
}

/* http_resp_status - "HTTP/1.x NNN reason" (RFC 9112 4) */
static void
http_resp_status(struct http_resp *r, const char *l, size_t n)
{
	int i;

	if (n < 12 || memcmp(l, "HTTP/1.", 7) != 0 || l[7] < '0'
	    || l[7] > '9' || l[8] != ' ' || (n > 12 && l[12] != ' ')) {
		http_resp_fail(r, HTTP_ERR_STATUS);
		return;
	}
	r->status = 0;
	for (i = 9; i < 12; i++) {
		if (l[i] < '0' || l[i] > '9') {
			http_resp_fail(r, HTTP_ERR_STATUS);
			return;
		}
		r->status = r->status * 10 + l[i] - '0';
	}
	/* RFC 9110 15: codes outside 100..599 are invalid. */
	if (r->status < 100 || r->status > 599) {
		http_resp_fail(r, HTTP_ERR_STATUS);
		return;
	}
	r->minor = l[7] - '0';
	if (r->minor == 0)
		r->close = 1;	/* HTTP/1.0: no persistence by default */
	r->reason[0] = 0;
	if (n > 13)
		http_printable(r->reason, sizeof(r->reason), 0, l + 13,
		    n - 13 < HTTP_REASON_MAX ? n - 13 : HTTP_REASON_MAX);
	http_resp_enter(r, HTTP_RESP_FIELD);
}

/* http_resp_length - one Content-Length value list (RFC 9110 8.6) */
static void
http_resp_length(struct http_resp *r, const char *v, size_t n)
{
	size_t i = 0, j;
	uint64_t val;
	int digits;

	while (i < n) {
		while (i < n && (v[i] == ' ' || v[i] == '\t'))
			i++;
		val = 0;
		digits = 0;
		for (j = i; j < n && v[j] >= '0' && v[j] <= '9'; j++) {
			/* 19 digits stay below 2^63 */
			if (++digits > 19) {
				http_resp_fail(r, HTTP_ERR_LENGTH);
				return;
			}
			val = val * 10 + (uint64_t)(v[j] - '0');
		}
		if (digits == 0) {
			http_resp_fail(r, HTTP_ERR_LENGTH);
			return;
		}
		while (j < n && (v[j] == ' ' || v[j] == '\t'))
			j++;
		if (j < n && v[j] != ',') {
			http_resp_fail(r, HTTP_ERR_LENGTH);
			return;
		}
		/* Repeated values must agree (RFC 9112 6.3 item 5). */
		if (r->has_length && r->length != val) {
			http_resp_fail(r, HTTP_ERR_LENGTH);
			return;
		}
		r->has_length = 1;
		r->length = val;
		i = j + 1;
		if (j < n && i >= n) {	/* a trailing comma */
			http_resp_fail(r, HTTP_ERR_LENGTH);
			return;
		}
	}
}

/* http_resp_tokens - a comma list: last Transfer-Encoding, Connection */
static void
http_resp_tokens(struct http_resp *r, int kind, const char *v, size_t n)
{
	size_t i = 0, s, e;

	while (i < n) {
		while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		if (i >= n)
			break;
		for (s = i; i < n && v[i] != ','; i++)
			;
		/* the token, without parameters and white space */
		for (e = s; e < i && http_tchar((unsigned char)v[e]); e++)
			;
		if (kind == HTTP_FIELD_TE)
			r->chunked = http_ci_eq(v + s, e - s, "chunked") ?
			    HTTP_TE_CHUNKED : HTTP_TE_OTHER;
		else if (http_ci_eq(v + s, e - s, "close"))
			r->close = 1;
	}
}

/* http_resp_value - act on the value of a field we care about */
static void
http_resp_value(struct http_resp *r, int kind, const char *v, size_t n)
{
	while (n > 0 && (v[0] == ' ' || v[0] == '\t')) {
		v++;
		n--;
	}
	while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
		n--;
	switch (kind) {
	case HTTP_FIELD_LENGTH:
		http_resp_length(r, v, n);
		break;
	case HTTP_FIELD_TE:
	case HTTP_FIELD_CONN:
		http_resp_tokens(r, kind, v, n);
		break;
	case HTTP_FIELD_OTHER:
		break;
	default:
		log_panic("http_resp_value: field kind %d", kind);
	}
}

/* http_resp_field - "name: value" (RFC 9112 5) */
static void
http_resp_field(struct http_resp *r, const char *l, size_t n)
{
	const char *colon;
	size_t i, nlen;

	if (++r->nfields > HTTP_FIELDS_MAX) {
		http_resp_fail(r, HTTP_ERR_FIELDS);
		return;
	}
	if (l[0] == ' ' || l[0] == '\t') {
		/* obs-fold (RFC 9112 5.2): more value for the last field;
		 * a fold with no field before it is malformed. */
		if (r->field < 0) {
			http_resp_fail(r, HTTP_ERR_FIELD);
			return;
		}
		if (r->field == HTTP_FIELD_LENGTH) {
			http_resp_fail(r, HTTP_ERR_LENGTH);
			return;
		}
		if (r->state == HTTP_RESP_FIELD)
			http_resp_value(r, r->field, l, n);
		return;
	}
	/* No white space between name and colon (RFC 9112 5.1). */
	if ((colon = memchr(l, ':', n)) == 0 || colon == l) {
		http_resp_fail(r, HTTP_ERR_FIELD);
		return;
	}
	nlen = (size_t)(colon - l);
	for (i = 0; i < nlen; i++)
		if (!http_tchar((unsigned char)l[i])) {
			http_resp_fail(r, HTTP_ERR_FIELD);
			return;
		}
	r->field = HTTP_FIELD_OTHER;
	/* Trailer fields never frame the message (RFC 9110 6.5.1). */
	if (r->state == HTTP_RESP_FIELD) {
		if (http_ci_eq(l, nlen, "content-length"))
			r->field = HTTP_FIELD_LENGTH;
		else if (http_ci_eq(l, nlen, "transfer-encoding"))
			r->field = HTTP_FIELD_TE;
		else if (http_ci_eq(l, nlen, "connection"))
			r->field = HTTP_FIELD_CONN;
	}
	http_resp_value(r, r->field, colon + 1, n - nlen - 1);
}

/* http_resp_headers_end - the empty line: choose the body's framing */
static void
http_resp_headers_end(struct http_resp *r)
{
	int head, interim, nfields;
	HTTP_BODY_FN sink;
	void *ctx;

	if (r->status < 200) {
		/* 1xx: an interim response; the final one follows
		 * (RFC 9110 15.2). We never ask to switch protocols. */
		if (r->status == 101) {
			http_resp_fail(r, HTTP_ERR_STATUS);
			return;
		}
		head = r->head;
		interim = r->interim + 1;
		nfields = r->nfields;
		sink = r->sink;
		ctx = r->sink_ctx;
		http_resp_init(r, head);
		r->interim = interim;
		r->nfields = nfields;
		http_resp_sink(r, sink, ctx);
		return;
	}
	/* a body begins: its taker starts over */
	if (r->sink && r->status / 100 == 2 && r->sink(r->sink_ctx, 0, 0) < 0) {
		http_resp_fail(r, HTTP_ERR_SINK);
		return;
	}
	/* RFC 9112 6.3, in its order. */
	if (r->head || r->status == 204 || r->status == 304)
		http_resp_enter(r, HTTP_RESP_DONE);
	else if (r->chunked == HTTP_TE_CHUNKED) {
		if (r->has_length)
			r->close = 1;
		http_resp_enter(r, HTTP_RESP_CHUNK_SIZE);
	} else if (r->chunked == HTTP_TE_OTHER) {
		r->close = 1;
		http_resp_enter(r, HTTP_RESP_BODY_EOF);
	} else if (r->has_length) {
		r->left = r->length;
		http_resp_enter(r, r->left ? HTTP_RESP_BODY : HTTP_RESP_DONE);
	} else {
		r->close = 1;
		http_resp_enter(r, HTTP_RESP_BODY_EOF);
	}
}

/* http_resp_chunk_size - "1*HEXDIG [ BWS ; chunk-ext ]" (RFC 9112 7.1) */
static void
http_resp_chunk_size(struct http_resp *r, const char *l, size_t n)
{
	uint64_t size = 0;
	size_t i;
	int sig = 0, v;

	for (i = 0; i < n && (v = http_hexval((unsigned char)l[i])) >= 0;
	    i++) {
		if (size > 0 || v > 0)
			sig++;
		/* 15 hex digits stay below 2^60 */
		if (sig > 15) {
			http_resp_fail(r, HTTP_ERR_CHUNK);
			return;
		}
		size = size * 16 + (uint64_t)v;
	}
	if (i == 0) {
		http_resp_fail(r, HTTP_ERR_CHUNK);
		return;
	}
	while (i < n && (l[i] == ' ' || l[i] == '\t'))
		i++;
	if (i < n && l[i] != ';') {
		http_resp_fail(r, HTTP_ERR_CHUNK);
		return;
	}
	if (size == 0) {
		r->field = -1;
		http_resp_enter(r, HTTP_RESP_TRAILER);
	} else {
		r->left = size;
		http_resp_enter(r, HTTP_RESP_CHUNK_DATA);
	}
}

/* http_resp_line - one complete line, LF removed */
static void
http_resp_line(struct http_resp *r)
{
	const char *l = r->line;
	size_t n = r->len;

	/* CRLF, or a bare LF (RFC 9112 2.2) */
	if (n > 0 && l[n - 1] == '\r')
		n--;
	switch (r->state) {
	case HTTP_RESP_STATUS:
		if (memchr(l, '\r', n) || memchr(l, 0, n))
			http_resp_fail(r, HTTP_ERR_STATUS);
		else {
			http_resp_status(r, l, n);
			r->field = -1;
		}
		break;
	case HTTP_RESP_FIELD:
	case HTTP_RESP_TRAILER:
		if (n == 0) {
			if (r->state == HTTP_RESP_FIELD)
				http_resp_headers_end(r);
			else
				http_resp_enter(r, HTTP_RESP_DONE);
		} else if (memchr(l, '\r', n) || memchr(l, 0, n))
			http_resp_fail(r, HTTP_ERR_FIELD);
		else {
			http_resp_field(r, l, n);
			r->len = 0;
		}
		break;
	case HTTP_RESP_CHUNK_SIZE:
		http_resp_chunk_size(r, l, n);
		break;
	case HTTP_RESP_CHUNK_END:
		if (n != 0)
			http_resp_fail(r, HTTP_ERR_CHUNK);
		else
			http_resp_enter(r, HTTP_RESP_CHUNK_SIZE);
		break;
	default:
		log_panic("http_resp_line: state %d", r->state);
	}
}

/*
 * http_resp_feed - push response bytes into the parser
 *
 * Returns how many bytes were taken: all of them, or fewer when the
 * response ended (HTTP_RESP_DONE) or failed (HTTP_RESP_ERROR) before
 * the end of the input. The caller keeps ownership of buf.
 */
size_t
http_resp_feed(struct http_resp *r, const void *buf, size_t len)
{
	const unsigned char *p = buf, *nl;
	size_t off = 0, n;

	while (off < len) {
		switch (r->state) {
		case HTTP_RESP_STATUS:
		case HTTP_RESP_FIELD:
		case HTTP_RESP_CHUNK_SIZE:
		case HTTP_RESP_CHUNK_END:
		case HTTP_RESP_TRAILER:
			nl = memchr(p + off, '\n', len - off);
			n = nl ? (size_t)(nl - (p + off)) : len - off;
			if (n > HTTP_LINE_MAX - r->len) {
				http_resp_fail(r, HTTP_ERR_LINE);
				return (off);
			}
			memcpy(r->line + r->len, p + off, n);
			r->len += n;
			off += n;
			if (nl) {
				off++;
				http_resp_line(r);
			}
			break;
		case HTTP_RESP_BODY:
		case HTTP_RESP_CHUNK_DATA:
			n = len - off;
			if (n > r->left)
				n = (size_t)r->left;
			r->left -= n;
			off += n;
			if (http_resp_keep(r, p + off - n, n) < 0)
				return (off);
			if (r->left == 0)
				http_resp_enter(r, r->state == HTTP_RESP_BODY ?
				    HTTP_RESP_DONE : HTTP_RESP_CHUNK_END);
			break;
		case HTTP_RESP_BODY_EOF:
			n = len - off;
			off = len;
			if (http_resp_keep(r, p + off - n, n) < 0)
				return (off);
			break;
		case HTTP_RESP_DONE:
		case HTTP_RESP_ERROR:
			return (off);
		default:
			log_panic("http_resp_feed: state %d", r->state);
		}
	}
	return (off);
}

/* http_resp_eof - the connection closed: 0 if that ends the response */
int
http_resp_eof(struct http_resp *r)
{
	if (r->state == HTTP_RESP_BODY_EOF)
		http_resp_enter(r, HTTP_RESP_DONE);
	else if (r->state != HTTP_RESP_DONE && r->state != HTTP_RESP_ERROR)
		http_resp_fail(r, HTTP_ERR_EOF);
	return (r->state == HTTP_RESP_DONE ? 0 : -1);
}

/* ------------------------------------------------------------------ */
/* Requests, pure                                                      */
/* ------------------------------------------------------------------ */

/* http_attr_char - RFC 5987 3.2.1 attr-char */
static int
http_attr_char(int c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
	    || (c >= '0' && c <= '9'))
		return (1);
	return (c != 0 && strchr("!#$&+-.^_`|~", c) != 0);
}

/*
 * http_disposition - Content-Disposition value for a file name
 *
 * "attachment; filename="ascii"; filename*=UTF-8''pct" (RFC 6266 4.3):
 * the quoted form for old agents with each non-ASCII character, quote,
 * backslash and control as '_', the extended form with every byte but
 * attr-char percent-encoded. Returns the length, or 0 if it does not
 * fit.
 */
size_t
http_disposition(char *buf, size_t size, const char *name)
{
	static const char hexd[] = "0123456789ABCDEF";
	struct http_out o;
	const unsigned char *s;

	http_out_init(&o, buf, size);
	http_adds(&o, "attachment");
	if (name != 0 && *name != 0) {
		http_adds(&o, "; filename=\"");
		for (s = (const unsigned char *)name; *s; s++) {
			if ((*s & 0xc0) == 0x80)
				continue;	/* UTF-8 continuation */
			http_addc(&o, *s < 0x20 || *s >= 0x7f || *s == '"'
			    || *s == '\\' ? '_' : *s);
		}
		http_adds(&o, "\"; filename*=UTF-8''");
		for (s = (const unsigned char *)name; *s; s++) {
			if (http_attr_char(*s))
				http_addc(&o, *s);
			else {
				http_addc(&o, '%');
				http_addc(&o, hexd[*s >> 4]);
				http_addc(&o, hexd[*s & 15]);
			}
		}
	}
	return (o.over ? 0 : o.len);
}

/* http_safe - a field value or path without controls or CR/LF */
static int
http_safe(const char *s, int space_ok)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f
		    || (*s == ' ' && !space_ok))
			return (0);
	return (1);
}

/* http_type_ok - "type/subtype" of token characters */
static int
http_type_ok(const char *t)
{
	const char *slash = strchr(t, '/');
	const char *s;

	if (slash == 0 || slash == t || slash[1] == 0)
		return (0);
	for (s = t; *s; s++)
		if (s != slash && !http_tchar((unsigned char)*s))
			return (0);
	return (1);
}

/*
 * http_req_build - the head of a HEAD or PUT request
 *
 * A PUT always carries Content-Length (S3 answers 411 without it),
 * Content-Type and Content-Disposition. Returns the length, or 0 if it
 * does not fit or a value would break the header.
 */
size_t
http_req_build(char *buf, size_t size, const struct http_req *rq)
{
	struct http_out o;
	char disp[HTTP_LINE_MAX];
	int put = strcmp(rq->method, "PUT") == 0;

	if (!http_safe(rq->host, 0) || !http_safe(rq->path, 0)
	    || rq->path[0] != '/')
		return (0);
	http_out_init(&o, buf, size);
	http_adds(&o, rq->method);
	http_addc(&o, ' ');
	http_adds(&o, rq->path);
	http_adds(&o, " HTTP/1.1\r\nHost: ");
	http_adds(&o, rq->host);
	http_adds(&o, "\r\nUser-Agent: detach/" DETACH_VERSION "\r\n");
	if (put) {
		http_adds(&o, "Content-Length: ");
		http_addu(&o, rq->length);
		http_adds(&o, "\r\nContent-Type: ");
		http_adds(&o, rq->type && http_type_ok(rq->type) ? rq->type :
		    "application/octet-stream");
		if (http_disposition(disp, sizeof(disp), rq->name) == 0)
			return (0);
		http_adds(&o, "\r\nContent-Disposition: ");
		http_adds(&o, disp);
		http_adds(&o, "\r\n");
	}
	if (rq->fields)
		http_adds(&o, rq->fields);
	http_adds(&o, "\r\n");
	return (o.over ? 0 : o.len);
}

/* http_b64 - base64 (RFC 4648 4) for Basic credentials */
static void
http_b64(struct http_out *o, const unsigned char *s, size_t n)
{
	static const char b64[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	uint32_t v;
	size_t i;

	for (i = 0; i + 2 < n; i += 3) {
		v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
		http_addc(o, b64[v >> 18]);
		http_addc(o, b64[(v >> 12) & 63]);
		http_addc(o, b64[(v >> 6) & 63]);
		http_addc(o, b64[v & 63]);
	}
	if (n - i == 1) {
		v = (uint32_t)s[i] << 16;
		http_addc(o, b64[v >> 18]);
		http_addc(o, b64[(v >> 12) & 63]);
		http_adds(o, "==");
	} else if (n - i == 2) {
		v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8;
		http_addc(o, b64[v >> 18]);
		http_addc(o, b64[(v >> 12) & 63]);
		http_addc(o, b64[(v >> 6) & 63]);
		http_addc(o, '=');
	}
}

/* ------------------------------------------------------------------ */
/* AWS Signature Version 4, pure                                       */
/* ------------------------------------------------------------------ */

/* s3_unreserved - RFC 3986 2.3, kept as is by SigV4 */
static int
s3_unreserved(int c)
{
	return ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
	    || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_'
	    || c == '~');
}

/*
 * s3_encode - SigV4 URI encoding of one component
 *
 * An existing %XX is decoded first, so a key that is already URL-safe
 * is encoded once, not twice. A literal '/' is kept when slash is set;
 * an encoded one stays encoded.
 */
static void
s3_encode(struct http_out *o, const char *s, size_t n, int slash)
{
	static const char hexd[] = "0123456789ABCDEF";
	size_t i;
	int c, pct, hi, lo;

	for (i = 0; i < n; i++) {
		c = (unsigned char)s[i];
		pct = 0;
		if (c == '%' && i + 2 < n
		    && (hi = http_hexval((unsigned char)s[i + 1])) >= 0
		    && (lo = http_hexval((unsigned char)s[i + 2])) >= 0) {
			c = hi * 16 + lo;
			i += 2;
			pct = 1;
		}
		if (s3_unreserved(c) || (c == '/' && slash && !pct))
			http_addc(o, c);
		else {
			http_addc(o, '%');
			http_addc(o, hexd[c >> 4]);
			http_addc(o, hexd[c & 15]);
		}
	}
}

/*
 * s3_canon_path - the canonical URI
 *
 * S3 signs the path as sent, each byte encoded once; other services
 * (normalize) first drop empty and "." segments and apply "..".
 */
static void
s3_canon_path(struct http_out *o, const char *p, size_t n, int normalize)
{
	size_t segoff[S3_SEGS_MAX], seglen[S3_SEGS_MAX];
	size_t i, j;
	int nseg = 0, k;

	if (n == 0) {
		http_addc(o, '/');
		return;
	}
	if (!normalize) {
		s3_encode(o, p, n, 1);
		return;
	}
	for (i = 0; i <= n; i = j + 1) {
		for (j = i; j < n && p[j] != '/'; j++)
			;
		if (j == i || (j - i == 1 && p[i] == '.'))
			continue;
		if (j - i == 2 && p[i] == '.' && p[i + 1] == '.') {
			if (nseg > 0)
				nseg--;
			continue;
		}
		if (nseg == S3_SEGS_MAX) {
			o->over = 1;
			return;
		}
		segoff[nseg] = i;
		seglen[nseg++] = j - i;
	}
	http_addc(o, '/');
	for (k = 0; k < nseg; k++) {
		if (k > 0)
			http_addc(o, '/');
		s3_encode(o, p + segoff[k], seglen[k], 0);
	}
	if (nseg > 0 && p[n - 1] == '/')
		http_addc(o, '/');
}

/* A query parameter, encoded, as offsets into a scratch buffer. */
struct s3_param {
	size_t	koff;
	size_t	klen;
	size_t	voff;
	size_t	vlen;
};

/* s3_cmp - byte order of two encoded strings */
static int
s3_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	int c = memcmp(a, b, alen < blen ? alen : blen);

	return (c ? c : (alen > blen) - (alen < blen));
}

/* s3_canon_query - parameters encoded, sorted by name then value */
static void
s3_canon_query(struct http_out *o, const char *q, size_t n)
{
	char scratch[HTTP_LINE_MAX];
	struct http_out s;
	struct s3_param p[S3_QUERY_MAX], t;
	size_t i, j, eq;
	int np = 0, k, m, c;

	http_out_init(&s, scratch, sizeof(scratch));
	for (i = 0; q && i < n; i = j + 1) {
		for (j = i; j < n && q[j] != '&'; j++)
			;
		if (j == i)
			continue;
		if (np == S3_QUERY_MAX) {
			o->over = 1;
			return;
		}
		for (eq = i; eq < j && q[eq] != '='; eq++)
			;
		p[np].koff = s.len;
		s3_encode(&s, q + i, eq - i, 0);
		p[np].klen = s.len - p[np].koff;
		p[np].voff = s.len;
		if (eq < j)
			s3_encode(&s, q + eq + 1, j - eq - 1, 0);
		p[np].vlen = s.len - p[np].voff;
		np++;
	}
	if (s.over) {
		o->over = 1;
		return;
	}
	/* insertion sort of at most S3_QUERY_MAX entries */
	for (k = 1; k < np; k++)
		for (m = k; m > 0; m--) {
			c = s3_cmp(scratch + p[m - 1].koff, p[m - 1].klen,
			    scratch + p[m].koff, p[m].klen);
			if (c == 0)
				c = s3_cmp(scratch + p[m - 1].voff,
				    p[m - 1].vlen, scratch + p[m].voff,
				    p[m].vlen);
			if (c <= 0)
				break;
			t = p[m];
			p[m] = p[m - 1];
			p[m - 1] = t;
		}
	for (k = 0; k < np; k++) {
		if (k > 0)
			http_addc(o, '&');
		http_add(o, scratch + p[k].koff, p[k].klen);
		http_addc(o, '=');
		http_add(o, scratch + p[k].voff, p[k].vlen);
	}
}

/* s3_namecmp - compare two header names ignoring case */
static int
s3_namecmp(const struct s3_hdr *a, const struct s3_hdr *b)
{
	size_t i;
	int ca, cb;

	for (i = 0; i < a->namelen && i < b->namelen; i++) {
		ca = http_lower((unsigned char)a->name[i]);
		cb = http_lower((unsigned char)b->name[i]);
		if (ca != cb)
			return (ca - cb);
	}
	return ((a->namelen > b->namelen) - (a->namelen < b->namelen));
}

/* s3_sorted - header indexes sorted by name, stable; -1 if too many */
static int
s3_sorted(const struct s3_sign *s, int *idx)
{
	int k, m, t;

	if (s->nhdr > S3_HDRS_MAX || s->nhdr < 0)
		return (-1);
	for (k = 0; k < s->nhdr; k++) {
		idx[k] = k;
		for (m = k; m > 0 && s3_namecmp(&s->hdr[idx[m - 1]],
		    &s->hdr[idx[m]]) > 0; m--) {
			t = idx[m];
			idx[m] = idx[m - 1];
			idx[m - 1] = t;
		}
	}
	return (0);
}

/* s3_add_lower - a header name in lower case */
static void
s3_add_lower(struct http_out *o, const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		http_addc(o, http_lower((unsigned char)s[i]));
}

/* s3_signed_headers - "host;x-amz-date" */
static void
s3_signed_headers(struct http_out *o, const struct s3_sign *s,
    const int *idx)
{
	int k;

	for (k = 0; k < s->nhdr; k++) {
		if (k > 0 && s3_namecmp(&s->hdr[idx[k - 1]],
		    &s->hdr[idx[k]]) == 0)
			continue;
		if (k > 0)
			http_addc(o, ';');
		s3_add_lower(o, s->hdr[idx[k]].name, s->hdr[idx[k]].namelen);
	}
}

/* s3_add_value - trimmed, inner runs of white space as one space */
static void
s3_add_value(struct http_out *o, const char *v, size_t n)
{
	size_t i;
	int space = 0, any = 0;

	for (i = 0; i < n; i++) {
		if (v[i] == ' ' || v[i] == '\t') {
			space = 1;
			continue;
		}
		if (space && any)
			http_addc(o, ' ');
		http_addc(o, v[i]);
		space = 0;
		any = 1;
	}
}

/*
 * s3_canonical_request - SigV4 task 1
 *
 * Method, canonical URI, canonical query, the headers (lower-case
 * names, sorted, repeated ones joined by commas), the signed header
 * list and the payload hash, each on its own line. Returns the
 * length, or 0 if it does not fit in size.
 */
size_t
s3_canonical_request(const struct s3_sign *s, char *buf, size_t size)
{
	struct http_out o;
	int idx[S3_HDRS_MAX], k;

	if (s3_sorted(s, idx) < 0)
		return (0);
	http_out_init(&o, buf, size);
	http_adds(&o, s->method);
	http_addc(&o, '\n');
	s3_canon_path(&o, s->path, s->pathlen, s->normalize);
	http_addc(&o, '\n');
	s3_canon_query(&o, s->query, s->querylen);
	http_addc(&o, '\n');
	for (k = 0; k < s->nhdr; k++) {
		if (k > 0 && s3_namecmp(&s->hdr[idx[k - 1]],
		    &s->hdr[idx[k]]) == 0)
			http_addc(&o, ',');
		else {
			if (k > 0)
				http_addc(&o, '\n');
			s3_add_lower(&o, s->hdr[idx[k]].name,
			    s->hdr[idx[k]].namelen);
			http_addc(&o, ':');
		}
		s3_add_value(&o, s->hdr[idx[k]].value,
		    s->hdr[idx[k]].valuelen);
	}
	http_adds(&o, "\n\n");
	s3_signed_headers(&o, s, idx);
	http_addc(&o, '\n');
	http_adds(&o, s->payload);
	return (o.over ? 0 : o.len);
}

/* s3_scope - "20150830/us-east-1/service/aws4_request" */
static void
s3_scope(struct http_out *o, const struct s3_sign *s)
{
	http_add(o, s->date, strlen(s->date) < 8 ? strlen(s->date) : 8);
	http_addc(o, '/');
	http_adds(o, s->region);
	http_addc(o, '/');
	http_adds(o, s->service);
	http_adds(o, "/aws4_request");
}

/* s3_string_to_sign - SigV4 task 2 */
size_t
s3_string_to_sign(const struct s3_sign *s, const char *creq, size_t creqlen,
    char *buf, size_t size)
{
	br_sha256_context h;
	unsigned char d[32];
	char hex[65];
	struct http_out o;

	br_sha256_init(&h);
	br_sha256_update(&h, creq, creqlen);
	br_sha256_out(&h, d);
	s3_hex(hex, d, sizeof(d));
	http_out_init(&o, buf, size);
	http_adds(&o, "AWS4-HMAC-SHA256\n");
	http_adds(&o, s->date);
	http_addc(&o, '\n');
	s3_scope(&o, s);
	http_addc(&o, '\n');
	http_adds(&o, hex);
	return (o.over ? 0 : o.len);
}

/* s3_hmac - HMAC-SHA256 */
static void
s3_hmac(unsigned char *out, const void *key, size_t keylen,
    const void *data, size_t len)
{
	br_hmac_key_context kc;
	br_hmac_context hc;

	br_hmac_key_init(&kc, &br_sha256_vtable, key, keylen);
	br_hmac_init(&hc, &kc, 0);
	br_hmac_update(&hc, data, len);
	br_hmac_out(&hc, out);
}

/* s3_signing_key - SigV4 task 3: kSigning from the secret and scope */
void
s3_signing_key(const char *secret, const char *date, const char *region,
    const char *service, unsigned char *key)
{
	unsigned char k[4 + 512];
	size_t n = strlen(secret);

	/* Secrets are short (40 bytes at AWS); cfg bounds them to 255. */
	if (n > sizeof(k) - 4)
		n = sizeof(k) - 4;
	memcpy(k, "AWS4", 4);
	memcpy(k + 4, secret, n);
	s3_hmac(key, k, 4 + n, date, strlen(date) < 8 ? strlen(date) : 8);
	s3_hmac(key, key, 32, region, strlen(region));
	s3_hmac(key, key, 32, service, strlen(service));
	s3_hmac(key, key, 32, "aws4_request", 12);
	memset(k, 0, sizeof(k));
}

/*
 * s3_authorization - SigV4 task 4: the Authorization field value
 *
 * "AWS4-HMAC-SHA256 Credential=KEY/scope, SignedHeaders=a;b,
 * Signature=hex". Returns the length, or 0 if it does not fit.
 */
size_t
s3_authorization(const struct s3_sign *s, char *buf, size_t size)
{
	char creq[S3_CANON_MAX], sts[512], sig[65];
	unsigned char key[32], mac[32];
	size_t clen, slen;
	struct http_out o;
	int idx[S3_HDRS_MAX];

	if ((clen = s3_canonical_request(s, creq, sizeof(creq))) == 0
	    || (slen = s3_string_to_sign(s, creq, clen, sts,
	    sizeof(sts))) == 0 || s3_sorted(s, idx) < 0)
		return (0);
	s3_signing_key(s->secret_key, s->date, s->region, s->service, key);
	s3_hmac(mac, key, sizeof(key), sts, slen);
	memset(key, 0, sizeof(key));
	s3_hex(sig, mac, sizeof(mac));
	http_out_init(&o, buf, size);
	http_adds(&o, "AWS4-HMAC-SHA256 Credential=");
	http_adds(&o, s->access_key);
	http_addc(&o, '/');
	s3_scope(&o, s);
	http_adds(&o, ", SignedHeaders=");
	s3_signed_headers(&o, s, idx);
	http_adds(&o, ", Signature=");
	http_adds(&o, sig);
	return (o.over ? 0 : o.len);
}

/* ------------------------------------------------------------------ */
/* Store: URL, names, trust anchors, pool                              */
/* ------------------------------------------------------------------ */

struct http_url {
	int	tls;
	char	host[HTTP_HOST_MAX];	/* without IPv6 brackets */
	int	v6;			/* an IPv6 literal */
	unsigned port;
	char	path[CFG_LINE_MAX];	/* begins with '/' */
};

/*
 * For a store given by IP address: BearSSL's X.509 engine, wrapped. It
 * checks the chain without a name (it matches dNSName only), while the
 * wrapper keeps a copy of the end-entity certificate, the first of the
 * chain, to match the address against its iPAddress names at the end.
 */
struct http_x509 {
	const br_x509_class *vtable;	/* http_x509_vtable */
	const br_x509_class **inner;	/* the minimal engine */
	const unsigned char *ip;	/* 4 or 16 octets */
	size_t	iplen;
	uint32_t ncert;			/* certificates seen */
	size_t	eelen;
	int	eeover;			/* over HTTP_CERT_MAX */
	unsigned char ee[HTTP_CERT_MAX];
};

/* A TLS connection's engine and its buffers (BR_SSL_BUFSIZE_BIDI). */
struct http_tls {
	br_ssl_client_context sc;
	br_x509_minimal_context xc;
	struct http_x509 ipx;		/* used for an address only */
	unsigned char buf[BR_SSL_BUFSIZE_BIDI];
};

struct http_conn {
	int	fd;
	int64_t	idle;			/* when it went into the pool */
	struct http_tls *tls;		/* 0 for plain http */
};

struct http_store {
	int	kind;			/* HTTP_KIND_* */
	int	tls;
	char	hostfield[HTTP_HOST_MAX + 72];	/* Host: name[:port] */
	char	tlsname[HTTP_HOST_MAX + 72];	/* SNI, certificate name */
	unsigned char ip[16];		/* the host is this address */
	size_t	iplen;			/* 4, 16, or 0 for a name */
	char	base[2 * CFG_LINE_MAX];	/* path before the key */
	char	copybase[72];		/* S3: before the path in a copy
					 * source: "/bucket" or "" */
	int	renew;			/* renew existing objects */
	char	auth[2 * CFG_LINE_MAX];	/* store_auth field lines */
	char	region[64];
	char	access[256];
	char	secret[256];
	int	timeout_ms;
	struct sockaddr_storage addr[HTTP_ADDR_MAX];
	socklen_t addrlen[HTTP_ADDR_MAX];
	int	naddr;
	br_x509_trust_anchor *ta;
	size_t	nta;
	br_ssl_session_parameters session;
	int	has_session;
	struct http_conn *pool[HTTP_POOL_MAX];
	int	npool;
};

/* http_why - format a reason; a cut message is still a message */
static void
http_why(char *why, size_t whylen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
http_why(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	if (whylen == 0)
		return;
	va_start(ap, fmt);
	if (vsnprintf(why, whylen, fmt, ap) < 0)
		why[0] = 0;
	va_end(ap);
}

/* http_url_parse - "http[s]://host[:port][/path]" */
static int
http_url_parse(const char *s, struct http_url *u, char *why, size_t whylen)
{
	const char *h, *e, *p;
	size_t n;
	unsigned long port;
	char *end;

	memset(u, 0, sizeof(*u));
	/* Never echo a URL that may hold a password, whatever else is
	 * wrong with it. */
	if (strchr(s, '@') != 0) {
		http_why(why, whylen, "store URL must not hold user "
		    "credentials (use store_auth)");
		return (-1);
	}
	/* RFC 3986 3.1: the scheme is case-insensitive. */
	if (strncasecmp(s, "https://", 8) == 0) {
		u->tls = 1;
		h = s + 8;
	} else if (strncasecmp(s, "http://", 7) == 0)
		h = s + 7;
	else {
		http_why(why, whylen, "%.100s: not an http or https URL", s);
		return (-1);
	}
	if (!http_safe(s, 0) || strpbrk(h, "?#\\") != 0) {
		http_why(why, whylen, "%.100s: URL must not hold white space, "
		    "'?', '#' or '\\'", s);
		return (-1);
	}
	if (*h == '[') {
		if ((e = strchr(h, ']')) == 0) {
			http_why(why, whylen, "%.100s: bad IPv6 literal", s);
			return (-1);
		}
		u->v6 = 1;
		n = (size_t)(e - h - 1);
		h++;
		e++;
	} else {
		for (e = h; *e && *e != ':' && *e != '/'; e++)
			if (!(http_tchar((unsigned char)*e) && *e != '%'))
				break;
		n = (size_t)(e - h);
	}
	if (n == 0 || n >= sizeof(u->host)) {
		http_why(why, whylen, "%.100s: bad host name", s);
		return (-1);
	}
	memcpy(u->host, h, n);
	u->host[n] = 0;
	u->port = u->tls ? 443 : 80;
	if (*e == ':') {
		errno = 0;
		port = strtoul(e + 1, &end, 10);
		if (end == e + 1 || port == 0 || port > 65535
		    || (*end && *end != '/')) {
			http_why(why, whylen, "%.100s: bad port", s);
			return (-1);
		}
		u->port = (unsigned)port;
		e = end;
	}
	if (*e && *e != '/') {
		http_why(why, whylen, "%.100s: bad host name", s);
		return (-1);
	}
	p = *e ? e : "/";
	if (strlen(p) >= sizeof(u->path)) {
		http_why(why, whylen, "%.100s: path too long", s);
		return (-1);
	}
	memcpy(u->path, p, strlen(p) + 1);
	return (0);
}

/* http_s3_parse - "s3://bucket[/prefix]": bucket and prefix */
static int
http_s3_parse(const char *s, char *bucket, size_t bsize, char *prefix,
    size_t psize, char *why, size_t whylen)
{
	const char *b = s + 5, *e;
	size_t n, i;

	if (strncmp(s, "s3://", 5) != 0) {
		http_why(why, whylen, "%.100s: not an s3 URL", s);
		return (-1);
	}
	e = strchr(b, '/');
	n = e ? (size_t)(e - b) : strlen(b);
	/* S3 bucket names: 3 to 63 of [a-z0-9.-] (they name hosts) */
	if (n < 3 || n > 63 || n >= bsize) {
		http_why(why, whylen, "%.100s: bucket name must have 3 to 63 "
		    "characters", s);
		return (-1);
	}
	for (i = 0; i < n; i++)
		if (!((b[i] >= 'a' && b[i] <= 'z') || (b[i] >= '0'
		    && b[i] <= '9') || b[i] == '.' || b[i] == '-')) {
			http_why(why, whylen, "%.100s: bucket names hold only "
			    "a-z, 0-9, '.' and '-'", s);
			return (-1);
		}
	memcpy(bucket, b, n);
	bucket[n] = 0;
	e = e ? e : b + n;
	while (*e == '/')
		e++;
	n = strlen(e);
	while (n > 0 && e[n - 1] == '/')
		n--;
	if (n >= psize || !http_safe(e, 0) || strpbrk(e, "?#") != 0) {
		http_why(why, whylen, "%.100s: bad prefix", s);
		return (-1);
	}
	memcpy(prefix, e, n);
	prefix[n] = 0;
	return (0);
}

/* http_url_check - syntax of a store URL, for detach -t */
int
http_url_check(const char *store, char *why, size_t whylen)
{
	struct http_url u;
	char bucket[64], prefix[CFG_LINE_MAX];

	if (strncmp(store, "s3://", 5) == 0)
		return (http_s3_parse(store, bucket, sizeof(bucket), prefix,
		    sizeof(prefix), why, whylen));
	return (http_url_parse(store, &u, why, whylen));
}

/* http_hostfield - "name", "name:port", "[v6]:port" */
static int
http_hostfield(char *buf, size_t size, const char *host, int v6,
    unsigned port, int tls)
{
	int n;

	if (port == (tls ? 443u : 80u))
		n = snprintf(buf, size, v6 ? "[%s]" : "%s", host);
	else
		n = snprintf(buf, size, v6 ? "[%s]:%u" : "%s:%u", host, port);
	return (n < 0 || (size_t)n >= size ? -1 : 0);
}

/* http_loopback - an address on the loopback network */
static int
http_loopback(const struct sockaddr_storage *ss)
{
	const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
	const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;

	if (ss->ss_family == AF_INET)
		return ((ntohl(in->sin_addr.s_addr) >> 24) == 127);
	if (ss->ss_family == AF_INET6)
		return (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr));
	return (0);
}

/*
 * http_resolve - look the name up, at start only
 *
 * Names under .localhost are loopback (RFC 6761 6.3) without asking
 * the resolver, which does not know them.
 */
static int
http_resolve(struct http_store *st, const char *host, unsigned port,
    char *why, size_t whylen)
{
	struct addrinfo hints, *res, *ai;
	struct sockaddr_in *in;
	char serv[8];
	size_t n = strlen(host);
	int rc;

	st->naddr = 0;
	if (n > 10 && http_ci_eq(host + n - 10, 10, ".localhost")) {
		in = (struct sockaddr_in *)&st->addr[0];
		memset(in, 0, sizeof(*in));
		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)port);
		in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		st->addrlen[0] = sizeof(*in);
		st->naddr = 1;
		return (0);
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	if (snprintf(serv, sizeof(serv), "%u", port) >= (int)sizeof(serv))
		return (-1);
	if ((rc = getaddrinfo(host, serv, &hints, &res)) != 0) {
		http_why(why, whylen, "%.100s: %s", host, gai_strerror(rc));
		return (-1);
	}
	for (ai = res; ai && st->naddr < HTTP_ADDR_MAX; ai = ai->ai_next) {
		if (ai->ai_addrlen > sizeof(st->addr[0]))
			continue;
		memcpy(&st->addr[st->naddr], ai->ai_addr, ai->ai_addrlen);
		st->addrlen[st->naddr++] = ai->ai_addrlen;
	}
	freeaddrinfo(res);
	if (st->naddr == 0) {
		http_why(why, whylen, "%.100s: no address", host);
		return (-1);
	}
	return (0);
}

/* Trust anchor loading: one certificate at a time. */
struct http_ta_load {
	br_x509_decoder_context dc;
	unsigned char *dn;
	size_t	dnlen;
	size_t	dnsize;
	int	oom;
};

/* http_ta_dn - collect the subject DN the decoder hands out */
static void
http_ta_dn(void *ctx, const void *buf, size_t len)
{
	struct http_ta_load *ld = ctx;
	unsigned char *p;
	size_t want;

	if (ld->oom)
		return;
	if (len > ld->dnsize - ld->dnlen) {
		want = ld->dnlen + len + 256;
		if ((p = realloc(ld->dn, want)) == 0) {
			ld->oom = 1;
			return;
		}
		ld->dn = p;
		ld->dnsize = want;
	}
	memcpy(ld->dn + ld->dnlen, buf, len);
	ld->dnlen += len;
}

/* http_ta_der - the PEM decoder's output goes to the X.509 decoder */
static void
http_ta_der(void *ctx, const void *buf, size_t len)
{
	struct http_ta_load *ld = ctx;

	br_x509_decoder_push(&ld->dc, buf, len);
}

/* http_ta_skip - the PEM decoder's output for objects we ignore */
static void
http_ta_skip(void *ctx, const void *buf, size_t len)
{
	(void)ctx;
	(void)buf;
	(void)len;
}

/* http_ta_add - keep the decoded certificate as a trust anchor */
static int
http_ta_add(struct http_store *st, struct http_ta_load *ld)
{
	br_x509_pkey *pk;
	br_x509_trust_anchor *ta, *nta;
	unsigned char *k;

	if (ld->oom)
		return (-1);
	if ((pk = br_x509_decoder_get_pkey(&ld->dc)) == 0)
		return (0);		/* undecodable: skipped */
	if ((nta = realloc(st->ta, (st->nta + 1) * sizeof(*nta))) == 0)
		return (-1);
	st->ta = nta;
	ta = &st->ta[st->nta];
	memset(ta, 0, sizeof(*ta));
	ta->flags = br_x509_decoder_isCA(&ld->dc) ? BR_X509_TA_CA : 0;
	ta->pkey.key_type = pk->key_type;
	if (pk->key_type == BR_KEYTYPE_RSA) {
		if ((k = malloc(pk->key.rsa.nlen + pk->key.rsa.elen)) == 0)
			return (-1);
		memcpy(k, pk->key.rsa.n, pk->key.rsa.nlen);
		memcpy(k + pk->key.rsa.nlen, pk->key.rsa.e, pk->key.rsa.elen);
		ta->pkey.key.rsa.n = k;
		ta->pkey.key.rsa.nlen = pk->key.rsa.nlen;
		ta->pkey.key.rsa.e = k + pk->key.rsa.nlen;
		ta->pkey.key.rsa.elen = pk->key.rsa.elen;
	} else if (pk->key_type == BR_KEYTYPE_EC) {
		if ((k = malloc(pk->key.ec.qlen)) == 0)
			return (-1);
		memcpy(k, pk->key.ec.q, pk->key.ec.qlen);
		ta->pkey.key.ec.curve = pk->key.ec.curve;
		ta->pkey.key.ec.q = k;
		ta->pkey.key.ec.qlen = pk->key.ec.qlen;
	} else
		return (0);
	ta->dn.data = ld->dn;
	ta->dn.len = ld->dnlen;
	ld->dn = 0;
	ld->dnlen = ld->dnsize = 0;
	st->nta++;
	return (0);
}

/* http_ta_read - the whole PEM file, at start */
static unsigned char *
http_ta_read(const char *file, size_t *len, char *why, size_t whylen)
{
	struct stat sb;
	unsigned char *buf;
	size_t got = 0;
	ssize_t n;
	int fd;

	if ((fd = open(file, O_RDONLY | O_CLOEXEC)) < 0) {
		http_why(why, whylen, "tls_ca_file %.200s: %s", file,
		    strerror(errno));
		return (0);
	}
	if (fstat(fd, &sb) < 0 || sb.st_size > HTTP_CA_FILE_MAX
	    || (buf = malloc((size_t)sb.st_size + 2)) == 0) {
		http_why(why, whylen, "tls_ca_file %.200s: cannot read it",
		    file);
		close(fd);
		return (0);
	}
	while (got < (size_t)sb.st_size) {
		n = read(fd, buf + got, (size_t)sb.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	/* a last newline lets the decoder see the last END line */
	buf[got++] = '\n';
	*len = got;
	return (buf);
}

/* http_ta_load - PEM bundle to trust anchors, once per store */
static int
http_ta_load(struct http_store *st, const char *file, char *why,
    size_t whylen)
{
	br_pem_decoder_context pc;
	struct http_ta_load ld;
	unsigned char *buf, *p;
	size_t len, n;
	int incert = 0, bad = 0;

	if ((buf = http_ta_read(file, &len, why, whylen)) == 0)
		return (-1);
	memset(&ld, 0, sizeof(ld));
	br_pem_decoder_init(&pc);
	for (p = buf; len > 0 && !bad; p += n, len -= n) {
		n = br_pem_decoder_push(&pc, p, len);
		switch (br_pem_decoder_event(&pc)) {
		case BR_PEM_BEGIN_OBJ:
			incert = strcmp(br_pem_decoder_name(&pc),
			    "CERTIFICATE") == 0 || strcmp(br_pem_decoder_name(
			    &pc), "X509 CERTIFICATE") == 0;
			ld.dnlen = 0;
			if (incert) {
				br_x509_decoder_init(&ld.dc, http_ta_dn, &ld);
				br_pem_decoder_setdest(&pc, http_ta_der, &ld);
			} else
				br_pem_decoder_setdest(&pc, http_ta_skip, 0);
			break;
		case BR_PEM_END_OBJ:
			if (incert && http_ta_add(st, &ld) < 0)
				bad = 1;
			incert = 0;
			break;
		case BR_PEM_ERROR:
			bad = 2;
			break;
		default:
			break;
		}
	}
	free(ld.dn);
	free(buf);
	if (bad || st->nta == 0) {
		http_why(why, whylen, "tls_ca_file %.200s: %s", file,
		    bad == 1 ? "out of memory" : bad == 2 ? "bad PEM" :
		    "no certificate");
		return (-1);
	}
	return (0);
}

/*
 * http_tls_new, http_tls_free - a connection's TLS state (some 50 KiB,
 * mostly its record buffer) straight from the kernel and back: a burst
 * of uploads then leaves no high-water mark in the heap, where the
 * proxy has malloc keep freed memory for its sessions (proxy.c).
 */
static struct http_tls *
http_tls_new(void)
{
	void   *p;

	p = mmap(0, sizeof(struct http_tls), PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return (p == MAP_FAILED ? 0 : p);
}

static void
http_tls_free(struct http_tls *t)
{
	if (t != 0)
		(void)munmap(t, sizeof(*t));
}

/* http_conn_close - close and free a connection */
static void
http_conn_close(struct http_conn *c)
{
	if (c == 0)
		return;
	if (c->fd >= 0)
		close(c->fd);
	http_tls_free(c->tls);
	free(c);
}

/* http_store_free - close pooled connections, drop trust anchors */
void
http_store_free(struct http_store *st)
{
	size_t i;

	if (st == 0)
		return;
	while (st->npool > 0)
		http_conn_close(st->pool[--st->npool]);
	for (i = 0; i < st->nta; i++) {
		free(st->ta[i].dn.data);
		if (st->ta[i].pkey.key_type == BR_KEYTYPE_RSA)
			free(st->ta[i].pkey.key.rsa.n);
		else
			free(st->ta[i].pkey.key.ec.q);
	}
	free(st->ta);
	memset(st->secret, 0, sizeof(st->secret));
	memset(st->auth, 0, sizeof(st->auth));
	free(st);
}

/* http_store_auth - store_auth to header lines; never echoes secrets */
static int
http_store_auth(struct http_store *st, const char *a, char *why,
    size_t whylen)
{
	struct http_out o;
	const char *c;
	size_t i;

	http_out_init(&o, st->auth, sizeof(st->auth));
	if (a == 0 || *a == 0 || strcmp(a, "none") == 0)
		return (0);
	if (!http_safe(a, 1)) {
		http_why(why, whylen, "store_auth: control characters");
		return (-1);
	}
	if (strncmp(a, "basic:", 6) == 0 && strchr(a + 6, ':') != 0) {
		http_adds(&o, "Authorization: Basic ");
		http_b64(&o, (const unsigned char *)a + 6, strlen(a + 6));
		http_adds(&o, "\r\n");
	} else if (strncmp(a, "header:", 7) == 0
	    && (c = strchr(a + 7, ':')) != 0 && c > a + 7) {
		for (i = 7; a + i < c; i++)
			if (!http_tchar((unsigned char)a[i])) {
				http_why(why, whylen, "store_auth: bad header "
				    "name");
				return (-1);
			}
		http_add(&o, a + 7, (size_t)(c - a - 7));
		http_adds(&o, ": ");
		http_adds(&o, c + 1);
		http_adds(&o, "\r\n");
	} else {
		http_why(why, whylen, "store_auth: want none, basic:USER:PASS "
		    "or header:NAME:VALUE");
		return (-1);
	}
	if (o.over) {
		http_why(why, whylen, "store_auth: too long");
		return (-1);
	}
	return (0);
}

/* http_copy - bounded string copy; -1 if it does not fit */
static int
http_copy(char *dst, size_t size, const char *src)
{
	size_t n = strlen(src);

	if (n >= size)
		return (-1);
	memcpy(dst, src, n + 1);
	return (0);
}

/* http_store_s3 - the S3 half of http_store_new */
static int
http_store_s3(struct http_store *st, const struct http_conf *conf,
    struct http_url *u, char *why, size_t whylen)
{
	char bucket[64], prefix[CFG_LINE_MAX], ep[CFG_LINE_MAX];
	const char *region;
	struct http_out o;
	struct in_addr in4;

	if (http_s3_parse(conf->store, bucket, sizeof(bucket), prefix,
	    sizeof(prefix), why, whylen) < 0)
		return (-1);
	region = conf->s3_region && *conf->s3_region ? conf->s3_region :
	    "us-east-1";
	if (conf->s3_endpoint && *conf->s3_endpoint) {
		if (http_copy(ep, sizeof(ep), conf->s3_endpoint) < 0)
			return (-1);
	} else if (snprintf(ep, sizeof(ep), "https://s3.%s.amazonaws.com",
	    region) >= (int)sizeof(ep))
		return (-1);
	if (http_url_parse(ep, u, why, whylen) < 0)
		return (-1);
	if (strcmp(u->path, "/") != 0) {
		http_why(why, whylen, "s3_endpoint %.100s: no path allowed",
		    ep);
		return (-1);
	}
	if (!conf->s3_access_key || !*conf->s3_access_key
	    || !conf->s3_secret_key || !*conf->s3_secret_key
	    || !http_safe(conf->s3_access_key, 0)) {
		http_why(why, whylen, "s3 store: s3_access_key and "
		    "s3_secret_key are required");
		return (-1);
	}
	if (http_copy(st->region, sizeof(st->region), region) < 0
	    || !http_safe(region, 0)
	    || http_copy(st->access, sizeof(st->access),
	    conf->s3_access_key) < 0
	    || http_copy(st->secret, sizeof(st->secret),
	    conf->s3_secret_key) < 0) {
		http_why(why, whylen, "s3 store: region or keys too long");
		return (-1);
	}
	http_out_init(&o, st->base, sizeof(st->base));
	http_addc(&o, '/');
	/* an address names no bucket: path style */
	if (conf->s3_path_style || u->v6 || inet_pton(AF_INET, u->host,
	    &in4) == 1) {
		http_adds(&o, bucket);
		http_addc(&o, '/');
	} else {
		snprintf(st->copybase, sizeof(st->copybase), "/%s", bucket);
		/* virtual host: the bucket names the host */
		if (strlen(bucket) + 1 + strlen(u->host) >= sizeof(u->host)) {
			http_why(why, whylen, "s3 store: host name too long");
			return (-1);
		}
		memmove(u->host + strlen(bucket) + 1, u->host,
		    strlen(u->host) + 1);
		memcpy(u->host, bucket, strlen(bucket));
		u->host[strlen(bucket)] = '.';
	}
	if (*prefix) {
		http_adds(&o, prefix);
		http_addc(&o, '/');
	}
	return (o.over ? -1 : 0);
}

/*
 * http_ip_literal - is the host an IP address? Its octets, or len 0
 *
 * Any form getaddrinfo() takes as numeric (no name is looked up): such
 * a host is matched against iPAddress names and gets no SNI (RFC 6066
 * 3: literal addresses are not sent). -1 for an unusable numeric form.
 */
static int
http_ip_literal(const char *host, unsigned char *ip, size_t *len)
{
	struct addrinfo hints, *res;
	const struct sockaddr_in *in;
	const struct sockaddr_in6 *in6;
	int rc = 0;

	*len = 0;
	memset(&hints, 0, sizeof(hints));
	hints.ai_flags = AI_NUMERICHOST;
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(host, 0, &hints, &res) != 0)
		return (0);		/* a name */
	if (res->ai_family == AF_INET
	    && res->ai_addrlen >= sizeof(struct sockaddr_in)) {
		in = (const struct sockaddr_in *)res->ai_addr;
		memcpy(ip, &in->sin_addr, 4);
		*len = 4;
	} else if (res->ai_family == AF_INET6
	    && res->ai_addrlen >= sizeof(struct sockaddr_in6)) {
		in6 = (const struct sockaddr_in6 *)res->ai_addr;
		memcpy(ip, &in6->sin6_addr, 16);
		*len = 16;
	} else
		rc = -1;
	freeaddrinfo(res);
	return (rc);
}

/*
 * http_store_new - a store from its configuration
 *
 * Parses, resolves the host name and loads the trust store. Returns
 * 0 with why filled (never with a secret) on failure.
 */
struct http_store *
http_store_new(const struct http_conf *conf, char *why, size_t whylen)
{
	struct http_store *st;
	struct http_url u;
	size_t n;
	int i;

	if ((st = calloc(1, sizeof(*st))) == 0) {
		http_why(why, whylen, "http store: out of memory");
		return (0);
	}
	st->timeout_ms = conf->upload_timeout_ms > 0 ?
	    conf->upload_timeout_ms : 60000;
	st->renew = conf->expire_s != 0;
	if (strncmp(conf->store, "s3://", 5) == 0) {
		st->kind = HTTP_KIND_S3;
		if (http_store_s3(st, conf, &u, why, whylen) < 0)
			goto bad;
	} else {
		st->kind = HTTP_KIND_HTTP;
		if (http_url_parse(conf->store, &u, why, whylen) < 0
		    || http_store_auth(st, conf->store_auth, why, whylen) < 0)
			goto bad;
		n = strlen(u.path);
		if (n + 2 > sizeof(st->base))
			goto bad;
		memcpy(st->base, u.path, n + 1);
		if (st->base[n - 1] != '/')
			memcpy(st->base + n, "/", 2);
	}
	st->tls = u.tls;
	if (http_hostfield(st->hostfield, sizeof(st->hostfield), u.host, u.v6,
	    u.port, u.tls) < 0 || http_copy(st->tlsname, sizeof(st->tlsname),
	    u.host) < 0) {
		http_why(why, whylen, "%.100s: host name too long", u.host);
		goto bad;
	}
	if (http_ip_literal(u.host, st->ip, &st->iplen) < 0) {
		http_why(why, whylen, "%.100s: bad address", u.host);
		goto bad;
	}
	if (http_resolve(st, u.host, u.port, why, whylen) < 0)
		goto bad;
	if (st->kind == HTTP_KIND_S3 && !st->tls)
		for (i = 0; i < st->naddr; i++)
			if (!http_loopback(&st->addr[i])) {
				http_why(why, whylen, "s3_endpoint: plain http "
				    "only on loopback; use https");
				goto bad;
			}
	if (st->tls && http_ta_load(st, conf->tls_ca_file &&
	    *conf->tls_ca_file ? conf->tls_ca_file :
	    "/etc/ssl/certs/ca-certificates.crt", why, whylen) < 0)
		goto bad;
	return (st);
bad:
	if (why && whylen && !*why)
		http_why(why, whylen, "http store: bad configuration");
	http_store_free(st);
	return (0);
}

/* ------------------------------------------------------------------ */
/* Transfers                                                           */
/* ------------------------------------------------------------------ */

/* What a transfer waits for. */
enum http_wait {
	HTTP_WAIT_BACKOFF,		/* the pause before the next try */
	HTTP_WAIT_CONNECT,		/* a non-blocking connect() */
	HTTP_WAIT_HEAD,			/* the HEAD exchange (and handshake) */
	HTTP_WAIT_PUT,			/* the PUT exchange (and handshake) */
	HTTP_WAIT_COPY,			/* S3 renewal: copy onto itself */
	HTTP_WAIT_GET,			/* the GET exchange (and handshake) */
	HTTP_WAIT_NOTHING,		/* done or failed */
};

struct http_xfer {
	struct http_store *st;
	enum http_wait state;
	enum http_wait want;		/* request after the connect */
	int	outcome;		/* HTTP_XFER_* */
	int	spool;
	uint64_t size;
	char	payload[65];		/* hex SHA-256 of the body */
	char	path[HTTP_LINE_MAX];	/* request target, encoded */
	char	type[MIME_TYPE_MAX];
	char	name[MIME_NAME_MAX + 1];
	struct http_conn *c;
	int	reused;			/* c came from the pool */
	int	extra;			/* bytes after the response */
	int	addr;			/* address to try next */
	int	tries;
	int64_t	start;
	int64_t	end;			/* upload_timeout */
	int64_t	next;			/* backoff or connect deadline */
	short	events;
	char	req[HTTP_REQ_MAX];
	size_t	reqlen;
	size_t	reqoff;
	uint64_t sent;			/* body bytes handed on */
	int	flushed;		/* TLS: the last record is pushed */
	int	werr;			/* plain: errno of a send the peer
					 * cut off, told when the read ends */
	unsigned char io[HTTP_IO_CHUNK];/* plain: body bytes to write */
	size_t	iolen;
	size_t	iooff;
	struct http_resp resp;
	char	why[HTTP_WHY_MAX];
	int	found;			/* the object was there already */
	char	note[HTTP_REASON_MAX + HTTP_ERRBODY_MAX + 16];	/* a
					 * failed copy's answer */
	HTTP_BODY_FN sink;		/* GET: the body's taker */
	void	*sink_ctx;
};

/* Counters since the start, for http_stats(). */
static struct http_stats http_counts;

static void http_xfer_connect(struct http_xfer *, int64_t);
static void http_xfer_pump(struct http_xfer *, int64_t);

/* http_clock - monotonic milliseconds, for the private loop and pool */
static int64_t
http_clock(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

/* http_wait_name - for messages */
static const char *
http_wait_name(enum http_wait w)
{
	switch (w) {
	case HTTP_WAIT_BACKOFF:
		return ("retry pause");
	case HTTP_WAIT_CONNECT:
		return ("connect");
	case HTTP_WAIT_HEAD:
		return ("HEAD response");
	case HTTP_WAIT_PUT:
		return ("PUT response");
	case HTTP_WAIT_COPY:
		return ("copy response");
	case HTTP_WAIT_GET:
		return ("GET response");
	case HTTP_WAIT_NOTHING:
		return ("nothing");
	default:
		log_panic("http_wait_name: state %d", (int)w);
	}
	return ("?");
}

/* http_stats - the requests and retries since the start */
const struct http_stats *
http_stats(void)
{
	return (&http_counts);
}

/* http_count - a request ended: its status, or 0 without an answer */
static void
http_count(const struct http_xfer *x, int status)
{
	int	code = status >= 200 && status < 600 ? status / 100 - 2 :
		    HTTP_STAT_NONE;

	/* The counters are the proxy's, whose requests are HEAD and PUT
	 * (a copy onto itself is a PUT); only detach -R sends a GET. */
	if (x->want == HTTP_WAIT_GET)
		return;
	http_counts.requests[x->want == HTTP_WAIT_HEAD ? HTTP_STAT_HEAD :
	    HTTP_STAT_PUT][code]++;
}

/* http_xfer_enter - the one place a transfer changes state */
static void
http_xfer_enter(struct http_xfer *x, enum http_wait w)
{
	x->state = w;
}

/* http_xfer_method - the request in flight */
static const char *
http_xfer_method(const struct http_xfer *x)
{
	return (x->want == HTTP_WAIT_HEAD ? "HEAD" : x->want ==
	    HTTP_WAIT_COPY ? "PUT (copy)" : x->want == HTTP_WAIT_GET ? "GET" :
	    "PUT");
}

/* http_pool_put - keep an idle connection for the next transfer */
static void
http_pool_put(struct http_store *st, struct http_conn *c)
{
	if (st->npool >= HTTP_POOL_MAX) {
		http_conn_close(c);
		return;
	}
	c->idle = http_clock();
	st->pool[st->npool++] = c;
}

/* http_xfer_drop - close the connection in use */
static void
http_xfer_drop(struct http_xfer *x)
{
	http_conn_close(x->c);
	x->c = 0;
}

/* http_xfer_finish - done or failed; a clean connection goes back */
static void
http_xfer_finish(struct http_xfer *x, int outcome, int keep)
{
	x->outcome = outcome;
	http_xfer_enter(x, HTTP_WAIT_NOTHING);
	if (x->c && keep)
		http_pool_put(x->st, x->c);
	else
		http_conn_close(x->c);
	x->c = 0;
}

/* http_xfer_fail - give up with a reason (already in why, or fmt) */
static void
http_xfer_fail(struct http_xfer *x, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
http_xfer_fail(struct http_xfer *x, const char *fmt, ...)
{
	va_list ap;

	if (fmt) {
		va_start(ap, fmt);
		if (vsnprintf(x->why, sizeof(x->why), fmt, ap) < 0)
			x->why[0] = 0;
		va_end(ap);
	}
	http_xfer_finish(x, HTTP_XFER_FAILED, 0);
}

/*
 * http_xfer_done - success, said in why; after failed tries it names
 * the last failure, so a store that fails and recovers still shows in
 * the log (why holds that failure until now: only a retry, a failure
 * or a success write it)
 */
static void
http_xfer_done(struct http_xfer *x, int keep, const char *what)
{
	char prev[HTTP_WHY_MAX];

	if (x->tries > 0) {
		memcpy(prev, x->why, sizeof(prev));
		http_why(x->why, sizeof(x->why), "%s after %d tries; last "
		    "error: %s", what, x->tries + 1, prev);
	} else
		http_why(x->why, sizeof(x->why), "%s", what);
	http_xfer_finish(x, HTTP_XFER_DONE, keep);
}

/* http_xfer_url - "https://host/path" for messages (no credentials) */
static const char *
http_xfer_url(const struct http_xfer *x, char *buf, size_t size)
{
	if (snprintf(buf, size, "%s://%s%s", x->st->tls ? "https" : "http",
	    x->st->hostfield, x->path) < 0 && size > 0)
		buf[0] = 0;
	return (buf);
}

/*
 * http_xfer_retry - try again after a pause, or give up
 *
 * The text of this failure is kept: it is the reason given if no try
 * is left.
 */
static void
http_xfer_retry(struct http_xfer *x, int64_t now, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
http_xfer_retry(struct http_xfer *x, int64_t now, const char *fmt, ...)
{
	va_list ap;
	int64_t pause;
	size_t n;

	va_start(ap, fmt);
	if (vsnprintf(x->why, sizeof(x->why), fmt, ap) < 0)
		x->why[0] = 0;
	va_end(ap);
	http_xfer_drop(x);
	x->tries++;
	pause = (int64_t)HTTP_BACKOFF_MS << (x->tries - 1);
	if (x->tries >= HTTP_TRY_MAX || now + pause >= x->end) {
		n = strlen(x->why);
		http_why(x->why + n, sizeof(x->why) - n, " (%d %s)", x->tries,
		    x->tries == 1 ? "try" : "tries");
		http_xfer_fail(x, 0);
		return;
	}
	http_counts.retries++;
	x->next = now + pause;
	http_xfer_enter(x, HTTP_WAIT_BACKOFF);
}

/* ---- the only functions that touch descriptors ---- */

/* http_sock_write - write; -1 with errno (EAGAIN: try later) */
static ssize_t
http_sock_write(int fd, const void *buf, size_t len)
{
	ssize_t n;

	do
		n = send(fd, buf, len, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	return (n);
}

/* http_sock_read - read; 0 at EOF; -1 with errno (EAGAIN: try later) */
static ssize_t
http_sock_read(int fd, void *buf, size_t len)
{
	ssize_t n;

	do
		n = recv(fd, buf, len, 0);
	while (n < 0 && errno == EINTR);
	return (n);
}

/* http_sock_alive - a pooled connection the server has not closed */
static int
http_sock_alive(int fd)
{
	char b;
	ssize_t n;

	n = recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
	return (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK));
}

/* http_sock_connect - start a non-blocking connect; fd or -1 */
static int
http_sock_connect(const struct sockaddr_storage *sa, socklen_t len,
    int *done)
{
	int fd, one = 1;

	if ((fd = socket(sa->ss_family, SOCK_STREAM | SOCK_NONBLOCK
	    | SOCK_CLOEXEC, 0)) < 0)
		return (-1);
	/* our request head and body go out as soon as they are ready */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (const struct sockaddr *)sa, len) == 0)
		*done = 1;
	else if (errno == EINPROGRESS)
		*done = 0;
	else {
		one = errno;
		close(fd);
		errno = one;
		return (-1);
	}
	return (fd);
}

/* http_sock_error - the outcome of a non-blocking connect */
static int
http_sock_error(int fd)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		return (errno);
	return (err);
}

/* http_spool_read - body bytes from the spool; -1 at a short file */
static ssize_t
http_spool_read(int fd, void *buf, size_t len, uint64_t off)
{
	ssize_t n;

	do
		n = pread(fd, buf, len, (off_t)off);
	while (n < 0 && errno == EINTR);
	if (n == 0) {
		errno = EIO;
		return (-1);
	}
	return (n);
}

/* ---- end of descriptor functions ---- */

/*
 * http_xfer_sign - S3 fields for the request in flight
 *
 * A copy's x-amz-copy-source and x-amz-metadata-directive are signed
 * and sent too, as every x-amz-* header must be.
 */
static int
http_xfer_sign(struct http_xfer *x, const char *method, const char *payload,
    char *fields, size_t size)
{
	struct http_store *st = x->st;
	struct s3_hdr h[5];
	char src[sizeof(st->copybase) + HTTP_LINE_MAX];
	struct s3_sign s;
	char date[32], auth[1024];
	struct http_out o;
	struct tm tm;
	time_t now = time(0);
	int i, n;

	if (gmtime_r(&now, &tm) == 0
	    || strftime(date, sizeof(date), "%Y%m%dT%H%M%SZ", &tm) == 0)
		return (-1);
	h[0].name = "host";
	h[0].value = st->hostfield;
	h[1].name = "x-amz-content-sha256";
	h[1].value = payload;
	h[2].name = "x-amz-date";
	h[2].value = date;
	n = 3;
	if (x->want == HTTP_WAIT_COPY) {
		/* the source is this very object: bucket, key, URL-encoded
		 * as the request path is */
		if (snprintf(src, sizeof(src), "%s%s", st->copybase, x->path)
		    >= (int)sizeof(src))
			return (-1);
		h[3].name = "x-amz-copy-source";
		h[3].value = src;
		h[4].name = "x-amz-metadata-directive";
		h[4].value = "REPLACE";
		n = 5;
	}
	for (i = 0; i < n; i++) {
		h[i].namelen = strlen(h[i].name);
		h[i].valuelen = strlen(h[i].value);
	}
	memset(&s, 0, sizeof(s));
	s.method = method;
	s.path = x->path;
	s.pathlen = strlen(x->path);
	s.hdr = h;
	s.nhdr = n;
	s.payload = payload;
	s.date = date;
	s.region = st->region;
	s.service = "s3";
	s.access_key = st->access;
	s.secret_key = st->secret;
	if (s3_authorization(&s, auth, sizeof(auth)) == 0)
		return (-1);
	http_out_init(&o, fields, size);
	http_adds(&o, "x-amz-date: ");
	http_adds(&o, date);
	http_adds(&o, "\r\nx-amz-content-sha256: ");
	http_adds(&o, payload);
	http_adds(&o, "\r\n");
	for (i = 3; i < n; i++) {
		http_adds(&o, h[i].name);
		http_adds(&o, ": ");
		http_adds(&o, h[i].value);
		http_adds(&o, "\r\n");
	}
	http_adds(&o, "Authorization: ");
	http_adds(&o, auth);
	http_adds(&o, "\r\n");
	memset(auth, 0, sizeof(auth));
	return (o.over ? -1 : 0);
}

/* http_xfer_request - send the wanted request on the connection */
static void
http_xfer_request(struct http_xfer *x, int64_t now)
{
	struct http_req rq;
	char fields[2 * CFG_LINE_MAX + 1024 + HTTP_LINE_MAX];
	int head = x->want == HTTP_WAIT_HEAD;
	int body = x->want == HTTP_WAIT_PUT;
	int get = x->want == HTTP_WAIT_GET;

	memset(&rq, 0, sizeof(rq));
	/* a copy onto itself is a PUT too (http_xfer_method() names it
	 * for the logs) */
	rq.method = head ? "HEAD" : get ? "GET" : "PUT";
	rq.host = x->st->hostfield;
	rq.path = x->path;
	/* a copy sends no body, and Content-Type and Content-Disposition
	 * again: REPLACE drops the old ones */
	rq.length = body ? x->size : 0;
	rq.type = x->type;
	rq.name = x->name;
	rq.fields = x->st->auth;
	if (x->st->kind == HTTP_KIND_S3) {
		if (http_xfer_sign(x, rq.method, body ? x->payload :
		    http_empty_sha256, fields, sizeof(fields)) < 0) {
			http_xfer_fail(x, "%s: cannot sign the request",
			    rq.method);
			return;
		}
		rq.fields = fields;
	}
	x->reqlen = http_req_build(x->req, sizeof(x->req), &rq);
	memset(fields, 0, sizeof(fields));
	if (x->reqlen == 0) {
		http_xfer_fail(x, "%s: request too long", rq.method);
		return;
	}
	x->reqoff = 0;
	x->sent = 0;
	x->iolen = x->iooff = 0;
	x->flushed = 0;
	x->werr = 0;
	x->extra = 0;
	http_resp_init(&x->resp, head);
	if (get)
		http_resp_sink(&x->resp, x->sink, x->sink_ctx);
	x->events = POLLIN | POLLOUT;
	http_xfer_enter(x, x->want);
	http_xfer_pump(x, now);
}

/* ------------------------------------------------------------------ */
/* iPAddress subjectAltName (RFC 5280 4.2.1.6), pure                   */
/* ------------------------------------------------------------------ */

/*
 * http_der_next - take one DER TLV off the front of (*p, *n)
 *
 * Low tag numbers only (all the reader needs); definite lengths in
 * their shortest form, of at most 4 octets, inside what is left.
 * Returns the tag with the value in (*v, *vlen), or -1.
 */
static int
http_der_next(const unsigned char **p, size_t *n, const unsigned char **v,
    size_t *vlen)
{
	const unsigned char *s = *p;
	size_t len, off = 2, k, i;
	int tag;

	if (*n < 2 || (s[0] & 0x1f) == 0x1f)
		return (-1);
	tag = s[0];
	len = s[1];
	if (len & 0x80) {
		k = len & 0x7f;
		/* 0x80 is BER's indefinite length: not DER */
		if (k == 0 || k > 4 || *n - 2 < k || s[2] == 0)
			return (-1);
		for (len = 0, i = 0; i < k; i++)
			len = len << 8 | s[2 + i];
		if (len < 0x80)
			return (-1);	/* the short form was due */
		off += k;
	}
	if (len > *n - off)
		return (-1);
	*v = s + off;
	*vlen = len;
	*p = s + off + len;
	*n -= off + len;
	return (tag);
}

/*
 * http_der_only - the value must be exactly one TLV of this tag
 */
static int
http_der_only(const unsigned char **p, size_t *n, int tag)
{
	const unsigned char *v;
	size_t vlen;

	if (http_der_next(p, n, &v, &vlen) != tag || *n != 0)
		return (-1);
	*p = v;
	*n = vlen;
	return (0);
}

/*
 * http_san_names - does a GeneralNames value hold the address?
 *
 * iPAddress is [7] IMPLICIT OCTET STRING: 4 octets for IPv4, 16 for
 * IPv6 (RFC 5280 4.2.1.6); only one of the same length and octets
 * matches. A dNSName never matches an address, whatever it spells.
 * 1 yes, 0 no, -1 malformed.
 */
static int
http_san_names(const unsigned char *p, size_t n, const unsigned char *ip,
    size_t iplen)
{
	const unsigned char *v;
	size_t vlen;
	int tag, found = 0, names = 0;

	if (http_der_only(&p, &n, 0x30) < 0)
		return (-1);
	while (n > 0) {
		if ((tag = http_der_next(&p, &n, &v, &vlen)) < 0)
			return (-1);
		names++;
		if (tag != 0x87)
			continue;
		if (vlen != 4 && vlen != 16)
			return (-1);
		if (vlen == iplen && memcmp(v, ip, iplen) == 0)
			found = 1;
	}
	return (names == 0 ? -1 : found);	/* SIZE (1..MAX) */
}

/*
 * http_san_ip_match - does a DER certificate name this address?
 *
 * Certificate ::= SEQUENCE { tbsCertificate SEQUENCE { ..., [3]
 * EXPLICIT Extensions OPTIONAL }, ... }; among the extensions, the one
 * subjectAltName (OID 2.5.29.17; two are malformed, RFC 5280 4.2).
 * The subject's common name is never used (RFC 9525 6.3). Hostile
 * input: every length is checked against what holds it, nothing is
 * read past len. Returns 1 if an iPAddress name is the address, 0 if
 * none is, -1 if the certificate cannot be read.
 */
int
http_san_ip_match(const unsigned char *der, size_t len,
    const unsigned char *ip, size_t iplen)
{
	static const unsigned char san_oid[] = {0x55, 0x1d, 0x11};
	const unsigned char *p = der, *tbs, *v, *e, *oid, *val;
	size_t n = len, tlen, vlen, elen, oidlen, vallen;
	int tag, found = 0, seen = 0, sans = 0;

	if ((iplen != 4 && iplen != 16) || http_der_only(&p, &n, 0x30) < 0
	    || http_der_next(&p, &n, &tbs, &tlen) != 0x30)
		return (-1);
	while (tlen > 0) {
		if ((tag = http_der_next(&tbs, &tlen, &v, &vlen)) < 0)
			return (-1);
		if (tag != 0xa3)
			continue;
		if (seen++)
			return (-1);
		if (http_der_only(&v, &vlen, 0x30) < 0)
			return (-1);
		while (vlen > 0) {
			if (http_der_next(&v, &vlen, &e, &elen) != 0x30
			    || http_der_next(&e, &elen, &oid, &oidlen) != 0x06)
				return (-1);
			/* critical BOOLEAN DEFAULT FALSE: in DER, only TRUE
			 * is written */
			if ((tag = http_der_next(&e, &elen, &val, &vallen))
			    == 0x01) {
				if (vallen != 1 || val[0] != 0xff)
					return (-1);
				tag = http_der_next(&e, &elen, &val, &vallen);
			}
			if (tag != 0x04 || elen != 0)
				return (-1);
			if (oidlen != sizeof(san_oid)
			    || memcmp(oid, san_oid, oidlen) != 0)
				continue;
			if (sans++ > 0 || (found = http_san_names(val, vallen,
			    ip, iplen)) < 0)
				return (-1);	/* a second one, or bad */
		}
	}
	return (found);
}

/* http_x509_start_chain - no name for the engine: we match the address */
static void
http_x509_start_chain(const br_x509_class **ctx, const char *name)
{
	struct http_x509 *w = (struct http_x509 *)(void *)ctx;

	(void)name;
	w->ncert = 0;
	w->eelen = 0;
	w->eeover = 0;
	(*w->inner)->start_chain(w->inner, 0);
}

/* http_x509_start_cert - the end-entity certificate comes first */
static void
http_x509_start_cert(const br_x509_class **ctx, uint32_t length)
{
	struct http_x509 *w = (struct http_x509 *)(void *)ctx;

	if (w->ncert == 0 && length > sizeof(w->ee))
		w->eeover = 1;
	(*w->inner)->start_cert(w->inner, length);
}

/* http_x509_append - certificate bytes: a copy of the first one's */
static void
http_x509_append(const br_x509_class **ctx, const unsigned char *buf,
    size_t len)
{
	struct http_x509 *w = (struct http_x509 *)(void *)ctx;

	if (w->ncert == 0 && !w->eeover) {
		if (len > sizeof(w->ee) - w->eelen)
			w->eeover = 1;
		else {
			memcpy(w->ee + w->eelen, buf, len);
			w->eelen += len;
		}
	}
	(*w->inner)->append(w->inner, buf, len);
}

/* http_x509_end_cert - one certificate done */
static void
http_x509_end_cert(const br_x509_class **ctx)
{
	struct http_x509 *w = (struct http_x509 *)(void *)ctx;

	w->ncert++;
	(*w->inner)->end_cert(w->inner);
}

/* http_x509_end_chain - the chain's verdict, then the address's */
static unsigned
http_x509_end_chain(const br_x509_class **ctx)
{
	struct http_x509 *w = (struct http_x509 *)(void *)ctx;
	unsigned err;

	if ((err = (*w->inner)->end_chain(w->inner)) != BR_ERR_OK)
		return (err);
	if (w->ncert == 0 || w->eeover || http_san_ip_match(w->ee, w->eelen,
	    w->ip, w->iplen) != 1)
		return (BR_ERR_X509_BAD_SERVER_NAME);
	return (BR_ERR_OK);
}

/* http_x509_get_pkey - the end-entity key, from the engine */
static const br_x509_pkey *
http_x509_get_pkey(const br_x509_class *const *ctx, unsigned *usages)
{
	const struct http_x509 *w = (const struct http_x509 *)(const void *)
	    ctx;

	return ((*w->inner)->get_pkey(w->inner, usages));
}

static const br_x509_class http_x509_vtable = {
	sizeof(struct http_x509),
	http_x509_start_chain,
	http_x509_start_cert,
	http_x509_append,
	http_x509_end_cert,
	http_x509_end_chain,
	http_x509_get_pkey,
};

/*
 * http_tls_suites - forward secret AEAD suites first, the fastest first
 *
 * BearSSL's full profile puts ChaCha20 first; with AES-NI and PCLMUL,
 * AES-GCM moves the body faster. Older suites stay, last, for old
 * stores.
 */
static void
http_tls_suites(br_ssl_engine_context *eng)
{
	static const uint16_t aes_first[] = {
		BR_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
		BR_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
		BR_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
		BR_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
		BR_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
		BR_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
		BR_TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256,
		BR_TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256,
		BR_TLS_RSA_WITH_AES_128_GCM_SHA256,
		BR_TLS_RSA_WITH_AES_256_GCM_SHA384,
	};
	static const uint16_t chacha_first[] = {
		BR_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
		BR_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
		BR_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
		BR_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
		BR_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
		BR_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
		BR_TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256,
		BR_TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256,
		BR_TLS_RSA_WITH_AES_128_GCM_SHA256,
		BR_TLS_RSA_WITH_AES_256_GCM_SHA384,
	};

	if (br_aes_x86ni_ctr_get_vtable() != 0 && br_ghash_pclmul_get() != 0)
		br_ssl_engine_set_suites(eng, aes_first,
		    sizeof(aes_first) / sizeof(aes_first[0]));
	else
		br_ssl_engine_set_suites(eng, chacha_first,
		    sizeof(chacha_first) / sizeof(chacha_first[0]));
}

/* http_xfer_ready - the TCP connection is up: TLS, then the request */
static void
http_xfer_ready(struct http_xfer *x, int64_t now)
{
	struct http_store *st = x->st;
	struct http_tls *t;

	x->addr = 0;	/* the next connect starts from the first again */
	if (st->tls) {
		if ((t = http_tls_new()) == 0) {
			http_xfer_fail(x, "out of memory");
			return;
		}
		x->c->tls = t;
		br_ssl_client_init_full(&t->sc, &t->xc, st->ta, st->nta);
		br_ssl_engine_set_versions(&t->sc.eng, BR_TLS12, BR_TLS12);
		http_tls_suites(&t->sc.eng);
		br_ssl_engine_set_buffer(&t->sc.eng, t->buf, sizeof(t->buf), 1);
		if (st->has_session)
			br_ssl_engine_set_session_parameters(&t->sc.eng,
			    &st->session);
		if (st->iplen) {
			t->ipx.vtable = &http_x509_vtable;
			t->ipx.inner = &t->xc.vtable;
			t->ipx.ip = st->ip;
			t->ipx.iplen = st->iplen;
			br_ssl_engine_set_x509(&t->sc.eng, &t->ipx.vtable);
		}
		/* an address is matched by the wrapper, and sent as no SNI */
		if (!br_ssl_client_reset(&t->sc, st->iplen ? 0 : st->tlsname,
		    st->has_session)) {
			http_xfer_fail(x, "TLS: cannot start (error %d)",
			    br_ssl_engine_last_error(&t->sc.eng));
			return;
		}
	}
	http_xfer_request(x, now);
}

/* http_xfer_connect - a pooled connection, or connect the next address */
static void
http_xfer_connect(struct http_xfer *x, int64_t now)
{
	struct http_store *st = x->st;
	struct http_conn *c;
	int fd, done = 0, err = 0;

	while (st->npool > 0) {
		c = st->pool[--st->npool];
		if (http_clock() - c->idle < HTTP_IDLE_MS
		    && http_sock_alive(c->fd)) {
			x->c = c;
			x->reused = 1;
			http_xfer_request(x, now);
			return;
		}
		http_conn_close(c);
	}
	x->reused = 0;
	for (; x->addr < st->naddr; x->addr++) {
		fd = http_sock_connect(&st->addr[x->addr],
		    st->addrlen[x->addr], &done);
		if (fd < 0) {
			err = errno;
			continue;
		}
		if ((c = calloc(1, sizeof(*c))) == 0) {
			close(fd);
			http_xfer_fail(x, "out of memory");
			return;
		}
		c->fd = fd;
		x->c = c;
		x->addr++;
		if (done) {
			http_xfer_ready(x, now);
			return;
		}
		x->next = now + HTTP_CONNECT_MS < x->end ?
		    now + HTTP_CONNECT_MS : x->end;
		x->events = POLLOUT;
		http_xfer_enter(x, HTTP_WAIT_CONNECT);
		return;
	}
	x->addr = 0;
	http_xfer_retry(x, now, "connect to %s: %s", st->hostfield,
	    strerror(err ? err : ECONNREFUSED));
}

/* http_xfer_connected - the connect() finished, or timed out */
static void
http_xfer_connected(struct http_xfer *x, int timedout, int64_t now)
{
	int err = timedout ? ETIMEDOUT : http_sock_error(x->c->fd);

	if (err == 0) {
		http_xfer_ready(x, now);
		return;
	}
	http_xfer_drop(x);
	if (x->addr < x->st->naddr) {
		http_xfer_connect(x, now);
		return;
	}
	x->addr = 0;
	http_xfer_retry(x, now, "connect to %s: %s", x->st->hostfield,
	    strerror(err));
}

/* http_tls_error - BearSSL error code as text */
static const char *
http_tls_error(int err, char *buf, size_t size)
{
	switch (err) {
	case BR_ERR_X509_NOT_TRUSTED:
		return ("certificate not trusted");
	case BR_ERR_X509_BAD_SERVER_NAME:
		return ("certificate does not name the host");
	case BR_ERR_X509_EXPIRED:
		return ("certificate expired or not yet valid");
	default:
		break;
	}
	if (err >= BR_ERR_SEND_FATAL_ALERT)
		snprintf(buf, size, "TLS alert %d sent", err - 512);
	else if (err >= BR_ERR_RECV_FATAL_ALERT)
		snprintf(buf, size, "TLS alert %d received", err - 256);
	else
		snprintf(buf, size, "TLS error %d", err);
	return (buf);
}

/*
 * http_xfer_broken - the connection failed before a whole response
 *
 * A pooled connection the server closed while idle fails before any
 * answer byte: connect again at once. Otherwise try again later.
 */
static void
http_xfer_broken(struct http_xfer *x, int64_t now, const char *what)
{
	char url[HTTP_LINE_MAX + 300];

	/* (a whole answer was counted by http_xfer_reply()) */
	if (x->resp.state != HTTP_RESP_DONE)
		http_count(x, 0);
	if (x->reused && x->resp.state == HTTP_RESP_STATUS
	    && x->resp.len == 0 && x->resp.interim == 0) {
		http_xfer_drop(x);
		x->reused = 0;
		http_xfer_connect(x, now);
		return;
	}
	http_xfer_retry(x, now, "%s %s: %s", http_xfer_method(x),
	    http_xfer_url(x, url, sizeof(url)), what);
}

/* http_xfer_refused - an answer that is not success: a 5xx is tried
 * again (the connection back to the pool when it may stay), anything
 * else fails the transfer */
static void
http_xfer_refused(struct http_xfer *x, int64_t now, int keep,
    const char *method)
{
	struct http_resp *r = &x->resp;
	char url[HTTP_LINE_MAX + 300];

	http_xfer_url(x, url, sizeof(url));
	if (r->status >= 500) {
		if (keep) {
			http_pool_put(x->st, x->c);
			x->c = 0;
		}
		http_xfer_retry(x, now, "%s %s: %d %s: %s", method, url,
		    r->status, r->reason, r->errbody);
		return;
	}
	http_xfer_fail(x, "%s %s: %d %s: %s", method, url, r->status,
	    r->reason, r->errbody);
}

/* http_xfer_got - a whole answer to a GET: its body went to the sink */
static void
http_xfer_got(struct http_xfer *x, int64_t now, int keep)
{
	struct http_resp *r = &x->resp;

	if (r->status == 200) {
		http_xfer_done(x, keep, "fetched");
		return;
	}
	http_xfer_refused(x, now, keep, "GET");
}

/* http_xfer_reply - a whole response arrived: act on its status */
static void
http_xfer_reply(struct http_xfer *x, int64_t now)
{
	struct http_resp *r = &x->resp;
	int keep, sentall;

	http_count(x, r->status);
	/* It answered: a failure of the next request on it is no stale
	 * pooled connection, and counts as a try. */
	x->reused = 0;
	/* Over TLS the body is sent once flushed and no record waits in
	 * the engine for the socket. */
	sentall = x->reqoff == x->reqlen && x->iooff == x->iolen
	    && (x->want != HTTP_WAIT_PUT || x->sent == x->size)
	    && (x->c->tls == 0 || (x->flushed && !(br_ssl_engine_current_state(
	    &x->c->tls->sc.eng) & BR_SSL_SENDREC)));
	keep = sentall && !r->close && !x->extra;
	if (x->c->tls && keep) {
		br_ssl_engine_get_session_parameters(&x->c->tls->sc.eng,
		    &x->st->session);
		x->st->has_session = 1;
	}
	if (x->want == HTTP_WAIT_GET) {
		http_xfer_got(x, now, keep);
		return;
	}
	if (x->want == HTTP_WAIT_HEAD) {
		/* RFC 9110 9.3.2: HEAD's Content-Length is the GET's */
		if (r->status == 200 && r->has_length && r->length == x->size) {
			if (!x->st->renew) {
				x->found = 1;
				http_xfer_done(x, keep, "exists, upload "
				    "skipped");
				return;
			}
			/* S3: renewed by a copy onto itself, which moves
			 * the Last-Modified lifecycle rules count from */
			x->want = HTTP_WAIT_COPY;
		} else
			x->want = HTTP_WAIT_PUT;
		if (keep)
			http_xfer_request(x, now);
		else {
			http_xfer_drop(x);
			http_xfer_connect(x, now);
		}
		return;
	}
	if (x->want == HTTP_WAIT_COPY) {
		/* A copy that fails once started still answers 200, with
		 * an <Error> body: only a CopyObjectResult is success.
		 * (AWS may send white space first while a long copy runs;
		 * then we cannot see it, and the bytes are sent again.) */
		if (r->status == 200 && sentall
		    && strstr(r->errbody, "<CopyObjectResult") != 0) {
			x->found = 1;
			http_xfer_done(x, keep, "exists, renewed (copied onto "
			    "itself)");
			return;
		}
		/* Not renewed: a PUT of the bytes renews it as well. */
		http_why(x->note, sizeof(x->note), "%d %s: %s", r->status,
		    r->reason, r->errbody);
		x->want = HTTP_WAIT_PUT;
		if (keep)
			http_xfer_request(x, now);
		else {
			http_xfer_drop(x);
			http_xfer_connect(x, now);
		}
		return;
	}
	if (r->status == 200 || r->status == 201 || r->status == 204) {
		/* a success before the whole body was sent proves nothing */
		if (!sentall) {
			http_xfer_broken(x, now, "success answered before the "
			    "whole body was sent");
			return;
		}
		if (*x->note) {
			http_why(x->why, sizeof(x->why), "stored again, the "
			    "copy onto itself answered %s", x->note);
			http_xfer_finish(x, HTTP_XFER_DONE, keep);
		} else
			http_xfer_done(x, keep, "stored");
		return;
	}
	http_xfer_refused(x, now, keep, "PUT");
}

/* http_xfer_parsed - after feeding: act on a whole or broken response */
static int
http_xfer_parsed(struct http_xfer *x, size_t used, size_t len, int64_t now)
{
	char url[HTTP_LINE_MAX + 300];

	/* A response garbled before its final status is known (a broken
	 * middlebox, a connection cut short) is like a lost connection:
	 * try again. After a status, the server did answer: a 2xx may
	 * have stored the object and a 4xx will not change, so only a
	 * 5xx is tried again. */
	if (x->resp.state == HTTP_RESP_ERROR)
		http_count(x, (x->resp.err & HTTP_ERR_STATUS) ? 0 :
		    x->resp.status);
	if (x->resp.state == HTTP_RESP_ERROR && ((x->resp.err
	    & HTTP_ERR_STATUS) || x->resp.status < 200
	    || x->resp.status >= 500)) {
		http_xfer_retry(x, now, "%s %s: %s", http_xfer_method(x),
		    http_xfer_url(x, url, sizeof(url)),
		    http_resp_strerror(x->resp.err));
		return (1);
	}
	if (x->resp.state == HTTP_RESP_ERROR) {
		http_xfer_fail(x, "%s %s: %s", http_xfer_method(x),
		    http_xfer_url(x, url, sizeof(url)),
		    http_resp_strerror(x->resp.err));
		return (1);
	}
	if (x->resp.state == HTTP_RESP_DONE) {
		if (used < len)
			x->extra = 1;
		http_xfer_reply(x, now);
		return (1);
	}
	return (0);
}

/* http_plain_pump - move request and response bytes over plain TCP */
static void
http_plain_pump(struct http_xfer *x, int64_t now)
{
	unsigned char rbuf[4096];
	size_t used, want, got = 0;
	ssize_t n;
	int progress, dry = 0;
	short ev;

	do {
		progress = 0;
		ev = POLLIN;
		if (x->reqoff < x->reqlen || x->iooff < x->iolen
		    || (x->want == HTTP_WAIT_PUT && x->sent < x->size)) {
			if (x->reqoff == x->reqlen && x->iooff == x->iolen) {
				want = x->size - x->sent < HTTP_IO_CHUNK ?
				    (size_t)(x->size - x->sent) : HTTP_IO_CHUNK;
				if ((n = http_spool_read(x->spool, x->io, want,
				    x->sent)) < 0) {
					http_xfer_fail(x, "spool read: %s",
					    strerror(errno));
					return;
				}
				x->iolen = (size_t)n;
				x->iooff = 0;
				x->sent += (uint64_t)n;
			}
			if (x->reqoff < x->reqlen)
				n = http_sock_write(x->c->fd, x->req + x->reqoff,
				    x->reqlen - x->reqoff);
			else
				n = http_sock_write(x->c->fd, x->io + x->iooff,
				    x->iolen - x->iooff);
			if (n > 0) {
				if (x->reqoff < x->reqlen)
					x->reqoff += (size_t)n;
				else
					x->iooff += (size_t)n;
				progress = 1;
			} else if (errno == EAGAIN || errno == EWOULDBLOCK)
				ev |= POLLOUT;
			else if (errno != EPIPE && errno != ECONNRESET) {
				http_xfer_broken(x, now, strerror(errno));
				return;
			} else if (x->werr == 0)
				x->werr = errno;
			/* On EPIPE or a reset, read the answer if any. The
			 * send took the reset's error: the read will see an
			 * end, which must not be told as a clean close. */
		}
		if (dry)
			continue;
		n = http_sock_read(x->c->fd, rbuf, sizeof(rbuf));
		if (n > 0) {
			used = http_resp_feed(&x->resp, rbuf, (size_t)n);
			if (http_xfer_parsed(x, used, (size_t)n, now))
				return;
			progress = 1;
			if ((got += (size_t)n) >= HTTP_PUMP_MAX)
				break;	/* more after poll(), at once */
		} else if (n == 0) {
			if (http_resp_eof(&x->resp) == 0) {
				x->resp.close = 1;
				http_xfer_reply(x, now);
			} else
				http_xfer_broken(x, now, x->werr ?
				    strerror(x->werr) : "connection closed");
			return;
		} else if (errno != EAGAIN && errno != EWOULDBLOCK) {
			http_xfer_broken(x, now, strerror(errno));
			return;
		} else
			dry = 1;	/* ask again after poll() */
	} while (progress);
	x->events = ev;
}

/*
 * http_tls_pump - move records between engine and socket
 *
 * Pending records go out first (as BearSSL's own loop does); request
 * bytes and then body bytes are read into the engine's buffer as it
 * asks for application data; response bytes go to the parser as they
 * are decrypted.
 */
static void
http_tls_pump(struct http_xfer *x, int64_t now)
{
	br_ssl_engine_context *eng = &x->c->tls->sc.eng;
	unsigned char *buf;
	char ebuf[64];
	unsigned state;
	size_t len, used, n, got = 0;
	ssize_t r;
	int progress, err, dry = 0;
	short ev;

	do {
		progress = 0;
		ev = 0;
		state = br_ssl_engine_current_state(eng);
		if (state & BR_SSL_CLOSED) {
			err = br_ssl_engine_last_error(eng);
			if (err != BR_ERR_OK) {
				http_count(x, 0);
				http_xfer_fail(x, "%s https://%s: %s",
				    http_xfer_method(x), x->st->hostfield,
				    http_tls_error(err, ebuf, sizeof(ebuf)));
			} else if (http_resp_eof(&x->resp) == 0) {
				x->resp.close = 1;
				http_xfer_reply(x, now);
			} else
				http_xfer_broken(x, now, "connection closed");
			return;
		}
		if (state & BR_SSL_SENDREC) {
			buf = br_ssl_engine_sendrec_buf(eng, &len);
			if ((r = http_sock_write(x->c->fd, buf, len)) > 0) {
				br_ssl_engine_sendrec_ack(eng, (size_t)r);
				progress = 1;
				continue;
			}
			if (errno != EAGAIN && errno != EWOULDBLOCK) {
				http_xfer_broken(x, now, strerror(errno));
				return;
			}
			ev |= POLLOUT;
		}
		if (state & BR_SSL_RECVAPP) {
			buf = br_ssl_engine_recvapp_buf(eng, &len);
			used = http_resp_feed(&x->resp, buf, len);
			br_ssl_engine_recvapp_ack(eng, len);
			if (http_xfer_parsed(x, used, len, now))
				return;
			progress = 1;
		} else if ((state & BR_SSL_RECVREC) && dry)
			ev |= POLLIN;
		else if (state & BR_SSL_RECVREC) {
			buf = br_ssl_engine_recvrec_buf(eng, &len);
			if ((r = http_sock_read(x->c->fd, buf, len)) > 0) {
				br_ssl_engine_recvrec_ack(eng, (size_t)r);
				progress = 1;
				if ((got += (size_t)r) >= HTTP_PUMP_MAX) {
					/* more after poll(), at once */
					ev |= POLLIN;
					break;
				}
			} else if (r == 0) {
				/* no close_notify: a body that ends at
				 * the close is still taken */
				if (http_resp_eof(&x->resp) == 0) {
					x->resp.close = 1;
					http_xfer_reply(x, now);
				} else
					http_xfer_broken(x, now,
					    "connection closed");
				return;
			} else if (errno != EAGAIN && errno != EWOULDBLOCK) {
				http_xfer_broken(x, now, strerror(errno));
				return;
			} else {
				/* nothing yet: ask again after poll() */
				ev |= POLLIN;
				dry = 1;
			}
		}
		if ((state & BR_SSL_SENDAPP) && !x->flushed) {
			buf = br_ssl_engine_sendapp_buf(eng, &len);
			if (x->reqoff < x->reqlen) {
				n = x->reqlen - x->reqoff < len ?
				    x->reqlen - x->reqoff : len;
				memcpy(buf, x->req + x->reqoff, n);
				x->reqoff += n;
			} else if (x->want == HTTP_WAIT_PUT
			    && x->sent < x->size) {
				n = x->size - x->sent < len ?
				    (size_t)(x->size - x->sent) : len;
				if ((r = http_spool_read(x->spool, buf, n,
				    x->sent)) < 0) {
					http_xfer_fail(x, "spool read: %s",
					    strerror(errno));
					return;
				}
				n = (size_t)r;
				x->sent += n;
			} else
				n = 0;
			if (n > 0)
				br_ssl_engine_sendapp_ack(eng, n);
			if (x->reqoff == x->reqlen && (x->want != HTTP_WAIT_PUT
			    || x->sent == x->size)) {
				br_ssl_engine_flush(eng, 0);
				x->flushed = 1;
			}
			progress = 1;
		}
	} while (progress);
	x->events = ev ? ev : POLLIN;
}

/* http_xfer_pump - one round of I/O for the exchange in progress */
static void
http_xfer_pump(struct http_xfer *x, int64_t now)
{
	if (x->c->tls)
		http_tls_pump(x, now);
	else
		http_plain_pump(x, now);
}

/*
 * http_xfer_path - the request target of a key: the store's path and
 * the key; S3 signs the path as sent, so it goes in its canonical form
 */
static int
http_xfer_path(struct http_xfer *x, const char *key)
{
	char raw[HTTP_LINE_MAX];
	struct http_out o;
	int n;

	n = snprintf(raw, sizeof(raw), "%s%s", x->st->base, key);
	if (n < 0 || (size_t)n >= sizeof(raw)) {
		http_xfer_fail(x, "object key too long");
		return (-1);
	}
	http_out_init(&o, x->path, sizeof(x->path));
	if (x->st->kind == HTTP_KIND_S3)
		s3_canon_path(&o, raw, strlen(raw), 0);
	else
		http_adds(&o, raw);
	if (o.over) {
		http_xfer_fail(x, "object key too long");
		return (-1);
	}
	return (0);
}

/*
 * http_xfer_new - start uploading one object
 *
 * The object's strings are copied; its spool descriptor must stay open
 * until the transfer is freed. Returns 0 only when out of memory.
 */
struct http_xfer *
http_xfer_new(struct http_store *st, const struct http_object *obj,
    int64_t now)
{
	struct http_xfer *x;
	int n;

	if ((x = calloc(1, sizeof(*x))) == 0)
		return (0);
	http_resp_init(&x->resp, 0);
	x->st = st;
	x->spool = obj->fd;
	x->size = obj->size;
	s3_hex(x->payload, obj->sha256, sizeof(obj->sha256));
	n = snprintf(x->type, sizeof(x->type), "%s", obj->type ? obj->type :
	    "");
	if (n < 0 || (size_t)n >= sizeof(x->type))
		x->type[0] = 0;
	n = snprintf(x->name, sizeof(x->name), "%s", obj->name ? obj->name :
	    "");
	if (n < 0)
		x->name[0] = 0;
	x->start = now;
	x->end = now + st->timeout_ms;
	/* Renewing on a web server is a PUT again: no need to ask first. */
	x->want = st->renew && st->kind == HTTP_KIND_HTTP ? HTTP_WAIT_PUT :
	    HTTP_WAIT_HEAD;
	x->outcome = HTTP_XFER_RUNNING;
	if (http_xfer_path(x, obj->key) < 0)
		return (x);
	http_xfer_connect(x, now);
	return (x);
}

/*
 * http_get_new - start downloading the object at key
 *
 * The body goes to sink as it arrives (see HTTP_BODY_FN). Returns 0
 * only when out of memory.
 */
struct http_xfer *
http_get_new(struct http_store *st, const char *key, HTTP_BODY_FN sink,
    void *ctx, int64_t now)
{
	struct http_xfer *x;

	if ((x = calloc(1, sizeof(*x))) == 0)
		return (0);
	http_resp_init(&x->resp, 0);
	x->st = st;
	x->spool = -1;
	x->sink = sink;
	x->sink_ctx = ctx;
	x->start = now;
	x->end = now + st->timeout_ms;
	x->want = HTTP_WAIT_GET;
	x->outcome = HTTP_XFER_RUNNING;
	if (http_xfer_path(x, key) < 0)
		return (x);
	http_xfer_connect(x, now);
	return (x);
}

/* http_xfer_status - the status of the last response, or 0: none */
int
http_xfer_status(const struct http_xfer *x)
{
	return (x->resp.status);
}

/* http_xfer_poll - the descriptor and deadline the loop waits on */
int
http_xfer_poll(struct http_xfer *x, struct pollfd *pfd, int max,
    int64_t *deadline)
{
	int64_t dl = x->end;

	/* finished, perhaps inside http_xfer_new(): ask to be called now */
	if (x->outcome != HTTP_XFER_RUNNING) {
		if (x->start < *deadline)
			*deadline = x->start;
		return (0);
	}
	if ((x->state == HTTP_WAIT_BACKOFF || x->state == HTTP_WAIT_CONNECT)
	    && x->next < dl)
		dl = x->next;
	if (dl < *deadline)
		*deadline = dl;
	if (x->state == HTTP_WAIT_BACKOFF || max < 1 || x->c == 0)
		return (0);
	pfd[0].fd = x->c->fd;
	pfd[0].events = x->events;
	pfd[0].revents = 0;
	return (1);
}

/*
 * http_xfer_event - after poll(): revents filled, or a deadline
 *
 * pfd may hold other transfers' descriptors too: ours is found by its
 * number.
 */
void
http_xfer_event(struct http_xfer *x, const struct pollfd *pfd, int n,
    int64_t now)
{
	char prev[HTTP_WHY_MAX];
	int revents = 0, i;

	if (x->outcome != HTTP_XFER_RUNNING)
		return;
	/* the caller may pass the descriptors of several transfers */
	for (i = 0; x->c && i < n; i++)
		if (pfd[i].fd == x->c->fd)
			revents |= pfd[i].revents;
	if (now >= x->end) {
		if (x->state == HTTP_WAIT_HEAD || x->state == HTTP_WAIT_PUT)
			http_count(x, 0);
		memcpy(prev, x->why, sizeof(prev));
		http_xfer_fail(x, "%s: no answer within %d ms (waiting for "
		    "%s)%s%s", http_xfer_method(x), x->st->timeout_ms,
		    http_wait_name(x->state), *prev ? "; last error: " : "",
		    prev);
		return;
	}
	switch (x->state) {
	case HTTP_WAIT_BACKOFF:
		if (now >= x->next)
			http_xfer_connect(x, now);
		break;
	case HTTP_WAIT_CONNECT:
		if (revents)
			http_xfer_connected(x, 0, now);
		else if (now >= x->next)
			http_xfer_connected(x, 1, now);
		break;
	case HTTP_WAIT_HEAD:
	case HTTP_WAIT_PUT:
	case HTTP_WAIT_COPY:
	case HTTP_WAIT_GET:
		http_xfer_pump(x, now);
		break;
	case HTTP_WAIT_NOTHING:
	default:
		log_panic("http_xfer_event: state %d", (int)x->state);
	}
}

/* http_xfer_state - HTTP_XFER_RUNNING, _DONE or _FAILED */
int
http_xfer_state(const struct http_xfer *x)
{
	return (x->outcome);
}

/* http_xfer_found - did the transfer end finding the object there? */
int
http_xfer_found(const struct http_xfer *x)
{
	return (x->outcome == HTTP_XFER_DONE && x->found);
}

/* http_xfer_why - the outcome as one log line */
const char *
http_xfer_why(const struct http_xfer *x)
{
	return (x->outcome == HTTP_XFER_RUNNING ? "in progress" : x->why);
}

/* http_xfer_free - drop a transfer; a busy connection is closed */
void
http_xfer_free(struct http_xfer *x)
{
	if (x == 0)
		return;
	http_conn_close(x->c);
	memset(x->req, 0, sizeof(x->req));
	free(x);
}

/* http_xfer_run - drive one transfer to its end in a private poll()
 * loop (pipe mode and restore have no loop of their own) */

static void
http_xfer_run(struct http_xfer *x)
{
	struct pollfd pfd[4];
	int64_t dl, now;
	int n;

	while (x->outcome == HTTP_XFER_RUNNING) {
		dl = INT64_MAX;
		n = http_xfer_poll(x, pfd, 4, &dl);
		now = http_clock();
		dl = dl > now ? dl - now : 0;
		if (poll(pfd, (nfds_t)n, dl > 60000 ? 60000 : (int)dl) < 0
		    && errno != EINTR) {
			http_xfer_fail(x, "poll: %s", strerror(errno));
			break;
		}
		http_xfer_event(x, pfd, n, http_clock());
	}
}

/* http_upload_wait - pipe mode: one upload in a private poll() loop */
int
http_upload_wait(struct http_store *st, const struct http_object *obj,
    char *why, size_t whylen)
{
	struct http_xfer *x;
	int rc;

	if ((x = http_xfer_new(st, obj, http_clock())) == 0) {
		http_why(why, whylen, "out of memory");
		return (-1);
	}
	http_xfer_run(x);
	rc = x->outcome == HTTP_XFER_DONE ? 0 : -1;
	http_why(why, whylen, "%s", x->why);
	http_xfer_free(x);
	return (rc);
}

/*
 * http_get_wait - pipe mode: one download in a private poll() loop
 *
 * Returns 0 when the whole body went to sink, else -1 with why and the
 * last status seen (0: no answer at all).
 */
int
http_get_wait(struct http_store *st, const char *key, HTTP_BODY_FN sink,
    void *ctx, int *status, char *why, size_t whylen)
{
	struct http_xfer *x;
	int rc;

	*status = 0;
	if ((x = http_get_new(st, key, sink, ctx, http_clock())) == 0) {
		http_why(why, whylen, "out of memory");
		return (-1);
	}
	http_xfer_run(x);
	rc = x->outcome == HTTP_XFER_DONE ? 0 : -1;
	*status = http_xfer_status(x);
	http_why(why, whylen, "%s", x->why);
	http_xfer_free(x);
	return (rc);
}
