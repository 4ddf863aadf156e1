#!/bin/bash
# tests/security/fake_daemon.sh -- the CLI talks to the real daemon only.
#
# 1. A fake FUSE mount named after the store (-o fsname=STORE; any user may
#    mount one), mounted before the real hangarfs so it comes first in
#    mountinfo: the CLI must find the real mount (the one the daemon holding
#    the store reports and that stat/mountinfo confirm), and copy a guest's
#    config there, never into the fake.
# 2. A fake listener on STORE/.hangar-control run by another user (the
#    store directory was left world-writable): the CLI refuses it with a
#    clear message, sends it nothing and copies nothing.
. "$(dirname "$0")/../lib.bash"

fs_setup python3 cc pkg-config setpriv
pkg-config --exists fuse3 || skip "fuse3 development files are missing"
[ "$(id -u)" -eq 0 ] || skip "needs root (another user runs the fake listener)"
# a python3 another user may run (not one under root's home)
SYS_PYTHON=/usr/bin/python3
[ -x "$SYS_PYTHON" ] || skip "$SYS_PYTHON is missing"
id hangartest >/dev/null 2>&1 || useradd -r -M -s /usr/sbin/nologin hangartest ||
	skip "cannot create user hangartest"

SRC=${HANGAR_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
FAKE=$WORK/fake
mkdir -p "$FAKE"
log "a fake FUSE mount with fsname=$STORE"
# contrib/bench's one-file passthrough, its fsname made the store's path
sed "s|fsname=bench-passthrough|fsname=$STORE|" \
	"$SRC/contrib/bench/passthrough.c" >"$WORK/passthrough.c"
cc -O1 -o "$WORK/passthrough" "$WORK/passthrough.c" \
	$(pkg-config --cflags --libs fuse3) 2>"$WORK/cc.log" ||
	{ cat "$WORK/cc.log"; fail "cannot build the fake FUSE file system"; }
truncate -s 1M "$WORK/fake.img"
"$WORK/passthrough" "$WORK/fake.img" "$FAKE" -f >>"$WORK/fake.log" 2>&1 &
FAKE_PID=$!
cleanup_fake() {
	mountpoint -q "$FAKE" && timeout 30 fusermount3 -u "$FAKE"
	kill "$FAKE_PID" 2>/dev/null
	[ -n "${LISTENER_PID:-}" ] && kill "$LISTENER_PID" 2>/dev/null
}
at_exit cleanup_fake
for ((i = 0; i < 100; i++)); do mountpoint -q "$FAKE" && break; sleep 0.1; done
mountpoint -q "$FAKE" || fail "the fake mount did not appear"
fs_mount
grep -F " $STORE " /proc/self/mountinfo | head -n 1 | grep -qF " $FAKE " ||
	fail "the fake mount is not the first with the store's name (test setup)"

log "hangar sees the real mount"
t "$HANGAR" ls "$STORE" --json >"$WORK/ls.json" || fail "hangar ls"
mnt_seen=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("mountpoint"))' "$WORK/ls.json")
echo "hangar ls reports the mount point $mnt_seen (real $MNT, fake $FAKE)"
[ "$mnt_seen" = "$MNT" ] || fail "hangar ls reports mount point $mnt_seen, not $MNT"

log "hangar create --config copies into the real mount"
printf 'secret config\n' >"$WORK/web01.cfg"
out=$(t "$HANGAR" create "$STORE" web01 --config "$WORK/web01.cfg" 2>&1) ||
	fail "hangar create: $out"
[ "$(cat "$MNT/web01/config" 2>/dev/null)" = "secret config" ] ||
	fail "the config is not on the real mount: $out"
! grep -rqs "secret config" "$FAKE" "$WORK/fake.img" ||
	fail "the config went into the fake mount"

log "a fake listener on .hangar-control, as another user"
chmod 0755 "$WORK"
chmod 0777 "$STORE"   # the careless admin
mkdir -m 0777 "$WORK/hostile"
setpriv --reuid hangartest --regid "$(id -g hangartest)" --clear-groups \
	"$SYS_PYTHON" - "$STORE/.hangar-control" "$WORK/hostile/listener.log" <<'PY' &
import os, socket, sys
path, logf = sys.argv[1], sys.argv[2]
try:
    os.unlink(path)
except OSError:
    pass
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(path)
s.listen(8)
open(logf + ".ready", "w").close()
while True:
    c, _ = s.accept()
    c.settimeout(2)
    try:
        data = c.recv(512)
    except OSError:
        data = b""
    if data:  # logs what it got, says yes to everything
        with open(logf, "a") as f:
            f.write(repr(data) + "\n")
        c.sendall(b"0 ok\n")
    c.close()
PY
LISTENER_PID=$!
for ((i = 0; i < 100; i++)); do [ -e "$WORK/hostile/listener.log.ready" ] && break; sleep 0.1; done
[ -e "$WORK/hostile/listener.log.ready" ] || fail "the fake listener did not start"
[ "$(stat -c %U "$STORE/.hangar-control")" = hangartest ] ||
	fail "the fake listener does not own the socket (test setup)"

printf 'second secret\n' >"$WORK/web02.cfg"
out=$(t "$HANGAR" create "$STORE" web02 --config "$WORK/web02.cfg" 2>&1)
rc=$?
echo "hangar create against the fake listener: rc $rc: $out"
[ $rc -ne 0 ] || fail "hangar create succeeded through a fake daemon: $out"
case "$out" in
*"refusing to talk to it"*) ;;
*) fail "no clear refusal of the fake listener: $out" ;;
esac
[ ! -e "$STORE/web02.hangar" ] && [ ! -d "$MNT/web02" ] ||
	fail "web02 was created"
! grep -rqs "second secret" "$FAKE" "$WORK/fake.img" "$MNT" ||
	fail "the config was copied somewhere"
[ ! -s "$WORK/hostile/listener.log" ] || fail "the CLI sent the fake listener: $(cat "$WORK/hostile/listener.log")"

out=$(t "$HANGAR" rm "$STORE" web01 2>&1)
rc=$?
echo "hangar rm against the fake listener: rc $rc: $out"
[ $rc -ne 0 ] || fail "hangar rm went through a fake daemon"
[ -d "$MNT/web01" ] || fail "web01 is gone"
[ ! -s "$WORK/hostile/listener.log" ] || fail "the CLI sent the fake listener: $(cat "$WORK/hostile/listener.log")"

kill "$LISTENER_PID"
wait "$LISTENER_PID" 2>/dev/null
LISTENER_PID=
chmod 0700 "$STORE"
fs_umount
echo "PASS"
