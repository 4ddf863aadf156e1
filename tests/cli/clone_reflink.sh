#!/bin/bash
# tests/cli/clone_reflink.sh -- `hangar clone` shares the container's extents
# when the store is on a filesystem that can (XFS with reflink here): the
# clone, of the live state and of a snapshot, holds exactly what the slow
# path's copy holds (the snapshot's or the committed files, no memory.save,
# no snapshots, disks not pinned, its own uuid in both superblock slots),
# costs the host next to no space and finds its extents shared (filefrag),
# `hangar check` is clean on both guests, and writing the clone leaves the
# source as it was.  An encrypted store on the same filesystem copies (a
# shared file would share the keys and the nonce counter), and so does
# `--copy`, and a clone on the mounted store (through the daemon); -v says
# which path was taken.  The XFS filesystem is a sparse
# image, loop-mounted: root only (skipped otherwise).
. "$(dirname "$0")/../lib.bash"
cli_setup
need_fuse
need mkfs.xfs mount umount filefrag cmp od df sync python3
[ "$(id -u)" = 0 ] || skip "needs root to loop-mount an XFS image"
MNT=$WORK/mnt
HFS_LOG=$WORK/hangarfs.log
mkdir -p "$MNT"

XFS=$WORK/xfs
mkdir "$XFS"
truncate -s 512M "$WORK/xfs.img"
mkfs.xfs -q -m reflink=1 "$WORK/xfs.img" 2>/dev/null ||
	skip "mkfs.xfs cannot make a reflink filesystem here"
timeout 30 mount -o loop "$WORK/xfs.img" "$XFS" 2>/dev/null ||
	skip "cannot loop-mount an XFS image here"
OUTER_MOUNTS+=("$XFS")
STORE=$XFS/store
h init "$STORE"
expect_rc 0 "init on XFS"

# uuid_slots FILE: the uuid of superblock slot A and of slot B (bytes
# 96..111 of each), one line.
uuid_slots() {
	echo "$(od -An -tx1 -j96 -N16 "$1" | tr -d ' \n')" \
		"$(od -An -tx1 -j$((4096 + 96)) -N16 "$1" | tr -d ' \n')"
}

log "a guest with data, a saved image and two snapshots"
h create "$STORE" src --disk 32M
expect_rc 0 "create src"
fs_mount
G=$MNT/src
head -c 6M /dev/urandom >"$WORK/a"
head -c 2M /dev/urandom >"$WORK/b"
dd if="$WORK/a" of="$G/disk.raw" bs=1M seek=1 conv=notrunc,fsync status=none
echo "first config" >"$G/config"
head -c 1M /dev/urandom >"$G/memory.save"
mkdir "$G/.snapshots/s1"
mkdir "$WORK/exp1" "$WORK/explive"
cp --sparse=always "$G/.snapshots/s1/disk.raw" "$G/.snapshots/s1/config" "$WORK/exp1/"
rm "$G/memory.save" # discard: the disk is writable again
dd if="$WORK/b" of="$G/disk.raw" bs=1M seek=20 conv=notrunc,fsync status=none
echo "second config" >"$G/config"
head -c 300K /dev/urandom >"$G/nvram.fd"
mkdir "$G/.snapshots/s2"
cp --sparse=always "$G/disk.raw" "$G/config" "$G/nvram.fd" "$WORK/explive/"
fs_umount
src_uuid=$(uuid_slots "$STORE/src.hangar")

log "clone of a snapshot and of the committed state: extents shared"
sync
used0=$(df -k --output=used "$XFS" | tail -1)
h clone -v "$STORE" src@s1 c1
expect_rc 0 "clone src@s1"
expect_out '^cloned src@s1 to c1: 2 files, .*extents shared' "c1 shared its extents"
expect_out 'memory.save was not copied' "c1 says the image stayed behind"
expect_err 'extents are shared with src' "-v names the fast path"
h clone -v "$STORE" src c2
expect_rc 0 "clone src"
expect_out '^cloned src to c2: 3 files, .*extents shared' "c2 shared its extents"
sync
used1=$(df -k --output=used "$XFS" | tail -1)
# 8 MiB of data in src; two copies would be 16 MiB more.  Each clone may
# own its superblocks, its metadata and the metadata reserve.
[ $((used1 - used0)) -lt 4096 ] ||
	fail "two clones of 8 MiB of data took $((used1 - used0)) KiB of the host"
filefrag -v "$STORE/c1.hangar" | grep -q shared ||
	fail "c1.hangar has no shared extent: $(filefrag -v "$STORE/c1.hangar")"

log "the clones hold what the slow path's copy would"
for c in c1 c2; do
	h snapshot list "$STORE" "$c" --json
	expect_rc 0 "snapshot list $c"
	[ "$(json_get "$OUT" 'len(j["snapshots"])')" = 0 ] ||
		fail "$c has snapshots: $(cat "$OUT")"
	u=$(uuid_slots "$STORE/$c.hangar")
	set -- $u
	[ "$1" = "$2" ] || fail "$c: its two slots name different uuids: $u"
	case " $src_uuid " in *" $1 "*) fail "$c kept a uuid of src: $u (src: $src_uuid)" ;; esac
done
h export "$STORE" c1 "$WORK/got1"
expect_rc 0 "export c1"
h export "$STORE" c2 "$WORK/got2"
expect_rc 0 "export c2"
[ "$(ls "$WORK/got1")" = "$(printf 'config\ndisk.raw')" ] ||
	fail "c1 holds $(ls "$WORK/got1" | tr '\n' ' '), not config and disk.raw"
[ "$(ls "$WORK/got2")" = "$(printf 'config\ndisk.raw\nnvram.fd')" ] ||
	fail "c2 holds $(ls "$WORK/got2" | tr '\n' ' ')"
for f in disk.raw config; do
	cmp "$WORK/exp1/$f" "$WORK/got1/$f" || fail "c1/$f is not src@s1's"
done
for f in disk.raw config nvram.fd; do
	cmp "$WORK/explive/$f" "$WORK/got2/$f" || fail "c2/$f is not src's"
done
h check "$STORE"
expect_rc 0 "check of the store with both clones"
h ls "$STORE" --json
expect_rc 0 "ls"
grep -q '"saved"' "$OUT" && fail "a clone (or src) is saved: $(cat "$OUT")"

log "writing the clone leaves the source as it was"
fs_mount
head -c 1M /dev/urandom >"$WORK/c"
dd if="$WORK/c" of="$MNT/c1/disk.raw" bs=1M seek=1 conv=notrunc,fsync status=none ||
	fail "the clone's disk is not writable (pinned?)"
cmp "$WORK/explive/disk.raw" "$MNT/src/disk.raw" || fail "src changed with its clone"
cmp "$WORK/exp1/disk.raw" "$MNT/src/.snapshots/s1/disk.raw" || fail "src@s1 changed with its clone"
dd if="$MNT/c1/disk.raw" of="$WORK/c.got" bs=1M skip=1 count=1 status=none
cmp "$WORK/c" "$WORK/c.got" || fail "c1 lost its write"
# mounted: the daemon has the files, so the clone is copied through it
h clone -v "$STORE" src@s2 c4
expect_rc 0 "clone while mounted"
expect_out '^cloned src@s2 to c4 \(through hangarfs PID [0-9]+\): 3 files, .* copied' "the mounted clone is copied"
expect_err 'copying the data through the mount' "-v says why the mounted clone copies"
cmp "$WORK/explive/disk.raw" "$MNT/c4/disk.raw" || fail "c4/disk.raw is not src@s2's"
fs_umount
h check "$STORE"
expect_rc 0 "check after writing the clone"

log "--copy, and an encrypted store, copy the data"
h clone -v --copy "$STORE" src@s1 c3
expect_rc 0 "clone --copy"
expect_out '^cloned src@s1 to c3: 2 files, .* copied' "--copy copied"
h export "$STORE" c3 "$WORK/got3"
cmp "$WORK/exp1/disk.raw" "$WORK/got3/disk.raw" || fail "c3/disk.raw is not src@s1's"
(umask 077 && head -c 64 /dev/urandom >"$WORK/key")
h init "$XFS/estore" --encrypt --keyfile "$WORK/key"
expect_rc 0 "init an encrypted store on XFS"
h import "$XFS/estore" e --disk "$WORK/exp1/disk.raw" --keyfile "$WORK/key"
expect_rc 0 "import into the encrypted store"
h clone -v "$XFS/estore" e ec --keyfile "$WORK/key"
expect_rc 0 "clone in the encrypted store"
expect_out '^cloned e to ec: 1 file, .* copied' "the encrypted store copied"
expect_err 'the store is encrypted' "-v says why the encrypted store copies"
[ "$(uuid_slots "$XFS/estore/ec.hangar")" != "$(uuid_slots "$XFS/estore/e.hangar")" ] ||
	fail "the encrypted clone has its source's uuid"
h check "$XFS/estore" --keyfile "$WORK/key"
expect_rc 0 "check of the encrypted store"
echo "PASS"
