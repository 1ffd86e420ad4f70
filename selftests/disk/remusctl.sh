#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# `remusctl disk`: show (text and -j), barrier, commit, discard, mode,
# role, limit, log and monitor on a remus target, each checked against
# what the target reports. Needs remusctl in the VM: $REMUSCTL, or next
# to this script, or /selftests/bin.

. "$(dirname "$0")/lib.sh"
need_remus_ko

CTL=
for c in "${REMUSCTL:-}" "$(dirname "$0")/remusctl" /selftests/bin/remusctl \
	 /usr/sbin/remusctl; do
	if [ -n "$c" ] && [ -x "$c" ]; then
		CTL=$c
		break
	fi
done
[ -n "$CTL" ] || tap_bail "remusctl is not in the VM (\$REMUSCTL, $(dirname "$0")/remusctl, /selftests/bin)"

tap_plan 18

LOOP=$(loop_new ctl 8) || tap_bail "no loop device"
remus_new rc "$LOOP" replicate limit=1048576 || tap_bail "no remus device"
DEV=$($DMSETUP info -c --noheadings -o major,minor --separator : rc)

tap_expect_match "show names the disk, its role and limit" \
	"^disk rc \\($DEV\\): replicate, mode buffer, 16384 sectors" \
	"$($CTL disk show rc 2>&1 | head -n 1)"
tap_expect_match "show by MAJOR:MINOR" "^disk rc " \
	"$($CTL disk show "$DEV" 2>&1 | head -n 1)"
tap_expect_match "show lists every disk" "^disk rc " \
	"$($CTL disk show 2>&1 | head -n 1)"
dd if=/dev/zero of=/dev/mapper/rc bs=4k count=3 oflag=direct 2>/dev/null
tap_check "barrier" $CTL disk barrier rc 3
tap_expect_match "show -j epochs" \
	'"role":"replicate".*"barrier":3,.*"queued_writes":3.*"epochs":\[\{"epoch":1,"writes":3,"bytes":12288\}' \
	"$($CTL -j disk show rc epochs 2>&1 | tr -d ' \n')"
tap_expect_match "barrier not above the last one is refused, with why" \
	"barrier epoch must be above the last barrier" \
	"$($CTL disk barrier rc 3 2>&1)"
tap_expect_eq "log shows the records, then the barrier" \
	"1 epoch 1 write 0+8
2 epoch 1 write 8+8
3 epoch 1 write 16+8
4 epoch 3 barrier" "$($CTL disk log rc count 4 2>&1)"
tap_check "commit" $CTL disk commit rc 3
tap_expect_match "commit of an open epoch is refused" "still open" \
	"$($CTL disk commit rc 4 2>&1)"
tap_check "limit" $CTL disk limit rc 65536
tap_expect_match "limit is visible" "used [0-9]*/65536b" \
	"$($CTL disk show rc 2>&1)"
tap_check "mode passthrough" $CTL disk mode rc passthrough
tap_check "discard" $CTL disk discard rc
tap_expect_match "the log says where writes went unlogged" "epoch 4 gap" \
	"$($CTL disk log rc count 1 2>&1)"
tap_check "role stage (nothing held)" $CTL disk role rc stage
tap_expect_match "role shows" "^disk rc .*: stage, mode passthrough" \
	"$($CTL disk show rc 2>&1 | head -n 1)"

# monitor: events of a commit on the buffer disk
$CTL disk role rc buffer >/dev/null
$CTL disk mode rc buffer >/dev/null
$CTL disk monitor >mon.out 2>&1 &
MON=$!
tap_defer "kill $MON"
sleep 0.5
$CTL disk barrier rc 9 >/dev/null
$CTL disk commit rc 9 >/dev/null
wait_for "the commit event" 5 grep -q "disk-committed rc epoch 9" mon.out
tap_expect_match "monitor prints the commit event" "disk-committed rc epoch 9" \
	"$(cat mon.out)"
tap_expect_match "unknown disk: an error saying so" "no such remus disk" \
	"$($CTL disk barrier no-such-disk 1 2>&1)"
tap_done
