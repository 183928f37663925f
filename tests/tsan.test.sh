#!/bin/bash
# tsan.test.sh - the hash behind's unit test under ThreadSanitizer
#
# tests/tsan/t_hash is t_hash.c with hash.c built -fsanitize=thread: a
# data race in the helper thread's hand-over is a FAIL. Its own ok/FAIL
# lines pass through. Some kernels give ThreadSanitizer a memory layout
# it refuses at start ("unexpected memory mapping", with more bits of
# mmap randomization than it knows); the test then runs it again with
# randomization off (setarch -R), and prints SKIP if even that fails
# to start, never a silent pass.

cd "$(dirname "$0")/.." || exit 1

. tests/peers/common.sh

bin=tests/tsan/t_hash
if [ ! -x "$bin" ]; then
	echo "SKIP tsan: $bin not built (make units)"
	exit 0
fi
tmp_dir tsan
run() { "$@" >"$T/out" 2>&1; echo $? >"$T/rc"; }
run "$bin"
if grep -q 'unexpected memory mapping\|FATAL: ThreadSanitizer' "$T/out" &&
    ! grep -q '^ok ' "$T/out"; then
	run setarch "$(uname -m)" -R "$bin"
	if ! grep -q '^ok ' "$T/out"; then
		echo "SKIP tsan: ThreadSanitizer cannot start here: $(grep -m1 'ThreadSanitizer' "$T/out")"
		exit 0
	fi
fi
grep -v '^# ' "$T/out" | grep -E '^(ok|FAIL|SKIP) '
quiet() { ! grep -q 'WARNING: ThreadSanitizer' "$T/out"; }
t "tsan: no report from ThreadSanitizer" quiet
t "tsan: t_hash exited 0" [ "$(cat "$T/rc")" = 0 ]
finish tsan
