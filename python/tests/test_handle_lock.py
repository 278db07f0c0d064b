"""The handle's own lock, seen from Python: `make sanitize` runs this file beside
python/tests, under ASan and under TSan.

test_threads.py goes through promptsel.Selector, whose RLock already
serializes every native call on one Selector, so under TSan it cannot tell whether the
library's lock works (with the lock removed it still passes, and TSan stays silent).
Here threads call the C functions on one handle directly, as a C or C++ trainer would,
so only the handle's lock orders them: TSan reports any access it does not cover, and
the counts below show no update was lost."""

import ctypes
import threading

import numpy as np

from promptsel import _native

THREADS = 4
STEPS = 100
BATCH = 4
K = 8


def test_raw_calls_on_one_handle_from_threads_are_serialized():
    lib = _native.lib
    handle = _native.create("mopps", "seed=0")
    start = threading.Barrier(THREADS)
    errors = []

    def worker(t):
        try:
            ids = np.arange(t * 1000, t * 1000 + 32, dtype=np.int64)
            rates, rollouts = np.full(BATCH, 0.5), np.full(BATCH, K, dtype=np.int32)
            start.wait()
            for _ in range(STEPS):
                positions = _native.select(handle, ids, BATCH)[0]
                lib.promptsel_selector_update(handle, ids[positions], rates, rollouts, BATCH)
        except BaseException as e:  # reported by the main thread
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(THREADS)]
    try:
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        assert errors == []
        count = ctypes.c_size_t()
        lib.promptsel_selector_count(ctypes.byref(count), handle)
        assert count.value == THREADS * 32
        ids = np.concatenate([np.arange(t * 1000, t * 1000 + 32) for t in range(THREADS)]).astype(np.int64)
        rows = np.empty(2 * ids.size)
        lib.promptsel_selector_get_state(rows, rows.size, handle, ids, ids.size, 0, 2)
        # Each update adds K pseudo-counts to alpha + beta (decay 1): none was lost.
        assert rows.sum() - 2 * ids.size == THREADS * STEPS * BATCH * K
    finally:
        _native.free(handle)
