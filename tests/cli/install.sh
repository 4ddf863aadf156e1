#!/bin/bash
# tests/cli/install.sh -- `cmake --install` puts hangar, hangarfs, the man
# pages, the bash completion (for hangar and hangarfs), the zsh completion,
# the systemd unit, the example mount unit and
# the libvirt/Xen helpers
# where they belong; the man pages render without warnings; the installed
# hangar finds the installed hangarfs beside it.
source "$(dirname "$0")/../lib.bash"
cli_setup
[ -n "${HANGAR_BUILD_DIR:-}" ] && [ -f "$HANGAR_BUILD_DIR/CMakeCache.txt" ] ||
	skip "HANGAR_BUILD_DIR is not a configured build directory"
command -v cmake >/dev/null || skip "cmake not installed"

DESTDIR=$WORK/root cmake --install "$HANGAR_BUILD_DIR" --prefix /usr/local >install.log 2>&1 ||
	{ cat install.log >&2; fail "cmake --install failed"; }
root=$WORK/root/usr/local
for f in bin/hangar bin/hangar-xl share/man/man1/hangar.1 share/man/man1/hangar-xl.1 share/man/man8/hangarfs.8 \
	share/bash-completion/completions/hangar share/bash-completion/completions/hangarfs \
	share/zsh/vendor-completions/_hangar share/hangar/systemd/var-lib-vms.mount \
	'lib/systemd/system/hangar@.service' share/hangar/libvirt/qemu \
	share/hangar/systemd/fstab.example; do
	[ -f "$root/$f" ] || fail "not installed: $f"
done
[ -x "$root/bin/hangar" ] && [ -x "$root/share/hangar/libvirt/qemu" ] && [ -x "$root/bin/hangar-xl" ] ||
	fail "installed programs are not executable"
"$root/bin/hangar" --version | grep -q '^hangar ' || fail "installed hangar does not run"

if command -v man >/dev/null; then
	for page in "$root"/share/man/man1/hangar.1 "$root"/share/man/man1/hangar-xl.1 "$root"/share/man/man8/hangarfs.8; do
		MANWIDTH=80 man --warnings -l "$page" >man.out 2>man.err || fail "man $page failed"
		[ ! -s man.err ] || { cat man.err >&2; fail "man warnings in $page"; }
		grep -q 'SYNOPSIS' man.out || fail "$page has no SYNOPSIS"
	done
fi
if command -v systemd-analyze >/dev/null && [ -d /run/systemd/system ]; then
	systemd-analyze verify "$root/share/hangar/systemd/var-lib-vms.mount" >sa.out 2>&1 ||
		{ cat sa.out >&2; fail "systemd-analyze verify var-lib-vms.mount"; }
fi

# The installed hangar runs the hangarfs installed beside it (not one in
# PATH: PATH is emptied of it here).
if [ -x "$root/bin/hangarfs" ] && [ -e /dev/fuse ] && command -v fusermount3 >/dev/null; then
	h init store
	unmount_at_exit "$WORK/mnt"
	PATH=/usr/bin:/bin timeout 60 "$root/bin/hangar" mount store "$WORK/mnt" >mount.out 2>&1 ||
		{ cat mount.out >&2; fail "installed hangar mount failed"; }
	wait_mounted "$WORK/mnt"
	pid=$(findmnt -rn -o SOURCE --mountpoint "$WORK/mnt" >/dev/null && pgrep -f "^$root/bin/hangarfs " | head -1)
	[ -n "$pid" ] || fail "the mount is not served by the installed hangarfs"
	"$root/bin/hangar" umount "$WORK/mnt" || fail "installed hangar umount failed"
fi

echo "PASS"
