#!/bin/bash
# pipe.sh - pipe-mode throughput against base64 -d | sha256sum
#
# Makes a message carrying one attachment of SIZE_MB (default 100) random
# megabytes (10^6 bytes) as base64 in 76-column CRLF lines, then times, in
# the same run and in alternation, ROUNDS times each (default 3):
#   detach -p		pipe mode on the message: spool, scan, decode,
#			SHA-256, store into a fresh dir store, write the
#			rewritten message
#   reference		base64 -d | sha256sum over the attachment's base64
#			text alone, LF lines (the least any detacher must do)
#   disk ceiling	dd writing the decoded size to a file in the store's
#			file system with conv=fsync: the disk's part of what
#			detach -p must do (the object is stored durably before
#			a link to it leaves), timed over the message's size
#   hash ceiling	openssl dgst -sha256 over the decoded bytes: the
#			SHA-256 every detacher computes, at the speed of
#			OpenSSL's code for this CPU, timed over the message's
#			size; no single-threaded detach -p can beat it
# With --shm the spool and the store are in a tmpfs (/dev/shm): no disk,
# so what is left is the CPU's part and the kernel's copies.
# With --qp the attachment is text instead (printable ASCII with one byte
# in ten above 127, no line breaks) as quoted-printable in soft-broken
# 76-column lines, and the reference is Perl's MIME::QuotedPrint (C)
# decoding it line by line into sha256sum.
# and prints the best MB/s of each over its own input, the ratio
# (detach / reference), and detach's peak RSS from /usr/bin/time -v.
# The output is checked: one link part whose X-Detach-SHA256 is the
# sha256sum of the random bytes.
#
# Usage: bench/pipe.sh [--record] [--qp] [--shm] [SIZE_MB [ROUNDS]]
#	DETACH=path runs another build than ./detach.
#	--record appends the figures, with date, machine and commit, to
#	bench/RESULTS.md.

cd "$(dirname "$0")/.." || exit 1
record=0
enc=base64
shm=0
while :; do
	case "${1:-}" in
	--record) record=1; shift ;;
	--qp) enc=qp; shift ;;
	--shm) shm=1; shift ;;
	*) break ;;
	esac
done
SIZE_MB=${1:-100}
ROUNDS=${2:-3}
for tool in base64 sha256sum openssl /usr/bin/time awk; do
	command -v "$tool" >/dev/null ||
	    { echo "pipe.sh: $tool missing" >&2; exit 1; }
done
DETACH=${DETACH:-./detach}
[ -x "$DETACH" ] || { echo "pipe.sh: build ./detach first" >&2; exit 1; }

T=$(mktemp -d /tmp/detach-pipe-bench.XXXXXX)
W=$T
if [ "$shm" -eq 1 ]; then
	W=$(mktemp -d /dev/shm/detach-pipe-bench.XXXXXX) ||
	    { echo "pipe.sh: no /dev/shm" >&2; exit 1; }
fi
trap 'rm -rf "$T" "$W"' EXIT
trap 'exit 1' INT TERM
mkdir -p "$W/spool"

# The message: headers, a short text part, the attachment, the close.
if [ "$enc" = base64 ]; then
	head -c "$((SIZE_MB * 1000000))" /dev/urandom >"$T/raw"
	base64 -w 76 <"$T/raw" >"$T/att.b64"
	reference() { base64 -d <"$T/att.b64" | sha256sum | cut -d' ' -f1; }
	refname="base64 -d | sha256sum"
else
	python3 - "$T/raw" "$T/att.b64" "$SIZE_MB" <<'PY'
import binascii, os, sys
raw, enc, mb = sys.argv[1], sys.argv[2], int(sys.argv[3])
# printable ASCII but '=', one byte in ten above 127
table = bytes(0x80 + (c & 0x7f) if c % 10 == 0 else
              (0x21 + c % 94 if 0x21 + c % 94 != 0x3d else 0x41)
              for c in range(256))
with open(raw, "wb") as r, open(enc, "wb") as e:
    for _ in range(mb):
        t = os.urandom(1000000).translate(table)
        r.write(t)
        e.write(binascii.b2a_qp(t))
        e.write(b"=\n")
PY
	reference() { perl -MMIME::QuotedPrint -ne 'print decode_qp($_)' \
	    <"$T/att.b64" | sha256sum | cut -d' ' -f1; }
	refname="MIME::QuotedPrint | sha256sum"
fi
want=$(sha256sum <"$T/raw" | cut -d' ' -f1)
{
	printf 'From: a@example.org\r\nTo: b@example.org\r\n'
	printf 'Subject: pipe benchmark\r\nMIME-Version: 1.0\r\n'
	printf 'Content-Type: multipart/mixed; boundary="bench-1"\r\n\r\n'
	printf -- '--bench-1\r\nContent-Type: text/plain\r\n\r\nHello.\r\n'
	printf -- '--bench-1\r\nContent-Type: application/octet-stream;'
	printf ' name="bench.bin"\r\n'
	printf 'Content-Disposition: attachment; filename="bench.bin"\r\n'
	printf 'Content-Transfer-Encoding: %s\r\n\r\n' \
	    "$([ "$enc" = qp ] && echo quoted-printable || echo base64)"
	sed 's/$/\r/' "$T/att.b64"
	printf -- '--bench-1--\r\n'
} >"$T/msg.eml"
msg_bytes=$(wc -c <"$T/msg.eml")
att_bytes=$(wc -c <"$T/att.b64")

now() {
	date +%s.%N
}

# elapsed T0 T1 - seconds between two times of now()
elapsed() {
	awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'
}

# lesser X BEST - the smaller of two times; BEST empty at first
lesser() {
	awk -v x="$1" -v y="$2" 'BEGIN { print (y == "" || x < y) ? x : y }'
}

best_d=""
best_r=""
best_c=""
best_h=""
rss=0
for i in $(seq "$ROUNDS"); do
	rm -rf "$W/store"
	mkdir "$W/store"
	cat >"$T/detach.conf" <<CONF
store = dir:$W/store
link_base = https://files.example.org/a/
min_size = 100k
secret = 00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff
on_store_failure = tempfail
spool_dir = $W/spool
CONF
	t0=$(now)
	/usr/bin/time -v -o "$T/time.txt" "$DETACH" -p -c "$T/detach.conf" \
	    <"$T/msg.eml" >"$T/out.eml"
	st=$?
	t1=$(now)
	if [ "$st" -ne 0 ]; then
		echo "pipe.sh: detach -p exited $st" >&2
		exit 1
	fi
	got=$(sed -n 's/^X-Detach-SHA256: *\([0-9a-f]*\).*/\1/p' "$T/out.eml")
	if [ "$got" != "$want" ]; then
		echo "pipe.sh: X-Detach-SHA256 '$got', expected $want" >&2
		exit 1
	fi
	r=$(awk '/Maximum resident set size/ { print $NF }' "$T/time.txt")
	[ "$r" -gt "$rss" ] && rss=$r
	d=$(elapsed "$t0" "$t1")

	t0=$(now)
	ref=$(reference)
	t1=$(now)
	if [ "$ref" != "$want" ]; then
		echo "pipe.sh: reference digest differs" >&2
		exit 1
	fi
	r=$(elapsed "$t0" "$t1")
	echo "round $i: detach -p ${d}s, $refname ${r}s"
	best_d=$(lesser "$d" "$best_d")
	t0=$(now)
	dd if=/dev/zero of="$W/store/ceiling" bs=1M \
	    count="$((SIZE_MB * 1000000 / 1048576))" conv=fsync 2>/dev/null
	t1=$(now)
	rm -f "$W/store/ceiling"
	c=$(elapsed "$t0" "$t1")
	echo "round $i: disk ceiling (write and fsync) ${c}s"
	best_c=$(lesser "$c" "$best_c")
	t0=$(now)
	h=$(openssl dgst -sha256 -r "$T/raw" | cut -d' ' -f1)
	t1=$(now)
	if [ "$h" != "$want" ]; then
		echo "pipe.sh: openssl digest differs" >&2
		exit 1
	fi
	c=$(elapsed "$t0" "$t1")
	echo "round $i: hash ceiling (openssl dgst -sha256) ${c}s"
	best_h=$(lesser "$c" "$best_h")
	best_r=$(lesser "$r" "$best_r")
done

mbs_d=$(awk -v n="$msg_bytes" -v t="$best_d" \
    'BEGIN { printf "%.0f", n / 1e6 / t }')
mbs_r=$(awk -v n="$att_bytes" -v t="$best_r" \
    'BEGIN { printf "%.0f", n / 1e6 / t }')
mbs_c=$(awk -v n="$msg_bytes" -v t="$best_c" \
    'BEGIN { printf "%.0f", n / 1e6 / t }')
mbs_h=$(awk -v n="$msg_bytes" -v t="$best_h" \
    'BEGIN { printf "%.0f", n / 1e6 / t }')
where=disk
[ "$shm" -eq 1 ] && where=tmpfs
ratio=$(awk -v a="$mbs_d" -v b="$mbs_r" 'BEGIN { printf "%.2f", a / b }')
rss_mib=$(awk -v k="$rss" 'BEGIN { printf "%.1f", k / 1024 }')
echo "attachment ${SIZE_MB} MB $enc, message $msg_bytes bytes, best of $ROUNDS"
echo "spool and store on:        $where ($(df --output=fstype "$W" | tail -1))"
echo "detach -p:                 $mbs_d MB/s of input"
printf '%-27s%s MB/s of input\n' "$refname:" "$mbs_r"
echo "ratio:                     ${ratio}x"
echo "disk ceiling (dd, fsync):  $mbs_c MB/s of the message's size"
echo "hash ceiling (openssl):    $mbs_h MB/s of the message's size"
echo "detach peak RSS:           $rss KiB ($rss_mib MiB)"

if [ "$record" -eq 1 ]; then
	cpu=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)
	[ -n "$cpu" ] || cpu=unknown
	load=$(cut -d' ' -f1 /proc/loadavg)
	row="| $(date -u +%Y-%m-%d) | $(uname -m), $(nproc) cores, $cpu;"
	row="$row load $load |"
	row="$row $(git rev-parse --short HEAD 2>/dev/null || echo -) |"
	row="$row $SIZE_MB MB $enc | $where | $mbs_d | $mbs_r | ${ratio}x |"
	row="$row $mbs_c | $mbs_h | $rss_mib MiB |"
	f=bench/RESULTS.md
	[ -f "$f" ] || printf '# Benchmarks\n' >"$f"
	if ! grep -q '^## Pipe mode and its ceilings' "$f"; then
		cat >>"$f" <<'HEAD'

## Pipe mode and its ceilings (bench/pipe.sh)

`bench/pipe.sh --record [--shm] [--qp]`: one message with a 100 MB
attachment (CRLF lines), `detach -p` against the reference pipeline over
the same attachment (`base64 -d | sha256sum`, or Perl's
MIME::QuotedPrint for `--qp`), best of 3 each, in alternation; MB/s of
each one's input (10^6 bytes). Two ceilings measured in the same rounds,
over the message's size: the disk (dd writing the decoded size into the
store's file system with conv=fsync) and the hash (`openssl dgst
-sha256` over the decoded bytes: OpenSSL's SHA-256 for this CPU). With
`--shm` the spool and the store are in a tmpfs, which takes the disk out.
The load average is the machine's when the row was recorded.

| date | machine | commit | attachment | spool, store | detach -p MB/s | reference MB/s | ratio | disk ceiling MB/s | hash ceiling MB/s | peak RSS |
|---|---|---|---|---|---|---|---|---|---|---|
HEAD
	fi
	# Insert the row after the last table line of the pipe section.
	awk -v row="$row" '
		/^## / { if (insec && !done) { print row; done = 1 }
		    insec = ($0 ~ /^## Pipe mode and its ceilings/) }
		{ if (insec && !done && last_table && $0 !~ /^\|/) {
			print row; done = 1 }
		  print
		  last_table = insec && ($0 ~ /^\|/) }
		END { if (!done) print row }' "$f" >"$T/results" &&
	    cat "$T/results" >"$f"
	echo "recorded in $f"
fi
