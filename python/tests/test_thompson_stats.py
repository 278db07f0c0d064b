"""Statistics of Thompson selection: the draws follow Beta(alpha, beta) and the
choices follow the posteriors. Seeds are fixed, so each test is deterministic;
tolerances are 5 standard errors."""

import math

import numpy as np
import pytest

import promptsel

N = 20000


def _beta_pdf(x, a, b):
    log_norm = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
    return np.exp(log_norm + (a - 1) * np.log(x) + (b - 1) * np.log1p(-x))


def _beta_cdf_int(x, a, b):
    """Regularized incomplete beta for integer a, b (a binomial tail)."""
    m = a + b - 1
    x = np.asarray(x, dtype=np.float64)
    return sum(math.comb(m, j) * x**j * (1 - x) ** (m - j) for j in range(a, m + 1))


def _simpson(y, x):
    h = x[1] - x[0]
    return h / 3 * (y[0] + y[-1] + 4 * y[1:-1:2].sum() + 2 * y[2:-1:2].sum())


def _draws(a, b, seed=0, n=N):
    sel = promptsel.Selector(seed=seed)
    sel.set_posterior([1], [a], [b])
    return np.array([sel.select([1], 1)[1][0] for _ in range(n)])


def _within(observed, expected, stderr, sigmas=5):
    assert abs(observed - expected) <= sigmas * stderr, f"{observed} vs {expected} (+- {sigmas} x {stderr})"


@pytest.mark.parametrize("a, b", [(3.0, 7.0), (1.0, 1.0), (0.2, 3.0), (40.0, 2.5), (5000.0, 3000.0)])
def test_draw_moments_match_beta(a, b):
    r = _draws(a, b)
    assert np.all((r >= 0) & (r <= 1))
    mean = a / (a + b)
    var = a * b / ((a + b) ** 2 * (a + b + 1))
    _within(r.mean(), mean, math.sqrt(var / N))
    centered = r - r.mean()
    fourth = (centered**4).mean()
    _within(centered.var(), var, math.sqrt(max(fourth - var**2, 0) / N))


def test_arcsine_draws_match_the_cdf():
    # Beta(1/2, 1/2) has CDF (2/pi) asin(sqrt x): a check of the shape < 1 path.
    r = _draws(0.5, 0.5, seed=1)
    for x in (0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99):
        p = 2 / math.pi * math.asin(math.sqrt(x))
        _within((r <= x).mean(), p, math.sqrt(p * (1 - p) / N))


def test_tiny_shapes_stay_finite_and_symmetric():
    r = _draws(0.01, 0.01, seed=2)
    assert np.all(np.isfinite(r)) and np.all((r >= 0) & (r <= 1))
    _within((r < 0.5).mean(), 0.5, math.sqrt(0.25 / N))


def test_integer_draws_match_the_cdf():
    r = _draws(2.0, 5.0, seed=3)
    for x in (0.05, 0.2, 0.3, 0.5, 0.8):
        p = float(_beta_cdf_int(x, 2, 5))
        _within((r <= x).mean(), p, math.sqrt(p * (1 - p) / N))


def test_topk_choice_frequency_matches_posteriors():
    # Two prompts, batch 1, target 1/2: A is chosen iff its draw is nearer 1/2.
    (a1, b1), (a2, b2) = (2, 5), (8, 3)
    x = np.linspace(0, 1, 200001)[1:-1]
    d = np.abs(x - 0.5)
    b_farther = 1 - _beta_cdf_int(0.5 + d, a2, b2) + _beta_cdf_int(0.5 - d, a2, b2)
    p = _simpson(_beta_pdf(x, a1, b1) * b_farther, x)
    sel = promptsel.Selector(seed=7, target=0.5)
    sel.set_posterior([10, 20], [a1, a2], [b1, b2])
    chosen_a = sum(int(sel.select([10, 20], 1)[0][0] == 0) for _ in range(N))
    _within(chosen_a / N, p, math.sqrt(p * (1 - p) / N))
    assert 0.3 < p < 0.7  # the test discriminates: neither prompt always wins


def test_topk_frequencies_among_three_match_monte_carlo():
    params = [(1.0, 1.0), (4.0, 4.0), (9.0, 2.0)]
    target = 0.35
    rng = np.random.default_rng(0)
    m = 2_000_000
    d = np.stack([np.abs(rng.beta(a, b, m) - target) for a, b in params])
    expected = np.bincount(d.argmin(axis=0), minlength=3) / m
    sel = promptsel.Selector(seed=8, target=target)
    sel.set_posterior([1, 2, 3], [a for a, _ in params], [b for _, b in params])
    counts = np.zeros(3)
    for _ in range(N):
        counts[sel.select([1, 2, 3], 1)[0][0]] += 1
    for k in range(3):
        p = expected[k]
        _within(counts[k] / N, p, math.sqrt(p * (1 - p) / N + p * (1 - p) / m))


def test_returned_score_is_the_chosen_prompts_draw():
    # The score of the chosen prompt among two identical Beta(1, 1): the nearer of two
    # uniform draws to 1/2, so |r - 1/2| has density 4(1 - 2t) on [0, 1/2]: mean 1/6.
    sel = promptsel.Selector(seed=11)
    scores = np.array([sel.select([1, 2], 1)[1][0] for _ in range(N)])
    t = np.abs(scores - 0.5)
    _within(t.mean(), 1 / 6, math.sqrt((1 / 24 - 1 / 36) / N))  # E[t^2] = 1/24
