#!/bin/bash
# tests/fs/datasync.sh -- fdatasync and O_DSYNC without a commit
# (container_sync_data, FORMAT.md section 5), through the mount, counted by
# user.hangar.io:
#   - an overwrite inside the disk followed by fdatasync: one sync, no
#     commit, no metadata written; fsync after the same overwrite commits
#   - an O_DSYNC handle: each overwrite synced, none committed; an O_SYNC
#     handle commits each one
#   - a write that allocates (past the written part) followed by fdatasync
#     commits: its map changed
#   - the bytes are there after SIGKILL of the daemon (nothing committed
#     them but the sync) and a remount, and `hangar check` is clean
. "$(dirname "$0")/../lib.bash"
fs_setup python3

t "$HANGAR" create "$STORE" web01 --disk 8M >/dev/null || fail "hangar create"
fs_mount -o commit_interval=3600
G=$MNT/web01
t dd if=/dev/urandom of="$G/disk.raw" bs=1M count=4 conv=notrunc,fsync status=none || fail "fill"

t python3 - "$G" "$WORK/expect" <<'PY' || fail "sync counts (above)"
import os, sys
guest, expect = sys.argv[1], sys.argv[2]
disk = os.path.join(guest, "disk.raw")

def stats():
    v = os.getxattr(guest, "user.hangar.io").decode()
    return {k: int(x) for k, x in (kv.split("=") for kv in v.split("; "))}

def delta(a):
    b = stats()
    return {k: b[k] - a[k] for k in a}

fd = os.open(disk, os.O_RDWR)
a = stats()
os.pwrite(fd, b"\x11" * 4096, 65536 + 4096)
os.fdatasync(fd)
d = delta(a)
print("overwrite + fdatasync:", d)
assert d["syncs"] == 1 and d["commits"] == 0 and d["meta_bytes"] == 0, d

a = stats()
os.pwrite(fd, b"\x22" * 4096, 3 * 65536)
os.fsync(fd)
d = delta(a)
print("overwrite + fsync:", d)
assert d["commits"] >= 1 and d["meta_bytes"] > 0, d

a = stats()
os.pwrite(fd, b"\x33" * 4096, 6 << 20)   # past the 4 MiB written: allocates
os.fdatasync(fd)
d = delta(a)
print("allocating write + fdatasync:", d)
assert d["commits"] >= 1, d
os.close(fd)

for flag, name in ((os.O_DSYNC, "O_DSYNC"), (os.O_SYNC, "O_SYNC")):
    fd = os.open(disk, os.O_RDWR | flag)
    a = stats()
    for i in range(4):
        os.pwrite(fd, bytes([0x40 + i]) * 4096, (8 + i) * 65536)
    d = delta(a)
    os.close(fd)
    print(name, "4 overwrites:", d)
    if flag == os.O_DSYNC:
        assert d["syncs"] == 4 and d["commits"] == 0, d
    else:
        assert d["commits"] == 4, d

# what must survive: the last bytes written and synced, not committed
fd = os.open(disk, os.O_RDWR)
os.pwrite(fd, b"\x77" * 8192, 65536 * 20)
os.fdatasync(fd)
with open(expect, "wb") as f:
    f.write(os.pread(fd, 8 << 20, 0))
os.close(fd)
PY

log "SIGKILL the daemon after the fdatasync, remount, read back"
kill -9 "$HFS_PID"
fs_wait_exit 10 || fail "hangarfs did not die"
HFS_PID=
fusermount3 -u "$MNT" 2>/dev/null || umount -l "$MNT" 2>/dev/null || true
t "$HANGAR" check "$STORE" >"$WORK/check.out" 2>&1 || { cat "$WORK/check.out"; fail "hangar check after the kill"; }
fs_mount
cmp "$G/disk.raw" "$WORK/expect" || fail "the disk lost bytes that fdatasync acknowledged"
fs_umount
echo "PASS"
