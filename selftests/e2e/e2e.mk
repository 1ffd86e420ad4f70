# SPDX-License-Identifier: GPL-2.0
# The e2e suite and the demo run the real programs: copies of them go
# next to their own test programs, where the VM harness picks a suite's
# executables up.
E2E_PROGS := remusd remusctl demo-guest
E2E_COPIES := $(E2E_PROGS:%=$(O)/selftests/e2e/%) \
	$(E2E_PROGS:%=$(O)/selftests/demo/%) $(O)/selftests/demo/seqcheck \
	$(E2E_PROGS:%=$(O)/selftests/soak/%) $(O)/selftests/soak/seqcheck \
	$(O)/selftests/net/remusctl $(O)/selftests/disk/remusctl
TEST_PROGS += $(E2E_COPIES)

$(O)/selftests/e2e/%: $(O)/%
	@mkdir -p $(dir $@)
	cp $< $@

$(O)/selftests/demo/%: $(O)/%
	@mkdir -p $(dir $@)
	cp $< $@

# The net and disk suites drive remusctl ($SUITE_DIR/remusctl).
$(O)/selftests/net/remusctl $(O)/selftests/disk/remusctl: $(O)/remusctl
	@mkdir -p $(dir $@)
	cp $< $@

$(O)/selftests/soak/%: $(O)/%
	@mkdir -p $(dir $@)
	cp $< $@

$(O)/selftests/soak/seqcheck $(O)/selftests/demo/seqcheck: $(O)/selftests/e2e/seqcheck
	@mkdir -p $(dir $@)
	cp $< $@
