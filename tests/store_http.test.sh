#!/bin/bash
# store_http.test.sh - uploads to real stores through pipe mode
#
# A private nginx (tests/peers/nginx.sh) over http and https with a test
# CA made here by openssl, and s3rver (tests/peers/s3rver.sh) as the S3
# peer. Each case runs ./detach -p -c CONF < message and judges from the
# outside: the bytes fetched back with curl against sha256sum of the
# original attachment, the Content-Type and Content-Disposition s3rver
# returns against what the message says, s3rver's own log for the
# dedupe, and the failure policy (keep: output equals input; tempfail:
# exit 75). Prints ok/FAIL lines.

cd "$(dirname "$0")/.." || exit 1
. tests/peers/nginx.sh
. tests/peers/s3rver.sh

. tests/peers/common.sh

need_tools store_http nginx openssl curl python3 node sha256sum
need_detach store_http
tmp_dir store_http "nginx_stop; s3rver_stop"

HP=$(free_port); SP=$(free_port); OP=$(free_port); WP=$(free_port)
S3P=$(free_port)
mkdir -p "$T/ng/pki" "$T/s3" "$T/spool"
if ! pki_make "$T/ng/pki"; then
	echo "FAIL store_http: openssl could not make the test CA"
	exit 1
fi
if ! nginx_start "$T/ng" "$HP" "$SP" "$OP" "$WP"; then
	echo "FAIL store_http: nginx did not start"
	cat "$T/ng/logs/error.log"
	exit 1
fi
tests/peers/install-s3rver.sh >/dev/null 2>&1
if ! s3rver_start "$T/s3" "$S3P" bkt; then
	echo "FAIL store_http: s3rver did not start"
	cat "$T/s3/s3rver.log"
	exit 1
fi
CA=$T/ng/pki/ca.crt
LINK=https://files.example.org/
NAME='rapport été.pdf'
ENAME=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$NAME")

# one message with a 300 kB attachment of random bytes
make_att_msg "$T" "store test" 300000 "$NAME" pdf
SECRET=$(openssl rand -hex 32)

# the lines of every conf NAME LINE... : $T/NAME.conf
CONF_BASE=("link_base = $LINK" "min_size = 1k" "secret = $SECRET"
    "spool_dir = $T/spool" "tls_ca_file = $CA" "upload_timeout = 20s")

run() {	# run NAME: exit code; output in $T/NAME.out, log in $T/NAME.err
	timeout 120 "$DETACH" -p -c "$T/$1.conf" <"$T/msg.eml" >"$T/$1.out" \
	    2>"$T/$1.err"
	echo $?
}

key() {	# the object key in the rewritten message's link
	grep -ao "${LINK}[0-9a-f]\{32\}/[A-Za-z0-9%._~-]*" "$T/$1.out" |
	    awk '{ print length($0), $0 }' | sort -rn | head -1 |
	    cut -d' ' -f2 | cut -c$((${#LINK} + 1))-
}

same_as_input() { cmp -s "$T/msg.eml" "$T/$1.out"; }
logged() { grep -q "$2" "$T/$1.err"; }
no_secret() { ! grep -qF "$2" "$T/$1.err" && ! grep -qF "$2" "$T/$1.out"; }
sha_of() { sha256sum <"$1" | cut -d' ' -f1; }

# ---- nginx over https: upload, GET back, bytes equal
conf https "store = https://localhost:$SP/up/"
rc=$(run https)
k=$(key https)
t "https: exit 0" [ "$rc" = 0 ]
t "https: the message links to the object" [ -n "$k" ]
curl -s --cacert "$CA" -o "$T/https.get" "https://localhost:$SP/up/$k"
t "https: GET back gives the original bytes" [ "$(sha_of "$T/https.get")" = "$WANT" ]

# ---- nginx over http, with a keep-alive HEAD then PUT
conf http "store = http://127.0.0.1:$HP/plain"
rc=$(run http)
k=$(key http)
curl -s -o "$T/http.get" "http://127.0.0.1:$HP/plain/$k"
t "http: exit 0" [ "$rc" = 0 ]
t "http: GET back gives the original bytes" [ "$(sha_of "$T/http.get")" = "$WANT" ]
heads=$(grep -c '"HEAD /plain/' "$T/ng/logs/access.log")
puts=$(grep -c '"PUT /plain/' "$T/ng/logs/access.log")
t "http: one HEAD then one PUT ($heads, $puts)" [ "$heads" = 1 -a "$puts" = 1 ]
rc=$(run http)
puts=$(grep -c '"PUT /plain/' "$T/ng/logs/access.log")
t "http: second run skips the PUT (HEAD dedupe)" [ "$rc" = 0 -a "$puts" = 1 ]

# ---- a certificate from another CA is refused
conf otherca "store = https://localhost:$OP/oca/" "on_store_failure = keep"
rc=$(run otherca)
t "other CA: refused, message passes unchanged (keep)" [ "$rc" = 0 ]
t "other CA: output equals input" same_as_input otherca
t "other CA: nothing stored" [ ! -e "$T/ng/www/oca" ]
t "other CA: logged as not trusted" logged otherca "not trusted"
conf otherca2 "store = https://localhost:$OP/oca/" "on_store_failure = tempfail"
rc=$(run otherca2)
t "other CA: tempfail policy exits 75" [ "$rc" = 75 ]

# ---- a certificate for another host name is refused
conf wrong "store = https://localhost:$WP/wrong/" "on_store_failure = keep"
rc=$(run wrong)
t "wrong host name: output equals input" same_as_input wrong
t "wrong host name: nothing stored" [ ! -e "$T/ng/www/wrong" ]
t "wrong host name: logged" logged wrong "does not name the host"

# ---- basic auth
conf authbad "store = http://127.0.0.1:$HP/auth/" "store_auth = basic:user:WrongPass1" \
    "on_store_failure = keep"
rc=$(run authbad)
t "basic auth wrong: output equals input" same_as_input authbad
t "basic auth wrong: 401 logged" logged authbad "401"
t "basic auth wrong: password not in logs" no_secret authbad WrongPass1
t "basic auth wrong: credentials not in logs" no_secret authbad \
    "$(printf 'user:WrongPass1' | base64)"
conf authbad2 "store = http://127.0.0.1:$HP/auth/" "store_auth = basic:user:WrongPass1" \
    "on_store_failure = tempfail"
rc=$(run authbad2)
t "basic auth wrong: tempfail policy exits 75" [ "$rc" = 75 ]
conf authok "store = https://localhost:$SP/auth/" "store_auth = basic:user:pw"
rc=$(run authok)
k=$(key authok)
curl -s --cacert "$CA" -o "$T/authok.get" "https://localhost:$SP/auth/$k"
t "basic auth right: stored over https" [ "$rc" = 0 -a "$(sha_of "$T/authok.get")" = "$WANT" ]

# ---- 5xx: retried, then the policy, inside upload_timeout
conf err "store = http://127.0.0.1:$HP/err/" "on_store_failure = keep" \
    "upload_timeout = 10s"
rc=$(run err)
tries=$(grep -c '"PUT /err/' "$T/ng/logs/access.log")
t "503: retried ($tries PUTs) then kept" [ "$tries" -ge 2 -a "$tries" -le 5 ]
t "503: output equals input" same_as_input err
t "503: status line logged" logged err ": 503 "

# ---- a response that cannot be parsed: garbled before its status, a
# fresh connection and a new try; garbled after a 403, no new try
GP=$(free_port)
fake_store() {	# fake_store MODE: serves $GP, logs methods to $T/MODE.srv
	python3 - "$GP" "$1" "$T/$1.body" >"$T/$1.srv" 2>&1 <<'EOF' &
import socket, sys
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", int(sys.argv[1])))
ls.listen(5)
ls.settimeout(60)
mode, first = sys.argv[2], True
while True:
    c, a = ls.accept()
    f = c.makefile("rb")
    while True:
        line = f.readline()
        if not line:
            break
        method = line.split()[0].decode()
        n = 0
        while True:
            h = f.readline()
            if h in (b"\r\n", b""):
                break
            if h.lower().startswith(b"content-length:"):
                n = int(h.split(b":")[1])
        body = f.read(n) if method == "PUT" else b""
        print(method, flush=True)
        if mode == "garbled" and first:
            first = False
            c.sendall(b"HTTP/1.1 2x0 garbled\r\n\r\n")
            break
        if mode == "late":
            c.sendall(b"HTTP/1.1 403 Forbidden\r\nX-Long: " + b"a" * 9000
                      + b"\r\nContent-Length: 0\r\n\r\n")
            break
        if method == "HEAD":
            c.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
        else:
            open(sys.argv[3], "wb").write(body)
            c.sendall(b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n")
    c.close()
EOF
	gpid=$!
	i=0
	while ! (exec 3<>/dev/tcp/127.0.0.1/"$GP") 2>/dev/null && [ $i -lt 100 ]; do
		sleep 0.1; i=$((i + 1))
	done
}
fake_store garbled
conf garbled "store = http://127.0.0.1:$GP/g/" "on_store_failure = tempfail"
rc=$(run garbled)
kill "$gpid" 2>/dev/null; wait "$gpid" 2>/dev/null
t "garbled response: tried again, stored (exit $rc)" [ "$rc" = 0 ]
t "garbled response: the link is in the message" [ -n "$(key garbled)" ]
t "garbled response: the store got the original bytes" \
    [ "$(sha_of "$T/garbled.body" 2>/dev/null)" = "$WANT" ]
t "garbled response: HEAD again on a new connection, then PUT" \
    [ "$(tr '\n' ' ' <"$T/garbled.srv")" = "HEAD HEAD PUT " ]
fake_store late
conf late "store = http://127.0.0.1:$GP/g/" "on_store_failure = tempfail"
rc=$(run late)
kill "$gpid" 2>/dev/null; wait "$gpid" 2>/dev/null
t "403 with a header over the limit: fails at once (exit $rc)" [ "$rc" = 75 ]
t "403 with a header over the limit: one request, no new try" \
    [ "$(tr '\n' ' ' <"$T/late.srv")" = "HEAD " ]

# ---- S3, path style
conf s3path "store = s3://bkt/ps" "s3_endpoint = http://127.0.0.1:$S3P" \
    "s3_region = us-east-1" "s3_access_key = S3RVER" \
    "s3_secret_key = S3RVER" "s3_path_style = yes"
rc=$(run s3path)
k=$(key s3path)
curl -s -D "$T/s3path.hdr" -o "$T/s3path.get" "http://127.0.0.1:$S3P/bkt/ps/$k"
t "s3 path style: exit 0" [ "$rc" = 0 ]
t "s3 path style: GET back gives the original bytes" [ "$(sha_of "$T/s3path.get")" = "$WANT" ]
t "s3 path style: Content-Type" grep -qi '^Content-Type: application/pdf' "$T/s3path.hdr"
t "s3 path style: Content-Disposition with the RFC 5987 name" \
    grep -qiF "Content-Disposition: attachment; filename=\"rapport _t_.pdf\"; filename*=UTF-8''$ENAME" "$T/s3path.hdr"
okey=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.unquote(sys.argv[1]))' "ps/$k")
t "s3 path style: stored once" [ "$(s3rver_puts "$T/s3" "$okey")" = 1 ]
rc=$(run s3path)
t "s3 HEAD dedupe: second run exits 0" [ "$rc" = 0 ]
t "s3 HEAD dedupe: no second upload" [ "$(s3rver_puts "$T/s3" "$okey")" = 1 ]

# ---- S3, virtual host (Host: bkt.s3.localhost; the path has no bucket)
conf s3vh "store = s3://bkt/vh" "s3_endpoint = http://s3.localhost:$S3P" \
    "s3_region = us-east-1" "s3_access_key = S3RVER" \
    "s3_secret_key = S3RVER" "s3_path_style = no"
rc=$(run s3vh)
k=$(key s3vh)
curl -s -D "$T/s3vh.hdr" -o "$T/s3vh.get" "http://127.0.0.1:$S3P/bkt/vh/$k"
t "s3 virtual host: exit 0" [ "$rc" = 0 ]
t "s3 virtual host: GET back gives the original bytes" [ "$(sha_of "$T/s3vh.get")" = "$WANT" ]
t "s3 virtual host: Content-Type" grep -qi '^Content-Type: application/pdf' "$T/s3vh.hdr"
t "s3 virtual host: Content-Disposition" \
    grep -qiF "filename*=UTF-8''$ENAME" "$T/s3vh.hdr"

# ---- S3, unknown access key: 403, then the policy
conf s3bad "store = s3://bkt/bad" "s3_endpoint = http://127.0.0.1:$S3P" \
    "s3_access_key = NoSuchKeyId" "s3_secret_key = TopSecret42xyz" \
    "s3_path_style = yes" "on_store_failure = keep"
rc=$(run s3bad)
t "s3 unknown key: output equals input (keep)" same_as_input s3bad
t "s3 unknown key: 403 logged" logged s3bad "403"
t "s3 unknown key: secret not in logs" no_secret s3bad TopSecret42xyz
conf s3bad2 "store = s3://bkt/bad" "s3_endpoint = http://127.0.0.1:$S3P" \
    "s3_access_key = NoSuchKeyId" "s3_secret_key = TopSecret42xyz" \
    "s3_path_style = yes" "on_store_failure = tempfail"
rc=$(run s3bad2)
t "s3 unknown key: tempfail policy exits 75" [ "$rc" = 75 ]

# ---- plain http S3 endpoints only on loopback (192.0.2.1: RFC 5737)
conf s3far "store = s3://bkt/x" "s3_endpoint = http://192.0.2.1:9000" \
    "s3_access_key = S3RVER" "s3_secret_key = S3RVER" "s3_path_style = no" \
    "on_store_failure = keep"
rc=$(run s3far)
t "s3 plain http off loopback: refused" logged s3far "only on loopback"
t "s3 plain http off loopback: output equals input" same_as_input s3far

finish store_http
