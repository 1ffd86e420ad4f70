#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Plans three checks, reports two and exits 0: the missing check fails.
echo "TAP version 13"
echo "1..3"
echo "ok 1 first"
echo "ok 2 second"
exit 0
