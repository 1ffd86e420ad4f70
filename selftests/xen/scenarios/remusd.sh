#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# remusd protects a PVH guest end to end: checkpoints every 200 ms to a
# local backup remusd (libxl's receiver behind it), the vif buffered (IFB +
# remus qdisc), the disk on the remus target (replicate on the primary,
# stage on the backup, both loop files from the same image). Then the
# primary dies one way, and:
#   the backup domain runs (its ticks go on), the client hears the guest
#   again, the client saw no number the resumed guest had not reached
#   (seqsink: no rollback), the guest's disk holds every number it reported.
#   remusd.sh KIND [WINDOW_S] [FAILOVER_WAIT_S]
#   KIND: destroy  xl destroy of the primary domain (its remusd sees it go)
#         kill     the primary remusd SIGKILLs itself just after sending
#                  a checkpoint (REMUS_FAULT=sent:FILE, armed by the
#                  test): the domain lives on, resumed, its output since
#                  held. Unbuffered, it stops itself there instead
#                  (REMUS_FAULT_STOP=1: the backup hears nothing, its
#                  timeout 60 s); once 3 numbers more reach the client
#                  the domain is paused, remusd killed, the domain
#                  destroyed: the backup's domain never runs beside it
#         linkcut  the replication link runs over a veth into netns B (a
#                  socat relay there); both ends drop everything (netem
#                  loss 100%): no FIN, no RST
#         backupstop  the backup's remusd and its receiver are stopped
#                  (SIGSTOP: the link goes silent, as when the backup host
#                  loses power): the primary (--policy pause) must hold
#                  the domain, paused, within the timeout + 3 s, and exit
#                  leaving it so; `xl unpause` then lets it run, heard
#                  by the client again (unprotected)
#         none     rate only
# XT_NOBUF=1: the same without output buffering (--no-attach): with kill,
# the client has numbers the backup never got, so the check must see a
# rollback, which proves it can fail.
# XT_HEARTBEAT, XT_TIMEOUT (ms, default 500 and 5000), XT_INTERVAL (ms,
# 200), XT_COMPRESS (lz4, zlib, zstd, none) go to both daemons;
# XT_PIPELINE (checkpoints in flight, default 1) and XT_XEN_DELTA (MiB of
# page-delta cache, 0: none) to the primary.
# XT_POSTMORTEM=1: a guest that dies on its own stays (on_reboot
# preserve) and its vCPU state goes to the log (xt_postmortem, dom0/lib.sh).
# XT_NODM=file|linear|delay: the guest's writes bypass the remus target
# (xt_guest_disk), which stays unused: an experiment on what the target
# changes for the guest; the disk check then fails, as it must.
# One host plays both: the backup runs in its own mount namespace where
# /dev/mapper/gdisk (the path in the domain's configuration) is its own
# stage-mode device, and the old primary domain, when it survives, keeps
# the name, so the backup's runs as guest--incoming.
. /xt/lib.sh
kind=${1:-destroy} window=${2:-40} fwait=${3:-300} interval=${XT_INTERVAL:-200}
hb=${XT_HEARTBEAT:-500} to=${XT_TIMEOUT:-5000}
# Unbuffered kill: the stopped primary must outlast the test's steps.
[ -n "${XT_NOBUF:-}" ] && [ "$kind" = kill ] && to=60000
P=/xt/project
export DM_DISABLE_UDEV=1
echo "1..9" >&3
xt_result kind "remusd-$kind${XT_NOBUF:+-nobuf}"
xt_result heartbeat_timeout_ms "$hb/$to"

# The module and the disks: the same image twice, one replicating, one staging.
insmod $P/remus.ko || { xt_nok "insmod remus.ko"; exit 1; }
xt_remus_disks gdisk
xt_check "remus disks: gdisk replicate, gdisk-b stage" test -b /dev/mapper/gdisk -a -b /dev/mapper/gdisk-b
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >/run/remus.key
chmod 600 /run/remus.key

xt_sink_start
XT_GUEST_DISK=$(xt_guest_disk gdisk "${XT_NODM:-}") xt_guest_cfg guest
xl create -q /run/guest.cfg
xt_check "primary guest ticks" xt_wait 400 xt_ticking guest 2 || true

# The link: direct, or through netns B for the cut.
peer=127.0.0.1:7100
if [ "$kind" = linkcut ]; then
	ip netns add B
	ip link add vA type veth peer name vB netns B
	ip addr add 10.9.0.1/24 dev vA && ip link set vA up
	ip -n B addr add 10.9.0.2/24 dev vB && ip -n B link set vB up && ip -n B link set lo up
	printf '#!/bin/sh\nexec nsenter -t 1 -n socat - TCP:127.0.0.1:7100\n' >/run/relay.sh
	chmod +x /run/relay.sh
	ip netns exec B socat TCP-LISTEN:7000,reuseaddr,fork EXEC:/run/relay.sh 2>/run/relayB.log &
	xt_wait 20 sh -c 'ip netns exec B cat /proc/net/tcp | grep -q ":1B58 00000000:0000 0A"'
	peer=10.9.0.2:7000
fi

# XT_MALLOC=1: glibc keeps what it frees (no munmap, no heap trim) in
# both daemons: a triple-fault experiment (docs/xen.md).
[ -n "${XT_MALLOC:-}" ] && export GLIBC_TUNABLES=glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=1073741824
common="--key /run/remus.key --heartbeat $hb --timeout $to --no-progress --log-level info${XT_COMPRESS:+ --compress $XT_COMPRESS}"
xt_remus_backup backup gdisk 7100 $XT_GUEST_IP "$common"
bpid=$!
xt_wait 30 test -S /run/remus/backup.sock
pargs="--guest xen:guest --peer $peer --interval ${interval}ms --disk gdisk --policy pause --name primary${XT_PIPELINE:+ --pipeline $XT_PIPELINE}"
[ -n "${XT_NOBUF:-}" ] && pargs="$pargs --no-attach"
[ -n "${XT_XEN_DELTA:-}" ] && pargs="$pargs --xen-delta-cache $XT_XEN_DELTA"
penv=
[ "$kind" = kill ] && penv="REMUS_FAULT=sent:/run/remus-fault${XT_NOBUF:+ REMUS_FAULT_STOP=1}"
t_start=$(xt_now)
# shellcheck disable=SC2086
env $penv $P/remusd primary $pargs $common 2>/run/primary.log &
ppid=$!

# backupstop: the checks on the primary's hold (5, as for a failover).
paused() { xl list "$1" 2>/dev/null | awk 'NR == 2 { exit !($5 ~ /p/) }'; }
left_held() { ! kill -0 "$ppid" 2>/dev/null && grep -q 'policy pause: guest left held' /run/primary.log && paused guest; }
backup_stop_checks()
{
	local t_fail=$1 t_held t_un tick
	xt_check "the primary holds the domain (paused) within the timeout + 3 s" \
		xt_wait $((to / 1000 + 3)) paused guest
	t_held=$(xt_now)
	xt_result hold_s "$(xt_fcalc "$t_held - $t_fail")"
	xt_log "primary: $(grep -E 'backup lost|policy pause|paused' /run/primary.log | tr '\n' '|')"
	sleep 1
	tick=$(xt_last_tick guest)
	sleep 3
	xt_check "the held domain does not run (its ticks stay at ${tick:-none} for 3 s)" \
		test "$(xt_last_tick guest)" = "$tick"
	xt_check "the primary exits and leaves the domain paused" xt_wait 30 left_held
	t_un=$(xt_now)
	xl unpause guest
	xt_check "xl unpause: the domain runs again (ticks past ${tick:-none})" \
		xt_wait 60 xt_ticking guest $((${tick:-0} + 2))
	xt_wait 60 xt_has_sink_after "$t_un"
	xt_check "the client hears the guest again after the unpause" xt_has_sink_after "$t_un"
	xt_result sink_after_unpause_s "$(xt_fcalc "$(xt_sink_first_after "$t_un") - $t_un" 2>/dev/null)"
	# The stopped backup goes as a dead host would: nothing of it runs on.
	# shellcheck disable=SC2086
	kill -KILL $bstopped 2>/dev/null
	xl destroy guest--incoming 2>/dev/null
}

sink_max() { sed -n 's/.* max=\([0-9]*\).*/\1/p' <<<"$(xt_sink_summary)"; }
sink_max_past() { local m; m=$(sink_max); [ "${m:-0}" -ge "$1" ]; }
ticks_past() { local t; t=$(xt_last_tick guest); [ "${t:-0}" -ge "$1" ]; }
# While the first checkpoint (a whole live migration) goes: where it is.
(while sleep 20; do { echo "== $(xt_now)"; $P/remusctl status primary; $P/remusctl status backup;
	ps -o pid,stat,time,args | grep -E 'remusd|xl ' | grep -v grep; free -m | head -2; } >>/run/progress.txt 2>&1; done) &
prog=$!
# Acked, or the primary is gone (its guest died: no use waiting on).
acked_or_gone() { xt_acked primary 1 || ! kill -0 "$ppid" 2>/dev/null; }
if xt_wait 400 acked_or_gone && xt_acked primary 1; then
	kill $prog
	xt_ok "first checkpoint acked"
else
	kill $prog
	why=$(grep -E 'remusd primary: error' /run/primary.log | head -n 1)
	xt_postmortem guest
	xt_nok "first checkpoint acked${why:+ (the primary ended: $why)}"
	xt_result xen_faults "$(xt_xen_faults)"
	# Nothing to fail over to: say so at once, keep the logs.
	for c in "checkpoints flow" "backup fails over" "backup domain runs" \
		"client hears the guest again" "output commit" "the guest's disk"; do
		xt_nok "$c (no checkpoint was acked)"
	done
	kill "$ppid" "$bpid" 2>/dev/null
	sleep 2
	xt_dump /run/postmortem.txt /run/progress.txt /run/primary.log /run/backup.log /run/relayB.log "$(xt_console_log guest)"
	exit 1
fi
t_first=$(xt_now)
xt_result first_checkpoint_s "$(xt_fcalc "$t_first - $t_start")"
xt_wait 60 xt_acked primary 2
s1=$(xt_status primary); t1=$(xt_now)
n1=$(xt_field "$s1" checkpoints)
# Sample the per-checkpoint ratio over the window.
: >/run/ratios
end=$(xt_fcalc "$t1 + $window")
while awk -v n="$(xt_now)" -v e="$end" 'BEGIN { exit !(n < e) }'; do
	s=$(xt_status primary)
	echo "$(xt_field "$s" epoch) $(xt_field "$s" raw_bytes_last) $(xt_field "$s" wire_bytes_last) $(xt_field "$s" pause_last_ms)" >>/run/ratios
	sleep 2
done
s2=$(xt_status primary); t2=$(xt_now)
n2=$(xt_field "$s2" checkpoints)
rate=$(xt_fcalc "(${n2:-0} - ${n1:-0}) / ($t2 - $t1)")
xt_result checkpoints_per_s "$rate"
xt_result checkpoints_in_window "$((n2 - n1))"
xt_result pause_p50_ms "$(xt_field "$s2" pause_p50_ms)"
xt_result pause_p99_ms "$(xt_field "$s2" pause_p99_ms)"
xt_result pause_parts_p50_ms "suspend $(xt_field "$s2" suspend_p50_ms) copy $(xt_field "$s2" copy_p50_ms) resume $(xt_field "$s2" resume_p50_ms)"
xt_result ratio_mean "$(sort -u /run/ratios | awk '$3 > 0 { r += $2 / $3; n++ } END { if (n) printf "%.2f", r / n }')"
xt_result raw_bytes_mean "$(sort -u /run/ratios | awk '$3 > 0 { r += $2; n++ } END { if (n) printf "%d", r / n }')"
xt_check "checkpoints flow ($((n2 - n1)) in ${window} s, $rate/s)" test "$((n2 - n1))" -ge 3
$P/remusctl status primary >/run/status-primary.txt 2>&1
$P/remusctl status backup >/run/status-backup.txt 2>&1

early=$(grep -E 'failing over|shut itself down' /run/backup.log | head -n 1)
[ -z "$early" ] && early=$(grep -E 'shut itself down' /run/primary.log | head -n 1)
if [ -z "$early" ] && [ "$kind" != none ]; then
	pdom=$(xt_domid guest)
	tick0=$(xt_last_tick guest)
	s0=$(xt_status primary)
	# The guest may have died since the logs were read (seen: a
	# triple fault between the window's end and the injection).
	if ! kill -0 "$ppid" 2>/dev/null || [ -z "$(xt_field "$s0" epoch)" ]; then
		early=$(grep -E 'shut itself down|remusd primary: error' /run/primary.log | head -n 1)
		: "${early:=the primary remusd is gone}"
	fi
fi
if [ -n "$early" ]; then
	# The primary ended before any failure was injected: its guest
	# shut itself down (seen: the nested guest's triple fault in its
	# resume path, Xen's "Triple fault" in xl dmesg), or it stopped
	# taking suspend requests and the backup took over. Nothing this
	# case means to test happened.
	why=$(grep -E 'remusd primary: error' /run/primary.log | head -n 1)
	xt_result early_failover "$early | primary: ${why:-nothing logged} | xen: $(xt_xen_faults)"
	xt_postmortem guest
	for c in "backup fails over" "backup domain runs" "client hears the guest again" \
		"output commit" "the guest's disk"; do
		xt_nok "$c (the primary failed before the injection: ${why:-see the logs})"
	done
elif [ "$kind" = none ]; then
	for _ in 1 2 3 4 5; do xt_ok "# SKIP no failure injected"; done
else
	xt_result primary_at_failure "epoch $(xt_field "$s0" epoch) acked $(xt_field "$s0" acked) buffered_pkts $(xt_field "$s0" buffered_pkts)"
	t_fail=$(xt_now) nofault=
	xt_log "injecting $kind at $t_fail (primary remusd $ppid, domain $pdom, tick $tick0)"
	case $kind in
	destroy)
		(xl destroy guest >/run/destroy.log 2>&1; echo "destroy returned $(xt_now)" >>/run/destroy.log) &
		(while xl list "$pdom" >/dev/null 2>&1; do sleep 0.2; done; xt_now >/run/dead.t) & ;;
	kill)
		# remusd kills itself (REMUS_FAULT=sent:FILE) just after it
		# sent a checkpoint: the guest runs, resumed from it, and what
		# it does from now on no checkpoint has. The domain lives on.
		touch /run/remus-fault
		nofault=
		xt_wait 30 grep -q 'REMUS_FAULT: [a-z]* at' /run/primary.log || {
			nofault="it never reached the fault point"
			xt_result fault "the primary never reached the fault point in 30 s: $(grep -E 'remusd primary: (warning|error)' /run/primary.log | tail -n 3 | tr '\n' '|')"
		}
		xt_result fault "$(grep 'REMUS_FAULT: [a-z]* at' /run/primary.log)"
		ran= a=$(xt_last_tick guest) m=$(sink_max)
		if [ -n "${XT_NOBUF:-}" ]; then
			# Unbuffered, that output reaches the client. remusd
			# is stopped, the backup waits: the domain stops first
			# (paused, then destroyed), then remusd, so that the
			# two domains never run together.
			xt_wait 20 sink_max_past $((${m:-0} + 3)) && ran="numbers $m to $(sink_max)"
			xl pause guest
			kill -KILL "$ppid"
			xt_now >/run/dead.t
			xl destroy guest
		else
			xt_now >/run/dead.t
			xt_wait 20 ticks_past $((${a:-0} + 2)) && ran="ticks $a to $(xt_last_tick guest)"
		fi
		xt_result after_fault "the domain went on: ${ran:-no}" ;;
	backupstop)
		# The backup daemon and everything under it (the receiver).
		bstopped=$bpid
		for p in $(pgrep -P "$bpid"); do bstopped="$bstopped $p $(pgrep -P "$p" | tr '\n' ' ')"; done
		# shellcheck disable=SC2086
		kill -STOP $bstopped ;;
	linkcut)
		tc qdisc add dev vA root netem loss 100%
		ip netns exec B tc qdisc add dev vB root netem loss 100%
		xt_now >/run/dead.t ;;
	esac
	# The guest may have died on its own just before the failure struck
	# (seen in CI: Xen's triple fault a moment before `xl destroy`; the
	# primary sees it only at its next suspend): the primary then tells
	# the backup so, and the backup rightly stands down. Nothing this
	# case tests happened.
	if [ -z "$nofault" ] && [ "$kind" != backupstop ] &&
		died=$(xt_guest_died /run/backup.log /run/primary.log "$fwait"); then
		nofault="its guest died on its own: $died"
		xt_result guest_died "xen: $(xt_xen_faults)"
		xt_postmortem guest
	fi
	if [ -n "$nofault" ]; then
		# Nothing this case tests happened (the fault point never came:
		# the guest stopped taking suspend requests under load; or the
		# guest died): check-stage runs it again.
		for c in "backup fails over" "backup domain runs" "client hears the guest again" \
			"output commit" "the guest's disk"; do
			xt_nok "$c (not tested: $nofault)"
		done
	elif [ "$kind" = backupstop ]; then
		backup_stop_checks "$t_fail"
	else
		xt_check "backup fails over" xt_wait "$fwait" grep -q 'failed over at checkpoint' /run/backup.log
		t_fo=$(xt_now)
		xt_result failover_domain_runs_s "$(xt_fcalc "$t_fo - $t_fail")"
		xt_log "backup: $(grep -E 'primary lost|failing over|failed over' /run/backup.log | tr '\n' '|')"
		xt_wait 120 test -s /run/dead.t
		t_dead=$(cat /run/dead.t 2>/dev/null)
		xt_result primary_gone_s "$(xt_fcalc "${t_dead:-$t_fail} - $t_fail")"
		bname=guest--incoming
		xt_domid guest--incoming >/dev/null || bname=guest
		# The backup's console log keeps the name it was created under.
		bcons=$(xt_console_log guest--incoming)
		btick() { sed -n 's/^tick \([0-9]*\) .*/\1/p' "$bcons" 2>/dev/null | tail -n 1; }
		backup_ticks_past() { local t; t=$(btick); [ -n "$t" ] && [ "$t" -ge "$1" ]; }
		xt_check "backup domain ($bname) runs: ticks go on past the primary's $tick0" \
			xt_wait 120 backup_ticks_past $((${tick0:-0} + 2))
		xt_result backup_tick "$(btick)"
		xt_client_hears "client hears the guest again" "${t_dead:-$t_fail}" "$t_fail" ||
			xt_net_snapshot "the client hears nothing"
		# What the backup's guest says of its sends (errors and the last).
		xt_result backup_last_tick "$(grep '^tick' "$bcons" 2>/dev/null | tail -n 1)"
		sleep 3
		summary=$(xt_sink_summary)
		xt_log "sink: $summary"
		rbs=$(sed -n 's/.* rollbacks=\([0-9]*\).*/\1/p' <<<"$summary")
		unr=$(sed -n 's/.* unreached=\([0-9]*\).*/\1/p' <<<"$summary")
		max=$(sed -n 's/.* max=\([0-9]*\).*/\1/p' <<<"$summary")
		xt_result rollbacks "${rbs:-?}"
		xt_result unreached "${unr:-?}"
		xt_result late "$(sed -n 's/.* late=\([0-9]*\).*/\1/p' <<<"$summary")"
		# What the verdict rests on, for a log that only keeps the results.
		grep -E '^rollback' /run/sink.log | head -n 5 | while read -r l; do xt_result sink_event "$l"; done
		xt_result backup_failover "$(grep -E 'failing over|failed over' /run/backup.log | tr '\n' '|')"
		if [ -n "${XT_NOBUF:-}" ] && [ "$kind" = kill ] && [ -z "$ran" ]; then
			xt_nok "unbuffered: no output after the last checkpoint to see (no numbers reached the client after the kill)"
		elif [ -n "${XT_NOBUF:-}" ]; then
			xt_check "unbuffered: the client saw numbers the resumed guest had not reached (${rbs:-?} rollbacks, ${unr:-?} numbers)" \
				test "${rbs:-0}" -gt 0
		else
			xt_check "output commit: no rollback seen by the client (${rbs:-?})" test "${rbs:-1}" -eq 0
		fi
		# The disk, the guest paused: every number it reported is there.
		xl pause "$bname"
		sleep 1
		blockdev --flushbufs /dev/mapper/gdisk-b 2>/dev/null
		disk=$(/xt/bin/seqdisk /dev/mapper/gdisk-b "${max:-0}")
		drc=$?
		xt_log "$disk"
		xt_result disk "$disk"
		xt_check "the guest's disk holds every number it reported" test $drc -eq 0
		xl unpause "$bname"
	fi
fi
kill "$ppid" 2>/dev/null
kill "$bpid" 2>/dev/null
xt_sink_stop
xt_result xen_faults "$(xt_xen_faults)"
xl list >/run/xl-list 2>&1
dmsetup status >/run/dm-status 2>&1
xt_snapshot end
xt_dump /run/postmortem.txt /run/progress.txt /run/status-primary.txt /run/status-backup.txt /run/xl-list /run/dm-status /run/ratios \
	/run/primary.log /run/backup.log /run/destroy.log /run/sink.log /run/relayB.log \
	"$(xt_console_log guest)" "$(xt_console_log guest--incoming)" /run/snapshots.txt /run/net.txt
exit 0
