"""Checkpoint and resume of promptsel.verl.CurriculumSampler in real verl 0.7.1 (CPU).

verl 0.7.1 writes global_step_k/data.pt (StatefulDataLoader.state_dict(), which holds
the sampler's state_dict) inside step k, *before* that step's sampler.update; a resume
loads it into a new dataset, sampler and loader (RayPPOTrainer._load_checkpoint) and
continues at step k + 1. With data.sampler.journal_dir the sampler replays the one
update data.pt lacks, so the resumed run must draw exactly the batches an
uninterrupted run draws.

The data: 40 prompts, B = 4, candidate_ratio 3 (B̂ = 12 of a reshuffled stream of 40,
so the stream's permutation and cursor are part of the state), 10 steps an epoch,
2 epochs.
"""

import pickle
import warnings

import numpy as np
import pytest
import torch

from promptsel.errors import CheckpointError
from verl_harness import SAMPLER, Crash, Run, config, write_parquet

IDS = list(range(900, 940))
SOLVE = {i: [0.0, 0.2, 0.5, 0.8, 1.0][i % 5] for i in IDS}
EPOCHS = 2


@pytest.fixture
def data(tmp_path):
    return write_parquet(tmp_path / "train.parquet", IDS)


def cfg_for(path, method, journal=None):
    return config(*SAMPLER, f"+data.sampler.method={method}", "+data.sampler.candidate_ratio=3",
                  batch=4, n=4, files=path, journal=journal)


def uninterrupted(path, method):
    """The batches of a run without interruption (and without a journal), and its
    selector's final per-prompt state."""
    run = Run(cfg_for(path, method), SOLVE)
    run.fit(total_epochs=EPOCHS)
    assert len(run.steps) == 20
    return run.drawn(), run.sampler.selector.state(np.array(IDS))


def resume(path, method, ckpt, step, journal=None):
    """A new process: dataset, sampler and loader built again by verl from the
    config, then data.pt of global_step_{step} loaded, then fit to the end."""
    run = Run(cfg_for(path, method, journal), SOLVE, ckpt_dir=ckpt)
    run.load_checkpoint(step)
    return run


def is_sampler_warning(w):
    text = str(w.message)
    return any(word in text for word in ("journal", "feedback", "selector", "CurriculumSampler", "checkpoint"))


def no_journal_warnings(record):
    return [w for w in record if "journal_dir" in str(w.message)]


@pytest.mark.parametrize("method", ["mopps", "dps", "hybrid"])
@pytest.mark.parametrize("saved, crashed", [
    (4, 4),     # killed right after the checkpoint step's update
    (4, 7),     # killed three steps later: the journal holds updates the resume redoes
    (10, 10),   # the checkpoint at the end of epoch 1
    (10, 13),
])
def test_resume_from_data_pt_selects_what_an_uninterrupted_run_selects(data, tmp_path, method, saved, crashed):
    want, final = uninterrupted(data, method)
    journal, ckpt = tmp_path / "journal", tmp_path / "ckpt"
    first = Run(cfg_for(data, method, journal), SOLVE, ckpt_dir=ckpt)
    first.fit(total_epochs=EPOCHS, stop_after=crashed, save_freq=saved)
    assert first.drawn() == want[:crashed]          # the journal changes nothing while running
    assert first.data_pt(saved).exists()
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        second = resume(data, method, ckpt, saved, journal)
        second.fit(total_epochs=EPOCHS)
    assert not [str(w.message) for w in record if is_sampler_warning(w)]
    assert second.drawn() == want[saved:], f"resumed at step {saved}: batches differ"
    np.testing.assert_array_equal(second.sampler.selector.state(np.array(IDS)), final)


@pytest.mark.parametrize("method", ["mopps", "dps"])
def test_resume_twice(data, tmp_path, method):
    """Killed at step 7 (checkpoints every 3 steps), resumed from step 6, killed again
    at step 14, resumed from step 12: still the uninterrupted run's batches."""
    want, final = uninterrupted(data, method)
    journal, ckpt = tmp_path / "journal", tmp_path / "ckpt"
    run = Run(cfg_for(data, method, journal), SOLVE, ckpt_dir=ckpt)
    run.fit(total_epochs=EPOCHS, stop_after=7, save_freq=3)
    run = resume(data, method, ckpt, 6, journal)
    run.fit(total_epochs=EPOCHS, stop_after=8, save_freq=3)
    assert run.global_steps == 14 and run.drawn() == want[6:14]
    run = resume(data, method, ckpt, 12, journal)
    run.fit(total_epochs=EPOCHS)
    assert run.drawn() == want[12:]
    np.testing.assert_array_equal(run.sampler.selector.state(np.array(IDS)), final)


def test_without_journal_the_resume_warns_once(data, tmp_path):
    """No journal: the resume warns once (not per step), and the restored selector is
    exactly one update behind the run that wrote data.pt: MoPPS (decay 1) differs by
    step 5's successes and failures on step 5's prompts, nowhere else."""
    ckpt = tmp_path / "ckpt"
    run = Run(cfg_for(data, "mopps"), SOLVE, ckpt_dir=ckpt)
    run.fit(total_epochs=EPOCHS, stop_after=5, save_freq=5)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        again = resume(data, "mopps", ckpt, 5)
        again.snapshot_ids = np.array(IDS)
        again.fit(total_epochs=EPOCHS, stop_after=6, save_freq=100)
    behind = again.snapshots[0]               # the restored selector, at its first select
    assert len(no_journal_warnings(record)) == 1, [str(w.message) for w in record]
    assert len(again.steps) == 6
    step5 = run.steps[4]
    missing = np.zeros((len(IDS), 2))
    for i, succ, k in zip(step5["ids"].tolist(), step5["successes"].tolist(), step5["trials"].tolist()):
        missing[IDS.index(i)] += (succ, k - succ)
    np.testing.assert_allclose(run.sampler.selector.state(np.array(IDS)) - behind, missing, atol=1e-12)
    assert missing.sum() == 4 * 4


def test_a_crash_between_data_pt_and_update_is_reported(data, tmp_path):
    """verl saves data.pt, then syncs weights and validates before update(): a crash in
    that window leaves an update neither in data.pt nor in the journal. The resume
    cannot be exact then, and must say so instead of claiming it is."""
    journal, ckpt = tmp_path / "journal", tmp_path / "ckpt"
    run = Run(cfg_for(data, "mopps", journal), SOLVE, ckpt_dir=ckpt)
    run.crash_before_update_at = 4
    with pytest.raises(Crash):
        run.fit(total_epochs=EPOCHS, save_freq=4)
    with pytest.warns(UserWarning, match="lacks"):
        resume(data, "mopps", ckpt, 4, journal).fit(total_epochs=EPOCHS, stop_after=1)


def test_data_pt_holds_the_sampler_state_as_builtins(data, tmp_path):
    """The sampler's state_dict sits in verl's data.pt under torchdata's
    _sampler_iter_state, made of picklable builtins and bytes only (no ctypes handle,
    no numpy); it survives pickle and torch.load(weights_only=True) as well."""
    ckpt = tmp_path / "ckpt"
    run = Run(cfg_for(data, "dps", tmp_path / "journal"), SOLVE, ckpt_dir=ckpt)
    run.fit(total_epochs=EPOCHS, stop_after=3, save_freq=3)
    state = torch.load(run.data_pt(3), weights_only=False)
    inner = state["_sampler_iter_state"]["sampler_state"]
    assert isinstance(inner, dict) and inner

    def builtins_only(x):
        if isinstance(x, dict):
            return all(isinstance(k, str) and builtins_only(v) for k, v in x.items())
        if isinstance(x, (list, tuple)):
            return all(builtins_only(v) for v in x)
        return x is None or type(x) in (bool, int, float, str, bytes)
    assert builtins_only(inner), inner
    assert pickle.loads(pickle.dumps(inner)) == inner
    assert torch.load(run.data_pt(3), weights_only=True)["_sampler_iter_state"]["sampler_state"] == inner


def test_resume_on_other_data_is_refused_with_the_reason(data, tmp_path):
    """A resumed job whose dataset differs (here verl's own train_max_samples subsample
    drawn with another data.seed, as happens when data.seed is left null) must fail
    saying so, not resume a selector on prompts it does not match."""
    ckpt = tmp_path / "ckpt"
    cfg = config(*SAMPLER, "data.train_max_samples=30", batch=4, n=4, files=data)
    run = Run(cfg, SOLVE, ckpt_dir=ckpt)
    run.fit(total_epochs=EPOCHS, stop_after=2, save_freq=2)
    other = config(*SAMPLER, "data.train_max_samples=30", "data.seed=2", batch=4, n=4, files=data)
    again = Run(other, SOLVE, ckpt_dir=ckpt)
    assert list(again.sampler.ids) != list(run.sampler.ids)
    again.load_checkpoint(2)
    with pytest.raises(CheckpointError, match="another dataset") as err:
        again.fit(total_epochs=EPOCHS, stop_after=1)
    assert "malformed" not in str(err.value)

