#!/bin/bash
# tests/vm/savelock-qemu.sh -- the save lock with a real hypervisor.
#
# QEMU (TCG) boots a tiny Linux guest (tests/vm/build-guest.sh) whose disk is
# disk.raw in a hangar mount.  The guest writes numbered 4 KiB blocks with
# O_DIRECT + fsync and prints "WROTE N" on the serial console.  Then:
#   1. boot the writer on MNT/web01/disk.raw (cache=none);
#   2. stop + migrate into MNT/web01/memory.save + quit: the guest is saved,
#      hangar status and the xattr say so and pin disk.raw;
#   3. the disaster, three ways, each refused with EBUSY and the disk left
#      byte-identical: a fresh QEMU boot of the disk read-write, losetup
#      read-write + mount, qemu-img resize; read-only inspection works
#      (qemu-img compare, losetup -r + mount -o ro,noload);
#   4. the lock holds across a remount and across SIGKILL of hangarfs;
#   5. resume (hangar resume on the mounted store, or, with a hangar that
#      refuses that, the setfattr it names) and restore with -incoming: the guest counts on from where it
#      stopped, memory.save is retired at its next write;
#   6. power off, a verifier guest boots the disk read-only: every block
#      written before and after the save reads back intact;
#   7. discard: save again, rm memory.save, a fresh boot works;
#   8. checkpoint: migrate without stop and cont (like `xl save -c`).
#      a. plain -drive: QEMU reopens the disk O_RDWR at cont; the open is
#         refused (EBUSY), the guest stays paused, the image stays valid;
#      b. file.auto-read-only=off (QEMU keeps the descriptor it opened
#         before the save): the running guest's next write invalidates the
#         image (memory.save.stale), resume refuses with ESTALE and a
#         reason, on the mount and in the CLI;
#   9. restore from a plain backup: save, rsync -a --sparse the guest out,
#      rm -r it, rsync it back into a new guest: it comes back saved with
#      its disk pinned, resumes, and the guest counts on from the save.
# Prints the time of each step and of the whole scenario, and memory.save's
# logical size against the space it takes in the store.
#
# Environment: HANGARFS, HANGAR (default: $HANGAR_BUILD_DIR or ./build);
# HANGAR_VM_CACHE (guest cache, see build-guest.sh); HANGAR_NO_INSTALL=1;
# HANGAR_VM_KVM=1 runs the guests under KVM instead of TCG (vm.bash).
# Exit 77 ("SKIPPED: reason") only without /dev/fuse or when the packages
# cannot be had.

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


fs_setup qemu-system-x86_64 qemu-img socat losetup mount umount mkfs.ext4 \
	getfattr setfattr python3 cmp
[ -e /dev/loop-control ] || skip "no /dev/loop-control (loop devices)"

BUSY="Device or resource busy"
GUEST=web01
G=$MNT/$GUEST
DISK=$G/disk.raw
BASE=4096 # the writer's block 0 is at 16 MiB; an ext4 fills the first 16 MiB
LOOPS=()

# qemu_must_refuse WHAT: run QEMU_ARGS in the foreground; it must exit by
# itself (not be stopped by the timeout), with an error, naming EBUSY, the
# guest never booted, and hangarfs logged a refusal.
qemu_must_refuse() {
	local rc r0
	r0=$(refusals)
	timeout 60 "${QEMU_ARGS[@]}" </dev/null >"$QERR" 2>&1
	rc=$?
	[ "$rc" = 0 ] && fail "$1: QEMU ran the saved guest's disk read-write and exited 0"
	[ "$rc" = 124 ] && fail "$1: QEMU started and ran for 60 s (stopped by the timeout)"
	grep -q "$BUSY" "$QERR" || fail "$1: QEMU failed (exit $rc), but not with EBUSY: $(cat "$QERR")"
	grep -q "Could not open '$DISK'" "$QERR" || fail "$1: QEMU's error is not about opening disk.raw: $(cat "$QERR")"
	! grep -aq BOOTED "$QLOG" 2>/dev/null || fail "$1: the guest booted"
	[ "$(refusals)" -gt "$r0" ] || fail "$1: hangarfs logged no refusal for QEMU's open"
}

# --- helpers -------------------------------------------------------------
state() { getfattr --absolute-names --only-values -n user.hangar.state "$G" 2>&1; }
expect_state() {
	local s
	s=$(state)
	[ "$s" = "$1" ] || fail "$2: user.hangar.state is '$s', expected '$1'"
}
refusals() { grep -c "$GUEST/disk.raw: read-write open refused" "$HFS_LOG"; }
# status_pins: `hangar status` (in STATUS) says saved and its save lock names
# disk.raw.
status_pins() {
	echo "$STATUS" | grep -qE '^state +saved( |$)' || fail "$1: hangar status does not say saved: $STATUS"
	echo "$STATUS" | awk '/^save lock +memory\.save pins/ { l = 1; next }
		l && /^[a-z]/ { l = 0 } l && $1 == "disk.raw" { found = 1 }
		END { exit !found }' || fail "$1: hangar status's save lock does not pin disk.raw: $STATUS"
}
same_as_saved() {
	t cmp "$WORK/disk-at-save.raw" "$DISK" ||
		fail "disk.raw changed after a refused attempt ($1)"
}


# loop_attach [DEVICE] [losetup options]: attach disk.raw (to DEVICE, else
# the first free one); the device in dev, or
# losetup's error message in dev and status 1.
loop_attach() {
	local where=-f
	case "${1:-}" in /dev/*) where=$1; shift ;; esac
	dev=$(t losetup --show "$@" "$where" "$DISK" 2>"$WORK/losetup.err") || {
		dev=$(cat "$WORK/losetup.err")
		return 1
	}
	LOOPS+=("$dev")
}
loop_detach() {
	local dev=$1 i
	t losetup -d "$dev" || fail "losetup -d $dev"
	# The kernel lets go of the backing file asynchronously.
	for ((i = 0; i < 50; i++)); do
		losetup -j "$DISK" 2>/dev/null | grep -q "^$dev:" || break
		sleep 0.1
	done
	LOOPS=("${LOOPS[@]/$dev/}")
}

vm_cleanup() {
	local m d
	set +e
	qemu_kill
	for m in "${EXTRA_MOUNTS[@]}"; do
		mountpoint -q "$m" && timeout 30 umount "$m"
	done
	for d in "${LOOPS[@]}"; do
		[ -n "$d" ] && timeout 30 losetup -d "$d" 2>/dev/null
	done
	[ ${#LOOPS[@]} -gt 0 ] && sleep 0.5
}
at_exit vm_cleanup

LM=$WORK/lm
mkdir -p "$LM" "$WORK/fsroot"
EXTRA_MOUNTS=("$LM")
echo "the file system the host must not mount read-write" >"$WORK/fsroot/hello.txt"

fs_mount
SCENARIO_T=$(date +%s.%N)
echo "guest build/cache check: $(elapsed "$T0") s"

step "1. a guest in the mounted store; QEMU boots it; it writes numbered blocks"
mkdir "$G" || fail "mkdir $G"
t truncate -s 64M "$DISK" || fail "truncate disk.raw"
t mkfs.ext4 -q -F -b 4096 -E nodiscard -d "$WORK/fsroot" "$DISK" 4096 ||
	fail "mkfs.ext4 on disk.raw"
# Control: before any save, the host can attach and mount it read-write.
loop_attach || fail "losetup read-write before the save: $dev"
t mount "$dev" "$LM" || fail "mount $dev before the save"
echo "written by the host before the guest ran" >"$LM/host.txt" || fail "write into the loop mount"
t umount "$LM" || fail "umount $LM"
loop_detach "$dev"
expect_state stopped "before boot"
qemu_boot boot1 "hangar.mode=writer hangar.start=0" ""
wait_wrote 20 60
expect_state open-rw "while QEMU runs"
echo "    the guest is writing: $(tr -d '\r' <"$QLOG" | grep -ac '^WROTE ') blocks so far"

step "2. stop, migrate into memory.save, quit: saved, disk.raw pinned"
save_guest
N1=$(last_wrote "$WORK/boot1.serial")
wrote_numbers "$WORK/boot1.serial" | awk '$1 != NR - 1 { print "gap at " NR - 1; exit 1 }' ||
	fail "the writer's numbers are not consecutive"
echo "    saved after block $N1"
expect_state saved "after the save"
SAVED_XATTR=$(getfattr --absolute-names --only-values -n user.hangar.saved "$G")
case "$SAVED_XATTR" in
*"disks=disk.raw;"*) ;;
*) fail "user.hangar.saved does not pin disk.raw: $SAVED_XATTR" ;;
esac
getfattr --absolute-names -d -m user.hangar "$G" | sed 's/^/    /'
STATUS=$(t "$HANGAR" status "$STORE" "$GUEST" 2>&1) || fail "hangar status on the mounted store: $STATUS"
echo "$STATUS" | sed 's/^/    | /'
status_pins "after the save"
expect_log "$GUEST/memory.save: save image sealed"
SAVE_LOGICAL=$(stat -c %s "$G/memory.save")
SAVE_ONMOUNT=$(($(stat -c '%b * %B' "$G/memory.save")))
CONTAINER=$(du -B1 "$STORE/$GUEST.hangar" | cut -f1)
DISK_ONMOUNT=$(($(stat -c '%b * %B' "$DISK")))
[ "$SAVE_LOGICAL" -gt 1000000 ] || fail "memory.save is only $SAVE_LOGICAL bytes"
t cp --sparse=always "$DISK" "$WORK/disk-at-save.raw" || fail "read-only copy of the disk"
hostcheck 0 "$N1" 2 || fail "blocks written before the save"

step "3. the disaster, three ways: each refused with EBUSY, the disk unchanged"
echo "--- 3a. a fresh boot of the same disk, read-write"
qemu_args disaster "hangar.mode=writer hangar.start=0" ""
qemu_must_refuse "fresh boot"
sed 's/^/    qemu: /' "$QERR"
same_as_saved "fresh boot"

echo "--- 3b. losetup read-write, then mount"
r0=$(refusals)
# On a named device: with -f, losetup takes EBUSY for a device another
# process grabbed and retries for ~13 s before giving up.
free=$(t losetup -f) || fail "losetup -f (find a free loop device)"
# losetup falls back to a read-only device only on EROFS/EACCES, never on
# EBUSY: any device attached here is a failure (read-only is step 3d).
if loop_attach "$free"; then
	ro=$(cat "/sys/block/${dev#/dev/}/ro" 2>/dev/null)
	loop_detach "$dev"
	fail "losetup (read-write) attached $dev (ro=$ro) instead of failing with EBUSY"
else
	echo "    losetup: $dev"
	case "$dev" in *"$BUSY"*) ;; *) fail "losetup failed, but not with EBUSY: $dev" ;; esac
	[ "$(refusals)" -gt "$r0" ] || fail "hangarfs logged no refusal for losetup's open"
	# That it was the backing file's open(O_RDWR) that failed with EBUSY (a
	# busy loop device gives the same message), when strace is here:
	if command -v strace >/dev/null; then
		free=$(t losetup -f) || fail "losetup -f"
		t strace -f -e trace=openat -o "$WORK/losetup.strace" losetup "$free" "$DISK" 2>/dev/null &&
			fail "losetup attached under strace"
		grep -E "openat\(.*disk\.raw\", O_RDWR.* = -1 EBUSY" "$WORK/losetup.strace" >/dev/null ||
			fail "no open(disk.raw, O_RDWR) = -1 EBUSY in: $(grep disk.raw "$WORK/losetup.strace")"
		echo "    strace: $(grep -E 'disk\.raw", O_RDWR' "$WORK/losetup.strace" | head -n 1 | sed 's/^[0-9]* *//')"
	fi
	# mount's own loop setup (mount -o loop) must not get it either.
	# libmount takes EBUSY from its loop setup for a loop device another
	# process grabbed and retries, forever (util-linux 2.38): give it 3 s.
	r0=$(refusals)
	timeout 3 mount -o loop,rw "$DISK" "$LM" 2>"$WORK/mount.err"
	rc=$?
	if mountpoint -q "$LM"; then
		opts=$(findmnt -n -o OPTIONS "$LM")
		t umount "$LM"
		fail "mount -o loop,rw mounted the saved disk ($opts)"
	fi
	# Whether libmount gave up or was stopped, it must have been hangarfs's
	# EBUSY on the backing file that kept it out.
	[ "$(refusals)" -gt "$r0" ] || fail "mount -o loop,rw (exit $rc): hangarfs logged no refusal: $(cat "$WORK/mount.err")"
	if [ "$rc" = 124 ]; then
		echo "    mount -o loop,rw: not mounted; libmount retried the EBUSY open $(($(refusals) - r0)) times in 3 s and was stopped"
	else
		[ "$rc" != 0 ] || fail "mount -o loop,rw succeeded but nothing is mounted"
		grep -q "$BUSY" "$WORK/mount.err" || fail "mount -o loop,rw failed (exit $rc), but not with EBUSY: $(cat "$WORK/mount.err")"
		echo "    mount -o loop,rw (exit $rc): $(tr '\n' ' ' <"$WORK/mount.err")"
	fi
	losetup -j "$DISK" | grep -q . && fail "a loop device is left on disk.raw: $(losetup -j "$DISK")"
fi
same_as_saved "losetup"

echo "--- 3c. qemu-img resize"
expect_fail "$BUSY" qemu-img resize -f raw "$DISK" +16M
echo "    qemu-img resize: $(timeout "$T" qemu-img resize -f raw "$DISK" +16M 2>&1)"
[ "$(stat -c %s "$DISK")" = $((64 << 20)) ] || fail "disk.raw size changed"
same_as_saved "qemu-img resize"

echo "--- 3d. read-only inspection works"
out=$(t qemu-img compare -f raw -F raw "$WORK/disk-at-save.raw" "$DISK" 2>&1) ||
	fail "qemu-img compare: $out"
echo "    qemu-img compare: $out"
t qemu-img info -f raw "$DISK" >/dev/null || fail "qemu-img info"
loop_attach -r || fail "losetup -r: $dev"
t mount -o ro,noload "$dev" "$LM" || fail "mount -o ro,noload $dev"
grep -q "before the guest ran" "$LM/host.txt" || fail "read through the ro loop mount"
grep -q "must not mount" "$LM/hello.txt" || fail "read hello.txt through the ro loop mount"
echo "    losetup -r $dev + mount -o ro,noload: $(ls "$LM" | tr '\n' ' ')"
t umount "$LM" || fail "umount ro"
loop_detach "$dev"
expect_state saved "after the attempts"
same_as_saved "read-only inspection"

step "4. the lock holds across a remount and across SIGKILL of hangarfs"
fs_remount
expect_state saved "after remount"
[ "$(errno_of "os.open('$DISK', os.O_RDWR)")" = EBUSY ] || fail "rw open after remount"
same_as_saved "after remount"
kill -KILL "$HFS_PID"
fs_wait_exit 10 || fail "hangarfs survived SIGKILL"
timeout 30 fusermount3 -u "$MNT" || timeout 30 fusermount3 -u -z "$MNT"
HFS_PID=
out=$(t "$HANGAR" check "$STORE" 2>&1) || fail "hangar check after SIGKILL: $out"
t "$HANGAR" status "$STORE" "$GUEST" | grep -qi saved || fail "offline status after SIGKILL"
fs_mount
expect_state saved "after SIGKILL + remount"
STATUS=$(t "$HANGAR" status "$STORE" "$GUEST" 2>&1) || fail "hangar status after SIGKILL + remount: $STATUS"
status_pins "after SIGKILL + remount"
qemu_args disaster2 "hangar.mode=writer" ""
qemu_must_refuse "after SIGKILL + remount"
same_as_saved "after SIGKILL"
echo "    still refused: $(cat "$QERR")"

step "5. resume and restore: the guest counts on; memory.save retires"
# On a mounted store `hangar resume` asks hangarfs (its control socket);
# a hangar without that refuses and names the setfattr that does it.
if out=$(t "$HANGAR" resume "$STORE" "$GUEST" 2>&1); then
	echo "    hangar resume (mounted, through hangarfs): ${out:-ok}"
else
	case "$out" in
	*"setfattr -n user.hangar.resume -v 1"*) ;;
	*) fail "hangar resume on a mounted store: $out" ;;
	esac
	echo "    hangar resume (mounted) refused: $(echo "$out" | tr '\n' ' ')"
	t setfattr -n user.hangar.resume -v 1 "$G" || fail "setfattr user.hangar.resume"
fi
expect_state resuming "after resume"
qemu_start restore "hangar.mode=writer" "" -incoming "exec:cat $G/memory.save"
wait_migration "incoming"
# The image was taken from a stopped VM, so the restored one starts paused.
ensure_running "after the restore"
wait_wrote $((N1 + 10)) 120
grep -aq BOOTED "$QLOG" && fail "the restored guest booted afresh instead of resuming"
FIRST=$(wrote_numbers "$QLOG" | head -n 1)
[ "$FIRST" -gt "$N1" ] && [ "$FIRST" -le $((N1 + 2)) ] ||
	fail "the restored guest went on at block $FIRST; it stopped at $N1"
wrote_numbers "$QLOG" | awk -v f="$FIRST" '$1 != f + NR - 1 { exit 1 }' ||
	fail "the restored guest's numbers are not consecutive"
mon "info status" | grep -q "VM status: running" || fail "restored VM not running"
for ((i = 0; i < 50; i++)); do [ -e "$G/memory.save" ] || break; sleep 0.1; done
[ ! -e "$G/memory.save" ] || fail "memory.save not retired after the guest wrote"
expect_state open-rw "after retirement, QEMU running"
expect_log "save image retired"
echo "    stopped at $N1, resumed at $FIRST, memory.save retired"

step "6. power off; a verifier guest boots the disk read-only"
mon quit >/dev/null
wait_qemu_exit 30
N2=$(last_wrote "$WORK/restore.serial")
expect_state stopped "after power-off"
qemu_boot verify1 "hangar.mode=verifier hangar.start=0 hangar.count=$((N2 + 1))" ",readonly=on"
wait_serial "VERIFY DONE" 180
wait_qemu_exit 30
v=$(serial_lines "$QLOG")
grep -q "ro=1" <<<"$v" || fail "the verifier's disk is not read-only"
grep -q "^VERIFY DONE bad=0$" <<<"$v" || fail "verifier: $(grep -E '^BAD|VERIFY' <<<"$v" | head)"
[ "$(grep -c '^OK ' <<<"$v")" = $((N2 + 1)) ] || fail "verifier checked $(grep -c '^OK ' <<<"$v") blocks, not $((N2 + 1))"
hostcheck 0 "$N2" 2 || fail "host check after power-off"
t cmp -n $((16 << 20)) "$WORK/disk-at-save.raw" "$DISK" || fail "the ext4 region changed"
echo "    blocks 0..$N2 verified in the guest (read-only) and on the host"

step "7. discard: save again, rm memory.save, a fresh boot works"
# This save is also the crash case step 4 cannot be (its SIGKILL came after
# a clean remount had committed everything): on a mount with no background
# commits, hangarfs is SIGKILLed at once after the save, and the lock must
# hold after the remount (docs/design.md invariant 5: the seal is its own commit).
fs_remount -o commit_interval=0
grep "mounted $STORE" "$HFS_LOG" | tail -n 1 | grep -qF "(commit every 0s)" ||
	fail "the remount does not run with commit_interval=0: $(grep "mounted $STORE" "$HFS_LOG" | tail -n 1)"
qemu_boot boot2 "hangar.mode=writer hangar.start=$((N2 + 1))" ""
wait_wrote $((N2 + 6)) 90
save_guest
N3=$(last_wrote "$WORK/boot2.serial")
expect_state saved "second save"
kill -KILL "$HFS_PID"
fs_wait_exit 10 || fail "hangarfs survived SIGKILL"
timeout 30 fusermount3 -u "$MNT" || timeout 30 fusermount3 -u -z "$MNT"
HFS_PID=
t "$HANGAR" check "$STORE" >/dev/null 2>&1 || fail "hangar check after the SIGKILL right after the save: $(t "$HANGAR" check "$STORE" 2>&1)"
fs_mount
expect_state saved "after SIGKILL right after the second save + remount"
[ "$(errno_of "os.open('$DISK', os.O_RDWR)")" = EBUSY ] ||
	fail "rw open after SIGKILL right after the second save"
STATUS=$(t "$HANGAR" status "$STORE" "$GUEST" 2>&1) || fail "hangar status: $STATUS"
status_pins "after SIGKILL right after the second save"
echo "    SIGKILL of hangarfs right after the save (commit_interval=0), remount: still saved, disk.raw pinned"
t rm "$G/memory.save" || fail "rm memory.save"
expect_state stopped "after rm memory.save"
expect_log "$GUEST/memory.save: removed; saved state discarded"
qemu_boot boot3 "hangar.mode=writer hangar.start=$((N3 + 1))" ""
wait_wrote $((N3 + 5)) 60
echo "    fresh boot after discard writes: up to $(last_wrote "$QLOG")"

step "8. checkpoint: migrate without stop (like xl save -c), then cont"
echo "--- 8a. QEMU's default -drive: cont reopens the disk read-write, refused"
# With -drive, QEMU's file node is auto-read-only: when the migration
# completes, the source's disks are inactivated (the fd becomes read-only)
# and `cont` reopens them O_RDWR; the save lock refuses that open, so the
# guest cannot run on past a checkpoint image and the image stays valid.
migrate_to_save
expect_state saved "after the checkpoint"
C0=$(last_wrote "$QLOG")
out=$(mon cont)
case "$out" in
*"$BUSY"*) echo "    cont: $(grep -a "$BUSY" <<<"$out" | head -n 1)" ;;
*) fail "cont after a checkpoint was not refused with EBUSY: $out" ;;
esac
mon "info status" | grep -q "VM status: paused" || fail "the VM runs after a refused cont"
sleep 2
[ "$(last_wrote "$QLOG")" = "$C0" ] || fail "the guest wrote after the refused cont"
expect_state saved "after the refused cont"
hostcheck 0 "$C0" 2 || fail "host check after the refused cont"
mon quit >/dev/null
wait_qemu_exit 30
t rm "$G/memory.save" || fail "rm memory.save after 8a"

echo "--- 8b. QEMU keeps its read-write descriptor: the running guest invalidates the image"
# file.auto-read-only=off: the disk's O_RDWR descriptor, opened before the
# save, stays in use across the migration and the cont, as with xl save -c.
qemu_boot boot4 "hangar.mode=writer hangar.start=$((C0 + 1))" ",file.auto-read-only=off"
wait_wrote $((C0 + 5)) 60
migrate_to_save
C1=$(last_wrote "$QLOG")
# QEMU pauses the source when the migration completes (postmigrate);
# `cont` lets the guest go on.
ensure_running "after the checkpoint"
wait_wrote $((C1 + 3)) 60
for ((i = 0; i < 50; i++)); do [ "$(state)" = invalidated ] && break; sleep 0.1; done
expect_state invalidated "after the running guest wrote past the checkpoint"
[ ! -e "$G/memory.save" ] && [ -e "$G/memory.save.stale" ] ||
	fail "the checkpoint image is not set aside: $(ls -a "$G" | tr '\n' ' ')"
expect_log "save image invalidated"
echo "    log: $(grep "save image invalidated" "$HFS_LOG" | tail -n 1)"
getfattr --absolute-names -d -m user.hangar "$G" | sed 's/^/    /'
[ "$(errno_of "os.setxattr('$G', 'user.hangar.resume', b'1')")" = ESTALE ] ||
	fail "resume of the stale checkpoint did not fail with ESTALE"
out=$(setfattr -n user.hangar.resume -v 1 "$G" 2>&1) && fail "setfattr resume succeeded"
echo "    setfattr resume: $out"
expect_log "$GUEST: resume refused: "
out=$(t "$HANGAR" resume "$STORE" "$GUEST" 2>&1) && fail "hangar resume of the stale image on the mount succeeded: $out"
case "$out" in *"resume refused"*stale*) ;; *) fail "hangar resume (mounted) refused without the reason (stale): $out" ;; esac
echo "    hangar resume (mounted): $(echo "$out" | tr '\n' ' ')"
echo "    log: $(grep "$GUEST: resume refused: " "$HFS_LOG" | tail -n 1)"
STATUS=$(t "$HANGAR" status "$STORE" "$GUEST" 2>&1) || fail "hangar status: $STATUS"
echo "$STATUS" | grep -q invalidated || fail "hangar status does not say invalidated: $STATUS"
echo "$STATUS" | sed 's/^/    | /'
mon quit >/dev/null
wait_qemu_exit 30
N4=$(last_wrote "$WORK/boot4.serial")
hostcheck 0 "$N4" 2 || fail "host check at the end"
fs_umount
out=$(t "$HANGAR" resume "$STORE" "$GUEST" 2>&1) && fail "hangar resume of the stale image succeeded: $out"
case "$out" in *"resume refused"*stale*) ;; *) fail "hangar resume (unmounted) refused without the reason (stale): $out" ;; esac
echo "    hangar resume (unmounted): $(echo "$out" | tr '\n' ' ')"
out=$(t "$HANGAR" check "$STORE" 2>&1) || fail "hangar check at the end: $out"
echo "    ($(elapsed "$STEP_T") s)"

step "9. restore from a plain backup: rsync out, rm -r, rsync into a new guest, resume"
fs_mount
t "$HANGAR" discard "$STORE" "$GUEST" >/dev/null || fail "discard the stale checkpoint"
qemu_boot boot5 "hangar.mode=writer hangar.start=$((N4 + 1))" ""
wait_wrote $((N4 + 6)) 90
save_guest
N5=$(last_wrote "$WORK/boot5.serial")
expect_state saved "before the backup"
t rsync -a --sparse "$G/" "$WORK/backup/" || fail "rsync the saved guest out"
# the save lock refuses to unlink a pinned disk: discard first (rm
# memory.save), then rm -r
t rm "$G/memory.save" || fail "rm memory.save before rm -r"
t rm -r "$G" || fail "rm -r the guest"
[ ! -e "$G" ] || fail "guest still there after rm -r"
G=$MNT/web02
DISK=$G/disk.raw
t rsync -a --sparse "$WORK/backup/" "$G/" || fail "rsync the backup into web02"
[ "$(getfattr --absolute-names --only-values -n user.hangar.state "$G")" = saved ] ||
	fail "the restored guest is not saved: $(getfattr --absolute-names -d -m user.hangar "$G")"
[ "$(errno_of "os.open('$DISK', os.O_RDWR)")" = EBUSY ] ||
	fail "the restored disk is not pinned"
t "$HANGAR" resume "$STORE" web02 >/dev/null || fail "hangar resume of the restored guest"
qemu_start restore2 "hangar.mode=writer" "" -incoming "exec:cat $G/memory.save"
wait_migration "incoming (restored guest)"
ensure_running "after the restore from backup"
wait_wrote $((N5 + 5)) 120
grep -aq BOOTED "$QLOG" && fail "the restored guest booted afresh instead of resuming"
FIRST2=$(wrote_numbers "$QLOG" | head -n 1)
[ "$FIRST2" -gt "$N5" ] && [ "$FIRST2" -le $((N5 + 2)) ] ||
	fail "the guest restored from backup went on at block $FIRST2; it stopped at $N5"
mon quit >/dev/null
wait_qemu_exit 30
echo "    saved at $N5, restored from the backup into web02 at $FIRST2"
fs_umount
out=$(t "$HANGAR" check "$STORE" 2>&1) || fail "hangar check after the restore: $out"

SCENARIO=$(elapsed "$SCENARIO_T")
echo "=== figures"
echo "scenario time (steps 1-9): $SCENARIO s; with guest build/cache check: $(elapsed "$T0") s"
echo "blocks written: $((N4 + 1)) (save at $N1, restored at $FIRST, discard save at $N3, refused checkpoint at $C0, stale checkpoint at $C1)"
awk -v l="$SAVE_LOGICAL" -v s="$SAVE_ONMOUNT" -v c="$CONTAINER" -v d="$DISK_ONMOUNT" 'BEGIN {
	printf "memory.save: logical %d bytes (%.1f MiB), stored %d bytes (%.1f MiB, st_blocks on the mount): ratio %.2f\n", l, l / 1048576, s, s / 1048576, s ? l / s : 0
	printf "container web01.hangar at the save: %d bytes on the host (du), disk.raw used %d bytes\n", c, d
}'
echo PASS
