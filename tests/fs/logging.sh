#!/bin/bash
# tests/fs/logging.sh -- where hangarfs's log lines go (fs/log.c): a
# save-lock refusal must reach the operator whatever the host offers.
#   - -o log_file=PATH: every line is appended to PATH (timestamped), in
#     daemon mode, with or without a log socket;
#   - daemon mode on a host with neither a journal nor a syslog socket
#     (a container) and no log_file: the lines stay on hangarfs's stderr,
#     and startup says so, instead of vanishing into /dev/null; a pipe
#     (`out=$(hangarfs ...)`) is not kept, or its reader would wait for
#     the daemon's exit: startup says the lines are not kept;
#   - the systemd journal, with structured fields (MESSAGE, PRIORITY,
#     SYSLOG_IDENTIFIER, STORE, GUEST, OBJECT): through the real journald
#     when it runs here, else (as root) through a stand-in journal socket
#     in a private mount namespace that decodes the native protocol, both
#     for a daemon and for `-f` whose stderr is the journal stream
#     ($JOURNAL_STREAM, as under a systemd unit).
. "$(dirname "$0")/../lib.bash"
fs_setup python3 getfattr

t "$HANGAR" create "$STORE" web01 --disk 1M >/dev/null || fail "hangar create"
REAL_STORE=$(realpath "$STORE")

# refuse MNT : seal a memory image in web01, then try to open its disk for
# writing (refused: EBUSY and one log line), then discard the image.
refuse() {
	head -c 65536 /dev/urandom >"$1/web01/memory.save" || fail "write memory.save"
	[ "$(getfattr --absolute-names --only-values -n user.hangar.state "$1/web01")" = saved ] ||
		fail "web01 not saved"
	got=$(errno_of "os.open('$1/web01/disk.raw', os.O_WRONLY)")
	[ "$got" = EBUSY ] || fail "write open of a pinned disk: $got"
	rm "$1/web01/memory.save" || fail "discard"
}

# daemon_pid : the daemon holding the store.
daemon_pid() { flock_holder "$STORE" WRITE; }

log "-o log_file in daemon mode: the refusal is in the file"
FILE_LOG=$WORK/hangarfs-file.log
t "$HANGARFS" "$STORE" "$MNT" -o commit_interval=1,log_file="$FILE_LOG" 2>"$WORK/err" ||
	fail "hangarfs -o log_file: $(cat "$WORK/err")"
HFS_PID=$(daemon_pid)
refuse "$MNT"
fs_umount
grep -E "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}(\.[0-9]+)?Z hangarfs\[[0-9]+\]: warning: web01/disk.raw: read-write open refused: " "$FILE_LOG" >/dev/null ||
	fail "no timestamped refusal in the log file: $(cat "$FILE_LOG")"
grep -q "hangarfs\[[0-9]*\]: info: mounted $REAL_STORE on $MNT" "$FILE_LOG" ||
	fail "no 'mounted' line in the log file"
grep -q "info: unmounted $REAL_STORE; every guest committed" "$FILE_LOG" ||
	fail "no 'unmounted' line in the log file"
[ "$(stat -c %a "$FILE_LOG")" = 600 ] || fail "log file mode $(stat -c %a "$FILE_LOG"), expected 600"
expect_fail "log_file" "$HANGARFS" "$STORE" "$MNT" -o log_file="$WORK/no/such/dir/log"
mountpoint -q "$MNT" && fail "mounted although the log file cannot be opened"

if [ ! -S /dev/log ] && [ ! -S /run/systemd/journal/socket ]; then
	log "no log socket here, no log_file: the lines stay on stderr"
	t "$HANGARFS" "$STORE" "$MNT" -o commit_interval=1 2>"$WORK/stderr.log" ||
		fail "hangarfs: $(cat "$WORK/stderr.log")"
	HFS_PID=$(daemon_pid)
	refuse "$MNT"
	fs_umount
	grep -q "no journal or syslog socket" "$WORK/stderr.log" ||
		fail "startup did not say where the log goes: $(cat "$WORK/stderr.log")"
	grep -q "web01/disk.raw: read-write open refused" "$WORK/stderr.log" ||
		fail "the refusal vanished: $(cat "$WORK/stderr.log")"
	log "... but a pipe is let go (its reader would wait), saying so"
	out=$(timeout 30 "$HANGARFS" "$STORE" "$MNT" -o commit_interval=1 2>&1) ||
		fail "hangarfs with stderr on a pipe did not return: $out"
	HFS_PID=$(daemon_pid)
	case "$out" in
	*"stderr is a pipe"*"-o log_file=PATH"*) ;;
	*) fail "no warning that the lines are not kept: $out" ;;
	esac
	fs_umount
else
	log "a log socket exists here: the no-socket fallback is not tried"
fi

# ---- the journal -----------------------------------------------------------

# check_journal JSONL WHAT : the decoded entries hold the refusal with its
# fields, and the mount line with STORE.
check_journal() {
	python3 - "$1" "$2" "$REAL_STORE" <<'PY' || fail "$2: journal fields"
import json, sys
entries = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
what, store = sys.argv[2], sys.argv[3]
refusals = [e for e in entries if "read-write open refused" in e.get("MESSAGE", "")]
if not refusals:
    sys.exit(f"{what}: no refusal among {len(entries)} entries: {entries}")
e = refusals[0]
want = {"GUEST": "web01", "OBJECT": "disk.raw", "STORE": store,
        "PRIORITY": "4", "SYSLOG_IDENTIFIER": "hangarfs"}
bad = {k: (e.get(k), v) for k, v in want.items() if e.get(k) != v}
if bad:
    sys.exit(f"{what}: refusal fields (got, want): {bad}; entry: {e}")
if not e["MESSAGE"].startswith("web01/disk.raw: read-write open refused: "):
    sys.exit(f"{what}: MESSAGE {e['MESSAGE']!r}")
mounted = [e for e in entries if e.get("MESSAGE", "").startswith("mounted ")]
if not mounted or mounted[0].get("STORE") != store or "GUEST" in mounted[0]:
    sys.exit(f"{what}: mount entry: {mounted}")
PY
}

if [ -S /run/systemd/journal/socket ] && command -v journalctl >/dev/null &&
	journalctl -n 0 >/dev/null 2>&1; then
	log "journald runs here: the refusal is in the journal with its fields"
	t "$HANGARFS" "$STORE" "$MNT" -o commit_interval=1 || fail "hangarfs"
	HFS_PID=$(daemon_pid)
	pid=$HFS_PID
	refuse "$MNT"
	fs_umount
	journalctl --sync 2>/dev/null
	journalctl -o json --output-fields=MESSAGE,PRIORITY,SYSLOG_IDENTIFIER,STORE,GUEST,OBJECT \
		_PID="$pid" >"$WORK/journal.json" || fail "journalctl"
	check_journal "$WORK/journal.json" journald
elif [ "$(id -u)" = 0 ] && command -v unshare >/dev/null && [ -d /run/systemd ]; then
	log "no journald here: a stand-in journal socket in a private mount namespace"
	cat >"$WORK/journal.py" <<'PY'
# A stand-in for journald's native socket: decode every datagram
# (systemd's native protocol: "KEY=value\n", or "KEY\n" + le64 size +
# bytes + "\n") into one JSON line.
import json, os, socket, struct, sys
path, out = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
open(out + ".up", "w").close()
with open(out, "a") as f:
    while True:
        data = s.recv(1 << 20)
        e, i = {}, 0
        while i < len(data):
            nl = data.index(b"\n", i)
            line = data[i:nl]
            if b"=" in line:
                k, v = line.split(b"=", 1)
                i = nl + 1
            else:
                k = line
                n = struct.unpack("<Q", data[nl + 1:nl + 9])[0]
                v = data[nl + 9:nl + 9 + n]
                i = nl + 9 + n + 1
            e[k.decode()] = v.decode(errors="replace")
        f.write(json.dumps(e) + "\n")
        f.flush()
PY
	cat >"$WORK/ns.sh" <<'SH'
# Runs in the private mount namespace: a tmpfs hides the host's
# /run/systemd, the stand-in listens where libsystemd sends, and hangarfs
# runs twice: as a daemon, then with -f and stderr as the "journal stream".
set -u
WORK=$1 STORE=$2 MNT=$3 HANGARFS=$4
. "$WORK/ns-lib.sh"
mount -t tmpfs tmpfs /run/systemd || exit 1
mkdir /run/systemd/journal
python3 "$WORK/journal.py" /run/systemd/journal/socket "$WORK/daemon.jsonl" &
echo $! >"$WORK/listener.pid"
for i in $(seq 100); do [ -e "$WORK/daemon.jsonl.up" ] && break; sleep 0.1; done
timeout 60 "$HANGARFS" "$STORE" "$MNT" -o commit_interval=1 || exit 1
flock_holder "$STORE" >"$WORK/daemon.pid"
refuse "$MNT"
umount_wait "$MNT" "$(cat "$WORK/daemon.pid")" || exit 1
kill "$(cat "$WORK/listener.pid")"
python3 "$WORK/journal.py" /run/systemd/journal/socket.2 "$WORK/fg.jsonl" &
echo $! >"$WORK/listener.pid"
for i in $(seq 100); do [ -e "$WORK/fg.jsonl.up" ] && break; sleep 0.1; done
mv /run/systemd/journal/socket.2 /run/systemd/journal/socket
: >"$WORK/fg.stderr"
JOURNAL_STREAM=$(stat -c '%d:%i' "$WORK/fg.stderr") \
	"$HANGARFS" "$STORE" "$MNT" -f -o commit_interval=1 2>>"$WORK/fg.stderr" &
echo $! >"$WORK/daemon.pid"
for i in $(seq 100); do mountpoint -q "$MNT" && break; sleep 0.1; done
refuse "$MNT"
umount_wait "$MNT" "$(cat "$WORK/daemon.pid")" || exit 1
kill "$(cat "$WORK/listener.pid")"
SH
	{
		declare -f refuse flock_holder errno_of fail fs_show_log
		echo 'T=60'
		echo 'umount_wait() { timeout 30 fusermount3 -u "$1" || return 1; for i in $(seq 300); do kill -0 "$2" 2>/dev/null || return 0; sleep 0.1; done; return 1; }'
	} >"$WORK/ns-lib.sh"
	# Whatever the namespace leaves running is ours: stop it by PID.
	at_exit 'for f in daemon listener; do [ -s "$WORK/$f.pid" ] && kill "$(cat "$WORK/$f.pid")" 2>/dev/null; done'
	timeout 120 unshare --mount --propagation private \
		bash "$WORK/ns.sh" "$WORK" "$STORE" "$MNT" "$HANGARFS" ||
		fail "the namespace part failed"
	check_journal "$WORK/daemon.jsonl" "daemon"
	check_journal "$WORK/fg.jsonl" "-f with JOURNAL_STREAM"
	grep -q "read-write open refused" "$WORK/fg.stderr" &&
		fail "-f on the journal stream also wrote the refusal to stderr"
else
	log "SKIPPED (journal part): no journald here, and a stand-in socket needs root and unshare(1)"
fi
echo PASS
