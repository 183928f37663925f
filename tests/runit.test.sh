#!/bin/bash
# runit.test.sh - detach under a real runsv, as init/runit/detach says
#
# The service directory is copied into a private directory with only
# the program's and the configuration's paths changed (checked), and
# run by runit's runsv (Debian's runit) with its svlogd log service,
# between a private Postfix's front smtpd and after-filter smtpd
# (tests/peers/postfix.sh). Checked from the outside: sv up starts it
# and mail flows; sv hup rereads a changed min_size (an attachment
# between the old and the new size is detached before, not after);
# sv term lets a message in the middle of DATA finish (250, delivered)
# and runsv starts detach again; after kill -9 runsv starts a new
# detach and mail flows again; svlogd's log holds detach's lines.
# Expectations come from the test's own files and sha256sum. Prints
# ok/FAIL lines.

cd "$(dirname "$0")/.." || exit 1
. tests/peers/postfix.sh

. tests/peers/common.sh

need_tools runit postfix runsv sv svlogd python3 sha256sum
need_root runit
[ -x ./detach ] || { echo "FAIL runit: build ./detach first"; exit 1; }
BIN=/usr/local/sbin/detach	# the paths of init/runit/detach/run
CONF=/etc/detach.conf

RSPID=
stop_all() {
	local p i=0
	if [ -n "$RSPID" ]; then
		sv exit "$SV" >/dev/null 2>&1
		while kill -0 "$RSPID" 2>/dev/null && [ $i -lt 150 ]; do
			sleep 0.1; i=$((i + 1))
		done
		kill "$RSPID" 2>/dev/null
		for p in "$SV/supervise/pid" "$SV/log/supervise/pid"; do
			p=$(cat "$p" 2>/dev/null)
			[ -n "$p" ] && kill "$p" 2>/dev/null
		done
	fi
	pf_stop
}
tmp_dir runit stop_all
chmod 755 "$T"
SV=$T/sv/detach

# until_ok TENTHS CMD... - until CMD succeeds, at most TENTHS/10 s
until_ok() {
	local n=$1 i=0
	shift
	until "$@"; do
		[ $i -ge "$n" ] && return 1
		sleep 0.1; i=$((i + 1))
	done
}
LOG=$SV/log/main/current
logged() { grep -q -- "$1" "$LOG" 2>/dev/null; }
# nlogged TEXT N - TEXT is in the log at least N times
nlogged() { [ "$(grep -c -- "$1" "$LOG" 2>/dev/null)" -ge "$2" ]; }
svpid() { cat "$SV/supervise/pid" 2>/dev/null; }
running() { [ -n "$(svpid)" ] && kill -0 "$(svpid)" 2>/dev/null; }
newpid() { running && [ "$(svpid)" != "$1" ]; }

# The configuration, written in this one place. The directories
# detach writes are open to every user, so that it stays good whatever
# user detach runs as.
conf() {	# conf MIN_SIZE
	cat >"$T/detach.conf" <<EOF
store = dir:$T/store
link_base = https://files.example.test/a/
min_size = $1
secret = 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f
spool_dir = $T/dspool
listen = 127.0.0.1:$PF_FILTER
forward = 127.0.0.1:$PF_AFTER
timeout = 30s
hostname = detach.example.test
user = nobody
EOF
	chmod 644 "$T/detach.conf"
}

# mkmsg OUT [ATTACHMENT_SIZE] - a CRLF message, its attachment random
# bytes in OUT.bin, base64 in the message
mkmsg() {
	[ -n "${2:-}" ] && head -c "$2" /dev/urandom >"$1.bin"
	python3 - "$1" "${2:-}" <<'EOF'
import base64, sys
out, size = sys.argv[1], sys.argv[2]
tag = out.split("/")[-1]
h = ("From: <a@example.org>\r\nTo: <bob@example.test>\r\nSubject: %s\r\n"
     "Date: Wed, 1 Jan 2025 00:00:00 +0000\r\nMessage-ID: <%s@example.org>\r\n"
     "MIME-Version: 1.0\r\n" % (tag, tag))
text = "Hello.\r\n.a leading dot\r\ntoken %s\r\n" % tag
if not size:
    m = h + "Content-Type: text/plain\r\n\r\n" + text
else:
    b64 = base64.encodebytes(open(out + ".bin", "rb").read()).decode()
    m = (h + 'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n--b1\r\n'
         "Content-Type: text/plain\r\n\r\n" + text + "\r\n--b1\r\n"
         "Content-Type: application/octet-stream\r\n"
         'Content-Disposition: attachment; filename="%s.dat"\r\n'
         "Content-Transfer-Encoding: base64\r\n\r\n" % tag
         + b64.replace("\n", "\r\n") + "--b1--\r\n")
open(out, "wb").write(m.encode())
EOF
}

# send PORT RCPT FILE [PAUSED GO] - one SMTP transaction; prints
# "VERB CODE" lines. With PAUSED and GO, it sends half the message
# after 354, creates PAUSED, and sends the rest once GO exists.
cat >"$T/smtpc.py" <<'EOF'
import os, socket, sys, time
port, rcpt, path = int(sys.argv[1]), sys.argv[2], sys.argv[3]
paused, go = (sys.argv[4], sys.argv[5]) if len(sys.argv) > 5 else (None, None)
s = socket.create_connection(("127.0.0.1", port), timeout=120)
f = s.makefile("rb")
def reply():
    while True:
        l = f.readline().decode("latin-1")
        if not l or len(l) < 4 or l[3] != "-":
            return l[:3] if l else "EOF"
def cmd(verb, line):
    s.sendall(line.encode() + b"\r\n")
    code = reply()
    print(verb, code, flush=True)
    return code
print("GREET", reply(), flush=True)
cmd("EHLO", "EHLO client.test")
cmd("MAIL", "MAIL FROM:<a@example.org>")
cmd("RCPT", "RCPT TO:<%s>" % rcpt)
if cmd("DATA", "DATA") == "354":
    body = b"".join(b"." + l if l.startswith(b".") else l
                    for l in open(path, "rb").read().splitlines(True))
    if paused:
        s.sendall(body[:len(body) // 2])
        open(paused, "w").close()
        for i in range(600):
            if os.path.exists(go):
                break
            time.sleep(0.1)
        body = body[len(body) // 2:]
    s.sendall(body + b".\r\n")
    print("DOT", reply(), flush=True)
cmd("QUIT", "QUIT")
EOF
send() { python3 "$T/smtpc.py" "$@"; }

# body_of FILE - a delivered message less the headers Postfix put on top
body_of() {
	awk 'BEGIN { top = 1 }
	    top && /^(Return-Path|X-Original-To|Delivered-To|Received):/ { skip = 1; next }
	    top && skip && /^[ \t]/ { next }
	    { top = 0; skip = 0; print }' "$1"
}
one_file() { ls "$PF/mail/$1/new/"* 2>/dev/null | head -1; }
# detached USER FILE.bin - USER's message carries the link to FILE.bin
detached() {
	local f h
	f=$(one_file "$1")
	h=$(sha256sum <"$2" | cut -d' ' -f1)
	[ -n "$f" ] && grep -qi "^X-Detach-SHA256: $h" "$f" &&
	    [ -n "$(find "$T/store" -type f -name "$(basename "${2%.bin}").dat")" ]
}
# unchanged USER MSG - USER got MSG byte for byte, bar Postfix's headers
unchanged() {
	local f
	f=$(one_file "$1")
	[ -n "$f" ] && tr -d '\r' <"$2" | cmp -s - <(body_of "$f")
}

pf_init "$T/pf"
if ! pf_start; then
	echo "FAIL runit: Postfix did not start"
	exit 1
fi
mkdir -p "$T/store" "$T/dspool" "$T/sv"
chmod 777 "$T/store" "$T/dspool"
chmod 755 "$T/sv"
conf 100k

# The service directory, with the program and the configuration here.
cp -a init/runit/detach "$SV"
sed -i -e "s|$BIN|$PWD/detach|g" -e "s|$CONF|$T/detach.conf|g" "$SV/run"
n=$(diff init/runit/detach/run "$SV/run" | grep -c '^[<>]')
t "service copy: only the exec line changed ($n lines)" \
    eval "[ $n -eq 2 ] && grep -qx 'exec $PWD/detach -c $T/detach.conf' $SV/run"
t "service copy: log/run unchanged" cmp -s init/runit/detach/log/run "$SV/log/run"
t "service copy: nothing else in the directory" \
    eval "[ \"\$(cd $SV && find . | sort | tr '\n' ' ')\" = '. ./log ./log/run ./run ' ]"

# sv up: down at first, then running and serving mail.
touch "$SV/down"
runsv "$SV" >"$T/runsv.out" 2>&1 &
RSPID=$!
until_ok 300 test -p "$SV/supervise/control"
until_ok 300 test -s "$SV/log/supervise/pid"
t "runsv: the down service is not started" eval "sv status $SV | grep -q '^down: '"
sv up "$SV" >/dev/null
t "sv up: detach runs" until_ok 300 running
PID1=$(svpid)
t "sv up: detach listens" pf_wait_port "$PF_FILTER"
t "sv up: sv status says run" eval "sv status $SV | grep -q '^run: .*(pid $PID1)'"

mkmsg "$T/m150" 150000
send "$PF_FRONT" u1@example.test "$T/m150" >"$T/out1"
t "sv up: 250 at the dot" grep -q '^DOT 250' "$T/out1"
t "sv up: delivered" pf_wait_count u1 1
t "sv up: the 150 KB attachment is detached (min_size 100k)" detached u1 "$T/m150.bin"

# sv hup: a min_size of 200k leaves a 150 KB attachment in place.
conf 200k
sv hup "$SV" >/dev/null
t "sv hup: the reload is logged" until_ok 300 logged "reload: new settings"
t "sv hup: same process" [ "$(svpid)" = "$PID1" ]
mkmsg "$T/n150" 150000
send "$PF_FRONT" u2@example.test "$T/n150" >"$T/out2"
t "sv hup: delivered" pf_wait_count u2 1
t "sv hup: a 150 KB attachment now stays (min_size 200k)" unchanged u2 "$T/n150"
mkmsg "$T/m300" 300000
send "$PF_FRONT" u3@example.test "$T/m300" >"$T/out3"
t "sv hup: a 300 KB attachment is still detached" \
    eval "pf_wait_count u3 1 && detached u3 $T/m300.bin"

# sv term: the message in flight finishes, then runsv starts detach again.
mkmsg "$T/m400" 400000
send "$PF_FRONT" u4@example.test "$T/m400" "$T/paused" "$T/go" >"$T/out4" &
CPID=$!
t "sv term: a client is in the middle of DATA" \
    eval "until_ok 300 test -e $T/paused && grep -q '^DATA 354' $T/out4"
sv term "$SV" >/dev/null
t "sv term: detach is stopping with the session in flight" \
    until_ok 300 logged "stopping: 1 sessions in flight"
t "sv term: ... and still runs" [ "$(svpid)" = "$PID1" ]
touch "$T/go"
wait "$CPID"
t "sv term: the client gets 250 at the dot" grep -q '^DOT 250' "$T/out4"
t "sv term: the message is delivered, attachment detached" \
    eval "pf_wait_count u4 1 && detached u4 $T/m400.bin"
t "sv term: detach stopped" until_ok 300 logged "stopped"
t "sv term: runsv starts a new detach" until_ok 300 newpid "$PID1"
PID2=$(svpid)

# kill -9: runsv starts a new detach, and mail flows again.
pf_wait_port "$PF_FILTER"
kill -9 "$PID2"
t "kill -9: runsv starts a new detach" until_ok 300 newpid "$PID2"
t "kill -9: the new detach listens" pf_wait_port "$PF_FILTER"
mkmsg "$T/m250" 250000
send "$PF_FRONT" u5@example.test "$T/m250" >"$T/out5"
t "kill -9: 250 at the dot" grep -q '^DOT 250' "$T/out5"
t "kill -9: delivered, attachment detached" \
    eval "pf_wait_count u5 1 && detached u5 $T/m250.bin"

# svlogd's log: timestamped lines of detach, from every process.
ts='^[0-9]\{4\}-[0-9][0-9]-[0-9][0-9]_[0-9:.]* detach\['
t "svlogd: timestamped 'listening on' lines of all three" \
    nlogged "${ts}[0-9]*\]: listening on 127.0.0.1:$PF_FILTER" 3
t "svlogd: one line per message" nlogged "${ts}[0-9]*\]: .*from=<a@example.org> .* detached=" 5
t "svlogd: lines of $PID1 and $(svpid)" \
    eval "logged 'detach\[$PID1\]' && logged 'detach\[$(svpid)\]'"

if [ "$fails" -ne 0 ]; then
	echo "# svlogd log:"; tail -30 "$LOG" 2>/dev/null | sed 's/^/# /'
	echo "# runsv:"; sed 's/^/# /' "$T/runsv.out"
	echo "# maillog:"; tail -20 "$PF/maillog" | sed 's/^/# /'
fi
finish runit
