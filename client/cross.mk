# SPDX-License-Identifier: ISC
# The client for other machines (README "Clients for other machines"):
#   make static-client              dist/gotunnel-client-linux-amd64-static
#   make cross-client ARCH=arm64    dist/gotunnel-client-linux-arm64 (+ -static)
#   make cross-client ARCH=armhf    dist/gotunnel-client-linux-armhf (+ -static)
#   make deps-cross                 cross compilers, qemu-user-static, sysroots
# Cross builds link against Debian's own libraries for ARCH, unpacked into a
# private sysroot (build-cross/ARCH/sysroot): `apt-get install libevent-dev:arm64`
# would remove the native libevent-dev.  The dynamic clients link CLIENT_LIBS
# (Makefile) with OpenSSL; the static ones swap OpenSSL for Debian's mbed TLS
# 2.28 (client/ctls_mbed*.c, CLIENT_MBED_LIBS): OpenSSL 3 alone made the
# static amd64 client 5 MiB, mbed TLS keeps it under 2 MiB.  mbed TLS 2.28
# speaks TLS 1.2 only: the master accepts TLS 1.2 with ECDHE+AEAD suites
# (common/tls.c), the OpenSSL clients still use TLS 1.3.

ARCH		?= arm64
CROSS_ARCHES	:= arm64 armhf
TRIPLET_amd64	:= x86_64-linux-gnu
TRIPLET_arm64	:= aarch64-linux-gnu
TRIPLET_armhf	:= arm-linux-gnueabihf

# Tools for the cross builds and their tests (dnsmasq-base: the static
# client's DNS test in an empty root).
CROSS_DEB_TOOLS	:= gcc-aarch64-linux-gnu gcc-arm-linux-gnueabihf qemu-user-static \
		   file dnsmasq-base
# Foreign packages unpacked into each sysroot: the -dev packages behind
# CLIENT_LIBS and the shared libraries they point to (for the dynamic client
# under qemu).  OpenSSL for the dynamic clients' TLS, mbed TLS (static
# libraries only) for the static ones'.
CROSS_DEB_LIBS	:= libevent-dev libevent-2.1-7 libevent-core-2.1-7 libevent-extra-2.1-7 \
		   libevent-pthreads-2.1-7 libevent-openssl-2.1-7 libyajl-dev libyajl2 \
		   libinih-dev libinih1 libssl-dev libssl3 libmbedtls-dev

# The static clients' TLS: mbed TLS instead of OpenSSL and libevent_openssl.
CLIENT_MBED_LIBS = $(filter-out -levent_openssl -lssl -lcrypto,$(CLIENT_LIBS)) \
		   -lmbedtls -lmbedx509 -lmbedcrypto
# Debian ships yajl's static library as libyajl_s.a.  A group, so that the
# order of the libraries (e.g. -lmbedtls after -lmbedcrypto) does not matter.
CLIENT_STATIC_LIBS = -Wl,--start-group $(patsubst -lyajl,-lyajl_s,$(CLIENT_MBED_LIBS)) -Wl,--end-group

# Size before speed: the client is mostly waiting on sockets and splice(2).
XCFLAGS		= $(filter-out -O% -g -fsanitize% -fno-sanitize% -fno-omit-frame-pointer,$(CFLAGS)) \
		  -Os -ffunction-sections -fdata-sections
XLDFLAGS	:= -Wl,--gc-sections

X_DIR		= build-cross/$(XARCH)
# Each backend's own files (client/ctls.h): mbed TLS for the static link,
# OpenSSL (and the master's TLS code the OpenSSL client shares) for the dynamic.
X_MBED_SRC	:= $(wildcard client/ctls_mbed*.c)
X_OSSL_SRC	:= client/ctls_ossl.c common/tls.c common/tls_fp.c common/tls_hello.c \
		   common/relay_tls_ossl.c
X_SRC		= $(CLIENT_SRC) $(CLIENT_COMMON_SRC) $(X_MBED_SRC)
X_OBJ		= $(X_SRC:%.c=$(X_DIR)/obj/%.o)
X_OBJ_OSSL	= $(filter-out $(X_MBED_SRC:%.c=$(X_DIR)/obj/%.o),$(X_OBJ))
X_OBJ_MBED	= $(filter-out $(X_OSSL_SRC:%.c=$(X_DIR)/obj/%.o),$(X_OBJ))

.PHONY: static-client cross-client deps-cross sysroot-cross check-cross
# Keep the objects between runs (they are intermediate to the pattern rules).
.SECONDARY: $(X_OBJ)

# The static amd64 client is built against the machine's own Debian libraries.
static-client:
	$(MAKE) --no-print-directory XARCH=amd64 X_CC=$(CC) X_STRIP=strip \
	    dist/gotunnel-client-linux-amd64-static

cross-client:
	@case " $(CROSS_ARCHES) " in *" $(ARCH) "*) ;; \
	  *) echo "ARCH must be one of: $(CROSS_ARCHES)" >&2; exit 1;; esac
	@command -v $(TRIPLET_$(ARCH))-gcc >/dev/null && [ -f build-cross/$(ARCH)/sysroot/.done ] || \
	  { echo "cross toolchain or sysroot for $(ARCH) missing: run make deps-cross" >&2; exit 1; }
	$(MAKE) --no-print-directory XARCH=$(ARCH) X_CC=$(TRIPLET_$(ARCH))-gcc \
	    X_STRIP=$(TRIPLET_$(ARCH))-strip \
	    X_INC="-I$(CURDIR)/build-cross/$(ARCH)/sysroot/usr/include -I$(CURDIR)/build-cross/$(ARCH)/sysroot/usr/include/$(TRIPLET_$(ARCH))" \
	    X_LIB="-L$(CURDIR)/build-cross/$(ARCH)/sysroot/usr/lib/$(TRIPLET_$(ARCH)) -Wl,-rpath-link,$(CURDIR)/build-cross/$(ARCH)/sysroot/usr/lib/$(TRIPLET_$(ARCH))" \
	    dist/gotunnel-client-linux-$(ARCH) dist/gotunnel-client-linux-$(ARCH)-static

$(X_DIR)/obj/%.o: %.c $(wildcard common/*.h client/*.h)
	@mkdir -p $(dir $@)
	$(X_CC) $(X_INC) $(XCFLAGS) -c -o $@ $<

# Dynamic: runs where Debian's libevent, yajl, inih and OpenSSL for ARCH are
# installed.
dist/gotunnel-client-linux-%: $(X_OBJ_OSSL) Makefile client/cross.mk
	@mkdir -p dist
	$(X_CC) $(XLDFLAGS) -o $(X_DIR)/gotunnel-client $(filter %.o,$^) $(X_LIB) $(CLIENT_LIBS)
	$(X_STRIP) -o $@ $(X_DIR)/gotunnel-client

# Static (glibc): its getaddrinfo has the files and dns lookups built in, so
# /etc/hosts and resolv.conf work in an empty root (t/cross checks both).  The
# linker's warning that getaddrinfo needs glibc's shared NSS modules at run
# time concerns only other nsswitch.conf sources (ldap, mdns, ...).  TLS is
# mbed TLS here (see the top of this file).
dist/gotunnel-client-linux-%-static: $(X_OBJ_MBED) Makefile client/cross.mk
	@mkdir -p dist
	$(X_CC) -static $(XLDFLAGS) -o $(X_DIR)/gotunnel-client-static $(filter %.o,$^) $(X_LIB) \
	    $(CLIENT_STATIC_LIBS)
	$(X_STRIP) -o $@ $(X_DIR)/gotunnel-client-static

# Installs the cross compilers and qemu, then fills one sysroot per ARCH.
# Adding a foreign architecture only lets apt download its packages; nothing
# of it is installed, so the native -dev packages stay as they are.
deps-cross:
	@missing=""; for p in $(CROSS_DEB_TOOLS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$p"; \
	done; \
	sudo=; [ "$$(id -u)" = 0 ] || sudo=sudo; \
	added=""; for a in $(CROSS_ARCHES); do \
	  dpkg --print-foreign-architectures | grep -qx $$a || { $$sudo dpkg --add-architecture $$a; added=1; }; \
	done; \
	if [ -n "$$missing$$added" ]; then $$sudo apt-get update -qq; fi; \
	if [ -n "$$missing" ]; then echo "installing:$$missing"; \
	  $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; fi
	@for a in $(CROSS_ARCHES); do $(MAKE) --no-print-directory sysroot-cross ARCH=$$a || exit 1; done

# build-cross/ARCH/sysroot: Debian's ARCH packages unpacked (apt-get download
# + dpkg-deb -x), plus the cross C library so that `qemu -L sysroot` runs the
# dynamic client.  Redone when the package list changes.
sysroot-cross:
	@s=build-cross/$(ARCH)/sysroot; want="$(CROSS_DEB_LIBS)"; \
	if [ -f $$s/.done ] && [ "$$(cat $$s/.done)" = "$$want" ]; then exit 0; fi; \
	echo "sysroot $$s: $$want"; \
	rm -rf $$s build-cross/$(ARCH)/debs && mkdir -p $$s build-cross/$(ARCH)/debs && \
	( cd build-cross/$(ARCH)/debs && apt-get download -q $$([ "$$(id -u)" = 0 ] && echo -o APT::Sandbox::User=root) $(CROSS_DEB_LIBS:%=%:$(ARCH)) ) && \
	for d in build-cross/$(ARCH)/debs/*.deb; do dpkg-deb -x $$d $$s || exit 1; done && \
	mkdir -p $$s/lib && cp -a /usr/$(TRIPLET_$(ARCH))/lib/*.so.* $$s/lib/ && \
	echo "$$want" > $$s/.done

# t/cross: every client above against this machine's master (qemu, chroot).
# Installs what it needs first, so that `make check` runs it on a bare Debian 12.
check-cross: deps-cross c
	$(MAKE) --no-print-directory static-client
	$(MAKE) --no-print-directory cross-client ARCH=arm64
	$(MAKE) --no-print-directory cross-client ARCH=armhf
	GOTUNNEL_BIN=$(BINDIR) python3 t/cross/run.py
