"""`Selector`: one native promptsel selector behind a numpy API, the same class for
every method (the method's own settings, state and metrics come from the library's
description of it; see promptsel.methods).

Every method is one C call on the whole batch (never one per prompt).
"""

import contextlib
import functools
import threading
import weakref

import numpy as np

from . import _args, _native, formats, methods
from ._accessors import MethodAccessors
from .errors import InvalidArgumentError, UnsupportedError

INDEX_SCORE_FILE = formats.INDEX_SCORE_FILE
HMM_PARAMS_FILE = formats.HMM_PARAMS_FILE
_SCOPES = {"step": _native.METRICS_STEP, "all": _native.METRICS_ALL}


class SelectorConfig:
    """A selector's configuration as the library reports it: `method` and `params`
    (every parameter by its library name, e.g. `config.params["decay"]`, also readable
    as `config.decay`), plus the 0.2 attribute names (`prior`, `dps_prior_alpha`, ...)."""

    __slots__ = ("method", "params")

    def __init__(self, method, params):
        object.__setattr__(self, "method", method)
        object.__setattr__(self, "params", dict(params))

    @classmethod
    def _from_text(cls, method, text):
        described = methods.describe(method).params
        values = dict(item.split("=", 1) for item in text.split())
        return cls(method, {k: methods.parse_value(described[k], v) for k, v in values.items()})

    def __getattr__(self, name):
        params = object.__getattribute__(self, "params")
        if name in params:
            return params[name]
        legacy = methods.METHODS[object.__getattribute__(self, "method")].legacy_config
        if name in legacy:
            return legacy[name](params)
        raise AttributeError(f"{object.__getattribute__(self, 'method')} selectors have no setting {name!r}")

    def __setattr__(self, name, value):
        raise AttributeError("SelectorConfig is read-only")

    def __eq__(self, other):
        return isinstance(other, SelectorConfig) and (self.method, self.params) == (other.method, other.params)

    def __hash__(self):
        return hash((self.method, tuple(sorted(self.params.items()))))

    def __repr__(self):
        return f"SelectorConfig(method={self.method!r}, " + ", ".join(f"{k}={v!r}" for k, v in self.params.items()) + ")"


def _state_bytes(state):
    try:
        data = state["state"]
    except (KeyError, TypeError, IndexError):
        raise InvalidArgumentError("expected a state_dict() mapping with a 'state' entry") from None
    return _args.byte_array(data)


#: The checkpoint frame's fields Python reads (Sources/PromptSelCore/Checkpoint/
#: CheckpointFormat.swift): magic, then the format version and the method's id (u32 LE).
_MAGIC = b"PSELCKPT"
_METHOD_FIELD = slice(12, 16)


@functools.lru_cache(maxsize=None)
def _method_ids():
    """Checkpoint method id -> method name, learned from the library's own
    checkpoints (never restated here)."""
    out = {}
    for name in methods.METHODS:
        with Selector(name) as sel:
            out[sel.to_bytes()[_METHOD_FIELD]] = name
    return out


def _checkpoint_method(arr):
    """The method a checkpoint's header names, without decoding it; None when the
    bytes are no checkpoint of a known method (deserializing them then reports why)."""
    head = arr[:16].tobytes()
    if len(head) < 16 or head[:8] != _MAGIC:
        return None
    return _method_ids().get(head[_METHOD_FIELD])


def _refuse_positions(ids, last_select):
    """update(positions) right after select(pool): the positions it returned, given
    back unchanged, where some of them are not ids of the pool."""
    if last_select is None or ids.size < 2:
        return  # one id: an id that happens to equal the one position is too likely
    pool, positions = last_select
    if ids.size != positions.size or not np.array_equal(ids, positions):
        return
    if np.array_equal(pool[positions], positions):
        return  # pool[p] == p: the ids are the positions (e.g. a pool of arange(n))
    foreign = ~np.isin(ids, pool)
    if foreign.any():
        raise InvalidArgumentError(
            f"update got the positions select() returned, not prompt ids: {int(ids[foreign][0])} is not an id "
            f"of the {pool.size} candidates. Pass candidate_ids[positions] (update takes prompt ids)")


def _refuse_per_rollout_rows(ids, rates, ks):
    """One row per rollout where one row per prompt is meant: each id given exactly
    as many times as the rollouts each row claims (>= 2), every rate 0 or 1. Each
    rollout would count rollouts[i] times."""
    if ids.size < 2 or ks.min() < 2 or not np.all((rates == 0) | (rates == 1)):
        return
    _, inverse, counts = np.unique(ids, return_inverse=True, return_counts=True)
    if np.array_equal(counts[inverse], ks):
        k = int(ks[0])
        raise InvalidArgumentError(
            f"update got one row per rollout: each of the {counts.size} ids appears as many times as its rollouts "
            f"(e.g. {k}), each with a 0/1 reward, so every rollout would count {k} times. update takes one row per "
            f"prompt: its mean success rate over the rollouts and their number (e.g. rewards.reshape(-1, {k})"
            ".mean(axis=1) with rollouts="
            f"{k}), or one row per rollout with rollouts=1")


class Selector(MethodAccessors):
    """Chooses which prompts to roll out each training step.

        sel = Selector("mopps", seed=0, strategy="topk", target=0.5, decay=1.0, prior=(1.0, 1.0))
        pos, scores = sel.select(candidate_ids, batch_size)
        sel.update(candidate_ids[pos], success_rate, rollouts=8)

    Any parameter of the method is a keyword (`promptsel.describe(method)` lists them
    with their defaults and domains; methods.METHODS adds the reference spellings such
    as MoPPS `prior=(a, b)` and DPS `prior_alpha="progress"`). Unknown keywords raise
    TypeError.

    A Selector is thread-safe. It owns a native handle, freed by close(), by the
    context manager or when the object is collected; any call after close() raises
    InvalidArgumentError.
    """

    def __init__(self, method="mopps", *, seed=0, strategy=None, no_update=False, **kwargs):
        spec = methods.spec(method)
        settings = {"seed": seed, "no_update": no_update, **spec.library_params(kwargs)}
        if strategy is not None:
            settings["strategy"] = strategy
        described = methods.describe(method).params
        text = " ".join(f"{k}={_args.param_text(described[k], v)}" for k, v in settings.items())
        self._adopt(_native.create(method, text))

    def _adopt(self, handle):
        # The lock keeps close() from freeing the handle while another thread is in a
        # call on it. Re-entrant: a signal handler (the usual preemption checkpoint)
        # may call save() while this thread is inside another call.
        self._lock = threading.RLock()
        self._handle = handle
        self._last_select = None  # (pool, positions) of the last select, until an update
        self._finalizer = weakref.finalize(self, _native.free, handle)
        self.method = _native.method_of(handle)
        self._width = _native.state_width(handle)

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
            self._last_select = None
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
        return f"<promptsel.Selector method={self.method!r} strategy={self.config.strategy!r} prompts={len(self)}>"

    # -- one training step --

    def select(self, candidate_ids, batch_size, *, with_state=False):
        """Chooses `batch_size` of the candidates. Returns (positions into
        candidate_ids as int64, acquisition scores as float64), in the method's order
        (topk: best first); with `with_state`, also the chosen candidates' state rows
        (batch, len(state_columns)) from the same call. Unseen ids start at the prior
        and are tracked."""
        ids = _args.ids(candidate_ids, "candidate_ids")
        batch = _args.count(batch_size, "batch_size")
        if batch > max(ids.size, 1):
            # The outputs are allocated before the call; never allocate for a batch
            # that cannot be valid. (An empty pool is left to the library to report.)
            raise InvalidArgumentError(f"batch_size {batch} exceeds the {ids.size} candidates")
        with self._live() as h:
            positions, scores, state = _native.select(h, ids, batch, self._width if with_state else 0)
            # For update's positions-for-ids check: the pool by reference (no copy of
            # a large pool), the positions by value (the caller may index with them).
            self._last_select = (ids, positions.copy())
        return (positions, scores, state) if with_state else (positions, scores)

    def update(self, ids, success_rate, rollouts):
        """Feeds back one step, one row per prompt: ids[i] (a prompt id, the value
        the candidates held, i.e. candidate_ids[positions], never the positions
        themselves) was rolled out rollouts[i] times (an int for all, or one per id)
        and success_rate[i] in [0, 1] is the mean reward of those rollouts (e.g. 3
        of 8 solved: 0.375, rollouts=8). Duplicate ids are applied in order.

        Two mistakes that would silently train the wrong prompts or count rollouts
        many times raise InvalidArgumentError (a ValueError), where they cannot be
        a legitimate call: (1) ids equal to the positions the previous select()
        returned (in order, two or more) when some of them are not ids of the pool
        it was given; (2) one row per rollout: every id repeated exactly
        rollouts[i] >= 2 times, each with a 0/1 rate. Pass per-rollout rewards as
        one row per prompt with their mean (or one row per rollout with
        rollouts=1)."""
        ids = _args.ids(ids, "ids")
        rates = _args.reals(success_rate, "success_rate")
        _args.same_length(ids=ids, success_rate=rates)
        ks = _args.rollouts(rollouts, ids.size)
        _refuse_per_rollout_rows(ids, rates, ks)
        with self._live() as h:
            _refuse_positions(ids, self._last_select)
            _native.update(h, ids, rates, ks)
            self._last_select = None

    def shuffle(self, values):
        """A random permutation of `values` (1-D integers, e.g. prompt ids or
        positions) as a new int64 array; the caller's array is never changed. Drawn
        from the selector's own seeded generator, whose state is in every checkpoint:
        a selector restored from a checkpoint shuffles exactly as the uninterrupted
        one would have, so a sampler needs no random generator of its own."""
        out = np.array(_args.ids(values, "values"), dtype=np.int64, copy=True)
        with self._live() as h:
            _native.shuffle(h, out)
        return out

    # -- queries (never create entries; unseen ids report the prior) --

    def predict(self, ids):
        """Expected success rate of each id (MoPPS: posterior mean)."""
        ids = _args.ids(ids, "ids")
        with self._live() as h:
            return _native.predict(h, ids)

    @property
    def state_columns(self):
        """Names of the per-prompt state columns (the library's description)."""
        return methods.describe(self.method).state

    def state(self, ids, columns=None):
        """The state of each id at the current step, shape (n, len(columns)): every
        column of `state_columns`, or the named ones (adjacent, in order), e.g.
        `state(ids, ["p_unsolved", "p_partial", "p_solved"])`."""
        ids = _args.ids(ids, "ids")
        first, width = 0, self._width
        if columns is not None:
            _args.not_text(columns, "columns", "a list of state column names")
            names = list(self.state_columns)
            try:
                first = names.index(columns[0]) if len(columns) else 0
            except ValueError:
                raise InvalidArgumentError(f"no state column {columns[0]!r}; {self.method} has {names}") from None
            width = len(columns)
            if names[first:first + width] != list(columns):
                raise InvalidArgumentError(f"columns {list(columns)} are not adjacent columns of {names}")
        with self._live() as h:
            return _native.get_state(h, ids, first, width)

    def prior_state(self):
        """The state row of a prompt never seen, as {column: value}."""
        with self._live() as h:
            row = _native.prior(h, self._width)
        return dict(zip(self.state_columns, row.tolist()))

    def set_state(self, ids, rows):
        """Sets the state of each id from rows shaped as state() returns them, adding
        ids not yet tracked. Every row is validated first; a bad one changes nothing."""
        ids = _args.ids(ids, "ids")
        a = np.asarray(rows)
        if a.dtype.kind not in "fiu" or a.shape != (ids.size, self._width):
            raise InvalidArgumentError(f"rows must be a real array of shape {(ids.size, self._width)}, "
                                       f"got {a.dtype} {a.shape}")
        with self._live() as h:
            _native.set_state(h, ids, a)

    def metrics(self, scope="step"):
        """The method's metrics: "step" (the last update, O(1)) or "all" (over every
        tracked prompt, O(prompts)), as {name: value}."""
        if scope not in _SCOPES:
            raise InvalidArgumentError(f"scope must be 'step' or 'all', got {scope!r}")
        with self._live() as h:
            values = _native.metrics(h, _SCOPES[scope])
        return dict(zip(methods.describe(self.method).metrics[scope], values.tolist()))

    def memory(self):
        """Memory of the per-prompt state, as the library counts it: {"bytes": heap
        bytes held (entries and hash slots, spare capacity included), "entry_bytes":
        bytes of one prompt's entry (id and model state), "prompts": prompts tracked}."""
        with self._live() as h:
            total, entry = _native.memory(h)
            return {"bytes": total, "entry_bytes": entry, "prompts": _native.count(h)}

    def __len__(self):
        with self._live() as h:
            return _native.count(h)

    def ids(self):
        """Tracked prompt ids in first-seen order (int64)."""
        with self._live() as h:
            return _native.ids(h)

    @property
    def config(self):
        """The configuration, read back from the library (a SelectorConfig)."""
        with self._live() as h:
            return SelectorConfig._from_text(self.method, _native.params(h))

    # -- prompt features (gps, hybrid) and test-time allocation --

    @property
    def feature_dim(self):
        """Dimension of the feature rows (0 for methods without features)."""
        with self._live() as h:
            return _native.feature_dim(h)

    def set_features(self, ids, X):
        """Registers or replaces the feature row of each id: X is (len(ids), dim) real
        (stored as float32), e.g. promptsel.featurize(texts, dim) or any embedding."""
        ids = _args.ids(ids, "ids")
        a = np.asarray(X)
        if a.dtype.kind not in "fiu" or a.ndim != 2 or a.shape[0] != ids.size:
            raise InvalidArgumentError(f"X must be a real array of shape (len(ids), dim) = ({ids.size}, dim), "
                                       f"got {a.dtype} {a.shape}")
        with self._live() as h:
            _native.set_features(h, ids, np.ascontiguousarray(a, dtype=np.float32))

    def predict_std(self, ids):
        """Standard deviation of each id's predictive success rate."""
        ids = _args.ids(ids, "ids")
        with self._live() as h:
            return _native.predict_std(h, ids)

    def allocate(self, ids, budget, min_per=0, max_per=None):
        """Test-time compute: samples per prompt (int64) maximising the expected number
        of prompts solved at least once under a total `budget`, each in [min_per,
        max_per] (max_per None: no cap), and the predicted success of each prompt.
        Returns (counts, predicted)."""
        ids = _args.ids(ids, "ids")
        budget = _args.count(budget, "budget")
        lo = _args.count(min_per, "min_per")
        hi = budget if max_per is None else _args.count(max_per, "max_per")
        with self._live() as h:
            return _native.allocate(h, ids, budget, lo, hi)

    def warm_start(self, ids, successes, trials, weight=3.0):
        """MoPPS: alpha = alpha0 + weight*successes, beta = beta0 + weight*(trials -
        successes), replacing any state of the ids (offline results)."""
        ids = _args.ids(ids, "ids")
        s = _args.reals(successes, "successes")
        t = _args.reals(trials, "trials")
        _args.same_length(ids=ids, successes=s, trials=t)
        w = _args.real(weight, "weight")
        with self._live() as h:
            _native.warm_start(h, ids, s, t, w)

    # -- checkpoints --

    def to_bytes(self):
        """The whole state (parameters, generator, every prompt) as checkpoint bytes."""
        with self._live() as h:
            return _native.serialize(h)

    @classmethod
    def from_bytes(cls, data):
        """A new Selector from to_bytes() output."""
        return cls._wrap(_native.from_bytes(_args.byte_array(data)))

    def state_dict(self):
        """Picklable state: {"state": bytes}."""
        return {"state": self.to_bytes()}

    @classmethod
    def from_state(cls, state):
        """A new Selector of whatever method a state_dict() holds (as load(path)
        does for a file)."""
        return cls._wrap(_native.from_bytes(_state_bytes(state)))

    def load_state_dict(self, state, *, allow_method_change=False):
        """Replaces the whole state (parameters included) with a state_dict(); a bad
        state raises and leaves this selector unchanged. A state of another method
        raises InvalidArgumentError naming both, unless allow_method_change=True
        (then this selector becomes that method); Selector.from_state(state) builds
        a selector of the state's method instead."""
        arr = _state_bytes(state)
        with self._live() as h:
            theirs = _checkpoint_method(arr)
            if theirs is not None and theirs != self.method and not allow_method_change:
                raise InvalidArgumentError(
                    f"the state holds a {theirs} selector but this one runs {self.method}: use "
                    f"Selector.from_state(state) for a {theirs} selector, or load_state_dict(state, "
                    f"allow_method_change=True) to make this one a {theirs} selector")
            _native.deserialize(h, arr)
            self.method = _native.method_of(h)
            self._width = _native.state_width(h)
            self._last_select = None

    def save(self, path):
        """Writes the checkpoint to `path` atomically (the old file survives any failure)."""
        p = _args.path(path)
        with self._live() as h:
            _native.save(h, p)

    @classmethod
    def load(cls, path):
        """A new Selector from a file written by save()."""
        return cls._wrap(_native.load(_args.path(path)))

    def __getstate__(self):
        return self.state_dict()

    def __setstate__(self, state):
        self._adopt(_native.from_bytes(_args.byte_array(state["state"])))

    # -- the reference samplers' files (promptsel.formats) --

    def export_reference(self, path_or_dir):
        """Writes the reference sampler's checkpoint of this method (index_score.json,
        hmm_params.json) atomically; a directory gets the file inside. Returns its path."""
        spec = methods.spec(self.method)
        if spec.export_reference is None:
            raise UnsupportedError(f"method {self.method} has no reference implementation file")
        return spec.export_reference(self, path_or_dir)

    def import_reference(self, path_or_dir):
        """Sets states from the reference sampler's checkpoint (ids not in the file keep
        theirs). A bad file raises CheckpointError and changes nothing. Returns the
        number of ids read."""
        spec = methods.spec(self.method)
        if spec.import_reference is None:
            raise UnsupportedError(f"method {self.method} has no reference implementation file")
        return spec.import_reference(self, path_or_dir)

    def export_index_score(self, path_or_dir):
        """MoPPS: writes the reference's `{"<id>": [alpha, beta], ...}`; returns the path."""
        return formats.export_index_score(self, path_or_dir)

    def import_index_score(self, path_or_dir):
        """MoPPS: sets the posteriors from a reference index_score.json."""
        return formats.import_index_score(self, path_or_dir)

    def warm_start_from_json(self, path, weight=3.0):
        """MoPPS warm start from offline results `{"<id>": [0/1, 0/1, ...], ...}`:
        successes = sum, trials = len. Returns the number of ids read."""
        return formats.warm_start_from_json(self, path, weight)

    def export_hmm_params(self, path_or_dir):
        """DPS: writes the reference's hmm_params.json; returns the path."""
        return formats.export_hmm_params(self, path_or_dir)

    def import_hmm_params(self, path_or_dir):
        """DPS: sets states from a reference hmm_params.json (a different prior_alpha,
        NaN beliefs, wrong shapes or missing ids are refused)."""
        return formats.import_hmm_params(self, path_or_dir)
