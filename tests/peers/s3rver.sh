# s3rver.sh - s3rver (npm) as the S3 peer on loopback
#
# Source it, then:
#	s3rver_start DIR PORT BUCKET	serve DIR/data on 127.0.0.1:PORT with
#					BUCKET made, log in DIR/s3rver.log;
#					names under .localhost are its service
#					endpoint, so Host BUCKET.s3.localhost
#					is a virtual-host request
#	s3rver_stop			stop it (call from a trap)
#	s3rver_puts DIR KEY		how many times KEY was stored
#
# Credentials: S3RVER / S3RVER. s3rver does not check signatures; it
# checks the access key id, x-amz-content-sha256 and the clock.

S3RVER_JS=$(cd "$(dirname "${BASH_SOURCE[0]:-$0}")" && pwd)/node/node_modules/s3rver/bin/s3rver.js
S3RVER_PID=

s3rver_start() {
	[ -f "$S3RVER_JS" ] || return 1
	mkdir -p "$1/data"
	node "$S3RVER_JS" -d "$1/data" -a 127.0.0.1 -p "$2" \
	    --service-endpoint localhost --configure-bucket "$3" \
	    >"$1/s3rver.log" 2>&1 &
	S3RVER_PID=$!
	# ready when it answers (bounded)
	for _ in $(seq 1 200); do
		curl -s -o /dev/null "http://127.0.0.1:$2/" && return 0
		kill -0 "$S3RVER_PID" 2>/dev/null || return 1
		python3 -c 'import time; time.sleep(0.05)'
	done
	return 1
}

s3rver_stop() {
	[ -n "$S3RVER_PID" ] && kill "$S3RVER_PID" 2>/dev/null &&
	    wait "$S3RVER_PID" 2>/dev/null
	S3RVER_PID=
}

s3rver_puts() {
	grep -cF "Stored object \"$2\"" "$1/s3rver.log"
}
