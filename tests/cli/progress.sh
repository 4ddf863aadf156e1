#!/bin/bash
# tests/cli/progress.sh -- progress bars only on a terminal: import, export
# and check draw one on stderr when it is a (pseudo-)terminal and erase it
# at the end; with stderr a file or a pipe (scripts, logs) there is not a
# single carriage return or escape sequence, and the output is the same.
# Import and export measure against the data (SEEK_DATA ranges: 3 MiB of a
# 256 MiB sparse disk), with a rate and an ETA; --progress forces plain
# lines (no carriage return) when stderr is not a terminal.
source "$(dirname "$0")/../lib.bash"
cli_setup
python3 -c 'import pty' 2>/dev/null || skip "python3 with pty needed"

# on_tty STDOUT TRANSCRIPT COMMAND... -- run COMMAND with stderr on a fresh
# pseudo-terminal (stdout to a file); what the terminal showed goes to
# TRANSCRIPT.  Exit status: COMMAND's.
cat >tty.py <<'EOF'
import os, subprocess, sys
out, transcript, cmd = sys.argv[1], sys.argv[2], sys.argv[3:]
master, slave = os.openpty()
with open(out, "wb") as o:
    child = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=o, stderr=slave)
os.close(slave)
shown = b""
while True:
    try:
        chunk = os.read(master, 4096)
    except OSError:  # EIO: the child closed its side
        break
    if not chunk:
        break
    shown += chunk
open(transcript, "wb").write(shown)
sys.exit(child.wait())
EOF
on_tty() {
	rc=0
	env -u HANGAR_NO_PROGRESS timeout 120 python3 tty.py "$@" || rc=$?
}

h init store
expect_rc 0 "init"
make_sparse big.raw 256M 0 100 255

# ---- on a terminal: a bar, then erased ---------------------------------------
on_tty imp.out imp.tty "$HANGAR" import store web01 --disk big.raw
expect_rc 0 "import on a terminal"
grep -q '^imported guest web01$' imp.out || fail "import summary on stdout: $(cat imp.out)"
grep -aqE 'import \[[#-]{30}\] +[0-9]+%' imp.tty || fail "no import progress bar on the terminal: $(cat -v imp.tty)"
# measured on the data (3 MiB), not the virtual size (256 MiB), with an ETA
grep -aqE 'import \[[#-]{30}\] +[0-9]+% [0-9.]+[KM]?/3\.0M [^ ]+ ETA [-0-9:]+' imp.tty ||
	fail "the import bar is not measured on the data with an ETA: $(cat -v imp.tty)"
# The last thing drawn erases the bar ("\r" + erase to end of line).
[ "$(tail -c 4 imp.tty | od -An -c | tr -d ' ')" = '\r033[K' ] ||
	fail "the import bar is not erased at the end: $(tail -c 40 imp.tty | cat -v)"

on_tty exp.out exp.tty "$HANGAR" export store web01 out
expect_rc 0 "export on a terminal"
grep -aqE 'export \[[#-]{30}\] +[0-9]+% [0-9.]+[KM]?/3\.0M [^ ]+ ETA [-0-9:]+' exp.tty ||
	fail "no export progress bar measured on the data: $(cat -v exp.tty)"
cmp big.raw out/disk.raw || fail "export on a terminal wrote different bytes"

on_tty chk.out chk.tty "$HANGAR" check store
expect_rc 0 "check on a terminal"
grep -aqE 'check \[[#-]{30}\]' chk.tty || fail "no check progress bar: $(cat -v chk.tty)"
grep -q '^web01: clean' chk.out || fail "check report on stdout: $(cat chk.out)"

# HANGAR_NO_PROGRESS turns it off even on a terminal.
rc=0
HANGAR_NO_PROGRESS=1 timeout 120 python3 tty.py chk2.out chk2.tty "$HANGAR" check store || rc=$?
expect_rc 0 "check on a terminal with HANGAR_NO_PROGRESS"
! grep -aq 'check \[' chk2.tty || fail "HANGAR_NO_PROGRESS=1 still drew a bar"

# ---- not a terminal: nothing but the messages ---------------------------------
unset HANGAR_NO_PROGRESS
h import store web02 --disk big.raw
expect_rc 0 "import to a file"
cp "$ERR" all.err
h export store web02 out2
expect_rc 0 "export to a file"
cat "$ERR" >>all.err
h check store web01
expect_rc 0 "check to a file"
cat "$ERR" >>all.err
if grep -aq $'\r\|\033' all.err; then
	fail "a progress bar reached stderr that is not a terminal: $(cat -v all.err)"
fi
[ "$(cat "$OUT")" = "$(cat chk.out)" ] || fail "check prints differently on a terminal"

# ---- --progress: forced, plain lines, rate and ETA -------------------------------
# check_lines FILE LABEL : every line "LABEL: P% DONE/3.0M RATE ETA T", the
# percentages never go back, and the last says 100 % with a rate.
check_lines() {
	python3 - "$1" "$2" <<'PY' || fail "$2 --progress lines: $(cat -v "$1")"
import re, sys
lines = [l for l in open(sys.argv[1], encoding="utf-8", errors="replace").read().split("\n") if l]
pat = re.compile(r"^%s: +(\d+)%% [0-9.]+[KM]?/3\.0M (-|[0-9.]+[KMG]?/s) ETA ([-0-9:]+)$" % sys.argv[2])
got = [pat.match(l) for l in lines if l.startswith(sys.argv[2] + ":")]
assert got and all(got), lines
pcts = [int(m.group(1)) for m in got]
assert pcts == sorted(pcts), pcts
assert pcts[-1] == 100 and got[-1].group(2) != "-" and got[-1].group(3) == "0:00", lines
assert "\r" not in open(sys.argv[1], errors="replace").read()
PY
}
h import store web03 --disk big.raw --progress
expect_rc 0 "import --progress to a file"
check_lines "$ERR" import
h export store web03 out3 --progress
expect_rc 0 "export --progress to a file"
check_lines "$ERR" export
cmp big.raw out3/disk.raw || fail "export --progress wrote different bytes"

echo "PASS"
