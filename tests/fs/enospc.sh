#!/bin/bash
# tests/fs/enospc.sh -- a full backing filesystem gives ENOSPC (not EIO),
# the daemon stays up, other guests stay readable, punching a hole still
# works on the full store and frees space for new writes -- also after a
# remount on the full store (the metadata reserve survives it).  The store lives
# on a small tmpfs (skipped if tmpfs cannot be mounted here).
. "$(dirname "$0")/../lib.bash"
fs_setup mount umount dd fallocate

SMALL=$WORK/small
mkdir "$SMALL"
timeout 30 mount -t tmpfs -o size=48M tmpfs "$SMALL" 2>/dev/null ||
	skip "cannot mount a tmpfs here"
OUTER_MOUNTS+=("$SMALL")
STORE=$SMALL/store
t "$HANGAR" init "$STORE" >/dev/null || fail "init on tmpfs"

fs_mount
mkdir "$MNT/a" "$MNT/b" || fail "mkdir"
t dd if=/dev/urandom of="$MNT/b/disk.raw" bs=1M count=4 status=none
t cp "$MNT/b/disk.raw" "$WORK/b.raw"

log "fill the backing filesystem through a disk"
out=$(timeout "$T" dd if=/dev/urandom of="$MNT/a/disk.raw" bs=1M count=100 status=none 2>&1) &&
	fail "writing 100 MiB into a 48 MiB store succeeded"
case "$out" in *"No space left on device"*) ;; *) fail "dd error: $out" ;; esac
kill -0 "$HFS_PID" || fail "daemon died on ENOSPC"
t cmp "$WORK/b.raw" "$MNT/b/disk.raw" || fail "other guest unreadable"
expect_fail "No space left on device" dd if=/dev/urandom of="$MNT/b/disk.raw" \
	bs=1M count=1 seek=8 conv=notrunc,fsync status=none

log "punch a hole on the full store, commit it, then writes fit again"
# Commit what the fill wrote first, so that the punch below frees committed
# clusters, which the commit that frees them punches out of the host file.
t python3 -c "import os; os.fsync(os.open('$MNT/a/disk.raw', os.O_RDONLY))" ||
	fail "fsync on a full store"
t fallocate --punch-hole --offset 0 --length 32M "$MNT/a/disk.raw" ||
	fail "punch on a full store"
# Freed clusters are reusable after the commit that frees them (docs/design.md
# invariant 3): fsync commits a's container.
t python3 -c "import os; os.fsync(os.open('$MNT/a/disk.raw', os.O_RDONLY))" ||
	fail "fsync after punch"
t dd if=/dev/urandom of="$MNT/b/disk.raw" bs=1M count=1 seek=8 conv=notrunc,fsync status=none ||
	fail "write after punch"

log "remount on the full store: punch + fsync still commit (the reserve survives)"
# Fill again, commit, punch a little (freed data goes back to the host one
# commit later: holes at the low end of the file), unmount; something else
# fills what all that gave back (another tenant of the backing
# filesystem); mount again.  The open cannot fallocate a new metadata
# reserve now: it must find the host-backed clusters the earlier open set
# aside (FORMAT.md section 8).  Without them, the commit's metadata lands
# in holes, gets ENOSPC, and no commit can succeed on this mount -- not
# even the one of the punch that would free space.
out=$(timeout "$T" dd if=/dev/urandom of="$MNT/a/disk.raw" bs=1M count=100 status=none 2>&1) &&
	fail "refilling the store succeeded"
t python3 -c "import os; os.fsync(os.open('$MNT/a/disk.raw', os.O_RDONLY))" ||
	fail "fsync on a full store (before the remount)"
t fallocate --punch-hole --offset 0 --length 4M "$MNT/a/disk.raw" ||
	fail "punch before the remount"
t python3 -c "import os; os.fsync(os.open('$MNT/a/disk.raw', os.O_RDONLY))" ||
	fail "fsync after the punch before the remount"
sleep 2.5 # two commit intervals: the freed clusters are punched
fs_umount
timeout "$T" dd if=/dev/zero of="$SMALL/filler" bs=64k status=none 2>/dev/null
# ...all but two pages: room for the store's lock file (its PID), far
# from room for one 64 KiB cluster
filler_size=$(stat -c %s "$SMALL/filler")
truncate -s $((filler_size - 8192)) "$SMALL/filler" || fail "truncate filler"
[ "$(df --output=avail -B1 "$SMALL" | tail -n 1)" -lt 65536 ] ||
	fail "could not fill the backing filesystem"
fs_mount
avail_before=$(df --output=avail -B1 "$SMALL" | tail -n 1)
t fallocate --punch-hole --offset 0 --length 32M "$MNT/a/disk.raw" ||
	fail "punch on a full store after a remount"
t python3 -c "import os; os.fsync(os.open('$MNT/a/disk.raw', os.O_RDONLY))" ||
	fail "fsync after a punch on a full store after a remount"
# freed data goes back to the host one commit later (FORMAT.md section 5,
# step 7): the next commit interval (1 s here) returns it
for ((i = 0; i < 50; i++)); do
	avail_after=$(df --output=avail -B1 "$SMALL" | tail -n 1)
	((avail_after > avail_before + 16 * 1048576)) && break
	sleep 0.1
done
((avail_after > avail_before + 16 * 1048576)) ||
	fail "punch after a remount freed no space ($avail_before -> $avail_after bytes)"
t dd if=/dev/urandom of="$MNT/b/disk.raw" bs=1M count=1 seek=8 conv=notrunc,fsync status=none ||
	fail "write after punch after a remount"
fs_umount
t "$HANGAR" check "$STORE" >/dev/null || fail "check after ENOSPC"
echo PASS
