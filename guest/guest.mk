# SPDX-License-Identifier: GPL-2.0
# The proc backend's guest side: libremus-guest and the demo guest.
#
# libremus-guest.a carries lib/proc/guest_proto.o as well (the protocol that
# both sides speak), so a guest program links with it alone.

GUEST_LIB_SRCS := guest/remus_guest.c lib/proc/guest_proto.c
LIBGUEST := $(O)/libremus-guest.a
GUEST_PROGS := $(O)/demo-guest
PROGS += $(LIBGUEST) $(GUEST_PROGS)

$(LIBGUEST): $(GUEST_LIB_SRCS:%.c=$(O)/%.o)
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

$(O)/demo-guest: $(O)/guest/demo-guest.o $(LIBGUEST)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^

# Tests that run a guest of their own link the guest library too ($^ of
# the rules in selftests.mk picks it up); test_guest runs demo-guest. The
# VM suite selftests/proc builds the same tests and carries its own copy of
# demo-guest (the VM gets $(O)/selftests/proc/*).
GUEST_TESTS := $(addprefix $(O)/selftests/unit/,test_dirty test_proc test_guest) \
	$(addprefix $(O)/selftests/proc/,dirty proc guest)
$(GUEST_TESTS): $(LIBGUEST)
$(O)/selftests/unit/test_guest: | $(O)/demo-guest
$(O)/selftests/proc/guest: | $(O)/selftests/proc/demo-guest
$(O)/selftests/proc/demo-guest: $(O)/demo-guest
	@mkdir -p $(dir $@)
	cp $< $@
TEST_PROGS += $(O)/selftests/proc/demo-guest

-include $(O)/guest/remus_guest.d $(O)/guest/demo-guest.d

# The dirty-tracking benchmark builds with the guest library.
-include bench/dirty/dirty.mk
