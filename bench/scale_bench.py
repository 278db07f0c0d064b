"""3. Scale, each measurement in a fresh process: resident bytes per prompt after one
bulk creation (and the library's own count, Selector.memory()), MoPPS checkpoint
save / load, and step times on the large selectors.
"""

import gc
import json
import os
import shutil
import tempfile

import numpy as np

from harness import K, dps, hwm_bytes, median, mopps, perf_counter, promptsel, reset_hwm, rss_bytes, run_worker


def step_times(sel, n, pool_n, reps, rng):
    B = pool_n // 16
    times = []
    for i in range(reps + 2):
        pool = rng.choice(n, pool_n, replace=False).astype(np.int64)
        y = rng.integers(0, K + 1, B) / K
        t0 = perf_counter()
        pos, _ = sel.select(pool, B)
        sel.update(pool[pos], y, rollouts=K)
        t = perf_counter() - t0
        if i >= 2:
            times.append(t)
    return median(times)


def bulk_create(sel, n, create):
    """Runs create() (one bulk call creating n prompts in sel) and measures it: resident
    bytes before and after, the high-water mark during the call (None if it cannot be
    reset), its time, and the library's own count of the bytes it holds afterwards
    (Selector.memory(): entries and hash slots, spare capacity included)."""
    gc.collect()
    rss0 = rss_bytes()
    hwm_ok = reset_hwm()
    t0 = perf_counter()
    create()
    t_bulk = perf_counter() - t0
    rss1 = rss_bytes()
    peak = hwm_bytes()
    mem = sel.memory()
    assert mem["prompts"] == n
    return dict(n=n, rss_delta=rss1 - rss0, peak_delta=(peak - rss0) if hwm_ok else None, t_bulk=t_bulk,
                held=mem["bytes"], entry_bytes=mem["entry_bytes"])


def worker_scale_mopps(n, pool_n, reps):
    rng = np.random.default_rng(5)
    ids = np.arange(n, dtype=np.int64)
    succ = rng.integers(0, K + 1, n).astype(np.float64)
    trials = np.full(n, float(K))
    sel = mopps()
    bulk = bulk_create(sel, n, lambda: sel.warm_start(ids, succ, trials, 3.0))
    del succ, trials
    gc.collect()
    step = step_times(sel, n, pool_n, reps, rng)
    d = tempfile.mkdtemp(prefix="promptsel-bench-")
    try:
        path = os.path.join(d, "mopps.ckpt")
        t0 = perf_counter()
        sel.save(path)
        t_save = perf_counter() - t0
        size = os.path.getsize(path)
        t0 = perf_counter()
        loaded = promptsel.Selector.load(path)
        t_load = perf_counter() - t0
        assert len(loaded) == n
        probe = ids[:: max(1, n // 1000)]
        same = all(np.array_equal(x, y) for x, y in zip(loaded.posterior(probe), sel.posterior(probe)))
        loaded.close()
    finally:
        shutil.rmtree(d, ignore_errors=True)
    print(json.dumps(dict(bulk, step=step, pool=pool_n, t_save=t_save, t_load=t_load,
                          file_size=size, load_roundtrip_ok=bool(same))))


def worker_scale_dps(n, pool_n, reps):
    rng = np.random.default_rng(6)
    ids = np.arange(n, dtype=np.int64)
    sel = dps()
    bulk = bulk_create(sel, n, lambda: sel.select(ids, 1))
    step = step_times(sel, n, pool_n, reps, rng)
    print(json.dumps(dict(bulk, step=step, pool=pool_n)))


def bench_scale(plan):
    m = run_worker("scale-mopps", plan.scale_mopps, plan.scale_pool, plan.scale_reps)
    d = run_worker("scale-dps", plan.scale_dps, plan.scale_pool, plan.scale_reps)
    return dict(mopps=m, dps=d)
