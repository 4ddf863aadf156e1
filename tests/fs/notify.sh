#!/bin/bash
# tests/fs/notify.sh -- hangarfs speaks systemd's readiness protocol
# (fs/notify.c, for Type=notify in contrib/systemd/hangar@.service): started
# with $NOTIFY_SOCKET, it sends READY=1 (with a STATUS= line naming the
# store and the mount point) once the mount is up -- never before -- and
# STOPPING=1 when the unmount begins, to a socket path and to an abstract
# socket ('@name').  Without $NOTIFY_SOCKET it mounts as always.
#
# The listener is a python3 unix datagram socket that, for every message,
# records the sender's PID (SCM_CREDENTIALS) and whether MNT was a mount
# point when it arrived (in the mount table, with the sender stopped, and
# for mountpoint -q).
. "$(dirname "$0")/../lib.bash"
fs_setup python3
unset NOTIFY_SOCKET

t "$HANGAR" create "$STORE" web01 --disk 1M >/dev/null || fail "hangar create"

cat >"$WORK/listen.py" <<'PY'
import os, signal, socket, struct, subprocess, sys
address, mnt, out = sys.argv[1], sys.argv[2], sys.argv[3]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
s.bind("\0" + address[1:] if address.startswith("@") else address)
open(out + ".up", "w").close()
s.settimeout(60)
with open(out, "w") as log:
    while True:
        data, anc, _, _ = s.recvmsg(65536, socket.CMSG_SPACE(12))
        pid = 0
        for level, kind, cred in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                pid = struct.unpack("iII", cred[:12])[0]
        msg = data.decode()
        # Freeze the sender while we look at the mount table: a READY=1
        # sent before its mount call then finds no mount, however fast the
        # mount would have followed.  mountpoint(1) stats MNT, which needs
        # the daemon running, so it comes after SIGCONT.
        # (After STOPPING=1 the daemon may be gone already.)
        stopped = False
        try:
            if pid > 0:
                os.kill(pid, signal.SIGSTOP)
                stopped = True
        except OSError:
            pass
        with open("/proc/self/mountinfo") as f:
            listed = any(l.split()[4] == mnt for l in f)
        if stopped:
            os.kill(pid, signal.SIGCONT)
        mounted = subprocess.run(["mountpoint", "-q", mnt]).returncode == 0
        log.write("%s pid=%d mounted=%d\n" % (msg.replace("\n", "|"), pid,
                                               listed and mounted))
        log.flush()
        if "STOPPING=1" in msg.split("\n"):
            break
PY

LISTEN_PID=
stop_listener() {
	[ -n "$LISTEN_PID" ] && kill "$LISTEN_PID" 2>/dev/null
	LISTEN_PID=
}
at_exit stop_listener

# round ADDRESS : mount with NOTIFY_SOCKET=ADDRESS, unmount, check messages.
round() {
	local address=$1 msgs=$WORK/messages i daemon
	rm -f "$msgs" "$msgs.up"
	timeout 90 python3 "$WORK/listen.py" "$address" "$MNT" "$msgs" &
	LISTEN_PID=$!
	for ((i = 0; i < 100; i++)); do
		[ -e "$msgs.up" ] && break
		sleep 0.1
	done
	[ -e "$msgs.up" ] || fail "listener on $address did not start"

	NOTIFY_SOCKET=$address fs_mount
	for ((i = 0; i < 100; i++)); do
		grep -q 'READY=1' "$msgs" 2>/dev/null && break
		sleep 0.1
	done
	grep -q 'READY=1' "$msgs" 2>/dev/null ||
		fail "$address: no READY=1 within 10 s of the mount"
	cat "$msgs"
	# The sender is the daemon's main process (NotifyAccess=main).
	grep -qx "READY=1|STATUS=Mounted $STORE on $MNT pid=$HFS_PID mounted=1" \
		"$msgs" ||
		fail "$address: READY=1 with the status, from PID $HFS_PID once mounted, expected"
	grep -q 'mounted=0' "$msgs" && fail "$address: a message before the mount"
	grep -q 'STOPPING=1' "$msgs" && fail "$address: STOPPING=1 while mounted"
	[ -d "$MNT/web01" ] || fail "guest not visible after READY=1"

	daemon=$HFS_PID
	fs_umount
	wait "$LISTEN_PID" || fail "$address: listener got no STOPPING=1"
	LISTEN_PID=
	cat "$msgs"
	[ "$(wc -l <"$msgs")" = 2 ] || fail "$address: expected two messages"
	sed -n 2p "$msgs" | grep -q "^STOPPING=1|STATUS=Unmounting .* pid=$daemon " ||
		fail "$address: second message is not STOPPING=1 with a status"
}

log "NOTIFY_SOCKET is a path"
round "$WORK/notify.sock"

log "NOTIFY_SOCKET is an abstract socket (@name)"
round "@hangar-notify-test-$$"

log "no NOTIFY_SOCKET, or an unusable one: the mount works as always"
NOTIFY_SOCKET= fs_mount
[ -d "$MNT/web01" ] || fail "guest not visible without NOTIFY_SOCKET"
fs_umount
NOTIFY_SOCKET=$WORK/nobody-listens fs_mount
[ -d "$MNT/web01" ] || fail "guest not visible with a dead NOTIFY_SOCKET"
fs_umount

echo PASS
