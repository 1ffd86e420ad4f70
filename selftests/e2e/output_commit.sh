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
#   output_commit.sh [TRIALS]       (default $E2E_TRIALS or 30)
#   E2E_UNBUFFERED=1: no net buffer on the primary; then the same check
#   must find violations, which proves the check can fail.

. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/lib.sh"

TRIALS=${1:-${E2E_TRIALS:-30}}
UNBUFFERED=${E2E_UNBUFFERED:-}
INTERVAL=${E2E_INTERVAL:-30ms}
TICK_US=${E2E_TICK_US:-5000}

need_remus_ko
REMUSD=$(e2e_bin remusd) || tap_bail "remusd missing"
REMUSCTL=$(e2e_bin remusctl) || tap_bail "remusctl missing"
GUEST=$(e2e_bin demo-guest) || tap_bail "demo-guest missing"
SEQCHECK=$(e2e_bin seqcheck) || tap_bail "seqcheck missing"
UP=$(dirname "$0")/guest-up.sh

W=$(mktemp -d)
head -c 32 /dev/urandom >"$W/key"
chmod 600 "$W/key"
tap_defer "rm -rf $W"
tap_defer e2e_teardown

# trial N: prints nothing, leaves $W/trial.log and $W/seq.out.
trial()
{
	n=$1 fault=$2
	e2e_reset
	rm -f "$W"/seq.out "$W"/img "$W"/*.log

	rm -f "$W/ready"
	"$IP" netns exec cli "$SEQCHECK" -p $PORT_SEQ -t 40 -n 40 \
		-o "$W/seq.out" -r "$W/ready" &
	E2E_PIDS="$E2E_PIDS $!"
	SEQ=$!
	e2e_wait "[ -e $W/ready ]" 20 || { echo "client did not start"; return 1; }

	"$IP" netns exec bak "$REMUSD" backup --listen 10.77.0.2:$PORT_REPL \
		--key "$W/key" --heartbeat 100 --timeout 1500 --name e2e-bak \
		--image "$W/img" --no-progress -- \
		"$UP" gb "$GUEST" -s 8M -t "$TICK_US" -d 8 \
		-c $CLIENT_IP:$PORT_SEQ -q >"$W/backup.log" 2>&1 &
	E2E_PIDS="$E2E_PIDS $!"
	e2e_wait "$REMUSCTL status e2e-bak" 10 || {
		echo "backup did not start"; return 1; }

	net="--net vgp"
	[ -n "$UNBUFFERED" ] && net=""
	# shellcheck disable=SC2086
	env ${fault:+REMUS_FAULT=$fault} \
	"$IP" netns exec pri "$REMUSD" primary --peer 10.77.0.2:$PORT_REPL \
		--key "$W/key" --interval "$INTERVAL" --heartbeat 100 \
		--timeout 1500 --name e2e-pri $net --no-progress -- \
		"$IP" netns exec gp "$GUEST" -s 8M -t "$TICK_US" -d 8 \
		-c $CLIENT_IP:$PORT_SEQ -q >"$W/primary.log" 2>&1 &
	E2E_PIDS="$E2E_PIDS $!"
	PRI=$!

	# Checkpoints flow: the backup has committed some.
	e2e_wait "$REMUSCTL -j status e2e-bak | grep -q '\"committed\":[1-9]'" 20 || {
		echo "no checkpoint committed"; return 1; }

	if [ -n "$fault" ]; then
		# The daemon kills itself at the fault point; the rest of the
		# host goes with it.
		e2e_wait "! kill -0 $PRI" 20 || { echo "fault $fault never hit"; return 1; }
	else
		# A random moment, 0.05 .. 1.5 s into the run.
		sleep "$(awk "BEGIN { srand($n * 7919 + $$); printf \"%.3f\", 0.05 + rand() * 1.45 }")"
	fi
	"$IP" netns exec pri "$REMUSCTL" net show vgp epochs >"$W/net.txt" 2>&1
	e2e_kill_primary
	wait "$SEQ"
	cat "$W/primary.log" "$W/backup.log" >"$W/trial.log"
	return 0
}

field()
{
	awk -v k="$1" '$1 == k { print $2; exit }' "$W/seq.out"
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
		trial "$i" "" >"$W/why" 2>&1 || { cat "$W/why"; i=$((i + 1)); continue; }
		v=$(field violations)
		tap_diag "unbuffered trial $i: violations ${v:-?}, after failover $(field after_failover)"
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
i=1
while [ "$i" -le "$TRIALS" ]; do
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
	if ! trial "$i" "$fault" >"$W/why" 2>&1; then
		tap_fail "$name" "$(cat "$W/why")" "$(tail -n 20 "$W/primary.log" "$W/backup.log" 2>/dev/null)"
		i=$((i + 1))
		continue
	fi
	v=$(field violations) a=$(field after_failover) g=$(field gens)
	if [ "${v:-x}" = 0 ] && [ "${a:-0}" -ge 40 ] && [ "${g:-0}" -ge 2 ]; then
		tap_ok "$name: no rollback seen, guest went on (max $(field max), $a after failover)"
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
