"""The shim against the header (versions, signatures, struct layouts, loader) and
the Selector API's behaviour on valid input."""

import ctypes
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tomllib

import promptsel
from promptsel import _constants, _native, errors
from promptsel._native import lib

PYTHON_DIR = Path(__file__).resolve().parents[1]
REPO = PYTHON_DIR.parent
INCLUDE = REPO / "include"
HEADER = INCLUDE / "promptsel.h"

# ---- Header fidelity ---------------------------------------------------------------


def _macro(text, name):
    m = re.search(rf"^#define\s+{name}\s+\(?(-?\d+)\)?", text, re.M)
    assert m, f"{name} not in the header"
    return int(m.group(1))


def _type(decl, named):
    """A C declaration's type, spelled `const T **`; `named` drops the parameter name."""
    words = decl.replace("*", " ").split()
    stars = decl.count("*")
    return " ".join(words[:-1] if named else words) + (" " + "*" * stars if stars else "")


def _declarations(text):
    """(name, return type, [parameter types]) of every function in the header."""
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    out = []
    for m in re.finditer(r"^[ \t]*((?:const\s+)?\w+[\s*]*?)\s*\b(promptsel_\w+)\s*\(([^)]*)\)\s*;", text, re.M):
        ret, name, params = m.groups()
        types = [] if params.strip() == "void" else [_type(p, named=True) for p in params.split(",")]
        out.append((name, _type(ret, named=False), types))
    return out


def _ctype(c_type):
    """The ctypes type the shim must use for a header type."""
    scalars = {"int": ctypes.c_int, "int32_t": ctypes.c_int32, "uint32_t": ctypes.c_uint32,
               "size_t": ctypes.c_size_t, "double": ctypes.c_double, "void": None,
               "const char *": ctypes.c_char_p, "char *": ctypes.c_char_p}
    pointers = {"size_t *": ctypes.POINTER(ctypes.c_size_t),
                "promptsel_selector *": _native.SelectorPtr,
                "const promptsel_selector *": _native.SelectorPtr,
                "promptsel_selector **": ctypes.POINTER(_native.SelectorPtr)}
    arrays = {"int64_t": np.int64, "double": np.float64, "uint8_t": np.uint8, "int32_t": np.int32,
              "float": np.float32, "size_t": np.uintp}
    if c_type in scalars:
        return scalars[c_type]
    if c_type in pointers:
        return pointers[c_type]
    const, base = c_type.startswith("const "), c_type.removeprefix("const ").removesuffix(" *")
    assert base in arrays, f"no mapping for header type {c_type!r}"
    flags = "C_CONTIGUOUS" if const else "C_CONTIGUOUS,WRITEABLE"
    return np.ctypeslib.ndpointer(arrays[base], ndim=1, flags=flags)


def test_header_parse_finds_every_function(header_text):
    names = {d[0] for d in _declarations(header_text)}
    mentioned = set(re.findall(r"\b(promptsel_[a-z0-9_]+)\s*\(", header_text))
    assert names == mentioned
    assert len(names) >= 27  # the parse must not silently find nothing


# Outputs the shim passes as a raw address because NULL must be possible (ndpointer
# refuses None): select's out_state, requested only when the caller wants the rows.
_BY_ADDRESS = {("promptsel_selector_select", 2): ctypes.c_void_p}


def test_every_header_function_is_declared_exactly(header_text):
    for name, ret, params in _declarations(header_text):
        fn = getattr(lib, name)
        assert fn.argtypes is not None, f"{name} has no argtypes"
        expected = [_BY_ADDRESS.get((name, i), _ctype(p)) for i, p in enumerate(params)]
        assert list(fn.argtypes) == expected, name
        assert fn.restype is _ctype(ret), name
        if ret == "int":
            assert fn.errcheck is _native._check, f"{name} returns a status but has no errcheck"


def test_status_and_enum_constants_match_header(header_text):
    for name, value in re.findall(r"^#define\s+PROMPTSEL_(OK|E_\w+)\s+\(?(-?\d+)\)?", header_text, re.M):
        assert getattr(errors, name) == int(value), name
        assert getattr(_constants, name) == int(value), name
        if name != "OK":
            assert lib.promptsel_status_string(int(value)) != b"unknown status"
    scopes = re.findall(r"^#define\s+PROMPTSEL_(METRICS_\w+)\s+(\d+)", header_text, re.M)
    assert len(scopes) == 2
    for name, value in scopes:
        assert getattr(_native, name) == int(value), name
    assert lib.promptsel_status_string(12345) == b"unknown status"


def test_version_matches_header(header_text):
    major, minor, patch = (_macro(header_text, f"PROMPTSEL_VERSION_{p}") for p in ("MAJOR", "MINOR", "PATCH"))
    assert promptsel.__version__ == f"{major}.{minor}.{patch}"
    assert lib.promptsel_version_number() == major * 10000 + minor * 100 + patch


def test_abi_version_matches_header_and_shim(header_text):
    assert promptsel.abi_version == _macro(header_text, "PROMPTSEL_ABI_VERSION") == _native.ABI_VERSION


def test_constants_module_is_generated_from_the_current_header():
    gen = REPO / "python" / "tools" / "gen_constants.py"
    r = subprocess.run([sys.executable, str(gen), "--check"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("method", ["mopps", "dps"])
def test_the_library_describes_each_method(method):
    d = promptsel.describe(method)
    assert list(d.params)[:3] == ["seed", "strategy", "no_update"]
    assert all(p.doc and p.domain for p in d.params.values())
    # The defaults it states are the ones a default selector reports.
    config = promptsel.Selector(method).config
    assert config.params == {name: d.default(name) for name in d.params}
    width = promptsel.Selector(method).state([1]).shape[1]
    assert len(d.state) == width == {"mopps": 2, "dps": 16}[method]
    assert promptsel.Selector.__init__.__kwdefaults__["seed"] == d.default("seed")


def test_importing_promptsel_does_not_import_torch(run_python):
    r = run_python("import sys, promptsel; print('torch' in sys.modules, 'omegaconf' in sys.modules)")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["False", "False"]


# ---- Loader ------------------------------------------------------------------------


def _package_copy(tmp_path):
    """promptsel copied outside the repo, so only PROMPTSEL_LIB or its own dir can hold the library."""
    dst = tmp_path / "site"
    shutil.copytree(Path(promptsel.__file__).parent, dst / "promptsel",
                    ignore=shutil.ignore_patterns("__pycache__", "*.so"))
    return dst


def test_loader_error_for_an_installed_copy_says_reinstall(tmp_path, run_python):
    site = _package_copy(tmp_path)
    r = run_python("import promptsel", PYTHONPATH=site, PROMPTSEL_LIB=None)
    assert r.returncode != 0
    assert "promptsel.errors.LibraryLoadError" in r.stderr
    assert str(site / "promptsel" / "libpromptsel.so") in r.stderr
    assert "reinstall the wheel built for this platform" in r.stderr
    assert "make lib" not in r.stderr


def test_loader_error_for_a_checkout_says_make_lib(tmp_path, run_python):
    checkout = tmp_path / "repo"
    _package_copy(tmp_path)
    shutil.copytree(tmp_path / "site", checkout / "python")
    (checkout / "Package.swift").write_text("// a checkout\n")
    r = run_python("import promptsel", PYTHONPATH=checkout / "python", PROMPTSEL_LIB=None)
    assert r.returncode != 0
    for place in (checkout / "python" / "promptsel", checkout / ".build" / "release",
                  checkout / ".build-static" / "release"):
        assert str(place / "libpromptsel.so") in r.stderr
    assert "make lib" in r.stderr and "reinstall" not in r.stderr


def test_loader_env_override_is_exclusive(tmp_path, run_python):
    site = _package_copy(tmp_path)
    shutil.copy(lib._name, site / "promptsel" / "libpromptsel.so")
    r = run_python("import promptsel", PYTHONPATH=site, PROMPTSEL_LIB=tmp_path / "missing.so")
    assert r.returncode != 0
    assert str(tmp_path / "missing.so") in r.stderr and "PROMPTSEL_LIB names no file" in r.stderr


def test_loader_prefers_env_then_package_dir(tmp_path, run_python):
    site = _package_copy(tmp_path)
    beside = site / "promptsel" / "libpromptsel.so"
    shutil.copy(lib._name, beside)
    env_copy = tmp_path / "env" / "libpromptsel.so"
    env_copy.parent.mkdir()
    shutil.copy(lib._name, env_copy)
    code = "from promptsel import _native; print(_native.lib._name)"
    r = run_python(code, PYTHONPATH=site, PROMPTSEL_LIB=env_copy)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == str(env_copy)
    r = run_python(code, PYTHONPATH=site, PROMPTSEL_LIB=None)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == str(beside)


@pytest.mark.skipif(shutil.which("cc") is None, reason="needs a C compiler")
def test_missing_swift_runtime_is_reported_as_such(tmp_path, run_python):
    # A library that needs libswiftCore.so, on a machine that has none: link against a
    # stand-in, then remove it (as a dynamic build meets a node without the toolchain).
    stub_dir = tmp_path / "stub"
    stub_dir.mkdir()
    (tmp_path / "core.c").write_text("void swift_stand_in(void) {}\n")
    subprocess.run(["cc", "-shared", "-fPIC", str(tmp_path / "core.c"), "-o", str(stub_dir / "libswiftCore.so")],
                   check=True)
    (tmp_path / "lib.c").write_text("void swift_stand_in(void);\n"
                                    "unsigned promptsel_abi_version(void) { swift_stand_in(); return 1; }\n")
    dynamic = tmp_path / "libpromptsel.so"
    subprocess.run(["cc", "-shared", "-fPIC", str(tmp_path / "lib.c"), "-o", str(dynamic),
                    f"-L{stub_dir}", "-lswiftCore"], check=True)
    shutil.rmtree(stub_dir)
    r = run_python("import promptsel", PROMPTSEL_LIB=dynamic)
    assert r.returncode != 0
    assert "LibraryLoadError" in r.stderr and "needs the Swift runtime" in r.stderr
    assert "libswiftCore.so" in r.stderr and "wheel" in r.stderr


@pytest.mark.skipif(shutil.which("cc") is None, reason="needs a C compiler")
def test_abi_mismatch_raises_import_error(tmp_path, run_python):
    src = tmp_path / "fake.c"
    src.write_text("unsigned promptsel_abi_version(void) { return 999; }\n")
    fake = tmp_path / "libfake.so"
    subprocess.run(["cc", "-shared", "-fPIC", str(src), "-o", str(fake)], check=True)
    r = run_python("import promptsel", PROMPTSEL_LIB=fake)
    assert r.returncode != 0
    assert "LibraryLoadError" in r.stderr and "ABI version 999" in r.stderr
    assert issubclass(errors.LibraryLoadError, ImportError)


# ---- Construction and config -------------------------------------------------------


def test_config_reads_back_what_was_set():
    sel = promptsel.Selector("mopps", seed=7, strategy="threshold", target=0.4, lower=0.2, upper=0.9,
                             decay=0.75, prior=(2.0, 3.0), no_update=True)
    c = sel.config
    assert (c.method, c.strategy, c.seed, c.no_update) == ("mopps", "threshold", 7, True)
    assert (c.target, c.lower, c.upper, c.decay, c.prior) == (0.4, 0.2, 0.9, 0.75, (2.0, 3.0))


def test_defaults_are_the_libraries():
    c = promptsel.Selector().config
    assert (c.method, c.strategy, c.seed, c.no_update) == ("mopps", "topk", 0, False)
    assert (c.target, c.lower, c.upper, c.decay, c.prior) == (0.5, 0.3, 0.7, 1.0, (1.0, 1.0))


def test_dps_kwargs_fill_the_dps_fields():
    sel = promptsel.Selector("dps", seed=3, strategy="topk+entropy", no_update=False, prior_alpha="stability",
                             prior_pi="3", transition_decay=0.7, entropy_weight=0.25)
    p = sel.config.params
    assert (sel.method, p["strategy"], p["prior_shape"], p["prior_pi"]) == ("dps", "topk+entropy", "stability", "solved")
    assert (p["transition_decay"], p["entropy_weight"]) == (0.7, 0.25)
    const = promptsel.Selector("dps", prior_alpha=0.5, prior_pi=1).config.params
    assert (const["prior_shape"], const["prior_alpha"]) == ("constant", 0.5)
    assert const["prior_pi"] == "unsolved"


def test_dps_selector_is_created_by_the_library():
    sel = promptsel.Selector("dps", seed=1, prior_alpha="progress", prior_pi="uniform", transition_decay=0.5)
    c = sel.config
    assert (c.method, c.dps_prior_alpha, c.dps_prior_pi, c.dps_transition_decay) == ("dps", "progress", "uniform",
                                                                                   0.5)
    pos, scores = sel.select([10, 11, 12, 13], 2)
    assert len(pos) == 2 and len(set(pos.tolist())) == 2
    assert np.all((scores >= 0) & (scores <= 1))


# ---- select ------------------------------------------------------------------------


def test_select_shapes_dtypes_and_positions():
    sel = promptsel.Selector(seed=0)
    ids = np.arange(100, 164)
    pos, scores = sel.select(ids, 8)
    assert pos.dtype == np.int64 and scores.dtype == np.float64
    assert pos.shape == scores.shape == (8,)
    assert len(set(pos.tolist())) == 8
    assert pos.min() >= 0 and pos.max() < 64
    assert np.all((scores >= 0) & (scores <= 1))


def test_select_accepts_lists_tuples_and_other_int_dtypes():
    for ids in ([5, 6, 7], (5, 6, 7), np.array([5, 6, 7], dtype=np.int32), np.array([5, 6, 7], dtype=np.uint16)):
        a = promptsel.Selector(seed=2).select(ids, 2)
        b = promptsel.Selector(seed=2).select(np.array([5, 6, 7], dtype=np.int64), 2)
        assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])


def test_topk_returns_draws_nearest_target_in_order():
    ids = np.arange(50)
    full_pos, full_scores = promptsel.Selector(seed=11, target=0.3).select(ids, 50)
    d = (full_scores - 0.3) ** 2
    assert np.all(np.diff(d) >= 0)
    assert sorted(full_pos.tolist()) == list(range(50))
    # The draws do not depend on batch_size, so a batch of 10 is the prefix of the full order.
    pos, scores = promptsel.Selector(seed=11, target=0.3).select(ids, 10)
    assert np.array_equal(pos, full_pos[:10])
    assert np.array_equal(scores, full_scores[:10])


def test_threshold_picks_inside_interval_when_enough():
    sel = promptsel.Selector(seed=4, strategy="threshold", lower=0.3, upper=0.7)
    for _ in range(20):
        _, scores = sel.select(np.arange(200), 16)
        assert np.all((scores >= 0.3) & (scores <= 0.7))


def test_threshold_falls_back_to_nearest_the_interval():
    # An interval no Beta(1, 1) draw will hit: every candidate is ranked by distance.
    full_pos, full_scores = promptsel.Selector(seed=5, strategy="threshold", lower=0.5, upper=0.5).select(
        np.arange(40), 40)
    assert np.all(np.diff(np.abs(full_scores - 0.5)) >= 0)
    pos, _ = promptsel.Selector(seed=5, strategy="threshold", lower=0.5, upper=0.5).select(np.arange(40), 6)
    assert np.array_equal(pos, full_pos[:6])


def test_uniform_ignores_the_posterior():
    # Candidate 0 is almost surely solved; topk at 0.5 never prefers it, uniform picks it half the time.
    picks = {"topk": 0, "uniform": 0}
    for strategy in picks:
        sel = promptsel.Selector(seed=9, strategy=strategy)
        sel.set_posterior([0, 1], [1000.0, 50.0], [1.0, 50.0])
        for _ in range(400):
            pos, _ = sel.select([0, 1], 1)
            picks[strategy] += int(pos[0] == 0)
    assert picks["topk"] == 0
    assert 140 < picks["uniform"] < 260  # Binomial(400, 1/2): mean 200, sd 10


def test_uniform_positions_are_distinct_and_cover_the_pool():
    sel = promptsel.Selector(seed=3, strategy="uniform")
    counts = np.zeros(20)
    for _ in range(500):
        pos, _ = sel.select(np.arange(20), 5)
        assert len(set(pos.tolist())) == 5
        counts[pos] += 1
    assert counts.min() > 80 and counts.max() < 170  # each about 125


def test_same_seed_same_selections_different_seed_differs():
    def run(seed):
        sel = promptsel.Selector(seed=seed)
        out = []
        for step in range(5):
            ids = np.arange(step * 10, step * 10 + 40)
            pos, scores = sel.select(ids, 8)
            sel.update(ids[pos], np.linspace(0, 1, 8), rollouts=8)
            out.append((pos, scores))
        return out

    a, b, c = run(42), run(42), run(43)
    assert all(np.array_equal(x[0], y[0]) and np.array_equal(x[1], y[1]) for x, y in zip(a, b))
    assert any(not np.array_equal(x[1], y[1]) for x, y in zip(a, c))


def test_duplicate_candidates_are_separate_positions():
    sel = promptsel.Selector(seed=0)
    pos, scores = sel.select([5, 5, 5, 7], 4)
    assert sorted(pos.tolist()) == [0, 1, 2, 3]
    assert len(set(scores.tolist())) == 4  # one draw per position
    assert len(sel) == 2


# ---- update, queries ---------------------------------------------------------------


def _expected_update(a, b, s, k, decay, a0=1.0, b0=1.0):
    return decay * a + (1 - decay) * a0 + s * k, decay * b + (1 - decay) * b0 + (1 - s) * k


@pytest.mark.parametrize("decay", [1.0, 0.5, 0.83])
def test_update_formula_is_exact(decay):
    rng = np.random.default_rng(0)
    sel = promptsel.Selector(decay=decay, prior=(1.5, 0.7))
    ids = np.array([3, 9, 27, 81])
    alpha = dict.fromkeys(ids.tolist(), 1.5)
    beta = dict.fromkeys(ids.tolist(), 0.7)
    for _ in range(6):
        rates = rng.random(4)
        sel.update(ids, rates, rollouts=8)
        for i, s in zip(ids.tolist(), rates.tolist()):
            alpha[i], beta[i] = _expected_update(alpha[i], beta[i], s, 8, decay, 1.5, 0.7)
    a, b = sel.posterior(ids)
    assert a.tolist() == [alpha[i] for i in ids.tolist()]
    assert b.tolist() == [beta[i] for i in ids.tolist()]


def test_duplicates_in_one_update_apply_in_order():
    sel = promptsel.Selector(decay=0.5)
    sel.update([4, 4, 4], [1.0, 0.0, 0.25], rollouts=[8, 4, 16])
    a, b = 1.0, 1.0
    for s, k in [(1.0, 8), (0.0, 4), (0.25, 16)]:
        a, b = _expected_update(a, b, s, k, 0.5)
    assert sel.posterior([4])[0][0] == a and sel.posterior([4])[1][0] == b


def test_rollouts_int_and_per_id_array_agree():
    x, y = promptsel.Selector(), promptsel.Selector()
    x.update([1, 2], [0.5, 0.25], rollouts=8)
    y.update([1, 2], [0.5, 0.25], rollouts=np.array([8, 8], dtype=np.int64))
    assert np.array_equal(np.array(x.posterior([1, 2])), np.array(y.posterior([1, 2])))
    z = promptsel.Selector()
    z.update([1, 2], [0.5, 0.5], rollouts=[2, 16])
    assert z.posterior([1, 2])[0].tolist() == [2.0, 9.0]


def test_update_accepts_float32_and_integer_rates():
    sel = promptsel.Selector()
    sel.update([1, 2], np.array([0.5, 0.25], dtype=np.float32), rollouts=4)
    sel.update([3], [1], rollouts=4)
    assert sel.posterior([1, 2, 3])[0].tolist() == [3.0, 2.0, 5.0]


def test_queries_of_unseen_ids_report_the_prior_without_tracking_them():
    sel = promptsel.Selector(prior=(2.0, 6.0))
    sel.update([1], [1.0], rollouts=8)
    assert len(sel) == 1
    assert sel.predict([99, 100]).tolist() == [0.25, 0.25]
    a, b = sel.posterior([99, 1])
    assert a.tolist() == [2.0, 10.0] and b.tolist() == [6.0, 6.0]
    assert sel.predict([1])[0] == 10.0 / 16.0
    assert len(sel) == 1


def test_empty_queries_return_empty_arrays():
    sel = promptsel.Selector()
    assert sel.predict([]).shape == (0,)
    a, b = sel.posterior(np.array([], dtype=np.int64))
    assert a.shape == b.shape == (0,)
    sel.update([], [], rollouts=8)
    assert len(sel) == 0


def test_len_and_ids_in_first_seen_order():
    sel = promptsel.Selector()
    assert len(sel) == 0 and sel.ids().tolist() == []
    sel.select([30, 10, 20], 1)
    sel.update([40, 10], [0.5, 0.5], rollouts=8)
    sel.warm_start([50], [1], [2])
    assert sel.ids().tolist() == [30, 10, 20, 40, 50]
    assert sel.ids().dtype == np.int64
    assert len(sel) == 5


def test_warm_start_formula_replaces_state():
    sel = promptsel.Selector(prior=(1.0, 2.0))
    sel.update([1], [1.0], rollouts=8)
    sel.warm_start([1, 2], [3, 0], [8, 5], weight=3.0)
    a, b = sel.posterior([1, 2])
    assert a.tolist() == [1.0 + 9.0, 1.0]
    assert b.tolist() == [2.0 + 15.0, 2.0 + 15.0]
    sel.warm_start([3], [2.5], [4.0], weight=0.5)
    assert sel.posterior([3])[0][0] == 1.0 + 1.25 and sel.posterior([3])[1][0] == 2.0 + 0.75


def test_no_update_freezes_the_posterior():
    sel = promptsel.Selector(no_update=True)
    sel.warm_start([1], [2], [4])
    before = sel.posterior([1, 2])
    sel.update([1, 2], [1.0, 0.0], rollouts=8)
    after = sel.posterior([1, 2])
    assert np.array_equal(np.array(before), np.array(after))
    assert sel.config.no_update is True


def test_large_sparse_and_negative_ids():
    ids = np.array([2**62, -(2**63), 2**63 - 1, -1, 0], dtype=np.int64)
    sel = promptsel.Selector(seed=1)
    pos, _ = sel.select(ids, 5)
    sel.update(ids[pos], [1.0, 0.0, 0.5, 0.25, 0.75], rollouts=4)
    assert sorted(sel.ids().tolist()) == sorted(ids.tolist())
    got = dict(zip(ids[pos].tolist(), sel.posterior(ids[pos])[0].tolist()))
    assert got == dict(zip(ids[pos].tolist(), [5.0, 1.0, 3.0, 2.0, 4.0]))
    assert np.array_equal(sel.predict(np.array([2**63 - 1], dtype=np.uint64)), sel.predict([2**63 - 1]))


def test_context_manager_closes():
    with promptsel.Selector() as sel:
        sel.select([1, 2], 1)
    assert sel.closed
    assert "closed" in repr(sel)


def test_repr_names_method_and_count():
    sel = promptsel.Selector(strategy="uniform")
    sel.select([1, 2, 3], 1)
    assert repr(sel) == "<promptsel.Selector method='mopps' strategy='uniform' prompts=3>"


def test_version_has_one_source(header_text):
    # The header's macros are the version; pyproject.toml takes it from there through
    # hatch_build.py (test_install checks the built wheel's metadata), the library
    # builds its string from them, and no other file may state it.
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert "version" not in pyproject["project"] and pyproject["project"]["dynamic"] == ["version"]
    assert pyproject["project"]["dependencies"] == ["numpy>=1.22"]
    hatch_build = REPO / "hatch_build.py"
    namespace = {"__file__": str(hatch_build), "__name__": "hatch_build_under_test"}
    exec(compile(hatch_build.read_text(), str(hatch_build), "exec"), namespace)
    major, minor, patch = (_macro(header_text, f"PROMPTSEL_VERSION_{p}") for p in ("MAJOR", "MINOR", "PATCH"))
    version = f"{major}.{minor}.{patch}"
    assert namespace["header_version"](HEADER) == version == promptsel.__version__
    literal = re.compile(rf"(?<![\d.]){re.escape(version)}(?![\d.])")
    sources = [*REPO.glob("Sources/**/*.swift"), *REPO.glob("python/promptsel/**/*.py"), REPO / "Package.swift",
               REPO / "pyproject.toml", hatch_build, HEADER]
    stated = [str(p.relative_to(REPO)) for p in sources if literal.search(p.read_text())]
    assert stated == [], f"the version {version} is written out in {stated}"


def test_dps_state_probs_follow_the_reference_worked_example():
    # Uniform prior: one observation of "partial" predicts (0.3, 0.4, 0.3), of
    # "solved" (0.3, 0.3, 0.4); unseen prompts stay at 1/3 each (not tracked).
    sel = promptsel.Selector("dps", seed=0)
    sel.update([1, 2], [0.5, 1.0], rollouts=8)
    probs = sel.state_probs([1, 2, 3])
    assert probs.shape == (3, 3) and probs.dtype == np.float64
    np.testing.assert_allclose(probs, [[0.3, 0.4, 0.3], [0.3, 0.3, 0.4], [1 / 3] * 3], rtol=0, atol=1e-15)
    assert len(sel) == 2
    assert sel.state_probs([]).shape == (0, 3)


@pytest.mark.parametrize("method, entry", [("mopps", 24), ("dps", 144)])
def test_memory_reports_entry_size_and_grows_with_prompts(method, entry):
    sel = promptsel.Selector(method)
    empty = sel.memory()
    assert empty == {"bytes": empty["bytes"], "entry_bytes": entry, "prompts": 0}
    sel.select(np.arange(10_000), 4)
    m = sel.memory()
    assert m["prompts"] == 10_000
    # At least the entries themselves, at most entries plus a 4/3-loaded slot table doubled.
    assert 10_000 * entry <= m["bytes"] <= 10_000 * (entry + 4 * 4) * 2
