#!/bin/bash
# proxy_unix.test.sh - detach between Postfix's smtpds on UNIX-domain sockets
#
# A private Postfix (tests/peers/postfix.sh) wired with the README's
# unix form: client -> front smtpd (chrooted) -> unix:private/detach
# -> detach -> unix:private/detach-in -> after-filter smtpd -> queue ->
# virtual(8) maildirs. Expectations come from the messages the test
# builds, Python's smtplib and email packages, sha256sum and stat(1),
# never from detach's own output. Then the socket file's life: mode
# and group, a stale file replaced, a live one refused, a file that is
# not a socket left alone, removal at SIGTERM and on reload, and a
# forward socket whose backlog is full. Prints ok/FAIL lines.

cd "$(dirname "$0")/.." || exit 1
. tests/peers/postfix.sh

. tests/peers/common.sh

need_tools proxy_unix postfix python3 sha256sum stat
need_root proxy_unix
need_detach proxy_unix

DPID=
HPID=
stop_all() {
	[ -n "$DPID" ] && kill "$DPID" 2>/dev/null
	[ -n "$HPID" ] && kill "$HPID" 2>/dev/null
	pf_stop
}
tmp_dir proxy_unix stop_all
chmod 755 "$T"

pf_init "$T/pf"
if ! pf_start; then
	echo "FAIL proxy_unix: Postfix did not start"
	exit 1
fi
SOCK=$PF/spool/private/detach
AFTER=$PF/spool/private/detach-in
mkdir -p "$T/store" "$T/dspool"
chown postfix: "$T/store" "$T/dspool"
# Reloads bind new socket files in $T as that user.
chown postfix "$T"

conf() {	# conf LISTEN [EXTRA-LINE...]
	cat >"$T/detach.conf" <<EOF
store = dir:$T/store
link_base = https://files.example.test/a/
min_size = 100k
secret = 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f
spool_dir = $T/dspool
listen = $1
forward = unix:$AFTER
timeout = 30s
hostname = detach.example.test
listen_group = postfix
# The after-filter's socket is in Postfix's private/, which only the
# postfix account may enter: detach connects to it for each session,
# after it gave up root, so here it runs as that account.
user = postfix
EOF
	chmod 644 "$T/detach.conf"
	shift
	printf '%s\n' "$@" >>"$T/detach.conf"
}

# wait_for COND... - until COND holds (bounded)
wait_for() {
	local i=0
	while ! "$@" && [ $i -lt 100 ]; do
		sleep 0.1; i=$((i + 1))
	done
	"$@"
}

# nlog TEXT - how many lines of detach's log have TEXT
nlog() { grep -c -- "$1" "$T/detach.log"; }

# greets PATH - the first 9 bytes of the greeting on a unix socket
greets() {
	python3 - "$1" <<'EOF'
import socket, sys
try:
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(10)
    s.connect(sys.argv[1])
    print(s.makefile("rb").readline().decode().strip()[:9])
except OSError as e:
    print(e.__class__.__name__)
EOF
}

# send PORT RCPT FILE [XCLIENT] - one message with smtplib; prints the
# reply to the dot
send() {
	python3 - "$@" <<'EOF'
import smtplib, sys
port, rcpt, path = sys.argv[1], sys.argv[2], sys.argv[3]
s = smtplib.SMTP("127.0.0.1", int(port), timeout=120)
s.ehlo("client.test")
if len(sys.argv) > 4:
    s.docmd("XCLIENT " + sys.argv[4])
    s.ehlo("helo.example")
s.mail("a@example.org")
s.rcpt(rcpt)
print(*s.data(open(path, "rb").read()))
s.quit()
EOF
}

# mkmsg OUT [ATTACHMENT] - a message built by Python's email package
mkmsg() {
	python3 - "$@" <<'EOF'
import sys
from email.message import EmailMessage
from email.policy import SMTP
out = sys.argv[1]
m = EmailMessage(policy=SMTP)
m["From"] = "a@example.org"
m["To"] = "bob@example.test"
m["Subject"] = "unix " + out.split("/")[-1]
m["Date"] = "Wed, 01 Jan 2025 00:00:00 +0000"
m["Message-ID"] = "<%s@example.org>" % out.split("/")[-1]
m.set_content("Hello.\n.leading dot\n..two dots\nthe end\n")
if len(sys.argv) > 2:
    m.add_attachment(open(sys.argv[2], "rb").read(), maintype="application",
                     subtype="octet-stream", filename="report.pdf")
open(out, "wb").write(m.as_bytes())
EOF
}

# one_file USER - the only message of USER
one_file() { ls "$PF/mail/$1/new/"* 2>/dev/null | head -1; }

t "postfix: master made the after-filter socket private/detach-in" wait_for test -S "$AFTER"

# 1. The socket file, with the default mode and the group asked for.
conf "unix:$SOCK"
"$DETACH" -c "$T/detach.conf" >"$T/detach.log" 2>&1 &
DPID=$!
t "start: socket file made" wait_for test -S "$SOCK"
t "socket file: mode 0660 by default, group postfix" \
    [ "$(stat -c '%a %G' "$SOCK")" = "660 postfix" ]
ino=$(stat -c %i "$SOCK")

# 2. A plain message through both sockets: delivered byte for byte.
mkmsg "$T/plain.eml"
send "$PF_UFRONT" bob@example.test "$T/plain.eml" >"$T/out1"
t "plain: 250 at the dot" grep -q '^250 ' "$T/out1"
t "plain: delivered" pf_wait_count bob 1
t "plain: byte-identical bar Received" cmp -s <(tr -d '\r' <"$T/plain.eml") <(pf_body "$(one_file bob)")
t "plain: detach saw a unix client" grep -q 'connect from unix$' "$T/detach.log"
t "plain: front smtpd went through detach" grep -q 'from=<a@example.org> size=[0-9]* nrcpt=1 detached=0' "$T/detach.log"

# 3. An attachment: detached, the store holds the file.
head -c 300000 /dev/urandom >"$T/att.bin"
want=$(sha256sum <"$T/att.bin" | cut -d' ' -f1)
mkmsg "$T/att.eml" "$T/att.bin"
send "$PF_UFRONT" alice@example.test "$T/att.eml" >"$T/out2"
t "attachment: 250 at the dot" grep -q '^250 ' "$T/out2"
t "attachment: delivered" pf_wait_count alice 1
f=$(one_file alice)
t "attachment: X-Detach-SHA256 of the file" grep -qi "^X-Detach-SHA256: $want" "$f"
t "attachment: base64 gone" test "$(stat -c %s "$f")" -lt 20000
obj=$(find "$T/store" -type f -name 'report.pdf' | head -1)
t "attachment: stored object equals the file" \
    test -n "$obj" -a "$(sha256sum <"${obj:-/dev/null}" | cut -d' ' -f1)" = "$want"

# 4. XFORWARD over unix: the after-filter smtpd takes the client the
# front smtpd saw, not the socket.
send "$PF_UFRONT" carol@example.test "$T/plain.eml" \
    "ADDR=192.0.2.7 NAME=client.example HELO=helo.example" >"$T/out3"
t "xforward: delivered" pf_wait_count carol 1
qid=$(sed -n 's/^250 .*queued as \([0-9A-F]*\).*/\1/p' "$T/out3")
t "xforward: after-filter logs orig_client=client.example[192.0.2.7]" \
    grep -q "detach-in/smtpd.*${qid:-none}: client=.*orig_client=client.example\[192.0.2.7\]" "$PF/maillog"

# 5. A second detach on the same path: refused, the first one unharmed.
timeout 20 "$DETACH" -c "$T/detach.conf" >"$T/second.log" 2>&1
rc=$?
t "live: a second detach exits 71" test "$rc" -eq 71
t "live: ... saying held by a live process" grep -q "fatal: listen unix:$SOCK: held by a live process" "$T/second.log"
t "live: ... and the first one's socket is still there and greets" \
    [ "$(stat -c %i "$SOCK")" = "$ino" -a "$(greets "$SOCK")" = "220 detac" ]

# 6. SIGHUP adds a unix listener (its own mode), then drops it.
conf "unix:$SOCK, unix:$T/extra.sock" "listen_mode = 0600"
kill -HUP "$DPID"
t "reload add: logged" wait_for grep -q "reload: listening on unix:$T/extra.sock" "$T/detach.log"
t "reload add: new socket file with mode 0600, group postfix" \
    [ "$(stat -c '%a %G' "$T/extra.sock" 2>&1)" = "600 postfix" ]
t "reload add: new socket greets" [ "$(greets "$T/extra.sock")" = "220 detac" ]
t "reload add: kept socket file untouched (same inode, mode 0660)" \
    [ "$(stat -c '%i %a' "$SOCK")" = "$ino 660" ]
conf "unix:$SOCK"
kill -HUP "$DPID"
t "reload drop: logged" wait_for grep -q "reload: no longer listening on unix:$T/extra.sock" "$T/detach.log"
t "reload drop: socket file removed" test ! -e "$T/extra.sock"
t "reload drop: kept socket still greets" [ "$(greets "$SOCK")" = "220 detac" ]

# 7. SIGHUP onto a path another live process listens on: refused.
python3 - "$T/held.sock" <<'EOF' &
import os, signal, socket, sys
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1])
os.chmod(sys.argv[1], 0o666)	# detach, not root, probes it
s.listen(16)
signal.pause()
EOF
HPID=$!
wait_for test -S "$T/held.sock"
conf "unix:$SOCK, unix:$T/held.sock"
kill -HUP "$DPID"
t "reload onto a live socket: old settings kept" \
    wait_for grep -q "reload: keeping the old settings: listen unix:$T/held.sock: held by a live process" "$T/detach.log"
t "reload onto a live socket: its file left alone" test -S "$T/held.sock"
kill "$HPID"; wait "$HPID" 2>/dev/null; HPID=

# 8. A forward socket whose backlog is full: the client gets 421, at
# once (EAGAIN is a failed connect, not one in progress).
python3 - "$T/full.sock" <<'EOF' &
import os, signal, socket, sys
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1])
os.chmod(sys.argv[1], 0o666)	# detach, not root, connects to it
s.listen(0)
held = []
for i in range(8):	# fill the backlog; never accept
    c = socket.socket(socket.AF_UNIX)
    c.setblocking(False)
    try:
        c.connect(sys.argv[1])
        held.append(c)
    except BlockingIOError:
        break
open(sys.argv[1] + ".full", "w").close()
signal.pause()
EOF
HPID=$!
wait_for test -e "$T/full.sock.full"
conf "unix:$SOCK"
sed -i -e "s|^forward = .*|forward = unix:$T/full.sock|" "$T/detach.conf"
n=$(nlog "reload: new settings")
kill -HUP "$DPID"
wait_for test "$(nlog "reload: new settings")" -gt "$n"
t "forward backlog full: 421 at the greeting" [ "$(greets "$SOCK")" = "421 4.3.0" ]
t "forward backlog full: logged as a failed connect" grep -q "connect to unix:$T/full.sock: Resource temporarily unavailable" "$T/detach.log"
kill "$HPID"; wait "$HPID" 2>/dev/null; HPID=

# 9. SIGTERM: exit 0, the socket file removed.
kill -TERM "$DPID"
wait "$DPID"
rc=$?
DPID=
t "SIGTERM: exit 0" test "$rc" -eq 0
t "SIGTERM: socket file removed" test ! -e "$SOCK"

# 10. A stale socket file (its process gone) is replaced at start.
python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$SOCK"
t "stale: a socket file nobody listens on" test -S "$SOCK"
conf "unix:$SOCK"
"$DETACH" -c "$T/detach.conf" >"$T/detach.log" 2>&1 &
DPID=$!
t "stale: logged as removed" wait_for grep -q "listen unix:$SOCK: removed a stale socket file" "$T/detach.log"
t "stale: replaced by a socket that greets" [ "$(greets "$SOCK")" = "220 detac" ]
send "$PF_UFRONT" u1@example.test "$T/plain.eml" >"$T/out10"
t "stale: mail flows again" pf_wait_count u1 1

# 11. At exit only our own file goes: one put in its place stays.
rm -f "$SOCK"
echo "not ours" >"$SOCK"
kill -TERM "$DPID"
wait "$DPID"
DPID=
t "SIGTERM: a file that replaced ours is not removed" [ "$(cat "$SOCK" 2>&1)" = "not ours" ]

# 12. A path that is not a socket is never removed: start refused.
timeout 20 "$DETACH" -c "$T/detach.conf" >"$T/file.log" 2>&1
rc=$?
t "regular file: detach exits 71" test "$rc" -eq 71
t "regular file: logged" grep -q "fatal: listen unix:$SOCK: exists and is not a socket" "$T/file.log"
t "regular file: left as it was" [ "$(cat "$SOCK" 2>&1)" = "not ours" ]
rm -f "$SOCK"

# 13. A fatal exit after the listeners are bound (here: the user may
# not write the spool, found once root is given up) takes its socket
# file with it.
mkdir -p "$T/rospool"
chmod 700 "$T/rospool"
conf "unix:$SOCK" "spool_dir = $T/rospool"
timeout 20 "$DETACH" -c "$T/detach.conf" >"$T/ro.log" 2>&1
rc=$?
t "fatal after bind: exit 78" test "$rc" -eq 78
t "fatal after bind: names the spool" grep -q "$T/rospool" "$T/ro.log"
t "fatal after bind: no socket file left" test ! -e "$SOCK"

if [ "$fails" -ne 0 ]; then
	echo "# detach log:"; tail -40 "$T/detach.log" | sed 's/^/# /'
	echo "# maillog:"; tail -30 "$PF/maillog" | sed 's/^/# /'
fi
finish proxy_unix
