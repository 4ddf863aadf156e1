#!/bin/bash
# tests/cli/wait.sh -- `hangar --wait[=SECONDS] COMMAND`: a command that
# changes a store another process holds without serving a mount of it (a
# long `hangar import`, here a python3 flock on the store directory exactly
# as core takes the store lock) fails at once without --wait; with
# --wait=1 it fails after a second naming the holder's PID; with --wait=10
# it says once which PID it waits for and succeeds once the holder lets go.
# A reader's shared lock (a long export) is waited for too; a mounted
# store is not (the command goes through hangarfs at once).  Bad SECONDS
# are a usage error.
source "$(dirname "$0")/../lib.bash"
cli_setup

h init st
expect_rc 0 "init"

# hold_store MODE SECONDS : hold the store lock (LOCK_EX or LOCK_SH) in the
# background for SECONDS; HOLDER is its PID, killed at exit if still there.
hold_store() {
	python3 -c 'import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECTORY)
fcntl.flock(fd, getattr(fcntl, sys.argv[2]))
time.sleep(float(sys.argv[3]))' "$WORK/st" "$1" "$2" &
	HOLDER=$!
	at_exit "kill $HOLDER 2>/dev/null || true"
	local want=WRITE
	[ "$1" = LOCK_SH ] && want=READ
	for _ in $(seq 100); do
		[ "$(flock_holder "$WORK/st" "$want")" = "$HOLDER" ] && return 0
		sleep 0.1
	done
	fail "the holder does not hold the store"
}

log "a writer holds the store"
hold_store LOCK_EX 4
start=$(date +%s.%N)
h create st g1 --disk 1M
expect_rc 1 "create without --wait"
expect_err "in use by python3 PID $HOLDER" "create without --wait names the holder"
h --wait=1 create st g1 --disk 1M
expect_rc 1 "create --wait=1"
expect_err "still in use by PID $HOLDER after 1 s" "--wait=1 names the holder"
python3 -c "import sys; sys.exit(0 if float(sys.argv[2]) - float(sys.argv[1]) >= 1 else 1)" \
	"$start" "$(date +%s.%N)" || fail "--wait=1 gave up early"
[ -e st/g1.hangar ] && fail "g1 created while the store was busy"
h --wait=10 create st g2 --disk 1M
expect_rc 0 "create --wait=10"
[ "$(grep -c "waiting for PID $HOLDER to release it" "$ERR")" = 1 ] ||
	fail "--wait did not say once whom it waits for: $(cat "$ERR")"
kill -0 "$HOLDER" 2>/dev/null && fail "created before the holder let go"
[ -f st/g2.hangar ] || fail "g2 not created"

log "a reader holds the store (a long export)"
hold_store LOCK_SH 2
h --wait rm st g2
expect_rc 0 "rm --wait (no limit)"
expect_err "waiting for another process to release it" "--wait says it waits for a reader"
kill -0 "$HOLDER" 2>/dev/null && fail "removed before the reader let go"
[ -e st/g2.hangar ] && fail "g2 not removed"

log "a mounted store is not waited for: the command goes through hangarfs"
if [ -c /dev/fuse ] && command -v fusermount3 >/dev/null &&
	[ -n "${HANGARFS:-}" ] && [ -x "$HANGARFS" ]; then
	unmount_at_exit "$WORK/mnt"
	h mount st "$WORK/mnt"
	expect_rc 0 "mount"
	wait_mounted "$WORK/mnt"
	h --wait=1 create st g3 --disk 1M
	expect_rc 0 "create --wait=1 on a mounted store"
	grep -q waiting "$ERR" && fail "--wait waited for the daemon: $(cat "$ERR")"
	[ -f "$WORK/mnt/g3/disk.raw" ] || fail "g3 not on the mount"
	h umount "$WORK/mnt"
	expect_rc 0 "umount"
else
	log "no FUSE here: the mounted case is not tried"
fi

log "SECONDS is checked"
h --wait=soon ls st
expect_rc 2 "--wait=soon"
expect_err "a whole number of seconds" "--wait=soon message"
echo PASS
