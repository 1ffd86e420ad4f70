#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# One check passes, one fails with expected and seen values.
. "$(dirname "$0")/../lib/tap.sh"
tap_plan 2
tap_expect_eq "one is one" 1 1
tap_expect_eq "two is three" 2 3
tap_done
