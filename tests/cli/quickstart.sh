#!/bin/bash
# tests/cli/quickstart.sh -- the README's quick start, as a new user runs it:
# clone the repository into a temporary directory, run contrib/demo there
# (HANGAR_NO_INSTALL=1: the packages are already here), and check that the
# demo guest is mounted and its disk readable; run it a second time (it must
# reuse everything and say the mount exists), then unmount.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib.bash"
cli_setup
need_fuse
command -v git >/dev/null || skip "git not installed"
src=${HANGAR_SOURCE_DIR:-$(cd "$here/../.." && pwd)}
git -C "$src" rev-parse HEAD >/dev/null 2>&1 || skip "$src is not a git repository"

git clone -q "$src" repo || fail "git clone of $src failed"
unmount_at_exit "$WORK/demo-vms"
# ctest's HANGAR_BUILD_DIR must not leak into the demo: it builds in the clone.
unset HANGAR_BUILD_DIR HANGAR_DEMO_BUILD HANGAR_DEMO_STORE HANGAR_DEMO_MOUNT

HANGAR_NO_INSTALL=1 timeout 600 repo/contrib/demo >demo.out 2>demo.err ||
	{ cat demo.out demo.err >&2; fail "contrib/demo failed"; }
findmnt -rn --mountpoint "$WORK/demo-vms" >/dev/null || fail "demo-vms is not mounted"
[ "$(findmnt -rn -o FSTYPE --mountpoint "$WORK/demo-vms")" = fuse.hangarfs ] ||
	fail "demo-vms is not a hangarfs mount"
[ -x repo/build/cli/hangar ] && [ -x repo/build/fs/hangarfs ] || fail "the demo did not build into repo/build"
[ "$(stat -c %s demo-vms/web01/disk.raw)" = 1073741824 ] || fail "web01/disk.raw is not 1G"
cmp -n 1048576 demo-vms/web01/disk.raw /dev/zero || fail "web01/disk.raw does not read as zeros"
grep -q 'name' demo-vms/web01/config || fail "web01/config missing"
grep -q 'Try:' demo.out || fail "the demo does not say what to try next"
grep -q 'fusermount3 -u' demo.out || fail "the demo does not say how to unmount"
grep -q 'hangar status' demo.out || fail "the demo does not mention hangar status"

# Run twice: reuse, say it is mounted, change nothing.
HANGAR_NO_INSTALL=1 timeout 600 repo/contrib/demo >demo2.out 2>demo2.err ||
	{ cat demo2.out demo2.err >&2; fail "second contrib/demo failed"; }
grep -q 'already mounted' demo2.err || fail "second run does not say the mount exists"

# Unmount with the demo, then run it again: it reuses the store and guest.
repo/contrib/demo --umount 2>/dev/null || fail "contrib/demo --umount failed"
! findmnt -rn --mountpoint "$WORK/demo-vms" >/dev/null || fail "still mounted after --umount"
HANGAR_NO_INSTALL=1 timeout 600 repo/contrib/demo >demo3.out 2>demo3.err ||
	{ cat demo3.out demo3.err >&2; fail "third contrib/demo failed"; }
grep -q 'reusing the store' demo3.err || fail "third run did not reuse the store"
grep -q 'reusing the guest web01' demo3.err || fail "third run did not reuse the guest"
findmnt -rn --mountpoint "$WORK/demo-vms" >/dev/null || fail "not mounted after the third run"
# hangar umount returns once the daemon has committed and let go of the
# store (fusermount3 -u returns before that).
"$WORK/repo/build/cli/hangar" umount "$WORK/demo-vms" || fail "hangar umount failed"
"$WORK/repo/build/cli/hangar" check demo-store >/dev/null || fail "the demo store does not check clean"

echo "PASS"
