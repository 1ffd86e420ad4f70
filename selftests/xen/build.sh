#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Build the nested Xen test bed's artifacts under build/xen/ (cached; a
# part is redone only when its inputs are newer):
#   xen           the uncompressed hypervisor (qemu's multiboot loader needs it)
#   vmlinux       Debian's kernel as an uncompressed ELF: dom0 and domU
#   bin/          the test programs (selftests/xen/Makefile)
#   guest.cpio.gz the domU's busybox initramfs with its workload
#   base.cpio     dom0's root: busybox, bash, iproute2, Xen tools and daemons
#                 with their ldd closures, kernel modules, the domU kernel
#   dom0.cpio     base.cpio + the scripts and programs (rebuilt every time)
# Project binaries ride along when present: ./remus.ko, build/remusd,
# build/remusctl go to /xt/project/ (XT_PROJECT=DIR takes all three from
# DIR instead, e.g. a `make O=DIR` tree with the module copied in);
# XT_EXTRA="SRC[:DST] ..." adds more.
set -eu
. "$(dirname "$0")/lib.sh"

"$XT_SRC/setup.sh" --check
mkdir -p "$XT_OUT"
cd "$XT_OUT"

newer() { [ ! -e "$1" ] || [ -n "$(find "${@:2}" -newer "$1" 2>/dev/null | head -n 1)" ]; }

if newer xen "$XT_XENGZ"; then
	zcat "$XT_XENGZ" >xen.tmp && mv xen.tmp xen
fi
if newer vmlinux "/boot/vmlinuz-$XT_KVER"; then
	xt_vmlinux "/boot/vmlinuz-$XT_KVER" vmlinux
fi

make -s -C "$XT_SRC" OUT="$XT_OUT" ${XT_MAKE_TARGETS:-all}

# The domU's initramfs.
if newer guest.cpio.gz "$XT_SRC/guest" bin/seqguest "$XT_SRC/lib.sh"; then
	rm -rf guest.root && mkdir -p guest.root/{proc,sys,dev,etc}
	xt_busybox guest.root
	cp bin/seqguest guest.root/bin/
	cp "$XT_SRC/guest/init" guest.root/init && chmod +x guest.root/init
	xt_modules guest.root xen-netfront xen-blkfront
	xt_cpio guest.root guest.cpio
	gzip -1 -f guest.cpio
fi

# dom0's root, the part that changes only with the packages.
DOM0_TOOLS="xl xenstored xenconsoled xenconsole libxl-save-helper xen-init-dom0
	xenstore-control lsevtchn verify-stream-v2 convert-legacy-stream"
DOM0_MODULES="xenfs xen-evtchn xen-privcmd xen-gntdev xen-gntalloc xen-netback
	xen-blkback loop dm-mod ifb sch_ingress act_mirred cls_matchall cls_u32
	sch_plug sch_netem veth bridge tun dm-delay"
# (dm-delay: XT_NODM=delay in scenarios/remusd.sh.)
# Real tools that must win over busybox applets of the same name (the
# hotplug scripts and tests rely on their full behaviour).
REAL_TOOLS="/sbin/ip /sbin/tc /sbin/bridge /usr/bin/flock /usr/bin/stat
	/sbin/losetup /usr/bin/readlink /usr/bin/socat /usr/bin/timeout
	/usr/sbin/dmsetup /usr/bin/nsenter /usr/bin/date"
if newer base.cpio "$XT_SRC/build.sh" "$XT_SRC/lib.sh" "$XT_SRC/packages" vmlinux \
	"$XT_XENBIN/xl" /etc/xen/scripts; then
	rm -rf base.root && mkdir -p base.root/{proc,sys,dev,etc,root,xt/guest}
	skip=
	for t in $REAL_TOOLS /bin/bash; do
		[ -e "$t" ] || continue
		xt_install base.root "$t"
		skip="$skip ${t##*/}"
	done
	# shellcheck disable=SC2086
	xt_busybox base.root $skip
	ln -sf bash base.root/bin/sh.bash
	for t in $DOM0_TOOLS; do
		xt_install base.root "$XT_XENBIN/$t"
	done
	xt_install base.root /usr/bin/xenstore
	for t in read write rm ls list exists chmod watch; do
		ln -sf xenstore "base.root/usr/bin/xenstore-$t"
	done
	for l in /lib/x86_64-linux-gnu/libnss_files.so.2 /lib/x86_64-linux-gnu/libgcc_s.so.1; do
		xt_install base.root "$l"
	done
	mkdir -p base.root/etc/xen base.root/var/lib base.root/var/log
	cp -a /etc/xen/scripts base.root/etc/xen/
	cp /etc/xen/xl.conf base.root/etc/xen/
	echo 'root:x:0:0:root:/root:/bin/bash' >base.root/etc/passwd
	echo 'root:x:0:' >base.root/etc/group
	echo 'hosts: files' >base.root/etc/nsswitch.conf
	printf '127.0.0.1 localhost\n' >base.root/etc/hosts
	# shellcheck disable=SC2086
	xt_modules base.root $DOM0_MODULES
	# The guest's kernel: the same ELF image (no decompression in libxc).
	cp vmlinux base.root/xt/guest/vmlinux
	xt_cpio base.root base.cpio
fi

# dom0's test layer: rebuilt on every run, it is small.
rm -rf top.root && mkdir -p top.root/xt/{bin,guest,project}
cp "$XT_SRC/dom0/init" top.root/init && chmod +x top.root/init
cp "$XT_SRC/dom0/lib.sh" top.root/xt/lib.sh
cp -a "$XT_SRC/dom0/hotplug" top.root/xt/
cp -a "$XT_SRC/scenarios" top.root/xt/
cp bin/* top.root/xt/bin/
cp guest.cpio.gz top.root/xt/guest/initrd.cpio.gz
if [ -n "${XT_PROJECT:-}" ]; then
	project="$XT_PROJECT/remus.ko $XT_PROJECT/remusd $XT_PROJECT/remusctl"
else
	project="$XT_TOP/remus.ko $XT_TOP/build/remusd $XT_TOP/build/remusctl"
fi
for b in $project; do
	[ -e "$b" ] && xt_install top.root "$b" "/xt/project/${b##*/}"
done
for e in ${XT_EXTRA:-}; do
	xt_install top.root "${e%%:*}" "$([ "${e#*:}" != "$e" ] && echo "${e#*:}" || echo "/xt/extra/${e##*/}")"
done
xt_cpio top.root top.cpio
cat base.cpio top.cpio >dom0.cpio.tmp && mv dom0.cpio.tmp dom0.cpio
echo "build/xen: xen vmlinux dom0.cpio ($(($(stat -c %s dom0.cpio) >> 20)) MiB) ready"
