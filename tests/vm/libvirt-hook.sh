#!/bin/bash
# tests/vm/libvirt-hook.sh -- libvirt on a hangar mount, with the hook
# contrib/libvirt/qemu (optional: it runs a libvirtd of its own).
#
# The domain is contrib/libvirt/example-domain.xml with the disk path pointed
# into a test mount, type='qemu' (TCG; type='kvm' with HANGAR_VM_KVM=1), the tests/vm guest kernel booted
# directly, a serial log file, no NIC, and QEMU run as root without
# relabelling (a static DAC seclabel), since the FUSE mount is root's.
#   1. virsh create: the guest writes numbered blocks to disk.raw;
#   2. virsh save into MNT/GUEST/memory.save: saved, disk.raw pinned;
#   3. virsh create again: refused (EBUSY), the disk unchanged;
#   4. virsh restore: the hook releases the lock, the guest counts on from
#      where it stopped, memory.save is retired at its next write; the
#      blocks read back on the host;
#   5. a stale image: a descriptor opened before the save writes after it;
#      virsh restore memory.save.stale fails with the hook's reason.
#
# Needs root.  Runs when libvirt is installed; HANGAR_VM_LIBVIRT=1 installs
# libvirt-daemon-system when missing (unless HANGAR_NO_INSTALL=1).  It starts libvirtd (and virtlogd, unless running)
# itself and stops them at the end; it installs the hook as
# /etc/libvirt/hooks/qemu for the run and removes it after.  Exit 77 when
# libvirt cannot be had, when a libvirtd it did not start is running (it
# would not have the hook), or when a different qemu hook is installed.

VMDIR=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$VMDIR/../.." && pwd)
BUILD=${HANGAR_BUILD_DIR:-$SRC/build}
: "${HANGARFS:=$BUILD/fs/hangarfs}"
: "${HANGAR:=$BUILD/cli/hangar}"
export HANGARFS HANGAR

# shellcheck source=../lib.bash
. "$SRC/tests/lib.bash"
# shellcheck source=vm.bash
. "$VMDIR/vm.bash"

HOOK_SRC=$SRC/contrib/libvirt/qemu
HOOK=/etc/libvirt/hooks/qemu
EXAMPLE=$SRC/contrib/libvirt/example-domain.xml

[ -c /dev/fuse ] || skip "/dev/fuse is missing"
[ "$(id -u)" = 0 ] || skip "needs root (runs libvirtd, installs $HOOK)"
if ! command -v libvirtd >/dev/null || ! command -v virsh >/dev/null ||
	! command -v virtlogd >/dev/null; then
	[ "${HANGAR_VM_LIBVIRT:-0}" = 1 ] ||
		skip "libvirt is not installed (HANGAR_VM_LIBVIRT=1 installs libvirt-daemon-system)"
	[ "${HANGAR_NO_INSTALL:-0}" != 1 ] || skip "libvirt is not installed and HANGAR_NO_INSTALL=1"
	command -v apt-get >/dev/null || skip "libvirt is not installed and there is no apt-get"
	DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y -q \
		libvirt-daemon-system libvirt-clients >&2 ||
		skip "apt-get install libvirt-daemon-system failed"
fi
command -v libvirtd >/dev/null || skip "no libvirtd after install"
for d in libvirtd virtqemud; do
	pgrep -x "$d" >/dev/null &&
		skip "a $d this test did not start is running (it would not have the hook; stop it first)"
done
if [ -e "$HOOK" ] && ! cmp -s "$HOOK" "$HOOK_SRC"; then
	skip "$HOOK exists and is not contrib/libvirt/qemu; not replacing it"
fi
vm_build_guest

fs_setup virsh findmnt getfattr setfattr python3 cmp

BUSY="Device or resource busy"
GUEST=web01
G=$MNT/$GUEST
DISK=$G/disk.raw
BASE=4096
DOM=hangar-vmtest-$$
SERIAL=$WORK/serial.log
LIBVIRTD_PID='' VIRTLOGD_PID='' HOOK_INSTALLED=''
V() { timeout "$T" virsh -q -c qemu:///system "$@"; }

fail() {
	echo "FAIL: $*" >&2
	[ -f "$SERIAL" ] && { echo "--- serial (last 10 lines):"; tr -d '\r' <"$SERIAL" | tail -n 10; } >&2
	[ -s "$WORK/libvirtd.log" ] && { echo "--- libvirtd log (last 15 lines):"; tail -n 15 "$WORK/libvirtd.log"; } >&2
	fs_show_log >&2
	exit 1
}

stop_pid() { # PID: TERM (timeout(1) passes it on), then KILL
	local i
	[ -n "$1" ] && kill -0 "$1" 2>/dev/null || return 0
	kill "$1"
	for ((i = 0; i < 100; i++)); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}

lv_cleanup() {
	set +e
	if [ -n "$LIBVIRTD_PID" ]; then
		timeout 30 virsh -q -c qemu:///system destroy "$DOM" >/dev/null 2>&1
		stop_pid "$LIBVIRTD_PID"
	fi
	stop_pid "$VIRTLOGD_PID"
	if [ -n "$HOOK_INSTALLED" ] && cmp -s "$HOOK" "$HOOK_SRC"; then
		rm -f "$HOOK"
	fi
}
at_exit lv_cleanup

# The hook before the daemon: libvirtd looks for hooks when it starts.
if [ ! -e "$HOOK" ]; then
	mkdir -p "$(dirname "$HOOK")" && install -m 755 "$HOOK_SRC" "$HOOK" ||
		fail "install $HOOK"
	HOOK_INSTALLED=1
fi
if ! pgrep -x virtlogd >/dev/null; then
	timeout 900 virtlogd >"$WORK/virtlogd.log" 2>&1 &
	VIRTLOGD_PID=$!
fi
timeout 900 libvirtd >"$WORK/libvirtd.log" 2>&1 &
LIBVIRTD_PID=$!
for ((i = 0; i < 150; i++)); do
	timeout 5 virsh -q -c qemu:///system version >/dev/null 2>&1 && break
	kill -0 "$LIBVIRTD_PID" 2>/dev/null ||
		skip "libvirtd cannot run here: $(grep -i error "$WORK/libvirtd.log" | tail -n 3 | tr '\n' ' ')"
	sleep 0.2
done
V version >/dev/null 2>&1 || skip "libvirtd did not answer within 30 s: $(tail -n 3 "$WORK/libvirtd.log" | tr '\n' ' ')"

# domain_xml START OUT: the example, adapted for this test.
domain_xml() {
	python3 - "$EXAMPLE" "$2" "$DOM" "$CACHE" "$DISK" "$SERIAL" "$BASE" "$1" "$VM_KERNEL_ARGS" "$VM_ACCEL" <<'PY' ||
import sys
import xml.etree.ElementTree as ET
src, out, name, cache, disk, serial, base, start, kargs, accel = sys.argv[1:11]
t = ET.parse(src)
d = t.getroot()
d.set("type", "kvm" if accel == "kvm" else "qemu")
d.find("name").text = name
d.find("memory").text = "256"
d.find("vcpu").text = "1"
os_ = d.find("os")
for b in os_.findall("boot"):
    os_.remove(b)
for tag, val in (("kernel", cache + "/vmlinuz"), ("initrd", cache + "/initrd.img"),
                 ("cmdline", "%s hangar.base=%s hangar.mode=writer hangar.start=%s"
                  % (kargs, base, start))):
    ET.SubElement(os_, tag).text = val
dev = d.find("devices")
disks = dev.findall("disk")
assert len(disks) == 1 and disks[0].find("driver").get("cache") == "none"
disks[0].find("source").set("file", disk)
for tag in ("interface", "serial", "console"):
    for e in dev.findall(tag):
        dev.remove(e)
s = ET.SubElement(dev, "serial", type="file")
ET.SubElement(s, "source", path=serial, append="on")
ET.SubElement(s, "target", port="0")
sl = ET.SubElement(d, "seclabel", type="static", model="dac", relabel="no")
ET.SubElement(sl, "label").text = "+0:+0"
t.write(out)
PY
		fail "adapting $EXAMPLE"
}

wait_wrote() { # N SECONDS
	local i last
	for ((i = 0; i < $2 * 5; i++)); do
		last=$(last_wrote "$SERIAL")
		[ -n "$last" ] && [ "$last" -ge "$1" ] && return 0
		sleep 0.2
	done
	fail "no WROTE $1 on the serial console within $2 s (last: ${last:-none})"
}
state() { getfattr --absolute-names --only-values -n user.hangar.state "$G" 2>&1; }
expect_state() {
	local s
	s=$(state)
	[ "$s" = "$1" ] || fail "$2: user.hangar.state is '$s', expected '$1'"
}

fs_mount
SCENARIO_T=$(date +%s.%N)
mkdir "$G" || fail "mkdir"
t truncate -s 64M "$DISK" || fail "truncate"

log "1. virsh create: the guest writes to disk.raw in the mount"
domain_xml 0 "$WORK/dom.xml"
out=$(V create "$WORK/dom.xml" 2>&1) || fail "virsh create: $out"
wait_wrote 10 90
expect_state open-rw "while the domain runs"

log "2. virsh save into memory.save"
out=$(V save "$DOM" "$G/memory.save" 2>&1) || fail "virsh save: $out"
N1=$(last_wrote "$SERIAL")
expect_state saved "after virsh save"
getfattr --absolute-names --only-values -n user.hangar.saved "$G" | grep -q "disks=disk.raw;" ||
	fail "disk.raw not pinned"
expect_log "$GUEST/memory.save: save image sealed"
t cp --sparse=always "$DISK" "$WORK/disk-at-save.raw"
echo "    saved after block $N1; memory.save $(stat -c %s "$G/memory.save") bytes"

log "3. virsh create of the saved guest's disk: refused"
if out=$(V create "$WORK/dom.xml" 2>&1); then
	V destroy "$DOM" >/dev/null 2>&1
	fail "libvirt booted the saved guest's disk fresh"
fi
case "$out" in *"$BUSY"*) ;; *) fail "virsh create failed, but not with EBUSY: $out" ;; esac
echo "    $(echo "$out" | grep -o "Could not open[^\"]*$BUSY" | head -n 1)"
t cmp "$WORK/disk-at-save.raw" "$DISK" || fail "disk changed by the refused start"
expect_state saved "after the refused start"

log "4. virsh restore: the hook releases the lock; the guest counts on"
out=$(V restore "$G/memory.save" 2>&1) || fail "virsh restore: $out"
wait_wrote $((N1 + 5)) 60
# The serial log is appended to: one boot, one run of numbers from 0.
[ "$(tr -d '\r' <"$SERIAL" | grep -ac BOOTED)" = 1 ] || fail "the restored guest booted afresh"
wrote_numbers "$SERIAL" | awk '$1 != NR - 1 { exit 1 }' ||
	fail "the guest's numbers are not one run from 0: $(wrote_numbers "$SERIAL" | tr '\n' ' ')"
FIRST=$(wrote_numbers "$SERIAL" | awk -v n="$N1" '$1 > n { print; exit }')
for ((i = 0; i < 50; i++)); do [ -e "$G/memory.save" ] || break; sleep 0.1; done
[ ! -e "$G/memory.save" ] || fail "memory.save not retired after the restored guest wrote"
expect_log "$GUEST: resume: save lock released for the restore"
expect_log "save image retired"
echo "    stopped at $N1, went on at $FIRST; memory.save retired"
N2=$(last_wrote "$SERIAL")
hostcheck 0 "$N2" || fail "host check after the restore"

log "5. a stale image: virsh restore fails with the hook's reason"
exec 8<>"$DISK" # opened before the save, written after it
out=$(V save "$DOM" "$G/memory.save" 2>&1) || fail "second virsh save: $out"
expect_state saved "second save"
printf 'written after the save' >&8 || fail "write through the old descriptor"
exec 8>&-
expect_state invalidated "after the old-descriptor write"
[ -e "$G/memory.save.stale" ] || fail "no memory.save.stale: $(ls "$G")"
if out=$(V restore "$G/memory.save.stale" 2>&1); then
	V destroy "$DOM" >/dev/null 2>&1
	fail "virsh restore of a stale image succeeded"
fi
case "$out" in
*"hangar hook"*"stale"*) ;;
*) fail "virsh restore of a stale image failed without the hook's reason: $out" ;;
esac
echo "$out" | grep "hangar hook" | sed 's/^.*\(hangar hook\)/    \1/'
V domstate "$DOM" >/dev/null 2>&1 && fail "a domain runs after the refused restore"
expect_state invalidated "after the refused restore"

fs_umount
out=$(t "$HANGAR" check "$STORE" 2>&1) || fail "hangar check: $out"
echo "libvirt scenario time: $(elapsed "$SCENARIO_T") s"
echo PASS
