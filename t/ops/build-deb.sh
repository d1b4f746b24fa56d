#!/bin/sh
# Builds the Debian packages from a copy of the working tree (so that
# `dh clean` never touches the shared tree's bin/ and build/) and runs lintian.
#   t/ops/build-deb.sh [OUTDIR]     default: a new temp dir; prints its path
# Needs: debhelper, dpkg-dev, fakeroot, lintian, the Build-Depends, and
# frontend/dist (make frontend).  Last line: "N passed, N failed".
set -u
cd "$(dirname "$0")/../.." || exit 1
out=${1:-$(mktemp -d /tmp/gt-deb.XXXXXX)}
version=$(dpkg-parsechangelog -S Version 2>/dev/null || echo 0)
src=$out/gotunnel-$version
passed=0 failed=0
ok() { echo "ok   $1"; passed=$((passed + 1)); }
bad() { echo "FAIL $1"; failed=$((failed + 1)); }

rm -rf "$src" && mkdir -p "$src" || exit 1
# Tracked and untracked-but-not-ignored files, plus the built console.
git ls-files -co --exclude-standard -z | xargs -0 cp --parents -t "$src" 2>/dev/null
[ -d frontend/dist ] && cp -R frontend/dist "$src/frontend/"
for f in debian/rules debian/*.postinst debian/*.postrm; do chmod 755 "$src/$f"; done

echo "building in $src"
if (cd "$src" && dpkg-buildpackage -us -uc -b) > "$out/build.log" 2>&1; then
	ok "dpkg-buildpackage -us -uc -b"
else
	bad "dpkg-buildpackage (tail of $out/build.log):"; tail -30 "$out/build.log"
fi
ls "$out"/*.deb 2>/dev/null
changes=$(ls "$out"/gotunnel_*.changes 2>/dev/null | head -1)
if [ -n "$changes" ] && command -v lintian >/dev/null; then
	lintian --fail-on error "$changes" > "$out/lintian.log" 2>&1
	rc=$?
	cat "$out/lintian.log"
	if [ $rc -eq 0 ]; then ok "lintian: no errors"; else bad "lintian errors (rc $rc)"; fi
elif [ -z "$changes" ]; then
	bad "no .changes file"
fi
echo "output in $out"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
