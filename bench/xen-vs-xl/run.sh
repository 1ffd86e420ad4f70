#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Reproduce the Xen baseline: `xl remus` as Debian ships it against the
# save-loop prototype and remusd, each case in its own nested Xen boot
# (qemu TCG).
#   bench/xen-vs-xl/run.sh [CASE...]
# Cases (default: all, about 10-20 minutes each on a 2-core host):
#   xl-destroy xl-kill xl-linkcut xl-rollback xsave-boundary xsave-kill suspend
#   remusd-destroy remusd-kill remusd-linkcut remusd-nobuf
# remusd-*: scenarios/remusd.sh (remusd primary + backup, vif buffered,
# disk on the remus target, interval 200 ms, heartbeat 500 ms, timeout
# 5 s: XT_INTERVAL, XT_HEARTBEAT, XT_TIMEOUT in ms change them, for the
# xl cases too where they apply); remusd-nobuf is remusd-kill without
# output buffering.
# XT_OUT and XT_PROJECT (selftests/xen/build.sh) pick the test bed and
# the project binaries.
# xl-rollback is xl-kill with a guest counting every 2 ms without disk writes, a 1 s interval,
# striking 500 ms after a
# checkpoint arrives, so the guest has talked since its last checkpoint.
# Every case's TAP and measurements go to build/xen/logs/<case>/; the
# RESULT lines of all cases are collected in build/xen/bench-results.txt.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
run=$top/selftests/xen/run.sh
xt_out=${XT_OUT:-$top/build/xen}
out=$xt_out/bench-results.txt
cases=${*:-xl-destroy xl-kill xl-linkcut xl-rollback xsave-boundary xsave-kill suspend remusd-destroy remusd-kill remusd-linkcut remusd-nobuf}
limit=${XT_CASE_LIMIT:-1800}

"$top/selftests/xen/build.sh" >/dev/null || exit 1
: >"$out"
pass=0 fail=0
for c in $cases; do
	envs=
	case $c in
	xl-rollback) set -- xlremus kill 30 300; envs="XT_GUEST_NODISK=1 XT_GUEST_PERIOD=2 XT_INTERVAL=1000 XT_FAIL_AFTER_CKPT_MS=500" ;;
	xsave-boundary) set -- xsave boundary 40; envs="XT_SUSPEND_CYCLES=100" ;;
	xl-destroy) set -- xlremus destroy 40 300 ;;
	xl-kill) set -- xlremus kill 40 300 ;;
	xl-linkcut) set -- xlremus linkcut 40 120 ;;
	xsave-kill) set -- xsave kill 20 ;;
	suspend) set -- suspend 200 50 ;;
	remusd-destroy) set -- remusd destroy 40 300 ;;
	remusd-kill) set -- remusd kill 40 300 ;;
	remusd-linkcut) set -- remusd linkcut 40 300 ;;
	remusd-nobuf) set -- remusd kill 40 300; envs="XT_NOBUF=1" ;;
	*) echo "unknown case $c" >&2; exit 2 ;;
	esac
	echo "== $c: $*"
	# shellcheck disable=SC2086
	if env $envs XT_LOGNAME=$c "$run" -n -t "$limit" "$@" >/dev/null; then
		pass=$((pass + 1)); st=ok
	else
		fail=$((fail + 1)); st=FAILED
	fi
	tap=$xt_out/logs/$c/tap.txt
	{
		echo "== $c ($st) $(date -u +%FT%TZ) load: $(cut -d' ' -f1-3 /proc/loadavg)"
		grep -E '^(ok|not ok|# RESULT|RESULT-TABLE|# wall)' "$tap"
	} | tee -a "$out"
done
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
