#!/bin/sh
# pipe.test.sh - pipe mode judged from the outside
#
# Runs ./detach -p over the message corpus (tests/corpus) and over
# generated messages, and checks options and the configuration checker;
# Python's email package, hashlib and hmac are the judge (tests/pipecheck.py
# says what is checked). Prints "ok NAME" / "FAIL NAME: why" lines.
# Arguments go to pipecheck.py (--only corpus|gen|opt, --no-big, --seed N).
cd "$(dirname "$0")/.." || exit 1
if [ ! -x ./detach ]; then
	echo "FAIL pipe: ./detach is not built"
	exit 1
fi
exec python3 tests/pipecheck.py --detach ./detach "$@"
