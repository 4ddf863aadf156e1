#!/bin/bash
# tests/cli/savelock.sh -- the save lock from the command line on an
# unmounted store: a guest imported with a memory image is saved; status
# says which image pins which disks and what releases it; rm refuses;
# resume and discard make their transitions and refuse with exit 1 and a
# reason when there is nothing to do.
source "$(dirname "$0")/../lib.bash"
cli_setup

h init store
expect_rc 0 "init"
make_sparse disk.raw 64M 0 10
make_sparse data.raw 32M 5
dd if=/dev/urandom of=mem.save bs=1M count=2 status=none
echo 'name = "web01"' >web01.cfg

h import store web01 --disk disk.raw --disk data.raw=data.raw --config web01.cfg --memory mem.save
expect_rc 0 "import with a memory image"

# ---- status of a saved guest ---------------------------------------------
h status store web01
expect_rc 0 "status of a saved guest"
expect_out '^state +saved since [0-9]{4}-' "status state saved"
expect_out '^memory +memory.save +2.0M' "status memory image"
expect_out '^save lock +memory.save pins 2 files since [0-9]{4}-' "status save lock line"
expect_out '^ +data.raw +generation [0-9]+ \(unchanged\)$' "status pin of data.raw"
expect_out '^ +disk.raw +generation [0-9]+ \(unchanged\)$' "status pin of disk.raw"
expect_out '^config +unchanged since the save$' "status config unchanged"
expect_out '^release +hangar resume store web01 ' "status names resume"
expect_out '^ +hangar discard store web01 ' "status names discard"

h status store web01 --json
expect_rc 0 "status --json of a saved guest"
expect_json "$OUT" "status --json of a saved guest"
[ "$(json_get "$OUT" 'j["state"]')" = saved ] || fail "json state"
[ "$(json_get "$OUT" 'j["save_lock"]["state"]')" = saved ] || fail "json save_lock.state"
[ "$(json_get "$OUT" 'sorted(p["name"] for p in j["save_lock"]["pins"])')" = "['data.raw', 'disk.raw']" ] ||
	fail "json pins"
[ "$(json_get "$OUT" 'any(p["changed"] for p in j["save_lock"]["pins"])')" = False ] || fail "json pins changed"
[ "$(json_get "$OUT" 'j["save_lock"]["saved_time"] is not None')" = True ] || fail "json saved_time"
[ "$(json_get "$OUT" 'j["save_lock"]["config_changed"]')" = False ] || fail "json config_changed"
[ "$(json_get "$OUT" 'j["save_lock"]["release"]')" = "hangar resume" ] || fail "json release"
[ "$(json_get "$OUT" 'j["memory"]["size"]')" = 2097152 ] || fail "json memory size"

h ls store
expect_rc 0 "ls"
expect_out '^web01 +saved +2.0M ' "ls shows saved with the image size"

# ---- rm refuses while saved -------------------------------------------------
h rm store web01
expect_rc 1 "rm of a saved guest"
expect_err 'guest web01 is saved: its memory.save pins its disks; refusing' "rm refusal"
expect_err 'hangar discard store web01' "rm refusal names discard"
[ -f store/web01.hangar ] || fail "refused rm deleted the guest"

# ---- resume ---------------------------------------------------------------
h resume store web01
expect_rc 0 "resume"
expect_out '^web01: resuming' "resume message"
h status store web01
expect_out '^state +resuming' "status after resume"
h rm store web01
expect_rc 1 "rm of a resuming guest"

# ---- discard ---------------------------------------------------------------
h discard store web01
expect_rc 0 "discard"
expect_out 'saved memory image discarded' "discard message"
h status store web01
expect_out '^state +stopped$' "status after discard"
expect_out '^memory +-$' "memory.save gone after discard"
h discard store web01
expect_rc 1 "discard with nothing saved"
expect_err 'nothing to discard' "discard refusal"
h resume store web01
expect_rc 1 "resume with nothing saved"
expect_err 'nothing to resume' "resume refusal"

# ---- discard straight from saved, then rm -------------------------------------
h import store web02 --disk disk.raw --memory mem.save
expect_rc 0 "import web02 saved"
h discard store web02
expect_rc 0 "discard from saved"
h rm store web02
expect_rc 0 "rm after discard"
expect_out '^deleted guest web02$' "rm message"
[ ! -e store/web02.hangar ] || fail "rm left store/web02.hangar"
h rm store web02
expect_rc 1 "rm of a missing guest"
expect_err 'no guest named web02' "rm of a missing guest message"

# ---- rm --force of a saved guest ------------------------------------------------
h import store web03 --disk disk.raw --memory mem.save
expect_rc 0 "import web03 saved"
h rm --force store web03
expect_rc 0 "rm --force of a saved guest"
[ ! -e store/web03.hangar ] || fail "rm --force left the guest"

# ---- usage ----------------------------------------------------------------------
h resume store
expect_rc 2 "resume without GUEST"
h discard store 'a/b'
expect_rc 2 "discard with a bad name"
h resume store nosuch
expect_rc 1 "resume of a missing guest"
expect_err 'no guest named nosuch' "resume of a missing guest message"

h check store
expect_rc 0 "check after every transition"

# The same with a VM-sized disk (1 GiB, data at 0 and 10 MiB): the disks
# above are small to keep the test quick, this one is what people import.
make_sparse vm.raw 1G 0 10
h import store vm --disk vm.raw --memory mem.save
expect_rc 0 "import of a saved guest with a 1 GiB disk"
h status store vm
expect_rc 0 "status of a saved guest with a 1 GiB disk"
expect_out '^state +saved since' "1 GiB guest is saved"
h resume store vm
expect_rc 0 "resume of the 1 GiB guest"
h check store vm
expect_rc 0 "check of the 1 GiB guest"

echo "PASS"
