"""Reading a trainer's config: one function for the key lookups every adapter does
(OmegaConf DictConfig, nested dicts or attribute objects alike), the method a
section asks for, and the Selector it describes. Shared by TaskSampler
(`tasksampler.*`) and CurriculumSampler (`data.sampler.*`), so a setting has the
same name and meaning under both.
"""

from collections.abc import Mapping

from .. import _args, methods
from ..errors import InvalidArgumentError
from ..selector import Selector

_MISSING = object()


def get(cfg, dotted, default=_MISSING):
    """`cfg.a.b.c`. A missing key or an explicit null gives `default`; with no
    default, KeyError names the key."""
    node = cfg
    for part in dotted.split(".") if dotted else ():
        if isinstance(node, Mapping):  # DictConfig is a MutableMapping
            node = node[part] if part in node else None
        else:
            node = getattr(node, part, None)
        if node is None:
            if default is _MISSING:
                raise KeyError(f"the config has no {dotted}")
            return default
    return node


def get_int(cfg, dotted, default=_MISSING, lo=1, hi=2**31 - 1):
    """An integer setting in [lo, hi]: `True` or 2.5 is an error naming the key, never
    1 or 2 (`int()` would take both). A decimal string (a command-line override) is
    read as its integer."""
    value = get(cfg, dotted, default)
    if isinstance(value, str) and value.strip().lstrip("+-").isdigit():
        value = int(value)
    return _args.bounded(value, dotted, lo, hi)


def keys(section):
    """The keys set in one config section (empty when it is missing)."""
    if section is None:
        return []
    if isinstance(section, Mapping):
        return [str(k) for k in section.keys()]
    return [k for k in vars(section) if not k.startswith("_")] if hasattr(section, "__dict__") else []


def infer_method(cfg, section):
    """The method `section` (e.g. "tasksampler") asks for. `section.method` when set;
    otherwise the reference trainers' key families decide: `hmm_*` keys are the DPS
    trainer's and `bandit_*` keys the MoPPS trainer's. Both or neither is an error
    that names the key to set, never a silent default: a DPS config run as MoPPS
    would ignore every hmm_* setting."""
    method = get(cfg, f"{section}.method", None)
    if method is not None:
        if method not in methods.METHODS:
            raise InvalidArgumentError(f"unknown {section}.method {method!r}; expected one of "
                                       f"{', '.join(map(repr, methods.METHODS))}")
        return method
    names = keys(get(cfg, section, None))
    families = {m for prefix, m in (("hmm_", "dps"), ("bandit_", "mopps"))
                if any(k.startswith(prefix) for k in names)}
    if len(families) == 1:
        return families.pop()
    what = "both hmm_* (DPS) and bandit_* (MoPPS) keys" if families else "neither hmm_* nor bandit_* keys"
    raise InvalidArgumentError(
        f"{section} has {what} and no {section}.method: set it, e.g. +{section}.method=dps "
        f"(one of {', '.join(methods.METHODS)})")


def build_selector(cfg, section, method, seed, prior=None):
    """The Selector of `method` with the settings under `section`: the method's own
    parameters by their library names (`decay=0.9`), then the reference trainers'
    spellings (`bandit_decay_ratio=0.9`); a key not set takes the library's default.
    `prior` is the MoPPS reference constructor's (alpha0, beta0)."""
    spec = methods.spec(method)
    kwargs = {}
    for name in methods.describe(method).params:
        value = get(cfg, f"{section}.{name}", None)
        if value is not None and name != "seed":
            kwargs[name] = value
    for key, keyword in spec.verl_keys.items():
        value = get(cfg, f"{section}.{key}", None)
        if value is not None:
            kwargs[keyword] = value
    if prior is not None and "prior" in spec.keywords and "prior_alpha" not in kwargs:
        kwargs["prior"] = prior
    strategy = kwargs.pop("strategy", None)
    no_update = kwargs.pop("no_update", False)
    return Selector(method, seed=seed, strategy=strategy, no_update=no_update, **kwargs)
