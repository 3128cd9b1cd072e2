# petrel — plain GNU make.
#
#   make          release build (-O2) of ./petrel
#   make run      install missing packages, build, run `petrel serve` on embedded defaults
#   make test     install missing packages, ASan+UBSan build of everything, run every test
#   make fuzz     run every libFuzzer target for FUZZ_SECONDS each (default 60)
#   make bench    run the benchmarks in bench/ (release build); BENCH="outbound api" for some
#   make lint     check the include and link rules of docs/ARCHITECTURE.md
#   make clean
#
# MODE selects the build flavour and its output folder build/$(MODE):
#   release  gcc -O2
#   asan     clang, AddressSanitizer + UndefinedBehaviorSanitizer (tests)
#   fuzz     clang, libFuzzer instrumentation + ASan + UBSan

.DEFAULT_GOAL := all
MODE ?= release
B := build/$(MODE)

PKGS := libevent libevent_openssl libevent_pthreads openssl libcares sqlite3 inih jansson libcrypt

ifeq ($(MODE),release)
CC := gcc
OPT := -O2 -g
else ifeq ($(MODE),asan)
CC := clang
OPT := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
else ifeq ($(MODE),fuzz)
CC := clang
OPT := -O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined \
       -fno-sanitize-recover=all
else
$(error MODE must be release, asan or fuzz)
endif

# Recursive (=) so that pkg-config runs only when a compile needs it, after scripts/deps.
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS))
PKG_LIBS = $(shell pkg-config --libs $(PKGS)) -lpthread
CFLAGS = -std=c17 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
         -Wno-unused-parameter -Isrc $(OPT) $(PKG_CFLAGS) -MMD -MP
LDFLAGS = $(OPT)

SRC := $(sort $(wildcard src/*.c src/*/*.c))
LIB_SRC := $(filter-out src/main.c,$(SRC))
LIB_OBJ := $(LIB_SRC:%.c=$(B)/%.o)
UNIT_SRC := $(sort $(wildcard tests/unit/*/test_*.c))
UNIT_BIN := $(UNIT_SRC:%.c=$(B)/%)
TOOL_SRC := $(sort $(wildcard tests/tools/*.c))
TOOL_BIN := $(TOOL_SRC:%.c=$(B)/%)
FUZZ_SRC := $(sort $(wildcard fuzz/fuzz_*.c))
FUZZ_BIN := $(FUZZ_SRC:%.c=$(B)/%)
FUZZ_SECONDS ?= 60

.PHONY: all petrel run test check fuzz fuzz-build fuzz-smoke bench lint clean deps \
        unit tools format

all: petrel

petrel: $(B)/petrel
	@if [ "$(MODE)" = release ]; then cp -f $(B)/petrel ./petrel; fi

$(B)/petrel: $(B)/src/main.o $(B)/libpetrel.a
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(B)/libpetrel.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

# Unit tests: one binary per tests/unit/<folder>/test_<file>.c, linked with cmocka.
$(B)/tests/unit/%: tests/unit/%.c $(B)/libpetrel.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(B)/libpetrel.a $(PKG_LIBS) -lcmocka

# Test and benchmark tools that link the real store and loop.
$(B)/tests/tools/%: tests/tools/%.c $(B)/libpetrel.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(B)/libpetrel.a $(PKG_LIBS)

# Fuzz targets declare, in their first lines, exactly what they link:
#   // fuzz-sources: src/core/buf.c src/core/config.c
#   // fuzz-libs: -linih
# so that a parser which grows I/O stops linking (see `make lint`).
fuzz_sources = $(shell sed -n 's|^// fuzz-sources:||p' $(1))
fuzz_libs = $(shell sed -n 's|^// fuzz-libs:||p' $(1))
fuzz_objs = $(patsubst %.c,$(B)/%.o,$(call fuzz_sources,fuzz/$(1).c))
.SECONDEXPANSION:
$(B)/fuzz/%: fuzz/%.c $$(call fuzz_objs,$$*)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -fsanitize=fuzzer -o $@ $(filter %.c %.o,$^) $(call fuzz_libs,$<)

unit: $(UNIT_BIN)
tools: $(TOOL_BIN)
fuzz-build: $(FUZZ_BIN)

deps:
	@sh scripts/deps

run: deps
	@$(MAKE) --no-print-directory MODE=release petrel
	./petrel serve

# The whole test suite: ASan+UBSan build, unit tests, integration tests, fuzz smoke.
test: deps
	@$(MAKE) --no-print-directory MODE=asan petrel unit tools
	@$(MAKE) --no-print-directory MODE=fuzz fuzz-build
	@sh scripts/lint
	@/usr/bin/python3 scripts/test

fuzz: deps
	@$(MAKE) --no-print-directory MODE=fuzz fuzz-build
	@for f in $(FUZZ_SRC); do \
		n=$$(basename $$f .c); mkdir -p fuzz/corpus/$$n build/fuzz-corpus/$$n; \
		echo "== $$n ($(FUZZ_SECONDS)s)"; \
		dict=""; [ -f fuzz/dict/$$n.dict ] && dict="-dict=fuzz/dict/$$n.dict"; \
		build/fuzz/fuzz/$$n $$dict -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
			-artifact_prefix=build/fuzz-corpus/ \
			build/fuzz-corpus/$$n fuzz/corpus/$$n || exit 1; \
	done

bench:
	@sh scripts/deps bench
	@$(MAKE) --no-print-directory MODE=release petrel tools
	@sh bench/run $(BENCH)

lint:
	@sh scripts/lint

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build petrel

-include $(shell find build/$(MODE) -name '*.d' 2>/dev/null)
