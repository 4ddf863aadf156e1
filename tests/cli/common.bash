# tests/cli/common.bash -- sourced by tests/cli/*.sh (not a test itself:
# ctest runs only *.sh).  Conventions (STYLE.md practice 13): exit 77 with
# "SKIPPED: reason" when a prerequisite is missing, clean up in a trap,
# bound everything with timeouts.

set -euo pipefail

skip() {
	echo "SKIPPED: $*"
	exit 77
}

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

# The hangar binary: $HANGAR from ctest, else the usual build location.
if [ -z "${HANGAR:-}" ]; then
	for candidate in "${HANGAR_BUILD_DIR:-}/cli/hangar" "$(dirname "${BASH_SOURCE[0]}")/../../build/cli/hangar"; do
		if [ -x "$candidate" ]; then
			HANGAR=$candidate
			break
		fi
	done
fi
[ -n "${HANGAR:-}" ] && [ -x "$HANGAR" ] || skip "hangar not built (set HANGAR)"
HANGAR=$(realpath "$HANGAR")
[ -z "${HANGARFS:-}" ] || HANGARFS=$(realpath "$HANGARFS")
export HANGAR_NO_PROGRESS=1

TEST_TMP=$(mktemp -d "${TMPDIR:-/tmp}/hangar-cli-test.XXXXXX")
TEST_MOUNTS=()
cleanup() {
	local m
	for m in "${TEST_MOUNTS[@]+"${TEST_MOUNTS[@]}"}"; do
		if findmnt -rn --mountpoint "$m" >/dev/null 2>&1; then
			fusermount3 -u "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
		fi
	done
	rm -rf "$TEST_TMP"
}
trap cleanup EXIT
cd "$TEST_TMP"

OUT=$TEST_TMP/.stdout
ERR=$TEST_TMP/.stderr

# Commands run without a controlling terminal (setsid): one that needs an
# encrypted store's passphrase and got no key option must fail at once, as
# in cron or a unit, not wait for it on the terminal of whoever runs the
# tests.  (prompt.sh drives the prompt through a pseudo-terminal.)
NO_TTY=()
if command -v setsid >/dev/null; then
	NO_TTY=(setsid -w)
fi

# h ARGS... -- run hangar with a timeout and no controlling terminal;
# stdout in $OUT, stderr in $ERR, exit status in $rc.  Never fails by
# itself.
rc=0
h() {
	rc=0
	timeout 120 ${NO_TTY[@]+"${NO_TTY[@]}"} "$HANGAR" "$@" >"$OUT" 2>"$ERR" || rc=$?
	return 0
}

# expect_rc N DESCRIPTION -- the last h call exited with N.
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

# json_get FILE PYTHON-EXPR -- evaluate EXPR on the parsed JSON `j`.
json_get() {
	python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}

# expect_json FILE -- valid JSON (python3 -m json.tool).
expect_json() {
	python3 -m json.tool "$1" >/dev/null || {
		cat "$1" >&2
		fail "$2: not valid JSON"
	}
}

# make_sparse FILE SIZE OFFSET_MB... -- a sparse file with 1 MiB of random
# data at each offset (in MiB).
make_sparse() {
	local file=$1 size=$2 off
	shift 2
	truncate -s "$size" "$file"
	for off in "$@"; do
		dd if=/dev/urandom of="$file" bs=1M seek="$off" count=1 conv=notrunc status=none
	done
}

# need_fuse -- skip unless a hangarfs mount is possible here.
need_fuse() {
	[ -n "${HANGARFS:-}" ] && [ -x "$HANGARFS" ] || skip "hangarfs not built (set HANGARFS)"
	[ -e /dev/fuse ] || skip "no /dev/fuse"
	command -v fusermount3 >/dev/null || skip "fusermount3 not installed (apt-get install fuse3)"
	command -v findmnt >/dev/null || skip "findmnt not installed"
}

# wait_mounted DIR -- wait up to 10 s for DIR to be a mount point.
wait_mounted() {
	local i
	for i in $(seq 100); do
		findmnt -rn --mountpoint "$1" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	fail "$1 did not get mounted"
}
