# SPDX-License-Identifier: ISC
# libFuzzer harnesses (clang, -fsanitize=fuzzer,address,undefined).
#   make fuzz                    every harness FUZZ_SECONDS seconds (default 60)
#   make fuzz FUZZ_SECONDS=600   longer; FUZZ_ONLY="frame proto" picks harnesses
#   make check-fuzz              every harness 8 s (what make check runs)
#
# Adding a parser: write t/fuzz/fuzz_NAME.c (LLVMFuzzerTestOneInput), add
# seeds in t/fuzz/corpus/NAME/ and, if useful, t/fuzz/NAME.dict.  Code in
# common/ is linked from build/fuzz/libcommon.a with no Makefile change;
# code elsewhere takes one line: FUZZ_EXTRA_NAME := dir/file.c
# Crashes found are kept in t/fuzz/regress/NAME/ and replayed on every run.

FUZZ_CC		?= clang
FUZZ_SECONDS	?= 60
FUZZ_CFLAGS	:= -g -O1 -std=gnu11 -D_GNU_SOURCE -DGOTUNNEL_VERSION='"$(VERSION)"' \
		   -Wall -Wextra -Werror -Wno-unused-parameter \
		   -Icommon -Iserver -Iclient -Iadmin/src -I/usr/include/postgresql -fno-omit-frame-pointer \
		   -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_LIBS	:= -levent -levent_openssl -lssl -lcrypto -lyajl -linih -lsodium -lsystemd -llmdb -loath -lpq
FUZZ_NAMES	:= $(patsubst t/fuzz/fuzz_%.c,%,$(wildcard t/fuzz/fuzz_*.c))
FUZZ_BINS	:= $(FUZZ_NAMES:%=build/fuzz/fuzz_%)

# Sources outside common/ that a harness needs (one line per harness).
# (the client loader needs what its unit test links: UNIT_EXTRA in t/t.mk)
FUZZ_EXTRA_config_client := $(UNIT_EXTRA)
FUZZ_EXTRA_admin_json    := admin/src/json_parse.c
FUZZ_EXTRA_admin_query   := admin/src/url.c
FUZZ_EXTRA_http_head     := server/http_head.c

FUZZ_COMMON_OBJ := $(patsubst %.c,build/fuzz/obj/%.o,$(wildcard common/*.c))

build/fuzz/obj/%.o: %.c $(wildcard common/*.h client/*.h admin/src/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

build/fuzz/libcommon.a: $(FUZZ_COMMON_OBJ)
	ar rcs $@ $^

# The objects of harness $(1)'s FUZZ_EXTRA_ sources.
fuzz_extra_obj = $(patsubst %.c,build/fuzz/obj/%.o,$(FUZZ_EXTRA_$(1)))

# Kept between builds (make would delete them as intermediate files).
.SECONDARY: $(foreach n,$(FUZZ_NAMES),$(call fuzz_extra_obj,$(n)))

.SECONDEXPANSION:
build/fuzz/fuzz_%: t/fuzz/fuzz_%.c t/fuzz/fuzz.h $$(call fuzz_extra_obj,$$*) build/fuzz/libcommon.a
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< \
	    $(call fuzz_extra_obj,$*) build/fuzz/libcommon.a $(FUZZ_LIBS)

.PHONY: fuzz fuzz-build check-fuzz
fuzz-build: $(FUZZ_BINS)
fuzz: fuzz-build
	sh t/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_ONLY)
check-fuzz: fuzz-build
	sh t/fuzz/run.sh 8 $(FUZZ_ONLY)
