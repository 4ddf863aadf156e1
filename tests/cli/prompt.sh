#!/bin/bash
# tests/cli/prompt.sh -- the passphrase asked on the terminal, through a real
# pseudo-terminal: `hangar init --encrypt` with no key option asks twice
# without echo; any command opening an encrypted store without a key option
# asks once (a `hangar mount` too, when FUSE is here); `hangar key add` asks
# for the new passphrase twice.  A mismatched second entry, an empty one or
# a ^C creates nothing and leaves echo on; with no terminal every one fails
# at once, naming the key options.
source "$(dirname "$0")/../lib.bash"
cli_setup

python3 -c 'import pty, termios' 2>/dev/null || skip "python3 with pty/termios needed"
command -v setsid >/dev/null || skip "setsid (util-linux) needed"

# pty.py TRANSCRIPT STDOUT STDERR STEP... -- COMMAND...
#   Run COMMAND in a new session whose controlling terminal is a fresh
#   pseudo-terminal (its stdin too; stdout and stderr go to files; other
#   descriptors are passed on).  STEPs:
#   expect=TEXT waits (20 s at most) for TEXT in what the terminal shows
#   after the last match; send=TEXT types TEXT and Enter; intr types ^C.
#   Everything the terminal showed goes to TRANSCRIPT; the last line on
#   stdout is "echo=on" or "echo=off", the terminal's state once COMMAND
#   ended.  Exit status: COMMAND's (128+N when signal N killed it), 124
#   when an expect or the command timed out.
cat >pty.py <<'EOF'
import fcntl, os, select, subprocess, sys, termios, time

sep = sys.argv.index("--")
transcript, out, err = sys.argv[1:4]
steps, cmd = sys.argv[4:sep], sys.argv[sep + 1:]
master, slave = os.openpty()
shown = b""

def pump(seconds):
    global shown
    ready, _, _ = select.select([master], [], [], seconds)
    if ready:
        try:
            shown += os.read(master, 4096)
        except OSError:
            pass

def finish(status):
    with open(transcript, "wb") as f:
        f.write(shown)
    lflag = termios.tcgetattr(slave)[3]
    print("echo=" + ("on" if lflag & termios.ECHO else "off"))
    sys.exit(status)

with open(out, "wb") as o, open(err, "wb") as e:
    # close_fds=False: descriptors the test opened (3<<<...) go through;
    # openpty's are not inheritable.
    child = subprocess.Popen(cmd, stdin=slave, stdout=o, stderr=e,
                             close_fds=False, start_new_session=True,
                             preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0))
pos = 0
for step in steps:
    if step.startswith("expect="):
        want = step[len("expect="):].encode()
        deadline = time.monotonic() + 20
        while shown.find(want, pos) < 0:
            if time.monotonic() > deadline or child.poll() is not None:
                pump(0.2)
                if shown.find(want, pos) >= 0:
                    break
                sys.stderr.write("pty.py: no %r on the terminal\n" % want)
                child.kill()
                child.wait()
                finish(124)
            pump(0.1)
        pos = shown.find(want, pos) + len(want)
    elif step.startswith("send="):
        os.write(master, step[len("send="):].encode() + b"\r")
    elif step == "intr":
        os.write(master, b"\x03")
    else:
        sys.exit("pty.py: bad step " + step)
deadline = time.monotonic() + 60
while child.poll() is None:
    if time.monotonic() > deadline:
        sys.stderr.write("pty.py: command did not end\n")
        child.kill()
        child.wait()
        finish(124)
    pump(0.1)
pump(0.2)
finish(child.returncode if child.returncode >= 0 else 128 - child.returncode)
EOF

TRANSCRIPT=$WORK/.transcript
ECHO_STATE=

# t STEP... -- COMMAND ARGS...: run COMMAND on a terminal (pty.py); $rc,
# $OUT, $ERR as h sets them, $TRANSCRIPT, $ECHO_STATE.
t() {
	local state
	rc=0
	state=$(timeout 120 python3 pty.py "$TRANSCRIPT" "$OUT" "$ERR" "$@") || rc=$?
	ECHO_STATE=${state##*$'\n'}
	return 0
}

# not_shown SECRET DESCRIPTION -- SECRET is not in the transcript, and the
# terminal's echo is back on.
not_shown() {
	if grep -qF -- "$1" "$TRANSCRIPT"; then
		cat -v "$TRANSCRIPT" >&2
		fail "$2: the passphrase was echoed"
	fi
	[ "$ECHO_STATE" = echo=on ] || fail "$2: terminal left with $ECHO_STATE"
}

# shown_count TEXT -- how many times TEXT is in the transcript.
shown_count() {
	grep -oF -- "$1" "$TRANSCRIPT" | wc -l
}

PASS=Tr0ub4dor-pty-7731
NEW=Correct-horse-pty-5402

# ---- the driver itself sees what a terminal echoes --------------------
t send=visible-1029 -- head -n1
expect_rc 0 "head on the terminal"
grep -qF visible-1029 "$TRANSCRIPT" || fail "pty.py does not see echoed input"

# ---- init: asked twice, not echoed ------------------------------------
t "expect=New passphrase for S: " "send=$PASS" "expect=Repeat the passphrase: " "send=$PASS" \
	-- "$HANGAR" init S --encrypt
expect_rc 0 "init --encrypt with the passphrase typed twice"
expect_out "initialized encrypted \(aes-256-gcm\) store S" "init says encrypted"
not_shown "$PASS" "init"
h key list S
expect_rc 0 "key list"
expect_out "^0 +passphrase " "the slot is a passphrase"

# the typed passphrase is the store's, and only it opens the store
h ls S --passphrase-fd 3 3<<<"$PASS"
expect_rc 0 "ls with the typed passphrase on a descriptor"
h ls S --passphrase-fd 3 3<<<"$PASS-x"
expect_rc 1 "ls with another passphrase"
expect_err "wrong passphrase or key file" "wrong passphrase message"
h create S web01 --disk 16M --passphrase-fd 3 3<<<"$PASS"
expect_rc 0 "create"

# ---- a command on the store: asked once -------------------------------
t "expect=Passphrase for S: " "send=$PASS" -- "$HANGAR" ls S
expect_rc 0 "ls with the passphrase typed"
expect_out "^web01 " "prompted ls lists web01"
not_shown "$PASS" "ls"
[ "$(shown_count "assphrase")" = 1 ] || fail "ls asked $(shown_count "assphrase") times"
t "expect=Passphrase for S: " "send=$PASS-x" -- "$HANGAR" status S web01
expect_rc 1 "status with a wrong passphrase typed"
expect_err "^hangar: S: wrong passphrase or key file" "typed wrong passphrase message"
t "expect=Passphrase for S: " "send=$PASS" -- "$HANGAR" create S web02 --disk 16M
expect_rc 0 "create (a write command) with the passphrase typed"
h ls S --passphrase-fd 3 3<<<"$PASS"
expect_out "^web02 " "web02 created"
# a key option means no question
t -- "$HANGAR" ls S --passphrase-fd 3 3<<<"$PASS"
expect_rc 0 "ls with --passphrase-fd on a terminal"
[ "$(shown_count "assphrase")" = 0 ] || fail "asked although --passphrase-fd was given"
# a plain store asks nothing
h init plain
t -- "$HANGAR" ls plain
expect_rc 0 "ls of a plain store on a terminal"
[ "$(shown_count "assphrase")" = 0 ] || fail "asked for a plain store"

# ---- mismatch, empty, ^C: nothing created, echo back on ---------------
t "expect=New passphrase for M: " "send=$PASS" "expect=Repeat the passphrase: " "send=$PASS-typo" \
	-- "$HANGAR" init M --encrypt
expect_rc 1 "init with a mismatched second entry"
expect_err "^hangar: M: passphrases do not match" "mismatch message"
[ ! -e M ] || fail "a mismatched init created M"
not_shown "$PASS" "mismatched init"
t "expect=New passphrase for E: " "send=" -- "$HANGAR" init E --encrypt
expect_rc 1 "init with an empty passphrase"
expect_err "^hangar: E: empty passphrase refused" "empty passphrase message"
[ ! -e E ] || fail "an empty-passphrase init created E"
[ "$(shown_count "Repeat")" = 0 ] || fail "asked again after an empty passphrase"
t "expect=New passphrase for C: " intr -- "$HANGAR" init C --encrypt
expect_rc 130 "init interrupted by ^C"
[ ! -e C ] || fail "an interrupted init created C"
[ "$ECHO_STATE" = echo=on ] || fail "^C left the terminal with $ECHO_STATE"
t -- "$HANGAR" init S --encrypt
expect_rc 1 "init of an existing store"
expect_err "already a hangar store" "existing store message"
[ "$(shown_count "assphrase")" = 0 ] || fail "asked before saying the store exists"

# ---- key add: current once, new twice --------------------------------
t "expect=Passphrase for S: " "send=$PASS" "expect=New passphrase for S: " "send=$NEW" \
	"expect=Repeat the new passphrase: " "send=$NEW" -- "$HANGAR" key add S
expect_rc 0 "key add with both passphrases typed"
expect_out "added key slot 1 \(passphrase\)" "key add says slot 1"
not_shown "$NEW" "key add (new)"
not_shown "$PASS" "key add (current)"
h ls S --passphrase-fd 3 3<<<"$NEW"
expect_rc 0 "the added passphrase opens the store"
t "expect=New passphrase for S: " "send=$NEW-a" "expect=Repeat the new passphrase: " "send=$NEW-b" \
	-- "$HANGAR" key add S --passphrase-fd 3 3<<<"$PASS"
expect_rc 1 "key add with a mismatched new passphrase"
expect_err "passphrases do not match" "key add mismatch message"
h key list S
[ "$(grep -cE '^[0-9]+ ' "$OUT")" = 2 ] || fail "a mismatched key add changed the slots: $(cat "$OUT")"

# ---- no terminal: fail at once, naming the options --------------------
no_tty() {
	rc=0
	timeout 20 setsid -w "$HANGAR" "$@" </dev/null >"$OUT" 2>"$ERR" || rc=$?
}
no_tty init S2 --encrypt
expect_rc 1 "init --encrypt with no terminal"
expect_err "^hangar: S2: no terminal to ask for a passphrase: give --keyfile FILE or --passphrase-fd N" "no-terminal init message"
[ ! -e S2 ] || fail "init with no terminal created S2"
no_tty ls S
expect_rc 1 "ls with no terminal"
expect_err "^hangar: S: the store is encrypted: give --keyfile FILE or --passphrase-fd N" "no-terminal ls message"
no_tty key add S --passphrase-fd 3 3<<<"$PASS"
expect_rc 1 "key add with no terminal"
expect_err "give --new-keyfile FILE or --new-passphrase-fd N" "no-terminal key add message"

# ---- mount: asked by hangar, handed to hangarfs -----------------------
if [ -n "${HANGARFS:-}" ] && [ -x "$HANGARFS" ] && [ -e /dev/fuse ] &&
	command -v fusermount3 >/dev/null && command -v findmnt >/dev/null; then
	mkdir mnt
	unmount_at_exit "$WORK/mnt"
	t "expect=Passphrase for S: " "send=$PASS" -- "$HANGAR" mount S mnt
	expect_rc 0 "mount with the passphrase typed"
	not_shown "$PASS" "mount"
	wait_mounted mnt
	[ -f mnt/web01/disk.raw ] || fail "web01 not on the prompted mount"
	h umount mnt
	expect_rc 0 "umount"
fi
echo PASS
