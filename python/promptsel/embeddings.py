"""Text embeddings for the feature methods (gps, hybrid): `embed(texts)`.

model="wordllama" (the default, `pip install promptsel[embed]`) is WordLlama's
l2_supercat embedding: its wheel ships the 256-d weights and the tokenizer, which are
loaded from the installed package's own folder with downloads disabled, so it works
with no network (WordLlama's default loader looks for the tokenizer in a folder that
does not exist, then fetches it). 64 and 128 are the same embedding truncated (it is
trained to be, Matryoshka style). model="hashed" is promptsel.featurize: no dependency.

Rows are L2-normalised float32, C-contiguous, ready for Selector.set_features. A text
with no token gives a zero row. The result depends only on the texts (not on the
batch size, the process or the order of the others): the pooling is a masked mean
whose padding adds exact zeros, and no BLAS is involved.

cache_dir: the matrix is stored there once (one .npy per set of texts, written
atomically) and returned by later calls without loading the model; a file that is
damaged (unreadable, wrong shape or dtype, non-finite, a row neither unit nor zero) is ignored and rewritten.
"""

import hashlib
import io
import logging
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from . import _args, _native
from .errors import ArgumentTypeError, InvalidArgumentError, MissingDependencyError, OutOfRangeError
from .features import MAX_DIM, featurize

MODELS = ("wordllama", "hashed")
#: WordLlama dims that ship in its wheel (256) or are its prefix: no download needed.
WORDLLAMA_DIMS = (64, 128, 256)
WORDLLAMA_VERSION = "0.4.0.post1"
_PIP = f'pip install "promptsel[embed]"  (or: pip install wordllama=={WORDLLAMA_VERSION})'
#: Bumped whenever the rows computed for the same texts could change (pooling, norm).
_RECIPE = b"promptsel.embed/1"
#: Pools at least this large print progress when progress=None.
PROGRESS_AUTO = 20_000
_PROGRESS_LINES = 10  # about this many lines per call, plus the last
_MAX_BATCH = 1 << 20
#: Padded characters per batch at most: ~tokens x dim x 4 bytes x 3 copies of memory,
#: about 100 MB at dim 256 for English (a token is ~3-4 characters).
_MAX_CELLS = 1 << 17

# One loaded model per dim for the process: loading reads 33 MB and takes ~0.2 s.
_models = {}


def embed(texts, model="wordllama", dim=256, batch_size=256, progress=None, cache_dir=None):
    """Embeddings of `texts` (a list, tuple or other ordered iterable of str) as a
    C-contiguous float32 array (len(texts), dim) with unit (or zero) rows.

    model: "wordllama" (dim 64, 128 or 256; needs `pip install promptsel[embed]`, else
    MissingDependencyError, an ImportError) or "hashed" (promptsel.featurize, any dim
    in [1, 2^20]). batch_size: texts per tokenizer call at most (batches are also
    cut at 2^17 padded characters, which bounds memory). progress: True / False,
    None = a stderr line every ~10% on pools of PROGRESS_AUTO texts or more.
    cache_dir: see the module docstring.
    One str is refused (TypeError): wrap it in a list."""
    texts = _texts(texts)
    if not isinstance(model, str) or model not in MODELS:
        raise InvalidArgumentError(f"unknown embedding model {model!r}; expected one of "
                                   f"{', '.join(map(repr, MODELS))}")
    dim = _args.bounded(dim, "dim", 1, MAX_DIM)
    if model == "wordllama" and dim not in WORDLLAMA_DIMS:
        raise OutOfRangeError(f"wordllama dim must be one of {WORDLLAMA_DIMS} (the weights its wheel "
                              f"ships; 512 and 1024 would need a download), got {dim}")
    batch_size = _args.bounded(batch_size, "batch_size", 1, _MAX_BATCH)
    if progress is not None and not isinstance(progress, bool):
        raise ArgumentTypeError(f"progress must be True, False or None, got {progress!r}")
    show = len(texts) >= PROGRESS_AUTO if progress is None else progress

    path = None
    if cache_dir is not None:
        _args.path(cache_dir)  # a NUL byte would reach the library's open()
        version = _wordllama_version() if model == "wordllama" else ""
        path = Path(os.fsdecode(cache_dir)) / f"promptsel-embed-{model}-{dim}-{_key(texts, model, dim, version)}.npy"
        cached = _read_cache(path, len(texts), dim)
        if cached is not None:
            return cached

    if model == "hashed":
        out = np.ascontiguousarray(featurize(texts, dim), dtype=np.float32)
    else:
        out = _wordllama_embed(texts, dim, batch_size, show)
    if path is not None:
        _write_cache(path, out)
    return out


def _texts(texts):
    _args.not_text(texts, "embed's texts", "a sequence of str")
    if isinstance(texts, (set, frozenset, dict)):
        raise ArgumentTypeError(f"embed's texts must be an ordered sequence (row i is texts[i]), "
                                f"got a {type(texts).__name__}")
    try:
        texts = list(texts)
    except TypeError:
        raise ArgumentTypeError(f"embed's texts must be a sequence of str, got {type(texts).__name__}") from None
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise ArgumentTypeError(f"texts[{i}] is a {type(t).__name__}, not a str (token ids: use "
                                    f"promptsel.featurize; bytes: decode them)")
    return texts


def _key(texts, model, dim, model_version):
    """sha256 of everything the rows depend on; each text length-prefixed so that
    ["ab", "c"] and ["a", "bc"] differ."""
    h = hashlib.sha256()
    from . import __version__  # the loaded library's version, at call time (no import cycle)
    for part in (_RECIPE, model.encode(), str(dim).encode(), model_version.encode(), __version__.encode()):
        h.update(len(part).to_bytes(8, "little") + part)
    h.update(len(texts).to_bytes(8, "little"))
    for t in texts:
        b = t.encode("utf-8", "surrogatepass")
        h.update(len(b).to_bytes(8, "little"))
        h.update(b)
    return h.hexdigest()


def _read_cache(path, n, dim):
    """The cached matrix if the file holds exactly what embed would return, else None
    (a damaged file is reported and recomputed: never trusted on its name alone)."""
    if not os.path.lexists(path):  # anything else there (a directory, a dangling link) is damage
        return None
    try:
        a = np.load(path, allow_pickle=False)
        problem = None
        if not isinstance(a, np.ndarray):
            problem = "not a single array"
        elif a.dtype != np.float32 or a.shape != (n, dim):
            problem = f"holds {a.dtype} {a.shape}, expected float32 {(n, dim)}"
        elif not np.isfinite(a).all():
            problem = "holds NaN or infinity"
        else:  # every row embed returns is unit or zero: catches overwritten values too
            norms = np.linalg.norm(a, axis=1)
            bad = np.flatnonzero((norms != 0) & (np.abs(norms - 1) > 1e-3))
            if bad.size:
                problem = f"row {bad[0]} has norm {norms[bad[0]]:.4g}, not 1 or 0"
    except Exception as e:  # truncated, not .npy, unreadable: all mean "recompute"
        problem = f"unreadable ({type(e).__name__}: {e})"
    if problem is None:
        return np.ascontiguousarray(a)
    warnings.warn(f"promptsel.embed: ignoring damaged cache file {path}: {problem}; recomputing",
                  RuntimeWarning, stacklevel=3)
    return None


def _write_cache(path, out):
    buf = io.BytesIO()
    np.save(buf, out, allow_pickle=False)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # The library's write: temporary file, fsync, rename, directory fsync.
        _native.write_atomic(os.fsencode(path), buf.getbuffer())
    except OSError as e:  # the result is good: losing the cache must not lose it
        warnings.warn(f"promptsel.embed: could not write cache file {path}: {e}", RuntimeWarning, stacklevel=3)


def _wordllama_version():
    import importlib.metadata  # here: it costs ~10 ms, and only a cached wordllama call needs it

    try:
        return importlib.metadata.version("wordllama")
    except importlib.metadata.PackageNotFoundError:
        raise _missing() from None


def _missing():
    return MissingDependencyError(f"promptsel.embed(model='wordllama') needs wordllama, which is not "
                                  f"installed: {_PIP}. model='hashed' needs nothing.")


def _import_wordllama():
    """wordllama, imported without its side effect on logging: its modules call
    logging.basicConfig(level=INFO) at import, which would make every library's INFO
    records print to the user's stderr."""
    if "wordllama" in sys.modules and sys.modules["wordllama"] is not None:
        return sys.modules["wordllama"]
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        import wordllama
    except ImportError as e:
        raise _missing() from e
    finally:
        for h in root.handlers[:]:
            if h not in handlers:
                root.removeHandler(h)
        root.setLevel(level)
    return wordllama


def _load(dim):
    model = _models.get(dim)
    if model is not None:
        return model
    wordllama = _import_wordllama()
    # cache_dir = the package's folder: its weights are found in <pkg>/weights and its
    # tokenizer in <cache_dir>/tokenizers (the loader's own lookup tries <pkg>/tokenizer).
    # disable_download: a missing file is an error, never a fetch.
    package = Path(wordllama.__file__).resolve().parent
    try:
        model = wordllama.WordLlama.load("l2_supercat", cache_dir=package, dim=256,
                                         trunc_dim=None if dim == 256 else dim, disable_download=True)
    except FileNotFoundError as e:
        raise MissingDependencyError(f"wordllama at {package} lacks its bundled l2_supercat files ({e}); "
                                     f"reinstall it: pip install --force-reinstall wordllama=={WORDLLAMA_VERSION}") from None
    _models[dim] = model
    return model


def _wordllama_embed(texts, dim, batch_size, show):
    for i, t in enumerate(texts):
        try:
            t.encode("utf-8")
        except UnicodeEncodeError as e:
            raise InvalidArgumentError(f"texts[{i}] is not valid Unicode ({e.reason} at {e.start})") from None
    start = time.monotonic()
    model = _load(dim)
    n = len(texts)
    out = np.zeros((n, dim), dtype=np.float32)
    lengths = np.fromiter(map(len, texts), dtype=np.int64, count=n)
    order = np.argsort(lengths, kind="stable")
    step = max(1, -(-n // _PROGRESS_LINES))
    mark, done = step, 0
    for idx in _batches(order, lengths, batch_size):
        out[idx] = model.embed([texts[i] for i in idx], norm=False, batch_size=len(idx))
        done += len(idx)
        if show and (done >= mark or done == n):
            mark = (done // step + 1) * step
            print(f"promptsel.embed: {done}/{n} texts ({100 * done / n:.0f}%), "
                  f"{time.monotonic() - start:.1f} s", file=sys.stderr, flush=True)
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    np.divide(out, norms, out=out, where=norms > 0)  # a text without tokens stays a zero row
    return out


def _batches(order, lengths, batch_size):
    """Positions in `order` (texts by increasing length) cut into batches of at most
    batch_size texts and _MAX_CELLS padded characters: wordllama pads a batch to its
    longest text, so similar lengths pad little (3x faster on MATH problems) and the
    cap bounds memory when long texts come last. The rows do not depend on the batch,
    so this is only a speed and memory choice."""
    lo, n = 0, order.size
    while lo < n:
        hi = lo + 1
        while hi < n and hi - lo < batch_size and (hi - lo + 1) * lengths[order[hi]] <= _MAX_CELLS:
            hi += 1
        yield order[lo:hi]
        lo = hi
