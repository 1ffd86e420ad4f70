#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Boot Xen + dom0 in qemu TCG and run one scenario from /init.
#   run.sh [-t SECONDS] [-n] SCENARIO [ARG...]
# -t bounds the whole run (default 600), -n skips the rebuild.
# Logs go to build/xen/logs/SCENARIO/{console,tap}.log; TAP is echoed.
# Exit 0 only when the end marker says OK and no test failed.
set -eu
. "$(dirname "$0")/lib.sh"

limit=600 rebuild=1
while getopts t:n o; do
	case $o in
	t) limit=$OPTARG ;;
	n) rebuild=0 ;;
	*) echo "usage: run.sh [-t SECONDS] [-n] SCENARIO [ARG...]" >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
[ $# -ge 1 ] || { echo "usage: run.sh [-t SECONDS] [-n] SCENARIO [ARG...]" >&2; exit 2; }
scenario=$1; shift
args=$(IFS=:; echo "$*")
# XT_GUEST_MEM, XT_GUEST_PERIOD, XT_INTERVAL, XT_HOTPLUG reach the scenario via xt.env=.
env=
for v in XT_GUEST_MEM XT_GUEST_PERIOD XT_INTERVAL XT_HOTPLUG XT_SUSPEND_CYCLES XT_FAIL_AFTER_CKPT_MS XT_GUEST_NODISK \
	XT_NOBUF XT_HEARTBEAT XT_TIMEOUT XT_COMPRESS XT_PIPELINE XT_NODM XT_DOM0_HOG XT_XEN_DELTA XT_MALLOC XT_POSTMORTEM; do
	[ -n "${!v:-}" ] && env="$env${env:+;}$v=${!v}"
done

[ $rebuild -eq 0 ] || "$XT_SRC/build.sh" >/dev/null
[ -x "$XT_SRC/scenarios/$scenario.sh" ] || xt_die "no scenario $scenario"

logs=$XT_OUT/logs/${XT_LOGNAME:-$scenario}
mkdir -p "$logs"
: >"$logs/console.log"
: >"$logs/tap.log"

# One nested Xen at a time on this machine, whatever XT_OUT each run builds in.
lock=${XT_LOCK:-$XT_TOP/build/xen/.qemu.lock}
mkdir -p "$(dirname "$lock")"
exec 9>"$lock"
flock -w "$limit" 9 || xt_die "another test VM holds $lock"

xen_args="console=com1 com1=115200 dom0_mem=1024M,max:1024M loglvl=all guest_loglvl=all noreboot ${XT_XEN_ARGS:-}"
dom0_args="console=hvc0 earlyprintk=xen ${XT_DOM0_ARGS:-quiet} 8250.nr_uarts=2 xt.scenario=$scenario${args:+ xt.args=$args}${env:+ xt.env=$env}"
# A comma inside a module's command line must be doubled for qemu.
dom0_args=${dom0_args//,/,,}

start=$(date +%s.%N)
# XT_ACCEL overrides the accelerator, e.g. tcg,thread=single (one host
# thread runs both vCPUs in turn instead of one thread each).
timeout --kill-after=5 "$limit" qemu-system-x86_64 -accel "${XT_ACCEL:-tcg}" -cpu qemu64,+svm,+npt \
	-m 3072 -smp 2 -nodefaults -no-user-config -display none -monitor none -no-reboot \
	-serial "file:$logs/console.log" -serial "file:$logs/tap.log" \
	-kernel "$XT_OUT/xen" -append "$xen_args" \
	-initrd "$XT_OUT/vmlinux $dom0_args,$XT_OUT/dom0.cpio" &
qemu=$!
trap 'kill $qemu 2>/dev/null || true' EXIT

# Xen may halt rather than power off: stop qemu ourselves at the marker.
while kill -0 $qemu 2>/dev/null; do
	grep -q '^XT-END' "$logs/tap.log" && break
	sleep 0.5
done
sleep 0.5
kill $qemu 2>/dev/null || true
wait $qemu 2>/dev/null || true
trap - EXIT
end=$(date +%s.%N)

tr -d '\r' <"$logs/tap.log" >"$logs/tap.txt"
cat "$logs/tap.txt"
printf '# wall %.1f s\n' "$(echo "$end - $start" | bc)"
if ! grep -q '^XT-END' "$logs/tap.txt"; then
	echo "# no end marker (timeout ${limit}s, crash or hang): tail of the console:"
	tail -n 30 "$logs/console.log" | tr -d '\r' | sed 's/^/# | /'
	exit 1
fi
grep -q '^XT-END-OK' "$logs/tap.txt" && ! grep '^not ok' "$logs/tap.txt" | grep -vq '# TODO'
