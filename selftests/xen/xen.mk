# SPDX-License-Identifier: GPL-2.0
# make xentest: the Xen end-to-end suite (nested Xen under qemu TCG), the
# same stage `make check` runs; selftests/xen/check-stage.sh says what.
# CASES="remusd-destroy remusd-linkcut" picks some.
xentest: module userspace
	@mkdir -p $(O)/check
	O=$(O) selftests/xen/check-stage.sh $(CASES) >$(O)/check/xen.tap; \
		scripts/tap-summary $(O)/check/xen.tap

.PHONY: xentest
