/*
 * t_cfg - unit tests of the configuration parser
 *
 * Each case is a file's text and what must come of it: the first
 * error as FILE:LINE: text (prefix), or values read back. Every case
 * is also fed in every split and must give the same settings and the
 * same error.
 */
#include <sys/stat.h>
#include <sys/wait.h>
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
	{"metrics_listen without port", "\nmetrics_listen = 127.0.0.1\n",
	"test.conf:2: metrics_listen:"},
	{"metrics_listen port 0", "metrics_listen = 127.0.0.1:0\n",
	"test.conf:1: metrics_listen:"},
	{"metrics_listen two addresses",
	    "metrics_listen = 127.0.0.1:9177, 127.0.0.1:9178\n",
	"test.conf:1: metrics_listen:"},

	{"relative unix listen", "\nlisten = unix:private/detach\n",
	    "test.conf:2: listen: expected unix:/absolute/path"},
	{"empty unix listen", "listen = 127.0.0.1:10025, unix:\n",
	    "test.conf:1: listen: expected unix:/absolute/path"},
	{"relative unix forward", "forward = unix:detach-in\n",
	    "test.conf:1: forward: expected unix:/absolute/path"},
	{"unix path of 108 bytes", "forward = unix:/"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n",
	    "test.conf:1: forward: unix: path longer than 107 bytes"},
	{"unix listen twice", "listen = unix:/a/b, 127.0.0.1:1, unix:/a/b\n",
	    "test.conf:1: listen: an address given twice"},
	{"unix in upper case", "listen = UNIX:/a/b\n", "test.conf:1: listen:"},
	{"mode not octal", "listen_mode = 0668\n",
	    "test.conf:1: listen_mode: expected octal"},
	{"mode over 0777", "\n\nlisten_mode = 01777\n",
	    "test.conf:3: listen_mode: expected octal"},
	{"mode of five digits", "listen_mode = 00660\n",
	    "test.conf:1: listen_mode:"},
	{"mode in letters", "listen_mode = rw-rw----\n",
	    "test.conf:1: listen_mode:"},
	{"mode empty", "listen_mode =\n", "test.conf:1: listen_mode:"},
	{"unknown group", "# g\nlisten_group = no-such-group-here\n",
	    "test.conf:2: listen_group: no such group"},
	{"relative spool", "spool_dir = spool\n", "test.conf:1: spool_dir:"},
	{"bad auth", "store_auth = digest:a:b\n", "test.conf:1: store_auth:"},
	{"bad bool", "s3_path_style = maybe\n", "test.conf:1: s3_path_style:"},
	{"bad link_base", "link_base = files.example.org/\n",
	"test.conf:1: link_base:"},
	{"continued bad value",
	    "store = dir:/x\nmin_size =\n  12x\n", "test.conf:2: min_size:"},
	{"bad policy address", "\nskip_senders = a@x.example b@@x.example\n",
	"test.conf:2: skip_senders: bad entry \"b@@x.example\""},
	{"bad policy network", "skip_clients = 10.0.0.1/8\n",
	"test.conf:1: skip_clients: bad entry \"10.0.0.1/8\""},
	{"missing credentials file",
	    "s3_credentials_file = /nonexistent/creds\n",
	"test.conf:1: s3_credentials_file:"},
	{"empty user", "\nuser =\n", "test.conf:2: user:"},
	{"user with a space", "user = mail man\n", "test.conf:1: user:"},
	{"user starting with -", "user = -x\n", "test.conf:1: user:"},
	{"numeric user", "user = 0\n", "test.conf:1: user:"},
	{"user with a colon", "user = a:b\n", "test.conf:1: user:"},
	{"user with a slash", "user = ../x\n", "test.conf:1: user:"},

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
	    "expire = 30d\n"
	    "metrics_listen = [::1]:9177\n");
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
	t_ok(strcmp(run->cfg.metrics_listen, "[::1]:9177") == 0,
	    "metrics_listen read");

	/* 107 bytes of path fill sun_path with its NUL (unix(7)). */
	t_parse("unix forms",
	    "listen = unix:/var/spool/postfix/private/detach, 127.0.0.1:10025,"
	    " [::1]:10025\n"
	    "forward = unix:/"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n"
	    "listen_mode = 660\n"
	    "listen_group = root\n");
	t_ok(run->errors == 0, "unix forms: no error (%s)", run->p.err);
	t_ok(run->cfg.nlisten == 3 && strcmp(run->cfg.listen[0],
	    "unix:/var/spool/postfix/private/detach") == 0
	    && strcmp(run->cfg.listen[2], "[::1]:10025") == 0,
	    "unix and TCP listen mixed");
	t_ok(strlen(run->cfg.forward) == 5 + CFG_UNIX_PATH_MAX
	    && CFG_UNIX_PATH_MAX == 107, "unix forward of 107 bytes of path");
	t_ok(run->cfg.listen_mode == 0660, "listen_mode 660 is octal");
	t_ok(run->cfg.listen_gid == 0 && strcmp(run->cfg.listen_group,
	    "root") == 0, "listen_group root is gid 0");
	t_parse("mode 0", "listen_mode = 0\nlisten_mode = 0777\n");
	t_ok(run->errors == 0 && run->cfg.listen_mode == 0777,
	    "listen_mode 0 and 0777 taken");

	t_parse("defaults", "");
	t_ok(run->errors == 0 && run->cfg.min_size == 100 * 1024
	    && run->cfg.on_store_failure == CFG_FAIL_KEEP
	    && run->cfg.timeout_ms == 90000 && run->cfg.max_sessions == 100
	    && strcmp(run->cfg.forward, "127.0.0.1:10026") == 0
	    && run->cfg.nlisten == 1 && !run->cfg.secret_set
	    && run->cfg.metrics_listen[0] == 0
	    && run->cfg.listen_mode == 0660 && run->cfg.listen_group[0] == 0
	    && run->cfg.listen_gid == (gid_t)-1,
	    "defaults as documented");

	t_ok(strcmp(run->cfg.user, "detach") == 0 && run->cfg.user_line == 0,
	    "user defaults to detach, set on no line");

	t_parse("user", "min_size = 1k\n\nuser =\n  nobody\n");
	t_ok(run->errors == 0 && strcmp(run->cfg.user, "nobody") == 0
	    && run->cfg.user_line == 3, "user read, its line remembered (%d)",
	    run->cfg.user_line);
	t_parse("user twice", "user = a\nuser = _b.c-d\n");
	t_ok(run->errors == 0 && strcmp(run->cfg.user, "_b.c-d") == 0
	    && run->cfg.user_line == 2, "the last user wins, with its line");

	t_parse("metrics_listen emptied", "metrics_listen = 127.0.0.1:9177\n"
	    "metrics_listen =\n");
	t_ok(run->errors == 0 && run->cfg.metrics_listen[0] == 0,
	    "metrics_listen set, then empty again: off");

	t_parse("CRLF file", "min_size = 1k\r\n");
	t_ok(run->errors == 0 && run->cfg.min_size == 1024,
	    "CRLF line ends are white space");
}

/* CFG_USER_MAX at N-1, N, N+1 characters. */
static void
t_user_limit(void)
{
	char	text[CFG_USER_MAX + 32];
	int	d, k;

	for (d = -1; d <= 1; d++) {
		k = snprintf(text, sizeof(text), "user = ");
		memset(text + k, 'u', CFG_USER_MAX + d);
		snprintf(text + k + CFG_USER_MAX + d, sizeof(text) - k -
		    CFG_USER_MAX - d, "\n");
		t_parse("user limit", text);
		if (d <= 0)
			t_ok(run->errors == 0 && strlen(run->cfg.user) ==
			    (size_t)(CFG_USER_MAX + d), "user of %d read",
			    CFG_USER_MAX + d);
		else
			t_ok(run->errors == 1 && strncmp(run->p.err,
			    "test.conf:1: user:", 18) == 0,
			    "user of %d refused: %s", CFG_USER_MAX + d,
			    run->p.err);
	}
}

/*
 * priv_user(): root (uid 0 by definition) and unknown names are errors
 * naming FILE:LINE, or FILE for the default; nobody is Debian's fixed
 * 65534:65534 (base-passwd).
 */
static void
t_priv_user(void)
{
	struct priv_user pu;
	char	why[CFG_LINE_MAX + 256];

	t_parse("user root", "min_size = 1k\nuser = root\n");
	t_ok(priv_user(&run->cfg, "test.conf", &pu, why, sizeof(why)) < 0
	    && strncmp(why, "test.conf:2: user: \"root\" is uid 0", 34) == 0,
	    "user root refused: %s", why);
	t_parse("user unknown", "user = no-such-user-here\n");
	t_ok(priv_user(&run->cfg, "test.conf", &pu, why, sizeof(why)) < 0
	    && strncmp(why, "test.conf:1: user: no such user "
	    "\"no-such-user-here\"", 50) == 0, "unknown user refused: %s",
	    why);
	t_parse("default user unknown", "");
	snprintf(run->cfg.user, sizeof(run->cfg.user), "no-such-user-here");
	t_ok(priv_user(&run->cfg, "test.conf", &pu, why, sizeof(why)) < 0
	    && strncmp(why, "test.conf: user: no such user", 29) == 0,
	    "an unknown default names the file: %s", why);
	t_parse("user nobody", "user = nobody\n");
	t_ok(priv_user(&run->cfg, "test.conf", &pu, why, sizeof(why)) == 0
	    && pu.uid == 65534 && pu.gid == 65534
	    && strcmp(pu.name, "nobody") == 0, "nobody resolved");
}

/*
 * priv_drop() and priv_dirs() as root, in children: the drop takes and
 * cannot be undone; the directory check answers for the user.
 */
static void
t_priv_drop(void)
{
	struct priv_user pu = {"nobody", 65534, 65534}, zero = {"root", 0, 0};
	char	why[CFG_LINE_MAX + 256], dir[] = "/tmp/t_cfg.XXXXXX";
	pid_t	pid;
	int	st;

	if (geteuid() != 0) {
		t_ok(1, "priv_drop: skipped, not root");
		return;
	}
	t_ok(priv_drop(&zero, why, sizeof(why)) < 0, "no drop to uid 0");
	if ((pid = fork()) == 0)
		_exit(priv_drop(&pu, why, sizeof(why)) == 0 && getuid() ==
		    65534 && geteuid() == 65534 && getgid() == 65534
		    && getegid() == 65534 && setuid(0) < 0 && setgid(0) < 0
		    && getgroups(0, 0) == 1 ? 0 : 1);
	t_ok(pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st)
	    && WEXITSTATUS(st) == 0, "priv_drop: ids are nobody's for good");

	t_ok(mkdtemp(dir) != 0, "mkdtemp");
	t_parse("dirs", "");
	snprintf(run->cfg.spool_dir, sizeof(run->cfg.spool_dir), "%s", dir);
	snprintf(run->cfg.store, sizeof(run->cfg.store), "dir:%s", dir);
	t_ok(priv_dirs(&run->cfg, 0, why, sizeof(why)) == 0,
	    "root may write its 0700 directory");
	t_ok(priv_dirs(&run->cfg, &pu, why, sizeof(why)) < 0
	    && strstr(why, "spool_dir ") && strstr(why, dir)
	    && strstr(why, "nobody"), "nobody may not: %s", why);
	t_ok(chmod(dir, 0777) == 0 && priv_dirs(&run->cfg, &pu, why,
	    sizeof(why)) == 0, "nobody may write to a 0777 directory");
	t_ok(chmod(dir, 0775) == 0 && chown(dir, 0, 65534) == 0
	    && priv_dirs(&run->cfg, &pu, why, sizeof(why)) == 0,
	    "and through its group (0775 root:nogroup)");
	t_ok(chmod(dir, 0755) == 0 && priv_dirs(&run->cfg, &pu, why,
	    sizeof(why)) < 0, "but not to a 0755 one of root's");
	snprintf(run->cfg.store, sizeof(run->cfg.store), "dir:/");
	t_ok(chmod(dir, 0777) == 0 && priv_dirs(&run->cfg, &pu, why,
	    sizeof(why)) < 0 && strncmp(why, "store /:", 8) == 0,
	    "a dir store nobody may not write is named: %s", why);
	(void)rmdir(dir);
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
	t_user_limit();
	t_priv_user();
	t_priv_drop();

	t_notice();
	free(run);
	return (t_failed != 0);
}
