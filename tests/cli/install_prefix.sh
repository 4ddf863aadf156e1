#!/bin/bash
# tests/cli/install_prefix.sh -- `cmake --install BUILD --prefix P` puts
# every file under P, whatever prefix the build was configured with (the
# systemd unit directory used to be an absolute path computed from the
# configure-time prefix, so it landed in /usr/local/lib/systemd/system).
# Installed under a DESTDIR, so a failure writes nothing outside the test's
# directory: anything under DESTDIR but outside DESTDIR/P is the bug.
source "$(dirname "$0")/../lib.bash"
cli_setup
[ -n "${HANGAR_BUILD_DIR:-}" ] && [ -f "$HANGAR_BUILD_DIR/CMakeCache.txt" ] ||
	skip "HANGAR_BUILD_DIR is not a configured build directory"
command -v cmake >/dev/null || skip "cmake not installed"

dest=$WORK/dest
prefix=$WORK/p
DESTDIR=$dest cmake --install "$HANGAR_BUILD_DIR" --prefix "$prefix" >install.log 2>&1 ||
	{ cat install.log >&2; fail "cmake --install --prefix failed"; }
outside=$(find "$dest" \( -type f -o -type l \) ! -path "$dest$prefix/*")
[ -z "$outside" ] || fail "installed outside the prefix $prefix: $outside"
for f in bin/hangar bin/hangarfs 'lib/systemd/system/hangar@.service' \
	share/hangar/systemd/var-lib-vms.mount share/man/man8/hangarfs.8; do
	[ -e "$dest$prefix/$f" ] || fail "not installed under the prefix: $f"
done
echo "$(find "$dest$prefix" -type f | wc -l) files, all under the prefix"
echo "PASS"
