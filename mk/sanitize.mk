# make sanitize: the Swift tests, the C example and the pytest suite under ASan + UBSan,
# then again under TSan. Any sanitizer report fails the run, and so does a canary (a
# deliberate bug, Tests/Sanitizers/canary.*) that is NOT reported: a sanitizer that
# went silent cannot pass.
#
#   make sanitize             both, ASan + UBSan first (each builds in its own scratch path)
#   make sanitize-asan        ASan + UBSan only: .build-asan
#   make sanitize-tsan        TSan only:         .build-tsan
#   make sanitize-lock-cost   what the handle's lock costs, on the release library
#
# What runs, per sanitizer, in this order:
#   1. swift build --build-tests with the sanitizer (the tests and libpromptsel.so);
#   2. swift test --disable-xctest (Swift Testing), leak detection on;
#   3. the C example, compiled with the same -fsanitize, against the sanitized library;
#   4. the canaries: C (race / overflow, leak, overflow-int), Swift (race, a test enabled by
#      PROMPTSEL_SANITIZER_CANARY), Python (race / overflow), each expected to be caught;
#   5. pytest: python/tests (test_handle_lock.py: raw calls on one handle) against the
#      sanitized .so (PROMPTSEL_LIB), the sanitizer runtime preloaded into Python.
#
# UBSan: swiftc refuses -sanitize=undefined on Linux (Swift 6.3.1 looks for a
# libclang_rt.ubsan runtime that LLVM now ships as ubsan_standalone); it would add no
# checks to Swift code anyway, whose overflow, bounds and unwrap checks are always on.
# UBSan therefore covers the C that runs: the library's C target, the C example, the
# canaries and the programs the tests compile; its handlers come with the ASan runtime.
#
# Sanitizer options, and why:
#   ASAN_OPTIONS   detect_leaks=1 for the Swift tests, the C example and canaries;
#                  detect_leaks=0 for pytest only: CPython and numpy keep their own
#                  allocations to the end, which LeakSanitizer would list by thousands.
#                  detect_stack_use_after_return=1: a pointer kept past
#                  withUnsafe...Pointer (the C layer's trade) is caught.
#   UBSAN_OPTIONS  halt_on_error=1, print_stacktrace=1 (with -fno-sanitize-recover).
#   TSAN_OPTIONS   defaults (report all, exit 66 at the end), second_deadlock_stack=1;
#                  halt_on_error=1 for canary.py race only, which loops until reported.
#   pytest runs add log_path=<scratch>/sanitizer-logs/NAME: some tests run Python or C
#   children and expect them to fail, so a report there must not hide behind an
#   expected exit status; any file in that directory fails the run.
# The children pytest starts inherit the environment: Python children load the same
# sanitized library with the same preload; `cc` is Tests/Sanitizers/bin/cc, which
# compiles with the same -fsanitize and the shared runtime, and runs the compiler
# itself without the preload.
#
# TSan: the handle's lock is a pthread_mutex_t (Sources/PromptSel/SelectorHandle.swift
# says why), so TSan sees it without suppressions. The Swift tests run with
# --no-parallel, so that "concurrent calls on one handle are serialized" has the
# cooperative pool to itself and its tasks really run on two threads at once (with
# tests in parallel it was sometimes left a single thread, and checked nothing).
# Tests/Sanitizers/swift_tsan_hook.c is preloaded into Python, after the TSan runtime,
# so that the Swift runtime's own TSan annotations (swift_once) are switched on in a
# process that loads it late.

.PHONY: sanitize sanitize-asan sanitize-tsan sanitize-lock-cost

sanitize: sanitize-asan sanitize-tsan

# ---- toolchain (recursively expanded: worked out only when a sanitize target runs) ----
SAN_BIN         = $(dir $(realpath $(shell command -v $(SWIFT))))
SAN_CC          = $(SAN_BIN)clang
SAN_RT          = $(shell $(SAN_CC) -print-resource-dir)/lib/linux
SAN_SWIFT_RT    = $(realpath $(SAN_BIN)../lib/swift/linux)
SAN_SYMBOLIZER  = $(SAN_BIN)llvm-symbolizer
# The interpreter itself, not a shim script (pyenv's would run under the preload too).
SAN_PYTHON      = $(shell $(PYTHON) -c 'import sys; print(sys.executable)')
SAN_TOOLS      := $(abspath Tests/Sanitizers)
SAN_EXPECT      = $(SAN_TOOLS)/expect-report
SAN_OPTS_COMMON = external_symbolizer_path=$(SAN_SYMBOLIZER)
SAN_C_STRICT   := -std=c99 -Wall -Wextra -Werror -pedantic

# ---- per sanitizer (target-specific: the one recipe below serves both) ----
sanitize-asan: SAN_DIR         := .build-asan
sanitize-asan: SAN_SWIFTFLAGS  := --sanitize=address -Xcc -fsanitize=undefined \
                                  -Xcc -fno-sanitize-recover=undefined -Xswiftc -use-ld=lld
sanitize-asan: SAN_TESTFLAGS   :=
sanitize-asan: SAN_FSANITIZE   := -fsanitize=address,undefined -fno-sanitize-recover=undefined
sanitize-asan: SAN_PRELOAD      = $(SAN_RT)/libclang_rt.asan-x86_64.so
sanitize-asan: SAN_ENV          = SWIFT_BACKTRACE=enable=no ASAN_OPTIONS=$(SAN_OPTS_COMMON):halt_on_error=1:detect_leaks=1:detect_stack_use_after_return=1 \
                                  UBSAN_OPTIONS=$(SAN_OPTS_COMMON):halt_on_error=1:print_stacktrace=1
sanitize-asan: SAN_PYTEST_ENV   = SWIFT_BACKTRACE=enable=no ASAN_OPTIONS=$(SAN_OPTS_COMMON):halt_on_error=1:detect_leaks=0:detect_stack_use_after_return=1:log_path=$(SAN_LOGS)/asan \
                                  UBSAN_OPTIONS=$(SAN_OPTS_COMMON):halt_on_error=1:print_stacktrace=1:log_path=$(SAN_LOGS)/ubsan
sanitize-asan: SAN_C_CANARIES  := overflow:'SUMMARY: AddressSanitizer: heap-buffer-overflow .*/Sources/PromptSel/' \
                                  leak:'ERROR: LeakSanitizer: detected memory leaks' \
                                  overflow-int:'runtime error: signed integer overflow'
sanitize-asan: SAN_PY_CANARY_ENV = $(SAN_ENV)
sanitize-asan: SAN_PY_CANARIES := overflow:'SUMMARY: AddressSanitizer: heap-buffer-overflow .*/Sources/PromptSel/'
sanitize-asan: SAN_SWIFT_CANARY :=

sanitize-tsan: SAN_DIR         := .build-tsan
sanitize-tsan: SAN_SWIFTFLAGS  := --sanitize=thread -Xswiftc -use-ld=lld
sanitize-tsan: SAN_TESTFLAGS   := --no-parallel
sanitize-tsan: SAN_FSANITIZE   := -fsanitize=thread
# The TSan runtime of this toolchain has libdispatch interceptors: it needs libdispatch.
sanitize-tsan: SAN_PRELOAD      = $(SAN_RT)/libclang_rt.tsan-x86_64.so $(SAN_SWIFT_RT)/libdispatch.so \
                                  $(abspath $(SAN_DIR))/libswift_tsan_hook.so
sanitize-tsan: SAN_ENV          = SWIFT_BACKTRACE=enable=no TSAN_OPTIONS=$(SAN_OPTS_COMMON):second_deadlock_stack=1
sanitize-tsan: SAN_PYTEST_ENV   = SWIFT_BACKTRACE=enable=no TSAN_OPTIONS=$(SAN_OPTS_COMMON):second_deadlock_stack=1:log_path=$(SAN_LOGS)/tsan
# canary.py race repeats its rounds until a deadline; the first report must end it.
sanitize-tsan: SAN_PY_CANARY_ENV = SWIFT_BACKTRACE=enable=no TSAN_OPTIONS=$(SAN_OPTS_COMMON):second_deadlock_stack=1:halt_on_error=1
sanitize-tsan: SAN_C_CANARIES  := race:'SUMMARY: ThreadSanitizer: data race .*/Sources/PromptSel/'
sanitize-tsan: SAN_PY_CANARIES := race:'SUMMARY: ThreadSanitizer: data race .*/Sources/PromptSel/'
sanitize-tsan: SAN_SWIFT_CANARY := 'SUMMARY: ThreadSanitizer: .*race .*/Sources/PromptSelCore/'

SAN_LOGS    = $(abspath $(SAN_DIR))/sanitizer-logs
SAN_LIBDIR  = $(abspath $(SAN_DIR))/debug
SAN_CFLAGS  = -g -fno-omit-frame-pointer $(SAN_FSANITIZE) -shared-libsan -fuse-ld=lld -Wl,-rpath,$(SAN_RT)
# What pytest and the Python canary run with.
SAN_PY_ENV  = PROMPTSEL_LIB=$(SAN_LIBDIR)/libpromptsel.so LD_PRELOAD="$(SAN_PRELOAD)" \
              PATH="$(SAN_TOOLS)/bin:$$PATH" PROMPTSEL_SAN_CC=$(SAN_CC) PROMPTSEL_SAN_CFLAGS="$(SAN_CFLAGS)"

sanitize-tsan: .build-tsan/libswift_tsan_hook.so

.build-tsan/libswift_tsan_hook.so: Tests/Sanitizers/swift_tsan_hook.c
	@mkdir -p $(@D)
	$(SAN_CC) -shared -fPIC -O1 -Wall -Wextra -Werror $< -o $@ -ldl

sanitize-asan sanitize-tsan:
	@echo "== $@: swift build ($(SAN_DIR))  [$$(date +%T)]"
	$(SWIFT) build --build-tests $(SAN_SWIFTFLAGS) --scratch-path $(SAN_DIR)
	@echo "== $@: swift test  [$$(date +%T)]"
	env $(SAN_ENV) $(SWIFT) test --disable-xctest $(SAN_TESTFLAGS) $(SAN_SWIFTFLAGS) --scratch-path $(SAN_DIR)
	@echo "== $@: the C example  [$$(date +%T)]"
	$(SAN_CC) $(SAN_C_STRICT) $(SAN_CFLAGS) -Iinclude examples/c/basic.c -o $(SAN_DIR)/basic \
	    -L$(SAN_LIBDIR) -lpromptsel -Wl,-rpath,$(SAN_LIBDIR)
	cd $(SAN_DIR) && env $(SAN_ENV) ./basic > basic.out
	@echo "C example: ran clean ($(SAN_DIR)/basic.out)"
	@echo "== $@: canaries (each must be reported)  [$$(date +%T)]"
	$(SAN_CC) $(SAN_C_STRICT) $(SAN_CFLAGS) -Iinclude Tests/Sanitizers/canary.c -o $(SAN_DIR)/canary \
	    -L$(SAN_LIBDIR) -lpromptsel -Wl,-rpath,$(SAN_LIBDIR) -lpthread
	@for c in $(SAN_C_CANARIES); do \
	  $(SAN_EXPECT) "$${c#*:}" -- env $(SAN_ENV) $(SAN_DIR)/canary "$${c%%:*}" || exit 1; done
	$(if $(SAN_SWIFT_CANARY),$(SAN_EXPECT) $(SAN_SWIFT_CANARY) -- env $(SAN_ENV) PROMPTSEL_SANITIZER_CANARY=race \
	    $(SWIFT) test --disable-xctest $(SAN_SWIFTFLAGS) --scratch-path $(SAN_DIR) --filter SanitizerCanaryTests)
	@for c in $(SAN_PY_CANARIES); do \
	  $(SAN_EXPECT) "$${c#*:}" -- env $(SAN_PY_CANARY_ENV) $(SAN_PY_ENV) $(SAN_PYTHON) Tests/Sanitizers/canary.py "$${c%%:*}" \
	  || exit 1; done
	@echo "== $@: pytest against $(SAN_LIBDIR)/libpromptsel.so  [$$(date +%T)]"
	rm -rf $(SAN_LOGS) && mkdir -p $(SAN_LOGS)
	status=0; env $(SAN_PYTEST_ENV) $(SAN_PY_ENV) $(SAN_PYTHON) -m pytest -q -p no:cacheprovider \
	    python/tests || status=$$?; \
	if [ -n "$$(ls -A $(SAN_LOGS))" ]; then \
	  echo "$@: sanitizer reports in $(SAN_LOGS):" >&2; cat $(SAN_LOGS)/* >&2; status=1; fi; \
	exit $$status
	@echo "== $@: clean (no sanitizer report; every canary caught)  [$$(date +%T)]"

## sanitize-lock-cost: the handle lock's cost on a select+update step of 4096 candidates (release build)
sanitize-lock-cost: lib
	$(CC) -O2 $(SAN_C_STRICT) -Iinclude Tests/Sanitizers/lock_cost.c -o .build/release/lock_cost \
	    -L$(BIN) -lpromptsel -Wl,-rpath,$(abspath $(BIN)) -lpthread
	./.build/release/lock_cost mopps
	./.build/release/lock_cost dps
