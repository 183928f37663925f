/*
 * NAME
 *	proxy - the before-queue SMTP proxy: listeners and the poll() loop
 * SYNOPSIS
 *	#include "detach.h"
 *
 *	int proxy_run(const char *path, struct cfg *cfg)
 *
 *	int proxy_listen(const char *spec, int mode, gid_t gid,
 *		char *why, size_t whylen)
 *	void proxy_unlisten(int fd)
 * DESCRIPTION
 *	proxy_run() listens on every `listen` address, and for each client
 *	it accepts opens a non-blocking connection to `forward`; the
 *	session (smtp.c) relays between the two. One poll() loop serves
 *	every listener, client, downstream connection and every upload of
 *	every message job; each wait has a CLOCK_MONOTONIC deadline and
 *	poll() sleeps until the nearest.
 *
 *	proxy_listen() opens one listener, for the mail and for any other
 *	listener in the loop: "host:port", "[v6]:port" or "unix:/path".
 *	A unix: socket file is bound under a umask that leaves mode and
 *	gets group gid ((gid_t)-1: ours) before listen(), so no client sees
 *	other permissions. A socket file already at the path is probed: a
 *	refused connect means its process died, and it is replaced; one
 *	that connects, or a full backlog, is a live process's and an error;
 *	anything not a socket is never removed. proxy_unlisten() closes a
 *	listener and removes its socket file if it is still the one bound
 *	(same device and inode): at exit and when a reload drops it.
 *	Clients on unix: sockets are logged as "unix"; TCP_NODELAY is for
 *	TCP only. A unix: forward whose backlog is full (EAGAIN) is a
 *	failed connect: the client gets 421. What a read produces for the
 *	other side is written in the same loop turn when it fits, the rest
 *	once poll() says POLLOUT. A client's EOF that came behind the last
 *	bytes it sent (POLLRDHUP, and a read that took them all) is given
 *	to the session with them, so that a client gone right after its
 *	dot is known gone before the dot is relayed.
 *
 *	Past max_sessions a client gets "421 4.3.2" and is closed.
 *	A client we close lingers a little, write side shut and input
 *	dropped, until it closes too: a close() with input unread would
 *	reset the connection and could take our last reply with it.
 *	SIGTERM (and SIGINT): stop accepting, let each session finish its
 *	transaction (each step bounded by timeout), then answer 421 at
 *	its next command, and exit 0 when none is left. SIGHUP: reread
 *	the file and the policy's file: lists; new sessions get the new
 *	settings, lists and store, sessions in flight keep theirs (a
 *	generation holds a reference to its lists); listening addresses added are bound and
 *	those removed closed, those kept keep their sockets; a bad file,
 *	or an address that cannot be bound, keeps the old settings and
 *	the log says why. Signals reach the loop through a self-pipe.
 *
 *	Started as root, proxy_run() resolves `user` first, then opens
 *	the listeners and loads the store, and proxy_privdrop() gives up
 *	root for good before the loop reads any mail; it then checks, as
 *	the user, that spool_dir and a dir store are writable. Started as
 *	another user, it stays that user and says so. SIGHUP therefore
 *	rereads the file as the user: a reload that would need root (a
 *	changed `user`, a new address on a port below PROXY_PRIV_PORT)
 *	keeps the old settings and the log says why; a spool_dir or dir
 *	store the user cannot write is only warned about, as
 *	on_store_failure then decides each message.
 *	With metrics_listen set, its socket is opened here with the
 *	others (proxy_listen()) and served by metrics.c from this loop;
 *	on SIGHUP a changed metrics_listen is bound or closed with the
 *	listen addresses, all or nothing. Scrapes in flight finish.
 * LIMITS
 *	max_sessions; PROXY_UNIX_MAX unix: listeners at once (the old and
 *	the new set during a reload, and others'); PROXY_LINGER_MAX
 *	clients lingering, each at most PROXY_LINGER_MS; session memory
 *	is allocated once at accept and freed at close (struct smtp_sess,
 *	about 160 KB, of which an idle session touches a few pages: 1000
 *	idle sessions hold 26 MiB RSS); malloc keeps up to PROXY_HEAP_KEEP
 *	of freed memory for the next sessions, and gives all it keeps back
 *	once no session has run for PROXY_TRIM_IDLE_MS.
 * DIAGNOSTICS
 *	connect and disconnect lines per session, the transaction lines
 *	of smtp.c; warnings for failed accepts and connects; a line for
 *	each stale socket file removed. Listening failures at start are
 *	fatal (71), e.g. "listen unix:/p: held by a live process" or
 *	"exists and is not a socket"; on SIGHUP they keep the old settings.
 *	So are a bad `user` (78), a failed drop (71), and a spool or dir
 *	store the user cannot write (78). One line says which user the
 *	proxy runs as.
 * BUGS
 *	On SIGHUP a new `listen` address is bound with detach's privileges
 *	at that time; one that cannot be bound keeps the old settings. So
 *	does narrowing or widening a wildcard on the same port (0.0.0.0:P
 *	to 127.0.0.1:P): the new socket cannot be bound while the old one
 *	holds the port. Clients queued on a dropped listener are reset.
 *	listen_mode and listen_group apply to socket files bound from then
 *	on; a unix: listener kept over a reload keeps its file as it was.
 *	A stale socket file is probed, then removed: a process that binds
 *	the path between the two loses its file.
 */
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "detach.h"

/* Descriptors one message job may ask poll() for at a time. */
#define PROXY_MSG_PFD_MAX	8

/* Accepts per listener per loop turn, so one flood cannot starve the
 * sessions in flight. */
#define PROXY_ACCEPT_BURST	16

/*
 * A client we are done with lingers: its write side is shut (our last
 * reply, then FIN) and its input is read and dropped until it closes
 * too. close() with input unread sends a reset instead (RFC 2525 2.17),
 * and a reset can destroy our last reply before the client reads it.
 * Bounded in number and time; past either, close() at once, as without
 * lingering. 2 s lets a client on a slow path read a reply and send its
 * FIN; 128 bounds the descriptors held for it beyond max_sessions; 64
 * KiB per turn keeps one flooding client from holding the loop.
 */
#define PROXY_LINGER_MAX	128
#define PROXY_LINGER_MS		2000
#define PROXY_LINGER_READ_MAX	65536	/* dropped per descriptor per turn */
#define PROXY_LINGER_BUF	4096	/* one read() of dropped input */

/* A configuration generation, shared by the sessions started under it. */
struct proxy_cfg {
	struct cfg cfg;
	struct sockaddr_storage fwd;
	socklen_t fwdlen;
	int	refs;
};

struct proxy_sess {
	struct proxy_sess *next;
	struct proxy_cfg *pc;
	int	cfd;
	int	dfd;			/* -1 once closed */
	int	connecting;		/* downstream connect under way */
	int	cpfd, dpfd;		/* poll array slots, or -1 */
	int	mpfd, nmpfd;		/* the message job's slots */
	struct smtp_sess s;
};

struct proxy_linger {
	int	fd;
	int64_t	deadline;
};

/*
 * The socket files of our unix: listeners, removed when they close (if
 * still ours: same device and inode as bound). A reload holds the old
 * and the new set at once; other listeners (metrics) may add theirs.
 */
#define PROXY_UNIX_MAX		(2 * CFG_LISTEN_MAX + 4)

struct proxy_unix {
	int	fd;
	dev_t	dev;
	ino_t	ino;
	char	path[CFG_UNIX_PATH_MAX + 1];
};

static struct proxy_unix proxy_unix[PROXY_UNIX_MAX];
static int proxy_nunix;

static int proxy_sigpipe[2] = {-1, -1};
static struct proxy_linger proxy_lingers[PROXY_LINGER_MAX];
static int proxy_nlinger;
static struct proxy_sess *proxy_list;
static int proxy_nsess;
static int64_t proxy_idle_since = -1;	/* the last session's end, -1 if
					 * one runs or the heap was given back */
static unsigned proxy_serial;
static int64_t proxy_accept_pause;	/* no accepts before this time */

/* Out of descriptors, a listener stays readable: rest instead of
 * spinning on accept(). */
#define PROXY_EMFILE_PAUSE_MS	1000

/* Binding a port below this needs root (Linux's default
 * net.ipv4.ip_unprivileged_port_start; the unit keeps no capability):
 * once root is given up, a reload cannot add such a listener. */
#define PROXY_PRIV_PORT		1024

static int proxy_dropped;		/* root given up at start */

/* After SIGTERM's deadline, sessions still busy get our timeout reply
 * (451 after a dot, 421 otherwise) and this long to have it sent. */
#define PROXY_STOP_FLUSH_MS	2000

/* proxy_signal - note the signal; the loop acts on it */

static void
proxy_signal(int sig)
{
	unsigned char c = (unsigned char)sig;
	int saved = errno;

	(void)write(proxy_sigpipe[1], &c, 1);
	errno = saved;
}

/* proxy_nonblock - make a descriptor non-blocking and close-on-exec */

static int
proxy_nonblock(int fd)
{
	int fl;

	if ((fl = fcntl(fd, F_GETFL)) < 0
	    || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0
	    || fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
		return (-1);
	return (0);
}

/*
 * proxy_addr - "host:port", "[v6]:port" or "unix:/path" to a socket
 * address; names resolve here, at start and on SIGHUP, never in the loop
 */
static int
proxy_addr(const char *spec, struct sockaddr_storage *ss, socklen_t *len,
    char *why, size_t whylen)
{
	char host[CFG_LINE_MAX];
	const char *colon, *port;
	struct addrinfo hints, *res;
	struct sockaddr_un *sun = (struct sockaddr_un *)ss;
	size_t n;
	int err;

	if (strncmp(spec, "unix:", 5) == 0) {
		n = strlen(spec + 5);
		if (spec[5] != '/' || n >= sizeof(sun->sun_path)) {
			snprintf(why, whylen, "%s: not unix:/path of at most "
			    "%d bytes", spec, CFG_UNIX_PATH_MAX);
			return (-1);
		}
		memset(ss, 0, sizeof(*ss));
		sun->sun_family = AF_UNIX;
		memcpy(sun->sun_path, spec + 5, n + 1);
		*len = offsetof(struct sockaddr_un, sun_path) + n + 1;
		return (0);
	}
	if (spec[0] == '[') {
		colon = strstr(spec, "]:");
		if (colon == 0)
			goto bad;
		n = colon - spec - 1;
		port = colon + 2;
		if (n >= sizeof(host))
			goto bad;
		memcpy(host, spec + 1, n);
	} else {
		if ((colon = strrchr(spec, ':')) == 0)
			goto bad;
		n = colon - spec;
		port = colon + 1;
		if (n >= sizeof(host))
			goto bad;
		memcpy(host, spec, n);
	}
	host[n] = 0;
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	if ((err = getaddrinfo(host, port, &hints, &res)) != 0) {
		snprintf(why, whylen, "%s: %s", spec, gai_strerror(err));
		return (-1);
	}
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*len = res->ai_addrlen;
	freeaddrinfo(res);
	return (0);
bad:
	snprintf(why, whylen, "%s: not host:port or [addr]:port", spec);
	return (-1);
}

/*
 * proxy_unix_stale - make way for a socket file at path: nothing there,
 * or a socket that refuses connections (its process died and left it),
 * which is removed. A socket that takes a connection, or a backlog that
 * is full, is a live process's; anything that is not a socket is never
 * removed: -1 with why.
 */
static int
proxy_unix_stale(const char *spec, const struct sockaddr_un *sun,
    socklen_t len, char *why, size_t whylen)
{
	struct stat st;
	int fd, rc, err;

	if (lstat(sun->sun_path, &st) < 0) {
		if (errno == ENOENT)
			return (0);
		snprintf(why, whylen, "listen %s: %s", spec, strerror(errno));
		return (-1);
	}
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(why, whylen, "listen %s: exists and is not a socket",
		    spec);
		return (-1);
	}
	/* Non-blocking: a live listener with a full backlog says EAGAIN
	 * instead of holding us up. */
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) < 0) {
		snprintf(why, whylen, "listen %s: %s", spec, strerror(errno));
		return (-1);
	}
	rc = connect(fd, (const struct sockaddr *)sun, len);
	err = errno;
	(void)close(fd);
	if (rc == 0 || err == EAGAIN || err == EINPROGRESS) {
		snprintf(why, whylen, "listen %s: held by a live process",
		    spec);
		return (-1);
	}
	if (err == ENOENT)
		return (0);
	if (err != ECONNREFUSED) {
		snprintf(why, whylen, "listen %s: %s", spec, strerror(err));
		return (-1);
	}
	if (unlink(sun->sun_path) < 0 && errno != ENOENT) {
		snprintf(why, whylen, "listen %s: unlink stale socket: %s",
		    spec, strerror(errno));
		return (-1);
	}
	log_info("listen %s: removed a stale socket file", spec);
	return (0);
}

/*
 * proxy_listen_unix - a listening socket file with mode and group gid
 *
 * bind() runs under a umask that leaves exactly mode, so the file never
 * has more permissions than asked, not even for a moment; its group is
 * set before listen(), and until listen() every connect is refused.
 */
static int
proxy_listen_unix(const char *spec, const struct sockaddr_un *sun,
    socklen_t len, int mode, gid_t gid, char *why, size_t whylen)
{
	struct proxy_unix *u;
	struct stat st;
	mode_t old;
	int fd, rc, bound = 0;

	if (proxy_nunix >= PROXY_UNIX_MAX) {
		snprintf(why, whylen, "listen %s: more than %d unix listeners",
		    spec, PROXY_UNIX_MAX);
		return (-1);
	}
	if (proxy_unix_stale(spec, sun, len, why, whylen) < 0)
		return (-1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) < 0)
		goto fail;
	old = umask(~mode & 0777);
	rc = bind(fd, (const struct sockaddr *)sun, len);
	(void)umask(old);
	if (rc < 0)
		goto fail;
	bound = 1;
	if ((gid != (gid_t)-1 && chown(sun->sun_path, (uid_t)-1, gid) < 0)
	    || lstat(sun->sun_path, &st) < 0 || listen(fd, 128) < 0)
		goto fail;
	u = &proxy_unix[proxy_nunix++];
	u->fd = fd;
	u->dev = st.st_dev;
	u->ino = st.st_ino;
	memcpy(u->path, sun->sun_path, sizeof(u->path));
	return (fd);
fail:
	snprintf(why, whylen, "listen %s: %s", spec, strerror(errno));
	if (bound)
		(void)unlink(sun->sun_path);
	if (fd >= 0)
		(void)close(fd);
	return (-1);
}

/*
 * proxy_listen - one listening socket: TCP, or a unix: socket file with
 * the given mode and group ((gid_t)-1: ours). For any listener in the
 * loop; close it with proxy_unlisten().
 */
int
proxy_listen(const char *spec, int mode, gid_t gid, char *why, size_t whylen)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, on = 1;

	if (proxy_addr(spec, &ss, &len, why, whylen) < 0)
		return (-1);
	if (ss.ss_family == AF_UNIX)
		return (proxy_listen_unix(spec, (struct sockaddr_un *)&ss, len,
		    mode, gid, why, whylen));
	if ((fd = socket(ss.ss_family, SOCK_STREAM, 0)) < 0
	    || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) < 0
	    || (ss.ss_family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6,
	    IPV6_V6ONLY, &on, sizeof(on)) < 0)
	    || bind(fd, (struct sockaddr *)&ss, len) < 0
	    || listen(fd, 128) < 0 || proxy_nonblock(fd) < 0) {
		snprintf(why, whylen, "listen %s: %s", spec, strerror(errno));
		if (fd >= 0)
			(void)close(fd);
		return (-1);
	}
	return (fd);
}

/* proxy_unlisten_all - at exit, a fatal one included: remove the unix:
 * socket files still ours, so none is left for the next start to probe */

static void
proxy_unlisten_all(void)
{
	while (proxy_nunix > 0)
		proxy_unlisten(proxy_unix[0].fd);
}

/*
 * proxy_unlisten - close a listener from proxy_listen(); a unix: one's
 * socket file is removed if it is still the one we bound (another
 * process may have replaced it as stale since)
 */
void
proxy_unlisten(int fd)
{
	struct proxy_unix *u;
	struct stat st;
	int	i;

	for (i = 0; i < proxy_nunix; i++) {
		u = &proxy_unix[i];
		if (u->fd != fd)
			continue;
		if (lstat(u->path, &st) == 0 && st.st_dev == u->dev
		    && st.st_ino == u->ino && unlink(u->path) < 0)
			log_warn("unlink %s: %s", u->path, strerror(errno));
		*u = proxy_unix[--proxy_nunix];
		break;
	}
	(void)close(fd);
}

/* proxy_cfg_new - a configuration generation; 0 with why on error */

static struct proxy_cfg *
proxy_cfg_new(const struct cfg *cfg, char *why, size_t whylen)
{
	struct proxy_cfg *pc;

	if ((pc = calloc(1, sizeof(*pc))) == 0) {
		snprintf(why, whylen, "out of memory");
		return (0);
	}
	pc->cfg = *cfg;
	if (proxy_addr(cfg->forward, &pc->fwd, &pc->fwdlen, why,
	    whylen) < 0) {
		free(pc);
		return (0);
	}
	/* The generation holds its lists; its sessions use them. */
	policy_ref(pc->cfg.policy);
	pc->refs = 1;
	return (pc);
}

static void
proxy_cfg_unref(struct proxy_cfg *pc)
{
	if (--pc->refs == 0) {
		policy_unref(pc->cfg.policy);
		explicit_bzero(pc, sizeof(*pc));
		free(pc);
	}
}

/*
 * proxy_peer - "[addr]:port" of a socket address, or "unix" for a
 * unix-domain client (its socket has no name; Postfix's XFORWARD still
 * tells the after-filter smtpd who the real client is)
 */
static void
proxy_peer(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN];
	int port = 0;

	host[0] = 0;
	if (ss->ss_family == AF_UNIX) {
		snprintf(buf, len, "unix");
		return;
	}
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)ss;

		inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
		port = ntohs(sin->sin_port);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const void *)ss;

		inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
		port = ntohs(sin6->sin6_port);
	}
	snprintf(buf, len, "[%s]:%d", host, port);
}

/* proxy_drain - drop what a lingering client sends; -1 at its end */

static int
proxy_drain(int fd)
{
	char buf[PROXY_LINGER_BUF];
	size_t total = 0;
	ssize_t n;

	while (total < PROXY_LINGER_READ_MAX) {
		if ((n = read(fd, buf, sizeof(buf))) > 0) {
			total += n;
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return (0);
		return (-1);
	}
	return (0);
}

/* proxy_linger_add - shut our side of a client, close once it closes */

static void
proxy_linger_add(int fd, int64_t now)
{
	struct proxy_linger *pl;

	if (proxy_nlinger == PROXY_LINGER_MAX || shutdown(fd, SHUT_WR) < 0
	    || proxy_drain(fd) < 0) {
		(void)close(fd);
		return;
	}
	pl = &proxy_lingers[proxy_nlinger++];
	pl->fd = fd;
	pl->deadline = now + PROXY_LINGER_MS;
}

/* proxy_linger_del - close and forget lingering client i */

static void
proxy_linger_del(int i)
{
	(void)close(proxy_lingers[i].fd);
	proxy_lingers[i] = proxy_lingers[--proxy_nlinger];
}

/* proxy_refuse - past max_sessions: a best-effort 421, then linger */

static void
proxy_refuse(int fd, const struct cfg *cfg, int64_t now)
{
	char buf[320];
	int n;

	n = snprintf(buf, sizeof(buf), "421 4.3.2 %s Error: too many "
	    "sessions, try again later\r\n", cfg->hostname);
	if (n > 0 && (size_t)n < sizeof(buf))
		(void)write(fd, buf, n);
	proxy_linger_add(fd, now);
}

/* proxy_accept - take one client and start its downstream connect */

static void
proxy_accept(int lfd, struct proxy_cfg *pc, int64_t now)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	struct proxy_sess *ps;
	char peer[64], id[16];
	int cfd, dfd, on = 1;

	/* Flags at accept and socket time: no fcntl() calls per session. */
	if ((cfd = accept4(lfd, (struct sockaddr *)&ss, &len,
	    SOCK_NONBLOCK | SOCK_CLOEXEC)) < 0) {
		if (errno == EMFILE || errno == ENFILE) {
			log_warn("accept: %s; pausing with %d sessions",
			    strerror(errno), proxy_nsess);
			proxy_accept_pause = now + PROXY_EMFILE_PAUSE_MS;
		} else if (errno != EAGAIN && errno != EINTR
		    && errno != ECONNABORTED)
			log_warn("accept: %s", strerror(errno));
		return;
	}
	if (ss.ss_family != AF_UNIX)
		(void)setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &on,
		    sizeof(on));
	proxy_peer(&ss, peer, sizeof(peer));
	if (proxy_nsess >= pc->cfg.max_sessions) {
		log_warn("refusing %s: %d sessions", peer, proxy_nsess);
		proxy_refuse(cfd, &pc->cfg, now);
		return;
	}
	if ((ps = malloc(sizeof(*ps))) == 0) {
		log_warn("refusing %s: out of memory", peer);
		proxy_refuse(cfd, &pc->cfg, now);
		return;
	}
	proxy_serial++;
	snprintf(id, sizeof(id), "%05X%05X", (unsigned)(now / 1000) & 0xfffff,
	    proxy_serial & 0xfffff);
	ps->pc = pc;
	pc->refs++;
	ps->cfd = cfd;
	ps->dfd = -1;
	ps->connecting = 0;
	smtp_sess_init(&ps->s, &pc->cfg, id, peer, now);
	ps->next = proxy_list;
	proxy_list = ps;
	proxy_nsess++;
	proxy_idle_since = -1;
	log_info("%s: connect from %s", id, peer);
	if ((dfd = socket(pc->fwd.ss_family, SOCK_STREAM | SOCK_NONBLOCK
	    | SOCK_CLOEXEC, 0)) < 0) {
		smtp_down_gone(&ps->s, strerror(errno), now);
		return;
	}
	if (pc->fwd.ss_family != AF_UNIX)
		(void)setsockopt(dfd, IPPROTO_TCP, TCP_NODELAY, &on,
		    sizeof(on));
	ps->dfd = dfd;
	if (connect(dfd, (struct sockaddr *)&pc->fwd, pc->fwdlen) == 0)
		return;
	/* A unix: connect never says EINPROGRESS: it is done at once or
	 * says EAGAIN, the listener's backlog being full. That is a
	 * server too busy to take us now: a failed connect like any
	 * other, the client gets 421 and tries again later, as Postfix's
	 * front smtpd does with its own client. Waiting would need a
	 * retry timer and would hold the client for a server that is
	 * behind already. */
	if (errno == EINPROGRESS && pc->fwd.ss_family != AF_UNIX) {
		ps->connecting = 1;
		return;
	}
	log_warn("%s: connect to %s: %s", id, pc->cfg.forward,
	    strerror(errno));
	(void)close(dfd);
	ps->dfd = -1;
	smtp_down_gone(&ps->s, "connect failed", now);
}

/* proxy_close_down - close the downstream connection */

static void
proxy_close_down(struct proxy_sess *ps, const char *why, int64_t now)
{
	if (ps->dfd >= 0)
		(void)close(ps->dfd);
	ps->dfd = -1;
	ps->connecting = 0;
	smtp_down_gone(&ps->s, why, now);
}

/* proxy_free - end a session */

static void
proxy_free(struct proxy_sess *ps, int64_t now)
{
	struct proxy_sess **pp;

	for (pp = &proxy_list; *pp; pp = &(*pp)->next)
		if (*pp == ps) {
			*pp = ps->next;
			break;
		}
	log_info("%s: disconnect from %s", ps->s.id, ps->s.peer);
	smtp_sess_free(&ps->s);
	if (ps->dfd >= 0)
		(void)close(ps->dfd);
	if (ps->s.ceof)
		(void)close(ps->cfd);
	else
		proxy_linger_add(ps->cfd, now);
	proxy_cfg_unref(ps->pc);
	free(ps);
	if (--proxy_nsess == 0)
		proxy_idle_since = now;
}

/* proxy_write_client - write what the session has for its client */

static void
proxy_write_client(struct proxy_sess *ps)
{
	struct smtp_sess *s = &ps->s;
	const unsigned char *o;
	size_t room;
	ssize_t n;

	if (s->state == SMTP_WAIT_NOTHING)
		return;
	o = smtp_cout_buf(s, &room);
	if (room > 0) {
		n = write(ps->cfd, o, room);
		if (n >= 0)
			smtp_cout_ack(s, n);
		else if (errno != EAGAIN && errno != EINTR)
			smtp_client_gone(s, strerror(errno));
	}
}

/* proxy_write_down - write what the session has for downstream */

static void
proxy_write_down(struct proxy_sess *ps, int64_t now)
{
	struct smtp_sess *s = &ps->s;
	const unsigned char *o;
	size_t room;
	ssize_t n;

	o = smtp_dout_buf(s, &room);
	if (room > 0) {
		n = write(ps->dfd, o, room);
		if (n >= 0)
			smtp_dout_ack(s, n, now);
		else if (errno != EAGAIN && errno != EINTR)
			proxy_close_down(ps, strerror(errno), now);
	}
}

/* proxy_io - move bytes for one session after poll() */

static void
proxy_io(struct proxy_sess *ps, struct pollfd *pfd, int64_t now)
{
	struct smtp_sess *s = &ps->s;
	unsigned char *b;
	size_t room;
	ssize_t n;
	int err, got = 0, want;
	socklen_t elen = sizeof(err);
	short ev;

	if (ps->cpfd >= 0 && (ev = pfd[ps->cpfd].revents) != 0) {
		if (ev & (POLLIN | POLLHUP | POLLERR)) {
			b = smtp_cin_buf(s, &room);
			if (room > 0) {
				n = read(ps->cfd, b, room);
				if (n > 0) {
					smtp_cin_ack(s, n, now);
					got = 1;
					/*
					 * The client's FIN had come when poll()
					 * ran, and a short read took all before
					 * it: its EOF is known now, before what
					 * was read is acted on. A client gone
					 * right after its dot must be seen gone
					 * before the dot is relayed (smtp.c).
					 */
					if ((ev & POLLRDHUP) && (size_t)n < room)
						smtp_cin_ack(s, 0, now);
				} else if (n == 0)
					smtp_cin_ack(s, 0, now);
				else if (errno != EAGAIN && errno != EINTR)
					smtp_client_gone(s, strerror(errno));
			}
		}
		if (ev & POLLOUT)
			proxy_write_client(ps);
	}
	if (ps->dpfd >= 0 && ps->dfd >= 0
	    && (ev = pfd[ps->dpfd].revents) != 0) {
		if (ps->connecting) {
			if (getsockopt(ps->dfd, SOL_SOCKET, SO_ERROR, &err,
			    &elen) < 0)
				err = errno;
			if (err != 0) {
				log_warn("%s: connect to %s: %s", s->id,
				    ps->pc->cfg.forward, strerror(err));
				proxy_close_down(ps, "connect failed", now);
			} else
				ps->connecting = 0;
		} else {
			if (ev & (POLLIN | POLLHUP | POLLERR)) {
				b = smtp_din_buf(s, &room);
				n = room > 0 ? read(ps->dfd, b, room) : -2;
				if (n > 0) {
					smtp_din_ack(s, n);
					got = 1;
				} else if (n == 0)
					proxy_close_down(ps, "connection "
					    "closed", now);
				else if (n == -1 && errno != EAGAIN
				    && errno != EINTR)
					proxy_close_down(ps, strerror(errno),
					    now);
			}
			if ((ev & POLLOUT) && ps->dfd >= 0)
				proxy_write_down(ps, now);
		}
	}
	/* Also with no descriptor: an upload pausing before its next try
	 * waits on a deadline only. msg_event() does nothing unless the
	 * message is being stored. */
	if (s->msg)
		msg_event(s->msg, pfd + ps->mpfd, ps->nmpfd, now);
	/*
	 * What the bytes just read produced goes out now, not a poll()
	 * turn later: a relayed command or reply almost always fits the
	 * socket at once, and each SMTP step through the proxy would
	 * otherwise cost a second poll() and its delay. What does not fit
	 * waits for POLLOUT as before; closing is left to the loop.
	 */
	if (got) {
		smtp_run(s, now);
		want = smtp_want(s);
		if ((want & SMTP_WANT_DWRITE) && ps->dfd >= 0
		    && !ps->connecting)
			proxy_write_down(ps, now);
		if (want & SMTP_WANT_CWRITE)
			proxy_write_client(ps);
	}
}

/* proxy_same_addr - do two listen specs name the same socket address? */

static int
proxy_same_addr(const char *a, const char *b)
{
	struct sockaddr_storage sa, sb;
	socklen_t la, lb;
	char	why[CFG_LINE_MAX + 64];

	if (strcmp(a, b) == 0)
		return (1);
	if (proxy_addr(a, &sa, &la, why, sizeof(why)) < 0
	    || proxy_addr(b, &sb, &lb, why, sizeof(why)) < 0)
		return (0);
	return (la == lb && memcmp(&sa, &sb, la) == 0);
}

/* proxy_listen_find - index of the listener for spec in cfg, or -1 */

static int
proxy_listen_find(const struct cfg *cfg, int n, const char *spec)
{
	int	j;

	for (j = 0; j < n; j++)
		if (proxy_same_addr(cfg->listen[j], spec))
			return (j);
	return (-1);
}

/*
 * proxy_relisten_open - the sockets of a new `listen` into fd[]: an
 * address kept keeps its socket (and its queue of clients), a new one
 * is bound now. Nothing is closed: -1 if one cannot be bound, and then
 * those bound here are closed again.
 */
static int
proxy_relisten_open(const struct cfg *old, const struct cfg *next,
    const int *lfd, int *fd, char *why, size_t whylen)
{
	int	i, j;

	for (i = 0; i < next->nlisten; i++) {
		if (proxy_listen_find(next, i, next->listen[i]) >= 0) {
			snprintf(why, whylen, "listen %s: given twice",
			    next->listen[i]);
			break;
		}
		j = proxy_listen_find(old, old->nlisten, next->listen[i]);
		fd[i] = j >= 0 ? lfd[j] : proxy_listen(next->listen[i],
		    next->listen_mode, next->listen_gid, why, whylen);
		if (fd[i] < 0)
			break;
	}
	if (i == next->nlisten)
		return (0);
	while (--i >= 0)
		if (proxy_listen_find(old, old->nlisten, next->listen[i]) < 0)
			proxy_unlisten(fd[i]);
	return (-1);
}

/* proxy_relisten_undo - close what proxy_relisten_open() bound */

static void
proxy_relisten_undo(const struct cfg *old, const struct cfg *next,
    const int *fd)
{
	int	i;

	for (i = 0; i < next->nlisten; i++)
		if (proxy_listen_find(old, old->nlisten, next->listen[i]) < 0)
			proxy_unlisten(fd[i]);
}

/*
 * proxy_metrics_open - the socket of a new metrics_listen into *fd: the
 * old one if the address is kept, -1 if none; -1 with why if it cannot
 * be bound
 */
static int
proxy_metrics_open(const struct cfg *old, const struct cfg *next, int mfd,
    int *fd, char *why, size_t whylen)
{
	if (next->metrics_listen[0] == 0)
		*fd = -1;
	else if (old->metrics_listen[0] && proxy_same_addr(old->metrics_listen,
	    next->metrics_listen))
		*fd = mfd;
	else if ((*fd = proxy_listen(next->metrics_listen, next->listen_mode,
	    next->listen_gid, why, whylen)) < 0)
		return (-1);
	return (0);
}

/* proxy_metrics_commit - *mfd becomes fd; the old socket is closed */

static void
proxy_metrics_commit(const struct cfg *old, const struct cfg *next,
    int *mfd, int fd)
{
	if (fd == *mfd)
		return;
	if (*mfd >= 0) {
		log_info("reload: no longer serving metrics on %s",
		    old->metrics_listen);
		proxy_unlisten(*mfd);
	}
	if (fd >= 0)
		log_info("reload: serving metrics on %s", next->metrics_listen);
	*mfd = fd;
}

/* proxy_relisten_commit - close the listeners dropped; fd[] takes over */

static void
proxy_relisten_commit(const struct cfg *old, const struct cfg *next,
    int *lfd, int *nl, const int *fd)
{
	int	i, j;

	for (j = 0; j < *nl; j++)
		if (proxy_listen_find(next, next->nlisten,
		    old->listen[j]) < 0) {
			log_info("reload: no longer listening on %s",
			    old->listen[j]);
			proxy_unlisten(lfd[j]);
		}
	for (i = 0; i < next->nlisten; i++)
		if (proxy_listen_find(old, old->nlisten, next->listen[i]) < 0)
			log_info("reload: listening on %s", next->listen[i]);
	memcpy(lfd, fd, next->nlisten * sizeof(*fd));
	*nl = next->nlisten;
}

/* proxy_low_port - does a listen spec name a port below PROXY_PRIV_PORT? */

static int
proxy_low_port(const char *spec)
{
	const char *colon;
	long	port;

	if (strncmp(spec, "unix:", 5) == 0
	    || (colon = strrchr(spec, ':')) == 0)
		return (0);
	port = strtol(colon + 1, 0, 10);
	return (port > 0 && port < PROXY_PRIV_PORT);
}

/*
 * proxy_needs_root - what in next only a restart as root can do: a
 * changed user, a new listener on a low port; 0, or -1 with why
 */
static int
proxy_needs_root(const struct cfg *old, const struct cfg *next, char *why,
    size_t len)
{
	int	i;

	if (geteuid() == 0)
		return (0);
	if (proxy_dropped && strcmp(old->user, next->user) != 0) {
		snprintf(why, len, "user %s: running as %s, a new user needs "
		    "a restart as root", next->user, old->user);
		return (-1);
	}
	for (i = 0; i < next->nlisten; i++)
		if (proxy_listen_find(old, old->nlisten, next->listen[i]) < 0
		    && proxy_low_port(next->listen[i])) {
			snprintf(why, len, "listen %s: a port below %d needs "
			    "root: restart detach to add it", next->listen[i],
			    PROXY_PRIV_PORT);
			return (-1);
		}
	return (0);
}

/*
 * proxy_reload - SIGHUP: new settings for new sessions
 *
 * All or nothing. New listening addresses are bound first and closed
 * again if anything after fails; store_init() comes last but one, as it
 * makes the new store current; dropped listeners are closed last.
 */
static struct proxy_cfg *
proxy_reload(const char *path, struct proxy_cfg *cur, int *lfd, int *nl,
    int *mfd)
{
	struct cfg next;
	struct proxy_cfg *pc;
	char why[CFG_LINE_MAX + 256];
	int	fd[CFG_LISTEN_MAX], nmfd;

	if (cfg_load(&next, path, 1, why, sizeof(why)) < 0) {
		log_warn("reload: keeping the old settings: %s", why);
		return (cur);
	}
	if (proxy_needs_root(&cur->cfg, &next, why, sizeof(why)) < 0) {
		log_warn("reload: keeping the old settings: %s", why);
		cfg_free(&next);
		explicit_bzero(&next, sizeof(next));
		return (cur);
	}
	if ((pc = proxy_cfg_new(&next, why, sizeof(why))) == 0) {
		log_warn("reload: keeping the old settings: %s", why);
		cfg_free(&next);
		explicit_bzero(&next, sizeof(next));
		return (cur);
	}
	cfg_free(&next);
	explicit_bzero(&next, sizeof(next));
	if (proxy_relisten_open(&cur->cfg, &pc->cfg, lfd, fd, why,
	    sizeof(why)) < 0) {
		log_warn("reload: keeping the old settings: %s", why);
		proxy_cfg_unref(pc);
		return (cur);
	}
	if (proxy_metrics_open(&cur->cfg, &pc->cfg, *mfd, &nmfd, why,
	    sizeof(why)) < 0) {
		log_warn("reload: keeping the old settings: metrics_listen: "
		    "%s", why);
		proxy_relisten_undo(&cur->cfg, &pc->cfg, fd);
		proxy_cfg_unref(pc);
		return (cur);
	}
	if (store_init(&pc->cfg, why, sizeof(why)) < 0) {
		log_warn("reload: keeping the old settings: store: %s", why);
		proxy_relisten_undo(&cur->cfg, &pc->cfg, fd);
		if (nmfd != *mfd && nmfd >= 0)
			proxy_unlisten(nmfd);
		proxy_cfg_unref(pc);
		return (cur);
	}
	proxy_relisten_commit(&cur->cfg, &pc->cfg, lfd, nl, fd);
	proxy_metrics_commit(&cur->cfg, &pc->cfg, mfd, nmfd);
	log_info("reload: new settings in effect for new sessions");
	/* Not a reason to refuse: on_store_failure says what happens. */
	if (priv_dirs(&pc->cfg, 0, why, sizeof(why)) < 0)
		log_warn("reload: %s", why);
	proxy_cfg_unref(cur);
	return (pc);
}

/*
 * Freed session and message memory kept by malloc for the next ones, up
 * to this much: without it each session's 160 KB came from the kernel
 * and went back (a brk() each way) and every page it touched faulted in
 * again, some 19 page faults per plain message. Sessions come from the
 * heap, not mmap(), for the same reason. What is kept is bounded here;
 * RSS after a burst of idle sessions drops to at most this above need.
 */
#define PROXY_HEAP_KEEP		(8 << 20)
#define PROXY_HEAP_MMAP_MIN	(1 << 20)

/*
 * What malloc keeps is the high-water mark of the sessions and uploads
 * of the busiest moment, scattered through the heap, not just at its
 * top. Once no session has run for this long, all of it goes back to
 * the kernel (malloc_trim): a quiet daemon is small again, and a busy
 * one never pays for it.
 */
#define PROXY_TRIM_IDLE_MS	(5 * 1000)

/* proxy_trim_idle - give the kept heap back once idle long enough; else
 * bring the deadline dl forward to that moment */

static void
proxy_trim_idle(int64_t now, int64_t *dl)
{
	if (proxy_idle_since < 0)
		return;
	if (now - proxy_idle_since >= PROXY_TRIM_IDLE_MS) {
		(void)malloc_trim(0);
		proxy_idle_since = -1;
	} else if (proxy_idle_since + PROXY_TRIM_IDLE_MS < *dl)
		*dl = proxy_idle_since + PROXY_TRIM_IDLE_MS;
}

/* proxy_fdlimit - room for two descriptors a session and the uploads */

static void
proxy_fdlimit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/*
 * proxy_privdrop - every socket is open and the store loaded: give up
 * root (for pu; 0 when not started as root) before the first byte of
 * mail, then check as the user the directories we write to
 */
static void
proxy_privdrop(const char *path, const struct cfg *cfg,
    const struct priv_user *pu)
{
	char	why[CFG_LINE_MAX + 256];
	struct passwd *pw;

	if (pu) {
		if (priv_drop(pu, why, sizeof(why)) < 0)
			log_fatal(DETACH_EX_OSERR, "giving up root: %s", why);
		proxy_dropped = 1;
		log_info("running as user %s (uid %ld, gid %ld)", pu->name,
		    (long)pu->uid, (long)pu->gid);
	} else {
		pw = getpwuid(geteuid());
		log_info("not started as root: did not change user, running "
		    "as %.32s (uid %ld); user = %s is not used",
		    pw ? pw->pw_name : "?", (long)geteuid(), cfg->user);
	}
	if (priv_dirs(cfg, 0, why, sizeof(why)) < 0)
		log_fatal(DETACH_EX_CONFIG, "%s", why);
	if (access(path, R_OK) < 0)
		log_warn("%s: %s: SIGHUP cannot reread it", path,
		    strerror(errno));
}

/* proxy_run - run the proxy in the foreground until SIGTERM */

int
proxy_run(const char *path, struct cfg *cfg)
{
	struct proxy_cfg *pc;
	struct proxy_sess *ps, *next;
	struct pollfd *pfd = 0;
	struct sigaction sa;
	char why[CFG_LINE_MAX + 256];
	int lfd[CFG_LISTEN_MAX], nl, i, npfd, cap = 0, want, n, stopping = 0;
	int lpfd, gpfd, ngpfd, timeout, relisten;
	int64_t now, dl, stop_deadline = 0;
	int	stop_forced = 0;
	int	mlfd = -1, mpfd, nmpfd;	/* metrics listener, slots */
	unsigned char sig[16];
	struct priv_user pu;
	int	root = geteuid() == 0;

	if (root && priv_user(cfg, path, &pu, why, sizeof(why)) < 0)
		log_fatal(DETACH_EX_CONFIG, "%s", why);
	proxy_fdlimit();
	/* log_fatal() exits: socket files bound by then go with it. */
	if (atexit(proxy_unlisten_all) != 0)
		log_fatal(DETACH_EX_OSERR, "atexit failed");
	(void)mallopt(M_TRIM_THRESHOLD, PROXY_HEAP_KEEP);
	(void)mallopt(M_MMAP_THRESHOLD, PROXY_HEAP_MMAP_MIN);
	if ((pc = proxy_cfg_new(cfg, why, sizeof(why))) == 0)
		log_fatal(DETACH_EX_CONFIG, "forward: %s", why);
	if (store_init(&pc->cfg, why, sizeof(why)) < 0)
		log_fatal(DETACH_EX_CONFIG, "store: %s", why);
	for (nl = 0; nl < cfg->nlisten; nl++)
		if ((lfd[nl] = proxy_listen(cfg->listen[nl], cfg->listen_mode,
		    cfg->listen_gid, why, sizeof(why))) < 0) {
			/* Leave no socket file of ours behind. */
			while (--nl >= 0)
				proxy_unlisten(lfd[nl]);
			log_fatal(DETACH_EX_OSERR, "%s", why);
		}
	if (cfg->metrics_listen[0] && (mlfd = proxy_listen(cfg->metrics_listen,
	    cfg->listen_mode, cfg->listen_gid, why, sizeof(why))) < 0) {
		for (i = 0; i < nl; i++)
			proxy_unlisten(lfd[i]);
		log_fatal(DETACH_EX_OSERR, "metrics_listen: %s", why);
	}
	metrics_start();
	if (pipe(proxy_sigpipe) < 0 || proxy_nonblock(proxy_sigpipe[0]) < 0
	    || proxy_nonblock(proxy_sigpipe[1]) < 0)
		log_fatal(DETACH_EX_OSERR, "pipe: %s", strerror(errno));
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = proxy_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	sigaction(SIGTERM, &sa, 0);
	sigaction(SIGINT, &sa, 0);
	sigaction(SIGHUP, &sa, 0);
	signal(SIGPIPE, SIG_IGN);
	for (i = 0; i < nl; i++)
		log_info("listening on %s, forwarding to %s", cfg->listen[i],
		    cfg->forward);
	if (mlfd >= 0)
		log_info("serving metrics on %s", cfg->metrics_listen);
	/* Every socket is open by now: no mail is read as root. */
	proxy_privdrop(path, cfg, root ? &pu : 0);

	for (;;) {
		now = clock_ms();
		if (stopping && ((proxy_nsess == 0 && proxy_nlinger == 0)
		    || (now >= stop_deadline && stop_forced)))
			break;
		if (stopping && now >= stop_deadline) {
			/* Never a silent close: answer, then flush. */
			for (ps = proxy_list; ps; ps = ps->next)
				if (ps->s.state != SMTP_WAIT_NOTHING
				    && ps->s.state != SMTP_WAIT_FLUSH)
					smtp_timeout(&ps->s, now);
			stop_forced = 1;
			stop_deadline = now + PROXY_STOP_FLUSH_MS;
		}
		/* Deadlines first, then what each session waits on. */
		n = 1 + nl + PROXY_LINGER_MAX + 1 + METRICS_CONN_MAX
		    + proxy_nsess * (2 + PROXY_MSG_PFD_MAX);
		if (n > cap) {
			free(pfd);
			cap = n + 64;
			if ((pfd = calloc(cap, sizeof(*pfd))) == 0)
				log_panic("out of memory for %d pollfds", cap);
		}
		npfd = 0;
		pfd[npfd].fd = proxy_sigpipe[0];
		pfd[npfd++].events = POLLIN;
		lpfd = npfd;
		for (i = 0; i < nl; i++) {
			pfd[npfd].fd = stopping || now < proxy_accept_pause ?
			    -1 : lfd[i];
			pfd[npfd].revents = 0;
			pfd[npfd++].events = POLLIN;
		}
		dl = stopping ? stop_deadline : now + 3600 * 1000;
		if (now < proxy_accept_pause && proxy_accept_pause < dl)
			dl = proxy_accept_pause;
		for (ps = proxy_list; ps; ps = next) {
			next = ps->next;
			if (ps->s.state != SMTP_WAIT_NOTHING
			    && now >= ps->s.deadline)
				smtp_timeout(&ps->s, now);
			smtp_run(&ps->s, now);
			want = smtp_want(&ps->s);
			if (want & SMTP_WANT_DCLOSE)
				proxy_close_down(ps, 0, now);
			if (want & SMTP_WANT_CLOSE) {
				proxy_free(ps, now);
				continue;
			}
			ps->cpfd = ps->dpfd = -1;
			ps->mpfd = ps->nmpfd = 0;
			if (want & (SMTP_WANT_CREAD | SMTP_WANT_CWRITE)) {
				ps->cpfd = npfd;
				pfd[npfd].fd = ps->cfd;
				pfd[npfd].revents = 0;
				pfd[npfd++].events = (want & SMTP_WANT_CREAD ?
				    POLLIN | POLLRDHUP : 0)
				    | (want & SMTP_WANT_CWRITE ? POLLOUT : 0);
			}
			if (ps->dfd >= 0 && (ps->connecting || (want
			    & (SMTP_WANT_DREAD | SMTP_WANT_DWRITE)))) {
				ps->dpfd = npfd;
				pfd[npfd].fd = ps->dfd;
				pfd[npfd].revents = 0;
				pfd[npfd++].events = ps->connecting ? POLLOUT :
				    (want & SMTP_WANT_DREAD ? POLLIN : 0)
				    | (want & SMTP_WANT_DWRITE ? POLLOUT : 0);
			}
			if ((want & SMTP_WANT_STORE) && ps->s.msg) {
				ps->mpfd = npfd;
				ps->nmpfd = msg_poll(ps->s.msg, pfd + npfd,
				    PROXY_MSG_PFD_MAX, &dl);
				npfd += ps->nmpfd;
			}
			if (ps->s.deadline < dl)
				dl = ps->s.deadline;
		}
		if (stopping && proxy_nsess == 0 && proxy_nlinger == 0)
			break;
		gpfd = npfd;
		for (ngpfd = 0; ngpfd < proxy_nlinger; ngpfd++) {
			pfd[npfd].fd = proxy_lingers[ngpfd].fd;
			pfd[npfd].revents = 0;
			pfd[npfd++].events = POLLIN;
			if (proxy_lingers[ngpfd].deadline < dl)
				dl = proxy_lingers[ngpfd].deadline;
		}
		mpfd = npfd;
		nmpfd = metrics_poll(stopping ? -1 : mlfd, pfd + npfd,
		    1 + METRICS_CONN_MAX, &dl);
		npfd += nmpfd;
		proxy_trim_idle(now, &dl);
		timeout = dl <= now ? 0 : (dl - now > 3600000 ? 3600000 :
		    (int)(dl - now));
		if (poll(pfd, npfd, timeout) < 0) {
			if (errno == EINTR)
				continue;
			log_panic("poll: %s", strerror(errno));
		}
		now = clock_ms();
		relisten = 0;
		if (pfd[0].revents & POLLIN) {
			while ((n = read(proxy_sigpipe[0], sig,
			    sizeof(sig))) > 0) {
				for (i = 0; i < n; i++) {
					if (sig[i] == SIGHUP && !stopping) {
						pc = proxy_reload(path, pc,
						    lfd, &nl, &mlfd);
						relisten = 1;
					}
					else if ((sig[i] == SIGTERM
					    || sig[i] == SIGINT) && !stopping) {
						log_info("stopping: %d "
						    "sessions in flight",
						    proxy_nsess);
						stopping = 1;
						stop_deadline = now +
						    pc->cfg.timeout_ms;
						for (ps = proxy_list; ps;
						    ps = ps->next)
							smtp_shutdown(&ps->s,
							    now);
					}
				}
			}
		}
		/* Backwards: a deleted entry takes the last one's place. */
		for (i = ngpfd - 1; i >= 0; i--)
			if (now >= proxy_lingers[i].deadline
			    || ((pfd[gpfd + i].revents & (POLLIN | POLLHUP
			    | POLLERR))
			    && proxy_drain(proxy_lingers[i].fd) < 0))
				proxy_linger_del(i);
		for (ps = proxy_list; ps; ps = ps->next)
			proxy_io(ps, pfd, now);
		metrics_event(stopping || relisten ? -1 : mlfd, pfd + mpfd,
		    nmpfd, proxy_nsess, pc->cfg.max_sessions, now);
		/* After a reload the listeners may differ from those
		 * polled: accept from the next turn on. */
		for (i = 0; i < nl && !stopping && !relisten; i++) {
			if ((pfd[lpfd + i].revents & POLLIN) == 0)
				continue;
			for (n = 0; n < PROXY_ACCEPT_BURST; n++) {
				int before = proxy_nsess;

				proxy_accept(lfd[i], pc, now);
				if (proxy_nsess == before)
					break;
			}
		}
	}
	/* Sessions still here outlived the deadline of SIGTERM. */
	while (proxy_list)
		proxy_free(proxy_list, now);
	while (proxy_nlinger > 0)
		proxy_linger_del(0);
	for (i = 0; i < nl; i++)
		proxy_unlisten(lfd[i]);
	metrics_stop();
	if (mlfd >= 0)
		proxy_unlisten(mlfd);
	free(pfd);
	proxy_cfg_unref(pc);
	store_shutdown();
	log_info("stopped");
	return (DETACH_EX_OK);
}
