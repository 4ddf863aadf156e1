#!/bin/bash
# contrib/bench/space.sh -- container size for sparse random writes (issue
# 18): a 16 TiB sparse disk takes WRITES random 4 KiB writes (the
# offsets and bytes of contrib/bench/map_cache.sh: seed 18), and the file
# that stores it is measured -- hangar's container beside a qcow2 image
# with 64 KiB clusters taking the same writes through qemu-io.
#
#   contrib/bench/space.sh [WRITES]          (default 22100)
#
# Environment: HANGAR_BUILD_DIR (default ./build of this repository; built
# with cmake when hangarfs or hangar is missing), BENCH_DIR (scratch
# directory, default a new one under /var/tmp; removed at the end),
# BENCH_KEEP=1 keeps it, BENCH_NO_QCOW2=1 leaves qcow2 out, BENCH_LABEL
# names the hangar row (default: the build directory's name).
#
# Prints, for each format: the data written, the file's apparent size
# (stat %s) and what the host allocated for it (stat %b x 512, as du -B1
# counts), after the writes, an fsync and (hangar) the unmount.
set -uo pipefail

WRITES=${1:-22100}

# shellcheck source=bench.bash
. "$(dirname "$0")/bench.bash"
bench_init space hangar-space fusermount3 mountpoint python3

# the offsets: WRITES random 4 KiB blocks of 16 TiB, sorted, distinct
python3 - "$WRITES" "$WORK/offsets" <<'EOF' || die "offsets"
import random, sys
n, listing = int(sys.argv[1]), sys.argv[2]
rng = random.Random(18)
blocks = (16 << 40) // 4096
offs = sorted({rng.randrange(blocks) * 4096 for _ in range(n)})
open(listing, "w").write("\n".join(map(str, offs)))
EOF
COUNT=$(wc -l <"$WORK/offsets")
COUNT=$((COUNT + 1))

report() { # NAME FILE SECONDS
	local size blocks
	size=$(stat -c %s "$2") && blocks=$(stat -c %b "$2") || die "stat $2"
	printf '%-28s %6d writes (%d MiB of data) in %5.1f s: file %8d MiB apparent, %6d MiB allocated on the host (%.2f x the data)\n' \
		"$1" "$COUNT" $((COUNT * 4096 / 1048576)) "$3" \
		$((size / 1048576)) $((blocks * 512 / 1048576)) \
		"$(echo "$blocks * 512 / ($COUNT * 4096)" | bc -l)"
}

"$HANGAR" init "$STORE" >/dev/null || die "init"
bench_mount "$STORE"
mkdir "$MNT/vm" && truncate -s 16T "$MNT/vm/disk.raw" || die "disk"
start=$(date +%s%N)
python3 - "$MNT/vm/disk.raw" "$WORK/offsets" <<'EOF' || die "writes"
import os, sys
offs = [int(x) for x in open(sys.argv[2]).read().split()]
fd = os.open(sys.argv[1], os.O_WRONLY)
for off in offs:
    os.pwrite(fd, off.to_bytes(8, "little") * 512, off)
os.fsync(fd)
os.close(fd)
EOF
secs=$(echo "($(date +%s%N) - $start) / 1000000000" | bc -l)
bench_umount
report "hangar (${BENCH_LABEL:-$(basename "$BUILD")})" "$STORE/vm.hangar" "$secs"

if [ "${BENCH_NO_QCOW2:-}" != 1 ] && command -v qemu-img >/dev/null &&
	command -v qemu-io >/dev/null; then
	QCOW=$WORK/disk.qcow2
	qemu-img create -q -f qcow2 -o cluster_size=65536 "$QCOW" 16T ||
		die "qemu-img create"
	start=$(date +%s%N)
	# one qemu-io process, the writes on its stdin (the bytes differ
	# from hangar's: a pattern per write; the space does not depend on
	# them), then a flush
	awk '{printf "write -q -P %d %s 4k\n", NR % 255 + 1, $1} END {print "flush"}' \
		"$WORK/offsets" | qemu-io -f qcow2 "$QCOW" >/dev/null ||
		die "qemu-io"
	secs=$(echo "($(date +%s%N) - $start) / 1000000000" | bc -l)
	report "qcow2, 64 KiB clusters" "$QCOW" "$secs"
fi
