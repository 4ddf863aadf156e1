#!/bin/bash
# tests/cli/mounted.sh -- hangar on a store that hangarfs has mounted:
# `hangar mount`/`umount` work; read-only commands (ls, status, check,
# export) read the last committed state and say so; commands that change the
# store refuse with exit 1, naming the daemon's PID and the mount-side
# equivalent; the save lock made on the mount is seen by the CLI after
# unmounting, including an invalidated image that resume must refuse.
source "$(dirname "$0")/common.bash"
need_fuse
command -v setfattr >/dev/null || skip "setfattr not installed (apt-get install attr)"

h init store
expect_rc 0 "init"
echo "name = \"web01\"" >web01.cfg
h create store web01 --disk 64M --config web01.cfg
expect_rc 0 "create"
mnt=$TEST_TMP/mnt
TEST_MOUNTS+=("$mnt")

# `hangar mount` finds hangarfs beside itself (build tree: ../fs/hangarfs).
h mount store "$mnt"
expect_rc 0 "hangar mount"
wait_mounted "$mnt"
[ -f "$mnt/web01/disk.raw" ] || fail "web01/disk.raw not visible on the mount"
[ "$(stat -c %s "$mnt/web01/disk.raw")" = 67108864 ] || fail "disk.raw size on the mount"
h mount store "$TEST_TMP/mnt2"
expect_rc 1 "second mount of the same store"
expect_err 'already mounted at' "second mount message"

# ---- read-only commands --------------------------------------------------------
h ls store
expect_rc 0 "ls while mounted"
expect_err "^hangar: store is mounted by hangarfs PID [0-9]+ at $mnt: showing its last committed state" "ls note"
expect_out '^web01 +stopped ' "ls line while mounted"
h ls store --json
expect_rc 0 "ls --json while mounted"
expect_json "$OUT" "ls --json while mounted"
[ "$(json_get "$OUT" 'j["mounted"]')" = True ] || fail "json mounted"
[ "$(json_get "$OUT" 'j["mountpoint"]')" = "$mnt" ] || fail "json mountpoint"
pid=$(json_get "$OUT" 'j["holder_pid"]')
[ "$(cat "/proc/$pid/comm")" = hangarfs ] || fail "holder_pid $pid is not hangarfs"
h status store web01
expect_rc 0 "status while mounted"
expect_out "^mounted +mounted by hangarfs PID $pid at $mnt " "status mounted line"
h check store
expect_rc 0 "check while mounted"
h export store web01 exported
expect_rc 0 "export while mounted"
cmp exported/disk.raw "$mnt/web01/disk.raw" || fail "export while mounted differs from the mount"

# ---- state-changing commands refuse, with the mount-side equivalent ---------------
refused() { # CMD... ; expects exit 1 and the holder in the message
	h "$@"
	expect_rc 1 "hangar $* while mounted"
	expect_err "^hangar: store: store is mounted by hangarfs PID $pid at $mnt; $1 would change containers behind its back, so it is refused$" "hangar $1 refusal"
}
refused resume store web01
expect_err "^hangar: on the mount instead: setfattr -n user.hangar.resume -v 1 $mnt/web01$" "resume advice"
refused discard store web01
expect_err "^hangar: on the mount instead: rm $mnt/web01/memory.save$" "discard advice"
refused rm store web01
expect_err "^hangar: on the mount instead: rm -r $mnt/web01$" "rm advice"
refused create store web02 --disk 1G
expect_err "^hangar: on the mount instead: mkdir $mnt/web02 && truncate -s 1073741824 $mnt/web02/disk.raw$" "create advice"
echo data >f.raw
refused import store web03 --disk f.raw
expect_err "cp --sparse=always f.raw $mnt/web03/disk.raw" "import advice"
[ ! -e store/web02.hangar ] && [ ! -e store/web03.hangar ] || fail "a refused command created a guest"

# ---- a save made on the mount, seen by the CLI ------------------------------------
dd if=/dev/urandom of="$mnt/web01/disk.raw" bs=64K count=4 conv=notrunc status=none
dd if=/dev/urandom of="$mnt/web01/memory.save" bs=1M count=2 status=none
sleep 0.2
if dd if=/dev/zero of="$mnt/web01/disk.raw" bs=4K count=1 conv=notrunc status=none 2>/dev/null; then
	fail "a pinned disk opened for writing on the mount"
fi
h status store web01
expect_rc 0 "status of a guest saved on the mount"
expect_out '^state +saved since' "CLI sees the save made on the mount"
expect_out '^ +disk.raw +generation [0-9]+ \(unchanged\)$' "CLI sees the pin"
# A config edited after the save is reported (the image may not match it).
echo '# edited after the save' >>"$mnt/web01/config"
sync "$mnt/web01/config" # fsync commits; the CLI reads committed state
sleep 0.2
h status store web01
expect_out '^config +CHANGED since the save$' "status reports the config changed since the save"
h status store web01 --json
[ "$(json_get "$OUT" 'j["save_lock"]["config_changed"]')" = True ] || fail "json config_changed"
# The advice the refusal printed works.
setfattr -n user.hangar.resume -v 1 "$mnt/web01"
[ "$(getfattr --absolute-names --only-values -n user.hangar.state "$mnt/web01")" = resuming ] ||
	fail "setfattr user.hangar.resume did not resume"
h umount "$mnt"
expect_rc 0 "hangar umount"
! findmnt -rn --mountpoint "$mnt" >/dev/null || fail "still mounted after hangar umount"
h status store web01
expect_rc 0 "status after unmount"
expect_out '^state +resuming' "resuming state survives the unmount"
h discard store web01
expect_rc 0 "discard after unmount"
h check store
expect_rc 0 "check after unmount"

# ---- an image invalidated by a write through an old descriptor ----------------------
h mount store "$mnt"
expect_rc 0 "second hangar mount"
wait_mounted "$mnt"
exec 3<>"$mnt/web01/disk.raw"
dd if=/dev/urandom of="$mnt/web01/memory.save" bs=1M count=1 status=none
sleep 0.2
printf 'written after the save' >&3
exec 3>&-
sleep 0.2
h umount "$mnt"
expect_rc 0 "umount after invalidation"
h status store web01
expect_rc 0 "status of an invalidated guest"
expect_out '^state +invalidated' "state invalidated"
expect_out 'disk.raw was written after' "status names the disk that moved on"
expect_out '^release +hangar discard store web01' "status says discard releases it"
h resume store web01
expect_rc 1 "resume of an invalidated image"
expect_err '^hangar: web01: resume refused: ' "resume refusal with the reason"
h discard store web01
expect_rc 0 "discard of an invalidated image"
h check store
expect_rc 0 "check after the invalidation"

echo "PASS"
