#!/bin/bash
# tests/fs/namespace.sh -- the mount's namespace: guests as directories,
# objects as regular files, and every call's documented errno.
. "$(dirname "$0")/../lib.bash"
fs_setup python3 getfattr stat

fs_mount

log "root starts empty; statfs reports the backing filesystem's space"
[ -z "$(ls -A "$MNT")" ] || fail "new store not empty: $(ls -A "$MNT")"
[ "$(t stat -f -c '%S %b %c' "$MNT")" = "$(t stat -f -c '%S %b %c' "$STORE")" ] ||
	fail "statfs: $(stat -f -c '%S %b %c' "$MNT") on the mount, $(stat -f -c '%S %b %c' "$STORE") for the store"

log "mkdir creates guests; bad names are EINVAL, long ones ENAMETOOLONG"
t mkdir "$MNT/web01" || fail "mkdir web01"
t mkdir "$MNT/db-2.test_x" || fail "mkdir db-2.test_x"
[ "$(ls "$MNT" | tr '\n' ' ')" = "db-2.test_x web01 " ] ||
	fail "listing: $(ls "$MNT")"
for bad in '.hidden' 'a b' 'semi;colon' 'tab	x'; do
	r=$(errno_of "os.mkdir(os.path.join('$MNT', '''$bad'''))")
	[ "$r" = EINVAL ] || fail "mkdir '$bad': $r, want EINVAL"
done
r=$(errno_of "os.mkdir(os.path.join('$MNT', '$(printf 'x%.0s' {1..65})'))")
[ "$r" = ENAMETOOLONG ] || fail "mkdir of a 65-byte name: $r, want ENAMETOOLONG"
[ "$(errno_of "os.mkdir('$MNT/web01')")" = EEXIST ] || fail "mkdir existing"
[ "$(ls "$MNT" | wc -l)" = 2 ] || fail "bad names left something: $(ls -A "$MNT")"
ls -A "$STORE" | grep -qv -e '\.hangar$' -e '^\.hangar-' &&
	fail "stray file in the store: $(ls -A "$STORE")"

log "only regular files inside a guest; EPERM for everything else"
G=$MNT/web01
[ "$(errno_of "os.mkdir('$G/sub')")" = EPERM ] || fail "mkdir in guest"
[ "$(errno_of "os.symlink('x', '$G/link')")" = EPERM ] || fail "symlink"
[ "$(errno_of "os.mkfifo('$G/fifo')")" = EPERM ] || fail "mkfifo"
[ "$(errno_of "os.mknod('$G/dev', 0o600 | 0o020000, os.makedev(1, 3))")" = EPERM ] ||
	fail "mknod chr"
[ "$(errno_of "open('$MNT/rootfile', 'w')")" = EPERM ] || fail "file in root"
[ "$(errno_of "os.symlink('x', '$MNT/rootlink')")" = EPERM ] || fail "symlink in root"
[ -z "$(ls -A "$G")" ] || fail "EPERM calls left something: $(ls -A "$G")"

log "files: create, write, read, mknod S_IFREG, hard link EPERM"
echo "hello" >"$G/config" || fail "create config"
[ "$(cat "$G/config")" = hello ] || fail "read config"
[ "$(errno_of "os.mknod('$G/plain', 0o644 | 0o100000)")" = OK ] || fail "mknod reg"
[ -f "$G/plain" ] || fail "mknod reg did not create"
[ "$(errno_of "os.link('$G/config', '$G/config2')")" = EPERM ] || fail "link"

log "rename: plain, over an existing file, NOREPLACE, across guests"
echo one >"$G/a.tmp"
echo two >"$G/b"
t mv "$G/a.tmp" "$G/b" || fail "rename over"
[ "$(cat "$G/b")" = one ] && [ ! -e "$G/a.tmp" ] || fail "rename over result"
echo three >"$G/c"
r=$(errno_of "
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
if libc.renameat2(-100, b'$G/c', -100, b'$G/b', 1) != 0:
    raise OSError(ctypes.get_errno(), 'renameat2')")
[ "$r" = EEXIST ] || fail "RENAME_NOREPLACE over existing: $r"
[ "$(cat "$G/b")" = one ] || fail "NOREPLACE changed the target"
[ "$(errno_of "os.rename('$G/c', '$MNT/db-2.test_x/c')")" = EXDEV ] ||
	fail "rename across guests"
[ "$(errno_of "os.rename('$G/c', '$MNT/c')")" = EPERM ] || fail "file into root"

log "unlink; unlinked file readable through an open descriptor"
python3 - "$G" <<'PY' || fail "open-unlinked read"
import os, sys
g = sys.argv[1]
with open(g + "/keep", "w") as f:
    f.write("still here")
fd = os.open(g + "/keep", os.O_RDONLY)
os.unlink(g + "/keep")
assert not os.path.exists(g + "/keep")
assert os.pread(fd, 100, 0) == b"still here"
os.close(fd)
PY
[ "$(errno_of "os.unlink('$G/nope')")" = ENOENT ] || fail "unlink missing"

log "attributes persist: chmod, chown, utimensat with ns; st_ino stable"
t chmod 0640 "$G/b" || fail "chmod"
t chown 1234:5678 "$G/b" || fail "chown"
t touch -d '2001-02-03 04:05:06.123456789' "$G/b" || fail "touch -d"
before=$(stat -c '%a %u %g %y %i' "$G/b")
[ "$before" != "${before/640 1234 5678 2001-02-03 04:05:06.123456789/}" ] ||
	fail "attributes not set: $before"
dir_ino=$(stat -c %i "$G")
fs_remount
after=$(stat -c '%a %u %g %y %i' "$G/b")
[ "$before" = "$after" ] || fail "attributes after remount: $before vs $after"
[ "$(stat -c %i "$G")" = "$dir_ino" ] || fail "guest st_ino changed"
[ "$(stat -c %i "$G/b")" != "$(stat -c %i "$G/config")" ] || fail "st_ino collide"

log "st_mtime/st_ctime: the real times of the last change, with ns, kept by remount"
times=$(t python3 - "$G/times" <<'PY'
import os, sys, time
p = sys.argv[1]
with open(p, "wb") as f:
    f.write(b"a" * 8192)
s1 = os.stat(p)
time.sleep(0.05)
with open(p, "rb") as f:
    f.read()
s2 = os.stat(p)
assert (s2.st_mtime_ns, s2.st_ctime_ns) == (s1.st_mtime_ns, s1.st_ctime_ns), \
    "a read moved the times"
fd = os.open(p, os.O_WRONLY)
os.pwrite(fd, b"b", 100)  # same size: only the time tells rsync
os.close(fd)
s3 = os.stat(p)
assert s3.st_mtime_ns > s1.st_mtime_ns, ("write kept mtime", s1, s3)
assert s3.st_ctime_ns >= s3.st_mtime_ns, ("ctime before mtime", s3)
assert abs(s3.st_mtime_ns - time.time_ns()) < 5 * 10**9, ("not the real time", s3)
time.sleep(0.05)
os.chmod(p, 0o600)
s4 = os.stat(p)
assert s4.st_mtime_ns == s3.st_mtime_ns, "chmod moved mtime"
assert s4.st_ctime_ns > s3.st_ctime_ns, "chmod kept ctime"
# nanoseconds, not whole seconds (each is 0 with chance 1e-9)
assert s3.st_mtime_ns % 10**9 or s4.st_ctime_ns % 10**9, "no nanoseconds"
print(s4.st_mtime_ns, s4.st_ctime_ns, s4.st_ino)
PY
) || fail "times: $times"
fs_remount
[ "$(python3 -c "import os; s = os.stat('$G/times'); print(s.st_mtime_ns, s.st_ctime_ns, s.st_ino)")" = "$times" ] ||
	fail "times or st_ino changed by a remount: $times"

log "truncate and st_blocks"
t truncate -s 1G "$G/disk.raw" || fail "truncate"
[ "$(stat -c %s "$G/disk.raw")" = 1073741824 ] || fail "size after truncate"
[ "$(stat -c %b "$G/disk.raw")" -lt 1024 ] || fail "sparse file has blocks"
t dd if=/dev/urandom of="$G/disk.raw" bs=1M count=4 conv=notrunc status=none ||
	fail "dd"
blocks=$(stat -c %b "$G/disk.raw")
[ "$blocks" -ge 8192 ] || fail "st_blocks after 4 MiB written: $blocks"
t truncate -s 0 "$G/disk.raw" || fail "truncate to 0"
[ "$(stat -c %s "$G/disk.raw")" = 0 ] || fail "size after shrink"

log "xattrs on a guest directory"
[ "$(getfattr --absolute-names --only-values -n user.hangar.state "$G")" = stopped ] ||
	fail "state: $(getfattr --absolute-names -d -m - "$G" 2>&1)"
exec 7<>"$G/disk.raw"
[ "$(getfattr --absolute-names --only-values -n user.hangar.state "$G")" = open-rw ] ||
	fail "state with a disk open rw: $(getfattr --absolute-names --only-values -n user.hangar.state "$G")"
exec 7>&-
sleep 0.5 # RELEASE is asynchronous
[ "$(getfattr --absolute-names --only-values -n user.hangar.state "$G")" = stopped ] ||
	fail "state after close"
getfattr --absolute-names -d -m user.hangar "$G" | grep -q 'user.hangar.state="stopped"' ||
	fail "getfattr -d"
[ "$(errno_of "os.setxattr('$G', 'user.hangar.state', b'saved')")" = EPERM ] ||
	fail "setting state"
[ "$(errno_of "os.setxattr('$G/b', 'user.x', b'1')")" = ENOTSUP ] ||
	fail "xattr on a file"

log "rmdir: ENOTEMPTY, then works; rename of guests"
[ "$(errno_of "os.rmdir('$G')")" = ENOTEMPTY ] || fail "rmdir non-empty"
t mv "$MNT/db-2.test_x" "$MNT/db02" || fail "rename guest"
[ -d "$MNT/db02" ] && [ ! -e "$MNT/db-2.test_x" ] || fail "rename result"
[ -e "$STORE/db02.hangar" ] || fail "container not renamed"
[ "$(errno_of "os.rename('$MNT/db02', '$MNT/.bad')")" = EINVAL ] ||
	fail "rename guest to bad name"
echo x >"$MNT/db02/f"
[ "$(errno_of "os.rename('$MNT/web01', '$MNT/db02')")" != OK ] ||
	fail "rename guest over non-empty guest"
rm "$MNT/db02/f"
t rmdir "$MNT/db02" || fail "rmdir empty"
[ ! -e "$MNT/db02" ] && [ ! -e "$STORE/db02.hangar" ] || fail "rmdir result"
t mkdir "$MNT/db02" || fail "mkdir again after rmdir"
[ -z "$(ls -A "$MNT/db02")" ] || fail "recreated guest not empty"

log "one daemon per store: a second mount names the PID"
mkdir "$WORK/mnt2"
expect_fail "PID $HFS_PID" "$HANGARFS" "$STORE" "$WORK/mnt2" -f
mountpoint -q "$WORK/mnt2" && fail "second mount mounted"

log "-o ro: everything readable, nothing writable"
fs_umount
fs_mount -o ro
[ "$(cat "$G/b")" = one ] || fail "read on ro mount"
expect_fail "Read-only file system" touch "$G/new"
expect_fail "Read-only file system" mkdir "$MNT/x"
fs_umount
echo PASS
