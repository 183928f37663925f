#!/bin/bash
# tls_ip.test.sh - an https store given by IP address
#
# RFC 5280 4.2.1.6 and RFC 9525: a store given as https://127.0.0.1/ or
# https://[::1]/ is named by an iPAddress subjectAltName of the same
# address, never by a dNSName (not even one spelling "127.0.0.1"), and
# a host name is never named by an iPAddress. RFC 6066 3: no SNI is
# sent for an address. curl --cacert (OpenSSL's checks) says what must
# pass; nginx (tests/peers/nginx.sh) serves certificates from its test
# CA: ip (IP:127.0.0.1, IP:::1), good (DNS:localhost), dnsip
# (DNS:127.0.0.1); its sni.log shows the SNI each request came with.
# Prints ok/FAIL lines.

cd "$(dirname "$0")/.." || exit 1
. tests/peers/nginx.sh

. tests/peers/common.sh

need_tools tls_ip nginx openssl curl python3 sha256sum
need_detach tls_ip
tmp_dir tls_ip nginx_stop

# IPv6 loopback, if this host has it
NGINX_V6=0
python3 -c 'import socket; socket.socket(socket.AF_INET6).bind(("::1", 0))' \
    2>/dev/null && NGINX_V6=1
export NGINX_V6

HP=$(free_port); SP=$(free_port); OP=$(free_port); WP=$(free_port)
IPP=$(free_port); DIP=$(free_port)
mkdir -p "$T/ng/pki" "$T/spool"
pki_make "$T/ng/pki" || { echo "FAIL tls_ip: no test CA"; exit 1; }
if ! nginx_start "$T/ng" "$HP" "$SP" "$OP" "$WP" "$IPP" "$DIP"; then
	echo "FAIL tls_ip: nginx did not start"
	cat "$T/ng/logs/error.log"
	exit 1
fi
CA=$T/ng/pki/ca.crt
LINK=https://files.example.org/

make_att_msg "$T" "ip store" 30000 a.pdf pdf
SECRET=$(openssl rand -hex 32)
CONF_BASE=("link_base = $LINK" "min_size = 1k" "secret = $SECRET"
    "spool_dir = $T/spool" "tls_ca_file = $CA" "upload_timeout = 10s"
    "on_store_failure = tempfail")

run() {	# run NAME STORE: detach -p; exit code, output in $T/NAME.out
	conf "$1" "store = $2"
	timeout 60 "$DETACH" -p -c "$T/$1.conf" <"$T/msg.eml" >"$T/$1.out" \
	    2>"$T/$1.err"
	echo $?
}
curl_ok() { curl -s -o /dev/null --cacert "$CA" -X PUT --data x "$1"; }
curl_no() { ! curl_ok "$1"; }
key() {
	grep -ao "${LINK}[0-9a-f]\{32\}/[A-Za-z0-9%._~-]*" "$T/$1.out" | head -1 |
	    cut -c$((${#LINK} + 1))-
}
stored() {	# stored NAME DIR: the object is in nginx's www, whole
	k=$(key "$1")
	[ -n "$k" ] && [ "$(sha256sum <"$T/ng/www/$2/$k" 2>/dev/null |
	    cut -d' ' -f1)" = "$WANT" ]
}
refused() {	# refused NAME: exit 75, the name check logged
	[ "$1" = 75 ] && grep -q "does not name the host" "$T/$2.err"
}

# ---- accepted: the address is in an iPAddress name
t "reference: curl accepts https://127.0.0.1 with IP:127.0.0.1" \
    curl_ok "https://127.0.0.1:$IPP/ref4"
rc=$(run ip4 "https://127.0.0.1:$IPP/ip4/")
t "IPv4 store, IP:127.0.0.1 in the certificate: stored (exit $rc)" [ "$rc" = 0 ]
t "IPv4 store: the object is whole" stored ip4 ip4
t "IPv4 store: no SNI sent" grep -q '^"-" PUT /ip4/' "$T/ng/logs/sni.log"
curl -s -k -o /dev/null "https://localhost:$IPP/sniref"
t "reference: a name's SNI does show in the log" \
    grep -q '^"localhost" GET /sniref' "$T/ng/logs/sni.log"
if [ "$NGINX_V6" = 1 ]; then
	t "reference: curl accepts https://[::1] with IP:::1" \
	    curl_ok "https://[::1]:$IPP/ref6"
	rc=$(run ip6 "https://[::1]:$IPP/ip6/")
	t "IPv6 store, IP:::1 in the certificate: stored (exit $rc)" [ "$rc" = 0 ]
	t "IPv6 store: the object is whole" stored ip6 ip6
	t "IPv6 store: no SNI sent" grep -q '^"-" PUT /ip6/' "$T/ng/logs/sni.log"
else
	echo "# no IPv6 loopback here: the [::1] cases are skipped"
fi

# ---- refused
t "reference: curl refuses https://127.0.0.1 with DNS:localhost only" \
    curl_no "https://127.0.0.1:$SP/ref"
rc=$(run dnsonly "https://127.0.0.1:$SP/dnsonly/")
t "IPv4 store, DNS:localhost only: refused (exit $rc)" refused "$rc" dnsonly
t "IPv4 store, DNS:localhost only: nothing stored" [ ! -e "$T/ng/www/dnsonly" ]

t "reference: curl refuses https://127.0.0.1 with DNS:127.0.0.1" \
    curl_no "https://127.0.0.1:$DIP/ref"
rc=$(run dnsip "https://127.0.0.1:$DIP/dnsip/")
t "IPv4 store, a dNSName spelling 127.0.0.1: refused (exit $rc)" refused "$rc" dnsip
t "IPv4 store, a dNSName spelling 127.0.0.1: nothing stored" [ ! -e "$T/ng/www/dnsip" ]

t "reference: curl refuses https://localhost with IP names only" \
    curl_no "https://localhost:$IPP/ref"
rc=$(run name "https://localhost:$IPP/name/")
t "store by name, certificate with IP names only: refused (exit $rc)" refused "$rc" name

finish tls_ip
