"""Test-time allocation cost against the budget: promptsel's allocate (a threshold
bisected on closed-form log gains, cost independent of the budget) against the heap
greedy it replaced (one heap step per sample), as a ratio in the same run, and the
parity of their results.

The old greedy is ported here to Python with heapq, step for step (the same
incremental gains and the same tie-break, lowest index first), so the ratio compares a
Python loop with native code: it shows the growth with the budget, not the constant.
The native heap greedy took about 80 s at budget 2^31 - 1 over a few thousand prompts.

    python bench/allocate_bench.py [--smoke] [--out FILE]
"""

import argparse
import heapq
import statistics
import time

import numpy as np

import promptsel


def old_greedy(alpha, beta, budget, min_per, max_per):
    """The heap greedy of promptsel <= 0.3, as a Python port (the reference)."""
    n = len(alpha)
    counts = [min_per] * n
    remaining = []
    for a, b in zip(alpha, beta):
        m = 1.0
        for j in range(min_per):
            m *= (b + j) / (a + b + j)
        remaining.append(m)
    left = budget - min_per * n
    heap = [(-(remaining[i] * alpha[i] / (alpha[i] + beta[i] + counts[i])), i) for i in range(n) if counts[i] < max_per]
    heapq.heapify(heap)
    while left > 0 and heap:
        _, i = heapq.heappop(heap)
        counts[i] += 1
        c = counts[i] - 1
        remaining[i] *= (beta[i] + c) / (alpha[i] + beta[i] + c)
        left -= 1
        if counts[i] < max_per:
            heapq.heappush(heap, (-(remaining[i] * alpha[i] / (alpha[i] + beta[i] + counts[i])), i))
    return np.array(counts, dtype=np.int64)


def timed(fn, reps):
    times, out = [], None
    for _ in range(reps):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--smoke", action="store_true", help="tiny sizes, a few seconds")
    ap.add_argument("--out", help="write the Markdown report here too")
    args = ap.parse_args()
    n = 200 if args.smoke else 4000
    budgets = [n * 2, n * 16, n * 128] if args.smoke else [n * 2, n * 16, n * 64, n * 256]
    rng = np.random.default_rng(0)
    sel = promptsel.Selector("mopps", seed=1)
    ids = np.arange(n, dtype=np.int64)
    # Posteriors after a few steps of 8 rollouts: the shapes allocate sees in practice.
    for _ in range(3):
        sel.update(ids, rng.integers(0, 9, n) / 8, 8)
    state = sel.state(ids)
    alpha, beta = state[:, 0].tolist(), state[:, 1].tolist()
    lines = [f"# allocate: cost against the budget ({n} mopps prompts, min_per 1, no cap)", "",
             "| budget | old heap greedy (Python port) | promptsel | ratio | same counts |",
             "|---:|---:|---:|---:|:---:|"]
    ok = True
    for budget in budgets:
        t_old, old = timed(lambda: old_greedy(alpha, beta, budget, 1, budget), 1)
        t_new, (new, _) = timed(lambda: sel.allocate(ids, budget, min_per=1), 5)
        same = bool(np.array_equal(old, new))
        ok &= same
        lines.append(f"| {budget:,} | {t_old * 1e3:.1f} ms | {t_new * 1e3:.2f} ms | {t_old / t_new:,.0f}x | "
                     f"{'yes' if same else 'NO'} |")
    big = 2**31 - 1
    t_big, (counts, _) = timed(lambda: sel.allocate(ids, big, min_per=1), 3)
    assert int(counts.sum()) == big
    lines += ["", f"promptsel at budget 2^31 - 1: {t_big * 1e3:.1f} ms (the native heap greedy: about 80 s; "
              f"the Python port would take about {t_old / budgets[-1] * big:,.0f} s at its rate above)."]
    report = "\n".join(lines) + "\n"
    print(report)
    if args.out:
        with open(args.out, "w") as f:
            f.write(report)
    if not ok:
        raise SystemExit("allocate disagrees with the heap greedy")


if __name__ == "__main__":
    main()
