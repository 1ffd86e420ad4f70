# SPDX-License-Identifier: GPL-2.0
# Helpers for scenarios running in the test dom0 (sourced by /init and by
# each /xt/scenarios/*.sh). TAP is written to fd 3.

XT_GUEST_IP=10.0.0.10
XT_CLIENT_IP=10.0.0.2
XT_BRIDGE_IP=10.0.0.1
XT_PORT=5000
XT_TESTNO=0

xt_now() { cut -d' ' -f1 /proc/uptime; }
xt_log() { echo "# $*" >&3; echo "xt: $*" >&2; }
xt_ok() { XT_TESTNO=$((XT_TESTNO + 1)); echo "ok $XT_TESTNO - $*" >&3; }
xt_nok() { XT_TESTNO=$((XT_TESTNO + 1)); echo "not ok $XT_TESTNO - $*" >&3; XT_FAILED=1; }
xt_check() { local what=$1; shift; if "$@"; then xt_ok "$what"; else xt_nok "$what"; fi; }
xt_end_fail() { echo "XT-END-FAIL" >&3; exec 3>&-; sync; poweroff -f; }
# xt_result KEY VALUE: a measurement, on the TAP port as a comment the host collects.
xt_result() { echo "# RESULT $1 $2" >&3; }

# xt_wait SECONDS CMD...: poll CMD every 0.2 s until it succeeds.
xt_wait()
{
	local deadline
	deadline=$(awk -v n="$(xt_now)" -v d="$1" 'BEGIN { print n + d }')
	shift
	until "$@" 2>/dev/null; do
		awk -v n="$(xt_now)" -v d="$deadline" 'BEGIN { exit !(n > d) }' && return 1
		sleep 0.2
	done
}

xt_boot_toolstack()
{
	local ko args
	while read -r ko args; do
		# shellcheck disable=SC2086
		insmod "$ko" $args || xt_log "insmod $ko failed"
	done </etc/modules.order
	# The hotplug scripts log through logger(1).
	syslogd -O /run/messages
	mount -t xenfs xenfs /proc/xen || return 1
	XENSTORED_ROOTDIR=/run/xenstored xenstored --pid-file /run/xenstored.pid || return 1
	xt_wait 20 xenstore-read -s / >/dev/null || return 1
	xen-init-dom0 >/dev/null || return 1
	xenconsoled --log=guest --log-dir=/var/log/xen/console --pid-file=/run/xenconsoled.pid || return 1
	xl info >/tmp/xl-info 2>&1 || { cat /tmp/xl-info >&2; return 1; }
}

# The guests' network: bridge xenbr0 (10.0.0.1) in dom0; the client lives in
# netns "client" behind a veth on that bridge (10.0.0.2).
xt_net_setup()
{
	ip link set lo up
	ip link add xenbr0 type bridge forward_delay 0 stp_state 0 || return 1
	ip addr add $XT_BRIDGE_IP/24 dev xenbr0
	ip link set xenbr0 up
	ip netns add client || return 1
	ip link add vclient type veth peer name eth0 netns client || return 1
	ip link set vclient master xenbr0 up
	ip -n client link set lo up
	ip -n client addr add $XT_CLIENT_IP/24 dev eth0
	ip -n client link set eth0 up
}

# xt_guest_cfg NAME [KEY=VALUE...]: write /run/NAME.cfg for a PVH test guest.
# XT_GUEST_IP, XT_GUEST_MAC and XT_PORT (the client's) may be set per guest.
xt_guest_cfg()
{
	local name=$1; shift
	local mem=${XT_GUEST_MEM:-128} period=${XT_GUEST_PERIOD:-10}
	local mac=${XT_GUEST_MAC:-00:16:3e:00:00:0a}
	local vs=",script=/xt/hotplug/vif-fast" ds="script=/xt/hotplug/block-fast,"
	# XT_HOTPLUG=stock: Debian's vif-bridge and block scripts.
	[ "${XT_HOTPLUG:-fast}" = stock ] && vs= ds=
	# XT_GUEST_DISK=PATH: the disk is PATH (a block device) instead of a file.
	local target=${XT_GUEST_DISK:-/run/$name.img}
	[ -n "${XT_GUEST_DISK:-}" ] || truncate -s 8M "/run/$name.img"
	cat >"/run/$name.cfg" <<EOC
name = "$name"
type = "pvh"
kernel = "/xt/guest/vmlinux"
ramdisk = "/xt/guest/initrd.cpio.gz"
extra = "console=hvc0 quiet seq.ip=$XT_GUEST_IP/24 seq.dst=$XT_CLIENT_IP seq.port=$XT_PORT seq.period=$period${XT_GUEST_NODISK:+ seq.disk=0}"
memory = $mem
maxmem = $mem
vcpus = 1
tsc_mode = "native"
on_crash = "preserve"
${XT_POSTMORTEM:+on_reboot = \"preserve\"}
vif = [ 'mac=$mac,bridge=xenbr0$vs' ]
disk = [ 'format=raw,vdev=xvda,access=rw,${ds}target=$target' ]
EOC
	local kv
	for kv in "$@"; do echo "$kv" >>"/run/$name.cfg"; done
}

xt_console_log() { echo "/var/log/xen/console/guest-$1.log"; }

# xt_last_tick NAME: the newest tick number in the guest's console log.
xt_last_tick()
{
	sed -n 's/^tick \([0-9]*\) .*/\1/p' "$(xt_console_log "$1")" 2>/dev/null | tail -n 1
}

# xt_ticking NAME N: true when NAME has printed at least N ticks.
xt_ticking()
{
	local t
	t=$(xt_last_tick "$1")
	[ -n "$t" ] && [ "$t" -ge "$2" ]
}

# xt_domid NAME: the domain id, or nothing.
xt_domid() { xl domid "$1" 2>/dev/null; }

# xt_sink_start [PORT [LOG]]: a client in netns "client" on PORT (default
# XT_PORT), logging to LOG (default /run/sink.log); its pid in LOG.pid.
xt_sink_start()
{
	local log=${2:-/run/sink.log}
	ip netns exec client /xt/bin/seqsink "${1:-$XT_PORT}" >"$log" 2>&1 &
	echo $! >"$log.pid"
}

# xt_sink_stop: every client xt_sink_start started.
xt_sink_stop()
{
	local f p
	for f in /run/*.log.pid; do
		[ -e "$f" ] || continue
		p=$(cat "$f")
		kill -TERM "$p" 2>/dev/null
		wait "$p" 2>/dev/null
		rm -f "$f"
	done
}

# xt_sink_summary [LOG]: the client's counts so far (SIGUSR1 summary).
xt_sink_summary()
{
	local log=${1:-/run/sink.log}
	kill -USR1 "$(cat "$log.pid" 2>/dev/null)" 2>/dev/null
	sleep 0.3
	grep '^summary' "$log" | tail -n 1
}

# xt_xen_faults: what Xen said of guests that died on their own (a triple
# fault, a crash), one line.
xt_xen_faults()
{
	xl dmesg 2>/dev/null | grep -E 'Triple fault|crashed|domain_crash' | tr '\n' '|'
}

# xt_guest_died BACKUP_LOG PRIMARY_LOG SECONDS: wait (SECONDS at most)
# for the backup to fail over or stand down; succeed, printing the
# primary's line, when it stood down because the primary's guest shut
# itself down (a nested guest's triple fault just before the failure was
# injected, which the primary sees only at its next suspend).
xt_guest_died()
{
	xt_wait "$3" grep -qE 'failed over at checkpoint|failover disarmed' "$1"
	! grep -q 'failed over at checkpoint' "$1" && grep -m 1 'shut itself down' "$2"
}

# xt_postmortem NAME: with XT_POSTMORTEM=1 (the guest's on_reboot is then
# "preserve", so a triple-faulted domain stays) and xenctx, xen-hvmctx
# and a kallsyms of the guest's kernel in /xt/extra (XT_EXTRA, build.sh),
# the dead domain's vCPU, stack and saved CPU record in /run/postmortem.txt.
xt_postmortem()
{
	local d e=/xt/extra sym=
	[ -n "${XT_POSTMORTEM:-}" ] || return 0
	d=$(xt_domid "$1") || return 0
	[ -e $e/kallsyms.txt ] && sym="-s $e/kallsyms.txt"
	{
		echo "== domain $1 ($d): $(xl list "$d" 2>/dev/null | tail -n 1)"
		# shellcheck disable=SC2086
		[ -x $e/xenctx ] && $e/xenctx -a -S -t -n 2 -l 64 $sym "$d" 2>&1
		[ -x $e/xen-hvmctx ] && $e/xen-hvmctx "$d" 2>&1 | sed -n '/CPU:/,/^Entry/p'
	} >>/run/postmortem.txt
}

# xt_dump FILE...: copy files to the TAP port as comments (for the host
# log), without the lines that repeat per checkpoint (the serial port is
# slow under nested TCG): the first and last 5 of those are kept.
xt_dump()
{
	local f
	for f in "$@"; do
		[ -e "$f" ] || continue
		echo "# ---- $f" >&3
		awk '/All records|progress:|^tick |^ckpt |^silence |upcall vector/ { r[++n] = $0; next }
			{ if (n) flush(); print }
			function flush(  i) {
				for (i = 1; i <= n; i++)
					if (i <= 5 || i > n - 5) print r[i]; else if (i == 6) print "... (" n - 10 " more)"
				n = 0
			}
			END { if (n) flush() }' "$f" | sed 's/^/# | /' >&3
	done
}

# xt_children PID [COMM]: the child processes of PID (named COMM). One
# process only: every exec costs 0.1-1 s under a loaded TCG.
xt_children()
{
	ps -o pid,ppid,comm | awk -v p="$1" -v c="${2:-}" '$2 == p && (c == "" || index($3, c) == 1) { print $1 }'
}

# xt_sink_first_after T [LOG]: time of the first datagram the client got
# after T, after a silence or a rollback.
xt_sink_first_after()
{
	awk -v t0="$1" '
		/^silence/ { for (i = 2; i <= NF; i++) { split($i, kv, "="); if (kv[1] == "to" && kv[2] > t0) { print kv[2]; exit } } }
		/^rollback/ { split($2, kv, "="); if (kv[2] > t0) { print kv[2]; exit } }
	' "${2:-/run/sink.log}"
}

# xt_walk_rate LOG T1 T2: checkpoints per second between T1 and T2 (and the count).
xt_walk_rate()
{
	awk -v a="$2" -v b="$3" '
		/^ckpt/ { split($3, kv, "="); t = kv[2]; if (t >= a && t <= b) { n++; if (!f) f = t; l = t } }
		END { if (n > 1) printf "%.2f %d\n", (n - 1) / (l - f), n; else printf "0 %d\n", n }
	' "$1"
}

# xt_walk_ckpt LOG N: arrival time of checkpoint N (empty if not yet).
xt_walk_ckpt()
{
	awk -v n="$2" '/^ckpt/ { split($2, kv, "="); if (kv[2] == n) { split($3, t, "="); print t[2]; exit } }' "$1" 2>/dev/null
}

xt_walk_count() { grep -c '^ckpt' "$1" 2>/dev/null || true; }

# xt_fcalc EXPR: floating point arithmetic.
xt_fcalc() { awk "BEGIN { printf \"%.3f\", $* }"; }

# Predicates for xt_wait (evaluated at each poll).
xt_has_ckpt() { [ -n "$(xt_walk_ckpt "$1" "$2")" ]; }
xt_has_sink_after() { [ -n "$(xt_sink_first_after "$1" "${2:-}")" ]; }

# xt_client_hears CHECK SINCE T_FAIL: the check CHECK, that the client
# hears the guest after SINCE (within 120 s), and the RESULT
# failover_client_s, counted from T_FAIL ("none" if it never does).
# Returns 1 if it never does.
xt_client_hears()
{
	local t
	xt_wait 120 xt_has_sink_after "$2"
	t=$(xt_sink_first_after "$2")
	if [ -n "$t" ]; then
		xt_ok "$1"
		xt_result failover_client_s "$(xt_fcalc "$t - $3")"
		return 0
	fi
	xt_nok "$1"
	xt_result failover_client_s none
	return 1
}

# xt_net_snapshot TAG: the bridge's ports with their counters, its learned
# addresses, every qdisc, the client's neighbours (/run/net.txt).
xt_net_snapshot()
{
	{
		echo "== $1 at $(xt_now)"
		ip -s link show master xenbr0
		bridge -d link show
		bridge fdb show br xenbr0
		tc -s qdisc show
		ip netns exec client ip neigh
		ip -s link show xenbr0
		ip netns exec client grep Udp: /proc/net/snmp
		# What the guests' vifs take in, and what reaches the client.
		for v in $(ip -o link show master xenbr0 | sed -n 's/^[0-9]*: \(vif[0-9.]*\).*/\1/p'); do
			/xt/bin/pktpeek "$v" 5 3
		done
		ip netns exec client /xt/bin/pktpeek eth0 5 3
	} >>/run/net.txt 2>&1
}

# xt_snapshot TAG: processes and recent syslog, for the host log.
xt_snapshot()
{
	{ echo "== $1 at $(xt_now)"; ps -o pid,ppid,stat,args; tail -n 40 /run/messages; } >>/run/snapshots.txt 2>&1
}

# ---- remusd protecting a guest on this one host ----

# xt_remus_disks DM: one 8 MiB image twice on loop devices, DM in replicate
# mode (the primary's) and DM-b in stage mode (the backup's).
xt_remus_disks()
{
	local dm=$1 lp lb sz
	truncate -s 8M "/run/$dm-p.img" && cp "/run/$dm-p.img" "/run/$dm-b.img" || return 1
	lp=$(losetup -f --show "/run/$dm-p.img") && lb=$(losetup -f --show "/run/$dm-b.img") || return 1
	sz=$(blockdev --getsz "$lp")
	echo "0 $sz remus $lp replicate" | DM_DISABLE_UDEV=1 dmsetup --noudevsync create "$dm" &&
		echo "0 $sz remus $lb stage" | DM_DISABLE_UDEV=1 dmsetup --noudevsync create "$dm-b"
}

# xt_guest_disk DM [KIND]: the guest's disk for xt_guest_cfg: /dev/mapper/DM,
# the remus target. KIND, for experiments on what the target changes for
# the guest, sends its writes elsewhere and leaves the target unused: file
# (a file, printed as nothing: xt_guest_cfg's default), linear (dm-linear
# over a loop file) or delay (dm-delay, 2 ms, over one).
xt_guest_disk()
{
	local l t
	case ${2:-} in
	'') echo "/dev/mapper/$1" ;;
	file) echo ;;
	linear|delay)
		truncate -s 8M /run/plain.img && l=$(losetup -f --show /run/plain.img) || return 1
		if [ "$2" = linear ]; then t="linear $l 0"; else t="delay $l 0 2"; fi
		echo "0 $(blockdev --getsz "$l") $t" |
			DM_DISABLE_UDEV=1 dmsetup --noudevsync create plain && echo /dev/mapper/plain ;;
	*) xt_log "xt_guest_disk: no kind $2"; return 1 ;;
	esac
}

# xt_hog N: N busy loops in dom0 until the scenario ends (a dom0 as busy
# as remusd's right after a resume, for the triple-fault experiments).
xt_hog()
{
	local i
	for ((i = 0; i < $1; i++)); do
		(while :; do :; done) &
	done
}

# xt_remus_backup NAME DM PORT IP [ARG...]: a backup remusd (control name
# NAME, log /run/NAME.log) listening on PORT for a guest whose disk is
# /dev/mapper/DM and whose address is IP; in $! when it returns. It runs in
# its own mount namespace where /dev/mapper/DM is its stage device DM-b.
xt_remus_backup()
{
	local name=$1 dm=$2 port=$3 ip=$4
	shift 4
	unshare -m sh -c "mount --bind /dev/mapper/$dm-b /dev/mapper/$dm &&
		exec /xt/project/remusd backup --guest xen --listen 127.0.0.1:$port --disk $dm-b \
		--announce $ip --name $name $*" 2>"/run/$name.log" &
}

# xt_status NAME: remusctl -j status of the daemon NAME (JSON, one line).
xt_status() { /xt/project/remusctl -j status "$1" 2>/dev/null; }
# xt_field JSON KEY: a scalar field of that JSON.
xt_field() { sed -n "s/.*\"$2\": *\"\{0,1\}\([^,\"}]*\).*/\1/p" <<<"$1"; }
# xt_acked NAME N: the daemon NAME has had N checkpoints acked.
xt_acked() { local n; n=$(xt_field "$(xt_status "$1")" checkpoints); [ "${n:-0}" -ge "$2" ]; }
