# greenhub — build, run, test. `make run` serves the echo protocol on port 6000; `make test` runs
# every test. Prerequisites: a Rust toolchain, a C compiler, make, python3.

CARGO    ?= cargo
CC       ?= cc
CXX      ?= c++
PYTHON   ?= python3
PORT     ?= 6000
BUILD    := build
VERSION  := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
MAJOR    := $(firstword $(subst ., ,$(VERSION)))
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

all: lib $(HEADER)

# Cargo decides what is stale; the copy into build/ carries the soname links.
lib: FORCE
	$(CARGO) build --release -p greenhub-capi
	@mkdir -p $(BUILD)
	@# Copy then rename: overwriting in place would crash programs that have the library mapped.
	cp -f target/release/libgreenhub_capi.so $(LIB_SO).tmp && mv -f $(LIB_SO).tmp $(LIB_SO)
	cp -f target/release/libgreenhub_capi.a $(BUILD)/libgreenhub.a.tmp && mv -f $(BUILD)/libgreenhub.a.tmp $(BUILD)/libgreenhub.a
	ln -sf libgreenhub.so.$(VERSION) $(BUILD)/libgreenhub.so.$(MAJOR)
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
	./$(BUILD)/echo_server -p $(PORT)

$(BUILD)/test_api: tests/c/*.c tests/c/*.h $(HEADER) lib
	$(CC) $(WARN) $(CFLAGS) -I$(BUILD)/include tests/c/*.c -o $@ $(LDLIBS)

test: check-header check-exports lint test-rust test-c test-e2e test-python test-build

test-rust:
	$(CARGO) test --release --workspace

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
	PYTHONPATH=bindings/python .venv-$*/bin/python -m pytest -q tests/python

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

# The committed header must equal what cbindgen generates from capi/ now.
check-header: $(HEADER)
	@diff -u $(COMMITTED_HEADER) $(HEADER) \
		|| { echo "$(COMMITTED_HEADER) is stale: run 'make header' and commit it"; exit 1; }
	@echo "check-header: $(COMMITTED_HEADER) is up to date"

# The shared library exports the C API and nothing else.
check-exports: lib
	@extra=$$(nm -D --defined-only $(LIB_SO) | awk '{print $$3}' | grep -v '^gh_' || true); \
	if [ -n "$$extra" ]; then echo "unexpected exports:"; echo "$$extra"; exit 1; fi
	@readelf -d $(LIB_SO) | grep -q 'SONAME.*libgreenhub.so.$(MAJOR)' \
		|| { echo "soname is not libgreenhub.so.$(MAJOR)"; exit 1; }
	@echo "check-exports: only gh_* symbols, soname libgreenhub.so.$(MAJOR)"

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
