# greenhub — build, run, test. `make run` serves the echo protocol on port 6000 (`make run
# PORT=7000 HOST=127.0.0.1` picks both); `make test` runs every test. Prerequisites: a Rust
# toolchain, a C compiler, make, python3.

CARGO    ?= cargo
CC       ?= cc
CXX      ?= c++
PYTHON   ?= python3
PORT     ?= 6000
# The address `make run` listens on; empty: every IPv4 address. Set on the command line only
# (`=`, not `?=`: some shells export HOST as the machine's name).
HOST     =
BUILD    := build
VERSION  := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
MAJOR    := $(word 1,$(subst ., ,$(VERSION)))
MINOR    := $(word 2,$(subst ., ,$(VERSION)))
# The soname's version (README "ABI policy"): MAJOR.MINOR while the version is 0.x (a minor
# release may change the ABI), MAJOR from 1.0 on. capi/build.rs sets the soname by the same rule.
SOVERSION := $(if $(filter 0,$(MAJOR)),$(MAJOR).$(MINOR),$(MAJOR))
CFLAGS   ?= -O2 -g
WARN     := -std=c99 -Wall -Wextra -Werror -D_GNU_SOURCE
# Examples and tests find the library next to them, by its soname.
LDLIBS   := -L$(BUILD) -lgreenhub -Wl,-rpath,'$$ORIGIN'
VENV     := .venv
# The CPython versions the Python shim supports (README "Python"): `make test` runs tests/python
# under each, in a venv of its own (.venv-VERSION), and under $(PYTHON). 3.14t is the
# free-threaded build. tests/python/find-python locates each; a missing one fails the run.
PY_VERSIONS := 3.9 3.10 3.11 3.12 3.13 3.14 3.14t

LIB_SO   := $(BUILD)/libgreenhub.so.$(VERSION)
# The header the build uses: generated from capi/ (include/greenhub.h is its committed copy).
HEADER   := $(BUILD)/include/greenhub.h
# What `make check-header` compares with the generated header.
COMMITTED_HEADER ?= include/greenhub.h
EXAMPLES := $(BUILD)/echo_server $(BUILD)/file_server $(BUILD)/chat_server $(BUILD)/sync_example \
            $(BUILD)/http_server
CTESTS   := $(BUILD)/test_api

.PHONY: all lib header examples run test test-rust test-c test-e2e test-python test-python-default test-build check-header check-exports lint clean FORCE bench
.PHONY: stage install uninstall test-install

all: lib $(HEADER)

# Cargo decides what is stale; the copy into build/ carries the soname links.
lib: FORCE
	$(CARGO) build --release -p greenhub-capi
	@mkdir -p $(BUILD)
	@# Copy then rename: overwriting in place would crash programs that have the library mapped.
	cp -f target/release/libgreenhub_capi.so $(LIB_SO).tmp && mv -f $(LIB_SO).tmp $(LIB_SO)
	cp -f target/release/libgreenhub_capi.a $(BUILD)/libgreenhub.a.tmp && mv -f $(BUILD)/libgreenhub.a.tmp $(BUILD)/libgreenhub.a
	ln -sf libgreenhub.so.$(VERSION) $(BUILD)/libgreenhub.so.$(SOVERSION)
	ln -sf libgreenhub.so.$(VERSION) $(BUILD)/libgreenhub.so

# The header, generated from the C ABI crate alone (tools/gen-header runs cbindgen on capi/).
# Always regenerated (it takes a moment once the tool is built); rewritten only if it changed,
# so what includes it is rebuilt only then.
$(HEADER): FORCE
	@mkdir -p $(dir $@)
	@$(CARGO) run --quiet -p greenhub-gen-header -- $@.new
	@if cmp -s $@.new $@; then rm -f $@.new; else mv -f $@.new $@; fi

# Updates the committed copy of the header.
header: $(HEADER)
	cp -f $(HEADER) include/greenhub.h

examples: lib $(EXAMPLES)

$(BUILD)/%: examples-c/%.c $(HEADER) lib
	$(CC) $(WARN) $(CFLAGS) -I$(BUILD)/include $< -o $@ $(LDLIBS)

run: examples
	./$(BUILD)/echo_server -p $(PORT) $(if $(HOST),-h $(HOST))

$(BUILD)/test_api: tests/c/*.c tests/c/*.h $(HEADER) lib
	$(CC) $(WARN) $(CFLAGS) -I$(BUILD)/include tests/c/*.c -o $@ $(LDLIBS)

test: check-header check-exports lint test-rust test-c test-e2e test-python test-build test-install

test-rust:
	$(CARGO) test --profile test-release --workspace

# The file tests mount a FUSE filesystem (tests/fuse/slowfs.py), run by the venv's Python.
test-c: examples $(CTESTS) $(VENV)/.ready
	$(CXX) -std=c++11 -Wall -Wextra -Werror -fsyntax-only -I$(BUILD)/include tests/c/compile_cxx.cpp
	GH_TEST_PYTHON=$(abspath $(VENV))/bin/python GH_TEST_SLOWFS=$(abspath tests/fuse/slowfs.py) \
		./$(BUILD)/test_api

$(VENV)/.ready: tests/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r tests/requirements.txt
	touch $@

test-e2e: examples $(VENV)/.ready
	GREENHUB_BUILD_DIR=$(abspath $(BUILD)) $(VENV)/bin/python -m pytest -q tests/e2e

# The Python shim against Eventlet's documented behaviour (its own pytest run: tests/e2e and
# tests/python each have a conftest of their own), under $(PYTHON) and every PY_VERSIONS
# interpreter; `make test-python-3.14t` runs one.
test-python: test-python-default $(PY_VERSIONS:%=test-python-%)

test-python-default: lib $(VENV)/.ready
	PYTHONPATH=bindings/python $(VENV)/bin/python -m pytest -q tests/python

test-python-%: lib .venv-%/.ready
	@echo "tests/python under CPython $* ($$(.venv-$*/bin/python -c 'import sys; print(sys.version.split()[0], sys.executable)'))"
	PYTHONPATH=bindings/python GREENHUB_MAKEFILE_MATRIX=core .venv-$*/bin/python -m pytest -q tests/python

# Kept once made (make would delete it as the intermediate file of a pattern chain).
.PRECIOUS: .venv-%/.ready
.venv-%/.ready: tests/requirements.txt tests/python/find-python
	rm -rf .venv-$*
	py=$$(tests/python/find-python $*) && $$py -m venv .venv-$*
	.venv-$*/bin/pip install --quiet --disable-pip-version-check -r tests/requirements.txt
	touch $@

# The build itself: the header check, (later) installation.
test-build: lib $(VENV)/.ready
	$(VENV)/bin/python -m pytest -q tests/build

# ---- Installation: `make install PREFIX=/usr/local DESTDIR=` and `make uninstall` (README,
# "Use it from your project"). Installs the header, the shared library with its soname links,
# the static library, greenhub.pc and the CMake package, and nothing else.
PREFIX       ?= /usr/local
LIBDIR       ?= $(PREFIX)/lib
INCLUDEDIR   ?= $(PREFIX)/include
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
CMAKEDIR     ?= $(LIBDIR)/cmake/greenhub
DESTDIR      ?=
# The installed libraries carry no debug info (the build's keep line tables) unless KEEP_DEBUG=1.
KEEP_DEBUG   ?=
STRIP        ?= strip
# What a program linked with libgreenhub.a needs besides it: rustc's native-static-libs, from
# `cargo rustc --release -p greenhub-capi --crate-type staticlib -- --print native-static-libs`.
STATIC_LIBS  := -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc
# The files `make install` makes, prepared here first (stripped, paths filled in), then copied.
STAGE        := $(BUILD)/stage
INSTALLED    := $(INCLUDEDIR)/greenhub.h $(LIBDIR)/libgreenhub.so.$(VERSION) \
	$(LIBDIR)/libgreenhub.so.$(SOVERSION) $(LIBDIR)/libgreenhub.so $(LIBDIR)/libgreenhub.a \
	$(PKGCONFIGDIR)/greenhub.pc $(CMAKEDIR)/greenhub-config.cmake \
	$(CMAKEDIR)/greenhub-config-version.cmake

empty :=
space := $(empty) $(empty)
# $(call copy_stripped,SRC,DEST): the library without its debug info, unless KEEP_DEBUG=1.
copy_stripped = $(if $(filter 1,$(KEEP_DEBUG)),cp -f $1 $2,$(STRIP) --strip-debug -o $2 $1)
# Fills in packaging/*.in for this installation's paths.
SUBST = sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' \
	-e 's|@INCLUDEDIR@|$(INCLUDEDIR)|g' -e 's|@VERSION@|$(VERSION)|g' \
	-e 's|@SOVERSION@|$(SOVERSION)|g' -e 's|@MAJOR@|$(MAJOR)|g' -e 's|@MINOR@|$(MINOR)|g' \
	-e 's|@STATIC_LIBS@|$(STATIC_LIBS)|g' -e 's|@STATIC_LIBS_CMAKE@|$(subst $(space),;,$(STATIC_LIBS))|g'

stage: lib $(HEADER)
	rm -rf $(STAGE) && mkdir -p $(STAGE)
	$(call copy_stripped,$(LIB_SO),$(STAGE)/libgreenhub.so.$(VERSION))
	$(call copy_stripped,$(BUILD)/libgreenhub.a,$(STAGE)/libgreenhub.a)
	for f in greenhub.pc greenhub-config.cmake greenhub-config-version.cmake; do \
		$(SUBST) packaging/$$f.in > $(STAGE)/$$f || exit 1; done

# `install` replaces a file by a new one, so programs running with the old library keep it.
install: stage
	install -d $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(PKGCONFIGDIR) \
		$(DESTDIR)$(CMAKEDIR)
	install -m 644 $(HEADER) $(DESTDIR)$(INCLUDEDIR)/greenhub.h
	install -m 755 $(STAGE)/libgreenhub.so.$(VERSION) $(DESTDIR)$(LIBDIR)/
	ln -sf libgreenhub.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libgreenhub.so.$(SOVERSION)
	ln -sf libgreenhub.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libgreenhub.so
	install -m 644 $(STAGE)/libgreenhub.a $(DESTDIR)$(LIBDIR)/
	install -m 644 $(STAGE)/greenhub.pc $(DESTDIR)$(PKGCONFIGDIR)/
	install -m 644 $(STAGE)/greenhub-config.cmake $(STAGE)/greenhub-config-version.cmake \
		$(DESTDIR)$(CMAKEDIR)/

# Removes what install made (and the CMake package's own directory), nothing else.
uninstall:
	rm -f $(addprefix $(DESTDIR),$(INSTALLED))
	rmdir $(DESTDIR)$(CMAKEDIR) 2>/dev/null || true

# Installs into a temporary prefix and builds programs against it (pkg-config, CMake, static),
# and builds, installs and runs the Python wheel in a fresh venv (tests/install/README.md).
test-install: lib $(VENV)/.ready
	$(VENV)/bin/python -m pytest -q tests/install

# The committed header must equal what cbindgen generates from capi/ now.
check-header: $(HEADER)
	@diff -u $(COMMITTED_HEADER) $(HEADER) \
		|| { echo "$(COMMITTED_HEADER) is stale: run 'make header' and commit it"; exit 1; }
	@echo "check-header: $(COMMITTED_HEADER) is up to date"

# The shared library exports the C API and nothing else.
check-exports: lib
	@extra=$$(nm -D --defined-only $(LIB_SO) | awk '{print $$3}' | grep -v '^gh_' || true); \
	if [ -n "$$extra" ]; then echo "unexpected exports:"; echo "$$extra"; exit 1; fi
	@readelf -d $(LIB_SO) | grep -q 'SONAME.*\[libgreenhub\.so\.$(SOVERSION)\]' \
		|| { echo "soname is not libgreenhub.so.$(SOVERSION)"; exit 1; }
	@echo "check-exports: only gh_* symbols, soname libgreenhub.so.$(SOVERSION)"

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --release --workspace --all-targets --quiet -- -D warnings

# Benchmark suite (not part of test): builds what it needs, prints a table, writes bench/results/.
bench:
	$(PYTHON) bench/run.py

clean:
	$(CARGO) clean
	rm -rf $(BUILD)

FORCE:
