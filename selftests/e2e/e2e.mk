# SPDX-License-Identifier: GPL-2.0
# The e2e suite runs the real programs: copies of them go next to its own
# test programs, where the VM harness picks a suite's executables up.
E2E_PROGS := remusd remusctl demo-guest
E2E_COPIES := $(E2E_PROGS:%=$(O)/selftests/e2e/%) \
	$(E2E_PROGS:%=$(O)/selftests/demo/%) $(O)/selftests/demo/seqcheck
TEST_PROGS += $(E2E_COPIES)

$(O)/selftests/e2e/%: $(O)/%
	@mkdir -p $(dir $@)
	cp $< $@

$(O)/selftests/demo/%: $(O)/%
	@mkdir -p $(dir $@)
	cp $< $@

$(O)/selftests/demo/seqcheck: $(O)/selftests/e2e/seqcheck
	@mkdir -p $(dir $@)
	cp $< $@
