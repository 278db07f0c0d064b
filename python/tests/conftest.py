"""Shared fixtures. The suite runs against the library named by PROMPTSEL_LIB (the
Makefile points it at the release build), or the shim's own search order. With
PROMPTSEL_TEST_INSTALLED=1 (make test-dist) it runs against the promptsel installed
in the running interpreter instead, never the source tree. The conformance vectors
are copies of /work/shared/vectors kept in vectors/."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
PYTHON_DIR = TESTS.parent
REPO = PYTHON_DIR.parent
HEADER = REPO / "include" / "promptsel.h"

INSTALLED = os.environ.get("PROMPTSEL_TEST_INSTALLED") == "1"
#: Under `make sanitize` (ASan / TSan preloaded): memory is not the library's alone and
#: everything runs several times slower, so the heaviest attacks run smaller.
SANITIZED = "ASAN_OPTIONS" in os.environ or "TSAN_OPTIONS" in os.environ

if not INSTALLED and str(PYTHON_DIR) not in sys.path:
    sys.path.insert(0, str(PYTHON_DIR))


@pytest.fixture(scope="session")
def header_text():
    return HEADER.read_text()


@pytest.fixture
def ckpt_dir(tmp_path):
    """An empty directory for checkpoints, distinct per test."""
    d = tmp_path / "ckpt"
    d.mkdir()
    return d


@pytest.fixture
def run_python():
    return _run_python


def _run_python(code, timeout=60, **env):
    """Runs `code` in a fresh interpreter (for anything that could crash this one) and
    returns the CompletedProcess. The child finds the promptsel under test (the source
    tree, or the installed copy) unless `env` overrides PYTHONPATH; an `env` value of
    None removes that variable."""
    child_env = dict(os.environ, SWIFT_BACKTRACE="enable=no")
    if INSTALLED:
        child_env.pop("PYTHONPATH", None)
    else:
        child_env["PYTHONPATH"] = str(PYTHON_DIR)
    for key, value in env.items():
        if value is None:
            child_env.pop(key, None)
        else:
            child_env[key] = str(value)
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=timeout, env=child_env)
