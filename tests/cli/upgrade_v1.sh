#!/bin/bash
# tests/cli/upgrade_v1.sh -- containers written before image seals keep
# opening with their save state: a saved guest stays locked and resumes, a
# stale one stays stale, a resuming one resumes; check is clean before and
# after the first write, which upgrades a guest with a seal to
# FEATURE_INCOMPAT_IMAGE_SEALS.  The store is tests/data/v1-store
# (tests/data/README.md says how it was made).
. "$(dirname "$0")/../lib.bash"
fs_setup getfattr

rm -rf "$STORE"
cp -a "$HANGAR_SOURCE_DIR/tests/data/v1-store" "$STORE" || fail "copy the v1 store"
chmod 700 "$STORE"
t "$HANGAR" check "$STORE" >"$WORK/check1" || { cat "$WORK/check1"; fail "check of the v1 store"; }
[ "$(sb_field incompat "$STORE/saved.hangar")" = 0 ] || fail "the v1 store is not v1"

fs_mount
st() { getfattr --absolute-names --only-values -n user.hangar.state "$MNT/$1"; }
[ "$(st plain)" = stopped ] || fail "plain: $(st plain)"
[ "$(st saved)" = saved ] || fail "saved: $(st saved)"
[ "$(st stale)" = invalidated ] || fail "stale: $(st stale)"
[ "$(st resuming)" = resuming ] || fail "resuming: $(st resuming)"
head -c 13 "$MNT/plain/disk.raw" | grep -q pattern-plain || fail "plain disk bytes"
expect_fail "Device or resource busy" dd if=/dev/zero of="$MNT/saved/disk.raw" bs=4k count=1 conv=notrunc status=none
out=$("$HANGAR" resume "$STORE" stale 2>&1) && fail "stale resumed: $out"
t "$HANGAR" resume "$STORE" saved >/dev/null || fail "resume of the v1 saved guest"
t dd if=/dev/zero of="$MNT/resuming/disk.raw" bs=4k count=1 conv=notrunc status=none ||
	fail "write to the resuming guest"
[ ! -e "$MNT/resuming/memory.save" ] || fail "v1 resuming image did not retire"
echo more >>"$MNT/plain/config"
fs_umount
[ "$(sb_field incompat "$STORE/saved.hangar")" = 4 ] || fail "saved.hangar not upgraded: $(sb_field incompat "$STORE/saved.hangar")"
[ "$(sb_field incompat "$STORE/plain.hangar")" = 0 ] || fail "plain.hangar needs no new feature"
t "$HANGAR" check "$STORE" >"$WORK/check2" || { cat "$WORK/check2"; fail "check after the upgrade"; }
echo PASS
