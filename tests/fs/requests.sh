#!/bin/bash
# tests/fs/requests.sh -- every request ends: the error paths of each op
# reply their errno once and drop the guest's container reference, so the
# guest can be renamed and removed right after (a reference left behind
# makes rmdir and rename of the guest EBUSY for good: store.h), and the
# daemon is still there to answer (a second reply to one request is a
# use-after-free in libfuse).  fs/req.c has the rule.
. "$(dirname "$0")/../lib.bash"
fs_setup python3 getfattr setfattr

fs_mount
t mkdir "$MNT/g" || fail "mkdir g"
G=$MNT/g
echo data >"$G/f" || fail "create f"
t truncate -s 1M "$G/disk.raw" || fail "create disk.raw"

log "each op's error reply, on the root, a guest and a file"
out=$(t python3 - "$MNT" <<'PY'
import ctypes, errno, os, sys
mnt = sys.argv[1]
g = mnt + "/g"
libc = ctypes.CDLL(None, use_errno=True)

def errno_of(fn):
    try:
        fn()
        return "OK"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))

def renameat2(a, b, flags):
    if libc.renameat2(-100, a.encode(), -100, b.encode(), flags) != 0:
        raise OSError(ctypes.get_errno(), "renameat2")

def fallocate(fd, mode, off, length):
    if libc.fallocate(fd, mode, ctypes.c_long(off), ctypes.c_long(length)):
        raise OSError(ctypes.get_errno(), "fallocate")

want = [
    ("lookup missing", lambda: os.stat(g + "/nope"), "ENOENT"),
    ("lookup under a file", lambda: os.stat(g + "/f/x"), "ENOTDIR"),
    ("create O_EXCL existing",
     lambda: os.open(g + "/f", os.O_CREAT | os.O_EXCL | os.O_WRONLY), "EEXIST"),
    ("create in root", lambda: os.open(mnt + "/rootfile", os.O_CREAT | os.O_WRONLY), "EPERM"),
    ("mknod existing", lambda: os.mknod(g + "/f", 0o644 | 0o100000), "EEXIST"),
    ("mknod fifo", lambda: os.mkfifo(g + "/fifo"), "EPERM"),
    ("mknod in root", lambda: os.mknod(mnt + "/n", 0o644 | 0o100000), "EPERM"),
    ("mkdir in guest", lambda: os.mkdir(g + "/sub"), "EPERM"),
    ("mkdir bad name", lambda: os.mkdir(mnt + "/.bad"), "EINVAL"),
    ("rmdir missing guest", lambda: os.rmdir(mnt + "/nope"), "ENOENT"),
    ("unlink missing", lambda: os.unlink(g + "/nope"), "ENOENT"),
    ("rename missing", lambda: os.rename(g + "/nope", g + "/x"), "ENOENT"),
    ("rename NOREPLACE over existing",
     lambda: renameat2(g + "/disk.raw", g + "/f", 1), "EEXIST"),
    ("rename RENAME_EXCHANGE", lambda: renameat2(g + "/disk.raw", g + "/f", 2), "EINVAL"),
    ("rename file into root", lambda: os.rename(g + "/f", mnt + "/f"), "EPERM"),
    ("getxattr unknown hangar name",
     lambda: os.getxattr(g, "user.hangar.nope"), "ENODATA"),
    ("getxattr saved, nothing saved",
     lambda: os.getxattr(g, "user.hangar.saved"), "ENODATA"),
    ("getxattr on a file", lambda: os.getxattr(g + "/f", "user.hangar.state"), "ENODATA"),
    ("getxattr other name", lambda: os.getxattr(g, "user.other"), "ENOTSUP"),
    ("getxattr on the root", lambda: os.getxattr(mnt, "user.hangar.state"), "ENODATA"),
    ("setxattr resume, nothing saved",
     lambda: os.setxattr(g, "user.hangar.resume", b"1"), "ENODATA"),
    ("setxattr resume, bad value",
     lambda: os.setxattr(g, "user.hangar.resume", b"2"), "EINVAL"),
    ("setxattr state", lambda: os.setxattr(g, "user.hangar.state", b"saved"), "EPERM"),
    ("setxattr other name", lambda: os.setxattr(g, "user.x", b"1"), "ENOTSUP"),
    ("removexattr hangar name", lambda: os.removexattr(g, "user.hangar.state"), "EPERM"),
    ("chmod the root", lambda: os.chmod(mnt, 0o755), "EPERM"),
    ("truncate a guest directory", lambda: os.truncate(g, 0), "EISDIR"),
    ("open a guest directory for writing", lambda: os.open(g, os.O_WRONLY), "EISDIR"),
    ("listxattr of a guest", lambda: os.listxattr(g) == ["user.hangar.state"] or
     (_ for _ in ()).throw(OSError(errno.EPROTO, str(os.listxattr(g)))), "OK"),
    ("listxattr of a file", lambda: os.listxattr(g + "/f") == [] or
     (_ for _ in ()).throw(OSError(errno.EPROTO, "names")), "OK"),
    ("fsync of a guest directory",
     lambda: (lambda fd: (os.fsync(fd), os.close(fd)))(os.open(g, os.O_RDONLY)), "OK"),
    ("fsync of the root",
     lambda: (lambda fd: (os.fsync(fd), os.close(fd)))(os.open(mnt, os.O_RDONLY)), "OK"),
]
bad = 0
for what, fn, expect in want:
    got = errno_of(fn)
    if got != expect:
        print(f"{what}: {got}, want {expect}")
        bad = 1

# Error replies through an open file: lseek past the end, an unsupported
# fallocate mode, fallocate with a negative length.
fd = os.open(g + "/disk.raw", os.O_RDWR)
for what, fn, expect in [
    ("SEEK_DATA past the end", lambda: os.lseek(fd, 1 << 30, os.SEEK_DATA), "ENXIO"),
    ("fallocate collapse", lambda: fallocate(fd, 0x08, 0, 65536), "EOPNOTSUPP"),
    ("read at an offset past the end", lambda: os.pread(fd, 10, 1 << 30) == b"" or
     (_ for _ in ()).throw(OSError(errno.EPROTO, "data")), "OK"),
]:
    got = errno_of(fn)
    if got != expect and not (expect == "EOPNOTSUPP" and got == "ENOTSUP"):
        print(f"{what}: {got}, want {expect}")
        bad = 1
os.close(fd)
sys.exit(bad)
PY
) || fail "error replies: $out"

log "save-lock refusals end their requests too"
t dd if=/dev/urandom of="$G/memory.save" bs=64k count=4 status=none ||
	fail "write memory.save"
[ "$(getfattr --absolute-names --only-values -n user.hangar.state "$G")" = saved ] ||
	fail "state after save"
for call in "os.open('$G/disk.raw', os.O_RDWR)" "os.truncate('$G/disk.raw', 0)" \
	"os.unlink('$G/disk.raw')" "os.rename('$G/disk.raw', '$G/d2.raw')" \
	"os.rename('$G/f', '$G/disk.raw')"; do
	[ "$(errno_of "$call")" = EBUSY ] || fail "$call: $(errno_of "$call"), want EBUSY"
done
expect_log "g/disk.raw: read-write open refused: memory.save"
t rm "$G/memory.save" || fail "discard memory.save"

log "nothing was left holding the guest: rename and rmdir work at once"
mountpoint -q "$MNT" && kill -0 "$HFS_PID" || fail "hangarfs is gone"
t rm -f "$G/f" "$G/disk.raw" || fail "empty the guest"
sleep 0.5 # RELEASE is asynchronous
t mv "$MNT/g" "$MNT/h" || fail "rename the guest after the errors"
t rmdir "$MNT/h" || fail "rmdir the guest after the errors"
[ ! -e "$STORE/h.hangar" ] || fail "container still there"
grep -q "(store)" "$HFS_LOG" && fail "a container event without its guest"
echo PASS
