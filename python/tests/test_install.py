"""The installed package: `python -m promptsel` for C/C++ consumers (in every run), and
the wheel itself (under `make test-dist`, which installs it into a fresh virtualenv
outside the tree and hides the Swift toolchain's runtime)."""

import os
import re
import shutil
import subprocess
import sys
import zipfile
from email.parser import Parser
from importlib import metadata
from pathlib import Path

import pytest

import promptsel
from promptsel import _native

from conftest import INSTALLED, REPO

EXAMPLE = REPO / "examples" / "c" / "basic.c"
WHEEL = os.environ.get("PROMPTSEL_TEST_WHEEL")
RUNTIME_HIDDEN = os.environ.get("PROMPTSEL_TEST_RUNTIME_HIDDEN") == "1"
installed_only = pytest.mark.skipif(not INSTALLED, reason="checks the installed wheel: runs under `make test-dist`")
needs_cc = pytest.mark.skipif(shutil.which("cc") is None, reason="needs a C compiler")


def _cli(*args):
    r = subprocess.run([sys.executable, "-m", "promptsel", *args], capture_output=True, text=True, timeout=60,
                       env={k: v for k, v in os.environ.items() if not (INSTALLED and k == "PYTHONPATH")}
                       if INSTALLED else dict(os.environ, PYTHONPATH=str(REPO / "python")))
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def test_cli_names_the_loaded_library_and_its_header():
    assert _cli("--version") == promptsel.__version__
    assert Path(_cli("--library")) == Path(_native.lib._name)
    include = Path(_cli("--includedir"))
    assert (include / "promptsel.h").is_file()
    assert _cli("--cflags") == f"-I{include}"
    libdir = _cli("--libdir")
    assert _cli("--libs") == f"-L{libdir} -Wl,-rpath,{libdir} -lpromptsel"
    if INSTALLED:  # the wheel's own copies, not the checkout's
        assert include == Path(promptsel.__file__).parent / "include"
        assert Path(libdir) == Path(promptsel.__file__).parent


@needs_cc
def test_c_example_builds_against_the_cli_flags(tmp_path):
    exe = tmp_path / "basic"
    cmd = ["cc", "-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", *_cli("--cflags").split(), str(EXAMPLE),
           "-o", str(exe), *_cli("--libs").split()]
    subprocess.run(cmd, check=True)
    r = subprocess.run([str(exe)], capture_output=True, text=True, timeout=60,
                       env={k: v for k, v in os.environ.items() if k != "LD_LIBRARY_PATH"})
    assert r.returncode == 0, r.stderr


@installed_only
@needs_cc
@pytest.mark.skipif(shutil.which("pkg-config") is None, reason="needs pkg-config")
def test_c_example_builds_with_pkg_config(tmp_path):
    pcdir = _cli("--pkgconfigdir")
    env = dict(os.environ, PKG_CONFIG_PATH=pcdir)
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", "promptsel"], capture_output=True, text=True,
                           env=env, check=True).stdout.split()
    version = subprocess.run(["pkg-config", "--modversion", "promptsel"], capture_output=True, text=True,
                             env=env, check=True).stdout.strip()
    assert version == promptsel.__version__
    exe = tmp_path / "basic"
    subprocess.run(["cc", "-std=c99", str(EXAMPLE), "-o", str(exe), *flags], check=True)
    assert subprocess.run([str(exe)], capture_output=True, timeout=60).returncode == 0


# ---- the wheel (make test-dist) ------------------------------------------------------


@installed_only
def test_the_package_under_test_is_the_installed_one():
    package = Path(promptsel.__file__).resolve().parent
    assert REPO not in package.parents, f"imported from the source tree: {package}"
    assert Path(sys.prefix) in package.parents
    assert Path(_native.lib._name) == package / "libpromptsel.so"
    assert metadata.version("promptsel") == promptsel.__version__


@installed_only
def test_bundled_library_needs_no_swift_runtime():
    ldd = subprocess.run(["ldd", _native.lib._name], capture_output=True, text=True, check=True).stdout
    assert "swift" not in ldd.lower(), ldd
    assert "not found" not in ldd, ldd


@pytest.mark.skipif(not (INSTALLED and RUNTIME_HIDDEN),
                    reason="runs under `make test-dist` where the Swift runtime can be hidden (unshare)")
def test_swift_runtime_is_really_hidden_and_a_dynamic_build_says_so(run_python):
    import ctypes
    with pytest.raises(OSError):
        ctypes.CDLL("libswiftCore.so")
    dynamic = os.environ.get("PROMPTSEL_TEST_DYNAMIC_LIB")
    if dynamic and Path(dynamic).is_file():
        r = run_python("import promptsel", PROMPTSEL_LIB=dynamic)
        assert r.returncode != 0 and "needs the Swift runtime" in r.stderr, r.stderr


def _wheel_file(name):
    with zipfile.ZipFile(WHEEL) as z:
        member = next(n for n in z.namelist() if n.endswith(name))
        return z.read(member)


@installed_only
def test_wheel_is_a_platform_wheel_tagged_with_the_glibc_it_needs():
    wheel = Parser().parsestr(_wheel_file(".dist-info/WHEEL").decode())
    assert wheel["Root-Is-Purelib"] == "false"
    [tag] = wheel.get_all("Tag")
    m = re.fullmatch(r"py3-none-manylinux_(\d+)_(\d+)_(x86_64|aarch64)", tag)
    assert m, tag
    assert Path(WHEEL).name.endswith(f"-{tag}.whl")
    # What the bundled library really needs, read from its version-needs table.
    dyn = subprocess.run(["objdump", "-T", _native.lib._name], capture_output=True, text=True, check=True).stdout
    glibc = max(tuple(int(x) for x in v.split(".")) for v in re.findall(r"\bGLIBC_(\d+\.\d+(?:\.\d+)?)", dyn))
    assert (int(m.group(1)), int(m.group(2))) == glibc[:2], f"tag {tag} but the library needs GLIBC_{glibc}"
    glibcxx = max((tuple(int(x) for x in v.split(".")) for v in re.findall(r"\bGLIBCXX_([\d.]+\d)", dyn)),
                  default=())
    # manylinux_2_34 (RHEL 9, GCC 11) provides libstdc++ up to GLIBCXX_3.4.29.
    assert glibcxx <= (3, 4, 29), glibcxx
    if shutil.which("auditwheel"):
        shown = subprocess.run(["auditwheel", "show", WHEEL], capture_output=True, text=True, check=True).stdout
        assert f'"{tag.split("-")[-1]}"' in " ".join(shown.split()), shown


@installed_only
def test_wheel_metadata_version_is_the_libraries():
    meta = Parser().parsestr(_wheel_file(".dist-info/METADATA").decode())
    assert meta["Version"] == promptsel.__version__
    assert meta.get_all("Requires-Dist")[0].startswith("numpy")


def test_an_older_library_of_the_same_abi_is_a_load_error_naming_what_it_lacks():
    """Functions are added within an ABI version, so an older build of the same ABI
    lacks some: the loader says which and how to fix it, not an AttributeError."""
    import types as _types
    from promptsel import _native
    from promptsel.errors import LibraryLoadError
    present = {name: object() for name in list(_native._SIGNATURES)[:-1]}
    old = _types.SimpleNamespace(_name="libpromptsel.so.old", **present)
    with pytest.raises(LibraryLoadError, match=list(_native._SIGNATURES)[-1]):
        _native._declare(old)
