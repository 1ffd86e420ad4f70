#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# First thing in every boot of the test VM: the Debian modules the suites
# asked for load, and the real iproute2 runs (not busybox's applets).

. /selftests/lib/tap.sh

tap_check "loopback up" $IP link set lo up
tap_expect_match "/sbin/ip is iproute2" "iproute2" "$($IP -V 2>&1)"
tap_expect_match "/sbin/tc is iproute2" "iproute2" "$($TC -V 2>&1)"

while read -r ko; do
	name=${ko##*/}
	name=${name%.ko}
	if [ -d "/sys/module/$(echo "$name" | tr - _)" ]; then
		tap_ok "module $name (built in or loaded)"
	else
		tap_check "insmod $name" insmod "$ko"
	fi
done </etc/modules.load

tap_done
