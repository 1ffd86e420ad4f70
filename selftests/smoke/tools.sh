#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# iproute2's ip and tc (called by full path: busybox has applets of the
# same names) manage namespaces, qdiscs (netem, plug) and batches.

. "$(dirname "$0")/../lib/tap.sh"

NS=smoke-tools-$$

tap_plan 8
tap_check "ip netns add" $IP netns add $NS || tap_bail "no netns"
tap_defer "$IP netns del $NS"
tap_check "lo up in the netns" $IP -n $NS link set lo up

tap_check "tc adds netem" $TC -n $NS qdisc add dev lo root handle 1: netem delay 1ms
tap_expect_match "tc shows netem" "qdisc netem 1: root .*delay 1ms" \
	"$($TC -n $NS qdisc show dev lo)"
tap_check "tc deletes it" $TC -n $NS qdisc del dev lo root
tap_check "tc adds plug" $TC -n $NS qdisc add dev lo root handle 2: plug limit 100
tap_expect_match "tc shows plug" "qdisc plug 2: root" "$($TC -n $NS qdisc show dev lo)"

printf 'link add smoke0 type veth peer name smoke1\nlink set smoke0 up\nlink set smoke1 up\n' >veth.batch
$IP -n $NS -batch veth.batch
tap_expect_eq "ip -batch made a veth pair" 2 \
	"$($IP -n $NS -o link show type veth | grep -c 'smoke[01]@')"

tap_done
