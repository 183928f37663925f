/*
 * t_sweep - unit tests of detach -x against renewals of the dir store
 *
 * The promise: nothing deletes an object before the last date announced
 * for it. A message that announces an object again renews it; a sweep
 * running at the same moment must not delete it. The sweep's test hook
 * runs a real message job (store.c's renewal) at each point between
 * the sweep's steps; after each interleaving the object must be in the
 * store, whole, with a fresh time. Without a renewal, an object past
 * due goes, with its key directory; one not yet due stays. With expire
 * = 0 a message leaves the object's time alone.
 */
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "detach.h"
#include "t.h"

static char tmpdir[] = "/tmp/t_sweep.XXXXXX";
static struct cfg cfg;
static char objpath[700], keydir[600];

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
    "Content-Type: application/pdf; name=\"doc.pdf\"\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    ATT_B64 "\r\n"
    "--=b--\r\n";

#define DAY	86400
#define EXPIRE	(30 * DAY)

/* t_job - one message through a job: MSG_READY and a link, or not */

static int
t_job(void)
{
	char	why[256], out[8192];
	struct msg *m;
	size_t	olen = 0;
	ssize_t	r;
	int	ok;

	if (store_init(&cfg, why, sizeof(why)) < 0
	    || (m = msg_new(&cfg, why, sizeof(why))) == 0)
		return (0);
	msg_feed(m, msg1, strlen(msg1));
	msg_end(m, clock_ms());
	ok = msg_state(m) == MSG_READY;
	while (ok && (r = msg_read(m, out + olen, sizeof(out) - 1 - olen)) > 0)
		olen += r;
	out[olen] = 0;
	msg_free(m);
	return (ok && strstr(out, "X-Detach-URL: ") != 0);
}

/* t_age - set the object's time so many seconds back */

static void
t_age(const char *path, int64_t secs)
{
	struct timespec ts[2];

	clock_gettime(CLOCK_REALTIME, &ts[0]);
	ts[0].tv_sec -= secs;
	ts[1] = ts[0];
	if (utimensat(AT_FDCWD, path, ts, 0) < 0)
		t_ok(0, "utimensat %s: %s", path, strerror(errno));
}

/* t_fresh - the object is there, whole, with a time from this minute */

static int
t_fresh(void)
{
	char	buf[256];
	struct stat st;
	ssize_t	n;
	int	fd;

	if ((fd = open(objpath, O_RDONLY)) < 0)
		return (0);
	n = read(fd, buf, sizeof(buf));
	fstat(fd, &st);
	close(fd);
	return (n == (ssize_t)strlen(att) && memcmp(buf, att, n) == 0
	    && st.st_mtime > time(0) - 60);
}

/* t_no_leftover - no ".sweep.*" or ".tmp.*" name left behind */

static int
t_no_leftover(void)
{
	char	cmd[1200];

	snprintf(cmd, sizeof(cmd), "test -z \"$(find %s -name '.sweep.*' "
	    "-o -name '.tmp.*')\"", tmpdir);
	return (system(cmd) == 0);
}

static int hook_at = -1, hook_ran;

/* t_hook - a message announcing the object, at one point of the sweep */

static void
t_hook(int point, int kfd, const char *name)
{
	(void)kfd;
	if (point != hook_at || strcmp(name, "doc.pdf") != 0)
		return;
	hook_ran = t_job();
}

static int64_t
t_now(void)
{
	return ((int64_t)time(0));
}

static int store_hook_at = -1, store_hook_done;

/*
 * t_store_hook - at one point of the dir store, once: a whole sweep
 * inside a renewal (RENEW); an old copy of the object renamed over its
 * name after the renewal set the time (RENEWED); a new key directory
 * removed, empty, as a sweep would (MKDIR). store_hook_done counts what
 * was done.
 */
static void
t_store_hook(int point, const char *path)
{
	struct sweep_stats s;
	char	old[800];
	int	fd;

	if (point != store_hook_at || store_hook_done)
		return;
	if (point == STORE_HOOK_RENEW) {
		sweep_dir(cfg.store + 4, cfg.expire_s, t_now(), &s);
		store_hook_done = (int)s.deleted;
	} else if (point == STORE_HOOK_RENEWED) {
		snprintf(old, sizeof(old), "%s/old-copy", tmpdir);
		if ((fd = open(old, O_WRONLY | O_CREAT | O_TRUNC, 0644)) < 0
		    || write(fd, att, strlen(att)) != (ssize_t)strlen(att)
		    || close(fd) < 0)
			return;
		t_age(old, EXPIRE + SWEEP_GRACE_S + 3600);
		store_hook_done = rename(old, path) == 0;
	} else if (point == STORE_HOOK_MKDIR)
		store_hook_done = rmdir(path) == 0;
}

/* t_job_hooked - one message with the store's hook at one point */

static int
t_job_hooked(int point)
{
	int	ok;

	store_hook_at = point;
	store_hook_done = 0;
	store_test_hook = t_store_hook;
	ok = t_job();
	store_test_hook = 0;
	return (ok && store_hook_done == 1);
}

static void
t_race(void)
{
	struct sweep_stats s;
	struct stat st;

	cfg.expire_s = EXPIRE;
	t_ok(t_job() && t_fresh(), "object stored at <dir>/<key>/doc.pdf");

	/* nothing due */
	sweep_dir(cfg.store + 4, cfg.expire_s, t_now(), &s);
	t_ok(s.deleted == 0 && s.kept == 1 && t_fresh(), "fresh object kept");
	t_age(objpath, EXPIRE + SWEEP_GRACE_S - 3600);
	sweep_dir(cfg.store + 4, cfg.expire_s, t_now(), &s);
	t_ok(s.deleted == 0 && s.kept == 1 && stat(objpath, &st) == 0,
	    "object within expire and the grace kept");

	/* a message renews it before the sweep moves it aside */
	t_age(objpath, EXPIRE + SWEEP_GRACE_S + 3600);
	hook_at = 0;
	hook_ran = 0;
	sweep_test_hook = t_hook;
	sweep_dir(cfg.store + 4, cfg.expire_s, t_now(), &s);
	t_ok(hook_ran && s.deleted == 0 && s.kept == 1 && s.errors == 0
	    && t_fresh(), "renewed before the move: put back, whole, fresh");
	t_ok(t_no_leftover(), "renewed before the move: nothing left aside");

	/* a message comes after the move: finds it gone, stores anew */
	t_age(objpath, EXPIRE + SWEEP_GRACE_S + 3600);
	hook_at = 1;
	hook_ran = 0;
	sweep_dir(cfg.store + 4, cfg.expire_s, t_now(), &s);
	t_ok(hook_ran && s.deleted == 1 && s.errors == 0 && t_fresh(),
	    "renewed after the move: the old copy deleted, the new one kept");
	t_ok(t_no_leftover(), "renewed after the move: nothing left aside");
	sweep_test_hook = 0;

	/* A sweep that moves, looks and deletes between the renewal's
	 * look-up and its setting of the time (a window utimensat() on a
	 * name has inside the kernel): the time lands on a deleted file,
	 * so the renewal must see that and store the object anew. */
	t_age(objpath, EXPIRE + SWEEP_GRACE_S + 3600);
	t_ok(t_job_hooked(STORE_HOOK_RENEW) && t_fresh(),
	    "swept inside the renewal: stored anew, whole, fresh");
	t_ok(t_no_leftover(), "swept inside the renewal: nothing left aside");
	if (!t_fresh())
		(void)t_job();

	/* Another file put under the name after the time was set (an
	 * old copy, the same bytes): the renewal did not land on what is
	 * there now, so the object is stored anew. */
	t_age(objpath, EXPIRE + SWEEP_GRACE_S + 3600);
	t_ok(t_job_hooked(STORE_HOOK_RENEWED) && t_fresh(),
	    "name replaced after the renewal: stored anew, fresh");
	if (!t_fresh())
		(void)t_job();

	/* no message: deleted, with its key directory */
	t_age(objpath, EXPIRE + SWEEP_GRACE_S + 3600);
	sweep_dir(cfg.store + 4, cfg.expire_s, t_now(), &s);
	t_ok(s.deleted == 1 && s.bytes == strlen(att) && s.errors == 0
	    && stat(objpath, &st) < 0 && errno == ENOENT,
	    "past due, not renewed: deleted");
	t_ok(stat(keydir, &st) < 0 && errno == ENOENT,
	    "its empty key directory removed");

	/* after that, a message stores it again (the key dir made anew),
	 * even when a sweep removes the new key directory, still empty,
	 * right after our mkdir */
	t_ok(t_job_hooked(STORE_HOOK_MKDIR) && t_fresh(),
	    "stored again after the sweep, its new key directory removed once");

	/* a message renews an old object */
	t_age(objpath, 10 * DAY);
	t_ok(t_job() && t_fresh(), "expire set: a message renews the object");

	/* expire = 0: the object's time is left alone */
	cfg.expire_s = 0;
	t_age(objpath, 10 * DAY);
	t_ok(t_job() && stat(objpath, &st) == 0
	    && st.st_mtime < time(0) - 9 * DAY,
	    "expire = 0: a message leaves the time alone");
}

/*
 * t_shared - a store shared by hosts: another host's sweep, with our
 * pid, has a file aside in the same key directory. Our sweep must not
 * take that name (rename would replace the file, then delete it).
 */
static void
t_shared(void)
{
	struct sweep_stats s;
	char	other[800], buf[64];
	ssize_t	n;
	int	fd;

	cfg.expire_s = EXPIRE;
	t_ok(t_job() && t_fresh(), "shared store: object stored");
	snprintf(other, sizeof(other), "%s/.sweep.%ld", keydir,
	    (long)getpid());
	if ((fd = open(other, O_WRONLY | O_CREAT | O_TRUNC, 0644)) < 0
	    || write(fd, "another host's", 14) != 14 || close(fd) < 0)
		t_ok(0, "shared store: write %s", other);
	t_age(objpath, EXPIRE + SWEEP_GRACE_S + 3600);
	sweep_dir(cfg.store + 4, cfg.expire_s, t_now(), &s);
	n = -1;
	if ((fd = open(other, O_RDONLY)) >= 0) {
		n = read(fd, buf, sizeof(buf));
		(void)close(fd);
	}
	t_ok(s.deleted == 1 && n == 14 && memcmp(buf, "another host's",
	    14) == 0, "shared store: another host's aside file untouched");
	(void)unlink(other);
}

int
main(void)
{
	char	cmd[600], key[40];
	int	i;

	if (mkdtemp(tmpdir) == 0)
		return (1);
	cfg_defaults(&cfg);
	snprintf(cfg.store, sizeof(cfg.store), "dir:%s/store", tmpdir);
	snprintf(cfg.spool_dir, sizeof(cfg.spool_dir), "%s", tmpdir);
	snprintf(cfg.link_base, sizeof(cfg.link_base), "https://f.example/a/");
	for (i = 0; i < 32; i++)
		cfg.secret[i] = i * 5 + 3;
	cfg.secret_set = 1;
	cfg.min_size = 10;
	snprintf(cmd, sizeof(cmd), "%s/store", tmpdir);
	mkdir(cmd, 0755);
	t_expect_key(cfg.secret, att, strlen(att), key);
	snprintf(keydir, sizeof(keydir), "%s/store/%s", tmpdir, key);
	snprintf(objpath, sizeof(objpath), "%s/doc.pdf", keydir);
	t_race();
	t_shared();
	store_shutdown();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	if (system(cmd) != 0)
		t_ok(0, "cleanup");
	return (t_failed != 0);
}
