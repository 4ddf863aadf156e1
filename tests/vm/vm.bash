# tests/vm/vm.bash -- shared by the tests/vm/*.sh QEMU tests (not a test:
# not named *.sh).  Source after tests/lib.bash; uses its skip, fail
# and T, and the caller's DISK (the guest's disk.raw) and BASE.

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
