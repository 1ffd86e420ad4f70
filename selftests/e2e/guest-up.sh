#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# guest-up.sh NS PROGRAM ARGS...: the backup's restore command. The guest
# comes back in namespace NS, whose interface waited down (same addresses
# and MAC as on the primary); bring it up and become the guest, keeping
# the pid and the environment remusd gave (REMUS_GUEST_FD, _IMAGE).
ns=$1
shift
/sbin/ip -n "$ns" link set eth0 up || exit 1
# as on the primary (lib.sh): the client's address, known for good
/sbin/ip -n "$ns" neigh replace 10.77.0.200 lladdr 02:00:0a:4d:00:c8 \
	dev eth0 nud permanent || exit 1
exec /sbin/ip netns exec "$ns" "$@"
