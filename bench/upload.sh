#!/bin/bash
# upload.sh - upload throughput over https: detach against curl -T
#
# A private nginx (tests/peers/nginx.sh) with a test CA on loopback. One
# object of SIZE_MB (default 100) random bytes is uploaded, in the same
# run and in alternation, ROUNDS times each (default 3):
#   curl		curl -T of the object's bytes
#   detach -p		pipe mode on a message carrying the object as a
#			base64 attachment: spool, decode, SHA-256, HEAD, PUT
#   uploader		http_upload_wait() alone on the decoded spool file
#			(a small driver built here against http.c)
# and prints the median MB/s of each, the ratios to curl, and detach's peak
# RSS from /usr/bin/time -v. Wall-clock time of detach -p includes reading,
# spooling and decoding the 137 MB message; the last line compares the
# PUTs alone as nginx's $request_time measured them. KEEP=1 keeps the
# temporary directory (nginx logs in ng/logs/). Usage: bench/upload.sh [SIZE_MB [ROUNDS]]

cd "$(dirname "$0")/.." || exit 1
. tests/peers/nginx.sh

SIZE_MB=${1:-100}
ROUNDS=${2:-3}
for tool in nginx openssl curl python3 /usr/bin/time; do
	command -v "$tool" >/dev/null || { echo "upload.sh: $tool missing"; exit 1; }
done
[ -x ./detach ] || { echo "upload.sh: build ./detach first"; exit 1; }

T=$(mktemp -d /tmp/detach-bench.XXXXXX)
trap 'nginx_stop; [ -n "$KEEP" ] || rm -rf "$T"' EXIT
trap 'exit 1' INT TERM
HP=$(free_port); SP=$(free_port)
mkdir -p "$T/ng/pki" "$T/spool"
pki_make "$T/ng/pki" || { echo "upload.sh: openssl failed"; exit 1; }
nginx_start "$T/ng" "$HP" "$SP" "$(free_port)" "$(free_port)" ||
    { echo "upload.sh: nginx did not start"; exit 1; }
CA=$T/ng/pki/ca.crt

head -c "${SIZE_MB}M" /dev/urandom >"$T/obj.bin"
python3 - "$T" <<'EOF'
import email.message, os, sys
d = sys.argv[1]
m = email.message.EmailMessage()
m["From"] = "a@example.org"
m["To"] = "b@example.org"
m["Subject"] = "bench"
m.set_content("big one\n")
m.add_attachment(open(os.path.join(d, "obj.bin"), "rb").read(),
    maintype="application", subtype="octet-stream", filename="obj.bin")
open(os.path.join(d, "msg.eml"), "wb").write(bytes(m))
EOF
cat >"$T/detach.conf" <<EOF
store = https://localhost:$SP/bench/
link_base = https://files.example.org/
min_size = 1k
secret = $(openssl rand -hex 32)
spool_dir = $T/spool
tls_ca_file = $CA
upload_timeout = 600s
on_store_failure = tempfail
EOF

# the uploader alone: http_upload_wait() on the object's file
cat >"$T/put.c" <<'EOF'
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bearssl.h>
#include "detach.h"

int
main(int argc, char **argv)
{
	struct http_conf c;
	struct http_object o;
	struct http_store *st;
	br_sha256_context h;
	unsigned char buf[65536];
	char why[512];
	struct timespec a, b;
	ssize_t n;
	int fd;

	if (argc != 4 || (fd = open(argv[3], O_RDONLY)) < 0)
		return (2);
	memset(&c, 0, sizeof(c));
	c.store = argv[1];
	c.tls_ca_file = argv[2];
	c.upload_timeout_ms = 600000;
	memset(&o, 0, sizeof(o));
	br_sha256_init(&h);
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		br_sha256_update(&h, buf, (size_t)n);
		o.size += (uint64_t)n;
	}
	br_sha256_out(&h, o.sha256);
	o.fd = fd;
	o.key = "0123456789abcdef0123456789abcdef/obj.bin";
	o.type = "application/octet-stream";
	o.name = "obj.bin";
	if ((st = http_store_new(&c, why, sizeof(why))) == 0) {
		fprintf(stderr, "%s\n", why);
		return (1);
	}
	clock_gettime(CLOCK_MONOTONIC, &a);
	if (http_upload_wait(st, &o, why, sizeof(why)) < 0) {
		fprintf(stderr, "%s\n", why);
		return (1);
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("%.3f\n", (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9);
	http_store_free(st);
	return (0);
}
EOF
cc -O2 -std=c11 -D_GNU_SOURCE -DDETACH_NO_MAIN -I. -I/usr/include/bearssl \
    -o "$T/put" "$T/put.c" $(make -s -f Makefile print-srcs) \
    -Wl,-Bstatic -lbearssl -Wl,-Bdynamic || { echo "upload.sh: driver build failed"; exit 1; }

# date(1), not a python start-up, between the marks: ~1 ms, not ~30 ms
now() { date +%s.%N; }
mbs() { python3 -c "import sys; print('%.1f' % ($SIZE_MB / float(sys.argv[1])))" "$1"; }
med() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

curl_t=() detach_t=() put_t=()
for r in $(seq 1 "$ROUNDS"); do
	rm -rf "$T/ng/www/curl" "$T/ng/www/bench" "$T/ng/www/put"
	a=$(now)
	curl -s --fail --cacert "$CA" -T "$T/obj.bin" \
	    "https://localhost:$SP/curl/obj.bin" -o /dev/null ||
	    { echo "upload.sh: curl failed"; exit 1; }
	b=$(now)
	curl_t+=("$(python3 -c "print($b - $a)")")

	a=$(now)
	/usr/bin/time -v ./detach -p -c "$T/detach.conf" <"$T/msg.eml" \
	    >"$T/out.eml" 2>"$T/time.txt" ||
	    { echo "upload.sh: detach failed"; cat "$T/time.txt"; exit 1; }
	b=$(now)
	detach_t+=("$(python3 -c "print($b - $a)")")
	rss=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$T/time.txt")
	stored=$(find "$T/ng/www/bench" -type f | head -1)
	cmp -s "$stored" "$T/obj.bin" || { echo "upload.sh: detach stored other bytes"; exit 1; }

	put_t+=("$("$T/put" "https://localhost:$SP/put/" "$CA" "$T/obj.bin")") ||
	    { echo "upload.sh: uploader failed"; exit 1; }
	echo "round $r: curl $(mbs "${curl_t[-1]}") MB/s, detach -p $(mbs "${detach_t[-1]}") MB/s (peak RSS ${rss} kB), uploader $(mbs "${put_t[-1]}") MB/s"
done
# nginx's own clock for the PUTs: first request byte to the response
rt() { med $(awk -v u="$1" '$1 == "PUT" && index($2, u) == 1 && $3 ~ /^20/ { print $5 }' "$T/ng/logs/timed.log"); }
c=$(med "${curl_t[@]}"); d=$(med "${detach_t[@]}"); p=$(med "${put_t[@]}")
nc=$(rt /curl/); nd=$(rt /bench/); np=$(rt /put/)
echo "median of $ROUNDS, $SIZE_MB MB over https to nginx on loopback:"
echo "  curl -T    $(mbs "$c") MB/s"
echo "  detach -p  $(mbs "$d") MB/s  ($(python3 -c "print('%.2f' % ($c / $d))")x curl), peak RSS ${rss} kB"
echo "  uploader   $(mbs "$p") MB/s  ($(python3 -c "print('%.2f' % ($c / $p))")x curl)"
echo "  PUT as nginx timed it (request_time, median): curl $(mbs "$nc") MB/s," \
    "detach -p $(mbs "$nd") MB/s ($(python3 -c "print('%.2f' % ($nc / $nd))")x curl)," \
    "uploader $(mbs "$np") MB/s"
