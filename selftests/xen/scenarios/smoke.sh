#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The test bed works: dom0's toolstack, a PVH guest that ticks, its UDP
# numbers reach the client netns, its disk holds the newest number.
. /xt/lib.sh
echo "1..5" >&3

xt_sink_start
xt_guest_cfg guest
t0=$(xt_now)
xt_check "xl create of a PVH guest" xl create -q /run/guest.cfg
xt_check "guest ticks on its console" xt_wait 120 xt_ticking guest 2
t1=$(xt_now)
xt_result create_to_tick2_s "$(echo "$t1 - $t0" | bc)"
sleep 2
s=$(xt_sink_summary)
xt_log "client: $s"
pk=$(echo "$s" | sed -n 's/.* packets=\([0-9]*\).*/\1/p')
xt_check "client receives the guest's numbers ($pk)" test "${pk:-0}" -gt 50
xl destroy guest
xt_wait 20 sh -c '! xl domid guest'
disk=$(dd if=/run/guest.img bs=512 count=1 2>/dev/null | tr -d '\0' | head -n 1)
xt_log "disk sector 0: $disk"
max=$(echo "$s" | sed -n 's/.* max=\([0-9]*\).*/\1/p')
n=${disk#seq }
xt_check "guest's disk holds its numbers ($n >= $max)" test "${n:-0}" -ge "${max:-1}"
xt_check "xl list shows only dom0" test "$(xl list | wc -l)" -eq 2
xt_sink_stop
xt_dump "$(xt_console_log guest)"
