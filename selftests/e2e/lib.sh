# SPDX-License-Identifier: GPL-2.0
#
# The end-to-end test bed, in network namespaces of one kernel:
#
#   ns sw:  bridge br0 (the network between the hosts and the client)
#   ns pri: the primary "dom0"; bridge brp with uplink p0 (10.77.0.1/24)
#           and the guest's port vgp (its "vif")
#   ns gp:  the guest on the primary: eth0 10.77.0.100/24, fd77::100/64,
#           MAC 02:00:0a:4d:00:64
#   ns bak: the backup "dom0"; bridge brb with uplink b0 (10.77.0.2/24)
#           and vgb
#   ns gb:  where the guest comes back on failover: the same addresses and
#           MAC, its eth0 down until then
#   ns cli: the client, c0 10.77.0.200/24, fd77::200/64, fixed MAC, which
#           the guest knows (a permanent neighbour entry)
#
# The guest's outbound packets arrive as ingress on vgp, as a Xen guest's
# do on its vif: that is where the primary buffers them.
#
# Sourced by the e2e tests after tap.sh; e2e_init finds the programs
# (E2E_BIN, else next to the test) and makes the scratch directory $W.

IP=${IP:-/sbin/ip}
E2E_BIN=${E2E_BIN:-$(dirname "$0")}
GUEST_MAC=02:00:0a:4d:00:64
CLIENT_MAC=02:00:0a:4d:00:c8
GUEST_IP=10.77.0.100
GUEST_IP6=fd77::100
CLIENT_IP=10.77.0.200
PORT_SEQ=9000
PORT_REPL=7001
E2E_PIDS=""

e2e_bin()
{
	for d in "$E2E_BIN" /remus /usr/local/bin; do
		[ -x "$d/$1" ] && { echo "$d/$1"; return 0; }
	done
	echo "e2e: $1 not found" >&2
	return 1
}

# The start of every e2e test: the programs, a scratch directory $W with
# a key, cleanup at exit.
e2e_init()
{
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
}

# e2e_client SEQCHECK-ARGS...: the client in ns cli, returning once it is
# bound; its pid in SEQ.
e2e_client()
{
	rm -f "$W/ready"
	"$IP" netns exec cli "$SEQCHECK" -p $PORT_SEQ -r "$W/ready" "$@" &
	SEQ=$!
	E2E_PIDS="$E2E_PIDS $SEQ"
	e2e_wait "[ -e $W/ready ]" 20
}

# e2e_backup "REMUSD-ARGS" "GUEST-ARGS": remusd backup in ns bak (log
# appended to $W/backup.log), returning once its control socket answers;
# its pid in BAK. The guest comes back in ns gb.
e2e_backup()
{
	# shellcheck disable=SC2086
	"$IP" netns exec bak "$REMUSD" backup --listen 10.77.0.2:$PORT_REPL \
		--key "$W/key" --heartbeat 100 --timeout 1500 --name e2e-bak \
		--image "$W/img" --no-progress $1 -- \
		"$UP" gb "$GUEST" -s 8M -t 5000 -d 8 -c $CLIENT_IP:$PORT_SEQ -q $2 \
		>>"$W/backup.log" 2>&1 &
	BAK=$!
	E2E_PIDS="$E2E_PIDS $BAK"
	e2e_wait "$REMUSCTL status e2e-bak" 10
}

# e2e_primary "REMUSD-ARGS" "GUEST-ARGS": remusd primary in ns pri with
# the guest in ns gp, $E2E_FAULT as REMUS_FAULT; returns once the backup
# committed a checkpoint. Its pid in PRI.
e2e_primary()
{
	# shellcheck disable=SC2086
	env ${E2E_FAULT:+REMUS_FAULT=$E2E_FAULT} \
	"$IP" netns exec pri "$REMUSD" primary --peer 10.77.0.2:$PORT_REPL \
		--key "$W/key" --interval 30ms --heartbeat 100 --timeout 1500 \
		--name e2e-pri --no-progress $1 -- \
		"$IP" netns exec gp "$GUEST" -s 8M -t 5000 -d 8 \
		-c $CLIENT_IP:$PORT_SEQ -q $2 >>"$W/primary.log" 2>&1 &
	PRI=$!
	E2E_PIDS="$E2E_PIDS $PRI"
	e2e_wait "$REMUSCTL -j status e2e-bak | grep -q '\"committed\":[1-9]'" 20
}

# e2e_kill_when: the primary dies at the fault point $E2E_FAULT (its
# daemon killed itself there: the rest of the host goes with it), or at a
# random moment of up to 1.5 s, seeded with $1.
e2e_kill_when()
{
	if [ -n "${E2E_FAULT:-}" ]; then
		e2e_wait "! kill -0 $PRI" 20 || { echo "fault $E2E_FAULT never hit"; return 1; }
	else
		sleep "$(awk "BEGIN { srand($1 * 7919 + $$); printf \"%.3f\", 0.05 + rand() * 1.45 }")"
	fi
	e2e_kill_primary
}

# What the network looked like, for a failed trial's report.
e2e_netstate()
{
	echo "--- gp neigh:"; "$IP" -n gp neigh show
	echo "--- gp eth0:"; "$IP" -n gp -s link show eth0 | sed -n '3,6p'
	echo "--- pri fdb for the guest:"; /sbin/bridge -n pri fdb show br brp 2>/dev/null | grep -i "$GUEST_MAC"
	echo "--- sw fdb for the guest:"; /sbin/bridge -n sw fdb show br br0 2>/dev/null | grep -i "$GUEST_MAC"
	echo "--- pri ifb:"; "$IP" -n pri -s link show type ifb | sed -n '1,6p'
	echo "--- cli c0:"; "$IP" -n cli -s link show c0 | sed -n '3,6p'
}

# e2e_field KEY: a value of seqcheck's summary in $W/seq.out.
e2e_field()
{
	awk -v k="$1" '$1 == k { print $2; exit }' "$W/seq.out"
}

# ip -batch in namespace $1 from stdin.
nsbatch()
{
	"$IP" -n "$1" -batch -
}

e2e_topology()
{
	local ns
	for ns in sw pri gp bak gb cli; do
		"$IP" netns add "$ns" || return 1
	done
	"$IP" -batch - <<-EOF || return 1
	link add p0 netns pri type veth peer name p0s netns sw
	link add b0 netns bak type veth peer name b0s netns sw
	link add c0 netns cli address $CLIENT_MAC type veth peer name c0s netns sw
	link add eth0 netns gp address $GUEST_MAC type veth peer name vgp netns pri
	link add eth0 netns gb address $GUEST_MAC type veth peer name vgb netns bak
	EOF
	nsbatch sw <<-EOF || return 1
	link add br0 type bridge
	link set br0 up
	link set p0s master br0
	link set b0s master br0
	link set c0s master br0
	link set p0s up
	link set b0s up
	link set c0s up
	link set lo up
	EOF
	nsbatch pri <<-EOF || return 1
	link add brp type bridge
	link set brp up
	link set p0 master brp
	link set vgp master brp
	link set p0 up
	link set vgp up
	addr add 10.77.0.1/24 dev brp
	link set lo up
	EOF
	nsbatch bak <<-EOF || return 1
	link add brb type bridge
	link set brb up
	link set b0 master brb
	link set vgb master brb
	link set b0 up
	link set vgb up
	addr add 10.77.0.2/24 dev brb
	link set lo up
	EOF
	# The guest knows the client's address for good: its ARP would
	# otherwise be output held like any other, and a primary killed
	# early would have nothing released yet (the net suite tests ARP).
	nsbatch gp <<-EOF || return 1
	addr add $GUEST_IP/24 dev eth0
	addr add $GUEST_IP6/64 dev eth0 nodad
	link set eth0 up
	link set lo up
	neigh add $CLIENT_IP lladdr $CLIENT_MAC dev eth0 nud permanent
	EOF
	# The standby: addressed, but down until the guest is restored.
	nsbatch gb <<-EOF || return 1
	addr add $GUEST_IP/24 dev eth0
	addr add $GUEST_IP6/64 dev eth0 nodad
	link set lo up
	EOF
	nsbatch cli <<-EOF || return 1
	addr add $CLIENT_IP/24 dev c0
	addr add fd77::200/64 dev c0 nodad
	link set c0 up
	link set lo up
	EOF
}

e2e_teardown()
{
	local p ns
	for p in $E2E_PIDS; do
		kill -9 "$p" 2>/dev/null
	done
	E2E_PIDS=""
	for ns in gp gb pri bak cli sw; do
		"$IP" netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null
	done
	for ns in gp gb pri bak cli sw; do
		"$IP" netns del "$ns" 2>/dev/null
	done
	return 0
}

# Between trials: every process of the test bed killed, the hosts' links
# back as they were, the standby guest's interface down again, and what
# a dead primary left in its buffer dropped.
e2e_reset()
{
	local p ns
	for p in $E2E_PIDS; do
		kill -9 "$p" 2>/dev/null
	done
	E2E_PIDS=""
	for ns in gp gb pri bak cli; do
		"$IP" netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null
	done
	"$IP" -n pri link set p0 up
	"$IP" -n gb link set eth0 down
	"$IP" -n cli neigh flush dev c0 2>/dev/null
	return 0
}

# The primary host dies: its daemon and guest at once, then its uplink, so
# that nothing it still held can leave afterwards.
e2e_kill_primary()
{
	"$IP" netns pids pri | xargs -r kill -9 2>/dev/null
	"$IP" netns pids gp | xargs -r kill -9 2>/dev/null
	"$IP" -n pri link set p0 down
}

# Poll until $1 (a command) succeeds, every 0.05 s, at most $2 seconds.
e2e_wait()
{
	local cmd=$1 n=$(( ${2:-10} * 20 ))
	while [ "$n" -gt 0 ]; do
		eval "$cmd" >/dev/null 2>&1 && return 0
		sleep 0.05
		n=$((n - 1))
	done
	return 1
}
