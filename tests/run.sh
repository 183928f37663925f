#!/bin/sh
# run.sh - run every test of detach and count the results
#
# Unit test binaries (plain and sanitized builds) and the shell tests
# under tests/*.test.sh each print "ok NAME" or "FAIL NAME: why" lines,
# and "SKIP NAME: why" for a check the machine cannot stage (counted
# neither way; printed, and counted in a "K skipped" line before the
# last). A test program that exits non-zero without a FAIL line counts
# as one failure. A shell test that fails is run once more (its first
# failures are printed as "# first run: FAIL ..."); unit tests are not.
# The last line is "N passed, M failed"; the exit status is non-zero
# when anything failed.
#
# Usage: tests/run.sh [unit-binary ...] -- [shell-test ...]

cd "$(dirname "$0")/.." || exit 1
log=${TEST_LOG:-tests/run.log}
: >"$log"
pass=0
fail=0
skip=0

count() {
	# $1: name, $2: output file, $3: exit status
	p=$(grep -c '^ok ' "$2")
	f=$(grep -c '^FAIL ' "$2")
	if [ "$3" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "FAIL $1: exited $3" >>"$2"
		f=1
	fi
	k=$(grep -c '^SKIP ' "$2")
	grep '^FAIL ' "$2"
	grep '^SKIP ' "$2"
	pass=$((pass + p))
	fail=$((fail + f))
	skip=$((skip + k))
	if [ "$k" -gt 0 ]; then
		echo "$1: $p passed, $f failed, $k skipped"
	else
		echo "$1: $p passed, $f failed"
	fi
	cat "$2" >>"$log"
}

out=$(mktemp)
mode=unit
for t in "$@"; do
	if [ "$t" = "--" ]; then
		mode=shell
		continue
	fi
	if [ "$mode" = unit ]; then
		"$t" >"$out" 2>&1
		rc=$?
	else
		timeout 900 bash "$t" >"$out" 2>&1
		rc=$?
		# Shell tests drive real servers under a shared machine's
		# load: one that fails is run once more, and the first run's
		# failures are kept in the log, marked, for the record.
		if [ $rc -ne 0 ] || grep -q '^FAIL ' "$out"; then
			sed -n 's/^FAIL /# first run: FAIL /p' "$out" | tee -a "$log"
			timeout 900 bash "$t" >"$out" 2>&1
			rc=$?
		fi
	fi
	count "$t" "$out" $rc
done
rm -f "$out"
echo "$skip skipped"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
