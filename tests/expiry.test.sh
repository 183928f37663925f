#!/bin/bash
# expiry.test.sh - renewal of objects on dedupe, and detach -x on a dir store
#
# Judged from the outside: file times with stat(1) after setting them
# back with touch -d, which files survive a sweep (find), exit codes by
# sysexits. The sweep runs next to detach -p storing the same object
# again and again; each time detach -p has announced the object, it must
# be in the store.  Prints ok/FAIL lines.

cd "$(dirname "$0")/.." || exit 1

. tests/peers/common.sh

need_detach expiry
need_tools expiry python3 sha256sum openssl stat touch find
tmp_dir expiry
mkdir -p "$T/store" "$T/spool"
SECRET=$(openssl rand -hex 32)

# a message with a 50 kB attachment of random bytes
make_att_msg "$T" "expiry test" 50000 report.bin

# the lines of every conf NAME LINE...
CONF_BASE=("store = dir:$T/store" "link_base = https://files.example.org/"
    "min_size = 1k" "secret = $SECRET" "spool_dir = $T/spool")

send() {	# send CONF: detach -p; exit code
	"$DETACH" -p -c "$T/$1.conf" <"$T/msg.eml" >"$T/$1.out" 2>"$T/$1.err"
	echo $?
}
mtime() { stat -c %Y "$1" 2>/dev/null || echo 0; }
now() { date +%s; }

conf keep "expire = 0"
conf renew "expire = 30d"
t "dir: first message stored (exit 0)" [ "$(send renew)" = 0 ]
obj=$(find "$T/store" -type f -name report.bin)
t "dir: the object at <root>/<32 hex>/report.bin" \
    test -n "$obj" -a "$(basename "$(dirname "$obj")" | grep -c '^[0-9a-f]\{32\}$')" = 1
t "dir: its bytes are the attachment's" [ "$(sha256sum <"$obj" | cut -d' ' -f1)" = "$WANT" ]

# ---- renewal on a dedupe hit
touch -d '20 days ago' "$obj"
old=$(mtime "$obj")
send keep >/dev/null
t "expire = 0: a dedupe hit leaves the time alone" [ "$(mtime "$obj")" = "$old" ]
t "expire = 30d: exit 0" [ "$(send renew)" = 0 ]
t "expire = 30d: a dedupe hit moves the time forward" \
    [ "$(mtime "$obj")" -ge "$(($(now) - 60))" ]
t "expire = 30d: the same file, not another" \
    [ "$(find "$T/store" -type f | wc -l)" = 1 -a "$(sha256sum <"$obj" | cut -d' ' -f1)" = "$WANT" ]

# ---- detach -x: what goes and what stays
K1=0123456789abcdef0123456789abcdef
K2=fedcba9876543210fedcba9876543210
K3=00000000000000000000000000000000
mkdir -p "$T/store/$K1" "$T/store/$K2" "$T/store/$K3" "$T/store/notakey" \
    "$T/outside/$K1" "$T/store/0123456789ABCDEF0123456789ABCDEF"
echo old >"$T/store/$K1/old.pdf"                 # due: goes, dir too
echo old >"$T/store/$K2/old.pdf"                 # due: goes
echo new >"$T/store/$K2/fresh.pdf"               # fresh: stays, dir too
echo tmp >"$T/store/$K2/.tmp.1.1"                # not an object name
echo x >"$T/store/notakey/old.pdf"               # not a key directory
echo x >"$T/store/0123456789ABCDEF0123456789ABCDEF/old.pdf"  # upper case
echo x >"$T/store/README"                        # a file in the root
echo x >"$T/store/.tmp.99.1"                     # not our temporary name
TMP_OLD=.tmp.4242.7.0123456789abcdef              # a dead writer's: goes
TMP_NEW=.tmp.4242.8.0123456789abcdef              # maybe being written: stays
TMP_LNK=.tmp.4242.9.0123456789abcdef              # a symlink: stays
# not store.c's temporary names, or not a file: they stay
TMP_KEEP=(.tmp.4242.10.0123456789abcde .tmp.4242.11.0123456789ABCDEF
    .tmp.4242.12.0123456789abcdef0 .tmp..13.0123456789abcdef
    .tmp.4242..0123456789abcdef)
for f in "${TMP_KEEP[@]}"; do echo keep >"$T/store/$f"; done
TMP_DIR=.tmp.4242.14.0123456789abcdef             # a directory: stays
mkdir "$T/store/$TMP_DIR"
echo old >"$T/store/$TMP_OLD"
echo new >"$T/store/$TMP_NEW"
ln -s "$T/outside/target.pdf" "$T/store/$TMP_LNK"
echo x >"$T/outside/target.pdf"
echo x >"$T/outside/$K1/old.pdf"
ln -s "$T/outside/target.pdf" "$T/store/$K3/link.pdf"   # symlink object
ln -s "$T/outside/$K1" "$T/store/fedcba9876543210fedcba98765432ff"  # symlink key dir
touch -h -d '40 days ago' "$T/store/$K1/old.pdf" "$T/store/$K2/old.pdf" \
    "$T/store/$K2/.tmp.1.1" "$T/store/notakey/old.pdf" \
    "$T/store/0123456789ABCDEF0123456789ABCDEF/old.pdf" "$T/store/README" \
    "$T/store/.tmp.99.1" "$T/outside/target.pdf" "$T/outside/$K1/old.pdf" \
    "$T/store/$K3/link.pdf" "$T/store/fedcba9876543210fedcba98765432ff" \
    "$T/store/$TMP_OLD" "$T/store/$TMP_LNK" "$T/store/$TMP_DIR" \
    "${TMP_KEEP[@]/#/$T/store/}"
touch -d '23 hours ago' "$T/store/$TMP_NEW"
touch -d '29 days ago' "$T/store/$K2/fresh.pdf"
# the object from above, past expire by less than the day of grace
touch -d '30 days ago' "$obj"
find "$T/store" "$T/outside" | sort >"$T/before"

"$DETACH" -x -c "$T/renew.conf" >"$T/x.out" 2>"$T/x.err"
rc=$?
find "$T/store" "$T/outside" | sort >"$T/after"
t "detach -x: exit 0 ($rc)" [ "$rc" = 0 ]
printf '%s\n' "$T/store/$K1" "$T/store/$K1/old.pdf" "$T/store/$K2/old.pdf" \
    "$T/store/$TMP_OLD" | sort >"$T/gone"
t "detach -x: exactly the two due objects, one key dir, one stale temporary file gone" \
    cmp -s "$T/gone" <(comm -23 "$T/before" "$T/after")
t "detach -x: nothing new under the root" [ -z "$(comm -13 "$T/before" "$T/after")" ]
t "detach -x: one line per deletion" \
    [ "$(grep -c "^deleted [0-9a-f]\{32\}/old.pdf size=4$" "$T/x.out")" = 2 ]
t "detach -x: one line for the stale temporary file" \
    grep -qx "deleted $TMP_OLD size=4" "$T/x.out"
t "detach -x: the summary" \
    grep -qx "swept $T/store: deleted 2 objects, 8 bytes; kept 2; deleted 1 stale temporary files" "$T/x.out"
t "detach -x: within the grace, the renewed object stays" [ -f "$obj" ]
t "detach -x: symlink target untouched" [ "$(cat "$T/outside/target.pdf")" = x ]

touch -d '32 days ago' "$obj"
"$DETACH" -x -c "$T/renew.conf" >"$T/x2.out" 2>&1
t "detach -x: past expire and the grace, the object goes" [ ! -e "$obj" ]
t "detach -x: and its key directory" [ ! -e "$(dirname "$obj")" ]

# ---- exit codes
"$DETACH" -x -c "$T/keep.conf" >"$T/x0.out" 2>&1
rc=$?
said() { [ "$1" = "$2" ] && grep -q "$3" "$4"; }
t "detach -x with expire = 0: exit 0, says nothing expires" \
    said "$rc" 0 "never expire" "$T/x0.out"
conf s3 "expire = 30d" "store = s3://bkt/x" "s3_endpoint = http://127.0.0.1:9" \
    "s3_access_key = A" "s3_secret_key = B"
"$DETACH" -x -c "$T/s3.conf" >"$T/xs3.out" 2>&1
rc=$?
t "detach -x on an s3 store: exit 78, points to the lifecycle rule" \
    said "$rc" 78 "lifecycle" "$T/xs3.out"
conf gone "expire = 30d" "store = dir:$T/nosuchdir"
"$DETACH" -x -c "$T/gone.conf" >/dev/null 2>&1
t "detach -x on a missing root: exit 74" [ "$?" = 74 ]

# ---- the sweep beside detach -p: an announced object is never lost.
# Each round sets the object past due, then runs a sweep and a message
# at once; whichever comes first, the object must be there after.
send renew >/dev/null
obj=$(find "$T/store" -type f -name report.bin)
lost=0
for i in $(seq 1 40); do
	[ -f "$obj" ] && touch -d '40 days ago' "$obj"
	"$DETACH" -x -c "$T/renew.conf" >/dev/null 2>&1 &
	sp=$!
	rc=$(send renew)
	wait "$sp"
	if [ "$rc" != 0 ] || [ ! -f "$obj" ] ||
	    [ "$(sha256sum <"$obj" | cut -d' ' -f1)" != "$WANT" ]; then
		lost=$((lost + 1))
	fi
done
t "sweep beside detach -p: the object survives 40 racing rounds ($lost lost)" [ "$lost" = 0 ]
t "sweep beside detach -p: no name left aside" \
    [ -z "$(find "$T/store" -name '.sweep.*' -o -name '.tmp.*' |
    grep -v -e "$T/store/.tmp.99.1" -e "$K2/.tmp.1.1" \
    -e "$T/store/$TMP_NEW" -e "$T/store/$TMP_LNK" -e "$T/store/$TMP_DIR" \
    -e "$T/store/.tmp.4242.1[0-2]" -e "$T/store/.tmp..13" -e "$T/store/.tmp.4242..")" ]

finish expiry
