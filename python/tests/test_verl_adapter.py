"""promptsel.TaskSampler in the MoPPS fork's task_sampler hook, fed batches shaped
like verl's collate_fn output. torch and omegaconf are optional: without them the
tensors are numpy arrays and the config only a nested dict."""

import json
import os
import types

import numpy as np
import pytest

from promptsel import CheckpointError, InvalidArgumentError, TaskSampler
from promptsel.verl import NATIVE_CHECKPOINT_FILE, manifest
from promptsel.verl.config import get as _get

try:
    import torch
except ImportError:
    torch = None
try:
    import omegaconf
except ImportError:
    omegaconf = None

CANDIDATES = 64
B = 8
PROMPT_LEN = 12


def _config(**tasksampler):
    return {
        "data": {"train_batch_size": B, "seed": 1},
        "actor_rollout_ref": {"rollout": {"n": 8}},
        "tasksampler": {"framework": 4, "ts_ratio": 8, "bandit_sample_strategy": "topk",
                        "bandit_target_mean": 0.5, "bandit_lower_bound": 0.3, "bandit_upper_bound": 0.7,
                        "bandit_decay_ratio": 1.0, "bandit_no_update": False, "bandit_init": False,
                        "bandit_init_dir": "", **tasksampler},
    }


CONFIG_KINDS = ["dict", "attributes"] + (["omegaconf"] if omegaconf else [])


def _as_kind(cfg, kind):
    if kind == "omegaconf":
        return omegaconf.OmegaConf.create(cfg)
    if kind == "attributes":
        return json.loads(json.dumps(cfg), object_hook=lambda d: types.SimpleNamespace(**d))
    return cfg


def _objects(values):
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def _batch(step, candidates=CANDIDATES):
    """A collated candidate batch: token tensors plus numpy object columns. Every
    column encodes the row's dataset index, to check that slicing stays aligned."""
    rng = np.random.default_rng(step)
    index = rng.choice(100_000, candidates, replace=False)
    input_ids = np.zeros((candidates, PROMPT_LEN), dtype=np.int64)
    input_ids[:, -1] = index  # left-padded prompts; the last token names the row
    attention_mask = (input_ids != 0).astype(np.int64)
    position_ids = np.cumsum(attention_mask, axis=1) - 1
    tensor = torch.from_numpy if torch else np.asarray
    return {
        "input_ids": tensor(input_ids),
        "attention_mask": tensor(attention_mask),
        "position_ids": tensor(position_ids),
        "index": _objects([int(i) for i in index]),
        "raw_prompt_ids": _objects([[101, int(i)] for i in index]),
        "data_source": _objects([f"math/{int(i)}" for i in index]),
        "reward_model": _objects([{"ground_truth": str(int(i)), "style": "rule"} for i in index]),
        "extra_info": _objects([{"index": int(i), "split": "train"} for i in index]),
        "tools_kwargs": _objects([{} for _ in index]),
    }


def _success_rates(selected, step):
    rates = np.random.default_rng(1000 + step).integers(0, 9, len(selected["index"])) / 8
    return torch.tensor(rates, dtype=torch.float32) if torch else rates


def _assert_aligned(selected, n):
    index = [int(i) for i in selected["index"]]
    assert len(index) == n
    for key, value in selected.items():
        assert len(value) == n, key
    assert [e["index"] for e in selected["extra_info"]] == index
    assert [int(r["ground_truth"]) for r in selected["reward_model"]] == index
    assert [p[1] for p in selected["raw_prompt_ids"]] == index
    assert [s.split("/")[1] for s in selected["data_source"]] == [str(i) for i in index]
    assert np.asarray(selected["input_ids"])[:, -1].tolist() == index
    assert np.array_equal(np.asarray(selected["attention_mask"]), np.asarray(selected["input_ids"]) != 0)
    for key in ("index", "raw_prompt_ids", "data_source", "reward_model", "extra_info", "tools_kwargs"):
        assert isinstance(selected[key], np.ndarray) and selected[key].dtype == object, key
    if torch:
        assert all(isinstance(selected[k], torch.Tensor) for k in ("input_ids", "attention_mask", "position_ids"))


def _run(sampler, steps, first=0):
    out = []
    for step in range(first, first + steps):
        selected, scores = sampler.sample_batch(_batch(step))
        assert sampler.train(selected, _success_rates(selected, step)) == (None, None, None)
        out.append(([int(i) for i in selected["index"]], np.asarray(scores).tolist()))
    return out


@pytest.mark.parametrize("kind", CONFIG_KINDS)
def test_sample_and_train_steps(kind):
    sampler = TaskSampler(_as_kind(_config(), kind))
    assert (sampler.batch_size, sampler.rollouts) == (B, 8)
    seen = set()
    for step in range(5):
        batch = _batch(step)
        selected, scores = sampler.sample_batch(batch)
        _assert_aligned(selected, B)
        assert set(int(i) for i in selected["index"]) <= set(int(i) for i in batch["index"])
        if torch:
            assert isinstance(scores, torch.Tensor) and scores.dtype == torch.float64
        else:
            assert isinstance(scores, np.ndarray) and scores.dtype == np.float64
        assert scores.shape == (B,)
        d = (np.asarray(scores) - 0.5) ** 2
        assert np.all(np.diff(d) >= 0)  # topk: best first
        ids = np.array([int(i) for i in selected["index"]])
        before = np.array(sampler.selector.posterior(ids))
        assert sampler.train(selected, _success_rates(selected, step)) == (None, None, None)
        after = np.array(sampler.selector.posterior(ids))
        assert np.allclose(after.sum(axis=0) - before.sum(axis=0), 8)  # k rollouts each
        seen.update(int(i) for i in batch["index"])
    assert len(sampler.selector) == len(seen)


def test_config_is_read_from_every_key():
    cfg = _config(bandit_sample_strategy="threshold", bandit_target_mean=0.4, bandit_lower_bound=0.2,
                  bandit_upper_bound=0.6, bandit_decay_ratio=0.5, bandit_no_update=True, seed=77)
    c = TaskSampler(cfg).selector.config
    assert (c.strategy, c.target, c.lower, c.upper, c.decay, c.no_update, c.seed) == (
        "threshold", 0.4, 0.2, 0.6, 0.5, True, 77)
    cfg = _config()
    del cfg["tasksampler"]["bandit_decay_ratio"]
    assert TaskSampler(cfg).selector.config.seed == 1  # data.seed when tasksampler.seed is absent
    del cfg["data"]["seed"]
    assert TaskSampler(cfg).selector.config.seed == 0
    assert TaskSampler(cfg).selector.config.decay == 1.0


def test_get_helper():
    cfg = {"a": {"b": types.SimpleNamespace(c=3, d=None)}}
    assert _get(cfg, "a.b.c") == 3
    assert _get(cfg, "a.b.d", 5) == 5
    assert _get(cfg, "a.x.y", "default") == "default"
    with pytest.raises(KeyError, match="a.b.e"):
        _get(cfg, "a.b.e")


def test_missing_batch_size_is_named():
    cfg = _config()
    del cfg["data"]["train_batch_size"]
    with pytest.raises(KeyError, match="data.train_batch_size"):
        TaskSampler(cfg)


def test_single_rollout_counts_as_eight():
    cfg = _config()
    cfg["actor_rollout_ref"]["rollout"]["n"] = 1
    sampler = TaskSampler(cfg)
    assert sampler.rollouts == 8
    selected, _ = sampler.sample_batch(_batch(0))
    sampler.train(selected, np.full(B, 0.5))
    alpha, beta = sampler.selector.posterior([int(i) for i in selected["index"]])
    assert alpha.tolist() == [5.0] * B and beta.tolist() == [5.0] * B


def test_reference_positional_signature():
    sampler = TaskSampler(_config(), 40315, 2.0, 3.0, False, None)
    assert sampler.selector.config.prior == (2.0, 3.0)
    sampler = TaskSampler(args=_config(), total_num_samples=40315, init=False, init_dir="")  # the trainer's call
    assert sampler.selector.config.prior == (1.0, 1.0)
    with pytest.raises(TypeError, match="once"):
        TaskSampler(_config(), args=_config())


def test_warm_start_from_config_and_arguments(tmp_path):
    offline = tmp_path / "offline.json"
    offline.write_text(json.dumps({"5": [1, 1, 0, 0, 0, 0, 0, 0], "6": [1] * 8}))
    expected = ([1 + 3 * 2, 1 + 3 * 8], [1 + 3 * 6, 1])
    by_config = TaskSampler(_config(bandit_init=True, bandit_init_dir=str(offline)))
    assert tuple(a.tolist() for a in by_config.selector.posterior([5, 6])) == expected
    by_args = TaskSampler(_config(), 40315, init=True, init_dir=str(offline))
    assert tuple(a.tolist() for a in by_args.selector.posterior([5, 6])) == expected
    with pytest.raises(InvalidArgumentError, match="bandit_init_dir"):
        TaskSampler(_config(bandit_init=True))


def test_train_accepts_lists_arrays_and_tensors():
    sampler = TaskSampler(_config())
    selected, _ = sampler.sample_batch(_batch(0))
    forms = ([0.5] * B, np.full(B, 0.5, dtype=np.float32)) + ((torch.full((B,), 0.5),) if torch else ())
    for rates in forms:
        sampler.train(selected, rates)
    ids = [int(i) for i in selected["index"]]
    assert sampler.selector.posterior(ids)[0].tolist() == [1.0 + 4 * len(forms)] * B
    list_batch = {"index": ids, "other": list(range(B))}
    picked, _ = sampler.sample_batch(list_batch)
    assert isinstance(picked["index"], list) and picked["other"] == [ids.index(i) for i in picked["index"]]


@pytest.mark.skipif(torch is None, reason="torch not installed")
def test_tensor_index_column():
    sampler = TaskSampler(_config())
    batch = _batch(0)
    batch["index"] = torch.tensor([int(i) for i in batch["index"]])
    selected, _ = sampler.sample_batch(batch)
    assert isinstance(selected["index"], torch.Tensor)
    assert selected["input_ids"][:, -1].tolist() == selected["index"].tolist()


def test_batch_size_larger_than_pool_is_a_clear_error():
    with pytest.raises(InvalidArgumentError, match="train_batch_size"):
        TaskSampler(_config()).sample_batch(_batch(0, candidates=B - 1))


def test_inconsistent_columns_are_refused():
    batch = _batch(0)
    batch["extra_info"] = batch["extra_info"][:-1]
    with pytest.raises(InvalidArgumentError, match="extra_info"):
        TaskSampler(_config()).sample_batch(batch)
    for scalar in ("not a column", 3, np.array(5)):
        batch = _batch(0)
        batch["meta"] = scalar
        with pytest.raises(InvalidArgumentError, match=r"\['meta'\]: cannot select rows"):
            TaskSampler(_config()).sample_batch(batch)


def test_float_index_is_refused():
    batch = _batch(0)
    batch["index"] = _objects([i + 0.5 for i in range(CANDIDATES)])
    with pytest.raises(InvalidArgumentError, match="not a prompt id"):
        TaskSampler(_config()).sample_batch(batch)


# ---- checkpoints -------------------------------------------------------------------


def test_save_load_continues_identically(ckpt_dir):
    sampler = TaskSampler(_config())
    _run(sampler, 4)
    sampler.save(ckpt_dir)
    files = manifest.read(ckpt_dir)["files"]
    assert sorted(os.listdir(ckpt_dir)) == sorted([manifest.MANIFEST_FILE, files["native"]["name"],
                                                   files["reference"]["name"]])
    assert files["reference"]["name"].startswith("index_score.") and files["native"]["name"].endswith(".bin")
    doc = json.loads((ckpt_dir / files["reference"]["name"]).read_text())
    alpha, beta = sampler.selector.posterior([int(k) for k in doc])
    assert list(doc.values()) == [[a, b] for a, b in zip(alpha.tolist(), beta.tolist())]
    assert len(doc) == len(sampler.selector)

    resumed = TaskSampler(_config())
    resumed.load(ckpt_dir)
    assert _run(resumed, 6, first=4) == _run(sampler, 6, first=4)


def test_load_restores_config_with_a_warning_when_it_differs(ckpt_dir):
    sampler = TaskSampler(_config(bandit_decay_ratio=0.5))
    _run(sampler, 2)
    sampler.save(ckpt_dir)
    other = TaskSampler(_config())
    with pytest.warns(UserWarning, match="another selector config"):
        other.load(ckpt_dir)
    assert other.selector.config.decay == 0.5


def test_load_migrates_a_reference_index_score(ckpt_dir):
    (ckpt_dir / "index_score.json").write_text(json.dumps({"11": [4.0, 2.0], "12": [1.0, 9.0]}))
    sampler = TaskSampler(_config())
    sampler.load(ckpt_dir)
    alpha, beta = sampler.selector.posterior([11, 12])
    assert alpha.tolist() == [4.0, 1.0] and beta.tolist() == [2.0, 9.0]
    assert sorted(sampler.selector.ids().tolist()) == [11, 12]


def test_load_prefers_the_native_checkpoint(ckpt_dir):
    sampler = TaskSampler(_config())
    _run(sampler, 2)
    sampler.selector.save(ckpt_dir / NATIVE_CHECKPOINT_FILE)  # a directory saved before manifests
    (ckpt_dir / "index_score.json").write_text('{"1": [50.0, 50.0]}')
    resumed = TaskSampler(_config())
    resumed.load(ckpt_dir)
    assert resumed.state_dict() == sampler.state_dict()


def test_load_of_nothing_does_nothing(ckpt_dir):
    sampler = TaskSampler(_config())
    before = sampler.state_dict()
    sampler.load(ckpt_dir)
    sampler.load(ckpt_dir / "missing")
    sampler.load("")
    sampler.load(None)
    assert sampler.state_dict() == before


@pytest.mark.parametrize("name, content", [(NATIVE_CHECKPOINT_FILE, b"PSELCKPT garbage"),
                                           ("index_score.json", b"{not json")])
def test_load_of_a_corrupt_file_raises(ckpt_dir, name, content):
    (ckpt_dir / name).write_bytes(content)
    sampler = TaskSampler(_config())
    before = sampler.state_dict()
    with pytest.raises(CheckpointError, match=name):
        sampler.load(ckpt_dir)
    assert sampler.state_dict() == before


def test_state_dict_round_trip():
    sampler = TaskSampler(_config())
    _run(sampler, 3)
    other = TaskSampler(_config())
    other.load_state_dict(sampler.state_dict())
    assert _run(other, 3, first=3) == _run(sampler, 3, first=3)


# ---- DPS: the mapping to the Selector (more in test_dps.py) ------------------------


def test_dps_method_maps_its_config_keys():
    cfg = _config(method="dps", hmm_prior_alpha="progress", hmm_prior_pi="3", hmm_sample_strategy="topk+entropy",
                  hmm_transition_decay_ratio=0.7, hmm_entropy_weight=0.1, hmm_no_update=True)
    sampler = TaskSampler(cfg)
    c = sampler.selector.config
    assert (c.method, c.strategy, c.no_update) == ("dps", "topk+entropy", True)
    assert (c.dps_prior_alpha, c.dps_prior_pi, c.dps_transition_decay, c.dps_entropy_weight) == (
        "progress", "3", 0.7, 0.1)
    selected, scores = sampler.sample_batch(_batch(0))
    _assert_aligned(selected, B)
    # As the reference: the chosen prompts' beliefs, B x 3, best first.
    assert tuple(scores.shape) == (B, 3)
    np.testing.assert_allclose(np.asarray(scores).sum(axis=1), 1.0)
    beliefs = sampler.selector.state_probs([int(i) for i in selected["index"]])
    assert np.array_equal(np.asarray(scores), beliefs)
    assert sampler.train(selected, np.full(B, 0.5)) == (None, None, None)


def test_unknown_method_is_refused():
    with pytest.raises(InvalidArgumentError, match="tasksampler.method"):
        TaskSampler(_config(method="ppo"))
