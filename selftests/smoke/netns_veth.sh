#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Two namespaces joined by a veth pair reach each other over IPv4 and
# IPv6, and stop reaching each other when one end goes down (so the ping
# check can fail). Fixed MACs and permanent neighbour entries: no ARP or
# neighbour discovery in the way.

. "$(dirname "$0")/../lib/tap.sh"

A=smoke-a-$$
B=smoke-b-$$
MAC_A=02:00:00:00:00:0a
MAC_B=02:00:00:00:00:0b

carrier()
{
	$IP -n "$1" link show "$2" | grep -q 'LOWER_UP'
}

tap_plan 6
$IP netns add $A && tap_defer "$IP netns del $A" || tap_bail "ip netns add $A"
$IP netns add $B && tap_defer "$IP netns del $B" || tap_bail "ip netns add $B"

# ip -batch keeps it to one exec per namespace (each costs ~0.1 s in TCG).
$IP link add va netns $A address $MAC_A type veth \
	peer name vb netns $B address $MAC_B ||
	tap_bail "cannot create the veth pair"
for side in "$A va 10.99.0.1 fd99::1 10.99.0.2 fd99::2 $MAC_B" \
	    "$B vb 10.99.0.2 fd99::2 10.99.0.1 fd99::1 $MAC_A"; do
	set -- $side
	cat >"$1.batch" <<-EOB
	link set lo up
	addr add $3/24 dev $2
	addr add $4/64 dev $2 nodad
	neigh add $5 lladdr $7 dev $2 nud permanent
	neigh add $6 lladdr $7 dev $2 nud permanent
	link set $2 up
	EOB
	$IP -n "$1" -batch "$1.batch" || tap_bail "cannot configure $2 in $1"
done
wait_for "carrier on va" 10 carrier $A va
tap_check "veth up at both ends" carrier $B vb || tap_bail "no carrier"

tap_check "IPv4 ping a -> b" $IP netns exec $A ping -c 1 -W 2 10.99.0.2
tap_check "IPv4 ping b -> a" $IP netns exec $B ping -c 1 -W 2 10.99.0.1
tap_check "IPv6 ping a -> b" $IP netns exec $A ping -6 -c 1 -W 2 fd99::2

$IP -n $B link set vb down
tap_check_fails "no ping a -> b with vb down" $IP netns exec $A ping -c 1 -W 1 10.99.0.2
tap_expect_match "va lost carrier" "NO-CARRIER" "$($IP -n $A link show va)"

tap_done
