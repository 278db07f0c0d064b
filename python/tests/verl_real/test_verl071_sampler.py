"""promptsel.verl.CurriculumSampler inside real verl 0.7.1 (CPU): built through verl's
config and create_rl_sampler, driven by StatefulDataLoader and RayPPOTrainer.fit's data
path (verl_harness.Run). Resume and checkpoints: test_verl071_resume.py."""

import numpy as np
import pytest
from hydra.errors import ConfigCompositionException

from promptsel import prompt_ids
from promptsel.errors import InvalidArgumentError
from verl.experimental.dataset.sampler import AbstractCurriculumSampler
from verl_harness import SAMPLER, Run, config, word_tokenizer, write_parquet


@pytest.fixture
def parquet(tmp_path):
    def make(ids, **kw):
        return write_parquet(tmp_path / f"train_{len(list(tmp_path.iterdir()))}.parquet", ids, **kw)
    return make


def sampler_config(path, *overrides, batch=8, n=4):
    return config(*SAMPLER, *overrides, batch=batch, n=n, files=path)


# -- verl's config path --------------------------------------------------------------

def test_settings_reach_the_sampler_through_verls_config(parquet):
    """`+data.sampler.*` overrides of verl's real ppo_trainer config arrive in the
    selector: method, a method parameter, the seed and candidate_ratio (B̂ = 2·B)."""
    path = parquet(range(100, 164))
    cfg = sampler_config(path, "+data.sampler.method=dps", "+data.sampler.transition_decay=0.5",
                         "+data.sampler.seed=11", "+data.sampler.candidate_ratio=2", batch=8)
    run = Run(cfg, {i: 0.5 for i in range(100, 164)})
    sampler = run.sampler
    assert type(sampler).__name__ == "CurriculumSampler" and isinstance(sampler, AbstractCurriculumSampler)
    assert sampler.selector.method == "dps"
    assert sampler.selector.config.transition_decay == pytest.approx(0.5)
    assert sampler.selector.config.seed == 11
    run.fit(stop_after=3)
    assert [c.size for c in run.candidates] == [16, 16, 16]
    # The default (no method key) is MoPPS, seeded from data.seed.
    default = Run(sampler_config(path), {}).sampler
    assert default.selector.method == "mopps" and default.selector.config.seed == 1
    # data.gen_batch_size, when set, is the loader's batch and so the sampler's B.
    run = Run(sampler_config(path, "+data.gen_batch_size=12", batch=8), {i: 0.5 for i in range(100, 164)})
    assert run.sampler.batch_size == 12 and len(run.sampler) == 60 and len(run.loader) == 5
    run.fit(stop_after=2)
    assert [len(s["ids"]) for s in run.steps] == [12, 12] and [c.size for c in run.candidates] == [64, 64]


def test_unknown_or_unprefixed_settings_fail(parquet):
    path = parquet(range(64))
    # Hydra struct mode: a key verl's config lacks needs the + prefix.
    with pytest.raises(ConfigCompositionException):
        sampler_config(path, "data.sampler.method=dps")
    # A misspelled parameter is refused when verl builds the sampler, with a hint.
    cfg = sampler_config(path, "+data.sampler.method=dps", "+data.sampler.transition_decy=0.5")
    with pytest.raises(InvalidArgumentError, match="transition_decay"):
        Run(cfg, {})
    cfg = sampler_config(path, "+data.sampler.method=mopp")
    with pytest.raises(InvalidArgumentError, match="mopps"):
        Run(cfg, {})


# -- the loader drives the selector lazily -------------------------------------------

def test_each_batch_is_selected_after_the_previous_update(parquet):
    """StatefulDataLoader pulls B positions per step; the native selector is consulted
    only then, after the previous step's update: select, draw, update, select, ...
    over two epochs. An epoch is N // B steps (the loader's len, which sets verl's
    total_training_steps), as without the sampler."""
    ids = list(range(500, 550))                   # N = 50, B = 8: 6 steps, 2 rows left over
    run = Run(sampler_config(parquet(ids), batch=8), {i: 0.5 for i in ids})
    assert len(run.sampler) == 48 and len(run.loader) == 6
    it = iter(run.loader)
    assert run.events == []                       # nothing chosen before the loader asks
    del it
    run.fit(total_epochs=2)
    assert run.global_steps == 12
    assert run.events == ["select", "draw", "update"] * 12
    assert all(len(s["ids"]) == 8 for s in run.steps)


# -- update groups the reordered B·n rows by uid -------------------------------------

def _expected_mopps(run, prior, decay, success_of):
    """MoPPS by hand (README Semantics): for each drawn prompt, with s its group's
    success rate and k = n, alpha <- decay·alpha + (1 - decay)·alpha0 + s·k, beta
    likewise with 1 - s. `success` per step is the truth the fake rollout drew, in
    the batch's original order (before _balance_batch)."""
    a0, b0 = prior
    state = {}
    for step in run.steps:
        for i, succ, k in zip(step["ids"].tolist(), step["successes"].tolist(), step["trials"].tolist()):
            s = success_of(succ, k)
            a, b = state.get(i, (a0, b0))
            state[i] = (decay * a + (1 - decay) * a0 + s * k, decay * b + (1 - decay) * b0 + (1 - s) * k)
    return state


@pytest.mark.parametrize("reward, metric, index_only", [
    ("acc", "auto", False),        # DAPO reward manager: acc (bool) decides, not the 0.1 format score
    ("score", "auto", False),      # gsm8k: no acc, token_level_scores.sum(-1) 1 / 0
    ("score_pm1", "auto", False),  # math_dapo score 1 / -1 without acc: success is score > 0, not the mean
    ("acc", "score", False),       # success_metric=score ignores acc: the 0.1 format score counts as solved
    ("score", "auto", True),       # rows carry the id only in the top-level index column
])
def test_update_groups_rows_by_uid_after_balance_batch(parquet, reward, metric, index_only):
    ids = list(range(3000, 3200))
    rng = np.random.default_rng(5)
    solve = {i: float(p) for i, p in zip(ids, rng.choice([0.0, 0.25, 0.5, 0.75, 1.0], size=len(ids)))}
    cfg = sampler_config(parquet(ids), "+data.sampler.decay=0.9", "+data.sampler.candidate_ratio=4",
                         f"+data.sampler.success_metric={metric}", batch=8, n=4)
    run = Run(cfg, solve, reward=reward, ids_only_in_index=index_only)
    if reward == "acc" and metric == "score":
        success_of = lambda succ, k: 1.0          # noqa: E731
    else:
        success_of = lambda succ, k: succ / k     # noqa: E731
    run.fit(stop_after=5)                          # 5 · 32 candidates < 200: no prompt twice
    drawn = np.concatenate([s["ids"] for s in run.steps])
    assert np.unique(drawn).size == drawn.size == 40
    # _balance_batch really did scatter the groups, in the batches update() saw.
    assert any(s["reordered"] for s in run.steps) and not all(s["uid_contiguous"] for s in run.steps)
    sel = run.sampler.selector
    assert list(sel.state_columns) == ["alpha", "beta"]
    prior = tuple(sel.prior_state().values())
    expected = _expected_mopps(run, prior, 0.9, success_of)
    every = np.array(ids, dtype=np.int64)
    got = sel.state(every)
    want = np.array([expected.get(i, prior) for i in ids])
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    assert not np.allclose(want, prior)          # the oracle is not the prior everywhere


# -- ids, not positions ------------------------------------------------------------

def test_ids_map_to_positions_of_a_filtered_subsampled_dataset(parquet):
    """verl's own subsampling (data.train_max_samples with shuffle) and overlong-prompt
    filter (a real tokenizer, no download) leave a dataset whose positions are not
    its ids. The positions the sampler yields load exactly the rows of the ids the
    selector chose, and feedback lands on the right ids (solved ids above 0.5,
    unsolved below)."""
    ids = [7000 + 13 * i for i in range(90)]
    words = [40 if i % 9 == 4 else 3 for i in range(90)]           # 10 prompts too long
    long_ids = {pid for pid, w in zip(ids, words) if w > 3}
    solve = {pid: float(pid % 2 == 0) for pid in ids}
    cfg = sampler_config(parquet(ids, words=words), "data.train_max_samples=70", "data.filter_overlong_prompts=True",
                         "data.max_prompt_length=16", "+data.sampler.candidate_ratio=3", batch=8, n=4)
    run = Run(cfg, solve, tokenizer=word_tokenizer())
    frame_ids = [e["index"] for e in run.dataset.dataframe["extra_info"]]
    assert 50 <= len(run.dataset) < 70 and not (set(frame_ids) & long_ids)
    assert frame_ids != sorted(frame_ids)                           # the subsample is shuffled
    np.testing.assert_array_equal(run.sampler.ids, frame_ids)
    run.fit(stop_after=6)
    for step, chosen in zip(run.steps, run.chosen):
        np.testing.assert_array_equal(step["ids"], chosen)          # the loaded rows are the chosen ids
    seen = np.unique(np.concatenate([s["ids"] for s in run.steps]))
    p = run.sampler.selector.predict(seen)
    solved = np.array([solve[i] == 1.0 for i in seen.tolist()])
    assert solved.any() and (~solved).any()
    assert p[solved].min() > 0.5 > p[~solved].max()


def test_string_ids(parquet):
    """extra_info.index may be a string (a dataset's own question ids): the sampler
    tracks promptsel.prompt_ids of it, and rows, choices and feedback agree."""
    ids = [f"gsm8k-train-{i}" for i in range(60)]
    solve = {pid: float(k % 2 == 0) for k, pid in enumerate(ids)}
    run = Run(sampler_config(parquet(ids), batch=8, n=4), solve)
    np.testing.assert_array_equal(run.sampler.ids, prompt_ids(ids))
    run.fit(stop_after=5)
    for step, chosen in zip(run.steps, run.chosen):
        np.testing.assert_array_equal(prompt_ids(step["ids"].tolist()), chosen)
    seen = sorted(set(np.concatenate([s["ids"] for s in run.steps]).tolist()))
    p = run.sampler.selector.predict(prompt_ids(seen))
    solved = np.array([solve[i] == 1.0 for i in seen])
    assert p[solved].min() > 0.5 > p[~solved].max()


@pytest.mark.parametrize("case", ["duplicate", "missing"])
def test_dataset_ids_must_be_unique_and_present(parquet, case):
    if case == "duplicate":
        path, match = parquet([5, 6, 7, 8, 6, 9, 10, 11]), "duplicate"
    else:
        path, match = parquet(list(range(8)), index_key=None), "extra_info.index"
    with pytest.raises(InvalidArgumentError, match=match):
        Run(sampler_config(path, batch=2), {})


# -- selection pressure ------------------------------------------------------------

def _mixed_share(run):
    drawn = np.concatenate([s["ids"] for s in run.steps])
    return float(np.mean([run.solve[i] == 0.5 for i in drawn.tolist()]))


# gps was a strict xfail here until its Laplace update took damped Newton steps
# (test_gps.py::test_a_unanimous_update_moves_its_prompt_the_right_way).
@pytest.mark.parametrize("method", ["mopps", "dps", "gps", "hybrid"])
def test_selection_favours_informative_prompts(parquet, method):
    """96 prompts: 32 never solved, 32 always, 32 at 0.5 (their text says which, for the
    feature models). Over 30 steps of B = 8, n = 8 the sampler draws the 0.5 ones
    clearly more often than verl's own RandomSampler does on the same data."""
    ids = list(range(200, 296))
    tags = ["hard"] * 32 + ["easy"] * 32 + ["mid"] * 32
    solve = {i: {"hard": 0.0, "easy": 1.0, "mid": 0.5}[t] for i, t in zip(ids, tags)}
    path = parquet(ids, tags=tags)
    uniform = Run(config("data.dataloader_num_workers=0", batch=8, n=8, files=path), solve, outcome_seed=3)
    assert type(uniform.sampler).__name__ == "RandomSampler"
    uniform.fit(total_epochs=3, stop_after=30)
    run = Run(sampler_config(path, f"+data.sampler.method={method}", batch=8, n=8), solve, outcome_seed=3)
    run.fit(total_epochs=3, stop_after=30)
    assert len(run.steps) == len(uniform.steps) == 30
    base, share = _mixed_share(uniform), _mixed_share(run)
    print(f"{method}: share of draws at p=0.5 {share:.2f} (uniform {base:.2f})")
    assert 0.2 < base < 0.47
    assert share > 0.6 and share > base + 0.25
