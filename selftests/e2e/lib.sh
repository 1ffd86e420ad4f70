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
#   ns cli: the client, c0 10.77.0.200/24, fd77::200/64
#
# The guest's outbound packets arrive as ingress on vgp, as a Xen guest's
# do on its vif: that is where the primary buffers them.
#
# Sourced by the e2e tests; needs E2E_BIN (remusd, remusctl, demo-guest,
# seqcheck) and tap.sh already sourced.

IP=${IP:-/sbin/ip}
E2E_BIN=${E2E_BIN:-$(dirname "$0")}
GUEST_MAC=02:00:0a:4d:00:64
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
	link add c0 netns cli type veth peer name c0s netns sw
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
	nsbatch gp <<-EOF || return 1
	addr add $GUEST_IP/24 dev eth0
	addr add $GUEST_IP6/64 dev eth0 nodad
	link set eth0 up
	link set lo up
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
