# common.sh - the preamble the shell tests share (sourced)
#
# Source it from the top of the tree, then:
#	t NAME COND...		one check: runs COND; prints "ok NAME", or
#				"FAIL NAME" and counts it in $fails
#	need_tools NAME TOOL...	each TOOL is in PATH, else "FAIL NAME: TOOL
#				is not installed" and exit 1
#	need_root NAME		run as root, else "FAIL NAME: this test
#				needs root" and exit 1
#	need_detach NAME	$DETACH (./detach unless set) is built, else
#				"FAIL NAME: build ./detach first" and exit 1
#	tmp_dir NAME [HOOK]	T, a fresh /tmp/detach-NAME.XXXXXX; at exit
#				HOOK (a command line, as trap takes it: stop
#				peers, kill processes) runs, then T is removed
#				unless KEEP is set (kept for a look after a
#				failure); INT and TERM exit 1 through the same
#				cleanup
#	make_att_msg DIR SUBJECT SIZE [FILENAME [SUBTYPE]]
#				DIR/att.bin, SIZE random bytes, and
#				DIR/msg.eml, a message built by Python's
#				email package carrying them as an attachment
#				application/SUBTYPE (octet-stream) named
#				FILENAME (att.bin); sets WANT, their sha256sum
#	conf NAME LINE...	$T/NAME.conf: the lines of the array CONF_BASE
#				(the test's fixed lines), then LINE... (a key
#				given twice: the later line wins)
#	finish NAME		"NAME: N failed"; exits 0 when no check
#				failed, else 1
#
# tests/run.sh counts the "ok" and "FAIL" lines; an exit status other
# than 0 without a FAIL line counts as one failure, so every setup step
# that cannot go on prints a FAIL line and exits 1: a test never passes
# by doing nothing.

fails=0

# t - one check; COND is any command (eval for a compound one). Its
# local has a name of its own: bash scopes dynamically, and a caller's
# "local name" must stay what it was, for COND and after.
t() {
	local t_name=$1
	shift
	if "$@"; then
		echo "ok $t_name"
	else
		echo "FAIL $t_name"
		fails=$((fails + 1))
	fi
}

need_tools() {
	local name=$1 tool
	shift
	for tool in "$@"; do
		if ! command -v "$tool" >/dev/null; then
			echo "FAIL $name: $tool is not installed"
			exit 1
		fi
	done
}

need_root() {
	[ "$(id -u)" = 0 ] && return 0
	echo "FAIL $1: this test needs root"
	exit 1
}

# need_detach - DETACH may name another build (a sanitized one)
need_detach() {
	DETACH=${DETACH:-./detach}
	[ -x "$DETACH" ] && return 0
	echo "FAIL $1: build ./detach first"
	exit 1
}

COMMON_HOOK=

# common_cleanup - the EXIT trap of tmp_dir
common_cleanup() {
	[ -n "$COMMON_HOOK" ] && eval "$COMMON_HOOK"
	[ -n "${KEEP:-}" ] || rm -rf "$T"
}

tmp_dir() {
	local name=$1
	shift
	T=$(mktemp -d "/tmp/detach-$name.XXXXXX") || {
		echo "FAIL $name: no temporary directory"
		exit 1
	}
	COMMON_HOOK=${1:-}
	trap common_cleanup EXIT
	trap 'exit 1' INT TERM
}

# make_att_msg - the expectation is sha256sum of the bytes attached,
# never what detach says it stored
make_att_msg() {
	python3 - "$1" "$2" "$3" "${4:-att.bin}" "${5:-octet-stream}" <<'EOF' ||
import email.message, os, sys
d, subject, size, name, subtype = sys.argv[1:6]
data = os.urandom(int(size))
open(os.path.join(d, "att.bin"), "wb").write(data)
m = email.message.EmailMessage()
m["From"] = "a@example.org"
m["To"] = "b@example.org"
m["Subject"] = subject
m.set_content("see attached\n")
m.add_attachment(data, maintype="application", subtype=subtype,
                 filename=name)
open(os.path.join(d, "msg.eml"), "wb").write(bytes(m))
EOF
	    { echo "FAIL make_att_msg: Python could not write $1/msg.eml"; exit 1; }
	WANT=$(sha256sum <"$1/att.bin" | cut -d' ' -f1)
}

conf() {
	local n=$1
	shift
	printf '%s\n' "${CONF_BASE[@]}" "$@" >"$T/$n.conf"
}

finish() {
	echo "$1: $fails failed"
	[ "$fails" = 0 ] && exit 0
	exit 1
}
