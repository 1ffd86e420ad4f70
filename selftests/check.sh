#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# selftests/check.sh [STAGE...]: what `make check` runs. Stages, in order
# (default: all of them):
#
#   build    make module, userspace and test programs, sparse (W=1 C=2),
#            checkpatch: each one check, failing with its output
#   unit     host unit tests, $O/selftests/unit/test_* (TAP each)
#   vm       every suite whose vm.tests says "ci yes", in one TCG VM boot
#   <name>   selftests/<name>/check-stage.sh, if there is one (below)
#   harness  the VM harness's self-test: misbehaving tests must fail
#
# Each stage leaves a TAP file in $O/check/; at the end the output of
# every failed check is printed, then one line "N passed, N failed" (and
# ", N skipped"). Exit status 1 if anything failed or nothing ran. A stage
# that cannot run (no qemu, no remus.ko, a build that fails) fails its
# checks with the reason; it never passes them.
#
# A further stage (the Xen suite, say) is an executable
# selftests/<name>/check-stage.sh: it runs after the vm stage as stage
# <name>, prints TAP in selftests/lib/runner.sh's layout on stdout (its
# stderr is shown as progress) and exits non-zero if anything failed. If
# it prints no result line at all, the stage counts as one failure.

set -u -o pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1
export O=${O:-build}
MAKE=${MAKE:-make}
CHK=$O/check
RUNNER=selftests/lib/runner.sh
EXTRA_STAGES=
for f in selftests/*/check-stage.sh; do
	[ -x "$f" ] || continue
	f=${f#selftests/}
	EXTRA_STAGES+=" ${f%/check-stage.sh}"
done
ALL_STAGES="build unit vm$EXTRA_STAGES harness"
STAGES=${*:-$ALL_STAGES}

mkdir -p "$CHK"
# Tests run in scratch directories: their paths must be absolute.
OABS=$(cd "$O" && pwd)

progress() { grep --line-buffered -E '^(not )?ok ' >&2; }

# run_plan STAGE: run $CHK/STAGE.plan on the host into $CHK/STAGE.tap.
run_plan()
{
	echo "--- $1" >&2
	$RUNNER "$CHK/$1.plan" | tee "$CHK/$1.tap" | progress
}

stage_build()
{
	# Tests run in a scratch directory: make -C the tree.
	local m="$MAKE --no-print-directory -C $ROOT"
	cat >"$CHK/build.plan" <<-EOF
	build module 600 - $m module
	build userspace 900 - $m userspace
	build selftests 900 - $m selftests
	build sparse 600 - $m sparse
	build checkpatch 300 - $m style
	EOF
	run_plan build
}

stage_unit()
{
	local src name
	: >"$CHK/unit.plan"
	for src in selftests/unit/test_*.c; do
		[ -e "$src" ] || continue
		name=${src##*/}
		name=${name%.c}
		if [ -x "$O/selftests/unit/$name" ]; then
			echo "unit $name 120 - $OABS/selftests/unit/$name"
		else
			echo "unit $name 120 - !not built: $O/selftests/unit/$name missing (run make)"
		fi >>"$CHK/unit.plan"
	done
	if [ ! -s "$CHK/unit.plan" ]; then
		echo "--- unit: no tests (selftests/unit/test_*.c)" >&2
		: >"$CHK/unit.tap"
		return
	fi
	run_plan unit
}

stage_vm()
{
	local ko=${REMUS_KO-remus.ko} why=
	echo "--- vm" >&2
	# The build stage's verdict on the module beats a stale remus.ko.
	if [ -f "$CHK/build.tap" ] && grep -q '^not ok [0-9]* build:module' "$CHK/build.tap"; then
		ko=
		why="remus.ko does not build (see build:module)"
	fi
	rm -f "$O/vmtest/results.tap"
	REMUS_KO=$ko REMUS_KO_PROBLEM=$why SUITES=${SUITES:-} TESTS=${TESTS:-} \
		selftests/vm/run.sh -q
	if [ -f "$O/vmtest/results.tap" ]; then
		cp "$O/vmtest/results.tap" "$CHK/vm.tap"
	else
		printf '%s\n' "TAP version 13" "1..1" \
			"not ok 1 vm:run # selftests/vm/run.sh wrote no results (see above)" \
			>"$CHK/vm.tap"
	fi
}

stage_harness()
{
	local s
	: >"$CHK/harness.plan"
	for s in $(selftests/harness/selftest.sh -l); do
		echo "harness-selftest $s 600 - $ROOT/selftests/harness/selftest.sh $s" \
			>>"$CHK/harness.plan"
	done
	run_plan harness
}

# stage_extra NAME: selftests/NAME/check-stage.sh
stage_extra()
{
	echo "--- $1" >&2
	"selftests/$1/check-stage.sh" >"$CHK/$1.tap"
	local rc=$?
	if ! grep -Eq '^(not )?ok [0-9]+' "$CHK/$1.tap"; then
		printf '%s\n' "TAP version 13" "1..1" \
			"not ok 1 $1:check-stage # selftests/$1/check-stage.sh reported nothing (exit status $rc)" \
			>>"$CHK/$1.tap"
	elif [ "$rc" -ne 0 ] && ! grep -q '^not ok' "$CHK/$1.tap"; then
		echo "not ok 0 $1:check-stage # exit status $rc, though no test failed" \
			>>"$CHK/$1.tap"
	fi
	grep -E '^(not )?ok ' "$CHK/$1.tap" >&2
}

files=()
for stage in $STAGES; do
	case " $ALL_STAGES " in
	*" $stage "*) ;;
	*) echo "check: no stage '$stage' (stages: $ALL_STAGES)" >&2; exit 2 ;;
	esac
	rm -f "$CHK/$stage.tap"
	case $stage in
	build|unit|vm|harness) "stage_$stage" ;;
	*) stage_extra "$stage" ;;
	esac
	[ -f "$CHK/$stage.tap" ] && files+=("$CHK/$stage.tap")
done

echo >&2
[ ${#files[@]} -gt 0 ] || files=(/dev/null)
exec scripts/tap-summary "${files[@]}"
