#!/bin/bash
# tests/cli/completion.sh -- contrib/bash-completion/hangar, through bash's
# own completion machinery (COMP_WORDS/COMP_CWORD and the function
# `complete -p` registered), without an interactive shell:
#   - it cannot drift from the binaries: every command `hangar
#     --list-commands` prints, every option of every command's --help
#     (checked independently of the script's parser), and every -o option
#     `hangarfs --list-options` prints complete, for hangar and hangarfs;
#   - positional arguments: guest names from STORE/*.hangar, sub-commands,
#     sizes, comma-separated -o lists.
# Uses the real bash-completion library when installed, else minimal
# stand-ins for the two helpers the script calls (_init_completion,
# _filedir).  The zsh script is tests/cli/completion_zsh.sh.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib.bash"
cli_setup
completion=$here/../../contrib/bash-completion/hangar
[ -f "$completion" ] || fail "missing $completion"
[ -n "${HANGARFS:-}" ] && [ -x "$HANGARFS" ] || skip "HANGARFS is not set to the built hangarfs"

# The programs by their names, as a person types them.
mkdir bin
ln -s "$HANGAR" bin/hangar
ln -s "$(realpath "$HANGARFS")" bin/hangarfs
PATH=$WORK/bin:$PATH

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
	compopt() { :; }
fi
set +eu # completion functions are not written for set -eu
# shellcheck disable=SC1090
source "$completion"
complete -p hangar | grep -q -- '-F _hangar hangar$' || fail "hangar's completion is not registered"
complete -p hangarfs | grep -q -- '-F _hangarfs hangarfs$' || fail "hangarfs's completion is not registered"

# complete_words WORDS... -- COMPREPLY for the last word, sorted,
# space-separated, through the function `complete -p WORDS[0]` names.
complete_words() {
	local fn
	fn=$(complete -p "$1" | sed -n 's/.*-F \([^ ]*\) .*/\1/p')
	COMP_WORDS=("$@")
	COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
	COMP_LINE="$*"
	COMP_POINT=${#COMP_LINE}
	COMPREPLY=()
	"$fn" "$1" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
	printf '%s\n' "${COMPREPLY[@]}" | LC_ALL=C sort | tr '\n' ' ' | sed 's/ $//'
}

expect_completion() { # EXPECTED WORDS...
	local expected=$1 got
	shift
	got=$(complete_words "$@")
	[ "$got" = "$expected" ] || fail "completing '$*': got '$got', expected '$expected'"
}

# expect_offers WORD WORDS... : completing WORDS offers WORD (among others).
expect_offers() {
	local want=$1 got
	shift
	got=" $(complete_words "$@") "
	[[ $got == *" $want "* ]] || fail "completing '$*' does not offer '$want' (got '$got')"
}

log "every command and option of the binaries completes"
commands=$(hangar --list-commands) || fail "hangar --list-commands"
for cmd in init create import export ls status resume discard check rm mount umount key help; do
	grep -qxF "$cmd" <<<"$commands" || fail "--list-commands lacks $cmd"
done
# Every command `hangar --help` lists is in --list-commands.
for cmd in $(hangar --help | awk '/^Commands:/ { on = 1; next } on && /^  [a-z]/ { print $1 }'); do
	grep -qxF "$cmd" <<<"$commands" || fail "--list-commands lacks $cmd (in hangar --help)"
done
n_opts=0
for cmd in $commands; do
	expect_offers "$cmd" hangar "${cmd:0:1}"
	[ "$cmd" = help ] && continue
	# The options, read from --help here with grep, not the script's awk.
	for opt in $(hangar "$cmd" --help | grep -E '^ +-' | grep -oE -- '(^|[ ,])--?[a-zA-Z][a-z-]*' | tr -d ' ,'); do
		expect_offers "$opt" hangar "$cmd" "${opt:0:3}"
		n_opts=$((n_opts + 1))
	done
done
[ "$n_opts" -gt 40 ] || fail "only $n_opts options found in the help texts"
hangar_fs_opts=$(hangarfs --list-options) || fail "hangarfs --list-options"
for o in $hangar_fs_opts; do
	expect_offers "$o" hangar mount store mnt -o "${o:0:2}"
	expect_offers "$o" hangarfs store mnt -o "${o:0:2}"
done
for flag in -f -d -s -o --help --version; do
	expect_offers "$flag" hangarfs "${flag:0:2}"
done

log "positional arguments and option values"
mkdir store
touch store/web01.hangar store/web02.hangar store/db01.hangar store/.hangar-store store/notes.txt

expect_completion "status" hangar st
expect_completion "release rename resize resume rm rollback" hangar r
expect_completion "check clone create" hangar c
expect_completion "--help --version --wait -V" hangar -
# after the global --wait[=SECONDS], as without it
expect_completion "status" hangar --wait st
expect_completion "db01 web01 web02" hangar --wait=10 status store ""
expect_completion "--disk" hangar --wait create store g --di
expect_completion "--disk" hangar create store g --di
expect_completion "--json" hangar ls store --j
expect_completion "db01 web01 web02" hangar status store ""
expect_completion "web01 web02" hangar resume store w
expect_completion "web01 web02" hangar rm --force store w
expect_completion "db01" hangar check store d
expect_completion "db01" hangar export store d
expect_completion "" hangar create store w
expect_completion "1.5T 100G 10G 1G" hangar create store g --disk 1
expect_completion "4K" hangar init store --cluster-size 4
expect_completion "status" hangar help st
expect_completion "key" hangar k
expect_completion "add" hangar key a
expect_completion "--keyfile --keyfile-insecure" hangar ls store --keyf
expect_completion "--new-keyfile --new-passphrase-fd" hangar key add store --new
expect_completion "db01 web01 web02" hangar status --keyfile k store ""
expect_completion "df diff discard" hangar d
expect_completion "web01 web02" hangar rename store w
expect_completion "web01 web02" hangar resize --shrink store w
expect_completion "--shrink" hangar resize store --sh
expect_completion "--progress" hangar export store g d --pro
expect_completion "db01 web01 web02" hangar status --passphrase-fd 3 store ""
expect_completion "commit_interval=" hangarfs store mnt -o comm
expect_completion "ro,commit_interval=" hangarfs store mnt -o ro,comm
expect_completion "allow_other,keyfile= allow_other,keyfile_insecure" hangar mount store mnt -o allow_other,key
# A command this script does not name (a newer hangar) completes as
# COMMAND STORE GUEST: a stand-in hangar with one more command.
rm bin/hangar # the link: never write through it into the build
cat >bin/hangar <<SH
#!/bin/sh
[ "\$1" = --list-commands ] && { "$HANGAR" --list-commands; echo frobnicate; exit 0; }
[ "\$1" = frobnicate ] && { echo "  -x, --example N  an option"; exit 0; }
exec "$HANGAR" "\$@"
SH
chmod +x bin/hangar
expect_completion "frobnicate" hangar fro
expect_completion "--example" hangar frobnicate --ex
expect_completion "web01 web02" hangar frobnicate --example 1 store w
expect_completion "create delete list" hangar snapshot ""
expect_completion "web01 web02" hangar snapshot create store w
expect_completion "--json" hangar snapshot list store web01 --j
expect_completion "web01 web02" hangar rollback store w

echo "PASS"
