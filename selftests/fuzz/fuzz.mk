# SPDX-License-Identifier: GPL-2.0
# libFuzzer targets for the replication link's decoders and the daemon's
# control-socket parser.
#
#   make fuzz                  build, seed and run each target FUZZ_SECONDS
#                              (default 30), TAP on stdout
#   make fuzz FUZZ_SECONDS=600 a longer run (docs/fuzzing.md)
#   make fuzz-build            build only
#
# The targets compile the wire-layer sources themselves, instrumented,
# rather than linking libremus.a: only the code under test needs the
# fuzzer's coverage and sanitizers, and the rest of the library is not
# needed. Needs Debian's clang and libclang-rt-14-dev.

FUZZ_CC ?= clang
FUZZ_SECONDS ?= 30
FUZZ_O := $(O)/fuzz
FUZZ_TARGETS := fuzz_wire fuzz_decompress fuzz_ctl
FUZZ_LIB_SRCS := lib/wire.c lib/wire_body.c lib/wire_batch.c \
	lib/compress.c lib/delta.c lib/ctlsock.c
FUZZ_LIBS := $(shell $(PKG_CONFIG) --libs libsodium zlib liblz4 libzstd 2>/dev/null)
FUZZ_CFLAGS := -std=gnu11 -g -O1 -D_GNU_SOURCE -Ilib \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	$(shell $(PKG_CONFIG) --cflags libsodium 2>/dev/null)
FUZZ_BINS := $(FUZZ_TARGETS:%=$(FUZZ_O)/%)

$(FUZZ_O)/fuzz_%: selftests/fuzz/fuzz_%.c $(FUZZ_LIB_SRCS) $(wildcard lib/wire*.h lib/compress.h lib/delta.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $< $(FUZZ_LIB_SRCS) $(FUZZ_LIBS)

$(FUZZ_O)/gen_corpus: selftests/fuzz/gen_corpus.c $(FUZZ_LIB_SRCS)
	@mkdir -p $(dir $@)
	$(CC) $(XCFLAGS) $(PKG_CFLAGS) $(CFLAGS) -o $@ $< $(FUZZ_LIB_SRCS) $(FUZZ_LIBS)

fuzz-build: $(FUZZ_BINS) $(FUZZ_O)/gen_corpus

fuzz: fuzz-build
	@FUZZ_O=$(FUZZ_O) FUZZ_SECONDS=$(FUZZ_SECONDS) \
		selftests/fuzz/run.sh $(FUZZ_TARGETS)

.PHONY: fuzz fuzz-build
