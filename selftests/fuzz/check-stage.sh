#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# make check's fuzz stage: every libFuzzer target for a bounded time
# (FUZZ_SECONDS, default 20 each), TAP from selftests/fuzz/run.sh.
cd "$(dirname "$0")/../.." || exit 1
make --no-print-directory -s fuzz-build >&2 || {
	echo "not ok 1 fuzz:build # the fuzz targets did not build (clang, libclang-rt-14-dev?)"
	exit 1
}
exec make --no-print-directory -s fuzz FUZZ_SECONDS="${FUZZ_SECONDS:-20}"
