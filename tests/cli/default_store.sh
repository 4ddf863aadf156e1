#!/bin/bash
# tests/cli/default_store.sh -- the default store: with STORE left out,
# every command uses $HANGAR_STORE, else the `store = PATH` line of the
# configuration file ($HANGAR_CONF stands in for /etc/hangar.conf here, so
# the test never touches /etc).  Precedence: command line > environment >
# file.  STORE on the command line still works everywhere; a bad file is an
# error, never a silent fallback.
source "$(dirname "$0")/../lib.bash"
cli_setup
unset HANGAR_STORE
export HANGAR_CONF=$WORK/hangar.conf

h init a
expect_rc 0 "init a"
h init b
expect_rc 0 "init b"
h create a only-in-a
expect_rc 0 "create in a"
h create b only-in-b
expect_rc 0 "create in b"

# Nothing configured: STORE is missing, as before.
h ls
expect_rc 2 "ls without STORE and no default"
expect_err 'missing STORE' "ls without a default"

# The file.
cat >"$HANGAR_CONF" <<CONF
# hangar defaults
store = $WORK/a

CONF
h ls
expect_rc 0 "ls with the file's store"
expect_out '^only-in-a ' "ls lists the file's store"
# The environment beats the file.
HANGAR_STORE=$WORK/b h ls
expect_rc 0 "ls with HANGAR_STORE"
expect_out '^only-in-b ' "HANGAR_STORE beats the file"
# The command line beats both.
HANGAR_STORE=$WORK/b h ls a
expect_rc 0 "ls STORE"
expect_out '^only-in-a ' "STORE beats HANGAR_STORE"
! grep -q only-in-b "$OUT" || fail "ls a listed b's guest"

# Every kind of command, STORE left out (the file's store, a).
h create web01 --disk 16M
expect_rc 0 "create GUEST"
[ -f a/web01.hangar ] || fail "create without STORE did not use the default store"
h status web01
expect_rc 0 "status GUEST"
make_sparse d.raw 8M 1
h import db01 --disk d.raw
expect_rc 0 "import GUEST"
h export db01 out
expect_rc 0 "export GUEST DIR"
cmp d.raw out/disk.raw || fail "export without STORE"
h check db01
expect_rc 0 "check GUEST"
expect_out '^db01: clean' "check GUEST checks that guest"
h check
expect_rc 0 "check"
expect_out '^3 guests checked' "check without operands checks the default store"
h check b
expect_rc 0 "check STORE (a store directory is STORE)"
expect_out '^only-in-b: clean' "check STORE"
h rename db01 db02
expect_rc 0 "rename OLD NEW"
h resize web01 disk.raw 32M
expect_rc 0 "resize GUEST DISK SIZE"
h df --json
expect_rc 0 "df"
[ "$(json_get "$OUT" 'j["store"]')" = "$WORK/a" ] || fail "df without STORE"
h rm db02
expect_rc 0 "rm GUEST"
[ ! -e a/db02.hangar ] || fail "rm without STORE"
h discard web01
expect_rc 1 "discard GUEST (nothing saved)"
expect_err 'web01' "discard names the guest"
h key list
expect_rc 1 "key list on a plain default store"
# The old form still works with a default set.
h status b only-in-b
expect_rc 0 "status STORE GUEST with a default set"
h rename b only-in-b renamed-in-b
expect_rc 0 "rename STORE OLD NEW with a default set"
[ -f b/renamed-in-b.hangar ] || fail "rename STORE OLD NEW"

# A bad file is an error with the line, not a fallback.
echo "store = relative/path" >"$HANGAR_CONF"
h ls
expect_rc 2 "ls with a relative store in the file"
expect_err 'hangar.conf:1: store must be an absolute path' "relative path refused"
echo "this is not a setting" >"$HANGAR_CONF"
h ls
expect_err 'hangar.conf:1: expected `key = value`' "malformed line refused"
# Keys of a newer version are ignored.
printf 'colour = blue\nstore = %s\n' "$WORK/b" >"$HANGAR_CONF"
h ls
expect_rc 0 "unknown keys are ignored"
expect_out '^renamed-in-b ' "the file's store after an unknown key"
echo "PASS"
