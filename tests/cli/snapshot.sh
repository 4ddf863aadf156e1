#!/bin/bash
# tests/cli/snapshot.sh -- `hangar snapshot create|list|delete` and `hangar
# rollback` (cli/cmd_snapshot.c) on an unmounted store (core directly) and
# on a mounted one (through hangarfs's control socket): names, EEXIST,
# list and list --json, the snapshot visible as GUEST/.snapshots/NAME on
# the mount, rollback restores the bytes (cmp), rollback of a guest with a
# file open is refused with the reason, delete of a snapshot with a file
# open is refused, later snapshots survive a rollback, check is clean.
source "$(dirname "$0")/../lib.bash"
cli_setup
need_fuse
need cmp python3

head -c 4M /dev/urandom >a.raw
truncate -s 8M a.raw
head -c 4M /dev/urandom >b.raw
truncate -s 8M b.raw
echo "name=web01" >web01.cfg

h init store
expect_rc 0 "init"
h import store web01 --disk a.raw --config web01.cfg
expect_rc 0 "import"

# ---- unmounted -----------------------------------------------------------------
h snapshot create store web01 s1
expect_rc 0 "snapshot create (unmounted)"
expect_out '^web01: snapshot s1 taken$' "create message"
h snapshot create store web01 s1
expect_rc 1 "second create"
expect_err 'already has a snapshot named s1' "EEXIST message"
h snapshot create store web01 '.dot'
expect_rc 2 "bad name"
expect_err "invalid snapshot name '.dot'" "bad name message"
h snapshot create store nosuch s1
expect_rc 1 "no guest"
expect_err 'no guest named nosuch' "no guest message"
h snapshot list store web01
expect_rc 0 "list (unmounted)"
expect_out '^NAME +CREATED +AGE$' "list header"
expect_out '^s1 +[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]{8} ' "list line"
h snapshot list store web01 --json
expect_rc 0 "list --json"
expect_json "$OUT" "list --json"
[ "$(json_get "$OUT" '[s["name"] for s in j["snapshots"]]')" = "['s1']" ] ||
	fail "json names: $(cat "$OUT")"
json_get "$OUT" 'j["snapshots"][0]["created"]' | grep -qE '^[0-9]{4}-' || fail "json created"
h snapshot delete store web01 nosuch
expect_rc 1 "delete of a missing snapshot"
expect_err 'web01 has no snapshot named nosuch' "missing snapshot message"
h snapshot
expect_rc 2 "no subcommand"
h snapshot frobnicate store web01
expect_rc 2 "unknown subcommand"

# ---- mounted ------------------------------------------------------------------
mnt=$WORK/mnt
unmount_at_exit "$mnt"
h mount store "$mnt"
expect_rc 0 "mount"
wait_mounted "$mnt"
[ "$(ls "$mnt/web01/.snapshots")" = s1 ] || fail "s1 not on the mount"
t cmp "$mnt/web01/.snapshots/s1/disk.raw" a.raw || fail "s1 content on the mount"
t dd if=b.raw of="$mnt/web01/disk.raw" bs=1M conv=notrunc,fsync status=none || fail "overwrite"
t cmp "$mnt/web01/.snapshots/s1/disk.raw" a.raw || fail "s1 changed by the overwrite"

h snapshot create store web01 s2
expect_rc 0 "create (mounted)"
expect_out '^web01: snapshot s2 taken \(through hangarfs PID [0-9]+\)$' "mounted create message"
[ -d "$mnt/web01/.snapshots/s2" ] || fail "s2 not on the mount"
t cmp "$mnt/web01/.snapshots/s2/disk.raw" b.raw || fail "s2 content"
h snapshot create store web01 s2
expect_rc 1 "second create (mounted)"
expect_err 'already has a snapshot named s2' "mounted EEXIST message"
h snapshot list store web01 --json
expect_rc 0 "list --json (mounted)"
[ "$(json_get "$OUT" '[s["name"] for s in j["snapshots"]]')" = "['s1', 's2']" ] ||
	fail "mounted json names: $(cat "$OUT")"
h snapshot list store web01
expect_rc 0 "list (mounted)"
expect_out '^s2 ' "mounted list line"

# rollback refused while a file of the guest is open
exec 3<"$mnt/web01/config"
h rollback store web01 s1
expect_rc 1 "rollback with a file open"
expect_err 'rollback of web01 refused: files of the guest are open' "rollback EBUSY message"
exec 3<&-
sleep 0.2 # RELEASE is asynchronous
t cmp "$mnt/web01/disk.raw" b.raw || fail "refused rollback changed the disk"

# delete refused while a file of the snapshot is open
exec 3<"$mnt/web01/.snapshots/s2/disk.raw"
h snapshot delete store web01 s2
expect_rc 1 "delete with a snapshot file open"
expect_err 'snapshot s2 of web01 is in use' "delete EBUSY message"
exec 3<&-
sleep 0.2

# grow the disk and let the kernel cache its size: the rollback must drop
# that at once (the daemon invalidates what the kernel cached of the guest)
t truncate -s 16M "$mnt/web01/disk.raw"
[ "$(stat -c %s "$mnt/web01/disk.raw")" = 16777216 ] || fail "grown size"
h rollback store web01 s1
expect_rc 0 "rollback (mounted)"
expect_out '^web01: rolled back to snapshot s1 \(later snapshots kept\) \(through hangarfs PID [0-9]+\)$' "rollback message"
sz=$(stat -c %s "$mnt/web01/disk.raw")
[ "$sz" = 8388608 ] || fail "size right after the rollback: $sz (the kernel's stale attributes?)"
t cmp "$mnt/web01/disk.raw" a.raw || fail "rollback did not restore the disk"
[ "$(ls "$mnt/web01/.snapshots" | tr '\n' ' ')" = "s1 s2 " ] || fail "snapshots after rollback"
t cmp "$mnt/web01/.snapshots/s2/disk.raw" b.raw || fail "s2 after rollback"

h snapshot delete store web01 s2
expect_rc 0 "delete (mounted)"
expect_out '^web01: snapshot s2 deleted \(through hangarfs PID' "mounted delete message"
[ ! -e "$mnt/web01/.snapshots/s2" ] || fail "s2 still on the mount right after its delete"

# leave the disk changed, then roll back unmounted
t dd if=b.raw of="$mnt/web01/disk.raw" bs=1M conv=notrunc,fsync status=none || fail "overwrite 2"
h umount "$mnt"
expect_rc 0 "umount"

# ---- unmounted again -------------------------------------------------------------
h export store web01 out-b
expect_rc 0 "export before rollback"
t cmp out-b/disk.raw b.raw || fail "disk before the unmounted rollback"
h rollback store web01 s1
expect_rc 0 "rollback (unmounted)"
expect_out '^web01: rolled back to snapshot s1 \(later snapshots kept\)$' "unmounted rollback message"
h export store web01 out-a
expect_rc 0 "export after rollback"
t cmp out-a/disk.raw a.raw || fail "unmounted rollback did not restore the disk"
h rollback store web01 nosuch
expect_rc 1 "rollback to a missing snapshot"
expect_err 'web01 has no snapshot named nosuch' "rollback missing message"
h snapshot delete store web01 s1
expect_rc 0 "delete (unmounted)"
h snapshot list store web01 --json
expect_rc 0 "empty list"
[ "$(json_get "$OUT" 'len(j["snapshots"])')" = 0 ] || fail "snapshots left: $(cat "$OUT")"
h check store
expect_rc 0 "check after the snapshots"
echo PASS
