"""The verl 0.8 - 0.9.1 route without verl (numpy only): importing it loads neither
verl nor torch, the command line refuses a missing verl clearly, and the
on_batch_end bridge forwards to update. Against real verl 0.9.1:
python/tests/verl_real/test_verl09_*.py (make test-verl09)."""

import pytest

from promptsel.verl import bridge, main_ppo


def test_import_loads_neither_verl_nor_torch(run_python):
    out = run_python("""
        import sys, promptsel.verl.main_ppo
        print(sorted(m for m in ('verl', 'torch', 'ray', 'hydra', 'omegaconf') if m in sys.modules))""")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


@pytest.mark.skipif(main_ppo._verl_version() is not None, reason="verl is installed here")
def test_cli_without_verl_says_so(run_python):
    out = run_python("""
        import sys
        sys.argv = ["main_ppo", "trainer.use_v1=false"]
        from promptsel.verl.main_ppo import main
        sys.exit(main())""")
    assert out.returncode == 2, out.stderr
    assert "verl is not installed; this entry point runs verl 0.8.0 - 0.9.1" in out.stderr


def test_bridge_forwards_then_chains():
    calls = []

    class Sampler:
        def update(self, batch):
            calls.append(("update", batch))

    class Dataset:
        def on_batch_end(self, batch):
            calls.append(("dataset", batch))

    ds = Dataset()
    hook = bridge.attach(ds, Sampler())
    ds.on_batch_end(batch="b1")
    ds.on_batch_end(batch="b2")
    assert calls == [("update", "b1"), ("dataset", "b1"), ("update", "b2"), ("dataset", "b2")]
    assert hook.updates == 2
    plain = type("Plain", (), {})()
    bridge.attach(plain, Sampler())
    plain.on_batch_end(batch="b3")
    assert calls[-1] == ("update", "b3")


@pytest.mark.parametrize("config", [{"train_batch_size": 4}, {"dataloader_num_workers": 2}])
def test_make_sampler_refuses_dataloader_workers(config):
    with pytest.raises(ValueError, match="dataloader_num_workers=0"):
        bridge.make_sampler(config, [], sampler_cls=lambda **kw: pytest.fail("built"))


def test_explicit_keys_and_our_class_paths():
    assert main_ppo.explicit_keys(["+data.sampler.method=dps", "trainer.use_v1=true", "~x.y"]) \
        == {"data.sampler.method", "trainer.use_v1", "x.y"}
    assert main_ppo._is_ours("pkg://promptsel.verl", "CurriculumSampler")
    assert main_ppo._is_ours("pkg://promptsel.verl", None)
    assert not main_ppo._is_ours("pkg://promptsel.verl", "TaskSampler")
    assert not main_ppo._is_ours("pkg://tests.utils.dataset.test_create_rl_sampler_on_cpu", None)
