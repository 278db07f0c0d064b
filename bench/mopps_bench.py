"""1. MoPPS: one training step (select + update), promptsel against the reference port,
in both reference variants (torch tensors as the trainer runs it, and the numpy-only
port); the parity checks; where promptsel's step goes; the perf worker.
"""

import gc
import json
import os

import numpy as np

from harness import (K, REGIMES, clone, index_column, interleave, loop_for, median, mopps, perf_counter,
                     settle_allocator, trainer_batches)
from reference_samplers import RefMoPPSSampler, candidate_batch

TORCH_PARITY_TOL = 2.0**-21  # max relative posterior difference, torch variant (float32) vs promptsel

# The two MoPPS reference variants, in report order.
MOPPS_VARIANTS = {
    "torch": "reference as the trainer runs it (torch tensors)",
    "numpy": "numpy-only port (generous)",
}


def torch_hidden():
    return os.environ.get("PROMPTSEL_BENCH_NO_TORCH", "") not in ("", "0")


def load_torch():
    """torch, or None when it is not importable or hidden with PROMPTSEL_BENCH_NO_TORCH=1.
    Imported only by the MoPPS comparison (never by the workers)."""
    if torch_hidden():
        return None
    try:
        import torch
    except ImportError:
        return None
    return torch


def mopps_warm_state(plan, rng):
    """A dataset of N prompts, an offline warm start (8 trials, weight 3), then a few
    hundred select+update steps; the reference port gets the identical posterior.
    `updated` flags the prompts the history updated (their posteriors would be 0-d
    tensors in the real reference)."""
    n = plan.mopps_dataset
    p_true = rng.beta(0.6, 0.6, n)  # latent success rates, U-shaped as on real datasets
    ids = np.arange(n, dtype=np.int64)
    sel = mopps()
    sel.warm_start(ids, rng.binomial(K, p_true).astype(np.float64), np.full(n, float(K)), 3.0)
    pool_n = min(plan.mopps_history_pool, n)
    updated = np.zeros(n, dtype=bool)
    for _ in range(plan.mopps_history):
        pool = rng.choice(n, pool_n, replace=False).astype(np.int64)
        pos, _ = sel.select(pool, pool_n // 16)
        chosen = pool[pos]
        sel.update(chosen, rng.binomial(K, p_true[chosen]) / K, rollouts=K)
        updated[chosen] = True
    return sel, p_true, ids, updated


def mopps_parity(sel, p_true, rng, batch, torch_mod=None, decay=1.0, updated=None, steps=10):
    """Same ids and rates into both, starting from the same posterior: the port's
    posterior must equal promptsel's. With torch_mod, the torch variant and both sides
    get the rates as a float32 tensor, as from the trainer. The pools are drawn from
    the first 1024 prompts so that prompts are updated several times. Returns the max
    relative difference over all prompts."""
    ids = sel.ids()
    a0, b0 = sel.posterior(ids)
    ours = mopps(decay=decay)
    ours.set_posterior(ids, a0, b0)
    ref = RefMoPPSSampler(batch, rollout_n=K, decay_ratio=decay, torch_tensors=torch_mod is not None)
    ref.import_posterior(ids, a0, b0, updated=updated)
    span = min(ids.size, 1024)
    for _ in range(steps):
        pool = rng.choice(span, 4 * batch, replace=False).astype(np.int64)
        pos, _ = ours.select(pool, batch)
        chosen = pool[pos]
        y = rng.binomial(K, p_true[chosen]) / K
        if torch_mod is not None:
            y = torch_mod.tensor(y, dtype=torch_mod.float32)
        ours.update(chosen, y, rollouts=K)
        ref.train(candidate_batch(chosen), y)
    a, b = ours.posterior(ids)
    ra, rb = ref.export_posterior(ids)
    return float(max(np.max(np.abs(a - ra) / ra), np.max(np.abs(b - rb) / rb)))


def bench_mopps_step(plan, rng, flush, torch_mod=None):
    sel, p_true, ids, updated = mopps_warm_state(plan, rng)
    parity = {"numpy": mopps_parity(sel, p_true, np.random.default_rng(7), 64)}
    variants = ["numpy"]
    if torch_mod is not None:
        variants.insert(0, "torch")
        for decay in (1.0, 0.7):
            parity[f"torch, λ = {decay}"] = mopps_parity(sel, p_true, np.random.default_rng(8), 64,
                                                          torch_mod=torch_mod, decay=decay, updated=updated)
    a_all, b_all = sel.posterior(ids)
    rows = {v: [] for v in variants}
    for pool_n in plan.mopps_pools:
        B = pool_n // 16
        reps = plan.mopps_warmup + 2 * plan.mopps_reps
        pools = [rng.choice(p_true.size, pool_n, replace=False) for _ in range(reps)]
        batches = trainer_batches(pools)
        # Same success rates for both sides and both variants: one per candidate
        # position, drawn up front.
        rates = [rng.binomial(K, p_true[pool]) / K for pool in pools]
        for variant in variants:
            use_torch = variant == "torch"
            ref = RefMoPPSSampler(B, target_mean=0.5, decay_ratio=1.0, sample_strategy="topk", rollout_n=K,
                                  torch_tensors=use_torch)
            ref.import_posterior(ids, a_all, b_all, updated=updated if use_torch else None)
            tensors_start = ref.tensor_fraction()
            ours = clone(sel)  # every pool size and variant starts from the same warm state
            np.random.seed(1234)
            if use_torch:
                # What the trainer hands over: torch.tensor([...]) of float32 rates.
                def to_y(r, _t=torch_mod):
                    return _t.tensor(r, dtype=_t.float32)
            else:
                def to_y(r):
                    return r

            def ours_step(i):
                batch = batches[i]
                t0 = perf_counter()
                pos, _scores = ours.select(index_column(batch), B)
                selected = {k: v[pos] for k, v in batch.items()}
                t1 = perf_counter()
                y = to_y(rates[i][selected["row"]])  # the rollouts happen here; not timed
                settle_allocator()
                t2 = perf_counter()
                ours.update(index_column(selected), y, rollouts=K)
                t3 = perf_counter()
                return (t1 - t0, t3 - t2)

            def ref_step(i):
                batch = batches[i]
                t0 = perf_counter()
                selected, _scores = ref.sample_batch(batch)
                t1 = perf_counter()
                y = to_y(rates[i][selected["row"]])
                settle_allocator()
                t2 = perf_counter()
                ref.train(selected, y)
                t3 = perf_counter()
                return (t1 - t0, t3 - t2)

            for i in range(plan.mopps_warmup):
                ours_step(i)
                ref_step(i)
            row = dict(pool=pool_n, batch=B, reps=plan.mopps_reps)
            gc.collect()
            settled = {"o": [], "r": []}
            for j, regime in enumerate(REGIMES):
                off = plan.mopps_warmup + j * plan.mopps_reps

                def between(last, cold=regime == "cold"):
                    dt = settle_allocator()
                    if last is not None:
                        settled[last].append(dt)
                    if cold:
                        flush()

                to, tr = interleave(lambda i: ours_step(off + i), lambda i: ref_step(off + i),
                                    plan.mopps_reps, plan.mopps_reps, before=between)
                o, r = median([a + b for a, b in to]), median([a + b for a, b in tr])
                row[regime] = dict(ours=o, ours_select=median([a for a, _ in to]),
                                   ours_update=median([b for _, b in to]),
                                   ref=r, ref_select=median([a for a, _ in tr]), ref_update=median([b for _, b in tr]),
                                   speedup=r / o)
            row.update(tensors_start=tensors_start, tensors_end=ref.tensor_fraction(),
                       settle_after_ours=median(settled["o"]), settle_after_ref=median(settled["r"]))
            rows[variant].append(row)
            del ref, ours
            gc.collect()
    return dict(variants=rows, judged=variants[0], parity=parity, dataset=plan.mopps_dataset,
                history=plan.mopps_history, history_pool=min(plan.mopps_history_pool, plan.mopps_dataset),
                updated_share=float(updated.mean()), sel=sel, p_true=p_true, torch=torch_mod)


def mopps_breakdown(plan, state, rng, flush):
    """Where promptsel's MoPPS step goes at one pool size, through the public API:
    fixed per-call cost, id lookups, Thompson draws, top-B, update; numpy's own Beta
    sampler on the same shapes for scale. Hot: each timed call follows an untimed call
    on the same pool. Cold: the caches are flushed and the call gets a pool it has not
    seen recently (as a new candidate pool after the rollouts)."""
    sel = state["sel"]
    n = state["p_true"].size
    pool_n = min(plan.profile_pool, n)
    B = pool_n // 16
    ids = sel.ids()
    a_all, b_all = sel.posterior(ids)
    topk = clone(sel)
    uni = mopps(strategy="uniform")
    uni.set_posterior(ids, a_all, b_all)
    reps = plan.profile_reps
    pools = [rng.choice(n, pool_n, replace=False).astype(np.int64) for _ in range(reps)]
    cold_pools = [[rng.choice(n, pool_n, replace=False).astype(np.int64) for _ in range(reps)] for _ in range(3)]
    one = pools[0][:1]
    y = np.full(B, 0.5)
    torch_mod = state.get("torch")
    y_t = torch_mod.tensor(y, dtype=torch_mod.float32) if torch_mod is not None else y
    parts = ("call", "predict", "uniform", "topk", "update", "update_torch", "npbeta", "convert",
             "predict_cold", "uniform_cold", "topk_cold")
    t = {k: [] for k in parts}
    batch = candidate_batch(pools[0])
    gc.collect()
    gc.disable()
    try:
        for i in range(reps + 2):
            p = pools[i % reps]
            a, b = a_all[p], b_all[p]
            for _ in range(2):  # the first round warms the caches up
                t0 = perf_counter(); topk.select(one, 1); t1 = perf_counter()
                c = t1 - t0
                # Each timed call follows an untimed predict on the same selector and pool,
                # so all of them find the same prompts' state in the caches.
                uni.predict(p)
                t0 = perf_counter(); uni.predict(p); t1 = perf_counter()
                pr = t1 - t0
                t0 = perf_counter(); uni.select(p, B); t1 = perf_counter()
                un = t1 - t0
                topk.predict(p)
                t0 = perf_counter(); pos, _ = topk.select(p, B); t1 = perf_counter()
                tk = t1 - t0
                t0 = perf_counter(); np.random.beta(a, b); t1 = perf_counter()
                nb = t1 - t0
                t0 = perf_counter(); index_column(batch); t1 = perf_counter()
                cv = t1 - t0
            t0 = perf_counter(); topk.update(p[pos], y, rollouts=K); t1 = perf_counter()
            up = t1 - t0
            # The same update with the rates as the trainer's float32 tensor (the shim
            # converts it with np.asarray); a second observation of the same prompts.
            t0 = perf_counter(); topk.update(p[pos], y_t, rollouts=K); t1 = perf_counter()
            upt = t1 - t0
            cold = []
            for k, call in enumerate((lambda q: uni.predict(q), lambda q: uni.select(q, B),
                                      lambda q: topk.select(q, B))):
                q = cold_pools[k][i % reps]
                flush()
                t0 = perf_counter(); call(q); t1 = perf_counter()
                cold.append(t1 - t0)
            if i >= 2:
                for k, v in zip(parts, (c, pr, un, tk, up, upt, nb, cv, *cold)):
                    t[k].append(v)
    finally:
        gc.enable()
    m = {k: median(v) for k, v in t.items()}
    m.update(pool=pool_n, batch=B, shape_mean=float(np.mean(a_all + b_all)), has_torch=torch_mod is not None)
    return m


def worker_mopps_profile(n_pool, seconds):
    """perf target: a warm 50k-prompt MoPPS selector, steps at one pool size."""
    rng = np.random.default_rng(3)
    n = 50_000
    sel = mopps()
    p_true = rng.beta(0.6, 0.6, n)
    ids = np.arange(n, dtype=np.int64)
    sel.warm_start(ids, rng.binomial(K, p_true).astype(np.float64), np.full(n, float(K)), 3.0)
    pools = [rng.choice(n, n_pool, replace=False).astype(np.int64) for _ in range(64)]
    rates = [rng.binomial(K, p_true[p]) / K for p in pools]
    B = n_pool // 16

    def step(i):
        pos, _ = sel.select(pools[i % 64], B)
        sel.update(pools[i % 64][pos], rates[i % 64][pos], rollouts=K)

    print(json.dumps({"steps": loop_for(seconds, step)}))
