#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The output-commit proof. The demo guest sends its counter to a client in
# a third namespace through the buffered path (its vif's ingress, an IFB,
# the remus qdisc); the primary host (daemon and guest) dies at a random
# moment, or at a chosen phase of the protocol (REMUS_FAULT: in the pause,
# in the middle of sending, between sending and the ack, between the ack
# and the release, just after the release). After every failover the
# client must never have seen a number the resumed guest had not reached
# (seqcheck counts such rollbacks), and the guest must go on.
#
#   output_commit.sh [TRIALS [FIRST]]   (default $E2E_TRIALS or 30 trials,
#                                       numbered from FIRST, default 1)
#   E2E_UNBUFFERED=1: no net buffer on the primary; then the same check
#   must find violations, which proves the check can fail.

. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/lib.sh"

TRIALS=${1:-${E2E_TRIALS:-30}}
FIRST=${2:-1}
UNBUFFERED=${E2E_UNBUFFERED:-}

e2e_init

# trial N: leaves $W/seq.out and the daemons' logs.
trial()
{
	e2e_reset
	rm -f "$W"/seq.out "$W"/img "$W"/*.log
	e2e_client -t 40 -n 40 -o "$W/seq.out" || { echo "client did not start"; return 1; }
	e2e_backup "" "" || { echo "backup did not start"; return 1; }
	net="--net vgp"
	[ -n "$UNBUFFERED" ] && net=""
	e2e_primary "$net" "" || { echo "no checkpoint committed"; return 1; }
	"$IP" netns exec pri "$REMUSCTL" net show vgp epochs >"$W/net.txt" 2>&1
	e2e_kill_when "$1" || return 1
	e2e_netstate >>"$W/net.txt" 2>&1
	wait "$SEQ"
	return 0
}

e2e_topology || tap_bail "topology failed"

FAULTS="pause:3 send:4 sent:5 ack:6 release:7 pause:11 send:13 sent:17 ack:19 release:23"
set -- $FAULTS
nfaults=$#

if [ -n "$UNBUFFERED" ]; then
	tap_plan 1
	total=0
	i=1
	while [ "$i" -le "$TRIALS" ]; do
		E2E_FAULT=
		trial "$i" >"$W/why" 2>&1 || { cat "$W/why"; i=$((i + 1)); continue; }
		v=$(e2e_field violations)
		tap_diag "unbuffered trial $i: violations ${v:-?}, after failover $(e2e_field after_failover)"
		total=$((total + ${v:-0}))
		i=$((i + 1))
	done
	if [ "$total" -gt 0 ]; then
		tap_ok "without output buffering the client sees rollbacks ($total): the check can fail"
	else
		tap_fail "without output buffering the client sees rollbacks" \
			"expected some violations over $TRIALS trials, saw 0"
	fi
	tap_done
fi

tap_plan "$TRIALS"
i=$FIRST
while [ "$i" -lt $((FIRST + TRIALS)) ]; do
	# Every other trial at a chosen phase, cycling through them.
	fault=
	if [ $((i % 2)) -eq 0 ]; then
		k=$(( (i / 2 - 1) % nfaults + 1 ))
		eval "fault=\${$k}"
	fi
	if [ -n "$fault" ]; then
		name="trial $i: primary killed at $fault"
	else
		name="trial $i: primary killed at a random moment"
	fi
	E2E_FAULT=$fault
	if ! trial "$i" >"$W/why" 2>&1; then
		tap_fail "$name" "$(cat "$W/why")" "$(tail -n 20 "$W/primary.log" "$W/backup.log" 2>/dev/null)"
		i=$((i + 1))
		continue
	fi
	v=$(e2e_field violations) a=$(e2e_field after_failover) g=$(e2e_field gens)
	if [ "${v:-x}" = 0 ] && [ "${a:-0}" -ge 40 ] && [ "${g:-0}" -ge 2 ]; then
		tap_ok "$name: no rollback seen, guest went on (max $(e2e_field max), $a after failover)"
	else
		tap_fail "$name" \
			"expected: 0 violations, 2 generations, >= 40 datagrams after failover" \
			"saw: violations ${v:-?}, generations ${g:-?}, after failover ${a:-?}" \
			"$(cat "$W/seq.out" 2>/dev/null)" \
			"$(tail -n 15 "$W/primary.log")" \
			"$(tail -n 8 "$W/backup.log")" \
			"$(cat "$W/net.txt" 2>/dev/null)"
	fi
	i=$((i + 1))
done
tap_done
