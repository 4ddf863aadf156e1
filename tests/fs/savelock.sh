#!/bin/bash
# tests/fs/savelock.sh -- the save lock end to end with plain tools: seal on
# close and on rename-into, EBUSY for every kind of disk write, read-only
# access, persistence across remount and SIGKILL, discard by rm, resume via
# xattr and retirement at the first write, invalidation through a
# descriptor opened before the save, and an rsync restore.
. "$(dirname "$0")/../lib.bash"
fs_setup qemu-img qemu-io getfattr setfattr rsync fallocate python3

BUSY="Device or resource busy"
fs_mount
mkdir "$MNT/web01" || fail "mkdir"
G=$MNT/web01
state() { getfattr --absolute-names --only-values -n user.hangar.state "$G"; }

t qemu-img create -f raw "$G/disk.raw" 64M >/dev/null || fail "create disk"
t qemu-io -f raw -c 'write -P 0x42 0 2M' "$G/disk.raw" >/dev/null || fail "write disk"
t qemu-img create -f raw "$G/data.raw" 16M >/dev/null || fail "create data"
echo "memory=512" >"$G/config"
t cp --sparse=always "$G/disk.raw" "$WORK/disk-at-save.raw"
[ "$(state)" = stopped ] || fail "state before save: $(state)"

log "writing memory.save seals it when closed; disks refuse writes"
t dd if=/dev/urandom of="$G/memory.save" bs=1M count=4 status=none || fail "dd image"
[ "$(state)" = saved ] || fail "state after save: $(state)"
getfattr --absolute-names --only-values -n user.hangar.saved "$G" |
	grep -Eq 'disks=(data.raw,disk.raw|disk.raw,data.raw);' || fail "saved xattr: $(getfattr --absolute-names -d -m user.hangar "$G")"
expect_log "web01/memory.save: save image sealed"
expect_fail "$BUSY" qemu-io -f raw -c 'write 0 4k' "$G/disk.raw"
expect_fail "$BUSY" dd if=/dev/zero of="$G/disk.raw" bs=4k count=1 conv=notrunc status=none
expect_fail "$BUSY" dd if=/dev/zero of="$G/data.raw" bs=4k count=1 conv=notrunc status=none
expect_fail "$BUSY" truncate -s 128M "$G/disk.raw"
[ "$(errno_of "os.truncate('$G/disk.raw', 1 << 27)")" = EBUSY ] ||
	fail "truncate(2) by path"
expect_fail "$BUSY" rm "$G/disk.raw"
echo x >"$G/other.raw.tmp"
expect_fail "$BUSY" mv "$G/other.raw.tmp" "$G/disk.raw"
expect_fail "$BUSY" mv "$G/disk.raw" "$G/renamed.raw"
expect_log "web01/disk.raw: read-write open refused: memory.save (saved "
expect_log "depends on this file; resume with 'hangar resume $STORE web01' or remove memory.save to discard it"
expect_log "web01/disk.raw: truncate refused: memory.save"
log "a program retrying a refused open does not flood the log"
before=$(grep -c "web01/data.raw: read-write open refused" "$HFS_LOG" || true)
start=$(date +%s)
python3 -c "
import os
for _ in range(2000):
    try: os.open('$G/data.raw', os.O_RDWR)
    except OSError: pass"
took=$(($(date +%s) - start))
after=$(grep -c "web01/data.raw: read-write open refused" "$HFS_LOG" || true)
# at most 8 lines per 10 s window
[ $((after - before)) -le $(((took / 10 + 2) * 8)) ] ||
	fail "2000 refused opens in ${took}s logged $((after - before)) lines"
[ "$(errno_of "
import ctypes
fd = os.open('$G/data.raw', os.O_RDONLY)
libc = ctypes.CDLL(None, use_errno=True)
if libc.fallocate(fd, 3, ctypes.c_long(0), ctypes.c_long(65536)) != 0:
    raise OSError(ctypes.get_errno(), 'punch')")" = EBADF ] || fail "punch via ro fd"

log "read-only access works: qemu-img compare, cp, cmp"
t qemu-img compare -f raw -F raw "$WORK/disk-at-save.raw" "$G/disk.raw" >/dev/null ||
	fail "read-only compare"
t cmp "$WORK/disk-at-save.raw" "$G/disk.raw" || fail "cmp"
rm "$G/other.raw.tmp"
echo "memory=1024" >"$G/config" || fail "other files stay writable"

log "the lock holds across unmount and remount"
fs_remount
[ "$(state)" = saved ] || fail "state after remount: $(state)"
expect_fail "$BUSY" dd if=/dev/zero of="$G/disk.raw" bs=4k count=1 conv=notrunc status=none

log "the lock holds across SIGKILL of the daemon"
kill -KILL "$HFS_PID"
fs_wait_exit 10 || fail "hangarfs survived SIGKILL"
timeout 30 fusermount3 -u "$MNT" || timeout 30 fusermount3 -u -z "$MNT"
HFS_PID=
t "$HANGAR" check "$STORE" >/dev/null || fail "check after SIGKILL"
fs_mount
[ "$(state)" = saved ] || fail "state after SIGKILL: $(state)"
expect_fail "$BUSY" qemu-io -n -f raw -c 'write 0 4k' "$G/disk.raw"

log "rm memory.save discards the saved state and unlocks"
t rm "$G/memory.save" || fail "rm memory.save"
[ "$(state)" = stopped ] || fail "state after rm: $(state)"
t qemu-io -f raw -c 'write -P 0x43 0 4k' "$G/disk.raw" >/dev/null || fail "write after discard"
expect_log "web01/memory.save: removed; saved state discarded"

log "renaming into memory.save seals it too"
t dd if=/dev/urandom of="$G/memory.save.part" bs=1M count=2 status=none
[ "$(state)" = stopped ] || fail "a temporary name sealed: $(state)"
t mv "$G/memory.save.part" "$G/memory.save" || fail "rename into"
[ "$(state)" = saved ] || fail "state after rename-into: $(state)"
expect_fail "$BUSY" dd if=/dev/zero of="$G/disk.raw" bs=4k count=1 conv=notrunc status=none

log "resume via xattr: writes allowed, the image retires at the first write"
t setfattr -n user.hangar.resume -v 1 "$G" || fail "resume"
[ "$(state)" = resuming ] || fail "state after resume: $(state)"
exec 9<"$G/memory.save" # a lazy restore keeps reading the image
t qemu-io -f raw -c 'write -P 0x44 0 4k' "$G/disk.raw" >/dev/null || fail "write after resume"
[ ! -e "$G/memory.save" ] || fail "memory.save still listed after the first write"
[ "$(state)" = stopped ] || fail "state after retirement: $(state)"
head -c 4096 <&9 >/dev/null || fail "open handle cannot read the retired image"
exec 9<&-
expect_log "save image retired"
[ "$(errno_of "os.setxattr('$G', 'user.hangar.resume', b'1')")" = ENODATA ] ||
	fail "resume with nothing saved"

log "a write through a descriptor opened before the save invalidates the image"
exec 8<>"$G/disk.raw"
t dd if=/dev/urandom of="$G/memory.save" bs=1M count=1 status=none
[ "$(state)" = saved ] || fail "state after save with open disk: $(state)"
printf 'guest keeps running' >&8 || fail "write through the old descriptor"
exec 8>&-
[ "$(state)" = invalidated ] || fail "state after old-handle write: $(state)"
[ ! -e "$G/memory.save" ] && [ -e "$G/memory.save.stale" ] ||
	fail "image not set aside: $(ls "$G")"
expect_log "save image invalidated"
[ "$(errno_of "os.setxattr('$G', 'user.hangar.resume', b'1')")" = ESTALE ] ||
	fail "resume of a stale image"
expect_log "web01: resume refused: "
t dd if=/dev/zero of="$G/disk.raw" bs=4k count=1 conv=notrunc status=none ||
	fail "disk locked after invalidation"

log "an rsync restore of a saved guest locks the restored disks"
t rm -f "$G/memory.save.stale"
t dd if=/dev/urandom of="$G/memory.save" bs=1M count=1 status=none
mkdir "$WORK/backup"
t rsync -a --sparse "$G/" "$WORK/backup/web01/" || fail "backup"
t rsync -a --sparse "$WORK/backup/web01/" "$MNT/web04/" || fail "restore"
[ "$(getfattr --absolute-names --only-values -n user.hangar.state "$MNT/web04")" = saved ] ||
	fail "restored guest not saved"
expect_fail "$BUSY" dd if=/dev/zero of="$MNT/web04/disk.raw" bs=4k count=1 conv=notrunc status=none
t cmp "$G/disk.raw" "$MNT/web04/disk.raw" || fail "restored disk differs"

log "roles follow the name: a temporary file renamed over disk.raw is the disk"
# rsync (without --inplace) writes .disk.raw.XXXXXX and renames it over.
W=$MNT/web05
mkdir "$W" || fail "mkdir web05"
printf 'old disk' >"$W/disk.raw"
old_ino=$(stat -c %i "$W/disk.raw")
exec 6<"$W/disk.raw"
printf 'new disk' >"$W/.disk.raw.Xy12Z"
t mv "$W/.disk.raw.Xy12Z" "$W/disk.raw" || fail "rename over disk.raw"
[ "$(cat "$W/disk.raw")" = "new disk" ] || fail "disk.raw after the rename"
[ "$(cat <&6)" = "old disk" ] || fail "the replaced disk through an open descriptor"
exec 6<&-
[ "$(stat -c %i "$W/disk.raw")" != "$old_ino" ] || fail "replaced disk kept its st_ino"
printf 'half copied' >"$W/.data.raw.Ab34C" # a temporary name: an ordinary file
t dd if=/dev/urandom of="$W/memory.save" bs=64k count=1 status=none
[ "$(getfattr --absolute-names --only-values -n user.hangar.saved "$W" |
	sed -n 's/.*disks=\([^;]*\);.*/\1/p')" = disk.raw ] ||
	fail "pins of web05: $(getfattr --absolute-names -d -m user.hangar "$W")"
expect_fail "$BUSY" dd if=/dev/zero of="$W/disk.raw" bs=4k count=1 conv=notrunc status=none
echo more >>"$W/.data.raw.Ab34C" || fail "a temporary name was locked like a disk"
t rm "$W/memory.save" || fail "discard web05"

fs_umount
t "$HANGAR" check "$STORE" >/dev/null || fail "check at the end"
echo PASS
