#!/bin/bash
# tests/ceph/evicted_sync.sh -- the lease proof (docs/multihost.md, section
# 4): host A is evicted at the MDS (and so blocklisted) AFTER its commit's
# last write was issued (the superblock) and BEFORE that commit's last
# fdatasync ran.  An evicted ceph-fuse client's fsync can return 0 for data
# it then drops (measured with a plain file), so a daemon must not take a
# sync's word for it.
#
#   - A's guest fsync must fail EIO and the container be poisoned: after
#     the sync that ends a commit (and on a failed sync), a read-write
#     container on a shared filesystem re-takes its container lock on the
#     held descriptor, which fails on a client that knows it was evicted,
#     and then the log says it "lost the lease"; in some runs the sync
#     itself fails first (the OSDs refuse the blocklisted client) while the
#     re-lock still succeeds (ceph-fuse answers it from its own lock state
#     until it has processed the eviction), and the log says the sync
#     failed -- both are accepted, a 0 from the fsync never is;
#   - host B then opens the guest read-write and reads the MiB A had
#     acknowledged, and of the unacknowledged MiB either all of it or none
#     of it (generation G or G + 1, whole: FORMAT section 5).
# The window is made with strace: every fdatasync of A's hangarfs is held at
# its entry; once the commit's first sync (its tree) has returned, the
# second (its superblock) is being held, A is evicted, and strace detaches
# so that sync runs at once.  Without the lease check (-o lease_check=off)
# the runs so far failed the sync by itself (ESHUTDOWN, now answered EIO
# by hangarfs), so this test does not fail without the check: it shows that
# no acknowledgement happens in this window, not a lost one without the
# check (tests/core/test_dirio.c shows the check itself, with a sync that
# returns 0 without it).
# Needs root, Ceph (tests/ceph/ceph.bash) and strace.
. "$(dirname "$0")/../lib.bash"
. "$(dirname "$0")/ceph.bash"
need_fuse
need_hangar
need python3 cmp strace
work_setup
ceph_start
HOST_A=$WORK/host-a
HOST_B=$WORK/host-b
ceph_mount hosta "$HOST_A"
ceph_mount hostb "$HOST_B"
t "$HANGAR" init "$HOST_A/store" >/dev/null || fail "hangar init on CephFS"
t "$HANGAR" create "$HOST_A/store" g1 --disk 64M >/dev/null || fail "create"

# each host's programs under its own host name and per-host lock directory
# (ceph_host_bin): one machine's two "hosts" must not share /run/hangar
BIN_A=$(ceph_host_bin hosta)
BIN_B=$(ceph_host_bin hostb)
HFS_LOG=$WORK/hangarfs-a.log
# no background committer: the guest's fsync is the only commit
HANGARFS=$BIN_A/hangarfs fs_mount_other "$HOST_A/store" "$WORK/mnt-a" "$HFS_LOG" \
	-o commit_interval=0 || fail "hangarfs on host A"
HFS_A=$OTHER_PID

log "A writes and fsyncs 1 MiB, writes a second one; fsync with A evicted mid-commit"
timeout "$T" python3 - "$WORK" <<'PY' &
import errno, os, sys, time
w = sys.argv[1]
# ceph-fuse releases the container lock of the `hangar create` that just
# exited at the MDS a moment later: until then the open is EBUSY
for attempt in range(100):
    try:
        fd = os.open(f"{w}/mnt-a/g1/disk.raw", os.O_RDWR)
        break
    except OSError as e:
        if e.errno != errno.EBUSY or attempt == 99:
            raise
        time.sleep(0.1)
os.pwrite(fd, b"A" * 2**20, 0)
os.fsync(fd)
os.pwrite(fd, b"B" * 2**20, 2**20)
open(f"{w}/ready", "w").close()
while not os.path.exists(f"{w}/go"):
    time.sleep(0.05)
try:
    os.fsync(fd)
    result = "OK"
except OSError as e:
    result = errno.errorcode.get(e.errno, str(e.errno))
open(f"{w}/after", "w").write(result + "\n")
PY
WRITER=$!
at_exit "kill $WRITER 2>/dev/null"
for ((i = 0; i < 300; i++)); do
	[ -e "$WORK/ready" ] && break
	kill -0 "$WRITER" 2>/dev/null || fail "the writer on A died"
	sleep 0.1
done
[ -e "$WORK/ready" ] || fail "the writer on A did not get ready"

# Every fdatasync of A's daemon waits HOLD s at its entry; the trace shows
# each one when it returns.
HOLD=20
strace -f -qq -p "$HFS_A" -e trace=fdatasync \
	-e inject=fdatasync:delay_enter=$((HOLD * 1000000)) \
	-o "$WORK/strace.out" 2>"$WORK/strace.err" &
STRACE=$!
at_exit "kill $STRACE 2>/dev/null; wait $STRACE 2>/dev/null"
sleep 1 # attached to every thread (strace attaches before it traces)
touch "$WORK/go"
for ((i = 0; i < 300; i++)); do
	[ "$(grep -c 'fdatasync(' "$WORK/strace.out" 2>/dev/null)" -ge 1 ] && break
	sleep 0.1
done
[ "$(grep -c 'fdatasync(' "$WORK/strace.out")" -ge 1 ] ||
	fail "A's commit made no fdatasync: $(cat "$WORK/strace.err")"
# the tree's sync returned; the superblock is written and its sync held
START=$SECONDS
ceph_evict hosta
EVICTED=$((SECONDS - START))
# strace detaches at once: the held sync runs now, right after the
# eviction, before A's client may have noticed it
kill "$STRACE" 2>/dev/null
wait "$STRACE" 2>/dev/null
log "A evicted $EVICTED s into the superblock's sync hold ($HOLD s)"
wait "$WRITER" || fail "the writer on A failed"
cat "$WORK/strace.out"
((EVICTED < HOLD - 1)) ||
	fail "the eviction took longer than the hold: the test proves nothing"
[ "$(cat "$WORK/after")" = EIO ] ||
	fail "A's fsync after its eviction mid-commit: $(cat "$WORK/after")"
# Poisoned, and why: the lease proof's words when it caught the eviction;
# the sync's own failure when the sync saw it first (the blocklisted OSD
# write) and ceph-fuse still answered the re-lock from its own lock state.
if grep -qF "lost the lease" "$HFS_LOG"; then
	log "A's commit: the lease proof failed (lost the lease)"
else
	expect_log "backing sync failed; container poisoned"
	log "A's commit: the sync itself failed; the re-lock still succeeded"
fi

log "B takes the guest: what A acknowledged, and the rest whole or not at all"
HFS_LOG=$WORK/hangarfs-b.log
HANGARFS=$BIN_B/hangarfs fs_mount_other "$HOST_B/store" "$WORK/mnt-b" "$HFS_LOG" \
	-o commit_interval=1 || fail "hangarfs on host B"
got=$(errno_of "os.close(os.open('$WORK/mnt-b/g1/disk.raw', os.O_RDWR))")
[ "$got" = OK ] || fail "B cannot open g1 read-write beside fenced A: $got"
head -c 1048576 /dev/zero | tr '\0' A >"$WORK/first"
t cmp -n 1048576 "$WORK/first" "$WORK/mnt-b/g1/disk.raw" ||
	fail "B does not read the MiB A fsynced"
second=$(python3 -c '
import sys
with open(sys.argv[1], "rb") as f:
    f.seek(2**20)
    b = f.read(2**20)
print("B" if b == b"B" * 2**20 else "zero" if b == bytes(2**20) else "mixed")
' "$WORK/mnt-b/g1/disk.raw")
log "B reads the unacknowledged MiB as: $second"
[ "$second" != mixed ] || fail "B reads a mix of the unacknowledged MiB"
fs_umount_other "$WORK/mnt-b" "$OTHER_PID"
echo PASS
