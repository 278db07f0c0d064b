"""The per-method table of the Python package: one `MethodSpec` per selection method,
holding only what Python adds to what the library describes about it (parameters,
state columns and metrics come from `promptsel_method_describe`, never restated):
keyword spellings the Python API has always accepted, the verl `tasksampler.*` keys
of the reference trainers, the reference checkpoint file, and what TaskSampler
reports. Adding a method: one entry in `METHODS` (and its Swift model).
"""

import dataclasses
import functools
from typing import Callable, Dict, Optional, Tuple

from . import _native, formats
from .errors import InvalidArgumentError, UnsupportedError


@dataclasses.dataclass(frozen=True)
class Param:
    name: str
    type: str  # real | uint64 | bool | choice
    default: str
    domain: str
    doc: str

    @property
    def choices(self):
        return self.domain.split("|") if self.type == "choice" else None


@dataclasses.dataclass(frozen=True)
class Description:
    """A method as the library describes it."""

    name: str
    summary: str
    params: Dict[str, Param]
    state: Tuple[str, ...]
    metrics: Dict[str, Tuple[str, ...]]  # scope ("step" | "all") -> names

    def default(self, name):
        return parse_value(self.params[name], self.params[name].default)


def parse_value(param, text):
    """A parameter's text as the library prints it, as a Python value."""
    if param.type == "real":
        return float(text)
    if param.type in ("uint64", "int"):
        return int(text)
    if param.type == "bool":
        return text == "true"
    return text


@functools.lru_cache(maxsize=None)
def describe(method: str) -> Description:
    """The library's description of `method` (cached: it never changes at run time)."""
    params, state, metrics, summary = {}, [], {"step": [], "all": []}, ""
    for line in _native.describe(method).splitlines():
        kind, *fields = line.split("\t")
        if kind == "method":
            summary = fields[1]
        elif kind == "param":
            params[fields[0]] = Param(*fields)
        elif kind == "state":
            state.append(fields[0])
        elif kind == "metric":
            metrics[fields[1]].append(fields[0])
    return Description(method, summary, params, tuple(state), {k: tuple(v) for k, v in metrics.items()})


# ---- Keyword spellings (Python API and verl keys) -------------------------------

def _mopps_prior(value):
    try:
        a, b = value
    except (TypeError, ValueError):
        raise InvalidArgumentError(f"prior must be a pair (alpha0, beta0), got {value!r}") from None
    return {"prior_alpha": a, "prior_beta": b}


def _dps_prior_alpha(value):
    # The reference's hmm_prior_alpha: a constant count, or a named shape.
    if isinstance(value, str):
        if value == "constant":
            raise InvalidArgumentError("prior_alpha takes a number for the constant prior, not 'constant'")
        shapes = describe("dps").params["prior_shape"].choices
        if value not in shapes:
            raise InvalidArgumentError(f"unknown prior_alpha shape {value!r}; expected a number or one of "
                                       f"{', '.join(map(repr, shapes))}")
        return {"prior_shape": value}
    return {"prior_shape": "constant", "prior_alpha": value}


# The reference's hmm_prior_pi: uniform, or one-hot on state 1, 2 or 3.
_DPS_PRIOR_PI = {"uniform": "uniform", "1": "unsolved", "2": "partial", "3": "solved"}


def _dps_prior_pi(value):
    if str(value) not in _DPS_PRIOR_PI:
        raise InvalidArgumentError(f"unknown DPS prior_pi {value!r}; expected one of "
                                   f"{', '.join(map(repr, _DPS_PRIOR_PI))}")
    return {"prior_pi": _DPS_PRIOR_PI[str(value)]}


@dataclasses.dataclass(frozen=True)
class MethodSpec:
    name: str
    #: How messages name the method ("MoPPS").
    label: str
    #: Python keywords that are not a library parameter name, and what they set.
    keywords: Dict[str, Callable[[object], dict]]
    #: Keywords the 0.2 Selector took that TaskSampler/verl configs map 1:1 from these keys.
    verl_keys: Dict[str, str]
    #: SelectorConfig attribute names of 0.2 -> a function of the parameters.
    legacy_config: Dict[str, Callable[[dict], object]]
    #: The reference sampler's checkpoint file, with its writer and reader (None:
    #: the method has no reference implementation to migrate from).
    reference_file: Optional[str]
    export_reference: Optional[Callable]
    import_reference: Optional[Callable]
    #: The acquisition scores TaskSampler returns: the select scores, or these state columns.
    acquisition_state: Optional[Tuple[str, ...]]
    #: TaskSampler.metrics(): key prefix and the metric scopes reported.
    metric_prefix: str
    metric_scopes: Tuple[str, ...]
    #: Whether TaskSampler registers features of the candidates (featurize of the
    #: prompt text or token ids) before each select.
    features: bool = False
    #: TaskSampler.compute_statistics(): the reference trainer's metric names (after
    #: metric_prefix) -> the library's "all"-scope metric that is the same statistic.
    reference_statistics: Dict[str, str] = dataclasses.field(default_factory=dict)

    def library_params(self, kwargs):
        """Keyword arguments as library parameters ({name: python value})."""
        described = describe(self.name).params
        unknown = sorted(k for k in kwargs if k not in self.keywords and k not in described)
        if unknown:
            accepted = sorted(set(self.keywords) | set(described) - {"seed", "strategy", "no_update"})
            raise TypeError(f"Selector({self.name!r}) got unexpected keyword arguments: {', '.join(unknown)} "
                            f"(it takes {', '.join(accepted)})")
        out = {}
        for key, value in kwargs.items():
            out.update(self.keywords[key](value) if key in self.keywords else {key: value})
        return out


METHODS = {
    "mopps": MethodSpec(
        name="mopps",
        label="MoPPS",
        keywords={"prior": _mopps_prior},
        verl_keys={"bandit_sample_strategy": "strategy", "bandit_no_update": "no_update",
                   "bandit_target_mean": "target", "bandit_lower_bound": "lower",
                   "bandit_upper_bound": "upper", "bandit_decay_ratio": "decay"},
        legacy_config={"prior": lambda p: (p["prior_alpha"], p["prior_beta"])},
        reference_file=formats.INDEX_SCORE_FILE,
        export_reference=formats.export_index_score,
        import_reference=formats.import_index_score,
        acquisition_state=None,
        metric_prefix="tasksample/",
        metric_scopes=(),
    ),
    "dps": MethodSpec(
        name="dps",
        label="DPS",
        keywords={"prior_alpha": _dps_prior_alpha, "prior_pi": _dps_prior_pi},
        verl_keys={"hmm_sample_strategy": "strategy", "hmm_no_update": "no_update",
                   "hmm_prior_alpha": "prior_alpha", "hmm_prior_pi": "prior_pi",
                   "hmm_transition_decay_ratio": "transition_decay", "hmm_entropy_weight": "entropy_weight"},
        legacy_config={
            "dps_prior_alpha": lambda p: p["prior_alpha"] if p["prior_shape"] == "constant" else p["prior_shape"],
            "dps_prior_pi": lambda p: {v: k for k, v in _DPS_PRIOR_PI.items()}[p["prior_pi"]],
            "dps_transition_decay": lambda p: p["transition_decay"],
            "dps_entropy_weight": lambda p: p["entropy_weight"],
        },
        reference_file=formats.HMM_PARAMS_FILE,
        export_reference=formats.export_hmm_params,
        import_reference=formats.import_hmm_params,
        # As the reference: the chosen prompts' B x 3 beliefs, not P(partial) alone.
        acquisition_state=("p_unsolved", "p_partial", "p_solved"),
        metric_prefix="tasksample_hmm/",
        metric_scopes=("step", "all"),
        # maoyixiu/DPS recipe/dps/task_sampler.py compute_statistics.
        reference_statistics={
            "state_distribution_statelevel_entropy": "mean_entropy",
            "transition_matrix_datalevel_variance": "alpha_variance",
            "state_distribution_datalevel_variance": "belief_variance",
            "state_distribution_statelevel_max": "belief_max_mean",
            "state_distribution_statelevel_min": "belief_min_mean",
            "sample_times_std": "sampled_std",
            "sample_times_max": "sampled_max",
            "sample_times_min": "sampled_min",
        },
    ),
    "gps": MethodSpec(
        name="gps", label="GPS", keywords={}, verl_keys={}, legacy_config={},
        reference_file=None, export_reference=None, import_reference=None,
        acquisition_state=None, metric_prefix="tasksample_gps/", metric_scopes=("step",), features=True,
    ),
    "hybrid": MethodSpec(
        name="hybrid", label="hybrid", keywords={}, verl_keys={}, legacy_config={},
        reference_file=None, export_reference=None, import_reference=None,
        acquisition_state=None, metric_prefix="tasksample_hybrid/", metric_scopes=("step",), features=True,
    ),
}


def spec(method) -> MethodSpec:
    """The table entry of `method`; the library's own error for names it does not have."""
    if method in METHODS:
        return METHODS[method]
    if not isinstance(method, str):
        raise InvalidArgumentError(f"method must be a name, got {method!r}")
    describe(method)  # raises the library's message (unknown: nearest name; reserved: unsupported)
    raise UnsupportedError(f"method {method!r} has no entry in promptsel.methods.METHODS")
