#!/bin/bash
# tests/fs/corrupt.sh -- a corrupt or truncated container, or one written by
# a newer hangar (an unknown incompatible feature bit), fails only its own
# guest, with EIO and one log line naming the guest, the errno and why; the
# rest of the mount keeps working and the daemon stays up (docs/design.md
# invariant 6).
. "$(dirname "$0")/../lib.bash"
fs_setup dd cmp python3

# set_unknown_incompat FILE : set incompat bit 63 in both superblocks (at 0
# and 4096; incompat at byte 16, crc32c of bytes 0..507 at 508), with valid
# checksums, so only the feature check can refuse it.
set_unknown_incompat() {
	timeout "$T" python3 - "$1" <<'PY'
import struct, sys
def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF
with open(sys.argv[1], "r+b") as f:
    for base in (0, 4096):
        f.seek(base)
        sb = bytearray(f.read(512))
        if struct.unpack_from("<I", sb, 508)[0] != crc32c(sb[:508]):
            sys.exit("superblock at %d: checksum is not crc32c of 0..507" % base)
        flags = struct.unpack_from("<Q", sb, 16)[0] | (1 << 63)
        struct.pack_into("<Q", sb, 16, flags)
        struct.pack_into("<I", sb, 508, crc32c(sb[:508]))
        f.seek(base)
        f.write(sb)
PY
}

fs_mount
for g in good bad cut newer; do
	mkdir "$MNT/$g" || fail "mkdir $g"
	t dd if=/dev/urandom of="$MNT/$g/disk.raw" bs=1M count=4 status=none
	echo "guest $g" >"$MNT/$g/config"
done
t cp "$MNT/good/disk.raw" "$WORK/good.raw"
fs_umount

log "garbage over bad.hangar's head, cut.hangar truncated, newer.hangar with an unknown feature"
t dd if=/dev/urandom of="$STORE/bad.hangar" bs=64k count=8 conv=notrunc status=none
t truncate -s 1000 "$STORE/cut.hangar"
set_unknown_incompat "$STORE/newer.hangar" || fail "patching newer.hangar"
fs_mount

[ "$(ls "$MNT" | tr '\n' ' ')" = "bad cut good newer " ] || fail "root listing: $(ls "$MNT")"
for g in bad cut newer; do
	expect_fail "Input/output error" ls "$MNT/$g"
	expect_fail "Input/output error" cat "$MNT/$g/config"
	expect_fail "Input/output error" stat "$MNT/$g/config"
	expect_log "$g: container $STORE/$g.hangar cannot be opened: "
	n=$(grep -c "$g: " "$HFS_LOG")
	[ "$n" = 1 ] || fail "guest $g: $n log lines, want exactly one"
done
expect_log "bad: container $STORE/bad.hangar cannot be opened: Structure needs cleaning"
# The errno's words alone ("Protocol not supported") tell nobody what to do:
# the line says why.
grep "newer: container" "$HFS_LOG" | grep -F "Protocol not supported: " |
	grep -qi "incompatible feature" ||
	fail "newer guest's line does not say why: $(grep "newer:" "$HFS_LOG")"
[ "$(cat "$MNT/good/config")" = "guest good" ] || fail "good guest config"
t cmp "$WORK/good.raw" "$MNT/good/disk.raw" || fail "good guest disk"
t mkdir "$MNT/new" || fail "mkdir after corrupt guests"
echo hi >"$MNT/new/config" || fail "write in a new guest"
kill -0 "$HFS_PID" || fail "daemon died"
fs_umount
echo PASS
