#!/bin/bash
# tests/fs/prompt.sh -- the passphrase prompt of `hangarfs -f` on an
# encrypted store, on a real pseudo-terminal: the typed passphrase is not
# echoed and mounts the store; a ^C (or SIGTERM) at the prompt ends
# hangarfs by that signal, mounts nothing, and leaves the terminal with its
# echo on (common/secret.c restores it before dying).
. "$(dirname "$0")/../lib.bash"
fs_setup python3

rm -rf "$STORE"
t "$HANGAR" init "$STORE" --encrypt --passphrase-fd 3 3<<<"correct horse" \
	>/dev/null || fail "init passphrase store"

# on_pty ACTION : run `hangarfs STORE MNT -f` with a new pty as its
# controlling terminal; wait for the prompt, then ACTION: "type" (the
# passphrase and Enter), "intr" (^C through the line discipline) or "term"
# (SIGTERM).  Prints "prompt_echo=on|off echo=on|off status=N|signal=NAME
# mounted=True|False output=..." once hangarfs exited (type: after a mkdir
# on the mount and an unmount, all while the pty is open).
on_pty() {
	timeout "$T" python3 - "$HANGARFS" "$STORE" "$MNT" "$1" <<'PY'
import fcntl, os, select, signal, subprocess, sys, termios, time
hangarfs, store, mnt, action = sys.argv[1:5]
master, slave = os.openpty()
def ctty():
    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)
p = subprocess.Popen([hangarfs, store, mnt, "-f"], stdin=slave, stdout=slave,
                     stderr=slave, preexec_fn=ctty, close_fds=True)
out = b""
def read_for(seconds, until=None):
    global out
    end = time.time() + seconds
    while time.time() < end:
        r, _, _ = select.select([master], [], [], 0.1)
        if r:
            try:
                out += os.read(master, 4096)
            except OSError:
                return
        if until and until in out:
            return
read_for(30, b"Passphrase for")
if b"Passphrase for" not in out:
    p.kill()
    sys.exit("no prompt: %r" % out)
time.sleep(0.2)  # the prompt is written after echo went off
echo_at_prompt = bool(termios.tcgetattr(slave)[3] & termios.ECHO)
if action == "type":
    # Everything while the pty is open: closing it hangs hangarfs up.
    os.write(master, b"correct horse\n")
    for _ in range(100):
        if os.path.ismount(mnt) or p.poll() is not None:
            break
        time.sleep(0.1)
    mounted = os.path.ismount(mnt)
    if mounted:
        os.mkdir(os.path.join(mnt, "web01"))
        subprocess.run(["fusermount3", "-u", mnt], check=True, timeout=30)
    try:
        rc = p.wait(30)
    except subprocess.TimeoutExpired:
        p.kill()
        sys.exit("hangarfs did not exit after the unmount")
    read_for(0.3)
    print("prompt_echo=%s echo=%s status=%d mounted=%s output=%r" % (
        "on" if echo_at_prompt else "off",
        "on" if termios.tcgetattr(slave)[3] & termios.ECHO else "off",
        rc, mounted, out))
    sys.exit(0)
if action == "intr":
    os.write(master, termios.tcgetattr(slave)[6][termios.VINTR])
else:
    p.send_signal(signal.SIGTERM)
try:
    rc = p.wait(30)
except subprocess.TimeoutExpired:
    p.kill()
    sys.exit("hangarfs did not die of the signal at the prompt")
read_for(0.3)
status = "signal=%s" % signal.Signals(-rc).name if rc < 0 else "status=%d" % rc
print("prompt_echo=%s echo=%s %s mounted=%s output=%r" % (
    "on" if echo_at_prompt else "off",
    "on" if termios.tcgetattr(slave)[3] & termios.ECHO else "off",
    status, os.path.ismount(mnt), out))
PY
}

for action in intr term; do
	log "a signal at the prompt ($action): dies of it, terminal echo restored"
	r=$(on_pty "$action") || fail "$action: $r"
	case "$r" in
	"prompt_echo=off echo=on "*) ;;
	*) fail "$action: echo not off at the prompt or not restored after: $r" ;;
	esac
	want=SIGINT
	[ "$action" = term ] && want=SIGTERM
	case "$r" in *"signal=$want mounted=False"*) ;;
	*) fail "$action: want death by $want and no mount: $r" ;;
	esac
	mountpoint -q "$MNT" && fail "$action: mounted"
done

log "the typed passphrase mounts the store and is not echoed"
r=$(on_pty type) || fail "type: $r"
case "$r" in "prompt_echo=off echo=on status=0 mounted=True"*) ;;
*) fail "passphrase at the prompt: $r" ;;
esac
case "$r" in *"correct horse"*) fail "passphrase echoed: $r" ;; esac
fs_mount -o passphrase_fd=3 3<<<"correct horse"
[ -d "$MNT/web01" ] || fail "the guest made after the prompt is not there"
fs_umount
echo PASS
