"""The real-verl tests, two sets, each in its own venv built by venv.sh:
- test_verl071_*.py, the config-only CurriculumSampler in verl 0.7.1: `make test-verl`,
  which sets PROMPTSEL_TEST_VERL=1;
- test_verl09_*.py, the `python -m promptsel.verl.main_ppo` route in verl 0.8.0 / 0.9.1:
  `make test-verl09`, which sets PROMPTSEL_VERL_REQUIRED=1.
Elsewhere (make test-python's interpreter) a set is collected only if a verl it is for
is installed there, and otherwise ignored. Nothing here imports verl, torch or hydra at
collection time."""

import os
import tempfile
from importlib import metadata

import pytest

REQUIRED = os.environ.get("PROMPTSEL_TEST_VERL") == "1"
REQUIRED_09 = os.environ.get("PROMPTSEL_VERL_REQUIRED") == "1"
try:
    _VERSION = metadata.version("verl")
except metadata.PackageNotFoundError:
    _VERSION = None

_FOR_07 = REQUIRED or (_VERSION or "").startswith("0.7.")
_FOR_09 = REQUIRED_09 or (_VERSION or "").startswith(("0.8.", "0.9."))
collect_ignore_glob = ([] if _FOR_07 else ["test_verl071*.py"]) + ([] if _FOR_09 else ["test_verl09_*.py"])
if _FOR_07 or _FOR_09:
    # datasets (RLHFDataset reads the parquet with it) caches under ~/.cache otherwise.
    os.environ.setdefault("HF_DATASETS_CACHE", tempfile.mkdtemp(prefix="promptsel-verl-hf-"))


def pytest_configure(config):
    # torchdata 0.11 warns on every StatefulDataLoader it builds.
    config.addinivalue_line("filterwarnings", "ignore:'set_vital' is deprecated:UserWarning")


@pytest.fixture(scope="module", autouse=True)
def _verl_version(request):
    if "verl071" in request.module.__name__:
        import verl
        assert verl.__version__ == "0.7.1", f"these tests pin verl 0.7.1, found {verl.__version__}"
