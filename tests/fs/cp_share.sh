#!/bin/bash
# tests/fs/cp_share.sh -- copy_file_range inside a guest shares clusters
# (core/share.c), driven the way a user does it: `cp disk.raw base.raw`
# through the mount (coreutils cp copies with copy_file_range).
#   - the copy reads back equal, holes included (cp --sparse=never: see
#     below why), and a plain cp of a file without holes shares as well, and the container file
#     grows by metadata only (not by the 40 MiB copied)
#   - a write to either copy leaves the other as it was (copy-on-write)
#   - `cp .snapshots/S/FILE FILE` restores by sharing the snapshot's
#     clusters, which outlive the snapshot
#   - a copy whose offsets do not line up with clusters is copied, right
#   - after an unmount `hangar check` finds the store clean and the
#     container carries the shared-extents feature; a remount reads the
#     same bytes
. "$(dirname "$0")/../lib.bash"
fs_setup python3 cmp md5sum du

fs_mount
G=$MNT/web01
mkdir "$G" || fail "mkdir guest"

log "a 64 MiB disk: 40 MiB of data around an 8 MiB hole"
t dd if=/dev/urandom of="$WORK/orig.raw" bs=1M count=20 status=none || fail dd
t dd if=/dev/urandom of="$WORK/orig.raw" bs=1M seek=28 count=20 conv=notrunc status=none || fail dd
t truncate -s 64M "$WORK/orig.raw"
t dd if="$WORK/orig.raw" of="$G/disk.raw" bs=1M conv=sparse,fsync status=none || fail "dd into the mount"
before=$(du -B1 "$STORE/web01.hangar" | cut -f1)

log "cp --sparse=never disk.raw base.raw"
# coreutils 9.1 copies a file with holes by read/write under the default
# --sparse=auto and with copy_file_range under --sparse=never (the holes
# stay holes here all the same: hangar stores no all-zero cluster)
t cp --sparse=never "$G/disk.raw" "$G/base.raw" || fail "cp inside the guest"
t sync "$G/base.raw" || fail "fsync base.raw"
cmp "$G/disk.raw" "$G/base.raw" || fail "the copy differs"
after=$(du -B1 "$STORE/web01.hangar" | cut -f1)
grew=$((after - before))
echo "container grew by $grew bytes for a 40 MiB copy"
[ "$grew" -lt $((2 * 1024 * 1024)) ] || fail "the copy was not shared: container grew by $grew bytes"
blocks_disk=$(stat -c %b "$G/disk.raw")
blocks_base=$(stat -c %b "$G/base.raw")
[ "$blocks_disk" = "$blocks_base" ] || fail "st_blocks differ: $blocks_disk vs $blocks_base"

log "copy-on-write: a write to one copy leaves the other alone"
sum_disk=$(md5sum <"$G/disk.raw")
t dd if=/dev/urandom of="$G/base.raw" bs=4k seek=100 count=3 conv=notrunc,fsync status=none || fail "write base"
[ "$(md5sum <"$G/disk.raw")" = "$sum_disk" ] || fail "writing base.raw changed disk.raw"
sum_base=$(md5sum <"$G/base.raw")
[ "$sum_base" != "$sum_disk" ] || fail "the write to base.raw did not land"
t dd if=/dev/urandom of="$G/disk.raw" bs=64k seek=300 count=2 conv=notrunc,fsync status=none || fail "write disk"
[ "$(md5sum <"$G/base.raw")" = "$sum_base" ] || fail "writing disk.raw changed base.raw"
cmp "$WORK/orig.raw" "$G/disk.raw" >/dev/null && fail "the write to disk.raw did not land"

log "a plain cp of a file without holes shares too"
t dd if=/dev/urandom of="$G/full.raw" bs=1M count=8 conv=fsync status=none || fail dd
before=$(du -B1 "$STORE/web01.hangar" | cut -f1)
t cp "$G/full.raw" "$G/full2.raw" || fail "cp full.raw"
t sync "$G/full2.raw"
cmp "$G/full.raw" "$G/full2.raw" || fail "full2.raw differs"
grew=$(($(du -B1 "$STORE/web01.hangar" | cut -f1) - before))
[ "$grew" -lt $((2 * 1024 * 1024)) ] || fail "cp of a file without holes was not shared: grew by $grew"

log "copies that do not line up with clusters"
t python3 - "$G/disk.raw" "$G/odd.raw" <<'PY' || fail "misaligned copy_file_range"
import os, sys
src = os.open(sys.argv[1], os.O_RDONLY)
dst = os.open(sys.argv[2], os.O_RDWR | os.O_CREAT, 0o600)
plan = [(1000, 5000, 300000), (65536 * 3, 65536 * 3 + 17, 65536 * 5),
        (65536 * 8, 65536 * 40, 65536 * 6 + 100)]
for so, do, n in plan:
    done = 0
    while done < n:
        got = os.copy_file_range(src, dst, n - done, so + done, do + done)
        assert got > 0, "short copy_file_range"
        done += got
    a = os.pread(src, n, so)
    b = os.pread(dst, n, do)
    assert a == b, "bytes differ for %r" % ((so, do, n),)
os.fsync(dst)
PY

log "restore a file from a snapshot with cp: shared, not copied"
mkdir "$G/.snapshots/before" || fail "mkdir snapshot"
sum_snap=$(md5sum <"$G/full.raw")
t dd if=/dev/urandom of="$G/full.raw" bs=1M count=8 conv=notrunc,fsync status=none || fail "overwrite full.raw"
before=$(du -B1 "$STORE/web01.hangar" | cut -f1)
t cp --sparse=never "$G/.snapshots/before/full.raw" "$G/full.raw" || fail "cp from the snapshot"
t sync "$G/full.raw"
[ "$(md5sum <"$G/full.raw")" = "$sum_snap" ] || fail "restored full.raw differs from the snapshot"
grew=$(($(du -B1 "$STORE/web01.hangar" | cut -f1) - before))
[ "$grew" -lt $((2 * 1024 * 1024)) ] || fail "the restore was copied: grew by $grew"
rmdir "$G/.snapshots/before" || fail "rmdir snapshot"
[ "$(md5sum <"$G/full.raw")" = "$sum_snap" ] || fail "full.raw changed when its snapshot went"

log "check after unmount, then the same bytes after a remount"
sum_disk=$(md5sum <"$G/disk.raw")
sum_odd=$(md5sum <"$G/odd.raw")
fs_umount
t "$HANGAR" check "$STORE" >"$WORK/check.out" 2>&1 || { cat "$WORK/check.out"; fail "hangar check"; }
incompat=$(od -A n -t u8 -j 16 -N 8 "$STORE/web01.hangar" | tr -d ' ')
[ $((incompat & 8)) = 8 ] || fail "the shared-extents feature bit is not set (incompat $incompat)"
fs_mount
[ "$(md5sum <"$G/disk.raw")" = "$sum_disk" ] || fail "disk.raw changed across the remount"
[ "$(md5sum <"$G/base.raw")" = "$sum_base" ] || fail "base.raw changed across the remount"
[ "$(md5sum <"$G/odd.raw")" = "$sum_odd" ] || fail "odd.raw changed across the remount"
rm "$G/base.raw" "$G/odd.raw" || fail "rm the copies"
cmp <(head -c 18M "$WORK/orig.raw") <(head -c 18M "$G/disk.raw") || fail "disk.raw lost data when its copy was removed"
fs_umount
t "$HANGAR" check "$STORE" >"$WORK/check.out" 2>&1 || { cat "$WORK/check.out"; fail "hangar check after rm"; }
echo "PASS"
