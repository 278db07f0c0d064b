"""The bad-input table: every exported C function and every Python entry point, called
as a hostile or careless user would (NULL, zero and huge sizes, sizes wrapped from
negative ints, NaN and infinities, rates outside [0, 1], rollouts 0, a batch larger
than the pool, wrong shapes, unknown names, use after close). Each call must return its
documented code with a message, and leave the serialized state byte-identical.
`make reliability` prints the table's size."""

import json
import re

import numpy as np
import pytest

import promptsel
from promptsel import (CheckpointError, InvalidArgumentError, OutOfRangeError, PromptSelError, PromptSelIOError,
                       UnsupportedError)

from conftest import HEADER

# ---- the C table (in a subprocess: a crash must not take the suite with it) -----------

C_TABLE = r'''
import ctypes, json, numpy as np
from promptsel import _native
raw = ctypes.CDLL(str(_native.library_path()))  # fresh functions: no argtypes, no errcheck
raw.promptsel_last_error.restype = ctypes.c_char_p
raw.promptsel_status_string.restype = ctypes.c_char_p
raw.promptsel_selector_method.restype = ctypes.c_char_p
raw.promptsel_version_string.restype = ctypes.c_char_p
sz, ref, NULL = ctypes.c_size_t, ctypes.byref, None
HUGE, WRAPPED = sz(2**62), sz(2**64 - 1)  # a huge size, and -1 as size_t
NAN, INF = ctypes.c_double(float("nan")), ctypes.c_double(float("inf"))

def handle(method, params):
    h = ctypes.c_void_p()
    assert raw.promptsel_selector_create(ref(h), method, params) == 0
    ids = np.arange(40, dtype=np.int64)
    pos = np.zeros(8, dtype=np.int64)
    n = sz()
    raw.promptsel_selector_select(pos.ctypes.data_as(ctypes.c_void_p), NULL, NULL, sz(8), ref(n), h,
                                  ids.ctypes.data_as(ctypes.c_void_p), sz(40), sz(8))
    rates = np.full(8, 0.5); ks = np.full(8, 8, dtype=np.int32)
    raw.promptsel_selector_update(h, pos.ctypes.data_as(ctypes.c_void_p), rates.ctypes.data_as(ctypes.c_void_p),
                                  ks.ctypes.data_as(ctypes.c_void_p), sz(8))
    return h

def state(h):
    need = sz()
    raw.promptsel_selector_serialize(NULL, sz(0), ref(need), h)
    buf = np.zeros(need.value, dtype=np.uint8)
    assert raw.promptsel_selector_serialize(buf.ctypes.data_as(ctypes.c_void_p), need, ref(need), h) == 0
    return buf.tobytes()

H = {"mopps": handle(b"mopps", b"seed=1"), "dps": handle(b"dps", b"seed=1 transition_decay=0.5")}
def p(a): return a.ctypes.data_as(ctypes.c_void_p)
ids3 = np.array([1, 2, 3], dtype=np.int64)
rates = {"ok": np.array([0.5, 0.5, 0.5]), "nan": np.array([0.5, np.nan, 0.5]), "inf": np.array([0.5, np.inf, 0.5]),
         "-inf": np.array([-np.inf, 0.5, 0.5]), "1.01": np.array([0.5, 1.01, 0.5]), "neg": np.array([-0.01, 0.5, 0.5])}
ks = {"ok": np.full(3, 8, dtype=np.int32), "0": np.array([8, 0, 8], dtype=np.int32),
      "neg": np.array([8, -1, 8], dtype=np.int32), "big": np.array([8, 2**20 + 1, 8], dtype=np.int32)}
out = np.zeros(64); pos = np.zeros(8, dtype=np.int64); n = sz()
text = ctypes.create_string_buffer(4096)
good = state(H["dps"]); goodp = np.frombuffer(good, dtype=np.uint8)
dps_rows = np.tile(np.array([1/3, 1/3, 1/3] + [1.0] * 9 + [1/3, 1/3, 1/3, 0.0]), 3)
bad_rows = dps_rows.copy(); bad_rows[1] = np.nan
mopps_rows = np.array([1.0, 1.0, 2.0, 0.0, 3.0, 1.0])
offs = np.array([0, 2, 5], dtype=np.uintp); bad_offs = np.array([0, 3, 2], dtype=np.uintp)

CASES = [
    # (name, method or None, function, args(h) -> tuple)
    ("create NULL out", None, "promptsel_selector_create", lambda h: (NULL, b"mopps", b"")),
    ("create NULL method", None, "promptsel_selector_create", lambda h: (ref(ctypes.c_void_p()), NULL, b"")),
    ("create unknown method", None, "promptsel_selector_create", lambda h: (ref(ctypes.c_void_p()), b"mopp", b"")),
    ("create method case", None, "promptsel_selector_create", lambda h: (ref(ctypes.c_void_p()), b"GPS", b"")),
    ("create gps bad dim", None, "promptsel_selector_create", lambda h: (ref(ctypes.c_void_p()), b"gps", b"dim=2048")),
    ("create unknown key", None, "promptsel_selector_create", lambda h: (ref(ctypes.c_void_p()), b"mopps", b"tagret=1")),
    ("create NaN value", None, "promptsel_selector_create", lambda h: (ref(ctypes.c_void_p()), b"mopps", b"decay=nan")),
    ("create inf value", None, "promptsel_selector_create", lambda h: (ref(ctypes.c_void_p()), b"dps", b"entropy_weight=inf")),
    ("create out of range", None, "promptsel_selector_create", lambda h: (ref(ctypes.c_void_p()), b"mopps", b"target=1.5")),
    ("create lower > upper", None, "promptsel_selector_create", lambda h: (ref(ctypes.c_void_p()), b"mopps", b"lower=0.9")),
    ("create negative seed", None, "promptsel_selector_create", lambda h: (ref(ctypes.c_void_p()), b"mopps", b"seed=-1")),
    ("create no value", None, "promptsel_selector_create", lambda h: (ref(ctypes.c_void_p()), b"mopps", b"seed")),
    ("methods NULL out_len", None, "promptsel_methods", lambda h: (text, sz(4096), NULL)),
    ("methods small", None, "promptsel_methods", lambda h: (text, sz(3), ref(n))),
    ("methods wrapped cap", None, "promptsel_methods", lambda h: (text, WRAPPED, ref(n))),
    ("describe NULL", None, "promptsel_method_describe", lambda h: (text, sz(4096), ref(n), NULL)),
    ("describe unknown", None, "promptsel_method_describe", lambda h: (text, sz(4096), ref(n), b"ppo")),
    ("describe NULL out", None, "promptsel_method_describe", lambda h: (NULL, sz(4096), ref(n), b"dps")),
    ("params NULL handle", None, "promptsel_selector_params", lambda h: (text, sz(4096), ref(n), NULL)),
    ("params small", "mopps", "promptsel_selector_params", lambda h: (text, sz(5), ref(n), h)),
    ("count NULL out", "mopps", "promptsel_selector_count", lambda h: (NULL, h)),
    ("count NULL handle", None, "promptsel_selector_count", lambda h: (ref(n), NULL)),
    ("memory NULL handle", None, "promptsel_selector_memory", lambda h: (ref(n), ref(n), NULL)),
    ("ids NULL out_len", "mopps", "promptsel_selector_ids", lambda h: (p(pos), sz(8), NULL, h)),
    ("ids small", "dps", "promptsel_selector_ids", lambda h: (p(pos), sz(3), ref(n), h)),
    ("ids wrapped cap", "dps", "promptsel_selector_ids", lambda h: (p(pos), WRAPPED, ref(n), h)),
    ("state_width NULL", "dps", "promptsel_selector_state_width", lambda h: (NULL, h)),
    ("select NULL handle", None, "promptsel_selector_select", lambda h: (p(pos), NULL, NULL, sz(8), ref(n), NULL, p(ids3), sz(3), sz(2))),
    ("select NULL ids", "mopps", "promptsel_selector_select", lambda h: (p(pos), NULL, NULL, sz(8), ref(n), h, NULL, sz(3), sz(2))),
    ("select NULL positions", "dps", "promptsel_selector_select", lambda h: (NULL, NULL, NULL, sz(8), ref(n), h, p(ids3), sz(3), sz(2))),
    ("select NULL count", "mopps", "promptsel_selector_select", lambda h: (p(pos), NULL, NULL, sz(8), NULL, h, p(ids3), sz(3), sz(2))),
    ("select empty pool", "mopps", "promptsel_selector_select", lambda h: (p(pos), NULL, NULL, sz(8), ref(n), h, p(ids3), sz(0), sz(1))),
    ("select batch 0", "dps", "promptsel_selector_select", lambda h: (p(pos), NULL, NULL, sz(8), ref(n), h, p(ids3), sz(3), sz(0))),
    ("select batch > pool", "mopps", "promptsel_selector_select", lambda h: (p(pos), NULL, NULL, sz(8), ref(n), h, p(ids3), sz(3), sz(4))),
    ("select huge pool", "dps", "promptsel_selector_select", lambda h: (p(pos), NULL, NULL, sz(8), ref(n), h, p(ids3), HUGE, sz(2))),
    ("select wrapped pool", "mopps", "promptsel_selector_select", lambda h: (p(pos), NULL, NULL, sz(8), ref(n), h, p(ids3), WRAPPED, sz(2))),
    ("select wrapped batch", "dps", "promptsel_selector_select", lambda h: (p(pos), NULL, NULL, WRAPPED, ref(n), h, p(ids3), sz(3), WRAPPED)),
    ("select cap small", "mopps", "promptsel_selector_select", lambda h: (p(pos), NULL, NULL, sz(1), ref(n), h, p(ids3), sz(3), sz(2))),
    ("update NULL handle", None, "promptsel_selector_update", lambda h: (NULL, p(ids3), p(rates["ok"]), p(ks["ok"]), sz(3))),
    ("update NULL arrays", "mopps", "promptsel_selector_update", lambda h: (h, NULL, NULL, NULL, sz(3))),
    ("update NULL rates", "dps", "promptsel_selector_update", lambda h: (h, p(ids3), NULL, p(ks["ok"]), sz(3))),
    ("update wrapped n", "mopps", "promptsel_selector_update", lambda h: (h, p(ids3), p(rates["ok"]), p(ks["ok"]), WRAPPED)),
    ("update huge n", "dps", "promptsel_selector_update", lambda h: (h, p(ids3), p(rates["ok"]), p(ks["ok"]), HUGE)),
] + [
    (f"update rate {k} ({m})", m, "promptsel_selector_update", (lambda k: lambda h: (h, p(ids3), p(rates[k]), p(ks["ok"]), sz(3)))(k))
    for k in ("nan", "inf", "-inf", "1.01", "neg") for m in ("mopps", "dps")
] + [
    (f"update rollouts {k} ({m})", m, "promptsel_selector_update", (lambda k: lambda h: (h, p(ids3), p(rates["ok"]), p(ks[k]), sz(3)))(k))
    for k in ("0", "neg", "big") for m in ("mopps", "dps")
] + [
    ("shuffle NULL handle", None, "promptsel_selector_shuffle", lambda h: (NULL, p(pos), sz(3))),
    ("shuffle NULL values", "mopps", "promptsel_selector_shuffle", lambda h: (h, NULL, sz(3))),
    ("shuffle wrapped n", "dps", "promptsel_selector_shuffle", lambda h: (h, p(pos), WRAPPED)),
    ("shuffle huge n", "mopps", "promptsel_selector_shuffle", lambda h: (h, p(pos), HUGE)),
    ("predict NULL out", "mopps", "promptsel_selector_predict", lambda h: (NULL, sz(3), h, p(ids3), sz(3))),
    ("predict small", "dps", "promptsel_selector_predict", lambda h: (p(out), sz(2), h, p(ids3), sz(3))),
    ("predict wrapped n", "mopps", "promptsel_selector_predict", lambda h: (p(out), sz(64), h, p(ids3), WRAPPED)),
    ("get_state NULL out", "dps", "promptsel_selector_get_state", lambda h: (NULL, sz(48), h, p(ids3), sz(3), sz(0), sz(16))),
    ("get_state small", "dps", "promptsel_selector_get_state", lambda h: (p(out), sz(47), h, p(ids3), sz(3), sz(0), sz(16))),
    ("get_state columns beyond", "mopps", "promptsel_selector_get_state", lambda h: (p(out), sz(64), h, p(ids3), sz(3), sz(1), sz(2))),
    ("get_state wrapped column", "dps", "promptsel_selector_get_state", lambda h: (p(out), sz(64), h, p(ids3), sz(3), WRAPPED, sz(1))),
    ("prior small", "dps", "promptsel_selector_prior", lambda h: (p(out), sz(15), h)),
    ("prior NULL out", "mopps", "promptsel_selector_prior", lambda h: (NULL, sz(2), h)),
    ("metrics unknown scope", "dps", "promptsel_selector_metrics", lambda h: (p(out), sz(64), ref(n), h, ctypes.c_int(7))),
    ("metrics small", "dps", "promptsel_selector_metrics", lambda h: (p(out), sz(2), ref(n), h, ctypes.c_int(1))),
    ("metrics NULL out_len", "dps", "promptsel_selector_metrics", lambda h: (p(out), sz(64), NULL, h, ctypes.c_int(0))),
    ("set_state NULL values", "dps", "promptsel_selector_set_state", lambda h: (h, p(ids3), NULL, sz(3))),
    ("set_state NaN", "dps", "promptsel_selector_set_state", lambda h: (h, p(ids3), p(bad_rows), sz(3))),
    ("set_state wrapped n", "mopps", "promptsel_selector_set_state", lambda h: (h, p(ids3), p(mopps_rows), WRAPPED)),
    ("set_state zero count", "mopps", "promptsel_selector_set_state", lambda h: (h, p(ids3), p(mopps_rows), sz(3))),
    ("warm_start NULL", "mopps", "promptsel_selector_warm_start", lambda h: (h, NULL, NULL, NULL, sz(2), ctypes.c_double(3.0))),
    ("warm_start NaN weight", "mopps", "promptsel_selector_warm_start", lambda h: (h, p(ids3), p(rates["ok"]), p(rates["ok"]), sz(3), NAN)),
    ("warm_start inf weight", "mopps", "promptsel_selector_warm_start", lambda h: (h, p(ids3), p(rates["ok"]), p(rates["ok"]), sz(3), INF)),
    ("warm_start successes > trials", "mopps", "promptsel_selector_warm_start", lambda h: (h, p(ids3), p(rates["1.01"]), p(rates["ok"]), sz(3), ctypes.c_double(1.0))),
    ("warm_start on dps", "dps", "promptsel_selector_warm_start", lambda h: (h, p(ids3), p(rates["ok"]), p(rates["ok"]), sz(3), ctypes.c_double(1.0))),
    ("serialize NULL out_len", "mopps", "promptsel_selector_serialize", lambda h: (NULL, sz(0), NULL, h)),
    ("serialize small", "dps", "promptsel_selector_serialize", lambda h: (p(out), sz(8), ref(n), h)),
    ("serialize NULL out", "dps", "promptsel_selector_serialize", lambda h: (NULL, sz(10**6), ref(n), h)),
    ("deserialize NULL data", "mopps", "promptsel_selector_deserialize", lambda h: (h, NULL, sz(10))),
    ("deserialize empty", "dps", "promptsel_selector_deserialize", lambda h: (h, NULL, sz(0))),
    ("deserialize truncated", "mopps", "promptsel_selector_deserialize", lambda h: (h, p(goodp), sz(len(good) - 1))),
    ("deserialize huge len", "dps", "promptsel_selector_deserialize", lambda h: (h, p(goodp), HUGE)),
    ("deserialize wrapped len", "mopps", "promptsel_selector_deserialize", lambda h: (h, p(goodp), WRAPPED)),
    ("from_bytes NULL out", None, "promptsel_selector_from_bytes", lambda h: (NULL, p(goodp), sz(len(good)))),
    ("from_bytes garbage", None, "promptsel_selector_from_bytes", lambda h: (ref(ctypes.c_void_p()), p(ids3), sz(24))),
    ("save NULL path", "mopps", "promptsel_selector_save", lambda h: (h, NULL)),
    ("save empty path", "dps", "promptsel_selector_save", lambda h: (h, b"")),
    ("save NULL handle", None, "promptsel_selector_save", lambda h: (NULL, b"/tmp/never")),
    ("save into a missing dir", "dps", "promptsel_selector_save", lambda h: (h, b"/nonexistent/dir/x.bin")),
    ("load NULL out", None, "promptsel_selector_load", lambda h: (NULL, b"/tmp/x")),
    ("load NULL path", None, "promptsel_selector_load", lambda h: (ref(ctypes.c_void_p()), NULL)),
    ("load missing", None, "promptsel_selector_load", lambda h: (ref(ctypes.c_void_p()), b"/nonexistent/x.bin")),
    ("load a directory", None, "promptsel_selector_load", lambda h: (ref(ctypes.c_void_p()), b"/tmp")),
    ("write_atomic NULL path", None, "promptsel_file_write_atomic", lambda h: (NULL, p(goodp), sz(3))),
    ("write_atomic NULL data", None, "promptsel_file_write_atomic", lambda h: (b"/tmp/promptsel-never", NULL, sz(3))),
    ("write_atomic wrapped len", None, "promptsel_file_write_atomic", lambda h: (b"/tmp/promptsel-never", p(goodp), WRAPPED)),
    ("featurize_text NULL out", None, "promptsel_featurize_text", lambda h: (NULL, sz(64), b"ab cd", p(offs), sz(2), sz(8))),
    ("featurize_text dim 0", None, "promptsel_featurize_text", lambda h: (p(fout), sz(64), b"ab cd", p(offs), sz(2), sz(0))),
    ("featurize_text decreasing", None, "promptsel_featurize_text", lambda h: (p(fout), sz(64), b"ab cd", p(bad_offs), sz(2), sz(8))),
    ("featurize_text NULL text", None, "promptsel_featurize_text", lambda h: (p(fout), sz(64), NULL, p(offs), sz(2), sz(8))),
    ("featurize_text small", None, "promptsel_featurize_text", lambda h: (p(fout), sz(15), b"ab cd", p(offs), sz(2), sz(8))),
    ("featurize_text wrapped n", None, "promptsel_featurize_text", lambda h: (p(fout), sz(64), b"ab cd", p(offs), WRAPPED, sz(8))),
    ("featurize_tokens NULL offsets", None, "promptsel_featurize_tokens", lambda h: (p(fout), sz(64), p(ids3), NULL, sz(1), sz(8))),
    ("featurize_tokens huge dim", None, "promptsel_featurize_tokens", lambda h: (p(fout), sz(64), p(ids3), p(offs), sz(2), HUGE)),
    ("set_features on mopps", "mopps", "promptsel_selector_set_features", lambda h: (h, p(ids3), p(fout), sz(3), sz(4))),
    ("set_features NULL handle", None, "promptsel_selector_set_features", lambda h: (NULL, p(ids3), p(fout), sz(3), sz(4))),
    ("feature_dim NULL out", "dps", "promptsel_selector_feature_dim", lambda h: (NULL, h)),
    ("predict_std on dps", "dps", "promptsel_selector_predict_std", lambda h: (p(out), sz(64), h, p(ids3), sz(3))),
    ("predict_std small", "mopps", "promptsel_selector_predict_std", lambda h: (p(out), sz(1), h, p(ids3), sz(3))),
    ("allocate on dps", "dps", "promptsel_selector_allocate", lambda h: (p(pos), p(out), sz(8), h, p(ids3), sz(3), sz(10), sz(0), sz(5))),
    ("allocate budget < floor", "mopps", "promptsel_selector_allocate", lambda h: (p(pos), p(out), sz(8), h, p(ids3), sz(3), sz(2), sz(1), sz(5))),
    ("allocate min > max", "mopps", "promptsel_selector_allocate", lambda h: (p(pos), p(out), sz(8), h, p(ids3), sz(3), sz(10), sz(3), sz(2))),
    ("allocate wrapped budget", "mopps", "promptsel_selector_allocate", lambda h: (p(pos), p(out), sz(8), h, p(ids3), sz(3), WRAPPED, sz(0), sz(2))),
    ("allocate NULL out", "mopps", "promptsel_selector_allocate", lambda h: (NULL, p(out), sz(8), h, p(ids3), sz(3), sz(10), sz(0), sz(5))),
    ("ids_from_strings NULL out", None, "promptsel_ids_from_strings", lambda h: (NULL, sz(8), b"ab cd", sz(5), p(offs), sz(2))),
    ("ids_from_strings NULL bytes", None, "promptsel_ids_from_strings", lambda h: (p(pos), sz(8), NULL, sz(5), p(offs), sz(2))),
    ("ids_from_strings NULL offsets", None, "promptsel_ids_from_strings", lambda h: (p(pos), sz(8), b"ab cd", sz(5), NULL, sz(2))),
    ("ids_from_strings decreasing", None, "promptsel_ids_from_strings", lambda h: (p(pos), sz(8), b"ab cd", sz(5), p(bad_offs), sz(2))),
    ("ids_from_strings end != bytes_len", None, "promptsel_ids_from_strings", lambda h: (p(pos), sz(8), b"ab cd", sz(4), p(offs), sz(2))),
    ("ids_from_strings small", None, "promptsel_ids_from_strings", lambda h: (p(pos), sz(1), b"ab cd", sz(5), p(offs), sz(2))),
    ("ids_from_strings wrapped n", None, "promptsel_ids_from_strings", lambda h: (p(pos), sz(8), b"ab cd", sz(5), p(offs), WRAPPED)),
    ("ids_from_strings wrapped bytes_len", None, "promptsel_ids_from_strings", lambda h: (p(pos), sz(8), b"ab cd", WRAPPED, p(offs), sz(2))),
    ("ids_from_strings huge n", None, "promptsel_ids_from_strings", lambda h: (p(pos), sz(8), b"ab cd", sz(5), p(offs), HUGE)),
]
fout = np.zeros(64, dtype=np.float32)

results = {}
for name, method, fn, args in CASES:
    h = H[method] if method else H["dps"]
    before = {m: state(x) for m, x in H.items()}
    rc = getattr(raw, fn)(*args(h))
    msg = raw.promptsel_last_error()
    results[name] = {"fn": fn, "rc": rc, "message": (msg or b"").decode("utf-8", "replace"),
                     "unchanged": all(state(x) == before[m] for m, x in H.items())}
# The functions that return no status: NULL and unknown inputs are harmless.
raw.promptsel_selector_free(NULL)
results["free NULL"] = {"fn": "promptsel_selector_free", "rc": 0, "message": "", "unchanged": True}
results["method NULL"] = {"fn": "promptsel_selector_method", "rc": int(raw.promptsel_selector_method(NULL) is not None),
                          "message": "", "unchanged": True}
results["status_string unknown"] = {"fn": "promptsel_status_string",
                                    "rc": int(raw.promptsel_status_string(-12345) != b"unknown status"),
                                    "message": "", "unchanged": True}
for fn in ("promptsel_version_number", "promptsel_abi_version", "promptsel_last_error"):
    getattr(raw, fn)()
    results[fn] = {"fn": fn, "rc": 0, "message": "", "unchanged": True}
results["promptsel_version_string"] = {"fn": "promptsel_version_string",
                                       "rc": int(not raw.promptsel_version_string()), "message": "", "unchanged": True}
print(json.dumps(results))
'''

# Expected codes (messages: each must name what was wrong; a substring per case).
E = {"ok": 0, "inv": -1, "small": -2, "range": -3, "unsup": -4, "io": -5, "corrupt": -6, "mem": -8}
C_EXPECTED = {
    "create NULL out": ("inv", "out is NULL"), "create NULL method": ("inv", "method is NULL"),
    "create unknown method": ("inv", "did you mean 'mopps'"), "create method case": ("inv", "unknown method 'GPS'"),
    "create gps bad dim": ("range", "dim must lie in [1, 1024]"),
    "create unknown key": ("inv", "did you mean 'target'"), "create NaN value": ("inv", "finite"),
    "create inf value": ("inv", "finite"), "create out of range": ("range", "target must lie in [0.0, 1.0]"),
    "create lower > upper": ("range", "lower (0.9) must not exceed upper"), "create negative seed": ("inv", "seed"),
    "create no value": ("inv", "key=value"),
    "methods NULL out_len": ("inv", "out_len is NULL"), "methods small": ("small", "bytes"),
    "methods wrapped cap": ("inv", "too large"), "describe NULL": ("inv", "method is NULL"),
    "describe unknown": ("inv", "unknown method 'ppo'"), "describe NULL out": ("inv", "out is NULL"),
    "params NULL handle": ("inv", "handle is NULL"), "params small": ("small", "bytes"),
    "count NULL out": ("inv", "out is NULL"), "count NULL handle": ("inv", "handle is NULL"),
    "memory NULL handle": ("inv", "handle is NULL"), "ids NULL out_len": ("inv", "out_len is NULL"),
    "ids small": ("small", "capacity"), "ids wrapped cap": ("inv", "too large"),
    "state_width NULL": ("inv", "out is NULL"),
    "select NULL handle": ("inv", "handle is NULL"), "select NULL ids": ("inv", "candidate_ids is NULL"),
    "select NULL positions": ("inv", "out_positions is NULL"), "select NULL count": ("inv", "out_count is NULL"),
    "select empty pool": ("inv", "empty"), "select batch 0": ("inv", "batch_size must be >= 1"),
    "select batch > pool": ("inv", "exceeds"), "select huge pool": ("inv", "too large"),
    "select wrapped pool": ("inv", "too large"), "select wrapped batch": ("inv", "too large"),
    "select cap small": ("small", "capacity"), "update NULL handle": ("inv", "handle is NULL"),
    "update NULL arrays": ("inv", "is NULL"), "update NULL rates": ("inv", "success_rate is NULL"),
    "update wrapped n": ("inv", "too large"), "update huge n": ("inv", "too large"),
    **{f"update rate {k} ({m})": (code, what) for m in ("mopps", "dps")
       for k, code, what in (("nan", "inv", "NaN"), ("inf", "range", "outside [0, 1]"),
                             ("-inf", "range", "outside [0, 1]"), ("1.01", "range", "1.01"),
                             ("neg", "range", "-0.01"))},
    **{f"update rollouts {k} ({m})": ("range", "rollouts[1]") for m in ("mopps", "dps") for k in ("0", "neg", "big")},
    "shuffle NULL handle": ("inv", "handle is NULL"), "shuffle NULL values": ("inv", "values is NULL"),
    "shuffle wrapped n": ("inv", "too large"), "shuffle huge n": ("inv", "too large"),
    "predict NULL out": ("inv", "out_mean is NULL"), "predict small": ("small", "capacity"),
    "predict wrapped n": ("inv", "too large"), "get_state NULL out": ("inv", "out is NULL"),
    "get_state small": ("small", "capacity"), "get_state columns beyond": ("inv", "outside the 2 state columns"),
    "get_state wrapped column": ("inv", "too large"), "prior small": ("small", "capacity"),
    "prior NULL out": ("inv", "out is NULL"), "metrics unknown scope": ("inv", "scope"),
    "metrics small": ("small", "metrics need 11"), "metrics NULL out_len": ("inv", "out_len is NULL"),
    "set_state NULL values": ("inv", "values is NULL"), "set_state NaN": ("range", "not a probability vector"),
    "set_state wrapped n": ("inv", "too large"), "set_state zero count": ("range", "alpha and beta must lie in"),
    "warm_start NULL": ("inv", "is NULL"), "warm_start NaN weight": ("inv", "weight must be finite"),
    "warm_start inf weight": ("inv", "weight must be finite"),
    "warm_start successes > trials": ("range", "successes <= trials"),
    "warm_start on dps": ("unsup", "methods with a warm start: mopps"),
    "serialize NULL out_len": ("inv", "out_len is NULL"), "serialize small": ("small", "bytes"),
    "serialize NULL out": ("inv", "out is NULL"), "deserialize NULL data": ("inv", "data is NULL"),
    "deserialize empty": ("corrupt", "truncated"), "deserialize truncated": ("corrupt", "truncated"),
    "deserialize huge len": ("inv", "too large"), "deserialize wrapped len": ("inv", "too large"),
    "from_bytes NULL out": ("inv", "out is NULL"), "from_bytes garbage": ("corrupt", "truncated"),
    "save NULL path": ("inv", "path is NULL"), "save empty path": ("inv", "path is empty"),
    "save NULL handle": ("inv", "handle is NULL"), "save into a missing dir": ("io", "No such file"),
    "load NULL out": ("inv", "out is NULL"), "load NULL path": ("inv", "path is NULL"),
    "load missing": ("io", "cannot open"), "load a directory": ("io", "not a regular file"),
    "write_atomic NULL path": ("inv", "path is NULL"), "write_atomic NULL data": ("inv", "data is NULL"),
    "write_atomic wrapped len": ("inv", "too large"),
    "free NULL": ("ok", ""), "method NULL": ("ok", ""), "status_string unknown": ("ok", ""),
    "promptsel_version_number": ("ok", ""), "promptsel_abi_version": ("ok", ""), "promptsel_last_error": ("ok", ""),
    "promptsel_version_string": ("ok", ""),
    "featurize_text NULL out": ("inv", "out is NULL"), "featurize_text dim 0": ("range", "dim must lie in"),
    "featurize_text decreasing": ("inv", "offsets must"), "featurize_text NULL text": ("inv", "text is NULL"),
    "featurize_text small": ("small", "capacity"), "featurize_text wrapped n": ("inv", "too large"),
    "featurize_tokens NULL offsets": ("inv", "offsets is NULL"), "featurize_tokens huge dim": ("range", "dim"),
    "set_features on mopps": ("unsup", "uses no prompt features"), "set_features NULL handle": ("inv", "handle is NULL"),
    "feature_dim NULL out": ("inv", "out is NULL"), "predict_std on dps": ("unsup", "no predictive"),
    "predict_std small": ("small", "capacity"), "allocate on dps": ("unsup", "no predictive"),
    "allocate budget < floor": ("range", "below min_per"), "allocate min > max": ("inv", "min_per <= max_per"),
    "allocate wrapped budget": ("inv", "too large"), "allocate NULL out": ("inv", "out_counts is NULL"),
    "ids_from_strings NULL out": ("inv", "out_ids is NULL"), "ids_from_strings NULL bytes": ("inv", "bytes is NULL"),
    "ids_from_strings NULL offsets": ("inv", "offsets is NULL"),
    "ids_from_strings decreasing": ("inv", "must not decrease"),
    "ids_from_strings end != bytes_len": ("inv", "must equal the byte length 4"),
    "ids_from_strings small": ("small", "capacity"), "ids_from_strings wrapped n": ("inv", "too large"),
    "ids_from_strings wrapped bytes_len": ("inv", "too large"), "ids_from_strings huge n": ("inv", "too large"),
}


def test_c_table_every_export_refuses_bad_input_with_its_code_and_changes_nothing(run_python):
    r = run_python(C_TABLE, timeout=120)
    assert r.returncode == 0, f"the interpreter died ({r.returncode}): {r.stderr[-3000:]}"
    results = json.loads(r.stdout)
    assert set(results) == set(C_EXPECTED)
    for name, got in results.items():
        code, what = C_EXPECTED[name]
        assert got["rc"] == E[code], f"{name}: {got}"
        assert got["unchanged"], f"{name}: the state changed"
        if code != "ok":
            assert what in got["message"], f"{name}: message {got['message']!r} lacks {what!r}"
    exported = set(re.findall(r"\b(promptsel_[a-z0-9_]+)\s*\(", HEADER.read_text()))
    covered = {got["fn"] for got in results.values()}
    assert exported - covered == set(), f"exports with no bad-input case: {sorted(exported - covered)}"
    print(f"\nbad-input table (C): {len(results)} calls over all {len(exported)} exports, each refused with its "
          f"documented code and message, state byte-identical")


# ---- the Python table --------------------------------------------------------------------

def _trained(method):
    sel = promptsel.Selector(method, seed=4)
    pos, _ = sel.select(np.arange(30), 6)
    sel.update(np.arange(30)[pos], [0, 0.5, 1, 0.25, 0.75, 0.5], 8)
    return sel


PY_TABLE = [
    # (name, methods, call, exception, message substring)
    ("select float ids", "both", lambda s: s.select([1.5, 2.5], 1), InvalidArgumentError, "integer prompt ids"),
    ("select 2-D ids", "both", lambda s: s.select([[1, 2]], 1), InvalidArgumentError, "1-D"),
    ("select uint64 beyond int64", "both", lambda s: s.select(np.array([2**63], dtype=np.uint64), 1), OutOfRangeError, "int64"),
    ("select batch > pool", "both", lambda s: s.select([1, 2], 3), InvalidArgumentError, "exceeds"),
    ("select batch 0", "both", lambda s: s.select([1, 2], 0), InvalidArgumentError, "batch_size"),
    ("select negative batch", "both", lambda s: s.select([1, 2], -1), InvalidArgumentError, ">= 0"),
    ("select empty pool", "both", lambda s: s.select([], 1), InvalidArgumentError, "empty"),
    ("select bool batch", "both", lambda s: s.select([1, 2], True), InvalidArgumentError, "integer"),
    ("update NaN", "both", lambda s: s.update([1], [np.nan], 8), InvalidArgumentError, "NaN"),
    ("update inf", "both", lambda s: s.update([1], [np.inf], 8), OutOfRangeError, "outside"),
    ("update rate 1.5", "both", lambda s: s.update([1], [1.5], 8), OutOfRangeError, "outside"),
    ("update rollouts 0", "both", lambda s: s.update([1], [0.5], 0), OutOfRangeError, "rollouts"),
    ("update rollouts beyond int32", "both", lambda s: s.update([1], [0.5], 2**31), OutOfRangeError, "int32"),
    ("update lengths differ", "both", lambda s: s.update([1, 2], [0.5], 8), InvalidArgumentError, "lengths differ"),
    ("update rollouts float", "both", lambda s: s.update([1], [0.5], 8.0), InvalidArgumentError, "integer"),
    ("update string rates", "both", lambda s: s.update([1], ["a"], 8), InvalidArgumentError, "real numbers"),
    ("shuffle float values", "both", lambda s: s.shuffle([1.5, 2.5]), InvalidArgumentError, "integer"),
    ("shuffle 2-D values", "both", lambda s: s.shuffle([[1, 2]]), InvalidArgumentError, "1-D"),
    ("shuffle uint64 beyond int64", "both", lambda s: s.shuffle(np.array([2**63], dtype=np.uint64)), OutOfRangeError,
     "int64"),
    ("predict 2-D", "both", lambda s: s.predict([[1]]), InvalidArgumentError, "1-D"),
    ("state unknown column", "both", lambda s: s.state([1], ["nope"]), InvalidArgumentError, "no state column"),
    ("set_state wrong shape", "both", lambda s: s.set_state([1], [[1.0]]), InvalidArgumentError, "shape"),
    ("metrics bad scope", "both", lambda s: s.metrics("every"), InvalidArgumentError, "scope"),
    ("warm_start weight NaN", "mopps", lambda s: s.warm_start([1], [1], [2], np.nan), InvalidArgumentError, "finite"),
    ("warm_start bool weight", "mopps", lambda s: s.warm_start([1], [1], [2], True), InvalidArgumentError, "real"),
    ("warm_start on dps", "dps", lambda s: s.warm_start([1], [1], [2]), UnsupportedError, "mopps"),
    ("posterior on dps", "dps", lambda s: s.posterior([1]), UnsupportedError, "MoPPS"),
    ("state_probs on mopps", "mopps", lambda s: s.state_probs([1]), UnsupportedError, "DPS"),
    ("set_posterior zero", "mopps", lambda s: s.set_posterior([1], [0.0], [1.0]), OutOfRangeError, "alpha"),
    ("set_dps_state shape", "dps", lambda s: s.set_dps_state([1], np.ones((1, 2, 2)), np.ones((1, 3)) / 3,
                                                              np.ones((1, 3)) / 3, [0]), InvalidArgumentError, "shape"),
    ("load_state_dict garbage", "both", lambda s: s.load_state_dict({"state": b"garbage"}), CheckpointError, "truncated"),
    ("load_state_dict not bytes", "both", lambda s: s.load_state_dict({"state": 5}), InvalidArgumentError, "bytes"),
    ("load_state_dict no key", "both", lambda s: s.load_state_dict({}), InvalidArgumentError, "state"),
    ("save NUL in path", "both", lambda s: s.save("a\0b"), InvalidArgumentError, "NUL"),
    ("save missing dir", "both", lambda s: s.save("/nonexistent/dir/x"), PromptSelIOError, "No such file"),
    ("import_reference missing keys", "dps", lambda s: s.import_reference(_write("{}")), CheckpointError, "missing"),
    ("import_reference bad json", "mopps", lambda s: s.import_reference(_write("{")), CheckpointError, "JSON"),
]


def _write(text, _store={}):
    import tempfile
    path = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False)
    path.write(text)
    path.close()
    return path.name


def _cases():
    for name, methods, call, exc, what in PY_TABLE:
        for method in (("mopps", "dps") if methods == "both" else (methods,)):
            yield pytest.param(method, call, exc, what, id=f"{name} ({method})")


@pytest.mark.parametrize("method, call, exc, what", _cases())
def test_python_table_refuses_with_a_promptsel_error_and_changes_nothing(method, call, exc, what):
    sel = _trained(method)
    before = sel.to_bytes()
    with pytest.raises(exc) as info:
        call(sel)
    assert isinstance(info.value, PromptSelError)
    assert what in str(info.value), str(info.value)
    assert sel.to_bytes() == before


AFTER_CLOSE = [
    lambda s: s.select([1, 2], 1), lambda s: s.update([1], [0.5], 8), lambda s: s.predict([1]),
    lambda s: s.shuffle([1, 2]),
    lambda s: s.state([1]), lambda s: s.prior_state(), lambda s: s.set_state([1], [[1.0, 1.0]]),
    lambda s: s.metrics(), lambda s: s.memory(), lambda s: len(s), lambda s: s.ids(), lambda s: s.config,
    lambda s: s.warm_start([1], [1], [2]), lambda s: s.to_bytes(), lambda s: s.state_dict(),
    lambda s: s.load_state_dict({"state": b""}), lambda s: s.save("/tmp/never-written.bin"),
    lambda s: s.export_reference("/tmp/never-written.json"),
]


@pytest.mark.parametrize("call", AFTER_CLOSE)
def test_every_call_after_close_is_refused(call):
    sel = promptsel.Selector("mopps")
    sel.close()
    with pytest.raises(InvalidArgumentError, match="closed"):
        call(sel)


def test_python_table_size():
    cases = sum(2 if m == "both" else 1 for _, m, *_ in PY_TABLE)
    print(f"\nbad-input table (Python): {cases} calls and {len(AFTER_CLOSE)} calls after close, each a "
          f"PromptSelError with the selector byte-identical")
    assert cases >= 50
