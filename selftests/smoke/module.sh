#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# remus.ko (loaded by the runner before this test) unloads and loads
# again, and its generic netlink family comes and goes with it.

. "$(dirname "$0")/../lib/tap.sh"

GF=$(dirname "$0")/genl_family
need_remus_ko

tap_plan 8
tap_expect_eq "module live" live "$(cat /sys/module/remus/initstate 2>&1)"
tap_check "family remus registered" $GF query remus
tap_expect_eq "module not in use" 0 "$(cat /sys/module/remus/refcnt 2>&1)"
tap_check "rmmod remus" rmmod remus
tap_expect_eq "module gone" absent \
	"$([ -e /sys/module/remus ] && echo present || echo absent)"
GONE=$($GF query remus 2>&1)
RC=$?
tap_expect_eq "family gone after rmmod" "1: genl_family: remus: no such family" \
	"$RC: $GONE"
tap_check "insmod remus.ko again" insmod "$REMUS_KO"
tap_check "family back after insmod" $GF query remus

tap_done
