# test-verl09: the verl 0.8 - 0.9.1 route (python -m promptsel.verl.main_ppo) against real
# verl on CPU, 0.9.1 by default (VERL09=0.8.0 for the pre-0.9 layout). The venv (CPU torch
# from pip's local find-links, never a CUDA download) is built once under ~/.cache/promptsel
# by python/tests/verl_real/venv.sh and reused while that script is unchanged. pytest runs
# as test-verl's does (mk/verl.mk: rootdir and confcutdir the test folder, a temporary HF
# datasets cache). Part of `make test` (0.9.1).
.PHONY: test-verl09
VERL09 ?= 0.9.1

## test-verl09: the verl 0.8 - 0.9.1 entry point against real verl (VERL09=0.9.1|0.8.0) on CPU (venv built once, ~4 min; tests ~1.5 min)
test-verl09: lib
	@py=$$($(SHELL) python/tests/verl_real/venv.sh $(VERL09) | tail -n 1); \
	hf=$$(mktemp -d); trap 'rm -rf "$$hf"' EXIT; \
	cd python/tests/verl_real && env PYTHONPATH=$(abspath python) PROMPTSEL_LIB=$(abspath $(LIB)) \
	  HF_DATASETS_CACHE="$$hf" PROMPTSEL_VERL_REQUIRED=1 PYTHONDONTWRITEBYTECODE=1 \
	  "$$py" -m pytest -q -p no:cacheprovider --disable-warnings \
	  --rootdir=$(abspath python/tests/verl_real) --confcutdir=$(abspath python/tests/verl_real) \
	  test_verl09_route.py test_verl09_fit.py
