#!/bin/bash
# tests/cli/basic.sh -- hangar's command line as a person meets it: help,
# usage errors (exit 2), init, create, ls and status in text and --json.
source "$(dirname "$0")/../lib.bash"
cli_setup

# ---- help and usage errors --------------------------------------------
h --help
expect_rc 0 "hangar --help"
commands="init create import export ls status resume discard check rm mount umount snapshot rollback"
for cmd in $commands; do
	expect_out "^  $cmd " "hangar --help lists $cmd"
done
for cmd in $commands; do
	h "$cmd" --help
	expect_rc 0 "hangar $cmd --help"
	expect_out "^usage: hangar $cmd" "hangar $cmd --help"
done
h --version
expect_rc 0 "hangar --version"
expect_out '^hangar [0-9]' "version line"

h
expect_rc 2 "no command"
expect_err '^hangar: missing command' "no command message"
h frobnicate
expect_rc 2 "unknown command"
expect_err "^hangar: unknown command 'frobnicate'" "unknown command message"
h ls
expect_rc 2 "ls without STORE"
expect_err '^hangar: missing STORE' "ls without STORE message"
h ls a b
expect_rc 2 "ls with two stores"
h ls --no-such-option store
expect_rc 2 "unknown option"
expect_err "^hangar: ls: unknown option '--no-such-option'" "unknown option message"
h init -c
expect_rc 2 "option without argument"
expect_err "needs an argument" "missing option argument message"
h init store --cluster-size 3K
expect_rc 2 "cluster size not a power of two"
h init store --cluster-size 4M
expect_rc 2 "cluster size too big"
[ ! -e store ] || fail "a refused init created the store"

# ---- init ---------------------------------------------------------------
h init store --cluster-size 128K
expect_rc 0 "init"
expect_out 'cluster size 128K' "init reports the cluster size"
[ -f store/.hangar-store ] || fail "init did not create store/.hangar-store"
h init store
expect_rc 1 "init of an existing store"
expect_err '^hangar: store: already a hangar store' "second init message"
h ls not-a-store
expect_rc 1 "ls of a directory that is not a store"
expect_err "not a hangar store" "not-a-store message"

# ---- empty store --------------------------------------------------------
h ls store
expect_rc 0 "ls of an empty store"
[ ! -s "$OUT" ] || fail "ls of an empty store printed: $(cat "$OUT")"
h ls store --json
expect_rc 0 "ls --json of an empty store"
expect_json "$OUT" "ls --json of an empty store"
[ "$(json_get "$OUT" 'len(j["guests"])')" = 0 ] || fail "empty store lists guests"

# ---- create ---------------------------------------------------------------
printf 'name = "web01"\nmemory = 1024\n' >web01.cfg
h create store web01 --disk 20G --disk 512M --config web01.cfg
expect_rc 0 "create"
expect_out 'created guest web01: disk.raw 20G, disk1.raw 512M, config' "create summary"
[ -f store/web01.hangar ] || fail "no container file store/web01.hangar"
h create store web01 --disk 1G
expect_rc 1 "create of an existing guest"
expect_err 'guest web01 already exists' "existing guest message"
h create store 'bad/name' --disk 1G
expect_rc 2 "create with a bad guest name"
expect_err 'invalid guest name' "bad name message"
h create store .hidden
expect_rc 2 "create with a leading dot"
h create store "$(printf 'x%.0s' $(seq 65))"
expect_rc 2 "create with a 65-byte name"
h create store web02 --disk 12Q
expect_rc 2 "create with a bad size"
expect_err "bad disk size '12Q'" "bad size message"
h create store web02 --config /nonexistent/file
expect_rc 1 "create with a missing config"
[ ! -e store/web02.hangar ] || fail "a failed create left store/web02.hangar"
h create store db01 --disk 1G --compress-disks
expect_rc 0 "create --compress-disks"
h create store empty
expect_rc 0 "create without disks"

# ---- ls -------------------------------------------------------------------
h ls store
expect_rc 0 "ls"
expect_out '^GUEST +STATE +MEMORY +LAST CHANGE +DISKS' "ls header"
expect_out '^web01 +stopped +- +[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]{8} +disk.raw 20G \(0 used\), disk1.raw 512M \(0 used\)$' "ls line of web01"
expect_out '^db01 +stopped .* disk.raw 1.0G \(0 used\)$' "ls line of db01"
expect_out '^empty +stopped .* -$' "ls line of a guest without disks"
[ "$(grep -c . "$OUT")" = 4 ] || fail "ls prints a header and one line per guest"
# Sorted by name.
[ "$(sed -n '2s/ .*//p;3s/ .*//p;4s/ .*//p' "$OUT" | tr '\n' ' ')" = "db01 empty web01 " ] ||
	fail "ls is not sorted: $(cat "$OUT")"
h ls store --bytes
expect_rc 0 "ls --bytes"
expect_out 'disk.raw 21474836480 \(0 used\), disk1.raw 536870912 \(0 used\)' "ls --bytes sizes"

h ls store --json
expect_rc 0 "ls --json"
expect_json "$OUT" "ls --json"
[ "$(json_get "$OUT" 'len(j["guests"])')" = 3 ] || fail "ls --json guest count"
[ "$(json_get "$OUT" '[g["name"] for g in j["guests"]]')" = "['db01', 'empty', 'web01']" ] ||
	fail "ls --json names"
[ "$(json_get "$OUT" '[d["size"] for d in j["guests"][2]["disks"]]')" = "[21474836480, 536870912]" ] ||
	fail "ls --json disk sizes"
[ "$(json_get "$OUT" 'j["guests"][2]["state"]')" = stopped ] || fail "ls --json state"
[ "$(json_get "$OUT" 'j["guests"][2]["memory"]')" = None ] || fail "ls --json memory"
[ "$(json_get "$OUT" 'j["guests"][2]["config"]["size"]')" = "$(stat -c %s web01.cfg)" ] ||
	fail "ls --json config size"
[ "$(json_get "$OUT" 'j["guests"][0]["container"]["compress_disks"]')" = True ] ||
	fail "ls --json compress_disks"
[ "$(json_get "$OUT" 'j["guests"][2]["container"]["cluster_size"]')" = 131072 ] ||
	fail "guests get the store's cluster size"
[ "$(json_get "$OUT" 'j["mounted"]')" = False ] || fail "ls --json mounted"

# ---- status ---------------------------------------------------------------
h status store web01
expect_rc 0 "status"
expect_out '^guest +web01$' "status guest line"
expect_out '^state +stopped$' "status state"
expect_out '^container +store/web01.hangar: .*cluster 128K, disk compression off' "status container"
expect_out '^disks +disk.raw +20G virtual, 0 used, generation [0-9]+$' "status first disk"
expect_out '^ +disk1.raw +512M virtual, 0 used' "status second disk"
expect_out '^memory +-$' "status memory"
expect_out '^config +config ' "status config"
expect_out '^save lock +none: the disks are writable$' "status save lock"
h status store web01 --bytes
expect_rc 0 "status --bytes"
expect_out '^disks +disk.raw +21474836480 virtual, 0 used' "status --bytes first disk"
expect_out '^ +disk1.raw +536870912 virtual' "status --bytes second disk"
h status store web01 --json
expect_rc 0 "status --json"
expect_json "$OUT" "status --json"
[ "$(json_get "$OUT" 'j["name"]')" = web01 ] || fail "status --json name"
[ "$(json_get "$OUT" 'j["save_lock"]["state"]')" = stopped ] || fail "status --json save state"
[ "$(json_get "$OUT" 'j["save_lock"]["pins"]')" = "[]" ] || fail "status --json pins"
[ "$(json_get "$OUT" 'len(j["disks"])')" = 2 ] || fail "status --json disks"
h status store nosuch
expect_rc 1 "status of a missing guest"
expect_err 'no guest named nosuch' "missing guest message"
h status store
expect_rc 2 "status without GUEST"

echo "PASS"
