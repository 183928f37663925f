#!/bin/sh
# demo.sh - detach the attachment of a sample message into ./demo-store
#
# `make demo` builds ./detach, then runs this. It writes a configuration
# to a temporary directory, sends tests/demo/sample.eml through pipe mode
# (`detach -p -c FILE`: one message on stdin, the rewritten message on
# stdout), prints the rewritten message, and lists what the store holds
# with each file's SHA-256, to compare with the X-Detach-SHA256 header.
set -eu
cd "$(dirname "$0")/.."

if [ ! -x ./detach ]; then
	echo "demo: ./detach is not built; run make demo" >&2
	exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
mkdir -p demo-store "$tmp/spool"

# The secret below is for this demo only. Make your own with
#	od -An -tx1 -N32 /dev/urandom | tr -d ' \n'
cat >"$tmp/detach.conf" <<CONF
store = dir:$PWD/demo-store
link_base = https://files.example.org/a/
min_size = 1k
secret = 5c0d1f3b8a6e4c2d9f7a1b3c5e7d9f1a2b4c6d8e0f1a3b5c7d9e1f2a4b6c8d0e
on_store_failure = tempfail
spool_dir = $tmp/spool
CONF

status=0
./detach -p -c "$tmp/detach.conf" <tests/demo/sample.eml >"$tmp/out.eml" ||
    status=$?
if [ "$status" -ne 0 ]; then
	echo "demo: detach -p exited $status" >&2
	exit "$status"
fi

echo "=== tests/demo/sample.eml ($(wc -c <tests/demo/sample.eml) bytes)" \
    "after detach -p ($(wc -c <"$tmp/out.eml") bytes):"
echo
cat "$tmp/out.eml"
echo
echo "=== ./demo-store now holds:"
find demo-store -type f | sort | while read -r f; do
	printf '%s  %s bytes  sha256 %s\n' "$f" "$(wc -c <"$f")" \
	    "$(sha256sum <"$f" | cut -d' ' -f1)"
done
