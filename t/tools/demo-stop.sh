#!/bin/sh
# SPDX-License-Identifier: ISC
# demo-stop.sh: stops what demo.sh started.
cd "$(dirname "$0")/../.." || exit 1
dir=run/demo
for name in client admin master web; do
	f=$dir/$name.pid
	[ -f "$f" ] || continue
	pid=$(cat "$f")
	kill "$pid" 2>/dev/null && echo "stopped $name ($pid)"
	rm -f "$f"
done
exit 0
