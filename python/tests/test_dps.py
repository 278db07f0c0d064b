"""The DPS selector through the Python API: beliefs, the update rule on known
examples, diagnostics, bad inputs, the reference's hmm_params.json and the verl
TaskSampler with tasksampler.method=dps."""

import json

import numpy as np
import pytest

import promptsel
from promptsel import CheckpointError, InvalidArgumentError, OutOfRangeError, TaskSampler, UnsupportedError

from test_verl_adapter import B, _assert_aligned, _batch, _config, _success_rates

try:
    import torch
except ImportError:
    torch = None

THIRD = 1.0 / 3.0


def _dps(**kw):
    kw.setdefault("seed", 0)
    return promptsel.Selector("dps", **kw)


def _steps(sel, steps=20, pool=60, batch=8, seed=0):
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        ids = rng.choice(200, pool, replace=False)
        pos, _ = sel.select(ids, batch)
        sel.update(ids[pos], rng.choice([0.0, 0.25, 0.5, 1.0], batch), rollouts=8)


def test_worked_example_and_unseen_prior():
    sel = _dps()
    sel.update([1, 2, 3], [0.5, 1.0, 0.0], rollouts=8)
    np.testing.assert_allclose(sel.state_probs([1, 2, 3, 99]),
                               [[0.3, 0.4, 0.3], [0.3, 0.3, 0.4], [0.4, 0.3, 0.3], [THIRD] * 3], atol=1e-15)
    assert len(sel) == 3  # the query created nothing


def test_predict_is_the_expected_success_rate_of_the_belief():
    sel = _dps(prior_alpha="progress", transition_decay=0.7)
    _steps(sel)
    ids = sel.ids()
    p = sel.state_probs(ids)
    np.testing.assert_allclose(sel.predict(ids), 0.5 * p[:, 1] + p[:, 2], rtol=0, atol=1e-15)


def test_unobserved_prompts_propagate_one_step_per_update():
    # An observed-solved prompt under a uniform prior drifts towards the stationary
    # belief as steps pass without observations of it.
    sel = _dps()
    sel.update([1], [1.0], rollouts=8)
    after_one = sel.state_probs([1])[0].copy()
    sel.update([2], [0.5], rollouts=8)
    after_two = sel.state_probs([1])[0]
    # The rule by hand: soft counts from the uniform pi_before to the observed
    # state, P = alpha / column sums, then one propagation per step.
    alpha = np.ones((3, 3))
    xi = np.outer([0, 0, 1], [THIRD] * 3) * (alpha / alpha.sum(0))
    alpha += xi / xi.sum()
    P = alpha / alpha.sum(0)
    np.testing.assert_allclose(after_one, P @ [0, 0, 1], atol=1e-15)
    np.testing.assert_allclose(after_two, P @ (P @ [0, 0, 1]), atol=1e-15)


def test_topk_picks_the_most_likely_partial_and_returns_it_as_the_score():
    sel = _dps(seed=3)
    sel.update([10, 11, 12], [0.5, 1.0, 0.0], rollouts=8)
    pos, scores = sel.select([11, 12, 10, 50, 51], 2)
    assert pos[0] == 2 and scores[0] == pytest.approx(0.4)
    assert pos[1] in (3, 4) and scores[1] == pytest.approx(THIRD)


def test_ties_are_broken_by_the_seed():
    orders = set()
    for seed in range(6):
        pos, _ = _dps(seed=seed).select(np.arange(40), 10)
        again, _ = _dps(seed=seed).select(np.arange(40), 10)
        assert np.array_equal(pos, again)
        orders.add(tuple(pos))
    assert len(orders) > 1


def test_uniform_strategy_and_entropy_weight():
    sel = _dps(strategy="uniform", seed=1)
    pos, _ = sel.select(np.arange(20), 20)
    assert sorted(pos.tolist()) == list(range(20))
    ent = _dps(strategy="topk+entropy", entropy_weight=0.5)
    ent.update([1, 2], [0.5, 1.0], rollouts=8)
    pos, scores = ent.select([2, 1, 3], 3)
    p = ent.state_probs(np.array([2, 1, 3])[pos])
    np.testing.assert_allclose(scores, p[:, 1] - 0.5 * (p * np.log(p + 1e-10)).sum(1), atol=1e-15)


def test_no_update_freezes_everything():
    sel = _dps(no_update=True)
    sel.update([1, 2], [0.5, 1.0], rollouts=8)
    np.testing.assert_array_equal(sel.state_probs([1, 2]), np.full((2, 3), THIRD))


def test_update_stats_match_the_beliefs_before_the_update():
    sel = _dps(prior_alpha="progress", transition_decay=0.7)
    _steps(sel, steps=10)
    ids = np.array([1, 5, 7, 9, 11, 13])
    rates = np.array([0.0, 0.5, 1.0, 0.5, 0.25, 1.0])
    predicted = sel.state_probs(ids).argmax(1)
    sel.update(ids, rates, rollouts=8)
    observed = np.where(rates == 0, 0, np.where(rates == 1, 2, 1))
    st = sel.dps_update_stats()
    assert st["observed"] == 6
    assert st["accuracy"] == pytest.approx(np.mean(predicted == observed))
    confusion = np.zeros((3, 3), dtype=int)
    np.add.at(confusion, (observed, predicted), 1)
    assert np.array_equal(st["confusion"], confusion)
    tp = confusion[1, 1]
    if confusion[:, 1].sum():
        assert st["partial_precision"] == pytest.approx(tp / confusion[:, 1].sum())
    else:
        assert np.isnan(st["partial_precision"])
    assert st["partial_recall"] == pytest.approx(tp / confusion[1].sum())


def test_summary_over_all_prompts():
    sel = _dps()
    _steps(sel, steps=5)
    ids = sel.ids()
    p = sel.state_probs(ids)
    times = sel.dps_state(ids)["sampled_times"]
    s = sel.dps_summary()
    assert s["prompts"] == len(ids)
    assert s["mean_entropy"] == pytest.approx(-(p * np.log(p + 1e-10)).sum(1).mean())
    assert s["mean_partial"] == pytest.approx(p[:, 1].mean())
    assert (s["sampled_min"], s["sampled_max"]) == (times.min(), times.max())
    assert s["sampled_std"] == pytest.approx(times.std())
    assert times.sum() == 5 * 8


@pytest.mark.parametrize("kwargs", [{}, {"prior_alpha": "progress", "transition_decay": 0.7},
                                    {"prior_alpha": "stability", "strategy": "topk+entropy", "entropy_weight": 0.3}])
def test_summary_spread_metrics_match_the_authors_compute_statistics(kwargs):
    # tasksample_hmm/transition_matrix_datalevel_variance, state_distribution_datalevel_variance,
    # state_distribution_statelevel_max / _min of the authors' trainer, from the state rows.
    sel = _dps(**kwargs)
    _steps(sel, steps=15)
    ids = sel.ids()
    alpha = sel.state(ids, [f"alpha_{t}{f}" for t in range(3) for f in range(3)])
    pi = sel.state(ids, ["p_unsolved", "p_partial", "p_solved"])
    m = sel.metrics("all")
    assert list(m)[-4:] == ["alpha_variance", "belief_variance", "belief_max_mean", "belief_min_mean"]
    assert np.var(alpha, axis=0).mean() > 0
    assert m["alpha_variance"] == pytest.approx(np.var(alpha, axis=0).mean(), rel=1e-10)
    assert m["belief_variance"] == pytest.approx(np.var(pi, axis=0).mean(), rel=1e-10)
    assert m["belief_max_mean"] == pytest.approx(pi.max(axis=1).mean(), rel=1e-12)
    assert m["belief_min_mean"] == pytest.approx(pi.min(axis=1).mean(), rel=1e-12)
    assert {k: sel.dps_summary()[k] for k in list(m)[-4:]} == {k: m[k] for k in list(m)[-4:]}
    # Reading brings every prompt forward: another step moves them all, and the metrics follow.
    sel.update([ids[0]], [1.0], rollouts=8)
    pi = sel.state(ids, ["p_unsolved", "p_partial", "p_solved"])
    assert sel.metrics("all")["belief_variance"] == pytest.approx(np.var(pi, axis=0).mean(), rel=1e-10)


def test_summary_spread_metrics_of_an_empty_selector_are_nan():
    m = _dps().metrics("all")
    assert m["prompts"] == 0
    assert all(np.isnan(m[k]) for k in ("alpha_variance", "belief_variance", "belief_max_mean", "belief_min_mean"))


@pytest.mark.parametrize("kwargs, exc, match", [
    ({"prior_alpha": "steep"}, InvalidArgumentError, "prior_alpha"),
    ({"prior_alpha": 0.0}, OutOfRangeError, "prior_alpha"),
    ({"prior_alpha": float("nan")}, InvalidArgumentError, "prior_alpha"),
    ({"prior_pi": "4"}, InvalidArgumentError, "prior_pi"),
    ({"transition_decay": 0.0}, OutOfRangeError, "transition_decay"),
    ({"transition_decay": 1.5}, OutOfRangeError, "transition_decay"),
    ({"transition_decay": float("nan")}, InvalidArgumentError, "transition_decay"),
    ({"entropy_weight": -1.0}, OutOfRangeError, "entropy_weight"),
    ({"strategy": "threshold"}, InvalidArgumentError, "unknown strategy"),
    ({"decay": 0.5}, TypeError, "decay"),
])
def test_bad_configs(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        _dps(**kwargs)


def test_bad_updates_and_mopps_only_calls_change_nothing():
    sel = _dps(prior_alpha="stability", transition_decay=0.5)
    _steps(sel, steps=5)
    before = sel.to_bytes()
    with pytest.raises(InvalidArgumentError, match="NaN"):
        sel.update([1, 2], [0.5, np.nan], rollouts=8)
    with pytest.raises(OutOfRangeError):
        sel.update([1, 2], [0.5, 1.5], rollouts=8)
    with pytest.raises(UnsupportedError):
        sel.posterior([1])
    with pytest.raises(UnsupportedError):
        sel.warm_start([1], [1], [8])
    with pytest.raises(UnsupportedError):
        promptsel.Selector("mopps").state_probs([1])
    assert sel.to_bytes() == before


def test_native_checkpoint_resumes_identically(tmp_path):
    a = _dps(prior_alpha="progress", transition_decay=0.7, seed=5)
    _steps(a, steps=15)
    a.save(tmp_path / "dps.bin")
    b = promptsel.Selector.load(tmp_path / "dps.bin")
    rng = np.random.default_rng(9)
    for _ in range(15):
        ids = rng.choice(300, 50, replace=False)
        pa, sa = a.select(ids, 8)
        pb, sb = b.select(ids, 8)
        assert np.array_equal(pa, pb) and np.array_equal(sa, sb)
        rates = rng.choice([0.0, 0.5, 1.0], 8)
        a.update(ids[pa], rates, rollouts=8)
        b.update(ids[pb], rates, rollouts=8)
    assert a.to_bytes() == b.to_bytes()


def test_hmm_params_round_trip(tmp_path):
    a = _dps(prior_alpha="progress", transition_decay=0.7)
    _steps(a)
    path = a.export_hmm_params(tmp_path)
    doc = json.loads(open(path).read())
    assert set(doc) == {"alphas", "pis", "pis_before", "num_states", "sampled_times", "prior_alpha"}
    assert doc["prior_alpha"] == [[1.0, 0.5, 0.5], [1.0, 1.0, 0.5], [1.0, 1.0, 1.0]]
    b = _dps(prior_alpha="progress", transition_decay=0.7)
    assert b.import_hmm_params(tmp_path) == len(a)
    ids = a.ids()
    sa, sb = a.dps_state(ids), b.dps_state(ids)
    for key in ("alpha", "pi", "pi_before"):
        np.testing.assert_allclose(sb[key], sa[key], rtol=0, atol=1e-15)
    assert np.array_equal(sb["sampled_times"], sa["sampled_times"])
    # The imported run continues like the original (beliefs, not generator state).
    for s in (a, b):
        s.update([ids[0], 7777], [0.5, 1.0], rollouts=8)
    np.testing.assert_allclose(b.state_probs(ids), a.state_probs(ids), rtol=0, atol=1e-12)


def test_a_reference_hmm_params_file_is_migrated(tmp_path):
    # The reference's file after the worked example: id 1 seen partial, 2 seen solved.
    alpha1 = np.ones((3, 3))
    alpha1[1] += [THIRD, THIRD, THIRD]
    doc = {"alphas": {"1": alpha1.tolist(), "2": np.ones((3, 3)).tolist()},
           "pis": {"1": [0.3, 0.4, 0.3], "2": [0.3, 0.3, 0.4]},
           "pis_before": {"1": [0, 1, 0], "2": [0, 0, 1]},
           "num_states": 3, "sampled_times": {"1": 1, "2": 1}, "prior_alpha": np.ones((3, 3)).tolist()}
    (tmp_path / "hmm_params.json").write_text(json.dumps(doc))
    sel = _dps()
    assert sel.import_hmm_params(tmp_path / "hmm_params.json") == 2
    np.testing.assert_allclose(sel.state_probs([1, 2]), [[0.3, 0.4, 0.3], [0.3, 0.3, 0.4]], atol=1e-15)
    assert sel.dps_state([1])["sampled_times"].tolist() == [1]


@pytest.mark.parametrize("edit, match", [
    (lambda d: d["pis"].__setitem__("1", [float("nan")] * 3), "not finite"),
    (lambda d: d["pis"].__setitem__("1", [0.5, 0.5, 0.5]), "probability vector"),
    (lambda d: d.__setitem__("num_states", 5), "num_states"),
    (lambda d: d["sampled_times"].pop("2"), "different ids"),
    (lambda d: d.__setitem__("prior_alpha", np.full((3, 3), 0.5).tolist()), "prior_alpha"),
    (lambda d: d["alphas"].__setitem__("2", [[1, 1], [1, 1]]), "malformed"),
    (lambda d: d.pop("pis"), "missing"),
])
def test_bad_hmm_params_are_refused_and_change_nothing(tmp_path, edit, match):
    good = _dps()
    good.update([1, 2], [0.5, 1.0], rollouts=8)
    doc = json.loads(open(good.export_hmm_params(tmp_path)).read())
    edit(doc)
    (tmp_path / "hmm_params.json").write_text(json.dumps(doc))
    sel = _dps()
    sel.update([1, 9], [0.0, 1.0], rollouts=8)
    before = sel.to_bytes()
    with pytest.raises(CheckpointError, match=match):
        sel.import_hmm_params(tmp_path)
    assert sel.to_bytes() == before


# ---- TaskSampler with tasksampler.method=dps ------------------------------------------


def _dps_config(**extra):
    return _config(method="dps", hmm_prior_alpha=1.0, hmm_prior_pi="uniform", hmm_sample_strategy="topk",
                   hmm_transition_decay_ratio=0.7, hmm_entropy_weight=0.0, hmm_no_update=False, **extra)


def _run_dps(sampler, steps, first=0):
    out = []
    for step in range(first, first + steps):
        selected, scores = sampler.sample_batch(_batch(step))
        _assert_aligned(selected, B)
        if torch:
            assert isinstance(scores, torch.Tensor) and scores.dtype == torch.float64
        assert tuple(scores.shape) == (B, 3)
        assert np.all(np.diff(np.asarray(scores)[:, 1]) <= 0)  # most likely partial first
        sampler.train(selected, _success_rates(selected, step))
        out.append([int(i) for i in selected["index"]])
    return out


def test_task_sampler_dps_steps_metrics_and_checkpoints(ckpt_dir):
    sampler = TaskSampler(_dps_config())
    _run_dps(sampler, 6)
    m = sampler.metrics()
    assert m["tasksample_hmm/observed"] == B
    assert 0 <= m["tasksample_hmm/accuracy"] <= 1
    assert m["tasksample_hmm/prompts"] == len(sampler.selector)
    assert m["tasksample_hmm/sampled_max"] >= 1
    sampler.save(ckpt_dir)
    names = sorted(p.name for p in ckpt_dir.iterdir())
    assert [n.split(".")[0] for n in names] == ["hmm_params", "promptsel_manifest", "promptsel_state"]
    resumed = TaskSampler(_dps_config())
    resumed.load(ckpt_dir)
    assert _run_dps(resumed, 5, first=6) == _run_dps(sampler, 5, first=6)


def test_task_sampler_dps_migrates_a_reference_checkpoint(ckpt_dir):
    sampler = TaskSampler(_dps_config())
    _run_dps(sampler, 4)
    sampler.selector.export_hmm_params(ckpt_dir)  # only the reference file
    fresh = TaskSampler(_dps_config())
    fresh.load(ckpt_dir)
    ids = sampler.selector.ids()
    np.testing.assert_allclose(fresh.selector.state_probs(ids), sampler.selector.state_probs(ids), atol=1e-15)


def test_task_sampler_mopps_metrics():
    sampler = TaskSampler(_config())
    sampler.sample_batch(_batch(0))
    assert sampler.metrics() == {"tasksample/prompts_tracked": 64}
