#!/bin/bash
# faults.test.sh - the fault matrix: processes and SMTP peers failing
#
# The promise: a message is acknowledged (250) only once it is safe,
# and no link points to an object that is not stored. Each fault below
# is staged through a real chain (tests/peers/faults.sh: client ->
# front Postfix smtpd -> detach -> after-filter smtpd -> maildirs, the
# store served by nginx) on a message with an attachment and one
# without, sent side by side; then fa_check proves the invariants a)
# to e) for them. The rows of tests/FAULTS.md are printed at the end.
# Prints ok/FAIL/SKIP lines.

cd "$(dirname "$0")/.." || exit 1
. tests/peers/faults.sh
START=$(date +%s)
fa_setup
# what detach logs when it has taken SIGHUP or SIGTERM
SIGLOG='reload: new settings\|: stopping: '

# pair NAME STAGE ACTION [RCPT] [SENDER] - a plain and an attachment
# message, each in its own session, both standing at STAGE; sets P, A
pair() {
	P=$(fa_id "$1-plain")
	A=$(fa_id "$1-att")
	fa_msg "$P" plain
	fa_msg "$A" att
	FA_NOWAIT=1 fa_send "$P" "$P" "$2" "$3" "${4:-}" "${5:-}"
	FA_NOWAIT=1 fa_send "$A" "$A" "$2" "$3" "${4:-}" "${5:-}"
	[ "$2" = none ] && return 0
	fa_stand "$P" && fa_stand "$A"
}

# stage ST - a client stage as the matrix names it
stage() {
	case $1 in
	mail) echo "after MAIL" ;;
	rcpt) echo "after RCPT" ;;
	mid) echo "mid-DATA" ;;
	body) echo "body sent, before the dot" ;;
	dot) echo "right after the dot" ;;
	*) echo "$1" ;;
	esac
}

# go_pair - both carry on at once; wait for their results
go_pair() {
	fa_release "$P"
	fa_release "$A"
	fa_wait "$P"
	fa_wait "$A"
}

# ==== kill -9 of detach during DATA; started again as runit would
pair k9-data mid go || fa_t "kill -9 mid-DATA: clients stand mid-DATA" false
fa_detach_kill9
go_pair
fa_detach_start
fa_check "kill -9 detach" "mid-DATA" strict "$P" "$A"

# ==== the after-filter smtpd killed mid-message (ss(8) finds it)
if ! command -v ss >/dev/null; then
	fa_skip "kill -9 after-filter smtpd" "ss(8) is not installed to find it"
else
	pair after-k9 mid go ||
	    fa_t "after-filter kill: clients stand mid-DATA" false
	pids=$(fa_after_pids)
	fa_t "after-filter kill: two after-filter sessions to kill" \
	    [ "$(echo $pids | wc -w)" = 2 ]
	kill -KILL $pids
	go_pair
	fa_check "kill -9 after-filter smtpd" "mid-DATA" strict "$P" "$A"
fi

# ==== detach stopped past smtpd_proxy_timeout (SIGSTOP, then SIGCONT)
# Before the dot: the front smtpd's DATA waits on detach and gives up.
pair stop-data rcpt go || fa_t "SIGSTOP: clients stand after RCPT" false
fa_stop "$DPID"
go_pair
fa_cont
fa_check "SIGSTOP detach" "DATA sent, 354 awaited" strict "$P" "$A"
# At the dot: the front smtpd has sent its dot and gives up waiting for
# the reply. When detach runs again it has the whole message, and the
# front smtpd is gone: relaying the dot now would deliver a message
# whose client was told 4xx.
pair stop-dot body go || fa_t "SIGSTOP: clients stand before the dot" false
fa_stop "$DPID"
go_pair
fa_cont
fa_check "SIGSTOP detach" "at the dot (its dot sent, reply awaited)" strict "$P" "$A"

# After the dot had passed: the after-filter smtpd stopped, detach has
# relayed the dot and times out waiting for the reply (its timeout is
# below smtpd_proxy_timeout, so it answers 451 first). The stopped
# smtpd runs again and queues the message: delivered though the client
# saw 451. This is RFC 1047's window, inherent to SMTP: no one can take
# a dot back.
if ! command -v ss >/dev/null; then
	fa_skip "SIGSTOP after-filter smtpd" "ss(8) is not installed to find it"
else
	pair stop-after body go || fa_t "SIGSTOP after-filter: clients stand before the dot" false
	pids=$(fa_after_pids)
	fa_stop $pids
	go_pair
	fa_t "SIGSTOP after-filter: detach timed out after relaying the dot" \
	    grep -q "detach\[$DPID\]: warning: .*timeout in state WAIT_DOT_REPLY" \
	    "$T/detach.log"
	fa_cont
	fa_check "SIGSTOP after-filter smtpd" "dot relayed, reply awaited" window "$P" "$A"
fi

# ==== the after-filter smtpd answers 421 to RCPT (and hangs up)
echo "u60@example.test 421 4.7.0 faults: recipient unavailable" \
    >"$PF/etc/rcpt_access"
pair rcpt421 none go u60@example.test
fa_wait "$P"; fa_wait "$A"
: >"$PF/etc/rcpt_access"
for id in "$P" "$A"; do
	fa_t "after-filter 421: the client has its 421 as it was said ($(fa_kind "$id"))" \
	    grep -q '^<- 421 4.7.0 .*faults: recipient unavailable' "$T/c/$id.out"
done
fa_check "after-filter 421" "RCPT" strict "$P" "$A"

# ==== the after-filter smtpd answers 451 at the dot
echo "late@example.org 451 4.7.1 faults: try again later" \
    >"$PF/etc/sender_access"
pair dot451 none go bob@example.test late@example.org
fa_wait "$P"; fa_wait "$A"
: >"$PF/etc/sender_access"
for id in "$P" "$A"; do
	fa_t "after-filter 451: the client has its 451 as it was said ($(fa_kind "$id"))" \
	    grep -q '^<- 451 4.7.1 .*faults: try again later' "$T/c/$id.out"
done
fa_check "after-filter 451" "the dot" strict "$P" "$A"

# ==== the client vanishes (closes without QUIT) at each stage
for st in mail rcpt mid body dot; do
	pair "vanish-$st" "$st" vanish ||
	    fa_t "client vanishes: clients stand at $st" false
	go_pair
	# After its dot the message may be on its way: at most once.
	w=strict
	[ "$st" = dot ] && w=window
	fa_check "client vanishes" "$(stage "$st")" "$w" "$P" "$A"
done

# ==== SIGHUP and SIGTERM during DATA and before the dot
for sig in HUP TERM; do
	for st in mid body; do
		pair "sig$sig-$st" "$st" go ||
		    fa_t "SIG$sig: clients stand at $st" false
		n=$(grep -c "$SIGLOG" "$T/detach.log")
		kill -"$sig" "$DPID"
		fa_until 50 fa_log_count "$SIGLOG" $((n + 1))
		go_pair
		fa_t "SIG$sig at $st: the sessions in flight end in 250" \
		    [ "$(fa_res "$P")" = 250 -a "$(fa_res "$A")" = 250 ]
		if [ "$sig" = TERM ]; then
			fa_detach_stop
			fa_t "SIGTERM at $st: detach exits 0" [ "$FA_DRC" = 0 ]
			fa_detach_start
		fi
		fa_check "SIG$sig detach" "$(stage "$st")" strict "$P" "$A"
	done
done

# ==== the upload: an http store behind tests/faultgate.py, which holds
# the PUT half way ("body") or holds the store's answer ("resp": the
# object is stored, detach has not heard so, the dot has not gone)
fa_detach_stop
fa_detach_start "${FA_HTTP_CONF[@]}"
for hold in body resp; do
	stage="upload held half way (plain: mid-DATA beside it)"
	[ "$hold" = resp ] &&
	    stage="object stored, dot not relayed (plain: mid-DATA beside it)"
	fa_gate_hold "$hold"
	pair "k9-$hold" mid go || fa_t "kill -9 $hold: clients stand mid-DATA" false
	fa_release "$A"
	fa_t "kill -9 $hold: the upload stands held" fa_gate_wait
	fa_detach_kill9
	go_pair
	fa_detach_start "${FA_HTTP_CONF[@]}"
	fa_check "kill -9 detach" "$stage" strict "$P" "$A"
done
# detach stopped during the upload past smtpd_proxy_timeout: the upload
# then completes in detach's socket, but both front smtpds gave up
# (451) and closed; running again, detach must relay neither message.
fa_gate_hold body
pair stop-upload mid go || fa_t "SIGSTOP upload: clients stand mid-DATA" false
fa_release "$A"
fa_t "SIGSTOP upload: the upload stands held" fa_gate_wait
fa_stop "$DPID"
fa_gate_go
go_pair
fa_cont
fa_check "SIGSTOP detach" "upload held half way (plain: mid-DATA beside it)" strict "$P" "$A"

for sig in HUP TERM; do
	fa_gate_hold body
	pair "sig$sig-upload" mid go || fa_t "SIG$sig upload: clients stand mid-DATA" false
	fa_release "$A"
	fa_t "SIG$sig upload: the upload stands held" fa_gate_wait
	n=$(grep -c "$SIGLOG" "$T/detach.log")
	kill -"$sig" "$DPID"
	fa_until 50 fa_log_count "$SIGLOG" $((n + 1))
	fa_gate_go
	go_pair
	fa_t "SIG$sig during the upload: the sessions in flight end in 250" \
	    [ "$(fa_res "$P")" = 250 -a "$(fa_res "$A")" = 250 ]
	if [ "$sig" = TERM ]; then
		fa_detach_stop
		fa_t "SIGTERM during the upload: detach exits 0" [ "$FA_DRC" = 0 ]
		fa_detach_start "${FA_HTTP_CONF[@]}"
	fi
	fa_check "SIG$sig detach" "upload held half way (plain: mid-DATA beside it)" strict "$P" "$A"
done

echo "# faults: $(($(date +%s) - START)) s"
fa_finish
exit 0
