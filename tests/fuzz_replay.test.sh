#!/bin/bash
# fuzz_replay.test.sh - every input a fuzzer kept, run again
#
# For each harness tests/fuzz/fuzz_NAME.c, its replay builds (plain and
# sanitized, made by make check) run over its seeds and its committed,
# minimised corpus under tests/fuzz/corpus/NAME/: a regression test of
# everything the fuzzer ever reached. A failing input is named.
cd "$(dirname "$0")/.." || exit 1
err=$(mktemp)
trap 'rm -f "$err"' EXIT
for src in tests/fuzz/fuzz_*.c; do
	h=${src#tests/fuzz/fuzz_}
	h=${h%.c}
	dirs=()
	for d in "tests/fuzz/seed_$h" "tests/fuzz/corpus/$h"; do
		[ -d "$d" ] && dirs+=("$d")
	done
	if [ ${#dirs[@]} -eq 0 ]; then
		echo "FAIL replay $h: no seeds and no corpus"
		continue
	fi
	for build in bin san; do
		bin=tests/$build/replay_$h
		if [ ! -x "$bin" ]; then
			echo "FAIL replay $h ($build): $bin not built (make replays)"
			continue
		fi
		if out=$("$bin" "${dirs[@]}" 2>"$err"); then
			echo "ok replay $h ($build): $out"
		else
			echo "FAIL replay $h ($build): stopped at $(grep -v '^detach\[' "$err" | tail -1)"
			grep -v '^detach\[' "$err" | tail -20 | sed 's/^/# /'
		fi
	done
done
