#!/bin/bash
# tests/cli/operands.sh -- every command's operands: too few or too many is
# a usage error (exit 2) whose first line names what is missing ("hangar:
# missing STORE or GUEST") or says "too many arguments", followed by the
# command's synopsis; a GUEST that is no valid guest name is exit 2 too.
# One helper (cli_positional) says this for all of them; this pins the
# exact words, command by command.
source "$(dirname "$0")/../lib.bash"
cli_setup
unset HANGAR_STORE
export HANGAR_CONF=$WORK/no-hangar.conf # no default store: STORE is missing

# expect_operands MESSAGE CMD [ARG...] : `hangar CMD ARG...` is a usage error
# whose stderr is "hangar: MESSAGE" and then the synopsis of CMD.
expect_operands() {
	local msg=$1 cmd=$2
	shift
	h "$@"
	expect_rc 2 "hangar $*"
	[ "$(head -n1 "$ERR")" = "hangar: $msg" ] || {
		cat "$ERR" >&2
		fail "hangar $*: first line is not 'hangar: $msg'"
	}
	sed -n 2p "$ERR" | grep -q "^usage: hangar $cmd" || {
		cat "$ERR" >&2
		fail "hangar $*: no synopsis of $cmd after the message"
	}
	[ ! -s "$OUT" ] || fail "hangar $*: wrote to stdout: $(cat "$OUT")"
}

# One operand: STORE (or MOUNTPOINT).
for cmd in init ls df; do
	expect_operands "missing STORE" $cmd
	expect_operands "too many arguments" $cmd a b
done
expect_operands "missing MOUNTPOINT" umount
expect_operands "too many arguments" umount a b

# STORE and an optional GUEST.
expect_operands "missing STORE" check
expect_operands "too many arguments" check a b c

# Two operands.
for cmd in create import status resume discard rm; do
	expect_operands "missing STORE or GUEST" $cmd
	expect_operands "missing STORE or GUEST" $cmd a
	expect_operands "too many arguments" $cmd a b c
done
expect_operands "missing STORE or MOUNTPOINT" mount a
expect_operands "too many arguments" mount a b c
expect_operands "missing add|remove|list or STORE" key list
expect_operands "too many arguments" key list a b

# Three operands and more.
expect_operands "missing STORE, GUEST or DIR" export a b
expect_operands "too many arguments" export a b c d
expect_operands "missing STORE, OLD or NEW" rename a b
expect_operands "too many arguments" rename a b c d
expect_operands "missing STORE, GUEST, DISK or SIZE" resize a b c
expect_operands "too many arguments" resize a b c d e

# A GUEST operand must be a valid guest name: said before anything is
# opened (the store need not exist), with no synopsis after it.
bad_name="hangar: invalid guest name 'a/b': use 1 to 64 of A-Z a-z 0-9 . _ - and no leading dot"
for args in "create s a/b" "import s a/b -c /dev/null" "export s a/b d" "status s a/b" \
	"resume s a/b" "discard s a/b" "rm s a/b" "check s a/b" "resize s a/b disk.raw 1G"; do
	# shellcheck disable=SC2086 # the words are the arguments
	h $args
	expect_rc 2 "hangar $args"
	[ "$(cat "$ERR")" = "$bad_name" ] || {
		cat "$ERR" >&2
		fail "hangar $args: stderr is not the one line '$bad_name'"
	}
	[ ! -e s ] || fail "hangar $args created the store"
done

# Options still count as options, not operands, wherever they stand.
expect_operands "missing STORE or GUEST" rm -f a
expect_operands "too many arguments" ls a --json b

# With a default store, STORE may be left out, wherever it stands in the
# synopsis: the others are read in their places (a guest name is still
# checked, init still wants its STORE, too many is still too many).
echo "store = $WORK/nowhere" >"$HANGAR_CONF"
h status a/b
expect_rc 2 "status GUEST with a default store"
[ "$(cat "$ERR")" = "$bad_name" ] || fail "status a/b with a default store: $(cat "$ERR")"
h key list
expect_rc 1 "key list with a default store"
expect_err "nowhere" "key list: the default store is STORE"
expect_operands "missing STORE" init
expect_operands "missing STORE, GUEST or DIR" export a
expect_operands "too many arguments" status a b c
rm -f "$HANGAR_CONF"

# Nothing above touched the work directory.
[ ! -e a ] || fail "a usage error created 'a'"

echo "PASS"
