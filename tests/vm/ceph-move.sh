#!/bin/bash
# tests/vm/ceph-move.sh -- a QEMU guest saved on one host and resumed on
# another, through one CephFS store (docs/multihost.md, section 6; the Ceph
# fixture tests/ceph/ceph.bash, two ceph-fuse "hosts" with their own host
# names and per-host lock directories):
#   1. QEMU (TCG) boots the tiny guest (tests/vm/build-guest.sh) on host A's
#      mount; it writes numbered 4 KiB blocks with O_DIRECT + fsync;
#   2. stop, migrate into memory.save, quit (virsh save): saved on A;
#      `hangar release` on A;
#   3. on host B: saved; a fresh boot of the disk is refused (EBUSY, the
#      save lock: B's log names memory.save);
#   4. `hangar resume` on B, QEMU restores with -incoming from B's mount:
#      the guest counts on from the block after the save, and its first
#      write retires memory.save;
#   5. quit; every block written on A and on B reads back from B's mount.
# Prints the time of each step.  Exit 77 when not root, without Ceph, QEMU or
# the guest's packages (the fixture and build-guest.sh say which).
VMDIR=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$VMDIR/../.." && pwd)
BUILD=${HANGAR_BUILD_DIR:-$SRC/build}
: "${HANGARFS:=$BUILD/fs/hangarfs}"
: "${HANGAR:=$BUILD/cli/hangar}"
export HANGARFS HANGAR
# shellcheck source=../lib.bash
. "$SRC/tests/lib.bash"
# shellcheck source=../ceph/ceph.bash
. "$SRC/tests/ceph/ceph.bash"
need_fuse
need_hangar
need python3 getfattr socat qemu-system-x86_64
work_setup
# shellcheck source=vm.bash
. "$VMDIR/vm.bash"
vm_build_guest
ceph_start
at_exit qemu_kill
START=$(date +%s.%N)
ceph_two_hosts 32M
# shellcheck disable=SC2034 # vm.bash reads it: the writer starts at block 0
BASE=0
state() { getfattr --absolute-names --only-values -n user.hangar.state "$G"; }

step "1. host A: QEMU boots the guest; it writes numbered blocks"
G=$WORK/mnt-a/g1
DISK=$G/disk.raw
ceph_wait_unlocked "$DISK"
qemu_boot boot-a "hangar.mode=writer hangar.start=0" ""
wait_wrote 10 60

step "2. host A: save into memory.save, quit, hangar release"
save_guest
N1=$(last_wrote "$WORK/boot-a.serial")
[ "$(state)" = saved ] || fail "state on host A after the save: $(state)"
expect_log "g1/memory.save: save image sealed"
for ((i = 0; i < 50; i++)); do
	t "$BIN_A/hangar" release "$HOST_A/store" g1 >"$WORK/rel.out" 2>&1 &&
		break
	sleep 0.2 # the kernel's release of QEMU's files reaches hangarfs late
done
grep -q "^released g1" "$WORK/rel.out" ||
	{ cat "$WORK/rel.out"; fail "hangar release on host A"; }
echo "    saved after block $N1 on host A, released"

step "3. host B: saved; a fresh boot of the disk is refused"
HFS_LOG=$WORK/hangarfs-b.log
G=$WORK/mnt-b/g1
DISK=$G/disk.raw
[ "$(state)" = saved ] || fail "state on host B: $(state)"
# EBUSY by A's container lock until the MDS has A's unlock, then by the
# save lock, which B's log names: wait for the latter before QEMU tries
for ((i = 0; i < 100; i++)); do
	errno_of "os.close(os.open('$DISK', os.O_RDWR))" >/dev/null
	grep -q "g1/disk.raw: read-write open refused: memory.save (saved " \
		"$HFS_LOG" && break
	sleep 0.1
done
expect_log "g1/disk.raw: read-write open refused: memory.save (saved "
qemu_args fresh-b "hangar.mode=writer hangar.start=0" ""
timeout 60 "${QEMU_ARGS[@]}" </dev/null >"$QERR" 2>&1 &&
	fail "QEMU booted the saved guest's disk read-write on host B"
grep -q "Device or resource busy" "$QERR" ||
	fail "QEMU on host B failed, but not with EBUSY: $(cat "$QERR")"
! grep -aq BOOTED "$QLOG" 2>/dev/null || fail "the fresh guest booted on B"

step "4. host B: hangar resume, QEMU restores from memory.save"
t "$BIN_B/hangar" resume "$HOST_B/store" g1 >"$WORK/resume.out" 2>&1 ||
	{ cat "$WORK/resume.out"; fail "hangar resume on host B"; }
qemu_start restore-b "hangar.mode=writer" "" -incoming "exec:cat $G/memory.save"
wait_migration "incoming"
ensure_running "after the restore on host B" # saved stopped: starts paused
wait_wrote $((N1 + 10)) 120
grep -aq BOOTED "$QLOG" && fail "the guest booted afresh on B instead of resuming"
FIRST=$(wrote_numbers "$QLOG" | head -n 1)
[ "$FIRST" -gt "$N1" ] && [ "$FIRST" -le $((N1 + 2)) ] ||
	fail "the guest went on at block $FIRST on host B; it stopped at $N1 on A"
wrote_numbers "$QLOG" | awk -v f="$FIRST" '$1 != f + NR - 1 { exit 1 }' ||
	fail "the resumed guest's numbers are not consecutive"
for ((i = 0; i < 50; i++)); do [ -e "$G/memory.save" ] || break; sleep 0.1; done
[ ! -e "$G/memory.save" ] || fail "memory.save not retired after B's guest wrote"
echo "    stopped at $N1 on host A, resumed at $FIRST on host B"

step "5. quit; every block of A and B reads back on host B"
mon quit >/dev/null
wait_qemu_exit 30
N2=$(last_wrote "$WORK/restore-b.serial")
hostcheck 0 "$N2" 2 || fail "blocks written on A and B, read on B"
step "done"
echo "total $(elapsed "$START") s (guest build/cache check not counted)"
echo PASS
