#!/bin/bash
# tests/ceph/hostlock.sh -- one daemon per store per host, even where the
# store directory's flock is kept per mount (docs/multihost.md, section 3):
#   - one host mounts the CephFS twice (two ceph-fuse clients, the same
#     host name and the same per-host lock directory, /run/hangar on a real
#     host: HANGAR_LOCK_DIR here, ceph_host_bin);
#   - `hangar init` writes a uuid into `.hangar-store`; host A's hangarfs on
#     the first mount holds `<lock dir>/<uuid>-<directory inode>.lock`;
#   - a second hangarfs of the same host on the second mount's store is
#     refused, naming the first one's PID (the directory flocks of two
#     ceph-fuse mounts do not conflict: without the per-host lock it
#     mounted), and so is a writing `hangar` command there;
#   - another host (its own lock directory) still serves the store beside
#     it, as before;
#   - an old store (no uuid in `.hangar-store`) gets one at its first
#     read-write open, kept by every later one, and is guarded the same way;
#   - the lock file goes when its daemon unmounts.
# shellcheck disable=SC2034 # read by ceph.bash: host A mounts the CephFS twice
CEPH_HOSTS="hosta hosta2 hostb"
. "$(dirname "$0")/../lib.bash"
. "$(dirname "$0")/ceph.bash"
need_fuse
need_hangar
need python3
work_setup
START=$SECONDS
ceph_start
ceph_mount hosta "$WORK/a1"  # host A's first mount of the CephFS
ceph_mount hosta2 "$WORK/a2" # host A's second mount of it
ceph_mount hostb "$WORK/b"
BIN_A=$(ceph_host_bin hosta)
BIN_B=$(ceph_host_bin hostb)
LOCKS_A=$WORK/run-hosta
t "$BIN_A/hangar" init "$WORK/a1/store" >/dev/null || fail "hangar init on CephFS"
uuid=$(sed -n 's/^uuid \([0-9a-f-]\{36\}\)$/\1/p' "$WORK/a1/store/.hangar-store")
[ -n "$uuid" ] || { cat "$WORK/a1/store/.hangar-store"; fail "init wrote no uuid"; }
t "$BIN_A/hangar" create "$WORK/a1/store" g1 --disk 16M >/dev/null ||
	fail "create"

# two_daemons STORE1 STORE2 : host A's hangarfs on STORE1 (through the first
# mount), a second one of host A on STORE2 (the same store through the
# second mount) is refused naming the first; host B's mounts beside it.
two_daemons() {
	# the lock file is named by the uuid and the store directory's inode,
	# which both ceph-fuse mounts show alike (Ceph's inode number)
	local ino1 ino2 lock
	ino1=$(stat -c %i "$1") && ino2=$(stat -c %i "$2") ||
		fail "stat of the store through both mounts"
	[ "$ino1" = "$ino2" ] ||
		fail "the store directory's inode differs between the mounts: $ino1, $ino2"
	lock=$(printf '%s-%x.lock' "$3" "$ino1")
	HFS_LOG=$WORK/hangarfs-a1.log
	HANGARFS=$BIN_A/hangarfs fs_mount_other "$1" "$WORK/mnt-a1" "$HFS_LOG" \
		-o commit_interval=1 || fail "hangarfs on host A's first mount"
	HFS_A1=$OTHER_PID
	[ -f "$LOCKS_A/$lock" ] || fail "no $LOCKS_A/$lock"
	[ "$(flock_holder "$LOCKS_A/$lock")" = "$HFS_A1" ] ||
		fail "hangarfs $HFS_A1 does not hold $lock"
	log "a second hangarfs of host A, through its second mount"
	HFS_LOG=$WORK/hangarfs-a2.log
	if HANGARFS=$BIN_A/hangarfs fs_mount_other "$2" "$WORK/mnt-a2" \
		"$HFS_LOG" -o commit_interval=1; then
		fail "a second hangarfs on host A serves the store (PID $OTHER_PID)"
	fi
	expect_log "already in use by PID $HFS_A1"
	if t "$BIN_A/hangar" create "$2" g9 --disk 16M >"$WORK/c.out" 2>&1; then
		fail "hangar create through host A's second mount beside its daemon"
	fi
	grep -q "PID $HFS_A1" "$WORK/c.out" ||
		{ cat "$WORK/c.out"; fail "the refused create does not name $HFS_A1"; }
	log "host B serves the store beside host A"
	HFS_LOG=$WORK/hangarfs-b.log
	HANGARFS=$BIN_B/hangarfs fs_mount_other "$WORK/b/${1#"$WORK/a1/"}" \
		"$WORK/mnt-b" "$HFS_LOG" -o commit_interval=1 ||
		fail "host B's hangarfs beside host A's"
	fs_umount_other "$WORK/mnt-b" "$OTHER_PID"
	fs_umount_other "$WORK/mnt-a1" "$HFS_A1"
	[ ! -e "$LOCKS_A/$lock" ] || fail "$lock outlives its daemon"
}
two_daemons "$WORK/a1/store" "$WORK/a2/store" "$uuid"

log "an old store without a uuid gets one at its first read-write open"
mkdir "$WORK/a1/old"
grep -v '^uuid ' "$WORK/a1/store/.hangar-store" >"$WORK/a1/old/.hangar-store"
t "$BIN_A/hangar" ls "$WORK/a1/old" >/dev/null || fail "ls of the old store"
grep -q '^uuid ' "$WORK/a1/old/.hangar-store" && fail "a read-only command wrote a uuid"
t "$BIN_A/hangar" create "$WORK/a1/old" g1 --disk 16M >/dev/null ||
	fail "create in the old store"
old_uuid=$(sed -n 's/^uuid \([0-9a-f-]\{36\}\)$/\1/p' "$WORK/a1/old/.hangar-store")
[ -n "$old_uuid" ] && [ "$old_uuid" != "$uuid" ] ||
	{ cat "$WORK/a1/old/.hangar-store"; fail "the old store's uuid: '$old_uuid'"; }
two_daemons "$WORK/a1/old" "$WORK/a2/old" "$old_uuid"
[ "$(sed -n 's/^uuid //p' "$WORK/a1/old/.hangar-store")" = "$old_uuid" ] ||
	fail "the old store's uuid changed"
log "total $((SECONDS - START)) s"
echo PASS
