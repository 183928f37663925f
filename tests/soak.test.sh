#!/bin/bash
# soak.test.sh - bench/soak.sh, 500 messages per store, for make check
#
# The soak's whole path and counts (see bench/soak.sh): 500 messages of
# the mix (no 25 MB ones; a reload every 2 s) at 20 sessions through a
# real Postfix and detach, with the dir store and then nginx over https;
# ok/FAIL lines for sent, acknowledged, delivered once, lost, duplicates, the
# attachments detached, dead links, stray spool files, descriptors, and
# each store's RSS once detach is idle (it gives its kept heap back
# after PROXY_TRIM_IDLE_MS without a session) against after the first
# 250 messages. Leaks are LeakSanitizer's part as well: 150
# messages per store through a detach built with AddressSanitizer and
# UndefinedBehaviorSanitizer, reloaded five times a second, with one
# session in 15 cut inside DATA; a block not freed at exit is a report.

cd "$(dirname "$0")/.." || exit 1
rc=0
bash bench/soak.sh -n 500 --large-every 0 --mark 250 --rss "dir https" \
    --hup-every 2 || rc=1

T=$(mktemp -d /tmp/detach-soaksan.XXXXXX)
trap 'rm -rf "$T"' EXIT
# shellcheck disable=SC2046
if ! cc -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all \
    -std=c11 -D_GNU_SOURCE -I/usr/include/bearssl -o "$T/detach" \
    $(make -s print-srcs) -Wl,-Bstatic -lbearssl -Wl,-Bdynamic \
    >"$T/cc.log" 2>&1; then
	echo "FAIL soak: the sanitized build"
	sed 's/^/# /' "$T/cc.log"
	exit 1
fi
DETACH=$T/detach bash bench/soak.sh -n 150 --large-every 0 --cut-every 15 \
    --hup-every 0.2 --rss "" --mark 50 --label san || rc=1
exit $rc
