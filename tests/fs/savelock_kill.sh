#!/bin/bash
# tests/fs/savelock_kill.sh -- SIGKILL of hangarfs during each save-lock
# transition (seal, rename away, rename back, resume, discard) leaves a
# state that obeys the save lock's first rule after remount: no image is
# ever resumable against a disk that moved on.
#
# Each round: a guest at a known state, the transition started on the
# mount, hangarfs SIGKILLed after a random 0-40 ms, `hangar check` clean,
# remount.  Then every way back is tried: write the disk, rename every
# image-like file onto memory.save, resume.  If the resume is accepted, the
# disk must hold exactly the bytes it held at the seal.
. "$(dirname "$0")/../lib.bash"
fs_setup getfattr python3 cmp
ROUNDS=${HANGAR_KILL_ROUNDS:-5}

kill_daemon() {
	kill -KILL "$HFS_PID" 2>/dev/null
	fs_wait_exit 10 || fail "hangarfs survived SIGKILL"
	timeout 30 fusermount3 -u "$MNT" 2>/dev/null || timeout 30 fusermount3 -u -z "$MNT"
	HFS_PID=
}
msleep() { python3 -c "import time; time.sleep($1 / 1000)"; }

# probe GUEST-DIR: try every revival; a resume that is accepted must find
# the disk as it was sealed ($WORK/at-seal)
probe() {
	local d=$1 g f
	g=$(basename "$d")
	dd if=/dev/urandom of="$d/disk.raw" bs=4k count=1 seek=5 conv=notrunc status=none 2>/dev/null
	for f in keep memory.save.stale memory.save.incomplete; do
		[ -e "$d/memory.save" ] && break
		[ -e "$d/$f" ] && mv "$d/$f" "$d/memory.save" 2>/dev/null
	done
	if timeout "$T" "$HANGAR" resume "$STORE" "$g" >/dev/null 2>&1; then
		cmp -s "$d/disk.raw" "$WORK/at-seal" ||
			fail "$g: resume accepted an image whose disk moved on"
		resumed=$((resumed + 1))
	else
		refused=$((refused + 1))
	fi
}

rounds=0 resumed=0 refused=0
fs_mount
for transition in seal away back resume discard; do
	for ((r = 0; r < ROUNDS; r++)); do
		g=$transition$r
		d=$MNT/$g
		mkdir "$d" || fail "mkdir $g"
		t dd if=/dev/urandom of="$d/disk.raw" bs=64k count=8 status=none || fail "disk"
		t cp "$d/disk.raw" "$WORK/at-seal"
		if [ "$transition" != seal ]; then
			t dd if=/dev/urandom of="$d/memory.save" bs=64k count=16 status=none || fail "save"
		fi
		if [ "$transition" = back ]; then
			t mv "$d/memory.save" "$d/keep" || fail "mv away"
			t dd if=/dev/urandom of="$d/disk.raw" bs=4k count=1 conv=notrunc status=none || fail "poke"
		fi
		case $transition in
		seal) (dd if=/dev/urandom of="$d/memory.save" bs=64k count=16 status=none) 2>/dev/null & ;;
		away) mv "$d/memory.save" "$d/keep" 2>/dev/null & ;;
		back) mv "$d/keep" "$d/memory.save" 2>/dev/null & ;;
		resume) "$HANGAR" resume "$STORE" "$g" >/dev/null 2>&1 & ;;
		discard) rm "$d/memory.save" 2>/dev/null & ;;
		esac
		op=$!
		msleep $((RANDOM % 41))
		kill_daemon
		wait "$op" 2>/dev/null
		out=$(t "$HANGAR" check "$STORE" 2>&1) || fail "check after a kill during $transition: $out"
		fs_mount
		probe "$d"
		rounds=$((rounds + 1))
	done
done
fs_umount
t "$HANGAR" check "$STORE" >/dev/null || fail "check at the end"
echo "PASS ($rounds kills during transitions; $resumed resumes accepted with the sealed disk, $refused refused)"
