/*
 * NAME
 *	policy - whose mail is detached: address, domain and network lists
 * SYNOPSIS
 *	#include "detach.h"
 *
 *	int	policy_set(struct policy **pp, int list, const char *value,
 *		char *why, size_t len)
 *	int	policy_list_id(const char *key)
 *	const char *policy_list_name(int list)
 *	struct policy *policy_ref(struct policy *p)
 *	void	policy_unref(struct policy *p)
 *	int	policy_has(const struct policy *p, int list)
 *	int	policy_addr(const struct policy *p, const char *addr,
 *		size_t len)
 *	int	policy_client(const struct policy *p, const char *addr)
 *	void	policy_env_init(struct policy_env *e)
 *	void	policy_env_sender(struct policy_env *e, int bits)
 *	void	policy_env_rcpt(struct policy_env *e, int bits)
 *	const char *policy_verdict(const struct policy *p,
 *		const struct policy_env *e)
 * DESCRIPTION
 *	Five lists say whose mail is detached: detach_senders (when set,
 *	only mail from these), skip_senders, detach_recipients (when set,
 *	only messages whose every recipient matches), skip_recipients (a
 *	message with any such recipient is left alone: one body goes to
 *	all of them) and skip_clients (networks).
 *
 *	policy_set() reads one list from its configuration value: entries
 *	separated by commas or white space, or "file:/path" naming a file
 *	with one entry a line, '#' comments and blank lines. An address
 *	list entry is "user@example.org" (the local part exact, the
 *	domain in any case), "example.org" (that domain), ".example.org"
 *	(its subdomains, at any depth, not example.org itself) or "<>"
 *	(the null sender of bounces). A quoted local part is kept
 *	unquoted, as RFC 5321 4.1.2 compares it. A network list entry is
 *	an IPv4 or IPv6 network, "192.0.2.0/24" or "2001:db8::/32",
 *	or an address alone (/32, /128); bits set past the prefix are an
 *	error, as in Postfix's cidr tables. An IPv4-mapped IPv6 address
 *	(::ffff:192.0.2.1), as a client or as an entry with a prefix of
 *	96 or more, is taken as the IPv4 address it carries, so
 *	192.0.2.0/24 matches a client that reached an IPv6 socket from
 *	192.0.2.7; otherwise the families stay apart: ::/0 is every IPv6
 *	client and 0.0.0.0/0 every IPv4 one.
 *
 *	The lists of one configuration live in one struct policy,
 *	counted: cfg_load() makes it, and each holder of a struct cfg
 *	that uses it (a proxy generation) takes a reference. A reload
 *	makes new lists and rereads every file: list; the old ones go
 *	with the old generation's last session.
 *
 *	The rest is pure matching. policy_addr() gives the lists an
 *	address ("local@domain", unquoted, or "" for the null path) is
 *	in, as bits (1 << POLICY_*); address lists are sorted once and
 *	searched, so a lookup costs a few string compares whatever
 *	their size. A struct policy_env gathers the envelope
 *	incrementally: the sender's bits, and for the recipients only
 *	which lists every one of them is in and which some one is in, so
 *	a message with thousands of recipients costs no memory.
 *	policy_verdict() then names the list that leaves the message
 *	alone, or returns 0 when it is detached. A list whose part of the
 *	envelope is unknown (no sender, no recipient: pipe mode without
 *	-f or recipients) does not apply.
 * LIMITS
 *	POLICY_ENTRIES_MAX entries per list, POLICY_ENTRY_MAX bytes per
 *	entry, POLICY_FILE_MAX bytes per file. Memory is allocated when a
 *	list is read and freed with the configuration; matching
 *	allocates nothing.
 * DIAGNOSTICS
 *	policy_set() fails with a reason naming the bad entry, and for a
 *	file: list the file and its line, FILE:LINE. Nothing is logged
 *	here.
 * BUGS
 *	Domains are compared byte for byte after ASCII case folding: an
 *	internationalised domain matches only in the form it is listed
 *	in (U-labels and A-labels are not converted). A local part with
 *	white space fits only in a file: list, quoted.
 */
#include <sys/stat.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "detach.h"

/* A network: IPv4 in the first four bytes of a. */
struct policy_net {
	unsigned char a[16];
	int	v6;
	int	prefix;
};

#define POLICY_STR(x)	#x
#define POLICY_XSTR(x)	POLICY_STR(x)
#define POLICY_TOO_LONG	\
	"longer than " POLICY_XSTR(POLICY_ENTRY_MAX) " bytes"

struct policy_list {
	size_t	n;
	char  **ent;		/* address lists: sorted, into pool */
	char   *pool;
	struct policy_net *net;	/* skip_clients */
};

struct policy {
	int	refs;
	struct policy_list list[POLICY_NLISTS];
};

/* The configuration keys, in POLICY_* order. */
static const char *const policy_names[POLICY_NLISTS] = {
	"detach_senders",
	"skip_senders",
	"detach_recipients",
	"skip_recipients",
	"skip_clients",
};

/* policy_list_id - the POLICY_* of a key name, or -1 */

int
policy_list_id(const char *key)
{
	int	i;

	for (i = 0; i < POLICY_NLISTS; i++)
		if (strcmp(policy_names[i], key) == 0)
			return (i);
	return (-1);
}

/* policy_list_name - the key name of a POLICY_* */

const char *
policy_list_name(int list)
{
	if (list < 0 || list >= POLICY_NLISTS)
		log_panic("policy_list_name: list %d", list);
	return (policy_names[list]);
}

/* policy_list_free - drop one list's entries */

static void
policy_list_free(struct policy_list *l)
{
	free(l->ent);
	free(l->pool);
	free(l->net);
	memset(l, 0, sizeof(*l));
}

/* policy_ref - one more holder of p; p may be 0 */

struct policy *
policy_ref(struct policy *p)
{
	if (p)
		p->refs++;
	return (p);
}

/* policy_unref - one holder less; the last frees the lists */

void
policy_unref(struct policy *p)
{
	int	i;

	if (p == 0 || --p->refs > 0)
		return;
	for (i = 0; i < POLICY_NLISTS; i++)
		policy_list_free(&p->list[i]);
	free(p);
}

/* policy_has - the list is set */

int
policy_has(const struct policy *p, int list)
{
	return (p != 0 && p->list[list].n > 0);
}

/* ------------------------------------------------------------------ */
/* Entries                                                             */
/* ------------------------------------------------------------------ */

/* policy_lower - ASCII lower case; other bytes (UTF-8) as they are */

static int
policy_lower(int c)
{
	return (c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
}

/*
 * policy_domain - check and lowercase a domain, or an address literal
 * "[...]" (RFC 5321 4.1.3), from s to out (which may be s); 0 or -1.
 * Labels of letters, digits, '-' and '_' (seen in real host names),
 * or bytes above 0x7f (RFC 6531 U-labels); none empty.
 */
static int
policy_domain(const char *s, size_t n, char *out)
{
	size_t	i, label = 0;
	unsigned char c;

	if (n == 0 || n > 255)
		return (-1);
	if (s[0] == '[') {
		if (n < 3 || s[n - 1] != ']')
			return (-1);
		for (i = 1; i < n - 1; i++) {
			c = s[i];
			if (c <= ' ' || c >= 0x7f || c == '[' || c == ']'
			    || c == '\\')
				return (-1);
		}
		for (i = 0; i < n; i++)
			out[i] = policy_lower((unsigned char)s[i]);
		return (0);
	}
	for (i = 0; i < n; i++) {
		c = s[i];
		if (c == '.') {
			if (label == 0)
				return (-1);
			label = 0;
		} else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
		    || (c >= '0' && c <= '9') || c == '-' || c == '_'
		    || c >= 0x80) {
			if (++label > 63)
				return (-1);
		} else
			return (-1);
		out[i] = policy_lower(c);
	}
	return (label == 0 ? -1 : 0);
}

/*
 * policy_entry - check an address list entry s[0..n) and write its
 * normal form to out (which may be s): "<>", "local@domain" with the
 * local part unquoted and the domain lowercased, "domain" or
 * ".domain". Returns its length, or -1 with *why.
 */
static long
policy_entry(const char *s, size_t n, char *out, const char **why)
{
	size_t	i, o = 0, at;
	unsigned char c;

	if (n > POLICY_ENTRY_MAX)
		return (*why = POLICY_TOO_LONG, -1);
	if (n == 2 && s[0] == '<' && s[1] == '>') {
		memcpy(out, "<>", 2);
		return (2);
	}
	if (s[0] == '.') {
		out[0] = '.';
		if (policy_domain(s + 1, n - 1, out + 1) < 0 || s[1] == '[')
			return (*why = "expected .domain", -1);
		return ((long)n);
	}
	if (s[0] == '"') {
		/* RFC 5321 4.1.2 Quoted-string: qtextSMTP or "\" and any
		 * printable; the name is what it quotes. */
		for (i = 1; i < n && s[i] != '"'; i++) {
			if (s[i] == '\\' && i + 1 < n)
				i++;
			c = s[i];
			if (c < ' ' || c == 0x7f)
				return (*why = "control character", -1);
			out[o++] = s[i];
		}
		if (i >= n || i + 1 >= n || s[i + 1] != '@')
			return (*why = "expected \"local part\"@domain", -1);
		at = i + 1;
	} else {
		for (at = 0; at < n && s[at] != '@'; at++) {
			c = s[at];
			if (c <= ' ' || c == 0x7f || c == '"' || c == '<'
			    || c == '>' || c == '\\' || c == '(' || c == ')'
			    || c == ',' || c == ';' || c == ':' || c == '['
			    || c == ']')
				return (*why = "expected user@domain, domain, "
				    ".domain or <>", -1);
		}
		if (at == n) {
			if (policy_domain(s, n, out) < 0)
				return (*why = "expected user@domain, domain, "
				    ".domain or <>", -1);
			return ((long)n);
		}
		if (at == 0)
			return (*why = "empty local part", -1);
		memmove(out, s, at);
		o = at;
	}
	out[o++] = '@';
	if (policy_domain(s + at + 1, n - at - 1, out + o) < 0)
		return (*why = "bad domain", -1);
	return ((long)(o + n - at - 1));
}

/*
 * policy_prefix - digits of a prefix length up to max; -1 if bad
 */
static int
policy_prefix(const char *s, size_t n, int max)
{
	int	v = 0;
	size_t	i;

	if (n == 0 || n > 3)
		return (-1);
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return (-1);
		v = v * 10 + (s[i] - '0');
	}
	return (v <= max ? v : -1);
}

/* policy_mapped - an IPv4-mapped IPv6 address (RFC 4291 2.5.5.2) */

static int
policy_mapped(const unsigned char a[16])
{
	static const unsigned char pfx[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0xff, 0xff};

	return (memcmp(a, pfx, sizeof(pfx)) == 0);
}

/*
 * policy_net - a network entry, "addr[/prefix]", an IPv6 address in
 * brackets or not; 0, or -1 with *why
 */
static int
policy_net(const char *s, size_t n, struct policy_net *net,
    const char **why)
{
	char	addr[INET6_ADDRSTRLEN + 2];
	const char *slash = memchr(s, '/', n), *pfx = 0;
	size_t	alen = n, plen = 0, i;
	int	bits;

	memset(net, 0, sizeof(*net));
	if (slash) {
		alen = slash - s;
		pfx = slash + 1;
		plen = n - alen - 1;
	}
	if (alen >= 2 && s[0] == '[' && s[alen - 1] == ']') {
		s++;
		alen -= 2;
	}
	if (alen == 0 || alen >= sizeof(addr))
		return (*why = "expected a network like 192.0.2.0/24 or "
		    "2001:db8::/32", -1);
	memcpy(addr, s, alen);
	addr[alen] = 0;
	if (inet_pton(AF_INET, addr, net->a) == 1)
		net->v6 = 0;
	else if (inet_pton(AF_INET6, addr, net->a) == 1)
		net->v6 = 1;
	else
		return (*why = "expected a network like 192.0.2.0/24 or "
		    "2001:db8::/32", -1);
	net->prefix = net->v6 ? 128 : 32;
	if (pfx && (net->prefix = policy_prefix(pfx, plen, net->prefix)) < 0)
		return (*why = "bad prefix length", -1);
	if (net->v6 && policy_mapped(net->a) && net->prefix >= 96) {
		memmove(net->a, net->a + 12, 4);
		memset(net->a + 4, 0, 12);
		net->v6 = 0;
		net->prefix -= 96;
	}
	/* Postfix's cidr tables refuse "non-null host address bits". */
	for (i = 0; i < 16; i++) {
		bits = net->prefix - 8 * (int)i;
		if (bits >= 8)
			continue;
		if (net->a[i] & (bits <= 0 ? 0xff : 0xff >> bits))
			return (*why = "bits set past the prefix length", -1);
	}
	return (0);
}

/* ------------------------------------------------------------------ */
/* Reading a list                                                      */
/* ------------------------------------------------------------------ */

/* policy_space - a separator between entries of an inline list */

static int
policy_space(int c)
{
	/* NUL: a separator a shorter entry before was written over */
	return (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == ','
	    || c == 0);
}

/* policy_token - the length of the entry at s, quotes kept whole */

static size_t
policy_token(const char *s, const char *end)
{
	const char *p = s;
	int	q = 0;

	for (; p < end; p++) {
		if (q && *p == '\\' && p + 1 < end)
			p++;
		else if (*p == '"')
			q = !q;
		else if (!q && policy_space((unsigned char)*p))
			break;
	}
	return (p - s);
}

/* policy_sort_cmp - qsort order of entries */

static int
policy_sort_cmp(const void *a, const void *b)
{
	return (strcmp(*(char *const *)a, *(char *const *)b));
}

/*
 * policy_add - one entry, checked and written in normal form at *wr in
 * the pool (never past where it was read); 0, or -1 with why
 */
static int
policy_add(struct policy_list *l, int nets, const char *s, size_t n,
    char **wr, const char *where, char *why, size_t len)
{
	struct policy_net net;
	const char *what;
	char	shown[65];
	long	o;

	if (l->n >= POLICY_ENTRIES_MAX) {
		snprintf(why, len, "%smore than %d entries", where,
		    POLICY_ENTRIES_MAX);
		return (-1);
	}
	/* The entry is rewritten where it lies: keep its text for a
	 * message first. */
	snprintf(shown, sizeof(shown), "%.*s", n > 64 ? 64 : (int)n, s);
	if (nets) {
		o = n > POLICY_ENTRY_MAX ? (what = POLICY_TOO_LONG, -1) :
		    policy_net(s, n, &net, &what);
		if (o == 0) {
			memmove(*wr, s, n);
			o = (long)n;
		}
	} else
		o = policy_entry(s, n, *wr, &what);
	if (o < 0) {
		snprintf(why, len, "%sbad entry \"%s\": %s", where, shown,
		    what);
		return (-1);
	}
	(*wr)[o] = 0;
	*wr += o + 1;
	l->n++;
	return (0);
}

/*
 * policy_file - read a file: list into the pool, one entry a line;
 * 0, or -1 with why naming FILE:LINE
 */
static int
policy_file(struct policy_list *l, int nets, const char *path, char **end,
    char *why, size_t len)
{
	char	where[CFG_LINE_MAX + 32];
	struct stat st;
	char   *p, *e, *nl, *s, *wr;
	ssize_t	got;
	size_t	have = 0, n;
	int	fd, line = 0;

	if (path[0] != '/') {
		snprintf(why, len, "file: needs an absolute path");
		return (-1);
	}
	/* Not blocking: a FIFO must not hang a reload. */
	if ((fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)) < 0) {
		snprintf(why, len, "%s: %s", path, strerror(errno));
		return (-1);
	}
	if (fstat(fd, &st) < 0) {
		snprintf(why, len, "%s: %s", path, strerror(errno));
		(void)close(fd);
		return (-1);
	}
	if (!S_ISREG(st.st_mode) || st.st_size > POLICY_FILE_MAX) {
		if (!S_ISREG(st.st_mode))
			snprintf(why, len, "%s: not a regular file", path);
		else
			snprintf(why, len, "%s: larger than %d bytes", path,
			    POLICY_FILE_MAX);
		(void)close(fd);
		return (-1);
	}
	if ((l->pool = malloc((size_t)st.st_size + 1)) == 0) {
		snprintf(why, len, "%s: out of memory", path);
		(void)close(fd);
		return (-1);
	}
	while (have < (size_t)st.st_size) {
		got = read(fd, l->pool + have, (size_t)st.st_size - have);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0) {
			snprintf(why, len, "%s: %s", path, got < 0 ?
			    strerror(errno) : "shrank while read");
			(void)close(fd);
			return (-1);
		}
		have += (size_t)got;
	}
	(void)close(fd);
	wr = l->pool;
	for (p = l->pool, e = l->pool + have; p < e; p = nl + 1) {
		line++;
		if ((nl = memchr(p, '\n', e - p)) == 0)
			nl = e;
		for (s = p; s < nl && policy_space((unsigned char)*s)
		    && *s != ','; s++)
			;
		if (s == nl || *s == '#')
			continue;
		snprintf(where, sizeof(where), "%s:%d: ", path, line);
		n = policy_token(s, nl);
		for (p = s + n; p < nl && (*p == ' ' || *p == '\t'
		    || *p == '\r'); p++)
			;
		if (p < nl) {
			snprintf(why, len, "%sone entry a line", where);
			return (-1);
		}
		if (policy_add(l, nets, s, n, &wr, where, why, len) < 0)
			return (-1);
	}
	*end = wr;
	return (0);
}

/*
 * policy_read - read a list from its value into l; 0, or -1 with why
 *
 * Entries are checked and written in normal form into one pool, each
 * NUL-ended; then one array indexes them (sorted), or holds the
 * networks.
 */
static int
policy_read(struct policy_list *l, int nets, const char *value, char *why,
    size_t len)
{
	const char *p, *e;
	char   *wr, *end, *s;
	size_t	n, i;

	if (strncmp(value, "file:", 5) == 0) {
		if (policy_file(l, nets, value + 5, &end, why, len) < 0)
			return (-1);
	} else {
		n = strlen(value);
		if ((l->pool = malloc(n + 1)) == 0) {
			snprintf(why, len, "out of memory");
			return (-1);
		}
		memcpy(l->pool, value, n + 1);
		wr = l->pool;
		for (p = l->pool, e = l->pool + n; p < e; p += n) {
			if (policy_space((unsigned char)*p)) {
				n = 1;
				continue;
			}
			n = policy_token(p, e);
			if (n >= 5 && strncmp(p, "file:", 5) == 0) {
				snprintf(why, len, "file: must be the whole "
				    "value");
				return (-1);
			}
			if (policy_add(l, nets, p, n, &wr, "", why, len) < 0)
				return (-1);
		}
		end = wr;
	}
	if (l->n == 0)
		return (0);
	if (nets) {
		if ((l->net = calloc(l->n, sizeof(*l->net))) == 0) {
			snprintf(why, len, "out of memory");
			return (-1);
		}
		for (s = l->pool, i = 0; i < l->n; s += strlen(s) + 1, i++)
			if (policy_net(s, strlen(s), &l->net[i], &p) < 0)
				log_panic("policy_read: %s", s);
		free(l->pool);
		l->pool = 0;
		return (0);
	}
	if ((l->ent = calloc(l->n, sizeof(*l->ent))) == 0) {
		snprintf(why, len, "out of memory");
		return (-1);
	}
	for (s = l->pool, i = 0; s < end; s += strlen(s) + 1)
		l->ent[i++] = s;
	qsort(l->ent, l->n, sizeof(*l->ent), policy_sort_cmp);
	return (0);
}

/*
 * policy_set - give a list its configuration value; "" unsets it.
 *
 * *pp is made on the first list set. On error the list is as it was.
 * Returns 0, or -1 with why (for a file: list, FILE:LINE first).
 */
int
policy_set(struct policy **pp, int list, const char *value, char *why,
    size_t len)
{
	struct policy_list next;

	if (list < 0 || list >= POLICY_NLISTS)
		log_panic("policy_set: list %d", list);
	memset(&next, 0, sizeof(next));
	if (value[0] && policy_read(&next, list == POLICY_SKIP_CLIENTS, value,
	    why, len) < 0) {
		policy_list_free(&next);
		return (-1);
	}
	if (next.n == 0)
		policy_list_free(&next);	/* "," or an empty file */
	if (*pp == 0 && next.n == 0)
		return (0);
	if (*pp == 0) {
		if ((*pp = calloc(1, sizeof(**pp))) == 0) {
			policy_list_free(&next);
			snprintf(why, len, "out of memory");
			return (-1);
		}
		(*pp)->refs = 1;
	}
	policy_list_free(&(*pp)->list[list]);
	(*pp)->list[list] = next;
	return (0);
}

/* ------------------------------------------------------------------ */
/* Matching                                                            */
/* ------------------------------------------------------------------ */

/* policy_find - key is in the sorted list */

static int
policy_find(const struct policy_list *l, const char *key)
{
	size_t	lo = 0, hi = l->n, mid;
	int	c;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if ((c = strcmp(key, l->ent[mid])) == 0)
			return (1);
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return (0);
}

/*
 * policy_addr - the address lists addr is in, as bits (1 << POLICY_*)
 *
 * addr is "local@domain" with the local part unquoted, or "" for the
 * null path; the domain is split at the last '@'. A trailing dot of
 * the domain is ignored. An address without '@' matches "<>" when
 * empty and nothing else.
 */
int
policy_addr(const struct policy *p, const char *addr, size_t len)
{
	char	key[POLICY_ENTRY_MAX + 2];
	const char *at = 0, *dom;
	size_t	i, dlen, llen;
	int	bits = 0, l, exact;

	if (p == 0)
		return (0);
	for (i = len; i > 0; i--)
		if (addr[i - 1] == '@') {
			at = addr + i - 1;
			break;
		}
	if (len == 0) {
		memcpy(key, "<>", 3);
		for (l = 0; l < POLICY_SKIP_CLIENTS; l++)
			if (policy_find(&p->list[l], key))
				bits |= 1 << l;
		return (bits);
	}
	if (at == 0 || memchr(addr, 0, len))
		return (0);
	llen = at - addr;
	dom = at + 1;
	dlen = len - llen - 1;
	if (dlen > 0 && dom[dlen - 1] == '.')
		dlen--;
	if (dlen == 0 || dlen > 255)
		return (0);
	/* key: "local@domain", the domain lowercased; the domain alone
	 * starts at key + llen + 1. */
	exact = llen + 1 + dlen <= POLICY_ENTRY_MAX;
	if (!exact)
		llen = 0;
	memcpy(key, addr, llen);
	key[llen] = '@';
	for (i = 0; i < dlen; i++)
		key[llen + 1 + i] = policy_lower((unsigned char)dom[i]);
	key[llen + 1 + dlen] = 0;
	for (l = 0; l < POLICY_SKIP_CLIENTS; l++) {
		const struct policy_list *pl = &p->list[l];
		const char *d = key + llen + 1;

		if (pl->n == 0)
			continue;
		if ((exact && policy_find(pl, key)) || policy_find(pl, d)) {
			bits |= 1 << l;
			continue;
		}
		/* ".example.org" matches a.example.org, a.b.example.org */
		for (i = 1; i < dlen; i++)
			if (d[i] == '.' && policy_find(pl, d + i)) {
				bits |= 1 << l;
				break;
			}
	}
	return (bits);
}

/*
 * policy_client - a client address is in skip_clients: 1, 0, or -1 if
 * it is no address. Taken: "192.0.2.1", "2001:db8::1", XFORWARD's
 * "IPV6:2001:db8::1", an IPv6 address in brackets.
 */
int
policy_client(const struct policy *p, const char *addr)
{
	char	buf[INET6_ADDRSTRLEN + 2];
	unsigned char a[16];
	const struct policy_net *net;
	size_t	n, i;
	int	v6, bits, k;

	if (strncasecmp(addr, "IPV6:", 5) == 0)
		addr += 5;
	n = strlen(addr);
	if (n >= 2 && addr[0] == '[' && addr[n - 1] == ']') {
		addr++;
		n -= 2;
	}
	if (n == 0 || n >= sizeof(buf))
		return (-1);
	memcpy(buf, addr, n);
	buf[n] = 0;
	memset(a, 0, sizeof(a));
	if (inet_pton(AF_INET, buf, a) == 1)
		v6 = 0;
	else if (inet_pton(AF_INET6, buf, a) == 1)
		v6 = 1;
	else
		return (-1);
	if (v6 && policy_mapped(a)) {
		memmove(a, a + 12, 4);
		memset(a + 4, 0, 12);
		v6 = 0;
	}
	if (p == 0)
		return (0);
	for (k = 0; (size_t)k < p->list[POLICY_SKIP_CLIENTS].n; k++) {
		net = &p->list[POLICY_SKIP_CLIENTS].net[k];
		if (net->v6 != v6)
			continue;
		for (i = 0, bits = net->prefix; bits >= 8; i++, bits -= 8)
			if (a[i] != net->a[i])
				break;
		if (bits >= 8)
			continue;
		if (bits == 0 || ((a[i] ^ net->a[i]) & (0xff << (8 - bits))
		    & 0xff) == 0)
			return (1);
	}
	return (0);
}

/* ------------------------------------------------------------------ */
/* The envelope                                                        */
/* ------------------------------------------------------------------ */

/* policy_env_init - a transaction begins: nothing known */

void
policy_env_init(struct policy_env *e)
{
	memset(e, 0, sizeof(*e));
}

/* policy_env_sender - the sender, with the lists it is in */

void
policy_env_sender(struct policy_env *e, int bits)
{
	e->sender = 1;
	e->sender_bits = bits;
}

/* policy_env_rcpt - one more recipient, with the lists it is in */

void
policy_env_rcpt(struct policy_env *e, int bits)
{
	e->rcpt_all = e->nrcpt ? (e->rcpt_all & bits) : bits;
	e->rcpt_any |= bits;
	if (e->nrcpt < 2)
		e->nrcpt++;
}

/*
 * policy_verdict - the key that leaves the message alone, or 0 when it
 * is to be detached. Lists are looked at in the order client, sender,
 * recipients; one whose part of the envelope is unknown is skipped.
 */
const char *
policy_verdict(const struct policy *p, const struct policy_env *e)
{
	if (p == 0)
		return (0);
	if (e->client && policy_has(p, POLICY_SKIP_CLIENTS))
		return (policy_names[POLICY_SKIP_CLIENTS]);
	if (e->sender) {
		if (policy_has(p, POLICY_DETACH_SENDERS)
		    && !(e->sender_bits & (1 << POLICY_DETACH_SENDERS)))
			return (policy_names[POLICY_DETACH_SENDERS]);
		if (e->sender_bits & (1 << POLICY_SKIP_SENDERS)
		    && policy_has(p, POLICY_SKIP_SENDERS))
			return (policy_names[POLICY_SKIP_SENDERS]);
	}
	if (e->nrcpt) {
		if (policy_has(p, POLICY_DETACH_RECIPIENTS)
		    && !(e->rcpt_all & (1 << POLICY_DETACH_RECIPIENTS)))
			return (policy_names[POLICY_DETACH_RECIPIENTS]);
		if (e->rcpt_any & (1 << POLICY_SKIP_RECIPIENTS)
		    && policy_has(p, POLICY_SKIP_RECIPIENTS))
			return (policy_names[POLICY_SKIP_RECIPIENTS]);
	}
	return (0);
}
