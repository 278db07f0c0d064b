"""Selector.shuffle: permutations from the selector's own seeded generator, so a sampler
needs no RNG of its own and a restored checkpoint shuffles as the uninterrupted run."""

import itertools
import pickle

import numpy as np
import pytest

import promptsel


@pytest.mark.parametrize("method", ["mopps", "dps", "gps", "hybrid"])
def test_a_permutation_as_a_new_array(method):
    sel = promptsel.Selector(method, seed=1)
    values = np.arange(100, 200, dtype=np.int64)
    out = sel.shuffle(values)
    assert out.dtype == np.int64 and out is not values
    assert sorted(out.tolist()) == list(range(100, 200)) and out.tolist() != list(range(100, 200))
    np.testing.assert_array_equal(values, np.arange(100, 200))  # the caller's array is untouched
    assert sel.shuffle([5, 5, -3]).tolist() in ([5, 5, -3], [5, -3, 5], [-3, 5, 5])
    assert sel.shuffle([]).tolist() == [] and sel.shuffle([]).dtype == np.int64
    assert sel.shuffle([7]).tolist() == [7]
    assert sel.shuffle(np.array([1, 2], dtype=np.uint8)).dtype == np.int64


def test_same_seed_same_shuffles_other_seed_others():
    a, b, c = (promptsel.Selector("mopps", seed=s) for s in (3, 3, 4))
    for _ in range(5):
        x, y, z = (s.shuffle(np.arange(40)) for s in (a, b, c))
        np.testing.assert_array_equal(x, y)
    assert x.tolist() != z.tolist()


@pytest.mark.parametrize("method", ["mopps", "dps"])
def test_restored_checkpoints_shuffle_as_the_uninterrupted_selector(method, tmp_path):
    sel = promptsel.Selector(method, seed=5, strategy="uniform")
    sel.shuffle(np.arange(10))
    pos, _ = sel.select(np.arange(30), 5)
    sel.update(np.arange(30)[pos], [0.5] * 5, 8)
    sel.save(tmp_path / "ckpt.bin")
    restored = [promptsel.Selector.load(tmp_path / "ckpt.bin"), promptsel.Selector.from_bytes(sel.to_bytes()),
                pickle.loads(pickle.dumps(sel))]
    for step in range(4):
        expected = sel.shuffle(np.arange(50) + step)
        chosen = sel.select(np.arange(30), 5)[0]
        for r in restored:
            np.testing.assert_array_equal(r.shuffle(np.arange(50) + step), expected)
            np.testing.assert_array_equal(r.select(np.arange(30), 5)[0], chosen)


def test_shuffle_advances_the_generator_select_uses():
    a, b = promptsel.Selector("mopps", seed=8, strategy="uniform"), promptsel.Selector("mopps", seed=8, strategy="uniform")
    a.shuffle(np.arange(20))
    assert a.select(np.arange(100), 10)[0].tolist() != b.select(np.arange(100), 10)[0].tolist()
    assert a.to_bytes() != b.to_bytes()


def _chi2(counts, expected):
    counts = np.asarray(counts, dtype=np.float64)
    return float(((counts - expected) ** 2 / expected).sum())


def test_every_permutation_about_equally_likely():
    sel = promptsel.Selector("dps", seed=2024)
    draws = 12_000
    perms = {p: i for i, p in enumerate(itertools.permutations(range(4)))}
    counts = np.zeros(len(perms))
    base = np.arange(4)
    for _ in range(draws):
        counts[perms[tuple(sel.shuffle(base).tolist())]] += 1
    # 23 degrees of freedom: P(chi2 > 60) < 1e-4.
    assert counts.min() > 0 and _chi2(counts, draws / 24) < 60


def test_every_value_about_equally_likely_at_every_position():
    sel = promptsel.Selector("mopps", seed=99)
    n, draws = 7, 7_000
    where = np.zeros((n, n))
    for _ in range(draws):
        out = sel.shuffle(np.arange(n))
        where[out, np.arange(n)] += 1
    # Each row and column sums to draws; (n-1)^2 = 36 degrees of freedom: P(chi2 > 80) < 1e-4.
    assert _chi2(where, draws / n) < 80
