#!/bin/bash
# tests/cli/clone_interrupt.sh -- `hangar clone` stopped by SIGINT or
# SIGTERM mid-copy leaves no guest behind (the clone is marked incomplete
# until its last byte is in, and removed when stopped), and the source and
# its snapshot are untouched; an uninterrupted clone of the same source
# then works.
source "$(dirname "$0")/../lib.bash"
cli_setup
SNAP=${HANGAR_TEST_SNAPSHOT:-${HANGAR_BUILD_DIR:-}/tests/hangar_test_snapshot}
[ -x "$SNAP" ] || skip "hangar_test_snapshot is not built"

h init store
expect_rc 0 "init"
# 256 MiB of data: a copy takes a while (--copy: the copy path is what is
# interrupted here, also on a filesystem where clone would share extents)
dd if=/dev/urandom of=big.raw bs=1M count=256 status=none
h import store src --disk big.raw
expect_rc 0 "import"
"$SNAP" store src s || fail "snapshot"

for sig in INT TERM; do
	"$HANGAR" clone --copy store src@s c >"$OUT" 2>"$ERR" &
	pid=$!
	# as soon as the new guest exists: the copy is starting
	for ((i = 0; i < 1000; i++)); do
		[ -e store/c.hangar ] && break
		sleep 0.01
	done
	kill -"$sig" "$pid" 2>/dev/null || { cat "$OUT" "$ERR"; skip "the clone finished before the signal: too fast to interrupt here"; }
	rc=0
	wait "$pid" || rc=$?
	[ "$rc" != 0 ] || fail "clone stopped by SIG$sig exited 0"
	grep -q 'interrupted' "$ERR" || { cat "$ERR"; fail "clone stopped by SIG$sig does not say it was interrupted"; }
	[ ! -e store/c.hangar ] || fail "clone stopped by SIG$sig left guest c"
	h ls store
	expect_rc 0 "ls after the stopped clone"
	grep -q '^c ' "$OUT" && fail "ls lists the stopped clone"
done
h clone store src@s c
expect_rc 0 "clone after the stopped ones"
h export store c out
expect_rc 0 "export of the clone"
cmp big.raw out/disk.raw || fail "the clone differs from its source"
log "ok"
