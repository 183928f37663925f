/*
 * NAME
 *	sweep - detach -x: delete expired objects from a dir store
 * SYNOPSIS
 *	#include "detach.h"
 *
 *	int	sweep_dir(root, expire_s, now, stats)
 * DESCRIPTION
 *	The dir store (store.c) writes each object at <root>/<key>/<name>,
 *	key 32 lowercase hex digits, name a sanitized file name that never
 *	starts with a dot; its temporary files are <root>/.tmp.PID.SEQ.NONCE.
 *	sweep_dir() deletes the objects whose time (mtime: set when stored,
 *	and again by each message that announces the object anew) is older
 *	than expire_s plus SWEEP_GRACE_S, prints one line for each on
 *	standard output, and removes key directories left empty. It also
 *	deletes the temporary files a writer that died left in the root:
 *	regular files named as store.c names them, last written more than
 *	SWEEP_TMP_S ago.
 *
 *	Nothing else under the root is touched: entries of the root that
 *	are neither a key directory nor such a temporary file (".tmp.1.1",
 *	say), key directories that are symbolic links,
 *	and entries of a key directory that are not regular files or whose
 *	name starts with a dot are left alone. Symbolic links are never
 *	followed: every look-up is relative to a directory descriptor, with
 *	AT_SYMLINK_NOFOLLOW or O_NOFOLLOW. The root itself may be a link, as
 *	it may be for detach.
 *
 *	It runs beside detach serving mail. A message that announces an
 *	object again renews it: store_dir_renew() opens it, sets its time
 *	through the descriptor, then looks at the name again, and stores the
 *	object anew unless the name still leads to the file it renewed. The
 *	sweep, for an object it found due, (1) renames it to a name of its
 *	own in the same directory (".sweep.PID.NONCE", atomic, unique even
 *	among hosts sharing the store), (2) looks at the time of the file
 *	it moved, (3) deletes that file if still due, else links it back
 *	under its name, unless a new copy is there already, and removes its
 *	own name. Every order of the two works:
 *	  - time set before (2): the sweep sees the new time and puts the
 *	    file back, or the renewal looked again before it did, found
 *	    the name gone or leading elsewhere and stored the object anew;
 *	  - time set after (2), on the file moved aside: the sweep deletes
 *	    it, but nothing puts a file the sweep saw due back under the
 *	    name, so the renewal's second look does not find it there and
 *	    stores anew;
 *	  - a new copy stored meanwhile: the sweep deletes only its own
 *	    name's file, and (3) does not link over the new one (linkat
 *	    fails with EEXIST).
 *	So an object whose renewal succeeded is never deleted. The second
 *	look is what makes this hold: setting the time on a name, as
 *	utimensat() does, can land on the file the sweep moved aside after
 *	the sweep has looked at it. A key directory is removed with rmdir
 *	only, which fails on one that is not empty; detach makes it again
 *	if the sweep removed it between its mkdir and its rename.
 * LIMITS
 *	Directory entries are read one at a time; memory does not grow with
 *	the store.
 * DIAGNOSTICS
 *	A failure on one entry is logged as a warning and counted in
 *	stats->errors; the sweep goes on with the others. sweep_dir()
 *	returns -1 when the root cannot be read.
 * BUGS
 *	Between (1) and (3) of a renewed object, a download of it may find
 *	nothing for an instant.
 *	A sweep killed between (1) and (3) leaves ".sweep.*" behind: the
 *	object under its own name is missing until a message stores it
 *	again. Such files are not swept; remove them by hand.
 *	The argument above takes the file system's word for names at once,
 *	as a local one gives it. An NFS client may answer the renewal's
 *	second look from its cache of names for a moment after another
 *	host's sweep moved the file.
 */
#include <sys/stat.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "detach.h"

void	(*sweep_test_hook)(int, int, const char *);

/* sweep_hexlen - how many lowercase hex digits s starts with */

static size_t
sweep_hexlen(const char *s)
{
	size_t	n;

	for (n = 0; (s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a'
	    && s[n] <= 'f'); n++)
		;
	return (n);
}

/* sweep_is_key - 32 lowercase hex digits, as store_key() makes */

static int
sweep_is_key(const char *s)
{
	return (sweep_hexlen(s) == 32 && s[32] == 0);
}

/* sweep_is_tmp - ".tmp.PID.SEQ.NONCE", as store_dir_put() names them */

static int
sweep_is_tmp(const char *s)
{
	size_t	n;
	int	field;

	if (strncmp(s, ".tmp.", 5) != 0)
		return (0);
	s += 5;
	for (field = 0; field < 2; field++, s += n + 1)	/* PID, SEQ */
		if ((n = strspn(s, "0123456789")) == 0 || s[n] != '.')
			return (0);
	return (sweep_hexlen(s) == STORE_NONCE_LEN && s[STORE_NONCE_LEN] == 0);
}

/* sweep_tmp - delete one temporary file of the root if stale */

static void
sweep_tmp(int rfd, const char *name, int64_t now, struct sweep_stats *s)
{
	struct stat st;

	if (fstatat(rfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno != ENOENT) {
			log_warn("stat %s: %s", name, strerror(errno));
			s->errors++;
		}
		return;
	}
	if (!S_ISREG(st.st_mode)
	    || (int64_t)st.st_mtim.tv_sec + SWEEP_TMP_S >= now)
		return;
	if (unlinkat(rfd, name, 0) < 0) {
		if (errno != ENOENT) {
			log_warn("unlink %s: %s", name, strerror(errno));
			s->errors++;
		}
		return;
	}
	printf("deleted %s size=%lld\n", name, (long long)st.st_size);
	s->temps++;
}

/* sweep_due - is a file with this time past expire and the grace? */

static int
sweep_due(const struct stat *st, uint64_t expire_s, int64_t now)
{
	return ((int64_t)st->st_mtim.tv_sec + (int64_t)expire_s
	    + SWEEP_GRACE_S < now);
}

/* sweep_print - one deletion on stdout, the name made printable */

static void
sweep_print(const char *key, const char *name, const struct stat *st)
{
	char	safe[MIME_NAME_MAX * 4 + 1];
	size_t	i, n = 0;

	for (i = 0; name[i] && n + 1 < sizeof(safe); i++)
		safe[n++] = (unsigned char)name[i] < 0x20 || name[i] == 0x7f ?
		    '?' : name[i];
	safe[n] = 0;
	printf("deleted %s/%s size=%lld\n", key, safe,
	    (long long)st->st_size);
}

/*
 * sweep_object - delete one object found due, unless renewed meanwhile
 *
 * Returns 1 deleted, 0 kept (renewed, or gone already), -1 on error.
 */
static int
sweep_object(int kfd, const char *key, const char *name, uint64_t expire_s,
    int64_t now, struct stat *st)
{
	char	aside[64], nonce[STORE_NONCE_LEN + 1];

	if (store_nonce(nonce) < 0) {
		log_warn("getrandom: %s", strerror(errno));
		return (-1);
	}
	snprintf(aside, sizeof(aside), ".sweep.%ld.%s", (long)getpid(),
	    nonce);
	if (sweep_test_hook)
		sweep_test_hook(0, kfd, name);
	if (renameat(kfd, name, kfd, aside) < 0) {
		if (errno == ENOENT)
			return (0);	/* gone: someone else's doing */
		log_warn("rename %s/%s: %s", key, name, strerror(errno));
		return (-1);
	}
	if (sweep_test_hook)
		sweep_test_hook(1, kfd, name);
	if (fstatat(kfd, aside, st, AT_SYMLINK_NOFOLLOW) < 0) {
		log_warn("stat %s/%s: %s", key, aside, strerror(errno));
		/* in doubt, keep it: back under its name */
		if (linkat(kfd, aside, kfd, name, 0) == 0 || errno == EEXIST)
			(void)unlinkat(kfd, aside, 0);
		return (-1);
	}
	if (S_ISREG(st->st_mode) && sweep_due(st, expire_s, now)) {
		if (unlinkat(kfd, aside, 0) < 0) {
			log_warn("unlink %s/%s: %s", key, aside,
			    strerror(errno));
			return (-1);
		}
		return (1);
	}
	/* Renewed between our look and the rename: back under its name,
	 * unless a message stored a new copy there meanwhile. */
	if (linkat(kfd, aside, kfd, name, 0) < 0 && errno != EEXIST) {
		log_warn("link %s/%s back: %s (left as %s)", key, name,
		    strerror(errno), aside);
		return (-1);
	}
	if (unlinkat(kfd, aside, 0) < 0) {
		log_warn("unlink %s/%s: %s", key, aside, strerror(errno));
		return (-1);
	}
	return (0);
}

/* sweep_key - the objects of one key directory */

static void
sweep_key(int rfd, const char *key, uint64_t expire_s, int64_t now,
    struct sweep_stats *s)
{
	struct dirent *e;
	struct stat st;
	DIR    *d;
	int	kfd, r;

	if ((kfd = openat(rfd, key, O_RDONLY | O_DIRECTORY | O_NOFOLLOW
	    | O_CLOEXEC)) < 0) {
		/* a symbolic link, or gone meanwhile: not ours to sweep */
		if (errno != ELOOP && errno != ENOTDIR && errno != ENOENT) {
			log_warn("open %s: %s", key, strerror(errno));
			s->errors++;
		}
		return;
	}
	if ((d = fdopendir(kfd)) == 0) {
		log_warn("open %s: %s", key, strerror(errno));
		(void)close(kfd);
		s->errors++;
		return;
	}
	for (errno = 0; (e = readdir(d)) != 0; errno = 0) {
		if (e->d_name[0] == '.')
			continue;	/* ".", "..", names no object has */
		if (fstatat(kfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno != ENOENT) {
				log_warn("stat %s/%s: %s", key, e->d_name,
				    strerror(errno));
				s->errors++;
			}
			continue;
		}
		if (!S_ISREG(st.st_mode))
			continue;
		if (!sweep_due(&st, expire_s, now)) {
			s->kept++;
			continue;
		}
		r = sweep_object(kfd, key, e->d_name, expire_s, now, &st);
		if (r < 0)
			s->errors++;
		else if (r == 0)
			s->kept++;
		else {
			sweep_print(key, e->d_name, &st);
			s->deleted++;
			s->bytes += (uint64_t)st.st_size;
		}
	}
	if (errno != 0) {
		log_warn("read %s: %s", key, strerror(errno));
		s->errors++;
	}
	(void)closedir(d);
}

/*
 * sweep_dir - delete the objects of a dir store past expire_s
 *
 * now is the wall clock in seconds. Returns 0 with stats filled (see
 * stats->errors), or -1 if the root cannot be read.
 */
int
sweep_dir(const char *root, uint64_t expire_s, int64_t now,
    struct sweep_stats *s)
{
	struct dirent *e;
	struct stat st;
	DIR    *d;
	int	rfd;

	memset(s, 0, sizeof(*s));
	if ((rfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		log_warn("open %s: %s", root, strerror(errno));
		return (-1);
	}
	if ((d = fdopendir(rfd)) == 0) {
		log_warn("open %s: %s", root, strerror(errno));
		(void)close(rfd);
		return (-1);
	}
	for (errno = 0; (e = readdir(d)) != 0; errno = 0) {
		if (sweep_is_tmp(e->d_name)) {
			sweep_tmp(rfd, e->d_name, now, s);
			continue;
		}
		if (!sweep_is_key(e->d_name))
			continue;
		if (fstatat(rfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0
		    || !S_ISDIR(st.st_mode))
			continue;
		sweep_key(rfd, e->d_name, expire_s, now, s);
		/* Removed only if empty: rmdir refuses any other. */
		if (unlinkat(rfd, e->d_name, AT_REMOVEDIR) < 0
		    && errno != ENOTEMPTY && errno != EEXIST
		    && errno != ENOENT) {
			log_warn("rmdir %s: %s", e->d_name, strerror(errno));
			s->errors++;
		}
	}
	if (errno != 0) {
		log_warn("read %s: %s", root, strerror(errno));
		s->errors++;
	}
	(void)closedir(d);
	return (0);
}
