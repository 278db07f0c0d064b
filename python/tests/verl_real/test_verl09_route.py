"""verl 0.8 - 0.9.1: `python -m promptsel.verl.main_ppo` against the real verl.
The config handling on verl's own composed config, the TaskRunner handing our
CurriculumSampler to verl's RayPPOTrainer (in process, and through Ray from the
command line up to the GPU check), and the command line's refusals."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from verl09_support import BATCH, TRAIN_ROWS, base_overrides, compose, curriculum_sampler_class, has_v1, \
    require_verl09, run_task_runner, verl_files  # noqa: F401  (verl_files is a fixture)

VERL_VERSION = require_verl09()
HAS_V1 = has_v1(VERL_VERSION)

from promptsel.errors import InvalidArgumentError  # noqa: E402
from promptsel.verl import bridge, main_ppo  # noqa: E402

#: The module with verl's legacy TaskRunner (main_ppo_v0 on 0.9, main_ppo on 0.8) and that class.
LEGACY = main_ppo.legacy_module()
BASE = main_ppo._unwrap(LEGACY.TaskRunner)

PYTHON_DIR = Path(__file__).resolve().parents[2]


def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PYTHON_DIR), env.get("PYTHONPATH")]))
    env["PYTHONWARNINGS"] = "ignore"
    return env


def _cli(args, cwd, timeout):
    return subprocess.run([sys.executable, "-m", "promptsel.verl.main_ppo", *args, f"hydra.run.dir={cwd}/hydra"],
                          env=_env(), cwd=cwd, capture_output=True, text=True, timeout=timeout)


def test_importing_the_route_imports_neither_verl_nor_torch():
    code = ("import sys, promptsel.verl.main_ppo, promptsel.verl.bridge\n"
            "print(sorted(m for m in ('verl', 'torch', 'ray', 'hydra') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], env=_env(), capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_legacy_task_runner_is_found_and_subclassed():
    expected = "verl.trainer.main_ppo_v0" if HAS_V1 else "verl.trainer.main_ppo"
    assert LEGACY.__name__ == expected and BASE.__module__ == expected and BASE.__name__ == "TaskRunner"
    runner = main_ppo.CurriculumTaskRunner
    assert BASE in runner.__mro__
    # Ray finds the class and each method by name in the worker (see _picklable_by_name)
    assert runner.__module__ == "promptsel.verl.main_ppo" and runner.__qualname__ == "CurriculumTaskRunner"
    assert runner.run.__qualname__ == "CurriculumTaskRunner.run"
    assert runner.__init__.__qualname__ == "CurriculumTaskRunner.__init__"
    actor = main_ppo.task_runner_actor()  # what run_ppo gets: verl's actor options, our class
    assert actor._default_options == getattr(LEGACY.TaskRunner, "_default_options", {"num_cpus": 1})
    assert actor.__ray_actor_class__ is runner


def test_prepare_config_moves_to_the_legacy_trainer_and_no_workers(tmp_path, verl_files):
    config = compose(base_overrides(verl_files, tmp_path))
    assert config.data.dataloader_num_workers == 8  # verl's default
    assert config.trainer.get("use_v1") is (True if HAS_V1 else None)
    notes = main_ppo.prepare_config(config, main_ppo.explicit_keys(base_overrides(verl_files, tmp_path)))
    assert config.data.dataloader_num_workers == 0 and "was 8" in notes[-1]
    if HAS_V1:
        assert config.trainer.use_v1 is False and len(notes) == 2 and "legacy trainer" in notes[0]
    else:
        assert len(notes) == 1
    assert main_ppo.prepare_config(config, ()) == []  # nothing left to change


@pytest.mark.parametrize("override, message", [
    pytest.param("trainer.use_v1=true", "V1 trainer has no prompt-level hook",
                 marks=pytest.mark.skipif(not HAS_V1, reason="no V1 trainer before verl 0.9")),
    ("data.dataloader_num_workers=2", "dataloader_num_workers=0"),
    ("++data.sampler.class_path=pkg://verl.experimental.dataset.sampler", "names another sampler"),
    ("+data.sampler.class_name=RandomCurriculumSampler", "names another sampler"),
])
def test_prepare_config_refuses_what_it_must_not_change(tmp_path, verl_files, override, message):
    overrides = base_overrides(verl_files, tmp_path) + [override]
    config = compose(overrides)
    with pytest.raises(InvalidArgumentError, match=message):
        main_ppo.prepare_config(config, main_ppo.explicit_keys(overrides))


def test_sampler_settings_take_plus_and_the_07_class_keys_are_accepted(tmp_path, verl_files):
    shared = ["++data.sampler.class_path=pkg://promptsel.verl", "++data.sampler.class_name=CurriculumSampler",
              "+data.sampler.method=dps", "+data.sampler.candidate_ratio=4"]
    config = compose(base_overrides(verl_files, tmp_path) + shared)
    assert dict(config.data.sampler) == {"class_path": "pkg://promptsel.verl", "class_name": "CurriculumSampler",
                                         "method": "dps", "candidate_ratio": 4}
    main_ppo.prepare_config(config, main_ppo.explicit_keys(shared))
    # the README's journal_dir spelling: an interpolation, resolved like verl's own keys
    config = compose(base_overrides(verl_files, tmp_path) + ["+data.sampler.journal_dir=${trainer.default_local_dir}/j"])
    assert config.data.sampler.journal_dir == f"{tmp_path}/j"
    # 0.9.1's config has no data.sampler: without '+' Hydra refuses the key
    with pytest.raises(Exception, match="sampler"):
        compose(base_overrides(verl_files, tmp_path) + ["data.sampler.method=dps"])


def test_explicit_keys():
    assert main_ppo.explicit_keys(["trainer.use_v1=true", "+data.sampler.seed=3", "++a.b=[1,2]", "~c.d"]) \
        == {"trainer.use_v1", "data.sampler.seed", "a.b", "c.d"}


def test_the_task_runner_gives_verl_s_trainer_our_sampler(tmp_path, verl_files, monkeypatch):
    verl_create_rl_sampler = LEGACY.create_rl_sampler
    config = compose(base_overrides(verl_files, tmp_path) + ["+data.sampler.method=mopps", "+data.sampler.seed=3"])
    runner, trainer = run_task_runner(config, monkeypatch)
    sampler = runner.promptsel_sampler
    assert isinstance(sampler, curriculum_sampler_class())
    assert trainer.train_dataloader.sampler is sampler
    assert trainer.train_dataloader.batch_size == BATCH
    assert len(trainer.train_dataloader) == TRAIN_ROWS // BATCH
    hook = trainer.train_dataset.on_batch_end
    assert isinstance(hook, bridge.BatchEndBridge) and hook.sampler is sampler and hook.previous is None
    assert LEGACY.create_rl_sampler is verl_create_rl_sampler  # the name is verl's again


def test_control_verl_s_own_task_runner_gives_a_random_sampler(tmp_path, verl_files, monkeypatch):
    """The same path with verl's TaskRunner: what the test above would see without promptsel."""
    from verl.trainer.ppo.ray_trainer import RayPPOTrainer
    config = compose(base_overrides(verl_files, tmp_path) + ["data.dataloader_num_workers=0"])
    built = {}

    class Stop(Exception):
        pass

    def stop(self):
        built["trainer"] = self
        raise Stop

    monkeypatch.setattr(RayPPOTrainer, "init_workers", stop)
    with pytest.raises(Stop):
        BASE().run(config)
    assert not isinstance(built["trainer"].train_dataloader.sampler, curriculum_sampler_class())
    assert not hasattr(built["trainer"].train_dataset, "on_batch_end")


def test_a_verl_whose_task_runner_builds_no_sampler_is_refused(monkeypatch):
    def run(self, config):  # a future TaskRunner.run that builds its sampler elsewhere
        return self.init_resource_pool_mgr(config)

    monkeypatch.setattr(BASE, "run", run)
    with pytest.raises(InvalidArgumentError, match="does not call create_rl_sampler"):
        main_ppo._build_task_runner()


@pytest.mark.skipif(not HAS_V1, reason="no V1 trainer before verl 0.9")
def test_cli_refuses_an_explicit_v1_before_starting_ray(tmp_path, verl_files):
    out = _cli(base_overrides(verl_files, tmp_path) + ["trainer.use_v1=true"], tmp_path, timeout=300)
    assert out.returncode == 2, out.stderr[-3000:]
    assert "V1 trainer has no prompt-level hook" in out.stderr
    assert "Ray instance" not in out.stdout + out.stderr


def test_cli_runs_verl_until_the_gpu_check_with_our_sampler(tmp_path, verl_files):
    """The whole route through Ray: Hydra over verl's config, our notes, verl's
    run_ppo, the CurriculumTaskRunner actor (unpickled in a Ray worker), verl's
    datasets, our sampler in RayPPOTrainer's dataloader; then init_workers stops at
    verl's GPU check, as it must on a CPU machine."""
    args = base_overrides(verl_files, tmp_path) + [
        "+data.sampler.method=mopps", "+data.sampler.candidate_ratio=2", "ray_kwargs.ray_init.num_cpus=2"]
    out = _cli(args, tmp_path, timeout=600)
    text = out.stdout + out.stderr
    assert out.returncode != 0, text[-3000:]
    assert ("promptsel: trainer.use_v1=false" in text) == HAS_V1
    assert "promptsel: data.dataloader_num_workers=0 (was 8)" in text
    assert (f"promptsel: CurriculumSampler (method mopps) is the train sampler: {TRAIN_ROWS} prompts, "
            f"{BATCH} per batch") in text, text[-5000:]
    assert f"Size of train dataloader: {TRAIN_ROWS // BATCH}" in text
    assert "Total available GPUs 0 is less than total desired GPUs 1" in text, text[-5000:]
