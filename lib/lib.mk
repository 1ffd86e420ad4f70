# SPDX-License-Identifier: GPL-2.0
# libremus: every lib/*.c and lib/*/*.c goes into build/libremus.a.
LIB_SRCS += $(wildcard lib/*.c) $(wildcard lib/*/*.c)
