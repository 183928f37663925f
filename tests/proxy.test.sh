#!/bin/bash
# proxy.test.sh - detach as Postfix's before-queue filter, end to end
#
# A private Postfix (tests/peers/postfix.sh, wired with the very lines of
# README.md): front smtpd -> detach -> after-filter smtpd -> queue
# -> virtual(8) maildirs that the test counts. Expectations come from
# the messages the test builds and from sha256sum of the files it
# attaches, never from detach's own output. Prints ok/FAIL lines.

cd "$(dirname "$0")/.." || exit 1
. tests/peers/postfix.sh

. tests/peers/common.sh

need_tools proxy postfix python3 sha256sum
need_root proxy
need_detach proxy

DPID=
stop_all() {
	[ -n "$DPID" ] && kill "$DPID" 2>/dev/null
	[ -n "${FPID:-}" ] && kill "$FPID" 2>/dev/null
	pf_stop
}
tmp_dir proxy stop_all
chmod 755 "$T"

. tests/peers/mail.sh

conf() {	# conf FILE STORE POLICY [TIMEOUT]
	cat >"$1" <<EOF
store = $2
link_base = https://files.example.test/a/
min_size = 100k
secret = 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f
on_store_failure = $3
spool_dir = $T/dspool
listen = 127.0.0.1:$PF_FILTER, 127.0.0.1:$PF_FILTER2, [::1]:$PF_FILTER
forward = ${FWD:-127.0.0.1:$PF_AFTER}
max_sessions = ${MAXS:-100}
timeout = ${4:-30s}
hostname = detach.example.test
user = nobody
EOF
}

PF_AFTER_EXTRA="  -o smtpd_recipient_restrictions=check_recipient_access,texthash:$T/pf/etc/rcpt_access,permit_mynetworks,reject
  -o smtpd_end_of_data_restrictions=check_sender_access,texthash:$T/pf/etc/sender_access"
pf_init "$T/pf"
echo "reject@example.test 550 5.1.1 no such user here" >"$PF/etc/rcpt_access"
echo "tempfail@example.org 451 4.7.1 try again later" >"$PF/etc/sender_access"
if ! pf_start; then
	echo "FAIL proxy: Postfix did not start"
	exit 1
fi
mkdir -p "$T/store" "$T/dspool"
chown nobody: "$T/store" "$T/dspool"
conf "$T/detach.conf" "dir:$T/store" keep
"$DETACH" -c "$T/detach.conf" >"$T/detach.log" 2>&1 &
DPID=$!
pf_wait_port "$PF_FILTER" || { echo "FAIL proxy: detach did not listen"; cat "$T/detach.log"; exit 1; }
send() { python3 "$T/smtpc.py" "$@"; }

# 1. A plain message: delivered byte for byte, bar Postfix's headers.
mkmsg "$T/plain.eml"
send "$PF_FRONT" a@example.org bob@example.test "$T/plain.eml" >"$T/out1"
t "plain: 250 at the dot" grep -q '^DOT 250 ' "$T/out1"
t "plain: delivered" pf_wait_count bob 1
f=$(one_file bob)
tr -d '\r' <"$T/plain.eml" >"$T/plain.lf"
t "plain: byte-identical bar Received" cmp -s "$T/plain.lf" <(body_of "$f")
t "plain: log line" grep -q 'from=<a@example.org> size=[0-9]* nrcpt=1 detached=0' "$T/detach.log"

# 2. An attachment: the link part is delivered, the store holds the file.
head -c 300000 /dev/urandom >"$T/att.bin"
want=$(sha256sum <"$T/att.bin" | cut -d' ' -f1)
mkmsg "$T/att.eml" "$T/att.bin" report.pdf
send "$PF_FRONT" a@example.org alice@example.test "$T/att.eml" >"$T/out2"
t "attachment: 250 at the dot" grep -q '^DOT 250 ' "$T/out2"
t "attachment: delivered" pf_wait_count alice 1
f=$(one_file alice)
t "attachment: link part delivered" grep -q "^X-Detach-URL: https://files.example.test/a/.*report.pdf" "$f"
t "attachment: X-Detach-SHA256 of the file" grep -qi "^X-Detach-SHA256: $want" "$f"
t "attachment: base64 gone" test "$(stat -c %s "$f")" -lt 20000
obj=$(find "$T/store" -type f -name 'report.pdf' | head -1)
t "attachment: stored object equals the file" test -n "$obj" -a "$(sha256sum <"${obj:-/dev/null}" | cut -d' ' -f1)" = "$want"
t "attachment: log line detached=1" grep -q 'nrcpt=1 detached=1 saved=[1-9]' "$T/detach.log"

# 3. XFORWARD: the after-filter smtpd takes the client the front saw.
# Postfix 3.7's after-filter smtpd stamps its Received: line with the
# connection it has (detach on 127.0.0.1) and takes XFORWARD into its
# log and the queue file (orig_client=, milters, policy); the delivered
# message names the client in the front smtpd's Received: line.
send "$PF_FRONT" a@example.org carol@example.test "$T/plain.eml" \
    "ADDR=192.0.2.7 NAME=client.example HELO=helo.example" >"$T/out3"
t "xforward: delivered" pf_wait_count carol 1
qid=$(sed -n 's/^DOT 250 .*queued as \([0-9A-F]*\).*/\1/p' "$T/out3")
t "xforward: after-filter logs orig_client=client.example[192.0.2.7]" \
    grep -q "detach-in/smtpd.*$qid: client=.*orig_client=client.example\[192.0.2.7\]" "$PF/maillog"
t "xforward: delivered Received: names helo.example (client.example [192.0.2.7])" \
    grep -q '^Received: from helo.example (client.example \[192.0.2.7\])' "$(one_file carol)"

# 4. Downstream rejects one recipient: the client sees that 550.
send "$PF_FRONT" a@example.org bob@example.test,reject@example.test "$T/plain.eml" >"$T/out4"
t "rcpt 550: client sees 550 5.1.1" grep -q '^RCPT 550 550 5.1.1' "$T/out4"
t "rcpt 550: the other recipient delivered" pf_wait_count bob 2

# 5. Downstream tempfails at the dot: 451, nothing delivered.
send "$PF_FRONT" tempfail@example.org tempfail@example.test "$T/att.eml" >"$T/out5"
t "dot 451: client sees 451" grep -q '^DOT 451 ' "$T/out5"
pf_queue_empty
t "dot 451: nothing delivered" test "$(pf_count tempfail)" -eq 0

# 6. speed_adjust on the front smtpd works too.
send "$PF_FRONT2" a@example.org u60@example.test "$T/att.eml" >"$T/out6"
t "speed_adjust: 250 at the dot" grep -q '^DOT 250 ' "$T/out6"
pf_wait_count u60 1 && f=$(one_file u60)
t "speed_adjust: link part delivered" grep -qi "^X-Detach-SHA256: $want" "${f:-/dev/null}"

# 7. Client gone in the middle of DATA: nothing delivered, no spool left.
send "$PF_FRONT" a@example.org u59@example.test "$T/att.eml" - 150000 >"$T/out7"
send "$PF_FILTER" a@example.org u59@example.test "$T/att.eml" - 150000 >>"$T/out7"
wait_log "lost connection with client"
pf_queue_empty
t "client gone: nothing delivered" test "$(pf_count u59)" -eq 0
t "client gone: no spool file left" test -z "$(ls -A "$T/dspool")"
t "client gone: no spool descriptor left" test -z "$(ls -l /proc/$DPID/fd 2>/dev/null | grep -e dspool -e memfd)"

# 8. Straight to detach: EHLO filter, 502, line limits, pipelining, [::1].
python3 - "$PF_FILTER" >"$T/out8" <<'EOF'
import socket, sys
sys.path.insert(0, sys.argv[0])
port = int(sys.argv[1])
def conn(host="127.0.0.1", fam=socket.AF_INET):
    s = socket.socket(fam); s.connect((host, port)); return s, s.makefile("rb")
def rep(f):
    ls = []
    while True:
        l = f.readline().decode("latin-1").rstrip("\r\n"); ls.append(l)
        if len(l) < 4 or l[3] != "-": return ls
s, f = conn()
print("greet", rep(f)[0])
s.sendall(b"EHLO x.test\r\n"); e = rep(f)
print("ehlo", " ".join(l[4:].split(" ")[0] for l in e))
print("xfwdline", [l for l in e if "XFORWARD" in l])
s.sendall(b"VRFY root\r\n"); print("vrfy", rep(f)[0][:3])
s.sendall(b"BDAT 10 LAST\r\n"); print("bdat", rep(f)[0][:3])
s.sendall(b"STARTTLS\r\n"); print("starttls", rep(f)[0][:3])
# RFC 5321 4.5.3.1.4: 512 octets with CRLF for NOOP; 2048 for MAIL
for n in (511, 512, 513):
    s.sendall(b"NOOP " + b"x" * (n - 7) + b"\r\n"); print("noop%d" % n, rep(f)[0][:3])
for n in (2047, 2048, 2049):
    s.sendall(b"RSET\r\n"); rep(f)
    line = b"MAIL FROM:<" + b"x" * (n - 2 - 24) + b"@example.org>"
    s.sendall(line + b"\r\n"); print("mail%d" % n, rep(f)[0])
s.sendall(b"RSET\r\n"); rep(f)
s.sendall(b"XFORWARD ADDR=not-an-address\r\n"); print("xfwdbad", rep(f)[0][:3])
s.sendall(b"XFORWARD ADDR=192.0.2.9 IDENT=QID123\r\n"); print("xfwdok", rep(f)[0][:3])
# Pipelined: answered in order, none misread.
s.sendall(b"MAIL FROM:<a@example.org> SIZE=100 BODY=8BITMIME\r\nRCPT TO:<reject@example.test>\r\n"
          b"RCPT TO:<u58@example.test> NOTIFY=NEVER\r\nNOOP\r\nDATA\r\n")
print("pipe", " ".join(rep(f)[0][:3] for _ in range(5)))
s.sendall(b"Subject: pipelined\r\n\r\n..dot\r\n.\r\nQUIT\r\n")
print("pipedot", rep(f)[0][:3], "quit", rep(f)[0][:3])
s.close()
s, f = conn("::1", socket.AF_INET6)
print("v6", rep(f)[0][:3])
s.close()
EOF
t "direct: greeting 220" grep -q '^greet 220 detach.example.test' "$T/out8"
t "direct: EHLO keeps PIPELINING SIZE 8BITMIME" grep -q 'ehlo detach.example.test PIPELINING SIZE.*8BITMIME' "$T/out8"
t "direct: EHLO drops CHUNKING STARTTLS VRFY ETRN AUTH" sh -c "! grep -E '^ehlo.*(CHUNKING|STARTTLS|VRFY|ETRN|AUTH|XCLIENT)' '$T/out8'"
t "direct: EHLO offers XFORWARD" grep -q "250-XFORWARD NAME ADDR PROTO HELO" "$T/out8"
t "direct: VRFY 502" grep -q '^vrfy 502' "$T/out8"
t "direct: BDAT 502" grep -q '^bdat 502' "$T/out8"
t "direct: STARTTLS 502" grep -q '^starttls 502' "$T/out8"
t "direct: 511-octet NOOP 250" grep -q '^noop511 250' "$T/out8"
t "direct: 512-octet NOOP 250" grep -q '^noop512 250' "$T/out8"
t "direct: 513-octet NOOP 500" grep -q '^noop513 500' "$T/out8"
t "direct: 2047-octet MAIL relayed" grep -q '^mail2047 [2-5][0-9][0-9] [0-9].[0-9].[0-9] [^E]' "$T/out8"
t "direct: 2048-octet MAIL relayed" grep -q '^mail2048 [2-5][0-9][0-9] [0-9].[0-9].[0-9] [^E]' "$T/out8"
t "direct: 2049-octet MAIL 500" grep -q '^mail2049 500 5.5.2 Error: line too long' "$T/out8"
t "direct: bad XFORWARD 501" grep -q '^xfwdbad 501' "$T/out8"
t "direct: XFORWARD relayed" grep -q '^xfwdok 250' "$T/out8"
t "direct: pipelined replies in order" grep -q '^pipe 250 550 250 250 354' "$T/out8"
t "direct: pipelined message 250, QUIT 221" grep -q '^pipedot 250 quit 221' "$T/out8"
t "direct: [::1] listener" grep -q '^v6 220' "$T/out8"
t "direct: pipelined message delivered" pf_wait_count u58 1
t "direct: dot-unstuffed then stuffed" grep -q '^\.dot$' "$(one_file u58)"
t "direct: IDENT in the log" wait_log "ident=QID123"

# 9. 20 sessions at once, large and small interleaved.
for i in $(seq 1 20); do
	if [ $((i % 2)) = 1 ]; then
		head -c $((600000 + i * 1000)) /dev/urandom >"$T/c$i.bin"
		mkmsg "$T/c$i.eml" "$T/c$i.bin" "c$i.dat"
	else
		mkmsg "$T/c$i.eml"
	fi
done
pids=
for i in $(seq 1 20); do
	send "$PF_FRONT" a@example.org "s$i@example.test" "$T/c$i.eml" >"$T/c$i.out" &
	pids="$pids $!"
done
wait $pids
ok=0
for i in $(seq 1 20); do
	pf_wait_count "s$i" 1 100 || continue
	f=$(one_file "s$i")
	if [ $((i % 2)) = 1 ]; then
		h=$(sha256sum <"$T/c$i.bin" | cut -d' ' -f1)
		grep -qi "^X-Detach-SHA256: $h" "$f" && ok=$((ok + 1))
	else
		tr -d '\r' <"$T/c$i.eml" | cmp -s - <(body_of "$f") && ok=$((ok + 1))
	fi
done
t "20 sessions: all delivered, each correct ($ok/20)" test "$ok" -eq 20

# 10. Store failure, reread on SIGHUP: keep delivers the original.
: >"$T/notadir"
conf "$T/detach.conf" "dir:$T/notadir/store" keep
kill -HUP "$DPID"
wait_log "reload: new settings"
send "$PF_FRONT" a@example.org u57@example.test "$T/att.eml" >"$T/out10"
t "store failure keep: 250 at the dot" grep -q '^DOT 250 ' "$T/out10"
t "store failure keep: delivered unchanged" pf_wait_count u57 1
tr -d '\r' <"$T/att.eml" >"$T/att.lf"
t "store failure keep: byte-identical bar Received" cmp -s "$T/att.lf" <(body_of "$(one_file u57)")

# 11. ... and tempfail answers 451 with nothing delivered.
conf "$T/detach.conf" "dir:$T/notadir/store" tempfail
kill -HUP "$DPID"
i=0; while [ "$(grep -c 'reload: new settings' "$T/detach.log")" -lt 2 ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
send "$PF_FRONT" a@example.org u56@example.test "$T/att.eml" >"$T/out11"
t "store failure tempfail: 451 at the dot" grep -q '^DOT 451 ' "$T/out11"
pf_queue_empty
t "store failure tempfail: nothing delivered" test "$(pf_count u56)" -eq 0

# 12. A bad file on SIGHUP keeps the settings in effect.
echo "no_such_key = 1" >"$T/detach.conf"
kill -HUP "$DPID"
wait_log "keeping the old settings"
send "$PF_FRONT" a@example.org u55@example.test "$T/att.eml" >"$T/out12"
t "bad reload: old settings kept (451)" grep -q '^DOT 451 ' "$T/out12"
conf "$T/detach.conf" "dir:$T/store" keep
kill -HUP "$DPID"
i=0; while [ "$(grep -c 'reload: new settings' "$T/detach.log")" -lt 3 ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done

# 13. Footprint: 50 recipients of a 10 MiB attachment, with and without.
head -c 10485760 /dev/urandom >"$T/big.bin"
mkmsg "$T/big.eml" "$T/big.bin" big.dat
rc=$(seq -f 'f%g@example.test' 1 50 | paste -sd, -)
st0=$(du -sb --apparent-size "$T/store" | cut -f1)
send "$PF_FRONT" a@example.org "$rc" "$T/big.eml" >"$T/out13"
n=0; for u in $(seq -f 'f%g' 1 50); do pf_wait_count "$u" 1 300 && n=$((n + 1)); done
mail=$(find "$PF"/mail/f[0-9]* -type f -path '*/new/*' -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }')
st1=$(du -sb --apparent-size "$T/store" | cut -f1)
with=$((mail + st1 - st0))
rc=$(seq -f 'b%g@example.test' 1 50 | paste -sd, -)
send "$PF_DIRECT" a@example.org "$rc" "$T/big.eml" >"$T/out13b"
for u in $(seq -f 'b%g' 1 50); do pf_wait_count "$u" 1 300; done
without=$(find "$PF"/mail/b[0-9]* -type f -path '*/new/*' -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }')
rm -rf "$PF"/mail/b[0-9]*
echo "# footprint of 50 recipients, 10 MiB attachment: with detach $with bytes, without $without bytes"
t "footprint: 50 delivered through detach" test "$n" -eq 50
t "footprint: <= 10.1 MiB with detach ($with)" test "$with" -le $((10485760 * 101 / 100))
t "footprint: without detach over 50 times the file ($without)" test "$without" -gt $((50 * 10485760))

# 14a. Downstream unreachable: 421 at the greeting.
FWD=127.0.0.1:$((PF_FILTER + 7)) conf "$T/detach.conf" "dir:$T/store" keep
kill -HUP "$DPID"
i=0; while [ "$(grep -c 'reload: new settings' "$T/detach.log")" -lt 4 ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
python3 - "$PF_FILTER" >"$T/out14a" <<'EOF'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=30)
print(s.makefile("rb").readline().decode().strip())
EOF
t "downstream unreachable: 421 at the greeting" grep -q '^421 4.3.0 ' "$T/out14a"

# 14b. A downstream server that never answers the dot: our timeout
# answers 451, never a silent close.
FAKE=$((PF_FILTER + 8))
python3 - "$FAKE" <<'EOF' &
import socket, sys
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", int(sys.argv[1])))
ls.listen(5)
ls.settimeout(60)
def serve(c):
    c.settimeout(60)
    f = c.makefile("rb")
    c.sendall(b"220 fake ESMTP\r\n")
    data = False
    while True:
        l = f.readline()
        if not l:
            break
        if data:
            if l == b".\r\n":
                data = False    # and say nothing
            continue
        v = l[:4].upper()
        if v == b"EHLO":
            c.sendall(b"250-fake\r\n250 PIPELINING\r\n")
        elif v == b"DATA":
            c.sendall(b"354 go\r\n"); data = True
        else:
            c.sendall(b"250 ok\r\n")
for n in range(10):    # the port probe, then detach
    c, a = ls.accept()
    try:
        serve(c)
    except OSError:
        pass
    c.close()
EOF
FPID=$!
pf_wait_port "$FAKE"
FWD=127.0.0.1:$FAKE conf "$T/detach.conf" "dir:$T/store" keep 2s
kill -HUP "$DPID"
i=0; while [ "$(grep -c 'reload: new settings' "$T/detach.log")" -lt 5 ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
send "$PF_FILTER" a@example.org bob@example.test "$T/plain.eml" >"$T/out14b"
t "our timeout: 451 4.4.2 at the dot" grep -q '^DOT 451 451 4.4.2' "$T/out14b"
kill "$FPID" 2>/dev/null
FPID=

# 14. max_sessions: past it, 421 4.3.2.
MAXS=2 conf "$T/detach.conf" "dir:$T/store" keep
kill -HUP "$DPID"
i=0; while [ "$(grep -c 'reload: new settings' "$T/detach.log")" -lt 6 ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
python3 - "$PF_FILTER" "$DPID" >"$T/out14" <<'EOF'
import os, signal, socket, sys
port, pid = int(sys.argv[1]), int(sys.argv[2])
ss = []
for i in range(2):
    s = socket.create_connection(("127.0.0.1", port)); ss.append(s)
    print(i, s.makefile("rb").readline().decode().strip()[:9])
# Five more talk before the greeting, 60 KB of commands each, sent
# while detach is stopped: their input waits unread when detach refuses
# them, and a close() then would reset the connection. Each must end
# in our 421, then a FIN.
more = []
os.kill(pid, signal.SIGSTOP)
try:
    for k in range(5):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.sendall(b"EHLO early.example\r\n" + b"NOOP\r\n" * 10000)
        more.append(s)
finally:
    os.kill(pid, signal.SIGCONT)
for s in more:
    got, end = b"", "EOF"
    try:
        while True:
            b = s.recv(4096)
            if not b:
                break
            got += b
    except ConnectionResetError:
        end = "reset"
    print(2, got.decode().strip()[:9], end)
EOF
t "max_sessions: two greeted" test "$(grep -c ' 220 detac' "$T/out14")" -eq 2
t "max_sessions: the next five get 421 4.3.2" \
    test "$(grep -c '^2 421 4.3.2' "$T/out14")" -eq 5
t "max_sessions: each 421 ends in a FIN, not a reset" \
    test "$(grep -c '^2 421 4.3.2 EOF$' "$T/out14")" -eq 5

# 14c. SIGHUP with a changed listen: an address added greets, one
# dropped is closed, one kept stays; one that cannot be bound keeps
# the old settings.
NEWP=$((PF_FILTER + 9))
conf "$T/detach.conf" "dir:$T/store" keep
sed -i -e "s/^listen = .*/listen = 127.0.0.1:$NEWP, [::1]:$PF_FILTER/" "$T/detach.conf"
kill -HUP "$DPID"
i=0; while [ "$(grep -c 'reload: new settings' "$T/detach.log")" -lt 7 ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
greets() {	# greets HOST PORT: prints the greeting's first 9 bytes or why not
	python3 - "$1" "$2" <<'EOF'
import socket, sys
try:
    s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10)
    print(s.makefile("rb").readline().decode().strip()[:9])
except OSError as e:
    print("refused" if isinstance(e, ConnectionRefusedError) else str(e))
EOF
}
t "SIGHUP listen: the address added greets" [ "$(greets 127.0.0.1 "$NEWP")" = "220 detac" ]
t "SIGHUP listen: the address dropped is closed" [ "$(greets 127.0.0.1 "$PF_FILTER")" = refused ]
t "SIGHUP listen: the address kept still greets" [ "$(greets ::1 "$PF_FILTER")" = "220 detac" ]
sed -i -e "s/^listen = .*/listen = 127.0.0.1:$NEWP, 192.0.2.1:2525/" "$T/detach.conf"
kill -HUP "$DPID"
t "SIGHUP listen: an address that cannot be bound is logged" \
    wait_log "keeping the old settings: listen 192.0.2.1:2525"
t "SIGHUP listen: ... and the old addresses still greet" \
    [ "$(greets 127.0.0.1 "$NEWP")" = "220 detac" -a "$(greets ::1 "$PF_FILTER")" = "220 detac" ]

# 15. SIGTERM: stops accepting, exits 0.
kill -TERM "$DPID"
wait "$DPID"
rc=$?
DPID=
t "SIGTERM: exit 0" test "$rc" -eq 0
t "SIGTERM: logged" grep -q "stopped" "$T/detach.log"

if [ "$fails" -ne 0 ]; then
	echo "# detach log:"; tail -40 "$T/detach.log" | sed 's/^/# /'
	echo "# maillog:"; tail -20 "$PF/maillog" | sed 's/^/# /'
fi
finish proxy
