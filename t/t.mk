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

# libFuzzer harnesses: t/fuzz/fuzz.mk (make fuzz, make check-fuzz).
-include t/fuzz/fuzz.mk

# deploy/ (Compose, Kubernetes, start script): structure and the configuration
# the start script writes, checked offline (t/deploy/check.py says what is not run).
.PHONY: check-deploy
check-deploy: c admin
	GOTUNNEL_BIN=$(BINDIR) python3 t/deploy/check.py

# Faults and abuse (disk full, descriptors, kill -9, flaky path, slowloris,
# stalled peers) against the real binaries; needs root.  See t/ROBUSTNESS.md.
.PHONY: check-robust
check-robust: c
	$(MAKE) --no-print-directory SANITIZE= admin	# the admin is never sanitized (Kore)
	GOTUNNEL_BIN=$(BINDIR) ADMIN_BIN=bin python3 t/robust/run.py

# End-to-end tests of the C binaries; GOTUNNEL_BIN picks plain or sanitizer build.
check-e2e: c admin
	GOTUNNEL_BIN=$(BINDIR) python3 t/e2e/run.py

# Cluster mode: a real PostgreSQL (Debian's, in a temp dir) and three masters.
check-cluster: c
	GOTUNNEL_BIN=$(BINDIR) python3 t/cluster/run.py
