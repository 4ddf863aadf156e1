#!/bin/bash
# tests/ceph/smoke.sh -- one store on a real CephFS seen by two hosts (two
# ceph-fuse clients of one single-node cluster, tests/ceph/ceph.bash), and
# what hangar does there TODAY, before guests are leased (docs/multihost.md):
#
#   - a guest written through host A's hangarfs (dd, fsync) is listed and
#     read back on host B by `hangar ls`/`status` (read-only, checksummed
#     metadata only) through B's own CephFS mount;
#   - the store lock (an flock on the store directory) does NOT reach
#     across the two clients: FUSE keeps directory flocks in the local
#     kernel, so B's hangarfs mounts the same store beside A's;
#   - the container lock (an flock on GUEST.hangar, a regular file) does:
#     ceph-fuse takes it at the MDS, so B's hangarfs refuses the guest
#     (EBUSY) and names the holder -- A's hangarfs PID -- from the holder
#     record (user.hangar.holder on the container file), since the lock is
#     not in this kernel's /proc/locks; B's `hangar status` (and --json) and
#     the guest directory's user.hangar.holder name it too (each host's
#     programs run in their own UTS namespace, so the hosts differ by name);
#   - each host's daemon binds its own control socket in the shared
#     directory (.hangar-control.HOST), and `hangar create` on each host
#     goes through its own host's daemon;
#   - guest create and rename work on CephFS, which fails renameat2's
#     RENAME_NOREPLACE (EINVAL): core links and unlinks instead, and still
#     never replaces a name (both refuse an existing guest);
#   - host A crashes (SIGKILL of its hangarfs and its ceph-fuse), A's client
#     is evicted (and so blocklisted), and B's hangarfs then serves the
#     guest read-write with every byte A fsynced; the time from the crash
#     to B's first read-write open is printed ("takeover: N s").
# When one of these facts changes (the lease work), this test says which.
. "$(dirname "$0")/../lib.bash"
. "$(dirname "$0")/ceph.bash"
need_fuse
need_hangar
need python3 dd cmp getfattr
work_setup
START=$SECONDS
ceph_start
HOST_A=$WORK/host-a # host A's CephFS mount
HOST_B=$WORK/host-b # host B's: the same files through another client
ceph_mount hosta "$HOST_A"
ceph_mount hostb "$HOST_B"
log "cluster and two clients up in $((SECONDS - START)) s"
HFS_LOG=$WORK/hangarfs-a.log

# a guest is created on CephFS (no RENAME_NOREPLACE there: link + unlink)
t "$HANGAR" init "$HOST_A/store" >/dev/null || fail "hangar init on CephFS"
t "$HANGAR" create "$HOST_A/store" g0 --disk 64M >/dev/null ||
	fail "hangar create on CephFS"
t "$HANGAR" rename "$HOST_A/store" g0 g1 >/dev/null ||
	fail "hangar rename on CephFS"
t "$HANGAR" create "$HOST_A/store" g2 --disk 64M >/dev/null ||
	fail "hangar create g2 on CephFS"
expect_fail "exists" "$HANGAR" rename "$HOST_A/store" g2 g1
expect_fail "exists" "$HANGAR" create "$HOST_A/store" g1 --disk 64M
[ "$(stat -c %h "$HOST_A/store/g1.hangar")" = 1 ] ||
	fail "g1.hangar has $(stat -c %h "$HOST_A/store/g1.hangar") names"
ls -A "$HOST_A/store" | grep -q '\.tmp$' && fail "a temporary file is left"
t "$HANGAR" rm "$HOST_A/store" g2 >/dev/null || fail "hangar rm g2"

log "host A serves the store; a guest disk written and fsynced through A"
BIN_A=$(ceph_host_bin hosta) # hangarfs, hangar with host name hosta
BIN_B=$(ceph_host_bin hostb)
HANGARFS=$BIN_A/hangarfs fs_mount_other "$HOST_A/store" "$WORK/mnt-a" "$HFS_LOG" \
	-o commit_interval=1 || fail "hangarfs on host A"
HFS_A=$OTHER_PID
dd if=/dev/urandom of="$WORK/pattern" bs=1M count=8 status=none
ceph_wait_unlocked "$WORK/mnt-a/g1/disk.raw"
t dd if="$WORK/pattern" of="$WORK/mnt-a/g1/disk.raw" bs=1M conv=notrunc,fsync \
	status=none || fail "dd through host A"

log "host B reads the committed state: hangar ls / status"
HFS_LOG=$WORK/hangarfs-b.log # what fail shows from here on
t "$HANGAR" ls "$HOST_B/store" >"$WORK/ls.out" 2>&1 ||
	{ cat "$WORK/ls.out"; fail "hangar ls on host B"; }
grep -qE '^g1 .*disk\.raw 64M \(8(\.0)?M used\)' "$WORK/ls.out" ||
	{ cat "$WORK/ls.out"; fail "host B does not see g1's 8M"; }
t "$HANGAR" status "$HOST_B/store" g1 >"$WORK/status.out" 2>&1 ||
	{ cat "$WORK/status.out"; fail "hangar status on host B"; }
grep -qE 'disk\.raw +64M virtual, 8(\.0)?M used' "$WORK/status.out" ||
	{ cat "$WORK/status.out"; fail "host B's status of g1"; }

log "host B starts its own hangarfs on the same store"
# [today] mounted: the store lock is local to one kernel's FUSE mount.
HANGARFS=$BIN_B/hangarfs fs_mount_other "$HOST_B/store" "$WORK/mnt-b" "$HFS_LOG" \
	-o commit_interval=1 ||
	{ cat "$HFS_LOG"; fail "host B's hangarfs (expected to mount today)"; }
HFS_B=$OTHER_PID
# ...but the guest is refused by the container lock, which CephFS shares
got=$(errno_of "os.listdir('$WORK/mnt-b/g1')")
[ "$got" = EBUSY ] || fail "host B opened g1 beside host A: $got"
expect_log "container lock"
# nobody in /proc/locks (a lock taken through ceph-fuse lives at the MDS,
# not in this kernel's table, even for A's mount on this machine), so the
# holder is named from the record A's open set: A's hangarfs, by PID
holder=$(flock_holder "$HOST_A/store/g1.hangar")
[ -z "$holder" ] || fail "/proc/locks names $holder: update docs/multihost.md"
expect_log "on host hosta by PID $HFS_A since"
rec=$(getfattr --absolute-names --only-values -n user.hangar.holder "$WORK/mnt-b/g1" 2>&1)
case "$rec" in
"host=hosta pid=$HFS_A since="*) ;;
*) fail "user.hangar.holder of g1 on host B: $rec" ;;
esac
t "$BIN_B/hangar" status "$HOST_B/store" g1 >"$WORK/status.out" 2>&1 ||
	{ cat "$WORK/status.out"; fail "hangar status on host B"; }
grep -qE "^holder +host hosta, PID $HFS_A, since " "$WORK/status.out" ||
	{ cat "$WORK/status.out"; fail "host B's status does not name A"; }
t "$BIN_B/hangar" status --json "$HOST_B/store" g1 >"$WORK/status.json" ||
	fail "hangar status --json on host B"
[ "$(json_get "$WORK/status.json" 'j["holder"]["pid"]')" = "$HFS_A" ] ||
	{ cat "$WORK/status.json"; fail "status --json holder"; }
# one control socket per host in the shared directory, each reaching its
# own host's daemon: a create through each
for h in hosta hostb; do
	[ -S "$HOST_A/store/.hangar-control.$h" ] || fail "no socket of $h"
done
[ ! -e "$HOST_A/store/.hangar-control" ] || fail "a host-less socket name"
t "$BIN_A/hangar" create "$HOST_A/store" ga --disk 16M >"$WORK/ca.out" 2>&1 ||
	{ cat "$WORK/ca.out"; fail "hangar create through host A's daemon"; }
t "$BIN_B/hangar" create "$HOST_B/store" gb --disk 16M >"$WORK/cb.out" 2>&1 ||
	{ cat "$WORK/cb.out"; fail "hangar create through host B's daemon"; }
grep -q "hangarfs" "$WORK/cb.out" || { cat "$WORK/cb.out"; fail "not through B's daemon"; }
fs_umount_other "$WORK/mnt-b" "$HFS_B"

log "host A crashes; its client is evicted; host B takes the guest"
CRASH=$(date +%s.%N)
kill -KILL "$HFS_A"
wait "$HFS_A" 2>/dev/null
# its dead mount answers ENOTCONN, which `mountpoint` takes for "not a
# mount point": detach it now, the EXIT trap would pass it by
timeout 10 fusermount3 -u "$WORK/mnt-a" || fail "fusermount3 -u mnt-a"
ceph_kill hosta
ceph_evict hosta
HANGARFS=$BIN_B/hangarfs fs_mount_other "$HOST_B/store" "$WORK/mnt-b2" "$HFS_LOG" \
	-o commit_interval=1 || fail "host B's hangarfs after the crash"
got=$(errno_of "os.close(os.open('$WORK/mnt-b2/g1/disk.raw', os.O_RDWR))")
[ "$got" = OK ] || fail "host B cannot open g1 read-write after eviction: $got"
TAKEOVER=$(python3 -c "import time; print(f'{time.time() - $CRASH:.2f}')")
echo "takeover: $TAKEOVER s (SIGKILL of host A to B's read-write open)"
t cmp -n 8388608 "$WORK/pattern" "$WORK/mnt-b2/g1/disk.raw" ||
	fail "host B reads other bytes than host A fsynced"
t dd if=/dev/zero of="$WORK/mnt-b2/g1/disk.raw" bs=1M count=1 seek=16 \
	conv=notrunc,fsync status=none || fail "host B writes g1"
fs_umount_other "$WORK/mnt-b2" "$OTHER_PID"

# Nothing of Ceph outlives the test: stop it here and look.
pids=("${CEPH_PIDS[@]}" "${CEPH_FUSE_PID[hostb]}")
ceph_stop
for pid in "${pids[@]}"; do
	kill -0 "$pid" 2>/dev/null && fail "Ceph process $pid still runs"
done
log "total $((SECONDS - START)) s"
echo PASS
