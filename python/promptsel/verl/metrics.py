"""The `tasksample/*` metrics the MoPPS / DPS trainers log for their samplers, in
numpy (no scipy): how well the selector's prediction matched what the rollouts
showed, and the spread of both.

Signs are natural: correlations are between *predicted* and *observed* success,
so a selector that predicts well scores near +1. (The MoPPS trainer correlates its
acquisition score with minus the success rate instead.) Standard deviations are
unbiased (ddof=1) like the torch `.std()` the trainers log.
"""

import numpy as np

from ..errors import InvalidArgumentError


def _ranks(x):
    """Ranks 1..n, ties given their average rank (as scipy.stats.rankdata)."""
    order = np.argsort(x, kind="mergesort")
    sorted_x = x[order]
    ranks = np.empty(x.size, dtype=np.float64)
    starts = np.flatnonzero(np.r_[True, sorted_x[1:] != sorted_x[:-1]])
    ends = np.r_[starts[1:], x.size]
    for s, e in zip(starts, ends):
        ranks[order[s:e]] = (s + e + 1) / 2.0
    return ranks


def pearson(x, y):
    """Pearson correlation; NaN when either side is constant or has < 2 values."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    if x.size < 2:
        return float("nan")
    dx, dy = x - x.mean(), y - y.mean()
    denom = np.sqrt(np.dot(dx, dx) * np.dot(dy, dy))
    return float(np.dot(dx, dy) / denom) if denom > 0 else float("nan")


def spearman(x, y):
    """Spearman rank correlation (Pearson of average ranks)."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    return pearson(_ranks(x), _ranks(y)) if x.size >= 2 else float("nan")


def _spread(prefix, name, v):
    v = np.asarray(v, np.float64)
    if v.size == 0:
        return {}
    return {f"{prefix}{name}": float(v.mean()), f"{prefix}{name}_min": float(v.min()),
            f"{prefix}{name}_max": float(v.max()),
            f"{prefix}{name}_std": float(v.std(ddof=1)) if v.size > 1 else float("nan")}


def sampler_metrics(predicted, observed, scores=None, prefix="tasksample/"):
    """The trainer-side sampler metrics of one step, as a flat dict:
    - `train_corr`, `train_spearman_corr`: Pearson and Spearman between the
      selector's predicted success (Selector.predict of the chosen prompts, taken
      *before* the update) and the observed success rates;
    - `train_success_rate[_min|_max|_std]` of the observed rates,
      `predicted_success_rate[...]` of the predictions;
    - with `scores` (what select / sample_batch returned, flattened),
      `sampled_acquisition_score[...]`.
    Inputs are aligned 1-D sequences (numpy, lists or CPU tensors)."""
    from .batch import to_numpy
    p = to_numpy(predicted).astype(np.float64).reshape(-1)
    o = to_numpy(observed).astype(np.float64).reshape(-1)
    if p.size != o.size:
        raise InvalidArgumentError(f"predicted has {p.size} values but observed has {o.size}")
    out = {f"{prefix}train_corr": pearson(p, o), f"{prefix}train_spearman_corr": spearman(p, o)}
    out.update(_spread(prefix, "train_success_rate", o))
    out.update(_spread(prefix, "predicted_success_rate", p))
    if scores is not None:
        s = to_numpy(scores).astype(np.float64)
        out.update(_spread(prefix, "sampled_acquisition_score", s.reshape(-1)))
    return out
