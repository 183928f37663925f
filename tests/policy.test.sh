#!/bin/bash
# policy.test.sh - whose mail is detached, through a real Postfix
#
# A private Postfix (tests/peers/postfix.sh) with detach as its
# before-queue filter. Each message carries a 300 KB attachment: one
# that policy leaves alone must be delivered with its body byte for byte
# as sent (below the headers Postfix puts on top); another is detached,
# judged by the sha256sum of the file in X-Detach-SHA256 and in the
# store. The client address comes from XCLIENT on the front smtpd
# (postfix.sh authorizes it from 127.0.0.0/8), which the front smtpd
# forwards to detach as XFORWARD ADDR. A SIGHUP after editing a file:
# list must take effect. Prints ok/FAIL lines.

cd "$(dirname "$0")/.." || exit 1
. tests/peers/postfix.sh

. tests/peers/common.sh

need_tools policy postfix python3 sha256sum
need_root policy
need_detach policy

DPID=
stop_all() {
	[ -n "$DPID" ] && kill "$DPID" 2>/dev/null
	pf_stop
}
tmp_dir policy stop_all
chmod 755 "$T"

. tests/peers/mail.sh

pf_init "$T/pf"
if ! pf_start; then
	echo "FAIL policy: Postfix did not start"
	exit 1
fi
mkdir -p "$T/store" "$T/dspool"
chown nobody: "$T/store" "$T/dspool"
printf '# clients whose mail stays whole\n198.51.100.0/24\n' >"$T/clients"
printf 'u20@example.test\n' >"$T/detachrcpt"
# conf [MORE] - the configuration, policy keys last
conf() {
	cat >"$T/detach.conf" <<EOF
store = dir:$T/store
link_base = https://files.example.test/a/
min_size = 100k
secret = 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f
spool_dir = $T/dspool
listen = 127.0.0.1:$PF_FILTER, 127.0.0.1:$PF_FILTER2
forward = 127.0.0.1:$PF_AFTER
timeout = 30s
hostname = detach.example.test
user = nobody
skip_senders = boss@example.org, <>
skip_recipients = u2@example.test
skip_clients = file:$T/clients
$1
EOF
}
conf ""
"$DETACH" -c "$T/detach.conf" >"$T/detach.log" 2>&1 &
DPID=$!
pf_wait_port "$PF_FILTER" || { echo "FAIL policy: detach did not listen"; cat "$T/detach.log"; exit 1; }
send() { python3 "$T/smtpc.py" "$@"; }

head -c 300000 /dev/urandom >"$T/att.bin"
want=$(sha256sum <"$T/att.bin" | cut -d' ' -f1)
mkmsg "$T/m.eml" "$T/att.bin" report.pdf
tr -d '\r' <"$T/m.eml" >"$T/m.lf"

# whole USER - USER's message arrived, its body as sent
whole() {
	local f
	pf_wait_count "$1" 1 && f=$(one_file "$1") && [ -n "$f" ] &&
	    cmp -s "$T/m.lf" <(body_of "$f")
}
# detached USER - USER's message arrived with the link part, not the file
detached() {
	local f
	pf_wait_count "$1" 1 && f=$(one_file "$1") && [ -n "$f" ] &&
	    grep -qi "^X-Detach-SHA256: $want" "$f" &&
	    [ "$(stat -c %s "$f")" -lt 20000 ]
}
# logged TEXT - detach logged a line with TEXT (bounded wait)
logged() { wait_log "$1"; }
# stored - the store holds the file
stored() {
	local obj
	obj=$(find "$T/store" -type f -name report.pdf | head -1)
	[ -n "$obj" ] && [ "$(sha256sum <"$obj" | cut -d' ' -f1)" = "$want" ]
}
# reloads - how many reloads detach logged
reloads() { grep -c 'reload: new settings' "$T/detach.log"; }
# hup - SIGHUP, then wait until the reload is logged (bounded)
hup() {
	local n i=0
	n=$(reloads)
	kill -HUP "$DPID"
	while [ "$(reloads)" -le "$n" ] && [ $i -lt 100 ]; do
		sleep 0.1; i=$((i + 1))
	done
	[ "$(reloads)" -gt "$n" ]
}

# 1. skip_senders: left alone, byte for byte; nothing stored.
send "$PF_FRONT" boss@example.org u1@example.test "$T/m.eml" >"$T/o1"
t "skip_senders: 250 at the dot" grep -q '^DOT 250 ' "$T/o1"
t "skip_senders: body delivered byte for byte" whole u1
t "skip_senders: logged policy=skip_senders" \
    logged 'from=<boss@example.org> .*detached=0 saved=0 policy=skip_senders'
t "skip_senders: nothing stored" test -z "$(find "$T/store" -type f)"

# 2. Another sender: detached.
send "$PF_FRONT" a@example.org u3@example.test "$T/m.eml" >"$T/o2"
t "another sender: detached" detached u3
t "another sender: the file is in the store" stored
t "another sender: no policy= in its line" \
    sh -c "grep 'from=<a@example.org> .*nrcpt=1 detached=1' '$T/detach.log' | grep -vq policy="

# 3. The null sender is its own entry.
send "$PF_FRONT" "" u4@example.test "$T/m.eml" >"$T/o3"
t "skip_senders <>: a bounce left alone" whole u4
t "skip_senders <>: logged" logged 'from=<> .*policy=skip_senders'

# 4. skip_recipients: one listed among several, all get the whole body.
send "$PF_FRONT" a@example.org u5@example.test,u2@example.test,u6@example.test \
    "$T/m.eml" >"$T/o4"
t "skip_recipients: first recipient whole" whole u5
t "skip_recipients: the listed one whole" whole u2
t "skip_recipients: third recipient whole" whole u6
t "skip_recipients: logged nrcpt=3 policy=skip_recipients" \
    logged 'nrcpt=3 detached=0 saved=0 policy=skip_recipients'

# 5. skip_clients: XCLIENT on the front smtpd, XFORWARD ADDR to detach.
send "$PF_FRONT" a@example.org u7@example.test "$T/m.eml" \
    "ADDR=198.51.100.9 NAME=listed.example" >"$T/o5"
t "skip_clients: XCLIENT accepted" grep -q '^XCLIENT 220' "$T/o5"
t "skip_clients: a listed client's message whole" whole u7
t "skip_clients: logged policy=skip_clients" logged 'policy=skip_clients'
send "$PF_FRONT" a@example.org u8@example.test "$T/m.eml" \
    "ADDR=192.0.2.9 NAME=other.example" >"$T/o6"
t "skip_clients: another client's message detached" detached u8

# 6. SIGHUP after editing the file: list: the new list counts.
printf '192.0.2.0/24\n' >"$T/clients"
t "SIGHUP: reloaded" hup
send "$PF_FRONT" a@example.org u9@example.test "$T/m.eml" \
    "ADDR=192.0.2.9 NAME=other.example" >"$T/o7"
t "SIGHUP: a client added to the file is left alone" whole u9
send "$PF_FRONT" a@example.org u10@example.test "$T/m.eml" \
    "ADDR=198.51.100.9 NAME=listed.example" >"$T/o8"
t "SIGHUP: a client taken out of the file is detached" detached u10

# 7. detach_recipients (a file: list) and detach_senders.
conf "detach_recipients = file:$T/detachrcpt
detach_senders = example.org"
printf 'u20@example.test\nu21@example.test\n' >"$T/detachrcpt"
t "SIGHUP: detach_recipients and detach_senders in effect" hup
send "$PF_FRONT" a@example.org u20@example.test,u21@example.test "$T/m.eml" \
    >"$T/o9"
t "detach_recipients: every recipient listed, detached (1)" detached u20
t "detach_recipients: every recipient listed, detached (2)" detached u21
send "$PF_FRONT" a@example.org u22@example.test,u23@example.test "$T/m.eml" \
    >"$T/o10"
t "detach_recipients: none listed, whole" whole u22
send "$PF_FRONT" a@example.org u24@example.test,u21@example.test "$T/m.eml" \
    >"$T/o11"
t "detach_recipients: one of two not listed, whole" whole u24
t "detach_recipients: logged" logged 'nrcpt=2 detached=0 saved=0 policy=detach_recipients'
send "$PF_FRONT" x@elsewhere.example u25@example.test "$T/m.eml" >"$T/o12"
t "detach_senders: a sender not listed, whole" whole u25
t "detach_senders: logged" logged 'from=<x@elsewhere.example> .*policy=detach_senders'

pf_queue_empty
t "no spool file left" test -z "$(ls -A "$T/dspool")"
finish policy
