#!/bin/bash
# tests/fs/map_cache.sh -- the daemon's memory is bounded by -o cache_size,
# not by the disk: a 16 TiB sparse disk.raw gets N 4 KiB writes spread at
# random (nearly each one in its own 128 MiB map leaf), the store is
# remounted with -o cache_size=16M, everything is read back and checked,
# and hangarfs's VmRSS must stay under the budget + 48 MiB.
#
# Before the map cache every open guest kept its whole map in memory: 48 KB
# of decoded entries per touched leaf, so 3,000 writes held about 140 MiB
# after the remount (and 22,100 writes 986 MB, issue 18).  Now a leaf is
# loaded on demand and clean leaves are evicted past the budget.
# HANGAR_TEST_CACHE_OPT overrides the mount option (empty: none, to run
# this against a hangarfs without it).
. "$(dirname "$0")/../lib.bash"

fs_setup python3
WRITES=${HANGAR_MAP_CACHE_WRITES:-3000}
CACHE_OPT=${HANGAR_TEST_CACHE_OPT-cache_size=16M}
BUDGET_MB=16
opts=()
[ -n "$CACHE_OPT" ] && opts=(-o "$CACHE_OPT")

fs_mount
mkdir "$MNT/vm" || fail "mkdir vm"
t truncate -s 16T "$MNT/vm/disk.raw" || fail "truncate -s 16T"

log "$WRITES random 4 KiB writes over 16 TiB"
t python3 - "$MNT/vm/disk.raw" "$WRITES" "$WORK/offsets" <<'EOF' || fail "random writes"
import os, random, sys
path, n, listing = sys.argv[1], int(sys.argv[2]), sys.argv[3]
rng = random.Random(18)
blocks = (16 << 40) // 4096
offs = sorted({rng.randrange(blocks) * 4096 for _ in range(n)})
fd = os.open(path, os.O_WRONLY)
for off in offs:
    os.pwrite(fd, off.to_bytes(8, "little") * 512, off)
os.fsync(fd)
os.close(fd)
with open(listing, "w") as f:
    f.write("\n".join(map(str, offs)))
EOF
fs_umount

log "remount ${CACHE_OPT:-without a cache option}, read everything back"
# Under ASan freed memory waits in a quarantine (256 MiB by default), which
# RSS would count: keep it small for this daemon, and allow ASan's shadow
asan=0
ldd "$HANGARFS" 2>/dev/null | grep -q 'libasan' && asan=1
if [ "$asan" = 1 ]; then
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=4" fs_mount "${opts[@]}"
else
	fs_mount "${opts[@]}"
fi
t python3 - "$MNT/vm/disk.raw" "$WORK/offsets" <<'EOF' || fail "read back"
import os, sys
path, listing = sys.argv[1], sys.argv[2]
offs = [int(x) for x in open(listing).read().split()]
fd = os.open(path, os.O_RDONLY)
for off in offs:
    got = os.pread(fd, 4096, off)
    if got != off.to_bytes(8, "little") * 512:
        sys.exit("wrong bytes at offset %d" % off)
    # a neighbour in the same leaf, never written: zeros
    if os.pread(fd, 8, off + 4096) not in (b"\0" * 8, (off + 4096).to_bytes(8, "little")):
        sys.exit("wrong bytes after offset %d" % off)
os.close(fd)
EOF
rss_kb=$(awk '/^VmRSS:/ {print $2}' /proc/"$HFS_PID"/status)
limit_mb=$((BUDGET_MB + 48))
[ "$asan" = 1 ] && limit_mb=$((limit_mb + 96))
echo "$WRITES writes on a 16 TiB disk, remounted ${CACHE_OPT:-without cache_size}: hangarfs RSS $((rss_kb / 1024)) MiB after reading back (limit $limit_mb MiB)"
[ "$rss_kb" -lt $((limit_mb * 1024)) ] ||
	fail "hangarfs RSS is $((rss_kb / 1024)) MiB (limit $limit_mb MiB)"
fs_umount
t "$HANGAR" check "$STORE" >"$WORK/check.out" 2>&1 ||
	fail "hangar check: $(tail -n 5 "$WORK/check.out")"
echo "ok"
