# SPDX-License-Identifier: GPL-2.0
# remusd and remusctl, each from daemon/<prog>*.c.
REMUSD_SRCS := $(wildcard daemon/remusd*.c)
PROGS += $(if $(REMUSD_SRCS),$(O)/remusd) $(O)/remusctl

REMUSCTL_SRCS := $(wildcard daemon/remusctl*.c)
REMUSD_OBJS := $(REMUSD_SRCS:%.c=$(O)/%.o)
REMUSCTL_OBJS := $(REMUSCTL_SRCS:%.c=$(O)/%.o)

$(O)/remusd: $(REMUSD_OBJS) $(LIBREMUS)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) -lpthread

$(O)/remusctl: $(REMUSCTL_OBJS) $(LIBREMUS)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

-include $(REMUSD_OBJS:.o=.d) $(REMUSCTL_OBJS:.o=.d)
