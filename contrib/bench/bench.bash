# contrib/bench/bench.bash -- what the shell benchmarks that mount one
# store share (map_cache.sh, space.sh, cow_slack.sh, enc_save.sh): sourced,
# not run.
#
# bench_init NAME PREFIX TOOL... : die() prefixes its messages with NAME;
# every TOOL must be installed; hangarfs and hangar come from
# HANGAR_BUILD_DIR (default ./build of this repository; built with cmake
# when missing) as HANGARFS and HANGAR; WORK is BENCH_DIR or a new
# /var/tmp/PREFIX.XXXXXX, with STORE and MNT under it; an EXIT trap
# unmounts MNT, ends the daemon PID (set by the caller) and removes WORK
# unless BENCH_KEEP=1.
#
# bench_mount STORE [HANGARFS-ARGS...] : hangarfs STORE on MNT in the
# foreground (log in WORK/hangarfs.log), PID set, back once MNT is a mount
# point (dies after 10 s); bench_umount unmounts it and waits for the daemon.

die() {
	echo "$BENCH_NAME: $*" >&2
	exit 1
}

bench_cleanup() {
	if mountpoint -q "$MNT"; then
		timeout 60 fusermount3 -u "$MNT" || timeout 30 fusermount3 -u -z "$MNT"
	fi
	[ -n "$PID" ] && kill -0 "$PID" 2>/dev/null && kill "$PID"
	[ "${BENCH_KEEP:-}" = 1 ] || rm -rf "$WORK"
}

bench_init() {
	BENCH_NAME=$1
	local prefix=$2 tool
	shift 2
	for tool in "$@"; do
		command -v "$tool" >/dev/null || die "$tool is missing"
	done
	REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
	BUILD=${HANGAR_BUILD_DIR:-$REPO/build}
	if [ ! -x "$BUILD/fs/hangarfs" ] || [ ! -x "$BUILD/cli/hangar" ]; then
		cmake -S "$REPO" -B "$BUILD" >&2 || die "cmake"
		cmake --build "$BUILD" -j2 --target hangarfs hangar >&2 || die "build"
	fi
	HANGARFS=$BUILD/fs/hangarfs
	HANGAR=$BUILD/cli/hangar
	WORK=${BENCH_DIR:-$(mktemp -d "/var/tmp/$prefix.XXXXXX")}
	mkdir -p "$WORK"
	STORE=$WORK/store
	MNT=$WORK/mnt
	mkdir -p "$MNT"
	PID=
	trap bench_cleanup EXIT
}

bench_mount() {
	local store=$1
	shift
	"$HANGARFS" "$store" "$MNT" -f "$@" >>"$WORK/hangarfs.log" 2>&1 &
	PID=$!
	for _ in $(seq 100); do
		mountpoint -q "$MNT" && return 0
		sleep 0.1
	done
	die "mount did not appear"
}

bench_umount() {
	timeout 300 fusermount3 -u "$MNT" || die "umount"
	wait "$PID"
	PID=
}
