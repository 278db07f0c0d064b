"""Exceptions of promptsel, one class per PROMPTSEL_E_* status of include/promptsel.h.

Each class carries the status as `.code`. Classes for the caller's mistakes also
derive from the matching builtin (ValueError, OSError, ...), so code that already
catches those keeps working. The constructors take the message only: OSError
would read a second positional argument as (errno, strerror).
"""

# Status codes: generated from the header (_constants.py), never restated here.
from ._constants import (  # noqa: F401
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


class PromptSelError(Exception):
    """Base of every promptsel error; `code` is the PROMPTSEL_E_* status."""

    code = E_INTERNAL


class InvalidArgumentError(PromptSelError, ValueError):
    """PROMPTSEL_E_INVALID_ARG: wrong type, shape, NaN, unknown name, misuse."""

    code = E_INVALID_ARG


class ArgumentTypeError(InvalidArgumentError, TypeError):
    """PROMPTSEL_E_INVALID_ARG for a value of the wrong type (a bool where an integer
    is meant, one str where a sequence of them is meant): also a TypeError."""

    code = E_INVALID_ARG


class BufferTooSmallError(PromptSelError):
    """PROMPTSEL_E_BUFFER_TOO_SMALL: the shim handles it; users should not see it."""

    code = E_BUFFER_TOO_SMALL


class OutOfRangeError(PromptSelError, ValueError):
    """PROMPTSEL_E_OUT_OF_RANGE: a value outside its domain (rate not in [0, 1], ...)."""

    code = E_OUT_OF_RANGE


class UnsupportedError(PromptSelError, NotImplementedError):
    """PROMPTSEL_E_UNSUPPORTED: the method has no such operation (yet)."""

    code = E_UNSUPPORTED


class MissingDependencyError(UnsupportedError, ImportError):
    """An optional dependency is not installed (e.g. wordllama for promptsel.embed):
    the message names the pip command. Also an ImportError, which is what it is."""

    code = E_UNSUPPORTED


class PromptSelIOError(PromptSelError, OSError):
    """PROMPTSEL_E_IO: a file could not be opened, read, written or renamed."""

    code = E_IO


class CheckpointError(PromptSelError, ValueError):
    """PROMPTSEL_E_CORRUPT or PROMPTSEL_E_VERSION: checkpoint bytes or files that
    cannot be restored (also raised for bad index_score.json / warm-start files)."""

    code = E_CORRUPT


class PromptSelMemoryError(PromptSelError, MemoryError):
    """PROMPTSEL_E_NO_MEMORY: the call needs more memory than can be allocated now; it changed nothing."""

    code = E_NO_MEMORY


class InternalError(PromptSelError, RuntimeError):
    """PROMPTSEL_E_INTERNAL: a bug in promptsel; please report it."""

    code = E_INTERNAL


_BY_CODE = {
    E_INVALID_ARG: InvalidArgumentError,
    E_BUFFER_TOO_SMALL: BufferTooSmallError,
    E_OUT_OF_RANGE: OutOfRangeError,
    E_UNSUPPORTED: UnsupportedError,
    E_IO: PromptSelIOError,
    E_CORRUPT: CheckpointError,
    E_VERSION: CheckpointError,
    E_NO_MEMORY: PromptSelMemoryError,
    E_INTERNAL: InternalError,
}


def error_for_status(code: int, message: str) -> PromptSelError:
    """The exception for a negative status `code` (unknown codes give the base class)."""
    err = _BY_CODE.get(code, PromptSelError)(message)
    err.code = code  # E_VERSION shares CheckpointError; unknown codes keep theirs
    return err


def with_context(err: PromptSelError, context: str) -> PromptSelError:
    """The same error with its message prefixed by `context` (a path); code kept."""
    new = type(err)(f"{context}: {err}")
    new.code = err.code
    return new


class LibraryLoadError(ImportError):
    """libpromptsel.so could not be found or loaded at import; the message lists every
    place tried and what to do (reinstall the wheel, or `make lib` in a checkout)."""
