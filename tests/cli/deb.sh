#!/bin/bash
# tests/cli/deb.sh -- the Debian package (debian/): `dpkg-buildpackage -us
# -uc -b` in a copy of the source builds hangar_*.deb; lintian reports no
# error; the package holds both programs, the man pages, the bash and zsh
# completions,
# hangar@.service in /lib/systemd/system and the examples; installed with
# dpkg -i, `mount -t fuse.hangarfs STORE MNT` (mount.fuse3, a plain PATH)
# runs /usr/bin/hangarfs and shows a guest made by /usr/bin/hangar; then
# the package is purged again.
#
# It changes the system (dpkg -i as root), so it refuses to run when a
# hangar package is installed or a file of the package already exists (it
# would be overwritten, then deleted by the purge), and the EXIT trap
# unmounts and purges what it installed, even on failure.  About 1-2
# minutes: the package build compiles the programs once.
source "$(dirname "$0")/../lib.bash"
cli_setup
src=${HANGAR_SOURCE_DIR:-$(dirname "$0")/../..}
[ -f "$src/debian/control" ] || skip "no debian/ in $src"
[ "$(id -u)" = 0 ] || skip "installing the package needs root"
for tool in dpkg-buildpackage dh lintian dpkg rsync mount.fuse3; do
	command -v "$tool" >/dev/null ||
		skip "$tool is missing (contrib/test installs dpkg-dev, debhelper, lintian, fuse3)"
done
[ -c /dev/fuse ] || skip "/dev/fuse is missing"

installed_by_us=0
mnt=$WORK/mnt
deb_cleanup() {
	local i
	set +e
	if findmnt -rn --mountpoint "$mnt" >/dev/null 2>&1; then
		umount "$mnt" || umount -l "$mnt"
	fi
	if [ -n "${daemon:-}" ]; then
		for i in $(seq 100); do
			kill -0 "$daemon" 2>/dev/null || break
			sleep 0.1
		done
		kill -0 "$daemon" 2>/dev/null && kill "$daemon"
	fi
	if [ "$installed_by_us" = 1 ]; then
		dpkg --purge hangar >"$WORK/purge.log" 2>&1 ||
			{ echo "deb.sh: dpkg --purge hangar failed:" >&2; cat "$WORK/purge.log" >&2; }
	fi
}
at_exit deb_cleanup

if dpkg-query -W -f='${Status}\n' hangar 2>/dev/null | grep -qv '^unknown ok not-installed$'; then
	fail "a hangar package is installed (or half-installed) that this test did not install: $(dpkg-query -W -f='${Version} ${Status}' hangar); remove it first (dpkg --purge hangar)"
fi

echo "--- dpkg-buildpackage in a copy of the source"
rsync -a --exclude='/build*/' --exclude=/.git --exclude='/obj-*/' \
	--exclude=/debian/.debhelper/ --exclude=/debian/hangar/ \
	--exclude=/debian/files --exclude='/debian/*.substvars' \
	--exclude=/debian/debhelper-build-stamp "$src/" "$WORK/src/" ||
	fail "copy of the source"
start=$(date +%s)
(cd "$WORK/src" &&
	DEB_BUILD_OPTIONS="nocheck parallel=${HANGAR_JOBS:-2}" \
		timeout 900 dpkg-buildpackage -us -uc -b) >build.log 2>&1 ||
	{ tail -n 40 build.log >&2; fail "dpkg-buildpackage failed"; }
echo "built in $(($(date +%s) - start)) s"
deb=$(ls "$WORK"/hangar_*.deb 2>/dev/null | head -1)
[ -n "$deb" ] && [ -f "$deb" ] || fail "no hangar_*.deb next to the source"

echo "--- lintian"
# (lintian exits 2 when it reports an error, 1 when it failed to run)
lintian_rc=0
timeout 300 lintian "$WORK"/hangar_*.changes >lintian.log 2>&1 || lintian_rc=$?
cat lintian.log
grep -q '^E: ' lintian.log && fail "lintian reports errors"
[ "$lintian_rc" = 0 ] || fail "lintian exited with $lintian_rc"

echo "--- the package's files"
dpkg-deb -c "$deb" | awk '{ print $6 }' | sed 's|^\./|/|' >contents
for f in /usr/bin/hangar /usr/bin/hangarfs /usr/bin/hangar-xl \
	'/lib/systemd/system/hangar@.service' \
	/usr/share/man/man1/hangar.1.gz /usr/share/man/man1/hangar-xl.1.gz \
	/usr/share/man/man8/hangarfs.8.gz \
	/usr/share/bash-completion/completions/hangar \
	/usr/share/bash-completion/completions/hangarfs \
	/usr/share/zsh/vendor-completions/_hangar \
	/usr/share/hangar/libvirt/qemu /usr/share/hangar/systemd/var-lib-vms.mount \
	/usr/share/doc/hangar/copyright /usr/share/doc/hangar/README.Debian \
	/usr/share/doc/hangar/libvirt/README.md; do
	grep -qxF "$f" contents || fail "not in the package: $f"
done
# Nothing live that a package must not activate by itself.
grep -q '^/etc/libvirt/' contents && fail "the package installs a live libvirt hook"
dpkg-deb -f "$deb" Depends | grep -q 'fuse3' || fail "Depends lacks fuse3"

# A file of the package already on the system would be overwritten by
# dpkg -i and deleted by the purge: refuse.
while read -r f; do
	if [ -n "$f" ] && [ "${f%/}" = "$f" ] && [ -e "$f" ]; then
		fail "$f exists and is not from a hangar package; not installing over it"
	fi
done <contents

echo "--- dpkg -i"
installed_by_us=1
timeout 300 dpkg -i "$deb" >install.log 2>&1 ||
	{ cat install.log >&2; fail "dpkg -i failed"; }
[ -x /usr/bin/hangarfs ] && [ -x /usr/bin/hangar ] || fail "programs not installed"
/usr/bin/hangarfs --version | grep -q '^hangarfs ' || fail "installed hangarfs does not run"
# The unit as installed: its programs and man pages are found.
if command -v systemd-analyze >/dev/null; then
	systemd-analyze verify '/lib/systemd/system/hangar@.service' >verify.log 2>&1 ||
		{ cat verify.log >&2; fail "systemd-analyze verify hangar@.service"; }
	[ ! -s verify.log ] || { cat verify.log >&2; fail "systemd-analyze verify warns"; }
fi

echo "--- mount -t fuse.hangarfs with the installed programs"
timeout 60 /usr/bin/hangar init "$WORK/store" >/dev/null || fail "hangar init"
timeout 60 /usr/bin/hangar create "$WORK/store" web01 --disk 1M >/dev/null ||
	fail "hangar create"
mkdir -p "$mnt"
# mount(8) runs mount.fuse3, which runs `hangarfs STORE MNT -o ...` from PATH.
PATH=/usr/sbin:/usr/bin:/sbin:/bin timeout 60 \
	mount -t fuse.hangarfs "$WORK/store" "$mnt" -o allow_other >mount.log 2>&1 ||
	{ cat mount.log >&2; fail "mount -t fuse.hangarfs failed"; }
wait_mounted "$mnt"
findmnt -rn -o FSTYPE --mountpoint "$mnt" | grep -qx 'fuse.hangarfs' ||
	fail "the mount is not of type fuse.hangarfs"
daemon=$(pgrep -f "^hangarfs $WORK/store " | head -1)
[ -n "$daemon" ] || daemon=$(pgrep -f "hangarfs $WORK/store " | head -1)
[ -n "$daemon" ] && [ "$(readlink "/proc/$daemon/exe")" = /usr/bin/hangarfs ] ||
	fail "the mount is not served by /usr/bin/hangarfs (pid '${daemon:-}')"
[ -d "$mnt/web01" ] && [ -f "$mnt/web01/disk.raw" ] ||
	fail "guest web01 is not visible in the mount"
echo data >"$mnt/web01/config" && [ "$(cat "$mnt/web01/config")" = data ] ||
	fail "write through the mount"
timeout 60 umount "$mnt" || fail "umount"
for i in $(seq 300); do
	kill -0 "$daemon" 2>/dev/null || break
	sleep 0.1
done
kill -0 "$daemon" 2>/dev/null && fail "hangarfs did not exit after umount"
daemon=
timeout 60 /usr/bin/hangar check "$WORK/store" >/dev/null || fail "hangar check after umount"

echo "--- dpkg --purge"
timeout 300 dpkg --purge hangar >purge.log 2>&1 ||
	{ cat purge.log >&2; fail "dpkg --purge failed"; }
installed_by_us=0
[ ! -e /usr/bin/hangarfs ] && [ ! -e '/lib/systemd/system/hangar@.service' ] ||
	fail "files left after purge"
echo "PASS"
