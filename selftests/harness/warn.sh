#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Exits 0 but makes the kernel WARN: the runner's dmesg check must fail it.
KO=$(dirname "$0")/harness_ksft.ko
if [ ! -f "$KO" ]; then
	echo "# $KO missing: make selftests builds it"
	exit 1
fi
insmod "$KO" action=warn
echo "ok 1 insmod returned (status $?)"
echo "1..1"
exit 0
