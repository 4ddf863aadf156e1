#!/bin/bash
# tests/cli/rename_resize_df.sh -- `hangar rename`, `resize` and `df`, on a
# store and on the same store mounted:
#   - rename moves a guest, never onto an existing one, and is refused while
#     another process has the guest open (a reader's container lock; on the
#     mount, a file of the guest open), with that PID;
#   - resize grows, shrinks only with --shrink, wants whole sectors, and is
#     refused while a saved memory image pins the disk (the save lock) or,
#     mounted, while the disk is open for writing; a refused resize changes
#     nothing;
#   - df's figures are the sums of the guests' files (virtual, stored), the
#     container files' blocks, and the host filesystem's statvfs.
source "$(dirname "$0")/../lib.bash"
cli_setup

h init store
expect_rc 0 "init"
make_sparse d.raw 64M 1 10
head -c 300000 /dev/urandom >m.save

# ---- rename -------------------------------------------------------------------
h create store web01 --disk 32M
expect_rc 0 "create web01"
h create store web02
expect_rc 0 "create web02"
h rename store web01 db01
expect_rc 0 "rename"
expect_out '^renamed guest web01 to db01$' "rename message"
[ -f store/db01.hangar ] && [ ! -e store/web01.hangar ] || fail "rename did not move the container file"
h status store db01 --json
expect_rc 0 "status of the renamed guest"
[ "$(json_get "$OUT" '[o["size"] for o in j["disks"] if o["name"]=="disk.raw"][0]')" = 33554432 ] ||
	fail "the renamed guest lost its disk: $(cat "$OUT")"
h rename store db01 web02
expect_rc 1 "rename onto an existing guest"
expect_err 'a guest named web02 already exists' "rename onto an existing guest"
[ -f store/db01.hangar ] || fail "a refused rename moved the guest"
h rename store nosuch x
expect_rc 1 "rename of a missing guest"
expect_err 'no guest named nosuch' "rename of a missing guest"
h rename store db01 'bad/name'
expect_rc 2 "rename to an invalid name"

# Another process has the container open (the shared container lock of a
# reader, as `hangar check` or a read-only hangarfs hold it): refused.
python3 -c 'import fcntl, sys, time
f = open(sys.argv[1]); fcntl.flock(f, fcntl.LOCK_SH); time.sleep(60)' store/db01.hangar &
reader=$!
at_exit "kill $reader 2>/dev/null"
for _ in $(seq 50); do
	[ -n "$(flock_holder store/db01.hangar READ)" ] && break
	sleep 0.1
done
h rename store db01 web01
expect_rc 1 "rename while a reader has the guest open"
expect_err "cannot rename db01: it is open read-only by .*PID $reader" "rename refusal names the reader"
[ -f store/db01.hangar ] || fail "a refused rename moved the guest"
kill $reader
wait $reader 2>/dev/null || true
h rename store db01 web01
expect_rc 0 "rename once the reader is gone"

# ---- resize -------------------------------------------------------------------
h resize store web01 disk.raw 48M
expect_rc 0 "grow"
expect_out '^resized web01/disk.raw from 32M to 48M$' "grow message"
h resize store web01 disk.raw +16M --bytes
expect_rc 0 "grow by +16M"
expect_out '^resized web01/disk.raw from 50331648 to 67108864$' "grow by message"
h resize store web01 disk.raw 8M
expect_rc 1 "shrink without --shrink"
expect_err 'refusing to shrink it' "shrink refusal"
h resize store web01 disk.raw 1000
expect_rc 2 "a size that is not whole sectors"
expect_err 'not a multiple of 512' "sector refusal"
h resize store web01 memory.save 1M
expect_rc 2 "resize of a file that is not a disk"
h resize store web01 nodisk.raw 1M
expect_rc 1 "resize of a missing disk"
expect_err 'has no disk nodisk.raw' "missing disk"
h status store web01 --json
[ "$(json_get "$OUT" '[o["size"] for o in j["disks"] if o["name"]=="disk.raw"][0]')" = 67108864 ] ||
	fail "refused resizes changed the size"
h resize store web01 disk.raw 8M --shrink
expect_rc 0 "shrink with --shrink"

# The save lock: a sealed memory image pins the disk, size included.
h import store saved01 --disk d.raw --memory m.save
expect_rc 0 "import a saved guest"
h resize store saved01 disk.raw 128M
expect_rc 1 "resize of a pinned disk"
expect_err 'saved01/disk.raw: resize refused: memory.save \(saved .*\) depends on this file' "pinned refusal"
expect_err 'hangar discard store saved01' "pinned refusal says how to release it"
h resize store saved01 disk.raw 32M --shrink
expect_rc 1 "shrink of a pinned disk"
h status store saved01 --json
[ "$(json_get "$OUT" 'j["state"]')" = saved ] || fail "a refused resize changed the save state: $(cat "$OUT")"
[ "$(json_get "$OUT" '[o["size"] for o in j["disks"] if o["name"]=="disk.raw"][0]')" = 67108864 ] ||
	fail "a refused resize changed the pinned disk"
h resume store saved01
expect_rc 0 "resume"
h export store saved01 ex1
expect_rc 0 "export after resume"
cmp d.raw ex1/disk.raw || fail "the pinned disk's bytes changed"

# ---- df ---------------------------------------------------------------------------
h df store --json
expect_rc 0 "df --json"
expect_json "$OUT" "df --json"
cp "$OUT" df.json
h ls store --json
cp "$OUT" ls.json
python3 - df.json ls.json store <<'PY' || fail "df figures"
import json, os, sys
df = json.load(open(sys.argv[1])); ls = json.load(open(sys.argv[2])); store = sys.argv[3]
guests = {g["name"]: g for g in df["guests"]}
assert sorted(guests) == sorted(g["name"] for g in ls["guests"]), (guests, ls)
tot = {"virtual": 0, "stored": 0, "snapshots": 0, "allocated": 0}
for g in ls["guests"]:
    d = guests[g["name"]]
    st = os.stat(os.path.join(store, g["name"] + ".hangar"))
    assert d["allocated"] == st.st_blocks * 512, (d, st)
    for k in tot:
        tot[k] += d[k]
assert df["total"] == tot, (df["total"], tot)
s = guests["saved01"]
# 2 MiB of disk data and the 300000-byte image, in whole 64 KiB clusters
assert s["stored"] == 2 * 1048576 + 327680, s
assert s["virtual"] == 64 * 1048576 + 300000, s
assert s["snapshots"] == 0, s  # no snapshot holds anything
v = os.statvfs(store)
fs = df["filesystem"]
assert fs["size"] == v.f_blocks * v.f_frsize, fs
assert 0 < fs["available"] <= fs["free"] <= fs["size"], fs
PY
h df store
expect_rc 0 "df"
expect_out '^GUEST +VIRTUAL +STORED +SNAPSHOTS +ALLOCATED$' "df header"
expect_out '^saved01 +65M +2.4M +0 +[0-9.]+[KMG]$' "df line"
expect_out '^total ' "df total"
expect_out '^filesystem of store: .* available \(.* free\)$' "df filesystem line"

# ---- mounted ----------------------------------------------------------------------
need_fuse
mnt=$WORK/mnt
unmount_at_exit "$mnt"
h mount store "$mnt"
expect_rc 0 "mount"
wait_mounted "$mnt"
h create store vm01 --disk 16M
expect_rc 0 "create through the daemon"

# A file of the guest open on the mount (a running VM): rename refused.
# The command runs with 5 and 6 closed so that only this shell holds the
# file (timeout(1), which runs hangar, would inherit them and might be the
# opener named first: /proc lists PIDs in numeric order, and they wrap).
exec 5<"$mnt/vm01/disk.raw"
at_exit 'exec 5<&- 6>&-' # a failed check must not leave the mount busy
h rename store vm01 vm02 5<&-
expect_rc 1 "rename of a guest with a file open on the mount"
expect_err "cannot rename vm01: its files are open on the mount by .*PID $$" "mounted rename refusal names the PID"
[ -d "$mnt/vm01" ] || fail "a refused rename moved the guest on the mount"
# ... and a disk open for writing: resize refused.
exec 6>>"$mnt/vm01/disk.raw"
h resize store vm01 disk.raw 32M 5<&- 6>&-
expect_rc 1 "resize of a disk open for writing"
expect_err "resize refused: open for writing by .*PID $$" "open-for-writing refusal"
exec 6>&-
exec 5<&-
h rename store vm01 vm02
expect_rc 0 "rename through the mount"
expect_out '^renamed guest vm01 to vm02 \(through hangarfs PID [0-9]+\)$' "mounted rename message"
[ -d "$mnt/vm02" ] && [ ! -e "$mnt/vm01" ] || fail "the rename does not show on the mount"
h rename store vm02 web01
expect_rc 1 "mounted rename onto an existing guest"
expect_err 'a guest named web01 already exists' "mounted rename onto an existing guest"
h resize store vm02 disk.raw 32M
expect_rc 0 "resize through the mount"
[ "$(stat -c %s "$mnt/vm02/disk.raw")" = 33554432 ] || fail "mounted resize size"
h resize store vm02 disk.raw 16M
expect_rc 1 "mounted shrink without --shrink"

# A guest saved on the mount: its disk is pinned, the daemon refuses.
h import store saved02 --disk d.raw --memory m.save
expect_rc 0 "import a saved guest through the daemon"
h resize store saved02 disk.raw 128M
expect_rc 1 "mounted resize of a pinned disk"
expect_err 'saved02/disk.raw: resize refused: a saved memory image \(memory.save\) depends' "mounted pinned refusal"
[ "$(stat -c %s "$mnt/saved02/disk.raw")" = 67108864 ] || fail "a refused mounted resize changed the size"
h df store --json
expect_rc 0 "df of a mounted store"
[ "$(json_get "$OUT" 'j["committed_state"]')" = True ] || fail "df of a mounted store says committed state"
h umount "$mnt"
expect_rc 0 "umount"
h status store saved02 --json
[ "$(json_get "$OUT" 'j["state"]')" = saved ] || fail "saved02 is no longer saved: $(cat "$OUT")"
h status store vm02 --json
[ "$(json_get "$OUT" '[o["size"] for o in j["disks"] if o["name"]=="disk.raw"][0]')" = 33554432 ] ||
	fail "the mounted resize was not committed"

echo "PASS"
