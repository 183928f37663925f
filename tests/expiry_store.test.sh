#!/bin/bash
# expiry_store.test.sh - renewal of objects on dedupe in http(s) and S3 stores
#
# With expire set, a message that sends a file already stored must make
# the store keep it for the full time again: nginx gets a second PUT
# (its access log counts them), s3rver a CopyObject of the object onto
# itself (its log says "Copied object") that keeps the bytes, Content-Type and
# Content-Disposition (curl GET, sha256sum); a fake S3 checks the copy
# request's SigV4 signature with Python and answers it 200 with an
# <Error>, which must not pass for a renewal. Without expire, the HEAD
# dedupe stays: one PUT, no copy. Prints ok/FAIL lines.

cd "$(dirname "$0")/.." || exit 1
. tests/peers/nginx.sh
. tests/peers/s3rver.sh

. tests/peers/common.sh

need_tools expiry_store nginx openssl curl python3 node sha256sum
need_detach expiry_store
tmp_dir expiry_store "nginx_stop; s3rver_stop"

HP=$(free_port); SP=$(free_port); OP=$(free_port); WP=$(free_port)
S3P=$(free_port)
mkdir -p "$T/ng/pki" "$T/s3" "$T/spool"
pki_make "$T/ng/pki" || { echo "FAIL expiry_store: no test CA"; exit 1; }
nginx_start "$T/ng" "$HP" "$SP" "$OP" "$WP" ||
    { echo "FAIL expiry_store: nginx did not start"; exit 1; }
tests/peers/install-s3rver.sh >/dev/null 2>&1
s3rver_start "$T/s3" "$S3P" bkt ||
    { echo "FAIL expiry_store: s3rver did not start"; exit 1; }
CA=$T/ng/pki/ca.crt
LINK=https://files.example.org/
NAME='devis été.pdf'
ENAME=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$NAME")

make_att_msg "$T" "renewal test" 200000 "$NAME" pdf
SECRET=$(openssl rand -hex 32)

# the lines of every conf NAME LINE...
CONF_BASE=("link_base = $LINK" "min_size = 1k" "secret = $SECRET"
    "spool_dir = $T/spool" "tls_ca_file = $CA" "upload_timeout = 20s"
    "on_store_failure = tempfail")
run() {	# run NAME: exit code
	timeout 120 "$DETACH" -p -c "$T/$1.conf" <"$T/msg.eml" >"$T/$1.out" \
	    2>"$T/$1.err"
	echo $?
}
key() {
	grep -ao "${LINK}[0-9a-f]\{32\}/[A-Za-z0-9%._~-]*" "$T/$1.out" | head -1 |
	    cut -c$((${#LINK} + 1))-
}
puts() { grep -c "\"PUT /$1/" "$T/ng/logs/access.log"; }
sha_of() { sha256sum <"$1" | cut -d' ' -f1; }

# ---- nginx, plain http and https: a second PUT only with expire
for scheme in http https; do
	[ $scheme = http ] && port=$HP || port=$SP
	conf ${scheme}0 "store = $scheme://localhost:$port/n0$scheme/"
	conf ${scheme}1 "store = $scheme://localhost:$port/n1$scheme/" "expire = 30d"
	run ${scheme}0 >/dev/null; rc=$(run ${scheme}0)
	t "$scheme without expire: two messages, one PUT (exit $rc)" \
	    [ "$rc" = 0 -a "$(puts n0$scheme)" = 1 ]
	run ${scheme}1 >/dev/null; rc=$(run ${scheme}1)
	t "$scheme with expire: two messages, two PUTs (exit $rc)" \
	    [ "$rc" = 0 -a "$(puts n1$scheme)" = 2 ]
	k=$(key ${scheme}1)
	curl -s --cacert "$CA" -o "$T/$scheme.get" "$scheme://localhost:$port/n1$scheme/$k"
	t "$scheme with expire: the object is whole" [ "$(sha_of "$T/$scheme.get")" = "$WANT" ]
done

# ---- s3rver: CopyObject onto itself moves Last-Modified
s3conf() {	# s3conf NAME PREFIX STYLE LINE...
	n=$1 p=$2 style=$3
	shift 3
	if [ "$style" = path ]; then
		ep="http://127.0.0.1:$S3P" ps=yes
	else
		ep="http://s3.localhost:$S3P" ps=no
	fi
	conf "$n" "store = s3://bkt/$p" "s3_endpoint = $ep" \
	    "s3_access_key = S3RVER" "s3_secret_key = S3RVER" \
	    "s3_path_style = $ps" "$@"
}
metatime() {	# metatime PREFIX: mtime of s3rver's metadata file for it
	stat -c %Y "$(find "$T/s3/data/bkt/$1" -name '*metadata.json' | head -1)" 2>/dev/null
}
copies() { grep -c 'Copied object' "$T/s3/s3rver.log"; }
gt() { [ -n "$1" ] && [ -n "$2" ] && [ "$1" -gt "$2" ]; }

s3conf s30 e0 path
run s30 >/dev/null
c0=$(copies)
rc=$(run s30)
t "s3 without expire: no copy on the second message (exit $rc)" \
    [ "$rc" = 0 -a "$(copies)" = "$c0" ]

# s3rver takes a copy onto itself (REPLACE) by rewriting the object's
# metadata; its Last-Modified is its file's time, which it leaves as is
# (AWS moves it: a copy makes a new object). So what moves here is the
# metadata's time; the request itself is checked below against a SigV4
# computed in Python.
for style in path vhost; do
	s3conf s3$style e$style $style "expire = 30d"
	rc=$(run s3$style)
	k=$(key s3$style)
	okey=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.unquote(sys.argv[1]))' "e$style/$k")
	t "s3 $style: first message stores it (exit $rc)" \
	    [ "$rc" = 0 -a "$(s3rver_puts "$T/s3" "$okey")" = 1 ]
	before=$(metatime e$style)
	c0=$(copies)
	# file times have whole seconds: let one pass (bounded)
	for _ in $(seq 1 30); do
		[ "$(date +%s)" -gt "${before:-0}" ] && break
		python3 -c 'import time; time.sleep(0.1)'
	done
	rc=$(run s3$style)
	after=$(metatime e$style)
	t "s3 $style: second message exits 0 ($rc)" [ "$rc" = 0 ]
	t "s3 $style: one CopyObject, no second upload" \
	    [ "$(copies)" = $((c0 + 1)) -a "$(s3rver_puts "$T/s3" "$okey")" = 1 ]
	t "s3 $style: the copy replaced the object's metadata ($before -> $after)" \
	    gt "$after" "$before"
	curl -s -D "$T/s3$style.hdr" -o "$T/s3$style.get" "http://127.0.0.1:$S3P/bkt/e$style/$k"
	t "s3 $style: the bytes are whole" [ "$(sha_of "$T/s3$style.get")" = "$WANT" ]
	t "s3 $style: Content-Type kept" grep -qi '^Content-Type: application/pdf' "$T/s3$style.hdr"
	t "s3 $style: Content-Disposition kept" \
	    grep -qiF "filename*=UTF-8''$ENAME" "$T/s3$style.hdr"
done

# ---- a fake S3 (tests/peers/fake_s3_copy.py) checks the copy request
# and its SigV4 signature with Python's hmac, then answers the copy 200
# with an <Error> body: no renewal, so the bytes are PUT again
GP=$(free_port)
python3 tests/peers/fake_s3_copy.py "$GP" "$T/fake.sig" S >"$T/fake.srv" 2>&1 &
gpid=$!
for _ in $(seq 1 100); do
	(exec 3<>/dev/tcp/127.0.0.1/"$GP") 2>/dev/null && break
	python3 -c 'import time; time.sleep(0.05)'
done
conf fake "store = s3://bkt/f" "s3_endpoint = http://127.0.0.1:$GP" \
    "s3_access_key = K" "s3_secret_key = S" "s3_path_style = yes" "expire = 30d"
rc=$(run fake)
kill "$gpid" 2>/dev/null; wait "$gpid" 2>/dev/null
sig() { grep -qxF "$1" "$T/fake.sig" 2>/dev/null; }
both() { sig "$1" && sig "$2"; }
t "s3 copy: its SigV4 signature verifies (Python)" sig "signature good"
t "s3 copy: x-amz-copy-source is the object's own /bucket/key" sig "source True"
t "s3 copy: x-amz-metadata-directive: REPLACE" sig "directive REPLACE"
t "s3 copy: the copy's x-amz-* headers are signed" \
    sig "signed host;x-amz-content-sha256;x-amz-copy-source;x-amz-date;x-amz-metadata-directive"
t "s3 copy: no body, the empty body's hash as payload" \
    both "length 0" "payload e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
t "s3 copy: Content-Type and Content-Disposition sent again" \
    both "type application/pdf" "disposition True"
t "s3 copy answered 200 <Error>: the bytes are PUT instead (exit $rc)" \
    [ "$rc" = 0 -a "$(tr '\n' ' ' <"$T/fake.srv")" = "HEAD PUT copy PUT " ]

finish expiry_store
