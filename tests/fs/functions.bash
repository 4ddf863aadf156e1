# tests/fs/functions.bash -- shared by the tests/fs/*.sh mount tests.
#
# Each test sources this file, calls `fs_setup TOOL...` and then drives a
# store mounted with `fs_mount` through plain tools.  Conventions (STYLE.md
# practice 13): exit 77 with "SKIPPED: reason" when a prerequisite is
# missing; every command that could hang runs under `timeout`; the EXIT trap
# always unmounts what we mounted and kills only the hangarfs PID this test
# started.  (Not named *.sh, so ctest does not run it as a test.)

set -uo pipefail

T=${HANGAR_TEST_TIMEOUT:-120}   # seconds for any one command

skip() { echo "SKIPPED: $*"; exit 77; }
fail() { echo "FAIL: $*" >&2; fs_show_log >&2; exit 1; }
log() { echo "--- $*"; }

# fs_setup TOOL... : check prerequisites, make WORK, STORE, MNT, the trap.
fs_setup() {
	local tool
	[ -c /dev/fuse ] || skip "/dev/fuse is missing"
	command -v fusermount3 >/dev/null || skip "fusermount3 is missing"
	command -v mountpoint >/dev/null || skip "mountpoint is missing"
	[ -n "${HANGARFS:-}" ] && [ -x "$HANGARFS" ] ||
		skip "HANGARFS is not set to the built hangarfs"
	[ -n "${HANGAR:-}" ] && [ -x "$HANGAR" ] ||
		skip "HANGAR is not set to the built hangar CLI (needed for 'hangar init')"
	for tool in "$@"; do
		command -v "$tool" >/dev/null || skip "$tool is missing"
	done
	WORK=$(mktemp -d "${TMPDIR:-/tmp}/hangarfs-test.XXXXXX") ||
		fail "mktemp"
	STORE=$WORK/store
	MNT=$WORK/mnt
	HFS_LOG=$WORK/hangarfs.log
	HFS_PID=
	EXTRA_MOUNTS=()  # mounted on top of MNT: unmounted before it
	OTHER_MNTS=()    # further hangarfs mounts (fs_mount_other) ...
	OTHER_PIDS=()    # ... and their daemons: unmounted and ended first
	OUTER_MOUNTS=()  # under the store: unmounted after the daemon exits
	mkdir -p "$MNT"
	trap fs_cleanup EXIT
	timeout "$T" "$HANGAR" init "$STORE" >/dev/null ||
		fail "hangar init $STORE"
}

fs_cleanup() {
	local m
	set +e
	for m in "${OTHER_MNTS[@]}"; do
		if mountpoint -q "$m"; then
			timeout 30 fusermount3 -u "$m" ||
				timeout 30 fusermount3 -u -z "$m"
		fi
	done
	for m in "${OTHER_PIDS[@]}"; do
		kill -0 "$m" 2>/dev/null && kill "$m"
	done
	for m in "${EXTRA_MOUNTS[@]}"; do
		mountpoint -q "$m" && timeout 30 umount "$m"
	done
	if mountpoint -q "$MNT"; then
		timeout 30 fusermount3 -u "$MNT" ||
			timeout 30 fusermount3 -u -z "$MNT"
	fi
	if [ -n "$HFS_PID" ] && kill -0 "$HFS_PID" 2>/dev/null; then
		kill "$HFS_PID"
		fs_wait_exit 10 || kill -KILL "$HFS_PID"
	fi
	for m in "${OUTER_MOUNTS[@]}"; do
		mountpoint -q "$m" && timeout 30 umount "$m"
	done
	rm -rf "$WORK"
}

fs_show_log() {
	[ -n "${HFS_LOG:-}" ] && [ -s "$HFS_LOG" ] || return 0
	echo "--- hangarfs log (last 30 lines):"
	tail -n 30 "$HFS_LOG"
}

# fs_wait_exit SECONDS : wait for our hangarfs to exit; 1 on timeout.
fs_wait_exit() {
	local i
	for ((i = 0; i < $1 * 10; i++)); do
		kill -0 "$HFS_PID" 2>/dev/null || { { wait "$HFS_PID"; } 2>/dev/null; return 0; }
		sleep 0.1
	done
	return 1
}

# fs_mount [OPTION...] : mount STORE on MNT in the foreground (so we know
# the PID), options passed through, log appended to HFS_LOG.
fs_mount() {
	local i
	"$HANGARFS" "$STORE" "$MNT" -f -o commit_interval=1 "$@" \
		>>"$HFS_LOG" 2>&1 &
	HFS_PID=$!
	for ((i = 0; i < 100; i++)); do
		mountpoint -q "$MNT" && return 0
		kill -0 "$HFS_PID" 2>/dev/null || fail "hangarfs exited at mount"
		sleep 0.1
	done
	fail "mount did not appear within 10 s"
}

# fs_mount_other STORE MNT LOG [OPTION...] : another hangarfs (a second
# store, or a second mount of one) in the foreground; 0 once mounted (its
# PID in OTHER_PID), 1 if it exited (its output is in LOG).  Cleaned up by
# the EXIT trap.
fs_mount_other() {
	local store=$1 mnt=$2 log=$3 i
	shift 3
	mkdir -p "$mnt"
	"$HANGARFS" "$store" "$mnt" -f "$@" >>"$log" 2>&1 &
	OTHER_PID=$!
	OTHER_PIDS+=("$OTHER_PID")
	OTHER_MNTS+=("$mnt")
	for ((i = 0; i < 100; i++)); do
		mountpoint -q "$mnt" && return 0
		kill -0 "$OTHER_PID" 2>/dev/null || return 1
		sleep 0.1
	done
	fail "mount of $store on $mnt did not appear within 10 s"
}

# fs_umount_other MNT PID : unmount one of those and wait for its daemon.
fs_umount_other() {
	local i
	timeout 30 fusermount3 -u "$1" || fail "fusermount3 -u $1"
	for ((i = 0; i < 300; i++)); do
		kill -0 "$2" 2>/dev/null || return 0
		sleep 0.1
	done
	fail "hangarfs $2 did not exit after unmount"
}

# fs_umount : unmount and wait until the daemon closed the store.
fs_umount() {
	timeout 30 fusermount3 -u "$MNT" || fail "fusermount3 -u $MNT"
	fs_wait_exit 30 || fail "hangarfs did not exit after unmount"
	HFS_PID=
}

fs_remount() {
	fs_umount
	fs_mount "$@"
}

# flock_holder PATH [WRITE|READ] : the PID holding an flock on PATH (the
# store directory: the store lock; a container file: the container lock),
# from /proc/locks by inode; empty when none.
flock_holder() {
	local ino
	ino=$(stat -c %i "$1") || return 0
	awk -v ino="$ino" -v want="${2:-WRITE}" '
		$2 == "FLOCK" && $4 == want {
			n = split($6, f, ":")
			if (f[n] == ino) { print $5; exit }
		}' /proc/locks
}

# t CMD... : run with the per-command timeout.
t() { timeout "$T" "$@"; }

# expect_fail MESSAGE CMD... : CMD must fail and print MESSAGE.
expect_fail() {
	local msg=$1 out
	shift
	if out=$(timeout "$T" "$@" 2>&1); then
		fail "expected failure ($msg) from: $* ; got success: $out"
	fi
	case "$out" in
	*"$msg"*) ;;
	*) fail "expected '$msg' from: $* ; got: $out" ;;
	esac
}

# expect_log TEXT : the daemon logged a line containing TEXT.
expect_log() {
	grep -qF -- "$1" "$HFS_LOG" || fail "log has no line with: $1"
}

# errno_of PYTHON-EXPR : run one os.* call in python, print the errno name
# (or OK).  For calls whose errno the shell tools hide.
errno_of() {
	timeout "$T" python3 - "$@" <<'PY'
import errno, os, sys
try:
    exec(sys.argv[1])
    print("OK")
except OSError as e:
    print(errno.errorcode.get(e.errno, str(e.errno)))
PY
}
