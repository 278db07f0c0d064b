# make test-verl: promptsel.verl.CurriculumSampler against REAL verl 0.7.1 on CPU.
#
# python/tests/verl_real/venv.sh builds (once, about 3 minutes; later runs reuse it) a
# virtualenv under $(PROMPTSEL_VERL_VENVS) (default ~/.cache/promptsel) holding
# verl==0.7.1 and what its sampler path imports, with the CPU torch wheel from pip's
# local find-links. Without that wheel it stops and says so instead of letting pip
# download a multi-GB CUDA build. Then pytest runs in that venv over
# python/tests/verl_real/test_verl071*.py against this checkout's python/ and the
# freshly built release library.
#
# pytest runs with the test folder as rootdir and confcutdir and no cache provider:
# the verl wheel installs a top-level `tests` package into site-packages, and
# python/tests/conftest.py (the system-python suite's) has nothing to do here. The
# main suite (make test-python) does not collect verl_real: its conftest ignores the
# tests unless PROMPTSEL_TEST_VERL=1 (set here) or verl 0.7.x is installed. HF
# datasets' cache goes to a temporary folder, removed afterwards.

VERL_VERSION ?= 0.7.1
VERL_TESTS   := python/tests/verl_real
VERL_PYTEST  ?= -q

.PHONY: test-verl test-verl-venv

## test-verl: the CurriculumSampler inside real verl 0.7.1 on CPU (a cached venv; builds it once)
test-verl: lib
	@py=$$($(SHELL) $(VERL_TESTS)/venv.sh $(VERL_VERSION) | tail -n 1); \
	hf=$$(mktemp -d); trap 'rm -rf "$$hf"' EXIT; \
	cd $(VERL_TESTS) && env PYTHONPATH=$(abspath python) PROMPTSEL_LIB=$(abspath $(LIB)) \
	  HF_DATASETS_CACHE="$$hf" PROMPTSEL_TEST_VERL=1 PYTHONDONTWRITEBYTECODE=1 \
	  "$$py" -m pytest $(VERL_PYTEST) -p no:cacheprovider -W ignore::DeprecationWarning \
	  --rootdir=$(abspath $(VERL_TESTS)) --confcutdir=$(abspath $(VERL_TESTS)) test_verl071*.py

## test-verl-venv: only build (or find) the verl venv; prints its python
test-verl-venv:
	@$(SHELL) $(VERL_TESTS)/venv.sh $(VERL_VERSION)
