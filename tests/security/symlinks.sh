#!/bin/bash
# tests/security/symlinks.sh -- odd entries in a store: a *.hangar symbolic
# link to another store's live container, a hard link to it, a FIFO named
# like a guest, and a store on a read-only filesystem.
#
# Attacks (7): (1) a daemon of store B reaches A's live container through a
# link; (2) `hangar ls B` lists and opens the link; (3) `hangar rm B link
# --force` cuts the target back; (4) a hard link in B to A's container is
# opened read-write by B's daemon; (5) B's daemon opens the hard link while
# A's daemon writes it; (6) a FIFO x.hangar hangs `hangar check`/`ls`;
# (7) a store on a read-only filesystem: writers refused clearly, readers
# work.  In every case the target's bytes and mtime must not change and
# A's acknowledged data must read back.
. "$(dirname "$0")/../lib.bash"
fs_setup sha256sum stat

A=$STORE
B=$WORK/storeb
MNTB=$WORK/mntb
t "$HANGAR" init "$B" >/dev/null || fail "init B"
t "$HANGAR" create "$A" g --disk 8M >/dev/null || fail "create A/g"

# fingerprint FILE: bytes and mtime, to prove nothing touched it.
fingerprint() { echo "$(sha256sum <"$1") $(stat -c '%s %Y.%y' "$1")"; }

log "A mounted, a guest written and fsynced; B holds a link to A's container"
fs_mount
head -c 1M /dev/urandom >"$WORK/data"
dd if="$WORK/data" of="$MNT/g/disk.raw" bs=1M conv=notrunc,fsync status=none ||
	fail "write A/g"
ln -s "$A/g.hangar" "$B/evil.hangar"
sleep 1.2 # A's background commit (interval 1 s) has run
before=$(fingerprint "$A/g.hangar")

log "attack 1: B's daemon must not open the link"
fs_mount_other "$B" "$MNTB" "$WORK/hfsb.log" -o commit_interval=1 ||
	fail "mount B: $(cat "$WORK/hfsb.log")"
ls "$MNTB" | grep -qx evil && fail "B's mount lists the link as a guest"
cat "$MNTB/evil/disk.raw" >/dev/null 2>&1 &&
	fail "B's mount served A's guest through a link"
ls "$MNTB/evil" >/dev/null 2>&1 && fail "B's mount opened the link as a guest"
fs_umount_other "$MNTB" "$OTHER_PID"

log "attack 2: hangar ls / status / check of B skip or refuse the link"
out=$(t "$HANGAR" ls "$B" 2>&1)
case "$out" in *evil*) fail "hangar ls lists the link: $out" ;; esac
expect_fail "symbolic link" "$HANGAR" status "$B" evil
out=$(t "$HANGAR" check "$B" 2>&1) || fail "check of B (the link skipped): $out"

log "attack 3: hangar rm --force of the link removes the link only"
t "$HANGAR" rm "$B" evil --force >/dev/null 2>&1
[ -L "$B/evil.hangar" ] && fail "rm --force left the link"
[ "$(fingerprint "$A/g.hangar")" = "$before" ] ||
	fail "A's container changed through B's link (bytes or mtime)"
cmp -n 1048576 "$WORK/data" "$MNT/g/disk.raw" || fail "A's fsynced data lost"

log "attack 4: a hard link in B to a container A's daemon writes"
exec 7<"$MNT/g/disk.raw" # A's daemon has g open read-write now
ln "$A/g.hangar" "$B/hard.hangar" || skip "no hard links on this filesystem"
fs_mount_other "$B" "$MNTB" "$WORK/hfsb.log" -o commit_interval=1 ||
	fail "mount B: $(cat "$WORK/hfsb.log")"
cat "$MNTB/hard/disk.raw" >/dev/null 2>&1 &&
	fail "B's daemon opened a container A's daemon writes"
fs_umount_other "$MNTB" "$OTHER_PID"
expect_fail "open read-write by hangarfs PID $HFS_PID" "$HANGAR" check "$B" hard
cmp -n 1048576 "$WORK/data" "$MNT/g/disk.raw" || fail "A's data after B's attempts"
exec 7<&-
fs_umount

log "attack 5: ... and with nobody holding it: never opened read-write"
before=$(fingerprint "$A/g.hangar")
fs_mount_other "$B" "$MNTB" "$WORK/hfsb.log" -o commit_interval=1 ||
	fail "mount B: $(cat "$WORK/hfsb.log")"
cat "$MNTB/hard/disk.raw" >/dev/null 2>&1 &&
	fail "B's daemon opened a hard-linked container"
grep -q "hard links" "$WORK/hfsb.log" || fail "B's log does not say why (hard links)"
fs_umount_other "$MNTB" "$OTHER_PID"
[ "$(fingerprint "$A/g.hangar")" = "$before" ] ||
	fail "B's daemon changed the hard-linked container"
rm -f "$B/hard.hangar"
t "$HANGAR" check "$A" >/dev/null || fail "A not clean"

log "attack 6: a FIFO named x.hangar hangs nothing"
mkfifo "$B/x.hangar"
timeout 10 "$HANGAR" check "$B" >"$WORK/out" 2>&1
rc=$?
[ "$rc" = 124 ] && fail "hangar check hangs on a FIFO"
[ "$rc" = 0 ] || fail "hangar check of B with a FIFO: rc $rc: $(cat "$WORK/out")"
out=$(timeout 10 "$HANGAR" ls "$B" 2>&1) || fail "hangar ls with a FIFO: $out"
case "$out" in *x*) fail "hangar ls lists the FIFO: $out" ;; esac
expect_fail "not a regular file" timeout 10 "$HANGAR" status "$B" x
rm -f "$B/x.hangar"

log "attack 7: a store on a read-only filesystem"
if [ "$(id -u)" = 0 ] && command -v mount >/dev/null; then
	RO=$WORK/ro
	mkdir -p "$RO"
	mount --bind "$A" "$RO" && OUTER_MOUNTS+=("$RO") &&
		mount -o remount,bind,ro "$RO" || skip "cannot make a read-only bind mount"
	before=$(fingerprint "$A/g.hangar")
	t "$HANGAR" ls "$RO" >/dev/null || fail "ls of a read-only store"
	t "$HANGAR" status "$RO" g >/dev/null || fail "status of a read-only store"
	t "$HANGAR" check "$RO" >/dev/null || fail "check of a read-only store"
	expect_fail "read-only filesystem" "$HANGAR" create "$RO" h
	expect_fail "read-only filesystem; mount it with -o ro" \
		"$HANGARFS" "$RO" "$MNTB" -f
	fs_mount_other "$RO" "$MNTB" "$WORK/hfsb.log" -o ro ||
		fail "-o ro mount of a read-only store: $(cat "$WORK/hfsb.log")"
	cmp -n 1048576 "$WORK/data" "$MNTB/g/disk.raw" || fail "read through the ro mount"
	fs_umount_other "$MNTB" "$OTHER_PID"
	[ "$(fingerprint "$A/g.hangar")" = "$before" ] || fail "a read-only store changed"
else
	echo "(attack 7 needs root for a read-only bind mount: not run)"
fi
echo "PASS: 7 attacks"
