#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Never finishes, ignoring SIGTERM: the runner's timeout must kill it.
trap '' TERM
echo "# hanging"
while :; do
	sleep 1
done
