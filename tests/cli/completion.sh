#!/bin/bash
# tests/cli/completion.sh -- contrib/bash-completion/hangar completes
# commands, options and guest names (from STORE/*.hangar).  Uses the real
# bash-completion library when installed, else minimal stand-ins for the two
# helpers the script calls (_init_completion, _filedir).
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib.bash"
cli_setup
completion=$here/../../contrib/bash-completion/hangar
[ -f "$completion" ] || fail "missing $completion"

if [ -f /usr/share/bash-completion/bash_completion ]; then
	# shellcheck disable=SC1091
	source /usr/share/bash-completion/bash_completion
else
	_init_completion() {
		cur=${COMP_WORDS[COMP_CWORD]}
		prev=${COMP_WORDS[COMP_CWORD - 1]}
		words=("${COMP_WORDS[@]}")
		cword=$COMP_CWORD
	}
	_filedir() { COMPREPLY=(FILEDIR); }
fi
set +u # completion functions are not written for set -u
# shellcheck disable=SC1090
source "$completion"

# complete WORDS... -- COMPREPLY for the last word, sorted, space-separated.
complete_words() {
	COMP_WORDS=("$@")
	COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
	COMP_LINE="$*"
	COMP_POINT=${#COMP_LINE}
	COMPREPLY=()
	_hangar
	printf '%s\n' "${COMPREPLY[@]}" | sort | tr '\n' ' ' | sed 's/ $//'
}

expect_completion() { # EXPECTED WORDS...
	local expected=$1 got
	shift
	got=$(complete_words "$@")
	[ "$got" = "$expected" ] || fail "completing '$*': got '$got', expected '$expected'"
}

mkdir store
touch store/web01.hangar store/web02.hangar store/db01.hangar store/.hangar-store store/notes.txt

expect_completion "status" hangar st
expect_completion "rename resize resume rm" hangar r
expect_completion "check create" hangar c
expect_completion "--disk" hangar create store g --di
expect_completion "--json" hangar ls store --j
expect_completion "db01 web01 web02" hangar status store ""
expect_completion "web01 web02" hangar resume store w
expect_completion "web01 web02" hangar rm --force store w
expect_completion "db01" hangar check store d
expect_completion "db01" hangar export store d
expect_completion "" hangar create store w
expect_completion "4K" hangar init store --cluster-size 4
expect_completion "status" hangar help st
expect_completion "key" hangar k
expect_completion "add" hangar key a
expect_completion "--keyfile --keyfile-insecure" hangar ls store --keyf
expect_completion "--new-keyfile --new-passphrase-fd" hangar key add store --new
expect_completion "db01 web01 web02" hangar status --keyfile k store ""
expect_completion "df discard" hangar d
expect_completion "web01 web02" hangar rename store w
expect_completion "web01 web02" hangar resize --shrink store w
expect_completion "--shrink" hangar resize store --sh
expect_completion "qcow2" hangar import store g --format qc
expect_completion "--progress" hangar export store g d --pro

echo "PASS"
