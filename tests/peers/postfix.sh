# postfix.sh - a private Postfix on loopback for the proxy tests (sourced)
#
# pf_init DIR: writes DIR/etc/{main,master}.cf. master.cf takes the
# inbound and after-filter lines of README.md as they stand, with
# only their ports changed, so the tests prove what the README says:
#	$PF_FRONT	front smtpd, smtpd_proxy_filter -> $PF_FILTER
#	$PF_FRONT2	the same with smtpd_proxy_options=speed_adjust
#	$PF_DIRECT	an smtpd without filter (footprint and bench baseline)
#	$PF_AFTER	the after-filter smtpd (XFORWARD authorized)
#	$PF_UFRONT	front smtpd of the README's unix form, chrooted,
#			smtpd_proxy_filter=unix:private/detach
#	$PF/spool/private/detach-in  the after-filter smtpd, unix form
# Mail for @example.test goes by virtual(8) to DIR/mail/USER/new.
# $PF_AFTER_EXTRA: more "-o" lines for the after-filter smtpd.
# pf_free_ports [all] (after pf_init), pf_start, pf_stop, pf_count USER,
# pf_wait_count USER N, pf_sum_mail.

PF_DOC=${PF_DOC:-README.md}

# pf_block NAME - the fenced block after "<!-- master.cf:NAME -->"
pf_block() {
	awk -v name="$1" '
		$0 == "<!-- master.cf:" name " -->" { want = 1; next }
		want && /^```/ { if (inside) exit; inside = 1; next }
		inside { print }
	' "$PF_DOC"
}

pf_init() {
	PF=$1
	mkdir -p "$PF/etc" "$PF/spool" "$PF/data" "$PF/mail"
	chmod 755 "$PF" "$PF/etc" "$PF/mail"
	chown postfix "$PF/data"
	chown 65534:65534 "$PF/mail"
	base=$((20000 + ($$ % 2000) * 10))
	PF_FRONT=$base
	PF_FRONT2=$((base + 1))
	PF_DIRECT=$((base + 2))
	PF_AFTER=$((base + 3))
	PF_FILTER=$((base + 4))
	PF_FILTER2=$((base + 5))
	PF_UFRONT=$((base + 6))
	cat >"$PF/etc/main.cf" <<EOF
compatibility_level = 3.6
queue_directory = $PF/spool
data_directory = $PF/data
mail_owner = postfix
setgid_group = postdrop
shlib_directory = /usr/lib/postfix
daemon_directory = /usr/lib/postfix/sbin
command_directory = /usr/sbin
meta_directory = /etc/postfix
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
myhostname = mx.example.test
mydestination =
disable_dns_lookups = yes
smtp_host_lookup = native
maillog_file = $PF/maillog
maillog_file_prefixes = /var, /dev/stdout, /tmp
smtpd_authorized_xclient_hosts = 127.0.0.0/8
virtual_mailbox_domains = example.test
virtual_mailbox_base = $PF/mail
virtual_mailbox_maps = texthash:$PF/etc/vmaps
virtual_uid_maps = static:65534
virtual_gid_maps = static:65534
virtual_mailbox_limit = 0
message_size_limit = 0
smtpd_proxy_timeout = 100s
default_process_limit = 100
delay_warning_time = 0
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
EOF
	# virtual(8) takes no regexp substitution: one line per mailbox.
	for u in bob alice carol reject tempfail $(seq -f 'u%g' 1 60) \
	    $(seq -f 's%g' 1 40) $(seq -f 'b%g' 1 60) $(seq -f 'f%g' 1 50); do
		echo "$u@example.test $u/"
	done >"$PF/etc/vmaps"
	sed -e 's/^smtp\([ ]*\)inet/#smtp\1inet/' /etc/postfix/master.cf |
	    sed -e 's/^\([a-z]*[ ]*unix[ ]*[-ny][ ]*[-ny][ ]*\)y/\1n/' \
	    >"$PF/etc/master.cf"
	{
		pf_block inbound |
		    sed -e "1s/^smtp      inet/127.0.0.1:$PF_FRONT inet/" \
		    -e "s/127.0.0.1:10025/127.0.0.1:$PF_FILTER/"
		pf_block inbound |
		    sed -e "1s/^smtp      inet/127.0.0.1:$PF_FRONT2 inet/" \
		    -e "s/127.0.0.1:10025/127.0.0.1:$PF_FILTER2/"
		echo "  -o smtpd_proxy_options=speed_adjust"
		echo "127.0.0.1:$PF_DIRECT inet n - n - - smtpd"
		pf_block inbound-unix |
		    sed -e "1s/^smtp      inet/127.0.0.1:$PF_UFRONT inet/"
		pf_block after-filter-unix
		pf_block after-filter |
		    sed -e "s/127.0.0.1:10026/127.0.0.1:$PF_AFTER/"
		printf '%s\n' "${PF_AFTER_EXTRA:-}" | sed -e '/^$/d'
	} >>"$PF/etc/master.cf"
}

# pf_free_ports [all] - pf_init takes its ports from our pid: move any
# that is taken (another run, another test), or with "all" every one
# (after a start that failed, when another test took one meanwhile),
# to a free one, in master.cf as in the variables (free_port of
# tests/peers/nginx.sh)
pf_free_ports() {
	local v old new
	for v in PF_FRONT PF_FRONT2 PF_DIRECT PF_AFTER PF_FILTER PF_FILTER2 \
	    PF_UFRONT; do
		old=${!v}
		[ "${1:-}" = all ] ||
		    (exec 3<>/dev/tcp/127.0.0.1/"$old") 2>/dev/null || continue
		new=$(free_port)
		sed -i -e "s/127\.0\.0\.1:$old\([^0-9]\|\$\)/127.0.0.1:$new\1/g" \
		    "$PF/etc/master.cf"
		printf -v "$v" %s "$new"
	done
}

pf_start() {
	postfix -c "$PF/etc" set-permissions >/dev/null 2>&1 || true
	postfix -c "$PF/etc" check >"$PF/check.log" 2>&1 || {
		cat "$PF/check.log" "$PF/maillog" 2>/dev/null; return 1; }
	postfix -c "$PF/etc" start >/dev/null 2>&1 || {
		cat "$PF/maillog"; return 1; }
	pf_wait_port "$PF_AFTER" && pf_wait_port "$PF_FRONT"
}

pf_stop() {
	local i pid
	postfix -c "$PF/etc" stop >/dev/null 2>&1 || true
	pid=$(cat "$PF/spool/pid/master.pid" 2>/dev/null | tr -d ' ')
	i=0
	while [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do
		sleep 0.1; i=$((i + 1))
	done
}

# pf_wait_port PORT - until something listens (bounded)
pf_wait_port() {
	local i=0
	while [ $i -lt 100 ]; do
		if (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null; then
			return 0
		fi
		sleep 0.1; i=$((i + 1))
	done
	echo "nothing listens on $1" >&2
	return 1
}

# pf_count USER - messages delivered to USER@example.test
pf_count() {
	ls "$PF/mail/$1/new" 2>/dev/null | wc -l
}

# pf_wait_count USER N [TENTHS] - until USER has N messages; bounded
pf_wait_count() {
	local i=0
	while [ "$(pf_count "$1")" -lt "$2" ] && [ $i -lt "${3:-300}" ]; do
		postqueue -c "$PF/etc" -f >/dev/null 2>&1 || true
		sleep 0.1; i=$((i + 1))
	done
	[ "$(pf_count "$1")" -ge "$2" ]
}

# pf_queue_empty - until the queue holds nothing (bounded)
pf_queue_empty() {
	local i=0 n
	while [ $i -lt 300 ]; do
		n=$(find "$PF/spool/incoming" "$PF/spool/active" \
		    "$PF/spool/deferred" "$PF/spool/maildrop" -type f 2>/dev/null |
		    wc -l)
		[ "$n" -eq 0 ] && return 0
		sleep 0.1; i=$((i + 1))
	done
	return 1
}

# pf_body FILE - a delivered message less the headers Postfix put on top
pf_body() {
	awk 'BEGIN { top = 1 }
	    top && /^(Return-Path|X-Original-To|Delivered-To|Received):/ { skip = 1; next }
	    top && skip && /^[ \t]/ { next }
	    { top = 0; skip = 0; print }' "$1"
}

# pf_sum_mail - bytes of every delivered message
pf_sum_mail() {
	find "$PF/mail" -type f -path '*/new/*' -printf '%s\n' |
	    awk '{ s += $1 } END { print s + 0 }'
}
