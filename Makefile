# bulwark - top-level Makefile.
#
#   make            build build/bulwarkd (runs autoreconf + ./configure once)
#   make check      unit + integration tests, again under ASan+UBSan, fuzz replay
#   make lint       cppcheck, clang-tidy and gcc -fanalyzer (lint/suppressions)
#   make fuzz       libFuzzer targets (clang, ASan+UBSan) in build-fuzz/
#   make demo       throwaway PostgreSQL + bulwarkd on https://localhost:8443
#   make bench      the reference workload of SPEC 15
#   make install    honours DESTDIR and PREFIX
#   make deb        the Debian package, in $(BUILDDIR)/deb/
#
# Objects go to $(BUILDDIR) (default build/); SAN=1 builds with ASan+UBSan.

BUILDDIR ?= build
SAN ?= 0
PREFIX ?= /usr
DESTDIR ?=
SHAREDDIR ?= $(abspath ../shared)

ifneq ($(wildcard config.mk),)
include config.mk
CONFIGURED := 1
endif

SRC_ALL := $(sort $(wildcard src/*.c))
SRC_LIB := $(filter-out src/main.c,$(SRC_ALL))
OBJ_LIB := $(SRC_LIB:src/%.c=$(BUILDDIR)/obj/%.o)
OBJ_MAIN := $(BUILDDIR)/obj/main.o
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILDDIR)/tests/%)
FUZZ_SRC := $(sort $(wildcard tests/fuzz/fuzz_*.c))
REPLAY_BIN := $(FUZZ_SRC:tests/fuzz/%.c=$(BUILDDIR)/replay/%)

HARDEN := -fstack-protector-strong -fstack-clash-protection \
	-D_FORTIFY_SOURCE=3 $(BW_ARCH_CFLAGS) -fPIE
WARN := -Wall -Wextra -Werror -Wformat=2 -Wformat-security \
	-Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wvla
BASE_CFLAGS := -std=c11 -D_GNU_SOURCE -O2 -g $(WARN) \
	-DBW_VERSION='"$(PACKAGE_VERSION)"'
LDHARDEN := -pie -Wl,-z,relro,-z,now

ifeq ($(SAN),1)
SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all \
	-fno-omit-frame-pointer
# _FORTIFY_SOURCE and ASan do not mix well; the sanitizer checks bounds.
HARDEN := $(filter-out -D_FORTIFY_SOURCE=3,$(HARDEN)) -O1
endif

ALL_CFLAGS = $(BASE_CFLAGS) $(HARDEN) $(SANFLAGS) $(DEP_CFLAGS) -Isrc $(CFLAGS)
ALL_LDFLAGS = $(LDHARDEN) $(SANFLAGS) $(LDFLAGS)

.PHONY: all bootstrap check check-build unit integration replay check-one \
	lint fuzz demo bench install deb clean distclean deps

ifeq ($(CONFIGURED),1)
all: $(BUILDDIR)/bulwarkd
else
all check lint fuzz demo bench install: bootstrap
	$(MAKE) $(MAKECMDGOALS)
endif

bootstrap:
	@scripts/install-deps
	autoreconf -fi
	./configure --prefix=$(PREFIX)

config.mk: config.mk.in configure.ac
	@if [ -x config.status ]; then ./config.status; fi

ifeq ($(CONFIGURED),1)

$(BUILDDIR)/obj/%.o: src/%.c $(wildcard src/*.h) config.mk
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILDDIR)/libbw.a: $(OBJ_LIB)
	rm -f $@
	ar rcs $@ $^

$(BUILDDIR)/bulwarkd: $(OBJ_MAIN) $(BUILDDIR)/libbw.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(DEP_LIBS) -lpthread

$(BUILDDIR)/tests/%: tests/unit/%.c $(BUILDDIR)/libbw.a tests/unit/unit.h \
    tests/unit/unit_cert.h
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(CHECK_CFLAGS) -Wno-missing-prototypes \
		-DSHAREDDIR='"$(SHAREDDIR)"' -Itests/unit -o $@ $< \
		$(BUILDDIR)/libbw.a $(ALL_LDFLAGS) $(CHECK_LIBS) $(DEP_LIBS) -lpthread

# Fuzz targets built with a plain driver that replays files (no libFuzzer).
$(BUILDDIR)/replay/%: tests/fuzz/%.c tests/fuzz/replay.c $(BUILDDIR)/libbw.a
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -Wno-missing-prototypes -o $@ $< tests/fuzz/replay.c \
		$(BUILDDIR)/libbw.a $(ALL_LDFLAGS) $(DEP_LIBS) -lpthread

check-build: $(BUILDDIR)/bulwarkd $(UNIT_BIN) $(REPLAY_BIN)

unit: $(UNIT_BIN)
	@scripts/run-unit $(UNIT_BIN)

RUN_INTEGRATION = BULWARKD=$(abspath $(BUILDDIR)/bulwarkd) \
	SHAREDDIR=$(SHAREDDIR) python3 tests/integration/run.py

integration: $(BUILDDIR)/bulwarkd
	$(RUN_INTEGRATION)

replay: $(REPLAY_BIN)
	@scripts/run-replay $(REPLAY_BIN)

# One pass: unit tests, integration tests, fuzz replay.  Everything is
# built first (in parallel under -j); the three suites then run one after
# the other, each to its end, so that one failing suite does not hide the
# results of the others; the pass fails if any of them failed.
check-one: check-build
	@rc=0; \
	scripts/run-unit $(UNIT_BIN) || rc=1; \
	echo '$(RUN_INTEGRATION)'; $(RUN_INTEGRATION) || rc=1; \
	scripts/run-replay $(REPLAY_BIN) || rc=1; \
	exit $$rc

# The man pages are checked first (mandoc -T lint, seconds); make lint
# checks them again with the other analysers.
check: deps
	@scripts/lint --only mandoc
	$(MAKE) check-one BUILDDIR=build SAN=0
	$(MAKE) check-one BUILDDIR=build-asan SAN=1

deps:
	@scripts/install-deps

lint: deps
	@scripts/lint

fuzz: deps
	@scripts/build-fuzz

demo: deps $(BUILDDIR)/bulwarkd
	@scripts/demo $(abspath $(BUILDDIR)/bulwarkd)

$(BUILDDIR)/schema_bench: bench/schema_bench.c $(BUILDDIR)/libbw.a
	$(CC) $(ALL_CFLAGS) -o $@ $< $(BUILDDIR)/libbw.a $(ALL_LDFLAGS) \
		$(DEP_LIBS) -lpthread

bench: deps $(BUILDDIR)/bulwarkd $(BUILDDIR)/schema_bench
	@echo "== schema validation microbenchmark"
	@$(BUILDDIR)/schema_bench
	@bench/run $(abspath $(BUILDDIR)/bulwarkd)

install: $(BUILDDIR)/bulwarkd
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/share/man/man5 \
		$(DESTDIR)$(PREFIX)/share/man/man8 \
		$(DESTDIR)/lib/systemd/system $(DESTDIR)$(PREFIX)/lib/sysusers.d \
		$(DESTDIR)$(PREFIX)/lib/tmpfiles.d $(DESTDIR)/etc/logrotate.d \
		$(DESTDIR)/etc/bulwark
	install -m 0755 $(BUILDDIR)/bulwarkd $(DESTDIR)$(PREFIX)/sbin/bulwarkd
	install -m 0644 man/bulwarkd.8 $(DESTDIR)$(PREFIX)/share/man/man8/
	install -m 0644 man/bulwark.yaml.5 $(DESTDIR)$(PREFIX)/share/man/man5/
	install -m 0644 systemd/bulwarkd.service $(DESTDIR)/lib/systemd/system/
	install -m 0644 systemd/bulwarkd.sysusers \
		$(DESTDIR)$(PREFIX)/lib/sysusers.d/bulwarkd.conf
	install -m 0644 systemd/bulwarkd.tmpfiles \
		$(DESTDIR)$(PREFIX)/lib/tmpfiles.d/bulwarkd.conf
	install -m 0644 systemd/bulwarkd.logrotate $(DESTDIR)/etc/logrotate.d/bulwarkd
	@if [ ! -e $(DESTDIR)/etc/bulwark/bulwark.yaml ]; then \
		install -m 0640 conf/bulwark.yaml $(DESTDIR)/etc/bulwark/bulwark.yaml; fi

endif

# The Debian package (debian/), built from a copy of the tracked and
# unignored files in $(BUILDDIR)/deb/src so that the tree's own build stays
# as it is; the .deb lands in $(BUILDDIR)/deb/.  DEB_BUILD_OPTIONS=nocheck
# skips the unit tests.
deb:
	rm -rf $(BUILDDIR)/deb
	mkdir -p $(BUILDDIR)/deb/src
	if [ -d .git ] || [ -f .git ]; then \
		git ls-files -z --cached --others --exclude-standard | \
		    tar -cf - --null -T - ; \
	else \
		tar -cf - --exclude='./build*' --exclude=./debian/bulwark . ; \
	fi | tar -xf - -C $(BUILDDIR)/deb/src
	cd $(BUILDDIR)/deb/src && dpkg-buildpackage -b -us -uc
	@ls $(BUILDDIR)/deb/*.deb

clean:
	rm -rf build build-asan build-fuzz build-lint

distclean: clean
	rm -rf config.mk config.status config.log configure autom4te.cache aclocal.m4
