#!/bin/bash
# tests/fs/corrupt.sh -- a corrupt or truncated container fails only its own
# guest, with EIO and one log line; the rest of the mount keeps working and
# the daemon stays up (DESIGN.md invariant 6).
. "$(dirname "$0")/functions.bash"
fs_setup dd cmp

fs_mount
for g in good bad cut; do
	mkdir "$MNT/$g" || fail "mkdir $g"
	t dd if=/dev/urandom of="$MNT/$g/disk.raw" bs=1M count=4 status=none
	echo "guest $g" >"$MNT/$g/config"
done
t cp "$MNT/good/disk.raw" "$WORK/good.raw"
fs_umount

log "garbage over bad.hangar's head, cut.hangar truncated"
t dd if=/dev/urandom of="$STORE/bad.hangar" bs=64k count=8 conv=notrunc status=none
t truncate -s 1000 "$STORE/cut.hangar"
fs_mount

[ "$(ls "$MNT" | tr '\n' ' ')" = "bad cut good " ] || fail "root listing: $(ls "$MNT")"
for g in bad cut; do
	expect_fail "Input/output error" ls "$MNT/$g"
	expect_fail "Input/output error" cat "$MNT/$g/config"
	expect_log "$g: container $STORE/$g.hangar cannot be opened"
done
[ "$(grep -c "bad: container" "$HFS_LOG")" = 1 ] || fail "corrupt guest logged more than once"
[ "$(cat "$MNT/good/config")" = "guest good" ] || fail "good guest config"
t cmp "$WORK/good.raw" "$MNT/good/disk.raw" || fail "good guest disk"
t mkdir "$MNT/new" || fail "mkdir after corrupt guests"
echo hi >"$MNT/new/config" || fail "write in a new guest"
kill -0 "$HFS_PID" || fail "daemon died"
fs_umount
echo PASS
