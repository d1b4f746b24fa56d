# Test targets.  `make check` installs what is missing, builds the plain and the
# sanitizer binaries, and runs every suite; t/run-suites prints one summary.
.PHONY: check check-unit check-e2e san

san:
	$(MAKE) SANITIZE=1 c t/unit-bin

check: deps
	$(MAKE) all
	$(MAKE) SANITIZE=1 c
	t/run-suites

# Check unit tests (built with the sanitizers when SANITIZE=1).
UNIT_SRC := $(wildcard t/unit/*.c)
$(BUILD)/t/unit/check_all: $(UNIT_SRC) $(BUILD)/libgotunnel.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(UNIT_SRC) $(BUILD)/libgotunnel.a $(LDLIBS) -lcheck -lsubunit -lm -lrt -lpthread
t/unit-bin: $(BUILD)/t/unit/check_all
.PHONY: t/unit-bin

check-unit: $(BUILD)/t/unit/check_all
	$(BUILD)/t/unit/check_all

# End-to-end tests of the C binaries; GOTUNNEL_BIN picks plain or sanitizer build.
check-e2e: c
	GOTUNNEL_BIN=$(BINDIR) python3 t/e2e/run.py
