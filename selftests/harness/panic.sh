#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Crashes the kernel: the run must fail and later tests must not look
# passed unless they really ran.
echo "# crashing the kernel"
echo c >/proc/sysrq-trigger
sleep 5
echo "ok 1 still alive"
