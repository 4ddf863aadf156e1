#!/bin/bash
# tests/security/many_guests.sh -- 2,000 guests under a 1,024-descriptor
# limit.
#
# Containers used to stay open forever: past ~1,000 guests every lookup
# failed with EMFILE and the control socket's accept loop spun at 100 % CPU.
# Now the store keeps a bounded number open (store.h), so `ls -l` of the
# mount and a stat of every guest work, the daemon's descriptors stay
# bounded, it does not spin, and `hangar create` through it still works.
. "$(dirname "$0")/../lib.bash"

fs_setup python3
GUESTS=${HANGAR_MANY_GUESTS:-2000}

log "$GUESTS guests (one created, the rest copies of its empty container)"
t "$HANGAR" create "$STORE" g0 >/dev/null || fail "hangar create g0"
python3 - "$STORE" "$GUESTS" <<'PY' || fail "copying guests"
import shutil, sys
store, n = sys.argv[1], int(sys.argv[2])
for i in range(1, n):
    shutil.copyfile(f"{store}/g0.hangar", f"{store}/g{i}.hangar")
PY

ulimit -n 1024 || skip "cannot set the descriptor limit"
fs_mount
start=$(date +%s%N)
t ls -l "$MNT" >"$WORK/ls.out" 2>"$WORK/ls.err"
rc=$?
lines=$(grep -c '^d' "$WORK/ls.out")
echo "ls -l of $GUESTS guests: rc $rc, $lines directories, $((($(date +%s%N) - start) / 1000000)) ms"
[ $rc -eq 0 ] && [ ! -s "$WORK/ls.err" ] || fail "ls -l: $(head -n 3 "$WORK/ls.err")"
[ "$lines" -eq "$GUESTS" ] || fail "ls -l shows $lines guests, not $GUESTS"

log "a stat and a lookup inside every guest"
python3 - "$MNT" "$GUESTS" <<'PY' || fail "stat of every guest"
import os, sys
mnt, n = sys.argv[1], int(sys.argv[2])
bad = 0
for i in range(n):
    try:
        os.stat(f"{mnt}/g{i}")
        os.listdir(f"{mnt}/g{i}")
    except OSError as e:
        bad += 1
        if bad < 4:
            print(f"g{i}: {e}", file=sys.stderr)
sys.exit(1 if bad else 0)
PY
fds=$(ls /proc/"$HFS_PID"/fd | wc -l)
echo "hangarfs holds $fds descriptors after touching $GUESTS guests"
[ "$fds" -lt 400 ] || fail "hangarfs holds $fds descriptors"

log "hangar create through the daemon, then the daemon is idle"
t "$HANGAR" create "$STORE" extra >/dev/null || fail "hangar create through the daemon"
ticks() { awk '{print $14 + $15}' /proc/"$HFS_PID"/stat; }
before=$(ticks)
sleep 2
used=$(($(ticks) - before))
hz=$(getconf CLK_TCK)
echo "hangarfs used $used ticks of CPU in 2 s (at $hz per second)"
[ "$used" -lt "$hz" ] || fail "hangarfs is busy while idle: $used ticks in 2 s"
fs_umount
echo "PASS"
