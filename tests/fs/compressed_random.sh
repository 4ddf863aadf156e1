#!/bin/bash
# tests/fs/compressed_random.sh -- random small writes into a compressed
# disk (hangar create --compress-disks) through the mount: a partial write
# stages its cluster RAW and later ones go in place (core/data.c, "Staged
# clusters"); the daemon compresses staged clusters again in the
# background and at unmount.
#   - every byte reads back as written, before and after a remount, and
#     `hangar check` finds the store clean
#   - after the unmount the container is back near the size compression
#     gave before the random writes (staging costs space only while the
#     guest is in use), and within what the same bytes cost written whole
. "$(dirname "$0")/../lib.bash"
fs_setup python3 du

t "$HANGAR" create "$STORE" z --compress-disks >/dev/null || fail "hangar create --compress-disks"
fs_mount
F=$MNT/z/disk.raw

log "32 MiB of compressible data, written whole"
t python3 - "$F" "$WORK/model" <<'PY' || fail "prefill"
import os, random, sys
random.seed(7)
size = 32 << 20
# half of every 4 KiB text-like (compresses), half zeros
blk = bytearray()
while len(blk) < size:
    word = bytes(random.choice(b"abcdefgh ") for _ in range(2048))
    blk += word + bytes(2048)
blk = bytes(blk[:size])
with open(sys.argv[2], "wb") as m:
    m.write(blk)
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
os.pwrite(fd, blk, 0)
os.fsync(fd)
PY
fs_umount
whole=$(du -B1 "$STORE/z.hangar" | cut -f1)
echo "compressed whole: $whole bytes for 32 MiB"
fs_mount

log "4000 random 4 KiB writes of compressible data, then read back"
t python3 - "$F" "$WORK/model" <<'PY' || fail "random writes"
import os, random, sys
random.seed(11)
size = 32 << 20
fd = os.open(sys.argv[1], os.O_RDWR)
model = bytearray(open(sys.argv[2], "rb").read())
for i in range(4000):
    off = random.randrange(size // 4096) * 4096
    data = bytes(random.choice(b"ijklmnop ") for _ in range(1024)) + bytes(3072)
    os.pwrite(fd, data, off)
    model[off:off + 4096] = data
    if i % 500 == 0:
        os.fsync(fd)
os.fsync(fd)
got = os.pread(fd, size, 0)
assert got == bytes(model), "the disk differs from what was written"
open(sys.argv[2], "wb").write(model)
PY

log "unmount (staged clusters compressed again), check, remount, read back"
fs_umount
after=$(du -B1 "$STORE/z.hangar" | cut -f1)
echo "after the random writes and an unmount: $after bytes (whole: $whole)"
[ "$after" -le $((whole * 5 / 4 + 2 * 1024 * 1024)) ] ||
	fail "the container stayed large: $after bytes against $whole compressed whole"
t "$HANGAR" check "$STORE" >"$WORK/check.out" 2>&1 || { cat "$WORK/check.out"; fail "hangar check"; }
fs_mount
cmp "$F" "$WORK/model" || fail "the disk differs after the remount"
fs_umount
echo "PASS"
