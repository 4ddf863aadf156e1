#!/bin/bash
# tests/cli/check.sh -- `hangar check` exit codes and reports: 0 on a clean
# store, 1 when a container is deliberately corrupted (both superblocks
# overwritten; or the object table block the newest superblock points at),
# 2 when it cannot run.  The other guests keep checking clean, and ls keeps
# listing them (docs/design.md invariant 6); the same holds while mounted.
source "$(dirname "$0")/../lib.bash"
cli_setup

h init store
expect_rc 0 "init"
make_sparse a.raw 64M 0 3
for g in alpha beta gamma; do
	h import store "$g" --disk a.raw
	expect_rc 0 "import $g"
done

h check store
expect_rc 0 "check of a clean store"
expect_out '^alpha: clean \(generation [0-9]+, 1 objects' "clean line"
expect_out '^3 guests checked: 3 clean, 0 with errors, 0 could not be checked$' "summary line"
h check store --json
expect_rc 0 "check --json"
expect_json "$OUT" "check --json"
[ "$(json_get "$OUT" '[g["status"] for g in j["guests"]]')" = "['clean', 'clean', 'clean']" ] ||
	fail "check --json statuses"
[ "$(json_get "$OUT" 'j["guests"][0]["superblocks"]')" = "{'a': True, 'b': True}" ] ||
	fail "check --json superblocks"
h check store beta
expect_rc 0 "check of one guest"
expect_out '^beta: clean' "check of one guest line"
[ "$(grep -c ': clean' "$OUT")" = 1 ] || fail "check GUEST checked more than GUEST"
h check store --quiet
expect_rc 0 "check --quiet"
[ ! -s "$OUT" ] || fail "check --quiet of a clean store printed: $(cat "$OUT")"

# ---- both superblocks overwritten --------------------------------------------
cp store/alpha.hangar alpha.bak
dd if=/dev/urandom of=store/alpha.hangar bs=512 count=1 seek=0 conv=notrunc status=none
dd if=/dev/urandom of=store/alpha.hangar bs=512 count=1 seek=8 conv=notrunc status=none
h check store
expect_rc 1 "check with both superblocks of alpha destroyed"
expect_out '^alpha: [0-9]+ errors?, 0 leaked clusters \(superblock A INVALID, B INVALID\)$' "corrupt line"
expect_out '^  .*superblock' "corrupt message names the superblocks"
expect_out '^beta: clean' "beta still clean"
expect_out '^3 guests checked: 2 clean, 1 with errors' "summary with errors"
h check store --json
expect_rc 1 "check --json with errors"
expect_json "$OUT" "check --json with errors"
[ "$(json_get "$OUT" 'j["with_errors"]')" = 1 ] || fail "json with_errors"
[ "$(json_get "$OUT" 'j["guests"][0]["status"]')" = errors ] || fail "json status errors"
[ "$(json_get "$OUT" 'j["guests"][0]["errors"] > 0')" = True ] || fail "json error count"
[ "$(json_get "$OUT" 'len(j["guests"][0]["messages"]) > 0')" = True ] || fail "json messages"
h check store gamma
expect_rc 0 "check of another guest is unaffected"
h ls store
expect_rc 1 "ls with an unreadable guest"
expect_out '^alpha +unreadable ' "ls marks alpha unreadable"
expect_out '^beta +stopped ' "ls still lists beta"
h status store alpha
expect_rc 1 "status of the unreadable guest"
expect_out '^state +unreadable$' "status of the unreadable guest"
h rm store alpha
expect_rc 1 "rm of an unreadable guest without --force"
expect_err 'use --force' "rm of an unreadable guest says --force"
# The same while hangarfs has the store mounted: check still finds the
# damage in the files the daemon has not opened, and does not check a guest
# the daemon has open read-write (its blocks change under any reader: it
# could only report false corruption), saying which daemon; the healthy
# guests stay usable.
if [ -n "${HANGARFS:-}" ] && [ -e /dev/fuse ] && command -v fusermount3 >/dev/null &&
	command -v findmnt >/dev/null; then
	unmount_at_exit "$WORK/mnt"
	h mount store "$WORK/mnt"
	expect_rc 0 "mount with a corrupt guest"
	wait_mounted "$WORK/mnt"
	cmp -n 1048576 a.raw "$WORK/mnt/beta/disk.raw" || fail "beta unreadable beside a corrupt alpha"
	exec 5<"$WORK/mnt/beta/disk.raw" # beta stays open in the daemon
	h check store
	expect_rc 1 "check of a mounted store with a corrupt guest"
	expect_out '^alpha: [0-9]+ errors?' "mounted check reports alpha"
	expect_out '^beta: clean as of pin hangar-pin-[0-9]+-[0-9]+ ' "mounted check: beta open in the daemon, checked as a pin"
	expect_out '^gamma: clean' "mounted check: gamma (not open) clean"
	h check store beta --json
	expect_rc 0 "mounted check of a guest the daemon has open (a pin)"
	expect_out '"status": "clean", "error": null, "pin": "hangar-pin-' "mounted check of beta, JSON"
	h snapshot list store beta
	! grep -q hangar-pin- "$OUT" || fail "the check left its pin: $(cat "$OUT")"
	exec 5<&-
	h umount "$WORK/mnt"
	expect_rc 0 "umount"
fi
cp alpha.bak store/alpha.hangar
h check store
expect_rc 0 "check after restoring alpha"

# ---- the newest object table block overwritten ---------------------------------
# Superblock layout (core/format.h): generation at byte 48, table offset at
# 56, slots at 0 and 4096.  Corrupt the table the newest slot points at.
gen_a=$(od -An -tu8 -j48 -N8 store/beta.hangar | tr -d ' ')
gen_b=$(od -An -tu8 -j$((4096 + 48)) -N8 store/beta.hangar | tr -d ' ')
if [ "$gen_a" -ge "$gen_b" ]; then slot=0; else slot=4096; fi
table=$(od -An -tu8 -j$((slot + 56)) -N8 store/beta.hangar | tr -d ' ')
[ "$table" -ge 8192 ] || fail "implausible table offset $table"
dd if=/dev/urandom of=store/beta.hangar bs=1 count=64 seek=$((table + 80)) conv=notrunc status=none
h check store
expect_rc 1 "check with beta's object table corrupted"
expect_out '^beta: [0-9]+ errors?' "beta reported"
expect_out 'object table' "message names the object table"
expect_out '^alpha: clean' "alpha clean again"

# ---- could not run --------------------------------------------------------------
h check no-such-store
expect_rc 2 "check of a missing store"
mkdir plain-dir
h check plain-dir
expect_rc 2 "check of a directory that is not a store"
h check store nosuch
expect_rc 2 "check of a missing guest"
expect_err 'no guest named nosuch' "missing guest message"
h check
expect_rc 2 "check without STORE"
if [ "$(id -u)" -ne 0 ]; then
	chmod 000 store/gamma.hangar
	h check store gamma
	expect_rc 2 "check of an unreadable file"
	chmod 600 store/gamma.hangar
fi

echo "PASS"
