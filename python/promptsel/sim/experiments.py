"""Two experiments of the feature methods on the simulator (docs/GPS.md):

    python -m promptsel.sim.experiments --workload math --steps 60 --seed 0

cold start  After training with each selector for `steps` steps, how well does its
            prediction rank the true success probability of prompts it has never
            rolled out: the held-out prompts, never candidates, so the set carries no
            selection bias? (Spearman; MoPPS and DPS predict the same prior for all of
            them, so they have no ranking: '-'.)
allocation  Test-time compute: with the hybrid selector trained as above, spread a
            budget of `per_prompt` samples per held-out prompt by `allocate` versus an
            even split, and compare the expected number of held-out prompts solved at
            least once under their true success probabilities.
"""

from __future__ import annotations

import argparse
import math

import numpy as np

from .metrics import spearman
from .model import SimConfig, World
from .runner import resolve
from .strategies import STRATEGIES, Env, Loader
from .workloads import build_population

COLD_START = ("mopps", "dps", "gps", "hybrid", "hybrid-informative")


def _trained(name, cfg, population):
    world = World(population, cfg)
    env = Env(cfg=cfg, population=population, world=world,
              loader=Loader(population.size, np.random.default_rng([cfg.seed, 1])),
              rng=np.random.default_rng([cfg.seed, 2]))
    strategy = STRATEGIES[name](env)
    seen = np.zeros(population.size, dtype=bool)
    for _ in range(cfg.steps):
        r = strategy.step()
        world.train(r.rows, r.success_rate)
        seen[r.rows] = True
    return strategy, world, seen


def _heldout_ids(population):
    """m ids no prompt of the population has: after the largest, unless that would
    pass int64 (hashed string ids reach it), then the smallest unused from 0."""
    m = population.heldout_features.shape[0]
    top = int(population.ids.max())
    if top + m < 2**63:
        return np.arange(top + 1, top + 1 + m, dtype=np.int64)
    return np.setdiff1d(np.arange(m + population.ids.size, dtype=np.int64), population.ids)[:m]


def _heldout_truth(population, world):
    return 1 / (1 + np.exp(-(population.heldout_difficulty + population.heldout_features @ world.w)))


def cold_start(cfg, population):
    """{strategy: (Spearman of predicted vs true success over the held-out prompts, count)}."""
    out = {}
    ids = _heldout_ids(population)
    for name in COLD_START:
        strategy, world, _ = _trained(name, cfg, population)
        sel = strategy.selector
        if sel.feature_dim:
            sel.set_features(ids, population.heldout_features)
        predicted = sel.predict(ids)
        truth = _heldout_truth(population, world)
        out[name] = (spearman(predicted, truth) if np.ptp(predicted) > 0 else math.nan, ids.size)
    return out


def allocation(cfg, population, per_prompt=4, max_per=32):
    """(expected solved with allocate, with an even split, held-out prompts)."""
    strategy, world, _ = _trained("hybrid-informative", cfg, population)
    sel = strategy.selector
    ids = _heldout_ids(population)
    m = ids.size
    sel.set_features(ids, population.heldout_features)
    counts, _ = sel.allocate(ids, per_prompt * m, min_per=1, max_per=max_per)
    p = _heldout_truth(population, world)
    solved = lambda n: float(np.sum(1 - (1 - p) ** n))  # noqa: E731
    return solved(counts), solved(np.full(m, per_prompt)), m


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m promptsel.sim.experiments", description=__doc__.splitlines()[0])
    ap.add_argument("--workload", default="math")
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    cfg = SimConfig(workload=args.workload, steps=args.steps, seed=args.seed)
    population = build_population(cfg)
    cfg = resolve(cfg, population)
    print(f"workload {population.name}, {args.steps} steps, seed {args.seed}")
    print("cold start: Spearman of predicted vs true success over held-out prompts (never rolled out)")
    for name, (rho, n) in cold_start(cfg, population).items():
        print(f"  {name:20s} {'-' if math.isnan(rho) else f'{rho:+.2f}':>6}   ({n} prompts)")
    ours, even, m = allocation(cfg, population)
    print(f"allocation: {m} held-out prompts, 4 samples each on average: expected solved {ours:.1f} with "
          f"allocate vs {even:.1f} with an even split ({(ours / even - 1) * 100:+.1f}%)")


if __name__ == "__main__":
    main()
