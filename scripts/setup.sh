#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Install every Debian 12 package the build, the tests and the demo need.
# Run as root (or with sudo) on a fresh machine; safe to run again.
set -eu

PKGS="
build-essential pkg-config bc kmod cpio xz-utils python3 git
linux-image-amd64 linux-headers-amd64 linux-source-6.1
qemu-system-x86 busybox-static iproute2
libmnl-dev libnl-3-dev libnl-route-3-dev libnl-genl-3-dev
libsodium-dev zlib1g-dev liblz4-dev libzstd-dev
sparse clang libclang-rt-14-dev fio gnuplot-nox dmsetup
"

SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# The Xen backend builds against libxen-dev; the nested Xen test bed
# (make xentest) needs Xen itself and a few tools: selftests/xen/packages.
PKGS="$PKGS $(grep -v '^[[:space:]]*\(#\|$\)' "$(dirname "$0")/../selftests/xen/packages" | tr '\n' ' ')"
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $PKGS
