#!/bin/bash
# tests/security/readonly_cmds.sh -- commands that read change nothing.
#
# Attacks (2 stores x 6 commands = 12): `hangar ls`, `ls --json`, `status`,
# `status --json`, `check` and `export` on an unmounted plain store and on
# an unmounted encrypted store must leave every file of the store byte for
# byte identical, with the same size and mtime (mtime-based backups must
# see nothing to copy), and must not take the write lock.  A guest with a
# saved memory image and one with an unsealed image (a writer died) are
# included: a read-write open would set the latter aside and commit.
. "$(dirname "$0")/../lib.bash"
fs_setup sha256sum stat

# snapshot DIR: every file's name, size, mtime and bytes.
snapshot() {
	local f
	for f in "$1"/* "$1"/.hangar*; do
		[ -f "$f" ] || continue
		echo "$(basename "$f") $(stat -c '%s %Y.%y' "$f") $(sha256sum <"$f")"
	done
}

key=$WORK/key
head -c 32 /dev/urandom >"$key"
chmod 600 "$key"
E=$WORK/enc
t "$HANGAR" init "$E" --encrypt --keyfile "$key" >/dev/null || fail "init encrypted"

for S in "$STORE" "$E"; do
	kopt=()
	[ "$S" = "$E" ] && kopt=(--keyfile "$key")
	log "store $S: guests, data, a saved image, an unsealed image"
	t "$HANGAR" create "$S" web --disk 8M "${kopt[@]}" >/dev/null || fail "create"
	t "$HANGAR" create "$S" db --disk 8M "${kopt[@]}" >/dev/null || fail "create db"
	STORE=$S
	if [ "$S" = "$E" ]; then fs_mount -o keyfile="$key"; else fs_mount; fi
	head -c 1M /dev/urandom | dd of="$MNT/web/disk.raw" conv=notrunc,fsync status=none
	head -c 256K /dev/urandom >"$MNT/web/memory.save" # saved: seals at close
	head -c 64K /dev/urandom | dd of="$MNT/db/disk.raw" conv=notrunc,fsync status=none
	# an image whose writer dies with the daemon: unsealed on disk
	python3 -c '
import os, sys, time
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT, 0o600)
os.write(fd, os.urandom(65536)); os.fsync(fd); time.sleep(60)' "$MNT/db/memory.save" &
	IMGW=$!
	sleep 1.5 # the fsync committed the unsealed image
	kill -KILL "$HFS_PID"
	fs_wait_exit 10 || fail "hangarfs did not die"
	kill "$IMGW"
	wait "$IMGW" 2>/dev/null
	timeout 30 fusermount3 -u "$MNT" 2>/dev/null || timeout 30 fusermount3 -u -z "$MNT"
	HFS_PID=
	sleep 1.1 # a changed mtime would show in %Y
	before=$(snapshot "$S")
	for spec in "ls" "ls --json" "status web" "status db --json" "check" \
		"export web $WORK/out"; do
		read -r -a words <<<"$spec"
		rm -rf "$WORK/out"
		t "$HANGAR" "${words[0]}" "$S" "${words[@]:1}" "${kopt[@]}" \
			>"$WORK/cmd.log" 2>&1
		after=$(snapshot "$S")
		[ "$after" = "$before" ] ||
			fail "hangar $spec changed the store $S:
before: $before
after:  $after
output: $(cat "$WORK/cmd.log")"
	done
	[ -f "$WORK/out/disk.raw" ] || fail "export wrote nothing"
done
echo "PASS: 12 attacks"
