/*
 * t_http.c - unit tests of http.c: SigV4, request heads, response parser
 *
 * SigV4 expectations are AWS's: every case of the signing test suite in
 * tests/sigv4/ (canonical request, string to sign, signature,
 * Authorization) and the S3 API Reference's worked examples. Response
 * parser expectations follow RFC 9112 and RFC 9110, and each input is
 * fed whole, byte by byte, at every two-way split and at random splits.
 */
#include <dirent.h>
#include <stdint.h>
#include <sys/stat.h>

#include <bearssl.h>

#include "detach.h"
#include "tests/t.h"

#define SIGV4_DIR	"tests/sigv4"

/* ------------------------------------------------------------------ */
/* SigV4 suite                                                         */
/* ------------------------------------------------------------------ */

/* json_str - the string value of "key" in a flat JSON file, or 0 */
static int
json_str(const char *js, const char *key, char *out, size_t size)
{
	char pat[64];
	const char *p, *e;

	snprintf(pat, sizeof(pat), "\"%s\"", key);
	if ((p = strstr(js, pat)) == 0)
		return (0);
	p += strlen(pat);
	while (*p == ' ' || *p == ':')
		p++;
	if (*p != '"')
		return (0);
	p++;
	if ((e = strchr(p, '"')) == 0 || (size_t)(e - p) >= size)
		return (0);
	memcpy(out, p, e - p);
	out[e - p] = 0;
	return (1);
}

/* json_true - "key": true */
static int
json_true(const char *js, const char *key)
{
	char pat[64];
	const char *p;

	snprintf(pat, sizeof(pat), "\"%s\"", key);
	if ((p = strstr(js, pat)) == 0)
		return (0);
	p += strlen(pat);
	while (*p == ' ' || *p == ':')
		p++;
	return (strncmp(p, "true", 4) == 0);
}

/* trim_nl - drop trailing newlines of an expected file */
static void
trim_nl(unsigned char *s, size_t *n)
{
	while (*n > 0 && (s[*n - 1] == '\n' || s[*n - 1] == '\r'))
		s[--*n] = 0;
}

static int sigv4_cases;

/* sigv4_file - one file of a case */
static unsigned char *
sigv4_file(const char *name, const char *file, size_t *n)
{
	char path[1024];
	int k;

	*n = 0;
	k = snprintf(path, sizeof(path), SIGV4_DIR "/%.200s/%.200s", name,
	    file);
	if (k < 0 || (size_t)k >= sizeof(path))
		return (0);
	return (t_slurp(path, n));
}

/* sigv4_case - one directory of the suite */
static void
sigv4_case(const char *name)
{
	char ak[128], sk[128], region[64], service[64];
	char ts[64], date[32], token[1024], bodyhex[65];
	char creq[S3_CANON_MAX], sts[1024], auth[2048];
	char *lines[64], *method, *target, *q, *sp, *authexp, *sig;
	struct s3_hdr h[S3_HDRS_MAX];
	struct s3_sign s;
	unsigned char *ctx, *req, *ecr, *ests, *esig, *esr, d[32], *body;
	size_t n, ncr, nsts, nsig, nsr, bodylen, blen;
	br_sha256_context hc;
	int nl = 0, nh = 0, i;
	char *p, *e;

	if ((ctx = sigv4_file(name, "context.json", &n)) == 0)
		return;
	sigv4_cases++;
	req = sigv4_file(name, "request.txt", &n);
	ecr = sigv4_file(name, "header-canonical-request.txt", &ncr);
	ests = sigv4_file(name, "header-string-to-sign.txt", &nsts);
	esig = sigv4_file(name, "header-signature.txt", &nsig);
	esr = sigv4_file(name, "header-signed-request.txt", &nsr);
	if (!req || !ecr || !ests || !esig || !esr
	    || !json_str((char *)ctx, "access_key_id", ak, sizeof(ak))
	    || !json_str((char *)ctx, "secret_access_key", sk, sizeof(sk))
	    || !json_str((char *)ctx, "region", region, sizeof(region))
	    || !json_str((char *)ctx, "service", service, sizeof(service))
	    || !json_str((char *)ctx, "timestamp", ts, sizeof(ts))) {
		t_ok(0, "sigv4 %s: files", name);
		goto out;
	}
	trim_nl(ecr, &ncr);
	trim_nl(ests, &nsts);
	trim_nl(esig, &nsig);
	/* 2015-08-30T12:36:00Z -> 20150830T123600Z */
	snprintf(date, sizeof(date), "%.4s%.2s%.2sT%.2s%.2s%.2sZ", ts, ts + 5,
	    ts + 8, ts + 11, ts + 14, ts + 17);

	/* the request: lines up to the empty one, then the body */
	body = (unsigned char *)"";
	bodylen = 0;
	for (p = (char *)req; p && *p && nl < 64;) {
		e = strchr(p, '\n');
		if (e)
			*e = 0;
		if (*p == 0) {
			body = e ? (unsigned char *)e + 1 : body;
			bodylen = e ? n - (size_t)(e + 1 - (char *)req) : 0;
			break;
		}
		lines[nl++] = p;
		p = e ? e + 1 : 0;
	}
	/* request line: METHOD SP target SP HTTP/1.1 (target may hold SP) */
	method = lines[0];
	sp = strchr(method, ' ');
	*sp = 0;
	target = sp + 1;
	sp = strrchr(target, ' ');
	*sp = 0;
	memset(&s, 0, sizeof(s));
	s.method = method;
	if ((q = strchr(target, '?')) != 0) {
		*q++ = 0;
		s.query = q;
		s.querylen = strlen(q);
	}
	s.path = target;
	s.pathlen = strlen(target);
	/* fields, with obs-fold continuation lines unfolded with a space */
	for (i = 1; i < nl; i++) {
		if (lines[i][0] == ' ' || lines[i][0] == '\t') {
			/* rejoin: previous value, a space, this line */
			char *prev = (char *)h[nh - 1].value;
			size_t pl = h[nh - 1].valuelen;
			memmove(prev + pl + 1, lines[i], strlen(lines[i]) + 1);
			prev[pl] = ' ';
			h[nh - 1].valuelen = pl + 1 + strlen(lines[i]);
			continue;
		}
		sp = strchr(lines[i], ':');
		h[nh].name = lines[i];
		h[nh].namelen = (size_t)(sp - lines[i]);
		h[nh].value = sp + 1;
		h[nh].valuelen = strlen(sp + 1);
		nh++;
	}
	/* what the signer adds: X-Amz-Date, the token, the body hash */
	h[nh].name = "X-Amz-Date";
	h[nh].namelen = 10;
	h[nh].value = date;
	h[nh].valuelen = strlen(date);
	nh++;
	if (json_str((char *)ctx, "token", token, sizeof(token))
	    && !json_true((char *)ctx, "omit_session_token")) {
		h[nh].name = "X-Amz-Security-Token";
		h[nh].namelen = 20;
		h[nh].value = token;
		h[nh].valuelen = strlen(token);
		nh++;
	}
	blen = bodylen;
	br_sha256_init(&hc);
	br_sha256_update(&hc, body, blen);
	br_sha256_out(&hc, d);
	s3_hex(bodyhex, d, 32);
	if (json_true((char *)ctx, "sign_body")) {
		h[nh].name = "x-amz-content-sha256";
		h[nh].namelen = 20;
		h[nh].value = bodyhex;
		h[nh].valuelen = 64;
		nh++;
	}
	s.hdr = h;
	s.nhdr = nh;
	s.payload = bodyhex;
	s.date = date;
	s.region = region;
	s.service = service;
	s.access_key = ak;
	s.secret_key = sk;
	s.normalize = json_true((char *)ctx, "normalize");

	n = s3_canonical_request(&s, creq, sizeof(creq));
	t_ok(n == ncr && memcmp(creq, ecr, n) == 0,
	    "sigv4 %s: canonical request", name);
	n = s3_string_to_sign(&s, creq, n, sts, sizeof(sts));
	t_ok(n == nsts && memcmp(sts, ests, n) == 0,
	    "sigv4 %s: string to sign", name);
	n = s3_authorization(&s, auth, sizeof(auth));
	sig = strstr(auth, "Signature=");
	t_ok(n > 0 && sig && strlen(sig + 10) == nsig
	    && memcmp(sig + 10, esig, nsig) == 0, "sigv4 %s: signature", name);
	authexp = strstr((char *)esr, "\nAuthorization:");
	if (authexp) {
		authexp += 15;
		if ((e = strchr(authexp, '\n')) != 0)
			*e = 0;
	}
	t_ok(authexp && strcmp(auth, authexp) == 0,
	    "sigv4 %s: Authorization header", name);
out:
	free(ctx);
	free(req);
	free(ecr);
	free(ests);
	free(esig);
	free(esr);
}

static void
test_sigv4_suite(void)
{
	DIR *d;
	struct dirent *de;
	char names[64][128];
	int n = 0, i, j;
	char tmp[128];

	if ((d = opendir(SIGV4_DIR)) == 0) {
		t_ok(0, "sigv4: open " SIGV4_DIR);
		return;
	}
	while ((de = readdir(d)) != 0 && n < 64)
		if (de->d_name[0] != '.' && strchr(de->d_name, '.') == 0
		    && strlen(de->d_name) < sizeof(names[0])) {
			memcpy(names[n], de->d_name, strlen(de->d_name) + 1);
			n++;
		}
	closedir(d);
	for (i = 1; i < n; i++)
		for (j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
			memcpy(tmp, names[j], sizeof(tmp));
			memcpy(names[j], names[j - 1], sizeof(tmp));
			memcpy(names[j - 1], tmp, sizeof(tmp));
		}
	for (i = 0; i < n; i++)
		sigv4_case(names[i]);
	t_ok(sigv4_cases == 38, "sigv4: all 38 suite cases ran (%d)",
	    sigv4_cases);
}

/* ------------------------------------------------------------------ */
/* S3 API Reference examples                                           */
/* ------------------------------------------------------------------ */

#define S3X_KEY		"AKIAIOSFODNN7EXAMPLE"
#define S3X_SECRET	"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define S3X_EMPTY	"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static void
s3x_sign(struct s3_sign *s, const char *method, const char *path,
    const char *query, const struct s3_hdr *h, int nh, const char *payload)
{
	memset(s, 0, sizeof(*s));
	s->method = method;
	s->path = path;
	s->pathlen = strlen(path);
	s->query = query;
	s->querylen = query ? strlen(query) : 0;
	s->hdr = h;
	s->nhdr = nh;
	s->payload = payload;
	s->date = "20130524T000000Z";
	s->region = "us-east-1";
	s->service = "s3";
	s->access_key = S3X_KEY;
	s->secret_key = S3X_SECRET;
}

#define H(n, v) { n, sizeof(n) - 1, v, sizeof(v) - 1 }

/* drop ' ' after ',' so AWS's compact form and ours compare */
static void
compact(char *s)
{
	char *w = s;

	char prev = 0;

	for (; *s; prev = *s++)
		if (!(*s == ' ' && prev == ','))
			*w++ = *s;
	*w = 0;
}

static void
test_s3_examples(void)
{
	static const char put_payload[] =
	    "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072";
	static const struct s3_hdr put_h[] = {
		H("Host", "examplebucket.s3.amazonaws.com"),
		H("Date", "Fri, 24 May 2013 00:00:00 GMT"),
		H("x-amz-date", "20130524T000000Z"),
		H("x-amz-storage-class", "REDUCED_REDUNDANCY"),
		H("x-amz-content-sha256",
		    "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072"),
	};
	static const char put_creq[] =
	    "PUT\n/test%24file.text\n\n"
	    "date:Fri, 24 May 2013 00:00:00 GMT\n"
	    "host:examplebucket.s3.amazonaws.com\n"
	    "x-amz-content-sha256:44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072\n"
	    "x-amz-date:20130524T000000Z\n"
	    "x-amz-storage-class:REDUCED_REDUNDANCY\n\n"
	    "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class\n"
	    "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072";
	static const char put_sts[] =
	    "AWS4-HMAC-SHA256\n20130524T000000Z\n"
	    "20130524/us-east-1/s3/aws4_request\n"
	    "9e0e90d9c76de8fa5b200d8c849cd5b8dc7a3be3951ddb7f6a76b4158342019d";
	static const char put_auth[] =
	    "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class,Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd";
	static const struct s3_hdr get_h[] = {
		H("Host", "examplebucket.s3.amazonaws.com"),
		H("Range", "bytes=0-9"),
		H("x-amz-content-sha256", S3X_EMPTY),
		H("x-amz-date", "20130524T000000Z"),
	};
	static const struct s3_hdr list_h[] = {
		H("Host", "examplebucket.s3.amazonaws.com"),
		H("x-amz-content-sha256", S3X_EMPTY),
		H("x-amz-date", "20130524T000000Z"),
	};
	struct s3_sign s;
	char creq[S3_CANON_MAX], sts[1024], auth[2048];
	size_t n;

	s3x_sign(&s, "PUT", "/test$file.text", 0, put_h, 5, put_payload);
	n = s3_canonical_request(&s, creq, sizeof(creq));
	t_ok(n == strlen(put_creq) && strcmp(creq, put_creq) == 0,
	    "s3 example PUT Object: canonical request");
	n = s3_string_to_sign(&s, creq, n, sts, sizeof(sts));
	t_ok(n == strlen(put_sts) && strcmp(sts, put_sts) == 0,
	    "s3 example PUT Object: string to sign");
	n = s3_authorization(&s, auth, sizeof(auth));
	compact(auth);
	t_ok(n > 0 && strcmp(auth, put_auth) == 0,
	    "s3 example PUT Object: Authorization");

	s3x_sign(&s, "GET", "/test.txt", 0, get_h, 4, S3X_EMPTY);
	n = s3_authorization(&s, auth, sizeof(auth));
	t_ok(n > 0 && strstr(auth, "Signature=f0e8bdb87c964420e857bd35b5d6ed"
	    "310bd44f0170aba48dd91039c6036bdb41") != 0,
	    "s3 example GET Object with Range: signature");
	s3x_sign(&s, "GET", "/", "lifecycle", list_h, 3, S3X_EMPTY);
	n = s3_authorization(&s, auth, sizeof(auth));
	t_ok(n > 0 && strstr(auth, "Signature=fea454ca298b7da1c68078a5d1bdbf"
	    "bbe0d65c699e0f91ac7a200a0136783543") != 0,
	    "s3 example GET lifecycle (value-less query): signature");
	s3x_sign(&s, "GET", "/", "max-keys=2&prefix=J", list_h, 3, S3X_EMPTY);
	n = s3_authorization(&s, auth, sizeof(auth));
	t_ok(n > 0 && strstr(auth, "Signature=34b48302e7b5fa45bde8084f4b7868"
	    "a86f0a534bc59db6670ed5711ef69dc6f7") != 0,
	    "s3 example GET list objects: signature");
	/* an already-encoded key signs the same as the raw one */
	s3x_sign(&s, "PUT", "/test%24file.text", 0, put_h, 5, put_payload);
	n = s3_authorization(&s, auth, sizeof(auth));
	compact(auth);
	t_ok(n > 0 && strcmp(auth, put_auth) == 0,
	    "s3 example PUT Object: %%24 in the path encoded once");
	/* too many headers: refused, not overflowed */
	{
		struct s3_hdr many[S3_HDRS_MAX + 1];
		int i;

		for (i = 0; i <= S3_HDRS_MAX; i++)
			many[i] = list_h[0];
		s3x_sign(&s, "GET", "/", 0, many, S3_HDRS_MAX, S3X_EMPTY);
		t_ok(s3_authorization(&s, auth, sizeof(auth)) > 0,
		    "s3 sign: S3_HDRS_MAX headers");
		s3x_sign(&s, "GET", "/", 0, many, S3_HDRS_MAX + 1, S3X_EMPTY);
		t_ok(s3_authorization(&s, auth, sizeof(auth)) == 0,
		    "s3 sign: S3_HDRS_MAX + 1 headers refused");
	}
}

/* ------------------------------------------------------------------ */
/* Request heads                                                       */
/* ------------------------------------------------------------------ */

static void
test_requests(void)
{
	struct http_req rq;
	char buf[HTTP_REQ_MAX], d[1024];
	size_t n;

	memset(&rq, 0, sizeof(rq));
	rq.method = "PUT";
	rq.host = "store.example:8443";
	rq.path = "/p/0123456789abcdef0123456789abcdef/a%20b.pdf";
	rq.length = 0;
	rq.type = "application/pdf";
	rq.name = "a b.pdf";
	n = http_req_build(buf, sizeof(buf), &rq);
	t_ok(n > 0 && strstr(buf, "\r\nContent-Length: 0\r\n") != 0,
	    "request: PUT of an empty object carries Content-Length: 0");
	t_ok(n > 0 && strncmp(buf, "PUT /p/0123456789abcdef0123456789abcdef/"
	    "a%20b.pdf HTTP/1.1\r\nHost: store.example:8443\r\n", strlen(
	    "PUT /p/0123456789abcdef0123456789abcdef/a%20b.pdf HTTP/1.1\r\n"
	    "Host: store.example:8443\r\n")) == 0,
	    "request: request line and Host");
	t_ok(n > 4 && strcmp(buf + n - 4, "\r\n\r\n") == 0
	    && strstr(buf, "\r\n\r\n") == buf + n - 4,
	    "request: head ends with one empty line");
	t_ok(strstr(buf, "\r\nContent-Type: application/pdf\r\n") != 0,
	    "request: Content-Type");
	rq.length = 104857600;
	n = http_req_build(buf, sizeof(buf), &rq);
	t_ok(n > 0 && strstr(buf, "\r\nContent-Length: 104857600\r\n") != 0,
	    "request: PUT carries Content-Length of the object");
	t_ok(strstr(buf, "Transfer-Encoding") == 0,
	    "request: PUT is never chunked");
	rq.type = "bad type\r\nX: y";
	n = http_req_build(buf, sizeof(buf), &rq);
	t_ok(n > 0 && strstr(buf, "\r\nContent-Type: application/octet-stream"
	    "\r\n") != 0 && strstr(buf, "X: y") == 0,
	    "request: a bad type becomes application/octet-stream");
	rq.type = "text/plain";
	rq.path = "/a\r\nX: y";
	t_ok(http_req_build(buf, sizeof(buf), &rq) == 0,
	    "request: CR LF in the path refused");
	rq.path = "/k";
	rq.method = "HEAD";
	n = http_req_build(buf, sizeof(buf), &rq);
	t_ok(n > 0 && strstr(buf, "Content-Length") == 0
	    && strncmp(buf, "HEAD /k HTTP/1.1\r\n", 18) == 0,
	    "request: HEAD has no body fields");
	rq.method = "PUT";
	rq.fields = "Authorization: Basic dTpw\r\n";
	n = http_req_build(buf, sizeof(buf), &rq);
	t_ok(n > 0 && strstr(buf, "\r\nAuthorization: Basic dTpw\r\n\r\n") != 0,
	    "request: extra fields before the empty line");

	/* RFC 6266 4.3 / RFC 5987 3.2 (example from RFC 6266 5) */
	n = http_disposition(d, sizeof(d), "\xe2\x82\xac rates");
	t_ok(n > 0 && strcmp(d, "attachment; filename=\"_ rates\"; "
	    "filename*=UTF-8''%E2%82%AC%20rates") == 0,
	    "Content-Disposition: RFC 6266 example, euro rates");
	n = http_disposition(d, sizeof(d), "a\"b\\c.txt");
	t_ok(n > 0 && strcmp(d, "attachment; filename=\"a_b_c.txt\"; "
	    "filename*=UTF-8''a%22b%5Cc.txt") == 0,
	    "Content-Disposition: quote and backslash");
	n = http_disposition(d, sizeof(d), "");
	t_ok(n > 0 && strcmp(d, "attachment") == 0,
	    "Content-Disposition: no name");
	t_ok(http_disposition(d, 20, "long-name.pdf") == 0,
	    "Content-Disposition: too small a buffer");
}

/* ------------------------------------------------------------------ */
/* Response parser                                                     */
/* ------------------------------------------------------------------ */

struct rcase {
	const char *name;
	const char *in;
	int	head;			/* answers a HEAD */
	int	eof;			/* the connection closes after in */
	int	state;			/* expected final state */
	int	err;			/* expected error flag (or 0) */
	int	status;
	long long body;			/* body bytes, -1: not checked */
	const char *errbody;		/* start of body kept, or 0 */
	int	close;			/* connection not reusable */
	int	leftover;		/* bytes not taken */
	long long length;		/* Content-Length, -1: none */
};

#define DONE	HTTP_RESP_DONE
#define ERROR	HTTP_RESP_ERROR

static const struct rcase rcases[] = {
	{"200 with Content-Length",
	    "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
	    0, 0, DONE, 0, 200, 5, "hello", 0, 0, 5},
	{"201 empty body",
	    "HTTP/1.1 201 Created\r\nLocation: /x\r\nContent-Length: 0\r\n\r\n",
	    0, 0, DONE, 0, 201, 0, "", 0, 0, 0},
	{"204 has no body (RFC 9112 6.3 1)",
	    "HTTP/1.1 204 No Content\r\nServer: x\r\n\r\n",
	    0, 0, DONE, 0, 204, 0, "", 0, 0, -1},
	{"304 has no body",
	    "HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n",
	    0, 0, DONE, 0, 304, 0, "", 0, 0, 10},
	{"HEAD: Content-Length without body",
	    "HTTP/1.1 200 OK\r\nContent-Length: 12345\r\n\r\n",
	    1, 0, DONE, 0, 200, 0, "", 0, 0, 12345},
	{"chunked with extensions and trailers (RFC 9112 7.1)",
	    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "5;ext=1\r\nhello\r\n6 ; a=\"b c\"\r\n world\r\n"
	    "0\r\nX-Trailer: 1\r\nContent-Length: 99\r\n\r\n",
	    0, 0, DONE, 0, 200, 11, "hello world", 0, 0, -1},
	{"chunked, hex sizes in upper and lower case",
	    "HTTP/1.1 500 Internal Server Error\r\n"
	    "transfer-encoding: CHUNKED\r\n\r\n"
	    "A\r\n0123456789\r\nb\r\nabcdefghijk\r\n000\r\n\r\n",
	    0, 0, DONE, 0, 500, 21, "0123456789abcdefghijk", 0, 0, -1},
	{"100 Continue then 201 (RFC 9110 15.2)",
	    "HTTP/1.1 100 Continue\r\n\r\n"
	    "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok",
	    0, 0, DONE, 0, 201, 2, "ok", 0, 0, 2},
	{"two interim responses",
	    "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\nX: 1\r\n\r\n"
	    "HTTP/1.1 204 No Content\r\n\r\n",
	    0, 0, DONE, 0, 204, 0, "", 0, 0, -1},
	{"HTTP/1.0 closes by default",
	    "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok",
	    0, 0, DONE, 0, 200, 2, "ok", 1, 0, 2},
	{"Connection: close",
	    "HTTP/1.1 503 Service Unavailable\r\nConnection: Close\r\n"
	    "Content-Length: 4\r\n\r\nbusy",
	    0, 0, DONE, 0, 503, 4, "busy", 1, 0, 4},
	{"Connection list with close",
	    "HTTP/1.1 200 OK\r\nConnection: keep-alive, close\r\n"
	    "Content-Length: 0\r\n\r\n",
	    0, 0, DONE, 0, 200, 0, "", 1, 0, 0},
	{"Connection close in an obs-fold (RFC 9112 5.2)",
	    "HTTP/1.1 200 OK\r\nConnection: keep-alive,\r\n close\r\n"
	    "Content-Length: 0\r\n\r\n",
	    0, 0, DONE, 0, 200, 0, "", 1, 0, 0},
	{"body until close (RFC 9112 6.3 8)",
	    "HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\n\r\n"
	    "denied here",
	    0, 1, DONE, 0, 403, 11, "denied here", 1, 0, -1},
	{"Transfer-Encoding overrides Content-Length (RFC 9112 6.3 3)",
	    "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
	    0, 0, DONE, 0, 200, 2, "ok", 1, 0, 100},
	{"chunked not last: read until close (RFC 9112 6.3 4)",
	    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\nxyz",
	    0, 1, DONE, 0, 200, 3, "xyz", 1, 0, -1},
	{"bare LF line ends (RFC 9112 2.2)",
	    "HTTP/1.1 200 OK\nContent-Length: 3\n\nabc",
	    0, 0, DONE, 0, 200, 3, "abc", 0, 0, 3},
	{"repeated equal Content-Length (RFC 9110 8.6)",
	    "HTTP/1.1 200 OK\r\nContent-Length: 3, 3\r\nContent-Length: 3\r\n"
	    "\r\nabc",
	    0, 0, DONE, 0, 200, 3, "abc", 0, 0, 3},
	{"status without reason phrase",
	    "HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n",
	    0, 0, DONE, 0, 200, 0, "", 0, 0, 0},
	{"bytes after the response are left",
	    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA",
	    0, 0, DONE, 0, 200, 2, "ok", 0, 5, 2},
	{"unprintable body bytes shown as ?",
	    "HTTP/1.1 400 Bad Request\r\nContent-Length: 4\r\n\r\na\001\377b",
	    0, 0, DONE, 0, 400, 4, "a??b", 0, 0, 4},
	{"garbage instead of a status line",
	    "SSH-2.0-OpenSSH_9.2\r\n",
	    0, 0, ERROR, HTTP_ERR_STATUS, 0, -1, 0, 0, -1, -1},
	{"HTTP/2 status line",
	    "HTTP/2 200 OK\r\n\r\n",
	    0, 0, ERROR, HTTP_ERR_STATUS, 0, -1, 0, 0, -1, -1},
	{"four-digit status",
	    "HTTP/1.1 2000 OK\r\n\r\n",
	    0, 0, ERROR, HTTP_ERR_STATUS, 0, -1, 0, 0, -1, -1},
	{"status 600 (RFC 9110 15)",
	    "HTTP/1.1 600 Nope\r\n\r\n",
	    0, 0, ERROR, HTTP_ERR_STATUS, 0, -1, 0, 0, -1, -1},
	{"101 never asked for",
	    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n",
	    0, 0, ERROR, HTTP_ERR_STATUS, 0, -1, 0, 0, -1, -1},
	{"space before the colon (RFC 9112 5.1)",
	    "HTTP/1.1 200 OK\r\nContent-Length : 5\r\n\r\nhello",
	    0, 0, ERROR, HTTP_ERR_FIELD, 0, -1, 0, 0, -1, -1},
	{"field line without colon",
	    "HTTP/1.1 200 OK\r\nnonsense\r\n\r\n",
	    0, 0, ERROR, HTTP_ERR_FIELD, 0, -1, 0, 0, -1, -1},
	{"obs-fold before any field",
	    "HTTP/1.1 200 OK\r\n folded\r\n\r\n",
	    0, 0, ERROR, HTTP_ERR_FIELD, 0, -1, 0, 0, -1, -1},
	{"NUL in a field value (RFC 9110 5.5)",
	    "HTTP/1.1 200 OK\r\nX: a\0b\r\n\r\n",
	    0, 0, ERROR, HTTP_ERR_FIELD, 0, -1, 0, 0, -1, -1},
	{"conflicting Content-Length (RFC 9112 6.3 5)",
	    "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
	    0, 0, ERROR, HTTP_ERR_LENGTH, 0, -1, 0, 0, -1, -1},
	{"Content-Length list that disagrees",
	    "HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\n",
	    0, 0, ERROR, HTTP_ERR_LENGTH, 0, -1, 0, 0, -1, -1},
	{"negative Content-Length",
	    "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
	    0, 0, ERROR, HTTP_ERR_LENGTH, 0, -1, 0, 0, -1, -1},
	{"Content-Length over 2^63",
	    "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n",
	    0, 0, ERROR, HTTP_ERR_LENGTH, 0, -1, 0, 0, -1, -1},
	{"bad chunk size",
	    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
	    0, 0, ERROR, HTTP_ERR_CHUNK, 0, -1, 0, 0, -1, -1},
	{"chunk size over 2^60",
	    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "1000000000000000\r\n",
	    0, 0, ERROR, HTTP_ERR_CHUNK, 0, -1, 0, 0, -1, -1},
	{"chunk data not followed by CRLF",
	    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "5\r\nhelloX\r\n0\r\n\r\n",
	    0, 0, ERROR, HTTP_ERR_CHUNK, 0, -1, 0, 0, -1, -1},
	{"closed in the body (RFC 9112 8)",
	    "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello",
	    0, 1, ERROR, HTTP_ERR_EOF, 0, -1, 0, 0, -1, -1},
	{"closed before any byte",
	    "",
	    0, 1, ERROR, HTTP_ERR_EOF, 0, -1, 0, 0, -1, -1},
	{"closed inside a chunked body",
	    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel",
	    0, 1, ERROR, HTTP_ERR_EOF, 0, -1, 0, 0, -1, -1},
};

struct rctx {
	const struct rcase *c;
	size_t	len;
	struct http_resp r;
	size_t	taken;
};

static void
r_reset(void *v)
{
	struct rctx *x = v;

	http_resp_init(&x->r, x->c->head);
	x->taken = 0;
}

static void
r_chunk(void *v, const unsigned char *p, size_t n)
{
	struct rctx *x = v;

	x->taken += http_resp_feed(&x->r, p, n);
}

static void
r_done(void *v)
{
	struct rctx *x = v;

	if (x->c->eof)
		http_resp_eof(&x->r);
}

/* r_same - the outcome the case expects (from the RFCs) */
static int
r_same(void *v)
{
	struct rctx *x = v;
	const struct rcase *c = x->c;
	const struct http_resp *r = &x->r;

	if (r->state != c->state || (c->err && !(r->err & c->err)))
		return (0);
	if (c->state == ERROR)
		return (1);
	return (r->status == c->status
	    && (c->body < 0 || r->body == (uint64_t)c->body)
	    && (!c->errbody || strcmp(r->errbody, c->errbody) == 0)
	    && r->close == c->close
	    && (c->leftover < 0 || x->len - x->taken == (size_t)c->leftover)
	    && (c->length < 0 ? !r->has_length :
	    r->has_length && r->length == (uint64_t)c->length));
}

static void
test_parser(void)
{
	struct rctx *x = malloc(sizeof(*x));
	size_t i, len;
	int bad;

	for (i = 0; i < sizeof(rcases) / sizeof(rcases[0]); i++) {
		x->c = &rcases[i];
		/* the NUL case carries a NUL: measure to the last CRLFCRLF */
		len = strlen(rcases[i].in);
		if (strstr(rcases[i].name, "NUL"))
			len = sizeof("HTTP/1.1 200 OK\r\nX: a\0b\r\n\r\n") - 1;
		x->len = len;
		r_reset(x);
		r_chunk(x, (const unsigned char *)rcases[i].in, len);
		r_done(x);
		t_ok(r_same(x), "resp %s: whole (state %d err %#x status %d)",
		    rcases[i].name, x->r.state, x->r.err, x->r.status);
		bad = t_split_run((const unsigned char *)rcases[i].in, len, x,
		    r_reset, r_chunk, r_done, r_same, 0);
		t_ok(bad == 0, "resp %s: every split (%d)", rcases[i].name,
		    bad);
	}
	free(x);
}

/* ---- a GET's body handed to a sink (RFC 9112 6, 7.1) ---- */

struct scase {
	const char *name;
	const char *in;
	int	eof;			/* the connection closes after in */
	int	refuse;			/* the sink says stop after this many
					 * bytes (0: never) */
	int	state;
	int	err;
	int	status;
	const char *body;		/* what the sink must end with */
	int	begins;			/* zero-length calls */
};

static const struct scase scases[] = {
	{"GET 200 with Content-Length: the body, once",
	    "HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nhello world",
	    0, 0, DONE, 0, 200, "hello world", 1},
	{"GET 200 chunked: the chunk data only, no sizes or trailers",
	    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "5;x=y\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\nT: 1\r\n\r\n",
	    0, 0, DONE, 0, 200, "hello world", 1},
	{"GET 100 Continue, then 200: one body",
	    "HTTP/1.1 100 Continue\r\n\r\n"
	    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
	    0, 0, DONE, 0, 200, "ok", 1},
	{"GET 200 until close",
	    "HTTP/1.1 200 OK\r\n\r\nto the end",
	    1, 0, DONE, 0, 200, "to the end", 1},
	{"GET 200 empty body: the sink hears the start",
	    "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
	    0, 0, DONE, 0, 200, "", 1},
	{"GET 404: the error body is not the object's",
	    "HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found",
	    0, 0, DONE, 0, 404, "", 0},
	{"GET 503 chunked: not the object's either",
	    "HTTP/1.1 503 Busy\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "4\r\nbusy\r\n0\r\n\r\n",
	    0, 0, DONE, 0, 503, "", 0},
	{"GET 200, the sink stops after 3 bytes",
	    "HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nhello world",
	    0, 3, ERROR, HTTP_ERR_SINK, 200, 0, 1},
	{"GET 200 until close, the sink stops",
	    "HTTP/1.1 200 OK\r\n\r\nto the end",
	    1, 1, ERROR, HTTP_ERR_SINK, 200, 0, 1},
	{"GET 200 chunked, the sink refuses the start",
	    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "5\r\nhello\r\n0\r\n\r\n",
	    0, -1, ERROR, HTTP_ERR_SINK, 200, 0, 1},
};

struct sctx {
	const struct scase *c;
	struct http_resp r;
	char	got[64];
	size_t	glen;
	int	begins;
	int	over;
};

/* s_sink - what a GET's taker sees; refuses where the case says */
static int
s_sink(void *v, const unsigned char *p, size_t n)
{
	struct sctx *x = v;

	if (n == 0) {
		x->begins++;
		x->glen = 0;
		return (x->c->refuse < 0 ? -1 : 0);
	}
	if (x->glen + n > sizeof(x->got)) {
		x->over = 1;
		return (-1);
	}
	memcpy(x->got + x->glen, p, n);
	x->glen += n;
	return (x->c->refuse > 0 && x->glen >= (size_t)x->c->refuse ? -1 : 0);
}

static void
s_reset(void *v)
{
	struct sctx *x = v;

	http_resp_init(&x->r, 0);
	http_resp_sink(&x->r, s_sink, x);
	x->glen = 0;
	x->begins = 0;
	x->over = 0;
}

static void
s_chunk(void *v, const unsigned char *p, size_t n)
{
	struct sctx *x = v;

	(void)http_resp_feed(&x->r, p, n);
}

static void
s_done(void *v)
{
	struct sctx *x = v;

	if (x->c->eof)
		http_resp_eof(&x->r);
}

/* s_same - the sink saw the body the RFCs say, and only that */
static int
s_same(void *v)
{
	struct sctx *x = v;
	const struct scase *c = x->c;

	if (x->r.state != c->state || (c->err && !(x->r.err & c->err))
	    || x->r.status != c->status || x->begins != c->begins || x->over)
		return (0);
	if (c->body == 0)
		return (1);
	return (x->glen == strlen(c->body)
	    && memcmp(x->got, c->body, x->glen) == 0);
}

static void
test_parser_sink(void)
{
	struct sctx *x = malloc(sizeof(*x));
	size_t i, len;
	int bad;

	for (i = 0; i < sizeof(scases) / sizeof(scases[0]); i++) {
		x->c = &scases[i];
		len = strlen(scases[i].in);
		s_reset(x);
		s_chunk(x, (const unsigned char *)scases[i].in, len);
		s_done(x);
		t_ok(s_same(x), "resp %s: whole (state %d err %#x, %zu bytes, "
		    "%d starts)", scases[i].name, x->r.state, x->r.err,
		    x->glen, x->begins);
		bad = t_split_run((const unsigned char *)scases[i].in, len, x,
		    s_reset, s_chunk, s_done, s_same, 0);
		t_ok(bad == 0, "resp %s: every split (%d)", scases[i].name,
		    bad);
	}
	free(x);
}

/* limits at N-1, N, N+1 */
static void
test_parser_limits(void)
{
	struct http_resp *r = malloc(sizeof(*r));
	char *buf = malloc(HTTP_LINE_MAX * 2 + 256);
	size_t n, k;
	int i, f;

	for (k = HTTP_LINE_MAX - 2; k <= HTTP_LINE_MAX; k++) {
		/* a field line of k bytes before its CRLF */
		n = (size_t)snprintf(buf, 64, "HTTP/1.1 200 OK\r\nX: ");
		memset(buf + n, 'a', k - 3);
		n += k - 3;
		memcpy(buf + n, "\r\nContent-Length: 0\r\n\r\n", 23);
		n += 23;
		http_resp_init(r, 0);
		http_resp_feed(r, buf, n);
		/* the line with its CR is k + 1 bytes: fits up to the limit */
		if (k + 1 <= HTTP_LINE_MAX)
			t_ok(r->state == HTTP_RESP_DONE,
			    "resp limit: line of %zu bytes with CR", k + 1);
		else
			t_ok(r->state == HTTP_RESP_ERROR
			    && (r->err & HTTP_ERR_LINE),
			    "resp limit: line of %zu bytes with CR refused",
			    k + 1);
	}
	for (f = HTTP_FIELDS_MAX - 1; f <= HTTP_FIELDS_MAX + 1; f++) {
		http_resp_init(r, 0);
		http_resp_feed(r, "HTTP/1.1 200 OK\r\n", 17);
		for (i = 0; i < f - 1; i++)
			http_resp_feed(r, "X-A: b\r\n", 8);
		http_resp_feed(r, "Content-Length: 0\r\n\r\n", 21);
		if (f <= HTTP_FIELDS_MAX)
			t_ok(r->state == HTTP_RESP_DONE,
			    "resp limit: %d fields", f);
		else
			t_ok(r->state == HTTP_RESP_ERROR
			    && (r->err & HTTP_ERR_FIELDS),
			    "resp limit: %d fields refused", f);
	}
	/* errbody keeps HTTP_ERRBODY_MAX bytes, counts all */
	http_resp_init(r, 0);
	http_resp_feed(r, "HTTP/1.1 500 x\r\nContent-Length: 300\r\n\r\n", 40);
	memset(buf, 'z', 300);
	http_resp_feed(r, buf, 300);
	t_ok(r->state == HTTP_RESP_DONE && r->body == 300
	    && strlen(r->errbody) == HTTP_ERRBODY_MAX,
	    "resp limit: body start kept to HTTP_ERRBODY_MAX");
	t_ok(strcmp(http_resp_strerror(HTTP_ERR_CHUNK),
	    "malformed chunked body") == 0, "resp strerror");
	free(r);
	free(buf);
}

/* URL checks for detach -t */
static void
test_urls(void)
{
	char why[256];

	t_ok(http_url_check("https://dav.example.org/files/", why,
	    sizeof(why)) == 0, "url: https with prefix");
	t_ok(http_url_check("http://127.0.0.1:8080", why, sizeof(why)) == 0,
	    "url: http with port, no path");
	t_ok(http_url_check("http://[::1]:8080/x/", why, sizeof(why)) == 0,
	    "url: IPv6 literal");
	t_ok(http_url_check("s3://my-bucket/some/prefix", why,
	    sizeof(why)) == 0, "url: s3 with prefix");
	t_ok(http_url_check("s3://my-bucket", why, sizeof(why)) == 0,
	    "url: s3 bucket only");
	t_ok(http_url_check("https://user:secret@host/", why,
	    sizeof(why)) < 0 && strstr(why, "secret") == 0,
	    "url: credentials in the URL refused, not echoed");
	t_ok(http_url_check("ftp://host/", why, sizeof(why)) < 0,
	    "url: other schemes refused");
	t_ok(http_url_check("http://host:0/", why, sizeof(why)) < 0,
	    "url: port 0 refused");
	t_ok(http_url_check("http://host:65536/", why, sizeof(why)) < 0,
	    "url: port 65536 refused");
	t_ok(http_url_check("s3://UPPER", why, sizeof(why)) < 0,
	    "url: s3 bucket in upper case refused");
	t_ok(http_url_check("s3://ab", why, sizeof(why)) < 0,
	    "url: s3 bucket of 2 characters refused");
	t_ok(http_url_check("http://host/a b", why, sizeof(why)) < 0,
	    "url: white space refused");
}


/* ------------------------------------------------------------------ */
/* Transfers against a scripted server on loopback                     */
/* ------------------------------------------------------------------ */

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#define FAKE_CONNS	4
#define FAKE_SCRIPT	16	/* canned answers */

/* A server in the test's own loop: one canned answer per request. */
struct fake {
	int	lfd;
	int	fd[FAKE_CONNS];
	char	in[FAKE_CONNS][8192];	/* request head being read */
	size_t	inlen[FAKE_CONNS];
	uint64_t body[FAKE_CONNS];	/* body bytes still to read */
	int	pending[FAKE_CONNS];	/* request to answer */
	int	drain[FAKE_CONNS];	/* answered early: drop input */
	const char *answers[FAKE_SCRIPT]; /* per request, in order */
	int	close_after[FAKE_SCRIPT]; /* close the connection after it */
	int	nreq;
	int	early;			/* request answered before its body */
	int	cut;			/* request reset as its head arrives */
	int	accepts;
	int	puts;
	int	heads;
	int	put_has_length;		/* every PUT had Content-Length */
	uint64_t got;			/* PUT body bytes received */
	unsigned char sum[8];		/* XOR of body bytes by position % 8 */
};

static int
fake_listen(struct fake *f)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	int i;

	memset(f, 0, sizeof(*f));
	for (i = 0; i < FAKE_CONNS; i++)
		f->fd[i] = -1;
	f->put_has_length = 1;
	f->lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (f->lfd < 0 || bind(f->lfd, (struct sockaddr *)&a, sizeof(a)) < 0
	    || listen(f->lfd, 8) < 0
	    || getsockname(f->lfd, (struct sockaddr *)&a, &len) < 0)
		return (-1);
	return (ntohs(a.sin_port));
}

static void
fake_close(struct fake *f)
{
	int i;

	for (i = 0; i < FAKE_CONNS; i++)
		if (f->fd[i] >= 0)
			close(f->fd[i]);
	close(f->lfd);
	/* poll() skips negative descriptors */
	for (i = 0; i < FAKE_CONNS; i++)
		f->fd[i] = -1;
	f->lfd = -1;
}

/* fake_answer - the canned answer of the request on connection i */
static void
fake_answer(struct fake *f, int i)
{
	int k = f->pending[i];
	const char *a = k < FAKE_SCRIPT && f->answers[k] ? f->answers[k] :
	    "HTTP/1.1 500 Out Of Script\r\nContent-Length: 0\r\n\r\n";

	if (write(f->fd[i], a, strlen(a)) < 0
	    || (k < FAKE_SCRIPT && f->close_after[k])) {
		close(f->fd[i]);
		f->fd[i] = -1;
	} else if (f->early && k == f->early) {
		/* as servers do: no more answers, read and drop the rest */
		shutdown(f->fd[i], SHUT_WR);
		f->drain[i] = 1;
	}
}

/* fake_request - a whole request head arrived on connection i */
static void
fake_request(struct fake *f, int i)
{
	const char *cl;
	int k = f->nreq++;

	if (strncmp(f->in[i], "PUT ", 4) == 0) {
		f->puts++;
		cl = strstr(f->in[i], "\r\nContent-Length: ");
		if (cl == 0)
			f->put_has_length = 0;
		else
			f->body[i] = strtoull(cl + 18, 0, 10);
	} else
		f->heads++;
	f->pending[i] = k;
	if (f->cut && k == f->cut) {
		/* a reset (SO_LINGER 0), no answer byte */
		struct linger l = { 1, 0 };

		(void)setsockopt(f->fd[i], SOL_SOCKET, SO_LINGER, &l,
		    sizeof(l));
		close(f->fd[i]);
		f->fd[i] = -1;
		return;
	}
	/* a PUT is answered once its body is in (fake_answer), but for
	 * the early one: an error before the body, then the close */
	if (f->body[i] == 0 || (f->early && k == f->early)) {
		f->body[i] = 0;
		fake_answer(f, i);
	}
}

/* fake_io - accept and serve what is ready */
static void
fake_io(struct fake *f, const struct pollfd *p, int n)
{
	unsigned char buf[65536];
	char *end;
	ssize_t r;
	size_t take, rest;
	int i, j, c;

	for (j = 0; j < n; j++) {
		if (!p[j].revents)
			continue;
		if (p[j].fd == f->lfd) {
			c = accept4(f->lfd, 0, 0, SOCK_NONBLOCK);
			for (i = 0; c >= 0 && i < FAKE_CONNS; i++)
				if (f->fd[i] < 0) {
					f->fd[i] = c;
					f->inlen[i] = 0;
					f->body[i] = 0;
					f->drain[i] = 0;
					f->accepts++;
					break;
				}
			continue;
		}
		for (i = 0; i < FAKE_CONNS && f->fd[i] != p[j].fd; i++)
			;
		if (i == FAKE_CONNS)
			continue;
		r = read(f->fd[i], buf, sizeof(buf));
		if (r <= 0) {
			if (r == 0 || errno != EAGAIN) {
				close(f->fd[i]);
				f->fd[i] = -1;
			}
			continue;
		}
		if (f->drain[i])
			continue;
		for (rest = (size_t)r; rest > 0;) {
			unsigned char *q = buf + r - rest;

			if (f->body[i] > 0) {
				take = rest < f->body[i] ? rest : f->body[i];
				for (size_t b = 0; b < take; b++)
					f->sum[(f->got + b) % 8] ^= q[b];
				f->got += take;
				f->body[i] -= take;
				rest -= take;
				if (f->body[i] == 0) {
					fake_answer(f, i);
					if (f->fd[i] < 0)
						break;
				}
				continue;
			}
			take = sizeof(f->in[i]) - 1 - f->inlen[i];
			if (take > rest)
				take = rest;
			memcpy(f->in[i] + f->inlen[i], q, take);
			f->inlen[i] += take;
			f->in[i][f->inlen[i]] = 0;
			rest -= take;
			if ((end = strstr(f->in[i], "\r\n\r\n")) != 0) {
				size_t hl = (size_t)(end + 4 - f->in[i]);
				size_t extra = f->inlen[i] - hl;

				/* bytes past the head go back to the input */
				rest += extra;
				f->inlen[i] = hl;
				f->in[i][hl] = 0;
				fake_request(f, i);
				f->inlen[i] = 0;
				if (f->fd[i] < 0 || f->drain[i])
					break;
			} else if (take == 0) {
				/* a head too long: not a client of ours */
				close(f->fd[i]);
				f->fd[i] = -1;
				break;
			}
		}
	}
}

/* xfer_drive - run a transfer and the fake server in one poll loop until
 * the transfer ends */
static void
xfer_drive(struct http_xfer *x, struct fake *f)
{
	struct pollfd p[16];
	int64_t dl, now;
	int n, m, i, rounds = 0;

	while (x && http_xfer_state(x) == HTTP_XFER_RUNNING && rounds++ < 100000) {
		dl = INT64_MAX;
		n = http_xfer_poll(x, p, 4, &dl);
		m = n;
		p[m].fd = f->lfd;
		p[m++].events = POLLIN;
		for (i = 0; i < FAKE_CONNS; i++)
			if (f->fd[i] >= 0) {
				p[m].fd = f->fd[i];
				p[m++].events = POLLIN;
			}
		now = clock_ms();
		dl = dl > now ? dl - now : 0;
		if (poll(p, (nfds_t)m, dl > 1000 ? 1000 : (int)dl) < 0)
			break;
		fake_io(f, p + n, m - n);
		http_xfer_event(x, p, n, clock_ms());
	}
}

/* More body than two loopback sockets buffer (4 MiB of send buffer,
 * at most, and the fake's receive buffer, which it stops reading). */
#define XFER_BIG	(32 << 20)

/* xfer_run - run one transfer and the fake server in one poll loop */
static int
xfer_run(struct http_store *st, struct fake *f, const struct http_object *o,
    char *why, size_t whylen)
{
	struct http_xfer *x;
	int rc;

	x = http_xfer_new(st, o, clock_ms());
	xfer_drive(x, f);
	rc = x ? http_xfer_state(x) : -1;
	snprintf(why, whylen, "%s", x ? http_xfer_why(x) : "no transfer");
	http_xfer_free(x);
	return (rc);
}

static void
test_transfers(void)
{
	/* answers to HEAD carry Content-Length but no body */
	static const char r404[] =
	    "HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\n";
	static const char r201[] =
	    "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n";
	static const char r503[] = "HTTP/1.1 503 Service Unavailable\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n4\r\nbusy\r\n0\r\n\r\n";
	static const char r401[] = "HTTP/1.1 401 Unauthorized\r\n"
	    "Content-Length: 6\r\nConnection: close\r\n\r\nlogin!";
	static const char r100[] = "HTTP/1.1 100 Continue\r\n\r\n"
	    "HTTP/1.1 204 No Content\r\n\r\n";
	char head200[128], why[HTTP_ERRBODY_MAX + 600], url[64], path[64];
	struct http_conf c;
	struct http_object o, big;
	struct http_store *st;
	struct fake *f = malloc(sizeof(*f));
	unsigned char want[8] = {0}, *data;
	uint64_t size = 3 * 1000 * 1000 + 7, i;
	int port, fd, rc;

	/* the object: a spool file of size bytes */
	snprintf(path, sizeof(path), "/tmp/t_http.XXXXXX");
	if ((fd = mkstemp(path)) < 0 || (data = malloc(size)) == 0) {
		t_ok(0, "xfer: spool file");
		return;
	}
	unlink(path);
	for (i = 0; i < size; i++) {
		data[i] = (unsigned char)(t_rand() >> 7);
		want[i % 8] ^= data[i];
	}
	if (write(fd, data, size) != (ssize_t)size) {
		t_ok(0, "xfer: spool write");
		return;
	}
	free(data);
	memset(&o, 0, sizeof(o));
	o.fd = fd;
	o.size = size;
	o.key = "0123456789abcdef0123456789abcdef/a%20b.bin";
	o.type = "application/octet-stream";
	o.name = "a b.bin";
	big = o;
	snprintf(head200, sizeof(head200), "HTTP/1.1 200 OK\r\n"
	    "Content-Length: %llu\r\n\r\n", (unsigned long long)size);

	port = fake_listen(f);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/up/", port);
	memset(&c, 0, sizeof(c));
	c.store = url;
	c.upload_timeout_ms = 20000;
	st = http_store_new(&c, why, sizeof(why));
	t_ok(st != 0, "xfer: store for %s", url);
	if (st == 0)
		return;

	/* HEAD 404, PUT 201: bytes and Content-Length arrive */
	f->answers[0] = r404;
	f->answers[1] = r201;
	rc = xfer_run(st, f, &o, why, sizeof(why));
	t_ok(rc == HTTP_XFER_DONE && strcmp(why, "stored") == 0,
	    "xfer: HEAD 404 then PUT 201 stored (%s)", why);
	t_ok(f->heads == 1 && f->puts == 1 && f->accepts == 1,
	    "xfer: one connection for HEAD and PUT (%d accepts)", f->accepts);
	t_ok(f->got == size && memcmp(f->sum, want, 8) == 0
	    && f->put_has_length, "xfer: the server got every body byte");

	/* HEAD 200 with the same length: skipped, on the pooled connection */
	f->answers[2] = head200;
	rc = xfer_run(st, f, &o, why, sizeof(why));
	t_ok(rc == HTTP_XFER_DONE && strcmp(why, "exists, upload skipped") == 0
	    && f->puts == 1, "xfer: HEAD 200 same length skips the PUT");
	t_ok(f->accepts == 1, "xfer: keep-alive connection reused");

	/* 503 (chunked), then 100 Continue and 204: retried, stored */
	f->answers[3] = r404;
	f->answers[4] = r503;
	f->answers[5] = r100;
	rc = xfer_run(st, f, &o, why, sizeof(why));
	t_ok(rc == HTTP_XFER_DONE && f->puts == 3,
	    "xfer: 503 retried, then 100 Continue and 204 (%s)", why);
	/* a store that fails and recovers must still show in the log */
	t_ok(strncmp(why, "stored after 2 tries; last error: PUT http://",
	    45) == 0 && strstr(why, ": 503 Service Unavailable: busy") != 0,
	    "xfer: a success after a retry names the failure (%s)", why);

	/* the server closes the idle pooled connection: a fresh one, no
	 * try lost; then 401 with close: failure with the status line */
	for (i = 0; i < FAKE_CONNS; i++)
		if (f->fd[i] >= 0) {
			close(f->fd[i]);
			f->fd[i] = -1;
		}
	f->accepts = 0;
	f->answers[6] = r404;
	f->answers[7] = r401;
	f->early = 7;
	rc = xfer_run(st, f, &o, why, sizeof(why));
	t_ok(rc == HTTP_XFER_FAILED && strstr(why, "401 Unauthorized: login!")
	    && strstr(why, "PUT http://127.0.0.1:") == why,
	    "xfer: 401 fails with method, URL, status and body (%s)", why);
	t_ok(f->accepts == 1, "xfer: a closed pooled connection is replaced");

	/* a pooled connection that answered the HEAD is no stale one: its
	 * PUT reset counts as a try, and the success names it */
	f->answers[8] = head200;
	rc = xfer_run(st, f, &o, why, sizeof(why));
	t_ok(rc == HTTP_XFER_DONE && f->accepts == 2,
	    "xfer: a connection to the pool again (%s)", why);
	f->answers[9] = r404;
	f->cut = 10;
	f->answers[11] = r201;
	rc = xfer_run(st, f, &o, why, sizeof(why));
	t_ok(rc == HTTP_XFER_DONE && strncmp(why, "stored after 2 tries; "
	    "last error: PUT http://", 45) == 0,
	    "xfer: a PUT reset after the HEAD on a pooled connection is a "
	    "try (%s)", why);
	t_ok(strstr(why, ": Connection reset by peer") != 0,
	    "xfer: a reset read is told as a reset (%s)", why);

	/* A reset while the body is still going out, more of it than the
	 * two sockets hold: a send meets the reset and takes its error,
	 * and the read after it sees an end. That too is the reset. */
	snprintf(path, sizeof(path), "/tmp/t_http.XXXXXX");
	if ((big.fd = mkstemp(path)) < 0
	    || ftruncate(big.fd, XFER_BIG) < 0) {
		t_ok(0, "xfer: big spool file");
		return;
	}
	unlink(path);
	big.size = XFER_BIG;
	f->answers[12] = r404;
	f->cut = 13;
	f->answers[14] = r201;
	rc = xfer_run(st, f, &big, why, sizeof(why));
	t_ok(rc == HTTP_XFER_DONE && strstr(why, "stored after 2 tries; ")
	    == why && strstr(why, ": Connection reset by peer") != 0,
	    "xfer: a reset met by a send is told as a reset (%s)", why);
	close(big.fd);

	/* nobody listening: connect failures, tries, then the reason */
	fake_close(f);
	rc = xfer_run(st, f, &o, why, sizeof(why));
	t_ok(rc == HTTP_XFER_FAILED && strstr(why, "connect to 127.0.0.1:")
	    && strstr(why, "(5 tries)"), "xfer: refused connects tried %d "
	    "times (%s)", HTTP_TRY_MAX, why);
	http_store_free(st);
	close(fd);
	free(f);
}

/* A download's taker: a running XOR by position, as the fake sums. */
struct gsink {
	uint64_t got;
	unsigned char sum[8];
	int	begins;
};

static int
g_sink(void *v, const unsigned char *p, size_t n)
{
	struct gsink *g = v;
	size_t i;

	if (n == 0) {
		g->begins++;
		g->got = 0;
		memset(g->sum, 0, sizeof(g->sum));
		return (0);
	}
	for (i = 0; i < n; i++)
		g->sum[(g->got + i) % 8] ^= p[i];
	g->got += n;
	return (0);
}

/* get_run - one download and the fake server in one poll loop */
static int
get_run(struct http_store *st, struct fake *f, struct gsink *g, int *status,
    char *why, size_t whylen)
{
	struct http_xfer *x;
	int rc;

	memset(g, 0, sizeof(*g));
	x = http_get_new(st, "0123456789abcdef0123456789abcdef/a%20b.bin",
	    g_sink, g, clock_ms());
	xfer_drive(x, f);
	rc = x ? http_xfer_state(x) : -1;
	*status = x ? http_xfer_status(x) : -1;
	snprintf(why, whylen, "%s", x ? http_xfer_why(x) : "no transfer");
	http_xfer_free(x);
	return (rc);
}

static void
test_downloads(void)
{
	static char r200[300000 + 100];
	static const char r404[] =
	    "HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found";
	static const char r503[] = "HTTP/1.1 503 Service Unavailable\r\n"
	    "Content-Length: 7\r\n\r\nbusy!!!";
	/* half a body, then the server closes: a broken download */
	static const char rcut[] = "HTTP/1.1 200 OK\r\n"
	    "Content-Length: 10\r\n\r\nhalf!";
	static const char getline[] = "GET /dl/"
	    "0123456789abcdef0123456789abcdef/a%20b.bin HTTP/1.1\r\n";
	char why[HTTP_ERRBODY_MAX + 600], url[64];
	unsigned char want[8] = {0};
	struct http_conf c;
	struct http_store *st;
	struct fake *f = malloc(sizeof(*f));
	struct gsink g;
	size_t i, hl, size = 300000;
	int port, rc, status;

	hl = (size_t)snprintf(r200, sizeof(r200), "HTTP/1.1 200 OK\r\n"
	    "Content-Length: %zu\r\n\r\n", size);
	for (i = 0; i < size; i++) {
		/* printable bytes: the fake answers with strlen() */
		r200[hl + i] = (char)('!' + t_rand() % 90);
		want[i % 8] ^= (unsigned char)r200[hl + i];
	}
	r200[hl + size] = 0;
	port = fake_listen(f);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/dl/", port);
	memset(&c, 0, sizeof(c));
	c.store = url;
	c.upload_timeout_ms = 20000;
	if ((st = http_store_new(&c, why, sizeof(why))) == 0) {
		t_ok(0, "get: store for %s", url);
		return;
	}
	f->answers[0] = r200;
	rc = get_run(st, f, &g, &status, why, sizeof(why));
	t_ok(rc == HTTP_XFER_DONE && status == 200 && g.begins == 1
	    && g.got == size && memcmp(g.sum, want, 8) == 0,
	    "get: 200, every body byte to the sink (%s)", why);
	t_ok(f->heads == 1 && f->puts == 0 && strncmp(f->in[0], getline,
	    strlen(getline)) == 0, "get: GET of the store's path and the key");

	/* 503, then a body cut short, then 200: the sink starts over */
	f->answers[1] = r503;
	f->answers[2] = rcut;
	f->close_after[2] = 1;
	f->answers[3] = r200;
	rc = get_run(st, f, &g, &status, why, sizeof(why));
	t_ok(rc == HTTP_XFER_DONE && g.begins == 2 && g.got == size
	    && memcmp(g.sum, want, 8) == 0 && f->nreq == 4,
	    "get: 503 and a cut body tried again, the sink restarted (%d "
	    "starts, %s)", g.begins, why);

	/* 404: no retry, the status says so */
	f->answers[4] = r404;
	rc = get_run(st, f, &g, &status, why, sizeof(why));
	t_ok(rc == HTTP_XFER_FAILED && status == 404 && f->nreq == 5
	    && g.begins == 0 && strstr(why, "GET http://127.0.0.1:")
	    && strstr(why, "404 Not Found: not found"),
	    "get: 404 fails at once with its status (%s)", why);

	/* nobody listening: tries, then no status at all */
	fake_close(f);
	rc = get_run(st, f, &g, &status, why, sizeof(why));
	t_ok(rc == HTTP_XFER_FAILED && status == 0
	    && strstr(why, "(5 tries)"), "get: refused connects, status 0 "
	    "(%s)", why);
	http_store_free(st);
	free(f);
}

int
main(void)
{
	t_seed_init();
	test_sigv4_suite();
	test_s3_examples();
	test_requests();
	test_parser();
	test_parser_sink();
	test_parser_limits();
	test_urls();
	test_transfers();
	test_downloads();
	return (t_failed != 0);
}
