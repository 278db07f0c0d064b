"""promptsel in verl. Three ways in, by trainer:

- verl 0.5.0 - 0.7.1, stock trainer, config only: `CurriculumSampler`
  (`data.sampler.class_path=pkg://promptsel.verl data.sampler.class_name=CurriculumSampler
  data.dataloader_num_workers=0`, settings under `+data.sampler.*`).
- verl 0.8 - 0.9.1 (the sampler hook was removed upstream): `python -m promptsel.verl.main_ppo`.
- The MoPPS / DPS forks' trainers (their `task_sampler` hook): `TaskSampler`.

Helpers for trainer authors: `group_success`, `sampler_metrics`, `filter_groups`.
Nothing here imports torch or verl until a class that needs them is used.
"""

from .batch import filter_groups, group_success
from .metrics import sampler_metrics
from .task_sampler import NATIVE_CHECKPOINT_FILE, TaskSampler, effective_rollouts

__all__ = ["CurriculumSampler", "TaskSampler", "group_success", "sampler_metrics", "filter_groups",
           "effective_rollouts", "NATIVE_CHECKPOINT_FILE"]


def __getattr__(name):
    # CurriculumSampler subclasses verl's AbstractCurriculumSampler, so it is built on
    # first use: `import promptsel.verl` must not import verl (or torch).
    if name == "CurriculumSampler":
        from .curriculum import curriculum_sampler_class
        cls = curriculum_sampler_class()
        globals()[name] = cls
        return cls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
