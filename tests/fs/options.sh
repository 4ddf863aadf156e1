#!/bin/bash
# tests/fs/options.sh -- every numeric -o option of hangarfs has a range
# and a clear refusal: commit_interval (0..86400 seconds) and passphrase_fd
# (0..2147483647).  A value out of range or not a whole number ("-1" used
# to be read as 4294967295: "commit every 4294967295s") fails before
# anything is mounted, names the option, the value and the range; the
# ends of each range are accepted.  The size options (cache_size,
# cow_slack) refuse what is not a size, naming it.  `--list-options` (for
# the completion) names each of them.
source "$(dirname "$0")/../lib.bash"
fs_setup

# refused OPTION=VALUE REASON
refused() {
	local out rc=0
	# A refusal is immediate; a daemon that mounted anyway is stopped
	# by the timeout (SIGTERM unmounts) and reported.
	out=$(timeout 5 "$HANGARFS" "$STORE" "$MNT" -f -o "$1" 2>&1) || rc=$?
	[ "$rc" != 124 ] || fail "-o $1 was accepted and mounted: $out"
	[ "$rc" != 0 ] || fail "-o $1 was accepted"
	case "$out" in
	*"-o $1: $2 ("*")"*) ;;
	*) fail "-o $1: expected '-o $1: $2 (RANGE)', got: $out" ;;
	esac
}
refused commit_interval=-1 "not a whole number"
refused commit_interval=86401 "out of range"
refused commit_interval=4294967296 "out of range"
refused commit_interval=5s "not a whole number"
refused commit_interval= "not a whole number"
refused passphrase_fd=-1 "not a whole number"
refused passphrase_fd=3x "not a whole number"
refused passphrase_fd=2147483648 "out of range"
out=$(timeout 5 "$HANGARFS" "$STORE" "$MNT" -f -o commit_interval=-1 2>&1) || true
grep -qF '(0 to 86400 seconds)' <<<"$out" || fail "the refusal does not name the range: $out"

# The ends of the range mount (fs_mount adds commit_interval=1 first; a
# later value wins).
for v in 0 86400; do
	fs_mount -o commit_interval=$v
	expect_log "(commit every ${v}s)"
	fs_umount
done

# The size options: a value that is not a size is refused, naming it.
for o in cow_slack=12Q cow_slack= cache_size=1.5.5G; do
	rc=0
	out=$(timeout 5 "$HANGARFS" "$STORE" "$MNT" -f -o "$o" 2>&1) || rc=$?
	[ "$rc" != 124 ] && [ "$rc" != 0 ] || fail "-o $o was accepted: $out"
	grep -qF -- "-o $o: " <<<"$out" || fail "-o $o: refusal does not name it: $out"
done

opts=$("$HANGARFS" --list-options) || fail "hangarfs --list-options"
for o in commit_interval= passphrase_fd= keyfile= keyfile_insecure ro allow_other cache_size= cow_slack=; do
	grep -qxF -- "$o" <<<"$opts" || fail "--list-options lacks $o"
done
echo "PASS"
