# armmapd - one non-recursive Makefile for the whole tree.
#
#   make            build everything into build/
#   make check      every test suite, then again under ASan+UBSan
#   make bench      speed and memory figures
#   make run        start armmapd in the foreground with embedded defaults
#   make clean
#
# Debian packages: pkg-config libevent-dev libprotobuf-c-dev
#                  protobuf-c-compiler libsqlite3-dev check

CC      ?= cc
CFLAGS  ?= -O2 -g
WARN    := -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes \
           -Wmissing-prototypes -Wformat=2 -Wpointer-arith -Wvla
ifeq ($(WERROR),1)
WARN    += -Werror
endif

# B is the output directory: build/ normally, build/san/ for sanitizers.
ifeq ($(SANITIZE),1)
B       := build/san
CFLAGS  := -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all \
           -fno-omit-frame-pointer
LDFLAGS += -fsanitize=address,undefined
else
B       := build
endif

CHECK_CFLAGS := $(shell pkg-config --cflags check 2>/dev/null)
CHECK_LIBS   := $(shell pkg-config --libs check 2>/dev/null)
ALL_CFLAGS    = -std=c11 -D_DEFAULT_SOURCE $(WARN) $(CFLAGS) -Iengine

# ---- engine: pure library ----------------------------------------------
ENGINE_SRC := $(sort $(wildcard engine/*.c))
ENGINE_OBJ := $(ENGINE_SRC:%.c=$(B)/%.o)
LIBMM      := $(B)/libmm.a

# ---- tests -------------------------------------------------------------
TEST_ENGINE_SRC := $(sort $(wildcard tests/engine/*.c))
TEST_ENGINE_OBJ := $(TEST_ENGINE_SRC:%.c=$(B)/%.o)
CHECK_ENGINE    := $(B)/check_engine
TEST_BINS       := $(CHECK_ENGINE)

BENCH_ENGINE    := $(B)/bench_engine

ALL_OBJ := $(ENGINE_OBJ) $(TEST_ENGINE_OBJ) $(B)/tests/bench/bench_engine.o

.PHONY: all check check-plain check-san bench clean deps
all: deps $(LIBMM) $(TEST_BINS) $(BENCH_ENGINE)

$(B)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(if $(findstring tests/,$<),$(CHECK_CFLAGS)) -MMD -MP -c $< -o $@

$(LIBMM): $(ENGINE_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(CHECK_ENGINE): $(TEST_ENGINE_OBJ) $(LIBMM)
	$(CC) $(LDFLAGS) -o $@ $^ $(CHECK_LIBS)

$(BENCH_ENGINE): $(B)/tests/bench/bench_engine.o $(LIBMM)
	$(CC) $(LDFLAGS) -o $@ $^

# ---- dependencies ------------------------------------------------------
# Installs what is missing on Debian/Ubuntu; elsewhere names the packages.
deps:
	@sh tests/deps.sh

# ---- checks ------------------------------------------------------------
check: deps
	@$(MAKE) --no-print-directory check-plain
	@$(MAKE) --no-print-directory SANITIZE=1 check-plain

check-plain: $(TEST_BINS)
	@rc=0; for t in $(TEST_BINS); do echo "== $$t"; ./$$t || rc=1; done; exit $$rc

bench: deps $(BENCH_ENGINE)
	@./$(BENCH_ENGINE)

clean:
	rm -rf build

-include $(ALL_OBJ:.o=.d)
