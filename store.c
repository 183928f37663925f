/*
 * NAME
 *	store - message jobs: spool, object keys, the dir store, splicing
 * SYNOPSIS
 *	#include "detach.h"
 *
 *	int	store_init(cfg, why, len)
 *	struct msg *msg_new(cfg, why, len)
 *	void	msg_passthru(m)
 *	void	msg_hash_behind(m)
 *	void	msg_name(m, id)
 *	int	msg_feed(m, buf, len)
 *	int	msg_end(m, now)
 *	int	msg_state(m)
 *	int	msg_poll(m, pfd, max, deadline)
 *	void	msg_event(m, pfd, n, now)
 *	ssize_t	msg_read(m, buf, len)
 *	void	msg_free(m)
 *	const struct store_stats *store_stats(void)
 *
 *	int	store_get(key, sink, ctx, why, len)
 *	int	store_key_name(key, name, size)
 *	int	store_spool_open(dir)
 * DESCRIPTION
 *	A message job carries one message from its first byte to its
 *	rewritten form. msg_feed() appends the raw bytes to an unlinked
 *	spool file (O_TMPFILE under spool_dir) and runs the MIME scanner
 *	over them; each candidate attachment's decoded bytes go to a spool
 *	file of their own while one SHA-256 pass runs over them (hash.c),
 *	on the caller's thread or, after msg_hash_behind(), on a helper
 *	thread that reads the spool file back as it grows.
 *
 *	msg_end() keeps the attachments of at least min_size, derives each
 *	object key from the digest (HMAC-SHA256 keyed by the secret, so
 *	keys are unguessable and equal files dedupe) and stores them: the
 *	dir store at once, http(s) and s3 through uploads that the caller's
 *	poll() loop drives with msg_poll() and msg_event(). With expire
 *	set, an object already in the dir store is renewed (its time set
 *	to now) rather than left as it is, so that detach -x (sweep.c)
 *	keeps it for the full time the new link announces.
 *
 *	msg_read() then gives the raw spool with each stored part's byte
 *	range replaced by its link part. Everything else is copied, never
 *	decoded or re-encoded: a message with nothing stored comes out
 *	byte for byte as it came in.
 *
 *	store_stats() counts, since the start, the objects found already
 *	in the store (a dir store's file of the same size, an http or s3
 *	HEAD answered 200 with the size), and the time each object took
 *	to store, from the start of its upload (or dir store write) to
 *	its end, failures included, in the STORE_SECONDS_BOUNDS buckets.
 *	Twins within one message are one object and are not counted.
 *
 *	msg_passthru(), before the first byte, makes a job that policy
 *	leaves alone: the raw spool only, no scanner, nothing decoded or
 *	stored.
 *
 *	store_get() is the way back: it hands the object stored under a key
 *	to a sink as it is read, from the dir store's file (found by the
 *	same path a put uses) or by a GET of the same URL (http_get_wait).
 *	A key is taken only in the form store_key() makes: 32 lowercase hex
 *	digits, "/", and a name percent-encoded as mime_url_encode() does
 *	it, so a key from a message can never name another path.
 * LIMITS
 *	DETACH_OBJECTS_MAX attachments per message; SPOOL_IO_MAX bytes per
 *	copy. Memory does not grow with message or attachment size.
 * DIAGNOSTICS
 *	Each line about a message starts with the name msg_name() gave it
 *	(the session's, "ID: "), so a cause can be tied to its message.
 *	Store failures are logged with the key; under on_store_failure =
 *	keep the part stays in the message, under tempfail the job ends in
 *	MSG_TEMPFAIL. So does a failure to spool an attachment. A failure
 *	to spool the message itself ends the job in MSG_TEMPFAIL whatever
 *	the policy, since the message may be incomplete.
 *	store_get() logs nothing: it returns STORE_GET_MISSING for an
 *	object that is not there (no file, 404, 410), STORE_GET_BADKEY for
 *	a key not of our making, STORE_GET_FAIL for anything else, with
 *	the cause in why.
 * BUGS
 *	The dir store and the spool should share a file system for speed;
 *	they need not.
 *	XXX The dir store writes (and fsyncs) inside msg_end(), so the
 *	proxy's loop waits for the local disk while a file is stored; an
 *	http or s3 store does not block it. Writeback of a dir store's
 *	spool is started every STORE_WRITEBACK_CHUNK while it is written,
 *	which leaves the fsync the tail when spool and store share a file
 *	system; across file systems the copy and its fsync still block.
 */
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/sendfile.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bearssl.h>

#include "detach.h"

/* What an object waits on. */
enum store_obj_state {
	STORE_OBJ_COLLECT,	/* decoded bytes arriving */
	STORE_OBJ_DROPPED,	/* not to be detached: stays in the message */
	STORE_OBJ_PENDING,	/* complete, to be stored */
	STORE_OBJ_UPLOADING,	/* an upload is under way */
	STORE_OBJ_STORED,	/* stored: its range becomes a link part */
	STORE_OBJ_FAILED,	/* could not be stored: stays in the message */
};

struct store_obj {
	enum store_obj_state state;
	int	fd;			/* decoded spool */
	uint64_t spooled;		/* bytes in it */
	uint64_t kicked;		/* of which writeback was started */
	struct hash_sha sha;		/* unless hashed behind */
	int	behind;			/* hashed by hash_behind_*() */
	unsigned char digest[32];
	struct mime_part part;
	char	key[STORE_KEY_MAX + 1];	/* hex32 "/" url-encoded name */
	struct http_xfer *xfer;
	int64_t	xfer_start;		/* when the upload began */
};

/* The store of a configuration, shared by the messages started under
 * it; a reload makes a new one and the old goes with its last message. */
struct store {
	int	refs;
	struct cfg cfg;
	struct http_store *http;
	int	same_fs;		/* dir store beside spool_dir: link */
};

static struct store *store_cur;

void	(*store_test_hook)(int, const char *);

/* Counters since the start, for store_stats(). */
static struct store_stats store_counts;
static const int64_t store_bounds[STORE_SECONDS_BUCKETS] =
    STORE_SECONDS_BOUNDS;

struct msg {
	struct store *st;
	const struct cfg *cfg;
	int	state;			/* MSG_* */
	int	raw_fd;
	int	raw_own;		/* raw_fd is our spool, not the caller's */
	off_t	raw_base;		/* offset of the message in raw_fd */
	uint64_t raw_len;
	int	mime_errors;
	int	passthru;		/* policy: detach nothing */
	int	hash_behind;		/* msg_hash_behind(): a helper hashes */
	struct mime_state *mime;
	struct store_obj obj[DETACH_OBJECTS_MAX];
	int	nobj;
	int	collecting;		/* index of the object collecting, or -1 */
	int	detached;
	uint64_t saved;			/* raw bytes replaced, less link parts */
	char	why[256];
	int	store_failed;		/* why names the store, not the spool */
	char	pfx[24];		/* "ID: " of msg_name(), or "" */
	/* output cursor */
	uint64_t out_off;		/* next raw byte to hand out */
	int	out_obj;		/* next object to consider */
	int64_t	expires;		/* links announce it; 0: never */
	char	link[MIME_LINKPART_MAX];
	size_t	link_len;
	size_t	link_off;
};

/* ------------------------------------------------------------------ */
/* Stores                                                              */
/* ------------------------------------------------------------------ */

/* store_unref - drop a reference; the last one frees the store */

static void
store_unref(struct store *st)
{
	if (st == 0 || --st->refs > 0)
		return;
	if (st->http)
		http_store_free(st->http);
	free(st);
}

/* store_init - the store new messages use, for this configuration */

int
store_init(const struct cfg *cfg, char *why, size_t len)
{
	struct store *st;
	struct http_conf hc;
	struct stat sp, sd;

	if ((st = calloc(1, sizeof(*st))) == 0) {
		snprintf(why, len, "out of memory");
		return (-1);
	}
	st->refs = 1;
	st->cfg = *cfg;
	/* The store outlives its generation and never reads the policy
	 * lists: no pointer to them, and so no reference to take. */
	st->cfg.policy = 0;
	if (cfg->store_kind == CFG_STORE_DIR)
		st->same_fs = stat(cfg->spool_dir, &sp) == 0
		    && stat(cfg->store + 4, &sd) == 0 && sp.st_dev == sd.st_dev;
	else {
		memset(&hc, 0, sizeof(hc));
		hc.store = st->cfg.store;
		hc.store_auth = st->cfg.store_auth;
		hc.s3_endpoint = st->cfg.s3_endpoint;
		hc.s3_region = st->cfg.s3_region;
		hc.s3_access_key = st->cfg.s3_access_key;
		hc.s3_secret_key = st->cfg.s3_secret_key;
		hc.s3_path_style = st->cfg.s3_path_style;
		hc.tls_ca_file = st->cfg.tls_ca_file;
		hc.upload_timeout_ms = st->cfg.upload_timeout_ms;
		hc.expire_s = st->cfg.expire_s;
		if ((st->http = http_store_new(&hc, why, len)) == 0) {
			free(st);
			return (-1);
		}
	}
	store_unref(store_cur);
	store_cur = st;
	return (0);
}

/* store_stats - what the message jobs did since the start */

const struct store_stats *
store_stats(void)
{
	return (&store_counts);
}

/* store_observe - one object stored, or not, in ms milliseconds */

static void
store_observe(int64_t ms)
{
	int	i;

	if (ms < 0)
		ms = 0;
	for (i = 0; i < STORE_SECONDS_BUCKETS && ms > store_bounds[i]; i++)
		;
	store_counts.stored[i]++;
	store_counts.stored_ms += (uint64_t)ms;
}

/* store_shutdown - drop the current store */

void
store_shutdown(void)
{
	store_unref(store_cur);
	store_cur = 0;
}

/* store_spool_open - an unlinked file under the spool directory */

int
store_spool_open(const char *dir)
{
	char	path[CFG_LINE_MAX + 32];
	int	fd;

	fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR
	    && errno != EINVAL))
		return (fd);
	/* File systems without O_TMPFILE: create, then unlink at once. */
	if (snprintf(path, sizeof(path), "%s/.detach.XXXXXX", dir)
	    >= (int)sizeof(path)) {
		errno = ENAMETOOLONG;
		return (-1);
	}
	if ((fd = mkostemp(path, O_CLOEXEC)) >= 0)
		(void)unlink(path);
	return (fd);
}

/* store_write_all - write all of buf to fd (blocking descriptors) */

int
store_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	ssize_t	n;

	while (len > 0) {
		if ((n = write(fd, p, len)) < 0) {
			if (errno == EINTR)
				continue;
			return (-1);
		}
		p += n;
		len -= n;
	}
	return (0);
}

/* store_hex - lowercase hex of n bytes */

static void
store_hex(char *out, const unsigned char *in, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t	i;

	for (i = 0; i < n; i++) {
		out[2 * i] = hex[in[i] >> 4];
		out[2 * i + 1] = hex[in[i] & 15];
	}
	out[2 * n] = 0;
}

/*
 * store_key - 32 hex digits of HMAC-SHA256(secret, SHA-256(content)),
 * "/", then the URL-encoded name: unguessable without the secret, and
 * the same for the same file and name.
 */
static void
store_key(const struct cfg *cfg, struct store_obj *o)
{
	br_hmac_key_context kc;
	br_hmac_context hc;
	unsigned char mac[32];

	br_hmac_key_init(&kc, &br_sha256_vtable, cfg->secret,
	    sizeof(cfg->secret));
	br_hmac_init(&hc, &kc, 0);
	br_hmac_update(&hc, o->digest, sizeof(o->digest));
	br_hmac_out(&hc, mac);
	store_hex(o->key, mac, 16);
	o->key[32] = '/';
	mime_url_encode(o->key + 33, sizeof(o->key) - 33, o->part.name,
	    strlen(o->part.name));
}

/* store_copy - copy a whole spool file to fd */

static int
store_copy(int out, int in, uint64_t size)
{
	off_t	off = 0;
	ssize_t	n;
	char	buf[SPOOL_IO_MAX];

	while ((uint64_t)off < size) {
		n = sendfile(out, in, &off, size - off > (1 << 30) ?
		    (1 << 30) : size - off);
		if (n > 0)
			continue;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EINVAL || errno == ENOSYS))
			break;
		if (n == 0)
			errno = EIO;	/* the spool shrank */
		return (-1);
	}
	while ((uint64_t)off < size) {
		n = pread(in, buf, sizeof(buf), off);
		if (n <= 0) {
			if (n < 0 && errno == EINTR)
				continue;
			if (n == 0)
				errno = EIO;
			return (-1);
		}
		if (store_write_all(out, buf, n) < 0)
			return (-1);
		off += n;
	}
	return (0);
}

/* store_fsync_dir - make the names in a directory durable */

static int
store_fsync_dir(const char *dir)
{
	int	fd, r;

	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return (-1);
	r = fsync(fd);
	(void)close(fd);
	return (r);
}

/*
 * store_nonce - 16 random hex digits, for names in a store that other
 * hosts may share: a pid is unique on one host only. -1 if the kernel
 * gives no random bytes.
 */
int
store_nonce(char out[STORE_NONCE_LEN + 1])
{
	unsigned char b[STORE_NONCE_LEN / 2];
	ssize_t	n;

	while ((n = getrandom(b, sizeof(b), 0)) < 0 && errno == EINTR)
		;
	if (n != (ssize_t)sizeof(b))
		return (-1);
	s3_hex(out, b, sizeof(b));
	return (0);
}

/*
 * store_link_spool - give an unlinked spool file the name tmp, when the
 * spool and the store share a file system: no copy of the bytes. The
 * spool's O_TMPFILE file is linked through /proc/self/fd (linkat with
 * AT_EMPTY_PATH needs a capability we do not ask for). Its time is set
 * to now first: it was last written while the message came in, maybe
 * long before the expiry date the links announce counts from, and the
 * sweep reads an object's age from it.
 */
static int
store_link_spool(int fd, const char *tmp)
{
	char	proc[64];

	if (fchmod(fd, 0644) < 0 || futimens(fd, 0) < 0 || fsync(fd) < 0)
		return (-1);
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	return (linkat(AT_FDCWD, proc, AT_FDCWD, tmp, AT_SYMLINK_FOLLOW));
}

/*
 * store_dir_paths - where the dir store keeps a key's object:
 * <dir>/<hex32> and <dir>/<hex32>/<name>; -1 if too long
 */
static int
store_dir_paths(const char *dir, const char *key, const char *name,
    char *sub, size_t subsize, char *path, size_t pathsize)
{
	if (snprintf(sub, subsize, "%s/%.32s", dir, key) >= (int)subsize
	    || snprintf(path, pathsize, "%s/%s", sub, name) >= (int)pathsize)
		return (-1);
	return (0);
}

/* store_dir_mkdir - the key directory, readable by the web server */

static int
store_dir_mkdir(const char *dir, const char *sub, char *why, size_t len)
{
	if (mkdir(sub, 0755) == 0) {
		/* Readable by the web server whatever our umask (Postfix's
		 * master sets 077), and the new name made durable. */
		if (store_test_hook)
			store_test_hook(STORE_HOOK_MKDIR, sub);
		/* A sweep may remove it, empty, at once: our rename then
		 * fails with ENOENT and makes it again. */
		if ((chmod(sub, 0755) < 0 && errno != ENOENT)
		    || store_fsync_dir(dir) < 0) {
			snprintf(why, len, "mkdir %.200s: %s", sub,
			    strerror(errno));
			return (-1);
		}
	} else if (errno != EEXIST) {
		snprintf(why, len, "mkdir %.200s: %s", sub, strerror(errno));
		return (-1);
	}
	return (0);
}

/*
 * store_dir_renew - set the time of an object already stored to now
 *
 * Returns 1 renewed, 0 when it must be stored anew: gone, replaced, or
 * a file we cannot renew (the new copy is renamed over it).
 *
 * A sweep (sweep.c) may move the file aside, find its old time due and
 * delete it between our look-up of the name and our setting of the
 * time; utimensat() on a name has that window inside the kernel, and
 * then sets the time of a deleted file. So the time is set through a
 * descriptor, made durable (a crash must not bring the old time back
 * after the link went out), and the name is looked at again: only if it
 * still leads to the file we renewed is the object safe from a sweep,
 * which deletes only what it moved aside and saw due.
 */
static int
store_dir_renew(const char *path)
{
	struct stat ours, st;
	int	fd, ok;

	/* Not a FIFO's open that waits, nor a symbolic link (never one
	 * of ours: the sweep does not follow them either). */
	if ((fd = open(path, O_RDONLY | O_NONBLOCK | O_NOFOLLOW
	    | O_CLOEXEC)) < 0)
		return (0);
	if (store_test_hook)
		store_test_hook(STORE_HOOK_RENEW, path);
	ok = futimens(fd, 0) == 0 && fsync(fd) == 0 && fstat(fd, &ours) == 0;
	if (ok && store_test_hook)
		store_test_hook(STORE_HOOK_RENEWED, path);
	ok = ok && stat(path, &st) == 0 && st.st_dev == ours.st_dev
	    && st.st_ino == ours.st_ino;
	(void)close(fd);
	return (ok);
}

/*
 * store_dir_put - write <dir>/<hex32>/<name> atomically
 *
 * A temporary file in the store's root (".tmp.PID.SEQ.NONCE": no object
 * name starts with a dot), synced, then renamed into its key directory: a
 * reader never sees half a file. An existing file of the same size is
 * the same object (same key), so it is kept; under renew (expire set)
 * its time is set to now, since a link announced again must live its
 * full time again. Returns 0 when written, 1 when kept (or renewed),
 * -1 with why.
 *
 * This runs beside detach -x (sweep.c), which moves an expired object
 * aside before it deletes it and puts it back if its time was renewed
 * meanwhile. So a renewal that cannot show the file it renewed still
 * under its name (store_dir_renew()) stores it anew; and a key
 * directory the sweep removed as empty between our mkdir and our
 * rename is made again.
 */
static int
store_dir_put(const char *dir, struct store_obj *o, int renew, char *why,
    size_t len)
{
	char	sub[CFG_LINE_MAX + 40], path[CFG_LINE_MAX + 40 + MIME_NAME_MAX],
		tmp[CFG_LINE_MAX + 80];
	char	nonce[STORE_NONCE_LEN + 1];
	static unsigned long seq;
	struct stat st;
	int	fd, tries;

	if (store_dir_paths(dir, o->key, o->part.name, sub, sizeof(sub),
	    path, sizeof(path)) < 0) {
		snprintf(why, len, "store path too long");
		return (-1);
	}
	if (stat(path, &st) == 0 && S_ISREG(st.st_mode)
	    && (uint64_t)st.st_size == o->part.decoded) {
		if (!renew) {
			snprintf(why, len, "exists, not written again");
			return (1);
		}
		if (store_dir_renew(path)) {
			snprintf(why, len, "exists, renewed");
			return (1);
		}
		/* swept meanwhile, or not ours to renew: store it anew */
	}
	/* A name of our own only when writing: a dedupe hit needs none. */
	if (store_nonce(nonce) < 0) {
		snprintf(why, len, "getrandom: %s", strerror(errno));
		return (-1);
	}
	if (snprintf(tmp, sizeof(tmp), "%s/.tmp.%ld.%lu.%s", dir,
	    (long)getpid(), ++seq, nonce) >= (int)sizeof(tmp)) {
		snprintf(why, len, "store path too long");
		return (-1);
	}
	if (store_link_spool(o->fd, tmp) < 0) {
		if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
		    0644)) < 0) {
			snprintf(why, len, "create %.200s: %s", tmp,
			    strerror(errno));
			return (-1);
		}
		if (fchmod(fd, 0644) < 0
		    || store_copy(fd, o->fd, o->part.decoded) < 0
		    || fsync(fd) < 0) {
			snprintf(why, len, "write %.200s: %s", tmp,
			    strerror(errno));
			(void)close(fd);
			(void)unlink(tmp);
			return (-1);
		}
		if (close(fd) < 0) {
			snprintf(why, len, "write %.200s: %s", tmp,
			    strerror(errno));
			(void)unlink(tmp);
			return (-1);
		}
	}
	for (tries = 1;; tries++) {
		if (store_dir_mkdir(dir, sub, why, len) < 0) {
			(void)unlink(tmp);
			return (-1);
		}
		if (rename(tmp, path) == 0)
			break;
		if (errno != ENOENT || tries >= STORE_MKDIR_TRIES) {
			snprintf(why, len, "rename %.200s: %s", path,
			    strerror(errno));
			(void)unlink(tmp);
			return (-1);
		}
		/* a sweep removed the key directory, empty, meanwhile */
	}
	/* The rename itself must survive a crash before the link goes out. */
	if (store_fsync_dir(sub) < 0) {
		snprintf(why, len, "fsync %.200s: %s", sub, strerror(errno));
		return (-1);
	}
	snprintf(why, len, "stored");
	return (0);
}

/* ------------------------------------------------------------------ */
/* Scanner callbacks                                                   */
/* ------------------------------------------------------------------ */

/* store_obj_close - close an object's spool; a hash behind of it first */

static void
store_obj_close(struct store_obj *o)
{
	if (o->behind) {
		hash_behind_cancel();
		o->behind = 0;
	}
	if (o->fd >= 0)
		(void)close(o->fd);
	o->fd = -1;
}

/* store_obj_drop - forget an object: the part stays in the message */

static void
store_obj_drop(struct store_obj *o)
{
	store_obj_close(o);
	o->state = STORE_OBJ_DROPPED;
}

/*
 * msg_spool_failed - an attachment could not be spooled: the part stays
 * in the message; under tempfail the message must not go out that way.
 */
static void
msg_spool_failed(struct msg *m)
{
	if (m->cfg->on_store_failure != CFG_FAIL_TEMPFAIL
	    || m->state == MSG_TEMPFAIL)
		return;
	snprintf(m->why, sizeof(m->why), "spool %.100s: %s",
	    m->cfg->spool_dir, strerror(errno));
	m->state = MSG_TEMPFAIL;
}

/* msg_part_begin - a candidate part: collect it if there is room */

static int
msg_part_begin(void *ctx, const struct mime_part *part)
{
	struct msg *m = ctx;
	struct store_obj *o;

	if (m->nobj >= DETACH_OBJECTS_MAX || m->state != MSG_FEEDING)
		return (0);
	o = &m->obj[m->nobj];
	memset(o, 0, sizeof(*o));
	if ((o->fd = store_spool_open(m->cfg->spool_dir)) < 0) {
		log_warn("%sspool %s: %s", m->pfx, m->cfg->spool_dir,
		    strerror(errno));
		msg_spool_failed(m);
		return (0);
	}
	o->state = STORE_OBJ_COLLECT;
	o->part = *part;
	if (m->hash_behind && hash_behind_start(o->fd) == 0)
		o->behind = 1;
	else
		hash_init(&o->sha);
	m->collecting = m->nobj++;
	return (1);
}

/* msg_part_data - decoded bytes: hash and spool them in one pass, or
 * spool them and tell the hash behind */

static int
msg_part_data(void *ctx, const unsigned char *p, size_t n)
{
	struct msg *m = ctx;
	struct store_obj *o = &m->obj[m->collecting];

	if (!o->behind)
		hash_update(&o->sha, p, n);
	if (store_write_all(o->fd, p, n) < 0) {
		log_warn("%sspool %s: %s", m->pfx, m->cfg->spool_dir,
		    strerror(errno));
		store_obj_drop(o);
		msg_spool_failed(m);
		return (-1);
	}
	o->spooled += n;
	if (o->behind)
		hash_behind_grow(o->spooled);
	/* A dir store on the spool's file system links this very file and
	 * fsyncs it in the loop: start the writeback now, so the fsync
	 * finds little left. (Elsewhere the file is copied, and its spool
	 * need never reach the disk.) An I/O error shows at the fsync. */
	if (m->st->same_fs
	    && o->spooled - o->kicked >= STORE_WRITEBACK_CHUNK) {
		(void)sync_file_range(o->fd, o->kicked, o->spooled - o->kicked,
		    SYNC_FILE_RANGE_WRITE);
		o->kicked = o->spooled;
	}
	return (0);
}

/* msg_part_end - keep a cleanly decoded part of at least min_size */

static void
msg_part_end(void *ctx, const struct mime_part *part, int ok)
{
	struct msg *m = ctx;
	struct store_obj *o = &m->obj[m->collecting];
	int	err;

	m->collecting = -1;
	o->part = *part;
	if (o->state != STORE_OBJ_COLLECT || !ok || part->decoded == 0
	    || part->decoded < m->cfg->min_size) {
		/* It stays in the message; its slot is free again (it is
		 * always the last one taken). */
		store_obj_drop(o);
		m->nobj--;
		return;
	}
	if (o->behind) {
		o->behind = 0;
		if (hash_behind_end(o->digest) < 0) {
			err = errno;
			log_warn("%sspool %s: read back: %s", m->pfx,
			    m->cfg->spool_dir, strerror(err));
			store_obj_drop(o);
			m->nobj--;
			errno = err;
			msg_spool_failed(m);
			return;
		}
	} else
		hash_out(&o->sha, o->digest);
	store_key(m->cfg, o);
	o->state = STORE_OBJ_PENDING;
}

/* ------------------------------------------------------------------ */
/* Message jobs                                                        */
/* ------------------------------------------------------------------ */

/* msg_new - a job for one message under the current store */

struct msg *
msg_new(const struct cfg *cfg, char *why, size_t len)
{
	struct msg *m;

	(void)cfg;
	if (store_cur == 0) {
		snprintf(why, len, "no store configured");
		return (0);
	}
	if ((m = calloc(1, sizeof(*m))) == 0
	    || (m->mime = malloc(mime_state_size())) == 0) {
		free(m);
		snprintf(why, len, "out of memory");
		return (0);
	}
	m->st = store_cur;
	m->st->refs++;
	m->cfg = &m->st->cfg;
	m->collecting = -1;
	m->state = MSG_FEEDING;
	m->raw_fd = -1;
	if ((m->raw_fd = store_spool_open(m->cfg->spool_dir)) < 0) {
		snprintf(why, len, "spool %s: %s", m->cfg->spool_dir,
		    strerror(errno));
		msg_free(m);
		return (0);
	}
	m->raw_own = 1;
	mime_init(m->mime, msg_part_begin, msg_part_data, msg_part_end, m);
	return (m);
}

/* msg_passthru - detach nothing from this message: spool it, no more */

void
msg_passthru(struct msg *m)
{
	m->passthru = 1;
}

/* msg_hash_behind - hash this message's attachments on a helper thread
 * (hash.c), one at a time, while they are decoded: for detach -p, whose
 * process has one message and a second core idle */

void
msg_hash_behind(struct msg *m)
{
	m->hash_behind = 1;
}

/* msg_name - the name this message's log lines start with (a session's
 * queue ID); truncated, never more than the buffer */

void
msg_name(struct msg *m, const char *id)
{
	if (snprintf(m->pfx, sizeof(m->pfx), "%.16s: ", id) < 0)
		m->pfx[0] = 0;
}

/*
 * msg_source - the raw message is already in fd, a regular file, from
 * its current offset on: it is read from there and not spooled again.
 * msg_feed() must still be given the same bytes, for the scanner.
 */
int
msg_source(struct msg *m, int fd)
{
	off_t	base;

	if (m->raw_len > 0 || (base = lseek(fd, 0, SEEK_CUR)) < 0)
		return (-1);
	if (m->raw_own)
		(void)close(m->raw_fd);
	m->raw_fd = fd;
	m->raw_own = 0;
	m->raw_base = base;
	return (0);
}

/* msg_feed - raw message bytes; -1 when the spool cannot take them */

int
msg_feed(struct msg *m, const void *buf, size_t len)
{
	if (m->state != MSG_FEEDING)
		return (m->state == MSG_TEMPFAIL ? -1 : 0);
	if (m->raw_own && store_write_all(m->raw_fd, buf, len) < 0) {
		snprintf(m->why, sizeof(m->why), "spool write: %s",
		    strerror(errno));
		m->state = MSG_TEMPFAIL;
		return (-1);
	}
	m->raw_len += len;
	if (!m->passthru)
		m->mime_errors |= mime_feed(m->mime, buf, len);
	return (m->state == MSG_TEMPFAIL ? -1 : 0);
}

/* msg_obj_failed - a store failure, decided by on_store_failure */

static void
msg_obj_failed(struct msg *m, struct store_obj *o, const char *why)
{
	log_warn("%sstore %.100s: %s", m->pfx, o->key, why);
	o->state = STORE_OBJ_FAILED;
	if (m->cfg->on_store_failure == CFG_FAIL_TEMPFAIL
	    && m->state != MSG_TEMPFAIL) {
		m->state = MSG_TEMPFAIL;
		m->store_failed = 1;
		snprintf(m->why, sizeof(m->why), "store: %.200s", why);
	}
}

/* msg_settle - MSG_READY once no upload is under way */

static void
msg_settle(struct msg *m)
{
	int	i;

	if (m->state != MSG_STORING)
		return;
	for (i = 0; i < m->nobj; i++)
		if (m->obj[i].state == STORE_OBJ_UPLOADING)
			return;
	m->state = MSG_READY;
}

/* msg_link - build the link part of a stored object */

static int
msg_link(struct msg *m, struct store_obj *o)
{
	struct mime_notice nt;
	char	url[CFG_LINE_MAX + STORE_KEY_MAX + 1], hex[65];
	int	n;

	n = snprintf(url, sizeof(url), "%s%s", m->cfg->link_base, o->key);
	if (n < 0 || n >= (int)sizeof(url))
		return (-1);
	store_hex(hex, o->digest, sizeof(o->digest));
	nt.lang = m->cfg->notice_lang;
	nt.tmpl = m->cfg->notice_len ? m->cfg->notice : 0;
	nt.tmpl_len = m->cfg->notice_len;
	nt.expires = m->expires;
	m->link_len = mime_link_part(m->link, sizeof(m->link), &o->part, url,
	    n, hex, o->part.crlf, &nt);
	m->link_off = 0;
	return (m->link_len ? 0 : -1);
}

/* msg_dedupe - an earlier object of this message with the same key */

static struct store_obj *
msg_dedupe(struct msg *m, int i)
{
	int	j;

	for (j = 0; j < i; j++)
		if (strcmp(m->obj[j].key, m->obj[i].key) == 0
		    && m->obj[j].state >= STORE_OBJ_PENDING)
			return (&m->obj[j]);
	return (0);
}

/*
 * msg_end - the input is complete: store what qualifies
 *
 * When readers would disagree on the structure (MIME_ERR_AMBIGUOUS),
 * nothing is detached. Returns 0, or -1 when the job is in MSG_TEMPFAIL.
 */
int
msg_end(struct msg *m, int64_t now)
{
	struct store_obj *o, *twin;
	struct http_object ho;
	char	why[256];
	int64_t	t0;
	time_t	now_s;
	int	i, r;

	if (m->state != MSG_FEEDING)
		return (m->state == MSG_TEMPFAIL ? -1 : 0);
	if (!m->passthru)
		m->mime_errors |= mime_finish(m->mime);
	/* The last part may end only here (no EOL after the close
	 * delimiter), and its spool or hash fail under tempfail. */
	if (m->state == MSG_TEMPFAIL)
		return (-1);
	m->state = MSG_STORING;
	/* One date for all links of the message, announced before any
	 * object is stored: each is stored (or renewed) at or after it, so
	 * nothing that counts from the object's time deletes it earlier. */
	if (m->cfg->expire_s && (now_s = time(0)) != (time_t)-1)
		m->expires = (int64_t)now_s + (int64_t)m->cfg->expire_s;
	for (i = 0; i < m->nobj && m->state == MSG_STORING; i++) {
		o = &m->obj[i];
		if (o->state != STORE_OBJ_PENDING)
			continue;
		if (m->mime_errors & MIME_ERR_AMBIGUOUS) {
			store_obj_drop(o);
			continue;
		}
		/* The link part is built before the object is stored, so a
		 * name too long for it never leaves an orphan object. */
		if (msg_link(m, o) < 0) {
			log_warn("%slink part for %.100s too long; kept in "
			    "the message", m->pfx, o->key);
			store_obj_drop(o);
			continue;
		}
		m->link_len = 0;
		if ((twin = msg_dedupe(m, i)) != 0) {
			/* Same file twice in one message: one object. */
			o->state = twin->state == STORE_OBJ_UPLOADING ?
			    STORE_OBJ_PENDING : twin->state;
			continue;
		}
		if (m->cfg->store_kind == CFG_STORE_DIR) {
			t0 = clock_ms();
			r = store_dir_put(m->cfg->store + 4, o,
			    m->cfg->expire_s != 0, why, sizeof(why));
			store_observe(clock_ms() - t0);
			if (r < 0) {
				msg_obj_failed(m, o, why);
				continue;
			}
			if (r == 1)
				store_counts.dedup_hits++;
			o->state = STORE_OBJ_STORED;
			log_info("%sobject %.100s size=%llu: %s", m->pfx,
			    o->key, (unsigned long long)o->part.decoded, why);
			continue;
		}
		ho.fd = o->fd;
		ho.size = o->part.decoded;
		memcpy(ho.sha256, o->digest, sizeof(ho.sha256));
		ho.key = o->key;
		ho.type = o->part.type;
		ho.name = o->part.name;
		o->xfer_start = now;
		if ((o->xfer = http_xfer_new(m->st->http, &ho, now)) == 0)
			msg_obj_failed(m, o, "cannot start upload");
		else
			o->state = STORE_OBJ_UPLOADING;
	}
	if (m->state == MSG_STORING)
		msg_settle(m);
	return (m->state == MSG_TEMPFAIL ? -1 : 0);
}

/* msg_state - MSG_FEEDING, MSG_STORING, MSG_READY or MSG_TEMPFAIL */

int
msg_state(const struct msg *m)
{
	return (m->state);
}

/* msg_why - why a job ended in MSG_TEMPFAIL */

const char *
msg_why(const struct msg *m)
{
	return (m->why[0] ? m->why : "ok");
}

/* msg_store_failed - did the job end in MSG_TEMPFAIL for the store (1)
 * or for the spool (0)? The client is told which. */

int
msg_store_failed(const struct msg *m)
{
	return (m->store_failed);
}

/* msg_poll - the descriptors the uploads of this message wait on */

int
msg_poll(struct msg *m, struct pollfd *pfd, int max, int64_t *deadline)
{
	int	i, n = 0;

	if (m->state != MSG_STORING)
		return (0);
	for (i = 0; i < m->nobj && n < max; i++)
		if (m->obj[i].state == STORE_OBJ_UPLOADING)
			n += http_xfer_poll(m->obj[i].xfer, pfd + n, max - n,
			    deadline);
	return (n);
}

/*
 * msg_event - hand poll() results (or a passed deadline) to the uploads
 *
 * pfd and n are what msg_poll() filled, with revents set; each upload
 * finds its own descriptors among them.
 */
void
msg_event(struct msg *m, const struct pollfd *pfd, int n, int64_t now)
{
	struct store_obj *o;
	int	i, j;

	if (m->state != MSG_STORING)
		return;
	for (i = 0; i < m->nobj; i++) {
		o = &m->obj[i];
		if (o->state != STORE_OBJ_UPLOADING)
			continue;
		http_xfer_event(o->xfer, pfd, n, now);
		switch (http_xfer_state(o->xfer)) {
		case HTTP_XFER_RUNNING:
			continue;
		case HTTP_XFER_DONE:
			o->state = STORE_OBJ_STORED;
			if (http_xfer_found(o->xfer))
				store_counts.dedup_hits++;
			log_info("%sobject %.100s size=%llu: %s", m->pfx,
			    o->key, (unsigned long long)o->part.decoded,
			    http_xfer_why(o->xfer));
			break;
		case HTTP_XFER_FAILED:
			msg_obj_failed(m, o, http_xfer_why(o->xfer));
			break;
		default:
			log_panic("msg_event: bad transfer state");
		}
		store_observe(now - o->xfer_start);
		http_xfer_free(o->xfer);
		o->xfer = 0;
		/* Twins waiting on this upload share its fate. */
		for (j = i + 1; j < m->nobj; j++)
			if (m->obj[j].state == STORE_OBJ_PENDING
			    && strcmp(m->obj[j].key, o->key) == 0)
				m->obj[j].state = o->state;
	}
	msg_settle(m);
}

/*
 * msg_read - the rewritten message, in order; 0 at the end
 *
 * Raw spool bytes up to the next stored part, its link part, then on
 * after the part's range.
 */
ssize_t
msg_read(struct msg *m, void *buf, size_t len)
{
	struct store_obj *o;
	uint64_t stop;
	size_t	n;
	ssize_t	r;

	if (m->state != MSG_READY) {
		errno = EAGAIN;
		return (-1);
	}
	for (;;) {
		if (m->link_off < m->link_len) {
			n = m->link_len - m->link_off;
			if (n > len)
				n = len;
			memcpy(buf, m->link + m->link_off, n);
			m->link_off += n;
			return (n);
		}
		while (m->out_obj < m->nobj
		    && m->obj[m->out_obj].state != STORE_OBJ_STORED)
			m->out_obj++;
		o = m->out_obj < m->nobj ? &m->obj[m->out_obj] : 0;
		stop = o ? o->part.start : m->raw_len;
		if (o && m->out_off == stop) {
			m->out_obj++;
			if (msg_link(m, o) < 0) {
				/* No room for the link: keep the part. */
				log_warn("%slink part for %.100s too long",
				    m->pfx, o->key);
				continue;
			}
			m->out_off = o->part.end;
			m->detached++;
			if (o->part.end - o->part.start > m->link_len)
				m->saved += o->part.end - o->part.start
				    - m->link_len;
			continue;
		}
		if (m->out_off >= m->raw_len)
			return (0);
		n = stop - m->out_off < len ? stop - m->out_off : len;
		r = pread(m->raw_fd, buf, n, m->raw_base + m->out_off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r == 0) {
			errno = EIO;	/* the spool shrank */
			return (-1);
		}
		if (r > 0)
			m->out_off += r;
		return (r);
	}
}

/* msg_stats - detached parts, bytes saved, message size */

void
msg_stats(const struct msg *m, int *detached, uint64_t *saved,
    uint64_t *size)
{
	if (detached)
		*detached = m->detached;
	if (saved)
		*saved = m->saved;
	if (size)
		*size = m->raw_len;
}

/* msg_free - close the spools, drop the store */

void
msg_free(struct msg *m)
{
	int	i;

	if (m == 0)
		return;
	for (i = 0; i < m->nobj; i++) {
		if (m->obj[i].xfer)
			http_xfer_free(m->obj[i].xfer);
		store_obj_close(&m->obj[i]);
	}
	if (m->raw_fd >= 0 && m->raw_own)
		(void)close(m->raw_fd);
	store_unref(m->st);
	free(m->mime);
	free(m);
}

/* ------------------------------------------------------------------ */
/* The way back: objects by key                                        */
/* ------------------------------------------------------------------ */

/* store_hexval - a hex digit's value, or -1 */

static int
store_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return (c - '0');
	if (c >= 'a' && c <= 'f')
		return (c - 'a' + 10);
	if (c >= 'A' && c <= 'F')
		return (c - 'A' + 10);
	return (-1);
}

/*
 * store_key_name - the file name of a key of our making, decoded
 *
 * The key must be 32 lowercase hex digits, "/", then a name that
 * mime_url_encode() gives back unchanged from its decoding; the name
 * holds no '/', NUL or control character and is not "." or "..", as
 * the names mime.c sanitizes. Returns 0, or -1: not our key.
 */
int
store_key_name(const char *key, char *name, size_t size)
{
	char	again[STORE_KEY_MAX + 1];
	const char *e = key + strlen(key), *p;
	size_t	n = 0;
	int	i, hi, lo;

	for (i = 0; i < 32; i++)
		if (!((key[i] >= '0' && key[i] <= '9')
		    || (key[i] >= 'a' && key[i] <= 'f')))
			return (-1);
	if (key[32] != '/' || key[33] == 0 || (size_t)(e - key) > STORE_KEY_MAX)
		return (-1);
	for (p = key + 33; p < e; p++) {
		if (n + 1 >= size)
			return (-1);
		if (*p != '%') {
			name[n++] = *p;
			continue;
		}
		if (e - p < 3 || (hi = store_hexval(p[1])) < 0
		    || (lo = store_hexval(p[2])) < 0)
			return (-1);
		name[n++] = (char)(hi << 4 | lo);
		p += 2;
	}
	name[n] = 0;
	if (strlen(name) != n || strcmp(name, ".") == 0
	    || strcmp(name, "..") == 0 || n > MIME_NAME_MAX)
		return (-1);
	for (i = 0; (size_t)i < n; i++)
		if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f
		    || name[i] == '/')
			return (-1);
	/* one spelling only: what store_key() would have made */
	mime_url_encode(again, sizeof(again), name, n);
	return (strcmp(again, key + 33) == 0 ? 0 : -1);
}

/* store_dir_get - read a dir store's object into sink */

static int
store_dir_get(const char *dir, const char *key, const char *name,
    HTTP_BODY_FN sink, void *ctx, char *why, size_t len)
{
	char	sub[CFG_LINE_MAX + 40], path[CFG_LINE_MAX + 40 + MIME_NAME_MAX],
		buf[SPOOL_IO_MAX];
	struct stat st;
	ssize_t	n;
	int	fd;

	if (store_dir_paths(dir, key, name, sub, sizeof(sub), path,
	    sizeof(path)) < 0) {
		snprintf(why, len, "store path too long");
		return (STORE_GET_FAIL);
	}
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0) {
		snprintf(why, len, "open %.200s: %s", path, strerror(errno));
		return (errno == ENOENT || errno == ENOTDIR ?
		    STORE_GET_MISSING : STORE_GET_FAIL);
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(why, len, "%.200s: not a file", path);
		(void)close(fd);
		return (STORE_GET_MISSING);
	}
	if (sink(ctx, 0, 0) < 0) {
		(void)close(fd);
		snprintf(why, len, "refused");
		return (STORE_GET_FAIL);
	}
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(why, len, "read %.200s: %s", path,
			    strerror(errno));
			(void)close(fd);
			return (STORE_GET_FAIL);
		}
		if (sink(ctx, (unsigned char *)buf, (size_t)n) < 0) {
			snprintf(why, len, "refused");
			(void)close(fd);
			return (STORE_GET_FAIL);
		}
	}
	(void)close(fd);
	snprintf(why, len, "read");
	return (STORE_GET_OK);
}

/*
 * store_get - hand the object stored under key to sink, as it is read
 *
 * sink hears a zero-length call when the object's bytes begin (again,
 * if a download is tried again), then the bytes. Returns STORE_GET_OK,
 * or STORE_GET_MISSING, STORE_GET_BADKEY or STORE_GET_FAIL with why.
 * A sink that refuses makes it STORE_GET_FAIL; the sink knows why.
 */
int
store_get(const char *key, HTTP_BODY_FN sink, void *ctx, char *why,
    size_t len)
{
	char	name[MIME_NAME_MAX + 1];
	int	status;

	if (store_cur == 0) {
		snprintf(why, len, "no store configured");
		return (STORE_GET_FAIL);
	}
	if (store_key_name(key, name, sizeof(name)) < 0) {
		snprintf(why, len, "not an object key of detach");
		return (STORE_GET_BADKEY);
	}
	if (store_cur->cfg.store_kind == CFG_STORE_DIR)
		return (store_dir_get(store_cur->cfg.store + 4, key, name, sink,
		    ctx, why, len));
	if (http_get_wait(store_cur->http, key, sink, ctx, &status, why,
	    len) == 0)
		return (STORE_GET_OK);
	/* RFC 9110 15.5.5, 15.5.11: not there, or gone for good */
	return (status == 404 || status == 410 ? STORE_GET_MISSING :
	    STORE_GET_FAIL);
}
