#!/bin/sh
# SPDX-License-Identifier: ISC
# Builds the Debian packages from a copy of the committed tree (HEAD), so
# that `dh clean` never touches the shared tree's bin/ and build/ and others'
# uncommitted work does not get in, and runs lintian on them.
#   t/ops/build-deb.sh [--worktree] [OUTDIR]   default OUTDIR: a new temp dir
#   --worktree   copy the working tree (tracked + untracked, not ignored) instead
# Needs: debhelper, dpkg-dev, fakeroot, lintian, the Build-Depends, and
# frontend/dist (make frontend).  Last line: "N passed, N failed".
set -u
cd "$(dirname "$0")/../.." || exit 1
worktree=0
if [ "${1:-}" = --worktree ]; then worktree=1; shift; fi
out=${1:-$(mktemp -d /tmp/gt-deb.XXXXXX)}
version=$(dpkg-parsechangelog -S Version 2>/dev/null || echo 0)
src=$out/gotunnel-$version
passed=0 failed=0
ok() { echo "ok   $1"; passed=$((passed + 1)); }
bad() { echo "FAIL $1"; failed=$((failed + 1)); }

rm -rf "$src" && mkdir -p "$src" || exit 1
if [ $worktree = 1 ]; then
	git ls-files -co --exclude-standard -z | xargs -0 cp --parents -t "$src" 2>/dev/null
else
	git archive HEAD | tar -x -C "$src" || exit 1
	echo "source: $(git rev-parse --short HEAD)"
fi
# The console as `make frontend` built it (not in git).
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
