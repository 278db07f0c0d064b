"""Failures in the trainer files (issue 17, items 5, 6, 7, 11), injected without verl:
a TaskSampler.save that fails between or after its writes, journal appends that
fail or tear, resumes that fail or meet another dataset's journal, and the
candidate pool cut to the dataset."""

import errno
import json
import logging
import os
import pickle
import warnings

import numpy as np
import pytest

import promptsel
from promptsel import CheckpointError, PromptSelIOError, Selector, TaskSampler
from promptsel import _native
from promptsel.verl import CurriculumSampler, manifest
from promptsel.verl.journal import JOURNAL_FILE, Journal
from verl_fakes import FakeDataset, rollout_batch

# ---- 5. TaskSampler.save: old state or new, never a mix -------------------------------------

REFERENCE = {"mopps": "index_score.json", "dps": "hmm_params.json"}


def _ts_config(method):
    return {"data": {"train_batch_size": 4, "seed": 1}, "actor_rollout_ref": {"rollout": {"n": 8}},
            "tasksampler": {"method": method}}


def _ts_steps(sampler, steps, first=0):
    for step in range(first, first + steps):
        pool = np.random.default_rng(step).choice(1000, 16, replace=False)
        selected, _ = sampler.sample_batch({"index": pool})
        sampler.train(selected, np.random.default_rng(100 + step).integers(0, 9, 4) / 8)


def _files(directory):
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


def _loaded(method, directory):
    """The state a fresh sampler has after load(directory)."""
    fresh = TaskSampler(_ts_config(method))
    fresh.load(directory)
    return fresh.state_dict()["state"]


def _enospc(*_args, **_kwargs):
    raise PromptSelIOError("cannot write: No space left on device (injected)")


@pytest.mark.parametrize("method", ["mopps", "dps"])
def test_save_failing_between_its_two_writes_leaves_the_old_checkpoint(tmp_path, monkeypatch, method):
    sampler = TaskSampler(_ts_config(method))
    _ts_steps(sampler, 2)
    sampler.save(tmp_path)
    old_state, old_files = sampler.state_dict()["state"], _files(tmp_path)
    _ts_steps(sampler, 2, first=2)
    monkeypatch.setattr(_native, "save", _enospc)  # the native write fails after the reference file's
    with pytest.raises(PromptSelIOError) as info:
        sampler.save(tmp_path)
    monkeypatch.undo()
    assert _files(tmp_path) == old_files  # every file as the old save left it: no new one beside an old one
    assert _loaded(method, tmp_path) == old_state
    assert "still loads as its previous checkpoint" in str(info.value) and "No space left" in str(info.value)


@pytest.mark.parametrize("method", ["mopps", "dps"])
def test_a_first_save_that_fails_leaves_nothing_to_load(tmp_path, monkeypatch, method):
    sampler = TaskSampler(_ts_config(method))
    _ts_steps(sampler, 2)
    monkeypatch.setattr(_native, "save", _enospc)
    with pytest.raises(PromptSelIOError):
        sampler.save(tmp_path)
    monkeypatch.undo()
    assert _files(tmp_path) == {}
    assert _loaded(method, tmp_path) == TaskSampler(_ts_config(method)).state_dict()["state"]


def test_save_failing_at_the_manifest_leaves_the_old_checkpoint(tmp_path, monkeypatch):
    sampler = TaskSampler(_ts_config("mopps"))
    _ts_steps(sampler, 2)
    sampler.save(tmp_path)
    old_state, old_files = sampler.state_dict()["state"], _files(tmp_path)
    _ts_steps(sampler, 2, first=2)
    real = _native.write_atomic

    def write_atomic(path, data):
        if path.endswith(manifest.MANIFEST_FILE.encode()):
            raise PromptSelIOError(f"cannot rename over '{path.decode()}': Input/output error (injected)")
        real(path, data)

    monkeypatch.setattr(_native, "write_atomic", write_atomic)
    with pytest.raises(PromptSelIOError):
        sampler.save(tmp_path)
    monkeypatch.undo()
    assert _files(tmp_path) == old_files and _loaded("mopps", tmp_path) == old_state


@pytest.mark.parametrize("method", ["mopps", "dps"])
def test_a_failure_after_the_manifest_loads_as_the_new_checkpoint(tmp_path, monkeypatch, method):
    sampler = TaskSampler(_ts_config(method))
    _ts_steps(sampler, 2)
    sampler.save(tmp_path)
    _ts_steps(sampler, 2, first=2)
    new_state = sampler.state_dict()["state"]

    def remove(path, *a, **k):
        raise OSError(errno.EIO, "Input/output error (injected)", path)

    monkeypatch.setattr(os, "remove", remove)  # the cleanup of the older generation fails
    with pytest.warns(UserWarning, match="could not be removed"):
        sampler.save(tmp_path)
    monkeypatch.undo()
    assert _loaded(method, tmp_path) == new_state
    sampler.save(tmp_path)  # the next save removes what the failed cleanup left
    assert sorted(_files(tmp_path)) == sorted([manifest.MANIFEST_FILE] + [
        e["name"] for e in manifest.read(tmp_path)["files"].values()])


@pytest.mark.parametrize("method", ["mopps", "dps"])
def test_a_directory_saved_before_manifests_loads_and_the_next_save_replaces_it(tmp_path, method):
    sampler = TaskSampler(_ts_config(method))
    _ts_steps(sampler, 2)
    sampler.selector.save(tmp_path / "promptsel_state.bin")  # what save() wrote before manifests
    sampler.selector.export_reference(tmp_path)
    assert sorted(_files(tmp_path)) == sorted(["promptsel_state.bin", REFERENCE[method]])
    assert _loaded(method, tmp_path) == sampler.state_dict()["state"]
    _ts_steps(sampler, 1, first=2)
    sampler.save(tmp_path)
    names = sorted(_files(tmp_path))
    assert "promptsel_state.bin" not in names and REFERENCE[method] not in names and len(names) == 3
    assert _loaded(method, tmp_path) == sampler.state_dict()["state"]


@pytest.mark.parametrize("damage", ["flip a byte of the native file", "truncate the reference file",
                                    "delete the native file", "garble the manifest"])
def test_load_checks_the_files_the_manifest_names(tmp_path, damage):
    sampler = TaskSampler(_ts_config("mopps"))
    _ts_steps(sampler, 2)
    sampler.save(tmp_path)
    names = {k: v["name"] for k, v in manifest.read(tmp_path)["files"].items()}
    native, reference = tmp_path / names["native"], tmp_path / names["reference"]
    if damage.startswith("flip"):
        data = bytearray(native.read_bytes())
        data[len(data) // 2] ^= 1
        native.write_bytes(bytes(data))
        match = "changed after its save"
    elif damage.startswith("truncate"):
        reference.write_bytes(reference.read_bytes()[:-3])
        match = "changed after its save"
    elif damage.startswith("delete"):
        native.unlink()
        match = "missing"
    else:
        (tmp_path / manifest.MANIFEST_FILE).write_text('{"format": "promptsel')
        match = "not a promptsel manifest"
    fresh = TaskSampler(_ts_config("mopps"))
    before = fresh.state_dict()
    with pytest.raises(CheckpointError, match=match):
        fresh.load(tmp_path)
    assert fresh.state_dict() == before
