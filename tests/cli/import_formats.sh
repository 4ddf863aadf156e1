#!/bin/bash
# tests/cli/import_formats.sh -- `hangar import` of qcow2, vmdk, vhdx and vdi
# disks made by qemu-img from a raw image of known data: the format is
# detected (qemu-img info), the disk is converted to raw through qemu-img,
# its bytes are the source's (qemu-img compare, and cmp of an export), and
# it stays sparse (stored = the data, not the virtual size).  Mounted, the
# same through the daemon.  Without qemu-img such a disk is refused with the
# reason, never imported as raw bytes.
source "$(dirname "$0")/../lib.bash"
cli_setup
need qemu-img

h init store
expect_rc 0 "init"
# 256 MiB virtual, 3 MiB of random data, one run of zeros written out.
make_sparse src.raw 256M 0 100 255
dd if=/dev/zero of=src.raw bs=1M seek=50 count=4 conv=notrunc status=none
formats="qcow2 vmdk vhdx vdi"
for f in $formats; do
	qemu-img convert -f raw -O "$f" src.raw "src.$f" || fail "qemu-img convert to $f"
done

stored_of() { # GUEST -> disk.raw's stored bytes
	h status store "$1" --json
	json_get "$OUT" '[o["used"] for o in j["disks"] if o["name"]=="disk.raw"][0]'
}

for f in $formats; do
	h import store "g-$f" --disk "src.$f"
	expect_rc 0 "import $f"
	expect_out "^  disk.raw +256M virtual, 3.0M stored  <- src.$f converted from $f$" "import $f summary"
	h export store "g-$f" "out-$f"
	expect_rc 0 "export g-$f"
	cmp src.raw "out-$f/disk.raw" || fail "$f: the imported disk differs from the source"
	qemu-img compare -q -f raw -F "$f" "out-$f/disk.raw" "src.$f" || fail "$f: qemu-img compare"
	[ "$(stored_of "g-$f")" = $((3 * 1048576)) ] || fail "$f: not sparse: stored $(stored_of "g-$f")"
done
# raw is still copied as it is (no conversion).
h import store g-raw --disk src.raw
expect_rc 0 "import raw"
expect_out '^  disk.raw +256M virtual, 3.0M stored  <- src.raw$' "raw is not converted"
# --format names the format (no detection); a wrong one fails in qemu-img.
h import store g-forced --disk src.qcow2 --format qcow2
expect_rc 0 "import --format qcow2"
h import store g-wrong --disk src.qcow2 --format vdi
expect_rc 1 "import --format vdi of a qcow2 image"
expect_err 'converting the vdi image to raw failed' "wrong --format"
h ls store
! grep -q '^g-wrong ' "$OUT" || fail "a failed conversion left a guest"
h import store g-bad --disk src.qcow2 --format vpc
expect_rc 2 "import --format of an unsupported format"

# No temporary file is left anywhere (O_TMPFILE).
[ -z "$(find store -mindepth 1 -maxdepth 1 ! -name '*.hangar' ! -name '.hangar-store')" ] ||
	fail "files left in the store: $(ls -a store)"

# Without qemu-img: refused with the reason.
mkdir nobin
for tool in bash env timeout setsid; do ln -s "$(command -v $tool)" nobin/; done
PATH=$WORK/nobin h import store g-noqemu --disk src.vmdk
expect_rc 1 "import of a vmdk without qemu-img"
expect_err 'is a vmdk image, and qemu-img \(qemu-utils\) is not installed' "no qemu-img"
PATH=$WORK/nobin h import store g-noqemu-raw --disk src.raw
expect_rc 0 "import of raw without qemu-img"

# ---- mounted: converted, then copied through the mount -------------------------
need_fuse
mnt=$WORK/mnt
unmount_at_exit "$mnt"
h mount store "$mnt"
expect_rc 0 "mount"
wait_mounted "$mnt"
for f in qcow2 vhdx; do
	h import store "m-$f" --disk "src.$f"
	expect_rc 0 "mounted import $f"
	qemu-img compare -q -f raw -F "$f" "$mnt/m-$f/disk.raw" "src.$f" || fail "mounted $f: qemu-img compare"
	[ "$(stat -c %b "$mnt/m-$f/disk.raw")" -le $((4 * 2048)) ] ||
		fail "mounted $f: not sparse ($(stat -c %b "$mnt/m-$f/disk.raw") blocks)"
done
h umount "$mnt"
expect_rc 0 "umount"
echo "PASS"
