#!/bin/bash
# tests/cli/snapshot_export.sh -- the commands that read snapshots:
#   - `hangar diff` lists exactly the extents written between two
#     snapshots (dd conv=notrunc at known offsets through a mount), the
#     files added and removed, and against the live state;
#   - `hangar export --snapshot` gives the snapshot's files (also while the
#     store is mounted and the daemon writes the guest), and `--since`
#     applied over a full export of snap1 equals a full export of snap2
#     (cmp of every file, removed files gone) having read only the changed
#     data (the count it prints);
#   - `hangar clone` gives a guest equal to the snapshot (or the committed
#     state) that is independent of its source (writing one does not change
#     the other), without the memory image, on a plain and an encrypted
#     store; while the store is mounted, a snapshot's clone goes through
#     the mount and a clone of the live state is refused.
# Snapshots are taken with tests/tools/snapshot_take.c (core's API).
source "$(dirname "$0")/../lib.bash"
cli_setup
need_fuse
SNAP=${HANGAR_TEST_SNAPSHOT:-${HANGAR_BUILD_DIR:-}/tests/hangar_test_snapshot}
[ -x "$SNAP" ] || skip "hangar_test_snapshot is not built"
need cmp python3 fallocate

STORE=$WORK/store
MNT=$WORK/mnt
HFS_LOG=$WORK/hangarfs.log
mkdir -p "$MNT"
K=64 # KiB: the store's cluster size (the default)

# same_dirs A B : the same file names, and cmp-equal files.
same_dirs() {
	[ "$(cd "$1" && ls -A | sort)" = "$(cd "$2" && ls -A | sort)" ] ||
		fail "$1 and $2 hold different files: $(ls -A "$1") / $(ls -A "$2")"
	local f
	for f in "$2"/*; do
		cmp "$1/${f##*/}" "$f" || fail "$1/${f##*/} differs from $f"
		[ "$(stat -c %a "$1/${f##*/}")" = "$(stat -c %a "$f")" ] ||
			fail "$1/${f##*/} has mode $(stat -c %a "$1/${f##*/}"), $f $(stat -c %a "$f")"
	done
}
# on_mount CMD... : run CMD with the store mounted, then unmount.
on_mount() {
	fs_mount
	"$@"
	fs_umount
}
wr() { # wr FILE OFFSET_KIB LENGTH_KIB : random bytes at a known place
	dd if=/dev/urandom of="$1" bs=1K seek="$2" count="$3" conv=notrunc status=none
}

h init store
expect_rc 0 "init"
echo 'name = "g"' >g.cfg
h create store g --disk 32M --config g.cfg
expect_rc 0 "create"

# snap1: 8 MiB of data, a config, an nvram file.
state1() {
	wr "$MNT/g/disk.raw" 0 8192
	echo nvram >"$MNT/g/nvram.fd"
}
on_mount state1
"$SNAP" store g snap1 || fail "snapshot snap1"

# snap2: 64K rewritten at 1 MiB, 64K of data punched out at 2 MiB (the
# incremental export must clear it), 128K written into a hole at 10 MiB, a
# new file, nvram.fd removed, config's mode changed.
state2() {
	wr "$MNT/g/disk.raw" 1024 64
	fallocate --punch-hole --offset 2M --length 64K "$MNT/g/disk.raw"
	wr "$MNT/g/disk.raw" 10240 128
	head -c 100000 /dev/urandom >"$MNT/g/extra.bin"
	rm "$MNT/g/nvram.fd"
	chmod 600 "$MNT/g/config" # a mode changes, no data
}
on_mount state2
"$SNAP" store g snap2 || fail "snapshot snap2"

# ---- diff ----------------------------------------------------------------------
h diff store g snap1 snap2 --json
expect_rc 0 "diff --json"
expect_json "$OUT" "diff --json"
[ "$(json_get "$OUT" '[(f["name"], f["change"], [(e["offset"], e["length"]) for e in f["extents"]]) for f in j["files"]]')" = \
	"[('nvram.fd', 'removed', [(0, 6)]), ('disk.raw', 'changed', [(1048576, 65536), (2097152, 65536), (10485760, 131072)]), ('extra.bin', 'added', [(0, 100000)])]" ] ||
	fail "diff snap1 snap2 lists other extents: $(cat "$OUT")"
[ "$(json_get "$OUT" 'j["total_bytes"]')" = $((65536 + 65536 + 131072 + 100000 + 6)) ] ||
	fail "diff total: $(cat "$OUT")"
h diff store g snap1 snap2 --bytes
expect_rc 0 "diff (text)"
expect_out '^changed disk.raw: 262144 in 3 extents: 1048576\+65536 2097152\+65536 10485760\+131072$' "diff text line"
expect_out '^added extra.bin: 100000 in 1 extent: 0\+100000$' "diff text added"
expect_out '^removed nvram.fd: ' "diff text removed"
expect_out '^total: 3 files, 362150$' "diff text total"
# STORE left out (HANGAR_STORE): three operands are GUEST SNAP1 SNAP2
HANGAR_STORE=$WORK/store h diff g snap1 snap2 -b
expect_rc 0 "diff with the default store"
expect_out '^total: 3 files, 362150$' "diff with the default store reads GUEST SNAP1 SNAP2"
h diff store g snap2 snap2
expect_rc 0 "diff of a snapshot with itself"
expect_out '^total: 0 files, 0$' "nothing differs from itself"

# After snap2, the live state moves on: `live` (or nothing) is it.
on_mount wr "$MNT/g/disk.raw" 20480 64
h diff store g snap2 live --json
expect_rc 0 "diff live"
[ "$(json_get "$OUT" '[(f["name"], [(e["offset"], e["length"]) for e in f["extents"]]) for f in j["files"]]')" = \
	"[('disk.raw', [(20971520, 65536)])]" ] || fail "diff snap2 live: $(cat "$OUT")"
[ "$(json_get "$OUT" 'j["to"]')" = None ] || fail "diff live: to is not null"
h diff store g snap2 -b
expect_rc 0 "diff with SNAP2 left out"
expect_out '^changed disk.raw: 65536 in 1 extent: 20971520\+65536$' "SNAP2 left out is live"
h diff store g nosuch snap2
expect_rc 1 "diff of a missing snapshot"
expect_err 'has no snapshot named nosuch' "missing snapshot message"
expect_err 'snapshots of g: snap1, snap2' "missing snapshot lists the others"

# ---- export --snapshot, --since ------------------------------------------------
h export store g full1 --snapshot snap1
expect_rc 0 "export --snapshot snap1"
expect_out '^exported snapshot snap1 of g to full1$' "export --snapshot summary"
h export store g full2 --snapshot snap2
expect_rc 0 "export --snapshot snap2"
[ -e full1/nvram.fd ] && [ ! -e full1/extra.bin ] || fail "full1 is not snap1's files"
[ "$(du -k full1/disk.raw | cut -f1)" -le $((8192 + 1024)) ] || fail "export --snapshot is not sparse"
cmp -n 8M full1/disk.raw full2/disk.raw >/dev/null && fail "snap1 and snap2 disks are equal"
full_read=$(python3 -c 'import os,sys; print(sum(os.stat(os.path.join(sys.argv[1], f)).st_blocks * 512 for f in os.listdir(sys.argv[1])))' full2)

cp -a --sparse=always full1 inc
h export store g inc --snapshot snap2 --since snap1 --bytes
expect_rc 0 "export --since"
expect_out '^exported snapshot snap2 of g to inc since snap1: 1 changed, 1 added, 1 removed, ([0-9]+) of data read$' "export --since summary"
inc_read=$(sed -nE 's/.*, ([0-9]+) of data read$/\1/p' "$OUT")
same_dirs inc full2
# Only the changed clusters and the new file are read: 192K + 100000 bytes,
# against more than 8 MiB for the full export.
[ "$inc_read" = $((65536 + 131072 + 100000)) ] || fail "export --since read $inc_read bytes"
[ "$full_read" -gt $((20 * inc_read)) ] || fail "a full export ($full_read) is not much more than --since ($inc_read)"
log "export --since read $inc_read bytes of data; a full export of snap2 holds $full_read"

mkdir empty
h export store g empty --snapshot snap2 --since snap1
expect_rc 1 "export --since over a directory without the earlier export"
expect_err 'empty/disk.raw: missing: empty does not hold an export of the --since snapshot' "--since message"
h export store g x --since snap1
expect_rc 2 "--since without --snapshot"

# While the daemon writes the guest, the snapshot reads the same.
fs_mount
wr "$MNT/g/disk.raw" 0 4096
h export store g mounted1 --snapshot snap1
expect_rc 0 "export --snapshot while mounted and written"
same_dirs mounted1 full1
h diff store g snap1 snap2 --json
expect_rc 0 "diff while mounted"
h clone store g@snap1 c0
expect_rc 0 "clone of a snapshot while mounted"
expect_out '^cloned g@snap1 to c0 \(through hangarfs PID [0-9]+\): 3 files, ' "clone through the mount"
same_dirs "$MNT/c0" full1
[ ! -e "$MNT/c0/.hangar-incomplete" ] || fail "the clone through the mount is left incomplete"
h clone store g c0b
expect_rc 1 "clone of the live state while mounted"
expect_err "clone needs SRC@SNAP while it is mounted" "live clone refused while mounted"
expect_err "on the mount instead: take a snapshot of g" "live clone refusal says what to do"
fs_umount
h export store c0 c0out
expect_rc 0 "export of the clone made through the mount"
same_dirs c0out full1

# ---- clone ---------------------------------------------------------------------
h clone store g@snap1 c1 --bytes
expect_rc 0 "clone g@snap1"
expect_out '^cloned g@snap1 to c1: 3 files, ' "clone summary"
h export store c1 c1out
expect_rc 0 "export of the clone"
same_dirs c1out full1
h export store g live_before
expect_rc 0 "export of g's live state"
h clone store g c2
expect_rc 0 "clone of the live state"
h export store c2 c2out
expect_rc 0 "export of the live clone"
same_dirs c2out live_before

# Independent: writing the clone changes neither the source nor the
# snapshot, and writing the source does not change the clone.
indep() {
	wr "$MNT/c1/disk.raw" 0 1024
	wr "$MNT/g/disk.raw" 30720 64
}
on_mount indep
h export store g snap1_after --snapshot snap1
expect_rc 0 "export snap1 after writing the clone"
same_dirs snap1_after full1
h export store c2 c2_after
expect_rc 0 "export of c2 after writing the source"
same_dirs c2_after live_before
h export store c1 c1_after
expect_rc 0 "export of the written clone"
cmp -s c1_after/disk.raw full1/disk.raw && fail "the write to c1 did not change it"

h clone store g c2
expect_rc 1 "clone onto an existing guest"
expect_err 'guest c2 already exists' "clone onto an existing guest message"
h clone store g@nosuch c3
expect_rc 1 "clone of a missing snapshot"
[ ! -e store/c3.hangar ] || fail "a failed clone left guest c3"

# A saved guest's snapshot: the clone has no memory image.
make_sparse saved.raw 16M 0 5
head -c 300000 /dev/urandom >mem.save
h import store sv --disk saved.raw --memory mem.save
expect_rc 0 "import of a saved guest"
"$SNAP" store sv ckpt || fail "snapshot of the saved guest"
h clone store sv@ckpt svc
expect_rc 0 "clone of a saved guest's snapshot"
expect_out 'memory.save was not copied' "clone says the image stays behind"
h status store svc --json
expect_rc 0 "status of the clone"
[ "$(json_get "$OUT" 'j["state"]')" = stopped ] || fail "clone of a saved guest is $(json_get "$OUT" 'j["state"]')"
h export store svc svcout
cmp saved.raw svcout/disk.raw || fail "clone of the saved guest: disk differs"
[ ! -e svcout/memory.save ] || fail "the clone has a memory.save"

# ---- an encrypted store --------------------------------------------------------
head -c 64 /dev/urandom >key
chmod 600 key
h init estore --encrypt --keyfile key
expect_rc 0 "init --encrypt"
h create estore e --disk 32M --keyfile key
expect_rc 0 "create on the encrypted store"
STORE=$WORK/estore
fs_mount -o keyfile="$WORK/key"
wr "$MNT/e/disk.raw" 512 2048
fs_umount
"$SNAP" estore e s1 "$WORK/key" || fail "snapshot on the encrypted store"
h export estore e es1 --snapshot s1 --keyfile key
expect_rc 0 "export --snapshot, encrypted"
h clone estore e@s1 ec --keyfile key
expect_rc 0 "clone, encrypted"
# its own identity (superblock uuid, bytes 96..111: the salt of its keys),
# not a copy of the source's file
uuid_of() { od -An -tx1 -j96 -N16 "$1" | tr -d ' \n'; }
[ -n "$(uuid_of estore/ec.hangar)" ] && [ "$(uuid_of estore/ec.hangar)" != "$(uuid_of estore/e.hangar)" ] ||
	fail "the encrypted clone has its source's uuid"
# Read back through the mount (the clone is readable under its own keys),
# then written: the source and its snapshot stay as they were.
enc_indep() {
	same_dirs "$MNT/ec" es1
	cp --sparse=always "$MNT/e/disk.raw" e_live.raw
	wr "$MNT/ec/disk.raw" 0 64
	cmp "$MNT/e/disk.raw" e_live.raw || fail "writing the encrypted clone changed its source"
	cmp -s "$MNT/ec/disk.raw" es1/disk.raw && fail "the write to ec did not change it"
	return 0
}
fs_mount -o keyfile="$WORK/key"
enc_indep
fs_umount
h export estore e es1_after --snapshot s1 --keyfile key
expect_rc 0 "export s1 after writing the encrypted clone"
same_dirs es1_after es1
h check store
expect_rc 0 "check of the plain store"
log "ok"
