"""gps / hybrid cost: a select + update step at B^ = 4096, B = 256 for feature
dimensions 64, 256, 1024, as a ratio against a numpy implementation of the same model
(the same projection, forgetting, Laplace update by damped Newton steps and Thompson
rule; vectorised) in the same run; featurize throughput; memory per prompt with features.

    python bench/gps_bench.py [--smoke] [--out bench/RESULTS_GPS.md]
"""

import argparse
import os
import statistics
import time

# numpy's BLAS on one thread unless the environment says otherwise: promptsel's step is
# single-threaded, the matrices are small (rank + 1 = 65), and with OpenBLAS's default
# threads the numpy step varied from 6 to 68 ms between runs on a shared 2-core machine
# (its spinning threads also slowed the interleaved promptsel steps); on one thread it
# is both faster and stable, so this is the favourable setting for the reference.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402  (after the thread settings, which BLAS reads at load)

import promptsel  # noqa: E402


class NumpyGPS:
    """The gps model of docs/GPS.md in numpy: the reference for the ratio."""

    def __init__(self, dim, rank=64, prior_variance=4.0, forget=0.95, seed=0):
        rng = np.random.default_rng(seed)
        self.rank = min(rank, dim)
        self.R = np.eye(dim) if self.rank == dim else rng.standard_normal((self.rank, dim)) / np.sqrt(self.rank)
        d = self.rank + 1
        self.p0 = 1 / prior_variance
        self.forget = forget
        self.mu = np.zeros(d)
        self.P = np.eye(d) * self.p0
        self.L = np.linalg.cholesky(self.P)
        self.phi = None
        self.rng = rng

    def set_features(self, ids, X):
        # Dense ids 0..n-1: the projected rows in one array, indexed directly (the
        # most favourable layout for numpy; a real trainer would need an id map).
        assert np.array_equal(ids, np.arange(len(ids)))
        # The library's model sees each row scaled to unit length (docs/GPS.md).
        norms = np.linalg.norm(X.astype(np.float64), axis=1, keepdims=True)
        U = X / np.where(norms > 0, norms, 1)
        self.phi = np.hstack([U @ self.R.T, np.ones((len(ids), 1))])

    def select(self, ids, batch, target=0.5):
        Phi = self.phi[ids]
        z = self.rng.standard_normal(self.mu.size)
        w = self.mu + np.linalg.solve(self.L.T, z)
        p = 1 / (1 + np.exp(-(Phi @ w)))
        return np.argpartition((p - target) ** 2, batch - 1)[:batch]

    # The library's cap on the damped Newton steps of one update (BayesianLogistic.newtonSteps).
    NEWTON_STEPS = 30

    def update(self, ids, rates, k):
        """Forgetting, then the Laplace update as the library does it: damped Newton
        steps to the MAP of the step's log posterior (Armijo backtracking, halving the
        step down to 1/1024; at most NEWTON_STEPS; stop when the Newton decrement
        g . step <= 1e-14, when no step length is accepted, or when the weights move
        less than 1e-9), then the precision at the MAP."""
        Phi = self.phi[ids]
        d = self.mu.size
        self.P = self.forget * self.P + (1 - self.forget) * self.p0 * np.eye(d)
        prior_mu, prior_P = self.mu, self.P
        s, f = rates * k, (1 - rates) * k  # successes and failures of each observed prompt

        def objective(w):  # log posterior up to a constant, with stable log-sigmoids
            z = Phi @ w
            r = w - prior_mu
            return -(s @ np.logaddexp(0, -z) + f @ np.logaddexp(0, z)) - 0.5 * r @ (prior_P @ r)

        w = prior_mu.copy()
        current = objective(w)
        self.newton_steps = 0
        for _ in range(self.NEWTON_STEPS):
            p = 1 / (1 + np.exp(-(Phi @ w)))
            g = -prior_P @ (w - prior_mu) + Phi.T @ (s - k * p)
            H = prior_P + (Phi * (k * p * (1 - p))[:, None]).T @ Phi
            try:
                step = np.linalg.solve(H, g)
            except np.linalg.LinAlgError:
                break
            slope = g @ step
            if not np.isfinite(slope) or slope <= 1e-14:
                break  # at the MAP
            scale, accepted = 1.0, False
            while scale >= 1 / 1024:
                trial = w + scale * step
                value = objective(trial)
                if np.isfinite(value) and value >= current + 1e-4 * scale * slope:
                    current, accepted = value, True
                    break
                scale *= 0.5
            if not accepted:
                break
            moved = np.abs(trial - w).max()
            w = trial
            self.newton_steps += 1
            if moved < 1e-9:
                break
        p = 1 / (1 + np.exp(-(Phi @ w)))
        H = prior_P + (Phi * (k * p * (1 - p))[:, None]).T @ Phi
        try:
            L = np.linalg.cholesky(H)
        except np.linalg.LinAlgError:
            L = None
        if L is not None and np.all(np.isfinite(w)):
            self.mu, self.P, self.L = w, H, L
        else:  # a degenerate step is skipped: the forgetting alone applies
            self.L = np.linalg.cholesky(self.P)


def check_reference(updates=40):
    """The reference is only a fair comparison if it is the same model: at dim = rank = 64
    both projections are the identity, so the same updates (every fifth one unanimous,
    where an undamped Newton step overshoots) must give the same predictive means.
    Returns the largest difference; raises if it is not negligible."""
    rng = np.random.default_rng(1)
    n, dim, k = 3000, 64, 8
    X = rng.standard_normal((n, dim)).astype(np.float32)
    X *= 3 / np.linalg.norm(X, axis=1, keepdims=True)
    ids = np.arange(n, dtype=np.int64)
    sel = promptsel.Selector("gps", seed=0, dim=dim, rank=64)
    sel.set_features(ids, X)
    ref = NumpyGPS(dim)
    ref.set_features(ids, X)
    truth = 1 / (1 + np.exp(-2 * (X @ rng.standard_normal(dim))))
    worst = 0.0
    for t in range(updates):
        obs = rng.choice(n, 128, replace=False).astype(np.int64)
        rates = np.ones(128) if t % 5 == 0 else rng.binomial(k, truth[obs]) / k
        sel.update(obs, rates, k)
        ref.update(obs, rates, k)
        a = ref.phi @ ref.mu
        v = np.einsum("ij,ji->i", ref.phi, np.linalg.solve(ref.P, ref.phi.T))
        mean = 1 / (1 + np.exp(-a / np.sqrt(1 + np.pi * v / 8)))
        worst = max(worst, float(np.abs(mean - sel.predict(ids)).max()))
    if not worst < 1e-6:
        raise SystemExit(f"the numpy reference is not the library's model: predictive means differ by {worst:.3g}")
    return worst


def median_step(step, reps):
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--out")
    args = ap.parse_args()
    n, pool, batch, reps = (2000, 256, 16, 3) if args.smoke else (50_000, 4096, 256, 30)
    agree = check_reference()
    rng = np.random.default_rng(0)
    lines = ["| d | promptsel gps step | numpy step | ratio (numpy / promptsel) | hybrid step | bytes per prompt |",
             "|---|---|---|---|---|---|"]
    for dim in (64, 256, 1024):
        X = rng.standard_normal((n, dim)).astype(np.float32)
        X /= np.linalg.norm(X, axis=1, keepdims=True)
        ids = np.arange(n, dtype=np.int64)
        gps = promptsel.Selector("gps", seed=0, dim=dim)
        hyb = promptsel.Selector("hybrid", seed=0, dim=dim)
        ref = NumpyGPS(dim)
        for s in (gps, hyb):
            s.set_features(ids, X)
        ref.set_features(ids, X)
        pools = [rng.choice(n, pool, replace=False).astype(np.int64) for _ in range(8)]
        rates = rng.integers(0, 9, batch) / 8
        state = {"i": 0}

        def ours(sel):
            p = pools[state["i"] % 8]
            state["i"] += 1
            pos, _ = sel.select(p, batch)
            sel.update(p[pos], rates, 8)

        def theirs():
            p = pools[state["i"] % 8]
            state["i"] += 1
            pos = ref.select(p, batch)
            ref.update(p[pos], rates, 8)

        for _ in range(2):
            ours(gps), ours(hyb), theirs()
        t_ours, t_ref, t_hyb = [], [], []
        for _ in range(reps):  # interleaved, so both see the same machine
            t_ours.append(median_step(lambda: ours(gps), 1))
            t_ref.append(median_step(theirs, 1))
            t_hyb.append(median_step(lambda: ours(hyb), 1))
        o, r, h = statistics.median(t_ours), statistics.median(t_ref), statistics.median(t_hyb)
        mem = gps.memory()
        lines.append(f"| {dim} | {o * 1e3:.2f} ms | {r * 1e3:.2f} ms | {r / o:.2f}x | {h * 1e3:.2f} ms | "
                     f"{mem['bytes'] / mem['prompts']:.0f} |")
    texts = [f"problem {i}: find the value of x such that {i} x + {i % 7} = {i % 13}" for i in range(2000 if args.smoke
                                                                                                   else 50_000)]
    t0 = time.perf_counter()
    promptsel.featurize(texts, 256)
    dt = time.perf_counter() - t0
    out = ("# gps / hybrid benchmark\n\n"
           f"Select + update at B^ = {pool}, B = {batch}, {n:,} prompts with features, rank 64; medians of "
           f"{reps} interleaved steps each; numpy's BLAS on {os.environ['OPENBLAS_NUM_THREADS']} "
           f"thread(s) (OPENBLAS_NUM_THREADS).\n\n" + "\n".join(lines) +
           f"\n\nThe numpy reference is the same model: at d = 64 (both projections the identity) the same 40 "
           f"updates give predictive means within {agree:.1e} of promptsel's." +
           f"\n\nfeaturize: {len(texts) / dt:,.0f} texts/s ({len(texts):,} texts of ~10 words, dim 256).\n")
    print(out)
    if args.out:
        with open(args.out, "w") as f:
            f.write(out)


if __name__ == "__main__":
    main()
