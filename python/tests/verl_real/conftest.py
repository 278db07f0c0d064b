"""The real-verl tests run under `make test-verl`, in the venv venv.sh builds (verl
0.7.1, which sets PROMPTSEL_TEST_VERL=1). Elsewhere (make test-python's interpreter)
they are collected only if verl 0.7.x is installed there, and otherwise ignored.
Nothing here imports verl, torch or hydra at collection time."""

import os
import tempfile
from importlib import metadata

import pytest

REQUIRED = os.environ.get("PROMPTSEL_TEST_VERL") == "1"
try:
    _VERSION = metadata.version("verl")
except metadata.PackageNotFoundError:
    _VERSION = None

if not REQUIRED and not (_VERSION or "").startswith("0.7."):
    collect_ignore_glob = ["test_*.py"]
else:
    # datasets (RLHFDataset reads the parquet with it) caches under ~/.cache otherwise.
    os.environ.setdefault("HF_DATASETS_CACHE", tempfile.mkdtemp(prefix="promptsel-verl-hf-"))


def pytest_configure(config):
    # torchdata 0.11 warns on every StatefulDataLoader it builds.
    config.addinivalue_line("filterwarnings", "ignore:'set_vital' is deprecated:UserWarning")


@pytest.fixture(scope="session", autouse=True)
def _verl_version():
    import verl
    assert verl.__version__ == "0.7.1", f"these tests pin verl 0.7.1, found {verl.__version__}"
