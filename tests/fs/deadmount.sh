#!/bin/bash
# tests/fs/deadmount.sh -- mounts and unmounts as an operator meets them
# (mount discovery through libmount, cli/open.c and common/mounts.c):
#   - after a real SIGKILL of hangarfs its mount point is a dead endpoint
#     ("Transport endpoint is not connected"); `hangar mount` and hangarfs
#     itself detach it (lazy unmount) and mount again, with one log line
#     saying so, and the data committed before the kill is there;
#   - a dead endpoint of another FUSE file system is left alone, with a
#     clear refusal;
#   - `hangar umount` of a directory that is not mounted, of a path that does
#     not exist, and of a mount that is not hangarfs says so in its own words
#     (no relayed "fusermount3: ... Invalid argument"), exit status 1;
#   - as an unprivileged user (root only: it creates user hangartest), the
#     same recovery and `hangar umount` of the user's own mount go through
#     fusermount3, and root's mount is refused as another user's;
#   - `hangar mount --wait=SECONDS` waits for a store another `hangar`
#     command holds (and gives up after SECONDS, naming the holder), while
#     plain `hangar mount` fails at once.
. "$(dirname "$0")/../lib.bash"
fs_setup python3

HLOG=$WORK/mount.log # the daemons' log (-o log_file) of `hangar mount`s

# A dead endpoint is no mount point for mountpoint(1) (it cannot stat it),
# so the common cleanup would leave it: detach whatever is still listed.
detach_listed() {
	local m
	for m in "$@"; do
		grep -q " $m " /proc/self/mounts && timeout 30 fusermount3 -u -z "$m"
	done
}
at_exit detach_listed "$MNT" "$WORK/other"

# mount_daemon : `hangar mount` (daemon mode, log to HLOG); HFS_PID is the
# daemon, from the store lock.
mount_daemon() {
	t "$HANGAR" mount "$STORE" "$MNT" -o commit_interval=1,log_file="$HLOG" "$@" \
		>"$WORK/out" 2>"$WORK/err" || {
		cat "$WORK/err" >&2
		fail "hangar mount $*"
	}
	HFS_PID=$(flock_holder "$STORE" WRITE)
	[ -n "$HFS_PID" ] || fail "no daemon holds the store after hangar mount"
}

# kill_daemon : SIGKILL our hangarfs; MNT is left a dead endpoint.
kill_daemon() {
	kill -KILL "$HFS_PID"
	fs_wait_exit 10 || fail "hangarfs survived SIGKILL"
	HFS_PID=
	err=$(stat "$MNT" 2>&1) && fail "MNT answers after SIGKILL: $err"
	case "$err" in
	*"not connected"*) ;;
	*) fail "a dead hangarfs mount should say ENOTCONN, got: $err" ;;
	esac
}

log "SIGKILL, then hangar mount: the dead endpoint is detached, mounted again"
mount_daemon
mkdir "$MNT/web01" && echo before >"$MNT/web01/config" && sync "$MNT/web01/config" ||
	fail "write before the kill"
kill_daemon
mount_daemon
[ "$(cat "$MNT/web01/config")" = before ] || fail "data after recovery"
[ "$(grep -c " $MNT " /proc/self/mounts)" = 1 ] ||
	fail "stacked or leftover mounts at MNT: $(grep " $MNT " /proc/self/mounts)"
n=$(grep -c "dead hangarfs mount" "$HLOG")
[ "$n" = 1 ] || fail "expected one log line about the dead mount, got $n: $(cat "$HLOG")"
grep "dead hangarfs mount" "$HLOG" | grep -qF "$MNT" || fail "the line names no mount point"

log "SIGKILL, then hangarfs itself (foreground) recovers the same way"
kill_daemon
fs_mount
[ "$(cat "$MNT/web01/config")" = before ] || fail "data after hangarfs recovery"
expect_log "dead hangarfs mount"
fs_umount

log "a dead endpoint that is not hangarfs is not touched"
cat >"$WORK/deadfuse.py" <<'PY'
# Mount an empty FUSE file system at argv[1] and die without answering:
# fusermount3 mounts it, the kernel connection dies with the descriptor.
import os, socket, subprocess, sys
a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
env = dict(os.environ, _FUSE_COMMFD=str(b.fileno()))
subprocess.run(["fusermount3", "-o", "fsname=otherfs,subtype=otherfs", "--", sys.argv[1]],
               env=env, pass_fds=[b.fileno()], check=True)
msg, anc, _, _ = a.recvmsg(1, socket.CMSG_SPACE(4))
PY
other=$WORK/other
mkdir "$other"
t python3 "$WORK/deadfuse.py" "$other" || fail "dead FUSE mount"
case "$(stat "$other" 2>&1)" in *"not connected"*) ;; *) fail "the other mount is not dead" ;; esac
expect_fail "not a hangarfs mount" "$HANGARFS" "$STORE" "$other"
grep -q " $other fuse.otherfs " /proc/self/mounts || fail "the other dead mount was detached"

log "hangar umount: not mounted, missing, not hangarfs, dead"
mkdir "$WORK/plain"
expect_fail "$WORK/plain: not mounted" "$HANGAR" umount "$WORK/plain"
out=$("$HANGAR" umount "$WORK/plain" 2>&1)
case "$out" in *fusermount3* | *"Invalid argument"*) fail "raw fusermount3 error relayed: $out" ;; esac
expect_fail "$WORK/nonexistent: no such directory" "$HANGAR" umount "$WORK/nonexistent"
expect_fail "not a hangarfs mount" "$HANGAR" umount "$other"
grep -q " $other fuse.otherfs " /proc/self/mounts || fail "hangar umount unmounted another file system"
mount_daemon
(cd "$MNT" && exec sleep 60) &
busy=$!
OTHER_PIDS+=("$busy")
sleep 0.3
expect_fail "$MNT: busy: a process has a file open there" "$HANGAR" umount "$MNT"
mountpoint -q "$MNT" || fail "a busy mount was unmounted"
kill "$busy"
wait "$busy" 2>/dev/null
kill_daemon
t "$HANGAR" umount "$MNT" 2>"$WORK/err" || { cat "$WORK/err" >&2; fail "hangar umount of a dead mount"; }
mountpoint -q "$MNT" && fail "dead mount still there after hangar umount"
grep -q " $MNT " /proc/self/mounts && fail "dead mount still listed after hangar umount"

if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null &&
	{ id hangartest >/dev/null 2>&1 || useradd -r -M -s /usr/sbin/nologin hangartest; }; then
	log "as an unprivileged user: fusermount3 does the detaching"
	AS_USER=(setpriv --reuid=hangartest --regid="$(id -g hangartest)" --clear-groups)
	chmod 0711 "$WORK"
	mkdir "$WORK/user" && chown hangartest: "$WORK/user"
	ustore=$WORK/user/store umnt=$WORK/user/mnt
	at_exit detach_listed "$umnt"
	t "${AS_USER[@]}" "$HANGAR" init "$ustore" >/dev/null || fail "init as hangartest"
	mount_user() {
		t "${AS_USER[@]}" "$HANGAR" mount "$ustore" "$umnt" -o log_file="$WORK/user/log" \
			2>"$WORK/err" || { cat "$WORK/err" >&2; fail "hangar mount as hangartest"; }
		upid=$(flock_holder "$ustore" WRITE)
		[ -n "$upid" ] || fail "no daemon for hangartest's store"
		OTHER_PIDS+=("$upid")
	}
	mount_user
	t "${AS_USER[@]}" mkdir "$umnt/u1" || fail "mkdir as hangartest"
	kill -KILL "$upid"
	for i in $(seq 100); do kill -0 "$upid" 2>/dev/null || break; sleep 0.1; done
	mount_user
	t "${AS_USER[@]}" test -d "$umnt/u1" || fail "hangartest's guest after recovery"
	grep -q "dead hangarfs mount" "$WORK/user/log" || fail "no recovery line as hangartest"
	mount_daemon
	expect_fail "mounted by another user" "${AS_USER[@]}" "$HANGAR" umount "$MNT"
	t "$HANGAR" umount "$MNT" || fail "hangar umount as root"
	HFS_PID=
	t "${AS_USER[@]}" "$HANGAR" umount "$umnt" 2>"$WORK/err" ||
		{ cat "$WORK/err" >&2; fail "hangar umount as hangartest"; }
	grep -q " $umnt " /proc/self/mounts && fail "hangartest's mount still there"
	# umount returned once the daemon released the store; it exits next
	for i in $(seq 100); do kill -0 "$upid" 2>/dev/null || break; sleep 0.1; done
	kill -0 "$upid" 2>/dev/null && fail "hangartest's daemon still runs 10 s after umount"
else
	log "not root, or no user hangartest: the fusermount3 path is not tried"
fi

log "hangar mount --wait: waits for a busy store, plain mount does not"
# Another process holding the store lock (as a long `hangar import` does)
# for HOLD seconds.
HOLD=4
python3 -c 'import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECTORY)
fcntl.flock(fd, fcntl.LOCK_EX)
time.sleep(float(sys.argv[2]))' "$STORE" "$HOLD" &
HOLDER=$!
OTHER_PIDS+=("$HOLDER")
for i in $(seq 100); do
	[ "$(flock_holder "$STORE" WRITE)" = "$HOLDER" ] && break
	sleep 0.1
done
[ "$(flock_holder "$STORE" WRITE)" = "$HOLDER" ] || fail "the holder does not hold the store"
expect_fail "in use by PID $HOLDER" "$HANGAR" mount "$STORE" "$MNT"
start=$(date +%s.%N)
expect_fail "still in use by PID $HOLDER after 1 s" "$HANGAR" mount --wait=1 "$STORE" "$MNT"
python3 -c "import sys; sys.exit(0 if float(sys.argv[2]) - float(sys.argv[1]) >= 1 else 1)" \
	"$start" "$(date +%s.%N)" || fail "--wait=1 gave up early"
mountpoint -q "$MNT" && fail "mounted while the store was busy"
t "$HANGAR" mount --wait=60 "$STORE" "$MNT" -o log_file="$HLOG" 2>"$WORK/err" ||
	{ cat "$WORK/err" >&2; fail "hangar mount --wait"; }
grep -q "waiting for PID $HOLDER" "$WORK/err" || fail "--wait said nothing: $(cat "$WORK/err")"
kill -0 "$HOLDER" 2>/dev/null && fail "mounted before the holder let go"
HFS_PID=$(flock_holder "$STORE" WRITE)
[ "$(cat "$MNT/web01/config")" = before ] || fail "data after mount --wait"
t "$HANGAR" umount "$MNT" || fail "hangar umount"
HFS_PID=
echo PASS
