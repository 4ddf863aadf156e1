#!/bin/bash
# tests/fs/posix.sh -- POSIX details pjdfstest checks, through a mounted
# store (python3's os calls, which show the errno):
#   - a name longer than the directory's NAME_MAX gets ENAMETOOLONG for
#     every call that names it (lookup, create, mkdir, mknod, unlink,
#     rmdir, rename from and to), never EINVAL or ENOENT; NAME_MAX is what
#     statvfs/pathconf say for that directory: 64 in the root (guest
#     names), 255 inside a guest;
#   - a name of the right length but with bytes a guest name cannot have
#     is still EINVAL (documented: names.h);
#   - open(O_TRUNC) of an empty file updates its mtime and ctime (and
#     they stay across a remount);
#   - rename of a guest onto another guest is refused with EEXIST, empty
#     or not, and both stay as they were (the documented refusal: README
#     "Limits").
source "$(dirname "$0")/../lib.bash"
fs_setup python3
fs_mount

py() { # PYTHON... : run with errno_of's helpers; prints what it prints
	t python3 - "$MNT" "$@" <<'PY'
import errno, os, sys
mnt = sys.argv[1]
def e(f):
    try:
        f()
        return "OK"
    except OSError as x:
        return errno.errorcode.get(x.errno, str(x.errno))
def creat(p):
    os.close(os.open(p, os.O_CREAT | os.O_WRONLY, 0o644))
exec(sys.argv[2])
PY
}

# expect CODE PYTHON-EXPR : the call's errno name (or OK) is CODE.  The
# checks are gathered and run in one python (expect_run), for speed.
CHECKS=()
expect() { CHECKS+=("$1" "$2"); }
expect_run() {
	local out
	out=$(py '
checks = sys.argv[3:]
bad = 0
for want, expr in zip(checks[0::2], checks[1::2]):
    got = e(lambda: eval(expr))
    if got != want:
        print("%s: got %s, expected %s" % (expr, got, want))
        bad = 1
sys.exit(bad)' "${CHECKS[@]}") || fail "$out"
	CHECKS=()
}

mkdir "$MNT/g" || fail "mkdir g"
n64=$(printf 'a%.0s' $(seq 64))
n65=${n64}a
n255=$(printf 'b%.0s' $(seq 255))
n256=${n255}b
n1000=$(printf 'c%.0s' $(seq 1000))

log "NAME_MAX as statvfs and pathconf report it"
[ "$(py 'print(os.statvfs(mnt).f_namemax, os.pathconf(mnt, "PC_NAME_MAX"))')" = "64 64" ] ||
	fail "the root's NAME_MAX is not 64: $(py 'print(os.statvfs(mnt).f_namemax)')"
[ "$(py 'print(os.statvfs(mnt + "/g").f_namemax, os.pathconf(mnt + "/g", "PC_NAME_MAX"))')" = "255 255" ] ||
	fail "a guest's NAME_MAX is not 255"

log "the root: guest names over 64 bytes"
expect OK "os.mkdir(mnt + '/$n64')"
expect OK "os.stat(mnt + '/$n64')"
expect OK "os.rmdir(mnt + '/$n64')"
for name in "$n65" "$n256" "$n1000"; do
	expect ENAMETOOLONG "os.mkdir(mnt + '/$name')"
	expect ENAMETOOLONG "os.stat(mnt + '/$name')"
	expect ENAMETOOLONG "os.rmdir(mnt + '/$name')"
	expect ENAMETOOLONG "os.rename(mnt + '/g', mnt + '/$name')"
	expect ENAMETOOLONG "os.rename(mnt + '/$name', mnt + '/g2')"
done
expect EINVAL "os.mkdir(mnt + '/a b')"
expect EINVAL "os.rename(mnt + '/g', mnt + '/.hidden')"
expect_run
[ -d "$MNT/g" ] || fail "guest g is gone"

log "inside a guest: file names over 255 bytes"
expect OK "creat(mnt + '/g/$n255')"
expect OK "os.stat(mnt + '/g/$n255')"
for name in "$n256" "$n1000"; do
	expect ENAMETOOLONG "creat(mnt + '/g/$name')"
	expect ENAMETOOLONG "os.mknod(mnt + '/g/$name')"
	expect ENAMETOOLONG "os.stat(mnt + '/g/$name')"
	expect ENAMETOOLONG "os.unlink(mnt + '/g/$name')"
	expect ENAMETOOLONG "os.mkdir(mnt + '/g/$name')"
	expect ENAMETOOLONG "os.rename(mnt + '/g/$n255', mnt + '/g/$name')"
	expect ENAMETOOLONG "os.rename(mnt + '/g/$name', mnt + '/g/x')"
done
expect OK "os.unlink(mnt + '/g/$n255')"
expect_run

log "open(O_TRUNC) of an empty file updates mtime and ctime"
py "creat(mnt + '/g/empty'); os.utime(mnt + '/g/empty', (1000000000, 1000000000))"
before=$(py "s = os.stat(mnt + '/g/empty'); print(s.st_mtime_ns, s.st_ctime_ns)")
sleep 1.1
py "os.close(os.open(mnt + '/g/empty', os.O_WRONLY | os.O_TRUNC))"
after=$(py "s = os.stat(mnt + '/g/empty'); print(s.st_mtime_ns, s.st_ctime_ns)")
read -r m0 c0 <<<"$before"
read -r m1 c1 <<<"$after"
[ "$m0" = 1000000000000000000 ] || fail "utime did not set the mtime: $m0"
[ "$m1" -gt "$m0" ] || fail "O_TRUNC of an empty file kept mtime $m0 ($m1)"
[ "$c1" -gt "$c0" ] || fail "O_TRUNC of an empty file kept ctime $c0 ($c1)"
fs_remount
[ "$(py "s = os.stat(mnt + '/g/empty'); print(s.st_mtime_ns, s.st_ctime_ns)")" = "$after" ] ||
	fail "the times of O_TRUNC did not survive a remount"

log "rename of a guest onto another guest: EEXIST (documented refusal)"
mkdir "$MNT/empty" "$MNT/full" || fail "mkdir"
echo x >"$MNT/full/config"
expect EEXIST "os.rename(mnt + '/g', mnt + '/empty')"
expect EEXIST "os.rename(mnt + '/g', mnt + '/full')"
expect_run
[ -f "$MNT/g/empty" ] && [ -d "$MNT/empty" ] && [ "$(cat "$MNT/full/config")" = x ] ||
	fail "a refused rename changed a guest"
expect OK "os.rename(mnt + '/g', mnt + '/g3')"
expect_run
[ -f "$MNT/g3/empty" ] || fail "rename of a guest to a free name"
fs_umount
t "$HANGAR" check "$STORE" >/dev/null || fail "hangar check after the test"
echo "PASS"
