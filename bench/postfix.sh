#!/bin/bash
# postfix.sh - detach through a real Postfix: messages/s and MiB/s
#
# For a plain 4 KB message, a 1 MiB and a 10 MiB attachment, at
# concurrency 4 (smtp-source -s 4), in the same run:
#	direct		client -> smtpd -> queue
#	null proxy	client -> smtpd -> smtpd -> queue: the front smtpd's
#			smtpd_proxy_filter pointed straight at the
#			after-filter smtpd, a filter that costs nothing
#	proxsmtp	client -> smtpd -> proxsmtpd (pass-through) -> smtpd -> queue
#	detach		client -> smtpd -> detach -> smtpd -> queue
# and then over UNIX-domain sockets (the README's unix form: the front
# smtpd's smtpd_proxy_filter=unix:private/..., the after-filter smtpd a
# master.cf unix service):
#	null proxy/unix	client -> smtpd -> unix -> smtpd -> queue
#	detach/unix	client -> smtpd -> unix -> detach -> unix -> smtpd
#			-> queue (a second detach, listen and forward unix:)
# These two run in alternation, twice each, and the better of each pair
# counts: the goal's ratio is theirs, and on a shared machine a burst
# of someone else's work should not land on one side only.
# The rate is of messages accepted (the client's 250 at the dot);
# delivery is by discard(8) so the disk does not fill. Then detach's
# peak RSS (VmHWM) and its RSS with 1000 idle sessions held open.
# Usage: bench/postfix.sh [--quick]  (run as root from the top directory)
# PROFILE=N: then record a CPU profile (perf record -a -g) while N plain
# messages go through detach over unix sockets, and print perf report
# by process and by process and object.

cd "$(dirname "$0")/.." || exit 1
. tests/peers/postfix.sh
DETACH=${DETACH:-./detach}
quick=${1:-}
for tool in postfix smtp-source smtp-sink proxsmtpd python3; do
	command -v "$tool" >/dev/null || { echo "$tool is not installed"; exit 1; }
done
[ -x "$DETACH" ] || { echo "build ./detach first"; exit 1; }

T=$(mktemp -d /tmp/detach-bench.XXXXXX)
chmod 755 "$T"
pids=
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null; done
	pf_stop
	[ -n "${KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT

pf_init "$T/pf"
# Both fronts without speed_adjust: the second one feeds proxsmtpd.
sed -i -e '/smtpd_proxy_options=speed_adjust/d' "$PF/etc/master.cf"
# A third front whose filter is the after-filter smtpd itself.
PF_NULL=$((PF_FILTER + 7))
pf_block inbound | sed -e "1s/^smtp      inet/127.0.0.1:$PF_NULL inet/" \
    -e "s/127.0.0.1:10025/127.0.0.1:$PF_AFTER/" >>"$PF/etc/master.cf"
# The same over unix: a front whose filter is the detach-in service.
PF_UNULL=$((PF_FILTER + 8))
pf_block inbound-unix | sed -e "1s/^smtp      inet/127.0.0.1:$PF_UNULL inet/" \
    -e "s|unix:private/detach|unix:private/detach-in|" >>"$PF/etc/master.cf"
cat >>"$PF/etc/main.cf" <<EOF
virtual_transport = discard
EOF
pf_start || exit 1

mkdir -p "$T/store" "$T/dspool"
chown nobody: "$T/store" "$T/dspool"
cat >"$T/detach.conf" <<EOF
store = dir:$T/store
link_base = https://files.example.test/a/
secret = 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f
spool_dir = $T/dspool
listen = 127.0.0.1:$PF_FILTER
forward = 127.0.0.1:$PF_AFTER
max_sessions = 1100
user = nobody
EOF
sed -e "s|^listen = .*|listen = unix:$PF/spool/private/detach|" \
    -e "s|^forward = .*|forward = unix:$PF/spool/private/detach-in|" \
    "$T/detach.conf" >"$T/detach-unix.conf"
echo "listen_group = postfix" >>"$T/detach-unix.conf"
ulimit -n 8192
"$DETACH" -c "$T/detach.conf" 2>"$T/detach.log" &
dpid=$!
pids="$pids $dpid"
"$DETACH" -c "$T/detach-unix.conf" 2>"$T/detach-unix.log" &
upid=$!
pids="$pids $upid"
cat >"$T/proxsmtpd.conf" <<EOF
Listen: 127.0.0.1:$PF_FILTER2
OutAddress: 127.0.0.1:$PF_AFTER
MaxConnections: 64
TimeOut: 180
User: nobody
EOF
proxsmtpd -f "$T/proxsmtpd.conf" -d 0 2>"$T/proxsmtpd.log" &
pids="$pids $!"
pf_wait_port "$PF_FILTER" && pf_wait_port "$PF_FILTER2" || exit 1
i=0; while [ ! -S "$PF/spool/private/detach" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done

# Messages for smtp-source -F: LF lines, it adds the CRs.
mkmsg() {	# mkmsg OUT BYTES-OF-ATTACHMENT (0: plain 4 KB)
	python3 - "$@" <<'EOF'
import base64, os, sys
out, n = sys.argv[1], int(sys.argv[2])
h = ("From: <a@example.org>\nTo: <bob@example.test>\nSubject: bench\n"
     "Message-ID: <bench@example.org>\nMIME-Version: 1.0\n")
if n == 0:
    line = "The quick brown fox jumps over the lazy dog, again and again.\n"
    body = line * (4096 // len(line))
    m = h + "Content-Type: text/plain\n\n" + body
else:
    b64 = base64.encodebytes(os.urandom(n)).decode()
    m = (h + 'Content-Type: multipart/mixed; boundary="b1"\n\n--b1\n'
         "Content-Type: text/plain\n\nSee the attachment.\n\n--b1\n"
         "Content-Type: application/octet-stream\n"
         'Content-Disposition: attachment; filename="data.bin"\n'
         "Content-Transfer-Encoding: base64\n\n" + b64 + "--b1--\n")
open(out, "w").write(m)
EOF
}

run() {	# run PORT FILE COUNT: prints msgs/s MiB/s
	local t0 t1 size
	size=$(stat -c %s "$2")
	t0=$(date +%s.%N)
	smtp-source -s 4 -m "$3" -F "$2" -f a@example.org -t bob@example.test \
	    127.0.0.1:"$1" || echo "smtp-source failed" >&2
	t1=$(date +%s.%N)
	awk -v n="$3" -v s="$size" -v a="$t0" -v b="$t1" 'BEGIN {
	    d = b - a; printf "%8.1f msg/s %8.1f MiB/s", n / d, n * s / d / 1048576 }'
}

best() {	# best A B: the run with more messages per second
	echo "$1 $2" | awk '{ if ($5 > $1) print $5, $6, $7, $8; else print $1, $2, $3, $4 }' |
	    awk '{ printf "%8.1f msg/s %8.1f MiB/s", $1, $3 }'
}

if [ "$quick" = --quick ]; then counts="100 10 4"; else counts="2000 60 12"; fi
set -- $counts
mkmsg "$T/plain.eml" 0
mkmsg "$T/att1m.eml" 1048576
mkmsg "$T/att10m.eml" 10485760
echo "# $(date -u +%Y-%m-%dT%H:%MZ) $(uname -m) $(nproc) cores, Postfix $(postconf -d -h mail_version), concurrency 4"
printf '%-14s %-26s %-26s %-26s %-26s %s\n' message direct "null proxy" \
    proxsmtp detach "detach/direct detach/null" >"$T/tcp.txt"
printf '%-14s %-26s %-26s %s\n' message "null proxy/unix" "detach/unix" \
    "detach/null (unix)" >"$T/unix.txt"
for spec in "plain-4KB plain.eml $1" "attach-1MiB att1m.eml $2" "attach-10MiB att10m.eml $3"; do
	set -- $spec
	d=$(run "$PF_DIRECT" "$T/$2" "$3")
	z=$(run "$PF_NULL" "$T/$2" "$3")
	p=$(run "$PF_FRONT2" "$T/$2" "$3")
	x=$(run "$PF_FRONT" "$T/$2" "$3")
	zu=$(run "$PF_UNULL" "$T/$2" "$3")
	xu=$(run "$PF_UFRONT" "$T/$2" "$3")
	zu=$(best "$zu" "$(run "$PF_UNULL" "$T/$2" "$3")")
	xu=$(best "$xu" "$(run "$PF_UFRONT" "$T/$2" "$3")")
	r=$(echo "$d $z $x" | awk '{ printf "%.2fx %.2fx", $9 / $1, $9 / $5 }')
	printf '%-14s %-26s %-26s %-26s %-26s %s\n' "$1" "$d" "$z" "$p" "$x" "$r" >>"$T/tcp.txt"
	r=$(echo "$zu $xu" | awk '{ printf "%.2fx", $5 / $1 }')
	printf '%-14s %-26s %-26s %s\n' "$1" "$zu" "$xu" "$r" >>"$T/unix.txt"
	set -- $counts
done
cat "$T/tcp.txt"
echo "over UNIX-domain sockets:"
cat "$T/unix.txt"
if [ -n "${PROFILE:-}" ]; then
	perf record -a -g -o "$T/perf.data" -- smtp-source -s 4 -m "$PROFILE" \
	    -F "$T/plain.eml" -f a@example.org -t bob@example.test \
	    127.0.0.1:"$PF_UFRONT" 2>"$T/perf.log" || cat "$T/perf.log"
	# The machine may be shared: every process is in the first two
	# reports; the last is this detach's own, by object and symbol.
	echo "CPU profile, $PROFILE plain messages through detach over unix:"
	perf report -i "$T/perf.data" --no-children -g none --sort comm \
	    --stdio 2>/dev/null | grep -E '^ +[0-9]' | head -16
	echo "by process and object:"
	perf report -i "$T/perf.data" --no-children -g none --sort comm,dso \
	    --stdio 2>/dev/null | grep -E '^ +[0-9]' | head -16
	echo "detach (pid $upid) alone, by object and symbol:"
	perf report -i "$T/perf.data" --no-children -g none --pid "$upid" \
	    --sort dso,sym --stdio 2>/dev/null | grep -E '^ +[0-9]' | head -25
fi
echo "detach peak RSS: $(awk '/VmHWM/ { print $2, $3 }' /proc/$dpid/status)"

# 1000 idle sessions: detach in front of a greeter that holds many
# connections in one process (smtp-sink stopped at 512 here).
SINK=$((PF_FILTER + 6))
python3 - "$SINK" <<'EOF' &
import selectors, socket, sys
sel = selectors.DefaultSelector()
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", int(sys.argv[1])))
ls.listen(2048)
sel.register(ls, selectors.EVENT_READ)
held = []
while True:
    for key, ev in sel.select(timeout=600):
        c, a = ls.accept()
        c.sendall(b"220 sink ESMTP\r\n")
        held.append(c)
EOF
pids="$pids $!"
sed -i -e "s/^forward = .*/forward = 127.0.0.1:$SINK/" "$T/detach.conf"
kill -HUP "$dpid"
pf_wait_port "$SINK"
i=0; while ! grep -q 'reload: new settings' "$T/detach.log" && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
rss0=$(awk '/VmRSS/ { print $2 }' /proc/$dpid/status)
python3 - "$PF_FILTER" "$dpid" <<'EOF'
import socket, sys
port, pid = int(sys.argv[1]), sys.argv[2]
ss = []
for i in range(1000):
    s = socket.create_connection(("127.0.0.1", port))
    ss.append((s, s.makefile("rb")))
greeted = sum(1 for s, f in ss if f.readline().startswith(b"220"))
rss = [l for l in open("/proc/%s/status" % pid) if l.startswith("VmRSS")][0].split()[1]
print("1000 idle sessions: %d greeted, detach RSS %d KiB (%.1f MiB)" % (greeted, int(rss), int(rss) / 1024))
EOF
echo "(RSS before them: $rss0 KiB)"
