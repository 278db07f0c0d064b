"""TaskSampler as a drop-in for both reference trainers (MoPPS and DPS), and the
helpers for trainer authors: method inference, compute_statistics, string ids,
success-rate shapes and dtypes, group_success, sampler_metrics, filter_groups."""

import numpy as np
import pytest

from promptsel import InvalidArgumentError, TaskSampler
from promptsel.verl import filter_groups, group_success, sampler_metrics
from promptsel.verl.metrics import pearson, spearman
from verl_fakes import rollout_batch

try:
    import torch
except ImportError:
    torch = None

B = 4


def _config(**tasksampler):
    return {"data": {"train_batch_size": B, "seed": 1}, "actor_rollout_ref": {"rollout": {"n": 8}},
            "tasksampler": tasksampler}


def _candidates(ids):
    return {"index": np.array(ids, dtype=object), "raw_prompt": np.array([f"q {i}" for i in ids], dtype=object)}


# ---- method inference ----------------------------------------------------------

def test_hmm_keys_mean_dps_and_bandit_keys_mean_mopps():
    dps = TaskSampler(_config(hmm_prior_alpha=2.0, hmm_sample_strategy="topk", hmm_transition_decay_ratio=0.7))
    assert dps.method == "dps"
    assert dps.selector.config.transition_decay == 0.7
    assert TaskSampler(_config(bandit_decay_ratio=0.5, bandit_sample_strategy="topk")).method == "mopps"


@pytest.mark.parametrize("keys", [{}, {"hmm_prior_alpha": 1.0, "bandit_decay_ratio": 1.0}])
def test_both_or_neither_key_family_is_an_error_naming_the_key(keys):
    with pytest.raises(InvalidArgumentError, match=r"\+tasksampler\.method="):
        TaskSampler(_config(**keys))


def test_explicit_method_wins():
    assert TaskSampler(_config(method="dps", bandit_decay_ratio=1.0)).method == "dps"


# ---- compute_statistics: the DPS trainer's call ----------------------------------

def test_compute_statistics_has_the_dps_trainers_names_and_values():
    s = TaskSampler(_config(hmm_sample_strategy="topk"))
    rng = np.random.default_rng(0)
    for step in range(5):
        ids = list(range(step * 3, step * 3 + 12))
        selected, scores = s.sample_batch(_candidates(ids))
        assert np.asarray(scores).shape == (B, 3)
        s.train(selected, rng.choice([0.0, 0.5, 1.0], size=B))
    metrics = {"other": 1}
    out = s.compute_statistics(metrics)
    assert out is metrics and out["other"] == 1
    ids = s.selector.ids()
    state = s.selector.state(ids)
    cols = list(s.selector.state_columns)
    pi = state[:, [cols.index(c) for c in ("p_unsolved", "p_partial", "p_solved")]]
    alpha = state[:, [cols.index(f"alpha_{i}{j}") for i in range(3) for j in range(3)]]
    times = state[:, cols.index("sampled")]
    expect = {
        "state_distribution_statelevel_entropy": -np.sum(pi * np.log(pi + 1e-10), axis=1).mean(),
        "transition_matrix_datalevel_variance": np.var(alpha, axis=0).mean(),
        "state_distribution_datalevel_variance": np.var(pi, axis=0).mean(),
        "state_distribution_statelevel_max": pi.max(axis=1).mean(),
        "state_distribution_statelevel_min": pi.min(axis=1).mean(),
        "sample_times_std": np.std(times), "sample_times_max": times.max(), "sample_times_min": times.min(),
    }
    for name, value in expect.items():
        assert out[f"tasksample_hmm/{name}"] == pytest.approx(value, rel=1e-9, abs=1e-12), name


def test_compute_statistics_for_mopps_adds_its_metrics():
    s = TaskSampler(_config(bandit_sample_strategy="topk"))
    selected, _ = s.sample_batch(_candidates(range(10)))
    s.train(selected, np.full(B, 0.5))
    assert s.compute_statistics({})["tasksample/prompts_tracked"] == 10


# ---- ids ---------------------------------------------------------------------------

def test_string_ids_agree_with_integer_ids():
    a = TaskSampler(_config(bandit_decay_ratio=1.0))
    b = TaskSampler(_config(bandit_decay_ratio=1.0))
    ids = [11, 12, 13, 14, 15, 16]
    sa, scores_a = a.sample_batch(_candidates(ids))
    sb, scores_b = b.sample_batch(_candidates([str(i) for i in ids]))
    np.testing.assert_array_equal(np.asarray(scores_a), np.asarray(scores_b))
    a.train(sa, np.full(B, 0.25))
    b.train(sb, np.full(B, 0.25))
    np.testing.assert_array_equal(a.selector.state(ids), b.selector.state(ids))


def test_non_integer_string_ids_are_tracked_stably():
    s = TaskSampler(_config(bandit_decay_ratio=1.0))
    names = [f"gsm8k-train-{i}" for i in range(8)]
    selected, _ = s.sample_batch(_candidates(names))
    s.train(selected, np.full(B, 1.0))
    assert len(s.selector) == 8


def test_all_zero_ids_are_an_error_with_the_fix():
    s = TaskSampler(_config(bandit_decay_ratio=1.0))
    with pytest.raises(InvalidArgumentError, match="extra_info.index"):
        s.sample_batch(_candidates([0] * 8))
    with pytest.raises(InvalidArgumentError, match="extra_info.index"):
        s.train({"index": np.zeros(B, dtype=np.int64)}, np.full(B, 0.5))


# ---- success rates -------------------------------------------------------------------

def _trained(rates):
    s = TaskSampler(_config(bandit_decay_ratio=1.0))
    selected, _ = s.sample_batch(_candidates(range(8)))
    s.train(selected, rates)
    return s, selected


def test_success_rate_shapes_and_dtypes():
    ref, selected = _trained(np.array([0.0, 0.25, 0.5, 1.0]))
    ids = np.asarray(selected["index"].tolist(), dtype=np.int64)
    for rates in (np.array([[0.0], [0.25], [0.5], [1.0]]), np.array([0.0, 0.25, 0.5, 1.0], dtype=np.float16)):
        s, _ = _trained(rates)
        np.testing.assert_array_equal(s.selector.state(ids), ref.selector.state(ids))


@pytest.mark.skipif(torch is None, reason="torch not installed")
def test_bfloat16_and_column_tensors():
    ref, selected = _trained(np.array([0.0, 0.25, 0.5, 1.0]))
    ids = np.asarray(selected["index"].tolist(), dtype=np.int64)
    for rates in (torch.tensor([0.0, 0.25, 0.5, 1.0], dtype=torch.bfloat16),
                  torch.tensor([[0.0], [0.25], [0.5], [1.0]])):
        s, _ = _trained(rates)
        np.testing.assert_array_equal(s.selector.state(ids), ref.selector.state(ids))


def test_per_rollout_values_are_refused_with_what_to_pass():
    s = TaskSampler(_config(bandit_decay_ratio=1.0))
    selected, _ = s.sample_batch(_candidates(range(8)))
    before = s.selector.to_bytes()
    with pytest.raises(InvalidArgumentError, match="group_success"):
        s.train(selected, np.zeros(B * 8))
    assert s.selector.to_bytes() == before


# ---- helpers for trainer authors ------------------------------------------------------

def test_group_success_aligns_to_the_selected_batch():
    rng = np.random.default_rng(4)
    ids = [30, 10, 20, 40]
    data, rates = rollout_batch(ids, lambda i: {10: 0.0, 20: 1.0, 30: 0.5, 40: 0.5}[i], 8, rng)
    got = group_success(data, metric="acc", order=ids)
    assert got.ids.tolist() == ids
    np.testing.assert_allclose(got.success, rates)
    assert (got.solve_none, got.solve_all) == (1, 1)
    unshuffled, rates2 = rollout_batch(ids, lambda i: 0.5, 8, rng, shuffle=False)
    assert group_success(unshuffled).ids.tolist() == ids  # first appearance order


def test_sampler_metrics_signs_and_ranks():
    p = np.array([0.1, 0.4, 0.5, 0.9, 0.95])
    o = np.array([0.0, 0.25, 0.5, 1.0, 1.0])
    m = sampler_metrics(p, o)
    assert m["tasksample/train_corr"] == pytest.approx(np.corrcoef(p, o)[0, 1])
    assert m["tasksample/train_corr"] > 0.9 and m["tasksample/train_spearman_corr"] > 0.9
    assert m["tasksample/train_success_rate_std"] == pytest.approx(np.std(o, ddof=1))
    # Spearman with ties: ranks averaged (scipy's rankdata) -> known value.
    assert spearman([1, 2, 2, 3], [1, 3, 2, 4]) == pytest.approx(0.9486832980505138)
    assert np.isnan(pearson([1, 1, 1], [1, 2, 3]))


def test_filter_groups_drops_zero_variance_groups_and_counts_rollouts():
    rng = np.random.default_rng(5)
    ids = [1, 2, 3, 4]
    data, _ = rollout_batch(ids, lambda i: {1: 0.0, 2: 1.0, 3: 0.5, 4: 0.5}[i], 8, rng)
    kept, stats = filter_groups(data)
    kept_ids = {e["index"] for e in kept.non_tensor_batch["extra_info"]}
    assert kept_ids <= {3, 4} and len(kept) == 8 * len(kept_ids)
    assert stats["dropped_solve_none"] == 1 and stats["dropped_solve_all"] == 1
    assert stats["rollouts"] == 32
    assert stats["rollouts_per_kept_prompt"] == 32 / stats["kept_prompts"]
