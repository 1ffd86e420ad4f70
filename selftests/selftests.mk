# SPDX-License-Identifier: GPL-2.0
# Tests: how they build and the targets that run them (selftests/README.md).
#
# Host unit tests: selftests/unit/test_*.c, one binary each, linked with
# libremus. VM suites: selftests/<suite>/ with a vm.tests manifest; each
# selftests/<suite>/*.c becomes $(O)/selftests/<suite>/<name> (libremus,
# $(PKG_LIBS), kselftest_harness.h on the include path), and each
# selftests/<suite>/kmod/*.c a test module $(O)/selftests/<suite>/kmod/*.ko.
#
# kselftest_harness.h, kselftest.h and checkpatch.pl come from Debian's
# linux-source tarball, extracted once into $(O)/linux-src.

LIBREMUS_A := $(O)/libremus.a

LINUX_SRC_TAR ?= $(lastword $(sort $(wildcard /usr/src/linux-source-*.tar.xz)))
LINUX_SRC := $(O)/linux-src
LINUX_SRC_STAMP := $(LINUX_SRC)/.extracted
KSFT_DIR := $(LINUX_SRC)/tools/testing/selftests
CHECKPATCH := $(LINUX_SRC)/scripts/checkpatch.pl
LINUX_SRC_MEMBERS := '*/tools/testing/selftests/kselftest_harness.h' \
	'*/tools/testing/selftests/kselftest.h' '*/scripts/checkpatch.pl' \
	'*/scripts/spelling.txt' '*/scripts/const_structs.checkpatch'

$(LINUX_SRC_STAMP):
	@test -n "$(LINUX_SRC_TAR)" || { echo "no /usr/src/linux-source-*.tar.xz: run scripts/setup.sh" >&2; exit 1; }
	@rm -rf $(LINUX_SRC) && mkdir -p $(LINUX_SRC)
	@echo "  EXTRACT $(LINUX_SRC) (kselftest headers, checkpatch)"
	tar -xJf $(LINUX_SRC_TAR) -C $(LINUX_SRC) --strip-components=1 --wildcards $(LINUX_SRC_MEMBERS)
	@touch $@

UNIT_SRCS := $(wildcard selftests/unit/test_*.c)
UNIT_PROGS := $(UNIT_SRCS:%.c=$(O)/%)
TEST_PROGS += $(UNIT_PROGS)

$(UNIT_PROGS): $(O)/selftests/unit/%: $(O)/selftests/unit/%.o $(LIBREMUS_A)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) -lpthread

VM_SUITE_DIRS := $(patsubst %/vm.tests,%,$(wildcard selftests/*/vm.tests))
SUITE_SRCS := $(foreach d,$(VM_SUITE_DIRS),$(wildcard $(d)/*.c))
SUITE_PROGS := $(SUITE_SRCS:%.c=$(O)/%)
TEST_PROGS += $(SUITE_PROGS)

$(SUITE_PROGS): $(O)/%: $(O)/%.o $(LIBREMUS_A)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) -lpthread

TEST_OBJS := $(UNIT_PROGS:=.o) $(SUITE_PROGS:=.o)
# -isystem: the harness header itself does not build warning-free. Its
# macros also expand to functions without prototypes (FIXTURE_SETUP) and to
# signed/unsigned comparisons (EXPECT_EQ(1, some_u32)), and table-driven
# tests leave fields of their static cases zero on purpose.
$(TEST_OBJS): XCFLAGS += -isystem $(KSFT_DIR) -Wno-missing-prototypes \
	-Wno-sign-compare -Wno-missing-field-initializers
$(TEST_OBJS): | $(LINUX_SRC_STAMP)

# Test modules: copied into $(O) and built there, so that kbuild's
# by-products stay out of the source tree.
SUITE_KMOD_DIRS := $(wildcard selftests/*/kmod)
SUITE_KMODS := $(SUITE_KMOD_DIRS:%=$(O)/%/.built)

define suite_kmod
$(O)/$(1)/.built: $(wildcard $(1)/*.c)
	@test -n "$(KDIR)" || { echo "no kernel build tree: install linux-headers-amd64 or set KDIR" >&2; exit 1; }
	@mkdir -p $(O)/$(1)
	cp $(1)/*.c $(O)/$(1)/
	echo 'obj-m := $(notdir $(patsubst %.c,%.o,$(wildcard $(1)/*.c)))' >$(O)/$(1)/Kbuild
	$(MAKE) -C $(KDIR) M=$(abspath $(O)/$(1)) O= CONFIG_DEBUG_INFO_BTF_MODULES= modules
	@touch $$@
endef
$(foreach d,$(SUITE_KMOD_DIRS),$(eval $(call suite_kmod,$(d))))

-include $(TEST_OBJS:.o=.d)

# --- running them --------------------------------------------------------

# Kbuild takes O from the command line as its output directory: the
# kbuild calls above reset it; the scripts get it in their environment,
# and KDIR, whose kernel the VM boots.
RUN_ENV = O=$(O) KDIR=$(KDIR)
# Suites, as `make vmtest SUITES="net dm" TESTS=release_through_n`; run
# `selftests/vm/run.sh -l` for the list.
SUITES ?=
TESTS ?=
export SUITES TESTS

selftests: $(TEST_PROGS) $(SUITE_KMODS)

# remus.ko is built first; if it does not build, the suites that need it
# fail (saying so) and the others still run.
vmtest: selftests
	@if $(MAKE) --no-print-directory module; then \
		$(RUN_ENV) selftests/vm/run.sh; \
	else \
		$(RUN_ENV) REMUS_KO= REMUS_KO_PROBLEM="remus.ko does not build (make module)" \
			selftests/vm/run.sh; \
	fi

unittest: $(UNIT_PROGS)
	@$(RUN_ENV) selftests/check.sh unit

# Everything that fits CI; builds what it needs itself and counts a
# build that fails as a failed check. Ends with "N passed, N failed".
check:
	@$(RUN_ENV) MAKE="$(MAKE)" selftests/check.sh

# Proves the VM harness fails what it must (selftests/harness/).
harness-selftest: $(SUITE_KMODS)
	@$(RUN_ENV) MAKE="$(MAKE)" selftests/check.sh harness

# checkpatch on the module and the uapi header.
STYLE_FILES = $(wildcard kmod/*.c kmod/*.h) include/uapi/linux/remus.h
KHDR_COMMON = $(lastword $(sort $(wildcard /usr/src/linux-headers-*-common)))

# Outside a git tree, checkpatch takes the kernel's CamelCase types (Qdisc)
# from --root's headers; in one (GIT_DIR) it would look in ours. It leaves a
# cache file in the current directory and needs the paths relative (it
# knows include/uapi/ by name): it runs in $(O)/checkpatch, which links to
# kmod/ and include/.
style: $(LINUX_SRC_STAMP)
	@mkdir -p $(O)/checkpatch
	@ln -sfn $(CURDIR)/kmod $(O)/checkpatch/kmod
	@ln -sfn $(CURDIR)/include $(O)/checkpatch/include
	cd $(O)/checkpatch && GIT_DIR=/nonexistent $(abspath $(CHECKPATCH)) \
		--no-tree --strict --quiet --root=$(KHDR_COMMON) --show-types \
		-f $(STYLE_FILES)

# W=1 and sparse (C=2) on the module; fails on any warning of ours.
sparse:
	@test -n "$(KDIR)" || { echo "no kernel build tree: install linux-headers-amd64 or set KDIR" >&2; exit 1; }
	@mkdir -p $(O)
	@$(MAKE) -C $(KDIR) M=$(CURDIR) O= CONFIG_DEBUG_INFO_BTF_MODULES= W=1 C=2 \
		modules >$(O)/sparse.log 2>&1; rc=$$?; cat $(O)/sparse.log; \
	if [ $$rc -ne 0 ]; then echo "sparse: the module does not build" >&2; exit 1; fi; \
	if grep -E '(^|/)(kmod|include)/[^ :]*:[0-9]+(:[0-9]+)?: (warning|error)' $(O)/sparse.log >/dev/null; then \
		echo "sparse: warnings above (W=1 C=2)" >&2; exit 1; fi

.PHONY: selftests vmtest unittest check harness-selftest style sparse
