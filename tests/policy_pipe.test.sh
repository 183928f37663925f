#!/bin/bash
# policy_pipe.test.sh - policy in pipe mode: detach -p -f SENDER -- RCPT...
#
# A message that policy leaves alone must come out byte for byte (cmp)
# and store nothing; another must be detached: its output differs and
# the store holds one more file. The envelope is given as Postfix's
# pipe(8) gives it (-f ${sender} -- ${recipient}); an empty sender is
# the null sender <>. Also: detach -t warns of sender and recipient
# lists (exit 0), -n prints the lists as written, -f and recipients
# belong to -p only.
cd "$(dirname "$0")/.." || exit 1
ok() { echo "ok $*"; }
fail() { echo "FAIL $*"; }

if [ ! -x ./detach ]; then
	fail "policy_pipe: ./detach is not built"
	exit 1
fi
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
mkdir "$T/store" "$T/spool"
# detach -t as root checks the spool and store as `user`.
chmod 755 "$T"
[ "$(id -u)" = 0 ] && chown nobody: "$T/store" "$T/spool"
printf '# left whole\n\nwhole@in.example\n' >"$T/whole"
cat >"$T/c.conf" <<EOF
store = dir:$T/store
link_base = https://files.example.org/a/
min_size = 1k
secret = $(printf '%064d' 7)
spool_dir = $T/spool
user = nobody
skip_senders = boss@example.org, <>
detach_recipients = in.example .in.example
skip_recipients = file:$T/whole
skip_clients = 0.0.0.0/0 ::/0
EOF
MSG=tests/corpus/flanker/attached-pdf.eml

# run NAME EXPECT(whole|detached) ARGS... : one message through detach -p
run() {
	name=$1 want=$2
	shift 2
	rm -rf "$T/store"/*
	if ! ./detach -p -c "$T/c.conf" "$@" <"$MSG" >"$T/out" 2>"$T/err"; then
		fail "$name: exit $? ($(head -c 200 "$T/err"))"
		return
	fi
	nfiles=$(find "$T/store" -type f | wc -l)
	if [ "$want" = whole ]; then
		if cmp -s "$MSG" "$T/out" && [ "$nfiles" -eq 0 ]; then
			ok "$name: byte for byte, nothing stored"
		else
			fail "$name: changed ($nfiles files stored)"
		fi
	else
		if ! cmp -s "$MSG" "$T/out" && [ "$nfiles" -eq 1 ]; then
			ok "$name: detached, one file stored"
		else
			fail "$name: not detached ($nfiles files stored)"
		fi
	fi
}

run "no envelope: no sender or recipient list applies" detached
run "skip_senders: a listed sender" whole -f boss@example.org
run "skip_senders: the domain in another case" whole -f boss@EXAMPLE.Org
run "skip_senders: the local part is exact" detached -f Boss@example.org
run "skip_senders: -f '' is <>" whole -f ''
run "skip_senders: -f '<>'" whole -f '<>'
run "another sender" detached -f other@example.org
run "skip_senders: a sender quoted by pipe(8)'s q flag" whole \
    -f '"boss"@example.org'
run "skip_senders: a sender in angle brackets" whole -f '<boss@example.org>'
run "detach_recipients: every recipient listed" detached \
    -f other@example.org -- a@in.example b@sub.in.example
run "detach_recipients: one recipient not listed" whole \
    -f other@example.org -- a@in.example c@out.example
run "detach_recipients: recipients without -f" whole c@out.example
run "skip_recipients: one among several, file: list" whole \
    -f other@example.org -- a@in.example whole@in.example b@in.example
run "skip_clients: no client in pipe mode" detached -f a@b.example

# A pipe rather than a file on stdin: the same.
rm -rf "$T/store"/*
cat "$MSG" | ./detach -p -c "$T/c.conf" -f boss@example.org >"$T/out"
if cmp -s "$MSG" "$T/out"; then
	ok "skip_senders: a pipe on stdin, byte for byte"
else
	fail "skip_senders: a pipe on stdin changed the message"
fi

# -t warns of the sender and recipient lists, exit 0.
./detach -t -c "$T/c.conf" 2>"$T/err"
rc=$?
if [ $rc -eq 0 ] && grep -q 'warning: skip_senders applies in pipe mode only' \
    "$T/err" && grep -q 'warning: skip_recipients' "$T/err" &&
    grep -q 'warning: detach_recipients' "$T/err" &&
    ! grep -q 'skip_clients' "$T/err"; then
	ok "-t warns of each sender and recipient list, exit 0"
else
	fail "-t: exit $rc, stderr: $(cat "$T/err")"
fi
./detach -n -c "$T/c.conf" >"$T/n"
if grep -qx "skip_recipients = file:$T/whole" "$T/n" &&
    grep -qx 'skip_senders = boss@example.org, <>' "$T/n" &&
    grep -qx 'skip_clients = 0.0.0.0/0 ::/0' "$T/n" &&
    grep -qx 'detach_senders = ' "$T/n"; then
	ok "-n prints the lists as written"
else
	fail "-n: $(grep -E 'senders|recipients|clients' "$T/n")"
fi
./detach -t -c "$T/c.conf" -f a@b.example 2>/dev/null
rc1=$?
./detach -n -c "$T/c.conf" a@b.example >/dev/null 2>&1
rc2=$?
if [ $rc1 -eq 64 ] && [ $rc2 -eq 64 ]; then
	ok "-f and recipients are for -p only: 64"
else
	fail "-f or recipients outside -p: $rc1 $rc2"
fi

# A bad list file is a configuration error naming its line.
printf 'ok@in.example\nbad@@in.example\n' >"$T/whole"
./detach -t -c "$T/c.conf" 2>"$T/err"
rc=$?
if [ $rc -eq 78 ] && grep -q "$T/whole:2: bad entry" "$T/err"; then
	ok "a bad file: list entry: 78, FILE:LINE"
else
	fail "bad list: exit $rc, $(cat "$T/err")"
fi
