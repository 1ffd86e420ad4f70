#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Powers the VM off in the middle of the run: no end marker, a failure.
echo "ok 1 about to power off"
poweroff -f
sleep 5
