#!/bin/bash
# tests/fs/encrypted.sh -- an encrypted store through hangarfs: mount with
# -o keyfile=, a known pattern written through the mount is nowhere in the
# container file, it reads back after a remount (also with passphrase_fd=),
# a wrong key or no key is refused at once and mounts nothing, a disk
# rewritten fast grows its container by a bounded slack, not by copies of
# itself, and the save lock works the same on an encrypted guest.
. "$(dirname "$0")/../lib.bash"
fs_setup python3 grep

PATTERN=HANGAR-KNOWN-PLAINTEXT-7f3a9c
CONFIG_WORD=CONFIG-KNOWN-STRING-51d2
KEY=$WORK/key
rm -rf "$STORE"
head -c 64 /dev/urandom >"$KEY"
head -c 64 /dev/urandom >"$WORK/wrongkey"
chmod 600 "$KEY" "$WORK/wrongkey"  # key files must be private
t "$HANGAR" init "$STORE" --encrypt --keyfile "$KEY" >/dev/null ||
	fail "hangar init --encrypt"

log "mount with the keyfile, write a disk with a pattern"
fs_mount -o keyfile="$KEY"
expect_log "mounted $(realpath "$STORE")"
mkdir "$MNT/web01" || fail "mkdir"
G=$MNT/web01
t truncate -s 8M "$G/disk.raw" || fail "truncate disk"
t python3 -c "
import os
p = b'$PATTERN' * (1 << 20 // len('$PATTERN'))
with open('$G/disk.raw', 'r+b') as f:
    f.seek(1 << 20); f.write(p[:2 << 20]); f.flush(); os.fsync(f.fileno())" ||
	fail "write pattern"
echo "memory=512 $CONFIG_WORD" >"$G/config" || fail "write config"
sum=$(t sha256sum <"$G/disk.raw" | cut -d' ' -f1)
fs_umount

log "the container file holds none of the plaintext"
C=$STORE/web01.hangar
[ -s "$C" ] || fail "no container file $C"
n=$(grep -c -a -- "$PATTERN" "$C")
[ "$n" = 0 ] || fail "pattern found $n times in $C"
n=$(grep -c -a -- "$CONFIG_WORD" "$C")
[ "$n" = 0 ] || fail "config string found $n times in $C"
n=$(grep -c -a -- "web01\|disk.raw" "$C")
[ "$n" = 0 ] || fail "object names found in clear in $C"

log "remount with the keyfile: reads back"
fs_mount -o keyfile="$KEY"
[ "$(t sha256sum <"$G/disk.raw" | cut -d' ' -f1)" = "$sum" ] ||
	fail "disk differs after remount"
grep -q "$CONFIG_WORD" "$G/config" || fail "config lost"
fs_umount

log "wrong key, no key, unreadable key file: refused at once, nothing mounted"
before=$(sha256sum <"$C")
for mode in -f ""; do
	expect_fail "hangarfs: $(realpath "$STORE"): wrong passphrase or key file" \
		"$HANGARFS" "$STORE" "$MNT" $mode -o keyfile="$WORK/wrongkey"
	mountpoint -q "$MNT" && fail "mounted with a wrong key ($mode)"
	expect_fail "is encrypted: give -o keyfile=FILE or -o passphrase_fd=N" \
		"$HANGARFS" "$STORE" "$MNT" $mode </dev/null
	mountpoint -q "$MNT" && fail "mounted with no key ($mode)"
done
expect_fail "cannot read the key" \
	"$HANGARFS" "$STORE" "$MNT" -f -o keyfile="$WORK/nonexistent"
mountpoint -q "$MNT" && fail "mounted with a missing key file"
[ "$(sha256sum <"$C")" = "$before" ] || fail "a refused mount changed $C"

log "a passphrase store mounts with -o passphrase_fd=N"
P=$WORK/pstore
t "$HANGAR" init "$P" --encrypt --passphrase-fd 3 3<<<"correct horse" \
	>/dev/null || fail "init passphrase store"
"$HANGARFS" "$P" "$MNT" -o passphrase_fd=3 3<<<"wrong horse" 2>"$WORK/err" &&
	fail "wrong passphrase accepted"
grep -q "wrong passphrase or key file" "$WORK/err" || fail "message: $(cat "$WORK/err")"
mountpoint -q "$MNT" && fail "mounted with a wrong passphrase"
"$HANGARFS" "$P" "$MNT" -f -o passphrase_fd=3 3<<<"correct horse" \
	>>"$HFS_LOG" 2>&1 &
HFS_PID=$!
for ((i = 0; i < 100; i++)); do
	mountpoint -q "$MNT" && break
	kill -0 "$HFS_PID" 2>/dev/null || fail "hangarfs exited at mount"
	sleep 0.1
done
mountpoint -q "$MNT" || fail "not mounted with passphrase_fd"
mkdir "$MNT/p1" || fail "mkdir in passphrase store"
fs_umount

log "a disk rewritten fast, no background commit: the container grows by the cow_slack, not by copies of the disk"
# Every encrypted write is copy-on-write; the old clusters can be reused
# only after a commit (core/alloc.c invariant 11), and a RAW one after
# the commit after that.  192 MiB written, then rewritten twice, an fsync
# after each pass: without the limit the file holds three copies (576
# MiB); with -o cow_slack=64M, the disk, about two slacks and what was
# written while the commit ran (bounded here by a third).  The tick
# is a day away, so the commits come from the writes that crossed the
# slack, through the store's committer.
fs_mount -o keyfile="$KEY" -o commit_interval=86400 -o cow_slack=64M
mkdir "$MNT/web02" || fail "mkdir web02"
D=$MNT/web02/disk.raw
t python3 -c "
import os
blk = os.urandom(1 << 20)
with open('$D', 'wb') as f:
    for p in range(3):
        f.seek(0)
        for i in range(192):
            f.write(blk[p:] + blk[:p])
        f.flush(); os.fsync(f.fileno())" || fail "rewrite web02's disk"
size=$(stat -c %s "$STORE/web02.hangar")
log "container after 576 MiB written to a 192 MiB disk: $((size >> 20)) MiB"
[ "$size" -le $(((192 + 3 * 64 + 32) << 20)) ] ||
	fail "container grew to $((size >> 20)) MiB"
fs_umount

log "the save lock works the same on an encrypted guest"
fs_mount -o keyfile="$KEY"
t dd if=/dev/urandom of="$G/memory.save" bs=1M count=2 status=none ||
	fail "dd memory.save"
[ "$(getfattr --absolute-names --only-values -n user.hangar.state "$G" 2>/dev/null ||
	python3 -c "import os; print(os.getxattr('$G', 'user.hangar.state').decode())")" = saved ] ||
	fail "state not saved"
expect_fail "Device or resource busy" \
	dd if=/dev/zero of="$G/disk.raw" bs=4k count=1 conv=notrunc status=none
[ "$(errno_of "os.open('$G/disk.raw', os.O_RDWR)")" = EBUSY ] ||
	fail "read-write open of a saved guest's disk"
rm "$G/memory.save" || fail "discard"
t dd if=/dev/zero of="$G/disk.raw" bs=4k count=1 conv=notrunc status=none ||
	fail "write after discard"
fs_umount
echo "PASS"
