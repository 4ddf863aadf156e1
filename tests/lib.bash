# tests/lib.bash -- the one library of the shell tests (tests/fs, tests/cli,
# tests/security, tests/vm, tests/ceph).  Sourced, not run: ctest runs only
# *.sh.
#
# Conventions (docs/style.md, "Tests"): exit 77 with "SKIPPED: reason" only
# when a prerequisite is truly absent; every command that could hang runs
# under a timeout ($T seconds, `t CMD`); the EXIT trap unmounts everything
# the test mounted and kills only the processes it started, by PID, even on
# failure; then it deletes the work directory.
#
# Setting up (pick one):
#   fs_setup TOOL...   a store to mount: WORK, STORE (made with hangar init),
#                      MNT, HFS_LOG; mount it with fs_mount.
#   cli_setup          a work directory to drive `hangar` in: WORK is the
#                      current directory, OUT/ERR hold the last h's output;
#                      `set -e` (any failing command fails the test).
# Verbs:
#   skip REASON / fail MESSAGE / log TEXT
#   need TOOL... / need_hangar / need_fuse      skip unless present
#   work_setup                   WORK and the EXIT trap (the setups call it)
#   at_exit CMD                  run CMD first at exit (last added, first run)
#   unmount_at_exit DIR          fusermount3 -u DIR at exit, if mounted
#   t CMD...                     CMD under the timeout
#   fs_mount / fs_umount / fs_remount / fs_mount_other / fs_umount_other
#   wait_mounted DIR             up to 10 s for DIR to become a mount point
#   h ARGS...                    hangar ARGS: stdout in OUT, stderr in ERR,
#                                exit status in rc; never fails by itself
#   expect_rc N WHAT / expect_out RE WHAT / expect_err RE WHAT   on the last h
#   expect_fail MESSAGE CMD...   CMD fails and prints MESSAGE
#   expect_log TEXT              the hangarfs log has TEXT
#   expect_json FILE WHAT / json_get FILE EXPR / errno_of PYTHON / flock_holder
#   make_sparse FILE SIZE MB...

set -uo pipefail

T=${HANGAR_TEST_TIMEOUT:-120} # seconds for any one command

skip() {
	echo "SKIPPED: $*"
	exit 77
}
fail() {
	echo "FAIL: $*" >&2
	fs_show_log >&2
	exit 1
}
log() { echo "--- $*"; }

# t CMD... : run with the per-command timeout.
t() { timeout "$T" "$@"; }

# need TOOL... : skip unless every TOOL is on PATH.
need() {
	local tool
	for tool in "$@"; do
		command -v "$tool" >/dev/null || skip "$tool is missing"
	done
}

# need_hangar : HANGAR is the built CLI ($HANGAR from ctest, else the usual
# build location), as an absolute path; skip when it is not built.
need_hangar() {
	local candidate
	if [ -z "${HANGAR:-}" ]; then
		for candidate in "${HANGAR_BUILD_DIR:-}/cli/hangar" \
			"$(dirname "${BASH_SOURCE[0]}")/../build/cli/hangar"; do
			if [ -x "$candidate" ]; then
				HANGAR=$candidate
				break
			fi
		done
	fi
	[ -n "${HANGAR:-}" ] && [ -x "$HANGAR" ] ||
		skip "HANGAR is not set to the built hangar CLI"
	HANGAR=$(realpath "$HANGAR")
	[ -z "${HANGARFS:-}" ] || HANGARFS=$(realpath "$HANGARFS")
}

# need_fuse : skip unless a hangarfs mount is possible here.
need_fuse() {
	[ -c /dev/fuse ] || skip "/dev/fuse is missing"
	need fusermount3 mountpoint findmnt
	[ -n "${HANGARFS:-}" ] && [ -x "$HANGARFS" ] ||
		skip "HANGARFS is not set to the built hangarfs"
}

# ---- the work directory and the EXIT trap ------------------------------------

# work_setup : make WORK and arm the trap.  The lists below are what the trap
# undoes, in this order: the at_exit commands, the UNMOUNTS and OTHER_PIDS
# (further hangarfs mounts and their daemons), EXTRA_MOUNTS (mounted on top
# of MNT), MNT and HFS_PID (our hangarfs), OUTER_MOUNTS (under the store:
# after the daemon exits), and last WORK itself.
work_setup() {
	WORK=$(mktemp -d "${TMPDIR:-/tmp}/hangar-test.XXXXXX") || fail "mktemp"
	HFS_PID=
	HFS_LOG=
	MNT=
	AT_EXIT=()
	UNMOUNTS=()
	OTHER_PIDS=()
	EXTRA_MOUNTS=()
	OUTER_MOUNTS=()
	trap work_cleanup EXIT
}

at_exit() { AT_EXIT=("$*" "${AT_EXIT[@]}"); }
unmount_at_exit() { UNMOUNTS+=("$1"); }

work_cleanup() {
	local m
	set +e
	for m in "${AT_EXIT[@]}"; do
		eval "$m"
	done
	for m in "${UNMOUNTS[@]}"; do
		if mountpoint -q "$m"; then
			timeout 30 fusermount3 -u "$m" ||
				timeout 30 fusermount3 -u -z "$m" ||
				umount -l "$m"
		fi
	done
	for m in "${OTHER_PIDS[@]}"; do
		kill -0 "$m" 2>/dev/null && kill "$m"
	done
	for m in "${EXTRA_MOUNTS[@]}"; do
		mountpoint -q "$m" && timeout 30 umount "$m"
	done
	if [ -n "$MNT" ] && mountpoint -q "$MNT"; then
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

# ---- a store mounted with hangarfs ----------------------------------------------

# fs_setup TOOL... : check prerequisites, make WORK, STORE, MNT, the trap.
fs_setup() {
	need_fuse
	need_hangar
	need "$@"
	work_setup
	STORE=$WORK/store
	MNT=$WORK/mnt
	HFS_LOG=$WORK/hangarfs.log
	mkdir -p "$MNT"
	timeout "$T" "$HANGAR" init "$STORE" >/dev/null || fail "hangar init $STORE"
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
	unmount_at_exit "$mnt"
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

# wait_mounted DIR : wait up to 10 s for DIR to be a mount point (a mount
# made by a command that daemonizes, such as hangar mount).
wait_mounted() {
	local i
	for i in $(seq 100); do
		findmnt -rn --mountpoint "$1" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	fail "$1 did not get mounted"
}

# expect_log TEXT : the daemon logged a line containing TEXT.
expect_log() {
	grep -qF -- "$1" "$HFS_LOG" || fail "log has no line with: $1"
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

# ---- the hangar command -----------------------------------------------------

# cli_setup : a work directory to run hangar in (see the top).  Commands
# run without a controlling terminal (setsid): one that needs an encrypted
# store's passphrase and got no key option must fail at once, as in cron or
# a unit, not wait for it on the terminal of whoever runs the tests.
# (cli/prompt.sh drives the prompt through a pseudo-terminal.)
cli_setup() {
	need_hangar
	export HANGAR_NO_PROGRESS=1
	work_setup
	cd "$WORK" || fail "cd $WORK"
	OUT=$WORK/.stdout
	ERR=$WORK/.stderr
	NO_TTY=()
	if command -v setsid >/dev/null; then
		NO_TTY=(setsid -w)
	fi
	rc=0
	set -e
}

h() {
	rc=0
	timeout "$T" ${NO_TTY[@]+"${NO_TTY[@]}"} "$HANGAR" "$@" >"$OUT" 2>"$ERR" || rc=$?
	return 0
}

# expect_rc N DESCRIPTION : the last h call exited with N.
expect_rc() {
	if [ "$rc" != "$1" ]; then
		echo "--- stdout:" >&2
		cat "$OUT" >&2
		echo "--- stderr:" >&2
		cat "$ERR" >&2
		fail "$2: exit status $rc, expected $1"
	fi
}

# expect_out REGEX DESCRIPTION / expect_err REGEX DESCRIPTION
expect_out() {
	grep -qE -- "$1" "$OUT" || {
		cat "$OUT" >&2
		fail "$2: stdout does not match /$1/"
	}
}
expect_err() {
	grep -qE -- "$1" "$ERR" || {
		cat "$ERR" >&2
		fail "$2: stderr does not match /$1/"
	}
}

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

# ---- data ---------------------------------------------------------------------

# json_get FILE PYTHON-EXPR : evaluate EXPR on the parsed JSON `j`.
json_get() {
	python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}

# expect_json FILE DESCRIPTION : valid JSON (python3 -m json.tool).
expect_json() {
	python3 -m json.tool "$1" >/dev/null || {
		cat "$1" >&2
		fail "$2: not valid JSON"
	}
}

# make_sparse FILE SIZE OFFSET_MB... : a sparse file with 1 MiB of random
# data at each offset (in MiB).
make_sparse() {
	local file=$1 size=$2 off
	shift 2
	truncate -s "$size" "$file"
	for off in "$@"; do
		dd if=/dev/urandom of="$file" bs=1M seek="$off" count=1 conv=notrunc status=none
	done
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

# sb_field FIELD FILE : the incompat word or the node_shift of the
# container FILE's newer valid superblock slot (core/FORMAT.md section 2).
sb_field() {
	python3 - "$1" "$2" <<'PY'
import struct, sys
d = open(sys.argv[2], 'rb').read(8192)
best = None
for off in (0, 4096):
    s = d[off:off + 512]
    if s[:8] != b'HANGARC1':
        continue
    gen = struct.unpack_from('<Q', s, 48)[0]
    v = struct.unpack_from('<Q', s, 16)[0] if sys.argv[1] == 'incompat' \
        else struct.unpack_from('<I', s, 252)[0]
    if best is None or gen > best[1]:
        best = (v, gen)
print(best[0])
PY
}
