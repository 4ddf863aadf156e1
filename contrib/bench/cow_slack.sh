#!/bin/bash
# contrib/bench/cow_slack.sh -- copy-on-write slack (hangarfs -o cow_slack,
# core/alloc.c invariant 11): how large an encrypted guest's container
# grows under random writes, and what a smaller slack costs in write rate.
#
#   contrib/bench/cow_slack.sh [SLACK...]     (default: 1G 512M 128M 0)
#
# Environment: HANGAR_BUILD_DIR (default ./build of this repository; built
# with cmake when hangarfs or hangar is missing), BENCH_DIR (scratch
# directory, default a new one under /var/tmp; removed at the end),
# BENCH_DISK (default 1G), BENCH_FIO_SECONDS (default 20), BENCH_REPS
# (rounds, default 2), BENCH_KEEP=1 keeps the scratch directory.
#
# Per round and slack, on a fresh encrypted store (the default commit
# interval): the disk is written once (1 MiB writes, fsync), then fio
# writes 4 KiB blocks at random (libaio, iodepth 16, O_DIRECT) for
# BENCH_FIO_SECONDS; printed: the container's size and allocated bytes
# right after, the write IOPS, and the IOPS as a ratio of the first
# slack's in the same round (the slacks take turns, so load drifts hit
# them alike).  0 = no limit (the behaviour before the limit).
set -uo pipefail

[ $# -gt 0 ] && SLACKS=("$@") || SLACKS=(1G 512M 128M 0)
DISK=${BENCH_DISK:-1G}
FIO_S=${BENCH_FIO_SECONDS:-20}
REPS=${BENCH_REPS:-2}

# shellcheck source=bench.bash
. "$(dirname "$0")/bench.bash"
bench_init cow_slack hangar-cowslack fusermount3 mountpoint fio

head -c 64 /dev/urandom >"$WORK/key" && chmod 600 "$WORK/key" || die "key"

PID=
run_one() { # SLACK -> sets IOPS, SIZE_MIB, ALLOC_MIB
	rm -rf "$STORE" && mkdir -p "$MNT" || die "scratch"
	"$HANGAR" init "$STORE" --encrypt --keyfile "$WORK/key" >/dev/null ||
		die "init"
	bench_mount "$STORE" -o keyfile="$WORK/key" -o cow_slack="$1"
	mkdir "$MNT/g" || die "mkdir"
	fio --name=fill --filename="$MNT/g/disk.raw" --size="$DISK" \
		--rw=write --bs=1M --ioengine=psync --end_fsync=1 \
		--refill_buffers >/dev/null 2>&1 || die "fill"
	fio --name=rw --filename="$MNT/g/disk.raw" --size="$DISK" \
		--rw=randwrite --bs=4k --ioengine=libaio --iodepth=16 \
		--direct=1 --time_based --runtime="$FIO_S" --refill_buffers \
		--output-format=terse >"$WORK/fio.out" 2>&1 || die "fio"
	SIZE_MIB=$(($(stat -c %s "$STORE/g.hangar") >> 20))
	ALLOC_MIB=$(($(du -B1 "$STORE/g.hangar" | cut -f1) >> 20))
	IOPS=$(awk -F';' '{print int($49)}' "$WORK/fio.out")
	bench_umount
}

echo "cow_slack: encrypted ${DISK} disk, 4 KiB random writes for ${FIO_S} s, load $(cut -d' ' -f1-3 /proc/loadavg)"
for ((r = 1; r <= REPS; r++)); do
	first=
	for s in "${SLACKS[@]}"; do
		run_one "$s"
		[ -n "$first" ] || first=$IOPS
		ratio=$(awk -v a="$IOPS" -v b="$first" 'BEGIN {printf "%.2f", b ? a / b : 0}')
		echo "round $r: cow_slack=$s: container $SIZE_MIB MiB (allocated $ALLOC_MIB MiB), $IOPS IOPS, ${ratio}x of cow_slack=${SLACKS[0]}"
	done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
