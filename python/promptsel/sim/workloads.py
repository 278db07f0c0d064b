"""Workloads: how difficult the prompts are before training.

Built-in workloads (each seeded by SimConfig.seed) draw the initial logit of prompt
i of cluster c as b_i = mu + delta_c + sigma * eps_i, with cluster offsets delta_c,
so that difficulty is partly predictable from the features:

    math       mostly easy, like MATH for a strong distilled model (R1-Distill-1.5B):
               most prompts already solved, a hard tail concentrated in a few
               clusters. Candidate ratio 16, DS cap 4, MoPPS lambda 1.0, DPS lambda_T 0.7.
    countdown  mostly hard, like Countdown for a base model (Qwen2.5-3B): most
               prompts never solved yet, an easier minority. Ratio 8, DS cap 10,
               MoPPS lambda 0.5, DPS lambda_T 0.5.
    bimodal    half the clusters easy, half hard, a thin middle band. Settings as math.

User workloads load per-prompt offline results of the initial policy, either the
MoPPS warm-start JSON `{"<id>": [0/1, ...], ...}` or a CSV `id,successes,trials`
(header optional); ids are ints or strings, mapped by promptsel.prompt_ids. Prompt
i starts at p_i = (successes + 0.5) / (trials + 1). The file says nothing about
features, so prompts are assigned to clusters at random; the held-out set
resamples the file's difficulties (with jitter). The file's
results are also what the "offline" strategy warm-starts from. Workloads whose
mean initial success is >= 0.5 take the math settings, the others countdown's.
"""
from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np

from ..errors import PromptSelError
from ..ids import prompt_ids
from .model import Population, SimConfig, WorkloadDefaults, make_features, make_geometry

MATH_DEFAULTS = WorkloadDefaults(ratio=16, max_num_gen_batches=4, mopps_decay=1.0, dps_transition_decay=0.7)
COUNTDOWN_DEFAULTS = WorkloadDefaults(ratio=8, max_num_gen_batches=10, mopps_decay=0.5, dps_transition_decay=0.5)

# b_i = mu + delta_c + prompt_sd * eps_i, delta_c ~ N(0, cluster_sd^2), plus hard_shift for a
# hard_fraction of the clusters. With k = 8 at the start: math ~58% of prompts all-correct,
# ~4% all-wrong; countdown ~1% / ~60%; bimodal ~36% / ~35%.
BUILTIN = {
    "math": dict(mu=3.6, cluster_sd=0.8, prompt_sd=1.5, hard_fraction=0.1875, hard_shift=-5.0,
                 defaults=MATH_DEFAULTS),
    "countdown": dict(mu=-3.0, cluster_sd=1.0, prompt_sd=1.4, hard_fraction=0.0, hard_shift=0.0,
                      defaults=COUNTDOWN_DEFAULTS),
    "bimodal": dict(mu=3.5, cluster_sd=0.5, prompt_sd=1.0, hard_fraction=0.5, hard_shift=-7.0,
                    defaults=MATH_DEFAULTS),
}

#: Names accepted by --workload besides a file path.
BUILTIN_NAMES = tuple(BUILTIN)


def build_population(cfg: SimConfig) -> Population:
    """The population of `cfg.workload`: a built-in name or a .json/.csv file."""
    if cfg.workload in BUILTIN:
        return _builtin(cfg.workload, cfg)
    path = Path(cfg.workload)
    if path.suffix.lower() not in (".json", ".csv"):
        raise ValueError(f"unknown workload {cfg.workload!r}: expected one of {', '.join(BUILTIN_NAMES)} "
                         f"or a path to a .json or .csv file of offline results")
    if not path.is_file():
        raise ValueError(f"workload file {str(path)!r} does not exist")
    ids, successes, trials = load_offline_results(path)
    return _from_results(path.name, ids, successes, trials, cfg)


def _builtin(name: str, cfg: SimConfig) -> Population:
    spec = BUILTIN[name]
    rng = np.random.default_rng([cfg.seed, 0])
    centres, shared = make_geometry(rng, cfg)
    offsets = rng.normal(0.0, spec["cluster_sd"], cfg.n_clusters)
    n_hard = int(round(spec["hard_fraction"] * cfg.n_clusters))
    offsets[rng.permutation(cfg.n_clusters)[:n_hard]] += spec["hard_shift"]

    def sample(n):
        clusters = rng.integers(0, cfg.n_clusters, n)
        feats = make_features(rng, clusters, centres, shared, cfg)
        b = spec["mu"] + offsets[clusters] + rng.normal(0.0, spec["prompt_sd"], n)
        return feats, clusters, b

    x, c, b = sample(cfg.n_prompts)
    hx, hc, hb = sample(cfg.n_heldout)
    return Population(name=name, ids=np.arange(cfg.n_prompts, dtype=np.int64), features=x, clusters=c,
                      difficulty=b, heldout_features=hx, heldout_clusters=hc, heldout_difficulty=hb,
                      defaults=spec["defaults"])


def _from_results(name: str, ids: np.ndarray, successes: np.ndarray, trials: np.ndarray,
                  cfg: SimConfig) -> Population:
    rng = np.random.default_rng([cfg.seed, 0])
    centres, shared = make_geometry(rng, cfg)
    p0 = (successes + 0.5) / (trials + 1.0)
    b = np.log(p0 / (1.0 - p0))
    clusters = rng.integers(0, cfg.n_clusters, ids.size)
    feats = make_features(rng, clusters, centres, shared, cfg)
    hc = rng.integers(0, cfg.n_clusters, cfg.n_heldout)
    hx = make_features(rng, hc, centres, shared, cfg)
    hb = rng.choice(b, cfg.n_heldout) + rng.normal(0.0, 0.3, cfg.n_heldout)
    defaults = MATH_DEFAULTS if p0.mean() >= 0.5 else COUNTDOWN_DEFAULTS
    return Population(name=name, ids=ids, features=feats, clusters=clusters, difficulty=b,
                      heldout_features=hx, heldout_clusters=hc, heldout_difficulty=hb, defaults=defaults,
                      offline=(successes, trials))


# ---- Offline result files --------------------------------------------------------

def load_offline_results(path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ids int64, successes float64, trials float64) from a .json or .csv file.
    Prompt ids are ints or strings, mapped as everywhere in promptsel
    (promptsel.prompt_ids: "5" is prompt 5, other strings are hashed). Any
    malformed content raises ValueError naming the file and the problem."""
    path = Path(path)
    suffix = path.suffix.lower()
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise ValueError(f"{path}: not a UTF-8 text file ({e})") from None
    if suffix == ".json":
        rows = _parse_json(text, path)
    elif suffix == ".csv":
        rows = _parse_csv(text, path)
    else:
        raise ValueError(f"{path}: expected a .json or .csv file of offline results")
    if not rows:
        raise ValueError(f"{path}: no prompts in the file")
    keys = [r[0] for r in rows]
    try:
        ids = prompt_ids(keys)
    except PromptSelError as e:  # two keys with one id (a hash collision)
        raise ValueError(f"{path}: {e}") from None
    _, first, counts = np.unique(ids, return_index=True, return_counts=True)
    if (counts > 1).any():
        key = keys[int(first[np.argmax(counts > 1)])]
        raise ValueError(f"{path}: prompt id {key!r} appears more than once")
    successes = np.array([r[1] for r in rows], dtype=np.float64)
    trials = np.array([r[2] for r in rows], dtype=np.float64)
    return ids, successes, trials


def _prompt_key(key, path, where) -> str:
    key = key.strip()
    if not key:
        raise ValueError(f"{path}: {where}: empty prompt id")
    return key


def _parse_json(text, path):
    try:
        # Pairs, not a dict: json.loads would keep only the last of two equal keys.
        doc = json.loads(text, object_pairs_hook=_Pairs)
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: invalid JSON ({e})") from None
    if not isinstance(doc, _Pairs):
        raise ValueError(f'{path}: expected a JSON object {{"<id>": [0/1, ...], ...}}, got {type(doc).__name__}')
    rows = []
    for key, value in doc:
        pid = _prompt_key(key, path, f"key {key!r}")
        if (not isinstance(value, list) or not value
                or not all(isinstance(v, (int, float)) and v in (0, 1) for v in value)):
            raise ValueError(f"{path}: id {key}: expected a non-empty list of 0/1 results, got {value!r:.60}")
        rows.append((pid, float(sum(value)), float(len(value))))
    return rows


class _Pairs(list):
    """A JSON object as its (key, value) pairs, in file order."""


def _parse_csv(text, path):
    lines = list(csv.reader(line for line in text.splitlines() if line.strip()))
    if not lines:
        return []
    first = [f.strip().lower() for f in lines[0]]
    columns = (0, 1, 2)
    start = 0
    # Ids may be strings, so only the numeric successes and trials tell a data row from a header.
    if {"id", "successes", "trials"} <= set(first):
        columns = tuple(first.index(name) for name in ("id", "successes", "trials"))
        start = 1
    elif not (len(first) >= 3 and _is_number(first[1]) and _is_number(first[2])):
        raise ValueError(f"{path}: the header must name the columns id, successes, trials; got {lines[0]}")
    rows = []
    for lineno, fields in enumerate(lines[start:], start=start + 1):
        where = f"row {lineno}"
        if len(fields) <= max(columns):
            raise ValueError(f"{path}: {where}: expected id,successes,trials, got {','.join(fields)!r}")
        pid = _prompt_key(fields[columns[0]], path, where)
        try:
            succ = float(fields[columns[1]])
            trials = float(fields[columns[2]])
        except ValueError:
            raise ValueError(f"{path}: {where}: successes and trials must be numbers, "
                             f"got {fields[columns[1]]!r}, {fields[columns[2]]!r}") from None
        if not (math.isfinite(succ) and math.isfinite(trials) and trials >= 1 and 0 <= succ <= trials):
            raise ValueError(f"{path}: {where}: need trials >= 1 and 0 <= successes <= trials, "
                             f"got successes={succ:g}, trials={trials:g}")
        rows.append((pid, succ, trials))
    return rows


def _is_number(s: str) -> bool:
    try:
        float(s)
        return True
    except ValueError:
        return False
