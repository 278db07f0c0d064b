"""Prompt ids from strings: `prompt_ids(values)` maps ints, str and bytes to the int64
ids a Selector tracks, the same in every process, on every machine and in C
(`promptsel_ids_from_strings`, whose header comment defines the mapping):

- an integer is its own id (int64 range);
- a string (str as UTF-8, or bytes) that is the canonical decimal spelling of an
  int64, exactly as `str(int)` writes it, is that integer: "5" and 5 are the same
  prompt, so a run keyed by str(index) and one keyed by index agree;
- any other string is hashed: fmix64(FNV-1a-64(bytes)) as an int64.

Within one call, two different values that map to the same id (a hash collision, or
a string whose hash equals an integer also given) raise InvalidArgumentError naming
both; a value repeated is fine. Collisions across calls are not looked for.
"""

import numbers

import numpy as np

from . import _native
from .errors import ArgumentTypeError, InvalidArgumentError, OutOfRangeError

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_STRINGS = (str, bytes, bytearray, memoryview)


def prompt_ids(values):
    """int64 ids of `values` (a sequence or 1-D numpy array of ints, str and bytes,
    mixed), as a new np.ndarray[int64] of the same length. All strings of the call go
    through one native call. bool, float, None and other types raise
    ArgumentTypeError (an InvalidArgumentError and a TypeError) naming the first one
    and its position; an int outside int64 raises OutOfRangeError."""
    if isinstance(values, _STRINGS):
        raise ArgumentTypeError(
            f"prompt_ids takes a sequence of ids, got a single {type(values).__name__}; wrap it in a list")
    if not isinstance(values, np.ndarray) and hasattr(values, "__array__"):
        values = np.asarray(values)  # a CPU torch tensor, a pandas Series
    if isinstance(values, np.ndarray):
        if values.ndim != 1:
            raise InvalidArgumentError(f"prompt_ids takes a 1-D array, got shape {values.shape}")
        if values.size == 0:
            return np.empty(0, dtype=np.int64)
        if values.dtype.kind in "iu":
            return _integer_array(values)
        if values.dtype.kind not in "OSU":
            raise ArgumentTypeError(
                f"values[0] = {values[0]!r} is not a prompt id: dtype {values.dtype} (ints, str or bytes only)")
        items = values.tolist()
    else:
        try:
            items = list(values)
        except TypeError:
            raise ArgumentTypeError(f"prompt_ids takes a sequence of ids, got {type(values).__name__}") from None

    packed = _all_integers(items)
    if packed is not None:
        return packed
    out = np.empty(len(items), dtype=np.int64)
    keys = [None] * len(items)            # the value each id stands for: an int, or the bytes of a hashed string
    positions, blobs = [], []             # the strings, in order
    for i, v in enumerate(items):
        if isinstance(v, (str, bytes, bytearray)):
            if isinstance(v, str):
                try:
                    v = v.encode("utf-8")
                except UnicodeEncodeError as e:
                    raise InvalidArgumentError(
                        f"values[{i}] = {items[i]!r} is not valid Unicode text ({e.reason}); pass its bytes") from None
            positions.append(i)
            blobs.append(bytes(v))
        elif isinstance(v, numbers.Integral) and not isinstance(v, (bool, np.bool_)):
            k = int(v)
            if not _INT64_MIN <= k <= _INT64_MAX:
                raise OutOfRangeError(f"values[{i}] = {k} is outside the int64 range of prompt ids")
            out[i] = keys[i] = k
        else:
            raise ArgumentTypeError(
                f"values[{i}] = {v!r} ({type(v).__name__}) is not a prompt id: ints, str or bytes only")
    if not blobs:
        return out

    offsets = np.zeros(len(blobs) + 1, dtype=np.uintp)
    np.cumsum([len(b) for b in blobs], out=offsets[1:])
    data = np.frombuffer(b"".join(blobs), dtype=np.uint8)
    hashed_ids = _native.ids_from_strings(data, offsets)
    pos = np.asarray(positions, dtype=np.intp)
    out[pos] = hashed_ids
    for i, b, h in zip(positions, blobs, hashed_ids.tolist()):
        keys[i] = _canonical(b, h)
    _check_collisions(items, out, keys)
    return out


def _all_integers(items):
    """items as int64 in one numpy call when every one is an int (a dataset's million
    ids: no loop in Python), else None. By exact type: bool is an int to numpy and
    to isinstance, and [True, 2] must not become the ids [1, 2]."""
    types = set(map(type, items))
    if not types or not all(t is int or issubclass(t, np.signedinteger) for t in types):
        return None
    try:
        return np.array(items, dtype=np.int64)
    except OverflowError:  # beyond int64: the loop names the value and its position
        return None


def _integer_array(values):
    if values.dtype.kind == "u" and values.size and values.max() > _INT64_MAX:
        i = int(np.argmax(values > _INT64_MAX))
        raise OutOfRangeError(f"values[{i}] = {values[i]} is outside the int64 range of prompt ids")
    return np.array(values, dtype=np.int64)  # a copy: the caller's array is never aliased


def _canonical(b, id_):
    """The value a string stands for: the integer it spells canonically (the id the
    library returned for it), else its bytes."""
    if len(b) <= 20 and b.lstrip(b"-").isdigit() and b.isascii():
        try:
            k = int(b)
        except ValueError:
            return b
        if str(k).encode() == b and k == id_:
            return k
    return b


def _check_collisions(items, ids, keys):
    """Distinct values (after "5" == 5) with one id: the first pair, by position."""
    order = np.argsort(ids, kind="stable")
    sorted_ids = ids[order]
    same = np.flatnonzero(sorted_ids[1:] == sorted_ids[:-1])
    if not same.size:
        return
    first_of = {}
    clash = None
    for j in same.tolist():
        a, b = int(order[j]), int(order[j + 1])
        first = first_of.setdefault(int(sorted_ids[j]), a)
        if keys[b] != keys[first]:
            pair = (first, b)
            clash = pair if clash is None or pair[1] < clash[1] else clash
    if clash is not None:
        a, b = clash
        raise InvalidArgumentError(
            f"prompt id collision: values[{a}] = {items[a]!r} and values[{b}] = {items[b]!r} are different "
            f"values with the same id {int(ids[a])}; give one of them another key")
