/*
 * t_metrics - unit tests of the metrics request parser and rendering
 *
 * Requests are a table {name, head, expected status, bytes taken}, the
 * statuses from RFC 9110/9112 and the endpoint's documented rules; each
 * is fed whole, byte by byte, at every two-way split and at random
 * splits, and must end the same way each time. METRICS_HEAD_MAX is
 * tried at N-1, N and N+1 bytes. Rendering is checked against text
 * written by hand from the exposition format 0.0.4 for counters set by
 * hand, and for its bound with every counter at its largest.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "detach.h"
#include "t.h"

/* Still waiting for the head: no status yet. */
#define T_INCOMPLETE	(-1)

struct t_run {
	struct metrics_req r;
	size_t	taken;
	int	status;			/* at the end, or T_INCOMPLETE */
	int	wstatus;		/* of the whole input */
	size_t	wtaken;
};

static void
t_reset(void *ctx)
{
	struct t_run *t = ctx;

	metrics_req_init(&t->r);
	t->taken = 0;
}

static void
t_chunk(void *ctx, const unsigned char *p, size_t n)
{
	struct t_run *t = ctx;
	size_t	got = metrics_req_feed(&t->r, p, n);

	if (got > n)
		abort();
	t->taken += got;
}

static void
t_done(void *ctx)
{
	struct t_run *t = ctx;

	t->status = t->r.state == METRICS_REQ_DONE ? t->r.status :
	    T_INCOMPLETE;
}

static int
t_same(void *ctx)
{
	struct t_run *t = ctx;

	return (t->status == t->wstatus && t->taken == t->wtaken);
}

static struct t_run *run;

/* t_req - one request in every split; status and bytes taken */

static void
t_req(const char *name, const char *in, size_t len, int want,
    size_t want_taken)
{
	int	bad;

	t_reset(run);
	t_chunk(run, (const unsigned char *)in, len);
	t_done(run);
	run->wstatus = run->status;
	run->wtaken = run->taken;
	t_ok(run->status == want && run->taken == want_taken,
	    "%s: status %d (want %d), took %zu of %zu (want %zu)", name,
	    run->status, want, run->taken, len, want_taken);
	bad = t_split_run((const unsigned char *)in, len, run, t_reset,
	    t_chunk, t_done, t_same, 0);
	t_ok(bad == 0, "%s: same result in every split (%d)", name, bad);
}

static const struct {
	const char *name;
	const char *in;
	int	status;
	int	body;		/* bytes at the end that are not head */
} reqs[] = {
	{"scrape 1.1", "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:9177\r\n"
	    "User-Agent: Prometheus/2.45.3\r\nAccept: text/plain\r\n\r\n",
	200, 0},
	{"scrape 1.0 without Host", "GET /metrics HTTP/1.0\r\n\r\n", 200, 0},
	{"1.1 without Host (RFC 9112 3.2)", "GET /metrics HTTP/1.1\r\n"
	    "Accept: */*\r\n\r\n", 400, 0},
	{"1.1 with two Hosts", "GET /metrics HTTP/1.1\r\nHost: a\r\n"
	    "Host: b\r\n\r\n", 400, 0},
	{"1.0 with two Hosts", "GET /metrics HTTP/1.0\r\nHost: a\r\n"
	    "host: b\r\n\r\n", 400, 0},
	{"Host in capitals, no space", "GET /metrics HTTP/1.1\r\nHOST:x\r\n"
	    "\r\n", 200, 0},
	{"Hostname is not Host", "GET /metrics HTTP/1.1\r\nHostname: x\r\n"
	    "\r\n", 400, 0},
	{"query string ignored", "GET /metrics?name[]=x&y=1 HTTP/1.1\r\n"
	    "Host: x\r\n\r\n", 200, 0},
	{"empty query", "GET /metrics? HTTP/1.0\r\n\r\n", 200, 0},
	{"bare LF lines (RFC 9112 2.2)", "GET /metrics HTTP/1.1\nHost: x\n\n",
	200, 0},
	{"empty lines before the request", "\r\n\r\nGET /metrics HTTP/1.0\r\n"
	    "\r\n", 200, 0},
	{"HTTP/1.2 taken as 1.1", "GET /metrics HTTP/1.2\r\nHost: x\r\n\r\n",
	200, 0},
	{"body not taken", "GET /metrics HTTP/1.1\r\nHost: x\r\n"
	    "Content-Length: 5\r\n\r\nhello", 200, 5},
	{"pipelined request not taken", "GET /metrics HTTP/1.0\r\n\r\n"
	    "GET /metrics HTTP/1.0\r\n\r\n", 200, 25},
	{"other path", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 404, 0},
	{"path with a suffix", "GET /metricsx HTTP/1.1\r\nHost: x\r\n\r\n",
	404, 0},
	{"path with a slash", "GET /metrics/ HTTP/1.1\r\nHost: x\r\n\r\n",
	404, 0},
	{"absolute form", "GET http://x/metrics HTTP/1.1\r\nHost: x\r\n\r\n",
	404, 0},
	{"POST elsewhere is 404", "POST /x HTTP/1.1\r\nHost: x\r\n\r\n", 404,
	0},
	{"POST", "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n"
	    "\r\n", 405, 0},
	{"HEAD", "HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n", 405, 0},
	{"method is case-sensitive (RFC 9110 9.1)", "get /metrics HTTP/1.1\r\n"
	    "Host: x\r\n\r\n", 405, 0},
	{"HTTP/2.0", "GET /metrics HTTP/2.0\r\nHost: x\r\n\r\n", 505, 0},
	{"HTTP/0.9", "GET /metrics HTTP/0.9\r\n\r\n", 505, 0},
	{"no version", "GET /metrics\r\n\r\n", 400, 0},
	{"version in lower case", "GET /metrics http/1.1\r\nHost: x\r\n\r\n",
	400, 0},
	{"version too long", "GET /metrics HTTP/1.10\r\nHost: x\r\n\r\n", 400,
	0},
	{"two spaces", "GET  /metrics HTTP/1.1\r\nHost: x\r\n\r\n", 400, 0},
	{"tab for a space", "GET\t/metrics HTTP/1.1\r\nHost: x\r\n\r\n", 400,
	0},
	{"trailing space", "GET /metrics HTTP/1.1 \r\nHost: x\r\n\r\n", 400,
	0},
	{"space before the colon (RFC 9112 5.1)", "GET /metrics HTTP/1.1\r\n"
	    "Host : x\r\n\r\n", 400, 0},
	{"obs-fold (RFC 9112 5.2)", "GET /metrics HTTP/1.1\r\nHost: x\r\n"
	    "X-A: a\r\n b\r\n\r\n", 400, 0},
	{"field without a colon", "GET /metrics HTTP/1.1\r\nHost: x\r\n"
	    "junk\r\n\r\n", 400, 0},
	{"NUL in a field", "GET /metrics HTTP/1.1\r\nHost: x\r\n"
	    "X-A: a\0b\r\n\r\n", 400, 0},
	{"bare CR in a field", "GET /metrics HTTP/1.1\r\nHost: x\r\n"
	    "X-A: a\rb\r\n\r\n", 400, 0},
	{"CR line before the empty one", "GET /metrics HTTP/1.1\r\nHost: x\r\n"
	    "\r\r\n\r\n", 400, 0},
	{"garbage", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\n\n", 400,
	0},
	{"text garbage", "hello there\r\n\r\n", 400, 0},
	{"no empty line yet", "GET /metrics HTTP/1.1\r\nHost: x\r\n",
	T_INCOMPLETE, 0},
	{"nothing", "", T_INCOMPLETE, 0},
	{"only empty lines", "\r\n\r\n\n", T_INCOMPLETE, 0},
};

/* Lengths of the cases: some hold a NUL. */
static size_t
t_len(const char *name, const char *in)
{
	if (strcmp(name, "NUL in a field") == 0)
		return (strlen(in) + 1 + strlen(in + strlen(in) + 1));
	if (strcmp(name, "garbage") == 0)
		return (13);
	return (strlen(in));
}

static void
t_table(void)
{
	size_t	i, len;

	for (i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
		len = t_len(reqs[i].name, reqs[i].in);
		t_req(reqs[i].name, reqs[i].in, len, reqs[i].status,
		    reqs[i].status == T_INCOMPLETE ? len : len - reqs[i].body);
	}
}

/* METRICS_HEAD_MAX at N-1, N and N+1 bytes of head. */
static void
t_limit(void)
{
	static char in[METRICS_HEAD_MAX + 64];
	const char *top = "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Pad: ";
	size_t	n, k;
	int	d;
	char	name[64];

	for (d = -1; d <= 1; d++) {
		n = METRICS_HEAD_MAX + d;
		k = strlen(top);
		memcpy(in, top, k);
		memset(in + k, 'a', n - k - 4);
		memcpy(in + n - 4, "\r\n\r\n", 4);
		snprintf(name, sizeof(name), "head of %zu bytes", n);
		if (d <= 0)
			t_req(name, in, n, 200, n);
		else
			t_req(name, in, n, METRICS_CLOSE, METRICS_HEAD_MAX);
	}
	/* An endless head with no line end at all. */
	memset(in, 'G', METRICS_HEAD_MAX + 1);
	t_req("endless line", in, METRICS_HEAD_MAX + 1, METRICS_CLOSE,
	    METRICS_HEAD_MAX);
}

/* The exposition text for the values set in t_render(), written from
 * the format: HELP, TYPE, then the samples; cumulative buckets with
 * le="+Inf" equal to _count; a float sum. */
static const char t_expect[] =
"# HELP detach_messages_total Messages whose final dot was answered, by "
"result: relayed (accepted, attachments detached), rejected (5xx), "
"tempfailed (4xx, ours included), unchanged (accepted, nothing "
"detached).\n"
"# TYPE detach_messages_total counter\n"
"detach_messages_total{result=\"relayed\"} 5\n"
"detach_messages_total{result=\"rejected\"} 1\n"
"detach_messages_total{result=\"tempfailed\"} 2\n"
"detach_messages_total{result=\"unchanged\"} 7\n"
"# HELP detach_attachments_detached_total Attachments replaced by a link "
"in messages sent downstream.\n"
"# TYPE detach_attachments_detached_total counter\n"
"detach_attachments_detached_total 9\n"
"# HELP detach_dedup_hits_total Objects found already in the store, not "
"stored again.\n"
"# TYPE detach_dedup_hits_total counter\n"
"detach_dedup_hits_total 3\n"
"# HELP detach_bytes_received_total Message bytes received from clients.\n"
"# TYPE detach_bytes_received_total counter\n"
"detach_bytes_received_total 123456\n"
"# HELP detach_bytes_relayed_total Message bytes sent to the downstream "
"server, after rewriting.\n"
"# TYPE detach_bytes_relayed_total counter\n"
"detach_bytes_relayed_total 65432\n"
"# HELP detach_bytes_saved_total Bytes removed from accepted messages "
"times their recipients: mailbox space not spent.\n"
"# TYPE detach_bytes_saved_total counter\n"
"detach_bytes_saved_total 18446744073709551615\n"
"# HELP detach_store_requests_total Requests to the web store, by method "
"and class of answer (none: no whole answer).\n"
"# TYPE detach_store_requests_total counter\n"
"detach_store_requests_total{method=\"HEAD\",code=\"2xx\"} 4\n"
"detach_store_requests_total{method=\"HEAD\",code=\"3xx\"} 0\n"
"detach_store_requests_total{method=\"HEAD\",code=\"4xx\"} 3\n"
"detach_store_requests_total{method=\"HEAD\",code=\"5xx\"} 0\n"
"detach_store_requests_total{method=\"HEAD\",code=\"none\"} 1\n"
"detach_store_requests_total{method=\"PUT\",code=\"2xx\"} 2\n"
"detach_store_requests_total{method=\"PUT\",code=\"3xx\"} 0\n"
"detach_store_requests_total{method=\"PUT\",code=\"4xx\"} 0\n"
"detach_store_requests_total{method=\"PUT\",code=\"5xx\"} 1\n"
"detach_store_requests_total{method=\"PUT\",code=\"none\"} 0\n"
"# HELP detach_store_seconds Time to store one object, from the start of "
"its upload or write to its end.\n"
"# TYPE detach_store_seconds histogram\n"
"detach_store_seconds_bucket{le=\"0.005\"} 1\n"
"detach_store_seconds_bucket{le=\"0.01\"} 1\n"
"detach_store_seconds_bucket{le=\"0.025\"} 1\n"
"detach_store_seconds_bucket{le=\"0.05\"} 1\n"
"detach_store_seconds_bucket{le=\"0.1\"} 1\n"
"detach_store_seconds_bucket{le=\"0.25\"} 1\n"
"detach_store_seconds_bucket{le=\"0.5\"} 1\n"
"detach_store_seconds_bucket{le=\"1\"} 3\n"
"detach_store_seconds_bucket{le=\"2.5\"} 3\n"
"detach_store_seconds_bucket{le=\"5\"} 3\n"
"detach_store_seconds_bucket{le=\"10\"} 3\n"
"detach_store_seconds_bucket{le=\"30\"} 3\n"
"detach_store_seconds_bucket{le=\"60\"} 3\n"
"detach_store_seconds_bucket{le=\"+Inf\"} 4\n"
"detach_store_seconds_sum 1234.567\n"
"detach_store_seconds_count 4\n"
"# HELP detach_upload_retries_total Store requests tried again after a "
"failure.\n"
"# TYPE detach_upload_retries_total counter\n"
"detach_upload_retries_total 2\n"
"# HELP detach_sessions SMTP sessions in flight.\n"
"# TYPE detach_sessions gauge\n"
"detach_sessions 3\n"
"# HELP detach_sessions_max SMTP sessions allowed at once "
"(max_sessions).\n"
"# TYPE detach_sessions_max gauge\n"
"detach_sessions_max 100\n"
"# HELP detach_build_info The version of detach, as a label; the value "
"is 1.\n"
"# TYPE detach_build_info gauge\n"
"detach_build_info{version=\"" DETACH_VERSION "\"} 1\n"
"# HELP process_start_time_seconds Start time of the process since unix "
"epoch in seconds.\n"
"# TYPE process_start_time_seconds gauge\n"
"process_start_time_seconds 1764547200\n";

static void
t_values(struct metrics_values *v)
{
	memset(v, 0, sizeof(*v));
	v->smtp.messages[SMTP_RESULT_RELAYED] = 5;
	v->smtp.messages[SMTP_RESULT_REJECTED] = 1;
	v->smtp.messages[SMTP_RESULT_TEMPFAILED] = 2;
	v->smtp.messages[SMTP_RESULT_UNCHANGED] = 7;
	v->smtp.detached = 9;
	v->store.dedup_hits = 3;
	v->smtp.received = 123456;
	v->smtp.relayed = 65432;
	v->smtp.saved = UINT64_MAX;
	v->http.requests[HTTP_STAT_HEAD][0] = 4;
	v->http.requests[HTTP_STAT_HEAD][2] = 3;
	v->http.requests[HTTP_STAT_HEAD][HTTP_STAT_NONE] = 1;
	v->http.requests[HTTP_STAT_PUT][0] = 2;
	v->http.requests[HTTP_STAT_PUT][3] = 1;
	v->store.stored[0] = 1;			/* <= 5 ms */
	v->store.stored[7] = 2;			/* <= 1 s */
	v->store.stored[STORE_SECONDS_BUCKETS] = 1;	/* over 60 s */
	v->store.stored_ms = 1234567;
	v->http.retries = 2;
	v->sessions = 3;
	v->sessions_max = 100;
	v->start_time = 1764547200;
}

/* t_first_diff - where two texts part, for the message */
static size_t
t_first_diff(const char *a, const char *b)
{
	size_t	i;

	for (i = 0; a[i] && a[i] == b[i]; i++)
		;
	return (i);
}

static void
t_render(void)
{
	static char buf[METRICS_OUT_MAX], big[METRICS_OUT_MAX];
	struct metrics_values v;
	size_t	n, d, len;
	char   *body;
	int	i;

	t_values(&v);
	n = metrics_render(buf, sizeof(buf), &v);
	buf[n < sizeof(buf) ? n : 0] = 0;
	d = t_first_diff(buf, t_expect);
	t_ok(n == strlen(t_expect) && memcmp(buf, t_expect, n) == 0,
	    "render: the exact text (%zu bytes, want %zu; differs at %zu: "
	    "\"%.40s\")", n, strlen(t_expect), d, buf + d);
	/* the bound: exactly the length plus the NUL of snprintf */
	len = n;
	t_ok(metrics_render(buf, len + 1, &v) == len
	    && metrics_render(buf, len, &v) == 0
	    && metrics_render(buf, 10, &v) == 0,
	    "render: 0 when the buffer is short by a byte");

	v.store.stored_ms = 1230;
	n = metrics_render(buf, sizeof(buf), &v);
	buf[n] = 0;
	t_ok(strstr(buf, "\ndetach_store_seconds_sum 1.23\n") != 0,
	    "render: 1230 ms is 1.23 s");
	v.store.stored_ms = 0;
	n = metrics_render(buf, sizeof(buf), &v);
	buf[n] = 0;
	t_ok(strstr(buf, "\ndetach_store_seconds_sum 0\n") != 0,
	    "render: 0 ms is 0 s");

	/* Every counter at its largest still fits the answer. */
	memset(&v, 0xff, sizeof(v));
	v.sessions = v.sessions_max = 2147483647;
	v.start_time = INT64_MAX;
	for (i = 0; i <= STORE_SECONDS_BUCKETS; i++)
		v.store.stored[i] = UINT64_MAX / (STORE_SECONDS_BUCKETS + 1);
	n = metrics_answer(big, sizeof(big), 200, &v);
	t_ok(n > 0 && n < METRICS_OUT_MAX, "answer with every counter at "
	    "its largest: %zu bytes, under %d", n, METRICS_OUT_MAX);

	/* The 200 answer: head, then a body of Content-Length bytes. */
	t_values(&v);
	n = metrics_answer(buf, sizeof(buf), 200, &v);
	buf[n] = 0;
	body = strstr(buf, "\r\n\r\n");
	t_ok(body != 0 && strncmp(buf, "HTTP/1.1 200 OK\r\n", 17) == 0
	    && strstr(buf, "\r\nContent-Type: text/plain; version=0.0.4; "
	    "charset=utf-8\r\n") != 0 && strstr(buf, "\r\nConnection: "
	    "close\r\n") != 0, "answer 200: status and fields");
	if (body) {
		char	want[64];

		body += 4;
		snprintf(want, sizeof(want), "\r\nContent-Length: %zu\r\n",
		    strlen(t_expect));
		t_ok(strstr(buf, want) != 0 && strcmp(body, t_expect) == 0,
		    "answer 200: Content-Length and body");
	}
	n = metrics_answer(buf, sizeof(buf), 404, &v);
	buf[n] = 0;
	t_ok(strcmp(buf, "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain; "
	    "charset=utf-8\r\nContent-Length: 10\r\nConnection: close\r\n\r\n"
	    "Not Found\n") == 0, "answer 404: exact");
	n = metrics_answer(buf, sizeof(buf), 405, &v);
	buf[n] = 0;
	t_ok(strcmp(buf, "HTTP/1.1 405 Method Not Allowed\r\nContent-Type: "
	    "text/plain; charset=utf-8\r\nContent-Length: 19\r\nAllow: GET\r\n"
	    "Connection: close\r\n\r\nMethod Not Allowed\n") == 0,
	    "answer 405: exact, with Allow: GET");
	n = metrics_answer(buf, sizeof(buf), 400, &v);
	buf[n] = 0;
	t_ok(strncmp(buf, "HTTP/1.1 400 Bad Request\r\n", 26) == 0,
	    "answer 400");
	n = metrics_answer(buf, sizeof(buf), 505, &v);
	buf[n] = 0;
	t_ok(strncmp(buf, "HTTP/1.1 505 HTTP Version Not Supported\r\n", 41)
	    == 0, "answer 505");
}

int
main(void)
{
	t_seed_init();
	run = calloc(1, sizeof(*run));
	t_table();
	t_limit();
	t_render();
	free(run);
	return (t_failed != 0);
}
