#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Freezes the kernel (a loop with interrupts off on the only CPU): the
# in-VM timeout cannot fire, the host's watchdog must.
echo "# freezing the kernel"
KO=$(dirname "$0")/harness_ksft.ko
if [ ! -f "$KO" ]; then
	echo "# $KO missing: make selftests builds it"
	exit 1
fi
insmod "$KO" action=hang
echo "ok 1 still alive"
