/*
 * t_cfg - unit tests of the configuration parser
 *
 * Each case is a file's text and what must come of it: the first
 * error as FILE:LINE: text (prefix), or values read back. Every case
 * is also fed in every split and must give the same settings and the
 * same error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "detach.h"
#include "t.h"

struct t_cfgrun {
	struct cfg cfg;
	struct cfg_parse p;
	int	errors;
	struct cfg whole;
	char	werr[sizeof(((struct cfg_parse *)0)->err)];
	int	werrors;
};

static void
t_reset(void *ctx)
{
	struct t_cfgrun *r = ctx;

	cfg_defaults(&r->cfg);
	cfg_parse_init(&r->p, &r->cfg, "test.conf");
}

static void
t_chunk(void *ctx, const unsigned char *p, size_t n)
{
	struct t_cfgrun *r = ctx;

	cfg_parse_feed(&r->p, p, n);
}

static void
t_done(void *ctx)
{
	struct t_cfgrun *r = ctx;

	r->errors = cfg_parse_finish(&r->p);
}

static int
t_same(void *ctx)
{
	struct t_cfgrun *r = ctx;

	return (memcmp(&r->cfg, &r->whole, sizeof(r->cfg)) == 0
	    && (r->errors > 0) == (r->werrors > 0)
	    && strcmp(r->p.err, r->werr) == 0);
}

static struct t_cfgrun *run;

static void
t_parse(const char *name, const char *text)
{
	size_t	len = strlen(text);
	int	bad;

	t_reset(run);
	t_chunk(run, (const unsigned char *)text, len);
	t_done(run);
	run->whole = run->cfg;
	memcpy(run->werr, run->p.err, sizeof(run->werr));
	run->werrors = run->errors;
	bad = t_split_run((const unsigned char *)text, len, run, t_reset,
	    t_chunk, t_done, t_same, 0);
	t_ok(bad == 0, "%s: same result in every split", name);
	t_reset(run);
	t_chunk(run, (const unsigned char *)text, len);
	t_done(run);
}

/* Files with one error each: the message must name file and line. */
static const struct {
	const char *name;
	const char *text;
	const char *err;	/* expected prefix of the first error */
} bad[] = {
	{"unknown key", "# c\n\nmin_size = 1k\nfoo = bar\n",
	"test.conf:4: unknown key \"foo\""},
	{"no equals sign", "store = dir:/x\nstore\n", "test.conf:2: expected"},
	{"bad size", "min_size = 10q\n", "test.conf:1: min_size:"},
	{"size overflow", "min_size = 99999999999999999999\n",
	"test.conf:1: min_size:"},
	{"bad store", "store = ftp://x/\n", "test.conf:1: store:"},
	{"expire unit", "expire = 30y\n", "test.conf:1: expire:"},
	{"expire under an hour", "expire = 59\n", "test.conf:1: expire:"},
	{"expire past ten years", "expire = 3651d\n", "test.conf:1: expire:"},
	{"bad secret length", "secret = abcd\n", "test.conf:1: secret:"},
	{"bad secret digit", "secret = "
	    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdeg\n",
	"test.conf:1: secret:"},
	{"bad policy", "\n\non_store_failure = drop\n",
	"test.conf:3: on_store_failure:"},
	{"bad timeout", "timeout = 0s\n", "test.conf:1: timeout:"},
	{"timeout over an hour", "timeout = 2h\n", "test.conf:1: timeout:"},
	{"bad listen", "listen = 127.0.0.1\n", "test.conf:1: listen:"},
	{"listen twice", "listen = 127.0.0.1:10025, 127.0.0.1:10025\n",
	    "test.conf:1: listen: an address given twice"},
	{"bad port", "forward = 127.0.0.1:70000\n", "test.conf:1: forward:"},
	{"relative spool", "spool_dir = spool\n", "test.conf:1: spool_dir:"},
	{"bad auth", "store_auth = digest:a:b\n", "test.conf:1: store_auth:"},
	{"bad bool", "s3_path_style = maybe\n", "test.conf:1: s3_path_style:"},
	{"bad link_base", "link_base = files.example.org/\n",
	"test.conf:1: link_base:"},
	{"continued bad value",
	    "store = dir:/x\nmin_size =\n  12x\n", "test.conf:2: min_size:"},
	{"missing credentials file",
	    "s3_credentials_file = /nonexistent/creds\n",
	"test.conf:1: s3_credentials_file:"},
	{"bad notice_lang", "expire = 30d\nnotice_lang = de\n",
	"test.conf:2: notice_lang: expected en or fr"},
	{"notice_lang in capitals", "notice_lang = FR\n",
	"test.conf:1: notice_lang:"},
	{"missing notice_file", "\nnotice_file = /nonexistent/notice.txt\n",
	"test.conf:2: notice_file: /nonexistent/notice.txt: No such file"},
	{"relative notice_file", "notice_file = notice.txt\n",
	"test.conf:1: notice_file: expected an absolute path"},
};

static void
t_bad(void)
{
	size_t	i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		t_parse(bad[i].name, bad[i].text);
		t_ok(run->errors == 1 && strncmp(run->p.err, bad[i].err,
		    strlen(bad[i].err)) == 0, "%s: \"%s\"", bad[i].name,
		    run->p.err);
	}
}

static void
t_good(void)
{
	static const unsigned char secret[4] = {0x01, 0x23, 0xab, 0xcd};

	t_parse("full file",
	    "# detach\n"
	    "store = dir:/srv/files\n"
	    "link_base =\n"
	    "    https://files.example.org/a/\n"
	    "min_size = 2m\n"
	    "secret = 0123ABCD456789abcdef0123456789abcdef0123456789abcdef0123456789ab\n"
	    "   # an indented comment\n"
	    "on_store_failure = tempfail\n"
	    "spool_dir = /var/spool/x\n"
	    "listen = 127.0.0.1:10025, [::1]:10025\n"
	    "timeout = 2m\n"
	    "max_sessions = 7\n"
	    "s3_path_style = yes\n"
	    "upload_timeout = 45\n"
	    "expire = 30d\n");
	t_ok(run->errors == 0, "full file: no error (%s)", run->p.err);
	t_ok(run->cfg.store_kind == CFG_STORE_DIR
	    && strcmp(run->cfg.store, "dir:/srv/files") == 0, "store read");
	t_ok(strcmp(run->cfg.link_base, "https://files.example.org/a/") == 0,
	    "continuation line joined: %s", run->cfg.link_base);
	t_ok(run->cfg.min_size == 2 * 1024 * 1024, "min_size 2m");
	t_ok(run->cfg.secret_set && memcmp(run->cfg.secret, secret, 4) == 0,
	    "secret decoded from hex");
	t_ok(run->cfg.on_store_failure == CFG_FAIL_TEMPFAIL, "tempfail");
	t_ok(run->cfg.nlisten == 2 && strcmp(run->cfg.listen[1], "[::1]:10025")
	    == 0, "two listen addresses");
	t_ok(run->cfg.timeout_ms == 120000 && run->cfg.upload_timeout_ms ==
	    45000, "times in ms");
	t_ok(run->cfg.max_sessions == 7 && run->cfg.s3_path_style == 1,
	    "int and bool");
	t_ok(run->cfg.expire_s == 30 * 86400, "expire 30d in seconds");

	t_parse("defaults", "");
	t_ok(run->errors == 0 && run->cfg.min_size == 100 * 1024
	    && run->cfg.on_store_failure == CFG_FAIL_KEEP
	    && run->cfg.timeout_ms == 90000 && run->cfg.max_sessions == 100
	    && strcmp(run->cfg.forward, "127.0.0.1:10026") == 0
	    && run->cfg.nlisten == 1 && !run->cfg.secret_set,
	    "defaults as documented");

	t_parse("CRLF file", "min_size = 1k\r\n");
	t_ok(run->errors == 0 && run->cfg.min_size == 1024,
	    "CRLF line ends are white space");
}

/* CFG_LINE_MAX at N-1, N, N+1 bytes of one line. */
static void
t_limit(void)
{
	static char text[CFG_LINE_MAX + 64];
	int	d;

	for (d = -1; d <= 1; d++) {
		size_t	n = CFG_LINE_MAX + d, k;

		/* hostname = xxx...: keep the value under its own field
		 * size by padding with white space before it */
		k = snprintf(text, sizeof(text), "hostname =");
		memset(text + k, ' ', n - k - 1);
		text[n - 1] = 'h';
		text[n] = '\n';
		text[n + 1] = 0;
		t_parse("line limit", text);
		if (d <= 0)
			t_ok(run->errors == 0 && strcmp(run->cfg.hostname, "h")
			    == 0, "line of %zu bytes read", n);
		else
			t_ok(run->errors == 1 && strstr(run->p.err, "longer"),
			    "line of %zu bytes refused: %s", n, run->p.err);
	}
}

/* t_write - a file with this text; 0 or -1 */
static int
t_write(const char *path, const char *text, size_t len)
{
	FILE   *fp = fopen(path, "wb");
	int	r;

	if (fp == 0)
		return (-1);
	r = fwrite(text, 1, len, fp) == len ? 0 : -1;
	return (fclose(fp) == 0 ? r : -1);
}

/*
 * notice_lang and notice_file: a template is read and checked at load,
 * its faults named by the template's FILE:LINE after the key's own
 * FILE:LINE; a reload (what SIGHUP does) reads it again, and a bad
 * template on reload leaves the settings as they were.
 */
static void
t_notice(void)
{
	static const char good[] = "Fichier : {name}\nLien : {url}\n";
	char	dir[] = "/tmp/t_cfg.XXXXXX", tpath[64], cpath[64], conf[256],
		want[256], why[512], big[MIME_NOTICE_MAX + 2];
	struct cfg cfg;
	int	d;

	if (mkdtemp(dir) == 0) {
		t_ok(0, "mkdtemp: %s", dir);
		return;
	}
	snprintf(tpath, sizeof(tpath), "%s/notice.txt", dir);
	snprintf(cpath, sizeof(cpath), "%s/detach.conf", dir);

	t_parse("notice_lang fr", "notice_lang = fr\n");
	t_ok(run->errors == 0 && run->cfg.notice_lang == MIME_LANG_FR,
	    "notice_lang = fr read");
	t_parse("notice defaults", "");
	t_ok(run->cfg.notice_lang == MIME_LANG_EN && run->cfg.notice_len == 0
	    && run->cfg.notice_file[0] == 0, "notice defaults: en, built-in");

	/* a good template */
	t_write(tpath, good, sizeof(good) - 1);
	snprintf(conf, sizeof(conf), "notice_lang = fr\nnotice_file = %s\n",
	    tpath);
	t_parse("notice_file", conf);
	t_ok(run->errors == 0 && run->cfg.notice_len == sizeof(good) - 1
	    && strcmp(run->cfg.notice, good) == 0
	    && strcmp(run->cfg.notice_file, tpath) == 0,
	    "notice_file read: %s", run->p.err);
	/* an unknown placeholder: both FILE:LINEs */
	t_write(tpath, "Lien : {url}\n\nNom : {nom}\n", 26);
	t_parse("unknown placeholder", conf);
	snprintf(want, sizeof(want), "test.conf:2: notice_file: %s:3: "
	    "unknown placeholder \"{nom}\"", tpath);
	t_ok(run->errors == 1 && strncmp(run->p.err, want, strlen(want)) == 0,
	    "unknown placeholder: \"%s\"", run->p.err);
	/* no {url} */
	t_write(tpath, "Nom : {name}\n", 13);
	t_parse("template without url", conf);
	snprintf(want, sizeof(want), "test.conf:2: notice_file: %s: no {url}",
	    tpath);
	t_ok(run->errors == 1 && strncmp(run->p.err, want, strlen(want)) == 0,
	    "template without {url}: \"%s\"", run->p.err);
	/* MIME_NOTICE_MAX bytes at N-1, N, N+1 */
	for (d = -1; d <= 1; d++) {
		size_t	n = MIME_NOTICE_MAX + d;

		memset(big, 'x', n);
		memcpy(big, "{url}\n", 6);
		t_write(tpath, big, n);
		t_parse("template size limit", conf);
		if (d <= 0)
			t_ok(run->errors == 0 && run->cfg.notice_len == n,
			    "template of %zu bytes read", n);
		else
			t_ok(run->errors == 1 && strstr(run->p.err,
			    "longer than"), "template of %zu bytes refused: %s",
			    n, run->p.err);
	}

	/* a reload reads the template again */
	t_write(tpath, good, sizeof(good) - 1);
	snprintf(conf, sizeof(conf), "secret = %064d\nnotice_file = %s\n", 7,
	    tpath);
	t_write(cpath, conf, strlen(conf));
	memset(&cfg, 0, sizeof(cfg));
	t_ok(cfg_load(&cfg, cpath, 1, why, sizeof(why)) == 0
	    && strcmp(cfg.notice, good) == 0, "load reads the template: %s",
	    why);
	t_write(tpath, "{url}\n", 6);
	t_ok(cfg_load(&cfg, cpath, 1, why, sizeof(why)) == 0
	    && strcmp(cfg.notice, "{url}\n") == 0, "reload reads it again");
	t_write(tpath, "{url} {bad}\n", 12);
	t_ok(cfg_load(&cfg, cpath, 1, why, sizeof(why)) < 0
	    && strstr(why, "notice.txt:1: unknown placeholder")
	    && strcmp(cfg.notice, "{url}\n") == 0,
	    "a bad template on reload keeps the settings: %s", why);
	(void)unlink(tpath);
	(void)unlink(cpath);
	(void)rmdir(dir);
}

int
main(void)
{
	t_seed_init();
	run = calloc(1, sizeof(*run));
	t_bad();
	t_good();
	t_limit();
	t_notice();
	free(run);
	return (t_failed != 0);
}
