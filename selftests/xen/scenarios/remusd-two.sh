#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Two guests protected at once on one pair of hosts (this one dom0 plays
# both): each its own vif buffer (IFB + remus qdisc), disk pair (remus
# target, replicate and stage), link, primary and backup remusd, client.
# The primaries start one after the other (a first checkpoint is a whole
# copy of the guest: two at once would double dom0's peak memory), then
# both checkpoint side by side; then both primary domains are destroyed at
# once, and for each guest: its backup fails over, its domain runs, its
# client hears it again with no rollback, its disk holds every number.
#   remusd-two.sh [WINDOW_S] [FAILOVER_WAIT_S]
# XT_HEARTBEAT, XT_TIMEOUT (ms, default 500 and 5000), XT_INTERVAL (ms,
# 200) go to every daemon.
. /xt/lib.sh
window=${1:-20} fwait=${2:-240} interval=${XT_INTERVAL:-200}
hb=${XT_HEARTBEAT:-500} to=${XT_TIMEOUT:-5000}
P=/xt/project
G="g1 g2"
echo "1..16" >&3
xt_result kind remusd-two
xt_result heartbeat_timeout_ms "$hb/$to"

# Guest i: address 10.0.0.1i, MAC ..:1i, client port 500i, link 710i.
idx() { echo "${1#g}"; }
ip_of() { echo "10.0.0.1$(idx "$1")"; }

pids=
declare -A pid
logs="/run/xl-list /run/dm-status /run/qdiscs /run/pg1.log /run/pg2.log /run/bg1.log /run/bg2.log
	/run/sink-g1.log /run/sink-g2.log $(xt_console_log g1--incoming) $(xt_console_log g2--incoming)
	/run/snapshots.txt /run/net.txt"
finish()
{
	# shellcheck disable=SC2086
	kill $pids 2>/dev/null
	xt_sink_stop
	xt_result xen_faults "$(xt_xen_faults)"
	xl list >/run/xl-list 2>&1
	dmsetup status >/run/dm-status 2>&1
	xt_snapshot end
	# shellcheck disable=SC2086
	xt_dump $logs
}
# bail WHY: the checks left fail at once, saying why; the logs are kept.
bail()
{
	while [ "$XT_TESTNO" -lt 16 ]; do xt_nok "not reached: $1"; done
	finish
	exit 1
}
insmod $P/remus.ko || { xt_nok "insmod remus.ko"; exit 1; }
ok=1
for g in $G; do
	i=$(idx $g)
	xt_remus_disks ${g}disk || ok=
	xt_sink_start 500$i /run/sink-$g.log
	XT_GUEST_IP=$(ip_of $g) XT_GUEST_MAC=00:16:3e:00:00:1$i XT_PORT=500$i \
		XT_GUEST_DISK=/dev/mapper/${g}disk xt_guest_cfg $g
	xl create -q /run/$g.cfg || ok=
done
xt_check "remus disks and domains: g1disk, g2disk (replicate), -b (stage); g1, g2 created" test -n "$ok"
[ -n "$ok" ] || bail "no guests"
both_tick() { xt_ticking g1 2 && xt_ticking g2 2; }
xt_check "both guests tick" xt_wait 400 both_tick
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >/run/remus.key
chmod 600 /run/remus.key

common="--key /run/remus.key --heartbeat $hb --timeout $to --no-progress --log-level info"
for g in $G; do
	i=$(idx $g)
	xt_remus_backup b$g ${g}disk 710$i "$(ip_of $g)" "$common"
	pids="$pids $!" pid[b$g]=$!
	xt_wait 30 test -S /run/remus/b$g.sock
	# shellcheck disable=SC2086
	$P/remusd primary --guest xen:$g --peer 127.0.0.1:710$i --interval ${interval}ms \
		--disk ${g}disk --policy pause --name p$g $common 2>/run/p$g.log &
	pids="$pids $!" pid[p$g]=$!
	# Acked, or its primary is gone (its guest died: no use waiting on).
	acked_or_gone() { xt_acked "p$g" 1 || ! kill -0 "${pid[p$g]}" 2>/dev/null; }
	if ! { xt_wait 400 acked_or_gone && xt_acked "p$g" 1; }; then
		xt_result xen_faults "$(xt_xen_faults)"
		# Nothing to fail over to: say so at once, keep the logs.
		xt_nok "$g: first checkpoint acked"
		bail "a first checkpoint was never acked"
	fi
	xt_ok "$g: first checkpoint acked"
done
for g in $G; do
	xt_result "${g}_vifs" "$(grep -o '[0-9]* vif(s) buffered' /run/p$g.log)"
done
# Each guest's own buffer: two remus qdiscs, on two IFBs.
tc qdisc show | grep -c ' remus ' >/run/qdiscs
xt_result remus_qdiscs "$(cat /run/qdiscs)"

# Side by side: both rates over one window.
declare -A n1 n2
t1=$(xt_now)
for g in $G; do n1[$g]=$(xt_field "$(xt_status p$g)" checkpoints); done
sleep "$window"
t2=$(xt_now)
for g in $G; do n2[$g]=$(xt_field "$(xt_status p$g)" checkpoints); done
for g in $G; do
	d=$((${n2[$g]:-0} - ${n1[$g]:-0}))
	rate=$(xt_fcalc "$d / ($t2 - $t1)")
	xt_result "${g}_checkpoints_per_s" "$rate"
	xt_result "${g}_pause_p50_ms" "$(xt_field "$(xt_status p$g)" pause_p50_ms)"
	xt_check "$g: checkpoints flow beside the other's ($d in $window s, $rate/s)" test "$d" -ge 3
done
# What each daemon holds in steady state, and held at its peak.
mem() { awk '/^VmRSS|^VmHWM/ { printf "%s %d MB ", $1, $2 / 1024 }' "/proc/$1/status" 2>/dev/null; }
for d in pg1 bg1 pg2 bg2; do xt_result "${d}_memory" "$(mem "${pid[$d]}")"; done
xt_result dom0_memory_mb "$(free -m | awk '/^Mem:/ { print "used " $3 " available " $7 " of " $2 }')"
for g in $G; do
	s=$(xt_status p$g)
	xt_result "${g}_at_failure" "epoch $(xt_field "$s" epoch) acked $(xt_field "$s" acked) buffered_pkts $(xt_field "$s" buffered_pkts)"
done

# A primary that ended on its own (its guest shut itself down, or the
# backup took over) leaves nothing to test: say so, and check-stage runs
# the case again.
for g in $G; do
	early=$(grep -hE 'shut itself down|failing over' /run/p$g.log /run/b$g.log | head -n 1)
	if [ -n "$early" ]; then
		xt_result early_failover "$g: $early | xen: $(xt_xen_faults)"
		bail "the primary failed before the injection: $g: $early"
	fi
done

# Both primaries' domains die at once.
t_fail=$(xt_now)
for g in $G; do xl destroy $g >/run/destroy-$g.log 2>&1 & done
# A guest that died on its own just before (its primary sees it only at
# its next suspend) stands its backup down: nothing to test, say so.
declare -A t_fo
for g in $G; do
	if died=$(xt_guest_died /run/b$g.log /run/p$g.log "$fwait"); then
		xt_result guest_died "$g: xen: $(xt_xen_faults)"
		bail "(not tested: $g: its guest died on its own: $died)"
	fi
	t_fo[$g]=$(xt_now)
done
for g in $G; do
	xt_check "$g: backup fails over" xt_wait "$fwait" grep -q 'failed over at checkpoint' /run/b$g.log
	xt_result "${g}_failover_domain_runs_s" "$(xt_fcalc "${t_fo[$g]} - $t_fail")"
	xt_result "${g}_backup" "$(grep -E 'primary lost|failing over|failed over' /run/b$g.log | tr '\n' '|')"
done
for g in $G; do
	cons=$(xt_console_log $g--incoming)
	btick() { sed -n 's/^tick \([0-9]*\) .*/\1/p' "$cons" 2>/dev/null | tail -n 1; }
	ticks_past() { local t; t=$(btick); [ -n "$t" ] && [ "$t" -ge "$1" ]; }
	t0=$(btick)
	xt_check "$g: its backup domain runs (ticks go on past ${t0:-none})" xt_wait 120 ticks_past $((${t0:-0} + 2))
done
for g in $G; do
	log=/run/sink-$g.log
	xt_wait 120 xt_has_sink_after "$t_fail" $log
	t_cl=$(xt_sink_first_after "$t_fail" $log)
	xt_result "${g}_failover_client_s" "$([ -n "$t_cl" ] && xt_fcalc "$t_cl - $t_fail" || echo none)"
	xt_check "$g: its client hears it again" test -n "$t_cl"
	[ -n "$t_cl" ] || xt_net_snapshot "$g: its client hears nothing"
	xt_result "${g}_backup_last_tick" "$(grep '^tick' "$(xt_console_log $g--incoming)" 2>/dev/null | tail -n 1)"
done
sleep 3
for g in $G; do
	summary=$(xt_sink_summary /run/sink-$g.log)
	xt_log "$g sink: $summary"
	rbs=$(sed -n 's/.* rollbacks=\([0-9]*\).*/\1/p' <<<"$summary")
	max=$(sed -n 's/.* max=\([0-9]*\).*/\1/p' <<<"$summary")
	xt_result "${g}_rollbacks" "${rbs:-?}"
	xt_check "$g: output commit: no rollback seen by its client (${rbs:-?})" test "${rbs:-1}" -eq 0
	# Its disk, the domain paused: every number it reported is there.
	dom=$g
	xt_domid $g >/dev/null || dom=$g--incoming
	xl pause $dom
	sleep 1
	blockdev --flushbufs /dev/mapper/${g}disk-b 2>/dev/null
	disk=$(/xt/bin/seqdisk /dev/mapper/${g}disk-b "${max:-0}")
	drc=$?
	xt_result "${g}_disk" "$disk"
	xt_check "$g: its disk holds every number it reported" test $drc -eq 0
	xl unpause $dom
done

finish
exit 0
