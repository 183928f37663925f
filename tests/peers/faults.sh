# faults.sh - the fault matrix: a real mail chain, faults, invariants
# (sourced by tests/faults*.test.sh, from the top of the tree)
#
# fa_setup starts the chain on loopback, all private under $T:
#	client (tests/faultc.py) -> front smtpd ($PF_FRONT, smtpd_proxy_
#	filter, smtpd_proxy_timeout $FA_PROXY_TIMEOUT) -> detach
#	($PF_FILTER, $DPID) -> after-filter smtpd ($PF_AFTER, XFORWARD,
#	max_use=1 so each session reads the access maps afresh) ->
#	virtual(8) maildirs under $PF/mail.
# detach stores into $FA_DIR (dir store), which nginx serves over http
# at $FA_DIRLINK; links are followed with curl. The http store
# $FA_HTTP_STORE goes through tests/faultgate.py ($FA_GATE) to nginx,
# so that a test can hold an upload half way ("body") or hold the
# store's answer ("resp"): fa_gate_hold, fa_gate_wait, fa_gate_go. Its
# objects are linked at $FA_HTTPLINK. $FA_HTTP_CONF are the lines that
# select it. Spool: $FA_SPOOL.
#
#	fa_detach_start [LINE...]  start detach, the base settings with
#				   these lines over them (same key: the
#				   line given wins); waits until it listens
#	fa_detach_stop		   SIGTERM and wait; fa_detach_kill9
#	fa_msg ID plain|att [SIZE] a message, Message-ID <ID@example.org>
#				   (att: a fresh random attachment of SIZE
#				   bytes, 200000 by default)
#	fa_send TAG ID STAGE ACTION [RCPT] [SENDER]
#				   client in the background; with a STAGE
#				   other than none, returns once it stands
#				   there (1 if it never got there), unless
#				   FA_NOWAIT is set: then fa_stand TAG waits
#	fa_go TAG		   let it carry on, wait for its result
#	fa_release TAG, fa_wait TAG  the same in two steps
#	fa_res TAG		   250, 4xx code, 5xx code, broken, vanished
#	fa_check FAULT STAGE WINDOW ID...
#				   the invariants after a fault (call it
#				   with the fault gone), for the messages
#				   sent first under tags ID:
#		a) 250 -> delivered exactly once (by Message-ID)
#		b) 4xx/broken/vanished -> at most once; then resent with
#		   the fault gone: 250 and exactly once. Delivered despite
#		   the failure is a FAIL unless WINDOW is "window" (the
#		   RFC 1047 window: the dot had passed), then it is said
#		   and not resent; 5xx -> nothing delivered
#		c) every X-Detach-URL in every message delivered since the
#		   last check downloads (curl via nginx) an object whose
#		   sha256sum is the X-Detach-SHA256 beside it and that of
#		   the file attached; every attachment sent became a link
#		   (with FA_KEPT_OK set, as under on_store_failure = keep:
#		   or arrived inline, decoding to the very file sent);
#		   every object in the stores is one of the files attached
#		d) no spool file, no .tmp.* in the dir store, no spool
#		   file open in detach (/proc/PID/fd) once sessions ended
#		e) a fresh message with an attachment gets 250, arrives
#		   (sent beside the messages sent again)
#	   and appends a row to $T/rows for the matrix (tests/FAULTS.md).
#	fa_gate_hold body|resp, fa_gate_wait, fa_gate_go  the http store
#				   upload held, see above
#	fa_skip FAULT REASON	   "SKIP FAULT: REASON"
#	fa_stop PID..., fa_cont	   SIGSTOP, SIGCONT (and SIGCONT at exit)
#	fa_after_pids		   pids of the after-filter smtpd processes
#				   serving a session now
#	fa_id NAME		   a fresh message id ("faN-NAME")
#	fa_count ID		   messages delivered with that Message-ID
#	fa_settle		   until detach's sessions ended and the
#				   queue is empty (bounded)
#	fa_links NAME, fa_spool NAME  checks c) and d) alone
#	fa_t NAME COND..., fa_until TENTHS COND...
# Prints ok/FAIL lines through fa_t; fa_finish prints the rows and
# what failed.

. tests/peers/postfix.sh
. tests/peers/nginx.sh

# Short, to keep the faults that wait for it fast; detach's own timeouts
# stay under it (fa_detach_start), with room for a loaded machine.
FA_PROXY_TIMEOUT=${FA_PROXY_TIMEOUT:-8s}
fa_fails=0
DPID=
GPID=
PF=

# fa_t NAME COND... - one check
fa_t() {
	local name=$1
	shift
	if "$@"; then
		echo "ok $name"
	else
		echo "FAIL $name"
		fa_fails=$((fa_fails + 1))
	fi
}

fa_skip() { echo "SKIP $1: $2"; }

# fa_stop PID..., fa_cont - SIGSTOP processes; SIGCONT them (also at
# exit, so that none is left stopped)
FA_STOPPED=
fa_stop() {
	FA_STOPPED="$*"
	kill -STOP "$@"
}
fa_cont() {
	[ -n "$FA_STOPPED" ] && kill -CONT $FA_STOPPED
	FA_STOPPED=
}

# fa_until TENTHS COND... - until COND holds, bounded
fa_until() {
	local i=0 n=$1
	shift
	while ! "$@"; do
		[ $i -ge "$n" ] && return 1
		sleep 0.1
		i=$((i + 1))
	done
}

fa_cleanup() {
	local p
	# Clients still running: our own jobs only (a pid of one that
	# ended may belong to another process by now).
	for p in $(jobs -p); do
		[ "$p" = "$DPID" ] || [ "$p" = "$GPID" ] || kill "$p" 2>/dev/null
	done
	[ -n "$FA_STOPPED" ] && kill -CONT $FA_STOPPED 2>/dev/null
	if [ -n "$DPID" ]; then
		kill -CONT "$DPID" 2>/dev/null
		kill "$DPID" 2>/dev/null && wait "$DPID" 2>/dev/null
	fi
	[ -n "$GPID" ] && kill "$GPID" 2>/dev/null
	nginx_stop
	[ -n "$PF" ] && pf_stop
	[ -n "${KEEP:-}" ] || rm -rf "$T"
}

fa_setup() {
	local tool
	for tool in postfix postconf nginx curl python3 sha256sum base64; do
		if ! command -v "$tool" >/dev/null; then
			echo "FAIL faults: $tool is not installed"
			exit 1
		fi
	done
	[ "$(id -u)" = 0 ] || { echo "FAIL faults: Postfix tests need root"; exit 1; }
	DETACH=${DETACH:-./detach}
	[ -x "$DETACH" ] || { echo "FAIL faults: build ./detach first"; exit 1; }
	T=$(mktemp -d /tmp/detach-faults.XXXXXX)
	chmod 755 "$T"
	trap fa_cleanup EXIT
	trap 'exit 1' INT TERM
	mkdir -p "$T/ng" "$T/m" "$T/c" "$T/spool" "$T/gate"
	: >"$T/rows"
	: >"$T/seen"
	: >"$T/seenobj"
	: >"$T/detach.log"
	FA_SPOOL=$T/spool
	HP=$(free_port)
	FA_GATE=$(free_port)
	if ! nginx_start "$T/ng" "$HP"; then
		echo "FAIL faults: nginx did not start"
		sed 's/^/# /' "$T/ng/logs/error.log"
		exit 1
	fi
	FA_DIR=$T/ng/www/d
	mkdir -p "$FA_DIR" "$T/ng/www/h"
	chown nobody: "$FA_DIR" "$FA_SPOOL"
	FA_DIRLINK=http://127.0.0.1:$HP/d/
	FA_HTTPLINK=http://127.0.0.1:$HP/h/
	FA_HTTP_STORE=http://127.0.0.1:$FA_GATE/h/
	FA_HTTP_CONF=("store = $FA_HTTP_STORE" "link_base = $FA_HTTPLINK")
	python3 tests/faultgate.py "$FA_GATE" "$HP" "$T/gate" \
	    2>>"$T/gate/err" &
	GPID=$!
	PF_AFTER_EXTRA="  -o max_use=1
  -o smtpd_recipient_restrictions=check_recipient_access,texthash:$T/pf/etc/rcpt_access,permit_mynetworks,reject
  -o smtpd_end_of_data_restrictions=check_sender_access,texthash:$T/pf/etc/sender_access"
	pf_init "$T/pf"
	: >"$PF/etc/rcpt_access"
	: >"$PF/etc/sender_access"
	# A killed after-filter smtpd makes master(8) throttle the service,
	# 60 s by default: the next sessions would wait that long.
	postconf -c "$PF/etc" -e "smtpd_proxy_timeout = $FA_PROXY_TIMEOUT" \
	    "service_throttle_time = 1s"
	pf_free_ports
	# Another test may take one of the ports between the check and
	# the start: once more, all on new ports.
	if ! pf_start; then
		pf_stop
		pf_free_ports all
		pf_start || { echo "FAIL faults: Postfix did not start"; exit 1; }
	fi
	fa_until 100 fa_listens "$FA_GATE" || {
		echo "FAIL faults: the store gate did not start"; exit 1; }
	FA_SECRET=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
	fa_detach_start
}

fa_listens() { (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null; }

# fa_detach_start [LINE...] - start detach; later lines win
fa_detach_start() {
	local n l
	{
		echo "store = dir:$FA_DIR"
		echo "link_base = $FA_DIRLINK"
		echo "min_size = 100k"
		echo "secret = $FA_SECRET"
		echo "on_store_failure = tempfail"
		echo "spool_dir = $FA_SPOOL"
		echo "listen = 127.0.0.1:$PF_FILTER"
		echo "forward = 127.0.0.1:$PF_AFTER"
		# below smtpd_proxy_timeout: after the dot ours comes first
		echo "timeout = 6s"
		echo "upload_timeout = 4s"
		echo "hostname = detach.example.test"
		echo "user = nobody"
		for l in "$@"; do echo "$l"; done
	} | awk -F' *= *' '!($1 in v) { o[++n] = $1 } { v[$1] = $0 }
	    END { for (i = 1; i <= n; i++) print v[o[i]] }' >"$T/detach.conf"
	n=$(grep -c ': listening on ' "$T/detach.log")
	"$DETACH" -c "$T/detach.conf" >>"$T/detach.log" 2>&1 &
	DPID=$!
	if ! fa_until 100 fa_log_count ': listening on ' $((n + 1)); then
		echo "FAIL faults: detach did not listen"
		tail -5 "$T/detach.log" | sed 's/^/# /'
		exit 1
	fi
}

# fa_log_count TEXT N - detach's log has N lines with TEXT or more
fa_log_count() { [ "$(grep -c -- "$1" "$T/detach.log")" -ge "$2" ]; }

fa_detach_stop() {
	kill -TERM "$DPID" 2>/dev/null
	wait "$DPID" 2>/dev/null
	FA_DRC=$?
	DPID=
}

fa_detach_kill9() {
	kill -KILL "$DPID" 2>/dev/null
	wait "$DPID" 2>/dev/null
	DPID=
}

# fa_msg ID plain|att [SIZE] - a CRLF message (base64 by coreutils: the
# test makes many and python's start is not free on a loaded machine);
# the attachment's sha256sum goes to $T/sums
fa_msg() {
	local f=$T/m/$1
	{
		printf 'From: <a@example.org>\nTo: <bob@example.test>\n'
		printf 'Subject: fault %s\n' "$1"
		printf 'Date: Wed, 1 Jan 2025 00:00:00 +0000\n'
		printf 'Message-ID: <%s@example.org>\nMIME-Version: 1.0\n' "$1"
		if [ "$2" = att ]; then
			head -c "${3:-200000}" /dev/urandom >"$f.bin"
			sha256sum <"$f.bin" | cut -d' ' -f1 >>"$T/sums"
			printf 'Content-Type: multipart/mixed; boundary="b1"\n\n'
			printf -- '--b1\nContent-Type: text/plain\n\n'
		else
			printf 'Content-Type: text/plain\n\n'
		fi
		printf 'Hello.\n.leading dot\n..two dots\n.\n'
		printf 'the line above was a lone dot\ntoken %s\n' "$1"
		if [ "$2" = att ]; then
			printf -- '\n--b1\nContent-Type: application/octet-stream\n'
			printf 'Content-Disposition: attachment; filename="%s.bin"\n' "$1"
			printf 'Content-Transfer-Encoding: base64\n\n'
			base64 -w 76 <"$f.bin"
			printf -- '--b1--\n'
		fi
	} | sed 's/$/\r/' >"$f"
}

fa_kind() { [ -f "$T/m/$1.bin" ] && echo att || echo plain; }

# fa_send TAG ID STAGE ACTION [RCPT] [SENDER]
fa_send() {
	local ctl=$T/c/$1 pid
	rm -f "$ctl.at" "$ctl.go"
	python3 tests/faultc.py "$PF_FRONT" "$T/m/$2" \
	    "${6:-a@example.org}" "${5:-bob@example.test}" "$ctl" "$3" "$4" \
	    >"$ctl.out" 2>&1 &
	pid=$!
	echo "$pid" >"$ctl.pid"
	[ -f "$T/m/$2.env" ] || echo "${5:-bob@example.test} ${6:-a@example.org}" >"$T/m/$2.env"
	[ "$3" = none ] || [ -n "${FA_NOWAIT:-}" ] && return 0
	fa_stand "$1"
}

# fa_stand TAG - until the client stands at its stage (bounded); 1 if
# it ended before
fa_stand() {
	local ctl=$T/c/$1
	fa_until 300 fa_at "$ctl" "$(cat "$ctl.pid")"
	[ -f "$ctl.at" ]
}

# fa_at CTL PID - the client stands at its stage, or has ended
fa_at() { [ -f "$1.at" ] || ! kill -0 "$2" 2>/dev/null; }

# fa_go TAG - let the client carry on and wait for it
fa_go() {
	fa_release "$1"
	fa_wait "$1"
}

# fa_release TAG - let the client carry on
fa_release() { : >"$T/c/$1.go"; }

# fa_wait TAG - wait for a client that was not stopped
fa_wait() { wait "$(cat "$T/c/$1.pid")" 2>/dev/null; }

fa_res() { sed -n 's/^result //p' "$T/c/$1.out" | tail -1; }

# fa_saw TAG - the client's result as the matrix says it
fa_saw() {
	local r
	r=$(fa_res "$1")
	case $r in
	2??|4??|5??)
		sed -n 's/^<- \([0-9][0-9][0-9] .*\)/\1/p' "$T/c/$1.out" |
		    tail -1 | sed 's/ as [0-9A-Z]*$//' | cut -c1-60 |
		    sed 's/|/\\|/g' ;;
	"") echo "no result" ;;
	*) echo "$r" ;;
	esac
}

# fa_count ID - messages delivered with Message-ID <ID@example.org>
fa_count() {
	find "$PF/mail" -path '*/new/*' -type f -print0 |
	    xargs -0r grep -lx "Message-ID: <$1@example.org>" | wc -l
}

# fa_sessions_done - detach ended each session it began
fa_sessions_done() {
	[ -z "$DPID" ] && return 0
	[ "$(grep -c "detach\[$DPID\]: .*: connect from" "$T/detach.log")" = \
	    "$(grep -c "detach\[$DPID\]: .*: disconnect from" "$T/detach.log")" ]
}

# fa_settle - clients, detach's sessions and Postfix's queue are done
fa_settle() {
	fa_until 150 fa_sessions_done
	pf_queue_empty
}

# fa_after_pids - the after-filter smtpd processes in a session now
fa_after_pids() {
	ss -tnpH state established "( sport = :$PF_AFTER )" |
	    sed -n 's/.*pid=\([0-9]*\).*/\1/p' | sort -u
}

# fa_gate_hold body|resp - the next PUT stops there
fa_gate_hold() {
	rm -f "$T/gate/at" "$T/gate/go" "$T/gate/hold.taken"
	echo "$1" >"$T/gate/hold"
}

# fa_gate_wait - until a held PUT stands at its place (bounded)
fa_gate_wait() { fa_until 150 test -f "$T/gate/at"; }

fa_gate_go() { : >"$T/gate/go"; }

# fa_links NAME - check c) over the messages delivered since last time
fa_links() {
	local name=$1 kind file url sha id want nl=0 bad=0 miss=0 obj=0 orphan=0
	local kept=0
	python3 - "$PF/mail" "$T/seen" "$T/m" >"$T/links" <<'EOF'
import email, hashlib, os, sys
root, seenf, mdir = sys.argv[1:4]
seen = set(open(seenf).read().split())
new = []
for dp, dn, fn in os.walk(root):
    if os.path.basename(dp) != "new":
        continue
    for f in fn:
        p = os.path.join(dp, f)
        if p not in seen:
            new.append(p)
for p in sorted(new):
    m = email.message_from_binary_file(open(p, "rb"))
    mid = (m.get("Message-ID") or "").strip("<> ").split("@")[0]
    links = 0
    for part in m.walk():
        url = part.get("X-Detach-URL")
        if url is None:
            continue
        sha = (part.get("X-Detach-SHA256") or "-").strip().lower()
        print("LINK", p, url.strip(), sha, mid)
        links += 1
    if links == 0 and os.path.exists(os.path.join(mdir, mid + ".bin")):
        # kept inline? the SHA-256 of the part as it decodes
        sha = "-"
        for part in m.walk():
            if part.get_filename() == mid + ".bin":
                sha = hashlib.sha256(part.get_payload(decode=True)).hexdigest()
        print("NOLINK", p, "-", sha, mid)
with open(seenf, "a") as f:
    for p in new:
        f.write(p + "\n")
EOF
	while read -r kind file url sha id; do
		if [ "$kind" = NOLINK ]; then
			if [ -n "${FA_KEPT_OK:-}" ] && [ "$sha" = \
			    "$(sha256sum <"$T/m/$id.bin" | cut -d' ' -f1)" ]; then
				kept=$((kept + 1))
				continue
			fi
			miss=$((miss + 1))
			echo "# no link in $file ($id)"
			continue
		fi
		nl=$((nl + 1))
		want=-
		[ -f "$T/m/$id.bin" ] && want=$(sha256sum <"$T/m/$id.bin" | cut -d' ' -f1)
		# the download, by curl through nginx, against both
		if ! curl -s -f -o "$T/get" "$url" ||
		    [ "$(sha256sum <"$T/get" | cut -d' ' -f1)" != "$sha" ] ||
		    [ "$sha" != "$want" ]; then
			bad=$((bad + 1))
			echo "# link $url in $file does not give $sha"
		fi
	done <"$T/links"
	FA_LINKS="$nl, $([ "$bad" = 0 ] && echo ok || echo "$bad bad")"
	[ "$kept" = 0 ] || FA_LINKS="$FA_LINKS; $kept kept inline, byte for byte"
	fa_t "$name: c) each link downloads its X-Detach-SHA256, the file sent ($nl links)" \
	    [ "$bad" = 0 ]
	if [ -n "${FA_KEPT_OK:-}" ]; then
		fa_t "$name: c) each attachment sent became a link or arrived inline byte for byte ($kept inline)" \
		    [ "$miss" = 0 ]
	else
		fa_t "$name: c) each attachment sent became a link" [ "$miss" = 0 ]
	fi
	# Every object in the stores is whole: one of the files attached.
	while read -r f; do
		grep -qxF "$f" "$T/seenobj" && continue
		obj=$((obj + 1))
		if grep -qx "$(sha256sum <"$f" | cut -d' ' -f1)" "$T/sums"; then
			echo "$f" >>"$T/seenobj"
		else
			orphan=$((orphan + 1))
			echo "# object $f is none of the files sent"
		fi
	done < <(find "$FA_DIR" "$T/ng/www/h" -type f ! -name '.tmp.*')
	fa_t "$name: c) each object stored is a whole file sent ($obj new)" \
	    [ "$orphan" = 0 ]
}

# fa_spool NAME - check d)
fa_spool() {
	local name=$1 open=
	fa_t "$name: d) no spool file left" [ -z "$(ls -A "$FA_SPOOL")" ]
	fa_t "$name: d) no .tmp.* left in the dir store" \
	    [ -z "$(find "$FA_DIR" -name '.tmp.*')" ]
	[ -n "$DPID" ] && open=$(ls -l "/proc/$DPID/fd" 2>/dev/null |
	    grep -e "$FA_SPOOL" -e memfd)
	fa_t "$name: d) no spool file open in detach" [ -z "$open" ]
}

# fa_id NAME - a fresh message id (a file counts: callers use $(...))
fa_id() {
	local n
	n=$(($(cat "$T/seq" 2>/dev/null || echo 0) + 1))
	echo "$n" >"$T/seq"
	echo "fa$n-$1"
}

# fa_check FAULT STAGE WINDOW ID... - the invariants; one row per ID.
# The messages to send again and a fresh one (e) go side by side.
fa_check() {
	local fault=$1 stage=$2 window=$3 id res n name del note rows= \
	    again= fresh rcpt sender
	shift 3
	FA_T0=$(date +%s%N)
	fa_settle
	fresh=$(fa_id fresh)
	fa_msg "$fresh" att
	for id; do
		res=$(fa_res "$id")
		case $res in
		4??|broken|vanished)
			[ "$(fa_count "$id")" = 0 ] || continue
			read -r rcpt sender <"$T/m/$id.env"
			fa_send "$id.r" "$id" none go "$rcpt" "$sender"
			again="$again $id"
			;;
		esac
	done
	fa_send "$fresh" "$fresh" none go
	for id in $again; do
		fa_wait "$id.r"
	done
	fa_wait "$fresh"
	fa_settle
	for id; do
		res=$(fa_res "$id")
		name="$fault, $stage, $(fa_kind "$id")"
		n=$(fa_count "$id")
		note=
		case $res in
		250)
			del=$n
			fa_t "$name: a) 250, delivered exactly once ($n)" [ "$n" = 1 ]
			;;
		4??|broken|vanished)
			if [ -f "$T/c/$id.r.out" ]; then
				del="0, resent: $(fa_res "$id.r"), $n"
				fa_t "$name: b) $res, not delivered; resent with the fault gone: 250, delivered once ($n)" \
				    [ "$(fa_res "$id.r")" = 250 -a "$n" = 1 ]
			elif [ "$n" = 1 ] && [ "$window" = window ]; then
				note="delivered though the client saw $res: the RFC 1047 window, not resent"
				del="1, not resent"
				fa_t "$name: b) $res, delivered at most once ($n)" true
				echo "# $name: $note"
			else
				del="$n, not resent"
				note="DUPLICATE: delivered though the client saw $res"
				fa_t "$name: b) $res, not delivered ($n)" false
			fi
			;;
		5??)
			del=$n
			fa_t "$name: $res, nothing delivered ($n)" [ "$n" = 0 ]
			;;
		*)
			del=$n
			fa_t "$name: the client got a result" false
			;;
		esac
		rows="$rows$(printf '| %s | %s | %s | %s | %s | @L@ | %s |' \
		    "$fault" "$stage" "$(fa_kind "$id")" "$(fa_saw "$id")" \
		    "$del" "$note")
"
	done
	fa_t "$fault, $stage: e) a fresh message gets 250 and arrives once" \
	    [ "$(fa_res "$fresh")" = 250 -a "$(fa_count "$fresh")" = 1 ]
	fa_links "$fault, $stage"
	fa_spool "$fault, $stage"
	printf '%s' "$rows" | sed "s/@L@/$FA_LINKS/" >>"$T/rows"
	echo "# $fault, $stage: checked in $((($(date +%s%N) - FA_T0) / 1000000)) ms"
}

# fa_finish - the rows of the matrix; on failure, the logs
fa_finish() {
	echo "# | fault | stage | message | client saw | delivered | links (checked, result) | notes |"
	sed 's/^/# /' "$T/rows"
	if [ "$fa_fails" -ne 0 ]; then
		echo "# detach log:"; tail -40 "$T/detach.log" | sed 's/^/#   /'
		echo "# maillog:"; tail -30 "$PF/maillog" | sed 's/^/#   /'
	fi
}
