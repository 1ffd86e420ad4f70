# SPDX-License-Identifier: GPL-2.0
#
# `make` builds remus.ko and all userspace; `make check` runs every suite
# that fits CI; `make help` lists the rest.

KVER_NEWEST := $(shell ls -d /usr/src/linux-headers-*-amd64 2>/dev/null | sort -V | tail -n 1)
KDIR ?= $(or $(wildcard /lib/modules/$(shell uname -r)/build),$(KVER_NEWEST))
KVER ?= $(shell sed -n 's/.*UTS_RELEASE "\(.*\)"/\1/p' $(KDIR)/include/generated/utsrelease.h 2>/dev/null)

O ?= build
CC ?= gcc
PKG_CONFIG ?= pkg-config
CFLAGS ?= -O2 -g
WERROR ?=
XCFLAGS := -std=gnu11 -Wall -Wextra -Wshadow -Wno-unused-parameter \
	-Wmissing-prototypes -Wstrict-prototypes -fno-strict-aliasing \
	-D_GNU_SOURCE -MMD -MP -Iinclude/uapi -Ilib $(if $(WERROR),-Werror)

# Libraries the userspace needs, by pkg-config name.
PKGS := libmnl libnl-3.0 libnl-route-3.0 libsodium zlib liblz4 libzstd \
	xencontrol xenguest xenstore xentoollog xenlight
PKG_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null)

all: module userspace

LIBREMUS := $(O)/libremus.a

# Fragments add to these.
LIB_SRCS :=
PROGS :=
TEST_PROGS :=
CLEAN :=

include lib/lib.mk
include daemon/daemon.mk
-include selftests/e2e/e2e.mk
-include selftests/xen/xen.mk
include selftests/selftests.mk
-include guest/guest.mk
-include bench/bench.mk
-include selftests/fuzz/fuzz.mk

LIB_OBJS := $(LIB_SRCS:%.c=$(O)/%.o)

userspace: $(PROGS) $(TEST_PROGS)

$(O)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(XCFLAGS) $(PKG_CFLAGS) $(CFLAGS) -c -o $@ $<

$(LIBREMUS): $(LIB_OBJS)
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

module:
	@test -n "$(KDIR)" || { echo "no kernel build tree: install linux-headers-amd64 or set KDIR" >&2; exit 1; }
	$(MAKE) -C $(KDIR) M=$(CURDIR) O= CONFIG_DEBUG_INFO_BTF_MODULES= modules

module-w1:
	$(MAKE) -C $(KDIR) M=$(CURDIR) O= CONFIG_DEBUG_INFO_BTF_MODULES= W=1 C=2 modules

setup:
	scripts/setup.sh

# The output-commit proof for 1,000 trials, in the test VM; the result
# goes to bench/soak/results.md.
soak: all
	O=$(O) bench/soak/run.sh

# The demo: in the test VM unless this kernel already has remus.ko loaded.
demo: all
	O=$(O) scripts/demo.sh

clean:
	rm -rf $(O) $(CLEAN)
	$(MAKE) -C $(KDIR) M=$(CURDIR) O= clean 2>/dev/null || true

help:
	@echo "make            module and userspace"
	@echo "make setup      install the Debian packages build and tests need"
	@echo "make check      every suite that fits CI, ends with 'N passed, N failed'"
	@echo "make unittest   userspace unit tests on the host"
	@echo "make vmtest     kernel suites in a TCG VM (SUITES=net TESTS=name)"
	@echo "make xentest    Xen end-to-end suite in nested Xen (CASES=remusd-destroy)"
	@echo "make demo       the proc-backend failover demo"
	@echo "make style      checkpatch on the module"
	@echo "make sparse     W=1 and sparse (C=2) on the module"
	@echo "make harness-selftest  prove the VM harness fails what it must"

.PHONY: all userspace module module-w1 setup clean help demo soak

-include $(LIB_OBJS:.o=.d)

# Objects made through pattern chains stay: no rebuild, no rm noise.
.SECONDARY:
