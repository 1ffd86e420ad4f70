# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=sh
#
# TAP for shell tests. Source it, report each check, end with tap_done:
#
#	. "$(dirname "$0")/../lib/tap.sh"
#	tap_plan 2
#	tap_check "lo is up" sh -c '/sbin/ip link show lo | grep -q UP'
#	tap_expect_eq "one qdisc" 1 "$(count_qdiscs)"
#	tap_done
#
# Runs under busybox ash (in the test VM) and bash. A test that fails a
# check goes on with the next one; tap_bail stops it. tap_done exits 1 if
# any check failed or the plan does not match the checks run, 4 (kselftest
# SKIP) if every check was skipped, 0 otherwise.
#
# Cleanup: tap_defer CMD runs CMD at exit (last registered first), also
# when the runner's timeout sends SIGTERM; tap_spawn CMD starts CMD in the
# background and kills it at exit. Poll with wait_for, never sleep to wait.

TAP_N=0
TAP_FAILED=0
TAP_SKIPPED=0
TAP_PLAN=
TAP_DEFERRED=
TAP_PIDS=
TAP_DONE=

# Full paths: busybox's ip and tc applets win over bare names.
# shellcheck disable=SC2034
IP=/sbin/ip
# shellcheck disable=SC2034
TC=/sbin/tc

echo "TAP version 13"

tap_plan()
{
	TAP_PLAN=$1
	echo "1..$1"
}

# tap_diag TEXT...: a comment line (kept in the test's log).
tap_diag()
{
	echo "# $*"
}

tap_ok()
{
	TAP_N=$((TAP_N + 1))
	echo "ok $TAP_N $1"
}

# tap_fail NAME [WHY...]: a failed check, each WHY line as a comment.
tap_fail()
{
	TAP_N=$((TAP_N + 1))
	TAP_FAILED=$((TAP_FAILED + 1))
	echo "not ok $TAP_N $1"
	shift
	for _why in "$@"; do
		printf '%s\n' "$_why" | sed 's/^/#   /'
	done
}

tap_skip()
{
	TAP_N=$((TAP_N + 1))
	TAP_SKIPPED=$((TAP_SKIPPED + 1))
	echo "ok $TAP_N $1 # SKIP $2"
}

# tap_check NAME CMD...: ok if CMD succeeds; otherwise show its output.
# Returns CMD's success, for "tap_check ... || tap_bail ...".
tap_check()
{
	_name=$1
	shift
	if _out=$("$@" 2>&1); then
		tap_ok "$_name"
	else
		_rc=$?
		tap_fail "$_name" "command: $*" "exit status $_rc" "output:" "$_out"
		return 1
	fi
}

# tap_check_fails NAME CMD...: ok if CMD fails (a refusal that is the point).
tap_check_fails()
{
	_name=$1
	shift
	if _out=$("$@" 2>&1); then
		tap_fail "$_name" "command: $*" "expected it to fail, it succeeded" \
			"output:" "$_out"
	else
		tap_ok "$_name"
	fi
}

# tap_expect_eq NAME EXPECTED SEEN
tap_expect_eq()
{
	if [ "$2" = "$3" ]; then
		tap_ok "$1"
	else
		tap_fail "$1" "expected: $2" "saw:      $3"
	fi
}

# tap_expect_match NAME PATTERN TEXT: TEXT contains a line matching the
# extended regular expression PATTERN.
tap_expect_match()
{
	if printf '%s\n' "$3" | grep -Eq -- "$2"; then
		tap_ok "$1"
	else
		tap_fail "$1" "expected a line matching: $2" "saw:" "$3"
	fi
}

# tap_bail WHY: stop the test here; counts as a failure.
tap_bail()
{
	echo "Bail out! $*"
	TAP_FAILED=$((TAP_FAILED + 1))
	tap_done
}

tap_done()
{
	TAP_DONE=1
	if [ -z "$TAP_PLAN" ]; then
		echo "1..$TAP_N"
	elif [ "$TAP_PLAN" -ne "$TAP_N" ]; then
		echo "# planned $TAP_PLAN checks, ran $TAP_N"
		TAP_FAILED=$((TAP_FAILED + 1))
	fi
	if [ "$TAP_FAILED" -gt 0 ]; then
		exit 1
	fi
	if [ "$TAP_N" -gt 0 ] && [ "$TAP_SKIPPED" -eq "$TAP_N" ]; then
		exit 4
	fi
	exit 0
}

tap_defer()
{
	TAP_DEFERRED="$1
$TAP_DEFERRED"
}

# tap_spawn CMD...: run CMD in the background, killed at exit. Sets TAP_PID.
tap_spawn()
{
	"$@" &
	TAP_PID=$!
	TAP_PIDS="$TAP_PIDS $TAP_PID"
}

# wait_for DESC TIMEOUT_S CMD...: poll CMD every 50 ms until it succeeds;
# returns 1 after TIMEOUT_S seconds, saying what it waited for.
wait_for()
{
	_desc=$1
	_ticks=$(($2 * 20))
	shift 2
	while ! "$@" >/dev/null 2>&1; do
		_ticks=$((_ticks - 1))
		if [ "$_ticks" -le 0 ]; then
			echo "# timed out waiting for $_desc" >&2
			return 1
		fi
		sleep 0.05
	done
}

# need_remus_ko: the path of remus.ko in $REMUS_KO, or bail out saying so.
need_remus_ko()
{
	if [ -z "${REMUS_KO:-}" ] || [ ! -f "$REMUS_KO" ]; then
		tap_bail "remus.ko missing: build it with 'make module'"
	fi
}

tap_exit_trap()
{
	_rc=$?
	trap - EXIT INT TERM
	for _pid in $TAP_PIDS; do
		kill "$_pid" 2>/dev/null
	done
	for _pid in $TAP_PIDS; do
		wait "$_pid" 2>/dev/null
	done
	printf '%s\n' "$TAP_DEFERRED" | while IFS= read -r _cmd; do
		[ -n "$_cmd" ] && eval "$_cmd" >/dev/null 2>&1
	done
	if [ -z "$TAP_DONE" ]; then
		echo "# exited (status $_rc) before tap_done"
		[ "$_rc" -eq 0 ] && _rc=1
	fi
	exit "$_rc"
}

trap tap_exit_trap EXIT
trap 'exit 143' TERM
trap 'exit 130' INT
