#!/bin/bash
# restore.test.sh - detach -R, the way back, against real stores
#
# For each store kind, a dir store, nginx over https (test CA) and
# s3rver (path style), tests/restorecheck.py runs detach -p over the
# message corpus with min_size = 1 and detach -R over what it made, and
# judges with Python's email package: every part detached comes back
# with the same decoded bytes, file name and content type, everything
# else byte for byte. It then alters objects on the store behind
# detach's back (a byte changed, added, removed; the object deleted):
# exit 65, nothing on stdout. Here: a store that is stopped gives exit
# 75 and nothing on stdout; a 100 MB attachment goes there and back in
# bounded memory (/usr/bin/time -v), its bytes checked with sha256sum.
# Prints ok/FAIL lines.

cd "$(dirname "$0")/.." || exit 1
. tests/peers/nginx.sh
. tests/peers/s3rver.sh

. tests/peers/common.sh

need_tools restore nginx openssl curl python3 node sha256sum base64 \
    /usr/bin/time
need_detach restore
tmp_dir restore "nginx_stop; s3rver_stop"

HP=$(free_port); SP=$(free_port); OP=$(free_port); WP=$(free_port)
S3P=$(free_port)
mkdir -p "$T/ng/pki" "$T/s3" "$T/spool" "$T/dir"
if ! pki_make "$T/ng/pki"; then
	echo "FAIL restore: openssl could not make the test CA"
	exit 1
fi
if ! nginx_start "$T/ng" "$HP" "$SP" "$OP" "$WP"; then
	echo "FAIL restore: nginx did not start"
	cat "$T/ng/logs/error.log"
	exit 1
fi
tests/peers/install-s3rver.sh >/dev/null 2>&1
if ! s3rver_start "$T/s3" "$S3P" bkt; then
	echo "FAIL restore: s3rver did not start"
	cat "$T/s3/s3rver.log"
	exit 1
fi

# the lines of every conf NAME LINE... : $T/NAME.conf
CONF_BASE=("link_base = https://files.example.org/a/" "min_size = 1"
    "secret = $(printf '%064d' 7)" "spool_dir = $T/spool"
    "on_store_failure = tempfail" "upload_timeout = 20s"
    "tls_ca_file = $T/ng/pki/ca.crt")
conf dir "store = dir:$T/dir"
conf https "store = https://localhost:$SP/files/"
conf s3 "store = s3://bkt/rs" "s3_endpoint = http://127.0.0.1:$S3P" \
    "s3_region = us-east-1" "s3_access_key = S3RVER" \
    "s3_secret_key = S3RVER" "s3_path_style = yes"

check() {	# check NAME KIND WHERE
	python3 tests/restorecheck.py --detach "$DETACH" --conf "$T/$1.conf" \
	    --name "$1" --kind "$2" --where "$3"
	[ $? -eq 0 ] || fails=$((fails + 1))
}
check dir dir "$T/dir"
check https http "$T/ng/www/files"
check s3 s3 "http://127.0.0.1:$S3P/bkt/rs"

# ---- a 100 MB attachment there and back, memory measured ----
big() {	# big NAME: detach -p, then detach -R under /usr/bin/time -v
	n=$1
	"$DETACH" -p -c "$T/$n.conf" <"$T/big.eml" >"$T/$n.big.det" || return 1
	[ "$(stat -c %s "$T/$n.big.det")" -lt 65536 ] || return 1
	/usr/bin/time -v "$DETACH" -R -c "$T/$n.conf" <"$T/$n.big.det" \
	    >"$T/$n.big.out" 2>"$T/$n.big.time" || return 1
	rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' \
	    "$T/$n.big.time")
	echo "# 100 MB attachment, $n store: detach -R peak RSS $rss KiB"
	# the restored part's base64, decoded by coreutils
	got=$(sed -n '/^Content-Transfer-Encoding: base64/,/^--big-1--/p' \
	    "$T/$n.big.out" | tr -d '\r' | sed '1,2d;$d' | base64 -d |
	    sha256sum | cut -d' ' -f1)
	[ "$got" = "$want" ] && [ "$rss" -lt 16384 ]
}
{
	printf 'From: a@example.org\r\nTo: b@example.org\r\nSubject: big\r\n'
	printf 'MIME-Version: 1.0\r\n'
	printf 'Content-Type: multipart/mixed; boundary="big-1"\r\n\r\n'
	printf -- '--big-1\r\nContent-Type: text/plain\r\n\r\nBig file.\r\n'
	printf -- '--big-1\r\nContent-Type: application/octet-stream; name="big.bin"\r\n'
	printf 'Content-Disposition: attachment; filename="big.bin"\r\n'
	printf 'Content-Transfer-Encoding: base64\r\n\r\n'
	head -c 100000000 /dev/urandom | tee "$T/big.raw" | base64 -w 76 |
	    sed 's/$/\r/'
	printf -- '--big-1--\r\n'
} >"$T/big.eml"
want=$(sha256sum <"$T/big.raw" | cut -d' ' -f1)
rm -f "$T/big.raw"
t "restore dir: 100 MB attachment back, RSS under 16 MiB" big dir
t "restore https: 100 MB attachment back, RSS under 16 MiB" big https
rm -f "$T"/*.big.* "$T/big.eml"

# ---- a store that is down: 75, nothing written ----
python3 - "$T" <<'EOF'
import email.message, email.policy, os, sys
m = email.message.EmailMessage()
m["From"] = "a@example.org"
m["To"] = "b@example.org"
m["Subject"] = "down"
m.set_content("attached\n")
m.add_attachment(os.urandom(20000), maintype="application",
                 subtype="octet-stream", filename="down.bin")
open(os.path.join(sys.argv[1], "down.eml"), "wb").write(
    m.as_bytes(policy=email.policy.SMTP))
EOF
down() {	# down NAME: the store was stopped after detach -p
	rc=0
	timeout 60 "$DETACH" -R -c "$T/$1.conf" <"$T/$1.down.det" \
	    >"$T/$1.down.out" 2>"$T/$1.down.err" || rc=$?
	[ "$rc" -eq 75 ] && [ ! -s "$T/$1.down.out" ] &&
	    grep -q 'https://files.example.org/a/[0-9a-f]\{32\}/down.bin' \
	    "$T/$1.down.err"
}
"$DETACH" -p -c "$T/https.conf" <"$T/down.eml" >"$T/https.down.det"
"$DETACH" -p -c "$T/s3.conf" <"$T/down.eml" >"$T/s3.down.det"
nginx_stop
# stopped when it no longer answers (bounded)
for _ in $(seq 1 100); do
	curl -s -o /dev/null "http://127.0.0.1:$HP/" || break
	python3 -c 'import time; time.sleep(0.05)'
done
t "restore https: nginx stopped: exit 75, nothing written" down https
s3rver_stop
t "restore s3: s3rver stopped: exit 75, nothing written" down s3

finish restore
