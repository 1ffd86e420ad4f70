#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Nothing a previous test started or created is still there.
. "$(dirname "$0")/../lib/tap.sh"
tap_expect_eq "no leftover 'sleep 1001'" "" "$(ps -o args | grep '^sleep 100[12]')"
tap_expect_eq "no leftover hang.sh" "" "$(ps -o args | grep 'hang[.]sh')"
tap_expect_eq "no network namespace" "" "$(ls /run/netns 2>/dev/null)"
tap_expect_eq "no harness-leak0" "" "$(ls -d /sys/class/net/harness-leak* 2>/dev/null)"
tap_expect_eq "no loop device" "" "$(ls /sys/block/loop*/loop/backing_file 2>/dev/null)"
tap_done
