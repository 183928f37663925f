#!/bin/bash
# b64_arm64.test.sh - the NEON base64 kernel, built for arm64 and run
# under qemu-aarch64: tests/t_b64.c against the scalar decoder, as on
# x86-64. Needs gcc-aarch64-linux-gnu and qemu-user (.ci/run installs
# them); without them it says SKIP and counts nothing.
cd "$(dirname "$0")/.." || exit 1
for tool in aarch64-linux-gnu-gcc qemu-aarch64; do
	if ! command -v "$tool" >/dev/null; then
		echo "SKIP b64_arm64: $tool missing"
		exit 0
	fi
done
T=$(mktemp -d /tmp/detach-arm64.XXXXXX)
trap 'rm -rf "$T"' EXIT
if ! aarch64-linux-gnu-gcc -O2 -static -std=c11 -Wall -Wextra -Werror \
    -D_GNU_SOURCE -I/usr/include/bearssl -DDETACH_NO_MAIN -I. \
    -o "$T/t_b64" tests/t_b64.c mime.c b64.c 2>"$T/cc.log"; then
	echo "FAIL b64_arm64: the arm64 build failed"
	cat "$T/cc.log"
	exit 1
fi
qemu-aarch64 "$T/t_b64" >"$T/out" 2>&1
rc=$?
sed 's/^\(ok\|FAIL\) /&arm64: /' "$T/out"
grep -q '^# kernels tested: neon' "$T/out" ||
    echo "FAIL b64_arm64: the NEON kernel was not the one tested"
exit $rc
