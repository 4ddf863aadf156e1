#!/bin/bash
# contrib/bench/map_cache.sh -- the map cache (core/map.c, "Cache"): the
# daemon's memory for a 16 TiB sparse disk written at random, and 4 KiB
# random-read IOPS when the map fits the cache and when it thrashes.
#
#   contrib/bench/map_cache.sh [WRITES]          (default 22100, issue 18)
#
# Environment: HANGAR_BUILD_DIR (default ./build of this repository; built
# with cmake when hangarfs or hangar is missing), BENCH_DIR (scratch
# directory, default a new one under /var/tmp; removed at the end),
# BENCH_CACHE (the small budget, default 16M), BENCH_FIO_SECONDS (each fio
# run, default 20), BENCH_KEEP=1 keeps the scratch directory.
#
# Steps:
#   write      a guest with a 16 TiB sparse disk.raw; WRITES random 4 KiB
#              writes (python, one pwrite each; seed 18), fsync
#   open       remount; time the open of disk.raw, its first read, its
#              first write + fsync (which walks the trees) and the next
#   remount    with -o cache_size=BENCH_CACHE; the first read of every
#              written block is timed, and then VmRSS and VmHWM of hangarfs
#   fio        4 KiB reads of the written blocks in random order (an I/O
#              log replayed by fio: psync, 4 jobs, O_DIRECT) after a
#              remount with cache_size=2G (every leaf fits), BENCH_CACHE
#              and 0 (nearly every read loads its leaf again)
# Prints one line per figure.
set -uo pipefail

WRITES=${1:-22100}
CACHE=${BENCH_CACHE:-16M}
FIO_S=${BENCH_FIO_SECONDS:-20}

# shellcheck source=bench.bash
. "$(dirname "$0")/bench.bash"
bench_init map_cache hangar-mapcache fusermount3 mountpoint python3 fio

status_of() { awk -v k="$1:" '$1 == k {print int($2 / 1024)}' /proc/"$PID"/status; }

"$HANGAR" init "$STORE" >/dev/null || die "init"
bench_mount "$STORE"
mkdir "$MNT/vm" && truncate -s 16T "$MNT/vm/disk.raw" || die "disk"
start=$(date +%s%N)
python3 - "$MNT/vm/disk.raw" "$WRITES" "$WORK/offsets" <<'EOF' || die "writes"
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
open(listing, "w").write("\n".join(map(str, offs)))
EOF
echo "write: $WRITES random 4 KiB writes on 16 TiB in $((($(date +%s%N) - start) / 1000000)) ms, hangarfs RSS $(status_of VmRSS) MiB (peak $(status_of VmHWM) MiB, default cache)"
bench_umount
echo "container file: $(($(stat -c %s "$STORE"/vm.hangar) / 1048576)) MiB"

# The lazy open (core/container.c): opening the disk and reading a block
# cost the table only; the first write walks the trees (FORMAT.md 6)
bench_mount "$STORE"
python3 - "$MNT/vm/disk.raw" "$WORK/offsets" <<'EOF' || die "open timing"
import mmap, os, sys, time
offs = [int(x) for x in open(sys.argv[2]).read().split()]
off = offs[len(offs) // 2]
buf = mmap.mmap(-1, 4096)
t0 = time.perf_counter()
fd = os.open(sys.argv[1], os.O_RDWR | os.O_DIRECT)
t1 = time.perf_counter()
os.preadv(fd, [buf], off)
t2 = time.perf_counter()
if buf[:8] != off.to_bytes(8, "little"):
    sys.exit("wrong bytes at %d" % off)
os.pwritev(fd, [buf], off)
os.fsync(fd)
t3 = time.perf_counter()
os.pwritev(fd, [buf], off)
os.fsync(fd)
t4 = time.perf_counter()
os.close(fd)
print("lazy open: open %.1f ms, first 4 KiB read %.1f ms, first write+fsync "
      "%.1f ms (the walk), next write+fsync %.1f ms"
      % ((t1 - t0) * 1e3, (t2 - t1) * 1e3, (t3 - t2) * 1e3, (t4 - t3) * 1e3))
EOF
bench_umount

bench_mount "$STORE" -o "cache_size=$CACHE"
start=$(date +%s%N)
python3 - "$MNT/vm/disk.raw" "$WORK/offsets" <<'EOF' || die "read back"
import os, sys
offs = [int(x) for x in open(sys.argv[2]).read().split()]
fd = os.open(sys.argv[1], os.O_RDONLY)
for off in offs:
    if os.pread(fd, 4096, off) != off.to_bytes(8, "little") * 512:
        sys.exit("wrong bytes at %d" % off)
EOF
echo "read back: $WRITES blocks in $((($(date +%s%N) - start) / 1000000)) ms with cache_size=$CACHE; hangarfs RSS $(status_of VmRSS) MiB (peak $(status_of VmHWM) MiB)"

# 4 KiB reads at the written blocks only (holes need no leaf), in random
# order, replayed by fio from an I/O log: O_DIRECT, so every read reaches
# the daemon
python3 - "$MNT/vm/disk.raw" "$WORK/offsets" "$WORK/iolog" <<'EOF'
import random, sys
offs = [int(x) for x in open(sys.argv[2]).read().split()]
rng = random.Random(7)
with open(sys.argv[3], "w") as f:
    f.write("fio version 2 iolog\n%s add\n%s open\n" % (sys.argv[1], sys.argv[1]))
    for _ in range(200000):
        f.write("%s read %d 4096\n" % (sys.argv[1], rng.choice(offs)))
    f.write("%s close\n" % sys.argv[1])
EOF
fio_iops() {
	fio --name=r --read_iolog="$WORK/iolog" --ioengine=psync --direct=1 \
		--numjobs=4 --group_reporting --runtime="$FIO_S" \
		--output-format=terse --terse-version=3 2>/dev/null |
		awk -F';' '{print $8}'
}
bench_umount
for size in 2G "$CACHE" 0; do
	bench_mount "$STORE" -o "cache_size=$size"
	echo "fio 4k random reads of the written blocks, cache_size=$size: $(fio_iops) IOPS, hangarfs RSS $(status_of VmRSS) MiB (peak $(status_of VmHWM) MiB)"
	bench_umount
done
