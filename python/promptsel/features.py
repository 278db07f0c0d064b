"""Prompt features for the feature-based methods (gps, hybrid).

`featurize(texts_or_token_id_lists, dim)` is the library's signed feature hashing of
word (or token-id) unigrams and bigrams, L2-normalised: no model download, the same
vectors in every process and on every machine (implemented in libpromptsel, so C
programs get identical features from promptsel_featurize_text / _tokens). Any other
embedding (a sentence encoder, the policy's hidden state) works as well: pass it to
Selector.set_features as a float32 (n, dim) array.
"""

import numpy as np

from . import _args, _native
from .errors import ArgumentTypeError, InvalidArgumentError

#: Largest feature dimension featurize accepts: the library's limit (include/promptsel.h,
#: promptsel_featurize_text: 1 <= dim <= 2^20), checked here before the output is allocated.
MAX_DIM = 1 << 20


def featurize(items, dim):
    """Features of each item as a float32 array (len(items), dim): items are all texts
    (str or bytes) or all token-id sequences (lists or 1-D integer arrays, padding
    already removed), in a list, tuple, array or any other ordered iterable. One str
    or bytes is refused (TypeError): wrap it in a list. 1 <= dim <= MAX_DIM (2^20),
    else OutOfRangeError (a ValueError)."""
    _args.not_text(items, "featurize's items", "a sequence of texts or of token-id sequences")
    if isinstance(items, (set, frozenset, dict)):
        raise ArgumentTypeError(f"featurize's items must be an ordered sequence (row i is items[i]), "
                                f"got a {type(items).__name__}")
    dim = _args.bounded(dim, "dim", 1, MAX_DIM)
    items = list(items)
    if items and all(isinstance(x, _args.TEXT) for x in items):
        blobs = [x.encode("utf-8", "surrogatepass") if isinstance(x, str) else bytes(x) for x in items]
        offsets = np.zeros(len(blobs) + 1, dtype=np.uintp)
        np.cumsum([len(b) for b in blobs], out=offsets[1:])
        return _native.featurize_text(b"".join(blobs), offsets, dim)
    if any(isinstance(x, _args.TEXT) for x in items):
        raise InvalidArgumentError("featurize takes all texts or all token-id sequences, not a mix")
    sequences = [_args.ids(x, f"items[{i}]") for i, x in enumerate(items)]
    offsets = np.zeros(len(sequences) + 1, dtype=np.uintp)
    np.cumsum([s.size for s in sequences], out=offsets[1:])
    tokens = np.concatenate(sequences) if sequences else np.empty(0, dtype=np.int64)
    return _native.featurize_tokens(np.ascontiguousarray(tokens, dtype=np.int64), offsets, dim)
