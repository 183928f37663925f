/*
 * t_restore - unit tests of detach -R (restore.c) over a dir store
 *
 * Each case is a hand-written message with link parts, the objects put
 * in a dir store here, and the exact output RFC 2045 6.8 and RFC 4648
 * say restore_run() must write: the link part's range replaced by the
 * kept Content-Type and Content-Disposition, Content-Transfer-Encoding:
 * base64 and the object in lines of 76 characters (RFC 4648 10 vectors;
 * 57 bytes fill one line exactly), the rest byte for byte; or, for a
 * missing or altered object, exit 65 and nothing at all.
 */
#include <sys/stat.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "detach.h"
#include "t.h"

#define HEX32	"0123456789abcdef0123456789abcdef"
#define BASE	"https://f.example/a/"

static char tmpdir[] = "/tmp/t_restore.XXXXXX";
static struct cfg cfg;

/* put - an object into the dir store under HEX32/name */
static void
put(const char *name, const char *data, size_t len)
{
	char	path[512];
	FILE   *fp;

	snprintf(path, sizeof(path), "%s/store/%s", tmpdir, HEX32);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/store/%s/%s", tmpdir, HEX32, name);
	if ((fp = fopen(path, "wb")) == 0 || fwrite(data, 1, len, fp) != len)
		t_ok(0, "put %s", name);
	if (fp)
		fclose(fp);
}

/* sha - hex SHA-256, by BearSSL */
static void
sha(const char *data, size_t len, char *hex)
{
	br_sha256_context c;
	unsigned char d[32];
	int	i;

	br_sha256_init(&c);
	br_sha256_update(&c, data, len);
	br_sha256_out(&c, d);
	for (i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", d[i]);
}

/* run - restore_run() with in as stdin; its exit code, stdout in out */
static int
run(const char *in, char *out, size_t size, size_t *olen)
{
	char	ip[128], op[128];
	int	fi, fo, s0, s1, rc;
	ssize_t	n;

	snprintf(ip, sizeof(ip), "%s/in", tmpdir);
	snprintf(op, sizeof(op), "%s/out", tmpdir);
	fi = open(ip, O_RDWR | O_CREAT | O_TRUNC, 0600);
	fo = open(op, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fi < 0 || fo < 0 || write(fi, in, strlen(in)) != (ssize_t)strlen(in)
	    || lseek(fi, 0, SEEK_SET) < 0)
		return (-1);
	fflush(stdout);
	s0 = dup(0);
	s1 = dup(1);
	dup2(fi, 0);
	dup2(fo, 1);
	rc = restore_run(&cfg);
	dup2(s0, 0);
	dup2(s1, 1);
	close(s0);
	close(s1);
	n = pread(fo, out, size - 1, 0);
	*olen = n > 0 ? (size_t)n : 0;
	out[*olen] = 0;
	close(fi);
	close(fo);
	return (rc);
}

/* msg - a multipart/mixed with a text part, then part, in eol */
static void
msg(char *buf, size_t size, const char *eol, const char *part)
{
	snprintf(buf, size, "From: a@example.org%sMIME-Version: 1.0%s"
	    "Content-Type: multipart/mixed; boundary=b%s%s--b%s"
	    "Content-Type: text/plain%s%shi%s--b%s%s%s--b--%s", eol, eol, eol,
	    eol, eol, eol, eol, eol, eol, part, eol, eol);
}

/* t_link - a link part as detach writes it; kept: with X-Detach-Size
 * and the kept fields, else as an older detach did (size= only) */
static void
t_link(char *buf, size_t size, const char *eol, const char *name,
    const char *hex, unsigned long len, int kept)
{
	char	k[512] = "";

	if (kept)
		snprintf(k, sizeof(k), "X-Detach-Size: %lu%s"
		    "X-Detach-Content-Type: application/pdf; name=\"%s\"%s"
		    "X-Detach-Content-Disposition: attachment; "
		    "filename=\"%s\"%s", len, eol, name, eol, name, eol);
	snprintf(buf, size, "Content-Type: text/plain; charset=utf-8; "
	    "size=%lu%sContent-Disposition: inline%s"
	    "Content-Transfer-Encoding: 7bit%sX-Detach-URL: " BASE HEX32
	    "/%s%sX-Detach-SHA256: %s%s%s%sAttachment: %s", len, eol, eol,
	    eol, name, eol, hex, eol, k, eol, name);
}

static char in[1 << 16], out[1 << 16], want[1 << 16], part[1 << 14],
	body[1 << 10];

static void
t_cases(void)
{
	static const char a57[] =
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
	char	hex[65], hex2[65];
	size_t	olen;
	int	rc, i;

	/* RFC 4648 10: "foobar" is "Zm9vYmFy"; CRLF kept */
	put("a.pdf", "foobar", 6);
	sha("foobar", 6, hex);
	t_link(part, sizeof(part), "\r\n", "a.pdf", hex, 6, 1);
	msg(in, sizeof(in), "\r\n", part);
	msg(want, sizeof(want), "\r\n", "Content-Type: application/pdf; "
	    "name=\"a.pdf\"\r\nContent-Disposition: attachment; "
	    "filename=\"a.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n"
	    "Zm9vYmFy");
	rc = run(in, out, sizeof(out), &olen);
	t_ok(rc == 0 && strcmp(out, want) == 0, "restore: kept fields, CRLF, "
	    "\"foobar\" (exit %d)", rc);

	/* 57 bytes fill one 76-character line; 58 need a second (LF) */
	put("b57", a57, 57);
	sha(a57, 57, hex);
	t_link(part, sizeof(part), "\n", "b57", hex, 57, 1);
	msg(in, sizeof(in), "\n", part);
	for (body[0] = 0, i = 0; i < 19; i++)
		strcat(body, "YWFh");
	snprintf(part, sizeof(part), "Content-Type: application/pdf; "
	    "name=\"b57\"\nContent-Disposition: attachment; filename=\"b57\"\n"
	    "Content-Transfer-Encoding: base64\n\n%s", body);
	msg(want, sizeof(want), "\n", part);
	rc = run(in, out, sizeof(out), &olen);
	t_ok(rc == 0 && strcmp(out, want) == 0, "restore: 57 bytes, one line "
	    "of 76, LF (exit %d)", rc);

	put("b58", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	    58);
	sha("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 58,
	    hex);
	t_link(part, sizeof(part), "\n", "b58", hex, 58, 1);
	msg(in, sizeof(in), "\n", part);
	snprintf(part, sizeof(part), "Content-Type: application/pdf; "
	    "name=\"b58\"\nContent-Disposition: attachment; filename=\"b58\"\n"
	    "Content-Transfer-Encoding: base64\n\n%s\nYQ==", body);
	msg(want, sizeof(want), "\n", part);
	rc = run(in, out, sizeof(out), &olen);
	t_ok(rc == 0 && strcmp(out, want) == 0, "restore: 58 bytes, 76 and 4 "
	    "characters (exit %d)", rc);

	/* an older link part: size= only, no kept fields; RFC 4648 "fo" */
	put("r\xc3\xa9.txt", "fo", 2);
	sha("fo", 2, hex2);
	snprintf(part, sizeof(part), "Content-Type: text/plain; size=2\r\n"
	    "X-Detach-URL: " BASE HEX32 "/r%%C3%%A9.txt\r\nX-Detach-SHA256: "
	    "%s\r\n\r\nAttachment: r\xc3\xa9.txt", hex2);
	msg(in, sizeof(in), "\r\n", part);
	msg(want, sizeof(want), "\r\n", "Content-Type: application/octet-"
	    "stream\r\nContent-Disposition: attachment; filename*=UTF-8''"
	    "r%C3%A9.txt\r\nContent-Transfer-Encoding: base64\r\n\r\nZm8=");
	rc = run(in, out, sizeof(out), &olen);
	t_ok(rc == 0 && strcmp(out, want) == 0, "restore: older link part, "
	    "octet-stream, RFC 2231 name, size= (exit %d)", rc);

	/* a link under another base, one inside multipart/signed: as is */
	snprintf(part, sizeof(part), "X-Detach-URL: https://other.example/"
	    HEX32 "/a.pdf\r\nX-Detach-SHA256: %s\r\nX-Detach-Size: 6\r\n"
	    "\r\nx", hex);
	msg(in, sizeof(in), "\r\n", part);
	rc = run(in, out, sizeof(out), &olen);
	t_ok(rc == 0 && strcmp(out, in) == 0, "restore: another base left "
	    "as it is");
	t_link(part, sizeof(part), "\n", "a.pdf", hex, 6, 1);
	snprintf(in, sizeof(in), "Content-Type: multipart/signed; boundary=s"
	    "\n\n--s\nContent-Type: multipart/mixed; boundary=b\n\n--b\n%s\n"
	    "--b--\n\n--s\nContent-Type: application/pgp-signature\n\nsig\n"
	    "--s--\n", part);
	rc = run(in, out, sizeof(out), &olen);
	t_ok(rc == 0 && strcmp(out, in) == 0, "restore: inside "
	    "multipart/signed left as it is");

	/* missing, altered, a key not ours: 65 and not a byte written */
	sha("foobar", 6, hex);
	t_link(part, sizeof(part), "\r\n", "gone.pdf", hex, 6, 1);
	msg(in, sizeof(in), "\r\n", part);
	rc = run(in, out, sizeof(out), &olen);
	t_ok(rc == DETACH_EX_DATAERR && olen == 0, "restore: missing object: "
	    "exit 65, nothing written (exit %d, %zu bytes)", rc, olen);
	t_link(part, sizeof(part), "\r\n", "a.pdf", hex, 7, 1);
	msg(in, sizeof(in), "\r\n", part);
	rc = run(in, out, sizeof(out), &olen);
	t_ok(rc == DETACH_EX_DATAERR && olen == 0, "restore: size differs: "
	    "exit 65, nothing written");
	hex[10] = hex[10] == '0' ? '1' : '0';
	t_link(part, sizeof(part), "\r\n", "a.pdf", hex, 6, 1);
	msg(in, sizeof(in), "\r\n", part);
	rc = run(in, out, sizeof(out), &olen);
	t_ok(rc == DETACH_EX_DATAERR && olen == 0, "restore: digest differs: "
	    "exit 65, nothing written");
	snprintf(part, sizeof(part), "X-Detach-URL: " BASE "../../etc/passwd"
	    "\r\nX-Detach-SHA256: %s\r\nX-Detach-Size: 6\r\n\r\nx", hex);
	msg(in, sizeof(in), "\r\n", part);
	rc = run(in, out, sizeof(out), &olen);
	t_ok(rc == DETACH_EX_DATAERR && olen == 0, "restore: a key not of "
	    "detach's making: exit 65, nothing written");
}

int
main(void)
{
	char	cmd[600];

	t_seed_init();
	if (mkdtemp(tmpdir) == 0)
		return (1);
	cfg_defaults(&cfg);
	snprintf(cfg.store, sizeof(cfg.store), "dir:%s/store", tmpdir);
	snprintf(cfg.spool_dir, sizeof(cfg.spool_dir), "%s", tmpdir);
	snprintf(cfg.link_base, sizeof(cfg.link_base), BASE);
	cfg.secret_set = 1;
	snprintf(cmd, sizeof(cmd), "%s/store", tmpdir);
	mkdir(cmd, 0755);
	t_cases();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	if (system(cmd) != 0)
		t_ok(0, "cleanup");
	return (t_failed != 0);
}
