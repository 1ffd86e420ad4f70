# SPDX-License-Identifier: GPL-2.0
# Benchmarks of the proc backend's building blocks (bench/dirty/results.md).
# Included from guest/guest.mk: they link libremus and libremus-guest.

DIRTY_BENCHES := $(patsubst %.c,$(O)/%,$(wildcard bench/dirty/bench-*.c))
PROGS += $(DIRTY_BENCHES)

$(O)/bench/dirty/%: $(O)/bench/dirty/%.o $(LIBREMUS) $(LIBGUEST)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ -lpthread

-include $(DIRTY_BENCHES:=.d)
