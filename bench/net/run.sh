#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# bench/net/run.sh [quick]: the net benchmark (remus qdisc against sch_plug,
# bench/net/netbench.c) in the test VM, in one boot, and its table into
# bench/net/results.md with the date, the host and the command.
#
# It builds remus.ko and netbench, then boots the VM through the selftests
# harness (selftests/vm/run.sh) from a private root whose only suite is
# the benchmark, so that nothing of the CI suites runs or changes. The
# numbers are TCG numbers: compare the ratios, not the absolute rates.
#
# The guest's clock counts instructions (bench/net/qemu-icount: qemu
# -icount, 8 ns per instruction): the host's load does not enter the
# numbers, which are then near-deterministic costs. ICOUNT=0 measures in
# host time instead.
#
# Environment: O (build dir, default build), REMUS_KO (the module to
# measure, default ./remus.ko), ICOUNT (1), VMTEST_MEM (MiB, default
# 2048 here: a held 100k epoch plus its receive queue), KVER.
set -eu -o pipefail
cd "$(dirname "$0")/../.."
TOP=$PWD
O=$(realpath -m "${O:-build}")
MODE=${1:-full}

make --no-print-directory module >/dev/null
mkdir -p "$O/bench/net"
# shellcheck disable=SC2046
${CC:-cc} -std=gnu11 -O2 -g -D_GNU_SOURCE -Wall -Wextra -Wno-sign-compare \
	-Wno-missing-field-initializers -Iinclude/uapi -Iselftests/net \
	-o "$O/bench/net/netbench" bench/net/netbench.c \
	$(pkg-config --libs libmnl) -lpthread

# The private root: the harness, and one suite "netbench".
R=$O/bench/net/root
rm -rf "$R"
mkdir -p "$R/selftests/netbench" "$O/selftests/netbench"
for p in selftests/vm selftests/lib selftests/config scripts; do
	ln -s "$TOP/$p" "$R/$p"
done
cat >"$R/selftests/netbench/vm.tests" <<EOT
# written by bench/net/run.sh
ci no
timeout 1200
needs remus.ko
modules veth
test netbench
EOT
cat >"$O/selftests/netbench/netbench" <<EOT
#!/bin/sh
exec "\$SUITE_DIR/netbench.bin" $MODE
EOT
chmod +x "$O/selftests/netbench/netbench"
cp "$O/bench/net/netbench" "$O/selftests/netbench/netbench.bin"

WORK=$O/vmtest-bench-net
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
QEMU_RUN=${QEMU:-qemu-system-x86_64}
if [ "${ICOUNT:-1}" = 1 ]; then
	export QEMU_REAL=$QEMU_RUN
	QEMU_RUN=$TOP/bench/net/qemu-icount
fi
QEMU=$QEMU_RUN O=$O REMUS_KO=${REMUS_KO:-$TOP/remus.ko} VMTEST_DIR=$WORK VMTEST_MEM=${VMTEST_MEM:-2048} \
	"$R/selftests/vm/run.sh" netbench:netbench || {
	echo "bench/net/run.sh: the benchmark failed; see $WORK/results/netbench/netbench.log" >&2
	exit 1
}

log=$WORK/results/netbench/netbench.log
out=bench/net/results.md
{
	echo "# Network buffer: remus qdisc against sch_plug"
	echo
	echo "Made by \`bench/net/run.sh${1:+ $1}\`$([ "${ICOUNT:-1}" = 1 ] || echo " (ICOUNT=0)") on $(date -u +%Y-%m-%d), in the test VM:"
	echo "Debian's kernel $(sed -n 's/.*kernel \([^,]*\),.*/\1/p' "$WORK/tap.txt" | head -n 1)"
	echo "under qemu $("${QEMU:-qemu-system-x86_64}" --version | sed -n '1s/.*version \([^ ]*\).*/\1/p')" \
		"TCG (no KVM), one vCPU, ${VMTEST_MEM:-2048} MiB, on a host"
	echo "\"$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)\" with $(nproc) cores"
	echo "(load average $LOAD0 when it started, $(cut -d' ' -f1-3 /proc/loadavg) at the end)."
	if [ "${ICOUNT:-1}" = 1 ]; then
		echo "The guest's clock counts instructions (qemu -icount shift=3: 8 ns a"
		echo "guest instruction, bench/net/qemu-icount), so the host's load does not"
		echo "enter: times are instruction counts, and runs repeat within a few"
		echo "per cent. Absolute rates mean little; the ratios, measured on the"
		echo "same path in the same boot, are the result."
	else
		echo "Host time (ICOUNT=0): emulation makes every absolute number small and"
		echo "noisy; the ratios, measured on the same path in the same boot, are"
		echo "the result."
	fi
	echo
	echo "The path: UDP datagrams of $(sed -n 's/^#define PAYLOAD[[:space:]]*//p' bench/net/netbench.c) bytes from"
	echo "network namespace a through a veth pair to a receiver in namespace b,"
	echo "the qdisc under test at the root of the veth in a. Rates are taken"
	echo "from the release command to the kernel receive timestamp"
	echo "(SO_TIMESTAMPNS) of the last datagram. Both qdiscs are driven the"
	echo "way their clients drive them: remus by generic netlink (barrier N,"
	echo "release N), sch_plug by RTM_NEWQDISC (block, release), as"
	echo "\`tc qdisc change ... plug\` does."
	echo
	sed -n 's/^@ \{0,1\}//p' "$log"
	echo
	echo "Reading it: every sample of remus is taken next to one of sch_plug"
	echo "(and of pfifo), and each ratio is the median of the per-pair ratios."
	echo "Buffering beats pfifo in steady state here because it batches the"
	echo "receiver's wake-ups on one emulated CPU, not because it is cheaper."
	echo
	echo "Progress lines of that run:"
	echo
	echo '```'
	grep '^# \(burst\|steady\)' "$log" | sed 's/^# //'
	echo '```'
} >"$out"
cat "$out"
