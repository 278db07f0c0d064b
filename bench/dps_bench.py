"""2. DPS: one training step against the number of known prompts, promptsel against the
reference port (which walks every known prompt each step); the parity check; the read
cost against the steps since a prompt was last observed; the perf worker.
"""

import dataclasses
import gc
import json

import numpy as np

from harness import (FULL, K, REGIMES, dps, index_column, interleave, loop_for, median, perf_counter,
                     settle_allocator, trainer_batches)
from reference_samplers import RefDPSSampler, candidate_batch


def dps_warm(n, plan, rng, decay):
    """n known prompts (one bulk select), then a history of select+update steps."""
    p_true = rng.beta(0.6, 0.6, n)
    ids = np.arange(n, dtype=np.int64)
    sel = dps(decay)
    sel.select(ids, 1)
    pool_n = min(plan.dps_pool, n)
    for _ in range(plan.dps_history):
        pool = rng.choice(n, pool_n, replace=False).astype(np.int64)
        pos, _ = sel.select(pool, plan.dps_batch)
        chosen = pool[pos]
        sel.update(chosen, rng.binomial(K, p_true[chosen]) / K, rollouts=K)
    return sel, p_true, ids


def ref_dps_from(sel, ids, batch, decay):
    ref = RefDPSSampler(batch, prior_alpha=1.0, prior_pi="uniform", transition_decay_ratio=decay,
                        sample_strategy="topk")
    st = sel.dps_state(ids)
    ref.import_state(ids, st["alpha"], st["pi"], st["pi_before"], st["sampled_times"])
    return ref


def dps_parity(plan, rng):
    """Identical state in both; 3 steps in which both observe the same prompts: the
    port's beliefs must equal promptsel's, and both must pick the same top-B scores."""
    n = min(plan.dps_sizes[0], 5_000)
    sel, p_true, ids = dps_warm(n, dataclasses.replace(plan, dps_history=5), rng, 1.0)
    ref = ref_dps_from(sel, ids, plan.dps_batch, 1.0)
    worst_scores = 0.0
    pool_n = min(plan.dps_pool, n)
    for _ in range(3):
        pool = rng.choice(n, pool_n, replace=False)
        pos, scores = sel.select(pool.astype(np.int64), plan.dps_batch)
        _, ref_probs = ref.sample_batch(candidate_batch(pool))
        worst_scores = max(worst_scores, float(np.max(np.abs(np.sort(scores) - np.sort(ref_probs[:, 1])))))
        chosen = pool[pos]
        y = rng.binomial(K, p_true[chosen]) / K
        sel.update(chosen.astype(np.int64), y, rollouts=K)
        ref.train(candidate_batch(chosen), y)
    ours_pi = sel.state_probs(ids)
    ref_pi = np.array([ref.pis[str(i)] for i in ids.tolist()])
    return dict(n=n, max_pi_diff=float(np.max(np.abs(ours_pi - ref_pi))), max_score_diff=worst_scores)


def bench_dps_step(plan, rng, flush):
    rows = []
    B = plan.dps_batch
    for n in plan.dps_sizes:
        pool_n = min(plan.dps_pool, n)
        sel, p_true, ids = dps_warm(n, plan, rng, 1.0)
        n_ref = plan.dps_ref_reps.get(n, 1)
        extrapolated = False
        if rows and rows[-1]["ref_measured"]:
            predicted = rows[-1]["ref"] * n / rows[-1]["n"]
            extrapolated = predicted > plan.dps_ref_limit_s
        ref = None if extrapolated else ref_dps_from(sel, ids, B, 1.0)
        R = plan.dps_ours_reps
        n_pools = 1 + 2 * R + n_ref
        pools = [rng.choice(n, pool_n, replace=False) for _ in range(n_pools)]
        batches = trainer_batches(pools)
        rates = [rng.binomial(K, p_true[pool]) / K for pool in pools]

        def step(s, i, ref_side=False):
            batch = batches[i]
            t0 = perf_counter()
            if ref_side:
                selected, _ = s.sample_batch(batch)
            else:
                pos, _ = s.select(index_column(batch), B)
                selected = {k: v[pos] for k, v in batch.items()}
            t1 = perf_counter()
            y = rates[i][selected["row"]]  # rollouts; not timed
            settle_allocator()
            t2 = perf_counter()
            if ref_side:
                s.train(selected, y)
            else:
                s.update(index_column(selected), y, rollouts=K)
            return (t1 - t0) + (perf_counter() - t2)

        step(sel, 0)  # warm-up
        gc.collect()
        row = dict(n=n, pool=pool_n, batch=B, ours_reps=R)
        # hot: ours back to back; cold: ours after a flush, interleaved with the reference
        hot = []
        for i in range(R):
            settle_allocator()
            hot.append(step(sel, 1 + i))
        row["hot"] = median(hot)
        ref_base = 1 + 2 * R
        to, tr = interleave(lambda i: step(sel, 1 + R + i),
                            (lambda j: step(ref, ref_base + j, True)) if ref is not None else None,
                            R, n_ref if ref is not None else 0,
                            before=lambda _last: (settle_allocator(), flush()))
        row["cold"] = median(to)
        if ref is not None:
            row.update(ref=median(tr), ref_reps=n_ref, ref_measured=True)
        else:
            row.update(ref=rows[-1]["ref"] * n / rows[-1]["n"], ref_reps=0, ref_measured=False,
                       ref_from=rows[-1]["n"])
        for regime in REGIMES:
            row[f"speedup_{regime}"] = row["ref"] / row[regime]
        del ref
        gc.collect()
        # lambda_T < 1 (the MATH scripts' 0.7): ours only, cold regime.
        sel2, _, _ = dps_warm(n, plan, np.random.default_rng(n), plan.dps_slow_decay)
        step(sel2, 0)
        slow = []
        for i in range(1, 1 + R):
            settle_allocator()
            flush()
            slow.append(step(sel2, i))
        row["slow_decay"] = median(slow)
        row["entry_bytes"] = sel.memory()["entry_bytes"]  # for the report's narrative, after the timings
        rows.append(row)
        del sel, sel2
        gc.collect()
    flat = {reg: rows[-1][reg] / rows[0][reg] for reg in REGIMES}
    flat["slow_decay"] = rows[-1]["slow_decay"] / rows[0]["slow_decay"]
    at = next((r for r in rows if r["n"] == 100_000), rows[-1])
    return dict(rows=rows, flat=flat, at_100k=at, history=plan.dps_history, entry_bytes=rows[0]["entry_bytes"],
                parity=dps_parity(plan, np.random.default_rng(11)))


def dps_gap_cost(plan):
    """ns per candidate of a DPS select against the number of training steps since the
    candidates were last observed (lazy propagation brings each one forward on read).
    Every gap gets its own prompts, so 'first read' is really the first read since the
    observation; 'next read' repeats the same select right after it."""
    out = {}
    n = plan.gap_prompts
    B = max(1, n // 16)
    sets = 3
    gaps = sorted(plan.gap_steps)
    empty_i, empty_f = np.empty(0, dtype=np.int64), np.empty(0)
    for decay in (1.0, plan.dps_slow_decay):
        sel = dps(decay)
        groups = {g: [np.arange((gi * sets + j) * n, (gi * sets + j + 1) * n, dtype=np.int64) for j in range(sets)]
                  for gi, g in enumerate(gaps)}
        every = np.concatenate([x for v in groups.values() for x in v])
        sel.select(every, 1)
        sel.update(every, np.full(every.size, 0.5), rollouts=K)  # all observed once (partial)
        res = []
        done = 0
        for g in gaps:
            for _ in range(g - done):
                sel.update(empty_i, empty_f, rollouts=K)  # a training step observing none of them
            done = g
            first, again = [], []
            for ids in groups[g]:
                t0 = perf_counter()
                sel.select(ids, B)
                t1 = perf_counter()
                sel.select(ids, B)
                t2 = perf_counter()
                first.append(t1 - t0)
                again.append(t2 - t1)
            res.append((g, median(first) / n, median(again) / n))
        out[decay] = res
    return out


def worker_dps_profile(n, decay, seconds):
    """perf target: a DPS selector with n known prompts and 100 steps of history."""
    rng = np.random.default_rng(4)
    sel, p_true, _ = dps_warm(n, FULL, rng, decay)
    pools = [rng.choice(n, FULL.dps_pool, replace=False).astype(np.int64) for _ in range(64)]
    rates = [rng.binomial(K, p_true[p]) / K for p in pools]

    def step(i):
        pos, _ = sel.select(pools[i % 64], FULL.dps_batch)
        sel.update(pools[i % 64][pos], rates[i % 64][pos], rollouts=K)

    print(json.dumps({"steps": loop_for(seconds, step)}))
