# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=sh
#
# Helpers of the disk suite's shell tests: loop files on tmpfs, remus
# targets through dmsetup (no udev in the VM: libdm makes the nodes).

. "$(dirname "$0")/../lib/tap.sh"

export DM_DISABLE_UDEV=1
DMSETUP="/usr/sbin/dmsetup --noudevsync"
LOSETUP=/usr/sbin/losetup

# loop_new NAME MIB: a zeroed file of MIB MiB on a loop device; prints it.
loop_new()
{
	truncate -s "$2M" "$PWD/$1.img" || return 1
	$LOSETUP -f --show "$PWD/$1.img"
}

# remus_new NAME DEV MODE [OPTS...]: a remus target over all of DEV.
remus_new()
{
	_name=$1 _dev=$2
	shift 2
	_sz=$(blockdev --getsz "$_dev") || return 1
	echo "0 $_sz remus $_dev $*" | $DMSETUP create "$_name"
}

# kmsg_since MARK: the kernel log lines after the line count MARK.
kmsg_lines() { dmesg | wc -l; }
kmsg_since() { dmesg | tail -n +"$(($1 + 1))"; }

# Whatever a test leaves behind: its remus devices, then its loop devices.
cleanup_disks()
{
	$DMSETUP remove_all >/dev/null 2>&1
	$LOSETUP -D >/dev/null 2>&1
}
tap_defer cleanup_disks
