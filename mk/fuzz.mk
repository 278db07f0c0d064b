# Fuzzing (included by the Makefile; see Tests/Fuzz/README.md).
#
#   make fuzz              every harness for FUZZ_SECONDS (60) each; fails on any finding
#   make fuzz-ci           fuzz-regressions, then every harness for FUZZ_CI_SECONDS (15)
#   make fuzz-regressions  every harness over Tests/Fuzz/regressions/ once
#   make fuzz-<harness>    one harness: fuzz-from_bytes, fuzz-load, fuzz-features, fuzz-json
#   make fuzz-build        the sanitized library, the harnesses, the atheris venv, the seeds
#   make fuzz-clean        forget the build, corpora and findings (keeps nothing under .build-fuzz)
#
# Harnesses: Tests/Fuzz/fuzz_from_bytes.c, fuzz_load.c and fuzz_features.c (set_features
# input of gps / hybrid, then the exercise) are libFuzzer targets built
# with the toolchain's clang (-fsanitize=fuzzer,address,undefined) against a build of
# the library with ASan and libFuzzer's coverage instrumentation (swiftc
# -sanitize=fuzzer,address: inline 8-bit counters, PC table and comparison tracing in
# the Swift code, so libFuzzer sees the decoder's branches); Tests/Fuzz/checkpoint_mutator.c
# is the checkpoint harnesses' structure-aware mutator. Tests/Fuzz/fuzz_json_importers.py is an atheris
# target over the Python importers, against the release library.
#
# Everything lives under .build-fuzz/ (gitignored): the library (scratch path), bin/,
# seeds/ (regenerated each run), corpus/<harness>/ (kept between runs: coverage carries
# over), findings/<harness>/ (crash inputs of the last run), summary/ (logs, numbers).

FUZZ_SECONDS    ?= 60
FUZZ_CI_SECONDS ?= 15
FUZZ_TIMEOUT    ?= 10
# A regression input runs in milliseconds once its bug is fixed.
FUZZ_REGRESS_TIMEOUT ?= 5
# C harnesses in libFuzzer's fork mode: one run collects every finding (fuzz-ci: 0,
# stop at the first, no overshoot of the time budget).
FUZZ_FORK       ?= 1
FUZZ_MAX_LEN    ?= 32768
FUZZ_DIR        := .build-fuzz
FUZZ_LIB        := $(FUZZ_DIR)/release/libpromptsel.so
FUZZ_BIN        := $(FUZZ_DIR)/bin
FUZZ_VENV       := .venv-fuzz
FUZZ_ATHERIS    ?= atheris==3.0.0
FUZZ_SRC        := Tests/Fuzz
FUZZ_HARNESSES  := from_bytes load features json
FUZZ_C_HARNESSES := from_bytes load features
# Swift: libFuzzer coverage and ASan. (swiftc on Linux has no -sanitize=undefined; Swift
# traps on overflow and bounds by itself, which libFuzzer reports as a deadly signal.)
FUZZ_SWIFTFLAGS ?= -Xswiftc -sanitize=fuzzer,address
# The toolchain's clang (libFuzzer runtime included), beside the swift driver.
FUZZ_CC ?= $(or $(wildcard $(dir $(realpath $(shell command -v $(SWIFT) 2>/dev/null)))clang),clang)
FUZZ_CFLAGS ?= -g -O1 -std=c11 -D_DEFAULT_SOURCE -Wall -Wextra -Werror \
               -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
FUZZ_LDFLAGS ?= $(if $(wildcard $(dir $(FUZZ_CC))ld.lld),-fuse-ld=lld)
FUZZ_RUN := $(PYTHON) $(FUZZ_SRC)/fuzz_run.py
FUZZ_COMMON_SRC := $(FUZZ_SRC)/fuzz_common.c $(FUZZ_SRC)/checkpoint_mutator.c
# The structure-aware mutator is for checkpoint inputs only.
FUZZ_LINK_from_bytes := $(FUZZ_COMMON_SRC)
FUZZ_LINK_load       := $(FUZZ_COMMON_SRC)
FUZZ_LINK_features   := $(FUZZ_SRC)/fuzz_common.c
FUZZ_COMMON_HDR := $(FUZZ_SRC)/fuzz_common.h $(FUZZ_SRC)/checkpoint_frame.h include/promptsel.h

# How each harness runs: its command and kind, seeds, dictionary.
FUZZ_CMD_from_bytes := $(FUZZ_BIN)/fuzz_from_bytes
FUZZ_CMD_load       := $(FUZZ_BIN)/fuzz_load
FUZZ_CMD_features   := $(FUZZ_BIN)/fuzz_features
FUZZ_CMD_json       := $(FUZZ_VENV)/bin/python $(FUZZ_SRC)/fuzz_json_importers.py
FUZZ_KIND_from_bytes := c
FUZZ_KIND_load       := c
FUZZ_KIND_features   := c
FUZZ_KIND_json       := python
FUZZ_SEEDS_from_bytes := checkpoint
FUZZ_SEEDS_load       := checkpoint
FUZZ_SEEDS_features   := features
FUZZ_SEEDS_json       := json
FUZZ_DICT_from_bytes := $(FUZZ_SRC)/checkpoint.dict
FUZZ_DICT_load       := $(FUZZ_SRC)/checkpoint.dict
FUZZ_DICT_features   := $(FUZZ_SRC)/features.dict
FUZZ_DICT_json       := $(FUZZ_SRC)/json.dict

.PHONY: fuzz fuzz-ci fuzz-regressions fuzz-build fuzz-lib fuzz-venv fuzz-seeds fuzz-clean \
        $(addprefix fuzz-,$(FUZZ_HARNESSES)) $(addprefix fuzz-regress-,$(FUZZ_HARNESSES))

## fuzz: every harness for FUZZ_SECONDS each; fails on any crash, leak, timeout or Python finding
fuzz: fuzz-build
	@rm -f $(FUZZ_DIR)/summary/*.json
	@rc=0; for h in $(FUZZ_HARNESSES); do \
	  $(MAKE) --no-print-directory fuzz-run-$$h FUZZ_RUN_SECONDS=$(FUZZ_SECONDS) || rc=1; done; \
	$(FUZZ_RUN) summary $(FUZZ_DIR)/summary || rc=1; \
	[ $$rc = 0 ] || echo "fuzz: FINDINGS: crash inputs are in $(FUZZ_DIR)/findings/<harness>/"; exit $$rc

## fuzz-ci: the regression inputs, then every harness for FUZZ_CI_SECONDS (CI; a few minutes with builds)
fuzz-ci: fuzz-build
	@rm -f $(FUZZ_DIR)/summary/*.json
	@start=$$(date +%s); rc=0; \
	$(MAKE) --no-print-directory fuzz-regressions || rc=1; \
	for h in $(FUZZ_HARNESSES); do \
	  $(MAKE) --no-print-directory fuzz-run-$$h FUZZ_RUN_SECONDS=$(FUZZ_CI_SECONDS) FUZZ_FORK=0 || rc=1; done; \
	$(FUZZ_RUN) summary $(FUZZ_DIR)/summary || rc=1; \
	echo "fuzz-ci: $$(( $$(date +%s) - start )) s after the builds"; exit $$rc

## fuzz-<harness>: one harness for FUZZ_SECONDS
$(addprefix fuzz-,$(FUZZ_HARNESSES)): fuzz-%: fuzz-build
	@$(MAKE) --no-print-directory fuzz-run-$* FUZZ_RUN_SECONDS=$(FUZZ_SECONDS)

fuzz-run-%:
	@$(FUZZ_RUN) fuzz --name $* --kind $(FUZZ_KIND_$*) --seconds $(FUZZ_RUN_SECONDS) \
	  --corpus $(FUZZ_DIR)/corpus/$* --seeds $(FUZZ_DIR)/seeds/$(FUZZ_SEEDS_$*) \
	  --findings $(FUZZ_DIR)/findings/$* --summary $(FUZZ_DIR)/summary \
	  --dict $(FUZZ_DICT_$*) --max-len $(FUZZ_MAX_LEN) --timeout $(FUZZ_TIMEOUT) --fork $(FUZZ_FORK) -- $(FUZZ_CMD_$*)

## fuzz-regressions: every harness over Tests/Fuzz/regressions/ once (a fixed bug stays fixed)
fuzz-regressions: fuzz-build
	@rc=0; for h in $(FUZZ_HARNESSES); do \
	  $(MAKE) --no-print-directory fuzz-regress-$$h || rc=1; done; exit $$rc

$(addprefix fuzz-regress-,$(FUZZ_HARNESSES)): fuzz-regress-%:
	@$(FUZZ_RUN) regress --name $* --kind $(FUZZ_KIND_$*) --timeout $(FUZZ_REGRESS_TIMEOUT) \
	  --inputs $(FUZZ_SRC)/regressions/$(FUZZ_SEEDS_$*) -- $(FUZZ_CMD_$*)

## fuzz-build: everything the harnesses need (incremental)
fuzz-build: fuzz-lib $(addprefix $(FUZZ_BIN)/fuzz_,$(FUZZ_C_HARNESSES)) fuzz-venv fuzz-seeds

# SwiftPM decides what to rebuild; the harnesses relink only when the .so changed.
fuzz-lib:
	$(SWIFT) build -c release --product promptsel --scratch-path $(FUZZ_DIR) $(FUZZ_SWIFTFLAGS)

$(FUZZ_LIB): fuzz-lib

$(FUZZ_BIN)/fuzz_%: $(FUZZ_SRC)/fuzz_%.c $(FUZZ_COMMON_SRC) $(FUZZ_COMMON_HDR) $(FUZZ_LIB)
	@mkdir -p $(FUZZ_BIN)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_LDFLAGS) -Iinclude $< $(FUZZ_LINK_$*) \
	  -L$(abspath $(dir $(FUZZ_LIB))) -lpromptsel -Wl,-rpath,$(abspath $(dir $(FUZZ_LIB))) -o $@

fuzz-venv: $(FUZZ_VENV)/.atheris

# A private venv with the system's site-packages (numpy) and atheris.
$(FUZZ_VENV)/.atheris:
	$(PYTHON) -m venv --system-site-packages $(FUZZ_VENV)
	$(FUZZ_VENV)/bin/python -m pip install -q --disable-pip-version-check "$(FUZZ_ATHERIS)"
	@touch $@

# Seeds: regenerated from the release library at every run (under a second).
fuzz-seeds: lib
	$(PYTHON) $(FUZZ_SRC)/gen_corpus.py $(FUZZ_DIR)/seeds

fuzz-clean:
	rm -rf $(FUZZ_DIR) $(FUZZ_VENV)
