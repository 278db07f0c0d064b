"""promptsel.embed: built-in text embeddings (WordLlama offline, hashed fallback) and
their cache. The hashed, cache and validation tests always run; the WordLlama ones
need `pip install promptsel[embed]`."""

import hashlib
import importlib.util
import re
import sys
import tomllib
import warnings

import numpy as np
import pytest

import promptsel
from promptsel import InvalidArgumentError, OutOfRangeError, UnsupportedError
from promptsel.errors import MissingDependencyError

from conftest import REPO

# promptsel.embed is the function; its module is promptsel.embeddings.
import promptsel.embeddings as emb  # noqa: E402
try:
    HAVE_WORDLLAMA = importlib.util.find_spec("wordllama") is not None
except ImportError:  # a broken or blocked install
    HAVE_WORDLLAMA = False
needs_wordllama = pytest.mark.skipif(not HAVE_WORDLLAMA, reason="wordllama not installed (promptsel[embed])")

TEXTS = ["What is 2+2?", "Prove that sqrt(2) is irrational.", "", "Ünïcödé wörds çount",
         "Let $f(x) = x^2$. Find $f(3)$."] + [f"problem number {i}: compute {i} * {i + 1}" for i in range(40)]


def _digest(a):
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()


def _cache_files(d):
    return sorted(p.name for p in d.iterdir() if p.suffix == ".npy")


# --- always run -----------------------------------------------------------------

def test_exported_and_lazy(run_python):
    assert promptsel.embed is emb.embed and "embed" in promptsel.__all__
    r = run_python("import sys, promptsel; promptsel.embed(['a'], model='hashed', dim=4); "
                   "print(sorted(m for m in ('wordllama', 'tokenizers', 'safetensors', 'requests', "
                   "'importlib.metadata') if m in sys.modules))")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"


def test_hashed_is_featurize():
    X = promptsel.embed(TEXTS, model="hashed", dim=64)
    assert X.dtype == np.float32 and X.shape == (len(TEXTS), 64) and X.flags.c_contiguous
    assert X.tobytes() == promptsel.featurize(TEXTS, 64).tobytes()
    assert promptsel.embed(iter(TEXTS), model="hashed", dim=64).tobytes() == X.tobytes()
    assert promptsel.embed([], model="hashed", dim=8).shape == (0, 8)


@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(texts="one prompt"), TypeError, "single str"),
    (dict(texts=b"one prompt"), TypeError, "single bytes"),
    (dict(texts={"a", "b"}), TypeError, "ordered"),
    (dict(texts=["a", 3]), TypeError, r"texts\[1\] is a int"),
    (dict(texts=["a", b"b"]), TypeError, r"texts\[1\] is a bytes"),
    (dict(texts=5), TypeError, "sequence of str"),
    (dict(model="bert"), ValueError, "unknown embedding model"),
    (dict(model=["hashed"]), ValueError, "unknown embedding model"),
    (dict(dim=0), OutOfRangeError, "dim"),
    (dict(dim=True), TypeError, "dim"),
    (dict(dim=512), OutOfRangeError, "64, 128, 256"),  # needs a download: refused, not fetched
    (dict(dim=2.0), TypeError, "dim"),
    (dict(batch_size=0), OutOfRangeError, "batch_size"),
    (dict(progress="yes"), TypeError, "progress"),
    (dict(model="hashed", cache_dir="a\0b"), InvalidArgumentError, "NUL"),
])
def test_bad_input(kwargs, exc, match, tmp_path):
    args = dict(texts=["a"], model="wordllama", dim=256)
    args.update(kwargs)
    with pytest.raises(exc, match=match):
        promptsel.embed(args.pop("texts"), **args)


def test_missing_wordllama_is_a_clear_import_error(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "wordllama", None)  # import wordllama -> ImportError
    monkeypatch.setattr(emb, "_models", {})
    for kwargs in ({}, {"cache_dir": tmp_path}):
        with pytest.raises(MissingDependencyError, match=r'pip install "promptsel\[embed\]"') as e:
            promptsel.embed(["a"], **kwargs)
        assert isinstance(e.value, ImportError) and isinstance(e.value, UnsupportedError)
    assert _cache_files(tmp_path) == []
    # The fallback needs nothing.
    assert promptsel.embed(["a"], model="hashed", dim=4).shape == (1, 4)


def test_cache_is_written_once_and_reused(monkeypatch, tmp_path):
    calls = []
    real = emb.featurize
    monkeypatch.setattr(emb, "featurize", lambda t, d: calls.append(1) or real(t, d))
    X = promptsel.embed(TEXTS, model="hashed", dim=32, cache_dir=tmp_path / "new")  # created
    files = _cache_files(tmp_path / "new")
    assert len(files) == 1 and re.fullmatch(r"promptsel-embed-hashed-32-[0-9a-f]{64}\.npy", files[0])
    Y = promptsel.embed(TEXTS, model="hashed", dim=32, cache_dir=tmp_path / "new")
    assert calls == [1] and Y.tobytes() == X.tobytes() and Y.dtype == np.float32 and Y.flags.c_contiguous
    assert not [p for p in (tmp_path / "new").iterdir() if p.suffix != ".npy"]  # no temp file left
    as_bytes = promptsel.embed(TEXTS, model="hashed", dim=32, cache_dir=bytes(tmp_path / "new"))  # os.PathLike or bytes
    assert calls == [1] and as_bytes.tobytes() == X.tobytes()


def test_cache_key_covers_texts_model_and_dim(tmp_path):
    for texts, dim in ((["ab", "c"], 16), (["a", "bc"], 16), (["ab", "c"], 8), (["ab"], 16),
                       (["ab", "c", ""], 16), (["c", "ab"], 16)):
        promptsel.embed(texts, model="hashed", dim=dim, cache_dir=tmp_path)
    assert len(_cache_files(tmp_path)) == 6
    assert emb._key(["ab", "c"], "hashed", 16, "") != emb._key(["ab", "c"], "wordllama", 16, "")
    assert emb._key(["ab", "c"], "wordllama", 16, "0.4.0") != emb._key(["ab", "c"], "wordllama", 16, "0.4.1")
    assert emb._key(["\ud800"], "hashed", 16, "") != emb._key(["\ud801"], "hashed", 16, "")  # no crash


def _damage(kind, path, n, dim):
    if kind == "truncated":
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif kind == "garbage":
        path.write_bytes(b"not a numpy file at all")
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "shape":
        np.save(path, np.zeros((n + 1, dim), dtype=np.float32))
    elif kind == "dtype":
        np.save(path, np.zeros((n, dim), dtype=np.float64))
    elif kind == "nan":
        a = np.zeros((n, dim), dtype=np.float32)
        a[1, 2] = np.nan
        np.save(path, a)
    elif kind == "scaled":  # right shape and dtype, values overwritten
        a = np.load(path)
        a[3] *= 2
        np.save(path, a)
    elif kind == "pickle":
        np.save(path, np.array([{"evil": 1}], dtype=object), allow_pickle=True)
    elif kind == "directory":
        path.unlink()
        path.mkdir()


@pytest.mark.parametrize("kind", ["truncated", "garbage", "empty", "shape", "dtype", "nan", "scaled", "pickle",
                                  "directory"])
def test_damaged_cache_is_ignored_and_rewritten(kind, tmp_path):
    X = promptsel.embed(TEXTS, model="hashed", dim=16, cache_dir=tmp_path)
    (path,) = tmp_path.iterdir()
    _damage(kind, path, len(TEXTS), 16)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        Y = promptsel.embed(TEXTS, model="hashed", dim=16, cache_dir=tmp_path)
    messages = [str(w.message) for w in caught if w.category is RuntimeWarning]
    assert any("damaged cache file" in m for m in messages), messages
    assert Y.tobytes() == X.tobytes() and Y.dtype == np.float32
    if kind == "directory":  # cannot be replaced by a file: said so, and the result is still right
        assert any("could not write cache" in m for m in messages), messages
        return
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # rewritten: the next call trusts it silently
        assert promptsel.embed(TEXTS, model="hashed", dim=16, cache_dir=tmp_path).tobytes() == X.tobytes()
    assert np.load(path).tobytes() == X.tobytes()


def test_unwritable_cache_warns_and_returns_the_result(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("a file, not a directory")
    with pytest.warns(RuntimeWarning, match="could not write cache"):
        X = promptsel.embed(TEXTS, model="hashed", dim=8, cache_dir=blocker / "sub")
    assert X.tobytes() == promptsel.featurize(TEXTS, 8).tobytes()


@pytest.mark.parametrize("batch_size", [1, 7, 256])
def test_batches_cover_every_text_once_within_the_memory_cap(batch_size):
    rng = np.random.default_rng(1)
    lengths = np.concatenate([rng.integers(0, 300, 500), [emb._MAX_CELLS // 3, emb._MAX_CELLS * 2, 0]])
    order = np.argsort(lengths, kind="stable")
    batches = list(emb._batches(order, lengths, batch_size))
    assert np.array_equal(np.concatenate(batches), order)
    for b in batches:
        assert 1 <= b.size <= batch_size
        assert b.size == 1 or b.size * lengths[b].max() <= emb._MAX_CELLS  # a lone giant still goes


def test_packaging_declares_the_embed_extra():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert project["dependencies"] == ["numpy>=1.22"]  # still the only hard dependency
    assert project["optional-dependencies"]["embed"] == [f"wordllama=={emb.WORDLLAMA_VERSION}"]
    assert f"wordllama=={emb.WORDLLAMA_VERSION}" in (REPO / ".ci" / "run").read_text()


# --- WordLlama ------------------------------------------------------------------

@needs_wordllama
@pytest.mark.parametrize("dim", [64, 128, 256])
def test_wordllama_rows(dim):
    X = promptsel.embed(TEXTS, dim=dim)
    assert X.dtype == np.float32 and X.shape == (len(TEXTS), dim) and X.flags.c_contiguous
    norms = np.linalg.norm(X, axis=1)
    np.testing.assert_allclose(np.delete(norms, 2), 1, rtol=1e-5)
    assert norms[2] == 0  # "" has no token: a zero row, not NaN
    assert np.isfinite(X).all()
    # Similar texts are closer than unrelated ones (the embedding is real, not noise).
    assert X[5] @ X[6] > X[5] @ X[1]
    sel = promptsel.Selector("gps", seed=0, dim=dim)
    sel.set_features(np.arange(len(TEXTS)), X)


@needs_wordllama
def test_wordllama_rows_do_not_depend_on_batch_or_neighbours():
    X = promptsel.embed(TEXTS)
    for bs in (1, 3, 1000):
        assert promptsel.embed(TEXTS, batch_size=bs).tobytes() == X.tobytes()
    perm = np.random.default_rng(0).permutation(len(TEXTS))
    assert promptsel.embed([TEXTS[i] for i in perm]).tobytes() == X[perm].tobytes()
    assert promptsel.embed(TEXTS[3:4]).tobytes() == X[3:4].tobytes()
    with pytest.raises(InvalidArgumentError, match=r"texts\[1\] is not valid Unicode"):
        promptsel.embed(["ok", "lone \ud800 surrogate"])


NO_NETWORK = """
import socket
def refuse(*a, **k):
    raise OSError("network access attempted: " + repr(a[:2]))
socket.socket.connect = socket.socket.connect_ex = refuse
socket.create_connection = socket.getaddrinfo = refuse
"""


@needs_wordllama
def test_wordllama_loads_offline_and_fetches_nothing(run_python, tmp_path):
    # An empty home (no ~/.cache/wordllama), Python sockets refused, and the proxies of
    # non-Python clients (the tokenizers crate) pointing at a dead port. HF_HUB_OFFLINE
    # is deliberately NOT set: the loader must not need it.
    home = tmp_path / "home"
    home.mkdir()
    dead = "http://127.0.0.1:9"
    code = NO_NETWORK + f"""
import hashlib, promptsel
X = promptsel.embed({TEXTS!r}, dim=128)
print(hashlib.sha256(X.tobytes()).hexdigest())
"""
    r = run_python(code, HOME=home, XDG_CACHE_HOME=home / ".cache", HF_HOME=home / "hf", HF_HUB_OFFLINE=None,
                   HTTP_PROXY=dead, HTTPS_PROXY=dead, http_proxy=dead, https_proxy=dead, ALL_PROXY=dead,
                   NO_PROXY=None, no_proxy=None)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == _digest(promptsel.embed(TEXTS, dim=128))
    assert list(home.rglob("*")) == []  # nothing downloaded or cached anywhere


@needs_wordllama
def test_wordllama_deterministic_across_processes(run_python):
    code = f"import hashlib, promptsel; print(hashlib.sha256(promptsel.embed({TEXTS!r}).tobytes()).hexdigest())"
    digests = set()
    for seed in ("0", "4242"):
        r = run_python(code, PYTHONHASHSEED=seed, OMP_NUM_THREADS=1 if seed == "0" else 2)
        assert r.returncode == 0, r.stderr
        digests.add(r.stdout.strip())
    assert digests == {_digest(promptsel.embed(TEXTS))}


@needs_wordllama
def test_cached_call_does_not_load_the_model(run_python, tmp_path):
    X = promptsel.embed(TEXTS, cache_dir=tmp_path)
    (path,) = tmp_path.iterdir()
    assert re.fullmatch(r"promptsel-embed-wordllama-256-[0-9a-f]{64}\.npy", path.name)
    # A fresh process in which importing wordllama would fail: the cache answers.
    code = """
import hashlib, sys, promptsel
sys.modules["wordllama"] = None
X = promptsel.embed(%r, cache_dir=%r)
assert "tokenizers" not in sys.modules and "safetensors" not in sys.modules
print(hashlib.sha256(X.tobytes()).hexdigest())
"""
    r = run_python(code % (TEXTS, str(tmp_path)))
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == _digest(X)
    # Other texts are a miss, and then the missing model is reported.
    r = run_python(code % (TEXTS + ["new"], str(tmp_path)))
    assert r.returncode != 0 and "MissingDependencyError" in r.stderr


@needs_wordllama
def test_progress_lines(capsys, monkeypatch):
    promptsel.embed(TEXTS, batch_size=5, progress=True)
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 9 and lines[-1].startswith(f"promptsel.embed: {len(TEXTS)}/{len(TEXTS)} texts (100%)")
    promptsel.embed(TEXTS, batch_size=5, progress=False)
    promptsel.embed(TEXTS, batch_size=5)  # small pool: quiet by default
    assert capsys.readouterr().err == ""
    monkeypatch.setattr(emb, "PROGRESS_AUTO", len(TEXTS))
    promptsel.embed(TEXTS, batch_size=5)
    assert "100%" in capsys.readouterr().err


@needs_wordllama
def test_importing_wordllama_leaves_logging_alone(run_python):
    # wordllama calls logging.basicConfig(level=INFO) at import; embed undoes it.
    code = """
import logging, promptsel
promptsel.embed(["a b c"])
root = logging.getLogger()
print(len(root.handlers), logging.getLevelName(root.level))
"""
    r = run_python(code)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["0", "WARNING"]
