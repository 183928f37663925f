/*
 * NAME
 *	metrics - the proxy's Prometheus endpoint
 * SYNOPSIS
 *	#include "detach.h"
 *
 *	void	metrics_start(void)
 *	int	metrics_poll(int lfd, struct pollfd *pfd, int max,
 *		    int64_t *deadline)
 *	void	metrics_event(int lfd, const struct pollfd *pfd, int n,
 *		    int sessions, int sessions_max, int64_t now)
 *	void	metrics_stop(void)
 *
 *	void	metrics_req_init(struct metrics_req *r)
 *	size_t	metrics_req_feed(struct metrics_req *r, const void *buf,
 *		    size_t len)
 *	void	metrics_collect(struct metrics_values *v, int sessions,
 *		    int sessions_max)
 *	size_t	metrics_render(char *buf, size_t size,
 *		    const struct metrics_values *v)
 *	size_t	metrics_answer(char *buf, size_t size, int status,
 *		    const struct metrics_values *v)
 * DESCRIPTION
 *	With metrics_listen set, the proxy's poll() loop serves
 *	"GET /metrics" in the Prometheus text exposition format 0.0.4
 *	(Content-Type: text/plain; version=0.0.4; charset=utf-8) and
 *	closes the connection after each answer. proxy.c opens the
 *	listening socket and hands it to metrics_poll() and
 *	metrics_event(), in the manner of msg_poll() and msg_event(): this
 *	module accepts, reads, answers and closes its connections, all
 *	non-blocking. A scrape is built from counters the other modules
 *	keep anyway (smtp_stats(), store_stats(), http_stats()) at the
 *	moment its request is whole; it never waits on mail, nor mail on
 *	it.
 *
 *	metrics_req_feed() is the request push parser (no I/O): it keeps
 *	the head, from the request line to the empty line, and decides
 *	once it is whole. HTTP/1.0 and HTTP/1.1 are taken; another
 *	HTTP/1.x is taken as 1.1, another major version gets 505 (RFC
 *	9110 15.6.6). Lines end in CRLF or a bare LF (RFC 9112 2.2); an
 *	empty line before the request line is skipped. Strict where RFC
 *	9112 asks a server to be: an HTTP/1.1 request without exactly one
 *	Host field, or with more than one in any version, is 400 (RFC
 *	9112 3.2); so are a malformed request line, a field line that is
 *	not "name: value", obs-fold, and control bytes. The path
 *	"/metrics" with any query string ("?..." is ignored, as a scrape
 *	config's params may add one) answers GET with 200, other methods
 *	(HEAD too) with 405 and "Allow: GET"; any other path is 404. A
 *	request body is never read.
 *
 *	metrics_render() writes the exposition text; metrics_answer() the
 *	whole answer, head and body. Both are pure and bounded.
 * LIMITS
 *	METRICS_CONN_MAX connections at once: past it a connection is
 *	accepted and closed at once. METRICS_HEAD_MAX bytes of request
 *	head: past it, closed without an answer. METRICS_TIMEOUT_MS from
 *	accept to the client's close after our answer: a slower request,
 *	or a client that does not read, is closed. The answer is at most
 *	METRICS_OUT_MAX bytes: the set of series is fixed (no label value
 *	comes from the input), so it always fits. Each connection holds
 *	about 25 KiB, allocated at accept and freed at close.
 * DIAGNOSTICS
 *	Nothing per request, to keep scrapes out of the mail log; a
 *	warning when accept() fails other than for lack of a client (out
 *	of descriptors, accepting rests for METRICS_EMFILE_PAUSE_MS).
 * BUGS
 *	A request target in absolute form ("http://host/metrics") is
 *	answered 404, although RFC 9112 3.2.2 asks servers to take it;
 *	scrapers send the origin form.
 */
#include <sys/socket.h>
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "detach.h"

/* What a metrics connection waits on. */
enum metrics_wait {
	METRICS_WAIT_REQUEST,		/* the rest of the request head */
	METRICS_WAIT_SEND,		/* room to send the answer */
	METRICS_WAIT_EOF,		/* the client's close, after ours */
};

struct metrics_conn {
	int	fd;
	enum metrics_wait state;
	int64_t	deadline;	/* accept + METRICS_TIMEOUT_MS */
	size_t	outlen, outoff;
	struct metrics_req req;
	char	out[METRICS_OUT_MAX];
};

/* Bytes read and dropped per connection per turn once answered. */
#define METRICS_DRAIN_MAX	65536

/* Out of descriptors, the listener stays readable: rest instead of
 * spinning on accept(), as the SMTP listeners do. */
#define METRICS_EMFILE_PAUSE_MS	1000

static struct metrics_conn *metrics_conns[METRICS_CONN_MAX];
static int metrics_nconn;
static int64_t metrics_start_time;
static int64_t metrics_accept_pause;	/* no accepts before this time */

/* ------------------------------------------------------------------ */
/* The request parser                                                  */
/* ------------------------------------------------------------------ */

/* metrics_req_init - wait for a request head */

void
metrics_req_init(struct metrics_req *r)
{
	r->state = METRICS_REQ_HEAD;
	r->status = METRICS_CLOSE;
	r->len = 0;
	r->start = 0;
	r->line = 0;
}

/* metrics_tchar - RFC 9110 5.6.2 token character? */

static int
metrics_tchar(int c)
{
	return ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
	    || (c >= '0' && c <= '9') || (c != 0
	    && strchr("!#$%&'*+-.^_`|~", c) != 0));
}

/* metrics_eol - the end of the line at p (its LF, less a CR before) */

static const char *
metrics_eol(const char *p, const char *end, const char **next)
{
	const char *lf = memchr(p, '\n', end - p);

	*next = lf + 1;
	return (lf > p && lf[-1] == '\r' ? lf - 1 : lf);
}

/*
 * metrics_req_line - method SP request-target SP HTTP-version (RFC 9112
 * 3); the status it alone decides, or 0 to go on with *get, *ours
 * (the path is /metrics) and *minor set
 */
static int
metrics_req_line(const char *p, const char *e, int *get, int *ours,
    int *minor)
{
	const char *m = p, *t, *q;

	while (p < e && metrics_tchar((unsigned char)*p))
		p++;
	if (p == m || p == e || *p != ' ')
		return (400);
	*get = (p - m == 3 && memcmp(m, "GET", 3) == 0);
	t = ++p;
	while (p < e && (unsigned char)*p > ' ' && (unsigned char)*p < 0x7f)
		p++;
	if (p == t || p == e || *p != ' ')
		return (400);
	for (q = t; q < p && *q != '?'; q++)
		;
	*ours = (q - t == 8 && memcmp(t, "/metrics", 8) == 0);
	p++;
	if (e - p != 8 || memcmp(p, "HTTP/", 5) != 0 || p[5] < '0'
	    || p[5] > '9' || p[6] != '.' || p[7] < '0' || p[7] > '9')
		return (400);
	if (p[5] != '1')
		return (505);
	*minor = p[7] - '0';
	return (0);
}

/* metrics_req_field - one field line (RFC 9112 5); -1 if malformed,
 * else 1 for a Host field, 0 for another */

static int
metrics_req_field(const char *p, const char *e)
{
	const char *n = p, *colon;

	while (p < e && metrics_tchar((unsigned char)*p))
		p++;
	/* No white space before the colon (RFC 9112 5.1), no obs-fold. */
	if (p == n || p == e || *p != ':')
		return (-1);
	colon = p;
	for (; p < e; p++)
		if (((unsigned char)*p < ' ' && *p != '\t') || *p == 0x7f)
			return (-1);
	return (colon - n == 4 && strncasecmp(n, "host", 4) == 0);
}

/* metrics_req_decide - the status of a whole head */

static int
metrics_req_decide(const struct metrics_req *r)
{
	const char *p = r->head + r->start, *end = r->head + r->len, *e,
	      *next;
	int	get = 0, ours = 0, minor = 0, hosts = 0, st, f;

	e = metrics_eol(p, end, &next);
	if ((st = metrics_req_line(p, e, &get, &ours, &minor)) != 0)
		return (st);
	for (p = next; (e = metrics_eol(p, end, &next)) > p; p = next) {
		if ((f = metrics_req_field(p, e)) < 0)
			return (400);
		hosts += f;
	}
	/* RFC 9112 3.2: exactly one Host in HTTP/1.1, never two. */
	if (hosts > 1 || (minor >= 1 && hosts == 0))
		return (400);
	if (!ours)
		return (404);
	return (get ? 200 : 405);
}

/*
 * metrics_req_feed - take bytes of the request head
 *
 * Returns the bytes taken; it stops after the empty line that ends the
 * head (what follows is a body, never read), or at METRICS_HEAD_MAX
 * bytes without one. r->state is then METRICS_REQ_DONE and r->status
 * the answer's status, or METRICS_CLOSE for a head too long.
 */
size_t
metrics_req_feed(struct metrics_req *r, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	size_t	i, n;

	for (i = 0; i < len && r->state == METRICS_REQ_HEAD; i++) {
		if (r->len == METRICS_HEAD_MAX) {
			r->status = METRICS_CLOSE;
			r->state = METRICS_REQ_DONE;
			break;
		}
		r->head[r->len++] = p[i];
		if (p[i] != '\n')
			continue;
		n = r->len - 1 - r->line;
		if (n > 0 && r->head[r->len - 2] == '\r')
			n--;
		if (n == 0 && r->line == r->start) {
			/* RFC 9112 2.2: an empty line before the request */
			r->start = r->len;
		} else if (n == 0) {
			r->status = metrics_req_decide(r);
			r->state = METRICS_REQ_DONE;
		}
		r->line = r->len;
	}
	return (i);
}

/* ------------------------------------------------------------------ */
/* Rendering                                                           */
/* ------------------------------------------------------------------ */

/* A bounded output buffer; over is set when something did not fit. */
struct metrics_out {
	char   *buf;
	size_t	size;
	size_t	len;
	int	over;
};

static void
metrics_put(struct metrics_out *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* metrics_put - append formatted text */

static void
metrics_put(struct metrics_out *o, const char *fmt, ...)
{
	va_list	ap;
	int	n;

	if (o->over)
		return;
	va_start(ap, fmt);
	n = vsnprintf(o->buf + o->len, o->size - o->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= o->size - o->len) {
		o->over = 1;
		return;
	}
	o->len += n;
}

/* metrics_head - the HELP and TYPE lines of a metric */

static void
metrics_head(struct metrics_out *o, const char *name, const char *type,
    const char *help)
{
	metrics_put(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name,
	    type);
}

/* metrics_ms - milliseconds as seconds, without trailing zeros */

static void
metrics_ms(char *buf, size_t size, uint64_t ms)
{
	unsigned f = (unsigned)(ms % 1000);

	if (f == 0)
		snprintf(buf, size, "%llu", (unsigned long long)(ms / 1000));
	else if (f % 100 == 0)
		snprintf(buf, size, "%llu.%u", (unsigned long long)(ms / 1000),
		    f / 100);
	else if (f % 10 == 0)
		snprintf(buf, size, "%llu.%02u", (unsigned long long)(ms /
		    1000), f / 10);
	else
		snprintf(buf, size, "%llu.%03u", (unsigned long long)(ms /
		    1000), f);
}

/* metrics_counter - a counter without labels */

static void
metrics_counter(struct metrics_out *o, const char *name, const char *help,
    uint64_t value)
{
	metrics_head(o, name, "counter", help);
	metrics_put(o, "%s %llu\n", name, (unsigned long long)value);
}

/*
 * metrics_render - the exposition text of v; its length, or 0 when
 * size is too small
 *
 * The series are fixed: 4 message results, 10 store request pairs, 16
 * histogram samples and 10 single ones; names, types and HELP follow
 * the Prometheus naming conventions (base units, _total on counters).
 */
size_t
metrics_render(char *buf, size_t size, const struct metrics_values *v)
{
	static const char *results[SMTP_RESULTS] = {"relayed", "rejected",
	"tempfailed", "unchanged"};
	static const char *methods[HTTP_STAT_METHODS] = {"HEAD", "PUT"};
	static const char *codes[HTTP_STAT_CODES] = {"2xx", "3xx", "4xx",
	"5xx", "none"};
	static const int64_t bounds[STORE_SECONDS_BUCKETS] =
	    STORE_SECONDS_BOUNDS;
	struct metrics_out o = {buf, size, 0, 0};
	uint64_t cum = 0;
	char	num[32];
	int	i, j;

	if (size == 0)
		return (0);
	metrics_head(&o, "detach_messages_total", "counter", "Messages whose "
	    "final dot was answered, by result: relayed (accepted, "
	    "attachments detached), rejected (5xx), tempfailed (4xx, ours "
	    "included), unchanged (accepted, nothing detached).");
	for (i = 0; i < SMTP_RESULTS; i++)
		metrics_put(&o, "detach_messages_total{result=\"%s\"} %llu\n",
		    results[i], (unsigned long long)v->smtp.messages[i]);
	metrics_counter(&o, "detach_attachments_detached_total",
	    "Attachments replaced by a link in messages sent downstream.",
	    v->smtp.detached);
	metrics_counter(&o, "detach_dedup_hits_total", "Objects found "
	    "already in the store, not stored again.", v->store.dedup_hits);
	metrics_counter(&o, "detach_bytes_received_total", "Message bytes "
	    "received from clients.", v->smtp.received);
	metrics_counter(&o, "detach_bytes_relayed_total", "Message bytes "
	    "sent to the downstream server, after rewriting.",
	    v->smtp.relayed);
	metrics_counter(&o, "detach_bytes_saved_total", "Bytes removed from "
	    "accepted messages times their recipients: mailbox space not "
	    "spent.", v->smtp.saved);
	metrics_head(&o, "detach_store_requests_total", "counter", "Requests "
	    "to the web store, by method and class of answer (none: no "
	    "whole answer).");
	for (i = 0; i < HTTP_STAT_METHODS; i++)
		for (j = 0; j < HTTP_STAT_CODES; j++)
			metrics_put(&o, "detach_store_requests_total{method="
			    "\"%s\",code=\"%s\"} %llu\n", methods[i], codes[j],
			    (unsigned long long)v->http.requests[i][j]);
	metrics_head(&o, "detach_store_seconds", "histogram", "Time to store "
	    "one object, from the start of its upload or write to its end.");
	for (i = 0; i < STORE_SECONDS_BUCKETS; i++) {
		cum += v->store.stored[i];
		metrics_ms(num, sizeof(num), (uint64_t)bounds[i]);
		metrics_put(&o, "detach_store_seconds_bucket{le=\"%s\"} %llu\n",
		    num, (unsigned long long)cum);
	}
	cum += v->store.stored[STORE_SECONDS_BUCKETS];
	metrics_put(&o, "detach_store_seconds_bucket{le=\"+Inf\"} %llu\n",
	    (unsigned long long)cum);
	metrics_ms(num, sizeof(num), v->store.stored_ms);
	metrics_put(&o, "detach_store_seconds_sum %s\n", num);
	metrics_put(&o, "detach_store_seconds_count %llu\n",
	    (unsigned long long)cum);
	metrics_counter(&o, "detach_upload_retries_total", "Store requests "
	    "tried again after a failure.", v->http.retries);
	metrics_head(&o, "detach_sessions", "gauge", "SMTP sessions in "
	    "flight.");
	metrics_put(&o, "detach_sessions %d\n", v->sessions);
	metrics_head(&o, "detach_sessions_max", "gauge", "SMTP sessions "
	    "allowed at once (max_sessions).");
	metrics_put(&o, "detach_sessions_max %d\n", v->sessions_max);
	metrics_head(&o, "detach_build_info", "gauge", "The version of "
	    "detach, as a label; the value is 1.");
	metrics_put(&o, "detach_build_info{version=\"%s\"} 1\n",
	    DETACH_VERSION);
	metrics_head(&o, "process_start_time_seconds", "gauge", "Start time "
	    "of the process since unix epoch in seconds.");
	metrics_put(&o, "process_start_time_seconds %lld\n",
	    (long long)v->start_time);
	return (o.over ? 0 : o.len);
}

/* metrics_reason - the reason phrase of a status we send */

static const char *
metrics_reason(int status)
{
	switch (status) {
	case 200:
		return ("OK");
	case 400:
		return ("Bad Request");
	case 404:
		return ("Not Found");
	case 405:
		return ("Method Not Allowed");
	case 505:
		return ("HTTP Version Not Supported");
	default:
		log_panic("metrics_reason: status %d", status);
	}
	return ("");
}

/*
 * metrics_answer - the whole answer for a status: the exposition text
 * of v for 200, the reason phrase as text otherwise; its length, or 0
 * when size is too small. The connection closes after it.
 */
size_t
metrics_answer(char *buf, size_t size, int status,
    const struct metrics_values *v)
{
	struct metrics_out o = {buf, size, 0, 0};
	char	head[256];
	size_t	blen, hlen;
	int	n;

	/* The body first, past room for the head; then the head before. */
	if (size <= sizeof(head))
		return (0);
	if (status == 200)
		blen = metrics_render(buf + sizeof(head), size - sizeof(head),
		    v);
	else {
		o.buf = buf + sizeof(head);
		o.size = size - sizeof(head);
		metrics_put(&o, "%s\n", metrics_reason(status));
		blen = o.over ? 0 : o.len;
	}
	if (blen == 0)
		return (0);
	n = snprintf(head, sizeof(head), "HTTP/1.1 %d %s\r\n"
	    "Content-Type: text/plain; %scharset=utf-8\r\n"
	    "Content-Length: %zu\r\n%s"
	    "Connection: close\r\n\r\n", status, metrics_reason(status),
	    status == 200 ? "version=0.0.4; " : "", blen,
	    status == 405 ? "Allow: GET\r\n" : "");
	if (n < 0 || (size_t)n >= sizeof(head))
		return (0);
	hlen = n;
	memmove(buf + hlen, buf + sizeof(head), blen);
	memcpy(buf, head, hlen);
	return (hlen + blen);
}

/* metrics_collect - the values of a scrape, now */

void
metrics_collect(struct metrics_values *v, int sessions, int sessions_max)
{
	memset(v, 0, sizeof(*v));
	v->smtp = *smtp_stats();
	v->store = *store_stats();
	v->http = *http_stats();
	v->sessions = sessions;
	v->sessions_max = sessions_max;
	v->start_time = metrics_start_time;
}

/* ------------------------------------------------------------------ */
/* Connections                                                         */
/* ------------------------------------------------------------------ */

/* metrics_start - note the start time for process_start_time_seconds */

void
metrics_start(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_REALTIME, &ts) < 0)
		log_panic("clock_gettime: %s", strerror(errno));
	metrics_start_time = ts.tv_sec;
}

/* metrics_close - close and forget connection i */

static void
metrics_close(int i)
{
	(void)close(metrics_conns[i]->fd);
	free(metrics_conns[i]);
	metrics_conns[i] = metrics_conns[--metrics_nconn];
}

/* metrics_accept - take the clients waiting, up to a burst */

static void
metrics_accept(int lfd, int64_t now)
{
	struct metrics_conn *c;
	int	fd, k;

	for (k = 0; k < METRICS_ACCEPT_BURST; k++) {
		if ((fd = accept4(lfd, 0, 0, SOCK_NONBLOCK
		    | SOCK_CLOEXEC)) < 0) {
			if (errno == EMFILE || errno == ENFILE)
				metrics_accept_pause = now +
				    METRICS_EMFILE_PAUSE_MS;
			if (errno != EAGAIN && errno != EINTR
			    && errno != ECONNABORTED)
				log_warn("metrics: accept: %s",
				    strerror(errno));
			return;
		}
		/* Past the limit, or out of memory: closed at once. */
		if (metrics_nconn == METRICS_CONN_MAX
		    || (c = malloc(sizeof(*c))) == 0) {
			(void)close(fd);
			continue;
		}
		c->fd = fd;
		c->state = METRICS_WAIT_REQUEST;
		c->deadline = now + METRICS_TIMEOUT_MS;
		c->outlen = c->outoff = 0;
		metrics_req_init(&c->req);
		metrics_conns[metrics_nconn++] = c;
	}
}

/* metrics_read - request bytes; -1 when the connection is to close */

static int
metrics_read(struct metrics_conn *c, int sessions, int sessions_max)
{
	struct metrics_values v;
	char	buf[4096];
	ssize_t	n;

	while (c->req.state == METRICS_REQ_HEAD) {
		if ((n = read(c->fd, buf, sizeof(buf))) < 0)
			return (errno == EAGAIN || errno == EINTR ? 0 : -1);
		if (n == 0)
			return (-1);	/* gone before the head was whole */
		(void)metrics_req_feed(&c->req, buf, (size_t)n);
	}
	if (c->req.status == METRICS_CLOSE)
		return (-1);
	metrics_collect(&v, sessions, sessions_max);
	if ((c->outlen = metrics_answer(c->out, sizeof(c->out),
	    c->req.status, &v)) == 0)
		log_panic("metrics: answer over METRICS_OUT_MAX");
	c->state = METRICS_WAIT_SEND;
	return (0);
}

/* metrics_send - answer bytes; after the last, our side is shut */

static int
metrics_send(struct metrics_conn *c)
{
	ssize_t	n;

	while (c->outoff < c->outlen) {
		n = send(c->fd, c->out + c->outoff, c->outlen - c->outoff,
		    MSG_NOSIGNAL);
		if (n < 0)
			return (errno == EAGAIN || errno == EINTR ? 0 : -1);
		c->outoff += n;
	}
	/* The client reads to our FIN; closing with its input unread
	 * could reset the connection under the answer (RFC 2525 2.17). */
	if (shutdown(c->fd, SHUT_WR) < 0)
		return (-1);
	c->state = METRICS_WAIT_EOF;
	return (0);
}

/* metrics_drain - drop what the client still sends; -1 at its end */

static int
metrics_drain(struct metrics_conn *c)
{
	char	buf[4096];
	size_t	total = 0;
	ssize_t	n;

	while (total < METRICS_DRAIN_MAX) {
		if ((n = read(c->fd, buf, sizeof(buf))) > 0) {
			total += n;
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return (0);
		return (-1);
	}
	return (0);
}

/*
 * metrics_io - one connection's events; -1 when it is to close. A
 * state done leads to the next in the same turn: the socket that had
 * the request most likely has room for the answer.
 */
static int
metrics_io(struct metrics_conn *c, short ev, int sessions, int sessions_max)
{
	if (c->state == METRICS_WAIT_REQUEST) {
		if ((ev & (POLLIN | POLLHUP | POLLERR)) == 0)
			return (0);
		if (metrics_read(c, sessions, sessions_max) < 0)
			return (-1);
	}
	if (c->state == METRICS_WAIT_SEND && metrics_send(c) < 0)
		return (-1);
	if (c->state == METRICS_WAIT_EOF)
		return (metrics_drain(c));
	return (0);
}

/*
 * metrics_poll - the listener (lfd, or -1 not to accept) and the
 * connections into pfd; returns how many; *deadline is lowered to the
 * nearest connection deadline
 */
int
metrics_poll(int lfd, struct pollfd *pfd, int max, int64_t *deadline)
{
	struct metrics_conn *c;
	int	i, n = 0;

	if (lfd >= 0 && metrics_accept_pause > clock_ms()) {
		if (metrics_accept_pause < *deadline)
			*deadline = metrics_accept_pause;
	} else if (lfd >= 0 && n < max) {
		pfd[n].fd = lfd;
		pfd[n].events = POLLIN;
		pfd[n++].revents = 0;
	}
	for (i = 0; i < metrics_nconn && n < max; i++) {
		c = metrics_conns[i];
		pfd[n].fd = c->fd;
		pfd[n].events = c->state == METRICS_WAIT_SEND ? POLLOUT :
		    POLLIN;
		pfd[n++].revents = 0;
		if (c->deadline < *deadline)
			*deadline = c->deadline;
	}
	return (n);
}

/* metrics_revents - what poll() said of fd, found by its number */

static short
metrics_revents(const struct pollfd *pfd, int n, int fd)
{
	int	i;

	for (i = 0; i < n; i++)
		if (pfd[i].fd == fd)
			return (pfd[i].revents);
	return (0);
}

/*
 * metrics_event - after poll(): serve the connections, close those past
 * their deadline, accept from lfd (-1: not now); sessions and
 * sessions_max are the gauges of a scrape answered now
 */
void
metrics_event(int lfd, const struct pollfd *pfd, int n, int sessions,
    int sessions_max, int64_t now)
{
	struct metrics_conn *c;
	short	ev;
	int	i;

	/* Backwards: a closed one takes the last one's place. */
	for (i = metrics_nconn - 1; i >= 0; i--) {
		c = metrics_conns[i];
		ev = metrics_revents(pfd, n, c->fd);
		if ((ev != 0 && metrics_io(c, ev, sessions, sessions_max) < 0)
		    || now >= c->deadline)
			metrics_close(i);
	}
	if (lfd >= 0 && (metrics_revents(pfd, n, lfd) & POLLIN))
		metrics_accept(lfd, now);
}

/* metrics_stop - close every connection */

void
metrics_stop(void)
{
	while (metrics_nconn > 0)
		metrics_close(0);
}
