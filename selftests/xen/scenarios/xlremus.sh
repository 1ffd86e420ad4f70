#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The baseline: `xl remus -F -n -d -i 200` as Debian ships it, PVH guest, to
# a local `xl migrate-receive -r -e`. Measures the checkpoint rate, then
# kills the primary one way and measures the failover and what the client
# saw that the failed-over guest had not reached (no output buffering).
#   xlremus.sh KIND [WINDOW_S] [FAILOVER_WAIT_S]
#   KIND: destroy  xl destroy of the primary domain
#         kill     primary paused (its host is gone) and kill -9 of the
#                  sending xl remus and its libxl-save-helper
#         linkcut  the transport runs over TCP between netns A and B; the
#                  link drops every packet (netem loss 100%, no FIN)
#         none     rate only
# The stream goes through streamwalk (pass-through) which times each
# checkpoint boundary.
# XT_NODM=linear|delay: the guest's disk through dm-linear or dm-delay
# (xt_guest_disk) instead of a file; XT_DOM0_HOG=N: N busy loops in dom0
# while it runs (both: remusd's triple-fault experiments, docs/xen.md).
. /xt/lib.sh
kind=${1:-destroy} window=${2:-30} fwait=${3:-300} interval=${XT_INTERVAL:-200}
echo "1..6" >&3
xt_result kind "$kind"

xt_sink_start
XT_GUEST_DISK=$(xt_guest_disk none "${XT_NODM:-file}") xt_guest_cfg guest
xl create -q /run/guest.cfg
xt_hog "${XT_DOM0_HOG:-0}"
xt_check "primary guest ticks" xt_wait 400 xt_ticking guest 2 || true

recv="/xt/bin/streamwalk -x -l /run/walk.log | exec xl migrate-receive -r -e 2>>/run/recv.log"
if [ "$kind" = linkcut ]; then
	ip netns add A && ip netns add B
	ip link add vA netns A type veth peer name vB netns B
	ip -n A addr add 10.9.0.1/24 dev vA && ip -n A link set vA up
	ip -n B addr add 10.9.0.2/24 dev vB && ip -n B link set vB up
	# The receiver runs in dom0's own netns (its vif must land on xenbr0);
	# only the relay's TCP leg crosses A -> B.
	printf '#!/bin/sh\nexec nsenter -t 1 -n sh -c "%s"\n' "$recv" >/run/recv.sh
	chmod +x /run/recv.sh
	ip netns exec B socat TCP-LISTEN:7000,reuseaddr EXEC:/run/recv.sh 2>/run/relayB.log &
	xt_wait 20 sh -c 'ip netns exec B cat /proc/net/tcp | grep -q ":1B58 00000000:0000 0A"'
	# Full path: xl runs this with busybox sh, whose own ip applet would win.
	rune="exec /sbin/ip netns exec A socat - TCP:10.9.0.2:7000"
else
	rune=$recv
fi

t_start=$(xt_now)
xl remus -F -n -d -i "$interval" -s '' guest "$rune" >/run/send.log 2>&1 &
send=$!
xt_check "first checkpoint reaches the backup" xt_wait 240 xt_has_ckpt /run/walk.log 1
t_first=$(xt_walk_ckpt /run/walk.log 1)
xt_result first_checkpoint_s "$(xt_fcalc "${t_first:-0} - $t_start")"
sleep "$window"
t_end=$(xt_now)
# The rate over the window, from the second checkpoint on (the first is the full copy).
t2=$(xt_walk_ckpt /run/walk.log 2)
read -r rate n <<<"$(xt_walk_rate /run/walk.log "${t2:-0}" "$t_end")"
xt_result checkpoints_per_s "$rate"
xt_result checkpoints_in_window "$n"
xt_check "checkpoints flow ($n in the window, $rate/s)" test "$n" -ge 3
xt_result first_ckpt_bytes "$(awk '/^ckpt n=1 /{ sub("bytes=", "", $5); print $5 }' /run/walk.log)"
xt_result mean_ckpt_bytes "$(awk '/^ckpt/ && !/n=1 / { sub("bytes=", "", $5); s += $5; n++ } END { if (n) printf "%d", s / n }' /run/walk.log)"

if [ "$kind" = none ]; then
	xt_ok "no failure injected"; xt_ok "skip"; xt_ok "skip"
else
	helper=$(xt_children "$send" libxl-save-hel)
	pdom=$(xt_domid guest)
	t_fail=$(xt_now)
	xt_log "injecting $kind at $t_fail (sender $send, helper $helper, primary $pdom)"
	case $kind in
	destroy) (xl -v destroy guest >/run/destroy.log 2>&1; echo "destroy returned $(xt_now)" >>/run/destroy.log) & ;;
	kill)
		if [ -n "${XT_FAIL_AFTER_CKPT_MS:-}" ]; then
			# Strike that long after the next checkpoint arrives, while
			# the guest runs and talks (xstrike: no exec on the way).
			n0=$(xt_walk_count /run/walk.log)
			/xt/bin/xstrike -l /run/walk.log -n $((n0 + 1)) -d "$XT_FAIL_AFTER_CKPT_MS" \
				-D "$pdom" "$send" $helper >/run/strike.txt 2>&1
			t_fail=$(sed -n 's/^paused t=//p' /run/strike.txt)
			xt_log "xstrike: $(tr '\n' ' ' </run/strike.txt)"
			t_fail=${t_fail:-$(xt_now)}
		else
			xl pause guest; kill -9 "$send" $helper
			t_dead=$(xt_now)
		fi
		echo "${t_dead:-$t_fail}" >/run/dead.t ;;
	linkcut)
		ip netns exec A tc qdisc add dev vA root netem loss 100%
		ip netns exec B tc qdisc add dev vB root netem loss 100% ;;
	esac
	xt_result fail_at_checkpoint "$(xt_walk_count /run/walk.log)"
	# When the primary is really gone (xl destroy first tears devices
	# down, and xl remus may resume the guest meanwhile).
	# (kill: once xl pause has returned; it takes seconds under load.)
	if [ "$kind" = destroy ]; then
		(while xl list "$pdom" >/dev/null 2>&1; do sleep 0.2; done; xt_now >/run/dead.t) &
	elif [ "$kind" != kill ]; then
		echo "$t_fail" >/run/dead.t
	fi
	(sleep 5; xt_snapshot "5 s after $kind") &
	if xt_wait "$fwait" grep -q 'Failover' /run/recv.log; then
		t_fo=$(xt_now)
		xt_ok "backup announces failover"
		xt_result failover_announced_s "$(xt_fcalc "$t_fo - $t_fail")"
	else
		# xl remus has no heartbeat: after a silent link cut nobody fails
		# over. That is the baseline's known gap, not a test bed failure.
		todo=
		[ "$kind" = linkcut ] && todo=" # TODO xl remus has no heartbeat"
		echo "not ok $((XT_TESTNO += 1)) - backup announces failover within ${fwait} s$todo" >&3
		[ -n "$todo" ] || XT_FAILED=1
		xt_result failover_announced_s "none-within-$fwait"
	fi
	if [ "$kind" = linkcut ]; then
		tick=$(xt_last_tick guest)
		if xt_wait 30 xt_ticking guest $((${tick:-0} + 3)); then
			xt_result primary_after_cut "runs (tick ${tick} -> $(xt_last_tick guest))"
		else
			xt_result primary_after_cut "frozen at tick ${tick:-none}"
		fi
		xl list >/run/xl-list-cut 2>&1
		xt_dump /run/xl-list-cut
	fi
	if [ "$kind" != linkcut ]; then
		xt_wait 120 test -s /run/dead.t
		t_dead=$(cat /run/dead.t 2>/dev/null)
		xt_result primary_gone_s "$(xt_fcalc "${t_dead:-0} - $t_fail")"
		# The backup resumed when the client hears from the guest again
		# after the primary is gone.
		xt_client_hears "client hears from the guest again" "${t_dead:-$t_fail}" "$t_fail"
	else
		xt_ok "# SKIP the primary still owns the guest after a link cut"
	fi
	sleep 3
	for n in guest--incoming guest; do
		[ -e "$(xt_console_log $n)" ] && xt_log "console $n: $(grep '^tick' "$(xt_console_log $n)" | tail -n 1)"
	done
	rb=$(grep '^rollback' /run/sink.log | head -n 1)
	xt_result rollback "${rb:-none}"
	xt_result unreached "$(echo "$rb" | sed -n 's/.*unreached=\([0-9]*\).*/\1/p')"
	# The backup's re-sent numbers may never reach the client (its
	# frontends reconnect first): compare the client's newest number
	# before the failure with the backup's first tick instead.
	cmax=$(awk -v t="$t_fail" '/^silence/ { split($3, to, "="); split($5, l, "="); if (to[2] > t) { print l[2]; exit } }' /run/sink.log)
	bfirst=$(sed -n 's/^tick [0-9]* seq \([0-9]*\) .*/\1/p' "$(xt_console_log guest--incoming)" 2>/dev/null | head -n 1)
	xt_result backup_first_tick_seq "${bfirst:-none}"
	[ -n "$bfirst" ] && [ -n "$cmax" ] && [ "$cmax" -gt "$bfirst" ] &&
		xt_result unreached_at_least "$((cmax - bfirst)) (client had $cmax before the failure, the backup's first tick shows $bfirst)"
fi
xt_log "sink: $(xt_sink_summary)"
kill "$send" 2>/dev/null
xt_sink_stop
xl list >/run/xl-list 2>&1
xt_snapshot end
xt_dump /var/log/xen/console/guest-guest.log /var/log/xen/console/guest-guest--incoming.log /run/xl-list /run/destroy.log /run/snapshots.txt /run/walk.log /run/recv.log /run/send.log /run/sink.log /run/relayB.log
exit 0
