/*
 * NAME
 *	priv - the `user` key: resolving it, dropping root, checks
 * SYNOPSIS
 *	#include "detach.h"
 *
 *	int	priv_user(cfg, file, pu, why, len)
 *	int	priv_drop(pu, why, len)
 *	int	priv_dirs(cfg, pu, why, len)
 * DESCRIPTION
 *	Mail is never processed as root. The proxy, started as root,
 *	opens what needs root (listeners on ports below 1024, the log),
 *	then gives up root for good before it reads a byte of mail.
 *
 *	priv_user() resolves `user` to its uid and gid. A name that does
 *	not exist, or that is uid 0 (root, or an alias such as toor), is
 *	a configuration error naming FILE:LINE, or FILE alone when
 *	`user` kept its default. Only a process started as root resolves
 *	it: pipe mode, and a proxy started as another user, run as
 *	whoever started them.
 *
 *	priv_drop() sets the group, the user's supplementary groups
 *	(initgroups) and the uid, in that order (the uid last: after it
 *	nothing else may be changed), then checks that it took: real,
 *	effective and saved ids are the user's, and setuid(0) fails.
 *
 *	priv_dirs() checks that spool_dir, and a dir store, are
 *	directories the user may write to and traverse. With pu 0, or
 *	when not root, it asks access() as we are; as root for pu, it
 *	asks a child that first drops to pu, so that the kernel's own
 *	rules answer (supplementary groups, ACLs, read-only mounts), not
 *	our reading of owners and modes.
 * LIMITS
 *	CFG_USER_MAX characters of a name.
 * DIAGNOSTICS
 *	Each returns 0, or -1 with one line in why that names the key and
 *	the path or user at fault.
 * BUGS
 *	A dir store written by an earlier detach running as root holds
 *	subdirectories the user cannot write; priv_dirs() looks at the
 *	top directory only (chown -R it once).
 */
#include <sys/stat.h>
#include <sys/wait.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "detach.h"

/* priv_where - "FILE:LINE" where user was set, or "FILE" for the default */

static void
priv_where(const struct cfg *cfg, const char *file, char *buf, size_t len)
{
	if (cfg->user_line > 0)
		snprintf(buf, len, "%s:%d", file, cfg->user_line);
	else
		snprintf(buf, len, "%s", file);
}

/* priv_user - resolve `user`; 0, or -1 with FILE[:LINE]: user: ... */

int
priv_user(const struct cfg *cfg, const char *file, struct priv_user *pu,
    char *why, size_t len)
{
	char	where[CFG_LINE_MAX + 16];
	struct passwd *pw;

	priv_where(cfg, file, where, sizeof(where));
	errno = 0;
	if ((pw = getpwnam(cfg->user)) == 0) {
		if (errno != 0 && errno != ENOENT && errno != ESRCH)
			snprintf(why, len, "%s: user: looking up \"%s\": %s",
			    where, cfg->user, strerror(errno));
		else
			snprintf(why, len, "%s: user: no such user \"%s\"%s",
			    where, cfg->user, cfg->user_line ? "" :
			    " (the default: create it, e.g. useradd --system "
			    "detach, or set user)");
		return (-1);
	}
	if (pw->pw_uid == 0) {
		snprintf(why, len, "%s: user: \"%s\" is uid 0; detach does not "
		    "process mail as root", where, cfg->user);
		return (-1);
	}
	snprintf(pu->name, sizeof(pu->name), "%s", cfg->user);
	pu->uid = pw->pw_uid;
	pu->gid = pw->pw_gid;
	return (0);
}

/* priv_drop - become pu for good; 0, or -1 with why */

int
priv_drop(const struct priv_user *pu, char *why, size_t len)
{
	uid_t	ru, eu, su;
	gid_t	rg, eg, sg;

	if (pu->uid == 0) {
		snprintf(why, len, "user %s: uid 0", pu->name);
		return (-1);
	}
	if (setgid(pu->gid) < 0) {
		snprintf(why, len, "setgid %ld: %s", (long)pu->gid,
		    strerror(errno));
		return (-1);
	}
	if (initgroups(pu->name, pu->gid) < 0) {
		snprintf(why, len, "initgroups %s: %s", pu->name,
		    strerror(errno));
		return (-1);
	}
	if (setuid(pu->uid) < 0) {
		snprintf(why, len, "setuid %ld: %s", (long)pu->uid,
		    strerror(errno));
		return (-1);
	}
	if (getresuid(&ru, &eu, &su) < 0 || getresgid(&rg, &eg, &sg) < 0
	    || ru != pu->uid || eu != pu->uid || su != pu->uid
	    || rg != pu->gid || eg != pu->gid || sg != pu->gid
	    || getuid() != pu->uid || geteuid() != pu->uid
	    || getgid() != pu->gid || getegid() != pu->gid) {
		snprintf(why, len, "user %s: the ids did not change", pu->name);
		return (-1);
	}
	if (setuid(0) == 0) {
		snprintf(why, len, "user %s: setuid(0) still works", pu->name);
		return (-1);
	}
	return (0);
}

/* priv_dirs_self - spool_dir and a dir store, as we are now */

static int
priv_dirs_self(const struct cfg *cfg, const char *who, char *why,
    size_t len)
{
	const char *key[2], *path[2];
	struct stat st;
	int	i, n = 0;

	key[n] = "spool_dir";
	path[n++] = cfg->spool_dir;
	if (cfg->store_kind == CFG_STORE_DIR) {
		key[n] = "store";
		path[n++] = cfg->store + 4;	/* after "dir:" */
	}
	for (i = 0; i < n; i++) {
		if (stat(path[i], &st) < 0) {
			snprintf(why, len, "%s %s: %s (as %s)", key[i],
			    path[i], strerror(errno), who);
			return (-1);
		}
		if (!S_ISDIR(st.st_mode)) {
			snprintf(why, len, "%s %s: not a directory", key[i],
			    path[i]);
			return (-1);
		}
		if (access(path[i], W_OK | X_OK) < 0) {
			snprintf(why, len, "%s %s: not writable by %s: %s",
			    key[i], path[i], who, strerror(errno));
			return (-1);
		}
	}
	return (0);
}

/*
 * priv_dirs - can the user (pu; 0: we) write to spool_dir and a dir
 * store? 0, or -1 with why naming the path
 */
int
priv_dirs(const struct cfg *cfg, const struct priv_user *pu, char *why,
    size_t len)
{
	char	who[CFG_USER_MAX + 64];
	struct passwd *pw;
	ssize_t	n;
	size_t	got = 0;
	pid_t	pid;
	int	fd[2], status;

	if (pu == 0 || geteuid() != 0) {
		if ((pw = getpwuid(geteuid())) != 0)
			snprintf(who, sizeof(who), "user %.32s (uid %ld)",
			    pw->pw_name, (long)geteuid());
		else
			snprintf(who, sizeof(who), "uid %ld", (long)geteuid());
		return (priv_dirs_self(cfg, who, why, len));
	}
	snprintf(who, sizeof(who), "user %s (uid %ld)", pu->name,
	    (long)pu->uid);
	if (pipe2(fd, O_CLOEXEC) < 0) {
		snprintf(why, len, "pipe: %s", strerror(errno));
		return (-1);
	}
	if ((pid = fork()) < 0) {
		snprintf(why, len, "fork: %s", strerror(errno));
		(void)close(fd[0]);
		(void)close(fd[1]);
		return (-1);
	}
	if (pid == 0) {
		/* The child: the user's own view, then its verdict. */
		(void)close(fd[0]);
		if (priv_drop(pu, why, len) < 0
		    || priv_dirs_self(cfg, who, why, len) < 0) {
			(void)store_write_all(fd[1], why, strlen(why));
			_exit(1);
		}
		_exit(0);
	}
	(void)close(fd[1]);
	why[0] = 0;
	while (got + 1 < len && (n = read(fd[0], why + got,
	    len - 1 - got)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		got += n;
	}
	why[got] = 0;
	(void)close(fd[0]);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR) {
			snprintf(why, len, "waitpid: %s", strerror(errno));
			return (-1);
		}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return (0);
	if (got == 0)
		snprintf(why, len, "checking the directories as %s failed",
		    who);
	return (-1);
}
