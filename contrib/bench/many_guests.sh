#!/bin/bash
# contrib/bench/many_guests.sh -- a store with thousands of guests: how long
# the mount takes, how long `ls -l` of its root and of one guest take, what
# the daemon holds afterwards, and whether a slow guest's open holds up the
# others.
#
#   contrib/bench/many_guests.sh [GUESTS]        (default 10000)
#
# Environment: HANGAR_BUILD_DIR (default ./build of this repository; built
# with cmake when hangarfs, hangar or make_guests is missing), BENCH_DIR
# (scratch directory, default a new one under /var/tmp; removed at the
# end), BENCH_BIG_WRITES (random 4 KiB writes that make the slow guest's
# metadata, default 8000), BENCH_KEEP=1 keeps the scratch directory.
#
# Steps (times are wall clock, milliseconds; the mount and listings three
# times, the summary gives medians):
#   create     GUESTS empty guests through core's store API
#              (build/tests/make_guests, 8 threads: each create syncs)
#   mount      `hangarfs STORE MNT` in daemon mode, which returns once the
#              mount is up (fs/daemon.c)
#   ls -l /    `ls -l MNT` right after the mount (cold; with the daemon's
#              CPU time), then again (warm: the kernel's attribute cache
#              lasts 1 s, so it is asked again)
#   ls -l g    `ls -l MNT/<one guest>`
#   daemon     VmRSS and VmHWM (/proc/PID/status) and open descriptors
#              (/proc/PID/fd) of hangarfs after the listings, and how many
#              of those descriptors are guest containers
#   slow open  guest `big` has a 16 TiB sparse disk with BENCH_BIG_WRITES
#              random 4 KiB writes (one map leaf each: its open reads and
#              verifies all of them); after a remount, `stat big/disk.raw`
#              opens it while `ls -l` of another guest and of the root
#              run: neither may wait for it
# Prints one line per figure, then a summary line for RESULTS.md.
set -uo pipefail

GUESTS=${1:-10000}
REPO=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${HANGAR_BUILD_DIR:-$REPO/build}
BIG_WRITES=${BENCH_BIG_WRITES:-8000}

die() {
	echo "many_guests: $*" >&2
	exit 1
}
ms_since() { echo $((($(date +%s%N) - $1) / 1000000)); }

for tool in fusermount3 mountpoint python3; do
	command -v "$tool" >/dev/null || die "$tool is missing"
done
if [ ! -x "$BUILD/fs/hangarfs" ] || [ ! -x "$BUILD/cli/hangar" ] ||
	[ ! -x "$BUILD/tests/make_guests" ]; then
	cmake -S "$REPO" -B "$BUILD" >&2 || die "cmake"
	cmake --build "$BUILD" -j2 --target hangarfs hangar make_guests >&2 ||
		die "build"
fi
HANGARFS=$BUILD/fs/hangarfs
HANGAR=$BUILD/cli/hangar
MAKE_GUESTS=$BUILD/tests/make_guests

WORK=${BENCH_DIR:-$(mktemp -d /var/tmp/hangar-many.XXXXXX)}
mkdir -p "$WORK"
STORE=$WORK/store
MNT=$WORK/mnt
mkdir -p "$MNT"
PID=

cleanup() {
	if mountpoint -q "$MNT"; then
		timeout 60 fusermount3 -u "$MNT" || timeout 30 fusermount3 -u -z "$MNT"
	fi
	if [ -n "$PID" ]; then
		for _ in $(seq 300); do
			kill -0 "$PID" 2>/dev/null || break
			sleep 0.1
		done
		kill -0 "$PID" 2>/dev/null && kill "$PID"
	fi
	[ "${BENCH_KEEP:-0}" = 1 ] || rm -rf "$WORK"
}
trap cleanup EXIT

# The PID holding the store lock (our daemon), from /proc/locks.
store_holder() {
	local ino
	ino=$(stat -c %i "$STORE")
	awk -v ino="$ino" '$2 == "FLOCK" && $4 == "WRITE" {
		n = split($6, f, ":"); if (f[n] == ino) { print $5; exit } }' /proc/locks
}

mount_store() {
	local start
	start=$(date +%s%N)
	timeout 120 "$HANGARFS" "$STORE" "$MNT" -o log_file="$WORK/hangarfs.log" ||
		die "hangarfs failed: $(tail -n 3 "$WORK/hangarfs.log" 2>/dev/null)"
	MOUNT_MS=$(ms_since "$start")
	PID=$(store_holder)
	[ -n "$PID" ] || die "no daemon holds the store"
}

umount_store() {
	timeout 120 fusermount3 -u "$MNT" || die "fusermount3 -u"
	for _ in $(seq 1200); do
		kill -0 "$PID" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$PID" 2>/dev/null && die "hangarfs $PID did not exit"
	PID=
}

# timed CMD... : run CMD (output discarded), set TOOK to its milliseconds.
timed() {
	local start
	start=$(date +%s%N)
	timeout 300 "$@" >/dev/null 2>"$WORK/timed.err" ||
		die "$*: $(head -n 3 "$WORK/timed.err")"
	TOOK=$(ms_since "$start")
}

daemon_figures() {
	RSS_KB=$(awk '/^VmRSS:/ {print $2}' /proc/"$PID"/status)
	HWM_KB=$(awk '/^VmHWM:/ {print $2}' /proc/"$PID"/status)
	FDS=$(ls /proc/"$PID"/fd | wc -l)
	CONTAINER_FDS=$(find /proc/"$PID"/fd -lname '*.hangar' 2>/dev/null | wc -l)
}

echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $(uname -r)"
echo "commit: $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)"

"$HANGAR" init "$STORE" >/dev/null || die "hangar init"
start=$(date +%s%N)
"$MAKE_GUESTS" "$STORE" "$GUESTS" g >/dev/null || die "make_guests"
echo "create: $GUESTS guests in $(ms_since "$start") ms"
"$MAKE_GUESTS" "$STORE" 1 big >/dev/null || die "make_guests big"
mv "$STORE/big00000.hangar" "$STORE/big.hangar" || die "rename big"
GUESTS_ALL=$((GUESTS + 1))

# The slow guest's metadata, written through a mount.
mount_store
truncate -s 16T "$MNT/big/disk.raw" || die "truncate big/disk.raw"
start=$(date +%s%N)
python3 - "$MNT/big/disk.raw" "$BIG_WRITES" <<'PY' || die "writing big/disk.raw"
import os, random, sys
path, n = sys.argv[1], int(sys.argv[2])
rng = random.Random(18)
block = os.urandom(4096)
fd = os.open(path, os.O_WRONLY)
size = os.fstat(fd).st_size
for _ in range(n):
    os.pwrite(fd, block, rng.randrange(size // 4096) * 4096)
os.fsync(fd)
os.close(fd)
PY
echo "big: $BIG_WRITES random 4 KiB writes into a 16 TiB disk in $(ms_since "$start") ms, container $(($(stat -c %s "$STORE/big.hangar") / 1048576)) MiB"
umount_store

cpu_ms() { awk -v hz="$(getconf CLK_TCK)" '{print int(($14 + $15) * 1000 / hz)}' /proc/"$PID"/stat; }
# median of its arguments
median() { printf '%s\n' "$@" | sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }

MOUNTS=() COLDS=() WARMS=() COLD_CPUS=() GUEST_LS=()
for rep in 1 2 3; do
	mount_store
	MOUNTS+=("$MOUNT_MS")
	c0=$(cpu_ms)
	timed ls -l "$MNT"
	COLDS+=("$TOOK")
	COLD_CPUS+=($(($(cpu_ms) - c0)))
	n=$(ls "$MNT" | wc -l)
	[ "$n" -eq "$GUESTS_ALL" ] || die "ls shows $n guests, not $GUESTS_ALL"
	sleep 1.2 # past the kernel's attribute timeout: asked again
	timed ls -l "$MNT"
	WARMS+=("$TOOK")
	timed ls -l "$MNT/g00042"
	GUEST_LS+=("$TOOK")
	daemon_figures
	echo "rep $rep: mount ${MOUNTS[-1]} ms; ls -l root cold ${COLDS[-1]} ms (daemon CPU ${COLD_CPUS[-1]} ms), warm ${WARMS[-1]} ms; ls -l of one guest ${GUEST_LS[-1]} ms; daemon after: RSS $((RSS_KB / 1024)) MiB (peak $((HWM_KB / 1024)) MiB), $FDS descriptors, $CONTAINER_FDS containers; load $(cut -d' ' -f1 /proc/loadavg)"
	umount_store
done

# Guest big's open alone, then beside requests for other guests and the
# root.  `ls -l` of another guest right after a mount, alone, is the
# baseline (it opens that guest).
mount_store
timed ls -l "$MNT/g00077"
OTHER_ALONE=$TOOK
timed stat "$MNT/big/disk.raw"
BIG_ALONE=$TOOK
umount_store
mount_store
# The daemon has seen the root's listing (its attribute cache is warm), as
# on a host where guests start while others are listed.
timed ls -l "$MNT"
ROOT_BEFORE=$TOOK
sleep 1.2
start=$(date +%s%N)
timeout 300 stat "$MNT/big/disk.raw" >/dev/null &
big_pid=$!
sleep 0.05
timed ls -l "$MNT/g00078"
OTHER=$TOOK
timed ls -l "$MNT"
ROOT_BESIDE=$TOOK
kill -0 "$big_pid" 2>/dev/null && big_still=yes || big_still=no
wait "$big_pid" || die "stat big/disk.raw"
BIG_BESIDE=$(ms_since "$start")
echo "slow open: big alone $BIG_ALONE ms; beside it (big took $BIG_BESIDE ms, still opening when both were done: $big_still): ls -l of another guest $OTHER ms (alone $OTHER_ALONE ms), ls -l of the root $ROOT_BESIDE ms (before, alone: $ROOT_BEFORE ms)"
umount_store

echo "summary: guests=$GUESTS_ALL mount_ms=$(median "${MOUNTS[@]}") ls_root_cold_ms=$(median "${COLDS[@]}") [${COLDS[*]}] cold_daemon_cpu_ms=$(median "${COLD_CPUS[@]}") ls_root_warm_ms=$(median "${WARMS[@]}") [${WARMS[*]}] ls_guest_ms=$(median "${GUEST_LS[@]}") rss_mib=$((RSS_KB / 1024)) fds=$FDS container_fds=$CONTAINER_FDS big_open_ms=$BIG_ALONE other_beside_big_ms=$OTHER other_alone_ms=$OTHER_ALONE root_beside_big_ms=$ROOT_BESIDE"
