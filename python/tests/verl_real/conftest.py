"""The real-verl tests (make test-verl) run only in the venv venv.sh builds, with
verl 0.7.1 installed: elsewhere (make test-python's system interpreter) this folder
is not collected. Nothing here imports verl, torch or hydra at collection time."""

import importlib.util
import os
import tempfile

import pytest

_VERL = importlib.util.find_spec("verl") is not None and importlib.util.find_spec("hydra") is not None
if not _VERL:
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
