# Makefile - builds pgseal, its simulator, its demo page, unit tests and fuzz targets; `make run`, `make reload`, `make test`, `make bench`,
# `make image`, `make conformance`.
#
# Sources are found by globbing: src/<module>/*.c form the library, src/cli/*.c the
# pgseal binary, src/sim/*.c the dstack simulator, src/demo/*.c the demo web page
# (pgseal-demo; its request validation, src/demo/demo_input*.c, is in the library for the
# unit tests and fuzz targets), tests/unit/test_*.c one unit test binary each,
# fuzz/fuzz_*.c one libFuzzer target each. Adding a file needs no edit here.

CC      ?= cc
B       ?= build
SAN     ?=
PKGS    := openssl yaml-0.1 jansson libcurl libmicrohttpd libpq liburing
CSTD    := -std=c17 -D_GNU_SOURCE
WARN    := -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter -Wstrict-prototypes -Wmissing-prototypes
OPT     ?= -O2 -g
HARDEN  := -fstack-protector-strong -fno-strict-aliasing
CFLAGS_ALL := $(CSTD) $(WARN) $(OPT) $(HARDEN) -pthread -Isrc $(shell pkg-config --cflags $(PKGS) 2>/dev/null) $(CFLAGS)
LDLIBS_ALL := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpg_query -pthread -lm $(LDLIBS)
ifeq ($(SAN),1)
  CFLAGS_ALL += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
  LDFLAGS += -fsanitize=address,undefined
else
  CFLAGS_ALL += -D_FORTIFY_SOURCE=2
endif

DEMO_SRCS := $(filter-out src/demo/demo_input%,$(wildcard src/demo/*.c))
LIB_SRCS  := $(filter-out src/cli/% src/sim/% $(DEMO_SRCS),$(wildcard src/*/*.c))
CLI_SRCS  := $(wildcard src/cli/*.c)
SIM_SRCS  := $(wildcard src/sim/*.c)
TEST_SRCS := $(wildcard tests/unit/test_*.c)
FUZZ_SRCS := $(wildcard fuzz/fuzz_*.c)

LIB_OBJS  := $(LIB_SRCS:%.c=$(B)/obj/%.o)
CLI_OBJS  := $(CLI_SRCS:%.c=$(B)/obj/%.o)
SIM_OBJS  := $(SIM_SRCS:%.c=$(B)/obj/%.o)
DEMO_OBJS := $(DEMO_SRCS:%.c=$(B)/obj/%.o)
TEST_BINS := $(TEST_SRCS:tests/unit/%.c=$(B)/tests/%)
LIB       := $(B)/libpgseal.a

.SECONDARY:


.PHONY: all run stop reload test unit integration conformance asan fuzz fuzz-smoke bench bench-crypto deps clean format check-format check-circles image tidy print-cflags

all: $(B)/pgseal $(B)/pgseal-dstack-sim $(B)/pgseal-demo

$(B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(CFLAGS_ALL) -MMD -MP -c $< -o $@

$(LIB): $(LIB_OBJS)
	@mkdir -p $(dir $@)
	@rm -f $@ && ar rcs $@ $^

$(B)/pgseal: $(CLI_OBJS) $(LIB)
	@echo "  LD      $@"
	@$(CC) $(LDFLAGS) -o $@ $(CLI_OBJS) $(LIB) $(LDLIBS_ALL)

$(B)/pgseal-dstack-sim: $(SIM_OBJS) $(LIB)
	@echo "  LD      $@"
	@$(CC) $(LDFLAGS) -o $@ $(SIM_OBJS) $(LIB) $(LDLIBS_ALL)

# the page's files are embedded by .incbin, which the compiler's -MMD does not see
$(B)/obj/src/demo/demo_assets.o: $(wildcard src/demo/assets/*)

$(B)/pgseal-demo: $(DEMO_OBJS) $(LIB)
	@echo "  LD      $@"
	@$(CC) $(LDFLAGS) -o $@ $(DEMO_OBJS) $(LIB) $(LDLIBS_ALL)

$(B)/tests/%: $(B)/obj/tests/unit/%.o $(LIB)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	@$(CC) $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS_ALL)

-include $(shell find $(B)/obj -name '*.d' 2>/dev/null)

# --- set-up -----------------------------------------------------------------
deps:
	@bash scripts/install-deps.sh

run: deps
	@$(MAKE) --no-print-directory all
	@bash scripts/run.sh

stop:
	@bash scripts/stop.sh

# make run's pgseal reloads run/encryptor_config.yaml (SIGHUP) for new sessions
reload:
	@bash scripts/reload.sh

# the reproducible OCI image (docs/deploy.md, The image): build/image/; last line sha256:<digest>
image: deps
	@bash scripts/image.sh

# --- tests ------------------------------------------------------------------
unit: $(TEST_BINS)
	@bash scripts/run-unit.sh $(TEST_BINS)

integration: all
	@bash scripts/run-integration.sh $(B)

asan:
	@$(MAKE) --no-print-directory B=build/asan SAN=1 OPT="-O1 -g" all build/asan/tests-built

$(B)/tests-built: $(TEST_BINS)
	@touch $@

# `make test`: every test, as CI runs it (.ci/run calls this).
test: deps
	@bash scripts/test-all.sh

# `make conformance SUITES=DIR`: the drivers' own test suites (checkouts in DIR, not in this
# repository, so not part of `make test` nor CI) directly and through pgseal in each mode;
# fails on a test that passes directly but not through pgseal. docs/testing.md, "Conformance".
SUITES ?=
conformance: all
	@bash scripts/conformance.sh "$(SUITES)" $(CONFORMANCE_ARGS)

# --- fuzzing ----------------------------------------------------------------
FUZZ_B := build/fuzz
fuzz-build:
	@$(MAKE) --no-print-directory B=$(FUZZ_B) CC=clang SAN=1 OPT="-O1 -g -fsanitize=fuzzer-no-link" $(FUZZ_B)/libpgseal.a
	@mkdir -p $(FUZZ_B)/bin
	@for f in $(FUZZ_SRCS); do n=$$(basename $$f .c); \
	  clang $(CSTD) -O1 -g -Isrc $(shell pkg-config --cflags $(PKGS) 2>/dev/null) -fsanitize=fuzzer,address,undefined \
	    -o $(FUZZ_B)/bin/$$n $$f $(FUZZ_B)/libpgseal.a $(LDLIBS_ALL) || exit 1; done

# brief runs with the committed corpus (CI); FUZZ_SECONDS per target
FUZZ_SECONDS ?= 20
fuzz-smoke: fuzz-build
	@bash scripts/run-fuzz.sh $(FUZZ_B)/bin $(FUZZ_SECONDS)

fuzz: fuzz-build
	@bash scripts/run-fuzz.sh $(FUZZ_B)/bin 600

# --- benchmarks (never part of the tests) -----------------------------------
# BASELINE=/path/to/an/older/pgseal: the same measurements for both binaries in the same
# rounds, with new/old ratios (README, "Performance")
bench: deps all
	@BASELINE='$(BASELINE)' bash bench/bench.sh
	@BASELINE='$(BASELINE)' bash bench/bench-encrypted.sh

bench-crypto: all
	@bash bench/bench-crypto.sh

format:
	clang-format -i $$(find src tests/unit fuzz -name '*.[ch]')

# the committed .clang-format holds for every C file (part of `make test`)
check-format:
	@files=$$(find src tests/unit fuzz -name '*.[ch]'); \
	out=$$(clang-format --dry-run --Werror $$files 2>&1 | grep 'error:'); \
	bad=$$(printf '%s' "$$out" | grep -c . ); nfail=$$(printf '%s' "$$out" | cut -d: -f1 | sort -u | grep -c .); \
	[ "$$bad" -eq 0 ] || printf '%s\n' "$$out" | head -20; \
	echo "format: $$(( $$(echo "$$files" | wc -l) - nfail )) passed, $$nfail failed"; \
	[ "$$bad" -eq 0 ]

# no circle of more than 3 files in src/ (a file depends on another when it includes its header or
# calls a function only that file defines); known ones in scripts/circles-allowed.txt, each with
# its reason. Part of `make test`; `SHOW=1 make check-circles` prints the edges of each circle.
check-circles:
	@/usr/bin/python3 scripts/check-circles.py src

# clang-tidy with the committed .clang-tidy over src/ (`make tidy MODULES="sql schema"` for some
# modules); any finding fails. docs/testing.md, "Static analysis (make tidy)".
MODULES ?=
tidy:
	@bash scripts/tidy.sh $(MODULES)

# the flags every C file is compiled with (scripts/tidy.sh builds its compilation database from them)
print-cflags:
	@echo '$(CFLAGS_ALL)'

clean:
	rm -rf build
