#!/bin/bash
# tests/cli/odd_names.sh -- file names are bytes: a guest file whose name
# holds control characters, an escape sequence, a newline or bytes that are
# not UTF-8 (made through a mounted store) must leave `status --json`,
# `ls --json` and `check --json` valid JSON (a name that is not UTF-8 is
# given with its undecodable bytes as \xNN plus the exact bytes in
# "name_hex"), and the text output of ls and status must carry no raw
# control byte and no invalid UTF-8 (escaped as \xNN, like `ls -b`).
source "$(dirname "$0")/../lib.bash"
cli_setup
need_fuse
need python3

h init store
expect_rc 0 "init"
h create store g --disk 1M
expect_rc 0 "create"
mnt=$WORK/mnt
unmount_at_exit "$mnt"
h mount store "$mnt"
expect_rc 0 "mount"
wait_mounted "$mnt"

ctl=$'ctl\x01\x1b[31mred'
newline=$'two\nlines'
notutf8=$'bad\xff\xfe.bin'
backslash='back\x41slash'
utf8=$'caf\xc3\xa9'
c1=$'csi\xc2\x9b31m'      # U+009B, a C1 control some terminals obey
surrogate=$'sur\xed\xa0\x80' # an encoded surrogate: not UTF-8
for name in "$ctl" "$newline" "$notutf8" "$backslash" "$utf8" "$c1" "$surrogate"; do
	echo data >"$mnt/g/$name" || fail "cannot create $(printf %q "$name") on the mount"
done
# A disk whose name is odd too (*.raw is a disk): it shows in ls's line.
touch "$mnt/g/"$'odd\x07\xffdisk.raw' || fail "cannot create an odd disk name"
h umount "$mnt"
expect_rc 0 "umount"

# ---- JSON -----------------------------------------------------------------
# Every --json output must be strict UTF-8 JSON (python's json.loads of the
# bytes decoded as strict UTF-8).
strict_json() { # FILE WHAT
	python3 -c 'import json,sys; json.loads(open(sys.argv[1],"rb").read().decode("utf-8","strict"))' "$1" ||
		fail "$2: not valid UTF-8 JSON: $(od -c "$1" | head -20)"
}
h status store g --json
expect_rc 0 "status --json"
strict_json "$OUT" "status --json"
python3 - "$OUT" <<'EOF' || fail "status --json names: $(cat "$OUT")"
import json, sys
j = json.load(open(sys.argv[1], "rb"))
files = {f["name"]: f for f in j["files"]}
assert "ctl\x01\x1b[31mred" in files, files.keys()
assert "two\nlines" in files, files.keys()
assert "back\\x41slash" in files, files.keys()
assert "caf\u00e9" in files, files.keys()
assert "name_hex" not in files["caf\u00e9"], files["caf\u00e9"]
assert "name_hex" not in files["back\\x41slash"], files["back\\x41slash"]
bad = {f["name"]: f["name_hex"] for f in j["files"] if "name_hex" in f}
assert bad == {"bad\\xff\\xfe.bin": b"bad\xff\xfe.bin".hex(),
               "sur\\xed\\xa0\\x80": b"sur\xed\xa0\x80".hex()}, bad
EOF
h ls store --json
expect_rc 0 "ls --json"
strict_json "$OUT" "ls --json"
[ "$(json_get "$OUT" '[d.get("name_hex") for d in j["guests"][0]["disks"]]')" = \
	"[None, '$(printf 'odd\x07\xffdisk.raw' | od -An -tx1 | tr -d ' \n')']" ] ||
	fail "ls --json: the odd disk has no name_hex: $(cat "$OUT")"
h check store --json
strict_json "$OUT" "check --json"

# ---- text -----------------------------------------------------------------
no_raw_bytes() { # FILE WHAT : valid UTF-8, no control character but \n (C0, DEL, C1)
	python3 -c '
import sys
b = open(sys.argv[1], "rb").read()
text = b.decode("utf-8", "strict")
bad = [c for c in text if (c < " " and c != "\n") or "\x7f" <= c <= "\x9f"]
assert not bad, bad' "$1" || fail "$2 prints raw bytes: $(od -c "$1" | head -30)"
}
h status store g
expect_rc 0 "status"
no_raw_bytes "$OUT" "status"
expect_out 'ctl\\x01\\x1b\[31mred' "status shows the control characters escaped"
expect_out 'bad\\xff\\xfe\.bin' "status shows the invalid UTF-8 escaped"
expect_out 'two\\x0alines' "status shows the newline escaped"
expect_out 'back\\\\x41slash' "status escapes a real backslash"
expect_out "$utf8" "status keeps valid UTF-8 as it is"
expect_out 'csi\\xc2\\x9b31m' "status shows a C1 control escaped"
expect_out 'sur\\xed\\xa0\\x80' "status shows an encoded surrogate escaped"
h ls store
expect_rc 0 "ls"
no_raw_bytes "$OUT" "ls"
expect_out 'odd\\x07\\xffdisk\.raw' "ls shows the disk name escaped"
h check store
no_raw_bytes "$OUT" "check"
h export store g exported
expect_rc 0 "export"
no_raw_bytes "$OUT" "export"
[ -f "exported/$notutf8" ] || fail "export did not write the file with the invalid UTF-8 name as it is"
echo "PASS"
