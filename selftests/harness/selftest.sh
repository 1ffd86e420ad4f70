#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# selftests/harness/selftest.sh [-l] SCENARIO: proves that the VM harness
# (selftests/vm/run.sh) fails what it must. Each scenario runs the harness
# suite's misbehaving tests (selftests/harness/vm.tests) and checks what
# the harness reported, as TAP. -l lists the scenarios.
#
#   failures    exit status, failed check, short plan, test timeout, kernel
#               WARN, missing remus.ko, a test that leaves a netns, a link,
#               a loop device or a daemon behind: each fails (and the
#               leftovers are gone for the next test); pass, skip and a
#               test whose background child dies with its process group
#               do not; the output of a failed test reaches the report and
#               its log file
#   poweroff    the VM powers off mid-run: the run fails, no end marker,
#               the later test runs in a second boot
#   panic       a kernel panic: the test and the run fail; without a
#               second boot the later test fails as not run
#   kernel_hang the kernel freezes: the host's watchdog ends the VM
#   run_timeout the whole-run timeout ends the VM
#   config      a kernel option missing from /boot/config-KVER: no boot,
#               every test fails with the reason
#   selection   a suite or test name that matches nothing is an error
#   clean       a passing run passes: exit 0, end marker, the summary line

SCENARIOS="failures poweroff panic kernel_hang run_timeout config selection clean"

if [ "${1:-}" = -l ]; then
	echo "$SCENARIOS"
	exit 0
fi
if [ $# -ne 1 ] || [[ " $SCENARIOS " != *" $1 "* ]]; then
	echo "usage: selftest.sh [-l] SCENARIO (one of: $SCENARIOS)" >&2
	exit 2
fi
SCENARIO=$1

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT" || exit 1
O=${O:-build}
export O
DIR=$O/harness-selftest/$SCENARIO
rm -rf "$DIR"
mkdir -p "$DIR"

. selftests/lib/tap.sh

# vm ENV... -- SELECTORS...: run the harness; sets RC, OUT (its output).
vm()
{
	local envs=()
	while [ "$1" != -- ]; do
		envs+=("$1")
		shift
	done
	shift
	env VMTEST_DIR="$DIR" VMTEST_GRACE=10 "${envs[@]}" \
		selftests/vm/run.sh "$@" >"$DIR/out" 2>&1
	RC=$?
	OUT=$(cat "$DIR/out")
}

# result NAME: the result line of NAME in results.tap, numbers dropped
result()
{
	grep -E "^(not )?ok [0-9]+ $1( |$)" "$DIR/results.tap" 2>/dev/null |
		sed -E 's/^((not )?ok) [0-9]+ /\1 /'
}

# counts NAME: "passed failed skipped" as scripts/tap-summary counts NAME
counts()
{
	awk -v name="$1" '
	/^# selftests: / { on = ($3 $4 == name) }
	on { print }
	/^(not )?ok [0-9]+ / { on = 0 }
	' "$DIR/results.tap" | scripts/tap-summary -c
}

# A "#" in a TAP description starts a directive: escape it.
expect_result()
{
	tap_expect_match "$1: reported as '${2//#/\\#}'" "^$2" "$(result "$1")"
}

expect_counts()
{
	tap_expect_eq "$1: counted (passed failed skipped) $2" "$2" "$(counts "$1")"
}

expect_failed_run()
{
	tap_expect_eq "run.sh exits 1" 1 "$RC"
	tap_expect_match "summary line says failed" '^[0-9]+ passed, [1-9][0-9]* failed' "$OUT"
}

case $SCENARIO in
failures)
	vm REMUS_KO= -- harness:pass harness:skip harness:fail_exit \
		harness:fail_check harness:plan_short harness:hang \
		harness:leak_bg harness:leak harness:no_leftovers harness:warn \
		harness:needs_ko
	expect_failed_run
	expect_result harness:pass "ok harness:pass$"
	expect_counts harness:pass "2 0 0"
	expect_result harness:skip "ok harness:skip # SKIP"
	expect_counts harness:skip "0 0 1"
	expect_result harness:fail_exit "not ok harness:fail_exit # exit status 3"
	expect_counts harness:fail_exit "1 1 0"
	expect_result harness:fail_check "not ok harness:fail_check # exit status 1"
	expect_counts harness:fail_check "1 1 0"
	expect_counts harness:plan_short "2 1 0"
	expect_result harness:hang "not ok harness:hang # TIMEOUT after 3 s"
	expect_result harness:leak_bg "ok harness:leak_bg$"
	expect_result harness:leak "not ok harness:leak # left behind: netns harness-leak, link harness-leak0, link harness-leak1, \\.\\.\\."
	tap_expect_match "harness:leak: the loop device and the daemon are named" \
		"loop /dev/loop[0-9]+.*process [0-9]+ sleep" \
		"$(tr '\n' ' ' <"$DIR/results/harness/leak.log" 2>&1)"
	expect_result harness:no_leftovers "ok harness:no_leftovers$"
	expect_counts harness:no_leftovers "5 0 0"
	expect_result harness:warn "not ok harness:warn # kernel: WARNING:"
	expect_counts harness:warn "1 1 0"
	expect_result harness:needs_ko "not ok harness:needs_ko # not run: remus.ko missing"
	expect_result vm:run "ok vm:run"
	tap_expect_match "the failed check's expected and seen values reach the report" \
		"saw: +3" "$(sed -n '/=== FAILED: harness:fail_check/,/^$/p' "$DIR/out")"
	tap_expect_match "... and its log file" "expected: 2" \
		"$(cat "$DIR/results/harness/fail_check.log" 2>&1)"
	tap_expect_match "the WARN's kernel log reaches the report" \
		"remus harness self-test: deliberate warning" \
		"$(sed -n '/=== FAILED: harness:warn/,/^$/p' "$DIR/out")"
	;;
poweroff)
	vm -- harness:poweroff harness:pass
	expect_failed_run
	expect_result harness:poweroff "not ok harness:poweroff # the VM died running it: the VM stopped before the end marker"
	expect_result vm:run "not ok vm:run # boot 1: the VM stopped before the end marker"
	# The console quoted in the report holds "ok" lines of earlier
	# tests: they must not count.
	expect_counts harness:poweroff "0 1 0"
	expect_counts vm:run "1 1 0"
	tap_expect_eq "two boots" 2 "$(grep -c '^ok [0-9]* vm:setup' "$DIR/results.tap")"
	expect_result harness:pass "ok harness:pass$"
	tap_check_fails "no success marker in boot 1" \
		grep -q "^# remus-vmtest: complete" "$DIR/tap.1.txt"
	;;
panic)
	vm VMTEST_REBOOTS=0 -- harness:panic harness:pass
	expect_failed_run
	expect_result harness:panic "not ok harness:panic # the VM died running it: kernel panic"
	expect_result vm:run "not ok vm:run # boot 1: kernel panic"
	expect_result harness:pass "not ok harness:pass # not run: the VM died before it"
	tap_check "the panic is in the console log" \
		grep -q "Kernel panic - not syncing" "$DIR/console.log"
	;;
kernel_hang)
	vm -- harness:kernel_hang harness:pass
	expect_failed_run
	expect_result harness:kernel_hang "not ok harness:kernel_hang # the VM died running it: no output for 3 \\+ 10 s while harness:kernel_hang ran"
	expect_result harness:pass "ok harness:pass$"
	;;
run_timeout)
	vm VMTEST_TIMEOUT=4 -- harness:hang harness:pass
	expect_failed_run
	expect_result vm:run "not ok vm:run # boot 1: whole-run timeout \\(4 s\\) hit"
	tap_check_fails "harness:pass did not pass" \
		grep -Eq "^ok [0-9]+ harness:pass" "$DIR/results.tap"
	;;
config)
	echo "CONFIG_REMUS_HARNESS_NO_SUCH_OPTION=y" >"$DIR/config"
	vm VMTEST_CONFIG="$DIR/config" -- harness:pass
	expect_failed_run
	tap_expect_match "the missing option is named" \
		"lacks: CONFIG_REMUS_HARNESS_NO_SUCH_OPTION" "$OUT"
	expect_result harness:pass "not ok harness:pass # not run: kernel .* lacks"
	tap_check_fails "no VM booted" test -e "$DIR/console.log"
	;;
selection)
	vm -- harness:no_such_test
	tap_expect_eq "unknown test: exit 2" 2 "$RC"
	tap_expect_match "unknown test: said so" "no test in suite 'harness' matches 'no_such_test'" "$OUT"
	vm -- no_such_suite
	tap_expect_eq "unknown suite: exit 2" 2 "$RC"
	vm SUITES=harness TESTS=no_such_test --
	tap_expect_eq "TESTS matching nothing: exit 2" 2 "$RC"
	;;
clean)
	vm SUITES=harness TESTS=pass --
	tap_expect_eq "run.sh exits 0" 0 "$RC"
	tap_expect_match "summary line" "^[1-9][0-9]* passed, 0 failed$" "$(tail -n 2 "$DIR/out")"
	tap_expect_eq "ran exactly harness:pass" "ok harness:pass" "$(grep -E '^(not )?ok [0-9]+ harness:' "$DIR/results.tap" | sed -E 's/^ok [0-9]+ /ok /')"
	expect_result vm:run "ok vm:run"
	tap_check "success marker" grep -q "^# remus-vmtest: complete: success" "$DIR/tap.txt"
	;;
esac

tap_done
