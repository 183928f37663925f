# nginx.sh - a private nginx as the WebDAV/CDN PUT peer, and a test CA
#
# Source it, then:
#	free_port			print a free loopback TCP port
#	pki_make DIR			make in DIR with openssl:
#	    ca.crt/ca.key		  the test CA
#	    good.crt/good.key		  localhost, signed by the test CA
#	    other-ca.crt, other.crt/.key  localhost, signed by another CA
#	    wrong.crt/wrong.key		  wrong.example, signed by the test CA
#	    ip.crt/ip.key		  iPAddress names 127.0.0.1 and ::1
#	    dnsip.crt/dnsip.key		  a dNSName "127.0.0.1", no iPAddress
#	nginx_start DIR HTTP_PORT TLS_PORT OTHER_PORT WRONG_PORT [IP_PORT
#	    DNSIP_PORT]
#	    serves DIR/www on the ports (TLS ones with good, other and
#	    wrong certificates; IP_PORT with ip on 127.0.0.1 and, when
#	    NGINX_V6=1, on [::1]; DNSIP_PORT with dnsip): PUT anywhere;
#	    /auth/ wants basic user:pw for PUT; /err/ answers 503. Waits
#	    until it answers. With HTTP_PORT alone: plain http only, no
#	    certificates needed (no pki_make).
#	nginx_stop			stop it (call from a trap)
#
# Logs: DIR/logs/access.log (combined) and DIR/logs/timed.log (method,
# URI, status, request length, request time in seconds); IP_PORT's
# requests also in DIR/logs/sni.log ("SNI name" method URI status).
#
# Runs as root with "user root" so the workers can write the prefix.

NGINX_PREFIX=

free_port() {
	python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

pki_make() {
	d=$1
	(
	cd "$d" || exit 1
	cat >ca.ext <<-EOF
	basicConstraints=critical,CA:TRUE
	keyUsage=critical,keyCertSign,cRLSign
	EOF
	cat >leaf.ext <<-EOF
	basicConstraints=CA:FALSE
	keyUsage=critical,digitalSignature,keyEncipherment
	extendedKeyUsage=serverAuth
	subjectAltName=DNS:localhost
	EOF
	cat >wrong.ext <<-EOF
	basicConstraints=CA:FALSE
	keyUsage=critical,digitalSignature,keyEncipherment
	extendedKeyUsage=serverAuth
	subjectAltName=DNS:wrong.example
	EOF
	sed 's/^subjectAltName=.*/subjectAltName=IP:127.0.0.1,IP:::1/' \
	    leaf.ext >ip.ext
	sed 's/^subjectAltName=.*/subjectAltName=DNS:127.0.0.1/' \
	    leaf.ext >dnsip.ext
	for ca in ca other-ca; do
		openssl req -x509 -newkey rsa:2048 -nodes -days 30 \
		    -subj "/CN=detach $ca" -keyout $ca.key -out $ca.crt \
		    -addext basicConstraints=critical,CA:TRUE \
		    -addext keyUsage=critical,keyCertSign,cRLSign \
		    2>/dev/null || exit 1
	done
	leaf() {	# leaf NAME CN CA EXT
		openssl req -newkey rsa:2048 -nodes -subj "/CN=$2" \
		    -keyout $1.key -out $1.csr 2>/dev/null &&
		openssl x509 -req -in $1.csr -CA $3.crt -CAkey $3.key \
		    -CAcreateserial -days 30 -extfile $4 -out $1.crt \
		    2>/dev/null
	}
	leaf good localhost ca leaf.ext || exit 1
	leaf other localhost other-ca leaf.ext || exit 1
	leaf wrong wrong.example ca wrong.ext || exit 1
	leaf ip 127.0.0.1 ca ip.ext || exit 1
	leaf dnsip 127.0.0.1 ca dnsip.ext || exit 1
	)
}

nginx_start() {
	NGINX_PREFIX=$1
	p=$NGINX_PREFIX
	mkdir -p "$p/www" "$p/tmp" "$p/logs"
	extra=
	if [ -n "$6" ]; then
		v6=
		[ "$NGINX_V6" = 1 ] && v6="listen [::1]:$6 ssl;"
		extra="server {
			listen 127.0.0.1:$6 ssl;
			$v6
			access_log $p/logs/sni.log sni;
			ssl_certificate $p/pki/ip.crt;
			ssl_certificate_key $p/pki/ip.key;
			root $p/www;
			location / { dav_methods PUT; create_full_put_path on; }
		}
		server {
			listen 127.0.0.1:$7 ssl;
			ssl_certificate $p/pki/dnsip.crt;
			ssl_certificate_key $p/pki/dnsip.key;
			root $p/www;
			location / { dav_methods PUT; create_full_put_path on; }
		}"
	fi
	printf 'user:%s\n' "$(openssl passwd -apr1 pw)" >"$p/htpasswd"
	tls="ssl_protocols TLSv1.2 TLSv1.3;
		ssl_certificate $p/pki/good.crt;
		ssl_certificate_key $p/pki/good.key;"
	tlslisten="listen 127.0.0.1:$3 ssl;"
	others="server {
			listen 127.0.0.1:$4 ssl;
			ssl_certificate $p/pki/other.crt;
			ssl_certificate_key $p/pki/other.key;
			root $p/www;
			location / { dav_methods PUT; create_full_put_path on; }
		}
		server {
			listen 127.0.0.1:$5 ssl;
			ssl_certificate $p/pki/wrong.crt;
			ssl_certificate_key $p/pki/wrong.key;
			root $p/www;
			location / { dav_methods PUT; create_full_put_path on; }
		}"
	if [ -z "$3" ]; then
		tls= tlslisten= others=
	fi
	cat >"$p/nginx.conf" <<-EOF
	daemon on;
	user root;
	worker_processes 1;
	pid $p/nginx.pid;
	error_log $p/logs/error.log;
	events { worker_connections 64; }
	http {
		log_format timed '\$request_method \$uri \$status \$request_length \$request_time';
		log_format sni '"\$ssl_server_name" \$request_method \$uri \$status';
		access_log $p/logs/access.log;
		access_log $p/logs/timed.log timed;
		client_body_temp_path $p/tmp;
		client_max_body_size 2g;
		keepalive_requests 1000;
		$tls
		server {
			listen 127.0.0.1:$2;
			$tlslisten
			root $p/www;
			location / {
				dav_methods PUT;
				create_full_put_path on;
				dav_access user:rw all:r;
			}
			location /auth/ {
				dav_methods PUT;
				create_full_put_path on;
				limit_except GET HEAD {
					auth_basic "detach test";
					auth_basic_user_file $p/htpasswd;
				}
			}
			location /err/ { return 503; }
		}
		$others
		$extra
	}
	EOF
	nginx -p "$p" -c "$p/nginx.conf" -e "$p/logs/error.log" || return 1
	# ready when it answers on the plain port (bounded)
	for _ in $(seq 1 100); do
		curl -s -o /dev/null "http://127.0.0.1:$2/" && return 0
		python3 -c 'import time; time.sleep(0.05)'
	done
	return 1
}

nginx_stop() {
	[ -n "$NGINX_PREFIX" ] && [ -f "$NGINX_PREFIX/nginx.pid" ] &&
	    kill "$(cat "$NGINX_PREFIX/nginx.pid")" 2>/dev/null
	NGINX_PREFIX=
}
