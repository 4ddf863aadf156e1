#!/bin/bash
# tests/cli/completion_zsh.sh -- contrib/zsh-completion/_hangar, the zsh
# completion of hangar and hangarfs, in a non-interactive `zsh -f`: the
# file is autoloaded from $fpath as compinit would, and the completion
# builtins it calls (compadd, compset, _files) are stand-ins that record
# what would be offered (compadd filtering by $PREFIX as the real one
# does).  Checks, as tests/cli/completion.sh does for bash: every command
# of `hangar --list-commands`, every option of each command's --help and
# every -o option of `hangarfs --list-options` completes; guests, sizes,
# sub-commands and comma-separated -o lists.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib.bash"
cli_setup
need zsh
[ -n "${HANGARFS:-}" ] && [ -x "$HANGARFS" ] || skip "HANGARFS is not set to the built hangarfs"
completion_dir=$(realpath "$here/../../contrib/zsh-completion")
[ -f "$completion_dir/_hangar" ] || fail "missing $completion_dir/_hangar"
head -1 "$completion_dir/_hangar" | grep -qx '#compdef hangar hangarfs' ||
	fail "_hangar does not start with '#compdef hangar hangarfs'"

mkdir bin store
ln -s "$HANGAR" bin/hangar
ln -s "$(realpath "$HANGARFS")" bin/hangarfs
touch store/web01.hangar store/web02.hangar store/db01.hangar store/.hangar-store store/notes.txt

cat >run.zsh <<'ZSH'
emulate zsh
export LC_ALL=C
fpath=($COMPLETION_DIR $fpath)
autoload -Uz _hangar
typeset -ga REPLY_LIST
compadd() {
  local -a cand
  while (( $# )); do
    case $1 in
      -a) shift; cand+=( ${(P)1} ) ;;
      -S|-P|-J|-X) shift ;;
      --) shift; cand+=( "$@" ); break ;;
      -*) ;;
      *) cand+=( "$1" ) ;;
    esac
    shift
  done
  local c
  for c in $cand; do
    [[ $c == ${PREFIX}* ]] && REPLY_LIST+=( $IPREFIX$c )
  done
}
compset() {
  if [[ $1 == -P && $PREFIX == *,* ]]; then
    IPREFIX=${PREFIX%,*},
    PREFIX=${PREFIX##*,}
  fi
}
_files() { REPLY_LIST+=( FILES ) }
complete_words() {
  words=( "$@" ); CURRENT=$#; PREFIX=${words[-1]}; IPREFIX=
  service=${words[1]}; REPLY_LIST=()
  _hangar
  (( ${#REPLY_LIST} )) && print -rl -- $REPLY_LIST | sort | paste -sd ' '
}
fails=0
expect() { # EXPECTED WORDS...
  local want=$1 got; shift
  got=$(complete_words "$@")
  [[ $got == $want ]] || { print -r "completing '$*': got '$got', expected '$want'"; fails=1 }
}
offers() { # WORD WORDS...
  local want=$1 got; shift
  got=" $(complete_words "$@") "
  [[ $got == *" $want "* ]] || { print -r "completing '$*' does not offer '$want' (got '$got')"; fails=1 }
}

n=0
for cmd in ${(f)"$(hangar --list-commands)"}; do
  offers $cmd hangar ${cmd[1]}
  [[ $cmd == help ]] && continue
  for opt in ${(f)"$(hangar $cmd --help | grep -E '^ +-' | grep -oE -- '(^|[ ,])--?[a-zA-Z][a-z-]*' | tr -d ' ,')"}; do
    offers $opt hangar $cmd ${opt[1,3]}
    (( n++ ))
  done
done
(( n > 40 )) || { print "only $n options found"; fails=1 }
for o in ${(f)"$(hangarfs --list-options)"}; do
  offers $o hangar mount store mnt -o ${o[1,2]}
  offers $o hangarfs store mnt -o ${o[1,2]}
done
for f in -f -d -s -o --help --version; do offers $f hangarfs ${f[1,2]}; done

expect "status" hangar st
expect "release rename resize resume rm rollback" hangar r
expect "--help --version --wait -V" hangar -
# after the global --wait[=SECONDS], as without it
expect "status" hangar --wait st
expect "db01 web01 web02" hangar --wait=10 status store ""
expect "--disk" hangar --wait create store g --di
expect "--disk" hangar create store g --di
expect "db01 web01 web02" hangar status store ""
expect "web01 web02" hangar rm --force store w
expect "db01" hangar export store d
expect "" hangar create store w
expect "FILES" hangar create store g --config ""
expect "1.5T 100G 10G 1G" hangar create store g --disk 1
expect "4K" hangar init store --cluster-size 4
expect "status" hangar help st
expect "add" hangar key a
expect "--keyfile --keyfile-insecure" hangar ls store --keyf
expect "db01 web01 web02" hangar status --passphrase-fd 3 store ""
expect "commit_interval=" hangarfs store mnt -o comm
expect "ro,commit_interval=" hangarfs store mnt -o ro,comm
expect "allow_other,keyfile= allow_other,keyfile_insecure" hangar mount store mnt -o allow_other,key
expect "FILES" hangarfs s
exit $fails
ZSH
PATH=$WORK/bin:$PATH COMPLETION_DIR=$completion_dir t zsh -f run.zsh >zsh.out 2>&1 ||
	{ cat zsh.out >&2; fail "zsh completion"; }
[ ! -s zsh.out ] || { cat zsh.out >&2; fail "zsh printed something"; }
echo "PASS"
