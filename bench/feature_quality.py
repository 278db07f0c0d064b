"""How well the feature methods predict prompts never rolled out, on real data.

    python3 bench/feature_quality.py [--seeds 5] [--out bench/RESULTS_FEATURES.md] [--smoke]

Data: bench/data/math_difficulty_6000.jsonl (6,000 MATH problems with the success counts
of 8 samples of DeepSeek-R1-Distill-Qwen-1.5B; bench/data/README.md). Per seed, a random
1,500 rows are held out; the rest are the training rows.

Each predictor is fit on the training rows only and scored on the held-out rows: Spearman
between its predicted success and the observed rate (successes / 8). The feature methods
are fit only through the library's own online path, as a trainer feeds them: the
training rows in random order, `update` in batches of 256 prompts, 8 rollouts each,
their successes drawn Binomial(8, observed rate) (so the model never sees the held-out
counts, nor the exact training counts). Then `predict` on the held-out rows (for hybrid:
its feature prior, the rows having no evidence of their own).

Baselines, on the same features in the same run: plain logistic regression (binomial,
L2, fit by Newton on the training counts; the ridge chosen on a validation split of the
training rows), and a noise reference: the Spearman between two independent
Binomial(8, p) draws with p the observed rate (an upper bound of what any predictor of
an 8-sample rate can reach; the observed rates are more spread than the true ones, so
the bound is loose).
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
try:  # the installed promptsel (or the tests' own), else the source tree's
    import promptsel
except ImportError:
    sys.path.insert(0, str(ROOT / "python"))
    import promptsel

DATA = ROOT / "bench" / "data" / "math_difficulty_6000.jsonl"
HELD_OUT = 1500
BATCH = 256
ROLLOUTS = 8


def load():
    rows = [json.loads(line) for line in DATA.read_text().splitlines() if line.strip()]
    texts = [r["problem"] for r in rows]
    rate = np.array([r["successes"] / r["rollouts"] for r in rows])
    return texts, rate


def spearman(a, b):
    """Spearman's rho with average ranks for ties (the observed rates have 9 values)."""
    def ranks(x):
        order = np.argsort(x, kind="mergesort")
        r = np.empty(len(x))
        r[order] = np.arange(len(x), dtype=float)
        _, inverse, counts = np.unique(x, return_inverse=True, return_counts=True)
        sums = np.bincount(inverse, weights=r)
        return (sums / counts)[inverse]
    ra, rb = ranks(np.asarray(a, float)), ranks(np.asarray(b, float))
    ra -= ra.mean()
    rb -= rb.mean()
    return float(ra @ rb / np.sqrt((ra @ ra) * (rb @ rb)))


def split(n, seed):
    perm = np.random.default_rng(seed).permutation(n)
    return perm[HELD_OUT:], perm[:HELD_OUT]


def online_fit(method, X, rate, train, seed, **params):
    """The library's online path: batches of 256 training prompts, 8 sampled rollouts."""
    sel = promptsel.Selector(method, seed=seed, dim=X.shape[1], **params)
    ids = np.arange(len(rate), dtype=np.int64)
    sel.set_features(ids, X)
    rng = np.random.default_rng(1000 + seed)
    order = rng.permutation(train)
    for start in range(0, len(order), BATCH):
        b = order[start:start + BATCH]
        sel.update(ids[b], rng.binomial(ROLLOUTS, rate[b]) / ROLLOUTS, ROLLOUTS)
    return sel


def logistic(X, s, k, ridge):
    """Binomial logistic regression with an L2 penalty (bias unpenalised), by Newton."""
    A = np.hstack([X.astype(np.float64), np.ones((len(X), 1))])
    w = np.zeros(A.shape[1])
    pen = np.full(A.shape[1], ridge)
    pen[-1] = 0.0
    for _ in range(50):
        p = 1 / (1 + np.exp(-(A @ w)))
        g = A.T @ (s - k * p) - pen * w
        H = (A * (k * p * (1 - p))[:, None]).T @ A + np.diag(pen) + 1e-9 * np.eye(len(w))
        step = np.linalg.solve(H, g)
        w += step
        if np.abs(step).max() < 1e-8:
            break
    return w


def logistic_baseline(X, rate, train, seed):
    """Ridge picked on a validation fifth of the training rows, then refit on all of them."""
    s, k = rate * ROLLOUTS, np.full(len(rate), float(ROLLOUTS))
    rng = np.random.default_rng(2000 + seed)
    val = rng.choice(train, len(train) // 5, replace=False)
    fit = np.setdiff1d(train, val)
    A = lambda idx: np.hstack([X[idx].astype(np.float64), np.ones((len(idx), 1))])  # noqa: E731
    best = max((spearman(A(val) @ logistic(X[fit], s[fit], k[fit], r), rate[val]), r)
               for r in (0.1, 1.0, 10.0, 100.0))[1]
    return logistic(X[train], s[train], k[train], best), best


def noise_ceiling(rate, held, seed):
    rng = np.random.default_rng(3000 + seed)
    p = rate[held]
    return spearman(rng.binomial(ROLLOUTS, p), rng.binomial(ROLLOUTS, p))


def run(seeds, dims, smoke=False):
    texts, rate = load()
    if smoke:
        texts, rate = texts[:2500], rate[:2500]
    results = {}  # name -> list of Spearman over seeds
    feats = {f"featurize {d}": promptsel.featurize(texts, d) for d in dims}
    if not smoke:
        try:  # the built-in embedding, when its extra is installed
            feats["wordllama 256"] = promptsel.embed(texts, "wordllama", 256)
        except promptsel.errors.MissingDependencyError:
            print("feature_quality: wordllama not installed; its rows are left out", file=sys.stderr)
    for seed in range(seeds):
        train, held = split(len(rate), seed)
        results.setdefault("noise reference: two 8-sample draws at the observed rate", []).append(noise_ceiling(rate, held, seed))
        for name, X in feats.items():
            d = X.shape[1]
            w, _ = logistic_baseline(X, rate, train, seed)
            A = np.hstack([X[held].astype(np.float64), np.ones((len(held), 1))])
            results.setdefault(f"logistic regression, {name}", []).append(spearman(A @ w, rate[held]))
            for label, method, params in (("gps defaults (rank 64)", "gps", {}),
                                          (f"gps rank {min(d, 256)}", "gps", {"rank": min(d, 256)}),
                                          ("hybrid prior, defaults", "hybrid", {})):
                if label.startswith("gps rank") and min(d, 256) == 64:
                    continue
                sel = online_fit(method, X, rate, train, seed, **params)
                results.setdefault(f"{label}, {name}", []).append(
                    spearman(sel.predict(held.astype(np.int64)), rate[held]))
    return results


def report(results, seeds, seconds):
    lines = ["# Feature methods on real prompts: held-out prediction (bench/feature_quality.py)", "",
             f"MATH, 6,000 problems, success counts of 8 samples of a 1.5B reasoning model "
             f"(bench/data/README.md). {seeds} seeds; per seed 1,500 random rows held out, the "
             "rest fit: the feature methods only through `update` (batches of 256, 8 sampled "
             "rollouts, one pass), the baseline by binomial logistic regression. Spearman on the "
             f"held-out rows; mean, min and max over seeds. Most of the spread across seeds "
             "is the split (the baseline moves with it), so each predictor is also given "
             "minus the baseline on the same features and split, per seed (paired). "
             f"({seconds:.0f} s)", "",
             "| predictor | mean | min | max | minus logistic, paired: mean [min, max] |",
             "|---|---|---|---|---|"]
    for name, v in results.items():
        base = results.get("logistic regression, " + name.rsplit(", ", 1)[-1])
        paired = ""
        if base is not None and not name.startswith("logistic"):
            d = np.array(v) - np.array(base)
            paired = f"{d.mean():+.3f} [{d.min():+.3f}, {d.max():+.3f}]"
        lines.append(f"| {name} | {np.mean(v):.3f} | {np.min(v):.3f} | {np.max(v):.3f} | {paired} |")
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--out")
    ap.add_argument("--smoke", action="store_true", help="one seed, fewer rows, dim 64: seconds")
    a = ap.parse_args()
    t = time.perf_counter()
    seeds, dims = (1, (64,)) if a.smoke else (a.seeds, (64, 256, 1024))
    results = run(seeds, dims, smoke=a.smoke)
    text = report(results, seeds, time.perf_counter() - t)
    print(text)
    if a.out:
        tmp = a.out + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, a.out)
    if not all(np.isfinite(v).all() for v in results.values()):
        sys.exit("feature_quality: a Spearman is not finite")


if __name__ == "__main__":
    main()
