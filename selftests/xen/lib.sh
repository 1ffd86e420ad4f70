# SPDX-License-Identifier: GPL-2.0
# Shared by the host-side scripts of the nested Xen test bed: paths and the
# helpers that put binaries with their shared-library closure into a root.

XT_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
XT_TOP=$(cd "$XT_SRC/../.." && pwd)
XT_OUT=${XT_OUT:-$XT_TOP/build/xen}
XT_KVER=${XT_KVER:-$(ls /boot/vmlinuz-*-amd64 2>/dev/null | sed 's#.*/vmlinuz-##' | sort -V | tail -n 1)}
XT_XENGZ=${XT_XENGZ:-/boot/xen-4.17-amd64.gz}
XT_XENBIN=/usr/lib/xen-4.17/bin

xt_die() { echo "${0##*/}: $*" >&2; exit 1; }

# xt_install ROOT SRC [DST]: copy one file into ROOT (at DST, default the
# same path), with every shared library it needs, following symlinks.
xt_install()
{
	local root=$1 src=$2 dst=${3:-$2} lib
	[ -e "$src" ] || xt_die "missing $src"
	mkdir -p "$root$(dirname "$dst")"
	cp -L --preserve=mode "$src" "$root$dst"
	for lib in $(ldd "$src" 2>/dev/null | sed -n 's#.*=> \(/[^ ]*\).*#\1#p; s#^[[:space:]]*\(/[^ ]*\) (.*#\1#p'); do
		[ -e "$root$lib" ] && continue
		mkdir -p "$root$(dirname "$lib")"
		cp -L "$lib" "$root$lib"
	done
}

# xt_modules ROOT MODULE...: copy the modules and their dependencies and
# write ROOT/etc/modules.order, the insmod lines in load order.
xt_modules()
{
	local root=$1; shift
	local m line ko args
	mkdir -p "$root/lib/modules/$XT_KVER" "$root/etc"
	: >"$root/etc/modules.order"
	for m in "$@"; do
		modprobe -S "$XT_KVER" --show-depends "$m" | while read -r line; do
			case $line in
			insmod\ *)
				set -- $line
				ko=$2; shift 2; args="$*"
				grep -q "^$ko\b" "$root/etc/modules.order" && continue
				mkdir -p "$root$(dirname "$ko")"
				cp "$ko" "$root$ko"
				echo "$ko $args" >>"$root/etc/modules.order"
				;;
			builtin\ *) ;;
			*) xt_die "modprobe: $line" ;;
			esac
		done
	done
}

# xt_busybox ROOT [SKIP...]: busybox-static with a link per applet, except
# the names in SKIP (real tools installed at those names win).
xt_busybox()
{
	local root=$1; shift
	local a skip=" $* "
	mkdir -p "$root/bin" "$root/sbin" "$root/usr/bin" "$root/usr/sbin"
	cp /bin/busybox "$root/bin/busybox"
	for a in $(/bin/busybox --list); do
		case $skip in *" $a "*) continue ;; esac
		[ -e "$root/bin/$a" ] || ln -s busybox "$root/bin/$a"
	done
}

# xt_cpio ROOT OUT: pack ROOT as a newc archive (uncompressed: Xen and the
# kernel then only copy it, which is what costs least under TCG).
xt_cpio()
{
	(cd "$1" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) >"$2.tmp"
	mv "$2.tmp" "$2"
}

# xt_vmlinux BZIMAGE OUT: the uncompressed ELF kernel inside a bzImage (the
# XZ stream that decompresses to an ELF), stripped.
xt_vmlinux()
{
	python3 - "$1" "$2.tmp" <<'PY' || xt_die "no ELF kernel inside $1"
import lzma, sys
d = open(sys.argv[1], 'rb').read()
i = d.find(b'\xfd7zXZ\x00')
while i >= 0:
    try:
        out = lzma.LZMADecompressor().decompress(d[i:])
        if out.startswith(b'\x7fELF'):
            open(sys.argv[2], 'wb').write(out)
            sys.exit(0)
    except lzma.LZMAError:
        pass
    i = d.find(b'\xfd7zXZ\x00', i + 1)
sys.exit(1)
PY
	objcopy --strip-all "$2.tmp" "$2" && rm -f "$2.tmp"
}
