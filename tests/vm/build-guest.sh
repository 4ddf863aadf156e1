#!/bin/bash
# tests/vm/build-guest.sh -- build the tiny Linux guest the tests/vm scenarios
# boot under QEMU, once, into a cache directory.
#
#   tests/vm/build-guest.sh [CACHE_DIR]
#
# CACHE_DIR defaults to $HANGAR_VM_CACHE, else $HANGAR_BUILD_DIR/vm-cache,
# else ~/.cache/hangar-vm.  On success the last line on stdout is the cache
# directory, which holds:
#   vmlinuz       Debian's cloud kernel (linux-image-*-cloud-amd64, unpacked
#                 with dpkg -x: nothing is installed on the host)
#   initrd.img    busybox-static + the virtio modules + /init (below)
#   stamp         checksums: this script, busybox, the kernel package, and the
#                 two outputs; anything that differs rebuilds the cache
#
# Packages (qemu-system-x86 qemu-utils socat busybox-static cpio, and attr
# for the tests' getfattr/setfattr) are installed with
# apt-get when missing and we are root, unless HANGAR_NO_INSTALL=1.  Exit 77
# with "SKIPPED: reason" when they truly cannot be had.
#
# The guest's /init loads virtio_ring, virtio, virtio_pci_modern_dev,
# virtio_pci_legacy_dev, virtio_pci, virtio_blk (in that order) and runs the
# mode named on the kernel command line:
#   hangar.mode=writer   writes 4 KiB block N (N = hangar.start, +1, ...) of
#                        /dev/vda, at block hangar.base + N, filled with 256
#                        records "blk %010d \n" of N, with dd conv=fsync
#                        oflag=direct, and prints "WROTE N" once the write
#                        and its flush completed; forever (hangar.limit=K
#                        stops after block K-1), at most one block every
#                        hangar.delay (usleep microseconds, default 0).
#   hangar.mode=verifier reads blocks hangar.start .. hangar.count-1 with
#                        iflag=direct and prints "OK N" or "BAD N" for each,
#                        then "VERIFY DONE bad=B" and powers off.
#   hangar.mode=shell    an interactive busybox shell on the console.
# Every boot prints "HANGAR-GUEST BOOTED mode=M" once /dev/vda is there.
# Serial lines end in \r\n.
set -uo pipefail

skip() { echo "SKIPPED: $*"; exit 77; }
die() { echo "build-guest: $*" >&2; exit 1; }
note() { echo "build-guest: $*" >&2; }

SELF=$(readlink -f "$0")
if [ $# -ge 1 ]; then
	CACHE=$1
elif [ -n "${HANGAR_VM_CACHE:-}" ]; then
	CACHE=$HANGAR_VM_CACHE
elif [ -n "${HANGAR_BUILD_DIR:-}" ]; then
	CACHE=$HANGAR_BUILD_DIR/vm-cache
else
	CACHE=${HOME:-/root}/.cache/hangar-vm
fi
mkdir -p "$CACHE" || die "cannot create $CACHE"
CACHE=$(readlink -f "$CACHE")

# One builder at a time per cache (ctest -j, two developers' runs).
exec 9>"$CACHE/.lock"
flock -w 600 9 || die "timed out waiting for the lock on $CACHE"

# --- packages ------------------------------------------------------------
busybox_static() {
	local b
	for b in /bin/busybox /usr/bin/busybox; do
		[ -x "$b" ] || continue
		# A static busybox: no interpreter, no dynamic section.
		if ! LC_ALL=C ldd "$b" 2>&1 | grep -q '=>'; then
			echo "$b"
			return 0
		fi
	done
	return 1
}

missing_pkgs() {
	command -v qemu-system-x86_64 >/dev/null || echo qemu-system-x86
	command -v qemu-img >/dev/null || echo qemu-utils
	command -v getfattr >/dev/null || echo attr
	command -v socat >/dev/null || echo socat
	busybox_static >/dev/null || echo busybox-static
	command -v cpio >/dev/null || echo cpio
	command -v gzip >/dev/null || echo gzip
}

need=$(missing_pkgs | tr '\n' ' ')
if [ -n "${need// /}" ]; then
	if [ "${HANGAR_NO_INSTALL:-0}" = 1 ]; then
		skip "missing packages ($need) and HANGAR_NO_INSTALL=1"
	fi
	[ "$(id -u)" = 0 ] || skip "missing packages ($need) and not root to install them"
	command -v apt-get >/dev/null || skip "missing packages ($need) and no apt-get"
	note "installing $need"
	# shellcheck disable=SC2086
	if ! DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y -q $need >&2; then
		timeout 600 apt-get update -q >&2
		# shellcheck disable=SC2086
		DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y -q $need >&2 ||
			skip "apt-get install $need failed"
	fi
	need=$(missing_pkgs | tr '\n' ' ')
	[ -z "${need// /}" ] || skip "still missing after apt-get: $need"
fi
BUSYBOX=$(busybox_static) || skip "no static busybox"

sha() { sha256sum "$1" | cut -d' ' -f1; }

# --- the kernel package ----------------------------------------------------
# Reuse a kernel package already in the cache; download one otherwise.
kdeb() { ls -1 "$CACHE"/linux-image-*-cloud-amd64_*.deb 2>/dev/null | sort -V | tail -n 1; }
KDEB=$(kdeb)
if [ -n "$KDEB" ] && ! dpkg-deb --info "$KDEB" >/dev/null 2>&1; then
	note "cached kernel package $KDEB is damaged; downloading again"
	rm -f "$KDEB"
	KDEB=
fi
if [ -z "$KDEB" ]; then
	command -v apt-get >/dev/null || skip "no apt-get to download the cloud kernel"
	resolve() {
		apt-cache depends linux-image-cloud-amd64 2>/dev/null |
			awk '/Depends: linux-image-[0-9]/ { print $2; exit }'
	}
	pkg=$(resolve)
	if [ -z "$pkg" ] && [ "$(id -u)" = 0 ] && [ "${HANGAR_NO_INSTALL:-0}" != 1 ]; then
		timeout 600 apt-get update -q >&2
		pkg=$(resolve)
	fi
	[ -n "$pkg" ] || skip "cannot resolve linux-image-cloud-amd64 (apt lists missing?)"
	note "downloading $pkg"
	(cd "$CACHE" && timeout 600 apt-get download -q "$pkg" >&2 2>&1) ||
		skip "apt-get download $pkg failed"
	KDEB=$(kdeb)
	[ -n "$KDEB" ] || skip "apt-get download $pkg left no package"
fi

# --- the stamp: is the cache current? ---------------------------------------
WANT="script=$(sha "$SELF") busybox=$(sha "$BUSYBOX") kernel=$(basename "$KDEB") kernel_sha=$(sha "$KDEB")"
if [ -f "$CACHE/stamp" ] && [ -f "$CACHE/vmlinuz" ] && [ -f "$CACHE/initrd.img" ] &&
	[ "$(sed -n 1p "$CACHE/stamp")" = "$WANT" ] &&
	[ "$(sed -n 2p "$CACHE/stamp")" = "vmlinuz=$(sha "$CACHE/vmlinuz") initrd=$(sha "$CACHE/initrd.img")" ]; then
	note "cache is current: $CACHE"
	echo "$CACHE"
	exit 0
fi
note "building the guest in $CACHE"
rm -f "$CACHE/stamp"

STAGE=$(mktemp -d "$CACHE/stage.XXXXXX") || die "mktemp"
trap 'rm -rf "$STAGE"' EXIT

dpkg -x "$KDEB" "$STAGE/k" || die "dpkg -x $KDEB"
VMLINUZ=$(ls -1 "$STAGE"/k/boot/vmlinuz-* 2>/dev/null | head -n 1)
[ -n "$VMLINUZ" ] || die "no /boot/vmlinuz-* in $KDEB"
KVER=${VMLINUZ##*/vmlinuz-}
MODDIR=$STAGE/k/lib/modules/$KVER

R=$STAGE/root
mkdir -p "$R"/{bin,dev,proc,sys,tmp,lib/modules} || die mkdir
cp "$BUSYBOX" "$R/bin/busybox" || die "copy busybox"
ln -s busybox "$R/bin/sh"

# The virtio modules, in load order.  A module that is built into this kernel
# is simply absent; a compressed one is unpacked here (busybox insmod may not).
MODS="virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci virtio_blk"
found=0
for m in $MODS; do
	f=$(find "$MODDIR" -name "$m.ko" -o -name "$m.ko.xz" -o -name "$m.ko.zst" -o -name "$m.ko.gz" | head -n 1)
	[ -n "$f" ] || continue
	case "$f" in
	*.xz) xz -dc "$f" >"$R/lib/modules/$m.ko" ;;
	*.zst) zstd -qdc "$f" >"$R/lib/modules/$m.ko" ;;
	*.gz) gzip -dc "$f" >"$R/lib/modules/$m.ko" ;;
	*) cp "$f" "$R/lib/modules/$m.ko" ;;
	esac || die "unpack $f"
	found=$((found + 1))
done
grep -q '^CONFIG_VIRTIO_BLK=y' "$STAGE"/k/boot/config-* 2>/dev/null ||
	[ -f "$R/lib/modules/virtio_blk.ko" ] || die "kernel $KVER has no virtio_blk"
echo "$MODS" >"$R/lib/modules/order"

cat >"$R/init" <<'INIT'
#!/bin/busybox sh
# hangar test guest (tests/vm/build-guest.sh)
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
exec </dev/console >/dev/console 2>&1
for m in $(cat /lib/modules/order); do
	[ -f /lib/modules/$m.ko ] || continue
	insmod /lib/modules/$m.ko 2>/tmp/insmod.err ||
		grep -q 'File exists' /tmp/insmod.err ||
		echo "hangar-guest: insmod $m: $(cat /tmp/insmod.err)"
done

mode=shell start=0 count=0 base=0 limit= delay=0
for w in $(cat /proc/cmdline); do
	case $w in
	hangar.mode=*) mode=${w#*=} ;;
	hangar.start=*) start=${w#*=} ;;
	hangar.count=*) count=${w#*=} ;;
	hangar.base=*) base=${w#*=} ;;
	hangar.limit=*) limit=${w#*=} ;;
	hangar.delay=*) delay=${w#*=} ;;
	esac
done

i=0
while [ ! -b /dev/vda ] && [ $i -lt 100 ]; do usleep 100000; i=$((i + 1)); done
[ -b /dev/vda ] || { echo "hangar-guest: no /dev/vda"; poweroff -f; }
blocks=$(($(cat /sys/block/vda/size) / 8))
echo "HANGAR-GUEST BOOTED mode=$mode start=$start base=$base blocks=$blocks ro=$(cat /sys/block/vda/ro)"

pattern() { awk -v n="$1" 'BEGIN { for (i = 0; i < 256; i++) printf "blk %010d \n", n }'; }

case $mode in
writer)
	n=$start
	while [ -z "$limit" ] || [ $n -lt $limit ]; do
		if [ $((base + n)) -ge $blocks ]; then
			echo "WRITER FULL $n"
			break
		fi
		pattern $n >/tmp/b
		if dd if=/tmp/b of=/dev/vda bs=4096 seek=$((base + n)) count=1 \
			conv=fsync,notrunc oflag=direct 2>/tmp/dd.err; then
			echo "WROTE $n"
			n=$((n + 1))
		else
			echo "WRITE-ERROR $n: $(tr '\n' ' ' </tmp/dd.err)"
			sleep 1
		fi
		[ "$delay" = 0 ] || usleep $delay
	done
	echo "WRITER DONE"
	while :; do sleep 3600; done
	;;
verifier)
	bad=0 n=$start
	while [ $n -lt $count ]; do
		pattern $n >/tmp/e
		if dd if=/dev/vda of=/tmp/r bs=4096 skip=$((base + n)) count=1 \
			iflag=direct 2>/dev/null && cmp -s /tmp/e /tmp/r; then
			echo "OK $n"
		else
			echo "BAD $n"
			bad=$((bad + 1))
		fi
		n=$((n + 1))
	done
	echo "VERIFY DONE bad=$bad"
	poweroff -f
	;;
*)
	echo "hangar-guest: shell"
	exec setsid cttyhack sh
	;;
esac
INIT
chmod 755 "$R/init"

(cd "$R" && find . | LC_ALL=C sort | cpio -o -H newc --quiet --owner 0:0 | gzip -9 -n) \
	>"$STAGE/initrd.img" || die "cpio"
cp "$VMLINUZ" "$STAGE/vmlinuz" || die "copy vmlinuz"
mv -f "$STAGE/vmlinuz" "$CACHE/vmlinuz" && mv -f "$STAGE/initrd.img" "$CACHE/initrd.img" ||
	die "install into $CACHE"
# Keep only the kernel package in use.
for f in "$CACHE"/linux-image-*.deb; do
	[ "$f" = "$KDEB" ] || rm -f "$f"
done
{
	echo "$WANT"
	echo "vmlinuz=$(sha "$CACHE/vmlinuz") initrd=$(sha "$CACHE/initrd.img")"
	echo "kernel_version=$KVER modules=$found"
} >"$CACHE/stamp.new" && mv -f "$CACHE/stamp.new" "$CACHE/stamp" || die "stamp"
note "built: kernel $KVER, $found virtio modules, initrd $(stat -c %s "$CACHE/initrd.img") bytes"
echo "$CACHE"
