#!/bin/bash
# tests/security/lockfile.sh -- the store lock and the files the store
# writes cannot be turned against anyone.
#
# Attacks (7): (1) `.hangar-lock` is a symbolic link to a root-owned file
# (a member of a group-writable store plants it): mounting and writing
# commands must not truncate or write it; (2) the same with
# `.hangar-keys.tmp` on an encrypted store (`hangar key add`); (3) the same
# with `.hangar-store.tmp` at `hangar init`; (4) the lock file of a mounted
# store is deleted: a second daemon must still be refused, naming the
# first one's PID; (5) a second daemon through another path to the same
# store (a symbolic link to the directory); (6) `hangar ls` while mounted
# reports the daemon's PID as the holder (store_lock_holder from the
# kernel's lock table); (7) a copy of the store (`cp -a`, same uuid)
# mounts beside it, and is itself still one daemon's only.
. "$(dirname "$0")/../lib.bash"
fs_setup sha256sum

victim=$WORK/victim
printf 'precious root-owned data\n' >"$victim"
want=$(sha256sum <"$victim")
intact() { [ "$(sha256sum <"$victim")" = "$want" ] || fail "$1: the link's target was written"; }

log "attack 1: .hangar-lock is a link to a root-owned file"
rm -f "$STORE/.hangar-lock"
ln -s "$victim" "$STORE/.hangar-lock"
t "$HANGAR" create "$STORE" g --disk 4M >/dev/null || fail "create"
intact "hangar create"
fs_mount
echo hi >"$MNT/g/config" || fail "write through the mount"
intact "hangarfs mount"
t "$HANGAR" ls "$STORE" >/dev/null || fail "ls while mounted"
intact "hangar ls"

log "attack 4: the old lock file deleted under a mounted store"
mkdir -p "$WORK/mnt2" "$WORK/mnt3"
rm -f "$STORE/.hangar-lock"
expect_fail "already in use by PID $HFS_PID" "$HANGARFS" "$STORE" "$WORK/mnt2" -f
expect_fail "already mounted" "$HANGAR" mount "$STORE" "$WORK/mnt3"

log "attack 5: a second daemon through a link to the store directory"
ln -s "$STORE" "$WORK/storelink"
expect_fail "already in use by PID $HFS_PID" "$HANGARFS" "$WORK/storelink" "$WORK/mnt2" -f

log "attack 6: the holder is the daemon, from the kernel's lock table"
out=$(t "$HANGAR" ls "$STORE" --json) || fail "ls --json"
case "$out" in *"\"holder_pid\": $HFS_PID,"*) ;; *) fail "holder_pid is not $HFS_PID: $out" ;; esac
[ "$(flock_holder "$STORE" WRITE)" = "$HFS_PID" ] || fail "the daemon holds no flock on the store directory"
fs_umount

log "attack 7 (careless admin): a copy of the store (cp -a) mounted beside it"
# The copy keeps the store's uuid; the per-host lock (as root,
# /run/hangar) is named by the uuid and the directory's inode, so the copy
# is another store to it, not a second daemon of this one.
cp -a "$STORE" "$WORK/storecopy" || fail "cp -a of the store"
fs_mount
HFS_LOG=$WORK/hangarfs-copy.log fs_mount_other "$WORK/storecopy" "$WORK/mnt2" \
	"$WORK/hangarfs-copy.log" -o commit_interval=1 ||
	{ cat "$WORK/hangarfs-copy.log"; fail "the copy of a mounted store is refused"; }
copy_pid=$OTHER_PID
[ "$(cat "$WORK/mnt2/g/config")" = hi ] || fail "the copy does not serve its guest"
echo copy >"$WORK/mnt2/g/config" || fail "write through the copy's mount"
[ "$(cat "$MNT/g/config")" = hi ] || fail "a write to the copy reached the store"
expect_fail "already in use by PID $copy_pid" "$HANGARFS" "$WORK/storecopy" "$WORK/mnt3" -f
fs_umount_other "$WORK/mnt2" "$copy_pid"
fs_umount

log "attack 2: .hangar-keys.tmp is a link (key add on an encrypted store)"
E=$WORK/enc
head -c 32 /dev/urandom >"$WORK/k1"
head -c 32 /dev/urandom >"$WORK/k2"
chmod 600 "$WORK/k1" "$WORK/k2"
t "$HANGAR" init "$E" --encrypt --keyfile "$WORK/k1" >/dev/null || fail "init encrypted"
ln -s "$victim" "$E/.hangar-keys.tmp"
t "$HANGAR" key add "$E" --keyfile "$WORK/k1" --new-keyfile "$WORK/k2" >/dev/null ||
	fail "key add with a planted .hangar-keys.tmp"
intact "hangar key add"
t "$HANGAR" ls "$E" --keyfile "$WORK/k2" >/dev/null || fail "the added key does not open the store"

log "attack 3: .hangar-store.tmp is a link at init"
mkdir "$WORK/fresh"
ln -s "$victim" "$WORK/fresh/.hangar-store.tmp"
t "$HANGAR" init "$WORK/fresh" >/dev/null || fail "init with a planted .hangar-store.tmp"
intact "hangar init"
t "$HANGAR" ls "$WORK/fresh" >/dev/null || fail "the new store does not open"
echo "PASS: 7 attacks"
