#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The save-loop prototype (xsave: xc_domain_save with the project's own
# callbacks) replicating a PVH guest to a local `xl migrate-receive -r -e`.
#   xsave.sh KIND [CHECKPOINTS|SECONDS] [INTERVAL_MS]
#   boundary  xsave stops after CHECKPOINTS checkpoints, pauses the primary
#             and closes the stream at the boundary: the backup must fail
#             over and the guest tick on there
#   kill      xsave is killed with SIGKILL after SECONDS, wherever it is
#             (inside a checkpoint, most likely); the receiver is fed
#             through `streamwalk -w`, which passes only whole checkpoints,
#             so the backup must still fail over
#   killpass  the same with a pass-through relay (what xl does)
. /xt/lib.sh
kind=${1:-boundary} count=${2:-20} interval=${3:-200}
echo "1..7" >&3
xt_result kind "xsave-$kind"

xt_sink_start
xt_guest_cfg guest
xl create -q /run/guest.cfg
xt_check "primary guest ticks" xt_wait 400 xt_ticking guest 2 || true
domid=$(xt_domid guest)
# XT_SUSPEND_CYCLES=N: first measure the suspend path alone (xsuspend), on
# the same boot (each boot and guest start costs minutes under TCG).
if [ -n "${XT_SUSPEND_CYCLES:-}" ]; then
	xenstore-ls -f "/local/domain/$domid/device" >/run/device.txt 2>&1
	grep -q 'device/suspend/event-channel = "[0-9]' /run/device.txt &&
		xt_result suspend_event_channel published || xt_result suspend_event_channel absent
	/xt/bin/xsuspend -n "$XT_SUSPEND_CYCLES" -i 50 -r /run/suspend.csv "$domid" >/run/xsuspend.txt 2>&1
	xt_log "xsuspend exited $?"
	grep -v '^#' /run/xsuspend.txt | sed 's/^/RESULT-TABLE /' >&3
fi

walk="-x"
[ "$kind" = kill ] && walk="-x -w"
recv="/xt/bin/streamwalk $walk -l /run/walk.log | exec xl migrate-receive -r -e 2>>/run/recv.log"
args="-i $interval -p"
[ "$kind" = boundary ] && args="$args -n $count"
t_start=$(xt_now)
# shellcheck disable=SC2086
/xt/bin/xsave $args -l /run/xsave.log -c "$recv" "$domid" 2>/run/xsave.err &
saver=$!
xt_check "first checkpoint reaches the backup" xt_wait 240 xt_has_ckpt /run/walk.log 1
t_first=$(xt_walk_ckpt /run/walk.log 1)
xt_result first_checkpoint_s "$(xt_fcalc "${t_first:-0} - $t_start")"

if [ "$kind" = boundary ]; then
	xt_wait 600 sh -c "! kill -0 $saver"
	wait $saver
	rc=$?
	t_fail=$(xt_now)
	xt_check "xsave made $count checkpoints and stopped at the boundary (rc $rc)" \
		grep -q "^end .* rc=0 checkpoints=$count " /run/xsave.log
else
	sleep "$count"
	t_fail=$(xt_now)
	kill -9 $saver
	xl pause guest
	wait $saver 2>/dev/null
	xt_ok "xsave killed at checkpoint $(xt_walk_count /run/walk.log)"
fi
t2=$(xt_walk_ckpt /run/walk.log 2)
read -r rate n <<<"$(xt_walk_rate /run/walk.log "${t2:-0}" "$t_fail")"
xt_result checkpoints_per_s "$rate"
xt_result checkpoints_in_window "$n"
xt_result mean_ckpt_bytes "$(awk '/^ckpt/ && !/n=1 / { sub("bytes=", "", $5); s += $5; n++ } END { if (n) printf "%d", s / n }' /run/walk.log)"
xl destroy guest
if xt_wait 300 grep -q 'Failover' /run/recv.log; then
	t_fo=$(xt_now)
	xt_ok "backup announces failover"
	xt_result failover_announced_s "$(xt_fcalc "$t_fo - $t_fail")"
else
	xt_nok "backup announces failover within 300 s"
fi
xt_client_hears "client hears from the failed-over guest" "$t_fail" "$t_fail"
bk=guest--incoming
[ -e "$(xt_console_log $bk)" ] || bk=guest
tick=$(xt_last_tick $bk)
xt_check "the backup ticks on (from tick ${tick:-none})" xt_wait 30 xt_ticking $bk $((${tick:-0} + 2))
rb=$(grep '^rollback' /run/sink.log | head -n 1)
xt_result rollback "${rb:-none}"
xt_result unreached "$(echo "$rb" | sed -n 's/.*unreached=\([0-9]*\).*/\1/p')"
xt_log "sink: $(xt_sink_summary)"
xt_sink_stop
xl list >/run/xl-list 2>&1
grep -A10 '^phase' /run/xsave.log | sed 's/^/RESULT-TABLE /' >&3
xt_snapshot end
xt_dump /var/log/xen/console/guest-guest.log /var/log/xen/console/guest-guest--incoming.log /run/xl-list /run/snapshots.txt /run/xsave.log /run/xsave.err /run/walk.log /run/recv.log /run/sink.log
exit 0
