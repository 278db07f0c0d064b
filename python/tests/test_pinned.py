"""Behaviour pinned from promptsel 0.2.0 (before the method architecture change):
the same seed gives the same selections, and checkpoints written by that version
(format 1) still load and continue exactly as they would have."""

import json
from pathlib import Path

import numpy as np
import pytest

import promptsel

FIXTURES = Path(__file__).parent / "fixtures"
PINNED = json.loads((FIXTURES / "pinned_selections_v0.2.0.json").read_text())
CASES = {
    "mopps_topk": ("mopps", dict(strategy="topk", decay=0.9)),
    "mopps_threshold": ("mopps", dict(strategy="threshold")),
    "mopps_uniform": ("mopps", dict(strategy="uniform")),
    "dps_topk": ("dps", dict(transition_decay=0.8)),
    "dps_entropy": ("dps", dict(strategy="topk+entropy", entropy_weight=0.5, prior_alpha="progress")),
    "dps_uniform": ("dps", dict(strategy="uniform")),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_same_seed_same_selections_as_0_2_0(case):
    method, kwargs = CASES[case]
    sel = promptsel.Selector(method, seed=7, **kwargs)
    rng = np.random.default_rng(3)
    picks = []
    for _ in range(6):
        pool = rng.choice(400, size=64, replace=False).astype(np.int64)
        pos, _ = sel.select(pool, 8)
        picks.append(pool[pos].tolist())
        sel.update(pool[pos], rng.integers(0, 9, size=8) / 8.0, rollouts=8)
    expected_picks, expected_predict = PINNED[case]
    assert picks == expected_picks
    np.testing.assert_array_equal(sel.predict(np.arange(0, 400, 37)), expected_predict)


EXPECTED_V1 = json.loads((FIXTURES / "checkpoint_v1_expected.json").read_text())


@pytest.mark.parametrize("method", ["mopps", "dps"])
def test_format_1_checkpoints_still_load_and_continue(method):
    expected = EXPECTED_V1[method]
    sel = promptsel.Selector.load(FIXTURES / f"checkpoint_v1_{method}.bin")
    config = expected["config"]
    assert sel.config.method == config["method"] == method
    assert sel.config.strategy == config["strategy"] and sel.config.seed == config["seed"]
    if method == "mopps":
        assert (sel.config.decay, tuple(sel.config.prior), sel.config.target) == \
            (config["decay"], tuple(config["prior"]), config["target"])
    else:
        assert (sel.config.dps_transition_decay, sel.config.dps_entropy_weight, sel.config.dps_prior_pi) == \
            (config["dps_transition_decay"], config["dps_entropy_weight"], config["dps_prior_pi"])
    assert len(sel) == expected["count"]
    np.testing.assert_array_equal(sel.predict(expected["predict_probe"]), expected["predict"])
    pos, scores = sel.select(np.array(expected["next_pool"], dtype=np.int64), 12)
    assert pos.tolist() == expected["next_positions"]
    np.testing.assert_array_equal(scores, expected["next_scores"])
