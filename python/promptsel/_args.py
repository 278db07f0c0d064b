"""Argument checks of the Python API. Inputs are checked here only where ctypes or
numpy would silently change them (a float id truncated, -1 wrapped to 2**64-1, int64
narrowed to int32, a bool taken for a number); everything else is validated by the
library, whose message the raised exception carries.
"""

import numbers
import operator
import os
import re

import numpy as np

from .errors import ArgumentTypeError, InvalidArgumentError, OutOfRangeError

_INT64_MAX = 2**63 - 1
_INT32_MIN, _INT32_MAX = -(2**31), 2**31 - 1
#: Values numpy would read as numbers although they are not meant as one.
BOOLS = (bool, np.bool_)
#: One text: iterating it gives characters (or byte values), never the texts meant.
TEXT = (str, bytes, bytearray, memoryview)


def not_text(x, name, expected):
    """Refuses one str / bytes where a sequence of `expected` is meant."""
    if isinstance(x, TEXT):
        raise ArgumentTypeError(f"{name} must be {expected}, got a single {type(x).__name__} "
                                f"{_short(x)}; wrap it in a list")


def first_bool(items):
    """Position of the first bool in a list or tuple, else None (one pass over the
    types: cheap next to numpy's own conversion of the list)."""
    types = set(map(type, items))
    if bool in types or np.bool_ in types:
        return next(i for i, v in enumerate(items) if isinstance(v, BOOLS))
    return None


def _short(x):
    text = repr(x)
    return text if len(text) <= 40 else text[:37] + "..."


def real(value, name):
    if isinstance(value, BOOLS) or not isinstance(value, numbers.Real):
        raise ArgumentTypeError(f"{name} must be a real number, got {value!r}")
    try:
        return float(value)
    except OverflowError:  # an int beyond the double range
        raise OutOfRangeError(f"{name} = {value} does not fit in a double") from None


def integer(value, name):
    if isinstance(value, BOOLS):
        raise ArgumentTypeError(f"{name} must be an integer, got {value!r}")
    try:
        return operator.index(value)
    except TypeError:
        raise ArgumentTypeError(f"{name} must be an integer, got {value!r}") from None


def bounded(value, name, lo, hi):
    """An integer in [lo, hi], checked before it sizes anything."""
    n = integer(value, name)
    if not lo <= n <= hi:
        raise OutOfRangeError(f"{name} must lie in [{lo}, {hi}], got {n}")
    return n


def count(value, name):
    """A size_t argument: ctypes would wrap a negative one to a huge size."""
    n = integer(value, name)
    if n < 0:
        raise InvalidArgumentError(f"{name} must be >= 0, got {n}")
    if n > _INT64_MAX:
        raise OutOfRangeError(f"{name} = {n} is too large")
    return n


def flag(value, name):
    if isinstance(value, BOOLS) or (isinstance(value, numbers.Integral) and value in (0, 1)):
        return int(bool(value))
    raise InvalidArgumentError(f"{name} must be a bool, got {value!r}")


def array(x, name):
    # numpy reads bytes as a scalar and bytearray as its byte values: neither is an array meant.
    not_text(x, name, "a 1-D array or sequence")
    try:
        a = np.asarray(x)  # lists, tuples, numpy arrays, CPU torch tensors
    except (TypeError, ValueError) as e:
        raise InvalidArgumentError(f"{name} cannot be read as an array: {e}") from None
    if a.ndim != 1:
        raise InvalidArgumentError(f"{name} must be a 1-D array, got shape {a.shape}")
    if a.size and a.dtype.kind in "iuf" and isinstance(x, (list, tuple)):
        i = first_bool(x)  # numpy made [True, 2] the numbers [1, 2]
        if i is not None:
            raise ArgumentTypeError(
                f"{name}[{i}] is {x[i]!r}: a bool is not a number here (it would count as {int(x[i])})")
    return a


def ids(x, name):
    """int64 prompt ids. Floats, bools and objects are refused rather than cast,
    so 1.5 or True never silently becomes prompt 1."""
    a = array(x, name)
    if a.size and a.dtype.kind not in "iu":
        raise ArgumentTypeError(f"{name} must hold integer prompt ids, got dtype {a.dtype}")
    if a.dtype.kind == "u" and a.size and a.max() > _INT64_MAX:
        raise OutOfRangeError(f"{name} holds {a.max()}, outside the int64 range of prompt ids")
    return np.ascontiguousarray(a, dtype=np.int64)


def reals(x, name):
    a = array(x, name)
    if a.size and a.dtype.kind not in "fiu":
        raise ArgumentTypeError(f"{name} must hold real numbers, got dtype {a.dtype}")
    return np.ascontiguousarray(a, dtype=np.float64)


def same_length(**arrays):
    lengths = {name: a.size for name, a in arrays.items()}
    if len(set(lengths.values())) > 1:
        raise InvalidArgumentError("lengths differ: " + ", ".join(f"{k}={v}" for k, v in lengths.items()))


def int32_range(lo, hi, name):
    if lo < _INT32_MIN or hi > _INT32_MAX:
        bad = lo if lo < _INT32_MIN else hi
        raise OutOfRangeError(f"{name} = {bad} does not fit in int32")


def rollouts(x, n):
    """int32 rollouts per id, from one int or a per-id array."""
    if np.ndim(x) == 0:
        k = integer(x, "rollouts")
        int32_range(k, k, "rollouts")
        return np.full(n, k, dtype=np.int32)
    a = array(x, "rollouts")
    if a.size and a.dtype.kind not in "iu":
        raise ArgumentTypeError(f"rollouts must hold integers, got dtype {a.dtype}")
    if a.size != n:
        raise InvalidArgumentError(f"lengths differ: ids={n}, rollouts={a.size}")
    if a.size:
        int32_range(int(a.min()), int(a.max()), "rollouts")
    return np.ascontiguousarray(a, dtype=np.int32)


def path(path):
    p = os.fsencode(os.fspath(path))
    if b"\0" in p:  # c_char_p would cut the path at the NUL
        raise InvalidArgumentError(f"path contains a NUL byte: {path!r}")
    return p


def byte_array(data):
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise InvalidArgumentError(f"checkpoint data must be bytes, got {type(data).__name__}")
    try:
        return np.frombuffer(data, dtype=np.uint8)
    except (BufferError, ValueError, TypeError):
        pass  # a strided or multi-dimensional view: its bytes, in logical order
    try:
        return np.frombuffer(memoryview(data).tobytes(), dtype=np.uint8)
    except (BufferError, ValueError, TypeError) as e:
        raise InvalidArgumentError(f"checkpoint data cannot be read as bytes: {e}") from None


def param_text(param, value):
    """One parameter value as the library's text, checked for its described type."""
    name = param.name
    if param.type == "real":
        return repr(real(value, name))
    if param.type == "uint64":
        v = integer(value, name)
        if not 0 <= v < 2**64:
            raise OutOfRangeError(f"{name} must lie in [0, 2**64), got {v}")
        return str(v)
    if param.type == "int":
        # Checked here against the described domain: beyond int64 the library could
        # only say "not an integer", which 2**70 is.
        lo, hi = _int_domain(param.domain)
        return str(bounded(value, name, lo, hi))
    if param.type == "bool":
        return "true" if flag(value, name) else "false"
    if not isinstance(value, str) or value not in param.choices:
        raise InvalidArgumentError(f"unknown {name} {value!r}; expected one of {', '.join(map(repr, param.choices))}")
    return value


def _int_domain(domain):
    """[lo, hi] of an "int" parameter's domain text "[1, 1024]" (int64 if unreadable)."""
    m = re.fullmatch(r"\[(-?\d+), (-?\d+)\]", domain.strip())
    return (int(m[1]), int(m[2])) if m else (-(2**63), _INT64_MAX)
