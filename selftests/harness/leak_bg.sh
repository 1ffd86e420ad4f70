#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Passes but leaves a background process holding its output open: the
# runner must not wait for it, and must kill it (no_leftovers checks).
sleep 1001 &
echo "ok 1 left sleep 1001 behind"
echo "1..1"
exit 0
