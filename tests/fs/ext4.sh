#!/bin/bash
# tests/fs/ext4.sh -- a real filesystem on disk.raw: mkfs.ext4, e2fsck -fn
# clean, loop-mount it (when loop devices work here), write files, unmount,
# e2fsck -fn clean again, and the same after a remount of the store.
. "$(dirname "$0")/../lib.bash"
fs_setup mkfs.ext4 e2fsck

fs_mount
mkdir "$MNT/web01" || fail "mkdir"
D=$MNT/web01/disk.raw
t truncate -s 512M "$D" || fail "truncate"
t mkfs.ext4 -q -F -E nodiscard "$D" || fail "mkfs.ext4"
t e2fsck -fn "$D" >"$WORK/fsck1.out" 2>&1 || { cat "$WORK/fsck1.out"; fail "e2fsck after mkfs"; }

LOOPMNT=$WORK/loop
mkdir "$LOOPMNT"
if command -v losetup >/dev/null && timeout 30 mount -o loop "$D" "$LOOPMNT" 2>/dev/null; then
	EXTRA_MOUNTS+=("$LOOPMNT")
	log "loop-mounted: writing files"
	t dd if=/dev/urandom of="$LOOPMNT/blob" bs=1M count=32 status=none || fail "write blob"
	for i in $(seq 1 200); do echo "file $i" >"$LOOPMNT/f$i"; done
	mkdir -p "$LOOPMNT/dir/sub" && cp "$LOOPMNT/blob" "$LOOPMNT/dir/sub/blob2"
	sum=$(md5sum <"$LOOPMNT/blob")
	t umount "$LOOPMNT" || fail "umount loop"
	t e2fsck -fn "$D" >"$WORK/fsck2.out" 2>&1 || { cat "$WORK/fsck2.out"; fail "e2fsck after use"; }
	fs_remount
	t e2fsck -fn "$D" >"$WORK/fsck3.out" 2>&1 || { cat "$WORK/fsck3.out"; fail "e2fsck after remount"; }
	t mount -o loop,ro,noload "$D" "$LOOPMNT" || fail "ro loop mount"
	[ "$(md5sum <"$LOOPMNT/dir/sub/blob2")" = "$sum" ] || fail "blob2 content"
	[ "$(cat "$LOOPMNT/f200")" = "file 200" ] || fail "f200"
	t umount "$LOOPMNT"
else
	log "loop devices unavailable here: skipping the loop-mount part"
	fs_remount
	t e2fsck -fn "$D" >"$WORK/fsck3.out" 2>&1 || { cat "$WORK/fsck3.out"; fail "e2fsck after remount"; }
fi
fs_umount
t "$HANGAR" check "$STORE" >/dev/null || fail "check"
echo PASS
