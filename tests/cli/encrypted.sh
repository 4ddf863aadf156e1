#!/bin/bash
# tests/cli/encrypted.sh -- hangar on an encrypted store: every command
# that opens the store takes --keyfile / --passphrase-fd; ls and status say
# "encrypted (aes-256-gcm)" (and --json); `hangar key add|remove|list`
# manage the slots (a second keyfile, a passphrase, the last slot kept); a
# wrong or missing key (with no terminal to ask on) is exit 1 with a clear
# message; `hangar mount --keyfile` mounts it and commands go through the
# daemon without a key.  (prompt.sh: the passphrase asked on a terminal.)
source "$(dirname "$0")/../lib.bash"
cli_setup

head -c 64 /dev/urandom >k1
head -c 64 /dev/urandom >k2
head -c 64 /dev/urandom >bad
chmod 600 k1 k2 bad  # key files must be private (hangar refuses others)

h init store --encrypt --keyfile k1
expect_rc 0 "init --encrypt"
expect_out "initialized encrypted \(aes-256-gcm\) store" "init says encrypted"

# ---- no key, wrong key ------------------------------------------------
h ls store
expect_rc 1 "ls without a key (and no terminal to ask on)"
expect_err "^hangar: store: the store is encrypted: give --keyfile FILE or --passphrase-fd N \(there is no terminal" "no-key message"
h ls store --keyfile bad
expect_rc 1 "ls with a wrong key"
expect_err "^hangar: store: wrong passphrase or key file" "wrong-key message"
h create store web01 --disk 64M --keyfile bad
expect_rc 1 "create with a wrong key"
expect_err "wrong passphrase or key file" "create: wrong-key message"
h ls store --keyfile nonexistent
expect_rc 1 "ls with a missing key file"
expect_err "nonexistent: cannot read the key" "missing key file message"
h ls store --passphrase-fd x
expect_rc 2 "bad descriptor is a usage error"

# ---- the commands with the key ----------------------------------------
echo "memory=512 CONFIG-KNOWN-STRING-51d2" >config.in
h create store web01 --disk 64M --config config.in --keyfile k1
expect_rc 0 "create"
h ls store --keyfile k1
expect_rc 0 "ls"
expect_out "encrypted \(aes-256-gcm\)" "ls says encrypted"
expect_out "^web01 " "ls lists web01"
h ls store --json --keyfile k1
expect_rc 0 "ls --json"
expect_json "$OUT" "ls --json"
[ "$(json_get "$OUT" 'j["encryption"]')" = aes-256-gcm ] || fail "ls --json encryption"
[ "$(json_get "$OUT" 'j["guests"][0]["container"]["encryption"]')" = aes-256-gcm ] ||
	fail "ls --json container encryption"
h status store web01 --keyfile k1
expect_rc 0 "status"
expect_out "encrypted \(aes-256-gcm\)" "status says encrypted"
h status store web01 --json --keyfile k1
expect_rc 0 "status --json"
[ "$(json_get "$OUT" 'j["container"]["encryption"]')" = aes-256-gcm ] ||
	fail "status --json encryption"
h check store --keyfile k1
expect_rc 0 "check with the key"
h export store web01 out --keyfile k1
expect_rc 0 "export"
cmp -s config.in out/config || fail "exported config differs"
grep -qa CONFIG-KNOWN-STRING-51d2 store/web01.hangar && fail "config in clear in the container"
make_sparse disk.img 16M 1 5
h import store web02 --disk disk.img --keyfile k1
expect_rc 0 "import"
h rm store web02 --keyfile k1
expect_rc 0 "rm"

# a plain store says nothing about keys and ignores none
h init plain
h ls plain --json
[ "$(json_get "$OUT" 'j["encryption"]')" = None ] || fail "plain store encryption"
h key list plain
expect_rc 1 "key list on a plain store"
expect_err "not encrypted" "key list plain message"

# ---- key slots --------------------------------------------------------
h key list store
expect_rc 0 "key list (no key needed)"
expect_out "^0 +keyfile +[0-9]{4}-[0-9]{2}-[0-9]{2} " "slot 0 is a keyfile with a date"
h key add store --new-keyfile k2
expect_rc 1 "key add without the current key (and no terminal)"
expect_err "the store is encrypted: give --keyfile FILE or --passphrase-fd N" "key add no-key message"
h key add store --keyfile bad --new-keyfile k2
expect_rc 1 "key add with a wrong current key"
expect_err "wrong passphrase or key file" "key add wrong key"
h key add store --keyfile k1 --new-keyfile k2
expect_rc 0 "key add keyfile"
expect_out "added key slot 1" "slot 1 added"
h ls store --keyfile k2
expect_rc 0 "open with the second keyfile"
expect_out "^web01 " "ls with k2"
h key add store --keyfile k2 --new-passphrase-fd 3 3<<<"correct horse"
expect_rc 0 "key add passphrase"
h status store web01 --passphrase-fd 3 3<<<"correct horse"
expect_rc 0 "open with the passphrase"
h ls store --passphrase-fd 3 3<<<"wrong horse"
expect_rc 1 "wrong passphrase"
expect_err "wrong passphrase or key file" "wrong passphrase message"
h key list store --json --keyfile k2
expect_rc 0 "key list --json"
[ "$(json_get "$OUT" '[s["kind"] for s in j["slots"]]')" = "['keyfile', 'keyfile', 'passphrase']" ] ||
	fail "key list --json kinds: $(cat "$OUT")"

h key remove store --slot 0 --keyfile k2
expect_rc 0 "remove the first key"
h ls store --keyfile k1
expect_rc 1 "the removed key no longer opens"
expect_err "wrong passphrase or key file" "removed key message"
h key remove store --slot 0 --keyfile k2
expect_rc 1 "remove an empty slot"
expect_err "slot 0 is empty" "empty slot message"
h key remove store --slot 2 --passphrase-fd 3 3<<<"correct horse"
expect_rc 0 "remove the passphrase slot"
h key remove store --slot 1 --keyfile k2
expect_rc 1 "remove the last slot"
expect_err "slot 1 is the last key slot" "last slot message"
h ls store --keyfile k2
expect_rc 0 "store still opens after refusing the last removal"

# ---- mount with the key; commands through the daemon ------------------
if [ -n "${HANGARFS:-}" ] && [ -x "$HANGARFS" ] && [ -e /dev/fuse ] &&
	command -v fusermount3 >/dev/null && command -v findmnt >/dev/null; then
	mkdir mnt
	unmount_at_exit "$WORK/mnt"
	h mount store mnt
	expect_rc 1 "mount without a key (and no terminal)"
	expect_err "the store is encrypted: give --keyfile FILE or --passphrase-fd N" "mount no-key message"
	findmnt -rn --mountpoint "$WORK/mnt" >/dev/null 2>&1 && fail "mounted without a key"
	h mount store mnt --keyfile k1
	expect_rc 1 "mount with a removed key"
	expect_err "wrong passphrase or key file" "mount wrong key message"
	h mount store mnt --keyfile k2
	expect_rc 0 "hangar mount --keyfile"
	wait_mounted mnt
	cmp -s config.in mnt/web01/config || fail "config through the mount"
	h create store web03 --disk 16M
	expect_rc 0 "create through the daemon needs no key"
	[ -f mnt/web03/disk.raw ] || fail "web03 not on the mount"
	h ls store --keyfile k2
	expect_rc 0 "ls of the mounted store with the key"
	expect_out "^web03 " "ls sees web03"
	h umount mnt
	expect_rc 0 "umount"
	for i in $(seq 100); do
		findmnt -rn --mountpoint "$WORK/mnt" >/dev/null 2>&1 || break
		sleep 0.1
	done
	for i in $(seq 100); do
		h rm store web03 --keyfile k2
		[ "$rc" = 0 ] && break
		sleep 0.1
	done
	expect_rc 0 "rm after unmount"
fi
echo PASS
