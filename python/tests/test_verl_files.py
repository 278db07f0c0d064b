"""Failures in the trainer files (issue 17, items 5, 6, 7, 11), injected without verl:
a TaskSampler.save that fails between or after its writes, journal appends that
fail or tear, resumes that fail or meet another dataset's journal, and the
candidate pool cut to the dataset."""

import errno
import logging
import os
import pickle
import warnings
import zlib

import numpy as np
import pytest

import promptsel
from promptsel import CheckpointError, PromptSelIOError, TaskSampler
from promptsel import _native
from promptsel.verl import CurriculumSampler, manifest
from promptsel.verl import journal as journal_module
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


# ---- 6. the stock-verl journal: appends that fail, torn tails, resumes that fail ---------------

B, N_ROLL = 8, 4


def _cs_config(tmp_path=None, **sampler):
    if tmp_path is not None:
        sampler["journal_dir"] = str(tmp_path / "journal")
    return {"train_batch_size": B, "gen_batch_size": None, "seed": 3, "prompt_key": "prompt",
            "sampler": {"candidate_ratio": 3, **sampler}}


def _dataset(n=96, offset=1000):
    return FakeDataset([offset + 3 * i for i in range(n)])


def _truth(i):
    return (0.0, 1.0, 0.5)[(i // 3) % 3]


class _Loop:
    """verl's fit loop over a CurriculumSampler: pull a batch, (data.pt), update."""

    def __init__(self, sampler, seed=7):
        self.s, self.rng, self.it = sampler, np.random.default_rng(seed), iter(sampler)

    def draw(self):
        try:
            batch = [next(self.it) for _ in range(B)]
        except StopIteration:
            self.it = iter(self.s)
            batch = [next(self.it) for _ in range(B)]
        data, _ = rollout_batch(self.s.ids[batch].tolist(), _truth, N_ROLL, self.rng)
        return batch, data

    def steps(self, n, checkpoint_at=None):
        batches, saved = [], None
        for step in range(1, n + 1):
            batch, data = self.draw()
            batches.append(batch)
            if step == checkpoint_at:
                saved = (pickle.dumps(self.s.state_dict()), pickle.dumps(self.rng.bit_generator.state))
            self.s.update(data)
        return batches, saved


def _resumed(config, saved, dataset=None):
    state, rng_state = (pickle.loads(x) for x in saved)
    s = CurriculumSampler(data_source=dataset or _dataset(), data_config=config)
    s.load_state_dict(state)
    loop = _Loop(s)
    loop.rng.bit_generator.state = rng_state
    return loop


def _journal(tmp_path):
    return Journal(tmp_path / "journal", b"\0" * 16)


def _replayed_state(config, records, ids):
    """The selector state the journal's records give when applied from the start."""
    fresh = CurriculumSampler(data_source=_dataset(), data_config={**config, "sampler": {
        k: v for k, v in config["sampler"].items() if k != "journal_dir"}})
    for r in records:
        fresh.selector.update(r.ids, r.success, r.rollouts)
    return fresh.selector.state(ids)


def _fail_fsync(monkeypatch):
    def fsync(fd):
        raise OSError(errno.ENOSPC, "No space left on device (injected)")
    monkeypatch.setattr(os, "fsync", fsync)


def _fail_write_halfway(monkeypatch):
    """The write lands half its bytes, then the disk is full."""
    real_write, real_pwrite = os.write, os.pwrite

    def write(fd, data, *offset):
        if len(data) > 1:
            half = bytes(data[:len(data) // 2])
            return real_pwrite(fd, half, *offset) if offset else real_write(fd, half)
        raise OSError(errno.ENOSPC, "No space left on device (injected)")

    state = {"calls": 0}

    def once_then_fail(fd, data, *offset):
        state["calls"] += 1
        if state["calls"] == 1:
            return write(fd, data, *offset)
        raise OSError(errno.ENOSPC, "No space left on device (injected)")

    monkeypatch.setattr(os, "write", lambda fd, data: once_then_fail(fd, data))
    monkeypatch.setattr(os, "pwrite", lambda fd, data, off: once_then_fail(fd, data, off))


@pytest.mark.parametrize("inject", [_fail_fsync, _fail_write_halfway])
def test_a_failed_append_applies_nothing_and_the_journal_stays_readable(tmp_path, monkeypatch, inject):
    config = _cs_config(tmp_path)
    s = CurriculumSampler(data_source=_dataset(), data_config=config)
    loop = _Loop(s)
    loop.steps(3)
    path = tmp_path / "journal" / JOURNAL_FILE
    _, data = loop.draw()
    selector_before, file_before = s.selector.to_bytes(), path.read_bytes()
    with monkeypatch.context() as m:
        inject(m)
        with pytest.raises(OSError) as info:
            s.update(data)
    assert s.selector.to_bytes() == selector_before and s._updates == 3  # the update was not applied
    assert path.read_bytes() == file_before  # cut back: no torn record
    assert isinstance(info.value, PromptSelIOError), repr(info.value)
    assert "journal append failed" in str(info.value) and "not applied" in str(info.value)
    s.update(data)  # the step retried once the disk has room
    loop.steps(3)
    _, records = _journal(tmp_path).read()
    assert [r.seq for r in records] == list(range(7))
    np.testing.assert_array_equal(s.selector.state(s.ids), _replayed_state(config, records, s.ids))


def test_an_update_the_library_refuses_takes_its_journal_record_back(tmp_path, monkeypatch):
    config = _cs_config(tmp_path)
    s = CurriculumSampler(data_source=_dataset(), data_config=config)
    loop = _Loop(s)
    loop.steps(2)
    _, data = loop.draw()
    path = tmp_path / "journal" / JOURNAL_FILE
    selector_before, file_before = s.selector.to_bytes(), path.read_bytes()

    def update(*_args):
        raise promptsel.PromptSelMemoryError("out of memory (injected)")

    with monkeypatch.context() as m:
        m.setattr(_native, "update", update)  # the record is written, then the update fails
        with pytest.raises(promptsel.PromptSelMemoryError):
            s.update(data)
    assert s.selector.to_bytes() == selector_before and path.read_bytes() == file_before
    s.update(data)
    loop.steps(2)
    _, records = _journal(tmp_path).read()
    assert [r.seq for r in records] == list(range(5))
    np.testing.assert_array_equal(s.selector.state(s.ids), _replayed_state(config, records, s.ids))


def test_a_compaction_that_fails_is_a_warning_and_the_update_stands(tmp_path, monkeypatch):
    config = _cs_config(tmp_path, journal_keep=2)
    s = CurriculumSampler(data_source=_dataset(), data_config=config)
    loop = _Loop(s)
    loop.steps(4)  # 4 records: compaction is due at the fifth
    _, data = loop.draw()
    with monkeypatch.context() as m:
        m.setattr(_native, "write_atomic", _enospc)
        with pytest.warns(UserWarning, match="uncompacted"):
            s.update(data)
    assert s._updates == 5
    _, records = _journal(tmp_path).read()
    assert [r.seq for r in records] == list(range(5))  # appended, whole, just not compacted yet
    loop.steps(1)
    _, records = _journal(tmp_path).read()
    assert [r.seq for r in records] == [4, 5]  # the next update compacts


def test_torn_bytes_a_failed_append_could_not_cut_are_cut_by_the_next(tmp_path, monkeypatch):
    config = _cs_config(tmp_path)
    s = CurriculumSampler(data_source=_dataset(), data_config=config)
    loop = _Loop(s)
    loop.steps(2)
    _, data = loop.draw()
    with monkeypatch.context() as m:
        _fail_write_halfway(m)
        m.setattr(os, "ftruncate", lambda fd, size: (_ for _ in ()).throw(OSError(errno.EIO, "injected")))
        with pytest.raises(OSError):
            s.update(data)
    s.update(data)
    loop.steps(3)
    _, records = _journal(tmp_path).read()
    assert [r.seq for r in records] == list(range(6))  # every append after the torn one is readable
    np.testing.assert_array_equal(s.selector.state(s.ids), _replayed_state(config, records, s.ids))


def test_a_torn_tail_is_dropped_once_on_resume_and_reported(tmp_path):
    config = _cs_config(tmp_path)
    full, _ = _Loop(CurriculumSampler(data_source=_dataset(), data_config=_cs_config(tmp_path / "full"))).steps(14)
    _, saved = _Loop(CurriculumSampler(data_source=_dataset(), data_config=config)).steps(8, checkpoint_at=5)
    path = tmp_path / "journal" / JOURNAL_FILE
    data = path.read_bytes()
    record = len(data) - (len(data) - 40) // 8  # the last of 8 records of one size starts here
    path.write_bytes(data[:record + 30])  # a crash 30 bytes into the last append
    with pytest.warns(UserWarning, match=rf"{JOURNAL_FILE}: dropping 30 bytes after the last intact record"):
        loop = _resumed(config, saved)
    contents = _journal(tmp_path).scan()
    assert contents.intact == contents.size and [r.seq for r in contents.records] == list(range(5))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # dropped once: a second resume finds nothing to report
        _resumed(config, saved)
    batches, _ = loop.steps(9)
    assert batches == full[5:]


def test_a_resume_whose_journal_rewrite_fails_changes_nothing(tmp_path, monkeypatch):
    config = _cs_config(tmp_path)
    full, _ = _Loop(CurriculumSampler(data_source=_dataset(), data_config=_cs_config(tmp_path / "full"))).steps(12)
    _, saved = _Loop(CurriculumSampler(data_source=_dataset(), data_config=config)).steps(7, checkpoint_at=4)
    s = CurriculumSampler(data_source=_dataset(), data_config=config)
    path = tmp_path / "journal" / JOURNAL_FILE
    before = (s._run_id, s._journal.run_id, s.selector.to_bytes(), s.state_dict(), path.read_bytes())
    monkeypatch.setattr(_native, "write_atomic", _enospc)
    with pytest.raises(PromptSelIOError) as info:
        s.load_state_dict(pickle.loads(saved[0]))
    monkeypatch.undo()
    assert (s._run_id, s._journal.run_id, s.selector.to_bytes(), s.state_dict(), path.read_bytes()) == before
    assert "cannot write the journal" in str(info.value)
    s.load_state_dict(pickle.loads(saved[0]))  # the same resume, once the disk is back
    loop = _Loop(s)
    loop.rng.bit_generator.state = pickle.loads(saved[1])
    assert loop.steps(8)[0] == full[4:]


def _edit_record(path, seq, change):
    """Rewrites record `seq` of a journal file in place by `change(Record)` (same
    size), with a valid CRC: a record only the library's own checks can refuse."""
    data = bytearray(path.read_bytes())
    o = 40 if data[:8] == b"PSELJRN2" else 28
    while o < len(data):
        length = int.from_bytes(data[o:o + 4], "little")
        record = journal_module._decode(bytes(data[o + 8:o + 8 + length]))
        if record.seq == seq:
            encoded = journal_module._encode(change(record))
            assert len(encoded) == 8 + length
            data[o:o + 8 + length] = encoded
            path.write_bytes(bytes(data))
            return
        o += 8 + length
    raise AssertionError(f"no record {seq}")


def test_a_resume_whose_replay_is_refused_changes_nothing(tmp_path):
    config = _cs_config(tmp_path)
    _, saved = _Loop(CurriculumSampler(data_source=_dataset(), data_config=config)).steps(6, checkpoint_at=4)
    path = tmp_path / "journal" / JOURNAL_FILE
    # Update 3 (the one the checkpoint lacks) now holds rates outside [0, 1].
    _edit_record(path, 3, lambda r: r._replace(success=np.full_like(r.success, 2.0)))
    s = CurriculumSampler(data_source=_dataset(), data_config=config)
    before = (s._run_id, s._journal.run_id, s.state_dict(), path.read_bytes())
    with pytest.raises(promptsel.PromptSelError) as info:
        s.load_state_dict(pickle.loads(saved[0]))
    assert (s._run_id, s._journal.run_id, s.state_dict(), path.read_bytes()) == before
    assert "update 3 cannot be replayed" in str(info.value)


# ---- 7. a journal recorded on another dataset is refused -----------------------------------------

def test_a_journal_recorded_on_another_dataset_is_refused_naming_both(tmp_path):
    config = _cs_config(tmp_path)
    _, saved = _Loop(CurriculumSampler(data_source=_dataset(), data_config=config)).steps(6, checkpoint_at=4)
    # Another experiment, on another dataset, then wrote to the same journal_dir.
    _Loop(CurriculumSampler(data_source=_dataset(n=64, offset=5), data_config=config)).steps(2)
    path = tmp_path / "journal" / JOURNAL_FILE
    other = path.read_bytes()
    s = CurriculumSampler(data_source=_dataset(), data_config=config)
    before = s.state_dict()
    with pytest.raises(CheckpointError) as info:
        s.load_state_dict(pickle.loads(saved[0]))
    ours, theirs = s._dataset, Journal(tmp_path / "journal", b"").scan().dataset
    assert theirs.prompts == 64 and ours.prompts == 96
    assert f"another dataset ({theirs})" in str(info.value) and f"this run's ({ours})" in str(info.value)
    assert s.state_dict() == before and path.read_bytes() == other  # the other experiment's journal is kept


def _as_v1(path):
    """Rewrites a journal in the PSELJRN1 layout (no dataset fingerprint)."""
    data = path.read_bytes()
    if data[:8] == b"PSELJRN1":
        return
    body = b"PSELJRN1" + data[8:24]
    path.write_bytes(body + zlib.crc32(body).to_bytes(4, "little") + data[40:])


def test_a_journal_without_a_fingerprint_still_replays_but_not_foreign_ids(tmp_path):
    config = _cs_config(tmp_path)
    full, _ = _Loop(CurriculumSampler(data_source=_dataset(), data_config=_cs_config(tmp_path / "full"))).steps(10)
    _, saved = _Loop(CurriculumSampler(data_source=_dataset(), data_config=config)).steps(6, checkpoint_at=4)
    path = tmp_path / "journal" / JOURNAL_FILE
    _as_v1(path)
    good = path.read_bytes()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loop = _resumed(config, saved)  # a journal written before fingerprints: replayed
    assert loop.steps(6)[0] == full[4:]
    # The same journal with update 3's ids (the one the checkpoint lacks) shifted off this dataset's.
    path.write_bytes(good)
    _edit_record(path, 3, lambda r: r._replace(ids=r.ids + 1))
    s = CurriculumSampler(data_source=_dataset(), data_config=config)
    before = s.state_dict()
    with pytest.raises(CheckpointError, match=r"update 3 has prompt id \d+, which this run's dataset "
                                              r"\(96 prompts, ids CRC-32 [0-9a-f]{8}\) does not have"):
        s.load_state_dict(pickle.loads(saved[0]))
    assert s.state_dict() == before


# ---- 11. the candidate pool cut to the dataset is said once ---------------------------------------

def test_a_candidate_pool_cut_to_the_dataset_is_logged_once_with_the_numbers(caplog):
    caplog.set_level(logging.WARNING, logger="promptsel")
    s = CurriculumSampler(data_source=_dataset(n=40), data_config=_cs_config(candidate_ratio=8))
    loop = _Loop(s)
    loop.steps(6)  # an epoch and more: still said once
    said = [r for r in caplog.records if r.name.startswith("promptsel") and "candidate_ratio" in r.getMessage()]
    assert len(said) == 1, [r.getMessage() for r in said]
    message = said[0].getMessage()
    assert said[0].levelno == logging.WARNING
    assert "data.sampler.candidate_ratio=8" in message and "asks for 64 candidates" in message
    assert "has 40 prompts: using 40" in message and s.pool == 40
    caplog.clear()
    CurriculumSampler(data_source=_dataset(n=40), data_config=_cs_config(candidate_ratio=5))  # 40: not cut
    assert not [r for r in caplog.records if "candidate_ratio" in r.getMessage()]
