#!/bin/bash
# tests/cli/libvirt_hook.sh -- contrib/libvirt/qemu, called as libvirt
# calls it (qemu GUEST restore begin -, domain XML on stdin), on a real
# hangarfs mount: it releases the save lock of a saved guest, prints nothing
# on stdout (libvirt would take it as a new domain XML), ignores other
# operations and guests off the mount, and fails the restore of a stale
# image with the reason.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib.bash"
cli_setup
need_fuse
command -v setfattr >/dev/null && command -v getfattr >/dev/null || skip "attr not installed"
hook=$here/../../contrib/libvirt/qemu

h init store
h create store web01 --disk 64M
expect_rc 0 "create"
mnt=$WORK/vms
unmount_at_exit "$mnt"
h mount store "$mnt"
expect_rc 0 "mount"
wait_mounted "$mnt"

domain_xml() {
	cat <<-XML
		<domain type='kvm'>
		  <name>web01</name>
		  <devices>
		    <disk type='file' device='disk'>
		      <driver name='qemu' type='raw' cache='none'/>
		      <source file='$mnt/web01/disk.raw'/>
		      <target dev='vda' bus='virtio'/>
		    </disk>
		    <disk type='file' device='cdrom'>
		      <source file="$WORK/elsewhere.iso"/>
		    </disk>
		  </devices>
		</domain>
	XML
}
state() { getfattr --absolute-names --only-values -n user.hangar.state "$mnt/web01"; }
touch elsewhere.iso

# Nothing saved: nothing to do, success, silent stdout.
domain_xml | timeout 30 "$hook" web01 restore begin - >hook.out 2>hook.err || fail "hook failed with nothing saved"
[ ! -s hook.out ] || fail "hook printed on stdout: $(cat hook.out)"

# Saved: other operations leave it alone; restore releases the lock.
dd if=/dev/urandom of="$mnt/web01/memory.save" bs=1M count=1 status=none
sleep 0.2
[ "$(state)" = saved ] || fail "guest not saved after writing memory.save"
domain_xml | timeout 30 "$hook" web01 prepare begin - >hook.out 2>hook.err || fail "hook failed on prepare"
[ "$(state)" = saved ] || fail "hook changed the state on prepare"
domain_xml | timeout 30 "$hook" web01 restore begin - >hook.out 2>hook.err ||
	{ cat hook.err >&2; fail "hook failed to release the save lock"; }
[ ! -s hook.out ] || fail "hook printed on stdout: $(cat hook.out)"
[ "$(state)" = resuming ] || fail "hook did not resume: state $(state)"
grep -q 'released the save lock' hook.err || fail "hook did not say what it did"
# The disk can be opened for writing now, as QEMU will.
dd if=/dev/zero of="$mnt/web01/disk.raw" bs=4K count=1 conv=notrunc status=none ||
	fail "disk still refused after the hook"
[ "$(state)" != saved ] || fail "still saved after the first write"

# A stale image: the restore fails, with the reason.
exec 3<>"$mnt/web01/disk.raw"
dd if=/dev/urandom of="$mnt/web01/memory.save" bs=1M count=1 status=none
sleep 0.2
printf 'after the save' >&3
exec 3>&-
sleep 0.2
[ "$(state)" = invalidated ] || fail "expected invalidated, state $(state)"
rc=0
domain_xml | timeout 30 "$hook" web01 restore begin - >hook.out 2>hook.err || rc=$?
[ "$rc" = 1 ] || fail "hook exit $rc for a stale image, expected 1"
grep -q 'stale' hook.err || fail "hook did not explain the refusal: $(cat hook.err)"
[ ! -s hook.out ] || fail "hook printed on stdout: $(cat hook.out)"

echo "PASS"
