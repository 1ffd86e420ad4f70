#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make soak: the output-commit proof (selftests/e2e/output_commit.sh) for
# 1,000 trials in the test VM, the primary killed at a random moment or at
# a chosen phase of the protocol in turn. Writes bench/soak/results.md.
#
# Environment: O (build directory), SOAK_TRIALS (1000), SOAK_JOBS (VMs
# side by side, 1; each takes a share of the trials, numbered on from the
# last one's, and a core under TCG).
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT" || exit 1
O=${O:-build}
TRIALS=${SOAK_TRIALS:-1000}
JOBS=${SOAK_JOBS:-1}
WORK=$O/soak-vm
start=$(date -u +%FT%TZ)
t0=$(date +%s)

mkdir -p "$WORK"
pids='' first=1
for j in $(seq 1 "$JOBS"); do
	n=$(( TRIALS / JOBS + (j <= TRIALS % JOBS ? 1 : 0) ))
	VMTEST_DIR=$WORK/$j VMTEST_APPEND="SOAK_TRIALS=$n SOAK_FIRST=$first" \
		selftests/vm/run.sh soak >"$WORK.$j.log" 2>&1 &
	pids="$pids $!"
	echo "soak: VM $j, trials $first-$((first + n - 1)), log $WORK.$j.log"
	# The next VM once this one has booted: the harness builds a shared
	# base initramfs on first use, one builder at a time.
	while [ "$j" -lt "$JOBS" ] && ! grep -q '^ok vm:setup' "$WORK.$j.log" 2>/dev/null &&
		kill -0 "$!" 2>/dev/null; do
		sleep 2
	done
	first=$((first + n))
done
rc=0
for p in $pids; do
	wait "$p" || rc=1
done
t1=$(date +%s)

taps=$(for j in $(seq 1 "$JOBS"); do echo "$WORK/$j/tap.txt"; done)
# shellcheck disable=SC2086
count() { cat $taps 2>/dev/null | grep -c "$1"; }
pass=$(count '^# ok [0-9]* trial')
fail=$(count '^# not ok [0-9]* trial')
# shellcheck disable=SC2086
viol=$(cat $taps 2>/dev/null | grep -A4 '^# not ok [0-9]* trial' | grep -c 'saw: violations [1-9]')
{
	echo "# Soak: the output-commit proof, many trials"
	echo
	echo "Command: \`make soak\` (bench/soak/run.sh: selftests/soak in the test VM,"
	echo "which runs selftests/e2e/output_commit.sh with $TRIALS trials, here over"
	echo "$JOBS VM(s) side by side, \`SOAK_JOBS=$JOBS\`). Each trial starts a backup"
	echo "and a primary with the demo guest sending its counter to a client through"
	echo "the buffered path, kills the primary host (daemon, guest, uplink) at a"
	echo "random moment (odd trials) or at a protocol phase via REMUS_FAULT (even"
	echo "trials: pause, send, sent, ack, release, in turn), and checks the"
	echo "client's view against the restored guest's committed counter."
	echo
	echo "| run started | commit | wall time | trials passed | trials failed | of which rollbacks seen |"
	echo "| --- | --- | --- | --- | --- | --- |"
	echo "| $start | $(git rev-parse --short HEAD 2>/dev/null) | $(( (t1 - t0) / 60 )) min | $pass | $fail | $viol |"
	echo
	echo "Harness exit status: $rc. Failed trials, if any:"
	echo
	# shellcheck disable=SC2086
	cat $taps 2>/dev/null | grep -A8 '^# not ok [0-9]* trial' | sed 's/^# //; s/^/    /' | head -n 200
} >bench/soak/results.md
cat bench/soak/results.md
exit "$rc"
