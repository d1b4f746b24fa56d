#!/bin/sh
# SPDX-License-Identifier: ISC
# Measures the static client's stripped size with OpenSSL linked in (what
# the client's TLS through libevent_openssl will pull in): the client's
# objects from `make static-client` / `make cross-client` plus tls_probe.c.
# Usage: sh t/cross/tls_size.sh [amd64|arm64|armhf ...]   (default: all built)
cd "$(dirname "$0")/../.." || exit 1
out=build-cross/tls-size
mkdir -p $out
for a in ${*:-amd64 arm64 armhf}; do
	case $a in
	amd64) cc=cc; t=x86_64-linux-gnu; strip=strip; inc=; lib= ;;
	arm64) t=aarch64-linux-gnu ;;
	armhf) t=arm-linux-gnueabihf ;;
	*) echo "unknown arch $a" >&2; exit 1 ;;
	esac
	if [ $a != amd64 ]; then
		cc=$t-gcc; strip=$t-strip; s=build-cross/$a/sysroot
		inc="-I$s/usr/include -I$s/usr/include/$t"; lib="-L$s/usr/lib/$t"
	fi
	o=build-cross/$a/obj
	base=dist/gotunnel-client-linux-$a-static
	if [ ! -d $o/client ] || [ ! -f $base ]; then
		echo "$a: not built (make static-client / make cross-client ARCH=$a)"; continue
	fi
	$cc -Os $inc -c -o $out/probe-$a.o t/cross/tls_probe.c || exit 1
	# --undefined keeps the probe (and all it reaches) through --gc-sections.
	$cc -static -Wl,--gc-sections -Wl,--undefined=tls_probe_ref -o $out/client-$a \
	    $o/client/*.o $o/common/*.o $out/probe-$a.o $lib \
	    -levent_openssl -levent -lyajl_s -linih -lssl -lcrypto 2>/dev/null || {
		echo "$a: link with OpenSSL failed" >&2; exit 1; }
	$strip -o $out/client-$a.stripped $out/client-$a
	echo "$a: static stripped $(stat -c %s $base) bytes; with OpenSSL 3 + libevent_openssl $(stat -c %s $out/client-$a.stripped) bytes"
done
