#!/bin/bash
# install.test.sh - make install and make uninstall under a DESTDIR
#
# The layout and modes are those the Makefile promises (detach(8),
# FILES): the binary (0755, the very file built), both man pages, and
# under share/doc/detach the example configuration, the systemd units
# and the runit service directory; nothing in /etc, nothing else. The
# service files name the binary where make install puts it by default.
# uninstall leaves no file and no doc directory behind. Prints ok/FAIL.

cd "$(dirname "$0")/.." || exit 1
# Run from make check: the make below is not one of its jobs.
unset MAKEFLAGS MFLAGS MAKELEVEL
. tests/peers/common.sh
[ -x ./detach ] || { echo "FAIL install: build ./detach first"; exit 1; }
tmp_dir install

# layout ROOT - "MODE PATH" of every file and link under ROOT, sorted
layout() {
	(cd "$1" && find . ! -type d -printf '%m %P\n' | sort)
}

want() {	# want PREFIX - the layout make install must give
	local p=${1#/}
	sort <<EOF
755 $p/sbin/detach
644 $p/share/man/man8/detach.8
644 $p/share/man/man5/detach.conf.5
644 $p/share/doc/detach/detach.conf.example
644 $p/share/doc/detach/systemd/detach.service
644 $p/share/doc/detach/systemd/detach-sweep.service
644 $p/share/doc/detach/systemd/detach-sweep.timer
755 $p/share/doc/detach/runit/detach/run
755 $p/share/doc/detach/runit/detach/log/run
EOF
}

for prefix in /usr/local /usr; do
	D=$T/root${prefix//\//_}
	mkdir -p "$D"
	if [ "$prefix" = /usr/local ]; then
		# The default PREFIX: not given on the command line.
		make -s install DESTDIR="$D" >"$T/install.out" 2>&1
	else
		make -s install DESTDIR="$D" PREFIX="$prefix" >"$T/install.out" 2>&1
	fi
	rc=$?
	sed 's/^/# /' "$T/install.out"
	t "install PREFIX=$prefix: exit 0" [ $rc -eq 0 ]
	layout "$D" >"$T/got"
	want "$prefix" >"$T/want"
	t "install PREFIX=$prefix: layout and modes" cmp -s "$T/want" "$T/got"
	diff "$T/want" "$T/got" | sed -n 's/^[<>]/# &/p'
	t "install PREFIX=$prefix: nothing under etc" [ ! -e "$D/etc" ]
	t "install PREFIX=$prefix: the binary is the one built" \
	    cmp -s ./detach "$D$prefix/sbin/detach"
	doc=$D$prefix/share/doc/detach
	t "install PREFIX=$prefix: man pages, example and service files as in the tree" \
	    eval "cmp -s detach.8 $D$prefix/share/man/man8/detach.8 &&
	    cmp -s detach.conf.5 $D$prefix/share/man/man5/detach.conf.5 &&
	    cmp -s detach.conf.example $doc/detach.conf.example &&
	    cmp -s init/systemd/detach.service $doc/systemd/detach.service &&
	    cmp -s init/systemd/detach-sweep.timer $doc/systemd/detach-sweep.timer &&
	    cmp -s init/runit/detach/run $doc/runit/detach/run &&
	    cmp -s init/runit/detach/log/run $doc/runit/detach/log/run"
	if [ "$prefix" = /usr/local ]; then
		# Every program path the service files run is installed.
		paths=$(sed -n -e 's/^ExecStart=\([^ ]*\).*/\1/p' "$doc"/systemd/*.service
		    sed -n -e 's/^exec \(\/[^ ]*\).*/\1/p' "$doc"/runit/detach/run)
		n=0
		for p in $paths; do
			[ -x "$D$p" ] && n=$((n + 1)) || echo "# not installed: $p"
		done
		t "service files run the installed binary ($n of 3 paths)" [ "$n" -eq 3 ]
	fi
	make -s uninstall DESTDIR="$D" PREFIX="$prefix" >"$T/uninstall.out" 2>&1
	rc=$?
	sed 's/^/# /' "$T/uninstall.out"
	t "uninstall PREFIX=$prefix: exit 0" [ $rc -eq 0 ]
	left=$(layout "$D" | tr '\n' ' ')
	t "uninstall PREFIX=$prefix: no file left${left:+ ($left)}" [ -z "$left" ]
	t "uninstall PREFIX=$prefix: no doc directory left" [ ! -e "$doc" ]
done

# uninstall keeps what it did not install.
D=$T/keep
make -s install DESTDIR="$D" >/dev/null 2>&1
touch "$D/usr/local/sbin/other" "$D/usr/local/share/doc/detach/local-note"
make -s uninstall DESTDIR="$D" >/dev/null 2>&1
t "uninstall keeps files it did not install" \
    eval "[ -e $D/usr/local/sbin/other ] && [ -e $D/usr/local/share/doc/detach/local-note ]"
finish install
