#!/bin/bash
# tests/security/snapshots.sh -- snapshots leak nothing to another user.
#
# On an allow_other mount (default_permissions), a snapshot shows the guest
# directory's mode and owner and keeps each file's own: another user who
# may not enter the guest may not list, read, take or delete its snapshots;
# one who may read the guest directory still may not read a 0600 file of a
# snapshot (a saved memory image, nvram), nor take or delete snapshots; and
# the CLI run by that user changes nothing.
. "$(dirname "$0")/../lib.bash"

fs_setup setpriv
[ "$(id -u)" -eq 0 ] || skip "needs root (another user tries the snapshots)"
id hangartest >/dev/null 2>&1 || useradd -r -M -s /usr/sbin/nologin hangartest ||
	skip "cannot create user hangartest"
AS_OTHER=(setpriv --reuid hangartest --regid "$(id -g hangartest)" --clear-groups)

# the way to the mount is open; the guest itself decides
chmod 0711 "$WORK"
chmod 0755 "$STORE"
fs_mount -o allow_other
G=$MNT/web01
umask 022
mkdir "$G" || fail "mkdir guest" # bits for others dropped: 0750
[ "$(stat -c %a "$G")" = 750 ] || fail "guest mode $(stat -c %a "$G")"
echo "secret nvram" >"$G/nvram.fd"
chmod 0600 "$G/nvram.fd"
echo "name=web01" >"$G/config"
chmod 0644 "$G/config"
t mkdir "$G/.snapshots/s1" || fail "mkdir snapshot"

# other CMD... : run CMD as hangartest; print "denied", "ok" or the error.
other() {
	local out
	if out=$(timeout "$T" "${AS_OTHER[@]}" "$@" 2>&1); then
		echo ok
	elif [[ $out == *"Permission denied"* ]]; then
		echo denied
	else
		echo "$out"
	fi
}
expect_denied() { # WHAT CMD...
	local what=$1 got
	shift
	got=$(other "$@")
	[ "$got" = denied ] || fail "$what as another user: $got"
}

log "a guest closed to others: its snapshots are too"
expect_denied "ls .snapshots" ls "$G/.snapshots"
expect_denied "ls a snapshot" ls "$G/.snapshots/s1"
expect_denied "read a snapshot's file" cat "$G/.snapshots/s1/config"
expect_denied "mkdir a snapshot" mkdir "$G/.snapshots/x"
expect_denied "rmdir a snapshot" rmdir "$G/.snapshots/s1"

log "a guest others may read: a 0600 file of a snapshot stays closed"
chmod 0755 "$G"
[ "$(other ls "$G/.snapshots")" = ok ] || fail "ls .snapshots of an open guest: $(other ls "$G/.snapshots")"
[ "$(other cat "$G/.snapshots/s1/config")" = ok ] || fail "reading a 0644 file"
expect_denied "read a 0600 file of a snapshot" cat "$G/.snapshots/s1/nvram.fd"
expect_denied "mkdir a snapshot (no write permission)" mkdir "$G/.snapshots/x"
expect_denied "rmdir a snapshot (no write permission)" rmdir "$G/.snapshots/s1"

log "the CLI as another user changes nothing"
out=$(timeout "$T" "${AS_OTHER[@]}" "$HANGAR" snapshot delete "$STORE" web01 s1 2>&1) &&
	fail "hangar snapshot delete as another user succeeded: $out"
out=$(timeout "$T" "${AS_OTHER[@]}" "$HANGAR" rollback "$STORE" web01 s1 2>&1) &&
	fail "hangar rollback as another user succeeded: $out"
[ "$(ls "$G/.snapshots")" = s1 ] || fail "snapshots changed: $(ls "$G/.snapshots")"
[ "$(cat "$G/.snapshots/s1/nvram.fd")" = "secret nvram" ] || fail "snapshot content"
echo PASS
