#!/bin/bash
# tests/security/check_report.sh -- `hangar check` never hides damage it
# saw, and text and JSON say the same.
#
# Attacks (2): (1) superblock slot B overwritten with dd: the container
# rolls back to slot A's state, which is self-consistent, so there are no
# errors; the JSON reports slot B invalid, and the text must say so too
# (it printed a bare "clean"), also with --quiet; (2) slot A overwritten
# instead: the same for A.
. "$(dirname "$0")/../lib.bash"
fs_setup python3 dd

for slot in B A; do
	rm -rf "$STORE"
	t "$HANGAR" init "$STORE" >/dev/null || fail "init"
	t "$HANGAR" create "$STORE" g --disk 4M >/dev/null || fail "create"
	off=0
	[ "$slot" = B ] && off=4096
	log "attack: superblock $slot overwritten"
	dd if=/dev/urandom of="$STORE/g.hangar" bs=1 seek=$((off + 8)) count=16 \
		conv=notrunc status=none
	json=$(t "$HANGAR" check "$STORE" --json) || fail "check --json: rc $?"
	valid=$(python3 -c 'import json,sys; j=json.loads(sys.argv[1]); g=j["guests"][0]
print(g["superblocks"]["'"${slot,,}"'"], len(g["warnings"]))' "$json")
	[ "$valid" = "False 1" ] || fail "JSON: slot $slot not reported invalid with a warning: $json"
	text=$(t "$HANGAR" check "$STORE") || fail "check: rc $?"
	case "$text" in *"superblock $slot is invalid"*) ;;
	*) fail "text hides the invalid slot $slot that JSON reports: $text" ;; esac
	text=$(t "$HANGAR" check "$STORE" --quiet)
	case "$text" in *"superblock $slot is invalid"*) ;;
	*) fail "--quiet hides the invalid slot $slot: $text" ;; esac
done
echo "PASS: 2 attacks"
