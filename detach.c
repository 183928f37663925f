/*
 * NAME
 *	detach - take attachments out of mail and store them once
 * SYNOPSIS
 *	detach [-c file]		before-queue proxy, in the foreground
 *	detach -p [-c file] [-f sender] [--] [recipient ...]
 *					pipe filter: stdin to stdout
 *	detach -R [-c file]		restore: link parts back to attachments
 *	detach -t [-c file]		check the configuration
 *	detach -n [-c file]		print the settings in effect
 *	detach -x [-c file]		delete expired objects (dir store)
 *	detach -V | -h
 * DESCRIPTION
 *	This file holds main(), the configuration (Postfix-style "key =
 *	value" lines), the logs, the clock, and pipe mode's small loop.
 *	Pipe mode runs as whoever calls it: `user` is not looked at.
 *	detach -t, as root, also resolves `user` and checks that it may
 *	write to spool_dir and a dir store (priv.c); as another user, that
 *	it may itself.
 *	The proxy and its poll() loop are in proxy.c, its metrics endpoint
 *	in metrics.c; message jobs in store.c; restore (-R) in restore.c;
 *	MIME in mime.c; SMTP in smtp.c; HTTP in http.c.
 *
 *	The configuration parser is a push parser: cfg_parse_feed() takes
 *	the file in chunks of any size. An unknown key or a bad value is an
 *	error that names FILE:LINE. The policy keys' lists are read by
 *	policy.c when their line is (file: lists too); cfg_load() hands
 *	them to its caller, cfg_free() releases them.
 *
 *	Pipe mode takes the envelope for the policy lists as Postfix's
 *	pipe(8) passes it: -f SENDER ("" is <>) and the recipients after
 *	the options. A message that policy leaves alone is copied from
 *	stdin to stdout, nothing spooled. detach -t warns of each sender
 *	or recipient list: in pipe mode it needs that envelope.
 * LIMITS
 *	CFG_LINE_MAX bytes per logical line; CFG_LISTEN_MAX addresses;
 *	CFG_UNIX_PATH_MAX bytes of a unix: path. listen_group is resolved
 *	when the file is read (at start and on SIGHUP).
 * DIAGNOSTICS
 *	Pipe mode exits 0 when done (also when nothing was detached or the
 *	message passed through), 75 on a store or spool failure under
 *	on_store_failure = tempfail (or when the message could not even be
 *	spooled), 64 on a usage error, 78 on a configuration error, 74 when
 *	standard output fails. Errors go to stderr, one line each.
 *
 *	detach -x prints one line per object deleted and a summary, and
 *	exits 0; also, saying so, when expire = 0 (nothing expires). It
 *	exits 78 for a store that is not a dir store (expiry there is the
 *	bucket's lifecycle rule or the web server's business), and 74 when
 *	the store cannot be read or an object could not be deleted.
 *
 *	Restore (-R) exits 0 when done, 65 when an object is missing or
 *	altered, 75 when the store is down, writing nothing unless every
 *	link part came back (see restore.c).
 * BUGS
 *	Configuration values cannot contain a '#' at the start of a line.
 */
#include <sys/mman.h>
#include <sys/stat.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "detach.h"

#define DETACH_CONFIG	"/etc/detach.conf"
#define DETACH_EX_IOERR	74

/* ------------------------------------------------------------------ */
/* Logs                                                                */
/* ------------------------------------------------------------------ */

static int log_to_syslog;
static int log_quiet;		/* pipe mode: warnings and errors only */
static pid_t log_pid;		/* detach never forks: asked once */

/* log_line - one line, to syslog or to stderr as "detach[PID]: ..." */

static void
log_line(int prio, const char *prefix, const char *fmt, va_list ap)
{
	char	buf[2048];
	size_t	i;

	vsnprintf(buf, sizeof(buf), fmt, ap);
	/* Peer text is made printable where it is logged; this is the
	 * last guard against a broken line in the log. */
	for (i = 0; buf[i]; i++)
		if ((unsigned char)buf[i] < 0x20)
			buf[i] = '?';
	if (log_to_syslog) {
		syslog(prio, "%s%s", prefix, buf);
		return;
	}
	if (log_pid == 0)
		log_pid = getpid();
	fprintf(stderr, "detach[%ld]: %s%s\n", (long)log_pid, prefix, buf);
}

/* log_info - an event, unless in pipe mode */

void
log_info(const char *fmt, ...)
{
	va_list	ap;

	if (log_quiet)
		return;
	va_start(ap, fmt);
	log_line(LOG_INFO, "", fmt, ap);
	va_end(ap);
}

/* log_warn - something went wrong and was handled */

void
log_warn(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_line(LOG_WARNING, "warning: ", fmt, ap);
	va_end(ap);
}

/* log_error - something failed */

void
log_error(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_line(LOG_ERR, "error: ", fmt, ap);
	va_end(ap);
}

/* log_fatal - before the loop starts only: log and exit with code */

void
log_fatal(int code, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_line(LOG_CRIT, "fatal: ", fmt, ap);
	va_end(ap);
	exit(code);
}

/* log_panic - a broken invariant: log and abort */

void
log_panic(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_line(LOG_CRIT, "panic: ", fmt, ap);
	va_end(ap);
	abort();
}

/* clock_ms - the monotonic clock in milliseconds */

int64_t
clock_ms(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) < 0)
		log_panic("clock_gettime: %s", strerror(errno));
	return ((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

/* ------------------------------------------------------------------ */
/* Configuration                                                       */
/* ------------------------------------------------------------------ */

/* How a value is read. */
enum cfg_type {
	CFG_T_STR,		/* any text */
	CFG_T_STORE,		/* dir:/path | http(s)://... | s3://bucket */
	CFG_T_URL,		/* http:// or https:// */
	CFG_T_PATH,		/* absolute path */
	CFG_T_SIZE,		/* bytes, suffix k, m or g */
	CFG_T_TIME,		/* seconds, suffix s, m or h; kept in ms */
	CFG_T_AGE,		/* 0, or days and weeks: suffix h, d or w */
	CFG_T_INT,		/* positive integer */
	CFG_T_BOOL,		/* yes | no */
	CFG_T_SECRET,		/* 64 hex digits */
	CFG_T_FAIL,		/* keep | tempfail */
	CFG_T_LOG,		/* stderr | syslog */
	CFG_T_ADDR,		/* host:port, [v6]:port or unix:/path */
	CFG_T_OPTADDR,		/* empty (off), or an ADDR */
	CFG_T_LISTEN,		/* one or more ADDR */
	CFG_T_MODE,		/* octal permission bits, up to 0777 */
	CFG_T_GROUP,		/* a group name, or empty */
	CFG_T_AUTH,		/* none | basic:U:P | header:N:V */
	CFG_T_CREDS,		/* a file holding the two S3 keys */
	CFG_T_USER,		/* a login name */
	CFG_T_POLICY,		/* a policy list, see policy.c */
	CFG_T_LANG,		/* en | fr */
	CFG_T_NOTICE,		/* a notice template file, or "" */
};

struct cfg_key {
	const char *name;
	enum cfg_type type;
	size_t	off;		/* offset in struct cfg */
	size_t	size;		/* of a string field */
	const char *def;	/* the default, as text */
	int	masked;		/* shown masked by -n */
};

#define CFG_S(f)	offsetof(struct cfg, f), sizeof(((struct cfg *)0)->f)
#define CFG_N(f)	offsetof(struct cfg, f), 0

static const struct cfg_key cfg_keys[] = {
	{"store", CFG_T_STORE, CFG_S(store), "dir:/var/lib/detach/store", 0},
	{"link_base", CFG_T_URL, CFG_S(link_base),
	"https://files.example.org/a/", 0},
	{"min_size", CFG_T_SIZE, CFG_N(min_size), "100k", 0},
	{"secret", CFG_T_SECRET, CFG_N(secret), "", 1},
	{"on_store_failure", CFG_T_FAIL, CFG_N(on_store_failure), "keep", 0},
	{"spool_dir", CFG_T_PATH, CFG_S(spool_dir), "/var/spool/detach", 0},
	{"listen", CFG_T_LISTEN, CFG_N(listen), "127.0.0.1:10025", 0},
	{"forward", CFG_T_ADDR, CFG_S(forward), "127.0.0.1:10026", 0},
	{"max_sessions", CFG_T_INT, CFG_N(max_sessions), "100", 0},
	{"timeout", CFG_T_TIME, CFG_N(timeout_ms), "90s", 0},
	{"hostname", CFG_T_STR, CFG_S(hostname), "", 0},
	{"log", CFG_T_LOG, CFG_N(log_syslog), "stderr", 0},
	{"store_auth", CFG_T_AUTH, CFG_S(store_auth), "none", 1},
	{"s3_endpoint", CFG_T_URL, CFG_S(s3_endpoint),
	"https://s3.us-east-1.amazonaws.com", 0},
	{"s3_region", CFG_T_STR, CFG_S(s3_region), "us-east-1", 0},
	{"s3_access_key", CFG_T_STR, CFG_S(s3_access_key), "", 1},
	{"s3_secret_key", CFG_T_STR, CFG_S(s3_secret_key), "", 1},
	{"s3_credentials_file", CFG_T_CREDS, CFG_S(s3_credentials_file), "", 0},
	{"s3_path_style", CFG_T_BOOL, CFG_N(s3_path_style), "no", 0},
	{"tls_ca_file", CFG_T_PATH, CFG_S(tls_ca_file),
	"/etc/ssl/certs/ca-certificates.crt", 0},
	{"upload_timeout", CFG_T_TIME, CFG_N(upload_timeout_ms), "60s", 0},
	{"expire", CFG_T_AGE, CFG_N(expire_s), "0", 0},
	{"user", CFG_T_USER, CFG_S(user), "detach", 0},
	{"listen_mode", CFG_T_MODE, CFG_N(listen_mode), "0660", 0},
	{"listen_group", CFG_T_GROUP, CFG_S(listen_group), "", 0},
	{"metrics_listen", CFG_T_OPTADDR, CFG_S(metrics_listen), "", 0},
	{"detach_senders", CFG_T_POLICY, CFG_S(detach_senders), "", 0},
	{"skip_senders", CFG_T_POLICY, CFG_S(skip_senders), "", 0},
	{"detach_recipients", CFG_T_POLICY, CFG_S(detach_recipients), "", 0},
	{"skip_recipients", CFG_T_POLICY, CFG_S(skip_recipients), "", 0},
	{"skip_clients", CFG_T_POLICY, CFG_S(skip_clients), "", 0},
	{"notice_lang", CFG_T_LANG, CFG_N(notice_lang), "en", 0},
	{"notice_file", CFG_T_NOTICE, CFG_S(notice_file), "", 0},
	{0, 0, 0, 0, 0, 0},
};

/* cfg_number - digits and an optional unit suffix from units[] */

static int
cfg_number(const char *v, const char *units, const uint64_t *mult,
    uint64_t *out)
{
	uint64_t n = 0;
	const char *u;

	if (!isdigit((unsigned char)*v))
		return (-1);
	for (; isdigit((unsigned char)*v); v++) {
		if (n > (UINT64_MAX - 9) / 10)
			return (-1);
		n = n * 10 + (*v - '0');
	}
	if (*v) {
		if (v[1] || (u = strchr(units, tolower((unsigned char)*v))) == 0)
			return (-1);
		if (n > UINT64_MAX / mult[u - units])
			return (-1);
		n *= mult[u - units];
	}
	*out = n;
	return (0);
}

/*
 * cfg_addr_why - "host:port" or "[v6]:port" with a port in 1..65535, or
 * "unix:/path" with an absolute path that fits sun_path; 0 when good,
 * else what is wrong
 */
static const char *
cfg_addr_why(const char *v)
{
	const char *colon;
	char   *end;
	long	port;

	if (strncmp(v, "unix:", 5) == 0) {
		if (v[5] != '/')
			return ("expected unix:/absolute/path");
		if (strlen(v + 5) > CFG_UNIX_PATH_MAX)
			return ("unix: path longer than 107 bytes");
		return (0);
	}
	if (*v == '[') {
		if ((colon = strstr(v, "]:")) == 0 || colon == v + 1)
			goto bad;
		colon++;
	} else if ((colon = strrchr(v, ':')) == 0 || colon == v
	    || memchr(v, ':', colon - v)) {
		goto bad;
	}
	port = strtol(colon + 1, &end, 10);
	if (*end == 0 && colon[1] && port > 0 && port < 65536)
		return (0);
bad:
	return ("expected host:port, [ipv6]:port or unix:/path");
}

/* cfg_hex - a hex digit's value, or -1 */

static int
cfg_hex(int c)
{
	if (c >= '0' && c <= '9')
		return (c - '0');
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return (c - 'a' + 10);
	return (-1);
}

/* cfg_read_creds - s3_credentials_file: "access_key secret_key" lines
 * as keys s3_access_key/s3_secret_key or aws_access_key_id/
 * aws_secret_access_key, "key = value" each. */
static const char *
cfg_read_creds(struct cfg *cfg, const char *path)
{
	FILE   *fp;
	char	line[CFG_LINE_MAX], *k, *v, *e;
	int	got = 0;

	if ((fp = fopen(path, "r")) == 0)
		return (strerror(errno));
	while (fgets(line, sizeof(line), fp)) {
		for (e = line + strlen(line); e > line && isspace((unsigned char)e[-1]);)
			*--e = 0;
		if ((v = strchr(line, '=')) == 0)
			continue;
		*v++ = 0;
		for (k = line; isspace((unsigned char)*k); k++)
			;
		for (e = v - 1; e > k && isspace((unsigned char)e[-1]);)
			*--e = 0;
		while (isspace((unsigned char)*v))
			v++;
		if (strcmp(k, "s3_access_key") == 0
		    || strcmp(k, "aws_access_key_id") == 0) {
			snprintf(cfg->s3_access_key, sizeof(cfg->s3_access_key),
			    "%s", v);
			got |= 1;
		} else if (strcmp(k, "s3_secret_key") == 0
		    || strcmp(k, "aws_secret_access_key") == 0) {
			snprintf(cfg->s3_secret_key, sizeof(cfg->s3_secret_key),
			    "%s", v);
			got |= 2;
		}
	}
	fclose(fp);
	explicit_bzero(line, sizeof(line));
	return (got == 3 ? 0 : "needs the access key and the secret key");
}

/*
 * cfg_read_notice - notice_file: read the template whole (at most
 * MIME_NOTICE_MAX bytes) and check it; 0, or -1 with why naming the
 * file, and the line for a fault in the text. Read at every load, so
 * SIGHUP rereads it.
 */
static int
cfg_read_notice(struct cfg *cfg, const char *path, const char **why)
{
	static char err[CFG_LINE_MAX + 160];
	char	text[MIME_NOTICE_MAX + 2], what[128];
	size_t	len = 0;
	ssize_t	n;
	int	fd, line;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		snprintf(err, sizeof(err), "%.*s: %s", CFG_LINE_MAX, path,
		    strerror(errno));
		return (*why = err, -1);
	}
	while (len < sizeof(text) - 1) {
		n = read(fd, text + len, sizeof(text) - 1 - len);
		if (n == 0)
			break;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			snprintf(err, sizeof(err), "%.*s: %s", CFG_LINE_MAX,
			    path, strerror(errno));
			(void)close(fd);
			return (*why = err, -1);
		}
		len += n;
	}
	(void)close(fd);
	text[len] = 0;
	if (mime_notice_check(text, len, &line, what, sizeof(what)) < 0) {
		if (line)
			snprintf(err, sizeof(err), "%.*s:%d: %s", CFG_LINE_MAX,
			    path, line, what);
		else
			snprintf(err, sizeof(err), "%.*s: %s", CFG_LINE_MAX,
			    path, what);
		return (*why = err, -1);
	}
	memcpy(cfg->notice, text, len + 1);
	cfg->notice_len = len;
	return (0);
}

/*
 * cfg_set - give key its value; 0, or -1 with a reason in why
 */
static int
cfg_set(struct cfg *cfg, const struct cfg_key *k, const char *v,
    const char **why)
{
	static const char tunit[] = "smh";
	static const uint64_t tmult[] = {1, 60, 3600};
	static const char aunit[] = "hdw";
	static const uint64_t amult[] = {3600, 86400, 7 * 86400};
	static const char sunit[] = "kmg";
	static const uint64_t smult[] = {1024, 1024 * 1024,
	1024 * 1024 * 1024};
	char   *base = (char *)cfg + k->off;
	uint64_t n;
	const char *p;
	size_t	len = strlen(v), i;

	switch (k->type) {
	case CFG_T_STORE:
		if (strncmp(v, "dir:/", 5) == 0)
			cfg->store_kind = CFG_STORE_DIR;
		else if (strncmp(v, "s3://", 5) == 0 && v[5] && v[5] != '/')
			cfg->store_kind = CFG_STORE_S3;
		else if (strncmp(v, "http://", 7) == 0
		    || strncmp(v, "https://", 8) == 0)
			cfg->store_kind = CFG_STORE_HTTP;
		else
			return (*why = "expected dir:/path, http(s)://... or "
			    "s3://bucket", -1);
		break;
	case CFG_T_URL:
		if (strncmp(v, "http://", 7) != 0 && strncmp(v, "https://", 8) != 0)
			return (*why = "expected an http:// or https:// URL", -1);
		for (p = v; *p; p++)
			if (*p <= ' ' || *p == 0x7f)
				return (*why = "white space in URL", -1);
		break;
	case CFG_T_PATH:
	case CFG_T_CREDS:
		if (v[0] != '/' && !(k->type == CFG_T_CREDS && v[0] == 0))
			return (*why = "expected an absolute path", -1);
		if (k->type == CFG_T_CREDS && v[0]
		    && (*why = cfg_read_creds(cfg, v)) != 0)
			return (-1);
		break;
	case CFG_T_SIZE:
		if (cfg_number(v, sunit, smult, &n) < 0)
			return (*why = "expected a size like 100k or 10m", -1);
		cfg->min_size = n;
		return (0);
	case CFG_T_TIME:
		if (cfg_number(v, tunit, tmult, &n) < 0 || n == 0 || n > 3600)
			return (*why = "expected a time of 1s to 1h, like 90s",
			    -1);
		*(int *)base = (int)(n * 1000);
		return (0);
	case CFG_T_AGE:
		/* Ten years bounds the date arithmetic; 0 is never. */
		if (cfg_number(v, aunit, amult, &n) < 0
		    || n > 3650ULL * 86400 || (n != 0 && n < 3600))
			return (*why = "expected 0 (never), or an age of 1h to "
			    "3650d, like 30d or 12w", -1);
		*(uint64_t *)base = n;
		return (0);
	case CFG_T_INT:
		if (cfg_number(v, "", 0, &n) < 0 || n == 0 || n > 100000)
			return (*why = "expected a number from 1 to 100000", -1);
		*(int *)base = (int)n;
		return (0);
	case CFG_T_BOOL:
		if (strcmp(v, "yes") != 0 && strcmp(v, "no") != 0)
			return (*why = "expected yes or no", -1);
		*(int *)base = (v[0] == 'y');
		return (0);
	case CFG_T_FAIL:
		if (strcmp(v, "keep") != 0 && strcmp(v, "tempfail") != 0)
			return (*why = "expected keep or tempfail", -1);
		cfg->on_store_failure = v[0] == 'k' ? CFG_FAIL_KEEP :
		    CFG_FAIL_TEMPFAIL;
		return (0);
	case CFG_T_LOG:
		if (strcmp(v, "stderr") != 0 && strcmp(v, "syslog") != 0)
			return (*why = "expected stderr or syslog", -1);
		cfg->log_syslog = (v[1] == 'y');
		return (0);
	case CFG_T_SECRET:
		if (len == 0) {
			cfg->secret_set = 0;
			return (0);
		}
		if (len != 64)
			return (*why = "expected 64 hex digits", -1);
		for (i = 0; i < 32; i++) {
			int	hi = cfg_hex(v[2 * i]), lo = cfg_hex(v[2 * i + 1]);

			if (hi < 0 || lo < 0)
				return (*why = "expected 64 hex digits", -1);
			cfg->secret[i] = hi << 4 | lo;
		}
		cfg->secret_set = 1;
		return (0);
	case CFG_T_ADDR:
		if ((*why = cfg_addr_why(v)) != 0)
			return (-1);
		break;
	case CFG_T_OPTADDR:
		if (*v && (*why = cfg_addr_why(v)) != 0)
			return (-1);
		break;
	case CFG_T_LISTEN:
		{
			char	copy[CFG_LINE_MAX], *tok, *save;
			int	nl = 0, k;

			snprintf(copy, sizeof(copy), "%s", v);
			for (tok = strtok_r(copy, ", \t", &save); tok;
			    tok = strtok_r(0, ", \t", &save)) {
				if ((*why = cfg_addr_why(tok)) != 0)
					return (-1);
				if (nl >= CFG_LISTEN_MAX
				    || strlen(tok) >= sizeof(cfg->listen[0]))
					return (*why = "too many or too long "
					    "addresses", -1);
				for (k = 0; k < nl; k++)
					if (strcmp(cfg->listen[k], tok) == 0)
						return (*why = "an address "
						    "given twice", -1);
				snprintf(cfg->listen[nl++], sizeof(cfg->listen[0]),
				    "%s", tok);
			}
			if (nl == 0)
				return (*why = "expected host:port, "
				    "[ipv6]:port or unix:/path", -1);
			cfg->nlisten = nl;
			return (0);
		}
	case CFG_T_MODE:
		/* Set-id and sticky bits mean nothing on a socket. */
		if (len == 0 || len > 4 || strspn(v, "01234567") != len
		    || (n = strtoul(v, 0, 8)) > 0777)
			return (*why = "expected octal permissions up to 0777, "
			    "like 0660", -1);
		*(int *)base = (int)n;
		return (0);
	case CFG_T_GROUP:
		/* Resolved at start and on SIGHUP, never in the loop. */
		if (len == 0)
			cfg->listen_gid = (gid_t)-1;
		else {
			struct group *gr;

			errno = 0;
			if ((gr = getgrnam(v)) == 0)
				return (*why = errno ? strerror(errno) :
				    "no such group", -1);
			cfg->listen_gid = gr->gr_gid;
		}
		break;
	case CFG_T_AUTH:
		if (strcmp(v, "none") != 0
		    && !(strncmp(v, "basic:", 6) == 0 && strchr(v + 6, ':'))
		    && !(strncmp(v, "header:", 7) == 0 && strchr(v + 7, ':')
		    && v[7] != ':'))
			return (*why = "expected none, basic:USER:PASS or "
			    "header:NAME:VALUE", -1);
		break;
	case CFG_T_USER:
		/* useradd's portable names: letters, digits, '.', '_', '-',
		 * not starting with '-'; never a number, which getpwnam()
		 * would not take for a uid anyway. Resolved by priv.c, and
		 * only when started as root: pipe mode never looks. */
		if (len == 0 || len > CFG_USER_MAX || v[0] == '-'
		    || strspn(v, "0123456789") == len
		    || strspn(v, "abcdefghijklmnopqrstuvwxyz"
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != len)
			return (*why = "expected a user name (letters, digits, "
			    "'.', '_', '-'; at most 32)", -1);
		break;
	case CFG_T_POLICY:
		{
			/* The reason may name a list file and its line. */
			static char pwhy[CFG_LINE_MAX + 256];

			if (len >= k->size)
				return (*why = "value too long", -1);
			if (policy_set(&cfg->policy, policy_list_id(k->name),
			    v, pwhy, sizeof(pwhy)) < 0)
				return (*why = pwhy, -1);
			break;
		}
	case CFG_T_STR:
		break;
	case CFG_T_LANG:
		if (strcmp(v, "en") == 0)
			cfg->notice_lang = MIME_LANG_EN;
		else if (strcmp(v, "fr") == 0)
			cfg->notice_lang = MIME_LANG_FR;
		else
			return (*why = "expected en or fr", -1);
		return (0);
	case CFG_T_NOTICE:
		cfg->notice_len = 0;
		cfg->notice[0] = 0;
		if (v[0] && v[0] != '/')
			return (*why = "expected an absolute path", -1);
		if (v[0] && cfg_read_notice(cfg, v, why) < 0)
			return (-1);
		break;
	default:
		log_panic("cfg_set: bad type");
	}
	if (len >= k->size)
		return (*why = "value too long", -1);
	memcpy(base, v, len + 1);
	return (0);
}

/* cfg_defaults - every key at its default */

void
cfg_defaults(struct cfg *cfg)
{
	const struct cfg_key *k;
	const char *why;

	memset(cfg, 0, sizeof(*cfg));
	for (k = cfg_keys; k->name; k++)
		if (cfg_set(cfg, k, k->def, &why) < 0)
			log_panic("default %s: %s", k->name, why);
}

/* cfg_parse_init - start parsing a file named file into cfg */

void
cfg_parse_init(struct cfg_parse *p, struct cfg *cfg, const char *file)
{
	memset(p, 0, sizeof(*p));
	p->cfg = cfg;
	p->file = file;
}

/* cfg_error - note the first error as FILE:LINE: text */

static void
cfg_error(struct cfg_parse *p, int line, const char *fmt, ...)
{
	va_list	ap;
	int	n;

	if (p->errors++)
		return;
	n = snprintf(p->err, sizeof(p->err), "%s:%d: ", p->file, line);
	if (n < 0 || n >= (int)sizeof(p->err))
		return;
	va_start(ap, fmt);
	vsnprintf(p->err + n, sizeof(p->err) - n, fmt, ap);
	va_end(ap);
}

/* cfg_logical - one logical line (continuations joined) */

static void
cfg_logical(struct cfg_parse *p)
{
	const struct cfg_key *k;
	char   *s = p->line, *e, *eq, *v;
	const char *why;

	s[p->len] = 0;
	if (p->overlong) {
		cfg_error(p, p->start_line, "line longer than %d bytes",
		    CFG_LINE_MAX);
		return;
	}
	while (isspace((unsigned char)*s))
		s++;
	if (*s == 0)
		return;
	if ((eq = strchr(s, '=')) == 0) {
		cfg_error(p, p->start_line, "expected key = value");
		return;
	}
	for (e = eq; e > s && isspace((unsigned char)e[-1]); e--)
		;
	*e = 0;
	for (v = eq + 1; isspace((unsigned char)*v); v++)
		;
	for (e = v + strlen(v); e > v && isspace((unsigned char)e[-1]); e--)
		;
	*e = 0;
	for (k = cfg_keys; k->name; k++)
		if (strcmp(k->name, s) == 0)
			break;
	if (k->name == 0) {
		cfg_error(p, p->start_line, "unknown key \"%.64s\"", s);
		return;
	}
	if (cfg_set(p->cfg, k, v, &why) < 0)
		cfg_error(p, p->start_line, "%s: %s", k->name, why);
	else if (k->type == CFG_T_USER)
		p->cfg->user_line = p->start_line;	/* for priv_user() */
}

/* cfg_physical - one physical line: comment, continuation or new */

static void
cfg_physical(struct cfg_parse *p, const char *s, size_t n)
{
	size_t	i;

	p->lineno++;
	for (i = 0; i < n && (s[i] == ' ' || s[i] == '\t'); i++)
		;
	if (i < n && s[i] == '#')
		return;			/* comment */
	if (i == n) {
		return;			/* blank */
	}
	if (i > 0 && p->have) {
		/* Postfix: a line that starts with white space continues
		 * the one before. */
		if (p->len + 1 + n - i > CFG_LINE_MAX) {
			p->overlong = 1;
			return;
		}
		p->line[p->len++] = ' ';
		memcpy(p->line + p->len, s + i, n - i);
		p->len += n - i;
		return;
	}
	if (p->have)
		cfg_logical(p);
	p->have = 1;
	p->overlong = 0;
	p->start_line = p->lineno;
	if (n > CFG_LINE_MAX) {
		p->overlong = 1;
		p->len = 0;
		return;
	}
	memcpy(p->line, s, n);
	p->len = n;
}

/*
 * cfg_parse_feed - push configuration text, in chunks of any size
 *
 * A physical line is gathered in p->buf (bounded); a longer one is an
 * error at its line. Returns the number of errors so far.
 */
int
cfg_parse_feed(struct cfg_parse *p, const void *buf, size_t len)
{
	const char *s = buf, *end = s + len, *nl;
	size_t	n;

	while (s < end) {
		nl = memchr(s, '\n', end - s);
		n = (nl ? nl : end) - s;
		if (p->blen + n > CFG_LINE_MAX) {
			p->boverlong = 1;
			n = CFG_LINE_MAX - p->blen;
		}
		memcpy(p->buf + p->blen, s, n);
		p->blen += n;
		if (nl == 0)
			break;
		s = nl + 1;
		if (p->boverlong) {
			p->lineno++;
			cfg_error(p, p->lineno, "line longer than %d bytes",
			    CFG_LINE_MAX);
			if (p->have)
				cfg_logical(p);
			p->have = 0;
		} else {
			cfg_physical(p, p->buf, p->blen);
		}
		p->blen = 0;
		p->boverlong = 0;
	}
	return (p->errors);
}

/* cfg_parse_finish - the text ended; returns the number of errors */

int
cfg_parse_finish(struct cfg_parse *p)
{
	if (p->blen > 0 || p->boverlong) {
		if (p->boverlong) {
			p->lineno++;
			cfg_error(p, p->lineno, "line longer than %d bytes",
			    CFG_LINE_MAX);
		} else {
			cfg_physical(p, p->buf, p->blen);
		}
		p->blen = 0;
	}
	if (p->have)
		cfg_logical(p);
	p->have = 0;
	return (p->errors);
}

/*
 * cfg_check - what must hold across keys; 0, or -1 with why
 */
static int
cfg_check(struct cfg *cfg, const char *file, char *why, size_t len)
{
	if (!cfg->secret_set) {
		snprintf(why, len, "%s: secret is not set (64 hex digits, e.g. "
		    "from: head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \\n')",
		    file);
		return (-1);
	}
	if (cfg->store_kind != CFG_STORE_DIR
	    && http_url_check(cfg->store, why, len) < 0)
		return (-1);
	if (cfg->store_kind == CFG_STORE_S3
	    && (!cfg->s3_access_key[0] || !cfg->s3_secret_key[0])) {
		snprintf(why, len, "%s: an s3 store needs s3_access_key and "
		    "s3_secret_key, or s3_credentials_file", file);
		return (-1);
	}
	if (cfg->hostname[0] == 0 && (gethostname(cfg->hostname,
	    sizeof(cfg->hostname) - 1) < 0 || cfg->hostname[0] == 0))
		snprintf(cfg->hostname, sizeof(cfg->hostname), "localhost");
	return (0);
}

/*
 * cfg_load - read a configuration file into cfg; 0, or -1 with why
 *
 * cfg is only changed when the whole file is good, so a bad file on
 * SIGHUP leaves the settings in effect as they were. Without check,
 * what must hold across keys (a secret, S3 keys) is not required.
 * The file: lists of the policy keys are read here, so a reload
 * rereads them. On success the caller holds cfg->policy's reference
 * and releases it with cfg_free(); what cfg held before is overwritten.
 */
int
cfg_load(struct cfg *cfg, const char *file, int check, char *why, size_t len)
{
	struct cfg_parse p;
	struct cfg next;
	char	buf[4096];
	ssize_t	n;
	int	fd;

	cfg_defaults(&next);
	if ((fd = open(file, O_RDONLY | O_CLOEXEC)) < 0) {
		snprintf(why, len, "%s: %s", file, strerror(errno));
		return (-1);
	}
	cfg_parse_init(&p, &next, file);
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			snprintf(why, len, "%s: %s", file, strerror(errno));
			(void)close(fd);
			cfg_free(&next);
			return (-1);
		}
		cfg_parse_feed(&p, buf, n);
	}
	(void)close(fd);
	if (cfg_parse_finish(&p) > 0) {
		snprintf(why, len, "%s", p.err);
		cfg_free(&next);
		return (-1);
	}
	if (check && cfg_check(&next, file, why, len) < 0) {
		cfg_free(&next);
		return (-1);
	}
	*cfg = next;
	explicit_bzero(&next, sizeof(next));
	return (0);
}

/* cfg_free - release what a loaded configuration holds (its lists) */

void
cfg_free(struct cfg *cfg)
{
	policy_unref(cfg->policy);
	cfg->policy = 0;
}

/* cfg_value - the text of a setting, for -n */

static void
cfg_value(const struct cfg *cfg, const struct cfg_key *k, char *buf,
    size_t size)
{
	const char *base = (const char *)cfg + k->off;
	uint64_t n;
	int	i;

	switch (k->type) {
	case CFG_T_SIZE:
		n = cfg->min_size;
		if (n && n % (1024 * 1024) == 0)
			snprintf(buf, size, "%llum", (unsigned long long)(n >> 20));
		else if (n && n % 1024 == 0)
			snprintf(buf, size, "%lluk", (unsigned long long)(n >> 10));
		else
			snprintf(buf, size, "%llu", (unsigned long long)n);
		break;
	case CFG_T_TIME:
		snprintf(buf, size, "%ds", *(const int *)base / 1000);
		break;
	case CFG_T_AGE:
		n = *(const uint64_t *)base;
		if (n && n % (7 * 86400) == 0)
			snprintf(buf, size, "%lluw", (unsigned long long)(n /
			    (7 * 86400)));
		else if (n && n % 86400 == 0)
			snprintf(buf, size, "%llud", (unsigned long long)(n /
			    86400));
		else if (n && n % 3600 == 0)
			snprintf(buf, size, "%lluh", (unsigned long long)(n /
			    3600));
		else
			snprintf(buf, size, "%llu", (unsigned long long)n);
		break;
	case CFG_T_INT:
		snprintf(buf, size, "%d", *(const int *)base);
		break;
	case CFG_T_MODE:
		snprintf(buf, size, "%04o", (unsigned)*(const int *)base);
		break;
	case CFG_T_BOOL:
		snprintf(buf, size, "%s", *(const int *)base ? "yes" : "no");
		break;
	case CFG_T_FAIL:
		snprintf(buf, size, "%s", cfg->on_store_failure ==
		    CFG_FAIL_KEEP ? "keep" : "tempfail");
		break;
	case CFG_T_LOG:
		snprintf(buf, size, "%s", cfg->log_syslog ? "syslog" : "stderr");
		break;
	case CFG_T_LANG:
		snprintf(buf, size, "%s", cfg->notice_lang == MIME_LANG_FR ?
		    "fr" : "en");
		break;
	case CFG_T_SECRET:
		snprintf(buf, size, "%s", cfg->secret_set ? "(set, hidden)" :
		    "(not set)");
		break;
	case CFG_T_LISTEN:
		buf[0] = 0;
		for (i = 0; i < cfg->nlisten; i++)
			snprintf(buf + strlen(buf), size - strlen(buf), "%s%s",
			    i ? ", " : "", cfg->listen[i]);
		break;
	default:
		snprintf(buf, size, "%s", base);
		break;
	}
	if (k->masked && k->type != CFG_T_SECRET && buf[0]
	    && strcmp(buf, "none") != 0) {
		/* store_auth: keep the scheme, hide the rest. */
		const char *c = strchr(buf, ':');

		if (k->type == CFG_T_AUTH && c)
			snprintf(buf + (c - buf), size - (c - buf), ":(hidden)");
		else
			snprintf(buf, size, "(set, hidden)");
	}
}

/* cfg_print - every setting, defaults included, as "key = value" */

void
cfg_print(const struct cfg *cfg, int fd)
{
	const struct cfg_key *k;
	char	val[CFG_LINE_MAX * 2];

	for (k = cfg_keys; k->name; k++) {
		cfg_value(cfg, k, val, sizeof(val));
		dprintf(fd, "%s = %s\n", k->name, val);
	}
}

#ifndef DETACH_NO_MAIN
/* ------------------------------------------------------------------ */
/* Pipe mode                                                           */
/* ------------------------------------------------------------------ */

/* pipe_passthru - copy stdin to stdout untouched (nothing spooled);
 * why, if not 0, is a failure to warn of */

static int
pipe_passthru(const char *why)
{
	char	buf[SPOOL_IO_MAX];
	ssize_t	n;

	if (why)
		log_warn("%s; message passed through unchanged", why);
	while ((n = read(0, buf, sizeof(buf))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			log_error("read: %s", strerror(errno));
			return (DETACH_EX_IOERR);
		}
		if (store_write_all(1, buf, n) < 0) {
			log_error("write: %s", strerror(errno));
			return (DETACH_EX_IOERR);
		}
	}
	return (DETACH_EX_OK);
}

/*
 * pipe_map - scan a file on stdin through a sliding window of mapped
 * pages instead of read(): no copy into our buffer, and RSS bounded by
 * PIPE_WINDOW. Leaves the offset at the end of the file, as read()
 * would. Returns 0, or an exit code.
 */
#define PIPE_WINDOW	(4 << 20)

static int
pipe_map(struct msg *m, off_t size)
{
	off_t	base, off, len;
	void   *p;

	if ((base = lseek(0, 0, SEEK_CUR)) < 0)
		return (0);
	for (off = base & ~(off_t)(PIPE_WINDOW - 1); off < size; off += len) {
		len = size - off < PIPE_WINDOW ? size - off : PIPE_WINDOW;
		p = mmap(0, len, PROT_READ, MAP_PRIVATE | MAP_POPULATE, 0, off);
		if (p == MAP_FAILED) {
			log_error("mmap: %s", strerror(errno));
			return (DETACH_EX_IOERR);
		}
		if (msg_feed(m, (char *)p + (off < base ? base - off : 0),
		    len - (off < base ? base - off : 0)) < 0) {
			log_error("%s", msg_why(m));
			(void)munmap(p, len);
			return (DETACH_EX_TEMPFAIL);
		}
		(void)munmap(p, len);
	}
	if (lseek(0, size, SEEK_SET) < 0)
		return (DETACH_EX_IOERR);
	return (0);
}

/* pipe_store - drive the uploads of one message in a private loop */

static int
pipe_store(struct msg *m)
{
	struct pollfd pfd[DETACH_OBJECTS_MAX * 2];
	int64_t	deadline, now;
	int	n, ms;

	while (msg_state(m) == MSG_STORING) {
		now = clock_ms();
		deadline = now + 1000;
		n = msg_poll(m, pfd, DETACH_OBJECTS_MAX * 2, &deadline);
		ms = deadline > now ? (int)(deadline - now) : 0;
		if (poll(pfd, n, ms) < 0 && errno != EINTR) {
			log_error("poll: %s", strerror(errno));
			return (-1);
		}
		msg_event(m, pfd, n, clock_ms());
	}
	return (0);
}

/*
 * pipe_addr - the lists an address of the command line is in: as
 * pipe(8) gives it without its q flag ("john doe@example.org"), or,
 * starting with '"' or '<', an SMTP path
 */
static int
pipe_addr(const struct cfg *cfg, const char *a)
{
	char	path[SMTP_ENVCMD_MAX + 1];
	int	n;

	if (a[0] != '"' && a[0] != '<')
		return (policy_addr(cfg->policy, a, strlen(a)));
	if ((n = smtp_path(a, path, sizeof(path))) < 0)
		return (POLICY_DOUBT);
	return (policy_addr(cfg->policy, path, (size_t)n));
}

/*
 * pipe_policy - the key that leaves the message alone, from the envelope
 * on the command line (pipe(8): -f ${sender} -- ${recipient}), or 0.
 * The sender "" (or "<>") is the null sender; without -f the sender
 * lists do not apply, without recipients the recipient lists do not,
 * and skip_clients never does (no client is known).
 */
static const char *
pipe_policy(const struct cfg *cfg, const char *sender, char **rcpt,
    int nrcpt)
{
	struct policy_env env;
	int	i;

	policy_env_init(&env);
	if (sender)
		policy_env_sender(&env, pipe_addr(cfg, sender));
	for (i = 0; i < nrcpt; i++)
		policy_env_rcpt(&env, pipe_addr(cfg, rcpt[i]));
	return (policy_verdict(cfg->policy, &env));
}

/* pipe_run - one message from stdin to stdout */

static int
pipe_run(const struct cfg *cfg, const char *sender, char **rcpt, int nrcpt)
{
	char	buf[SPOOL_IO_MAX], why[512];
	struct stat st;
	struct msg *m;
	ssize_t	n;
	int	tempfail = cfg->on_store_failure == CFG_FAIL_TEMPFAIL;

	if (pipe_policy(cfg, sender, rcpt, nrcpt) != 0)
		return (pipe_passthru(0));

	if (store_init(cfg, why, sizeof(why)) < 0) {
		if (tempfail) {
			log_error("store: %s", why);
			return (DETACH_EX_TEMPFAIL);
		}
		return (pipe_passthru(why));
	}
	if ((m = msg_new(cfg, why, sizeof(why))) == 0) {
		if (tempfail) {
			log_error("%s", why);
			return (DETACH_EX_TEMPFAIL);
		}
		return (pipe_passthru(why));
	}
	/* One message in this process: a second core can hash. */
	msg_hash_behind(m);
	/* A file on stdin need not be spooled again, nor copied in. */
	if (fstat(0, &st) == 0 && S_ISREG(st.st_mode)
	    && msg_source(m, 0) == 0 && (n = pipe_map(m, st.st_size)) != 0) {
		msg_free(m);
		return (n);
	}
	while ((n = read(0, buf, sizeof(buf))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			log_error("read: %s", strerror(errno));
			msg_free(m);
			return (DETACH_EX_IOERR);
		}
		if (msg_feed(m, buf, n) < 0) {
			/* Bytes already taken cannot be given back. */
			log_error("%s", msg_why(m));
			msg_free(m);
			return (DETACH_EX_TEMPFAIL);
		}
	}
	msg_end(m, clock_ms());
	if (pipe_store(m) < 0 || msg_state(m) == MSG_TEMPFAIL) {
		log_error("%s", msg_why(m));
		msg_free(m);
		return (DETACH_EX_TEMPFAIL);
	}
	while ((n = msg_read(m, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			log_error("spool read: %s", strerror(errno));
			msg_free(m);
			return (DETACH_EX_TEMPFAIL);
		}
		if (store_write_all(1, buf, n) < 0) {
			log_error("write: %s", strerror(errno));
			msg_free(m);
			return (DETACH_EX_IOERR);
		}
	}
	msg_free(m);
	store_shutdown();
	return (DETACH_EX_OK);
}

/* ------------------------------------------------------------------ */
/* Sweep                                                               */
/* ------------------------------------------------------------------ */

/* sweep_run - detach -x: expired objects out of a dir store */

static int
sweep_run(const struct cfg *cfg)
{
	struct sweep_stats s;
	struct timespec ts;

	if (cfg->store_kind != CFG_STORE_DIR) {
		fprintf(stderr, "detach -x sweeps dir stores only; for %.200s "
		    "the expiry is the bucket's lifecycle rule (s3) or the web "
		    "server's (http), set to match expire (see detach(8), "
		    "Expiry)\n",
		    cfg->store);
		return (DETACH_EX_CONFIG);
	}
	if (cfg->expire_s == 0) {
		printf("expire = 0: objects never expire, nothing to sweep\n");
		return (DETACH_EX_OK);
	}
	if (clock_gettime(CLOCK_REALTIME, &ts) < 0)
		log_fatal(DETACH_EX_OSERR, "clock_gettime: %s",
		    strerror(errno));
	if (sweep_dir(cfg->store + 4, cfg->expire_s, ts.tv_sec, &s) < 0)
		return (DETACH_EX_IOERR);
	printf("swept %s: deleted %llu objects, %llu bytes; kept %llu",
	    cfg->store + 4, (unsigned long long)s.deleted,
	    (unsigned long long)s.bytes, (unsigned long long)s.kept);
	if (s.temps)
		printf("; deleted %llu stale temporary files",
		    (unsigned long long)s.temps);
	printf("%s\n", s.errors ? "; errors logged" : "");
	if (fflush(stdout) == EOF)
		return (DETACH_EX_IOERR);
	return (s.errors ? DETACH_EX_IOERR : DETACH_EX_OK);
}

/* ------------------------------------------------------------------ */
/* main                                                                */
/* ------------------------------------------------------------------ */

/* usage - the synopsis */

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: detach [-c file]        run the before-queue proxy\n"
	    "       detach -p [-c file] [-f sender] [--] [recipient ...]\n"
	    "                   filter one message, stdin to stdout\n"
	    "       detach -R [-c file]     attachments back, stdin to stdout\n"
	    "       detach -t [-c file]     check the configuration\n"
	    "       detach -n [-c file]     print the settings in effect\n"
	    "       detach -x [-c file]     delete expired objects, dir store\n"
	    "       detach -V               print the version\n"
	    "       detach -h               print this help\n"
	    "The configuration file defaults to " DETACH_CONFIG ".\n");
}

int
main(int argc, char **argv)
{
	static struct cfg cfg;
	struct priv_user pu;
	const char *file = 0, *sender = 0;
	char	why[CFG_LINE_MAX + 256];
	int	c, i, mode = 0;

	while ((c = getopt(argc, argv, "c:f:pRtnxVh")) != -1) {
		switch (c) {
		case 'c':
			file = optarg;
			break;
		case 'f':
			sender = optarg;
			break;
		case 'p':
		case 'R':
		case 't':
		case 'n':
		case 'x':
			if (mode && mode != c) {
				usage(stderr);
				return (DETACH_EX_USAGE);
			}
			mode = c;
			break;
		case 'V':
			printf("detach %s\n", DETACH_VERSION);
			return (DETACH_EX_OK);
		case 'h':
			usage(stdout);
			return (DETACH_EX_OK);
		default:
			usage(stderr);
			return (DETACH_EX_USAGE);
		}
	}
	/* The envelope is pipe mode's alone. */
	if ((optind != argc || sender) && mode != 'p') {
		usage(stderr);
		return (DETACH_EX_USAGE);
	}
	signal(SIGPIPE, SIG_IGN);
	if (file == 0)
		file = DETACH_CONFIG;
	if (cfg_load(&cfg, file, mode != 'n', why, sizeof(why)) < 0) {
		if (mode == 't' || mode == 'n' || mode == 'x') {
			fprintf(stderr, "%s\n", why);
			return (DETACH_EX_CONFIG);
		}
		log_fatal(DETACH_EX_CONFIG, "%s", why);
	}
	switch (mode) {
	case 't':
		for (i = 0; i < POLICY_SKIP_CLIENTS; i++)
			if (policy_has(cfg.policy, i))
				fprintf(stderr, "%s: warning: %s applies in "
				    "pipe mode only when detach -p is given "
				    "%s\n", file, policy_list_name(i),
				    i < POLICY_DETACH_RECIPIENTS ? "-f SENDER" :
				    "the RECIPIENT arguments");
		/* As the proxy would run: as root, as `user`. */
		if ((geteuid() == 0 && priv_user(&cfg, file, &pu, why,
		    sizeof(why)) < 0) || priv_dirs(&cfg, geteuid() == 0 ?
		    &pu : 0, why, sizeof(why)) < 0) {
			fprintf(stderr, "%s\n", why);
			return (DETACH_EX_CONFIG);
		}
		return (DETACH_EX_OK);
	case 'n':
		cfg_print(&cfg, 1);
		return (DETACH_EX_OK);
	case 'p':
		log_quiet = 1;
		return (pipe_run(&cfg, sender, argv + optind, argc - optind));
	case 'x':
		return (sweep_run(&cfg));
	case 'R':
		log_quiet = 1;
		return (restore_run(&cfg));
	default:
		if (cfg.log_syslog) {
			openlog("detach", LOG_PID | LOG_NDELAY, LOG_MAIL);
			log_to_syslog = 1;
		}
		return (proxy_run(file, &cfg));
	}
}
#endif
