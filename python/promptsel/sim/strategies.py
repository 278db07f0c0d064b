"""Prompt-selection strategies, all driven by one training loop (runner.py).

Each step a strategy decides which prompts the policy trains on and reports every
rollout it generated. Every promptsel selector is the real library, called through
promptsel.Selector; nothing here re-implements MoPPS or DPS.

    uniform          B prompts from a shuffled pass over the dataset; no selection.
    ds               dynamic sampling (DAPO online filtering): roll out generation
                     batches of B, keep the prompts with mixed outcomes, repeat until
                     B are kept or max_num_gen_batches batches were generated. Every
                     generated rollout counts, kept or not. When the cap is hit the
                     step trains on the (fewer than B) prompts kept.
    offline          MoPPS warm-started from an offline evaluation of the initial
                     policy (offline_samples per prompt, weight offline_weight) and
                     never updated (no_update). The offline rollouts are reported
                     separately, not as training rollouts.
    mopps            MoPPS, Thompson sample nearest the target 0.5 (topk).
    mopps-threshold  MoPPS, uniform among Thompson samples inside [0.3, 0.7].
    dps              DPS, top-B predicted probability of the partially-solved state
                     (constant prior 1, uniform initial belief, lambda_T per workload).
    gps              the shared feature model (Bayesian logistic regression on the
                     prompts' features), one Thompson draw per step nearest 0.5.
    gps-informative  the same, top B by P(mixed group of k).
    hybrid           per-prompt Beta posteriors with the feature model's prior,
                     Thompson nearest 0.5 (topk).
    hybrid-informative  the same, top B by P(mixed group of k).

Selector strategies draw a candidate pool of B^ = min(ratio * B, N) prompts per step
from a shuffled pass over the dataset (drop_last, reshuffled each pass) and choose B.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from .model import Population, SimConfig, World


class StrategyUnavailable(Exception):
    """The strategy cannot run with the loaded promptsel (e.g. DPS not exposed yet)."""


class Loader:
    """Shuffled passes over rows 0..n-1, like a seeded RandomSampler with drop_last:
    each call takes the next `size` rows of the current pass, starting a new shuffled
    pass when fewer than `size` remain."""

    def __init__(self, n: int, rng: np.random.Generator):
        self.n = n
        self.rng = rng
        self.order = rng.permutation(n)
        self.pos = 0

    def next(self, size: int) -> np.ndarray:
        if size > self.n:
            raise ValueError(f"batch of {size} from a dataset of {self.n} prompts")
        if self.pos + size > self.n:
            self.order = self.rng.permutation(self.n)
            self.pos = 0
        rows = self.order[self.pos:self.pos + size]
        self.pos += size
        return rows


@dataclass
class Env:
    """What a strategy sees of one run: the resolved config, the population, its own
    world (policy), data loader and rollout generator."""

    cfg: SimConfig
    population: Population
    world: World
    loader: Loader
    rng: np.random.Generator

    @property
    def pool_size(self) -> int:
        return min(self.cfg.ratio * self.cfg.batch, self.population.size)

    def rollout(self, rows: np.ndarray) -> np.ndarray:
        """Rolls out each row k times under the current policy; returns success rates."""
        k = self.cfg.rollouts
        return self.world.rollout(rows, k, self.rng) / k


@dataclass
class StepResult:
    rows: np.ndarray                 # rows the policy trains on this step
    success_rate: np.ndarray         # their observed success rates
    rollouts: int                    # every rollout generated this step
    predicted: np.ndarray | None = None  # the selector's predicted success rates, before the update
    select_seconds: float = math.nan     # time inside the library's select + update calls
    gen_batches: int = 1


class Strategy:
    name = ""
    summary = ""

    def __init__(self, env: Env):
        self.env = env

    #: Rollouts spent before training (the offline evaluation), not counted as training rollouts.
    offline_rollouts = 0

    def step(self) -> StepResult:
        raise NotImplementedError


class Uniform(Strategy):
    name = "uniform"
    summary = "B prompts of a shuffled pass, no selection"

    def step(self):
        env = self.env
        rows = env.loader.next(env.cfg.batch)
        s = env.rollout(rows)
        return StepResult(rows, s, rows.size * env.cfg.rollouts)


class DynamicSampling(Strategy):
    name = "ds"
    summary = "generate batches of B, keep mixed-outcome prompts (DAPO filter)"

    def step(self):
        env = self.env
        B, cap = env.cfg.batch, env.cfg.max_num_gen_batches
        kept_rows, kept_s = [], []
        n_kept = generated = batches = 0
        while n_kept < B and batches < cap:
            rows = env.loader.next(B)
            s = env.rollout(rows)
            generated += rows.size * env.cfg.rollouts
            batches += 1
            mixed = (s > 0) & (s < 1)
            kept_rows.append(rows[mixed])
            kept_s.append(s[mixed])
            n_kept += int(mixed.sum())
        rows = np.concatenate(kept_rows)[:B]
        s = np.concatenate(kept_s)[:B]
        return StepResult(rows, s, generated, gen_batches=batches)


class SelectorStrategy(Strategy):
    """A promptsel selector choosing B of a pool of B^ candidates."""

    def __init__(self, env: Env):
        super().__init__(env)
        try:
            self.selector = self.make_selector()
        except (NotImplementedError, TypeError) as e:
            raise StrategyUnavailable(f"{type(e).__name__}: {e}") from e

    def make_selector(self):
        raise NotImplementedError

    def step(self):
        env = self.env
        pool = env.loader.next(env.pool_size)
        pool_ids = env.population.ids[pool]
        t0 = time.perf_counter()
        positions, _scores = self.selector.select(pool_ids, env.cfg.batch)
        t1 = time.perf_counter()
        rows = pool[positions]
        ids = pool_ids[positions]
        predicted = self.selector.predict(ids)
        s = env.rollout(rows)
        t2 = time.perf_counter()
        self.selector.update(ids, s, rollouts=env.cfg.rollouts)
        t3 = time.perf_counter()
        return StepResult(rows, s, rows.size * env.cfg.rollouts, predicted=predicted,
                          select_seconds=(t1 - t0) + (t3 - t2))


def _selector_class():
    from .. import Selector
    return Selector


class MoPPS(SelectorStrategy):
    name = "mopps"
    summary = "MoPPS, Thompson sample nearest 0.5 (topk)"

    def make_selector(self):
        cfg = self.env.cfg
        return _selector_class()("mopps", seed=cfg.seed, strategy="topk", target=0.5, decay=cfg.mopps_decay,
                                 prior=(1.0, 1.0))


class MoPPSThreshold(SelectorStrategy):
    name = "mopps-threshold"
    summary = "MoPPS, Thompson samples inside [0.3, 0.7]"

    def make_selector(self):
        cfg = self.env.cfg
        return _selector_class()("mopps", seed=cfg.seed, strategy="threshold", lower=0.3, upper=0.7,
                                 decay=cfg.mopps_decay, prior=(1.0, 1.0))


class Offline(SelectorStrategy):
    name = "offline"
    summary = "MoPPS warm start from an offline eval, never updated"

    def make_selector(self):
        env = self.env
        cfg = env.cfg
        sel = _selector_class()("mopps", seed=cfg.seed, strategy="topk", target=0.5, decay=cfg.mopps_decay,
                                prior=(1.0, 1.0), no_update=True)
        pop = env.population
        if pop.offline is not None:  # a user workload: its file is the offline evaluation
            successes, trials = pop.offline
        else:
            rng = np.random.default_rng([cfg.seed, 3])
            trials = np.full(pop.size, float(cfg.offline_samples))
            successes = rng.binomial(cfg.offline_samples, pop.initial_success()).astype(np.float64)
        sel.warm_start(pop.ids, successes, trials, weight=cfg.offline_weight)
        self.offline_rollouts = int(trials.sum())
        return sel


class DPS(SelectorStrategy):
    name = "dps"
    summary = "DPS, most likely partially solved next step (topk)"

    def make_selector(self):
        cfg = self.env.cfg
        return _selector_class()("dps", seed=cfg.seed, strategy="topk", prior_alpha=1.0, prior_pi="uniform",
                                 transition_decay=cfg.dps_transition_decay)


class FeatureStrategy(SelectorStrategy):
    """gps / hybrid: the population's feature vectors registered once, at the start."""

    method, strategy = "", ""

    def make_selector(self):
        cfg, pop = self.env.cfg, self.env.population
        dim = pop.features.shape[1]
        sel = _selector_class()(self.method, seed=cfg.seed, strategy=self.strategy, dim=dim, rank=min(dim, 64),
                                rollouts=cfg.rollouts, **self.extra(cfg))
        sel.set_features(pop.ids, pop.features)
        return sel

    def extra(self, cfg):
        return {}


class GPS(FeatureStrategy):
    name, method, strategy = "gps", "gps", "thompson"
    summary = "shared feature model, one Thompson draw nearest 0.5"


class GPSInformative(FeatureStrategy):
    name, method, strategy = "gps-informative", "gps", "informative"
    summary = "shared feature model, top B by P(mixed group)"


class Hybrid(FeatureStrategy):
    name, method, strategy = "hybrid", "hybrid", "topk"  # Thompson, as MoPPS; the default is informative
    summary = "per-prompt Beta with the feature model's prior, Thompson nearest 0.5"

    def extra(self, cfg):
        return {"decay": cfg.mopps_decay}


class HybridInformative(Hybrid):
    name, strategy = "hybrid-informative", "informative"
    summary = "per-prompt Beta with the feature model's prior, top B by P(mixed group)"


STRATEGIES: dict[str, type[Strategy]] = {
    cls.name: cls for cls in (Uniform, DynamicSampling, Offline, MoPPS, MoPPSThreshold, DPS, GPS, GPSInformative,
                              Hybrid, HybridInformative)
}
