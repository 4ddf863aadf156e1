#!/bin/bash
# tests/cli/version.sh -- one version everywhere: `hangar -V`, `hangar
# --version`, `hangarfs -V` and `hangarfs --version` print the CMake
# project version (CMakeLists.txt's project(... VERSION X.Y.Z)), and
# debian/changelog's upstream version and the man pages' headers say the
# same.
source "$(dirname "$0")/../lib.bash"
cli_setup
src=${HANGAR_SOURCE_DIR:-$(dirname "$0")/../..}
version=$(sed -n 's/^project(hangar VERSION \([0-9.]*\) .*/\1/p' "$src/CMakeLists.txt")
[ -n "$version" ] || fail "no project(hangar VERSION ...) in CMakeLists.txt"

for flag in -V --version; do
	h "$flag"
	expect_rc 0 "hangar $flag"
	[ "$(cat "$OUT")" = "hangar $version" ] ||
		fail "hangar $flag says '$(cat "$OUT")', not 'hangar $version'"
done
if [ -n "${HANGARFS:-}" ] && [ -x "$HANGARFS" ]; then
	for flag in -V --version; do
		out=$("$HANGARFS" "$flag") || fail "hangarfs $flag failed"
		case "$out" in
		"hangarfs $version (libfuse "*) ;;
		*) fail "hangarfs $flag says '$out', not 'hangarfs $version (libfuse ...)'" ;;
		esac
	done
fi

# debian/changelog: "hangar (VERSION[-REVISION]) ..." on its first line.
changelog=$(sed -n '1s/^hangar (\([^)-]*\)\(-[^)]*\)\{0,1\}).*/\1/p' "$src/debian/changelog")
[ "$changelog" = "$version" ] ||
	fail "debian/changelog's version is '$changelog', CMakeLists.txt's '$version'"
for page in "$src"/contrib/man/*.[18]; do
	grep -q "^\.TH .* \"hangar $version\"" "$page" ||
		fail "$page's .TH line does not say hangar $version"
done
echo "PASS"
