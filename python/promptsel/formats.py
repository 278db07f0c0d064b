"""The reference samplers' file formats, read and written through a Selector:

- MoPPS `index_score.json`: `{"<id>": [alpha, beta], ...}`, its checkpoint;
- MoPPS warm-start results: `{"<id>": [0/1, 0/1, ...], ...}`;
- DPS `hmm_params.json`: alphas, pis, pis_before, num_states, sampled_times, prior_alpha.

Every file is written atomically by the library (promptsel_file_write_atomic). A
file that cannot be trusted raises CheckpointError and changes nothing.
"""

import contextlib
import json
import os
import re

import numpy as np

from . import _native
from .errors import CheckpointError, InvalidArgumentError, OutOfRangeError, UnsupportedError

#: File name of the MoPPS reference's checkpoint, `{"<id>": [alpha, beta], ...}`.
INDEX_SCORE_FILE = "index_score.json"
#: File name of the DPS reference's checkpoint (alphas, pis, pis_before, ...).
HMM_PARAMS_FILE = "hmm_params.json"

_INT64_MAX = 2**63 - 1
_ID_KEY = re.compile(r"-?[0-9]+", re.ASCII)


def file_in(path_or_dir, name):
    path = os.fspath(path_or_dir)
    return os.path.join(path, name) if os.path.isdir(path) else path


def write_json(path, doc):
    _native.write_atomic(os.fsencode(path), json.dumps(doc).encode())


def read_json_object(path):
    try:
        with open(path, "rb") as f:
            data = json.load(f)
    except (ValueError, RecursionError) as e:  # bad JSON or UTF-8, ints beyond int()'s digit limit, deep nesting
        raise CheckpointError(f"{path}: not valid JSON: {type(e).__name__}: {e}") from None
    # OSError (a missing file: FileNotFoundError) passes unchanged: it is no verdict on the file.
    if not isinstance(data, dict):
        raise CheckpointError(f"{path}: expected a JSON object keyed by prompt id, got {type(data).__name__}")
    return data


def id_of_key(key, path):
    # Keys are str(index) as the reference writes them; anything else is refused.
    if len(key) > 20 or not _ID_KEY.fullmatch(key) or str(int(key)) != key or not -(2**63) <= int(key) <= _INT64_MAX:
        raise CheckpointError(f"{path}: key {key!r} is not a prompt id (a decimal int64)")
    return int(key)


def is_number(v):
    """A JSON number that fits a double (booleans are not numbers)."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return False
    try:
        float(v)
    except OverflowError:  # a 400-digit integer
        return False
    return True


def numbers(values, path, what, shape=None):
    """`values` (nested lists from JSON) as a float64 array of `shape`, every leaf a
    number: anything else is the file's fault, reported as CheckpointError."""
    def leaves(v):
        if isinstance(v, list):
            for x in v:
                yield from leaves(x)
        else:
            yield v
    try:
        bad = next((v for v in leaves(values) if not is_number(v)), None)
    except RecursionError:
        raise CheckpointError(f"{path}: {what} is nested too deeply") from None
    if bad is not None:
        raise CheckpointError(f"{path}: {what} holds {bad!r}, not a number")
    try:
        a = np.array(values, dtype=np.float64)
    except (ValueError, TypeError, OverflowError) as e:  # ragged lists
        raise CheckpointError(f"{path}: {what} is malformed: {e}") from None
    if shape is not None and a.shape != shape:
        raise CheckpointError(f"{path}: {what} has shape {a.shape}, expected {shape}")
    return a


@contextlib.contextmanager
def as_checkpoint_error(path):
    """Values the library refuses came from the file: report them as a bad file."""
    try:
        yield
    except (InvalidArgumentError, OutOfRangeError) as e:
        raise CheckpointError(f"{path}: {e}") from e


def _require(sel, method, label, what):
    if sel.method != method:
        raise UnsupportedError(f"{what} belongs to the {label} method; this selector runs {sel.method}")


# ---- MoPPS -------------------------------------------------------------------------

def export_index_score(sel, path_or_dir):
    _require(sel, "mopps", "MoPPS", INDEX_SCORE_FILE)
    path = file_in(path_or_dir, INDEX_SCORE_FILE)
    ids = sel.ids()
    alpha, beta = sel.posterior(ids)
    write_json(path, {str(i): [a, b] for i, a, b in zip(ids.tolist(), alpha.tolist(), beta.tolist())})
    return path


def import_index_score(sel, path_or_dir):
    _require(sel, "mopps", "MoPPS", INDEX_SCORE_FILE)
    path = file_in(path_or_dir, INDEX_SCORE_FILE)
    doc = read_json_object(path)
    ids, alpha, beta = [], [], []
    for key, value in doc.items():
        ids.append(id_of_key(key, path))
        if not (isinstance(value, list) and len(value) == 2 and all(map(is_number, value))):
            raise CheckpointError(f"{path}: id {key}: expected [alpha, beta], got {value!r:.200}")
        alpha.append(value[0])
        beta.append(value[1])
    with as_checkpoint_error(path):
        sel.set_posterior(np.array(ids, dtype=np.int64), alpha, beta)
    return len(ids)


def warm_start_from_json(sel, path, weight):
    # Validates weight by a call on no ids: a bad weight is the caller's error,
    # not the file's, and must not be reported as CheckpointError below.
    sel.warm_start([], [], [], weight)
    path = file_in(path, INDEX_SCORE_FILE)
    doc = read_json_object(path)
    ids, successes, trials = [], [], []
    for key, value in doc.items():
        ids.append(id_of_key(key, path))
        if not (isinstance(value, list) and all(is_number(v) and 0 <= v <= 1 for v in value)):
            raise CheckpointError(f"{path}: id {key}: expected a list of 0/1 results, got {value!r:.200}")
        successes.append(sum(value))
        trials.append(len(value))
    with as_checkpoint_error(path):
        sel.warm_start(np.array(ids, dtype=np.int64), successes, trials, weight)
    return len(ids)


# ---- DPS ---------------------------------------------------------------------------

def _dps_prior_counts(sel):
    """The 3x3 prior transition counts [to][from], as the reference writes prior_alpha
    (read from the library: the state of a prompt never seen)."""
    prior = sel.prior_state()
    return np.array([[prior[f"alpha_{to}{frm}"] for frm in range(3)] for to in range(3)])


def export_hmm_params(sel, path_or_dir):
    _require(sel, "dps", "DPS", HMM_PARAMS_FILE)
    path = file_in(path_or_dir, HMM_PARAMS_FILE)
    ids = sel.ids()
    st = sel.dps_state(ids)
    keys = [str(i) for i in ids.tolist()]
    write_json(path, {
        "alphas": dict(zip(keys, st["alpha"].tolist())),
        "pis": dict(zip(keys, st["pi"].tolist())),
        "pis_before": dict(zip(keys, st["pi_before"].tolist())),
        "num_states": 3,
        "sampled_times": dict(zip(keys, st["sampled_times"].tolist())),
        "prior_alpha": _dps_prior_counts(sel).tolist(),
    })
    return path


def import_hmm_params(sel, path_or_dir):
    _require(sel, "dps", "DPS", HMM_PARAMS_FILE)
    path = file_in(path_or_dir, HMM_PARAMS_FILE)
    doc = read_json_object(path)
    missing = [k for k in ("alphas", "pis", "pis_before", "sampled_times") if not isinstance(doc.get(k), dict)]
    if missing:
        raise CheckpointError(f"{path}: missing or malformed {', '.join(missing)}")
    if doc.get("num_states", 3) != 3:
        raise CheckpointError(f"{path}: num_states is {doc['num_states']!r}; promptsel's DPS has 3 states")
    if "prior_alpha" in doc:
        ours = _dps_prior_counts(sel)
        theirs = numbers(doc["prior_alpha"], path, "prior_alpha")
        if theirs.shape != (3, 3) or not np.array_equal(theirs, ours):
            raise CheckpointError(f"{path}: prior_alpha {doc['prior_alpha']!r} differs from this selector's "
                                  f"{ours.tolist()}; create it with the run's hmm_prior_alpha")
    keys = list(doc["alphas"])
    for part in ("pis", "pis_before", "sampled_times"):
        if set(doc[part]) != set(keys):
            raise CheckpointError(f"{path}: {part} and alphas list different ids")
    ids = np.array([id_of_key(k, path) for k in keys], dtype=np.int64)
    n = len(keys)
    alpha = numbers([doc["alphas"][k] for k in keys], path, "alphas", (n, 3, 3) if n else None).reshape(n, 3, 3)
    pi = numbers([doc["pis"][k] for k in keys], path, "pis", (n, 3) if n else None).reshape(n, 3)
    before = numbers([doc["pis_before"][k] for k in keys], path, "pis_before", (n, 3) if n else None).reshape(n, 3)
    raw_sampled = [doc["sampled_times"][k] for k in keys]
    bad = [v for v in raw_sampled if isinstance(v, bool) or not isinstance(v, int)][:1]
    if bad:  # a list, not next(..., None): a null count is itself the bad value
        raise CheckpointError(f"{path}: sampled_times must be integers, got {bad[0]!r}")
    if any(not 0 <= v < 2**32 for v in raw_sampled):
        raise CheckpointError(f"{path}: sampled_times must lie in [0, 2**32)")
    sampled = np.array(raw_sampled, dtype=np.int64)
    for name, a in (("alphas", alpha), ("pis", pi), ("pis_before", before)):
        bad = ~np.isfinite(a.reshape(len(keys), a[0].size if len(keys) else 0)).all(axis=1)
        if bad.any():
            raise CheckpointError(f"{path}: {name} of id {keys[int(np.argmax(bad))]} is not finite "
                                  "(the reference's NaN after an impossible transition?)")
    with as_checkpoint_error(path):
        sel.set_dps_state(ids, alpha, pi, before, sampled.astype(np.int64))
    return len(keys)
