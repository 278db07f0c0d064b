"""promptsel.sim: a simulated GRPO post-training run to compare prompt selectors.

    python -m promptsel.sim --demo
    python -m promptsel.sim --workload math --steps 200 --methods uniform,ds,mopps,dps --out results/

or from Python:

    from promptsel import sim
    results = sim.run(sim.SimConfig(workload="countdown", steps=120), "uniform,ds,mopps,dps")
    print(results.table())
    results.summaries["mopps"].rollouts_to_target

The world (model.py) is a population of prompts with features and latent success
probabilities, a policy whose skill vector learns from prompts with mixed outcomes,
and a held-out set; workloads.py sets the initial difficulties; strategies.py holds
uniform, ds, offline, mopps, mopps-threshold and dps, the selectors always through
the real library; runner.py is the loop and metrics; report.py the table, CSV and plots.
Needs numpy only (matplotlib, if installed, for the plots).
"""
from .metrics import rankdata, spearman
from .model import Population, SimConfig, World
from .runner import DEFAULT_METHODS, Curve, Results, Summary, run, run_strategy
from .strategies import STRATEGIES, StrategyUnavailable
from .workloads import BUILTIN_NAMES, build_population, load_offline_results

__all__ = [
    "BUILTIN_NAMES",
    "Curve",
    "DEFAULT_METHODS",
    "Population",
    "Results",
    "STRATEGIES",
    "SimConfig",
    "StrategyUnavailable",
    "Summary",
    "World",
    "build_population",
    "load_offline_results",
    "rankdata",
    "run",
    "run_strategy",
    "spearman",
]
