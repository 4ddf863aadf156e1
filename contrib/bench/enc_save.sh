#!/bin/bash
# contrib/bench/enc_save.sh -- what a saved memory image costs in an
# encrypted store at each cluster size: the same stream is written into
# memory.save through the mount (dd bs=1M conv=fsync) of a store made
# with `hangar init --encrypt --cluster-size SIZE`, and the container the
# store keeps is measured after the unmount, beside `zstd -1` and
# `zstd -3` of the same bytes and a plain store at its default.  Each
# cluster of a compressed object is one zstd frame, so a smaller cluster
# compresses worse; this puts a number on it.
#
#   contrib/bench/enc_save.sh [SIZE...]      (default: 4K 16K 64K)
#
# Environment: HANGAR_BUILD_DIR (default ./build of this repository),
# BENCH_SAVE_STREAM (the bytes to save; default the first BENCH_SAVE_MIB
# MiB, default 256, of a tar of /usr/lib), BENCH_DIR, BENCH_KEEP=1
# (see bench.bash).
#
# Prints one line per store: the stream's size, the container's allocated
# size on the host (stat %b x 512) and its ratio to zstd -1, and the
# write's MB/s (dd, conv=fsync).
set -uo pipefail

SIZES=("$@")
[ ${#SIZES[@]} -gt 0 ] || SIZES=(4K 16K 64K)

# shellcheck source=bench.bash
. "$(dirname "$0")/bench.bash"
bench_init enc_save hangar-encsave fusermount3 mountpoint zstd dd tar

STREAM=${BENCH_SAVE_STREAM:-}
if [ -z "$STREAM" ]; then
	STREAM=$WORK/stream
	tar -C / -cf - usr/lib 2>/dev/null |
		head -c $((${BENCH_SAVE_MIB:-256} * 1048576)) >"$STREAM"
fi
BYTES=$(stat -c %s "$STREAM") || die "no stream"
Z1=$(zstd -1 -c "$STREAM" | wc -c)
Z3=$(zstd -3 -c "$STREAM" | wc -c)
printf 'stream: %d KiB; zstd -1 %d KiB, zstd -3 %d KiB\n' \
	$((BYTES / 1024)) $((Z1 / 1024)) $((Z3 / 1024))

KEY=$WORK/key
head -c 32 /dev/urandom >"$KEY" && chmod 600 "$KEY"

save_into() { # LABEL STORE [HANGARFS-ARGS...]
	local label=$1 store=$2 start secs blocks
	shift 2
	bench_mount "$store" "$@"
	mkdir "$MNT/vm" || die "$label: mkdir"
	start=$(date +%s%N)
	dd if="$STREAM" of="$MNT/vm/memory.save" bs=1M conv=fsync \
		status=none || die "$label: dd"
	secs=$(echo "($(date +%s%N) - $start) / 1000000000" | bc -l)
	bench_umount
	blocks=$(stat -c %b "$store/vm.hangar") || die "$label: stat"
	printf '%-34s container %8d KiB allocated, %.3f x zstd -1; write %6.0f MB/s\n' \
		"$label" $((blocks / 2)) "$(echo "$blocks * 512 / $Z1" | bc -l)" \
		"$(echo "$BYTES / 1000000 / $secs" | bc -l)"
	rm -rf "$store"
}

for size in "${SIZES[@]}"; do
	store=$WORK/enc-$size
	"$HANGAR" init "$store" --encrypt --cluster-size "$size" \
		--keyfile "$KEY" >/dev/null || die "init $size"
	save_into "encrypted, $size clusters" "$store" -o "keyfile=$KEY"
done
"$HANGAR" init "$WORK/plain" >/dev/null || die "init plain"
save_into "plain, default clusters" "$WORK/plain"
