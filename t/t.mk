# SPDX-License-Identifier: ISC
# Test targets.  `make check` installs what is missing, builds the plain and the
# sanitizer binaries, and runs every suite; t/run-suites prints one summary.
.PHONY: check check-unit check-e2e check-cluster san

san:
	$(MAKE) SANITIZE=1 c t/unit-bin

check: deps
	$(MAKE) all
	$(MAKE) SANITIZE=1 c
	t/run-suites

# Check unit tests (built with the sanitizers when SANITIZE=1).
# client_config.c and serverlist.c are not in libgotunnel.a; check_config.c
# and check_serverlist.c test them, so they are compiled in here.
UNIT_SRC := $(wildcard t/unit/*.c)
UNIT_EXTRA := client/client_config.c client/serverlist.c client/client_vhost.c client/proxyproto.c server/http_head.c
$(BUILD)/t/unit/check_all: $(UNIT_SRC) $(UNIT_EXTRA) $(wildcard t/unit/*.h client/*.h) $(BUILD)/libgotunnel.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Iclient $(LDFLAGS) -o $@ $(UNIT_SRC) $(UNIT_EXTRA) $(BUILD)/libgotunnel.a $(LDLIBS) -loath -lcheck -lsubunit -lm -lrt -lpthread
t/unit-bin: $(BUILD)/t/unit/check_all
.PHONY: t/unit-bin

check-unit: $(BUILD)/t/unit/check_all
	$(BUILD)/t/unit/check_all

# libFuzzer harness of the wire format (frame.c + proto.c, linked from source):
# `make fuzz` builds it and runs FUZZ_TIME seconds; new inputs go to build/fuzz/corpus.
FUZZ_CC    ?= clang
FUZZ_TIME  ?= 60
FUZZ_FLAGS := -g -O1 -std=gnu11 -D_GNU_SOURCE -Icommon -fno-omit-frame-pointer \
	      -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
FUZZ_SRC   := t/fuzz/fuzz_proto.c common/frame.c common/proto.c
build/fuzz/fuzz_proto: $(FUZZ_SRC) common/frame.h common/proto.h common/db.h
	@mkdir -p build/fuzz/corpus
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ $(FUZZ_SRC) -levent -lyajl
fuzz: build/fuzz/fuzz_proto
	build/fuzz/fuzz_proto -max_total_time=$(FUZZ_TIME) -max_len=8192 \
	    -dict=t/fuzz/proto.dict -print_final_stats=1 build/fuzz/corpus t/fuzz/corpus
.PHONY: fuzz

# deploy/ (Compose, Kubernetes, start script): structure and the configuration
# the start script writes, checked offline (t/deploy/check.py says what is not run).
.PHONY: check-deploy
check-deploy: c admin
	GOTUNNEL_BIN=$(BINDIR) python3 t/deploy/check.py

# End-to-end tests of the C binaries; GOTUNNEL_BIN picks plain or sanitizer build.
check-e2e: c admin
	GOTUNNEL_BIN=$(BINDIR) python3 t/e2e/run.py

# Cluster mode: a real PostgreSQL (Debian's, in a temp dir) and three masters.
check-cluster: c
	GOTUNNEL_BIN=$(BINDIR) python3 t/cluster/run.py
