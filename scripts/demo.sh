#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make demo: selftests/demo/demo.sh, here if this kernel has remus.ko
# loaded already, else inside the test VM with its story shown live.
# Never loads a module on this machine.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1
O=${O:-build}

if [ "$(id -u)" = 0 ] && "$O/remusctl" net show >/dev/null 2>&1; then
	echo "remus.ko is loaded here: running the demo on this machine"
	E2E_BIN=$ROOT/$O/selftests/e2e exec selftests/demo/demo.sh
fi

echo "This kernel has no remus.ko loaded: the demo runs in the test VM (qemu, TCG; about a minute)."
WORK=$O/demo-vm
rm -rf "$WORK"
mkdir -p "$WORK"
VMTEST_DIR=$WORK selftests/vm/run.sh -q demo >"$WORK/run.log" 2>&1 &
RUN=$!
# The VM's console, live: the demo's own lines only.
(
	while [ ! -e "$WORK/console.1.log" ] && kill -0 "$RUN" 2>/dev/null; do
		sleep 0.2
	done
	exec tail -n +1 -F "$WORK/console.1.log" 2>/dev/null
) | sed -u -n 's/\r$//; s/^demo| //p' &
TAIL=$!
wait "$RUN"
RC=$?
sleep 0.5
kill "$TAIL" 2>/dev/null
pkill -P "$TAIL" 2>/dev/null
wait "$TAIL" 2>/dev/null
if [ "$RC" != 0 ]; then
	echo "the demo failed; the VM's log is in $WORK/ (run.log, console.log)"
	tail -n 20 "$WORK/run.log"
fi
exit "$RC"
