#!/bin/bash
# privdrop.test.sh - the proxy never processes mail as root
#
# Started as root with user = nobody, the process that serves mail runs
# as nobody: /proc/PID/status (the kernel's word) shows 65534 in every
# Uid and Gid field and nobody's groups (from id(1)), and a message with
# an attachment still goes through a real Postfix (tests/peers/postfix.sh)
# and is detached into objects that nobody owns. A user that is uid 0
# (root, or an alias made in a private mount namespace) or that does not
# exist is refused with exit 78 naming FILE:LINE; started as nobody the
# proxy stays nobody and says so; a SIGHUP that needs root is refused and
# the old settings stay; detach -t names a spool or store the user cannot
# write. Pipe mode never looks at user. Prints ok/FAIL lines.

cd "$(dirname "$0")/.." || exit 1
. tests/peers/postfix.sh

. tests/peers/common.sh

need_tools privdrop postfix swaks setpriv sha256sum python3
need_root privdrop
need_detach privdrop
getent passwd nobody >/dev/null || { echo "FAIL privdrop: no user nobody"; exit 1; }

DPID=
stop_all() {
	[ -n "$DPID" ] && kill "$DPID" 2>/dev/null && wait "$DPID" 2>/dev/null
	pf_stop
}
tmp_dir privdrop stop_all
chmod 755 "$T"

pf_init "$T/pf"
if ! pf_start; then
	echo "FAIL privdrop: Postfix did not start"
	exit 1
fi
mkdir -p "$T/store" "$T/dspool"
chown nobody: "$T/store" "$T/dspool"
SECRET=000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f

# conf FILE [LINE...] - a proxy configuration, then the extra lines
conf() {
	local f=$1
	shift
	{
		echo "store = dir:${STORE:-$T/store}"
		echo "link_base = https://files.example.test/a/"
		echo "secret = $SECRET"
		echo "spool_dir = ${SPOOL:-$T/dspool}"
		echo "listen = ${LISTEN:-127.0.0.1:$PF_FILTER}"
		echo "forward = 127.0.0.1:$PF_AFTER"
		echo "timeout = 30s"
		echo "hostname = detach.example.test"
		for l in "$@"; do echo "$l"; done
	} >"$f"
}

# line_of FILE KEY - the line KEY is set on
line_of() { grep -n "^$2 =" "$1" | tail -1 | cut -d: -f1; }

# wait_log FILE TEXT [N] - until FILE has N lines with TEXT (bounded)
wait_log() {
	local i=0 n
	while :; do
		n=$(grep -cF -- "$2" "$1" 2>/dev/null)
		[ "${n:-0}" -ge "${3:-1}" ] && return 0
		[ $i -ge 150 ] && return 1
		sleep 0.1; i=$((i + 1))
	done
}

# send RCPT - a message with a 300 KB attachment through the front smtpd
head -c 300000 /dev/urandom >"$T/att.bin"
WANT=$(sha256sum <"$T/att.bin" | cut -d' ' -f1)
send() {
	swaks --server 127.0.0.1 --port "$PF_FRONT" --helo client.test \
	    --from a@example.org --to "$1" --timeout 60 \
	    --attach-type application/octet-stream --attach-name att.bin \
	    --attach "@$T/att.bin" --suppress-data >"$T/swaks.$1" 2>&1
}
one_file() { ls "$PF/mail/$1/new/"* 2>/dev/null | head -1; }
# detached USER - USER's message has the link part for att.bin
detached() {
	pf_wait_count "$1" 1 && grep -qi "^X-Detach-SHA256: $WANT" "$(one_file "$1")"
}
# kept USER - USER's message still carries the attachment itself
kept() {
	pf_wait_count "$1" 1 && ! grep -qi "^X-Detach-" "$(one_file "$1")" &&
	    test "$(stat -c %s "$(one_file "$1")")" -gt 300000
}

# start LOG CONF [WRAPPER...] - start the proxy, wait for its listener
start() {
	local log=$1 c=$2
	shift 2
	"$@" "$DETACH" -c "$c" >"$log" 2>&1 &
	DPID=$!
	wait_log "$log" "listening on 127.0.0.1:$PF_FILTER"
}
stop() {
	kill -TERM "$DPID" 2>/dev/null
	wait "$DPID"
	local rc=$?
	DPID=
	return $rc
}

# ==== 1. Started as root with user = nobody: it serves mail as nobody.
conf "$T/d.conf" "min_size = 100k" "user = nobody"
start "$T/d.log" "$T/d.conf" || { echo "FAIL privdrop: detach did not start"; sed 's/^/# /' "$T/d.log"; exit 1; }
t "root start: logs the user it runs as" wait_log "$T/d.log" "running as user nobody (uid 65534, gid 65534)"
ST=/proc/$DPID/status
t "root start: every Uid is 65534" grep -qP '^Uid:\t65534\t65534\t65534\t65534$' "$ST"
t "root start: every Gid is 65534" grep -qP '^Gid:\t65534\t65534\t65534\t65534$' "$ST"
want_groups=$(id -G nobody | tr ' ' '\n' | sort -n | paste -sd' ')
have_groups=$(sed -n 's/^Groups:[[:space:]]*//p' "$ST" | tr ' \t' '\n\n' | sed '/^$/d' | sort -n | paste -sd' ')
t "root start: Groups are nobody's ($have_groups / $want_groups)" [ "$have_groups" = "$want_groups" ]
t "root start: no capability left" grep -q '^CapEff:[[:space:]]*0000000000000000$' "$ST"
send bob@example.test
t "root start: the attachment is detached through Postfix" detached bob
obj=$(find "$T/store" -type f -name att.bin | head -1)
t "root start: the object holds the file" [ -n "$obj" ] && [ "$(sha256sum <"$obj" | cut -d' ' -f1)" = "$WANT" ]
t "root start: nobody wrote the object" [ "$(stat -c %u:%g "${obj:-/}")" = 65534:65534 ]

# ==== 2. SIGHUP with another user: refused, the old settings stay
# (min_size = 1m in the same file would keep the attachment).
conf "$T/d.conf" "min_size = 1m" "user = daemon"
kill -HUP "$DPID"
t "SIGHUP user: refused" wait_log "$T/d.log" "reload: keeping the old settings: user daemon"
send alice@example.test
t "SIGHUP user: old settings stay (still detached)" detached alice
t "SIGHUP user: still nobody" grep -qP '^Uid:\t65534\t65534\t65534\t65534$' "$ST"

# ==== 3. SIGHUP adding a listener on a port below 1024: refused before
# anything is bound; mail flows on the old settings.
LISTEN="127.0.0.1:$PF_FILTER, 127.0.0.1:999" conf "$T/d.conf" "min_size = 1m" "user = nobody"
kill -HUP "$DPID"
t "SIGHUP low port: refused" wait_log "$T/d.log" "reload: keeping the old settings: listen 127.0.0.1:999: a port below 1024 needs root"
send carol@example.test
t "SIGHUP low port: mail flows on the old settings" detached carol

# ==== 4. SIGHUP rereads the file as nobody: a file only root may read
# is refused; once readable, the new settings take effect.
conf "$T/d.conf" "min_size = 1m" "user = nobody"
chmod 600 "$T/d.conf"
kill -HUP "$DPID"
t "SIGHUP as nobody: a file nobody cannot read is refused" \
    wait_log "$T/d.log" "reload: keeping the old settings: $T/d.conf: Permission denied"
chmod 644 "$T/d.conf"
kill -HUP "$DPID"
t "SIGHUP as nobody: a readable file is taken" wait_log "$T/d.log" "reload: new settings in effect"
send u1@example.test
t "SIGHUP as nobody: min_size = 1m in effect (kept)" kept u1
mkdir -p "$T/rootdir"
SPOOL=$T/rootdir conf "$T/d.conf" "min_size = 1m" "user = nobody"
kill -HUP "$DPID"
t "SIGHUP: a spool_dir nobody cannot write is warned about" \
    wait_log "$T/d.log" "warning: reload: spool_dir $T/rootdir: not writable by user nobody"
stop
t "root start: SIGTERM exits 0" [ $? -eq 0 ]

# ==== 5. Users the proxy refuses: 78 and FILE:LINE, nothing served.
conf "$T/r.conf" "user = root"
out=$(timeout 20 "$DETACH" -c "$T/r.conf" 2>&1); rc=$?
t "user = root: exit 78 ($rc)" [ $rc -eq 78 ]
t "user = root: names FILE:LINE ($out)" grep -qF "$T/r.conf:$(line_of "$T/r.conf" user): user: \"root\" is uid 0" <<<"$out"
t "user = root: never listened" [ "${out/listening/}" = "$out" ]
if unshare -m true 2>/dev/null; then
	# An alias of uid 0, in /etc/passwd as this process alone sees it.
	{ echo "toor:x:0:0:alias:/root:/bin/sh"; cat /etc/passwd; } >"$T/passwd"
	conf "$T/a.conf" "user = toor"
	out=$(unshare -m sh -c 'mount --bind "$1" /etc/passwd && exec timeout 20 "$2" -c "$3"' \
	    sh "$T/passwd" "$DETACH" "$T/a.conf" 2>&1); rc=$?
	t "user = toor (uid 0 alias): exit 78 ($rc)" [ $rc -eq 78 ]
	t "user = toor: names FILE:LINE ($out)" grep -qF "$T/a.conf:$(line_of "$T/a.conf" user): user: \"toor\" is uid 0" <<<"$out"
else
	echo "ok user = toor: skipped, no private mount namespace here"
fi
conf "$T/n.conf" "user = no-such-user-here"
out=$(timeout 20 "$DETACH" -c "$T/n.conf" 2>&1); rc=$?
t "unknown user: exit 78 ($rc)" [ $rc -eq 78 ]
t "unknown user: names FILE:LINE ($out)" grep -qF "$T/n.conf:$(line_of "$T/n.conf" user): user: no such user \"no-such-user-here\"" <<<"$out"
if ! getent passwd detach >/dev/null; then
	conf "$T/def.conf"
	out=$(timeout 20 "$DETACH" -c "$T/def.conf" 2>&1); rc=$?
	t "default user detach, absent: exit 78 naming the file ($out)" \
	    [ $rc -eq 78 ] && grep -qF "$T/def.conf: user: no such user \"detach\"" <<<"$out"
	# Pipe mode runs as its caller and never fails because of user.
	"$DETACH" -p -c "$T/def.conf" <"$(one_file bob)" >/dev/null 2>"$T/p.err"
	t "pipe mode: the default user, absent, does not matter ($(cat "$T/p.err"))" [ $? -eq 0 ]
fi
out=$(printf 'From: a@example.org\r\n\r\nhi\r\n' | "$DETACH" -p -c "$T/r.conf" 2>&1); rc=$?
t "pipe mode: user = root does not matter ($rc)" [ $rc -eq 0 ]

# ==== 6. Started as nobody: stays nobody, says so, mail flows.
conf "$T/o.conf" "min_size = 100k" "user = daemon"
start "$T/o.log" "$T/o.conf" setpriv --reuid=65534 --regid=65534 --clear-groups ||
    { echo "FAIL privdrop: detach did not start as nobody"; sed 's/^/# /' "$T/o.log"; exit 1; }
t "nobody start: logs that it did not change user" grep -q "not started as root: did not change user, running as nobody (uid 65534)" "$T/o.log"
t "nobody start: runs as 65534" grep -qP '^Uid:\t65534\t65534\t65534\t65534$' "/proc/$DPID/status"
send u2@example.test
t "nobody start: the attachment is detached" detached u2
stop

# ==== 7. Directories the user cannot write: detach -t names them (78),
# and the proxy does not start.
mkdir -p "$T/rootdir" "$T/closed/spool" "$T/closed/store" "$T/open/store"
chmod 0700 "$T/closed"
chmod 0777 "$T/closed/spool" "$T/closed/store"
chown nobody: "$T/open/store"
conf "$T/ok.conf" "user = nobody"
"$DETACH" -t -c "$T/ok.conf" >"$T/t.out" 2>&1
t "-t: writable spool and store pass ($(cat "$T/t.out"))" [ $? -eq 0 ]
SPOOL=$T/rootdir conf "$T/t1.conf" "user = nobody"
out=$("$DETACH" -t -c "$T/t1.conf" 2>&1); rc=$?
t "-t: a spool_dir of root's 0755: exit 78 ($rc)" [ $rc -eq 78 ]
t "-t: ... names the path and the user ($out)" grep -qF "spool_dir $T/rootdir: not writable by user nobody" <<<"$out"
SPOOL=$T/closed/spool conf "$T/t2.conf" "user = nobody"
out=$("$DETACH" -t -c "$T/t2.conf" 2>&1); rc=$?
t "-t: a 0777 spool_dir below a 0700 one: exit 78, named ($out)" \
    [ $rc -eq 78 ] && grep -qF "spool_dir $T/closed/spool: Permission denied" <<<"$out"
STORE=$T/rootdir conf "$T/t3.conf" "user = nobody"
out=$("$DETACH" -t -c "$T/t3.conf" 2>&1); rc=$?
t "-t: a dir store nobody cannot write: exit 78, named ($out)" \
    [ $rc -eq 78 ] && grep -qF "store $T/rootdir: not writable by user nobody" <<<"$out"
STORE=$T/open/store conf "$T/t4.conf" "user = daemon"
out=$("$DETACH" -t -c "$T/t4.conf" 2>&1); rc=$?
t "-t: checked for the user named, not for root or nobody ($out)" \
    [ $rc -eq 78 ] && grep -qF "not writable by user daemon" <<<"$out"
out=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$DETACH" -t -c "$T/t1.conf" 2>&1); rc=$?
t "-t as nobody: checks as itself, 78 naming the path ($out)" \
    [ $rc -eq 78 ] && grep -qF "spool_dir $T/rootdir: not writable by user nobody" <<<"$out"
out=$(timeout 20 "$DETACH" -c "$T/t1.conf" 2>&1); rc=$?
t "proxy: a spool_dir nobody cannot write stops it, 78 ($rc)" \
    [ $rc -eq 78 ] && grep -qF "spool_dir $T/rootdir: not writable" <<<"$out"

if [ "$fails" -ne 0 ]; then
	echo "# detach log:"; tail -20 "$T/d.log" | sed 's/^/# /'
	echo "# maillog:"; tail -10 "$PF/maillog" | sed 's/^/# /'
fi
finish privdrop
