"""Issue 17, items 8-10 and 12: inputs that were accepted silently (and did the wrong
thing) now get a clear TypeError / ValueError, and the offline simulator takes
string prompt ids."""

import json

import numpy as np
import pytest

import promptsel
from promptsel import InvalidArgumentError, OutOfRangeError, Selector, featurize
from promptsel.verl import CurriculumSampler
from promptsel.verl.batch import ids_of
from verl_fakes import FakeDataset


# ---- 8. one str taken for a sequence of texts ------------------------------------------------

@pytest.mark.parametrize("one", ["some text", b"some text", bytearray(b"some text"), memoryview(b"some")])
def test_featurize_refuses_a_single_text(one):
    with pytest.raises(TypeError, match="a single .*wrap it in a list"):
        featurize(one, 16)
    assert featurize([one], 16).shape == (1, 16)  # the list of it is one text


def test_featurize_reads_bytearray_items_as_text_not_token_ids():
    np.testing.assert_array_equal(featurize([bytearray(b"a b")], 16), featurize(["a b"], 16))


def test_featurize_refuses_unordered_collections():
    with pytest.raises(TypeError, match="ordered"):
        featurize({"a", "b"}, 16)


@pytest.mark.parametrize("call", [
    lambda s: s.select("12", 1),
    lambda s: s.select(b"12", 1),
    lambda s: s.select(bytearray(b"12"), 1),  # numpy reads it as the byte values [49, 50]
    lambda s: s.update(bytearray(b"12"), [0.5, 0.5], 8),
    lambda s: s.predict(memoryview(b"12")),
    lambda s: s.shuffle(bytearray(b"12")),
    lambda s: s.update([1, 2], [0.5, 0.5], bytearray(b"\x08\x08")),
    lambda s: promptsel.prompt_ids("12"),
    lambda s: ids_of("12"),
])
def test_id_sequences_refuse_a_single_text(call):
    sel = Selector("mopps")
    with pytest.raises(TypeError, match="single"):
        call(sel)
    assert len(sel) == 0


# ---- 8. bool taken for an integer --------------------------------------------------------------

@pytest.mark.parametrize("call", [
    lambda s: s.update([True, 2], [0.5, 0.5], 8),
    lambda s: s.update([np.True_, 2], [0.5, 0.5], 8),
    lambda s: s.update((2, False), [0.5, 0.5], 8),
    lambda s: s.select([True, 2, 3], 1),
    lambda s: s.predict([5, True]),
    lambda s: s.set_state([True], [[1.0, 1.0]]),
    lambda s: s.warm_start([True], [1], [2]),
    lambda s: s.shuffle([0, True]),
    lambda s: s.update([1, 2], [0.5, 0.5], [8, True]),
    lambda s: s.update([1, 2], [0.5, True], 8),
    lambda s: promptsel.prompt_ids([True, 2]),
    lambda s: ids_of([True, 2]),
    lambda s: ids_of(np.array([3, True], dtype=object)),  # verl's non-tensor columns
])
def test_bools_are_refused_where_integers_are_meant(call):
    sel = Selector("mopps")
    with pytest.raises(TypeError, match="bool"):
        call(sel)
    assert len(sel) == 0


def test_curriculum_sampler_refuses_a_bool_dataset_index():
    ds = FakeDataset([True] + list(range(2, 17)))
    with pytest.raises(TypeError, match=r"extra_info\.index.*bool"):
        CurriculumSampler(data_source=ds, data_config={
            "train_batch_size": 4, "gen_batch_size": None, "seed": 0, "prompt_key": "prompt",
            "sampler": {"class_path": "pkg://promptsel.verl", "class_name": "CurriculumSampler"}})


@pytest.mark.parametrize("bad", [True, 2.5, "many", 0])
def test_curriculum_sampler_integer_settings_refuse_what_int_would_take(bad):
    # int() made True a batch of 1 and 2.5 a batch of 2.
    with pytest.raises((TypeError, ValueError), match="train_batch_size"):
        CurriculumSampler(data_source=FakeDataset(list(range(16))), data_config={
            "train_batch_size": bad, "gen_batch_size": None, "seed": 0, "prompt_key": "prompt",
            "sampler": {"class_path": "pkg://promptsel.verl", "class_name": "CurriculumSampler"}})


@pytest.mark.parametrize("key,bad", [("n", True), ("n", 1.5), ("train_batch_size", False)])
def test_task_sampler_integer_settings_refuse_bools_and_fractions(key, bad):
    from promptsel.verl import TaskSampler
    cfg = {"data": {"train_batch_size": 8, "seed": 1}, "actor_rollout_ref": {"rollout": {"n": 8}},
           "tasksampler": {"method": "mopps"}}
    (cfg["actor_rollout_ref"]["rollout"] if key == "n" else cfg["data"])[key] = bad
    with pytest.raises((TypeError, ValueError), match=key):
        TaskSampler(cfg)


def test_ints_still_pass_fast_and_unchanged():
    ids = list(range(-5, 5)) + [np.int32(7), np.int64(2**62)]
    np.testing.assert_array_equal(promptsel.prompt_ids(ids), np.array([int(i) for i in ids], dtype=np.int64))
    np.testing.assert_array_equal(ids_of(np.array(ids, dtype=object)), promptsel.prompt_ids(ids))
    with pytest.raises(OutOfRangeError, match=r"values\[1\]"):
        promptsel.prompt_ids([1, 2**63])


# ---- 8. integer parameters outside their range -------------------------------------------------

@pytest.mark.parametrize("dim", [2**62, 2**64, 2**20 + 1, 0])
def test_featurize_dim_out_of_range_says_the_range(dim):
    with pytest.raises(ValueError, match=r"dim must lie in \[1, 1048576\]"):
        featurize(["a b", "c"], dim)


def test_featurize_max_dim_is_the_librarys():
    assert featurize(["a"], promptsel.features.MAX_DIM).shape == (1, promptsel.features.MAX_DIM)


@pytest.mark.parametrize("dim", [True, 3.0, "8"])
def test_featurize_dim_of_another_type_is_a_type_error(dim):
    with pytest.raises(TypeError, match="dim must be an integer"):
        featurize(["a"], dim)


@pytest.mark.parametrize("method, key, value, domain", [
    ("gps", "dim", 2**70, r"\[1, 1024\]"),
    ("gps", "diversity_history", 2**63, r"\[0, 1000\]"),
    ("hybrid", "rank", -(2**64), r"\[1, 256\]"),
    ("mopps", "rollouts", 2**64 + 1, r"\[1, 1048576\]"),
])
def test_selector_int_parameters_beyond_int64_say_the_range(method, key, value, domain):
    with pytest.raises(OutOfRangeError, match=rf"{key} must lie in {domain}, got {value}"):
        Selector(method, **{key: value})


# ---- 9. positions where ids were meant, per-rollout rows where per-prompt rates were ------------

POOL = np.array([503, 17, 9002, 4, 77, 1234, 8, 61], dtype=np.int64)


def test_update_with_the_positions_select_returned_is_refused():
    sel = Selector("mopps", seed=0)
    pos, _ = sel.select(POOL, 3)
    before = sel.to_bytes()
    with pytest.raises(ValueError, match=r"positions select\(\) returned.*candidate_ids\[positions\]"):
        sel.update(pos, [0.5, 0.25, 1.0], 8)
    assert sel.to_bytes() == before  # nothing applied
    sel.update(POOL[pos], [0.5, 0.25, 1.0], 8)  # the ids: fine


def test_positions_check_accepts_what_is_legitimate():
    sel = Selector("mopps", seed=0)
    pos, _ = sel.select(np.arange(10), 4)  # ids == positions: pool[p] == p
    sel.update(pos, [0.5] * 4, 8)
    pos, _ = sel.select(POOL, 2)
    sel.update(POOL[pos][::-1], [0.5, 0.5], 8)
    pos, _ = sel.select(POOL, 1)
    sel.update(pos, [0.5], 8)  # one id: could be an id equal to the position
    pos, _ = sel.select(POOL, 2)
    sel.update(POOL[pos], [0.5, 0.5], 8)
    sel.update(pos, [0.5, 0.5], 8)  # a second update is not "right after select": older feedback
    pool = np.array([3, 1, 2, 0, 9], dtype=np.int64)  # positions that are all ids of the pool
    pos, _ = sel.select(pool, 4)
    sel.update(pos, [0.5] * 4, 8)


def test_per_rollout_rows_are_refused():
    sel = Selector("mopps", seed=0)
    ids = np.array([5, 6, 7])
    rewards = np.array([[1, 0, 0, 1], [0, 0, 0, 0], [1, 1, 1, 1]], dtype=float)
    with pytest.raises(ValueError, match="one row per rollout.*one row per prompt"):
        sel.update(np.repeat(ids, 4), rewards.reshape(-1), 4)
    with pytest.raises(ValueError, match="one row per rollout"):
        sel.update(np.repeat(ids, 4), rewards.reshape(-1), np.full(12, 4))
    assert len(sel) == 0
    sel.update(ids, rewards.mean(axis=1), 4)  # per prompt: fine
    sel.update(np.repeat(ids, 4), rewards.reshape(-1), 1)  # per rollout, each one rollout: fine
    sel.update([5, 5], [1.0, 0.0], 8)  # a duplicate id whose count is not its rollouts: fine
    sel.update([5, 5, 6, 6], [0.5, 1.0, 0.0, 1.0], 2)  # rates not all 0/1: fine


def test_adapters_and_simulator_never_hit_the_new_checks():
    from promptsel import sim
    r = sim.run(sim.SimConfig(steps=4, batch=8, n_prompts=300, n_heldout=32, seed=1), "mopps,dps,gps")
    assert set(r.summaries) == {"mopps", "dps", "gps"}


# ---- 10. a state of another method -----------------------------------------------------------

def _trained(method, **kw):
    sel = Selector(method, seed=4, **kw)
    ids = np.arange(20)
    if method in ("gps", "hybrid"):
        sel.set_features(ids, featurize([f"prompt {i}" for i in ids], sel.feature_dim))
    pos, _ = sel.select(ids, 5)
    sel.update(ids[pos], [0.25, 0.5, 0.75, 1.0, 0.0], 8)
    return sel


@pytest.mark.parametrize("mine, theirs", [("mopps", "dps"), ("dps", "mopps"), ("gps", "hybrid"),
                                          ("hybrid", "mopps")])
def test_load_state_dict_of_another_method_is_refused(mine, theirs):
    sel, other = _trained(mine, **({"dim": 32} if mine in ("gps", "hybrid") else {})), _trained(theirs)
    before = sel.to_bytes()
    with pytest.raises(ValueError, match=rf"holds a {theirs} selector but this one runs {mine}"):
        sel.load_state_dict(other.state_dict())
    assert sel.method == mine and sel.to_bytes() == before
    sel.select(np.arange(20), 3)  # still working

    sel.load_state_dict(other.state_dict(), allow_method_change=True)  # asked for
    assert sel.method == theirs and sel.to_bytes() == other.to_bytes()
    assert sel.state(np.arange(3)).shape == other.state(np.arange(3)).shape


@pytest.mark.parametrize("method", ["mopps", "dps", "gps", "hybrid"])
def test_from_state_builds_the_states_method(method, tmp_path):
    sel = _trained(method)
    built = Selector.from_state(sel.state_dict())
    assert built.method == method and built.config == sel.config and built.to_bytes() == sel.to_bytes()
    sel.save(tmp_path / "c.bin")
    assert Selector.load(tmp_path / "c.bin").method == method  # the path form: load() already does it
    same = Selector(method, seed=99)
    same.load_state_dict(sel.state_dict())  # same method: no keyword needed
    assert same.to_bytes() == sel.to_bytes()


def test_from_state_and_load_state_dict_refuse_what_is_no_state():
    with pytest.raises(InvalidArgumentError, match="'state' entry"):
        Selector.from_state(b"raw")
    with pytest.raises(promptsel.CheckpointError):
        Selector.from_state({"state": b"PSELCKPT" + bytes(30)})
    sel = Selector("mopps")
    with pytest.raises(promptsel.CheckpointError):
        sel.load_state_dict({"state": b"PSELCKPT" + bytes(30)}, allow_method_change=True)


# ---- 12. the simulator takes string prompt ids ------------------------------------------------

def test_sim_reads_string_ids_through_prompt_ids(tmp_path):
    from promptsel import sim
    keys = ["gsm8k/train/17", "5", "math-algebra-003", "-3", "ünïcode"]
    succ = [3, 0, 8, 5, 1]
    doc = {k: [1] * s + [0] * (8 - s) for k, s in zip(keys, succ)}
    (tmp_path / "r.json").write_text(json.dumps(doc))
    (tmp_path / "r.csv").write_text("id,successes,trials\n" + "".join(f"{k},{s},8\n" for k, s in zip(keys, succ)),
                                    encoding="utf-8")
    (tmp_path / "bare.csv").write_text("".join(f" {k} ,{s},8\n" for k, s in zip(keys, succ)), encoding="utf-8")
    expected = promptsel.prompt_ids(keys)
    assert expected[1] == 5 and expected[3] == -3  # canonical decimals are those integers
    for name in ("r.json", "r.csv", "bare.csv"):
        ids, s, t = sim.load_offline_results(tmp_path / name)
        np.testing.assert_array_equal(ids, expected)
        assert s.tolist() == succ and t.tolist() == [8] * 5
    r = sim.run(sim.SimConfig(workload=str(tmp_path / "r.csv"), steps=3, batch=2, n_heldout=8), "uniform,offline,mopps")
    assert r.summaries["offline"].offline_rollouts == 8 * 5


def test_sim_string_ids_that_are_one_prompt_are_refused(tmp_path):
    from promptsel import sim
    cases = {"dup.csv": "id,successes,trials\n5,1,8\n 5 ,2,8\n",  # the same id after trimming
             "dup.json": '{"a": [1], "a": [0]}',                # json.loads would keep only the last
             "blank.csv": "x,1,8\n ,2,8\n"}
    for name, text in cases.items():
        (tmp_path / name).write_text(text)
        with pytest.raises(ValueError, match="appears more than once|empty prompt id") as info:
            sim.load_offline_results(tmp_path / name)
        assert name in str(info.value)


def test_sim_held_out_ids_stay_distinct_at_the_top_of_int64(tmp_path):
    from promptsel import sim
    from promptsel.sim import experiments
    top = 2**63 - 1
    path = tmp_path / "top.csv"
    path.write_text(f"{top},3,8\n{-top - 1},4,8\n{top - 1},5,8\n")  # wrapping past the top hits -2**63
    cfg = sim.SimConfig(workload=str(path), n_heldout=16)
    population = sim.build_population(cfg)
    held = experiments._heldout_ids(population)
    assert held.size == 16 and np.unique(held).size == 16 and not np.isin(held, population.ids).any()


def test_state_columns_refuse_a_single_name():
    sel = Selector("mopps")
    with pytest.raises(TypeError, match="columns must be a list of state column names, got a single str"):
        sel.state([1], "alpha")
    assert sel.state([1], ["alpha"]).shape == (1, 1)


@pytest.mark.parametrize("field, value", [("steps", True), ("batch", 2.5), ("rollouts", np.True_), ("budget", 1e3)])
def test_sim_integer_settings_refuse_bools_and_floats(field, value):
    from promptsel import sim
    with pytest.raises(TypeError, match=f"{field} must be an integer"):
        sim.run(sim.SimConfig(**{**dict(steps=2, batch=4, n_prompts=64, n_heldout=8), field: value}), "uniform")
