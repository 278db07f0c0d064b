"""ctypes declarations of include/promptsel.h: the loader, the ABI check, one
signature per C function and the status -> exception errcheck. Not public API:
use promptsel.Selector.
"""

import ctypes
import os
from pathlib import Path

import numpy as np
from numpy.ctypeslib import ndpointer

from . import errors

# The status codes are defined in errors.py, beside the exceptions they select;
# they are re-exported here with the header's other constants.
from .errors import (  # noqa: F401
    E_BUFFER_TOO_SMALL,
    E_CORRUPT,
    E_INTERNAL,
    E_INVALID_ARG,
    E_IO,
    E_NO_MEMORY,
    E_OUT_OF_RANGE,
    E_UNSUPPORTED,
    E_VERSION,
    OK,
)

#: PROMPTSEL_ABI_VERSION this shim was written against.
ABI_VERSION = 1

METHOD_MOPPS = 1
METHOD_DPS = 2
METHOD_GPS = 3

STRATEGY_TOPK = 1
STRATEGY_THRESHOLD = 2
STRATEGY_UNIFORM = 3
STRATEGY_TOPK_ENTROPY = 4

DPS_PRIOR_CONSTANT = 0
DPS_PRIOR_PROGRESS = 1
DPS_PRIOR_STABILITY = 2
DPS_PRIOR_LOCAL = 3

DPS_PI_UNIFORM = 0
DPS_PI_UNSOLVED = 1
DPS_PI_PARTIAL = 2
DPS_PI_SOLVED = 3


class _Selector(ctypes.Structure):
    """Opaque `promptsel_selector`: only pointers to it exist. A distinct type makes
    ctypes reject any other pointer passed as a handle."""


SelectorPtr = ctypes.POINTER(_Selector)


class Config(ctypes.Structure):
    """`promptsel_config`, field for field (test_api checks the size and offsets)."""

    _fields_ = [
        ("struct_size", ctypes.c_uint32),
        ("method", ctypes.c_int32),
        ("strategy", ctypes.c_int32),
        ("no_update", ctypes.c_int32),
        ("seed", ctypes.c_uint64),
        ("target", ctypes.c_double),
        ("lower", ctypes.c_double),
        ("upper", ctypes.c_double),
        ("decay", ctypes.c_double),
        ("prior_alpha", ctypes.c_double),
        ("prior_beta", ctypes.c_double),
        ("dps_prior_shape", ctypes.c_int32),
        ("dps_prior_pi", ctypes.c_int32),
        ("dps_prior_alpha", ctypes.c_double),
        ("dps_transition_decay", ctypes.c_double),
        ("dps_entropy_weight", ctypes.c_double),
    ]


class DpsUpdateStats(ctypes.Structure):
    """`promptsel_dps_update_stats`: prediction quality of the last DPS update."""

    _fields_ = [
        ("observed", ctypes.c_uint64),
        ("confusion", ctypes.c_uint64 * 9),
        ("accuracy", ctypes.c_double),
        ("partial_precision", ctypes.c_double),
        ("partial_recall", ctypes.c_double),
    ]


class DpsSummary(ctypes.Structure):
    """`promptsel_dps_summary`: statistics over every tracked DPS prompt."""

    _fields_ = [
        ("prompts", ctypes.c_uint64),
        ("mean_entropy", ctypes.c_double),
        ("mean_partial", ctypes.c_double),
        ("sampled_min", ctypes.c_uint64),
        ("sampled_max", ctypes.c_uint64),
        ("sampled_mean", ctypes.c_double),
        ("sampled_std", ctypes.c_double),
    ]


PACKAGE_DIR = Path(__file__).resolve().parent
#: The source checkout this package sits in (python/promptsel/ of the repository),
#: or None for an installed copy.
CHECKOUT = PACKAGE_DIR.parent.parent if (PACKAGE_DIR.parent.parent / "Package.swift").is_file() else None
LIBRARY_NAME = "libpromptsel.so"


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
_config_p = _c.POINTER(Config)
_handle_out = _c.POINTER(SelectorPtr)

# name: (restype, argtypes); restype c_int means a status checked by _check.
_SIGNATURES = {
    "promptsel_version_number": (_c.c_uint32, []),
    "promptsel_version_string": (_c.c_char_p, []),
    "promptsel_abi_version": (_c.c_uint32, []),
    "promptsel_status_string": (_c.c_char_p, [_c.c_int]),
    "promptsel_last_error": (_c.c_char_p, []),
    "promptsel_config_init": (_c.c_int, [_config_p, _c.c_int32]),
    "promptsel_selector_create": (_c.c_int, [_handle_out, _config_p]),
    "promptsel_selector_free": (None, [SelectorPtr]),
    "promptsel_selector_get_config": (_c.c_int, [_config_p, SelectorPtr]),
    "promptsel_selector_count": (_c.c_int, [_size_p, SelectorPtr]),
    "promptsel_selector_memory": (_c.c_int, [_size_p, _size_p, SelectorPtr]),
    "promptsel_selector_ids": (_c.c_int, [_out(np.int64), _size, _size_p, SelectorPtr]),
    "promptsel_selector_select": (_c.c_int, [_out(np.int64), _out(np.float64), _size, _size_p,
                                             SelectorPtr, _in(np.int64), _size, _size]),
    "promptsel_selector_update": (_c.c_int, [SelectorPtr, _in(np.int64), _in(np.float64),
                                             _in(np.int32), _size]),
    "promptsel_selector_predict": (_c.c_int, [_out(np.float64), _size, SelectorPtr,
                                              _in(np.int64), _size]),
    "promptsel_selector_posterior": (_c.c_int, [_out(np.float64), _out(np.float64), _size,
                                                SelectorPtr, _in(np.int64), _size]),
    "promptsel_selector_state_probs": (_c.c_int, [_out(np.float64), _size, SelectorPtr,
                                                  _in(np.int64), _size]),
    "promptsel_dps_update_stats_get": (_c.c_int, [_c.POINTER(DpsUpdateStats), SelectorPtr]),
    "promptsel_dps_summary_get": (_c.c_int, [_c.POINTER(DpsSummary), SelectorPtr]),
    "promptsel_selector_warm_start": (_c.c_int, [SelectorPtr, _in(np.int64), _in(np.float64),
                                                 _in(np.float64), _size, _c.c_double]),
    "promptsel_selector_set_posterior": (_c.c_int, [SelectorPtr, _in(np.int64), _in(np.float64),
                                                    _in(np.float64), _size]),
    "promptsel_dps_get_state": (_c.c_int, [_out(np.float64), _out(np.float64), _out(np.float64),
                                           _out(np.int64), _size, SelectorPtr, _in(np.int64), _size]),
    "promptsel_dps_set_state": (_c.c_int, [SelectorPtr, _in(np.int64), _in(np.float64), _in(np.float64),
                                           _in(np.float64), _in(np.int64), _size]),
    "promptsel_selector_serialize": (_c.c_int, [_out(np.uint8), _size, _size_p, SelectorPtr]),
    "promptsel_selector_deserialize": (_c.c_int, [SelectorPtr, _in(np.uint8), _size]),
    "promptsel_selector_from_bytes": (_c.c_int, [_handle_out, _in(np.uint8), _size]),
    "promptsel_selector_save": (_c.c_int, [SelectorPtr, _c.c_char_p]),
    "promptsel_selector_load": (_c.c_int, [_handle_out, _c.c_char_p]),
}


def _declare(library: ctypes.CDLL) -> None:
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
