#!/bin/bash
# soak.sh - many messages through a real Postfix and detach: none lost,
# no link dead, no leak
#
# client (bench/soak.py, --conc sessions at once, several messages per
# session) -> front smtpd (smtpd_proxy_filter) -> detach -> after-filter
# smtpd -> queue -> virtual(8) maildirs (tests/peers/postfix.sh), first
# with the dir store (served by nginx over http), then with nginx's
# WebDAV over https with a test CA (tests/peers/nginx.sh). The mix is
# in bench/soak.py: plain, one attachment, several, one of a pool
# again and again (dedupe), a large one every --large-every messages,
# the messages of tests/corpus, each with a Message-ID of its own, and
# every --cut-every messages a client that closes its connection inside
# DATA (detach's abort path: nothing of it may be delivered or stay);
# and detach is told to reload (SIGHUP) every --hup-every seconds, so
# that store generations are swapped under sessions in flight.
#
# Then, per store, counted from the outside: sent; acknowledged (250 at
# the dot, as the client saw it) of those not cut; cut ones delivered,
# and cuts detach logged as EOF in DATA; delivered exactly once by
# Message-ID; lost (acknowledged, not delivered); duplicates; every
# attachment the client made detached under its own SHA-256 (hashlib's,
# not ours); every distinct X-Detach-URL fetched once with curl and its
# bytes' SHA-256 compared with each X-Detach-SHA256 naming it (dead
# links); objects in the store against distinct URLs; stray spool files
# (names in spool_dir, ".tmp.*" in the dir store, descriptors of detach
# still open on spool_dir once idle); detach's descriptors back to their
# number before the first message, bar HTTP_POOL_MAX idle connections
# to an http store; reloads logged against SIGHUPs sent; exit 0 on
# SIGTERM; no report from a sanitized build (DETACH=, see
# tests/soak.test.sh). VmRSS and descriptors are sampled every second
# into a CSV, and the figures at the end (detach idle past
# PROXY_TRIM_IDLE_MS of proxy.c, when it gives back the heap it keeps
# for busy times) may be no more than 10% above
# those after the first --mark messages (RSS with 8 KiB, two pages, of
# slack: at a few MiB, whether glibc's heap top has one more page in
# use depends on which sessions happened to be freed last, not on how
# many messages went through). RSS is not live memory: detach keeps up
# to PROXY_HEAP_KEEP (8 MiB, proxy.c) of freed session memory in its
# heap for the next sessions, so RSS climbs in ever smaller steps as
# sessions end in new orders, then stays flat (bench/RESULTS.md); a
# leak would climb with the count of messages instead. LeakSanitizer,
# in tests/soak.test.sh, is the exact check. Prints ok/FAIL lines;
# exits 1 on any FAIL.
#
# Usage: bench/soak.sh [-n N] [--https-n N] [--large-every K]
#	[--cut-every K] [--hup-every S] [--mark M] [--stores "dir https"]
#	[--label L] [--rss LIST] [--record]	(as root, from the top)
#	-n: messages per store (10000); --https-n: for the https store
#	(same as -n); --large-every: one 25 MB attachment every K messages
#	(500; 0: none); --cut-every: one session that goes away inside
#	DATA every K messages (50; 0: none); --hup-every: SIGHUP detach
#	(reload) every S seconds while the messages go (10; 0: never);
#	--mark: the RSS and descriptors compared with the end are those
#	after M messages (500); --stores: which, in that order; --label:
#	L-dir, L-https in the names of the checks; --rss: the stores whose
#	RSS is checked ("dir https"; not for a sanitized build, whose
#	quarantine holds freed memory); --record: append the figures to
#	bench/RESULTS.md (COMMIT=HASH names the commit when run outside a
#	git checkout). KEEP=1 keeps the temporary directory.

cd "$(dirname "$0")/.." || exit 1
. tests/peers/postfix.sh
. tests/peers/nginx.sh
. tests/peers/common.sh

N=10000
HN=
LARGE=500
CUT=50
HUP=10
LABEL=
RSS_STORES="dir https"
MARK=500
STORES="dir https"
RECORD=
CONC=20
while [ $# -gt 0 ]; do
	case $1 in
	-n) N=$2; shift ;;
	--https-n) HN=$2; shift ;;
	--large-every) LARGE=$2; shift ;;
	--cut-every) CUT=$2; shift ;;
	--hup-every) HUP=$2; shift ;;
	--label) LABEL=$2-; shift ;;
	--rss) RSS_STORES=$2; shift ;;
	--mark) MARK=$2; shift ;;
	--stores) STORES=$2; shift ;;
	--record) RECORD=1 ;;
	*) sed -n '/^# Usage:/,/^$/p' "$0"; exit 2 ;;
	esac
	shift
done
HN=${HN:-$N}

need_tools soak postfix nginx openssl curl python3
need_root soak
need_detach soak
# gdb, when there, reads the live heap out of detach (malloc_stats());
# not out of a sanitized build, whose malloc is its own and whose heap
# check is LeakSanitizer's
GDB=$(command -v gdb)
grep -qa __asan_init "$DETACH" && GDB=

DPID=
PF=
stop_all() {
	[ -n "$DPID" ] && kill "$DPID" 2>/dev/null && wait "$DPID" 2>/dev/null
	nginx_stop
	[ -n "$PF" ] && pf_stop
}
tmp_dir soak stop_all
chmod 755 "$T"
START=$(date +%s)
# where a sanitized build of detach, once it runs as nobody, writes its
# reports (san/log.PID)
mkdir "$T/san" && chown nobody: "$T/san"
ASAN_OPTIONS="detect_leaks=1:log_path=$T/san/log${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
UBSAN_OPTIONS="print_stacktrace=1:log_path=$T/san/log${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
export ASAN_OPTIONS UBSAN_OPTIONS

HP=$(free_port); SP=$(free_port); OP=$(free_port); WP=$(free_port)
mkdir -p "$T/ng/pki" "$T/ng/www/dir" "$T/ng/www/up" "$T/dspool"
chown nobody: "$T/dspool" "$T/ng/www/dir"
pki_make "$T/ng/pki" ||
    { echo "FAIL soak: openssl could not make the test CA"; exit 1; }
if ! nginx_start "$T/ng" "$HP" "$SP" "$OP" "$WP"; then
	echo "FAIL soak: nginx did not start"
	sed 's/^/# /' "$T/ng/logs/error.log"
	exit 1
fi
CA=$T/ng/pki/ca.crt

pf_init "$T/pf"
pf_free_ports
if ! pf_start; then
	# a port taken between our look and the master's bind: once more
	# on ports all new
	pf_stop
	pf_free_ports all
	pf_start || { echo "FAIL soak: Postfix did not start"; exit 1; }
fi
SECRET=$(openssl rand -hex 32)

# detach_start NAME STORE LINK - detach with that store; log $T/NAME.log
detach_start() {
	cat >"$T/$1.conf" <<-EOF
	store = $2
	link_base = $3
	min_size = 10k
	secret = $SECRET
	spool_dir = $T/dspool
	listen = 127.0.0.1:$PF_FILTER
	forward = 127.0.0.1:$PF_AFTER
	tls_ca_file = $CA
	on_store_failure = tempfail
	user = nobody
	EOF
	: >"$T/$1.log"
	"$DETACH" -c "$T/$1.conf" >"$T/$1.log" 2>&1 &
	DPID=$!
	local i=0
	while ! grep -qF "listening on 127.0.0.1:$PF_FILTER" "$T/$1.log"; do
		i=$((i + 1))
		if [ $i -ge 100 ]; then
			echo "FAIL soak: detach did not listen"
			sed 's/^/# /' "$T/$1.log"
			exit 1
		fi
		sleep 0.1
	done
}

# pool_max - HTTP_POOL_MAX of detach.h: idle keep-alive connections
# kept per store
pool_max() {
	awk '$1 == "#define" && $2 == "HTTP_POOL_MAX" { print $3 }' detach.h
}

# trim_idle - PROXY_TRIM_IDLE_MS of proxy.c in seconds, rounded up:
# how long detach waits, idle, before it gives its kept heap back
trim_idle() {
	awk '$1 == "#define" && $2 == "PROXY_TRIM_IDLE_MS" {
		gsub(/[()]/, ""); print int(($3 * $5 + 999) / 1000) }' proxy.c
}

# mailed TAG - messages in TAG's maildirs
mailed() {
	find "$PF/mail" -path "$PF/mail/$1[0-9]*/new/*" -type f | wc -l
}

# queue_drained TAG - until the queue is empty, as long as deliveries
# go on (bounded: 30 s without one more delivered)
queue_drained() {
	local before after
	after=$(mailed "$1")
	while :; do
		pf_queue_empty && return 0
		before=$after
		after=$(mailed "$1")
		[ "$after" -gt "$before" ] || return 1
		postqueue -c "$PF/etc" -f >/dev/null 2>&1
	done
}

# heap_stats PID - glibc's malloc_stats() called in PID by gdb: into its
# log, the bytes malloc holds and those in use (live). Only while detach
# is idle in poll(), never inside malloc; a signal during the call (a
# SIGHUP) unwinds it rather than leave gdb's return frame on the stack.
heap_stats() {
	[ -n "$GDB" ] || return 0
	gdb -p "$1" -batch -ex 'set unwindonsignal on' \
	    -ex 'call (void)malloc_stats()' >/dev/null 2>&1
}

# heap_kib LOG N WHAT - the Nth total of malloc_stats() in LOG, in KiB:
# WHAT "in use" or "system"
heap_kib() {
	awk -v n="$2" -v what="$3 bytes" '
	    /^Total \(incl\. mmap\):/ { t = 1; next }
	    t && index($0, what) == 1 { if (++k == n) print int($NF / 1024); }
	    t && /^in use bytes/ { t = 0 }' "$1"
}

# le A B - A is a number no greater than B
le() { [ -n "$1" ] && [ "$1" -le "$2" ]; }

# val FILE NAME - the value of "NAME value" in FILE
val() { awk -v k="$2" '$1 == k { print $2; exit }' "$1"; }

# files_open PID - descriptors of PID other than sockets
files_open() {
	for l in /proc/"$1"/fd/*; do readlink "$l"; done | grep -vc '^socket:'
}

# soak NAME TAG N STORE LINK STOREDIR POOL - one store's run and its
# counts; POOL: idle store connections detach may keep once idle
soak() {
	local name=$1 tag=$2 n=$3 store=$4 link=$5 sdir=$6 pool=$7 f r
	local files0
	detach_start "$name" "$store" "$link"
	files0=$(files_open "$DPID")
	heap_stats "$DPID"
	echo "# $name: $n messages, store $store"
	python3 bench/soak.py send "$PF_FRONT" "$n" "$tag" "$T/$name.tsv" \
	    "$T/$name.csv" "$DPID" --conc "$CONC" --corpus tests/corpus \
	    --large-every "$LARGE" --cut-every "$CUT" --hup-every "$HUP" \
	    --mark "$MARK" --pool "$pool" --idle "$(trim_idle)" \
	    >"$T/$name.send"
	t "$name: the queue drained" queue_drained "$tag"
	python3 bench/soak.py check "$PF/mail" "$tag" "$T/$name.tsv" "$CA" \
	    "$link" >"$T/$name.check"
	f=$T/$name.send
	r=$T/$name.check
	sed -n 's/^# /# '"$name"': /p' "$r"
	local sent acked cut cutd once lost dups unexp urls dead mdead wrong pooled
	sent=$(val "$r" sent); acked=$(val "$r" acked)
	cut=$(val "$r" cut); cutd=$(val "$r" cut_delivered)
	once=$(val "$r" delivered_once); lost=$(val "$r" lost)
	dups=$(val "$r" duplicates); unexp=$(val "$r" unexpected)
	urls=$(val "$r" distinct_urls); dead=$(val "$r" dead_links)
	mdead=$(val "$r" messages_with_dead_links); wrong=$(val "$r" wrong_parts)
	pooled=$(val "$r" pool_urls)
	t "$name: sent $sent of $n" [ "$sent" = "$n" ]
	t "$name: acknowledged (250) $acked of $((sent - cut)) complete" \
	    [ "$acked" = "$((sent - cut))" ]
	t "$name: cut inside DATA $cut, delivered $cutd" \
	    [ "$cutd" = 0 -a \( "$CUT" = 0 -o "$cut" -gt 0 \) ]
	# each cut reached detach as such: the front smtpd closed the
	# proxy connection inside DATA, detach went its abort path
	local eofs
	eofs=$(grep -c 'lost connection .* in state WAIT_CONTENT: EOF in DATA' \
	    "$T/$name.log")
	t "$name: cuts detach logged as EOF in DATA $eofs of $cut" \
	    [ "$eofs" = "$cut" ]
	t "$name: delivered exactly once $once of $acked" [ "$once" = "$acked" ]
	t "$name: lost $lost" [ "$lost" = 0 ]
	t "$name: duplicates $dups" [ "$dups" = 0 ]
	t "$name: delivered but not acknowledged $unexp" [ "$unexp" = 0 ]
	t "$name: every attachment made detached with its SHA-256 (wrong $wrong)" \
	    [ "$wrong" = 0 ]
	t "$name: dead or wrong links $dead of $urls distinct ($mdead messages)" \
	    [ "$urls" -gt 0 -a "$dead" = 0 -a "$mdead" = 0 ]
	t "$name: the dedupe pool is $pooled objects" [ "$pooled" -le 4 ]
	local objs tmps spool sfds
	objs=$(find "$sdir" -mindepth 2 -type f | wc -l)
	t "$name: objects in the store $objs, distinct URLs $urls" \
	    [ "$objs" = "$urls" ]
	tmps=$(find "$sdir" -maxdepth 1 -name '.tmp.*' | wc -l)
	spool=$(ls -A "$T/dspool" | wc -l)
	sfds=$(for l in /proc/"$DPID"/fd/*; do readlink "$l"; done |
	    grep -c "^$T/dspool")
	t "$name: stray files: spool $spool, store .tmp.* $tmps, spool fds $sfds" \
	    [ "$spool" = 0 -a "$tmps" = 0 -a "$sfds" = 0 ]
	local fds0 fdsm fdse rssm rsse
	fds0=$(val "$f" fds_start); fdsm=$(val "$f" fds_mark); fdse=$(val "$f" fds_end)
	rssm=$(val "$f" rss_mark); rsse=$(val "$f" rss_end)
	t "$name: descriptors when idle $fdse, before $fds0 (+ $pool store connections)" \
	    [ "$fdse" -le "$((fds0 + pool))" ]
	t "$name: descriptors on files when idle $(files_open "$DPID"), before $files0" \
	    [ "$(files_open "$DPID")" = "$files0" ]
	t "$name: descriptors at the end $fdse, after $MARK messages $fdsm" \
	    [ "$((fdse * 10))" -le "$((fdsm * 11))" ]
	case " $RSS_STORES " in *" ${name#"$LABEL"} "*)
	t "$name: VmRSS at the end $rsse KiB, after $MARK messages $rssm KiB" \
	    [ "$((rsse * 10))" -le "$((rssm * 11 + 80))" ] ;;
	esac
	# the live heap, idle at the end against idle before the first
	# message: what may stay is the connections still pooled (the
	# descriptors above those before), each at most a struct http_tls
	# (92680 bytes, BearSSL's buffers and contexts) and a little more;
	# 64 KiB of slack for the rest (reloaded settings come and go in
	# the same sizes). 56 KiB a connection seen.
	heap_stats "$DPID"
	local h0= h1= s1=
	if [ -n "$GDB" ]; then
		h0=$(heap_kib "$T/$name.log" 1 "in use")
		h1=$(heap_kib "$T/$name.log" 2 "in use")
		s1=$(heap_kib "$T/$name.log" 2 system)
		t "$name: live heap idle at the end $h1 KiB, before the first message $h0 KiB (malloc holds $s1 KiB)" \
		    le "$h1" "$((h0 + (fdse - fds0) * 96 + 64))"
	fi
	local hups reloads
	hups=$(val "$f" hups)
	reloads=$(grep -c 'reload: new settings' "$T/$name.log")
	t "$name: reloads logged $reloads, SIGHUPs sent $hups" \
	    [ "$reloads" = "$hups" ]
	kill -TERM "$DPID"
	wait "$DPID"
	t "$name: detach exits 0 on SIGTERM" [ $? = 0 ]
	# a build with -fsanitize=address,undefined: its reports, leaks
	# found at exit among them
	t "$name: no sanitizer report" [ ! -e "$T/san/log.$DPID" ]
	[ -e "$T/san/log.$DPID" ] && head -30 "$T/san/log.$DPID" | sed 's/^/# /'

	DPID=
	echo "# $name: $(val "$f" msgs_per_s) msg/s, $(val "$f" seconds) s;" \
	    "VmRSS KiB start $(val "$f" rss_start) mark $rssm end $rsse" \
	    "max $(val "$f" rss_max); fds start $fds0 mark $fdsm end $fdse;" \
	    "$urls distinct URLs; $(grep -c 'warning' "$T/$name.log") warnings logged"
	grep 'warning\|error' "$T/$name.log" | sort | uniq -c | sort -rn |
	    head -5 | sed 's/^/# '"$name"': /'
	if [ -n "$RECORD" ]; then
		printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s |' \
		    "$(date -u +%Y-%m-%d)" \
		    "$(uname -m), $(nproc) cores; load $(cut -d' ' -f1 /proc/loadavg)" \
		    "${COMMIT:-$(git rev-parse --short HEAD 2>/dev/null)}" \
		    "$name" "$sent" "$acked (+$cut cut)" "$once" "$lost" \
		    "$dups" >>"$T/record"
		printf ' %s | %s | %s | %s | %s | %s |\n' "$dead of $urls" \
		    "$((spool + tmps + sfds))" "$(val "$f" msgs_per_s)" \
		    "$rssm / $rsse KiB${h1:+ (live heap $h0 / $h1)}" \
		    "$fdsm / $fdse" "$LARGE" >>"$T/record"
	fi
}

for s in $STORES; do
	case $s in
	dir) soak "${LABEL}dir" u "$N" "dir:$T/ng/www/dir" \
	    "http://127.0.0.1:$HP/dir/" \
	    "$T/ng/www/dir" 0 ;;
	https) soak "${LABEL}https" b "$HN" "https://localhost:$SP/up/" \
	    "https://localhost:$SP/up/" "$T/ng/www/up" "$(pool_max)" ;;
	*) echo "FAIL soak: no store $s"; exit 1 ;;
	esac
done

if [ -n "$RECORD" ] && [ -s "$T/record" ]; then
	python3 - bench/RESULTS.md "$T/record" "$MARK" <<'EOF'
import sys
path, rows, mark = sys.argv[1], open(sys.argv[2]).read(), sys.argv[3]
text = open(path).read()
head = "## Soak (bench/soak.sh)"
if head not in text:
	text = text.rstrip("\n") + "\n\n" + head + """

`bench/soak.sh --record`: messages through client -> front smtpd ->
detach -> after-filter smtpd -> virtual(8) maildirs at 20 concurrent
sessions, the mix of bench/soak.py (plain, one attachment, several, a
pool again and again, the messages of tests/corpus, one 25 MB
attachment every "large" messages), first with the dir store served by
nginx, then with nginx WebDAV over https. Delivered: exactly once, by
Message-ID. Dead links: of the distinct X-Detach-URLs, fetched with curl
and compared with X-Detach-SHA256. Stray: spool names, store .tmp.*,
spool descriptors open after the run. RSS and descriptors after the
first %s messages / at the end, detach idle.

| date | machine | commit | store | sent | 250 | delivered | lost | duplicates | dead links | stray | msg/s | RSS mark / end | fds mark / end | large every |
|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|
""" % mark
	text += rows
else:
	# rows go after the last row of the section's table, before any
	# notes under it
	i = text.index(head)
	j = text.find("\n## ", i + len(head))
	j = len(text) if j < 0 else j + 1
	lines = text[i:j].split("\n")
	k = max(n for n, l in enumerate(lines) if l.startswith("|"))
	lines[k + 1:k + 1] = rows.rstrip("\n").split("\n")
	text = text[:i] + "\n".join(lines) + text[j:]
open(path, "w").write(text if text.endswith("\n") else text + "\n")
EOF
	echo "# recorded in bench/RESULTS.md"
fi
echo "# soak: $(($(date +%s) - START)) s"
if [ "$fails" -ne 0 ]; then
	for l in "$T"/*.log; do echo "# $l:"; tail -5 "$l" | sed 's/^/#   /'; done
	echo "# maillog:"; grep -i 'warning\|error\|fatal' "$PF/maillog" |
	    grep -v 'aliases\.db\|NIS domain' | tail -10 | sed 's/^/#   /'
fi
finish soak
