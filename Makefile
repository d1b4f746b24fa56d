# SPDX-License-Identifier: ISC
# gotunnel top-level Makefile.
#   make            build bin/gotunnel-master bin/gotunnel-client bin/gotunnelctl (+ admin, console)
#   make check      install what is missing, build, run every test suite
#   make demo       install, build, start master + admin + demo client on 127.0.0.1
#   make SANITIZE=1 ASan + UBSan build (objects go to build-san/)

VERSION	:= 0.1.0
CC	?= cc
PREFIX	?= /usr/local
DESTDIR	?=

PKGS	:= libevent yajl inih libsodium libsystemd lmdb
CFLAGS	?= -O2 -g
CFLAGS	+= -std=gnu11 -Wall -Wextra -Werror -Wshadow -Wpointer-arith -Wno-unused-parameter \
	   -D_GNU_SOURCE -DGOTUNNEL_VERSION='"$(VERSION)"' -Icommon -Iserver -Iclient \
	   -I/usr/include/postgresql
# Libraries per binary: each links only what it uses.  The static and cross
# clients (client/cross.mk) derive their link from CLIENT_LIBS, so a library
# the client gains (e.g. -levent_openssl -lssl -lcrypto) is one edit here.
CLIENT_LIBS	:= -levent -levent_openssl -lssl -lcrypto -lyajl -linih
MASTER_LIBS	:= -levent -levent_openssl -lssl -lcrypto -lyajl -linih -lsodium -lsystemd -llmdb
# libpq (cluster mode): the master and gotunnelctl only, never the client.
CTL_LIBS	:= $(MASTER_LIBS) -lpq
LDLIBS	:= $(MASTER_LIBS)

ifeq ($(SANITIZE),1)
BUILD	:= build-san
BINDIR	:= build-san/bin
CFLAGS	+= -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS	+= -fsanitize=address,undefined
else
BUILD	:= build
BINDIR	:= bin
endif

COMMON_SRC := $(wildcard common/*.c)
SERVER_SRC := $(wildcard server/*.c)
CLIENT_SRC := $(filter-out client/ctls_mbed%.c,$(wildcard client/*.c))
CTL_SRC    := $(wildcard ctl/*.c)
# The shared code the client may use: everything but LMDB and libsodium.
CLIENT_COMMON_SRC := $(filter-out common/db%.c common/metrics.c common/net_random.c common/cluster%.c,$(COMMON_SRC))

COMMON_OBJ := $(COMMON_SRC:%.c=$(BUILD)/%.o)
SERVER_OBJ := $(SERVER_SRC:%.c=$(BUILD)/%.o)
CLIENT_OBJ := $(CLIENT_SRC:%.c=$(BUILD)/%.o)
CTL_OBJ    := $(CTL_SRC:%.c=$(BUILD)/%.o)
CLIENT_COMMON_OBJ := $(CLIENT_COMMON_SRC:%.c=$(BUILD)/%.o)

BINS := $(BINDIR)/gotunnel-master $(BINDIR)/gotunnel-client $(BINDIR)/gotunnelctl

.PHONY: all c deps check check-unit check-e2e demo demo-stop clean install uninstall bench lint
all: c admin frontend
c: $(BINS)

$(BUILD)/%.o: %.c $(wildcard common/*.h server/*.h client/*.h ctl/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/libgotunnel.a: $(COMMON_OBJ)
	ar rcs $@ $^

# The client's archive holds no LMDB/libsodium code, so it cannot reach any.
$(BUILD)/libgotunnel-client.a: $(CLIENT_COMMON_OBJ)
	ar rcs $@ $^

$(BINDIR)/gotunnel-master: $(SERVER_OBJ) $(BUILD)/libgotunnel.a
	@mkdir -p $(BINDIR)
	$(CC) $(LDFLAGS) -o $@ $^ $(MASTER_LIBS) -lpq -lcurl

$(BINDIR)/gotunnel-client: $(CLIENT_OBJ) $(BUILD)/libgotunnel-client.a
	@mkdir -p $(BINDIR)
	$(CC) $(LDFLAGS) -o $@ $^ $(CLIENT_LIBS)

# libcurl (alert webhooks) is the master's alone: added on its link line.
# liboath (TOTP maths) and libqrencode (enrolment QR code): console users only.
$(BINDIR)/gotunnelctl: $(CTL_OBJ) $(BUILD)/libgotunnel.a
	@mkdir -p $(BINDIR)
	$(CC) $(LDFLAGS) -o $@ $^ $(CTL_LIBS) -loath -lqrencode

# Debian packages the build and the tests need; installed only when missing.
DEB_PKGS := build-essential pkg-config libevent-dev libssl-dev openssl libmbedtls-dev libyajl-dev liblmdb-dev lmdb-utils check \
	    libsubunit-dev kore libinih-dev libsodium-dev libsystemd-dev mandoc python3 \
	    openssh-server openssh-client iperf3 socat curl chromium fonts-wqy-microhei valgrind \
	    liboath-dev libqrencode-dev python3-yaml haproxy libpq-dev postgresql \
	    libcurl4-openssl-dev prometheus
deps:
	@missing=""; for p in $(DEB_PKGS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	  else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; fi; \
	fi
	@# Node.js 20 with npm (the console's build): Debian's nodejs is too old,
	@# so an existing newer one (e.g. NodeSource's) is kept as it is.
	@if ! command -v npm >/dev/null 2>&1; then \
	  echo "installing: nodejs npm"; \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm; fi

# Sub-makefiles owned by each part.
-include t/t.mk
-include admin/admin.mk
-include frontend/frontend.mk
-include bench/bench.mk
-include etc/install.mk
-include client/cross.mk

# Starts master, admin and a demo client on 127.0.0.1 and prints how to log in.
demo: deps
	$(MAKE) all
	bash t/tools/demo.sh

demo-stop:
	sh t/tools/demo-stop.sh

clean:
	rm -rf build build-san bin t/out build-cross dist

lint:
	mandoc -Tlint -Wwarning man/*.[1-8]
