#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# bench/compress/run.sh [bench_compress options]: build the compression
# micro-benchmark against the library's sources and write its table to
# bench/compress/results.md, with the machine and the command that made it.
# It measures the CPU time of one thread, so a busy machine skews it less
# than wall-clock time would; an idle one is still best.
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
		"$(nproc) cores, load average $(cut -d' ' -f1 /proc/loadavg) at the start." \
		"Times are the benchmark thread's CPU time (CLOCK_THREAD_CPUTIME_ID), so" \
		"MB/s is per core even when other work shares the machine; a loaded" \
		"machine still costs some through shared caches and memory bandwidth."
	echo "Compiler: $(${CC:-cc} --version | head -n 1), -O2."
	echo "Libraries: zlib $(pkg-config --modversion zlib), lz4 $(pkg-config --modversion liblz4)," \
		"zstd $(pkg-config --modversion libzstd), libsodium $(pkg-config --modversion libsodium)."
	echo
	cat "$tmp"
	cat <<'NOTES'

Reproduce: `bench/compress/run.sh [-p PAGES] [-w WORDS] [-t SECONDS] [-b BATCH]`
(defaults 16384, 4, 1, 256); it builds `build/bench/compress/bench_compress`
from the library's sources and rewrites this file.

Reading the table. "sparse": every page of a 64 MiB guest full of random
bytes gets WORDS random 8-byte words rewritten between checkpoints, the case
the Remus scheme is for; "random": every byte of every page rewritten. Encode
is the sender (delta against the page cache, then the batch codec), decode
the receiver (decompress, then apply onto its image, which the benchmark
checks equals the guest). Ratio is page bytes over payload bytes; entry
tables (16 bytes a page) and frame overhead (64 bytes a frame) come on top,
and the framing table gives the cost of tagging or encrypting frames. The
general codecs alone cannot shrink random page content (ratio 1.0); after
the XOR they find little more than the run-length code already took. zlib
(level 1) crawls through incompressible input: prefer lz4, or zstd.
NOTES
} >"$out"
rm -f "$tmp"
cat "$out"
