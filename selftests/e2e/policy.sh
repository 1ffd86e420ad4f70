#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The primary's side of failures, and the link's bad days:
#   - backup killed, policy continue: output flows unprotected, then a new
#     backup re-pairs and the guest is protected again;
#   - backup killed, policy pause: the guest and its output are held until
#     a backup returns, then both go on;
#   - delay and loss on the replication link (netem): no false failover
#     inside the timeout, checkpoints keep being acknowledged;
#   - SIGTERM of the primary: an orderly stop the backup does not take
#     over from.

. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/lib.sh"

e2e_init

received()
{
	awk '{ print $2 }' "$W/flow" 2>/dev/null || echo 0
}

status_field()
{
	"$REMUSCTL" -j status "$1" 2>/dev/null |
		sed -n "s/.*\"$2\":\"\{0,1\}\([^,\"}]*\).*/\1/p"
}

# Wait until the client's count grows by $1 within $2 s.
flows()
{
	_base=$(received)
	e2e_wait "[ \$(received) -ge $((_base + $1)) ]" "$2"
}

start()
{
	e2e_reset
	rm -f "$W"/*.log "$W/img" "$W/flow"
	e2e_client -t 120 -o "$W/seq.out" -s "$W/flow" || return 1
	e2e_backup "" "" || return 1
	e2e_primary "--net vgp --reconnect 200 --policy $1" "" || return 1
	flows 20 10
}

e2e_topology || tap_bail "topology failed"
tap_plan 9

# --- policy continue -----------------------------------------------------
if start continue; then
	kill -9 "$BAK"
	e2e_wait "[ \"\$(status_field e2e-pri protection)\" = unprotected ]" 10
	tap_expect_eq "continue: backup killed, the primary runs unprotected" \
		unprotected "$(status_field e2e-pri protection)"
	if flows 40 10; then
		tap_ok "continue: the client keeps receiving without a backup"
	else
		tap_fail "continue: the client keeps receiving without a backup" \
			"expected 40 more datagrams in 10 s, the count stayed at $(received)"
	fi
	e2e_backup "" ""
	e2e_wait "[ \"\$(status_field e2e-pri protection)\" = protected ]" 15
	tap_expect_eq "continue: a new backup re-pairs" protected \
		"$(status_field e2e-pri protection)"
	e2e_wait "$REMUSCTL -j status e2e-bak | grep -q '\"committed\":[1-9]'" 10
	tap_check "continue: the new backup commits checkpoints" \
		sh -c "$REMUSCTL -j status e2e-bak | grep -q '\"committed\":[1-9]'"
else
	tap_fail "continue: setup" "$(tail -n 20 "$W/primary.log" "$W/backup.log")"
	tap_fail "continue: the client keeps receiving without a backup" "setup failed"
	tap_fail "continue: a new backup re-pairs" "setup failed"
	tap_fail "continue: the new backup commits checkpoints" "setup failed"
fi

# --- policy pause --------------------------------------------------------
if start pause; then
	kill -9 "$BAK"
	e2e_wait "[ \"\$(status_field e2e-pri protection)\" = 'paused (no backup)' ]" 10
	sleep 0.5	# what was acked before the loss has drained
	before=$(received)
	sleep 2
	after=$(received)
	if [ "$after" -le $((before + 1)) ]; then
		tap_ok "pause: backup killed, guest and output held ($before -> $after)"
	else
		tap_fail "pause: backup killed, guest and output held" \
			"expected no new datagrams over 2 s, saw $before -> $after" \
			"$(tail -n 10 "$W/primary.log")"
	fi
	e2e_backup "" ""
	if flows 20 20; then
		tap_ok "pause: a new backup re-pairs and the output flows again"
	else
		tap_fail "pause: a new backup re-pairs and the output flows again" \
			"expected 20 more datagrams in 20 s, count $(received)" \
			"$(tail -n 10 "$W/primary.log" "$W/backup.log")"
	fi
else
	tap_fail "pause: setup" "$(tail -n 20 "$W/primary.log" "$W/backup.log")"
	tap_fail "pause: a new backup re-pairs and the output flows again" "setup failed"
fi

# --- delay and loss on the replication link ------------------------------
if start continue; then
	"$TC" -n bak qdisc add dev b0 root netem delay 30ms 10ms loss 3% &&
	"$TC" -n sw qdisc add dev b0s root netem delay 30ms 10ms loss 3%
	a0=$(status_field e2e-pri acked)
	sleep 5
	a1=$(status_field e2e-pri acked)
	tap_expect_eq "netem: no false failover (backup still armed, nothing restored)" \
		"true 0" "$(status_field e2e-bak armed) $("$IP" netns pids gb | wc -l)"
	if [ "${a1:-0}" -gt "${a0:-0}" ] && [ "$(status_field e2e-pri protection)" = protected ]; then
		tap_ok "netem: checkpoints still acknowledged ($a0 -> $a1)"
	else
		tap_fail "netem: checkpoints still acknowledged" \
			"expected acked to grow and protection kept, saw $a0 -> $a1, $(status_field e2e-pri protection)"
	fi
	"$TC" -n bak qdisc del dev b0 root
	"$TC" -n sw qdisc del dev b0s root
else
	tap_fail "netem: setup" "$(tail -n 20 "$W/primary.log" "$W/backup.log")"
	tap_fail "netem: checkpoints still acknowledged" "setup failed"
fi

# --- SIGTERM: an orderly stop --------------------------------------------
if start continue; then
	kill -TERM "$PRI"
	e2e_wait "grep -q 'stopped in order' $W/backup.log" 10
	sleep 2		# past the backup's timeout
	if grep -q 'stopped in order' "$W/backup.log" &&
	   ! grep -q 'failing over' "$W/backup.log"; then
		tap_ok "SIGTERM: the backup is told and does not take over"
	else
		tap_fail "SIGTERM: the backup is told and does not take over" \
			"$(tail -n 8 "$W/backup.log")"
	fi
else
	tap_fail "SIGTERM: setup" "$(tail -n 20 "$W/primary.log" "$W/backup.log")"
fi
tap_done
