#!/bin/bash
# tests/fs/datapath.sh -- disks as raw files, driven by real clients:
# qemu-img, qemu-io (O_DIRECT), dd, truncate, fallocate, SEEK_DATA/SEEK_HOLE,
# copy_file_range, and sparse copies out of and back into the mount.
. "$(dirname "$0")/../lib.bash"
fs_setup qemu-img qemu-io python3 fallocate rsync cmp du

fs_mount
mkdir "$MNT/web01" || fail "mkdir"
G=$MNT/web01
SRC=$WORK/src.raw

log "qemu-img create/info/convert/compare into and out of disk.raw"
t qemu-img create -f raw "$G/disk.raw" 256M >/dev/null || fail "qemu-img create"
t qemu-img info "$G/disk.raw" | grep -q 'virtual size: 256 MiB' || fail "info"
t qemu-img create -f raw "$SRC" 64M >/dev/null
t qemu-io -f raw -c 'write -P 0xab 0 1M' -c 'write -P 0xcd 10M 3M' \
	-c 'write -P 0x11 63M 1M' "$SRC" >/dev/null || fail "qemu-io src"
t qemu-img convert -f raw -O raw -t none "$SRC" "$G/disk.raw" ||
	fail "convert into the mount"
t qemu-img compare -f raw -F raw "$SRC" "$G/disk.raw" >/dev/null ||
	fail "compare after convert in"
t qemu-img convert -f raw -O raw -T none "$G/disk.raw" "$WORK/back.raw" ||
	fail "convert out"
t qemu-img compare -f raw -F raw "$SRC" "$WORK/back.raw" >/dev/null ||
	fail "compare after convert out"
t cmp "$SRC" "$WORK/back.raw" || fail "cmp after convert out"

log "qemu-io -n (O_DIRECT): write, read -P, discard, write_zeroes"
t qemu-img create -f raw "$G/data.raw" 128M >/dev/null
out=$(t qemu-io -n -f raw \
	-c 'write -P 0x5a 0 4k' -c 'write -P 0xa5 1M 1M' \
	-c 'write -P 0x33 100M 64k' -c 'aio_write -P 0x44 50M 128k' \
	-c 'aio_flush' -c 'flush' \
	-c 'read -P 0x5a 0 4k' -c 'read -P 0xa5 1M 1M' \
	-c 'read -P 0x33 100M 64k' -c 'read -P 0x44 50M 128k' \
	-c 'read -P 0 2M 1M' \
	-c 'discard 1M 1M' -c 'read -P 0 1M 1M' \
	-c 'write -z 100M 64k' -c 'read -P 0 100M 64k' \
	"$G/data.raw" 2>&1) || fail "qemu-io -n: $out"
case "$out" in *"Pattern verification failed"* | *"failed"*) fail "qemu-io: $out" ;; esac
out=$(t qemu-io -n -f raw -c 'read -P 0x5a 0 4k' -c 'read -P 0x44 50M 128k' \
	"$G/data.raw" 2>&1) || fail "re-read: $out"
case "$out" in *"failed"*) fail "re-read: $out" ;; esac

log "O_SYNC and O_DSYNC writes"
t dd if="$SRC" of="$G/sync.raw" bs=1M count=4 oflag=sync status=none || fail "oflag=sync"
t dd if="$SRC" of="$G/dsync.raw" bs=1M count=4 oflag=dsync,direct status=none ||
	fail "oflag=dsync,direct"
t cmp <(head -c 4M "$SRC") "$G/dsync.raw" || fail "dsync content"

log "fallocate: punch hole (KEEP_SIZE), zero range, plain extend"
t dd if=/dev/urandom of="$G/f.raw" bs=1M count=8 status=none
b0=$(stat -c %b "$G/f.raw")
t fallocate --punch-hole --offset 1M --length 4M "$G/f.raw" || fail "punch"
[ "$(stat -c %s "$G/f.raw")" = 8388608 ] || fail "punch changed size"
b1=$(stat -c %b "$G/f.raw")
[ "$b1" -lt "$b0" ] || fail "punch freed nothing: $b0 -> $b1"
t cmp -n 4M <(head -c 4M /dev/zero) <(tail -c +1048577 "$G/f.raw") ||
	fail "punched range is not zeros"
t fallocate --zero-range --offset 6M --length 1M "$G/f.raw" || fail "zero range"
t cmp -n 1M <(head -c 1M /dev/zero) <(tail -c +6291457 "$G/f.raw") ||
	fail "zeroed range"
t fallocate --length 16M "$G/f.raw" || fail "fallocate extend"
[ "$(stat -c %s "$G/f.raw")" = 16777216 ] || fail "fallocate did not extend"
t fallocate --keep-size --length 32M "$G/f.raw" || fail "fallocate keep size"
[ "$(stat -c %s "$G/f.raw")" = 16777216 ] || fail "keep-size changed size"
r=$(errno_of "
import ctypes
fd = os.open('$G/f.raw', os.O_RDWR)
libc = ctypes.CDLL(None, use_errno=True)
if libc.fallocate(fd, 0x08, ctypes.c_long(0), ctypes.c_long(65536)) != 0:
    raise OSError(ctypes.get_errno(), 'collapse')")
[ "$r" = EOPNOTSUPP ] || [ "$r" = ENOTSUP ] || fail "collapse range: $r"

log "SEEK_DATA / SEEK_HOLE"
python3 - "$G/seek.raw" <<'PY' || fail "seek cases"
import os, sys
p = sys.argv[1]
M = 1 << 20
fd = os.open(p, os.O_RDWR | os.O_CREAT, 0o644)
os.ftruncate(fd, 64 * M)
assert os.lseek(fd, 0, os.SEEK_HOLE) == 0
try:
    os.lseek(fd, 0, os.SEEK_DATA)
    raise SystemExit("SEEK_DATA in an empty file should be ENXIO")
except OSError as e:
    assert e.errno == 6, e  # ENXIO
os.pwrite(fd, b"x" * M, 8 * M)
os.pwrite(fd, b"y" * M, 32 * M)
os.fsync(fd)
assert os.lseek(fd, 0, os.SEEK_DATA) == 8 * M, os.lseek(fd, 0, os.SEEK_DATA)
assert os.lseek(fd, 8 * M, os.SEEK_HOLE) == 9 * M
assert os.lseek(fd, 9 * M, os.SEEK_DATA) == 32 * M
assert os.lseek(fd, 32 * M, os.SEEK_HOLE) == 33 * M
assert os.lseek(fd, 33 * M, os.SEEK_HOLE) == 33 * M
try:
    os.lseek(fd, 33 * M, os.SEEK_DATA)
    raise SystemExit("SEEK_DATA after the last data should be ENXIO")
except OSError as e:
    assert e.errno == 6, e
try:
    os.lseek(fd, 64 * M, os.SEEK_HOLE)
    raise SystemExit("SEEK_HOLE at EOF should be ENXIO")
except OSError as e:
    assert e.errno == 6, e
os.close(fd)
PY

log "copy_file_range"
python3 - "$G/f.raw" "$G/copy.raw" <<'PY' || fail "copy_file_range"
import os, sys
src = os.open(sys.argv[1], os.O_RDONLY)
dst = os.open(sys.argv[2], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
n, off = 0, 0
size = os.fstat(src).st_size
while off < size:
    n = os.copy_file_range(src, dst, size - off, off, off)
    if n == 0:
        break
    off += n
assert off == size, (off, size)
os.close(src); os.close(dst)
PY
t cmp "$G/f.raw" "$G/copy.raw" || fail "copy_file_range content"

log "sparse round trips: cp --sparse=always and rsync -a --sparse"
t qemu-img create -f raw "$G/big.raw" 1G >/dev/null
t dd if=/dev/urandom of="$G/big.raw" bs=1M count=8 seek=100 conv=notrunc status=none
t dd if=/dev/urandom of="$G/big.raw" bs=1M count=8 seek=900 conv=notrunc status=none
echo "name=web01" >"$G/config"
mkdir "$WORK/out-cp" "$WORK/out-rsync"
t cp -a --sparse=always "$G" "$WORK/out-cp/" || fail "cp out"
t rsync -a --sparse "$G/" "$WORK/out-rsync/web01/" || fail "rsync out"
for f in $(ls "$G"); do
	t cmp "$G/$f" "$WORK/out-cp/web01/$f" || fail "cp out: $f differs"
	t cmp "$G/$f" "$WORK/out-rsync/web01/$f" || fail "rsync out: $f differs"
done
kb=$(du -k "$WORK/out-cp/web01/big.raw" | cut -f1)
[ "$kb" -lt 65536 ] || fail "cp copy not sparse: $kb KiB"
t cp -a --sparse=always "$WORK/out-cp/web01" "$MNT/web02" || fail "cp back in"
t rsync -a --sparse "$WORK/out-rsync/web01/" "$MNT/web03/" || fail "rsync back in"
for f in $(ls "$G"); do
	t cmp "$G/$f" "$MNT/web02/$f" || fail "cp in: $f differs"
	t cmp "$G/$f" "$MNT/web03/$f" || fail "rsync in: $f differs"
done
kb=$(du -k "$MNT/web02/big.raw" | cut -f1)
[ "$kb" -lt 65536 ] || fail "copy into the mount not sparse: $kb KiB"
log "rsync quick check sees no false change; a second rsync changes nothing"
# The guest directory keeps its own mode, owner and mtime in the container,
# so the second run has nothing to do for the directory either.
dir_before=$(stat -c '%a %u %g %Y' "$MNT/web03")
[ "$dir_before" = "$(stat -c '%a %u %g %Y' "$WORK/out-rsync/web01")" ] ||
	fail "rsync did not give web03 the source directory's attributes: $dir_before"
items=$(t rsync -a --sparse --itemize-changes "$WORK/out-rsync/web01/" "$MNT/web03/")
n=$(printf "%s" "$items" | grep -c .)
[ "$n" = 0 ] || fail "second rsync changed $n items: $items"
t sync "$MNT/web03" # fsync of a directory commits the container
sleep 1.1           # the container file's mtime moves; the directory's must not
[ "$(stat -c '%a %u %g %Y' "$MNT/web03")" = "$dir_before" ] ||
	fail "web03's attributes moved after a commit"

log "guest directory attributes: chmod, chown, touch persist across remount"
t chmod 0710 "$MNT/web02" || fail "chmod guest dir"
t chown 1234:5678 "$MNT/web02" || fail "chown guest dir"
t touch -d '2001-02-03 04:05:06.123456789' "$MNT/web02" || fail "touch -d guest dir"
web02_attr=$(stat -c '%a %u %g %y' "$MNT/web02")
[ "$(stat -c '%a %u %g %Y' "$MNT/web02")" = "710 1234 5678 $(date -d '2001-02-03 04:05:06' +%s)" ] ||
	fail "guest dir attributes: $web02_attr"
t mkdir -m 0750 "$MNT/web05" || fail "mkdir -m 0750"
[ "$(stat -c %a "$MNT/web05")" = 750 ] || fail "mkdir mode: $(stat -c %a "$MNT/web05")"
m0=$(stat -c %Y "$MNT/web05")
t touch -d '2001-01-01' "$MNT/web05" || fail "touch web05"
: >"$MNT/web05/new"
[ "$(stat -c %Y "$MNT/web05")" -ge "$m0" ] || fail "a create inside did not move the directory's mtime"
sum1=$(md5sum <"$G/big.raw")
fs_remount
[ "$(stat -c '%a %u %g %y' "$MNT/web02")" = "$web02_attr" ] ||
	fail "guest dir attributes after remount: $(stat -c '%a %u %g %y' "$MNT/web02")"
[ "$(stat -c %a "$MNT/web05")" = 750 ] || fail "mkdir mode after remount"

log "data survives remount"
[ "$(md5sum <"$G/big.raw")" = "$sum1" ] || fail "big.raw after remount"
t qemu-img compare -f raw -F raw "$SRC" "$G/disk.raw" >/dev/null ||
	fail "disk.raw after remount"
fs_umount
echo PASS
