#!/bin/bash
# soak.test.sh - bench/soak.sh, 500 messages per store, for make check
#
# The soak's whole path and counts (see bench/soak.sh): 500 messages of
# the mix (no 25 MB ones) at 20 sessions through a real Postfix and
# detach, with the dir store and then nginx over https; ok/FAIL lines
# for sent, acknowledged, delivered once, lost, duplicates, the
# attachments detached, dead links, stray spool files, descriptors and
# RSS at the end against after the first 250 (the heap still warming up before).

cd "$(dirname "$0")/.." || exit 1
exec bash bench/soak.sh -n 500 --large-every 0 --mark 250
