#!/bin/bash
# tests/cli/messages.sh -- the messages a new user found misleading, one
# check each: a write command on a read-only filesystem says so (not "store
# opened read-only"); a read command refused by permissions says permission,
# not "read-only"; --passphrase-fd of a closed descriptor names the
# descriptor (not "Bad file descriptor" about "passphrase"); `hangar init`
# refuses a directory that holds other files; `hangar export` creates DIR's
# missing parents; a refused cluster size is quoted as typed; a guest
# saved without a config says config=none, not "unchanged"; a mounted store
# is not a warning on every ls/status (tests/cli/mounted.sh checks that one).
source "$(dirname "$0")/../lib.bash"
cli_setup

h init store
expect_rc 0 "init"
h create store g --disk 1M
expect_rc 0 "create"

# ---- cluster size quoted as typed -------------------------------------------
h init s2 --cluster-size 3K
expect_rc 2 "cluster size 3K"
expect_err "not '3K'" "cluster size quoted as typed"
h init s2 --cluster-size 5000
expect_rc 2 "cluster size 5000"
expect_err "not '5000'" "cluster size 5000 quoted as typed"
[ ! -e s2 ] || fail "a refused init created s2"

# ---- init on a directory that is not empty -------------------------------
mkdir full
echo precious >full/notes.txt
h init full
expect_rc 1 "init of a directory with other files"
expect_err "^hangar: full: not empty" "init refuses a non-empty directory"
[ ! -e full/.hangar-store ] || fail "init made a store among other files"
mkdir empty
h init empty
expect_rc 0 "init of an existing empty directory"
mkdir -p fresh/lost+found
h init fresh
expect_rc 0 "init of a fresh filesystem's root (only lost+found)"

# ---- export creates DIR's parents --------------------------------------------
h export store g out/deep/dir
expect_rc 0 "export into a directory whose parents are missing"
[ -f out/deep/dir/disk.raw ] || fail "export did not write out/deep/dir/disk.raw"
echo x >afile
h export store g afile/sub
expect_rc 1 "export under a regular file"
expect_err "afile: not a directory" "export under a file names the file"

# ---- --passphrase-fd of a closed descriptor ------------------------------------
exec 9<&-
h ls store --passphrase-fd 9
expect_rc 1 "ls --passphrase-fd 9 (closed)"
expect_err "descriptor 9 is not open" "closed passphrase descriptor"
grep -q "Bad file descriptor" "$ERR" && fail "raw EBADF text: $(cat "$ERR")"

# ---- permissions: a read command never says "read-only" ------------------------
if [ "$(id -u)" = 0 ] && command -v runuser >/dev/null; then
	id hangartest >/dev/null 2>&1 || useradd -r -M hangartest ||
		fail "useradd hangartest"
	chmod 711 "$WORK"
	chmod 700 store
	for cmd in "ls store" "status store g" "check store"; do
		# shellcheck disable=SC2086
		out=$(timeout "$T" runuser -u hangartest -- "$HANGAR" $cmd 2>&1) &&
			fail "$cmd as another user worked: $out"
		case "$out" in
		*read-only*) fail "$cmd: says read-only that nobody asked for: $out" ;;
		*"permission denied"*) ;;
		*) fail "$cmd: does not say permission denied: $out" ;;
		esac
	done
	chmod 755 store
	out=$(timeout "$T" runuser -u hangartest -- "$HANGAR" create store g2 --disk 1M 2>&1) &&
		fail "create as another user worked: $out"
	case "$out" in
	*"permission denied"*) ;;
	*) fail "create as another user: $out" ;;
	esac
else
	log "not root: permission checks skipped"
fi

# ---- a write command on a read-only filesystem ---------------------------------
if [ "$(id -u)" = 0 ] && mkdir ro && mount --bind "$WORK/store" ro 2>/dev/null; then
	at_exit "mountpoint -q $WORK/ro && umount $WORK/ro"
	mount -o remount,bind,ro "$WORK/ro" || fail "remount ro"
	h create ro g3 --disk 1M
	expect_rc 1 "create on a read-only filesystem"
	expect_err "cannot change the store: it is on a read-only filesystem" "create on a read-only filesystem says why"
	grep -q "store opened read-only\|a read-only open" "$ERR" &&
		fail "create on a read-only fs blames a read-only open: $(cat "$ERR")"
	h ls ro
	expect_rc 0 "ls on a read-only filesystem"
	umount "$WORK/ro"
else
	log "cannot bind-mount here: read-only filesystem check skipped"
fi

# ---- config=none for a guest saved without a config ----------------------------
if [ -c /dev/fuse ] && [ -n "${HANGARFS:-}" ] && command -v getfattr >/dev/null; then
	mnt=$WORK/mnt
	unmount_at_exit "$mnt"
	h mount store "$mnt"
	expect_rc 0 "mount"
	wait_mounted "$mnt"
	t dd if=/dev/zero of="$mnt/g/memory.save" bs=64k count=2 status=none
	saved=$(getfattr --absolute-names --only-values -n user.hangar.saved "$mnt/g")
	case "$saved" in
	*"config=none"*) ;;
	*) fail "user.hangar.saved of a guest without a config: $saved" ;;
	esac
	h umount "$mnt"
	expect_rc 0 "umount"
	h status store g
	expect_rc 0 "status of the saved guest"
	expect_out "^config +none" "status: no config"
	grep -q "unchanged since the save" "$OUT" &&
		fail "status says an absent config is unchanged: $(cat "$OUT")"
else
	log "no FUSE: config=none check skipped"
fi
echo "PASS"
