#!/bin/bash
# pipe_file.test.sh - pipe mode reads a file on stdin in place
#
# With a regular file on stdin detach maps it in windows instead of
# reading and spooling it; the output must be the same as with a pipe,
# also when the message starts past the file's first bytes (stdin left
# at an offset by whoever ran us) and when it spans several windows.
cd "$(dirname "$0")/.." || exit 1
ok() { echo "ok $*"; }
fail() { echo "FAIL $*"; }

T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
mkdir "$T/store" "$T/spool"
cat >"$T/c.conf" <<EOF
store = dir:$T/store
link_base = https://files.example.org/a/
min_size = 1k
secret = $(printf '%064d' 7)
spool_dir = $T/spool
EOF

# A 9 MiB attachment spans three 4 MiB windows; the delimiter lines fall
# wherever they fall.
python3 - "$T/big.eml" <<'PY'
import base64, random, sys
random.seed(7)
blob = random.randbytes(9 * 1024 * 1024)
m = (b"From: a@example.org\r\nMIME-Version: 1.0\r\n"
     b"Content-Type: multipart/mixed; boundary=zz\r\n\r\n--zz\r\n"
     b"Content-Type: text/plain\r\n\r\nhi\r\n--zz\r\n"
     b"Content-Type: application/octet-stream; name=big.bin\r\n"
     b"Content-Transfer-Encoding: base64\r\n\r\n"
     + base64.encodebytes(blob).replace(b"\n", b"\r\n") + b"--zz--\r\n")
open(sys.argv[1], "wb").write(m)
PY

for f in "$T/big.eml" tests/corpus/flanker/attached-pdf.eml \
    tests/corpus/mikel-mail/attachment_emails/attachment_pdf.eml; do
	n=$(basename "$f")
	./detach -p -c "$T/c.conf" <"$f" >"$T/out.file" || fail "$n: file exit $?"
	cat "$f" | ./detach -p -c "$T/c.conf" >"$T/out.pipe" ||
	    fail "$n: pipe exit $?"
	if cmp -s "$T/out.file" "$T/out.pipe" && ! cmp -s "$T/out.file" "$f"; then
		ok "$n: a file on stdin gives what a pipe gives"
	else
		fail "$n: file and pipe outputs differ, or nothing detached"
	fi
	# stdin at an offset: 7 junk bytes, then the message
	{ printf 'garbage'; cat "$f"; } >"$T/off.eml"
	{ head -c 7 >/dev/null; ./detach -p -c "$T/c.conf" >"$T/out.off"; } \
	    <"$T/off.eml"
	if cmp -s "$T/out.off" "$T/out.pipe"; then
		ok "$n: a file read from an offset on"
	else
		fail "$n: output differs when stdin starts at an offset"
	fi
done
