#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The constructor: every bad table is refused with its ti->error message
# in the kernel log, good ones in each mode come up with .status INFO and
# TABLE, and remus.ko cannot be unloaded while a remus device exists.

. "$(dirname "$0")/lib.sh"
need_remus_ko

tap_plan 22

LOOP=$(loop_new a 4) || tap_bail "no loop device"
SZ=$(blockdev --getsz "$LOOP")

# bad TABLE... MESSAGE: creating a device with TABLE fails and the kernel
# log says MESSAGE.
bad()
{
	_msg=$1
	shift
	_mark=$(kmsg_lines)
	if echo "$*" | $DMSETUP create bad >/dev/null 2>&1; then
		$DMSETUP remove bad
		tap_fail "refused: $*" "the table was accepted"
		return
	fi
	$DMSETUP remove bad >/dev/null 2>&1
	_log=$(kmsg_since "$_mark")
	case $_log in
	*"remus: $_msg"*) tap_ok "refused: $* ($_msg)" ;;
	*) tap_fail "refused: $*" "expected '$_msg' in the kernel log, saw:" "$_log" ;;
	esac
}

bad "Requires <dev_path> <mode>" "0 $SZ remus $LOOP"
bad "Requires <dev_path> <mode>" "0 $SZ remus"
bad "Unknown mode" "0 $SZ remus $LOOP mirror"
bad "Unknown mode" "0 $SZ remus $LOOP Replicate"
bad "Device lookup failed" "0 $SZ remus /dev/nonexistent replicate"
bad "Invalid limit" "0 $SZ remus $LOOP buffer limit=12x"
bad "Invalid limit" "0 $SZ remus $LOOP buffer limit=-1"
bad "Invalid limit" "0 $SZ remus $LOOP buffer limit=0"
bad "Invalid limit" "0 $SZ remus $LOOP buffer limit="
bad "Duplicate limit=" "0 $SZ remus $LOOP buffer limit=4096 limit=8192"
bad "Unknown option" "0 $SZ remus $LOOP stage lmit=4096"
bad "Unknown option" "0 $SZ remus $LOOP stage 4096"
bad "singleton target type must appear alone" "0 8 error
8 $((SZ - 8)) remus $LOOP replicate"

DEVNO=$(cat "/sys/block/${LOOP#/dev/}/dev")
for mode in replicate stage buffer; do
	remus_new "r_$mode" "$LOOP" "$mode" limit=1048576 ||
		tap_fail "$mode: create"
	tap_expect_eq "$mode: TABLE is the constructor line" \
		"0 $SZ remus $DEVNO $mode limit=1048576" \
		"$($DMSETUP table "r_$mode")"
	tap_expect_match "$mode: INFO has the counters" \
		"^0 $SZ remus $mode protect barrier=0 committed=0 held=0/0 used=0/1048576 waiting=0 waits=0 errors=0\$" \
		"$($DMSETUP status "r_$mode")"
	if [ $mode = buffer ]; then
		tap_expect_eq "rmmod refused while a remus device exists" \
			"refused" "$(rmmod remus 2>/dev/null && echo unloaded || echo refused)"
	fi
	$DMSETUP remove "r_$mode" || tap_fail "$mode: remove"
done
tap_check "rmmod once the devices are gone" rmmod remus
tap_check "insmod again" insmod "$REMUS_KO"
tap_done
