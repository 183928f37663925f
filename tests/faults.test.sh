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
	fa_send "$P" "$P" "$2" "$3" "${4:-}" "${5:-}"
	fa_send "$A" "$A" "$2" "$3" "${4:-}" "${5:-}" &&
	    [ -f "$T/c/$P.at" -o "$2" = none ]
}

# go_pair - both carry on; wait for their results
go_pair() { fa_go "$P"; fa_go "$A"; }

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
kill -STOP "$DPID"
go_pair
kill -CONT "$DPID"
fa_check "SIGSTOP detach" "DATA (before the dot)" strict "$P" "$A"

# ==== the after-filter smtpd answers 421 to RCPT (and hangs up)
echo "u60@example.test 421 4.7.0 faults: recipient unavailable" \
    >"$PF/etc/rcpt_access"
pair rcpt421 none go u60@example.test
fa_wait "$P"; fa_wait "$A"
: >"$PF/etc/rcpt_access"
fa_t "after-filter 421: the client has its 421 as it was said" \
    grep -q '^<- 421 4.7.0 .*faults: recipient unavailable' "$T/c/$P.out"
fa_check "after-filter 421" "RCPT" strict "$P" "$A"

# ==== the after-filter smtpd answers 451 at the dot
echo "late@example.org 451 4.7.1 faults: try again later" \
    >"$PF/etc/sender_access"
pair dot451 none go bob@example.test late@example.org
fa_wait "$P"; fa_wait "$A"
: >"$PF/etc/sender_access"
fa_t "after-filter 451: the client has its 451 as it was said" \
    grep -q '^<- 451 4.7.1 .*faults: try again later' "$T/c/$A.out"
fa_check "after-filter 451" "the dot" strict "$P" "$A"

# ==== the client vanishes (closes without QUIT) at each stage
for st in mail rcpt mid body dot; do
	pair "vanish-$st" "$st" vanish ||
	    fa_t "client vanishes: clients stand at $st" false
	go_pair
	# After its dot the message may be on its way: at most once.
	w=strict
	[ "$st" = dot ] && w=window
	fa_check "client vanishes" "$st" "$w" "$P" "$A"
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
		fa_check "SIG$sig detach" "$st" strict "$P" "$A"
	done
done

# ==== the upload: an http store behind tests/faultgate.py, which holds
# the PUT half way ("body") or holds the store's answer ("resp": the
# object is stored, detach has not heard so, the dot has not gone)
fa_detach_stop
fa_detach_start "${FA_HTTP_CONF[@]}"
for hold in body resp; do
	stage="upload"
	[ "$hold" = resp ] && stage="stored, before the dot"
	fa_gate_hold "$hold"
	pair "k9-$hold" mid go || fa_t "kill -9 $stage: clients stand mid-DATA" false
	fa_release "$A"
	fa_t "kill -9 $stage: the upload stands held" fa_gate_wait
	fa_detach_kill9
	go_pair
	fa_detach_start "${FA_HTTP_CONF[@]}"
	fa_check "kill -9 detach" "$stage" strict "$P" "$A"
done
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
	fa_check "SIG$sig detach" "upload" strict "$P" "$A"
done

echo "# faults: $(($(date +%s) - START)) s"
fa_finish
exit 0
