/*
 * t_policy - unit tests of the policy lists, their keys and the paths
 *
 * Expectations come from the rules detach documents (README, policy.c's
 * manual): a domain matches in any case and a local part exactly;
 * ".example.org" matches its subdomains only; "<>" is the null sender;
 * RFC 4632 CIDR prefixes; RFC 4291 2.5.5.2 IPv4-mapped addresses; RFC
 * 5321 4.1.2 paths (source routes, quoted local parts) and RFC 6531
 * (UTF-8 passes as bytes). Configuration texts are also fed at every
 * split and must give the same lists and the same first error.
 */
#include <sys/stat.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "detach.h"
#include "t.h"

static char tmpdir[] = "/tmp/t_policy.XXXXXX";

#define T_PREFIX(s, lit)	(strncmp((s), (lit), sizeof(lit) - 1) == 0)

/* t_file - write text to a file under tmpdir; its path in path */

static void
t_file(const char *name, const char *text, char *path, size_t len)
{
	FILE   *fp;

	snprintf(path, len, "%s/%s", tmpdir, name);
	if ((fp = fopen(path, "w")) == 0 || fputs(text, fp) < 0
	    || fclose(fp) != 0) {
		t_ok(0, "write %s: %s", path, strerror(errno));
		exit(1);
	}
}

/* t_in - addr is in the list read from value (list POLICY_*) */

static int
t_in(int list, const char *value, const char *addr)
{
	struct policy *p = 0;
	char	why[512];
	int	r;

	if (policy_set(&p, list, value, why, sizeof(why)) < 0) {
		printf("# %s: %s\n", value, why);
		return (-1);
	}
	if (list == POLICY_SKIP_CLIENTS)
		r = policy_client(p, addr);
	else
		r = (policy_addr(p, addr, strlen(addr)) >> list) & 1;
	policy_unref(p);
	return (r);
}

/* ------------------------------------------------------------------ */
/* Address lists                                                       */
/* ------------------------------------------------------------------ */

#define T_SEPS	"a@x.example, b@x.example  c@x.example\t,d@x.example"

static const struct {
	const char *list;
	const char *addr;
	int	in;
} t_addrs[] = {
	/* an address: the domain in any case, the local part exact */
	{"user@example.org", "user@example.org", 1},
	{"user@example.org", "user@EXAMPLE.Org", 1},
	{"user@example.org", "User@example.org", 0},
	{"user@example.org", "user@a.example.org", 0},
	{"user@example.org", "other@example.org", 0},
	{"user@example.org", "user@example.org.", 1},
	{"user@example.org", "", 0},
	{"User@Example.ORG", "User@example.org", 1},
	{"User@Example.ORG", "user@example.org", 0},
	/* a domain: that domain, no other */
	{"example.org", "a@example.org", 1},
	{"example.org", "a@EXAMPLE.ORG", 1},
	{"example.org", "a@a.example.org", 0},
	{"example.org", "a@badexample.org", 0},
	{"example.org", "a@example.org.uk", 0},
	{"example.org", "example.org", 0},
	{"example.org", "", 0},
	/* .domain: its subdomains at any depth, not itself */
	{".example.org", "a@a.example.org", 1},
	{".example.org", "a@b.a.example.org", 1},
	{".example.org", "a@A.Example.ORG", 1},
	{".example.org", "a@example.org", 0},
	{".example.org", "a@badexample.org", 0},
	{".example.org", "a@a.badexample.org", 0},
	{".example.org", "a@example.org.a", 0},
	/* the null sender is its own entry */
	{"<>", "", 1},
	{"<>", "a@example.org", 0},
	{"example.org", "<>", 0},
	{"a@example.org", "", 0},
	/* separators: commas, white space, both */
	{T_SEPS, "b@x.example", 1},
	{T_SEPS, "d@x.example", 1},
	{T_SEPS, "e@x.example", 0},
	{"a@x.example,,b.example", "z@b.example", 1},
	/* a quoted local part is compared unquoted (RFC 5321 4.1.2) */
	{"\"j.d\"@x.example", "j.d@x.example", 1},
	{"\"a\\\"b\"@x.example", "a\"b@x.example", 1},
	{"\"a b\"@x.example", "a b@x.example", 1},
	/* UTF-8 (RFC 6531), bytes as they are, ASCII folded */
	{"j\xc3\xb6ran@b\xc3\xbc" "cher.example", "j\xc3\xb6ran@B\xc3\xbc"
	    "CHER.example", 1},
	{"j\xc3\xb6ran@x.example", "J\xc3\xb6ran@x.example", 0},
	/* address literals */
	{"u@[192.0.2.1]", "u@[192.0.2.1]", 1},
	{"u@[IPv6:2001:db8::1]", "u@[ipv6:2001:DB8::1]", 1},
	/* an address without a domain matches no domain entry */
	{"postmaster", "postmaster", 0},
	/* the domain is what follows the last '@' */
	{"x.example", "\"a@b\"@x.example", 1},
};

static void
t_addr_lists(void)
{
	size_t	i;
	int	r;

	for (i = 0; i < sizeof(t_addrs) / sizeof(t_addrs[0]); i++) {
		r = t_in(POLICY_SKIP_SENDERS, t_addrs[i].list, t_addrs[i].addr);
		t_ok(r == t_addrs[i].in, "address list \"%s\" %s \"%s\"",
		    t_addrs[i].list, t_addrs[i].in ? "has" : "has not",
		    t_addrs[i].addr);
	}
}

/* Entries refused, with the reason's start. */
static const struct {
	const char *list;
	const char *why;
} t_bad_addrs[] = {
	{"a@@example.org", "bad entry \"a@@example.org\""},
	{"@example.org", "bad entry \"@example.org\": empty local part"},
	{"a@", "bad entry \"a@\""},
	{"a@.example.org", "bad entry"},
	{"a@example..org", "bad entry"},
	{"example.org.", "bad entry"},
	{"..example.org", "bad entry"},
	{".", "bad entry"},
	{"a@ex%ample.org", "bad entry \"a@ex%ample.org\": bad domain"},
	{"a@ex!ample.org", "bad entry"},
	{"\"unterminated@x.org", "bad entry"},
	{"\"q\"x@x.org", "bad entry"},
	{"a<b@x.org", "bad entry"},
	{"<a@x.org>", "bad entry"},
	{"a@[1.2.3.4", "bad entry"},
	{"a@x.org, file:/etc/x", "file: must be the whole value"},
	{"file:relative", "file: needs an absolute path"},
	{"file:/nonexistent/list", "/nonexistent/list: "},
};

static void
t_addr_bad(void)
{
	struct policy *p = 0;
	char	why[512];
	size_t	i;
	int	r;

	for (i = 0; i < sizeof(t_bad_addrs) / sizeof(t_bad_addrs[0]); i++) {
		why[0] = 0;
		r = policy_set(&p, POLICY_SKIP_RECIPIENTS, t_bad_addrs[i].list,
		    why, sizeof(why));
		t_ok(r < 0 && strncmp(why, t_bad_addrs[i].why,
		    strlen(t_bad_addrs[i].why)) == 0 && p == 0,
		    "address list \"%s\" refused: %s", t_bad_addrs[i].list,
		    why);
		policy_unref(p);
		p = 0;
	}
}

/* POLICY_ENTRY_MAX at N-1, N, N+1, in the local part and the domain. */
static void
t_addr_long(void)
{
	char	list[POLICY_ENTRY_MAX + 8], label[64];
	int	d;
	size_t	n, k;

	for (d = -1; d <= 1; d++) {
		n = POLICY_ENTRY_MAX + d;
		/* "l...l@x.example": a long local part */
		memset(list, 'l', n);
		memcpy(list + n - 10, "@x.example", 10);
		list[n] = 0;
		t_ok(t_in(POLICY_SKIP_SENDERS, list, list) == (d <= 0 ? 1 : -1),
		    "an address entry of %zu bytes %s", n, d <= 0 ? "taken" :
		    "refused");
		/* ".aaa...": a long domain, 63-byte labels */
		memset(label, 'a', 63);
		label[63] = 0;
		for (k = 0; k < n; k++)
			list[k] = (k % 64 == 0) ? '.' : 'a';
		list[n] = 0;
		if (list[n - 1] == '.')
			list[n - 1] = 'b';
		t_ok((t_in(POLICY_SKIP_SENDERS, list, "u@a.b") < 0)
		    == (d > 0 || n - 1 > 255), "a .domain entry of %zu bytes "
		    "%s", n, d <= 0 ? "taken" : "refused");
	}
}

/* A large list: sorted and searched, every entry found. */
static void
t_addr_many(void)
{
	static char list[CFG_LINE_MAX * 64];
	struct policy *p = 0;
	char	why[256], a[64];
	int	i, n, bad = 0;
	size_t	o = 0;

	for (i = 0; i < 2000; i++)
		o += snprintf(list + o, sizeof(list) - o, "u%d@d%d.example ",
		    (i * 7919) % 2000, i % 13);
	if (policy_set(&p, POLICY_SKIP_SENDERS, list, why, sizeof(why)) < 0) {
		t_ok(0, "2000 entries: %s", why);
		return;
	}
	for (i = 0; i < 2000; i++) {
		/* u(i*7919 % 2000) is in domain d(i % 13) */
		snprintf(a, sizeof(a), "u%d@D%d.example", (i * 7919) % 2000,
		    i % 13);
		if (policy_addr(p, a, strlen(a)) != 1 << POLICY_SKIP_SENDERS)
			bad++;
		n = snprintf(a, sizeof(a), "u%d@d%d.example", (i * 7919) % 2000,
		    (i + 1) % 13);
		if (policy_addr(p, a, n) != 0)
			bad++;
	}
	t_ok(bad == 0, "2000 entries: each found, none in the wrong domain "
	    "(%d wrong)", bad);
	policy_unref(p);
}

/* ------------------------------------------------------------------ */
/* file: lists                                                         */
/* ------------------------------------------------------------------ */

static void
t_files(void)
{
	struct policy *p = 0;
	char	path[256], value[300], why[600], want[400];
	FILE   *fp;
	int	i, r;

	t_file("senders", "# who is left alone\n"
	    "\n"
	    "   user@Example.ORG  \n"
	    "\t.sub.example.net\r\n"
	    "<>\n"
	    "  # indented comment\n"
	    "\"john doe\"@x.example\n"
	    "last.example", path, sizeof(path));
	snprintf(value, sizeof(value), "file:%s", path);
	t_ok(t_in(POLICY_SKIP_SENDERS, value, "user@example.org") == 1,
	    "file: an address, blanks around it");
	t_ok(t_in(POLICY_SKIP_SENDERS, value, "x@a.sub.example.net") == 1
	    && t_in(POLICY_SKIP_SENDERS, value, "x@sub.example.net") == 0,
	    "file: a .domain on a CRLF line");
	t_ok(t_in(POLICY_SKIP_SENDERS, value, "") == 1, "file: <>");
	t_ok(t_in(POLICY_SKIP_SENDERS, value, "john doe@x.example") == 1,
	    "file: a quoted local part with a space");
	t_ok(t_in(POLICY_SKIP_SENDERS, value, "a@last.example") == 1,
	    "file: a last line without a newline");
	t_ok(t_in(POLICY_SKIP_SENDERS, value, "#@x.example") == 0
	    && t_in(POLICY_SKIP_SENDERS, value, "a@x.example") == 0,
	    "file: comments are no entries");

	/* Bad lines are named FILE:LINE, the file's own line. */
	t_file("bad", "# ok\nok@x.example\n\nbad@@x.example\n", path,
	    sizeof(path));
	snprintf(value, sizeof(value), "file:%s", path);
	snprintf(want, sizeof(want), "%s:4: bad entry \"bad@@x.example\"",
	    path);
	r = policy_set(&p, POLICY_SKIP_SENDERS, value, why, sizeof(why));
	t_ok(r < 0 && strncmp(why, want, strlen(want)) == 0,
	    "file: a bad entry named FILE:LINE: %s", why);
	t_file("two", "a@x.example\na@x.example b@x.example\n", path,
	    sizeof(path));
	snprintf(value, sizeof(value), "file:%s", path);
	snprintf(want, sizeof(want), "%s:2: one entry a line", path);
	r = policy_set(&p, POLICY_SKIP_SENDERS, value, why, sizeof(why));
	t_ok(r < 0 && strcmp(why, want) == 0, "file: two entries on a line: "
	    "%s", why);
	t_file("net", "192.0.2.0/24\n\n# x\n192.0.2.1/24\n", path,
	    sizeof(path));
	snprintf(value, sizeof(value), "file:%s", path);
	snprintf(want, sizeof(want), "%s:4: bad entry \"192.0.2.1/24\"", path);
	r = policy_set(&p, POLICY_SKIP_CLIENTS, value, why, sizeof(why));
	t_ok(r < 0 && strncmp(why, want, strlen(want)) == 0,
	    "file: a bad network named FILE:LINE: %s", why);
	t_ok(p == 0, "file: nothing kept from a bad list");

	/* Not a regular file: refused, and a FIFO does not hang. */
	snprintf(value, sizeof(value), "file:%s", tmpdir);
	r = policy_set(&p, POLICY_SKIP_SENDERS, value, why, sizeof(why));
	t_ok(r < 0 && strstr(why, "not a regular file"),
	    "file: a directory refused: %s", why);
	snprintf(path, sizeof(path), "%s/fifo", tmpdir);
	if (mkfifo(path, 0600) == 0) {
		snprintf(value, sizeof(value), "file:%s", path);
		r = policy_set(&p, POLICY_SKIP_SENDERS, value, why,
		    sizeof(why));
		t_ok(r < 0 && strstr(why, "not a regular file"),
		    "file: a FIFO refused at once: %s", why);
	}

	/* POLICY_ENTRIES_MAX at N-1, N, N+1. */
	for (i = -1; i <= 1; i++) {
		int	k, n = POLICY_ENTRIES_MAX + i;

		snprintf(path, sizeof(path), "%s/many", tmpdir);
		if ((fp = fopen(path, "w")) == 0)
			break;
		fprintf(fp, "# %d entries\n", n);
		for (k = 0; k < n; k++)
			fprintf(fp, "u%d@x.example\n", k);
		fclose(fp);
		snprintf(value, sizeof(value), "file:%s", path);
		r = policy_set(&p, POLICY_SKIP_SENDERS, value, why,
		    sizeof(why));
		if (i <= 0)
			t_ok(r == 0 && (policy_addr(p, "u0@x.example", 12)
			    & 2) && (policy_addr(p, "u99999@x.example", 16)
			    & 2) == (i == 0 ? 2 : 0), "file: %d entries taken",
			    n);
		else
			t_ok(r < 0 && strstr(why, "more than 100000 entries"),
			    "file: %d entries refused: %s", n, why);
		policy_unref(p);
		p = 0;
	}
}

/* ------------------------------------------------------------------ */
/* Networks                                                            */
/* ------------------------------------------------------------------ */

static const struct {
	const char *list;
	const char *addr;
	int	in;
} t_nets[] = {
	{"192.0.2.0/24", "192.0.2.0", 1},
	{"192.0.2.0/24", "192.0.2.255", 1},
	{"192.0.2.0/24", "192.0.3.0", 0},
	{"192.0.2.0/24", "192.0.1.255", 0},
	{"192.0.2.0/24", "2001:db8::1", 0},
	/* IPv4-mapped clients are their IPv4 address */
	{"192.0.2.0/24", "::ffff:192.0.2.7", 1},
	{"192.0.2.0/24", "IPV6:::ffff:192.0.2.7", 1},
	{"192.0.2.0/24", "::ffff:192.0.3.7", 0},
	{"192.0.2.0/24", "::192.0.2.7", 0},
	/* a mapped entry of /96 or more is an IPv4 network */
	{"::ffff:10.0.0.0/104", "10.1.2.3", 1},
	{"::ffff:10.0.0.0/104", "11.0.0.0", 0},
	{"::ffff:10.0.0.0/104", "::ffff:10.9.9.9", 1},
	/* /0: every address of its family, and only that */
	{"0.0.0.0/0", "203.0.113.9", 1},
	{"0.0.0.0/0", "::ffff:203.0.113.9", 1},
	{"0.0.0.0/0", "2001:db8::1", 0},
	{"::/0", "2001:db8::1", 1},
	{"::/0", "::1", 1},
	{"::/0", "203.0.113.9", 0},
	/* a bare address is /32 or /128 */
	{"192.0.2.1", "192.0.2.1", 1},
	{"192.0.2.1", "192.0.2.2", 0},
	{"192.0.2.1/32", "192.0.2.1", 1},
	{"192.0.2.1/32", "192.0.2.0", 0},
	{"2001:db8::1", "2001:db8::1", 1},
	{"2001:db8::1", "2001:db8::2", 0},
	{"2001:db8::1/128", "2001:db8::1", 1},
	{"2001:db8::1/128", "2001:db8::", 0},
	/* prefix edges, inside a byte */
	{"10.0.0.0/9", "10.127.255.255", 1},
	{"10.0.0.0/9", "10.128.0.0", 0},
	{"10.128.0.0/9", "10.128.0.0", 1},
	{"10.128.0.0/9", "10.127.255.255", 0},
	{"2001:db8::/32", "2001:db8:ffff:ffff::1", 1},
	{"2001:db8::/32", "2001:db9::", 0},
	{"2001:db8::/32", "2001:db7:ffff::", 0},
	{"2001:db8:8000::/33", "2001:db8:8000::1", 1},
	{"2001:db8:8000::/33", "2001:db8:7fff::1", 0},
	{"2001:db8::/127", "2001:db8::1", 1},
	{"2001:db8::/127", "2001:db8::2", 0},
	/* forms: brackets, XFORWARD's IPV6:, several entries */
	{"[2001:db8::]/32", "2001:db8::5", 1},
	{"[2001:db8::1]", "[2001:db8::1]", 1},
	{"2001:db8::/32", "IPV6:2001:db8::5", 1},
	{"2001:db8::/32", "ipv6:2001:db8::5", 1},
	{"198.51.100.0/24, 2001:db8::/32 192.0.2.0/24", "192.0.2.9", 1},
	{"198.51.100.0/24, 2001:db8::/32 192.0.2.0/24", "203.0.113.1", 0},
	/* a client that is no address */
	{"0.0.0.0/0", "host.example", -1},
	{"0.0.0.0/0", "[UNAVAILABLE]", -1},
};

static const char *t_bad_nets[] = {
	"192.0.2.1/24",		/* bits past the prefix */
	"2001:db8::1/32",
	"::ffff:10.0.0.1/104",
	"192.0.2.0/33",
	"2001:db8::/129",
	"192.0.2.0/",
	"192.0.2.0/-1",
	"192.0.2.0/+8",
	"192.0.2.0/08a",
	"192.0.2.0/0032",
	"/24",
	"host.example",
	"300.1.1.1",
	"192.0.2",
	"2001:db8::/32/1",
	"[192.0.2.0/24]",
	"a@example.org",
};

static void
t_networks(void)
{
	struct policy *p = 0;
	char	why[512];
	size_t	i;
	int	r;

	for (i = 0; i < sizeof(t_nets) / sizeof(t_nets[0]); i++) {
		r = t_in(POLICY_SKIP_CLIENTS, t_nets[i].list, t_nets[i].addr);
		t_ok(r == t_nets[i].in, "network list \"%s\" %s \"%s\" (%d)",
		    t_nets[i].list, t_nets[i].in == 1 ? "has" : "has not",
		    t_nets[i].addr, r);
	}
	for (i = 0; i < sizeof(t_bad_nets) / sizeof(t_bad_nets[0]); i++) {
		r = policy_set(&p, POLICY_SKIP_CLIENTS, t_bad_nets[i], why,
		    sizeof(why));
		t_ok(r < 0 && strncmp(why, "bad entry \"", 11) == 0,
		    "network \"%s\" refused: %s", t_bad_nets[i], why);
		policy_unref(p);
		p = 0;
	}
}

/* ------------------------------------------------------------------ */
/* The verdict                                                         */
/* ------------------------------------------------------------------ */

/* t_verdict - the key policy names for an envelope; "" for detach.
 * rcpts: space separated, "-" for none; sender 0 for unknown. */
static const char *
t_verdict(struct policy *p, const char *sender, const char *rcpts,
    int client)
{
	struct policy_env e;
	char	buf[256], *tok, *save;
	const char *v;

	policy_env_init(&e);
	e.client = client;
	if (sender)
		policy_env_sender(&e, policy_addr(p, sender, strlen(sender)));
	snprintf(buf, sizeof(buf), "%s", rcpts);
	for (tok = strtok_r(buf, " ", &save); tok && strcmp(tok, "-");
	    tok = strtok_r(0, " ", &save))
		policy_env_rcpt(&e, policy_addr(p, tok, strlen(tok)));
	v = policy_verdict(p, &e);
	return (v ? v : "");
}

static void
t_verdicts(void)
{
	struct policy *p = 0;
	struct policy_env e;
	char	why[256];
	int	i;

	t_ok(strcmp(t_verdict(0, "a@x.example", "b@y.example", 1), "") == 0,
	    "verdict: no list, everything detached");

	policy_set(&p, POLICY_DETACH_SENDERS, "in.example", why, sizeof(why));
	t_ok(strcmp(t_verdict(p, "a@in.example", "-", 0), "") == 0,
	    "detach_senders: a listed sender is detached");
	t_ok(strcmp(t_verdict(p, "a@out.example", "-", 0), "detach_senders")
	    == 0, "detach_senders: another sender is left alone");
	t_ok(strcmp(t_verdict(p, "", "-", 0), "detach_senders") == 0,
	    "detach_senders: the null sender is not listed");
	t_ok(strcmp(t_verdict(p, 0, "x@y.example", 0), "") == 0,
	    "detach_senders: does not apply without a sender");
	policy_unref(p);
	p = 0;

	policy_set(&p, POLICY_SKIP_SENDERS, "<> boss@in.example", why,
	    sizeof(why));
	t_ok(strcmp(t_verdict(p, "", "a@b.example", 0), "skip_senders") == 0,
	    "skip_senders: <> leaves bounces alone");
	t_ok(strcmp(t_verdict(p, "boss@IN.example", "-", 0), "skip_senders")
	    == 0, "skip_senders: a listed sender is left alone");
	t_ok(strcmp(t_verdict(p, "Boss@in.example", "-", 0), "") == 0,
	    "skip_senders: the local part is exact");
	policy_unref(p);
	p = 0;

	policy_set(&p, POLICY_DETACH_RECIPIENTS, "in.example .in.example",
	    why, sizeof(why));
	t_ok(strcmp(t_verdict(p, "s@x", "a@in.example b@sub.in.example", 0),
	    "") == 0, "detach_recipients: every recipient listed, detached");
	t_ok(strcmp(t_verdict(p, "s@x", "a@in.example b@out.example "
	    "c@in.example", 0), "detach_recipients") == 0,
	    "detach_recipients: one of three not listed, left alone");
	t_ok(strcmp(t_verdict(p, "s@x", "b@out.example a@in.example", 0),
	    "detach_recipients") == 0,
	    "detach_recipients: the first not listed, left alone");
	t_ok(strcmp(t_verdict(p, "s@x", "-", 0), "") == 0,
	    "detach_recipients: does not apply without recipients");
	policy_unref(p);
	p = 0;

	policy_set(&p, POLICY_SKIP_RECIPIENTS, "whole@in.example", why,
	    sizeof(why));
	t_ok(strcmp(t_verdict(p, "s@x", "a@in.example whole@in.example "
	    "c@in.example", 0), "skip_recipients") == 0,
	    "skip_recipients: one listed among three, left alone");
	t_ok(strcmp(t_verdict(p, "s@x", "a@in.example c@in.example", 0), "")
	    == 0, "skip_recipients: none listed, detached");
	policy_unref(p);
	p = 0;

	policy_set(&p, POLICY_SKIP_CLIENTS, "192.0.2.0/24", why, sizeof(why));
	t_ok(strcmp(t_verdict(p, "s@x", "a@b", 1), "skip_clients") == 0,
	    "skip_clients: a listed client is left alone");
	t_ok(strcmp(t_verdict(p, "s@x", "a@b", 0), "") == 0,
	    "skip_clients: another client is detached");
	policy_unref(p);
	p = 0;

	/* An address that cannot be parsed leaves the mail alone. */
	policy_set(&p, POLICY_DETACH_SENDERS, "in.example", why, sizeof(why));
	policy_set(&p, POLICY_SKIP_RECIPIENTS, "x.example", why, sizeof(why));
	policy_env_init(&e);
	policy_env_sender(&e, POLICY_DOUBT);
	t_ok(policy_verdict(p, &e) != 0, "doubt: an unparsed sender is not "
	    "in detach_senders");
	policy_env_init(&e);
	policy_env_sender(&e, policy_addr(p, "a@in.example", 12));
	policy_env_rcpt(&e, POLICY_DOUBT);
	t_ok(policy_verdict(p, &e) != 0 && strcmp(policy_verdict(p, &e),
	    "skip_recipients") == 0, "doubt: an unparsed recipient counts as "
	    "in skip_recipients");
	/* Many recipients: no memory, the flags only. */
	policy_env_init(&e);
	for (i = 0; i < 100000; i++)
		policy_env_rcpt(&e, 0);
	policy_env_rcpt(&e, policy_addr(p, "a@x.example", 11));
	t_ok(e.nrcpt == 2 && strcmp(policy_verdict(p, &e), "skip_recipients")
	    == 0, "100001 recipients folded into flags");
	/* A list of separators only, or an empty file: unset (the fuzzer
	 * found this one leaking). */
	{
		struct policy *q = 0;

		t_ok(policy_set(&q, POLICY_SKIP_SENDERS, " , ,", why,
		    sizeof(why)) == 0 && q == 0, "a list of commas is no list");
	}
	/* Unset: "" empties a list. */
	policy_set(&p, POLICY_SKIP_RECIPIENTS, "", why, sizeof(why));
	t_ok(!policy_has(p, POLICY_SKIP_RECIPIENTS)
	    && policy_has(p, POLICY_DETACH_SENDERS), "an empty value unsets");
	policy_unref(p);
}

/* ------------------------------------------------------------------ */
/* The keys in a configuration file                                    */
/* ------------------------------------------------------------------ */

struct t_cfgrun {
	struct cfg cfg;
	struct cfg_parse p;
	int	errors;
};

static struct t_cfgrun *run;
static struct cfg t_whole;
static char t_werr[sizeof(((struct cfg_parse *)0)->err)];
static int t_wbits[8];

/* What a configuration says of a few envelopes, to compare splits. */
static const char *t_probe[] = {
	"a@in.example", "b@x.example", "", "c@sub.in.example",
	"boss@in.example", "z@z.example", "whole@in.example", "q@out.example",
};

static void
t_reset(void *ctx)
{
	struct t_cfgrun *r = ctx;

	cfg_free(&r->cfg);
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
	int	i;

	for (i = 0; i < 8; i++)
		if (policy_addr(r->cfg.policy, t_probe[i], strlen(t_probe[i]))
		    != t_wbits[i])
			return (0);
	return (strcmp(r->cfg.detach_senders, t_whole.detach_senders) == 0
	    && strcmp(r->cfg.skip_senders, t_whole.skip_senders) == 0
	    && strcmp(r->cfg.detach_recipients, t_whole.detach_recipients)
	    == 0 && strcmp(r->cfg.skip_recipients, t_whole.skip_recipients)
	    == 0 && strcmp(r->cfg.skip_clients, t_whole.skip_clients) == 0
	    && strcmp(r->p.err, t_werr) == 0);
}

static void
t_parse(const char *name, const char *text)
{
	size_t	len = strlen(text);
	int	bad, i;

	t_reset(run);
	t_chunk(run, (const unsigned char *)text, len);
	t_done(run);
	t_whole = run->cfg;
	memcpy(t_werr, run->p.err, sizeof(t_werr));
	for (i = 0; i < 8; i++)
		t_wbits[i] = policy_addr(run->cfg.policy, t_probe[i],
		    strlen(t_probe[i]));
	/* t_whole's lists go with the next reset: keep them alive. */
	policy_ref(t_whole.policy);
	bad = t_split_run((const unsigned char *)text, len, run, t_reset,
	    t_chunk, t_done, t_same, 0);
	t_ok(bad == 0, "%s: same result in every split", name);
	cfg_free(&t_whole);
	t_reset(run);
	t_chunk(run, (const unsigned char *)text, len);
	t_done(run);
}

static void
t_keys(void)
{
	char	path[256], text[1024], want[512], out[8192];
	int	fd[2];
	ssize_t	n;
	size_t	got = 0;

	t_file("skip", "# bosses\nboss@in.example\n", path, sizeof(path));
	snprintf(text, sizeof(text),
	    "detach_senders = in.example,\n"
	    "    .in.example\n"
	    "skip_senders = file:%s\n"
	    "detach_recipients = in.example .in.example x.example\n"
	    "skip_recipients = whole@in.example\n"
	    "skip_clients = 192.0.2.0/24, 2001:db8::/32\n", path);
	t_parse("five keys", text);
	t_ok(run->errors == 0, "five keys: no error (%s)", run->p.err);
	t_ok(policy_addr(run->cfg.policy, "c@sub.in.example", 16) ==
	    (1 << POLICY_DETACH_SENDERS | 1 << POLICY_DETACH_RECIPIENTS),
	    "detach_senders continued on the next line");
	t_ok(policy_addr(run->cfg.policy, "boss@in.example", 15) ==
	    (1 << POLICY_DETACH_SENDERS | 1 << POLICY_SKIP_SENDERS
	    | 1 << POLICY_DETACH_RECIPIENTS), "skip_senders from its file");
	t_ok(policy_addr(run->cfg.policy, "whole@in.example", 16) & 1 <<
	    POLICY_SKIP_RECIPIENTS, "skip_recipients read");
	t_ok(policy_client(run->cfg.policy, "2001:db8::9") == 1
	    && policy_client(run->cfg.policy, "192.0.3.1") == 0,
	    "skip_clients read");
	/* -n prints the lists as given, file: as written. */
	if (pipe(fd) == 0) {
		cfg_print(&run->cfg, fd[1]);
		close(fd[1]);
		while ((n = read(fd[0], out + got, sizeof(out) - 1 - got)) > 0)
			got += n;
		close(fd[0]);
		out[got] = 0;
		snprintf(want, sizeof(want), "\n"
		    "detach_senders = in.example, .in.example\n"
		    "skip_senders = file:%s\n"
		    "detach_recipients = in.example .in.example x.example\n"
		    "skip_recipients = whole@in.example\n"
		    "skip_clients = 192.0.2.0/24, 2001:db8::/32\n", path);
		t_ok(got > strlen(want) && strstr(out, want) != 0,
		    "-n prints the five keys together, as given");
	}

	t_parse("defaults", "");
	t_ok(run->errors == 0 && run->cfg.policy == 0
	    && run->cfg.skip_senders[0] == 0, "no list set: no policy");

	t_parse("set twice", "skip_senders = a@x.example\n"
	    "skip_senders = b@x.example\n");
	t_ok(run->errors == 0 && policy_addr(run->cfg.policy, "a@x.example",
	    11) == 0 && policy_addr(run->cfg.policy, "b@x.example", 11) != 0,
	    "a key set twice: the last value counts");

	t_parse("set, then unset", "skip_senders = a@x.example\n"
	    "skip_senders =\n");
	t_ok(run->errors == 0 && !policy_has(run->cfg.policy,
	    POLICY_SKIP_SENDERS), "a key set to nothing: unset");

	t_parse("bad address", "# x\n\nskip_recipients = a@x.example, "
	    "b@@x.example\n");
	t_ok(run->errors == 1 && T_PREFIX(run->p.err, "test.conf:3: "
	    "skip_recipients: bad entry \"b@@x.example\""),
	    "bad address named test.conf:3: %s", run->p.err);

	t_parse("bad network", "skip_clients = 192.0.2.0/24\n"
	    "  10.0.0.0/33\n");
	t_ok(run->errors == 1 && T_PREFIX(run->p.err, "test.conf:1: "
	    "skip_clients: bad entry \"10.0.0.0/33\""),
	    "bad network named test.conf:1: %s", run->p.err);

	t_file("badlist", "ok@x.example\n# two\nnot an@address\n", path,
	    sizeof(path));
	snprintf(text, sizeof(text), "store = dir:/x\n"
	    "detach_recipients = file:%s\n", path);
	t_parse("bad file", text);
	snprintf(want, sizeof(want), "test.conf:2: detach_recipients: %s:3: ",
	    path);
	t_ok(run->errors == 1 && strncmp(run->p.err, want, strlen(want)) == 0,
	    "bad list file named by both lines: %s", run->p.err);

	snprintf(text, sizeof(text), "detach_senders = file:%s/none\n",
	    tmpdir);
	t_parse("missing file", text);
	t_ok(run->errors == 1 && strstr(run->p.err, "test.conf:1: "
	    "detach_senders: ") && strstr(run->p.err, "No such file"),
	    "missing list file: %s", run->p.err);
}

/* A configuration's lists outlive the struct they were loaded into as
 * long as a holder keeps a reference (what proxy.c's generations do). */
static void
t_refs(void)
{
	char	path[256], text[400], why[600];
	struct cfg a, b;

	t_file("list", "held@x.example\n", path, sizeof(path));
	snprintf(text, sizeof(text),
	    "secret = 0123456789abcdef0123456789abcdef"
	    "0123456789abcdef0123456789abcdef\n"
	    "store = dir:%s\n"
	    "skip_senders = file:%s\n", tmpdir, path);
	t_file("detach.conf", text, path, sizeof(path));
	memset(&a, 0, sizeof(a));
	t_ok(cfg_load(&a, path, 1, why, sizeof(why)) == 0, "cfg_load: %s",
	    why);
	b = a;
	policy_ref(b.policy);
	cfg_free(&a);
	t_ok(policy_addr(b.policy, "held@x.example", 14) != 0,
	    "a copy with its reference keeps the lists");
	/* The file: list is reread by the next load. */
	t_file("list", "other@x.example\n", why, sizeof(why));
	t_ok(cfg_load(&a, path, 1, why, sizeof(why)) == 0
	    && policy_addr(a.policy, "other@x.example", 15) != 0
	    && policy_addr(a.policy, "held@x.example", 14) == 0
	    && policy_addr(b.policy, "held@x.example", 14) != 0,
	    "a reload rereads the file, the old lists stay as they were");
	cfg_free(&a);
	cfg_free(&b);
	/* A bad list file on reload: the load fails, nothing leaks. */
	t_file("list", "bad@@x\n", why, sizeof(why));
	t_ok(cfg_load(&a, path, 1, why, sizeof(why)) < 0 && strstr(why,
	    "list:1: bad entry"), "a reload with a bad list fails: %s", why);
}

/* ------------------------------------------------------------------ */
/* SMTP paths                                                          */
/* ------------------------------------------------------------------ */

static const struct {
	const char *in;		/* what follows "FROM:" or "TO:" */
	const char *out;	/* 0: malformed */
} t_paths[] = {
	{"<a@b.example>", "a@b.example"},
	{"<>", ""},
	{"<> SIZE=100", ""},
	{" <a@b.example> SIZE=100 BODY=8BITMIME", "a@b.example"},
	{"  <a@b.example>", "a@b.example"},
	{"a@b.example", "a@b.example"},
	{"a@b.example SIZE=1", "a@b.example"},
	{"<A@B.Example>", "A@B.Example"},
	{"<@r1.example,@r2.example:u@d.example>", "u@d.example"},
	{"<@r1.example:u@d.example>", "u@d.example"},
	{"<@[IPv6:2001:db8::1]:u@d.example>", "u@d.example"},
	{"<\"john doe\"@x.example>", "john doe@x.example"},
	{"<\"a\\\"b\"@x.example>", "a\"b@x.example"},
	{"<\"a>b\"@x.example>", "a>b@x.example"},
	{"<\"a@b\"@x.example>", "a@b@x.example"},
	{"\"a b\"@x.example NOTIFY=NEVER", "a b@x.example"},
	{"<u@[192.0.2.1]>", "u@[192.0.2.1]"},
	{"<u@[IPv6:2001:db8::1]>", "u@[IPv6:2001:db8::1]"},
	{"<j\xc3\xb6ran@b\xc3\xbc" "cher.example> SMTPUTF8",
	"j\xc3\xb6ran@b\xc3\xbc" "cher.example"},
	{"<postmaster>", "postmaster"},
	{"<a@b.example>junk", "a@b.example"},
	/* malformed */
	{"", 0},
	{"   ", 0},
	{"<", 0},
	{"<a@b.example", 0},
	{"<a@b@c.example>", 0},
	{"<<a@b.example>>", 0},
	{"<a b@c.example>", 0},
	{"<a@b.example\x01>", 0},
	{"<\"unterminated@x.example>", 0},
	{"<\"a\\", 0},
	{"<\"a\"b@x.example>", 0},
	{"<@a.example,@b.example>", 0},
	{"<@a.example:>", 0},
	{"<@a.example", 0},
	{"<\"a\">", 0},
	{"a\"b@x.example", 0},
};

static void
t_smtp_paths(void)
{
	char	out[SMTP_ENVCMD_MAX + 1], small[8];
	size_t	i;
	int	n;

	for (i = 0; i < sizeof(t_paths) / sizeof(t_paths[0]); i++) {
		n = smtp_path(t_paths[i].in, out, sizeof(out));
		if (t_paths[i].out)
			t_ok(n == (int)strlen(t_paths[i].out) && strcmp(out,
			    t_paths[i].out) == 0, "path \"%s\" is \"%s\"",
			    t_paths[i].in, t_paths[i].out);
		else
			t_ok(n < 0, "path \"%s\" malformed", t_paths[i].in);
	}
	/* The output bound: 7 bytes and a NUL fit, 8 do not. */
	t_ok(smtp_path("<abc@xyz>", small, sizeof(small)) == 7
	    && strcmp(small, "abc@xyz") == 0, "path filling its buffer");
	t_ok(smtp_path("<abcd@xyz>", small, sizeof(small)) < 0,
	    "path one byte over its buffer");
	t_ok(smtp_path("<\"abcdefgh\"@x>", small, sizeof(small)) < 0,
	    "quoted path over its buffer");
}

static void
t_xforward_addr(void)
{
	char	out[SMTP_XFWD_VALUE_MAX + 1];

	t_ok(smtp_xforward_addr("NAME=a.example ADDR=192.0.2.1 PORT=25", out,
	    sizeof(out)) == 0 && strcmp(out, "192.0.2.1") == 0,
	    "XFORWARD ADDR among others");
	t_ok(smtp_xforward_addr("addr=IPV6:2001:db8::1", out, sizeof(out))
	    == 0 && strcmp(out, "IPV6:2001:db8::1") == 0,
	    "XFORWARD addr in lower case, IPV6:");
	t_ok(smtp_xforward_addr("ADDR=[UNAVAILABLE]", out, sizeof(out)) == 0
	    && strcmp(out, "[UNAVAILABLE]") == 0, "XFORWARD ADDR unavailable");
	t_ok(smtp_xforward_addr("ADDR=19+32.0.2.1", out, sizeof(out)) == 0
	    && strcmp(out, "192.0.2.1") == 0, "XFORWARD ADDR in xtext");
	t_ok(smtp_xforward_addr("NAME=x PADDR=1.2.3.4 HELO=ADDR", out,
	    sizeof(out)) < 0, "XFORWARD without ADDR");
}

int
main(void)
{
	char	cmd[600];

	t_seed_init();
	if (mkdtemp(tmpdir) == 0)
		return (1);
	run = calloc(1, sizeof(*run));
	t_addr_lists();
	t_addr_bad();
	t_addr_long();
	t_addr_many();
	t_files();
	t_networks();
	t_verdicts();
	t_keys();
	t_refs();
	t_smtp_paths();
	t_xforward_addr();
	cfg_free(&run->cfg);
	free(run);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	if (system(cmd) != 0)
		t_ok(0, "cleanup");
	return (t_failed != 0);
}
