#!/bin/bash
# tests/cli/acquire.sh -- `hangar acquire` / `hangar release` on one host
# (the lease of docs/multihost.md; tests/ceph/move.sh runs them across two):
#   - acquire needs the store mounted (only a daemon can hold a guest);
#   - after acquire, hangarfs holds the guest's container lock read-write
#     with no file of it open (`hangar status` names it on its holder
#     line), and a second acquire is fine;
#   - release is refused (EBUSY, "files open") while a file of the guest is
#     open on the mount, then commits and closes: the lock is gone;
#   - a write made on the mount before the release is in the container the
#     release committed.
source "$(dirname "$0")/../lib.bash"
cli_setup
need_fuse

h init store
expect_rc 0 "init"
h create store g1 --disk 16M
expect_rc 0 "create"
h acquire store g1
expect_rc 1 "acquire on an unmounted store"
expect_err 'not mounted' "acquire unmounted"

mnt=$WORK/mnt
mkdir -p "$mnt"
"$HANGARFS" store "$mnt" -f -o commit_interval=1 >"$WORK/hangarfs.log" 2>&1 &
HFS=$!
OTHER_PIDS+=("$HFS")
unmount_at_exit "$mnt"
wait_mounted "$mnt"
HFS_LOG=$WORK/hangarfs.log

[ -z "$(flock_holder store/g1.hangar)" ] || fail "g1 is held before acquire"
h acquire store g1
expect_rc 0 "acquire"
expect_out "^acquired g1 \(through hangarfs PID $HFS\)" "acquire's words"
[ "$(flock_holder store/g1.hangar)" = "$HFS" ] ||
	fail "hangarfs does not hold g1's container lock after acquire"
h acquire store g1
expect_rc 0 "a second acquire"
h status store g1
expect_rc 0 "status of an acquired guest"
expect_out "^holder +host .+, PID $HFS\$" "status names the holder"
h acquire store nosuch
expect_rc 1 "acquire of a guest that does not exist"
expect_err 'no guest named nosuch' "acquire nosuch"

# a write on the mount, a file of g1 held open: release refused
exec 7<>"$mnt/g1/disk.raw"
printf 'lease' >&7
h release store g1
expect_rc 1 "release with a file open"
expect_err 'files open on the mount' "release refused"
exec 7>&-
# the kernel's release of the file reaches hangarfs asynchronously
for ((i = 0; i < 50; i++)); do
	h release store g1
	[ "$rc" = 0 ] && break
	sleep 0.1
done
expect_rc 0 "release"
expect_out "^released g1 \(through hangarfs PID $HFS\)" "release's words"
[ -z "$(flock_holder store/g1.hangar)" ] ||
	fail "g1's container lock is still held after release"
h release store g1
expect_rc 0 "release of a guest not held"

timeout 30 fusermount3 -u "$mnt" || fail "unmount"
for ((i = 0; i < 100; i++)); do
	kill -0 "$HFS" 2>/dev/null || break
	sleep 0.1
done
h export store g1 out
expect_rc 0 "export"
[ "$(head -c 5 out/disk.raw)" = lease ] || fail "the write before release is not in the container"
echo PASS
