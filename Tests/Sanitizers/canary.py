"""canary.py: canary.c's deliberate bugs, made from Python through ctypes, in the very
environment `make sanitize` gives pytest (PROMPTSEL_LIB, LD_PRELOAD of the sanitizer
runtime, *_OPTIONS). It is expected to fail with a report: if it does not, the pytest
run under the same sanitizer proves nothing (the runtime was not preloaded, or
PROMPTSEL_LIB named an uninstrumented library).

    race      two threads, two handles, one out_count: the library's stores race (TSan)
    overflow  select told that a 200-row buffer holds 256 rows (ASan)

Usage: python canary.py race|overflow   (exits 0 if the bug went unnoticed)
"""

import ctypes
import os
import sys
import threading
import time

import numpy as np

from promptsel import _native

lib = _native.lib
POOL = 4096


def _handle(seed):
    h = _native.SelectorPtr()
    lib.promptsel_selector_create(ctypes.byref(h), b"mopps", f"seed={seed}".encode())
    return h


def race():
    # A select over 4096 candidates takes long enough under TSan that both threads are
    # in the library, the GIL released, at the same time; each call ends by storing the
    # batch size through the shared out_count. Whether TSan sees a race depends on the
    # interleaving: the GIL, and any lock the Swift runtime takes inside select, order
    # the two stores whenever one thread got through its GIL hand-over before the other
    # stored. One 50-call round was caught about 3 times in 4, so rounds repeat until the
    # deadline; `make sanitize` runs this with halt_on_error=1, so the first report ends
    # the process (exit 66) and a caught canary costs one or two rounds.
    shared_count = ctypes.c_size_t()
    pool = np.arange(POOL, dtype=np.int64)
    handles = [_handle(seed) for seed in (1, 2)]
    deadline = time.monotonic() + float(os.environ.get("PROMPTSEL_CANARY_SECONDS", "120"))

    def worker(h, start):
        positions, scores = np.zeros(8, dtype=np.int64), np.zeros(8)
        start.wait()
        for _ in range(50):
            lib.promptsel_selector_select(positions, scores, None, 8, ctypes.byref(shared_count), h, pool, POOL, 8)

    rounds = 0
    while time.monotonic() < deadline:
        start = threading.Barrier(2)
        threads = [threading.Thread(target=worker, args=(h, start)) for h in handles]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        rounds += 1
    for h in handles:
        lib.promptsel_selector_free(h)
    print(f"canary race: {rounds} rounds of 50 calls per thread")


def overflow():
    # numpy takes blocks over 1 KiB straight from malloc (so ASan's redzones follow them);
    # ctypes' own small buffers come from pymalloc's arenas, which ASan cannot see into.
    h = _handle(1)
    positions, scores = np.zeros(200, dtype=np.int64), np.zeros(256)
    count = ctypes.c_size_t()
    pool = np.arange(POOL, dtype=np.int64)
    lib.promptsel_selector_select(positions, scores, None, 256, ctypes.byref(count), h, pool, POOL, 256)
    lib.promptsel_selector_free(h)


def main():
    if len(sys.argv) != 2 or sys.argv[1] not in ("race", "overflow"):
        sys.exit("usage: canary.py race|overflow")
    expected = os.environ.get("PROMPTSEL_LIB")
    if not expected or os.path.realpath(lib._name) != os.path.realpath(expected):
        sys.exit(f"canary.py: loaded {lib._name}, not PROMPTSEL_LIB={expected!r}")
    {"race": race, "overflow": overflow}[sys.argv[1]]()
    print(f"canary {sys.argv[1]}: the bug ran to the end")


if __name__ == "__main__":
    main()
