#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# bench/engine/run.sh [quick]: the epoch engine's benchmarks (issue 4), all
# of them, into bench/engine/results.md and bench/engine/*.png; `make bench`
# runs it. Each benchmark is a subcommand of bench/engine's engbench (see
# the header of each .c file for what it measures and how):
#
#   1 pause     pause vs dirty pages (1..65536) and guest size (64 MiB..1 GiB)
#               against the floor measured in the same epochs; PAGEMAP_SCAN
#               here, soft-dirty in the test VM (selftests/vm/run.sh, a private
#               root whose only suite is this benchmark, manifest "ci no")
#   2 rate      sustained checkpoints/s, 1000 dirty pages, 64 MiB, 1 ms,
#               real backup (remus_backup_run + proc sink) over loopback
#   3 tput      guest writes/s protected at 25 ms vs unprotected
#   4           commit latency (commit_ns - send_ns), from 2's runs
#   5 codec     compression of the demo guest's real checkpoints per scheme,
#               and bench/compress's synthetic sparse workload
#   6 failover  remusd pair on loopback: kill -9 (EOF) and SIGSTOP (silence)
#
# Environment: O (build dir, default build), NO_VM=1 (skip the VM run),
# VM_SIZES (default 64M,256M,1G), KVER, VMTEST_MEM (default 4096).
# "quick" shrinks every benchmark to check the script itself.
set -eu -o pipefail
cd "$(dirname "$0")/../.."
TOP=$PWD
O=$(realpath -m "${O:-build}")
MODE=${1:-full}
HERE=bench/engine
D=$O/bench/engine/out
B=$O/bench/engine/engbench

make --no-print-directory O="$O" bench-engine >/dev/null
[ -n "${ONLY:-}" ] || [ "$MODE" = report ] || rm -rf "$D"
mkdir -p "$D"

if [ "$MODE" = quick ]; then
	P_ARGS="-s 64M -n 1,1000 -e 5"
	SPLIT_ARGS="-s 64M -n 1000 -e 5"
	R_SECS=1 T_ARGS="-t 1 -r 1" C_EPOCHS=10 F_REPS=1
	VM_ARGS="-s 64M -n 1,1000 -e 5"
else
	P_ARGS="-s 64M,256M,1G -n 1,16,256,1000,4096,16384,65536 -e 15"
	SPLIT_ARGS="-s 64M,256M,1G -n 1000 -e 15"
	R_SECS=5 T_ARGS="-t 3 -r 3" C_EPOCHS=80 F_REPS=10
	VM_ARGS="-s ${VM_SIZES:-64M,256M,1G} -n 1,16,256,1000,4096,16384,65536 -e 10"
fi
say() {
	echo "bench/engine: $*" >&2
	[ "$MODE" = report ] || echo "$(date -u +%H:%M:%S) load $(cut -d' ' -f1-3 /proc/loadavg): $*" >>"$D/steps.log"
}
# ONLY=pause,vm,rate,tput,codec,failover runs a subset (and no results.md);
# "report" runs no benchmark: results.md from the data of the last run in $D
if [ "$MODE" = report ]; then ONLY=none; fi
want() { [ -z "${ONLY:-}" ] || [[ ",$ONLY," == *",$1,"* ]]; }

# --- 1: pause --------------------------------------------------------
if want pause; then
say "1: pause vs dirty pages and guest size (PAGEMAP_SCAN, this host)"
# shellcheck disable=SC2086
"$B" pause -m auto $P_ARGS -M plain,precopy -o "$D/pause.tsv" >"$D/pause.md"
# shellcheck disable=SC2086
"$B" pause -m auto $SPLIT_ARGS -M split -o "$D/split.tsv" | tail -n +3 >"$D/split.md"
fi

vm_status="not run (NO_VM=1)"
if [ -z "${NO_VM:-}" ] && want vm; then
	say "1: soft-dirty in the test VM"
	R=$O/bench/engine/vmroot
	rm -rf "$R"
	mkdir -p "$R/selftests/enginebench" "$O/selftests/enginebench"
	for p in selftests/vm selftests/lib selftests/config scripts; do
		ln -s "$TOP/$p" "$R/$p"
	done
	cat >"$R/selftests/enginebench/vm.tests" <<EOT
# written by bench/engine/run.sh: the engine's pause with soft-dirty
ci no
timeout 3000
test enginebench
EOT
	cat >"$O/selftests/enginebench/enginebench" <<EOT
#!/bin/sh
echo "TAP version 13"
echo "1..1"
if "\$SUITE_DIR/engbench" pause -m soft-dirty $VM_ARGS -M plain -o pause.tsv >pause.md; then
	echo "# --- table"; cat pause.md | sed 's/^/# /'
	echo "# --- data"; sed 's/^/# /' pause.tsv
	echo "ok 1 enginebench"
else
	echo "not ok 1 enginebench"
fi
EOT
	chmod +x "$O/selftests/enginebench/enginebench"
	cp "$B" "$O/selftests/enginebench/engbench"
	WORK=$O/vmtest-bench-engine
	# The run's TAP stream has the table even if the harness itself
	# stumbles afterwards; the test's "ok" is what counts.
	O=$O REMUS_KO= REMUS_KO_PROBLEM="not needed" VMTEST_DIR=$WORK \
		VMTEST_MEM=${VMTEST_MEM:-4096} VMTEST_REBOOTS=0 \
		timeout 3600 "$R/selftests/vm/run.sh" -q enginebench:enginebench >"$D/vm.out" 2>&1 || true
	tap=$WORK/tap.txt
	if grep -q '^# ok 1 enginebench' "$tap" 2>/dev/null; then
		sed -n '/^# # --- table/,/^# # --- data/p' "$tap" | sed '1d;$d' | sed 's/^# # //' >"$D/pause-vm.md"
		sed -n '/^# # --- data/,/^# ok 1 enginebench/p' "$tap" | sed '1d;$d' | sed 's/^# # //' >"$D/pause-vm.tsv"
		echo "Debian's kernel $(sed -n 's/^# remus-vmtest: kernel \([^,]*\),.*/\1/p' "$tap" | head -n 1) under qemu TCG, one vCPU, ${VMTEST_MEM:-4096} MiB" >"$D/vm.status"
	else
		echo "failed: see $WORK and $D/vm.out" >"$D/vm.status"
		say "the VM run failed: $D/vm.out"
	fi
fi
[ -s "$D/vm.status" ] && vm_status=$(cat "$D/vm.status")

# --- 2 and 4: rate and commit latency ----------------------------------
if want rate; then
say "2, 4: checkpoint rate and commit latency on loopback"
: >"$D/rate.md"
for cfg in "xor+lz4 1000 1" "raw 1000 1" "xor+lz4 1000 2" "xor+lz4 25000 1" "raw 25000 1"; do
	# shellcheck disable=SC2086
	set -- $cfg
	"$B" rate -c "$1" -i "$2" -p "$3" -n 1000 -s 64M -t "$R_SECS" -o "$D/rate.tsv" >>"$D/rate.md"
done
fi

# --- 3: guest throughput ---------------------------------------------
if want tput; then
say "3: guest throughput, protected at 25 ms vs unprotected"
# shellcheck disable=SC2086
"$B" tput -s 64M -w 16,1000,16383 -i 25000 $T_ARGS -o "$D/tput.tsv" >"$D/tput.md"
fi

# --- 5: compression ----------------------------------------------------
if want codec; then
say "5: compression on the demo guest's checkpoints, and bench/compress"
for d in 16 256; do
	"$B" codec -g "$O/demo-guest" -d "$d" -e "$C_EPOCHS" -o "$D/codec.tsv" >"$D/codec.md.$d"
done
bc_bin=$O/bench/engine/bench_compress
# shellcheck disable=SC2046
${CC:-cc} -std=gnu11 -O2 -g -D_GNU_SOURCE -Wall -Wextra -Ilib \
	$(pkg-config --cflags libsodium) -o "$bc_bin" bench/compress/bench_compress.c \
	lib/wire.c lib/wire_body.c lib/wire_batch.c lib/compress.c lib/delta.c \
	$(pkg-config --libs libsodium zlib liblz4 libzstd)
if [ "$MODE" = quick ]; then "$bc_bin" -t 0.1 >"$D/compress.md"; else "$bc_bin" -t 0.5 >"$D/compress.md"; fi
fi

# --- 6: failover -------------------------------------------------------
if want failover; then
say "6: failover"
: >"$D/failover.md"
"$B" failover -d "$O/remusd" -g "$O/demo-guest" -s 8M -H 100 -T 300 -r "$F_REPS" -m eof,silent -o "$D/failover.tsv" >>"$D/failover.md"
"$B" failover -d "$O/remusd" -g "$O/demo-guest" -s 64M -H 100 -T 300 -r 3 -m eof -o "$D/failover64.tsv" >>"$D/failover.md"
"$B" failover -d "$O/remusd" -g "$O/demo-guest" -s 64M -H 100 -T 1000 -r "$F_REPS" -m eof,silent -o "$D/failover64.tsv" >>"$D/failover.md"
fi
if [ -n "${ONLY:-}" ] && [ "$MODE" != report ]; then
	say "ONLY=$ONLY: results in $D, results.md left alone"
	exit 0
fi

# --- plots -------------------------------------------------------------
say "plots"
gnuplot -e "data='$D/pause.tsv'; out='$HERE/pause.png'; ttl='PAGEMAP_SCAN (host kernel $(uname -r))'" $HERE/pause.gp
if [ -s "$D/pause-vm.tsv" ]; then
	gnuplot -e "data='$D/pause-vm.tsv'; out='$HERE/pause-softdirty.png'; ttl='soft-dirty (test VM, TCG)'" $HERE/pause.gp
fi
gnuplot -e "data='$D/failover.tsv'; data64='$D/failover64.tsv'; out='$HERE/failover.png'" $HERE/failover.gp

# --- results.md --------------------------------------------------------
out=$HERE/results.md
# the run's raw data travels with the results
rm -rf "$HERE/data"
mkdir -p "$HERE/data"
cp "$D"/*.tsv "$D"/*.md "$D"/*.md.* "$D/steps.log" "$HERE/data/" 2>/dev/null || true
# a tree without git (an export of a commit) names it in .bench-rev
rev=$(git rev-parse --short HEAD 2>/dev/null || cat .bench-rev 2>/dev/null || echo "an unknown commit")
dirty=$( (git status --porcelain -- lib daemon guest 2>/dev/null || true) | wc -l)
{
cat <<EOF
# Epoch engine benchmarks (issue 4)

Made by \`bench/engine/run.sh$( [ "$MODE" = report ] && echo "\` (the tables, as \`make bench\` runs it; this file rewritten from their data by \`bench/engine/run.sh report" || echo "${1:+ $1}")\` on $(date -u +%Y-%m-%d) at
$rev$( [ "$dirty" -gt 0 ] && echo " with $dirty uncommitted change(s) in lib/, daemon/, guest/ of the shared tree")$( [ -f .bench-rev ] && echo " (an export of that commit, git archive, with bench/engine added)"),
host kernel $(uname -r), "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)",
$(nproc) cores, shared with other engineers' VMs and builds. Raw data:
[data/](data/) (\`*.tsv\`, columns in each .c file's \`-o\` writer; the
tables as printed). When each step started, and the load average (1, 5,
15 min) then:

\`\`\`
$(cat "$D/steps.log" 2>/dev/null)
\`\`\`

**How to read the times.** The machine is shared and was fully busy:
wall-clock times of anything that has to be scheduled (stopping the guest,
waking a thread) are dominated by waiting for a CPU, not by the work. Where
that makes wall time meaningless the tables give CPU time as well: the
engine's epoch thread's CLOCK_THREAD_CPUTIME_ID for the pause, the
process's CLOCK_PROCESS_CPUTIME_ID per checkpoint for the engine, the backup
and the guest. Targets are judged on what the tables say they are judged
on. The floor is measured in the same epochs as the pause it is compared
with, and in the same unit.

$(cat $HERE/diagnosis.md)

## 1. Pause vs dirty pages and guest size

The engine runs for real (\`remus_start\`, blackhole, pipeline 1) over the
library's proc backend as remusd opens it, wrapped so that before each
suspend the guest writes exactly N distinct random pages (one word each) and
the floor is measured: the kernel's scan alone (PAGEMAP_SCAN without
re-protecting; soft-dirty: the pagemap read without clear_refs) plus a
memcpy of the same N pages between warm buffers. Pause = the engine's
\`pause_ns\` (suspend + barrier + copy + resume) less the harness's own work
before the real stop. Target: pause <= 1.5 x floor + 100 us (judged on CPU
time, p50). "plain": the engine with \`info.precopy = false\`, everything
copied in the pause. "precopy": the engine's own pre-copy (ffb655e,
\`info.precopy\`, remusd's default): the guest writes 90 % of the epoch's
pages, the engine harvests and copies them while it runs, the guest writes
the last 10 % (new pages), the pause takes those; the interval is 20 ms +
100 us a page so that checkpoints are on time, and only the epochs where
the engine did pre-copy are counted (how many: last but one column); its
floor is measured just before the pre-copy (scan of the 90 % written then,
memcpy of all N). p50 / p99 over 15 epochs per row.

![pause](pause.png)

$(sed 's/| 0 \/ 0 us | 0 us | 0.0 | 0 \/ 0 us | 0 us (0 + 0) | 0.00 \/ 0.00 | met | 0 \/ 0 \/ 0 | 0 us, 0 pages (0 of \([0-9]*\) epochs) | |/| no epoch of \1 pre-copied | | | | | | | | (0 of \1 epochs) | |/' "$D/pause.md")

A precopy row's own floor is measured inside the pre-copy callback, right
after the guest's writes and on fewer epochs; judge its pause against the
plain row's floor above it as well (the diagnosis does).

Where the time of plain's copy goes (the same calls as the proc backend's
copy, made by the harness to time them apart; wall, p50):

| method | guest | dirty pages | mode | pause wall p50 / p99 | | | pause CPU p50 / p99 | | | | suspend / copy (harvest, read) / resume | | |
| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: |
$(cat "$D/split.md")

### Soft-dirty, in the test VM

$vm_status. TCG emulation: absolute numbers are slow and only the ratio to
the floor, measured in the same epochs, means anything. The VM run is
\`engbench pause -m soft-dirty $VM_ARGS -M plain\` through
\`selftests/vm/run.sh\` (a private root whose one suite, manifest \`ci no\`,
is this benchmark). Soft-dirty refuses a pre-copy (read-then-clear
loses writes made in between), so there is no pre-copy row.

$( [ -s "$D/pause-vm.md" ] && cat "$D/pause-vm.md" || echo "(no VM table: $vm_status)")
$( [ -s "$D/pause-vm.tsv" ] && echo && echo "![pause, soft-dirty](pause-softdirty.png)")

## 2 and 4. Sustained checkpoint rate, commit latency

64 MiB guest, 1000 dirty pages an epoch, primary engine against
\`remus_backup_run\` + the proc sink in a child process over loopback TCP,
Poly1305-keyed, for ${R_SECS} s after a second of warm-up. The guest writes
the next epoch's pages as soon as it is resumed (while the engine sends and
waits for the ack); "guest wait" is how long the next suspend then waited for
it to finish. CPU per checkpoint: the primary process (engine threads), the
backup process, the guest (its 1000 first writes to write-protected pages).
"Bound" = 1e6 / (primary + backup CPU): the rate the engine's own work
allows on an otherwise idle machine with pipeline 1. Commit latency =
\`commit_ns - send_ns\` (barrier to release, less the send), split into
copy + resume (still in the pause), the queue to the sender, and the ack
(backup receives the tail, commits, acks). Targets: >= 200 checkpoints/s;
commit - send <= 1 ms. Times in us, p50 / p99.

| scheme | interval | pipeline | dirty pages | checkpoints/s (wall) | cycle | CPU us/ckpt: primary | backup | guest | bound by engine CPU (/s) | pause | send | ack | commit - send | = copy+resume + queue + ack (p50) | guest wait | wire ratio (bytes/ckpt) |
| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | --- |
$(cat "$D/rate.md")

## 3. Guest throughput, protected at 25 ms vs unprotected

A guest that writes one word to a random page of a working set, as fast as
it can, counted in a shared page; windows of protection (checkpoints every
25 ms to a loopback backup, default lz4 + delta) alternate with unprotected
windows of the same length, $T_ARGS. Ratio = protected / unprotected writes
per second (median of the rounds, range), and the same per second of the
guest's own CPU time (what the tracking costs the guest itself, whatever the
machine's load). Target: >= 80 %.

| dirty tracking | working set | interval | unprotected writes/s | protected | protected / unprotected | per guest CPU-second | checkpoints/s | dirty pages/epoch | pause p50 | commit - send p50 |
| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |
$(cat "$D/tput.md")

## 5. Compression

On the demo guest's real checkpoints: \`build/demo-guest -d D\` (64 MiB,
a tick a millisecond, D pages stamped with the counter each tick) under the
engine, blackhole (framing, delta, codec and Poly1305 tags real, no
socket), 25 ms interval, $C_EPOCHS incremental checkpoints per scheme. From
the engine's per-epoch counters: ratio = raw_bytes / wire_bytes (frames,
tags and headers included); codec share = codec_ns / send_ns (time inside
the general compressor, after the delta); send MB/s = raw bytes / send_ns
(delta + codec + framing + tags, wall time of the sender thread); CPU = the
process's CPU time per incremental checkpoint (the pause included, the
first checkpoint excluded): the measure to compare schemes by on this busy
machine. Pages per checkpoint vary with how long each epoch really took. The first checkpoint (the whole region, mostly
never-written pages) apart. xor = the XOR + run-length delta against the
sender's page cache; raw = no compression negotiated.

| scheme | pages/ckpt | wire bytes/ckpt | wire bytes/page | ratio | codec share of send time | send MB/s (wall) | CPU ms/ckpt | first (full) ckpt: ratio | its send MB/s |
| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |
$(echo "| **demo-guest -d 16** (16 pages a tick) | | | | | | | | | |"; cat "$D/codec.md.16"; echo "| **demo-guest -d 256** | | | | | | | | | |"; cat "$D/codec.md.256")

Synthetic sparse updates, bench/compress/bench_compress (built from the
library's sources, one thread's CPU time), in the same run:

$(cat "$D/compress.md")

## 6. Failover time

Two remusd processes on loopback (\`remusd backup --heartbeat 100 --timeout
T\`, \`remusd primary\`, both keyed), the demo guest sending its counter to
this benchmark every millisecond. After 1.5 s of checkpoints, the primary's
process group (remusd and its guest) is killed with SIGKILL ("EOF": the
kernel closes the replication socket and the backup reads EOF at once) or
stopped with SIGSTOP ("silent": the socket stays open and is ACKed by the
kernel, nothing more arrives: what a cut link or a frozen host looks like
to the backup; a netns/iptables cut would look the same to it). Total =
kill to the first datagram from the restored guest (generation 1).
Detect = kill to the backup's "primary lost" line; restore = its "failing
over" line to that first datagram (image written, guest exec'd and
restored, handshake, first send). A trial whose healthy primary was declared
lost before the kill ("false alarms") is not a trial; see the diagnosis.
Target: <= 500 ms.

| case | guest | heartbeat / timeout | trials | false alarms | failed | total p50 | max | detect p50 | restore p50 | first datagram - "failed over" line | target |
| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |
$(cat "$D/failover.md")

![failover](failover.png)

## Reproduce

\`make bench\` (or \`make O=DIR bench\`, \`bench/engine/run.sh\`; \`quick\` for a
smoke run, \`NO_VM=1\` without the VM). One benchmark alone:
\`make O=DIR bench-engine\`, then \`DIR/bench/engine/engbench pause|rate|tput|codec|failover -h\`
(each .c file's header says what it measures). About 25 minutes on this
machine, the VM part included.
EOF
} >"$out"
say "wrote $out"
