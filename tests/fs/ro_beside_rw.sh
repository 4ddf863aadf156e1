#!/bin/bash
# tests/fs/ro_beside_rw.sh -- `hangarfs -o ro` beside a read-write mount
# serves a guest the writer has open from a pin: one committed state,
# byte-exact while the reader holds it, a fresh one when it reopens.
#
# The writer writes pattern A over 1 MiB of disk.raw and fsyncs; the ro
# mount opens disk.raw and reads A; the writer then writes pattern B over
# the same range (and fsyncs, so B is committed) while the reader keeps
# its descriptor: every read through it is still A, never mixed.  Closed
# and reopened, it reads B.  Unmounting the ro daemon leaves no pin (as
# `hangar snapshot list` through the writer shows); a SIGKILLed ro daemon
# leaves one, which the writer deletes at the next pin, and one left at
# the writer's unmount goes at its next mount.  `mkdir
# .snapshots/hangar-pin-1-1` is refused (EINVAL: reserved names).
. "$(dirname "$0")/../lib.bash"
fs_setup python3 cmp

t "$HANGAR" create "$STORE" g --disk 8M >/dev/null || fail "create"
fs_mount -o commit_interval=0
RO=$WORK/mntro
ROLOG=$WORK/hfsro.log

python3 -c 'import sys; sys.stdout.buffer.write(b"A" * (1 << 20))' >"$WORK/A"
python3 -c 'import sys; sys.stdout.buffer.write(b"B" * (1 << 20))' >"$WORK/B"
dd if="$WORK/A" of="$MNT/g/disk.raw" bs=1M seek=1 conv=notrunc,fsync \
	status=none || fail "write A"
exec 7<>"$MNT/g/disk.raw" # the writer has g open throughout
at_exit 'exec 7>&- 8<&-'

pins() { # the pins of g, as the writer lists them
	t "$HANGAR" snapshot list "$STORE" g 2>&1 | grep -c 'hangar-pin-' || true
}

log "the ro daemon beside the writer serves g from a pin"
fs_mount_other "$STORE" "$RO" "$ROLOG" -o ro ||
	fail "ro mount beside a writer: $(cat "$ROLOG")"
RO_PID=$OTHER_PID
exec 8<"$RO/g/disk.raw" || fail "open on the ro mount: $(cat "$ROLOG")"
python3 - "$WORK/A" <<'PY' || fail "the ro reader did not read A"
import os, sys
want = open(sys.argv[1], "rb").read()
got = os.pread(8, len(want), 1 << 20)
sys.exit(0 if got == want else 1)
PY
[ "$(pins)" = 1 ] || fail "expected one pin while the ro reader reads: $(t "$HANGAR" snapshot list "$STORE" g 2>&1)"

log "the writer writes B over the same range; the reader still reads A"
dd if="$WORK/B" of="$MNT/g/disk.raw" bs=1M seek=1 conv=notrunc,fsync \
	status=none || fail "write B"
cmp -s <(dd if="$MNT/g/disk.raw" bs=1M skip=1 count=1 status=none) "$WORK/B" ||
	fail "the writer does not read B back"
python3 - "$WORK/A" <<'PY' || fail "the ro reader's open file changed under it"
import os, sys
want = open(sys.argv[1], "rb").read()
for _ in range(3):  # page cache or not, and at 4 KiB steps: all A
    for off in range(0, len(want), 4096):
        got = os.pread(8, 4096, (1 << 20) + off)
        if got != want[off:off + 4096]:
            print("mixed at", off, got[:8], file=sys.stderr)
            sys.exit(1)
PY
exec 8<&-

log "closed and reopened: B"
sleep 0.2 # the kernel sends RELEASE after close(2) returns
cmp -s <(dd if="$RO/g/disk.raw" bs=1M skip=1 count=1 status=none) "$WORK/B" ||
	fail "reopened on the ro mount, it does not read B"

log "unmount of the ro daemon leaves no pin"
fs_umount_other "$RO" "$RO_PID"
[ "$(pins)" = 0 ] || fail "pins left after the ro unmount: $(t "$HANGAR" snapshot list "$STORE" g 2>&1)"

log "SIGKILL of the ro daemon leaves a pin; the next pin removes it"
fs_mount_other "$STORE" "$RO" "$ROLOG" -o ro || fail "ro mount again"
RO_PID=$OTHER_PID
exec 8<"$RO/g/disk.raw" || fail "open on the ro mount"
[ "$(pins)" = 1 ] || fail "no pin while reading"
kill -KILL "$RO_PID"
wait "$RO_PID" 2>/dev/null
exec 8<&-
fusermount3 -u "$RO" 2>/dev/null || fusermount3 -u -z "$RO" 2>/dev/null
[ "$(pins)" = 1 ] || fail "the killed reader's pin is not there"
dead=$(t "$HANGAR" snapshot list "$STORE" g | grep -o 'hangar-pin-[0-9-]*')
fs_mount_other "$STORE" "$RO" "$ROLOG" -o ro || fail "ro mount after kill"
RO_PID=$OTHER_PID
cmp -s <(dd if="$RO/g/disk.raw" bs=1M skip=1 count=1 status=none) "$WORK/B" ||
	fail "the new ro daemon does not read B"
exec 8<"$RO/g/disk.raw" || fail "open on the new ro mount"
t "$HANGAR" snapshot list "$STORE" g | grep -q "$dead" &&
	fail "the dead reader's pin $dead survived the next pin"

log "a pin left at the writer's unmount goes at its next mount"
kill -KILL "$RO_PID"
wait "$RO_PID" 2>/dev/null
exec 8<&-
fusermount3 -u "$RO" 2>/dev/null || fusermount3 -u -z "$RO" 2>/dev/null
exec 7>&-
fs_umount
t "$HANGAR" snapshot list "$STORE" g | grep -q 'hangar-pin-' ||
	fail "no pin left by the killed reader before the remount"
fs_mount -o commit_interval=0
exec 7<>"$MNT/g/disk.raw" # the writer opens g again
[ "$(pins)" = 0 ] || fail "the dead reader's pin survived the writer's next mount"

log "reserved names: users cannot take pins"
[ "$(errno_of "os.mkdir('$MNT/g/.snapshots/hangar-pin-1-1')")" = EINVAL ] ||
	fail "mkdir of a reserved snapshot name was not refused with EINVAL"
h_rc=0
t "$HANGAR" snapshot create "$STORE" g hangar-pin-1-1 >"$WORK/out" 2>&1 || h_rc=$?
[ "$h_rc" != 0 ] || fail "hangar snapshot create of a reserved name succeeded"
grep -q "reserved" "$WORK/out" || fail "no reason for the reserved name: $(cat "$WORK/out")"
exec 7>&-
fs_umount
t "$HANGAR" check "$STORE" >/dev/null || fail "check after all this"
echo "PASS"
