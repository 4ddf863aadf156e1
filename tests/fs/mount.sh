#!/bin/bash
# tests/fs/mount.sh -- invocation: daemon mode reports startup failures in
# its exit status, one daemon per store (the second names the first's PID),
# `mount -t fuse.hangarfs STORE MNT` through the mount.fuse3 helper, and an
# unmount commits and closes everything.  The control socket exists while a
# read-write daemon holds the store (daemon mode: before hangarfs returns),
# is gone after unmount and SIGTERM, and is not made with -o ro.
. "$(dirname "$0")/../lib.bash"
fs_setup mount umount

# PID of the daemon holding the store: its flock on the store directory.
holder_pid() { flock_holder "$STORE" WRITE; }

log "daemon mode: returns once mounted, the daemon holds the lock"
t "$HANGARFS" "$STORE" "$MNT" -o commit_interval=2 || fail "hangarfs (daemon)"
mountpoint -q "$MNT" || fail "not mounted after hangarfs returned"
HFS_PID=$(holder_pid)
[ -n "$HFS_PID" ] && kill -0 "$HFS_PID" || fail "no daemon PID holding the store lock"
mkdir "$MNT/web01" && echo hi >"$MNT/web01/config" || fail "use the mount"
[ -S "$STORE/.hangar-control" ] || fail "no control socket once hangarfs returned"
t "$HANGAR" create "$STORE" web02 >/dev/null || fail "hangar create through the socket"
[ -d "$MNT/web02" ] || fail "guest created through the socket not on the mount"
t "$HANGAR" rm "$STORE" web02 >/dev/null || fail "hangar rm through the socket"

log "a second mount fails at once, naming the PID, with a non-zero status"
mkdir "$WORK/mnt2"
expect_fail "already in use by PID $HFS_PID" "$HANGARFS" "$STORE" "$WORK/mnt2"
mountpoint -q "$WORK/mnt2" && fail "second mount appeared"
expect_fail "cannot open store" "$HANGARFS" "$WORK" "$WORK/mnt2"
mountpoint -q "$WORK/mnt2" && fail "mount of a non-store appeared"

log "fusermount3 -u: the daemon commits, closes and exits"
fs_umount
t "$HANGAR" check "$STORE" >/dev/null || fail "check after unmount"
[ ! -e "$STORE/.hangar-control" ] || fail "control socket left after unmount"

log "-o ro: no control socket (nothing to serve: no lock is held)"
fs_mount -o ro
[ ! -e "$STORE/.hangar-control" ] || fail "control socket with -o ro"
fs_umount

log "SIGTERM: the daemon unmounts, commits and exits"
fs_mount -o commit_interval=0
[ -S "$STORE/.hangar-control" ] || fail "no control socket (foreground)"
echo "after term" >"$MNT/web01/term"
kill -TERM "$HFS_PID"
fs_wait_exit 30 || fail "daemon ignored SIGTERM"
HFS_PID=
mountpoint -q "$MNT" && fail "still mounted after SIGTERM"
[ ! -e "$STORE/.hangar-control" ] || fail "control socket left after SIGTERM"
fs_mount
[ "$(cat "$MNT/web01/term")" = "after term" ] || fail "write before SIGTERM lost"
fs_umount

log "commit_interval=SEC: unsynced writes are committed in the background"
# An append is metadata (the size), so it survives a SIGKILL only through a
# commit; nothing here calls fsync, and closing a disk does not commit (the
# last close of a written file that could become an image does: the save
# lock orders it before later disk writes, core/savelock.c).
kill_remount() { # SECONDS-TO-WAIT
	sleep "$1"
	kill -KILL "$HFS_PID"
	fs_wait_exit 10 || fail "hangarfs survived SIGKILL"
	HFS_PID=
	timeout 30 fusermount3 -u "$MNT" || timeout 30 fusermount3 -u -z "$MNT"
	fs_mount
}
for interval in 1 0; do
	fs_mount -o commit_interval=$interval
	printf 'old\n' >"$MNT/web01/bg.raw" && sync "$MNT/web01/bg.raw" || fail "write bg"
	printf 'new\n' >>"$MNT/web01/bg.raw" || fail "append bg"
	kill_remount 3
	got=$(tr '\n' ' ' <"$MNT/web01/bg.raw")
	if [ "$interval" = 1 ]; then
		[ "$got" = "old new " ] || fail "commit_interval=1: append lost after 3 s: '$got'"
	else
		[ "$got" = "old " ] || fail "commit_interval=0 committed in the background: '$got'"
	fi
	fs_umount
done

# mount_check HOW : the mount made by HOW works, shows its type and
# options, lets other users in with the mode bits enforced, and goes away
# with umount(8).
mount_check() {
	HFS_PID=$(holder_pid)
	mountpoint -q "$MNT" || fail "$1 did not mount"
	[ "$(cat "$MNT/web01/config")" = hi ] || fail "content via $1"
	grep " $MNT " /proc/mounts | grep -q "fuse.hangarfs" ||
		fail "type in /proc/mounts: $(grep " $MNT " /proc/mounts)"
	grep " $MNT " /proc/mounts | grep -q "default_permissions" ||
		fail "allow_other without default_permissions: $(grep " $MNT " /proc/mounts)"
	if [ -n "$AS_NOBODY" ]; then
		$AS_NOBODY cat "$MNT/web01/config" >/dev/null ||
			fail "allow_other via $1: another user cannot read a 0644 file"
		expect_fail "Permission denied" $AS_NOBODY sh -c "echo x >>'$MNT/web01/config'"
		expect_fail "Permission denied" $AS_NOBODY cat "$MNT/web01/private"
		expect_fail "Permission denied" $AS_NOBODY mkdir "$MNT/nobodys"
	fi
	t umount "$MNT" || fail "umount"
	fs_wait_exit 30 || fail "daemon did not exit after umount"
	HFS_PID=
}

# Another user (nobody) for allow_other: the mode bits must hold for it
# (default_permissions), and without allow_other it gets nowhere at all.
AS_NOBODY=
if command -v setpriv >/dev/null && id nobody >/dev/null 2>&1; then
	AS_NOBODY="setpriv --reuid=nobody --regid=$(id -g nobody) --clear-groups"
	chmod 0755 "$WORK" "$STORE" "$MNT"
	fs_mount
	(umask 077 && echo secret >"$MNT/web01/private") || fail "private file"
	[ "$(stat -c %a "$MNT/web01/private")" = 600 ] || fail "private mode"
	# a guest is never world-readable by default (it holds its RAM image):
	# other users are let in by an explicit chmod (README, the save lock)
	[ $(($(stat -c 0%a "$MNT/web01") & 7)) = 0 ] ||
		fail "guest directory open to others by default: $(stat -c %a "$MNT/web01")"
	chmod o+rx "$MNT/web01" || fail "chmod the guest for others"
	expect_fail "Permission denied" $AS_NOBODY stat "$MNT/web01"
	fs_umount
else
	log "no setpriv or no user nobody: allow_other not tried as another user"
fi

log "mount.fuse3 'PATH#STORE' MNT -o ... (the helper's argv convention)"
t mount.fuse3 "$HANGARFS#$STORE" "$MNT" -o allow_other,commit_interval=1 ||
	fail "mount.fuse3"
mount_check mount.fuse3

if PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin command -v hangarfs >/dev/null; then
	log "mount -t fuse.hangarfs STORE MNT (installed hangarfs, fstab style)"
	t mount -t fuse.hangarfs -o allow_other,commit_interval=1 "$STORE" "$MNT" ||
		fail "mount -t fuse.hangarfs"
	mount_check "mount -t"
else
	log "hangarfs is not installed in PATH: mount -t fuse.hangarfs not tried"
fi
echo PASS
