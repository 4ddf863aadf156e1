# tests/vm/vm.bash -- shared by the tests/vm/*.sh QEMU tests (not a test:
# not named *.sh).  Source after tests/lib.bash; uses its skip and T, and
# the caller's DISK (the guest's disk.raw), BASE, G (the guest directory)
# and CACHE (vm_build_guest).  It replaces lib.bash's fail with one that
# also shows the serial console and stderr of the QEMU last started.

# The guest kernel's command line (before the hangar.* words).  TCG on a
# loaded host can fail the kernel's IO-APIC timer check ("IO-APIC + timer
# doesn't work!", a panic): no_timer_check skips it.
# shellcheck disable=SC2034 # used by the tests
VM_KERNEL_ARGS="console=ttyS0 panic=-1 quiet no_timer_check"

# VM_ACCEL: the accelerator for every guest.  TCG by default: /dev/kvm on
# these machines was not reliable (a guest hung at boot with -cpu host).
# HANGAR_VM_KVM=1 opts in to KVM (QEMU's default CPU model, not -cpu host);
# asked for and unusable is a failure, not a quiet fall back to TCG.  (On
# the machine this was written on, KVM with the default CPU hung too, after
# SeaBIOS "Booting from ROM...", with "host doesn't support requested
# feature: CPUID.01H:ECX.pni": the test fails at step 1 there.)
# shellcheck disable=SC2034 # used by the tests
VM_ACCEL=tcg
if [ "${HANGAR_VM_KVM:-0}" = 1 ]; then
	[ -c /dev/kvm ] && [ -r /dev/kvm ] && [ -w /dev/kvm ] ||
		{ echo "FAIL: HANGAR_VM_KVM=1 but /dev/kvm is missing or not read-write for $(id -un)" >&2; exit 1; }
	VM_ACCEL=kvm
fi

# vm_build_guest: build or reuse the cached guest; sets CACHE and T0.
vm_build_guest() {
	local rc
	# shellcheck disable=SC2034 # T0 is read by the tests
	T0=$(date +%s.%N)
	CACHE=$(bash "$VMDIR/build-guest.sh" | tail -n 1)
	rc=${PIPESTATUS[0]}
	[ "$rc" = 77 ] && skip "guest: $CACHE"
	[ "$rc" = 0 ] && [ -f "$CACHE/vmlinuz" ] && [ -f "$CACHE/initrd.img" ] ||
		{ echo "FAIL: build-guest.sh exited $rc" >&2; exit 1; }
}

# elapsed START: seconds since START (date +%s.%N), one decimal.
elapsed() { echo "$(date +%s.%N) $1" | awk '{ printf "%.1f", $1 - $2 }'; }

# step TITLE: print the time the previous step took, then the title.
STEP_T=
step() {
	[ -n "$STEP_T" ] && echo "    ($(elapsed "$STEP_T") s)"
	STEP_T=$(date +%s.%N)
	echo "=== $*"
}

# serial_lines FILE: the complete lines of a serial log, without \r (a line
# cut short when the guest was stopped is left out).
serial_lines() {
	[ -e "$1" ] || return 0
	if [ -s "$1" ] && [ "$(tail -c 1 "$1" | od -An -tx1 | tr -d ' ')" != 0a ]; then
		tr -d '\r' <"$1" | sed '$d'
	else
		tr -d '\r' <"$1"
	fi
}
wrote_numbers() { serial_lines "$1" | sed -n 's/^WROTE \([0-9][0-9]*\)$/\1/p'; }
last_wrote() { wrote_numbers "$1" | tail -n 1; }

# hostcheck FIRST LAST [SLACK]: blocks FIRST..LAST of disk.raw hold their
# pattern; the SLACK blocks after LAST hold theirs or zeros (a write in
# flight at a power-off).  Read on the host, through the mount, read-only.
hostcheck() {
	timeout "$T" python3 - "$DISK" "$BASE" "$1" "$2" "${3:-0}" <<'PY'
import sys
path, base, first, last, slack = sys.argv[1], *map(int, sys.argv[2:6])
pat = lambda n: (b"blk %010d \n" % n) * 256
bad = []
with open(path, "rb") as f:
    for n in range(first, last + 1 + slack):
        f.seek((base + n) * 4096)
        b = f.read(4096)
        if b != pat(n) and not (n > last and b == bytes(4096)):
            bad.append(n)
if bad:
    print("host check: bad blocks %s" % bad[:20])
    sys.exit(1)
print("host check: blocks %d..%d intact" % (first, last))
PY
}

# ---- one QEMU at a time -------------------------------------------------------
# The helpers below drive one QEMU (its PID in QPID, serial log QLOG, HMP
# monitor socket QSOCK, stderr QERR) on the caller's DISK, with the writer's
# blocks at BASE; G is the guest directory (memory.save goes there).  Call
# vm_cleanup from the EXIT trap (at_exit) so a failing test still stops it.
QEMU_LIFETIME=${HANGAR_VM_QEMU_TIMEOUT:-300}
QPID='' QPIDFILE='' QLOG='' QSOCK='' QERR='' QNAME=''
# fail: also show the QEMU we were talking to.
fail() {
	echo "FAIL: $*" >&2
	if [ -n "$QLOG" ] && [ -f "$QLOG" ]; then
		echo "--- serial console of $QNAME (last 15 lines):" >&2
		tr -d '\r' <"$QLOG" | tail -n 15 >&2
	fi
	if [ -n "$QERR" ] && [ -s "$QERR" ]; then
		echo "--- qemu stderr of $QNAME:" >&2
		cat "$QERR" >&2
	fi
	fs_show_log >&2
	exit 1
}

# --- QEMU ------------------------------------------------------------------
qemu_alive() { [ -n "$QPID" ] && kill -0 "$QPID" 2>/dev/null; }

# qemu_kill: stop the QEMU this test started (if any), hard.
qemu_kill() {
	local i qp
	[ -n "$QPID" ] || return 0
	if kill -0 "$QPID" 2>/dev/null; then
		kill "$QPID" 2>/dev/null # timeout(1) passes SIGTERM to qemu
		for ((i = 0; i < 100; i++)); do
			kill -0 "$QPID" 2>/dev/null || break
			sleep 0.1
		done
	fi
	qp=$(cat "$QPIDFILE" 2>/dev/null)
	if [ -n "$qp" ] && [ "$(cat /proc/"$qp"/comm 2>/dev/null)" = qemu-system-x86 ]; then
		kill -KILL "$qp" 2>/dev/null
	fi
	kill -KILL "$QPID" 2>/dev/null
	wait "$QPID" 2>/dev/null
	QPID=
}

# qemu_cmd NAME APPEND DRIVE-OPTIONS [QEMU-ARG...]: print the command line.
QEMU_ARGS=()
qemu_args() {
	local name=$1 append=$2 dopts=$3
	shift 3
	QNAME=$name
	QLOG=$WORK/$name.serial
	QSOCK=$WORK/$name.mon
	QERR=$WORK/$name.err
	QPIDFILE=$WORK/$name.pid
	rm -f "$QLOG" "$QSOCK" "$QERR" "$QPIDFILE"
	QEMU_ARGS=(qemu-system-x86_64 -accel "$VM_ACCEL" -m 256 -smp 1 -nographic
		-nodefaults -no-reboot
		-kernel "$CACHE/vmlinuz" -initrd "$CACHE/initrd.img"
		-append "$VM_KERNEL_ARGS hangar.base=$BASE $append"
		-drive "file=$DISK,format=raw,if=virtio,cache=none$dopts"
		-serial "file:$QLOG" -monitor "unix:$QSOCK,server,nowait"
		-pidfile "$QPIDFILE" "$@")
}

# qemu_start NAME APPEND DRIVE-OPTIONS [QEMU-ARG...]: in the background.
qemu_start() {
	local i
	qemu_args "$@"
	timeout "$QEMU_LIFETIME" "${QEMU_ARGS[@]}" </dev/null >"$QERR" 2>&1 &
	QPID=$!
	for ((i = 0; i < 100; i++)); do
		[ -S "$QSOCK" ] && return 0
		qemu_alive || fail "qemu ($QNAME) exited at start"
		sleep 0.1
	done
	fail "qemu ($QNAME): no monitor socket within 10 s"
}

# qemu_boot NAME APPEND DRIVE-OPTIONS [QEMU-ARG...]: start a guest and wait
# until it booted.  A kernel that panics before it touches the disk (TCG
# timing on a loaded host) is retried once, with a warning.
qemu_boot() {
	local try i
	for try in 1 2; do
		qemu_start "$@"
		for ((i = 0; i < 450; i++)); do
			tr -d '\r' 2>/dev/null <"$QLOG" | grep -aq "HANGAR-GUEST BOOTED" && return 0
			qemu_alive || break
			sleep 0.2
		done
		qemu_alive && fail "qemu ($QNAME): the guest did not boot within 90 s"
		wait "$QPID" 2>/dev/null
		QPID=''
		if [ "$try" = 2 ] || ! grep -aq "Kernel panic" "$QLOG"; then
			fail "qemu ($QNAME) exited before the guest booted"
		fi
		echo "    WARNING: $QNAME: kernel panic at boot, retrying: $(tr -d '\r' <"$QLOG" | grep -a 'Kernel panic' | head -n 1)"
		mv -f "$QLOG" "$QLOG.panic"
	done
}

# mon COMMAND: one HMP command; prints the reply with \r and escapes removed.
mon() {
	printf '%s\n' "$1" | timeout 20 socat -t 0.5 - "UNIX-CONNECT:$QSOCK" 2>&1 |
		tr -d '\r' | sed 's/\x1b\[[0-9;]*[A-Za-z]//g; s/\x1b[^[]//g'
}


# wait_serial REGEX SECONDS: until the serial log has a line matching.
wait_serial() {
	local i
	for ((i = 0; i < $2 * 5; i++)); do
		tr -d '\r' 2>/dev/null <"$QLOG" | grep -aqE -- "$1" && return 0
		qemu_alive || fail "qemu ($QNAME) exited while waiting for /$1/"
		sleep 0.2
	done
	fail "qemu ($QNAME): no /$1/ on the serial console within $2 s"
}

# wait_wrote N SECONDS: until the guest printed WROTE >= N.
wait_wrote() {
	local i last
	for ((i = 0; i < $2 * 5; i++)); do
		last=$(last_wrote "$QLOG")
		[ -n "$last" ] && [ "$last" -ge "$1" ] && return 0
		qemu_alive || fail "qemu ($QNAME) exited while waiting for WROTE $1"
		sleep 0.2
	done
	fail "qemu ($QNAME): no WROTE $1 within $2 s (last: ${last:-none})"
}

# wait_qemu_exit SECONDS: QEMU exits by itself (poweroff, quit).
wait_qemu_exit() {
	local i
	for ((i = 0; i < $1 * 10; i++)); do
		if ! qemu_alive; then
			wait "$QPID" 2>/dev/null
			QPID=
			return 0
		fi
		sleep 0.1
	done
	fail "qemu ($QNAME) did not exit within $1 s"
}

# migrate_to_save: HMP migrate into memory.save, wait for completed.
migrate_to_save() {
	local out
	out=$(mon "migrate -d \"exec:cat > $G/memory.save\"")
	case "$out" in *rror*) fail "migrate: $out" ;; esac
	wait_migration outgoing
}

# wait_migration WHAT: until info migrate says completed (120 s).
wait_migration() {
	local i out
	for ((i = 0; i < 600; i++)); do
		out=$(mon "info migrate")
		case "$out" in
		*"Migration status: completed"*) return 0 ;;
		*"Migration status: failed"* | *"Migration status: cancelled"*)
			fail "$1 migration failed: $out" ;;
		esac
		qemu_alive || fail "qemu ($QNAME) died during the $1 migration"
		sleep 0.2
	done
	fail "$1 migration did not complete within 120 s: $out"
}

# ensure_running WHEN: `cont` a paused VM until it runs (10 s).
ensure_running() {
	local i out
	for ((i = 0; i < 50; i++)); do
		out=$(mon "info status")
		case "$out" in
		*"VM status: running"*) return 0 ;;
		*"VM status: paused"*) mon cont >/dev/null ;;
		esac
		sleep 0.2
	done
	fail "the VM is not running $1: $out"
}

# save_guest: stop, migrate into memory.save, quit (xl save / virsh save).
save_guest() {
	mon stop >/dev/null
	mon "info status" | grep -q "VM status: paused" ||
		fail "the guest is not paused after stop"
	migrate_to_save
	mon quit >/dev/null
	wait_qemu_exit 30
}
