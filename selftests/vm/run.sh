#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# selftests/vm/run.sh [-q] [-l] [SUITE[:TEST]]...
#
# Boots Debian's kernel in a TCG VM (qemu, never KVM) with an initramfs of
# busybox, iproute2, remus.ko, the Debian modules the suites need and the
# suites' tests; runs the tests (selftests/lib/runner.sh) and reads their
# TAP from the VM's second serial port. One boot runs every selected
# suite; if the VM dies (panic, poweroff, hang), the test it was running
# fails and the rest run in a fresh boot (at most VMTEST_REBOOTS times).
#
# Selection: arguments SUITE or SUITE:TEST (TEST may be a shell glob);
# without arguments, $SUITES (default: every suite whose manifest says
# "ci yes") and $TESTS (globs matched against test names). A name that
# matches nothing is an error.
#
#  -l  list suites and tests (with a selection: the selected tests), run
#      nothing
#  -q  no failure report and no summary line at the end (make check
#      prints its own)
#
# Environment: O (build dir, default build), REMUS_KO (default ./remus.ko;
# empty: run without it; REMUS_KO_PROBLEM then says why), KVER (default: newest /boot/vmlinuz-*), QEMU,
# VMTEST_DIR (default $O/vmtest), VMTEST_MEM (MiB, 1024), VMTEST_TIMEOUT
# (whole run, s; default 120 + the sum of the test timeouts),
# VMTEST_GRACE (s the VM may go silent beyond a test's timeout before it
# is declared hung, 30), VMTEST_BOOT_TIMEOUT (60), VMTEST_REBOOTS (3),
# VMTEST_APPEND (extra kernel command line), VMTEST_CONFIG (a further
# config fragment to check).
#
# Output in $VMTEST_DIR: console.log (all boots), tap.txt (raw stream),
# results.tap (the run, counted by scripts/tap-summary), results/SUITE/
# TEST.log (each test's output), initramfs/ and initramfs.cpio.
# Exit status 0 only if every test passed and every boot ended cleanly.

set -u -o pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT" || exit 1
O=${O:-build}
WORK=${VMTEST_DIR:-$O/vmtest}
MEM=${VMTEST_MEM:-1024}
GRACE=${VMTEST_GRACE:-30}
BOOT_TIMEOUT=${VMTEST_BOOT_TIMEOUT:-60}
REBOOTS=${VMTEST_REBOOTS:-3}
QEMU=${QEMU:-qemu-system-x86_64}
DEFAULT_TIMEOUT=60
MARKER_OK="# remus-vmtest: complete: success"
MARKER_DONE="# remus-vmtest: complete"

# The Debian modules and host programs every suite gets.
BASE_MODULES="veth ifb sch_plug sch_ingress act_mirred cls_matchall cls_u32
	sch_netem dm-mod loop"
BASE_BINARIES="/sbin/ip /sbin/tc"

QUIET=
LIST=
while getopts "lqh" opt; do
	case $opt in
	l) LIST=1 ;;
	q) QUIET=1 ;;
	*) sed -n '4,/^$/s/^# \{0,1\}//p' "$0" >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))

say() { echo "vmtest: $*" >&2; }

# --- manifests -------------------------------------------------------------

# Per selected test, parallel arrays.
T_SUITE=() T_NAME=() T_TIMEOUT=() T_NEEDS=() T_SRC=()
declare -A S_CI S_TIMEOUT S_MODULES S_BINARIES S_NEEDS S_TESTS

# parse_manifest SUITE: fills S_* for SUITE; S_TESTS holds "name timeout
# needs src" lines.
parse_manifest()
{
	local suite=$1 file=selftests/$1/vm.tests
	local key rest lineno=0 word name timeout needs src
	S_CI[$suite]=no S_TIMEOUT[$suite]=$DEFAULT_TIMEOUT S_MODULES[$suite]=''
	S_BINARIES[$suite]='' S_NEEDS[$suite]=- S_TESTS[$suite]=''
	while IFS= read -r line || [ -n "$line" ]; do
		lineno=$((lineno + 1))
		line=${line%%#*}
		read -r key rest <<<"$line"
		case $key in
		'') ;;
		ci) S_CI[$suite]=$rest ;;
		timeout) S_TIMEOUT[$suite]=$rest ;;
		modules) S_MODULES[$suite]+=" $rest" ;;
		binaries) S_BINARIES[$suite]+=" $rest" ;;
		needs) S_NEEDS[$suite]=$rest ;;
		test)
			read -r src rest <<<"$rest"
			name=${src%.sh}
			timeout=
			needs=
			for word in $rest; do
				case $word in
				timeout=*) timeout=${word#timeout=} ;;
				needs=*) needs=${word#needs=} ;;
				*) say "$file:$lineno: unknown test option '$word'"; return 1 ;;
				esac
			done
			case $timeout in ''|[1-9]|[1-9]*[0-9]) ;; *)
				say "$file:$lineno: timeout must be a number of seconds"; return 1 ;;
			esac
			case $needs in ''|-|remus.ko) ;; *)
				say "$file:$lineno: needs: only remus.ko is known"; return 1 ;;
			esac
			S_TESTS[$suite]+="$name ${timeout:-@} ${needs:-@} $src"$'\n'
			;;
		*) say "$file:$lineno: unknown key '$key'"; return 1 ;;
		esac
	done <"$file"
	case ${S_CI[$suite]} in yes|no) ;; *)
		say "$file: ci must be yes or no"; return 1 ;;
	esac
	case ${S_NEEDS[$suite]} in -|remus.ko) ;; *)
		say "$file: needs: only remus.ko is known"; return 1 ;;
	esac
	if ! [[ ${S_TIMEOUT[$suite]} =~ ^[1-9][0-9]*$ ]]; then
		say "$file: timeout must be a number of seconds"
		return 1
	fi
}

ALL_SUITES=()
for f in selftests/*/vm.tests; do
	[ -e "$f" ] || continue
	s=${f#selftests/}
	s=${s%/vm.tests}
	ALL_SUITES+=("$s")
	parse_manifest "$s" || exit 2
done

if [ -n "$LIST" ] && [ $# -eq 0 ] && [ -z "${SUITES:-}${TESTS:-}" ]; then
	for s in "${ALL_SUITES[@]}"; do
		echo "$s (ci ${S_CI[$s]})"
		while read -r name _; do
			[ -n "$name" ] && echo "  $s:$name"
		done <<<"${S_TESTS[$s]}"
	done
	exit 0
fi

declare -A PICKED
# select SUITE PATTERN: append the matching tests; fail if none match.
select_tests()
{
	local suite=$1 pat=$2 name timeout needs src hit=
	if [ -z "${S_CI[$suite]+x}" ]; then
		say "no suite '$suite' (no selftests/$suite/vm.tests)"
		return 1
	fi
	while read -r name timeout needs src; do
		[ -n "$name" ] || continue
		# shellcheck disable=SC2053
		[[ $name == $pat ]] || continue
		hit=1
		[ -n "${PICKED[$suite:$name]+x}" ] && continue
		PICKED[$suite:$name]=1
		[ "$timeout" = @ ] && timeout=${S_TIMEOUT[$suite]}
		[ "$needs" = @ ] && needs=${S_NEEDS[$suite]}
		T_SUITE+=("$suite") T_NAME+=("$name") T_TIMEOUT+=("$timeout")
		T_NEEDS+=("$needs") T_SRC+=("$src")
	done <<<"${S_TESTS[$suite]}"
	if [ -z "$hit" ]; then
		say "no test in suite '$suite' matches '$pat'"
		return 1
	fi
}

# has_test SUITE PATTERN
has_test()
{
	local name _
	while read -r name _; do
		# shellcheck disable=SC2053
		[ -n "$name" ] && [[ $name == $2 ]] && return 0
	done <<<"${S_TESTS[$1]}"
	return 1
}

SELECTORS=("$@")
set -f	# TESTS holds globs for test names, not for files
if [ ${#SELECTORS[@]} -eq 0 ]; then
	suites=${SUITES:-}
	if [ -z "$suites" ]; then
		for s in "${ALL_SUITES[@]}"; do
			[ "${S_CI[$s]}" = yes ] && suites+=" $s"
		done
	fi
	for s in ${suites//,/ }; do
		if [ -z "${S_CI[$s]+x}" ]; then
			say "no suite '$s' (no selftests/$s/vm.tests)"
			exit 2
		fi
		[ -n "${TESTS:-}" ] || SELECTORS+=("$s:*")
	done
	# Each name or glob of TESTS must match in at least one suite.
	tests=${TESTS:-}
	for t in ${tests//,/ }; do
		hit=
		for s in ${suites//,/ }; do
			if has_test "$s" "$t"; then
				SELECTORS+=("$s:$t")
				hit=1
			fi
		done
		if [ -z "$hit" ]; then
			say "no test matches '$t' in suites:$suites"
			exit 2
		fi
	done
fi
if [ ${#SELECTORS[@]} -eq 0 ]; then
	say "no suites selected (none has 'ci yes'; name one)"
	exit 2
fi
for sel in "${SELECTORS[@]}"; do
	case $sel in
	*:*) select_tests "${sel%%:*}" "${sel#*:}" || exit 2 ;;
	*) select_tests "$sel" '*' || exit 2 ;;
	esac
done
set +f
NT=${#T_NAME[@]}
if [ -n "$LIST" ]; then
	for i in "${!T_NAME[@]}"; do
		echo "${T_SUITE[$i]}:${T_NAME[$i]} timeout=${T_TIMEOUT[$i]} needs=${T_NEEDS[$i]}"
	done
	exit 0
fi

SEL_SUITES=()
for s in "${ALL_SUITES[@]}"; do
	for i in "${!T_SUITE[@]}"; do
		if [ "${T_SUITE[$i]}" = "$s" ]; then
			SEL_SUITES+=("$s")
			break
		fi
	done
done

# --- results ---------------------------------------------------------------

mkdir -p "$WORK"
# One run at a time per directory (VMTEST_DIR gives another).
exec 9>"$WORK/.lock"
if ! flock -n 9; then
	say "another run is using $WORK; waiting (or set VMTEST_DIR)"
	flock 9
fi
rm -rf "$WORK/results" "$WORK"/tap.*.txt "$WORK"/console.*.log
rm -f "$WORK/results.tap" "$WORK/tap.txt" "$WORK/console.log"
RESULTS=$WORK/results.tap
: >"$RESULTS.body"
RN=0
FAILED_RUN=

# emit NAME OK|NOTOK DIRECTIVE [OUTPUT_FILE]: one test into results.tap.
emit()
{
	local name=$1 status=$2 directive=$3 out=${4:-}
	RN=$((RN + 1))
	{
		echo "# selftests: ${name%%:*}: ${name#*:}"
		[ -n "$out" ] && [ -s "$out" ] && sed 's/^/# /' "$out"
		if [ "$status" = OK ]; then
			echo "ok $RN $name${directive:+ # $directive}"
		else
			echo "not ok $RN $name${directive:+ # $directive}"
		fi
	} >>"$RESULTS.body"
}

finish()
{
	local rc
	{
		echo "TAP version 13"
		echo "1..$RN"
		cat "$RESULTS.body"
	} >"$RESULTS"
	rm -f "$RESULTS.body"
	# Per-test logs, for reading one test's output alone.
	awk -v dir="$WORK/results" '
	/^# selftests: / {
		s = $3; sub(/:$/, "", s); t = $4
		system("mkdir -p \"" dir "/" s "\"")
		f = dir "/" s "/" t ".log"; printf "" > f; next
	}
	/^(not )?ok [0-9]+ / { if (f) { print > f; close(f) } f = ""; next }
	f { sub(/^# ?/, ""); print > f }
	' "$RESULTS"
	if [ -n "$QUIET" ]; then
		scripts/tap-summary -q "$RESULTS" >/dev/null
		rc=$?
	else
		echo
		scripts/tap-summary "$RESULTS"
		rc=$?
		echo "vmtest: console log $WORK/console.log, test logs $WORK/results/" >&2
	fi
	[ -n "$FAILED_RUN" ] && rc=1
	exit "$rc"
}

# fail_early REASON: nothing can run; every selected test fails with REASON.
fail_early()
{
	say "$1"
	FAILED_RUN=1
	echo "$1" >"$WORK/why"
	emit vm:run NOTOK "$1" "$WORK/why"
	for i in "${!T_NAME[@]}"; do
		emit "${T_SUITE[$i]}:${T_NAME[$i]}" NOTOK "not run: $1"
	done
	finish
}

# --- kernel ----------------------------------------------------------------

# The kernel the module is built against (KDIR, as the top Makefile
# picks it), else the newest one installed.
if [ -z "${KVER:-}" ] && [ -r "${KDIR:-}/include/generated/utsrelease.h" ]; then
	KVER=$(sed -n 's/^#define UTS_RELEASE "\(.*\)"$/\1/p' "$KDIR/include/generated/utsrelease.h")
	[ -r "/boot/vmlinuz-$KVER" ] || KVER=
fi
if [ -z "${KVER:-}" ]; then
	for v in $(ls /boot/vmlinuz-* 2>/dev/null | sed 's|.*/vmlinuz-||' | sort -V); do
		[ -d "/lib/modules/$v/kernel" ] && KVER=$v
	done
fi
[ -n "${KVER:-}" ] || fail_early "no /boot/vmlinuz-* with modules: install linux-image-amd64 (scripts/setup.sh)"
[ -r "/boot/vmlinuz-$KVER" ] || fail_early "/boot/vmlinuz-$KVER not readable"
command -v "$QEMU" >/dev/null || fail_early "$QEMU not found: install qemu-system-x86 (scripts/setup.sh)"
command -v busybox >/dev/null || fail_early "busybox not found: install busybox-static (scripts/setup.sh)"
for b in cpio python3 depmod modprobe; do
	command -v $b >/dev/null || fail_early "$b not found (scripts/setup.sh)"
done

# Every option of selftests/config and of the suites' own config fragments.
KCONFIG=/boot/config-$KVER
[ -r "$KCONFIG" ] || fail_early "$KCONFIG missing"
declare -A KCFG
while IFS= read -r line; do
	case $line in CONFIG_*=*) KCFG[${line%%=*}]=${line#*=} ;; esac
done <"$KCONFIG"
missing=
for frag in selftests/config ${VMTEST_CONFIG:-} "${SEL_SUITES[@]/#/selftests/}"; do
	[ -d "$frag" ] && frag=$frag/config
	[ -f "$frag" ] || continue
	while IFS= read -r line; do
		case $line in
		CONFIG_*=*)
			opt=${line%%=*}
			case ${KCFG[$opt]:-} in
			y|m) ;;
			'') missing+=" $opt (not set; $frag)" ;;
			*) missing+=" $opt (=${KCFG[$opt]}; $frag)" ;;
			esac
			;;
		"# CONFIG_"*" is not set")
			opt=${line#\# }
			opt=${opt%% *}
			case ${KCFG[$opt]:-} in
			y|m) missing+=" $opt=n ($frag)" ;;
			esac
			;;
		esac
	done <"$frag"
done
[ -z "$missing" ] || fail_early "kernel $KVER lacks:$missing"

VMLINUX=$O/vmtest-kernel/vmlinux-$KVER
if [ ! -s "$VMLINUX" ] || [ "/boot/vmlinuz-$KVER" -nt "$VMLINUX" ]; then
	mkdir -p "${VMLINUX%/*}"
	say "extracting $VMLINUX from /boot/vmlinuz-$KVER"
	selftests/vm/extract-vmlinux "/boot/vmlinuz-$KVER" "$VMLINUX" ||
		fail_early "cannot extract vmlinux from /boot/vmlinuz-$KVER"
fi

# --- remus.ko --------------------------------------------------------------

KO=${REMUS_KO-remus.ko}
KO_PROBLEM=
if [ -z "$KO" ] || [ ! -f "$KO" ]; then
	KO_PROBLEM=${REMUS_KO_PROBLEM:-"remus.ko missing: build it with 'make module'"}
	KO=
else
	kv=$(modinfo -F vermagic "$KO" 2>/dev/null | cut -d' ' -f1)
	if [ "$kv" != "$KVER" ]; then
		KO_PROBLEM="$KO was built for '$kv', the VM runs $KVER (KDIR?)"
		KO=
	fi
fi

# --- initramfs -------------------------------------------------------------
#
# Two cpio archives, concatenated (the kernel unpacks one after the
# other): a base (busybox, the host programs with their libraries, the
# Debian modules), cached by its inputs, and the run's own part (init,
# the suites, the plan, remus.ko).

declare -A COPIED
# copy_file ROOT HOSTPATH [DEST]: into ROOT at the same path (or DEST)
copy_file()
{
	local root=$1 src=$2 dst=${3:-$2}
	[ -n "${COPIED[$root$dst]+x}" ] && return 0
	COPIED[$root$dst]=1
	mkdir -p "$root${dst%/*}"
	cp -L "$src" "$root$dst"
}

# copy_elf ROOT HOSTPATH [DEST]: a program or library and its ldd closure
copy_elf()
{
	local root=$1 src=$2 dst=${3:-$2} lib
	copy_file "$root" "$src" "$dst" || return 1
	[ "$(head -c 4 "$src")" = $'\x7fELF' ] || return 0
	for lib in $(ldd "$src" 2>/dev/null | grep -o '/[^ ]*'); do
		copy_file "$root" "$lib"
	done
}

# mkcpio DIR OUT
mkcpio()
{
	(cd "$1" && find . -print0 | LC_ALL=C sort -z |
		cpio --null -o -H newc --quiet -R 0:0) >"$2.tmp" && mv "$2.tmp" "$2"
}

bins="/bin/busybox $BASE_BINARIES"
mods=$BASE_MODULES
for s in "${SEL_SUITES[@]}"; do
	bins+=" ${S_BINARIES[$s]}"
	mods+=" ${S_MODULES[$s]}"
done
for b in $bins; do
	[ -x "$b" ] || fail_early "$b not found on the host (scripts/setup.sh)"
done
key=$( (echo "$KVER $mods"; stat -L -c '%n %Y %s' $bins selftests/vm/run.sh) |
	sha1sum | cut -c1-12)
BASE_CPIO=$O/vmtest-kernel/base-$KVER-$key.cpio
if [ ! -s "$BASE_CPIO" ]; then
	say "building the initramfs base $BASE_CPIO"
	B=$O/vmtest-kernel/base.$$
	rm -rf "$B"
	mkdir -p "$B"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,tmp,run,root,etc}
	for b in $bins; do
		copy_elf "$B" "$b" || fail_early "cannot copy $b"
	done
	# netem's delay distributions
	tcdir=$(dpkg -L iproute2 2>/dev/null | grep '/tc/normal.dist$' | head -n 1)
	if [ -n "$tcdir" ]; then
		mkdir -p "$B${tcdir%/*}"
		cp "${tcdir%/*}"/*.dist "$B${tcdir%/*}/"
	fi
	# Debian modules, dependencies first, each once, without the host's
	# modprobe.d options; depmod'ed for the kernel's own requests.
	: >"$B/etc/modules.load"
	for m in $mods; do
		deps=$(modprobe -C /dev/null -S "$KVER" --show-depends "$m" 2>&1) ||
			fail_early "kernel $KVER has no module '$m': $deps"
		while read -r verb path _; do
			[ "$verb" = insmod ] || continue
			[ -n "${COPIED[$B$path]+x}" ] && continue
			copy_file "$B" "$path" || fail_early "cannot copy $path"
			echo "$path" >>"$B/etc/modules.load"
		done <<<"$deps"
	done
	for f in modules.order modules.builtin modules.builtin.modinfo; do
		copy_file "$B" "/lib/modules/$KVER/$f" 2>/dev/null
	done
	depmod -b "$B" "$KVER" 2>"$WORK/depmod.log" ||
		fail_early "depmod failed: $(cat "$WORK/depmod.log")"
	rm -f "$O"/vmtest-kernel/base-"$KVER"-*.cpio
	mkcpio "$B" "$BASE_CPIO" || fail_early "cpio failed"
	rm -rf "$B"
fi

R=$WORK/initramfs
rm -rf "$R"
mkdir -p "$R"/selftests/{lib,vm}
cp selftests/lib/tap.sh selftests/lib/runner.sh "$R/selftests/lib/"
cp selftests/vm/init "$R/init"
cp selftests/vm/setup.sh "$R/selftests/vm/"
chmod +x "$R/init" "$R/selftests/lib/runner.sh" "$R/selftests/vm/setup.sh"
if [ -n "$KO" ]; then
	copy_file "$R" "$KO" "/lib/modules/$KVER/extra/remus.ko"
fi
{
	echo "KVER=$KVER"
	[ -n "$KO" ] && echo "REMUS_KO=/lib/modules/$KVER/extra/remus.ko"
} >"$R/selftests/env"

# Suites: the source directory's files but C sources, the built programs
# (tests and their helpers) and test modules, each ELF with its closure.
for s in "${SEL_SUITES[@]}"; do
	d=$R/selftests/$s
	mkdir -p "$d"
	for f in selftests/"$s"/*; do
		[ -f "$f" ] || continue
		case $f in *.c|*.h|*.o|*.d) continue ;; esac
		cp -p "$f" "$d/"
	done
	for f in "$O"/selftests/"$s"/* "$O"/selftests/"$s"/kmod/*.ko; do
		[ -f "$f" ] || continue
		case $f in *.o|*.d) continue ;; esac
		if [ -x "$f" ] || [[ $f == *.ko ]]; then
			copy_elf "$R" "$f" "/selftests/$s/${f##*/}"
		fi
	done
done

# The plan: SUITE TEST TIMEOUT NEEDS PATH (or !REASON).
TOTAL_TIMEOUT=$BOOT_TIMEOUT
: >"$R/selftests/plan"
for i in "${!T_NAME[@]}"; do
	s=${T_SUITE[$i]} src=${T_SRC[$i]} needs=${T_NEEDS[$i]}
	exe=/selftests/$s/$src
	if [ ! -e "$R$exe" ]; then
		if [ -e "selftests/$s/$src.c" ]; then
			exe="!not built: $O/selftests/$s/$src missing (run make)"
		else
			exe="!selftests/$s/$src not found"
		fi
	elif [ ! -x "$R$exe" ]; then
		exe="!selftests/$s/$src is not executable"
	elif [ "$needs" = remus.ko ] && [ -n "$KO_PROBLEM" ]; then
		exe="!$KO_PROBLEM"
	fi
	echo "$s ${T_NAME[$i]} ${T_TIMEOUT[$i]} $needs $exe" >>"$R/selftests/plan"
	TOTAL_TIMEOUT=$((TOTAL_TIMEOUT + T_TIMEOUT[i] + 5))
done
TOTAL_TIMEOUT=${VMTEST_TIMEOUT:-$((TOTAL_TIMEOUT + 60))}

CPIO=$WORK/initramfs.cpio
mkcpio "$R" "$WORK/run.cpio" || fail_early "cpio failed"
cat "$BASE_CPIO" "$WORK/run.cpio" >"$CPIO"

# --- boot ------------------------------------------------------------------

APPEND="console=ttyS0 panic=-1 oops=panic softlockup_panic=1"
APPEND+=" tsc=reliable no_timer_check cryptomgr.notests random.trust_cpu=on"
# Under TCG the TSC is calibrated wrong and kernel time ran about ten
# times too fast against the host's (seen here): every timeout and sleep
# in a test was a tenth of what it said. HPET keeps time.
APPEND+=" 8250.nr_uarts=2 clocksource=hpet ${VMTEST_APPEND:-}"

QPID=
cleanup()
{
	[ -n "$QPID" ] && kill "$QPID" 2>/dev/null
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now() { date +%s; }

# scan TAPFILE: show the results that arrived since the last call and
# move the deadline: a test's timeout plus GRACE from its header, GRACE
# from anything else.
scan()
{
	local lines line
	lines=$(wc -l <"$1")
	[ "$lines" -gt "$SEEN" ] || return 0
	while IFS= read -r line; do
		case $line in
		"# selftests: "*)
			CUR=${line#\# selftests: }
			CUR=${CUR/: /:}
			DEADLINE=$(($(now) + $(timeout_of "$CUR") + GRACE))
			;;
		"ok "*|"not ok "*)
			# The VM numbers each boot from 1: show names
			# only, results.tap has the real numbers.
			sed 's/^\(\(not \)\{0,1\}ok\) [0-9]* /\1 /' <<<"$line" >&2
			CUR=
			DEADLINE=$(($(now) + GRACE))
			;;
		"$MARKER_DONE"*)
			DEADLINE=$(($(now) + GRACE))
			;;
		esac
	done < <(sed -n "$((SEEN + 1)),${lines}p" "$1" | tr -d '\r')
	SEEN=$lines
}

# boot N SKIP: one VM run starting after the first SKIP plan entries.
# Sets BOOT_RC (qemu's status, 124 for the whole-run timeout) and
# STALL (why the host killed the VM, or empty).
boot()
{
	local n=$1 skip=$2 tap=$WORK/tap.$1.txt con=$WORK/console.$1.log
	: >"$tap"
	STALL=
	SEEN=0
	CUR=
	timeout -k 5 "$((RUN_END - $(now)))" "$QEMU" -accel tcg -m "$MEM" -smp 1 -M pc \
		-no-reboot -nodefaults -no-user-config -display none \
		-kernel "$VMLINUX" -initrd "$CPIO" \
		-serial "file:$con" -serial "file:$tap" \
		-device isa-debug-exit,iobase=0xf4,iosize=0x04 \
		-append "$APPEND vmtest.skip=$skip" </dev/null &
	QPID=$!
	DEADLINE=$(($(now) + BOOT_TIMEOUT))
	while kill -0 "$QPID" 2>/dev/null; do
		scan "$tap"
		if [ "$(now)" -gt "$DEADLINE" ]; then
			if [ -n "$CUR" ]; then
				STALL="no output for $(timeout_of "$CUR") + $GRACE s while $CUR ran: the VM hung"
			elif [ "$SEEN" -eq 0 ]; then
				STALL="no TAP within $BOOT_TIMEOUT s of starting qemu: the boot hung"
			else
				STALL="the VM went silent for $GRACE s between tests"
			fi
			kill "$QPID" 2>/dev/null
			break
		fi
		sleep 0.2
	done
	wait "$QPID"
	BOOT_RC=$?
	QPID=
	scan "$tap"
	tr -d '\r' <"$tap" >"$tap.tmp" && mv "$tap.tmp" "$tap"
	{
		echo "===== boot $n (tests after #$skip of the plan; qemu status $BOOT_RC) ====="
		cat "$con"
	} >>"$WORK/console.log"
	cat "$tap" >>"$WORK/tap.txt"
}

declare -A TIMEOUT_OF
for i in "${!T_NAME[@]}"; do
	TIMEOUT_OF[${T_SUITE[$i]}:${T_NAME[$i]}]=${T_TIMEOUT[$i]}
done
timeout_of() { echo "${TIMEOUT_OF[$1]:-$DEFAULT_TIMEOUT}"; }

# A boot's stream, split into blocks: tests with a result, and the one
# with a header but no result (the VM died running it).
# collect N: append boot N's finished tests to results; set DONE (plan
# entries finished, counting the crashed one) and DIED_IN.
collect()
{
	local tap=$1 name='' line out=$WORK/block.txt status directive
	DIED_IN=
	COLLECTED=0
	: >"$out"
	while IFS= read -r line; do
		case $line in
		"# selftests: "*)
			name=${line#\# selftests: }
			name=${name/: /:}
			: >"$out"
			;;
		"ok "*|"not ok "*)
			[[ $line == "not ok"* ]] && status=NOTOK || status=OK
			directive=
			[[ $line == *" # "* ]] && directive=${line#* # }
			emit "$name" "$status" "$directive" "$out"
			[ "${name%%:*}" = vm ] || COLLECTED=$((COLLECTED + 1))
			name=
			;;
		"# "*|"#")
			if [ -n "$name" ]; then
				line=${line#\#}
				printf '%s\n' "${line# }" >>"$out"
			fi
			;;
		esac
	done <"$tap"
	DIED_IN=$name
}

say "kernel $KVER, $NT tests in ${#SEL_SUITES[@]} suites (${SEL_SUITES[*]}), remus.ko: ${KO:-none${KO_PROBLEM:+ ($KO_PROBLEM)}}"
RUN_END=$(($(now) + TOTAL_TIMEOUT))
DONE=0
BOOTN=0
while [ "$DONE" -lt "$NT" ] || [ "$BOOTN" -eq 0 ]; do
	BOOTN=$((BOOTN + 1))
	t0=$(date +%s.%N)
	boot "$BOOTN" "$DONE"
	t1=$(date +%s.%N)
	tap=$WORK/tap.$BOOTN.txt
	collect "$tap"
	DONE=$((DONE + COLLECTED))
	why=
	if grep -q "Kernel panic" "$WORK/console.$BOOTN.log"; then
		why="kernel panic: $(grep -m1 -o 'Kernel panic.*' "$WORK/console.$BOOTN.log" | tr -d '\r')"
	elif [ -n "$STALL" ]; then
		why=$STALL
	elif [ "$BOOT_RC" -eq 124 ] || [ "$BOOT_RC" -eq 137 ]; then
		why="whole-run timeout ($TOTAL_TIMEOUT s) hit"
	elif ! grep -q "^$MARKER_DONE" "$tap"; then
		why="the VM stopped before the end marker (qemu status $BOOT_RC)"
	elif grep -q "^$MARKER_OK" "$tap" && [ "$BOOT_RC" -ne 1 ]; then
		why="success marker but qemu status $BOOT_RC (expected 1)"
	elif ! grep -q "^$MARKER_OK" "$tap" && [ "$BOOT_RC" -ne 3 ]; then
		why="qemu status $BOOT_RC after a run with failures (expected 3)"
	fi
	secs=$(echo "$t1 - $t0" | bc)
	{
		echo "qemu status $BOOT_RC, $secs s, ${COLLECTED} tests finished"
		[ -n "$why" ] && echo "$why" && echo "--- end of the console ---" &&
			tail -n 40 "$WORK/console.$BOOTN.log" | tr -d '\r' |
				sed 's/^/console| /'
	} >"$WORK/why"
	if [ -n "$why" ]; then
		FAILED_RUN=1
		if [ -n "$DIED_IN" ]; then
			emit "$DIED_IN" NOTOK "the VM died running it: $why" "$WORK/why"
			if [ "${DIED_IN%%:*}" = vm ]; then
				DIED_IN=
			else
				DONE=$((DONE + 1))
			fi
		fi
		emit vm:run NOTOK "boot $BOOTN: $why" "$WORK/why"
		say "boot $BOOTN failed: $why"
		# Without progress there is nothing to resume.
		if [ -z "$DIED_IN" ] && [ "$COLLECTED" -eq 0 ]; then
			break
		fi
		if [ "$BOOTN" -gt "$REBOOTS" ] || [ "$(now)" -ge "$RUN_END" ]; then
			break
		fi
		[ "$DONE" -lt "$NT" ] && say "rebooting for the remaining $((NT - DONE)) tests"
	else
		emit vm:run OK "boot $BOOTN, $secs s" "$WORK/why"
		break
	fi
done
# Whatever never ran.
for ((i = DONE; i < NT; i++)); do
	emit "${T_SUITE[$i]}:${T_NAME[$i]}" NOTOK "not run: the VM died before it"
done
finish
