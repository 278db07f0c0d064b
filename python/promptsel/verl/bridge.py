"""The two pieces that put a CurriculumSampler into verl 0.8 - 0.9.1's legacy trainer,
which has no sampler hook any more (PR #6302 removed it):

- `make_sampler(data_config, dataset)` has the signature of verl's
  `create_rl_sampler(data_config, dataset)`. `promptsel.verl.main_ppo` has verl's
  TaskRunner call it in place of that function, so `RayPPOTrainer(...,
  train_sampler=...)` gets the CurriculumSampler.
- The feedback path: `RayPPOTrainer.fit` still ends each step with
  `if hasattr(self.train_dataset, "on_batch_end"): self.train_dataset.on_batch_end(batch=batch)`
  (0.9.1 `verl/trainer/ppo/ray_trainer.py:1818-1820`). `attach` sets an
  `on_batch_end` on the training dataset *instance* that forwards that DataProto
  to `sampler.update`, so any dataset class (RLHFDataset or a `data.custom_cls`)
  works unchanged.

verl calls `on_batch_end` after the step's checkpoint save and not at all on the
last step (its `return`, l.1814, comes first), so `data.pt` always lacks the step's
update (`journal_dir` makes resume exact) and the last step's feedback never
reaches the sampler.

Nothing here imports verl or torch.
"""

import logging

from ..errors import InvalidArgumentError

log = logging.getLogger("promptsel.verl")

#: verl's default for `data.dataloader_num_workers` when the key is missing.
VERL_DEFAULT_NUM_WORKERS = 8


def _get(cfg, key, default=None):
    if cfg is None:
        return default
    if hasattr(cfg, "get"):
        value = cfg.get(key, default)
    else:
        value = getattr(cfg, key, default)
    return default if value is None else value


def check_num_workers(data_config):
    """The curriculum needs `data.dataloader_num_workers=0`: with workers the
    dataloader draws batches ahead, before the previous step's feedback arrived
    (verl 0.7.1's create_rl_sampler asserted the same)."""
    workers = _get(data_config, "dataloader_num_workers", VERL_DEFAULT_NUM_WORKERS)
    if workers != 0:
        raise InvalidArgumentError(
            f"data.dataloader_num_workers={workers}: promptsel's CurriculumSampler needs "
            "data.dataloader_num_workers=0 (workers prefetch batches before the previous "
            "step's feedback reached the sampler)")


class BatchEndBridge:
    """`dataset.on_batch_end(batch=...)` -> `sampler.update(batch)`, then the
    dataset's own on_batch_end if its class has one (the sampler's feedback is about
    the rows as they were drawn, so it goes first)."""

    def __init__(self, sampler, previous=None):
        self.sampler = sampler
        self.previous = previous
        self.updates = 0

    def __call__(self, batch=None, **kwargs):
        if batch is None:
            raise TypeError("on_batch_end needs the step's batch (verl passes batch=DataProto)")
        self.sampler.update(batch)
        self.updates += 1
        if self.previous is not None:
            self.previous(batch=batch, **kwargs)

    def __repr__(self):
        return f"BatchEndBridge({type(self.sampler).__name__}, updates={self.updates})"


def attach(dataset, sampler):
    """Make verl's end-of-step `dataset.on_batch_end(batch=...)` reach `sampler`.
    Returns the bridge. A dataset that already has one keeps it, called after the
    sampler's update, with a warning: a dataset that changes its rows there
    (verl's old dynamic-dataset idea) invalidates the positions the sampler mapped
    at construction."""
    current = getattr(dataset, "on_batch_end", None)
    if isinstance(current, BatchEndBridge):
        raise ValueError(f"{type(dataset).__name__} already feeds a sampler ({current!r}); "
                         "one CurriculumSampler per training dataset")
    if current is not None:
        log.warning("promptsel: %s has its own on_batch_end; it still runs, after the "
                    "sampler's update. If it adds or removes rows, the sampler's prompt "
                    "positions go stale.", type(dataset).__name__)
    bridge = BatchEndBridge(sampler, current)
    try:
        dataset.on_batch_end = bridge
    except (AttributeError, TypeError) as e:
        raise TypeError(f"cannot set on_batch_end on {type(dataset).__name__} ({e}); "
                        "promptsel needs it to receive verl's per-step batch") from e
    return bridge


def make_sampler(data_config, dataset, sampler_cls=None):
    """Stands in for verl's `create_rl_sampler(data_config, dataset)`: the
    CurriculumSampler over `dataset` with the settings under `data_config.sampler`,
    wired to the dataset's on_batch_end. `sampler_cls` defaults to
    promptsel.verl.CurriculumSampler."""
    check_num_workers(data_config)
    if sampler_cls is None:
        from . import CurriculumSampler as sampler_cls
    sampler = sampler_cls(data_source=dataset, data_config=data_config)
    attach(dataset, sampler)
    batch = _get(data_config, "gen_batch_size") or _get(data_config, "train_batch_size")
    method = _get(_get(data_config, "sampler"), "method", "default")
    # print, not log: this line is how an operator (and the CPU test) sees that the
    # hook took, and verl's TaskRunner output is print()s.
    print(f"promptsel: {type(sampler).__name__} (method {method}) is the train sampler: "
          f"{len(dataset)} prompts, {batch} per batch, {len(sampler)} per epoch; "
          "feedback through dataset.on_batch_end", flush=True)
    return sampler
