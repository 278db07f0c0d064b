"""`Selector`: one native promptsel selector behind a numpy API.

Every method is one C call on the whole batch (never one per prompt). Inputs are
checked here only where ctypes or numpy would silently change them (a float id
truncated, -1 wrapped to 2**64-1, int64 narrowed to int32); everything else (NaN,
rates outside [0, 1], k < 1, batch larger than the pool, ...) is validated by the
library, whose message the raised exception carries.
"""

import contextlib
import ctypes
import dataclasses
import json
import numbers
import operator
import os
import re
import tempfile
import threading
import weakref

import numpy as np

from . import _native
from ._native import SelectorPtr, lib
from .errors import BufferTooSmallError, CheckpointError, InvalidArgumentError, OutOfRangeError, UnsupportedError

#: File name of the reference's checkpoint, `{"<id>": [alpha, beta], ...}`.
INDEX_SCORE_FILE = "index_score.json"
#: File name of the DPS reference's checkpoint (alphas, pis, pis_before, ...).
HMM_PARAMS_FILE = "hmm_params.json"

_INT64_MAX = 2**63 - 1
_INT32_MIN, _INT32_MAX = -(2**31), 2**31 - 1

_METHODS = {"mopps": _native.METHOD_MOPPS, "dps": _native.METHOD_DPS, "gps": _native.METHOD_GPS}
_STRATEGIES = {
    "topk": _native.STRATEGY_TOPK,
    "threshold": _native.STRATEGY_THRESHOLD,
    "uniform": _native.STRATEGY_UNIFORM,
    "topk+entropy": _native.STRATEGY_TOPK_ENTROPY,
}
_DPS_PRIOR_SHAPES = {
    "constant": _native.DPS_PRIOR_CONSTANT,
    "progress": _native.DPS_PRIOR_PROGRESS,
    "stability": _native.DPS_PRIOR_STABILITY,
    "local": _native.DPS_PRIOR_LOCAL,
}
# The reference's hmm_prior_pi values: uniform, or one-hot on state 1, 2 or 3.
_DPS_PRIOR_PI = {
    "uniform": _native.DPS_PI_UNIFORM,
    "1": _native.DPS_PI_UNSOLVED,
    "2": _native.DPS_PI_PARTIAL,
    "3": _native.DPS_PI_SOLVED,
}


def _name_of(table, code):
    return next((name for name, c in table.items() if c == code), code)


# ---- Scalar and array arguments ------------------------------------------------

def _lookup(table, value, what):
    try:
        return table[value]
    except (KeyError, TypeError):
        raise InvalidArgumentError(f"unknown {what} {value!r}; expected one of {', '.join(map(repr, table))}") from None


def _real(value, name):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise InvalidArgumentError(f"{name} must be a real number, got {value!r}")
    try:
        return float(value)
    except OverflowError:  # an int beyond the double range
        raise OutOfRangeError(f"{name} = {value} does not fit in a double") from None


def _integer(value, name):
    if isinstance(value, (bool, np.bool_)):
        raise InvalidArgumentError(f"{name} must be an integer, got {value!r}")
    try:
        return operator.index(value)
    except TypeError:
        raise InvalidArgumentError(f"{name} must be an integer, got {value!r}") from None


def _count(value, name):
    """A size_t argument: ctypes would wrap a negative one to a huge size."""
    n = _integer(value, name)
    if n < 0:
        raise InvalidArgumentError(f"{name} must be >= 0, got {n}")
    if n > _INT64_MAX:
        raise OutOfRangeError(f"{name} = {n} is too large")
    return n


def _flag(value, name):
    if isinstance(value, (bool, np.bool_)) or (isinstance(value, numbers.Integral) and value in (0, 1)):
        return int(bool(value))
    raise InvalidArgumentError(f"{name} must be a bool, got {value!r}")


def _array(x, name):
    try:
        a = np.asarray(x)  # lists, tuples, numpy arrays, CPU torch tensors
    except (TypeError, ValueError) as e:
        raise InvalidArgumentError(f"{name} cannot be read as an array: {e}") from None
    if a.ndim != 1:
        raise InvalidArgumentError(f"{name} must be a 1-D array, got shape {a.shape}")
    return a


def _ids(x, name):
    """int64 prompt ids. Floats, bools and objects are refused rather than cast,
    so 1.5 never silently becomes prompt 1."""
    a = _array(x, name)
    if a.size and a.dtype.kind not in "iu":
        raise InvalidArgumentError(f"{name} must hold integer prompt ids, got dtype {a.dtype}")
    if a.dtype.kind == "u" and a.size and a.max() > _INT64_MAX:
        raise OutOfRangeError(f"{name} holds {a.max()}, outside the int64 range of prompt ids")
    return np.ascontiguousarray(a, dtype=np.int64)


def _reals(x, name):
    a = _array(x, name)
    if a.size and a.dtype.kind not in "fiu":
        raise InvalidArgumentError(f"{name} must hold real numbers, got dtype {a.dtype}")
    return np.ascontiguousarray(a, dtype=np.float64)


def _same_length(**arrays):
    lengths = {name: a.size for name, a in arrays.items()}
    if len(set(lengths.values())) > 1:
        raise InvalidArgumentError("lengths differ: " + ", ".join(f"{k}={v}" for k, v in lengths.items()))


def _int32_range(lo, hi, name):
    if lo < _INT32_MIN or hi > _INT32_MAX:
        bad = lo if lo < _INT32_MIN else hi
        raise OutOfRangeError(f"{name} = {bad} does not fit in int32")


def _rollouts(x, n):
    """int32 rollouts per id, from one int or a per-id array."""
    if np.ndim(x) == 0:
        k = _integer(x, "rollouts")
        _int32_range(k, k, "rollouts")
        return np.full(n, k, dtype=np.int32)
    a = _array(x, "rollouts")
    if a.size and a.dtype.kind not in "iu":
        raise InvalidArgumentError(f"rollouts must hold integers, got dtype {a.dtype}")
    if a.size != n:
        raise InvalidArgumentError(f"lengths differ: ids={n}, rollouts={a.size}")
    if a.size:
        _int32_range(int(a.min()), int(a.max()), "rollouts")
    return np.ascontiguousarray(a, dtype=np.int32)


def _path(path):
    p = os.fsencode(os.fspath(path))
    if b"\0" in p:  # c_char_p would cut the path at the NUL
        raise InvalidArgumentError(f"path contains a NUL byte: {path!r}")
    return p


def _byte_array(data):
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise InvalidArgumentError(f"checkpoint data must be bytes, got {type(data).__name__}")
    return np.frombuffer(data, dtype=np.uint8)


# ---- Configuration ---------------------------------------------------------------

def _set_prior(cfg, value):
    try:
        a, b = value
    except (TypeError, ValueError):
        raise InvalidArgumentError(f"prior must be a pair (alpha0, beta0), got {value!r}") from None
    cfg.prior_alpha = _real(a, "prior alpha0")
    cfg.prior_beta = _real(b, "prior beta0")


def _set_dps_prior_alpha(cfg, value):
    # The reference's hmm_prior_alpha: a constant count, or a named shape.
    if isinstance(value, str):
        if value == "constant":
            raise InvalidArgumentError("prior_alpha takes a number for the constant prior, not 'constant'")
        cfg.dps_prior_shape = _lookup(_DPS_PRIOR_SHAPES, value, "DPS prior_alpha shape")
    else:
        cfg.dps_prior_shape = _native.DPS_PRIOR_CONSTANT
        cfg.dps_prior_alpha = _real(value, "prior_alpha")


def _setter(field, convert=_real):
    return lambda cfg, value: setattr(cfg, field, convert(value, field))


# Keyword arguments each method accepts, and the config fields they fill.
_METHOD_KWARGS = {
    "mopps": {
        "target": _setter("target"),
        "lower": _setter("lower"),
        "upper": _setter("upper"),
        "decay": _setter("decay"),
        "prior": _set_prior,
    },
    "dps": {
        "prior_alpha": _set_dps_prior_alpha,
        "prior_pi": lambda cfg, v: setattr(cfg, "dps_prior_pi", _lookup(_DPS_PRIOR_PI, str(v), "DPS prior_pi")),
        "transition_decay": _setter("dps_transition_decay"),
        "entropy_weight": _setter("dps_entropy_weight"),
    },
    "gps": {},
}


def _config_struct(method, *, seed, strategy, no_update, **kwargs):
    """A promptsel_config: the library's defaults for `method`, then the arguments."""
    code = _lookup(_METHODS, method, "method")
    setters = _METHOD_KWARGS[method]
    unknown = sorted(set(kwargs) - set(setters))
    if unknown:
        raise TypeError(f"Selector({method!r}) got unexpected keyword arguments: {', '.join(unknown)} "
                        f"(it takes {', '.join(sorted(setters)) or 'none'})")
    cfg = _native.Config()
    lib.promptsel_config_init(ctypes.byref(cfg), code)
    cfg.strategy = _lookup(_STRATEGIES, strategy, "strategy")
    cfg.no_update = _flag(no_update, "no_update")
    seed = _integer(seed, "seed")
    if not 0 <= seed < 2**64:
        raise OutOfRangeError(f"seed must lie in [0, 2**64), got {seed}")
    cfg.seed = seed
    for name, value in kwargs.items():
        setters[name](cfg, value)
    return cfg


@dataclasses.dataclass(frozen=True)
class SelectorConfig:
    """A selector's configuration as the library reports it (promptsel_config)."""

    method: str
    strategy: str
    seed: int
    no_update: bool
    target: float
    lower: float
    upper: float
    decay: float
    prior: tuple
    dps_prior_alpha: object  # a number (constant prior) or a shape name
    dps_prior_pi: str
    dps_transition_decay: float
    dps_entropy_weight: float

    @classmethod
    def _from_struct(cls, c):
        shape = _name_of(_DPS_PRIOR_SHAPES, c.dps_prior_shape)
        return cls(
            method=_name_of(_METHODS, c.method),
            strategy=_name_of(_STRATEGIES, c.strategy),
            seed=c.seed,
            no_update=bool(c.no_update),
            target=c.target,
            lower=c.lower,
            upper=c.upper,
            decay=c.decay,
            prior=(c.prior_alpha, c.prior_beta),
            dps_prior_alpha=c.dps_prior_alpha if shape == "constant" else shape,
            dps_prior_pi=_name_of(_DPS_PRIOR_PI, c.dps_prior_pi),
            dps_transition_decay=c.dps_transition_decay,
            dps_entropy_weight=c.dps_entropy_weight,
        )


# ---- Files -------------------------------------------------------------------------

def _fsync_dir(directory):
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _atomic_write(path, data):
    """Writes `data` to a temporary file beside `path`, fsyncs it and renames it over
    `path`, as promptsel_selector_save does: a crash never leaves a partial file."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=os.path.basename(path) + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), 0o644)  # mkstemp's 0600 would hide checkpoints from other users
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_dir(directory)


def _file_in(path_or_dir, name):
    path = os.fspath(path_or_dir)
    return os.path.join(path, name) if os.path.isdir(path) else path


def _index_score_path(path_or_dir):
    return _file_in(path_or_dir, INDEX_SCORE_FILE)


def _read_json_object(path):
    try:
        with open(path, "rb") as f:
            data = json.load(f)
    except ValueError as e:  # JSONDecodeError, UnicodeDecodeError, ints beyond int()'s digit limit
        raise CheckpointError(f"{path}: not valid JSON: {e}") from None
    if not isinstance(data, dict):
        raise CheckpointError(f"{path}: expected a JSON object keyed by prompt id, got {type(data).__name__}")
    return data


_ID_KEY = re.compile(r"-?[0-9]+", re.ASCII)


def _id_of_key(key, path):
    # Keys are str(index) as the reference writes them; anything else is refused.
    if len(key) > 20 or not _ID_KEY.fullmatch(key) or str(int(key)) != key or not -(2**63) <= int(key) <= _INT64_MAX:
        raise CheckpointError(f"{path}: key {key!r} is not a prompt id (a decimal int64)")
    return int(key)


def _is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


# ---- The selector ------------------------------------------------------------------

class Selector:
    """Chooses which prompts to roll out each training step.

        sel = Selector("mopps", seed=0, strategy="topk", target=0.5, decay=1.0, prior=(1.0, 1.0))
        pos, scores = sel.select(candidate_ids, batch_size)
        sel.update(candidate_ids[pos], success_rate, rollouts=8)

    Methods: "mopps" (target, lower, upper, decay, prior) and "dps" (prior_alpha,
    prior_pi, transition_decay, entropy_weight). Strategies: "topk", "threshold",
    "uniform", "topk+entropy" (DPS). Unknown keyword arguments raise TypeError.

    A Selector is thread-safe. It owns a native handle, freed by close(), by the
    context manager or when the object is collected; any call after close() raises
    InvalidArgumentError.
    """

    def __init__(self, method="mopps", *, seed=0, strategy="topk", no_update=False, **kwargs):
        cfg = _config_struct(method, seed=seed, strategy=strategy, no_update=no_update, **kwargs)
        handle = SelectorPtr()
        lib.promptsel_selector_create(ctypes.byref(handle), ctypes.byref(cfg))
        self._adopt(handle)

    def _adopt(self, handle):
        # The lock keeps close() from freeing the handle while another thread is in
        # a call on it (the header forbids that race). Calls on one handle are
        # serialized inside the library anyway, so it costs no parallelism.
        self._lock = threading.Lock()
        self._handle = handle
        self._finalizer = weakref.finalize(self, lib.promptsel_selector_free, handle)

    @classmethod
    def _wrap(cls, handle):
        obj = cls.__new__(cls)
        obj._adopt(handle)
        return obj

    @contextlib.contextmanager
    def _live(self):
        with self._lock:
            if self._handle is None:
                raise InvalidArgumentError("this Selector is closed")
            yield self._handle

    # -- lifetime --

    def close(self):
        """Frees the native selector. Idempotent."""
        with self._lock:
            self._handle = None
            self._finalizer()

    @property
    def closed(self):
        return self._handle is None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        if self.closed:
            return "<promptsel.Selector (closed)>"
        c = self.config
        return f"<promptsel.Selector method={c.method!r} strategy={c.strategy!r} prompts={len(self)}>"

    # -- one training step --

    def select(self, candidate_ids, batch_size):
        """Chooses `batch_size` of the candidates. Returns (positions into
        candidate_ids as int64, acquisition scores as float64), in the method's
        order (topk: best first). Unseen ids start at the prior and are tracked."""
        ids = _ids(candidate_ids, "candidate_ids")
        batch = _count(batch_size, "batch_size")
        if batch > max(ids.size, 1):
            # The outputs are allocated before the call; never allocate for a batch
            # that cannot be valid. (An empty pool is left to the library to report.)
            raise InvalidArgumentError(f"batch_size {batch} exceeds the {ids.size} candidates")
        positions = np.empty(batch, dtype=np.int64)
        scores = np.empty(batch, dtype=np.float64)
        count = ctypes.c_size_t()
        with self._live() as h:
            lib.promptsel_selector_select(positions, scores, batch, ctypes.byref(count), h, ids, ids.size, batch)
        return positions[: count.value], scores[: count.value]

    def update(self, ids, success_rate, rollouts):
        """Feeds back one step: ids[i] was rolled out rollouts[i] times (an int for
        all, or one per id) with mean success success_rate[i] in [0, 1].
        Duplicate ids are applied in order."""
        ids = _ids(ids, "ids")
        rates = _reals(success_rate, "success_rate")
        _same_length(ids=ids, success_rate=rates)
        ks = _rollouts(rollouts, ids.size)
        with self._live() as h:
            lib.promptsel_selector_update(h, ids, rates, ks, ids.size)

    # -- queries (never create entries; unseen ids report the prior) --

    def predict(self, ids):
        """Expected success rate of each id (MoPPS: posterior mean)."""
        ids = _ids(ids, "ids")
        mean = np.empty(ids.size, dtype=np.float64)
        with self._live() as h:
            lib.promptsel_selector_predict(mean, mean.size, h, ids, ids.size)
        return mean

    def posterior(self, ids):
        """MoPPS: (alpha, beta) arrays of the Beta posterior of each id."""
        ids = _ids(ids, "ids")
        alpha = np.empty(ids.size, dtype=np.float64)
        beta = np.empty(ids.size, dtype=np.float64)
        with self._live() as h:
            lib.promptsel_selector_posterior(alpha, beta, ids.size, h, ids, ids.size)
        return alpha, beta

    def state_probs(self, ids):
        """DPS: predicted belief over (unsolved, partial, solved) at the next step,
        shape (n, 3); the prior belief for unseen ids."""
        ids = _ids(ids, "ids")
        out = np.empty(3 * ids.size, dtype=np.float64)
        with self._live() as h:
            lib.promptsel_selector_state_probs(out, out.size, h, ids, ids.size)
        return out.reshape(ids.size, 3)

    def dps_state(self, ids):
        """DPS: the full state of each id at the current step (the prior for unseen
        ids): a dict of `alpha` (n, 3, 3) transition counts [to][from], `pi` and
        `pi_before` (n, 3), `sampled_times` (n,) int64."""
        ids = _ids(ids, "ids")
        n = ids.size
        alpha, pi, before = np.empty(9 * n), np.empty(3 * n), np.empty(3 * n)
        sampled = np.empty(n, dtype=np.int64)
        with self._live() as h:
            lib.promptsel_dps_get_state(alpha, pi, before, sampled, n, h, ids, n)
        return {"alpha": alpha.reshape(n, 3, 3), "pi": pi.reshape(n, 3), "pi_before": before.reshape(n, 3),
                "sampled_times": sampled}

    def set_dps_state(self, ids, alpha, pi, pi_before, sampled_times):
        """DPS: sets the state of each id (adding ids not yet tracked); shapes as
        dps_state() returns them. Invalid values raise and change nothing."""
        ids = _ids(ids, "ids")
        n = ids.size
        arrays = {}
        for name, value, shape in (("alpha", alpha, (n, 3, 3)), ("pi", pi, (n, 3)), ("pi_before", pi_before, (n, 3))):
            a = np.asarray(value)
            if a.dtype.kind not in "fiu" or a.shape != shape:
                raise InvalidArgumentError(f"{name} must be a real array of shape {shape}, got {a.dtype} {a.shape}")
            arrays[name] = np.ascontiguousarray(a, dtype=np.float64).ravel()
        sampled = _ids(sampled_times, "sampled_times")
        _same_length(ids=ids, sampled_times=sampled)
        with self._live() as h:
            lib.promptsel_dps_set_state(h, ids, arrays["alpha"], arrays["pi"], arrays["pi_before"], sampled, n)

    def dps_update_stats(self):
        """DPS: how well the beliefs predicted the last update's observations, as the
        authors' trainer logs them: accuracy of argmax(belief), precision, recall and
        F1 of the partial state (NaN when undefined), the 3x3 confusion matrix
        [observed][predicted] and the number observed."""
        st = _native.DpsUpdateStats()
        with self._live() as h:
            lib.promptsel_dps_update_stats_get(ctypes.byref(st), h)
        p, r = st.partial_precision, st.partial_recall
        f1 = 2 * p * r / (p + r) if p + r > 0 else float("nan")
        return {"observed": st.observed, "accuracy": st.accuracy, "partial_precision": p, "partial_recall": r,
                "partial_f1": f1, "confusion": np.array(list(st.confusion), dtype=np.int64).reshape(3, 3)}

    def dps_summary(self):
        """DPS: statistics over every tracked prompt (O(prompts)): mean belief entropy,
        mean P(partial), times-selected min / max / mean / std."""
        st = _native.DpsSummary()
        with self._live() as h:
            lib.promptsel_dps_summary_get(ctypes.byref(st), h)
        return {name: getattr(st, name) for name, _ in _native.DpsSummary._fields_}

    def memory(self):
        """Memory of the per-prompt state, as the library counts it: {"bytes": heap
        bytes held (entries and hash slots, spare capacity included), "entry_bytes":
        bytes of one prompt's entry (id and model state), "prompts": prompts tracked}."""
        total, entry, n = ctypes.c_size_t(), ctypes.c_size_t(), ctypes.c_size_t()
        with self._live() as h:
            lib.promptsel_selector_memory(ctypes.byref(total), ctypes.byref(entry), h)
            lib.promptsel_selector_count(ctypes.byref(n), h)
        return {"bytes": total.value, "entry_bytes": entry.value, "prompts": n.value}

    def __len__(self):
        n = ctypes.c_size_t()
        with self._live() as h:
            lib.promptsel_selector_count(ctypes.byref(n), h)
        return n.value

    def ids(self):
        """Tracked prompt ids in first-seen order (int64)."""
        n = ctypes.c_size_t()
        with self._live() as h:
            lib.promptsel_selector_count(ctypes.byref(n), h)
            while True:
                out = np.empty(n.value, dtype=np.int64)
                try:
                    lib.promptsel_selector_ids(out, out.size, ctypes.byref(n), h)
                    return out[: n.value]
                except BufferTooSmallError:
                    continue  # grew meanwhile; n now holds the new count

    @property
    def config(self):
        """The configuration, read back from the library (a SelectorConfig)."""
        c = _native.Config()
        with self._live() as h:
            lib.promptsel_selector_get_config(ctypes.byref(c), h)
        return SelectorConfig._from_struct(c)

    # -- importing state --

    def warm_start(self, ids, successes, trials, weight=3.0):
        """MoPPS: alpha = alpha0 + weight*successes, beta = beta0 + weight*(trials -
        successes), replacing any state of the ids (offline results)."""
        ids = _ids(ids, "ids")
        s = _reals(successes, "successes")
        t = _reals(trials, "trials")
        _same_length(ids=ids, successes=s, trials=t)
        w = _real(weight, "weight")
        with self._live() as h:
            lib.promptsel_selector_warm_start(h, ids, s, t, ids.size, w)

    def set_posterior(self, ids, alpha, beta):
        """MoPPS: sets the Beta posterior of each id (adding ids not yet tracked)."""
        ids = _ids(ids, "ids")
        a = _reals(alpha, "alpha")
        b = _reals(beta, "beta")
        _same_length(ids=ids, alpha=a, beta=b)
        with self._live() as h:
            lib.promptsel_selector_set_posterior(h, ids, a, b, ids.size)

    # -- checkpoints --

    def to_bytes(self):
        """The whole state (config, generator, every prompt) as checkpoint bytes."""
        need = ctypes.c_size_t()
        buf = np.empty(0, dtype=np.uint8)
        with self._live() as h:
            while True:
                try:
                    lib.promptsel_selector_serialize(buf, buf.size, ctypes.byref(need), h)
                    return buf[: need.value].tobytes()
                except BufferTooSmallError:
                    buf = np.empty(need.value, dtype=np.uint8)  # size learned; retry if it grew

    @classmethod
    def from_bytes(cls, data):
        """A new Selector from to_bytes() output."""
        arr = _byte_array(data)
        handle = SelectorPtr()
        lib.promptsel_selector_from_bytes(ctypes.byref(handle), arr, arr.size)
        return cls._wrap(handle)

    def state_dict(self):
        """Picklable state: {"state": bytes}."""
        return {"state": self.to_bytes()}

    def load_state_dict(self, state):
        """Replaces the whole state (config included) with a state_dict(); a bad
        state raises and leaves this selector unchanged."""
        try:
            data = state["state"]
        except (KeyError, TypeError, IndexError):
            raise InvalidArgumentError("expected a state_dict() mapping with a 'state' entry") from None
        arr = _byte_array(data)
        with self._live() as h:
            lib.promptsel_selector_deserialize(h, arr, arr.size)

    def save(self, path):
        """Writes the checkpoint to `path` atomically (the old file survives any failure)."""
        p = _path(path)
        with self._live() as h:
            lib.promptsel_selector_save(h, p)

    @classmethod
    def load(cls, path):
        """A new Selector from a file written by save()."""
        p = _path(path)
        handle = SelectorPtr()
        lib.promptsel_selector_load(ctypes.byref(handle), p)
        return cls._wrap(handle)

    def __getstate__(self):
        return self.state_dict()

    def __setstate__(self, state):
        arr = _byte_array(state["state"])
        handle = SelectorPtr()
        lib.promptsel_selector_from_bytes(ctypes.byref(handle), arr, arr.size)
        self._adopt(handle)

    # -- JSON interop with the reference implementation (MoPPS) --

    def export_index_score(self, path_or_dir):
        """Writes the reference's checkpoint `{"<id>": [alpha, beta], ...}` for every
        tracked id, atomically; a directory gets index_score.json inside.
        Returns the file path."""
        path = _index_score_path(path_or_dir)
        ids = self.ids()
        alpha, beta = self.posterior(ids)
        doc = {str(i): [a, b] for i, a, b in zip(ids.tolist(), alpha.tolist(), beta.tolist())}
        _atomic_write(path, json.dumps(doc).encode())
        return path

    def import_index_score(self, path_or_dir):
        """Sets the posteriors from a reference index_score.json (ids not in the file
        keep their state). A bad file raises CheckpointError and changes nothing.
        Returns the number of ids read."""
        path = _index_score_path(path_or_dir)
        doc = _read_json_object(path)
        ids, alpha, beta = [], [], []
        for key, value in doc.items():
            ids.append(_id_of_key(key, path))
            if not (isinstance(value, list) and len(value) == 2 and all(map(_is_number, value))):
                raise CheckpointError(f"{path}: id {key}: expected [alpha, beta], got {value!r}")
            alpha.append(value[0])
            beta.append(value[1])
        with _as_checkpoint_error(path):
            self.set_posterior(np.array(ids, dtype=np.int64), alpha, beta)
        return len(ids)

    def warm_start_from_json(self, path, weight=3.0):
        """MoPPS warm start from offline results `{"<id>": [0/1, 0/1, ...], ...}`:
        successes = sum, trials = len. A bad file raises CheckpointError and changes
        nothing. Returns the number of ids read."""
        # Validates weight by a call on no ids: a bad weight is the caller's error,
        # not the file's, and must not be reported as CheckpointError below.
        self.warm_start([], [], [], weight)
        path = _index_score_path(path)
        doc = _read_json_object(path)
        ids, successes, trials = [], [], []
        for key, value in doc.items():
            ids.append(_id_of_key(key, path))
            if not (isinstance(value, list) and all(_is_number(v) and 0 <= v <= 1 for v in value)):
                raise CheckpointError(f"{path}: id {key}: expected a list of 0/1 results, got {value!r}")
            successes.append(sum(value))
            trials.append(len(value))
        with _as_checkpoint_error(path):
            self.warm_start(np.array(ids, dtype=np.int64), successes, trials, weight)
        return len(ids)


    # -- JSON interop with the reference implementation (DPS) --

    def export_hmm_params(self, path_or_dir):
        """Writes the DPS reference's checkpoint hmm_params.json (alphas, pis,
        pis_before, num_states, sampled_times, prior_alpha) for every tracked id, each
        brought to the current step, atomically. Returns the file path."""
        path = _file_in(path_or_dir, HMM_PARAMS_FILE)
        ids = self.ids()
        st = self.dps_state(ids)
        keys = [str(i) for i in ids.tolist()]
        doc = {
            "alphas": dict(zip(keys, st["alpha"].tolist())),
            "pis": dict(zip(keys, st["pi"].tolist())),
            "pis_before": dict(zip(keys, st["pi_before"].tolist())),
            "num_states": 3,
            "sampled_times": dict(zip(keys, st["sampled_times"].tolist())),
            "prior_alpha": self._dps_prior_counts().tolist(),
        }
        _atomic_write(path, json.dumps(doc).encode())
        return path

    def import_hmm_params(self, path_or_dir):
        """Sets DPS states from a reference hmm_params.json (ids not in the file keep
        theirs). A bad file (NaN beliefs, as the reference writes after a `local`
        prior meets a jump between unsolved and solved, wrong shapes, missing ids)
        raises CheckpointError and changes nothing. A different prior_alpha than this
        selector's is refused too: decay pulls counts towards the prior, so the
        selector's config must match the run being migrated. Returns the ids read."""
        path = _file_in(path_or_dir, HMM_PARAMS_FILE)
        doc = _read_json_object(path)
        missing = [k for k in ("alphas", "pis", "pis_before", "sampled_times") if not isinstance(doc.get(k), dict)]
        if missing:
            raise CheckpointError(f"{path}: missing or malformed {', '.join(missing)}")
        if doc.get("num_states", 3) != 3:
            raise CheckpointError(f"{path}: num_states is {doc['num_states']!r}; promptsel's DPS has 3 states")
        if "prior_alpha" in doc:
            theirs = np.asarray(doc["prior_alpha"], dtype=float)
            if theirs.shape != (3, 3) or not np.array_equal(theirs, self._dps_prior_counts()):
                raise CheckpointError(f"{path}: prior_alpha {doc['prior_alpha']!r} differs from this selector's "
                                      f"{self._dps_prior_counts().tolist()}; create it with the run's hmm_prior_alpha")
        keys = list(doc["alphas"])
        for part in ("pis", "pis_before", "sampled_times"):
            if set(doc[part]) != set(keys):
                raise CheckpointError(f"{path}: {part} and alphas list different ids")
        ids = np.array([_id_of_key(k, path) for k in keys], dtype=np.int64)
        try:
            alpha = np.array([doc["alphas"][k] for k in keys], dtype=float).reshape(len(keys), 3, 3)
            pi = np.array([doc["pis"][k] for k in keys], dtype=float).reshape(len(keys), 3)
            before = np.array([doc["pis_before"][k] for k in keys], dtype=float).reshape(len(keys), 3)
            sampled = np.array([doc["sampled_times"][k] for k in keys])
        except (TypeError, ValueError) as e:
            raise CheckpointError(f"{path}: malformed state arrays: {e}") from None
        if sampled.size and sampled.dtype.kind not in "iu":
            raise CheckpointError(f"{path}: sampled_times must be integers")
        for name, a in (("alphas", alpha), ("pis", pi), ("pis_before", before)):
            bad = ~np.isfinite(a).reshape(len(keys), -1).all(axis=1)
            if bad.any():
                raise CheckpointError(f"{path}: {name} of id {keys[int(np.argmax(bad))]} is not finite "
                                      "(the reference's NaN after an impossible transition?)")
        with _as_checkpoint_error(path):
            self.set_dps_state(ids, alpha, pi, before, sampled.astype(np.int64))
        return len(keys)

    def _dps_prior_counts(self):
        """The 3x3 prior transition counts of this DPS selector, as the reference
        writes prior_alpha: read from the library (the state of an unseen id in a
        fresh selector of the same prior), so the shapes live in one place."""
        c = self.config
        if c.method != "dps":
            raise UnsupportedError("hmm_params.json belongs to the DPS method; this selector runs " + c.method)
        with Selector("dps", prior_alpha=c.dps_prior_alpha, prior_pi=c.dps_prior_pi) as fresh:
            return fresh.dps_state([0])["alpha"][0]


@contextlib.contextmanager
def _as_checkpoint_error(path):
    """Values the library refuses came from the file: report them as a bad file."""
    try:
        yield
    except (InvalidArgumentError, OutOfRangeError) as e:
        raise CheckpointError(f"{path}: {e}") from e
