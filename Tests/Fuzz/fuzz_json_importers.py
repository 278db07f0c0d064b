"""Atheris (libFuzzer) harness over the reference-file importers of promptsel.formats:

    import_index_score    MoPPS index_score.json   {"<id>": [alpha, beta], ...}
    warm_start_from_json  MoPPS offline results    {"<id>": [0/1, ...], ...}
    import_hmm_params     DPS hmm_params.json      alphas, pis, pis_before, sampled_times, ...

Every input is written to a file and given to each importer, on a trained selector
of the importer's method. The contract checked (formats.py's docstring: "a file that
cannot be trusted raises CheckpointError and changes nothing"):

  - an importer raises nothing but promptsel.PromptSelError subclasses: RecursionError,
    bare ValueError, OverflowError, TypeError, KeyError, ... are findings;
  - a rejected import leaves the selector's to_bytes() unchanged;
  - an accepted import leaves a selector whose checkpoint loads again.

Run as a libFuzzer binary (python fuzz_json_importers.py [libFuzzer flags] [corpus
dirs or files]). With PROMPTSEL_FUZZ_FINDINGS=<dir> it keeps going after a finding:
each distinct one (importer, exception type, innermost promptsel frame) is saved
once as <dir>/<signature>.json with a .txt traceback beside it, and the run ends
normally (the caller fails on a non-empty directory). Without it, the first finding
raises, and libFuzzer saves the input as a crash artifact, as usual.

A structure-aware mutator (custom_mutator) parses the JSON and changes one node:
numbers to NaN/inf/1e308/-0/huge ints, lists and objects grown, shrunk or replaced
by other types, keys respelled, sections swapped, values nested 1000+ levels deep.
"""

import json
import math
import os
import random
import sys
import tempfile
import traceback

import atheris

with atheris.instrument_imports(include=["promptsel"]):
    import promptsel
    from promptsel import formats

import numpy as np

FINDINGS = os.environ.get("PROMPTSEL_FUZZ_FINDINGS")
TMP = tempfile.mkdtemp(prefix="promptsel-fuzz-json-")
PATH = os.path.join(TMP, "input.json")


def _trained(method, seed):
    sel = promptsel.Selector(method, seed=seed)
    pool = np.arange(10, dtype=np.int64)
    for step in range(4):
        pos, _ = sel.select(pool, 4)
        sel.update(pool[pos], [(step + i) % 5 / 4 for i in range(4)], rollouts=8)
    return sel.to_bytes()


BASE = {"mopps": _trained("mopps", 1), "dps": _trained("dps", 2)}
IMPORTERS = (
    ("import_index_score", "mopps", lambda sel, path: formats.import_index_score(sel, path)),
    ("warm_start_from_json", "mopps", lambda sel, path: formats.warm_start_from_json(sel, path, 3.0)),
    ("import_hmm_params", "dps", lambda sel, path: formats.import_hmm_params(sel, path)),
)


class Finding(Exception):
    """A broken contract that is not an exception of the importer itself."""


def _signature(exc):
    frames = traceback.extract_tb(exc.__traceback__)
    inner = [f for f in frames if f"{os.sep}promptsel{os.sep}" in f.filename] or frames
    where = f"{os.path.basename(inner[-1].filename)}:{inner[-1].lineno}" if inner else "?"
    # One finding per exception type and place: the three importers share read_json_object.
    return f"{type(exc).__name__}-{where}".replace(os.sep, "_").replace(":", "-")


def _report(importer, exc, data):
    if not FINDINGS:
        raise exc
    os.makedirs(FINDINGS, exist_ok=True)
    sig = _signature(exc)
    base = os.path.join(FINDINGS, sig)
    if os.path.exists(base + ".json"):
        if len(data) >= os.path.getsize(base + ".json"):
            return
    # Keep the smallest input per signature.
    with open(base + ".json", "wb") as f:
        f.write(data)
    with open(base + ".txt", "w") as f:
        f.write(f"{importer}: {type(exc).__name__}: {exc}\n\n")
        f.write("".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))
    if not os.path.exists(base + ".reported"):
        open(base + ".reported", "w").close()
        print(f"\n==promptsel-fuzz== FINDING {sig}: {type(exc).__name__}: {str(exc)[:300]}", file=sys.stderr)


def TestOneInput(data):
    with open(PATH, "wb") as f:
        f.write(data)
    for name, method, run in IMPORTERS:
        sel = promptsel.Selector.from_bytes(BASE[method])
        before = sel.to_bytes()
        try:
            try:
                run(sel, PATH)
            except promptsel.PromptSelError as e:
                if sel.to_bytes() != before:
                    raise Finding(f"{name} raised {type(e).__name__} ({e}) but changed the selector") from None
            else:
                after = sel.to_bytes()
                try:
                    promptsel.Selector.from_bytes(after)
                except promptsel.PromptSelError as e:
                    raise Finding(f"{name} accepted a file that leaves a selector whose checkpoint "
                                  f"does not load: {e}") from None
        except Exception as e:  # noqa: BLE001 - anything else is what we are looking for
            _report(name, e, data)
        finally:
            sel.close()


# ---- Structure-aware mutation -----------------------------------------------------

_VALUES = [
    0, -0.0, 1, -1, 0.5, 2, 3, 1e-12, 1e-13, 1e15, 1.0000000000000002e15, 1e16, 1e308, -1e308, 5e-324,
    float("nan"), float("inf"), float("-inf"), 2**31 - 1, 2**31, 2**32 - 1, 2**32, 2**53 + 1, 2**63 - 1,
    2**63, 2**64 - 1, 2**64, 10**30, 10**308, 10**309, 10**400, True, False, None, "", "1", "0.5", "abc",
    "NaN", [], {}, [1, 2, 3], [0, 1], [[1, 0, 0], [0, 1, 0], [0, 0, 1]], [[1, 1, 1]] * 3, {"a": 1}, [1] * 50,
]
_KEYS = [
    "0", "1", "-1", "01", "+1", " 1", "1 ", "1.0", "1e3", "-0", "0x1", "9223372036854775807",
    "9223372036854775808", "-9223372036854775808", "-9223372036854775809", "99999999999999999999",
    "\u0663", "\uff11", "", "alphas", "pis", "pis_before", "sampled_times", "num_states", "prior_alpha",
]
_SECTIONS = ["alphas", "pis", "pis_before", "sampled_times", "num_states", "prior_alpha"]
_DEEP = "\u0000deep\u0000"


def _nodes(doc, limit=4000):
    """(container, key) of every node under the root, breadth first."""
    out, queue = [], [doc]
    while queue and len(out) < limit:
        c = queue.pop(0)
        items = c.items() if isinstance(c, dict) else enumerate(c) if isinstance(c, list) else ()
        for k, v in items:
            out.append((c, k))
            if isinstance(v, (dict, list)):
                queue.append(v)
    return out


def _mutate_value(rng, v):
    if isinstance(v, bool) or v is None or isinstance(v, str):
        return rng.choice(_VALUES)
    if isinstance(v, (int, float)):
        op = rng.randrange(6)
        if op == 0 and isinstance(v, float) and math.isfinite(v):
            return math.nextafter(v, rng.choice([math.inf, -math.inf]))
        if op == 1:
            return -v
        if op == 2:
            return v * rng.choice([2, 10, 1e10])
        if op == 3:
            return float(v) if isinstance(v, int) else (int(v) if math.isfinite(v) else v)
        return rng.choice(_VALUES)
    if isinstance(v, list):
        op = rng.randrange(7)
        if op == 0 and v:
            return v[:-1]
        if op == 1 and v:
            return v + [rng.choice(v)]
        if op == 2:
            return v + [rng.choice(_VALUES)]
        if op == 3:
            return [v]
        if op == 4:
            return []
        if op == 5 and v:
            return v[:1] * rng.choice([2, 3, 100])
        return rng.choice(_VALUES)
    if isinstance(v, dict):
        v = dict(v)
        op = rng.randrange(5)
        if op == 0 and v:
            del v[rng.choice(list(v))]
        elif op == 1 and v:
            k = rng.choice(list(v))
            v[rng.choice(_KEYS)] = v.pop(k)
        elif op == 2:
            v[rng.choice(_KEYS)] = rng.choice(list(v.values())) if v and rng.random() < 0.5 else rng.choice(_VALUES)
        elif op == 3:
            return {}
        else:
            return rng.choice(_VALUES)
        return v
    return rng.choice(_VALUES)


def custom_mutator(data, max_size, seed):
    try:
        return _structured_mutation(data, max_size, seed)
    except (ValueError, OverflowError, RecursionError, TypeError):  # e.g. float(10**400) in _mutate_value
        return atheris.Mutate(data, max_size)


def _structured_mutation(data, max_size, seed):
    rng = random.Random(seed)
    if rng.random() < 0.2:
        return atheris.Mutate(data, max_size)
    try:
        doc = json.loads(data)
    except Exception:  # noqa: BLE001 - not JSON (or too deep): bytes-level mutation
        return atheris.Mutate(data, max_size)
    op = rng.randrange(10)
    nodes = _nodes(doc)
    if op == 0 or not nodes:
        doc = _mutate_value(rng, doc)
    elif op == 1 and isinstance(doc, dict):
        # Swap or copy whole sections (pis <-> alphas, a section replaced by another's ids).
        a, b = rng.choice(_SECTIONS), rng.choice(_SECTIONS)
        if a in doc or b in doc:
            doc[a], doc[b] = doc.get(b), doc.get(a)
            doc = {k: v for k, v in doc.items() if v is not None or rng.random() < 0.5}
    elif op == 2:
        c, k = rng.choice(nodes)
        c[k] = _DEEP
    else:
        for _ in range(1 + (rng.random() < 0.2) * rng.randrange(1, 4)):
            c, k = rng.choice(nodes)
            c[k] = _mutate_value(rng, c[k])
    try:
        out = json.dumps(doc)
    except (ValueError, OverflowError, RecursionError):
        return atheris.Mutate(data, max_size)
    marker = json.dumps(_DEEP)
    if marker in out:
        depth = rng.choice([50, 500, 999, 1000, 3000, 20000])
        open_, close = ("[", "]") if rng.random() < 0.6 else ('{"a":', "}")
        out = out.replace(marker, open_ * depth + "0" + close * depth, 1)
    out = out.encode()
    if len(out) > max_size:
        return atheris.Mutate(data, max_size)
    return out


def custom_crossover(data1, data2, max_out, seed):
    rng = random.Random(seed)
    try:
        a, b = json.loads(data1), json.loads(data2)
    except Exception:  # noqa: BLE001
        return data1[: max_out // 2] + data2[: max_out - min(len(data1), max_out // 2)]
    if isinstance(a, dict) and isinstance(b, dict) and b:
        k = rng.choice(list(b))
        a[k] = b[k]
    else:
        a = [a, b]
    try:
        out = json.dumps(a).encode()
    except (ValueError, OverflowError, RecursionError):
        return data1[:max_out]
    return out[:max_out]


def main():
    atheris.Setup(sys.argv, TestOneInput, custom_mutator=custom_mutator, custom_crossover=custom_crossover)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
