# SPDX-License-Identifier: GPL-2.0
# Benchmarks that build with the tree (included by the top Makefile).
#
#   make bench            the engine benchmarks of bench/engine: runs
#                         bench/engine/run.sh, which rewrites
#                         bench/engine/results.md and its plots (minutes)
#   make bench-engine     builds bench/engine's program only

ENGBENCH_SRCS := $(wildcard bench/engine/*.c)
ENGBENCH := $(O)/bench/engine/engbench
ENGBENCH_OBJS := $(ENGBENCH_SRCS:%.c=$(O)/%.o)

$(ENGBENCH_OBJS): XCFLAGS += -Iguest

$(ENGBENCH): $(ENGBENCH_OBJS) $(LIBREMUS) $(O)/libremus-guest.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) -lpthread

bench-engine: $(ENGBENCH) $(O)/remusd $(O)/demo-guest

bench: bench-engine
	O=$(O) bench/engine/run.sh

.PHONY: bench bench-engine

-include $(ENGBENCH_OBJS:.o=.d)
