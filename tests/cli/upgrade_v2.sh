#!/bin/bash
# tests/cli/upgrade_v2.sh -- containers written before small metadata nodes
# (64 KiB clusters, every map node and table block a whole cluster) keep
# opening, read and write, with their save lock and snapshots intact; they
# stay in their layout (no SMALL_NODES bit, node_shift 0) and check clean
# after today's binaries wrote to them.  A new guest beside them gets 4 KiB
# nodes.  The store is tests/data/v2-store (tests/data/README.md).
. "$(dirname "$0")/../lib.bash"
fs_setup getfattr md5sum

rm -rf "$STORE"
cp -a "$HANGAR_SOURCE_DIR/tests/data/v2-store" "$STORE" || fail "copy the v2 store"
chmod 700 "$STORE"
t "$HANGAR" check "$STORE" >"$WORK/check1" || { cat "$WORK/check1"; fail "check of the v2 store"; }
SMALL_NODES=16
for g in plain saved snap; do
	[ $(($(sb_field incompat "$STORE/$g.hangar") & SMALL_NODES)) = 0 ] ||
		fail "$g.hangar of the v2 store has small nodes"
done

fs_mount
st() { getfattr --absolute-names --only-values -n user.hangar.state "$MNT/$1"; }
[ "$(st plain)" = stopped ] || fail "plain: $(st plain)"
[ "$(st saved)" = saved ] || fail "saved: $(st saved)"
# the bytes the old binaries wrote (md5 taken through their mount)
sum() { md5sum <"$1" | cut -d' ' -f1; }
[ "$(sum "$MNT/saved/disk.raw")" = 9f79c5cb8c7b22dd01a056a80c4a1a46 ] || fail "saved/disk.raw bytes"
[ "$(sum "$MNT/saved/memory.save")" = 73ce62ff554828f115ca8322acbe07a2 ] || fail "saved/memory.save bytes"
[ "$(sum "$MNT/snap/disk.raw")" = b9b37f204bfe01e31945bdb8eb5df221 ] || fail "snap/disk.raw bytes"
[ "$(sum "$MNT/plain/disk.raw")" = db1288a0c357455ee6dfcbc5cb996e00 ] || fail "plain/disk.raw bytes"
head -c 19 "$MNT/snap/.snapshots/before/disk.raw" | grep -q pattern-snap-before ||
	fail "snapshot 'before' of the v2 guest does not read its bytes"
# the save lock made by the old binaries holds
expect_fail "Device or resource busy" dd if=/dev/zero of="$MNT/saved/disk.raw" bs=4k count=1 conv=notrunc status=none
t "$HANGAR" resume "$STORE" saved >/dev/null || fail "resume of the v2 saved guest"
# writes that grow the old trees: far into the disk (a new leaf and
# interior node of 64 KiB), an overwrite after the snapshot (a copy)
printf 'v2-far-write' | t dd of="$MNT/plain/disk.raw" bs=1M seek=40 conv=notrunc status=none ||
	fail "write to plain"
printf 'pattern-snap-later' | t dd of="$MNT/snap/disk.raw" bs=64k seek=2 conv=notrunc status=none ||
	fail "write to snap"
t dd if=/dev/urandom of="$MNT/saved/disk.raw" bs=4k count=8 seek=3 conv=notrunc,fsync status=none ||
	fail "write to the resumed guest"
t "$HANGAR" create "$STORE" newguest --disk 64M >/dev/null || fail "create a guest beside the v2 ones"
sync "$MNT/plain/disk.raw" "$MNT/snap/disk.raw"
fs_umount
for g in plain saved snap; do
	[ $(($(sb_field incompat "$STORE/$g.hangar") & SMALL_NODES)) = 0 ] ||
		fail "$g.hangar changed layout on a write"
	[ "$(sb_field node_shift "$STORE/$g.hangar")" = 0 ] || fail "$g.hangar node_shift set"
done
[ $(($(sb_field incompat "$STORE/newguest.hangar") & SMALL_NODES)) = $SMALL_NODES ] ||
	fail "a new guest of the v2 store has no small nodes"
[ "$(sb_field node_shift "$STORE/newguest.hangar")" = 12 ] || fail "new guest node_shift"
t "$HANGAR" check "$STORE" >"$WORK/check2" || { cat "$WORK/check2"; fail "check after the writes"; }
fs_mount
[ "$(t dd if="$MNT/plain/disk.raw" bs=1M skip=40 count=1 status=none | head -c 12)" = v2-far-write ] ||
	fail "plain: the far write did not survive a remount"
head -c 19 "$MNT/snap/.snapshots/before/disk.raw" | grep -q pattern-snap-before ||
	fail "snapshot 'before' changed"
[ "$(t dd if="$MNT/snap/disk.raw" bs=64k skip=2 count=1 status=none | head -c 18)" = pattern-snap-later ] ||
	fail "snap: the write did not survive a remount"
fs_umount
echo PASS
