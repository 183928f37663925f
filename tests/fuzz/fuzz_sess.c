/*
 * NAME
 *	fuzz_sess - libFuzzer harness for the SMTP session machine
 * SYNOPSIS
 *	make fuzz FUZZ=sess FUZZ_SECONDS=900
 * DESCRIPTION
 *	One struct smtp_sess per input, no sockets: the harness plays the
 *	client, the downstream server, the clock and the signals, and moves
 *	bytes the way proxy.c's loop does. The input is a script of events,
 *	each an opcode byte (taken modulo FUZZ_EV_N) and its arguments;
 *	a truncated argument takes what is left:
 *
 *	0  CIN L data		the client writes L bytes
 *	1  CIN H L data		the same, length H * 256 + L
 *	2  CIN K L data		the client writes data K + 1 times over
 *	3  CEOF			the client shuts its sending side
 *	4  DIN L data		the downstream server writes L bytes
 *	5  COUT N		the client reads N bytes, 0 for all
 *	6  DOUT N		the downstream server reads N bytes, 0 for all
 *	7  DGONE		the downstream connection breaks
 *	8  CGONE		the client connection breaks
 *	9  TIME T		T * FUZZ_TICK_MS pass; 255: to the next deadline
 *	10 TERM			SIGTERM
 *	11 DRAIN		both peers read all they are given
 *
 *	As in proxy.c, smtp_run() runs after every event, after
 *	smtp_timeout() if the session's deadline has passed, and
 *	smtp_want() is obeyed: nothing is read or written, and no I/O error
 *	reported, for a descriptor it does not ask to poll; bytes beyond
 *	the room smtp_cin_buf() or smtp_din_buf() give are not sent;
 *	SMTP_WANT_DCLOSE closes the downstream connection
 *	(smtp_down_gone(s, 0, now)); after SMTP_WANT_CLOSE the session is
 *	gone and the rest of the script is ignored. SIGTERM is followed,
 *	at the stop deadline, by smtp_timeout() for sessions not yet
 *	flushing, as proxy_run() does. DATA goes through real message jobs
 *	with a dir store under a temporary directory; the dir store stores
 *	inside msg_end(), so msg_poll() and msg_event() are called when
 *	SMTP_WANT_STORE is asked for but have nothing to do.
 *
 *	Invariants; a broken one aborts, which libFuzzer reports:
 *	1. After every call the buffers are within SMTP_CIN_MAX,
 *	   SMTP_COUT_MAX, SMTP_DIN_MAX and SMTP_DOUT_MAX, and the state is
 *	   a known one.
 *	2. smtp_run() makes all the progress it can: a second call with
 *	   nothing new leaves state, buffers, line, reply, transaction and
 *	   deadline as they were. This is how hitting its loop guard shows.
 *	3. No message is delivered without the client's dot: message ends
 *	   ("\n.\r\n", which dot stuffing keeps out of content and which
 *	   no relayed command can hold) written for the downstream server
 *	   never outnumber client dots ("\n.\r\n" in what the client sent)
 *	   that the session consumed during a call that started or ended in
 *	   SMTP_WAIT_CONTENT or queued a 3xx reply for the client.
 *	4. When the session asks to close, no reply waits for the client,
 *	   nothing for the downstream server and the downstream connection
 *	   is not in use; running it again writes nothing.
 *	5. No descriptor is left open once the session is freed (ASan
 *	   checks memory).
 * LIMITS
 *	Client dots are counted, not matched to transactions: a dot sent
 *	as a command in the same call as a relayed 354 counts as content,
 *	so invariant 3 can miss a delivery that such a dot "pays" for.
 *	Invariant 2 cannot see a loop whose period divides smtp_run()'s
 *	guard of 10000 steps and that changes none of the fields compared.
 * DIAGNOSTICS
 *	A broken invariant: one line on stderr naming it, then abort().
 *	Session logs are discarded (-close_fd_mask=2 is added to the
 *	arguments) unless FUZZ_SESS_LOG is set in the environment.
 * BUGS
 *	The temporary directory (under /dev/shm, else /tmp) is removed at
 *	exit, not after a crash.
 */
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "detach.h"

#define FUZZ_NOW0	1000000		/* the clock at the session's start */
#define FUZZ_TICK_MS	100		/* one unit of a TIME event */
#define FUZZ_TIMEOUT_MS	10000		/* timeout: 100 ticks */
#define FUZZ_MSG_PFD	16		/* descriptors msg_poll() may give */

/* Client dots not yet consumed: at most one per 3 bytes of cin. */
#define FUZZ_CAND_MAX	32768

/* "\n.\r\n" as the last four bytes of a stream. */
#define FUZZ_DOT	0x0a2e0d0aU

enum fuzz_ev {
	FUZZ_EV_CIN, FUZZ_EV_CIN_LONG, FUZZ_EV_CIN_REPEAT, FUZZ_EV_CEOF,
	FUZZ_EV_DIN, FUZZ_EV_COUT, FUZZ_EV_DOUT, FUZZ_EV_DGONE,
	FUZZ_EV_CGONE, FUZZ_EV_TIME, FUZZ_EV_TERM, FUZZ_EV_DRAIN,
	FUZZ_EV_N
};

/* Calls into the session, each followed by the checks. */
enum fuzz_act {
	FUZZ_ACT_RUN, FUZZ_ACT_TIMEOUT, FUZZ_ACT_TERM, FUZZ_ACT_CIN,
	FUZZ_ACT_COUT, FUZZ_ACT_DIN, FUZZ_ACT_DOUT, FUZZ_ACT_DCLOSE,
	FUZZ_ACT_DGONE, FUZZ_ACT_CGONE
};

/* The script being read. */
struct fuzz_in {
	const unsigned char *p;
	size_t	left;
};

/* One session, its peers, and what the checks remember. */
struct fuzz {
	struct smtp_sess s;
	int64_t	now;
	int	want;			/* smtp_want() after the last settle */
	int	closed;			/* SMTP_WANT_CLOSE given */
	int	dgone;			/* downstream connection closed */
	int	stopping;		/* SIGTERM seen */
	int	stop_forced;		/* its deadline acted on */
	int64_t	stop_deadline;
	/* invariant 3: client dots */
	uint64_t csent;			/* client bytes given to cin */
	uint32_t chist;			/* their last four bytes */
	uint64_t cand[FUZZ_CAND_MAX];	/* end offsets of dots not consumed */
	size_t	chead;
	size_t	cn;
	uint64_t dots;			/* consumed in content */
	/* invariant 3: message ends */
	uint32_t dhist;			/* last four bytes written for down */
	size_t	dseen;			/* of dout, already scanned */
	uint64_t ends;
	/* 3xx replies queued for the client */
	size_t	cseen;			/* of cout, already scanned */
	int	cbol;			/* the next cout byte starts a line */
};

static struct fuzz fuzz_sess;
static struct cfg fuzz_cfg;
static char fuzz_dir[64];
static int fuzz_errfd = 2;

/* fuzz_fail - a broken invariant: say which, then crash for libFuzzer */

static void
fuzz_fail(const struct fuzz *f, const char *what)
{
	dprintf(fuzz_errfd, "fuzz_sess: broken invariant: %s (state %s, "
	    "cin %zu cout %zu din %zu dout %zu, dots %llu ends %llu)\n",
	    what, smtp_state_name(f->s.state), f->s.cin_len, f->s.cout_len,
	    f->s.din_len, f->s.dout_len, (unsigned long long)f->dots,
	    (unsigned long long)f->ends);
	abort();
}

/* ------------------------------------------------------------------ */
/* Invariants                                                          */
/* ------------------------------------------------------------------ */

/* fuzz_bounds - invariant 1 */

static void
fuzz_bounds(const struct fuzz *f)
{
	const struct smtp_sess *s = &f->s;

	if (s->cin_len > SMTP_CIN_MAX)
		fuzz_fail(f, "cin_len over SMTP_CIN_MAX");
	if (s->cout_len > SMTP_COUT_MAX)
		fuzz_fail(f, "cout_len over SMTP_COUT_MAX");
	if (s->din_len > SMTP_DIN_MAX)
		fuzz_fail(f, "din_len over SMTP_DIN_MAX");
	if (s->dout_len > SMTP_DOUT_MAX)
		fuzz_fail(f, "dout_len over SMTP_DOUT_MAX");
	if ((unsigned)s->state > SMTP_WAIT_NOTHING)
		fuzz_fail(f, "unknown state");
}

/* fuzz_client_bytes - note the dots in bytes the client sends */

static void
fuzz_client_bytes(struct fuzz *f, const unsigned char *p, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		f->chist = f->chist << 8 | p[i];
		f->csent++;
		if (f->chist != FUZZ_DOT)
			continue;
		if (f->cn == FUZZ_CAND_MAX)
			fuzz_fail(f, "harness: too many client dots pending");
		f->cand[(f->chead + f->cn++) % FUZZ_CAND_MAX] = f->csent;
	}
}

/* fuzz_saw_3xx - a reply line starting with 3 was queued for the client */

static int
fuzz_saw_3xx(struct fuzz *f)
{
	const struct smtp_sess *s = &f->s;
	size_t	i;
	int	saw = 0;

	/* Cleared only when the session ends (client gone, timeout). */
	if (s->cout_len < f->cseen)
		f->cseen = s->cout_len;
	for (i = f->cseen; i < s->cout_len; i++) {
		if (f->cbol && s->cout[i] == '3')
			saw = 1;
		f->cbol = s->cout[i] == '\n';
	}
	f->cseen = s->cout_len;
	return (saw);
}

/* fuzz_consumed - count the client dots consumed by the last call */

static void
fuzz_consumed(struct fuzz *f, int content)
{
	uint64_t pos = f->csent - f->s.cin_len;

	while (f->cn > 0 && f->cand[f->chead] <= pos) {
		if (content)
			f->dots++;
		f->chead = (f->chead + 1) % FUZZ_CAND_MAX;
		f->cn--;
	}
}

/* fuzz_emitted - count the message ends written for downstream */

static void
fuzz_emitted(struct fuzz *f)
{
	const struct smtp_sess *s = &f->s;
	size_t	i;

	/* Dropped bytes never reach the server; once dropped, the
	 * downstream connection takes nothing more. */
	if (s->down != 1) {
		f->dseen = s->dout_len;
		return;
	}
	if (s->dout_len < f->dseen)
		fuzz_fail(f, "harness: dout shrank while connected");
	for (i = f->dseen; i < s->dout_len; i++) {
		f->dhist = f->dhist << 8 | s->dout[i];
		if (f->dhist == FUZZ_DOT)
			f->ends++;
	}
	f->dseen = s->dout_len;
}

/* fuzz_account - invariants 1 and 3 after a call that began in st */

static void
fuzz_account(struct fuzz *f, enum smtp_state st)
{
	int	content;

	fuzz_bounds(f);
	content = fuzz_saw_3xx(f) || st == SMTP_WAIT_CONTENT
	    || f->s.state == SMTP_WAIT_CONTENT;
	fuzz_consumed(f, content);
	fuzz_emitted(f);
	if (f->ends > f->dots)
		fuzz_fail(f, "a message end sent downstream without the "
		    "client's dot");
}

/* ------------------------------------------------------------------ */
/* Calls into the session                                              */
/* ------------------------------------------------------------------ */

/* fuzz_do - one call into the session, then the checks */

static void
fuzz_do(struct fuzz *f, enum fuzz_act act, size_t n)
{
	struct smtp_sess *s = &f->s;
	enum smtp_state st = s->state;

	switch (act) {
	case FUZZ_ACT_RUN:
		smtp_run(s, f->now);
		break;
	case FUZZ_ACT_TIMEOUT:
		smtp_timeout(s, f->now);
		break;
	case FUZZ_ACT_TERM:
		smtp_shutdown(s, f->now);
		break;
	case FUZZ_ACT_CIN:
		smtp_cin_ack(s, n, f->now);
		break;
	case FUZZ_ACT_COUT:
		smtp_cout_ack(s, n);
		f->cseen -= n;
		break;
	case FUZZ_ACT_DIN:
		smtp_din_ack(s, n);
		break;
	case FUZZ_ACT_DOUT:
		smtp_dout_ack(s, n, f->now);
		f->dseen -= n;
		break;
	case FUZZ_ACT_DCLOSE:
		smtp_down_gone(s, 0, f->now);
		f->dgone = 1;
		break;
	case FUZZ_ACT_DGONE:
		smtp_down_gone(s, "connection closed", f->now);
		f->dgone = 1;
		break;
	case FUZZ_ACT_CGONE:
		smtp_client_gone(s, "Connection reset by peer");
		break;
	default:
		abort();
	}
	fuzz_account(f, st);
}

/* fuzz_snap - what a call of smtp_run() with nothing new may not change */

#define FUZZ_SNAP_N	19

static void
fuzz_snap(const struct smtp_sess *s, int64_t v[FUZZ_SNAP_N])
{
	v[0] = s->state;
	v[1] = s->cin_len;
	v[2] = s->cout_len;
	v[3] = s->din_len;
	v[4] = s->dout_len;
	v[5] = s->down;
	v[6] = s->pending;
	v[7] = s->deadline;
	v[8] = s->msg != 0;
	v[9] = s->txn;
	v[10] = s->nrcpt;
	v[11] = (int64_t)s->size;
	v[12] = s->line.len;
	v[13] = s->line.rawlen;
	v[14] = s->line.done;
	v[15] = s->reply.len;
	v[16] = s->reply.llen;
	v[17] = s->reply.done;
	v[18] = s->closing;
}

/* fuzz_run - smtp_run(), then invariant 2 */

static void
fuzz_run(struct fuzz *f)
{
	int64_t	a[FUZZ_SNAP_N], b[FUZZ_SNAP_N];
	int	i;

	fuzz_do(f, FUZZ_ACT_RUN, 0);
	fuzz_snap(&f->s, a);
	fuzz_do(f, FUZZ_ACT_RUN, 0);
	fuzz_snap(&f->s, b);
	for (i = 0; i < FUZZ_SNAP_N; i++)
		if (a[i] != b[i])
			fuzz_fail(f, "smtp_run() stopped with progress left "
			    "(loop guard?)");
}

/* fuzz_store - SMTP_WANT_STORE: the poll() round of the message job */

static void
fuzz_store(struct fuzz *f)
{
	struct pollfd pfd[FUZZ_MSG_PFD];
	int64_t	dl = f->now + FUZZ_TIMEOUT_MS;
	int	n;

	if (f->s.msg == 0)
		fuzz_fail(f, "SMTP_WANT_STORE without a message job");
	n = msg_poll(f->s.msg, pfd, FUZZ_MSG_PFD, &dl);
	msg_event(f->s.msg, pfd, n, f->now);
}

/* fuzz_close - SMTP_WANT_CLOSE: invariant 4; the session is gone */

static void
fuzz_close(struct fuzz *f)
{
	struct smtp_sess *s = &f->s;

	f->closed = 1;
	if (s->cout_len != 0)
		fuzz_fail(f, "closed with a reply for the client unsent");
	if (s->dout_len != 0 || s->down == 1)
		fuzz_fail(f, "closed with the downstream connection in use");
	fuzz_do(f, FUZZ_ACT_RUN, 0);
	if (s->cout_len != 0 || s->state != SMTP_WAIT_NOTHING)
		fuzz_fail(f, "a closed session wrote for the client");
}

/* fuzz_settle - the top of proxy_run()'s loop for this session */

static void
fuzz_settle(struct fuzz *f)
{
	struct smtp_sess *s = &f->s;
	int	want;

	if (f->closed)
		return;
	if (f->stopping && !f->stop_forced && f->now >= f->stop_deadline) {
		if (s->state != SMTP_WAIT_NOTHING
		    && s->state != SMTP_WAIT_FLUSH)
			fuzz_do(f, FUZZ_ACT_TIMEOUT, 0);
		f->stop_forced = 1;
	}
	if (s->state != SMTP_WAIT_NOTHING && f->now >= s->deadline)
		fuzz_do(f, FUZZ_ACT_TIMEOUT, 0);
	fuzz_run(f);
	want = smtp_want(s);
	if (want & SMTP_WANT_STORE) {
		/* The dir store has stored inside msg_end(). */
		fuzz_store(f);
		fuzz_run(f);
		want = smtp_want(s);
		if (want & SMTP_WANT_STORE)
			fuzz_fail(f, "a dir store job left the session "
			    "waiting");
	}
	if ((want & SMTP_WANT_DCLOSE) && !f->dgone)
		fuzz_do(f, FUZZ_ACT_DCLOSE, 0);
	if (want & SMTP_WANT_CLOSE) {
		fuzz_close(f);
		return;
	}
	f->want = want;
}

/* ------------------------------------------------------------------ */
/* Events                                                              */
/* ------------------------------------------------------------------ */

/* fuzz_byte - the next script byte, or -1 at the end */

static int
fuzz_byte(struct fuzz_in *in)
{
	if (in->left == 0)
		return (-1);
	in->left--;
	return (*in->p++);
}

/* fuzz_take - up to n script bytes; returns how many */

static size_t
fuzz_take(struct fuzz_in *in, size_t n, const unsigned char **p)
{
	if (n > in->left)
		n = in->left;
	*p = in->p;
	in->p += n;
	in->left -= n;
	return (n);
}

/* fuzz_cin - the client writes reps copies of p, as far as room goes */

static void
fuzz_cin(struct fuzz *f, const unsigned char *p, size_t n, size_t reps)
{
	unsigned char *b;
	size_t	room, k = 0, c;

	if (f->closed || !(f->want & SMTP_WANT_CREAD) || n == 0)
		return;
	b = smtp_cin_buf(&f->s, &room);
	for (; reps > 0 && k < room; reps--) {
		c = n < room - k ? n : room - k;
		memcpy(b + k, p, c);
		k += c;
	}
	fuzz_client_bytes(f, b, k);
	fuzz_do(f, FUZZ_ACT_CIN, k);
	fuzz_settle(f);
}

/* fuzz_ceof - the client shuts its side: a read returns 0 */

static void
fuzz_ceof(struct fuzz *f)
{
	if (f->closed || !(f->want & SMTP_WANT_CREAD))
		return;
	fuzz_do(f, FUZZ_ACT_CIN, 0);
	fuzz_settle(f);
}

/* fuzz_din - the downstream server writes, as far as room goes */

static void
fuzz_din(struct fuzz *f, const unsigned char *p, size_t n)
{
	unsigned char *b;
	size_t	room;

	if (f->closed || f->dgone || !(f->want & SMTP_WANT_DREAD) || n == 0)
		return;
	b = smtp_din_buf(&f->s, &room);
	if (n > room)
		n = room;
	memcpy(b, p, n);
	fuzz_do(f, FUZZ_ACT_DIN, n);
	fuzz_settle(f);
}

/* fuzz_cout - the client reads n bytes of its replies, 0 for all */

static void
fuzz_cout(struct fuzz *f, size_t n)
{
	size_t	len;

	if (f->closed || !(f->want & SMTP_WANT_CWRITE))
		return;
	(void)smtp_cout_buf(&f->s, &len);
	if (n == 0 || n > len)
		n = len;
	fuzz_do(f, FUZZ_ACT_COUT, n);
	fuzz_settle(f);
}

/* fuzz_dout - the downstream server reads n bytes, 0 for all */

static void
fuzz_dout(struct fuzz *f, size_t n)
{
	size_t	len;

	if (f->closed || f->dgone || !(f->want & SMTP_WANT_DWRITE))
		return;
	(void)smtp_dout_buf(&f->s, &len);
	if (n == 0 || n > len)
		n = len;
	fuzz_do(f, FUZZ_ACT_DOUT, n);
	fuzz_settle(f);
}

/* fuzz_gone - a connection breaks, seen where the loop polls it */

static void
fuzz_gone(struct fuzz *f, int down)
{
	if (f->closed)
		return;
	if (down) {
		if (f->dgone || !(f->want & (SMTP_WANT_DREAD
		    | SMTP_WANT_DWRITE)))
			return;
		fuzz_do(f, FUZZ_ACT_DGONE, 0);
	} else {
		if (!(f->want & (SMTP_WANT_CREAD | SMTP_WANT_CWRITE)))
			return;
		fuzz_do(f, FUZZ_ACT_CGONE, 0);
	}
	fuzz_settle(f);
}

/* fuzz_time - time passes; 255 goes to the nearest deadline */

static void
fuzz_time(struct fuzz *f, int t)
{
	int64_t	dl;

	if (f->closed)
		return;
	if (t != 255)
		f->now += (int64_t)t * FUZZ_TICK_MS;
	else {
		dl = f->s.deadline;
		if (f->stopping && !f->stop_forced && f->stop_deadline < dl)
			dl = f->stop_deadline;
		if (dl > f->now)
			f->now = dl;
	}
	fuzz_settle(f);
}

/* fuzz_term - SIGTERM: every session hears it once */

static void
fuzz_term(struct fuzz *f)
{
	if (f->closed || f->stopping)
		return;
	f->stopping = 1;
	f->stop_deadline = f->now + FUZZ_TIMEOUT_MS;
	fuzz_do(f, FUZZ_ACT_TERM, 0);
	fuzz_settle(f);
}

/* fuzz_event - read one event from the script and play it */

static void
fuzz_event(struct fuzz *f, struct fuzz_in *in, int op)
{
	const unsigned char *p;
	size_t	n;
	int	a, b;

	switch (op % FUZZ_EV_N) {
	case FUZZ_EV_CIN:
		if ((a = fuzz_byte(in)) < 0)
			return;
		n = fuzz_take(in, a, &p);
		fuzz_cin(f, p, n, 1);
		return;
	case FUZZ_EV_CIN_LONG:
		if ((a = fuzz_byte(in)) < 0 || (b = fuzz_byte(in)) < 0)
			return;
		n = fuzz_take(in, (size_t)a << 8 | b, &p);
		fuzz_cin(f, p, n, 1);
		return;
	case FUZZ_EV_CIN_REPEAT:
		if ((a = fuzz_byte(in)) < 0 || (b = fuzz_byte(in)) < 0)
			return;
		n = fuzz_take(in, b, &p);
		fuzz_cin(f, p, n, (size_t)a + 1);
		return;
	case FUZZ_EV_CEOF:
		fuzz_ceof(f);
		return;
	case FUZZ_EV_DIN:
		if ((a = fuzz_byte(in)) < 0)
			return;
		n = fuzz_take(in, a, &p);
		fuzz_din(f, p, n);
		return;
	case FUZZ_EV_COUT:
		if ((a = fuzz_byte(in)) >= 0)
			fuzz_cout(f, a);
		return;
	case FUZZ_EV_DOUT:
		if ((a = fuzz_byte(in)) >= 0)
			fuzz_dout(f, a);
		return;
	case FUZZ_EV_DGONE:
		fuzz_gone(f, 1);
		return;
	case FUZZ_EV_CGONE:
		fuzz_gone(f, 0);
		return;
	case FUZZ_EV_TIME:
		if ((a = fuzz_byte(in)) >= 0)
			fuzz_time(f, a);
		return;
	case FUZZ_EV_TERM:
		fuzz_term(f);
		return;
	case FUZZ_EV_DRAIN:
		fuzz_cout(f, 0);
		fuzz_dout(f, 0);
		return;
	default:
		abort();
	}
}

/* ------------------------------------------------------------------ */
/* Setup                                                               */
/* ------------------------------------------------------------------ */

/* fuzz_lowest_fd - the descriptor the next open() would get */

static int
fuzz_lowest_fd(void)
{
	int	fd;

	if ((fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0)
		abort();
	(void)close(fd);
	return (fd);
}

/* fuzz_rm - nftw() callback removing one entry */

static int
fuzz_rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return (flag == FTW_DP ? rmdir(path) : unlink(path));
}

/* fuzz_cleanup - remove the temporary directory at exit */

static void
fuzz_cleanup(void)
{
	store_shutdown();
	if (fuzz_dir[0])
		(void)nftw(fuzz_dir, fuzz_rm, 16, FTW_DEPTH | FTW_PHYS);
}

/* fuzz_setup_dir - a temporary directory, on tmpfs when there is one */

static void
fuzz_setup_dir(void)
{
	snprintf(fuzz_dir, sizeof(fuzz_dir), "/dev/shm/fuzz_sess.XXXXXX");
	if (mkdtemp(fuzz_dir) != 0)
		return;
	snprintf(fuzz_dir, sizeof(fuzz_dir), "/tmp/fuzz_sess.XXXXXX");
	if (mkdtemp(fuzz_dir) == 0) {
		fprintf(stderr, "fuzz_sess: mkdtemp: %s\n", strerror(errno));
		exit(1);
	}
}

/* fuzz_setup_store - the configuration and its dir store */

static void
fuzz_setup_store(void)
{
	char	why[CFG_LINE_MAX + 64];
	int	i;

	cfg_defaults(&fuzz_cfg);
	snprintf(fuzz_cfg.store, sizeof(fuzz_cfg.store), "dir:%s/store",
	    fuzz_dir);
	fuzz_cfg.store_kind = CFG_STORE_DIR;
	snprintf(fuzz_cfg.spool_dir, sizeof(fuzz_cfg.spool_dir), "%s",
	    fuzz_dir);
	snprintf(fuzz_cfg.link_base, sizeof(fuzz_cfg.link_base),
	    "https://f.example/a/");
	snprintf(fuzz_cfg.hostname, sizeof(fuzz_cfg.hostname),
	    "proxy.example");
	for (i = 0; i < 32; i++)
		fuzz_cfg.secret[i] = i * 7 + 1;
	fuzz_cfg.secret_set = 1;
	fuzz_cfg.min_size = 10;
	fuzz_cfg.timeout_ms = FUZZ_TIMEOUT_MS;
	/* Policy lists, so scripts reach both the detaching and the
	 * passing job (seed_sess/policy: a skipped sender). */
	if (policy_set(&fuzz_cfg.policy, POLICY_SKIP_SENDERS,
	    "boss@example.org <>", why, sizeof(why)) < 0
	    || policy_set(&fuzz_cfg.policy, POLICY_SKIP_RECIPIENTS,
	    "whole@example.test", why, sizeof(why)) < 0
	    || policy_set(&fuzz_cfg.policy, POLICY_SKIP_CLIENTS,
	    "198.51.100.0/24", why, sizeof(why)) < 0) {
		fprintf(stderr, "fuzz_sess: policy: %s\n", why);
		exit(1);
	}
	snprintf(why, sizeof(why), "%s/store", fuzz_dir);
	if (mkdir(why, 0755) < 0 || store_init(&fuzz_cfg, why,
	    sizeof(why)) < 0) {
		fprintf(stderr, "fuzz_sess: store: %s\n", why);
		exit(1);
	}
}

/* fuzz_quiet - add -close_fd_mask=2 unless given or logs are wanted */

static void
fuzz_quiet(int *argc, char ***argv)
{
	static char flag[] = "-close_fd_mask=2";
	char  **nv;
	int	i;

	if (getenv("FUZZ_SESS_LOG") != 0)
		return;
	for (i = 0; i < *argc; i++)
		if (strncmp((*argv)[i], "-close_fd_mask=", 15) == 0)
			return;
	if ((nv = calloc(*argc + 2, sizeof(*nv))) == 0)
		return;
	memcpy(nv, *argv, *argc * sizeof(*nv));
	nv[(*argc)++] = flag;
	*argv = nv;
	/* Our own diagnostics still reach the terminal. */
	if ((fuzz_errfd = dup(2)) < 0)
		fuzz_errfd = 2;
}

int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* LLVMFuzzerInitialize - once: directory, store, quiet logs */

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_quiet(argc, argv);
	fuzz_setup_dir();
	fuzz_setup_store();
	atexit(fuzz_cleanup);
	return (0);
}

/* LLVMFuzzerTestOneInput - one session played by the script */

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz *f = &fuzz_sess;
	struct fuzz_in in;
	int	op, fd;

	fd = fuzz_lowest_fd();
	f->now = FUZZ_NOW0;
	f->want = 0;
	f->closed = f->dgone = f->stopping = f->stop_forced = 0;
	f->stop_deadline = 0;
	f->csent = 0;
	f->chist = f->dhist = 0;
	f->chead = f->cn = 0;
	f->dots = f->ends = 0;
	f->dseen = f->cseen = 0;
	f->cbol = 1;
	smtp_sess_init(&f->s, &fuzz_cfg, "F0001", "192.0.2.1", f->now);
	fuzz_settle(f);
	in.p = data;
	in.left = size;
	while ((op = fuzz_byte(&in)) >= 0 && !f->closed)
		fuzz_event(f, &in, op);
	smtp_sess_free(&f->s);
	if (fuzz_lowest_fd() != fd)
		fuzz_fail(f, "a descriptor left open");
	return (0);
}
