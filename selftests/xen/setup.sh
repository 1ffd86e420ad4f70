#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Install (or with --check, only verify) the Debian packages listed in
# selftests/xen/packages. Safe to run again; waits for a running apt.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
mapfile -t pkgs < <(grep -v '^[[:space:]]*\(#\|$\)' "$here/packages")

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
	echo "xen test bed: all ${#pkgs[@]} packages installed"
	exit 0
fi
if [ "${1:-}" = --check ]; then
	echo "xen test bed: missing packages: ${missing[*]}" >&2
	exit 1
fi
SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
for try in $(seq 1 60); do
	if $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"; then
		exit 0
	fi
	# Another apt may hold the lock; an empty package list needs an update.
	[ "$try" -eq 1 ] && $SUDO apt-get update -q || true
	sleep 10
done
echo "setup.sh: apt-get install ${missing[*]} kept failing" >&2
exit 1
