#!/bin/bash
# tests/fs/import_interrupt.sh -- an interrupted `hangar import` never
# leaves a guest that looks complete, and never a sealed truncated image.
# SIGINT and SIGTERM: the import removes the guest and dies of the signal.
# SIGKILL: the guest stays, marked incomplete (state "incomplete" in
# `hangar ls`, `status --json` and user.hangar.state), with no memory.save.
# Both with the store unmounted (core directly) and mounted (through the
# daemon and the mount).
. "$(dirname "$0")/../lib.bash"
fs_setup getfattr python3
export HANGAR_NO_PROGRESS=1

# 768 MiB that neither compresses to nothing nor is skipped as zeros, so
# the copy takes long enough to be interrupted
python3 - "$WORK/big" <<'EOF'
import os, sys
block = bytes((i * 131 + 7) & 0xff for i in range(1 << 20))
with open(sys.argv[1], 'wb') as f:
    for i in range(768):
        f.write(block[i % 251:] + block[:i % 251])
EOF
truncate -s 1M "$WORK/small.raw"
printf 'boot' | dd of="$WORK/small.raw" conv=notrunc status=none

# copying GUEST : whether an import has started copying data (its guest is
# marked incomplete by then): through the mount a data file exists, without
# it the container has grown past its first MiBs
copying() {
	[ -e "$MNT/$1/disk.raw" ] || [ -e "$MNT/$1/.memory.save.import" ] ||
		[ "$(stat -c %s "$STORE/$1.hangar" 2>/dev/null || echo 0)" -gt $((4 << 20)) ]
}
# start_import GUEST ARGS... : run an import in the background; wait until
# it has started copying, stop it there (SIGSTOP: on a fast machine the
# whole copy takes well under a second, and a signal sent after it
# finished has nothing left to interrupt), set IMP_PID
start_import() {
	local g=$1 i
	shift
	# (python restores SIGINT's default, which bash ignores in
	# background jobs)
	python3 -c 'import os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_DFL)
os.execv(sys.argv[1], sys.argv[1:])' "$HANGAR" import "$STORE" "$g" "$@" >"$WORK/imp.out" 2>&1 &
	IMP_PID=$!
	for ((i = 0; i < 1000; i++)); do
		if copying "$g"; then
			kill -STOP "$IMP_PID" 2>/dev/null ||
				fail "import of $g finished before it could be interrupted"
			return 0
		fi
		sleep 0.01
	done
	fail "import of $g did not start"
}
# stop_import SIGNAL : send it, let the import go on (SIGCONT), wait, check
# the exit status says so
stop_import() {
	local sig=$1 rc
	kill -"$sig" "$IMP_PID"
	kill -CONT "$IMP_PID" 2>/dev/null
	wait "$IMP_PID"
	rc=$?
	[ "$rc" -ge 128 ] || fail "import after SIG$sig exited $rc: $(cat "$WORK/imp.out")"
}
guest_state() {
	"$HANGAR" status --json "$STORE" "$1" |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["state"])'
}
checks=0
for mode in unmounted mounted; do
	log "$mode: SIGINT and SIGTERM undo the import"
	[ "$mode" = mounted ] && fs_mount
	for sig in INT TERM; do
		g=$(echo "int$sig$mode" | tr 'A-Z' 'a-z')
		start_import "$g" --disk "$WORK/small.raw" --memory "$WORK/big"
		stop_import "$sig"
		! "$HANGAR" ls "$STORE" 2>/dev/null | grep -qw "$g" ||
			fail "$mode SIG$sig: guest $g left behind: $("$HANGAR" ls "$STORE")"
		checks=$((checks + 1))
	done

	log "$mode: SIGKILL leaves the guest marked incomplete, no image sealed"
	for what in disk memory; do
		g=kill$what$mode
		if [ "$what" = disk ]; then
			start_import "$g" --disk "$WORK/big" --memory "$WORK/small.raw"
		else
			start_import "$g" --disk "$WORK/small.raw" --memory "$WORK/big"
		fi
		stop_import KILL
		if [ "$mode" = mounted ]; then
			[ "$(getfattr --absolute-names --only-values -n user.hangar.state "$MNT/$g")" = incomplete ] ||
				fail "$g: user.hangar.state $(getfattr --absolute-names -d -m user.hangar "$MNT/$g")"
			[ ! -e "$MNT/$g/memory.save" ] || fail "$g: a truncated memory.save exists"
		fi
		[ "$(guest_state "$g")" = incomplete ] || fail "$g: state $(guest_state "$g")"
		"$HANGAR" ls "$STORE" | grep -E "^$g +incomplete" >/dev/null ||
			fail "$g: hangar ls: $("$HANGAR" ls "$STORE")"
		checks=$((checks + 1))
	done
	[ "$mode" = mounted ] && fs_remount # after a restart: still incomplete,
	for what in disk memory; do         # and no image became resumable
		g=kill$what$mode
		[ "$(guest_state "$g")" = incomplete ] || fail "$g after remount: $(guest_state "$g")"
		"$HANGAR" status "$STORE" "$g" | grep -q "^save lock .*pins" &&
			fail "$g: an interrupted import sealed an image"
	done
	[ "$mode" = mounted ] && fs_umount
	t "$HANGAR" rm --force "$STORE" "killdisk$mode" >/dev/null || fail "rm the incomplete guest"
done

log "a complete import is not marked"
t "$HANGAR" import "$STORE" whole --disk "$WORK/small.raw" --memory "$WORK/small.raw" >/dev/null ||
	fail "import whole"
[ "$(guest_state whole)" = saved ] || fail "whole: $(guest_state whole)"
t "$HANGAR" check "$STORE" >/dev/null || fail "check at the end"
echo "PASS ($checks interruptions)"
