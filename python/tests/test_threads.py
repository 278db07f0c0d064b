"""Concurrency: ctypes releases the GIL, so these threads really call into one
handle at the same time."""

import threading

import numpy as np

import promptsel
from promptsel import InvalidArgumentError, OutOfRangeError
from promptsel._native import lib

THREADS = 8
ITERATIONS = 300
BATCH = 4
K = 8


def _run_threads(target):
    errors = []

    def guarded(t):
        try:
            target(t)
        except BaseException as e:  # reported by the main thread
            errors.append(e)

    threads = [threading.Thread(target=guarded, args=(t,)) for t in range(THREADS)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []


def test_hammering_one_handle_keeps_counts_consistent():
    sel = promptsel.Selector(seed=0)
    snapshots = []

    def worker(t):
        rng = np.random.default_rng(t)
        ids = np.arange(t * 1000, t * 1000 + 32)  # each thread its own prompts, plus shared ones below
        for i in range(ITERATIONS):
            pool = np.concatenate([ids, np.arange(-8, 0)])
            pos, scores = sel.select(pool, BATCH)
            assert len(set(pos.tolist())) == BATCH and np.all((scores >= 0) & (scores <= 1))
            # Rates in multiples of 1/K keep every count an exact integer.
            sel.update(pool[pos], rng.integers(0, K + 1, BATCH) / K, rollouts=K)
            mean = sel.predict(pool)
            assert np.all((mean > 0) & (mean < 1))
            if i % 25 == 0:
                snapshots.append(sel.state_dict())

    _run_threads(worker)
    ids = sel.ids()
    assert len(sel) == len(ids) == THREADS * 32 + 8
    assert len(set(ids.tolist())) == len(ids)
    alpha, beta = sel.posterior(ids)
    # With decay 1 every update adds exactly K pseudo-counts to alpha + beta.
    assert (alpha + beta - 2).sum() == THREADS * ITERATIONS * BATCH * K
    # Every snapshot taken mid-run is a consistent checkpoint.
    for state in snapshots:
        restored = promptsel.Selector.from_bytes(state["state"])
        a, b = restored.posterior(restored.ids())
        assert ((a + b - 2) % K == 0).all()


def test_error_messages_reach_the_thread_that_failed():
    sel = promptsel.Selector(seed=0)

    def worker(t):
        bad_rate = 2.0 + t  # each thread's error names its own value
        for _ in range(200):
            try:
                sel.update([t], [bad_rate], rollouts=8)
            except OutOfRangeError as e:
                assert f"= {bad_rate}" in str(e)
            else:
                raise AssertionError("the bad update was accepted")
            sel.update([t], [0.5], rollouts=8)

    _run_threads(worker)
    assert sel.posterior(np.arange(THREADS))[0].tolist() == [1.0 + 200 * 4] * THREADS


def test_last_error_is_per_thread():
    sel = promptsel.Selector(seed=0)
    failed, succeeded, checked = threading.Barrier(2), threading.Barrier(2), threading.Barrier(2)
    seen = {}

    def failing():
        for _ in range(50):
            try:
                sel.update([1], [float("nan")], rollouts=8)  # a library error: sets last_error
            except InvalidArgumentError as e:
                message = str(e)
            failed.wait()
            succeeded.wait()  # the other thread has just made successful calls
            seen.setdefault("failing", []).append((lib.promptsel_last_error(), message))
            checked.wait()

    def succeeding():
        for _ in range(50):
            failed.wait()  # the other thread's error is set now
            sel.select([1, 2, 3], 2)
            sel.update([1], [0.5], rollouts=8)
            seen.setdefault("succeeding", []).append(lib.promptsel_last_error())
            succeeded.wait()
            checked.wait()

    threads = [threading.Thread(target=failing), threading.Thread(target=succeeding)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert len(seen["failing"]) == len(seen["succeeding"]) == 50
    for last, message in seen["failing"]:
        assert last is not None and last.decode() in message and "NaN" in message
    assert seen["succeeding"] == [None] * 50


def _close_during_calls():
    sel = promptsel.Selector(seed=0)
    start = threading.Barrier(THREADS + 1)
    outcomes = []

    def caller():
        start.wait()
        for _ in range(1_000_000):  # until closed; bounded so a bug cannot hang the suite
            try:
                sel.select(np.arange(64), 8)
            except InvalidArgumentError as e:
                assert "closed" in str(e)
                outcomes.append("closed")
                return

    threads = [threading.Thread(target=caller) for _ in range(THREADS)]
    for th in threads:
        th.start()
    start.wait()
    sel.close()
    for th in threads:
        th.join()
    return outcomes


def test_close_waits_for_calls_in_flight():
    # close() from one thread while others call: every call either completes or
    # raises "closed"; none may touch a freed handle.
    for _ in range(20):
        assert _close_during_calls().count("closed") == THREADS
