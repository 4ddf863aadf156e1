#!/bin/bash
# tests/fs/savelock_holes.sh -- no path revives a stale image.  Each case
# below defeated the save lock before image seals travelled with their
# image (renaming memory.save away and back after the disk moved on,
# renaming or copying a .stale/.incomplete image into place, copying an
# image inside the store and bringing it back after a resume), or is a
# rule the lock must keep (every file pinned but config, a seal that does
# not fit fails the writer's close, a private image, an actionable log
# line, restores by rsync and cp -a that come back saved and resume).
. "$(dirname "$0")/../lib.bash"
fs_setup getfattr setfattr rsync python3 cmp

BUSY="Device or resource busy"
fs_mount
G=$MNT/g

state() { getfattr --absolute-names --only-values -n user.hangar.state "${1:-$G}"; }
saved_attr() { getfattr --absolute-names --only-values -n user.hangar.saved "${1:-$G}"; }
stale_ok() { # the guest in $1 must be stale, and resume must refuse naming $2
	local d=$1 file=$2 out
	[ "$(state "$d")" = invalidated ] || fail "$d: state $(state "$d"), want invalidated"
	saved_attr "$d" | grep -q "stale: " || fail "$d: saved xattr without the reason: $(saved_attr "$d")"
	out=$("$HANGAR" resume "$STORE" "$(basename "$d")" 2>&1) &&
		fail "$d: hangar resume accepted a stale image: $out"
	echo "$out" | grep -q "stale" || fail "$d: resume refusal does not say stale: $out"
	[ -z "$file" ] || echo "$out" | grep -q "$file" ||
		fail "$d: resume refusal does not name $file: $out"
	"$HANGAR" status "$STORE" "$(basename "$d")" | grep -q "^reason .*stale" ||
		fail "$d: status has no reason: $("$HANGAR" status "$STORE" "$(basename "$d")")"
	"$HANGAR" status --json "$STORE" "$(basename "$d")" |
		python3 -c 'import json,sys; s=json.load(sys.stdin); l=s["save_lock"]; assert s["state"]=="invalidated" and l["state"]=="invalidated" and l["stale_reason"], s' ||
		fail "$d: status --json does not say stale with a reason"
}
new_guest() { # a guest with a disk, nvram and config
	G=$MNT/$1
	mkdir "$G" || fail "mkdir $1"
	t dd if=/dev/urandom of="$G/disk.raw" bs=64k count=16 status=none || fail "disk of $1"
	t dd if=/dev/urandom of="$G/nvram.fd" bs=4k count=2 status=none || fail "nvram of $1"
	echo "memory=512" >"$G/config"
}
save() { t dd if=/dev/urandom of="$G/memory.save" bs=64k count=32 status=none || fail "save in $G"; }
poke() { t dd if=/dev/urandom of="$G/$1" bs=4k count=1 seek=3 conv=notrunc status=none || fail "write $1"; }
cases=0

log "1. mv memory.save away, write the disk, mv it back: stale (the round trip through a rename)"
new_guest g1
save
[ "$(state)" = saved ] || fail "state after save: $(state)"
expect_fail "$BUSY" dd if=/dev/zero of="$G/disk.raw" bs=4k count=1 conv=notrunc status=none
t mv "$G/memory.save" "$G/keep" || fail "mv away"
poke disk.raw # the lock is released with the image gone...
t mv "$G/keep" "$G/memory.save" || fail "mv back"
stale_ok "$G" disk.raw # ...and the image remembers what it pinned
t dd if=/dev/zero of="$G/disk.raw" bs=4k count=1 conv=notrunc status=none ||
	fail "a stale image must not pin"
cases=$((cases + 1))

log "2. mv away and back with nothing changed: still saved, resumes"
new_guest g2
save
t mv "$G/memory.save" "$G/memory.save.bak"
t mv "$G/memory.save.bak" "$G/memory.save"
[ "$(state)" = saved ] || fail "state after mv away and back: $(state)"
expect_fail "$BUSY" dd if=/dev/zero of="$G/disk.raw" bs=4k count=1 conv=notrunc status=none
t "$HANGAR" resume "$STORE" g2 >/dev/null || fail "resume after an unchanged round trip"
cases=$((cases + 1))

log "3. memory.save.stale renamed or copied into place: stale"
new_guest g3
exec 8<>"$G/disk.raw" # the guest keeps its disk open, as xl save -c does
save
printf 'guest went on' >&8 || fail "write through the old descriptor"
exec 8>&-
[ -e "$G/memory.save.stale" ] || fail "no memory.save.stale: $(ls -a "$G")"
t cp "$G/memory.save.stale" "$G/memory.save" || fail "cp .stale"
stale_ok "$G" ""
t rm "$G/memory.save"
t mv "$G/memory.save.stale" "$G/memory.save" || fail "mv .stale"
stale_ok "$G" disk.raw
cases=$((cases + 2))

log "4. a copy made while saved, brought back after the guest resumed: stale"
new_guest g4
save
t cp "$G/memory.save" "$G/copy" || fail "cp while saved"
t cp "$G/memory.save" "$WORK/outside-copy" || fail "cp out"
t "$HANGAR" resume "$STORE" g4 >/dev/null || fail "resume g4"
poke disk.raw # the resumed guest writes: the image retires
[ ! -e "$G/memory.save" ] || fail "image not retired"
t mv "$G/copy" "$G/memory.save" || fail "mv copy back"
stale_ok "$G" ""
t rm "$G/memory.save"
t cp "$WORK/outside-copy" "$G/memory.save" || fail "cp the old image in from outside"
stale_ok "$G" ""
t rm "$G/memory.save"
# an old image written under another name after the disk moved on
t cp "$WORK/outside-copy" "$G/later" || fail "cp as a plain file"
t mv "$G/later" "$G/memory.save"
stale_ok "$G" ""
cases=$((cases + 3))

log "5. an image older than a disk, renamed into place: stale"
new_guest g5
t dd if=/dev/urandom of="$G/image" bs=64k count=8 status=none # a save under another name
poke disk.raw
t mv "$G/image" "$G/memory.save"
stale_ok "$G" disk.raw
cases=$((cases + 1))

log "6. memory.save.incomplete (writer killed) renamed or copied into place: stale"
new_guest g6
python3 - "$G/memory.save" "$WORK/synced" <<'EOF' &
import os, sys, time
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT, 0o600)
os.write(fd, os.urandom(1 << 20))
os.fsync(fd)
open(sys.argv[2], 'w').close()  # the fsync returned: now kill
time.sleep(60)
EOF
writer=$!
for _ in $(seq 200); do
	[ -e "$WORK/synced" ] && break
	sleep 0.05
done
[ -e "$WORK/synced" ] || fail "the image writer did not sync"
kill -KILL "$HFS_PID"
fs_wait_exit 10 || fail "hangarfs survived SIGKILL"
kill -KILL "$writer" 2>/dev/null
wait "$writer" 2>/dev/null
timeout 30 fusermount3 -u "$MNT" || timeout 30 fusermount3 -u -z "$MNT"
HFS_PID=
fs_mount
[ -e "$G/memory.save.incomplete" ] || fail "no memory.save.incomplete: $(ls -a "$G")"
t cp "$G/memory.save.incomplete" "$G/memory.save" || fail "cp .incomplete"
stale_ok "$G" ""
t rm "$G/memory.save"
t mv "$G/memory.save.incomplete" "$G/memory.save"
stale_ok "$G" ""
cases=$((cases + 2))

log "7. hard links are refused; every file but config is pinned"
new_guest g7
save
expect_fail "" ln "$G/memory.save" "$G/hardlink"
expect_fail "$BUSY" dd if=/dev/zero of="$G/nvram.fd" bs=4k count=1 conv=notrunc status=none
echo "memory=1024" >"$G/config" || fail "config must stay writable"
saved_attr | grep -q "config=changed" || fail "config change not reported: $(saved_attr)"
cases=$((cases + 2))

log "8. the refusal log line is actionable as written"
expect_log "g7/nvram.fd: read-write open refused: memory.save (saved "
expect_log "resume with 'hangar resume $STORE g7' or remove memory.save to discard it"

log "9. the image is private whatever the umask; guests are not world-readable"
(umask 000 && mkdir "$MNT/g9" && dd if=/dev/urandom of="$MNT/g9/memory.save" bs=4k count=1 status=none) ||
	fail "umask 000 save"
[ "$(stat -c %a "$MNT/g9/memory.save")" = 600 ] || fail "image mode $(stat -c %a "$MNT/g9/memory.save")"
[ $(($(stat -c 0%a "$MNT/g9") & 7)) = 0 ] || fail "guest dir mode $(stat -c %a "$MNT/g9")"
cases=$((cases + 1))

log "10. more files than a seal can pin: the writer's close fails, nothing says saved"
# a store with 4 KiB clusters: one seal record holds about 150 pins
fs_umount
S2=$WORK/store4k
t "$HANGAR" init "$S2" --cluster-size 4K >/dev/null || fail "init 4K store"
mkdir "$WORK/mnt4k"
t "$HANGARFS" "$S2" "$WORK/mnt4k" -f -o commit_interval=1 2>"$WORK/hfs4k.log" &
pid4k=$!
for _ in $(seq 100); do mountpoint -q "$WORK/mnt4k" && break; sleep 0.1; done
mountpoint -q "$WORK/mnt4k" || fail "4K store did not mount"
mkdir "$WORK/mnt4k/many"
for i in $(seq 300); do echo "$i" >"$WORK/mnt4k/many/file-with-a-long-name-$i.bin"; done
if dd if=/dev/urandom of="$WORK/mnt4k/many/memory.save" bs=64k count=2 status=none 2>"$WORK/dd.err"; then
	fusermount3 -u "$WORK/mnt4k"
	fail "close of an image that cannot be sealed succeeded"
fi
st=$(getfattr --absolute-names --only-values -n user.hangar.state "$WORK/mnt4k/many")
echo "file-with-a-long-name-1.bin" >>"$WORK/mnt4k/many/file-with-a-long-name-1.bin" ||
	fail "a file was pinned by a failed seal"
grep -q "can pin at most" "$WORK/hfs4k.log" || { cat "$WORK/hfs4k.log"; fusermount3 -u "$WORK/mnt4k"; fail "no log line says why"; }
timeout 30 fusermount3 -u "$WORK/mnt4k"
wait "$pid4k"
[ "$st" != saved ] || fail "state after a failed seal: $st"
cases=$((cases + 1))
fs_mount

log "11. restore from a plain backup: rsync -a --sparse and cp -a come back saved"
new_guest g11
t dd if=/dev/urandom of="$G/zdata.raw" bs=64k count=4 status=none
save
orig=$(stat -c %Y "$G/memory.save")
touch -d '2026-01-02 03:04:05 UTC' "$G/memory.save" # an old save, for the saved time
mkdir -p "$WORK/backup"
t rsync -a --sparse "$G/" "$WORK/backup/g11/" || fail "backup"
t rsync -a --sparse "$WORK/backup/g11/" "$MNT/r1/" || fail "rsync restore"
[ "$(state "$MNT/r1")" = saved ] || fail "rsync restore: state $(state "$MNT/r1")"
for f in disk.raw nvram.fd zdata.raw; do
	saved_attr "$MNT/r1" | grep -q "$f" || fail "rsync restore: $f not pinned: $(saved_attr "$MNT/r1")"
	expect_fail "$BUSY" dd if=/dev/zero of="$MNT/r1/$f" bs=4k count=1 conv=notrunc status=none
done
saved_attr "$MNT/r1" | grep -q "time=2026-01-02 03:04:05" ||
	fail "restored image lost its saved time: $(saved_attr "$MNT/r1")"
t "$HANGAR" resume "$STORE" r1 >/dev/null || fail "resume of the rsync restore"
t cp -a --sparse=always "$WORK/backup/g11" "$MNT/r2" || fail "cp -a restore"
[ "$(state "$MNT/r2")" = saved ] || fail "cp -a restore: state $(state "$MNT/r2")"
sleep 2 # adoption of files that arrived after the image: the next commit
for f in disk.raw nvram.fd zdata.raw; do
	expect_fail "$BUSY" dd if=/dev/zero of="$MNT/r2/$f" bs=4k count=1 conv=notrunc status=none
done
t "$HANGAR" resume "$STORE" r2 >/dev/null || fail "resume of the cp -a restore"
: "$orig"
cases=$((cases + 2))

log "12. the seals survive unmount and remount"
fs_remount
stale_ok "$MNT/g1" disk.raw
[ "$(state "$MNT/g2")" = resuming ] || fail "g2 after remount: $(state "$MNT/g2")"

fs_umount
t "$HANGAR" check "$STORE" >/dev/null || fail "check at the end"
echo "PASS ($cases holes and rules checked)"
