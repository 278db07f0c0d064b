"""The training loop shared by every strategy, and its results.

For each strategy: a fresh copy of the initial policy, the same data order and the
same rollout random stream (common random numbers, so differences come from the
strategies), then `steps` times: the strategy picks the trained prompts and reports
its rollouts, the policy takes one GRPO step on them, the held-out accuracy is
recorded.
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np

from . import metrics
from .model import Population, SimConfig, World
from .strategies import STRATEGIES, Env, Loader, StrategyUnavailable
from .workloads import build_population

#: Strategies run when none are named.
DEFAULT_METHODS = ("uniform", "ds", "offline", "mopps", "mopps-threshold", "dps")


@dataclass
class Curve:
    """Per-step record of one strategy. Index 0 is the initial policy (no training);
    index t is after training step t."""

    strategy: str
    rollouts: np.ndarray          # cumulative training rollouts (int64)
    heldout_acc: np.ndarray       # held-out accuracy (mean latent success probability)
    train_acc: np.ndarray         # mean latent success probability over the training set
    trained: np.ndarray           # prompts trained this step
    informative: np.ndarray       # of which had mixed outcomes (0 < s < 1)
    informative_frac: np.ndarray  # informative / trained (NaN at step 0)
    spearman: np.ndarray          # rank corr(predicted, observed) of the trained prompts (NaN if none)
    select_ms: np.ndarray         # ms inside the library's select + update calls (NaN if none)
    gen_batches: np.ndarray       # generation batches rolled out this step (DS; 1 otherwise)
    offline_rollouts: int = 0     # rollouts of the offline evaluation, before training
    wall_seconds: float = 0.0     # wall time of the whole strategy run

    @property
    def steps(self) -> int:
        return self.rollouts.size - 1


@dataclass
class Summary:
    """The headline numbers of one strategy."""

    strategy: str
    steps: int
    rollouts: int                   # total training rollouts
    offline_rollouts: int
    final_acc: float
    steps_to_target: int | None     # None: never reached
    rollouts_to_target: int | None
    acc_at_budget: float
    informative_frac: float         # over every trained prompt of the run
    spearman: float                 # mean over steps where defined (NaN: no predictor)
    select_ms: float                # mean per step (NaN: no library calls)
    wall_seconds: float


@dataclass
class Results:
    config: SimConfig                 # resolved: workload defaults filled in
    population: Population
    curves: dict[str, Curve]
    summaries: dict[str, Summary]
    skipped: dict[str, str]           # strategy -> why it did not run
    initial_acc: float
    target_acc: float
    target_note: str                  # how the target was chosen
    budget: int
    budget_note: str
    wall_seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def methods(self) -> list[str]:
        return list(self.curves)

    @property
    def pool_size(self) -> int:
        return min(self.config.ratio * self.config.batch, self.population.size)

    def table(self) -> str:
        from .report import format_table
        return format_table(self)

    def write_csv(self, out_dir) -> list:
        from .report import write_csv
        return write_csv(self, out_dir)

    def plot(self, out_dir) -> list:
        """Writes the PNG plots; raises ImportError without matplotlib."""
        from .report import plot
        return plot(self, out_dir)


def resolve(cfg: SimConfig, population: Population) -> SimConfig:
    """cfg with every None strategy setting replaced by the workload's default."""
    d = population.defaults
    return cfg.replace(
        ratio=cfg.ratio if cfg.ratio is not None else d.ratio,
        max_num_gen_batches=cfg.max_num_gen_batches if cfg.max_num_gen_batches is not None
        else d.max_num_gen_batches,
        mopps_decay=cfg.mopps_decay if cfg.mopps_decay is not None else d.mopps_decay,
        dps_transition_decay=cfg.dps_transition_decay if cfg.dps_transition_decay is not None
        else d.dps_transition_decay,
    )


def parse_methods(methods: str | Iterable[str] | None) -> list[str]:
    if methods is None:
        return list(DEFAULT_METHODS)
    if isinstance(methods, str):
        methods = [m for m in (p.strip() for p in methods.split(",")) if m]
    out = []
    for m in methods:
        if m not in STRATEGIES:
            raise ValueError(f"unknown strategy {m!r}; expected some of {', '.join(STRATEGIES)}")
        if m not in out:
            out.append(m)
    if not out:
        raise ValueError("no strategies to run")
    return out


Progress = Callable[[str, int, int], None]  # (strategy, steps done, total steps)


def run_strategy(name: str, cfg: SimConfig, population: Population, progress: Progress | None = None) -> Curve:
    """Runs one strategy for cfg.steps steps (cfg resolved). Raises StrategyUnavailable."""
    started = time.perf_counter()
    world = World(population, cfg)
    env = Env(cfg=cfg, population=population, world=world,
              loader=Loader(population.size, np.random.default_rng([cfg.seed, 1])),
              rng=np.random.default_rng([cfg.seed, 2]))
    strategy = STRATEGIES[name](env)
    n = cfg.steps + 1
    rollouts = np.zeros(n, dtype=np.int64)
    heldout = np.empty(n)
    train_acc = np.empty(n)
    trained = np.zeros(n, dtype=np.int64)
    informative = np.zeros(n, dtype=np.int64)
    spearman = np.full(n, math.nan)
    select_ms = np.full(n, math.nan)
    gen_batches = np.zeros(n, dtype=np.int64)
    heldout[0] = world.heldout_accuracy()
    train_acc[0] = world.train_accuracy()
    for t in range(1, n):
        r = strategy.step()
        world.train(r.rows, r.success_rate)
        rollouts[t] = rollouts[t - 1] + r.rollouts
        heldout[t] = world.heldout_accuracy()
        train_acc[t] = world.train_accuracy()
        trained[t] = r.rows.size
        informative[t] = int(((r.success_rate > 0) & (r.success_rate < 1)).sum())
        if r.predicted is not None:
            spearman[t] = metrics.spearman(r.predicted, r.success_rate)
        select_ms[t] = r.select_seconds * 1e3
        gen_batches[t] = r.gen_batches
        if progress is not None:
            progress(name, t, cfg.steps)
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = np.where(trained > 0, informative / np.maximum(trained, 1), math.nan)
    frac[0] = math.nan
    return Curve(strategy=name, rollouts=rollouts, heldout_acc=heldout, train_acc=train_acc, trained=trained,
                 informative=informative, informative_frac=frac, spearman=spearman, select_ms=select_ms,
                 gen_batches=gen_batches, offline_rollouts=strategy.offline_rollouts,
                 wall_seconds=time.perf_counter() - started)


def run(config: SimConfig | None = None, methods: str | Iterable[str] | None = None, *,
        progress: Progress | None = None) -> Results:
    """Simulates one training run per strategy and compares them.

    config: a SimConfig (default SimConfig()); methods: names or a comma-separated
    string (default DEFAULT_METHODS). Strategies the loaded library cannot run
    (e.g. DPS before the shim exposes it) are skipped and listed in Results.skipped.
    """
    started = time.perf_counter()
    cfg = config if config is not None else SimConfig()
    cfg.validate()
    names = parse_methods(methods)
    population = build_population(cfg)
    cfg = resolve(cfg, population)
    if cfg.batch > population.size:
        raise ValueError(f"batch {cfg.batch} exceeds the {population.size} prompts of workload {population.name}")

    curves: dict[str, Curve] = {}
    skipped: dict[str, str] = {}
    for name in names:
        try:
            curves[name] = run_strategy(name, cfg, population, progress)
        except StrategyUnavailable as e:
            skipped[name] = str(e)
    if not curves:
        raise RuntimeError("no strategy could run: " + "; ".join(f"{k}: {v}" for k, v in skipped.items()))

    initial = float(next(iter(curves.values())).heldout_acc[0])
    if cfg.target_acc is not None:
        target, target_note = cfg.target_acc, "set by --target-acc"
    else:
        ref_name = "uniform" if "uniform" in curves else min(curves, key=lambda m: curves[m].heldout_acc[-1])
        ref = float(curves[ref_name].heldout_acc[-1])
        target = initial + cfg.target_fraction * (ref - initial)
        target_note = f"{cfg.target_fraction:.0%} of the way from the start to {ref_name}'s final {ref:.3f}"
    if cfg.budget is not None:
        budget, budget_note = int(cfg.budget), "set by --budget"
    else:
        low = min(curves, key=lambda m: curves[m].rollouts[-1])
        budget = int(curves[low].rollouts[-1])
        budget_note = f"the smallest total of any strategy ({low})"

    summaries = {name: summarise(c, target, budget) for name, c in curves.items()}
    return Results(config=cfg, population=population, curves=curves, summaries=summaries, skipped=skipped,
                   initial_acc=initial, target_acc=float(target), target_note=target_note, budget=budget,
                   budget_note=budget_note, wall_seconds=time.perf_counter() - started)


def summarise(c: Curve, target: float, budget: int) -> Summary:
    hit = metrics.first_reach(c.heldout_acc, target)
    total_trained = int(c.trained.sum())
    return Summary(
        strategy=c.strategy,
        steps=c.steps,
        rollouts=int(c.rollouts[-1]),
        offline_rollouts=c.offline_rollouts,
        final_acc=float(c.heldout_acc[-1]),
        steps_to_target=hit,
        rollouts_to_target=None if hit is None else int(c.rollouts[hit]),
        acc_at_budget=metrics.value_at_budget(c.rollouts, c.heldout_acc, budget),
        informative_frac=float(c.informative.sum()) / total_trained if total_trained else math.nan,
        spearman=metrics.nanmean(c.spearman[1:]),
        select_ms=metrics.nanmean(c.select_ms[1:]),
        wall_seconds=c.wall_seconds,
    )
