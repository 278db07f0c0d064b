"""The simulated world: a population of prompts and a policy that learns from them.

The model is deliberately small. It keeps the one property of GRPO-style training
that prompt selection exploits, and the feature structure a feature-based predictor
(GPS) needs to learn from.

Prompts
    Prompt i has a feature vector x_i in R^d (unit norm) and a prompt-specific
    difficulty offset b_i (a logit). Features come from clusters ("topics"):

        x_i = normalise(shared * u + c_{cluster(i)} + feature_noise * e_i / sqrt(d))

    u is one direction common to all prompts (general reasoning skill), c_j are
    unit-norm random cluster centres and e_i ~ N(0, I). Two prompts of one cluster
    have x_i . x_j ~ 0.9; prompts of different clusters ~ 0.25 (sometimes < 0).

Policy
    The policy is a skill vector w in R^d, initially 0. The latent success
    probability of prompt i is

        p_i = sigmoid(b_i + x_i . w)

    so at the start p_i = sigmoid(b_i): the workload sets the initial difficulties
    (see workloads.py), and cluster-level offsets make difficulty predictable from
    the features.

Rollouts
    A prompt rolled out k times yields s = Binomial(k, p_i) / k.

Learning (one training step on the trained batch T)
    GRPO's group-normalised advantage is zero when all k rollouts agree, so a prompt
    with s in {0, 1} gives no gradient; a mixed group does, in proportion to its
    reward variance v = s (1 - s). One step moves

        w   <- w + skill_lr * sum_{i in T} v_i x_i / |T|      (shared: transfers)
        b_i <- b_i + own_lr * v_i              for i in T    (prompt-specific)

    The division by |T| is the token-mean loss: uninformative prompts in the batch
    dilute the step. Learning on prompt i therefore raises p_i the most (own term
    plus |x_i|^2 = 1), prompts of its cluster nearly as much (x_i . x_j ~ 0.9) and
    the rest weakly (~ 0.25).

Held-out set
    A separate sample of prompts from the same population (same cluster centres,
    shared direction and difficulty distribution) that is never trained on. Its
    accuracy, the mean of p over its prompts, only moves through w: it measures how
    much the policy generalises, without evaluation noise.

Every parameter lives in `SimConfig`.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from .._args import integer


@dataclass(frozen=True)
class SimConfig:
    """Every parameter of a simulated run: the world, the training loop and the metrics.

    Fields left at None take the workload's default (see workloads.BUILTIN).
    """

    # -- workload and loop --
    workload: str = "math"          # math | countdown | bimodal | path to a .json/.csv of offline results
    steps: int = 200                # training steps per strategy
    seed: int = 0                   # seeds the population, the data order, the rollouts and the selectors
    batch: int = 64                 # B: prompts trained per step
    rollouts: int = 8               # k: rollouts per prompt
    ratio: int | None = None        # B^/B, candidate pool size over B (16 math, 8 countdown)
    max_num_gen_batches: int | None = None  # DS cap on generation batches per step (4 math, 10 countdown)

    # -- population (built-in workloads; a user workload takes its size from the file) --
    n_prompts: int = 2048           # training set size (B/N ~ 3%, as 256/7500 on MATH)
    n_heldout: int = 512            # held-out set size
    dim: int = 12                   # d, feature dimension
    n_clusters: int = 16            # number of clusters (topics)
    shared: float = 0.6             # weight of the direction shared by every prompt
    feature_noise: float = 0.35     # per-prompt feature noise around its cluster centre

    # -- learning --
    skill_lr: float = 0.3           # step of the shared skill vector w (transfers across prompts)
    own_lr: float = 0.3             # step of the trained prompt's own offset b_i (memorisation)

    # -- strategies --
    offline_samples: int = 8        # "offline": rollouts per prompt of the initial policy
    offline_weight: float = 3.0     # "offline": warm-start weight of each offline sample
    mopps_decay: float | None = None            # MoPPS lambda (1.0 math, 0.5 countdown)
    dps_transition_decay: float | None = None   # DPS lambda_T (0.7 math, 0.5 countdown)

    # -- metrics --
    target_fraction: float = 0.9    # default target: this far from the initial accuracy to uniform's final
    target_acc: float | None = None  # explicit target held-out accuracy (overrides target_fraction)
    budget: int | None = None       # rollout budget for "acc @ budget" (default: smallest total of any strategy)

    def replace(self, **changes) -> "SimConfig":
        return dataclasses.replace(self, **changes)

    def validate(self) -> None:
        for name in _INTEGER_FIELDS:  # True would run as 1, 2.5 fail deep inside numpy
            if getattr(self, name) is not None:
                integer(getattr(self, name), name)

        def positive(name):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")

        for name in ("steps", "batch", "rollouts", "n_prompts", "n_heldout", "dim", "n_clusters",
                     "offline_samples"):
            positive(name)
        if self.ratio is not None:
            positive("ratio")
        if self.max_num_gen_batches is not None:
            positive("max_num_gen_batches")
        if not 0 < self.target_fraction <= 1:
            raise ValueError(f"target_fraction must lie in (0, 1], got {self.target_fraction}")
        if self.target_acc is not None and not 0 < self.target_acc < 1:
            raise ValueError(f"target_acc must lie in (0, 1), got {self.target_acc}")
        if self.budget is not None and self.budget < 1:
            raise ValueError(f"budget must be >= 1 rollouts, got {self.budget}")
        for name in ("mopps_decay", "dps_transition_decay"):
            v = getattr(self, name)
            if v is not None and not 0 < v <= 1:
                raise ValueError(f"{name} must lie in (0, 1], got {v}")


_INTEGER_FIELDS = ("steps", "seed", "batch", "rollouts", "ratio", "max_num_gen_batches", "n_prompts", "n_heldout",
                   "dim", "n_clusters", "offline_samples", "budget")


@dataclass(frozen=True)
class WorkloadDefaults:
    """Per-workload settings of the strategies, as the papers' scripts use them."""

    ratio: int                  # candidate ratio B^/B
    max_num_gen_batches: int    # DS cap
    mopps_decay: float          # MoPPS lambda
    dps_transition_decay: float  # DPS lambda_T


@dataclass(frozen=True)
class Population:
    """A training set and a held-out set drawn from one prompt population.

    Rows are positions 0..n-1; `ids` are the dataset ids passed to the selectors
    (0..n-1 for built-in workloads, the file's ids for user workloads).
    """

    name: str
    ids: np.ndarray                 # (n,) int64 dataset ids
    features: np.ndarray            # (n, d) unit-norm feature vectors x_i
    clusters: np.ndarray            # (n,) cluster of each prompt
    difficulty: np.ndarray          # (n,) initial logit offsets b_i
    heldout_features: np.ndarray    # (m, d)
    heldout_clusters: np.ndarray    # (m,)
    heldout_difficulty: np.ndarray  # (m,)
    defaults: WorkloadDefaults
    # Offline results given by a user workload file (successes, trials per row), or None.
    offline: tuple[np.ndarray, np.ndarray] | None = None

    @property
    def size(self) -> int:
        return int(self.ids.size)

    def initial_success(self) -> np.ndarray:
        """Latent success probability of every training prompt before training."""
        return sigmoid(self.difficulty)


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def make_features(rng: np.random.Generator, clusters: np.ndarray, centres: np.ndarray, shared_dir: np.ndarray,
                  cfg: SimConfig) -> np.ndarray:
    """Unit-norm features of prompts in `clusters` (see the module docstring)."""
    d = centres.shape[1]
    noise = rng.standard_normal((clusters.size, d)) / np.sqrt(d)
    x = cfg.shared * shared_dir + centres[clusters] + cfg.feature_noise * noise
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def make_geometry(rng: np.random.Generator, cfg: SimConfig) -> tuple[np.ndarray, np.ndarray]:
    """(cluster centres (n_clusters, d), shared direction (d,)), all unit norm."""
    centres = rng.standard_normal((cfg.n_clusters, cfg.dim))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    shared = rng.standard_normal(cfg.dim)
    return centres, shared / np.linalg.norm(shared)


class World:
    """One policy training on a population: the mutable state of one strategy's run."""

    def __init__(self, population: Population, cfg: SimConfig):
        self.population = population
        self.cfg = cfg
        self.features = population.features
        self.b = population.difficulty.astype(np.float64).copy()
        self.w = np.zeros(population.features.shape[1])

    def success_prob(self, rows: np.ndarray) -> np.ndarray:
        """Latent success probability of training rows under the current policy."""
        return sigmoid(self.b[rows] + self.features[rows] @ self.w)

    def rollout(self, rows: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
        """Number of successes of k rollouts of each row (int64)."""
        return rng.binomial(k, self.success_prob(rows))

    def train(self, rows: np.ndarray, success_rate: np.ndarray) -> None:
        """One GRPO step on the trained batch `rows` with observed success rates."""
        if rows.size == 0:
            return
        v = success_rate * (1.0 - success_rate)
        self.w += self.cfg.skill_lr * (v @ self.features[rows]) / rows.size
        np.add.at(self.b, rows, self.cfg.own_lr * v)

    def heldout_accuracy(self) -> float:
        p = self.population
        return float(sigmoid(p.heldout_difficulty + p.heldout_features @ self.w).mean())

    def train_accuracy(self) -> float:
        return float(sigmoid(self.b + self.features @ self.w).mean())
