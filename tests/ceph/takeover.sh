#!/bin/bash
# tests/ceph/takeover.sh -- failover with fio's own verification
# (docs/multihost.md, sections 4 and 6):
#   - fio writes a guest disk through host A's hangarfs: random 64 KiB
#     blocks, each with a crc32c verify header, opened O_SYNC (sync=1: a
#     write returns only once hangarfs committed it, so every write fio
#     counts as done was acknowledged durable), rate-limited so that it is
#     still running when
#   - host A crashes: SIGKILL of A's hangarfs and of A's ceph-fuse, then A's
#     client is evicted at the MDS (and so blocklisted); fio on A stops on
#     the dead mount and saves its verify state (which writes completed);
#   - host B, whose hangarfs has been serving the store all along, opens the
#     guest read-write: the time from the SIGKILL to that first successful
#     read-write open is printed ("takeover: N s");
#   - `fio --verify_only` of the same job (same seed, so the same offsets),
#     limited by the saved state to the writes that completed on A, reads
#     every one of them back through B and checks its header and crc32c.
. "$(dirname "$0")/../lib.bash"
. "$(dirname "$0")/ceph.bash"
need_fuse
need_hangar
need python3 fio
work_setup
START=$SECONDS
ceph_start
ceph_two_hosts 64M
log "cluster, two clients and both daemons up in $((SECONDS - START)) s"

# 64 MiB at 2 MiB/s at most: fio is still writing when A is killed.
cat >"$WORK/job.fio" <<'EOF'
[w]
ioengine=psync
rw=randwrite
bs=64k
size=64M
sync=1
rate=,2m
verify=crc32c
randseed=4242
verify_state_save=1
EOF
cd "$WORK" || fail "cd" # fio keeps its verify state in the current directory
ceph_wait_unlocked "$WORK/mnt-a/g1/disk.raw"

log "fio writes through host A"
timeout 120 fio "$WORK/job.fio" --filename="$WORK/mnt-a/g1/disk.raw" \
	--output="$WORK/fio-a.out" &
FIO=$!
at_exit "kill $FIO 2>/dev/null"
sleep 4
kill -0 "$FIO" 2>/dev/null ||
	{ cat "$WORK/fio-a.out"; fail "fio on host A ended before the crash"; }

log "host A crashes; its client is evicted"
CRASH=$(date +%s.%N)
kill -KILL "$HFS_A"
ceph_kill hosta
wait "$HFS_A" 2>/dev/null
wait "$FIO" && fail "fio on host A finished beside a dead daemon"
timeout 10 fusermount3 -u "$WORK/mnt-a" || fail "fusermount3 -u mnt-a"
ceph_evict hosta
[ -s "$WORK/local-w-0-verify.state" ] ||
	{ cat "$WORK/fio-a.out"; fail "fio saved no verify state"; }

log "host B takes the guest"
HFS_LOG=$WORK/hangarfs-b.log
for ((i = 0; i < 200; i++)); do
	got=$(errno_of "os.close(os.open('$WORK/mnt-b/g1/disk.raw', os.O_RDWR))")
	[ "$got" = OK ] && break
	[ "$got" = EBUSY ] || fail "host B's read-write open: $got"
	sleep 0.1
done
[ "$got" = OK ] || fail "host B could not open g1 read-write within 20 s"
TAKEOVER=$(python3 -c "import time; print(f'{time.time() - $CRASH:.2f}')")
echo "takeover: $TAKEOVER s (SIGKILL of host A to B's read-write open)"

log "fio --verify_only through host B"
written=$(sed -n 's/.*issued rwts: total=[0-9]*,\([0-9]*\),.*/\1/p' "$WORK/fio-a.out")
t fio "$WORK/job.fio" --filename="$WORK/mnt-b/g1/disk.raw" --verify_only \
	--verify_state_load=1 --output="$WORK/fio-b.out" ||
	{ cat "$WORK/fio-b.out"; fail "fio verify on host B"; }
verified=$(sed -n 's/.*issued rwts: total=\([0-9]*\),.*/\1/p' "$WORK/fio-b.out")
echo "fio: $written writes issued on host A, $verified verified on host B"
# every completed write is verified: all that were issued but the one the
# crash cut (A's last, failed, if it was in flight)
[ -n "$verified" ] && [ "$verified" -gt 0 ] && [ -n "$written" ] &&
	[ "$verified" -ge $((written - 1)) ] ||
	{ cat "$WORK/fio-a.out" "$WORK/fio-b.out"; fail "verified $verified of $written"; }
fs_umount_other "$WORK/mnt-b" "$HFS_B"
log "total $((SECONDS - START)) s"
echo PASS
