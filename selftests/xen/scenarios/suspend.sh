#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# What the control/shutdown suspend path costs a Linux PVH guest: xsuspend
# runs CYCLES suspend/resume cycles (INTERVAL ms apart) on a ticking guest,
# then the guest must still tick and still reach the client.
#   suspend.sh [CYCLES] [INTERVAL_MS]
. /xt/lib.sh
cycles=${1:-100} interval=${2:-100}
echo "1..4" >&3

xt_sink_start
xt_guest_cfg guest
xl create -q /run/guest.cfg
xt_check "guest ticks" xt_wait 400 xt_ticking guest 2
domid=$(xt_domid guest)
xenstore-ls -f "/local/domain/$domid/control" >/run/control.txt 2>&1
xenstore-ls -f "/local/domain/$domid/device" >/run/device.txt 2>&1
if grep -q 'device/suspend/event-channel = "[0-9]' /run/device.txt; then
	xt_result suspend_event_channel published
else
	xt_result suspend_event_channel absent
fi
s0=$(xt_sink_summary)
t0=$(xt_now)
xt_check "xsuspend: $cycles cycles" /xt/bin/xsuspend -n "$cycles" -i "$interval" -r /run/suspend.csv "$domid" >/run/xsuspend.txt 2>&1
t1=$(xt_now)
xt_result suspend_loop_s "$(xt_fcalc "$t1 - $t0")"
sleep 2
s1=$(xt_sink_summary)
xt_log "client before: $s0"
xt_log "client after:  $s1"
tick=$(xt_last_tick guest)
xt_check "guest ticks on after the cycles" xt_wait 30 xt_ticking guest $((tick + 2))
p0=$(echo "$s0" | sed -n 's/.* packets=\([0-9]*\).*/\1/p')
p1=$(echo "$s1" | sed -n 's/.* packets=\([0-9]*\).*/\1/p')
xt_check "client keeps receiving ($p0 -> $p1)" test "${p1:-0}" -gt "${p0:-0}"
grep -v '^#' /run/xsuspend.txt | sed 's/^/RESULT-TABLE /' >&3
xt_sink_stop
xt_dump /run/control.txt /run/device.txt /run/xsuspend.txt /run/suspend.csv /run/sink.log
exit 0
