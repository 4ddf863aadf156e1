#!/bin/bash
# tests/fs/snapshots.sh -- GUEST/.snapshots through a real mount (fs/snapdir.c):
#   - hidden from the guest's listing, found by name; mkdir takes a snapshot,
#     ls lists it (mtime = when taken), its files hold the bytes of that
#     commit while the live disk is overwritten (cmp), with st_blocks and
#     holes (SEEK_DATA/SEEK_HOLE: rsync -a --sparse out, cmp, same blocks)
#   - read-only: writes, creates, unlinks, truncate, chmod, rename in a
#     snapshot get EROFS; bad names EINVAL, a second mkdir EEXIST
#   - rmdir deletes; rmdir while a file of it is held open (exec 3<) EBUSY,
#     and works once it is closed
#   - the snapshot survives a remount
#   - fio writing with verify into the live disk while `mkdir .snapshots/sN`
#     runs every ~0.5 s: fio's verify passes and every snapshot's disk reads
#     back whole without an error
. "$(dirname "$0")/../lib.bash"
fs_setup python3 rsync cmp fio

fs_mount
G=$MNT/web01
mkdir "$G" || fail "mkdir guest"

# expect_errnos : stdin has lines "WANT|WHAT|PYTHON"; each PYTHON statement
# must fail with errno WANT (one interpreter for all: python starts slowly
# on a loaded machine).
expect_errnos() {
	python3 -c '
import errno, os, sys
bad = 0
for line in sys.stdin:
    if not line.strip():
        continue
    want, what, code = line.rstrip("\n").split("|", 2)
    try:
        exec(code)
        got = "OK"
    except OSError as e:
        got = errno.errorcode.get(e.errno, str(e.errno))
    if got != want:
        print("FAIL: %s: got %s, expected %s" % (what, got, want))
        bad = 1
sys.exit(bad)
' || fail "wrong errno (above)"
}

log "a disk with data and holes, and a config"
t dd if=/dev/urandom of="$WORK/orig.raw" bs=64K count=48 status=none || fail dd
t truncate -s 16M "$WORK/orig.raw"
# a hole in the middle: data, 1 MiB of hole, data, hole to the end
t dd if=/dev/urandom of="$WORK/orig.raw" bs=64K seek=64 count=16 conv=notrunc status=none
t dd if="$WORK/orig.raw" of="$G/disk.raw" bs=1M conv=sparse status=none || fail "dd into the mount"
echo "name=web01" >"$G/config"
sync "$G/disk.raw"

log ".snapshots is hidden from the guest's listing but found by name"
ls -a "$G" | grep -qx '.snapshots' && fail ".snapshots is listed by readdir of the guest"
[ -d "$G/.snapshots" ] || fail ".snapshots is not a directory"
[ -z "$(ls -A "$G/.snapshots")" ] || fail ".snapshots is not empty at first"

log "mkdir takes a snapshot; ls lists it with its time"
before=$(date +%s)
t mkdir "$G/.snapshots/s1" || fail "mkdir .snapshots/s1"
after=$(date +%s)
[ "$(ls "$G/.snapshots")" = s1 ] || fail "ls .snapshots: $(ls "$G/.snapshots")"
mt=$(stat -c %Y "$G/.snapshots/s1")
[ "$mt" -ge "$before" ] && [ "$mt" -le "$after" ] ||
	fail "snapshot mtime $mt not in [$before, $after]"
[ "$(stat -c %F "$G/.snapshots/s1")" = directory ] || fail "s1 is not a directory"
[ "$(ls "$G/.snapshots/s1" | tr '\n' ' ')" = "config disk.raw " ] ||
	fail "snapshot lists: $(ls "$G/.snapshots/s1")"
expect_errnos <<EOF
EEXIST|second mkdir s1|os.mkdir('$G/.snapshots/s1')
EINVAL|mkdir of a bad name|os.mkdir('$G/.snapshots/a b')
EINVAL|mkdir of a dot name|os.mkdir('$G/.snapshots/.hidden')
EPERM|mkdir of a subdirectory in a guest|os.mkdir('$G/sub')
EOF

log "overwrite the live disk; the snapshot keeps the old bytes"
t dd if=/dev/urandom of="$G/disk.raw" bs=64K count=256 conv=notrunc status=none || fail "overwrite"
echo "name=changed" >"$G/config"
cmp -s "$G/disk.raw" "$WORK/orig.raw" && fail "the live disk did not change"
t cmp "$G/.snapshots/s1/disk.raw" "$WORK/orig.raw" || fail "snapshot disk differs from the original"
[ "$(cat "$G/.snapshots/s1/config")" = "name=web01" ] || fail "snapshot config changed"
[ "$(stat -c %s "$G/.snapshots/s1/disk.raw")" = 16777216 ] || fail "snapshot size"
blocks=$(stat -c %b "$G/.snapshots/s1/disk.raw")
[ "$blocks" -gt 0 ] && [ "$blocks" -lt 32768 ] || fail "snapshot st_blocks $blocks: not sparse"
live_ino=$(stat -c %i "$G/disk.raw")
snap_ino=$(stat -c %i "$G/.snapshots/s1/disk.raw")
[ "$live_ino" != "$snap_ino" ] || fail "snapshot file has the live file's inode number"

log "SEEK_DATA/SEEK_HOLE in a snapshot file"
holes=$(python3 -c "
import os
fd = os.open('$G/.snapshots/s1/disk.raw', os.O_RDONLY)
h = os.lseek(fd, 0, os.SEEK_HOLE)
d = os.lseek(fd, h, os.SEEK_DATA)
print(h, d)")
[ "$holes" = "3145728 4194304" ] || fail "SEEK_HOLE/SEEK_DATA: $holes"

log "rsync -a --sparse the snapshot out: same bytes, still sparse"
t rsync -a --sparse "$G/.snapshots/s1/" "$WORK/backup/" || fail rsync
t cmp "$WORK/backup/disk.raw" "$WORK/orig.raw" || fail "backup differs"
[ "$(cat "$WORK/backup/config")" = "name=web01" ] || fail "backup config"
bk=$(stat -c %b "$WORK/backup/disk.raw")
[ "$bk" -lt 16384 ] || fail "backup is not sparse: $bk blocks"

log "a snapshot is read-only"
S=$G/.snapshots/s1
expect_errnos <<EOF
EROFS|write open|os.open('$S/disk.raw', os.O_WRONLY)
EROFS|read-write open|os.open('$S/disk.raw', os.O_RDWR)
EROFS|create|os.open('$S/new', os.O_WRONLY | os.O_CREAT, 0o600)
EROFS|unlink|os.unlink('$S/config')
EROFS|truncate|os.truncate('$S/disk.raw', 0)
EROFS|chmod|os.chmod('$S/disk.raw', 0o644)
EROFS|utime|os.utime('$S/disk.raw', (0, 0))
EROFS|chmod of the snapshot|os.chmod('$S', 0o755)
EROFS|rename in|os.rename('$S/config', '$S/config2')
EROFS|mkdir in|os.mkdir('$S/sub')
EROFS|rename into the guest|os.rename('$S/config', '$G/config3')
EROFS|rename a snapshot|os.rename('$S', '$G/.snapshots/s9')
EPERM|rmdir .snapshots|os.rmdir('$G/.snapshots')
EEXIST|a file named .snapshots|os.open('$G/.snapshots', os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
EOF
cmp -s "$S/disk.raw" "$WORK/orig.raw" || fail "snapshot changed after the refusals"

log "rmdir while a file of it is open: EBUSY; closed: deleted"
t mkdir "$G/.snapshots/s2" || fail "mkdir s2"
exec 3<"$G/.snapshots/s2/disk.raw"
echo "EBUSY|rmdir of a snapshot with an open file|os.rmdir('$G/.snapshots/s2')" | expect_errnos
exec 3<&-
sleep 0.2 # RELEASE is asynchronous
t rmdir "$G/.snapshots/s2" || fail "rmdir s2 after close"
[ "$(ls "$G/.snapshots")" = s1 ] || fail "after rmdir: $(ls "$G/.snapshots")"
echo "ENOENT|rmdir of a missing snapshot|os.rmdir('$G/.snapshots/s2')" | expect_errnos

log "a guest whose files are gone keeps its snapshots: rmdir ENOTEMPTY"
mkdir "$MNT/g2" && echo x >"$MNT/g2/config" && t mkdir "$MNT/g2/.snapshots/only" || fail "g2 setup"
rm "$MNT/g2/config"
echo "ENOTEMPTY|rmdir of a guest with a snapshot|os.rmdir('$MNT/g2')" | expect_errnos
expect_log "g2: rmdir refused: the guest has 1 snapshot"
t rmdir "$MNT/g2/.snapshots/only" && t rmdir "$MNT/g2" || fail "rmdir g2 after its snapshot"

log "remount: the snapshot is still there"
fs_remount
[ "$(ls "$G/.snapshots")" = s1 ] || fail "after remount: $(ls "$G/.snapshots")"
t cmp "$G/.snapshots/s1/disk.raw" "$WORK/orig.raw" || fail "snapshot differs after remount"
[ "$(stat -c %Y "$G/.snapshots/s1")" = "$mt" ] || fail "snapshot mtime moved"

log "a file restored from a snapshot with cp (copy_file_range from the view)"
t cp --sparse=always "$G/.snapshots/s1/disk.raw" "$G/restored.raw" || fail "cp out of the snapshot"
t cmp "$G/restored.raw" "$WORK/orig.raw" || fail "restored copy differs"
rm "$G/restored.raw"

log "a read-only mount shows the snapshots and refuses new ones"
fs_remount -o ro
t cmp "$G/.snapshots/s1/disk.raw" "$WORK/orig.raw" || fail "snapshot differs on a read-only mount"
echo "EROFS|mkdir on a read-only mount|os.mkdir('$G/.snapshots/s3')" | expect_errnos
fs_remount

log "fio with verify into the live disk while snapshots are taken"
t rmdir "$G/.snapshots/s1" || fail "rmdir s1"
t truncate -s 32M "$G/disk.raw"
cd "$WORK" || fail cd
fio --name=live --filename="$G/disk.raw" --ioengine=psync --direct=1 \
	--rw=randwrite --bsrange=4k-64k --size=32M --time_based --runtime=4 \
	--verify=crc32c --verify_fatal=1 --do_verify=1 --verify_state_save=0 \
	--output="$WORK/fio.out" &
FIO_PID=$!
at_exit "kill $FIO_PID 2>/dev/null"
n=0
while kill -0 "$FIO_PID" 2>/dev/null; do
	n=$((n + 1))
	t mkdir "$G/.snapshots/s$n" || fail "mkdir s$n under fio"
	sleep 0.5
done
wait "$FIO_PID" || { cat "$WORK/fio.out"; fail "fio verify of the live disk"; }
[ "$n" -ge 4 ] || fail "only $n snapshots taken under fio"
for ((i = 1; i <= n; i++)); do
	sz=$(stat -c %s "$G/.snapshots/s$i/disk.raw") || fail "stat s$i"
	[ "$sz" = 33554432 ] || fail "s$i disk size $sz"
	t dd if="$G/.snapshots/s$i/disk.raw" of=/dev/null bs=1M status=none ||
		fail "reading snapshot s$i"
done
log "$n snapshots taken under fio, each read back whole"
for ((i = 1; i <= n; i++)); do
	t rmdir "$G/.snapshots/s$i" || fail "rmdir s$i"
done
fs_umount
t "$HANGAR" check "$STORE" >/dev/null || fail "hangar check after the snapshots"
echo PASS
