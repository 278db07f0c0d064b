"""Writes the fuzzers' seed corpora (run by `make fuzz`, into the build directory).

    python Tests/Fuzz/gen_corpus.py OUT

OUT/checkpoint/  valid checkpoints of every method the library lists, in every
                 strategy and every value of each choice parameter, a non-default
                 value of each real parameter, frozen (no_update), trained a few
                 steps, plus boundary states (counts at the ends of their domains),
                 plus the format-1 fixtures of python/tests/fixtures.
OUT/features/    inputs of fuzz_features (a configuration byte header, then float32
                 rows): ordinary rows, rows at float32's extremes and denormals, zero
                 rows, and rows with one non-finite value, for both methods.
OUT/json/        the reference samplers' files the Python importers read:
                 index_score.json (MoPPS), hmm_params.json (DPS) via
                 Selector.export_reference, and warm-start results {"<id>": [0/1, ...]}.
                 Small hand-made seeds, if any, are copied from Tests/Fuzz/seeds/<kind>/.

Some seeds are refused on load on purpose or by a finding (a boundary state after one
step): the harnesses take refusals as ordinary inputs.

Everything goes through the public promptsel API. Parameters that the Python
keywords spell differently (DPS prior_pi, prior_alpha) are set by name in the
checkpoint's parameter text (the library validates it on from_bytes), so the
generator needs no per-method table of spellings and picks up new methods and
parameters from promptsel.describe().
"""

import argparse
import glob
import hashlib
import json
import os
import shutil
import struct
import tempfile
import zlib

import numpy as np

import promptsel
from promptsel import _native

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def with_params(sel, text):
    """A selector like `sel` (method, generator, prompts) with the parameter text
    `text`: the format-3 frame rewritten, length and CRC-32 recomputed."""
    b = sel.to_bytes()
    magic, version, method, _length = struct.unpack_from("<8sIIQ", b, 0)
    assert magic == b"PSELCKPT" and version == 3, "gen_corpus knows checkpoint format 3"
    (n,) = struct.unpack_from("<I", b, 24)
    t = text.encode()
    body = b[:16] + struct.pack("<Q", 0) + struct.pack("<I", len(t)) + t + b[28 + n:-4]
    body = body[:16] + struct.pack("<Q", len(body) - 24) + body[24:]
    return promptsel.Selector.from_bytes(body + struct.pack("<I", zlib.crc32(body)))


def variants(method):
    """(name, params text) of every strategy, every choice value, a non-default value
    of each real parameter, frozen, and the largest seed."""
    d = promptsel.describe(method)
    out = [("default", "")]
    for name, p in d.params.items():
        if p.type == "choice":
            out += [(f"{name}-{c}", f"{name}={c}") for c in p.choices if c != p.default]
        elif p.type == "real":
            lo, hi = (float(x) for x in p.domain.strip("[]()").split(","))
            v = float(p.default) * 0.9
            if not (lo < v <= hi):
                v = lo + (hi - lo) * 0.25 if hi - lo < 10 else min(hi, max(lo, 3.0))
            out.append((f"{name}-{v:g}", f"{name}={v!r}"))
            # The ends of the domain and just inside them (e.g. a decay of 1 - 1e-10).
            ends = [hi, hi - (hi - lo) * 1e-10, lo + (hi - lo) * 1e-10] + ([] if p.domain.startswith("(") else [lo])
            for e in ends:
                if e != float(p.default) and e != v:
                    out.append((f"{name}-{e!r}", f"{name}={e!r}"))
        elif p.type == "bool":
            out.append((f"{name}-true", f"{name}=true"))
        elif p.type == "uint64":
            out.append((f"{name}-max", f"{name}={2**64 - 1}"))
    # The strategies that use a parameter, with it set.
    if method == "dps":
        out.append(("entropy", "strategy=topk+entropy entropy_weight=0.5 transition_decay=0.9"))
    if method == "mopps":
        out.append(("threshold-band", "strategy=threshold lower=0.2 upper=0.4 decay=0.8"))
    return out


FEATURE_IDS = np.concatenate([np.array([0, 1, 2, 3, 5, 8, 13, 21, 34, 55, -1, 2**63 - 1, -(2**63), 123456789]),
                              np.arange(40), np.arange(900, 910)]).astype(np.int64)


def selector(method, seed):
    """A fresh selector; a feature method (gps, hybrid) gets small features for every
    id the corpus uses, so its states carry the model and the feature rows."""
    if "dim" not in promptsel.describe(method).params:
        return promptsel.Selector(method, seed=seed)
    sel = promptsel.Selector(method, seed=seed, dim=4, rank=4)
    ids = np.unique(FEATURE_IDS)
    sel.set_features(ids, np.random.default_rng(seed).standard_normal((ids.size, 4)))
    return sel


def feature_prefix(method, name):
    """Feature methods keep the corpus's small dim and rank in every variant."""
    if "dim" not in promptsel.describe(method).params or name.startswith(("dim-", "rank-")):
        return ""
    return "dim=4 rank=4 "


def train(sel, steps, pool, rng, batch=4):
    for _ in range(steps):
        pos, _ = sel.select(pool, min(batch, len(pool)))
        rates = rng.choice([0.0, 0.25, 0.5, 0.75, 1.0], size=len(pos))
        sel.update(pool[pos], rates, rollouts=int(rng.choice([1, 8, 16])))


def boundary_rows(sel):
    """Valid state rows at the ends of their domains, from the prior row (per method;
    a method not listed here gets none)."""
    prior = np.array(list(sel.prior_state().values()))
    rows = []
    if sel.method == "mopps":
        rows = [[1e-12, 1e-12], [1e15, 1e15], [1e-12, 1e15], [1e15, 1.0]]
    elif sel.method == "dps":
        for counts, pi, sampled in (
            ([0, 0, 0, 0, 0, 0, 1e-12, 1e-12, 1e-12], [1, 0, 0], 0),
            ([1e15] * 9, [0, 1, 0], 2**32 - 1),
            ([1, 0, 0, 0, 1, 0, 0, 0, 1], [0, 0, 1], 7),
        ):
            r = prior.copy()
            r[0:3], r[3:12], r[12:15], r[15] = pi, counts, pi, sampled
            rows.append(r.tolist())
    return np.array(rows, dtype=float).reshape(len(rows), prior.size)


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    args = ap.parse_args()
    ckpt_dir = os.path.join(args.out, "checkpoint")
    json_dir = os.path.join(args.out, "json")
    feat_dir = os.path.join(args.out, "features")
    for d in (ckpt_dir, json_dir, feat_dir):
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)

    rng = np.random.default_rng(20240601)
    pool = np.array([0, 1, 2, 3, 5, 8, 13, 21, 34, 55, -1, 2**63 - 1, -(2**63), 123456789], dtype=np.int64)
    written = refused = 0
    for method in _native.methods():
        base = selector(method, 1)
        for name, text in variants(method):
            try:
                sel = with_params(base, feature_prefix(method, name) + text)
            except promptsel.PromptSelError:  # a combination the library refuses (upper < lower)
                refused += 1
                continue
            for steps in ((0, 5) if name == "default" else (5,)):
                s = promptsel.Selector.from_bytes(sel.to_bytes())
                train(s, steps, pool, rng)
                write(os.path.join(ckpt_dir, f"{method}-{name}-{steps}steps.bin"), s.to_bytes())
                written += 1
        # Longer history, more prompts.
        s = selector(method, 7)
        train(s, 25, np.arange(40, dtype=np.int64), rng, batch=8)
        write(os.path.join(ckpt_dir, f"{method}-long.bin"), s.to_bytes())
        # States at the ends of their domains, then one step.
        rows = boundary_rows(s)
        if len(rows):
            b = promptsel.Selector(method, seed=9)
            b.set_state(np.arange(900, 900 + len(rows), dtype=np.int64), rows)
            write(os.path.join(ckpt_dir, f"{method}-boundary.bin"), b.to_bytes())
            train(b, 1, np.arange(900, 900 + len(rows), dtype=np.int64), rng, batch=len(rows))
            write(os.path.join(ckpt_dir, f"{method}-boundary-1step.bin"), b.to_bytes())
            written += 2
        written += 1

        # The method's reference file (export_reference), if it has one.
        with tempfile.TemporaryDirectory() as tmp:
            for tag, sel in (("trained", s), ("empty", selector(method, 1))):
                try:
                    path = sel.export_reference(tmp)
                except (promptsel.UnsupportedError, NotImplementedError):
                    break
                shutil.copy(path, os.path.join(json_dir, f"{method}-{tag}-{os.path.basename(path)}"))
                written += 1

    # Warm-start results: {"<id>": [0/1, ...]} (MoPPS's offline results).
    results = {str(i): rng.integers(0, 2, size=int(rng.integers(0, 9))).tolist() for i in range(12)}
    results["-5"] = [0.5, 1, 0]
    write(os.path.join(json_dir, "warm-start-results.json"), json.dumps(results).encode())
    write(os.path.join(json_dir, "warm-start-empty.json"), b"{}")
    written += 2

    # Format 1 (promptsel 0.2) fixtures.
    for f in sorted(glob.glob(os.path.join(ROOT, "python", "tests", "fixtures", "checkpoint_v1_*.bin"))):
        shutil.copy(f, os.path.join(ckpt_dir, os.path.basename(f)))
        written += 1

    # fuzz_features inputs (layout: Tests/Fuzz/fuzz_features.c).
    for hybrid in (0, 1):
        for tag, scale, dim, rank, flags in (("unit", 1.0, 8, 4, 0), ("huge-diverse", 1e38, 24, 4, 1),
                                             ("max", 3.4028235e38, 6, 8, 2), ("denormal", 1e-45, 12, 3, 5),
                                             ("zero", 0.0, 5, 5, 8), ("repeat", 2.0, 3, 2, 9)):
            x = (np.sign(rng.standard_normal((10, dim))) * scale).astype("<f4")
            head = bytes([hybrid, dim - 1, rank - 1, flags])
            write(os.path.join(feat_dir, f"{'hybrid' if hybrid else 'gps'}-{tag}.bin"), head + x.tobytes())
            if tag == "unit":
                x[3, 1] = np.nan
                write(os.path.join(feat_dir, f"{'hybrid' if hybrid else 'gps'}-nan.bin"), head + x.tobytes())
                written += 1
            written += 1

    # Committed seeds (small hand-made inputs), if any.
    for sub in ("checkpoint", "json"):
        for f in sorted(glob.glob(os.path.join(ROOT, "Tests", "Fuzz", "seeds", sub, "*"))):
            shutil.copy(f, os.path.join(args.out, sub, os.path.basename(f)))
            written += 1

    digest = hashlib.sha1()
    for d in (ckpt_dir, json_dir, feat_dir):
        for f in sorted(os.listdir(d)):
            with open(os.path.join(d, f), "rb") as fh:
                digest.update(fh.read())
    print(f"gen_corpus: {written} seeds in {args.out} ({len(os.listdir(ckpt_dir))} checkpoints, "
          f"{len(os.listdir(feat_dir))} feature inputs, "
          f"{len(os.listdir(json_dir))} JSON files; {refused} parameter sets refused; sha1 {digest.hexdigest()[:12]})")


if __name__ == "__main__":
    main()
