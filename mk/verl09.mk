# test-verl09: the verl 0.8 - 0.9.1 route (python -m promptsel.verl.main_ppo) against real
# verl on CPU, 0.9.1 by default (VERL09=0.8.0 for the pre-0.9 layout). The venv (CPU torch
# from pip's local find-links, never a CUDA download) is built once under ~/.cache/promptsel
# by python/tests/verl_real/venv.sh and reused while that script is unchanged.
# Not part of `make test`.
.PHONY: test-verl09
VERL09 ?= 0.9.1

## test-verl09: the verl 0.8 - 0.9.1 entry point against real verl (VERL09=0.9.1|0.8.0) on CPU (venv built once, ~4 min; tests ~1.5 min)
test-verl09: lib
	@py=$$(bash python/tests/verl_real/venv.sh $(VERL09) | tail -n1); \
	PROMPTSEL_VERL_REQUIRED=1 "$$py" -m pytest -q -p no:cacheprovider --disable-warnings \
	  python/tests/verl_real/test_verl09_route.py python/tests/verl_real/test_verl09_fit.py
