"""Checkpoints: bytes, files and pickle round trips, exact resume, atomic saves."""

import copy
import os
import pickle

import numpy as np
import pytest

import promptsel


def _step(sel, step):
    """One deterministic training step; returns what was selected."""
    rng = np.random.default_rng(step)
    pool = rng.choice(500, 48, replace=False)
    pos, scores = sel.select(pool, 8)
    sel.update(pool[pos], rng.integers(0, 9, 8) / 8, rollouts=8)
    return pos, scores


def _trained(steps=10, **kwargs):
    sel = promptsel.Selector(seed=123, **kwargs)
    for step in range(steps):
        _step(sel, step)
    return sel


def _same_future(a, b, steps=20):
    for step in range(100, 100 + steps):
        pa, sa = _step(a, step)
        pb, sb = _step(b, step)
        assert np.array_equal(pa, pb) and np.array_equal(sa, sb), f"diverged at step {step}"
    assert a.to_bytes() == b.to_bytes()


@pytest.mark.parametrize("method", ["mopps", "dps"])
def test_bytes_round_trip(method):
    sel = promptsel.Selector(method, seed=9)
    for step in range(5):
        _step(sel, step)
    data = sel.to_bytes()
    restored = promptsel.Selector.from_bytes(data)
    assert restored.to_bytes() == data
    assert restored.config == sel.config
    assert restored.ids().tolist() == sel.ids().tolist()
    assert restored.predict(sel.ids()).tolist() == sel.predict(sel.ids()).tolist()
    _same_future(sel, restored)


def test_file_round_trip(ckpt_dir):
    sel = _trained(decay=0.5, strategy="threshold", prior=(2.0, 3.0))
    sel.save(ckpt_dir / "state.bin")
    restored = promptsel.Selector.load(ckpt_dir / "state.bin")
    assert restored.config == sel.config
    assert restored.to_bytes() == sel.to_bytes()
    _same_future(sel, restored)


def test_save_accepts_str_and_bytes_paths(ckpt_dir):
    sel = _trained(steps=2)
    sel.save(str(ckpt_dir / "a.bin"))
    sel.save(os.fsencode(ckpt_dir / "b.bin"))
    assert (ckpt_dir / "a.bin").read_bytes() == (ckpt_dir / "b.bin").read_bytes() == sel.to_bytes()


def test_state_dict_round_trip_replaces_config_too():
    sel = _trained(decay=0.8)
    other = promptsel.Selector(seed=1, strategy="uniform")
    other.select([1, 2, 3], 1)
    other.load_state_dict(sel.state_dict())
    assert other.config == sel.config
    assert other.to_bytes() == sel.to_bytes()
    _same_future(sel, other)


def test_resumed_selector_continues_exactly_as_uninterrupted():
    uninterrupted = _trained(steps=10)
    checkpoint = uninterrupted.state_dict()
    resumed = promptsel.Selector(seed=999)  # whatever it was built with, the checkpoint wins
    resumed.load_state_dict(pickle.loads(pickle.dumps(checkpoint)))
    _same_future(uninterrupted, resumed, steps=20)


def test_pickle_and_copy_round_trip():
    sel = _trained()
    for clone in (pickle.loads(pickle.dumps(sel)), copy.deepcopy(sel), copy.copy(sel)):
        assert clone is not sel
        assert clone.to_bytes() == sel.to_bytes()
    clone = pickle.loads(pickle.dumps(sel))
    _same_future(sel, clone)
    clone.close()  # independent handles
    assert len(sel) > 0


def test_save_overwrites_atomically_and_leaves_no_temp_files(ckpt_dir):
    path = ckpt_dir / "state.bin"
    first = _trained(steps=1)
    first.save(path)
    second = _trained(steps=5)
    second.save(path)
    assert path.read_bytes() == second.to_bytes()
    assert os.listdir(ckpt_dir) == ["state.bin"]


def test_failed_save_keeps_the_old_checkpoint(ckpt_dir):
    path = ckpt_dir / "state.bin"
    old = _trained(steps=1)
    old.save(path)
    blocker = ckpt_dir / "dir.bin"
    blocker.mkdir()  # renaming a file over a directory fails after the temp file is written
    with pytest.raises(promptsel.PromptSelIOError):
        _trained(steps=3).save(blocker)
    with pytest.raises(promptsel.PromptSelIOError):
        _trained(steps=3).save(ckpt_dir / "missing" / "state.bin")
    assert sorted(os.listdir(ckpt_dir)) == ["dir.bin", "state.bin"]
    assert os.listdir(blocker) == []
    assert path.read_bytes() == old.to_bytes()


def test_save_failing_mid_write_keeps_the_old_checkpoint(ckpt_dir, run_python):
    # A file-size limit makes write() fail (EFBIG) after the temp file exists; works as root too.
    path = ckpt_dir / "state.bin"
    old = _trained(steps=1)
    old.save(path)
    r = run_python(f"""
        import resource, signal, numpy as np, promptsel
        sel = promptsel.Selector(seed=1)
        sel.set_posterior(np.arange(20000), np.ones(20000), np.ones(20000))
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
        try:
            sel.save({str(path)!r})
        except promptsel.PromptSelIOError as e:
            print("failed:", e)
    """)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("failed:")
    assert os.listdir(ckpt_dir) == ["state.bin"]
    assert path.read_bytes() == old.to_bytes()


def test_checkpoint_is_independent_of_the_source():
    sel = _trained()
    data = sel.to_bytes()
    restored = promptsel.Selector.from_bytes(bytearray(data))
    sel.update([1], [1.0], rollouts=8)
    sel.close()
    assert restored.to_bytes() == data
