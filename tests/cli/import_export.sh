#!/bin/bash
# tests/cli/import_export.sh -- import a sparse raw file, export it again:
# byte-identical (cmp), holes stay holes on both sides (du proportional to
# the data, not to the virtual size), configs and memory images too.
source "$(dirname "$0")/../lib.bash"
cli_setup

h init store
expect_rc 0 "init"

# A 2 GiB sparse disk with 1 MiB of random data at five places (one at the
# very end), and a shorter second disk that is data from start to end.
make_sparse big.raw 2G 0 1 700 1500 2047
dd if=/dev/urandom of=small.raw bs=64K count=20 status=none
printf 'disk = [ "target=/var/lib/vms/db01/disk.raw" ]\n' >db01.cfg
src_kb=$(du -k big.raw | cut -f1)
[ "$src_kb" -le 6144 ] || skip "this filesystem does not keep big.raw sparse (du ${src_kb}K)"

h import store db01 --disk big.raw --disk data.raw=small.raw --config db01.cfg
expect_rc 0 "import"
expect_out '^imported guest db01$' "import summary"
expect_out '^  disk.raw +2.0G virtual, 5.0M stored +<- big.raw$' "import disk line"
expect_out '^  data.raw +1.3M virtual, 1.3M stored +<- small.raw$' "import named disk line"

# The store used space proportional to the data: 5 MiB of data in a 2 GiB
# disk must not cost more than a few MiB of container.
container_kb=$(du -k store/db01.hangar | cut -f1)
[ "$container_kb" -lt 16384 ] || fail "container uses ${container_kb}K for 5M of data"

h status store db01 --json
expect_rc 0 "status --json after import"
expect_json "$OUT" "status --json after import"
[ "$(json_get "$OUT" '[(d["name"], d["size"]) for d in j["disks"]]')" = \
	"[('data.raw', 1310720), ('disk.raw', 2147483648)]" ] || fail "imported disk sizes: $(cat "$OUT")"
[ "$(json_get "$OUT" '[d["used"] for d in j["disks"] if d["name"] == "disk.raw"][0]')" = 5242880 ] ||
	fail "imported disk.raw does not use exactly its 5 MiB of data"

h export store db01 out
expect_rc 0 "export"
expect_out '^exported guest db01 to out$' "export summary"
cmp big.raw out/disk.raw || fail "exported disk.raw differs from the source"
cmp small.raw out/data.raw || fail "exported data.raw differs from the source"
cmp db01.cfg out/config || fail "exported config differs from the source"
[ "$(stat -c %s out/disk.raw)" = 2147483648 ] || fail "exported disk.raw has the wrong size"
out_kb=$(du -k out/disk.raw | cut -f1)
[ "$out_kb" -le $((src_kb + 1024)) ] || fail "export is not sparse: du ${out_kb}K for ${src_kb}K of source"
[ "$(stat -c %a out/disk.raw)" = 600 ] || fail "exported disk mode $(stat -c %a out/disk.raw)"

# No overwrite without --force; with it, the same bytes again.
h export store db01 out
expect_rc 1 "export onto existing files"
expect_err 'already exists \(use --force' "export onto existing files message"
h export store db01 out --force
expect_rc 0 "export --force"
cmp big.raw out/disk.raw || fail "export --force wrote different bytes"

# All-zero data in the source (allocated, not a hole) is stored as a hole.
dd if=/dev/zero of=zeros.raw bs=1M count=64 status=none
h import store zeros --disk zeros.raw
expect_rc 0 "import of an all-zero file"
expect_out '^  disk.raw +64M virtual, 0 stored' "zeros are not stored"
h export store zeros zout
expect_rc 0 "export of an all-zero disk"
cmp zeros.raw zout/disk.raw || fail "exported zeros differ"
[ "$(du -k zout/disk.raw | cut -f1)" -le 64 ] || fail "exported zeros are not a hole"

# A memory image: imported, sealed, and exported with its disks.
dd if=/dev/urandom of=mem.save bs=1M count=3 status=none
h import store saved --disk big.raw --memory mem.save
expect_rc 0 "import --memory"
expect_out 'saved is saved: its disks are pinned' "import --memory says the guest is saved"
expect_out 'hangar resume store saved' "import --memory says how to resume"
h export store saved sout
expect_rc 0 "export of a saved guest"
cmp mem.save sout/memory.save || fail "exported memory.save differs"
cmp big.raw sout/disk.raw || fail "exported disk of a saved guest differs"

# Refusals.
h import store db01 --disk big.raw
expect_rc 1 "import onto an existing guest"
expect_err 'guest db01 already exists' "import onto an existing guest message"
h import store nothing
expect_rc 2 "import without anything to import"
h import store x --disk /nonexistent.raw
expect_rc 1 "import of a missing file"
[ ! -e store/x.hangar ] || fail "a failed import left store/x.hangar"
h import store x --disk a.raw --disk disk.raw=a.raw
expect_rc 2 "two disks with one name"
# A damaged qcow2 image is never imported as raw bytes: qemu-img cannot
# read it, and the import says so (real images: cli/import_formats.sh).
printf 'QFI\xfb\0\0\0\3' >fake.qcow2
truncate -s 1M fake.qcow2
h import store q --disk fake.qcow2
expect_rc 1 "import of a damaged qcow2 image"
if command -v qemu-img >/dev/null; then
	expect_err 'looks like a qcow2 image, but qemu-img cannot read it' "damaged qcow2 refusal"
else
	expect_err 'is a qcow2 image, and qemu-img \(qemu-utils\) is not installed' "qcow2 refusal"
	expect_err 'qemu-img convert -O raw' "qcow2 advice"
fi
[ ! -e store/q.hangar ] || fail "a refused qcow2 import left store/q.hangar"
h export store nosuch eout
expect_rc 1 "export of a missing guest"

# Every container is still clean.
h check store
expect_rc 0 "check after imports and exports"

echo "PASS"
