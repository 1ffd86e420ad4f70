#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# bench/compress/run.sh [bench_compress options]: build the compression
# micro-benchmark against the library's sources and write its table to
# bench/compress/results.md, with the machine and the command that made it.
# Run it on an idle machine: it measures one core.
set -eu
cd "$(dirname "$0")/../.."
O=${O:-build}
bin=$O/bench/compress/bench_compress
mkdir -p "$(dirname "$bin")"
# shellcheck disable=SC2046
${CC:-cc} -std=gnu11 -O2 -g -D_GNU_SOURCE -Wall -Wextra -Ilib \
	$(pkg-config --cflags libsodium) -o "$bin" bench/compress/bench_compress.c \
	lib/wire.c lib/wire_body.c lib/wire_batch.c lib/compress.c lib/delta.c \
	$(pkg-config --libs libsodium zlib liblz4 libzstd)

out=bench/compress/results.md
tmp=$(mktemp)
"$bin" "$@" >"$tmp"
{
	echo "# Checkpoint compression: throughput and ratio"
	echo
	echo "Made by \`bench/compress/run.sh $*\` on $(date -u +%Y-%m-%d)."
	echo "CPU: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)," \
		"$(nproc) cores; one core measured. Compiler: $(${CC:-cc} --version | head -n 1)."
	echo "Libraries: zlib $(pkg-config --modversion zlib), lz4 $(pkg-config --modversion liblz4)," \
		"zstd $(pkg-config --modversion libzstd), libsodium $(pkg-config --modversion libsodium)."
	echo
	cat "$tmp"
} >"$out"
rm -f "$tmp"
cat "$out"
