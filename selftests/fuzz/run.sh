#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# run.sh TARGET...: run each libFuzzer target in $FUZZ_O for $FUZZ_SECONDS
# seconds on a corpus seeded by gen_corpus, and print TAP: one line per
# target with its exec count, "not ok" with the crash input's path and
# the fuzzer's report when it found one. Exit 1 if any target failed.
set -u
O=${FUZZ_O:-build/fuzz}
SECS=${FUZZ_SECONDS:-30}
n=0
failed=0

[ $# -gt 0 ] || { echo "usage: run.sh TARGET..." >&2; exit 2; }
rm -rf "$O/seeds"
"$O/gen_corpus" "$O/seeds" || { echo "run.sh: gen_corpus failed" >&2; exit 1; }

echo "TAP version 13"
echo "1..$#"
for t in "$@"; do
	n=$((n + 1))
	sub=${t#fuzz_}
	corpus="$O/corpus/$sub"
	art="$O/artifacts/$sub/"
	log="$O/$t.log"
	mkdir -p "$corpus" "$art"
	# The corpus grows across runs; the seeds keep it anchored.
	"$O/$t" -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 \
		-max_len=65536 -print_final_stats=1 -artifact_prefix="$art" \
		"$corpus" "$O/seeds/$sub" >"$log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	cov=$(sed -n 's/.*cov: \([0-9]*\).*/\1/p' "$log" | tail -n 1)
	if [ $rc -eq 0 ]; then
		echo "ok $n $t # ${execs:-?} execs in ${SECS} s, cov ${cov:-?}"
	else
		failed=$((failed + 1))
		echo "not ok $n $t"
		echo "# expected no crash in ${SECS} s, saw exit $rc after ${execs:-?} execs"
		for a in "$art"*; do
			[ -e "$a" ] && echo "# input: $a"
		done
		grep -E 'ERROR|SUMMARY|runtime error|#[0-9]+ ' "$log" | head -n 20 |
			sed 's/^/# /'
	fi
done
[ $failed -eq 0 ]
