"""`python -m promptsel.verl.main_ppo <hydra overrides>`: verl 0.8.0 - 0.9.1's
PPO/GRPO trainer with promptsel's CurriculumSampler choosing the prompts.

verl 0.8 removed the config-only sampler hook of 0.5.0 - 0.7.1 (PR #6302). What is
left, and what this entry point uses without patching verl's files:

- `run_ppo(config, task_runner_class)` takes the TaskRunner class as a parameter
  ("For recipe to change TaskRunner", 0.9.1 `verl/trainer/main_ppo.py:34-41`).
- The legacy TaskRunner (`verl/trainer/main_ppo_v0.py:136`, `main_ppo.py:111` on
  0.8.0) builds `train_sampler = create_rl_sampler(config.data, train_dataset)`
  (`main_ppo_v0.py:215`) and passes it to `RayPPOTrainer(..., train_sampler=...)`
  (l.228), which puts it in the StatefulDataLoader (`ppo/ray_trainer.py:405-412`).
  `CurriculumTaskRunner` is that TaskRunner; in its own actor process, for the
  duration of `run`, the `create_rl_sampler` name `run` looks up resolves to
  `bridge.make_sampler`, which returns the CurriculumSampler. (The only other
  route is a copy of `run`, which differs between 0.8.0 and 0.9.x.)
- Feedback: `RayPPOTrainer.fit` ends each step with
  `train_dataset.on_batch_end(batch=batch)` (`ray_trainer.py:1818-1820`);
  `bridge.attach` points that at `sampler.update`.

Settings are the 0.7.1 ones, under `+data.sampler.*` (0.9.1's config has no
`data.sampler`, so every key takes `+`). `data.sampler.class_path/class_name`, if
given (`++data.sampler.class_path=pkg://promptsel.verl` works on both), must name
the CurriculumSampler. Before verl starts this entry point also:

- sets `trainer.use_v1=false` (0.9's default is the V1 trainer, which has no
  prompt-level hook: prompts come from the non-pluggable `create_rl_sampler`,
  `ppo/v1/trainer_base.py:749`, and its one plug-in,
  `trainer.v1.sampler.custom_sampler`, is a ReplayBuffer choosing finished
  trajectories, `ppo/v1/trainer_base.py:139-151`); an explicit
  `trainer.use_v1=true` is refused;
- sets `data.dataloader_num_workers=0` (default 8; workers would draw batches
  before the feedback); an explicit non-zero value is refused.

Not covered: the V1 trainer, the DAPO recipe and other trainers whose fit loop
does not call on_batch_end, the last step's feedback (fit returns before
on_batch_end, l.1814), and data.pt's lag (saved at l.1712, before the update;
`+data.sampler.journal_dir=...` makes resume exact). verl is imported only when
the entry point runs.
"""

import importlib
import importlib.util
import inspect
import os
import sys

from ..errors import InvalidArgumentError
from . import bridge

#: The verl releases this entry point is for.
SUPPORTED = "verl 0.8.0 - 0.9.1"

#: `data.sampler.class_path` spellings that name promptsel's CurriculumSampler.
OUR_CLASS_PATHS = ("pkg://promptsel.verl", "pkg://promptsel.verl.curriculum", "promptsel.verl",
                   "promptsel.verl.curriculum")

V1_REFUSED = (
    "trainer.use_v1=true: verl's V1 trainer has no prompt-level hook. It draws prompts "
    "through create_rl_sampler, which only offers random or sequential order "
    "(verl/trainer/ppo/v1/trainer_base.py:749), and its one plug-in, "
    "trainer.v1.sampler.custom_sampler, is a ReplayBuffer that picks finished "
    "trajectories to train on, not prompts to roll out. promptsel runs in the legacy "
    "trainer: drop trainer.use_v1=true (this entry point then sets it false) or set "
    "trainer.use_v1=false.")


def _verl_version():
    try:
        import verl
        return getattr(verl, "__version__", "?")
    except ImportError:
        return None


def _has_module(name):
    try:
        return importlib.util.find_spec(name) is not None
    except ImportError:  # a parent package is missing
        return False


def legacy_module():
    """The module of the installed verl that defines the legacy TaskRunner:
    `verl.trainer.main_ppo_v0` (0.9.x) or `verl.trainer.main_ppo` (0.8.x). Refuses
    verl < 0.8, which has the config-only hook, and a verl without either."""
    version = _verl_version()
    if version is None:
        raise InvalidArgumentError(f"verl is not installed; this entry point runs {SUPPORTED}")
    if _has_module("verl.experimental.dataset.sampler"):
        raise InvalidArgumentError(
            f"verl {version} still has the config-only sampler hook: run "
            "`python -m verl.trainer.main_ppo data.sampler.class_path=pkg://promptsel.verl "
            "data.sampler.class_name=CurriculumSampler data.dataloader_num_workers=0` with the "
            f"same +data.sampler.* settings. This entry point is for {SUPPORTED}.")
    for name in ("verl.trainer.main_ppo_v0", "verl.trainer.main_ppo"):
        if not _has_module(name):
            continue
        module = importlib.import_module(name)
        if hasattr(module, "TaskRunner"):
            return module
    raise InvalidArgumentError(
        f"verl {version} has no legacy TaskRunner (verl.trainer.main_ppo_v0 or "
        f"verl.trainer.main_ppo); this entry point runs {SUPPORTED}")


def _unwrap(task_runner):
    """The class under Ray's `@ray.remote` ActorClass (0.9.x decorates TaskRunner)."""
    cls = getattr(task_runner, "__ray_actor_class__", None)
    if isinstance(cls, type):
        return cls
    meta = getattr(task_runner, "__ray_metadata__", None)
    if meta is not None:
        return getattr(meta.modified_class, "__ray_actor_class__", meta.modified_class)
    return task_runner


def _delegate(base, name):
    def method(self, *args, **kwargs):
        return getattr(base, name)(self, *args, **kwargs)
    return method


def _picklable_by_name(cls, base):
    """Ray sends an actor class to its worker with cloudpickle, and wraps every
    method (tracing) in closures that cloudpickle copies by value. A method of verl's
    `@ray.remote` TaskRunner cannot be found by name (the module attribute is the
    ActorClass), so it would be copied together with a copy of TaskRunner, and its
    zero-argument super() would then see an instance of the real class and fail.
    So every method TaskRunner defines gets a delegate here, and every method of
    `cls` a qualified name under this module, where the worker finds it by name."""
    for name, value in vars(base).items():
        if inspect.isfunction(value) and name not in vars(cls) \
                and (not name.startswith("__") or name == "__init__"):
            setattr(cls, name, _delegate(base, name))
    cls.__module__ = __name__
    cls.__qualname__ = cls.__name__
    for name, value in vars(cls).items():
        if inspect.isfunction(value) and value.__module__ == __name__:
            value.__qualname__ = f"{cls.__name__}.{name}"


def _build_task_runner():
    base = _unwrap(legacy_module().TaskRunner)
    base_run = base.run
    if "create_rl_sampler" not in base_run.__code__.co_names:
        raise InvalidArgumentError(
            f"{base.__module__}.TaskRunner.run does not call create_rl_sampler: this verl "
            f"({_verl_version()}) builds its train sampler differently; supported: {SUPPORTED}")
    scope = base_run.__globals__  # the namespace run() resolves create_rl_sampler in

    class CurriculumTaskRunner(base):
        """verl's legacy TaskRunner, with promptsel's CurriculumSampler as the train
        sampler (`self.promptsel_sampler` once `run` has built it)."""

        promptsel_sampler = None

        def run(self, config):
            bridge.check_num_workers(config.data)

            def create_rl_sampler(data_config, dataset):
                if self.promptsel_sampler is not None:
                    raise RuntimeError("verl asked for a second train sampler; promptsel "
                                       "feeds exactly one")
                self.promptsel_sampler = bridge.make_sampler(data_config, dataset)
                return self.promptsel_sampler

            original = scope["create_rl_sampler"]
            scope["create_rl_sampler"] = create_rl_sampler
            try:
                result = base_run(self, config)
            finally:
                scope["create_rl_sampler"] = original
            if self.promptsel_sampler is None:
                raise RuntimeError(f"verl's TaskRunner never built its train sampler, so "
                                   f"promptsel chose nothing; supported: {SUPPORTED}")
            return result

    _picklable_by_name(CurriculumTaskRunner, base)
    return CurriculumTaskRunner


def __getattr__(name):
    # Built on first use so that importing this module imports neither verl nor torch.
    # A Ray worker unpickles the actor class by this name and so builds it too.
    if name == "CurriculumTaskRunner":
        cls = _build_task_runner()
        globals()[name] = cls
        return cls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def task_runner_actor():
    """The Ray actor class to pass to verl's `run_ppo(config, task_runner_class=...)`,
    with the options of verl's own TaskRunner."""
    import ray
    original = legacy_module().TaskRunner
    if hasattr(original, "_default_options"):  # 0.9.x: @ray.remote TaskRunner
        options = dict(original._default_options)
    else:  # 0.8.x: run_ppo wraps the plain class as ray.remote(num_cpus=1)
        options = {"num_cpus": 1}
    cls = getattr(sys.modules[__name__], "CurriculumTaskRunner")
    return ray.remote(**options)(cls) if options else ray.remote(cls)


def explicit_keys(overrides):
    """The config keys a list of Hydra override strings sets (`+a.b=1` -> `a.b`)."""
    keys = set()
    for item in overrides or ():
        key = str(item).split("=", 1)[0].strip().lstrip("+~")
        if key:
            keys.add(key)
    return keys


def _is_ours(class_path, class_name):
    return (str(class_path).rstrip("/") in OUR_CLASS_PATHS
            and class_name in (None, "CurriculumSampler"))


def prepare_config(config, explicit=()):
    """Makes verl's composed `config` one the curriculum can run in, in place.
    Returns the notes to print; raises InvalidArgumentError for what it must not
    change (an explicit V1, explicit dataloader workers, another sampler class)."""
    from omegaconf import OmegaConf, open_dict

    explicit = set(explicit)
    notes = []
    if OmegaConf.select(config, "trainer.use_v1", default=False):
        if "trainer.use_v1" in explicit:
            raise InvalidArgumentError(V1_REFUSED)
        with open_dict(config):
            config.trainer.use_v1 = False
        notes.append("trainer.use_v1=false: the curriculum runs in verl's legacy trainer "
                     "(main_ppo_v0); the V1 trainer has no prompt-level hook")
    workers = OmegaConf.select(config, "data.dataloader_num_workers",
                               default=bridge.VERL_DEFAULT_NUM_WORKERS)
    if workers != 0:
        if "data.dataloader_num_workers" in explicit:
            bridge.check_num_workers(config.data)
        with open_dict(config):
            config.data.dataloader_num_workers = 0
        notes.append(f"data.dataloader_num_workers=0 (was {workers}): worker prefetch would "
                     "draw batches before the previous step's feedback")
    class_path = OmegaConf.select(config, "data.sampler.class_path", default=None)
    class_name = OmegaConf.select(config, "data.sampler.class_name", default=None)
    if (class_path is not None or class_name is not None) and not _is_ours(class_path, class_name):
        raise InvalidArgumentError(
            f"data.sampler.class_path={class_path} class_name={class_name} names another "
            "sampler; this entry point always runs promptsel's CurriculumSampler (drop those "
            "keys, or set them to pkg://promptsel.verl and CurriculumSampler)")
    return notes


def run(config, explicit=()):
    """What verl's `main` does for the legacy trainer, with CurriculumTaskRunner."""
    notes = prepare_config(config, explicit)
    main_ppo = importlib.import_module("verl.trainer.main_ppo")
    for note in notes:
        print(f"promptsel: {note}", flush=True)
    if hasattr(main_ppo, "auto_set_device"):
        main_ppo.auto_set_device(config)
    if hasattr(main_ppo, "migrate_legacy_reward_impl"):  # 0.8.x main
        config = main_ppo.migrate_legacy_reward_impl(config)
    main_ppo.run_ppo(config, task_runner_class=task_runner_actor())


def main(argv=None):
    """The command line: Hydra over verl's own `ppo_trainer` config (so --config-path /
    --config-name and every override work as with verl's main_ppo)."""
    if argv is not None:
        sys.argv = [sys.argv[0], *argv]
    try:
        legacy_module()
    except InvalidArgumentError as e:
        print(f"promptsel.verl.main_ppo: {e}", file=sys.stderr)
        return 2
    import hydra

    main_ppo = importlib.import_module("verl.trainer.main_ppo")
    config_dir = os.path.join(os.path.dirname(os.path.abspath(main_ppo.__file__)), "config")

    @hydra.main(config_path=config_dir, config_name="ppo_trainer", version_base=None)
    def _hydra_main(config):
        from hydra.core.hydra_config import HydraConfig
        try:
            run(config, explicit_keys(HydraConfig.get().overrides.task))
        except InvalidArgumentError as e:
            print(f"promptsel.verl.main_ppo: {e}", file=sys.stderr)
            sys.exit(2)

    _hydra_main()
    return 0


if __name__ == "__main__":
    # Run the importable module's main, not this __main__ copy: Ray pickles the
    # TaskRunner by its module name.
    from promptsel.verl.main_ppo import main as _main
    sys.exit(_main())
