#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Freezes the kernel (a loop with interrupts off on the only CPU): the
# in-VM timeout cannot fire, the host's watchdog must.
echo "# freezing the kernel"
insmod "$(dirname "$0")/harness_ksft.ko" action=hang
echo "ok 1 still alive"
