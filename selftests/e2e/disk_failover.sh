#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The output-commit proof with a disk. The demo guest writes every counter
# value to its disk (a remus target in replicate mode on a loop device of
# the primary) and sends it to the client; the backup stages the write log
# per epoch into its own remus target (stage mode, on a loop device with
# the same initial image) and commits it with the memory. The primary dies
# at a random moment or at a chosen phase; the restored guest checks the
# disk it comes back with against its counter (every value it reached is
# there, nothing beyond it) and the client checks that it saw no rollback.
#
#   disk_failover.sh [TRIALS]        (default $E2E_DISK_TRIALS or 6)

. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/lib.sh"

TRIALS=${1:-${E2E_DISK_TRIALS:-6}}
export DM_DISABLE_UDEV=1
DMSETUP="$(command -v dmsetup) --noudevsync" || tap_bail "dmsetup missing"
# Registered first, so it runs last: after every process that holds the
# disks open (the daemons, the restored guest) is gone.
tap_defer disks_down
e2e_init

SECTORS=4096	# 2 MiB: 2048 blocks of the guest's, and room

disks_down()
{
	$DMSETUP remove --retry gdisk-p 2>/dev/null
	$DMSETUP remove --retry gdisk-b 2>/dev/null
	[ -n "${LP:-}" ] && losetup -d "$LP" 2>/dev/null
	[ -n "${LB:-}" ] && losetup -d "$LB" 2>/dev/null
	LP= LB=
	return 0
}

# Both hosts' disks from the same initial image (zeros), the primary's
# replicating, the backup's staging.
disks_up()
{
	disks_down
	dd if=/dev/zero of="$W/p.img" bs=512 count=$SECTORS 2>/dev/null
	cp "$W/p.img" "$W/b.img"
	LP=$(losetup -f) && losetup "$LP" "$W/p.img" || return 1
	LB=$(losetup -f) && losetup "$LB" "$W/b.img" || return 1
	echo "0 $SECTORS remus $LP replicate" | $DMSETUP create gdisk-p || return 1
	echo "0 $SECTORS remus $LB stage" | $DMSETUP create gdisk-b || return 1
}

trial()
{
	e2e_reset
	rm -f "$W"/seq.out "$W"/img "$W"/*.log
	disks_up || { echo "disks failed"; return 1; }
	e2e_client -t 40 -n 40 -o "$W/seq.out" || { echo "client did not start"; return 1; }
	e2e_backup "--disk gdisk-b" "-D /dev/mapper/gdisk-b" ||
		{ echo "backup did not start"; return 1; }
	e2e_primary "--net vgp --disk gdisk-p" "-D /dev/mapper/gdisk-p" ||
		{ echo "no checkpoint committed"; return 1; }
	e2e_kill_when "$1" || return 1
	wait "$SEQ"
	return 0
}

e2e_topology || tap_bail "topology failed"
set -- pause:4 send:5 sent:6 ack:7 release:8
tap_plan "$TRIALS"
i=1
while [ "$i" -le "$TRIALS" ]; do
	fault=
	if [ $((i % 2)) -eq 0 ]; then
		k=$(( (i / 2 - 1) % 5 + 1 ))
		eval "fault=\${$k}"
	fi
	name="disk trial $i: primary killed at ${fault:-a random moment}"
	E2E_FAULT=$fault
	if ! trial "$i" >"$W/why" 2>&1; then
		tap_fail "$name" "$(cat "$W/why")" "$(tail -n 15 "$W/primary.log" "$W/backup.log" 2>/dev/null)"
		i=$((i + 1))
		continue
	fi
	v=$(e2e_field violations) ok=$(e2e_field disk_ok) bad=$(e2e_field disk_bad)
	a=$(e2e_field after_failover)
	if [ "${v:-x}" = 0 ] && [ "${ok:-0}" = 1 ] && [ "${bad:-x}" = 0 ] &&
	   [ "${a:-0}" -ge 40 ]; then
		tap_ok "$name: disk as of the committed checkpoint, no rollback seen"
	else
		tap_fail "$name" \
			"expected: 0 violations, the restored guest's disk check ok, >= 40 datagrams after failover" \
			"saw: violations ${v:-?}, disk ok ${ok:-?} bad ${bad:-?}, after failover ${a:-?}" \
			"$(cat "$W/seq.out" 2>/dev/null)" \
			"$(tail -n 12 "$W/primary.log")" "$(tail -n 8 "$W/backup.log")"
	fi
	i=$((i + 1))
done
tap_done
