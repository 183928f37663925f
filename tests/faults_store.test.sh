#!/bin/bash
# faults_store.test.sh - the fault matrix: the store and file systems
#
# The same chain and invariants as faults.test.sh (tests/peers/
# faults.sh), with the faults on the other side of detach:
#   - the http store through tests/peers/faultproxy.py, in front of the
#     real nginx: connection refused, no answer past upload_timeout, a
#     500 once then the retry passed through, a PUT reset half way
#     (every time, and once); and over https (the proxy forwarding TLS
#     bytes to a second nginx) refused and hanging;
#   - small tmpfs mounts: the spool full (bytes; inodes, so the message
#     spools and its attachment does not), the dir store full (bytes,
#     inodes) and read-only.
# Each under on_store_failure = keep and = tempfail, with a message
# carrying an attachment and one without: what the client saw, what
# arrived, and the links followed are the rows of tests/FAULTS.md. An
# attachment kept inline must arrive byte for byte (its decoded
# SHA-256 against sha256sum of the file sent). detach's log must name
# each cause. A mount that fails is a SKIP, not a failure.
# Prints ok/FAIL/SKIP lines.

cd "$(dirname "$0")/.." || exit 1
. tests/peers/faults.sh
. tests/peers/faultproxy.sh
START=$(date +%s)
fa_setup

MNTS=
fs_cleanup() {
	local m
	fp_stop
	for m in $MNTS; do
		umount "$m" 2>/dev/null
	done
	[ -n "$NG2" ] && NGINX_PREFIX=$NG2 nginx_stop
	fa_cleanup
}
trap fs_cleanup EXIT

# ---- the stores behind the proxies: nginx's /h/ over http, and a
# second nginx serving the same files over https
FP=$(free_port)
fp_start p "$T" "$FP" "$HP" ||
    { echo "FAIL faults_store: the fault proxy did not start"; exit 1; }
NG2=
TLS=
mkdir -p "$T/ng2/pki"
ln -s "$T/ng/www" "$T/ng2/www"
NG1=$NGINX_PREFIX
HP2=$(free_port); SP2=$(free_port); OP2=$(free_port); WP2=$(free_port)
if pki_make "$T/ng2/pki" && nginx_start "$T/ng2" "$HP2" "$SP2" "$OP2" "$WP2"
then
	NG2=$NGINX_PREFIX
	FT=$(free_port)
	fp_start t "$T" "$FT" "$SP2" --raw && TLS=1
fi
NGINX_PREFIX=$NG1
# a store that hangs costs upload_timeout per message: keep it short
UPT="upload_timeout = 3s"
HTTP=("store = http://127.0.0.1:$FP/h/" "link_base = $FA_HTTPLINK" "$UPT")
HTTPS=("store = https://localhost:$FT/h/" "link_base = $FA_HTTPLINK"
    "tls_ca_file = $T/ng2/pki/ca.crt" "$UPT")

# fs_pair NAME [SIZE] - a plain and an attachment message (SIZE bytes
# of attachment, default fa_msg's), one after the other (a spool with
# room for one file must see one message at a time); sets P, A
fs_pair() {
	P=$(fa_id "$1-plain")
	A=$(fa_id "$1-att")
	fa_msg "$P" plain
	fa_msg "$A" att ${2:+"$2"}
	fa_send "$P" "$P" none go
	fa_wait "$P"
	fa_send "$A" "$A" none go
	fa_wait "$A"
}

# fs_mark - remember where detach's log stands
fs_mark() { LOGMARK=$(wc -l <"$T/detach.log"); }

# fs_logged NAME ERE - detach logged a line matching ERE since the mark
# (each ERE wants the session's name first: a cause the postmaster
# cannot tie to a message is half told)
fs_logged() {
	local got
	got=$(tail -n +"$((LOGMARK + 1))" "$T/detach.log" | grep -E -m1 -- "$2")
	fa_t "$1: detach's log names the cause (${got:-nothing like /$2/})" \
	    [ -n "$got" ]
	# what it said instead, for the reader of a failure
	[ -n "$got" ] || tail -n +"$((LOGMARK + 1))" "$T/detach.log" |
	    grep -E 'store|object' | head -n 5 | sed 's/^/# log: /'
}

# fs_want NAME WANT - the client of the plain message saw 250, that of
# the attachment WANT (250, 4xx, or any: either): what the policy
# promises
fs_want() {
	local p a k
	p=$(fa_res "$P")
	a=$(fa_res "$A")
	case $a in
	250) k=250 ;;
	4[0-9][0-9]) k=4xx ;;
	*) k=$a ;;
	esac
	fa_t "$1, plain: 250 ($p)" [ "$p" = 250 ]
	if [ "$2" = any ]; then
		fa_t "$1, att: 250 or a 4xx ($a)" [ "$k" = 250 -o "$k" = 4xx ]
	else
		fa_t "$1, att: $2 ($a)" [ "$k" = "$2" ]
	fi
}

# fs_told FAULT STAGE - a 4xx for the attachment's message names what
# failed, so that the postmaster reading the deferral looks at the right
# place: the attachment store, or detach's spool
fs_told() {
	case $(fa_res "$A") in
	4??) ;;
	*) return ;;
	esac
	if [ "$2" = store ]; then
		fa_t "$1: the 4xx says the store failed" \
		    grep -q '^<- 451 4.3.0 Error: attachment store unavailable' \
		    "$T/c/$A.out"
	else
		fa_t "$1: the 4xx says the spool failed" \
		    grep -q '^<- 451 4.3.0 Error: queue file write error' \
		    "$T/c/$A.out"
	fi
}

# pol_want - under keep a store failure keeps the part (250), under
# tempfail it fails the message (4xx)
pol_want() { [ "$pol" = keep ] && echo 250 || echo 4xx; }

# fs_proxy FAULT MODE POLICY WANT CAUSE [PROXY] - the store proxy (p, or
# t: https) in MODE for one pair, then back to pass and the invariants;
# WANT as fs_want, CAUSE an ERE that detach's log must match
fs_proxy() {
	echo "# $1 ($3) at $(($(date +%s) - START)) s"
	fs_mark
	fa_t "$1: the proxy is in $2" fp_mode "${6:-p}" "$2"
	fs_pair "${6:-p}-$2-$3"
	fp_mode "${6:-p}" pass
	fs_want "$1, $3" "$4"
	fs_told "$1, $3" store
	fs_logged "$1, $3" "$5"
	fa_check "$1 ($3)" "store" strict "$P" "$A"
}

# ==== the http store: each proxy fault under keep, then tempfail
for pol in keep tempfail; do
	fa_detach_stop
	fa_detach_start "${HTTP[@]}" "on_store_failure = $pol"
	FA_KEPT_OK=$([ $pol = keep ] && echo 1)
	fs_proxy "store refuses connections" refuse $pol "$(pol_want)" \
	    '[0-9A-F]+: store .*: connect to 127\.0\.0\.1:[0-9]+: Connection refused'
	fs_proxy "store accepts, never answers" hang $pol "$(pol_want)" \
	    '[0-9A-F]+: store .*: HEAD: no answer within 3000 ms'
	fs_proxy "store answers 500 once" 500once $pol 250 \
	    '[0-9A-F]+: object .* stored after 2 tries; last error: PUT http://[^ ]*: 500 Internal Server Error'
	fs_proxy "store resets each PUT half way" reset $pol "$(pol_want)" \
	    '[0-9A-F]+: store .*: PUT http://[^ ]*: Connection reset by peer'
	fs_proxy "store resets one PUT half way" resetonce $pol 250 \
	    '[0-9A-F]+: object .* stored after 2 tries; last error: PUT http://[^ ]*: Connection reset by peer'
done

# ==== the https store, tempfail
if [ -n "$TLS" ]; then
	fa_detach_stop
	fa_detach_start "${HTTPS[@]}" "on_store_failure = tempfail"
	FA_KEPT_OK=
	fs_proxy "https store refuses connections" refuse tempfail 4xx \
	    '[0-9A-F]+: store .*: connect to localhost:[0-9]+: Connection refused' t
	fs_proxy "https store accepts, never answers" hang tempfail 4xx \
	    '[0-9A-F]+: store .*: HEAD: no answer within 3000 ms' t
else
	fa_skip "https store faults" "no second nginx with TLS"
fi

# The file system faults stage themselves on two tmpfs mounts, made
# once, with room: the spool, and the dir store (whose objects must
# stay for the next link checks). A fault is a remount: little room
# left, one inode left, read-only; the remount back removes it.
FSOK=
fs_mount() {	# fs_mount DIR - a tmpfs on DIR for nobody
	mount -t tmpfs -o size=64m,nr_inodes=1000,uid=65534,gid=65534,mode=0755 \
	    tmpfs "$1" 2>"$T/mount.err" && MNTS="$1 $MNTS"
}
if fs_mount "$FA_SPOOL" && fs_mount "$FA_DIR"; then
	FSOK=1
else
	FSWHY="mount -t tmpfs: $(head -1 "$T/mount.err")"
fi

# fs_stage DIR free=KB|inodes=N|ro - leave KB of room on DIR's tmpfs,
# or N more inodes, or make it read-only
fs_stage() {
	local used
	case $2 in
	free=*)
		used=$(df -k --output=used "$1" | tail -1 | tr -d ' ')
		mount -o "remount,size=$((used + ${2#free=}))k" "$1" ;;
	inodes=*)
		used=$(df --output=iused "$1" | tail -1 | tr -d ' ')
		mount -o "remount,nr_inodes=$((used + ${2#inodes=}))" "$1" ;;
	ro)
		mount -o remount,ro "$1" ;;
	esac 2>"$T/mount.err"
}

fs_unstage() { mount -o remount,rw,size=64m,nr_inodes=1000 "$1"; }

# fs_fs TAG FAULT POLICY DIR FAULTSPEC SIZE WANT CAUSE STAGE - DIR's
# file system in FAULTSPEC (fs_stage) for one pair, with an attachment
# of SIZE bytes; then the fault gone, the invariants. WANT as fs_want,
# or "any" for a race the test does not decide
fs_fs() {
	if [ -z "$FSOK" ]; then
		fa_skip "$2 ($3)" "$FSWHY"
		return
	fi
	if ! fs_stage "$4" "$5"; then
		fa_skip "$2 ($3)" "remount $5: $(head -1 "$T/mount.err")"
		return
	fi
	fs_mark
	echo "# $2 ($3) at $(($(date +%s) - START)) s: $(df --output=used,size,iused,itotal "$4" | tail -1 |
	    awk '{ print $1 " of " $2 " KB, " $3 " of " $4 " inodes used" }')"
	fs_pair "$1-$3" "$6"
	fs_unstage "$4"
	fs_want "$2, $3" "$7"
	fs_told "$2, $3" "$9"
	fs_logged "$2, $3" "$8"
	fa_check "$2 ($3)" "$9" strict "$P" "$A"
}

# ==== file systems full or read-only, the dir store
for pol in keep tempfail; do
	fa_detach_stop
	fa_detach_start "on_store_failure = $pol" "$UPT"
	FA_KEPT_OK=$([ $pol = keep ] && echo 1)
	# 1 MB of room: the 2.7 MB of the message cannot be spooled
	fs_fs spoolbig "spool full, message larger than it" $pol \
	    "$FA_SPOOL" free=1024 2000000 4xx \
	    ': (message job failed|spool write error): spool.*: No space left on device' \
	    spool
	# 1 MB of room, 820 KB of message and 600 KB of attachment spooled
	# side by side: whichever write finds the room gone fails (the
	# attachment's: kept, under keep; the message's: 4xx)
	fs_fs spoolatt "spool full, message and attachment not both" $pol \
	    "$FA_SPOOL" free=1024 600000 \
	    "$([ $pol = keep ] && echo any || echo 4xx)" \
	    '[0-9A-F]+: spool .*: No space left on device' spool
	# one inode: the message's spool file, not its attachment's
	fs_fs spoolino "spool out of inodes, message fits, attachment not" \
	    $pol "$FA_SPOOL" inodes=1 300000 "$(pol_want)" \
	    '[0-9A-F]+: spool .*: No space left on device' spool
	fs_fs storefull "dir store full" $pol "$FA_DIR" free=64 600000 \
	    "$(pol_want)" \
	    '[0-9A-F]+: store .*: write .*/\.tmp\.[0-9a-f.]+: No space left on device' store
	fs_fs storeino "dir store out of inodes" $pol "$FA_DIR" inodes=1 \
	    300000 "$(pol_want)" \
	    '[0-9A-F]+: store .*: (create|mkdir) .*: No space left on device' store
	fs_fs storero "dir store read-only" $pol "$FA_DIR" ro 300000 \
	    "$(pol_want)" '[0-9A-F]+: store .*: create .*: Read-only file system' store
done

echo "# faults_store: $(($(date +%s) - START)) s"
fa_finish
exit 0
