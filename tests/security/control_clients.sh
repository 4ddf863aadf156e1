#!/bin/bash
# tests/security/control_clients.sh -- the control socket under hostile
# clients.
#
# 20 idle connections and a client trickling one byte a second must not
# delay anybody else: a `hangar create` through the daemon finishes in a few
# seconds (before: one connection at a time, 5 s each, so over a minute).
# The daemon cuts the idle and trickling clients off after its request
# deadline.  A request that never arrived whole (the client died before its
# newline) is not carried out.
. "$(dirname "$0")/../lib.bash"

fs_setup python3
fs_mount

SOCK=$STORE/.hangar-control
[ -S "$SOCK" ] || fail "no control socket at $SOCK"

log "20 idle connections and a trickler"
python3 - "$SOCK" "$WORK/hostile.out" <<'PY' &
import os, socket, sys, time
path, out = sys.argv[1], sys.argv[2]
def conn():
    for _ in range(20):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(path)
            return s
        except OSError:  # a backlog full of idle clients
            s.close()
            time.sleep(0.1)
    sys.exit("cannot connect: the daemon does not accept")
idle = [conn() for _ in range(20)]
trickle = conn()
# a request that never ends: its client dies before the newline
dead = conn()
dead.sendall(b"create dead1 0")
dead.close()
start = time.time()
with open(out + ".ready", "w") as f:
    f.write("ready\n")
cut = {}
msg = b"create trickled 0"
i = 0
while time.time() - start < 20 and len(cut) < 21:
    for n, s in enumerate(idle + [trickle]):
        if n in cut:
            continue
        s.setblocking(False)
        try:
            d = s.recv(100)
            if d == b"" or d:
                cut[n] = time.time() - start
        except BlockingIOError:
            pass
        except OSError:
            cut[n] = time.time() - start
    if 20 not in cut and i < len(msg):
        try:
            trickle.send(msg[i:i + 1])
            i += 1
        except OSError:
            cut[20] = time.time() - start
    time.sleep(1)
with open(out, "w") as f:
    f.write("%d %.1f\n" % (len(cut), max(cut.values()) if cut else -1))
PY
HOSTILE_PID=$!
for ((i = 0; i < 100; i++)); do
	[ -e "$WORK/hostile.out.ready" ] && break
	sleep 0.1
done
[ -e "$WORK/hostile.out.ready" ] || fail "hostile clients did not start"

log "hangar create through the daemon"
start=$(date +%s%N)
out=$(timeout 20 "$HANGAR" create "$STORE" web01 2>&1)
rc=$?
took_ms=$((($(date +%s%N) - start) / 1000000))
echo "hangar create with 21 hostile connections open: ${took_ms} ms (rc $rc): $out"
[ $rc -eq 0 ] || { kill "$HOSTILE_PID" 2>/dev/null; fail "hangar create failed or hung (rc $rc): $out"; }
[ "$took_ms" -lt 5000 ] || { kill "$HOSTILE_PID"; fail "create took ${took_ms} ms"; }
[ -d "$MNT/web01" ] || fail "web01 is not on the mount"

log "the daemon cuts off idle and trickling clients"
wait "$HOSTILE_PID"
read -r ncut last <"$WORK/hostile.out"
echo "clients cut off by the daemon: $ncut of 21, the last after ${last}s"
[ "$ncut" -eq 21 ] || fail "only $ncut of 21 hostile clients were cut off within 20 s"
[ ! -e "$STORE/trickled.hangar" ] || fail "the trickled request was carried out"
[ ! -e "$STORE/dead1.hangar" ] || fail "a request without its newline (client died) was carried out"
[ ! -d "$MNT/dead1" ] || fail "dead1 exists on the mount"

log "the daemon still answers"
t "$HANGAR" rm "$STORE" web01 >/dev/null || fail "hangar rm through the daemon"
fs_umount
echo "PASS"
