#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make soak: the output-commit proof (selftests/e2e/output_commit.sh) for
# 1,000 trials in the test VM, the primary killed at a random moment or at
# a chosen phase of the protocol in turn. Writes bench/soak/results.md.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT" || exit 1
O=${O:-build}
WORK=$O/soak-vm
start=$(date -u +%FT%TZ)
t0=$(date +%s)
VMTEST_DIR=$WORK selftests/vm/run.sh soak
rc=$?
t1=$(date +%s)
tap=$WORK/tap.txt
pass=$(grep -c '^# ok [0-9]* trial' "$tap")
fail=$(grep -c '^# not ok [0-9]* trial' "$tap")
viol=$(grep -A4 '^# not ok [0-9]* trial' "$tap" | grep -c 'saw: violations [1-9]')
{
	echo "# Soak: the output-commit proof, many trials"
	echo
	echo "Command: \`make soak\` (bench/soak/run.sh: selftests/soak in the test VM,"
	echo "which runs selftests/e2e/output_commit.sh with 1,000 trials). Each trial"
	echo "starts a backup and a primary with the demo guest sending its counter to a"
	echo "client through the buffered path, kills the primary host (daemon, guest,"
	echo "uplink) at a random moment (odd trials) or at a protocol phase via"
	echo "REMUS_FAULT (even trials: pause, send, sent, ack, release, in turn), and"
	echo "checks the client's view against the restored guest's committed counter."
	echo
	echo "| run started | wall time | trials passed | trials failed | of which rollbacks seen |"
	echo "| --- | --- | --- | --- | --- |"
	echo "| $start | $(( (t1 - t0) / 60 )) min | $pass | $fail | $viol |"
	echo
	echo "Harness exit status: $rc. Failed trials, if any:"
	echo
	grep -A8 '^# not ok [0-9]* trial' "$tap" | sed 's/^# //; s/^/    /' | head -n 200
} >bench/soak/results.md
cat bench/soak/results.md
exit "$rc"
