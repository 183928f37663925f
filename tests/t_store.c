/*
 * t_store - unit tests of message jobs with the dir store
 *
 * A job must give back the message with each stored attachment's part
 * replaced and nothing else changed, store each file once under the key
 * the issue defines (HMAC-SHA256 of the content's SHA-256, keyed by the
 * secret), and keep or tempfail as on_store_failure says when the store
 * cannot take a file.
 */
#include <sys/resource.h>
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bearssl.h>

#include "detach.h"
#include "t.h"

static char tmpdir[] = "/tmp/t_store.XXXXXX";
static struct cfg cfg;
static int behind;		/* t_run_job: msg_hash_behind() */

static const char att[] = "attachment bytes, long enough to pass min_size";
#define ATT_B64 "YXR0YWNobWVudCBieXRlcywgbG9uZyBlbm91Z2ggdG8gcGFzcyBtaW5fc2l6ZQ=="

static const char msg1[] =
    "From: a@example.org\r\n"
    "Content-Type: multipart/mixed; boundary=\"=b\"\r\n"
    "\r\n"
    "--=b\r\n"
    "Content-Type: text/plain\r\n"
    "\r\n"
    "body\r\n"
    "--=b\r\n"
    "Content-Type: application/pdf; name=\"doc one.pdf\"\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    ATT_B64 "\r\n"
    "--=b\r\n"
    "Content-Disposition: attachment; filename=\"doc one.pdf\"\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    ATT_B64 "\r\n"
    "--=b--\r\n";

/* t_run_job - feed a message in chunks of n, return the output */

static int
t_run_job(const char *in, size_t len, size_t chunk, char *out, size_t size,
    size_t *olen)
{
	char	why[256];
	struct msg *m;
	size_t	off, k;
	ssize_t	r;
	int	state;

	if (store_init(&cfg, why, sizeof(why)) < 0
	    || (m = msg_new(&cfg, why, sizeof(why))) == 0)
		return (-2);
	if (behind)
		msg_hash_behind(m);
	for (off = 0; off < len; off += k) {
		k = len - off < chunk ? len - off : chunk;
		msg_feed(m, in + off, k);
	}
	msg_end(m, clock_ms());
	state = msg_state(m);
	*olen = 0;
	while (state == MSG_READY && (r = msg_read(m, out + *olen,
	    size - *olen)) > 0)
		*olen += r;
	msg_free(m);
	return (state);
}

static char out[1 << 16];
static size_t olen;

static void
t_detach(void)
{
	char	key[40], path[512], want[256], *lp;
	struct stat st;
	size_t	chunk;
	int	state, same = 1;
	char	first[1 << 16];
	size_t	flen;
	struct store_stats s0, s1, s2;
	uint64_t n0 = 0, n1 = 0, n2 = 0;
	int	i;

	s0 = *store_stats();
	state = t_run_job(msg1, strlen(msg1), 1 << 20, out, sizeof(out), &olen);
	out[olen] = 0;
	t_ok(state == MSG_READY, "job ready");
	s1 = *store_stats();
	t_run_job(msg1, strlen(msg1), 1 << 20, out, sizeof(out), &olen);
	s2 = *store_stats();
	for (i = 0; i <= STORE_SECONDS_BUCKETS; i++) {
		n0 += s0.stored[i];
		n1 += s1.stored[i];
		n2 += s2.stored[i];
	}
	t_ok(n1 - n0 == 1 && s1.dedup_hits == s0.dedup_hits,
	    "stats: the file twice in one message is one object timed, no "
	    "dedup hit");
	t_ok(n2 - n1 == 1 && s2.dedup_hits - s1.dedup_hits == 1,
	    "stats: the same file again is a dedup hit, timed too");
	state = t_run_job(msg1, strlen(msg1), 1 << 20, out, sizeof(out), &olen);
	out[olen] = 0;
	t_expect_key(cfg.secret, att, strlen(att), key);
	snprintf(path, sizeof(path), "%s/store/%s/doc one.pdf", tmpdir, key);
	t_ok(stat(path, &st) == 0 && st.st_size == (off_t)strlen(att)
	    && (st.st_mode & 0777) == 0644, "object stored at <dir>/<key>/<name>, "
	    "0644");
	snprintf(want, sizeof(want), "X-Detach-URL: https://f.example/a/%s/"
	    "doc%%20one.pdf\r\n", key);
	lp = strstr(out, want);
	t_ok(lp != 0 && strstr(lp + 1, want) != 0, "both parts link to one key");
	t_ok(strncmp(out, msg1, strstr(msg1, "--=b\r\nContent-Type: app") - msg1)
	    == 0, "bytes before the first part unchanged");
	t_ok(olen > 8 && strcmp(out + olen - 8, "--=b--\r\n") == 0
	    && strstr(out, "\r\n--=b\r\nContent-Type: text/plain; charset=utf-8")
	    != 0, "delimiters and their line breaks kept");
	t_ok(strstr(out, ATT_B64) == 0, "attachment bytes gone");
	{
		const char *p = out;
		int	n = 0;

		while ((p = strstr(p, "\r\n--=b")) != 0) {
			n++;
			p++;
		}
		t_ok(n == 4, "each of the 4 delimiters keeps its leading CRLF");
	}
	memcpy(first, out, olen);
	flen = olen;
	for (chunk = 1; chunk < 300; chunk += 7) {
		t_run_job(msg1, strlen(msg1), chunk, out, sizeof(out), &olen);
		if (olen != flen || memcmp(out, first, olen) != 0)
			same = 0;
	}
	t_ok(same, "same output whatever the chunk size");
}

static void
t_small(void)
{
	int	state;

	cfg.min_size = strlen(att) + 1;
	state = t_run_job(msg1, strlen(msg1), 4096, out, sizeof(out), &olen);
	t_ok(state == MSG_READY && olen == strlen(msg1)
	    && memcmp(out, msg1, olen) == 0,
	    "min_size one above the attachment: byte-identical");
	cfg.min_size = strlen(att);
	state = t_run_job(msg1, strlen(msg1), 4096, out, sizeof(out), &olen);
	t_ok(state == MSG_READY && olen != strlen(msg1),
	    "min_size equal to the attachment: detached");
}

static void
t_truncated(void)
{
	size_t	len = strlen(msg1) - strlen("--=b--\r\n");
	const char *last = strstr(msg1, "--=b\r\nContent-Disposition");
	int	state;

	/* The part cut off by the end stays; the one delimited before
	 * it is detached as usual. */
	state = t_run_job(msg1, len, 4096, out, sizeof(out), &olen);
	t_ok(state == MSG_READY && olen > (size_t)(msg1 + len - last)
	    && memcmp(out + olen - (msg1 + len - last), last,
	    msg1 + len - last) == 0 && strstr(out, "X-Detach-URL:") != 0,
	    "multipart never closed: the last part kept as it came");
}

/* t_helper_free - no hash behind under way: a new one starts */

static int
t_helper_free(void)
{
	int	fd, ok;

	if ((fd = open("/dev/null", O_RDONLY)) < 0)
		return (0);
	/* Cancel only our own: a busy helper is another job's. */
	if ((ok = hash_behind_start(fd) == 0))
		hash_behind_cancel();
	(void)close(fd);
	return (ok);
}

/*
 * The hash behind (detach -p's helper thread) against the caller's own
 * hash: the same state and the same bytes out, for attachments around
 * the padding edges and the helper's read size, a part too small to
 * keep (its hash stopped midway), a part the end cuts off, bad base64,
 * any chunking. Then two messages collecting at once: the second
 * hashes on its own thread, both come out right; and a job freed
 * midway leaves the helper free for the next.
 */
static void
t_behind(void)
{
	static const size_t lens[] = {1, 56, 64, 65, 9000,
	    HASH_BEHIND_CHUNK - 1, HASH_BEHIND_CHUNK + 1, 400000};
	static char in[600000], body[400001], want[1 << 16];
	char	why[256];
	struct msg *a, *b;
	size_t	i, k, n, chunk, wlen;
	int	st_in, st_bh, good = 1;

	cfg.min_size = 100;
	for (i = 0; i < sizeof(lens) / sizeof(lens[0]) + 3; i++) {
		if (i < sizeof(lens) / sizeof(lens[0])) {
			/* a small part first, then one of lens[i] bytes */
			for (k = 0; k < lens[i]; k++)
				body[k] = 'A' + (t_rand() % 26);
			n = snprintf(in, sizeof(in), "Content-Type: multipart/"
			    "mixed; boundary=b\n\n--b\nContent-Disposition: "
			    "attachment; filename=s\n\nsmall\n--b\n"
			    "Content-Disposition: attachment; filename=d%zu\n"
			    "\n%.*s\n--b--\n", i, (int)lens[i], body);
		} else if (i == sizeof(lens) / sizeof(lens[0])) {
			n = strlen(msg1) - strlen("--=b--\r\n");
			memcpy(in, msg1, n);	/* cut off */
		} else {
			n = snprintf(in, sizeof(in), "%.*s!!\r\n%s",
			    (int)(strstr(msg1, "\r\n--=b\r\nContent-Disp")
			    - msg1), msg1, strstr(msg1, "--=b\r\nContent-Disp"));
			if (i == sizeof(lens) / sizeof(lens[0]) + 2)
				cfg.on_store_failure = CFG_FAIL_TEMPFAIL;
		}
		chunk = 1 + t_rand() % 5000;
		behind = 0;
		st_in = t_run_job(in, n, chunk, want, sizeof(want), &wlen);
		behind = 1;
		st_bh = t_run_job(in, n, chunk, out, sizeof(out), &olen);
		behind = 0;
		if (st_in != st_bh || wlen != olen || memcmp(want, out, olen)
		    != 0 || st_in != MSG_READY || !t_helper_free()) {
			good = 0;
			t_ok(0, "behind: message %zu, chunks of %zu: state %d, "
			    "%zu bytes; own hash %d, %zu bytes", i, chunk, st_bh,
			    olen, st_in, wlen);
		}
	}
	cfg.on_store_failure = CFG_FAIL_KEEP;
	t_ok(good, "behind: the same messages out as with the caller's hash");

	/* Two collecting at once: a's part is hashed behind, b's by b. */
	cfg.min_size = 10;
	n = strlen(msg1);
	k = strstr(msg1, ATT_B64) - msg1 + 10;
	a = b = 0;
	if (store_init(&cfg, why, sizeof(why)) < 0
	    || (a = msg_new(&cfg, why, sizeof(why))) == 0
	    || (b = msg_new(&cfg, why, sizeof(why))) == 0)
		t_ok(0, "behind: jobs: %s", why);
	if (a && b) {
		msg_hash_behind(a);
		msg_hash_behind(b);
		msg_feed(a, msg1, k);
		t_ok(!t_helper_free(), "behind: a's attachment begun, the "
		    "helper is busy with it");
		msg_feed(b, msg1, n);
		msg_feed(a, msg1 + k, n - k);
		msg_end(a, clock_ms());
		msg_end(b, clock_ms());
		st_in = msg_state(a) == MSG_READY && msg_state(b) == MSG_READY;
		for (wlen = 0; (k = msg_read(a, want + wlen,
		    sizeof(want) - wlen)) > 0 && k != (size_t)-1;)
			wlen += k;
		for (olen = 0; (k = msg_read(b, out + olen,
		    sizeof(out) - olen)) > 0 && k != (size_t)-1;)
			olen += k;
		want[wlen] = 0;
		t_ok(st_in && wlen == olen && memcmp(want, out, olen) == 0
		    && strstr(want, "X-Detach-URL:") != 0,
		    "behind: two messages collecting at once, the same out");
	}
	msg_free(a);
	msg_free(b);

	/* Freed midway: the next job's helper starts. */
	if ((a = msg_new(&cfg, why, sizeof(why))) != 0) {
		msg_hash_behind(a);
		msg_feed(a, msg1, strstr(msg1, ATT_B64) - msg1 + 10);
		t_ok(!t_helper_free(), "behind: mid-attachment, the helper is "
		    "busy");
		msg_free(a);
	}
	t_ok(t_helper_free(), "behind: a job freed midway leaves the helper "
	    "free");
	behind = 1;
	st_bh = t_run_job(msg1, strlen(msg1), 7, out, sizeof(out), &olen);
	behind = 0;
	out[olen] = 0;
	t_ok(st_bh == MSG_READY && strstr(out, "X-Detach-URL:") != 0
	    && t_helper_free(), "behind: and the next job uses it");
}

/*
 * The last part may end only in msg_end(), when the close delimiter
 * has no EOL after it: its decoded bytes are written there, and a
 * failure to spool them must still make a tempfail job fail. The
 * message comes from a file (msg_source(), as detach -p maps it), so
 * the attachment's spool is the only file written, and RLIMIT_FSIZE
 * makes its write fail (EFBIG).
 */
static void
t_spool_fail_at_end(void)
{
	static char in[8192];
	char	why[256], path[600];
	struct rlimit old, lim;
	struct msg *m;
	size_t	n, k;
	int	fd, state = -1, rc = 0;

	n = snprintf(in, sizeof(in), "Content-Type: multipart/mixed; "
	    "boundary=b\r\n\r\n--b\r\nContent-Disposition: attachment; "
	    "filename=e.bin\r\nContent-Transfer-Encoding: base64\r\n\r\n");
	for (k = 0; k < 60; k++)	/* 3420 bytes decoded */
		n += snprintf(in + n, sizeof(in) - n, "%.76s\r\n",
		    "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9w"
		    "cXJzdHV2d3h5ejAxMjM0NTY3");
	n += snprintf(in + n, sizeof(in) - n, "--b--");
	snprintf(path, sizeof(path), "%s/noeol.eml", tmpdir);
	if ((fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600)) < 0
	    || write(fd, in, n) != (ssize_t)n) {
		t_ok(0, "write %s", path);
		return;
	}
	cfg.min_size = 10;
	cfg.on_store_failure = CFG_FAIL_TEMPFAIL;
	getrlimit(RLIMIT_FSIZE, &old);
	lim = old;
	lim.rlim_cur = 1000;
	signal(SIGXFSZ, SIG_IGN);
	if (store_init(&cfg, why, sizeof(why)) == 0
	    && (m = msg_new(&cfg, why, sizeof(why))) != 0) {
		if (msg_source(m, fd) == 0) {
			setrlimit(RLIMIT_FSIZE, &lim);
			msg_feed(m, in, n);
			rc = msg_end(m, clock_ms());
			setrlimit(RLIMIT_FSIZE, &old);
			state = msg_state(m);
		}
		msg_free(m);
	}
	signal(SIGXFSZ, SIG_DFL);
	cfg.on_store_failure = CFG_FAIL_KEEP;
	(void)close(fd);
	t_ok(rc < 0 && state == MSG_TEMPFAIL, "tempfail: the last part's "
	    "spool fails in msg_end (no EOL after the close delimiter): "
	    "MSG_TEMPFAIL (%d, %d)", rc, state);
}

static void
t_failure(void)
{
	char	path[512];
	int	state, fd;

	cfg.min_size = 10;
	/* A store directory under a regular file cannot be written. */
	snprintf(path, sizeof(path), "%s/file", tmpdir);
	fd = open(path, O_CREAT | O_WRONLY, 0600);
	close(fd);
	snprintf(cfg.store, sizeof(cfg.store), "dir:%s/file/store", tmpdir);
	cfg.on_store_failure = CFG_FAIL_KEEP;
	state = t_run_job(msg1, strlen(msg1), 4096, out, sizeof(out), &olen);
	t_ok(state == MSG_READY && olen == strlen(msg1)
	    && memcmp(out, msg1, olen) == 0, "store failure, keep: unchanged");
	cfg.on_store_failure = CFG_FAIL_TEMPFAIL;
	state = t_run_job(msg1, strlen(msg1), 4096, out, sizeof(out), &olen);
	t_ok(state == MSG_TEMPFAIL, "store failure, tempfail: MSG_TEMPFAIL");
	snprintf(cfg.spool_dir, sizeof(cfg.spool_dir), "%s/file/spool", tmpdir);
	state = t_run_job(msg1, strlen(msg1), 4096, out, sizeof(out), &olen);
	t_ok(state == -2, "spool directory missing: no job");
}

/* The digest in X-Detach-SHA256, around the 55/56/64-byte padding
 * edges of FIPS 180-4 5.1.1, equals BearSSL's of the same bytes. */
static void
t_digest(void)
{
	static const size_t lens[] = {1, 55, 56, 57, 63, 64, 65, 119, 120,
	128, 1000, 4097, 65537};
	static char body[70000], in[80000];
	br_sha256_context sc;
	unsigned char d[32];
	char	want[96], *h;
	size_t	i, k, n;
	int	good = 1;

	cfg.min_size = 1;
	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		for (k = 0; k < lens[i]; k++)
			body[k] = 'a' + (k * 7 + i) % 26;
		n = snprintf(in, sizeof(in), "Content-Type: multipart/mixed; "
		    "boundary=b\n\n--b\nContent-Disposition: attachment; "
		    "filename=d%zu\n\n%.*s\n--b--\n", i, (int)lens[i], body);
		t_run_job(in, n, 4096, out, sizeof(out), &olen);
		out[olen] = 0;
		br_sha256_init(&sc);
		br_sha256_update(&sc, body, lens[i]);
		br_sha256_out(&sc, d);
		memcpy(want, "X-Detach-SHA256: ", 17);
		for (k = 0; k < 32; k++)
			snprintf(want + 17 + 2 * k, 3, "%02x", d[k]);
		if ((h = strstr(out, want)) == 0) {
			good = 0;
			t_ok(0, "digest of %zu bytes", lens[i]);
		}
	}
	t_ok(good, "digests at the padding edges");
}

/* Parts too small to detach do not use up DETACH_OBJECTS_MAX. */
static void
t_slots(void)
{
	static char in[1 << 16];
	size_t	n = 0;
	int	i;

	cfg.min_size = 1000;
	n += snprintf(in + n, sizeof(in) - n, "Content-Type: multipart/mixed; "
	    "boundary=b\n\n");
	for (i = 0; i < DETACH_OBJECTS_MAX + 1; i++)
		n += snprintf(in + n, sizeof(in) - n, "--b\nContent-Type: "
		    "image/png; name=logo%d.png\n\nsmall\n", i);
	n += snprintf(in + n, sizeof(in) - n, "--b\nContent-Disposition: "
	    "attachment; filename=big.bin\n\n");
	for (i = 0; i < 2000; i++)
		in[n++] = 'a' + i % 26;
	n += snprintf(in + n, sizeof(in) - n, "\n--b--\n");
	t_run_job(in, n, 4096, out, sizeof(out), &olen);
	out[olen] = 0;
	t_ok(strstr(out, "X-Detach-URL: https://f.example/a/") != 0
	    && strstr(out, "/big.bin") != 0 && strstr(out, "logo0.png") != 0,
	    "%d small parts, then a large one: the large one detached",
	    DETACH_OBJECTS_MAX + 1);
}

/*
 * t_key_name - only keys of the form store_key() makes are taken: 32
 * lowercase hex digits, "/", the name as RFC 3986 percent-encodes all
 * but unreserved bytes (what mime_url_encode does); anything else
 * could name another file
 */
static void
t_key_name(void)
{
	static const struct {
		const char *key;
		const char *name;	/* 0: refused */
	} k[] = {
		{"0123456789abcdef0123456789abcdef/a.pdf", "a.pdf"},
		{"0123456789abcdef0123456789abcdef/rapport%20%C3%A9t%C3%A9.pdf",
		    "rapport \xc3\xa9t\xc3\xa9.pdf"},
		{"0123456789abcdef0123456789abcdef/a~b-c_d", "a~b-c_d"},
		{"0123456789abcdef0123456789abcdef/..", 0},
		{"0123456789abcdef0123456789abcdef/%2E%2E", 0},
		{"0123456789abcdef0123456789abcdef/.", 0},
		{"0123456789abcdef0123456789abcdef/a%2Fb", 0},
		{"0123456789abcdef0123456789abcdef/a/b", 0},
		{"0123456789abcdef0123456789abcdef/a%00b", 0},
		{"0123456789abcdef0123456789abcdef/a%0Ab", 0},
		{"0123456789abcdef0123456789abcdef/a%2", 0},
		{"0123456789abcdef0123456789abcdef/a%zz", 0},
		{"0123456789abcdef0123456789abcdef/a b", 0},
		{"0123456789abcdef0123456789abcdef/a%2eb", 0},
		{"0123456789abcdef0123456789abcdef/%61", 0},
		{"0123456789abcdef0123456789abcdef/", 0},
		{"0123456789ABCDEF0123456789abcdef/a", 0},
		{"0123456789abcdef0123456789abcde/a", 0},
		{"0123456789abcdef0123456789abcdefa/a", 0},
		{"../../../../etc/passwd", 0},
	};
	char	name[MIME_NAME_MAX + 1], key[STORE_KEY_MAX + 2];
	size_t	i;
	int	r;

	for (i = 0; i < sizeof(k) / sizeof(k[0]); i++) {
		r = store_key_name(k[i].key, name, sizeof(name));
		t_ok(k[i].name ? r == 0 && strcmp(name, k[i].name) == 0 : r < 0,
		    "key name: %s %s", k[i].key, k[i].name ? "taken" :
		    "refused");
	}
	/* the longest name, and one byte more */
	memcpy(key, "0123456789abcdef0123456789abcdef/", 33);
	memset(key + 33, 'n', MIME_NAME_MAX + 1);
	key[33 + MIME_NAME_MAX] = 0;
	t_ok(store_key_name(key, name, sizeof(name)) == 0
	    && strlen(name) == MIME_NAME_MAX, "key name: %d bytes taken",
	    MIME_NAME_MAX);
	key[33 + MIME_NAME_MAX] = 'n';
	key[34 + MIME_NAME_MAX] = 0;
	t_ok(store_key_name(key, name, sizeof(name)) < 0,
	    "key name: %d bytes refused", MIME_NAME_MAX + 1);
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
	for (i = 0; i < 32; i++)
		cfg.secret[i] = i * 7 + 1;
	cfg.secret_set = 1;
	cfg.min_size = 10;
	snprintf(cmd, sizeof(cmd), "%s/store", tmpdir);
	mkdir(cmd, 0755);
	t_detach();
	t_small();
	t_truncated();
	t_digest();
	t_slots();
	t_behind();
	t_spool_fail_at_end();
	t_failure();
	t_key_name();
	store_shutdown();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	if (system(cmd) != 0)
		t_ok(0, "cleanup");
	return (t_failed != 0);
}
