#!/bin/bash
# metrics.test.sh - the Prometheus endpoint of the proxy, behind a real Postfix
#
# A private Postfix (tests/peers/postfix.sh) with detach as its
# before-queue filter and metrics_listen set. Mixed traffic goes in
# through Python's smtplib (a plain message, an attachment, the same
# attachment again, one to three recipients, one refused at the dot);
# curl scrapes, promtool checks the scrape, and the counters are
# compared with what the test computes from the messages it built and
# the mailboxes Postfix filled. Then bad requests, the connection limit,
# the deadline and SIGHUP, with mail flowing through all of it. Prints
# ok/FAIL lines.

cd "$(dirname "$0")/.." || exit 1
. tests/peers/postfix.sh
. tests/peers/nginx.sh

. tests/peers/common.sh

need_tools metrics postfix nginx openssl python3 curl promtool
need_root metrics
need_detach metrics

DPID=
stop_all() {
	[ -n "$DPID" ] && kill "$DPID" 2>/dev/null
	nginx_stop
	pf_stop
}
tmp_dir metrics stop_all
chmod 755 "$T"

PF_AFTER_EXTRA="  -o smtpd_end_of_data_restrictions=check_sender_access,texthash:$T/pf/etc/sender_access"
pf_init "$T/pf"
echo "refused@example.org 550 5.7.1 refused by policy" >"$PF/etc/sender_access"
if ! pf_start; then
	echo "FAIL metrics: Postfix did not start"
	exit 1
fi
MPORT=$((PF_FILTER + 6))	# pf_init's block has room past PF_FILTER2
MPORT2=$((PF_FILTER + 7))
M=http://127.0.0.1:$MPORT/metrics

conf() {	# conf METRICS_LISTEN [STORE]
	cat >"$T/detach.conf" <<EOF
store = ${2:-dir:$T/store}
link_base = https://files.example.test/a/
min_size = 100k
secret = 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f
spool_dir = $T/dspool
listen = 127.0.0.1:$PF_FILTER
forward = 127.0.0.1:$PF_AFTER
max_sessions = 100
timeout = 30s
hostname = detach.example.test
user = nobody
metrics_listen = $1
EOF
	chmod 644 "$T/detach.conf"
}

# wait_log TEXT [N] - until detach's log has TEXT N times (bounded)
wait_log() {
	local i=0
	while [ "$(grep -c -- "$1" "$T/detach.log")" -lt "${2:-1}" ] && [ $i -lt 100 ]; do
		sleep 0.1; i=$((i + 1))
	done
	[ "$(grep -c -- "$1" "$T/detach.log")" -ge "${2:-1}" ]
}

# val FILE SERIES - the value of one series in a scrape
val() { awk -v s="$2" '$1 == s { print $2 }' "$1"; }

mkdir -p "$T/store" "$T/dspool"
chown nobody: "$T/store" "$T/dspool"
conf "127.0.0.1:$MPORT"
t0=$(date +%s)
"$DETACH" -c "$T/detach.conf" >"$T/detach.log" 2>&1 &
DPID=$!
pf_wait_port "$PF_FILTER" && pf_wait_port "$MPORT" ||
    { echo "FAIL metrics: detach did not listen"; cat "$T/detach.log"; exit 1; }

# 1. Before any mail: promtool is content, the counters are zero.
curl -sf "$M" >"$T/scrape0"
t "idle: scrape answered" test -s "$T/scrape0"
promtool check metrics <"$T/scrape0" >"$T/lint0" 2>&1
t "idle: promtool check metrics passes, no lint problem" test $? -eq 0 -a ! -s "$T/lint0"
t "idle: no message counted" test "$(val "$T/scrape0" 'detach_messages_total{result="relayed"}')" = 0
t "idle: detach_sessions_max is max_sessions (100)" test "$(val "$T/scrape0" detach_sessions_max)" = 100
ver=$(sed -n 's/^#define DETACH_VERSION[ \t]*"\(.*\)"/\1/p' detach.h)
t "idle: detach_build_info{version=\"$ver\"} 1" test "$(val "$T/scrape0" "detach_build_info{version=\"$ver\"}")" = 1
st=$(val "$T/scrape0" process_start_time_seconds)
t "idle: process_start_time_seconds is when detach started ($st)" test "${st:-0}" -ge "$t0" -a "${st:-0}" -le "$(date +%s)"

# 2. Mixed traffic through the front smtpd. The messages are built by
# Python's email package; smtplib sends them and reports each outcome.
head -c 300000 /dev/urandom >"$T/a1.bin"
head -c 200000 /dev/urandom >"$T/a2.bin"
cat >"$T/mail.py" <<'EOF'
import smtplib, sys
from email.message import EmailMessage
from email import policy

def build(path, att=None, name=None, subject="test"):
    m = EmailMessage(policy=policy.SMTP)
    m["From"] = "a@example.org"
    m["To"] = "bob@example.test"
    m["Subject"] = subject
    m["Date"] = "Wed, 01 Jan 2025 00:00:00 +0000"
    m["Message-ID"] = "<%s@example.org>" % subject
    m.set_content("Hello.\r\nA line of text.\r\n")
    if att:
        m.add_attachment(open(att, "rb").read(), maintype="application",
                         subtype="octet-stream", filename=name)
    open(path, "wb").write(m.as_bytes(policy=policy.SMTP))

def send(port, sender, rcpts, path):
    s = smtplib.SMTP("127.0.0.1", int(port), timeout=60)
    try:
        s.sendmail(sender, rcpts, open(path, "rb").read())
        print("250")
    except smtplib.SMTPDataError as e:
        print(e.smtp_code)
    s.quit()

if sys.argv[1] == "build":
    build(*sys.argv[2:])
else:
    send(sys.argv[2], sys.argv[3], sys.argv[4].split(","), sys.argv[5])
EOF
mail() { python3 "$T/mail.py" "$@"; }
mail build "$T/plain.eml" "" "" plain
mail build "$T/att1.eml" "$T/a1.bin" report.pdf att1
mail build "$T/att2.eml" "$T/a2.bin" data.bin att2
mail build "$T/refused.eml" "" "" refused
r1=$(mail send "$PF_FRONT" a@example.org bob@example.test "$T/plain.eml")
r2=$(mail send "$PF_FRONT" a@example.org alice@example.test "$T/att1.eml")
r3=$(mail send "$PF_FRONT" a@example.org carol@example.test "$T/att1.eml")
r4=$(mail send "$PF_FRONT" a@example.org u1@example.test,u2@example.test,u3@example.test "$T/att2.eml")
r5=$(mail send "$PF_FRONT" refused@example.org bob@example.test "$T/refused.eml")
t "traffic: four accepted, one refused at the dot" test "$r1 $r2 $r3 $r4 $r5" = "250 250 250 250 550"
for u in bob alice carol u1 u2 u3; do pf_wait_count "$u" 1 || echo "# $u: nothing delivered"; done
pf_queue_empty

curl -sf "$M" >"$T/scrape1"
promtool check metrics <"$T/scrape1" >"$T/lint1" 2>&1
t "traffic: promtool check metrics passes, no lint problem" test $? -eq 0 -a ! -s "$T/lint1"
[ -s "$T/lint1" ] && sed 's/^/# /' "$T/lint1"
t "traffic: relayed 3" test "$(val "$T/scrape1" 'detach_messages_total{result="relayed"}')" = 3
t "traffic: unchanged 1" test "$(val "$T/scrape1" 'detach_messages_total{result="unchanged"}')" = 1
t "traffic: rejected 1" test "$(val "$T/scrape1" 'detach_messages_total{result="rejected"}')" = 1
t "traffic: tempfailed 0" test "$(val "$T/scrape1" 'detach_messages_total{result="tempfailed"}')" = 0
t "traffic: attachments detached 3" test "$(val "$T/scrape1" detach_attachments_detached_total)" = 3
t "traffic: one dedup hit (the same attachment again)" test "$(val "$T/scrape1" detach_dedup_hits_total)" = 1
t "traffic: three objects timed (dir store writes)" test "$(val "$T/scrape1" detach_store_seconds_count)" = 3
t "traffic: histogram +Inf bucket equals _count" test "$(val "$T/scrape1" 'detach_store_seconds_bucket{le="+Inf"}')" = 3
t "traffic: no web store requests with a dir store" test "$(grep '^detach_store_requests_total' "$T/scrape1" | awk '{ s += $2 } END { print s }')" = 0

# What the test computes itself: each delivered file less the header
# lines Postfix put on top, in CRLF, against the message sent. Summed
# over every mailbox, that is bytes removed times recipients.
cat >"$T/saved.py" <<'EOF'
import sys
TOP = (b"return-path:", b"x-original-to:", b"delivered-to:", b"received:")
def rewritten(path):
    lines = open(path, "rb").read().split(b"\n")
    i, skip = 0, False
    while i < len(lines):
        l = lines[i]
        if l.lower().startswith(TOP):
            skip = True
        elif not (skip and l[:1] in (b" ", b"\t")):
            break
        i += 1
    return b"\r\n".join(lines[i:])
total, per = 0, []
for pair in sys.argv[1:]:
    box, eml = pair.split("=")
    d = len(open(eml, "rb").read()) - len(rewritten(box))
    per.append(d)
    total += d
print(total, " ".join(map(str, per)))
EOF
one() { ls "$PF/mail/$1/new/"* 2>/dev/null | head -1; }
set -- $(python3 "$T/saved.py" "$(one bob)=$T/plain.eml" "$(one alice)=$T/att1.eml" \
    "$(one carol)=$T/att1.eml" "$(one u1)=$T/att2.eml" "$(one u2)=$T/att2.eml" \
    "$(one u3)=$T/att2.eml")
want_saved=$1 d_plain=$2 d_alice=$3 d_carol=$4 d_u1=$5
saved=$(val "$T/scrape1" detach_bytes_saved_total)
echo "# saved: detach says $saved, the mailboxes say $want_saved (per message: $d_plain $d_alice $d_carol $d_u1)"
t "saved: the plain message came through byte for byte (the method is exact)" test "$d_plain" = 0
t "saved: detach_bytes_saved_total > 0" test "${saved:-0}" -gt 0
t "saved: equals the mailboxes' sum, bytes removed x recipients ($want_saved)" test "$saved" = "$want_saved"
rx=$(val "$T/scrape1" detach_bytes_received_total)
tx=$(val "$T/scrape1" detach_bytes_relayed_total)
t "bytes: received - relayed = bytes removed per message, unweighted" \
    test "$((rx - tx))" = "$((d_alice + d_carol + d_u1))"
sent=$(cat "$T/plain.eml" "$T/att1.eml" "$T/att1.eml" "$T/att2.eml" "$T/refused.eml" | wc -c)
t "bytes: received is what was sent plus one Received: line each ($rx, sent $sent)" \
    test "$rx" -gt "$sent" -a "$rx" -lt "$((sent + 5 * 1000))"

# 3. An SMTP session in flight shows in detach_sessions.
python3 - "$PF_FILTER" "$M" >"$T/out3" <<'EOF'
import socket, subprocess, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=30)
print(s.makefile("rb").readline().decode().strip()[:3])
out = subprocess.run(["curl", "-sf", sys.argv[2]], capture_output=True).stdout.decode()
print([l for l in out.splitlines() if l.startswith("detach_sessions ")][0])
s.close()
EOF
t "sessions: one SMTP session open, detach_sessions 1" test "$(sed -n 2p "$T/out3")" = "detach_sessions 1"

# 4. Requests it does not answer with metrics.
code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
t "404 for another path" test "$(code "http://127.0.0.1:$MPORT/")" = 404
t "404 for /metrics/" test "$(code "http://127.0.0.1:$MPORT/metrics/")" = 404
t "405 for POST" test "$(code -X POST "$M")" = 405
curl -s -D "$T/h405" -o /dev/null -X DELETE "$M"
t "405 carries Allow: GET" grep -q '^Allow: GET' "$T/h405"
t "a query string is ignored" test "$(code "$M?x=1")" = 200
curl -s -0 -D "$T/h10" "$M" >"$T/scrape10"
t "HTTP/1.0: 200" grep -q '^HTTP/1.1 200 OK' "$T/h10"
t "HTTP/1.0: text format 0.0.4" grep -q '^Content-Type: text/plain; version=0.0.4; charset=utf-8' "$T/h10"
t "HTTP/1.0: promtool check metrics passes" promtool check metrics <"$T/scrape10"

python3 - "$MPORT" >"$T/out4" <<'EOF'
import socket, sys, time
port = int(sys.argv[1])
def ask(data, timeout=20):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    t0 = time.time()
    try:
        s.sendall(data)
    except OSError:
        pass
    got, end = b"", "EOF"
    try:
        while True:
            b = s.recv(65536)
            if not b:
                break
            got += b
    except ConnectionResetError:
        end = "reset"
    except socket.timeout:
        end = "timeout"
    s.close()
    return got, end, time.time() - t0
got, end, _ = ask(b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03 garbage\r\n\r\n")
print("garbage", got[:12].decode("latin-1"), end)
got, end, _ = ask(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
print("rawget", got[:15].decode(), end)
got, end, _ = ask(b"GET /metrics HTTP/1.1\r\n\r\n")
print("nohost", got[:12].decode(), end)
top = b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Pad: "
pad = 8192 - len(top) - 4
got, end, _ = ask(top + b"a" * pad + b"\r\n\r\n")
print("head8192", got[:12].decode(), end)
got, end, _ = ask(top + b"a" * (9216 - len(top) - 4) + b"\r\n\r\n")
print("head9216", len(got), end)
EOF
t "garbage: 400, then closed" grep -q '^garbage HTTP/1.1 400 EOF' "$T/out4"
t "a plain GET: 200, then closed" grep -q '^rawget HTTP/1.1 200 OK EOF' "$T/out4"
t "HTTP/1.1 without Host: 400" grep -q '^nohost HTTP/1.1 400' "$T/out4"
t "a head of 8 KiB exactly: 200" grep -q '^head8192 HTTP/1.1 200' "$T/out4"
t "a head of 9 KiB: closed without an answer" grep -Eq '^head9216 0 (EOF|reset)$' "$T/out4"

# 5. Sixteen metrics connections held open, one of them a request that
# never ends: the 17th is closed at once, a message goes through in the
# meantime, and the sixteen are dropped at the 10 s deadline.
# idle_sockets - until detach holds only its two listening sockets,
# the earlier scrapes' connections closed (bounded)
idle_sockets() {
	local i=0
	while [ "$(ls -l "/proc/$DPID/fd" | grep -c 'socket:')" -gt 2 ] && [ $i -lt 100 ]; do
		sleep 0.1; i=$((i + 1))
	done
}
idle_sockets
python3 - "$MPORT" "$PF_FRONT" "$T/mail.py" "$T/plain.eml" >"$T/out5" <<'EOF'
import select, socket, subprocess, sys, time
port, front = int(sys.argv[1]), sys.argv[2]
conns = []
for i in range(17):
    s = socket.create_connection(("127.0.0.1", port), timeout=20)
    conns.append((s, time.time()))
conns[0][0].sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")    # slow
# Which are closed at once: readable, and at their end, within 2 s.
t0 = time.time()
gone = set()
while time.time() - t0 < 2:
    r, _, _ = select.select([s for s, _ in conns if s not in gone], [], [], 0.2)
    for s in r:
        try:
            if s.recv(100) == b"":
                gone.add(s)
        except ConnectionResetError:
            gone.add(s)
print("17th", "closed" if conns[16][0] in gone else "open", len(gone))
held = [(s, t) for s, t in conns if s not in gone]
t0 = time.time()
r = subprocess.run(["python3", sys.argv[3], "send", front, "a@example.org",
                    "u9@example.test", sys.argv[4]], capture_output=True)
mail_s = time.time() - t0
print("mail", r.stdout.decode().strip(), "%.1f" % mail_s)
closed = []
for s, t in held:
    got = b"x"
    try:
        got = s.recv(100)
    except (ConnectionResetError, socket.timeout):
        got = b""
    closed.append((got, time.time() - t))
print("held", sum(1 for g, _ in closed if g == b""),
      "%.1f" % min(d for _, d in closed), "%.1f" % max(d for _, d in closed))
print("mail_before_drop", "yes" if mail_s < min(d for _, d in closed) else "no")
EOF
cat "$T/out5" | sed 's/^/# /'
t "17 connections: the 17th is closed at once, and only it" grep -q '^17th closed 1$' "$T/out5"
t "17 connections: a message goes through meanwhile (250)" grep -q '^mail 250 ' "$T/out5"
t "17 connections: ... while the sixteen are still open" grep -q '^mail_before_drop yes' "$T/out5"
t "17 connections: the message is delivered" pf_wait_count u9 1
set -- $(sed -n 's/^held //p' "$T/out5")
t "slow and idle connections closed without an answer at the deadline (16 in ${2}s to ${3}s)" \
    test "$1" = 16 -a "${2%.*}" -ge 9 -a "${3%.*}" -le 14
t "after the flood: a scrape answers again" test "$(code "$M")" = 200

# 6. SIGHUP: a scrape begun before the reload is answered; a changed
# metrics_listen is bound and the old one closed; one that cannot be
# bound keeps the old settings.
conf "127.0.0.1:$MPORT2"
python3 - "$MPORT" "$DPID" "$T/detach.log" >"$T/out6" <<'EOF'
import os, signal, socket, sys, time
port, pid, log = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
s = socket.create_connection(("127.0.0.1", port), timeout=20)
s.sendall(b"GET /metrics HTTP/1.1\r\n")
os.kill(pid, signal.SIGHUP)
for i in range(100):    # bounded wait for the reload's log line
    if "reload: serving metrics" in open(log).read():
        break
    time.sleep(0.1)
s.sendall(b"Host: x\r\n\r\n")
got = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    got += b
print(got[:15].decode())
EOF
t "SIGHUP: a scrape begun before the reload is answered" grep -q '^HTTP/1.1 200 OK' "$T/out6"
t "SIGHUP: the new metrics_listen answers" test "$(code "http://127.0.0.1:$MPORT2/metrics")" = 200
t "SIGHUP: the old one is closed" test "$(code "$M")" = 000
conf "192.0.2.1:$MPORT"
kill -HUP "$DPID"
t "SIGHUP: an address that cannot be bound is logged" wait_log "keeping the old settings: metrics_listen"
t "SIGHUP: ... and the old one still answers" test "$(code "http://127.0.0.1:$MPORT2/metrics")" = 200
conf ""
kill -HUP "$DPID"
t "SIGHUP: metrics_listen emptied: closed" wait_log "no longer serving metrics on 127.0.0.1:$MPORT2"
t "SIGHUP: ... nothing answers there" test "$(code "http://127.0.0.1:$MPORT2/metrics")" = 000
r=$(mail send "$PF_FRONT" a@example.org u10@example.test "$T/att2.eml")
t "SIGHUP: mail still flows (250)" test "$r" = 250

# 7. A web store (nginx WebDAV): requests by method and class of
# answer, dedup by HEAD, retries, against nginx's own log.
HP=$(free_port); SP=$(free_port); OP=$(free_port); WP=$(free_port)
mkdir -p "$T/ng/pki"
pki_make "$T/ng/pki" && nginx_start "$T/ng" "$HP" "$SP" "$OP" "$WP" ||
    { echo "FAIL metrics: nginx did not start"; exit 1; }
conf "127.0.0.1:$MPORT" "http://127.0.0.1:$HP/files/"
kill -HUP "$DPID"
wait_log "reload: serving metrics on 127.0.0.1:$MPORT"
curl -sf "$M" >"$T/scrape7a"
r1=$(mail send "$PF_FRONT" a@example.org u11@example.test "$T/att1.eml")
r2=$(mail send "$PF_FRONT" a@example.org u12@example.test "$T/att1.eml")
conf "127.0.0.1:$MPORT" "http://127.0.0.1:$HP/err/"
kill -HUP "$DPID"
wait_log "reload: new settings" 4
r3=$(mail send "$PF_FRONT" a@example.org u13@example.test "$T/att2.eml")
t "web store: three messages accepted" test "$r1 $r2 $r3" = "250 250 250"
curl -sf "$M" >"$T/scrape7b"
promtool check metrics <"$T/scrape7b" >"$T/lint7" 2>&1
t "web store: promtool check metrics passes, no lint problem" test $? -eq 0 -a ! -s "$T/lint7"
# delta SERIES - how much a series grew across the web store's traffic
delta() { echo $(($(val "$T/scrape7b" "$1") - $(val "$T/scrape7a" "$1"))); }
# nginx's count of METHOD answers with status class C (timed.log)
ngx() { awk -v m="$1" -v c="$2" '$1 == m && substr($3, 1, 1) == c' "$T/ng/logs/timed.log" | wc -l; }
for m in HEAD PUT; do
	for c in 2 3 4 5; do
		got=$(delta "detach_store_requests_total{method=\"$m\",code=\"${c}xx\"}")
		t "web store: $m ${c}xx as nginx logged them ($got)" test "$got" = "$(ngx $m $c)"
	done
done
t "web store: HEAD found the object once (nginx: HEAD 200)" test "$(delta detach_dedup_hits_total)" = 1 -a "$(ngx HEAD 2)" = 1
t "web store: retries are the PUTs answered 503, less the first ($(delta detach_upload_retries_total))" \
    test "$(delta detach_upload_retries_total)" = $(($(ngx PUT 5) - 1)) -a "$(ngx PUT 5)" -gt 1
t "web store: three objects timed" test "$(delta detach_store_seconds_count)" = 3
t "web store: the failed one went out unchanged (keep)" test "$(delta 'detach_messages_total{result="unchanged"}')" = 1

kill -TERM "$DPID"
wait "$DPID"
rc=$?
DPID=
t "SIGTERM: exit 0" test "$rc" -eq 0

if [ "$fails" -ne 0 ]; then
	echo "# detach log:"; tail -30 "$T/detach.log" | sed 's/^/# /'
	echo "# maillog:"; tail -20 "$PF/maillog" | sed 's/^/# /'
fi
finish metrics
