# faultproxy.sh - start, steer and stop tests/peers/faultproxy.py (sourced)
#
#	fp_start NAME DIR PORT UPSTREAM [--raw]
#			a proxy on PORT to UPSTREAM; its control file is
#			DIR/NAME.ctl, its event log DIR/NAME.log
#	fp_mode NAME MODE
#			switch it (pass, refuse, hang, 500once, reset,
#			resetonce) and wait until it says the mode is in
#			force (bounded)
#	fp_stop		stop every proxy started (call from a trap)

FP_PIDS=
FP_DIR=

fp_start() {
	local i=0
	FP_DIR=$2
	echo pass >"$2/$1.ctl"
	rm -f "$2/$1.ctl.ack"
	python3 tests/peers/faultproxy.py $5 "$3" "$4" "$2/$1.ctl" \
	    "$2/$1.log" 2>"$2/$1.err" &
	FP_PIDS="$FP_PIDS $!"
	while ! [ -s "$2/$1.ctl.ack" ] && [ $i -lt 100 ]; do
		sleep 0.05; i=$((i + 1))
	done
	[ -s "$2/$1.ctl.ack" ]
}

fp_mode() {
	local i=0
	echo "$2" >"$FP_DIR/$1.ctl"
	while [ "$(cat "$FP_DIR/$1.ctl.ack" 2>/dev/null)" != "$2" ] &&
	    [ $i -lt 100 ]; do
		sleep 0.02; i=$((i + 1))
	done
	[ "$(cat "$FP_DIR/$1.ctl.ack" 2>/dev/null)" = "$2" ]
}

fp_stop() {
	local p
	for p in $FP_PIDS; do
		kill "$p" 2>/dev/null && wait "$p" 2>/dev/null
	done
	FP_PIDS=
}
