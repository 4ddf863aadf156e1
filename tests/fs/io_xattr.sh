#!/bin/bash
# tests/fs/io_xattr.sh -- user.hangar.io on a guest directory (fs/xattr.c):
# the container's I/O counters (container_io_stats) as key=value text.  A
# 4 KiB write and an fsync through the mount must show up as at least one
# flush, one commit (a 512-byte superblock: meta_bytes), one fdatasync and
# the 4 KiB of data; write_bytes is data_bytes + meta_bytes; the attribute
# is read-only (EPERM), read by name only (not in listxattr), and the root
# has none (ENODATA).
. "$(dirname "$0")/../lib.bash"
fs_setup python3

t "$HANGAR" create "$STORE" web01 --disk 1M >/dev/null || fail "hangar create"
fs_mount

t python3 - "$MNT" <<'PY' || fail "user.hangar.io does not count the write and the fsync"
import errno, os, sys
mnt = sys.argv[1]
guest = os.path.join(mnt, "web01")

def stats():
    v = os.getxattr(guest, "user.hangar.io").decode()
    d = dict(kv.split("=") for kv in v.split("; "))
    return {k: int(x) for k, x in d.items()}

fd = os.open(os.path.join(guest, "disk.raw"), os.O_RDWR)
a = stats()
for k in ("writes", "write_bytes", "data_bytes", "meta_bytes", "syncs",
          "commits", "flushes"):
    assert k in a, f"no {k} in {a}"
os.pwrite(fd, b"\x5a" * 4096, 8192)
os.fsync(fd)
b = stats()
os.close(fd)
d = {k: b[k] - a[k] for k in a}
print("user.hangar.io before:", a)
print("after a 4 KiB write + fsync:", d)
assert d["flushes"] >= 1, d
assert d["commits"] >= 1, d
assert d["syncs"] >= 1, d
assert d["data_bytes"] >= 4096, d
assert d["meta_bytes"] >= 512 * d["commits"], d
for s in (a, b):
    assert s["write_bytes"] == s["data_bytes"] + s["meta_bytes"], s
assert "user.hangar.io" not in os.listxattr(guest), os.listxattr(guest)
try:
    os.setxattr(guest, "user.hangar.io", b"0")
    raise SystemExit("setxattr user.hangar.io succeeded")
except OSError as e:
    assert e.errno == errno.EPERM, e
try:
    os.getxattr(mnt, "user.hangar.io")
    raise SystemExit("the root has user.hangar.io")
except OSError as e:
    assert e.errno == errno.ENODATA, e
PY
fs_umount
echo "ok"
