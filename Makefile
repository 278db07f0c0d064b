# promptsel: build, test and demo targets. `make test` is what CI runs.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

SWIFT   ?= swift
PYTHON  ?= python3
CC      ?= cc
CXX     ?= c++
BIN     := .build/release
LIB     := $(BIN)/libpromptsel.so
CFLAGS_STRICT := -std=c99 -Wall -Wextra -Werror -pedantic
BUILD_TOOL := .venv-tools/bin/pyproject-build
export PROMPTSEL_LIB := $(abspath $(LIB))
export PYTHONPATH := $(abspath python)$(if $(PYTHONPATH),:$(PYTHONPATH))

.PHONY: all lib lib-static bench-gps bench-features reliability constants test test-swift test-python test-dist dist check-abi example demo bench bench-smoke bench-install clean

all: lib

## lib: the release shared library .build/release/libpromptsel.so
lib:
	$(SWIFT) build -c release --product promptsel

## lib-static: the wheel's library, Swift stdlib linked in (.build-static/release/)
lib-static:
	$(PYTHON) hatch_build.py

## test: everything CI checks (the installed-wheel pytest last: its summary closes the run); test-verl(09): mk/verl*.mk
test: test-swift lib check-abi example bench-smoke test-python test-verl test-verl09 test-dist

## test-swift: Swift Testing suites (core math and the exported C symbols)
test-swift:
	$(SWIFT) test --disable-xctest

## check-abi: every function of include/promptsel.h is exported by the release .so, and nothing else
check-abi: lib
	@diff <(grep -oE '\bpromptsel_[a-z0-9_]+ *\(' include/promptsel.h | tr -d ' (' | sort -u) \
	      <(nm -D --defined-only $(LIB) | awk '$$2=="T"{print $$3}' | grep '^promptsel_' | sort -u) \
	  || { echo "check-abi: include/promptsel.h and $(LIB) disagree (< header only, > library only)"; exit 1; }
	@echo "check-abi: $$(grep -oE '\bpromptsel_[a-z0-9_]+ *\(' include/promptsel.h | tr -d ' (' | sort -u | wc -l) functions, header and release library agree"

## test-python: pytest against the release .so
test-python: lib
	$(PYTHON) -m pytest -q python/tests

## reliability: the bad-input table, kill-during-save, signals, hostile files and memory, with their summary lines
reliability: lib
	$(PYTHON) -m pytest -q -s -p no:cacheprovider python/tests/test_bad_input.py python/tests/test_reliability.py \
	  | grep -E "^(bad-input|kill-during-save|signals|memory)|passed|failed"

## constants: regenerate python/promptsel/_constants.py from include/promptsel.h
constants:
	$(PYTHON) python/tools/gen_constants.py

## dist: the sdist, then the wheel built from it (one static Swift build) into dist/
dist: $(BUILD_TOOL)
	rm -rf dist
	$(BUILD_TOOL) --outdir dist .

# pypa/build in a private venv, so `make dist` needs nothing installed by hand.
$(BUILD_TOOL):
	$(PYTHON) -m venv .venv-tools
	.venv-tools/bin/python -m pip install -q "build>=1.0"

## test-dist: the wheel in a fresh venv outside the tree, pytest against it with the Swift runtime hidden
test-dist: dist lib
	$(SHELL) python/tests/installed/run.sh dist

## example: build the C example with strict flags, check the header as C++17, run it
example: lib
	$(CC) $(CFLAGS_STRICT) -Iinclude examples/c/basic.c -o examples/c/basic \
	    -L$(BIN) -lpromptsel -Wl,-rpath,$(abspath $(BIN))
	$(CXX) -std=c++17 -Wall -Wextra -Werror -pedantic -Iinclude -fsyntax-only -x c++ examples/c/basic.c
	./examples/c/basic

## demo: the main job, a simulated run comparing selectors on a built-in workload
demo: lib
	$(PYTHON) -m promptsel.sim --demo

## bench: full benchmarks, writes bench/RESULTS.md (minutes; not part of test)
bench: lib
	$(PYTHON) bench/run.py --out bench/RESULTS.md

## bench-smoke: the benchmarks at tiny sizes, to keep them working
bench-smoke: lib
	$(PYTHON) bench/run.py --smoke
	$(PYTHON) bench/gps_bench.py --smoke > /dev/null
	$(PYTHON) bench/allocate_bench.py --smoke > /dev/null
	$(PYTHON) bench/feature_quality.py --smoke > /dev/null

## bench-gps: gps / hybrid step time against numpy, featurize throughput (bench/RESULTS_GPS.md)
bench-gps: lib
	$(PYTHON) bench/gps_bench.py --out bench/RESULTS_GPS.md

## bench-features: held-out prediction of gps / hybrid on real MATH prompts vs logistic regression (bench/RESULTS_FEATURES.md)
bench-features: lib
	$(PYTHON) bench/feature_quality.py --seeds 5 --out bench/RESULTS_FEATURES.md

## bench-install: wheel size, import and library load times (static vs dynamic build)
bench-install: dist lib
	$(PYTHON) bench/install_footprint.py --wheel-dir dist --dynamic $(LIB)

clean:
	rm -rf .build .build-static .build-asan .build-tsan .build-fuzz dist examples/c/basic

# Reliability targets, each in its own file: fuzz / fuzz-ci (mk/fuzz.mk),
# sanitize (mk/sanitize.mk).
-include mk/fuzz.mk mk/sanitize.mk
# The CurriculumSampler against real verl 0.7.1 on CPU: test-verl (mk/verl.mk).
-include mk/verl.mk

# verl 0.8 - 0.9.1 route against real verl: test-verl09 (mk/verl09.mk).
-include mk/verl09.mk
