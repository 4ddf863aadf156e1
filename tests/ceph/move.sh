#!/bin/bash
# tests/ceph/move.sh -- a planned move of a guest between two hosts of one
# CephFS store (docs/multihost.md, section 6), with the lease commands:
#   - host A's `hangar acquire` makes A's hangarfs hold the guest (no file
#     of it open); host B's read-write open is then refused EBUSY, and B's
#     `hangar acquire` fails naming host A and A's hangarfs PID;
#   - A writes the guest's disk and `hangar release`s it: committed, closed,
#     the container lock gone at the MDS;
#   - the release removes the holder record (user.hangar.holder on the
#     container file): after it, no host's getfattr of the container file
#     or of the guest directory (B's mount) names A, and `hangar status`
#     on B has no holder line;
#   - B acquires the guest (its record is set, naming B) and reads every
#     byte A wrote; B's release removes B's record too.
# Each host's programs run under their own host name (ceph_host_bin).
. "$(dirname "$0")/../lib.bash"
. "$(dirname "$0")/ceph.bash"
need_fuse
need_hangar
need python3 cmp getfattr
work_setup
ceph_start
ceph_two_hosts 64M

log "host A acquires g1"
# ceph-fuse drops the lock of the `hangar create` that just exited at the
# MDS a moment later: retry while it is EBUSY
for ((i = 0; i < 50; i++)); do
	t "$BIN_A/hangar" acquire "$HOST_A/store" g1 >"$WORK/acq.out" 2>&1 &&
		break
	sleep 0.2
done
grep -q "^acquired g1 (through hangarfs PID $HFS_A)" "$WORK/acq.out" ||
	{ cat "$WORK/acq.out"; fail "hangar acquire on host A"; }

log "host B is refused, with host A named"
got=$(errno_of "os.close(os.open('$WORK/mnt-b/g1/disk.raw', os.O_RDWR))")
[ "$got" = EBUSY ] || fail "host B opened g1 that host A acquired: $got"
if t "$BIN_B/hangar" acquire "$HOST_B/store" g1 >"$WORK/acq-b.out" 2>&1; then
	fail "host B acquired g1 that host A holds"
fi
grep -q "held by host hosta, PID $HFS_A" "$WORK/acq-b.out" ||
	{ cat "$WORK/acq-b.out"; fail "host B's refusal does not name host A"; }

log "host A writes g1 and releases it"
dd if=/dev/urandom of="$WORK/pattern" bs=1M count=4 status=none
t dd if="$WORK/pattern" of="$WORK/mnt-a/g1/disk.raw" bs=1M conv=notrunc \
	status=none || fail "dd through host A"
for ((i = 0; i < 50; i++)); do
	t "$BIN_A/hangar" release "$HOST_A/store" g1 >"$WORK/rel.out" 2>&1 &&
		break
	sleep 0.2 # the kernel's release of dd's file reaches hangarfs late
done
grep -q "^released g1" "$WORK/rel.out" ||
	{ cat "$WORK/rel.out"; fail "hangar release on host A"; }

log "the release removed the holder record"
# what getfattr prints for the record on PATH: its value, or the error
holder_of() {
	getfattr --absolute-names --only-values -n user.hangar.holder "$1" 2>&1
}
rec=$(holder_of "$HOST_B/store/g1.hangar")
case "$rec" in
*"No such attribute"*) ;;
*) fail "user.hangar.holder of g1.hangar after A's release: $rec" ;;
esac
rec=$(holder_of "$WORK/mnt-b/g1")
case "$rec" in
*"No such attribute"*) ;;
*) fail "user.hangar.holder of g1 on B's mount after A's release: $rec" ;;
esac
t "$BIN_B/hangar" status "$HOST_B/store" g1 >"$WORK/status.out" 2>&1 ||
	{ cat "$WORK/status.out"; fail "hangar status on host B"; }
grep -q '^holder' "$WORK/status.out" &&
	{ cat "$WORK/status.out"; fail "B's status names a holder after the release"; }

log "host B takes g1 and reads what A wrote"
for ((i = 0; i < 50; i++)); do
	t "$BIN_B/hangar" acquire "$HOST_B/store" g1 >"$WORK/acq-b.out" 2>&1 &&
		break
	sleep 0.2 # the MDS learns of A's unlock asynchronously
done
grep -q "^acquired g1 (through hangarfs PID $HFS_B)" "$WORK/acq-b.out" ||
	{ cat "$WORK/acq-b.out"; fail "hangar acquire on host B after the release"; }
t cmp -n 4194304 "$WORK/pattern" "$WORK/mnt-b/g1/disk.raw" ||
	fail "host B reads other bytes than host A wrote before its release"
rec=$(holder_of "$HOST_A/store/g1.hangar")
case "$rec" in
"host=hostb pid=$HFS_B since="*) ;;
*) fail "user.hangar.holder of g1.hangar while B holds it: $rec" ;;
esac
t "$BIN_B/hangar" release "$HOST_B/store" g1 >/dev/null ||
	fail "hangar release on host B"
rec=$(holder_of "$HOST_A/store/g1.hangar")
case "$rec" in
*"No such attribute"*) ;;
*) fail "user.hangar.holder of g1.hangar after B's release: $rec" ;;
esac
echo PASS
