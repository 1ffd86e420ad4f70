#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# bench/disk/run.sh: the disk benchmark (bench/disk/bench.sh with fio and
# bench/disk/diskdrain.c) in the test VM, one boot, and its table into
# bench/disk/results.md with the date, the host and the command.
#
# Like bench/net/run.sh it boots the VM through the selftests harness from
# a private root whose only suite is the benchmark. TCG numbers: compare
# the ratios, not the absolute rates.
#
# Environment: O (build dir, default build), REMUS_KO (default ./remus.ko),
# VMTEST_MEM (MiB, default 2048), SIZE_MB (fio's sequential size, 96),
# ROUNDS (3), KVER.
set -eu -o pipefail
cd "$(dirname "$0")/../.."
TOP=$PWD
O=$(realpath -m "${O:-build}")

WORK=$O/vmtest-bench-disk
S=diskbench
# "report": only format the last run's results (from its TAP stream).
if [ "${1:-}" != report ]; then
make --no-print-directory module >/dev/null
make --no-print-directory O="$O" "$O/libremus.a" >/dev/null
mkdir -p "$O/bench/disk"
# shellcheck disable=SC2046
${CC:-cc} -std=gnu11 -O2 -g -D_GNU_SOURCE -Wall -Wextra \
	-Iinclude/uapi -Ilib -o "$O/bench/disk/diskdrain" \
	bench/disk/diskdrain.c "$O/libremus.a" $(pkg-config --libs libmnl)

R=$O/bench/disk/root
rm -rf "$R" "$O/selftests/$S"
mkdir -p "$R/selftests/$S" "$O/selftests/$S"
for p in selftests/vm selftests/lib selftests/config scripts; do
	ln -s "$TOP/$p" "$R/$p"
done
cat >"$R/selftests/$S/vm.tests" <<EOT
# written by bench/disk/run.sh
ci no
timeout 1800
needs remus.ko
modules dm-mod loop
binaries /usr/sbin/dmsetup /usr/sbin/losetup /usr/bin/fio
test bench
EOT
cat >"$O/selftests/$S/bench" <<EOT
#!/bin/sh
SIZE_MB=${SIZE_MB:-96} ROUNDS=${ROUNDS:-3} exec "\$SUITE_DIR/bench.sh"
EOT
chmod +x "$O/selftests/$S/bench"
cp bench/disk/bench.sh "$O/selftests/$S/bench.sh"
cp "$O/bench/disk/diskdrain" "$O/selftests/$S/diskdrain"

O=$O REMUS_KO=${REMUS_KO:-$TOP/remus.ko} VMTEST_DIR=$WORK \
	VMTEST_MEM=${VMTEST_MEM:-2048} "$R/selftests/vm/run.sh" $S:bench || {
	echo "bench/disk/run.sh: the benchmark failed; see $WORK/results/$S/bench.log" >&2
	exit 1
}
fi

# The benchmark's own lines, from the raw stream (the per-test log is
# only written when the harness finishes cleanly).
log=$WORK/bench.lines
sed -n 's/^# \(RESULT\|DRAIN\|# SIZE_MB\)/\1/p' "$WORK/tap.txt" >"$log"
grep -q '^RESULT ' "$log" || {
	echo "bench/disk/run.sh: no results in $WORK/tap.txt" >&2
	exit 1
}
out=bench/disk/results.md
{
	echo "# Disk buffer: remus target against dm-linear"
	echo
	echo "Made by \`bench/disk/run.sh\` on $(date -u +%Y-%m-%d), in the test VM:"
	echo "Debian's kernel $(sed -n 's/.*kernel \([^,]*\),.*/\1/p' "$WORK/tap.txt" | head -n 1)"
	echo "under qemu $("${QEMU:-qemu-system-x86_64}" --version | sed -n '1s/.*version \([^ ]*\).*/\1/p')" \
		"TCG (no KVM), one vCPU, ${VMTEST_MEM:-2048} MiB, on a host"
	echo "\"$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)\"."
	echo "Emulation makes every absolute number small and noisy; the ratios,"
	echo "measured on the same loop file in the same boot, are the result."
	echo "The host was shared (load average $(cut -d' ' -f1-3 /proc/loadavg) on"
	echo "$(nproc) CPUs when this was written): rounds vary by several times, see"
	echo "the seconds per round below; rounds are interleaved so that every"
	echo "target sees the same mix of load."
	echo
	echo "Each target sits on one loop device backed by a tmpfs file (pre-filled,"
	echo "so no run pays for first-touch allocation). fio writes with O_DIRECT,"
	echo "psync, queue depth 1: sequential 256 KiB writes for throughput, random"
	echo "4 KiB writes for latency. The daemon's part runs beside fio on the same"
	echo "vCPU (bench/disk/diskdrain.c): in replicate mode it reads the write log"
	echo "as it fills, closes an epoch every 25 ms and commits each epoch once its"
	echo "barrier record is read; in buffer mode it closes and commits an epoch"
	echo "every 25 ms. stage-commit is the backup's side: the log the replicate"
	echo "run produced, written into a stage disk on the same loop file and"
	echo "committed epoch by epoch; its rate is data bytes applied per second."
	echo "The median of the rounds; ratio is against dm-linear's throughput."
	echo
	echo "| target | MB/s | ratio | 4k write mean us | 4k write p99 us |"
	echo "| --- | ---: | ---: | ---: | ---: |"
	awk '/^RESULT / { printf "| %s | %s | %s | %s | %s |\n", $2, $3, $4, ($5 + 0 ? $5 : "-"), ($6 + 0 ? $6 : "-") }' "$log"
	echo
	echo "The daemon side of each run (drain: bytes of log read, records, max"
	echo "bytes in the log at a time against its limit, writers that waited):"
	echo
	echo '```'
	sed -n 's/^DRAIN //p' "$log"
	sed -n 's/^# SIZE_MB/SIZE_MB/p' "$log"
	echo '```'
	echo
	echo "Reproduce: \`make module && bench/disk/run.sh\` (SIZE_MB=, ROUNDS= to"
	echo "change the sizes)."
} >"$out"
cat "$out"
