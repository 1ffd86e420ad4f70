#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Passes its check but leaves a network namespace, a veth pair, a loop
# device and a daemon (in a session of its own, out of reach of the kill
# of its process group) behind: the runner must fail it, name what it
# left, and remove it (no_leftovers checks).
/sbin/ip netns add harness-leak
/sbin/ip link add harness-leak0 type veth peer name harness-leak1
truncate -s 1M leak.img
losetup -f leak.img
setsid sleep 1002 </dev/null >/dev/null 2>&1 &
# Exit only once it has its own session (or the kill of our process
# group could still reach it).
daemon=$!
while read -r stat <"/proc/$daemon/stat"; do
	set -- ${stat##*) }
	[ "$4" = "$daemon" ] && break
	sleep 0.05
done
echo "ok 1 left things behind"
echo "1..1"
exit 0
