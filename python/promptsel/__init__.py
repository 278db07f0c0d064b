"""promptsel: online prompt selection for RL post-training (MoPPS, DPS), a ctypes
shim over the Swift library libpromptsel.so.

    import promptsel
    sel = promptsel.Selector("mopps", seed=0, strategy="topk", target=0.5)
    pos, scores = sel.select(candidate_ids, batch_size)
    sel.update(candidate_ids[pos], success_rate, rollouts=8)

`promptsel.TaskSampler` plugs into the MoPPS / DPS forks of verl. Importing promptsel
imports numpy only (never torch).
"""

from ._native import lib as _lib
from .errors import (
    BufferTooSmallError,
    CheckpointError,
    InternalError,
    InvalidArgumentError,
    MissingDependencyError,
    OutOfRangeError,
    PromptSelError,
    PromptSelIOError,
    PromptSelMemoryError,
    UnsupportedError,
)
from .embeddings import embed
from .features import featurize
from .ids import prompt_ids
from .methods import describe
from .selector import HMM_PARAMS_FILE, INDEX_SCORE_FILE, Selector, SelectorConfig
from .verl import NATIVE_CHECKPOINT_FILE, TaskSampler

#: Version of the loaded library ("MAJOR.MINOR.PATCH" of the header that built it).
__version__ = _lib.promptsel_version_string().decode()
#: PROMPTSEL_ABI_VERSION of the loaded library (importing _native checked it is the shim's).
abi_version = _lib.promptsel_abi_version()

__all__ = [
    "BufferTooSmallError",
    "CheckpointError",
    "HMM_PARAMS_FILE",
    "INDEX_SCORE_FILE",
    "InternalError",
    "InvalidArgumentError",
    "MissingDependencyError",
    "NATIVE_CHECKPOINT_FILE",
    "OutOfRangeError",
    "PromptSelError",
    "PromptSelIOError",
    "PromptSelMemoryError",
    "Selector",
    "SelectorConfig",
    "TaskSampler",
    "UnsupportedError",
    "describe",
    "embed",
    "featurize",
    "prompt_ids",
    "__version__",
    "abi_version",
]
