#!/bin/bash
# tests/security/readers.sh -- a reader beside a writer never gets bytes that
# no committed state contained.
#
# Attacks (4): (1) `hangarfs -o ro` of a store that a read-write hangarfs
# has mounted reads a guest the writer has open: served from a pin (one
# committed state: exactly the fsynced bytes), never from the live tree;
# tests/fs/ro_beside_rw.sh has the rest; (2) `hangar export` of a mounted
# store while a writer holds uncommitted writes: the export equals what the
# mount shows (it copies through the mount); (3) `hangar ls`/`status` of a
# mounted store under continuous writes, punches and rewrites never show a
# guest as unreadable or corrupt; (4) `hangar check` of a mounted store
# under writes reports no false corruption (a guest the daemon has open is
# checked as of a pin).
. "$(dirname "$0")/../lib.bash"
fs_setup python3 cmp

t "$HANGAR" create "$STORE" g --disk 16M >/dev/null || fail "create"
fs_mount -o commit_interval=0

log "attack 1: a read-only daemon beside the writer"
head -c 4M /dev/urandom >"$WORK/data"
dd if="$WORK/data" of="$MNT/g/disk.raw" bs=1M conv=notrunc,fsync status=none ||
	fail "write"
exec 7<"$MNT/g/disk.raw" # the writer has g open
fs_mount_other "$STORE" "$WORK/mntro" "$WORK/hfsro.log" -o ro ||
	fail "ro mount beside a writer: $(cat "$WORK/hfsro.log")"
RO_PID=$OTHER_PID
cmp -n 4194304 "$WORK/mntro/g/disk.raw" "$WORK/data" ||
	fail "the read-only daemon did not serve the committed bytes: $(cat "$WORK/hfsro.log")"
fs_umount_other "$WORK/mntro" "$RO_PID"
exec 7<&-

log "attack 2: export of a mounted store with uncommitted writes"
# A writer that keeps its descriptor open and never flushes: the bytes are
# in the daemon, not in any commit.
python3 - "$MNT/g/disk.raw" "$WORK/ready" <<'PY' &
import os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR)
os.pwrite(fd, b"uncommitted!" * 8192, 8 << 20)  # a hole: never committed
open(sys.argv[2], "w").close()
time.sleep(30)
PY
WRITER=$!
for ((i = 0; i < 100; i++)); do [ -e "$WORK/ready" ] && break; sleep 0.1; done
[ -e "$WORK/ready" ] || fail "the writer did not start"
t "$HANGAR" export "$STORE" g "$WORK/out" >"$WORK/export.log" 2>&1 ||
	{ kill "$WRITER" 2>/dev/null; fail "export: $(cat "$WORK/export.log")"; }
cmp "$WORK/out/disk.raw" "$MNT/g/disk.raw" ||
	{ kill "$WRITER"; fail "export of a mounted store differs from the mount"; }
kill "$WRITER"
wait "$WRITER" 2>/dev/null

log "attack 3: ls/status of a mounted store under writes, punches, rewrites"
python3 - "$MNT/g/disk.raw" "$WORK/stop" <<'PY' &
import os, sys, random
fd = os.open(sys.argv[1], os.O_RDWR)
buf = os.urandom(1 << 16)
FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE = 1, 2
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
while not os.path.exists(sys.argv[2]):
    off = random.randrange(0, 255) << 16
    os.pwrite(fd, buf, off)
    if random.random() < 0.3:
        libc.fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                       ctypes.c_long(random.randrange(0, 255) << 16),
                       ctypes.c_long(1 << 16))
    os.fsync(fd)
PY
WRITER=$!
bad=0
for ((i = 0; i < 30; i++)); do
	out=$(t "$HANGAR" ls "$STORE" --json 2>&1)
	case "$out" in *unreadable* | *corrupt* | *mismatch*) bad=1; break ;; esac
	out=$(t "$HANGAR" status "$STORE" g 2>&1)
	case "$out" in *unreadable* | *corrupt* | *mismatch*) bad=1; break ;; esac
done
touch "$WORK/stop"
wait "$WRITER"
[ "$bad" = 0 ] || fail "ls/status showed a guest under writes as damaged: $out"

log "attack 4: check of a mounted store under writes"
rm -f "$WORK/stop"
python3 - "$MNT/g/disk.raw" "$WORK/stop" <<'PY' &
import os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
buf, off = os.urandom(1 << 16), 0
while not os.path.exists(sys.argv[2]):
    os.pwrite(fd, buf, off)
    os.fsync(fd)
    off = (off + (1 << 16)) % (8 << 20)
PY
WRITER=$!
sleep 0.3
out=$(t "$HANGAR" check "$STORE" 2>&1) ||
	{ touch "$WORK/stop"; wait "$WRITER"; fail "check of a mounted store under writes: $out"; }
touch "$WORK/stop"
wait "$WRITER"
case "$out" in *"g: clean as of pin hangar-pin-"*) ;;
*) fail "check did not check g as of a pin: $out" ;; esac
fs_umount
t "$HANGAR" check "$STORE" >/dev/null || fail "check after unmount"
echo "PASS: 4 attacks"
