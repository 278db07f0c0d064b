"""The one module that touches ctypes: the loader, the ABI check, one signature per C
function of include/promptsel.h, the status -> exception errcheck, and typed call
wrappers that own the buffer-capacity retries. Not public API: use promptsel.Selector.
"""

import ctypes
import os
from pathlib import Path

import numpy as np
from numpy.ctypeslib import ndpointer

from . import errors
from ._constants import ABI_VERSION, METRICS_ALL, METRICS_STEP  # noqa: F401  (generated from the header)

PACKAGE_DIR = Path(__file__).resolve().parent
#: The source checkout this package sits in (python/promptsel/ of the repository),
#: or None for an installed copy.
CHECKOUT = PACKAGE_DIR.parent.parent if (PACKAGE_DIR.parent.parent / "Package.swift").is_file() else None
LIBRARY_NAME = "libpromptsel.so"


class _Selector(ctypes.Structure):
    """Opaque `promptsel_selector`: only pointers to it exist. A distinct type makes
    ctypes reject any other pointer passed as a handle."""


SelectorPtr = ctypes.POINTER(_Selector)


# ---- Loading ---------------------------------------------------------------------

def _candidates():
    """Where the library may be, in search order: PROMPTSEL_LIB (an explicit choice:
    nothing else is tried), the copy bundled in the package (a wheel), then a source
    checkout's `make lib` and `make lib-static` builds."""
    env = os.environ.get("PROMPTSEL_LIB")
    if env:
        return [Path(env)], "PROMPTSEL_LIB"
    places = [PACKAGE_DIR / LIBRARY_NAME]
    if CHECKOUT is not None:
        places += [CHECKOUT / ".build" / "release" / LIBRARY_NAME, CHECKOUT / ".build-static" / "release" / LIBRARY_NAME]
    return places, "checkout" if CHECKOUT is not None else "installed"


def _advice(kind: str) -> str:
    if kind == "PROMPTSEL_LIB":
        return "PROMPTSEL_LIB names no file: point it at a libpromptsel.so or unset it to use the bundled copy"
    if kind == "checkout":
        return (f"this is a source checkout ({CHECKOUT}): build the library with `make lib` "
                "(or `make lib-static`), or set PROMPTSEL_LIB")
    return ("this installed promptsel has no library: it was installed from a wheel for another platform or "
            "from a pure-Python build; reinstall the wheel built for this platform "
            "(pip install --force-reinstall --no-cache-dir promptsel, or the promptsel-*-manylinux_*.whl you built), "
            "or set PROMPTSEL_LIB to a libpromptsel.so")


def _load() -> ctypes.CDLL:
    places, kind = _candidates()
    for path in places:
        if not path.is_file():
            continue
        try:
            # An absolute path: never let the dynamic loader search for another copy.
            return ctypes.CDLL(str(path.resolve()))
        except OSError as e:
            if "libswift" in str(e):
                raise errors.LibraryLoadError(
                    f"{path} is a dynamic build that needs the Swift runtime, which this machine lacks ({e}). "
                    "Install the promptsel wheel (its library has the Swift runtime linked in), build one with "
                    "`make lib-static` or `pip install .`, or add the Swift toolchain's usr/lib/swift/linux "
                    "to LD_LIBRARY_PATH") from None
            raise errors.LibraryLoadError(f"{path} could not be loaded: {e}") from None
    raise errors.LibraryLoadError(f"{LIBRARY_NAME} not found; looked in: " + ", ".join(map(str, places))
                                  + ". " + _advice(kind))


# ---- Signatures ------------------------------------------------------------------

def _in(dtype):
    return ndpointer(dtype, ndim=1, flags="C_CONTIGUOUS")


def _out(dtype):
    return ndpointer(dtype, ndim=1, flags="C_CONTIGUOUS,WRITEABLE")


def _check(result, func, args):
    """errcheck of every int-returning function: negative status -> exception.
    It runs on the calling thread right after the call, which is what the
    thread-local promptsel_last_error needs."""
    if result >= 0:
        return result
    message = lib.promptsel_last_error()
    text = message.decode("utf-8", "replace") if message else lib.promptsel_status_string(result).decode()
    raise errors.error_for_status(result, f"{func.__name__}: {text}")


_c = ctypes
_size = _c.c_size_t
_size_p = _c.POINTER(_c.c_size_t)
_handle_out = _c.POINTER(SelectorPtr)
_text_out = _c.c_char_p  # a caller buffer (create_string_buffer) or None

# name: (restype, argtypes); restype c_int means a status checked by _check.
_SIGNATURES = {
    "promptsel_version_number": (_c.c_uint32, []),
    "promptsel_version_string": (_c.c_char_p, []),
    "promptsel_abi_version": (_c.c_uint32, []),
    "promptsel_status_string": (_c.c_char_p, [_c.c_int]),
    "promptsel_last_error": (_c.c_char_p, []),
    "promptsel_methods": (_c.c_int, [_text_out, _size, _size_p]),
    "promptsel_method_describe": (_c.c_int, [_text_out, _size, _size_p, _c.c_char_p]),
    "promptsel_selector_create": (_c.c_int, [_handle_out, _c.c_char_p, _c.c_char_p]),
    "promptsel_selector_free": (None, [SelectorPtr]),
    "promptsel_selector_method": (_c.c_char_p, [SelectorPtr]),
    "promptsel_selector_params": (_c.c_int, [_text_out, _size, _size_p, SelectorPtr]),
    "promptsel_selector_count": (_c.c_int, [_size_p, SelectorPtr]),
    "promptsel_selector_memory": (_c.c_int, [_size_p, _size_p, SelectorPtr]),
    "promptsel_selector_ids": (_c.c_int, [_out(np.int64), _size, _size_p, SelectorPtr]),
    "promptsel_selector_state_width": (_c.c_int, [_size_p, SelectorPtr]),
    "promptsel_selector_select": (_c.c_int, [_out(np.int64), _out(np.float64), _c.c_void_p, _size, _size_p,
                                             SelectorPtr, _in(np.int64), _size, _size]),
    "promptsel_selector_update": (_c.c_int, [SelectorPtr, _in(np.int64), _in(np.float64), _in(np.int32), _size]),
    "promptsel_selector_shuffle": (_c.c_int, [SelectorPtr, _out(np.int64), _size]),
    "promptsel_selector_predict": (_c.c_int, [_out(np.float64), _size, SelectorPtr, _in(np.int64), _size]),
    "promptsel_selector_get_state": (_c.c_int, [_out(np.float64), _size, SelectorPtr, _in(np.int64), _size,
                                                _size, _size]),
    "promptsel_selector_prior": (_c.c_int, [_out(np.float64), _size, SelectorPtr]),
    "promptsel_selector_metrics": (_c.c_int, [_out(np.float64), _size, _size_p, SelectorPtr, _c.c_int]),
    "promptsel_selector_set_state": (_c.c_int, [SelectorPtr, _in(np.int64), _in(np.float64), _size]),
    "promptsel_selector_warm_start": (_c.c_int, [SelectorPtr, _in(np.int64), _in(np.float64), _in(np.float64),
                                                 _size, _c.c_double]),
    "promptsel_selector_serialize": (_c.c_int, [_out(np.uint8), _size, _size_p, SelectorPtr]),
    "promptsel_selector_deserialize": (_c.c_int, [SelectorPtr, _in(np.uint8), _size]),
    "promptsel_selector_from_bytes": (_c.c_int, [_handle_out, _in(np.uint8), _size]),
    "promptsel_selector_save": (_c.c_int, [SelectorPtr, _c.c_char_p]),
    "promptsel_selector_load": (_c.c_int, [_handle_out, _c.c_char_p]),
    "promptsel_file_write_atomic": (_c.c_int, [_c.c_char_p, _in(np.uint8), _size]),
    "promptsel_selector_set_features": (_c.c_int, [SelectorPtr, _in(np.int64), _in(np.float32), _size, _size]),
    "promptsel_selector_feature_dim": (_c.c_int, [_size_p, SelectorPtr]),
    "promptsel_selector_predict_std": (_c.c_int, [_out(np.float64), _size, SelectorPtr, _in(np.int64), _size]),
    "promptsel_selector_allocate": (_c.c_int, [_out(np.int64), _out(np.float64), _size, SelectorPtr, _in(np.int64),
                                               _size, _size, _size, _size]),
    "promptsel_featurize_text": (_c.c_int, [_out(np.float32), _size, _c.c_char_p, _in(np.uintp), _size, _size]),
    "promptsel_featurize_tokens": (_c.c_int, [_out(np.float32), _size, _in(np.int64), _in(np.uintp), _size, _size]),
    "promptsel_ids_from_strings": (_c.c_int, [_out(np.int64), _size, _in(np.uint8), _size, _in(np.uintp), _size]),
}


def _declare(library: ctypes.CDLL) -> None:
    # Functions are only added within an ABI version: an older library of the same
    # ABI lacks the newer ones, which is a load error with the fix, not an AttributeError.
    missing = [name for name in _SIGNATURES if not hasattr(library, name)]
    if missing:
        raise errors.LibraryLoadError(
            f"{library._name} lacks {', '.join(missing)}: it is older than this promptsel Python package; "
            + ("rebuild the library (make lib)" if CHECKOUT is not None else "reinstall promptsel"))
    for name, (restype, argtypes) in _SIGNATURES.items():
        fn = getattr(library, name)
        fn.restype = restype
        fn.argtypes = argtypes
        if restype is _c.c_int:
            fn.errcheck = _check


def _check_abi(library: ctypes.CDLL) -> None:
    # Before any other declaration: a library of another ABI may lack symbols, and
    # its user should read this message, not an AttributeError.
    library.promptsel_abi_version.restype = _c.c_uint32
    library.promptsel_abi_version.argtypes = []
    found = library.promptsel_abi_version()
    if found != ABI_VERSION:
        raise errors.LibraryLoadError(
            f"{library._name} has ABI version {found} but the promptsel Python package expects {ABI_VERSION}: "
            + ("rebuild the library (make lib)" if CHECKOUT is not None else "reinstall promptsel"))


lib = _load()
_check_abi(lib)
_declare(lib)


def library_path() -> Path:
    """The libpromptsel.so this interpreter loaded."""
    return Path(lib._name)


# ---- Typed calls (the retries on PROMPTSEL_E_BUFFER_TOO_SMALL live here) ---------

def _text(fn, *args):
    """A text output: asks for the size, then reads (again if it grew meanwhile)."""
    need = ctypes.c_size_t()
    size = 256
    while True:
        buf = ctypes.create_string_buffer(size)
        try:
            fn(buf, size, ctypes.byref(need), *args)
            return buf.value.decode()
        except errors.BufferTooSmallError:
            size = need.value + 1


def methods():
    return _text(lib.promptsel_methods).split()


def describe(method: str) -> str:
    return _text(lib.promptsel_method_describe, method.encode())


def create(method: str, params: str):
    handle = SelectorPtr()
    lib.promptsel_selector_create(ctypes.byref(handle), method.encode(), params.encode())
    return handle


def free(handle) -> None:
    lib.promptsel_selector_free(handle)


def method_of(handle) -> str:
    return lib.promptsel_selector_method(handle).decode()


def params(handle) -> str:
    return _text(lib.promptsel_selector_params, handle)


def count(handle) -> int:
    n = ctypes.c_size_t()
    lib.promptsel_selector_count(ctypes.byref(n), handle)
    return n.value


def memory(handle):
    total, entry = ctypes.c_size_t(), ctypes.c_size_t()
    lib.promptsel_selector_memory(ctypes.byref(total), ctypes.byref(entry), handle)
    return total.value, entry.value


def state_width(handle) -> int:
    n = ctypes.c_size_t()
    lib.promptsel_selector_state_width(ctypes.byref(n), handle)
    return n.value


def ids(handle):
    n = ctypes.c_size_t(count(handle))
    while True:
        out = np.empty(n.value, dtype=np.int64)
        try:
            lib.promptsel_selector_ids(out, out.size, ctypes.byref(n), handle)
            return out[: n.value]
        except errors.BufferTooSmallError:
            continue  # grew meanwhile; n now holds the new count


def select(handle, candidates, batch: int, width: int = 0):
    """(positions, scores, state rows (batch, width) or None when width is 0)."""
    positions = np.empty(batch, dtype=np.int64)
    scores = np.empty(batch, dtype=np.float64)
    state = np.empty((batch, width), dtype=np.float64) if width else None
    n = ctypes.c_size_t()
    lib.promptsel_selector_select(positions, scores, None if state is None else state.ctypes.data, batch,
                                  ctypes.byref(n), handle, candidates, candidates.size, batch)
    return positions[: n.value], scores[: n.value], state


def update(handle, ids_, rates, rollouts) -> None:
    lib.promptsel_selector_update(handle, ids_, rates, rollouts, ids_.size)


def shuffle(handle, values) -> None:
    """Shuffles an int64 array in place with the handle's generator."""
    lib.promptsel_selector_shuffle(handle, values, values.size)


def predict(handle, ids_):
    out = np.empty(ids_.size, dtype=np.float64)
    lib.promptsel_selector_predict(out, out.size, handle, ids_, ids_.size)
    return out


def get_state(handle, ids_, first: int, width: int):
    """Columns [first, first + width) of each id's state row, shape (n, width)."""
    out = np.empty(ids_.size * width, dtype=np.float64)
    lib.promptsel_selector_get_state(out, out.size, handle, ids_, ids_.size, first, width)
    return out.reshape(ids_.size, width)


def prior(handle, width: int):
    out = np.empty(width, dtype=np.float64)
    lib.promptsel_selector_prior(out, out.size, handle)
    return out


def set_state(handle, ids_, rows) -> None:
    lib.promptsel_selector_set_state(handle, ids_, np.ascontiguousarray(rows, dtype=np.float64).ravel(), ids_.size)


def warm_start(handle, ids_, successes, trials, weight: float) -> None:
    lib.promptsel_selector_warm_start(handle, ids_, successes, trials, ids_.size, weight)


def metrics(handle, scope: int):
    n = ctypes.c_size_t()
    out = np.empty(32, dtype=np.float64)
    while True:
        try:
            lib.promptsel_selector_metrics(out, out.size, ctypes.byref(n), handle, scope)
            return out[: n.value]
        except errors.BufferTooSmallError:
            out = np.empty(n.value, dtype=np.float64)


def serialize(handle) -> bytes:
    need = ctypes.c_size_t()
    buf = np.empty(0, dtype=np.uint8)
    while True:
        try:
            lib.promptsel_selector_serialize(buf, buf.size, ctypes.byref(need), handle)
            return buf[: need.value].tobytes()
        except errors.BufferTooSmallError:
            buf = np.empty(need.value, dtype=np.uint8)  # size learned; retry if it grew


def deserialize(handle, data) -> None:
    lib.promptsel_selector_deserialize(handle, data, data.size)


def from_bytes(data):
    handle = SelectorPtr()
    lib.promptsel_selector_from_bytes(ctypes.byref(handle), data, data.size)
    return handle


def save(handle, path: bytes) -> None:
    lib.promptsel_selector_save(handle, path)


def load(path: bytes):
    handle = SelectorPtr()
    lib.promptsel_selector_load(ctypes.byref(handle), path)
    return handle


def write_atomic(path: bytes, data: bytes) -> None:
    arr = np.frombuffer(data, dtype=np.uint8)
    lib.promptsel_file_write_atomic(path, arr, arr.size)


def featurize_text(blob: bytes, offsets, dim: int):
    n = offsets.size - 1
    out = np.empty(n * dim, dtype=np.float32)
    lib.promptsel_featurize_text(out, out.size, blob, offsets, n, dim)
    return out.reshape(n, dim)


def featurize_tokens(tokens, offsets, dim: int):
    n = offsets.size - 1
    out = np.empty(n * dim, dtype=np.float32)
    lib.promptsel_featurize_tokens(out, out.size, tokens, offsets, n, dim)
    return out.reshape(n, dim)


def ids_from_strings(data, offsets):
    """int64 ids of the strings data[offsets[i]:offsets[i+1]] (uint8 and uintp arrays), one call."""
    n = offsets.size - 1
    out = np.empty(n, dtype=np.int64)
    lib.promptsel_ids_from_strings(out, out.size, data, data.size, offsets, n)
    return out


def set_features(handle, ids_, rows) -> None:
    lib.promptsel_selector_set_features(handle, ids_, rows.ravel(), ids_.size, rows.shape[1] if rows.ndim == 2 else 0)


def feature_dim(handle) -> int:
    n = ctypes.c_size_t()
    lib.promptsel_selector_feature_dim(ctypes.byref(n), handle)
    return n.value


def predict_std(handle, ids_):
    out = np.empty(ids_.size, dtype=np.float64)
    lib.promptsel_selector_predict_std(out, out.size, handle, ids_, ids_.size)
    return out


def allocate(handle, ids_, budget: int, min_per: int, max_per: int):
    counts = np.empty(ids_.size, dtype=np.int64)
    mean = np.empty(ids_.size, dtype=np.float64)
    lib.promptsel_selector_allocate(counts, mean, ids_.size, handle, ids_, ids_.size, budget, min_per, max_per)
    return counts, mean
