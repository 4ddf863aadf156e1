#!/bin/bash
# tests/ceph/savelock.sh -- the save lock across two hosts of one CephFS
# store (docs/multihost.md, section 6): a guest saved on host A is saved on
# host B too.
#   - on A: the guest's disk is written and fsynced, then memory.save is
#     written and closed (the seal, as tests/fs/savelock.sh makes a save
#     without QEMU); A's disk refuses writes; `hangar release` on A;
#   - on B: `hangar status` says saved; a read-write open of the disk (a
#     fresh boot) is refused EBUSY by the save lock (B's log names
#     memory.save), not by A's container lock;
#   - `hangar resume` on B (through B's daemon) releases the save lock; the
#     disk then opens read-write on B, with every byte A wrote, and B reads
#     the image A saved.
. "$(dirname "$0")/../lib.bash"
. "$(dirname "$0")/ceph.bash"
need_fuse
need_hangar
need python3 cmp dd getfattr
work_setup
START=$SECONDS
ceph_start
ceph_two_hosts 64M
G_A=$WORK/mnt-a/g1
G_B=$WORK/mnt-b/g1

log "host A writes the disk and saves the guest"
dd if=/dev/urandom of="$WORK/pattern" bs=1M count=4 status=none
dd if=/dev/urandom of="$WORK/mem" bs=1M count=2 status=none
ceph_wait_unlocked "$G_A/disk.raw"
t dd if="$WORK/pattern" of="$G_A/disk.raw" bs=1M conv=notrunc,fsync \
	status=none || fail "dd disk through host A"
t dd if="$WORK/mem" of="$G_A/memory.save" bs=1M status=none ||
	fail "dd memory.save through host A"
state=$(getfattr --absolute-names --only-values -n user.hangar.state "$G_A")
[ "$state" = saved ] || fail "state on host A after the save: $state"
expect_log "g1/memory.save: save image sealed"
got=$(errno_of "os.close(os.open('$G_A/disk.raw', os.O_RDWR))")
[ "$got" = EBUSY ] || fail "host A's disk opened read-write after the save: $got"

log "host A releases g1"
for ((i = 0; i < 50; i++)); do
	t "$BIN_A/hangar" release "$HOST_A/store" g1 >"$WORK/rel.out" 2>&1 &&
		break
	sleep 0.2 # the kernel's release of dd's files reaches hangarfs late
done
grep -q "^released g1" "$WORK/rel.out" ||
	{ cat "$WORK/rel.out"; fail "hangar release on host A"; }

log "host B: saved, a fresh boot refused by the save lock"
HFS_LOG=$WORK/hangarfs-b.log
t "$BIN_B/hangar" status "$HOST_B/store" g1 >"$WORK/status.out" 2>&1 ||
	{ cat "$WORK/status.out"; fail "hangar status on host B"; }
grep -qE '^state +saved since' "$WORK/status.out" ||
	{ cat "$WORK/status.out"; fail "host B does not see g1 saved"; }
# EBUSY either way: by A's container lock until the MDS has A's unlock (a
# moment after the release), then by the save lock, which B's log names
refused=
for ((i = 0; i < 100; i++)); do
	got=$(errno_of "os.close(os.open('$G_B/disk.raw', os.O_RDWR))")
	[ "$got" = EBUSY ] || fail "host B opened the saved disk read-write: $got"
	if grep -q "g1/disk.raw: read-write open refused: memory.save (saved " \
		"$HFS_LOG"; then
		refused=1
		break
	fi
	sleep 0.1
done
[ -n "$refused" ] || fail "host B's refusal never named the save lock"
expect_log "resume with 'hangar resume $HOST_B/store g1'"
state=$(getfattr --absolute-names --only-values -n user.hangar.state "$G_B")
[ "$state" = saved ] || fail "state on host B: $state"

log "hangar resume on host B, then the disk opens read-write there"
t "$BIN_B/hangar" resume "$HOST_B/store" g1 >"$WORK/resume.out" 2>&1 ||
	{ cat "$WORK/resume.out"; fail "hangar resume on host B"; }
grep -q '^g1: resuming' "$WORK/resume.out" ||
	{ cat "$WORK/resume.out"; fail "resume's words"; }
grep -q "hangarfs" "$WORK/resume.out" ||
	{ cat "$WORK/resume.out"; fail "resume did not go through B's daemon"; }
t cmp "$WORK/mem" "$G_B/memory.save" ||
	fail "host B reads another memory.save than host A saved"
got=$(errno_of "os.close(os.open('$G_B/disk.raw', os.O_RDWR))")
[ "$got" = OK ] || fail "host B cannot open the resumed disk read-write: $got"
t cmp -n 4194304 "$WORK/pattern" "$G_B/disk.raw" ||
	fail "host B reads other bytes than host A wrote before the save"
# the resumed guest's first write retires the image
t dd if=/dev/zero of="$G_B/disk.raw" bs=4k count=1 seek=4096 conv=notrunc,fsync \
	status=none || fail "host B writes the resumed disk"
state=$(getfattr --absolute-names --only-values -n user.hangar.state "$G_B")
[ "$state" = stopped ] || [ "$state" = open-rw ] ||
	fail "state on host B after the first write: $state"
log "total $((SECONDS - START)) s"
echo PASS
