#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The Remus demo: a primary and a backup "dom0" and a client, each in its
# own network namespace; the demo guest (a process whose state lives in a
# checkpointed region) serves a counter to the client through the
# buffered path; live stats; the primary is killed; the backup takes over;
# the client's view is printed.
#
# Runs as root on a host where remus.ko is loaded, or in the test VM
# (demo/run does that on a machine that cannot load modules). Every line
# of the story starts with "demo| " and also goes to the console, where
# the host's demo/run picks it up live.

. "$(dirname "$0")/../lib/tap.sh" >/dev/null
. "$(dirname "$0")/lib.sh"

RUN_S=${DEMO_RUN_S:-8}
CONSOLE=
[ -w /dev/console ] && [ -e /selftests/env ] && CONSOLE=/dev/console

# In the VM the console is what the host shows live; elsewhere stdout.
say()
{
	if [ -n "$CONSOLE" ]; then
		echo "demo| $*" >"$CONSOLE"
	else
		echo "$*"
	fi
}

REMUSD=$(e2e_bin remusd) || exit 1
REMUSCTL=$(e2e_bin remusctl) || exit 1
GUEST=$(e2e_bin demo-guest) || exit 1
SEQCHECK=$(e2e_bin seqcheck) || exit 1
UP=$(dirname "$0")/guest-up.sh

W=$(mktemp -d)
trap 'e2e_teardown; rm -rf "$W"' EXIT INT TERM
head -c 32 /dev/urandom >"$W/key"
chmod 600 "$W/key"

say "Remus demo: a guest protected by continuous checkpoints"
say "hosts: primary 10.77.0.1 (ns pri), backup 10.77.0.2 (ns bak), client 10.77.0.200 (ns cli)"
say "guest: 10.77.0.100 / fd77::100, its packets leave through its vif (vgp) on the primary"
e2e_topology || { say "setting up the namespaces failed"; exit 1; }

"$IP" netns exec cli "$SEQCHECK" -p $PORT_SEQ -t $((RUN_S + 30)) -n 200 -L \
	-o "$W/client.txt" -r "$W/ready" >"$W/client.live" 2>&1 &
E2E_PIDS="$E2E_PIDS $!"
CLIENT=$!
e2e_wait "[ -e $W/ready ]" 20 || { say "the client did not start"; exit 1; }

say "backup: remusd backup --listen 10.77.0.2:7001 --key KEY -- demo-guest ..."
"$IP" netns exec bak "$REMUSD" backup --listen 10.77.0.2:$PORT_REPL \
	--key "$W/key" --heartbeat 100 --timeout 1000 --name demo-bak \
	--image "$W/img" --no-progress -- \
	"$UP" gb "$GUEST" -s 16M -t 5000 -d 16 -c $CLIENT_IP:$PORT_SEQ -q \
	>"$W/backup.log" 2>&1 &
E2E_PIDS="$E2E_PIDS $!"
e2e_wait "$REMUSCTL status demo-bak" 10 || { say "the backup did not start"; exit 1; }

say "primary: remusd primary --peer 10.77.0.2:7001 --key KEY --net vgp --interval 25ms -- demo-guest ..."
"$IP" netns exec pri "$REMUSD" primary --peer 10.77.0.2:$PORT_REPL \
	--key "$W/key" --interval 25ms --heartbeat 100 --timeout 1000 \
	--name demo-pri --net vgp --no-progress -- \
	"$IP" netns exec gp "$GUEST" -s 16M -t 5000 -d 16 \
	-c $CLIENT_IP:$PORT_SEQ -q >"$W/primary.log" 2>&1 &
E2E_PIDS="$E2E_PIDS $!"
e2e_wait "$REMUSCTL -j status demo-bak | grep -q '\"committed\":[1-9]'" 20 ||
	{ say "no checkpoint reached the backup"; cat "$W/primary.log"; exit 1; }

say "checkpointing; the client only ever sees output of acknowledged checkpoints"
i=0
while [ "$i" -lt "$RUN_S" ]; do
	s=$("$REMUSCTL" -j status demo-pri 2>/dev/null)
	n=$("$IP" netns exec pri "$REMUSCTL" -j net show vgp 2>/dev/null)
	seen=$(tail -n 1 "$W/client.live" 2>/dev/null)
	say "$(echo "$s" | awk -v net="$n" '
	function num(k,   r) { r = $0; if (!match(r, "\"" k "\":[0-9.e+-]+")) return "?";
		r = substr(r, RSTART, RLENGTH); sub(/^[^:]*:/, "", r); return r }
	{ printf "primary: epoch %s acked %s, %.0f ckpt/s, pause p50 %.2f ms p99 %.2f ms, %s pages last, %.0f:1 on the wire",
		num("epoch"), num("acked"), num("rate"), num("pause_p50_ms"),
		num("pause_p99_ms"), num("pages_last"), num("ratio_last") }
	END { $0 = net; printf ", held now %s packets", num("backlog_pkts") }')"
	sleep 1
	i=$((i + 1))
done

M=$("$IP" netns exec pri "$REMUSCTL" -j net show vgp 2>/dev/null | sed 's/.*"backlog_pkts":\([0-9]*\).*/\1/')
say "KILLING THE PRIMARY (daemon and guest, and its uplink) with ${M:-?} packets held"
e2e_kill_primary
T0=$(cat /proc/uptime | cut -d' ' -f1)
e2e_wait "grep -q 'failed over' $W/backup.log" 10
T1=$(cat /proc/uptime | cut -d' ' -f1)
grep -E "lost|failing over|failed over" "$W/backup.log" | sed 's/^/backup log: /' |
	while read -r l; do say "$l"; done
say "failover took $(awk "BEGIN { printf \"%.2f\", $T1 - $T0 }") s (backup detected the loss, restored the guest, announced its addresses)"
wait "$CLIENT"

while read -r l; do say "$l"; done <"$W/client.live"
say "the client's view:"
while read -r l; do say "  $l"; done <"$W/client.txt"
v=$(awk '$1 == "violations" { print $2 }' "$W/client.txt")
if [ "${v:-1}" = 0 ]; then
	say "RESULT: the client never saw a number the resumed guest had not reached; the guest goes on"
	exit 0
fi
say "RESULT: the client saw rolled-back output ($v): output commit violated"
exit 1
