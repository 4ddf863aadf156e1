#!/bin/bash
# tests/fs/mount.sh -- invocation: daemon mode reports startup failures in
# its exit status, one daemon per store (the second names the first's PID),
# `mount -t fuse.hangarfs STORE MNT` through the mount.fuse3 helper, and an
# unmount commits and closes everything.  The control socket exists while a
# read-write daemon holds the store (daemon mode: before hangarfs returns),
# is gone after unmount and SIGTERM, and is not made with -o ro.
. "$(dirname "$0")/functions.bash"
fs_setup mount umount

# PID of the daemon holding the store, from its lock file.
holder_pid() { tr -dc 0-9 <"$STORE/.hangar-lock"; }

log "daemon mode: returns once mounted, the daemon holds the lock"
t "$HANGARFS" "$STORE" "$MNT" -o commit_interval=2 || fail "hangarfs (daemon)"
mountpoint -q "$MNT" || fail "not mounted after hangarfs returned"
HFS_PID=$(holder_pid)
[ -n "$HFS_PID" ] && kill -0 "$HFS_PID" || fail "no daemon PID in the lock file"
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

# mount_check HOW : the mount made by HOW works, shows its type and
# options, and goes away with umount(8).
mount_check() {
	HFS_PID=$(holder_pid)
	mountpoint -q "$MNT" || fail "$1 did not mount"
	[ "$(cat "$MNT/web01/config")" = hi ] || fail "content via $1"
	grep " $MNT " /proc/mounts | grep -q "fuse.hangarfs" ||
		fail "type in /proc/mounts: $(grep " $MNT " /proc/mounts)"
	grep " $MNT " /proc/mounts | grep -q "default_permissions" ||
		fail "allow_other without default_permissions: $(grep " $MNT " /proc/mounts)"
	t umount "$MNT" || fail "umount"
	fs_wait_exit 30 || fail "daemon did not exit after umount"
	HFS_PID=
}

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
