#!/bin/bash
# tests/vm/snapshots.sh -- snapshots with a real hypervisor (issue 17's two
# QEMU cases).
#
# QEMU (TCG) boots the tiny guest of tests/vm/build-guest.sh on
# MNT/web01/disk.raw; its writer is the guest's counter: it writes numbered
# 4 KiB blocks (block N at BASE + N) with O_DIRECT + fsync, one after the
# other, and prints "WROTE N".  The highest block on a disk (every block
# below it intact, nothing after it) is the counter's value on that disk.
#   1. a consistent backup of a running guest: while the counter advances,
#      mkdir .snapshots/live1, then rsync -a --sparse the snapshot out as
#      the guest writes on; the snapshot does not change under it, the
#      copy's ext4 checks clean (e2fsck -fn) and its counter is a value the
#      guest really had (between the last WROTE seen before the mkdir and
#      one printed after it);
#   2. the copy boots in a second QEMU (read-only verifier): the guest reads
#      every block up to the copy's counter back intact;
#   3. the checkpoint: save the guest (stop, migrate into memory.save,
#      quit), mkdir .snapshots/ckpt, resume and run on past the checkpoint,
#      stop QEMU, hangar rollback STORE web01 ckpt (through hangarfs): the
#      guest is saved again with its disk pinned, the blocks written after
#      the checkpoint are gone, and the restored guest counts on from the
#      checkpoint, not from where it was stopped;
#   4. the same again: run on, stop, roll back, resume from the checkpoint.
# Then hangar check of the unmounted store.  Prints the time of each step.
#
# Environment: HANGARFS, HANGAR (default: $HANGAR_BUILD_DIR or ./build);
# HANGAR_VM_CACHE (guest cache, see build-guest.sh); HANGAR_NO_INSTALL=1;
# HANGAR_VM_KVM=1 runs the guests under KVM instead of TCG (vm.bash).
# Exit 77 ("SKIPPED: reason") only without /dev/fuse or when the packages
# (QEMU among them) cannot be had.

VMDIR=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$VMDIR/../.." && pwd)
BUILD=${HANGAR_BUILD_DIR:-$SRC/build}
: "${HANGARFS:=$BUILD/fs/hangarfs}"
: "${HANGAR:=$BUILD/cli/hangar}"
export HANGARFS HANGAR

# shellcheck source=../lib.bash
. "$SRC/tests/lib.bash"

# shellcheck source=vm.bash
. "$VMDIR/vm.bash"

[ -c /dev/fuse ] || skip "/dev/fuse is missing"
vm_build_guest

fs_setup qemu-system-x86_64 socat rsync e2fsck mkfs.ext4 getfattr python3 cmp

GUEST=web01
G=$MNT/$GUEST
DISK=$G/disk.raw
BASE=4096 # the writer's block 0 is at 16 MiB; an ext4 fills the first 16 MiB
# The writer sleeps this long (µs) between blocks: the counter advances a
# few blocks a second, so the verifier of step 2 has little to read.
DELAY=200000
COPY=$WORK/copy

at_exit qemu_kill

state() { getfattr --absolute-names --only-values -n user.hangar.state "$G" 2>&1; }
expect_state() {
	local s
	s=$(state)
	[ "$s" = "$1" ] || fail "$2: user.hangar.state is '$s', expected '$1'"
}

# counter_of FILE: the counter on a disk image: the highest block N whose
# pattern is there, with every block 0..N intact and the 64 blocks after N
# zero; prints N (-1 for none), or a reason and status 1.
counter_of() {
	timeout "$T" python3 - "$1" "$BASE" <<'PY'
import sys
path, base = sys.argv[1], int(sys.argv[2])
pat = lambda n: (b"blk %010d \n" % n) * 256
zero = bytes(4096)
with open(path, "rb") as f:
    f.seek(base * 4096)
    n = 0
    while True:
        b = f.read(4096)
        if b != pat(n):
            break
        n += 1
    last = n - 1
    for k in range(n, n + 64):
        if b != zero:
            print("block %d after the counter (%d) is neither zero nor its pattern: %r"
                  % (k, last, b[:16]))
            sys.exit(1)
        b = f.read(4096)
print(last)
PY
}

# zeros FIRST LAST: blocks FIRST..LAST of the live disk.raw read as zeros.
zeros() {
	timeout "$T" python3 - "$DISK" "$BASE" "$1" "$2" <<'PY'
import sys
path, base, first, last = sys.argv[1], *map(int, sys.argv[2:5])
with open(path, "rb") as f:
    bad = []
    for n in range(first, last + 1):
        f.seek((base + n) * 4096)
        if f.read(4096) != bytes(4096):
            bad.append(n)
if bad:
    print("blocks not zero: %s" % bad[:20])
    sys.exit(1)
PY
}

# resume_from_checkpoint NAME: hangar resume, restore memory.save into a new
# QEMU; the guest must go on right after the checkpoint's last block (CKPT),
# not boot afresh.  Sets FIRST (the first block it writes).
resume_from_checkpoint() {
	local out
	out=$(t "$HANGAR" resume "$STORE" "$GUEST" 2>&1) || fail "hangar resume ($1): $out"
	expect_state resuming "$1: after hangar resume"
	qemu_start "$1" "hangar.mode=writer hangar.delay=$DELAY" "" -incoming "exec:cat $G/memory.save"
	wait_migration "incoming ($1)"
	ensure_running "$1: after the restore"
	wait_wrote $((CKPT + 3)) 120
	grep -aq BOOTED "$QLOG" && fail "$1: the restored guest booted afresh instead of resuming"
	FIRST=$(wrote_numbers "$QLOG" | head -n 1)
	[ "$FIRST" -gt "$CKPT" ] && [ "$FIRST" -le $((CKPT + 2)) ] ||
		fail "$1: the restored guest went on at block $FIRST; the checkpoint was taken after block $CKPT"
	wrote_numbers "$QLOG" | awk -v f="$FIRST" '$1 != f + NR - 1 { exit 1 }' ||
		fail "$1: the restored guest's numbers are not consecutive"
}

# run_on_and_stop NAME: let the resumed guest write 8 more blocks, quit QEMU
# (the guest is gone, as after a crash or a power-off).  Sets LAST.
run_on_and_stop() {
	wait_wrote $((CKPT + 10)) 120
	mon quit >/dev/null
	wait_qemu_exit 30
	LAST=$(last_wrote "$WORK/$1.serial")
	hostcheck 0 "$LAST" 1 || fail "$1: host check after the guest ran on past the checkpoint"
}

# rollback_to_ckpt WHEN: hangar rollback through hangarfs; the guest is
# saved again, disk.raw pinned, memory.save back, the blocks written after
# the checkpoint gone.
rollback_to_ckpt() {
	local out t0
	t0=$(date +%s.%N)
	out=$(t "$HANGAR" rollback "$STORE" "$GUEST" ckpt 2>&1) || fail "hangar rollback ($1): $out"
	echo "    hangar rollback $GUEST ckpt: $(elapsed "$t0") s ${out:+($out)}"
	expect_state saved "$1: after the rollback"
	[ -s "$G/memory.save" ] || fail "$1: memory.save is not back after the rollback: $(ls -a "$G" | tr '\n' ' ')"
	t cmp "$WORK/memory-at-ckpt.save" "$G/memory.save" ||
		fail "$1: memory.save after the rollback differs from the checkpoint's"
	[ "$(errno_of "os.open('$DISK', os.O_RDWR)")" = EBUSY ] ||
		fail "$1: disk.raw is not pinned by the save lock after the rollback"
	hostcheck 0 "$CKPT" 1 || fail "$1: host check of the rolled-back disk"
	zeros $((CKPT + 2)) "$LAST" || fail "$1: blocks written after the checkpoint survived the rollback"
	t cmp "$WORK/disk-at-ckpt.raw" "$DISK" || fail "$1: disk.raw after the rollback differs from the checkpoint's"
}

fs_mount
SCENARIO_T=$(date +%s.%N)
echo "guest build/cache check: $(elapsed "$T0") s"

step "1. a running guest: mkdir .snapshots/live1, rsync it out while the counter advances"
mkdir -p "$G" "$WORK/fsroot" || fail "mkdir $G"
echo "the guest's file system" >"$WORK/fsroot/hello.txt"
t truncate -s 64M "$DISK" || fail "truncate disk.raw"
t mkfs.ext4 -q -F -b 4096 -E nodiscard -d "$WORK/fsroot" "$DISK" 4096 ||
	fail "mkfs.ext4 on disk.raw"
qemu_boot live "hangar.mode=writer hangar.start=0 hangar.delay=$DELAY" ""
wait_wrote 5 90
expect_state open-rw "while QEMU runs"
BEFORE=$(last_wrote "$QLOG")
t0=$(date +%s.%N)
t mkdir "$G/.snapshots/live1" || fail "mkdir .snapshots/live1 while the guest runs"
MKDIR_MS=$(echo "$(date +%s.%N) $t0" | awk '{ printf "%.1f", ($1 - $2) * 1000 }')
AT=$(last_wrote "$QLOG")
# A block in the snapshot was written before the mkdir returned; its WROTE
# may come a little later, but before the guest's second block after AT.
wait_wrote $((AT + 2)) 60
AFTER=$(last_wrote "$QLOG")
echo "    mkdir .snapshots/live1: $MKDIR_MS ms, counter $BEFORE before, $AFTER after"
t0=$(date +%s.%N)
t rsync -a --sparse "$G/.snapshots/live1/" "$COPY/" || fail "rsync the snapshot out"
RSYNC_S=$(elapsed "$t0")
wait_wrote $((AFTER + 3)) 60
t cmp "$G/.snapshots/live1/disk.raw" "$COPY/disk.raw" ||
	fail "the snapshot's disk.raw changed while the guest wrote on"
K=$(counter_of "$COPY/disk.raw") || fail "the copy: $K"
[ "$K" -ge "$BEFORE" ] && [ "$K" -le "$AFTER" ] ||
	fail "the copy's counter is $K; the guest was at $BEFORE before the snapshot and $AFTER after"
out=$(t e2fsck -fn "$COPY/disk.raw" 2>&1) || fail "e2fsck -fn of the copy: $out"
echo "    rsync: $RSYNC_S s, $(du -k "$COPY/disk.raw" | cut -f1) KiB of $(($(stat -c %s "$COPY/disk.raw") >> 10)) KiB; counter in the copy: $K; e2fsck -fn clean"
echo "    the live guest wrote on to $(last_wrote "$QLOG") meanwhile"

step "2. save the guest (stop, migrate into memory.save, quit)"
save_guest
CKPT=$(last_wrote "$WORK/live.serial")
expect_state saved "after the save"
[ "$CKPT" -gt "$K" ] || fail "the guest did not advance past the live snapshot ($K) before the save ($CKPT)"
echo "    saved after block $CKPT"

step "3. the copy boots in a second QEMU and reads back its counter's blocks"
LIVE_DISK=$DISK
DISK=$COPY/disk.raw
qemu_boot copy "hangar.mode=verifier hangar.start=0 hangar.count=$((K + 1))" ",readonly=on"
wait_serial "VERIFY DONE" 120
wait_qemu_exit 30
v=$(serial_lines "$QLOG")
grep -q "^VERIFY DONE bad=0$" <<<"$v" || fail "verifier on the copy: $(grep -E '^BAD|VERIFY' <<<"$v" | head)"
[ "$(grep -c '^OK ' <<<"$v")" = $((K + 1)) ] || fail "the verifier checked $(grep -c '^OK ' <<<"$v") blocks, not $((K + 1))"
DISK=$LIVE_DISK
echo "    the copy's guest read blocks 0..$K intact"

step "4. checkpoint: mkdir .snapshots/ckpt of the saved guest, resume, run on"
t mkdir "$G/.snapshots/ckpt" || fail "mkdir .snapshots/ckpt"
[ -s "$G/.snapshots/ckpt/memory.save" ] || fail "the checkpoint has no memory.save: $(ls -a "$G/.snapshots/ckpt" | tr '\n' ' ')"
t cp "$G/memory.save" "$WORK/memory-at-ckpt.save" || fail "copy memory.save"
t cp --sparse=always "$DISK" "$WORK/disk-at-ckpt.raw" || fail "copy disk.raw"
resume_from_checkpoint resume1
FIRST1=$FIRST
run_on_and_stop resume1
echo "    resumed at $FIRST1, ran on to $LAST, stopped"
out=$(state)
[ "$out" != saved ] || fail "still saved after the guest ran on past the checkpoint"

step "5. rollback to ckpt, resume: the counter goes on from the checkpoint"
rollback_to_ckpt "first rollback"
resume_from_checkpoint resume2
[ "$FIRST" = "$FIRST1" ] || fail "the second restore went on at $FIRST, the first at $FIRST1"
echo "    rolled back from $LAST; resumed at $FIRST (checkpoint after $CKPT)"
run_on_and_stop resume2

step "6. again: rollback, resume"
rollback_to_ckpt "second rollback"
resume_from_checkpoint resume3
[ "$FIRST" = "$FIRST1" ] || fail "the third restore went on at $FIRST, the first at $FIRST1"
echo "    rolled back from $LAST; resumed at $FIRST"
run_on_and_stop resume3

step "7. the snapshots are still there; hangar check"
out=$(t "$HANGAR" snapshot list "$STORE" "$GUEST" 2>&1) || fail "hangar snapshot list: $out"
grep -qw live1 <<<"$out" && grep -qw ckpt <<<"$out" || fail "hangar snapshot list: $out"
t cmp "$G/.snapshots/live1/disk.raw" "$COPY/disk.raw" || fail "live1 changed after the rollbacks"
fs_umount
out=$(t "$HANGAR" check "$STORE" 2>&1) || fail "hangar check: $out"
echo "    live1 unchanged; hangar check of the unmounted store: clean"
echo "    ($(elapsed "$STEP_T") s)"
echo "=== figures"
echo "scenario time: $(elapsed "$SCENARIO_T") s; with guest build/cache check: $(elapsed "$T0") s"
echo "live snapshot: mkdir $MKDIR_MS ms, counter $K in [$BEFORE, $AFTER]; rsync $RSYNC_S s"
echo "checkpoint after block $CKPT; each resume went on at $FIRST1"
echo PASS
