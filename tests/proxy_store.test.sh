#!/bin/bash
# proxy_store.test.sh - through Postfix and detach to real stores, and back
#
# The whole path of a message: swaks -> front smtpd -> detach (the
# before-queue filter) -> after-filter smtpd -> queue -> virtual(8)
# maildir, with the attachment uploaded on the way to nginx over https
# (tests/peers/nginx.sh, a test CA made here by openssl) or to s3rver
# (tests/peers/s3rver.sh, path style). The link in the delivered
# message is then followed back to the store with curl and the bytes
# compared against sha256sum of the file the test attached; s3rver's
# and nginx's own logs count the uploads. Store down: the client's
# reply at the dot and the maildirs say what the policy did.
# Prints ok/FAIL lines.

cd "$(dirname "$0")/.." || exit 1
. tests/peers/postfix.sh
. tests/peers/nginx.sh
. tests/peers/s3rver.sh

. tests/peers/common.sh

need_tools proxy_store postfix nginx openssl curl swaks python3 node sha256sum
need_root proxy_store
need_detach proxy_store

DPID=
PF=
stop_all() {
	[ -n "$DPID" ] && kill "$DPID" 2>/dev/null && wait "$DPID" 2>/dev/null
	nginx_stop
	s3rver_stop
	[ -n "$PF" ] && pf_stop
}
tmp_dir proxy_store stop_all
chmod 755 "$T"
START=$(date +%s)

# ---- the peers
HP=$(free_port); SP=$(free_port); OP=$(free_port); WP=$(free_port)
S3P=$(free_port)
mkdir -p "$T/ng/pki" "$T/s3" "$T/dspool"
chown nobody: "$T/dspool"
pki_make "$T/ng/pki" || { echo "FAIL proxy_store: openssl could not make the test CA"; exit 1; }
if ! nginx_start "$T/ng" "$HP" "$SP" "$OP" "$WP"; then
	echo "FAIL proxy_store: nginx did not start"
	sed 's/^/# /' "$T/ng/logs/error.log"
	exit 1
fi
tests/peers/install-s3rver.sh >/dev/null 2>&1
if ! s3rver_start "$T/s3" "$S3P" bkt; then
	echo "FAIL proxy_store: s3rver did not start"
	sed 's/^/# /' "$T/s3/s3rver.log"
	exit 1
fi
CA=$T/ng/pki/ca.crt

# busy PORT - something listens on 127.0.0.1:PORT
busy() { (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null; }

pf_init "$T/pf"
# pf_init takes its ports from our pid: move any that is taken (another
# run, another test) to a free one, in master.cf as in the variables.
for v in PF_FRONT PF_FRONT2 PF_DIRECT PF_AFTER PF_FILTER PF_FILTER2; do
	old=${!v}
	busy "$old" || continue
	new=$(free_port)
	sed -i -e "s/127\.0\.0\.1:$old\([^0-9]\|\$\)/127.0.0.1:$new\1/g" "$PF/etc/master.cf"
	printf -v "$v" %s "$new"
done
if ! pf_start; then
	echo "FAIL proxy_store: Postfix did not start"
	exit 1
fi
# a port where nothing listens: the store that is down
DEAD=$(free_port)

LINK=https://files.example.test/a/
SECRET=$(openssl rand -hex 32)

# wait_for FILE TEXT [N] - until FILE has N lines with TEXT (bounded, 15 s)
wait_for() {
	local i=0 n
	while :; do
		n=$(grep -cF -- "$2" "$1" 2>/dev/null)
		[ "${n:-0}" -ge "${3:-1}" ] && return 0
		[ $i -ge 150 ] && return 1
		sleep 0.1; i=$((i + 1))
	done
}

# detach_run NAME LINE... - (re)start detach with these store lines;
# its log is $T/NAME.log
detach_run() {
	local n=$1
	shift
	if [ -n "$DPID" ]; then
		kill -TERM "$DPID" 2>/dev/null
		wait "$DPID" 2>/dev/null
		DPID=
	fi
	{
		echo "link_base = $LINK"
		echo "min_size = 100k"
		echo "secret = $SECRET"
		echo "spool_dir = $T/dspool"
		echo "tls_ca_file = $CA"
		echo "listen = 127.0.0.1:$PF_FILTER"
		echo "forward = 127.0.0.1:$PF_AFTER"
		# short, so that a session stuck on its store fails in time;
		# each step here takes milliseconds
		echo "timeout = 20s"
		echo "hostname = detach.example.test"
		echo "user = nobody"
		for l in "$@"; do echo "$l"; done
	} >"$T/$n.conf"
	"$DETACH" -c "$T/$n.conf" >"$T/$n.log" 2>&1 &
	DPID=$!
	if ! wait_for "$T/$n.log" "listening on 127.0.0.1:$PF_FILTER"; then
		echo "FAIL proxy_store: detach did not listen ($n)"
		sed 's/^/# /' "$T/$n.log"
		exit 1
	fi
}

# swaks_att OUT RCPT FILE TYPE NAME - swaks builds the MIME message
swaks_att() {
	swaks --server 127.0.0.1 --port "$PF_FRONT" --helo client.test \
	    --from a@example.org --to "$2" --timeout 120 \
	    --h-Subject "proxy_store $(basename "$3")" \
	    --attach-type "$4" --attach-name "$5" --attach "@$3" \
	    --suppress-data >"$1" 2>&1
}

# dot_reply OUT - the reply to the end of data in a swaks transcript
dot_reply() {
	awk '/^ *-> [0-9]+ lines sent/ { want = 1; next }
	    want && /^<[-*~][-*~]? / { print $2; exit }' "$1"
}

# one_file USER - the message delivered to USER
one_file() { ls "$PF/mail/$1/new/"* 2>/dev/null | head -1; }

# key_of FILE - the object key the delivered message links to
key_of() {
	sed -n "s|^X-Detach-URL: ${LINK}\([^ ]*\)\$|\1|p" "$1" | tr -d '\r' | head -1
}

sha_of() { sha256sum <"$1" | cut -d' ' -f1; }

# headers_sha FILE - X-Detach-SHA256 of the link part
headers_sha() { sed -n 's/^X-Detach-SHA256: *\([0-9a-fA-F]*\).*/\1/p' "$1" | head -1; }

# body_of FILE - a delivered message without the trace headers Postfix
# put on top (Return-Path, X-Original-To, Delivered-To, Received)
body_of() {
	awk 'top == 0 && /^(Return-Path|X-Original-To|Delivered-To|Received):/ { skip = 1; next }
	    top == 0 && skip && /^[ \t]/ { next }
	    { top = 1; skip = 0; print }' "$1"
}

# ==== 1. https store: one 1 MiB attachment, fetched back over https
detach_run https "store = https://localhost:$SP/up/" "upload_timeout = 20s"
head -c 1048576 /dev/urandom >"$T/one.bin"
WANT1=$(sha_of "$T/one.bin")
swaks_att "$T/one.out" bob@example.test "$T/one.bin" application/octet-stream one.bin
t "https: 250 at the dot" [ "$(dot_reply "$T/one.out")" = 250 ]
t "https: delivered" pf_wait_count bob 1
f=$(one_file bob); f=${f:-/dev/null}
k=$(key_of "$f")
t "https: link part delivered (key $k)" [ -n "$k" ]
t "https: base64 gone from the delivered message" [ "$(stat -c %s "$f")" -lt 20000 ]
t "https: X-Detach-SHA256 is the file's" [ "$(headers_sha "$f")" = "$WANT1" ]
curl -s --cacert "$CA" -o "$T/one.get" "https://localhost:$SP/up/$k"
t "https: the link's key fetched over https is the file" [ -n "$k" -a "$(sha_of "$T/one.get")" = "$WANT1" ]
t "https: detach logged detached=1" grep -q 'nrcpt=1 detached=1 saved=[1-9]' "$T/https.log"

# ==== 2. s3 store, path style
S3CONF=("store = s3://bkt/pfx" "s3_endpoint = http://127.0.0.1:$S3P"
    "s3_region = us-east-1" "s3_access_key = S3RVER" "s3_secret_key = S3RVER"
    "s3_path_style = yes" "upload_timeout = 20s")
detach_run s3 "${S3CONF[@]}"
head -c 1048576 /dev/urandom >"$T/two.bin"
WANT2=$(sha_of "$T/two.bin")
TYPE2=application/vnd.detach-test
swaks_att "$T/two.out" alice@example.test "$T/two.bin" "$TYPE2" two.dat
t "s3: 250 at the dot" [ "$(dot_reply "$T/two.out")" = 250 ]
t "s3: delivered" pf_wait_count alice 1
f=$(one_file alice); f=${f:-/dev/null}
k2=$(key_of "$f")
t "s3: link part delivered (key $k2)" [ -n "$k2" ]
t "s3: X-Detach-SHA256 is the file's" [ "$(headers_sha "$f")" = "$WANT2" ]
curl -s -D "$T/two.hdr" -o "$T/two.get" "http://127.0.0.1:$S3P/bkt/pfx/$k2"
t "s3: GET back from s3rver is the file" [ -n "$k2" -a "$(sha_of "$T/two.get")" = "$WANT2" ]
t "s3: object's Content-Type is the part's ($TYPE2)" \
    grep -qix "Content-Type: $TYPE2"$'\r' "$T/two.hdr"
t "s3: object's Content-Disposition names the file" \
    grep -qi '^Content-Disposition: attachment; filename="two.dat"' "$T/two.hdr"
okey=pfx/$(python3 -c 'import sys, urllib.parse; print(urllib.parse.unquote(sys.argv[1]))' "$k2")
t "s3: stored once" [ "$(s3rver_puts "$T/s3" "$okey")" = 1 ]

# ==== 3. the same attachment again: same key, HEAD finds it, no PUT
swaks_att "$T/three.out" carol@example.test "$T/two.bin" "$TYPE2" two.dat
t "s3 dedupe: 250 at the dot" [ "$(dot_reply "$T/three.out")" = 250 ]
t "s3 dedupe: delivered" pf_wait_count carol 1
f=$(one_file carol); f=${f:-/dev/null}
t "s3 dedupe: both deliveries link the same key" [ -n "$k2" -a "$(key_of "$f")" = "$k2" ]
t "s3 dedupe: still one PUT in s3rver's log" [ "$(s3rver_puts "$T/s3" "$okey")" = 1 ]
t "s3 dedupe: detach logged the skipped upload" \
    grep -qF "exists, upload skipped" "$T/s3.log"
curl -s -o "$T/three.get" "http://127.0.0.1:$S3P/bkt/pfx/$k2"
t "s3 dedupe: the object is still the file" [ "$(sha_of "$T/three.get")" = "$WANT2" ]

# ==== 5. ten sessions at once, each with its own attachment, over https
detach_run many "store = https://localhost:$SP/many/" "upload_timeout = 30s"
pids=
for i in $(seq 1 10); do
	head -c $((400000 + i * 50000)) /dev/urandom >"$T/m$i.bin"
done
for i in $(seq 1 10); do
	swaks_att "$T/m$i.out" "u$i@example.test" "$T/m$i.bin" \
	    application/octet-stream "m$i.bin" &
	pids="$pids $!"
done
wait $pids
ok250=0; okdel=0; okget=0; keys=
for i in $(seq 1 10); do
	[ "$(dot_reply "$T/m$i.out")" = 250 ] && ok250=$((ok250 + 1))
	pf_wait_count "u$i" 1 150 || continue
	okdel=$((okdel + 1))
	f=$(one_file "u$i")
	k=$(key_of "$f")
	[ -n "$k" ] || continue
	keys="$keys $k"
	curl -s --cacert "$CA" -o "$T/m$i.get" "https://localhost:$SP/many/$k"
	[ "$(sha_of "$T/m$i.get")" = "$(sha_of "$T/m$i.bin")" ] &&
	    [ "$(headers_sha "$f")" = "$(sha_of "$T/m$i.bin")" ] &&
	    okget=$((okget + 1))
done
t "10 sessions: 250 at every dot ($ok250/10)" [ "$ok250" = 10 ]
t "10 sessions: all delivered ($okdel/10)" [ "$okdel" = 10 ]
t "10 sessions: each link fetches its own file ($okget/10)" [ "$okget" = 10 ]
# on failure, what detach said, for whoever reads the log
[ "$okget" = 10 ] || grep -h 'warning\|error' "$T/many.log" | head -20 |
    sed 's/^/# /'
[ "$okget" = 10 ] || tail -5 "$T/ng/logs/error.log" | sed 's/^/# nginx: /'
t "10 sessions: ten different keys" \
    [ "$(printf '%s\n' $keys | sort -u | wc -l)" = 10 ]
puts=$(grep -c '^PUT /many/' "$T/ng/logs/timed.log")
t "10 sessions: ten PUTs at nginx ($puts)" [ "$puts" = 10 ]
t "10 sessions: one detach process, one thread" \
    [ "$(ls /proc/"$DPID"/task | wc -l)" = 1 -a -z "$(cat /proc/"$DPID"/task/*/children)" ]

# ==== 4. store down: tempfail answers 451, keep delivers the original
python3 - "$T/four.eml" "$T/four.bin" <<'EOF'
import base64, os, sys
data = os.urandom(300000)
open(sys.argv[2], "wb").write(data)
b64 = base64.encodebytes(data).decode().replace("\n", "\r\n")
m = ("From: <a@example.org>\r\nTo: <dave@example.test>\r\n"
     "Subject: store down\r\nDate: Wed, 1 Jan 2025 00:00:00 +0000\r\n"
     "Message-ID: <four@example.org>\r\nMIME-Version: 1.0\r\n"
     'Content-Type: multipart/mixed; boundary="b4"\r\n\r\n'
     "--b4\r\nContent-Type: text/plain\r\n\r\nsee the file\r\n"
     "--b4\r\nContent-Type: application/octet-stream\r\n"
     'Content-Disposition: attachment; filename="four.bin"\r\n'
     "Content-Transfer-Encoding: base64\r\n\r\n" + b64 + "--b4--\r\n")
open(sys.argv[1], "wb").write(m.encode())
EOF
WANT4=$(sha_of "$T/four.bin")
# swaks_data OUT RCPT [PORT] - the message above, as it is (swaks adds
# an empty line at its end)
swaks_data() {
	swaks --server 127.0.0.1 --port "${3:-$PF_FRONT}" --helo client.test \
	    --from a@example.org --to "$2" --timeout 120 \
	    --data "@$T/four.eml" --suppress-data >"$1" 2>&1
}
# attached_sha FILE - SHA-256 of the decoded attachment still in FILE
attached_sha() {
	python3 - "$1" <<'EOF'
import email, hashlib, sys
m = email.message_from_binary_file(open(sys.argv[1], "rb"))
for p in m.walk():
    if p.get_filename() == "four.bin":
        print(hashlib.sha256(p.get_payload(decode=True)).hexdigest())
EOF
}

detach_run down_tempfail "store = https://localhost:$DEAD/down/" \
    "on_store_failure = tempfail" "upload_timeout = 3s"
swaks_data "$T/four_t.out" s1@example.test
t "store down, tempfail: 451 at the dot" [ "$(dot_reply "$T/four_t.out")" = 451 ]
t "store down, tempfail: 451 4.3.0" grep -q '^<\*\* *451 4\.3\.0' "$T/four_t.out"
t "store down, tempfail: detach logged the store failure" \
    wait_for "$T/down_tempfail.log" "store failed"
pf_queue_empty
t "store down, tempfail: nothing delivered" [ "$(pf_count s1)" = 0 ]

detach_run down_keep "store = https://localhost:$DEAD/down/" \
    "on_store_failure = keep" "upload_timeout = 3s"
swaks_data "$T/four_k.out" s2@example.test
t "store down, keep: 250 at the dot" [ "$(dot_reply "$T/four_k.out")" = 250 ]
t "store down, keep: delivered" pf_wait_count s2 1
f=$(one_file s2); f=${f:-/dev/null}
# the reference: the same swaks run through the smtpd without filter
swaks_data "$T/four_d.out" s3@example.test "$PF_DIRECT"
pf_wait_count s3 1
d=$(one_file s3); d=${d:-/dev/null}
body_of "$d" >"$T/four.direct"
{ tr -d '\r' <"$T/four.eml"; echo; } >"$T/four.lf"
t "store down: the reference is the message swaks sent" cmp -s "$T/four.lf" "$T/four.direct"
same_as_direct() { [ -s "$T/four.direct" ] && cmp -s "$T/four.direct" <(body_of "$1"); }
t "store down, keep: delivered as without detach, bar trace headers" \
    same_as_direct "$f"
t "store down, keep: the attachment is still in it" [ "$(attached_sha "$f")" = "$WANT4" ]
t "store down, keep: no link part" sh -c "! grep -q '^X-Detach-URL:' '$f'"

kill -TERM "$DPID" 2>/dev/null && wait "$DPID"
rc=$?
DPID=
t "detach: exits 0 on SIGTERM" [ "$rc" = 0 ]
t "no spool file left" [ -z "$(ls -A "$T/dspool")" ]

echo "# proxy_store: $(($(date +%s) - START)) s"
if [ "$fails" -ne 0 ]; then
	for l in "$T"/*.log; do
		echo "# $l:"; tail -15 "$l" | sed 's/^/#   /'
	done
	echo "# maillog:"; tail -20 "$PF/maillog" | sed 's/^/#   /'
fi
finish proxy_store
