#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The disk benchmark, inside the test VM (bench/disk/run.sh boots it):
# fio writes to one loop file on tmpfs through dm-linear, and through the
# remus target in replicate mode (diskdrain reads the log as it fills and
# closes an epoch every 25 ms), in buffer mode (barrier + commit every
# 25 ms) and the backup's side, stage-commit (the replicate run's log
# written into a stage disk and committed epoch by epoch). Sequential
# throughput (256 KiB direct writes) and 4 KiB random write latency (qd 1);
# ROUNDS rounds, interleaved, the median of each.
set -u
export DM_DISABLE_UDEV=1
DMSETUP="/usr/sbin/dmsetup --noudevsync"
DIR=$(dirname "$0")
DRAIN=$DIR/diskdrain
SIZE_MB=${SIZE_MB:-96}
ROUNDS=${ROUNDS:-3}
MS=25

truncate -s $((SIZE_MB + 32))M /tmp/bench.img
LOOP=$(/usr/sbin/losetup -f --show /tmp/bench.img)
SZ=$(blockdev --getsz "$LOOP")
# every run overwrites allocated tmpfs pages, none pays for first touch
dd if=/dev/zero of="$LOOP" bs=1M oflag=direct 2>/dev/null

# fio_run DEV seq|rand: "bw_MBps lat_mean_us lat_p99_us" of the write side
fio_run()
{
	if [ "$2" = seq ]; then
		set -- "$1" --rw=write --bs=256k --size=${SIZE_MB}M
	else
		set -- "$1" --rw=randwrite --bs=4k --size=8M
	fi
	dev=$1
	shift
	fio --name=b --filename="$dev" --direct=1 --ioengine=psync \
		--iodepth=1 --output-format=terse --terse-version=3 "$@" \
		2>/dev/null | awk -F';' '{
		p99 = 0
		for (i = 59; i <= 78; i++) if ($i ~ /^99\.000000%=/) {
			split($i, a, "="); p99 = a[2] }
		printf "%.1f %.1f %s\n", $48 / 1024, $57, p99 }'
}

make_dev()	# NAME TABLE-TAIL
{
	echo "0 $SZ $2" | $DMSETUP create "$1"
}

run_one()	# CONFIG ROUND
{
	case $1 in
	linear)
		make_dev bl "linear $LOOP 0"
		fio_run /dev/mapper/bl seq >>"seq.linear"
		fio_run /dev/mapper/bl rand >>"rand.linear"
		$DMSETUP remove bl
		;;
	replicate)
		make_dev br "remus $LOOP replicate"
		"$DRAIN" replicate br $MS /tmp/rep.log >drain.out &
		d=$!
		fio_run /dev/mapper/br seq >>"seq.replicate"
		kill -TERM $d
		wait $d
		echo "round $2: $(cat drain.out)" >>drain.replicate
		# the stage side: the same log into a stage disk
		$DMSETUP remove br
		make_dev bs "remus $LOOP stage limit=1073741824"
		"$DRAIN" stage bs /tmp/rep.log >stage.out || cat stage.out
		awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^MBps=/) {
			sub(/MBps=/, "", $i); print $i, 0, 0 } }' stage.out \
			>>"seq.stage-commit"
		echo "round $2: $(cat stage.out)" >>drain.stage
		$DMSETUP remove bs
		rm -f /tmp/rep.log
		make_dev br "remus $LOOP replicate"

		"$DRAIN" replicate br $MS >/dev/null &
		d=$!
		fio_run /dev/mapper/br rand >>"rand.replicate"
		kill -TERM $d
		wait $d
		$DMSETUP remove br
		;;
	buffer)
		make_dev bb "remus $LOOP buffer"
		"$DRAIN" commit bb $MS >drain.out &
		d=$!
		fio_run /dev/mapper/bb seq >>"seq.buffer"
		kill -TERM $d
		wait $d
		echo "round $2: $(cat drain.out)" >>drain.buffer
		"$DRAIN" commit bb $MS >/dev/null &
		d=$!
		fio_run /dev/mapper/bb rand >>"rand.buffer"
		kill -TERM $d
		wait $d
		$DMSETUP remove bb
		;;
	esac
}

r=1
while [ $r -le "$ROUNDS" ]; do
	for c in linear replicate buffer; do
		run_one $c $r
	done
	r=$((r + 1))
done

median()	# FILE COLUMN
{
	[ -s "$1" ] || { echo 0; return; }
	sort -n -k"$2" "$1" | awk -v c="$2" '{ v[NR] = $c }
		END { print v[int((NR + 1) / 2)] }'
}

lin=$(median seq.linear 1)
echo "# SIZE_MB=$SIZE_MB ROUNDS=$ROUNDS epoch=${MS}ms"
for c in linear replicate stage-commit buffer; do
	bw=$(median "seq.$c" 1)
	mean=$(median "rand.$c" 2)
	p99=$(median "rand.$c" 3)
	echo "RESULT $c $bw $(awk -v a="$bw" -v b="$lin" 'BEGIN { printf "%.2f", b ? a / b : 0 }') ${mean:-0} ${p99:-0}"
done
for f in drain.replicate drain.stage drain.buffer; do
	sed "s/^/DRAIN ${f#drain.} /" "$f"
done
$DMSETUP remove_all
/usr/sbin/losetup -d "$LOOP"
echo "ok"
