#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Nothing a previous test started is still running.
. "$(dirname "$0")/../lib/tap.sh"
tap_expect_eq "no leftover 'sleep 1001'" "" "$(ps -o args | grep '^sleep 1001' | grep -v grep)"
tap_expect_eq "no leftover hang.sh" "" "$(ps -o args | grep 'hang[.]sh')"
tap_done
