#!/bin/bash
# config.test.sh - the documentation of the configuration matches detach
#
# Every key detach knows (detach -n) is in detach.conf.example with its
# default value, and in detach.conf(5); -t names FILE:LINE.
cd "$(dirname "$0")/.." || exit 1
ok() { echo "ok $*"; }
fail() { echo "FAIL $*"; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

: >"$tmp/empty.conf"
./detach -n -c "$tmp/empty.conf" >"$tmp/defaults" || fail "detach -n on an empty file"
./detach -n -c detach.conf.example >"$tmp/example" || fail "detach -n on the example"
if cmp -s "$tmp/defaults" "$tmp/example"; then
	ok "detach.conf.example gives exactly the defaults"
else
	fail "detach.conf.example differs from the defaults: $(diff "$tmp/defaults" "$tmp/example" | tr '\n' ' ')"
fi
missing=
while read -r key _; do
	grep -q "^#\{0,1\}$key =" detach.conf.example || missing="$missing $key(example)"
	grep -q "^\.It Cm $key " detach.conf.5 || missing="$missing $key(detach.conf.5)"
done <"$tmp/defaults"
[ -z "$missing" ] && ok "every key documented" || fail "undocumented keys:$missing"

printf 'min_size = 1k\n\n# c\nbogus_key = 1\n' >"$tmp/bad.conf"
out=$(./detach -t -c "$tmp/bad.conf" 2>&1)
rc=$?
[ $rc -eq 78 ] && [ "$out" = "$tmp/bad.conf:4: unknown key \"bogus_key\"" ] &&
    ok "detach -t names FILE:LINE and exits 78" ||
    fail "detach -t: rc=$rc out=$out"
