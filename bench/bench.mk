# SPDX-License-Identifier: ISC
# bench/bench.mk: `make bench` (included by the top Makefile).
# Installs iperf3 and OpenSSH if missing, builds the C tools below and the
# gotunnel binaries, and runs bench/run.py, which prints one table and
# writes bench/out/results.json and bench/out/results.txt.

BENCH_CC     ?= gcc
BENCH_CFLAGS := -std=gnu11 -O2 -Wall -Wextra -Werror -D_GNU_SOURCE
BENCH_TOOLS  := echod pingpong cps hold loadgen
BENCH_BINS   := $(BENCH_TOOLS:%=bench/out/bin/%)
BENCH_DEBS   := iperf3 openssh-server openssh-client haproxy python3 strace gnuplot-nox

.PHONY: bench bench-deps bench-tools

bench/out/bin/%: bench/%.c bench/util.c bench/util.h
	@mkdir -p $(dir $@)
	$(BENCH_CC) $(BENCH_CFLAGS) -o $@ $< bench/util.c -lpthread

bench-tools: $(BENCH_BINS)

# Install only what is missing (root: apt-get directly, else through sudo).
bench-deps:
	@missing=""; for p in $(BENCH_DEBS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "bench: installing:$$missing"; \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	  else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; fi; \
	fi

# The gotunnel row is skipped (and says so) if the binaries do not build.
bench: bench-deps bench-tools
	-@$(MAKE) --no-print-directory c
	python3 bench/run.py $(BENCH_ARGS)
