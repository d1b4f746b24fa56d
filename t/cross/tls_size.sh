#!/bin/sh
# SPDX-License-Identifier: ISC
# Measures what the static client would weigh with OpenSSL instead of mbed
# TLS (the dynamic clients' backend, client/ctls_ossl.c, linked statically):
# the client's objects from `make static-client` / `make cross-client`
# without the mbed TLS ones, plus tls_probe.c.
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
	# The OpenSSL backend's files (X_OSSL_SRC in client/cross.mk), which
	# the static link leaves out: compiled here as cross.mk would.
	ossl=
	for f in client/ctls_ossl.c common/tls.c common/tls_fp.c common/tls_hello.c \
	    common/relay_tls_ossl.c; do
		ob=$out/$a-$(basename $f .c).o
		$cc -std=gnu11 -D_GNU_SOURCE -DGOTUNNEL_VERSION='"size"' -Icommon -Iclient \
		    $inc -Os -ffunction-sections -fdata-sections -c -o $ob $f || exit 1
		ossl="$ossl $ob"
	done
	# --undefined keeps the probe (and all it reaches) through --gc-sections.
	$cc -static -Wl,--gc-sections -Wl,--undefined=tls_probe_ref -o $out/client-$a \
	    $(ls $o/client/*.o $o/common/*.o | grep -v -e /ctls_ -e /tls\.o -e /tls_fp -e /tls_hello -e /relay_tls_ossl) \
	    $ossl $out/probe-$a.o $lib \
	    -levent_openssl -levent -lyajl_s -linih -lssl -lcrypto 2>/dev/null || {
		echo "$a: link with OpenSSL failed" >&2; exit 1; }
	$strip -o $out/client-$a.stripped $out/client-$a
	echo "$a: static stripped $(stat -c %s $base) bytes (mbed TLS); with OpenSSL 3 + libevent_openssl instead $(stat -c %s $out/client-$a.stripped) bytes"
done
