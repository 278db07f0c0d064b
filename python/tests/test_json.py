"""JSON interop with the reference MoPPS sampler: index_score.json checkpoints and
the offline warm-start file."""

import json
import os

import numpy as np
import pytest

import promptsel
from promptsel import CheckpointError


def _trained():
    sel = promptsel.Selector(seed=4, decay=0.7)
    for step in range(5):
        pool = np.arange(step * 7, step * 7 + 30)
        pos, _ = sel.select(pool, 6)
        sel.update(pool[pos], np.linspace(0.05, 0.95, 6), rollouts=8)
    return sel


def test_export_writes_reference_format(ckpt_dir):
    sel = _trained()
    path = sel.export_index_score(ckpt_dir)  # a directory gets index_score.json inside
    assert path == str(ckpt_dir / "index_score.json")
    doc = json.loads((ckpt_dir / "index_score.json").read_text())
    ids = sel.ids()
    assert list(doc) == [str(i) for i in ids.tolist()]
    alpha, beta = sel.posterior(ids)
    assert [doc[str(i)] for i in ids.tolist()] == [[a, b] for a, b in zip(alpha.tolist(), beta.tolist())]
    assert os.listdir(ckpt_dir) == ["index_score.json"]  # no temp file left


def test_export_import_round_trip_is_exact(ckpt_dir):
    sel = _trained()
    sel.export_index_score(ckpt_dir / "scores.json")
    fresh = promptsel.Selector(seed=4, decay=0.7)
    assert fresh.import_index_score(ckpt_dir / "scores.json") == len(sel)
    assert fresh.ids().tolist() == sel.ids().tolist()
    assert np.array_equal(np.array(fresh.posterior(sel.ids())), np.array(sel.posterior(sel.ids())))


def test_import_reference_style_file_keeps_other_ids(ckpt_dir):
    # As the reference writes it: string keys, [alpha, beta] lists, ints or floats.
    (ckpt_dir / "index_score.json").write_text('{"12": [3.0, 7.0], "5": [1, 1], "-3": [24.5, 0.5]}')
    sel = promptsel.Selector()
    sel.update([99], [1.0], rollouts=8)
    assert sel.import_index_score(ckpt_dir) == 3
    a, b = sel.posterior([12, 5, -3, 99])
    assert a.tolist() == [3.0, 1.0, 24.5, 9.0]
    assert b.tolist() == [7.0, 1.0, 0.5, 1.0]
    assert sel.ids().tolist() == [99, 12, 5, -3]


def test_export_of_large_ids_round_trips(ckpt_dir):
    sel = promptsel.Selector()
    sel.set_posterior([2**63 - 1, -(2**63)], [2.0, 3.0], [4.0, 5.0])
    sel.export_index_score(ckpt_dir)
    fresh = promptsel.Selector()
    fresh.import_index_score(ckpt_dir)
    assert fresh.posterior([2**63 - 1, -(2**63)])[0].tolist() == [2.0, 3.0]


def test_export_overwrites_atomically(ckpt_dir):
    path = ckpt_dir / "index_score.json"
    path.write_text("old")
    _trained().export_index_score(path)
    assert json.loads(path.read_text())
    assert oct(path.stat().st_mode & 0o777) == "0o644"
    assert os.listdir(ckpt_dir) == ["index_score.json"]
    with pytest.raises(OSError):
        _trained().export_index_score(ckpt_dir / "missing" / "index_score.json")


def test_warm_start_from_json_formula(ckpt_dir):
    path = ckpt_dir / "offline.json"
    path.write_text(json.dumps({"7": [1, 0, 1, 1, 0, 0, 0, 1], "8": [0] * 8, "9": [1, 1], "10": []}))
    sel = promptsel.Selector()
    assert sel.warm_start_from_json(path) == 4
    a, b = sel.posterior([7, 8, 9, 10])
    assert a.tolist() == [1 + 3 * 4, 1, 1 + 3 * 2, 1]
    assert b.tolist() == [1 + 3 * 4, 1 + 3 * 8, 1, 1]
    sel.warm_start_from_json(path, weight=1.0)
    assert sel.posterior([7])[0][0] == 5.0


BAD_INDEX_SCORE = {
    "not JSON": "{oops",
    "not an object": "[[1, 2]]",
    "non-integer key": '{"abc": [1.0, 1.0]}',
    "float key": '{"1.5": [1.0, 1.0]}',
    "padded key": '{"007": [1.0, 1.0]}',
    "key beyond int64": '{"9223372036854775808": [1.0, 1.0]}',
    "5000-digit key": '{"' + "9" * 5000 + '": [1.0, 1.0]}',
    "5000-digit value": '{"1": [' + "9" * 5000 + ', 1.0]}',
    "one value": '{"1": [1.0]}',
    "three values": '{"1": [1.0, 2.0, 3.0]}',
    "string values": '{"1": ["1", "2"]}',
    "bool values": '{"1": [true, 1.0]}',
    "zero alpha": '{"1": [2.0, 2.0], "2": [0.0, 1.0]}',
    "negative beta": '{"1": [2.0, -2.0]}',
    "NaN": '{"1": [NaN, 1.0]}',
    "Infinity": '{"1": [Infinity, 1.0]}',
    "invalid UTF-8": b'{"1": [1.0, 1.0]\xff}',
}


@pytest.mark.parametrize("case", BAD_INDEX_SCORE, ids=list(BAD_INDEX_SCORE))
def test_bad_index_score_changes_nothing(ckpt_dir, case):
    content = BAD_INDEX_SCORE[case]
    path = ckpt_dir / "index_score.json"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    sel = _trained()
    before = sel.to_bytes()
    with pytest.raises(CheckpointError) as info:
        sel.import_index_score(path)
    assert isinstance(info.value, ValueError)
    assert "index_score.json" in str(info.value)
    assert sel.to_bytes() == before


BAD_OFFLINE = {
    "not a list": '{"1": 3}',
    "result 2": '{"1": [1, 2]}',
    "negative result": '{"1": [-1]}',
    "string result": '{"1": ["1"]}',
    "bad key": '{"x": [1]}',
}


@pytest.mark.parametrize("case", BAD_OFFLINE, ids=list(BAD_OFFLINE))
def test_bad_warm_start_file_changes_nothing(ckpt_dir, case):
    path = ckpt_dir / "offline.json"
    path.write_text('{"5": [1, 1, 0], ' + BAD_OFFLINE[case][1:])  # a good entry first
    sel = _trained()
    before = sel.to_bytes()
    with pytest.raises(CheckpointError):
        sel.warm_start_from_json(path)
    assert sel.to_bytes() == before


def test_bad_weight_is_the_callers_error_not_the_files(ckpt_dir):
    path = ckpt_dir / "offline.json"
    path.write_text('{"5": [1, 1, 0]}')
    with pytest.raises(promptsel.OutOfRangeError, match="weight"):
        promptsel.Selector().warm_start_from_json(path, weight=-1.0)


def test_missing_file_raises_file_not_found(ckpt_dir):
    with pytest.raises(FileNotFoundError):
        promptsel.Selector().import_index_score(ckpt_dir)  # directory without index_score.json
    with pytest.raises(FileNotFoundError):
        promptsel.Selector().warm_start_from_json(ckpt_dir / "none.json")
