// SPDX-License-Identifier: GPL-2.0
/*
 * The host unit test selftests/unit/test_dirty.c, built again for the VM suite
 * (Debian 12's 6.1 kernel), where the methods the host lacks run and those
 * the VM kernel lacks skip.
 */
#include "../unit/test_dirty.c"
