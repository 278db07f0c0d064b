"""Metrics of a simulated run: rank correlation and the per-strategy summary."""
from __future__ import annotations

import math

import numpy as np


def rankdata(a) -> np.ndarray:
    """1-based ranks of `a`, ties sharing their average rank (scipy's 'average')."""
    a = np.asarray(a, dtype=np.float64).ravel()
    n = a.size
    if n == 0:
        return np.empty(0)
    order = np.argsort(a, kind="stable")
    sorted_a = a[order]
    new_group = np.empty(n, dtype=bool)
    new_group[0] = True
    new_group[1:] = sorted_a[1:] != sorted_a[:-1]
    group = np.cumsum(new_group) - 1                 # group of each sorted position
    starts = np.flatnonzero(new_group)               # first sorted position of each group
    ends = np.append(starts[1:], n)                  # one past its last
    average = (starts + ends + 1) / 2.0              # mean of the 1-based ranks starts+1 .. ends
    ranks = np.empty(n)
    ranks[order] = average[group]
    return ranks


def spearman(x, y) -> float:
    """Spearman rank correlation of x and y (Pearson correlation of their average
    ranks). NaN when undefined: fewer than 2 points, a constant input, or NaN values."""
    x = np.asarray(x, dtype=np.float64).ravel()
    y = np.asarray(y, dtype=np.float64).ravel()
    if x.size != y.size:
        raise ValueError(f"spearman: lengths differ ({x.size} and {y.size})")
    if x.size < 2 or np.isnan(x).any() or np.isnan(y).any():
        return math.nan
    rx = rankdata(x)
    ry = rankdata(y)
    rx -= rx.mean()
    ry -= ry.mean()
    denom = math.sqrt(float(rx @ rx) * float(ry @ ry))
    if denom == 0.0:
        return math.nan
    return float(np.clip((rx @ ry) / denom, -1.0, 1.0))


def first_reach(acc: np.ndarray, target: float) -> int | None:
    """Index of the first entry of `acc` that is >= target, or None."""
    hit = np.flatnonzero(acc >= target)
    return int(hit[0]) if hit.size else None


def value_at_budget(rollouts: np.ndarray, values: np.ndarray, budget: float) -> float:
    """values[i] of the last point with rollouts[i] <= budget (rollouts non-decreasing,
    rollouts[0] = 0 for the initial point)."""
    i = int(np.searchsorted(rollouts, budget, side="right")) - 1
    return float(values[max(i, 0)])


def nanmean(a) -> float:
    a = np.asarray(a, dtype=np.float64)
    a = a[~np.isnan(a)]
    return float(a.mean()) if a.size else math.nan
