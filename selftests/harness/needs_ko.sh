#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Declares needs=remus.ko: passes only when the module is loaded. Without
# remus.ko the harness must report it failed, not passed nor skipped.
. "$(dirname "$0")/../lib/tap.sh"
tap_check "remus loaded" test -d /sys/module/remus
tap_done
