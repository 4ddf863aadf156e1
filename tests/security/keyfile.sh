#!/bin/bash
# tests/security/keyfile.sh -- a key file others can read (or that another
# user owns, so may have planted) is refused unless the caller insists.
#
# Attacks (4): (1) `hangar ls --keyfile K` with K mode 0644; (2) hangarfs
# -o keyfile=K with K mode 0640; (3) K owned by another user (mode 0600);
# (4) `hangar init --encrypt --keyfile K` with K world-readable (the new
# store's key would be readable by all).  Each is refused with the reason;
# `--keyfile-insecure` / `-o keyfile_insecure` accept it, and a private key
# file works without either.
. "$(dirname "$0")/../lib.bash"
fs_setup stat

E=$WORK/enc
key=$WORK/key
head -c 32 /dev/urandom >"$key"
chmod 600 "$key"
t "$HANGAR" init "$E" --encrypt --keyfile "$key" >/dev/null || fail "init with a private key"
t "$HANGAR" create "$E" g --disk 4M --keyfile "$key" >/dev/null || fail "create"

log "attack 1: a world-readable key file for hangar"
chmod 644 "$key"
expect_fail "accessible by group or others (mode 0644)" "$HANGAR" ls "$E" --keyfile "$key"
t "$HANGAR" ls "$E" --keyfile "$key" --keyfile-insecure >/dev/null ||
	fail "--keyfile-insecure does not accept it"

log "attack 2: a group-readable key file for hangarfs"
chmod 640 "$key"
expect_fail "accessible by group or others (mode 0640)" \
	"$HANGARFS" "$E" "$MNT" -f -o keyfile="$key"
mountpoint -q "$MNT" && fail "hangarfs mounted with an insecure key file"
STORE=$E
fs_mount -o keyfile="$key",keyfile_insecure
[ -f "$MNT/g/disk.raw" ] || fail "mount with keyfile_insecure"
fs_umount

log "attack 3: a key file owned by another user"
chmod 600 "$key"
if [ "$(id -u)" = 0 ]; then
	chown 65534 "$key"
	expect_fail "owned by uid 65534" "$HANGAR" ls "$E" --keyfile "$key"
	expect_fail "owned by uid 65534" "$HANGARFS" "$E" "$MNT" -f -o keyfile="$key"
	chown 0 "$key"
else
	echo "(attack 3 needs root to give the file away: not run)"
fi
t "$HANGAR" ls "$E" --keyfile "$key" >/dev/null || fail "a private key file refused"

log "attack 4: a new store's key file readable by all"
head -c 32 /dev/urandom >"$WORK/key2"
chmod 644 "$WORK/key2"
expect_fail "accessible by group or others" "$HANGAR" init "$WORK/enc2" --encrypt --keyfile "$WORK/key2"
[ -e "$WORK/enc2/.hangar-store" ] && fail "init made a store with an insecure key file"
echo "PASS: 4 attacks"
