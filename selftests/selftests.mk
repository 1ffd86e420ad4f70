# SPDX-License-Identifier: GPL-2.0
# Test programs. Host unit tests: selftests/unit/test_*.c, one binary each,
# linked with libremus. Kernel suites: selftests/<suite>/*.c built the same
# way into build/selftests/<suite>/, run in the VM (selftests/vm/).

UNIT_SRCS := $(wildcard selftests/unit/test_*.c)
UNIT_PROGS := $(UNIT_SRCS:%.c=$(O)/%)
TEST_PROGS += $(UNIT_PROGS)

$(O)/selftests/unit/%: $(O)/selftests/unit/%.o $(LIBREMUS)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) -lpthread

-include $(UNIT_PROGS:=.d)
