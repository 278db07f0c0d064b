"""Every error path: the right exception class (a ValueError where it is the
caller's mistake), a message, and the selector exactly as it was (its checkpoint
bytes, generator included, compared before and after)."""

import json
import struct
import zlib

import numpy as np
import pytest

import promptsel
from promptsel import (
    CheckpointError,
    InvalidArgumentError,
    OutOfRangeError,
    PromptSelError,
    PromptSelIOError,
    UnsupportedError,
    errors,
)


def _trained(method="mopps", **kwargs):
    sel = promptsel.Selector(method, seed=1, **kwargs)
    sel.select(np.arange(10), 4)
    sel.update([0, 1, 2], [0.5, 0.25, 1.0], rollouts=8)
    return sel


def _fails_unchanged(sel, call, exc, match=None):
    before = sel.to_bytes()
    with pytest.raises(exc, match=match) as info:
        call(sel)
    assert str(info.value).strip()
    assert isinstance(info.value, PromptSelError)
    assert sel.to_bytes() == before
    return info.value


# ---- select --------------------------------------------------------------------------

SELECT_ERRORS = {
    "float ids": (lambda s: s.select([1.5, 2.0, 3.0], 1), InvalidArgumentError, "integer"),
    "integral floats": (lambda s: s.select(np.array([1.0, 2.0]), 1), InvalidArgumentError, "integer"),
    "string ids": (lambda s: s.select(["a", "b"], 1), InvalidArgumentError, "integer"),
    "bool ids": (lambda s: s.select([True, False], 1), InvalidArgumentError, "integer"),
    "object ids": (lambda s: s.select(np.array([1, None], dtype=object), 1), InvalidArgumentError, "integer"),
    "ids beyond int64": (lambda s: s.select([2**64, 1], 1), InvalidArgumentError, "integer"),
    "uint64 above int64": (lambda s: s.select(np.array([2**63], dtype=np.uint64), 1), OutOfRangeError, "int64"),
    "2-D ids": (lambda s: s.select(np.arange(6).reshape(2, 3), 1), InvalidArgumentError, "1-D"),
    "scalar ids": (lambda s: s.select(5, 1), InvalidArgumentError, "1-D"),
    "ragged ids": (lambda s: s.select([[1, 2], [3]], 1), InvalidArgumentError, "array"),
    "batch 0": (lambda s: s.select([1, 2, 3], 0), InvalidArgumentError, "batch_size must be >= 1"),
    "batch negative": (lambda s: s.select([1, 2, 3], -1), InvalidArgumentError, ">= 0"),
    "batch > pool": (lambda s: s.select([1, 2, 3], 4), InvalidArgumentError, "exceeds"),
    "batch huge": (lambda s: s.select([1, 2, 3], 2**64), OutOfRangeError, "too large"),
    "batch float": (lambda s: s.select([1, 2, 3], 2.0), InvalidArgumentError, "integer"),
    "batch bool": (lambda s: s.select([1, 2, 3], True), InvalidArgumentError, "integer"),
    "empty pool": (lambda s: s.select([], 1), InvalidArgumentError, "empty"),
    "empty pool, batch 0": (lambda s: s.select(np.array([], dtype=np.int64), 0), InvalidArgumentError, "empty"),
}


@pytest.mark.parametrize("case", SELECT_ERRORS, ids=list(SELECT_ERRORS))
def test_select_errors(case):
    call, exc, match = SELECT_ERRORS[case]
    err = _fails_unchanged(_trained(), call, exc, match)
    assert isinstance(err, ValueError)


# ---- update --------------------------------------------------------------------------

UPDATE_ERRORS = {
    "float ids": (lambda s: s.update([1.5], [0.5], 8), InvalidArgumentError, "integer"),
    "length mismatch": (lambda s: s.update([1, 2], [0.5], 8), InvalidArgumentError, "lengths differ"),
    "2-D rates": (lambda s: s.update([1, 2], [[0.5, 0.5]], 8), InvalidArgumentError, "1-D"),
    "string rates": (lambda s: s.update([1], ["0.5"], 8), InvalidArgumentError, "real"),
    "bool rates": (lambda s: s.update([1], [True], 8), InvalidArgumentError, "real"),
    "NaN rate": (lambda s: s.update([1, 2], [0.5, np.nan], 8), InvalidArgumentError, "NaN"),
    "rate -0.1": (lambda s: s.update([1], [-0.1], 8), OutOfRangeError, r"outside \[0, 1\]"),
    "rate 1.1": (lambda s: s.update([1], [1.1], 8), OutOfRangeError, r"outside \[0, 1\]"),
    "rate inf": (lambda s: s.update([1], [np.inf], 8), OutOfRangeError, r"outside \[0, 1\]"),
    "k 0": (lambda s: s.update([1], [0.5], 0), OutOfRangeError, r"rollouts.*\[1, 1048576\]"),
    "k negative": (lambda s: s.update([1], [0.5], -3), OutOfRangeError, r"rollouts.*\[1, 1048576\]"),
    "k beyond int32": (lambda s: s.update([1], [0.5], 2**31), OutOfRangeError, "int32"),
    "k array with 0": (lambda s: s.update([1, 2], [0.5, 0.5], [8, 0]), OutOfRangeError, r"rollouts.*\[1, 1048576\]"),
    "k above 2**20": (lambda s: s.update([1], [0.5], 2**20 + 1), OutOfRangeError, r"rollouts.*\[1, 1048576\]"),
    "k array beyond int32": (lambda s: s.update([1], [0.5], np.array([2**40])), OutOfRangeError, "int32"),
    "k array length": (lambda s: s.update([1, 2], [0.5, 0.5], [8]), InvalidArgumentError, "lengths differ"),
    "k float": (lambda s: s.update([1], [0.5], 8.0), InvalidArgumentError, "integer"),
    "k float array": (lambda s: s.update([1], [0.5], [8.0]), InvalidArgumentError, "integers"),
    # The last entry is bad: the first two must not be applied either.
    "bad last entry": (lambda s: s.update([0, 1, 2], [0.5, 0.5, 2.0], 8), OutOfRangeError, "success_rate"),
}


@pytest.mark.parametrize("case", UPDATE_ERRORS, ids=list(UPDATE_ERRORS))
def test_update_errors(case):
    call, exc, match = UPDATE_ERRORS[case]
    err = _fails_unchanged(_trained(), call, exc, match)
    assert isinstance(err, ValueError)


def test_error_codes_match_classes():
    sel = _trained()
    err = _fails_unchanged(sel, lambda s: s.update([1], [np.nan], 8), InvalidArgumentError)
    assert err.code == errors.E_INVALID_ARG
    assert _fails_unchanged(sel, lambda s: s.update([1], [2.0], 8), OutOfRangeError).code == errors.E_OUT_OF_RANGE
    assert InvalidArgumentError("x").code == errors.E_INVALID_ARG


# ---- queries and imports -------------------------------------------------------------

OTHER_ERRORS = {
    "predict float ids": (lambda s: s.predict([0.5]), InvalidArgumentError),
    "posterior 2-D": (lambda s: s.posterior([[1]]), InvalidArgumentError),
    "warm start successes > trials": (lambda s: s.warm_start([1], [5], [4]), OutOfRangeError),
    "warm start negative": (lambda s: s.warm_start([1], [-1], [4]), OutOfRangeError),
    "warm start NaN": (lambda s: s.warm_start([1], [np.nan], [4]), InvalidArgumentError),
    "warm start weight NaN": (lambda s: s.warm_start([1], [1], [4], weight=np.nan), InvalidArgumentError),
    "warm start weight negative": (lambda s: s.warm_start([1], [1], [4], weight=-1.0), OutOfRangeError),
    "warm start weight string": (lambda s: s.warm_start([1], [1], [4], weight="3"), InvalidArgumentError),
    "warm start lengths": (lambda s: s.warm_start([1, 2], [1], [4, 4]), InvalidArgumentError),
    "set posterior zero": (lambda s: s.set_posterior([1, 50], [1.0, 0.0], [1.0, 1.0]), OutOfRangeError),
    "set posterior negative": (lambda s: s.set_posterior([1], [1.0], [-2.0]), OutOfRangeError),
    "set posterior NaN": (lambda s: s.set_posterior([1], [np.nan], [1.0]), InvalidArgumentError),
    "set posterior inf": (lambda s: s.set_posterior([1], [np.inf], [1.0]), InvalidArgumentError),
}


@pytest.mark.parametrize("case", OTHER_ERRORS, ids=list(OTHER_ERRORS))
def test_query_and_import_errors(case):
    call, exc = OTHER_ERRORS[case]
    err = _fails_unchanged(_trained(), call, exc)
    assert isinstance(err, ValueError)


@pytest.mark.parametrize("call", [
    lambda s: s.posterior([1]),
    lambda s: s.warm_start([1], [1], [2]),
    lambda s: s.set_posterior([1], [1.0], [1.0]),
    lambda s: s.export_index_score("unused.json"),
])
def test_mopps_operations_on_dps_are_unsupported(call):
    err = _fails_unchanged(_trained("dps"), call, UnsupportedError, "MoPPS|mopps")
    assert isinstance(err, NotImplementedError)
    assert err.code == errors.E_UNSUPPORTED


def test_dps_operations_on_mopps_are_unsupported():
    _fails_unchanged(_trained(), lambda s: s.state_probs([1]), UnsupportedError, "DPS")


# ---- construction --------------------------------------------------------------------

CONSTRUCTION_ERRORS = {
    "bad strategy": (dict(strategy="best"), InvalidArgumentError, "unknown strategy"),
    "dps strategy on mopps": (dict(strategy="topk+entropy"), InvalidArgumentError, "unknown strategy"),
    "decay 0": (dict(decay=0.0), OutOfRangeError, "decay"),
    "decay 1.5": (dict(decay=1.5), OutOfRangeError, "decay"),
    "decay nan": (dict(decay=float("nan")), InvalidArgumentError, "decay"),
    "decay string": (dict(decay="0.5"), InvalidArgumentError, "decay"),
    "prior 0": (dict(prior=(0.0, 1.0)), OutOfRangeError, "prior_alpha"),
    "prior -1": (dict(prior=(1.0, -1.0)), OutOfRangeError, "prior_beta"),
    "prior not a pair": (dict(prior=(1.0,)), InvalidArgumentError, "pair"),
    "target -0.1": (dict(target=-0.1), OutOfRangeError, "target"),
    "target 1.5": (dict(target=1.5), OutOfRangeError, "target"),
    "target beyond double": (dict(target=10**400), OutOfRangeError, "target"),
    "lower > upper": (dict(lower=0.8, upper=0.2), OutOfRangeError, "lower"),
    "seed negative": (dict(seed=-1), OutOfRangeError, "seed"),
    "seed 2**64": (dict(seed=2**64), OutOfRangeError, "seed"),
    "seed float": (dict(seed=1.5), InvalidArgumentError, "seed"),
    "no_update string": (dict(no_update="yes"), InvalidArgumentError, "no_update"),
}


@pytest.mark.parametrize("case", CONSTRUCTION_ERRORS, ids=list(CONSTRUCTION_ERRORS))
def test_construction_errors(case):
    kwargs, exc, match = CONSTRUCTION_ERRORS[case]
    with pytest.raises(exc, match=match) as info:
        promptsel.Selector("mopps", **kwargs)
    assert isinstance(info.value, ValueError)


DPS_ERRORS = {
    "prior_alpha name": (dict(prior_alpha="stay"), InvalidArgumentError, "prior_alpha"),
    "prior_alpha 'constant'": (dict(prior_alpha="constant"), InvalidArgumentError, "number"),
    "prior_alpha 0": (dict(prior_alpha=0.0), OutOfRangeError, "prior_alpha"),
    "prior_pi": (dict(prior_pi="4"), InvalidArgumentError, "prior_pi"),
    "transition_decay 0": (dict(transition_decay=0.0), OutOfRangeError, "transition_decay"),
    "entropy_weight -1": (dict(entropy_weight=-1.0), OutOfRangeError, "entropy_weight"),
    "mopps strategy on dps": (dict(strategy="threshold"), InvalidArgumentError, "unknown strategy"),
}


@pytest.mark.parametrize("case", DPS_ERRORS, ids=list(DPS_ERRORS))
def test_dps_construction_errors(case):
    kwargs, exc, match = DPS_ERRORS[case]
    with pytest.raises(exc, match=match):
        promptsel.Selector("dps", **kwargs)


def test_unknown_method():
    with pytest.raises(InvalidArgumentError, match="unknown method 'ppo'"):
        promptsel.Selector("ppo")


def test_the_once_reserved_gps_method_is_available():
    # 0.2 refused "gps" as reserved; it is a method now (see test_gps.py).
    assert promptsel.Selector("gps", dim=8).method == "gps"


@pytest.mark.parametrize("method, kwargs, named", [
    ("mopps", dict(tau=1, gamma=2), "gamma, tau"),
    ("mopps", dict(prior_pi="1"), "prior_pi"),
    ("dps", dict(target=0.5), "target"),
])
def test_unknown_kwargs_raise_type_error_naming_them(method, kwargs, named):
    with pytest.raises(TypeError, match=named):
        promptsel.Selector(method, **kwargs)


# ---- after close ---------------------------------------------------------------------

AFTER_CLOSE = [
    lambda s: s.select([1, 2], 1),
    lambda s: s.update([1], [0.5], 8),
    lambda s: s.predict([1]),
    lambda s: s.posterior([1]),
    lambda s: len(s),
    lambda s: s.ids(),
    lambda s: s.config,
    lambda s: s.to_bytes(),
    lambda s: s.state_dict(),
    lambda s: s.load_state_dict({"state": b""}),
    lambda s: s.save("/tmp/never-written.bin"),
    lambda s: s.warm_start([1], [1], [2]),
    lambda s: s.set_posterior([1], [1.0], [1.0]),
]


@pytest.mark.parametrize("call", AFTER_CLOSE)
def test_calls_after_close_raise(call):
    sel = _trained()
    sel.close()
    sel.close()  # idempotent
    with pytest.raises(InvalidArgumentError, match="closed"):
        call(sel)


# ---- checkpoints -----------------------------------------------------------------------


def _with_crc(body):
    """Checkpoint bytes with a valid CRC-32 over `body` (to reach the checks behind it)."""
    return body + struct.pack("<I", zlib.crc32(body))


def _corruptions(good):
    flipped = bytearray(good)
    flipped[len(good) // 2] ^= 0x10
    version = bytearray(good)
    version[8:12] = struct.pack("<I", 99)
    return {
        "empty": (b"", "truncated"),
        "header only": (good[:20], "truncated"),
        "truncated": (good[:-1], "truncated"),
        "trailing byte": (good + b"\0", "trailing"),
        "bit flip": (bytes(flipped), "checksum"),
        "wrong magic": (b"NOTCKPT!" + good[8:], "magic"),
        "future version": (bytes(version), "version 99"),
    }


@pytest.mark.parametrize("case", ["empty", "header only", "truncated", "trailing byte", "bit flip", "wrong magic",
                                  "future version"])
def test_corrupt_checkpoint_bytes(case):
    sel = _trained()
    data, match = _corruptions(sel.to_bytes())[case]
    with pytest.raises(CheckpointError, match=match) as info:
        promptsel.Selector.from_bytes(data)
    assert isinstance(info.value, ValueError)
    assert info.value.code == (errors.E_VERSION if case == "future version" else errors.E_CORRUPT)
    _fails_unchanged(sel, lambda s: s.load_state_dict({"state": data}), CheckpointError, match)


def test_checkpoint_with_valid_crc_but_bad_content():
    sel = promptsel.Selector(seed=3)
    marker = 0x0123456789ABCDEF
    sel.set_posterior([marker, 7], [2.0, 3.0], [4.0, 5.0])
    good = sel.to_bytes()
    ids_at = good.index(struct.pack("<q", marker))
    assert struct.unpack_from("<Q", good, ids_at - 8)[0] == 2  # the prompt count precedes the ids
    body = bytearray(good[:-4])
    body[ids_at - 8:ids_at] = struct.pack("<Q", 2**40)
    with pytest.raises(CheckpointError, match="prompts"):
        promptsel.Selector.from_bytes(_with_crc(bytes(body)))
    body = bytearray(good[:-4])
    body[ids_at + 8:ids_at + 16] = struct.pack("<q", marker)  # the same id twice
    with pytest.raises(CheckpointError, match="twice"):
        promptsel.Selector.from_bytes(_with_crc(bytes(body)))
    body = bytearray(good[:-4])
    body[ids_at + 16:ids_at + 24] = struct.pack("<d", -1.0)  # alpha of the first id
    with pytest.raises(CheckpointError, match="invalid posterior"):
        promptsel.Selector.from_bytes(_with_crc(bytes(body)))


def test_every_single_bit_flip_and_truncation_is_rejected(run_python):
    # In a subprocess: a parser bug here could crash the interpreter.
    r = run_python("""
        import numpy as np, promptsel
        for method in ("mopps", "dps"):
            sel = promptsel.Selector(method, seed=5)
            sel.select(np.arange(6), 3)
            sel.update([0, 1], [0.5, 1.0], rollouts=8)
            good = sel.to_bytes()
            for i in range(len(good)):
                for bit in range(8):
                    bad = bytearray(good)
                    bad[i] ^= 1 << bit
                    try:
                        promptsel.Selector.from_bytes(bytes(bad))
                    except promptsel.CheckpointError:
                        continue
                    raise SystemExit(f"{method}: flip of bit {bit} of byte {i} was accepted")
            for n in range(len(good)):
                try:
                    promptsel.Selector.from_bytes(good[:n])
                except promptsel.CheckpointError:
                    continue
                raise SystemExit(f"{method}: truncation to {n} bytes was accepted")
        print("ok")
    """, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.strip() == "ok"


def test_load_state_dict_rejects_non_state():
    sel = _trained()
    _fails_unchanged(sel, lambda s: s.load_state_dict(b"raw"), InvalidArgumentError, "state")
    _fails_unchanged(sel, lambda s: s.load_state_dict({"state": "text"}), InvalidArgumentError, "bytes")
    _fails_unchanged(sel, lambda s: s.load_state_dict({}), InvalidArgumentError, "state")


def test_file_errors(tmp_path):
    sel = _trained()
    missing = tmp_path / "missing.bin"
    with pytest.raises(PromptSelIOError, match="missing.bin") as info:
        promptsel.Selector.load(missing)
    assert isinstance(info.value, OSError) and info.value.code == errors.E_IO
    with pytest.raises(PromptSelIOError, match="regular file"):
        promptsel.Selector.load(tmp_path)
    with pytest.raises(PromptSelIOError):
        sel.save(tmp_path / "no" / "such" / "dir" / "x.bin")
    with pytest.raises(PromptSelIOError):
        sel.save(tmp_path)  # a directory as the path
    with pytest.raises(InvalidArgumentError, match="empty"):
        sel.save("")
    with pytest.raises(InvalidArgumentError, match="NUL"):
        sel.save(str(tmp_path / "a\0b"))
    assert sorted(p.name for p in tmp_path.iterdir()) == []


@pytest.mark.parametrize("content, match", [(b"", "truncated"), (b"garbage" * 10, "magic")])
def test_loading_a_corrupt_file_names_it(tmp_path, content, match):
    path = tmp_path / "bad.bin"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match=match) as info:
        promptsel.Selector.load(path)
    assert "bad.bin" in str(info.value)


def test_bit_flipped_file(tmp_path):
    path = tmp_path / "ckpt.bin"
    _trained().save(path)
    data = bytearray(path.read_bytes())
    data[-10] ^= 1
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="checksum"):
        promptsel.Selector.load(path)


# ---- raw C calls with NULL pointers and wrapped sizes (in a subprocess) ----------------

RAW_CALLS = r"""
import ctypes, json
import numpy as np
from promptsel import _native

raw = ctypes.CDLL(_native.lib._name)  # fresh function objects: no argtypes, no errcheck
raw.promptsel_last_error.restype = ctypes.c_char_p
sz, ref = ctypes.c_size_t, ctypes.byref
NULL = None
SIZE_MAX = sz(2**64 - 1)
results = {}

def call(name, fn, *args):
    results[name] = [getattr(raw, fn)(*args), raw.promptsel_last_error() is not None]

buf = ctypes.create_string_buffer(4096)
call("methods NULL out_len", "promptsel_methods", buf, sz(4096), NULL)
call("methods cap small", "promptsel_methods", buf, sz(2), ref(sz()))
call("describe NULL method", "promptsel_method_describe", buf, sz(4096), ref(sz()), NULL)
call("describe bad method", "promptsel_method_describe", buf, sz(4096), ref(sz()), b"ppo")
call("describe gps", "promptsel_method_describe", buf, sz(4096), ref(sz()), b"gps")
call("describe ok", "promptsel_method_describe", buf, sz(4096), ref(sz()), b"mopps")
h = ctypes.c_void_p()
call("create NULL out", "promptsel_selector_create", NULL, b"mopps", b"")
call("create NULL method", "promptsel_selector_create", ref(h), NULL, b"")
call("create unknown key", "promptsel_selector_create", ref(h), b"mopps", b"seeed=1")
call("create bad strategy", "promptsel_selector_create", ref(h), b"mopps", b"strategy=77")
call("create ok", "promptsel_selector_create", ref(h), b"mopps", NULL)

ids = np.array([5, 6, 7], dtype=np.int64)
ip = ids.ctypes.data_as(ctypes.c_void_p)
pos = np.zeros(3, dtype=np.int64); pp = pos.ctypes.data_as(ctypes.c_void_p)
probs = np.zeros(48); qp = probs.ctypes.data_as(ctypes.c_void_p)
n = sz()
call("count NULL out", "promptsel_selector_count", NULL, h)
call("count NULL handle", "promptsel_selector_count", ref(n), NULL)
call("select NULL positions", "promptsel_selector_select",
     NULL, NULL, NULL, sz(3), ref(n), h, ip, sz(3), sz(2))
call("select NULL count", "promptsel_selector_select",
     pp, NULL, NULL, sz(3), NULL, h, ip, sz(3), sz(2))
call("select NULL ids", "promptsel_selector_select",
     pp, NULL, NULL, sz(3), ref(n), h, NULL, sz(3), sz(2))
call("select cap small", "promptsel_selector_select",
     pp, NULL, NULL, sz(1), ref(n), h, ip, sz(3), sz(2))
call("select n wrapped", "promptsel_selector_select",
     pp, NULL, NULL, sz(3), ref(n), h, ip, SIZE_MAX, sz(2))
call("select batch wrapped", "promptsel_selector_select",
     pp, NULL, NULL, SIZE_MAX, ref(n), h, ip, sz(3), SIZE_MAX)
call("select NULL handle", "promptsel_selector_select",
     pp, NULL, NULL, sz(3), ref(n), NULL, ip, sz(3), sz(2))
call("select ok, NULL scores", "promptsel_selector_select",
     pp, NULL, NULL, sz(3), ref(n), h, ip, sz(3), sz(2))
call("select ok, with state", "promptsel_selector_select",
     pp, NULL, qp, sz(3), ref(n), h, ip, sz(3), sz(2))
call("update NULL arrays", "promptsel_selector_update", h, NULL, NULL, NULL, sz(5))
call("update n wrapped", "promptsel_selector_update", h, ip, ip, ip, SIZE_MAX)
call("update empty", "promptsel_selector_update", h, NULL, NULL, NULL, sz(0))
call("predict NULL out", "promptsel_selector_predict", NULL, sz(3), h, ip, sz(3))
call("get_state NULL out", "promptsel_selector_get_state", NULL, sz(6), h, ip, sz(3), sz(0), sz(2))
call("get_state cap small", "promptsel_selector_get_state", qp, sz(5), h, ip, sz(3), sz(0), sz(2))
call("get_state columns wrapped", "promptsel_selector_get_state", qp, sz(6), h, ip, sz(3), SIZE_MAX, sz(2))
call("get_state columns beyond", "promptsel_selector_get_state", qp, sz(9), h, ip, sz(3), sz(1), sz(2))
call("ids NULL out_len", "promptsel_selector_ids", NULL, sz(0), NULL, h)
call("ids cap 0", "promptsel_selector_ids", NULL, sz(0), ref(n), h)
results["ids needed"] = n.value
call("serialize NULL out_len", "promptsel_selector_serialize", NULL, sz(0), NULL, h)
call("serialize size query", "promptsel_selector_serialize", NULL, sz(0), ref(n), h)
results["serialize needed"] = n.value
call("serialize NULL out", "promptsel_selector_serialize", NULL, sz(10**6), ref(n), h)
call("deserialize NULL data", "promptsel_selector_deserialize", h, NULL, sz(10))
call("deserialize no bytes", "promptsel_selector_deserialize", h, NULL, sz(0))
call("from_bytes NULL out", "promptsel_selector_from_bytes", NULL, ip, sz(24))
call("save NULL path", "promptsel_selector_save", h, NULL)
call("save NULL handle", "promptsel_selector_save", NULL, b"/tmp/x")
call("load NULL out", "promptsel_selector_load", NULL, b"/tmp/x")
call("load NULL path", "promptsel_selector_load", ref(h), NULL)
call("warm_start NULL", "promptsel_selector_warm_start", h, NULL, NULL, NULL, sz(2), ctypes.c_double(3.0))
call("set_state NULL", "promptsel_selector_set_state", h, NULL, NULL, sz(2))
call("metrics on mopps", "promptsel_selector_metrics", qp, sz(48), ref(n), h, ctypes.c_int(0))
call("metrics NULL out_len", "promptsel_selector_metrics", qp, sz(48), NULL, h, ctypes.c_int(0))
call("metrics NULL handle", "promptsel_selector_metrics", qp, sz(48), ref(n), NULL, ctypes.c_int(1))
call("prior NULL handle", "promptsel_selector_prior", qp, sz(48), NULL)
call("write_atomic NULL path", "promptsel_file_write_atomic", NULL, ip, sz(3))

d = ctypes.c_void_p()
call("create dps", "promptsel_selector_create", ref(d), b"dps", b"transition_decay=0.5")
call("dps get_state NULL out", "promptsel_selector_get_state", NULL, sz(48), d, ip, sz(3), sz(0), sz(16))
call("dps get_state cap small", "promptsel_selector_get_state", qp, sz(47), d, ip, sz(3), sz(0), sz(16))
call("dps get_state beliefs", "promptsel_selector_get_state", qp, sz(9), d, ip, sz(3), sz(0), sz(3))
call("dps set_state NULL values", "promptsel_selector_set_state", d, ip, NULL, sz(3))
call("dps set_state n wrapped", "promptsel_selector_set_state", d, ip, ip, SIZE_MAX)
call("dps metrics cap small", "promptsel_selector_metrics", qp, sz(3), ref(n), d, ctypes.c_int(0))
call("dps warm_start", "promptsel_selector_warm_start", d, ip, qp, qp, sz(3), ctypes.c_double(3.0))
raw.promptsel_selector_free(NULL)
raw.promptsel_selector_free(h)
raw.promptsel_selector_free(d)
print(json.dumps(results))
"""

RAW_EXPECTED = {
    "methods NULL out_len": -1, "methods cap small": -2, "describe NULL method": -1, "describe bad method": -1,
    "describe gps": 0, "describe ok": 0,
    "create NULL out": -1, "create NULL method": -1, "create unknown key": -1, "create bad strategy": -1,
    "create ok": 0, "count NULL out": -1, "count NULL handle": -1, "select NULL positions": -1,
    "select NULL count": -1, "select NULL ids": -1, "select cap small": -2, "select n wrapped": -1,
    "select batch wrapped": -1, "select NULL handle": -1, "select ok, NULL scores": 0, "select ok, with state": 0,
    "update NULL arrays": -1, "update n wrapped": -1, "update empty": 0, "predict NULL out": -1,
    "get_state NULL out": -1, "get_state cap small": -2, "get_state columns wrapped": -1,
    "get_state columns beyond": -1, "dps get_state beliefs": 0,
    "ids NULL out_len": -1, "ids cap 0": -2, "serialize NULL out_len": -1, "serialize size query": -2,
    "serialize NULL out": -1, "deserialize NULL data": -1, "deserialize no bytes": -6, "from_bytes NULL out": -1,
    "save NULL path": -1, "save NULL handle": -1, "load NULL out": -1, "load NULL path": -1,
    "warm_start NULL": -1, "set_state NULL": -1, "metrics on mopps": 0, "metrics NULL out_len": -1,
    "metrics NULL handle": -1, "prior NULL handle": -1, "write_atomic NULL path": -1, "create dps": 0,
    "dps get_state NULL out": -1, "dps get_state cap small": -2, "dps set_state NULL values": -1,
    "dps set_state n wrapped": -1, "dps metrics cap small": -2, "dps warm_start": -4,
}


def test_raw_c_calls_with_null_pointers_return_codes_not_crashes(run_python):
    r = run_python(RAW_CALLS)
    assert r.returncode == 0, f"the interpreter died ({r.returncode}): {r.stderr[-2000:]}"
    results = json.loads(r.stdout)
    assert results.pop("ids needed") == 3
    assert results.pop("serialize needed") > 24
    assert {name: rc for name, (rc, _) in results.items()} == RAW_EXPECTED
    for name, (rc, has_message) in results.items():
        assert has_message == (rc != 0), f"{name}: last_error {'missing' if rc else 'left set'}"
