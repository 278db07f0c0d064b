"""promptsel.verl.CurriculumSampler against duck-typed verl objects (numpy only):
the id map, lazy draws, grouping by uid, selection pressure, and exact resume with
the update journal in verl's order (data.pt before update). The same against real
verl 0.7.1 objects: python/tests/verl_real (make test-verl)."""

import pickle
import warnings

import numpy as np
import pytest

from promptsel import CheckpointError, InvalidArgumentError, Selector
from promptsel.verl import CurriculumSampler
from promptsel.verl.journal import JOURNAL_FILE
from verl_fakes import FakeDataset, rollout_batch

B, N_ROLL = 8, 4


def _config(**sampler):
    return {"train_batch_size": B, "gen_batch_size": None, "seed": 3, "prompt_key": "prompt",
            "sampler": {"class_path": "pkg://promptsel.verl", "class_name": "CurriculumSampler", **sampler}}


def _dataset(n=96, offset=1000):
    return FakeDataset([offset + 3 * i for i in range(n)])  # ids != positions


def _truth(i):
    """Solve probability by id: a third never solved, a third always, a third in between."""
    return (0.0, 1.0, 0.5)[(i // 3) % 3]


def _step(sampler, it, rng):
    batch = np.array([next(it) for _ in range(B)])
    data, _ = rollout_batch(sampler.ids[batch].tolist(), _truth, N_ROLL, rng)
    return batch, data


def test_ids_map_to_positions_on_a_filtered_dataset():
    ds = _dataset()
    s = CurriculumSampler(data_source=ds, data_config=_config())
    assert s.ids.tolist() == [1000 + 3 * i for i in range(96)]
    assert len(s) == (96 // B) * B
    positions = [next(iter(s)) for _ in range(1)]
    assert 0 <= positions[0] < 96


@pytest.mark.parametrize("bad, message", [
    ([1, 2, None, 4], "no extra_info.index"),
    ([1, 2, 2, 4], "duplicate prompt ids"),
])
def test_missing_or_duplicate_ids_fail_loudly(bad, message):
    ds = FakeDataset(bad * 4 if None in bad else bad + [10, 11, 12, 13, 14, 15, 16, 17])
    with pytest.raises(InvalidArgumentError, match=message):
        CurriculumSampler(data_source=ds, data_config=_config())


def test_unknown_setting_names_the_nearest():
    with pytest.raises(InvalidArgumentError, match="candidate_ratio"):
        CurriculumSampler(data_source=_dataset(), data_config=_config(candidate_ratoi=4))


def test_draws_are_lazy_and_follow_each_update():
    s = CurriculumSampler(data_source=_dataset(), data_config=_config())
    it = iter(s)
    assert s._steps == 0  # nothing chosen before the loader pulls
    rng = np.random.default_rng(0)
    for step in range(1, 4):
        batch, data = _step(s, it, rng)
        assert s._steps == step and s._updates == step - 1
        s.update(data)
        assert s._updates == step
        assert len(set(batch.tolist())) == B


def test_update_groups_rows_by_uid_whatever_their_order():
    s = CurriculumSampler(data_source=_dataset(), data_config=_config(decay=1.0))
    ref = Selector("mopps", seed=0)
    rng = np.random.default_rng(1)
    it = iter(s)
    batch, data = _step(s, it, rng)
    ids = s.ids[batch]
    # Per prompt: the mean of its rows' acc, k = rows per uid.
    acc = data.non_tensor_batch["acc"].astype(float)
    row_ids = np.array([e["index"] for e in data.non_tensor_batch["extra_info"]])
    rates = np.array([acc[row_ids == i].mean() for i in ids])
    s.update(data)
    ref.update(ids, rates, N_ROLL)
    np.testing.assert_array_equal(s.selector.state(ids, ["alpha", "beta"]), ref.state(ids, ["alpha", "beta"]))


def test_score_metric_and_index_column_fallback():
    s = CurriculumSampler(data_source=_dataset(), data_config=_config(success_metric="score"))
    it = iter(s)
    batch = np.array([next(it) for _ in range(B)])
    data, rates = rollout_batch(s.ids[batch].tolist(), _truth, N_ROLL, np.random.default_rng(2),
                                use_acc=False, index_column=True)
    s.update(data)
    assert s._updates == 1
    np.testing.assert_allclose(s.selector.predict(s.ids[batch]),
                               (1 + rates * N_ROLL) / (2 + N_ROLL))


def test_selection_moves_toward_informative_prompts():
    """After a few epochs of feedback, prompts solved half the time are drawn far
    more often than never- or always-solved ones (a uniform sampler: equally)."""
    s = CurriculumSampler(data_source=_dataset(), data_config=_config(candidate_ratio=4))
    rng = np.random.default_rng(3)
    drawn = np.zeros(96)
    for _epoch in range(4):
        it = iter(s)
        for _ in range(len(s) // B):
            batch, data = _step(s, it, rng)
            drawn[batch] += 1
            s.update(data)
    kind = np.array([_truth(i) for i in s.ids])
    informative, other = drawn[kind == 0.5].mean(), drawn[kind != 0.5].mean()
    assert informative > 2.5 * other, (informative, other)


def _run(config, steps, rng_seed=7, stop_for_checkpoint=None):
    """Steps of verl's loop: pull a batch, (checkpoint: data.pt before update), update.
    Returns the batches and the pickled state taken at step `stop_for_checkpoint`,
    with the rollout simulator's generator as it is after that step's rollouts (the
    environment of the resumed run continues from there)."""
    s = CurriculumSampler(data_source=_dataset(), data_config=config)
    rng = np.random.default_rng(rng_seed)
    batches, saved = _loop(s, rng, steps, stop_for_checkpoint)
    return batches, saved


def _loop(s, rng, steps, stop_for_checkpoint=None):
    """`steps` steps of verl's fit loop, starting a new epoch when one runs out."""
    it, batches, saved = iter(s), [], None
    for step in range(1, steps + 1):
        try:
            batch, data = _step(s, it, rng)
        except StopIteration:
            it = iter(s)
            batch, data = _step(s, it, rng)
        batches.append(batch.tolist())
        if step == stop_for_checkpoint:
            saved = (pickle.dumps(s.state_dict()), pickle.dumps(rng.bit_generator.state))
        s.update(data)
    return batches, saved


def _resume(config, saved, steps):
    state, rng_state = (pickle.loads(x) for x in saved)
    s = CurriculumSampler(data_source=_dataset(), data_config=config)
    rng = np.random.default_rng()
    rng.bit_generator.state = rng_state
    s.load_state_dict(state)
    batches, _ = _loop(s, rng, steps)
    return s, batches


@pytest.mark.parametrize("method", ["mopps", "dps", "hybrid"])
def test_resume_with_journal_selects_exactly_what_an_uninterrupted_run_would(tmp_path, method):
    config = _config(method=method, journal_dir=str(tmp_path / "journal"), candidate_ratio=3)
    full, _ = _run(config, 30)
    # The interrupted run checkpoints at step 11 (data.pt before update 11), runs
    # on to step 16 and dies; the resume replays update 11 and drops 12..16.
    config_b = _config(method=method, journal_dir=str(tmp_path / "journal"), candidate_ratio=3)
    _, saved = _run(config_b, 16, stop_for_checkpoint=11)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _, resumed = _resume(config_b, saved, 19)
    assert resumed == full[11:]


def test_resume_without_journal_warns_once_and_lacks_one_update(tmp_path):
    config = _config()
    _, saved = _run(config, 6, stop_for_checkpoint=6)
    with pytest.warns(UserWarning, match="journal_dir") as caught:
        s, _ = _resume(config, saved, 0)
    assert len(caught) == 1
    assert s._updates == 5 and s._steps == 6


def test_torn_journal_tail_is_dropped_with_a_warning(tmp_path):
    config = _config(journal_dir=str(tmp_path))
    _, saved = _run(config, 8, stop_for_checkpoint=5)
    path = tmp_path / JOURNAL_FILE
    data = path.read_bytes()
    path.write_bytes(data[:-7])  # the last append (update 8) torn by a kill
    with pytest.warns(UserWarning, match="dropping 241 bytes"):
        s, _ = _resume(config, saved, 0)
    assert s._updates == 5  # update 5 replayed from the intact part


def test_bad_states_are_refused_and_change_nothing(tmp_path):
    s = CurriculumSampler(data_source=_dataset(), data_config=_config())
    rng = np.random.default_rng(0)
    it = iter(s)
    _, data = _step(s, it, rng)
    s.update(data)
    good = s.state_dict()
    before = s.state_dict()
    for mutate in (lambda d: d.update(method="dps"), lambda d: d.update(prompts=5),
                   lambda d: d.update(perm=b"\x00" * 8 * 96), lambda d: d.update(cursor=-1),
                   lambda d: d.update(selector=b"junk"), lambda d: d.pop("updates"),
                   lambda d: d.update(last_batch=np.full(B, 500, "<i8").tobytes()),
                   lambda d: d.update(format=99)):
        bad = dict(good)
        mutate(bad)
        with pytest.raises((CheckpointError, InvalidArgumentError)):
            s.load_state_dict(bad)
        assert s.state_dict() == before


def test_update_refuses_ids_outside_the_dataset_and_all_zero_ids():
    s = CurriculumSampler(data_source=_dataset(), data_config=_config())
    data, _ = rollout_batch([5, 6], _truth, 2, np.random.default_rng(0))
    with pytest.raises(InvalidArgumentError, match="not in the training dataset"):
        s.update(data)
    data, _ = rollout_batch([0, 0], _truth, 2, np.random.default_rng(0))
    with pytest.raises(InvalidArgumentError, match="extra_info.index"):
        s.update(data)
    assert s._updates == 0


def test_gps_features_come_from_the_dataset_prompts():
    s = CurriculumSampler(data_source=_dataset(), data_config=_config(method="gps"))
    it = iter(s)
    assert len({next(it) for _ in range(B)}) == B
    assert len(s.selector) >= 96  # every prompt registered with its features


def test_journal_stays_bounded_and_an_old_checkpoint_warns(tmp_path):
    from promptsel.verl.journal import Journal
    config = _config(journal_dir=str(tmp_path), journal_keep=3)
    _, late = _run(config, 10, stop_for_checkpoint=9)
    _, records = Journal(tmp_path, b"\0" * 16).read()
    assert 3 <= len(records) <= 6 and records[-1].seq == 9
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s, _ = _resume(config, late, 0)  # update 9 is still in the journal
    assert s._updates == 9
    config = _config(journal_dir=str(tmp_path / "b"), journal_keep=3)
    _, early = _run(config, 12, stop_for_checkpoint=2)
    with pytest.warns(UserWarning, match="no update 1"):
        s, _ = _resume(config, early, 0)
    assert s._updates == 1
