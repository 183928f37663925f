#!/bin/bash
# man.test.sh - the manual pages: clean, rendered, and true to detach
#
# mandoc is the judge of form: -Tlint -Wwarning reports nothing for
# detach.8 and detach.conf.5, and -Tutf8 renders each without a word on
# stderr. detach.conf.5 documents, under KEYS, exactly the keys that
# "detach -n" prints, in its order, each with the default -n prints for
# an empty file. detach.8's synopsis has every option of detach -h.
# Prints ok/FAIL lines.

cd "$(dirname "$0")/.." || exit 1
. tests/peers/common.sh
need_tools man mandoc
[ -x ./detach ] || { echo "FAIL man: build ./detach first"; exit 1; }
tmp_dir man

for m in detach.8 detach.conf.5; do
	mandoc -Tlint -Wwarning "$m" >"$T/lint" 2>&1
	rc=$?
	sed 's/^/# /' "$T/lint"
	t "$m: mandoc -Tlint -Wwarning is silent (rc=$rc)" \
	    eval "[ $rc -eq 0 ] && [ ! -s $T/lint ]"
	mandoc -Tutf8 "$m" >"$T/out" 2>"$T/err"
	rc=$?
	t "$m: mandoc -Tutf8 renders it without errors (rc=$rc)" \
	    eval "[ $rc -eq 0 ] && [ ! -s $T/err ] && [ -s $T/out ]"
done
# The lint can fail: a page with a broken macro line.
printf '.Dd January 1, 2026\n.Dt X 8\n.Os\n.Sh NAME\n.Nm x\n.Nd y\n.Sh DESCRIPTION\n.Bl -tag\n.It x\n' >"$T/bad.8"
t "mandoc -Tlint -Wwarning speaks up on a broken page" \
    eval "! mandoc -Tlint -Wwarning $T/bad.8 >/dev/null 2>&1"

# keys_of PAGE - "key default" of each .It Cm under .Sh KEYS, in order;
# the default is what follows "Pq default Li", or "(empty)" for
# "Pq default: empty" and "(not set)" for "Pq default: not set".
keys_of() {
	awk '
		/^\.Sh / { in_keys = ($2 == "KEYS") }
		/^\.Bl / && in_keys { depth++ }
		/^\.El/ && in_keys { depth-- }
		in_keys && depth == 1 && /^\.It Cm / {
			d = "?"
			if (match($0, / Pq default Li .*$/))
				d = substr($0, RSTART + 15)
			else if ($0 ~ / Pq default: empty$/)
				d = "(empty)"
			else if ($0 ~ / Pq default: not set$/)
				d = "(not set)"
			print $3, d
		}' "$1"
}
: >"$T/empty.conf"
./detach -n -c "$T/empty.conf" |
    sed -e 's/^\([a-z0-9_]*\) = \(.*\)$/\1 \2/' -e 's/ $/ (empty)/' >"$T/want"
keys_of detach.conf.5 >"$T/got"
echo "# detach -n: $(wc -l <"$T/want") keys, detach.conf.5: $(wc -l <"$T/got") keys"
cut -d' ' -f1 "$T/want" >"$T/want.k"
cut -d' ' -f1 "$T/got" >"$T/got.k"
missing=$(sort "$T/want.k" | comm -23 - <(sort "$T/got.k") | tr '\n' ' ')
unreal=$(sort "$T/got.k" | comm -13 <(sort "$T/want.k") - | tr '\n' ' ')
t "detach.conf.5: every key of detach -n documented${missing:+ (missing: $missing)}" \
    [ -z "$missing" ]
t "detach.conf.5: every key documented is real${unreal:+ (unknown: $unreal)}" \
    [ -z "$unreal" ]
t "detach.conf.5: keys in the order of detach -n" cmp -s "$T/want.k" "$T/got.k"
wrong=$(diff "$T/want" "$T/got" | sed -n 's/^> //p' | tr '\n' ';')
t "detach.conf.5: each default as detach -n prints it${wrong:+ (wrong: $wrong)}" \
    cmp -s "$T/want" "$T/got"
# The key check can fail: a page that lacks one and adds another.
sed -e '/^\.It Cm min_size /s/min_size/min_sise/' detach.conf.5 >"$T/bad.5"
keys_of "$T/bad.5" | cut -d' ' -f1 >"$T/bad.k"
t "the key check sees a renamed key" eval "! cmp -s $T/want.k $T/bad.k"

# Every option of detach -h is in detach.8's synopsis.
opts=$(./detach -h 2>&1 | grep -o ' -[a-zA-Z]' | tr -d ' -' | sort -u)
syn=$(awk '/^\.Sh SYNOPSIS/ { s = 1; next } /^\.Sh / { s = 0 } s' detach.8)
missing=
for o in $opts; do
	echo "$syn" | grep -q "Fl \([a-zA-Z] | \)*$o\b" || missing="$missing -$o"
done
t "detach.8: synopsis has every option of detach -h${missing:+ (missing:$missing)}" \
    [ -n "$opts" -a -z "$missing" ]
finish man
