#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# runner.sh [--vm] [--setup] [--console] [--skip N] PLAN
#
# Runs the tests listed in PLAN and writes one aggregated TAP stream to
# stdout, in the layout of the kernel's kselftest runner: for each test a
# header, the test's own output as "# " comments, then one result line.
#
#	# selftests: SUITE: TEST
#	# <output of the test, its own TAP nested here>
#	ok 1 SUITE:TEST
#
# PLAN has one test a line: SUITE TEST TIMEOUT NEEDS COMMAND, where NEEDS
# is "-" or "remus.ko" (the module must be loaded when the test starts) and
# COMMAND is the executable and its arguments (split on blanks), or "!"
# followed by the reason the test cannot run (it is then reported failed,
# not run).
#
# Every test runs in its own session and process group, with stdin from
# /dev/null, in an empty scratch directory, and is killed (TERM, then KILL
# 2 s later) with its whole group after TIMEOUT seconds. Whatever it left
# running is killed when it ends.
#
# --vm: this is the test VM. After each test, new kernel messages are
# read (dmesg -c) and the test fails if they hold a warning, bug, oops or
# the like, or if the kernel picked up a bad taint flag meanwhile. It also
# fails if it left something behind: a network namespace, a network
# device, a device-mapper or loop device, a process, a reference on
# remus.ko (a qdisc or a target); the runner then removes it.
# --setup: the tests set the VM up; what they leave is meant to stay.
# --console: copy each test's output to stderr as it finishes.
# --skip N: start after the first N tests of PLAN (resuming after a crash).
#
# Exit status: 0 if every test passed or skipped, 1 otherwise.

VM=
CONSOLE=
SETUP=
SKIP=0
while [ $# -gt 1 ]; do
	case $1 in
	--vm) VM=1 ;;
	--console) CONSOLE=1 ;;
	--setup) SETUP=1 ;;
	--skip) SKIP=$2; shift ;;
	*) break ;;
	esac
	shift
done
if [ $# -ne 1 ] || [ ! -r "$1" ]; then
	echo "usage: runner.sh [--vm] [--setup] [--console] [--skip N] PLAN" >&2
	exit 2
fi
PLAN=$1

# Kernel log lines that fail the test that was running.
KERNEL_BAD='WARNING:|BUG:|Oops|general protection|KASAN|UBSAN|refcount_t|'\
'list_add corruption|list_del corruption|kernel BUG|Call Trace:|'\
'blocked for more than|soft lockup|hard LOCKUP|rcu.*stall|Kernel panic|'\
'double fault|stack-protector|stack guard page|unreferenced object|'\
'Bad page state|BUG kmalloc|Unable to handle kernel|page_owner|'\
'scheduling while atomic|sleeping function called from invalid context'
# Taint flags that mean the kernel went wrong: B bad page (5), D died (7),
# W warning (9), L soft lockup (14).
TAINT_BAD=$(((1 << 5) | (1 << 7) | (1 << 9) | (1 << 14)))

SCRATCH=${TMPDIR:-/tmp}/runner.$$
mkdir -p "$SCRATCH" || exit 1
trap 'rm -rf "$SCRATCH"' EXIT

uptime_cs()
{
	read -r _up _idle </proc/uptime
	echo "${_up%.*}${_up#*.}"
}

# Run "$@" as the test, in its own session; sets RC and TIMED_OUT.
run_with_timeout()
{
	_timeout=$1
	shift
	TIMED_OUT=
	rm -f "$SCRATCH/timed-out"
	setsid "$@" >"$SCRATCH/out" 2>&1 </dev/null &
	_pid=$!
	# The watchdog gets a session of its own too, so that it and its
	# sleep can be killed at once when the test ends in time.
	setsid sh -c 'sleep "$1"; touch "$2"; kill -TERM "-$3";
		sleep 2; kill -KILL "-$3"' \
		watchdog "$_timeout" "$SCRATCH/timed-out" "$_pid" \
		>/dev/null 2>&1 </dev/null &
	_wd=$!
	wait "$_pid"
	RC=$?
	# By group once it has its session, by pid if it has not got there
	# yet (setsid may not even have run: then there is no sleep yet).
	kill -KILL "-$_wd" 2>/dev/null
	kill -KILL "$_wd" 2>/dev/null
	wait "$_wd" 2>/dev/null
	# Whatever the test left behind in its process group goes too.
	kill -KILL "-$_pid" 2>/dev/null
	[ -e "$SCRATCH/timed-out" ] && TIMED_OUT=1
}

# Make sure remus.ko is loaded; on failure say why in $SCRATCH/out.
load_remus()
{
	grep -q '^remus ' /proc/modules && return 0
	if [ -z "${REMUS_KO:-}" ] || [ ! -f "$REMUS_KO" ]; then
		echo "remus.ko missing: build it with 'make module'" >"$SCRATCH/out"
		return 1
	fi
	insmod "$REMUS_KO" >"$SCRATCH/out" 2>&1 && return 0
	echo "insmod $REMUS_KO failed" >>"$SCRATCH/out"
	return 1
}

# state: what a test must leave as it found it, one item a line (VM only;
# shell builtins only, it runs twice per test). Processes of sessions
# other than init's are what tests started (each runs in a session of
# its own) and escaped the kill of their process group.
state()
{
	for _f in /run/netns/*; do
		[ -e "$_f" ] && echo "netns ${_f##*/}"
	done
	for _f in /sys/class/net/*; do
		[ -e "$_f" ] && echo "link ${_f##*/}"
	done
	for _f in /sys/block/dm-*/dm/name; do
		[ -r "$_f" ] && read -r _v <"$_f" && echo "dm $_v"
	done
	for _f in /sys/block/loop*/loop/backing_file; do
		[ -r "$_f" ] || continue
		_v=${_f#/sys/block/}
		echo "loop /dev/${_v%%/*}"
	done
	if [ -r /sys/module/remus/refcnt ]; then
		read -r _v </sys/module/remus/refcnt
		echo "remus.ko-refcount $_v"
	fi
	for _f in /proc/[0-9]*/stat; do
		{ read -r _v <"$_f"; } 2>/dev/null || continue
		# shellcheck disable=SC2086
		set -- ${_v##*) }
		# Killed ones linger as zombies of init until it waits.
		case $1 in Z|X|x) continue ;; esac
		[ "$4" = 0 ] && continue
		_c=${_v#*(}
		_p=${_f#/proc/}
		echo "process ${_p%/stat} ${_c%)*}"
	done
}

# check_leaks: fail the test that left something behind (naming it), and
# clean up after it so that the next test starts from the same state.
check_leaks()
{
	state | grep -vxF -f "$SCRATCH/before" >"$SCRATCH/leaks"
	[ -s "$SCRATCH/leaks" ] || return 0
	# A process SIGKILLed a moment ago may not be dead yet.
	if grep -q '^process' "$SCRATCH/leaks"; then
		sleep 0.2
		state | grep -vxF -f "$SCRATCH/before" >"$SCRATCH/leaks"
		[ -s "$SCRATCH/leaks" ] || return 0
	fi
	# The last user of an unshared network namespace gone, the kernel
	# tears it (and the qdiscs in it) down from a workqueue: give that
	# up to 5 s before calling a module reference leaked.
	_n=25
	while [ "$_n" -gt 0 ] && grep -q '^remus.ko-refcount' "$SCRATCH/leaks" &&
	      ! grep -qv '^remus.ko-refcount' "$SCRATCH/leaks"; do
		sleep 0.2
		state | grep -vxF -f "$SCRATCH/before" >"$SCRATCH/leaks"
		[ -s "$SCRATCH/leaks" ] || return 0
		_n=$((_n - 1))
	done
	clean_up "$SCRATCH/leaks"
	{
		echo "--- left behind (the runner cleaned up) ---"
		cat "$SCRATCH/leaks"
		if state | grep -vxF -f "$SCRATCH/before" >"$SCRATCH/still"; then
			echo "--- still there after the clean-up ---"
			cat "$SCRATCH/still"
		fi
	} >>"$SCRATCH/out"
	_l="left behind: $(cut -d' ' -f1,2 "$SCRATCH/leaks" | head -n 3 | tr '\n' ',' | sed 's/,$//; s/,/, /g')"
	[ "$(wc -l <"$SCRATCH/leaks")" -gt 3 ] && _l="$_l, ..."
	if [ -z "$WHY" ] || [ "$WHY" = SKIP ]; then
		WHY=$_l
	else
		WHY="$WHY; $_l"
	fi
	RC=1
}

# clean_up LEAKS_FILE: undo what a test left behind, most dependent first.
clean_up()
{
	# shellcheck disable=SC2034
	while read -r _k _a _b; do
		[ "$_k" = process ] && kill -KILL "$_a" 2>/dev/null
	done <"$1"
	while read -r _k _a _b; do
		case $_k in
		dm) DM_DISABLE_UDEV=1 /usr/sbin/dmsetup --noudevsync remove -f "$_a" ;;
		esac
	done <"$1" >/dev/null 2>&1
	while read -r _k _a _b; do
		case $_k in
		loop) losetup -d "$_a" ;;
		netns) /sbin/ip netns del "$_a" ;;
		link) /sbin/ip link del "$_a" ;;
		esac
	done <"$1" >/dev/null 2>&1
	# A remus qdisc on a device the test did not create.
	if grep -q '^remus.ko-refcount' "$1"; then
		for _f in /sys/class/net/*; do
			/sbin/tc qdisc del dev "${_f##*/}" root
			/sbin/tc qdisc del dev "${_f##*/}" ingress
		done >/dev/null 2>&1
	fi
}

[ -n "$VM" ] && dmesg -c >/dev/null

N=0
FAILED=0
LINE=0
while read -r SUITE TEST TIMEOUT NEEDS EXE; do
	case $SUITE in ''|'#'*) continue ;; esac
	LINE=$((LINE + 1))
	[ "$LINE" -le "$SKIP" ] && continue
	N=$((N + 1))
	NAME=$SUITE:$TEST
	echo "# selftests: $SUITE: $TEST"
	[ -n "$CONSOLE" ] && echo "=== $NAME" >&2
	: >"$SCRATCH/out"
	: >"$SCRATCH/kmsg"
	RC=0
	TIMED_OUT=
	WHY=
	T0=$(uptime_cs)
	TAINT0=0
	[ -n "$VM" ] && TAINT0=$(cat /proc/sys/kernel/tainted)

	case $EXE in
	'!'*)
		WHY="not run: ${EXE#!}"
		echo "${EXE#!}" >"$SCRATCH/out"
		RC=1
		;;
	*)
		if [ "$NEEDS" = remus.ko ] && ! load_remus; then
			WHY="remus.ko not loaded"
			RC=1
		else
			DIR=$SCRATCH/work
			rm -rf "$DIR"
			mkdir -p "$DIR"
			# The test's kernel messages go to the test: take what
			# came before it (a previous test's late teardown).
			[ -n "$VM" ] && dmesg -c >>"$SCRATCH/prev-kmsg"
			[ -n "$VM" ] && state >"$SCRATCH/before"
			# shellcheck disable=SC2086
			set -- $EXE
			export TEST_TIMEOUT="$TIMEOUT" SUITE_DIR="${1%/*}"
			cd "$DIR" || exit 1
			run_with_timeout "$TIMEOUT" "$@"
			cd / || exit 1
			if [ -n "$TIMED_OUT" ]; then
				WHY="TIMEOUT after $TIMEOUT s"
			elif [ "$RC" -eq 4 ]; then
				WHY="SKIP"
			elif [ "$RC" -ne 0 ]; then
				WHY="exit status $RC"
			fi
			[ -n "$VM" ] && [ -z "$SETUP" ] && check_leaks
		fi
		;;
	esac
	T1=$(uptime_cs)

	if [ -n "$VM" ]; then
		# A late message from the previous test is attributed here:
		# better blamed one test late than lost.
		cat "$SCRATCH/prev-kmsg" 2>/dev/null >"$SCRATCH/kmsg"
		rm -f "$SCRATCH/prev-kmsg"
		dmesg -c >>"$SCRATCH/kmsg"
		TAINT1=$(cat /proc/sys/kernel/tainted)
		KBAD=$(grep -E "$KERNEL_BAD" "$SCRATCH/kmsg" | head -n 5)
		NEWTAINT=$(((TAINT1 & ~TAINT0) & TAINT_BAD))
		if [ -n "$KBAD" ] || [ "$NEWTAINT" -ne 0 ]; then
			K="kernel: $(echo "$KBAD" | head -n 1 | sed 's/^\[[ 0-9.]*\] //')"
			[ -z "$KBAD" ] && K="kernel taint $TAINT0 -> $TAINT1"
			if [ -z "$WHY" ] || [ "$WHY" = SKIP ]; then
				WHY=$K
			else
				WHY="$WHY; $K"
			fi
			RC=1
		fi
	fi

	sed 's/^/# /' "$SCRATCH/out"
	if [ -s "$SCRATCH/kmsg" ] && [ "$RC" -ne 0 ] && [ "$RC" -ne 4 ]; then
		echo "# --- kernel log during this test ---"
		sed 's/^/# /' "$SCRATCH/kmsg"
	fi
	echo "# time: $(((T1 - T0) / 100)).$(printf '%02d' $(((T1 - T0) % 100))) s"
	if [ "$RC" -eq 0 ]; then
		RES="ok $N $NAME"
	elif [ "$RC" -eq 4 ] && [ "$WHY" = SKIP ]; then
		SKIPWHY=$(grep -o 'SKIP.*' "$SCRATCH/out" | tail -n 1)
		RES="ok $N $NAME # SKIP ${SKIPWHY#SKIP}"
	else
		RES="not ok $N $NAME # $WHY"
		FAILED=$((FAILED + 1))
	fi
	echo "$RES"
	if [ -n "$CONSOLE" ]; then
		cat "$SCRATCH/out" >&2
		echo "$RES" >&2
	fi
done <"$PLAN"

[ "$FAILED" -eq 0 ]
