#!/bin/bash
# tests/fs/killloop.sh -- SIGKILL hangarfs at random moments while a writer
# does O_DSYNC writes (each one durable when it returns), then remount and
# check: the container is clean (`hangar check`, no repair) and every write
# that completed before the kill reads back; a write in flight at the kill
# reads as its old or its new contents.  HANGAR_KILL_LOOPS sets the number
# of kills (default 100).
#
# Then the same under fio itself: HANGAR_FIO_KILLS
# rounds (default 20) of fio randwrite with sync=1 and verify=crc32c,
# verify_state_save=1, hangarfs SIGKILLed under it; fio dies on the dead
# mount and saves which writes completed; after a remount, fio
# --verify_only --verify_state_load=1 reads every one of them back.
. "$(dirname "$0")/../lib.bash"
fs_setup python3 fio

LOOPS=${HANGAR_KILL_LOOPS:-100}
FIO_KILLS=${HANGAR_FIO_KILLS:-20}
fs_mount
mkdir "$MNT/web01" || fail "mkdir"
D=$MNT/web01/disk.raw
t truncate -s 16M "$D" || fail "truncate"
fs_umount
JOURNAL=$WORK/journal

# writer ROUND : random 4 KiB O_DSYNC writes into disk.raw until the mount
# dies; "B off round seq" before each write, "E off round seq" after it.
writer() {
	timeout "$T" python3 - "$D" "$JOURNAL" "$1" <<'PY'
import os, random, sys
path, journal, rnd = sys.argv[1], sys.argv[2], int(sys.argv[3])
j = open(journal, "a")
fd = os.open(path, os.O_RDWR | os.O_DSYNC)
rng = random.Random(rnd)
seq = 0
while True:
    off = rng.randrange(4096) * 4096
    rec = (b"%08d %08d %010d " % (rnd, seq, off)).ljust(4096, b"x")
    j.write("B %d %d %d\n" % (off, rnd, seq)); j.flush()
    try:
        if os.pwrite(fd, rec, off) != 4096:
            break
    except OSError:
        break
    j.write("E %d %d %d\n" % (off, rnd, seq)); j.flush()
    seq += 1
PY
}

verify() {
	timeout "$T" python3 - "$D" "$JOURNAL" <<'PY'
import os, sys
path, journal = sys.argv[1], sys.argv[2]
done, inflight = {}, {}
for line in open(journal):
    kind, off, rnd, seq = line.split()
    rec = (b"%08d %08d %010d " % (int(rnd), int(seq), int(off))).ljust(4096, b"x")
    off = int(off)
    if kind == "B":
        inflight.setdefault(off, []).append(rec)
    else:
        done[off] = rec
        inflight[off] = []
fd = os.open(path, os.O_RDONLY)
bad = 0
for off in set(done) | set(inflight):
    got = os.pread(fd, 4096, off)
    ok = [done[off]] if off in done else [b"\0" * 4096]
    ok += inflight.get(off, [])
    if got not in ok:
        bad += 1
        print("offset %d: got %r" % (off, got[:40]))
print("%d offsets checked, %d bad" % (len(set(done) | set(inflight)), bad))
sys.exit(1 if bad else 0)
PY
}

for ((round = 1; round <= LOOPS; round++)); do
	fs_mount
	writer "$round" &
	wpid=$!
	sleep "0.$((RANDOM % 9 + 1))"
	kill -KILL "$HFS_PID"
	fs_wait_exit 10 || fail "hangarfs survived SIGKILL"
	HFS_PID=
	wait "$wpid"
	timeout 30 fusermount3 -u "$MNT" || timeout 30 fusermount3 -u -z "$MNT"
	out=$(t "$HANGAR" check "$STORE") || fail "round $round: check: $out"
	fs_mount
	out=$(verify) || fail "round $round: verify: $out"
	fs_umount
	[ $((round % 10)) = 0 ] &&
		log "$round kills: clean; $(grep -c "^E" "$JOURNAL") completed writes, all read back"
done

# fio_kill ROUND ARGS... : the fio job of one round (same job, same seed for
# the write run and the verify run, so the verify regenerates the offsets).
fio_kill() {
	local round=$1
	shift
	timeout "$T" fio --name=kill --filename="$D" --rw=randwrite --bs=4k \
		--ioengine=psync --size=16M --randseed="$round" \
		--verify=crc32c --verify_fatal=1 "$@"
}
mkdir "$WORK/fio" && cd "$WORK/fio" || fail "cd fio"  # the state file lands here
for ((round = 1; round <= FIO_KILLS; round++)); do
	rm -f ./*verify.state
	fs_mount
	before=$(stat -c %y "$D") || fail "stat"
	sleep 0.01 # so the first write's mtime differs from `before`
	fio_kill "$round" --sync=1 --do_verify=0 --verify_state_save=1 \
		--time_based --runtime=60 --output="$WORK/fio/write.out" &
	fpid=$!
	# kill only once fio is writing (its first writes move the disk's
	# mtime), then at a random moment within the next second
	for ((i = 0; i < 200; i++)); do
		[ "$(stat -c %y "$D")" != "$before" ] && break
		kill -0 "$fpid" 2>/dev/null || break
		sleep 0.05
	done
	[ "$(stat -c %y "$D")" != "$before" ] ||
		fail "fio round $round: fio wrote nothing in 10 s: $(cat write.out)"
	sleep "0.$((RANDOM % 9 + 1))"
	kill -KILL "$HFS_PID"
	fs_wait_exit 10 || fail "fio round $round: hangarfs survived SIGKILL"
	HFS_PID=
	if wait "$fpid"; then
		fail "fio round $round: fio finished although the mount died"
	fi
	ls ./*verify.state >/dev/null 2>&1 ||
		fail "fio round $round: fio saved no verify state: $(tail -3 write.out)"
	timeout 30 fusermount3 -u "$MNT" || timeout 30 fusermount3 -u -z "$MNT"
	out=$(t "$HANGAR" check "$STORE") || fail "fio round $round: check: $out"
	fs_mount
	fio_kill "$round" --verify_only=1 --verify_state_load=1 \
		--output="$WORK/fio/verify.out" ||
		fail "fio round $round: a completed write did not read back: $(cat verify.out)"
	done_kib=$(sed -n 's/.*issued rwts: total=0,\([0-9]*\),.*/\1/p' write.out)
	fs_umount
	[ $((round % 5)) = 0 ] &&
		log "fio: $round kills: clean; round $round had ${done_kib:-?} writes issued, every completed one verified"
done
cd "$WORK" || fail "cd"
echo PASS
