#!/bin/bash
# tests/cli/mounted.sh -- hangar on a store that hangarfs has mounted:
# `hangar mount`/`umount` work; read-only commands (ls, status, check,
# export) read the last committed state, which status says in its
# "mounted" line (no warning on stderr: being mounted is normal); commands that change the
# store (create, resume, discard, rm) go through the daemon's control socket
# with the unmounted texts plus "(through hangarfs PID N)", and their effect
# shows on the mount at once; `import` creates through the daemon and copies
# through the mount; without the socket they refuse with the mount-side
# equivalent; another user
# cannot use the socket; the save lock made on the mount is seen by the CLI
# after unmounting, including an invalidated image that resume must refuse;
# `hangar umount` returns only once the daemon has released the store.
source "$(dirname "$0")/../lib.bash"
cli_setup
need_fuse
command -v setfattr >/dev/null || skip "setfattr not installed (apt-get install attr)"

h init store
expect_rc 0 "init"
echo "name = \"web01\"" >web01.cfg
h create store web01 --disk 64M --config web01.cfg
expect_rc 0 "create"
mnt=$WORK/mnt
unmount_at_exit "$mnt"

# `hangar mount` finds hangarfs beside itself (build tree: ../fs/hangarfs).
h mount store "$mnt"
expect_rc 0 "hangar mount"
wait_mounted "$mnt"
[ -f "$mnt/web01/disk.raw" ] || fail "web01/disk.raw not visible on the mount"
[ "$(stat -c %s "$mnt/web01/disk.raw")" = 67108864 ] || fail "disk.raw size on the mount"
h mount store "$WORK/mnt2"
expect_rc 1 "second mount of the same store"
expect_err 'already mounted at' "second mount message"

# ---- read-only commands --------------------------------------------------------
h ls store
expect_rc 0 "ls while mounted"
# A mounted store is the normal state: no warning on every ls (status says
# it once, as one of its lines).
[ ! -s "$ERR" ] || fail "ls of a mounted store printed on stderr: $(cat "$ERR")"
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
[ ! -s "$ERR" ] || fail "status of a mounted store printed on stderr: $(cat "$ERR")"
# A guest the daemon has open read-write is checked as of a pin (a
# snapshot the daemon keeps while the check reads it), then unpinned.
exec 5<"$mnt/web01/disk.raw"
h check store
expect_rc 0 "check while mounted, web01 open in the daemon"
expect_out "^web01: clean as of pin hangar-pin-[0-9]+-1 " "check of a guest the daemon writes"
exec 5<&-
h export store web01 exported
expect_rc 0 "export while mounted"
cmp exported/disk.raw "$mnt/web01/disk.raw" || fail "export while mounted differs from the mount"

# ---- state-changing commands go through hangarfs -----------------------------------
via="\(through hangarfs PID $pid\)"
state() { getfattr --absolute-names --only-values -n user.hangar.state "$mnt/$1"; }
h create store web02 --disk 1G --config web01.cfg
expect_rc 0 "create while mounted"
expect_out "^created guest web02: disk.raw 1.0G, config $via$" "create text while mounted"
[ "$(stat -c '%s %a' "$mnt/web02/disk.raw")" = "1073741824 600" ] || fail "web02/disk.raw on the mount"
cmp web01.cfg "$mnt/web02/config" || fail "web02/config on the mount"
[ "$(stat -c %a "$mnt/web02")" = 755 ] || fail "web02 directory mode"
[ "$(state web02)" = stopped ] || fail "web02 state"
h create store web02
expect_rc 1 "create of an existing guest while mounted"
expect_err "^hangar: store: guest web02 already exists$" "create EEXIST text"
h create store web04 --compress-disks
expect_rc 0 "create without disks while mounted"
expect_out "^created guest web04 $via$" "create text without disks"
ls "$mnt" | grep -qx web04 || fail "web04 not listed on the mount"
truncate -s 1M "$mnt/web04/disk.raw" || fail "a disk in a guest created through the socket"
h resume store web01
expect_rc 1 "resume of an unsaved guest while mounted"
expect_err "^hangar: web01: nothing to resume: no saved memory image" "resume ENOENT text"
h discard store web01
expect_rc 1 "discard of an unsaved guest while mounted"
expect_err "^hangar: web01: nothing to discard: no saved memory image$" "discard ENOENT text"
h discard store nosuch
expect_rc 1 "discard of a missing guest while mounted"
expect_err "^hangar: store: no guest named nosuch$" "discard of a missing guest"
h rm store nosuch
expect_rc 1 "rm of a missing guest while mounted"
expect_err "^hangar: store: no guest named nosuch$" "rm of a missing guest"

# A file open in the guest: EBUSY, even with --force; closed: gone.
exec 4<"$mnt/web04/disk.raw"
h rm store web04 --force
expect_rc 1 "rm of a guest with an open file"
expect_err "^hangar: store: cannot delete guest web04: web04 has files open on the mount$" "rm EBUSY text"
exec 4<&-
sleep 0.2
h rm store web04
expect_rc 0 "rm while mounted"
expect_out "^deleted guest web04 $via$" "rm text while mounted"
! ls "$mnt" | grep -qx web04 || fail "web04 still listed after rm"
[ ! -e store/web04.hangar ] || fail "web04.hangar left behind"

# Saved: refused without --force, deleted with it.
dd if=/dev/urandom of="$mnt/web02/memory.save" bs=64K count=2 status=none
sleep 0.2
[ "$(state web02)" = saved ] || fail "web02 not saved"
h rm store web02
expect_rc 1 "rm of a saved guest while mounted"
expect_err "^hangar: store: cannot delete guest web02: web02 has a saved memory image" "rm of a saved guest text"
expect_err "^hangar: run \`hangar discard store web02\` first, or \`hangar rm --force store web02\`$" "rm of a saved guest advice"
[ "$(state web02)" = saved ] || fail "a refused rm changed web02"
h rm --force store web02
expect_rc 0 "rm --force of a saved guest while mounted"
! ls "$mnt" | grep -qx web02 || fail "web02 still listed after rm --force"

# Only the socket's owner (and root) may use it.
command -v setpriv >/dev/null || skip "setpriv not installed"
pyx=/usr/bin/python3
[ -x "$pyx" ] || pyx=$(command -v python3)
chmod 0711 "$WORK" store
ask_as_nobody() { # REQUEST-LINE -> prints the reply or the connect error
	setpriv --reuid=65534 --regid=65534 --clear-groups "$pyx" -c '
import socket, sys
s = socket.socket(socket.AF_UNIX)
try:
    s.connect(sys.argv[1])
except OSError as e:
    print("connect: %s" % e.strerror); sys.exit(0)
try:
    s.sendall(sys.argv[2].encode() + b"\n")
except OSError:
    pass # the daemon may answer and hang up before reading
print(s.recv(512).decode().strip())' "$WORK/store/.hangar-control" "$1"
}
[ "$(stat -c %a store/.hangar-control)" = 700 ] || [ "$(stat -c %a store/.hangar-control)" = 600 ] ||
	fail "control socket mode $(stat -c %a store/.hangar-control)"
reply=$(ask_as_nobody "delete web01 1")
[ "$reply" = "connect: Permission denied" ] || fail "another user reached the socket: $reply"
chmod 0666 store/.hangar-control # even so, the daemon checks who asks
reply=$(ask_as_nobody "delete web01 1")
[[ "$reply" == "13 "* ]] || fail "the daemon served another user: $reply"
chmod 0600 store/.hangar-control
chmod 0700 "$WORK" store
[ -d "$mnt/web01" ] || fail "web01 gone after another user's request"

# import goes through the daemon and the mount: a sparse disk stays sparse,
# the memory image is sealed by its close and pins the disk.
make_sparse imp.raw 64M 3 40
printf 'saved state\n' >imp.mem
h import store web03 --disk imp.raw --config web01.cfg --memory imp.mem
expect_rc 0 "import while mounted"
expect_out "^imported guest web03 \(through hangarfs PID $pid\)$" "import through the daemon"
cmp imp.raw "$mnt/web03/disk.raw" || fail "imported disk differs"
cmp web01.cfg "$mnt/web03/config" || fail "imported config differs"
cmp imp.mem "$mnt/web03/memory.save" || fail "imported memory image differs"
[ "$(state web03)" = saved ] || fail "an imported memory image does not pin the disk"
[ "$(du -k "$mnt/web03/disk.raw" | cut -f1)" -lt 16384 ] ||
	fail "the imported disk is not sparse on the mount"
h import store web03 --disk imp.raw
expect_rc 1 "import onto an existing guest while mounted"
h rm store web03 --force
expect_rc 0 "rm of the imported guest"

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
h resume store web01
expect_rc 0 "resume while mounted"
expect_out "^web01: resuming: restore it from memory.save now" "resume text while mounted"
expect_out "^the image is retired at the guest's first disk write $via$" "resume text while mounted (2)"
[ "$(state web01)" = resuming ] || fail "hangar resume did not resume on the mount"
h umount "$mnt"
expect_rc 0 "hangar umount"
! findmnt -rn --mountpoint "$mnt" >/dev/null || fail "still mounted after hangar umount"
# umount returns once hangarfs has committed and let go of the store, so a
# write command may follow at once (no sleep, no "store is mounted").
flock -n store true || fail "hangarfs still holds the store after hangar umount returned"
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
h resume store web01
expect_rc 1 "resume of an invalidated image while mounted"
expect_err '^hangar: web01: resume refused: ' "resume refusal with the daemon's reason"
expect_err 'boot the guest fresh after `hangar discard store web01`' "resume refusal advice"
[ "$(state web01)" = invalidated ] || fail "state after a refused resume"
# A hangarfs without the socket (older, or -o ro): the old refusal.  The
# mount point is only believed when the daemon holding the store reports
# it (anyone can mount a FUSE file system named after the store), so
# without the socket it is unknown.
h ls store --json
pid=$(json_get "$OUT" 'j["holder_pid"]')
rm store/.hangar-control
h discard store web01
expect_rc 1 "discard without a control socket"
expect_err "^hangar: store: store is mounted by hangarfs PID $pid; discard would change containers behind its back, so it is refused$" "discard refusal without a socket"
expect_err "^hangar: on the mount instead: rm MOUNTPOINT/web01/memory.save$" "discard advice"
h umount "$mnt"
expect_rc 0 "umount after invalidation"
flock -n store true || fail "the store is still held after the second hangar umount"
h status store web01
expect_rc 0 "status of an invalidated guest"
expect_out '^state +invalidated' "state invalidated"
expect_out 'disk.raw was written at' "status names the disk that moved on"
expect_out '^release +hangar discard store web01' "status says discard releases it"
h resume store web01
expect_rc 1 "resume of an invalidated image"
expect_err '^hangar: web01: resume refused: ' "resume refusal with the reason"
h discard store web01
expect_rc 0 "discard of an invalidated image"
h check store
expect_rc 0 "check after the invalidation"

# ---- mount options reach hangarfs ----------------------------------------------------
h mount store "$mnt" -o ro
expect_rc 0 "hangar mount -o ro"
wait_mounted "$mnt"
findmnt -rn -o OPTIONS --mountpoint "$mnt" | grep -qE '(^|,)ro(,|$)' ||
	fail "-o ro did not make a read-only mount: $(findmnt -rn -o OPTIONS --mountpoint "$mnt")"
head -c 65536 "$mnt/web01/disk.raw" >/dev/null || fail "disk.raw unreadable on a read-only mount"
if dd if=/dev/zero of="$mnt/web01/disk.raw" bs=4K count=1 conv=notrunc status=none 2>/dev/null; then
	fail "a write succeeded on a mount made with -o ro"
fi
h umount "$mnt"
expect_rc 0 "umount of the read-only mount"

echo "PASS"
